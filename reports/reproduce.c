/* reproduce.c - the paper's tables and the report from per-case tables (`panseval reproduce`
 * after its evaluation step).
 *
 * Every table comes from the analyses of this module, on the same rows and with the same
 * exclusion rule as the single commands (summary, compare, volume): ps_report_summary,
 * ps_report_compare, ps_report_volume. This file only chooses their groupings and columns,
 * derives what the paper states differently (Dice in percent: dice_pct_* = 100 x dice_*,
 * each statistic of the scaled values computed as the scaled statistic), joins published
 * values, and hands every table to the renderers: CSV and JSON files, then report.md,
 * report.tex and report.html rendered from the CSV files as written (document.c), so every
 * number of the reports is the rounding of the CSV's number.
 *
 * Volume agreement adds the paired t-test of predicted against reference volume
 * (ps_stats_ttest_paired, d = pred - ref; R t.test(pred, ref, paired = TRUE)) on the pairs
 * that enter ps_report_volume (both volumes finite, status not error/missing).
 * Paired comparisons are corrected by Holm (ps_stats_padjust) across every row of
 * compare.csv: all models, modalities and metrics together.
 */
#include "ps_reports.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

void ps_reproduce_options_init(ps_reproduce_options *o)
{
    memset(o, 0, sizeof *o);
    o->level = 0.95;
    o->worst_k = 5;
    ps_slice_options_init(&o->slice);
}

/* ---- helpers ------------------------------------------------------------------------------------ */
static char *path_in(const char *dir, const char *name) { return ps_asprintf("%s/%s", dir, name); }

/* Write rt as <dir>/<base>.csv and .json; read the CSV back into *csv (NULL: not wanted). */
static int write_table(const ps_rtable *rt, const char *dir, const char *base, ps_table **csv)
{
    static const struct { const char *ext; ps_report_format f; } fmts[] = {
        {"csv", PS_REPORT_CSV}, {"json", PS_REPORT_JSON}};
    int rc = PS_OK;
    for (int i = 0; i < 2 && !rc; i++) {
        char *name = ps_asprintf("%s/%s.%s", dir, base, fmts[i].ext);
        ps_atomic_file *af = NULL;
        if (!name)
            return PS_ERR_NOMEM;
        if (!(rc = ps_atomic_open(name, &af))) {
            rc = ps_rtable_write(rt, ps_atomic_stream(af), fmts[i].f);
            if (rc)
                ps_atomic_abort(af);
            else
                rc = ps_atomic_commit(af);
        }
        if (!rc && i == 0 && csv)
            rc = ps_table_read(name, csv);
        free(name);
    }
    return rc ? ps_error_context(rc, "%s", base) : PS_OK;
}

/* The distinct values of column `col` among the rows of t, in order of first appearance. */
static int distinct(const ps_table *t, const char *col, char ***out, int *n)
{
    *out = NULL;
    *n = 0;
    int c = ps_table_col(t, col);
    if (c < 0)
        return PS_OK;
    char **v = ps_calloc((size_t)t->nrows + 1, sizeof *v);
    if (!v)
        return PS_ERR_NOMEM;
    int k = 0;
    for (int64_t r = 0; r < t->nrows; r++) {
        int seen = 0;
        for (int i = 0; i < k && !seen; i++)
            seen = !strcmp(v[i], t->cells[r][c]);
        if (!seen)
            v[k++] = t->cells[r][c]; /* borrowed from t */
    }
    *out = v;
    *n = k;
    return PS_OK;
}

/* Copy of rt with the columns dice_<stat> of the statistics in `scaled` renamed
 * dice_pct_<stat> and multiplied by 100. */
static int percent_copy(const ps_rtable *rt, ps_rtable **out)
{
    static const char *const scaled[] = {"mean", "sd", "median", "q1", "q3", "iqr",
                                         "min", "max", "ci_low", "ci_high"};
    ps_rtable *o = NULL;
    int rc = ps_rtable_create(&o);
    int nc = ps_rtable_ncols(rt);
    double *scale = ps_calloc((size_t)nc, sizeof *scale);
    if (!scale)
        rc = PS_ERR_NOMEM;
    for (int c = 0; c < nc && !rc; c++) {
        const char *name = ps_rtable_colname(rt, c);
        char buf[256];
        scale[c] = 1;
        snprintf(buf, sizeof buf, "%s", name);
        if (!strncmp(name, "dice_", 5))
            for (size_t s = 0; s < sizeof scaled / sizeof *scaled; s++)
                if (!strcmp(name + 5, scaled[s])) {
                    snprintf(buf, sizeof buf, "dice_pct_%s", scaled[s]);
                    scale[c] = 100;
                }
        rc = ps_rtable_add_col(o, buf, ps_rtable_kind(rt, c), PS_STYLE_G6, 0, 0);
    }
    for (int64_t r = 0; r < ps_rtable_nrows(rt) && !rc; r++)
        for (int c = 0; c < nc && !rc; c++) {
            switch (ps_rtable_kind(rt, c)) {
            case PS_CELL_STR: rc = ps_rtable_str(o, ps_rtable_cell_str(rt, r, c)); break;
            case PS_CELL_INT: rc = ps_rtable_int(o, (int64_t)ps_rtable_cell_num(rt, r, c)); break;
            case PS_CELL_NUM: rc = ps_rtable_num(o, ps_rtable_cell_num(rt, r, c) * scale[c]); break;
            }
        }
    free(scale);
    if (rc) {
        ps_rtable_free(o);
        return rc;
    }
    *out = o;
    return PS_OK;
}

/* Row of rt whose string columns k0 (and k1, if not NULL) hold v0 (v1); -1 if none. */
static int64_t find_row(const ps_rtable *rt, const char *k0, const char *v0, const char *k1,
                        const char *v1)
{
    int c0 = ps_rtable_find_col(rt, k0), c1 = k1 ? ps_rtable_find_col(rt, k1) : -1;
    if (c0 < 0 || (k1 && c1 < 0))
        return -1;
    for (int64_t r = 0; r < ps_rtable_nrows(rt); r++) {
        const char *a = ps_rtable_cell_str(rt, r, c0);
        const char *b = k1 ? ps_rtable_cell_str(rt, r, c1) : NULL;
        if (a && !strcmp(a, v0) && (!k1 || (b && !strcmp(b, v1))))
            return r;
    }
    return -1;
}

static double cell_num(const ps_rtable *rt, int64_t r, const char *col)
{
    int c = ps_rtable_find_col(rt, col);
    return r >= 0 && c >= 0 ? ps_rtable_cell_num(rt, r, c) : NAN;
}

/* ---- the tables ------------------------------------------------------------------------------------ */
static const char *const summary_metrics[] = {"dice", "hd95", "assd", "nsd", "precision",
                                              "sensitivity"};

static int table_summary(const ps_table *t, const char *const *by, int nby,
                         const char *const *metrics, int nmetrics, double level,
                         ps_rtable **out)
{
    ps_summary_options so;
    ps_summary_options_init(&so);
    so.by = by;
    so.nby = nby;
    so.metrics = metrics;
    so.nmetrics = nmetrics;
    so.level = level;
    ps_rtable *raw = NULL;
    int rc = ps_report_summary(t, &so, &raw);
    if (!rc)
        rc = percent_copy(raw, out);
    ps_rtable_free(raw);
    return rc;
}

/* Rows = models, columns = centers: the mean Dice (%) of by_center (pooled over modalities:
 * the summary by model, center). */
static int table_cross_center(const ps_table *pc, double level, ps_rtable **out)
{
    static const char *const by[] = {"model", "center"}, *const met[] = {"dice"};
    ps_rtable *s = NULL, *o = NULL;
    char **models = NULL, **centers = NULL;
    int nm = 0, nc = 0;
    int rc = table_summary(pc, by, 2, met, 1, level, &s);
    if (!rc)
        rc = distinct(pc, "model", &models, &nm);
    if (!rc)
        rc = distinct(pc, "center", &centers, &nc);
    if (!rc)
        rc = ps_rtable_create(&o);
    if (!rc)
        rc = ps_rtable_add_col(o, "model", PS_CELL_STR, 0, 0, 0);
    for (int c = 0; c < nc && !rc; c++)
        rc = ps_rtable_add_col(o, *centers[c] ? centers[c] : "-", PS_CELL_NUM, PS_STYLE_G6, 0, 0);
    for (int m = 0; m < nm && !rc; m++) {
        rc = ps_rtable_str(o, models[m]);
        for (int c = 0; c < nc && !rc; c++)
            rc = ps_rtable_num(o, cell_num(s, find_row(s, "model", models[m], "center", centers[c]),
                                           "dice_pct_mean"));
    }
    free(models);
    free(centers);
    ps_rtable_free(s);
    if (rc) {
        ps_rtable_free(o);
        return rc;
    }
    *out = o;
    return PS_OK;
}

