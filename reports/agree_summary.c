/* agree_summary.c - the aggregates of `panseval agreement`: an analysis of the per-row tables
 * of src/eval's multi-rater driver (ps_agreement_run: pairs, cases, sessions, models), with
 * the one grouping (ps_groups, by any columns plus label) and the one exclusion rule
 * (ps_report_classify: status error / missing never enters; NaN and +-inf values are left out
 * and counted) of every analysis (ps_reports.h, docs/stats.md "Which rows enter a
 * statistic").
 *
 * Per group and label (docs/agreement.md, "Aggregates"):
 *   - n, mean, SD (divisor n - 1), median, quartiles (type 7) of every per-row statistic:
 *     pair_* (pairs with kind inter), the cases' columns, session_*, model_* (per model);
 *   - pair_dice_mean per pair of inter raters (the rater x rater matrix,
 *     ps_report_agreement_matrix);
 *   - the ICC of the volumes (ps_icc: ICC2 = ICC(A,1), ICC3 = ICC(C,1), Shrout & Fleiss 1979)
 *     over the cases with a volume for every inter rater;
 *   - per model, model_mean_dice - raters_mean_dice across cases: the paired Wilcoxon
 *     signed-rank test (R's wilcox.test(paired = TRUE) defaults) and the paired t-test, and
 *     the fraction of cases within the raters' range (ps_report_agreement_models).
 * Rows are in group order (first appearance in the cases table), and within a group in the
 * order above.
 */
#include "ps_reports.h"
#include "ps_eval_dist.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

void ps_agreement_report_options_init(ps_agreement_report_options *o)
{
    memset(o, 0, sizeof *o);
    o->level = 0.95;
}

/* ---- keys ----------------------------------------------------------------------------------- */
/* The key columns: the user's --by and label (once). */
typedef struct keys {
    const char **by;
    int nby;
} keys;

static int keys_make(const ps_agreement_report_options *o, const char *const *extra, int nextra,
                     keys *k)
{
    k->nby = 0;
    k->by = calloc((size_t)(o->nby + 1 + nextra) + 1, sizeof *k->by);
    if (!k->by)
        return PS_ERR_NOMEM;
    int has_label = 0;
    for (int i = 0; i < o->nby; i++) {
        has_label |= !strcmp(o->by[i], "label");
        k->by[k->nby++] = o->by[i];
    }
    if (!has_label)
        k->by[k->nby++] = "label";
    for (int i = 0; i < nextra; i++)
        k->by[k->nby++] = extra[i];
    return PS_OK;
}

/* The master groups (by + label over the cases table) and the map of another table's group
 * to them: the first nkey key cells equal. */
static int master_of(const ps_groups *master, const ps_table *mt, const ps_groups *g,
                     const ps_table *t, int grp, int nkey)
{
    int64_t r = g->first[grp];
    for (int k = 0; k < master->ngroups; k++) {
        int64_t mr = master->first[k];
        int same = 1;
        for (int j = 0; j < nkey && same; j++)
            same = !strcmp(mt->cells[mr][master->col[j]], t->cells[r][g->col[j]]);
        if (same)
            return k;
    }
    return -1;
}

/* ---- buffered summary rows ------------------------------------------------------------------ */
typedef struct srow {
    int g;                 /* master group                                   */
    int seq;               /* emission order                                 */
    const char *stat;
    char *ra, *rb;         /* owned copies, or NULL                          */
    int64_t n;
    ps_excl_counts ex;
    int has_d;
    ps_stats_summary d;
    double value, lo, hi, p;
} srow;

typedef struct acc {
    const ps_agree_tables *t;
    const ps_agreement_report_options *o;
    ps_groups master;
    keys mk;
    srow *rows;
    size_t nrows, cap;
    double *x, *y, *work;  /* scratch of the largest table's size */
    /* the matrix: per master group, ninter x ninter means (NaN = no pair) */
    double *mat;
    unsigned char *has_mat;
    ps_rtable *models;     /* the model-within-variation table, being built  */
} acc;

static srow *push_row(acc *A, int g, const char *stat, const char *ra, const char *rb)
{
    if (A->nrows == A->cap) {
        size_t nc = A->cap ? 2 * A->cap : 256;
        srow *p = realloc(A->rows, nc * sizeof *p);
        if (!p)
            return NULL;
        A->rows = p;
        A->cap = nc;
    }
    srow *r = &A->rows[A->nrows];
    memset(r, 0, sizeof *r);
    r->g = g;
    r->seq = (int)A->nrows;
    r->stat = stat;
    r->value = r->lo = r->hi = r->p = NAN;
    r->ra = ra ? ps_strdup(ra) : NULL;
    r->rb = rb ? ps_strdup(rb) : NULL;
    if ((ra && !r->ra) || (rb && !r->rb)) {
        free(r->ra);
        free(r->rb);
        return NULL;
    }
    A->nrows++;
    return r;
}

