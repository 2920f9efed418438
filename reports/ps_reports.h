/* ps_reports.h - the analyses of per-case tables and the result tables they return.
 *
 * Input is a table read with ps_table_read(): the per-case table of `panseval metrics`
 * (columns case, model, modality, center, label, status, <metrics>, message, plus subject and
 * meta:KEY when the manifest has them) or, for kappa and icc, any table of ratings. Every
 * analysis shares three pieces:
 *
 *  - one grouping (ps_groups): rows grouped by the values of any list of columns, groups in
 *    order of first appearance, so the output order follows the input order;
 *  - one row filter and exclusion policy (ps_report_classify), the rule of docs/stats.md
 *    "Which rows enter a statistic":
 *      1. --model keeps the rows of that model (the others are not part of the analysis);
 *      2. a row whose status is `error` or `missing` never enters a statistic (reason error /
 *         missing); with ok_only, any status other than `ok` is left out too (reason not_ok);
 *      3. otherwise the row enters a metric's statistics when that metric's value is finite:
 *         NaN or an empty cell is left out as `nan`, +-inf as `inf`. The value a metric has
 *         for an empty mask is the one `panseval metrics --empty` wrote: Dice of an empty
 *         prediction is 0 and so always counts; HD95 is nan or inf (left out) or a number;
 *      4. compare pairs rows of two models by case (and label); a case present for one model
 *         only is left out as `unpaired`.
 *    Every analysis reports per metric (and group) how many rows were left out, and why, in
 *    the columns n_excluded and excl_<reason>, and in a warning message;
 *  - one result-table model (ps_rtable): named columns of typed cells (text, number,
 *    integer) with a display hint per column, plus text lines around the table and messages.
 *    ps_rtable_write() renders it as aligned text (terminals), and through src/io's
 *    ps_table_writer as CSV, TSV, JSON (every column, exact numbers), Markdown or LaTeX
 *    booktabs (the columns shown in text, each cell as its display text).
 *
 * The aggregates of `panseval agreement` are ps_report_agreement*: an analysis of the per-row
 * tables of src/eval's multi-rater driver with the same grouping and exclusion rule.
 *
 * Tables come from ps_report_load (CSV/TSV/JSON tables, nnU-Net summary.json files, several
 * joined); ps_nnunet_write writes a per-case table as nnU-Net's summary.json (docs/nnunet.md).
 *
 * A header-only table (no rows) is PS_ERR_FORMAT "<file>: the table has no rows" in every
 * analysis. Unknown columns are PS_ERR_ARG naming the column and the columns there are; a cell
 * that is neither a number, nan/inf nor empty is PS_ERR_FORMAT naming file, line and column.
 * A group whose statistic is undefined (too few values, constant data) does not fail the
 * analysis: its cells are NaN and an error message is added to the result (ps_rtable_nerrors).
 *
 * Ownership: every ps_rtable returned is the caller's (ps_rtable_free). Inputs are not kept.
 * Thread safety: no global state; an analysis may use OpenMP inside (threads from its
 * options) and its result does not depend on the thread count.
 */
#ifndef PS_REPORTS_H
#define PS_REPORTS_H

#include <stdint.h>
#include <signal.h>
#include <stdio.h>

#include "ps_core.h"
#include "ps_eval.h"
#include "ps_eval_dist.h"
#include "ps_io.h"
#include "ps_stats.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ---- result tables ----------------------------------------------------------------------- */
typedef enum ps_cell_kind { PS_CELL_STR = 0, PS_CELL_NUM, PS_CELL_INT } ps_cell_kind;

/* How a number column is shown in text, Markdown and LaTeX (CSV/TSV/JSON always write the
 * exact value). */
typedef enum ps_col_style {
    PS_STYLE_G6 = 0,   /* %.6g                                                          */
    PS_STYLE_FIXED,    /* %.<digits>f                                                   */
    PS_STYLE_SIG,      /* %.<digits>g                                                   */
} ps_col_style;

/* Column flags. */
enum {
    PS_COL_DATA_ONLY = 1, /* not shown in text/Markdown/LaTeX (e.g. the excl_* counts)     */
    PS_COL_RIGHT = 2,     /* text cells right-aligned (numbers always are)                  */
};

typedef struct ps_rtable ps_rtable;

int ps_rtable_create(ps_rtable **out);
void ps_rtable_free(ps_rtable *t);
/* Columns are added before the first cell. */
int ps_rtable_add_col(ps_rtable *t, const char *name, ps_cell_kind kind, ps_col_style style,
                      int digits, int flags);
/* Cells in row order; a row ends after the last column. */
int ps_rtable_str(ps_rtable *t, const char *s);
int ps_rtable_num(ps_rtable *t, double x);      /* NaN: nan (text), empty (CSV), null (JSON) */
int ps_rtable_int(ps_rtable *t, int64_t x);
/* Lines printed in text output above / below the table (e.g. a title, a footnote); Markdown
 * and LaTeX print them as paragraphs / comments. */
int ps_rtable_head(ps_rtable *t, const char *fmt, ...) PS_PRINTF(2, 3);
int ps_rtable_foot(ps_rtable *t, const char *fmt, ...) PS_PRINTF(2, 3);
/* Messages for the user (warnings: exclusions, undefined CIs; errors: a group whose
 * statistic is undefined). The caller prints them. */
