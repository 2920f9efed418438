/* ps_reports.h - group a per-case table and summarise its metrics.
 *
 * Input is the per-case table of `panseval metrics` (columns case, model, modality, center,
 * label, status, <metrics>, message), read with ps_table_read(). Rows are grouped by the
 * values of the chosen key columns, in order of first appearance, so the output order follows
 * the input order.
 *
 * Empty masks and failed cases are never dropped silently: each group reports how many rows
 * it has of every status (ok, pred_empty, ref_empty, both_empty, error), and each metric
 * reports how many finite values entered its statistics. A value that is NaN or empty (for
 * example HD95 of a case with an empty prediction under --empty nan) is counted in n_missing,
 * an infinite one (--empty inf) in n_inf; neither enters the mean, and both counts are
 * printed beside it.
 *
 * Thread safety: a ps_report is built by one thread; reading it from several is safe.
 */
#ifndef PS_REPORTS_H
#define PS_REPORTS_H

#include <stdint.h>
#include <stdio.h>

#include "ps_core.h"
#include "ps_io.h"
#include "ps_stats.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Statuses counted per group, in column order. */
#define PS_REPORT_NSTATUS 5
extern const char *const ps_report_status_names[PS_REPORT_NSTATUS];

typedef struct ps_report_group {
    char **keys;                       /* values of the key columns                        */
    int64_t nrows;
    int64_t status_count[PS_REPORT_NSTATUS];
    int64_t other_status;              /* rows whose status is none of the above           */
    ps_stats_summary *metric;          /* per metric; n = number of finite values used     */
    int64_t *n_missing;                /* per metric: NaN or empty cells left out          */
    int64_t *n_inf;                    /* per metric: +-inf cells left out                 */
} ps_report_group;

typedef struct ps_report {
    int nkeys;
    char **key_names;
    int nmetrics;
    char **metric_names;
    int ngroups;
    ps_report_group *groups;
    double level;                      /* CI level of the means (0.95)                     */
} ps_report;

/* Summarise `metrics` of `t` grouped by the `by` columns (nby may be 0: one group).
 * Rows whose status column is "error" count in status_count but not in the metrics.
 * Unknown column names are PS_ERR_ARG naming the column and the columns there are; a cell
 * that is neither a number, nan/inf nor empty is PS_ERR_FORMAT naming file, line and column. */
int ps_report_summarize(const ps_table *t, const char *const *by, int nby,
                        const char *const *metrics, int nmetrics, ps_report **out);
void ps_report_free(ps_report *r);

typedef enum ps_report_format {
    PS_REPORT_TEXT = 0, /* aligned columns for a terminal: "mean ± sd" per metric            */
    PS_REPORT_MARKDOWN, /* a Markdown table, same content                                    */
    PS_REPORT_CSV,      /* one numeric column per statistic: <metric>_n, _mean, _sd, ...     */
    PS_REPORT_TSV,
    PS_REPORT_JSON,
} ps_report_format;
int ps_report_format_parse(const char *s, ps_report_format *out);

/* Write the report. In text and Markdown, metrics whose name starts with "dice", "jaccard"
 * or "nsd" are shown in percent when `percent` is set (as the PanSegNet paper does). */
int ps_report_write(const ps_report *r, FILE *f, ps_report_format fmt, int percent);


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
 * and the identity line y = x when `identity` is set. Non-finite pairs are left out. */
typedef struct ps_plot_scatter {
    const char *title, *x_label, *y_label;
    int nseries;
    const char *const *series_names;
    const double *const *x, *const *y;
    const size_t *n;
    int identity;
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
/* The row for modality/metric, or NULL. */
const ps_published_row *ps_published_find(const ps_published *p, const char *modality,
                                          const char *metric);

#ifdef __cplusplus
}
#endif
#endif /* PS_REPORTS_H */
