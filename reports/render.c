/* render.c - write a ps_report as aligned text, Markdown, CSV/TSV or JSON. */
#include "ps_reports.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

int ps_report_format_parse(const char *s, ps_report_format *out)
{
    static const struct { const char *name; ps_report_format f; } names[] = {
        {"text", PS_REPORT_TEXT}, {"md", PS_REPORT_MARKDOWN}, {"markdown", PS_REPORT_MARKDOWN},
        {"csv", PS_REPORT_CSV},   {"tsv", PS_REPORT_TSV},     {"json", PS_REPORT_JSON},
    };
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++)
        if (!strcmp(s, names[i].name)) {
            *out = names[i].f;
            return PS_OK;
        }
    return ps_error(PS_ERR_ARG, "unknown report format '%s' (text, md, csv, tsv or json)", s);
}

static int is_fraction_metric(const char *name)
{
    return !strncmp(name, "dice", 4) || !strncmp(name, "jaccard", 7) || !strncmp(name, "nsd", 3);
}

/* "mean ± sd" with the number of left-out values, e.g. "88.3 ± 7.2" or "4.10 ± 2.03 [1 nan]". */
static void format_metric_cell(const ps_report *r, const ps_report_group *g, int m, int percent,
                               char *buf, size_t n)
{
    const ps_stats_summary *s = &g->metric[m];
    double scale = percent && is_fraction_metric(r->metric_names[m]) ? 100.0 : 1.0;
    int digits = scale == 100.0 ? 1 : 2;
    int len;
    if (s->n == 0)
        len = snprintf(buf, n, "-");
    else if (s->n == 1)
        len = snprintf(buf, n, "%.*f", digits, s->mean * scale);
    else
        len = snprintf(buf, n, "%.*f \xc2\xb1 %.*f", digits, s->mean * scale, digits, s->sd * scale);
    if (len < 0 || (size_t)len >= n)
        return;
    if (g->n_missing[m] && g->n_inf[m])
        snprintf(buf + len, n - (size_t)len, " [%lld nan, %lld inf]", (long long)g->n_missing[m],
                 (long long)g->n_inf[m]);
    else if (g->n_missing[m])
        snprintf(buf + len, n - (size_t)len, " [%lld nan]", (long long)g->n_missing[m]);
    else if (g->n_inf[m])
        snprintf(buf + len, n - (size_t)len, " [%lld inf]", (long long)g->n_inf[m]);
}

/* Display width of UTF-8 text (each code point counts one column). */
static int text_width(const char *s)
{
    int w = 0;
    for (; *s; s++)
        w += ((unsigned char)*s & 0xC0) != 0x80;
    return w;
}

static int write_grid(const ps_report *r, FILE *f, int markdown, int percent)
{
    int ncols = r->nkeys + 1 + PS_REPORT_NSTATUS + r->nmetrics;
    int nrows = r->ngroups + 1;
    char **cell = ps_calloc((size_t)ncols * (size_t)nrows, sizeof *cell);
    int *width = ps_calloc((size_t)ncols, sizeof *width);
    int rc = PS_OK;
    if (!cell || !width) {
        free(cell);
        free(width);
        return PS_ERR_NOMEM;
    }
#define CELL(row, col) cell[(size_t)(row) * (size_t)ncols + (size_t)(col)]
    int c = 0;
    for (int k = 0; k < r->nkeys; k++)
        CELL(0, c++) = ps_strdup(r->key_names[k]);
    CELL(0, c++) = ps_strdup("rows");
    for (int s = 0; s < PS_REPORT_NSTATUS; s++)
        CELL(0, c++) = ps_strdup(ps_report_status_names[s]);
    for (int m = 0; m < r->nmetrics; m++)
        CELL(0, c++) = percent && is_fraction_metric(r->metric_names[m])
                           ? ps_asprintf("%s (%%)", r->metric_names[m])
                           : ps_strdup(r->metric_names[m]);
    for (int g = 0; g < r->ngroups; g++) {
        const ps_report_group *gr = &r->groups[g];
        c = 0;
        for (int k = 0; k < r->nkeys; k++)
            CELL(g + 1, c++) = ps_strdup(gr->keys[k][0] ? gr->keys[k] : "-");
        CELL(g + 1, c++) = ps_asprintf("%lld", (long long)gr->nrows);
        for (int s = 0; s < PS_REPORT_NSTATUS; s++)
            CELL(g + 1, c++) = ps_asprintf("%lld", (long long)gr->status_count[s]);
        for (int m = 0; m < r->nmetrics; m++) {
            char buf[128];
            format_metric_cell(r, gr, m, percent, buf, sizeof buf);
            CELL(g + 1, c++) = ps_strdup(buf);
        }
    }
    for (size_t i = 0; i < (size_t)ncols * (size_t)nrows; i++)
        if (!cell[i]) {
            rc = PS_ERR_NOMEM;
            goto done;
        }
    for (int row = 0; row < nrows; row++)
        for (c = 0; c < ncols; c++) {
            int w = text_width(CELL(row, c));
            if (w > width[c])
                width[c] = w;
        }
    for (int row = 0; row < nrows; row++) {
        if (markdown)
            fputs("| ", f);
        for (c = 0; c < ncols; c++) {
            const char *s = CELL(row, c);
            int pad = width[c] - text_width(s);
            int right = c >= r->nkeys; /* numbers right-aligned */
            if (right)
                fprintf(f, "%*s", pad, "");
            fputs(s, f);
            if (!right && (c + 1 < ncols || markdown))
                fprintf(f, "%*s", pad, "");
            if (c + 1 < ncols)
                fputs(markdown ? " | " : "  ", f);
        }
        fputs(markdown ? " |\n" : "\n", f);
        if (markdown && row == 0) {
            fputs("|", f);
            for (c = 0; c < ncols; c++) {
                /* width + 2 characters under " cell ": a colon marks the alignment side */
                int right = c >= r->nkeys;
                fputc(right ? '-' : ':', f);
                for (int i = 0; i < width[c]; i++)
                    fputc('-', f);
                fputs(right ? ":|" : "-|", f);
            }
            fputc('\n', f);
        }
    }
    if (!markdown) {
        fputs("\nMetrics: mean \xc2\xb1 SD over the finite values; [k nan] / [k inf] count the "
              "values left out\n(empty masks, see the status columns). Rows with status=error "
              "enter no metric.\n", f);
    }
    if (ferror(f))
        rc = ps_error(PS_ERR_IO, "error writing the report");
done:
    for (size_t i = 0; i < (size_t)ncols * (size_t)nrows; i++)
        free(cell[i]);
    free(cell);
    free(width);
#undef CELL
    return rc;
}

