/* test_stats_cli.c - `panseval compare`, `volume` and `describe` on the committed table
 * tests/golden/stats/cli_table.csv against tests/golden/stats/cli_expected.tsv (values from
 * scipy / statsmodels / sklearn / numpy, tests/reference/stats_cli_reference.py), and every
 * bad-input path of the three commands. Runs the binary named by $PANSEVAL. */
#include "ps_test.h"

#include <sys/wait.h>

/* ---- running the binary ------------------------------------------------------------------ */
static char out_text[1 << 16], err_text[1 << 16];

static void slurp(const char *path, char *buf, size_t cap)
{
    buf[0] = 0;
    FILE *f = fopen(path, "r");
    if (!f)
        return;
    size_t n = fread(buf, 1, cap - 1, f);
    buf[n] = 0;
    fclose(f);
}

/* Runs "$PANSEVAL <args>" with stdout and stderr captured; returns the exit status. */
static int run(const char *args)
{
    const char *exe = getenv("PANSEVAL");
    ck_assert_msg(exe != NULL, "PANSEVAL is not set");
    char out[4096], err[4096], cmd[16384];
    snprintf(out, sizeof out, "%s", ps_test_tmp("stats_cli.out"));
    snprintf(err, sizeof err, "%s", ps_test_tmp("stats_cli.err"));
    snprintf(cmd, sizeof cmd, "cd '%s' && '%s' %s >'%s' 2>'%s'", getenv("PS_TEST_SRCDIR"), exe,
             args, out, err);
    int st = system(cmd);
    slurp(out, out_text, sizeof out_text);
    slurp(err, err_text, sizeof err_text);
    ck_assert_msg(WIFEXITED(st), "%s: did not exit normally", args);
    return WEXITSTATUS(st);
}

/* Writes a table to the scratch folder and returns its path (static buffer). */
static const char *write_tmp(const char *name, const char *text)
{
    static char path[4096];
    snprintf(path, sizeof path, "%s", ps_test_tmp(name));
    FILE *f = fopen(path, "w");
    ck_assert(f != NULL);
    fputs(text, f);
    fclose(f);
    return path;
}

#define ck_assert_has(hay, needle) \
    ck_assert_msg(strstr((hay), (needle)) != NULL, "'%s' not found in:\n%s", (needle), (hay))

/* ---- a minimal reader for the flat JSON arrays the commands write ------------------------- */
/* Value of "key" in the object whose "group_key" is `group`: 0 and *v on success, -1 if the
 * object or key is missing; null reads as NaN. */
static int json_value(const char *json, const char *group_key, const char *group,
                      const char *key, double *v)
{
    /* "CT/hd95": the object whose group_key is CT and whose metric is hd95 */
    char gpat[256], mpat[256] = "", kpat[256], gname[128];
    snprintf(gname, sizeof gname, "%s", group);
    char *slash = strchr(gname, '/');
    if (slash) {
        *slash = 0;
        snprintf(mpat, sizeof mpat, "\"metric\": \"%s\"", slash + 1);
    }
    snprintf(gpat, sizeof gpat, "\"%s\": \"%s\"", group_key, gname);
    snprintf(kpat, sizeof kpat, "\"%s\": ", key);
    for (const char *obj = strchr(json, '{'); obj; obj = strchr(obj + 1, '{')) {
        const char *end = strchr(obj, '}');
        if (!end)
            return -1;
        const char *g = strstr(obj, gpat);
        if (!g || g > end)
            continue;
        const char *mm = mpat[0] ? strstr(obj, mpat) : obj;
        if (!mm || mm > end)
            continue;
        const char *k = strstr(obj, kpat);
        if (!k || k > end)
            return -1;
        k += strlen(kpat);
        if (!strncmp(k, "null", 4))
            *v = NAN;
        else
            *v = strtod(k, NULL);
        return 0;
    }
    return -1;
}

