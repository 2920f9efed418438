/* distributions.c - normal, t, F and chi-square distributions in double precision.
 *
 * Lower and upper tails are both computed directly, so a small upper-tail p-value keeps its
 * relative precision (1 - P would round it away):
 * - normal: GSL's gsl_cdf_ugaussian_P/Q (Cody 1969) and Pinv (Wichura 1988, AS 241).
 * - t and F: the regularized incomplete beta function (Abramowitz & Stegun 26.5.8 continued
 *   fraction, evaluated with the modified Lentz method), with x and 1 - x passed separately:
 *     t:  P(|T| > t) = I_{n/(n+t^2)}(n/2, 1/2)           (A&S 26.7.1; R's pt)
 *     F:  P(F <= f)  = I_{d1 f/(d1 f+d2)}(d1/2, d2/2)     (A&S 26.6.2; R's pf)
 *   (no large-df approximation: with b = 1/2 the fraction converges quickly for any df).
 * - chi-square: GSL's regularized incomplete gamma P and Q.
 * Quantiles are the root of the CDF (lower tail for p <= 1/2, upper tail with 1 - p, which is
 * exact in floating point, for p > 1/2), bracketed by doubling/halving and then found with
 * Brent's method (Brent 1973, "Algorithms for minimization without derivatives", ch. 4) to
 * the last bit. GSL's gsl_cdf_fdist_Pinv / tdist_Pinv fail to converge at realistic df
 * (e.g. F 0.975 quantile with df 9, 999), which is why they are not used.
 */
#include "ps_stats.h"

#include <float.h>
#include <math.h>

#ifndef M_PI
#define M_PI 3.14159265358979323846
#endif

#include <gsl/gsl_cdf.h>
#include <gsl/gsl_errno.h>
#include <gsl/gsl_sf_gamma.h>

void ps_stats_init(void)
{
    gsl_set_error_handler_off();
}

/* ---- normal ---------------------------------------------------------------------------- */
double ps_dist_normal_p(double x)
{
    if (isnan(x))
        return NAN;
    return gsl_cdf_ugaussian_P(x);
}

double ps_dist_normal_q(double x)
{
    if (isnan(x))
        return NAN;
    return gsl_cdf_ugaussian_Q(x);
}

double ps_dist_normal_quantile(double p)
{
    if (!(p >= 0.0 && p <= 1.0))
        return NAN;
    if (p == 0.0)
        return -INFINITY;
    if (p == 1.0)
        return INFINITY;
    /* AS 241 (PPND16), relative accuracy about 1e-16 */
    return p <= 0.5 ? gsl_cdf_ugaussian_Pinv(p) : -gsl_cdf_ugaussian_Pinv(1.0 - p);
}

/* ---- incomplete beta ------------------------------------------------------------------- */
/* Stirling-series remainder delta(x) = ln Gamma(x) - [(x - 1/2) ln x - x + ln(2 pi)/2] for
 * x >= 10 (A&S 6.1.41; the next term, 3617/(122400 x^15), is below 1e-17 there). */
static double stirling_delta(double x)
{
    double r = 1.0 / x, r2 = r * r;
    return r * (1.0 / 12 - r2 * (1.0 / 360 - r2 * (1.0 / 1260 - r2 * (1.0 / 1680 -
           r2 * (1.0 / 1188 - r2 * (691.0 / 360360 - r2 * (1.0 / 156)))))));
}

/* rlog1(e) = e - ln(1 + e) >= 0 without cancellation for small |e|: with t = e / (2 + e),
 * ln(1 + e) = 2 atanh(t), so rlog1(e) = e^2 / (2 + e) - 2 (t^3/3 + t^5/5 + ...). */
static double rlog1(double e)
{
    if (fabs(e) > 0.25)
        return e - log1p(e);
    double t = e / (2.0 + e), t2 = t * t, term = t * t2, sum = 0.0;
    for (int k = 3; k < 60; k += 2) {
        sum += term / k;
        term *= t2;
        if (fabs(term) < 1e-18 * fabs(sum))
            break;
    }
    return e * e / (2.0 + e) - 2.0 * sum;
}

