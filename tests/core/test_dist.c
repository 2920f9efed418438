/* Tests of the distributed work queue (src/core/dist.c).
 *
 * Run under `mpirun -n K` (K = 1, 2, 3) when panseval is built with MPI, and as a plain
 * program otherwise (the local path). Every rank runs the same tests in the same order
 * (CK_FORK=no: the ranks must stay in step), and only rank 0 asserts, after each collective
 * ps_dist_run has returned; the other ranks print nothing.
 * Expected values: each task's bytes are a function of its index only (make_bytes), so the
 * sink must see exactly make_bytes(i) for every i not skipped, in increasing i, whatever K.
 * `test_dist --die-rank R` instead kills rank R (SIGKILL) at its first task; the shell test
 * test_dist_dead.sh checks that the job then ends with a message naming the rank.
 */
#include "ps_core.h"
#include "ps_test.h"

#include <signal.h>
#include <unistd.h>

static ps_dist *g_dist;
static int g_die_rank = -1;

/* Task i's bytes: "task i\n" then (i * 7919) % 3001 bytes of a pattern that depends on i. */
static unsigned char *make_bytes(int64_t i, size_t *len)
{
    char head[32];
    int h = snprintf(head, sizeof head, "task %lld\n", (long long)i);
    size_t extra = (size_t)((i * 7919) % 3001);
    unsigned char *b = malloc((size_t)h + extra + 1);
    memcpy(b, head, (size_t)h);
    for (size_t k = 0; k < extra; k++)
        b[h + k] = (unsigned char)((i * 31 + (int64_t)k * 7) & 0xff);
    *len = (size_t)h + extra;
    return b;
}

typedef struct run {
    const unsigned char *skip;
    int64_t fail_at;      /* work fails for this index (-1: never)  */
    int64_t sink_fail_at; /* sink fails for this index (-1: never)  */
    int64_t next;         /* the index the sink expects next        */
    int64_t n, sunk, bad; /* bad: sink saw something unexpected     */
    int64_t ran_skipped;  /* work ran a skipped task                */
    char why[256];
    int slow_root;        /* tasks take 40 ms on rank 0, 1 ms elsewhere */
    int64_t ran_here;     /* tasks this rank ran                    */
} run;

static int work(int64_t i, void *user, unsigned char **bytes, size_t *len)
{
    run *r = user;
    if (ps_dist_rank(g_dist) == g_die_rank)
        raise(SIGKILL);
    if (r->skip && r->skip[i])
        r->ran_skipped++;
    if (i == r->fail_at)
        return ps_error(PS_ERR_FORMAT, "task %lld failed on purpose", (long long)i);
    r->ran_here++;
    if (r->slow_root)
        usleep(ps_dist_rank(g_dist) == 0 ? 40000 : 1000);
    /* uneven cost: some tasks take longer, so the dynamic order differs from the index order */
    if (i % 7 == 3)
        usleep(2000);
    *bytes = make_bytes(i, len);
    return PS_OK;
}

static int sink(int64_t i, const unsigned char *bytes, size_t len, void *user)
{
    run *r = user;
    while (r->skip && r->next < r->n && r->skip[r->next])
        r->next++;
    size_t want_len;
    unsigned char *want = make_bytes(i, &want_len);
    if (i != r->next && !r->bad) {
        r->bad = 1;
        snprintf(r->why, sizeof r->why, "sink got task %lld, expected %lld", (long long)i,
                 (long long)r->next);
    } else if ((len != want_len || memcmp(bytes, want, len)) && !r->bad) {
        r->bad = 1;
        snprintf(r->why, sizeof r->why, "task %lld: wrong bytes (%zu, expected %zu)",
                 (long long)i, len, want_len);
    }
    free(want);
    r->next = i + 1;
    r->sunk++;
    if (i == r->sink_fail_at)
        return ps_error(PS_ERR_IO, "sink refused task %lld", (long long)i);
    return PS_OK;
}

