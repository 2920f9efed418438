/* fuzz_inflate.c - differential libFuzzer target for the sparse inflate of label maps
 * (src/io/inflate_sparse.c) against libdeflate.
 *
 * Input: two bytes (the header size `skip`, little-endian, reduced modulo the output size),
 * then a gzip file. The output size is taken from the gzip trailer (ISIZE), capped at 8 MiB.
 * ps_io_inflate_sparse runs into zeroed memory of exactly that size. When it accepts the
 * stream, libdeflate must accept it too and give the same bytes, and the piece map must mark
 * exactly the pieces that hold a non-zero byte; when it declines, nothing is checked (the
 * ordinary reader takes over). Anything else traps; ASan and UBSan see every access.
 *
 * Build: CC=clang meson setup build-fuzz -Dfuzz=true, then
 *   build-fuzz/tests/io/fuzz_inflate -max_len=65536 CORPUS_DIR
 * Seed corpus (scripts/gate.sh): the .nii.gz files in tests/golden/io, with two zero bytes
 * before each.
 */
#include "io_internal.h"

#include <libdeflate.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 2 + 18)
        return 0;
    size_t skip = data[0] | (size_t)data[1] << 8;
    const uint8_t *gz = data + 2;
    size_t gzn = size - 2;
    uint32_t isize;
    memcpy(&isize, gz + gzn - 4, 4);
    size_t total = isize;
    if (total == 0 || total > ((size_t)8 << 20))
        return 0;
    skip %= total;
    size_t nb = total - skip;
    unsigned char *dst = calloc(nb, 1), *ref = malloc(total);
    uint8_t *nz = calloc(nb / PS_SPARSE_PIECE + 1, 1);
    if (!dst || !ref || !nz)
        __builtin_trap();
    int rc = ps_io_inflate_sparse(gz, gzn, dst, skip, nb, nz);
    if (rc == PS_OK) {
        struct libdeflate_decompressor *d = libdeflate_alloc_decompressor();
        size_t in_used = 0, got = 0;
        if (!d || libdeflate_gzip_decompress_ex(d, gz, gzn, ref, total, &in_used, &got) !=
                      LIBDEFLATE_SUCCESS || got != total || memcmp(dst, ref + skip, nb))
            __builtin_trap();
        libdeflate_free_decompressor(d);
        for (size_t p = 0; p * PS_SPARSE_PIECE < nb; p++) {
            size_t a = p * PS_SPARSE_PIECE, m = nb - a < PS_SPARSE_PIECE ? nb - a : PS_SPARSE_PIECE;
            int any = 0;
            for (size_t i = 0; i < m && !any; i++)
                any = ref[skip + a + i] != 0;
            if (nz[p] != any)
                __builtin_trap();
        }
    } else if (rc != PS_SPARSE_DECLINE) {
        __builtin_trap();
    }
    free(dst);
    free(ref);
    free(nz);
    return 0;
}
