/* ps_core.h - status codes, error messages, logging, progress, allocation, run context.
 *
 * Every panseval function that can fail returns an int status: 0 (PS_OK) on success, a
 * negative PS_ERR_* code on failure. The failing function records a human-readable message
 * with ps_error(); callers that know more (a file name, a case id) prepend it with
 * ps_error_context() and pass the code up:
 *
 *     if ((rc = ps_volume_read_labels(path, &ref)))
 *         return ps_error_context(rc, "case %s", case_id);
 *
 * Messages are kept per thread, so cases evaluated in parallel never mix their errors.
 * Nothing in the library calls exit() or abort().
 */
#ifndef PS_CORE_H
#define PS_CORE_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#ifdef __cplusplus
extern "C" {
#endif

#if defined(__GNUC__)
#define PS_PRINTF(f, a) __attribute__((format(printf, f, a)))
#define PS_NODISCARD __attribute__((warn_unused_result))
#else
#define PS_PRINTF(f, a)
#define PS_NODISCARD
#endif

/* PS_HOT: a hot loop compiled for x86-64-v4 (AVX-512), x86-64-v3 (AVX2 + FMA) and baseline
 * x86-64; the loader picks one at start-up by CPU features (GCC function multi-versioning;
 * "arch=<cpu model>" clones would be chosen only on that exact model). Within one machine the
 * code path is fixed, so results stay independent of the thread count; integer loops give the
 * same answer in every clone. Internal: not for the public headers' users. */
#if defined(__GNUC__) && !defined(__clang__) && defined(__x86_64__) && defined(__linux__)
#define PS_HOT __attribute__((target_clones("arch=x86-64-v4", "arch=x86-64-v3", "default")))
#else
#define PS_HOT
#endif

/* ---- status codes ------------------------------------------------------------------- */
enum ps_status {
    PS_OK = 0,
    PS_ERR_NOMEM = -1,       /* allocation failed or a size would overflow            */
    PS_ERR_IO = -2,          /* open/read/write/rename failed (errno text in message) */
    PS_ERR_FORMAT = -3,      /* corrupt, truncated or malformed input                 */
    PS_ERR_ARG = -4,         /* invalid argument or option value                      */
    PS_ERR_GEOMETRY = -5,    /* volumes do not share dims / spacing / orientation     */
    PS_ERR_UNSUPPORTED = -6, /* valid input we do not handle (datatype, feature)      */
    PS_ERR_NUMERIC = -7,     /* a statistic is undefined or did not converge          */
    PS_ERR_RANGE = -8,       /* a value or index is out of its permitted range        */
    PS_ERR_INTERNAL = -9,    /* a bug in panseval: please report                      */
};

/* Short name of a status code ("io", "format", ...). Never NULL. */
const char *ps_status_name(int code);

/* Record `fmt` as this thread's error message and return `code` (so `return ps_error(...)`). */
int ps_error(int code, const char *fmt, ...) PS_PRINTF(2, 3);

/* Prepend "<context>: " to this thread's message and return `code`. */
int ps_error_context(int code, const char *fmt, ...) PS_PRINTF(2, 3);

/* This thread's current message ("" if none). Valid until the next ps_error* call. */
const char *ps_error_message(void);

/* Code recorded with the current message (PS_OK if none). */
int ps_error_code(void);

/* Forget this thread's message. */
void ps_error_clear(void);

/* ---- version -------------------------------------------------------------------------- */
/* The library's version ("0.1.0"): the same string as `panseval --version` and the
 * pkg-config file. Programs built against an installed libpanseval can compare it with the
 * version of the headers they were compiled with. */
const char *ps_version(void);

/* ---- run context ---------------------------------------------------------------------- */
/* Everything that would otherwise be global state travels in this struct. */
typedef struct ps_context {
    int threads;     /* OpenMP threads; 0 = all available cores                   */
    uint64_t seed;   /* seed for every random number generator (bootstrap, demo)  */
    int verbosity;   /* 0 quiet, 1 normal (warnings), 2 info, 3 debug             */
    int progress;    /* -1 auto (on when stderr is a terminal), 0 off, 1 on       */
    FILE *log;       /* where warnings and progress go; NULL = stderr             */
} ps_context;

/* Fill `ctx` with the defaults: all cores, seed 1, verbosity 1, progress auto. */
void ps_context_init(ps_context *ctx);

/* Resolved thread count (>= 1). */
int ps_context_threads(const ps_context *ctx);
/* The CPUs this process may run on (its CPU affinity; all online CPUs where that is unknown).
 * mpirun binds each rank to one core by default, srun to --cpus-per-task. */
int ps_cpus_available(void);
/* A warning (ps_log, PS_LOG_WARN) when ctx->threads asks for more threads than
 * ps_cpus_available(), naming the launcher options that give the cores; cmd names the
 * command in it. */
void ps_context_check_threads(const ps_context *ctx, const char *cmd);

/* ---- logging -------------------------------------------------------------------------- */
enum { PS_LOG_ERROR = 0, PS_LOG_WARN = 1, PS_LOG_INFO = 2, PS_LOG_DEBUG = 3 };

/* Print "panseval: <level>: message\n" when level <= ctx->verbosity (ctx may be NULL).
 * Thread-safe: one call writes one whole line. */
void ps_log(const ps_context *ctx, int level, const char *fmt, ...) PS_PRINTF(3, 4);

/* ---- progress --------------------------------------------------------------------------- */
/* A progress line on the log stream ("label  37/200 cases  0:12 elapsed, ~0:53 left"),
 * redrawn at most 5 times a second. Only shown when ctx->progress says so.
 * ps_progress_add() is thread-safe and cheap; start/finish are called by one thread. */
typedef struct ps_progress ps_progress;
ps_progress *ps_progress_start(const ps_context *ctx, const char *label, int64_t total,
                               const char *unit);
void ps_progress_add(ps_progress *p, int64_t n);
void ps_progress_finish(ps_progress *p); /* accepts NULL */

/* ---- distributed work queue (MPI) --------------------------------------------------------
 * Spreads n tasks (cases) over the ranks of an MPI job, dynamically: rank 0 hands out task
 * indices on request, every rank (rank 0 too, between its messages) runs tasks, each task's
 * result travels back to rank 0 as bytes, and rank 0 passes the results to `sink` in index
 * order, whichever rank made them and whenever they arrive. So the output of a job is the
 * same for any number of ranks. Built only with meson's `mpi` feature (OpenMPI); without it
 * ps_dist_init fails with PS_ERR_UNSUPPORTED and a message saying how to build it.
 * Thread safety: one ps_dist per process, used by the thread that created it (MPI's
 * FUNNELED level); the work function may use OpenMP inside. */
typedef struct ps_dist ps_dist;

/* 1 when this build has MPI support, else 0. */
int ps_dist_available(void);

/* The number of processes when the program was started by mpirun/mpiexec/srun (from their
 * environment: OMPI_COMM_WORLD_SIZE, PMI_SIZE, PMIX_SIZE... ), 0 otherwise. Lets a build
 * without MPI refuse to run K copies that would all write the same outputs. */
int ps_dist_launched_size(void);

/* Start MPI (MPI_Init_thread, FUNNELED) and make the queue. Errors: PS_ERR_UNSUPPORTED when
 * built without MPI; PS_ERR_IO when MPI cannot start. */
int ps_dist_init(int *argc, char ***argv, ps_dist **out);
int ps_dist_rank(const ps_dist *d); /* 0 for NULL */
int ps_dist_size(const ps_dist *d); /* 1 for NULL */
/* Finish MPI (MPI_Finalize) and free; accepts NULL. */
void ps_dist_finalize(ps_dist *d);
/* End the whole job at once (MPI_Abort) after a fatal error on this rank; no-op for NULL. */
void ps_dist_abort(ps_dist *d, int status);

/* A task: compute task `index` and return its result in *bytes (malloc'd, taken over by the
 * queue; may be NULL when *len is 0). A failure of the case itself belongs in the bytes (an
 * error row); a non-zero return is fatal for the whole run (its message is sent to rank 0). */
typedef int (*ps_dist_work_fn)(int64_t index, void *user, unsigned char **bytes, size_t *len);
/* Called on rank 0 only, once per task, in index order. A non-zero return stops the run. */
typedef int (*ps_dist_sink_fn)(int64_t index, const unsigned char *bytes, size_t len,
                               void *user);

/* Run tasks 0..n-1 on every rank (collective: every rank calls it with the same n). With
 * d == NULL or one rank, the tasks run here, in order. `skip` (may be NULL; rank 0's is used)
 * marks tasks not to run (already journaled): they are handed to nobody and not passed to the
 * sink. Rank 0 keeps at most `window` finished results waiting for a slower predecessor
 * (0 = 64 per rank), which bounds its memory. Returns 0 on every rank when all tasks were
 * sunk; on a failure rank 0 returns the error (a worker's message names the rank and task)
 * and the other ranks return PS_ERR_INTERNAL quietly. A rank that dies ends the job through
 * MPI (mpirun names the rank); results sunk before that are kept by the sink's caller. */
int ps_dist_run(ps_dist *d, int64_t n, const unsigned char *skip, int64_t window,
                ps_dist_work_fn work, ps_dist_sink_fn sink, void *user);
/* A barrier that also agrees on failure (collective): every rank passes its status (0 or a
 * PS_ERR_ code) and gets its own back when nonzero; a rank whose status is 0 gets the lowest
 * code of the failed ranks, with a message saying that another rank failed (that rank
 * reports its own). Lets the ranks stop together after a step of rank 0 (a file that the
 * others read next) or of any rank. d == NULL or one rank: returns status. */
int ps_dist_sync(ps_dist *d, int status);

/* ---- allocation -------------------------------------------------------------------------- */
/* malloc/calloc/realloc that record PS_ERR_NOMEM with the size on failure.
 * ps_malloc_array() and ps_calloc() check n * size for overflow. */
void *ps_malloc(size_t size);
void *ps_malloc_array(size_t n, size_t size);
void *ps_calloc(size_t n, size_t size);
void *ps_realloc_array(void *p, size_t n, size_t size);
/* For buffers of many MiB (voxel data, distance maps): like ps_malloc (64-byte aligned,
 * uninitialised), but from 8 MiB on the block lies on transparent huge pages (up to 512x
 * fewer page faults on its first write), and a released block is kept in a small bounded
 * cache (at most 8 blocks, 1 GiB) for the next request it can hold, so a run that reads one
 * volume after another does not fault and zero fresh pages for each. Thread-safe.
 * Release with ps_free_large(), never free(). */
void *ps_malloc_large(size_t size);
void ps_free_large(void *p); /* accepts NULL */
/* The same, zero-filled; a large one is a fresh mapping whose untouched pages cost nothing
 * (never a cached block). Release with ps_free_large(). */
void *ps_calloc_large(size_t size);
/* Free the cached blocks (they are reachable, not leaked, until then). */
void ps_large_cache_release(void);
char *ps_strdup(const char *s);
char *ps_strndup(const char *s, size_t n);
/* printf into a freshly allocated string (NULL + PS_ERR_NOMEM on failure). */
char *ps_asprintf(const char *fmt, ...) PS_PRINTF(1, 2);

/* a*b (and a*b*c) without overflow: returns 0 and stores the product, or PS_ERR_NOMEM. */
int ps_mul_size(size_t a, size_t b, size_t *out);
int ps_mul3_size(size_t a, size_t b, size_t c, size_t *out);

/* ---- small helpers ------------------------------------------------------------------------ */
/* Monotonic wall-clock seconds. */
double ps_now_seconds(void);

#ifdef __cplusplus
}
#endif
#endif /* PS_CORE_H */
