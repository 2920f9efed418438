/* Tests of the CSV/TSV table reader. Expected cells are written by hand from RFC 4180 and the
 * rules at the top of src/io/table_read.c; line numbers are counted by hand in each input. */
#include "ps_io.h"
#include "ps_test.h"

static ps_table *parse_ok(const char *text)
{
    ps_table *t = NULL;
    int rc = ps_table_parse(text, strlen(text), "t.csv", &t);
    ck_assert_msg(rc == 0, "%s", ps_error_message());
    return t;
}

static void parse_fails(const char *text, int code, const char *what)
{
    ps_table *t = NULL;
    int rc = ps_table_parse(text, strlen(text), "bad.csv", &t);
    ck_assert_int_eq(rc, code);
    ck_assert_ptr_null(t);
    const char *m = ps_error_message();
    ck_assert_msg(strstr(m, "bad.csv") != NULL, "no file name: %s", m);
    ck_assert_msg(strstr(m, what) != NULL, "message lacks '%s': %s", what, m);
}

START_TEST(csv_plain)
{
    ps_table *t = parse_ok("case,dice,hd95_mm\nA,0.9,3.5\nB,0.8,\n");
    ck_assert_int_eq(t->ncols, 3);
    ck_assert_int_eq(t->nrows, 2);
    ck_assert_int_eq(t->sep, ',');
    ck_assert_str_eq(t->colnames[2], "hd95_mm");
    ck_assert_str_eq(t->cells[1][0], "B");
    ck_assert_str_eq(t->cells[1][2], "");
    ck_assert_int_eq(t->line[0], 2);
    ck_assert_int_eq(t->line[1], 3);
    ck_assert_str_eq(t->path, "t.csv");
    ck_assert_int_eq(ps_table_col(t, "dice"), 1);
    ck_assert_int_eq(ps_table_col(t, "Dice"), -1);
    ps_table_free(t);
}
END_TEST

START_TEST(csv_quoting)
{
    /* line 1 header; line 2 row 1 (quoted comma, doubled quote); lines 3-4 row 2 (newline
     * inside quotes); line 5 row 3 (empty quoted cell, quote inside an unquoted cell) */
    const char *text = "id,text,n\n"
                       "1,\"a, b\",\"say \"\"hi\"\"\"\n"
                       "2,\"two\nlines\",x\n"
                       "3,\"\",5\"in\n";
    ps_table *t = parse_ok(text);
    ck_assert_int_eq(t->nrows, 3);
    ck_assert_str_eq(t->cells[0][1], "a, b");
    ck_assert_str_eq(t->cells[0][2], "say \"hi\"");
    ck_assert_str_eq(t->cells[1][1], "two\nlines");
    ck_assert_str_eq(t->cells[2][1], "");
    ck_assert_str_eq(t->cells[2][2], "5\"in");
    ck_assert_int_eq(t->line[0], 2);
    ck_assert_int_eq(t->line[1], 3);
    ck_assert_int_eq(t->line[2], 5);
    ps_table_free(t);
}
END_TEST

START_TEST(tsv_comments_blank_crlf)
{
    /* lines: 1 comment, 2 blank, 3 comment, 4 header, 5 row, 6 blank, 7 row (no final EOL) */
    const char *text = "# produced by panseval\r\n"
                       "\r\n"
                       "# second comment, with, commas\r\n"
                       "case\tdice\tnote\r\n"
                       "A\t0.5\tx,y\r\n"
                       "\r\n"
                       "B\t1\t\"q\tq\"";
    ps_table *t = parse_ok(text);
    ck_assert_int_eq(t->sep, '\t');
    ck_assert_int_eq(t->ncols, 3);
    ck_assert_int_eq(t->nrows, 2);
    ck_assert_str_eq(t->colnames[0], "case");
    ck_assert_str_eq(t->colnames[2], "note");
    ck_assert_str_eq(t->cells[0][2], "x,y");
    ck_assert_str_eq(t->cells[1][2], "q\tq");
    ck_assert_int_eq(t->line[0], 5);
    ck_assert_int_eq(t->line[1], 7);
    ps_table_free(t);
}
END_TEST

START_TEST(bom_and_hash_after_header)
{
    /* a '#' line after the header is data, not a comment */
    ps_table *t = parse_ok("\xEF\xBB\xBFid\n#7\n");
    ck_assert_str_eq(t->colnames[0], "id");
    ck_assert_int_eq(t->nrows, 1);
    ck_assert_str_eq(t->cells[0][0], "#7");
    ps_table_free(t);
}
END_TEST

START_TEST(header_only)
{
    ps_table *t = parse_ok("a,b\n");
    ck_assert_int_eq(t->nrows, 0);
    ck_assert_int_eq(t->ncols, 2);
    ps_table_free(t);
}
END_TEST