static const char *const compare_cols[] = {"modality", "metric", "model_a", "model_b", "n",
                                           "n_excluded", "mean_a", "mean_b", "mean_diff",
                                           "sd_diff", "t", "df", "p_t", "ci_low", "ci_high",
                                           "wilcoxon_v", "p_wilcoxon"};
enum { NCOMPARE = sizeof compare_cols / sizeof *compare_cols };

/* Each model against the baseline per modality (Dice, HD95), Holm across the whole table. */
static int table_compare(const ps_table *pc, const char *baseline, double level, ps_rtable **out)
{
    char **models = NULL;
    int nm = 0, rc = distinct(pc, "model", &models, &nm);
    ps_rtable *o = NULL;
    double *pt = NULL, *pw = NULL;
    size_t np = 0, cap = 0;
    if (!rc)
        rc = ps_rtable_create(&o);
    for (int c = 0; c < NCOMPARE && !rc; c++) {
        ps_cell_kind k = c < 4 ? PS_CELL_STR : (c == 4 || c == 5) ? PS_CELL_INT : PS_CELL_NUM;
        rc = ps_rtable_add_col(o, compare_cols[c], k, PS_STYLE_G6, 0, 0);
    }
    if (!rc)
        rc = ps_rtable_add_col(o, "p_t_holm", PS_CELL_NUM, PS_STYLE_G6, 0, 0);
    if (!rc)
        rc = ps_rtable_add_col(o, "p_wilcoxon_holm", PS_CELL_NUM, PS_STYLE_G6, 0, 0);
    /* first pass: the tests; Holm needs every p before the first row can be finished, so the
     * rows are kept in a scratch table */
    ps_rtable *rows = NULL;
    if (!rc)
        rc = ps_rtable_create(&rows);
    for (int c = 0; c < NCOMPARE && !rc; c++) {
        ps_cell_kind k = c < 4 ? PS_CELL_STR : (c == 4 || c == 5) ? PS_CELL_INT : PS_CELL_NUM;
        rc = ps_rtable_add_col(rows, compare_cols[c], k, PS_STYLE_G6, 0, 0);
    }
    for (int m = 0; m < nm && !rc; m++) {
        if (!strcmp(models[m], baseline))
            continue;
        ps_compare_options co;
        ps_compare_options_init(&co);
        static const char *const met[] = {"dice", "hd95"}, *const by[] = {"modality"};
        co.metrics = met;
        co.nmetrics = 2;
        co.model_a = models[m];
        co.model_b = baseline;
        co.by = by;
        co.nby = 1;
        co.level = level;
        ps_rtable *r = NULL;
        if ((rc = ps_report_compare(pc, &co, &r)))
            break;
        for (int64_t i = 0; i < ps_rtable_nrows(r) && !rc; i++) {
            for (int c = 0; c < NCOMPARE && !rc; c++) {
                int src = ps_rtable_find_col(r, compare_cols[c]);
                if (src < 0)
                    rc = ps_error(PS_ERR_INTERNAL, "compare has no column %s", compare_cols[c]);
                else if (c < 4)
                    rc = ps_rtable_str(rows, ps_rtable_cell_str(r, i, src));
                else if (c == 4 || c == 5)
                    rc = ps_rtable_int(rows, (int64_t)ps_rtable_cell_num(r, i, src));
                else
                    rc = ps_rtable_num(rows, ps_rtable_cell_num(r, i, src));
            }
            if (!rc && np == cap) {
                cap = cap ? 2 * cap : 16;
                double *a = ps_realloc_array(pt, cap, sizeof *a);
                if (a)
                    pt = a;
                double *b = a ? ps_realloc_array(pw, cap, sizeof *b) : NULL;
                if (b)
                    pw = b;
                if (!a || !b)
                    rc = PS_ERR_NOMEM;
            }
            if (!rc) {
                pt[np] = cell_num(r, i, "p_t");
                pw[np] = cell_num(r, i, "p_wilcoxon");
                np++;
            }
        }
        ps_rtable_free(r);
    }
    double *at = NULL, *aw = NULL;
    if (!rc && np) {
        at = ps_malloc_array(np, sizeof *at);
        aw = ps_malloc_array(np, sizeof *aw);
        if (!at || !aw)
            rc = PS_ERR_NOMEM;
        if (!rc)
            rc = ps_stats_padjust(pt, np, PS_PADJUST_HOLM, at);
        if (!rc)
            rc = ps_stats_padjust(pw, np, PS_PADJUST_HOLM, aw);
    }
    for (size_t i = 0; i < np && !rc; i++) {
        for (int c = 0; c < NCOMPARE && !rc; c++) {
            if (c < 4)
                rc = ps_rtable_str(o, ps_rtable_cell_str(rows, (int64_t)i, c));
            else if (c == 4 || c == 5)
                rc = ps_rtable_int(o, (int64_t)ps_rtable_cell_num(rows, (int64_t)i, c));
            else
                rc = ps_rtable_num(o, ps_rtable_cell_num(rows, (int64_t)i, c));
        }
        if (!rc)
            rc = ps_rtable_num(o, at[i]);
        if (!rc)
            rc = ps_rtable_num(o, aw[i]);
    }
    free(at);
    free(aw);
    free(pt);
    free(pw);
    free(models);
    ps_rtable_free(rows);
    if (rc) {
        ps_rtable_free(o);
        return rc;
    }
    *out = o;
    return PS_OK;
}

/* ps_report_volume by model, modality, and the paired t-test of predicted against reference
 * volume on the same pairs. */
static int table_volume(const ps_table *pc, double level, ps_rtable **out)
{
    static const char *const by[] = {"model", "modality"};
    ps_volume_options vo;
    ps_volume_options_init(&vo);
    vo.by = by;
    vo.nby = 2;
    vo.level = level;
    ps_rtable *v = NULL, *o = NULL;
    int rc = ps_report_volume(pc, &vo, &v);
    if (rc)
        return rc;
    ps_rowfilter f;
    if ((rc = ps_rowfilter_init(&f, pc, NULL, 0))) {
        ps_rtable_free(v);
        return rc;
    }
    int cref = ps_table_col(pc, vo.ref_col), cpred = ps_table_col(pc, vo.pred_col);
    int cmodel = ps_table_col(pc, "model"), cmod = ps_table_col(pc, "modality");
    double *x = ps_malloc_array((size_t)pc->nrows + 1, sizeof *x);
    double *y = ps_malloc_array((size_t)pc->nrows + 1, sizeof *y);
    if (!x || !y)
        rc = PS_ERR_NOMEM;
    if (!rc)
        rc = ps_rtable_create(&o);
    int nc = ps_rtable_ncols(v);
    for (int c = 0; c < nc && !rc; c++)
        rc = ps_rtable_add_col(o, ps_rtable_colname(v, c), ps_rtable_kind(v, c), PS_STYLE_G6, 0, 0);
    static const char *const tcols[] = {"vol_t", "vol_df", "vol_p_t", "vol_diff_ci_low",
                                        "vol_diff_ci_high"};
    for (int c = 0; c < 5 && !rc; c++)
        rc = ps_rtable_add_col(o, tcols[c], PS_CELL_NUM, PS_STYLE_G6, 0, 0);
    int km = ps_rtable_find_col(v, "model"), kd = ps_rtable_find_col(v, "modality");
    for (int64_t r = 0; r < ps_rtable_nrows(v) && !rc; r++) {
        for (int c = 0; c < nc && !rc; c++) {
            switch (ps_rtable_kind(v, c)) {
            case PS_CELL_STR: rc = ps_rtable_str(o, ps_rtable_cell_str(v, r, c)); break;
            case PS_CELL_INT: rc = ps_rtable_int(o, (int64_t)ps_rtable_cell_num(v, r, c)); break;
            case PS_CELL_NUM: rc = ps_rtable_num(o, ps_rtable_cell_num(v, r, c)); break;
            }
        }
        const char *model = km >= 0 ? ps_rtable_cell_str(v, r, km) : "";
        const char *mod = kd >= 0 ? ps_rtable_cell_str(v, r, kd) : "";
        size_t n = 0;
        for (int64_t i = 0; i < pc->nrows && !rc; i++) {
            if ((cmodel >= 0 && strcmp(pc->cells[i][cmodel], model)) ||
                (cmod >= 0 && strcmp(pc->cells[i][cmod], mod)))
                continue;
            double a, b;
            ps_excl ea, eb;
            if ((rc = ps_report_classify(&f, i, cref, &a, &ea)) ||
                (rc = ps_report_classify(&f, i, cpred, &b, &eb)))
                break;
            if (ea == PS_EXCL_NONE && eb == PS_EXCL_NONE) {
                x[n] = a;
                y[n] = b;
                n++;
            }
        }
        ps_ttest_paired tt;
        int ok = !rc && n >= 2 && ps_stats_ttest_paired(y, x, n, level, &tt) == PS_OK;
        if (!ok)
            ps_error_clear();
        double vals[5] = {ok ? tt.t : NAN, ok ? tt.df : NAN, ok ? tt.p_two_sided : NAN,
                          ok ? tt.ci_low : NAN, ok ? tt.ci_high : NAN};
        for (int c = 0; c < 5 && !rc; c++)
            rc = ps_rtable_num(o, vals[c]);
    }
    ps_rowfilter_free(&f);
    free(x);
    free(y);
    ps_rtable_free(v);
    if (rc) {
        ps_rtable_free(o);
        return rc;
    }
    *out = o;
    return PS_OK;
}

