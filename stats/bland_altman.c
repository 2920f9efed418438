/* bland_altman.c - Bland-Altman bias, limits of agreement and their confidence intervals.
 *
 *   d_i = y_i - x_i (e.g. predicted - reference), bias = mean(d), s = SD(d) (n - 1),
 *   limits of agreement LoA = bias -+ k s with k = Phi^-1(0.975) = 1.959963984540054
 *   (Bland & Altman, Lancet 1986; 327:307-310),
 *   CI of the bias: bias -+ t_{(1+level)/2, n-1} s / sqrt(n),
 *   CI of each limit: LoA -+ t_{(1+level)/2, n-1} sqrt(3 s^2 / n), the approximate standard
 *   error of a limit, sqrt(s^2/n + k^2 s^2 / (2(n-1))) ~ sqrt(3 s^2 / n) (Bland & Altman 1986,
 *   section "Precision of estimated limits of agreement"; Bland & Altman, Stat Methods Med
 *   Res 1999; 8:135-160, section 2.3).
 */
#include "ps_stats.h"
#include "stats_internal.h"

#include <math.h>
#include <stdlib.h>

int ps_stats_bland_altman(const double *x, const double *y, size_t n, double level,
                          ps_bland_altman *out)
{
    int rc;
    if (n < 2)
        return ps_error(PS_ERR_NUMERIC, "Bland-Altman analysis needs at least 2 pairs, got %zu",
                        n);
    if (!(level > 0.0 && level < 1.0))
        return ps_error(PS_ERR_ARG, "confidence level must be in (0, 1), got %g", level);
    if ((rc = ps_stats_check_finite_(x, n, "x")) || (rc = ps_stats_check_finite_(y, n, "y")))
        return rc;
    double *d = ps_malloc_array(n, sizeof *d);
    if (!d)
        return PS_ERR_NOMEM;
    for (size_t i = 0; i < n; i++)
        d[i] = y[i] - x[i];
    double dn = (double)n;
    out->n = (int64_t)n;
    out->bias = ps_stats_mean_(d, n);
    out->sd = sqrt(ps_stats_ssd_(d, n, out->bias) / (dn - 1.0));
    free(d);
    out->k = ps_dist_normal_quantile(0.975);
    out->loa_low = out->bias - out->k * out->sd;
    out->loa_high = out->bias + out->k * out->sd;
    out->level = level;
    double t = ps_dist_t_quantile(0.5 * (1.0 + level), dn - 1.0);
    double hb = t * out->sd / sqrt(dn), hl = t * sqrt(3.0 * out->sd * out->sd / dn);
    out->bias_ci_low = out->bias - hb;
    out->bias_ci_high = out->bias + hb;
    out->loa_low_ci_low = out->loa_low - hl;
    out->loa_low_ci_high = out->loa_low + hl;
    out->loa_high_ci_low = out->loa_high - hl;
    out->loa_high_ci_high = out->loa_high + hl;
    return PS_OK;
}
