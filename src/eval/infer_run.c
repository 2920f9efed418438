/* infer_run.c - inference over a manifest with a journal (resume), a shard, or MPI ranks:
 * ps_eval_infer_run and ps_eval_infer_merge (ps_eval_dist.h). The per-case work and the
 * manifest copy are src/infer's (ps_predict_manifest_case, ps_predict_manifest_write); the
 * journal file is journal.c's, with format "infer".
 *
 * Outline of ps_eval_infer_run:
 *   1. skip[i] = the case has no image, or is not in this shard.
 *   2. rank 0: the journal header (manifest hash, a hash of the cases and output paths, the
 *      model name, ps_predictor_identity and the output folder). With resume, an existing
 *      journal of another identity is refused; for every journaled case (its last record)
 *      whose prediction still has the recorded size and hash, or that failed, rec_of[i] is
 *      that record and the case is skipped; a changed prediction is predicted again.
 *   3. The cases not skipped run here in manifest order, or over the ranks of a ps_dist
 *      queue (any rank predicts and writes the file, then sends its record: status, path,
 *      size, hash, error message). Rank 0 gets the records in manifest order, journals each
 *      one (one write()) and applies it: counts, the logged error of a failure, the path of
 *      the manifest copy. A journaled case is applied from its record at its place, so the
 *      log and counts are those of an uninterrupted run.
 *   4. A complete run writes the manifest copy (atomically) and, without a shard, removes
 *      the journal; an interrupted one keeps the journal and writes no copy.
 * Record payload: uint8 status (0 predicted, 1 kept, 2 failed), 3 zero bytes, uint64 size,
 * uint64 FNV-1a 64 of the file's bytes, then the path and the message (uint32 length +
 * bytes each), little-endian as written by this machine (the version line guards it).
 */
#include "journal_internal.h"
#include "ps_config.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>


enum { ST_DONE = 0, ST_KEPT = 1, ST_FAILED = 2 };

typedef struct case_rec {
    int status;
    uint64_t size, hash;
    char *path, *message; /* malloc'd */
} case_rec;

static void rec_clear(case_rec *r)
{
    free(r->path);
    free(r->message);
    memset(r, 0, sizeof *r);
}

static int rec_encode(const case_rec *r, unsigned char **out, size_t *len)
{
    uint32_t lp = r->path ? (uint32_t)strlen(r->path) : 0;
    uint32_t lm = r->message ? (uint32_t)strlen(r->message) : 0;
    size_t n = 4 + 16 + 4 + lp + 4 + lm;
    unsigned char *b = ps_malloc(n), *q = b;
    if (!b)
        return PS_ERR_NOMEM;
    unsigned char st[4] = {(unsigned char)r->status, 0, 0, 0};
    memcpy(q, st, 4);
    memcpy(q + 4, &r->size, 8);
    memcpy(q + 12, &r->hash, 8);
    memcpy(q + 20, &lp, 4);
    memcpy(q + 24, r->path ? r->path : "", lp);
    memcpy(q + 24 + lp, &lm, 4);
    memcpy(q + 28 + lp, r->message ? r->message : "", lm);
    *out = b;
    *len = n;
    return PS_OK;
}

static int rec_decode(const unsigned char *p, size_t n, const char *case_id, case_rec *r)
{
    memset(r, 0, sizeof *r);
    uint32_t lp, lm;
    if (n < 24 || p[0] > ST_FAILED)
        goto bad;
    r->status = p[0];
    memcpy(&r->size, p + 4, 8);
    memcpy(&r->hash, p + 12, 8);
    size_t pos = 20;
    if (n - pos < 4)
        goto bad;
    memcpy(&lp, p + pos, 4);
    pos += 4;
    if (n - pos < (size_t)lp + 4)
        goto bad;
    r->path = lp ? ps_asprintf("%.*s", (int)lp, (const char *)p + pos) : NULL;
    pos += lp;
    memcpy(&lm, p + pos, 4);
    pos += 4;
    if (n - pos != lm)
        goto bad;
    r->message = lm ? ps_asprintf("%.*s", (int)lm, (const char *)p + pos) : NULL;
    if ((lp && !r->path) || (lm && !r->message)) {
        rec_clear(r);
        return PS_ERR_NOMEM;
    }
    if (r->status != ST_FAILED && !r->path)
        goto bad;
    return PS_OK;
bad:
    rec_clear(r);
    return ps_error(PS_ERR_FORMAT, "journal record of case %s is damaged", case_id);
}

