/* cli_common.c - options and helpers shared by all subcommands. */
#include "cli.h"

#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

void cli_common_init(cli_common *c, ps_table_format default_format)
{
    memset(c, 0, sizeof *c);
    ps_context_init(&c->ctx);
    c->format = default_format;
}

int cli_parse_int(const char *cmd, const char *opt, const char *s, long lo, long hi, long *out)
{
    char *end;
    errno = 0;
    long v = strtol(s, &end, 10);
    if (errno || end == s || *end || v < lo || v > hi) {
        cli_usage_error(cmd, "%s expects a whole number from %ld to %ld, got '%s'", opt, lo, hi, s);
        return -1;
    }
    *out = v;
    return 0;
}

int cli_parse_double(const char *cmd, const char *opt, const char *s, double lo, double hi,
                     double *out)
{
    char *end;
    errno = 0;
    double v = strtod(s, &end);
    if (errno || end == s || *end || !(v >= lo && v <= hi)) {
        cli_usage_error(cmd, "%s expects a number from %g to %g, got '%s'", opt, lo, hi, s);
        return -1;
    }
    *out = v;
    return 0;
}

int cli_common_option(cli_common *c, int code, const char *arg)
{
    long v;
    switch (code) {
    case CLI_OPT_THREADS:
        if (cli_parse_int("", "-j/--threads", arg, 1, 4096, &v))
            return -1;
        c->ctx.threads = (int)v;
        return 1;
    case CLI_OPT_OUTPUT:
        c->output = arg;
        return 1;
    case CLI_OPT_FORMAT:
        if (ps_table_format_parse(arg, &c->format)) {
            cli_usage_error("", "--format must be csv, tsv or json, got '%s'", arg);
            return -1;
        }
        c->format_set = 1;
        return 1;
    case CLI_OPT_SEED: {
        char *end;
        errno = 0;
        unsigned long long s = strtoull(arg, &end, 10);
        if (errno || end == arg || *end || arg[0] == '-') {
            cli_usage_error("", "--seed expects a non-negative whole number, got '%s'", arg);
            return -1;
        }
        c->ctx.seed = (uint64_t)s;
        return 1;
    }
    case 'q':
    case CLI_OPT_QUIET:
        c->ctx.verbosity = 0;
        return 1;
    case 'v':
    case CLI_OPT_VERBOSE:
        c->ctx.verbosity++;
        return 1;
    case CLI_OPT_PROGRESS:
        c->ctx.progress = 1;
        return 1;
    case CLI_OPT_NO_PROGRESS:
        c->ctx.progress = 0;
        return 1;
    case 'h':
    case CLI_OPT_HELP:
        c->help = 1;
        return 1;
    default:
        return 0;
    }
}

int cli_report_error(const char *cmd, int rc)
{
    const char *msg = ps_error_message();
    fprintf(stderr, "panseval %s: %s\n", cmd, *msg ? msg : ps_status_name(rc));
    return rc == PS_ERR_ARG ? 2 : 1;
}

int cli_usage_error(const char *cmd, const char *fmt, ...)
{
    va_list ap;
    fprintf(stderr, "panseval%s%s: ", *cmd ? " " : "", cmd);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
    if (*cmd)
        fprintf(stderr, "Try 'panseval %s --help'.\n", cmd);
    return 2;
}

int cli_output_open(const cli_common *c, ps_atomic_file **af, FILE **f)
{
    int rc = ps_atomic_open(c->output ? c->output : "-", af);
    if (rc)
        return rc;
    *f = ps_atomic_stream(*af);
    return PS_OK;
}

int cli_output_close(ps_atomic_file *af, int rc)
{
    if (rc) {
        ps_atomic_abort(af);
        return rc;
    }
    return ps_atomic_commit(af);
}

int cli_parse_level(const char *cmd, const char *s, double *out)
{
    double v;
    if (cli_parse_double(cmd, "--level", s, 0, 1, &v))
        return -1;
    if (!(v > 0 && v < 1)) {
        cli_usage_error(cmd, "--level must be strictly between 0 and 1, got '%s'", s);
        return -1;
    }
    *out = v;
    return 0;
}

int cli_split_list(const char *s, char **copy, char ***items, int *n)
{
    *n = 0;
    *items = NULL;
    if (!(*copy = ps_strdup(s)))
        return PS_ERR_NOMEM;
    int cap = 1;
    for (const char *p = s; *p; p++)
        cap += *p == ',';
    if (!(*items = ps_calloc((size_t)cap, sizeof **items)))
        return PS_ERR_NOMEM;
    char *save = NULL;
    for (char *tok = strtok_r(*copy, ",", &save); tok; tok = strtok_r(NULL, ",", &save))
        if (*tok)
            (*items)[(*n)++] = tok;
    return PS_OK;
}
