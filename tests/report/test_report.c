/* test_report.c - the report renderers: display formatter, ticks, base64, PNG, slice figures,
 * SVG plots, documents (HTML / Markdown / LaTeX) and the published-values reader.
 * Expected values are hand calculations (written beside them), RFC test vectors, or analytic
 * phantoms whose answer follows from their construction. */
#include <png.h>

#include "ps_reports.h"
#include "ps_test.h"

/* Render with `draw` into a string (free it). */
#define RENDER(draw, spec, out)                                                      \
    do {                                                                             \
        size_t len_;                                                                 \
        FILE *mf_ = open_memstream(&(out), &len_);                                   \
        ck_assert_ptr_nonnull(mf_);                                                  \
        ck_assert_int_eq(draw(mf_, spec), PS_OK);                                    \
        fclose(mf_);                                                                 \
    } while (0)

static int count_of(const char *s, const char *needle)
{
    int n = 0;
    for (const char *p = s; (p = strstr(p, needle)); p += strlen(needle))
        n++;
    return n;
}

/* ---- formatter and ticks ------------------------------------------------------------------- */
START_TEST(test_fmt)
{
    char b[32];
    ps_report_fmt(88.25, 1, b, sizeof b); /* 88.25 is exact in binary; printf rounds half to even */
    ck_assert_str_eq(b, "88.2");
    ps_report_fmt(0.9426417, 4, b, sizeof b);
    ck_assert_str_eq(b, "0.9426");
    ps_report_fmt(-0.04, 1, b, sizeof b); /* rounds to zero: no "-0.0" */
    ck_assert_str_eq(b, "0.0");
    ps_report_fmt(-1.25e-3, 2, b, sizeof b);
    ck_assert_str_eq(b, "0.00");
    ps_report_fmt(-2.5, 0, b, sizeof b); /* half to even: -2 */
    ck_assert_str_eq(b, "-2");
    ps_report_fmt(NAN, 2, b, sizeof b);
    ck_assert_str_eq(b, "nan");
    ps_report_fmt(-INFINITY, 2, b, sizeof b);
    ck_assert_str_eq(b, "-inf");
    ps_report_fmt(3.14159, 42, b, sizeof b); /* decimals clamped to 9 */
    ck_assert_str_eq(b, "3.141590000");
}
END_TEST

START_TEST(test_ticks)
{
    double t[32];
    int d;
    /* [0.3, 9.7], 6 ticks: range nice(9.4) = 10, step nice(10 / 5 = 2) = 2 -> 0, 2, ..., 10 */
    int n = ps_plot_ticks(0.3, 9.7, 6, t, 32, &d);
    ck_assert_int_eq(n, 6);
    for (int i = 0; i < 6; i++)
        ck_assert_close(t[i], 2.0 * i, PS_TOL_EXACT);
    ck_assert_int_eq(d, 0);
    /* [0.912, 0.948], 5: range nice(0.036) = 0.05, step nice(0.0125, rounded) = 0.01
     * -> 0.91 .. 0.95, two decimals */
    n = ps_plot_ticks(0.912, 0.948, 5, t, 32, &d);
    ck_assert_int_eq(n, 5);
    ck_assert_close(t[0], 0.91, 1e-12);
    ck_assert_close(t[4], 0.95, 1e-12);
    ck_assert_int_eq(d, 2);
    /* [-3, 7], 6: range 10, step 2 -> -4 .. 8 (7 ticks) */
    n = ps_plot_ticks(-3, 7, 6, t, 32, &d);
    ck_assert_int_eq(n, 7);
    ck_assert_close(t[0], -4, PS_TOL_EXACT);
    ck_assert_close(t[6], 8, PS_TOL_EXACT);
    /* a single value: a range around it; NaN: no ticks */
    n = ps_plot_ticks(5, 5, 5, t, 32, &d);
    ck_assert_int_ge(n, 2);
    ck_assert(t[0] <= 5 && t[n - 1] >= 5 && t[0] < t[n - 1]);
    ck_assert_int_eq(ps_plot_ticks(NAN, 1, 5, t, 32, &d), 0);
    /* too many for `max`: coarser steps */
    n = ps_plot_ticks(0, 100, 50, t, 8, &d);
    ck_assert_int_le(n, 8);
    ck_assert(t[0] <= 0 && t[n - 1] >= 100);
}
END_TEST

