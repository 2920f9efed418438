/* summary.c - per-group summary of a per-case table: rows per status and, per metric, the
 * number of values used, the exclusions and the descriptive statistics (stats/descriptive.c:
 * mean, sample SD, type-7 quantiles, t-based CI of the mean). */
#include "ps_reports.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

static const char *const default_by[] = {"model", "modality", "label"};
static const char *const default_metrics[] = {"dice", "hd95", "assd", "nsd", "vol_diff_ml"};

void ps_summary_options_init(ps_summary_options *o)
{
    memset(o, 0, sizeof *o);
    o->by = default_by;
    o->nby = 3;
    o->metrics = default_metrics;
    o->nmetrics = 5;
    o->percent = 1;
    o->level = 0.95;
}

static int is_fraction_metric(const char *name)
{
    return !strncmp(name, "dice", 4) || !strncmp(name, "jaccard", 7) || !strncmp(name, "nsd", 3);
}

static const char *const stat_suffix[] = {"mean", "sd",  "median", "q1",     "q3",
                                          "min",  "max", "ci_low", "ci_high"};
enum { NSTAT = sizeof stat_suffix / sizeof *stat_suffix };

static int add_cols(ps_rtable *data, ps_rtable *disp, const ps_groups *g,
                    const ps_summary_options *o, int geometry)
{
    int rc = ps_groups_add_cols(g, data);
    rc = rc ? rc : ps_groups_add_cols(g, disp);
    rc = rc ? rc : ps_rtable_add_col(data, "n_rows", PS_CELL_INT, 0, 0, 0);
    rc = rc ? rc : ps_rtable_add_col(disp, "rows", PS_CELL_INT, 0, 0, 0);
    char name[512];
    for (int s = 0; s < PS_EVAL_NSTATUS && !rc; s++) {
        const char *st = ps_eval_status_name((ps_eval_status)s);
        snprintf(name, sizeof name, "n_%s", st);
        rc = ps_rtable_add_col(data, name, PS_CELL_INT, 0, 0, 0);
        rc = rc ? rc : ps_rtable_add_col(disp, st, PS_CELL_INT, 0, 0, 0);
    }
    /* issue 12 A9: rows evaluated although their headers disagree are counted, never silent */
    if (geometry && !rc) {
        rc = ps_rtable_add_col(data, "n_geometry_flagged", PS_CELL_INT, 0, 0, 0);
        rc = rc ? rc : ps_rtable_add_col(disp, "geometry_flagged", PS_CELL_INT, 0, 0, 0);
    }
    static const char *const counts[] = {"n", "excluded", "nan", "inf"};
    for (int m = 0; m < o->nmetrics && !rc; m++) {
        const char *mn = o->metrics[m];
        for (int q = 0; q < 4 && !rc; q++) {
            snprintf(name, sizeof name, "%s_%s", mn, counts[q]);
            rc = ps_rtable_add_col(data, name, PS_CELL_INT, 0, 0, 0);
        }
        for (int q = 0; q < NSTAT && !rc; q++) {
            snprintf(name, sizeof name, "%s_%s", mn, stat_suffix[q]);
            rc = ps_rtable_add_col(data, name, PS_CELL_NUM, PS_STYLE_G6, 0, 0);
        }
        if (o->percent && is_fraction_metric(mn))
            snprintf(name, sizeof name, "%s (%%)", mn);
        else
            snprintf(name, sizeof name, "%s", mn);
        rc = rc ? rc : ps_rtable_add_col(disp, name, PS_CELL_STR, 0, 0, PS_COL_RIGHT);
    }
    return rc;
}

/* "mean ± sd" with the values left out, e.g. "88.3 ± 7.2" or "4.10 ± 2.03 [1 nan]". */
static void format_cell(const ps_stats_summary *s, const ps_excl_counts *ex, double scale,
                        char *buf, size_t n)
{
    int digits = scale == 100.0 ? 1 : 2;
    int len;
    if (s->n == 0)
        len = snprintf(buf, n, "-");
    else if (s->n == 1)
        len = snprintf(buf, n, "%.*f", digits, s->mean * scale);
    else
        len = snprintf(buf, n, "%.*f \xc2\xb1 %.*f", digits, s->mean * scale, digits,
                       s->sd * scale);
    if (len < 0 || (size_t)len >= n)
        return;
    int64_t nn = ex->n[PS_EXCL_NAN], ni = ex->n[PS_EXCL_INF];
    if (nn && ni)
        snprintf(buf + len, n - (size_t)len, " [%lld nan, %lld inf]", (long long)nn,
                 (long long)ni);
    else if (nn)
        snprintf(buf + len, n - (size_t)len, " [%lld nan]", (long long)nn);
    else if (ni)
        snprintf(buf + len, n - (size_t)len, " [%lld inf]", (long long)ni);
}

