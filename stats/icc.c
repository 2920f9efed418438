/* icc.c - the six intraclass correlations of Shrout & Fleiss (1979) with F tests and
 * confidence limits, as computed by R psych::ICC (and pingouin.intraclass_corr).
 *
 * Two-way ANOVA of the n x k matrix x (subjects x raters), grand mean g, subject means r_i,
 * rater means c_j:
 *   MSB = k sum (r_i - g)^2 / (n - 1)                      between subjects
 *   MSJ = n sum (c_j - g)^2 / (k - 1)                      between raters (judges)
 *   MSW = sum (x_ij - r_i)^2 / (n (k - 1))                 within subjects
 *   MSE = sum (x_ij - r_i - c_j + g)^2 / ((n - 1)(k - 1))  residual
 * (each sum of squares is computed from its own residuals, not by subtraction).
 *   ICC1  = (MSB - MSW) / (MSB + (k - 1) MSW)
 *   ICC2  = (MSB - MSE) / (MSB + (k - 1) MSE + k (MSJ - MSE) / n)
 *   ICC3  = (MSB - MSE) / (MSB + (k - 1) MSE)
 *   ICC1k = (MSB - MSW) / MSB
 *   ICC2k = (MSB - MSE) / (MSB + (MSJ - MSE) / n)
 *   ICC3k = (MSB - MSE) / MSB
 * F tests: ICC1, ICC1k use F1 = MSB/MSW on (n - 1, n (k - 1)) df; the others F3 = MSB/MSE on
 * (n - 1, (n - 1)(k - 1)) df; p = P(F > f).
 * Confidence limits at level 1 - 2a, with F_q(d1, d2) the q-quantile (q = 1 - a):
 *   F1L = F1 / F_q(n-1, n(k-1)),  F1U = F1 F_q(n(k-1), n-1)      (same for F3 with its df)
 *   ICC1: (F1L - 1)/(F1L + k - 1) .. (F1U - 1)/(F1U + k - 1);  ICC1k: 1 - 1/F1L .. 1 - 1/F1U
 *   ICC3, ICC3k: the same with F3L, F3U.
 *   ICC2 (McGraw & Wong 1996, Table 7, as psych): with Fj = MSJ/MSE and r = ICC2,
 *     v  = (k-1)(n-1) (k r Fj + n (1 + (k-1) r) - k r)^2
 *          / ((n-1) k^2 r^2 Fj^2 + (n (1 + (k-1) r) - k r)^2)
 *     FU = F_q(n-1, v),  FL = F_q(v, n-1)
 *     low  = n (MSB - FU MSE) / (FU (k MSJ + (k n - k - n) MSE) + n MSB)
 *     high = n (FL MSB - MSE) / (k MSJ + (k n - k - n) MSE + n FL MSB)
 *   ICC2k: L k / (1 + L (k - 1)) for each limit L of ICC2.
 * Limits when a mean square in a denominator is 0 (ratings exactly additive): F = +inf,
 * p = 0, (F - 1)/(F + k - 1) -> 1, 1 - 1/F -> 1, and v -> k - 1 (its limit as Fj -> inf).
 */
#include "ps_stats.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

static const char *const form_names[PS_ICC_NFORMS] = {"ICC1", "ICC2", "ICC3",
                                                      "ICC1k", "ICC2k", "ICC3k"};
static const char *const form_desc[PS_ICC_NFORMS] = {
    "one-way random, single rater",
    "two-way random, absolute agreement, single rater",
    "two-way mixed, consistency, single rater",
    "one-way random, mean of k raters",
    "two-way random, absolute agreement, mean of k raters",
    "two-way mixed, consistency, mean of k raters",
};

const char *ps_icc_form_name(ps_icc_form f)
{
    return (int)f >= 0 && (int)f < PS_ICC_NFORMS ? form_names[f] : "?";
}

const char *ps_icc_form_description(ps_icc_form f)
{
    return (int)f >= 0 && (int)f < PS_ICC_NFORMS ? form_desc[f] : "?";
}

static double ratio(double num, double den)
{
    return den > 0 ? num / den : INFINITY; /* num > 0 here: MSB > 0 is checked */
}

static double upper_p(double f, double df1, double df2)
{
    return isinf(f) ? 0.0 : ps_dist_f_q(f, df1, df2);
}

/* (F - 1)/(F + k - 1), the single-rater limit, and 1 - 1/F, the k-rater limit */
static double lim_single(double f, double k)
{
    return isinf(f) ? 1.0 : (f - 1.0) / (f + k - 1.0);
}

static double lim_mean(double f)
{
    return 1.0 - 1.0 / f;
}

