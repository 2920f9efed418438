/* groups.c - the one grouping of table rows, the one row filter and the exclusion policy of
 * every analysis (the rule is written in ps_reports.h and docs/stats.md, "Which rows enter a
 * statistic"). */
#include "ps_reports.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

/* ---- groups --------------------------------------------------------------------------------- */
void ps_groups_free(ps_groups *g)
{
    if (!g)
        return;
    for (int i = 0; i < g->nby; i++)
        free(g->by[i]);
    free(g->by);
    free(g->col);
    free(g->first);
    free(g->of_row);
    free(g->start);
    free(g->rows);
    memset(g, 0, sizeof *g);
}

/* Rows sorted by their key, then by row, so that equal keys are adjacent and the first of a
 * run is the group's first row: O(n log n), so a key with thousands of values (--by case,
 * --by subject) stays fast. The key is each cell preceded by its length in hex, which makes
 * equal keys exactly the rows with equal cells. */
typedef struct {
    char *key;
    int64_t row;
} keyed_row;

static int cmp_keyed(const void *pa, const void *pb)
{
    const keyed_row *a = pa, *b = pb;
    int c = strcmp(a->key, b->key);
    return c ? c : (a->row > b->row) - (a->row < b->row);
}

static char *join_key(const ps_table *t, const ps_groups *g, int64_t r)
{
    size_t n = 1;
    for (int k = 0; k < g->nby; k++)
        n += strlen(t->cells[r][g->col[k]]) + 17;
    char *s = ps_malloc(n), *p = s;
    if (!s)
        return NULL;
    *p = 0;
    for (int k = 0; k < g->nby; k++) {
        const char *cell = t->cells[r][g->col[k]];
        p += sprintf(p, "%016zx%s", strlen(cell), cell);
    }
    return s;
}

static int assign_groups(const ps_table *t, const unsigned char *use, ps_groups *g)
{
    size_t m = 0;
    keyed_row *kr = ps_malloc_array(t->nrows ? (size_t)t->nrows : 1, sizeof *kr);
    int64_t *first_of = ps_malloc_array(t->nrows ? (size_t)t->nrows : 1, sizeof *first_of);
    int rc = kr && first_of ? PS_OK : PS_ERR_NOMEM;
    for (int64_t r = 0; r < t->nrows && !rc; r++) {
        g->of_row[r] = -1;
        if (use && !use[r])
            continue;
        if (!(kr[m].key = join_key(t, g, r)))
            rc = PS_ERR_NOMEM;
        else
            kr[m++].row = r;
    }
    if (!rc) {
        qsort(kr, m, sizeof *kr, cmp_keyed);
        /* each row points at the first row of its run; groups numbered by first row */
        for (size_t i = 0; i < m; i++)
            first_of[kr[i].row] = i && !strcmp(kr[i].key, kr[i - 1].key)
                                      ? first_of[kr[i - 1].row] : kr[i].row;
        for (int64_t r = 0; r < t->nrows; r++) {
            if (use && !use[r])
                continue;
            if (first_of[r] == r) {
                g->first[g->ngroups] = r;
                g->of_row[r] = g->ngroups++;
            } else {
                g->of_row[r] = g->of_row[first_of[r]];
            }
        }
    }
    for (size_t i = 0; kr && i < m; i++)
        free(kr[i].key);
    free(kr);
    free(first_of);
    return rc;
}

