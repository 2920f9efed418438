/* document.c - report documents: one list of sections, tables, plots and figures, rendered as
 * a self-contained HTML page, as Markdown, or as LaTeX with booktabs tables.
 *
 * Tables are rendered when they are added, from the ps_table of the CSV file that was
 * written, through column templates ({name} = the cell as it is, {name:D} = the cell read
 * as a number and shown with D decimals by ps_report_fmt). So a table in any of the three
 * formats shows the rounding of exactly the number in the CSV; the HTML keeps the CSV text
 * beside it (<span data-c="name" data-v="...">) for checks and for readers who want all
 * digits (it is shown as the tooltip).
 *
 * HTML: inline CSS, inline SVG, PNG figures as data URIs (RFC 2397); no script, no font, no
 * network and no other file. A table of contents links the sections; table rows have ids
 * so figures can link to them (":target" highlights the row); @media print removes the
 * scroll boxes and keeps figures and table rows from breaking across pages.
 */
#include "ps_reports.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

typedef enum item_kind { IT_SECTION, IT_PARA, IT_TABLE, IT_SVG, IT_PNG } item_kind;

typedef struct doc_item {
    item_kind kind;
    char *id, *title, *text;         /* section id/title; paragraph text; SVG text; caption   */
    char *note, *source, *href;
    /* tables */
    int ncols, nrows, scroll;
    char **headers;
    int *numeric;
    char **html, **plain;            /* nrows * ncols cells                                   */
    char **anchor;                   /* nrows row ids, or NULL                                */
    /* figures */
    char *b64;
    int width, height;
} doc_item;

struct ps_doc {
    char *title;
    int nitems, cap;
    doc_item *items;
};

/* ---- a small growable string ------------------------------------------------------------------ */
typedef struct sbuf {
    char *s;
    size_t len, cap;
    int nomem;
} sbuf;

static void sb_putn(sbuf *b, const char *s, size_t n)
{
    if (b->nomem)
        return;
    if (b->len + n + 1 > b->cap) {
        size_t cap = b->cap ? b->cap : 64;
        while (cap < b->len + n + 1)
            cap *= 2;
        char *p = realloc(b->s, cap);
        if (!p) {
            b->nomem = 1;
            return;
        }
        b->s = p;
        b->cap = cap;
    }
    memcpy(b->s + b->len, s, n);
    b->len += n;
    b->s[b->len] = 0;
}

static void sb_puts(sbuf *b, const char *s) { sb_putn(b, s, strlen(s)); }

static void sb_html(sbuf *b, const char *s)
{
    for (; *s; s++) {
        switch (*s) {
        case '&': sb_puts(b, "&amp;"); break;
        case '<': sb_puts(b, "&lt;"); break;
        case '>': sb_puts(b, "&gt;"); break;
        case '"': sb_puts(b, "&quot;"); break;
        default: sb_putn(b, s, 1);
        }
    }
}

/* Take the string out of b (an empty string when nothing was written); NULL on no memory. */
static char *sb_take(sbuf *b)
{
    if (b->nomem) {
        free(b->s);
        ps_error(PS_ERR_NOMEM, "out of memory rendering a report");
        return NULL;
    }
    if (!b->s)
        return ps_strdup("");
    return b->s;
}

/* ---- document --------------------------------------------------------------------------------- */
int ps_doc_create(const char *title, ps_doc **out)
{
    ps_doc *d = ps_calloc(1, sizeof *d);
    if (!d || !(d->title = ps_strdup(title ? title : "Report"))) {
        free(d);
        return PS_ERR_NOMEM;
    }
    *out = d;
    return PS_OK;
}

static void item_free(doc_item *it)
{
    free(it->id);
    free(it->title);
    free(it->text);
    free(it->note);
    free(it->source);
    free(it->href);
    free(it->b64);
    for (int c = 0; it->headers && c < it->ncols; c++)
        free(it->headers[c]);
    free(it->headers);
    free(it->numeric);
    size_t ncell = (size_t)it->nrows * (size_t)it->ncols;
    for (size_t i = 0; i < ncell; i++) {
        if (it->html)
            free(it->html[i]);
        if (it->plain)
            free(it->plain[i]);
    }
    free(it->html);
    free(it->plain);
    for (int r = 0; it->anchor && r < it->nrows; r++)
        free(it->anchor[r]);
    free(it->anchor);
}