static int cmp_srow(const void *pa, const void *pb)
{
    const srow *a = pa, *b = pb;
    if (a->g != b->g)
        return (a->g > b->g) - (a->g < b->g);
    return (a->seq > b->seq) - (a->seq < b->seq);
}

/* The values of column c over the rows of group grp that enter, with the exclusion counts. */
static int collect(const ps_rowfilter *f, const ps_groups *g, int grp, int c, double *x,
                   size_t *n, ps_excl_counts *ex)
{
    *n = 0;
    memset(ex, 0, sizeof *ex);
    for (int64_t i = g->start[grp]; i < g->start[grp + 1]; i++) {
        double v;
        ps_excl why;
        int rc = ps_report_classify(f, g->rows[i], c, &v, &why);
        if (rc)
            return rc;
        if (why == PS_EXCL_NONE)
            x[(*n)++] = v;
        else
            ex->n[why]++;
    }
    return PS_OK;
}

/* Rows of t that enter: kind inter (pairs), every row otherwise. */
static int select_rows(const ps_table *t, const char *kind, unsigned char **use)
{
    *use = NULL;
    if (!kind)
        return PS_OK;
    int ck;
    int rc = ps_table_require_col(t, "kind", &ck);
    if (rc)
        return rc;
    if (!(*use = ps_calloc((size_t)t->nrows + 1, 1)))
        return PS_ERR_NOMEM;
    for (int64_t r = 0; r < t->nrows; r++)
        (*use)[r] = !strcmp(t->cells[r][ck], kind);
    return PS_OK;
}

/* Descriptive rows of the statistics stat[i] = column col[i] of table t, per master group
 * (and, with per_model, per model: rater_a holds the model). */
static int describe_table(acc *A, const ps_table *t, const char *kind, const char *const *stat,
                          const char *const *col, int nstat, int per_model)
{
    if (!t || t->nrows == 0)
        return PS_OK;
    keys k = {0};
    const char *extra[1] = {"model"};
    ps_groups g = {0};
    ps_rowfilter f;
    unsigned char *use = NULL;
    int rc = keys_make(A->o, extra, per_model, &k);
    if (!rc)
        rc = select_rows(t, kind, &use);
    if (!rc)
        rc = ps_groups_build(t, k.by, k.nby, use, &g);
    if (rc) {
        free(k.by);
        free(use);
        return rc;
    }
    memset(&f, 0, sizeof f);
    f.t = t;
    f.name = t->path ? t->path : "(agreement table)";
    f.status_col = ps_table_col(t, "status");
    f.model_col = -1;
    for (int s = 0; s < nstat && !rc; s++) {
        int c;
        if ((rc = ps_table_require_col(t, col[s], &c)))
            break;
        for (int grp = 0; grp < g.ngroups && !rc; grp++) {
            int mg = master_of(&A->master, A->t->cases, &g, t, grp, A->mk.nby);
            size_t n;
            ps_excl_counts ex;
            if (mg < 0 || (rc = collect(&f, &g, grp, c, A->x, &n, &ex)))
                continue;
            if (n == 0)
                continue;
            const char *model = per_model ? t->cells[g.first[grp]][g.col[k.nby - 1]] : NULL;
            srow *r = push_row(A, mg, stat[s], model, NULL);
            if (!r) {
                rc = PS_ERR_NOMEM;
                break;
            }
            r->n = (int64_t)n;
            r->ex = ex;
            r->has_d = 1;
            rc = ps_stats_describe(A->x, n, A->o->level, A->work, &r->d);
        }
    }
    ps_groups_free(&g);
    free(k.by);
    free(use);
    return rc;
}

static int rater_index(const ps_agree_tables *t, const char *name)
{
    for (int i = 0; i < t->nraters; i++)
        if (!strcmp(t->raters[i], name))
            return i;
    return -1;
}

