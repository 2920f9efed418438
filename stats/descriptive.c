/* descriptive.c - n, mean, SD, quantiles (R type 7), min/max and the t-based CI of the mean. */
#include "ps_stats.h"
#include "stats_internal.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

int ps_stats_check_finite_(const double *x, size_t n, const char *what)
{
    for (size_t i = 0; i < n; i++)
        if (!isfinite(x[i]))
            return ps_error(PS_ERR_ARG, "%s[%zu] is %s: statistics need finite values", what,
                            i, isnan(x[i]) ? "NaN" : "infinite");
    return PS_OK;
}

double ps_stats_mean_(const double *x, size_t n)
{
    double s = 0.0;
    for (size_t i = 0; i < n; i++)
        s += x[i];
    double m = s / (double)n, t = 0.0;
    for (size_t i = 0; i < n; i++)
        t += x[i] - m;
    return m + t / (double)n;
}

double ps_stats_fsum_(const double *x, size_t n)
{
    /* Non-overlapping partial sums, kept exact with two-sum; a finite double sum needs at
     * most ~40 of them (2098 exponent bits / 53). */
    double p[80];
    int np = 0;
    for (size_t k = 0; k < n; k++) {
        double v = x[k];
        int j = 0;
        for (int i = 0; i < np; i++) {
            double y = p[i];
            if (fabs(v) < fabs(y)) {
                double t = v;
                v = y;
                y = t;
            }
            double hi = v + y, lo = y - (hi - v);
            if (lo != 0.0)
                p[j++] = lo;
            v = hi;
        }
        np = j;
        if (np < 80)
            p[np++] = v;
    }
    if (np == 0)
        return 0.0;
    /* add the partials from the top until the result is inexact, then round half-even */
    double hi = p[--np], lo = 0.0;
    while (np > 0) {
        double v = hi, y = p[--np];
        hi = v + y;
        lo = y - (hi - v);
        if (lo != 0.0)
            break;
    }
    if (np > 0 && ((lo < 0.0 && p[np - 1] < 0.0) || (lo > 0.0 && p[np - 1] > 0.0))) {
        double y = lo * 2.0, v = hi + y;
        if (y == v - hi)
            hi = v;
    }
    return hi;
}

double ps_stats_ssd_(const double *x, size_t n, double mean)
{
    double s = 0.0;
    for (size_t i = 0; i < n; i++)
        s += (x[i] - mean) * (x[i] - mean);
    return s;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

void ps_stats_sort_(double *x, size_t n)
{
    qsort(x, n, sizeof *x, cmp_double);
}

size_t ps_stats_sorted_unique_(double *x, size_t n)
{
    ps_stats_sort_(x, n);
    size_t k = 0;
    for (size_t i = 0; i < n; i++)
        if (k == 0 || x[i] != x[k - 1])
            x[k++] = x[i];
    return k;
}

int ps_stats_lower_bound_(const double *u, int k, double v)
{
    int lo = 0, hi = k - 1;
    while (lo < hi) {
        int mid = lo + (hi - lo) / 2;
        if (u[mid] < v)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo;
}

/* R quantile(type = 7) / numpy percentile(method = 'linear'):
 * h = (n - 1) p, j = floor(h), Q = x[j] + (h - j) (x[j+1] - x[j]). */
double ps_stats_quantile_sorted(const double *sorted, size_t n, double p)
{
    if (n == 0 || !(p >= 0.0 && p <= 1.0))
        return NAN;
    double h = (double)(n - 1) * p;
    size_t j = (size_t)floor(h);
    if (j >= n - 1)
        return sorted[n - 1];
    double g = h - (double)j;
    return g == 0.0 ? sorted[j] : sorted[j] + g * (sorted[j + 1] - sorted[j]);
}

int ps_stats_describe(const double *x, size_t n, double level, double *work,
                      ps_stats_summary *out)
{
    int rc;
    if (n == 0)
        return ps_error(PS_ERR_NUMERIC, "no values to describe");
    if (!(level > 0.0 && level < 1.0))
        return ps_error(PS_ERR_ARG, "confidence level must be in (0, 1), got %g", level);
    if ((rc = ps_stats_check_finite_(x, n, "x")))
        return rc;
    double *s = work ? work : ps_malloc_array(n, sizeof *s);
    if (!s)
        return PS_ERR_NOMEM;
    memcpy(s, x, n * sizeof *s);
    ps_stats_sort_(s, n);

    memset(out, 0, sizeof *out);
    out->n = (int64_t)n;
    out->mean = ps_stats_mean_(x, n);
    out->sd = n > 1 ? sqrt(ps_stats_ssd_(x, n, out->mean) / (double)(n - 1)) : NAN;
    out->median = ps_stats_quantile_sorted(s, n, 0.5);
    out->q1 = ps_stats_quantile_sorted(s, n, 0.25);
    out->q3 = ps_stats_quantile_sorted(s, n, 0.75);
    out->iqr = out->q3 - out->q1;
    out->min = s[0];
    out->max = s[n - 1];
    out->level = level;
    if (n > 1) {
        double half = ps_dist_t_quantile(0.5 * (1.0 + level), (double)(n - 1)) * out->sd /
                      sqrt((double)n);
        out->ci_low = out->mean - half;
        out->ci_high = out->mean + half;
    } else {
        out->ci_low = out->ci_high = NAN;
    }
    if (!work)
        free(s);
    return PS_OK;
}