void ps_doc_free(ps_doc *d)
{
    if (!d)
        return;
    for (int i = 0; i < d->nitems; i++)
        item_free(&d->items[i]);
    free(d->items);
    free(d->title);
    free(d);
}

static doc_item *push_item(ps_doc *d, item_kind kind)
{
    if (d->nitems == d->cap) {
        int cap = d->cap ? d->cap * 2 : 16;
        doc_item *p = ps_realloc_array(d->items, (size_t)cap, sizeof *p);
        if (!p)
            return NULL;
        d->items = p;
        d->cap = cap;
    }
    doc_item *it = &d->items[d->nitems++];
    memset(it, 0, sizeof *it);
    it->kind = kind;
    return it;
}

static int valid_id(const char *id)
{
    if (!id || !*id)
        return 0;
    for (; *id; id++)
        if (!((*id >= 'a' && *id <= 'z') || (*id >= 'A' && *id <= 'Z') ||
              (*id >= '0' && *id <= '9') || *id == '-' || *id == '_'))
            return 0;
    return 1;
}

int ps_doc_section(ps_doc *d, const char *id, const char *title)
{
    if (!valid_id(id))
        return ps_error(PS_ERR_ARG, "report section id '%s': use letters, digits, '-' and '_'",
                        id ? id : "");
    doc_item *it = push_item(d, IT_SECTION);
    if (!it)
        return PS_ERR_NOMEM;
    it->id = ps_strdup(id);
    it->title = ps_strdup(title ? title : id);
    return it->id && it->title ? PS_OK : PS_ERR_NOMEM;
}

int ps_doc_paragraph(ps_doc *d, const char *text)
{
    doc_item *it = push_item(d, IT_PARA);
    if (!it)
        return PS_ERR_NOMEM;
    it->text = ps_strdup(text ? text : "");
    return it->text ? PS_OK : PS_ERR_NOMEM;
}

int ps_doc_add_svg(ps_doc *d, const char *svg, const char *caption)
{
    doc_item *it = push_item(d, IT_SVG);
    if (!it)
        return PS_ERR_NOMEM;
    it->text = ps_strdup(svg ? svg : "");
    it->title = ps_strdup(caption ? caption : "");
    return it->text && it->title ? PS_OK : PS_ERR_NOMEM;
}

int ps_doc_add_png(ps_doc *d, const void *png, size_t len, int width_px, int height_px,
                   const char *caption, const char *href)
{
    doc_item *it = push_item(d, IT_PNG);
    if (!it)
        return PS_ERR_NOMEM;
    it->b64 = ps_base64_encode(png, len);
    it->title = ps_strdup(caption ? caption : "");
    it->href = href ? ps_strdup(href) : NULL;
    it->width = width_px;
    it->height = height_px;
    return it->b64 && it->title && (!href || it->href) ? PS_OK : PS_ERR_NOMEM;
}

char *ps_doc_anchor(const char *table_id, const char *key)
{
    char *a = ps_asprintf("%s-%s", table_id, key);
    if (!a)
        return NULL;
    for (char *p = a; *p; p++)
        if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') ||
              *p == '-' || *p == '_'))
            *p = '_';
    return a;
}

