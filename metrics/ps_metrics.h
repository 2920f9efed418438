/* ps_metrics.h - segmentation metrics computed from a reference and a predicted label map.
 *
 * One call evaluates one case for one region (a label, or a union of labels like nnU-Net
 * regions). All distances are in mm, from the header spacing in voxel-axis order.
 *
 * Conventions (docs/metrics.md repeats them in the same words):
 *  - Boundary: a mask voxel with at least one 6-neighbour outside the mask. Voxels on the
 *    image edge count as boundary (outside the image is background).
 *  - Distance from a boundary voxel of A to B: the distance to the nearest boundary voxel of
 *    B (MedPy / MONAI semantics), from an exact Euclidean distance transform with anisotropic
 *    spacing, computed on the union bounding box of both masks (grown by one voxel); the crop
 *    changes no result.
 *  - hd, assd, masd and nsd (voxel) always use these boundary-voxel distances; hd95 and its
 *    directed parts follow opt->hd_method (the DeepMind method uses surfels instead).
 *  - HD95 variants: see ps_hd_method. opt->percentile replaces 95 in all of them.
 *  - 2D images: an image with exactly one axis of length 1 (a 2D NIfTI, or a singleton axis
 *    anywhere) uses 2D semantics in the plane of the other two axes: in-plane 4-neighbour
 *    boundary, and the DeepMind 2D path (4-bit corner codes weighted by contour length).
 *  - Empty masks: see ps_empty_policy and the `status` of each row. When both masks are
 *    empty every distance metric and nsd is NaN (status both_empty), whatever the policy.
 *
 * Thread safety: ps_metrics_compute() may run concurrently on different cases; it also uses
 * OpenMP inside one case (ctx->threads). Results are bit-identical for any thread count.
 */
#ifndef PS_METRICS_H
#define PS_METRICS_H

#include <stdint.h>

#include "ps_core.h"
#include "ps_io.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef enum ps_hd_method {
    /* 95th percentile (linear interpolation, numpy default) of the pooled boundary distances
     * of both directions. MedPy's hd95 (binary.hd95), used by nnU-Net v1 and PanSegNet.
     * Directed columns: the linear percentile of each direction alone. */
    PS_HD_MEDPY = 0,
    /* max of the two directed 95th percentiles, each with linear interpolation.
     * MONAI compute_hausdorff_distance(percentile=95, directed=False). */
    PS_HD_MONAI,
    /* surfels on the half-voxel grid weighted by area; per direction the first distance whose
     * cumulative area reaches the percentile (no interpolation); max of both directions.
     * DeepMind surface-distance compute_robust_hausdorff. */
    PS_HD_DEEPMIND,
    /* mean of the two directed values, each the ascending-sorted distance at index
     * floor(q*n - 1) (clamped to >= 0). plastimatch 1.9.4 `dice --all` "Percent (0.95)
     * Hausdorff distance (boundary)"; identical to plastimatch for masks that do not touch
     * the image edge (plastimatch treats voxels on the image edge differently). */
    PS_HD_PLASTIMATCH,
} ps_hd_method;

typedef enum ps_nsd_method {
    PS_NSD_VOXEL = 0,   /* boundary voxels counted with weight 1                           */
    PS_NSD_SURFEL,      /* DeepMind surface Dice: surfels weighted by area                */
} ps_nsd_method;

typedef enum ps_empty_policy {
    PS_EMPTY_NAN = 0,   /* distance metrics and nsd NaN when exactly one mask is empty    */
    PS_EMPTY_INF,       /* every distance metric +inf (nsd = 0)                           */
    PS_EMPTY_WORST,     /* every distance metric = the image diagonal in mm (nsd = 0)     */
} ps_empty_policy;

typedef enum ps_empty_dice {
    PS_EMPTY_DICE_ONE = 0, /* both masks empty: dice = jaccard = volume_similarity = 1  */
    PS_EMPTY_DICE_NAN,     /* both masks empty: dice = jaccard = volume_similarity = NaN */
} ps_empty_dice;

typedef struct ps_metrics_options {
    ps_hd_method hd_method;   /* default PS_HD_MEDPY                          */
    double percentile;        /* in [0, 100]; default 95                      */
    double nsd_tol_mm;        /* default 2                                     */
    ps_nsd_method nsd_method; /* default PS_NSD_VOXEL                         */
    ps_empty_policy empty;    /* default PS_EMPTY_NAN                          */
    ps_empty_dice empty_dice; /* default PS_EMPTY_DICE_ONE                     */
    int distances;            /* 0 = skip all distance metrics (overlap only) */
} ps_metrics_options;