static const char *const stat_suffix[] = {"n",      "missing", "inf", "mean",   "sd",
                                          "median", "q1",      "q3",  "min",    "max",
                                          "ci_low", "ci_high"};
#define NSTAT ((int)(sizeof stat_suffix / sizeof stat_suffix[0]))

static int write_table(const ps_report *r, FILE *f, ps_table_format fmt)
{
    int ncols = r->nkeys + 1 + PS_REPORT_NSTATUS + NSTAT * r->nmetrics;
    char **names = ps_calloc((size_t)ncols, sizeof *names);
    if (!names)
        return PS_ERR_NOMEM;
    int c = 0, rc = PS_OK;
    for (int k = 0; k < r->nkeys; k++)
        names[c++] = ps_strdup(r->key_names[k]);
    names[c++] = ps_strdup("n_rows");
    for (int s = 0; s < PS_REPORT_NSTATUS; s++)
        names[c++] = ps_asprintf("n_%s", ps_report_status_names[s]);
    for (int m = 0; m < r->nmetrics; m++)
        for (int s = 0; s < NSTAT; s++)
            names[c++] = ps_asprintf("%s_%s", r->metric_names[m], stat_suffix[s]);
    for (c = 0; c < ncols; c++)
        if (!names[c])
            rc = PS_ERR_NOMEM;
    ps_table_writer *w = NULL;
    if (!rc)
        rc = ps_table_writer_create(f, fmt, ncols, (const char *const *)names, &w);
    for (int g = 0; g < r->ngroups && !rc; g++) {
        const ps_report_group *gr = &r->groups[g];
        for (int k = 0; k < r->nkeys; k++)
            ps_table_writer_str(w, gr->keys[k]);
        ps_table_writer_int(w, gr->nrows);
        for (int s = 0; s < PS_REPORT_NSTATUS; s++)
            ps_table_writer_int(w, gr->status_count[s]);
        for (int m = 0; m < r->nmetrics; m++) {
            const ps_stats_summary *su = &gr->metric[m];
            ps_table_writer_int(w, su->n);
            ps_table_writer_int(w, gr->n_missing[m]);
            ps_table_writer_int(w, gr->n_inf[m]);
            const double v[] = {su->mean, su->sd, su->median, su->q1,
                                su->q3,   su->min, su->max,   su->ci_low, su->ci_high};
            for (size_t i = 0; i < sizeof v / sizeof v[0]; i++)
                ps_table_writer_num(w, v[i]);
        }
        rc = ps_table_writer_end_row(w);
    }
    if (w) {
        int rc2 = ps_table_writer_finish(w);
        if (!rc)
            rc = rc2;
    }
    for (c = 0; c < ncols; c++)
        free(names[c]);
    free(names);
    return rc;
}

int ps_report_write(const ps_report *r, FILE *f, ps_report_format fmt, int percent)
{
    switch (fmt) {
    case PS_REPORT_TEXT: return write_grid(r, f, 0, percent);
    case PS_REPORT_MARKDOWN: return write_grid(r, f, 1, percent);
    case PS_REPORT_CSV: return write_table(r, f, PS_FMT_CSV);
    case PS_REPORT_TSV: return write_table(r, f, PS_FMT_TSV);
    case PS_REPORT_JSON: return write_table(r, f, PS_FMT_JSON);
    }
    return ps_error(PS_ERR_ARG, "unknown report format");
}
