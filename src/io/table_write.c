/* table_write.c - streaming writer for result tables: CSV (RFC 4180), TSV, JSON, Markdown
 * pipe tables and LaTeX booktabs tabulars.
 *
 * Conventions (also in docs/io.md):
 *   - Numbers: the shortest of %.15g, %.16g and %.17g that strtod() reads back as the same
 *     double (so 82.62 prints as 82.62, never 82.620000000000005); integral values below
 *     2^53 in magnitude print as integers ("3", not "3e+00"); -0 prints as 0.
 *   - Non-finite numbers: CSV, TSV and Markdown write nan / inf / -inf (pandas read_csv and
 *     R read.csv both read these as NaN / Inf with default options). JSON, which has no such
 *     numbers, writes NaN as null and +-inf as the strings "Inf" / "-Inf": pandas read_json
 *     (1.5) and R jsonlite fromJSON (1.8) both read such a column as numbers (NaN/NA, Inf,
 *     -Inf). LaTeX writes NaN, $\infty$, $-\infty$.
 *   - Text cells never break a record: line breaks (CR, LF) inside a cell become spaces in
 *     CSV, TSV, Markdown and LaTeX; TSV also turns tabs into spaces; JSON escapes them.
 *   - Markdown: '|' in a cell is written as '\|'. LaTeX: the specials \ & % $ # _ { } ~ ^
 *     are escaped (\textbackslash{}, \&, ..., \textasciitilde{}, \textasciicircum{}).
 */
#include "ps_io.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

struct ps_table_writer {
    FILE *f;
    ps_table_format fmt;
    int ncols;
    char **names;
    int col;      /* next cell index in the current row */
    int64_t rows; /* rows finished                        */
    int err;      /* a write failed                       */
};

int ps_table_format_parse(const char *s, ps_table_format *out)
{
    if (!strcmp(s, "csv"))
        *out = PS_TABLE_CSV;
    else if (!strcmp(s, "tsv"))
        *out = PS_TABLE_TSV;
    else if (!strcmp(s, "json"))
        *out = PS_TABLE_JSON;
    else if (!strcmp(s, "md") || !strcmp(s, "markdown"))
        *out = PS_TABLE_MD;
    else if (!strcmp(s, "tex") || !strcmp(s, "latex"))
        *out = PS_TABLE_TEX;
    else
        return ps_error(PS_ERR_ARG,
                        "unknown table format '%s' (expected csv, tsv, json, md or tex)", s);
    return PS_OK;
}

const char *ps_table_format_name(ps_table_format fmt)
{
    switch (fmt) {
    case PS_TABLE_CSV: return "csv";
    case PS_TABLE_TSV: return "tsv";
    case PS_TABLE_JSON: return "json";
    case PS_TABLE_MD: return "md";
    case PS_TABLE_TEX: return "tex";
    }
    return "?";
}

int ps_table_format_from_path(const char *path, ps_table_format *out)
{
    static const struct {
        const char *suffix;
        ps_table_format fmt;
    } known[] = {{".csv", PS_TABLE_CSV}, {".tsv", PS_TABLE_TSV}, {".json", PS_TABLE_JSON},
                 {".md", PS_TABLE_MD},   {".tex", PS_TABLE_TEX}};
    if (!path)
        return 0;
    size_t n = strlen(path);
    for (size_t i = 0; i < sizeof known / sizeof known[0]; i++) {
        size_t k = strlen(known[i].suffix);
        if (n > k && !strcmp(path + n - k, known[i].suffix) && path[n - k - 1] != '/') {
            *out = known[i].fmt;
            return 1;
        }
    }
    return 0;
}

int ps_format_double(double x, char *buf, size_t len)
{
    if (isnan(x))
        return snprintf(buf, len, "nan");
    if (isinf(x))
        return snprintf(buf, len, x > 0 ? "inf" : "-inf");
    if (x == 0)
        return snprintf(buf, len, "0"); /* also -0 */
    if (x == floor(x) && fabs(x) < 9007199254740992.0) /* 2^53: every such integer is exact */
        return snprintf(buf, len, "%.0f", x);
    char tmp[40];
    for (int prec = 15; prec <= 17; prec++) {
        snprintf(tmp, sizeof tmp, "%.*g", prec, x);
        if (prec == 17 || strtod(tmp, NULL) == x)
            break;
    }
    return snprintf(buf, len, "%s", tmp);
}

