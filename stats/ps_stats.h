/* ps_stats.h - statistics on numbers: distributions, descriptive statistics, bootstrap,
 * paired tests, multiple-comparison correction, volume agreement (regression, correlation,
 * Bland-Altman), and (via ps_stats_agreement.h) inter-rater agreement.
 *
 * The module knows nothing about volumes or files: every function takes plain arrays of
 * doubles. Formulas, conventions and the reference implementations each one is tested
 * against are in docs/stats.md.
 *
 * Conventions
 * - Functions that can fail return 0 or a negative PS_ERR_* code with a message
 *   (ps_error()); a statistic that is undefined for the data (n too small, zero variance)
 *   is PS_ERR_NUMERIC with a message saying why. Inputs must be finite: a NaN or Inf input
 *   is PS_ERR_ARG naming its index (NaN never propagates silently).
 * - Distribution functions never fail: out-of-domain arguments give NaN.
 * - Upper tails are computed directly (never as 1 - P), so small p-values keep their
 *   relative precision.
 * - GSL is used with its abort-on-error handler switched off (ps_stats_init()).
 * - Thread safety: all functions are reentrant; they share no mutable state.
 */
#ifndef PS_STATS_H
#define PS_STATS_H

#include <stddef.h>
#include <stdint.h>

#include "ps_core.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Switch GSL's error handler off (GSL would otherwise abort the process). Idempotent; the
 * CLI calls it at start-up, library entry points that use GSL call it too. */
void ps_stats_init(void);

/* ---- distributions --------------------------------------------------------------------- */
/* _p: lower tail P(X <= x); _q: upper tail P(X > x); _quantile: inverse of the lower tail.
 * Quantiles are found by bracketed root finding (Brent) on the CDF to full double
 * precision, solving Q(x) = 1 - p when p > 0.5. Infinite df of t gives the normal. */
double ps_dist_normal_p(double x);
double ps_dist_normal_q(double x);
double ps_dist_normal_quantile(double p);
double ps_dist_t_p(double x, double df);
double ps_dist_t_q(double x, double df);
double ps_dist_t_quantile(double p, double df);
double ps_dist_f_p(double x, double df1, double df2);
double ps_dist_f_q(double x, double df1, double df2);
double ps_dist_f_quantile(double p, double df1, double df2);
double ps_dist_chisq_p(double x, double df);
double ps_dist_chisq_q(double x, double df);
/* Regularized incomplete beta I_x(a, b) and its complement 1 - I_x(a, b), given x and
 * y = 1 - x separately (so neither loses precision near 1). Stores NaN on bad input. */
void ps_dist_beta_pq(double x, double y, double a, double b, double *p, double *q);

/* ---- alternatives of one-sided tests --------------------------------------------------- */
typedef enum ps_alternative {
    PS_ALT_TWO_SIDED = 0,
    PS_ALT_GREATER, /* H1: location of a - b > 0 */
    PS_ALT_LESS,    /* H1: location of a - b < 0 */
} ps_alternative;

/* ---- descriptive statistics ------------------------------------------------------------ */
/* Sample quantile of sorted data, R's type 7 (numpy's default 'linear'):
 * h = (n - 1) p, Q = x[floor(h)] + (h - floor(h)) (x[floor(h) + 1] - x[floor(h)]). */
double ps_stats_quantile_sorted(const double *sorted, size_t n, double p);

typedef struct ps_stats_summary {
    int64_t n;
    double mean;
    double sd;               /* sample SD, divisor n - 1 (NaN when n = 1)                 */
    double median;
    double q1, q3, iqr;      /* type-7 quartiles and q3 - q1                              */
    double min, max;
    double level;            /* confidence level of the CI below                          */
    double ci_low, ci_high;  /* t-based CI of the mean: mean -+ t_{(1+level)/2, n-1} sd/sqrt(n) */
} ps_stats_summary;

/* Summary of x[0..n-1] (n >= 1; for n = 1 sd and the CI are NaN). `work` holds n doubles
 * (caller-allocated; NULL = allocate internally). */
int ps_stats_describe(const double *x, size_t n, double level, double *work,
                      ps_stats_summary *out);

/* ---- bootstrap ------------------------------------------------------------------------- */
/* Statistic being bootstrapped. */
typedef enum ps_boot_stat { PS_BOOT_MEAN = 0, PS_BOOT_MEDIAN } ps_boot_stat;

