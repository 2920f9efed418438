/* agreement.c - the table-based agreement analyses: kappa (Cohen per pair; Fleiss, Light and
 * Krippendorff for 3+ raters) and the six Shrout-Fleiss ICCs, on a wide table (one column per
 * rater) or on the long per-case table pivoted on the subject (case, and label when present).
 * Formulas and sources: stats/kappa.c, stats/krippendorff.c, stats/icc.c, docs/agreement.md. */
#include "ps_reports.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

enum { MAX_CATEGORIES = 1000 };

/* ---- the ratings matrix --------------------------------------------------------------------- */
/* cell[i * m + j]: rating of subject i by rater j ("" = missing); line[i * m + j]: its source
 * line (a line of the subject when the rating is missing), for messages. */
typedef struct {
    size_t n;
    int m;
    const char **cell;
    int64_t *line;
    char **rater;      /* rater names (owned)        */
    const char *what;  /* "column" (wide) or the rater column's name (long) */
    const char *desc;  /* "columns a,b" / "column 'dice' by model" */
    char descbuf[512];
} ratings;

static void ratings_free(ratings *r)
{
    free(r->cell);
    free(r->line);
    if (r->rater)
        for (int j = 0; j < r->m; j++)
            free(r->rater[j]);
    free(r->rater);
}

static int check_distinct(const char *const *names, int m, const char *what)
{
    for (int a = 0; a < m; a++)
        for (int b = a + 1; b < m; b++)
            if (!strcmp(names[a], names[b]))
                return ps_error(PS_ERR_ARG, "%s lists '%s' twice", what, names[a]);
    return PS_OK;
}

static int wide_ratings(const ps_table *t, const ps_ratings_spec *s, ratings *r)
{
    int rc;
    if (s->nraters < 2)
        return ps_error(PS_ERR_ARG, "--raters needs at least 2 columns, got %d", s->nraters);
    if ((rc = check_distinct(s->raters, s->nraters, "--raters")))
        return rc;
    int *col = ps_malloc_array((size_t)s->nraters, sizeof *col);
    r->n = (size_t)t->nrows;
    r->m = s->nraters;
    r->cell = ps_malloc_array(r->n * (size_t)r->m, sizeof *r->cell);
    r->line = ps_malloc_array(r->n * (size_t)r->m, sizeof *r->line);
    r->rater = ps_calloc((size_t)r->m, sizeof *r->rater);
    r->what = "column";
    if (!col || !r->cell || !r->line || !r->rater) {
        free(col);
        return PS_ERR_NOMEM;
    }
    size_t used = 0;
    for (int j = 0; j < r->m; j++) {
        if ((rc = ps_table_require_col(t, s->raters[j], &col[j]))) {
            free(col);
            return rc;
        }
        if (!(r->rater[j] = ps_strdup(s->raters[j]))) {
            free(col);
            return PS_ERR_NOMEM;
        }
        used += (size_t)snprintf(r->descbuf + used, used < sizeof r->descbuf ?
                                 sizeof r->descbuf - used : 0, "%s%s",
                                 j ? "," : "columns ", s->raters[j]);
        if (used >= sizeof r->descbuf)
            used = sizeof r->descbuf - 1;
    }
    for (size_t i = 0; i < r->n; i++) {
        for (int j = 0; j < r->m; j++) {
            r->cell[i * (size_t)r->m + (size_t)j] = t->cells[i][col[j]];
            r->line[i * (size_t)r->m + (size_t)j] = t->line[i];
        }
    }
    free(col);
    r->desc = r->descbuf;
    return PS_OK;
}

/* The long per-case table pivoted on the subject: one subject per (case, label), in order of
 * first appearance; the raters are the values of the rater column (or the listed ones). */
