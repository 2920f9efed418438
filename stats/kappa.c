/* kappa.c - Cohen's kappa (unweighted, linear, quadratic), Fleiss' kappa and Light's kappa.
 *
 * Cohen's kappa with agreement weights w_ij (w_ii = 1; unweighted: w = identity), cell
 * proportions p_ij, row margins r_i (rater 1) and column margins c_j (rater 2):
 *   po = sum w_ij p_ij,  pe = sum w_ij r_i c_j,  kappa = (po - pe) / (1 - pe).
 * It is evaluated as 1 - do/de with the disagreement sums do = sum (1 - w_ij) p_ij and
 * de = sum (1 - w_ij) r_i c_j (no cancellation when agreement is nearly perfect).
 * Variances (Fleiss, Cohen & Everitt 1969, as printed in the SAS PROC FREQ documentation and
 * implemented in statsmodels.stats.inter_rater.cohens_kappa), with
 * wr_i = sum_j c_j w_ij and wc_j = sum_i r_i w_ij:
 *   var  = [sum p_ij (w_ij - (wr_i + wc_j)(1 - kappa))^2 - (kappa - pe (1 - kappa))^2]
 *          / ((1 - pe)^2 N)
 *   var0 = [sum r_i c_j (w_ij - (wr_i + wc_j))^2 - pe^2] / ((1 - pe)^2 N)
 * For w = identity these reduce to SAS's formulas for the simple kappa.
 * Degenerate margins: when one rater used a single category i0 (r_i0 = 1), wr_i0 = pe and
 * wc_j = w_i0j, so every term of var0 is r_i0 c_j pe^2 and var0 = (pe^2 - pe^2)/... = 0; and
 * p_i0j = c_j, kappa = 0, so var = var0 = 0. Unweighted, when the raters share no category
 * (r_i c_i = 0 for every i), pe = po = 0 and every term with r_i c_j > 0 has c_i = r_j = 0, so
 * again var = var0 = 0; in both cases po = pe, so kappa = 0. In floating point these differences of equal sums leave ~1e-17 (a
 * "z" of 0 and p = 1); both cases are detected from the margins and the SEs set to exactly 0,
 * so z and p are NaN and kappa is exactly 0 (statsmodels 0.13.5 returns the rounding: its var0
 * is +-5e-15 for [[23, 1], [0, 0]], so std_kappa0 is nan or 7.3e-8 and z nan or 0 depending on
 * the weights; tests/reference/kappa_degenerate_reference.py).
 * Weights: linear w_ij = 1 - |i - j|/(k - 1), quadratic w_ij = 1 - (i - j)^2/(k - 1)^2, with
 * the category positions 0..k-1 as scores (SAS default scores for ordered categories,
 * statsmodels weights=arange(k), sklearn, irr).
 *
 * Fleiss' kappa (Fleiss 1971) for N subjects each rated by m raters, n_ij raters putting
 * subject i in category j:
 *   P_i = (sum_j n_ij^2 - m) / (m (m - 1)),  Pbar = mean P_i,
 *   p_j = sum_i n_ij / (N m),  Pe = sum p_j^2,  kappa = (Pbar - Pe) / (1 - Pe),
 * evaluated as 1 - (1 - Pbar)/(1 - Pe) with 1 - Pe = sum p_j q_j (q_j = 1 - p_j).
 * SE under kappa = 0 (Fleiss, Nee & Landis 1979; R irr::kappam.fleiss with exact = FALSE):
 *   var0 = 2 / ((sum p_j q_j)^2 N m (m - 1)) * ((sum p_j q_j)^2 - sum p_j q_j (q_j - p_j)).
 */
#include "ps_stats.h"
#include "stats_internal.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

int ps_kappa_weights_parse(const char *s, ps_kappa_weights *out)
{
    if (!strcasecmp(s, "none") || !strcasecmp(s, "unweighted"))
        *out = PS_KAPPA_UNWEIGHTED;
    else if (!strcasecmp(s, "linear"))
        *out = PS_KAPPA_LINEAR;
    else if (!strcasecmp(s, "quadratic"))
        *out = PS_KAPPA_QUADRATIC;
    else
        return ps_error(PS_ERR_ARG, "weights must be none, linear or quadratic, got '%s'", s);
    return PS_OK;
}

