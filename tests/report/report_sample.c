/* report_sample.c - build a report from a demo metrics table with every element the HTML
 * report has (tables with row anchors, box plots, heat map, scatter, Bland-Altman, worst-case
 * slice figures linked to their rows), for the browser test (test_report_browser.sh).
 *
 * usage: report_sample MANIFEST.tsv METRICS.csv OUT_DIR
 * Writes OUT_DIR/by_model_modality.csv, report.html, report.md and report.tex.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ps_io.h"
#include "ps_manifest.h"
#include "ps_reports.h"

#define MAXG 64

static int fail(int rc)
{
    fprintf(stderr, "report_sample: %s\n", ps_error_message());
    return rc ? 1 : 0;
}

static int find(char names[][64], int n, const char *s)
{
    for (int i = 0; i < n; i++)
        if (!strcmp(names[i], s))
            return i;
    return -1;
}

/* An SVG plot written by `draw` into a string, added to the document. */
#define ADD_PLOT(doc, draw, spec, caption)                                   \
    do {                                                                     \
        char *svg_ = NULL;                                                   \
        size_t len_ = 0;                                                     \
        FILE *mf_ = open_memstream(&svg_, &len_);                            \
        int rc_ = mf_ ? draw(mf_, spec) : PS_ERR_NOMEM;                      \
        if (mf_)                                                             \
            fclose(mf_);                                                     \
        if (!rc_)                                                            \
            rc_ = ps_doc_add_svg(doc, svg_, caption);                        \
        free(svg_);                                                          \
        if (rc_)                                                             \
            return fail(rc_);                                                \
    } while (0)

