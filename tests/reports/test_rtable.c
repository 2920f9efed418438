/* test_rtable.c - the result-table model and its renderers, the grouping and the exclusion
 * rule of reports/ (expected outputs written out by hand). */
#include "ps_test.h"

#include "ps_reports.h"

static char *render(const ps_rtable *t, ps_report_format fmt)
{
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    ck_assert_int_eq(ps_rtable_write(t, f, fmt), PS_OK);
    fclose(f);
    return buf;
}

static ps_rtable *sample(void)
{
    ps_rtable *t;
    ck_assert_int_eq(ps_rtable_create(&t), PS_OK);
    ck_assert_int_eq(ps_rtable_add_col(t, "group", PS_CELL_STR, 0, 0, 0), PS_OK);
    ck_assert_int_eq(ps_rtable_add_col(t, "n", PS_CELL_INT, 0, 0, 0), PS_OK);
    ck_assert_int_eq(ps_rtable_add_col(t, "mean", PS_CELL_NUM, PS_STYLE_FIXED, 2, 0), PS_OK);
    ck_assert_int_eq(ps_rtable_add_col(t, "excl_nan", PS_CELL_INT, 0, 0, PS_COL_DATA_ONLY),
                     PS_OK);
    ck_assert_int_eq(ps_rtable_str(t, "a_b"), PS_OK);
    ck_assert_int_eq(ps_rtable_int(t, 12), PS_OK);
    ck_assert_int_eq(ps_rtable_num(t, 0.125), PS_OK);
    ck_assert_int_eq(ps_rtable_int(t, 1), PS_OK);
    ck_assert_int_eq(ps_rtable_str(t, "c"), PS_OK);
    ck_assert_int_eq(ps_rtable_int(t, 3), PS_OK);
    ck_assert_int_eq(ps_rtable_num(t, NAN), PS_OK);
    ck_assert_int_eq(ps_rtable_int(t, 0), PS_OK);
    return t;
}

START_TEST(test_renderers)
{
    ps_rtable *t = sample();
    ck_assert_int_eq(ps_rtable_nrows(t), 2);
    /* a text cell in a number column is refused */
    ck_assert_int_eq(ps_rtable_num(t, 1.0), PS_ERR_INTERNAL);
    char *s = render(t, PS_REPORT_TEXT);
    /* text left, numbers right; %.2f of 0.125 is 0.12 (round half to even of the binary
     * value 0.125 exactly); the data-only column is not shown */
    ck_assert_str_eq(s, "group   n  mean\n"
                        "a_b    12  0.12\n"
                        "c       3   nan\n");
    free(s);
    /* Markdown and LaTeX through src/io's writer, cells as their display text */
    s = render(t, PS_REPORT_MD);
    ck_assert_str_eq(s, "| group | n | mean |\n"
                        "| --- | --- | --- |\n"
                        "| a_b | 12 | 0.12 |\n"
                        "| c | 3 | nan |\n");
    free(s);
    s = render(t, PS_REPORT_TEX);
    ck_assert_ptr_nonnull(strstr(s, "\\toprule\n"));
    ck_assert_ptr_nonnull(strstr(s, "group & n & mean \\\\\n\\midrule\n"));
    ck_assert_ptr_nonnull(strstr(s, "a\\_b & 12 & 0.12 \\\\\n"));
    ck_assert_ptr_nonnull(strstr(s, "\\bottomrule\n\\end{tabular}\n"));
    free(s);
    s = render(t, PS_REPORT_CSV);
    ck_assert_ptr_nonnull(strstr(s, "group,n,mean,excl_nan\n"));
    ck_assert_ptr_nonnull(strstr(s, "a_b,12,0.125"));
    free(s);
    ck_assert_int_eq(ps_rtable_find_col(t, "mean"), 2);
    ck_assert_double_eq(ps_rtable_cell_num(t, 0, 2), 0.125);
    ck_assert_str_eq(ps_rtable_cell_str(t, 1, 0), "c");
    ps_rtable_free(t);
    ps_report_format f;
    ck_assert_int_eq(ps_report_format_parse("latex", &f), PS_OK);
    ck_assert_int_eq(f, PS_REPORT_TEX);
    ck_assert_int_eq(ps_report_format_parse("html", &f), PS_ERR_ARG);
}
END_TEST

START_TEST(test_groups_and_rule)
{
    const char *csv = "case,model,site,status,dice\n"
                      "1,A,x,ok,0.5\n2,A,y,pred_empty,0\n3,B,x,error,\n4,A,x,missing,\n"
                      "5,A,y,ok,nan\n6,A,x,ok,inf\n7,A,x,ok,\n8,A,y,ref_empty,0\n";
    ps_table *t;
    ck_assert_int_eq(ps_table_parse(csv, strlen(csv), "t.csv", &t), PS_OK);
    ps_rowfilter f;
    ck_assert_int_eq(ps_rowfilter_init(&f, t, "A", 0), PS_OK);
    ck_assert_int_eq(f.nuse, 7);
    const char *by[] = {"site"};
    ps_groups g;
    ck_assert_int_eq(ps_groups_build(t, by, 1, f.use, &g), PS_OK);
    ck_assert_int_eq(g.ngroups, 2); /* x first (row 1), then y */
    ck_assert_int_eq(g.of_row[2], -1); /* model B */
    int dice = ps_table_col(t, "dice");
    const ps_excl want[8] = {PS_EXCL_NONE, PS_EXCL_NONE, PS_EXCL_ERROR, PS_EXCL_MISSING,
                             PS_EXCL_NAN, PS_EXCL_INF, PS_EXCL_NAN, PS_EXCL_NONE};
    for (int r = 0; r < 8; r++) {
        double v;
        ps_excl e;
        ck_assert_int_eq(ps_report_classify(&f, r, dice, &v, &e), PS_OK);
        ck_assert_msg(e == want[r], "row %d: reason %s, expected %s", r, ps_excl_name(e),
                      ps_excl_name(want[r]));
    }
    /* with ok_only the empty-mask rows are left out too */
    f.ok_only = 1;
    double v;
    ps_excl e;
    ck_assert_int_eq(ps_report_classify(&f, 1, dice, &v, &e), PS_OK);
    ck_assert_int_eq(e, PS_EXCL_NOT_OK);
    ps_excl_counts c = {{1, 0, 2, 0, 0, 1}};
    char buf[128];
    ck_assert_str_eq(ps_excl_describe(&c, buf, sizeof buf), "1 nan, 2 error, 1 unpaired");
    ck_assert_int_eq(ps_excl_total(&c), 4);
    ps_groups_free(&g);
    ps_rowfilter_free(&f);
    /* unknown model; header-only table */
    ck_assert_int_eq(ps_rowfilter_init(&f, t, "C", 0), PS_ERR_ARG);
    ps_table_free(t);
    ck_assert_int_eq(ps_table_parse("case,dice\n", 10, "e.csv", &t), PS_OK);
    ck_assert_int_eq(ps_rowfilter_init(&f, t, NULL, 0), PS_ERR_FORMAT);
    ck_assert_ptr_nonnull(strstr(ps_error_message(), "e.csv: the table has no rows"));
    ps_table_free(t);
}
END_TEST

static Suite *make_suite(void)
{
    Suite *s = suite_create("reports_rtable");
    TCase *tc = tcase_create("rtable");
    tcase_add_test(tc, test_renderers);
    tcase_add_test(tc, test_groups_and_rule);
    suite_add_tcase(s, tc);
    return s;
}

PS_TEST_MAIN(make_suite)
