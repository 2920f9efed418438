/* table_read.c - read CSV (RFC 4180) and TSV tables into memory.
 *
 * Rules (also in docs/io.md):
 *   - Binary input is refused before parsing (ps_text_check): gzip data, a NIfTI image, a
 *     zip archive (.xlsx), UTF-16 text (Excel's "Unicode Text") or any NUL byte.
 *   - Lines starting with '#' before the header are comments; blank lines are skipped
 *     everywhere; a UTF-8 byte-order mark is ignored.
 *   - The separator is a tab when the header line contains one, else a comma.
 *   - Quoting as in RFC 4180, for both separators (pandas and Python's csv module quote TSV
 *     cells the same way): a cell that starts with '"' runs to the matching '"'; inside it ""
 *     is one quote, and separators and line breaks are literal. A quote inside an unquoted
 *     cell is literal. After a closing quote only a separator or the end of the line may
 *     follow.
 *   - Lines may end in LF or CRLF; the CR is dropped (inside quotes it is kept).
 *   - Every row must have as many cells as the header.
 *   - JSON (the first character, after blanks, is '['): an array of flat objects, as
 *     ps_table_writer writes. The first object's keys, in order, are the columns; every
 *     object must have the same keys (in any order). Strings are unescaped (\uXXXX, with
 *     surrogate pairs, becomes UTF-8); numbers keep their text; true/false become "true" /
 *     "false"; null becomes "nan", the writer's spelling of a missing number (the JSON writer
 *     writes null only for NaN); "Inf" / "-Inf" are read by ps_table_get_double as numbers.
 */
#include "ps_io.h"

#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

typedef struct parser {
    const char *s;
    size_t len, pos;
    int64_t line;     /* 1-based line of s[pos] */
    const char *name; /* for messages */
    char sep;
    char *text;       /* cell storage: NUL-terminated strings back to back */
    size_t text_len, text_cap;
    size_t *offs;     /* start of each cell in `text` */
    size_t noffs, offs_cap;
} parser;

static int put_char(parser *p, char c)
{
    if (p->text_len == p->text_cap) {
        size_t cap = p->text_cap ? 2 * p->text_cap : 4096;
        char *t = ps_realloc_array(p->text, cap, 1);
        if (!t)
            return PS_ERR_NOMEM;
        p->text = t;
        p->text_cap = cap;
    }
    p->text[p->text_len++] = c;
    return PS_OK;
}

static int start_cell(parser *p)
{
    if (p->noffs == p->offs_cap) {
        size_t cap = p->offs_cap ? 2 * p->offs_cap : 256;
        size_t *o = ps_realloc_array(p->offs, cap, sizeof *o);
        if (!o)
            return PS_ERR_NOMEM;
        p->offs = o;
        p->offs_cap = cap;
    }
    p->offs[p->noffs++] = p->text_len;
    return PS_OK;
}

static int at_eol(const parser *p)
{
    return p->pos >= p->len || p->s[p->pos] == '\n' ||
           (p->s[p->pos] == '\r' && (p->pos + 1 >= p->len || p->s[p->pos + 1] == '\n'));
}

static void skip_eol(parser *p)
{
    if (p->pos < p->len && p->s[p->pos] == '\r')
        p->pos++;
    if (p->pos < p->len && p->s[p->pos] == '\n') {
        p->pos++;
        p->line++;
    }
}

