/* run.c - the evaluation driver: a plan's jobs through the metrics, rows to a sink in order.
 *
 * Outline:
 *   1. Cases run in parallel (OpenMP, dynamic schedule, one case at a time per thread) when
 *      there are at least as many cases as threads; otherwise one after another with every
 *      thread inside the case. A thread runs the jobs (models) of its case one after another
 *      and reads the case's reference once for all of them. Each thread holds one case's
 *      volumes at a time, so memory does not grow with the number of cases.
 *   2. A finished job's rows are kept in its slot. Under one lock, the slots from `next` on
 *      that are finished go to the sink, in plan order; so rows stream out as soon as their
 *      predecessors are done, and only rows whose predecessors are unfinished wait.
 *   3. Stop (signal, --fail-fast, sink error): no new job starts. Jobs already running finish;
 *      the sink has then received a prefix of the plan. A job finished after a job that never
 *      ran is dropped (it is not part of the prefix).
 * The rows of a job depend only on its inputs, and the order is the plan's, so the output is
 * the same for any thread count.
 */
#include <stdatomic.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "ps_eval.h"

/* The rows of one job once it has run. */
typedef struct job_result {
    int state;          /* 0 not finished, 1 finished, 2 not run (stopped), 3 skipped */
    int nrows;
    ps_eval_row *rows;
    ps_case_metrics *m;
    char (*labels)[16 * 12];
    char *message;      /* job-level message (missing, error, ref_grid note)           */
    const char *geometry;
} job_result;

static void result_clear(job_result *r)
{
    free(r->rows);
    free(r->m);
    free(r->labels);
    free(r->message);
    r->rows = NULL;
    r->m = NULL;
    r->labels = NULL;
    r->message = NULL;
    r->nrows = 0;
}

static ps_eval_status status_of(ps_case_status s)
{
    switch (s) {
    case PS_CASE_OK: return PS_EVAL_OK;
    case PS_CASE_PRED_EMPTY: return PS_EVAL_PRED_EMPTY;
    case PS_CASE_REF_EMPTY: return PS_EVAL_REF_EMPTY;
    case PS_CASE_BOTH_EMPTY: return PS_EVAL_BOTH_EMPTY;
    default: return PS_EVAL_ERROR;
    }
}

/* Rows without metrics: one per requested region, or one with an empty label. */
static int job_level_rows(const ps_eval_job *jb, const ps_eval_settings *s, job_result *r,
                          ps_eval_status st, const char *geometry, const char *msg)
{
    result_clear(r);
    int n = st == PS_EVAL_MISSING && s->regions ? s->nregions : 1;
    r->rows = ps_calloc((size_t)n, sizeof *r->rows);
    r->labels = ps_calloc((size_t)n, sizeof *r->labels);
    r->message = ps_strdup(msg);
    if (!r->rows || !r->labels || !r->message)
        return PS_ERR_NOMEM;
    for (int i = 0; i < n; i++) {
        if (st == PS_EVAL_MISSING && s->regions)
            ps_region_format(&s->regions[i], r->labels[i], sizeof r->labels[i]);
        r->rows[i] = (ps_eval_row){jb, r->labels[i], st, geometry, NULL, r->message};
    }
    r->nrows = n;
    return PS_OK;
}

/* One side of a case: a label map, its labels and the box of its non-zero voxels. */
typedef struct side {
    const char *path;
    ps_volume *vol;
    ps_label_scan scan;
    int rc;
    char msg[1024];
} side;

static void read_side(side *sd)
{
    memset(&sd->scan, 0, sizeof sd->scan);
    sd->vol = NULL;
    uint8_t *map = NULL; /* the pieces that hold a label: the scan reads only those */
    sd->rc = ps_volume_read_labels_map(sd->path, &sd->vol, &map);
    if (!sd->rc)
        sd->rc = ps_label_scan_volume_map(sd->vol, map, &sd->scan);
    free(map);
    if (sd->rc)
        snprintf(sd->msg, sizeof sd->msg, "%s", ps_error_message());
}

static void side_clear(side *sd)
{
    ps_label_scan_clear(&sd->scan);
    ps_volume_free(sd->vol);
    sd->vol = NULL;
    sd->path = NULL;
    sd->rc = 0;
}

/* The reference read for one job, kept for the next jobs of the case (one per thread). The
 * metrics never write to the reference, so every job sees the voxels it would have read. A
 * failed read is kept too: the next job reports the same error. */
typedef struct ref_cache {
    int valid;
    side sd;
} ref_cache;

