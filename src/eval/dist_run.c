/* dist_run.c - a plan run with a journal (resume), a shard, or MPI ranks (ps_eval_dist.h).
 *
 * Outline of ps_eval_run_dist:
 *   1. The journal's header is made from the plan, settings, manifest, models, format and
 *      shard. With resume, an existing journal is read: a different identity is refused,
 *      its whole records mark their jobs as done, a torn tail is cut off.
 *   2. skip[j] = already journaled, or not in this shard.
 *   3. The jobs not skipped run through ps_eval_run (one process, threads across or inside
 *      cases), or over the ranks of a ps_dist queue: each task is one case (its run of jobs,
 *      so its reference is read once) run by ps_eval_run on a view of the plan, the rows of
 *      each job encoded as bytes.
 *   4. The sink receives every job in plan order: a job that ran is appended to the journal
 *      first, then written to the table; a journaled job is decoded and written; a job of
 *      another shard is left out. The table therefore has the bytes of an uninterrupted run.
 *   5. A complete run without a shard removes the journal; otherwise it stays (to resume, or
 *      to merge).
 */
#include "journal_internal.h"

#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <errno.h>
#include <sys/stat.h>
#include <unistd.h>

int ps_eval_shard_parse(const char *s, int *index, int *count)
{
    char *end;
    long i = strtol(s, &end, 10), n;
    if (end == s || *end != '/')
        goto bad;
    const char *t = end + 1;
    n = strtol(t, &end, 10);
    if (end == t || *end || n < 1 || n > 100000 || i < 1 || i > n)
        goto bad;
    *index = (int)i;
    *count = (int)n;
    return PS_OK;
bad:
    return ps_error(PS_ERR_ARG, "--shard '%s': expected I/N with 1 <= I <= N (e.g. 3/8, the "
                    "third of eight shards; SLURM: $((SLURM_ARRAY_TASK_ID))/N)", s);
}

static int64_t file_bytes(const char *path)
{
    struct stat st;
    return path && !stat(path, &st) ? (int64_t)st.st_size : 0;
}

typedef struct case_cost {
    int64_t bytes, index;
} case_cost;

static int cost_cmp(const void *a, const void *b)
{
    const case_cost *x = a, *y = b;
    if (x->bytes != y->bytes)
        return x->bytes > y->bytes ? -1 : 1;
    return x->index < y->index ? -1 : x->index > y->index;
}

int ps_eval_shard_assign_bytes(const int64_t *bytes, int64_t n, int count, int *shard_of)
{
    case_cost *cc = ps_calloc((size_t)(n ? n : 1), sizeof *cc);
    int64_t *load = ps_calloc((size_t)count, sizeof *load);
    if (!cc || !load) {
        free(cc);
        free(load);
        return PS_ERR_NOMEM;
    }
    for (int64_t c = 0; c < n; c++) {
        cc[c].index = c;
        cc[c].bytes = bytes[c];
    }
    qsort(cc, (size_t)n, sizeof *cc, cost_cmp);
    for (int64_t k = 0; k < n; k++) { /* greedy: to the least loaded shard */
        int best = 0;
        for (int s = 1; s < count; s++)
            if (load[s] < load[best])
                best = s;
        load[best] += cc[k].bytes + 1; /* +1: empty files still spread */
        shard_of[cc[k].index] = best + 1;
    }
    free(cc);
    free(load);
    return PS_OK;
}

int ps_eval_shard_assign(const ps_eval_plan *plan, int count, int *shard_of_case)
{
    int64_t nc = plan->ncases;
    int64_t *bytes = ps_calloc((size_t)(nc ? nc : 1), sizeof *bytes);
    if (!bytes)
        return PS_ERR_NOMEM;
    /* a case's cost: its reference (once) and its predictions, in bytes on disk */
    const char *last_ref = NULL;
    int64_t last_case = -1;
    for (int64_t j = 0; j < plan->njobs; j++) {
        const ps_eval_job *jb = &plan->jobs[j];
        int64_t c = jb->case_index;
        if (c < 0 || c >= nc)
            continue;
        if (c != last_case || !last_ref || !jb->ref_path || strcmp(last_ref, jb->ref_path))
            bytes[c] += file_bytes(jb->ref_path);
        bytes[c] += file_bytes(jb->pred_path);
        last_case = c;
        last_ref = jb->ref_path;
    }
    int r = ps_eval_shard_assign_bytes(bytes, nc, count, shard_of_case);
    free(bytes);
    return r;
}

