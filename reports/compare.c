/* compare.c - paired comparison of two models on one or more metrics, per group: paired
 * t-test (R t.test(paired = TRUE)), Wilcoxon signed-rank test (R wilcox.test or
 * scipy.stats.wilcoxon conventions), Cohen's d_z = mean(d) / sd(d), and p-values corrected
 * across every (group, metric) row together (R p.adjust). Formulas: stats/paired.c,
 * stats/wilcoxon.c, stats/padjust.c; conventions: docs/stats.md. */
#include "ps_reports.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

void ps_compare_options_init(ps_compare_options *o)
{
    memset(o, 0, sizeof *o);
    o->level = 0.95;
    o->alternative = PS_ALT_TWO_SIDED;
    o->correction = PS_PADJUST_HOLM;
    ps_wilcoxon_options_r(&o->wilcoxon);
}

int ps_compare_wilcoxon_options(const char *convention, const char *zero, const char *method,
                                const char *continuity, ps_wilcoxon_options *wo)
{
    if (!convention || !strcmp(convention, "r"))
        ps_wilcoxon_options_r(wo);
    else if (!strcmp(convention, "scipy"))
        ps_wilcoxon_options_scipy(wo);
    else
        return ps_error(PS_ERR_ARG, "--wilcoxon-convention must be r or scipy, got '%s'",
                        convention);
    if (zero && !strcmp(zero, "wilcox"))
        wo->zero = PS_WILCOXON_ZERO_WILCOX;
    else if (zero && !strcmp(zero, "pratt"))
        wo->zero = PS_WILCOXON_ZERO_PRATT;
    else if (zero && !strcmp(zero, "zsplit"))
        wo->zero = PS_WILCOXON_ZERO_ZSPLIT;
    else if (zero)
        return ps_error(PS_ERR_ARG, "--wilcoxon-zero must be wilcox, pratt or zsplit, got '%s'",
                        zero);
    if (method && !strcmp(method, "exact"))
        wo->method = PS_WILCOXON_EXACT;
    else if (method && !strcmp(method, "approx"))
        wo->method = PS_WILCOXON_APPROX;
    else if (method && strcmp(method, "auto"))
        return ps_error(PS_ERR_ARG, "--wilcoxon-method must be auto, exact or approx, got '%s'",
                        method);
    if (continuity && strcmp(continuity, "yes") && strcmp(continuity, "no"))
        return ps_error(PS_ERR_ARG, "--continuity must be yes or no, got '%s'", continuity);
    if (continuity)
        wo->correction = !strcmp(continuity, "yes");
    return PS_OK;
}

/* One case of one model. */
typedef struct {
    const char *key_case, *key_label;
    int64_t row;
} entry;

static int cmp_entry(const void *pa, const void *pb)
{
    const entry *a = pa, *b = pb;
    int c = strcmp(a->key_case, b->key_case);
    return c ? c : strcmp(a->key_label, b->key_label);
}

/* Per group: the pairs (row of A, row of B) and the unpaired cases. */
typedef struct {
    int64_t *ra, *rb;
    size_t npairs;
    int64_t only_a, only_b;
    char first_unpaired[160];
} group_pairs;

static double pick(ps_alternative alt, double two, double greater, double less)
{
    return alt == PS_ALT_TWO_SIDED ? two : alt == PS_ALT_GREATER ? greater : less;
}

static const char *const stat_cols[] = {"mean_a", "mean_b", "mean_diff", "sd_diff", "t", "df",
                                        "p_t", "ci_low", "ci_high", "dz", "wilcoxon_v",
                                        "p_wilcoxon"};
enum { NSTAT = sizeof stat_cols / sizeof *stat_cols };

/* The rows of one model sorted by (case, label); a case twice is an error. */
static int collect(const ps_table *t, const char *name, int cmodel, int ccase, int clabel,
                   const char *model, entry *e, size_t *n, unsigned char *use)
{
    *n = 0;
    for (int64_t r = 0; r < t->nrows; r++)
        if (!strcmp(t->cells[r][cmodel], model)) {
            use[r] = 1;
            e[(*n)++] = (entry){t->cells[r][ccase], clabel >= 0 ? t->cells[r][clabel] : "", r};
        }
    if (*n == 0)
        return ps_error(PS_ERR_ARG, "%s: no rows with model '%s' (column 'model')", name, model);
    qsort(e, *n, sizeof *e, cmp_entry);
    for (size_t i = 1; i < *n; i++)
        if (!cmp_entry(&e[i - 1], &e[i]))
            return ps_error(PS_ERR_FORMAT,
                            "%s lines %lld and %lld: case '%s'%s%s appears twice for model '%s'",
                            name, (long long)t->line[e[i - 1].row], (long long)t->line[e[i].row],
                            e[i].key_case, clabel >= 0 ? " label " : "", e[i].key_label, model);
    return PS_OK;
}