static uint64_t fnv_str(uint64_t h, const char *s)
{
    if (!s)
        return ps_jr_fnv(h, "\001", 2);
    return ps_jr_fnv(h, s, strlen(s) + 1);
}

/* the cases: ids, images (every modality column) and the output folder */
static uint64_t cases_hash(const ps_manifest *m, const char *out_dir)
{
    uint64_t h = fnv_str(0xcbf29ce484222325ull, out_dir);
    for (int64_t i = 0; i < m->ncases; i++) {
        h = fnv_str(h, m->cases[i].id);
        h = fnv_str(h, m->cases[i].image);
        for (int k = 0; k < PS_MANIFEST_MAX_IMAGES - 1; k++)
            h = fnv_str(h, m->cases[i].image_more[k]);
    }
    return h;
}

static int header_make(const ps_manifest *m, const char *manifest, const char *name,
                       const char *out_dir, const char *identity, int si, int sc,
                       ps_jr_header *h)
{
    memset(h, 0, sizeof *h);
    int rc = manifest ? ps_jr_file_hash(manifest, &h->manifest_hash) : PS_OK;
    if (rc)
        return rc;
    h->plan_hash = cases_hash(m, out_dir);
    h->njobs = m->ncases;
    h->shard_index = si;
    h->shard_count = sc;
    h->version = ps_strdup(PS_VERSION);
    h->manifest = ps_strdup(manifest ? manifest : "-");
    h->format = ps_strdup("infer");
    h->models = ps_strdup(name);
    h->settings = ps_asprintf("%s\tout-dir=%s", identity, out_dir);
    if (!h->version || !h->manifest || !h->format || !h->models || !h->settings) {
        ps_jr_header_clear(h);
        return PS_ERR_NOMEM;
    }
    return PS_OK;
}

/* the file still is what the record says */
static int file_matches(const case_rec *r)
{
    struct stat st;
    uint64_t h;
    if (stat(r->path, &st) || (uint64_t)st.st_size != r->size)
        return 0;
    if (ps_jr_file_hash(r->path, &h)) {
        ps_error_clear();
        return 0;
    }
    return h == r->hash;
}

static int64_t image_bytes(const ps_manifest *m, int64_t i)
{
    int64_t b = 0;
    struct stat st;
    for (int k = 0; k < PS_MANIFEST_MAX_IMAGES; k++) {
        const char *p = ps_manifest_image_path(m, i, k);
        if (p && !stat(p, &st))
            b += (int64_t)st.st_size;
    }
    return b;
}

/* ---- the run -------------------------------------------------------------------------------- */

typedef struct run_ctx {
    ps_predictor *p;
    const ps_manifest *m;
    const ps_eval_infer_opts *o;
    const ps_context *ctx;
    int force;                 /* force, or resume: a file not in the journal is redone */
    const char *out_dir;       /* the real path of o->out_dir */
    /* rank 0 */
    ps_jr_writer *jw;
    ps_jr_contents *journal;
    int64_t *rec_of;           /* journal record of a case, or -1 */
    char **preds;
    ps_eval_infer_result *res;
    ps_progress *prog;
    int64_t next;              /* MPI: the next case to apply */
    int64_t ran;               /* cases predicted and journaled by this run */
} run_ctx;

/* Predict case i (any rank): its record as bytes. */
static int work(int64_t i, void *user, unsigned char **bytes, size_t *len)
{
    run_ctx *rc = user;
    ps_predict_case pc;
    int r = ps_predict_manifest_case(rc->p, rc->m, i, rc->out_dir, rc->force, &pc);
    if (r)
        return r;
    case_rec cr = {0};
    cr.status = pc.status == PS_PREDICT_CASE_DONE ? ST_DONE
              : pc.status == PS_PREDICT_CASE_SKIPPED ? ST_KEPT : ST_FAILED;
    cr.path = pc.path;
    cr.message = pc.message;
    if (pc.status == PS_PREDICT_CASE_NO_IMAGE) /* skipped before; kept for safety */
        cr.message = ps_asprintf("case '%s' has no image", rc->m->cases[i].id);
    if (cr.status != ST_FAILED) {
        struct stat st;
        if (stat(cr.path, &st) || (r = ps_jr_file_hash(cr.path, &cr.hash))) {
            cr.status = ST_FAILED;
            cr.message = ps_asprintf("case '%s' (%s line %lld): %s: cannot read the "
                                     "prediction back: %s", rc->m->cases[i].id, rc->m->path,
                                     (long long)rc->m->cases[i].line, cr.path,
                                     r ? ps_error_message() : strerror(errno));
            free(cr.path);
            cr.path = NULL;
            r = PS_OK;
        } else {
            cr.size = (uint64_t)st.st_size;
        }
    }
    r = rec_encode(&cr, bytes, len);
    if (cr.message != pc.message)
        free(cr.message);
    pc.path = cr.path;
    ps_predict_case_clear(&pc);
    return r;
}

