/* table_write.c - streaming writer for result tables: CSV (RFC 4180), TSV, JSON.
 *
 * Numbers use %.17g so that every double survives a round trip exactly. Non-finite values are
 * written as nan / inf / -inf in CSV and TSV (pandas, R's read.csv and numpy read them), and
 * as null (NaN) or the strings "inf" / "-inf" in JSON, which has no such numbers.
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
        *out = PS_FMT_CSV;
    else if (!strcmp(s, "tsv"))
        *out = PS_FMT_TSV;
    else if (!strcmp(s, "json"))
        *out = PS_FMT_JSON;
    else
        return ps_error(PS_ERR_ARG, "unknown table format '%s' (expected csv, tsv or json)", s);
    return PS_OK;
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
        fputc(*s, f);
    }
    fputc('"', f);
}

static void put_tsv_text(FILE *f, const char *s)
{
    /* TSV has no quoting: tabs and newlines inside a cell become spaces */
    for (; *s; s++)
        fputc(*s == '\t' || *s == '\n' || *s == '\r' ? ' ' : *s, f);
}

static void put_json_string(FILE *f, const char *s)
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

int ps_table_writer_create(FILE *f, ps_table_format fmt, int ncols, const char *const *colnames,
                           ps_table_writer **out)
{
    *out = NULL;
    if (ncols <= 0)
        return ps_error(PS_ERR_ARG, "table writer: no columns");
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
    if (fmt == PS_FMT_JSON) {
        fputs("[", f);
    } else {
        for (int c = 0; c < ncols; c++) {
            if (c)
                fputc(fmt == PS_FMT_CSV ? ',' : '\t', f);
            if (fmt == PS_FMT_CSV)
                put_csv_text(f, colnames[c]);
            else
                put_tsv_text(f, colnames[c]);
        }
        fputc('\n', f);
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
    if (w->fmt == PS_FMT_JSON) {
        if (w->col == 0)
            fputs(w->rows ? ",\n{" : "\n{", f);
        else
            fputs(", ", f);
        put_json_string(f, w->names[w->col]);
        fputs(": ", f);
    } else if (w->col) {
        fputc(w->fmt == PS_FMT_CSV ? ',' : '\t', f);
    }
    w->col++;
    return PS_OK;
}

int ps_table_writer_str(ps_table_writer *w, const char *s)
{
    int rc = begin_cell(w);
    if (rc)
        return rc;
    if (!s)
        s = "";
    if (w->fmt == PS_FMT_JSON)
        put_json_string(w->f, s);
    else if (w->fmt == PS_FMT_CSV)
        put_csv_text(w->f, s);
    else
        put_tsv_text(w->f, s);
    return PS_OK;
}

int ps_table_writer_num(ps_table_writer *w, double x)
{
    int rc = begin_cell(w);
    if (rc)
        return rc;
    if (isnan(x))
        fputs(w->fmt == PS_FMT_JSON ? "null" : "nan", w->f);
    else if (isinf(x))
        fputs(w->fmt == PS_FMT_JSON ? (x > 0 ? "\"inf\"" : "\"-inf\"") : (x > 0 ? "inf" : "-inf"),
              w->f);
    else
        fprintf(w->f, "%.17g", x == 0 ? 0.0 : x); /* no "-0" */
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
    if (w->fmt == PS_FMT_JSON)
        fputs("null", w->f);
    return PS_OK;
}

int ps_table_writer_end_row(ps_table_writer *w)
{
    if (w->col != w->ncols)
        return ps_error(PS_ERR_INTERNAL, "table writer: row has %d cells, header has %d", w->col,
                        w->ncols);
    fputs(w->fmt == PS_FMT_JSON ? "}" : "\n", w->f);
    w->col = 0;
    w->rows++;
    if (ferror(w->f))
        w->err = 1;
    return w->err ? ps_error(PS_ERR_IO, "error writing table") : PS_OK;
}

int ps_table_writer_finish(ps_table_writer *w)
{
    if (!w)
        return PS_OK;
    int rc = PS_OK;
    if (w->col)
        rc = ps_error(PS_ERR_INTERNAL, "table writer: unfinished row");
    if (w->fmt == PS_FMT_JSON)
        fputs(w->rows ? "\n]\n" : "]\n", w->f);
    if (!rc && ferror(w->f))
        rc = ps_error(PS_ERR_IO, "error writing table");
    for (int c = 0; c < w->ncols; c++)
        free(w->names[c]);
    free(w->names);
    free(w);
    return rc;
}