static void ref_cache_clear(ref_cache *c)
{
    if (c->valid)
        side_clear(&c->sd);
    c->valid = 0;
}

/* Evaluate one job with both files present. Returns 0, or an error code with the message
 * recorded (r->geometry says whether the grids were the reason). The reference comes from
 * `cache` when it holds the same file, and is left there for the next job. */
static int evaluate(const ps_eval_job *jb, const ps_eval_settings *s, const ps_context *ctx,
                    int inner_threads, job_result *r, int64_t *ref_grid, ref_cache *cache)
{
    ps_region *regions = s->regions, *own = NULL;
    int nregions = s->nregions, rc = PS_OK;
    char note[2048] = "";
    r->geometry = "";

    /* the two sides are independent: read them side by side when we have the threads */
    double t0 = ps_now_seconds(), t_read = 0;
    side sd[2] = {{.path = jb->ref_path}, {.path = jb->pred_path}};
    int cached = cache->valid && !strcmp(cache->sd.path, jb->ref_path);
    if (cached) {
        sd[0] = cache->sd;
        read_side(&sd[1]);
    } else {
        ref_cache_clear(cache);
#pragma omp parallel for schedule(static, 1) num_threads(inner_threads > 1 ? 2 : 1)
        for (int k = 0; k < 2; k++)
            read_side(&sd[k]);
        cache->sd = sd[0];
        cache->valid = 1;
    }
    ps_volume *ref = sd[0].vol, *pred = sd[1].vol;
    if (sd[0].rc || sd[1].rc) {
        rc = sd[0].rc ? sd[0].rc : sd[1].rc;
        ps_error(rc, "%s", sd[0].rc ? sd[0].msg : sd[1].msg);
        goto done;
    }
    t_read = ps_now_seconds();
    rc = ps_geometry_check_same_tol(&ref->geom, jb->ref_path, &pred->geom, jb->pred_path,
                                    s->geometry_tol_mm);
    if (rc) {
        int same_dims = 1;
        for (int d = 0; d < 3; d++)
            same_dims &= ref->geom.dim[d] == pred->geom.dim[d];
        if (s->geometry != PS_GEOMETRY_REF_GRID || !same_dims) {
            r->geometry = "mismatch";
            goto done;
        }
        /* ref-grid: the prediction's voxels are taken on the reference's grid */
        snprintf(note, sizeof note, "evaluated on the reference grid (--geometry ref-grid): %s",
                 ps_error_message());
        pred->geom = ref->geom;
        r->geometry = "ref_grid";
        (*ref_grid)++;
        ps_error_clear();
        rc = PS_OK;
    } else {
        /* equal within the tolerance: the metrics use the reference's grid (they would
         * refuse a difference above their own fixed 1e-4 mm) */
        pred->geom = ref->geom;
        r->geometry = "ok";
    }

    if (!regions) {
        /* every label present in either volume: merge the two sorted lists */
        int na = sd[0].scan.nlabels, nb = sd[1].scan.nlabels, nl = 0;
        if (!(own = ps_calloc((size_t)(na + nb + 1), sizeof *own))) {
            rc = PS_ERR_NOMEM;
            goto done;
        }
        for (int ia = 0, ib = 0; ia < na || ib < nb;) {
            int32_t la = ia < na ? sd[0].scan.labels[ia] : INT32_MAX;
            int32_t lb = ib < nb ? sd[1].scan.labels[ib] : INT32_MAX;
            int32_t l = la < lb ? la : lb;
            ia += la == l;
            ib += lb == l;
            own[nl].n = 1;
            own[nl++].labels[0] = l;
        }
        if (nl == 0) { /* both empty: report label 1 as both_empty */
            own[0].n = 1;
            own[0].labels[0] = 1;
            nl = 1;
        }
        nregions = nl;
        regions = own;
    }
    r->labels = ps_calloc((size_t)nregions, sizeof *r->labels);
    r->m = ps_calloc((size_t)nregions, sizeof *r->m);
    r->rows = ps_calloc((size_t)nregions, sizeof *r->rows);
    r->message = ps_strdup(note);
    if (!r->labels || !r->m || !r->rows || !r->message) {
        rc = PS_ERR_NOMEM;
        goto done;
    }
    /* every non-zero voxel of either side lies in the union of their boxes */
    int64_t box_lo[3], box_hi[3];
    for (int d = 0; d < 3; d++) {
        box_lo[d] = sd[0].scan.lo[d] < sd[1].scan.lo[d] ? sd[0].scan.lo[d] : sd[1].scan.lo[d];
        box_hi[d] = sd[0].scan.hi[d] > sd[1].scan.hi[d] ? sd[0].scan.hi[d] : sd[1].scan.hi[d];
    }
    ps_context inner = *ctx;
    inner.threads = inner_threads;
    for (int i = 0; i < nregions; i++) {
        ps_region_format(&regions[i], r->labels[i], sizeof r->labels[i]);
        if ((rc = ps_metrics_compute_box(ref, pred, &regions[i], &s->metrics, &inner, box_lo,
                                         box_hi, &r->m[i]))) {
            ps_error_context(rc, "label %s", r->labels[i]);
            goto done;
        }
        r->rows[i] = (ps_eval_row){jb, r->labels[i], status_of(r->m[i].status), r->geometry,
                                   &r->m[i], r->message};
    }
    r->nrows = nregions;
    ps_log(ctx, PS_LOG_DEBUG, "case %s, model %s: read %.3f s, metrics %.3f s (%d label(s))",
           jb->case_id, jb->model, t_read - t0, ps_now_seconds() - t_read, nregions);
done:
    side_clear(&sd[1]); /* the reference stays in the cache */
    free(own);
    return rc;
}