/* ---- the sink ------------------------------------------------------------------------------- */

typedef struct run_ctx {
    const ps_eval_plan *plan;
    ps_eval_writer *w;               /* rank 0 only */
    ps_jr_writer *jw;                /* NULL without a journal */
    ps_jr_contents *journal;         /* resume: what was read */
    int64_t *rec_of_job;             /* journal record of a job, or -1 */
    const unsigned char *in_shard;   /* NULL = all */
    ps_eval_summary extra;           /* counts of replayed jobs */
    int64_t next;                    /* MPI: next job the table needs */
    ps_eval_summary mpi;             /* MPI: counts (rank 0) */
    const ps_eval_settings *s;
    const ps_context *ctx;
    int64_t *case_left;              /* MPI: jobs of a case not yet emitted */
    const ps_eval_sink *tee;         /* rank 0: ps_eval_run_opts.tee */
    const int64_t *group;            /* MPI: first job of each task (case), then njobs */
    const unsigned char *skip;       /* MPI, rank 0: jobs not to run (journaled, shard) */
} run_ctx;

/* The rows of a job into the table, then into the tee. */
static int emit_rows(run_ctx *rc, int64_t job, const ps_eval_row *rows, int nrows)
{
    int r = ps_eval_writer_rows(rc->w, rows, nrows);
    if (!r && rc->tee)
        r = rc->tee->rows(rc->tee->user, job, rows, nrows);
    return r;
}

static void count_rows(ps_eval_summary *sum, const ps_eval_row *rows, int nrows)
{
    int failed = 0, missing = 0, ref_grid = 0;
    for (int i = 0; i < nrows; i++) {
        failed |= rows[i].status == PS_EVAL_ERROR;
        missing |= rows[i].status == PS_EVAL_MISSING;
        ref_grid |= rows[i].geometry && !strcmp(rows[i].geometry, "ref_grid");
    }
    sum->failed += failed;
    sum->missing += missing;
    sum->ref_grid += ref_grid;
    sum->rows += nrows;
}

static int sink_rows(void *user, int64_t job, const ps_eval_row *rows, int nrows)
{
    run_ctx *rc = user;
    int r = PS_OK;
    if (rc->jw) { /* journal first: a crash after this line still has the job */
        unsigned char *b;
        size_t n;
        if ((r = ps_jr_encode(rows, nrows, &b, &n)))
            return r;
        r = ps_jr_writer_append(rc->jw, job, b, n);
        free(b);
        if (r)
            return r;
    }
    return emit_rows(rc, job, rows, nrows);
}

/* A skipped job at its place: replay it from the journal, or nothing (another shard). */
static int sink_skipped(void *user, int64_t job)
{
    run_ctx *rc = user;
    if (!rc->rec_of_job || rc->rec_of_job[job] < 0)
        return PS_OK;
    const ps_jr_record *rec = &rc->journal->rec[rc->rec_of_job[job]];
    ps_jr_rows rows;
    int r = ps_jr_decode(rec->payload, rec->len, &rc->plan->jobs[job], &rows);
    if (r)
        return r;
    r = emit_rows(rc, job, rows.rows, rows.nrows);
    count_rows(&rc->extra, rows.rows, rows.nrows);
    ps_jr_rows_free(&rows);
    return r;
}

/* ---- MPI: one case per task ----------------------------------------------------------------
 * A task's bytes: for each job of the case, in order, its encoded rows preceded by their
 * length (8 bytes, host order: every rank of a job runs the same binary). */

typedef struct capture {
    unsigned char *bytes;
    size_t len;
} capture;

static int capture_rows(void *user, int64_t job, const ps_eval_row *rows, int nrows)
{
    capture *c = user;
    (void)job;
    unsigned char *b;
    size_t n;
    int r = ps_jr_encode(rows, nrows, &b, &n);
    if (r)
        return r;
    uint64_t n64 = n;
    unsigned char *grown = ps_realloc_array(c->bytes, c->len + sizeof n64 + n, 1);
    if (!grown) {
        free(b);
        return PS_ERR_NOMEM;
    }
    c->bytes = grown;
    memcpy(c->bytes + c->len, &n64, sizeof n64);
    memcpy(c->bytes + c->len + sizeof n64, b, n);
    c->len += sizeof n64 + n;
    free(b);
    return PS_OK;
}