/* Rater agreement: the raters' per-case table summarised by rater and modality, with the
 * kind of comparison. Every rater column is compared with ref. rater:NAME is "inter";
 * rater:NAME:SESSION is "intra" when the table has no rater:NAME (then ref is that rater's
 * first session, the manifest convention of data-manifests/README.md, as in the demo set's
 * rater:A:2), else "inter" too (rater NAME's other session against another rater's ref; the
 * comparison with rater:NAME itself is not made here). */
static int table_raters(const ps_table *rt, double level, ps_rtable **out)
{
    static const char *const by[] = {"model", "modality"};
    static const char *const met[] = {"kappa", "dice", "hd95"};
    ps_rtable *s = NULL, *o = NULL;
    int rc = table_summary(rt, by, 2, met, 3, level, &s);
    if (!rc)
        rc = ps_rtable_create(&o);
    if (!rc)
        rc = ps_rtable_add_col(o, "kind", PS_CELL_STR, 0, 0, 0);
    int nc = s ? ps_rtable_ncols(s) : 0;
    for (int c = 0; c < nc && !rc; c++) {
        const char *name = ps_rtable_colname(s, c);
        rc = ps_rtable_add_col(o, !strcmp(name, "model") ? "rater" : name, ps_rtable_kind(s, c),
                               PS_STYLE_G6, 0, 0);
    }
    int km = s ? ps_rtable_find_col(s, "model") : -1;
    for (int64_t r = 0; s && r < ps_rtable_nrows(s) && !rc; r++) {
        const char *name = km >= 0 ? ps_rtable_cell_str(s, r, km) : "";
        const char *p = !strncmp(name, "rater:", 6) ? name + 6 : name;
        const char *colon = strchr(p, ':');
        int intra = 0;
        if (colon) { /* a session: intra unless the same rater also has a session-less column */
            intra = 1;
            size_t len = (size_t)(colon - name);
            for (int64_t i = 0; i < ps_rtable_nrows(s) && intra; i++) {
                const char *other = ps_rtable_cell_str(s, i, km);
                intra = !(strlen(other) == len && !strncmp(other, name, len));
            }
        }
        rc = ps_rtable_str(o, intra ? "intra" : "inter");
        for (int c = 0; c < nc && !rc; c++) {
            switch (ps_rtable_kind(s, c)) {
            case PS_CELL_STR: rc = ps_rtable_str(o, ps_rtable_cell_str(s, r, c)); break;
            case PS_CELL_INT: rc = ps_rtable_int(o, (int64_t)ps_rtable_cell_num(s, r, c)); break;
            case PS_CELL_NUM: rc = ps_rtable_num(o, ps_rtable_cell_num(s, r, c)); break;
            }
        }
    }
    ps_rtable_free(s);
    if (rc) {
        ps_rtable_free(o);
        return rc;
    }
    *out = o;
    return PS_OK;
}

/* Published values beside the reproduced ones: one row per published row and model
 * (dice_pct: by_modality's dice_pct_mean/sd; volume_r2: volume's r2; kappa_inter: the
 * inter-rater kappa mean/sd of each rater). */
static int table_published(const ps_published *pub, const ps_rtable *bymod, const ps_rtable *vol,
                           const ps_rtable *raters, char **models, int nm, ps_rtable **out)
{
    ps_rtable *o = NULL;
    int rc = ps_rtable_create(&o);
    static const char *const cols[] = {"modality", "metric", "published", "published_sd",
                                       "source", "model", "n", "reproduced", "reproduced_sd"};
    for (int c = 0; c < 9 && !rc; c++)
        rc = ps_rtable_add_col(o, cols[c], c < 2 || c == 4 || c == 5 ? PS_CELL_STR
                                           : c == 6 ? PS_CELL_INT : PS_CELL_NUM,
                               PS_STYLE_G6, 0, 0);
    for (int i = 0; pub && i < pub->nrows && !rc; i++) {
        const ps_published_row *p = &pub->rows[i];
        int is_kappa = !strcmp(p->metric, "kappa_inter");
        int nsub = is_kappa ? (raters ? (int)ps_rtable_nrows(raters) : 0) : nm;
        for (int j = 0; j < nsub && !rc; j++) {
            const char *who;
            double v = NAN, sd = NAN, n = NAN;
            if (is_kappa) {
                int ck = ps_rtable_find_col(raters, "kind"), cr = ps_rtable_find_col(raters, "rater");
                int cm = ps_rtable_find_col(raters, "modality");
                if (ck < 0 || cr < 0 || cm < 0 || strcmp(ps_rtable_cell_str(raters, j, ck), "inter") ||
                    strcmp(ps_rtable_cell_str(raters, j, cm), p->modality))
                    continue;
                who = ps_rtable_cell_str(raters, j, cr);
                if (strchr(who + (strncmp(who, "rater:", 6) ? 0 : 6), ':'))
                    continue; /* a second session: not the published inter-rater comparison */
                v = cell_num(raters, j, "kappa_mean");
                sd = cell_num(raters, j, "kappa_sd");
                n = cell_num(raters, j, "kappa_n");
            } else if (!strcmp(p->metric, "dice_pct")) {
                who = models[j];
                int64_t r = find_row(bymod, "model", who, "modality", p->modality);
                if (r < 0)
                    continue;
                v = cell_num(bymod, r, "dice_pct_mean");
                sd = cell_num(bymod, r, "dice_pct_sd");
                n = cell_num(bymod, r, "dice_n");
            } else if (!strcmp(p->metric, "volume_r2")) {
                who = models[j];
                int64_t r = find_row(vol, "model", who, "modality", p->modality);
                if (r < 0)
                    continue;
                v = cell_num(vol, r, "r2");
                n = cell_num(vol, r, "n");
            } else {
                continue; /* a metric reproduce does not compute: not printed */
            }
            rc = ps_rtable_str(o, p->modality);
            rc = rc ? rc : ps_rtable_str(o, p->metric);
            rc = rc ? rc : ps_rtable_num(o, p->value);
            rc = rc ? rc : ps_rtable_num(o, p->sd);
            rc = rc ? rc : ps_rtable_str(o, p->source);
            rc = rc ? rc : ps_rtable_str(o, who);
            rc = rc ? rc : ps_rtable_int(o, isnan(n) ? 0 : (int64_t)n);
            rc = rc ? rc : ps_rtable_num(o, v);
            rc = rc ? rc : ps_rtable_num(o, sd);
        }
    }
    if (rc) {
        ps_rtable_free(o);
        return rc;
    }
    *out = o;
    return PS_OK;
}

/* ---- the report --------------------------------------------------------------------------------- */
static const char exclusion_rule[] =
    "Which rows enter: rows with status error or missing enter no statistic and are counted "
    "under their status; a metric's value enters when it is finite. Empty masks are counted, "
    "never dropped: Dice of an empty prediction is 0 and enters; a distance (HD95, ASSD) of a "
    "case with one empty mask is NaN under --empty nan and is left out and counted in "
    "<metric>_nan (inf under --empty inf, counted in <metric>_inf). Both masks empty: Dice 1 "
    "(--empty-dice one) and no distance.";

/* Values of `metric` (x scale) of the rows that enter, per (group value, model). */
typedef struct box_data {
    int ngroups, nmodels;
    char **groups, **models;     /* borrowed from the table                                   */
    double **v;                  /* [g * nmodels + m]                                          */
    size_t *n;
} box_data;

static void box_free(box_data *b)
{
    for (int i = 0; b->v && i < b->ngroups * b->nmodels; i++)
        free(b->v[i]);
    free(b->v);
    free(b->n);
    free(b->groups);
    free(b->models);
    memset(b, 0, sizeof *b);
}

