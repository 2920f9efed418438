/* dist.c - a rank-0 work queue over MPI (see ps_core.h, "distributed work queue").
 *
 * Protocol (MPI_COMM_WORLD, MPI_BYTE messages):
 *   TASK   rank 0 -> worker: one int64, the task index, or -1 = stop (drop any queued tasks).
 *   RESULT worker -> rank 0: a 16-byte header (int64 index, int32 status, int32 0) and the
 *          result bytes (status 0), the error message (status < 0), or nothing (status 1: a
 *          queued task handed back unrun by a worker that failed).
 * Rank 0 keeps tasks outstanding per worker, so a worker starts its next task while its last
 * result is on the way and rank 0 is busy with a task of its own (it answers only between its
 * tasks): as many as a guided schedule gives, the unassigned tasks / (2 x ranks), between
 * PS_DIST_DEPTH_MIN and PS_DIST_DEPTH_MAX. A deep queue early keeps a worker fed through a
 * long task on rank 0 (with a fixed depth of 2, a worker of `metrics` sat idle a third of
 * the time behind rank 0's large CT cases); a shallow one at the end keeps the last tasks
 * spread over the ranks. Every RESULT is answered with the next indices. A worker does not
 * wait for its sent results before its next task (see outbox). Rank 0 runs a task itself
 * only when no message is waiting, and before it does it polls until no result has arrived
 * for 50 us (see drain); between its tasks it answers every message. Results are held
 * until their predecessors are sunk; no index is handed out beyond the lowest unsunk one +
 * window, which bounds what is held. After a fatal error (a worker's work function, rank 0's
 * own task or the sink) rank 0 sends stop to every worker and receives what is still under
 * way before it returns, so no message is left unmatched at MPI_Finalize.
 * Dynamic scheduling: which rank runs a task depends on timing, but the sink sees the same
 * bytes in the same order for any number of ranks, because each task's bytes depend only on
 * its index.
 * Errors of MPI itself (a rank that died, when the runtime reports it instead of ending the
 * job) come back as PS_ERR_IO naming the rank: MPI_ERRORS_RETURN is set on the communicator.
 */
#include "ps_core.h"
#include "ps_config.h"

#include <limits.h>
#include <stdlib.h>
#include <string.h>

int ps_dist_launched_size(void)
{
    static const char *vars[] = {"OMPI_COMM_WORLD_SIZE", "PMI_SIZE", "PMIX_SIZE",
                                 "MPI_LOCALNRANKS", "SLURM_STEP_NUM_TASKS"};
    for (size_t i = 0; i < sizeof vars / sizeof *vars; i++) {
        const char *v = getenv(vars[i]);
        if (v && *v) {
            long n = strtol(v, NULL, 10);
            if (n > 0)
                return n > INT_MAX ? INT_MAX : (int)n;
        }
    }
    return 0;
}

/* Tasks run here, in order (no MPI, or one rank). */
static int run_local(int64_t n, const unsigned char *skip, ps_dist_work_fn work,
                     ps_dist_sink_fn sink, void *user)
{
    for (int64_t i = 0; i < n; i++) {
        if (skip && skip[i])
            continue;
        unsigned char *b = NULL;
        size_t len = 0;
        int rc = work(i, user, &b, &len);
        if (!rc)
            rc = sink(i, b, len, user);
        free(b);
        if (rc)
            return rc;
    }
    return PS_OK;
}

#if PS_HAVE_MPI
#include <mpi.h>

#define PS_DIST_DEPTH_MIN 2
#define PS_DIST_DEPTH_MAX 16
#define TAG_TASK 1
#define TAG_RESULT 2
#define RESULT_HDR 16

struct ps_dist {
    int rank, size;
};

int ps_dist_available(void) { return 1; }

static int mpi_fail(int err, const char *what, int peer)
{
    char s[MPI_MAX_ERROR_STRING];
    int n = 0;
    if (MPI_Error_string(err, s, &n) != MPI_SUCCESS)
        snprintf(s, sizeof s, "MPI error %d", err);
    return ps_error(PS_ERR_IO, "MPI: %s with rank %d failed (%s); the job stops (a rank that "
                    "died ends the run; finished cases are kept where a journal is written)",
                    what, peer, s);
}

