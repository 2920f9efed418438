/* test_stats_reference.c - the stats module against R 4.2.2, scipy 1.10, numpy, sklearn and
 * statsmodels.
 *
 * Inputs: tests/golden/stats/paired_data.tsv (the samples; stats_make_data.py) and the golden
 * tables written by tests/reference/stats_paired.R (paired_R.tsv, dist_R.tsv, padjust_R.tsv)
 * and tests/reference/stats_scipy.py (paired_scipy.tsv). Every golden row names its source;
 * every row is compared, at PS_TOL_REF (1e-9 relative) unless a comment says otherwise.
 */
#include "ps_stats.h"
#include "ps_test.h"

#include <stdint.h>

/* ---- reading the golden tables -------------------------------------------------------- */
enum { MAXF = 8, MAXSETS = 32, MAXN = 128 };

typedef struct {
    char *f[MAXF];
    int nf;
} row;

/* Splits the next data line of `fp` into tab-separated fields (skips '#' and the header). */
static int next_row(FILE *fp, char *buf, size_t cap, row *r, int *header_seen)
{
    while (fgets(buf, (int)cap, fp)) {
        if (buf[0] == '#' || buf[0] == '\n')
            continue;
        buf[strcspn(buf, "\r\n")] = 0;
        if (!*header_seen) {
            *header_seen = 1;
            continue;
        }
        r->nf = 0;
        for (char *p = buf; r->nf < MAXF;) {
            r->f[r->nf++] = p;
            char *t = strchr(p, '\t');
            if (!t)
                break;
            *t = 0;
            p = t + 1;
        }
        return 1;
    }
    return 0;
}

static double num(const char *s)
{
    if (!strcmp(s, "NA") || !strcmp(s, "nan"))
        return NAN;
    return strtod(s, NULL);
}

typedef struct {
    char name[32];
    size_t n;
    double a[MAXN], b[MAXN];
} dataset;

static dataset sets[MAXSETS];
static int nsets;

static void load_data(void)
{
    if (nsets)
        return;
    FILE *fp = fopen(ps_test_path("golden/stats/paired_data.tsv"), "r");
    ck_assert_msg(fp != NULL, "cannot open paired_data.tsv");
    char buf[1024];
    row r;
    int hdr = 0;
    while (next_row(fp, buf, sizeof buf, &r, &hdr)) {
        ck_assert_int_eq(r.nf, 4);
        dataset *d = nsets ? &sets[nsets - 1] : NULL;
        if (!d || strcmp(d->name, r.f[0])) {
            ck_assert_int_lt(nsets, MAXSETS);
            d = &sets[nsets++];
            ck_assert_int_lt(snprintf(d->name, sizeof d->name, "%s", r.f[0]), (int)sizeof d->name);
            d->n = 0;
        }
        ck_assert_uint_lt(d->n, MAXN);
        d->a[d->n] = num(r.f[2]);
        d->b[d->n] = num(r.f[3]);
        d->n++;
    }
    fclose(fp);
}

static dataset *find_set(const char *name)
{
    for (int i = 0; i < nsets; i++)
        if (!strcmp(sets[i].name, name))
            return &sets[i];
    return NULL;
}

/* |got - want| <= tol * max(|want|, scale_min): relative (scale_min 0) for every statistic and
 * p-value, with an exact 0 compared absolutely; prints and counts a mismatch. */
static int nchecked, nfailed;
static void check(double got, double want, double tol, double scale_min, const char *where)
{
    int ok;
    nchecked++;
    if (isnan(want))
        ok = isnan(got);
    else if (isinf(want))
        ok = got == want;
    else
        ok = fabs(got - want) <= tol * fmax(fabs(want), scale_min) ||
             (want == 0.0 && fabs(got) <= tol);
    if (!ok) {
        nfailed++;
        fprintf(stderr, "MISMATCH %s: got %.17g want %.17g (rel %.3g)\n", where, got, want,
                fabs(got - want) / fabs(want));
    }
}

/* ---- the statistic behind each golden name --------------------------------------------- */
/* Returns 0 and stores the value, 1 if the statistic is not produced for this dataset
 * (an error from the library, recorded in `err`), -1 for an unknown name. */
