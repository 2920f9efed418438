/* agree_dist.c - `panseval agreement` with the journal (resume), a shard, or MPI ranks, and the
 * merge of agreement shards (ps_eval_dist.h). The machinery of the metrics runs (journal.c,
 * the ps_dist queue, the greedy shard split), with one record per case: agreement.c's case
 * record, the cells of the case's rows in each table and its counts.
 *
 * Outline of ps_agreement_run_dist:
 *   1. Every rank makes the job (rater slots, inter raters) from the manifest and options, so
 *      any rank can compute any case (agree_case_bytes, a pure function of the case).
 *   2. skip[c] = not in this shard (cases split by the bytes of the label maps they read).
 *   3. Rank 0 makes the journal header (the format line "agreement"; the manifest's hash; a
 *      hash of every case's id and label-map paths; the options with the tables' format and
 *      the caller's recorded settings; the shard). With resume, an existing journal is read: another identity is
 *      refused with what differs, its records mark their cases done, a torn tail is cut off.
 *   4. Rank 0 opens the tables. The cases not skipped run through ps_dist_run: here, in order,
 *      or over the ranks of the queue; rank 0 gets every record in case order, appends it to
 *      the journal, then writes it into the tables; a journaled case is written from its
 *      record at its place, a case of another shard is left out. Every mode therefore writes
 *      the same bytes.
 *   5. The tables are committed (an interrupted run commits its finished prefix, complete
 *      tables) or aborted on an error. The journal stays when the run is incomplete or a shard;
 *      otherwise the caller removes it once every output is in place.
 * One process honours the stop flag before each case; under MPI the flag is not polled (as
 * for metrics): a signal ends the job through mpirun, and the journal keeps what was done.
 */
#include "agree_internal.h"
#include "journal_internal.h"
#include "ps_config.h"

#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define FNV_BASIS 0xcbf29ce484222325ull /* journal.c's FNV-1a 64 offset basis */
#define AGREE_STOPPED 1                 /* work: the stop flag was set before the case */

char *ps_agreement_journal_path(const char *out_dir)
{
    return ps_asprintf("%s/agreement.journal", out_dir);
}

/* The journal of a shard argument: FOLDER/agreement.journal for a folder, else as metrics. */
static char *shard_journal(const char *shard)
{
    struct stat st;
    if (!stat(shard, &st) && S_ISDIR(st.st_mode))
        return ps_agreement_journal_path(shard);
    return ps_jr_journal_name(shard);
}

int ps_eval_journal_format(const char *shard, char **format)
{
    *format = NULL;
    char *name = shard_journal(shard);
    ps_jr_contents *c = NULL;
    int rc = name ? ps_jr_read(name, &c) : PS_ERR_NOMEM;
    if (!rc && !(*format = ps_strdup(c->h.format)))
        rc = PS_ERR_NOMEM;
    ps_jr_contents_free(c);
    free(name);
    return rc;
}

/* The identity of an agreement run (the journal header). */
static int header_make(const agree_job *job, const ps_manifest *m, const ps_agree_options *opt,
                       const char *manifest, const char *extra, int shard_index,
                       int shard_count, ps_jr_header *h)
{
    memset(h, 0, sizeof *h);
    int rc = ps_jr_file_hash(manifest, &h->manifest_hash);
    if (rc)
        return rc;
    h->plan_hash = FNV_BASIS;
    if ((rc = agree_job_hash(job, ps_jr_fnv, &h->plan_hash)))
        return rc;
    h->njobs = m->ncases;
    h->shard_index = shard_index;
    h->shard_count = shard_count;
    char *text = agree_settings_text(opt);
    h->settings = text && extra && *extra ? ps_asprintf("%s\t%s", text, extra) : text;
    if (h->settings != text)
        free(text);
    h->version = ps_strdup(PS_VERSION);
    h->manifest = ps_strdup(manifest);
    h->format = ps_strdup("agreement"); /* the tables' format is in the settings */
    h->models = ps_strdup("");
    if (!h->settings || !h->version || !h->manifest || !h->format || !h->models) {
        ps_jr_header_clear(h);
        return PS_ERR_NOMEM;
    }
    return PS_OK;
}

