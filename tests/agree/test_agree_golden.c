/* test_agree_golden.c - `panseval agreement` and `panseval fuse` (src/eval) against the
 * goldens of tests/reference/agree_voxels_reference.py: voxel-wise Fleiss' kappa (statsmodels)
 * and Krippendorff's alpha (numpy transcription) over the image and the union box, STAPLE
 * sensitivities / specificities against a numpy transcription of the paper and against ITK 5.2's
 * STAPLEImageFilter (agree_expected_itk.csv, via staple_itk.cxx) to 1e-9, the STAPLE and
 * majority-vote consensus maps voxel for voxel, and identical output files for -j1 and -j3.
 */
#include <sys/stat.h>

#include "ps_test.h"

#include "ps_eval.h"
#include "ps_reports.h"
#include "ps_io.h"
#include "ps_manifest.h"

static ps_manifest *golden_manifest(void)
{
    ps_manifest_options mo;
    ps_manifest_options_init(&mo);
    ps_manifest *m = NULL;
    int rc = ps_manifest_read(ps_test_path("golden/agree/manifest.tsv"), &mo, &m);
    ck_assert_msg(rc == 0, "%s", ps_error_message());
    return m;
}

/* The expected value of (case, label, region, quantity, rater) in a golden CSV, or NAN. */
static double expected(const ps_table *t, const char *cs, const char *label, const char *region,
                       const char *q, const char *rater)
{
    int cc = ps_table_col(t, "case"), cl = ps_table_col(t, "label"),
        cr = ps_table_col(t, "region"), cq = ps_table_col(t, "quantity"),
        ca = ps_table_col(t, "rater"), cv = ps_table_col(t, "value");
    for (int64_t r = 0; r < t->nrows; r++) {
        char **c = t->cells[r];
        if (!strcmp(c[cc], cs) && !strcmp(c[cl], label) && !strcmp(c[cr], region) &&
            !strcmp(c[cq], q) && !strcmp(c[ca], rater)) {
            double v;
            ck_assert_int_eq(ps_table_get_double(t, r, cv, &v), 0);
            return v;
        }
    }
    return NAN;
}

static ps_table *read_table(const char *path)
{
    ps_table *t = NULL;
    int rc = ps_table_read(path, &t);
    ck_assert_msg(rc == 0, "%s", ps_error_message());
    return t;
}

static char *slurp(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    ck_assert_ptr_nonnull(f);
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    char *b = malloc((size_t)n + 1);
    ck_assert_int_eq(fread(b, 1, (size_t)n, f), (size_t)n);
    fclose(f);
    *len = (size_t)n;
    return b;
}

static void run_agreement(ps_agree_region region, int threads, const char *dir)
{
    ps_manifest *m = golden_manifest();
    ps_agree_options o;
    ps_agree_options_init(&o);
    o.region = region;
    o.margin_mm = 2.0;
    ps_context ctx;
    ps_context_init(&ctx);
    ctx.threads = threads;
    mkdir(dir, 0777);
    ps_agree_summary s;
    ps_agreement_report_options ro;
    ps_agreement_report_options_init(&ro);
    ps_agreement_result res;
    int rc = ps_report_agreement(m, &o, &ro, &ctx, dir, &res, &s);
    ck_assert_msg(rc == 0, "%s", ps_error_message());
    ps_agreement_result_free(&res);
    ck_assert_int_eq(s.cases, 3);
    ck_assert_int_eq(s.cases_failed, 0);
    ck_assert_int_eq(s.empty_masks, 1); /* five_empty's rater D: counted, not dropped */
    ps_manifest_free(m);
}

