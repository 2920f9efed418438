/* select.c - order statistics and the percentile rules of the HD95 conventions.
 *
 * Percentiles of surface distances need one or two order statistics, not a sorted array, so
 * they use selection (expected O(n)). Only the area-weighted DeepMind rule sorts, because its
 * answer depends on a cumulative sum in distance order.
 */
#include <math.h>
#include <stdlib.h>

#include "metrics_internal.h"

static inline void swap_d(double *a, double *b)
{
    double t = *a;
    *a = *b;
    *b = t;
}

static int cmp_double(const void *pa, const void *pb)
{
    double a = *(const double *)pa, b = *(const double *)pb;
    return (a > b) - (a < b);
}

double ps_select_kth(double *x, int64_t n, int64_t k)
{
    /* Quickselect with a median-of-three pivot and a three-way (Dijkstra) partition, so the
     * many ties of grid distances cost nothing. After 64 rounds (adversarial input) the
     * remaining range is sorted: introselect's guarantee of O(n log n) worst case. */
    int64_t lo = 0, hi = n - 1;
    int rounds = 0;
    while (hi > lo) {
        if (++rounds > 64) {
            qsort(x + lo, (size_t)(hi - lo + 1), sizeof *x, cmp_double);
            break;
        }
        int64_t mid = lo + (hi - lo) / 2;
        double a = x[lo], b = x[mid], c = x[hi];
        double pivot = a < b ? (b < c ? b : (a < c ? c : a)) : (a < c ? a : (b < c ? c : b));
        /* x[lo..lt) < pivot, x[lt..i) == pivot, x(gt..hi] > pivot */
        int64_t lt = lo, i = lo, gt = hi;
        while (i <= gt) {
            if (x[i] < pivot)
                swap_d(&x[lt++], &x[i++]);
            else if (x[i] > pivot)
                swap_d(&x[i], &x[gt--]);
            else
                i++;
        }
        if (k < lt)
            hi = lt - 1;
        else if (k > gt)
            lo = gt + 1;
        else
            return x[k];
    }
    return x[k];
}

/* Smallest of x[from..n) (the (k+1)-th order statistic after ps_select_kth(x, n, k)). */
static double min_from(const double *x, int64_t from, int64_t n)
{
    double m = x[from];
    for (int64_t i = from + 1; i < n; i++)
        if (x[i] < m)
            m = x[i];
    return m;
}

double ps_percentile_linear(double *x, int64_t n, double q)
{
    /* numpy.percentile(method="linear") (R quantile type 7): virtual index h = (q/100)(n-1),
     * value x_(floor h) + (h - floor h) (x_(floor h + 1) - x_(floor h)). The interpolation is
     * numpy's _lerp: a + t (b - a), or b - (1 - t)(b - a) when t >= 0.5, so that results agree
     * with numpy to the last bit where possible. */
    if (n <= 0)
        return NAN;
    double h = (q / 100.0) * (double)(n - 1);
    if (h < 0)
        h = 0;
    if (h > (double)(n - 1))
        h = (double)(n - 1);
    int64_t k = (int64_t)floor(h);
    double t = h - (double)k;
    double a = ps_select_kth(x, n, k);
    if (k + 1 >= n || t == 0.0)
        return a;
    double b = min_from(x, k + 1, n);
    double diff = b - a;
    return t >= 0.5 ? b - diff * (1.0 - t) : a + diff * t;
}

double ps_percentile_plastimatch(double *x, int64_t n, double q)
{
    /* plastimatch 1.9.4, Hausdorff_distance::run_internal: ordinal = floor(f * n - 1) with
     * f = 0.95 by default, clamped to n - 1, then kth_smallest. We also clamp below at 0
     * (plastimatch would index -1 for n * f < 1). The 1e-9 guard keeps an exact integer
     * product f * n from dropping one rank through rounding of q / 100. */
    if (n <= 0)
        return NAN;
    double r = (q / 100.0) * (double)n - 1.0;
    int64_t k = (int64_t)floor(r + 1e-9 * fmax(1.0, fabs(r)));
    if (k < 0)
        k = 0;
    if (k > n - 1)
        k = n - 1;
    return ps_select_kth(x, n, k);
}

typedef struct {
    double d, w;
} dw_pair;

static int cmp_pair(const void *pa, const void *pb)
{
    const dw_pair *a = pa, *b = pb;
    if (a->d != b->d)
        return (a->d > b->d) - (a->d < b->d);
    return (a->w > b->w) - (a->w < b->w); /* total order: result independent of qsort */
}

int ps_percentile_weighted_first(double *d, double *w, int64_t n, double q, double *out)
{
    /* DeepMind surface-distance compute_robust_hausdorff: distances sorted ascending with their
     * surfel areas, cum = cumsum(area) / sum(area), idx = searchsorted(cum, q/100) (the first
     * cum >= q/100), value d[min(idx, n-1)]. No interpolation. */
    *out = NAN;
    if (n <= 0)
        return 0;
    dw_pair *p = ps_malloc_array((size_t)n, sizeof *p);
    if (!p)
        return PS_ERR_NOMEM;
    for (int64_t i = 0; i < n; i++) {
        p[i].d = d[i];
        p[i].w = w[i];
    }
    qsort(p, (size_t)n, sizeof *p, cmp_pair);
    double total = 0;
    for (int64_t i = 0; i < n; i++)
        total += p[i].w;
    double target = q / 100.0, cum = 0, result = p[n - 1].d;
    for (int64_t i = 0; i < n; i++) {
        cum += p[i].w;
        if (cum / total >= target) {
            result = p[i].d;
            break;
        }
    }
    for (int64_t i = 0; i < n; i++) {
        d[i] = p[i].d;
        w[i] = p[i].w;
    }
    free(p);
    *out = result;
    return 0;
}
