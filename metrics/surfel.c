/* surfel.c - surface elements of the DeepMind surface-distance method.
 *
 * Nikolov et al., "Clinically applicable segmentation of head and neck anatomy for
 * radiotherapy", arXiv:1809.04430 (2018), and the `surface-distance` package
 * (compute_surface_distances): the surface lives on the grid of voxel corners (shifted by half
 * a voxel). Each corner gets the 8-bit code of its 2x2x2 voxel neighbourhood; corners whose
 * code is neither 0 nor 255 are surface elements (surfels), weighted by the area of the
 * marching-cubes surface inside that neighbourhood. Distances between surfels are distances
 * between corner points, so they are computed with the ordinary EDT on the corner grid.
 */
#include <math.h>

#include "metrics_internal.h"
#include "surfel_table.h"

double ps_surfel_code_area(int code, const double s[3])
{
    /* An area vector n transforms under the diagonal scaling diag(s) as
     * (n_i s_j s_k, n_j s_i s_k, n_k s_i s_j) (cofactor matrix); its norm is the area. */
    double area = 0;
    for (int t = ps_surfel_first[code]; t < ps_surfel_first[code + 1]; t++) {
        double x = ps_surfel_tri[t][0] * s[1] * s[2];
        double y = ps_surfel_tri[t][1] * s[0] * s[2];
        double z = ps_surfel_tri[t][2] * s[0] * s[1];
        area += sqrt(x * x + y * y + z * z);
    }
    return area;
}

void ps_surfel_grid(const uint8_t *mask, const int64_t cd[3], uint8_t *surf,
                    uint8_t *code_out, int nthreads)
{
    const int64_t nx = cd[0], ny = cd[1], nz = cd[2], nxy = nx * ny;
    const int64_t gx = nx + 1, gy = ny + 1, gz = nz + 1;
#pragma omp parallel for num_threads(nthreads) schedule(static)
    for (int64_t z = 0; z < gz; z++)
        for (int64_t y = 0; y < gy; y++) {
            /* The four voxel rows (dy, dz) around this row of corners; NULL outside the crop.
             * Row (dy, dz) contributes bit 7 - (2dy + dz) for voxel x-1 (dx = 0) and
             * bit 3 - (2dy + dz) for voxel x (dx = 1). */
            const uint8_t *row[4];
            for (int dy = 0; dy < 2; dy++)
                for (int dz = 0; dz < 2; dz++) {
                    int64_t vy = y - 1 + dy, vz = z - 1 + dz;
                    row[2 * dy + dz] = vy >= 0 && vy < ny && vz >= 0 && vz < nz
                                           ? mask + vz * nxy + vy * nx
                                           : NULL;
                }
            int64_t c0 = (z * gy + y) * gx;
            for (int64_t x = 0; x < gx; x++) {
                int code = 0;
                for (int r = 0; r < 4; r++) {
                    if (!row[r])
                        continue;
                    if (x >= 1 && row[r][x - 1])
                        code |= 1 << (7 - r);
                    if (x < nx && row[r][x])
                        code |= 1 << (3 - r);
                }
                surf[c0 + x] = (uint8_t)(code != 0 && code != 255);
                code_out[c0 + x] = (uint8_t)code;
            }
        }
}