/* Rank 0: the record of case i into the counts, the log and the manifest copy. */
static void apply(run_ctx *rc, int64_t i, case_rec *cr)
{
    ps_eval_infer_result *res = rc->res;
    if (cr->status == ST_FAILED) {
        ps_log(rc->ctx, PS_LOG_ERROR, "%s", cr->message ? cr->message : "failed");
        res->failed++;
    } else {
        if (cr->status == ST_DONE)
            res->done++;
        else
            res->skipped++;
        free(rc->preds[i]);
        rc->preds[i] = cr->path;
        cr->path = NULL;
    }
    ps_progress_add(rc->prog, 1);
}

static int replay(run_ctx *rc, int64_t i)
{
    if (!rc->rec_of || rc->rec_of[i] < 0)
        return PS_OK;
    const ps_jr_record *rec = &rc->journal->rec[rc->rec_of[i]];
    case_rec cr;
    int r = rec_decode(rec->payload, rec->len, rc->m->cases[i].id, &cr);
    if (r)
        return r;
    apply(rc, i, &cr);
    rec_clear(&cr);
    return PS_OK;
}

static int replay_upto(run_ctx *rc, int64_t upto)
{
    int r = PS_OK;
    for (; !r && rc->next < upto; rc->next++)
        r = replay(rc, rc->next);
    return r;
}

/* Rank 0, in manifest order: a case that ran. Journal first, then apply. */
static int sink(int64_t i, const unsigned char *bytes, size_t len, void *user)
{
    run_ctx *rc = user;
    int r = replay_upto(rc, i);
    case_rec cr;
    if (!r)
        r = rec_decode(bytes, len, rc->m->cases[i].id, &cr);
    if (r)
        return r;
    if (rc->jw && (r = ps_jr_writer_append(rc->jw, i, bytes, len))) {
        rec_clear(&cr);
        return r;
    }
    rc->ran++;
    apply(rc, i, &cr);
    rec_clear(&cr);
    rc->next = i + 1;
    return PS_OK;
}

/* Rank 0, with resume: read the journal, refuse another identity, and mark the cases whose
 * record can be trusted. */
static int resume_from(run_ctx *rc, const char *path, const ps_jr_header *h,
                       unsigned char *skip)
{
    int r = ps_jr_read(path, &rc->journal);
    if (r)
        return r;
    char why[8192];
    const char *d = ps_jr_header_differs(&rc->journal->h, h, why, sizeof why);
    if (!d && strcmp(rc->journal->h.format, "infer"))
        d = "it is the journal of a metrics table, not of inference";
    if (!d && strcmp(rc->journal->h.models, h->models)) {
        snprintf(why, sizeof why, "it predicted pred:%s, this run pred:%s",
                 rc->journal->h.models, h->models);
        d = why;
    }
    if (!d && (rc->journal->h.shard_index != h->shard_index ||
               rc->journal->h.shard_count != h->shard_count)) {
        snprintf(why, sizeof why, "it belongs to shard %d/%d, this run is %d/%d",
                 rc->journal->h.shard_index, rc->journal->h.shard_count, h->shard_index,
                 h->shard_count);
        d = why;
    }
    if (d)
        return ps_error(PS_ERR_ARG, "%s: cannot resume from this journal: %s. Remove it to "
                        "start again, or run with the original manifest, model and options",
                        path, d);
    int64_t n = rc->m->ncases;
    if (!(rc->rec_of = ps_malloc_array((size_t)(n ? n : 1), sizeof *rc->rec_of)))
        return PS_ERR_NOMEM;
    for (int64_t i = 0; i < n; i++)
        rc->rec_of[i] = -1;
    for (int64_t k = 0; k < rc->journal->nrec; k++) /* a case's last record counts */
        if (!skip[rc->journal->rec[k].job])
            rc->rec_of[rc->journal->rec[k].job] = k;
    for (int64_t i = 0; i < n; i++) {
        if (rc->rec_of[i] < 0)
            continue;
        const ps_jr_record *rec = &rc->journal->rec[rc->rec_of[i]];
        case_rec cr;
        if ((r = rec_decode(rec->payload, rec->len, rc->m->cases[i].id, &cr)))
            return r;
        if (cr.status != ST_FAILED && !file_matches(&cr)) {
            ps_log(rc->ctx, PS_LOG_INFO, "%s: not the file the journal recorded (%llu bytes, "
                   "hash %016llx): predicting case '%s' again", cr.path,
                   (unsigned long long)cr.size, (unsigned long long)cr.hash,
                   rc->m->cases[i].id);
            rc->rec_of[i] = -1;
            rc->res->redone++;
        } else {
            skip[i] = 1;
            rc->res->resumed++;
        }
        rec_clear(&cr);
    }
    if (rc->journal->torn_bytes > 0)
        ps_log(rc->ctx, PS_LOG_INFO, "%s: dropped a torn last record (%lld bytes)", path,
               (long long)rc->journal->torn_bytes);
    return PS_OK;
}

