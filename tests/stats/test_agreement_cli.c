/* test_agreement_cli.c - `panseval kappa` and `panseval icc` end to end.
 *
 * Runs $PANSEVAL on the committed tables tests/golden/stats/agreement_data_*.csv and compares
 * the numbers it writes (--format tsv, 17 significant digits) with the reference values of
 * golden/stats/agreement_expected.csv (tests/reference/agreement_reference.py: statsmodels,
 * sklearn, numpy/scipy transcriptions of irr and psych; the source is named on every row),
 * with relative tolerance PS_TOL_REF. Error paths: exit status and the message naming the
 * file, column and line.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>

#include "ps_test.h"

static int rel_close(double a, double b, double tol)
{
    if (isnan(b))
        return isnan(a);
    if (isinf(b))
        return a == b;
    return fabs(a - b) <= tol * fabs(b) || fabs(a - b) <= 1e-300;
}

/* Expected value from the golden file (first row that matches). */
static double golden(const char *dataset, const char *raters, const char *method,
                     const char *option, const char *key)
{
    FILE *f = fopen(ps_test_path("golden/stats/agreement_expected.csv"), "r");
    ck_assert(f != NULL);
    char line[1024], want[256];
    snprintf(want, sizeof want, "%s,%s,%s,%s,%s,", dataset, raters, method, option, key);
    double v = NAN;
    int found = 0;
    while (!found && fgets(line, sizeof line, f))
        if (!strncmp(line, want, strlen(want))) {
            v = strtod(line + strlen(want), NULL);
            found = 1;
        }
    fclose(f);
    ck_assert_msg(found, "no golden value %s", want);
    return v;
}

/* Run `panseval <args>` with stdout and stderr to files; return the exit status. */
static int run(const char *args, const char *out_name)
{
    const char *exe = getenv("PANSEVAL");
    ck_assert_msg(exe != NULL, "PANSEVAL is not set");
    char out[4096], err[4200], cmd[32768];
    snprintf(out, sizeof out, "%s", ps_test_tmp(out_name));
    snprintf(err, sizeof err, "%s.err", out);
    snprintf(cmd, sizeof cmd, "cd '%s/golden/stats' && '%s' %s > '%s' 2> '%s'",
             getenv("PS_TEST_SRCDIR") ? getenv("PS_TEST_SRCDIR") : "tests", exe, args, out, err);
    int st = system(cmd);
    ck_assert(st != -1 && WIFEXITED(st));
    return WEXITSTATUS(st);
}

static char *slurp(const char *name)
{
    FILE *f = fopen(ps_test_tmp(name), "rb");
    ck_assert_msg(f != NULL, "cannot open %s", name);
    static char buf[1 << 18];
    size_t n = fread(buf, 1, sizeof buf - 1, f);
    buf[n] = 0;
    fclose(f);
    return buf;
}

/* A TSV result: header + rows of cells. */
typedef struct tsv {
    int nrow, ncol;
    char head[32][64];
    char cell[64][32][128];
} tsv;

static void read_tsv(const char *name, tsv *t)
{
    memset(t, 0, sizeof *t);
    FILE *f = fopen(ps_test_tmp(name), "r");
    ck_assert_msg(f != NULL, "cannot open %s", name);
    char line[8192];
    int r = -1;
    while (fgets(line, sizeof line, f)) {
        line[strcspn(line, "\r\n")] = 0;
        int j = 0;
        char *save = NULL;
        for (char *tok = strtok_r(line, "\t", &save); tok; tok = strtok_r(NULL, "\t", &save), j++) {
            ck_assert(j < 32);
            if (r < 0)
                snprintf(t->head[j], 64, "%s", tok);
            else
                snprintf(t->cell[r][j], 128, "%s", tok);
        }
        if (r < 0)
            t->ncol = j;
        else
            ck_assert_int_eq(j, t->ncol);
        r++;
        ck_assert(r < 64);
    }
    t->nrow = r;
    fclose(f);
}