const char *ps_kappa_weights_name(ps_kappa_weights w)
{
    switch (w) {
    case PS_KAPPA_LINEAR:
        return "linear";
    case PS_KAPPA_QUADRATIC:
        return "quadratic";
    default:
        return "none";
    }
}

/* Agreement weight of categories i and j among k (k >= 2). */
static double agreement_weight(ps_kappa_weights w, int i, int j, int k)
{
    double d = (double)abs(i - j) / (double)(k - 1);
    switch (w) {
    case PS_KAPPA_LINEAR:
        return 1.0 - d;
    case PS_KAPPA_QUADRATIC:
        return 1.0 - d * d;
    default:
        return i == j ? 1.0 : 0.0;
    }
}

/* Two-sided z-based quantities shared by the kappas. */
static void z_test(double est, double se0, double *z, double *p)
{
    if (se0 > 0) {
        *z = est / se0;
        *p = 2.0 * ps_dist_normal_q(fabs(*z));
    } else {
        *z = NAN;
        *p = NAN;
    }
}

int ps_kappa_cohen_table(const double *table, int ncat, ps_kappa_weights w, double level,
                         ps_kappa_cohen_result *out)
{
    memset(out, 0, sizeof *out);
    if (ncat < 2)
        return ps_error(PS_ERR_NUMERIC,
                        "Cohen's kappa needs at least 2 categories (got %d): kappa is undefined",
                        ncat);
    if (!(level > 0 && level < 1))
        return ps_error(PS_ERR_ARG, "confidence level must be between 0 and 1, got %g", level);
    if (w != PS_KAPPA_UNWEIGHTED && w != PS_KAPPA_LINEAR && w != PS_KAPPA_QUADRATIC)
        return ps_error(PS_ERR_ARG, "unknown kappa weights %d", (int)w);
    size_t k = (size_t)ncat;
    double total = 0;
    for (size_t i = 0; i < k * k; i++) {
        if (!isfinite(table[i]) || table[i] < 0)
            return ps_error(PS_ERR_ARG, "kappa table cell (%zu, %zu) is %g: counts must be finite "
                            "and >= 0", i / k + 1, i % k + 1, table[i]);
        total += table[i];
    }
    if (!(total > 0))
        return ps_error(PS_ERR_NUMERIC, "kappa table is empty: no subjects");

    double *r = ps_calloc(4 * k, sizeof *r);
    if (!r)
        return PS_ERR_NOMEM;
    double *c = r + k, *wr = r + 2 * k, *wc = r + 3 * k;
    for (size_t i = 0; i < k; i++)
        for (size_t j = 0; j < k; j++) {
            r[i] += table[i * k + j] / total;
            c[j] += table[i * k + j] / total;
        }
    double dis_o = 0, dis_e = 0;
    for (size_t i = 0; i < k; i++)
        for (size_t j = 0; j < k; j++) {
            double d = 1.0 - agreement_weight(w, (int)i, (int)j, ncat);
            dis_o += d * table[i * k + j] / total;
            dis_e += d * r[i] * c[j];
        }
    if (!(dis_e > 0)) {
        free(r);
        return ps_error(PS_ERR_NUMERIC, "chance agreement is 1 (both raters used one and the same "
                        "category): kappa is undefined");
    }
    double kappa = 1.0 - dis_o / dis_e;
    double pe = 1.0 - dis_e;
    for (size_t i = 0; i < k; i++) /* wr_i = sum_j c_j w_ij, wc_j = sum_i r_i w_ij */
        for (size_t j = 0; j < k; j++) {
            double wij = agreement_weight(w, (int)i, (int)j, ncat);
            wr[i] += c[j] * wij;
            wc[j] += r[i] * wij;
        }
    double sa = 0, s0 = 0;
    for (size_t i = 0; i < k; i++)
        for (size_t j = 0; j < k; j++) {
            double wij = agreement_weight(w, (int)i, (int)j, ncat);
            double a = wij - (wr[i] + wc[j]) * (1.0 - kappa);
            double b = wij - (wr[i] + wc[j]);
            sa += table[i * k + j] / total * a * a;
            s0 += r[i] * c[j] * b * b;
        }
    double t = kappa - pe * (1.0 - kappa);
    double denom = dis_e * dis_e * total;
    double var = (sa - t * t) / denom;
    double var0 = (s0 - pe * pe) / denom;
    /* The degenerate margins above: both variances are exactly 0. */
    int kr = 0, kc = 0, shared = 0;
    for (size_t i = 0; i < k; i++) {
        kr += r[i] > 0;
        kc += c[i] > 0;
        shared += r[i] > 0 && c[i] > 0;
    }
    if (kr == 1 || kc == 1 || (w == PS_KAPPA_UNWEIGHTED && !shared)) {
        var = var0 = 0.0;
        kappa = 0.0; /* po = pe in exact arithmetic */
    }
    /* Both are sums of squares in exact arithmetic; clamp rounding below zero. */
    free(r);
    out->n = (int64_t)llround(total);
    out->ncat = ncat;
    out->po = 1.0 - dis_o;
    out->pe = pe;
    out->kappa = kappa;
    out->se = sqrt(var > 0 ? var : 0.0);
    out->se0 = sqrt(var0 > 0 ? var0 : 0.0);
    z_test(kappa, out->se0, &out->z, &out->p);
    double zc = ps_dist_normal_quantile(0.5 + level / 2.0);
    out->level = level;
    out->ci_low = kappa - zc * out->se;
    out->ci_high = kappa + zc * out->se;
    return PS_OK;
}