/* ---- base64 and PNG ------------------------------------------------------------------------------ */
START_TEST(test_base64)
{
    /* RFC 4648 section 10 test vectors */
    static const char *const in[] = {"", "f", "fo", "foo", "foob", "fooba", "foobar"};
    static const char *const out[] = {"", "Zg==", "Zm8=", "Zm9v", "Zm9vYg==", "Zm9vYmE=", "Zm9vYmFy"};
    for (int i = 0; i < 7; i++) {
        char *s = ps_base64_encode(in[i], strlen(in[i]));
        ck_assert_str_eq(s, out[i]);
        free(s);
    }
    const unsigned char bytes[] = {0xFF, 0xFE, 0x00}; /* 111111 111111 111000 000000 */
    char *s = ps_base64_encode(bytes, 3);
    ck_assert_str_eq(s, "//4A");
    free(s);
}
END_TEST

START_TEST(test_png_roundtrip)
{
    enum { W = 5, H = 3 };
    uint8_t rgb[W * H * 3];
    for (int i = 0; i < W * H * 3; i++)
        rgb[i] = (uint8_t)(i * 37 + 11);
    unsigned char *png = NULL, *png2 = NULL;
    size_t len = 0, len2 = 0;
    ck_assert_int_eq(ps_png_encode_rgb(rgb, W, H, &png, &len), PS_OK);
    ck_assert_int_eq(ps_png_encode_rgb(rgb, W, H, &png2, &len2), PS_OK);
    ck_assert(len == len2 && !memcmp(png, png2, len)); /* deterministic */
    static const unsigned char sig[8] = {0x89, 'P', 'N', 'G', '\r', '\n', 0x1A, '\n'};
    ck_assert(len > 8 && !memcmp(png, sig, 8));
    /* decoded by libpng's reader: the same pixels */
    png_image im;
    memset(&im, 0, sizeof im);
    im.version = PNG_IMAGE_VERSION;
    ck_assert(png_image_begin_read_from_memory(&im, png, len));
    ck_assert_int_eq(im.width, W);
    ck_assert_int_eq(im.height, H);
    im.format = PNG_FORMAT_RGB;
    uint8_t back[W * H * 3];
    ck_assert(png_image_finish_read(&im, NULL, back, 0, NULL));
    ck_assert(!memcmp(back, rgb, sizeof rgb));
    free(png);
    free(png2);
    ck_assert_int_eq(ps_png_encode_rgb(rgb, 0, H, &png, &len), PS_ERR_ARG);
    ck_assert_ptr_null(png);
}
END_TEST

/* ---- slice figures ---------------------------------------------------------------------------------- */
/* Phantom: 10 x 8 x 5 voxels, spacing (1, 2, 3) mm, identity directions. Reference: the box
 * i 2..5, j 2..4, k 1..3. Prediction: the same, minus voxel (2, 2, 1) (1 FN), with i 6 added
 * in slice 3 (j 2..4: 3 FP) and i 2 removed in slice 3 (3 FN). Errors per slice: k1 = 1,
 * k3 = 6, others 0, so slice 3 is shown with 3 FP and 3 FN. */