static int is_root(void) { return ps_dist_rank(g_dist) == 0; }

START_TEST(all_tasks_in_order)
{
    for (int64_t window = 0; window <= 1; window++) { /* default window, and 1 (tightest) */
        run r = {NULL, -1, -1, 0, 100, 0, 0, 0, "", 0, 0};
        int rc = ps_dist_run(g_dist, 100, NULL, window, work, sink, &r);
        if (is_root()) {
            ck_assert_msg(rc == 0, "rc %d: %s", rc, ps_error_message());
            ck_assert_msg(!r.bad, "%s", r.why);
            ck_assert_int_eq(r.sunk, 100);
        }
    }
}
END_TEST

START_TEST(skipped_tasks_neither_run_nor_sunk)
{
    unsigned char skip[60] = {0};
    for (int i = 0; i < 60; i++)
        skip[i] = i % 3 == 0 || i >= 55; /* 0, 3, ..., 54 and the last five */
    run r = {skip, -1, -1, 0, 60, 0, 0, 0, "", 0, 0};
    int rc = ps_dist_run(g_dist, 60, skip, 0, work, sink, &r);
    if (is_root()) {
        ck_assert_msg(rc == 0, "%s", ps_error_message());
        ck_assert_msg(!r.bad, "%s", r.why);
        /* skipped: the 19 multiples of 3 in 0..54, and 55..59 (5): 60 - 24 = 36 sunk */
        ck_assert_int_eq(r.sunk, 36);
        ck_assert_int_eq(r.ran_skipped, 0);
    }
    /* all skipped, and no tasks at all */
    memset(skip, 1, sizeof skip);
    run r2 = {skip, -1, -1, 0, 60, 0, 0, 0, "", 0, 0};
    rc = ps_dist_run(g_dist, 60, skip, 0, work, sink, &r2);
    run r3 = {NULL, -1, -1, 0, 0, 0, 0, 0, "", 0, 0};
    int rc3 = ps_dist_run(g_dist, 0, NULL, 0, work, sink, &r3);
    if (is_root()) {
        ck_assert_int_eq(rc, 0);
        ck_assert_int_eq(r2.sunk, 0);
        ck_assert_int_eq(rc3, 0);
        ck_assert_int_eq(r3.sunk, 0);
    }
}
END_TEST

START_TEST(work_failure_stops_the_run_with_its_message)
{
    run r = {NULL, 50, -1, 0, 100, 0, 0, 0, "", 0, 0};
    int rc = ps_dist_run(g_dist, 100, NULL, 0, work, sink, &r);
    if (is_root()) {
        ck_assert_int_eq(rc, PS_ERR_FORMAT);
        ck_assert_msg(strstr(ps_error_message(), "task 50 failed on purpose"), "%s",
                      ps_error_message());
        ck_assert_msg(!r.bad, "%s", r.why);
        ck_assert_int_le(r.sunk, 50); /* nothing at or after the failed task */
    }
    /* the queue is usable again afterwards */
    run r2 = {NULL, -1, -1, 0, 30, 0, 0, 0, "", 0, 0};
    rc = ps_dist_run(g_dist, 30, NULL, 0, work, sink, &r2);
    if (is_root()) {
        ck_assert_int_eq(rc, 0);
        ck_assert_int_eq(r2.sunk, 30);
    }
}
END_TEST

START_TEST(sink_failure_stops_the_run)
{
    run r = {NULL, -1, 20, 0, 100, 0, 0, 0, "", 0, 0};
    int rc = ps_dist_run(g_dist, 100, NULL, 0, work, sink, &r);
    if (is_root()) {
        ck_assert_int_eq(rc, PS_ERR_IO);
        ck_assert_msg(strstr(ps_error_message(), "sink refused task 20"), "%s",
                      ps_error_message());
        ck_assert_int_eq(r.sunk, 21);
    }
}
END_TEST