/* ln(x^a y^b / B(a, b)) with y = 1 - x, accurate for large a and b (the naive sum of logs
 * cancels terms of size a ln a). For a, b >= 10 (the scheme of Didonato & Morris 1992, TOMS
 * 708, brcomp): with x0 = a/(a+b), y0 = b/(a+b) and lambda = a - (a+b) x = (a+b) y - b,
 *   a ln(x/x0) + b ln(y/y0) = -a rlog1(-lambda/a) - b rlog1(lambda/b),
 *   a ln x0 + b ln y0 - ln B(a,b) = ln sqrt(a b / (2 pi (a+b))) - delta(a) - delta(b)
 *                                   + delta(a+b)   (Stirling).
 * When only one parameter is large, ln Gamma(a) - ln Gamma(a+b) is taken from Stirling as
 * -(a - 1/2) log1p(b/a) - b ln(a+b) + b + delta(a) - delta(a+b). */
static double log_beta_front(double x, double y, double a, double b)
{
    double lx = x < 0.5 ? log(x) : log1p(-y);
    double ly = y < 0.5 ? log(y) : log1p(-x);
    if (a >= 10.0 && b >= 10.0) {
        double ab = a + b;
        double lam = a <= b ? a - ab * x : ab * y - b;
        double e1 = -lam / a, e2 = lam / b, core;
        if (fabs(e1) <= 0.5 && fabs(e2) <= 0.5)
            core = -a * rlog1(e1) - b * rlog1(e2);
        else
            core = a * (lx - log(a / ab)) + b * (ly - log(b / ab));
        return core + 0.5 * log(a * b / (2.0 * M_PI * ab)) - stirling_delta(a) -
               stirling_delta(b) + stirling_delta(ab);
    }
    double lbeta;
    if (a >= 10.0 || b >= 10.0) {
        double big = a >= b ? a : b, small = a >= b ? b : a;
        double lratio = -(big - 0.5) * log1p(small / big) - small * log(big + small) + small +
                        stirling_delta(big) - stirling_delta(big + small);
        lbeta = gsl_sf_lngamma(small) + lratio;
    } else {
        lbeta = gsl_sf_lnbeta(a, b);
    }
    return a * lx + b * ly - lbeta;
}

/* Continued fraction of I_x(a, b) (A&S 26.5.8) times its prefactor
 * x^a y^b / (a B(a, b)); converges fast for x < (a + 1) / (a + b + 2). */
static double beta_cf(double x, double y, double a, double b)
{
    const double tiny = 1e-300;
    double lfront = log_beta_front(x, y, a, b) - log(a);
    double f = 1.0, c = 1.0, d = 0.0;
    for (int i = 0; i <= 200000; i++) {
        double num;
        int m = i / 2;
        if (i == 0)
            num = 1.0;
        else if (i % 2 == 0)
            num = (m * (b - m) * x) / ((a + 2.0 * m - 1.0) * (a + 2.0 * m));
        else
            num = -((a + m) * (a + b + m) * x) / ((a + 2.0 * m) * (a + 2.0 * m + 1.0));
        d = 1.0 + num * d;
        if (fabs(d) < tiny)
            d = tiny;
        d = 1.0 / d;
        c = 1.0 + num / c;
        if (fabs(c) < tiny)
            c = tiny;
        double cd = c * d;
        f *= cd;
        if (fabs(1.0 - cd) < 0.5 * DBL_EPSILON)
            return exp(lfront) * (f - 1.0);
    }
    return NAN; /* did not converge (does not happen for finite a, b below ~1e10) */
}

