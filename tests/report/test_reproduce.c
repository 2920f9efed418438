/* test_reproduce.c - every table of ps_reproduce_report against the reference script
 * tests/reference/reproduce_reference.py (numpy / scipy / statsmodels / sklearn on the same
 * per-case tables; goldens in tests/golden/reproduce/), and the report around them. The input
 * has one case whose prediction failed (status=error): the tables count it and the report
 * is still written. */
#include <sys/stat.h>

#include "ps_reports.h"
#include "ps_test.h"

static const char *out_dir(void)
{
    static char dir[4096];
    snprintf(dir, sizeof dir, "%s", ps_test_tmp("reproduce_golden"));
    mkdir(dir, 0755);
    return dir;
}

static void run_report(void)
{
    static int done = 0;
    if (done)
        return;
    ps_table *pc = NULL, *raters = NULL;
    char path[4200];
    /* per_case.csv must be in the output folder (the per-case table is part of the report) */
    ck_assert_int_eq(ps_table_read(ps_test_path("golden/reproduce/per_case.csv"), &pc), PS_OK);
    snprintf(path, sizeof path, "%s/per_case.csv", out_dir());
    FILE *in = fopen(ps_test_path("golden/reproduce/per_case.csv"), "rb"), *o = fopen(path, "wb");
    ck_assert(in && o);
    char buf[65536];
    size_t n;
    while ((n = fread(buf, 1, sizeof buf, in)) > 0)
        fwrite(buf, 1, n, o);
    fclose(in);
    fclose(o);
    ck_assert_int_eq(ps_table_read(ps_test_path("golden/reproduce/raters.csv"), &raters), PS_OK);
    ps_reproduce_options opt;
    ps_reproduce_options_init(&opt);
    opt.baseline = "modelB";
    opt.published = ps_test_path("../data-manifests/published/pansegnet.tsv");
    int rc = ps_reproduce_report(pc, raters, &opt, out_dir());
    ck_assert_msg(rc == PS_OK, "%s", ps_error_message());
    ps_table_free(pc);
    ps_table_free(raters);
    done = 1;
}

/* Compare every column of golden expected_<name>.csv with <name>.csv, rows matched on the
 * key columns; numbers to PS_TOL_REF, text exactly. Returns the rows compared. */
static int64_t compare_table(const char *name, const char *const *keys, int nkeys)
{
    char rel[256], path[4200];
    snprintf(rel, sizeof rel, "golden/reproduce/expected_%s.csv", name);
    ps_table *exp = NULL, *got = NULL;
    ck_assert_int_eq(ps_table_read(ps_test_path(rel), &exp), PS_OK);
    snprintf(path, sizeof path, "%s/%s.csv", out_dir(), name);
    ck_assert_msg(ps_table_read(path, &got) == PS_OK, "%s", ps_error_message());
    ck_assert_int_eq(got->nrows, exp->nrows);
    int kc_e[8], kc_g[8];
    for (int k = 0; k < nkeys; k++) {
        ck_assert_int_eq(ps_table_require_col(exp, keys[k], &kc_e[k]), PS_OK);
        ck_assert_int_eq(ps_table_require_col(got, keys[k], &kc_g[k]), PS_OK);
    }
    for (int64_t r = 0; r < exp->nrows; r++) {
        int64_t g = -1;
        for (int64_t i = 0; i < got->nrows && g < 0; i++) {
            int same = 1;
            for (int k = 0; k < nkeys; k++)
                same &= !strcmp(exp->cells[r][kc_e[k]], got->cells[i][kc_g[k]]);
            if (same)
                g = i;
        }
        ck_assert_msg(g >= 0, "%s: no row for expected line %lld", name, (long long)exp->line[r]);
        for (int c = 0; c < exp->ncols; c++) {
            int gc;
            ck_assert_msg(ps_table_require_col(got, exp->colnames[c], &gc) == PS_OK, "%s: %s",
                          name, ps_error_message());
            const char *e = exp->cells[r][c], *v = got->cells[g][gc];
            double de, dv;
            if (ps_table_get_double(exp, r, c, &de) != PS_OK) {
                ck_assert_msg(!strcmp(e, v), "%s line %lld %s: '%s', expected '%s'", name,
                              (long long)exp->line[r], exp->colnames[c], v, e);
                continue;
            }
            if (!*v)
                dv = NAN; /* the result tables write NaN as an empty cell */
            else
                ck_assert_int_eq(ps_table_get_double(got, g, gc, &dv), PS_OK);
            ck_assert_msg(isnan(de) ? isnan(dv) : fabs(dv - de) <= PS_TOL_REF * fmax(1, fabs(de)),
                          "%s line %lld %s: %.17g, expected %.17g", name, (long long)exp->line[r],
                          exp->colnames[c], dv, de);
        }
    }
    int64_t n = exp->nrows;
    ps_table_free(exp);
    ps_table_free(got);
    return n;
}