int ps_groups_build(const ps_table *t, const char *const *by, int nby, const unsigned char *use,
                    ps_groups *g)
{
    int rc;
    memset(g, 0, sizeof *g);
    size_t nr = t->nrows ? (size_t)t->nrows : 1;
    g->by = ps_calloc((size_t)nby + 1, sizeof *g->by);
    g->col = ps_calloc((size_t)nby + 1, sizeof *g->col);
    g->of_row = ps_malloc_array(nr, sizeof *g->of_row);
    g->first = ps_malloc_array(nr, sizeof *g->first);
    if (!g->by || !g->col || !g->of_row || !g->first) {
        rc = PS_ERR_NOMEM;
        goto fail;
    }
    for (int k = 0; k < nby; k++) {
        if ((rc = ps_table_require_col(t, by[k], &g->col[g->nby])))
            goto fail;
        if (!(g->by[g->nby++] = ps_strdup(by[k]))) {
            rc = PS_ERR_NOMEM;
            goto fail;
        }
    }
    /* groups in order of first appearance, so the output follows the input order */
    if ((rc = assign_groups(t, use, g)))
        goto fail;
    /* the rows of each group, in table order (a counting sort) */
    g->start = ps_calloc((size_t)g->ngroups + 1, sizeof *g->start);
    g->rows = ps_malloc_array(nr, sizeof *g->rows);
    if (!g->start || !g->rows) {
        rc = PS_ERR_NOMEM;
        goto fail;
    }
    for (int64_t r = 0; r < t->nrows; r++)
        if (g->of_row[r] >= 0)
            g->start[g->of_row[r] + 1]++;
    for (int k = 0; k < g->ngroups; k++)
        g->start[k + 1] += g->start[k];
    {
        int64_t *pos = ps_malloc_array((size_t)g->ngroups + 1, sizeof *pos);
        if (!pos) {
            rc = PS_ERR_NOMEM;
            goto fail;
        }
        memcpy(pos, g->start, ((size_t)g->ngroups + 1) * sizeof *pos);
        for (int64_t r = 0; r < t->nrows; r++)
            if (g->of_row[r] >= 0)
                g->rows[pos[g->of_row[r]]++] = r;
        free(pos);
    }
    return PS_OK;
fail:
    ps_groups_free(g);
    return rc;
}

const char *ps_groups_label(const ps_table *t, const ps_groups *g, int grp, char *buf,
                            size_t len)
{
    if (g->nby == 0) {
        snprintf(buf, len, "all rows");
        return buf;
    }
    size_t used = 0;
    buf[0] = 0;
    for (int k = 0; k < g->nby && used < len; k++)
        used += (size_t)snprintf(buf + used, len - used, "%s%s=%s", k ? ", " : "", g->by[k],
                                 t->cells[g->first[grp]][g->col[k]]);
    return buf;
}

int ps_groups_add_cols(const ps_groups *g, ps_rtable *rt)
{
    int rc = PS_OK;
    for (int k = 0; k < g->nby && !rc; k++)
        rc = ps_rtable_add_col(rt, g->by[k], PS_CELL_STR, PS_STYLE_G6, 0, 0);
    return rc;
}

int ps_groups_cells(const ps_table *t, const ps_groups *g, int grp, ps_rtable *rt)
{
    int rc = PS_OK;
    for (int k = 0; k < g->nby && !rc; k++)
        rc = ps_rtable_str(rt, t->cells[g->first[grp]][g->col[k]]);
    return rc;
}

/* ---- exclusions ------------------------------------------------------------------------------ */
static const char *const excl_names[PS_EXCL_N] = {"nan",    "inf",    "error",
                                                  "missing", "not_ok", "unpaired"};

const char *ps_excl_name(ps_excl e)
{
    return e >= 0 && e < PS_EXCL_N ? excl_names[e] : "none";
}

int64_t ps_excl_total(const ps_excl_counts *c)
{
    int64_t n = 0;
    for (int e = 0; e < PS_EXCL_N; e++)
        n += c->n[e];
    return n;
}

const char *ps_excl_describe(const ps_excl_counts *c, char *buf, size_t len)
{
    size_t used = 0;
    buf[0] = 0;
    for (int e = 0; e < PS_EXCL_N && used < len; e++)
        if (c->n[e])
            used += (size_t)snprintf(buf + used, len - used, "%s%lld %s", used ? ", " : "",
                                     (long long)c->n[e], excl_names[e]);
    return buf;
}

