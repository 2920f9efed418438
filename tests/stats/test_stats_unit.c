/* test_stats_unit.c - hand-calculated values, edge cases and every error path of the stats
 * module (descriptive, bootstrap, paired tests, p.adjust, regression, Bland-Altman,
 * distributions). Reference-implementation comparisons are in test_stats_reference.c. */
#include "ps_stats.h"
#include "ps_test.h"

#include <float.h>

/* the current error message contains `s` */
#define ck_assert_msg_has(s) \
    ck_assert_msg(strstr(ps_error_message(), (s)) != NULL, "message '%s' lacks '%s'", \
                  ps_error_message(), (s))

START_TEST(test_quantile_type7)
{
    /* h = (n-1) p: x = 1,2,3,4: p = .25 -> h = .75 -> 1 + .75 (2 - 1) = 1.75; p = .5 -> 2.5 */
    const double x[] = {1, 2, 3, 4};
    ck_assert_close(ps_stats_quantile_sorted(x, 4, 0.25), 1.75, PS_TOL_EXACT);
    ck_assert_close(ps_stats_quantile_sorted(x, 4, 0.5), 2.5, PS_TOL_EXACT);
    ck_assert_close(ps_stats_quantile_sorted(x, 4, 0.0), 1.0, PS_TOL_EXACT);
    ck_assert_close(ps_stats_quantile_sorted(x, 4, 1.0), 4.0, PS_TOL_EXACT);
    ck_assert_close(ps_stats_quantile_sorted(x, 1, 0.3), 1.0, PS_TOL_EXACT);
    ck_assert(isnan(ps_stats_quantile_sorted(x, 4, 1.5)));
    ck_assert(isnan(ps_stats_quantile_sorted(x, 0, 0.5)));
}
END_TEST

START_TEST(test_describe)
{
    /* 2, 4, 4, 4, 5, 5, 7, 9: mean 5, sum of squares 32, sd = sqrt(32/7) */
    const double x[] = {4, 2, 5, 4, 9, 4, 7, 5};
    double work[8];
    ps_stats_summary s;
    ck_assert_int_eq(ps_stats_describe(x, 8, 0.95, work, &s), 0);
    ck_assert_int_eq(s.n, 8);
    ck_assert_close(s.mean, 5.0, PS_TOL_EXACT);
    ck_assert_close(s.sd, sqrt(32.0 / 7.0), PS_TOL_EXACT);
    ck_assert_close(s.median, 4.5, PS_TOL_EXACT);
    ck_assert_close(s.q1, 4.0, PS_TOL_EXACT);  /* h = 1.75 between 4 and 4 */
    ck_assert_close(s.q3, 5.5, PS_TOL_EXACT);  /* h = 5.25: 5 + .25 (7 - 5) */
    ck_assert_close(s.iqr, 1.5, PS_TOL_EXACT);
    ck_assert_close(s.min, 2.0, PS_TOL_EXACT);
    ck_assert_close(s.max, 9.0, PS_TOL_EXACT);
    /* t_{0.975, 7} = 2.3646242515927849 (R qt(0.975, 7)) */
    ck_assert_close(s.ci_high, 5.0 + 2.3646242515927849 * sqrt(32.0 / 7.0) / sqrt(8.0),
                    PS_TOL_REF);
    /* n = 1: SD and CI undefined, reported as NaN */
    ck_assert_int_eq(ps_stats_describe(x, 1, 0.95, NULL, &s), 0);
    ck_assert(isnan(s.sd) && isnan(s.ci_low) && isnan(s.ci_high));
    ck_assert_close(s.median, 4.0, PS_TOL_EXACT);
    /* errors */
    ck_assert_int_eq(ps_stats_describe(x, 0, 0.95, NULL, &s), PS_ERR_NUMERIC);
    ck_assert_int_eq(ps_stats_describe(x, 8, 1.0, NULL, &s), PS_ERR_ARG);
    const double bad[] = {1, NAN, 3};
    ck_assert_int_eq(ps_stats_describe(bad, 3, 0.95, NULL, &s), PS_ERR_ARG);
    ck_assert_msg_has("x[1] is NaN");
}
END_TEST