int ps_rtable_warn(ps_rtable *t, const char *fmt, ...) PS_PRINTF(2, 3);
int ps_rtable_error(ps_rtable *t, const char *fmt, ...) PS_PRINTF(2, 3);
/* An alternative table shown in text/Markdown/LaTeX instead of this one (summary's
 * "mean ± SD" cells); owned by t. */
void ps_rtable_set_display(ps_rtable *t, ps_rtable *display);

int ps_rtable_ncols(const ps_rtable *t);
int64_t ps_rtable_nrows(const ps_rtable *t);
const char *ps_rtable_colname(const ps_rtable *t, int c);
int ps_rtable_find_col(const ps_rtable *t, const char *name); /* -1 if absent */
ps_cell_kind ps_rtable_kind(const ps_rtable *t, int c);
const char *ps_rtable_cell_str(const ps_rtable *t, int64_t r, int c); /* NULL if not text  */
double ps_rtable_cell_num(const ps_rtable *t, int64_t r, int c);      /* NaN for text      */
int ps_rtable_nmessages(const ps_rtable *t);
const char *ps_rtable_message(const ps_rtable *t, int i, int *is_error);
int ps_rtable_nerrors(const ps_rtable *t);

typedef enum ps_report_format {
    PS_REPORT_TEXT = 0, /* aligned columns for a terminal                                    */
    PS_REPORT_CSV,
    PS_REPORT_TSV,
    PS_REPORT_JSON,
    PS_REPORT_MD,       /* a GitHub-flavoured Markdown table                                 */
    PS_REPORT_TEX,      /* a LaTeX booktabs tabular                                          */
} ps_report_format;
/* "text", "csv", "tsv", "json", "md" (or "markdown"), "tex" (or "latex"). */
int ps_report_format_parse(const char *s, ps_report_format *out);
const char *ps_report_format_names(void); /* "text, csv, tsv, json, md or tex" */
int ps_rtable_write(const ps_rtable *t, FILE *f, ps_report_format fmt);

/* ---- grouping ------------------------------------------------------------------------------ */
typedef struct ps_groups {
    int nby;          /* number of key columns                              */
    char **by;        /* their names (owned)                                */
    int *col;         /* their column indices                               */
    int ngroups;
    int64_t *first;   /* a representative row of each group                 */
    int *of_row;      /* group of each table row, -1 if the row is not used */
    int64_t *start;   /* rows of group k: rows[start[k] .. start[k+1]-1],   */
    int64_t *rows;    /* in table order                                     */
} ps_groups;

/* Group the rows with use[r] != 0 (use NULL: every row) by the columns by[0..nby-1] (nby 0:
 * one group). Any column can be a key (model, modality, center, label, subject, meta:KEY...). */
int ps_groups_build(const ps_table *t, const char *const *by, int nby, const unsigned char *use,
                    ps_groups *g);
void ps_groups_free(ps_groups *g);
/* "modality=CT, center=A" (or "all rows") into buf. */
const char *ps_groups_label(const ps_table *t, const ps_groups *g, int grp, char *buf,
                            size_t len);
/* Add the key columns to a result table / write a group's keys as its first cells. */
int ps_groups_add_cols(const ps_groups *g, ps_rtable *rt);
int ps_groups_cells(const ps_table *t, const ps_groups *g, int grp, ps_rtable *rt);

/* ---- row filter and exclusion policy ------------------------------------------------------ */
typedef enum ps_excl {
    PS_EXCL_NAN = 0,   /* value NaN or empty                                   */
    PS_EXCL_INF,       /* value +-inf                                           */
    PS_EXCL_ERROR,     /* status error                                          */
    PS_EXCL_MISSING,   /* status missing (the prediction is not available)       */
    PS_EXCL_NOT_OK,    /* another status than ok, with ok_only                   */
    PS_EXCL_UNPAIRED,  /* compare: the case is there for one model only          */
    PS_EXCL_N,
    PS_EXCL_NONE = -1, /* the value enters                                       */
} ps_excl;
const char *ps_excl_name(ps_excl e); /* "nan", "inf", "error", "missing", "not_ok", "unpaired" */

typedef struct ps_excl_counts {
    int64_t n[PS_EXCL_N];
} ps_excl_counts;
int64_t ps_excl_total(const ps_excl_counts *c);
/* "1 nan, 2 error" into buf ("" when nothing was left out). */
const char *ps_excl_describe(const ps_excl_counts *c, char *buf, size_t len);
/* Columns excl_nan ... excl_unpaired (PS_COL_DATA_ONLY) and their cells. */
int ps_excl_add_cols(ps_rtable *rt, int with_unpaired);
int ps_excl_cells(ps_rtable *rt, const ps_excl_counts *c, int with_unpaired);

/* The row filter: the table, its status column, an optional model and ok_only. */
typedef struct ps_rowfilter {
    const ps_table *t;
    const char *name;  /* table name for messages                     */
    int status_col;    /* -1: no status column, every row is "ok"      */
    int model_col;
    int ok_only;
    unsigned char *use; /* rows of the selected model (owned)          */
    int64_t nuse;
} ps_rowfilter;

/* Select the rows of `model` (NULL: every row). PS_ERR_FORMAT for a table without rows,
 * PS_ERR_ARG "no rows with model 'M'" when the model is absent. */
int ps_rowfilter_init(ps_rowfilter *f, const ps_table *t, const char *model, int ok_only);
void ps_rowfilter_free(ps_rowfilter *f);
/* The exclusion rule for cell (r, c): *reason = PS_EXCL_NONE and *v the value when it enters,
 * else the reason. A cell that is not a number is PS_ERR_FORMAT. */