/* Pair the two sorted lists into the groups: with fill 0 count the pairs and the unpaired
 * cases of each group, with fill 1 store the pairs (arrays sized by the first pass). */
static int pair_rows(const ps_table *t, const char *name, const ps_compare_options *o,
                     const entry *ea, size_t na, const entry *eb, size_t nb, const ps_groups *g,
                     int ccase, group_pairs *gp, int fill)
{
    size_t i = 0, j = 0;
    while (i < na || j < nb) {
        int d = i == na ? 1 : j == nb ? -1 : cmp_entry(&ea[i], &eb[j]);
        if (d != 0) {
            const entry *e = d < 0 ? &ea[i++] : &eb[j++];
            group_pairs *G = &gp[g->of_row[e->row]];
            if (fill)
                continue;
            if (d < 0)
                G->only_a++;
            else
                G->only_b++;
            if (!G->first_unpaired[0])
                snprintf(G->first_unpaired, sizeof G->first_unpaired, "%s (line %lld)",
                         e->key_case, (long long)t->line[e->row]);
            continue;
        }
        int64_t ra = ea[i++].row, rb = eb[j++].row;
        if (g->of_row[ra] != g->of_row[rb]) {
            int k = 0;
            while (k < g->nby && !strcmp(t->cells[ra][g->col[k]], t->cells[rb][g->col[k]]))
                k++;
            return ps_error(PS_ERR_FORMAT,
                            "%s: case '%s' has %s '%s' for model '%s' (line %lld) but '%s' for "
                            "model '%s' (line %lld)", name, t->cells[ra][ccase], g->by[k],
                            t->cells[ra][g->col[k]], o->model_a, (long long)t->line[ra],
                            t->cells[rb][g->col[k]], o->model_b, (long long)t->line[rb]);
        }
        group_pairs *G = &gp[g->of_row[ra]];
        if (fill) {
            G->ra[G->npairs] = ra;
            G->rb[G->npairs] = rb;
        }
        G->npairs++;
    }
    return PS_OK;
}

static int add_cols(ps_rtable *rt, const ps_groups *g)
{
    int rc = ps_groups_add_cols(g, rt);
    static const char *const str_cols[] = {"metric", "model_a", "model_b"};
    for (int q = 0; q < 3 && !rc; q++)
        rc = ps_rtable_add_col(rt, str_cols[q], PS_CELL_STR, 0, 0, 0);
    rc = rc ? rc : ps_rtable_add_col(rt, "n", PS_CELL_INT, 0, 0, 0);
    rc = rc ? rc : ps_rtable_add_col(rt, "n_excluded", PS_CELL_INT, 0, 0, 0);
    for (int q = 0; q < NSTAT && !rc; q++)
        rc = ps_rtable_add_col(rt, stat_cols[q], PS_CELL_NUM, PS_STYLE_G6, 0, 0);
    rc = rc ? rc : ps_rtable_add_col(rt, "wilcoxon_exact", PS_CELL_INT, 0, 0, 0);
    rc = rc ? rc : ps_rtable_add_col(rt, "p_t_adj", PS_CELL_NUM, PS_STYLE_G6, 0, 0);
    rc = rc ? rc : ps_rtable_add_col(rt, "p_wilcoxon_adj", PS_CELL_NUM, PS_STYLE_G6, 0, 0);
    return rc ? rc : ps_excl_add_cols(rt, 1);
}

/* The result of one (group, metric) row before the correction. */
typedef struct {
    int64_t n;
    ps_excl_counts ex;
    double v[NSTAT];
    int ok, exact;
} row_result;