START_TEST(test_ttest_errors)
{
    const double a[] = {1, 2, 3}, b[] = {0, 1, 2}, nanb[] = {0, INFINITY, 2};
    ps_ttest_paired t;
    ck_assert_int_eq(ps_stats_ttest_paired(a, b, 1, 0.95, &t), PS_ERR_NUMERIC);
    ck_assert_msg_has("at least 2 pairs");
    ck_assert_int_eq(ps_stats_ttest_paired(a, b, 3, 0.95, &t), PS_ERR_NUMERIC);
    ck_assert_msg_has("all 3 differences are equal");
    ck_assert_int_eq(ps_stats_ttest_paired(a, nanb, 3, 0.95, &t), PS_ERR_ARG);
    ck_assert_msg_has("b[1] is infinite");
    ck_assert_int_eq(ps_stats_ttest_paired(a, b, 3, 0.0, &t), PS_ERR_ARG);
    /* d = 1, 2 (a - b): mean 1.5, sd = sqrt(0.5), t = 1.5 / 0.5 = 3, df 1,
     * p two-sided = 2 P(T_1 > 3) = 1 - 2 atan(3) / pi */
    const double a2[] = {2, 4}, b2[] = {1, 2};
    ck_assert_int_eq(ps_stats_ttest_paired(a2, b2, 2, 0.95, &t), 0);
    ck_assert_close(t.t, 3.0, PS_TOL_EXACT);
    ck_assert_close(t.p_two_sided, 1.0 - 2.0 * atan(3.0) / M_PI, 1e-14);
    ck_assert_close(t.dz, 1.5 / sqrt(0.5), PS_TOL_EXACT);
}
END_TEST

START_TEST(test_rank)
{
    const double x[] = {3, 1, 3, 2, 3};
    double r[5], ties;
    ck_assert_int_eq(ps_stats_rank(x, 5, r, &ties), 0);
    /* 1 -> 1, 2 -> 2, the three 3s share (3 + 4 + 5) / 3 = 4; tie term 3^3 - 3 = 24 */
    ck_assert_close(r[0], 4.0, PS_TOL_EXACT);
    ck_assert_close(r[1], 1.0, PS_TOL_EXACT);
    ck_assert_close(r[3], 2.0, PS_TOL_EXACT);
    ck_assert_close(r[4], 4.0, PS_TOL_EXACT);
    ck_assert_close(ties, 24.0, PS_TOL_EXACT);
}
END_TEST

START_TEST(test_wilcoxon_hand)
{
    /* d = 1, -2, 3: ranks 1, 2, 3, V = 1 + 3 = 4. Under H0 the 8 sign patterns give
     * R+ = 0,1,2,3,3,4,5,6, so P(R+ >= 4) = 3/8, P(R+ <= 4) = 6/8, two-sided 2 * 3/8. */
    const double d[] = {1, -2, 3};
    ps_wilcoxon_options o;
    ps_wilcoxon_options_r(&o);
    ps_wilcoxon w;
    ck_assert_int_eq(ps_stats_wilcoxon(d, NULL, 3, &o, &w), 0);
    ck_assert(w.exact);
    ck_assert_close(w.v, 4.0, PS_TOL_EXACT);
    ck_assert_close(w.v_minus, 2.0, PS_TOL_EXACT);
    ck_assert_close(w.p_greater, 3.0 / 8.0, PS_TOL_EXACT);
    ck_assert_close(w.p_less, 6.0 / 8.0, PS_TOL_EXACT);
    ck_assert_close(w.p_two_sided, 0.75, PS_TOL_EXACT);
    /* all differences zero: undefined (wilcox and pratt) */
    const double z[] = {0, 0, 0};
    ck_assert_int_eq(ps_stats_wilcoxon(z, NULL, 3, &o, &w), PS_ERR_NUMERIC);
    ck_assert_msg_has("all 3 differences are zero");
    o.zero = PS_WILCOXON_ZERO_PRATT;
    ck_assert_int_eq(ps_stats_wilcoxon(z, NULL, 3, &o, &w), PS_ERR_NUMERIC);
    /* zsplit ranks them: V = V- = 3, z = 0, p = 1 (scipy 1.10 gives the same) */
    o.zero = PS_WILCOXON_ZERO_ZSPLIT;
    ck_assert_int_eq(ps_stats_wilcoxon(z, NULL, 3, &o, &w), 0);
    ck_assert_close(w.v, 3.0, PS_TOL_EXACT);
    ck_assert_close(w.p_two_sided, 1.0, PS_TOL_EXACT);
    /* bad input */
    const double bad[] = {1, NAN};
    ck_assert_int_eq(ps_stats_wilcoxon(bad, NULL, 2, &o, &w), PS_ERR_ARG);
    ck_assert_int_eq(ps_stats_wilcoxon(d, NULL, 0, &o, &w), PS_ERR_NUMERIC);
    o.method = (ps_wilcoxon_method)42;
    ck_assert_int_eq(ps_stats_wilcoxon(d, NULL, 3, &o, &w), PS_ERR_ARG);
}
END_TEST

