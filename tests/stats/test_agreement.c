/* test_agreement.c - rater agreement statistics (stats/ps_stats_agreement.h).
 *
 * Expected values:
 *  - golden/stats/agreement_expected.csv, written by tests/reference/agreement_reference.py
 *    (statsmodels cohens_kappa and fleiss_kappa, sklearn cohen_kappa_score, a numpy
 *    transcription of irr::kappam.fleiss, a numpy implementation of Krippendorff (2011),
 *    numpy + scipy.stats.f transcription of psych::ICC); the source is named on every row;
 *  - golden/stats/agreement_expected_R.csv, written by tests/reference/agreement_reference.R
 *    (base R transcriptions of irr::kappam.fleiss and psych::ICC);
 *  - values printed in the publications (to their printed precision), hand calculations.
 * Every statistic, p-values included, is compared with relative tolerance PS_TOL_REF.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ps_stats.h"
#include "ps_test.h"

/* |a - b| <= tol |b| (a true relative comparison, also for tiny p-values); NaN == NaN. */
static int rel_close(double a, double b, double tol)
{
    if (isnan(b))
        return isnan(a);
    if (isinf(b))
        return a == b;
    return fabs(a - b) <= tol * fabs(b) || fabs(a - b) <= 1e-300;
}

#define ck_assert_rel(a, b, tol)                                                          \
    ck_assert_msg(rel_close((a), (b), (tol)), "%s = %.17g, expected %.17g (rel tol %g)",  \
                  #a, (double)(a), (double)(b), (double)(tol))

/* ---- a tiny CSV reader for the committed data tables ---------------------------------- */
typedef struct dtable {
    int nrow, ncol;
    double *x;     /* nrow x ncol, NaN = NA */
    char **text;   /* nrow x ncol cell texts */
} dtable;

static void dtable_free(dtable *t)
{
    for (int i = 0; i < t->nrow * t->ncol; i++)
        free(t->text[i]);
    free(t->text);
    free(t->x);
}

static dtable load_data(const char *name)
{
    char rel[256];
    snprintf(rel, sizeof rel, "golden/stats/agreement_data_%s.csv", name);
    FILE *f = fopen(ps_test_path(rel), "r");
    ck_assert_msg(f != NULL, "cannot open %s", rel);
    dtable t = {0, 0, NULL, NULL};
    static char line[1 << 16];
    int cap = 0;
    int header = 1;
    while (fgets(line, sizeof line, f)) {
        line[strcspn(line, "\r\n")] = 0;
        if (!*line)
            continue;
        int nc = 1;
        for (char *p = line; *p; p++)
            nc += *p == ',';
        if (header) {
            t.ncol = nc;
            header = 0;
            continue;
        }
        ck_assert_int_eq(nc, t.ncol);
        if (t.nrow == cap) {
            cap = cap ? 2 * cap : 64;
            t.x = realloc(t.x, (size_t)cap * t.ncol * sizeof *t.x);
            t.text = realloc(t.text, (size_t)cap * t.ncol * sizeof *t.text);
        }
        char *save = NULL, *tok = strtok_r(line, ",", &save);
        for (int j = 0; j < t.ncol; j++, tok = strtok_r(NULL, ",", &save)) {
            ck_assert(tok != NULL);
            size_t at = (size_t)t.nrow * t.ncol + j;
            t.text[at] = strdup(tok);
            t.x[at] = strcmp(tok, "NA") ? strtod(tok, NULL) : NAN;
        }
        t.nrow++;
    }
    fclose(f);
    return t;
}

/* Rows of `t` complete in the columns cols[0..nc-1]: their values (row-major) and texts. */
static int complete_rows(const dtable *t, const int *cols, int nc, double *x, const char **text)
{
    int n = 0;
    for (int i = 0; i < t->nrow; i++) {
        int ok = 1;
        for (int j = 0; j < nc; j++)
            ok &= !isnan(t->x[i * t->ncol + cols[j]]);
        if (!ok)
            continue;
        for (int j = 0; j < nc; j++) {
            x[n * nc + j] = t->x[i * t->ncol + cols[j]];
            text[n * nc + j] = t->text[i * t->ncol + cols[j]];
        }
        n++;
    }
    return n;
}

/* Compute statistic `key` of `method`/`option` on `dataset` (raters "i j" or "all"). */
static double compute(const char *dataset, const char *raters, const char *method,
                      const char *option, const char *key)
{
    dtable t = load_data(dataset);
    if (strstr(raters, "listwise")) { /* keep only the rows complete for every rater */
        int keep = 0;
        for (int i = 0; i < t.nrow; i++) {
            int ok = 1;
            for (int j = 0; j < t.ncol; j++)
                ok &= !isnan(t.x[i * t.ncol + j]);
            for (int j = 0; j < t.ncol; j++) {
                size_t from = (size_t)i * t.ncol + j, to = (size_t)keep * t.ncol + j;
                if (!ok) {
                    free(t.text[from]);
                } else {
                    t.x[to] = t.x[from];
                    t.text[to] = t.text[from];
                }
            }
            keep += ok;
        }
        t.nrow = keep;
    }
    int cols[128], nc = 0;
    if (!strcmp(raters, "all")) {
        for (int j = 0; j < t.ncol; j++)
            cols[nc++] = j;
    } else {
        nc = sscanf(raters, "%d %d", &cols[0], &cols[1]);
        ck_assert_int_eq(nc, 2);
    }
    size_t cells = (size_t)t.nrow * nc;
    double *x = malloc(cells * sizeof *x);
    const char **text = malloc(cells * sizeof *text);
    int *codes = malloc(cells * sizeof *codes);
    int n = complete_rows(&t, cols, nc, x, text);
    double v = NAN;
    int rc = 0;
    if (!strcmp(method, "cohen") || !strcmp(method, "fleiss") || !strcmp(method, "light")) {
        ps_agree_labels *lab = NULL;
        rc = ps_agree_labels_code(text, (size_t)n * nc, codes, &lab);
        ck_assert_msg(rc == 0, "%s", ps_error_message());
        if (!strcmp(method, "cohen")) {
            int *a = malloc(n * sizeof *a), *b = malloc(n * sizeof *b);
            for (int i = 0; i < n; i++) {
                a[i] = codes[2 * i];
                b[i] = codes[2 * i + 1];
            }
            ps_kappa_weights w;
            ck_assert_int_eq(ps_kappa_weights_parse(option, &w), 0);
            ps_kappa_cohen_result r;
            rc = ps_kappa_cohen(a, b, n, lab->ncat, w, 0.95, &r);
            free(a);
            free(b);
            v = !strcmp(key, "kappa") ? r.kappa : !strcmp(key, "se") ? r.se
                : !strcmp(key, "se0") ? r.se0 : !strcmp(key, "z") ? r.z
                : !strcmp(key, "p") ? r.p : !strcmp(key, "ci_low") ? r.ci_low
                : !strcmp(key, "ci_high") ? r.ci_high : NAN;
        } else if (!strcmp(method, "fleiss")) {
            ps_kappa_fleiss_result r;
            rc = ps_kappa_fleiss(codes, n, nc, lab->ncat, &r);
            v = !strcmp(key, "kappa") ? r.kappa : !strcmp(key, "se0") ? r.se0
                : !strcmp(key, "z") ? r.z : !strcmp(key, "p") ? r.p : NAN;
        } else {
            rc = ps_kappa_light(codes, n, nc, lab->ncat, &v, NULL);
        }
        ps_agree_labels_free(lab);
    } else if (!strcmp(method, "alpha")) {
        ps_alpha_metric m;
        ck_assert_int_eq(ps_alpha_metric_parse(option, &m), 0);
        ps_kripp_alpha r;
        rc = ps_krippendorff_alpha(t.x, t.nrow, t.ncol, m, 1, &r); /* missing values kept */
        v = r.alpha;
    } else if (!strcmp(method, "icc")) {
        ps_icc_result r;
        rc = ps_icc(x, n, nc, 0.95, &r);
        int f = -1;
        for (int i = 0; i < PS_ICC_NFORMS; i++)
            if (!strcmp(ps_icc_form_name((ps_icc_form)i), option))
                f = i;
        ck_assert_int_ge(f, 0);
        const ps_icc_estimate *e = &r.form[f];
        v = !strcmp(key, "icc") ? e->icc : !strcmp(key, "f") ? e->f : !strcmp(key, "df1") ? e->df1
            : !strcmp(key, "df2") ? e->df2 : !strcmp(key, "p") ? e->p
            : !strcmp(key, "ci_low") ? e->ci_low : !strcmp(key, "ci_high") ? e->ci_high : NAN;
    } else {
        ck_abort_msg("unknown method %s", method);
    }
    ck_assert_msg(rc == 0, "%s %s %s: %s", dataset, method, option, ps_error_message());
    free(x);
    free(text);
    free(codes);
    dtable_free(&t);
    return v;
}

/* Compare every row of a golden file; report all mismatches, fail if any. */
static void check_golden(const char *rel, int min_rows)
{
    FILE *f = fopen(ps_test_path(rel), "r");
    ck_assert_msg(f != NULL, "cannot open %s", rel);
    char line[1024];
    int rows = 0, bad = 0, header = 1;
    double worst = 0; /* largest relative difference, reported in the test log */
    while (fgets(line, sizeof line, f)) {
        if (line[0] == '#')
            continue;
        if (header) {
            header = 0;
            continue;
        }
        line[strcspn(line, "\r\n")] = 0;
        /* dataset,raters,method,option,key,value,"source" (R quotes the first fields too) */
        char *fld[7] = {0};
        char *p = line;
        for (int i = 0; i < 7 && p; i++) {
            fld[i] = p;
            char *c = strchr(p, ',');
            if (c && i < 6) {
                *c = 0;
                p = c + 1;
            } else {
                p = NULL;
            }
        }
        for (int i = 0; i < 6; i++) { /* strip quotes */
            size_t L = strlen(fld[i]);
            if (L >= 2 && fld[i][0] == '"') {
                fld[i][L - 1] = 0;
                fld[i]++;
            }
        }
        double expected = strtod(fld[5], NULL);
        double got = compute(fld[0], fld[1], fld[2], fld[3], fld[4]);
        if (expected != 0 && isfinite(expected) && fabs(got - expected) / fabs(expected) > worst)
            worst = fabs(got - expected) / fabs(expected);
        if (!rel_close(got, expected, PS_TOL_REF)) {
            fprintf(stderr, "%s: %s [%s] %s %s %s = %.17g, expected %.17g (%s)\n", rel, fld[0],
                    fld[1], fld[2], fld[3], fld[4], got, expected, fld[6]);
            bad++;
        }
        rows++;
    }
    fclose(f);
    fprintf(stderr, "%s: %d values, largest relative difference %.3g\n", rel, rows, worst);
    ck_assert_int_ge(rows, min_rows);
    ck_assert_msg(bad == 0, "%d of %d golden values differ (see stderr)", bad, rows);
}

START_TEST(test_golden_python)
{
    check_golden("golden/stats/agreement_expected.csv", 1100);
}
END_TEST

START_TEST(test_golden_r)
{
    check_golden("golden/stats/agreement_expected_R.csv", 290);
}
END_TEST

/* ---- published values ---------------------------------------------------------------- */
START_TEST(test_published)
{
    /* SAS PROC FREQ example (statsmodels test_inter_rater.py table10): kappa 0.4842,
     * ASE 0.1380, CI 0.2137..0.7547, ASE0 0.1484, Z 3.2626, two-sided p 0.0011; weighted
     * (Cicchetti-Allison) 0.4701, 0.1457, 0.1845..0.7558, 0.1426, 3.2971, 0.0010. */
    const double t10[9] = {0, 4, 1, 0, 8, 0, 0, 1, 5};
    ps_kappa_cohen_result r;
    ck_assert_int_eq(ps_kappa_cohen_table(t10, 3, PS_KAPPA_UNWEIGHTED, 0.95, &r), 0);
    ck_assert_close_abs(r.kappa, 0.4842, 5e-5);
    ck_assert_close_abs(r.se, 0.1380, 5e-5);
    ck_assert_close_abs(r.ci_low, 0.2137, 5e-5);
    ck_assert_close_abs(r.ci_high, 0.7547, 5e-5);
    ck_assert_close_abs(r.se0, 0.1484, 5e-5);
    ck_assert_close_abs(r.z, 3.2626, 5e-5);
    ck_assert_close_abs(r.p, 0.0011, 5e-5);
    ck_assert_int_eq(r.n, 19);
    ck_assert_int_eq(ps_kappa_cohen_table(t10, 3, PS_KAPPA_LINEAR, 0.95, &r), 0);
    ck_assert_close_abs(r.kappa, 0.4701, 5e-5);
    ck_assert_close_abs(r.se, 0.1457, 5e-5);
    ck_assert_close_abs(r.ci_low, 0.1845, 5e-5);
    ck_assert_close_abs(r.ci_high, 0.7558, 5e-5);
    ck_assert_close_abs(r.se0, 0.1426, 5e-5);
    ck_assert_close_abs(r.z, 3.2971, 5e-5);
    ck_assert_close_abs(r.p, 0.0010, 5e-5);

    /* Fleiss (1971) diagnoses, R irr::kappam.fleiss: Kappa = 0.4302445, z = 17.65183
     * (statsmodels test_fleiss_kappa_irr) */
    ck_assert_close_abs(compute("diagnoses", "all", "fleiss", "", "kappa"), 0.4302445, 5e-8);
    ck_assert_close_abs(compute("diagnoses", "all", "fleiss", "", "z"), 17.65183, 5e-6);
    /* Wikipedia's Fleiss' kappa example (statsmodels test_fleiss_kappa): 0.210 */
    ck_assert_close_abs(compute("wiki_fleiss", "all", "fleiss", "", "kappa"), 0.210, 5e-4);
    /* irr::kappa2(anxiety[,2:3]) unweighted / "equal" / "squared":
     * kappa -0.006289308, 0.1459075, 0.2520325; z -0.0604067, 1.282472, 1.437451;
     * p 0.9518317, 0.1996772, 0.1505898 (statsmodels test_cohens_kappa_irr) */
    ck_assert_close_abs(compute("anxiety", "1 2", "cohen", "none", "kappa"), -0.006289308, 5e-10);
    ck_assert_close_abs(compute("anxiety", "1 2", "cohen", "none", "z"), -0.0604067, 5e-8);
    ck_assert_close_abs(compute("anxiety", "1 2", "cohen", "none", "p"), 0.9518317, 5e-8);
    ck_assert_close_abs(compute("anxiety", "1 2", "cohen", "linear", "kappa"), 0.1459075, 5e-8);
    ck_assert_close_abs(compute("anxiety", "1 2", "cohen", "linear", "z"), 1.282472, 5e-7);
    ck_assert_close_abs(compute("anxiety", "1 2", "cohen", "linear", "p"), 0.1996772, 5e-8);
    ck_assert_close_abs(compute("anxiety", "1 2", "cohen", "quadratic", "kappa"), 0.2520325, 5e-8);
    ck_assert_close_abs(compute("anxiety", "1 2", "cohen", "quadratic", "z"), 1.437451, 5e-7);
    ck_assert_close_abs(compute("anxiety", "1 2", "cohen", "quadratic", "p"), 0.1505898, 5e-8);

    /* Krippendorff (2011), reliability data of section C: nominal 0.743, ordinal 0.815,
     * interval 0.849, ratio 0.797 */
    ck_assert_close_abs(compute("kripp2011", "all", "alpha", "nominal", "alpha"), 0.743, 5e-4);
    ck_assert_close_abs(compute("kripp2011", "all", "alpha", "ordinal", "alpha"), 0.815, 5e-4);
    ck_assert_close_abs(compute("kripp2011", "all", "alpha", "interval", "alpha"), 0.849, 5e-4);
    ck_assert_close_abs(compute("kripp2011", "all", "alpha", "ratio", "alpha"), 0.797, 5e-4);
    /* nominal by hand: n.. = 40 pairable values (unit 12 has one value), counts of values
     * 1..5 = 9, 13, 10, 5, 3; mismatching ordered pairs / (m_u - 1): unit 2 6/3, unit 6
     * 12/3, unit 8 6/3, sum 8; expected sum 40^2 - (81 + 169 + 100 + 25 + 9) = 1216
     * -> alpha = 1 - 39 * 8 / 1216 = 0.74342... */
    ck_assert_close(compute("kripp2011", "all", "alpha", "nominal", "alpha"),
                    1.0 - 39.0 * 8.0 / 1216.0, PS_TOL_EXACT);

    /* Shrout & Fleiss (1979), Table 4: .17 .29 .71 .44 .62 .91 */
    const char *forms[6] = {"ICC1", "ICC2", "ICC3", "ICC1k", "ICC2k", "ICC3k"};
    const double sf[6] = {0.17, 0.29, 0.71, 0.44, 0.62, 0.91};
    for (int i = 0; i < 6; i++)
        ck_assert_close_abs(compute("shrout", "all", "icc", forms[i], "icc"), sf[i], 0.005);
}
END_TEST

/* ---- conventions and hand calculations --------------------------------------------------- */
START_TEST(test_labels)
{
    /* numeric: ordered by value, "1" and "1.0" one category, 2 < 10 */
    const char *c1[] = {"10", "2", "1", "NA", "1.0", "", " nan", "2"};
    int codes[8];
    ps_agree_labels *l = NULL;
    ck_assert_int_eq(ps_agree_labels_code(c1, 8, codes, &l), 0);
    ck_assert_int_eq(l->ncat, 3);
    ck_assert_int_eq(l->numeric, 1);
    ck_assert_str_eq(l->names[0], "1");
    ck_assert_str_eq(l->names[2], "10");
    const int want1[8] = {2, 1, 0, -1, 0, -1, -1, 1};
    for (int i = 0; i < 8; i++)
        ck_assert_int_eq(codes[i], want1[i]);
    ps_agree_labels_free(l);
    /* text: strcmp order */
    const char *c2[] = {"benign", "malignant", "10", "NA", "benign"};
    ck_assert_int_eq(ps_agree_labels_code(c2, 5, codes, &l), 0);
    ck_assert_int_eq(l->numeric, 0);
    ck_assert_int_eq(l->ncat, 3);
    ck_assert_str_eq(l->names[0], "10");
    ck_assert_int_eq(codes[0], 1);
    ck_assert_int_eq(codes[3], -1);
    ps_agree_labels_free(l);
    /* all missing */
    const char *c3[] = {"NA", ""};
    ck_assert_int_eq(ps_agree_labels_code(c3, 2, codes, &l), PS_ERR_NUMERIC);
    ck_assert_ptr_null(l);
    ps_agree_labels_free(NULL);
}
END_TEST

START_TEST(test_kappa_hand)
{
    /* 2x2 table [[20, 5], [10, 15]], N = 50: po = 0.7, row margins 0.5 0.5, column margins
     * 0.6 0.4, pe = 0.3 + 0.2 = 0.5, kappa = (0.7 - 0.5)/0.5 = 0.4. With 2 categories
     * linear and quadratic weights equal the identity. */
    const double t[4] = {20, 5, 10, 15};
    ps_kappa_cohen_result r, rl;
    ck_assert_int_eq(ps_kappa_cohen_table(t, 2, PS_KAPPA_UNWEIGHTED, 0.95, &r), 0);
    ck_assert_close(r.kappa, 0.4, PS_TOL_EXACT);
    ck_assert_close(r.po, 0.7, PS_TOL_EXACT);
    ck_assert_close(r.pe, 0.5, PS_TOL_EXACT);
    ck_assert_int_eq(ps_kappa_cohen_table(t, 2, PS_KAPPA_QUADRATIC, 0.95, &rl), 0);
    ck_assert_close(rl.kappa, r.kappa, PS_TOL_EXACT);
    ck_assert_close(rl.se, r.se, PS_TOL_EXACT);
    ck_assert_close(rl.se0, r.se0, PS_TOL_EXACT);
    /* var0 = (pe + pe^2 - sum r_i c_i (r_i + c_i)) / ((1 - pe)^2 N)
     *      = (0.5 + 0.25 - (0.3 * 1.1 + 0.2 * 0.9)) / (0.25 * 50) = 0.24 / 12.5 */
    ck_assert_close(r.se0, sqrt(0.24 / 12.5), PS_TOL_EXACT);
    ck_assert_close(r.z, 0.4 / sqrt(0.24 / 12.5), PS_TOL_EXACT);
    /* CI is kappa -+ 1.959963984540054 se */
    ck_assert_close(r.ci_high - r.kappa, 1.959963984540054 * r.se, 1e-13);

    /* perfect agreement, n = 2: kappa 1, se 0, CI [1, 1] */
    const int a[2] = {0, 1}, b[2] = {0, 1};
    ck_assert_int_eq(ps_kappa_cohen(a, b, 2, 2, PS_KAPPA_UNWEIGHTED, 0.95, &r), 0);
    ck_assert_close(r.kappa, 1.0, PS_TOL_EXACT);
    ck_assert_close_abs(r.se, 0.0, 1e-15);
    ck_assert_close(r.ci_low, 1.0, 1e-12);

    /* a constant rater: kappa = 0 and SE under H0 = 0, so z and p are NaN (documented) */
    const int c0[4] = {0, 0, 0, 0}, c1[4] = {0, 1, 1, 0};
    ck_assert_int_eq(ps_kappa_cohen(c0, c1, 4, 2, PS_KAPPA_UNWEIGHTED, 0.95, &r), 0);
    ck_assert_close_abs(r.kappa, 0.0, 1e-15);
    ck_assert(isnan(r.z) && isnan(r.p));

    /* Degenerate margins (the demo data's status: modelA always ok, modelB 23 ok and one
     * pred_empty). Table [[23, 1], [0, 0]], N = 24: r = (1, 0), c = (23/24, 1/24),
     * po = pe = 23/24, kappa = 0; wr_0 = pe, wc_j = w_0j, so every term of var0 is
     * c_j pe^2: var0 = (pe^2 - pe^2) / ((1 - pe)^2 N) = 0, and var = var0 (p_0j = c_j).
     * So se = se0 = 0 exactly and z, p NaN, for every weighting and either orientation
     * (statsmodels 0.13.5 returns the rounding instead: var0 = -5.3e-15 unweighted, +5.3e-15
     * linear, z nan / 0; tests/golden/stats/kappa_degenerate_statsmodels.csv). */
    const double dg[4] = {23, 1, 0, 0}, dgt[4] = {23, 0, 1, 0};
    for (int wi = 0; wi < 3; wi++)
        for (int o = 0; o < 2; o++) {
            ck_assert_int_eq(ps_kappa_cohen_table(o ? dgt : dg, 2, (ps_kappa_weights)wi, 0.95,
                                                  &r), 0);
            ck_assert(r.kappa == 0.0 && r.se == 0.0 && r.se0 == 0.0);
            ck_assert(isnan(r.z) && isnan(r.p));
            ck_assert_close(r.pe, 23.0 / 24.0, PS_TOL_EXACT);
            ck_assert(r.ci_low == 0.0 && r.ci_high == 0.0);
        }
    /* one rater uses one of three categories: [[5, 3, 2], 0, 0]: the same argument */
    const double d3[9] = {5, 3, 2, 0, 0, 0, 0, 0, 0};
    ck_assert_int_eq(ps_kappa_cohen_table(d3, 3, PS_KAPPA_LINEAR, 0.95, &r), 0);
    ck_assert(r.kappa == 0.0 && r.se0 == 0.0 && isnan(r.z));
    /* unweighted, no shared category (rater 1 uses {0, 1}, rater 2 {2, 3}): po = pe = 0 and
     * every term of var0 with r_i c_j > 0 has c_i = r_j = 0, so var0 = 0 */
    const double ns[16] = {0, 0, 1, 2, 0, 0, 3, 1, 0, 0, 0, 0, 0, 0, 0, 0};
    ck_assert_int_eq(ps_kappa_cohen_table(ns, 4, PS_KAPPA_UNWEIGHTED, 0.95, &r), 0);
    ck_assert(r.kappa == 0.0 && r.se0 == 0.0 && isnan(r.z) && isnan(r.p));
    ck_assert_close_abs(r.pe, 0.0, 1e-15);

    /* unobserved codes are dropped: codes {0, 2} of 3 behave as 2 categories */
    const int u1[4] = {0, 2, 2, 0}, u2[4] = {0, 2, 0, 0};
    ps_kappa_cohen_result r3, r2;
    const int v1[4] = {0, 1, 1, 0}, v2[4] = {0, 1, 0, 0};
    ck_assert_int_eq(ps_kappa_cohen(u1, u2, 4, 3, PS_KAPPA_LINEAR, 0.95, &r3), 0);
    ck_assert_int_eq(ps_kappa_cohen(v1, v2, 4, 2, PS_KAPPA_LINEAR, 0.95, &r2), 0);
    ck_assert_int_eq(r3.ncat, 2);
    ck_assert_close(r3.kappa, r2.kappa, PS_TOL_EXACT);
}
END_TEST

START_TEST(test_icc_limits)
{
    /* Exactly additive ratings (rater 2 = rater 1 + 1): MSE = 0, so ICC3 = ICC3k = 1,
     * F3 = inf, p = 0 and their limits are 1; ICC2 < 1 with v = k - 1 = 1. */
    const double x[8] = {1, 2, 3, 4, 5, 6, 9, 10};
    ps_icc_result r;
    ck_assert_int_eq(ps_icc(x, 4, 2, 0.95, &r), 0);
    ck_assert_close(r.form[PS_ICC3].icc, 1.0, PS_TOL_EXACT);
    ck_assert(isinf(r.form[PS_ICC3].f));
    ck_assert(r.form[PS_ICC3].p == 0.0);
    ck_assert(r.form[PS_ICC3].ci_low == 1.0 && r.form[PS_ICC3].ci_high == 1.0);
    ck_assert(r.form[PS_ICC3K].ci_low == 1.0 && r.form[PS_ICC3K].ci_high == 1.0);
    ck_assert(r.form[PS_ICC2].icc < 1.0);
    ck_assert(isfinite(r.form[PS_ICC2].ci_low) && isfinite(r.form[PS_ICC2].ci_high));
    ck_assert(r.form[PS_ICC2].ci_low <= r.form[PS_ICC2].icc);
    ck_assert(r.form[PS_ICC2].icc <= r.form[PS_ICC2].ci_high);
    /* identical raters: every form is 1 with limits 1 */
    const double y[6] = {1, 1, 2, 2, 4, 4};
    ck_assert_int_eq(ps_icc(y, 3, 2, 0.95, &r), 0);
    for (int f = 0; f < PS_ICC_NFORMS; f++) {
        ck_assert_close(r.form[f].icc, 1.0, PS_TOL_EXACT);
        ck_assert(r.form[f].p == 0.0);
        ck_assert_close(r.form[f].ci_low, 1.0, PS_TOL_EXACT);
        ck_assert_close(r.form[f].ci_high, 1.0, PS_TOL_EXACT);
    }
    /* Shrout-Fleiss mean squares (their Table 3): BMS 11.24, WMS 6.26, JMS 32.49, EMS 1.02 */
    dtable t = load_data("shrout");
    ck_assert_int_eq(ps_icc(t.x, 6, 4, 0.95, &r), 0);
    ck_assert_close_abs(r.msb, 11.24, 0.005);
    ck_assert_close_abs(r.msw, 6.26, 0.005);
    ck_assert_close_abs(r.msj, 32.49, 0.005);
    ck_assert_close_abs(r.mse, 1.02, 0.005);
    dtable_free(&t);
    ck_assert_str_eq(ps_icc_form_name(PS_ICC2K), "ICC2k");
    ck_assert_str_eq(ps_icc_form_description(PS_ICC3), "two-way mixed, consistency, single rater");
}
END_TEST

START_TEST(test_alpha_threads)
{
    /* the O(V^2) expected disagreement must not depend on the thread count */
    dtable t = load_data("icc_large");
    ps_kripp_alpha r1, r2;
    for (int m = PS_ALPHA_ORDINAL; m <= PS_ALPHA_RATIO; m++) {
        ck_assert_int_eq(ps_krippendorff_alpha(t.x, t.nrow, t.ncol, m, 1, &r1), 0);
        ck_assert_int_eq(ps_krippendorff_alpha(t.x, t.nrow, t.ncol, m, 2, &r2), 0);
        ck_assert(r1.alpha == r2.alpha);
        ck_assert_int_gt(r1.nvalues, 4000);
    }
    dtable_free(&t);
    /* interval alpha of complete data is invariant under a shift of all values */
    double x[6] = {1, 2, 2, 3, 5, 4}, y[6];
    for (int i = 0; i < 6; i++)
        y[i] = x[i] + 1e6;
    ck_assert_int_eq(ps_krippendorff_alpha(x, 3, 2, PS_ALPHA_INTERVAL, 1, &r1), 0);
    ck_assert_int_eq(ps_krippendorff_alpha(y, 3, 2, PS_ALPHA_INTERVAL, 1, &r2), 0);
    ck_assert_close(r1.alpha, r2.alpha, 1e-9);
    /* ratio metric with zeros: 0 = 0 is no disagreement */
    const double z[6] = {0, 0, 1, 1, 2, 2};
    ck_assert_int_eq(ps_krippendorff_alpha(z, 3, 2, PS_ALPHA_RATIO, 1, &r1), 0);
    ck_assert_close(r1.alpha, 1.0, PS_TOL_EXACT);
}
END_TEST

/* ---- error paths ----------------------------------------------------------------------- */
START_TEST(test_errors)
{
    ps_kappa_cohen_result r;
    ps_kappa_fleiss_result fr;
    ps_kripp_alpha ar;
    ps_icc_result ir;
    double k;
    const int same[3] = {1, 1, 1};
    ck_assert_int_eq(ps_kappa_cohen(same, same, 3, 2, PS_KAPPA_UNWEIGHTED, 0.95, &r),
                     PS_ERR_NUMERIC);
    ck_assert_ptr_nonnull(strstr(ps_error_message(), "one category"));
    ck_assert_int_eq(ps_kappa_cohen(same, same, 0, 2, PS_KAPPA_UNWEIGHTED, 0.95, &r),
                     PS_ERR_NUMERIC);
    const int bad[2] = {0, 5};
    ck_assert_int_eq(ps_kappa_cohen(bad, bad, 2, 2, PS_KAPPA_UNWEIGHTED, 0.95, &r), PS_ERR_ARG);
    ck_assert_ptr_nonnull(strstr(ps_error_message(), "subject 2"));
    const double t1[1] = {5};
    ck_assert_int_eq(ps_kappa_cohen_table(t1, 1, PS_KAPPA_UNWEIGHTED, 0.95, &r), PS_ERR_NUMERIC);
    const double tneg[4] = {1, -1, 0, 1};
    ck_assert_int_eq(ps_kappa_cohen_table(tneg, 2, PS_KAPPA_UNWEIGHTED, 0.95, &r), PS_ERR_ARG);
    const double t2[4] = {1, 0, 1, 1};
    ck_assert_int_eq(ps_kappa_cohen_table(t2, 2, PS_KAPPA_UNWEIGHTED, 1.5, &r), PS_ERR_ARG);
    ps_kappa_weights w;
    ck_assert_int_eq(ps_kappa_weights_parse("cubic", &w), PS_ERR_ARG);
    ck_assert_ptr_nonnull(strstr(ps_error_message(), "cubic"));
    ck_assert_int_eq(ps_kappa_weights_parse("Quadratic", &w), 0);
    ck_assert_int_eq(w, PS_KAPPA_QUADRATIC);
    ck_assert_str_eq(ps_kappa_weights_name(PS_KAPPA_LINEAR), "linear");

    const int c6[6] = {0, 0, 0, 0, 0, 0};
    ck_assert_int_eq(ps_kappa_fleiss(c6, 2, 3, 2, &fr), PS_ERR_NUMERIC);
    ck_assert_ptr_nonnull(strstr(ps_error_message(), "one category"));
    const int cm[6] = {0, 1, -1, 0, 1, 1};
    ck_assert_int_eq(ps_kappa_fleiss(cm, 2, 3, 2, &fr), PS_ERR_ARG);
    ck_assert_ptr_nonnull(strstr(ps_error_message(), "subject 1 rater 3"));
    ck_assert_int_eq(ps_kappa_fleiss(cm, 2, 1, 2, &fr), PS_ERR_ARG);
    ck_assert_int_eq(ps_kappa_light(c6, 2, 3, 2, &k, NULL), PS_ERR_NUMERIC);
    ck_assert_ptr_nonnull(strstr(ps_error_message(), "raters 1 and 2"));

    const double lone[4] = {1, NAN, NAN, 2};
    ck_assert_int_eq(ps_krippendorff_alpha(lone, 2, 2, PS_ALPHA_NOMINAL, 1, &ar), PS_ERR_NUMERIC);
    ck_assert_ptr_nonnull(strstr(ps_error_message(), "two or more ratings"));
    const double eq[4] = {3, 3, 3, 3};
    ck_assert_int_eq(ps_krippendorff_alpha(eq, 2, 2, PS_ALPHA_INTERVAL, 1, &ar), PS_ERR_NUMERIC);
    const double inf[2] = {1, INFINITY};
    ck_assert_int_eq(ps_krippendorff_alpha(inf, 1, 2, PS_ALPHA_NOMINAL, 1, &ar), PS_ERR_ARG);
    const double neg[2] = {1, -2};
    ck_assert_int_eq(ps_krippendorff_alpha(neg, 1, 2, PS_ALPHA_RATIO, 1, &ar), PS_ERR_ARG);
    ck_assert_ptr_nonnull(strstr(ps_error_message(), "negative"));
    ps_alpha_metric m;
    ck_assert_int_eq(ps_alpha_metric_parse("circular", &m), PS_ERR_ARG);
    ck_assert_str_eq(ps_alpha_metric_name(PS_ALPHA_RATIO), "ratio");

    const double one[2] = {1, 2};
    ck_assert_int_eq(ps_icc(one, 1, 2, 0.95, &ir), PS_ERR_NUMERIC);
    ck_assert_ptr_nonnull(strstr(ps_error_message(), "2 subjects"));
    ck_assert_int_eq(ps_icc(one, 2, 1, 0.95, &ir), PS_ERR_NUMERIC);
    const double flat[4] = {2, 2, 2, 2};
    ck_assert_int_eq(ps_icc(flat, 2, 2, 0.95, &ir), PS_ERR_NUMERIC);
    ck_assert_ptr_nonnull(strstr(ps_error_message(), "all ratings are equal"));
    const double samemean[4] = {1, 2, 2, 1};
    ck_assert_int_eq(ps_icc(samemean, 2, 2, 0.95, &ir), PS_ERR_NUMERIC);
    ck_assert_ptr_nonnull(strstr(ps_error_message(), "same mean"));
    const double nan4[4] = {1, 2, NAN, 1};
    ck_assert_int_eq(ps_icc(nan4, 2, 2, 0.95, &ir), PS_ERR_ARG);
    ck_assert_ptr_nonnull(strstr(ps_error_message(), "subject 2 rater 1"));
    const double ok4[4] = {1, 2, 3, 5};
    ck_assert_int_eq(ps_icc(ok4, 2, 2, 0.0, &ir), PS_ERR_ARG);
}
END_TEST

static Suite *agreement_suite(void)
{
    Suite *s = suite_create("stats_agreement");
    TCase *tc = tcase_create("core");
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, test_golden_python);
    tcase_add_test(tc, test_golden_r);
    tcase_add_test(tc, test_published);
    tcase_add_test(tc, test_labels);
    tcase_add_test(tc, test_kappa_hand);
    tcase_add_test(tc, test_icc_limits);
    tcase_add_test(tc, test_alpha_threads);
    tcase_add_test(tc, test_errors);
    suite_add_tcase(s, tc);
    return s;
}

PS_TEST_MAIN(agreement_suite)
