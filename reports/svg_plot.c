/* svg_plot.c - deterministic SVG plots for the reports: box plots with the cases as points,
 * scatter with the OLS line, Bland-Altman, heat maps; nice axis ticks; the display formatter.
 *
 * Output is plain SVG 1.1 text with a viewBox (it scales with the page), the system
 * sans-serif font, no script, no external reference and no element ids (so any number of
 * plots can share one HTML page). The same inputs give the same bytes.
 *
 * Conventions and sources:
 * - Ticks: Heckbert, "Nice numbers for graph labels", Graphics Gems I (1990): the range is
 *   rounded to a nice number (1, 2, 5 x 10^k), the step is nice(range / (target - 1),
 *   rounded), the ticks run from floor(lo / step) step to ceil(hi / step) step, and a label
 *   needs max(-floor(log10 step), 0) decimals.
 * - Box plots: quartiles of type 7 (Hyndman & Fan 1996; R's default, numpy's "linear") from
 *   ps_stats_describe; whiskers to the most extreme values within 1.5 IQR of the box (Tukey
 *   1977). Jitter of the i-th value of a box: (frac(i phi) - 1/2) x the jitter width, phi =
 *   (sqrt 5 - 1) / 2, a low-discrepancy sequence that needs no random state.
 * - Regression line and R²: ps_stats_regression (OLS of y on x; R² = squared Pearson r, what
 *   the PanSegNet paper reports). Bland-Altman: ps_stats_bland_altman (bias = mean of y - x,
 *   LoA = bias -+ 1.96 SD).
 * - Colours: Okabe & Ito (2008), "Color universal design", for series; the five viridis
 *   stops of matplotlib (van der Walt & Smith 2015) interpolated in sRGB for the heat map.
 */
#include "ps_reports.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

/* ---- display formatter ---------------------------------------------------------------------- */
void ps_report_fmt(double x, int decimals, char *buf, size_t n)
{
    if (decimals < 0)
        decimals = 0;
    if (decimals > 9)
        decimals = 9;
    if (isnan(x)) {
        snprintf(buf, n, "nan");
        return;
    }
    if (isinf(x)) {
        snprintf(buf, n, x > 0 ? "inf" : "-inf");
        return;
    }
    snprintf(buf, n, "%.*f", decimals, x);
    /* "-0.0" -> "0.0": a negative number that rounds to zero reads as zero. */
    if (buf[0] == '-') {
        int zero = 1;
        for (const char *s = buf + 1; *s; s++)
            if (*s != '0' && *s != '.')
                zero = 0;
        if (zero)
            memmove(buf, buf + 1, strlen(buf));
    }
}

/* ---- ticks ------------------------------------------------------------------------------------ */
static double nice_number(double x, int round_it)
{
    double e = floor(log10(x));
    double f = x / pow(10.0, e);
    double nf;
    if (round_it)
        nf = f < 1.5 ? 1 : f < 3 ? 2 : f < 7 ? 5 : 10;
    else
        nf = f <= 1 ? 1 : f <= 2 ? 2 : f <= 5 ? 5 : 10;
    return nf * pow(10.0, e);
}

int ps_plot_ticks(double lo, double hi, int target, double *ticks, int max, int *decimals)
{
    if (!isfinite(lo) || !isfinite(hi) || max < 2)
        return 0;
    if (hi < lo) {
        double t = lo;
        lo = hi;
        hi = t;
    }
    if (hi - lo < 1e-12 * fmax(1.0, fabs(hi))) { /* one value: a unit range around it */
        double pad = lo != 0 ? fabs(lo) * 0.1 : 1.0;
        lo -= pad;
        hi += pad;
    }
    if (target < 2)
        target = 2;
    double range = nice_number(hi - lo, 0);
    double step = nice_number(range / (target - 1), 1);
    double first = floor(lo / step) * step, last = ceil(hi / step) * step;
    int count = (int)llround((last - first) / step) + 1;
    while (count > max) { /* coarser steps until they fit */
        step = nice_number(step * 2, 1);
        first = floor(lo / step) * step;
        last = ceil(hi / step) * step;
        count = (int)llround((last - first) / step) + 1;
    }
    for (int i = 0; i < count; i++) {
        double t = first + i * step;
        ticks[i] = fabs(t) < step * 1e-9 ? 0.0 : t;
    }
    if (decimals) {
        int d = (int)-floor(log10(step) + 1e-9);
        *decimals = d > 0 ? d : 0;
    }
    return count;
}