START_TEST(test_wilcoxon_no_rounding)
{
    /* 0.3 - 0.1 = 0.19999999999999998 and 0.2 differ: no tie, so R's rule stays exact */
    const double a[] = {0.3, 0.2, 0.5}, b[] = {0.1, 0.0, 0.0};
    ps_wilcoxon_options o;
    ps_wilcoxon_options_r(&o);
    ps_wilcoxon w;
    ck_assert_int_eq(ps_stats_wilcoxon(a, b, 3, &o, &w), 0);
    ck_assert(!w.ties);
    ck_assert(w.exact);
}
END_TEST

START_TEST(test_padjust_hand)
{
    /* p = .01, .04, .03 (m = 3). Holm: sorted .01, .03, .04 -> 3(.01) = .03, 2(.03) = .06,
     * 1(.04) = .04 -> running max .03, .06, .06. BH: from the top .04 * 3/3 = .04,
     * .03 * 3/2 = .045 -> min .04, .01 * 3 = .03. */
    const double p[] = {0.01, 0.04, 0.03};
    double out[3];
    ck_assert_int_eq(ps_stats_padjust(p, 3, PS_PADJUST_HOLM, out), 0);
    ck_assert_close(out[0], 0.03, PS_TOL_EXACT);
    ck_assert_close(out[1], 0.06, PS_TOL_EXACT);
    ck_assert_close(out[2], 0.06, PS_TOL_EXACT);
    ck_assert_int_eq(ps_stats_padjust(p, 3, PS_PADJUST_BH, out), 0);
    ck_assert_close(out[0], 0.03, PS_TOL_EXACT);
    ck_assert_close(out[1], 0.04, PS_TOL_EXACT);
    ck_assert_close(out[2], 0.04, PS_TOL_EXACT);
    ck_assert_int_eq(ps_stats_padjust(p, 3, PS_PADJUST_BONFERRONI, out), 0);
    ck_assert_close(out[1], 0.12, PS_TOL_EXACT);
    ck_assert_int_eq(ps_stats_padjust(p, 0, PS_PADJUST_HOLM, out), 0);
    const double bad[] = {0.5, 1.5};
    ck_assert_int_eq(ps_stats_padjust(bad, 2, PS_PADJUST_HOLM, out), PS_ERR_ARG);
    ck_assert_msg_has("1.5");
    ps_padjust_method m;
    ck_assert_int_eq(ps_padjust_method_parse("BH", &m), 0);
    ck_assert_int_eq(m, PS_PADJUST_BH);
    ck_assert_int_eq(ps_padjust_method_parse("fdr", &m), 0);
    ck_assert_int_eq(ps_padjust_method_parse("sidak", &m), PS_ERR_ARG);
    ck_assert_msg_has("sidak");
    ck_assert_str_eq(ps_padjust_method_name(PS_PADJUST_HOLM), "holm");
}
END_TEST

