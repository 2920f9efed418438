/* describe.c - descriptive statistics of metric columns per group, with the t-based CI of the
 * mean and optional bootstrap CIs (formulas: stats/descriptive.c, stats/bootstrap.c). */
#include "ps_reports.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

void ps_describe_options_init(ps_describe_options *o)
{
    memset(o, 0, sizeof *o);
    o->level = 0.95;
    o->boot_stat = PS_BOOT_MEAN;
    o->seed = 1;
}

static int add_cols(ps_rtable *rt, const ps_groups *g, int boot)
{
    static const char *const base[] = {"mean", "sd",  "median", "q1",     "q3",
                                       "iqr",  "min", "max",    "ci_low", "ci_high"};
    static const char *const bnum[] = {"boot_pct_low", "boot_pct_high", "boot_bca_low",
                                       "boot_bca_high"};
    int rc = ps_groups_add_cols(g, rt);
    rc = rc ? rc : ps_rtable_add_col(rt, "metric", PS_CELL_STR, 0, 0, 0);
    rc = rc ? rc : ps_rtable_add_col(rt, "n", PS_CELL_INT, 0, 0, 0);
    rc = rc ? rc : ps_rtable_add_col(rt, "n_excluded", PS_CELL_INT, 0, 0, 0);
    for (size_t k = 0; k < sizeof base / sizeof *base && !rc; k++)
        rc = ps_rtable_add_col(rt, base[k], PS_CELL_NUM, PS_STYLE_G6, 0, 0);
    if (boot) {
        rc = rc ? rc : ps_rtable_add_col(rt, "boot_replicates", PS_CELL_INT, 0, 0, 0);
        rc = rc ? rc : ps_rtable_add_col(rt, "boot_stat", PS_CELL_STR, 0, 0, 0);
        for (size_t k = 0; k < sizeof bnum / sizeof *bnum && !rc; k++)
            rc = ps_rtable_add_col(rt, bnum[k], PS_CELL_NUM, PS_STYLE_G6, 0, 0);
    }
    return rc ? rc : ps_excl_add_cols(rt, 0);
}

int ps_report_describe(const ps_table *t, const ps_describe_options *o, ps_rtable **out)
{
    *out = NULL;
    if (o->nmetrics < 1)
        return ps_error(PS_ERR_ARG, "describe: no metric column given");
    ps_rowfilter f;
    int rc = ps_rowfilter_init(&f, t, o->model, o->ok_only);
    if (rc)
        return rc;
    ps_groups g = {0};
    ps_rtable *rt = NULL;
    int *mcol = ps_calloc((size_t)o->nmetrics, sizeof *mcol);
    double *x = ps_malloc_array((size_t)t->nrows, sizeof *x);
    char label[512], why[256];
    if (!mcol || !x) {
        rc = PS_ERR_NOMEM;
        goto done;
    }
    for (int m = 0; m < o->nmetrics; m++)
        if ((rc = ps_table_require_col(t, o->metrics[m], &mcol[m])))
            goto done;
    if ((rc = ps_groups_build(t, o->by, o->nby, f.use, &g)) || (rc = ps_rtable_create(&rt)) ||
        (rc = add_cols(rt, &g, o->bootstrap > 0)))
        goto done;

    int cmodel = ps_table_col(t, "model");
    for (int k = 0; k < g.ngroups; k++) {
        ps_groups_label(t, &g, k, label, sizeof label);
        /* Rows of several models in one group are pooled as one sample: say so, since a
         * per-case table of two models gives one mean of both without this. */
        for (int64_t i = g.start[k] + 1; cmodel >= 0 && i < g.start[k + 1]; i++) {
            const char *m0 = t->cells[g.rows[g.start[k]]][cmodel];
            const char *mi = t->cells[g.rows[i]][cmodel];
            if (strcmp(m0, mi)) {
                ps_rtable_warn(rt, "describe %s: the rows of several models are pooled ('%s', "
                               "'%s', ...); add --by model, or choose one with --model", label,
                               m0, mi);
                break;
            }
        }
        for (int m = 0; m < o->nmetrics; m++) {
            const char *mname = o->metrics[m];
            size_t n = 0;
            ps_excl_counts ex = {{0}};
            for (int64_t i = g.start[k]; i < g.start[k + 1]; i++) {
                int64_t r = g.rows[i];
                double v;
                ps_excl why_r;
                if ((rc = ps_report_classify(&f, r, mcol[m], &v, &why_r)))
                    goto done;
                if (why_r == PS_EXCL_NONE)
                    x[n++] = v;
                else
                    ex.n[why_r]++;
            }
            int64_t nex = ps_excl_total(&ex);
            if (nex)
                ps_rtable_warn(rt, "describe %s, %s: %lld row(s) left out (%s)", label, mname,
                               (long long)nex, ps_excl_describe(&ex, why, sizeof why));
            ps_stats_summary s = {0};
            int bad = 0;
            if (n == 0) {
                ps_rtable_error(rt, "%s, column '%s': no values left", label, mname);
                bad = 1;
            } else if ((rc = ps_stats_describe(x, n, o->level, NULL, &s))) {
                goto done;
            } else if (n == 1) {
                ps_rtable_warn(rt, "describe %s, %s: one value: sd and CI are undefined (nan)",
                               label, mname);
            }
            if ((rc = ps_groups_cells(t, &g, k, rt)) || (rc = ps_rtable_str(rt, mname)) ||
                (rc = ps_rtable_int(rt, (int64_t)n)) || (rc = ps_rtable_int(rt, nex)))
                goto done;
            double v[] = {s.mean, s.sd, s.median, s.q1, s.q3, s.iqr, s.min, s.max, s.ci_low,
                          s.ci_high};
            for (size_t q = 0; q < sizeof v / sizeof *v; q++)
                if ((rc = ps_rtable_num(rt, bad ? NAN : v[q])))
                    goto done;
            if (o->bootstrap > 0) {
                ps_boot_ci bc = {0};
                int bok = !bad && n >= 2;
                if (bok && (rc = ps_stats_bootstrap(x, n, o->boot_stat, o->bootstrap, o->level,
                                                    o->seed, o->threads, &bc)))
                    goto done;
                if (!bad && n < 2)
                    ps_rtable_warn(rt, "describe %s, %s: bootstrap needs 2 values", label, mname);
                else if (bok && isnan(bc.bca_low))
                    ps_rtable_warn(rt, "describe %s, %s: constant values, BCa interval "
                                   "undefined (nan)", label, mname);
                if ((rc = ps_rtable_int(rt, o->bootstrap)) ||
                    (rc = ps_rtable_str(rt, o->boot_stat == PS_BOOT_MEAN ? "mean" : "median")))
                    goto done;
                double bv[] = {bc.pct_low, bc.pct_high, bc.bca_low, bc.bca_high};
                for (size_t q = 0; q < sizeof bv / sizeof *bv; q++)
                    if ((rc = ps_rtable_num(rt, bok ? bv[q] : NAN)))
                        goto done;
            }
            if ((rc = ps_excl_cells(rt, &ex, 0)))
                goto done;
        }
    }
done:
    free(mcol);
    free(x);
    ps_groups_free(&g);
    ps_rowfilter_free(&f);
    if (rc)
        ps_rtable_free(rt);
    else
        *out = rt;
    return rc;
}