const char *ps_plot_colour(int i)
{
    static const char *const okabe_ito[] = {"#0072B2", "#E69F00", "#009E73", "#CC79A7",
                                            "#56B4E9", "#D55E00", "#000000", "#F0E442"};
    int n = (int)(sizeof okabe_ito / sizeof okabe_ito[0]);
    return okabe_ito[((i % n) + n) % n];
}

/* ---- SVG helpers ------------------------------------------------------------------------------ */
#define FONT_PX 12
#define CHAR_PX 6.8 /* average advance of the sans-serif font at 12 px, for layout */
#define PLOT_W 720.0

static void xml_text(FILE *f, const char *s)
{
    for (; s && *s; s++) {
        switch (*s) {
        case '&': fputs("&amp;", f); break;
        case '<': fputs("&lt;", f); break;
        case '>': fputs("&gt;", f); break;
        case '"': fputs("&quot;", f); break;
        default: fputc(*s, f);
        }
    }
}

/* Display width in px of UTF-8 text at FONT_PX (each code point one average character). */
static double text_px(const char *s, double scale)
{
    int w = 0;
    for (; s && *s; s++)
        w += ((unsigned char)*s & 0xC0) != 0x80;
    return w * CHAR_PX * scale;
}

static void svg_begin(FILE *f, double w, double h, const char *cls, const char *title)
{
    fprintf(f,
            "<svg xmlns=\"http://www.w3.org/2000/svg\" class=\"plot %s\" viewBox=\"0 0 %.0f %.0f\" "
            "width=\"%.0f\" height=\"%.0f\" font-family=\"Helvetica, Arial, sans-serif\" "
            "font-size=\"%d\" role=\"img\">\n",
            cls, w, h, w, h, FONT_PX);
    fputs("<title>", f);
    xml_text(f, title);
    fputs("</title>\n", f);
    fprintf(f, "<rect x=\"0\" y=\"0\" width=\"%.0f\" height=\"%.0f\" fill=\"#ffffff\"/>\n", w, h);
    if (title && *title) {
        fprintf(f, "<text x=\"%.1f\" y=\"20\" text-anchor=\"middle\" font-size=\"14\" "
                   "font-weight=\"bold\">", w / 2);
        xml_text(f, title);
        fputs("</text>\n", f);
    }
}

static int svg_end(FILE *f)
{
    fputs("</svg>\n", f);
    return ferror(f) ? ps_error(PS_ERR_IO, "error writing an SVG plot") : PS_OK;
}

/* A legend laid out in rows under the title, starting at y0; returns the height it used.
 * Entries: a colour swatch (a dot, or a line when `line` is set) and the text. */
static double legend_height(int n, const char *const *text, double width)
{
    if (n <= 0)
        return 0;
    double x = 0;
    int rows = 1;
    for (int i = 0; i < n; i++) {
        double w = 22 + text_px(text[i], 1) + 18;
        if (x > 0 && x + w > width) {
            rows++;
            x = 0;
        }
        x += w;
    }
    return rows * 18.0 + 4;
}

static void legend_draw(FILE *f, int n, const char *const *text, double x0, double y0,
                        double width)
{
    double x = 0, y = y0 + 12;
    for (int i = 0; i < n; i++) {
        double w = 22 + text_px(text[i], 1) + 18;
        if (x > 0 && x + w > width) {
            y += 18;
            x = 0;
        }
        fprintf(f, "<g class=\"legend-entry\"><rect x=\"%.1f\" y=\"%.1f\" width=\"14\" height=\"10\" "
                   "fill=\"%s\" fill-opacity=\"0.8\"/><text x=\"%.1f\" y=\"%.1f\">",
                x0 + x, y - 9, ps_plot_colour(i), x0 + x + 20, y);
        xml_text(f, text[i]);
        fputs("</text></g>\n", f);
        x += w;
    }
}

typedef struct axis {
    double lo, hi;       /* data range mapped to [p0, p1] px                                   */
    double p0, p1;
    double ticks[32];
    int nticks, decimals;
} axis;

static void axis_make(axis *a, double lo, double hi, double p0, double p1, int target)
{
    a->nticks = ps_plot_ticks(lo, hi, target, a->ticks, 32, &a->decimals);
    if (a->nticks < 2) { /* no finite data: an empty 0..1 axis */
        a->nticks = ps_plot_ticks(0, 1, target, a->ticks, 32, &a->decimals);
    }
    a->lo = a->ticks[0];
    a->hi = a->ticks[a->nticks - 1];
    a->p0 = p0;
    a->p1 = p1;
}

