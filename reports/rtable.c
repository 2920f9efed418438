/* rtable.c - the result-table model of every analysis and its renderers: aligned text,
 * CSV/TSV/JSON (through src/io's ps_table_writer, exact numbers), Markdown and LaTeX booktabs
 * (numbers shown with the column's display hint). */
#include "ps_reports.h"

#include <inttypes.h>
#include <math.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

typedef struct {
    char *name;
    ps_cell_kind kind;
    ps_col_style style;
    int digits, flags;
} rcol;

typedef struct {
    double x;
    int64_t i;
    char *s;
} rcell;

typedef struct {
    char **s;
    int n, cap;
} strlist;

struct ps_rtable {
    int ncols, capcols;
    rcol *cols;
    rcell *cells;
    size_t ncells, cap;
    strlist head, foot, msg;
    unsigned char *msg_error; /* per message: 1 for errors */
    int nerrors;
    ps_rtable *display;
};

int ps_rtable_create(ps_rtable **out)
{
    *out = ps_calloc(1, sizeof **out);
    return *out ? PS_OK : PS_ERR_NOMEM;
}

static void strlist_free(strlist *l)
{
    for (int i = 0; i < l->n; i++)
        free(l->s[i]);
    free(l->s);
}

void ps_rtable_free(ps_rtable *t)
{
    if (!t)
        return;
    for (int c = 0; c < t->ncols; c++)
        free(t->cols[c].name);
    for (size_t i = 0; i < t->ncells; i++)
        free(t->cells[i].s);
    free(t->cols);
    free(t->cells);
    strlist_free(&t->head);
    strlist_free(&t->foot);
    strlist_free(&t->msg);
    free(t->msg_error);
    ps_rtable_free(t->display);
    free(t);
}

int ps_rtable_add_col(ps_rtable *t, const char *name, ps_cell_kind kind, ps_col_style style,
                      int digits, int flags)
{
    if (t->ncells)
        return ps_error(PS_ERR_INTERNAL, "result table: column '%s' added after cells", name);
    if (t->ncols == t->capcols) {
        int cap = t->capcols ? 2 * t->capcols : 16;
        rcol *c = ps_realloc_array(t->cols, (size_t)cap, sizeof *c);
        if (!c)
            return PS_ERR_NOMEM;
        t->cols = c;
        t->capcols = cap;
    }
    rcol *c = &t->cols[t->ncols];
    if (!(c->name = ps_strdup(name)))
        return PS_ERR_NOMEM;
    c->kind = kind;
    c->style = style;
    c->digits = digits;
    c->flags = flags;
    t->ncols++;
    return PS_OK;
}

static int next_cell(ps_rtable *t, ps_cell_kind kind, rcell **out)
{
    if (t->ncols == 0)
        return ps_error(PS_ERR_INTERNAL, "result table without columns");
    const rcol *col = &t->cols[t->ncells % (size_t)t->ncols];
    /* a number column may hold integers (both print as numbers); text is text */
    if ((col->kind == PS_CELL_STR) != (kind == PS_CELL_STR))
        return ps_error(PS_ERR_INTERNAL, "result table: wrong cell type for column '%s'",
                        col->name);
    if (t->ncells == t->cap) {
        size_t cap = t->cap ? 2 * t->cap : 64;
        rcell *c = ps_realloc_array(t->cells, cap, sizeof *c);
        if (!c)
            return PS_ERR_NOMEM;
        t->cells = c;
        t->cap = cap;
    }
    rcell *c = &t->cells[t->ncells++];
    memset(c, 0, sizeof *c);
    *out = c;
    return PS_OK;
}

int ps_rtable_str(ps_rtable *t, const char *s)
{
    rcell *c = NULL;
    int rc = next_cell(t, PS_CELL_STR, &c);
    if (!rc && !(c->s = ps_strdup(s)))
        rc = PS_ERR_NOMEM;
    return rc;
}

int ps_rtable_num(ps_rtable *t, double x)
{
    rcell *c = NULL;
    int rc = next_cell(t, PS_CELL_NUM, &c);
    if (!rc) {
        c->x = x;
        c->i = INT64_MIN; /* marks a double */
    }
    return rc;
}

