/* Tests of the eval module: status names, settings, the geometry policies, the driver's order
 * (any thread count), skip and stop hooks, missing jobs, the table writer and reader.
 * Expected values: hand calculations on box phantoms (written beside them), and the
 * documented behaviour of src/eval/ps_eval.h. */
#include <sys/stat.h>
#include <unistd.h>

#include "ps_eval.h"
#include "ps_test.h"

/* A 20 x 20 x 10 label map, spacing 1 x 1 x 2 mm, with label 1 in the box
 * [x0, x0 + 5) x [5, 10) x [2, 6): 5 * 5 * 4 = 100 voxels. */
static void write_box(const char *path, int x0, const double *affine, int nz)
{
    ps_geometry g;
    ps_geometry_init(&g, 20, 20, nz, 1, 1, 2);
    if (affine) {
        double a[4][4];
        memcpy(a, affine, sizeof a);
        ps_geometry_set_affine(&g, a);
    }
    ps_volume *v = NULL;
    ck_assert_int_eq(ps_volume_create(&g, 1, PS_DT_UINT8, &v), 0);
    uint8_t *d = v->data;
    for (int z = 2; z < 6; z++)
        for (int y = 5; y < 10; y++)
            for (int x = x0; x < x0 + 5; x++)
                d[((int64_t)z * 20 + y) * 20 + x] = 1;
    ck_assert_int_eq(ps_volume_write(path, v), 0);
    ps_volume_free(v);
}

static char *tmp_path(const char *name)
{
    return ps_asprintf("%s", ps_test_tmp(name));
}

/* A sink that collects the rows' text (case, model, label, status, geometry, dice, message). */
typedef struct collect {
    char buf[65536];
    size_t len;
    int64_t order[64];
    int njobs;
    int skipped[64];
    volatile sig_atomic_t *stop_after_first;
} collect;

static int collect_rows(void *user, int64_t job, const ps_eval_row *rows, int nrows)
{
    collect *c = user;
    c->order[c->njobs++] = job;
    for (int i = 0; i < nrows; i++) {
        const ps_eval_row *r = &rows[i];
        c->len += (size_t)snprintf(c->buf + c->len, sizeof c->buf - c->len,
                                   "%s|%s|%s|%s|%s|%.17g|%s\n", r->job->case_id, r->job->model,
                                   r->label, ps_eval_status_name(r->status), r->geometry,
                                   r->m ? r->m->dice : -1.0, r->message);
    }
    if (c->stop_after_first)
        *c->stop_after_first = 1;
    return 0;
}

static int collect_skipped(void *user, int64_t job)
{
    collect *c = user;
    c->skipped[job] = 1;
    c->order[c->njobs++] = job;
    return 0;
}

static ps_eval_summary run_plan(const ps_eval_plan *p, const ps_eval_settings *s, int threads,
                                const ps_eval_control *ctl, collect *c)
{
    ps_context ctx;
    ps_context_init(&ctx);
    ctx.threads = threads;
    ctx.verbosity = 0;
    ctx.progress = 0;
    ps_eval_sink sink = {collect_rows, collect_skipped, c};
    ps_eval_summary sum;
    ck_assert_int_eq(ps_eval_run(p, s, &ctx, ctl, &sink, &sum), 0);
    return sum;
}

START_TEST(status_names)
{
    const char *names[] = {"ok", "pred_empty", "ref_empty", "both_empty", "missing", "error"};
    for (int i = 0; i < PS_EVAL_NSTATUS; i++) {
        ps_eval_status st;
        ck_assert_str_eq(ps_eval_status_name((ps_eval_status)i), names[i]);
        ck_assert_int_eq(ps_eval_status_parse(names[i], &st), 0);
        ck_assert_int_eq(st, i);
    }
    ps_eval_status st;
    ck_assert_int_eq(ps_eval_status_parse("failed", &st), PS_ERR_ARG);
}
END_TEST