static double axis_px(const axis *a, double v)
{
    return a->p0 + (v - a->lo) / (a->hi - a->lo) * (a->p1 - a->p0);
}

/* Horizontal grid lines and labels of a y axis from x0 to x1. */
static void y_axis_draw(FILE *f, const axis *a, double x0, double x1, const char *label)
{
    char buf[64];
    fputs("<g class=\"axis y-axis\">\n", f);
    for (int i = 0; i < a->nticks; i++) {
        double y = axis_px(a, a->ticks[i]);
        ps_report_fmt(a->ticks[i], a->decimals, buf, sizeof buf);
        fprintf(f, "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" stroke=\"#dddddd\"/>"
                   "<text x=\"%.1f\" y=\"%.1f\" text-anchor=\"end\" fill=\"#333333\">%s</text>\n",
                x0, y, x1, y, x0 - 6, y + 4, buf);
    }
    fprintf(f, "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" stroke=\"#333333\"/>\n", x0,
            a->p0, x0, a->p1);
    if (label && *label) {
        double ym = (a->p0 + a->p1) / 2;
        fprintf(f, "<text x=\"16\" y=\"%.1f\" text-anchor=\"middle\" transform=\"rotate(-90 16 %.1f)\">",
                ym, ym);
        xml_text(f, label);
        fputs("</text>\n", f);
    }
    fputs("</g>\n", f);
}

/* Vertical grid lines and labels of a numeric x axis at baseline y. */
static void x_axis_draw(FILE *f, const axis *a, double y, double ytop, const char *label)
{
    char buf[64];
    fputs("<g class=\"axis x-axis\">\n", f);
    for (int i = 0; i < a->nticks; i++) {
        double x = axis_px(a, a->ticks[i]);
        ps_report_fmt(a->ticks[i], a->decimals, buf, sizeof buf);
        fprintf(f, "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" stroke=\"#dddddd\"/>"
                   "<text x=\"%.1f\" y=\"%.1f\" text-anchor=\"middle\" fill=\"#333333\">%s</text>\n",
                x, ytop, x, y, x, y + 16, buf);
    }
    fprintf(f, "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" stroke=\"#333333\"/>\n",
            a->p0, y, a->p1, y);
    if (label && *label) {
        fprintf(f, "<text x=\"%.1f\" y=\"%.1f\" text-anchor=\"middle\">", (a->p0 + a->p1) / 2,
                y + 36);
        xml_text(f, label);
        fputs("</text>\n", f);
    }
    fputs("</g>\n", f);
}

static double max_label_px(int n, const char *const *s)
{
    double m = 0;
    for (int i = 0; i < n; i++)
        m = fmax(m, text_px(s[i], 1));
    return m;
}

/* ---- box plot --------------------------------------------------------------------------------- */
static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

