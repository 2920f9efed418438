/* ps_eval_dist.h - long and distributed evaluation runs: the journal (resume), shards
 * (SLURM job arrays) with their merge, and MPI ranks. Built on the driver of ps_eval.h.
 *
 * The journal "<output>.journal" is an append-only file beside the output table. Its header
 * names the panseval version, the manifest (path and a 64-bit FNV-1a hash of its bytes), a
 * hash of the plan (every job's case, model, reference and prediction), the settings that
 * change numbers (as `name=value` pairs of ps_eval_settings_set), the models, the table
 * format and the shard. Then one record per finished job, in plan order: the job's rows,
 * serialized exactly (the metric values as their bits), with a checksum. So:
 *   - resume: the jobs of the journal are not run again, and their rows are written from the
 *     journal at their place: the table is byte-identical to an uninterrupted run. A journal
 *     whose header differs (other manifest, other options, other version) is refused with
 *     the difference; a torn last record (the process died while writing it) is dropped.
 *   - shards: `--shard I/N` runs only the cases of shard I (balanced by the size of their
 *     files) and keeps its journal; ps_eval_merge joins the journals of all N shards into the
 *     table a one-process run writes, after checking that they agree and cover every job
 *     exactly once.
 *   - MPI: the jobs are spread over the ranks of a ps_dist queue; rank 0 writes the journal
 *     and the table.
 * Durability: each record is written with one write() as soon as its job is handed over in
 * order (so a killed process loses nothing that was journaled), and fdatasync() is called
 * when a second or more has passed since the last one, and at the end: a power failure loses
 * at most about a second of finished jobs. The output table is only ever replaced by an
 * atomic rename, so no run leaves a truncated table.
 */
#ifndef PS_EVAL_DIST_H
#define PS_EVAL_DIST_H

#include "ps_eval.h"
#include "ps_infer.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct ps_eval_run_opts {
    const char *manifest;             /* manifest path (hashed, recorded); NULL otherwise   */
    const char *const *models;        /* --model names as given (recorded); may be NULL    */
    int nmodels;
    const char *journal;              /* journal path; NULL = no journal (output on stdout) */
    int resume;                       /* 1 = skip the jobs already in the journal           */
    int shard_index, shard_count;     /* shard I of N (1-based); 0, 0 = all cases           */
    ps_dist *dist;                    /* MPI queue (every rank calls); NULL = this process  */
    volatile sig_atomic_t *stop;      /* nonzero = take no new job (a signal); may be NULL  */
    const ps_eval_sink *tee;          /* rank 0: also gets every job's rows as they are
                                         written to the table, in plan order, rows replayed
                                         from the journal included; NULL = none            */
} ps_eval_run_opts;

typedef struct ps_eval_run_info {
    int64_t resumed_jobs;    /* jobs whose rows came from the journal                     */
    int64_t journaled_jobs;  /* jobs in the journal at the end (kept ones included)         */
    int64_t shard_jobs;      /* jobs of this shard (all jobs without sharding)              */
    int journal_kept;        /* 1 = the journal stays (interrupted, failed, or a shard); 0 =
                                complete: call ps_eval_journal_discard after the commit  */
} ps_eval_run_info;

/* Run the plan into the table `out` (format fmt) with the journal, shard and MPI options.
 * On MPI ranks other than 0, out is not used (may be NULL) and only the work is done.
 * sum as ps_eval_run's (resumed jobs count as emitted, their error and missing rows are
 * counted). Errors: PS_ERR_ARG when a journal to resume does not match (the message says
 * what differs), PS_ERR_IO/FORMAT for an unreadable journal, else as ps_eval_run. */
int ps_eval_run_dist(const ps_eval_plan *plan, const ps_eval_settings *s,
                     const ps_context *ctx, const ps_eval_run_opts *o, FILE *out,
                     ps_table_format fmt, ps_eval_summary *sum, ps_eval_run_info *info);

/* ps_eval_run_dist into the table at path (NULL or "-" = standard output), as `panseval
 * metrics` does it (run_to_path.c): rank 0 writes the table atomically, with the journal
 * "<path>.journal" for a file (opts->journal is ignored), commits it (an interrupted run
 * commits its finished prefix), removes the journal of a complete run and writes the sidecar
 * "<path>.meta.json". Progress is shown on rank 0 only. Errors: the first of the output's,
 * the run's, the journal removal's and the sidecar's. */
int ps_eval_run_to_path(const ps_eval_plan *plan, const ps_eval_settings *s,
                        const ps_context *ctx, const ps_eval_run_opts *opts, const char *path,
                        ps_table_format fmt, ps_eval_summary *sum, ps_eval_run_info *info);

