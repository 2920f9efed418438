/* volume.c - agreement of predicted with reference volumes per group: OLS, R^2 (of the fit and
 * against the identity line), Pearson and Spearman correlation, Bland-Altman bias and limits of
 * agreement with CIs (formulas: stats/regression.c, stats/bland_altman.c). */
#include "ps_reports.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

void ps_volume_options_init(ps_volume_options *o)
{
    memset(o, 0, sizeof *o);
    o->ref_col = "vol_ref_ml";
    o->pred_col = "vol_pred_ml";
    o->level = 0.95;
}

typedef struct {
    int grp;
    const char *id;
    int64_t row;
} case_key;

static int cmp_case_key(const void *pa, const void *pb)
{
    const case_key *a = pa, *b = pb;
    if (a->grp != b->grp)
        return a->grp < b->grp ? -1 : 1;
    int c = strcmp(a->id, b->id);
    return c ? c : (a->row > b->row) - (a->row < b->row);
}

static const char *const stat_cols[] = {
    "slope", "intercept", "slope_se", "intercept_se", "slope_p", "intercept_p", "r2",
    "r2_identity", "pearson_r", "pearson_p", "pearson_ci_low", "pearson_ci_high",
    "spearman_rho", "spearman_p", "ba_bias", "ba_sd", "ba_loa_low", "ba_loa_high",
    "ba_bias_ci_low", "ba_bias_ci_high", "ba_loa_low_ci_low", "ba_loa_low_ci_high",
    "ba_loa_high_ci_low", "ba_loa_high_ci_high"};
enum { NSTAT = sizeof stat_cols / sizeof *stat_cols };

/* A case must not appear twice in a group (several models or labels mixed). */
static int check_unique(const ps_table *t, const ps_groups *g, const char *name)
{
    int ccase = ps_table_col(t, "case");
    if (ccase < 0)
        return PS_OK;
    case_key *keys = ps_malloc_array((size_t)t->nrows, sizeof *keys);
    if (!keys)
        return PS_ERR_NOMEM;
    size_t m = 0;
    for (int64_t r = 0; r < t->nrows; r++)
        if (g->of_row[r] >= 0)
            keys[m++] = (case_key){g->of_row[r], t->cells[r][ccase], r};
    qsort(keys, m, sizeof *keys, cmp_case_key);
    int rc = PS_OK;
    char label[512];
    for (size_t i = 1; i < m && !rc; i++)
        if (keys[i].grp == keys[i - 1].grp && !strcmp(keys[i].id, keys[i - 1].id))
            rc = ps_error(PS_ERR_ARG,
                          "%s lines %lld and %lld: case '%s' appears twice in group %s; select "
                          "one model with --model, or add model/label to --by",
                          name, (long long)t->line[keys[i - 1].row],
                          (long long)t->line[keys[i].row], keys[i].id,
                          ps_groups_label(t, g, keys[i].grp, label, sizeof label));
    free(keys);
    return rc;
}

int ps_report_volume(const ps_table *t, const ps_volume_options *o, ps_rtable **out)
{
    *out = NULL;
    ps_rowfilter f;
    int rc = ps_rowfilter_init(&f, t, o->model, o->ok_only);
    if (rc)
        return rc;
    ps_groups g = {0};
    ps_rtable *rt = NULL;
    double *x = ps_malloc_array((size_t)t->nrows, sizeof *x);
    double *y = ps_malloc_array((size_t)t->nrows, sizeof *y);
    char label[512], why[256];
    int cref, cpred;
    if (!x || !y) {
        rc = PS_ERR_NOMEM;
        goto done;
    }
    if ((rc = ps_table_require_col(t, o->ref_col, &cref)) ||
        (rc = ps_table_require_col(t, o->pred_col, &cpred)) ||
        (rc = ps_groups_build(t, o->by, o->nby, f.use, &g)) ||
        (rc = check_unique(t, &g, f.name)) || (rc = ps_rtable_create(&rt)) ||
        (rc = ps_groups_add_cols(&g, rt)) ||
        (rc = ps_rtable_add_col(rt, "n", PS_CELL_INT, 0, 0, 0)) ||
        (rc = ps_rtable_add_col(rt, "n_excluded", PS_CELL_INT, 0, 0, 0)))
        goto done;
    for (int q = 0; q < NSTAT; q++)
        if ((rc = ps_rtable_add_col(rt, stat_cols[q], PS_CELL_NUM, PS_STYLE_G6, 0, 0)))
            goto done;
    if ((rc = ps_excl_add_cols(rt, 0)))
        goto done;

    for (int k = 0; k < g.ngroups; k++) {
        size_t n = 0;
        ps_excl_counts ex = {{0}};
        for (int64_t i = g.start[k]; i < g.start[k + 1]; i++) {
            int64_t r = g.rows[i];
            double xv, yv;
            ps_excl ex_ref, ex_pred;
            if ((rc = ps_report_classify(&f, r, cref, &xv, &ex_ref)) ||
                (rc = ps_report_classify(&f, r, cpred, &yv, &ex_pred)))
                goto done;
            if (ex_ref != PS_EXCL_NONE || ex_pred != PS_EXCL_NONE) {
                ex.n[ex_ref != PS_EXCL_NONE ? ex_ref : ex_pred]++;
                continue;
            }
            x[n] = xv;
            y[n] = yv;
            n++;
        }
        ps_groups_label(t, &g, k, label, sizeof label);
        int64_t nex = ps_excl_total(&ex);
        if (nex)
            ps_rtable_warn(rt, "volume %s: %lld row(s) left out (%s)", label, (long long)nex,
                           ps_excl_describe(&ex, why, sizeof why));
        ps_regression reg = {0};
        ps_correlation cor = {0};
        ps_bland_altman ba = {0};
        int bad = 0;
        if (ps_stats_regression(x, y, n, &reg) || ps_stats_correlation(x, y, n, o->level, &cor) ||
            ps_stats_bland_altman(x, y, n, o->level, &ba)) {
            ps_rtable_error(rt, "%s, columns '%s' and '%s': %s", label, o->ref_col, o->pred_col,
                            ps_error_message());
            bad = 1;
        } else if (n < 4) {
            ps_rtable_warn(rt, "volume %s: n = %zu < 4, no Fisher-z CI of r", label, n);
        }
        if ((rc = ps_groups_cells(t, &g, k, rt)) || (rc = ps_rtable_int(rt, (int64_t)n)) ||
            (rc = ps_rtable_int(rt, nex)))
            goto done;
        const double v[NSTAT] = {
            reg.slope, reg.intercept, reg.slope_se, reg.intercept_se, reg.slope_p,
            reg.intercept_p, reg.r2, reg.r2_identity, cor.r, cor.p, cor.ci_low, cor.ci_high,
            cor.rho, cor.rho_p, ba.bias, ba.sd, ba.loa_low, ba.loa_high, ba.bias_ci_low,
            ba.bias_ci_high, ba.loa_low_ci_low, ba.loa_low_ci_high, ba.loa_high_ci_low,
            ba.loa_high_ci_high};
        for (int q = 0; q < NSTAT; q++)
            if ((rc = ps_rtable_num(rt, bad ? NAN : v[q])))
                goto done;
        if ((rc = ps_excl_cells(rt, &ex, 0)))
            goto done;
    }
done:
    free(x);
    free(y);
    ps_groups_free(&g);
    ps_rowfilter_free(&f);
    if (rc)
        ps_rtable_free(rt);
    else
        *out = rt;
    return rc;
}