int ps_plot_box_svg(FILE *f, const ps_plot_box *p)
{
    if (!p || p->ngroups < 1 || p->nseries < 1)
        return ps_error(PS_ERR_ARG, "box plot: no groups or series");
    const int nb = p->ngroups * p->nseries;
    double lo = INFINITY, hi = -INFINITY;
    size_t nmax = 0;
    for (int b = 0; b < nb; b++) {
        for (size_t i = 0; i < p->n[b]; i++)
            if (isfinite(p->values[b][i])) {
                lo = fmin(lo, p->values[b][i]);
                hi = fmax(hi, p->values[b][i]);
            }
        if (p->n[b] > nmax)
            nmax = p->n[b];
    }
    double *sorted = ps_malloc_array(nmax ? nmax : 1, sizeof *sorted);
    if (!sorted)
        return PS_ERR_NOMEM;

    const double W = PLOT_W, left = 64, right = 16;
    const double pw = W - left - right;
    double lh = p->nseries > 1 ? legend_height(p->nseries, p->series_names, pw) : 0;
    double top = 32 + lh + 8;
    /* group labels: horizontal when they fit their slot, else turned by 30 degrees */
    double slot = pw / p->ngroups;
    double lab_px = max_label_px(p->ngroups, p->group_names);
    int turn = lab_px > slot - 8;
    double bottom = turn ? 30 + lab_px * 0.5 + 30 : 52;
    const double ph = 260;
    double H = top + ph + bottom;
    axis ya;
    axis_make(&ya, lo, hi, top + ph, top, 6);

    svg_begin(f, W, H, "box-plot", p->title);
    if (p->nseries > 1)
        legend_draw(f, p->nseries, p->series_names, left, 32, pw);
    y_axis_draw(f, &ya, left, W - right, p->y_label);
    fprintf(f, "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" stroke=\"#333333\"/>\n",
            left, top + ph, W - right, top + ph);

    const double phi = 0.6180339887498949; /* (sqrt 5 - 1) / 2 */
    double bw = slot * 0.8 / p->nseries;   /* width of one series' lane */
    for (int g = 0; g < p->ngroups; g++) {
        double gx = left + g * slot;
        size_t hidden = 0;
        for (int s = 0; s < p->nseries; s++) {
            int b = g * p->nseries + s;
            const double *v = p->values[b];
            size_t n = 0;
            for (size_t i = 0; i < p->n[b]; i++)
                if (isfinite(v[i]))
                    sorted[n++] = v[i];
            hidden += p->n[b] - n;
            double cx = gx + slot * 0.1 + bw * (s + 0.5);
            const char *col = ps_plot_colour(s);
            fprintf(f, "<g class=\"box\" data-group=\"");
            xml_text(f, p->group_names[g]);
            fprintf(f, "\" data-series=\"");
            xml_text(f, p->series_names[s]);
            fprintf(f, "\" data-n=\"%zu\">\n", n);
            if (n > 0) {
                qsort(sorted, n, sizeof *sorted, cmp_double);
                double q1 = ps_stats_quantile_sorted(sorted, n, 0.25);
                double med = ps_stats_quantile_sorted(sorted, n, 0.5);
                double q3 = ps_stats_quantile_sorted(sorted, n, 0.75);
                double iqr = q3 - q1, wlo = q1, whi = q3;
                for (size_t i = 0; i < n; i++) /* whiskers: extreme values within 1.5 IQR */
                    if (sorted[i] >= q1 - 1.5 * iqr) {
                        wlo = sorted[i];
                        break;
                    }
                for (size_t i = n; i-- > 0;)
                    if (sorted[i] <= q3 + 1.5 * iqr) {
                        whi = sorted[i];
                        break;
                    }
                double boxw = fmin(bw * 0.6, 48);
                double y1 = axis_px(&ya, q3), y3 = axis_px(&ya, q1);
                fprintf(f,
                        "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" stroke=\"%s\"/>"
                        "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" stroke=\"%s\"/>\n",
                        cx, axis_px(&ya, whi), cx, y1, col, cx, y3, cx, axis_px(&ya, wlo), col);
                fprintf(f,
                        "<rect x=\"%.1f\" y=\"%.1f\" width=\"%.1f\" height=\"%.1f\" fill=\"%s\" "
                        "fill-opacity=\"0.18\" stroke=\"%s\" stroke-width=\"1.5\"/>\n",
                        cx - boxw / 2, y1, boxw, fmax(y3 - y1, 0.5), col, col);
                fprintf(f,
                        "<line class=\"median\" x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" "
                        "stroke=\"%s\" stroke-width=\"2.5\"/>\n",
                        cx - boxw / 2, axis_px(&ya, med), cx + boxw / 2, axis_px(&ya, med), col);
                for (int end = 0; end < 2; end++) { /* whisker caps */
                    double yy = axis_px(&ya, end ? whi : wlo);
                    fprintf(f, "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" stroke=\"%s\"/>",
                            cx - boxw / 4, yy, cx + boxw / 4, yy, col);
                }
                fputc('\n', f);
                if (p->with_points) {
                    double jw = fmin(bw * 0.7, 56);
                    size_t idx = 0;
                    for (size_t i = 0; i < p->n[b]; i++) {
                        if (!isfinite(v[i]))
                            continue;
                        double fr = fmod((double)(idx + 1) * phi, 1.0) - 0.5;
                        idx++;
                        fprintf(f, "<circle class=\"pt\" cx=\"%.1f\" cy=\"%.1f\" r=\"2.6\" fill=\"%s\" "
                                   "fill-opacity=\"0.65\"/>",
                                cx + fr * jw, axis_px(&ya, v[i]), col);
                    }
                    fputc('\n', f);
                }
            }
            fputs("</g>\n", f);
        }
        /* group label */
        double lx = gx + slot / 2, ly = top + ph + 18;
        if (turn) {
            fprintf(f, "<text class=\"group-label\" x=\"%.1f\" y=\"%.1f\" text-anchor=\"end\" "
                       "transform=\"rotate(-30 %.1f %.1f)\">", lx, ly, lx, ly);
        } else {
            fprintf(f, "<text class=\"group-label\" x=\"%.1f\" y=\"%.1f\" text-anchor=\"middle\">",
                    lx, ly);
        }
        xml_text(f, p->group_names[g]);
        fputs("</text>\n", f);
        if (hidden)
            fprintf(f, "<text x=\"%.1f\" y=\"%.1f\" text-anchor=\"middle\" font-size=\"10\" "
                       "fill=\"#777777\">%zu not shown</text>\n",
                    lx, turn ? H - 6 : ly + 14, hidden);
    }
    free(sorted);
    return svg_end(f);
}

