/* ps_agree.h - multi-rater analysis of a manifest: `panseval agreement` and `panseval fuse`
 * (docs/agreement.md, "Label maps of several raters").
 *
 * Raters are named as in the manifest: "ref" (or the --ref-name given to it), "A" for a
 * rater:A column, "A:2" for rater:A:2 (rater A's session 2). A plain rater:A column (and ref
 * when it is named A) is session 1 of rater A. Inter-rater statistics use the chosen raters
 * (default: ref and every rater column without a session); intra-rater statistics compare the
 * sessions of one rater; models (pred:MODEL) are compared with the inter raters.
 *
 * Per case the label maps are read once; per label each mask's distance transform is computed
 * once and shared by every pair (ps_rater_set). One failing case (a missing file, a rater on
 * another grid) gives rows with status "error" and the message; the other cases go on. A rater
 * with an empty mask is counted (its Dice is 0 or 1, its distances follow the empty policy).
 *
 * Ownership: the caller owns everything it passes; outputs are written atomically. Results do
 * not depend on the thread count.
 */
#ifndef PS_AGREE_H
#define PS_AGREE_H

#include <stdio.h>

#include "ps_core.h"
#include "ps_io.h"
#include "ps_manifest.h"
#include "ps_metrics.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Which voxels the voxel-wise statistics (Cohen's, Fleiss' kappa, Krippendorff's alpha) count. */
typedef enum ps_agree_region {
    PS_AGREE_IMAGE = 0,     /* every voxel of the image                                      */
    PS_AGREE_UNION_BOX,     /* the bounding box of all inter raters' masks of the label, grown
                               by margin_mm on each side (in whole voxels, ceil(margin / spacing))
                               and clipped to the image                                       */
} ps_agree_region;
int ps_agree_region_parse(const char *s, ps_agree_region *out); /* "image", "union-box" */
const char *ps_agree_region_name(ps_agree_region r);

typedef struct ps_agree_options {
    ps_metrics_options metrics;    /* HD95 convention, percentile, empty policies           */
    ps_agree_region region;        /* default PS_AGREE_IMAGE                                 */
    double margin_mm;              /* union-box margin, default 5                            */
    const char *const *raters;     /* inter raters by name; NULL = ref + plain rater columns */
    int nraters;
    const char *ref_name;          /* name of the ref column, default "ref"                  */
    int sessions;                  /* write sessions.csv                                     */
    int models;                    /* write models.csv (every pred: column)                  */
    const ps_region *labels;       /* NULL = every label present in the case's raters        */
    int nlabels;
    ps_table_format format;        /* of the files; default CSV                              */
} ps_agree_options;
void ps_agree_options_init(ps_agree_options *o);

typedef struct ps_agree_summary {
    int64_t cases, cases_failed, pairs, sessions, model_rows, empty_masks;
    int nraters;                   /* inter raters                                           */
} ps_agree_summary;

/* Run the analysis; write out_dir/{pairs,cases,summary}.csv (+ sessions.csv, models.csv) in
 * opt->format (the suffix follows the format), and a readable summary with the rater x rater
 * mean Dice matrix to `text` (NULL = none). PS_ERR_ARG for fewer than two raters, unknown
 * rater names; a failing case is reported in the tables, not returned. */
int ps_agreement_run(const ps_manifest *m, const ps_agree_options *opt, const ps_context *ctx,
                     const char *out_dir, FILE *text, ps_agree_summary *summary);

/* ---- fuse ------------------------------------------------------------------------------- */
typedef enum ps_fuse_method {
    PS_FUSE_STAPLE = 0,      /* STAPLE: the binary form when the raters use one label, the
                                multi-label form (ITK MultiLabelSTAPLEImageFilter) otherwise;
                                per-rater sensitivity / specificity from the binary form of
                                each label                                                  */
    PS_FUSE_MAJORITY,        /* majority vote, ties to the lowest label (background)         */
} ps_fuse_method;
int ps_fuse_method_parse(const char *s, ps_fuse_method *out); /* "staple", "majority" */

typedef struct ps_fuse_options {
    ps_fuse_method method;
    ps_staple_options staple;
    const char *const *raters;     /* as for agreement; NULL = ref + plain rater columns      */
    int nraters;
    const char *ref_name;
    const char *manifest_out;      /* NULL, or the manifest to write with a rater:consensus column */
} ps_fuse_options;
void ps_fuse_options_init(ps_fuse_options *o);

typedef struct ps_fuse_summary {
    int64_t cases, cases_failed, files;
} ps_fuse_summary;

/* Write out_dir/CASE.nii.gz (int32 labels, the raters' geometry) per case, and for STAPLE
 * out_dir/staple_raters.csv (case, label, rater, sensitivity, specificity, iterations). */
int ps_fuse_run(const ps_manifest *m, const ps_fuse_options *opt, const ps_context *ctx,
                const char *out_dir, ps_fuse_summary *summary);

#ifdef __cplusplus
}
#endif
#endif /* PS_AGREE_H */
