/* Tests of long runs (ps_eval_dist.h): resume after kills, shards and merge, refused journals.
 *
 * Expected values: the bytes of a clean one-process run of the same manifest (the property
 * under test is identity, so the clean run is the reference); the error texts are the
 * documented ones. The data are 100 tiny cases (6x5x4 label maps, two models) written here.
 * The kill test runs `panseval metrics --resume` as a child process and kills it (SIGKILL,
 * SIGTERM or SIGINT) after a random delay, until 20 kills have stopped a run before its end,
 * then lets a last --resume finish: the table must be byte-identical to the clean run's, and after every kill the table
 * is either absent or a complete table (a prefix of the clean one), never truncated.
 */
#include "ps_eval_dist.h"
#include "ps_test.h"

#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define NCASES 100

static char g_dir[4096], g_manifest[4200];

static char *path_in(const char *name)
{
    return ps_asprintf("%s/%s", g_dir, name);
}

/* 100 cases: ref and two predictions each, deterministic shapes (a box of label 1 moved by
 * the case index, and a second label on every third case). */
static void make_data(void)
{
    snprintf(g_dir, sizeof g_dir, "%s", ps_test_tmp("resume_data"));
    mkdir(g_dir, 0777);
    snprintf(g_manifest, sizeof g_manifest, "%s/manifest.tsv", g_dir);
    FILE *m = fopen(g_manifest, "w");
    ck_assert_ptr_nonnull(m);
    fprintf(m, "case\tmodality\tref\tpred:a\tpred:b\n");
    ps_geometry g;
    ps_geometry_init(&g, 6, 5, 4, 1.0, 1.5, 2.0);
    for (int c = 0; c < NCASES; c++) {
        for (int k = 0; k < 3; k++) {
            ps_volume *v = NULL;
            ck_assert_int_eq(ps_volume_create(&g, 1, PS_DT_UINT8, &v), 0);
            uint8_t *d = v->data;
            int x0 = c % 3, y0 = (c / 3) % 2 + (k == 2), z0 = k == 1;
            for (int z = z0; z < z0 + 2; z++)
                for (int y = y0; y < y0 + 3; y++)
                    for (int x = x0; x < x0 + 3; x++)
                        d[x + 6 * (y + 5 * z)] = 1;
            if (c % 3 == 0 && k != 1)
                d[5 + 6 * (4 + 5 * 3)] = 2;
            char name[64];
            snprintf(name, sizeof name, "c%03d_%d.nii.gz", c, k);
            char *p = path_in(name);
            ck_assert_int_eq(ps_volume_write(p, v), 0);
            free(p);
            ps_volume_free(v);
        }
        fprintf(m, "c%03d\t%s\tc%03d_0.nii.gz\tc%03d_1.nii.gz\tc%03d_2.nii.gz\n", c,
                c % 2 ? "CT" : "T2W", c, c, c);
    }
    ck_assert_int_eq(fclose(m), 0);
}

static unsigned char *slurp(const char *path, size_t *n)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    fseek(f, 0, SEEK_END);
    long len = ftell(f);
    fseek(f, 0, SEEK_SET);
    unsigned char *b = malloc((size_t)len + 1);
    ck_assert((long)fread(b, 1, (size_t)len, f) == len);
    fclose(f);
    b[len] = 0; /* callers search it as text */
    *n = (size_t)len;
    return b;
}

/* Run panseval with `args` (a NULL-terminated list after "metrics"); kill it after
 * `kill_us` microseconds with `sig` (0: let it finish). Returns the wait status. */