/* Compares every expected row of `test` with the JSON in out_text. */
static void check_expected(const char *test, const char *group_key)
{
    FILE *fp = fopen(ps_test_path("golden/stats/cli_expected.tsv"), "r");
    ck_assert(fp != NULL);
    char line[2048];
    int n = 0, header = 0;
    while (fgets(line, sizeof line, fp)) {
        if (line[0] == '#')
            continue;
        if (!header++)
            continue;
        char t[64], g[64], k[64];
        double want;
        ck_assert_int_eq(sscanf(line, "%63[^\t]\t%63[^\t]\t%63[^\t]\t%lf", t, g, k, &want), 4);
        if (strcmp(t, test))
            continue;
        double got;
        ck_assert_msg(json_value(out_text, group_key, g, k, &got) == 0, "%s %s: no key %s", test,
                      g, k);
        /* PS_TOL_REF relative (p-values included) */
        ck_assert_msg(fabs(got - want) <= PS_TOL_REF * fabs(want) ||
                          (want == 0 && fabs(got) <= PS_TOL_REF),
                      "%s %s %s = %.17g, expected %.17g", test, g, k, got, want);
        n++;
    }
    fclose(fp);
    ck_assert_int_gt(n, 20);
}

/* ---- values against the references ------------------------------------------------------- */
START_TEST(test_compare_values)
{
    ck_assert_int_eq(run("compare golden/stats/cli_table.csv --metric dice --a A --b B "
                         "--by modality --format json"),
                     0);
    check_expected("compare", "modality");
    /* exclusions are reported, not silent */
    ck_assert_has(err_text, "1 only in model A");
    ck_assert_has(err_text, "ct14 (line 28)");
    /* issue 12 A4: mr03 B (pred_empty, Dice 0) enters, mr07 B (status error) does not */
    ck_assert_has(err_text, "compare modality=MRI, dice: 1 case(s) left out (1 error)");
}
END_TEST

/* issue 12 B: several metrics, corrected across metrics and groups together */
START_TEST(test_compare_two_metrics)
{
    ck_assert_int_eq(run("compare golden/stats/cli_table.csv --metric dice,hd95 --a A --b B "
                         "--by modality --format json"),
                     0);
    check_expected("compare2", "modality");
    /* HD95 of the empty prediction (mr03 B) is nan: left out and said so */
    ck_assert_has(err_text, "compare modality=MRI, hd95: 2 case(s) left out (1 nan, 1 error)");
    double v;
    ck_assert_int_eq(json_value(out_text, "modality", "MRI/hd95", "excl_nan", &v), 0);
    ck_assert_close(v, 1.0, PS_TOL_EXACT);
    ck_assert_int_eq(json_value(out_text, "modality", "MRI/hd95", "excl_error", &v), 0);
    ck_assert_close(v, 1.0, PS_TOL_EXACT);
    ck_assert_int_eq(json_value(out_text, "modality", "CT/dice", "excl_unpaired", &v), 0);
    ck_assert_close(v, 1.0, PS_TOL_EXACT);
    /* --ok-only also leaves out mr03 B (pred_empty): MRI dice then has 8 pairs, 1 not_ok */
    ck_assert_int_eq(run("compare golden/stats/cli_table.csv --metric dice --a A --b B "
                         "--by modality --ok-only --format json"),
                     0);
    ck_assert_int_eq(json_value(out_text, "modality", "MRI", "n", &v), 0);
    ck_assert_close(v, 8.0, PS_TOL_EXACT);
    ck_assert_int_eq(json_value(out_text, "modality", "MRI", "excl_not_ok", &v), 0);
    ck_assert_close(v, 1.0, PS_TOL_EXACT);
}
END_TEST

START_TEST(test_volume_values)
{
    ck_assert_int_eq(run("volume golden/stats/cli_table.csv --model A --by modality "
                         "--format json"),
                     0);
    check_expected("volume", "modality");
}
END_TEST