static void phantom(ps_volume **im, ps_volume **ref, ps_volume **pred, double image_value)
{
    ps_geometry g;
    ps_geometry_init(&g, 10, 8, 5, 1.0, 2.0, 3.0);
    ck_assert_int_eq(ps_volume_create(&g, 1, PS_DT_FLOAT32, im), PS_OK);
    ck_assert_int_eq(ps_volume_create(&g, 1, PS_DT_UINT8, ref), PS_OK);
    ck_assert_int_eq(ps_volume_create(&g, 1, PS_DT_UINT8, pred), PS_OK);
    float *iv = (*im)->data;
    uint8_t *r = (*ref)->data, *p = (*pred)->data;
    for (int k = 0; k < 5; k++)
        for (int j = 0; j < 8; j++)
            for (int i = 0; i < 10; i++) {
                int v = (k * 8 + j) * 10 + i;
                iv[v] = isnan(image_value) ? (float)(i + 10 * j) : (float)image_value;
                int in = i >= 2 && i <= 5 && j >= 2 && j <= 4 && k >= 1 && k <= 3;
                r[v] = (uint8_t)in;
                int pin = in;
                if (k == 1 && i == 2 && j == 2)
                    pin = 0;
                if (k == 3 && i == 2 && j >= 2 && j <= 4)
                    pin = 0;
                if (k == 3 && i == 6 && j >= 2 && j <= 4)
                    pin = 1;
                p[v] = (uint8_t)pin;
            }
}

START_TEST(test_slice_choice_and_aspect)
{
    ps_volume *im, *ref, *pred;
    phantom(&im, &ref, &pred, 40.0);
    ps_slice_options o;
    ps_slice_options_init(&o);
    o.ct = 1;
    o.margin_mm = 0;
    o.size_px = 60;
    ps_slice_figure fig;
    ck_assert_int_eq(ps_slice_render(im, ref, pred, &o, &fig), PS_OK);
    ck_assert_int_eq(fig.k, 3);
    ck_assert_int_eq(fig.fp_vox, 3);
    ck_assert_int_eq(fig.fn_vox, 3);
    /* crop in slice 3: i 2..6 (5 voxels x 1 mm = 5 mm), j 2..4 (3 x 2 mm = 6 mm);
     * square pixels of 6 mm / 60 = 0.1 mm: 50 x 60 pixels */
    ck_assert_int_eq(fig.width, 50);
    ck_assert_int_eq(fig.height, 60);
    /* CT window level 40 / width 400: 40 HU is grey (40 + 160) / 400 * 255 = 127.5 -> 128,
     * away from the contours (the centre pixel lies inside both masks, 5 px from any edge
     * of the prediction... the centre column x = 25 is voxel i = 4, inside both) */
    const uint8_t *c = fig.rgb + ((size_t)30 * fig.width + 25) * 3;
    ck_assert_int_eq(c[0], 128);
    ck_assert_int_eq(c[1], 128);
    ck_assert_int_eq(c[2], 128);
    /* identity affine: i increases world x, so the columns show decreasing i (radiological):
     * the FP column i = 6 is at the left edge, where the prediction contour (magenta) runs
     * inside the prediction; the FN column i = 2 at the right edge is outside the prediction
     * and inside the reference: grey, except the reference contour (outside the reference,
     * i.e. outside the crop) - so at the right edge the pixel stays grey. */
    const uint8_t *left = fig.rgb + ((size_t)30 * fig.width + 0) * 3;
    const uint8_t magenta[3] = {PS_SLICE_PRED_RGB};
    ck_assert(!memcmp(left, magenta, 3));
    const uint8_t *right = fig.rgb + ((size_t)30 * fig.width + 49) * 3;
    ck_assert_int_eq(right[0], 128);
    ps_slice_figure_clear(&fig);
    /* a margin shows the reference contour outside the reference (cyan) */
    o.margin_mm = 4;
    ck_assert_int_eq(ps_slice_render(im, ref, pred, &o, &fig), PS_OK);
    int ncyan = 0;
    for (int p = 0; p < fig.width * fig.height; p++)
        ncyan += fig.rgb[3 * p] == 0x00 && fig.rgb[3 * p + 1] == 0xE5 && fig.rgb[3 * p + 2] == 0xFF;
    ck_assert_int_gt(ncyan, 0);
    ps_slice_figure_clear(&fig);
    ps_volume_free(im);
    ps_volume_free(ref);
    ps_volume_free(pred);
}
END_TEST