/* Parse one record starting at p->pos; appends its cells and returns how many. */
static int parse_record(parser *p, int *ncells)
{
    int n = 0, rc;
    for (;;) {
        if ((rc = start_cell(p)))
            return rc;
        n++;
        if (p->pos < p->len && p->s[p->pos] == '"') {
            int64_t line0 = p->line;
            p->pos++;
            for (;;) {
                if (p->pos >= p->len)
                    return ps_error(PS_ERR_FORMAT,
                                    "%s line %lld: quoted cell is not closed before the end of "
                                    "the file", p->name, (long long)line0);
                char c = p->s[p->pos];
                if (c == '"') {
                    if (p->pos + 1 < p->len && p->s[p->pos + 1] == '"') {
                        if ((rc = put_char(p, '"')))
                            return rc;
                        p->pos += 2;
                        continue;
                    }
                    p->pos++;
                    break;
                }
                if (c == '\n')
                    p->line++;
                if ((rc = put_char(p, c)))
                    return rc;
                p->pos++;
            }
            if (!at_eol(p) && p->s[p->pos] != p->sep)
                return ps_error(PS_ERR_FORMAT,
                                "%s line %lld: unexpected character '%c' after a closing quote "
                                "(a quote inside a quoted cell must be doubled)",
                                p->name, (long long)p->line, p->s[p->pos]);
        } else {
            while (!at_eol(p) && p->s[p->pos] != p->sep) {
                if ((rc = put_char(p, p->s[p->pos])))
                    return rc;
                p->pos++;
            }
        }
        if ((rc = put_char(p, '\0')))
            return rc;
        if (at_eol(p)) {
            skip_eol(p);
            break;
        }
        p->pos++; /* separator */
    }
    *ncells = n;
    return PS_OK;
}

/* Skip blank lines (and, before the header, '#' comments). Returns 0 at end of input. */
static int skip_ignorable(parser *p, int comments)
{
    while (p->pos < p->len) {
        if (at_eol(p)) {
            skip_eol(p);
        } else if (comments && p->s[p->pos] == '#') {
            while (!at_eol(p))
                p->pos++;
            skip_eol(p);
        } else {
            return 1;
        }
    }
    return 0;
}

void ps_table_free(ps_table *t)
{
    if (!t)
        return;
    free(t->colnames);
    free(t->cells);
    free(t->cellv_);
    free(t->line);
    free(t->text_);
    free(t->path);
    free(t);
}

/* ---- JSON: an array of flat objects, read with json_read.c -------------------------------- */
static int put_text(parser *p, const char *s)
{
    int rc = PS_OK;
    for (; *s && !rc; s++)
        rc = put_char(p, *s);
    return rc ? rc : put_char(p, '\0');
}

/* A scalar member value into the cell storage, as its cell text. */
static int json_cell(parser *p, const ps_json *v)
{
    switch (v->type) {
    case PS_JSON_STRING:
    case PS_JSON_NUMBER: return put_text(p, v->string); /* PS_JSON_NUMBER_TEXT */
    case PS_JSON_BOOL: return put_text(p, v->boolean ? "true" : "false");
    case PS_JSON_NULL: return put_text(p, "nan");
    default:
        return ps_error(PS_ERR_FORMAT, "%s line %lld: nested objects or arrays are not table "
                        "cells", p->name, (long long)v->line);
    }
}

static int json_parse(parser *p, int *ncols_out, int64_t **lines_out, int64_t *nrows_out)
{
    ps_json *root = NULL;
    int64_t *lines = NULL;
    int ncols = 0;
    int rc = ps_json_parse_flags(p->s, p->len, p->name, PS_JSON_NUMBER_TEXT, &root);
    if (!rc && root->n == 0)
        rc = ps_error(PS_ERR_FORMAT, "%s: empty JSON array (no columns)", p->name);
    if (!rc && !(lines = ps_malloc_array((size_t)root->n, sizeof *lines)))
        rc = PS_ERR_NOMEM;
    for (int64_t r = 0; !rc && r < root->n; r++) {
        const ps_json *o = &root->items[r];
        if (o->type != PS_JSON_OBJECT) {
            rc = ps_error(PS_ERR_FORMAT, "%s line %lld: '{' expected (a table is an array of "
                          "objects)", p->name, (long long)o->line);
            break;
        }
        if (r == 0) { /* the header: the first object's keys */
            if (o->n == 0) {
                rc = ps_error(PS_ERR_FORMAT, "%s: the first JSON object has no keys", p->name);
                break;
            }
            ncols = (int)o->n;
            for (int c = 0; c < ncols && !rc; c++) {
                rc = start_cell(p); /* the cell starts at the text's end */
                rc = rc ? rc : put_text(p, o->keys[c]);
            }
            if (rc)
                break;
        }
        if (o->n != ncols) {
            rc = ps_error(PS_ERR_FORMAT, "%s line %lld: object has %lld keys, the first has %d",
                          p->name, (long long)o->line, (long long)o->n, ncols);
            break;
        }
        for (int c = 0; c < ncols && !rc; c++) {
            const char *key = p->text + p->offs[c];
            const ps_json *v = ps_json_get(o, key);
            if (!v) {
                rc = ps_error(PS_ERR_FORMAT, "%s line %lld: object has no key '%s'", p->name,
                              (long long)o->line, key);
                break;
            }
            rc = start_cell(p);
            rc = rc ? rc : json_cell(p, v);
        }
        lines[r] = o->line;
    }
    if (!rc) {
        *ncols_out = ncols;
        *lines_out = lines;
        *nrows_out = root->n;
    } else {
        free(lines);
    }
    ps_json_free(root);
    return rc;
}