int main(int argc, char **argv)
{
    if (argc != 4) {
        fprintf(stderr, "usage: report_sample MANIFEST.tsv METRICS.csv OUT_DIR\n");
        return 2;
    }
    const char *out = argv[3];
    ps_table *t = NULL;
    ps_manifest *m = NULL;
    int rc;
    if ((rc = ps_table_read(argv[2], &t)) || (rc = ps_manifest_read(argv[1], NULL, &m)))
        return fail(rc);
    int c_case = ps_table_col(t, "case"), c_model = ps_table_col(t, "model");
    int c_mod = ps_table_col(t, "modality"), c_center = ps_table_col(t, "center");
    int c_dice = ps_table_col(t, "dice"), c_hd = ps_table_col(t, "hd95");
    int c_vr = ps_table_col(t, "vol_ref_ml"), c_vp = ps_table_col(t, "vol_pred_ml");
    int c_label = ps_table_col(t, "label");

    /* group values by (modality | center) x model */
    static char models[MAXG][64], mods[MAXG][64], centers[MAXG][64];
    int nmodel = 0, nmod = 0, ncenter = 0;
    for (int64_t r = 0; r < t->nrows; r++) {
        if (find(models, nmodel, t->cells[r][c_model]) < 0 && nmodel < MAXG)
            snprintf(models[nmodel++], 64, "%s", t->cells[r][c_model]);
        if (find(mods, nmod, t->cells[r][c_mod]) < 0 && nmod < MAXG)
            snprintf(mods[nmod++], 64, "%s", t->cells[r][c_mod]);
        if (find(centers, ncenter, t->cells[r][c_center]) < 0 && ncenter < MAXG)
            snprintf(centers[ncenter++], 64, "%s", t->cells[r][c_center]);
    }
    size_t nr = (size_t)t->nrows;
    double *dice_mod = calloc((size_t)nmod * nmodel * nr, sizeof(double));
    double *hd_mod = calloc((size_t)nmod * nmodel * nr, sizeof(double));
    double *dice_ctr = calloc((size_t)ncenter * nmodel * nr, sizeof(double));
    size_t *n_mod = calloc((size_t)nmod * nmodel, sizeof(size_t));
    size_t *n_ctr = calloc((size_t)ncenter * nmodel, sizeof(size_t));
    double *vr = calloc((size_t)nmodel * nr, sizeof(double)), *vp = calloc((size_t)nmodel * nr, sizeof(double));
    size_t *n_vol = calloc((size_t)nmodel, sizeof(size_t));
    for (int64_t r = 0; r < t->nrows; r++) {
        int mi = find(models, nmodel, t->cells[r][c_model]);
        int gi = find(mods, nmod, t->cells[r][c_mod]);
        int ci = find(centers, ncenter, t->cells[r][c_center]);
        double d = NAN, h = NAN, a = NAN, b = NAN;
        ps_table_get_double(t, r, c_dice, &d);
        ps_table_get_double(t, r, c_hd, &h);
        ps_table_get_double(t, r, c_vr, &a);
        ps_table_get_double(t, r, c_vp, &b);
        ps_error_clear();
        size_t bm = (size_t)gi * nmodel + mi, bc = (size_t)ci * nmodel + mi;
        dice_mod[bm * nr + n_mod[bm]] = 100 * d;
        hd_mod[bm * nr + n_mod[bm]++] = h;
        dice_ctr[bc * nr + n_ctr[bc]++] = 100 * d;
        vr[(size_t)mi * nr + n_vol[mi]] = a;
        vp[(size_t)mi * nr + n_vol[mi]++] = b;
    }
    const double *v_dm[MAXG * 4], *v_hm[MAXG * 4], *v_dc[MAXG * 4], *v_r[MAXG], *v_p[MAXG];
    const char *mname[MAXG], *gname[MAXG], *cname[MAXG];
    for (int i = 0; i < nmodel; i++) {
        mname[i] = models[i];
        v_r[i] = vr + (size_t)i * nr;
        v_p[i] = vp + (size_t)i * nr;
    }
    for (int i = 0; i < nmod; i++)
        gname[i] = mods[i];
    for (int i = 0; i < ncenter; i++)
        cname[i] = centers[i];
    for (int b = 0; b < nmod * nmodel && b < MAXG * 4; b++) {
        v_dm[b] = dice_mod + (size_t)b * nr;
        v_hm[b] = hd_mod + (size_t)b * nr;
    }
    for (int b = 0; b < ncenter * nmodel && b < MAXG * 4; b++)
        v_dc[b] = dice_ctr + (size_t)b * nr;

    /* the summary table, written as CSV and read back: the report shows the file's numbers */
    char path[4096];
    snprintf(path, sizeof path, "%s/by_model_modality.csv", out);
    const char *by[] = {"model", "modality"};
    const char *met[] = {"dice", "hd95"};
    ps_report *rep = NULL;
    ps_atomic_file *af = NULL;
    if ((rc = ps_report_summarize(t, by, 2, met, 2, &rep)) || (rc = ps_atomic_open(path, &af)) ||
        (rc = ps_report_write(rep, ps_atomic_stream(af), PS_REPORT_CSV, 0)) ||
        (rc = ps_atomic_commit(af)))
        return fail(rc);
    ps_table *sum = NULL;
    if ((rc = ps_table_read(path, &sum)))
        return fail(rc);

    ps_doc *doc = NULL;
    if ((rc = ps_doc_create("panseval report (browser test sample)", &doc)))
        return fail(rc);
    static const ps_doc_column sum_cols[] = {
        {"model", "{model}", 0},
        {"modality", "{modality}", 0},
        {"n", "{n_rows} ({n_ok} ok, {n_pred_empty} pred empty, {n_error} error)", 0},
        {"Dice", "{dice_mean:3} \xc2\xb1 {dice_sd:3}", 1},
        {"Dice median [IQR]", "{dice_median:3} [{dice_q1:3}, {dice_q3:3}]", 1},
        {"HD95 (mm)", "{hd95_mean:2} \xc2\xb1 {hd95_sd:2}", 1},
    };
    ps_doc_table st = {.id = "by_modality", .caption = "Per model and modality",
                       .note = "Rows with status=error enter no metric; NaN distances of empty "
                               "masks are counted and left out.",
                       .source = "by_model_modality.csv", .ncols = 6, .cols = sum_cols};
    static const ps_doc_column case_cols[] = {
        {"case", "{case}", 0},     {"model", "{model}", 0},  {"modality", "{modality}", 0},
        {"center", "{center}", 0}, {"status", "{status}", 0}, {"Dice", "{dice:4}", 1},
        {"HD95 (mm)", "{hd95:2}", 1}, {"ref (ml)", "{vol_ref_ml:2}", 1},
        {"pred (ml)", "{vol_pred_ml:2}", 1},
    };
    ps_doc_table ct = {.id = "per_case", .caption = "Per case", .source = "metrics.csv",
                       .row_key = "{case}-{model}-{label}", .ncols = 9, .cols = case_cols,
                       .scroll = 1};
    if ((rc = ps_doc_section(doc, "modality", "Per modality")) ||
        (rc = ps_doc_paragraph(doc, "Dice in [0, 1] in the table and in percent in the plots.")) ||
        (rc = ps_doc_add_table(doc, &st, sum)))
        return fail(rc);
    size_t nbm[MAXG * 4], nbc[MAXG * 4];
    for (int b = 0; b < nmod * nmodel; b++)
        nbm[b] = n_mod[b];
    for (int b = 0; b < ncenter * nmodel; b++)
        nbc[b] = n_ctr[b];
    ps_plot_box bd = {"Dice per modality", "Dice (%)", nmod, nmodel, gname, mname, v_dm, nbm, 1};
    ps_plot_box bh = {"HD95 per modality", "HD95 (mm)", nmod, nmodel, gname, mname, v_hm, nbm, 1};
    ps_plot_box bc = {"Dice per center", "Dice (%)", ncenter, nmodel, cname, mname, v_dc, nbc, 1};
    ADD_PLOT(doc, ps_plot_box_svg, &bd, "Dice per modality and model; points are cases.");
    ADD_PLOT(doc, ps_plot_box_svg, &bh, "HD95 per modality and model.");
    if ((rc = ps_doc_section(doc, "center", "Per center")))
        return fail(rc);
    ADD_PLOT(doc, ps_plot_box_svg, &bc, "Dice per center and model.");
    double *heat = calloc((size_t)nmodel * ncenter, sizeof(double));
    for (int i = 0; i < nmodel; i++)
        for (int c = 0; c < ncenter; c++) {
            size_t b = (size_t)c * nmodel + i;
            double s = 0;
            for (size_t k = 0; k < n_ctr[b]; k++)
                s += dice_ctr[b * nr + k];
            heat[i * ncenter + c] = n_ctr[b] ? s / n_ctr[b] : NAN;
        }
    ps_plot_heatmap hm = {"Mean Dice (%): model x test center", "model", "test center", "Dice (%)",
                          nmodel, ncenter, mname, cname, heat, 1, NAN, NAN};
    ADD_PLOT(doc, ps_plot_heatmap_svg, &hm, "Cross-center Dice matrix.");
    if ((rc = ps_doc_section(doc, "volume", "Volume agreement")))
        return fail(rc);
    ps_plot_scatter sc = {"Predicted vs reference volume", "reference volume (ml)",
                          "predicted volume (ml)", nmodel, mname, v_r, v_p, n_vol, 1};
    ps_plot_bland_altman ba = {"Bland-Altman", "mean of reference and prediction (ml)",
                               "prediction - reference (ml)", nmodel, mname, v_r, v_p, n_vol, 2};
    ADD_PLOT(doc, ps_plot_scatter_svg, &sc, "OLS line per model; dashed: identity.");
    ADD_PLOT(doc, ps_plot_bland_altman_svg, &ba, "Bias (solid) and 95% limits of agreement (dashed).");

    /* worst cases: the 5 lowest Dice per model */
    if ((rc = ps_doc_section(doc, "worst", "Worst cases")) ||
        (rc = ps_doc_paragraph(doc, "Reference contour cyan, prediction magenta; the axial slice "
                                    "with the most FP + FN voxels.")))
        return fail(rc);
    for (int mi = 0; mi < nmodel; mi++) {
        int64_t pick[5];
        int np = ps_report_worst_rows(t, models[mi], "dice", 0, 5, pick);
        if (np < 0)
            return fail(np);
        for (int q = 0; q < np; q++) {
            int64_t r = pick[q];
            int64_t ci = ps_manifest_find_case(m, t->cells[r][c_case]);
            const char *pp = ps_manifest_pred_path(m, ci, models[mi]);
            ps_volume *im = NULL, *ref = NULL, *pred = NULL;
            ps_slice_options so;
            ps_slice_options_init(&so);
            so.ct = !strcmp(m->cases[ci].modality, "CT");
            so.label = atoi(t->cells[r][c_label]);
            ps_slice_figure fig;
            unsigned char *png = NULL;
            size_t plen = 0;
            if ((rc = ps_volume_read_float(m->cases[ci].image, &im)) ||
                (rc = ps_volume_read_labels(m->cases[ci].ref, &ref)) ||
                (rc = ps_volume_read_labels(pp, &pred)) ||
                (rc = ps_slice_render(im, ref, pred, &so, &fig)) ||
                (rc = ps_png_encode_rgb(fig.rgb, fig.width, fig.height, &png, &plen)))
                return fail(rc);
            char key[256], cap[512];
            snprintf(key, sizeof key, "%s-%s-%s", t->cells[r][c_case], models[mi], t->cells[r][c_label]);
            char *anchor = ps_doc_anchor("per_case", key);
            char *href = ps_asprintf("#%s", anchor);
            char dice_s[32];
            double d;
            ps_table_get_double(t, r, c_dice, &d);
            ps_report_fmt(d, 4, dice_s, sizeof dice_s);
            snprintf(cap, sizeof cap, "%s, %s: Dice %s, slice k = %lld (%lld FP, %lld FN voxels)",
                     t->cells[r][c_case], models[mi], dice_s, (long long)fig.k, (long long)fig.fp_vox,
                     (long long)fig.fn_vox);
            rc = ps_doc_add_png(doc, png, plen, fig.width, fig.height, cap, href);
            free(anchor);
            free(href);
            free(png);
            ps_slice_figure_clear(&fig);
            ps_volume_free(im);
            ps_volume_free(ref);
            ps_volume_free(pred);
            if (rc)
                return fail(rc);
        }
    }
    if ((rc = ps_doc_section(doc, "cases", "Per-case table")) || (rc = ps_doc_add_table(doc, &ct, t)))
        return fail(rc);
    static const char *const names[] = {"report.html", "report.md", "report.tex"};
    for (int f = 0; f < 3; f++) {
        snprintf(path, sizeof path, "%s/%s", out, names[f]);
        if ((rc = ps_atomic_open(path, &af)) ||
            (rc = ps_doc_write(doc, ps_atomic_stream(af), (ps_doc_format)f)) ||
            (rc = ps_atomic_commit(af)))
            return fail(rc);
    }
    ps_doc_free(doc);
    ps_report_free(rep);
    ps_table_free(sum);
    ps_table_free(t);
    ps_manifest_free(m);
    free(dice_mod);
    free(hd_mod);
    free(dice_ctr);
    free(n_mod);
    free(n_ctr);
    free(vr);
    free(vp);
    free(n_vol);
    free(heat);
    return 0;
}