void ps_metrics_options_init(ps_metrics_options *o);
int ps_hd_method_parse(const char *s, ps_hd_method *out);
const char *ps_hd_method_name(ps_hd_method m);
int ps_nsd_method_parse(const char *s, ps_nsd_method *out);
int ps_empty_policy_parse(const char *s, ps_empty_policy *out);
int ps_empty_dice_parse(const char *s, ps_empty_dice *out);

/* A region: the union of up to PS_REGION_MAX labels ("1", "1+2"). */
#define PS_REGION_MAX 16
typedef struct ps_region {
    int n;
    int32_t labels[PS_REGION_MAX];
} ps_region;

/* Parse "1", "1+2": positive labels (0 is background), duplicates dropped, sorted. */
int ps_region_parse(const char *s, ps_region *out);
/* Canonical text ("1+2"); buf of at least 16*12 bytes. */
void ps_region_format(const ps_region *r, char *buf, size_t n);
/* Parse a list "1,2,1+2" into regions (caller frees *out). */
int ps_region_list_parse(const char *s, ps_region **out, int *n);
/* Sorted distinct non-zero labels present in either volume; pred may be NULL to list the
 * labels of ref alone (caller frees *labels). */
int ps_labels_present(const ps_volume *ref, const ps_volume *pred, int32_t **labels, int *n);

/* Labels and extent of one label map, from one pass over it: the sorted distinct non-zero
 * labels and the bounding box of the non-zero voxels (lo inclusive, hi exclusive, voxel axes
 * i, j, k; lo = dim and hi = 0 when the map is all zero). Runs of background are skipped
 * 32 bytes at a time, so the pass runs at memory speed. */
typedef struct ps_label_scan {
    int32_t *labels; /* owned; free with ps_label_scan_clear() */
    int nlabels;
    int64_t lo[3], hi[3];
} ps_label_scan;
int ps_label_scan_volume(const ps_volume *v, ps_label_scan *out);
/* The same with the piece map of ps_volume_read_labels_map (NULL = none): only the pieces it
 * marks are read, and the result is the same. */
int ps_label_scan_volume_map(const ps_volume *v, const uint8_t *map, ps_label_scan *out);
void ps_label_scan_clear(ps_label_scan *s); /* accepts a zeroed struct */

typedef enum ps_case_status {
    PS_CASE_OK = 0,
    PS_CASE_PRED_EMPTY,
    PS_CASE_REF_EMPTY,
    PS_CASE_BOTH_EMPTY,
    PS_CASE_ERROR,
} ps_case_status;
const char *ps_case_status_name(ps_case_status s); /* "ok", "pred_empty", ... "error" */

/* Every metric of one case x region. Field names are the output column names. */
typedef struct ps_case_metrics {
    ps_case_status status;
    int64_t tp, fp, fn, tn;       /* voxel counts over the field of view                 */
    double dice, jaccard, sensitivity, specificity, precision;
    double vol_ref_ml, vol_pred_ml, vol_diff_ml; /* vol_diff_ml = pred - ref            */
    double rel_vol_diff;          /* (pred - ref) / ref                                  */
    double volume_similarity;     /* 1 - |pred - ref| / (pred + ref)                    */
    double kappa;                 /* voxel-wise Cohen's kappa over the field of view    */
    double hd, hd95, hd95_pred_to_ref, hd95_ref_to_pred; /* mm; see ps_hd_method        */
    double assd;                  /* mm, mean of the pooled distances of both directions */
    double masd;                  /* mm, mean of the two directed means (MedPy's assd)   */
    double nsd;                   /* surface Dice at opt->nsd_tol_mm, in [0, 1]          */
} ps_case_metrics;

/* The metric columns, in output order, with their meaning; used by every writer so that
 * names and order live in one place. */
typedef enum ps_metric_kind { PS_MK_INT64, PS_MK_DOUBLE } ps_metric_kind;
typedef struct ps_metric_column {
    const char *name;   /* column name == field name */
    ps_metric_kind kind;
    size_t offset;      /* offsetof(ps_case_metrics, name) */
    const char *doc;    /* one-line definition with units */
} ps_metric_column;
extern const ps_metric_column ps_metric_columns[];
extern const int ps_metric_ncolumns;