static int wilcoxon_value(const dataset *d, const ps_wilcoxon_options *o, const char *field,
                          double *v)
{
    ps_wilcoxon w;
    if (ps_stats_wilcoxon(d->a, d->b, d->n, o, &w))
        return 1;
    if (!strcmp(field, "v"))
        *v = w.v;
    else if (!strcmp(field, "p_two"))
        *v = w.p_two_sided;
    else if (!strcmp(field, "p_greater"))
        *v = w.p_greater;
    else if (!strcmp(field, "p_less"))
        *v = w.p_less;
    else
        return -1;
    return 0;
}

static int value_of(const dataset *d, const char *stat, double *v)
{
    char grp[64], field[64];
    const char *dot = strrchr(stat, '.');
    if (!dot)
        dot = stat + strlen(stat);
    snprintf(grp, sizeof grp, "%.*s", (int)(dot - stat), stat);
    snprintf(field, sizeof field, "%s", *dot ? dot + 1 : "");

    if (!strcmp(grp, "desc")) {
        ps_stats_summary s;
        ck_assert_int_eq(ps_stats_describe(d->a, d->n, 0.95, NULL, &s), 0);
        const char *names[] = {"mean", "sd", "median", "q1", "q3", "min", "max", "ci_low",
                               "ci_high"};
        double vals[] = {s.mean, s.sd, s.median, s.q1, s.q3, s.min, s.max, s.ci_low, s.ci_high};
        for (size_t i = 0; i < sizeof vals / sizeof *vals; i++)
            if (!strcmp(field, names[i]))
                return *v = vals[i], 0;
        return -1;
    }
    if (!strcmp(grp, "t")) {
        ps_ttest_paired t, t90;
        ck_assert_int_eq(ps_stats_ttest_paired(d->a, d->b, d->n, 0.95, &t), 0);
        ck_assert_int_eq(ps_stats_ttest_paired(d->a, d->b, d->n, 0.90, &t90), 0);
        const char *names[] = {"mean_diff", "t", "df", "p_two", "p_greater", "p_less",
                               "ci_low", "ci_high", "ci90_low", "ci90_high", "dz"};
        double vals[] = {t.mean_diff, t.t, t.df, t.p_two_sided, t.p_greater, t.p_less,
                         t.ci_low, t.ci_high, t90.ci_low, t90.ci_high, t.dz};
        for (size_t i = 0; i < sizeof vals / sizeof *vals; i++)
            if (!strcmp(field, names[i]))
                return *v = vals[i], 0;
        return -1;
    }
    if (!strncmp(grp, "wxR", 3)) {
        ps_wilcoxon_options o;
        ps_wilcoxon_options_r(&o);
        if (!strcmp(grp, "wxR_nocorr"))
            o.correction = 0;
        else if (!strcmp(grp, "wxR_approx"))
            o.method = PS_WILCOXON_APPROX;
        else if (strcmp(grp, "wxR"))
            return -1;
        return wilcoxon_value(d, &o, field, v);
    }
    if (!strncmp(grp, "wxS.", 4)) {
        /* wxS.<zero>.<method>.<correction> */
        char zm[16], meth[16];
        int corr;
        if (sscanf(grp, "wxS.%15[a-z].%15[a-z].%d", zm, meth, &corr) != 3)
            return -1;
        ps_wilcoxon_options o;
        o.zero = !strcmp(zm, "wilcox")  ? PS_WILCOXON_ZERO_WILCOX
                 : !strcmp(zm, "pratt") ? PS_WILCOXON_ZERO_PRATT
                                        : PS_WILCOXON_ZERO_ZSPLIT;
        o.method = !strcmp(meth, "auto")    ? PS_WILCOXON_AUTO_SCIPY
                   : !strcmp(meth, "exact") ? PS_WILCOXON_EXACT
                                            : PS_WILCOXON_APPROX;
        o.correction = corr;
        return wilcoxon_value(d, &o, field, v);
    }
    if (!strcmp(grp, "lm") || !strcmp(stat, "r2_identity")) {
        ps_regression g;
        if (ps_stats_regression(d->a, d->b, d->n, &g))
            return 1;
        if (!strcmp(stat, "r2_identity"))
            return *v = g.r2_identity, 0;
        const char *names[] = {"intercept", "slope", "intercept_se", "slope_se",
                               "intercept_p", "slope_p", "r2"};
        double vals[] = {g.intercept, g.slope, g.intercept_se, g.slope_se,
                         g.intercept_p, g.slope_p, g.r2};
        for (size_t i = 0; i < sizeof vals / sizeof *vals; i++)
            if (!strcmp(field, names[i]))
                return *v = vals[i], 0;
        return -1;
    }
    if (!strcmp(grp, "pearson") || !strcmp(grp, "spearman")) {
        ps_correlation c;
        if (ps_stats_correlation(d->a, d->b, d->n, 0.95, &c))
            return 1;
        const char *names[] = {"pearson.r", "pearson.p", "pearson.ci_low", "pearson.ci_high",
                               "spearman.rho", "spearman.p"};
        double vals[] = {c.r, c.p, c.ci_low, c.ci_high, c.rho, c.rho_p};
        for (size_t i = 0; i < sizeof vals / sizeof *vals; i++)
            if (!strcmp(stat, names[i]))
                return *v = vals[i], 0;
        return -1;
    }
    if (!strcmp(grp, "ba")) {
        ps_bland_altman b;
        ck_assert_int_eq(ps_stats_bland_altman(d->a, d->b, d->n, 0.95, &b), 0);
        const char *names[] = {"bias", "sd", "loa_low", "loa_high", "bias_ci_low",
                               "bias_ci_high", "loa_low_ci_low", "loa_low_ci_high",
                               "loa_high_ci_low", "loa_high_ci_high"};
        double vals[] = {b.bias, b.sd, b.loa_low, b.loa_high, b.bias_ci_low, b.bias_ci_high,
                         b.loa_low_ci_low, b.loa_low_ci_high, b.loa_high_ci_low,
                         b.loa_high_ci_high};
        for (size_t i = 0; i < sizeof vals / sizeof *vals; i++)
            if (!strcmp(field, names[i]))
                return *v = vals[i], 0;
        return -1;
    }
    if (!strcmp(grp, "boot.mean") || !strcmp(grp, "boot.median")) {
        ps_boot_ci ci;
        ps_boot_stat st = !strcmp(grp, "boot.mean") ? PS_BOOT_MEAN : PS_BOOT_MEDIAN;
        ck_assert_int_eq(ps_stats_bootstrap(d->a, d->n, st, 2000, 0.95, 12345, 2, &ci), 0);
        const char *names[] = {"pct_low", "pct_high", "bca_low", "bca_high", "accel"};
        double vals[] = {ci.pct_low, ci.pct_high, ci.bca_low, ci.bca_high, ci.accel};
        for (size_t i = 0; i < sizeof vals / sizeof *vals; i++)
            if (!strcmp(field, names[i]))
                return *v = vals[i], 0;
        return -1;
    }
    return -1;
}