START_TEST(test_slice_mri_window)
{
    ps_volume *im, *ref, *pred;
    phantom(&im, &ref, &pred, NAN); /* image value i + 10 j: 0..79 in each slice */
    ps_slice_options o;
    ps_slice_options_init(&o);
    o.margin_mm = 0;
    o.size_px = 60;
    ps_slice_figure fig;
    ck_assert_int_eq(ps_slice_render(im, ref, pred, &o, &fig), PS_OK);
    /* slice values are the 80 numbers 0..79 (each once): type-7 quantiles
     * q(0.01) = 0.79, q(0.99) = 78.21. The centre pixel (x 25 -> column 2 of 5 from the left
     * -> i = 6 - 2 = 4; y 30 -> row 1 of 3 from the top -> j = 4 - 1 = 3) has value 34:
     * grey (34 - 0.79) / 77.42 * 255 = 109.38 -> 109. */
    const uint8_t *c = fig.rgb + ((size_t)30 * fig.width + 25) * 3;
    ck_assert_int_eq(c[0], 109);
    ps_slice_figure_clear(&fig);
    /* a grid mismatch is an error */
    ps_geometry g;
    ps_geometry_init(&g, 10, 8, 4, 1.0, 2.0, 3.0);
    ps_volume *other;
    ck_assert_int_eq(ps_volume_create(&g, 1, PS_DT_UINT8, &other), PS_OK);
    ck_assert_int_eq(ps_slice_render(im, ref, other, &o, &fig), PS_ERR_GEOMETRY);
    ck_assert_ptr_null(fig.rgb);
    ps_volume_free(other);
    ps_volume_free(im);
    ps_volume_free(ref);
    ps_volume_free(pred);
}
END_TEST


START_TEST(test_worst_rows)
{
    /* rows 0..6; model A's Dice 0.9, 0.5, nan, 0.5, 0.7, and an error row with 0.1 */
    static const char csv[] = "case,model,status,dice,hd95\n"
                              "c1,A,ok,0.9,2\n"
                              "c2,A,ok,0.5,9\n"
                              "c3,A,pred_empty,nan,nan\n"
                              "c4,B,ok,0.1,50\n"
                              "c5,A,ok,0.5,inf\n"
                              "c6,A,ok,0.7,3\n"
                              "c7,A,error,0.1,1\n";
    ps_table *t = NULL;
    ck_assert_int_eq(ps_table_parse(csv, strlen(csv), "pc.csv", &t), PS_OK);
    int64_t rows[5];
    /* lowest Dice first, ties in table order: c2 (row 1), c5 (row 4), c6 (row 5) */
    ck_assert_int_eq(ps_report_worst_rows(t, "A", "dice", 0, 3, rows), 3);
    ck_assert_int_eq(rows[0], 1);
    ck_assert_int_eq(rows[1], 4);
    ck_assert_int_eq(rows[2], 5);
    /* all of them: 4 numeric rows of A (nan and error skipped), c1 last */
    ck_assert_int_eq(ps_report_worst_rows(t, "A", "dice", 0, 5, rows), 4);
    ck_assert_int_eq(rows[3], 0);
    /* highest HD95 first: inf (c5), 9 (c2) */
    ck_assert_int_eq(ps_report_worst_rows(t, "A", "hd95", 1, 2, rows), 2);
    ck_assert_int_eq(rows[0], 4);
    ck_assert_int_eq(rows[1], 1);
    ck_assert_int_eq(ps_report_worst_rows(t, "A", "nsd", 0, 2, rows), PS_ERR_ARG);
    ck_assert_int_eq(ps_report_worst_rows(t, "none", "dice", 0, 2, rows), 0);
    ps_table_free(t);
}
END_TEST