/* pair_dice_mean rows and the matrix. */
static int pair_means(acc *A)
{
    const ps_table *t = A->t->pairs;
    const char *extra[2] = {"rater_a", "rater_b"};
    keys k = {0};
    ps_groups g = {0};
    unsigned char *use = NULL;
    int rc = keys_make(A->o, extra, 2, &k), c;
    if (!rc)
        rc = select_rows(t, "inter", &use);
    if (!rc)
        rc = ps_groups_build(t, k.by, k.nby, use, &g);
    if (!rc)
        rc = ps_table_require_col(t, "dice", &c);
    ps_rowfilter f = {0};
    f.t = t;
    f.name = t->path ? t->path : "(agreement pairs)";
    f.status_col = ps_table_col(t, "status");
    f.model_col = -1;
    int nr = A->t->nraters;
    for (int grp = 0; grp < g.ngroups && !rc; grp++) {
        int mg = master_of(&A->master, A->t->cases, &g, t, grp, A->mk.nby);
        const char *ra = t->cells[g.first[grp]][g.col[k.nby - 2]];
        const char *rb = t->cells[g.first[grp]][g.col[k.nby - 1]];
        size_t n;
        ps_excl_counts ex;
        if (mg < 0 || (rc = collect(&f, &g, grp, c, A->x, &n, &ex)) || n == 0)
            continue;
        srow *r = push_row(A, mg, "pair_dice_mean", ra, rb);
        if (!r) {
            rc = PS_ERR_NOMEM;
            break;
        }
        r->n = (int64_t)n;
        r->ex = ex;
        r->has_d = 1;
        if ((rc = ps_stats_describe(A->x, n, A->o->level, A->work, &r->d)))
            break;
        r->value = r->d.mean;
        int ia = rater_index(A->t, ra), ib = rater_index(A->t, rb);
        if (ia >= 0 && ib >= 0) {
            size_t base = (size_t)mg * (size_t)nr * (size_t)nr;
            A->mat[base + (size_t)ia * (size_t)nr + (size_t)ib] = r->d.mean;
            A->mat[base + (size_t)ib * (size_t)nr + (size_t)ia] = r->d.mean;
            A->has_mat[mg] = 1;
        }
    }
    ps_groups_free(&g);
    free(k.by);
    free(use);
    return rc;
}

/* The ICC of the volumes per master group: the cases (in order) with a volume for every inter
 * rater, from the inter pairs' vol_a_ml / vol_b_ml. */
static int volume_icc(acc *A)
{
    const ps_table *t = A->t->pairs;
    const char *extra[1] = {"case"};
    keys k = {0};
    ps_groups g = {0};
    unsigned char *use = NULL;
    int nr = A->t->nraters, ca, cb, cva, cvb;
    int rc = keys_make(A->o, extra, 1, &k);
    if (!rc)
        rc = select_rows(t, "inter", &use);
    if (!rc)
        rc = ps_groups_build(t, k.by, k.nby, use, &g);
    if (!rc && !(rc = ps_table_require_col(t, "rater_a", &ca)) &&
        !(rc = ps_table_require_col(t, "rater_b", &cb)) &&
        !(rc = ps_table_require_col(t, "vol_a_ml", &cva)))
        rc = ps_table_require_col(t, "vol_b_ml", &cvb);
    int ng = A->master.ngroups;
    double **vx = calloc((size_t)ng + 1, sizeof *vx);
    size_t *nc = calloc((size_t)ng + 1, sizeof *nc);
    double *row = calloc((size_t)nr + 1, sizeof *row);
    unsigned char *have = calloc((size_t)nr + 1, 1);
    if (!rc && (!vx || !nc || !row || !have))
        rc = PS_ERR_NOMEM;
    for (int grp = 0; grp < g.ngroups && !rc; grp++) {
        int mg = master_of(&A->master, A->t->cases, &g, t, grp, A->mk.nby);
        if (mg < 0)
            continue;
        memset(have, 0, (size_t)nr);
        for (int64_t i = g.start[grp]; i < g.start[grp + 1] && !rc; i++) {
            int64_t r = g.rows[i];
            const int cn[2] = {ca, cb}, cv[2] = {cva, cvb};
            for (int s = 0; s < 2 && !rc; s++) {
                int ri = rater_index(A->t, t->cells[r][cn[s]]);
                double v;
                if (ri < 0 || have[ri])
                    continue;
                if ((rc = ps_table_get_double(t, r, cv[s], &v)))
                    break;
                if (isfinite(v)) {
                    row[ri] = v;
                    have[ri] = 1;
                }
            }
        }
        int all = 1;
        for (int a = 0; a < nr; a++)
            all &= have[a];
        if (!all || rc)
            continue;
        double *p = realloc(vx[mg], (nc[mg] + 1) * (size_t)nr * sizeof *p);
        if (!p) {
            rc = PS_ERR_NOMEM;
            break;
        }
        vx[mg] = p;
        memcpy(p + nc[mg] * (size_t)nr, row, (size_t)nr * sizeof *row);
        nc[mg]++;
    }
    for (int mg = 0; mg < ng && !rc; mg++) {
        ps_icc_result ir;
        if (nc[mg] < 2 || ps_icc(vx[mg], nc[mg], nr, A->o->level, &ir) != PS_OK)
            continue;
        const ps_icc_estimate *e[2] = {&ir.form[PS_ICC2], &ir.form[PS_ICC3]};
        const char *nm[2] = {"volume_icc2", "volume_icc3"};
        for (int j = 0; j < 2 && !rc; j++) {
            srow *r = push_row(A, mg, nm[j], NULL, NULL);
            if (!r) {
                rc = PS_ERR_NOMEM;
                break;
            }
            r->n = (int64_t)nc[mg];
            r->value = e[j]->icc;
            r->lo = e[j]->ci_low;
            r->hi = e[j]->ci_high;
            r->p = e[j]->p;
        }
    }
    for (int mg = 0; vx && mg < ng; mg++)
        free(vx[mg]);
    free(vx);
    free(nc);
    free(row);
    free(have);
    ps_groups_free(&g);
    free(k.by);
    free(use);
    return rc;
}