static void put_csv_text(FILE *f, const char *s)
{
    if (!strpbrk(s, ",\"\r\n")) {
        fputs(s, f);
        return;
    }
    fputc('"', f);
    for (; *s; s++) {
        if (*s == '"')
            fputc('"', f);
        fputc(*s == '\r' || *s == '\n' ? ' ' : *s, f);
    }
    fputc('"', f);
}

static void put_tsv_text(FILE *f, const char *s)
{
    /* TSV has no quoting: tabs and newlines inside a cell become spaces */
    for (; *s; s++)
        fputc(*s == '\t' || *s == '\n' || *s == '\r' ? ' ' : *s, f);
}

static void put_md_text(FILE *f, const char *s)
{
    for (; *s; s++) {
        if (*s == '|')
            fputs("\\|", f);
        else
            fputc(*s == '\n' || *s == '\r' ? ' ' : *s, f);
    }
}

static void put_tex_text(FILE *f, const char *s)
{
    for (; *s; s++) {
        switch (*s) {
        case '\\': fputs("\\textbackslash{}", f); break;
        case '~': fputs("\\textasciitilde{}", f); break;
        case '^': fputs("\\textasciicircum{}", f); break;
        case '&': case '%': case '$': case '#': case '_': case '{': case '}':
            fputc('\\', f);
            fputc(*s, f);
            break;
        case '\n': case '\r': fputc(' ', f); break;
        default: fputc(*s, f);
        }
    }
}

void ps_json_put_string(FILE *f, const char *s)
{
    fputc('"', f);
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        switch (*p) {
        case '"': fputs("\\\"", f); break;
        case '\\': fputs("\\\\", f); break;
        case '\n': fputs("\\n", f); break;
        case '\r': fputs("\\r", f); break;
        case '\t': fputs("\\t", f); break;
        default:
            if (*p < 0x20)
                fprintf(f, "\\u%04x", *p);
            else
                fputc(*p, f);
        }
    }
    fputc('"', f);
}

static void put_text(const ps_table_writer *w, const char *s)
{
    switch (w->fmt) {
    case PS_TABLE_CSV: put_csv_text(w->f, s); break;
    case PS_TABLE_TSV: put_tsv_text(w->f, s); break;
    case PS_TABLE_JSON: ps_json_put_string(w->f, s); break;
    case PS_TABLE_MD: put_md_text(w->f, s); break;
    case PS_TABLE_TEX: put_tex_text(w->f, s); break;
    }
}

int ps_table_writer_create(FILE *f, ps_table_format fmt, int ncols, const char *const *colnames,
                           ps_table_writer **out)
{
    *out = NULL;
    if (ncols <= 0)
        return ps_error(PS_ERR_ARG, "table writer: no columns");
    if ((int)fmt < PS_TABLE_CSV || (int)fmt > PS_TABLE_TEX)
        return ps_error(PS_ERR_ARG, "table writer: unknown format %d", (int)fmt);
    ps_table_writer *w = ps_calloc(1, sizeof *w);
    if (!w)
        return PS_ERR_NOMEM;
    w->names = ps_calloc((size_t)ncols, sizeof *w->names);
    if (!w->names) {
        free(w);
        return PS_ERR_NOMEM;
    }
    w->f = f;
    w->fmt = fmt;
    w->ncols = ncols;
    for (int c = 0; c < ncols; c++) {
        if (!(w->names[c] = ps_strdup(colnames[c]))) {
            for (int k = 0; k < c; k++)
                free(w->names[k]);
            free(w->names);
            free(w);
            return PS_ERR_NOMEM;
        }
    }
    switch (fmt) {
    case PS_TABLE_JSON:
        fputs("[", f);
        break;
    case PS_TABLE_CSV:
    case PS_TABLE_TSV:
        for (int c = 0; c < ncols; c++) {
            if (c)
                fputc(fmt == PS_TABLE_CSV ? ',' : '\t', f);
            put_text(w, colnames[c]);
        }
        fputc('\n', f);
        break;
    case PS_TABLE_MD:
        fputc('|', f);
        for (int c = 0; c < ncols; c++) {
            fputc(' ', f);
            put_text(w, colnames[c]);
            fputs(" |", f);
        }
        fputs("\n|", f);
        for (int c = 0; c < ncols; c++)
            fputs(" --- |", f);
        fputc('\n', f);
        break;
    case PS_TABLE_TEX:
        fputs("\\begin{tabular}{", f);
        for (int c = 0; c < ncols; c++)
            fputc('l', f);
        fputs("}\n\\toprule\n", f);
        for (int c = 0; c < ncols; c++) {
            if (c)
                fputs(" & ", f);
            put_text(w, colnames[c]);
        }
        fputs(" \\\\\n\\midrule\n", f);
        break;
    }
    *out = w;
    return PS_OK;
}