/* ---- the run -------------------------------------------------------------------------------- */

typedef struct arun {
    agree_job *job;
    const ps_context *quiet;  /* the work's context: no progress display */
    agree_out *out;           /* rank 0 */
    ps_jr_writer *jw;         /* rank 0, NULL without a journal */
    ps_jr_contents *journal;  /* resume: what was read */
    int64_t *rec_of_case;     /* journal record of a case, or -1 (NULL: none) */
    int64_t next;             /* the next case the tables need */
    int64_t ran, stopped_at;  /* cases run and sunk here; the case a stop refused, or -1 */
    ps_agree_summary *sum;
    ps_progress *prog;
    volatile sig_atomic_t *stop;
    int local;                /* one process: the stop flag is polled */
} arun;

static int work(int64_t ci, void *user, unsigned char **bytes, size_t *len)
{
    arun *a = user;
    if (a->local && a->stop && *a->stop) {
        a->stopped_at = ci;
        return AGREE_STOPPED;
    }
    return agree_case_bytes(a->job, ci, a->quiet, bytes, len);
}

/* The cases before `upto` that did not run here, at their place: from the journal, or
 * nothing (another shard). */
static int replay_upto(arun *a, int64_t upto)
{
    for (; a->next < upto; a->next++) {
        int64_t k = a->rec_of_case ? a->rec_of_case[a->next] : -1;
        if (k < 0)
            continue;
        const ps_jr_record *r = &a->journal->rec[k];
        int rc = agree_out_case(a->out, a->next, r->payload, r->len, a->sum);
        if (rc)
            return rc;
        ps_progress_add(a->prog, 1);
    }
    return PS_OK;
}

static int sink(int64_t ci, const unsigned char *bytes, size_t len, void *user)
{
    arun *a = user;
    int rc = replay_upto(a, ci);
    if (!rc && a->jw) /* the journal first: a crash after this line still has the case */
        rc = ps_jr_writer_append(a->jw, ci, bytes, len);
    if (!rc)
        rc = agree_out_case(a->out, ci, bytes, len, a->sum);
    a->next = ci + 1;
    a->ran += !rc;
    ps_progress_add(a->prog, 1);
    return rc;
}

/* The journal to resume from (rank 0): refused when its identity differs; its records mark
 * their cases done. */
static int resume_from(arun *a, const char *journal, const ps_jr_header *h, int64_t ncases,
                       unsigned char *skip, const ps_context *ctx, ps_eval_run_info *info)
{
    int rc = ps_jr_read(journal, &a->journal);
    if (rc)
        return rc;
    char why[8192];
    const char *d = ps_jr_header_differs(&a->journal->h, h, why, sizeof why);
    if (!d && (a->journal->h.shard_index != h->shard_index ||
               a->journal->h.shard_count != h->shard_count)) {
        snprintf(why, sizeof why, "it belongs to shard %d/%d, this run is %d/%d",
                 a->journal->h.shard_index, a->journal->h.shard_count, h->shard_index,
                 h->shard_count);
        d = why;
    }
    if (d)
        return ps_error(PS_ERR_ARG, "%s: cannot resume from this journal: %s. Remove it to "
                        "start again, or run with the original manifest and options", journal, d);
    if (!(a->rec_of_case = ps_malloc_array((size_t)(ncases ? ncases : 1),
                                           sizeof *a->rec_of_case)))
        return PS_ERR_NOMEM;
    for (int64_t c = 0; c < ncases; c++)
        a->rec_of_case[c] = -1;
    for (int64_t k = 0; k < a->journal->nrec; k++) {
        int64_t c = a->journal->rec[k].job;
        if (a->rec_of_case[c] < 0 && !skip[c]) {
            a->rec_of_case[c] = k;
            skip[c] = 1;
            info->resumed_jobs++;
        }
    }
    if (a->journal->torn_bytes > 0)
        ps_log(ctx, PS_LOG_INFO, "%s: dropped a torn last record (%lld bytes)", journal,
               (long long)a->journal->torn_bytes);
    return PS_OK;
}

