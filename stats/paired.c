/* paired.c - paired t-test with CI and Cohen's d_z (R: t.test(a, b, paired = TRUE)).
 *
 *   d_i = a_i - b_i, dbar = mean(d), s = SD(d) (divisor n - 1), se = s / sqrt(n),
 *   t = dbar / se with n - 1 df; p two-sided = 2 P(T > |t|), greater = P(T > t),
 *   less = P(T <= t); CI = dbar -+ t_{(1+level)/2, n-1} se; d_z = dbar / s (Cohen 1988, 2.3).
 */
#include "ps_stats.h"
#include "stats_internal.h"

#include <float.h>
#include <math.h>
#include <stdlib.h>

int ps_stats_ttest_paired(const double *a, const double *b, size_t n, double level,
                          ps_ttest_paired *out)
{
    int rc;
    if (n < 2)
        return ps_error(PS_ERR_NUMERIC, "paired t-test needs at least 2 pairs, got %zu", n);
    if (!(level > 0.0 && level < 1.0))
        return ps_error(PS_ERR_ARG, "confidence level must be in (0, 1), got %g", level);
    if ((rc = ps_stats_check_finite_(a, n, "a")) || (rc = ps_stats_check_finite_(b, n, "b")))
        return rc;
    double *d = ps_malloc_array(n, sizeof *d);
    if (!d)
        return PS_ERR_NOMEM;
    for (size_t i = 0; i < n; i++)
        d[i] = a[i] - b[i];
    double m = ps_stats_mean_(d, n);
    double s = sqrt(ps_stats_ssd_(d, n, m) / (double)(n - 1));
    free(d);
    double se = s / sqrt((double)n);
    /* R's t.test: "data are essentially constant" */
    if (!(se > 10.0 * DBL_EPSILON * fabs(m)) || se == 0.0)
        return ps_error(PS_ERR_NUMERIC,
                        "paired t-test undefined: all %zu differences are equal (%g)", n, m);
    out->n = (int64_t)n;
    out->mean_diff = m;
    out->sd_diff = s;
    out->df = (double)(n - 1);
    out->t = m / se;
    out->p_greater = ps_dist_t_q(out->t, out->df);
    out->p_less = ps_dist_t_p(out->t, out->df);
    out->p_two_sided = fmin(1.0, 2.0 * ps_dist_t_q(fabs(out->t), out->df));
    out->level = level;
    double half = ps_dist_t_quantile(0.5 * (1.0 + level), out->df) * se;
    out->ci_low = m - half;
    out->ci_high = m + half;
    out->dz = m / s;
    return PS_OK;
}