int ps_kappa_cohen(const int *a, const int *b, size_t n, int ncat, ps_kappa_weights w,
                   double level, ps_kappa_cohen_result *out)
{
    memset(out, 0, sizeof *out);
    if (n == 0)
        return ps_error(PS_ERR_NUMERIC, "no subjects rated by both raters");
    if (ncat < 1)
        return ps_error(PS_ERR_ARG, "number of categories must be >= 1, got %d", ncat);
    for (size_t i = 0; i < n; i++) {
        if (a[i] < 0 || a[i] >= ncat || b[i] < 0 || b[i] >= ncat)
            return ps_error(PS_ERR_ARG, "subject %zu: category code (%d, %d) outside 0..%d",
                            i + 1, a[i], b[i], ncat - 1);
    }
    /* keep the categories observed by either rater (the union), in code order */
    int *map = ps_malloc_array((size_t)ncat, sizeof *map);
    if (!map)
        return PS_ERR_NOMEM;
    for (int c = 0; c < ncat; c++)
        map[c] = -1;
    for (size_t i = 0; i < n; i++)
        map[a[i]] = map[b[i]] = 0;
    int k = 0;
    for (int c = 0; c < ncat; c++)
        if (map[c] == 0)
            map[c] = k++;
    if (k < 2) {
        free(map);
        return ps_error(PS_ERR_NUMERIC, "both raters used only one category: kappa is undefined");
    }
    double *table = ps_calloc((size_t)k * (size_t)k, sizeof *table);
    if (!table) {
        free(map);
        return PS_ERR_NOMEM;
    }
    for (size_t i = 0; i < n; i++)
        table[(size_t)map[a[i]] * (size_t)k + (size_t)map[b[i]]] += 1.0;
    free(map);
    int rc = ps_kappa_cohen_table(table, k, w, level, out);
    free(table);
    return rc;
}

static int check_codes(const int *codes, size_t n, int raters, int ncat)
{
    for (size_t i = 0; i < n; i++)
        for (int j = 0; j < raters; j++) {
            int c = codes[i * (size_t)raters + (size_t)j];
            if (c < 0 || c >= ncat)
                return ps_error(PS_ERR_ARG,
                                "subject %zu rater %d: category code %d outside 0..%d%s",
                                i + 1, j + 1, c, ncat - 1,
                                c == -1 ? " (missing ratings must be dropped first)" : "");
        }
    return PS_OK;
}

/* Fleiss' kappa and its SE under kappa = 0 from the number of disagreeing ordered rater pairs
 * `dis` = sum_i (m^2 - sum_j n_ij^2), the category totals tot[j] = sum_i n_ij, N subjects and
 * m raters (Fleiss 1971; Fleiss, Nee & Landis 1979). Shared by ps_kappa_fleiss and
 * ps_kappa_fleiss_counts. */
