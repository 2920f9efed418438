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
int ps_flat_axis_(const int64_t dim[3]);

/* The DeepMind 2D path on a crop whose axis `flat` has length 1: corner grid of the plane
 * (length 1 along `flat`, cd[a] + 1 along the two others), 4-bit codes (bit
 * 1 << (3 - (2 dp + dq)) for voxel offset (dp, dq) along the in-plane axes p < q) and surfel
 * flags (code neither 0 nor 15). */
void ps_surfel_grid_plane_(const uint8_t *mask, const int64_t cdim[3], int flat, uint8_t *surf,
                          uint8_t *code, int nthreads);
/* Contour length in mm of a 4-bit code for in-plane spacings sp (axis p) and sq (axis q). */
double ps_surfel_code_length_(int code, double sp, double sq);


/* ---- shared by compute.c (one pair) and raters.c (k raters of one case) ------------------- */
/* Region membership of one label map (compute.c). */
typedef struct ps_member {
    int kind;
    const void *data;
    int32_t lo;
    uint32_t width; /* labels lo..lo+width form the region (range kinds) */
    uint8_t lut[256];
    const ps_region *region;
} ps_member;
void ps_member_init_(ps_member *m, const ps_volume *v, const ps_region *r);

/* Counts and union bounding box of two memberships over rows inside [box_lo, box_hi). */
typedef struct ps_scan_result {
    int64_t na, nb, nab;
    int64_t lo[3], hi[3]; /* union bounding box, hi exclusive; lo > hi when both are empty */
} ps_scan_result;
int ps_scan_counts_(const ps_volume *va, const ps_volume *vb, const ps_member *ma,
                   const ps_member *mb, const int64_t dim[3], const int64_t box_lo[3],
                   const int64_t box_hi[3], int nt, ps_scan_result *res);

/* Overlap, volume and kappa columns from the four counts. */
void ps_overlap_metrics_(int64_t tp, int64_t fp, int64_t fn, int64_t tn, double voxel_ml,
                        const ps_metrics_options *opt, ps_case_metrics *out);
void ps_set_distances_(ps_case_metrics *out, double v, double nsd);
int ps_check_label_volume_(const ps_volume *v, const char *role);
/* Region and option ranges (percentile, tolerance, enum values); PS_ERR_ARG with a message. */
int ps_metrics_args_check_(const ps_region *region, const ps_metrics_options *opt);
/* Status from the mask sizes and, for an empty mask or distances off, the distance columns by
 * the empty policy: 1 when the distances are settled, 0 when they must be computed. */
int ps_status_and_empty_(int64_t na, int64_t nb, const ps_metrics_options *opt,
                        const ps_geometry *geom, ps_case_metrics *out);

/* The crop of a box [lo, hi) of mask voxels: grown by one voxel, clipped to the image. */
typedef struct ps_crop {
    int64_t lo[3];  /* first voxel of the crop in the image */
    int64_t d[3];   /* crop dims */
    int64_t n;
    int64_t g[3];   /* corner grid of the surfels: d + 1, but 1 along the flat axis (2D) */
    int64_t gn;
    int flat;       /* the flat axis of a 2D image, or -1 */
} ps_crop;
void ps_crop_init_(ps_crop *c, const int64_t lo[3], const int64_t hi[3], const int64_t dim[3]);

/* A directed distance list. */
typedef struct ps_dirlist {
    double *d;  /* distances in mm, voxel order */
    double *w;  /* surfel areas in mm^2 (surfel lists only) */
    int64_t n;
} ps_dirlist;
void ps_dirlist_free_(ps_dirlist *l);

/* One mask's pieces on a crop: region mask and boundary flags, and for the surfel methods
 * corner codes and surfel flags. */
typedef struct ps_piece {
    uint8_t *mask, *bnd;  /* crop grid */
    uint8_t *surf, *code; /* corner grid (surfel methods only) */
} ps_piece;
int ps_piece_build_(const ps_member *m, const int64_t dim[3], const ps_crop *c, int surfels,
                   int nt, ps_piece *p);
void ps_piece_free_(ps_piece *p);
/* EDT (squared mm) of the boundary flags (surfels = 0, crop grid) or surfel flags (corner grid)
 * into edt, with image positions (ps_edt_sq_at), so crops of any size agree bitwise. */
int ps_piece_edt_(const ps_piece *p, const ps_crop *c, const double sp[3], int surfels,
                 double *edt, const ps_context *tctx);
/* The same, exact only where `query`'s flags of the same kind are set (its boundary or surfel
 * flags: where ps_dir_gather_ reads it); the other values are unfinished (see edt.c). */
int ps_piece_edt_for_(const ps_piece *p, const ps_piece *query, const ps_crop *c,
                      const double sp[3], int surfels, double *edt, const ps_context *tctx);
/* ps_edt_sq_at, exact only at the voxels where query[] is set (edt.c). */
int ps_edt_sq_query_(const uint8_t *mask, const int64_t dim[3], const double spacing_mm[3],
                     const int64_t origin[3], const uint8_t *query, double *out,
                     const ps_context *ctx);
/* Surfel weights per code (3D areas or 2D contour lengths). */
void ps_code_weights_(const ps_crop *c, const double sp[3], double w[256]);
/* d(src -> other) from the other mask's EDT, in voxel order; cnt holds max(g[2], d[2]). */
int ps_dir_gather_(const ps_piece *src, const ps_crop *c, int surfels, const double *edt_other,
                  const double *code_w, int64_t *cnt, int nt, ps_dirlist *l);
/* All distance columns of a pair from its lists (sab, sba NULL unless surfels are needed). */
int ps_lists_metrics_(const ps_dirlist *ab, const ps_dirlist *ba, const ps_dirlist *sab,
                     const ps_dirlist *sba, const ps_metrics_options *o, ps_case_metrics *out);
int ps_need_surfels_(const ps_metrics_options *o);

#endif