/* Evaluate one case. ref and pred must be 3D label maps from ps_volume_read_labels() (uint8
 * or int32, in any combination) with the same geometry (checked: PS_ERR_GEOMETRY). opt NULL
 * means the defaults; ctx NULL means all cores. On error *out has status PS_CASE_ERROR. */
int ps_metrics_compute(const ps_volume *ref, const ps_volume *pred, const ps_region *region,
                       const ps_metrics_options *opt, const ps_context *ctx,
                       ps_case_metrics *out);

/* The same, for a caller that knows a box [lo, hi) holding every non-zero voxel of both
 * volumes (e.g. the union of their ps_label_scan boxes): the counting pass then visits only
 * that box, and the result is identical. lo and hi NULL = the whole volume. A box that misses
 * a non-zero voxel gives wrong counts: it is the caller's promise. */
int ps_metrics_compute_box(const ps_volume *ref, const ps_volume *pred, const ps_region *region,
                           const ps_metrics_options *opt, const ps_context *ctx,
                           const int64_t lo[3], const int64_t hi[3], ps_case_metrics *out);

/* Cohen's kappa of a 2x2 table (tp, fp, fn, tn), as the kappa column: NaN when both raters
 * are constant. */
double ps_kappa_2x2(int64_t tp, int64_t fp, int64_t fn, int64_t tn);

/* ---- k raters of one case (metrics/raters.c) -------------------------------------------------
 * The label maps of k raters on one grid, prepared once for one region: each mask's counting
 * pass, boundary (and surfel) flags and their distance transforms are computed once and shared
 * by every pair, on the crop of the union box of all raters' region voxels. Memory: k crop-sized
 * double buffers (2k for the surfel methods) and 2k crop-sized byte masks. Read-only after
 * creation: the query functions may run concurrently. Bit-identical for any thread count. */
typedef struct ps_rater_set ps_rater_set;

/* vols[0..k) label maps as for ps_metrics_compute, all with the geometry of vols[0] (checked:
 * PS_ERR_GEOMETRY naming the differing file). opt NULL = defaults, ctx NULL = all cores. */
int ps_rater_set_create(const ps_volume *const *vols, int k, const ps_region *region,
                        const ps_metrics_options *opt, const ps_context *ctx,
                        ps_rater_set **out);
void ps_rater_set_free(ps_rater_set *s);
int ps_rater_set_size(const ps_rater_set *s);
/* Region voxels of rater r (0 for an empty mask), or -1 for an invalid index. */
int64_t ps_rater_set_count(const ps_rater_set *s, int r);
/* The union box of every rater's region voxels, hi exclusive; returns 0 (and an empty box)
 * when every mask is empty. */
int ps_rater_set_box(const ps_rater_set *s, int64_t lo[3], int64_t hi[3]);
/* The same for rater r alone. */
int ps_rater_set_rater_box(const ps_rater_set *s, int r, int64_t lo[3], int64_t hi[3]);
/* Every column for rater a as reference and rater b as prediction: bit-identical to
 * ps_metrics_compute(vols[a], vols[b], region, opt). */
int ps_rater_set_pair(const ps_rater_set *s, int a, int b, ps_case_metrics *out);
/* Voxel agreement of the raters sub[0..nsub) (sub NULL = all k) over the box [lo, hi) clipped
 * to the image (NULL, NULL = the whole image): hist[m] (m = 0..nsub) = number of voxels that
 * exactly m of them put in the region. */
int ps_rater_set_histogram(const ps_rater_set *s, const int *sub, int nsub, const int64_t lo[3],
                           const int64_t hi[3], int64_t *hist);
/* Rating patterns of the same raters over the box: counts[p] (p = 0 .. 2^nsub - 1) = voxels
 * whose set of raters having them is p (bit i = rater sub[i]). nsub <= PS_RATERS_PATTERN_MAX. */
#define PS_RATERS_PATTERN_MAX 16
int ps_rater_set_patterns(const ps_rater_set *s, const int *sub, int nsub, const int64_t lo[3],
                          const int64_t hi[3], int64_t *counts);
/* Set out[v] = label (int32 volume on the raters' grid) for every voxel whose rating pattern p
 * has in_of_pattern[p] != 0; other voxels are left alone. in_of_pattern[0] must be 0. */
int ps_rater_set_paint(const ps_rater_set *s, const uint8_t *in_of_pattern, int32_t label,
                       ps_volume *out);