static void run_golden(const char *file)
{
    load_data();
    FILE *fp = fopen(ps_test_path(file), "r");
    ck_assert_msg(fp != NULL, "cannot open %s", file);
    char buf[2048];
    row r;
    int hdr = 0;
    nchecked = nfailed = 0;
    while (next_row(fp, buf, sizeof buf, &r, &hdr)) {
        ck_assert_int_ge(r.nf, 3);
        dataset *d = find_set(r.f[0]);
        ck_assert_msg(d != NULL, "%s: unknown dataset %s", file, r.f[0]);
        double got = NAN, want = num(r.f[2]);
        int rc = value_of(d, r.f[1], &got);
        ck_assert_msg(rc >= 0, "%s: unknown statistic %s", file, r.f[1]);
        char where[512];
        ck_assert_int_lt(snprintf(where, sizeof where, "%s %s [%s]", r.f[0], r.f[1],
                                  r.nf > 3 ? r.f[3] : ""), (int)sizeof where);
        if (rc == 1) {
            nchecked++, nfailed++;
            fprintf(stderr, "MISMATCH %s: library error: %s\n", where, ps_error_message());
            continue;
        }
        /* the BCa acceleration is 0 up to rounding for symmetric jackknife values: compare
         * it on the absolute scale of the statistic, not relative to ~1e-16 */
        check(got, want, PS_TOL_REF, strstr(r.f[1], ".accel") ? 1.0 : 0.0, where);
    }
    fclose(fp);
    fprintf(stderr, "%s: %d values compared, %d mismatches\n", file, nchecked, nfailed);
    ck_assert_int_gt(nchecked, 100);
    ck_assert_int_eq(nfailed, 0);
}