static int mpi_work(int64_t index, void *user, unsigned char **bytes, size_t *len)
{
    run_ctx *rc = user;
    int64_t j0 = rc->group[index], nj = rc->group[index + 1] - j0;
    ps_eval_plan one = *rc->plan; /* a view of this case's jobs alone */
    ps_eval_job *jobs = ps_malloc_array((size_t)nj, sizeof *jobs);
    if (!jobs)
        return PS_ERR_NOMEM;
    for (int64_t k = 0; k < nj; k++) {
        jobs[k] = rc->plan->jobs[j0 + k];
        jobs[k].case_index = 0;
    }
    one.njobs = nj;
    one.jobs = jobs;
    one.ncases = 1;
    capture c = {NULL, 0};
    ps_eval_sink sink = {capture_rows, NULL, &c};
    ps_eval_summary sum;
    ps_context quiet = *rc->ctx;
    quiet.progress = 0;
    int r = ps_eval_run(&one, rc->s, &quiet, NULL, &sink, &sum);
    if (!r && sum.jobs_emitted != nj)
        r = ps_error(PS_ERR_INTERNAL, "case %s gave rows for %lld of its %lld jobs",
                     jobs[0].case_id, (long long)sum.jobs_emitted, (long long)nj);
    free(jobs);
    if (r) {
        free(c.bytes);
        return r;
    }
    *bytes = c.bytes;
    *len = c.len;
    return PS_OK;
}

static int emit_skipped_upto(run_ctx *rc, int64_t upto)
{
    for (; rc->next < upto; rc->next++) {
        int r = sink_skipped(rc, rc->next);
        if (r)
            return r;
        rc->mpi.jobs_emitted++;
        int64_t ci = rc->plan->jobs[rc->next].case_index;
        if (ci >= 0 && ci < rc->plan->ncases && --rc->case_left[ci] == 0)
            rc->mpi.cases_emitted++;
    }
    return PS_OK;
}

static int mpi_sink(int64_t index, const unsigned char *bytes, size_t len, void *user)
{
    run_ctx *rc = user;
    int64_t j0 = rc->group[index], j1 = rc->group[index + 1];
    int r = emit_skipped_upto(rc, j0);
    size_t pos = 0;
    for (int64_t j = j0; !r && j < j1; j++) {
        uint64_t n64;
        if (len - pos < sizeof n64 || (memcpy(&n64, bytes + pos, sizeof n64),
                                       n64 > len - pos - sizeof n64))
            return ps_error(PS_ERR_INTERNAL, "case %s: the rows of job %lld are cut short",
                            rc->plan->jobs[j].case_id, (long long)j);
        const unsigned char *b = bytes + pos + sizeof n64;
        pos += sizeof n64 + (size_t)n64;
        if (rc->skip[j]) { /* journaled before: the journal's rows, as in one process */
            r = emit_skipped_upto(rc, j + 1);
            continue;
        }
        ps_jr_rows rows;
        if ((r = ps_jr_decode(b, (size_t)n64, &rc->plan->jobs[j], &rows)))
            return r;
        r = sink_rows(rc, j, rows.rows, rows.nrows);
        count_rows(&rc->mpi, rows.rows, rows.nrows);
        ps_jr_rows_free(&rows);
        rc->next = j + 1;
        rc->mpi.jobs_emitted++;
        int64_t ci = rc->plan->jobs[j].case_index;
        if (ci >= 0 && ci < rc->plan->ncases && --rc->case_left[ci] == 0)
            rc->mpi.cases_emitted++;
    }
    return r;
}

