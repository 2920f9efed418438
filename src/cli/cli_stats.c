/* cli_stats.c - result tables and row grouping for compare, volume and describe. */
#include "cli_stats.h"

#include <inttypes.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

/* ---- result table ----------------------------------------------------------------------- */
typedef struct {
    int kind; /* 0 text, 1 number, 2 integer */
    double x;
    int64_t i;
    char *s;
} rcell;

struct cli_rtable {
    int ncols;
    char **names;
    rcell *cells;
    size_t ncells, cap;
};

int cli_rtable_create(int ncols, const char *const *names, cli_rtable **out)
{
    cli_rtable *t = ps_calloc(1, sizeof *t);
    if (!t || !(t->names = ps_calloc((size_t)ncols, sizeof *t->names))) {
        free(t);
        return PS_ERR_NOMEM;
    }
    t->ncols = ncols;
    for (int c = 0; c < ncols; c++)
        if (!(t->names[c] = ps_strdup(names[c]))) {
            cli_rtable_free(t);
            return PS_ERR_NOMEM;
        }
    *out = t;
    return PS_OK;
}

void cli_rtable_free(cli_rtable *t)
{
    if (!t)
        return;
    for (int c = 0; c < t->ncols; c++)
        free(t->names[c]);
    for (size_t i = 0; i < t->ncells; i++)
        free(t->cells[i].s);
    free(t->names);
    free(t->cells);
    free(t);
}

static rcell *next_cell(cli_rtable *t)
{
    if (t->ncells == t->cap) {
        size_t cap = t->cap ? 2 * t->cap : 64;
        rcell *c = ps_realloc_array(t->cells, cap, sizeof *c);
        if (!c)
            return NULL;
        t->cells = c;
        t->cap = cap;
    }
    rcell *c = &t->cells[t->ncells++];
    memset(c, 0, sizeof *c);
    return c;
}

int cli_rtable_str(cli_rtable *t, const char *s)
{
    rcell *c = next_cell(t);
    if (!c || !(c->s = ps_strdup(s)))
        return PS_ERR_NOMEM;
    c->kind = 0;
    return PS_OK;
}

int cli_rtable_num(cli_rtable *t, double x)
{
    rcell *c = next_cell(t);
    if (!c)
        return PS_ERR_NOMEM;
    c->kind = 1;
    c->x = x;
    return PS_OK;
}

int cli_rtable_int(cli_rtable *t, int64_t x)
{
    rcell *c = next_cell(t);
    if (!c)
        return PS_ERR_NOMEM;
    c->kind = 2;
    c->i = x;
    return PS_OK;
}

static void text_of(const rcell *c, char *buf, size_t len)
{
    if (c->kind == 0)
        snprintf(buf, len, "%s", c->s);
    else if (c->kind == 2)
        snprintf(buf, len, "%" PRId64, c->i);
    else if (isnan(c->x))
        snprintf(buf, len, "nan");
    else
        snprintf(buf, len, "%.6g", c->x);
}

int cli_rtable_write(const cli_rtable *t, FILE *f, int text, ps_table_format fmt)
{
    if (t->ncells % (size_t)t->ncols)
        return ps_error(PS_ERR_INTERNAL, "result table has an incomplete row");
    size_t nrows = t->ncells / (size_t)t->ncols;
    if (!text) {
        ps_table_writer *w;
        int rc = ps_table_writer_create(f, fmt, t->ncols, (const char *const *)t->names, &w);
        if (rc)
            return rc;
        for (size_t i = 0; i < t->ncells && !rc; i++) {
            const rcell *c = &t->cells[i];
            rc = c->kind == 0 ? ps_table_writer_str(w, c->s)
                 : c->kind == 2 ? ps_table_writer_int(w, c->i)
                 : isnan(c->x) ? ps_table_writer_null(w) : ps_table_writer_num(w, c->x);
            if (!rc && (i + 1) % (size_t)t->ncols == 0)
                rc = ps_table_writer_end_row(w);
        }
        int rc2 = ps_table_writer_finish(w);
        return rc ? rc : rc2;
    }
    int *width = ps_calloc((size_t)t->ncols, sizeof *width);
    if (!width)
        return PS_ERR_NOMEM;
    char buf[256];
    for (int c = 0; c < t->ncols; c++)
        width[c] = (int)strlen(t->names[c]);
    for (size_t i = 0; i < t->ncells; i++) {
        text_of(&t->cells[i], buf, sizeof buf);
        int c = (int)(i % (size_t)t->ncols), l = (int)strlen(buf);
        if (l > width[c])
            width[c] = l;
    }
    for (int c = 0; c < t->ncols; c++) {
        /* header aligned like the column's cells (numbers right) */
        int left = nrows == 0 || t->cells[c].kind == 0;
        fprintf(f, "%s%*s", c ? "  " : "", left ? -width[c] : width[c], t->names[c]);
    }
    fputc('\n', f);
    for (size_t i = 0; i < t->ncells; i++) {
        int c = (int)(i % (size_t)t->ncols);
        text_of(&t->cells[i], buf, sizeof buf);
        int left = t->cells[i].kind == 0;
        if (c + 1 == t->ncols && left)
            fprintf(f, "%s%s\n", c ? "  " : "", buf);
        else
            fprintf(f, "%s%*s%s", c ? "  " : "", left ? -width[c] : width[c], buf,
                    c + 1 == t->ncols ? "\n" : "");
    }
    free(width);
    return ferror(f) ? ps_error(PS_ERR_IO, "error writing the result table") : PS_OK;
}