static double num(const tsv *t, int row, const char *col)
{
    for (int j = 0; j < t->ncol; j++)
        if (!strcmp(t->head[j], col))
            return strtod(t->cell[row][j], NULL);
    ck_abort_msg("no column %s", col);
    return NAN;
}

static const char *str(const tsv *t, int row, const char *col)
{
    for (int j = 0; j < t->ncol; j++)
        if (!strcmp(t->head[j], col))
            return t->cell[row][j];
    ck_abort_msg("no column %s", col);
    return "";
}

#define ck_assert_golden(got, ...)                                                        \
    do {                                                                                  \
        double g_ = (got), e_ = golden(__VA_ARGS__);                                      \
        ck_assert_msg(rel_close(g_, e_, PS_TOL_REF), "%s = %.17g, golden %.17g", #got, g_, e_); \
    } while (0)

static const char *const KAPPA_KEYS[] = {"kappa", "se", "se0", "z", "p", "ci_low", "ci_high"};

START_TEST(test_kappa_two_raters)
{
    const char *w[3] = {"none", "linear", "quadratic"};
    tsv t;
    for (int i = 0; i < 3; i++) {
        char args[256];
        snprintf(args, sizeof args,
                 "kappa agreement_data_rand_k5_n500.csv --raters reader_a,reader_b --weights %s "
                 "--format tsv", w[i]);
        ck_assert_int_eq(run(args, "kappa2.tsv"), 0);
        read_tsv("kappa2.tsv", &t);
        ck_assert_int_eq(t.nrow, 1);
        ck_assert_int_eq(t.ncol, 12);
        ck_assert_str_eq(str(&t, 0, "weights"), w[i]);
        ck_assert_int_eq((int)num(&t, 0, "n"), 500);
        ck_assert_int_eq((int)num(&t, 0, "dropped"), 0);
        for (int k = 0; k < 7; k++)
            ck_assert_golden(num(&t, 0, KAPPA_KEYS[k]), "rand_k5_n500", "0 1", "cohen", w[i],
                             KAPPA_KEYS[k]);
    }
    /* the SAS example, and the default text output */
    ck_assert_int_eq(run("kappa agreement_data_sas10.csv --raters rater1,rater2", "kappa2.txt"), 0);
    const char *txt = slurp("kappa2.txt");
    ck_assert_ptr_nonnull(strstr(txt, "Cohen's kappa, weights: none"));
    ck_assert_ptr_nonnull(strstr(txt, "0.4842"));
    ck_assert_ptr_nonnull(strstr(txt, "3 categories: 1 2 3"));
}
END_TEST

START_TEST(test_kappa_multi)
{
    tsv t;
    /* 200 subjects, 35 with a missing rating: kappa statistics on 165, alpha on all */
    ck_assert_int_eq(run("kappa agreement_data_rand_multi.csv --raters r1,r2,r3,r4 --format tsv",
                         "kappa4.tsv"), 0);
    read_tsv("kappa4.tsv", &t);
    ck_assert_int_eq(t.nrow, 6);
    ck_assert_int_eq(t.ncol, 19);
    ck_assert_ptr_nonnull(strstr(slurp("kappa4.tsv.err"), "dropped 35 of 200 rows"));
    int row = 0;
    for (int a = 0; a < 4; a++)
        for (int b = a + 1; b < 4; b++, row++) {
            char rs[32];
            snprintf(rs, sizeof rs, "%d %d listwise", a, b);
            ck_assert_int_eq((int)num(&t, row, "n"), 165);
            ck_assert_int_eq((int)num(&t, row, "dropped"), 35);
            for (int k = 0; k < 7; k++)
                ck_assert_golden(num(&t, row, KAPPA_KEYS[k]), "rand_multi", rs, "cohen", "none",
                                 KAPPA_KEYS[k]);
        }
    for (row = 0; row < 6; row++) {
        ck_assert_golden(num(&t, row, "fleiss_kappa"), "rand_multi", "all", "fleiss", "", "kappa");
        ck_assert_golden(num(&t, row, "fleiss_se0"), "rand_multi", "all", "fleiss", "", "se0");
        ck_assert_golden(num(&t, row, "fleiss_z"), "rand_multi", "all", "fleiss", "", "z");
        ck_assert_golden(num(&t, row, "fleiss_p"), "rand_multi", "all", "fleiss", "", "p");
        ck_assert_golden(num(&t, row, "light_kappa"), "rand_multi", "all", "light", "", "kappa");
        ck_assert_golden(num(&t, row, "krippendorff_alpha"), "rand_multi", "all", "alpha",
                         "nominal", "alpha");
        ck_assert_str_eq(str(&t, row, "alpha_metric"), "nominal");
    }
    /* Fleiss (1971) data, json output parses as numbers; Krippendorff's example, each metric */
    ck_assert_int_eq(run("kappa agreement_data_diagnoses.csv --format tsv "
                         "--raters rater1,rater2,rater3,rater4,rater5,rater6", "kappa6.tsv"), 0);
    read_tsv("kappa6.tsv", &t);
    ck_assert_int_eq(t.nrow, 15);
    ck_assert_golden(num(&t, 14, "fleiss_kappa"), "diagnoses", "all", "fleiss", "", "kappa");
    ck_assert_golden(num(&t, 14, "fleiss_p"), "diagnoses", "all", "fleiss", "", "p");
    ck_assert_golden(num(&t, 14, "kappa"), "diagnoses", "4 5", "cohen", "none", "kappa");
    const char *metrics[4] = {"nominal", "ordinal", "interval", "ratio"};
    for (int i = 0; i < 4; i++) {
        char args[256];
        snprintf(args, sizeof args, "kappa agreement_data_kripp2011.csv --raters A,B,C,D "
                 "--alpha-metric %s --format tsv", metrics[i]);
        ck_assert_int_eq(run(args, "kripp.tsv"), 0);
        read_tsv("kripp.tsv", &t);
        ck_assert_golden(num(&t, 0, "krippendorff_alpha"), "kripp2011", "all", "alpha",
                         metrics[i], "alpha");
    }
    /* text output of the multi-rater summary */
    ck_assert_int_eq(run("kappa agreement_data_anxiety.csv --raters rater1,rater2,rater3",
                         "kappa3.txt"), 0);
    const char *txt = slurp("kappa3.txt");
    ck_assert_ptr_nonnull(strstr(txt, "Fleiss' kappa"));
    ck_assert_ptr_nonnull(strstr(txt, "Light's kappa"));
    ck_assert_ptr_nonnull(strstr(txt, "Krippendorff's alpha"));
}
END_TEST

START_TEST(test_kappa_text_labels)
{
    /* text categories (strcmp order) and JSON output */
    FILE *f = fopen(ps_test_tmp("labels.csv"), "w");
    fputs("case,r1,r2\na,benign,benign\nb,malignant,malignant\nc,benign,malignant\n"
          "d,malignant,malignant\ne,,benign\n", f);
    fclose(f);
    char args[8192];
    snprintf(args, sizeof args, "kappa '%s' --raters r1,r2 --format json",
             ps_test_tmp("labels.csv"));
    ck_assert_int_eq(run(args, "labels.json"), 0);
    const char *js = slurp("labels.json");
    /* complete rows a-d: table [[1,1],[0,2]], po = 3/4, margins r = (1/2, 1/2),
     * c = (1/4, 3/4), pe = 1/8 + 3/8 = 1/2, kappa = (3/4 - 1/2)/(1/2) = 0.5 */
    ck_assert_ptr_nonnull(strstr(js, "\"kappa\": 0.5,"));
    ck_assert_ptr_nonnull(strstr(js, "\"dropped\": 1,"));
    ck_assert_ptr_nonnull(strstr(slurp("labels.json.err"), "dropped 1 of 5 rows"));
}
END_TEST

START_TEST(test_icc)
{
    static const char *forms[6] = {"ICC1", "ICC2", "ICC3", "ICC1k", "ICC2k", "ICC3k"};
    static const char *keys[7] = {"icc", "f", "df1", "df2", "p", "ci_low", "ci_high"};
    struct {
        const char *dataset, *raters;
        int n, dropped;
    } cases[3] = {
        {"shrout", "judge1,judge2,judge3,judge4", 6, 0},
        {"cont_missing", "vol_a,vol_b,vol_c", 51, 9},
        {"icc_int", "j1,j2,j3,j4", 30, 0},
    };
    tsv t;
    for (int c = 0; c < 3; c++) {
        char args[256];
        snprintf(args, sizeof args, "icc agreement_data_%s.csv --raters %s --format tsv",
                 cases[c].dataset, cases[c].raters);
        ck_assert_int_eq(run(args, "icc.tsv"), 0);
        read_tsv("icc.tsv", &t);
        ck_assert_int_eq(t.nrow, 6);
        for (int i = 0; i < 6; i++) {
            ck_assert_str_eq(str(&t, i, "type"), forms[i]);
            ck_assert_int_eq((int)num(&t, i, "n"), cases[c].n);
            for (int k = 0; k < 7; k++)
                ck_assert_golden(num(&t, i, keys[k]), cases[c].dataset, "all", "icc", forms[i],
                                 keys[k]);
        }
        if (cases[c].dropped)
            ck_assert_ptr_nonnull(strstr(slurp("icc.tsv.err"), "dropped 9 of 60 rows"));
    }
    /* default text output, other level */
    ck_assert_int_eq(run("icc agreement_data_shrout.csv --raters judge1,judge2,judge3,judge4 "
                         "--level 0.9", "icc.txt"), 0);
    const char *txt = slurp("icc.txt");
    ck_assert_ptr_nonnull(strstr(txt, "90% confidence intervals"));
    ck_assert_ptr_nonnull(strstr(txt, "two-way random, absolute agreement, single rater"));
    ck_assert_ptr_nonnull(strstr(txt, "0.2898"));
}
END_TEST

START_TEST(test_errors)
{
    /* unknown column: names the file and lists the columns */
    ck_assert_int_ne(run("kappa agreement_data_sas10.csv --raters rater1,rater9", "e.txt"), 0);
    ck_assert_ptr_nonnull(strstr(slurp("e.txt.err"), "no column 'rater9'"));
    ck_assert_ptr_nonnull(strstr(slurp("e.txt.err"), "agreement_data_sas10.csv"));
    ck_assert_int_ne(run("icc agreement_data_shrout.csv --raters judge1,judgeX", "e.txt"), 0);
    ck_assert_ptr_nonnull(strstr(slurp("e.txt.err"), "no column 'judgeX'"));
    /* usage errors: exit status 2 */
    ck_assert_int_eq(run("kappa agreement_data_sas10.csv", "e.txt"), 2);
    ck_assert_ptr_nonnull(strstr(slurp("e.txt.err"), "--raters is required"));
    ck_assert_int_eq(run("kappa agreement_data_sas10.csv --raters rater1", "e.txt"), 2);
    ck_assert_int_eq(run("kappa agreement_data_sas10.csv --raters a,b --weights cubic",
                         "e.txt"), 2);
    ck_assert_int_eq(run("icc agreement_data_shrout.csv --raters judge1,judge2 --level 1.5",
                         "e.txt"), 2);
    ck_assert_int_eq(run("icc agreement_data_shrout.csv --raters judge1,judge2 --format xml",
                         "e.txt"), 2);
    /* a non-numeric cell for icc: names line and column */
    FILE *f = fopen(ps_test_tmp("bad.csv"), "w");
    fputs("a,b\n1,2\n3,x7\n4,5\n", f);
    fclose(f);
    char args[8192];
    snprintf(args, sizeof args, "icc '%s' --raters a,b", ps_test_tmp("bad.csv"));
    ck_assert_int_eq(run(args, "e.txt"), 1);
    ck_assert_ptr_nonnull(strstr(slurp("e.txt.err"), "line 3 column 'b': 'x7' is not a number"));
    /* fewer than 2 complete subjects */
    f = fopen(ps_test_tmp("one.csv"), "w");
    fputs("a,b\n1,2\nNA,3\n", f);
    fclose(f);
    snprintf(args, sizeof args, "icc '%s' --raters a,b", ps_test_tmp("one.csv"));
    ck_assert_int_eq(run(args, "e.txt"), 1);
    ck_assert_ptr_nonnull(strstr(slurp("e.txt.err"), "at least 2 subjects"));
    snprintf(args, sizeof args, "kappa '%s' --raters a,b", ps_test_tmp("one.csv"));
    ck_assert_int_eq(run(args, "e.txt"), 1);
    ck_assert_ptr_nonnull(strstr(slurp("e.txt.err"), "at least 2 subjects"));
    /* undefined kappa: one category */
    f = fopen(ps_test_tmp("same.csv"), "w");
    fputs("a,b\n1,1\n1,1\n1,1\n", f);
    fclose(f);
    snprintf(args, sizeof args, "kappa '%s' --raters a,b", ps_test_tmp("same.csv"));
    ck_assert_int_eq(run(args, "e.txt"), 1);
    ck_assert_ptr_nonnull(strstr(slurp("e.txt.err"), "kappa is undefined"));
    snprintf(args, sizeof args, "icc '%s' --raters a,b", ps_test_tmp("same.csv"));
    ck_assert_int_eq(run(args, "e.txt"), 1);
    ck_assert_ptr_nonnull(strstr(slurp("e.txt.err"), "all ratings are equal"));
    /* interval alpha on text labels */
    f = fopen(ps_test_tmp("txt3.csv"), "w");
    fputs("a,b,c\nlow,low,high\nhigh,high,high\nlow,low,low\n", f);
    fclose(f);
    snprintf(args, sizeof args, "kappa '%s' --raters a,b,c --alpha-metric interval",
             ps_test_tmp("txt3.csv"));
    ck_assert_int_eq(run(args, "e.txt"), 1);
    ck_assert_ptr_nonnull(strstr(slurp("e.txt.err"), "line 2 column 'a': 'low' is not a number"));
    /* continuous data is not categorical: more than 1000 categories */
    snprintf(args, sizeof args, "kappa agreement_data_icc_large.csv --raters m1,m2");
    ck_assert_int_eq(run(args, "e.txt"), 1);
    ck_assert_ptr_nonnull(strstr(slurp("e.txt.err"), "use 'panseval icc'"));
    /* --help */
    ck_assert_int_eq(run("kappa --help", "h.txt"), 0);
    ck_assert_ptr_nonnull(strstr(slurp("h.txt"), "Usage: panseval kappa"));
    ck_assert_int_eq(run("icc --help", "h.txt"), 0);
    ck_assert_ptr_nonnull(strstr(slurp("h.txt"), "Usage: panseval icc"));
}
END_TEST

static Suite *cli_suite(void)
{
    Suite *s = suite_create("stats_agreement_cli");
    TCase *tc = tcase_create("cli");
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, test_kappa_two_raters);
    tcase_add_test(tc, test_kappa_multi);
    tcase_add_test(tc, test_kappa_text_labels);
    tcase_add_test(tc, test_icc);
    tcase_add_test(tc, test_errors);
    suite_add_tcase(s, tc);
    return s;
}

PS_TEST_MAIN(cli_suite)