static int box_collect(const ps_table *t, const char *group_col, const char *metric, double scale,
                       box_data *b)
{
    memset(b, 0, sizeof *b);
    int rc = distinct(t, group_col, &b->groups, &b->ngroups);
    if (!rc)
        rc = distinct(t, "model", &b->models, &b->nmodels);
    int nb = b->ngroups * b->nmodels;
    if (!rc && nb > 0) {
        b->v = ps_calloc((size_t)nb, sizeof *b->v);
        b->n = ps_calloc((size_t)nb, sizeof *b->n);
        if (!b->v || !b->n)
            rc = PS_ERR_NOMEM;
        for (int i = 0; i < nb && !rc; i++)
            if (!(b->v[i] = ps_malloc_array((size_t)t->nrows + 1, sizeof **b->v)))
                rc = PS_ERR_NOMEM;
    }
    int cg = ps_table_col(t, group_col), cm = ps_table_col(t, "model"), cv = ps_table_col(t, metric);
    ps_rowfilter f;
    if (!rc && (cg < 0 || cm < 0 || cv < 0))
        rc = ps_error(PS_ERR_ARG, "per-case table: no column %s", cv < 0 ? metric : group_col);
    if (!rc && !(rc = ps_rowfilter_init(&f, t, NULL, 0))) {
        for (int64_t r = 0; r < t->nrows && !rc; r++) {
            double x;
            ps_excl e;
            if ((rc = ps_report_classify(&f, r, cv, &x, &e)) || e != PS_EXCL_NONE)
                continue;
            int g = 0, m = 0;
            while (g < b->ngroups && strcmp(b->groups[g], t->cells[r][cg]))
                g++;
            while (m < b->nmodels && strcmp(b->models[m], t->cells[r][cm]))
                m++;
            int k = g * b->nmodels + m;
            b->v[k][b->n[k]++] = x * scale;
        }
        ps_rowfilter_free(&f);
    }
    if (rc)
        box_free(b);
    return rc;
}

/* Draw with `draw` into a string and add it to the document. */
typedef int (*draw_fn)(FILE *, const void *);
static int add_plot(ps_doc *d, draw_fn draw, const void *spec, const char *caption)
{
    char *svg = NULL;
    size_t len = 0;
    FILE *mf = open_memstream(&svg, &len);
    if (!mf)
        return ps_error(PS_ERR_NOMEM, "out of memory drawing a plot");
    int rc = draw(mf, spec);
    if (fclose(mf) && !rc)
        rc = ps_error(PS_ERR_IO, "error drawing a plot");
    if (!rc)
        rc = ps_doc_add_svg(d, svg, caption);
    free(svg);
    return rc;
}
static int draw_box(FILE *f, const void *p) { return ps_plot_box_svg(f, p); }
static int draw_scatter(FILE *f, const void *p) { return ps_plot_scatter_svg(f, p); }
static int draw_ba(FILE *f, const void *p) { return ps_plot_bland_altman_svg(f, p); }
static int draw_heat(FILE *f, const void *p) { return ps_plot_heatmap_svg(f, p); }

static int box_plot(ps_doc *d, const ps_table *t, const char *group_col, const char *metric,
                    double scale, const char *title, const char *ylab, const char *caption)
{
    box_data b;
    int rc = box_collect(t, group_col, metric, scale, &b);
    if (rc || b.ngroups == 0 || b.nmodels == 0) {
        box_free(&b);
        return rc;
    }
    ps_plot_box p = {title, ylab, b.ngroups, b.nmodels, (const char *const *)b.groups,
                     (const char *const *)b.models, (const double *const *)b.v, b.n, 1};
    rc = add_plot(d, draw_box, &p, caption);
    box_free(&b);
    return rc;
}

/* Scatter and Bland-Altman of the volumes of one modality, one series per model. */
static int volume_plots(ps_doc *d, const ps_table *t, const char *modality)
{
    char **models = NULL;
    int nm = 0, rc = distinct(t, "model", &models, &nm);
    double **x = ps_calloc((size_t)nm + 1, sizeof *x), **y = ps_calloc((size_t)nm + 1, sizeof *y);
    size_t *n = ps_calloc((size_t)nm + 1, sizeof *n);
    if (!rc && (!x || !y || !n))
        rc = PS_ERR_NOMEM;
    for (int m = 0; m < nm && !rc; m++) {
        x[m] = ps_malloc_array((size_t)t->nrows + 1, sizeof **x);
        y[m] = ps_malloc_array((size_t)t->nrows + 1, sizeof **y);
        if (!x[m] || !y[m])
            rc = PS_ERR_NOMEM;
    }
    int cref = ps_table_col(t, "vol_ref_ml"), cpred = ps_table_col(t, "vol_pred_ml");
    int cm = ps_table_col(t, "model"), cd = ps_table_col(t, "modality");
    ps_rowfilter f;
    if (!rc && cref >= 0 && cpred >= 0 && cm >= 0 && !(rc = ps_rowfilter_init(&f, t, NULL, 0))) {
        for (int64_t r = 0; r < t->nrows && !rc; r++) {
            if (cd >= 0 && strcmp(t->cells[r][cd], modality))
                continue;
            double a, b;
            ps_excl ea, eb;
            if ((rc = ps_report_classify(&f, r, cref, &a, &ea)) ||
                (rc = ps_report_classify(&f, r, cpred, &b, &eb)) || ea != PS_EXCL_NONE ||
                eb != PS_EXCL_NONE)
                continue;
            int m = 0;
            while (m < nm && strcmp(models[m], t->cells[r][cm]))
                m++;
            x[m][n[m]] = a;
            y[m][n[m]++] = b;
        }
        ps_rowfilter_free(&f);
    }
    char *t1 = ps_asprintf("Predicted vs reference volume, %s", modality);
    char *t2 = ps_asprintf("Bland\xe2\x80\x93" "Altman, %s", modality);
    if (!rc && (!t1 || !t2))
        rc = PS_ERR_NOMEM;
    if (!rc) {
        ps_plot_scatter sp = {t1, "reference volume (ml)", "predicted volume (ml)", nm,
                              (const char *const *)models, (const double *const *)x,
                              (const double *const *)y, n, 1, 0};
        rc = add_plot(d, draw_scatter, &sp, "OLS line of predicted on reference volume per "
                                            "model (R\xc2\xb2 as in volume.csv); dashed: identity.");
    }
    if (!rc) {
        ps_plot_bland_altman bp = {t2, "mean of reference and predicted volume (ml)",
                                   "predicted \xe2\x88\x92 reference (ml)", nm,
                                   (const char *const *)models, (const double *const *)x,
                                   (const double *const *)y, n, 2};
        rc = add_plot(d, draw_ba, &bp, "Bias (solid) and 95% limits of agreement (dashed) per "
                                       "model, as in volume.csv.");
    }
    free(t1);
    free(t2);
    for (int m = 0; m < nm; m++) {
        if (x)
            free(x[m]);
        if (y)
            free(y[m]);
    }
    free(x);
    free(y);
    free(n);
    free(models);
    return rc;
}

/* The worst cases of each model by Dice, each an axial slice through its largest error,
 * linked to its row of the per-case table. */
static int worst_figures(ps_doc *d, const ps_table *pc, const ps_reproduce_options *o)
{
    char **models = NULL;
    int nm = 0, rc = distinct(pc, "model", &models, &nm);
    int k = o->worst_k > 0 ? o->worst_k : 5;
    int64_t *rows = ps_malloc_array((size_t)k, sizeof *rows);
    if (!rc && !rows)
        rc = PS_ERR_NOMEM;
    int ccase = ps_table_col(pc, "case"), clab = ps_table_col(pc, "label");
    int cmod = ps_table_col(pc, "modality"), cdice = ps_table_col(pc, "dice");
    for (int m = 0; m < nm && !rc; m++) {
        int n = ps_report_worst_rows(pc, models[m], "dice", 0, k, rows);
        if (n < 0) {
            rc = n;
            break;
        }
        for (int i = 0; i < n && !rc; i++) {
            int64_t r = rows[i];
            const char *id = pc->cells[r][ccase];
            const char *label = clab >= 0 ? pc->cells[r][clab] : "";
            const char *pim = o->path(o->path_ud, id, "image");
            const char *pref = o->path(o->path_ud, id, "ref");
            const char *ppred = o->path(o->path_ud, id, models[m]);
            char *key = ps_asprintf("%s-%s-%s", id, models[m], label);
            char *anchor = key ? ps_doc_anchor("per_case", key) : NULL;
            char *href = anchor ? ps_asprintf("#%s", anchor) : NULL;
            char dice[32], *cap = NULL;
            double dv = NAN;
            ps_table_get_double(pc, r, cdice, &dv);
            ps_error_clear();
            ps_report_fmt(dv, 4, dice, sizeof dice);
            if (!href) {
                rc = PS_ERR_NOMEM;
            } else if (!pim || !pref || !ppred) {
                cap = ps_asprintf("%s, %s: Dice %s (no image to show)", id, models[m], dice);
                rc = cap ? ps_doc_paragraph(d, cap) : PS_ERR_NOMEM;
            } else {
                ps_volume *im = NULL, *ref = NULL, *pred = NULL;
                ps_slice_figure fig = {0};
                unsigned char *png = NULL;
                size_t plen = 0;
                ps_slice_options so = o->slice;
                so.ct = cmod >= 0 && !strcmp(pc->cells[r][cmod], "CT");
                so.label = label[0] ? atoll(label) : 0;
                int frc = ps_volume_read_float(pim, &im);
                frc = frc ? frc : ps_volume_read_labels(pref, &ref);
                frc = frc ? frc : ps_volume_read_labels(ppred, &pred);
                frc = frc ? frc : ps_slice_render(im, ref, pred, &so, &fig);
                frc = frc ? frc : ps_png_encode_rgb(fig.rgb, fig.width, fig.height, &png, &plen);
                if (frc) { /* one unreadable case loses its figure, not the report */
                    cap = ps_asprintf("%s, %s: Dice %s; no figure: %s", id, models[m], dice,
                                      ps_error_message());
                    ps_error_clear();
                    rc = cap ? ps_doc_paragraph(d, cap) : PS_ERR_NOMEM;
                } else {
                    cap = ps_asprintf("%s, %s (%s): Dice %s; slice k = %lld with %lld FP and "
                                      "%lld FN voxels",
                                      id, models[m], cmod >= 0 ? pc->cells[r][cmod] : "", dice,
                                      (long long)fig.k, (long long)fig.fp_vox, (long long)fig.fn_vox);
                    rc = cap ? ps_doc_add_png(d, png, plen, fig.width, fig.height, cap, href)
                             : PS_ERR_NOMEM;
                }
                free(png);
                ps_slice_figure_clear(&fig);
                ps_volume_free(im);
                ps_volume_free(ref);
                ps_volume_free(pred);
            }
            free(cap);
            free(key);
            free(anchor);
            free(href);
        }
    }
    free(rows);
    free(models);
    return rc;
}