START_TEST(test_regression_edges)
{
    /* y = 2x + 1 exactly: slope 2, intercept 1, zero SEs, p = 0, R^2 = 1 */
    const double x[] = {1, 2, 3, 4}, y[] = {3, 5, 7, 9}, c[] = {2, 2, 2, 2};
    ps_regression g;
    ck_assert_int_eq(ps_stats_regression(x, y, 4, &g), 0);
    ck_assert_close(g.slope, 2.0, PS_TOL_EXACT);
    ck_assert_close(g.intercept, 1.0, PS_TOL_EXACT);
    ck_assert_close(g.slope_se, 0.0, PS_TOL_EXACT);
    ck_assert_close(g.slope_p, 0.0, PS_TOL_EXACT);
    ck_assert_close(g.r2, 1.0, PS_TOL_EXACT);
    /* identity R^2: 1 - sum (y - x)^2 / sum (x - 2.5)^2 = 1 - (4 + 9 + 16 + 25) / 5 */
    ck_assert_close(g.r2_identity, 1.0 - 54.0 / 5.0, PS_TOL_EXACT);
    ck_assert_int_eq(ps_stats_regression(c, y, 4, &g), PS_ERR_NUMERIC);
    ck_assert_msg_has("x is constant");
    ck_assert_int_eq(ps_stats_regression(x, c, 4, &g), PS_ERR_NUMERIC);
    ck_assert_msg_has("y is constant");
    ck_assert_int_eq(ps_stats_regression(x, y, 2, &g), PS_ERR_NUMERIC);
    ck_assert_msg_has("at least 3 pairs");
    ps_correlation r;
    ck_assert_int_eq(ps_stats_correlation(x, y, 4, 0.95, &r), 0);
    ck_assert_close(r.r, 1.0, PS_TOL_EXACT);
    ck_assert_close(r.p, 0.0, PS_TOL_EXACT);
    ck_assert_close(r.rho, 1.0, PS_TOL_EXACT);
    ck_assert_int_eq(ps_stats_correlation(x, c, 4, 0.95, &r), PS_ERR_NUMERIC);
    ck_assert_msg_has("y is constant");
    /* n = 3: Fisher-z CI needs n >= 4 and is NaN */
    ck_assert_int_eq(ps_stats_correlation(x, (const double[]){1, 3, 2}, 3, 0.95, &r), 0);
    ck_assert(isnan(r.ci_low) && isnan(r.ci_high));
    ck_assert_close(r.r, 0.5, PS_TOL_EXACT);
}
END_TEST

START_TEST(test_bland_altman_hand)
{
    /* d = y - x = 1, 2, 3: bias 2, sd 1, LoA 2 -+ 1.959963984540054,
     * CI half-widths t_{.975,2} / sqrt(3) and t_{.975,2} sqrt(3/3) with
     * t_{.975,2} = 4.3026527297494637 (R qt(0.975, 2)) */
    const double x[] = {0, 0, 0}, y[] = {1, 2, 3};
    ps_bland_altman b;
    ck_assert_int_eq(ps_stats_bland_altman(x, y, 3, 0.95, &b), 0);
    ck_assert_close(b.bias, 2.0, PS_TOL_EXACT);
    ck_assert_close(b.sd, 1.0, PS_TOL_EXACT);
    ck_assert_close(b.k, 1.959963984540054, 1e-15);
    ck_assert_close(b.loa_high, 2.0 + 1.959963984540054, 1e-15);
    ck_assert_close(b.bias_ci_high, 2.0 + 4.3026527297494637 / sqrt(3.0), PS_TOL_REF);
    ck_assert_close(b.loa_low_ci_low, 2.0 - 1.959963984540054 - 4.3026527297494637,
                    PS_TOL_REF);
    ck_assert_int_eq(ps_stats_bland_altman(x, y, 1, 0.95, &b), PS_ERR_NUMERIC);
    ck_assert_int_eq(ps_stats_bland_altman(x, y, 3, 1.5, &b), PS_ERR_ARG);
}
END_TEST