/* ---- scatter and Bland-Altman ----------------------------------------------------------------- */
/* Finite pairs of series s into xs/ys; returns their number. */
static size_t finite_pairs(const double *x, const double *y, size_t n, double *xs, double *ys)
{
    size_t m = 0;
    for (size_t i = 0; i < n; i++)
        if (isfinite(x[i]) && isfinite(y[i])) {
            xs[m] = x[i];
            ys[m] = y[i];
            m++;
        }
    return m;
}

static void draw_points(FILE *f, const axis *xa, const axis *ya, const double *x,
                        const double *y, size_t n, const char *col, const char *name)
{
    fputs("<g class=\"series\" data-series=\"", f);
    xml_text(f, name);
    fputs("\">", f);
    for (size_t i = 0; i < n; i++)
        fprintf(f, "<circle class=\"pt\" cx=\"%.1f\" cy=\"%.1f\" r=\"3\" fill=\"%s\" "
                   "fill-opacity=\"0.7\"/>",
                axis_px(xa, x[i]), axis_px(ya, y[i]), col);
    fputs("</g>\n", f);
}

/* A line between data points, clipped to the plot's box by clipping x to the data range. */
static void draw_line(FILE *f, const axis *xa, const axis *ya, double x0, double y0, double x1,
                      double y1, const char *col, const char *dash, const char *cls)
{
    fprintf(f, "<line class=\"%s\" x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" stroke=\"%s\" "
               "stroke-width=\"1.6\"%s%s%s/>\n",
            cls, axis_px(xa, x0), axis_px(ya, y0), axis_px(xa, x1), axis_px(ya, y1), col,
            dash ? " stroke-dasharray=\"" : "", dash ? dash : "", dash ? "\"" : "");
}

static int alloc_pairs(const size_t *n, int ns, double **xs, double **ys, char ***legend)
{
    size_t nmax = 1;
    for (int s = 0; s < ns; s++)
        if (n[s] > nmax)
            nmax = n[s];
    *xs = ps_malloc_array(nmax, sizeof **xs);
    *ys = ps_malloc_array(nmax, sizeof **ys);
    *legend = ps_calloc((size_t)ns, sizeof **legend);
    return *xs && *ys && *legend ? PS_OK : PS_ERR_NOMEM;
}

static void free_pairs(double *xs, double *ys, char **legend, int ns)
{
    free(xs);
    free(ys);
    if (legend)
        for (int s = 0; s < ns; s++)
            free(legend[s]);
    free(legend);
}