int cli_stats_format(const char *cmd, const char *arg, int *text, ps_table_format *fmt)
{
    if (!strcmp(arg, "text")) {
        *text = 1;
        return 0;
    }
    if (ps_table_format_parse(arg, fmt)) {
        cli_usage_error(cmd, "--format must be text, csv, tsv or json, got '%s'", arg);
        return -1;
    }
    *text = 0;
    return 0;
}

/* ---- groups --------------------------------------------------------------------------------- */
void cli_groups_free(cli_groups *g)
{
    if (!g)
        return;
    for (int i = 0; i < g->nby; i++)
        free(g->by[i]);
    free(g->by);
    free(g->col);
    free(g->first);
    free(g->of_row);
    memset(g, 0, sizeof *g);
}

static int same_key(const ps_table *t, const cli_groups *g, int64_t r1, int64_t r2)
{
    for (int k = 0; k < g->nby; k++)
        if (strcmp(t->cells[r1][g->col[k]], t->cells[r2][g->col[k]]))
            return 0;
    return 1;
}

int cli_groups_build(const ps_table *t, const char *by, const unsigned char *use, cli_groups *g)
{
    int rc;
    memset(g, 0, sizeof *g);
    if (!by || !strcmp(by, "none"))
        by = "";
    int cap = 1;
    for (const char *p = by; *p; p++)
        cap += *p == ',';
    char *copy = ps_strdup(by);
    g->by = ps_calloc((size_t)cap, sizeof *g->by);
    g->col = ps_calloc((size_t)cap, sizeof *g->col);
    g->of_row = ps_malloc_array(t->nrows ? (size_t)t->nrows : 1, sizeof *g->of_row);
    g->first = ps_malloc_array(t->nrows ? (size_t)t->nrows : 1, sizeof *g->first);
    if (!copy || !g->by || !g->col || !g->of_row || !g->first) {
        rc = PS_ERR_NOMEM;
        goto fail;
    }
    char *save = NULL;
    for (char *tok = strtok_r(copy, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
        if (!*tok)
            continue;
        if ((rc = ps_table_require_col(t, tok, &g->col[g->nby])))
            goto fail;
        if (!(g->by[g->nby++] = ps_strdup(tok))) {
            rc = PS_ERR_NOMEM;
            goto fail;
        }
    }
    free(copy);
    copy = NULL;
    for (int64_t r = 0; r < t->nrows; r++) {
        g->of_row[r] = -1;
        if (!use[r])
            continue;
        int k = 0;
        while (k < g->ngroups && !same_key(t, g, g->first[k], r))
            k++;
        if (k == g->ngroups)
            g->first[g->ngroups++] = r;
        g->of_row[r] = k;
    }
    return PS_OK;
fail:
    free(copy);
    cli_groups_free(g);
    return rc;
}

const char *cli_groups_label(const ps_table *t, const cli_groups *g, int grp, char *buf,
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

int cli_groups_cells(const ps_table *t, const cli_groups *g, int grp, cli_rtable *rt)
{
    int rc = PS_OK;
    for (int k = 0; k < g->nby && !rc; k++)
        rc = cli_rtable_str(rt, t->cells[g->first[grp]][g->col[k]]);
    return rc;
}

int cli_stats_getopt(const char *cmd, int argc, char **argv, const struct option *longopts,
                     cli_common *common, int *text)
{
    common->uses |= CLI_USE_FORMAT | CLI_USE_TEXT;
    int c = cli_getopt(common, cmd, argc, argv, "", longopts);
    if (common->text >= 0)
        *text = common->text;
    return c;
}