int ps_report_classify(const ps_rowfilter *f, int64_t r, int c, double *v, ps_excl *reason);
/* Only the status part of the rule: PS_EXCL_NONE or ERROR / MISSING / NOT_OK. */
ps_excl ps_report_status_excl(const ps_rowfilter *f, int64_t r);

/* PS_ERR_FORMAT "<name>: the table has no rows" when t has none, else PS_OK. */
int ps_report_require_rows(const ps_table *t);

/* ---- summary ---------------------------------------------------------------------------------- */
/* The statuses counted per group are those of the per-case table's owner, src/eval
 * (ps_eval_status, ps_eval_status_name), in its order: ok, pred_empty, ref_empty, both_empty,
 * missing, error. */

typedef struct ps_summary_options {
    const char *const *by;      /* default model,modality,label                        */
    int nby;
    const char *const *metrics; /* default dice,hd95,assd,nsd,vol_diff_ml              */
    int nmetrics;
    int percent;                /* show dice, jaccard, nsd in percent in text/md (1)    */
    double level;               /* CI level (0.95)                                      */
    const char *model;          /* NULL: every row; else the rows of that model         */
} ps_summary_options;
void ps_summary_options_init(ps_summary_options *o);

/* Per group: rows, count per status, with a geometry column the rows whose geometry is
 * neither empty nor "ok" (n_geometry_flagged: e.g. ref_grid, evaluated on the reference's grid
 * although the headers disagree), and per metric n, the exclusions and mean, sd, median,
 * q1, q3, min, max, ci_low, ci_high (data columns <metric>_n, _excluded, _nan, _inf,
 * _error, _missing, _mean ...). Text/Markdown/LaTeX show "mean ± sd [k nan]" cells. */
int ps_report_summary(const ps_table *t, const ps_summary_options *o, ps_rtable **out);

/* ---- describe -------------------------------------------------------------------------------- */
typedef struct ps_describe_options {
    const char *const *metrics;
    int nmetrics;
    const char *const *by;
    int nby;
    const char *model;          /* NULL: every row                          */
    int ok_only;
    double level;               /* 0.95                                     */
    long bootstrap;             /* resamples, 0 = none                      */
    ps_boot_stat boot_stat;     /* PS_BOOT_MEAN                             */
    uint64_t seed;              /* 1                                        */
    int threads;                /* for the bootstrap; 0 = all               */
} ps_describe_options;
void ps_describe_options_init(ps_describe_options *o);
/* One row per group and metric: <by>, metric, n, n_excluded, mean, sd, median, q1, q3, iqr,
 * min, max, ci_low, ci_high [, boot_replicates, boot_stat, boot_pct_low, boot_pct_high,
 * boot_bca_low, boot_bca_high], excl_<reason>. */
int ps_report_describe(const ps_table *t, const ps_describe_options *o, ps_rtable **out);

/* ---- volume ------------------------------------------------------------------------------------ */
typedef struct ps_volume_options {
    const char *ref_col, *pred_col; /* vol_ref_ml, vol_pred_ml              */
    const char *const *by;
    int nby;
    const char *model;
    int ok_only;
    double level;
} ps_volume_options;
void ps_volume_options_init(ps_volume_options *o);
/* One row per group: <by>, n, n_excluded, OLS, R^2, correlations, Bland-Altman (see
 * `panseval volume --help` for the columns), excl_<reason>. A row enters when both volumes
 * enter by the exclusion rule; the reason counted is the reference's, else the prediction's. */
int ps_report_volume(const ps_table *t, const ps_volume_options *o, ps_rtable **out);

/* ---- compare ------------------------------------------------------------------------------------ */
typedef struct ps_compare_options {
    const char *const *metrics; /* one or more metric columns               */
    int nmetrics;
    const char *model_a, *model_b;
    const char *const *by;
    int nby;
    int ok_only;
    double level;               /* 0.95                                     */
    ps_alternative alternative; /* two-sided                                */
    ps_padjust_method correction; /* holm, across every (metric, group) row */
    ps_wilcoxon_options wilcoxon; /* R's defaults                           */
} ps_compare_options;
void ps_compare_options_init(ps_compare_options *o);
/* The Wilcoxon options by name: the convention ("r", the default when NULL, or "scipy") and
 * then the overrides (each NULL = the convention's): zero "wilcox" | "pratt" | "zsplit",
 * method "auto" | "exact" | "approx", continuity "yes" | "no". PS_ERR_ARG on a bad name. */
int ps_compare_wilcoxon_options(const char *convention, const char *zero, const char *method,
                                const char *continuity, ps_wilcoxon_options *wo);
/* Rows of model A and B are paired by case (and label when the table has that column);
 * d = A - B. One row per group and metric: <by>, metric, model_a, model_b, n, n_excluded,
 * mean_a, mean_b, mean_diff, sd_diff, t, df, p_t, ci_low, ci_high, dz, wilcoxon_v,
 * p_wilcoxon, wilcoxon_exact, p_t_adj, p_wilcoxon_adj, excl_<reason>. A pair is left out
 * with the reason of model A's row when that row is left out, else model B's. */
int ps_report_compare(const ps_table *t, const ps_compare_options *o, ps_rtable **out);