/* ---- label fusion (metrics/staple.c, metrics/fuse.c; docs/agreement.md) -------------------- */
typedef struct ps_staple_options {
    int max_iter;             /* 0 = until converged (ITK's default)                          */
    double confidence_weight; /* binary: multiplies the prior, default 1 (ITK)               */
    double threshold;         /* binary consensus: posterior >= threshold, default 0.5       */
    double ml_tol;            /* multi-label: stop when no confusion entry moves by this, 1e-5 */
} ps_staple_options;
void ps_staple_options_init(ps_staple_options *o);

typedef struct ps_staple_result {
    int k;
    int iterations;  /* ITK's GetElapsedIterations(): index of the last iteration            */
    double prior;    /* g                                                                    */
    double *sens;    /* k sensitivities p_r                                                  */
    double *spec;    /* k specificities q_r                                                  */
    double *w;       /* 2^k posteriors W of each rating pattern (bit r = rater r)            */
} ps_staple_result;
void ps_staple_result_clear(ps_staple_result *r);

/* Binary STAPLE on the 2^k pattern counts of ps_rater_set_patterns (over the whole image for
 * ITK's semantics); Warfield et al. 2004 with ITK 5.2 STAPLEImageFilter's initialisation and
 * stopping rule. opt NULL = defaults. */
int ps_staple_binary(const int64_t *counts, int k, const ps_staple_options *opt,
                     ps_staple_result *out);

#define PS_STAPLE_TUPLES_MAX (1 << 20)
typedef struct ps_staple_ml_result {
    int k, nlabels, iterations;
    size_t ntuples;  /* nlabels^k                                                            */
    double *theta;   /* k confusion matrices, (nlabels+1) x nlabels each, theta[r][j][c] =
                        P(rater r says j | truth c); row nlabels is ITK's undecided row      */
    double *prior;   /* nlabels label frequencies                                            */
    int32_t *winner; /* consensus label of every label tuple                                 */
} ps_staple_ml_result;
void ps_staple_ml_result_clear(ps_staple_ml_result *r);

/* Multi-label STAPLE (ITK 5.2 MultiLabelSTAPLEImageFilter) on label-tuple counts:
 * counts[t], t = sum_r label_r nlabels^r, labels 0..nlabels-1 (ps_label_tuples). */
int ps_staple_multilabel(const int64_t *counts, int k, int nlabels,
                         const ps_staple_options *opt, ps_staple_ml_result *out);
/* Label-tuple counts of k maps (labels 0..nlabels-1) over every voxel; ntuples = nlabels^k. */
int ps_label_tuples(const ps_volume *const *vols, int k, int nlabels, const ps_context *ctx,
                    int64_t *counts, size_t ntuples);
/* out[v] = label_of_tuple[tuple of v] (int32 volume on the raters' grid). */
int ps_label_tuples_paint(const ps_volume *const *vols, int k, int nlabels,
                          const int32_t *label_of_tuple, const ps_context *ctx, ps_volume *out);

/* Majority vote into out (int32, the raters' grid): the label most raters give; a tie goes to
 * the lowest tied label, background 0 included (a binary tie is background). */
int ps_fuse_majority(const ps_volume *const *vols, int k, const ps_context *ctx,
                     ps_volume *out);

/* ---- building blocks (exposed for tests and other modules) ------------------------------- */

/* Exact squared Euclidean distance transform of a binary grid (i fastest), anisotropic.
 * out[v] = squared distance in mm^2 from voxel v to the nearest voxel with mask[v] != 0
 * (0 inside the mask; INFINITY when the mask is empty). Felzenszwalb & Huttenlocher 2012,
 * one separable pass per axis. */
int ps_edt_sq(const uint8_t *mask, const int64_t dim[3], const double spacing_mm[3],
              double *out, const ps_context *ctx);
/* The same for a crop whose voxel (0,0,0) is voxel `origin` of the whole image: the values are
 * bit-identical to those of the same voxels in any other crop holding every mask voxel (the
 * parabola positions are image positions), so distances from different crops can be mixed. */
int ps_edt_sq_at(const uint8_t *mask, const int64_t dim[3], const double spacing_mm[3],
                 const int64_t origin[3], double *out, const ps_context *ctx);

/* The q-th percentile (q in [0,100]) of n values with linear interpolation between closest
 * ranks (numpy.percentile default, R type 7), by selection (expected O(n)). Reorders `x` in
 * place. NaN if n == 0. */
double ps_percentile_linear(double *x, int64_t n, double q);

#ifdef __cplusplus
}
#endif
#endif /* PS_METRICS_H */
