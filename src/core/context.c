/* context.c - run context, logging and progress display. */
#define _GNU_SOURCE /* sched_getaffinity, CPU_COUNT */
#include "ps_core.h"
#include "ps_config.h"

#include <stdarg.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sched.h>
#include <time.h>
#include <unistd.h>
#ifdef _OPENMP
#include <omp.h>
#endif

const char *ps_version(void)
{
    return PS_VERSION;
}

void ps_context_init(ps_context *ctx)
{
    memset(ctx, 0, sizeof *ctx);
    ctx->threads = 0;
    ctx->seed = 1;
    ctx->verbosity = 1;
    ctx->progress = -1;
    ctx->log = NULL;
}

int ps_context_threads(const ps_context *ctx)
{
    if (ctx && ctx->threads > 0)
        return ctx->threads;
#ifdef _OPENMP
    int n = omp_get_max_threads();
    return n > 0 ? n : 1;
#else
    return 1;
#endif
}

int ps_cpus_available(void)
{
#ifdef __linux__
    cpu_set_t set;
    if (sched_getaffinity(0, sizeof set, &set) == 0 && CPU_COUNT(&set) > 0)
        return CPU_COUNT(&set);
#endif
    long n = sysconf(_SC_NPROCESSORS_ONLN);
    return n > 0 ? (int)n : 1;
}

void ps_context_check_threads(const ps_context *ctx, const char *cmd)
{
    int want = ctx ? ctx->threads : 0, have = ps_cpus_available();
    if (want <= have)
        return;
    ps_log(ctx, PS_LOG_WARN, "%s: -j %d asks for %d threads, but this process may "
           "run on only %d CPU%s (its CPU affinity, set by the program that started it), so the "
           "threads would share %s; under mpirun give each rank its cores (mpirun --map-by "
           "slot:PE=%d, or --bind-to none), under srun ask for them (--cpus-per-task=%d)",
           cmd, want, want, have, have == 1 ? "" : "s", have == 1 ? "it" : "them", want, want);
}

double ps_now_seconds(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static FILE *log_stream(const ps_context *ctx)
{
    return ctx && ctx->log ? ctx->log : stderr;
}

void ps_log(const ps_context *ctx, int level, const char *fmt, ...)
{
    int verbosity = ctx ? ctx->verbosity : 1;
    if (level > verbosity)
        return;
    static const char *names[] = {"error", "warning", "info", "debug"};
    char line[8192];
    int n = snprintf(line, sizeof line, "panseval: %s: ", names[level < 0 ? 0 : level > 3 ? 3 : level]);
    va_list ap;
    va_start(ap, fmt);
    if (n > 0 && (size_t)n < sizeof line)
        vsnprintf(line + n, sizeof line - (size_t)n, fmt, ap);
    va_end(ap);
    /* one fputs per line: stdio locks the stream, so lines from threads never interleave */
    FILE *f = log_stream(ctx);
    flockfile(f);
    fputs(line, f);
    fputc('\n', f);
    funlockfile(f);
}

struct ps_progress {
    FILE *out;
    char label[64];
    char unit[32];
    int64_t total;
    _Atomic int64_t done;
    _Atomic int64_t next_draw_ns; /* earliest monotonic time (ns) for the next redraw */
    double t0;
};

static void fmt_duration(char *buf, size_t n, double s)
{
    if (s < 0 || s != s)
        s = 0;
    long t = (long)(s + 0.5);
    if (t >= 3600)
        snprintf(buf, n, "%ld:%02ld:%02ld", t / 3600, (t / 60) % 60, t % 60);
    else
        snprintf(buf, n, "%ld:%02ld", t / 60, t % 60);
}

static void progress_draw(ps_progress *p, int final)
{
    int64_t done = atomic_load(&p->done);
    double el = ps_now_seconds() - p->t0;
    char e[32], r[32] = "";
    fmt_duration(e, sizeof e, el);
    if (!final && done > 0 && p->total > done) {
        char tmp[24];
        fmt_duration(tmp, sizeof tmp, el / (double)done * (double)(p->total - done));
        snprintf(r, sizeof r, ", ~%s left", tmp);
    }
    flockfile(p->out);
    fprintf(p->out, "\r%s %lld/%lld %s  %s elapsed%s\033[K", p->label, (long long)done,
            (long long)p->total, p->unit, e, r);
    if (final)
        fputc('\n', p->out);
    fflush(p->out);
    funlockfile(p->out);
}

ps_progress *ps_progress_start(const ps_context *ctx, const char *label, int64_t total,
                               const char *unit)
{
    int on = ctx ? ctx->progress : -1;
    FILE *out = log_stream(ctx);
    if (on < 0)
        on = isatty(fileno(out));
    if (!on || (ctx && ctx->verbosity < 1))
        return NULL;
    ps_progress *p = calloc(1, sizeof *p);
    if (!p)
        return NULL; /* progress is a courtesy: no error if it cannot be shown */
    p->out = out;
    snprintf(p->label, sizeof p->label, "%s", label ? label : "");
    snprintf(p->unit, sizeof p->unit, "%s", unit ? unit : "");
    p->total = total;
    p->t0 = ps_now_seconds();
    progress_draw(p, 0);
    return p;
}

void ps_progress_add(ps_progress *p, int64_t n)
{
    if (!p)
        return;
    atomic_fetch_add(&p->done, n);
    int64_t now = (int64_t)(ps_now_seconds() * 1e9);
    int64_t next = atomic_load(&p->next_draw_ns);
    if (now < next)
        return;
    if (!atomic_compare_exchange_strong(&p->next_draw_ns, &next, now + 200000000))
        return; /* another thread redraws */
    progress_draw(p, 0);
}

void ps_progress_finish(ps_progress *p)
{
    if (!p)
        return;
    progress_draw(p, 1);
    free(p);
}