static int long_ratings(const ps_table *t, const ps_ratings_spec *s, ratings *r)
{
    int rc, cval, crater, ccase, clabel = ps_table_col(t, "label");
    const char *name = t->path ? t->path : "(table)";
    const char *rcol = s->rater_col ? s->rater_col : "model";
    if ((rc = ps_table_require_col(t, s->value_col, &cval)) ||
        (rc = ps_table_require_col(t, rcol, &crater)) ||
        (rc = ps_table_require_col(t, "case", &ccase)))
        return rc;
    ps_rowfilter f;
    if ((rc = ps_rowfilter_init(&f, t, NULL, 0)))
        return rc;
    size_t nr = (size_t)t->nrows;
    ps_groups subjects = {0};
    unsigned char *use = ps_malloc_array(nr, 1);
    int64_t *subj_of = ps_malloc_array(nr, sizeof *subj_of);
    int *rater_of = ps_malloc_array(nr, sizeof *rater_of);
    r->rater = ps_calloc(nr + (size_t)s->nraters + 1, sizeof *r->rater);
    if (!use || !subj_of || !rater_of || !r->rater) {
        rc = PS_ERR_NOMEM;
        goto done;
    }
    /* raters: the listed ones, else every value in order of first appearance */
    if (s->nraters > 0) {
        if ((rc = check_distinct(s->raters, s->nraters, "--raters")))
            goto done;
        for (int j = 0; j < s->nraters; j++)
            if (!(r->rater[r->m++] = ps_strdup(s->raters[j]))) {
                rc = PS_ERR_NOMEM;
                goto done;
            }
    }
    for (size_t i = 0; i < nr; i++) {
        const char *v = t->cells[i][crater];
        int j = 0;
        while (j < r->m && strcmp(r->rater[j], v))
            j++;
        if (j == r->m && s->nraters == 0 && !(r->rater[r->m++] = ps_strdup(v))) {
            rc = PS_ERR_NOMEM;
            goto done;
        }
        rater_of[i] = j < r->m ? j : -1;
    }
    for (int j = 0; j < r->m; j++) {
        size_t i = 0;
        while (i < nr && rater_of[i] != j)
            i++;
        if (i == nr) {
            rc = ps_error(PS_ERR_ARG, "%s: no rows with %s '%s'", name, rcol, r->rater[j]);
            goto done;
        }
    }
    if (r->m < 2) {
        rc = ps_error(PS_ERR_ARG, "%s: column '%s' has %d rater(s): agreement needs at least 2",
                      name, rcol, r->m);
        goto done;
    }
    /* subjects: the groups of (case[, label]) over the rows of the selected raters, in order
     * of first appearance (the one grouping of reports/) */
    for (size_t i = 0; i < nr; i++)
        use[i] = rater_of[i] >= 0;
    const char *subj_cols[2] = {"case", "label"};
    if ((rc = ps_groups_build(t, subj_cols, clabel >= 0 ? 2 : 1, use, &subjects)))
        goto done;
    size_t nsub = (size_t)subjects.ngroups;
    for (size_t i = 0; i < nr; i++)
        subj_of[i] = subjects.of_row[i];
    r->n = nsub;
    r->cell = ps_malloc_array(nsub * (size_t)r->m, sizeof *r->cell);
    r->line = ps_malloc_array(nsub * (size_t)r->m, sizeof *r->line);
    r->what = rcol;
    int64_t *src = ps_malloc_array(nsub * (size_t)r->m, sizeof *src);
    if (!r->cell || !r->line || !src) {
        free(src);
        rc = PS_ERR_NOMEM;
        goto done;
    }
    for (size_t i = 0; i < nsub * (size_t)r->m; i++) {
        r->cell[i] = "";
        src[i] = -1;
    }
    for (size_t i = nr; i-- > 0;)
        for (int j = 0; j < r->m && subj_of[i] >= 0; j++)
            r->line[(size_t)subj_of[i] * (size_t)r->m + (size_t)j] = t->line[i];
    for (size_t i = 0; i < nr && !rc; i++) {
        if (rater_of[i] < 0)
            continue;
        size_t k = (size_t)subj_of[i] * (size_t)r->m + (size_t)rater_of[i];
        if (src[k] >= 0) {
            rc = ps_error(PS_ERR_FORMAT, "%s lines %lld and %lld: case '%s'%s%s has two rows for "
                          "%s '%s'", name, (long long)t->line[src[k]], (long long)t->line[i],
                          t->cells[i][ccase], clabel >= 0 ? " label " : "",
                          clabel >= 0 ? t->cells[i][clabel] : "", rcol, r->rater[rater_of[i]]);
            break;
        }
        src[k] = (int64_t)i;
        r->line[k] = t->line[i];
        /* the exclusion rule: a row with status error or missing has no rating */
        if (ps_report_status_excl(&f, (int64_t)i) == PS_EXCL_NONE)
            r->cell[k] = t->cells[i][cval];
    }
    free(src);
    snprintf(r->descbuf, sizeof r->descbuf, "column '%s' by %s", s->value_col, rcol);
    r->desc = r->descbuf;
done:
    free(use);
    ps_groups_free(&subjects);
    free(subj_of);
    free(rater_of);
    ps_rowfilter_free(&f);
    return rc;
}