static int run_panseval(const char *const *args, long kill_us, int sig)
{
    const char *exe = getenv("PANSEVAL");
    ck_assert_ptr_nonnull(exe);
    /* Check's runner handles SIGTERM/SIGINT by killing the test's process group, and a
     * forked child keeps that handler until exec: block the signals around fork, give the
     * child the default actions, then let them through (a signal sent early stays pending
     * and then ends the child, as it should). */
    sigset_t block, old;
    sigemptyset(&block);
    sigaddset(&block, SIGTERM);
    sigaddset(&block, SIGINT);
    sigprocmask(SIG_BLOCK, &block, &old);
    pid_t pid = fork();
    if (pid == 0) {
        signal(SIGTERM, SIG_DFL);
        signal(SIGINT, SIG_DFL);
        sigprocmask(SIG_SETMASK, &old, NULL);
        const char *argv[32];
        int n = 0;
        argv[n++] = exe;
        for (int i = 0; args[i]; i++)
            argv[n++] = args[i];
        argv[n] = NULL;
        if (!freopen("/dev/null", "w", stderr))
            _exit(127);
        execv(exe, (char *const *)argv);
        _exit(127);
    }
    sigprocmask(SIG_SETMASK, &old, NULL);
    ck_assert_int_ge(pid, 0);
    if (sig) {
        usleep((useconds_t)kill_us);
        kill(pid, sig);
    }
    int st;
    ck_assert_int_eq(waitpid(pid, &st, 0), pid);
    return st;
}