/* ---- tables ------------------------------------------------------------------------------------ */
/* Expand template `tpl` for row r into html and plain text. */
static int expand(const ps_table *t, int64_t r, const char *tpl, sbuf *html, sbuf *plain)
{
    const char *p = tpl;
    while (*p) {
        const char *open = strchr(p, '{');
        if (!open)
            open = p + strlen(p);
        for (; p < open; p++) { /* literal text before the placeholder; "\n": a line break */
            char lit[2] = {*p, 0};
            if (*p == '\n') {
                sb_puts(html, "<br>");
                sb_puts(plain, "\n");
            } else {
                sb_html(html, lit);
                sb_puts(plain, lit);
            }
        }
        if (!*open)
            break;
        const char *close = strchr(open, '}');
        if (!close)
            return ps_error(PS_ERR_ARG, "report table template '%s': '{' without '}'", tpl);
        char name[256];
        size_t len = (size_t)(close - open - 1);
        if (len == 0 || len >= sizeof name)
            return ps_error(PS_ERR_ARG, "report table template '%s': bad placeholder", tpl);
        memcpy(name, open + 1, len);
        name[len] = 0;
        int decimals = -1;
        char *colon = strchr(name, ':');
        if (colon) {
            *colon = 0;
            char *end;
            long dd = strtol(colon + 1, &end, 10);
            if (*end || dd < 0 || dd > 9)
                return ps_error(PS_ERR_ARG, "report table template '%s': decimals must be 0..9",
                                tpl);
            decimals = (int)dd;
        }
        int c = ps_table_col(t, name);
        if (c < 0)
            return ps_error(PS_ERR_ARG, "report table template '%s': %s has no column '%s'", tpl,
                            t->path ? t->path : "the table", name);
        const char *cell = t->cells[r][c];
        if (decimals < 0) {
            sb_html(html, cell);
            sb_puts(plain, cell);
        } else if (!*cell) {
            sb_puts(html, "-");
            sb_puts(plain, "-");
        } else {
            double x;
            int rc = ps_table_get_double(t, r, c, &x);
            if (rc)
                return rc;
            char buf[64];
            ps_report_fmt(x, decimals, buf, sizeof buf);
            sb_puts(html, "<span data-c=\"");
            sb_html(html, name);
            sb_puts(html, "\" data-v=\"");
            sb_html(html, cell);
            sb_puts(html, "\" title=\"");
            sb_html(html, cell);
            sb_puts(html, "\">");
            sb_puts(html, buf);
            sb_puts(html, "</span>");
            sb_puts(plain, buf);
        }
        p = close + 1;
    }
    return PS_OK;
}

int ps_doc_add_table(ps_doc *d, const ps_doc_table *spec, const ps_table *t)
{
    if (!valid_id(spec->id))
        return ps_error(PS_ERR_ARG, "report table id '%s': use letters, digits, '-' and '_'",
                        spec->id ? spec->id : "");
    int ncols = spec->ncols > 0 ? spec->ncols : t->ncols;
    if (t->nrows > INT32_MAX / (ncols ? ncols : 1))
        return ps_error(PS_ERR_RANGE, "report table %s: too many rows", spec->id);
    doc_item *it = push_item(d, IT_TABLE);
    if (!it)
        return PS_ERR_NOMEM;
    it->id = ps_strdup(spec->id);
    it->title = ps_strdup(spec->caption ? spec->caption : "");
    it->note = spec->note ? ps_strdup(spec->note) : NULL;
    it->source = spec->source ? ps_strdup(spec->source) : NULL;
    it->scroll = spec->scroll;
    it->ncols = ncols;
    it->nrows = (int)t->nrows;
    it->headers = ps_calloc((size_t)ncols, sizeof *it->headers);
    it->numeric = ps_calloc((size_t)ncols, sizeof *it->numeric);
    size_t ncell = (size_t)it->nrows * (size_t)ncols;
    it->html = ps_calloc(ncell ? ncell : 1, sizeof *it->html);
    it->plain = ps_calloc(ncell ? ncell : 1, sizeof *it->plain);
    if (spec->row_key)
        it->anchor = ps_calloc(it->nrows ? (size_t)it->nrows : 1, sizeof *it->anchor);
    if (!it->id || !it->title || (spec->note && !it->note) || (spec->source && !it->source) ||
        !it->headers || !it->numeric || !it->html || !it->plain || (spec->row_key && !it->anchor)) {
        item_free(it);
        d->nitems--;
        return PS_ERR_NOMEM;
    }
    /* templates: the spec's, or one verbatim column per source column */
    char **tpl = ps_calloc((size_t)ncols, sizeof *tpl);
    int rc = tpl ? PS_OK : PS_ERR_NOMEM;
    for (int c = 0; c < ncols && !rc; c++) {
        if (spec->ncols > 0) {
            it->headers[c] = ps_strdup(spec->cols[c].header);
            tpl[c] = ps_strdup(spec->cols[c].cell);
            it->numeric[c] = spec->cols[c].numeric;
        } else {
            it->headers[c] = ps_strdup(t->colnames[c]);
            tpl[c] = ps_asprintf("{%s}", t->colnames[c]);
        }
        if (!it->headers[c] || !tpl[c])
            rc = PS_ERR_NOMEM;
    }
    for (int r = 0; r < it->nrows && !rc; r++) {
        for (int c = 0; c < ncols && !rc; c++) {
            sbuf h = {0}, p = {0};
            rc = expand(t, r, tpl[c], &h, &p);
            if (!rc) {
                it->html[(size_t)r * ncols + c] = sb_take(&h);
                it->plain[(size_t)r * ncols + c] = sb_take(&p);
                if (!it->html[(size_t)r * ncols + c] || !it->plain[(size_t)r * ncols + c])
                    rc = PS_ERR_NOMEM;
            } else {
                free(h.s);
                free(p.s);
            }
        }
        if (!rc && spec->row_key) {
            sbuf h = {0}, p = {0};
            rc = expand(t, r, spec->row_key, &h, &p);
            free(h.s);
            if (!rc) {
                char *key = sb_take(&p);
                it->anchor[r] = key ? ps_doc_anchor(spec->id, key) : NULL;
                free(key);
                if (!it->anchor[r])
                    rc = PS_ERR_NOMEM;
            } else {
                free(p.s);
            }
        }
    }
    for (int c = 0; tpl && c < ncols; c++)
        free(tpl[c]);
    free(tpl);
    if (rc) { /* no half-rendered table stays in the document */
        item_free(it);
        d->nitems--;
        return ps_error_context(rc, "report table %s", spec->id);
    }
    return PS_OK;
}