static int get_ratings(const ps_table *t, const ps_ratings_spec *s, ratings *r)
{
    memset(r, 0, sizeof *r);
    int rc = ps_report_require_rows(t);
    if (!rc)
        rc = s->value_col ? long_ratings(t, s, r) : wide_ratings(t, s, r);
    return rc;
}

/* ---- kappa ---------------------------------------------------------------------------------- */
void ps_kappa_options_init(ps_kappa_options *o)
{
    memset(o, 0, sizeof *o);
    o->level = 0.95;
    o->weights = PS_KAPPA_UNWEIGHTED;
    o->alpha_metric = PS_ALPHA_NOMINAL;
}

/* First non-numeric rating, for the message of the interval/ratio metrics. */
static int report_non_numeric(const char *name, const ratings *r)
{
    for (size_t i = 0; i < r->n; i++)
        for (int j = 0; j < r->m; j++) {
            const char *s = r->cell[i * (size_t)r->m + (size_t)j];
            char *end;
            if (ps_agree_is_missing(s))
                continue;
            double v = strtod(s, &end);
            while (*end == ' ' || *end == '\t')
                end++;
            if (end == s || *end || !isfinite(v))
                return ps_error(PS_ERR_FORMAT, "%s line %lld %s '%s': '%s' is not a number "
                                "(the interval and ratio metrics need numeric ratings)", name,
                                (long long)r->line[i * (size_t)r->m + (size_t)j], r->what,
                                r->rater[j], s);
        }
    return ps_error(PS_ERR_FORMAT, "ratings are not numeric");
}

/* Why se0 is 0 (z and p NaN) for a pair: the raters share no category, or one of them used a
 * single category. */
static const char *se0_reason(const int *a, const int *b, size_t n, int ncat, int *scratch)
{
    int *ua = scratch, *ub = scratch + ncat;
    memset(scratch, 0, 2 * (size_t)ncat * sizeof *scratch);
    for (size_t i = 0; i < n; i++) {
        ua[a[i]] = 1;
        ub[b[i]] = 1;
    }
    int shared = 0, ka = 0, kb = 0;
    for (int c = 0; c < ncat; c++) {
        shared += ua[c] && ub[c];
        ka += ua[c];
        kb += ub[c];
    }
    if (!shared)
        return "the raters share no category: observed and chance agreement are 0";
    if (ka == 1 || kb == 1)
        return "a rater used a single category";
    return "the chance-agreement variance is 0";
}

