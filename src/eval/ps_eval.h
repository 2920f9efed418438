/* ps_eval.h - the per-case table and the evaluation driver.
 *
 * The per-case table is the hinge of panseval: `panseval metrics` writes it, summary, compare,
 * volume, describe, kappa and the reports read it. This module owns it:
 *
 *   columns   case, model, subject, modality, center, label, status, geometry, the metric
 *             columns of ps_metric_columns[] (tp ... nsd), message, then one meta:KEY column
 *             per meta:KEY column of the manifest, in manifest order.
 *   status    ok, pred_empty, ref_empty, both_empty (the metrics were computed), missing (the
 *             manifest cell of the prediction or reference is empty: "not available"; no
 *             metrics, not a failure), error (reading or checking failed; message says why).
 *   geometry  ok (the two headers describe the same grid within --geometry-tol), ref_grid
 *             (--geometry ref-grid: same dims, different headers; evaluated on the
 *             reference's grid, and the message says how the headers differ), mismatch (an
 *             error row: the grids differ), or empty (missing rows, read errors).
 *   label     the region ("1", "1+2"); a missing row without --labels and an error row have
 *             an empty label. Metric cells of missing and error rows are empty (null).
 *
 * Provenance: ps_eval_sidecar_write() writes FILE.meta.json next to a table FILE (whatever its
 * format) with the panseval version, the settings that change numbers (HD95 convention,
 * percentile, NSD tolerance and method, empty policies, geometry policy and tolerance, the
 * labels), and the ref and pred path of every evaluation. The table itself stays a plain table
 * (CSV/TSV with no comment lines, JSON a bare array of row objects) so that pandas read_csv /
 * read_json and R read.csv / jsonlite read it with default options.
 *
 * The driver: a plan lists jobs (case x model: a reference and a prediction path), in output
 * order. ps_eval_run() evaluates them (in parallel across jobs, or with every thread inside
 * one job when there are few) and hands each job's rows to a sink, in plan order, as soon as
 * the job and all jobs before it have finished: rows stream out while later jobs still run.
 * Only results whose predecessors are unfinished are held back. The output does not depend on
 * the thread count.
 *
 * Hooks for resume, sharding and MPI (issue 11): ps_eval_control.skip marks jobs not to run
 * (already in a journal, or another shard's); the sink's `skipped` callback is called for them
 * at their place in the order, so a resuming writer can insert the journaled rows there.
 * ps_eval_control.stop (set from a signal handler) stops taking new jobs: running jobs finish,
 * and the sink has received exactly the rows of a prefix of the plan, whose length is in
 * ps_eval_summary.jobs_emitted.
 *
 * Ownership: plans own their strings (and the manifest they came from); rows passed to a sink
 * are valid during the call only. Thread safety: ps_eval_run calls the sink from one thread at
 * a time (under a lock); everything else is single-threaded per object.
 */
#ifndef PS_EVAL_H
#define PS_EVAL_H

#include <signal.h>
#include <stdint.h>
#include <stdio.h>

#include "ps_core.h"
#include "ps_io.h"
#include "ps_manifest.h"
#include "ps_metrics.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ---- status ------------------------------------------------------------------------------ */
typedef enum ps_eval_status {
    PS_EVAL_OK = 0,
    PS_EVAL_PRED_EMPTY,
    PS_EVAL_REF_EMPTY,
    PS_EVAL_BOTH_EMPTY,
    PS_EVAL_MISSING,
    PS_EVAL_ERROR,
    PS_EVAL_NSTATUS
} ps_eval_status;
/* "ok", "pred_empty", "ref_empty", "both_empty", "missing", "error". */
const char *ps_eval_status_name(ps_eval_status s);
/* The name back to the enum; PS_ERR_ARG for anything else. */
int ps_eval_status_parse(const char *s, ps_eval_status *out);

/* ---- settings ------------------------------------------------------------------------------ */
typedef enum ps_geometry_policy {
    PS_GEOMETRY_STRICT = 0, /* grids must agree within geometry_tol_mm, else an error row */
    PS_GEOMETRY_REF_GRID,   /* dims must agree; headers may differ; evaluated on the
                               reference's grid and flagged geometry=ref_grid            */
} ps_geometry_policy;

typedef struct ps_eval_settings {
    ps_metrics_options metrics;
    ps_region *regions;        /* owned; NULL = the labels present in each case           */
    int nregions;
    ps_geometry_policy geometry;
    double geometry_tol_mm;    /* spacing and origin tolerance; default 1e-4 mm           */
    int fail_fast;             /* stop taking jobs after the first error                  */
} ps_eval_settings;