/* ---- HTML -------------------------------------------------------------------------------------- */
static const char html_css[] =
    "body{font-family:Helvetica,Arial,sans-serif;margin:0 auto;max-width:1100px;padding:0 24px 48px;"
    "color:#222;line-height:1.4}\n"
    "h1{margin-top:24px}h2{border-bottom:1px solid #ccc;padding-bottom:4px;margin-top:36px}\n"
    "nav.toc ol{columns:2;padding-left:20px}\n"
    "table.data{border-collapse:collapse;font-size:13px;margin:8px 0}\n"
    "table.data caption{caption-side:top;text-align:left;font-weight:bold;padding:4px 0}\n"
    "table.data th,table.data td{padding:3px 8px;border-bottom:1px solid #e2e2e2;white-space:nowrap}\n"
    "table.data thead th{border-bottom:2px solid #555;text-align:left;background:#f4f4f4;"
    "white-space:normal;vertical-align:bottom}\n"
    "table.data td.num,table.data th.num{text-align:right;font-variant-numeric:tabular-nums}\n"
    "table.data tr:target{background:#fff1a8}\n"
    ".scroll{max-height:480px;overflow:auto;border:1px solid #ddd}\n"
    ".scroll thead th{position:sticky;top:0}\n"
    ".wide{overflow-x:auto}\n"
    "p.note{font-size:12px;color:#444;margin:4px 0 2px}p.source{font-size:12px;color:#777;margin:0 0 12px}\n"
    "figure{margin:12px 0}figure.plot svg{max-width:100%;height:auto;display:block}\n"
    "figcaption{font-size:12px;color:#444;margin-top:4px}\n"
    ".figures{display:flex;flex-wrap:wrap;gap:12px}\n"
    "figure.slice{margin:0;width:min-content}figure.slice img{display:block;border:1px solid #999;"
    "image-rendering:pixelated}\n"
    "figure.slice figcaption{width:100%;min-width:200px}\n"
    ".key span{display:inline-block;width:14px;height:4px;vertical-align:middle;margin:0 4px 0 10px}\n"
    "@media print{body{max-width:none;padding:0;font-size:10pt}.scroll,.wide{max-height:none;"
    "overflow:visible;border:0}figure,tr{break-inside:avoid}h2{break-after:avoid}"
    "a{color:inherit;text-decoration:none}nav.toc{break-after:page}}\n";

