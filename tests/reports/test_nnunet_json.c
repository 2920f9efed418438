/* test_nnunet_json.c - panseval's nnU-Net summary.json writer and reader against the files
 * nnU-Net's own evaluators wrote for the same masks (tests/golden/reports/nnunet, written by
 * tests/reference/nnunet_summary_reference.py: v1 evaluate_folder, v2
 * compute_metrics_on_folder). Runs the binary named by $PANSEVAL. */
#include "ps_test.h"

#include <ctype.h>
#include <sys/wait.h>
#include <unistd.h>

#include "ps_reports.h"

static char *slurp(const char *path)
{
    FILE *f = fopen(path, "rb");
    ck_assert_msg(f != NULL, "cannot open %s", path);
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    char *s = malloc((size_t)n + 1);
    ck_assert(s != NULL);
    ck_assert_int_eq(fread(s, 1, (size_t)n, f), (size_t)n);
    s[n] = 0;
    fclose(f);
    return s;
}

static int run(const char *args)
{
    char cmd[32768];
    snprintf(cmd, sizeof cmd, "cd '%s/golden/reports/nnunet' && '%s' %s 2>'%s'",
             getenv("PS_TEST_SRCDIR"), getenv("PANSEVAL"), args, ps_test_tmp("nnunet.err"));
    int st = system(cmd);
    ck_assert(WIFEXITED(st));
    return WEXITSTATUS(st);
}

/* One JSON token: punctuation, a string (its text) or a number. */
typedef struct {
    char kind; /* '{', '}', '[', ']', ':', ',', 's', 'n', 0 at the end */
    char text[512];
    double num;
} token;

static const char *next_token(const char *p, token *t)
{
    while (isspace((unsigned char)*p))
        p++;
    t->text[0] = 0;
    if (!*p) {
        t->kind = 0;
        return p;
    }
    if (strchr("{}[]:,", *p)) {
        t->kind = *p;
        return p + 1;
    }
    if (*p == '"') {
        size_t n = 0;
        for (p++; *p && *p != '"'; p++)
            if (n + 1 < sizeof t->text)
                t->text[n++] = *p;
        t->text[n] = 0;
        t->kind = 's';
        return *p ? p + 1 : p;
    }
    t->kind = 'n';
    if (!strncmp(p, "NaN", 3)) {
        t->num = NAN;
        return p + 3;
    }
    char *end;
    t->num = strtod(p, &end);
    ck_assert_msg(end != p, "bad JSON token at '%.20s'", p);
    return end;
}

/* The two files have the same structure (same keys in the same order, same punctuation) and
 * the same numbers to 1e-9; the values of the file-name and provenance keys may differ. */
static void same_json(const char *golden_path, const char *ours_path)
{
    char *g = slurp(golden_path), *o = slurp(ours_path);
    const char *pg = g, *po = o;
    token tg, to;
    char key[512] = "";
    int n = 0, nnum = 0, nnan = 0;
    for (;;) {
        pg = next_token(pg, &tg);
        po = next_token(po, &to);
        ck_assert_msg(tg.kind == to.kind, "token %d (after key '%s'): '%c' in nnU-Net's file, '%c' "
                      "in panseval's", n, key, tg.kind, to.kind);
        if (!tg.kind)
            break;
        if (tg.kind == 's') {
            int value_of_free_key = !strcmp(key, "reference") || !strcmp(key, "test") ||
                                    !strcmp(key, "reference_file") ||
                                    !strcmp(key, "prediction_file") || !strcmp(key, "author") ||
                                    !strcmp(key, "id") || !strcmp(key, "timestamp");
            if (!value_of_free_key)
                ck_assert_msg(!strcmp(tg.text, to.text), "token %d: \"%s\" vs \"%s\"", n,
                              tg.text, to.text);
            snprintf(key, sizeof key, "%s", tg.text);
        } else if (tg.kind == 'n') {
            if (isnan(tg.num)) {
                ck_assert_msg(isnan(to.num), "key '%s': NaN expected, got %.17g", key, to.num);
                nnan++;
            } else {
                ck_assert_msg(fabs(tg.num - to.num) <= PS_TOL_REF * fmax(1, fabs(tg.num)),
                              "key '%s': %.17g expected (nnU-Net), got %.17g", key, tg.num,
                              to.num);
            }
            nnum++;
        }
        n++;
    }
    ck_assert_int_gt(nnum, 80); /* v2: 4 cases x 2 labels x 8 + 2 x 8 + 8 = 88 */
    ck_assert_int_gt(nnan, 0); /* the both-empty label 2 of c03 */
    free(g);
    free(o);
}