int ps_dist_init(int *argc, char ***argv, ps_dist **out)
{
    *out = NULL;
    int inited = 0, provided = 0;
    MPI_Initialized(&inited);
    if (!inited && MPI_Init_thread(argc, argv, MPI_THREAD_FUNNELED, &provided) != MPI_SUCCESS)
        return ps_error(PS_ERR_IO, "MPI: MPI_Init_thread failed");
    MPI_Comm_set_errhandler(MPI_COMM_WORLD, MPI_ERRORS_RETURN);
    ps_dist *d = ps_calloc(1, sizeof *d);
    if (!d)
        return PS_ERR_NOMEM;
    MPI_Comm_rank(MPI_COMM_WORLD, &d->rank);
    MPI_Comm_size(MPI_COMM_WORLD, &d->size);
    *out = d;
    return PS_OK;
}

int ps_dist_rank(const ps_dist *d) { return d ? d->rank : 0; }
int ps_dist_size(const ps_dist *d) { return d ? d->size : 1; }

void ps_dist_finalize(ps_dist *d)
{
    if (!d)
        return;
    free(d);
    int fin = 0;
    MPI_Finalized(&fin);
    if (!fin)
        MPI_Finalize();
}

void ps_dist_abort(ps_dist *d, int status)
{
    if (d)
        MPI_Abort(MPI_COMM_WORLD, status ? status : 1);
}

/* ---- worker ------------------------------------------------------------------------------- */

/* The results a worker has sent and MPI may still need: a worker never waits for one of them
 * before its next task unless the outbox is full. Rank 0 answers only between its own tasks,
 * and a sent message (even a small, eager one) may not complete before it does; waiting for
 * each send before the next task would make a worker run one task per task of rank 0. */
#define OUTBOX (PS_DIST_DEPTH_MAX + 1)
typedef struct outbox {
    MPI_Request req[OUTBOX];
    unsigned char *buf[OUTBOX];
    int n;
} outbox;

/* Drop the sends that have completed; with `all`, wait for every one. */
static int outbox_reap(outbox *o, int all)
{
    for (int i = 0; i < o->n;) {
        int done = 0, e = all ? MPI_Wait(&o->req[i], MPI_STATUS_IGNORE)
                              : MPI_Test(&o->req[i], &done, MPI_STATUS_IGNORE);
        if (e != MPI_SUCCESS)
            return mpi_fail(e, "sending a result", 0);
        if (all || done) {
            free(o->buf[i]);
            o->n--;
            o->req[i] = o->req[o->n];
            o->buf[i] = o->buf[o->n];
        } else {
            i++;
        }
    }
    return PS_OK;
}

static int send_result(int64_t index, int status, const void *payload, size_t len, outbox *o)
{
    int rc = outbox_reap(o, 0);
    if (!rc && o->n == OUTBOX) { /* full: the oldest must be out before another goes */
        int e = MPI_Wait(&o->req[0], MPI_STATUS_IGNORE);
        if (e != MPI_SUCCESS)
            return mpi_fail(e, "sending a result", 0);
        rc = outbox_reap(o, 0);
    }
    if (rc)
        return rc;
    if (len > (size_t)INT_MAX - RESULT_HDR) {
        static const char msg[] = "the result is larger than one MPI message (2 GiB)";
        status = PS_ERR_RANGE;
        payload = msg;
        len = sizeof msg - 1;
    }
    unsigned char *b = malloc(RESULT_HDR + len);
    if (!b)
        return ps_error(PS_ERR_NOMEM, "MPI: out of memory for a result of %zu bytes", len);
    int32_t st = status, zero = 0;
    memcpy(b, &index, 8);
    memcpy(b + 8, &st, 4);
    memcpy(b + 12, &zero, 4);
    if (len)
        memcpy(b + RESULT_HDR, payload, len);
    int e = MPI_Isend(b, (int)(RESULT_HDR + len), MPI_BYTE, 0, TAG_RESULT, MPI_COMM_WORLD,
                      &o->req[o->n]);
    if (e != MPI_SUCCESS) {
        free(b);
        return mpi_fail(e, "sending a result", 0);
    }
    o->buf[o->n++] = b;
    return PS_OK;
}