int ps_agreement_run_dist(const ps_manifest *m, const ps_agree_options *opt,
                          const ps_context *ctx, const ps_eval_run_opts *o,
                          const char *extra_settings, const char *out_dir,
                          ps_agree_tables *tables, ps_agree_summary *sum, ps_eval_run_info *info)
{
    if (tables)
        memset(tables, 0, sizeof *tables);
    memset(sum, 0, sizeof *sum);
    memset(info, 0, sizeof *info);
    if (!m || !opt || !o)
        return ps_error(PS_ERR_ARG, "ps_agreement_run_dist: NULL argument");
    int rank = ps_dist_rank(o->dist), ranks = ps_dist_size(o->dist);
    int sharded = o->shard_count > 0;
    const char *manifest = o->manifest ? o->manifest : m->path;
    int64_t nc = m->ncases;
    ps_context quiet;
    if (ctx)
        quiet = *ctx;
    else
        ps_context_init(&quiet);
    quiet.progress = 0;
    arun a;
    memset(&a, 0, sizeof a);
    a.quiet = &quiet;
    a.sum = sum;
    a.stop = o->stop ? o->stop : opt->stop;
    a.local = ranks == 1;
    a.stopped_at = -1;
    ps_jr_header h;
    memset(&h, 0, sizeof h);
    unsigned char *skip = ps_calloc((size_t)(nc ? nc : 1), 1);
    int *shard_of_case = NULL;
    int64_t *bytes = NULL;
    int rc = skip ? agree_job_create(m, opt, &a.job) : PS_ERR_NOMEM;
    if (rc) { /* the same on every rank: nobody enters the queue */
        free(skip);
        return rc;
    }
    sum->nraters = agree_job_nraters(a.job);

    /* 2. the shard */
    if (sharded) {
        shard_of_case = ps_calloc((size_t)(nc ? nc : 1), sizeof *shard_of_case);
        bytes = ps_calloc((size_t)(nc ? nc : 1), sizeof *bytes);
        if (!shard_of_case || !bytes)
            rc = PS_ERR_NOMEM;
        for (int64_t c = 0; !rc && c < nc; c++)
            bytes[c] = agree_case_bytes_on_disk(a.job, c);
        if (!rc)
            rc = ps_eval_shard_assign_bytes(bytes, nc, o->shard_count, shard_of_case);
        for (int64_t c = 0; !rc && c < nc; c++)
            skip[c] = shard_of_case[c] != o->shard_index;
    }
    for (int64_t c = 0; !rc && c < nc; c++)
        info->shard_jobs += !skip[c];

    /* 3. the journal (rank 0) */
    struct stat st;
    if (!rc && rank == 0 && o->journal)
        rc = header_make(a.job, m, opt, manifest, extra_settings, o->shard_index,
                         o->shard_count, &h);
    if (!rc && rank == 0 && o->journal && o->resume && !stat(o->journal, &st))
        rc = resume_from(&a, o->journal, &h, nc, skip, ctx, info);
    else if (!rc && rank == 0 && o->journal && o->resume)
        ps_log(ctx, PS_LOG_INFO, "%s: no journal to resume from; starting from the first case",
               o->journal);
    if (!rc && rank == 0 && o->journal)
        rc = ps_jr_writer_open(o->journal, a.journal ? NULL : &h,
                               a.journal ? a.journal->valid_bytes : 0, &a.jw);
    /* 4. the tables and the run */
    if (!rc && rank == 0)
        rc = agree_out_open(a.job, out_dir, tables != NULL, &a.out);
    if (rc && ranks > 1 && rank == 0) {
        /* the other ranks wait in the queue for tasks: an empty run stops them */
        char msg[4096];
        snprintf(msg, sizeof msg, "%s", ps_error_message());
        ps_dist_run(o->dist, 0, NULL, 0, work, sink, &a);
        rc = ps_error(rc, "%s", msg);
    }
    if (!rc) {
        if (rank == 0)
            a.prog = ps_progress_start(ctx, "agreement", info->shard_jobs, "cases");
        rc = ps_dist_run(o->dist, nc, rank == 0 ? skip : NULL, 0, work, sink, &a);
        if (rank == 0 && rc == AGREE_STOPPED) {
            sum->stopped = 1;
            rc = replay_upto(&a, a.stopped_at); /* the finished prefix, journaled ones too */
        } else if (rank == 0 && !rc)
            rc = replay_upto(&a, nc);
        ps_progress_finish(a.prog);
    }

    /* 5. commit; the journal stays unless complete and unsharded */
    if (rank == 0) {
        int complete = !rc && !sum->stopped;
        rc = agree_out_close(a.out, rc, tables);
        if (a.jw) {
            info->journal_kept = !(complete && !rc) || sharded;
            int r3 = ps_jr_writer_close(a.jw, 0);
            if (!rc)
                rc = r3;
            info->journaled_jobs = info->resumed_jobs + a.ran;
        }
    }
    ps_jr_header_clear(&h);
    ps_jr_contents_free(a.journal);
    free(a.rec_of_case);
    free(shard_of_case);
    free(bytes);
    free(skip);
    agree_job_free(a.job);
    return rc;
}

