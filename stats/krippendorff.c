/* krippendorff.c - Krippendorff's alpha for nominal, ordinal, interval and ratio data.
 *
 * Definition (Krippendorff 2011, "Computing Krippendorff's Alpha-Reliability", sections A-E):
 * only units with m_u >= 2 ratings count ("pairable values"). The coincidence of values c
 * and k is o_ck = sum_u (number of ordered pairs (c, k) of ratings from different raters in
 * unit u) / (m_u - 1); n_c = sum_k o_ck is the number of pairable values equal to c and
 * n = sum_c n_c the number of pairable values. Then
 *     alpha = 1 - D_o / D_e = 1 - (n - 1) sum_{c,k} o_ck d2_ck / sum_{c,k} n_c n_k d2_ck
 * with the metric differences d2 of the header (ordinal ranks use the n_g of the pairable
 * values, in increasing order of value).
 *
 * Evaluation without the V x V coincidence matrix (V = number of distinct values, which is
 * large for continuous ratings):
 *   sum o_ck d2_ck        = sum_u 1/(m_u - 1) sum_{a != b in u} d2(v_a, v_b)   (per unit)
 *   sum n_c n_k d2_ck     nominal:  n^2 - sum n_c^2
 *                         interval: 2 n sum_c n_c (c - mean)^2   (mean of pairable values)
 *                         ordinal, ratio: 2 sum_{c<k} n_c n_k d2_ck (O(V^2), OpenMP over c:
 *                         one partial sum per c, added in order, so the result does not
 *                         depend on the thread count).
 */
#include "ps_stats.h"
#include "stats_internal.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#ifdef _OPENMP
#include <omp.h>
#endif

int ps_alpha_metric_parse(const char *s, ps_alpha_metric *out)
{
    static const char *names[] = {"nominal", "ordinal", "interval", "ratio"};
    for (int i = 0; i < 4; i++)
        if (!strcasecmp(s, names[i])) {
            *out = (ps_alpha_metric)i;
            return PS_OK;
        }
    return ps_error(PS_ERR_ARG, "metric must be nominal, ordinal, interval or ratio, got '%s'",
                    s);
}

const char *ps_alpha_metric_name(ps_alpha_metric m)
{
    switch (m) {
    case PS_ALPHA_ORDINAL:
        return "ordinal";
    case PS_ALPHA_INTERVAL:
        return "interval";
    case PS_ALPHA_RATIO:
        return "ratio";
    default:
        return "nominal";
    }
}


/* Squared metric difference of the values with indices g, h (vals sorted; cum[g] = sum of
 * n over indices < g). */
static double metric_d2(ps_alpha_metric m, const double *vals, const double *nc,
                        const double *cum, int g, int h)
{
    if (g == h)
        return 0.0;
    double c = vals[g], k = vals[h], d;
    switch (m) {
    case PS_ALPHA_NOMINAL:
        return 1.0;
    case PS_ALPHA_ORDINAL: {
        int lo = g < h ? g : h, hi = g < h ? h : g;
        d = cum[hi + 1] - cum[lo] - (nc[lo] + nc[hi]) / 2.0;
        return d * d;
    }
    case PS_ALPHA_INTERVAL:
        d = c - k;
        return d * d;
    case PS_ALPHA_RATIO:
        d = (c - k) / (c + k); /* c != k and both >= 0, so c + k > 0 */
        return d * d;
    }
    return NAN;
}