/* Rank 0 answers the workers only between its own tasks, so a long task there must not leave
 * them idle: their queues are deep while many tasks are left. Hand count for 100 tasks of
 * 40 ms on rank 0 and 1 ms on the worker, 2 ranks: while rank 0 runs one task the worker
 * empties its queue, whose depth is the unassigned tasks / 4 (at most 16), so each step of
 * rank 0 takes 1 + depth of the U tasks left: U = 100, 83, 66, 49, 36, 26, 19, 14, 10, 7, 4,
 * 1, 0: rank 0 runs 12 tasks. A fixed queue of 2 would let it run 100 / 3 = 33; so would a
 * worker that waits for each result to be received before its next task (measured: 48). The
 * bound 20 leaves room for a loaded machine. */
START_TEST(a_slow_rank_0_does_not_starve_the_workers)
{
    run r = {NULL, -1, -1, 0, 100, 0, 0, 0, "", 1, 0};
    int rc = ps_dist_run(g_dist, 100, NULL, 0, work, sink, &r);
    if (is_root()) {
        ck_assert_msg(rc == 0, "%s", ps_error_message());
        ck_assert_msg(!r.bad, "%s", r.why);
        ck_assert_int_eq(r.sunk, 100);
        if (ps_dist_size(g_dist) == 2)
            ck_assert_msg(r.ran_here <= 20, "rank 0 ran %lld of 100 tasks with %d ranks",
                          (long long)r.ran_here, ps_dist_size(g_dist));
    }
}
END_TEST

START_TEST(availability_is_reported)
{
    if (!ps_dist_available()) {
        ps_dist *d = NULL;
        ck_assert_int_eq(ps_dist_init(NULL, NULL, &d), PS_ERR_UNSUPPORTED);
        ck_assert_msg(strstr(ps_error_message(), "MPI is not available"), "%s",
                      ps_error_message());
        ck_assert_ptr_null(d);
    } else {
        ck_assert_int_ge(ps_dist_size(g_dist), 1);
        ck_assert_int_lt(ps_dist_rank(g_dist), ps_dist_size(g_dist));
    }
}
END_TEST

static Suite *make_suite(void)
{
    Suite *s = suite_create("core_dist");
    TCase *tc = tcase_create("dist");
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, all_tasks_in_order);
    tcase_add_test(tc, skipped_tasks_neither_run_nor_sunk);
    tcase_add_test(tc, work_failure_stops_the_run_with_its_message);
    tcase_add_test(tc, sink_failure_stops_the_run);
    tcase_add_test(tc, a_slow_rank_0_does_not_starve_the_workers);
    tcase_add_test(tc, availability_is_reported);
    suite_add_tcase(s, tc);
    return s;
}

int main(int argc, char **argv)
{
    if (argc == 3 && !strcmp(argv[1], "--die-rank"))
        g_die_rank = atoi(argv[2]);
    if (ps_dist_available() && ps_dist_init(&argc, &argv, &g_dist)) {
        fprintf(stderr, "%s\n", ps_error_message());
        return 1;
    }
    if (g_die_rank >= 0) { /* the dead-rank scenario: one run, then report */
        run r = {NULL, -1, -1, 0, 1000, 0, 0, 0, "", 0, 0};
        int rc = ps_dist_run(g_dist, 1000, NULL, 0, work, sink, &r);
        if (is_root())
            fprintf(stderr, "test_dist: run returned %d after %lld tasks: %s\n", rc,
                    (long long)r.sunk, rc ? ps_error_message() : "");
        ps_dist_finalize(g_dist);
        return rc ? 1 : 0;
    }
    SRunner *sr = srunner_create(make_suite());
    srunner_set_fork_status(sr, CK_NOFORK);
    srunner_run_all(sr, is_root() ? CK_NORMAL : CK_SILENT);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    ps_dist_finalize(g_dist);
    return failed ? 1 : 0;
}