/* ---- agreement tables (kappa, icc) ---------------------------------------------------------- */
/* The ratings of an agreement analysis: either one column per rater ("wide": rater_cols),
 * or the long per-case table with one row per case x rater: the value column, the rater
 * column (e.g. model) and the subject key (case, and label when the table has it). */
typedef struct ps_ratings_spec {
    const char *const *raters;  /* wide: the rater columns; long: the raters to use, in this
                                 * order (NULL/0: every value of rater_col, first appearance) */
    int nraters;
    const char *value_col;      /* long form when set                                      */
    const char *rater_col;      /* long form: default "model"                              */
} ps_ratings_spec;

typedef struct ps_kappa_options {
    ps_ratings_spec ratings;
    ps_kappa_weights weights;   /* none                                     */
    double level;               /* 0.95                                     */
    ps_alpha_metric alpha_metric; /* nominal                                */
    int threads;
} ps_kappa_options;
void ps_kappa_options_init(ps_kappa_options *o);
/* Cohen's kappa per pair of raters; with 3+ raters also Fleiss', Light's kappa and
 * Krippendorff's alpha (docs/agreement.md). Long form: a subject is (case, label); a subject
 * rated twice by one rater is PS_ERR_FORMAT naming both lines; a subject without a row for a
 * rater, or whose row has status error/missing, has a missing rating for that rater. */
int ps_report_kappa(const ps_table *t, const ps_kappa_options *o, ps_rtable **out);

typedef struct ps_icc_options {
    ps_ratings_spec ratings;
    double level;
} ps_icc_options;
void ps_icc_options_init(ps_icc_options *o);
/* The six Shrout-Fleiss ICCs, one row per form. Same ratings rules as ps_report_kappa. */
int ps_report_icc(const ps_table *t, const ps_icc_options *o, ps_rtable **out);

/* ---- agreement of label maps (panseval agreement) ------------------------------------------ */
/* The aggregates of the per-row tables of src/eval's ps_agreement_run (ps_agree_tables: pairs,
 * cases, sessions, models), per group of the columns `by` (any column of those tables: case,
 * subject, modality, center, meta:KEY; none = all rows) and label, with the grouping and the
 * exclusion rule above (a row with status error or missing never enters; a NaN or infinite
 * value is left out and counted in n_excluded / excl_<reason>). Header comment of
 * reports/agree_summary.c and docs/agreement.md, "Aggregates". */
typedef struct ps_agreement_report_options {
    const char *const *by;      /* grouping columns besides label (NULL/0: all rows)       */
    int nby;
    double level;               /* 0.95: quantile/ICC/t-test interval level                 */
} ps_agreement_report_options;
void ps_agreement_report_options_init(ps_agreement_report_options *o);

typedef struct ps_agreement_result {
    /* <by>, label, region, statistic, rater_a, rater_b, n, n_excluded, mean, sd, median, q1,
     * q3, value, ci_low, ci_high, p, excl_<reason>: one row per group, label and statistic
     * (pair_*, fleiss_kappa, krippendorff_alpha, mean_pairwise_dice, ged, vol_cv, session_*,
     * model_* with the model in rater_a, pair_dice_mean per rater pair, volume_icc2/3,
     * model_vs_raters_wilcoxon/ttest). Text/Markdown/LaTeX show mean +- SD, median [IQR]. */
    ps_rtable *summary;
    /* the rater x rater mean pairwise Dice: <by>, label, rater, one column per inter rater
     * (1 on the diagonal, NaN for a pair without values); one block of rows per group */
    ps_rtable *matrix;
    /* with models (else NULL), the model-within-variation table: <by>, label, model, n (cases
     * with both values), model_mean_dice, raters_mean_dice (means over those cases),
     * mean_diff, ci_low, ci_high (paired t), p_ttest, p_wilcoxon (R's paired defaults),
     * within_range_fraction (mean of within_range), n_excluded, excl_<reason> */
    ps_rtable *models;
} ps_agreement_result;
void ps_agreement_result_free(ps_agreement_result *r); /* frees the tables, not r */

/* The three tables from tables already computed (e.g. by `panseval reproduce`). */
int ps_report_agreement_tables(const ps_agree_tables *t, const ps_agreement_report_options *o,
                               ps_agreement_result *res);
/* The whole `panseval agreement`: ps_agreement_run (out_dir/pairs, cases, sessions, models),
 * then the aggregates, written as out_dir/summary.EXT, dice_matrix.EXT and, with models,
 * models_summary.EXT in ao->format (atomically). out_dir NULL: no files, results only.
 * counts (may be NULL) receives the driver's counts. */
int ps_report_agreement(const ps_manifest *m, const ps_agree_options *ao,
                        const ps_agreement_report_options *ro, const ps_context *ctx,
                        const char *out_dir, ps_agreement_result *res, ps_agree_summary *counts);
/* ps_report_agreement as a long or distributed run (ps_eval_dist.h): ps_agreement_run_dist
 * with run's resume, shard, MPI and stop options and the journal out_dir/agreement.journal
 * (run->journal is not used; run NULL = no journal, as ps_report_agreement), ro's --by and
 * level recorded in it; then, on rank 0, the aggregates of the tables written. An interrupted
 * run writes the aggregates of its finished prefix and keeps the journal; a complete unsharded
 * one removes it. Other ranks only compute (res stays empty). info (may be NULL) as for
 * ps_eval_run_dist. */
int ps_report_agreement_dist(const ps_manifest *m, const ps_agree_options *ao,
                             const ps_agreement_report_options *ro, const ps_context *ctx,
                             const char *out_dir, const ps_eval_run_opts *run,
                             ps_agreement_result *res, ps_agree_summary *counts,
                             ps_eval_run_info *info);