void ps_dist_beta_pq(double x, double y, double a, double b, double *p, double *q)
{
    if (isnan(x) || isnan(y) || !(a > 0) || !(b > 0) || isinf(a) || isinf(b) || x < 0 ||
        y < 0 || fabs(x + y - 1.0) > 4 * DBL_EPSILON) {
        *p = *q = NAN;
        return;
    }
    if (x == 0.0) {
        *p = 0.0, *q = 1.0;
        return;
    }
    if (y == 0.0) {
        *p = 1.0, *q = 0.0;
        return;
    }
    if (x < (a + 1.0) / (a + b + 2.0)) {
        *p = beta_cf(x, y, a, b);
        *q = 1.0 - *p;
    } else {
        *q = beta_cf(y, x, b, a); /* I_x(a, b) = 1 - I_y(b, a) */
        *p = 1.0 - *q;
    }
}

/* ---- t --------------------------------------------------------------------------------- */
/* Upper tail P(T > t) for t >= 0. */
static double t_upper(double t, double df)
{
    if (isinf(t))
        return 0.0;
    if (isinf(df) || df > 1e300)
        return gsl_cdf_ugaussian_Q(t);
    double p, q;
    double den = df + t * t;
    ps_dist_beta_pq(df / den, t * t / den, 0.5 * df, 0.5, &p, &q);
    return 0.5 * p; /* P(|T| > t) / 2 */
}

double ps_dist_t_p(double x, double df)
{
    if (isnan(x) || isnan(df) || !(df > 0))
        return NAN;
    return x <= 0 ? t_upper(-x, df) : 1.0 - t_upper(x, df) /* > 1/2 */;
}

double ps_dist_t_q(double x, double df)
{
    if (isnan(x) || isnan(df) || !(df > 0))
        return NAN;
    return x >= 0 ? t_upper(x, df) : 1.0 - t_upper(-x, df);
}

/* ---- F --------------------------------------------------------------------------------- */
static void f_pq(double x, double df1, double df2, double *p, double *q)
{
    if (isinf(x)) {
        *p = 1.0, *q = 0.0;
        return;
    }
    double den = df1 * x + df2;
    ps_dist_beta_pq(df1 * x / den, df2 / den, 0.5 * df1, 0.5 * df2, p, q);
}

static int f_args_bad(double x, double df1, double df2)
{
    return isnan(x) || !(df1 > 0) || !(df2 > 0) || isinf(df1) || isinf(df2);
}

double ps_dist_f_p(double x, double df1, double df2)
{
    if (f_args_bad(x, df1, df2))
        return NAN;
    if (x <= 0)
        return 0.0;
    double p, q;
    f_pq(x, df1, df2, &p, &q);
    return p;
}

double ps_dist_f_q(double x, double df1, double df2)
{
    if (f_args_bad(x, df1, df2))
        return NAN;
    if (x <= 0)
        return 1.0;
    double p, q;
    f_pq(x, df1, df2, &p, &q);
    return q;
}

/* ---- chi-square ------------------------------------------------------------------------ */
double ps_dist_chisq_p(double x, double df)
{
    if (isnan(x) || !(df > 0) || isinf(df))
        return NAN;
    if (x <= 0)
        return 0.0;
    if (isinf(x))
        return 1.0;
    return gsl_sf_gamma_inc_P(0.5 * df, 0.5 * x);
}

double ps_dist_chisq_q(double x, double df)
{
    if (isnan(x) || !(df > 0) || isinf(df))
        return NAN;
    if (x <= 0)
        return 1.0;
    if (isinf(x))
        return 0.0;
    return gsl_sf_gamma_inc_Q(0.5 * df, 0.5 * x);
}

/* ---- quantiles by root finding --------------------------------------------------------- */
typedef double (*tail_fn)(double x, const double *par);

/* Brent's zeroin on g(x) = fn(x) - target over [lo, hi], where g(lo), g(hi) differ in sign.
 * Stops when the bracket is down to a few ulps of the root (tolerance 0). */