/* Add a table rendered from the CSV just written; the columns whose template names a column
 * the CSV lacks are left out (a per-case table without distances, say). */
static int add_table(ps_doc *d, const ps_table *csv, const char *id, const char *caption,
                     const char *note, const char *source, const char *row_key,
                     const ps_doc_column *cols, int ncols, int scroll)
{
    ps_doc_column *keep = ps_calloc((size_t)ncols, sizeof *keep);
    if (!keep)
        return PS_ERR_NOMEM;
    int n = 0;
    for (int c = 0; c < ncols; c++) {
        int ok = 1;
        for (const char *p = strchr(cols[c].cell, '{'); p && ok; p = strchr(p + 1, '{')) {
            char name[256];
            size_t len = strcspn(p + 1, ":}");
            snprintf(name, sizeof name, "%.*s", (int)len, p + 1);
            ok = ps_table_col(csv, name) >= 0;
        }
        if (ok)
            keep[n++] = cols[c];
    }
    ps_doc_table spec = {.id = id, .caption = caption, .note = note, .source = source,
                         .row_key = row_key, .ncols = n, .cols = keep, .scroll = scroll};
    int rc = n ? ps_doc_add_table(d, &spec, csv) : PS_OK;
    free(keep);
    return rc;
}

#define STATUS_COL                                                                           \
    {"n (ok / pred empty / ref empty /\nboth empty / error / missing)",                     \
     "{n_rows} ({n_ok} / {n_pred_empty} / {n_ref_empty} / {n_both_empty} / {n_error} / "     \
     "{n_missing})", 0}
#define MEAN_MEDIAN(m, d) "{" m "_mean:" d "} \xc2\xb1 {" m "_sd:" d "}\n{" m "_median:" d "} [{" \
    m "_q1:" d "}, {" m "_q3:" d "}]"
static const ps_doc_column by_modality_cols[] = {
    {"model", "{model}", 0},
    {"modality", "{modality}", 0},
    STATUS_COL,
    {"Dice (%)", MEAN_MEDIAN("dice_pct", "1"), 1},
    {"HD95 (mm)", MEAN_MEDIAN("hd95", "2") "\n[{hd95_excluded} left out]", 1},
    {"ASSD (mm)", MEAN_MEDIAN("assd", "2"), 1},
    {"NSD", MEAN_MEDIAN("nsd", "3"), 1},
    {"precision", MEAN_MEDIAN("precision", "3"), 1},
    {"recall", MEAN_MEDIAN("sensitivity", "3"), 1},
};
static const ps_doc_column by_center_cols[] = {
    {"model", "{model}", 0},
    {"center", "{center}", 0},
    {"modality", "{modality}", 0},
    STATUS_COL,
    {"Dice (%)", MEAN_MEDIAN("dice_pct", "1"), 1},
    {"HD95 (mm)", MEAN_MEDIAN("hd95", "2"), 1},
};
static const ps_doc_column compare_doc_cols[] = {
    {"modality", "{modality}", 0},
    {"metric", "{metric}", 0},
    {"comparison", "{model_a} \xe2\x88\x92 {model_b}", 0},
    {"n", "{n}", 1},
    {"mean A", "{mean_a:4}", 1},
    {"mean B", "{mean_b:4}", 1},
    {"difference [CI]", "{mean_diff:4} [{ci_low:4}, {ci_high:4}]", 1},
    {"t-test p", "{p_t:4}", 1},
    {"Holm", "{p_t_holm:4}", 1},
    {"Wilcoxon V", "{wilcoxon_v:1}", 1},
    {"Wilcoxon p", "{p_wilcoxon:4}", 1},
    {"Holm", "{p_wilcoxon_holm:4}", 1},
};
static const ps_doc_column volume_doc_cols[] = {
    {"model", "{model}", 0},
    {"modality", "{modality}", 0},
    {"n", "{n}", 1},
    {"R\xc2\xb2 (OLS)", "{r2:3}", 1},
    {"R\xc2\xb2 (identity)", "{r2_identity:3}", 1},
    {"Pearson r", "{pearson_r:3}", 1},
    {"slope", "{slope:3}", 1},
    {"intercept (ml)", "{intercept:2}", 1},
    {"bias (ml)", "{ba_bias:2}", 1},
    {"limits of agreement (ml)", "{ba_loa_low:2} to {ba_loa_high:2}", 1},
    {"paired t", "{vol_t:3}", 1},
    {"p", "{vol_p_t:4}", 1},
};
static const ps_doc_column raters_doc_cols[] = {
    {"kind", "{kind}", 0},
    {"rater", "{rater}", 0},
    {"modality", "{modality}", 0},
    STATUS_COL,
    {"voxel-wise kappa", "{kappa_mean:3} \xc2\xb1 {kappa_sd:3}", 1},
    {"Dice (%)", "{dice_pct_mean:1} \xc2\xb1 {dice_pct_sd:1}", 1},
    {"HD95 (mm)", "{hd95_mean:2} \xc2\xb1 {hd95_sd:2}", 1},
};
static const ps_doc_column published_doc_cols[] = {
    {"modality", "{modality}", 0},
    {"metric", "{metric}", 0},
    {"published", "{published:3}", 1},
    {"SD", "{published_sd:3}", 1},
    {"model / rater", "{model}", 0},
    {"n", "{n}", 1},
    {"reproduced", "{reproduced:3}", 1},
    {"SD", "{reproduced_sd:3}", 1},
    {"source", "{source}", 0},
};
static const ps_doc_column per_case_doc_cols[] = {
    {"case", "{case}", 0},
    {"model", "{model}", 0},
    {"modality", "{modality}", 0},
    {"center", "{center}", 0},
    {"label", "{label}", 0},
    {"status", "{status}", 0},
    {"Dice", "{dice:4}", 1},
    {"HD95 (mm)", "{hd95:2}", 1},
    {"ASSD (mm)", "{assd:2}", 1},
    {"NSD", "{nsd:3}", 1},
    {"ref (ml)", "{vol_ref_ml:2}", 1},
    {"pred (ml)", "{vol_pred_ml:2}", 1},
    {"message", "{message}", 0},
};
#define NCOLS(a) ((int)(sizeof a / sizeof *a))

/* The cross-center matrix as a table (one column per center) and as a heat map. */
static int cross_center_doc(ps_doc *d, const ps_rtable *cc, const ps_table *csv)
{
    int nc = ps_rtable_ncols(cc) - 1, nr = (int)ps_rtable_nrows(cc);
    if (nc < 1 || nr < 1)
        return PS_OK;
    ps_doc_column *cols = ps_calloc((size_t)nc + 1, sizeof *cols);
    char **cell = ps_calloc((size_t)nc + 1, sizeof *cell);
    const char **rows = ps_calloc((size_t)nr, sizeof *rows), **names = ps_calloc((size_t)nc, sizeof *names);
    double *v = ps_malloc_array((size_t)nr * (size_t)nc, sizeof *v);
    int rc = cols && cell && rows && names && v ? PS_OK : PS_ERR_NOMEM;
    if (!rc) {
        cols[0] = (ps_doc_column){"model", "{model}", 0};
        for (int c = 0; c < nc && !rc; c++) {
            names[c] = ps_rtable_colname(cc, c + 1);
            if (!(cell[c] = ps_asprintf("{%s:1}", names[c])))
                rc = PS_ERR_NOMEM;
            cols[c + 1] = (ps_doc_column){names[c], cell[c], 1};
        }
    }
    if (!rc)
        rc = add_table(d, csv, "cross_center", "Mean Dice (%): models (rows) on test centers (columns)",
                       "Every case of the center, all modalities pooled; the exclusion rule above.",
                       "cross_center.csv", NULL, cols, nc + 1, 0);
    for (int r = 0; r < nr && !rc; r++) {
        rows[r] = ps_rtable_cell_str(cc, r, 0);
        for (int c = 0; c < nc; c++)
            v[r * nc + c] = ps_rtable_cell_num(cc, r, c + 1);
    }
    if (!rc) {
        ps_plot_heatmap h = {"Mean Dice (%): model \xc3\x97 test center", "model", "test center",
                             "Dice (%)", nr, nc, rows, names, v, 1, NAN, NAN};
        rc = add_plot(d, draw_heat, &h, "Cross-center Dice matrix (cross_center.csv).");
    }
    for (int c = 0; cell && c < nc; c++)
        free(cell[c]);
    free(cell);
    free(cols);
    free(rows);
    free(names);
    free(v);
    return rc;
}