int ps_report_summary(const ps_table *t, const ps_summary_options *o, ps_rtable **out)
{
    *out = NULL;
    if (o->nmetrics < 1)
        return ps_error(PS_ERR_ARG, "summary: no metric column given");
    ps_rowfilter f;
    int rc = ps_rowfilter_init(&f, t, o->model, 0);
    if (rc)
        return rc;
    ps_groups g = {0};
    ps_rtable *data = NULL, *disp = NULL;
    int *mcol = ps_calloc((size_t)o->nmetrics, sizeof *mcol);
    double *x = ps_malloc_array((size_t)t->nrows, sizeof *x);
    double *work = ps_malloc_array((size_t)t->nrows, sizeof *work);
    if (!mcol || !x || !work) {
        rc = PS_ERR_NOMEM;
        goto done;
    }
    int cgeom = ps_table_col(t, "geometry");
    if ((rc = ps_groups_build(t, o->by, o->nby, f.use, &g)))
        goto done;
    for (int m = 0; m < o->nmetrics; m++)
        if ((rc = ps_table_require_col(t, o->metrics[m], &mcol[m])))
            goto done;
    if ((rc = ps_rtable_create(&data)) || (rc = ps_rtable_create(&disp)) ||
        (rc = add_cols(data, disp, &g, o, cgeom >= 0)))
        goto done;

    for (int k = 0; k < g.ngroups; k++) {
        int64_t nrows = 0, nstatus[PS_EVAL_NSTATUS] = {0}, other = 0, ngeom = 0;
        for (int64_t i = g.start[k]; i < g.start[k + 1]; i++) {
            int64_t r = g.rows[i];
            nrows++;
            if (cgeom >= 0 && *t->cells[r][cgeom] && strcmp(t->cells[r][cgeom], "ok"))
                ngeom++;
            const char *st = f.status_col >= 0 ? t->cells[r][f.status_col] : "ok";
            ps_eval_status s;
            if (ps_eval_status_parse(st, &s) == PS_OK)
                nstatus[s]++;
            else
                other++;
        }
        if (other) {
            char label[512];
            ps_rtable_warn(data, "summary %s: %lld row(s) with an unknown status", 
                           ps_groups_label(t, &g, k, label, sizeof label), (long long)other);
        }
        for (int q = 0; q < g.nby && !rc; q++) {
            const char *key = t->cells[g.first[k]][g.col[q]];
            rc = ps_rtable_str(data, key);
            rc = rc ? rc : ps_rtable_str(disp, *key ? key : "-");
        }
        rc = rc ? rc : ps_rtable_int(data, nrows);
        rc = rc ? rc : ps_rtable_int(disp, nrows);
        for (int s = 0; s < PS_EVAL_NSTATUS && !rc; s++) {
            rc = ps_rtable_int(data, nstatus[s]);
            rc = rc ? rc : ps_rtable_int(disp, nstatus[s]);
        }
        if (cgeom >= 0 && !rc) {
            rc = ps_rtable_int(data, ngeom);
            rc = rc ? rc : ps_rtable_int(disp, ngeom);
        }
        for (int m = 0; m < o->nmetrics && !rc; m++) {
            size_t n = 0;
            ps_excl_counts ex = {{0}};
            for (int64_t i = g.start[k]; i < g.start[k + 1]; i++) {
                int64_t r = g.rows[i];
                double v;
                ps_excl why;
                if ((rc = ps_report_classify(&f, r, mcol[m], &v, &why)))
                    goto done;
                if (why == PS_EXCL_NONE)
                    x[n++] = v;
                else
                    ex.n[why]++;
            }
            ps_stats_summary su;
            memset(&su, 0, sizeof su);
            if (n == 0) {
                su.mean = su.sd = su.median = su.q1 = su.q3 = su.iqr = NAN;
                su.min = su.max = su.ci_low = su.ci_high = NAN;
            } else if ((rc = ps_stats_describe(x, n, o->level, work, &su))) {
                goto done;
            }
            const double v[NSTAT] = {su.mean, su.sd,  su.median, su.q1,     su.q3,
                                     su.min,  su.max, su.ci_low, su.ci_high};
            rc = ps_rtable_int(data, (int64_t)n);
            rc = rc ? rc : ps_rtable_int(data, ps_excl_total(&ex));
            rc = rc ? rc : ps_rtable_int(data, ex.n[PS_EXCL_NAN]);
            rc = rc ? rc : ps_rtable_int(data, ex.n[PS_EXCL_INF]);
            for (int q = 0; q < NSTAT && !rc; q++)
                rc = ps_rtable_num(data, v[q]);
            char cell[128];
            format_cell(&su, &ex,
                        o->percent && is_fraction_metric(o->metrics[m]) ? 100.0 : 1.0, cell,
                        sizeof cell);
            rc = rc ? rc : ps_rtable_str(disp, cell);
        }
        if (rc)
            goto done;
    }
    rc = ps_rtable_foot(disp, "Metrics: mean \xc2\xb1 SD over the finite values; [k nan] / [k inf] "
                        "count the values left out");
    rc = rc ? rc : ps_rtable_foot(disp, "(empty masks, see the status columns). Rows with status "
                                  "error or missing enter no metric.");
done:
    free(mcol);
    free(x);
    free(work);
    ps_groups_free(&g);
    ps_rowfilter_free(&f);
    if (rc) {
        ps_rtable_free(data);
        ps_rtable_free(disp);
    } else {
        ps_rtable_set_display(data, disp);
        *out = data;
    }
    return rc;
}
