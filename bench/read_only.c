/* read_only.c - the second floor of bench_scale.sh: read every label map of a list with
 * panseval's own reader (ps_volume_read_labels_map: the sparse inflate of src/io/
 * inflate_sparse.c, as `panseval metrics` reads them) with T threads, and do nothing else.
 * Where bench/inflate_only.c measures libdeflate writing every voxel, this measures what
 * panseval pays to have the voxels; metrics / read_only is the cost of the metrics proper.
 *   cc -O2 -fopenmp -Isrc/core -Isrc/io -Ibuild bench/read_only.c -Lbuild -l:libpanseval.so.0.1.0 -o /tmp/read_only
 *   LD_LIBRARY_PATH=build /tmp/read_only T < FILE_LIST
 */
#include "ps_io.h"

#include <omp.h>
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
    int failed = 0, mapped = 0;
    unsigned long long total = 0;
#pragma omp parallel for num_threads(threads) schedule(dynamic, 1) reduction(+ : failed, mapped, total)
    for (size_t i = 0; i < n; i++) {
        ps_volume *v = NULL;
        uint8_t *nz = NULL;
        if (ps_volume_read_labels_map(files[i], &v, &nz)) {
            failed++;
            continue;
        }
        total += (unsigned long long)ps_volume_nvox(v);
        mapped += nz != NULL;
        free(nz);
        ps_volume_free(v);
    }
    printf("%zu files, %.1f M voxels, %d with a piece map, %d failed\n", n, total / 1e6, mapped,
           failed);
    return failed != 0;
}