typedef struct ps_boot_ci {
    int64_t replicates;
    double estimate;           /* statistic of the original sample                          */
    double level;
    double pct_low, pct_high;  /* percentile interval                                         */
    double bca_low, bca_high;  /* bias-corrected and accelerated interval (Efron 1987)        */
    double z0, accel;          /* BCa bias correction and acceleration                       */
} ps_boot_ci;

/* Nonparametric bootstrap of `stat` over x[0..n-1] with `replicates` resamples.
 * Resampling scheme (reproducible, documented in docs/stats.md): one GSL mt19937 stream
 * seeded with gsl_rng_set(r, seed) draws, replicate by replicate, n indices with
 * gsl_rng_uniform_int(r, n); the statistics of the replicates are then computed in parallel
 * with `threads` OpenMP threads (0 = all). The result does not depend on the thread count.
 * Interval ends are type-7 quantiles of the replicate statistics. */
int ps_stats_bootstrap(const double *x, size_t n, ps_boot_stat stat, int64_t replicates,
                       double level, uint64_t seed, int threads, ps_boot_ci *out);

/* ---- paired comparison ----------------------------------------------------------------- */
typedef struct ps_ttest_paired {
    int64_t n;
    double mean_diff;              /* mean of d = a - b                                    */
    double sd_diff;                /* SD of d (n - 1)                                      */
    double t, df;                  /* t = mean_diff / (sd_diff / sqrt(n)), df = n - 1       */
    double p_two_sided, p_greater, p_less;
    double level, ci_low, ci_high; /* two-sided CI of the mean difference                 */
    double dz;                     /* Cohen's d_z = mean_diff / sd_diff                    */
} ps_ttest_paired;

/* Paired t-test of a - b (R: t.test(a, b, paired = TRUE)). n >= 2 and the differences must
 * not all be equal (PS_ERR_NUMERIC otherwise). */
int ps_stats_ttest_paired(const double *a, const double *b, size_t n, double level,
                          ps_ttest_paired *out);

/* Wilcoxon signed-rank test. */
typedef enum ps_wilcoxon_zero {
    PS_WILCOXON_ZERO_WILCOX = 0, /* drop zero differences, then rank (R; scipy default)   */
    PS_WILCOXON_ZERO_PRATT,      /* rank with the zeros, then drop their ranks (Pratt 1959) */
    PS_WILCOXON_ZERO_ZSPLIT,     /* rank with the zeros, split their ranks half/half       */
} ps_wilcoxon_zero;

typedef enum ps_wilcoxon_method {
    /* R wilcox.test(exact = NULL): exact iff n (non-zero differences) < 50, no ties and no
     * zeros; otherwise the normal approximation. */
    PS_WILCOXON_AUTO_R = 0,
    /* scipy.stats.wilcoxon 1.10 method='auto': exact iff len(d) <= 50 (zeros counted) and no
     * zeros. As in scipy 1.10, ties do not switch to the approximation: the exact null
     * distribution is evaluated at floor(r+). */
    PS_WILCOXON_AUTO_SCIPY,
    /* scipy 1.10 method='exact' (zeros switch to the approximation, ties as above). */
    PS_WILCOXON_EXACT,
    PS_WILCOXON_APPROX, /* normal approximation with tie correction */
} ps_wilcoxon_method;

typedef struct ps_wilcoxon_options {
    ps_wilcoxon_zero zero;
    ps_wilcoxon_method method;
    int correction; /* continuity correction of the normal approximation (0/1) */
} ps_wilcoxon_options;

/* Defaults of R's wilcox.test(paired = TRUE): wilcox zeros, AUTO_R, correction on. */
void ps_wilcoxon_options_r(ps_wilcoxon_options *o);
/* Defaults of scipy.stats.wilcoxon 1.10: wilcox zeros, AUTO_SCIPY, correction off. */
void ps_wilcoxon_options_scipy(ps_wilcoxon_options *o);

typedef struct ps_wilcoxon {
    int64_t n;          /* pairs given                                                  */
    int64_t n_zero;     /* differences exactly 0                                        */
    int64_t n_ranked;   /* differences that enter the null distribution                 */
    int exact;          /* 1 if the exact null distribution was used                    */
    int ties;           /* 1 if |d| had ties (among the ranked values)                  */
    double v;           /* R's V: sum of ranks of positive differences (zsplit: + half the zero ranks) */
    double v_minus;     /* the same for negative differences                            */
    double z;           /* normal statistic of r+ (NaN when exact)                      */
    double p_two_sided, p_greater, p_less;
} ps_wilcoxon;