/* Remove the journal of a complete run, after its table was committed (ENOENT is fine). */
int ps_eval_journal_discard(const char *journal);

/* Parse "I/N" (1 <= I <= N <= 100000). PS_ERR_ARG with a message otherwise. */
int ps_eval_shard_parse(const char *s, int *index, int *count);

/* The shard (1..count) of every case of the plan: cases sorted by the bytes of their files
 * (reference and predictions; largest first, ties in manifest order) go one by one to the
 * shard with the fewest bytes so far (ties: the lowest shard). Deterministic for a given
 * manifest and files. shard_of_case[plan->ncases] is filled. */
int ps_eval_shard_assign(const ps_eval_plan *plan, int count, int *shard_of_case);
/* The same greedy split of n items of the given costs (bytes[n]): shard_of[n] (1..count). */
int ps_eval_shard_assign_bytes(const int64_t *bytes, int64_t n, int count, int *shard_of);

/* Join shard journals into the table a one-process run writes (and its sidecar when
 * out_path is a file). `journals` are journal files, or tables whose journal is
 * "<table>.journal". Checks: same version, manifest hash, plan, settings and format, shard
 * counts equal, every job exactly once (a missing or duplicated job is PS_ERR_ARG naming the
 * cases, up to 20). The plan and settings are rebuilt from the manifest and the settings
 * recorded in the journals. The format must be the journals'. */
int ps_eval_merge(const char *const *journals, int n, FILE *out, const char *out_path,
                  ps_table_format fmt, const ps_context *ctx, ps_eval_summary *sum);

/* ---- panseval agreement (agree_dist.c) ----------------------------------------------------
 * The same three modes for ps_agreement_run (ps_eval.h): one journal record per case (the
 * cells of the case's rows in every agreement table, numbers as their bits, and its counts),
 * the journal's format line "agreement", its identity made of the version, the manifest's
 * hash, a hash of every case's id and label-map paths, the options (ps_agree_options_set's
 * names, and format=FMT of the tables) with the caller's recorded settings, and the shard.
 * Shards are balanced by the bytes of the label maps each case reads. */

/* "DIR/agreement.journal" (malloc'd): the journal of an agreement run into DIR. */
char *ps_agreement_journal_path(const char *out_dir);

/* ps_agreement_run with the journal o->journal (NULL: none), o->resume, the shard and MPI
 * options of o (o->models and o->tee are not used; o->manifest NULL = m->path, hashed; the
 * stop flag is o->stop, else opt->stop, and is honoured by one process only). Every rank
 * calls it with the same manifest and options; rank 0 writes out_dir's per-row tables and the
 * journal, and fills `tables` (may be NULL) and *sum; other ranks only compute. extra_settings
 * (TAB-separated name=value, may be NULL) is recorded beside the options and compared on
 * resume: the caller's settings that change its outputs (the aggregates' --by), given back by
 * ps_agreement_merge. info as for ps_eval_run_dist (jobs are cases); a complete unsharded run
 * leaves the journal for the caller to remove (ps_eval_journal_discard) once every output is
 * in place. Errors: as ps_agreement_run; PS_ERR_ARG for a journal that does not match. */
int ps_agreement_run_dist(const ps_manifest *m, const ps_agree_options *opt,
                          const ps_context *ctx, const ps_eval_run_opts *o,
                          const char *extra_settings, const char *out_dir,
                          ps_agree_tables *tables, ps_agree_summary *sum,
                          ps_eval_run_info *info);

/* Join the journals of `agreement --shard I/N` runs into out_dir's per-row tables as one
 * process writes them (out_dir is created; it may not be a shard's folder). `shards` are
 * journals or the shards' output folders (FOLDER/agreement.journal). Checks as ps_eval_merge:
 * agreement journals, the same version, manifest (still at the recorded path, same hash),
 * cases and label-map paths, options and table format, the same N, every case exactly once
 * (missing and duplicated cases named, up to 20). want (may be NULL) is the format the caller needs. Returns the tables
 * (with tables non-NULL), the recorded extra settings (*extra_settings, malloc'd), the format
 * *fmt and the counts. */
int ps_agreement_merge(const char *const *shards, int n, const char *out_dir,
                       const ps_table_format *want, ps_agree_tables *tables,
                       char **extra_settings, ps_table_format *fmt, ps_agree_summary *sum);

/* The format recorded in a journal: "agreement" for ps_agreement_run_dist's, "infer" for
 * ps_eval_infer_run's (below), else a table format (metrics); *format malloc'd. shard names a journal, the output it belongs to (as
 * ps_eval_merge: TABLE.journal) or an agreement output folder (FOLDER/agreement.journal).
 * Errors: the journal cannot be read. */
int ps_eval_journal_format(const char *shard, char **format);