START_TEST(test_against_r)
{
    run_golden("golden/stats/paired_R.tsv");
}
END_TEST

START_TEST(test_against_scipy)
{
    run_golden("golden/stats/paired_scipy.tsv");
}
END_TEST

/* ---- distributions against R and mpmath ------------------------------------------------- */
/* dist_mpmath.tsv: 50-digit values of the quantile rows of dist_R.tsv and R's relative error
 * there. R's qf() is inaccurate in the far lower tail for small df1 (qf(1e-12, 1, 1) = 0, the
 * exact value being 2.467e-24); such R rows (R error > 1e-11) are checked against mpmath
 * only. */
enum { MAXMP = 512 };
static char mp_key[MAXMP][96];
static double mp_val[MAXMP], mp_rerr[MAXMP];
static int nmp;

static void load_mpmath(void)
{
    if (nmp)
        return;
    FILE *fp = fopen(ps_test_path("golden/stats/dist_mpmath.tsv"), "r");
    ck_assert(fp != NULL);
    char buf[1024];
    row r;
    int hdr = 0;
    while (next_row(fp, buf, sizeof buf, &r, &hdr)) {
        ck_assert_int_ge(r.nf, 6);
        ck_assert_int_lt(nmp, MAXMP);
        ck_assert_int_lt(snprintf(mp_key[nmp], sizeof mp_key[nmp], "%s|%s|%s|%s", r.f[0], r.f[1],
                                  r.f[2], r.f[3]), (int)sizeof mp_key[nmp]);
        mp_val[nmp] = num(r.f[4]);
        mp_rerr[nmp] = num(r.f[5]);
        nmp++;
    }
    fclose(fp);
}

static int find_mpmath(const char *fn, const char *a1, const char *a2, const char *a3)
{
    char key[96];
    if (snprintf(key, sizeof key, "%s|%s|%s|%s", fn, a1, a2, a3) >= (int)sizeof key)
        return -1; /* longer than any key stored */
    for (int i = 0; i < nmp; i++)
        if (!strcmp(mp_key[i], key))
            return i;
    return -1;
}