/* Per model: the paired tests of model_mean_dice - raters_mean_dice, and the row of the
 * model-within-variation table. */
static int model_tests(acc *A)
{
    const ps_table *t = A->t->models;
    if (!t || t->nrows == 0)
        return PS_OK;
    const char *extra[1] = {"model"};
    keys k = {0};
    ps_groups g = {0};
    int cm = -1, cr = -1, cw = -1; /* set by ps_table_require_col before any use */
    int rc = keys_make(A->o, extra, 1, &k);
    if (!rc)
        rc = ps_groups_build(t, k.by, k.nby, NULL, &g);
    if (!rc && !(rc = ps_table_require_col(t, "model_mean_dice", &cm)) &&
        !(rc = ps_table_require_col(t, "raters_mean_dice", &cr)))
        rc = ps_table_require_col(t, "within_range", &cw);
    ps_rowfilter f = {0};
    f.t = t;
    f.name = t->path ? t->path : "(agreement models)";
    f.status_col = ps_table_col(t, "status");
    f.model_col = -1;
    for (int grp = 0; grp < g.ngroups && !rc; grp++) {
        int mg = master_of(&A->master, A->t->cases, &g, t, grp, A->mk.nby);
        const char *model = t->cells[g.first[grp]][g.col[k.nby - 1]];
        size_t n = 0, nw = 0;
        double wsum = 0;
        ps_excl_counts ex = {{0}};
        for (int64_t i = g.start[grp]; i < g.start[grp + 1] && !rc; i++) {
            int64_t r = g.rows[i];
            double a, b, w;
            ps_excl ea, eb, ew;
            if ((rc = ps_report_classify(&f, r, cm, &a, &ea)) ||
                (rc = ps_report_classify(&f, r, cr, &b, &eb)) ||
                (rc = ps_report_classify(&f, r, cw, &w, &ew)))
                break;
            if (ew == PS_EXCL_NONE) {
                wsum += w;
                nw++;
            }
            if (ea != PS_EXCL_NONE || eb != PS_EXCL_NONE) {
                ex.n[ea != PS_EXCL_NONE ? ea : eb]++;
                continue;
            }
            A->x[n] = a;
            A->y[n++] = b;
        }
        if (rc || mg < 0)
            continue;
        double pw = NAN, pt = NAN, md = NAN, lo = NAN, hi = NAN;
        if (n >= 2) {
            ps_wilcoxon_options wo;
            ps_wilcoxon_options_r(&wo);
            ps_wilcoxon wr;
            ps_ttest_paired tr;
            if (ps_stats_wilcoxon(A->x, A->y, n, &wo, &wr) == 0)
                pw = wr.p_two_sided;
            if (ps_stats_ttest_paired(A->x, A->y, n, A->o->level, &tr) == 0) {
                pt = tr.p_two_sided;
                md = tr.mean_diff;
                lo = tr.ci_low;
                hi = tr.ci_high;
            }
            const char *nm[2] = {"model_vs_raters_wilcoxon", "model_vs_raters_ttest"};
            for (int j = 0; j < 2 && !rc; j++) {
                srow *r = push_row(A, mg, nm[j], model, NULL);
                if (!r) {
                    rc = PS_ERR_NOMEM;
                    break;
                }
                r->n = (int64_t)n;
                r->ex = ex;
                r->value = md;
                r->lo = j ? (isfinite(pt) ? lo : NAN) : NAN;
                r->hi = j ? (isfinite(pt) ? hi : NAN) : NAN;
                r->p = j ? pt : pw;
            }
        }
        /* the model-within-variation table */
        double sm = 0, sr = 0;
        for (size_t i = 0; i < n; i++) {
            sm += A->x[i];
            sr += A->y[i];
        }
        ps_rtable *mt = A->models;
        if (!rc)
            rc = ps_groups_cells(A->t->cases, &A->master, mg, mt);
        if (!rc && !(rc = ps_rtable_str(mt, model)) && !(rc = ps_rtable_int(mt, (int64_t)n)) &&
            !(rc = ps_rtable_num(mt, n ? sm / (double)n : NAN)) &&
            !(rc = ps_rtable_num(mt, n ? sr / (double)n : NAN)) &&
            !(rc = ps_rtable_num(mt, md)) && !(rc = ps_rtable_num(mt, lo)) &&
            !(rc = ps_rtable_num(mt, hi)) && !(rc = ps_rtable_num(mt, pt)) &&
            !(rc = ps_rtable_num(mt, pw)) &&
            !(rc = ps_rtable_num(mt, nw ? wsum / (double)nw : NAN)) &&
            !(rc = ps_rtable_int(mt, ps_excl_total(&ex))))
            rc = ps_excl_cells(mt, &ex, 0);
    }
    ps_groups_free(&g);
    free(k.by);
    return rc;
}