static int run_worker(ps_dist_work_fn work, void *user)
{
    int64_t queue[PS_DIST_DEPTH_MAX + 1];
    int nq = 0, stop = 0, failed = 0, rc = PS_OK;
    outbox ob; /* after a failure of MPI itself the job ends: sends still out are left to it */
    ob.n = 0;
    while (!stop) {
        /* take every index that has arrived; wait for one when the queue is empty */
        for (;;) {
            int flag = 0, e;
            if (nq == 0)
                flag = 1;
            else if ((e = MPI_Iprobe(0, TAG_TASK, MPI_COMM_WORLD, &flag, MPI_STATUS_IGNORE)))
                return mpi_fail(e, "waiting for a task", 0);
            if (!flag)
                break;
            int64_t idx;
            e = MPI_Recv(&idx, 8, MPI_BYTE, 0, TAG_TASK, MPI_COMM_WORLD, MPI_STATUS_IGNORE);
            if (e != MPI_SUCCESS)
                return mpi_fail(e, "receiving a task", 0);
            if (idx < 0) {
                stop = 1;
                break;
            }
            if (nq < PS_DIST_DEPTH_MAX + 1)
                queue[nq++] = idx;
        }
        if (stop)
            break;
        int64_t idx = queue[0];
        memmove(queue, queue + 1, (size_t)(nq - 1) * sizeof *queue);
        nq--;
        if (failed) { /* after a fatal error: hand queued tasks back, then wait for the stop */
            if ((rc = send_result(idx, 1, NULL, 0, &ob)))
                return rc;
            continue;
        }
        unsigned char *b = NULL;
        size_t len = 0;
        int wrc = work(idx, user, &b, &len);
        if (wrc) {
            const char *m = ps_error_message();
            rc = send_result(idx, wrc, m, strlen(m), &ob);
            failed = 1;
        } else {
            rc = send_result(idx, 0, b, len, &ob);
        }
        free(b);
        if (rc)
            return rc;
    }
    int wrc = outbox_reap(&ob, 1);
    if (!rc)
        rc = wrc;
    return failed || rc ? PS_ERR_INTERNAL : PS_OK;
}

/* ---- rank 0 ----------------------------------------------------------------------------- */

typedef struct coord {
    int64_t n, window, next, sunk_upto; /* next index to hand out; all below sunk_upto sunk */
    int64_t unassigned;                 /* indices >= next that are not skipped           */
    const unsigned char *skip;
    unsigned char **res;                /* held results, by index */
    size_t *len;
    unsigned char *have;
    int *outstanding;                   /* per rank: tasks handed out, result not received */
    unsigned char *stopped;             /* per rank: stop sent */
    int size, err;                      /* err: first fatal status (0 = none)             */
    ps_dist_sink_fn sink;
    void *user;
} coord;

static void skip_forward(coord *c)
{
    while (c->next < c->n && c->skip && c->skip[c->next])
        c->next++;
}

/* How many tasks worker queues are topped up to now (guided self-scheduling). */
static int depth(const coord *c)
{
    int64_t d = c->unassigned / (2 * (int64_t)c->size);
    return d < PS_DIST_DEPTH_MIN   ? PS_DIST_DEPTH_MIN
           : d > PS_DIST_DEPTH_MAX ? PS_DIST_DEPTH_MAX
                                   : (int)d;
}

/* An index to run, or -1 when none may be handed out now. */
static int64_t take(coord *c)
{
    skip_forward(c);
    if (c->err || c->next >= c->n || c->next >= c->sunk_upto + c->window)
        return -1;
    c->unassigned--;
    return c->next++;
}

static int send_index(int w, int64_t idx)
{
    int e = MPI_Send(&idx, 8, MPI_BYTE, w, TAG_TASK, MPI_COMM_WORLD);
    return e == MPI_SUCCESS ? PS_OK : mpi_fail(e, "sending a task", w);
}

/* Top up worker w's queue; stop it when nothing is left for it (or after an error). */
static int refill(coord *c, int w)
{
    if (c->stopped[w])
        return PS_OK;
    while (c->outstanding[w] < depth(c)) {
        int64_t idx = take(c);
        if (idx < 0)
            break;
        int rc = send_index(w, idx);
        if (rc)
            return rc;
        c->outstanding[w]++;
    }
    skip_forward(c);
    if (c->outstanding[w] == 0 && (c->err || c->next >= c->n)) {
        c->stopped[w] = 1;
        return send_index(w, -1);
    }
    return PS_OK;
}

/* Pass held results to the sink in order. */
static void flush(coord *c)
{
    while (!c->err && c->sunk_upto < c->n) {
        int64_t i = c->sunk_upto;
        if (c->skip && c->skip[i]) {
            c->sunk_upto++;
            continue;
        }
        if (!c->have[i])
            break;
        int rc = c->sink(i, c->res[i], c->len[i], c->user);
        free(c->res[i]);
        c->res[i] = NULL;
        c->have[i] = 0;
        c->sunk_upto++;
        if (rc)
            c->err = rc;
    }
}