void ps_eval_settings_init(ps_eval_settings *s);
void ps_eval_settings_clear(ps_eval_settings *s); /* frees regions; the struct is reusable */
/* Set one setting from its option name without the dashes and its text value (NULL for the
 * flags): labels, hd95, percentile, nsd-tol, nsd-method, empty, empty-dice, no-distances,
 * geometry, geometry-tol, fail-fast. PS_ERR_ARG with a message naming the option. Shared by
 * every command that evaluates (metrics, reproduce). */
int ps_eval_settings_set(ps_eval_settings *s, const char *name, const char *value);
/* 1 if `name` is one of the names above. */
int ps_eval_settings_known(const char *name);
/* The --help text of those options (man-page quality, with defaults). A pointer, not an
 * array: a program linked against libpanseval copies an exported array's bytes at link
 * time, so a longer text in a newer library would be cut off ("Symbol ... has different
 * size in shared object"). */
extern const char *const ps_eval_settings_help;

/* ---- plan --------------------------------------------------------------------------------- */
typedef struct ps_eval_job {
    const char *case_id, *model;                /* never NULL                          */
    const char *subject, *modality, *center;    /* "" when absent                      */
    const char *ref_path, *pred_path;           /* NULL = not available: status missing */
    const char *const *meta;                    /* [plan->nmeta]; NULL entries = empty  */
    int64_t case_index;                         /* 0-based case (for progress)         */
} ps_eval_job;

typedef struct ps_eval_plan {
    int64_t njobs;
    ps_eval_job *jobs;   /* in output order: case (manifest order), then model            */
    int64_t ncases;      /* distinct cases; jobs of one case are contiguous              */
    int nmeta;
    char **meta_cols;    /* "meta:KEY" column names                                       */
    char **unmatched;    /* folder mode: prediction files without a reference (ignored)   */
    int nunmatched;
    void *priv_;         /* private storage                                               */
} ps_eval_plan;

/* From a manifest file: every pred:MODEL column, or only `models` (pred: model names, or
 * full rater column names "rater:NAME" / "rater:NAME:SESSION", evaluated against ref like a
 * model). Empty cells give missing jobs. Files named but absent are listed through ps_log
 * (error level) and become error rows when run. Unknown model: the manifest's error
 * (PS_ERR_IO/FORMAT); unknown rater column or nothing to evaluate: PS_ERR_ARG. */
int ps_eval_plan_from_manifest(const char *path, const char *const *models, int nmodels,
                               const ps_context *ctx, ps_eval_plan **out);
/* One job: ref against pred, named case_id / model. */
int ps_eval_plan_pair(const char *ref, const char *pred, const char *case_id, const char *model,
                      ps_eval_plan **out);
/* Folder mode, as nnU-Net's evaluate_folder: files *.nii / *.nii.gz of ref_dir paired with
 * the files of the same case id in pred_dir (hidden files, e.g. AppleDouble "._x", skipped),
 * in byte order of the case id; the case id is the name without its suffix, so x.nii pairs
 * with x.nii.gz (a folder holding both is an error, PS_ERR_ARG). A reference without a
 * prediction is a missing job (nnU-Net v1 refuses the whole folder instead); a prediction
 * without a reference is listed in plan->unmatched and not evaluated. */
int ps_eval_plan_folders(const char *ref_dir, const char *pred_dir, const char *model,
                         ps_eval_plan **out);
/* --ref/--pred as given by a user: two folders (ps_eval_plan_folders) or two files
 * (ps_eval_plan_pair; case_id NULL = ps_eval_case_name(pred)); a file and a folder is
 * PS_ERR_ARG. */
int ps_eval_plan_files(const char *ref, const char *pred, const char *case_id,
                       const char *model, ps_eval_plan **out);
void ps_eval_plan_free(ps_eval_plan *p);
/* The case id of a file: its name without the folder and a .nii / .nii.gz suffix (caller
 * frees; NULL when out of memory). */
char *ps_eval_case_name(const char *path);

/* ---- rows and sinks ----------------------------------------------------------------------- */
typedef struct ps_eval_row {
    const ps_eval_job *job;
    const char *label;           /* "1", "1+2"; "" for a job-level row                     */
    ps_eval_status status;
    const char *geometry;        /* "ok", "ref_grid", "mismatch" or ""                     */
    const ps_case_metrics *m;    /* NULL for missing and error rows                        */
    const char *message;         /* "" when there is nothing to say                        */
} ps_eval_row;