/* ---- the result tables ------------------------------------------------------------------------ */
/* Text columns from right_from on are right-aligned (number-like display cells). */
static int add_cols(ps_rtable *rt, const ps_groups *master, const char *const *names,
                    const ps_cell_kind *kinds, int n, int right_from)
{
    int rc = ps_groups_add_cols(master, rt);
    for (int i = 0; i < n && !rc; i++) /* p-values in 3 significant digits, others %.4f */
        rc = ps_rtable_add_col(rt, names[i], kinds[i],
                               names[i][0] == 'p' && (!names[i][1] || names[i][1] == '_')
                                   ? PS_STYLE_SIG : PS_STYLE_FIXED,
                               names[i][0] == 'p' && (!names[i][1] || names[i][1] == '_') ? 3 : 4,
                               i >= right_from ? PS_COL_RIGHT : 0);
    return rc;
}

static int summary_table(acc *A, ps_rtable **out)
{
    static const char *const cols[] = {"region", "statistic", "rater_a", "rater_b", "n",
                                       "n_excluded", "mean", "sd", "median", "q1", "q3",
                                       "value", "ci_low", "ci_high", "p"};
    static const ps_cell_kind kinds[] = {PS_CELL_STR, PS_CELL_STR, PS_CELL_STR, PS_CELL_STR,
                                         PS_CELL_INT, PS_CELL_INT, PS_CELL_NUM, PS_CELL_NUM,
                                         PS_CELL_NUM, PS_CELL_NUM, PS_CELL_NUM, PS_CELL_NUM,
                                         PS_CELL_NUM, PS_CELL_NUM, PS_CELL_NUM};
    static const char *const dcols[] = {"statistic", "rater_a", "rater_b", "n", "mean +- SD",
                                        "median [IQR]", "value", "CI", "p"};
    /* display cells are text: blank where the statistic has no such value */
    static const ps_cell_kind dkinds[] = {PS_CELL_STR, PS_CELL_STR, PS_CELL_STR, PS_CELL_INT,
                                          PS_CELL_STR, PS_CELL_STR, PS_CELL_STR, PS_CELL_STR,
                                          PS_CELL_STR};
    ps_rtable *rt = NULL, *disp = NULL;
    int rc = ps_rtable_create(&rt);
    if (!rc)
        rc = ps_rtable_create(&disp);
    if (!rc)
        rc = add_cols(rt, &A->master, cols, kinds, 15, 15);
    if (!rc)
        rc = ps_excl_add_cols(rt, 0);
    if (!rc)
        rc = add_cols(disp, &A->master, dcols, dkinds, 9, 4);
    const char *region = ps_agree_region_name(A->t->region);
    if (!rc)
        rc = ps_rtable_head(disp, "agreement of %d raters, region %s", A->t->nraters, region);
    qsort(A->rows, A->nrows, sizeof *A->rows, cmp_srow);
    for (size_t i = 0; i < A->nrows && !rc; i++) {
        const srow *r = &A->rows[i];
        double nan = NAN;
        const ps_stats_summary *d = r->has_d ? &r->d : NULL;
        if ((rc = ps_groups_cells(A->t->cases, &A->master, r->g, rt)) ||
            (rc = ps_rtable_str(rt, region)) || (rc = ps_rtable_str(rt, r->stat)) ||
            (rc = ps_rtable_str(rt, r->ra ? r->ra : "")) ||
            (rc = ps_rtable_str(rt, r->rb ? r->rb : "")) || (rc = ps_rtable_int(rt, r->n)) ||
            (rc = ps_rtable_int(rt, ps_excl_total(&r->ex))) ||
            (rc = ps_rtable_num(rt, d ? d->mean : nan)) ||
            (rc = ps_rtable_num(rt, d ? d->sd : nan)) ||
            (rc = ps_rtable_num(rt, d ? d->median : nan)) ||
            (rc = ps_rtable_num(rt, d ? d->q1 : nan)) ||
            (rc = ps_rtable_num(rt, d ? d->q3 : nan)) || (rc = ps_rtable_num(rt, r->value)) ||
            (rc = ps_rtable_num(rt, r->lo)) || (rc = ps_rtable_num(rt, r->hi)) ||
            (rc = ps_rtable_num(rt, r->p)) || (rc = ps_excl_cells(rt, &r->ex, 0)))
            break;
        char msd[64] = "", med[96] = "", ci[64] = "", val[32] = "", pv[32] = "";
        if (isfinite(r->value))
            snprintf(val, sizeof val, "%.4f", r->value);
        if (isfinite(r->p))
            snprintf(pv, sizeof pv, "%.3g", r->p);
        if (d) {
            snprintf(msd, sizeof msd, "%.4f +- %.4f", d->mean, r->n > 1 ? d->sd : 0.0);
            snprintf(med, sizeof med, "%.4f [%.4f, %.4f]", d->median, d->q1, d->q3);
        }
        if (isfinite(r->lo) || isfinite(r->hi))
            snprintf(ci, sizeof ci, "[%.4f, %.4f]", r->lo, r->hi);
        if ((rc = ps_groups_cells(A->t->cases, &A->master, r->g, disp)) ||
            (rc = ps_rtable_str(disp, r->stat)) || (rc = ps_rtable_str(disp, r->ra ? r->ra : "")) ||
            (rc = ps_rtable_str(disp, r->rb ? r->rb : "")) || (rc = ps_rtable_int(disp, r->n)) ||
            (rc = ps_rtable_str(disp, msd)) || (rc = ps_rtable_str(disp, med)) ||
            (rc = ps_rtable_str(disp, val)) || (rc = ps_rtable_str(disp, ci)) ||
            (rc = ps_rtable_str(disp, pv)))
            break;
    }
    if (rc) {
        ps_rtable_free(rt);
        ps_rtable_free(disp);
        return rc;
    }
    ps_rtable_set_display(rt, disp);
    *out = rt;
    return PS_OK;
}