int ps_plot_scatter_svg(FILE *f, const ps_plot_scatter *p)
{
    if (!p || p->nseries < 1)
        return ps_error(PS_ERR_ARG, "scatter plot: no series");
    double *xs = NULL, *ys = NULL;
    char **legend = NULL;
    int rc = alloc_pairs(p->n, p->nseries, &xs, &ys, &legend);
    ps_regression *fit = ps_calloc((size_t)p->nseries, sizeof *fit);
    int *fit_ok = ps_calloc((size_t)p->nseries, sizeof *fit_ok);
    if (rc || !fit || !fit_ok) {
        free(fit);
        free(fit_ok);
        free_pairs(xs, ys, legend, p->nseries);
        return PS_ERR_NOMEM;
    }
    double lo = INFINITY, hi = -INFINITY;
    for (int s = 0; s < p->nseries && !rc; s++) {
        size_t m = finite_pairs(p->x[s], p->y[s], p->n[s], xs, ys);
        for (size_t i = 0; i < m; i++) {
            lo = fmin(lo, fmin(xs[i], ys[i]));
            hi = fmax(hi, fmax(xs[i], ys[i]));
        }
        fit_ok[s] = !p->no_fit && m >= 3 && ps_stats_regression(xs, ys, m, &fit[s]) == PS_OK;
        ps_error_clear();
        char r2[32];
        ps_report_fmt(fit_ok[s] ? fit[s].r2 : NAN, 3, r2, sizeof r2);
        legend[s] = p->no_fit  ? ps_asprintf("%s (n = %zu)", p->series_names[s], m)
                    : fit_ok[s] ? ps_asprintf("%s: R\xc2\xb2 = %s (n = %zu)", p->series_names[s], r2, m)
                              : ps_asprintf("%s: R\xc2\xb2 n/a (n = %zu)", p->series_names[s], m);
        if (!legend[s])
            rc = PS_ERR_NOMEM;
    }
    if (!rc) {
        const double W = PLOT_W, left = 64, right = 16, ph = 320;
        double pw = W - left - right;
        double top = 32 + legend_height(p->nseries, (const char *const *)legend, pw) + 8;
        double H = top + ph + 48;
        axis xa, ya;
        axis_make(&xa, lo, hi, left, W - right, 7);
        axis_make(&ya, lo, hi, top + ph, top, 6);
        svg_begin(f, W, H, "scatter-plot", p->title);
        legend_draw(f, p->nseries, (const char *const *)legend, left, 32, pw);
        y_axis_draw(f, &ya, left, W - right, p->y_label);
        x_axis_draw(f, &xa, top + ph, top, p->x_label);
        if (p->identity) {
            double a = fmax(xa.lo, ya.lo), b = fmin(xa.hi, ya.hi);
            draw_line(f, &xa, &ya, a, a, b, b, "#888888", "4 3", "identity");
        }
        for (int s = 0; s < p->nseries; s++) {
            size_t m = finite_pairs(p->x[s], p->y[s], p->n[s], xs, ys);
            const char *col = ps_plot_colour(s);
            draw_points(f, &xa, &ya, xs, ys, m, col, p->series_names[s]);
            if (fit_ok[s]) {
                double x0 = INFINITY, x1 = -INFINITY;
                for (size_t i = 0; i < m; i++) {
                    x0 = fmin(x0, xs[i]);
                    x1 = fmax(x1, xs[i]);
                }
                draw_line(f, &xa, &ya, x0, fit[s].intercept + fit[s].slope * x0, x1,
                          fit[s].intercept + fit[s].slope * x1, col, NULL, "ols");
            }
        }
        rc = svg_end(f);
    }
    free(fit);
    free(fit_ok);
    free_pairs(xs, ys, legend, p->nseries);
    return rc;
}