int ps_stats_fleiss_finish_(double dis, const double *tot, double N, int raters, int ncat,
                            ps_kappa_fleiss_result *out)
{
    double m = raters;
    double spq = 0, spqqp = 0, pe = 0;
    for (int c = 0; c < ncat; c++) {
        double p = tot[c] / (N * m), q = 1.0 - p;
        spq += p * q;
        spqqp += p * q * (q - p);
        pe += p * p;
    }
    if (!(spq > 0))
        return ps_error(PS_ERR_NUMERIC, "all ratings are in one category: Fleiss' kappa is "
                        "undefined");
    double one_minus_po = dis / (m * (m - 1.0)) / N;
    out->n = (int64_t)N;
    out->raters = raters;
    out->po = 1.0 - one_minus_po;
    out->pe = pe;
    out->kappa = 1.0 - one_minus_po / spq;
    double var0 = 2.0 / (spq * spq * (N * m * (m - 1.0))) * (spq * spq - spqqp);
    out->se0 = sqrt(var0 > 0 ? var0 : 0.0);
    z_test(out->kappa, out->se0, &out->z, &out->p);
    return PS_OK;
}

int ps_kappa_fleiss(const int *codes, size_t n, int raters, int ncat,
                    ps_kappa_fleiss_result *out)
{
    memset(out, 0, sizeof *out);
    if (raters < 2)
        return ps_error(PS_ERR_ARG, "Fleiss' kappa needs at least 2 raters, got %d", raters);
    if (n == 0)
        return ps_error(PS_ERR_NUMERIC, "Fleiss' kappa: no subjects");
    if (ncat < 1)
        return ps_error(PS_ERR_ARG, "number of categories must be >= 1, got %d", ncat);
    int rc = check_codes(codes, n, raters, ncat);
    if (rc)
        return rc;
    double *tot = ps_calloc((size_t)ncat, sizeof *tot);
    int *cnt = ps_calloc((size_t)ncat, sizeof *cnt);
    if (!tot || !cnt) {
        free(tot);
        free(cnt);
        return PS_ERR_NOMEM;
    }
    double m = raters;
    double dis = 0; /* sum_i (m^2 - sum_j n_ij^2) = number of disagreeing ordered rater pairs */
    for (size_t i = 0; i < n; i++) {
        const int *row = codes + i * (size_t)raters;
        double sq = 0;
        for (int j = 0; j < raters; j++)
            cnt[row[j]]++;
        for (int j = 0; j < raters; j++) {
            int c = row[j];
            if (cnt[c]) {
                sq += (double)cnt[c] * cnt[c];
                tot[c] += cnt[c];
                cnt[c] = 0;
            }
        }
        dis += m * m - sq;
    }
    rc = ps_stats_fleiss_finish_(dis, tot, (double)n, raters, ncat, out);
    free(tot);
    free(cnt);
    return rc;
}

int ps_kappa_light(const int *codes, size_t n, int raters, int ncat, double *kappa,
                   double *pairs)
{
    *kappa = NAN;
    if (raters < 2)
        return ps_error(PS_ERR_ARG, "Light's kappa needs at least 2 raters, got %d", raters);
    if (n == 0)
        return ps_error(PS_ERR_NUMERIC, "Light's kappa: no subjects");
    int rc = check_codes(codes, n, raters, ncat);
    if (rc)
        return rc;
    int *a = ps_malloc_array(2 * n, sizeof *a);
    if (!a)
        return PS_ERR_NOMEM;
    int *b = a + n;
    double sum = 0;
    int np = 0;
    for (int r1 = 0; r1 < raters; r1++)
        for (int r2 = r1 + 1; r2 < raters; r2++) {
            for (size_t i = 0; i < n; i++) {
                a[i] = codes[i * (size_t)raters + (size_t)r1];
                b[i] = codes[i * (size_t)raters + (size_t)r2];
            }
            ps_kappa_cohen_result ck;
            rc = ps_kappa_cohen(a, b, n, ncat, PS_KAPPA_UNWEIGHTED, 0.95, &ck);
            if (rc) {
                free(a);
                return ps_error_context(rc, "Light's kappa, raters %d and %d", r1 + 1, r2 + 1);
            }
            if (pairs)
                pairs[np] = ck.kappa;
            sum += ck.kappa;
            np++;
        }
    free(a);
    *kappa = sum / np;
    return PS_OK;
}