static int store(coord *c, int64_t idx, unsigned char *bytes, size_t len)
{
    if (idx < 0 || idx >= c->n || c->have[idx] || idx < c->sunk_upto) {
        free(bytes);
        return ps_error(PS_ERR_INTERNAL, "MPI: unexpected result for task %lld",
                        (long long)idx);
    }
    c->res[idx] = bytes;
    c->len[idx] = len;
    c->have[idx] = 1;
    return PS_OK;
}

/* Receive one RESULT (blocking when `wait`); *got = 0 when none was waiting. */
static int receive(coord *c, int wait, int *got)
{
    MPI_Status st;
    int flag = 1, e;
    *got = 0;
    if (wait)
        e = MPI_Probe(MPI_ANY_SOURCE, TAG_RESULT, MPI_COMM_WORLD, &st);
    else
        e = MPI_Iprobe(MPI_ANY_SOURCE, TAG_RESULT, MPI_COMM_WORLD, &flag, &st);
    if (e != MPI_SUCCESS)
        return mpi_fail(e, "waiting for results", st.MPI_SOURCE);
    if (!flag)
        return PS_OK;
    int count = 0, w = st.MPI_SOURCE;
    MPI_Get_count(&st, MPI_BYTE, &count);
    unsigned char *b = malloc(count > 0 ? (size_t)count : 1);
    if (!b)
        return ps_error(PS_ERR_NOMEM, "MPI: out of memory for a result of %d bytes", count);
    e = MPI_Recv(b, count, MPI_BYTE, w, TAG_RESULT, MPI_COMM_WORLD, MPI_STATUS_IGNORE);
    if (e != MPI_SUCCESS) {
        free(b);
        return mpi_fail(e, "receiving a result", w);
    }
    *got = 1;
    c->outstanding[w]--;
    if (count < RESULT_HDR) {
        free(b);
        return ps_error(PS_ERR_INTERNAL, "MPI: short result message from rank %d", w);
    }
    int64_t idx;
    int32_t status;
    memcpy(&idx, b, 8);
    memcpy(&status, b + 8, 4);
    size_t len = (size_t)count - RESULT_HDR;
    if (status > 0) { /* a task a failed worker handed back */
        free(b);
        return PS_OK;
    }
    if (status) {
        if (!c->err)
            c->err = ps_error(status, "rank %d, task %lld: %.*s", w, (long long)idx, (int)len,
                              (const char *)b + RESULT_HDR);
        free(b);
        return PS_OK;
    }
    if (c->err) { /* draining after an error: the result is not needed */
        free(b);
        return PS_OK;
    }
    memmove(b, b + RESULT_HDR, len);
    return store(c, idx, b, len);
}

static int busy_workers(const coord *c)
{
    for (int w = 1; w < c->size; w++)
        if (c->outstanding[w] > 0)
            return 1;
    return 0;
}

/* Take the results that are waiting, sink what is in order and top up the workers. A message
 * still on its way moves only while both ends call MPI (a worker's results can queue behind
 * one another until rank 0 polls), so while workers have tasks out, keep polling until none
 * has arrived for PS_DIST_QUIET_S seconds: a worker whose queue ran dry while rank 0 was busy
 * gets its next tasks before rank 0 starts one of its own. */
#define PS_DIST_QUIET_S 50e-6
static int drain(coord *c)
{
    double last = MPI_Wtime();
    for (;;) {
        int got = 0, rc = receive(c, 0, &got);
        if (rc)
            return rc;
        int quiet = !got && (!busy_workers(c) || MPI_Wtime() - last >= PS_DIST_QUIET_S);
        if (got || quiet) { /* sink what is in order, top the workers up */
            flush(c);
            for (int w = 1; w < c->size && !rc; w++)
                rc = refill(c, w);
            if (rc || quiet)
                return rc;
            last = MPI_Wtime();
        }
    }
}