static int matrix_table(acc *A, ps_rtable **out)
{
    int nr = A->t->nraters, rc = ps_rtable_create(out);
    ps_rtable *rt = *out;
    if (!rc)
        rc = ps_groups_add_cols(&A->master, rt);
    if (!rc)
        rc = ps_rtable_add_col(rt, "rater", PS_CELL_STR, PS_STYLE_G6, 0, 0);
    for (int b = 0; b < nr && !rc; b++)
        rc = ps_rtable_add_col(rt, A->t->raters[b], PS_CELL_NUM, PS_STYLE_FIXED, 4, 0);
    if (!rc)
        rc = ps_rtable_head(rt, "mean pairwise Dice (rater x rater), region %s",
                            ps_agree_region_name(A->t->region));
    for (int g = 0; g < A->master.ngroups && !rc; g++) {
        if (!A->has_mat[g])
            continue;
        const double *M = A->mat + (size_t)g * (size_t)nr * (size_t)nr;
        for (int a = 0; a < nr && !rc; a++) {
            if ((rc = ps_groups_cells(A->t->cases, &A->master, g, rt)) ||
                (rc = ps_rtable_str(rt, A->t->raters[a])))
                break;
            for (int b = 0; b < nr && !rc; b++)
                rc = ps_rtable_num(rt, a == b ? 1.0 : M[(size_t)a * (size_t)nr + (size_t)b]);
        }
    }
    if (rc) {
        ps_rtable_free(*out);
        *out = NULL;
    }
    return rc;
}

static int models_cols(acc *A)
{
    static const char *const cols[] = {"model", "n", "model_mean_dice", "raters_mean_dice",
                                       "mean_diff", "ci_low", "ci_high", "p_ttest",
                                       "p_wilcoxon", "within_range_fraction", "n_excluded"};
    static const ps_cell_kind kinds[] = {PS_CELL_STR, PS_CELL_INT, PS_CELL_NUM, PS_CELL_NUM,
                                         PS_CELL_NUM, PS_CELL_NUM, PS_CELL_NUM, PS_CELL_NUM,
                                         PS_CELL_NUM, PS_CELL_NUM, PS_CELL_INT};
    int rc = ps_rtable_create(&A->models);
    if (!rc)
        rc = add_cols(A->models, &A->master, cols, kinds, 11, 11);
    if (!rc)
        rc = ps_excl_add_cols(A->models, 0);
    if (!rc)
        rc = ps_rtable_head(A->models, "models against the %d raters: mean Dice to the raters "
                            "beside the raters' mean pairwise Dice, per case", A->t->nraters);
    return rc;
}

static void acc_free(acc *A)
{
    ps_groups_free(&A->master);
    free(A->mk.by);
    for (size_t i = 0; i < A->nrows; i++) {
        free(A->rows[i].ra);
        free(A->rows[i].rb);
    }
    free(A->rows);
    free(A->x);
    free(A->y);
    free(A->work);
    free(A->mat);
    free(A->has_mat);
    ps_rtable_free(A->models);
}