/* `panseval merge` of agreement shards: ps_agreement_merge into out_dir (the per-row tables),
 * then the aggregates with the recorded --by and level, as one process writes them. */
int ps_report_agreement_merge(const char *const *shards, int n, const char *out_dir,
                              const ps_table_format *want, ps_agreement_result *res,
                              ps_agree_summary *counts);
/* The summary, the matrix and the models table one after another in fmt. */
int ps_report_agreement_print(const ps_agreement_result *res, FILE *f, ps_report_format fmt);

/* ---- loading tables; nnU-Net's summary.json ---------------------------------------------------- */
/* Read the tables named by args[0..n-1] and concatenate them (they must have the same columns,
 * in the same order). Each argument is a path ('-' = standard input) or MODEL=PATH. A CSV/TSV
 * file is read with ps_table_read's rules; a file whose first non-blank character is '{' is
 * read as an nnU-Net summary.json (v1 or v2, ps_nnunet_parse) with the model column set to
 * MODEL (default "nnunet"). A MODEL= prefix on a CSV/TSV table is PS_ERR_ARG. Several tables
 * are joined through CSV in memory: messages then name "(joined tables)" and its lines (the
 * header, then the rows of args[0], args[1], ... in order). */
int ps_report_load(const char *const *args, int n, ps_table **out);

/* The file an input argument of ps_report_load names: for MODEL=PATH (a non-empty prefix
 * without '/' before the first '=', unless the whole argument is an existing file) a pointer
 * to PATH inside arg, else arg itself. ps_report_load and the CLI's output check (an -o that
 * is an input is refused) both use this one rule. */
const char *ps_report_input_path(const char *arg);

typedef enum ps_nnunet_layout {
    PS_NNUNET_V1 = 0, /* nnU-Net v1: results.all / results.mean, 13 confusion-matrix metrics */
    PS_NNUNET_V2,     /* nnU-Net v2: metric_per_case / mean / foreground_mean                */
    PS_NNUNET_V1_PANSEGNET, /* v1 as the PaNSegNet fork writes it: the 13 metrics and
                             * "Hausdorff Distance 95", "Avg. Symmetric Surface Distance"
                             * (MedPy; from the hd95 and assd columns, --hd95 medpy)       */
} ps_nnunet_layout;
/* "nnunet-v1" (or "v1"), "nnunet-v2" (or "v2"), "nnunet-v1-pansegnet" (or "v1-pansegnet"). */
int ps_nnunet_layout_parse(const char *s, ps_nnunet_layout *out);

typedef struct ps_nnunet_options {
    ps_nnunet_layout layout;
    const char *model;  /* the model to write; NULL: the table must hold one model          */
} ps_nnunet_options;

/* Write the per-case table `t` (columns case, label, tp, fp, fn, tn; status, model, ref_path,
 * pred_path when present) as the summary.json nnU-Net would write for the same masks: the
 * layout, metric names, formulas, NaN conventions and means of nnU-Net's evaluators (see the
 * header comment of reports/nnunet_json.c and docs/nnunet.md). Rows with status error or
 * missing are left out; *nskipped (may be NULL) receives their number. */
int ps_nnunet_write(const ps_table *t, const ps_nnunet_options *o, FILE *f, int64_t *nskipped);

/* summary.json written by the run that writes the per-case table (`metrics --summary-json`):
 * the collector's sink forwards each row to `next` (the table's own sink, not owned; NULL =
 * none, when the collector is the tee of ps_eval_run_opts) and keeps
 * a CSV copy of the table in memory; ps_nnunet_collector_write then parses that copy
 * (ps_table_parse) and writes it with ps_nnunet_write atomically to `path`, so the file equals
 * what `panseval summary TABLE --format nnunet-...` writes from the table. *nskipped as for
 * ps_nnunet_write. ps_nnunet_collector_write may be called once. */
typedef struct ps_nnunet_collector ps_nnunet_collector;
int ps_nnunet_collector_create(const ps_eval_plan *plan, const ps_eval_sink *next,
                               ps_nnunet_collector **out);
ps_eval_sink ps_nnunet_collector_sink(ps_nnunet_collector *c);
int ps_nnunet_collector_write(ps_nnunet_collector *c, const ps_nnunet_options *o,
                              const char *path, int64_t *nskipped);
void ps_nnunet_collector_free(ps_nnunet_collector *c); /* NULL accepted */

/* Parse a summary.json of either layout into a per-case table with the columns case, model,
 * label, status, tp, fp, fn, tn (empty for v1), dice, jaccard, precision, recall, n_pred,
 * n_ref, hd95, assd (the PaNSegNet fork's; NaN otherwise), ref_path, pred_path. `name` names
 * the file in messages. */
int ps_nnunet_parse(const char *text, size_t len, const char *name, const char *model,
                    ps_table **out);


/* ==== Report rendering: SVG plots, slice figures, documents, published values ==============
 * (svg_plot.c, slice.c, document.c, published.c.) Everything here is deterministic: the same
 * inputs give the same bytes, whatever the thread count. Numbers shown to a reader go
 * through ps_report_fmt(), so a number in a plot legend or an HTML/Markdown/LaTeX table is
 * the rounding of the very double written to the CSV (whose cell carries it with %.17g). */

