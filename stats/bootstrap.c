/* bootstrap.c - nonparametric bootstrap CIs (percentile and BCa) of the mean or median.
 *
 * Resampling scheme (fixed, so results are reproducible from the seed alone):
 *   one gsl_rng_mt19937 stream, gsl_rng_set(r, seed) (GSL uses seed mod 2^32; 0 means 4357);
 *   for b = 0 .. B-1, for i = 0 .. n-1: idx[b][i] = gsl_rng_uniform_int(r, n).
 * The statistic of a replicate (and of the sample): the mean is the correctly rounded sum
 * (Shewchuk's algorithm, as Python's math.fsum) divided by n; the median the type-7
 * quantile 0.5 of the sorted values.
 * The indices are drawn by one thread in that order, BLOCK replicates at a time; the
 * statistics of a block's replicates are then computed in parallel, each by one thread in a
 * fixed order, so the result is the same for any thread count.
 *
 * Intervals (Efron & Tibshirani 1993, "An Introduction to the Bootstrap", 13.3 and 14.3;
 * the same formulas as scipy.stats.bootstrap 1.10):
 *   percentile: [Q7(theta*, alpha), Q7(theta*, 1 - alpha)], alpha = (1 - level) / 2, with Q7
 *               the type-7 quantile of the B replicate statistics theta*;
 *   BCa:        z0 = Phi^-1((#{theta* < theta} + #{theta* <= theta}) / (2B)),
 *               a  = sum (tbar - theta_(i))^3 / (6 [sum (tbar - theta_(i))^2]^(3/2)) over the
 *                    n jackknife (leave-one-out) statistics theta_(i), tbar their mean,
 *               alpha1 = Phi(z0 + (z0 + z_alpha) / (1 - a (z0 + z_alpha))),
 *               alpha2 = Phi(z0 + (z0 + z_{1-alpha}) / (1 - a (z0 + z_{1-alpha}))),
 *               interval [Q7(theta*, alpha1), Q7(theta*, alpha2)].
 * When all jackknife statistics are equal (constant data) the acceleration is 0/0: a, z0 and
 * the BCa ends are NaN and only the percentile interval is defined.
 */
#include "ps_stats.h"
#include "stats_internal.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include <gsl/gsl_rng.h>

#ifdef _OPENMP
#include <omp.h>
#endif

enum { BLOCK = 256 };

/* The statistic of v[0..n-1] (sorts v for the median). The mean is the correctly rounded
 * sum / n, so resamples whose exact sums equal the sample's (a permutation of it, say) tie
 * with the estimate in z0, as in exact arithmetic, whatever the summation order. */
static double stat_of(double *v, size_t n, ps_boot_stat stat)
{
    if (stat == PS_BOOT_MEAN)
        return ps_stats_fsum_(v, n) / (double)n;
    ps_stats_sort_(v, n);
    return ps_stats_quantile_sorted(v, n, 0.5);
}

/* Leave-one-out statistics. For the median, deleting the k-th smallest value: the remaining
 * sorted sample is s without position k. */
static void jackknife(const double *x, const double *sorted, size_t n, ps_boot_stat stat,
                      double *jk)
{
    if (stat == PS_BOOT_MEAN) {
        double s = 0.0;
        for (size_t i = 0; i < n; i++)
            s += x[i];
        for (size_t i = 0; i < n; i++)
            jk[i] = (s - x[i]) / (double)(n - 1);
        return;
    }
    size_t m = n - 1; /* size of a jackknife sample */
    double h = (double)(m - 1) * 0.5;
    size_t j = (size_t)floor(h);
    double g = h - (double)j;
    for (size_t k = 0; k < n; k++) {
        /* element j (and j+1) of the sample with position k removed */
        double lo = sorted[j < k ? j : j + 1];
        double hi = j + 1 < m ? sorted[j + 1 < k ? j + 1 : j + 2] : lo;
        jk[k] = g == 0.0 ? lo : lo + g * (hi - lo);
    }
}

