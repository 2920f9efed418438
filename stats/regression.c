/* regression.c - OLS of y on x, R^2 against the identity line, Pearson and Spearman
 * correlation.
 *
 * OLS (R: lm(y ~ x); summary.lm): with Sxx = sum (x - xbar)^2, Sxy = sum (x - xbar)(y - ybar),
 *   slope b = Sxy / Sxx, intercept a = ybar - b xbar, RSS = sum (y - a - b x)^2,
 *   s^2 = RSS / (n - 2), SE(b) = sqrt(s^2 / Sxx), SE(a) = sqrt(s^2 (1/n + xbar^2 / Sxx)),
 *   t = estimate / SE with n - 2 df, p = 2 P(T > |t|); R^2 = 1 - RSS / Syy.
 * R^2 against the identity (sklearn.metrics.r2_score(x, y)): 1 - sum (y - x)^2 / Sxx.
 * Pearson (R cor.test; scipy pearsonr): r = Sxy / sqrt(Sxx Syy),
 *   t = r sqrt((n - 2) / (1 - r^2)), p = 2 P(T_{n-2} > |t|) (0 when |r| = 1);
 *   CI (Fisher 1921): tanh(atanh(r) -+ z_{(1+level)/2} / sqrt(n - 3)), n >= 4.
 * Spearman (scipy spearmanr): rho = Pearson r of the average ranks,
 *   t = rho sqrt((n - 2) / ((1 + rho)(1 - rho))), p = 2 P(T_{n-2} > |t|).
 */
#include "ps_stats.h"
#include "stats_internal.h"

#include <math.h>
#include <stdlib.h>

typedef struct {
    double xbar, ybar, sxx, syy, sxy;
} moments;

static void moments_of(const double *x, const double *y, size_t n, moments *m)
{
    m->xbar = ps_stats_mean_(x, n);
    m->ybar = ps_stats_mean_(y, n);
    m->sxx = m->syy = m->sxy = 0.0;
    for (size_t i = 0; i < n; i++) {
        double dx = x[i] - m->xbar, dy = y[i] - m->ybar;
        m->sxx += dx * dx;
        m->syy += dy * dy;
        m->sxy += dx * dy;
    }
}

static int check_xy(const double *x, const double *y, size_t n, const char *what)
{
    int rc;
    if (n < 3)
        return ps_error(PS_ERR_NUMERIC, "%s needs at least 3 pairs, got %zu", what, n);
    if ((rc = ps_stats_check_finite_(x, n, "x")) || (rc = ps_stats_check_finite_(y, n, "y")))
        return rc;
    return PS_OK;
}

static double two_sided_t(double t, double df)
{
    if (isnan(t))
        return NAN;
    return fmin(1.0, 2.0 * ps_dist_t_q(fabs(t), df));
}

int ps_stats_regression(const double *x, const double *y, size_t n, ps_regression *out)
{
    int rc;
    if ((rc = check_xy(x, y, n, "regression")))
        return rc;
    moments m;
    moments_of(x, y, n, &m);
    if (m.sxx == 0.0)
        return ps_error(PS_ERR_NUMERIC, "regression undefined: x is constant (%g)", x[0]);
    if (m.syy == 0.0)
        return ps_error(PS_ERR_NUMERIC, "regression R^2 undefined: y is constant (%g)", y[0]);
    double dn = (double)n, df = dn - 2.0;
    out->n = (int64_t)n;
    out->slope = m.sxy / m.sxx;
    out->intercept = m.ybar - out->slope * m.xbar;
    double rss = 0.0, sid = 0.0;
    for (size_t i = 0; i < n; i++) {
        double e = y[i] - out->intercept - out->slope * x[i];
        rss += e * e;
        sid += (y[i] - x[i]) * (y[i] - x[i]);
    }
    double s2 = rss / df;
    out->slope_se = sqrt(s2 / m.sxx);
    out->intercept_se = sqrt(s2 * (1.0 / dn + m.xbar * m.xbar / m.sxx));
    out->slope_t = out->slope_se > 0 ? out->slope / out->slope_se
                   : out->slope == 0 ? NAN : copysign(INFINITY, out->slope);
    out->intercept_t = out->intercept_se > 0 ? out->intercept / out->intercept_se
                       : out->intercept == 0 ? NAN : copysign(INFINITY, out->intercept);
    out->slope_p = two_sided_t(out->slope_t, df);
    out->intercept_p = two_sided_t(out->intercept_t, df);
    out->r2 = 1.0 - rss / m.syy;
    out->r2_identity = 1.0 - sid / m.sxx;
    return PS_OK;
}

static double pearson_of(const moments *m)
{
    double r = m->sxy / sqrt(m->sxx * m->syy);
    return fmax(-1.0, fmin(1.0, r));
}

int ps_stats_correlation(const double *x, const double *y, size_t n, double level,
                         ps_correlation *out)
{
    int rc;
    if ((rc = check_xy(x, y, n, "correlation")))
        return rc;
    if (!(level > 0.0 && level < 1.0))
        return ps_error(PS_ERR_ARG, "confidence level must be in (0, 1), got %g", level);
    moments m;
    moments_of(x, y, n, &m);
    if (m.sxx == 0.0 || m.syy == 0.0)
        return ps_error(PS_ERR_NUMERIC, "correlation undefined: %s is constant (%g)",
                        m.sxx == 0.0 ? "x" : "y", m.sxx == 0.0 ? x[0] : y[0]);
    double dn = (double)n, df = dn - 2.0;
    out->n = (int64_t)n;
    out->level = level;
    out->r = pearson_of(&m);
    out->p = fabs(out->r) == 1.0 ? 0.0
             : two_sided_t(out->r * sqrt(df / (1.0 - out->r * out->r)), df);
    if (n >= 4) {
        double z = atanh(out->r), h = ps_dist_normal_quantile(0.5 * (1.0 + level)) /
                                      sqrt(dn - 3.0);
        out->ci_low = tanh(z - h);
        out->ci_high = tanh(z + h);
    } else {
        out->ci_low = out->ci_high = NAN;
    }

    double *rx = ps_malloc_array(n, sizeof *rx), *ry = ps_malloc_array(n, sizeof *ry);
    if (!rx || !ry) {
        free(rx);
        free(ry);
        return PS_ERR_NOMEM;
    }
    if (!(rc = ps_stats_rank(x, n, rx, NULL)) && !(rc = ps_stats_rank(y, n, ry, NULL))) {
        moments mr;
        moments_of(rx, ry, n, &mr);
        double rho = pearson_of(&mr);
        out->rho = rho;
        out->rho_p = fabs(rho) == 1.0 ? 0.0
                     : two_sided_t(rho * sqrt(df / ((1.0 + rho) * (1.0 - rho))), df);
    }
    free(rx);
    free(ry);
    return rc;
}