START_TEST(test_describe_values)
{
    ck_assert_int_eq(run("describe golden/stats/cli_table.csv --metric dice --by modality "
                         "--model B --bootstrap 500 --seed 7 --format json"),
                     0);
    check_expected("describe", "modality");
    ck_assert_has(err_text, "1 error");
    /* thread count does not change a bit of the output */
    char first[1 << 16];
    ck_assert_int_eq(run("describe golden/stats/cli_table.csv --metric dice,hd95 --by modality "
                         "--bootstrap 300 --bootstrap-stat median --seed 3 -j 1 --format csv"),
                     0);
    memcpy(first, out_text, sizeof first);
    ck_assert_int_eq(run("describe golden/stats/cli_table.csv --metric dice,hd95 --by modality "
                         "--bootstrap 300 --bootstrap-stat median --seed 3 -j 2 --format csv"),
                     0);
    ck_assert_str_eq(first, out_text);
    /* the NaN HD95 of the empty prediction is counted, not averaged */
    ck_assert_has(err_text, "1 nan");
}
END_TEST

START_TEST(test_text_and_help)
{
    ck_assert_int_eq(run("compare golden/stats/cli_table.csv --metric dice --a A --b B --by "
                         "modality,center --correction bh --wilcoxon-convention scipy"),
                     0);
    ck_assert_has(out_text, "modality  center  metric");
    const char *cmds[] = {"compare", "volume", "describe"};
    for (int i = 0; i < 3; i++) {
        char a[64];
        snprintf(a, sizeof a, "%s --help", cmds[i]);
        ck_assert_int_eq(run(a), 0);
        ck_assert_has(out_text, "Usage: panseval");
        ck_assert_has(out_text, "Example");
        ck_assert_has(out_text, "--format");
    }
}
END_TEST

