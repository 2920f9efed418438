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

#ifdef __cplusplus
}
#endif
#endif /* PS_REPORTS_H */
