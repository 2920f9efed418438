/* Tests of the JSON reader (src/io/json_read.c). Expected values are written by hand from
 * RFC 8259 and the rules at the top of json_read.c; line and column numbers are counted by
 * hand in each input (1-based, the column of the offending character). */
#include <math.h>
#include <stdlib.h>

#include "ps_io.h"
#include "ps_test.h"

static ps_json *parse_ok(const char *text)
{
    ps_json *j = NULL;
    int rc = ps_json_parse(text, strlen(text), "t.json", &j);
    ck_assert_msg(rc == 0, "%s", ps_error_message());
    return j;
}

static void parse_fails(const char *text, const char *what)
{
    ps_json *j = NULL;
    int rc = ps_json_parse(text, strlen(text), "bad.json", &j);
    ck_assert_int_eq(rc, PS_ERR_FORMAT);
    ck_assert_ptr_null(j);
    const char *m = ps_error_message();
    ck_assert_msg(strstr(m, what) != NULL, "message lacks '%s': %s", what, m);
}

START_TEST(dataset_json)
{
    /* an nnU-Net v2 dataset.json */
    ps_json *j = parse_ok("\xEF\xBB\xBF{\n  \"channel_names\": {\"0\": \"CT\"},\n"
                          "  \"labels\": {\"background\": 0, \"pancreas\": 1},\n"
                          "  \"numTraining\": 281, \"file_ending\": \".nii.gz\",\n"
                          "  \"ok\": true, \"none\": null, \"list\": [1, -2.5e3, [], {}]\n}\n");
    ck_assert_int_eq(j->type, PS_JSON_OBJECT);
    ck_assert_int_eq(j->n, 7);
    ck_assert_str_eq(j->keys[0], "channel_names");
    const ps_json *cn = ps_json_get(j, "channel_names");
    ck_assert_int_eq(cn->type, PS_JSON_OBJECT);
    ck_assert_str_eq(cn->keys[0], "0");
    ck_assert_str_eq(cn->items[0].string, "CT");
    ck_assert_int_eq(ps_json_get(ps_json_get(j, "labels"), "pancreas")->number, 1);
    ck_assert_double_eq(ps_json_get(j, "numTraining")->number, 281.0);
    ck_assert_str_eq(ps_json_get(j, "file_ending")->string, ".nii.gz");
    ck_assert_int_eq(ps_json_get(j, "ok")->type, PS_JSON_BOOL);
    ck_assert_int_eq(ps_json_get(j, "ok")->boolean, 1);
    ck_assert_int_eq(ps_json_get(j, "none")->type, PS_JSON_NULL);
    const ps_json *l = ps_json_get(j, "list");
    ck_assert_int_eq(l->n, 4);
    ck_assert_double_eq(l->items[1].number, -2500.0);
    ck_assert_int_eq(l->items[2].type, PS_JSON_ARRAY);
    ck_assert_int_eq(l->items[2].n, 0);
    ck_assert_int_eq(l->items[3].type, PS_JSON_OBJECT);
    ck_assert_ptr_null(ps_json_get(j, "missing"));
    ck_assert_ptr_null(ps_json_get(l, "x")); /* not an object */
    ps_json_free(j);
}
END_TEST

START_TEST(strings_and_escapes)
{
    /* \u00e9 = U+00E9 (C3 A9), \u20ac = U+20AC (E2 82 AC), \ud83d\ude00 = U+1F600
     * (F0 9F 98 80), the short escapes, and raw UTF-8 kept as it is */
    ps_json *j = parse_ok("[\"a\\\"b\\\\c\\/d\\b\\f\\n\\r\\t\", \"\\u00e9\\u20AC\\ud83d\\ude00\","
                          " \"caf\xC3\xA9\", \"\"]");
    ck_assert_str_eq(j->items[0].string, "a\"b\\c/d\b\f\n\r\t");
    ck_assert_str_eq(j->items[1].string, "\xC3\xA9\xE2\x82\xAC\xF0\x9F\x98\x80");
    ck_assert_str_eq(j->items[2].string, "caf\xC3\xA9");
    ck_assert_str_eq(j->items[3].string, "");
    ps_json_free(j);
    /* duplicate keys are kept; ps_json_get returns the first */
    j = parse_ok("{\"k\": 1, \"k\": 2}");
    ck_assert_int_eq(j->n, 2);
    ck_assert_double_eq(ps_json_get(j, "k")->number, 1.0);
    ps_json_free(j);
    j = parse_ok("  0.5e-1 ");
    ck_assert_double_eq(j->number, 0.05);
    ps_json_free(j);
}
END_TEST