START_TEST(test_distributions_r)
{
    load_mpmath();
    FILE *fp = fopen(ps_test_path("golden/stats/dist_R.tsv"), "r");
    ck_assert(fp != NULL);
    char buf[1024];
    row r;
    int hdr = 0, nmpcheck = 0, nskipped = 0;
    nchecked = nfailed = 0;
    while (next_row(fp, buf, sizeof buf, &r, &hdr)) {
        ck_assert_int_ge(r.nf, 5);
        const char *fn = r.f[0];
        double a1 = num(r.f[1]), a2 = num(r.f[2]), a3 = num(r.f[3]), want = num(r.f[4]), got;
        if (!strcmp(fn, "qt"))
            got = ps_dist_t_quantile(a1, a2);
        else if (!strcmp(fn, "pt"))
            got = ps_dist_t_p(a1, a2);
        else if (!strcmp(fn, "pt_upper"))
            got = ps_dist_t_q(a1, a2);
        else if (!strcmp(fn, "qf"))
            got = ps_dist_f_quantile(a1, a2, a3);
        else if (!strcmp(fn, "pf"))
            got = ps_dist_f_p(a1, a2, a3);
        else if (!strcmp(fn, "pf_upper"))
            got = ps_dist_f_q(a1, a2, a3);
        else if (!strcmp(fn, "pnorm"))
            got = ps_dist_normal_p(a1);
        else if (!strcmp(fn, "pnorm_upper"))
            got = ps_dist_normal_q(a1);
        else if (!strcmp(fn, "qnorm"))
            got = ps_dist_normal_quantile(a1);
        else if (!strcmp(fn, "pchisq_upper"))
            got = ps_dist_chisq_q(a1, a2);
        else
            ck_abort_msg("unknown function %s", fn);
        char where[200];
        int m = find_mpmath(fn, r.f[1], r.f[2], r.f[3]);
        if (m >= 0) {
            ck_assert_int_lt(snprintf(where, sizeof where, "%s(%s, %s, %s) [mpmath]", fn, r.f[1],
                                      r.f[2], r.f[3]), (int)sizeof where);
            check(got, mp_val[m], PS_TOL_REF, 0.0, where);
            nmpcheck++;
        }
        if (m >= 0 && mp_rerr[m] > 1e-11) {
            nskipped++; /* R itself is off here */
            continue;
        }
        ck_assert_int_lt(snprintf(where, sizeof where, "%s(%s, %s, %s) [R]", fn, r.f[1], r.f[2],
                                  r.f[3]), (int)sizeof where);
        check(got, want, PS_TOL_REF, 0.0, where);
    }
    fclose(fp);
    fprintf(stderr, "dist_R.tsv: %d values compared (%d against mpmath), %d R rows skipped as "
                    "inaccurate in R, %d mismatches\n", nchecked, nmpcheck, nskipped, nfailed);
    ck_assert_int_gt(nchecked, 800);
    ck_assert_int_eq(nmpcheck, nmp);
    ck_assert_int_le(nskipped, 10);
    ck_assert_int_eq(nfailed, 0);
}
END_TEST

/* ---- p.adjust against R ---------------------------------------------------------------- */
START_TEST(test_padjust_r)
{
    FILE *fp = fopen(ps_test_path("golden/stats/padjust_R.tsv"), "r");
    ck_assert(fp != NULL);
    char buf[1024];
    row r;
    int hdr = 0;
    /* collect one (vector, method) group at a time */
    char cur[64] = "";
    double p[128], want[128];
    size_t n = 0;
    nchecked = nfailed = 0;
    for (int more = 1; more;) {
        more = next_row(fp, buf, sizeof buf, &r, &hdr);
        char key[64] = "";
        if (more)
            snprintf(key, sizeof key, "%s/%s", r.f[0], r.f[3]);
        if (n && (!more || strcmp(key, cur))) {
            double out[128];
            ps_padjust_method m;
            const char *meth = strchr(cur, '/') + 1;
            ck_assert_int_eq(ps_padjust_method_parse(meth, &m), 0);
            ck_assert_int_eq(ps_stats_padjust(p, n, m, out), 0);
            for (size_t i = 0; i < n; i++)
                check(out[i], want[i], PS_TOL_REF, 0.0, cur);
            /* in place gives the same */
            ck_assert_int_eq(ps_stats_padjust(p, n, m, p), 0);
            for (size_t i = 0; i < n; i++)
                check(p[i], want[i], PS_TOL_EXACT, 0.0, cur);
            n = 0;
        }
        if (more) {
            snprintf(cur, sizeof cur, "%s", key);
            ck_assert_uint_lt(n, 128);
            p[n] = num(r.f[2]);
            want[n] = num(r.f[4]);
            n++;
        }
    }
    fclose(fp);
    fprintf(stderr, "padjust_R.tsv: %d values compared, %d mismatches\n", nchecked, nfailed);
    ck_assert_int_gt(nchecked, 150);
    ck_assert_int_eq(nfailed, 0);
}
END_TEST

static Suite *make_suite(void)
{
    Suite *s = suite_create("stats_reference");
    TCase *tc = tcase_create("reference");
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, test_against_r);
    tcase_add_test(tc, test_against_scipy);
    tcase_add_test(tc, test_distributions_r);
    tcase_add_test(tc, test_padjust_r);
    suite_add_tcase(s, tc);
    return s;
}

PS_TEST_MAIN(make_suite)
