/* wilcoxon.c - average ranks and the Wilcoxon signed-rank test.
 *
 * d_i = a_i - b_i, compared exactly as computed (no rounding before tie detection).
 * Zeros: wilcox drops d = 0 before ranking; pratt ranks |d| with the zeros and then drops
 * their ranks; zsplit ranks with the zeros and adds half of their ranks to each of r+, r-
 * (scipy.stats.wilcoxon zero_method). V = r+ = sum of ranks of d > 0 (R's statistic V).
 *
 * Exact null distribution: with no zeros, r+ is a sum of a random subset of {1..n}; its pmf
 * comes from the recursion f_k(s) = (f_{k-1}(s) + f_{k-1}(s - k)) / 2 (exact in binary for
 * n <= 52). p greater = P(R+ >= V), less = P(R+ <= V), two-sided = min(1, 2 min(both)), and 1
 * when V = floor(n(n+1)/4) (identical to R's psignrank rule and scipy 1.10). With ties (only
 * possible in the scipy modes) the distribution is evaluated at floor(V), as scipy 1.10 does.
 *
 * Normal approximation (R wilcox.test, scipy 1.10): m = c(c+1)/4, with c the number of ranked
 * differences (wilcox: non-zero ones; pratt, zsplit: all);
 *   var = [c(c+1)(2c+1) - sum_ties (t^3 - t)/2] / 24;
 *   pratt (Cureton 1967): m -= z(z+1)/4, c(c+1)(2c+1) -= z(z+1)(2z+1) with z zeros, and the
 *   tie term over the ranks of non-zero differences only;
 *   zstat = (V - m - cc) / sqrt(var), cc = 0.5 sign(V - m) (two-sided), 0.5 (greater),
 *   -0.5 (less) with the continuity correction, 0 without.
 */
#include "ps_stats.h"
#include "stats_internal.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

typedef struct {
    double v;
    size_t i;
} rank_item;

static int cmp_item(const void *pa, const void *pb)
{
    const rank_item *a = pa, *b = pb;
    if (a->v != b->v)
        return a->v < b->v ? -1 : 1;
    return (a->i > b->i) - (a->i < b->i);
}

int ps_stats_rank(const double *x, size_t n, double *rank, double *nties_sum)
{
    int rc;
    if ((rc = ps_stats_check_finite_(x, n, "x")))
        return rc;
    rank_item *it = ps_malloc_array(n ? n : 1, sizeof *it);
    if (!it)
        return PS_ERR_NOMEM;
    for (size_t i = 0; i < n; i++)
        it[i] = (rank_item){x[i], i};
    qsort(it, n, sizeof *it, cmp_item);
    double ties = 0.0;
    for (size_t i = 0; i < n;) {
        size_t j = i + 1;
        while (j < n && it[j].v == it[i].v)
            j++;
        /* positions i..j-1 (0-based) share the rank mean(i+1 .. j) = (i + 1 + j) / 2 */
        double r = 0.5 * (double)(i + 1 + j);
        for (size_t k = i; k < j; k++)
            rank[it[k].i] = r;
        double t = (double)(j - i);
        ties += t * t * t - t;
        i = j;
    }
    free(it);
    if (nties_sum)
        *nties_sum = ties;
    return PS_OK;
}

void ps_wilcoxon_options_r(ps_wilcoxon_options *o)
{
    o->zero = PS_WILCOXON_ZERO_WILCOX;
    o->method = PS_WILCOXON_AUTO_R;
    o->correction = 1;
}

void ps_wilcoxon_options_scipy(ps_wilcoxon_options *o)
{
    o->zero = PS_WILCOXON_ZERO_WILCOX;
    o->method = PS_WILCOXON_AUTO_SCIPY;
    o->correction = 0;
}

/* P(R+ <= v) and P(R+ >= v) under H0 for n untied, non-zero differences. */
static int exact_tails(size_t n, long v, double *p_le, double *p_ge)
{
    size_t smax = n * (n + 1) / 2;
    double *f = ps_calloc(smax + 1, sizeof *f);
    if (!f)
        return PS_ERR_NOMEM;
    f[0] = 1.0;
    for (size_t k = 1; k <= n; k++) {
        size_t top = k * (k + 1) / 2;
        for (size_t s = top; s >= k; s--)
            f[s] = 0.5 * (f[s] + f[s - k]);
        for (size_t s = 0; s < k && s <= top; s++)
            f[s] *= 0.5;
    }
    double le = 0.0, ge = 0.0;
    for (long s = 0; s <= v && s <= (long)smax; s++)
        le += f[s];
    for (long s = (long)smax; s >= v && s >= 0; s--)
        ge += f[s];
    free(f);
    *p_le = fmin(1.0, le);
    *p_ge = fmin(1.0, ge);
    return PS_OK;
}