int ps_plot_bland_altman_svg(FILE *f, const ps_plot_bland_altman *p)
{
    if (!p || p->nseries < 1)
        return ps_error(PS_ERR_ARG, "Bland-Altman plot: no series");
    double *xs = NULL, *ys = NULL;
    char **legend = NULL;
    int rc = alloc_pairs(p->n, p->nseries, &xs, &ys, &legend);
    ps_bland_altman *ba = ps_calloc((size_t)p->nseries, sizeof *ba);
    int *ok = ps_calloc((size_t)p->nseries, sizeof *ok);
    if (rc || !ba || !ok) {
        free(ba);
        free(ok);
        free_pairs(xs, ys, legend, p->nseries);
        return PS_ERR_NOMEM;
    }
    double xlo = INFINITY, xhi = -INFINITY, ylo = INFINITY, yhi = -INFINITY;
    for (int s = 0; s < p->nseries && !rc; s++) {
        size_t m = finite_pairs(p->x[s], p->y[s], p->n[s], xs, ys);
        ok[s] = m >= 2 && ps_stats_bland_altman(xs, ys, m, 0.95, &ba[s]) == PS_OK;
        ps_error_clear();
        for (size_t i = 0; i < m; i++) {
            double mean = (xs[i] + ys[i]) / 2, d = ys[i] - xs[i];
            xlo = fmin(xlo, mean);
            xhi = fmax(xhi, mean);
            ylo = fmin(ylo, d);
            yhi = fmax(yhi, d);
        }
        if (ok[s]) {
            ylo = fmin(ylo, ba[s].loa_low);
            yhi = fmax(yhi, ba[s].loa_high);
            char b[32], l0[32], l1[32];
            ps_report_fmt(ba[s].bias, p->decimals, b, sizeof b);
            ps_report_fmt(ba[s].loa_low, p->decimals, l0, sizeof l0);
            ps_report_fmt(ba[s].loa_high, p->decimals, l1, sizeof l1);
            legend[s] = ps_asprintf("%s: bias %s, LoA %s to %s (n = %zu)", p->series_names[s], b,
                                    l0, l1, m);
        } else {
            legend[s] = ps_asprintf("%s: n/a (n = %zu)", p->series_names[s], m);
        }
        if (!legend[s])
            rc = PS_ERR_NOMEM;
    }
    if (!rc) {
        const double W = PLOT_W, left = 64, right = 16, ph = 280;
        double pw = W - left - right;
        double top = 32 + legend_height(p->nseries, (const char *const *)legend, pw) + 8;
        double H = top + ph + 48;
        axis xa, ya;
        axis_make(&xa, xlo, xhi, left, W - right, 7);
        axis_make(&ya, fmin(ylo, 0), fmax(yhi, 0), top + ph, top, 6);
        svg_begin(f, W, H, "bland-altman-plot", p->title);
        legend_draw(f, p->nseries, (const char *const *)legend, left, 32, pw);
        y_axis_draw(f, &ya, left, W - right, p->y_label);
        x_axis_draw(f, &xa, top + ph, top, p->x_label);
        draw_line(f, &xa, &ya, xa.lo, 0, xa.hi, 0, "#555555", NULL, "zero");
        for (int s = 0; s < p->nseries; s++) {
            size_t m = finite_pairs(p->x[s], p->y[s], p->n[s], xs, ys);
            const char *col = ps_plot_colour(s);
            for (size_t i = 0; i < m; i++) { /* points at (mean, difference) */
                double mean = (xs[i] + ys[i]) / 2, d = ys[i] - xs[i];
                xs[i] = mean;
                ys[i] = d;
            }
            draw_points(f, &xa, &ya, xs, ys, m, col, p->series_names[s]);
            if (ok[s]) {
                draw_line(f, &xa, &ya, xa.lo, ba[s].bias, xa.hi, ba[s].bias, col, NULL, "bias");
                draw_line(f, &xa, &ya, xa.lo, ba[s].loa_low, xa.hi, ba[s].loa_low, col, "6 4", "loa");
                draw_line(f, &xa, &ya, xa.lo, ba[s].loa_high, xa.hi, ba[s].loa_high, col, "6 4",
                          "loa");
            }
        }
        rc = svg_end(f);
    }
    free(ba);
    free(ok);
    free_pairs(xs, ys, legend, p->nseries);
    return rc;
}

/* ---- heat map --------------------------------------------------------------------------------- */
static void viridis(double t, int rgb[3])
{
    static const int stop[5][3] = {
        {0x44, 0x01, 0x54}, {0x3B, 0x52, 0x8B}, {0x21, 0x91, 0x8C}, {0x5E, 0xC9, 0x62}, {0xFD, 0xE7, 0x25}};
    if (!(t > 0))
        t = 0;
    if (t > 1)
        t = 1;
    double u = t * 4;
    int i = (int)u;
    if (i > 3)
        i = 3;
    double w = u - i;
    for (int c = 0; c < 3; c++)
        rgb[c] = (int)lround(stop[i][c] * (1 - w) + stop[i + 1][c] * w);
}