START_TEST(test_write_v1_v2)
{
    char args[16384], cases[4096];
    snprintf(cases, sizeof cases, "%s", ps_test_tmp("nnunet_cases.csv"));
    snprintf(args, sizeof args, "metrics --manifest manifest.tsv --labels 1,2 -o '%s'",
             ps_test_tmp("nnunet_cases.csv"));
    ck_assert_int_eq(run(args), 0);
    snprintf(args, sizeof args, "summary '%s' --format nnunet-v1 -o '%s'", cases,
             ps_test_tmp("nnunet_v1.json"));
    ck_assert_int_eq(run(args), 0);
    char golden[4096];
    snprintf(golden, sizeof golden, "%s", ps_test_path("golden/reports/nnunet/summary_v1.json"));
    same_json(golden, ps_test_tmp("nnunet_v1.json"));
    snprintf(args, sizeof args, "summary '%s' --format nnunet-v2 -o '%s'", cases,
             ps_test_tmp("nnunet_v2.json"));
    ck_assert_int_eq(run(args), 0);
    snprintf(golden, sizeof golden, "%s", ps_test_path("golden/reports/nnunet/summary_v2.json"));
    same_json(golden, ps_test_tmp("nnunet_v2.json"));
    /* the PaNSegNet fork's v1 with MedPy 0.5.2's HD95 and ASSD (panseval's default --hd95
     * medpy and its assd) */
    snprintf(args, sizeof args, "summary '%s' --format nnunet-v1-pansegnet -o '%s'", cases,
             ps_test_tmp("nnunet_psn.json"));
    ck_assert_int_eq(run(args), 0);
    snprintf(golden, sizeof golden, "%s",
             ps_test_path("golden/reports/nnunet/summary_v1_pansegnet.json"));
    same_json(golden, ps_test_tmp("nnunet_psn.json"));
}
END_TEST