START_TEST(test_voxel_kappa_alpha)
{
    ps_table *g = read_table(ps_test_path("golden/agree/agree_expected.csv"));
    const ps_agree_region regions[2] = {PS_AGREE_IMAGE, PS_AGREE_UNION_BOX};
    for (int ri = 0; ri < 2; ri++) {
        char dir[4096];
        snprintf(dir, sizeof dir, "%s", ps_test_tmp(ri ? "agree_box" : "agree_image"));
        run_agreement(regions[ri], 2, dir);
        char path[4200];
        snprintf(path, sizeof path, "%s/cases.csv", dir);
        ps_table *t = read_table(path);
        int cc, cl, cf, ca, cn, creg;
        ck_assert_int_eq(ps_table_require_col(t, "case", &cc), 0);
        ck_assert_int_eq(ps_table_require_col(t, "label", &cl), 0);
        ck_assert_int_eq(ps_table_require_col(t, "region", &creg), 0);
        ck_assert_int_eq(ps_table_require_col(t, "fleiss_kappa", &cf), 0);
        ck_assert_int_eq(ps_table_require_col(t, "krippendorff_alpha", &ca), 0);
        ck_assert_int_eq(ps_table_require_col(t, "n_raters", &cn), 0);
        ck_assert_int_eq(t->nrows, 4); /* three, five_empty, two_labels x {1, 2} */
        for (int64_t r = 0; r < t->nrows; r++) {
            char **c = t->cells[r];
            const char *region = ri ? "union-box" : "image";
            ck_assert_str_eq(c[creg], region);
            double fk, ka;
            ck_assert_int_eq(ps_table_get_double(t, r, cf, &fk), 0);
            ck_assert_int_eq(ps_table_get_double(t, r, ca, &ka), 0);
            double efk = expected(g, c[cc], c[cl], region, "fleiss_kappa", "");
            double eka = expected(g, c[cc], c[cl], region, "krippendorff_alpha", "");
            ck_assert_msg(isfinite(efk) && isfinite(eka), "no golden for %s %s", c[cc], c[cl]);
            ck_assert_close(fk, efk, PS_TOL_REF);
            ck_assert_close(ka, eka, PS_TOL_REF);
        }
        ps_table_free(t);
    }
    ps_table_free(g);
}
END_TEST

START_TEST(test_threads_identical)
{
    run_agreement(PS_AGREE_UNION_BOX, 1, ps_test_tmp("agree_j1"));
    run_agreement(PS_AGREE_UNION_BOX, 3, ps_test_tmp("agree_j3"));
    const char *files[] = {"pairs.csv", "cases.csv", "summary.csv"};
    for (int i = 0; i < 3; i++) {
        char a[4200], b[4200];
        snprintf(a, sizeof a, "%s/%s", ps_test_tmp("agree_j1"), files[i]);
        snprintf(b, sizeof b, "%s/%s", ps_test_tmp("agree_j3"), files[i]);
        size_t na, nb;
        char *ta = slurp(a, &na), *tb = slurp(b, &nb);
        ck_assert_msg(na == nb && !memcmp(ta, tb, na), "%s differs between -j1 and -j3",
                      files[i]);
        free(ta);
        free(tb);
    }
}
END_TEST

static void compare_volumes(const char *got, const char *want)
{
    ps_volume *a = NULL, *b = NULL;
    ck_assert_msg(ps_volume_read_labels(got, &a) == 0, "%s", ps_error_message());
    ck_assert_msg(ps_volume_read_labels(want, &b) == 0, "%s", ps_error_message());
    ck_assert_int_eq(ps_geometry_check_same(&a->geom, got, &b->geom, want), 0);
    int64_t n = ps_volume_nvox(a), diff = 0;
    for (int64_t v = 0; v < n; v++) {
        int32_t x = a->dtype == PS_DT_UINT8 ? ((uint8_t *)a->data)[v] : ((int32_t *)a->data)[v];
        int32_t y = b->dtype == PS_DT_UINT8 ? ((uint8_t *)b->data)[v] : ((int32_t *)b->data)[v];
        diff += x != y;
    }
    ck_assert_msg(diff == 0, "%s: %lld voxels differ from %s", got, (long long)diff, want);
    ps_volume_free(a);
    ps_volume_free(b);
}