int ps_eval_infer_run(ps_predictor *p, const ps_manifest *m, const ps_eval_infer_opts *o,
                      const ps_context *ctx, ps_eval_infer_result *res)
{
    memset(res, 0, sizeof *res);
    int rank = ps_dist_rank(o->dist), ranks = ps_dist_size(o->dist);
    int sharded = o->shard_count > 0;
    if (!o->name || !*o->name || strchr(o->name, '\t')) /* the same on every rank */
        return ps_error(PS_ERR_ARG, "--name: the model name for the pred:NAME column must be "
                        "non-empty text without tabs");
    int64_t n = m->ncases;
    run_ctx rc;
    memset(&rc, 0, sizeof rc);
    rc.p = p;
    rc.m = m;
    rc.o = o;
    rc.ctx = ctx;
    rc.res = res;
    rc.force = o->force || o->resume;
    unsigned char *skip = ps_calloc((size_t)(n ? n : 1), 1);
    int *shard_of = NULL;
    int64_t *bytes = NULL;
    char *journal = o->journal ? ps_strdup(o->journal)
                  : o->manifest_out ? ps_asprintf("%s.journal", o->manifest_out) : NULL;
    char *identity = NULL;
    ps_jr_header h;
    memset(&h, 0, sizeof h);
    int r = skip && (journal || (!o->journal && !o->manifest_out)) ? PS_OK : PS_ERR_NOMEM;
    char *out_abs = NULL;
    if (!r && !(r = ps_predict_make_dir(o->out_dir, &out_abs)))
        rc.out_dir = out_abs;
    /* 1. which cases this run predicts */
    if (!r && sharded) {
        shard_of = ps_calloc((size_t)(n ? n : 1), sizeof *shard_of);
        bytes = ps_calloc((size_t)(n ? n : 1), sizeof *bytes);
        if (!shard_of || !bytes)
            r = PS_ERR_NOMEM;
        for (int64_t i = 0; !r && i < n; i++)
            bytes[i] = image_bytes(m, i);
        if (!r)
            r = ps_eval_shard_assign_bytes(bytes, n, o->shard_count, shard_of);
    }
    for (int64_t i = 0; !r && i < n; i++) {
        if (sharded && shard_of[i] != o->shard_index)
            skip[i] = 1;
        else if (!m->cases[i].image)
            skip[i] = 1, res->no_image++;
        else
            res->cases++;
    }
    /* 2. the journal (rank 0) */
    if (!r && rank == 0 && journal) {
        if (!(identity = ps_predictor_identity(p)))
            r = PS_ERR_NOMEM;
        else
            r = header_make(m, o->manifest, o->name, out_abs, identity, o->shard_index,
                            o->shard_count, &h);
    }
    struct stat st;
    if (!r && rank == 0 && journal && o->resume) {
        if (!stat(journal, &st))
            r = resume_from(&rc, journal, &h, skip);
        else
            ps_log(ctx, PS_LOG_INFO, "%s: no journal to resume from; starting from the first "
                   "case", journal);
    }
    if (!r && rank == 0 && journal)
        r = ps_jr_writer_open(journal, rc.journal ? NULL : &h,
                              rc.journal ? rc.journal->valid_bytes : 0, &rc.jw);
    if (!r && rank == 0 && !(rc.preds = ps_calloc((size_t)n + 1, sizeof *rc.preds)))
        r = PS_ERR_NOMEM;
    r = ps_dist_sync(o->dist, r); /* every rank takes part, or none (rank 0 says why) */
    if (r)
        goto done;

    /* 3. the cases */
    ps_context quiet = *ctx;
    quiet.progress = rank == 0 ? quiet.progress : 0;
    if (rank == 0)
        rc.prog = ps_progress_start(&quiet, "infer", res->cases, "cases");
    if (ranks == 1) {
        for (int64_t i = 0; !r && i < n; i++) { /* sink replays the journaled cases before i */
            if (skip[i])
                continue;
            if (o->stop && *o->stop) {
                res->stopped = 1;
                break;
            }
            unsigned char *b = NULL;
            size_t len = 0;
            if (!(r = work(i, &rc, &b, &len)))
                r = sink(i, b, len, &rc);
            free(b);
        }
        if (!r && !res->stopped)
            r = replay_upto(&rc, n);
    } else {
        r = ps_dist_run(o->dist, n, rank == 0 ? skip : NULL, 0, work, sink, &rc);
        if (!r && rank == 0)
            r = replay_upto(&rc, n);
    }
    ps_progress_finish(rc.prog);

    /* 4. the manifest copy of a complete run */
    if (!r && rank == 0 && !res->stopped && o->manifest_out)
        r = ps_predict_manifest_write(m, 1, &o->name, (char *const *const *)&rc.preds,
                                      o->manifest_out);
done:
    if (rank == 0 && rc.jw) {
        int complete = !r && !res->stopped;
        res->journal_kept = !complete || sharded;
        int r2 = ps_jr_writer_close(rc.jw, !res->journal_kept);
        if (!r)
            r = r2;
    }
    if (rank == 0)
        res->finished = res->resumed + rc.ran;
    for (int64_t i = 0; rc.preds && i < n; i++)
        free(rc.preds[i]);
    free(rc.preds);
    ps_jr_header_clear(&h);
    ps_jr_contents_free(rc.journal);
    free(rc.rec_of);
    free(identity);
    free(out_abs);
    free(journal);
    free(shard_of);
    free(bytes);
    free(skip);
    return r;
}