/* Shared state of the job loop. */
typedef struct run_state {
    const ps_eval_plan *plan;
    const ps_eval_settings *s;
    const ps_context *ctx;
    const ps_eval_control *ctl;
    const ps_eval_sink *sink;
    ps_eval_summary *sum;
    job_result *res;
    int inner;
    ps_progress *prog;
    int64_t *case_left;   /* jobs of each case not yet emitted (under the lock) */
    int64_t next;         /* first job not yet emitted (under the lock)         */
    int halted;           /* emission ended for good (under the lock)            */
    int sink_rc;
    atomic_int stop;      /* 2 fail-fast, 3 sink error                           */
    atomic_llong failed, missing, ref_grid;
} run_state;

static int stop_requested(run_state *st)
{
    if (atomic_load(&st->stop))
        return 1;
    return st->ctl && st->ctl->stop && *st->ctl->stop;
}

/* Hand the finished prefix to the sink. Called under the lock. */
static void emit_ready(run_state *st)
{
    while (!st->halted && st->next < st->plan->njobs) {
        job_result *r = &st->res[st->next];
        if (r->state == 0)
            return;
        if (r->state == 2) { /* never ran: the prefix ends here */
            st->halted = 1;
            return;
        }
        int rc = PS_OK;
        if (r->state == 3) {
            if (st->sink->skipped)
                rc = st->sink->skipped(st->sink->user, st->next);
        } else {
            rc = st->sink->rows(st->sink->user, st->next, r->rows, r->nrows);
            st->sum->rows += r->nrows;
        }
        result_clear(r);
        if (rc) {
            st->sink_rc = rc;
            st->halted = 1;
            atomic_store(&st->stop, 3);
            return;
        }
        st->sum->jobs_emitted++;
        int64_t ci = st->plan->jobs[st->next].case_index;
        if (ci >= 0 && ci < st->plan->ncases && --st->case_left[ci] == 0) {
            st->sum->cases_emitted++;
            ps_progress_add(st->prog, 1);
        }
        st->next++;
    }
}

static void run_one(run_state *st, int64_t j, ref_cache *cache)
{
    const ps_eval_job *jb = &st->plan->jobs[j];
    job_result *r = &st->res[j];
    int state = 1;
    if (st->ctl && st->ctl->skip && st->ctl->skip[j]) {
        state = 3;
    } else if (stop_requested(st)) {
        state = 2;
    } else if (!jb->pred_path || !jb->ref_path) {
        char msg[512];
        snprintf(msg, sizeof msg, !jb->ref_path ? "no reference label listed for this case"
                                                : "no prediction of '%s' listed for this case",
                 jb->model);
        if (job_level_rows(jb, st->s, r, PS_EVAL_MISSING, "", msg))
            state = 2;
        atomic_fetch_add(&st->missing, 1);
    } else {
        ps_error_clear();
        int64_t rg = 0;
        int rc = evaluate(jb, st->s, st->ctx, st->inner, r, &rg, cache);
        atomic_fetch_add(&st->ref_grid, rg);
        if (rc) {
            char msg[4096];
            snprintf(msg, sizeof msg, "%s", ps_error_message());
            const char *geo = r->geometry;
            if (job_level_rows(jb, st->s, r, PS_EVAL_ERROR, geo, msg))
                state = 2;
            atomic_fetch_add(&st->failed, 1);
            /* an error: printed under -q as well */
            ps_log(st->ctx, PS_LOG_ERROR, "case %s, model %s: %s", jb->case_id, jb->model, msg);
            if (st->s->fail_fast)
                atomic_store(&st->stop, 2);
        }
    }
#pragma omp critical(ps_eval_emit)
    {
        r->state = state;
        emit_ready(st);
    }
}