START_TEST(test_fuse_staple_and_majority)
{
    ps_table *g = read_table(ps_test_path("golden/agree/agree_expected.csv"));
    ps_table *gi = read_table(ps_test_path("golden/agree/agree_expected_itk.csv"));
    const char *cases[3] = {"three", "five_empty", "two_labels"};
    for (int method = 0; method < 2; method++) {
        ps_manifest *m = golden_manifest();
        ps_fuse_options o;
        ps_fuse_options_init(&o);
        o.method = method ? PS_FUSE_MAJORITY : PS_FUSE_STAPLE;
        char mout[4096]; /* ps_test_tmp returns a static buffer */
        snprintf(mout, sizeof mout, "%s", ps_test_tmp("fused_manifest.tsv"));
        o.manifest_out = mout;
        char dir[4096];
        snprintf(dir, sizeof dir, "%s", ps_test_tmp(method ? "fuse_majority" : "fuse_staple"));
        mkdir(dir, 0777);
        ps_fuse_summary s;
        int rc = ps_fuse_run(m, &o, NULL, dir, &s);
        ck_assert_msg(rc == 0, "%s", ps_error_message());
        ck_assert_int_eq(s.files, 3);
        for (int c = 0; c < 3; c++) {
            char got[4200], want[256];
            snprintf(got, sizeof got, "%s/%s.nii.gz", dir, cases[c]);
            snprintf(want, sizeof want, "golden/agree/%s_%s.nii.gz", cases[c],
                     method ? "majority" : "staple");
            compare_volumes(got, ps_test_path(want));
        }
        /* the written manifest names the consensus files */
        ps_manifest *mo = NULL;
        ps_manifest_options mopt;
        ps_manifest_options_init(&mopt);
        ck_assert_msg(ps_manifest_read(o.manifest_out, &mopt, &mo) == 0, "%s",
                      ps_error_message());
        ck_assert_int_ge(ps_manifest_rater_index(mo, "consensus", NULL), 0);
        ps_manifest_free(mo);
        if (method == 0) {
            char path[4200];
            snprintf(path, sizeof path, "%s/staple_raters.csv", dir);
            ps_table *t = read_table(path);
            int cc, cl, cr, cs, cp, ci;
            ck_assert_int_eq(ps_table_require_col(t, "case", &cc), 0);
            ck_assert_int_eq(ps_table_require_col(t, "label", &cl), 0);
            ck_assert_int_eq(ps_table_require_col(t, "rater", &cr), 0);
            ck_assert_int_eq(ps_table_require_col(t, "sensitivity", &cs), 0);
            ck_assert_int_eq(ps_table_require_col(t, "specificity", &cp), 0);
            ck_assert_int_eq(ps_table_require_col(t, "iterations", &ci), 0);
            ck_assert_int_eq(t->nrows, 3 + 5 + 4 * 2);
            for (int64_t r = 0; r < t->nrows; r++) {
                char **c = t->cells[r];
                double se, sp, it;
                ck_assert_int_eq(ps_table_get_double(t, r, cs, &se), 0);
                ck_assert_int_eq(ps_table_get_double(t, r, cp, &sp), 0);
                ck_assert_int_eq(ps_table_get_double(t, r, ci, &it), 0);
                for (int src = 0; src < 2; src++) {
                    const ps_table *e = src ? gi : g;
                    ck_assert_close_abs(se, expected(e, c[cc], c[cl], "image", "sensitivity",
                                                     c[cr]), PS_TOL_REF);
                    ck_assert_close_abs(sp, expected(e, c[cc], c[cl], "image", "specificity",
                                                     c[cr]), PS_TOL_REF);
                    ck_assert_int_eq((int)it, (int)expected(e, c[cc], c[cl], "image",
                                                            "iterations", ""));
                }
            }
            ps_table_free(t);
        }
        ps_manifest_free(m);
    }
    ps_table_free(g);
    ps_table_free(gi);
}
END_TEST

