/* metrics_internal.h - building blocks shared by the files of the metrics module (private). */
#ifndef PS_METRICS_INTERNAL_H
#define PS_METRICS_INTERNAL_H

#include <stdint.h>

#include "ps_metrics.h"

/* k-th smallest (0-based) of x[0..n); reorders x so that x[k] holds it, x[0..k) <= x[k] and
 * x[k+1..n) >= x[k] (introselect: 3-way quickselect, sort fallback). n > 0, 0 <= k < n. */
double ps_select_kth(double *x, int64_t n, int64_t k);

/* Area-weighted percentile in the DeepMind surface-distance convention
 * (compute_robust_hausdorff): sort (d, w) by d, cumulative w / total, the first element whose
 * cumulative fraction is >= q/100; NaN if n == 0. Sorts d and w together (ascending d).
 * Returns 0 or PS_ERR_NOMEM. */
int ps_percentile_weighted_first(double *d, double *w, int64_t n, double q, double *out);

/* Order statistic in the plastimatch 1.9.4 convention (hausdorff_distance.cxx): the ascending
 * sorted value at index floor(q/100 * n - 1), clamped to [0, n-1]. Reorders x. */
double ps_percentile_plastimatch(double *x, int64_t n, double q);

/* Surface elements of the DeepMind surface-distance method on the corner grid of a crop.
 * The corner grid has (cx+1)(cy+1)(cz+1) points; corner (x, y, z) sits between voxels x-1 and
 * x on axis i (and likewise for j, k). Its 8-bit neighbour code (stored in code[c]) has bit
 * 1 << (7 - (4*dx + 2*dy + dz)) set when voxel (x-1+dx, y-1+dy, z-1+dz) is in the mask
 * (outside the crop is background); surf[c] = 1 when the code is neither 0 nor 255. */
void ps_surfel_grid(const uint8_t *mask, const int64_t cdim[3], uint8_t *surf, uint8_t *code,
                    int nthreads);

/* Area in mm^2 of the marching-cubes surface inside one 2x2x2 neighbourhood with this code,
 * for the given voxel spacing (sum over its triangles of |area vector| after scaling the
 * vector's components by s_j*s_k, s_i*s_k, s_i*s_j). */
double ps_surfel_code_area(int code, const double spacing_mm[3]);

/* 2D images: the flat axis (length 1) of an image with exactly one axis of length 1, else -1.
 * Such an image is evaluated with 2D semantics (docs/metrics.md, "2D images"). */
int ps_flat_axis(const int64_t dim[3]);

/* The DeepMind 2D path on a crop whose axis `flat` has length 1: corner grid of the plane
 * (length 1 along `flat`, cd[a] + 1 along the two others), 4-bit codes (bit
 * 1 << (3 - (2 dp + dq)) for voxel offset (dp, dq) along the in-plane axes p < q) and surfel
 * flags (code neither 0 nor 15). */
void ps_surfel_grid_plane(const uint8_t *mask, const int64_t cdim[3], int flat, uint8_t *surf,
                          uint8_t *code, int nthreads);
/* Contour length in mm of a 4-bit code for in-plane spacings sp (axis p) and sq (axis q). */
double ps_surfel_code_length(int code, double sp, double sq);

#endif