/* Fixed-point display of x with `decimals` digits after the point (0..9): "88.3", "-0.05";
 * NaN is "nan", infinities "inf" / "-inf"; -0 after rounding prints "0". */
void ps_report_fmt(double x, int decimals, char *buf, size_t n);

/* "Nice" axis ticks covering [lo, hi] (Heckbert 1990, Graphics Gems I: steps 1, 2, 5 x 10^k):
 * writes up to `max` ticks, the first <= lo and the last >= hi, and returns their number
 * (>= 2), or 0 when lo/hi are not finite. `decimals` receives the digits a label needs. */
int ps_plot_ticks(double lo, double hi, int target, double *ticks, int max, int *decimals);

/* Series colours (Okabe & Ito 2008, colour-blind safe), cycled: "#0072B2", ... */
const char *ps_plot_colour(int i);

/* Box plot of values per group (x axis: modality or center) and series (boxes side by side
 * in each group, with a legend: the models). Box = type-7 quartiles with the median line;
 * whiskers reach the most extreme values within 1.5 IQR of the box (Tukey); every value is
 * drawn as a point with a deterministic horizontal jitter (a golden-ratio sequence over the
 * values' order). Non-finite values are not drawn and are counted under the group label
 * ("2 not shown"). values[g * nseries + s] holds n[g * nseries + s] doubles. */
typedef struct ps_plot_box {
    const char *title, *y_label;
    int ngroups, nseries;
    const char *const *group_names, *const *series_names;
    const double *const *values;
    const size_t *n;
    int with_points;                   /* draw the cases as points (1)                      */
} ps_plot_box;
int ps_plot_box_svg(FILE *f, const ps_plot_box *p);

/* Scatter of y against x per series, with the OLS line of y on x (ps_stats_regression) and
 * "name: R² = 0.91 (n = 24)" in the legend (R² with 3 decimals, the value volume.csv holds),
 * and the identity line y = x when `identity` is set (no_fit: points only). Non-finite pairs are left out. */
typedef struct ps_plot_scatter {
    const char *title, *x_label, *y_label;
    int nseries;
    const char *const *series_names;
    const double *const *x, *const *y;
    const size_t *n;
    int identity;
    int no_fit;   /* 1: no OLS line and no RÂ², the legend is "name (n = 24)" (default 0) */
} ps_plot_scatter;
int ps_plot_scatter_svg(FILE *f, const ps_plot_scatter *p);

/* Bland-Altman plot of y against x per series (ps_stats_bland_altman at 95%): mean of the
 * pair on the x axis, y - x on the y axis, the bias (solid) and the limits of agreement
 * (dashed) in the series colour, their values (`decimals`) in the legend. */
typedef struct ps_plot_bland_altman {
    const char *title, *x_label, *y_label;
    int nseries;
    const char *const *series_names;
    const double *const *x, *const *y;
    const size_t *n;
    int decimals;
} ps_plot_bland_altman;
int ps_plot_bland_altman_svg(FILE *f, const ps_plot_bland_altman *p);

/* Heat map: rows x cols cells coloured by value on a sequential scale (viridis stops) between
 * vmin and vmax (NaN: the data's range), the value printed in each cell (`decimals`; NaN
 * cells grey and "-"), and a colour bar. values[r * ncols + c]. */
typedef struct ps_plot_heatmap {
    const char *title, *row_label, *col_label, *value_label;
    int nrows, ncols;
    const char *const *row_names, *const *col_names;
    const double *values;
    int decimals;
    double vmin, vmax;
} ps_plot_heatmap;
int ps_plot_heatmap_svg(FILE *f, const ps_plot_heatmap *p);

/* ---- slice figures (slice.c) ---------------------------------------------------------------- */
/* One axial slice through the largest error of a case: k (the third voxel axis) with the most
 * FP + FN voxels of the evaluated label (ties: the smallest k; no error at all: the slice
 * with the most reference voxels), the image windowed (CT: soft-tissue window, level 40 HU,
 * width 400; MRI: the 1st to 99th type-7 percentile of the slice), cropped around the union
 * of reference and prediction in the slice with `margin_mm`, resampled (nearest neighbour)
 * to square output pixels so that anisotropic spacing keeps its true aspect, the longer side
 * close to `size_px`, oriented radiologically from the affine (patient right on the left,
 * anterior at the top), with the reference contour drawn just outside the reference mask and
 * the prediction contour just inside the prediction mask, so that coinciding boundaries show
 * both colours side by side. */
#define PS_SLICE_REF_RGB 0x00, 0xE5, 0xFF   /* reference contour: cyan                      */
#define PS_SLICE_PRED_RGB 0xFF, 0x3E, 0xA5  /* prediction contour: magenta                  */
typedef struct ps_slice_options {
    int ct;              /* 1: CT window; 0: percentile window                               */
    int64_t label;       /* label evaluated; <= 0 means any non-zero voxel                   */
    double margin_mm;    /* crop margin around the masks (20)                                */
    int size_px;         /* longer output side (320)                                         */
} ps_slice_options;
void ps_slice_options_init(ps_slice_options *o);

typedef struct ps_slice_figure {
    int64_t k;               /* slice index shown                                            */
    int64_t fp_vox, fn_vox;  /* error voxels in that slice                                   */
    int width, height;
    uint8_t *rgb;            /* width * height * 3 bytes, row-major from the top (owned)     */
} ps_slice_figure;

