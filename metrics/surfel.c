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

/* 2D images (docs/metrics.md, "2D images"): the DeepMind package's 2D path. Corners of the
 * plane (axes p < q, the two axes longer than 1) get the 4-bit code of their 2x2 neighbourhood,
 * voxel offset (dp, dq) setting bit 1 << (3 - (2 dp + dq)) (the package's kernel [[8, 4], [2, 1]]
 * correlated with scipy), and every code other than 0 and 15 is a contour element weighted by
 * its length in mm: one or three inside voxels cut a corner, half the cell diagonal; two
 * voxels side by side in the same dp row give an edge along q of length s_q, two in the same
 * dq column an edge along p of length s_p; two diagonal voxels give two corner cuts. */
double ps_surfel_code_length_(int code, double sp, double sq)
{
    const double half_diag = 0.5 * sqrt(sp * sp + sq * sq);
    int bits = (code & 1) + (code >> 1 & 1) + (code >> 2 & 1) + (code >> 3 & 1);
    if (bits == 1 || bits == 3)
        return half_diag;
    if (bits != 2)
        return 0.0;
    if (code == 0xC || code == 0x3) /* (0,0)+(0,1) or (1,0)+(1,1): same dp row */
        return sq;
    if (code == 0xA || code == 0x5) /* (0,0)+(1,0) or (0,1)+(1,1): same dq column */
        return sp;
    return 2.0 * half_diag;         /* 0x9, 0x6: diagonal pair */
}

void ps_surfel_grid_plane_(const uint8_t *mask, const int64_t cd[3], int flat, uint8_t *surf,
                          uint8_t *code_out, int nthreads)
{
    const int p = flat == 0 ? 1 : 0, q = flat == 2 ? 1 : 2;
    const int64_t g[3] = {cd[0] + (flat != 0), cd[1] + (flat != 1), cd[2] + (flat != 2)};
    const int64_t stride[3] = {1, cd[0], cd[0] * cd[1]};
#pragma omp parallel for num_threads(nthreads) schedule(static)
    for (int64_t z = 0; z < g[2]; z++)
        for (int64_t y = 0; y < g[1]; y++)
            for (int64_t x = 0; x < g[0]; x++) {
                const int64_t c[3] = {x, y, z};
                int code = 0;
                for (int dp = 0; dp < 2; dp++)
                    for (int dq = 0; dq < 2; dq++) {
                        int64_t vp = c[p] - 1 + dp, vq = c[q] - 1 + dq;
                        if (vp < 0 || vp >= cd[p] || vq < 0 || vq >= cd[q])
                            continue;
                        if (mask[vp * stride[p] + vq * stride[q]])
                            code |= 1 << (3 - (2 * dp + dq));
                    }
                int64_t ci = (z * g[1] + y) * g[0] + x;
                surf[ci] = (uint8_t)(code != 0 && code != 15);
                code_out[ci] = (uint8_t)code;
            }
}