int ps_rtable_int(ps_rtable *t, int64_t x)
{
    rcell *c = NULL;
    int rc = next_cell(t, PS_CELL_INT, &c);
    if (!rc) {
        c->x = (double)x;
        c->i = x;
    }
    return rc;
}

static int strlist_vadd(strlist *l, const char *fmt, va_list ap)
{
    if (l->n == l->cap) {
        int cap = l->cap ? 2 * l->cap : 8;
        char **s = ps_realloc_array(l->s, (size_t)cap, sizeof *s);
        if (!s)
            return PS_ERR_NOMEM;
        l->s = s;
        l->cap = cap;
    }
    char buf[2048];
    vsnprintf(buf, sizeof buf, fmt, ap);
    if (!(l->s[l->n] = ps_strdup(buf)))
        return PS_ERR_NOMEM;
    l->n++;
    return PS_OK;
}

int ps_rtable_head(ps_rtable *t, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int rc = strlist_vadd(&t->head, fmt, ap);
    va_end(ap);
    return rc;
}

int ps_rtable_foot(ps_rtable *t, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int rc = strlist_vadd(&t->foot, fmt, ap);
    va_end(ap);
    return rc;
}

static int add_message(ps_rtable *t, int is_error, const char *fmt, va_list ap)
{
    unsigned char *e = ps_realloc_array(t->msg_error, (size_t)t->msg.n + 1, 1);
    if (!e)
        return PS_ERR_NOMEM;
    t->msg_error = e;
    int rc = strlist_vadd(&t->msg, fmt, ap);
    if (!rc) {
        t->msg_error[t->msg.n - 1] = (unsigned char)is_error;
        t->nerrors += is_error;
    }
    return rc;
}

int ps_rtable_warn(ps_rtable *t, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int rc = add_message(t, 0, fmt, ap);
    va_end(ap);
    return rc;
}

int ps_rtable_error(ps_rtable *t, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int rc = add_message(t, 1, fmt, ap);
    va_end(ap);
    return rc;
}

void ps_rtable_set_display(ps_rtable *t, ps_rtable *display)
{
    ps_rtable_free(t->display);
    t->display = display;
}

int ps_rtable_ncols(const ps_rtable *t) { return t->ncols; }
int64_t ps_rtable_nrows(const ps_rtable *t)
{
    return t->ncols ? (int64_t)(t->ncells / (size_t)t->ncols) : 0;
}
const char *ps_rtable_colname(const ps_rtable *t, int c)
{
    return c >= 0 && c < t->ncols ? t->cols[c].name : NULL;
}
int ps_rtable_find_col(const ps_rtable *t, const char *name)
{
    for (int c = 0; c < t->ncols; c++)
        if (!strcmp(t->cols[c].name, name))
            return c;
    return -1;
}
ps_cell_kind ps_rtable_kind(const ps_rtable *t, int c) { return t->cols[c].kind; }

static const rcell *cell_at(const ps_rtable *t, int64_t r, int c)
{
    if (r < 0 || r >= ps_rtable_nrows(t) || c < 0 || c >= t->ncols)
        return NULL;
    return &t->cells[(size_t)r * (size_t)t->ncols + (size_t)c];
}
const char *ps_rtable_cell_str(const ps_rtable *t, int64_t r, int c)
{
    const rcell *x = cell_at(t, r, c);
    return x ? x->s : NULL;
}
double ps_rtable_cell_num(const ps_rtable *t, int64_t r, int c)
{
    const rcell *x = cell_at(t, r, c);
    return x && !x->s ? x->x : NAN;
}
int ps_rtable_nmessages(const ps_rtable *t) { return t->msg.n; }
const char *ps_rtable_message(const ps_rtable *t, int i, int *is_error)
{
    if (i < 0 || i >= t->msg.n)
        return NULL;
    if (is_error)
        *is_error = t->msg_error[i];
    return t->msg.s[i];
}
int ps_rtable_nerrors(const ps_rtable *t) { return t->nerrors; }