/* `image` is any 3D scalar volume (ps_volume_read_float), `ref` / `pred` label maps
 * (ps_volume_read_labels) on its grid (PS_ERR_GEOMETRY otherwise). */
int ps_slice_render(const ps_volume *image, const ps_volume *ref, const ps_volume *pred,
                    const ps_slice_options *o, ps_slice_figure *out);
void ps_slice_figure_clear(ps_slice_figure *fig);

/* The worst cases of `model` in a per-case table: the rows of that model (column "model")
 * whose `metric` is a number (NaN and rows with status error are skipped; +-inf counts),
 * ordered from worst to best (lowest first, or highest first when `higher_is_worse`, as
 * for hd95), ties in table order. Writes up to k row indices to rows and returns their
 * number, or a negative status (unknown column: PS_ERR_ARG; a cell that is not a number:
 * PS_ERR_FORMAT naming file, line and column). */
int ps_report_worst_rows(const ps_table *t, const char *model, const char *metric,
                         int higher_is_worse, int k, int64_t *rows);

/* RFC 4648 base64 of `len` bytes (NUL-terminated, owned by the caller). */
char *ps_base64_encode(const void *data, size_t len);

/* ---- report documents (document.c): one content, three renderers ------------------------- */
/* A document is a list of sections, each holding paragraphs, tables, SVG plots and PNG
 * figures in order. HTML gets everything (one self-contained file: inline CSS and SVG, PNG
 * as data URIs, no script, no network, a table of contents, @media print rules); Markdown
 * and LaTeX (booktabs) get the sections, paragraphs and tables and name the HTML report for
 * the plots and figures. */
typedef struct ps_doc ps_doc;
typedef enum ps_doc_format { PS_DOC_HTML = 0, PS_DOC_MARKDOWN, PS_DOC_LATEX } ps_doc_format;

int ps_doc_create(const char *title, ps_doc **out);
void ps_doc_free(ps_doc *d);
/* An empty title: the Markdown output has no title line. */
/* Start a section; `id` (letters, digits, '-', '_') is its anchor and TOC link. */
int ps_doc_section(ps_doc *d, const char *id, const char *title);
int ps_doc_paragraph(ps_doc *d, const char *text);    /* plain text, escaped per format  */

/* A table column: `header`, and `cell`, a template whose {name} placeholders are replaced
 * by the cell of source column `name` as it is, and {name:D} by that cell read as a number
 * and shown with D decimals (ps_report_fmt); a newline in the template breaks the line in
 * HTML and LaTeX (a stacked cell) and is a space in Markdown. In HTML each number is a
 * <span data-c="name" data-v="CSV text"> so the shown value can be checked against the CSV. */
typedef struct ps_doc_column {
    const char *header;
    const char *cell;
    int numeric;          /* right-aligned                                                   */
} ps_doc_column;
typedef struct ps_doc_table {
    const char *id;       /* table id; rows get the anchor "<id>-<row_key>"                   */
    const char *caption;
    const char *note;     /* printed under the table (the exclusion rule), or NULL            */
    const char *source;   /* file the numbers come from ("by_modality.csv"), or NULL          */
    const char *row_key;  /* template of the row anchor ("{case}-{model}"), or NULL           */
    int ncols;            /* 0: every column of the source table, verbatim                    */
    const ps_doc_column *cols;
    int scroll;           /* long table: a scrolling box on screen (printed in full)          */
} ps_doc_table;
/* Render `t` (a ps_table: the CSV that was written) through `spec`. A placeholder naming no
 * column is PS_ERR_ARG; a {name:D} cell that is not a number is PS_ERR_FORMAT. */
int ps_doc_add_table(ps_doc *d, const ps_doc_table *spec, const ps_table *t);
/* An SVG plot (the text of one <svg> element, copied) with a caption. */
int ps_doc_add_svg(ps_doc *d, const char *svg, const char *caption);
/* A PNG figure (copied) with a caption and an optional link target ("#per_case-c1-modelA"). */
int ps_doc_add_png(ps_doc *d, const void *png, size_t len, int width_px, int height_px,
                   const char *caption, const char *href);
/* The anchor of a row as ps_doc_add_table makes it: "<table_id>-<key>", with every character
 * outside [A-Za-z0-9_-] replaced by '_' (owned by the caller). */
char *ps_doc_anchor(const char *table_id, const char *key);
int ps_doc_write(const ps_doc *d, FILE *f, ps_doc_format fmt);

/* ---- published values (published.c) ------------------------------------------------------- */
/* A TSV with the header "modality metric value sd source" (tab-separated, '#' comment lines
 * before it), one row per modality and metric; sd may be empty (NaN). The shipped table
 * data-manifests/published/pansegnet.tsv holds the PanSegNet paper's values. */
typedef struct ps_published_row {
    char *modality, *metric, *source;
    double value, sd;
} ps_published_row;
typedef struct ps_published {
    int nrows;
    ps_published_row *rows;
} ps_published;
/* Errors name the file, the line and the problem (missing column, value not a number,
 * a duplicate modality/metric pair). */
int ps_published_read(const char *path, ps_published **out);
void ps_published_free(ps_published *p);
/* The shipped PanSegNet table: the installed copy, or the source tree's when panseval runs
 * from its build folder. */
const char *ps_published_default_path(void);
/* The row for modality/metric, or NULL. */
const ps_published_row *ps_published_find(const ps_published *p, const char *modality,
                                          const char *metric);