START_TEST(test_bootstrap_threads)
{
    /* the result must not depend on the thread count (bit-identical) */
    double x[97];
    for (int i = 0; i < 97; i++)
        x[i] = sin(0.37 * i) * 3.0 + (i % 7);
    for (int st = 0; st < 2; st++) {
        ps_boot_ci c1, c2, c3;
        ck_assert_int_eq(ps_stats_bootstrap(x, 97, (ps_boot_stat)st, 1000, 0.9, 99, 1, &c1), 0);
        ck_assert_int_eq(ps_stats_bootstrap(x, 97, (ps_boot_stat)st, 1000, 0.9, 99, 2, &c2), 0);
        ck_assert_int_eq(ps_stats_bootstrap(x, 97, (ps_boot_stat)st, 1000, 0.9, 99, 3, &c3), 0);
        ck_assert(memcmp(&c1, &c2, sizeof c1) == 0);
        ck_assert(memcmp(&c1, &c3, sizeof c1) == 0);
        ck_assert(c1.pct_low < c1.estimate && c1.estimate < c1.pct_high);
        /* another seed gives other replicates (for the mean: medians of resamples are
         * sample values, so their quantiles may coincide) */
        ck_assert_int_eq(ps_stats_bootstrap(x, 97, (ps_boot_stat)st, 1000, 0.9, 98, 1, &c2), 0);
        if (st == PS_BOOT_MEAN)
            ck_assert(c1.pct_low != c2.pct_low || c1.pct_high != c2.pct_high);
    }
}
END_TEST

START_TEST(test_bootstrap_edges)
{
    const double c[] = {0.8, 0.8, 0.8, 0.8};
    ps_boot_ci ci;
    /* constant data: percentile interval is the constant; BCa undefined (0/0) -> NaN */
    ck_assert_int_eq(ps_stats_bootstrap(c, 4, PS_BOOT_MEAN, 100, 0.95, 1, 1, &ci), 0);
    ck_assert_close(ci.pct_low, 0.8, PS_TOL_EXACT);
    ck_assert_close(ci.pct_high, 0.8, PS_TOL_EXACT);
    ck_assert(isnan(ci.bca_low) && isnan(ci.accel));
    ck_assert_int_eq(ps_stats_bootstrap(c, 1, PS_BOOT_MEAN, 100, 0.95, 1, 1, &ci),
                     PS_ERR_NUMERIC);
    ck_assert_int_eq(ps_stats_bootstrap(c, 4, PS_BOOT_MEAN, 1, 0.95, 1, 1, &ci), PS_ERR_ARG);
    ck_assert_int_eq(ps_stats_bootstrap(c, 4, PS_BOOT_MEAN, 100, -0.5, 1, 1, &ci), PS_ERR_ARG);
    ck_assert_int_eq(ps_stats_bootstrap(c, 4, (ps_boot_stat)7, 100, 0.95, 1, 1, &ci),
                     PS_ERR_ARG);
}
END_TEST