int ps_agreement_run(const ps_manifest *m, const ps_agree_options *opt, const ps_context *ctx,
                     const char *out_dir, ps_agree_tables *tables, ps_agree_summary *summary)
{
    if (tables)
        memset(tables, 0, sizeof *tables);
    if (!m || !opt || (!out_dir && !tables))
        return ps_error(PS_ERR_ARG, "ps_agreement_run: NULL argument");
    ps_agree_summary dummy = {0};
    ps_eval_run_opts o;
    ps_eval_run_info info;
    memset(&o, 0, sizeof o);
    return ps_agreement_run_dist(m, opt, ctx, &o, NULL, out_dir, tables,
                                 summary ? summary : &dummy, &info);
}

/* ---- merge ---------------------------------------------------------------------------------- */

/* The folder of a journal (malloc'd, resolved), or NULL. */
static char *journal_dir(const char *journal)
{
    char *copy = ps_strdup(journal);
    if (!copy)
        return NULL;
    char *slash = strrchr(copy, '/');
    if (slash)
        slash[slash == copy] = 0; /* "/x.journal" -> "/" */
    char *real = realpath(slash ? copy : ".", NULL);
    free(copy);
    return real;
}

/* A case's id (the merge's messages). */
static void case_name(int64_t j, char *buf, size_t size, void *user)
{
    const ps_manifest *m = user;
    snprintf(buf, size, "%s", m->cases[j].id);
}

