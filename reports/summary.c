/* summary.c - grouping of a per-case table and per-group metric summaries. */
#include "ps_reports.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

const char *const ps_report_status_names[PS_REPORT_NSTATUS] = {
    "ok", "pred_empty", "ref_empty", "both_empty", "error",
};

static void free_strings(char **s, int n)
{
    if (!s)
        return;
    for (int i = 0; i < n; i++)
        free(s[i]);
    free(s);
}

void ps_report_free(ps_report *r)
{
    if (!r)
        return;
    for (int g = 0; g < r->ngroups; g++) {
        free_strings(r->groups[g].keys, r->nkeys);
        free(r->groups[g].metric);
        free(r->groups[g].n_missing);
        free(r->groups[g].n_inf);
    }
    free(r->groups);
    free_strings(r->key_names, r->nkeys);
    free_strings(r->metric_names, r->nmetrics);
    free(r);
}

static char **copy_strings(const char *const *s, int n)
{
    char **out = ps_calloc(n ? (size_t)n : 1, sizeof *out);
    if (!out)
        return NULL;
    for (int i = 0; i < n; i++) {
        if (!(out[i] = ps_strdup(s[i]))) {
            free_strings(out, i);
            return NULL;
        }
    }
    return out;
}

/* Parse a metric cell: a number, nan/inf, or empty (counted as missing). */
static int cell_value(const ps_table *t, int64_t r, int c, double *v, int *missing)
{
    const char *s = t->cells[r][c];
    *missing = 0;
    if (!*s) {
        *missing = 1;
        return PS_OK;
    }
    return ps_table_get_double(t, r, c, v);
}

int ps_report_summarize(const ps_table *t, const char *const *by, int nby,
                        const char *const *metrics, int nmetrics, ps_report **out)
{
    *out = NULL;
    int rc = PS_OK;
    int *key_col = ps_calloc((size_t)nby + 1, sizeof *key_col);
    int *met_col = ps_calloc((size_t)nmetrics + 1, sizeof *met_col);
    int64_t *group_of = ps_calloc((size_t)t->nrows + 1, sizeof *group_of);
    double *vals = ps_calloc((size_t)t->nrows + 1, sizeof *vals);
    double *work = ps_calloc((size_t)t->nrows + 1, sizeof *work);
    ps_report *r = ps_calloc(1, sizeof *r);
    if (!key_col || !met_col || !group_of || !vals || !work || !r) {
        rc = PS_ERR_NOMEM;
        goto fail;
    }
    for (int k = 0; k < nby; k++)
        if ((rc = ps_table_require_col(t, by[k], &key_col[k])))
            goto fail;
    for (int m = 0; m < nmetrics; m++)
        if ((rc = ps_table_require_col(t, metrics[m], &met_col[m])))
            goto fail;
    int status_col = ps_table_col(t, "status");

    r->nkeys = nby;
    r->nmetrics = nmetrics;
    r->level = 0.95;
    if (!(r->key_names = copy_strings(by, nby)) ||
        !(r->metric_names = copy_strings(metrics, nmetrics))) {
        rc = PS_ERR_NOMEM;
        goto fail;
    }

    /* Groups in order of first appearance. A linear search over the groups found so far is
     * fine: reports have tens of groups, not thousands. */
    r->groups = ps_calloc((size_t)t->nrows + 1, sizeof *r->groups);
    if (!r->groups) {
        rc = PS_ERR_NOMEM;
        goto fail;
    }
    for (int64_t row = 0; row < t->nrows; row++) {
        int g;
        for (g = 0; g < r->ngroups; g++) {
            int same = 1;
            for (int k = 0; k < nby && same; k++)
                same = !strcmp(r->groups[g].keys[k], t->cells[row][key_col[k]]);
            if (same)
                break;
        }
        if (g == r->ngroups) {
            ps_report_group *gr = &r->groups[r->ngroups];
            gr->keys = ps_calloc(nby ? (size_t)nby : 1, sizeof *gr->keys);
            gr->metric = ps_calloc(nmetrics ? (size_t)nmetrics : 1, sizeof *gr->metric);
            gr->n_missing = ps_calloc(nmetrics ? (size_t)nmetrics : 1, sizeof *gr->n_missing);
            gr->n_inf = ps_calloc(nmetrics ? (size_t)nmetrics : 1, sizeof *gr->n_inf);
            r->ngroups++;
            if (!gr->keys || !gr->metric || !gr->n_missing || !gr->n_inf) {
                rc = PS_ERR_NOMEM;
                goto fail;
            }
            for (int k = 0; k < nby; k++)
                if (!(gr->keys[k] = ps_strdup(t->cells[row][key_col[k]]))) {
                    rc = PS_ERR_NOMEM;
                    goto fail;
                }
        }
        group_of[row] = g;
        ps_report_group *gr = &r->groups[g];
        gr->nrows++;
        const char *st = status_col >= 0 ? t->cells[row][status_col] : "ok";
        int s;
        for (s = 0; s < PS_REPORT_NSTATUS; s++)
            if (!strcmp(st, ps_report_status_names[s]))
                break;
        if (s < PS_REPORT_NSTATUS)
            gr->status_count[s]++;
        else
            gr->other_status++;
    }

    /* Per group and metric: the finite values of rows that did not fail. */
    for (int g = 0; g < r->ngroups; g++) {
        ps_report_group *gr = &r->groups[g];
        for (int m = 0; m < nmetrics; m++) {
            size_t n = 0;
            for (int64_t row = 0; row < t->nrows; row++) {
                if (group_of[row] != g)
                    continue;
                if (status_col >= 0 && !strcmp(t->cells[row][status_col], "error"))
                    continue;
                double v;
                int missing;
                if ((rc = cell_value(t, row, met_col[m], &v, &missing)))
                    goto fail;
                if (missing || isnan(v))
                    gr->n_missing[m]++;
                else if (isinf(v))
                    gr->n_inf[m]++;
                else
                    vals[n++] = v;
            }
            ps_stats_summary *su = &gr->metric[m];
            if (n == 0) {
                memset(su, 0, sizeof *su);
                su->mean = su->sd = su->median = su->q1 = su->q3 = su->iqr = NAN;
                su->min = su->max = su->ci_low = su->ci_high = NAN;
                su->level = r->level;
                continue;
            }
            if ((rc = ps_stats_describe(vals, n, r->level, work, su)))
                goto fail;
        }
    }
    free(key_col);
    free(met_col);
    free(group_of);
    free(vals);
    free(work);
    *out = r;
    return PS_OK;
fail:
    free(key_col);
    free(met_col);
    free(group_of);
    free(vals);
    free(work);
    ps_report_free(r);
    return rc;
}