/* ---- inference over a manifest (`panseval infer --manifest`, reproduce --model) ----------
 * ps_predict_manifest (ps_infer.h) with the journal, shards and MPI ranks of the evaluation
 * driver. The journal (same file layout as above, format "infer") has in its header the
 * manifest and its hash, a hash of the cases (ids, images, output paths), the model name and
 * ps_predictor_identity (model folder, folds, checkpoint, mirroring, step, postprocessing,
 * backend, checkpoint stamps) with the output folder; then one record per finished case with
 * an image, in manifest order: its status (predicted, kept, failed), the prediction's path,
 * size and FNV-1a 64 hash of its bytes, and the logged error of a failure.
 *   - resume: a journaled case is not predicted again when its file still has the recorded
 *     size and hash (else it is, and counted in `redone`); its failure is logged again, so
 *     the log, the counts and the manifest copy are those of an uninterrupted run. A case
 *     not in the journal is predicted even when its file exists (it may be a partial run's).
 *   - shards: `--shard I/N` predicts the cases of shard I only (balanced by the bytes of
 *     their image files) and keeps its journal; ps_eval_infer_merge writes the manifest copy
 *     of the whole run from the shards' journals.
 *   - MPI: the cases are handed out by a ps_dist queue; each rank writes the predictions it
 *     makes (atomically; a shared file system is assumed), rank 0 logs every case in manifest
 *     order, writes the journal and the manifest copy. Every rank needs its own predictor
 *     (same model and options) and the manifest.
 * The manifest copy is written only by a complete run (not when stopped); a complete run
 * without shards removes its journal. */
typedef struct ps_eval_infer_opts {
    const char *manifest;          /* the manifest's path (hashed, recorded)                */
    const char *name;              /* pred:NAME of the manifest copy                        */
    const char *out_dir;           /* OUT_DIR/CASE.nii.gz; created                          */
    int force;                     /* predict cases whose output exists                     */
    const char *manifest_out;      /* the manifest copy; NULL = none                        */
    const char *journal;           /* NULL = "<manifest_out>.journal", or none without one  */
    int resume;                    /* 1 = go on from the journal                            */
    int shard_index, shard_count;  /* shard I of N; 0, 0 = every case                       */
    ps_dist *dist;                 /* MPI queue (every rank calls); NULL = this process     */
    volatile sig_atomic_t *stop;   /* nonzero = start no new case (one process); may be NULL */
} ps_eval_infer_opts;

typedef struct ps_eval_infer_result {
    int64_t done, skipped, failed, no_image; /* as ps_predict_manifest_result, journaled
                                                cases counted as they were first          */
    int64_t resumed;       /* cases taken from the journal                                 */
    int64_t redone;        /* journaled cases whose file changed: predicted again           */
    int64_t cases;         /* cases of this run with an image (of the shard)                */
    int64_t finished;      /* of them, finished (resumed included) and journaled            */
    int stopped;           /* interrupted: no manifest copy, the journal kept               */
    int journal_kept;      /* the journal stays (stopped, a shard, an error)                */
} ps_eval_infer_result;

/* Predict the cases of m with p (see above). m->path is used in messages; o->manifest is the
 * file that is hashed. On MPI ranks other than 0 only the work is done. Errors: PS_ERR_ARG
 * for a journal that does not match (the message says what differs), else as
 * ps_predict_manifest; a failing case is counted, not an error. */
int ps_eval_infer_run(ps_predictor *p, const ps_manifest *m, const ps_eval_infer_opts *o,
                      const ps_context *ctx, ps_eval_infer_result *res);

/* `panseval infer --manifest`: read o->manifest (a missing image fails its case only), load
 * the model (ps_predictor_create with folds and popt), then ps_eval_infer_run. Under MPI every
 * rank calls it; the ranks agree after each step (ps_dist_sync), so a failure on any rank
 * stops them all. Errors as those functions. */
int ps_eval_infer_manifest(const char *model_dir, const int *folds, int nfolds,
                           const ps_predict_options *popt, const ps_eval_infer_opts *o,
                           const ps_context *ctx, ps_eval_infer_result *res);

/* Join the journals of `infer --shard I/N` runs into the manifest copy a one-process run
 * writes (out_path, atomically), after the checks of ps_eval_merge (same version, manifest
 * hash, cases, model and options, same N, every case with an image exactly once: a missing
 * or duplicated case is PS_ERR_ARG naming the cases, up to 20). res counts as the run's. */
int ps_eval_infer_merge(const char *const *journals, int n, const char *out_path,
                        const ps_context *ctx, ps_eval_infer_result *res);

#ifdef __cplusplus
}
#endif
#endif /* PS_EVAL_DIST_H */