START_TEST(test_by_modality)
{
    run_report();
    static const char *const k[] = {"model", "modality"};
    ck_assert_int_eq(compare_table("by_modality", k, 2), 6);
}
END_TEST

START_TEST(test_by_center)
{
    run_report();
    static const char *const k[] = {"model", "center", "modality"};
    ck_assert_int_eq(compare_table("by_center", k, 3), 24);
    static const char *const m[] = {"model"};
    ck_assert_int_eq(compare_table("cross_center", m, 1), 2);
}
END_TEST

START_TEST(test_compare)
{
    run_report();
    static const char *const k[] = {"modality", "metric", "model_a"};
    ck_assert_int_eq(compare_table("compare", k, 3), 6);
}
END_TEST

START_TEST(test_volume)
{
    run_report();
    static const char *const k[] = {"model", "modality"};
    ck_assert_int_eq(compare_table("volume", k, 2), 6);
}
END_TEST

START_TEST(test_raters_published)
{
    run_report();
    static const char *const k[] = {"rater", "modality"};
    ck_assert_int_eq(compare_table("raters", k, 2), 12); /* B, A:2, C, B:2 x 3 modalities */
    static const char *const p[] = {"modality", "metric", "model"};
    ck_assert_int_eq(compare_table("published", p, 3), 16); /* 6 Dice, 6 R², 4 kappa (B, C) */
}
END_TEST

START_TEST(test_report_with_error_row)
{
    run_report();
    /* the failed case (t1w03, modelA) is counted as an error in its group and the three
     * reports are written, the failed row among the per-case rows */
    char path[4200];
    static const char *const files[] = {"report.html", "report.md", "report.tex",
                                        "by_modality.json", "compare.json", "volume.json",
                                        "raters.json", "published.json", "cross_center.json",
                                        "by_center.json"};
    for (size_t i = 0; i < sizeof files / sizeof *files; i++) {
        struct stat sb;
        snprintf(path, sizeof path, "%s/%s", out_dir(), files[i]);
        ck_assert_msg(stat(path, &sb) == 0 && sb.st_size > 0, "%s missing", files[i]);
    }
    snprintf(path, sizeof path, "%s/report.html", out_dir());
    FILE *f = fopen(path, "rb");
    static char html[1 << 21];
    size_t n = fread(html, 1, sizeof html - 1, f);
    fclose(f);
    html[n] = 0;
    ck_assert_ptr_nonnull(strstr(html, "<tr id=\"per_case-t1w03-modelA-\""));
    ck_assert_ptr_nonnull(strstr(html, "truncated NIfTI-1 header"));
    /* modelA T1W: 8 rows, 7 ok and 1 error */
    ck_assert_ptr_nonnull(strstr(html, "<tr id=\"by_modality-modelA-T1W\" data-r=\"2\"><td>modelA"
                                       "</td><td>T1W</td><td>8 (7 / 0 / 0 / 0 / 1 / 0)</td>"));
    /* a baseline that is no model of the table is an error naming it */
    ps_table *pc = NULL;
    ck_assert_int_eq(ps_table_read(ps_test_path("golden/reproduce/per_case.csv"), &pc), PS_OK);
    ps_reproduce_options o;
    ps_reproduce_options_init(&o);
    o.baseline = "modelZ";
    ck_assert_int_eq(ps_reproduce_report(pc, NULL, &o, out_dir()), PS_ERR_ARG);
    ck_assert_ptr_nonnull(strstr(ps_error_message(), "modelZ"));
    ps_table_free(pc);
}
END_TEST

static Suite *make_suite(void)
{
    Suite *s = suite_create("reproduce");
    TCase *tc = tcase_create("tables");
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, test_by_modality);
    tcase_add_test(tc, test_by_center);
    tcase_add_test(tc, test_compare);
    tcase_add_test(tc, test_volume);
    tcase_add_test(tc, test_raters_published);
    tcase_add_test(tc, test_report_with_error_row);
    suite_add_tcase(s, tc);
    return s;
}

PS_TEST_MAIN(make_suite)