int ps_excl_add_cols(ps_rtable *rt, int with_unpaired)
{
    int rc = PS_OK;
    for (int e = 0; e < PS_EXCL_N && !rc; e++) {
        if (e == PS_EXCL_UNPAIRED && !with_unpaired)
            continue;
        char name[32];
        snprintf(name, sizeof name, "excl_%s", excl_names[e]);
        rc = ps_rtable_add_col(rt, name, PS_CELL_INT, PS_STYLE_G6, 0, PS_COL_DATA_ONLY);
    }
    return rc;
}

int ps_excl_cells(ps_rtable *rt, const ps_excl_counts *c, int with_unpaired)
{
    int rc = PS_OK;
    for (int e = 0; e < PS_EXCL_N && !rc; e++)
        if (e != PS_EXCL_UNPAIRED || with_unpaired)
            rc = ps_rtable_int(rt, c->n[e]);
    return rc;
}

/* ---- the row filter ----------------------------------------------------------------------------- */
int ps_report_require_rows(const ps_table *t)
{
    if (t->nrows == 0)
        return ps_error(PS_ERR_FORMAT, "%s: the table has no rows (only a header)",
                        t->path ? t->path : "(table)");
    return PS_OK;
}

int ps_rowfilter_init(ps_rowfilter *f, const ps_table *t, const char *model, int ok_only)
{
    int rc;
    memset(f, 0, sizeof *f);
    f->t = t;
    f->name = t->path ? t->path : "(table)";
    f->status_col = ps_table_col(t, "status");
    f->model_col = -1;
    f->ok_only = ok_only;
    if ((rc = ps_report_require_rows(t)))
        return rc;
    if (model && (rc = ps_table_require_col(t, "model", &f->model_col)))
        return rc;
    if (!(f->use = ps_calloc((size_t)t->nrows, 1)))
        return PS_ERR_NOMEM;
    for (int64_t r = 0; r < t->nrows; r++) {
        f->use[r] = !model || !strcmp(t->cells[r][f->model_col], model);
        f->nuse += f->use[r];
    }
    if (f->nuse == 0) {
        rc = ps_error(PS_ERR_ARG, "%s: no rows with model '%s' (column 'model')", f->name, model);
        ps_rowfilter_free(f);
        return rc;
    }
    return PS_OK;
}

void ps_rowfilter_free(ps_rowfilter *f)
{
    if (!f)
        return;
    free(f->use);
    f->use = NULL;
}

ps_excl ps_report_status_excl(const ps_rowfilter *f, int64_t r)
{
    if (f->status_col < 0)
        return PS_EXCL_NONE;
    /* the status names of the per-case table's owner (src/eval); an unknown status is not
     * error or missing, so it enters unless ok_only */
    ps_eval_status st;
    int known = ps_eval_status_parse(f->t->cells[r][f->status_col], &st) == PS_OK;
    if (known && st == PS_EVAL_ERROR)
        return PS_EXCL_ERROR;
    if (known && st == PS_EVAL_MISSING)
        return PS_EXCL_MISSING;
    if (f->ok_only && !(known && st == PS_EVAL_OK))
        return PS_EXCL_NOT_OK;
    return PS_EXCL_NONE;
}

int ps_report_classify(const ps_rowfilter *f, int64_t r, int c, double *v, ps_excl *reason)
{
    *v = NAN;
    if ((*reason = ps_report_status_excl(f, r)) != PS_EXCL_NONE)
        return PS_OK;
    const char *s = f->t->cells[r][c];
    while (*s == ' ' || *s == '\t')
        s++;
    if (!*s) {
        *reason = PS_EXCL_NAN; /* an empty cell: no value */
        return PS_OK;
    }
    int rc = ps_table_get_double(f->t, r, c, v);
    if (rc)
        return rc;
    *reason = isnan(*v) ? PS_EXCL_NAN : isinf(*v) ? PS_EXCL_INF : PS_EXCL_NONE;
    return PS_OK;
}