int ps_stats_wilcoxon(const double *a, const double *b, size_t n, const ps_wilcoxon_options *o,
                      ps_wilcoxon *out)
{
    int rc;
    if (n == 0)
        return ps_error(PS_ERR_NUMERIC, "Wilcoxon test needs at least 1 pair");
    if ((rc = ps_stats_check_finite_(a, n, "a")) ||
        (b && (rc = ps_stats_check_finite_(b, n, "b"))))
        return rc;
    if (o->zero < PS_WILCOXON_ZERO_WILCOX || o->zero > PS_WILCOXON_ZERO_ZSPLIT ||
        o->method < PS_WILCOXON_AUTO_R || o->method > PS_WILCOXON_APPROX)
        return ps_error(PS_ERR_ARG, "invalid Wilcoxon options");

    double *d = ps_malloc_array(n, sizeof *d), *ad = ps_malloc_array(n, sizeof *ad);
    double *r = ps_malloc_array(n, sizeof *r);
    if (!d || !ad || !r) {
        rc = PS_ERR_NOMEM;
        goto done;
    }
    size_t nzero = 0;
    for (size_t i = 0; i < n; i++) {
        d[i] = b ? a[i] - b[i] : a[i];
        nzero += d[i] == 0.0;
    }
    memset(out, 0, sizeof *out);
    out->n = (int64_t)n;
    out->n_zero = (int64_t)nzero;

    /* which differences are ranked */
    size_t c = 0;
    for (size_t i = 0; i < n; i++)
        if (o->zero != PS_WILCOXON_ZERO_WILCOX || d[i] != 0.0)
            d[c++] = d[i];
    if (c == 0 || (o->zero == PS_WILCOXON_ZERO_PRATT && nzero == n)) {
        rc = ps_error(PS_ERR_NUMERIC,
                      "Wilcoxon test undefined: all %zu differences are zero", n);
        goto done;
    }
    for (size_t i = 0; i < c; i++)
        ad[i] = fabs(d[i]);
    double ties_all;
    if ((rc = ps_stats_rank(ad, c, r, &ties_all)))
        goto done;
    double rp = 0.0, rm = 0.0, rz = 0.0;
    for (size_t i = 0; i < c; i++) {
        if (d[i] > 0)
            rp += r[i];
        else if (d[i] < 0)
            rm += r[i];
        else
            rz += r[i];
    }
    if (o->zero == PS_WILCOXON_ZERO_ZSPLIT) {
        rp += 0.5 * rz;
        rm += 0.5 * rz;
    }
    out->v = rp;
    out->v_minus = rm;
    out->ties = ties_all > 0.0;

    int exact;
    switch (o->method) {
    case PS_WILCOXON_AUTO_R: exact = nzero == 0 && n < 50 && !out->ties; break;
    case PS_WILCOXON_AUTO_SCIPY: exact = nzero == 0 && n <= 50; break;
    case PS_WILCOXON_EXACT: exact = nzero == 0; break;
    default: exact = 0; break;
    }
    if (exact && c > 1000) {
        rc = ps_error(PS_ERR_ARG, "exact Wilcoxon distribution limited to 1000 pairs, got %zu",
                      c);
        goto done;
    }
    out->exact = exact;
    out->n_ranked = (int64_t)(o->zero == PS_WILCOXON_ZERO_PRATT ? c - nzero : c);

    if (exact) {
        long v = (long)floor(rp);
        double le, ge;
        if ((rc = exact_tails(c, v, &le, &ge)))
            goto done;
        out->z = NAN;
        out->p_less = le;
        out->p_greater = ge;
        out->p_two_sided = v == (long)(c * (c + 1) / 4) ? 1.0 : fmin(1.0, 2.0 * fmin(le, ge));
    } else {
        double cc = (double)c, nz = (double)nzero;
        double mn = cc * (cc + 1.0) * 0.25;
        double var = cc * (cc + 1.0) * (2.0 * cc + 1.0);
        double ties = ties_all;
        if (o->zero == PS_WILCOXON_ZERO_PRATT) {
            mn -= nz * (nz + 1.0) * 0.25;
            var -= nz * (nz + 1.0) * (2.0 * nz + 1.0);
            /* tie term over the ranks of the non-zero differences only */
            double tz = nz;
            ties = ties_all - (tz * tz * tz - tz);
        }
        double se = sqrt((var - 0.5 * ties) / 24.0);
        if (!(se > 0)) {
            rc = ps_error(PS_ERR_NUMERIC, "Wilcoxon normal approximation: zero variance");
            goto done;
        }
        double k = o->correction ? 0.5 : 0.0;
        double dev = rp - mn;
        double sgn = (dev > 0) - (dev < 0);
        out->z = (dev - k * sgn) / se;
        out->p_two_sided = fmin(1.0, 2.0 * ps_dist_normal_q(fabs(out->z)));
        out->p_greater = ps_dist_normal_q((dev - k) / se);
        out->p_less = ps_dist_normal_p((dev + k) / se);
    }
    rc = PS_OK;
done:
    free(d);
    free(ad);
    free(r);
    return rc;
}