START_TEST(test_single_rater_and_geometry)
{
    /* one rater column: a clear error, not NaN tables */
    const char *one = "case\tref\nthree\tthree_ref.nii.gz\n";
    ps_manifest_options mo;
    ps_manifest_options_init(&mo);
    mo.check = PS_MANIFEST_CHECK_NONE;
    ps_manifest *m = NULL;
    char base[4096];
    snprintf(base, sizeof base, "%s", ps_test_path("golden/agree"));
    ck_assert_int_eq(ps_manifest_parse(one, strlen(one), "one.tsv", base, &mo, &m), 0);
    ps_agree_options o;
    ps_agree_options_init(&o);
    mkdir(ps_test_tmp("agree_one"), 0777);
    ck_assert_int_eq(ps_agreement_run(m, &o, NULL, ps_test_tmp("agree_one"), NULL, NULL),
                     PS_ERR_ARG);
    ck_assert_msg(strstr(ps_error_message(), "at least two raters"), "%s", ps_error_message());
    ps_manifest_free(m);
    /* a rater on another grid: that case is an error row, the other case goes on */
    const char *two = "case\tref\trater:B\nbad\tthree_ref.nii.gz\tfive_empty_B.nii.gz\n"
                      "good\tthree_ref.nii.gz\tthree_B.nii.gz\n";
    ck_assert_int_eq(ps_manifest_parse(two, strlen(two), "two.tsv", base, &mo, &m), 0);
    ps_agree_summary s;
    ck_assert_int_eq(ps_agreement_run(m, &o, NULL, ps_test_tmp("agree_one"), NULL, &s), 0);
    ck_assert_int_eq(s.cases, 2);
    ck_assert_int_eq(s.cases_failed, 1);
    ck_assert_int_eq(s.pairs, 1);
    char path[4200];
    snprintf(path, sizeof path, "%s/cases.csv", ps_test_tmp("agree_one"));
    ps_table *t = read_table(path);
    int cs, cm;
    ck_assert_int_eq(ps_table_require_col(t, "status", &cs), 0);
    ck_assert_int_eq(ps_table_require_col(t, "message", &cm), 0);
    ck_assert_str_eq(t->cells[0][cs], "error");
    ck_assert_msg(strstr(t->cells[0][cm], "five_empty_B"), "%s", t->cells[0][cm]);
    ck_assert_str_eq(t->cells[1][cs], "ok");
    ps_table_free(t);
    ps_manifest_free(m);
    /* every rater empty: the case is still a row (label 1, both empty: Dice 1), never lost */
    const char *empty = "case\tref\trater:B\nnone\tfive_empty_D.nii.gz\tfive_empty_D.nii.gz\n";
    ck_assert_int_eq(ps_manifest_parse(empty, strlen(empty), "empty.tsv", base, &mo, &m), 0);
    ck_assert_int_eq(ps_agreement_run(m, &o, NULL, ps_test_tmp("agree_one"), NULL, &s), 0);
    ck_assert_int_eq(s.pairs, 1);
    ck_assert_int_eq(s.empty_masks, 2);
    t = read_table(path);
    int cd;
    ck_assert_int_eq(ps_table_require_col(t, "mean_pairwise_dice", &cd), 0);
    ck_assert_int_eq(t->nrows, 1);
    ck_assert_str_eq(t->cells[0][cd], "1");
    ps_table_free(t);
    ps_manifest_free(m);
}
END_TEST

/* The result tables for `panseval reproduce`: from in-memory tables (no files), the matrix
 * and the model-within-variation table equal the plain means of the per-row values. */
static double mean_of(const ps_table *t, const char *col, const char *k1, const char *v1,
                      const char *k2, const char *v2, const char *k3, const char *v3)
{
    int c, a, b, d;
    ck_assert_int_eq(ps_table_require_col(t, col, &c), 0);
    ck_assert_int_eq(ps_table_require_col(t, k1, &a), 0);
    ck_assert_int_eq(ps_table_require_col(t, k2, &b), 0);
    ck_assert_int_eq(ps_table_require_col(t, k3, &d), 0);
    double s = 0;
    int n = 0;
    for (int64_t r = 0; r < t->nrows; r++)
        if (!strcmp(t->cells[r][a], v1) && !strcmp(t->cells[r][b], v2) &&
            !strcmp(t->cells[r][d], v3)) {
            s += strtod(t->cells[r][c], NULL);
            n++;
        }
    ck_assert_int_gt(n, 0);
    return s / n;
}