/* ---- formats -------------------------------------------------------------------------------- */
int ps_report_format_parse(const char *s, ps_report_format *out)
{
    static const struct { const char *name; ps_report_format f; } names[] = {
        {"text", PS_REPORT_TEXT}, {"csv", PS_REPORT_CSV},   {"tsv", PS_REPORT_TSV},
        {"json", PS_REPORT_JSON}, {"md", PS_REPORT_MD},     {"markdown", PS_REPORT_MD},
        {"tex", PS_REPORT_TEX},   {"latex", PS_REPORT_TEX},
    };
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++)
        if (!strcmp(s, names[i].name)) {
            *out = names[i].f;
            return PS_OK;
        }
    return ps_error(PS_ERR_ARG, "--format must be %s, got '%s'", ps_report_format_names(), s);
}

const char *ps_report_format_names(void) { return "text, csv, tsv, json, md or tex"; }

/* Display text of a cell (text, Markdown, LaTeX). */
static void display_of(const rcol *col, const rcell *c, char *buf, size_t len)
{
    if (c->s)
        snprintf(buf, len, "%s", c->s);
    else if (c->i != INT64_MIN)
        snprintf(buf, len, "%" PRId64, c->i);
    else if (isnan(c->x))
        snprintf(buf, len, "nan");
    else if (isinf(c->x))
        snprintf(buf, len, c->x > 0 ? "inf" : "-inf");
    else if (col->style == PS_STYLE_FIXED)
        snprintf(buf, len, "%.*f", col->digits, c->x);
    else if (col->style == PS_STYLE_SIG)
        snprintf(buf, len, "%.*g", col->digits, c->x);
    else
        snprintf(buf, len, "%.6g", c->x);
}

/* Display width of UTF-8 text (each code point counts one column). */
static int text_width(const char *s)
{
    int w = 0;
    for (; *s; s++)
        w += ((unsigned char)*s & 0xC0) != 0x80;
    return w;
}

static int is_left(const rcol *c)
{
    return c->kind == PS_CELL_STR && !(c->flags & PS_COL_RIGHT);
}

static int shown(const ps_rtable *t, int c) { return !(t->cols[c].flags & PS_COL_DATA_ONLY); }

/* Aligned columns: text left, numbers right; the header aligned like its column. */
static int write_text(const ps_rtable *t, FILE *f)
{
    size_t nrows = (size_t)ps_rtable_nrows(t);
    int *width = ps_calloc((size_t)t->ncols + 1, sizeof *width);
    if (!width)
        return PS_ERR_NOMEM;
    char buf[512];
    for (int c = 0; c < t->ncols; c++)
        width[c] = text_width(t->cols[c].name);
    for (size_t i = 0; i < t->ncells; i++) {
        int c = (int)(i % (size_t)t->ncols);
        display_of(&t->cols[c], &t->cells[i], buf, sizeof buf);
        int w = text_width(buf);
        if (w > width[c])
            width[c] = w;
    }
    int last = -1;
    for (int c = 0; c < t->ncols; c++)
        if (shown(t, c))
            last = c;
    for (size_t r = 0; r <= nrows; r++) {
        int first = 1;
        for (int c = 0; c < t->ncols; c++) {
            if (!shown(t, c))
                continue;
            const char *s;
            if (r == 0) {
                s = t->cols[c].name;
            } else {
                display_of(&t->cols[c], &t->cells[(r - 1) * (size_t)t->ncols + (size_t)c], buf,
                           sizeof buf);
                s = buf;
            }
            int left = is_left(&t->cols[c]);
            int pad = width[c] - text_width(s);
            if (!first)
                fputs("  ", f);
            if (!left)
                fprintf(f, "%*s", pad, "");
            fputs(s, f);
            if (left && c != last)
                fprintf(f, "%*s", pad, "");
            first = 0;
        }
        fputc('\n', f);
    }
    free(width);
    return PS_OK;
}

/* Markdown and LaTeX through src/io's writer: the columns shown in text, each cell as its
 * display text (the column's hint), so a report shows 0.4842 where CSV has every digit. The
 * lines around the table become paragraphs (Markdown) or comments (LaTeX). */