static void write_html(const ps_doc *d, FILE *f)
{
    fputs("<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n"
          "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n<title>",
          f);
    sbuf b = {0};
    sb_html(&b, d->title);
    if (b.s)
        fputs(b.s, f);
    fputs("</title>\n<style>\n", f);
    fputs(html_css, f);
    fputs("</style>\n</head>\n<body>\n<h1>", f);
    if (b.s)
        fputs(b.s, f);
    fputs("</h1>\n", f);
    free(b.s);
    /* table of contents */
    fputs("<nav class=\"toc\"><h2>Contents</h2><ol>\n", f);
    for (int i = 0; i < d->nitems; i++)
        if (d->items[i].kind == IT_SECTION) {
            sbuf t = {0};
            sb_html(&t, d->items[i].title);
            fprintf(f, "<li><a href=\"#%s\">%s</a></li>\n", d->items[i].id, t.s ? t.s : "");
            free(t.s);
        }
    fputs("</ol></nav>\n", f);
    int open_section = 0, open_figs = 0;
    for (int i = 0; i < d->nitems; i++) {
        const doc_item *it = &d->items[i];
        if (open_figs && it->kind != IT_PNG) {
            fputs("</div>\n", f);
            open_figs = 0;
        }
        sbuf t = {0};
        sb_html(&t, it->title ? it->title : "");
        const char *title = t.s ? t.s : "";
        switch (it->kind) {
        case IT_SECTION:
            if (open_section)
                fputs("</section>\n", f);
            fprintf(f, "<section id=\"%s\">\n<h2>%s</h2>\n", it->id, title);
            open_section = 1;
            break;
        case IT_PARA: {
            sbuf p = {0};
            sb_html(&p, it->text);
            fprintf(f, "<p>%s</p>\n", p.s ? p.s : "");
            free(p.s);
            break;
        }
        case IT_TABLE:
            fprintf(f, "<div class=\"%s\">\n<table class=\"data\" id=\"%s\">\n", it->scroll ? "scroll" : "wide",
                    it->id);
            if (*title)
                fprintf(f, "<caption>%s</caption>\n", title);
            fputs("<thead><tr>", f);
            for (int c = 0; c < it->ncols; c++) {
                sbuf h = {0};
                sb_html(&h, it->headers[c]);
                fprintf(f, "<th%s>%s</th>", it->numeric[c] ? " class=\"num\"" : "", h.s ? h.s : "");
                free(h.s);
            }
            fputs("</tr></thead>\n<tbody>\n", f);
            for (int r = 0; r < it->nrows; r++) {
                if (it->anchor)
                    fprintf(f, "<tr id=\"%s\" data-r=\"%d\">", it->anchor[r], r);
                else
                    fprintf(f, "<tr data-r=\"%d\">", r);
                for (int c = 0; c < it->ncols; c++)
                    fprintf(f, "<td%s>%s</td>", it->numeric[c] ? " class=\"num\"" : "",
                            it->html[(size_t)r * it->ncols + c]);
                fputs("</tr>\n", f);
            }
            fputs("</tbody>\n</table>\n</div>\n", f);
            if (it->note) {
                sbuf n = {0};
                sb_html(&n, it->note);
                fprintf(f, "<p class=\"note\">%s</p>\n", n.s ? n.s : "");
                free(n.s);
            }
            if (it->source) {
                sbuf n = {0};
                sb_html(&n, it->source);
                fprintf(f, "<p class=\"source\">Numbers from <code>%s</code>.</p>\n", n.s ? n.s : "");
                free(n.s);
            }
            break;
        case IT_SVG:
            fprintf(f, "<figure class=\"plot\">\n%s", it->text);
            if (*title)
                fprintf(f, "<figcaption>%s</figcaption>\n", title);
            fputs("</figure>\n", f);
            break;
        case IT_PNG:
            if (!open_figs) {
                fputs("<div class=\"figures\">\n", f);
                open_figs = 1;
            }
            fputs("<figure class=\"slice\">", f);
            if (it->href) {
                sbuf h = {0};
                sb_html(&h, it->href);
                fprintf(f, "<a href=\"%s\">", h.s ? h.s : "");
                free(h.s);
            }
            fprintf(f, "<img class=\"slice\" width=\"%d\" height=\"%d\" alt=\"%s\" "
                       "src=\"data:image/png;base64,%s\">",
                    it->width, it->height, title, it->b64);
            if (it->href)
                fputs("</a>", f);
            fprintf(f, "<figcaption>%s</figcaption></figure>\n", title);
            break;
        }
        free(t.s);
    }
    if (open_figs)
        fputs("</div>\n", f);
    if (open_section)
        fputs("</section>\n", f);
    fputs("</body>\n</html>\n", f);
}

/* ---- Markdown ---------------------------------------------------------------------------------- */
static void md_cell(FILE *f, const char *s)
{
    for (; *s; s++) {
        if (*s == '|')
            fputs("\\|", f);
        else if (*s == '\n')
            fputc(' ', f);
        else
            fputc(*s, f);
    }
}

