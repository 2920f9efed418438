/* padjust.c - multiple-comparison correction, identical to R's p.adjust().
 *
 * Over the m non-NaN p-values (NaN stays NaN and is not counted, as p.adjust's n = sum(!is.na(p))),
 * with p_(1) <= ... <= p_(m) sorted ascending:
 *   bonferroni: min(1, m p)
 *   holm (1979): p~_(i) = min(1, max_{j <= i} (m - j + 1) p_(j))
 *   BH (1995):   p~_(i) = min(1, min_{j >= i} m / j p_(j))
 */
#include "ps_stats.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

typedef struct {
    double p;
    size_t i;
} p_item;

static int cmp_p(const void *pa, const void *pb)
{
    const p_item *a = pa, *b = pb;
    if (a->p != b->p)
        return a->p < b->p ? -1 : 1;
    return (a->i > b->i) - (a->i < b->i);
}

int ps_padjust_method_parse(const char *s, ps_padjust_method *out)
{
    if (!strcmp(s, "none"))
        *out = PS_PADJUST_NONE;
    else if (!strcmp(s, "bonferroni"))
        *out = PS_PADJUST_BONFERRONI;
    else if (!strcmp(s, "holm"))
        *out = PS_PADJUST_HOLM;
    else if (!strcasecmp(s, "bh") || !strcmp(s, "fdr"))
        *out = PS_PADJUST_BH;
    else
        return ps_error(PS_ERR_ARG,
                        "unknown p-value correction '%s' (use none, bonferroni, holm or bh)", s);
    return PS_OK;
}

const char *ps_padjust_method_name(ps_padjust_method m)
{
    switch (m) {
    case PS_PADJUST_NONE: return "none";
    case PS_PADJUST_BONFERRONI: return "bonferroni";
    case PS_PADJUST_HOLM: return "holm";
    case PS_PADJUST_BH: return "BH";
    }
    return "?";
}

int ps_stats_padjust(const double *p, size_t n, ps_padjust_method method, double *out)
{
    for (size_t i = 0; i < n; i++)
        if (!isnan(p[i]) && !(p[i] >= 0.0 && p[i] <= 1.0))
            return ps_error(PS_ERR_ARG, "p-value %zu is %g, not in [0, 1]", i, p[i]);
    if (method < PS_PADJUST_NONE || method > PS_PADJUST_BH)
        return ps_error(PS_ERR_ARG, "unknown p-value correction %d", (int)method);
    p_item *it = ps_malloc_array(n ? n : 1, sizeof *it);
    if (!it)
        return PS_ERR_NOMEM;
    size_t m = 0;
    for (size_t i = 0; i < n; i++)
        if (!isnan(p[i]))
            it[m++] = (p_item){p[i], i};
    for (size_t i = 0; i < n; i++)
        if (isnan(p[i]))
            out[i] = NAN;
    double dm = (double)m;
    switch (method) {
    case PS_PADJUST_NONE:
        for (size_t k = 0; k < m; k++)
            out[it[k].i] = it[k].p;
        break;
    case PS_PADJUST_BONFERRONI:
        for (size_t k = 0; k < m; k++)
            out[it[k].i] = fmin(1.0, dm * it[k].p);
        break;
    case PS_PADJUST_HOLM: {
        qsort(it, m, sizeof *it, cmp_p);
        double run = 0.0;
        for (size_t k = 0; k < m; k++) {
            run = fmax(run, (dm - (double)k) * it[k].p); /* (m - i + 1) p_(i), i = k + 1 */
            out[it[k].i] = fmin(1.0, run);
        }
        break;
    }
    case PS_PADJUST_BH: {
        qsort(it, m, sizeof *it, cmp_p);
        double run = INFINITY;
        for (size_t k = m; k-- > 0;) {
            run = fmin(run, dm / (double)(k + 1) * it[k].p);
            out[it[k].i] = fmin(1.0, run);
        }
        break;
    }
    }
    free(it);
    return PS_OK;
}