int ps_krippendorff_alpha(const double *x, size_t n, int raters, ps_alpha_metric metric,
                          int threads, ps_kripp_alpha *out)
{
    memset(out, 0, sizeof *out);
    out->alpha = NAN;
    if (raters < 2)
        return ps_error(PS_ERR_ARG, "Krippendorff's alpha needs at least 2 raters, got %d", raters);
    if ((int)metric < 0 || (int)metric > PS_ALPHA_RATIO)
        return ps_error(PS_ERR_ARG, "unknown alpha metric %d", (int)metric);
    size_t npair = 0;
    int64_t units = 0;
    for (size_t i = 0; i < n; i++) {
        size_t mu = 0;
        for (int j = 0; j < raters; j++) {
            double v = x[i * (size_t)raters + (size_t)j];
            if (isinf(v))
                return ps_error(PS_ERR_ARG, "subject %zu rater %d: rating is infinite", i + 1,
                                j + 1);
            if (metric == PS_ALPHA_RATIO && v < 0)
                return ps_error(PS_ERR_ARG, "subject %zu rater %d: rating %g is negative (the "
                                "ratio metric needs values >= 0)", i + 1, j + 1, v);
            if (!isnan(v))
                mu++;
        }
        if (mu >= 2) {
            npair += mu;
            units++;
        }
    }
    if (units == 0)
        return ps_error(PS_ERR_NUMERIC, "no subject has two or more ratings: Krippendorff's "
                        "alpha is undefined");

    /* distinct pairable values, their counts n_c and cumulative counts */
    double *vals = ps_malloc_array(npair, sizeof *vals);
    if (!vals)
        return PS_ERR_NOMEM;
    size_t m = 0;
    for (size_t i = 0; i < n; i++) {
        const double *row = x + i * (size_t)raters;
        int mu = 0;
        for (int j = 0; j < raters; j++)
            mu += !isnan(row[j]);
        if (mu < 2)
            continue;
        for (int j = 0; j < raters; j++)
            if (!isnan(row[j]))
                vals[m++] = row[j] == 0 ? 0.0 : row[j]; /* -0 and +0 are one value */
    }
    size_t V = ps_stats_sorted_unique_(vals, m);
    if (V > (size_t)INT32_MAX) {
        free(vals);
        return ps_error(PS_ERR_RANGE, "too many distinct values (%zu)", V);
    }
    double *nc = ps_calloc(2 * V + 1, sizeof *nc);
    int *idxbuf = ps_malloc_array((size_t)raters, sizeof *idxbuf);
    if (!nc || !idxbuf) {
        free(vals);
        free(nc);
        free(idxbuf);
        return PS_ERR_NOMEM;
    }
    double *cum = nc + V;
    for (size_t i = 0; i < n; i++) {
        const double *row = x + i * (size_t)raters;
        int mu = 0;
        for (int j = 0; j < raters; j++)
            mu += !isnan(row[j]);
        if (mu < 2)
            continue;
        for (int j = 0; j < raters; j++)
            if (!isnan(row[j]))
                nc[ps_stats_lower_bound_(vals, (int)V, row[j] == 0 ? 0.0 : row[j])] += 1.0;
    }
    cum[0] = 0;
    for (size_t g = 0; g < V; g++)
        cum[g + 1] = cum[g] + nc[g];
    double ntot = cum[V];

    /* observed: sum_u 1/(m_u - 1) sum_{a != b} d2 */
    double obs = 0;
    for (size_t i = 0; i < n; i++) {
        const double *row = x + i * (size_t)raters;
        int mu = 0;
        for (int j = 0; j < raters; j++)
            if (!isnan(row[j]))
                idxbuf[mu++] = ps_stats_lower_bound_(vals, (int)V, row[j] == 0 ? 0.0 : row[j]);
        if (mu < 2)
            continue;
        double s = 0;
        for (int a = 0; a < mu; a++)
            for (int b = a + 1; b < mu; b++)
                s += metric_d2(metric, vals, nc, cum, idxbuf[a], idxbuf[b]);
        obs += 2.0 * s / (mu - 1);
    }
    free(idxbuf);

    /* expected: sum_{c,k} n_c n_k d2_ck */
    double exp_sum = 0;
    if (metric == PS_ALPHA_NOMINAL) {
        double sq = 0;
        for (size_t g = 0; g < V; g++)
            sq += nc[g] * nc[g];
        exp_sum = ntot * ntot - sq;
    } else if (metric == PS_ALPHA_INTERVAL) {
        double mean = 0;
        for (size_t g = 0; g < V; g++)
            mean += nc[g] * vals[g];
        mean /= ntot;
        double ss = 0;
        for (size_t g = 0; g < V; g++)
            ss += nc[g] * (vals[g] - mean) * (vals[g] - mean);
        exp_sum = 2.0 * ntot * ss;
    } else {
        double *part = ps_malloc_array(V, sizeof *part);
        if (!part) {
            free(vals);
            free(nc);
            return PS_ERR_NOMEM;
        }
        int nth = 1;
#ifdef _OPENMP
        nth = threads > 0 ? threads : omp_get_max_threads();
#endif
        (void)nth;
        long long VV = (long long)V;
#pragma omp parallel for schedule(dynamic, 64) num_threads(nth) if (VV > 512)
        for (long long g = 0; g < VV; g++) {
            double s = 0;
            for (long long h = g + 1; h < VV; h++)
                s += nc[h] * metric_d2(metric, vals, nc, cum, (int)g, (int)h);
            part[g] = nc[g] * s;
        }
        for (size_t g = 0; g < V; g++)
            exp_sum += part[g];
        exp_sum *= 2.0;
        free(part);
    }
    free(vals);
    free(nc);
    return ps_stats_alpha_finish_(obs, exp_sum, ntot, units, (int)V, out);
}

/* alpha = 1 - (n - 1) sum o d2 / sum n_c n_k d2 from the two sums, n pairable values; shared by
 * ps_krippendorff_alpha and ps_krippendorff_nominal_counts. */
int ps_stats_alpha_finish_(double obs, double exp_sum, double ntot, int64_t units, int nvalues,
                           ps_kripp_alpha *out)
{
    out->units = units;
    out->pairable = (int64_t)ntot;
    out->nvalues = nvalues;
    if (!(exp_sum > 0))
        return ps_error(PS_ERR_NUMERIC, "all pairable ratings are equal (no expected "
                        "disagreement): Krippendorff's alpha is undefined");
    out->d_o = obs / ntot;
    out->d_e = exp_sum / (ntot * (ntot - 1.0));
    out->alpha = 1.0 - (ntot - 1.0) * obs / exp_sum;
    return PS_OK;
}