/* ---- plots ---------------------------------------------------------------------------------------- */
START_TEST(test_box_plot)
{
    const double a[] = {1, 2, 3, 4, 100}, b[] = {5, NAN, 6}, c[] = {7}, d[] = {2, 3};
    const double *vals[] = {a, b, c, d};
    const size_t n[] = {5, 3, 1, 2};
    const char *groups[] = {"CT", "T1W <&>"}, *series[] = {"modelA", "modelB"};
    ps_plot_box p = {"Dice", "Dice (%)", 2, 2, groups, series, vals, n, 1};
    char *s1 = NULL, *s2 = NULL;
    RENDER(ps_plot_box_svg, &p, s1);
    RENDER(ps_plot_box_svg, &p, s2);
    ck_assert_str_eq(s1, s2); /* deterministic */
    ck_assert_int_eq(count_of(s1, "<g class=\"box\""), 4);
    ck_assert_int_eq(count_of(s1, "<circle class=\"pt\""), 10); /* the 10 finite values */
    ck_assert_int_eq(count_of(s1, "1 not shown"), 1);           /* the NaN of group CT */
    ck_assert_ptr_nonnull(strstr(s1, "T1W &lt;&amp;&gt;"));     /* escaped */
    ck_assert_ptr_null(strstr(s1, "id="));                      /* no ids: many plots per page */
    free(s1);
    free(s2);
}
END_TEST

START_TEST(test_scatter_and_bland_altman)
{
    /* x 1..5, y 2,4,5,4,5: Sxy = 6, Sxx = 10, Syy = 6, R² = 36 / 60 = 0.6 (hand) */
    const double x[] = {1, 2, 3, 4, 5, NAN}, y[] = {2, 4, 5, 4, 5, 1};
    const double *xs[] = {x}, *ys[] = {y};
    const size_t n[] = {6};
    const char *names[] = {"modelA"};
    ps_plot_scatter sp = {"Volume", "ref (ml)", "pred (ml)", 1, names, xs, ys, n, 1, 0};
    char *s = NULL;
    RENDER(ps_plot_scatter_svg, &sp, s);
    ck_assert_ptr_nonnull(strstr(s, "modelA: R\xc2\xb2 = 0.600 (n = 5)"));
    ck_assert_int_eq(count_of(s, "<circle class=\"pt\""), 5);
    ck_assert_int_eq(count_of(s, "class=\"ols\""), 1);
    ck_assert_int_eq(count_of(s, "class=\"identity\""), 1);
    free(s);
    /* x 1,2,3, y 2,4,3: d = 1,2,0, bias 1, SD 1, LoA 1 -+ 1.959964 = -0.96, 2.96 (hand) */
    const double bx[] = {1, 2, 3}, by[] = {2, 4, 3};
    const double *bxs[] = {bx}, *bys[] = {by};
    const size_t bn[] = {3};
    ps_plot_bland_altman bp = {"BA", "mean", "diff", 1, names, bxs, bys, bn, 2};
    RENDER(ps_plot_bland_altman_svg, &bp, s);
    ck_assert_ptr_nonnull(strstr(s, "modelA: bias 1.00, LoA -0.96 to 2.96 (n = 3)"));
    ck_assert_int_eq(count_of(s, "class=\"loa\""), 2);
    ck_assert_int_eq(count_of(s, "class=\"bias\""), 1);
    free(s);
    /* too few points: the legend says so, the plot is still drawn */
    const size_t one[] = {1};
    sp.n = one;
    RENDER(ps_plot_scatter_svg, &sp, s);
    ck_assert_ptr_nonnull(strstr(s, "R\xc2\xb2 n/a (n = 1)"));
    free(s);
}
END_TEST

START_TEST(test_heatmap)
{
    const char *rows[] = {"modelA", "modelB"}, *cols[] = {"site1", "site2", "site3"};
    const double v[] = {92.44, 93.5, NAN, 79.0, 80.4, 45.7};
    ps_plot_heatmap h = {"Dice", "model", "center", "Dice (%)", 2, 3, rows, cols, v, 1, NAN, NAN};
    char *s = NULL;
    RENDER(ps_plot_heatmap_svg, &h, s);
    ck_assert_int_eq(count_of(s, "<g class=\"cell\""), 6);
    ck_assert_ptr_nonnull(strstr(s, ">92.4</text>"));
    ck_assert_ptr_nonnull(strstr(s, "fill=\"#E0E0E0\""));    /* the NaN cell is grey ... */
    ck_assert_ptr_nonnull(strstr(s, ">-</text>"));           /* ... and shows "-" */
    ck_assert_ptr_nonnull(strstr(s, "fill=\"#440154\""));    /* the minimum: first viridis stop */
    ck_assert_ptr_nonnull(strstr(s, "fill=\"#FDE725\""));    /* the maximum: last stop */
    free(s);
    h.nrows = 0;
    FILE *f = fopen("/dev/null", "w");
    ck_assert_int_eq(ps_plot_heatmap_svg(f, &h), PS_ERR_ARG);
    fclose(f);
}
END_TEST

