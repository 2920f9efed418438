/* cli_common.c - options and helpers shared by all subcommands. */
#include "cli.h"
#include "ps_reports.h"

#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <signal.h>
#include <sys/stat.h>

void cli_common_init(cli_common *c, ps_table_format default_format)
{
    memset(c, 0, sizeof *c);
    ps_context_init(&c->ctx);
    c->format = default_format;
    c->text = -1;
    c->uses = CLI_USE_ALL;
    c->cmd = "";
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
        if (cli_parse_int(c->cmd, "-j/--threads", arg, 1, 4096, &v))
            return -1;
        c->ctx.threads = (int)v;
        return 1;
    case CLI_OPT_OUTPUT:
        if (!*arg) {
            cli_usage_error(c->cmd, "-o/--output needs a file name ('-' for standard output)");
            return -1;
        }
        c->output = arg;
        return 1;
    case CLI_OPT_FORMAT:
        if ((c->uses & CLI_USE_TEXT) && !strcmp(arg, "text")) {
            c->text = 1;
        } else if (ps_table_format_parse(arg, &c->format)) {
            cli_usage_error(c->cmd, "--format must be %scsv, tsv, json, md or tex, got '%s'",
                            c->uses & CLI_USE_TEXT ? "text, " : "", arg);
            return -1;
        } else {
            c->text = 0;
        }
        c->format_set = 1;
        return 1;
    case CLI_OPT_SEED: {
        char *end;
        errno = 0;
        unsigned long long s = strtoull(arg, &end, 10);
        if (errno || end == arg || *end || arg[0] == '-') {
            cli_usage_error(c->cmd, "--seed expects a non-negative whole number, got '%s'", arg);
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

int cli_split_pair(const char *cmd, const char *opt, char *s, const char *form,
                   const char **key, const char **value)
{
    char *eq = strchr(s, '=');
    if (!eq || eq == s || !eq[1])
        return cli_usage_error(cmd, "%s: expected %s, got '%s'", opt, form, s);
    *eq = 0;
    *key = s;
    *value = eq + 1;
    return 0;
}

int cli_parse_folds(const char *cmd, const char *s, int *folds, int max, int *n)
{
    if (!strcmp(s, "all")) {
        folds[0] = -1;
        *n = 1;
        return 0;
    }
    char *copy = NULL, **items = NULL;
    int ni = 0, rc = 0;
    if (cli_split_list(s, &copy, &items, &ni) || ni < 1 || ni > max)
        rc = cli_usage_error(cmd, "--fold: expected N, a list such as 0,1,2 (at most %d), or "
                             "all", max);
    for (int i = 0; !rc && i < ni; i++) {
        long v;
        if (cli_parse_int(cmd, "--fold", items[i], 0, 999, &v))
            rc = 2;
        else
            folds[i] = (int)v;
    }
    *n = ni;
    free(copy);
    free(items);
    return rc;
}

/* The CLI_USE_* bit of a common option code, 0 for those every command takes. */
static unsigned use_bit(int code)
{
    switch (code) {
    case CLI_OPT_OUTPUT: return CLI_USE_OUTPUT;
    case CLI_OPT_FORMAT: return CLI_USE_FORMAT;
    case CLI_OPT_THREADS: return CLI_USE_THREADS;
    case CLI_OPT_SEED: return CLI_USE_SEED;
    case CLI_OPT_PROGRESS:
    case CLI_OPT_NO_PROGRESS: return CLI_USE_PROGRESS;
    default: return 0;
    }
}

/* How the user spelled the option getopt just stopped at, for messages. */
static const char *option_text(int argc, char **argv, char *buf, size_t len)
{
    const char *a = optind - 1 >= 1 && optind - 1 < argc ? argv[optind - 1] : NULL;
    if (a && a[0] == '-' && a[1] == '-') {
        const char *eq = strchr(a, '=');
        snprintf(buf, len, "%.*s", eq ? (int)(eq - a) : (int)strlen(a), a);
    } else if (optopt > 0 && optopt < 256) {
        snprintf(buf, len, "-%c", optopt);
    } else {
        snprintf(buf, len, "%s", a ? a : "?");
    }
    return buf;
}

/* End of the options: the format from the suffix of -o, or a conflict with it. */
static int resolve_format(cli_common *c)
{
    ps_table_format sfx;
    if (!(c->uses & CLI_USE_FORMAT) || !c->output || !ps_table_format_from_path(c->output, &sfx))
        return 0;
    if (!c->format_set) {
        c->format = sfx;
        c->format_set = 2;
        if (c->uses & CLI_USE_TEXT)
            c->text = 0;
        return 0;
    }
    if (c->format_set == 1 && (c->text == 1 || c->format != sfx)) {
        cli_usage_error(c->cmd, "--format %s contradicts the suffix of -o %s; give one or make "
                        "them agree", c->text == 1 ? "text" : ps_table_format_name(c->format),
                        c->output);
        return -1;
    }
    return 0;
}

int cli_getopt(cli_common *c, const char *cmd, int argc, char **argv, const char *shortopts,
               const struct option *longopts)
{
    if (!c->shortopts_[0]) {
        c->cmd = cmd;
        snprintf(c->shortopts_, sizeof c->shortopts_, ":%s%s", CLI_COMMON_SHORTOPTS,
                 shortopts ? shortopts : "");
        optind = 1;
    }
    opterr = 0; /* every message comes from here, once */
    for (;;) {
        int longindex = -1;
        int code = getopt_long(argc, argv, c->shortopts_, longopts, &longindex);
        char buf[128];
        if (longindex >= 0)
            snprintf(c->last_opt, sizeof c->last_opt, "--%s", longopts[longindex].name);
        else if (code > 0 && code < 256)
            snprintf(c->last_opt, sizeof c->last_opt, "-%c", code);
        else
            snprintf(c->last_opt, sizeof c->last_opt, "?");
        if (code == -1) {
            if (resolve_format(c))
                return CLI_GETOPT_ERROR;
            /* the output against the positional arguments (the input tables of most
             * commands), before any work */
            if (!c->help && (c->uses & CLI_USE_OUTPUT) &&
                cli_output_check(c, (const char *const *)argv + optind, argc - optind))
                return CLI_GETOPT_ERROR;
            return -1;
        }
        if (code == ':') {
            cli_usage_error(cmd, "option '%s' needs an argument",
                            option_text(argc, argv, buf, sizeof buf));
            return CLI_GETOPT_ERROR;
        }
        if (code == '?') {
            cli_usage_error(cmd, "unknown option '%s'", option_text(argc, argv, buf, sizeof buf));
            return CLI_GETOPT_ERROR;
        }
        unsigned bit = use_bit(code);
        if (bit && !(c->uses & bit))
            return code; /* not taken by this command: the command decides */
        int h = cli_common_option(c, code, optarg);
        if (h < 0)
            return CLI_GETOPT_ERROR;
        if (!h)
            return code;
    }
}

int cli_unknown_option(const cli_common *c)
{
    return cli_usage_error(c->cmd, "unknown option '%s'", c->last_opt);
}

/* Same file: same device and inode, or (for files that do not exist yet) the same path. */
static int same_file(const char *a, const char *b)
{
    struct stat sa, sb;
    if (!stat(a, &sa) && !stat(b, &sb))
        return sa.st_dev == sb.st_dev && sa.st_ino == sb.st_ino;
    char *ra = realpath(a, NULL), *rb = realpath(b, NULL);
    int same = ra && rb && !strcmp(ra, rb);
    free(ra);
    free(rb);
    return same;
}

int cli_output_check(const cli_common *c, const char *const *inputs, int n)
{
    const char *out = c->output;
    if (!out || !strcmp(out, "-"))
        return 0;
    for (int i = 0; i < n; i++) {
        if (!inputs[i] || !strcmp(inputs[i], "-"))
            continue;
        /* an input may be MODEL=PATH (summary, compare, describe): PATH is the file */
        const char *path = ps_report_input_path(inputs[i]);
        if (same_file(out, inputs[i]) || (path != inputs[i] && same_file(out, path)))
            return cli_usage_error(c->cmd, "%s %s is the input file %s; refusing to overwrite "
                                   "an input", c->output_opt ? c->output_opt : "-o", out, path);
    }
    if (ps_atomic_check(out))
        return cli_usage_error(c->cmd, "%s", ps_error_message());
    return 0;
}

/* The one flag a signal handler may set (the only global of the CLI, as signals require). */
static volatile sig_atomic_t stop_signal;
static struct sigaction old_int, old_term;
static int stop_caught; /* the handlers are installed */

static void on_stop_signal(int sig)
{
    stop_signal = sig;
}

volatile sig_atomic_t *cli_catch_stop_signals(void)
{
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_stop_signal;
    sa.sa_flags = SA_RESETHAND; /* a second signal ends the process at once */
    sigemptyset(&sa.sa_mask);
    stop_signal = 0;
    sigaction(SIGINT, &sa, &old_int);
    sigaction(SIGTERM, &sa, &old_term);
    stop_caught = 1;
    return &stop_signal;
}

volatile sig_atomic_t *cli_catch_stop_signals_unless_mpi(const ps_dist *d)
{
    static volatile sig_atomic_t never = 0;
    return ps_dist_size(d) > 1 ? &never : cli_catch_stop_signals();
}

int cli_dist_start(const char *cmd, int mpi, const char *work, ps_dist **d)
{
    *d = NULL;
    if (!mpi && ps_dist_launched_size() > 1)
        return cli_usage_error(cmd, "started as %d processes (mpirun/srun): add --mpi, or "
                               "every process would %s", ps_dist_launched_size(), work);
    int rc = mpi ? ps_dist_init(NULL, NULL, d) : PS_OK;
    return rc ? cli_report_error(cmd, rc) : 0;
}

void cli_release_stop_signals(void)
{
    if (!stop_caught)
        return;
    sigaction(SIGINT, &old_int, NULL);
    sigaction(SIGTERM, &old_term, NULL);
    stop_caught = 0;
}

int cli_profile_wanted(const cli_common *c)
{
    const char *e = getenv("PANSEVAL_PROFILE");
    return c->ctx.verbosity >= 3 || (e && *e && strcmp(e, "0"));
}