typedef struct ps_eval_sink {
    /* the rows of job `job` (nrows >= 1), in plan order; nonzero return stops the run */
    int (*rows)(void *user, int64_t job, const ps_eval_row *rows, int nrows);
    /* job `job` was skipped (ps_eval_control.skip), at its place in the order; may be NULL */
    int (*skipped)(void *user, int64_t job);
    void *user;
} ps_eval_sink;

typedef struct ps_eval_control {
    const unsigned char *skip;          /* [njobs], nonzero = do not run; NULL = run all   */
    volatile sig_atomic_t *stop;        /* nonzero = take no new job; NULL = never         */
} ps_eval_control;

typedef struct ps_eval_summary {
    int64_t jobs;          /* in the plan                                           */
    int64_t jobs_emitted;  /* handed to the sink (rows or skipped): a prefix        */
    int64_t cases_emitted; /* cases all of whose jobs were handed to the sink        */
    int64_t failed;        /* jobs with an error row                                */
    int64_t missing;       /* jobs with missing rows                                */
    int64_t ref_grid;      /* jobs evaluated on the reference grid                  */
    int64_t rows;          /* rows handed to the sink                               */
    int stopped;           /* 1 = ps_eval_control.stop, 2 = fail_fast, 3 = sink     */
} ps_eval_summary;

/* Run the plan. ctl may be NULL. Progress (ctx->progress) counts cases, its label gives the
 * number of evaluations. Returns PS_OK unless the sink failed (its code) or memory ran out;
 * failed jobs are error rows, counted in summary->failed. */
int ps_eval_run(const ps_eval_plan *plan, const ps_eval_settings *s, const ps_context *ctx,
                const ps_eval_control *ctl, const ps_eval_sink *sink, ps_eval_summary *summary);

/* Log the counts of a run: failed evaluations at error level (shown under -q too, with
 * "stopped early (--fail-fast)" when so), missing rows and ref_grid evaluations as warnings. */
void ps_eval_summary_log(const ps_eval_summary *sum, const ps_context *ctx);

/* ---- the table writer (a sink) -------------------------------------------------------------- */
typedef struct ps_eval_writer ps_eval_writer;
/* Header now, rows as they come (flushed after each job). f is not owned. */
int ps_eval_writer_create(FILE *f, ps_table_format fmt, const ps_eval_plan *plan,
                          ps_eval_writer **out);
int ps_eval_writer_rows(ps_eval_writer *w, const ps_eval_row *rows, int nrows);
/* A sink that writes to w. */
ps_eval_sink ps_eval_writer_sink(ps_eval_writer *w);
int ps_eval_writer_finish(ps_eval_writer *w); /* ends the table; frees w (NULL accepted) */

/* The provenance sidecar "<table_path>.meta.json" (written atomically): see above. `run` may
 * be NULL (not run yet). */
int ps_eval_sidecar_write(const char *table_path, ps_table_format fmt, const ps_eval_plan *plan,
                          const ps_eval_settings *s, const ps_eval_summary *run);

/* The --help text of the per-case table's columns, statuses, sidecar and exit status. */
extern const char *const ps_eval_table_help; /* a pointer, as ps_eval_settings_help */

/* ---- the table reader ------------------------------------------------------------------------ */
/* Read a per-case table (CSV, TSV or JSON) and check it: the columns case, model, label and
 * status must be present and every status must be one of the names above (PS_ERR_FORMAT
 * naming the file and line otherwise). Tables written before `missing` and `geometry` existed
 * read fine. */
int ps_eval_table_read(const char *path, ps_table **out);
/* The status of row r of a table from ps_eval_table_read. */
ps_eval_status ps_eval_table_status(const ps_table *t, int64_t r);

/* ---- multi-rater drivers: `panseval agreement` and `panseval fuse` ------------------------
 * (docs/agreement.md, "Label maps of several raters"). Their aggregates (summary, rater x
 * rater matrix) are an analysis of the tables they write: ps_report_agreement in
 * ps_reports.h.
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
    /* nonzero (set from a signal handler) = take no new case: the case running finishes and
     * the tables hold exactly the cases before it, complete; summary.stopped says so. NULL =
     * never. */
    volatile sig_atomic_t *stop;
    char **own_raters_;            /* private: lists set by ps_agree_options_set             */
    ps_region *own_labels_;
} ps_agree_options;
void ps_agree_options_init(ps_agree_options *o);
/* Set one option by its command-line name (without "--") from its text: "raters" (a comma
 * list, or "all"), "ref-name", "sessions", "models" (value ignored), "labels" (1,2,1+2),
 * "region", "margin" (mm, >= 0), "hd95", "percentile" (0..100), "empty". PS_ERR_ARG with a
 * message naming the option for a bad value or an unknown name. Copies what it keeps; free
 * with ps_agree_options_clear. */