int ps_stats_bootstrap(const double *x, size_t n, ps_boot_stat stat, int64_t replicates,
                       double level, uint64_t seed, int threads, ps_boot_ci *out)
{
    int rc;
    if (n < 2)
        return ps_error(PS_ERR_NUMERIC, "bootstrap needs at least 2 values, got %zu", n);
    if (replicates < 2 || replicates > INT64_C(1) << 40)
        return ps_error(PS_ERR_ARG, "bootstrap replicates must be 2 .. 2^40, got %lld",
                        (long long)replicates);
    if (!(level > 0.0 && level < 1.0))
        return ps_error(PS_ERR_ARG, "confidence level must be in (0, 1), got %g", level);
    if (n > 0xffffffffu)
        return ps_error(PS_ERR_ARG, "bootstrap sample too large (%zu values)", n);
    if (stat != PS_BOOT_MEAN && stat != PS_BOOT_MEDIAN)
        return ps_error(PS_ERR_ARG, "unknown bootstrap statistic %d", (int)stat);
    if ((rc = ps_stats_check_finite_(x, n, "x")))
        return rc;
    ps_stats_init();

    size_t nb = (size_t)replicates;
    double *theta = ps_malloc_array(nb, sizeof *theta);
    double *block = NULL, *sorted = ps_malloc_array(n, sizeof *sorted);
    double *jk = ps_malloc_array(n, sizeof *jk);
    gsl_rng *r = gsl_rng_alloc(gsl_rng_mt19937);
    size_t bn;
    if (!theta || !sorted || !jk || ps_mul_size(BLOCK, n, &bn) ||
        !(block = ps_malloc_array(bn, sizeof *block)) || !r) {
        rc = r ? PS_ERR_NOMEM : ps_error(PS_ERR_NOMEM, "cannot allocate a GSL random generator");
        goto done;
    }
    gsl_rng_set(r, (unsigned long)seed);
    int nthreads = threads > 0 ? threads : 1;
#ifdef _OPENMP
    if (threads <= 0)
        nthreads = omp_get_max_threads();
#endif

    for (size_t b0 = 0; b0 < nb; b0 += BLOCK) {
        size_t nrep = nb - b0 < BLOCK ? nb - b0 : BLOCK;
        for (size_t k = 0; k < nrep * n; k++)
            block[k] = x[gsl_rng_uniform_int(r, (unsigned long)n)];
#pragma omp parallel for num_threads(nthreads) schedule(static)
        for (size_t k = 0; k < nrep; k++)
            theta[b0 + k] = stat_of(block + k * n, n, stat);
    }

    memcpy(sorted, x, n * sizeof *sorted);
    memset(out, 0, sizeof *out);
    out->replicates = replicates;
    out->level = level;
    out->estimate = stat_of(sorted, n, stat);
    ps_stats_sort_(sorted, n); /* for the jackknife medians */

    /* z0 from the unsorted replicates, then sort them for the quantiles */
    size_t nless = 0, nleq = 0;
    for (size_t b = 0; b < nb; b++) {
        nless += theta[b] < out->estimate;
        nleq += theta[b] <= out->estimate;
    }
    double z0 = ps_dist_normal_quantile((double)(nless + nleq) / (2.0 * (double)nb));

    jackknife(x, sorted, n, stat, jk);
    double tbar = ps_stats_mean_(jk, n), s2 = 0.0, s3 = 0.0;
    for (size_t i = 0; i < n; i++) {
        double u = tbar - jk[i];
        s2 += u * u;
        s3 += u * u * u;
    }
    double accel = s2 > 0.0 ? s3 / (6.0 * pow(s2, 1.5)) : NAN;

    ps_stats_sort_(theta, nb);
    double alpha = 0.5 * (1.0 - level);
    out->pct_low = ps_stats_quantile_sorted(theta, nb, alpha);
    out->pct_high = ps_stats_quantile_sorted(theta, nb, 1.0 - alpha);
    if (isnan(accel) || isinf(z0)) {
        out->z0 = out->accel = out->bca_low = out->bca_high = NAN;
    } else {
        double za = ps_dist_normal_quantile(alpha), z1a = -za;
        double a1 = ps_dist_normal_p(z0 + (z0 + za) / (1.0 - accel * (z0 + za)));
        double a2 = ps_dist_normal_p(z0 + (z0 + z1a) / (1.0 - accel * (z0 + z1a)));
        out->z0 = z0;
        out->accel = accel;
        out->bca_low = ps_stats_quantile_sorted(theta, nb, a1);
        out->bca_high = ps_stats_quantile_sorted(theta, nb, a2);
    }
    rc = PS_OK;
done:
    gsl_rng_free(r);
    free(theta);
    free(block);
    free(sorted);
    free(jk);
    return rc;
}