static int write_display(const ps_rtable *t, FILE *f, ps_table_format fmt)
{
    const char **names = ps_calloc((size_t)t->ncols + 1, sizeof *names);
    if (!names)
        return PS_ERR_NOMEM;
    int n = 0;
    for (int c = 0; c < t->ncols; c++)
        if (shown(t, c))
            names[n++] = t->cols[c].name;
    const char *pre = fmt == PS_TABLE_TEX ? "% " : "";
    for (int i = 0; i < t->head.n; i++)
        fprintf(f, "%s%s\n", pre, t->head.s[i]);
    if (t->head.n && fmt == PS_TABLE_MD)
        fputc('\n', f);
    ps_table_writer *w;
    int rc = ps_table_writer_create(f, fmt, n, names, &w);
    free(names);
    if (rc)
        return rc;
    char buf[512];
    for (size_t i = 0; i < t->ncells && !rc; i++) {
        int c = (int)(i % (size_t)t->ncols);
        if (shown(t, c)) {
            display_of(&t->cols[c], &t->cells[i], buf, sizeof buf);
            rc = ps_table_writer_str(w, buf);
        }
        if (!rc && c + 1 == t->ncols)
            rc = ps_table_writer_end_row(w);
    }
    int rc2 = ps_table_writer_finish(w);
    rc = rc ? rc : rc2;
    if (t->foot.n && fmt == PS_TABLE_MD)
        fputc('\n', f);
    for (int i = 0; i < t->foot.n && !rc; i++)
        fprintf(f, "%s%s\n", pre, t->foot.s[i]);
    return rc;
}

static int write_data(const ps_rtable *t, FILE *f, ps_table_format fmt)
{
    const char **names = ps_calloc((size_t)t->ncols + 1, sizeof *names);
    if (!names)
        return PS_ERR_NOMEM;
    for (int c = 0; c < t->ncols; c++)
        names[c] = t->cols[c].name;
    ps_table_writer *w;
    int rc = ps_table_writer_create(f, fmt, t->ncols, names, &w);
    free(names);
    if (rc)
        return rc;
    for (size_t i = 0; i < t->ncells && !rc; i++) {
        const rcell *c = &t->cells[i];
        rc = c->s ? ps_table_writer_str(w, c->s)
             : c->i != INT64_MIN ? ps_table_writer_int(w, c->i)
             : isnan(c->x) ? ps_table_writer_null(w) : ps_table_writer_num(w, c->x);
        if (!rc && (i + 1) % (size_t)t->ncols == 0)
            rc = ps_table_writer_end_row(w);
    }
    int rc2 = ps_table_writer_finish(w);
    return rc ? rc : rc2;
}

int ps_rtable_write(const ps_rtable *t, FILE *f, ps_report_format fmt)
{
    if (t->ncols == 0 || t->ncells % (size_t)t->ncols)
        return ps_error(PS_ERR_INTERNAL, "result table has an incomplete row");
    const ps_rtable *shown_t = t->display ? t->display : t;
    int rc;
    switch (fmt) {
    case PS_REPORT_CSV: rc = write_data(t, f, PS_TABLE_CSV); break;
    case PS_REPORT_TSV: rc = write_data(t, f, PS_TABLE_TSV); break;
    case PS_REPORT_JSON: rc = write_data(t, f, PS_TABLE_JSON); break;
    case PS_REPORT_TEX: rc = write_display(shown_t, f, PS_TABLE_TEX); break;
    case PS_REPORT_MD: rc = write_display(shown_t, f, PS_TABLE_MD); break;
    case PS_REPORT_TEXT: {
        for (int i = 0; i < shown_t->head.n; i++)
            fprintf(f, "%s\n", shown_t->head.s[i]);
        if (shown_t->head.n)
            fputc('\n', f);
        rc = write_text(shown_t, f);
        if (shown_t->foot.n)
            fputc('\n', f);
        for (int i = 0; i < shown_t->foot.n; i++)
            fprintf(f, "%s\n", shown_t->foot.s[i]);
        break;
    }
    default: return ps_error(PS_ERR_ARG, "unknown report format %d", (int)fmt);
    }
    if (!rc && ferror(f))
        rc = ps_error(PS_ERR_IO, "error writing the result table");
    return rc;
}