/* ---- merge ---------------------------------------------------------------------------------- */


/* the value of name=... in TAB-separated settings (malloc'd), or NULL */
static char *setting(const char *text, const char *name)
{
    size_t k = strlen(name);
    for (const char *t = text; t && *t; t = strchr(t, '\t') ? strchr(t, '\t') + 1 : NULL)
        if (!strncmp(t, name, k) && t[k] == '=') {
            const char *e = strchr(t + k + 1, '\t');
            return ps_asprintf("%.*s", (int)(e ? e - (t + k + 1) : (long)strlen(t + k + 1)),
                               t + k + 1);
        }
    return NULL;
}

/* A case's id, and whether it has an image (the merge's coverage check). */
static void case_name(int64_t j, char *buf, size_t size, void *user)
{
    const ps_manifest *m = user;
    snprintf(buf, size, "%s", m->cases[j].id);
}

static int case_has_image(int64_t j, void *user)
{
    const ps_manifest *m = user;
    return m->cases[j].image != NULL;
}

int ps_eval_infer_merge(const char *const *journals, int n, const char *out_path,
                        const ps_context *ctx, ps_eval_infer_result *res)
{
    memset(res, 0, sizeof *res);
    if (n < 1)
        return ps_error(PS_ERR_ARG, "no shard files");
    ps_jr_contents **c = ps_calloc((size_t)n, sizeof *c);
    char **names = ps_calloc((size_t)n, sizeof *names);
    ps_manifest *m = NULL;
    int64_t *where = NULL;
    char **preds = NULL, *out_dir = NULL;
    int r = c && names ? PS_OK : PS_ERR_NOMEM;
    for (int i = 0; !r && i < n; i++)
        r = (names[i] = ps_jr_journal_name(journals[i])) ? ps_jr_read(names[i], &c[i])
                                                         : PS_ERR_NOMEM;
    char why[8192];
    for (int i = 0; !r && i < n; i++) {
        const char *d = i ? ps_jr_header_differs(&c[0]->h, &c[i]->h, why, sizeof why) : NULL;
        if (strcmp(c[i]->h.format, "infer"))
            r = ps_error(PS_ERR_ARG, "%s is the journal of a %s table, not of `infer`: give "
                         "the shards of one kind", names[i], c[i]->h.format);
        else if (d)
            r = ps_error(PS_ERR_ARG, "%s and %s are not shards of one run: %s", names[0],
                         names[i], d);
        else if (strcmp(c[i]->h.models, c[0]->h.models))
            r = ps_error(PS_ERR_ARG, "%s predicted pred:%s, %s pred:%s", names[0],
                         c[0]->h.models, names[i], c[i]->h.models);
        else if (c[i]->h.shard_count != c[0]->h.shard_count)
            r = ps_error(PS_ERR_ARG, "%s is shard %d/%d, %s is %d/%d", names[0],
                         c[0]->h.shard_index, c[0]->h.shard_count, names[i],
                         c[i]->h.shard_index, c[i]->h.shard_count);
    }
    if (!r && !strcmp(c[0]->h.manifest, "-"))
        r = ps_error(PS_ERR_ARG, "%s was not made from a manifest file", names[0]);
    if (!r && !(out_dir = setting(c[0]->h.settings, "out-dir")))
        r = ps_error(PS_ERR_FORMAT, "%s: the header has no out-dir", names[0]);
    if (!r) {
        ps_manifest_options mo;
        ps_manifest_options_init(&mo);
        mo.check = PS_MANIFEST_CHECK_NONE;
        r = ps_manifest_read(c[0]->h.manifest, &mo, &m);
    }
    if (!r) {
        uint64_t mh;
        if (!(r = ps_jr_file_hash(c[0]->h.manifest, &mh)) &&
            (mh != c[0]->h.manifest_hash || cases_hash(m, out_dir) != c[0]->h.plan_hash ||
             m->ncases != c[0]->h.njobs))
            r = ps_error(PS_ERR_ARG, "%s changed since the shards ran (its hash or its cases "
                         "differ from the journals')", c[0]->h.manifest);
    }
    int64_t nc = m ? m->ncases : 0;
    if (!r && (!(where = ps_malloc_array((size_t)(nc ? nc : 1), sizeof *where)) ||
               !(preds = ps_calloc((size_t)nc + 1, sizeof *preds))))
        r = PS_ERR_NOMEM;
    if (!r)
        r = ps_jr_coverage(c, n, (const char *const *)names, nc, "case(s)", case_has_image,
                           case_name, (void *)m, where);
    for (int64_t j = 0; !r && j < nc; j++) {
        if (!m->cases[j].image) {
            res->no_image++;
            continue;
        }
        const ps_jr_record *rec = &c[where[j] >> 32]->rec[where[j] & 0xffffffff];
        case_rec cr;
        if ((r = rec_decode(rec->payload, rec->len, m->cases[j].id, &cr)))
            break;
        res->cases++;
        res->finished++;
        if (cr.status == ST_FAILED) {
            res->failed++;
        } else {
            res->done += cr.status == ST_DONE;
            res->skipped += cr.status == ST_KEPT;
            preds[j] = cr.path;
            cr.path = NULL;
        }
        rec_clear(&cr);
    }
    if (!r) {
        const char *name = c[0]->h.models;
        r = ps_predict_manifest_write(m, 1, &name, (char *const *const *)&preds, out_path);
    }
    (void)ctx;
    for (int64_t j = 0; preds && j < nc; j++)
        free(preds[j]);
    free(preds);
    for (int i = 0; c && i < n; i++) {
        ps_jr_contents_free(c[i]);
        if (names)
            free(names[i]);
    }
    free(c);
    free(names);
    free(where);
    free(out_dir);
    ps_manifest_free(m);
    return r;
}

int ps_eval_infer_manifest(const char *model_dir, const int *folds, int nfolds,
                           const ps_predict_options *popt, const ps_eval_infer_opts *o,
                           const ps_context *ctx, ps_eval_infer_result *res)
{
    memset(res, 0, sizeof *res);
    ps_manifest_options mo;
    ps_manifest_options_init(&mo);
    mo.check = PS_MANIFEST_CHECK_NONE; /* a missing image fails its case only */
    ps_manifest *m = NULL;
    ps_predictor *p = NULL;
    int rc = ps_manifest_read(o->manifest, &mo, &m);
    rc = ps_dist_sync(o->dist, rc); /* under MPI, every rank has it or none goes on */
    if (!rc)
        rc = ps_dist_sync(o->dist, ps_predictor_create(model_dir, folds, nfolds, popt, ctx, &p));
    if (!rc)
        rc = ps_eval_infer_run(p, m, o, ctx, res);
    ps_predictor_free(p);
    ps_manifest_free(m);
    return rc;
}