/* ---- multi-rater agreement (o->agreement: the tables of ps_agreement_run) -------------------- */
/* Columns of the agreement's per-row tables that hold text (the rest are numbers). */
static int agree_text_col(const char *name)
{
    static const char *const text[] = {"case", "subject", "modality", "center", "label", "region",
                                       "kind", "rater_a", "rater_b", "rater", "session_a",
                                       "session_b", "model", "status", "message"};
    for (size_t i = 0; i < NCOLS(text); i++)
        if (!strcmp(name, text[i]))
            return 1;
    return !strncmp(name, "meta:", 5);
}

/* Write a per-row table of the agreement as <dir>/<base>.csv and .json, cell for cell as
 * ps_agreement_run writes it (numbers through the same shortest round-trip form). */
static int write_rows(const ps_table *t, const char *dir, const char *base)
{
    static const struct { const char *ext; ps_table_format f; } fmts[] = {
        {"csv", PS_TABLE_CSV}, {"json", PS_TABLE_JSON}};
    int rc = PS_OK;
    for (int i = 0; i < 2 && !rc; i++) {
        char *name = ps_asprintf("%s/%s.%s", dir, base, fmts[i].ext);
        ps_atomic_file *af = NULL;
        ps_table_writer *w = NULL;
        if (!name)
            return PS_ERR_NOMEM;
        rc = ps_atomic_open(name, &af);
        if (!rc)
            rc = ps_table_writer_create(ps_atomic_stream(af), fmts[i].f, t->ncols,
                                        (const char *const *)t->colnames, &w);
        for (int64_t r = 0; r < t->nrows && !rc; r++) {
            for (int c = 0; c < t->ncols && !rc; c++) {
                const char *v = t->cells[r][c];
                char *end = NULL;
                double x = strtod(v, &end);
                if (!*v)
                    rc = ps_table_writer_null(w);
                else if (!agree_text_col(t->colnames[c]) && end != v && !*end)
                    rc = ps_table_writer_num(w, x);
                else
                    rc = ps_table_writer_str(w, v);
            }
            if (!rc)
                rc = ps_table_writer_end_row(w);
        }
        if (w) {
            int rc2 = ps_table_writer_finish(w);
            rc = rc ? rc : rc2;
        }
        if (af) {
            if (rc)
                ps_atomic_abort(af);
            else
                rc = ps_atomic_commit(af);
        }
        free(name);
    }
    return rc ? ps_error_context(rc, "%s", base) : PS_OK;
}

static const ps_doc_column agree_summary_doc_cols[] = {
    {"modality", "{modality}", 0},
    {"label", "{label}", 0},
    {"statistic", "{statistic}", 0},
    {"rater a", "{rater_a}", 0},
    {"rater b", "{rater_b}", 0},
    {"n", "{n}", 1},
    {"excluded", "{n_excluded}", 1},
    {"mean \xc2\xb1 SD\nmedian [IQR]", "{mean:3} \xc2\xb1 {sd:3}\n{median:3} [{q1:3}, {q3:3}]", 1},
    {"value", "{value:3}", 1},
    {"p", "{p:3}", 1},
};
static const ps_doc_column agree_models_doc_cols[] = {
    {"modality", "{modality}", 0},
    {"label", "{label}", 0},
    {"model", "{model}", 0},
    {"n", "{n}", 1},
    {"model's mean Dice\nto the raters", "{model_mean_dice:3}", 1},
    {"raters' mean\npairwise Dice", "{raters_mean_dice:3}", 1},
    {"difference [CI]", "{mean_diff:3} [{ci_low:3}, {ci_high:3}]", 1},
    {"p (t)", "{p_ttest:3}", 1},
    {"p (Wilcoxon)", "{p_wilcoxon:3}", 1},
    {"within range", "{within_range_fraction:3}", 1},
};

/* One heat map per (modality, label) block of the rater x rater mean Dice matrix. */
static int agree_heatmaps(ps_doc *d, const ps_table *mx)
{
    int cm = ps_table_col(mx, "modality"), cl = ps_table_col(mx, "label"),
        cr = ps_table_col(mx, "rater");
    if (cl < 0 || cr < 0)
        return PS_OK;
    int nc = mx->ncols - cr - 1;
    if (nc < 1)
        return PS_OK;
    const char **rows = ps_calloc((size_t)mx->nrows + 1, sizeof *rows);
    double *v = ps_malloc_array((size_t)(mx->nrows + 1) * (size_t)nc, sizeof *v);
    int rc = rows && v ? PS_OK : PS_ERR_NOMEM;
    for (int64_t r0 = 0; r0 < mx->nrows && !rc;) {
        int64_t r1 = r0;
        while (r1 < mx->nrows && !strcmp(mx->cells[r1][cl], mx->cells[r0][cl]) &&
               (cm < 0 || !strcmp(mx->cells[r1][cm], mx->cells[r0][cm])))
            r1++;
        int nr = (int)(r1 - r0);
        for (int i = 0; i < nr && !rc; i++) {
            rows[i] = mx->cells[r0 + i][cr];
            for (int c = 0; c < nc && !rc; c++)
                rc = ps_table_get_double(mx, r0 + i, cr + 1 + c, &v[i * nc + c]);
        }
        char *title = NULL, *cap = NULL;
        if (!rc) {
            title = ps_asprintf("Mean pairwise Dice: rater \xc3\x97 rater (%s, label %s)",
                                cm >= 0 ? mx->cells[r0][cm] : "all", mx->cells[r0][cl]);
            cap = ps_asprintf("Mean over cases of the Dice of each pair of raters, %s, label %s "
                              "(agreement_matrix.csv); 1 on the diagonal.",
                              cm >= 0 ? mx->cells[r0][cm] : "all cases", mx->cells[r0][cl]);
            rc = title && cap ? PS_OK : PS_ERR_NOMEM;
        }
        if (!rc) {
            ps_plot_heatmap h = {title, "rater", "rater", "Dice", nr, nc, rows,
                                 (const char *const *)mx->colnames + cr + 1, v, 3, NAN, NAN};
            rc = add_plot(d, draw_heat, &h, cap);
        }
        free(title);
        free(cap);
        r0 = r1;
    }
    free(rows);
    free(v);
    return rc;
}

/* Per case: the model's mean Dice to the raters (y) against the raters' mean pairwise Dice
 * (x), one series per model and one plot per modality, with the identity line. */