int ps_agree_options_set(ps_agree_options *o, const char *name, const char *value);
void ps_agree_options_clear(ps_agree_options *o);
/* Read a manifest for agreement / fuse (files are checked per case, so a missing file is an
 * error row of its case, not a failure) and create out_dir (may be NULL) when missing. */
int ps_agree_open(const char *manifest, const char *out_dir, ps_manifest **m);
/* PS_ERR_ARG naming the column (and listing the valid ones) unless every one of by[0..nby) is
 * a column of the case table an agreement run on m writes (the aggregates group by those):
 * checked before the run, so a mistyped --by costs no work. */
int ps_agree_check_by(const ps_manifest *m, const char *const *by, int nby);

typedef struct ps_agree_summary {
    int64_t cases, cases_failed, pairs, sessions, model_rows, empty_masks;
    int nraters;                   /* inter raters                                           */
    int stopped;                   /* 1: opt->stop ended the run after `cases` cases          */
} ps_agree_summary;

/* The per-row tables of an agreement run, in memory (the same rows as the files). */
typedef struct ps_agree_tables {
    ps_table *pairs, *cases;       /* always                                                 */
    ps_table *sessions, *models;   /* with opt->sessions / opt->models, else NULL            */
    char **raters;                 /* the inter raters' names, in order                      */
    int nraters;
    ps_agree_region region;
} ps_agree_tables;
void ps_agree_tables_free(ps_agree_tables *t); /* NULL and a zeroed struct are fine */

/* Run the per-case drivers: write out_dir/{pairs,cases}.EXT (+ sessions, models) in
 * opt->format (EXT = the format's name), streamed, one row at a time; out_dir NULL writes no
 * files. With `tables` non-NULL the same rows are also returned as tables (the caller frees
 * them with ps_agree_tables_free); the aggregates of these tables are
 * ps_report_agreement_summary (ps_reports.h), and ps_report_agreement runs both. Columns:
 *   pairs    case, subject, modality, center, label, region, kind (inter | model), rater_a,
 *            rater_b, status, dice, hd95, assd, kappa, vol_diff_ml, vol_a_ml, vol_b_ml, message
 *   cases    case, subject, modality, center, label, region, n_raters, n_empty, status,
 *            fleiss_kappa, krippendorff_alpha, mean_pairwise_dice, ged, vol_cv, message
 *   sessions case, subject, modality, center, label, region, rater, session_a, session_b and
 *            the pair columns from status on
 *   models   case, subject, modality, center, label, model, n_raters, status, model_mean_dice,
 *            raters_mean_dice, raters_min_dice, raters_max_dice, within_range,
 *            model_mean_hd95, raters_mean_hd95, ged, message
 * and, last, one meta:KEY column per meta:KEY column of the manifest. PS_ERR_ARG for fewer
 * than two raters, unknown rater names; a failing case is an error row, not a return code.
 * With a journal, a shard or MPI ranks: ps_agreement_run_dist (ps_eval_dist.h), which this
 * calls without them. */
int ps_agreement_run(const ps_manifest *m, const ps_agree_options *opt, const ps_context *ctx,
                     const char *out_dir, ps_agree_tables *tables, ps_agree_summary *summary);

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
    /* as ps_agree_options.stop: the case running finishes; staple_raters.csv and the -o
     * manifest are written for the finished cases (the others' consensus cells empty) */
    volatile sig_atomic_t *stop;
    char **own_raters_;            /* private: set by ps_fuse_options_set                    */
} ps_fuse_options;
void ps_fuse_options_init(ps_fuse_options *o);
/* As ps_agree_options_set: "method", "raters", "ref-name", "threshold" (0..1), "max-iter"
 * (>= 1). Free with ps_fuse_options_clear. */
int ps_fuse_options_set(ps_fuse_options *o, const char *name, const char *value);
void ps_fuse_options_clear(ps_fuse_options *o);

typedef struct ps_fuse_summary {
    int64_t cases, cases_failed, files;
    int stopped;                   /* 1: opt->stop ended the run after `cases` cases          */
} ps_fuse_summary;

/* Write out_dir/CASE.nii.gz (int32 labels, the raters' geometry) per case, and for STAPLE
 * out_dir/staple_raters.csv (case, label, rater, sensitivity, specificity, iterations). */
int ps_fuse_run(const ps_manifest *m, const ps_fuse_options *opt, const ps_context *ctx,
                const char *out_dir, ps_fuse_summary *summary);

#ifdef __cplusplus
}
#endif
#endif /* PS_EVAL_H */