START_TEST(test_result_tables)
{
    const char *text = "case\tmodality\tref\trater:B\trater:C\tpred:M\n"
                       "three\tCT\tthree_ref.nii.gz\tthree_B.nii.gz\tthree_C.nii.gz\tthree_C.nii.gz\n"
                       "five\tMR\tfive_empty_ref.nii.gz\tfive_empty_B.nii.gz\t"
                       "five_empty_C.nii.gz\tfive_empty_E.nii.gz\n"
                       "five2\tMR\tfive_empty_ref.nii.gz\tfive_empty_C.nii.gz\t"
                       "five_empty_B.nii.gz\tfive_empty_D.nii.gz\n";
    ps_manifest_options mo;
    ps_manifest_options_init(&mo);
    mo.check = PS_MANIFEST_CHECK_NONE;
    ps_manifest *m = NULL;
    ck_assert_int_eq(ps_manifest_parse(text, strlen(text), "m.tsv",
                                       ps_test_path("golden/agree"), &mo, &m), 0);
    ps_agree_options o;
    ps_agree_options_init(&o);
    ck_assert_int_eq(ps_agree_options_set(&o, "models", ""), 0);
    ps_agree_tables t;
    ck_assert_msg(ps_agreement_run(m, &o, NULL, NULL, &t, NULL) == 0, "%s", ps_error_message());
    ck_assert_int_eq(t.nraters, 3);
    ck_assert_int_eq(t.pairs->nrows, 3 * 3 + 3 * 3); /* 3 inter + 3 model pairs per case */
    ps_agreement_report_options ro;
    ps_agreement_report_options_init(&ro);
    const char *by[1] = {"modality"};
    ro.by = by;
    ro.nby = 1;
    ps_agreement_result res;
    ck_assert_msg(ps_report_agreement_tables(&t, &ro, &res) == 0, "%s", ps_error_message());
    /* matrix: modality, label, rater, ref, B, C; MR rows are the 2nd block */
    const ps_rtable *mx = res.matrix;
    ck_assert_int_eq(ps_rtable_ncols(mx), 6);
    ck_assert_int_eq(ps_rtable_nrows(mx), 6);
    ck_assert_str_eq(ps_rtable_cell_str(mx, 3, 0), "MR");
    ck_assert_str_eq(ps_rtable_cell_str(mx, 3, 2), "ref");
    double want = mean_of(t.pairs, "dice", "modality", "MR", "rater_a", "ref", "rater_b", "B") +
                  mean_of(t.pairs, "dice", "modality", "MR", "rater_a", "ref", "rater_b", "C");
    /* MR: (ref, B) in case five and (ref, C) of five2 are the same masks as (ref, C) of five
     * and (ref, B) of five2, so each mean is the mean of the same two values */
    ck_assert_close(ps_rtable_cell_num(mx, 3, 4) + ps_rtable_cell_num(mx, 3, 5), want,
                    PS_TOL_EXACT);
    ck_assert(ps_rtable_cell_num(mx, 3, 3) == 1.0);
    ck_assert_close(ps_rtable_cell_num(mx, 0, 4),
                    mean_of(t.pairs, "dice", "modality", "CT", "rater_a", "ref", "rater_b", "B"),
                    PS_TOL_EXACT);
    /* models: modality, label, model, n, model_mean_dice, raters_mean_dice, mean_diff ... */
    const ps_rtable *mt = res.models;
    ck_assert_ptr_nonnull(mt);
    ck_assert_int_eq(ps_rtable_nrows(mt), 2);
    ck_assert_str_eq(ps_rtable_cell_str(mt, 1, 0), "MR");
    ck_assert_int_eq((int)ps_rtable_cell_num(mt, 1, 3), 2);
    double mm = mean_of(t.models, "model_mean_dice", "modality", "MR", "model", "M", "label", "1");
    double rm = mean_of(t.models, "raters_mean_dice", "modality", "MR", "model", "M", "label", "1");
    ck_assert_close(ps_rtable_cell_num(mt, 1, 4), mm, PS_TOL_EXACT);
    ck_assert_close(ps_rtable_cell_num(mt, 1, 5), rm, PS_TOL_EXACT);
    ck_assert_close(ps_rtable_cell_num(mt, 1, 6), mm - rm, 1e-12);
    /* summary: the first rows are CT's, in the documented order */
    ck_assert_str_eq(ps_rtable_cell_str(res.summary, 0, 0), "CT");
    ck_assert_str_eq(ps_rtable_cell_str(res.summary, 0, 3), "pair_dice");
    ps_agreement_result_free(&res);
    /* an unknown --by column is an argument error naming it */
    const char *bad[1] = {"nosuch"};
    ro.by = bad;
    ck_assert_int_eq(ps_report_agreement_tables(&t, &ro, &res), PS_ERR_ARG);
    ck_assert_msg(strstr(ps_error_message(), "nosuch"), "%s", ps_error_message());
    ps_agree_tables_free(&t);
    ps_agree_options_clear(&o);
    ps_manifest_free(m);
}
END_TEST

static Suite *suite(void)
{
    Suite *s = suite_create("agree_golden");
    TCase *tc = tcase_create("core");
    tcase_set_timeout(tc, 300);
    tcase_add_test(tc, test_voxel_kappa_alpha);
    tcase_add_test(tc, test_threads_identical);
    tcase_add_test(tc, test_fuse_staple_and_majority);
    tcase_add_test(tc, test_single_rater_and_geometry);
    tcase_add_test(tc, test_result_tables);
    suite_add_tcase(s, tc);
    return s;
}

PS_TEST_MAIN(suite)