static double brent_root(tail_fn fn, const double *par, double target, double lo, double hi)
{
    double a = lo, b = hi;
    double fa = fn(a, par) - target, fb = fn(b, par) - target;
    if (fa == 0)
        return a;
    if (fb == 0)
        return b;
    if (isnan(fa) || isnan(fb) || (fa > 0) == (fb > 0))
        return NAN;
    double c = a, fc = fa, d = b - a, e = d;
    for (int iter = 0; iter < 2000; iter++) {
        if ((fb > 0) == (fc > 0)) {
            c = a, fc = fa;
            d = e = b - a;
        }
        if (fabs(fc) < fabs(fb)) {
            a = b, b = c, c = a;
            fa = fb, fb = fc, fc = fa;
        }
        double tol = 2.0 * DBL_EPSILON * fabs(b) + DBL_MIN;
        double m = 0.5 * (c - b);
        if (fabs(m) <= tol || fb == 0)
            return b;
        if (fabs(e) >= tol && fabs(fa) > fabs(fb)) {
            /* interpolation: secant when two points, inverse quadratic when three */
            double s = fb / fa, p, q;
            if (a == c) {
                p = 2.0 * m * s;
                q = 1.0 - s;
            } else {
                double qq = fa / fc, r = fb / fc;
                p = s * (2.0 * m * qq * (qq - r) - (b - a) * (r - 1.0));
                q = (qq - 1.0) * (r - 1.0) * (s - 1.0);
            }
            if (p > 0)
                q = -q;
            else
                p = -p;
            if (2.0 * p < fmin(3.0 * m * q - fabs(tol * q), fabs(e * q))) {
                e = d;
                d = p / q;
            } else {
                d = m, e = m; /* bisection */
            }
        } else {
            d = m, e = m;
        }
        a = b, fa = fb;
        b += fabs(d) > tol ? d : (m > 0 ? tol : -tol);
        fb = fn(b, par) - target;
        if (isnan(fb))
            return NAN;
    }
    return b;
}

/* Root of a decreasing tail function on (0, inf): fn(x) = target with fn(0+) > target.
 * The bracket starts at [1, 2] and is doubled or halved until it contains the root. */
static double positive_root(tail_fn fn, const double *par, double target, int increasing)
{
    double lo = 1.0, hi = 2.0;
    /* for an increasing fn (a CDF), the root is above x when fn(x) < target */
    if (increasing) {
        while (fn(hi, par) < target && hi < DBL_MAX / 4)
            lo = hi, hi *= 2.0;
        while (fn(lo, par) > target && lo > DBL_MIN * 4)
            hi = lo, lo *= 0.5;
    } else {
        while (fn(hi, par) > target && hi < DBL_MAX / 4)
            lo = hi, hi *= 2.0;
        while (fn(lo, par) < target && lo > DBL_MIN * 4)
            hi = lo, lo *= 0.5;
    }
    return brent_root(fn, par, target, lo, hi);
}

static double t_upper_fn(double x, const double *par)
{
    return t_upper(x, par[0]);
}

double ps_dist_t_quantile(double p, double df)
{
    if (!(p >= 0.0 && p <= 1.0) || isnan(df) || !(df > 0))
        return NAN;
    if (p == 0.0)
        return -INFINITY;
    if (p == 1.0)
        return INFINITY;
    if (p == 0.5)
        return 0.0;
    if (isinf(df))
        return ps_dist_normal_quantile(p);
    /* by symmetry, x_p = -x_{1-p}; solve P(T > x) = min(p, 1 - p) for x > 0 */
    double tail = p < 0.5 ? p : 1.0 - p;
    double x = positive_root(t_upper_fn, &df, tail, 0);
    return p < 0.5 ? -x : x;
}

static double f_lower_fn(double x, const double *par)
{
    double p, q;
    f_pq(x, par[0], par[1], &p, &q);
    return p;
}

static double f_upper_fn(double x, const double *par)
{
    double p, q;
    f_pq(x, par[0], par[1], &p, &q);
    return q;
}

double ps_dist_f_quantile(double p, double df1, double df2)
{
    if (!(p >= 0.0 && p <= 1.0) || f_args_bad(0.0, df1, df2))
        return NAN;
    if (p == 0.0)
        return 0.0;
    if (p == 1.0)
        return INFINITY;
    double par[2] = {df1, df2};
    if (p <= 0.5)
        return positive_root(f_lower_fn, par, p, 1);
    return positive_root(f_upper_fn, par, 1.0 - p, 0);
}