/* ---- documents -------------------------------------------------------------------------------------- */
static const char summary_csv[] =
    "model,modality,n_rows,dice_mean,dice_sd,note\n"
    "modelA,CT,8,0.88349999999999995,0.072000000000000008,a_b\n"
    "model B,T1W,7,nan,0.5,50% & more\n";

static char *render_doc(const ps_doc *d, ps_doc_format fmt)
{
    char *s = NULL;
    size_t len;
    FILE *f = open_memstream(&s, &len);
    ck_assert_int_eq(ps_doc_write(d, f, fmt), PS_OK);
    fclose(f);
    return s;
}

START_TEST(test_document)
{
    ps_table *t = NULL;
    ck_assert_int_eq(ps_table_parse(summary_csv, strlen(summary_csv), "by_modality.csv", &t), PS_OK);
    ps_doc *d = NULL;
    ck_assert_int_eq(ps_doc_create("Report <1>", &d), PS_OK);
    ck_assert_int_eq(ps_doc_section(d, "modality", "Per modality"), PS_OK);
    ck_assert_int_eq(ps_doc_paragraph(d, "Dice in [0, 1]; see \"notes\"."), PS_OK);
    ck_assert_int_eq(ps_doc_paragraph(d, "see --notes: \xc2\xb1 \xe2\x88\x92 \xc3\x97 \xc2\xb2"), PS_OK);
    static const ps_doc_column cols[] = {{"model", "{model}", 0},
                                         {"Dice", "{dice_mean:3} \xc2\xb1 {dice_sd:3}", 1},
                                         {"note", "{note}", 0},
                                         {"n", "{n_rows}\n[{modality}]", 1}};
    ps_doc_table spec = {.id = "by_modality", .caption = "Per modality", .note = "Rule: x_y.",
                         .source = "by_modality.csv", .row_key = "{model}-{modality}", .ncols = 4,
                         .cols = cols};
    ck_assert_int_eq(ps_doc_add_table(d, &spec, t), PS_OK);
    unsigned char fake_png[] = {1, 2, 3};
    ck_assert_int_eq(ps_doc_add_png(d, fake_png, 3, 10, 20, "worst", "#by_modality-modelA-CT"), PS_OK);
    ck_assert_int_eq(ps_doc_add_svg(d, "<svg class=\"plot\"></svg>\n", "a plot"), PS_OK);

    char *html = render_doc(d, PS_DOC_HTML);
    /* the shown number is the CSV cell rounded; the CSV text rides along */
    ck_assert_ptr_nonnull(strstr(html, "<span data-c=\"dice_mean\" data-v=\"0.88349999999999995\" "
                                       "title=\"0.88349999999999995\">0.883</span> \xc2\xb1 "
                                       "<span data-c=\"dice_sd\" data-v=\"0.072000000000000008\" "
                                       "title=\"0.072000000000000008\">0.072</span>"));
    ck_assert_ptr_nonnull(strstr(html, "<tr id=\"by_modality-modelA-CT\" data-r=\"0\">"));
    ck_assert_ptr_nonnull(strstr(html, "<tr id=\"by_modality-model_B-T1W\" data-r=\"1\">"));
    ck_assert_ptr_nonnull(strstr(html, ">nan</span>"));
    ck_assert_ptr_nonnull(strstr(html, "<td class=\"num\">8<br>[CT]</td>")); /* "\n": a line break */
    ck_assert_ptr_nonnull(strstr(html, "50% &amp; more"));
    ck_assert_ptr_nonnull(strstr(html, "<title>Report &lt;1&gt;</title>"));
    ck_assert_ptr_nonnull(strstr(html, "<li><a href=\"#modality\">Per modality</a></li>"));
    ck_assert_ptr_nonnull(strstr(html, "<a href=\"#by_modality-modelA-CT\"><img class=\"slice\" "
                                       "width=\"10\" height=\"20\" alt=\"worst\" "
                                       "src=\"data:image/png;base64,AQID\">"));
    ck_assert_ptr_nonnull(strstr(html, "<p class=\"note\">Rule: x_y.</p>"));
    ck_assert_ptr_nonnull(strstr(html, "@media print"));
    ck_assert_ptr_null(strstr(html, "<script"));
    free(html);

    char *md = render_doc(d, PS_DOC_MARKDOWN);
    ck_assert_ptr_nonnull(strstr(md, "| modelA | 0.883 \xc2\xb1 0.072 | a_b | 8 [CT] |"));
    ck_assert_ptr_nonnull(strstr(md, "|:---|---:|:---|---:|"));
    ck_assert_ptr_nonnull(strstr(md, "*Rule: x_y.*"));
    ck_assert_ptr_nonnull(strstr(md, "see report.html"));
    free(md);

    char *tex = render_doc(d, PS_DOC_LATEX);
    /* a two-line cell is a top-aligned nested tabular; "\\{}" keeps "[" from being an option */
    ck_assert_ptr_nonnull(strstr(tex, "modelA & 0.883 $\\pm$ 0.072 & a\\_b & "
                                      "\\begin{tabular}[t]{@{}r@{}}8\\\\{}[CT]\\end{tabular} \\\\"));
    ck_assert_ptr_nonnull(strstr(tex, "model B & nan $\\pm$ 0.500 & 50\\% \\& more & "));
    ck_assert_ptr_nonnull(strstr(tex, "\\toprule"));
    ck_assert_ptr_nonnull(strstr(tex, "see -{}-notes"));   /* "--" is no en dash */
    ck_assert_ptr_nonnull(strstr(tex, "$\\pm$ $-$ $\\times$ \\textsuperscript{2}"));
    ck_assert_ptr_nonnull(strstr(tex, "\\bottomrule"));
    ck_assert_ptr_nonnull(strstr(tex, "\\title{Report \\textless{}1\\textgreater{}}"));
    free(tex);

    /* errors leave the document as it was */
    static const ps_doc_column bad_col[] = {{"x", "{no_such_column}", 0}};
    ps_doc_table bad = {.id = "bad", .ncols = 1, .cols = bad_col};
    ck_assert_int_eq(ps_doc_add_table(d, &bad, t), PS_ERR_ARG);
    ck_assert_ptr_nonnull(strstr(ps_error_message(), "no_such_column"));
    static const ps_doc_column text_as_number[] = {{"x", "{model:2}", 0}};
    bad.cols = text_as_number;
    ck_assert_int_eq(ps_doc_add_table(d, &bad, t), PS_ERR_FORMAT);
    ck_assert_ptr_nonnull(strstr(ps_error_message(), "by_modality.csv"));
    static const ps_doc_column unclosed[] = {{"x", "{model", 0}};
    bad.cols = unclosed;
    ck_assert_int_eq(ps_doc_add_table(d, &bad, t), PS_ERR_ARG);
    html = render_doc(d, PS_DOC_HTML);
    ck_assert_ptr_null(strstr(html, "id=\"bad\""));
    free(html);
    ck_assert_int_eq(ps_doc_section(d, "two words", "x"), PS_ERR_ARG);
    char *a = ps_doc_anchor("per_case", "ct 01/é-modelA");
    ck_assert_str_eq(a, "per_case-ct_01___-modelA"); /* é is two bytes: two '_' */
    free(a);
    ps_doc_free(d);
    ps_table_free(t);
}
END_TEST