int ps_plot_heatmap_svg(FILE *f, const ps_plot_heatmap *p)
{
    if (!p || p->nrows < 1 || p->ncols < 1)
        return ps_error(PS_ERR_ARG, "heat map: no rows or columns");
    double vmin = p->vmin, vmax = p->vmax;
    if (isnan(vmin) || isnan(vmax)) {
        double lo = INFINITY, hi = -INFINITY;
        for (int i = 0; i < p->nrows * p->ncols; i++)
            if (isfinite(p->values[i])) {
                lo = fmin(lo, p->values[i]);
                hi = fmax(hi, p->values[i]);
            }
        if (isnan(vmin))
            vmin = isfinite(lo) ? lo : 0;
        if (isnan(vmax))
            vmax = isfinite(hi) ? hi : 1;
    }
    if (!(vmax > vmin))
        vmax = vmin + 1;
    const double W = PLOT_W, right = 90, cell_h = 34;
    double left = 24 + fmin(max_label_px(p->nrows, p->row_names), 200) + 10;
    double pw = W - left - right;
    double cw = pw / p->ncols;
    double col_px = max_label_px(p->ncols, p->col_names);
    int turn = col_px > cw - 6;
    double top = 32 + (turn ? col_px * 0.5 + 16 : 22) + 6;
    double ph = cell_h * p->nrows;
    double bh = fmax(ph, 100); /* colour bar height: the cells', at least 100 px */
    double H = top + bh + 30;
    svg_begin(f, W, H, "heat-map", p->title);
    /* column labels above the cells */
    for (int c = 0; c < p->ncols; c++) {
        double x = left + (c + 0.5) * cw, y = top - 8;
        if (turn)
            fprintf(f, "<text class=\"col-label\" x=\"%.1f\" y=\"%.1f\" text-anchor=\"start\" "
                       "transform=\"rotate(-30 %.1f %.1f)\">", x, y, x, y);
        else
            fprintf(f, "<text class=\"col-label\" x=\"%.1f\" y=\"%.1f\" text-anchor=\"middle\">", x, y);
        xml_text(f, p->col_names[c]);
        fputs("</text>\n", f);
    }
    if (p->col_label && *p->col_label) {
        fprintf(f, "<text x=\"%.1f\" y=\"%.1f\" text-anchor=\"middle\" fill=\"#555555\">",
                left + pw / 2, top + ph + 20);
        xml_text(f, p->col_label);
        fputs("</text>\n", f);
    }
    if (p->row_label && *p->row_label) {
        double ym = top + ph / 2;
        fprintf(f, "<text x=\"14\" y=\"%.1f\" text-anchor=\"middle\" fill=\"#555555\" "
                   "transform=\"rotate(-90 14 %.1f)\">", ym, ym);
        xml_text(f, p->row_label);
        fputs("</text>\n", f);
    }
    char buf[64];
    for (int r = 0; r < p->nrows; r++) {
        double y = top + r * cell_h;
        fprintf(f, "<text class=\"row-label\" x=\"%.1f\" y=\"%.1f\" text-anchor=\"end\">", left - 8,
                y + cell_h / 2 + 4);
        xml_text(f, p->row_names[r]);
        fputs("</text>\n", f);
        for (int c = 0; c < p->ncols; c++) {
            double v = p->values[r * p->ncols + c];
            int rgb[3] = {0xE0, 0xE0, 0xE0};
            if (isfinite(v))
                viridis((v - vmin) / (vmax - vmin), rgb);
            double lum = (0.2126 * rgb[0] + 0.7152 * rgb[1] + 0.0722 * rgb[2]) / 255;
            if (isfinite(v))
                ps_report_fmt(v, p->decimals, buf, sizeof buf);
            else
                snprintf(buf, sizeof buf, "-");
            fprintf(f,
                    "<g class=\"cell\" data-r=\"%d\" data-c=\"%d\"><rect x=\"%.1f\" y=\"%.1f\" "
                    "width=\"%.1f\" height=\"%.1f\" fill=\"#%02X%02X%02X\" stroke=\"#ffffff\"/>"
                    "<text x=\"%.1f\" y=\"%.1f\" text-anchor=\"middle\" fill=\"%s\">%s</text></g>\n",
                    r, c, left + c * cw, y, cw, cell_h, rgb[0], rgb[1], rgb[2], left + (c + 0.5) * cw,
                    y + cell_h / 2 + 4, lum < 0.5 ? "#ffffff" : "#000000", buf);
        }
    }
    /* colour bar: 20 steps from vmin (bottom) to vmax (top), labelled at both ends and the middle */
    double bx = W - right + 18, bstep = bh / 20;
    fputs("<g class=\"colour-bar\">\n", f);
    for (int i = 0; i < 20; i++) {
        int rgb[3];
        viridis((i + 0.5) / 20, rgb);
        fprintf(f, "<rect x=\"%.1f\" y=\"%.1f\" width=\"14\" height=\"%.2f\" fill=\"#%02X%02X%02X\"/>",
                bx, top + bh - (i + 1) * bstep, bstep + 0.3, rgb[0], rgb[1], rgb[2]);
    }
    fputc('\n', f);
    for (int i = 0; i < 3; i++) {
        double v = vmin + (vmax - vmin) * i / 2.0;
        ps_report_fmt(v, p->decimals, buf, sizeof buf);
        fprintf(f, "<text x=\"%.1f\" y=\"%.1f\" font-size=\"11\">%s</text>", bx + 18,
                top + bh - bh * i / 2.0 + 4, buf);
    }
    if (p->value_label && *p->value_label) {
        fprintf(f, "<text x=\"%.1f\" y=\"%.1f\" font-size=\"11\" text-anchor=\"middle\">", bx + 7,
                top - 8);
        xml_text(f, p->value_label);
        fputs("</text>", f);
    }
    fputs("\n</g>\n", f);
    return svg_end(f);
}