START_TEST(settings)
{
    ps_eval_settings s;
    ps_eval_settings_init(&s);
    ck_assert_int_eq(s.geometry, PS_GEOMETRY_STRICT);
    ck_assert_close(s.geometry_tol_mm, 1e-4, 0);
    ck_assert_int_eq(ps_eval_settings_set(&s, "labels", "1,1"), PS_ERR_ARG);
    ck_assert_msg(strstr(ps_error_message(), "listed twice"), "%s", ps_error_message());
    ck_assert_int_eq(ps_eval_settings_set(&s, "labels", "1,2+1"), 0);
    ck_assert_int_eq(s.nregions, 2);
    ck_assert_int_eq(ps_eval_settings_set(&s, "geometry", "ref-grid"), 0);
    ck_assert_int_eq(s.geometry, PS_GEOMETRY_REF_GRID);
    ck_assert_int_eq(ps_eval_settings_set(&s, "geometry", "loose"), PS_ERR_ARG);
    ck_assert_int_eq(ps_eval_settings_set(&s, "geometry-tol", "0.5"), 0);
    ck_assert_close(s.geometry_tol_mm, 0.5, 0);
    ck_assert_int_eq(ps_eval_settings_set(&s, "geometry-tol", "-1"), PS_ERR_ARG);
    ck_assert_int_eq(ps_eval_settings_set(&s, "hd95", "monai"), 0);
    ck_assert_int_eq(s.metrics.hd_method, PS_HD_MONAI);
    ck_assert_int_eq(ps_eval_settings_set(&s, "percentile", "101"), PS_ERR_ARG);
    ck_assert_msg(strstr(ps_error_message(), "--percentile"), "%s", ps_error_message());
    ck_assert_int_eq(ps_eval_settings_set(&s, "no-distances", NULL), 0);
    ck_assert_int_eq(s.metrics.distances, 0);
    ck_assert_int_eq(ps_eval_settings_set(&s, "frobnicate", "1"), PS_ERR_ARG);
    ck_assert(ps_eval_settings_known("nsd-tol") && !ps_eval_settings_known("seed"));
    ps_eval_settings_clear(&s);
}
END_TEST