/* ---- published values ---------------------------------------------------------------------------------- */
START_TEST(test_published_shipped)
{
    ps_published *p = NULL;
    ck_assert_int_eq(ps_published_read(ps_test_path("../data-manifests/published/pansegnet.tsv"), &p),
                     PS_OK);
    ck_assert_int_eq(p->nrows, 8);
    /* MedIA 99 (2025) 103382, abstract: Dice 88.3 +- 7.2 (CT), R² 0.84 (T1W), kappa 0.638 (T2W) */
    const ps_published_row *r = ps_published_find(p, "CT", "dice_pct");
    ck_assert_ptr_nonnull(r);
    ck_assert_close(r->value, 88.3, PS_TOL_EXACT);
    ck_assert_close(r->sd, 7.2, PS_TOL_EXACT);
    r = ps_published_find(p, "T1W", "volume_r2");
    ck_assert_close(r->value, 0.84, PS_TOL_EXACT);
    ck_assert(isnan(r->sd));
    r = ps_published_find(p, "T2W", "kappa_inter");
    ck_assert_close(r->value, 0.638, PS_TOL_EXACT);
    ck_assert_str_eq(r->source, "MedIA 99 (2025) 103382");
    ck_assert_ptr_null(ps_published_find(p, "CT", "kappa_inter"));
    ps_published_free(p);
}
END_TEST