static int run_coordinator(coord *c, ps_dist_work_fn work)
{
    int rc = PS_OK;
    for (int w = 1; w < c->size && !rc; w++)
        rc = refill(c, w);
    while (!rc) {
        /* answer every result that is waiting, and those still on the way */
        if ((rc = drain(c)))
            break;
        skip_forward(c);
        if (c->sunk_upto >= c->n && !busy_workers(c))
            break; /* everything sunk and every worker stopped */
        if (c->err && !busy_workers(c))
            break;
        int64_t idx = take(c);
        if (idx >= 0) { /* rank 0 works too */
            unsigned char *b = NULL;
            size_t len = 0;
            int wrc = work(idx, c->user, &b, &len);
            if (wrc) {
                if (!c->err)
                    c->err = ps_error_context(wrc, "rank 0, task %lld", (long long)idx);
                free(b);
            } else {
                rc = store(c, idx, b, len);
            }
            continue;
        }
        /* nothing to run here: wait for a worker */
        int got = 0;
        rc = receive(c, 1, &got);
    }
    if (rc) /* MPI itself failed: no orderly stop is possible */
        return rc;
    for (int w = 1; w < c->size; w++)
        if (!c->stopped[w] && (rc = send_index(w, -1)))
            return rc;
    if (c->err)
        return c->err;
    return PS_OK;
}

int ps_dist_run(ps_dist *d, int64_t n, const unsigned char *skip, int64_t window,
                ps_dist_work_fn work, ps_dist_sink_fn sink, void *user)
{
    if (!d || d->size == 1)
        return d && d->rank != 0 ? PS_OK : run_local(n, skip, work, sink, user);
    if (d->rank != 0)
        return run_worker(work, user);
    coord c;
    memset(&c, 0, sizeof c);
    c.n = n;
    c.window = window > 0 ? window : 64 * (int64_t)d->size;
    c.skip = skip;
    c.unassigned = n;
    for (int64_t i = 0; skip && i < n; i++)
        c.unassigned -= skip[i] != 0;
    c.size = d->size;
    c.sink = sink;
    c.user = user;
    size_t nn = n > 0 ? (size_t)n : 1;
    c.res = ps_calloc(nn, sizeof *c.res);
    c.len = ps_calloc(nn, sizeof *c.len);
    c.have = ps_calloc(nn, 1);
    c.outstanding = ps_calloc((size_t)d->size, sizeof *c.outstanding);
    c.stopped = ps_calloc((size_t)d->size, 1);
    int rc;
    if (!c.res || !c.len || !c.have || !c.outstanding || !c.stopped) {
        rc = PS_ERR_NOMEM;
        /* the workers wait for tasks: stop them */
        for (int w = 1; w < d->size; w++)
            send_index(w, -1);
    } else {
        rc = run_coordinator(&c, work);
    }
    if (c.res)
        for (int64_t i = 0; i < n; i++)
            free(c.res[i]);
    free(c.res);
    free(c.len);
    free(c.have);
    free(c.outstanding);
    free(c.stopped);
    return rc;
}

int ps_dist_sync(ps_dist *d, int status)
{
    if (!d || d->size == 1)
        return status;
    int all = status;
    int e = MPI_Allreduce(&status, &all, 1, MPI_INT, MPI_MIN, MPI_COMM_WORLD);
    if (e != MPI_SUCCESS)
        return status ? status : mpi_fail(e, "agreeing on a step", 0);
    if (status)
        return status;
    return all ? ps_error(all, "MPI: another rank failed (its message is on its standard "
                          "error)") : PS_OK;
}

#else /* no MPI */

struct ps_dist {
    int unused;
};

int ps_dist_available(void) { return 0; }

int ps_dist_init(int *argc, char ***argv, ps_dist **out)
{
    (void)argc;
    (void)argv;
    *out = NULL;
    return ps_error(PS_ERR_UNSUPPORTED,
                    "MPI is not available: this panseval was built without it (install OpenMPI "
                    "with scripts/deps.sh --mpi, then meson setup --reconfigure -Dmpi=enabled)");
}

int ps_dist_rank(const ps_dist *d) { (void)d; return 0; }
int ps_dist_size(const ps_dist *d) { (void)d; return 1; }
void ps_dist_finalize(ps_dist *d) { (void)d; }
void ps_dist_abort(ps_dist *d, int status) { (void)d; (void)status; }
int ps_dist_sync(ps_dist *d, int status) { (void)d; return status; }

int ps_dist_run(ps_dist *d, int64_t n, const unsigned char *skip, int64_t window,
                ps_dist_work_fn work, ps_dist_sink_fn sink, void *user)
{
    (void)d;
    (void)window;
    return run_local(n, skip, work, sink, user);
}
#endif