START_TEST(geometry_policies)
{
    char *ref = tmp_path("eval_geo_ref.nii.gz"), *pred = tmp_path("eval_geo_pred.nii.gz");
    char *shift = tmp_path("eval_geo_shift.nii.gz"), *dims = tmp_path("eval_geo_dims.nii.gz");
    write_box(ref, 5, NULL, 10);
    /* the prediction's header says LPS where the reference's says RAS (x and y flipped,
     * origin moved): the same voxel grid, a disagreeing header */
    const double flipped[16] = {-1, 0, 0, 19, 0, -1, 0, 19, 0, 0, 2, 0, 0, 0, 0, 1};
    write_box(pred, 6, flipped, 10);
    const double shifted[16] = {1, 0, 0, 0.5, 0, 1, 0, 0, 0, 0, 2, 0, 0, 0, 0, 1};
    write_box(shift, 6, shifted, 10);
    write_box(dims, 6, NULL, 12);
    ps_eval_settings s;
    ps_eval_settings_init(&s);
    ck_assert_int_eq(ps_eval_settings_set(&s, "labels", "1"), 0);
    ps_eval_plan *p;
    collect c;

    /* strict (default): an error row flagged mismatch */
    ck_assert_int_eq(ps_eval_plan_pair(ref, pred, "c", "m", &p), 0);
    memset(&c, 0, sizeof c);
    ps_eval_summary sum = run_plan(p, &s, 1, NULL, &c);
    ck_assert_int_eq((int)sum.failed, 1);
    ck_assert_msg(strstr(c.buf, "c|m||error|mismatch|-1|") != NULL, "%s", c.buf);
    ck_assert_msg(strstr(c.buf, "direction") != NULL, "%s", c.buf);

    /* ref-grid: evaluated on the reference's grid, flagged. Hand calculation: boxes of 100
     * voxels shifted by one voxel in x overlap in 4 * 5 * 4 = 80: dice = 160 / 200 = 0.8 */
    ck_assert_int_eq(ps_eval_settings_set(&s, "geometry", "ref-grid"), 0);
    memset(&c, 0, sizeof c);
    sum = run_plan(p, &s, 1, NULL, &c);
    ck_assert_int_eq((int)sum.failed, 0);
    ck_assert_int_eq((int)sum.ref_grid, 1);
    ck_assert_msg(strstr(c.buf, "c|m|1|ok|ref_grid|0.80000000000000004|evaluated on the "
                               "reference grid") != NULL, "%s", c.buf);
    ps_eval_plan_free(p);

    /* ref-grid still needs equal dims */
    ck_assert_int_eq(ps_eval_plan_pair(ref, dims, "d", "m", &p), 0);
    memset(&c, 0, sizeof c);
    sum = run_plan(p, &s, 1, NULL, &c);
    ck_assert_int_eq((int)sum.failed, 1);
    ck_assert_msg(strstr(c.buf, "d|m||error|mismatch|") != NULL, "%s", c.buf);
    ps_eval_plan_free(p);

    /* --geometry-tol: a 0.5 mm origin shift fails at the default 1e-4 mm, passes at 1 mm */
    ps_eval_settings_init(&s);
    ck_assert_int_eq(ps_eval_plan_pair(ref, shift, "t", "m", &p), 0);
    memset(&c, 0, sizeof c);
    sum = run_plan(p, &s, 1, NULL, &c);
    ck_assert_int_eq((int)sum.failed, 1);
    ck_assert_int_eq(ps_eval_settings_set(&s, "geometry-tol", "1"), 0);
    memset(&c, 0, sizeof c);
    sum = run_plan(p, &s, 1, NULL, &c);
    ck_assert_int_eq((int)sum.failed, 0);
    ck_assert_msg(strstr(c.buf, "t|m|1|ok|ok|0.80000000000000004|") != NULL, "%s", c.buf);
    ps_eval_plan_free(p);
    ps_eval_settings_clear(&s);
    free(ref);
    free(pred);
    free(shift);
    free(dims);
}
END_TEST

/* Folders refs/ and preds/ with cases c0..c6 (box at x0 = 5, prediction at 5 + k % 3) and a
 * reference c7 without a prediction. */
static void make_folders(char **refdir, char **preddir)
{
    *refdir = tmp_path("eval_refs");
    *preddir = tmp_path("eval_preds");
    mkdir(*refdir, 0755);
    mkdir(*preddir, 0755);
    for (int k = 0; k < 8; k++) {
        char *r = ps_asprintf("%s/c%d.nii.gz", *refdir, k);
        write_box(r, 5, NULL, 10);
        if (k < 7) {
            char *q = ps_asprintf("%s/c%d.nii.gz", *preddir, k);
            write_box(q, 5 + k % 3, NULL, 10);
            free(q);
        }
        free(r);
    }
}