static void write_markdown(const ps_doc *d, FILE *f)
{
    if (*d->title) /* an untitled document is just its content (a command's summary) */
        fprintf(f, "# %s\n\n", d->title);
    int figures_noted = 0;
    for (int i = 0; i < d->nitems; i++) {
        const doc_item *it = &d->items[i];
        switch (it->kind) {
        case IT_SECTION:
            fprintf(f, "## %s\n\n", it->title);
            figures_noted = 0;
            break;
        case IT_PARA: fprintf(f, "%s\n\n", it->text); break;
        case IT_TABLE:
            if (*it->title)
                fprintf(f, "**%s**\n\n", it->title);
            fputc('|', f);
            for (int c = 0; c < it->ncols; c++) {
                fputc(' ', f);
                md_cell(f, it->headers[c]);
                fputs(" |", f);
            }
            fputs("\n|", f);
            for (int c = 0; c < it->ncols; c++)
                fputs(it->numeric[c] ? "---:|" : ":---|", f);
            fputc('\n', f);
            for (int r = 0; r < it->nrows; r++) {
                fputc('|', f);
                for (int c = 0; c < it->ncols; c++) {
                    fputc(' ', f);
                    md_cell(f, it->plain[(size_t)r * it->ncols + c]);
                    fputs(" |", f);
                }
                fputc('\n', f);
            }
            fputc('\n', f);
            if (it->note)
                fprintf(f, "*%s*\n\n", it->note);
            if (it->source)
                fprintf(f, "Numbers from `%s`.\n\n", it->source);
            break;
        case IT_SVG:
        case IT_PNG:
            if (!figures_noted)
                fputs("(Plots and figures of this section: see report.html.)\n\n", f);
            figures_noted = 1;
            break;
        }
    }
}

/* ---- LaTeX ------------------------------------------------------------------------------------- */
/* UTF-8 sequences of the reports' text and their LaTeX spelling (pdflatex with inputenc knows
 * none of these by default). */
static const struct { const char *utf8, *tex; } tex_chars[] = {
    {"\xc2\xb1", "$\\pm$"},           {"\xc2\xb2", "\\textsuperscript{2}"},
    {"\xc3\x97", "$\\times$"},        {"\xe2\x88\x92", "$-$"},
    {"\xe2\x88\x93", "$\\mp$"},       {"\xe2\x80\x93", "--"},
    {"\xe2\x80\x94", "---"},          {"\xc2\xb5", "$\\mu$"},
    {"\xe2\x89\xa4", "$\\leq$"},      {"\xe2\x89\xa5", "$\\geq$"},
    {"\xc2\xb7", "$\\cdot$"},
};

static void tex_text(FILE *f, const char *s)
{
    for (; *s; s++) {
        unsigned char c = (unsigned char)*s;
        size_t k = 0, nk = sizeof tex_chars / sizeof *tex_chars;
        if (c >= 0x80) {
            for (; k < nk; k++)
                if (!strncmp(s, tex_chars[k].utf8, strlen(tex_chars[k].utf8)))
                    break;
            if (k < nk) {
                fputs(tex_chars[k].tex, f);
                s += strlen(tex_chars[k].utf8) - 1;
                continue;
            }
        }
        switch (c) {
        case '\\': fputs("\\textbackslash{}", f); break;
        case '&': case '%': case '$': case '#': case '_': case '{': case '}':
            fputc('\\', f);
            fputc(c, f);
            break;
        case '~': fputs("\\textasciitilde{}", f); break;
        case '^': fputs("\\textasciicircum{}", f); break;
        case '<': fputs("\\textless{}", f); break;
        case '>': fputs("\\textgreater{}", f); break;
        case '\n': fputc(' ', f); break;
        case '-': fputs(s[1] == '-' ? "-{}" : "-", f); break; /* "--" is no en dash */
        default: fputc(c, f);
        }
    }
}