START_TEST(test_distribution_edges)
{
    ps_stats_init();
    /* GSL's gsl_cdf_fdist_Pinv aborts here ("fails to converge"); ours must not.
     * R: qf(0.975, 9, 999) = 1.9099888290920633 (golden dist_R.tsv covers it at 1e-9) */
    double q = ps_dist_f_quantile(0.975, 9, 999);
    ck_assert(isfinite(q));
    ck_assert_close(ps_dist_f_q(q, 9, 999), 0.025, 1e-14);
    /* symmetry and the normal limit */
    ck_assert_close(ps_dist_t_quantile(0.1, 7), -ps_dist_t_quantile(0.9, 7), PS_TOL_EXACT);
    ck_assert_close(ps_dist_t_quantile(0.975, INFINITY), 1.959963984540054, 1e-15);
    ck_assert_close(ps_dist_t_p(1.0, 1.0), 0.75, 1e-15); /* Cauchy: 1/2 + atan(1)/pi */
    ck_assert_close(ps_dist_chisq_q(3.8414588206941236, 1), 0.05, 1e-12);
    ck_assert_close(ps_dist_chisq_p(0.0, 3), 0.0, PS_TOL_EXACT);
    /* out-of-domain: NaN, never an abort */
    ck_assert(isnan(ps_dist_t_quantile(1.5, 3)));
    ck_assert(isnan(ps_dist_t_quantile(0.5, -1)));
    ck_assert(isnan(ps_dist_f_quantile(0.5, 0, 3)));
    ck_assert(isnan(ps_dist_f_p(1.0, 3, NAN)));
    ck_assert(isnan(ps_dist_normal_quantile(NAN)));
    ck_assert(isnan(ps_dist_chisq_q(1.0, -2)));
    ck_assert(isnan(ps_dist_t_p(NAN, 3)));
    /* ends of the range */
    ck_assert(ps_dist_t_quantile(0.0, 3) == -INFINITY);
    ck_assert(ps_dist_t_quantile(1.0, 3) == INFINITY);
    ck_assert(ps_dist_f_quantile(0.0, 3, 4) == 0.0);
    ck_assert(ps_dist_f_quantile(1.0, 3, 4) == INFINITY);
    ck_assert(ps_dist_f_q(INFINITY, 3, 4) == 0.0);
    ck_assert(ps_dist_t_q(-INFINITY, 3) == 1.0);
    ck_assert(ps_dist_normal_quantile(0.0) == -INFINITY);
    /* a quantile is the inverse of its CDF to a few ulps across df */
    const double dfs[] = {0.5, 1, 2.5, 9, 30, 999, 1e5};
    for (size_t i = 0; i < sizeof dfs / sizeof *dfs; i++) {
        for (double p = 0.01; p < 1.0; p += 0.07) {
            double x = ps_dist_t_quantile(p, dfs[i]);
            ck_assert_close(ps_dist_t_p(x, dfs[i]), p, 1e-13);
            double f = ps_dist_f_quantile(p, dfs[i], 3.0 * dfs[i]);
            ck_assert_close(ps_dist_f_p(f, dfs[i], 3.0 * dfs[i]), p, 1e-13);
        }
    }
    double p, qq;
    ps_dist_beta_pq(0.3, 0.7, 2.0, 3.0, &p, &qq);
    /* I_0.3(2, 3) = sum_{j=2}^{4} C(4, j) .3^j .7^(4-j) = .2646 + .0756 + .0081 = .3483 */
    ck_assert_close(p, 0.3483, 1e-14);
    ck_assert_close(qq, 0.6517, 1e-14);
    ps_dist_beta_pq(0.3, 0.6, 2.0, 3.0, &p, &qq); /* x + y != 1 */
    ck_assert(isnan(p) && isnan(qq));
}
END_TEST

static Suite *make_suite(void)
{
    Suite *s = suite_create("stats_unit");
    TCase *tc = tcase_create("unit");
    tcase_add_test(tc, test_quantile_type7);
    tcase_add_test(tc, test_describe);
    tcase_add_test(tc, test_ttest_errors);
    tcase_add_test(tc, test_rank);
    tcase_add_test(tc, test_wilcoxon_hand);
    tcase_add_test(tc, test_wilcoxon_no_rounding);
    tcase_add_test(tc, test_padjust_hand);
    tcase_add_test(tc, test_regression_edges);
    tcase_add_test(tc, test_bland_altman_hand);
    tcase_add_test(tc, test_bootstrap_threads);
    tcase_add_test(tc, test_bootstrap_edges);
    tcase_add_test(tc, test_distribution_edges);
    suite_add_tcase(s, tc);
    return s;
}

PS_TEST_MAIN(make_suite)