START_TEST(order_threads_skip_stop_missing)
{
    char *rd, *pd;
    make_folders(&rd, &pd);
    ps_eval_plan *p;
    ck_assert_int_eq(ps_eval_plan_folders(rd, pd, "m", &p), 0);
    ck_assert_int_eq((int)p->njobs, 8);
    ck_assert_str_eq(p->jobs[7].case_id, "c7");
    ck_assert_ptr_null(p->jobs[7].pred_path);
    ps_eval_settings s;
    ps_eval_settings_init(&s);

    /* the same rows in the same order for 1, 2 and 3 threads */
    collect c1, c;
    memset(&c1, 0, sizeof c1);
    ps_eval_summary sum = run_plan(p, &s, 1, NULL, &c1);
    ck_assert_int_eq((int)sum.jobs_emitted, 8);
    ck_assert_int_eq((int)sum.missing, 1);
    ck_assert_int_eq((int)sum.failed, 0);
    /* hand: shift 0 -> dice 1; shift 1 -> 0.8; shift 2 -> 3*5*4 = 60 of 100 each: 0.6 */
    ck_assert_msg(strstr(c1.buf, "c0|m|1|ok|ok|1|\nc1|m|1|ok|ok|0.80000000000000004|\n"
                                 "c2|m|1|ok|ok|0.59999999999999998|\n") != NULL, "%s", c1.buf);
    ck_assert_msg(strstr(c1.buf, "c7|m||missing||-1|no prediction of 'm' listed") != NULL,
                  "%s", c1.buf);
    for (int th = 2; th <= 3; th++) {
        memset(&c, 0, sizeof c);
        run_plan(p, &s, th, NULL, &c);
        ck_assert_str_eq(c.buf, c1.buf);
        for (int j = 0; j < 8; j++)
            ck_assert_int_eq((int)c.order[j], j);
    }

    /* skip: jobs 2 and 5 are not run; the sink hears of them at their place */
    unsigned char skip[8] = {0, 0, 1, 0, 0, 1, 0, 0};
    ps_eval_control ctl = {skip, NULL};
    memset(&c, 0, sizeof c);
    sum = run_plan(p, &s, 2, &ctl, &c);
    ck_assert_int_eq((int)sum.jobs_emitted, 8);
    ck_assert(c.skipped[2] && c.skipped[5] && !c.skipped[3]);
    for (int j = 0; j < 8; j++)
        ck_assert_int_eq((int)c.order[j], j);
    ck_assert_ptr_null(strstr(c.buf, "c2|"));

    /* stop after the first job (one thread: exactly one job emitted, a prefix) */
    volatile sig_atomic_t stop = 0;
    ps_eval_control ctl2 = {NULL, &stop};
    memset(&c, 0, sizeof c);
    c.stop_after_first = &stop;
    sum = run_plan(p, &s, 1, &ctl2, &c);
    ck_assert_int_eq((int)sum.jobs_emitted, 1);
    ck_assert_int_eq(sum.stopped, 1);
    ck_assert_int_eq((int)sum.cases_emitted, 1);
    ck_assert_msg(!strncmp(c.buf, "c0|m|1|ok|", 10), "%s", c.buf);
    /* With 3 threads the prefix may be longer (jobs already running when the stop came
     * finish; on a busy machine that can be every job of this tiny plan), but it is a
     * prefix of the 1-thread output, one row per emitted job, and a run that left jobs out says it stopped. */
    stop = 0;
    memset(&c, 0, sizeof c);
    c.stop_after_first = &stop;
    sum = run_plan(p, &s, 3, &ctl2, &c);
    ck_assert_int_ge((int)sum.jobs_emitted, 1);
    ck_assert_int_le((int)sum.jobs_emitted, 8);
    if (sum.jobs_emitted < 8)
        ck_assert_int_eq(sum.stopped, 1);
    ck_assert(!strncmp(c.buf, c1.buf, c.len));
    int rows = 0;
    for (size_t i = 0; i < c.len; i++)
        rows += c.buf[i] == '\n';
    ck_assert_int_eq(rows, (int)sum.jobs_emitted);
    ps_eval_plan_free(p);
    free(rd);
    free(pd);
}
END_TEST

/* Folder mode pairs by case id (the name without .nii / .nii.gz): a.nii pairs with a.nii.gz,
 * and cases come in byte order of the case id ("a" before "a-b", though "a.nii.gz" sorts after
 * "a-b.nii.gz" as a file name since '.' > '-'). Two files of one case id in a folder are an
 * error naming both. */