START_TEST(errors)
{
    parse_fails("", "bad.json:1:1: unexpected end of the text, expected a value");
    parse_fails("{\"a\": 1,}", "bad.json:1:9: expected a member name in double quotes");
    parse_fails("{\n  \"a\" 1}", "bad.json:2:7: expected ':' after the member name");
    parse_fails("[1 2]", "bad.json:1:4: expected ',' or ']'");
    parse_fails("[1] x", "bad.json:1:5: unexpected text after the value");
    parse_fails("\"abc", "unterminated string");
    parse_fails("\"a\tb\"", "bad.json:1:3: control character in string");
    parse_fails("\"\\x\"", "bad.json:1:3: unknown escape in string");
    parse_fails("\"\\u12g4\"", "bad hex digit in \\u escape");
    parse_fails("\"\\ud83d\"", "high surrogate without its low surrogate");
    parse_fails("\"\\ude00\"", "lone low surrogate");
    parse_fails("\"\\u0000\"", "\\u0000 is not supported");
    parse_fails("01", "bad.json:1:2: unexpected text after the value");
    parse_fails("+1", "bad.json:1:1: expected a value");
    parse_fails("1.", "digits expected after the decimal point");
    parse_fails("1e", "digits expected in the exponent");
    parse_fails("NaN", "expected a value");
    parse_fails("tru", "expected a value");
    /* nesting: PS_JSON_MAX_DEPTH levels are fine, one more is refused */
    char deep[2 * (PS_JSON_MAX_DEPTH + 2) + 1];
    for (int d = PS_JSON_MAX_DEPTH; d <= PS_JSON_MAX_DEPTH + 1; d++) {
        int n = d + 1; /* arrays nested n deep: the innermost is at depth d */
        memset(deep, '[', (size_t)n);
        memset(deep + n, ']', (size_t)n);
        deep[2 * n] = '\0';
        ps_json *j = NULL;
        int rc = ps_json_parse(deep, strlen(deep), "deep.json", &j);
        if (d == PS_JSON_MAX_DEPTH) {
            ck_assert_msg(rc == 0, "%s", ps_error_message());
            ps_json_free(j);
        } else {
            ck_assert_int_eq(rc, PS_ERR_FORMAT);
            ck_assert_ptr_nonnull(strstr(ps_error_message(), "nesting too deep"));
        }
    }
}
END_TEST

/* ps_read_all (read_all.c), the one whole-file reader behind tables, manifests and JSON: the
 * bytes as written (an embedded NUL and no final newline included), NUL-terminated; a
 * 70000-byte file crosses the first 64 KiB buffer; a missing file names itself and `what` */
START_TEST(read_all_file)
{
    const char *path = ps_test_tmp("read_all.bin");
    FILE *f = fopen(path, "wb");
    ck_assert_ptr_nonnull(f);
    for (int i = 0; i < 70000; i++)
        fputc(i == 5 ? 0 : 'a' + i % 26, f);
    fclose(f);
    char *t = NULL;
    size_t n = 0;
    ck_assert_int_eq(ps_read_all(path, NULL, &t, &n), 0);
    ck_assert_uint_eq(n, 70000);
    ck_assert_int_eq(t[5], 0);
    ck_assert_int_eq(t[6], 'a' + 6);
    ck_assert_int_eq(t[69999], 'a' + 69999 % 26);
    ck_assert_int_eq(t[70000], 0);
    free(t);
    const char *no = ps_test_tmp("no_such_file.tsv");
    ck_assert_int_eq(ps_read_all(no, "manifest", &t, &n), PS_ERR_IO);
    ck_assert_ptr_null(t);
    ck_assert_ptr_nonnull(strstr(ps_error_message(), "cannot open manifest "));
    ck_assert_ptr_nonnull(strstr(ps_error_message(), "no_such_file.tsv: No such file"));
}
END_TEST