static int test_row(const ps_rowfilter *f, const ps_compare_options *o, const group_pairs *G,
                    int col, const char *label, const char *metric, double *a, double *b,
                    ps_rtable *rt, row_result *res)
{
    int rc;
    size_t n = 0;
    res->ex.n[PS_EXCL_UNPAIRED] = G->only_a + G->only_b;
    for (size_t p = 0; p < G->npairs; p++) {
        double va, vb;
        ps_excl xa, xb;
        if ((rc = ps_report_classify(f, G->ra[p], col, &va, &xa)) ||
            (rc = ps_report_classify(f, G->rb[p], col, &vb, &xb)))
            return rc;
        if (xa != PS_EXCL_NONE || xb != PS_EXCL_NONE) {
            res->ex.n[xa != PS_EXCL_NONE ? xa : xb]++;
            continue;
        }
        a[n] = va;
        b[n] = vb;
        n++;
    }
    res->n = (int64_t)n;
    int64_t nex = ps_excl_total(&res->ex);
    if (nex) {
        char why[256];
        ps_excl_describe(&res->ex, why, sizeof why);
        if (G->only_a + G->only_b)
            ps_rtable_warn(rt, "compare %s, %s: %lld case(s) left out (%s; %lld only in model "
                           "A, %lld only in model B; first unpaired: %s)", label, metric,
                           (long long)nex, why, (long long)G->only_a, (long long)G->only_b,
                           G->first_unpaired);
        else
            ps_rtable_warn(rt, "compare %s, %s: %lld case(s) left out (%s)", label, metric,
                           (long long)nex, why);
    }
    for (int q = 0; q < NSTAT; q++)
        res->v[q] = NAN;
    if (n > 0) {
        ps_stats_summary sa, sb;
        if ((rc = ps_stats_describe(a, n, 0.95, NULL, &sa)) ||
            (rc = ps_stats_describe(b, n, 0.95, NULL, &sb)))
            return rc;
        res->v[0] = sa.mean;
        res->v[1] = sb.mean;
    }
    /* The two tests are independent: one that is undefined (the t-test when every difference
     * is equal, Wilcoxon when none is non-zero) leaves only its own cells NaN. */
    ps_ttest_paired T;
    ps_wilcoxon W;
    if (ps_stats_ttest_paired(a, b, n, o->level, &T)) {
        if ((rc = ps_rtable_error(rt, "%s, column '%s': %s", label, metric, ps_error_message())))
            return rc;
    } else {
        const double v[8] = {T.mean_diff, T.sd_diff, T.t, T.df,
                             pick(o->alternative, T.p_two_sided, T.p_greater, T.p_less),
                             T.ci_low, T.ci_high, T.dz};
        memcpy(res->v + 2, v, sizeof v);
    }
    if (ps_stats_wilcoxon(a, b, n, &o->wilcoxon, &W)) {
        if ((rc = ps_rtable_error(rt, "%s, column '%s': %s", label, metric, ps_error_message())))
            return rc;
    } else {
        res->v[10] = W.v;
        res->v[11] = pick(o->alternative, W.p_two_sided, W.p_greater, W.p_less);
        res->ok = 1;
        res->exact = W.exact;
    }
    return PS_OK;
}