int ps_agreement_merge(const char *const *shards, int n, const char *out_dir,
                       const ps_table_format *want, ps_agree_tables *tables, char **extra_settings, ps_table_format *fmt,
                       ps_agree_summary *sum)
{
    if (tables)
        memset(tables, 0, sizeof *tables);
    memset(sum, 0, sizeof *sum);
    *extra_settings = NULL;
    if (n < 1 || !out_dir)
        return ps_error(PS_ERR_ARG, "no shards, or no output folder");
    ps_jr_contents **c = ps_calloc((size_t)n, sizeof *c);
    char **names = ps_calloc((size_t)n, sizeof *names);
    ps_manifest *m = NULL;
    ps_agree_options opt;
    ps_agree_options_init(&opt);
    char *settings = NULL, *rest = NULL, *out_real = NULL;
    agree_job *job = NULL;
    agree_out *out = NULL;
    int64_t *where = NULL; /* case -> shard * 2^32 + record, or -1 */
    int r = c && names ? PS_OK : PS_ERR_NOMEM;
    for (int i = 0; !r && i < n; i++) {
        if (!(names[i] = shard_journal(shards[i])))
            r = PS_ERR_NOMEM;
        else
            r = ps_jr_read(names[i], &c[i]);
    }
    if (!r && strcmp(c[0]->h.format, "agreement"))
        r = ps_error(PS_ERR_ARG, "%s is not a journal of panseval agreement (its format is %s)",
                     names[0], c[0]->h.format);
    char why[8192];
    for (int i = 1; !r && i < n; i++) {
        const char *d = ps_jr_header_differs(&c[0]->h, &c[i]->h, why, sizeof why);
        if (d)
            r = ps_error(PS_ERR_ARG, "%s and %s are not shards of one run: %s", names[0],
                         names[i], d);
        else if (c[i]->h.shard_count != c[0]->h.shard_count)
            r = ps_error(PS_ERR_ARG, "%s is shard %d/%d, %s is %d/%d", names[0],
                         c[0]->h.shard_index, c[0]->h.shard_count, names[i],
                         c[i]->h.shard_index, c[i]->h.shard_count);
    }
    /* the output folder is none of the shards' folders (its tables would be replaced) */
    if (!r && (out_real = realpath(out_dir, NULL)))
        for (int i = 0; !r && i < n; i++) {
            char *d = journal_dir(names[i]);
            if (d && !strcmp(d, out_real))
                r = ps_error(PS_ERR_ARG, "the output folder %s is the folder of the shard %s; "
                             "give another one", out_dir, names[i]);
            free(d);
        }
    /* the run: manifest, options, cases */
    if (!r)
        r = ps_agree_open(c[0]->h.manifest, NULL, &m); /* the folder once all is checked */
    if (!r) {
        uint64_t mh;
        if ((r = ps_jr_file_hash(c[0]->h.manifest, &mh)))
            ;
        else if (mh != c[0]->h.manifest_hash)
            r = ps_error(PS_ERR_ARG, "%s changed since the shards ran (its hash differs from "
                         "the journals')", c[0]->h.manifest);
    }
    if (!r && !(settings = ps_strdup(c[0]->h.settings)))
        r = PS_ERR_NOMEM;
    if (!r && (r = agree_settings_apply(settings, &opt, &rest)))
        r = ps_error_context(r, "%s: the recorded options", names[0]);
    *fmt = opt.format;
    if (!r && want && *want != *fmt)
        r = ps_error(PS_ERR_ARG, "the shards are %s tables; the output must be %s too (give "
                     "--format %s or none)", ps_table_format_name(*fmt),
                     ps_table_format_name(*fmt), ps_table_format_name(*fmt));
    if (!r)
        r = agree_job_create(m, &opt, &job);
    if (!r) {
        uint64_t ph = FNV_BASIS;
        if (!(r = agree_job_hash(job, ps_jr_fnv, &ph)) &&
            (ph != c[0]->h.plan_hash || m->ncases != c[0]->h.njobs))
            r = ps_error(PS_ERR_ARG, "%s: its cases or label maps differ from the journals' "
                         "(%lld cases now, %lld then)", c[0]->h.manifest, (long long)m->ncases,
                         (long long)c[0]->h.njobs);
    }
    /* every case exactly once */
    if (!r && !(where = ps_malloc_array((size_t)(m->ncases ? m->ncases : 1), sizeof *where)))
        r = PS_ERR_NOMEM;
    if (!r)
        r = ps_jr_coverage(c, n, (const char *const *)names, m->ncases, "case(s)", NULL,
                           case_name, (void *)m, where);
    /* the tables, in case order */
    if (!r && mkdir(out_dir, 0777) && errno != EEXIST)
        r = ps_error(PS_ERR_IO, "%s: cannot create the folder: %s", out_dir, strerror(errno));
    if (!r)
        r = agree_out_open(job, out_dir, tables != NULL, &out);
    for (int64_t j = 0; !r && j < m->ncases; j++) {
        const ps_jr_record *rec = &c[where[j] >> 32]->rec[where[j] & 0xffffffff];
        r = agree_out_case(out, j, rec->payload, rec->len, sum);
    }
    if (out)
        r = agree_out_close(out, r, tables);
    if (job)
        sum->nraters = agree_job_nraters(job);
    if (!r) {
        *extra_settings = rest;
        rest = NULL;
    }
    for (int i = 0; c && i < n; i++) {
        ps_jr_contents_free(c[i]);
        if (names)
            free(names[i]);
    }
    free(c);
    free(names);
    free(where);
    free(rest);
    free(out_real);
    agree_job_free(job);
    ps_agree_options_clear(&opt);
    free(settings); /* after opt: ref_name pointed into it */
    ps_manifest_free(m);
    return r;
}