int ps_eval_run(const ps_eval_plan *plan, const ps_eval_settings *s, const ps_context *ctx,
                const ps_eval_control *ctl, const ps_eval_sink *sink, ps_eval_summary *sum)
{
    memset(sum, 0, sizeof *sum);
    sum->jobs = plan->njobs;
    if (plan->njobs == 0)
        return PS_OK;
    run_state st;
    memset(&st, 0, sizeof st);
    st.plan = plan;
    st.s = s;
    st.ctx = ctx;
    st.ctl = ctl;
    st.sink = sink;
    st.sum = sum;
    st.res = ps_calloc((size_t)plan->njobs, sizeof *st.res);
    st.case_left = ps_calloc((size_t)(plan->ncases ? plan->ncases : 1), sizeof *st.case_left);
    if (!st.res || !st.case_left) {
        free(st.res);
        free(st.case_left);
        return PS_ERR_NOMEM;
    }
    for (int64_t j = 0; j < plan->njobs; j++) {
        int64_t ci = plan->jobs[j].case_index;
        if (ci >= 0 && ci < plan->ncases)
            st.case_left[ci]++;
    }
    /* the cases: runs of consecutive jobs with the same case index (a plan lists a case's
     * jobs together) */
    int64_t ngroups = 0;
    int64_t *group = ps_malloc_array((size_t)plan->njobs + 1, sizeof *group);
    if (!group) {
        free(st.res);
        free(st.case_left);
        return PS_ERR_NOMEM;
    }
    for (int64_t j = 0; j < plan->njobs; j++)
        if (j == 0 || plan->jobs[j].case_index != plan->jobs[j - 1].case_index)
            group[ngroups++] = j;
    group[ngroups] = plan->njobs;
    int threads = ps_context_threads(ctx);
    int outer = ngroups >= threads ? threads : 1;
    st.inner = outer > 1 ? 1 : threads;
    char label[96];
    snprintf(label, sizeof label, "metrics (%lld evaluation%s)", (long long)plan->njobs,
             plan->njobs == 1 ? "" : "s");
    st.prog = ps_progress_start(ctx, label, plan->ncases, "cases");
    int64_t n = plan->njobs;
    if (outer > 1) {
#pragma omp parallel for schedule(dynamic, 1) num_threads(outer)
        for (int64_t g = 0; g < ngroups; g++) {
            ref_cache cache = {0};
            for (int64_t j = group[g]; j < group[g + 1]; j++)
                run_one(&st, j, &cache);
            ref_cache_clear(&cache);
        }
    } else {
        /* no outer team: the parallel regions inside the case are top-level ones and reuse
         * OpenMP's thread pool (nested teams would start new threads each time) */
        ref_cache cache = {0};
        for (int64_t j = 0; j < n; j++) {
            if (j && plan->jobs[j].case_index != plan->jobs[j - 1].case_index)
                ref_cache_clear(&cache);
            run_one(&st, j, &cache);
        }
        ref_cache_clear(&cache);
    }
    free(group);
    ps_progress_finish(st.prog);
    for (int64_t j = 0; j < n; j++)
        result_clear(&st.res[j]);
    free(st.res);
    free(st.case_left);
    sum->failed = atomic_load(&st.failed);
    sum->missing = atomic_load(&st.missing);
    sum->ref_grid = atomic_load(&st.ref_grid);
    int stop = atomic_load(&st.stop);
    if (stop)
        sum->stopped = stop;
    else if (sum->jobs_emitted < sum->jobs)
        sum->stopped = 1;
    return st.sink_rc;
}

void ps_eval_summary_log(const ps_eval_summary *sum, const ps_context *ctx)
{
    if (sum->failed)
        ps_log(ctx, PS_LOG_ERROR, "%lld of %lld evaluation(s) failed (status=error rows)%s",
               (long long)sum->failed, (long long)sum->jobs,
               sum->stopped == 2 ? "; stopped early (--fail-fast)" : "");
    if (sum->missing)
        ps_log(ctx, PS_LOG_WARN, "%lld evaluation(s) without a prediction or reference: "
               "status=missing rows", (long long)sum->missing);
    if (sum->ref_grid)
        ps_log(ctx, PS_LOG_WARN, "%lld evaluation(s) on the reference grid although the headers "
               "differ (geometry=ref_grid)", (long long)sum->ref_grid);
}
