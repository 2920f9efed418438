/* inflate_only.c - the floor of bench_scale.sh: read and inflate every file of a list, with T
 * threads, and do nothing else (bench tool, independent of libpanseval).
 *
 * Each thread reads a whole .nii.gz into memory and inflates it with libdeflate into one
 * output buffer it reuses (so, unlike panseval, it pays no page faults for fresh buffers): a
 * lower bound for any program that needs the voxels. Files are taken dynamically, one at a
 * time. Prints the number of files and decompressed bytes.
 *   cc -O2 -fopenmp bench/inflate_only.c -ldeflate -o /tmp/inflate_only
 *   /tmp/inflate_only T < FILE_LIST
 */
#include <libdeflate.h>
#include <omp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "file_list.h"

int main(int argc, char **argv)
{
    int threads = argc > 1 ? atoi(argv[1]) : 2;
    size_t n = 0;
    char **files = read_file_list(stdin, &n);
    if (!files)
        return 1;
    int failed = 0;
    unsigned long long total = 0;
#pragma omp parallel num_threads(threads) reduction(+ : failed, total)
    {
        struct libdeflate_decompressor *d = libdeflate_alloc_decompressor();
        unsigned char *in = NULL, *out = NULL;
        size_t in_cap = 0, out_cap = 0;
#pragma omp for schedule(dynamic, 1)
        for (size_t i = 0; i < n; i++) {
            FILE *f = fopen(files[i], "rb");
            if (!f) {
                failed++;
                continue;
            }
            fseek(f, 0, SEEK_END);
            size_t len = (size_t)ftell(f);
            fseek(f, 0, SEEK_SET);
            if (len > in_cap)
                in = realloc(in, in_cap = len);
            size_t got = fread(in, 1, len, f);
            fclose(f);
            uint32_t isize = 0; /* gzip trailer: uncompressed size mod 2^32 */
            if (got != len || len < 18) {
                failed++;
                continue;
            }
            memcpy(&isize, in + len - 4, 4);
            if (isize > out_cap)
                out = realloc(out, out_cap = isize);
            size_t produced = 0;
            if (libdeflate_gzip_decompress(d, in, len, out, out_cap, &produced) !=
                LIBDEFLATE_SUCCESS)
                failed++;
            total += produced;
        }
        free(in);
        free(out);
        libdeflate_free_decompressor(d);
    }
    printf("%zu files, %.1f MB inflated, %d failed\n", n, total / 1e6, failed);
    return failed != 0;
}