START_TEST(folders_pair_by_case_id)
{
    char *rd = tmp_path("eval_stem_refs"), *pd = tmp_path("eval_stem_preds");
    mkdir(rd, 0755);
    mkdir(pd, 0755);
    char *r1 = ps_asprintf("%s/a.nii.gz", rd), *r2 = ps_asprintf("%s/a-b.nii.gz", rd);
    char *p1 = ps_asprintf("%s/a.nii", pd), *p2 = ps_asprintf("%s/a-b.nii.gz", pd);
    char *p3 = ps_asprintf("%s/a.nii.gz", pd);
    unlink(p3); /* left by an earlier run */
    write_box(r1, 5, NULL, 10);
    write_box(r2, 5, NULL, 10);
    write_box(p1, 6, NULL, 10); /* shifted by one voxel */
    write_box(p2, 5, NULL, 10);
    ps_eval_plan *p;
    ck_assert_int_eq(ps_eval_plan_folders(rd, pd, "m", &p), 0);
    ck_assert_int_eq((int)p->njobs, 2);
    ck_assert_int_eq(p->nunmatched, 0);
    ck_assert_str_eq(p->jobs[0].case_id, "a");
    ck_assert_str_eq(p->jobs[0].pred_path, p1);
    ck_assert_str_eq(p->jobs[1].case_id, "a-b");
    ck_assert_str_eq(p->jobs[1].pred_path, p2);
    ps_eval_settings s;
    ps_eval_settings_init(&s);
    collect c;
    memset(&c, 0, sizeof c);
    run_plan(p, &s, 1, NULL, &c);
    /* hand: shift 1 -> 4 of 5 columns overlap, 2*80/(100+100) = 0.8; no shift -> 1 */
    ck_assert_str_eq(c.buf, "a|m|1|ok|ok|0.80000000000000004|\na-b|m|1|ok|ok|1|\n");
    ps_eval_plan_free(p);
    write_box(p3, 5, NULL, 10);
    ck_assert_int_eq(ps_eval_plan_folders(rd, pd, "m", &p), PS_ERR_ARG);
    ck_assert_ptr_null(p);
    char *want = ps_asprintf("%s: both a.nii and a.nii.gz hold case 'a'; keep one of them", pd);
    ck_assert_str_eq(ps_error_message(), want);
    ps_eval_settings_clear(&s);
    free(want);
    free(r1);
    free(r2);
    free(p1);
    free(p2);
    free(p3);
    free(rd);
    free(pd);
}
END_TEST

START_TEST(writer_reader)
{
    char *rd, *pd;
    make_folders(&rd, &pd);
    ps_eval_plan *p;
    ck_assert_int_eq(ps_eval_plan_folders(rd, pd, "m", &p), 0);
    ps_eval_settings s;
    ps_eval_settings_init(&s);
    ps_context ctx;
    ps_context_init(&ctx);
    ctx.verbosity = 0;
    ctx.progress = 0;
    const ps_table_format fmts[] = {PS_TABLE_CSV, PS_TABLE_TSV, PS_TABLE_JSON};
    for (int k = 0; k < 3; k++) {
        char *buf = NULL;
        size_t len = 0;
        FILE *f = open_memstream(&buf, &len);
        ps_eval_writer *w;
        ck_assert_int_eq(ps_eval_writer_create(f, fmts[k], p, &w), 0);
        ps_eval_sink sink = ps_eval_writer_sink(w);
        ps_eval_summary sum;
        ck_assert_int_eq(ps_eval_run(p, &s, &ctx, NULL, &sink, &sum), 0);
        ck_assert_int_eq(ps_eval_writer_finish(w), 0);
        fclose(f);
        char name[64];
        snprintf(name, sizeof name, "eval_table.%s", ps_table_format_name(fmts[k]));
        char *path = tmp_path(name);
        FILE *o = fopen(path, "wb");
        fwrite(buf, 1, len, o);
        fclose(o);
        ps_table *t;
        ck_assert_int_eq(ps_eval_table_read(path, &t), 0);
        ck_assert_int_eq((int)t->nrows, 8);
        ck_assert_str_eq(t->colnames[2], "subject");
        ck_assert_str_eq(t->colnames[7], "geometry");
        ck_assert_int_eq(ps_eval_table_status(t, 7), PS_EVAL_MISSING);
        ck_assert_int_eq(ps_eval_table_status(t, 1), PS_EVAL_OK);
        int dc = ps_table_col(t, "dice");
        double d;
        ck_assert_int_eq(ps_table_get_double(t, 1, dc, &d), 0);
        ck_assert(d == 0.8); /* bit-exact through the text (shortest round-trip form) */
        ps_table_free(t);
        free(path);
        free(buf);
    }
    ps_table *t = NULL;
    char *bad = tmp_path("eval_bad.csv");
    FILE *o = fopen(bad, "w");
    fputs("case,model,label,status\nc1,m,1,ok\nc2,m,1,broken\n", o);
    fclose(o);
    ck_assert_int_eq(ps_eval_table_read(bad, &t), PS_ERR_FORMAT);
    ck_assert_msg(strstr(ps_error_message(), "line 3: unknown status 'broken'"), "%s",
                  ps_error_message());
    ps_eval_plan_free(p);
    free(bad);
    free(rd);
    free(pd);
}
END_TEST

