/* agree_counts.c - Fleiss' kappa and Krippendorff's alpha (nominal) from a table of rating
 * patterns with their subject counts, for data with many identical subjects (voxels).
 *
 * A pattern is one row of category counts n_j (how many raters chose category j); `nsub`
 * subjects share it. Every sum of the per-subject formulas becomes a sum over patterns weighted
 * by nsub, so the statistics are those of ps_kappa_fleiss and ps_krippendorff_alpha on the
 * expanded data (up to floating-point summation order), and the finishing formulas are the
 * same functions (stats_internal.h):
 *   Fleiss (1971):  dis = sum_p nsub_p (m^2 - sum_j n_pj^2), tot_j = sum_p nsub_p n_pj.
 *   Krippendorff (2011), nominal: units with m_u >= 2 ratings; observed
 *     sum_u (m_u^2 - sum_j n_uj^2) / (m_u - 1), pairable values n_j = sum_u n_uj,
 *     expected n^2 - sum_j n_j^2.
 */
#include "ps_stats.h"
#include "stats_internal.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

static int check_table(const double *rows, const double *nsub, size_t npat, int ncat,
                       const char *what)
{
    if (!rows || !nsub || ncat < 1)
        return ps_error(PS_ERR_ARG, "%s: NULL table or no category", what);
    for (size_t p = 0; p < npat; p++) {
        if (!(nsub[p] >= 0) || isinf(nsub[p]))
            return ps_error(PS_ERR_ARG, "%s: pattern %zu has %g subjects", what, p + 1, nsub[p]);
        for (int j = 0; j < ncat; j++) {
            double x = rows[p * (size_t)ncat + (size_t)j];
            if (!(x >= 0) || isinf(x) || x != floor(x))
                return ps_error(PS_ERR_ARG, "%s: pattern %zu category %d count %g", what, p + 1,
                                j + 1, x);
        }
    }
    return 0;
}

int ps_kappa_fleiss_counts(const double *rows, const double *nsub, size_t npat, int raters,
                           int ncat, ps_kappa_fleiss_result *out)
{
    memset(out, 0, sizeof *out);
    out->kappa = NAN;
    if (raters < 2)
        return ps_error(PS_ERR_ARG, "Fleiss' kappa needs at least 2 raters, got %d", raters);
    int rc = check_table(rows, nsub, npat, ncat, "Fleiss' kappa");
    if (rc)
        return rc;
    double *tot = ps_calloc((size_t)ncat, sizeof *tot);
    if (!tot)
        return PS_ERR_NOMEM;
    double m = raters, dis = 0, N = 0;
    for (size_t p = 0; p < npat; p++) {
        const double *row = rows + p * (size_t)ncat;
        double sq = 0, sum = 0;
        for (int j = 0; j < ncat; j++) {
            sq += row[j] * row[j];
            sum += row[j];
            tot[j] += nsub[p] * row[j];
        }
        if (nsub[p] > 0 && sum != m) {
            free(tot);
            return ps_error(PS_ERR_ARG, "Fleiss' kappa: pattern %zu has %g ratings, not %d",
                            p + 1, sum, raters);
        }
        dis += nsub[p] * (m * m - sq);
        N += nsub[p];
    }
    if (!(N > 0)) {
        free(tot);
        return ps_error(PS_ERR_NUMERIC, "Fleiss' kappa: no subjects");
    }
    rc = ps_stats_fleiss_finish_(dis, tot, N, raters, ncat, out);
    free(tot);
    return rc;
}

int ps_krippendorff_nominal_counts(const double *rows, const double *nsub, size_t npat,
                                   int ncat, ps_kripp_alpha *out)
{
    memset(out, 0, sizeof *out);
    out->alpha = NAN;
    int rc = check_table(rows, nsub, npat, ncat, "Krippendorff's alpha");
    if (rc)
        return rc;
    double *nc = ps_calloc((size_t)ncat, sizeof *nc);
    if (!nc)
        return PS_ERR_NOMEM;
    double obs = 0, units = 0;
    for (size_t p = 0; p < npat; p++) {
        const double *row = rows + p * (size_t)ncat;
        double mu = 0, sq = 0;
        for (int j = 0; j < ncat; j++) {
            mu += row[j];
            sq += row[j] * row[j];
        }
        if (mu < 2 || !(nsub[p] > 0))
            continue;
        units += nsub[p];
        obs += nsub[p] * (mu * mu - sq) / (mu - 1);
        for (int j = 0; j < ncat; j++)
            nc[j] += nsub[p] * row[j];
    }
    if (!(units > 0)) {
        free(nc);
        return ps_error(PS_ERR_NUMERIC, "no subject has two or more ratings: Krippendorff's "
                        "alpha is undefined");
    }
    double ntot = 0, sq = 0;
    int nvalues = 0;
    for (int j = 0; j < ncat; j++) {
        ntot += nc[j];
        sq += nc[j] * nc[j];
        nvalues += nc[j] > 0;
    }
    free(nc);
    return ps_stats_alpha_finish_(obs, ntot * ntot - sq, ntot, (int64_t)units, nvalues, out);
}