/* A table cell: lines (from a template's newlines) stacked in the cell. */
static void tex_cell(FILE *f, const char *s, int right)
{
    if (!strchr(s, '\n')) {
        tex_text(f, s);
        return;
    }
    /* a nested tabular, top-aligned: the row grows downwards (\shortstack would overlap
     * the row above) */
    fprintf(f, "\\begin{tabular}[t]{@{}%c@{}}", right ? 'r' : 'l');
    char *copy = ps_strdup(s);
    if (!copy) {
        tex_text(f, s);
        fputs("\\end{tabular}", f);
        return;
    }
    char *save = NULL;
    int first = 1;
    for (char *line = strtok_r(copy, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
        if (!first)
            fputs("\\\\{}", f); /* {}: a line starting with '[' is no optional argument */
        tex_text(f, line);
        first = 0;
    }
    free(copy);
    fputs("\\end{tabular}", f);
}

static void write_latex(const ps_doc *d, FILE *f)
{
    fputs("% Generated by panseval. Compile with pdflatex (packages: booktabs, longtable, pdflscape).\n"
          "\\documentclass[10pt]{article}\n\\usepackage[utf8]{inputenc}\n\\usepackage[T1]{fontenc}\n"
          "\\usepackage[margin=2cm]{geometry}\n\\usepackage{booktabs}\n\\usepackage{longtable}\n"
          "\\usepackage{pdflscape}\n"
          "\\title{",
          f);
    tex_text(f, d->title);
    fputs("}\n\\date{}\n\\begin{document}\n\\maketitle\n\n", f);
    int figures_noted = 0;
    for (int i = 0; i < d->nitems; i++) {
        const doc_item *it = &d->items[i];
        switch (it->kind) {
        case IT_SECTION:
            fputs("\\section{", f);
            tex_text(f, it->title);
            fprintf(f, "}\\label{sec:%s}\n\n", it->id);
            figures_noted = 0;
            break;
        case IT_PARA:
            tex_text(f, it->text);
            fputs("\n\n", f);
            break;
        case IT_TABLE:
            /* wide tables on a landscape page of their own */
            if (it->ncols > 7)
                fputs("\\begin{landscape}\n", f);
            fputs(it->ncols > 7 ? "{\\scriptsize\\setlength{\\tabcolsep}{4pt}\n" : "{\\small\n", f);
            fputs("\\begin{longtable}{", f);
            for (int c = 0; c < it->ncols; c++)
                fputc(it->numeric[c] ? 'r' : 'l', f);
            fputs("}\n", f);
            if (*it->title) {
                fputs("\\caption{", f);
                tex_text(f, it->title);
                fputs("}\\\\\n", f);
            }
            fputs("\\toprule\n", f);
            for (int c = 0; c < it->ncols; c++) {
                if (c)
                    fputs(" & ", f);
                tex_cell(f, it->headers[c], it->numeric[c]);
            }
            fputs(" \\\\\n\\midrule\n\\endhead\n", f);
            for (int r = 0; r < it->nrows; r++) {
                for (int c = 0; c < it->ncols; c++) {
                    if (c)
                        fputs(" & ", f);
                    tex_cell(f, it->plain[(size_t)r * it->ncols + c], it->numeric[c]);
                }
                fputs(" \\\\\n", f);
            }
            fputs("\\bottomrule\n\\end{longtable}\n}\n", f);
            if (it->note) {
                fputs("\\noindent{\\footnotesize ", f);
                tex_text(f, it->note);
                fputs("}\n", f);
            }
            if (it->source) {
                fputs("\\noindent{\\footnotesize Numbers from \\texttt{", f);
                tex_text(f, it->source);
                fputs("}.}\n", f);
            }
            if (it->ncols > 7)
                fputs("\\end{landscape}\n", f);
            fputs("\n", f);
            break;
        case IT_SVG:
        case IT_PNG:
            if (!figures_noted)
                fputs("(Plots and figures of this section: see report.html.)\n\n", f);
            figures_noted = 1;
            break;
        }
    }
    fputs("\\end{document}\n", f);
}

int ps_doc_write(const ps_doc *d, FILE *f, ps_doc_format fmt)
{
    switch (fmt) {
    case PS_DOC_HTML: write_html(d, f); break;
    case PS_DOC_MARKDOWN: write_markdown(d, f); break;
    case PS_DOC_LATEX: write_latex(d, f); break;
    default: return ps_error(PS_ERR_ARG, "unknown report document format");
    }
    return ferror(f) ? ps_error(PS_ERR_IO, "error writing the report") : PS_OK;
}