START_TEST(manifest_plan)
{
    char *rd, *pd;
    make_folders(&rd, &pd);
    char *mpath = tmp_path("eval_manifest.tsv");
    FILE *f = fopen(mpath, "w");
    fprintf(f, "case\tsubject\tref\tpred:a\tpred:b\tmeta:scanner\n"
               "x\ts1\t%s/c0.nii.gz\t%s/c1.nii.gz\t\tGE\n"
               "y\ts1\t%s/c1.nii.gz\t%s/c1.nii.gz\t%s/c2.nii.gz\t\n", rd, pd, rd, pd, pd);
    fclose(f);
    ps_context ctx;
    ps_context_init(&ctx);
    ctx.verbosity = 0;
    ps_eval_plan *p;
    ck_assert_int_eq(ps_eval_plan_from_manifest(mpath, NULL, 0, &ctx, &p), 0);
    ck_assert_int_eq((int)p->njobs, 4);
    ck_assert_int_eq((int)p->ncases, 2);
    ck_assert_int_eq(p->nmeta, 1);
    ck_assert_str_eq(p->meta_cols[0], "meta:scanner");
    ck_assert_str_eq(p->jobs[0].subject, "s1");
    ck_assert_str_eq(p->jobs[0].meta[0], "GE");
    ck_assert_ptr_null(p->jobs[1].pred_path); /* x, pred:b empty: missing */
    ps_eval_settings s;
    ps_eval_settings_init(&s);
    collect c;
    memset(&c, 0, sizeof c);
    ps_eval_summary sum = run_plan(p, &s, 2, NULL, &c);
    ck_assert_int_eq((int)sum.missing, 1);
    ck_assert_int_eq((int)sum.failed, 0);
    ck_assert_int_eq((int)sum.cases_emitted, 2);
    ps_eval_plan_free(p);
    const char *bad_rater[] = {"rater:Z"};
    ck_assert_int_eq(ps_eval_plan_from_manifest(mpath, bad_rater, 1, &ctx, &p), PS_ERR_ARG);
    free(mpath);
    free(rd);
    free(pd);
}
END_TEST

static Suite *make_suite(void)
{
    Suite *s = suite_create("eval");
    TCase *tc = tcase_create("eval");
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, status_names);
    tcase_add_test(tc, folders_pair_by_case_id);
    tcase_add_test(tc, settings);
    tcase_add_test(tc, geometry_policies);
    tcase_add_test(tc, order_threads_skip_stop_missing);
    tcase_add_test(tc, writer_reader);
    tcase_add_test(tc, manifest_plan);
    suite_add_tcase(s, tc);
    return s;
}

PS_TEST_MAIN(make_suite)