int ps_report_agreement_tables(const ps_agree_tables *t, const ps_agreement_report_options *o,
                               ps_agreement_result *res)
{
    memset(res, 0, sizeof *res);
    if (!t || !t->pairs || !t->cases || !o)
        return ps_error(PS_ERR_ARG, "ps_report_agreement_tables: NULL argument");
    acc A = {0};
    A.t = t;
    A.o = o;
    int rc = keys_make(o, NULL, 0, &A.mk);
    if (!rc)
        rc = ps_groups_build(t->cases, A.mk.by, A.mk.nby, NULL, &A.master);
    if (rc) {
        acc_free(&A);
        return rc;
    }
    size_t big = (size_t)t->pairs->nrows + (size_t)t->cases->nrows + 1;
    if (t->sessions)
        big += (size_t)t->sessions->nrows;
    if (t->models)
        big += (size_t)t->models->nrows;
    size_t nm = (size_t)A.master.ngroups * (size_t)t->nraters * (size_t)t->nraters + 1;
    A.x = malloc(big * sizeof *A.x);
    A.y = malloc(big * sizeof *A.y);
    A.work = malloc(big * sizeof *A.work);
    A.mat = malloc(nm * sizeof *A.mat);
    A.has_mat = ps_calloc((size_t)A.master.ngroups + 1, 1);
    if (!A.x || !A.y || !A.work || !A.mat || !A.has_mat)
        rc = PS_ERR_NOMEM;
    for (size_t i = 0; A.mat && i < nm; i++)
        A.mat[i] = NAN;
    static const char *const pst[] = {"pair_dice", "pair_hd95", "pair_assd", "pair_kappa",
                                      "pair_vol_diff_ml"};
    static const char *const pcol[] = {"dice", "hd95", "assd", "kappa", "vol_diff_ml"};
    static const char *const cst[] = {"fleiss_kappa", "krippendorff_alpha", "mean_pairwise_dice",
                                      "ged", "vol_cv"};
    static const char *const sst[] = {"session_dice", "session_hd95", "session_assd",
                                      "session_kappa"};
    static const char *const mst[] = {"model_mean_dice", "model_within_range", "model_ged"};
    static const char *const mcol[] = {"model_mean_dice", "within_range", "ged"};
    if (!rc)
        rc = models_cols(&A);
    if (!rc)
        rc = describe_table(&A, t->pairs, "inter", pst, pcol, 5, 0);
    if (!rc)
        rc = describe_table(&A, t->cases, NULL, cst, cst, 5, 0);
    if (!rc)
        rc = describe_table(&A, t->sessions, NULL, sst, pcol, 4, 0);
    if (!rc)
        rc = describe_table(&A, t->models, NULL, mst, mcol, 3, 1);
    if (!rc)
        rc = pair_means(&A);
    if (!rc && t->nraters >= 2)
        rc = volume_icc(&A);
    if (!rc)
        rc = model_tests(&A);
    if (!rc)
        rc = summary_table(&A, &res->summary);
    if (!rc)
        rc = matrix_table(&A, &res->matrix);
    if (!rc && t->models) {
        res->models = A.models;
        A.models = NULL;
    }
    acc_free(&A);
    if (rc)
        ps_agreement_result_free(res);
    return rc;
}

void ps_agreement_result_free(ps_agreement_result *r)
{
    if (!r)
        return;
    ps_rtable_free(r->summary);
    ps_rtable_free(r->matrix);
    ps_rtable_free(r->models);
    r->summary = r->matrix = r->models = NULL;
}

/* ---- the whole command ---------------------------------------------------------------------- */
static ps_report_format report_format(ps_table_format f)
{
    switch (f) {
    case PS_TABLE_TSV:
        return PS_REPORT_TSV;
    case PS_TABLE_JSON:
        return PS_REPORT_JSON;
    case PS_TABLE_MD:
        return PS_REPORT_MD;
    case PS_TABLE_TEX:
        return PS_REPORT_TEX;
    default:
        return PS_REPORT_CSV;
    }
}

static int write_rtable(const char *dir, const char *name, ps_table_format fmt,
                        const ps_rtable *rt)
{
    char path[4200];
    snprintf(path, sizeof path, "%s/%s.%s", dir, name, ps_table_format_name(fmt));
    ps_atomic_file *af;
    int rc = ps_atomic_open(path, &af);
    if (rc)
        return ps_error_context(rc, "%s", path);
    if ((rc = ps_rtable_write(rt, ps_atomic_stream(af), report_format(fmt)))) {
        ps_atomic_abort(af);
        return ps_error_context(rc, "%s", path);
    }
    return ps_atomic_commit(af);
}

/* The aggregates of tables t into out_dir (when given) and res. */
static int aggregates(const ps_agree_tables *t, const ps_agreement_report_options *ro,
                      const char *out_dir, ps_table_format fmt, ps_agreement_result *res)
{
    int rc = ps_report_agreement_tables(t, ro, res);
    if (!rc && out_dir)
        rc = write_rtable(out_dir, "summary", fmt, res->summary);
    if (!rc && out_dir)
        rc = write_rtable(out_dir, "dice_matrix", fmt, res->matrix);
    if (!rc && out_dir && res->models)
        rc = write_rtable(out_dir, "models_summary", fmt, res->models);
    if (rc)
        ps_agreement_result_free(res);
    return rc;
}

/* The report options that change the aggregates, as recorded in the journal: "by=COLS" (comma
 * list, may be empty) and "level=Q". */