static int agree_model_plot(ps_doc *d, const ps_table *mc, const ps_table *ms)
{
    int cmod = ps_table_col(mc, "modality"), cmodel = ps_table_col(mc, "model"),
        cst = ps_table_col(mc, "status"), cx = ps_table_col(mc, "raters_mean_dice"),
        cy = ps_table_col(mc, "model_mean_dice");
    if (cmodel < 0 || cx < 0 || cy < 0)
        return PS_OK;
    char **mods = NULL, **models = NULL;
    int nmod = 0, nm = 0;
    int rc = distinct(mc, "modality", &mods, &nmod);
    if (!rc)
        rc = distinct(mc, "model", &models, &nm);
    double **x = ps_calloc((size_t)nm + 1, sizeof *x), **y = ps_calloc((size_t)nm + 1, sizeof *y);
    size_t *n = ps_calloc((size_t)nm + 1, sizeof *n);
    if (!rc && !(x && y && n))
        rc = PS_ERR_NOMEM;
    for (int k = 0; k < nm && !rc; k++) {
        x[k] = ps_malloc_array((size_t)mc->nrows + 1, sizeof **x);
        y[k] = ps_malloc_array((size_t)mc->nrows + 1, sizeof **y);
        if (!x[k] || !y[k])
            rc = PS_ERR_NOMEM;
    }
    for (int g = 0; g < (cmod >= 0 ? nmod : 1) && !rc; g++) {
        for (int k = 0; k < nm; k++)
            n[k] = 0;
        for (int64_t r = 0; r < mc->nrows; r++) {
            if (cmod >= 0 && strcmp(mc->cells[r][cmod], mods[g]))
                continue;
            if (cst >= 0 && strcmp(mc->cells[r][cst], "ok"))
                continue;
            double a = strtod(mc->cells[r][cx], NULL), b = strtod(mc->cells[r][cy], NULL);
            if (!isfinite(a) || !isfinite(b) || !*mc->cells[r][cx] || !*mc->cells[r][cy])
                continue;
            for (int k = 0; k < nm; k++)
                if (!strcmp(mc->cells[r][cmodel], models[k])) {
                    x[k][n[k]] = a;
                    y[k][n[k]++] = b;
                }
        }
        /* the caption: the fraction within the raters' range, per model and label */
        char *cap = ps_asprintf("Per case (%s): the model's mean Dice to the raters against the "
                                "raters' mean pairwise Dice; on the dashed identity line the model "
                                "agrees with the raters as well as they agree with each other "
                                "(agreement_model_cases.csv). Fraction of cases within the "
                                "raters' range (the model's mean Dice at least the lowest of the "
                                "raters' mean Dice to the other raters):",
                                cmod >= 0 ? mods[g] : "all cases");
        int fm = ps_table_col(ms, "modality"), fl = ps_table_col(ms, "label"),
            fk = ps_table_col(ms, "model"), ff = ps_table_col(ms, "within_range_fraction"),
            fn = ps_table_col(ms, "n");
        for (int64_t r = 0; cap && ff >= 0 && fk >= 0 && r < ms->nrows; r++) {
            if (fm >= 0 && cmod >= 0 && strcmp(ms->cells[r][fm], mods[g]))
                continue;
            char *c2 = ps_asprintf("%s %s%s%s: %.2f%s%s%s;", cap, ms->cells[r][fk],
                                   fl >= 0 ? " (label " : "", fl >= 0 ? ms->cells[r][fl] : "",
                                   strtod(ms->cells[r][ff], NULL), fl >= 0 ? ", n = " : "",
                                   fn >= 0 ? ms->cells[r][fn] : "", fl >= 0 ? ")" : "");
            free(cap);
            cap = c2;
        }
        if (!cap) {
            rc = PS_ERR_NOMEM;
            break;
        }
        size_t len = strlen(cap);
        if (cap[len - 1] == ';')
            cap[len - 1] = '.';
        char *title = ps_asprintf("Model within inter-rater variation (%s)",
                                  cmod >= 0 ? mods[g] : "all cases");
        if (!title)
            rc = PS_ERR_NOMEM;
        if (!rc) {
            ps_plot_scatter p = {title, "raters' mean pairwise Dice", "model's mean Dice to the raters",
                                 nm, (const char *const *)models, (const double *const *)x,
                                 (const double *const *)y, n, 1, 1};
            rc = add_plot(d, draw_scatter, &p, cap);
        }
        free(title);
        free(cap);
    }
    for (int k = 0; x && y && k < nm; k++) {
        free(x[k]);
        free(y[k]);
    }
    free(x);
    free(y);
    free(n);
    free(mods);
    free(models);
    return rc;
}

/* The agreement's files and the "Rater agreement (multi-rater)" section. */
static int agreement_doc(ps_doc *d, const ps_agree_tables *t, double level, const char *dir)
{
    static const char *const by[] = {"modality"};
    ps_agreement_report_options ro;
    ps_agreement_report_options_init(&ro);
    ro.by = by;
    ro.nby = 1;
    ro.level = level;
    ps_agreement_result res = {0};
    ps_table *c_sum = NULL, *c_mx = NULL, *c_models = NULL;
    int rc = ps_report_agreement_tables(t, &ro, &res);
    if (!rc)
        rc = write_rows(t->pairs, dir, "agreement_pairs");
    if (!rc)
        rc = write_rows(t->cases, dir, "agreement_cases");
    if (!rc && t->sessions)
        rc = write_rows(t->sessions, dir, "agreement_sessions");
    if (!rc && t->models)
        rc = write_rows(t->models, dir, "agreement_model_cases");
    if (!rc)
        rc = write_table(res.summary, dir, "agreement_summary", &c_sum);
    if (!rc)
        rc = write_table(res.matrix, dir, "agreement_matrix", &c_mx);
    if (!rc && res.models)
        rc = write_table(res.models, dir, "agreement_models", &c_models);
    if (!rc)
        rc = ps_doc_section(d, "agreement", "Rater agreement (multi-rater)");
    if (!rc) {
        char *p = ps_asprintf("Every pair of the %d inter raters per case and label (the "
                              "reference counts as a rater), region %s: the same analysis as "
                              "panseval agreement (docs/agreement.md). Inter-rater rows are "
                              "pair_* (different raters); intra-rater rows are session_* (two "
                              "sessions of one rater, e.g. rater:B against rater:B:2).",
                              t->nraters, ps_agree_region_name(t->region));
        rc = p ? ps_doc_paragraph(d, p) : PS_ERR_NOMEM;
        free(p);
    }
    if (!rc)
        rc = agree_heatmaps(d, c_mx);
    if (!rc)
        rc = add_table(d, c_sum, "agreement_summary",
                       "Inter-rater (pair_*) beside intra-rater (session_*) agreement, per modality",
                       "Per case and label; mean \xc2\xb1 SD, median [IQR] over the rows of "
                       "agreement_pairs.csv, agreement_cases.csv and agreement_sessions.csv. "
                       "A row with status error or missing never enters; NaN values are left "
                       "out and counted in excluded.",
                       "agreement_summary.csv", NULL, agree_summary_doc_cols,
                       NCOLS(agree_summary_doc_cols), 1);
    if (!rc && c_models && t->models) {
        rc = add_table(d, c_models, "agreement_models", "Models within inter-rater variation",
                       "Per case: the model's mean Dice to the raters and the raters' mean "
                       "pairwise Dice; paired t-test and Wilcoxon across cases; within range: "
                       "the fraction of cases where the model's mean Dice is at least the "
                       "lowest of the raters' mean Dice to the other raters.",
                       "agreement_models.csv", NULL, agree_models_doc_cols,
                       NCOLS(agree_models_doc_cols), 0);
        if (!rc)
            rc = agree_model_plot(d, t->models, c_models);
    }
    ps_table_free(c_sum);
    ps_table_free(c_mx);
    ps_table_free(c_models);
    ps_agreement_result_free(&res);
    return rc ? ps_error_context(rc, "the rater agreement") : PS_OK;
}