int ps_text_check(const char *text, size_t len, const char *name, const char *rule)
{
    const unsigned char *u = (const unsigned char *)text;
    const char *what = NULL;
    if (len >= 2 && u[0] == 0x1f && u[1] == 0x8b)
        what = "gzip-compressed data (a .nii.gz image?), not text";
    else if (len >= 4 && !memcmp(text, "PK\x03\x04", 4))
        what = "a zip archive (an Excel .xlsx workbook? export it as CSV), not text";
    else if (len >= 2 && ((u[0] == 0xff && u[1] == 0xfe) || (u[0] == 0xfe && u[1] == 0xff)))
        what = "UTF-16 text (Excel's \"Unicode Text\"? save it as UTF-8 CSV)";
    else if ((len >= 348 && (!memcmp(text + 344, "n+1", 4) || !memcmp(text + 344, "ni1", 4))) ||
             (len >= 540 && (!memcmp(text + 4, "n+2", 4) || !memcmp(text + 4, "ni2", 4))))
        what = "a NIfTI image, not text";
    else if (memchr(text, '\0', len))
        what = "contains NUL bytes";
    if (!what)
        return PS_OK;
    return ps_error(PS_ERR_FORMAT, "%s: %s; %s", name ? name : "(text)", what, rule);
}

int ps_table_parse(const char *text, size_t len, const char *name, ps_table **out)
{
    *out = NULL;
    parser p = {.s = text, .len = len, .line = 1, .name = name ? name : "(table)"};
    int64_t *lines = NULL;
    size_t lines_cap = 0;
    int64_t nrows = 0;
    int rc, ncols = 0;
    ps_table *t = NULL;

    if ((rc = ps_text_check(text, len, p.name, "a table is a text (CSV, TSV or JSON) file")))
        return rc;
    if (len >= 3 && !memcmp(text, "\xEF\xBB\xBF", 3))
        p.pos = 3;
    size_t first = p.pos;
    while (first < len && text[first] && strchr(" \t\r\n", text[first]))
        first++;
    if (first < len && text[first] == '[') {
        if ((rc = json_parse(&p, &ncols, &lines, &nrows)))
            goto fail;
        p.sep = 'j';
        goto build;
    }
    if (!skip_ignorable(&p, 1)) {
        return ps_error(PS_ERR_FORMAT, "%s: no header line (the file is empty or only has "
                        "comments)", p.name);
    }
    /* Separator: a tab anywhere on the header line means TSV. */
    p.sep = ',';
    for (size_t i = p.pos; i < len && text[i] != '\n'; i++)
        if (text[i] == '\t') {
            p.sep = '\t';
            break;
        }
    if ((rc = parse_record(&p, &ncols)))
        goto fail;
    while (skip_ignorable(&p, 0)) {
        int64_t line0 = p.line;
        int n = 0;
        if ((rc = parse_record(&p, &n)))
            goto fail;
        if (n != ncols) {
            rc = ps_error(PS_ERR_FORMAT, "%s line %lld: %d cells, but the header has %d columns",
                          p.name, (long long)line0, n, ncols);
            goto fail;
        }
        if ((size_t)nrows == lines_cap) {
            lines_cap = lines_cap ? 2 * lines_cap : 64;
            int64_t *l = ps_realloc_array(lines, lines_cap, sizeof *l);
            if (!l) {
                rc = PS_ERR_NOMEM;
                goto fail;
            }
            lines = l;
        }
        lines[nrows++] = line0;
    }

build:
    rc = PS_ERR_NOMEM;
    if (!(t = ps_calloc(1, sizeof *t)))
        goto fail;
    t->ncols = ncols;
    t->nrows = nrows;
    t->sep = p.sep;
    t->text_ = p.text;
    p.text = NULL;
    t->line = lines;
    lines = NULL;
    if (!(t->colnames = ps_malloc_array((size_t)ncols, sizeof(char *))) ||
        !(t->cells = ps_malloc_array((size_t)(nrows ? nrows : 1), sizeof(char **))) ||
        !(t->cellv_ = ps_malloc_array((size_t)(nrows ? nrows : 1) * (size_t)ncols,
                                      sizeof(char *))))
        goto fail;
    if (name && !(t->path = ps_strdup(name)))
        goto fail;
    for (int c = 0; c < ncols; c++)
        t->colnames[c] = t->text_ + p.offs[c];
    for (int64_t r = 0; r < nrows; r++) {
        t->cells[r] = t->cellv_ + r * ncols;
        for (int c = 0; c < ncols; c++)
            t->cells[r][c] = t->text_ + p.offs[(size_t)(r + 1) * (size_t)ncols + (size_t)c];
    }
    for (int a = 0; a < ncols; a++)
        for (int b = a + 1; b < ncols; b++)
            if (!strcmp(t->colnames[a], t->colnames[b])) {
                rc = ps_error(PS_ERR_FORMAT, "%s: column '%s' appears twice in the header",
                              p.name, t->colnames[a]);
                goto fail;
            }
    free(p.offs);
    *out = t;
    return PS_OK;

fail:
    free(p.text);
    free(p.offs);
    free(lines);
    ps_table_free(t);
    return rc;
}