/* ---- bad input ------------------------------------------------------------------------------ */
START_TEST(test_errors)
{
    /* unknown column: usage-level error naming the column and the columns present */
    ck_assert_int_eq(run("compare golden/stats/cli_table.csv --metric dicee --a A --b B"), 2);
    ck_assert_has(err_text, "no column 'dicee'");
    ck_assert_int_eq(run("volume golden/stats/cli_table.csv --ref-col volref --model A"), 2);
    ck_assert_has(err_text, "no column 'volref'");
    ck_assert_int_eq(run("describe golden/stats/cli_table.csv --metric dice --by site"), 2);
    ck_assert_has(err_text, "no column 'site'");
    /* unknown model */
    ck_assert_int_eq(run("compare golden/stats/cli_table.csv --metric dice --a A --b C"), 2);
    ck_assert_has(err_text, "no rows with model 'C'");
    /* bad option values */
    ck_assert_int_eq(run("compare golden/stats/cli_table.csv --metric dice --a A --b B "
                         "--correction sidak"),
                     2);
    ck_assert_int_eq(run("compare golden/stats/cli_table.csv --metric dice --a A --b B "
                         "--wilcoxon-zero none"),
                     2);
    ck_assert_int_eq(run("compare golden/stats/cli_table.csv --metric dice --a A --b A"), 2);
    ck_assert_int_eq(run("describe golden/stats/cli_table.csv --metric dice --level 1.5"), 2);
    ck_assert_int_eq(run("describe golden/stats/cli_table.csv"), 2);

    /* non-numeric cell: names file, line and column */
    const char *p = write_tmp("stats_cli_text.csv",
                              "case,model,status,dice\n"
                              "c1,A,ok,0.8\nc1,B,ok,0.7\n"
                              "c2,A,ok,abc\nc2,B,ok,0.6\n"
                              "c3,A,ok,0.9\nc3,B,ok,0.7\n");
    char args[4096];
    snprintf(args, sizeof args, "compare '%s' --metric dice --a A --b B", p);
    ck_assert_int_eq(run(args), 1);
    ck_assert_has(err_text, "line 4");
    ck_assert_has(err_text, "'dice'");
    ck_assert_has(err_text, "abc");

    /* fewer than 2 pairs in a group: error naming the group, other groups still written */
    p = write_tmp("stats_cli_small.csv",
                  "case,model,modality,status,dice\n"
                  "c1,A,CT,ok,0.8\nc1,B,CT,ok,0.7\n"
                  "c2,A,CT,ok,0.85\nc2,B,CT,ok,0.6\n"
                  "c3,A,CT,ok,0.9\nc3,B,CT,ok,0.7\n"
                  "m1,A,MRI,ok,0.9\nm1,B,MRI,ok,0.7\n");
    snprintf(args, sizeof args, "compare '%s' --metric dice --a A --b B --by modality "
                                "--format json", p);
    ck_assert_int_eq(run(args), 1);
    ck_assert_has(err_text, "modality=MRI");
    ck_assert_has(err_text, "at least 2 pairs");
    double v;
    ck_assert_int_eq(json_value(out_text, "modality", "CT", "n", &v), 0);
    ck_assert_close(v, 3.0, PS_TOL_EXACT);
    ck_assert_int_eq(json_value(out_text, "modality", "MRI", "p_t", &v), 0);
    ck_assert(isnan(v));

    /* all differences equal: t-test undefined */
    p = write_tmp("stats_cli_const.csv",
                  "case,model,dice\nc1,A,0.8\nc1,B,0.7\nc2,A,0.6\nc2,B,0.5\n");
    snprintf(args, sizeof args, "compare '%s' --metric dice --a A --b B", p);
    ck_assert_int_eq(run(args), 1);
    ck_assert_has(err_text, "differences are equal");

    /* a case twice for one model */
    p = write_tmp("stats_cli_dup.csv",
                  "case,model,dice\nc1,A,0.8\nc1,B,0.7\nc1,A,0.6\nc2,A,0.5\nc2,B,0.4\n");
    snprintf(args, sizeof args, "compare '%s' --metric dice --a A --b B", p);
    ck_assert_int_eq(run(args), 1);
    ck_assert_has(err_text, "appears twice");
    ck_assert_has(err_text, "lines 2 and 4");

    /* volume: several models mixed in one group, and a constant column */
    ck_assert_int_eq(run("volume golden/stats/cli_table.csv --by modality"), 2);
    ck_assert_has(err_text, "appears twice in group modality=CT");
    p = write_tmp("stats_cli_vconst.csv",
                  "case,vol_ref_ml,vol_pred_ml\nc1,10,11\nc2,10,12\nc3,10,9\nc4,10,10.5\n");
    snprintf(args, sizeof args, "volume '%s' --format json", p);
    ck_assert_int_eq(run(args), 1);
    ck_assert_has(err_text, "x is constant");
    ck_assert_has(err_text, "'vol_ref_ml'");

    /* describe: a group whose values are all excluded */
    p = write_tmp("stats_cli_allnan.csv", "case,g,hd95\nc1,a,nan\nc2,a,inf\nc3,b,4\nc4,b,5\n");
    snprintf(args, sizeof args, "describe '%s' --metric hd95 --by g --format csv", p);
    ck_assert_int_eq(run(args), 1);
    ck_assert_has(err_text, "g=a, column 'hd95': no values left");
    ck_assert_has(err_text, "1 nan, 1 inf");
    ck_assert_has(out_text, "b,hd95,2,0,4.5");
}
END_TEST

static Suite *make_suite(void)
{
    Suite *s = suite_create("stats_cli");
    TCase *tc = tcase_create("cli");
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, test_compare_values);
    tcase_add_test(tc, test_compare_two_metrics);
    tcase_add_test(tc, test_volume_values);
    tcase_add_test(tc, test_describe_values);
    tcase_add_test(tc, test_text_and_help);
    tcase_add_test(tc, test_errors);
    suite_add_tcase(s, tc);
    return s;
}

PS_TEST_MAIN(make_suite)