int ps_reproduce_report(const ps_table *pc, const ps_table *raters, const ps_reproduce_options *o,
                        const char *dir)
{
    ps_rtable *bymod = NULL, *bycenter = NULL, *cc = NULL, *cmp = NULL, *vol = NULL, *rat = NULL,
              *pubt = NULL;
    ps_table *c_bymod = NULL, *c_bycenter = NULL, *c_cc = NULL, *c_cmp = NULL, *c_vol = NULL,
             *c_rat = NULL, *c_pub = NULL, *c_pc = NULL;
    ps_published *pub = NULL;
    ps_doc *d = NULL;
    char **models = NULL, **modalities = NULL;
    int nm = 0, nmod = 0;
    static const char *const by_mod[] = {"model", "modality"};
    static const char *const by_ctr[] = {"model", "center", "modality"};
    int rc = distinct(pc, "model", &models, &nm);
    if (!rc)
        rc = distinct(pc, "modality", &modalities, &nmod);
    if (!rc && nm == 0)
        rc = ps_error(PS_ERR_FORMAT, "%s: the per-case table has no rows", pc->path ? pc->path : "per-case table");
    const char *baseline = o->baseline ? o->baseline : (nm ? models[0] : "");
    int have_baseline = 0;
    for (int m = 0; m < nm; m++)
        have_baseline |= !strcmp(models[m], baseline);
    if (!rc && !have_baseline)
        rc = ps_error(PS_ERR_ARG, "--baseline %s: no such model in the per-case table", baseline);
    if (!rc && o->published)
        rc = ps_published_read(o->published, &pub);
    /* the tables, each written as CSV and JSON and read back for the documents */
    if (!rc && !(rc = table_summary(pc, by_mod, 2, summary_metrics, NCOLS(summary_metrics), o->level, &bymod)))
        rc = write_table(bymod, dir, "by_modality", &c_bymod);
    if (!rc && !(rc = table_summary(pc, by_ctr, 3, summary_metrics, 2, o->level, &bycenter)))
        rc = write_table(bycenter, dir, "by_center", &c_bycenter);
    if (!rc && !(rc = table_cross_center(pc, o->level, &cc)))
        rc = write_table(cc, dir, "cross_center", &c_cc);
    if (!rc && !(rc = table_compare(pc, baseline, o->level, &cmp)))
        rc = write_table(cmp, dir, "compare", &c_cmp);
    if (!rc && !(rc = table_volume(pc, o->level, &vol)))
        rc = write_table(vol, dir, "volume", &c_vol);
    if (!rc && raters && raters->nrows > 0 && !(rc = table_raters(raters, o->level, &rat)))
        rc = write_table(rat, dir, "raters", &c_rat);
    if (!rc && !(rc = table_published(pub, bymod, vol, rat, models, nm, &pubt)))
        rc = write_table(pubt, dir, "published", &c_pub);
    if (!rc) {
        char *p = path_in(dir, "per_case.csv");
        rc = p ? ps_table_read(p, &c_pc) : PS_ERR_NOMEM;
        free(p);
    }

    /* the document */
    char *title = NULL, *intro = NULL;
    if (!rc) {
        title = ps_asprintf("%s", o->title ? o->title : "panseval reproduce report");
        {
            size_t len = 0;
            for (int m = 0; m < nm; m++)
                len += strlen(models[m]) + 2;
            char *list = ps_calloc(len + 1, 1);
            for (int m = 0; list && m < nm; m++) {
                strcat(list, models[m]);
                if (m + 1 < nm)
                    strcat(list, ", ");
            }
            intro = list ? ps_asprintf("%lld rows of per_case.csv (one per case \xc3\x97 model "
                                       "\xc3\x97 label); models: %s; paired comparisons against "
                                       "%s. Every number below is the rounding of the number in "
                                       "the CSV file named under its table (the HTML keeps the "
                                       "CSV's digits as each number's tooltip).",
                                       (long long)pc->nrows, list, baseline)
                         : NULL;
            free(list);
        }
        if (!title || !intro)
            rc = PS_ERR_NOMEM;
    }
    if (!rc)
        rc = ps_doc_create(title, &d);
    if (!rc)
        rc = ps_doc_section(d, "overview", "Overview");
    if (!rc)
        rc = ps_doc_paragraph(d, intro);
    if (!rc)
        rc = ps_doc_section(d, "modality", "Per modality and model");
    if (!rc)
        rc = add_table(d, c_bymod, "by_modality",
                       "Per modality and model: mean \xc2\xb1 SD over cases, and median [IQR]",
                       exclusion_rule, "by_modality.csv", "{model}-{modality}", by_modality_cols,
                       NCOLS(by_modality_cols), 0);
    if (!rc)
        rc = box_plot(d, pc, "modality", "dice", 100, "Dice per modality", "Dice (%)",
                      "Dice per modality and model; each point is a case that enters the table.");
    if (!rc)
        rc = box_plot(d, pc, "modality", "hd95", 1, "HD95 per modality", "HD95 (mm)",
                      "HD95 per modality and model; NaN distances (empty masks) are not drawn and counted under the group.");
    if (!rc)
        rc = ps_doc_section(d, "center", "Per center");
    if (!rc)
        rc = add_table(d, c_bycenter, "by_center",
                       "Per center, modality and model: mean \xc2\xb1 SD, and median [IQR]",
                       exclusion_rule,
                       "by_center.csv", NULL, by_center_cols, NCOLS(by_center_cols), 0);
    if (!rc)
        rc = box_plot(d, pc, "center", "dice", 100, "Dice per center", "Dice (%)",
                      "Dice per imaging center and model.");
    if (!rc)
        rc = box_plot(d, pc, "center", "hd95", 1, "HD95 per center", "HD95 (mm)",
                      "HD95 per imaging center and model.");
    if (!rc)
        rc = cross_center_doc(d, cc, c_cc);
    if (!rc)
        rc = ps_doc_section(d, "compare", "Paired comparisons");
    if (!rc) {
        char *cap = ps_asprintf("Each model against %s per modality: paired t-test and Wilcoxon "
                                "signed-rank test of the per-case differences A \xe2\x88\x92 B", baseline);
        rc = cap ? add_table(d, c_cmp, "compare", cap,
                             "Cases are paired by case id and label; a pair enters when both rows "
                             "enter by the rule above (a case missing for one model is left out). "
                             "Holm's correction runs across every row of this table.",
                             "compare.csv", NULL, compare_doc_cols, NCOLS(compare_doc_cols), 0)
                 : PS_ERR_NOMEM;
        free(cap);
    }
    if (!rc)
        rc = ps_doc_section(d, "volume", "Volume agreement");
    if (!rc)
        rc = add_table(d, c_vol, "volume", "Predicted against reference volume per modality and model",
                       "R\xc2\xb2 (OLS) is the squared Pearson r of the fit of predicted on reference "
                       "volume, what the PanSegNet paper reports; R\xc2\xb2 (identity) is against "
                       "the line y = x. Bland\xe2\x80\x93" "Altman: bias = mean(pred \xe2\x88\x92 ref), "
                       "limits = bias \xe2\x88\x93 1.96 SD. Paired t: pred against ref. A case "
                       "enters when both volumes are finite and its status is not error or missing.",
                       "volume.csv", NULL, volume_doc_cols, NCOLS(volume_doc_cols), 0);
    for (int i = 0; i < nmod && !rc; i++)
        rc = volume_plots(d, pc, modalities[i]);
    if (!rc && c_rat) {
        rc = ps_doc_section(d, "raters", "Rater agreement");
        if (!rc)
            rc = add_table(d, c_rat, "raters", "Manual labels against the reference, per modality",
                           "Every rater column against ref. inter: rater:NAME, or a further session "
                           "of a rater who also has a rater:NAME column; intra: rater:NAME:SESSION "
                           "of a rater without one (ref is then that rater's first session). "
                           "Kappa is voxel-wise Cohen's kappa per case; mean \xc2\xb1 SD over cases.",
                           "raters.csv", NULL, raters_doc_cols, NCOLS(raters_doc_cols), 0);
        if (!rc)
            rc = box_plot(d, raters, "modality", "kappa", 1, "Rater agreement: voxel-wise kappa",
                          "Cohen's kappa", "Voxel-wise kappa per case, per modality and rater.");
        if (!rc)
            rc = box_plot(d, raters, "modality", "dice", 100, "Rater agreement: Dice", "Dice (%)",
                          "Dice of each rater against the reference.");
    }
    if (!rc && o->agreement)
        rc = agreement_doc(d, o->agreement, o->level, dir);
    if (!rc && c_pub && c_pub->nrows > 0) {
        rc = ps_doc_section(d, "published", "Published values");
        if (!rc)
            rc = add_table(d, c_pub, "published", "Published beside reproduced values",
                           "dice_pct: Dice in percent (mean, SD over cases); volume_r2: R\xc2\xb2 "
                           "of the OLS fit; kappa_inter: inter-rater kappa. Reproduced values "
                           "come from by_modality.csv, volume.csv and raters.csv.",
                           "published.csv", NULL, published_doc_cols, NCOLS(published_doc_cols), 0);
    }
    if (!rc && o->path) {
        rc = ps_doc_section(d, "worst", "Worst cases");
        if (!rc) {
            char *p = ps_asprintf("The %d cases of lowest Dice per model. Each shows the axial slice "
                                  "with the most FP + FN voxels; reference contour cyan (outside "
                                  "the reference), prediction magenta (inside the prediction). CT "
                                  "in the soft-tissue window (level 40, width 400 HU), MRI from the "
                                  "1st to the 99th percentile of the slice. Click a figure for its "
                                  "row of the per-case table.",
                                  o->worst_k > 0 ? o->worst_k : 5);
            rc = p ? ps_doc_paragraph(d, p) : PS_ERR_NOMEM;
            free(p);
        }
        if (!rc)
            rc = worst_figures(d, pc, o);
    }
    if (!rc)
        rc = ps_doc_section(d, "cases", "Per-case table");
    if (!rc)
        rc = add_table(d, c_pc, "per_case", "Every case, model and label", exclusion_rule,
                       "per_case.csv", "{case}-{model}-{label}", per_case_doc_cols,
                       NCOLS(per_case_doc_cols), 1);
    static const struct { const char *name; ps_doc_format f; } docs[] = {
        {"report.md", PS_DOC_MARKDOWN}, {"report.tex", PS_DOC_LATEX}, {"report.html", PS_DOC_HTML}};
    for (int i = 0; i < 3 && !rc; i++) {
        char *p = path_in(dir, docs[i].name);
        ps_atomic_file *af = NULL;
        rc = p ? ps_atomic_open(p, &af) : PS_ERR_NOMEM;
        if (!rc) {
            rc = ps_doc_write(d, ps_atomic_stream(af), docs[i].f);
            if (rc)
                ps_atomic_abort(af);
            else
                rc = ps_atomic_commit(af);
        }
        free(p);
    }
    free(title);
    free(intro);
    ps_doc_free(d);
    ps_rtable_free(bymod);
    ps_rtable_free(bycenter);
    ps_rtable_free(cc);
    ps_rtable_free(cmp);
    ps_rtable_free(vol);
    ps_rtable_free(rat);
    ps_rtable_free(pubt);
    ps_table_free(c_bymod);
    ps_table_free(c_bycenter);
    ps_table_free(c_cc);
    ps_table_free(c_cmp);
    ps_table_free(c_vol);
    ps_table_free(c_rat);
    ps_table_free(c_pub);
    ps_table_free(c_pc);
    ps_published_free(pub);
    free(models);
    free(modalities);
    return rc;
}
