/* published.c - the published values a reproduction is compared with (a small TSV).
 *
 * Format (data-manifests/published/README.md): '#' comment lines, then the header
 * "modality<TAB>metric<TAB>value<TAB>sd<TAB>source" and one row per modality and metric.
 * `value` is a number; `sd` a number or empty (not reported); `source` free text naming the
 * publication. Metric names are those of the reproduce tables (dice_pct, volume_r2,
 * kappa_inter, ...), so a value can be put beside its reproduction.
 */
#include "ps_reports.h"

#include <unistd.h>

#include "ps_config.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

void ps_published_free(ps_published *p)
{
    if (!p)
        return;
    for (int i = 0; i < p->nrows; i++) {
        free(p->rows[i].modality);
        free(p->rows[i].metric);
        free(p->rows[i].source);
    }
    free(p->rows);
    free(p);
}

const ps_published_row *ps_published_find(const ps_published *p, const char *modality,
                                          const char *metric)
{
    for (int i = 0; p && i < p->nrows; i++)
        if (!strcmp(p->rows[i].modality, modality) && !strcmp(p->rows[i].metric, metric))
            return &p->rows[i];
    return NULL;
}

int ps_published_read(const char *path, ps_published **out)
{
    *out = NULL;
    ps_table *t = NULL;
    int rc = ps_table_read(path, &t);
    if (rc)
        return ps_error_context(rc, "published values");
    static const char *const cols[] = {"modality", "metric", "value", "sd", "source"};
    int c[5];
    for (int i = 0; i < 5 && !rc; i++)
        rc = ps_table_require_col(t, cols[i], &c[i]);
    ps_published *p = rc ? NULL : ps_calloc(1, sizeof *p);
    if (!rc && !p)
        rc = PS_ERR_NOMEM;
    if (!rc && t->nrows > 0 && !(p->rows = ps_calloc((size_t)t->nrows, sizeof *p->rows)))
        rc = PS_ERR_NOMEM;
    for (int64_t r = 0; r < t->nrows && !rc; r++) {
        ps_published_row *row = &p->rows[r];
        const char *mod = t->cells[r][c[0]], *met = t->cells[r][c[1]];
        if (!*mod || !*met) {
            rc = ps_error(PS_ERR_FORMAT, "%s line %lld: empty %s", path, (long long)t->line[r],
                          *mod ? "metric" : "modality");
            break;
        }
        if (ps_published_find(p, mod, met)) {
            rc = ps_error(PS_ERR_FORMAT, "%s line %lld: a second row for %s / %s", path,
                          (long long)t->line[r], mod, met);
            break;
        }
        if ((rc = ps_table_get_double(t, r, c[2], &row->value)))
            break;
        if (!*t->cells[r][c[3]])
            row->sd = NAN;
        else if ((rc = ps_table_get_double(t, r, c[3], &row->sd)))
            break;
        row->modality = ps_strdup(mod);
        row->metric = ps_strdup(met);
        row->source = ps_strdup(t->cells[r][c[4]]);
        p->nrows++;
        if (!row->modality || !row->metric || !row->source)
            rc = PS_ERR_NOMEM;
    }
    ps_table_free(t);
    if (rc) {
        ps_published_free(p);
        return rc;
    }
    *out = p;
    return PS_OK;
}

const char *ps_published_default_path(void)
{
    if (access(PS_PUBLISHED_INSTALLED, R_OK) == 0)
        return PS_PUBLISHED_INSTALLED;
    return PS_PUBLISHED_SOURCE;
}
