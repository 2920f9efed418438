/* agree_labels.c - categories of text ratings and their codes (see ps_stats_agreement.h).
 *
 * Convention (docs/agreement.md): the categories are the union of the observed values. When
 * every present cell is a finite number they are ordered numerically and compared as numbers,
 * so "2" < "10" and "1" = "1.0"; otherwise they are compared and ordered as strings (strcmp).
 * The order matters for weighted kappa and for the ordinal metric of Krippendorff's alpha. */
#include "ps_stats.h"
#include "stats_internal.h"

#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

int ps_agree_is_missing(const char *cell)
{
    if (!cell)
        return 1;
    while (isspace((unsigned char)*cell))
        cell++;
    if (!*cell)
        return 1;
    return !strcasecmp(cell, "na") || !strcasecmp(cell, "nan");
}

static int parse_finite(const char *s, double *v)
{
    char *end;
    errno = 0;
    double x = strtod(s, &end);
    while (isspace((unsigned char)*end))
        end++;
    if (end == s || *end || errno == ERANGE || !isfinite(x))
        return 0;
    *v = x;
    return 1;
}

typedef struct label_entry {
    size_t first; /* index of the first cell with this value (its spelling is the name) */
    double value;
} label_entry;

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

void ps_agree_labels_free(ps_agree_labels *l)
{
    if (!l)
        return;
    if (l->names)
        for (int i = 0; i < l->ncat; i++)
            free(l->names[i]);
    free(l->names);
    free(l->values);
    free(l);
}

static int find_str(char *const *u, int k, const char *s)
{
    int lo = 0, hi = k - 1;
    while (lo < hi) {
        int mid = lo + (hi - lo) / 2;
        if (strcmp(u[mid], s) < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo;
}

int ps_agree_labels_code(const char *const *cells, size_t n, int *codes, ps_agree_labels **out)
{
    *out = NULL;
    size_t npresent = 0;
    int numeric = 1;
    for (size_t i = 0; i < n; i++) {
        if (ps_agree_is_missing(cells[i]))
            continue;
        npresent++;
        double v;
        if (numeric && !parse_finite(cells[i], &v))
            numeric = 0;
    }
    if (npresent == 0)
        return ps_error(PS_ERR_NUMERIC, "no ratings: every cell is missing");

    ps_agree_labels *l = ps_calloc(1, sizeof *l);
    if (!l)
        return PS_ERR_NOMEM;
    l->numeric = numeric;
    int rc = PS_ERR_NOMEM;
    if (numeric) {
        double *v = ps_malloc_array(npresent, sizeof *v);
        if (!v)
            goto fail;
        size_t m = 0;
        for (size_t i = 0; i < n; i++)
            if (!ps_agree_is_missing(cells[i]))
                parse_finite(cells[i], &v[m++]);
        size_t k = ps_stats_sorted_unique_(v, m);
        if (k > (size_t)INT32_MAX) {
            free(v);
            rc = ps_error(PS_ERR_RANGE, "too many categories (%zu)", k);
            goto fail;
        }
        l->ncat = (int)k;
        l->values = v;
        l->names = ps_calloc(k, sizeof *l->names);
        if (!l->names)
            goto fail;
        for (size_t i = 0; i < n; i++) {
            double x = 0.0;
            if (ps_agree_is_missing(cells[i])) {
                codes[i] = -1;
                continue;
            }
            parse_finite(cells[i], &x);
            int c = ps_stats_lower_bound_(v, (int)k, x);
            codes[i] = c;
            if (!l->names[c] && !(l->names[c] = ps_strdup(cells[i])))
                goto fail;
        }
    } else {
        char **s = ps_malloc_array(npresent, sizeof *s);
        if (!s)
            goto fail;
        size_t m = 0;
        for (size_t i = 0; i < n; i++)
            if (!ps_agree_is_missing(cells[i]))
                s[m++] = (char *)cells[i];
        qsort(s, m, sizeof *s, cmp_str);
        size_t k = 0;
        for (size_t i = 0; i < m; i++)
            if (k == 0 || strcmp(s[i], s[k - 1]))
                s[k++] = s[i];
        if (k > (size_t)INT32_MAX) {
            free(s);
            rc = ps_error(PS_ERR_RANGE, "too many categories (%zu)", k);
            goto fail;
        }
        l->ncat = (int)k;
        l->names = ps_calloc(k, sizeof *l->names);
        if (!l->names) {
            free(s);
            goto fail;
        }
        for (size_t i = 0; i < n; i++)
            codes[i] = ps_agree_is_missing(cells[i]) ? -1 : find_str(s, (int)k, cells[i]);
        for (size_t c = 0; c < k; c++)
            if (!(l->names[c] = ps_strdup(s[c]))) {
                free(s);
                goto fail;
            }
        free(s);
    }
    *out = l;
    return PS_OK;
fail:
    ps_agree_labels_free(l);
    return rc;
}