static int read_text(const char *text, ps_published **p)
{
    const char *path = ps_test_tmp("published_test.tsv");
    FILE *f = fopen(path, "w");
    fputs(text, f);
    fclose(f);
    return ps_published_read(path, p);
}

START_TEST(test_published_errors)
{
    ps_published *p = NULL;
    ck_assert_int_eq(read_text("modality\tmetric\tvalue\tsd\tsource\nCT\tdice_pct\t88\t\tx\n"
                               "CT\tdice_pct\t87\t1\ty\n", &p), PS_ERR_FORMAT);
    ck_assert_ptr_nonnull(strstr(ps_error_message(), "line 3"));
    ck_assert_ptr_nonnull(strstr(ps_error_message(), "a second row for CT / dice_pct"));
    ck_assert_int_eq(read_text("modality\tmetric\tvalue\tsource\nCT\tdice_pct\t88\tx\n", &p),
                     PS_ERR_ARG);
    ck_assert_ptr_nonnull(strstr(ps_error_message(), "'sd'"));
    ck_assert_int_eq(read_text("modality\tmetric\tvalue\tsd\tsource\nCT\tdice_pct\tabc\t\tx\n", &p),
                     PS_ERR_FORMAT);
    ck_assert_ptr_nonnull(strstr(ps_error_message(), "abc"));
    ck_assert_int_eq(read_text("modality\tmetric\tvalue\tsd\tsource\n\tdice_pct\t1\t\tx\n", &p),
                     PS_ERR_FORMAT);
    ck_assert_ptr_nonnull(strstr(ps_error_message(), "empty modality"));
    ck_assert_ptr_null(p);
    ck_assert_int_ne(ps_published_read(ps_test_tmp("no_such_file.tsv"), &p), PS_OK);
}
END_TEST

static Suite *make_suite(void)
{
    Suite *s = suite_create("report");
    TCase *tc = tcase_create("render");
    tcase_add_test(tc, test_fmt);
    tcase_add_test(tc, test_ticks);
    tcase_add_test(tc, test_base64);
    tcase_add_test(tc, test_png_roundtrip);
    tcase_add_test(tc, test_slice_choice_and_aspect);
    tcase_add_test(tc, test_slice_mri_window);
    tcase_add_test(tc, test_worst_rows);
    tcase_add_test(tc, test_box_plot);
    tcase_add_test(tc, test_scatter_and_bland_altman);
    tcase_add_test(tc, test_heatmap);
    tcase_add_test(tc, test_document);
    tcase_add_test(tc, test_published_shipped);
    tcase_add_test(tc, test_published_errors);
    suite_add_tcase(s, tc);
    return s;
}

PS_TEST_MAIN(make_suite)