int ps_report_compare(const ps_table *t, const ps_compare_options *o, ps_rtable **out)
{
    *out = NULL;
    if (o->nmetrics < 1 || !o->model_a || !o->model_b)
        return ps_error(PS_ERR_ARG, "compare: a metric and two models are required");
    if (!strcmp(o->model_a, o->model_b))
        return ps_error(PS_ERR_ARG, "compare: model A and model B are the same ('%s')",
                        o->model_a);
    ps_rowfilter f;
    int rc = ps_rowfilter_init(&f, t, NULL, o->ok_only);
    if (rc)
        return rc;
    const char *name = f.name;
    int ccase, cmodel, clabel = ps_table_col(t, "label");
    size_t nr = (size_t)t->nrows, na = 0, nb = 0, nrow = 0;
    ps_groups g = {0};
    ps_rtable *rt = NULL;
    group_pairs *gp = NULL;
    row_result *res = NULL;
    double *pt = NULL, *pw = NULL, *pta = NULL, *ptw = NULL;
    int *mcol = ps_calloc((size_t)o->nmetrics, sizeof *mcol);
    entry *ea = ps_malloc_array(nr, sizeof *ea), *eb = ps_malloc_array(nr, sizeof *eb);
    double *a = ps_malloc_array(nr, sizeof *a), *b = ps_malloc_array(nr, sizeof *b);
    char label[512];
    if (!mcol || !ea || !eb || !a || !b) {
        rc = PS_ERR_NOMEM;
        goto done;
    }
    for (int m = 0; m < o->nmetrics; m++)
        if ((rc = ps_table_require_col(t, o->metrics[m], &mcol[m])))
            goto done;
    if ((rc = ps_table_require_col(t, "case", &ccase)) ||
        (rc = ps_table_require_col(t, "model", &cmodel)))
        goto done;
    /* f.use becomes "rows of model A or B" */
    memset(f.use, 0, nr);
    if ((rc = collect(t, name, cmodel, ccase, clabel, o->model_a, ea, &na, f.use)) ||
        (rc = collect(t, name, cmodel, ccase, clabel, o->model_b, eb, &nb, f.use)) ||
        (rc = ps_groups_build(t, o->by, o->nby, f.use, &g)))
        goto done;
    gp = ps_calloc((size_t)g.ngroups, sizeof *gp);
    if (!gp) {
        rc = PS_ERR_NOMEM;
        goto done;
    }
    if ((rc = pair_rows(t, name, o, ea, na, eb, nb, &g, ccase, gp, 0)))
        goto done;
    for (int k = 0; k < g.ngroups; k++) {
        size_t np = gp[k].npairs ? gp[k].npairs : 1;
        gp[k].npairs = 0;
        if (!(gp[k].ra = ps_malloc_array(np, sizeof(int64_t))) ||
            !(gp[k].rb = ps_malloc_array(np, sizeof(int64_t)))) {
            rc = PS_ERR_NOMEM;
            goto done;
        }
    }
    if ((rc = pair_rows(t, name, o, ea, na, eb, nb, &g, ccase, gp, 1)))
        goto done;

    /* the tests of every (group, metric) row, then the correction across all of them */
    nrow = (size_t)g.ngroups * (size_t)o->nmetrics;
    res = ps_calloc(nrow, sizeof *res);
    pt = ps_malloc_array(nrow, sizeof *pt);
    pw = ps_malloc_array(nrow, sizeof *pw);
    pta = ps_malloc_array(nrow, sizeof *pta);
    ptw = ps_malloc_array(nrow, sizeof *ptw);
    if (!res || !pt || !pw || !pta || !ptw || (rc = ps_rtable_create(&rt)) ||
        (rc = add_cols(rt, &g))) {
        rc = rc ? rc : PS_ERR_NOMEM;
        goto done;
    }
    for (int k = 0; k < g.ngroups; k++) {
        ps_groups_label(t, &g, k, label, sizeof label);
        for (int m = 0; m < o->nmetrics; m++) {
            row_result *R = &res[(size_t)k * (size_t)o->nmetrics + (size_t)m];
            if ((rc = test_row(&f, o, &gp[k], mcol[m], label, o->metrics[m], a, b, rt, R)))
                goto done;
            pt[R - res] = R->v[6];
            pw[R - res] = R->v[11];
        }
    }
    if ((rc = ps_stats_padjust(pt, nrow, o->correction, pta)) ||
        (rc = ps_stats_padjust(pw, nrow, o->correction, ptw)))
        goto done;
    for (size_t i = 0; i < nrow && !rc; i++) {
        const row_result *R = &res[i];
        rc = ps_groups_cells(t, &g, (int)(i / (size_t)o->nmetrics), rt);
        rc = rc ? rc : ps_rtable_str(rt, o->metrics[i % (size_t)o->nmetrics]);
        rc = rc ? rc : ps_rtable_str(rt, o->model_a);
        rc = rc ? rc : ps_rtable_str(rt, o->model_b);
        rc = rc ? rc : ps_rtable_int(rt, R->n);
        rc = rc ? rc : ps_rtable_int(rt, ps_excl_total(&R->ex));
        for (int q = 0; q < NSTAT && !rc; q++)
            rc = ps_rtable_num(rt, R->v[q]);
        rc = rc ? rc : R->ok ? ps_rtable_int(rt, R->exact) : ps_rtable_num(rt, NAN);
        rc = rc ? rc : ps_rtable_num(rt, pta[i]);
        rc = rc ? rc : ps_rtable_num(rt, ptw[i]);
        rc = rc ? rc : ps_excl_cells(rt, &R->ex, 1);
    }
done:
    if (gp)
        for (int k = 0; k < g.ngroups; k++) {
            free(gp[k].ra);
            free(gp[k].rb);
        }
    free(gp);
    free(res);
    free(pt);
    free(pw);
    free(pta);
    free(ptw);
    free(mcol);
    free(ea);
    free(eb);
    free(a);
    free(b);
    ps_groups_free(&g);
    ps_rowfilter_free(&f);
    if (rc)
        ps_rtable_free(rt);
    else
        *out = rt;
    return rc;
}