/* Wilcoxon signed-rank test of d = a - b (b may be NULL: a holds the differences).
 * Differences are compared exactly as computed (no rounding before tie detection).
 * PS_ERR_NUMERIC when no difference is left to rank. */
int ps_stats_wilcoxon(const double *a, const double *b, size_t n, const ps_wilcoxon_options *o,
                      ps_wilcoxon *out);

/* Average ranks (1-based, ties get their mean rank; R's rank(), scipy's rankdata()) of
 * x[0..n-1] into rank[]. If `nties_sum` is not NULL it receives sum over tie groups of
 * t^3 - t (t = group size), the tie term of rank-test variances. */
int ps_stats_rank(const double *x, size_t n, double *rank, double *nties_sum);

/* ---- multiple comparisons -------------------------------------------------------------- */
typedef enum ps_padjust_method {
    PS_PADJUST_NONE = 0,
    PS_PADJUST_BONFERRONI,
    PS_PADJUST_HOLM,
    PS_PADJUST_BH, /* Benjamini-Hochberg ("BH"/"fdr" in R) */
} ps_padjust_method;

/* "none", "bonferroni", "holm", "bh" (also "BH", "fdr"); PS_ERR_ARG otherwise. */
int ps_padjust_method_parse(const char *s, ps_padjust_method *out);
const char *ps_padjust_method_name(ps_padjust_method m);

/* R's p.adjust(p, method): NaN p-values are left out of the count and stay NaN in the
 * output; the others are adjusted among themselves. `out` may equal `p`. */
int ps_stats_padjust(const double *p, size_t n, ps_padjust_method method, double *out);

/* ---- volume agreement ------------------------------------------------------------------ */
typedef struct ps_regression {
    int64_t n;
    double slope, intercept;        /* OLS of y on x                                         */
    double slope_se, intercept_se;
    double slope_t, intercept_t;    /* estimate / SE, df = n - 2                             */
    double slope_p, intercept_p;    /* two-sided, H0: coefficient = 0                        */
    double r2;                      /* R^2 of the fit = squared Pearson r                    */
    double r2_identity;             /* 1 - sum (y - x)^2 / sum (x - mean x)^2:
                                       sklearn r2_score(x, y), y predicted as x              */
} ps_regression;

/* Ordinary least squares y = intercept + slope x (R: lm(y ~ x)). n >= 3, neither x nor y
 * constant. When the residuals are all zero (a perfect fit) the SEs are 0, a non-zero
 * coefficient gets t = +-inf and p = 0, a zero coefficient t = NaN and p = NaN. */
int ps_stats_regression(const double *x, const double *y, size_t n, ps_regression *out);

typedef struct ps_correlation {
    int64_t n;
    double r, p;              /* Pearson r, two-sided p (t = r sqrt((n-2)/(1-r^2)), df n-2) */
    double level, ci_low, ci_high; /* Fisher-z CI: tanh(atanh r -+ z_{(1+level)/2}/sqrt(n-3)); NaN if n < 4 */
    double rho, rho_p;        /* Spearman rho (Pearson r of average ranks) and its t-based p */
} ps_correlation;

/* Pearson and Spearman correlation (R: cor.test; scipy.stats.pearsonr / spearmanr).
 * n >= 3, neither variable constant. */
int ps_stats_correlation(const double *x, const double *y, size_t n, double level,
                         ps_correlation *out);

typedef struct ps_bland_altman {
    int64_t n;
    double bias;            /* mean of d = y - x                                          */
    double sd;              /* SD of d (n - 1)                                            */
    double k;               /* LoA multiplier: Phi^-1(0.975) = 1.959963984540054          */
    double loa_low, loa_high;                 /* bias -+ k sd                            */
    double level;                             /* confidence level of the CIs below       */
    double bias_ci_low, bias_ci_high;         /* bias -+ t_{(1+level)/2, n-1} sd/sqrt(n)  */
    double loa_low_ci_low, loa_low_ci_high;   /* LoA -+ t_{(1+level)/2, n-1} sqrt(3 sd^2/n) */
    double loa_high_ci_low, loa_high_ci_high; /*   (Bland & Altman 1986; 1999, sec. 5.1)  */
} ps_bland_altman;

/* Bland-Altman analysis of y (e.g. predicted) against x (e.g. reference), n >= 2. */
int ps_stats_bland_altman(const double *x, const double *y, size_t n, double level,
                          ps_bland_altman *out);

#ifdef __cplusplus
}
#endif

/* Inter-rater agreement (kappa, Krippendorff's alpha, ICC). */
#include "ps_stats_agreement.h"

#endif /* PS_STATS_H */