START_TEST(errors)
{
    /* row 2 sits on line 4 after a comment and the header */
    parse_fails("# c\na,b\n1,2\n3\n", PS_ERR_FORMAT, "bad.csv line 4: 1 cells, but the header has 2");
    parse_fails("a,b\n1,2,3\n", PS_ERR_FORMAT, "line 2: 3 cells");
    parse_fails("a,b\n1,\"open\n", PS_ERR_FORMAT, "line 2: quoted cell is not closed");
    parse_fails("a,b\n1,\"x\"y\n", PS_ERR_FORMAT, "line 2: unexpected character 'y'");
    parse_fails("", PS_ERR_FORMAT, "no header line");
    parse_fails("# only\n\n# comments\n", PS_ERR_FORMAT, "no header line");
    parse_fails("a,b,a\n", PS_ERR_FORMAT, "column 'a' appears twice");
}
END_TEST

START_TEST(get_double)
{
    ps_table *t = parse_ok("v\n1.5\nnan\nNaN\ninf\n-inf\n abc\n\n\" 2e3 \"\n1e999\n0x10\n\"\"\n");
    double x;
    ck_assert_int_eq(ps_table_get_double(t, 0, 0, &x), 0);
    ck_assert_double_eq(x, 1.5);
    ck_assert_int_eq(ps_table_get_double(t, 1, 0, &x), 0);
    ck_assert(isnan(x));
    ck_assert_int_eq(ps_table_get_double(t, 2, 0, &x), 0);
    ck_assert(isnan(x));
    ck_assert_int_eq(ps_table_get_double(t, 3, 0, &x), 0);
    ck_assert(isinf(x) && x > 0);
    ck_assert_int_eq(ps_table_get_double(t, 4, 0, &x), 0);
    ck_assert(isinf(x) && x < 0);
    /* " abc" is on line 7 */
    ck_assert_int_eq(ps_table_get_double(t, 5, 0, &x), PS_ERR_FORMAT);
    ck_assert_str_eq(ps_error_message(), "t.csv line 7 column 'v': ' abc' is not a number");
    /* the blank line 8 is skipped; " 2e3 " (quoted, line 9) has spaces around a number */
    ck_assert_int_eq(ps_table_get_double(t, 6, 0, &x), 0);
    ck_assert_double_eq(x, 2000.0);
    ck_assert_int_eq(ps_table_get_double(t, 7, 0, &x), 0); /* overflow -> inf */
    ck_assert(isinf(x));
    ck_assert_int_eq(ps_table_get_double(t, 8, 0, &x), 0); /* strtod reads hex: 16 */
    ck_assert_double_eq(x, 16.0);
    ck_assert_int_eq(ps_table_get_double(t, 9, 0, &x), PS_ERR_FORMAT); /* empty, line 12 */
    ck_assert_str_eq(ps_error_message(), "t.csv line 12 column 'v': '' is not a number");
    ck_assert_int_eq(ps_table_get_double(t, 10, 0, &x), PS_ERR_ARG);
    ps_table_free(t);
}
END_TEST

START_TEST(require_col)
{
    ps_table *t = parse_ok("a,b,c\n1,2,3\n");
    int c = -1;
    ck_assert_int_eq(ps_table_require_col(t, "c", &c), 0);
    ck_assert_int_eq(c, 2);
    ck_assert_int_eq(ps_table_require_col(t, "x", &c), PS_ERR_ARG);
    ck_assert_str_eq(ps_error_message(), "t.csv: no column 'x' (columns are: a, b, c)");
    ps_table_free(t);
}
END_TEST

START_TEST(read_file)
{
    const char *p = ps_test_tmp("table_read.tsv");
    FILE *f = fopen(p, "wb");
    fputs("# comment\ncase\tvalue\nA\t1\n", f);
    fclose(f);
    ps_table *t = NULL;
    ck_assert_int_eq(ps_table_read(p, &t), 0);
    ck_assert_str_eq(t->path, p);
    ck_assert_int_eq(t->line[0], 3);
    ps_table_free(t);
    const char *missing = ps_test_tmp("no_such_table.csv");
    ck_assert_int_eq(ps_table_read(missing, &t), PS_ERR_IO);
    ck_assert(strstr(ps_error_message(), missing) != NULL);
    ps_table_free(NULL);
}
END_TEST

static Suite *make_suite(void)
{
    Suite *s = suite_create("io_table");
    TCase *tc = tcase_create("table");
    tcase_add_test(tc, csv_plain);
    tcase_add_test(tc, csv_quoting);
    tcase_add_test(tc, tsv_comments_blank_crlf);
    tcase_add_test(tc, bom_and_hash_after_header);
    tcase_add_test(tc, header_only);
    tcase_add_test(tc, errors);
    tcase_add_test(tc, get_double);
    tcase_add_test(tc, require_col);
    tcase_add_test(tc, read_file);
    suite_add_tcase(s, tc);
    return s;
}

PS_TEST_MAIN(make_suite)