int ps_icc(const double *x, size_t n, int raters, double level, ps_icc_result *out)
{
    memset(out, 0, sizeof *out);
    if (raters < 2)
        return ps_error(PS_ERR_NUMERIC, "the ICC needs at least 2 raters, got %d", raters);
    if (n < 2)
        return ps_error(PS_ERR_NUMERIC, "the ICC needs at least 2 subjects, got %zu", n);
    if (!(level > 0 && level < 1))
        return ps_error(PS_ERR_ARG, "confidence level must be between 0 and 1, got %g", level);
    size_t k = (size_t)raters;
    for (size_t i = 0; i < n; i++)
        for (size_t j = 0; j < k; j++)
            if (!isfinite(x[i * k + j]))
                return ps_error(PS_ERR_ARG, "subject %zu rater %zu: rating is %g (must be "
                                "finite)", i + 1, j + 1, x[i * k + j]);
    ps_stats_init();

    double *rm = ps_calloc(n + k, sizeof *rm);
    if (!rm)
        return PS_ERR_NOMEM;
    double *cm = rm + n;
    double N = (double)n, K = (double)k;
    double g = 0;
    for (size_t i = 0; i < n; i++)
        for (size_t j = 0; j < k; j++)
            g += x[i * k + j];
    g /= N * K;
    double corr = 0; /* second pass, as R's mean() */
    for (size_t i = 0; i < n * k; i++)
        corr += x[i] - g;
    g += corr / (N * K);
    for (size_t i = 0; i < n; i++) {
        double s = 0;
        for (size_t j = 0; j < k; j++)
            s += x[i * k + j];
        rm[i] = s / K;
    }
    for (size_t j = 0; j < k; j++) {
        double s = 0;
        for (size_t i = 0; i < n; i++)
            s += x[i * k + j];
        cm[j] = s / N;
    }
    double ssb = 0, ssj = 0, ssw = 0, sse = 0;
    for (size_t i = 0; i < n; i++)
        ssb += (rm[i] - g) * (rm[i] - g);
    ssb *= K;
    for (size_t j = 0; j < k; j++)
        ssj += (cm[j] - g) * (cm[j] - g);
    ssj *= N;
    for (size_t i = 0; i < n; i++)
        for (size_t j = 0; j < k; j++) {
            double w = x[i * k + j] - rm[i];
            double e = w - cm[j] + g;
            ssw += w * w;
            sse += e * e;
        }
    free(rm);
    if (ssb == 0 && ssw == 0)
        return ps_error(PS_ERR_NUMERIC, "all ratings are equal: the ICC is undefined");
    if (ssb == 0)
        return ps_error(PS_ERR_NUMERIC, "all subjects have the same mean rating (between-subject "
                        "mean square is 0): the ICC is undefined");
    double msb = ssb / (N - 1), msj = ssj / (K - 1);
    double msw = ssw / (N * (K - 1)), mse = sse / ((N - 1) * (K - 1));
    out->n = (int64_t)n;
    out->raters = raters;
    out->level = level;
    out->msb = msb;
    out->msj = msj;
    out->msw = msw;
    out->mse = mse;

    double a = (1.0 - level) / 2.0, q = 1.0 - a;
    double d1n = N - 1, d1d = N * (K - 1), d3n = N - 1, d3d = (N - 1) * (K - 1);
    double f1 = ratio(msb, msw), f3 = ratio(msb, mse);
    double p1 = upper_p(f1, d1n, d1d), p3 = upper_p(f3, d3n, d3d);
    double f1l = f1 / ps_dist_f_quantile(q, d1n, d1d), f1u = f1 * ps_dist_f_quantile(q, d1d, d1n);
    double f3l = f3 / ps_dist_f_quantile(q, d3n, d3d), f3u = f3 * ps_dist_f_quantile(q, d3d, d3n);

    double icc2 = (msb - mse) / (msb + (K - 1) * mse + K * (msj - mse) / N);
    double v;
    if (mse > 0) {
        double fj = msj / mse;
        double t = N * (1 + (K - 1) * icc2) - K * icc2;
        double vn = (K - 1) * (N - 1) * (K * icc2 * fj + t) * (K * icc2 * fj + t);
        double vd = (N - 1) * K * K * icc2 * icc2 * fj * fj + t * t;
        v = vn / vd;
    } else {
        v = K - 1;
    }
    double l2 = NAN, u2 = NAN;
    if (v > 0 && isfinite(v)) {
        double fu = ps_dist_f_quantile(q, N - 1, v), fl = ps_dist_f_quantile(q, v, N - 1);
        double base = K * msj + (K * N - K - N) * mse;
        l2 = N * (msb - fu * mse) / (fu * base + N * msb);
        u2 = N * (fl * msb - mse) / (base + N * fl * msb);
    }

    ps_icc_estimate *e = out->form;
    e[PS_ICC1] = (ps_icc_estimate){(msb - msw) / (msb + (K - 1) * msw), f1, d1n, d1d, p1,
                                   lim_single(f1l, K), lim_single(f1u, K)};
    e[PS_ICC2] = (ps_icc_estimate){icc2, f3, d3n, d3d, p3, l2, u2};
    e[PS_ICC3] = (ps_icc_estimate){(msb - mse) / (msb + (K - 1) * mse), f3, d3n, d3d, p3,
                                   lim_single(f3l, K), lim_single(f3u, K)};
    e[PS_ICC1K] = (ps_icc_estimate){(msb - msw) / msb, f1, d1n, d1d, p1, lim_mean(f1l),
                                    lim_mean(f1u)};
    e[PS_ICC2K] = (ps_icc_estimate){(msb - mse) / (msb + (msj - mse) / N), f3, d3n, d3d, p3,
                                    l2 * K / (1 + l2 * (K - 1)), u2 * K / (1 + u2 * (K - 1))};
    e[PS_ICC3K] = (ps_icc_estimate){(msb - mse) / msb, f3, d3n, d3d, p3, lim_mean(f3l),
                                    lim_mean(f3u)};
    return PS_OK;
}