static char *recorded_settings(const ps_agreement_report_options *ro)
{
    size_t cap = 32;
    for (int i = 0; i < ro->nby; i++)
        cap += strlen(ro->by[i]) + 1;
    char *by = malloc(cap);
    if (!by)
        return NULL;
    by[0] = 0;
    for (int i = 0; i < ro->nby; i++)
        strcat(strcat(by, i ? "," : ""), ro->by[i]);
    char level[32]; /* the shortest text that reads back as the same double */
    ps_format_double(ro->level, level, sizeof level);
    char *s = ps_asprintf("by=%s\tlevel=%s", by, level);
    free(by);
    return s;
}

/* recorded_settings back: ro->by points into text (modified), *list is the array to free. */
static int recorded_apply(char *text, ps_agreement_report_options *ro, const char ***list)
{
    ps_agreement_report_options_init(ro);
    *list = calloc(strlen(text) / 2 + 2, sizeof **list);
    if (!*list)
        return PS_ERR_NOMEM;
    for (char *tok = text, *next; tok; tok = next) {
        next = strchr(tok, '\t');
        if (next)
            *next++ = 0;
        char *end;
        if (!strncmp(tok, "by=", 3)) {
            for (char *b = tok + 3, *nb; *b; b = nb) {
                nb = b + strcspn(b, ",");
                if (*nb)
                    *nb++ = 0;
                (*list)[ro->nby++] = b;
            }
        } else if (!strncmp(tok, "level=", 6) && (ro->level = strtod(tok + 6, &end), !*end) &&
                   end != tok + 6)
            ;
        else if (*tok)
            return ps_error(PS_ERR_FORMAT, "an unknown recorded setting '%s'", tok);
    }
    ro->by = *list;
    return PS_OK;
}

int ps_report_agreement_dist(const ps_manifest *m, const ps_agree_options *ao,
                             const ps_agreement_report_options *ro, const ps_context *ctx,
                             const char *out_dir, const ps_eval_run_opts *run,
                             ps_agreement_result *res, ps_agree_summary *counts,
                             ps_eval_run_info *info)
{
    memset(res, 0, sizeof *res);
    ps_agree_summary dummy = {0};
    ps_eval_run_info dummy_info = {0};
    counts = counts ? counts : &dummy;
    info = info ? info : &dummy_info;
    ps_eval_run_opts o;
    memset(&o, 0, sizeof o);
    if (run)
        o = *run;
    char *journal = run && out_dir ? ps_agreement_journal_path(out_dir) : NULL;
    char *extra = recorded_settings(ro);
    int root = ps_dist_rank(o.dist) == 0, rc = PS_OK;
    if ((run && out_dir && !journal) || !extra)
        rc = PS_ERR_NOMEM;
    o.journal = journal;
    ps_agree_tables t;
    if (!rc)
        rc = ps_agree_check_by(m, ro->by, ro->nby);
    if (!rc)
        rc = ps_agreement_run_dist(m, ao, ctx, &o, extra, out_dir, root ? &t : NULL, counts,
                                   info);
    int ran = !rc;
    if (!rc && root) {
        rc = aggregates(&t, ro, out_dir, ao->format, res);
        ps_agree_tables_free(&t);
    }
    /* a complete run's journal is of no more use, even when an aggregate was refused */
    if (ran && root && journal && !info->journal_kept) {
        int r2 = ps_eval_journal_discard(journal);
        if (!rc)
            rc = r2;
    }
    free(journal);
    free(extra);
    return rc;
}

int ps_report_agreement(const ps_manifest *m, const ps_agree_options *ao,
                        const ps_agreement_report_options *ro, const ps_context *ctx,
                        const char *out_dir, ps_agreement_result *res, ps_agree_summary *counts)
{
    return ps_report_agreement_dist(m, ao, ro, ctx, out_dir, NULL, res, counts, NULL);
}

int ps_report_agreement_merge(const char *const *shards, int n, const char *out_dir,
                              const ps_table_format *want, ps_agreement_result *res,
                              ps_agree_summary *counts)
{
    memset(res, 0, sizeof *res);
    ps_agree_tables t;
    char *extra = NULL;
    const char **by = NULL;
    ps_table_format fmt;
    ps_agreement_report_options ro;
    int rc = ps_agreement_merge(shards, n, out_dir, want, &t, &extra, &fmt, counts);
    if (rc)
        return rc;
    if ((rc = recorded_apply(extra, &ro, &by)))
        rc = ps_error_context(rc, "%s: the journals", shards[0]);
    if (!rc)
        rc = aggregates(&t, &ro, out_dir, fmt, res);
    ps_agree_tables_free(&t);
    free(by);
    free(extra);
    return rc;
}

int ps_report_agreement_print(const ps_agreement_result *res, FILE *f, ps_report_format fmt)
{
    const ps_rtable *parts[3] = {res->summary, res->matrix, res->models};
    int rc = PS_OK;
    for (int i = 0; i < 3 && !rc; i++)
        if (parts[i]) {
            if (i && fmt == PS_REPORT_TEXT)
                fputc('\n', f);
            rc = ps_rtable_write(parts[i], f, fmt);
        }
    return rc;
}