/* the writer from the library: an error row is left out and counted; two models need one */
START_TEST(test_write_rules)
{
    const char *csv = "case,model,label,status,tp,fp,fn,tn\n"
                      "a,M,1,ok,3,1,0,4\nb,M,1,error,,,,\na,N,1,ok,1,1,1,5\n";
    ps_table *t;
    ck_assert_int_eq(ps_table_parse(csv, strlen(csv), "t.csv", &t), PS_OK);
    ps_nnunet_options o = {PS_NNUNET_V2, NULL};
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    int64_t skipped = -1;
    ck_assert_int_eq(ps_nnunet_write(t, &o, f, &skipped), PS_ERR_ARG);
    ck_assert_ptr_nonnull(strstr(ps_error_message(), "several models"));
    o.model = "M";
    ck_assert_int_eq(ps_nnunet_write(t, &o, f, &skipped), PS_OK);
    fclose(f);
    ck_assert_int_eq(skipped, 1);
    /* a: Dice 2*3/(2*3+1+0) = 6/7, IoU 3/4 */
    ps_table *back;
    ck_assert_int_eq(ps_nnunet_parse(buf, len, "mem", "M", &back), PS_OK);
    ck_assert_int_eq(back->nrows, 1);
    double v;
    ck_assert_int_eq(ps_table_get_double(back, 0, ps_table_col(back, "dice"), &v), PS_OK);
    ck_assert_close(v, 6.0 / 7.0, PS_TOL_EXACT);
    ck_assert_int_eq(ps_table_get_double(back, 0, ps_table_col(back, "jaccard"), &v), PS_OK);
    ck_assert_close(v, 0.75, PS_TOL_EXACT);
    ps_table_free(back);
    free(buf);
    ps_table_free(t);
    /* not a summary.json */
    ck_assert_int_eq(ps_nnunet_parse("{\"a\": 1}", 8, "x.json", "M", &back), PS_ERR_FORMAT);
    ck_assert_ptr_nonnull(strstr(ps_error_message(), "not an nnU-Net summary.json"));
    const char *bad = "{\"results\": {\"all\": [{\"1\": {\"Dice\": \"x\"}}]}}";
    ck_assert_int_eq(ps_nnunet_parse(bad, strlen(bad), "z.json", "M", &back), PS_ERR_FORMAT);
    ck_assert_ptr_nonnull(strstr(ps_error_message(), "z.json: case 1 label '1': 'Dice' is not a "
                                                     "number"));
    ck_assert_int_eq(ps_nnunet_parse("{\"a\": [1,}", 10, "y.json", "M", &back), PS_ERR_FORMAT);
    ck_assert_ptr_nonnull(strstr(ps_error_message(), "y.json: not valid JSON"));
}
END_TEST

/* reading nnU-Net's files: the per-case table, and the analyses on it reproduce nnU-Net's mean
 * (its nanmean leaves the both-empty NaN Dice out, as panseval's exclusion rule does) */