static int kappa_cols(ps_rtable *rt, int multi)
{
    static const struct { const char *name; ps_cell_kind kind; ps_col_style st; int dig, fl; }
    cols[] = {
        {"rater1", PS_CELL_STR, 0, 0, 0},        {"rater2", PS_CELL_STR, 0, 0, 0},
        {"weights", PS_CELL_STR, 0, 0, PS_COL_DATA_ONLY},
        {"n", PS_CELL_INT, 0, 0, 0},             {"dropped", PS_CELL_INT, 0, 0, 0},
        {"kappa", PS_CELL_NUM, PS_STYLE_FIXED, 4, 0},
        {"se", PS_CELL_NUM, PS_STYLE_FIXED, 4, 0},
        {"se0", PS_CELL_NUM, PS_STYLE_FIXED, 4, 0},
        {"z", PS_CELL_NUM, PS_STYLE_FIXED, 3, 0},
        {"p", PS_CELL_NUM, PS_STYLE_SIG, 3, 0},
        {"ci_low", PS_CELL_NUM, PS_STYLE_FIXED, 4, 0},
        {"ci_high", PS_CELL_NUM, PS_STYLE_FIXED, 4, 0},
        {"fleiss_kappa", PS_CELL_NUM, 0, 0, PS_COL_DATA_ONLY},
        {"fleiss_se0", PS_CELL_NUM, 0, 0, PS_COL_DATA_ONLY},
        {"fleiss_z", PS_CELL_NUM, 0, 0, PS_COL_DATA_ONLY},
        {"fleiss_p", PS_CELL_NUM, 0, 0, PS_COL_DATA_ONLY},
        {"light_kappa", PS_CELL_NUM, 0, 0, PS_COL_DATA_ONLY},
        {"alpha_metric", PS_CELL_STR, 0, 0, PS_COL_DATA_ONLY},
        {"krippendorff_alpha", PS_CELL_NUM, 0, 0, PS_COL_DATA_ONLY},
    };
    int n = multi ? 19 : 12, rc = PS_OK;
    for (int i = 0; i < n && !rc; i++)
        rc = ps_rtable_add_col(rt, cols[i].name, cols[i].kind, cols[i].st, cols[i].dig,
                               cols[i].fl);
    return rc;
}