int ps_table_read(const char *path, ps_table **out)
{
    *out = NULL;
    if (!path)
        return ps_error(PS_ERR_ARG, "ps_table_read: no file name");
    const char *name = strcmp(path, "-") ? path : "(stdin)";
    char *buf;
    size_t len;
    int rc = ps_read_all(path, NULL, &buf, &len);
    if (!rc)
        rc = ps_table_parse(buf, len, name, out);
    free(buf);
    return rc;
}

int ps_table_col(const ps_table *t, const char *name)
{
    for (int c = 0; c < t->ncols; c++)
        if (!strcmp(t->colnames[c], name))
            return c;
    return -1;
}

int ps_table_require_col(const ps_table *t, const char *name, int *col)
{
    int c = ps_table_col(t, name);
    if (c >= 0) {
        *col = c;
        return PS_OK;
    }
    char list[1024];
    size_t used = 0;
    list[0] = '\0';
    for (int i = 0; i < t->ncols && used < sizeof list; i++) {
        int k = snprintf(list + used, sizeof list - used, "%s%s", i ? ", " : "", t->colnames[i]);
        if (k < 0)
            break;
        used += (size_t)k;
    }
    if (used >= sizeof list)
        memcpy(list + sizeof list - 4, "...", 4);
    return ps_error(PS_ERR_ARG, "%s: no column '%s' (columns are: %s)",
                    t->path ? t->path : "(table)", name, list);
}

int ps_table_get_double(const ps_table *t, int64_t r, int c, double *out)
{
    const char *name = t->path ? t->path : "(table)";
    if (r < 0 || r >= t->nrows || c < 0 || c >= t->ncols)
        return ps_error(PS_ERR_ARG, "%s: no cell at row %lld, column %d", name, (long long)r, c);
    const char *s = t->cells[r][c];
    const char *b = s, *e = s + strlen(s);
    while (b < e && (*b == ' ' || *b == '\t'))
        b++;
    while (e > b && (e[-1] == ' ' || e[-1] == '\t'))
        e--;
    char *end = NULL;
    double x = b < e ? strtod(b, &end) : 0.0;
    if (b == e || end != e)
        return ps_error(PS_ERR_FORMAT, "%s line %lld column '%s': '%s' is not a number", name,
                        (long long)t->line[r], t->colnames[c], s);
    *out = x; /* strtod gives +-HUGE_VAL (inf) on overflow and accepts nan/inf spellings */
    return PS_OK;
}