/* ---- the paper's tables and the report (reproduce.c) ------------------------------------- */
typedef struct ps_reproduce_options {
    const char *baseline;    /* model the others are compared with; NULL: the first model    */
    const char *published;   /* published-values TSV, or NULL for none                        */
    double level;            /* confidence level (0.95)                                       */
    int worst_k;             /* worst cases shown per model (5)                               */
    ps_slice_options slice;  /* the figures (ct and label are set per case)                   */
    /* The file of a case for the figures: which = "image", "ref" or a model name; NULL when
     * there is none. o->path NULL: no figures. */
    const char *(*path)(void *ud, const char *case_id, const char *which);
    void *path_ud;
    const char *title;       /* report title; NULL: "panseval reproduce report"               */
    /* ---- --model NAME=MODEL_DIR: inference before evaluation (ps_reproduce_run only) ---- */
    int ninfer;                      /* models to run; 0: none                               */
    const char *const *infer_names;  /* [ninfer] the pred:NAME column each one fills         */
    const char *const *infer_dirs;   /* [ninfer] nnU-Net v1 model folders                    */
    const int *folds;                /* as ps_predictor_create (nfolds 0: every fold_N)      */
    int nfolds;
    const struct ps_predict_options *predict; /* NULL: ps_predict_options_init's defaults    */
    /* The per-row tables of the multi-rater agreement (ps_agreement_run), or NULL: none.
     * Given, the report writes agreement_*.csv/.json and its "Rater agreement (multi-rater)"
     * section (docs/reproduce.md). */
    const ps_agree_tables *agreement;
    /* ---- long runs (ps_reproduce_run only) ----
     * Each per-case table keeps the journal <dir>/per_case*.csv.journal while it is written
     * (src/eval/ps_eval_dist.h); a complete table removes it. resume = 1: the evaluations
     * already in a journal of the same manifest and settings are not run again, and the table
     * is byte-identical to an uninterrupted run's (a journal of other inputs is refused).
     * stop: nonzero = take no new case (a signal); the run then writes no table and no report,
     * keeps the journals and sets ps_reproduce_summary.interrupted. */
    int resume;
    volatile sig_atomic_t *stop;
    /* MPI ranks (`mpirun -n K panseval reproduce --mpi`); NULL = this process. Every rank
     * calls ps_reproduce_run: the inference of each --model, both per-case tables and the
     * multi-rater agreement are spread over the ranks (ps_eval_infer_run, ps_eval_run_dist,
     * ps_agreement_run_dist), rank 0 writes every file; the reports and the summaries are
     * made by rank 0 alone. The
     * predictions' journals are <dir>/preds/NAME.journal. */
    struct ps_dist *dist;
} ps_reproduce_options;
void ps_reproduce_options_init(ps_reproduce_options *o);

/* From the per-case table of the models (`per_case`, already written as
 * <dir>/per_case.csv) and of the raters (`raters`, NULL or empty: no rater table), write into
 * `dir`: by_modality, by_center, cross_center, compare, volume, raters, published (.csv and
 * .json each) and report.md, report.tex, report.html. Columns: docs/reproduce.md. A case
 * whose image cannot be read loses its figure (the report says why), not the report. */
int ps_reproduce_report(const ps_table *per_case, const ps_table *raters,
                        const ps_reproduce_options *o, const char *dir);

/* `panseval reproduce`: evaluate every pred:MODEL column of the manifest against ref into
 * <dir>/per_case.csv and every rater:NAME[:SESSION] column into per_case_raters.csv (each
 * with its .meta.json provenance; src/eval with the settings `s`), then ps_reproduce_report
 * (o->path is set from the manifest) and summary_<MODEL>.json in nnU-Net v1's layout per
 * model. `dir` is created when missing. Failed cases are status=error rows, counted in
 * summary->failed; they fail nothing else. */
typedef struct ps_reproduce_summary {
    int64_t evaluations;   /* case x model and case x rater evaluations                    */
    int64_t failed;        /* of which status=error                                          */
    int64_t missing;       /* of which status=missing (no file in the manifest cell)         */
    /* --model: cases predicted now, reused from <dir>/preds/NAME, failed (error rows) */
    int64_t predicted, reused, infer_failed;
    int interrupted;       /* 1 = o->stop ended the run: nothing but the journals was kept  */
    int64_t resumed;       /* evaluations taken from the journals (--resume)                */
} ps_reproduce_summary;
struct ps_eval_settings;
/* With o->ninfer models: first, for each NAME, every case that has an image and no file in
 * a pred:NAME cell is segmented (ps_predict_manifest) into <dir>/preds/NAME/CASE.nii.gz, an
 * existing file there being reused; <dir>/manifest_preds.tsv (absolute paths, pred:NAME
 * added or filled) is then the manifest evaluated. A case whose inference fails names its
 * absent prediction and becomes a status=error row of NAME. */
int ps_reproduce_run(const char *manifest, const char *dir, const struct ps_eval_settings *s,
                     const ps_reproduce_options *o, const ps_context *ctx,
                     ps_reproduce_summary *summary);
/* The --help text listing those files, one per line (a pointer: see ps_eval_settings_help). */
extern const char *const ps_reproduce_files_help;
/* Print the per-modality table of <dir>/by_modality.csv (n, statuses, Dice %, HD95, NSD as
 * mean ± SD) as a Markdown table: the short summary of the command. */
int ps_reproduce_print(const char *dir, FILE *f);

#ifdef __cplusplus
}
#endif
#endif /* PS_REPORTS_H */
