/* Tests of the CSV/TSV/JSON table reader and the table writer. Expected cells are written by hand from RFC 4180 and the
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

/* Binary files given as a table: each is named by what it is, before any parsing. The
 * bytes are the magic numbers of the formats (gzip RFC 1952: 1f 8b; zip: "PK\3\4"; UTF-16
 * byte-order marks ff fe / fe ff; NIfTI-1: "n+1\0" at byte 344 of the 348-byte header). */
static void binary_fails(const char *text, size_t len, const char *want)
{
    ps_table *t = NULL;
    ck_assert_int_eq(ps_table_parse(text, len, "x.csv", &t), PS_ERR_FORMAT);
    ck_assert_ptr_null(t);
    ck_assert_str_eq(ps_error_message(), want);
}

START_TEST(binary_input)
{
    const char *rule = "; a table is a text (CSV, TSV or JSON) file";
    char want[256];
    snprintf(want, sizeof want, "x.csv: gzip-compressed data (a .nii.gz image?), not text%s", rule);
    binary_fails("\x1f\x8b\x08\x00", 4, want);
    snprintf(want, sizeof want, "x.csv: a zip archive (an Excel .xlsx workbook? export it as "
             "CSV), not text%s", rule);
    binary_fails("PK\x03\x04\x14\x00", 6, want);
    snprintf(want, sizeof want, "x.csv: UTF-16 text (Excel's \"Unicode Text\"? save it as "
             "UTF-8 CSV)%s", rule);
    binary_fails("\xff\xfe" "a\0,\0b\0\n\0", 10, want); /* "a,b\n" in UTF-16LE */
    binary_fails("\xfe\xff" "\0a\0,\0b\0\n", 10, want); /* and UTF-16BE */
    char nii[352] = {0};
    nii[0] = 0x5c;                /* sizeof_hdr 348, little-endian */
    nii[1] = 0x01;
    memcpy(nii + 344, "n+1", 4);
    snprintf(want, sizeof want, "x.csv: a NIfTI image, not text%s", rule);
    binary_fails(nii, sizeof nii, want);
    snprintf(want, sizeof want, "x.csv: contains NUL bytes%s", rule);
    binary_fails("a,b\n1,\0\n", 7, want);
    /* a UTF-8 BOM is text (and still ignored) */
    ps_table *t = NULL;
    ck_assert_int_eq(ps_table_parse("\xEF\xBB\xBF" "a\n1\n", 7, "x.csv", &t), 0);
    ck_assert_str_eq(t->colnames[0], "a");
    ps_table_free(t);
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

/* ---- the writer ------------------------------------------------------------------------ */
/* Write a 2-column table (text, number) with the given rows into a string (caller frees). */
static char *write_table(ps_table_format fmt, int nrows, const char *const *text,
                         const double *num)
{
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    ck_assert_ptr_nonnull(f);
    const char *names[] = {"name", "value"};
    ps_table_writer *w;
    ck_assert_int_eq(ps_table_writer_create(f, fmt, 2, names, &w), 0);
    for (int r = 0; r < nrows; r++) {
        ck_assert_int_eq(ps_table_writer_str(w, text[r]), 0);
        ck_assert_int_eq(ps_table_writer_num(w, num[r]), 0);
        ck_assert_int_eq(ps_table_writer_end_row(w), 0);
    }
    ck_assert_int_eq(ps_table_writer_finish(w), 0);
    fclose(f);
    return buf;
}

static const char *fmt_num(double x)
{
    static char buf[64];
    ps_format_double(x, buf, sizeof buf);
    return buf;
}

START_TEST(shortest_numbers)
{
    /* expected texts by hand: the shortest decimal that reads back as the same double */
    ck_assert_str_eq(fmt_num(82.62), "82.62");     /* %.17g gives 82.620000000000005 */
    ck_assert_str_eq(fmt_num(0.1), "0.1");
    ck_assert_str_eq(fmt_num(1.0 / 3.0), "0.3333333333333333"); /* needs 16 digits */
    ck_assert_str_eq(fmt_num(0.1 + 0.2), "0.30000000000000004"); /* needs 17 digits */
    ck_assert_str_eq(fmt_num(3.0), "3");
    ck_assert_str_eq(fmt_num(-0.0), "0");
    ck_assert_str_eq(fmt_num(1e15), "1000000000000000"); /* integral below 2^53: digits */
    ck_assert_str_eq(fmt_num(1e300), "1e+300");
    ck_assert_str_eq(fmt_num(2.5e-10), "2.5e-10");
    ck_assert_str_eq(fmt_num(NAN), "nan");
    ck_assert_str_eq(fmt_num(-INFINITY), "-inf");
    /* every double round-trips: a fixed pseudo-random set over the whole exponent range */
    uint64_t z = 88172645463325252ULL;
    for (int i = 0; i < 100000; i++) {
        z ^= z << 13, z ^= z >> 7, z ^= z << 17; /* xorshift64 */
        double x;
        memcpy(&x, &z, sizeof x);
        if (!isfinite(x))
            continue;
        const char *t = fmt_num(x);
        ck_assert_msg(strtod(t, NULL) == x || x == 0, "%.17g printed as %s", x, t);
        ck_assert_int_le((int)strlen(t), 24);
    }
}
END_TEST

START_TEST(writer_csv_tsv_one_line_per_record)
{
    const char *text[] = {"a\nb", "c,\"d\"", "e\tf\r\ng"};
    const double num[] = {1.5, NAN, INFINITY};
    char *csv = write_table(PS_TABLE_CSV, 3, text, num);
    ck_assert_str_eq(csv, "name,value\n"
                          "\"a b\",1.5\n"
                          "\"c,\"\"d\"\"\",nan\n"
                          "\"e\tf  g\",inf\n");
    char *tsv = write_table(PS_TABLE_TSV, 3, text, num);
    ck_assert_str_eq(tsv, "name\tvalue\na b\t1.5\nc,\"d\"\tnan\ne f  g\tinf\n");
    /* the reader reads back what the writer wrote */
    ps_table *t = parse_ok(csv);
    ck_assert_int_eq((int)t->nrows, 3);
    ck_assert_str_eq(t->cells[1][0], "c,\"d\"");
    double x;
    ck_assert_int_eq(ps_table_get_double(t, 2, 1, &x), 0);
    ck_assert(isinf(x) && x > 0);
    ps_table_free(t);
    free(csv);
    free(tsv);
}
END_TEST

START_TEST(writer_json_nonfinite)
{
    const char *text[] = {"x\n\"y\"", "b", "c", "d"};
    const double num[] = {82.62, NAN, INFINITY, -INFINITY};
    char *js = write_table(PS_TABLE_JSON, 4, text, num);
    /* the convention: null for NaN, "Inf" / "-Inf" (read as numbers by pandas read_json and
     * R jsonlite, checked by hand with pandas 1.5.3 and jsonlite 1.8.4) */
    ck_assert_str_eq(js, "[\n"
                         "{\"name\": \"x\\n\\\"y\\\"\", \"value\": 82.62},\n"
                         "{\"name\": \"b\", \"value\": null},\n"
                         "{\"name\": \"c\", \"value\": \"Inf\"},\n"
                         "{\"name\": \"d\", \"value\": \"-Inf\"}\n"
                         "]\n");
    ps_table *t = parse_ok(js);
    ck_assert_int_eq(t->ncols, 2);
    ck_assert_int_eq((int)t->nrows, 4);
    ck_assert_str_eq(t->colnames[1], "value");
    ck_assert_str_eq(t->cells[0][0], "x\n\"y\"");
    double x[4];
    for (int r = 0; r < 4; r++)
        ck_assert_int_eq(ps_table_get_double(t, r, 1, &x[r]), 0);
    ck_assert(x[0] == 82.62 && isnan(x[1]) && isinf(x[2]) && x[2] > 0 && x[3] < 0 &&
              isinf(x[3]));
    ck_assert_int_eq((int)t->line[3], 5);
    ps_table_free(t);
    free(js);
}
END_TEST

START_TEST(reader_json)
{
    /* keys in another order, escapes, true/false, \u escapes incl. a surrogate pair */
    ps_table *t = parse_ok(" [ {\"a\": \"\\u00e9\\ud83d\\ude00\", \"b\": -1.5e3},\n"
                           "   {\"b\": true, \"a\": \"t\\tx\"} ] \n");
    ck_assert_int_eq(t->ncols, 2);
    ck_assert_str_eq(t->cells[0][0], "\xc3\xa9\xf0\x9f\x98\x80");
    ck_assert_str_eq(t->cells[0][1], "-1.5e3");
    ck_assert_str_eq(t->cells[1][0], "t\tx");
    ck_assert_str_eq(t->cells[1][1], "true");
    ps_table_free(t);
    parse_fails("[{\"a\": 1}, {\"b\": 2}]", PS_ERR_FORMAT, "no key 'a'");
    parse_fails("[{\"a\": 1}, {\"a\": 2, \"b\": 3}]", PS_ERR_FORMAT, "2 keys");
    parse_fails("[{\"a\": [1]}]", PS_ERR_FORMAT, "nested");
    parse_fails("[{\"a\": 1}", PS_ERR_FORMAT, "expected");
    parse_fails("[{\"a\": \"x}]", PS_ERR_FORMAT, "unterminated string"); /* json_read.c's words */
    parse_fails("[]", PS_ERR_FORMAT, "empty JSON array");
    parse_fails("[{\"a\": 1}] x", PS_ERR_FORMAT, "bad.csv:1:12: unexpected text after the value");
    parse_fails("[{\"a\": 1},\n 2]", PS_ERR_FORMAT, "line 2: '{' expected");
    parse_fails("[{\"a\": 1},\n\n {\"b\": 1}]", PS_ERR_FORMAT, "line 3: object has no key 'a'");
    parse_fails("[{\"a\": +1}]", PS_ERR_FORMAT, "expected a value"); /* RFC 8259 numbers */
}
END_TEST

START_TEST(writer_markdown_latex)
{
    const char *text[] = {"a|b", "50% & $x_1$ {#} ~^\\"};
    const double num[] = {0.25, -INFINITY};
    char *md = write_table(PS_TABLE_MD, 2, text, num);
    ck_assert_str_eq(md, "| name | value |\n"
                         "| --- | --- |\n"
                         "| a\\|b | 0.25 |\n"
                         "| 50% & $x_1$ {#} ~^\\ | -inf |\n");
    char *tex = write_table(PS_TABLE_TEX, 2, text, num);
    ck_assert_str_eq(tex, "\\begin{tabular}{ll}\n"
                          "\\toprule\n"
                          "name & value \\\\\n"
                          "\\midrule\n"
                          "a|b & 0.25 \\\\\n"
                          "50\\% \\& \\$x\\_1\\$ \\{\\#\\} \\textasciitilde{}\\textasciicircum{}"
                          "\\textbackslash{} & $-\\infty$ \\\\\n"
                          "\\bottomrule\n"
                          "\\end{tabular}\n");
    free(md);
    free(tex);
}
END_TEST

START_TEST(format_names)
{
    ps_table_format f;
    const char *names[] = {"csv", "tsv", "json", "md", "markdown", "tex", "latex"};
    const ps_table_format want[] = {PS_TABLE_CSV, PS_TABLE_TSV, PS_TABLE_JSON, PS_TABLE_MD,
                                    PS_TABLE_MD,  PS_TABLE_TEX, PS_TABLE_TEX};
    for (int i = 0; i < 7; i++) {
        ck_assert_int_eq(ps_table_format_parse(names[i], &f), 0);
        ck_assert_int_eq(f, want[i]);
    }
    ck_assert_int_eq(ps_table_format_parse("html", &f), PS_ERR_ARG);
    ck_assert_int_eq(ps_table_format_from_path("out/x.tex", &f), 1);
    ck_assert_int_eq(f, PS_TABLE_TEX);
    ck_assert_int_eq(ps_table_format_from_path("x.json", &f), 1);
    ck_assert_int_eq(f, PS_TABLE_JSON);
    ck_assert_int_eq(ps_table_format_from_path("x.txt", &f), 0);
    ck_assert_int_eq(ps_table_format_from_path("dir/.csv", &f), 0);
}
END_TEST

/* ---- what pandas and R read from the writer's output ------------------------------------ */
static const char *const fx_text[] = {"plain", "comma, \"quoted\"", "two\nlines", "tab\there",
                                      "x", "third", "sum", "tiny", "neg", "int"};
static const double fx_value[] = {82.62, NAN, INFINITY, -INFINITY, 1.0 / 3.0, 0.1 + 0.2,
                                  0.30000000000000004, 1e-300, -2.5, 3};

static char *slurp(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    ck_assert_msg(f != NULL, "cannot open %s", path);
    char *buf = malloc(1 << 16);
    *len = fread(buf, 1, (1 << 16) - 1, f);
    buf[*len] = '\0';
    fclose(f);
    return buf;
}

/* Each golden line: format, row, type, value as the reader printed it. The value must equal
 * panseval's reading of the same fixture: exactly (R; pandas with its exact options), or to
 * 4 machine epsilons relative (pandas' default parsers are not correctly rounded). */
static void check_reader_golden(const char *golden, int exact_only_if_marked)
{
    ps_table *g = NULL;
    ck_assert_int_eq(ps_table_read(ps_test_path(golden), &g), 0);
    int cf = ps_table_col(g, "format"), cr = ps_table_col(g, "row"), cv = ps_table_col(g, "value");
    ck_assert(cf >= 0 && cr >= 0 && cv >= 0);
    int nchecked = 0;
    for (int64_t r = 0; r < g->nrows; r++) {
        char fmt[32];
        snprintf(fmt, sizeof fmt, "%s", g->cells[r][cf]);
        int exact = !exact_only_if_marked || strchr(fmt, '+') != NULL;
        char *plus = strchr(fmt, '+');
        if (plus)
            *plus = '\0';
        char path[64];
        snprintf(path, sizeof path, "golden/io/table_nonfinite.%s", fmt);
        ps_table *t = NULL;
        ck_assert_int_eq(ps_table_read(ps_test_path(path), &t), 0);
        int row = atoi(g->cells[r][cr]);
        double ours, theirs;
        ck_assert_int_eq(ps_table_get_double(t, row, 1, &ours), 0);
        const char *v = g->cells[r][cv];
        while (*v == ' ')
            v++;
        theirs = !strcmp(v, "NA") ? NAN : strtod(v, NULL); /* jsonlite reads null as NA */
        ck_assert_msg(ours == fx_value[row] || (isnan(ours) && isnan(fx_value[row])),
                      "panseval reads %s row %d as %.17g", fmt, row, ours);
        if (isnan(ours) || isinf(ours) || exact)
            ck_assert_msg(ours == theirs || (isnan(ours) && isnan(theirs)),
                          "%s %s row %d: %.17g vs %.17g", golden, g->cells[r][cf], row, ours,
                          theirs);
        else
            ck_assert_msg(fabs(ours - theirs) <= 4 * 2.220446049250313e-16 * fabs(ours),
                          "%s %s row %d: %.17g vs %.17g", golden, g->cells[r][cf], row, ours,
                          theirs);
        ps_table_free(t);
        nchecked++;
    }
    ck_assert_int_ge(nchecked, 30);
    ps_table_free(g);
}

START_TEST(readers_pandas_and_r)
{
    /* the fixtures are the writer's output, byte for byte */
    const ps_table_format fmts[] = {PS_TABLE_CSV, PS_TABLE_TSV, PS_TABLE_JSON};
    for (int k = 0; k < 3; k++) {
        char *ours = write_table(fmts[k], 10, fx_text, fx_value);
        char path[64];
        snprintf(path, sizeof path, "golden/io/table_nonfinite.%s", ps_table_format_name(fmts[k]));
        size_t len;
        char *fixture = slurp(ps_test_path(path), &len);
        ck_assert_str_eq(ours, fixture);
        free(ours);
        free(fixture);
    }
    /* R read.csv / read.delim / jsonlite: exact; pandas: see check_reader_golden */
    check_reader_golden("golden/io/table_readers_R.tsv", 0);
    check_reader_golden("golden/io/table_readers_pandas.tsv", 1);
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
    tcase_add_test(tc, binary_input);
    tcase_add_test(tc, get_double);
    tcase_add_test(tc, require_col);
    tcase_add_test(tc, read_file);
    tcase_add_test(tc, shortest_numbers);
    tcase_add_test(tc, writer_csv_tsv_one_line_per_record);
    tcase_add_test(tc, writer_json_nonfinite);
    tcase_add_test(tc, reader_json);
    tcase_add_test(tc, writer_markdown_latex);
    tcase_add_test(tc, format_names);
    tcase_add_test(tc, readers_pandas_and_r);
    suite_add_tcase(s, tc);
    return s;
}

PS_TEST_MAIN(make_suite)