int ps_report_kappa(const ps_table *t, const ps_kappa_options *o, ps_rtable **out)
{
    *out = NULL;
    const char *name = t->path ? t->path : "(table)";
    ratings R;
    ps_agree_labels *labels = NULL;
    ps_rtable *rt = NULL;
    int *codes = NULL, *complete = NULL, *pa = NULL, *scratch = NULL;
    double *avals = NULL;
    ps_kappa_cohen_result *pairs = NULL;
    ps_kappa_fleiss_result fleiss = {0};
    ps_kripp_alpha alpha = {0};
    double light = NAN;
    int rc = get_ratings(t, &o->ratings, &R);
    if (rc)
        goto done;
    int m = R.m;
    size_t n = R.n, ncell = n * (size_t)m;
    if (n < 2) {
        rc = ps_error(PS_ERR_NUMERIC, "%s: %zu subject%s: kappa needs at least 2", name, n,
                      n == 1 ? "" : "s");
        goto done;
    }
    codes = ps_malloc_array(ncell, sizeof *codes);
    complete = ps_malloc_array(ncell, sizeof *complete);
    if (!codes || !complete) {
        rc = PS_ERR_NOMEM;
        goto done;
    }
    if ((rc = ps_agree_labels_code(R.cell, ncell, codes, &labels))) {
        rc = ps_error_context(rc, "%s, %s", name, R.desc);
        goto done;
    }
    /* A k x k table per pair: refuse what is clearly not categorical data. */
    if (labels->ncat > MAX_CATEGORIES) {
        rc = ps_error(PS_ERR_FORMAT, "%s, %s: %d distinct rating values; kappa is for "
                      "categorical ratings (at most %d categories). For numeric measurements "
                      "use 'panseval icc'", name, R.desc, labels->ncat, MAX_CATEGORIES);
        goto done;
    }
    /* subjects with a rating from every rater */
    size_t nc = 0;
    for (size_t i = 0; i < n; i++) {
        int ok = 1;
        for (int j = 0; j < m; j++)
            ok &= codes[i * (size_t)m + (size_t)j] >= 0;
        if (ok)
            memcpy(complete + nc++ * (size_t)m, codes + i * (size_t)m, (size_t)m * sizeof *codes);
    }
    int64_t dropped = (int64_t)(n - nc);
    if (nc < 2) {
        rc = ps_error(PS_ERR_NUMERIC, "%s: only %zu subject%s with a rating from every rater in "
                      "%s (%lld dropped for a missing rating): kappa needs at least 2 subjects",
                      name, nc, nc == 1 ? "" : "s", R.desc, (long long)dropped);
        goto done;
    }
    if ((rc = ps_rtable_create(&rt)) || (rc = kappa_cols(rt, m >= 3)))
        goto done;
    if (dropped > 0)
        ps_rtable_warn(rt, "kappa: dropped %lld of %zu rows with a missing rating (kappa uses "
                       "%zu subjects%s)", (long long)dropped, n, nc,
                       m >= 3 ? "; Krippendorff's alpha uses every subject with 2+ ratings" : "");

    int npairs = m * (m - 1) / 2;
    pairs = ps_calloc((size_t)npairs, sizeof *pairs);
    pa = ps_malloc_array(2 * nc, sizeof *pa);
    scratch = ps_malloc_array(2 * (size_t)labels->ncat, sizeof *scratch);
    if (!pairs || !pa || !scratch) {
        rc = PS_ERR_NOMEM;
        goto done;
    }
    int p = 0;
    for (int r1 = 0; r1 < m; r1++)
        for (int r2 = r1 + 1; r2 < m; r2++, p++) {
            int *a = pa, *b = pa + nc;
            for (size_t i = 0; i < nc; i++) {
                a[i] = complete[i * (size_t)m + (size_t)r1];
                b[i] = complete[i * (size_t)m + (size_t)r2];
            }
            rc = ps_kappa_cohen(a, b, nc, labels->ncat, o->weights, o->level, &pairs[p]);
            if (rc) {
                rc = ps_error_context(rc, "%s, raters '%s' and '%s'", name, R.rater[r1],
                                      R.rater[r2]);
                goto done;
            }
            if (isnan(pairs[p].z))
                ps_rtable_warn(rt, "kappa: raters '%s' and '%s': the SE under kappa = 0 is 0 (%s), "
                               "so z and p are nan", R.rater[r1], R.rater[r2],
                               se0_reason(a, b, nc, labels->ncat, scratch));
        }
    if (m >= 3) {
        if ((rc = ps_kappa_fleiss(complete, nc, m, labels->ncat, &fleiss)) ||
            (rc = ps_kappa_light(complete, nc, m, labels->ncat, &light, NULL))) {
            rc = ps_error_context(rc, "%s", name);
            goto done;
        }
        int numeric_metric = o->alpha_metric == PS_ALPHA_INTERVAL ||
                             o->alpha_metric == PS_ALPHA_RATIO;
        if (numeric_metric && !labels->numeric) {
            rc = report_non_numeric(name, &R);
            goto done;
        }
        if (!(avals = ps_malloc_array(ncell, sizeof *avals))) {
            rc = PS_ERR_NOMEM;
            goto done;
        }
        /* nominal/ordinal: the category positions (the order is all that matters);
         * interval/ratio: the numeric values */
        for (size_t i = 0; i < ncell; i++)
            avals[i] = codes[i] < 0 ? NAN : numeric_metric ? labels->values[codes[i]]
                                                            : (double)codes[i];
        if ((rc = ps_krippendorff_alpha(avals, n, m, o->alpha_metric, o->threads, &alpha))) {
            rc = ps_error_context(rc, "%s", name);
            goto done;
        }
    }

    /* the text around the table */
    char cats[2048];
    size_t used = 0;
    cats[0] = 0;
    for (int c = 0; c < labels->ncat && used < sizeof cats; c++)
        used += (size_t)snprintf(cats + used, sizeof cats - used, " %s", labels->names[c]);
    rc = ps_rtable_head(rt, "%s, weights: %s, %g%% confidence intervals",
                        m == 2 ? "Cohen's kappa" : "Pairwise Cohen's kappa",
                        ps_kappa_weights_name(o->weights), 100 * o->level);
    rc = rc ? rc : ps_rtable_head(rt, "%zu subjects rated by every rater (%lld rows dropped for "
                                  "a missing rating); %d categories:%s", nc, (long long)dropped,
                                  labels->ncat, cats);
    if (!rc && m >= 3) {
        char z[64], pv[64];
        snprintf(z, sizeof z, isnan(fleiss.z) ? "nan" : "%.3f", fleiss.z);
        snprintf(pv, sizeof pv, isnan(fleiss.p) ? "nan" : "%.3g", fleiss.p);
        rc = ps_rtable_foot(rt, "%d raters", m);
        rc = rc ? rc : ps_rtable_foot(rt, "Fleiss' kappa        %.4f   (se0 %.4f, z %s, p %s)",
                                      fleiss.kappa, fleiss.se0, z, pv);
        rc = rc ? rc : ps_rtable_foot(rt, "Light's kappa        %.4f   (mean of the %d pairwise "
                                      "unweighted kappas)", light, npairs);
        rc = rc ? rc : ps_rtable_foot(rt, "Krippendorff's alpha %.4f   (%s; %lld subjects with "
                                      "2+ ratings, %lld pairable values)", alpha.alpha,
                                      ps_alpha_metric_name(o->alpha_metric),
                                      (long long)alpha.units, (long long)alpha.pairable);
    }
    p = 0;
    for (int r1 = 0; r1 < m && !rc; r1++)
        for (int r2 = r1 + 1; r2 < m && !rc; r2++, p++) {
            const ps_kappa_cohen_result *k = &pairs[p];
            rc = ps_rtable_str(rt, R.rater[r1]);
            rc = rc ? rc : ps_rtable_str(rt, R.rater[r2]);
            rc = rc ? rc : ps_rtable_str(rt, ps_kappa_weights_name(o->weights));
            rc = rc ? rc : ps_rtable_int(rt, (int64_t)nc);
            rc = rc ? rc : ps_rtable_int(rt, dropped);
            const double v[7] = {k->kappa, k->se, k->se0, k->z, k->p, k->ci_low, k->ci_high};
            for (int i = 0; i < 7 && !rc; i++)
                rc = ps_rtable_num(rt, v[i]);
            if (m >= 3) {
                const double u[5] = {fleiss.kappa, fleiss.se0, fleiss.z, fleiss.p, light};
                for (int i = 0; i < 5 && !rc; i++)
                    rc = ps_rtable_num(rt, u[i]);
                rc = rc ? rc : ps_rtable_str(rt, ps_alpha_metric_name(o->alpha_metric));
                rc = rc ? rc : ps_rtable_num(rt, alpha.alpha);
            }
        }
done:
    free(codes);
    free(complete);
    free(pa);
    free(scratch);
    free(avals);
    free(pairs);
    ps_agree_labels_free(labels);
    ratings_free(&R);
    if (rc)
        ps_rtable_free(rt);
    else
        *out = rt;
    return rc;
}