START_TEST(test_read)
{
    ps_table *t;
    const char *arg = ps_test_path("golden/reports/nnunet/summary_v1.json");
    ck_assert_int_eq(ps_report_load(&arg, 1, &t), PS_OK);
    ck_assert_int_eq(t->nrows, 8);
    /* c01 label 1: Total Positives Test 18, Reference 18, Dice 2/3 -> tp 12, fp 6, fn 6 */
    ck_assert_str_eq(t->cells[0][ps_table_col(t, "case")], "c01");
    ck_assert_str_eq(t->cells[0][ps_table_col(t, "model")], "nnunet");
    ck_assert_str_eq(t->cells[0][ps_table_col(t, "tp")], "12");
    ck_assert_str_eq(t->cells[0][ps_table_col(t, "fp")], "6");
    ck_assert_str_eq(t->cells[0][ps_table_col(t, "fn")], "6");
    /* c02 label 2: not predicted; c03 label 2: in neither mask; c04 label 1: not in the ref */
    ck_assert_str_eq(t->cells[3][ps_table_col(t, "status")], "pred_empty");
    ck_assert_str_eq(t->cells[5][ps_table_col(t, "status")], "both_empty");
    ck_assert_str_eq(t->cells[5][ps_table_col(t, "dice")], "nan");
    ck_assert_str_eq(t->cells[6][ps_table_col(t, "status")], "ref_empty");
    ps_table_free(t);

    /* describe on the v2 file: mean Dice per label = nnU-Net's "mean" */
    char args[16384];
    snprintf(args, sizeof args, "describe A=summary_v2.json --metric dice --by label --format csv "
             "-o '%s'", ps_test_tmp("nnunet_describe.csv"));
    ck_assert_int_eq(run(args), 0);
    const char *p = ps_test_tmp("nnunet_describe.csv");
    ck_assert_int_eq(ps_table_read(p, &t), PS_OK);
    ck_assert_int_eq(t->nrows, 2);
    double v;
    ck_assert_int_eq(ps_table_get_double(t, 0, ps_table_col(t, "mean"), &v), PS_OK);
    ck_assert_close(v, 0.580952380952381, PS_TOL_REF);   /* summary_v2.json mean."1".Dice */
    ck_assert_int_eq(ps_table_get_double(t, 1, ps_table_col(t, "mean"), &v), PS_OK);
    ck_assert_close(v, 0.42735042735042733, PS_TOL_REF); /* summary_v2.json mean."2".Dice */
    ck_assert_int_eq(ps_table_get_double(t, 1, ps_table_col(t, "n"), &v), PS_OK);
    ck_assert_close(v, 3, PS_TOL_EXACT);                  /* c03's NaN left out */
    ck_assert_int_eq(ps_table_get_double(t, 1, ps_table_col(t, "excl_nan"), &v), PS_OK);
    ck_assert_close(v, 1, PS_TOL_EXACT);
    ps_table_free(t);
    /* compare two files named MODEL=FILE (v1 and v2 of the same masks: equal Dice, so the
     * paired tests are undefined, which is an error naming the group) */
    char cmp_out[4096]; /* ps_test_tmp's buffer is reused by run() */
    snprintf(cmp_out, sizeof cmp_out, "%s", ps_test_tmp("nnunet_compare.csv"));
    unlink(cmp_out);
    snprintf(args, sizeof args, "compare A=summary_v1.json B=summary_v2.json --metric dice --a A "
             "--b B --by label --format csv -o '%s'", cmp_out);
    ck_assert_int_eq(run(args), 1);
    /* the table is still written, with the undefined tests' cells empty */
    ck_assert_int_eq(ps_table_read(cmp_out, &t), PS_OK);
    ck_assert_int_eq(t->nrows, 2);
    ck_assert_int_eq(ps_table_get_double(t, 0, ps_table_col(t, "mean_a"), &v), PS_OK);
    ck_assert_close(v, 0.580952380952381, PS_TOL_REF); /* summary_v1.json mean."1".Dice */
    ck_assert_int_ne(ps_table_get_double(t, 0, ps_table_col(t, "p_t"), &v), PS_OK); /* empty */
    ps_table_free(t);
    char *err = slurp(ps_test_tmp("nnunet.err"));
    ck_assert_ptr_nonnull(strstr(err, "label=1, column 'dice'"));
    free(err);
    /* the PaNSegNet fork's HD95 are read back: their mean per label = the file's mean
     * (c01 3.724099870362652 and c04 2.0 for label 2; the NaN of c02, c03 left out) */
    snprintf(args, sizeof args, "describe P=summary_v1_pansegnet.json --metric hd95 --by label "
             "--format csv -o '%s'", ps_test_tmp("nnunet_psn.csv"));
    ck_assert_int_eq(run(args), 0);
    ck_assert_int_eq(ps_table_read(ps_test_tmp("nnunet_psn.csv"), &t), PS_OK);
    ck_assert_int_eq(ps_table_get_double(t, 1, ps_table_col(t, "mean"), &v), PS_OK);
    ck_assert_close(v, 2.862049935181326, PS_TOL_REF); /* results.mean."2"."Hausdorff Distance 95" */
    ps_table_free(t);
    /* summary of a v1 file */
    char sum_out[4096];
    snprintf(sum_out, sizeof sum_out, "%s", ps_test_tmp("nnunet_summary.csv"));
    snprintf(args, sizeof args, "summary v1=summary_v1.json --by label --metrics dice,recall "
             "--format csv -o '%s'", sum_out);
    ck_assert_int_eq(run(args), 0);
    ck_assert_int_eq(ps_table_read(sum_out, &t), PS_OK);
    ck_assert_int_eq(t->nrows, 2); /* labels 1 and 2 of summary_v1.json */
    ps_table_free(t);
}
END_TEST

static Suite *make_suite(void)
{
    Suite *s = suite_create("reports_nnunet");
    TCase *tc = tcase_create("nnunet");
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, test_write_v1_v2);
    tcase_add_test(tc, test_write_rules);
    tcase_add_test(tc, test_read);
    suite_add_tcase(s, tc);
    return s;
}

PS_TEST_MAIN(make_suite)