/* Start the next cell: separator, and for JSON the key. */
static int begin_cell(ps_table_writer *w)
{
    if (w->col >= w->ncols)
        return ps_error(PS_ERR_INTERNAL, "table writer: row has more than %d cells", w->ncols);
    FILE *f = w->f;
    switch (w->fmt) {
    case PS_TABLE_JSON:
        if (w->col == 0)
            fputs(w->rows ? ",\n{" : "\n{", f);
        else
            fputs(", ", f);
        ps_json_put_string(f, w->names[w->col]);
        fputs(": ", f);
        break;
    case PS_TABLE_CSV:
        if (w->col)
            fputc(',', f);
        break;
    case PS_TABLE_TSV:
        if (w->col)
            fputc('\t', f);
        break;
    case PS_TABLE_MD:
        fputs(w->col ? " | " : "| ", f);
        break;
    case PS_TABLE_TEX:
        if (w->col)
            fputs(" & ", f);
        break;
    }
    w->col++;
    return PS_OK;
}

int ps_table_writer_str(ps_table_writer *w, const char *s)
{
    int rc = begin_cell(w);
    if (rc)
        return rc;
    put_text(w, s ? s : "");
    return PS_OK;
}

int ps_table_writer_num(ps_table_writer *w, double x)
{
    int rc = begin_cell(w);
    if (rc)
        return rc;
    if (isfinite(x) || (w->fmt != PS_TABLE_JSON && w->fmt != PS_TABLE_TEX)) {
        char buf[40];
        ps_format_double(x, buf, sizeof buf);
        fputs(buf, w->f);
    } else if (w->fmt == PS_TABLE_JSON) {
        fputs(isnan(x) ? "null" : x > 0 ? "\"Inf\"" : "\"-Inf\"", w->f);
    } else {
        fputs(isnan(x) ? "NaN" : x > 0 ? "$\\infty$" : "$-\\infty$", w->f);
    }
    return PS_OK;
}

int ps_table_writer_int(ps_table_writer *w, int64_t x)
{
    int rc = begin_cell(w);
    if (rc)
        return rc;
    fprintf(w->f, "%lld", (long long)x);
    return PS_OK;
}

int ps_table_writer_null(ps_table_writer *w)
{
    int rc = begin_cell(w);
    if (rc)
        return rc;
    if (w->fmt == PS_TABLE_JSON)
        fputs("null", w->f);
    return PS_OK;
}

int ps_table_writer_end_row(ps_table_writer *w)
{
    if (w->col != w->ncols)
        return ps_error(PS_ERR_INTERNAL, "table writer: row has %d cells, header has %d", w->col,
                        w->ncols);
    switch (w->fmt) {
    case PS_TABLE_JSON: fputc('}', w->f); break;
    case PS_TABLE_MD: fputs(" |\n", w->f); break;
    case PS_TABLE_TEX: fputs(" \\\\\n", w->f); break;
    default: fputc('\n', w->f);
    }
    w->col = 0;
    w->rows++;
    if (ferror(w->f))
        w->err = 1;
    return w->err ? ps_error(PS_ERR_IO, "error writing table") : PS_OK;
}

int ps_table_writer_flush(ps_table_writer *w)
{
    if (fflush(w->f) || ferror(w->f))
        w->err = 1;
    return w->err ? ps_error(PS_ERR_IO, "error writing table") : PS_OK;
}

int64_t ps_table_writer_rows(const ps_table_writer *w)
{
    return w ? w->rows : 0;
}

int ps_table_writer_finish(ps_table_writer *w)
{
    if (!w)
        return PS_OK;
    int rc = PS_OK;
    if (w->col)
        rc = ps_error(PS_ERR_INTERNAL, "table writer: unfinished row");
    if (w->fmt == PS_TABLE_JSON)
        fputs(w->rows ? "\n]\n" : "]\n", w->f);
    else if (w->fmt == PS_TABLE_TEX)
        fputs("\\bottomrule\n\\end{tabular}\n", w->f);
    if (!rc && ferror(w->f))
        rc = ps_error(PS_ERR_IO, "error writing table");
    for (int c = 0; c < w->ncols; c++)
        free(w->names[c]);
    free(w->names);
    free(w);
    return rc;
}