/* PS_JSON_NONFINITE: Python's json.dump writes NaN, Infinity, -Infinity as bare tokens
 * (allow_nan=True; nnU-Net's summary.json); strict parsing refuses them */
START_TEST(nonfinite_tokens)
{
    const char *text = "{\"a\": NaN, \"b\": [Infinity, -Infinity, -1.5]}";
    ps_json *j = NULL;
    ck_assert_int_eq(ps_json_parse_flags(text, strlen(text), "s.json", PS_JSON_NONFINITE, &j), 0);
    ck_assert_int_eq(ps_json_get(j, "a")->type, PS_JSON_NUMBER);
    ck_assert(isnan(ps_json_get(j, "a")->number));
    const ps_json *b = ps_json_get(j, "b");
    ck_assert_int_eq(b->n, 3);
    ck_assert(isinf(b->items[0].number) && b->items[0].number > 0);
    ck_assert(isinf(b->items[1].number) && b->items[1].number < 0);
    ck_assert(b->items[2].number == -1.5);
    ps_json_free(j);
    /* PS_JSON_NUMBER_TEXT: numbers keep their text; every value has its line (counted by
     * hand: the array on line 1, "x" on line 2, -1.5e3 and the object on line 4) */
    const char *t2 = "[\n\"x\",\n\n-1.5e3, {\"k\": 10}]";
    ck_assert_int_eq(ps_json_parse_flags(t2, strlen(t2), "t.json", PS_JSON_NUMBER_TEXT, &j), 0);
    ck_assert_int_eq(j->line, 1);
    ck_assert_int_eq(j->items[0].line, 2);
    ck_assert_int_eq(j->items[1].line, 4);
    ck_assert_str_eq(j->items[1].string, "-1.5e3");
    ck_assert(j->items[1].number == -1500.0);
    ck_assert_int_eq(j->items[2].line, 4);
    ck_assert_str_eq(ps_json_get(&j->items[2], "k")->string, "10");
    ps_json_free(j);
    ck_assert_int_eq(ps_json_parse(t2, strlen(t2), "t.json", &j), 0);
    ck_assert_ptr_null(j->items[1].string); /* without the flag, no text */
    ps_json_free(j);
    /* strict: "{"a": " is 6 characters, so NaN is at column 7 */
    parse_fails("{\"a\": NaN}", "bad.json:1:7: expected a value");
    parse_fails("[-Infinity]", "bad.json:1:2: expected a value");
    /* the flag adds exactly the three tokens: "nan", "inf" and "NaNa" stay errors */
    static const char *const bad[] = {"[nan]", "[inf]", "[NaNa]", "[+Infinity]"};
    for (int i = 0; i < 4; i++) {
        j = NULL;
        ck_assert_int_eq(ps_json_parse_flags(bad[i], strlen(bad[i]), "s.json", PS_JSON_NONFINITE,
                                             &j), PS_ERR_FORMAT);
        ck_assert_ptr_null(j);
    }
}
END_TEST

START_TEST(read_file)
{
    const char *path = ps_test_tmp("test_json.json");
    FILE *f = fopen(path, "w");
    ck_assert_ptr_nonnull(f);
    fputs("{\"modality\": {\"0\": \"T2\", \"1\": \"ADC\"}}\n", f);
    fclose(f);
    ps_json *j = NULL;
    ck_assert_int_eq(ps_json_read(path, &j), 0);
    ck_assert_str_eq(ps_json_get(j, "modality")->items[1].string, "ADC");
    ps_json_free(j);
    ck_assert_int_eq(ps_json_read(ps_test_tmp("no_such.json"), &j), PS_ERR_IO);
    ck_assert_ptr_null(j);
    ck_assert_ptr_nonnull(strstr(ps_error_message(), "no_such.json"));
    ps_json_free(NULL);
}
END_TEST

static Suite *json_suite(void)
{
    Suite *s = suite_create("json");
    TCase *tc = tcase_create("json");
    tcase_add_test(tc, dataset_json);
    tcase_add_test(tc, strings_and_escapes);
    tcase_add_test(tc, errors);
    tcase_add_test(tc, read_file);
    tcase_add_test(tc, nonfinite_tokens);
    tcase_add_test(tc, read_all_file);
    suite_add_tcase(s, tc);
    return s;
}

PS_TEST_MAIN(json_suite)