int ps_eval_run_dist(const ps_eval_plan *plan, const ps_eval_settings *s,
                     const ps_context *ctx, const ps_eval_run_opts *o, FILE *out,
                     ps_table_format fmt, ps_eval_summary *sum, ps_eval_run_info *info)
{
    memset(sum, 0, sizeof *sum);
    memset(info, 0, sizeof *info);
    int rank = ps_dist_rank(o->dist), ranks = ps_dist_size(o->dist);
    int sharded = o->shard_count > 0;
    run_ctx rc;
    memset(&rc, 0, sizeof rc);
    rc.plan = plan;
    rc.s = s;
    rc.ctx = ctx;
    rc.tee = rank == 0 ? o->tee : NULL;
    unsigned char *skip = ps_calloc((size_t)(plan->njobs ? plan->njobs : 1), 1);
    int *shard_of_case = NULL;
    ps_jr_header h;
    memset(&h, 0, sizeof h);
    int r = skip ? PS_OK : PS_ERR_NOMEM;

    if (!r && sharded) {
        shard_of_case = ps_calloc((size_t)(plan->ncases ? plan->ncases : 1), sizeof(int));
        if (!shard_of_case || (r = ps_eval_shard_assign(plan, o->shard_count, shard_of_case)))
            r = r ? r : PS_ERR_NOMEM;
        for (int64_t j = 0; !r && j < plan->njobs; j++) {
            int64_t ci = plan->jobs[j].case_index;
            skip[j] = ci >= 0 && ci < plan->ncases && shard_of_case[ci] != o->shard_index;
        }
    }
    for (int64_t j = 0; !r && j < plan->njobs; j++)
        info->shard_jobs += !skip[j];

    /* 1. the journal (rank 0 only) */
    if (!r && rank == 0 && o->journal)
        r = ps_jr_header_make(plan, s, o->manifest, o->models, o->nmodels, fmt, o->shard_index,
                              o->shard_count, &h);
    struct stat st;
    if (!r && rank == 0 && o->journal && o->resume && !stat(o->journal, &st)) {
        if (!(r = ps_jr_read(o->journal, &rc.journal))) {
            char why[8192];
            const char *d = ps_jr_header_differs(&rc.journal->h, &h, why, sizeof why);
            if (!d && (rc.journal->h.shard_index != h.shard_index ||
                       rc.journal->h.shard_count != h.shard_count)) {
                snprintf(why, sizeof why, "it belongs to shard %d/%d, this run is %d/%d",
                         rc.journal->h.shard_index, rc.journal->h.shard_count, h.shard_index,
                         h.shard_count);
                d = why;
            }
            if (d)
                r = ps_error(PS_ERR_ARG, "%s: cannot resume from this journal: %s. Remove it "
                             "to start again, or run with the original manifest and options",
                             o->journal, d);
        }
        if (!r && !(rc.rec_of_job = ps_malloc_array((size_t)(plan->njobs ? plan->njobs : 1),
                                                     sizeof *rc.rec_of_job)))
            r = PS_ERR_NOMEM;
        for (int64_t j = 0; !r && j < plan->njobs; j++)
            rc.rec_of_job[j] = -1;
        for (int64_t k = 0; !r && k < rc.journal->nrec; k++) {
            int64_t j = rc.journal->rec[k].job;
            if (rc.rec_of_job[j] < 0 && !skip[j]) {
                rc.rec_of_job[j] = k;
                skip[j] = 1;
                info->resumed_jobs++;
            }
        }
        if (!r && rc.journal->torn_bytes > 0)
            ps_log(ctx, PS_LOG_INFO, "%s: dropped a torn last record (%lld bytes)", o->journal,
                   (long long)rc.journal->torn_bytes);
    } else if (!r && rank == 0 && o->journal && o->resume) {
        ps_log(ctx, PS_LOG_INFO, "%s: no journal to resume from; starting from the first case",
               o->journal);
    }
    if (!r && rank == 0 && o->journal)
        r = ps_jr_writer_open(o->journal, rc.journal ? NULL : &h,
                              rc.journal ? rc.journal->valid_bytes : 0, &rc.jw);
    if (!r && rank == 0)
        r = ps_eval_writer_create(out, fmt, plan, &rc.w);
    if (r && ranks > 1 && rank == 0) {
        /* the other ranks wait in the queue for tasks: an empty run stops them */
        int keep = r;
        char msg[4096];
        snprintf(msg, sizeof msg, "%s", ps_error_message());
        ps_dist_run(o->dist, 0, NULL, 0, mpi_work, mpi_sink, &rc);
        r = ps_error(keep, "%s", msg);
    }
    if (r)
        goto done;

    /* 3. and 4. the run */
    if (ranks == 1) {
        ps_eval_control ctl = {skip, o->stop};
        ps_eval_sink sink = {sink_rows, sink_skipped, &rc};
        r = ps_eval_run(plan, s, ctx, &ctl, &sink, sum);
        sum->failed += rc.extra.failed;
        sum->missing += rc.extra.missing;
        sum->ref_grid += rc.extra.ref_grid;
        sum->rows += rc.extra.rows;
    } else {
        /* rank 0 counts the jobs of each case left to emit; workers only compute */
        if (rank == 0 && !(rc.case_left = ps_calloc((size_t)(plan->ncases ? plan->ncases : 1),
                                                    sizeof *rc.case_left))) {
            r = PS_ERR_NOMEM;
            ps_dist_run(o->dist, 0, NULL, 0, mpi_work, mpi_sink, &rc);
            goto done;
        }
        for (int64_t j = 0; rank == 0 && j < plan->njobs; j++) {
            int64_t ci = plan->jobs[j].case_index;
            if (ci >= 0 && ci < plan->ncases)
                rc.case_left[ci]++;
        }
        rc.mpi.jobs = plan->njobs;
        /* the tasks: the runs of jobs of one case (every rank makes the same list); a task
         * is skipped when all its jobs are */
        int64_t ngroups = 0;
        int64_t *group = ps_malloc_array((size_t)plan->njobs + 1, sizeof *group);
        unsigned char *gskip = ps_calloc((size_t)plan->njobs + 1, 1);
        if (!group || !gskip) {
            free(group);
            free(gskip);
            r = PS_ERR_NOMEM;
            ps_dist_run(o->dist, 0, NULL, 0, mpi_work, mpi_sink, &rc);
            free(rc.case_left);
            rc.case_left = NULL;
            goto done;
        }
        for (int64_t j = 0; j < plan->njobs; j++) {
            if (j == 0 || plan->jobs[j].case_index != plan->jobs[j - 1].case_index) {
                gskip[ngroups] = 1;
                group[ngroups++] = j;
            }
            gskip[ngroups - 1] &= skip[j];
        }
        group[ngroups] = plan->njobs;
        rc.group = group;
        rc.skip = skip;
        r = ps_dist_run(o->dist, ngroups, rank == 0 ? gskip : NULL, 0, mpi_work, mpi_sink, &rc);
        free(group);
        free(gskip);
        rc.group = NULL;
        if (!r && rank == 0)
            r = emit_skipped_upto(&rc, plan->njobs);
        free(rc.case_left);
        rc.case_left = NULL;
        *sum = rc.mpi;
        sum->failed += rc.extra.failed;
        sum->missing += rc.extra.missing;
        sum->ref_grid += rc.extra.ref_grid;
        sum->rows += rc.extra.rows;
    }
done:
    if (rank == 0) {
        int complete = !r && sum->jobs_emitted == plan->njobs && !sum->stopped;
        int r2 = rc.w ? ps_eval_writer_finish(rc.w) : PS_OK;
        if (!r)
            r = r2;
        if (rc.jw) {
            /* removed by ps_eval_journal_discard once the table is in place */
            info->journal_kept = !(complete && !r) || sharded;
            int r3 = ps_jr_writer_close(rc.jw, 0);
            if (!r)
                r = r3;
        }
    }
    if (rank == 0 && o->journal) {
        /* jobs in the journal now: the resumed ones and those that ran and were emitted */
        int64_t ran = 0;
        for (int64_t j = 0; j < sum->jobs_emitted && j < plan->njobs; j++)
            ran += !skip[j];
        info->journaled_jobs = info->resumed_jobs + ran;
    }
    ps_jr_header_clear(&h);
    ps_jr_contents_free(rc.journal);
    free(rc.rec_of_job);
    free(shard_of_case);
    free(skip);
    return r;
}

int ps_eval_journal_discard(const char *journal)
{
    if (journal && unlink(journal) && errno != ENOENT)
        return ps_error(PS_ERR_IO, "%s: cannot remove the journal: %s", journal,
                        strerror(errno));
    return PS_OK;
}