static double now_s(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

static unsigned char *g_clean;
static size_t g_clean_n;
static double g_clean_s;

static void clean_run(void)
{
    if (g_clean)
        return;
    make_data();
    char *out = path_in("clean.csv");
    const char *args[] = {"metrics", "--manifest", g_manifest, "-j", "1", "-o", out, NULL};
    double t0 = now_s();
    int st = run_panseval(args, 0, 0);
    g_clean_s = now_s() - t0;
    ck_assert_msg(WIFEXITED(st) && WEXITSTATUS(st) == 0, "clean run failed (%d)", st);
    g_clean = slurp(out, &g_clean_n);
    ck_assert_ptr_nonnull(g_clean);
    char *j = ps_asprintf("%s.journal", out);
    ck_assert_msg(access(j, F_OK) != 0, "a complete run removes its journal");
    free(j);
    free(out);
}

static void expect_same_as_clean(const char *path, const char *what)
{
    size_t n;
    unsigned char *b = slurp(path, &n);
    ck_assert_msg(b != NULL, "%s: %s missing", what, path);
    ck_assert_msg(n == g_clean_n && !memcmp(b, g_clean, n), "%s: %s differs from the clean "
                  "run (%zu vs %zu bytes)", what, path, n, g_clean_n);
    free(b);
}

START_TEST(killed_twenty_times_then_resumed_is_identical)
{
    clean_run();
    char *out = path_in("killed.csv"), *journal = ps_asprintf("%s.journal", out);
    unlink(out);
    unlink(journal);
    const char *args[] = {"metrics", "--manifest", g_manifest, "-j", "1", "-o", out,
                          "--resume", NULL};
    srand(20261202);
    static const int sigs[3] = {SIGKILL, SIGTERM, SIGINT};
    /* random moments within 0.9x of a clean run's time (at least 20 ms), until 20 kills
     * have stopped a run before its end (a run that finished first does not count; on a
     * busy machine run times vary), at most 200 tries */
    long span_us = (long)(0.9e6 * g_clean_s);
    if (span_us < 20000)
        span_us = 20000;
    int mid_run = 0, round;
    for (round = 0; mid_run < 20 && round < 200; round++) {
        int sig = sigs[round % 3];
        long at = rand() % span_us;
        run_panseval(args, at, sig);
        mid_run += access(journal, F_OK) == 0; /* stopped before the end: journal kept */
        /* never a truncated table: absent, or complete (a prefix of the clean rows) */
        size_t n;
        unsigned char *b = slurp(out, &n);
        if (b) {
            ck_assert_msg(n <= g_clean_n && !memcmp(b, g_clean, n) && n && b[n - 1] == '\n',
                          "round %d (signal %d at %ld us): %s is not a prefix of the clean "
                          "table", round, sig, at, out);
            free(b);
        }
    }
    ck_assert_msg(mid_run == 20, "only %d of %d kills stopped a run before its end", mid_run,
                  round);
    int st = run_panseval(args, 0, 0);
    ck_assert_msg(WIFEXITED(st) && WEXITSTATUS(st) == 0, "final resume failed (%d)", st);
    expect_same_as_clean(out, "after 20 kills and --resume");
    ck_assert_msg(access(journal, F_OK) != 0, "the journal is removed once complete");
    free(out);
    free(journal);
}
END_TEST

START_TEST(torn_journal_tail_is_dropped)
{
    clean_run();
    char *out = path_in("torn.csv"), *journal = ps_asprintf("%s.journal", out);
    /* a run stopped early keeps its journal; cut its last record in half */
    const char *args[] = {"metrics", "--manifest", g_manifest, "-j", "1", "-o", out, NULL};
    long at = (long)(0.5e6 * g_clean_s);
    run_panseval(args, at > 5000 ? at : 5000, SIGKILL);
    size_t n;
    unsigned char *b = slurp(journal, &n);
    if (b && n > 400) {
        FILE *f = fopen(journal, "wb");
        ck_assert(fwrite(b, 1, n - 37, f) == n - 37);
        fclose(f);
    }
    free(b);
    const char *resume[] = {"metrics", "--manifest", g_manifest, "-j", "2", "-o", out,
                            "--resume", NULL};
    int st = run_panseval(resume, 0, 0);
    ck_assert_msg(WIFEXITED(st) && WEXITSTATUS(st) == 0, "resume failed (%d)", st);
    expect_same_as_clean(out, "resume after a torn record, -j2");
    free(out);
    free(journal);
}
END_TEST

/* A journal of other options or another manifest is refused with the reason. */
static void expect_refused(const char *manifest, const char *journal, const char *hd95,
                           const char *why)
{
    ps_eval_plan *plan = NULL;
    ck_assert_int_eq(ps_eval_plan_from_manifest(manifest, NULL, 0, NULL, &plan), 0);
    ps_eval_settings s;
    ps_eval_settings_init(&s);
    ck_assert_int_eq(ps_eval_settings_set(&s, "hd95", hd95), 0);
    ps_eval_run_opts o = {0};
    o.manifest = manifest;
    o.journal = journal;
    o.resume = 1;
    o.shard_index = o.shard_count = 1;
    ps_eval_summary sum;
    ps_eval_run_info info;
    FILE *f = tmpfile();
    int rc = ps_eval_run_dist(plan, &s, NULL, &o, f, PS_TABLE_CSV, &sum, &info);
    ck_assert_int_eq(rc, PS_ERR_ARG);
    ck_assert_msg(strstr(ps_error_message(), "cannot resume from this journal") &&
                  strstr(ps_error_message(), why), "%s", ps_error_message());
    fclose(f);
    ps_eval_settings_clear(&s);
    ps_eval_plan_free(plan);
}

START_TEST(foreign_journal_refused)
{
    clean_run();
    char *out = path_in("foreign.csv"), *journal = ps_asprintf("%s.journal", out);
    /* a shard run keeps its journal: shard 1 of 1 is every case */
    const char *sh[] = {"metrics", "--manifest", g_manifest, "--shard", "1/1", "-o", out, NULL};
    int st = run_panseval(sh, 0, 0);
    ck_assert(WIFEXITED(st) && WEXITSTATUS(st) == 0);
    expect_same_as_clean(out, "--shard 1/1");
    ck_assert_int_eq(access(journal, F_OK), 0);
    expect_refused(g_manifest, journal, "monai", "the options differ");
    ck_assert_msg(strstr(ps_error_message(), "hd95=monai"), "%s", ps_error_message());
    /* another manifest: the same cases and one more */
    char *m2 = path_in("manifest2.tsv");
    size_t n;
    unsigned char *b = slurp(g_manifest, &n);
    FILE *mf = fopen(m2, "wb");
    ck_assert(fwrite(b, 1, n, mf) == n);
    fprintf(mf, "extra\tCT\tc000_0.nii.gz\tc000_1.nii.gz\tc000_2.nii.gz\n");
    fclose(mf);
    free(b);
    expect_refused(m2, journal, "medpy", "the manifest differs");
    free(m2);
    free(out);
    free(journal);
}
END_TEST

START_TEST(shards_merge_to_the_clean_table)
{
    clean_run();
    const char *exe = getenv("PANSEVAL");
    char *shard[4];
    for (int i = 0; i < 4; i++) {
        char name[32], spec[16];
        snprintf(name, sizeof name, "shard%d.csv", i + 1);
        snprintf(spec, sizeof spec, "%d/4", i + 1);
        shard[i] = path_in(name);
        const char *args[] = {"metrics", "--manifest", g_manifest, "--shard", spec, "-j", "2",
                              "-o", shard[i], NULL};
        int st = run_panseval(args, 0, 0);
        ck_assert(WIFEXITED(st) && WEXITSTATUS(st) == 0);
    }
    /* balanced: every shard has 25 cases (equal file sizes), so 1 + 25 x 2 models x 1-2 labels
     * lines; at least 51 */
    for (int i = 0; i < 4; i++) {
        size_t n;
        unsigned char *b = slurp(shard[i], &n);
        int lines = 0;
        for (size_t k = 0; k < n; k++)
            lines += b[k] == '\n';
        ck_assert_int_ge(lines, 51);
        free(b);
    }
    char *merged = path_in("merged.csv"), cmd[20000];
    snprintf(cmd, sizeof cmd, "%s merge %s %s %s %s %s 2>/dev/null", exe, merged, shard[2],
             shard[0], shard[3], shard[1]); /* any order */
    ck_assert_int_eq(system(cmd), 0);
    expect_same_as_clean(merged, "merge of 4 shards");
    /* a missing shard names the cases; a duplicated one too */
    char *err = path_in("merge.err");
    snprintf(cmd, sizeof cmd, "%s merge %s %s %s %s 2>%s", exe, merged, shard[0], shard[1],
             shard[2], err);
    ck_assert_int_ne(system(cmd), 0);
    size_t n;
    unsigned char *b = slurp(err, &n);
    ck_assert_msg(strstr((char *)b, "are in no shard") && strstr((char *)b, "/a"), "%s", b);
    free(b);
    snprintf(cmd, sizeof cmd, "%s merge %s %s %s %s %s %s 2>%s", exe, merged, shard[0],
             shard[1], shard[2], shard[3], shard[1], err);
    ck_assert_int_ne(system(cmd), 0);
    b = slurp(err, &n);
    ck_assert_msg(strstr((char *)b, "appear in more than one shard"), "%s", b);
    free(b);
    expect_same_as_clean(merged, "a refused merge leaves the old output");
    for (int i = 0; i < 4; i++)
        free(shard[i]);
    free(merged);
    free(err);
}
END_TEST

START_TEST(shard_spec_parsing)
{
    int i, n;
    ck_assert_int_eq(ps_eval_shard_parse("3/8", &i, &n), 0);
    ck_assert_int_eq(i, 3);
    ck_assert_int_eq(n, 8);
    static const char *bad[] = {"0/4", "5/4", "1/0", "a/b", "2", "2/", "/2", "1/4x", "-1/4"};
    for (size_t k = 0; k < sizeof bad / sizeof *bad; k++) {
        ck_assert_int_eq(ps_eval_shard_parse(bad[k], &i, &n), PS_ERR_ARG);
        ck_assert(strstr(ps_error_message(), "expected I/N") != NULL);
    }
}
END_TEST

static Suite *make_suite(void)
{
    Suite *s = suite_create("eval_resume");
    TCase *tc = tcase_create("resume");
    tcase_set_timeout(tc, 240);
    tcase_add_test(tc, killed_twenty_times_then_resumed_is_identical);
    tcase_add_test(tc, torn_journal_tail_is_dropped);
    tcase_add_test(tc, foreign_journal_refused);
    tcase_add_test(tc, shards_merge_to_the_clean_table);
    tcase_add_test(tc, shard_spec_parsing);
    suite_add_tcase(s, tc);
    return s;
}

PS_TEST_MAIN(make_suite)