/* ---- ICC ------------------------------------------------------------------------------------ */
void ps_icc_options_init(ps_icc_options *o)
{
    memset(o, 0, sizeof *o);
    o->level = 0.95;
}

int ps_report_icc(const ps_table *t, const ps_icc_options *o, ps_rtable **out)
{
    *out = NULL;
    const char *name = t->path ? t->path : "(table)";
    ratings R;
    ps_rtable *rt = NULL;
    double *x = NULL;
    int rc = get_ratings(t, &o->ratings, &R);
    if (rc)
        goto done;
    int m = R.m;
    if (!(x = ps_malloc_array(R.n * (size_t)m + 1, sizeof *x))) {
        rc = PS_ERR_NOMEM;
        goto done;
    }
    size_t n = 0;
    for (size_t i = 0; i < R.n; i++) {
        const char **row = R.cell + i * (size_t)m;
        int missing = 0;
        for (int j = 0; j < m; j++)
            missing |= ps_agree_is_missing(row[j]);
        if (missing)
            continue;
        for (int j = 0; j < m; j++) {
            char *end;
            const char *s = row[j];
            double v = strtod(s, &end);
            while (*end == ' ' || *end == '\t')
                end++;
            if (end == s || *end) {
                rc = ps_error(PS_ERR_FORMAT, "%s line %lld %s '%s': '%s' is not a number",
                              name, (long long)R.line[i * (size_t)m + (size_t)j], R.what,
                              R.rater[j], s);
                goto done;
            }
            if (!isfinite(v)) {
                rc = ps_error(PS_ERR_FORMAT, "%s line %lld %s '%s': rating '%s' is not "
                              "finite", name, (long long)R.line[i * (size_t)m + (size_t)j],
                              R.what, R.rater[j], s);
                goto done;
            }
            x[n * (size_t)m + (size_t)j] = v;
        }
        n++;
    }
    int64_t dropped = (int64_t)(R.n - n);
    if (n < 2) {
        rc = ps_error(PS_ERR_NUMERIC, "%s: only %zu subject%s with a rating from every rater in "
                      "%s (%lld dropped for a missing rating): the ICC needs at least 2 "
                      "subjects", name, n, n == 1 ? "" : "s", R.desc, (long long)dropped);
        goto done;
    }
    ps_icc_result r;
    if ((rc = ps_icc(x, n, m, o->level, &r))) {
        rc = ps_error_context(rc, "%s, %s", name, R.desc);
        goto done;
    }
    static const struct { const char *name; ps_cell_kind kind; ps_col_style st; int dig, fl; }
    cols[] = {
        {"type", PS_CELL_STR, 0, 0, 0},
        {"description", PS_CELL_STR, 0, 0, 0},
        {"icc", PS_CELL_NUM, PS_STYLE_FIXED, 4, 0},
        {"f", PS_CELL_NUM, PS_STYLE_SIG, 4, 0},
        {"df1", PS_CELL_NUM, PS_STYLE_G6, 0, 0},
        {"df2", PS_CELL_NUM, PS_STYLE_G6, 0, 0},
        {"p", PS_CELL_NUM, PS_STYLE_SIG, 3, 0},
        {"ci_low", PS_CELL_NUM, PS_STYLE_FIXED, 4, 0},
        {"ci_high", PS_CELL_NUM, PS_STYLE_FIXED, 4, 0},
        {"n", PS_CELL_INT, 0, 0, PS_COL_DATA_ONLY},
        {"raters", PS_CELL_INT, 0, 0, PS_COL_DATA_ONLY},
    };
    if ((rc = ps_rtable_create(&rt)))
        goto done;
    for (size_t i = 0; i < sizeof cols / sizeof *cols && !rc; i++)
        rc = ps_rtable_add_col(rt, cols[i].name, cols[i].kind, cols[i].st, cols[i].dig,
                               cols[i].fl);
    if (!rc && dropped > 0)
        rc = ps_rtable_warn(rt, "icc: dropped %lld of %zu rows with a missing rating (the ICC "
                            "uses %zu subjects)", (long long)dropped, R.n, n);
    rc = rc ? rc : ps_rtable_head(rt, "Intraclass correlations (Shrout & Fleiss 1979), %lld "
                                  "subjects x %d raters (%lld rows dropped for a missing "
                                  "rating), %g%% confidence intervals", (long long)r.n,
                                  r.raters, (long long)dropped, 100 * r.level);
    rc = rc ? rc : ps_rtable_head(rt, "MSB %.6g  MSJ %.6g  MSW %.6g  MSE %.6g", r.msb, r.msj,
                                  r.msw, r.mse);
    for (int i = 0; i < PS_ICC_NFORMS && !rc; i++) {
        const ps_icc_estimate *e = &r.form[i];
        if (isnan(e->ci_low) || isnan(e->ci_high))
            ps_rtable_warn(rt, "icc: the confidence interval of %s is undefined for these data "
                           "(written as nan)", ps_icc_form_name((ps_icc_form)i));
        rc = ps_rtable_str(rt, ps_icc_form_name((ps_icc_form)i));
        rc = rc ? rc : ps_rtable_str(rt, ps_icc_form_description((ps_icc_form)i));
        const double v[7] = {e->icc, e->f, e->df1, e->df2, e->p, e->ci_low, e->ci_high};
        for (int j = 0; j < 7 && !rc; j++)
            rc = ps_rtable_num(rt, v[j]);
        rc = rc ? rc : ps_rtable_int(rt, r.n);
        rc = rc ? rc : ps_rtable_int(rt, r.raters);
    }
done:
    free(x);
    ratings_free(&R);
    if (rc)
        ps_rtable_free(rt);
    else
        *out = rt;
    return rc;
}
