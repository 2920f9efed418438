/* cli.h - what every subcommand shares: the common options, output files, usage helpers.
 * Subcommands use only the public module headers plus this file. */
#ifndef PS_CLI_H
#define PS_CLI_H

#include <getopt.h>
#include <signal.h>
#include <stdio.h>

#include "ps_core.h"
#include "ps_io.h"

/* Common options accepted by every subcommand; their getopt codes start at 1000. */
enum {
    CLI_OPT_THREADS = 'j',
    CLI_OPT_OUTPUT = 'o',
    CLI_OPT_FORMAT = 1000,
    CLI_OPT_SEED,
    CLI_OPT_QUIET,
    CLI_OPT_VERBOSE,
    CLI_OPT_PROGRESS,
    CLI_OPT_NO_PROGRESS,
    CLI_OPT_HELP,
    CLI_OPT_FIRST_PRIVATE = 1100, /* subcommands number their own options from here */
};

#define CLI_COMMON_SHORTOPTS "j:o:hqv"
#define CLI_COMMON_LONGOPTS                                                  \
    {"threads", required_argument, NULL, CLI_OPT_THREADS},                   \
    {"output", required_argument, NULL, CLI_OPT_OUTPUT},                     \
    {"format", required_argument, NULL, CLI_OPT_FORMAT},                     \
    {"seed", required_argument, NULL, CLI_OPT_SEED},                         \
    {"quiet", no_argument, NULL, CLI_OPT_QUIET},                             \
    {"verbose", no_argument, NULL, CLI_OPT_VERBOSE},                         \
    {"progress", no_argument, NULL, CLI_OPT_PROGRESS},                       \
    {"no-progress", no_argument, NULL, CLI_OPT_NO_PROGRESS},                 \
    {"help", no_argument, NULL, CLI_OPT_HELP}

/* Which common options a command takes (cli_common.uses, set after cli_common_init; the
 * default is all). -q, -v and -h are always taken. cli_getopt() handles the common options in
 * `uses` itself and returns the others to the command like its own options, so a command that
 * does not take one reports it as unknown, and one with its own --format (text, ...) parses it. */
enum {
    CLI_USE_OUTPUT = 1 << 0,   /* -o FILE                                              */
    CLI_USE_FORMAT = 1 << 1,   /* --format csv|tsv|json|md|tex, default from -o suffix */
    CLI_USE_THREADS = 1 << 2,  /* -j N                                                 */
    CLI_USE_SEED = 1 << 3,     /* --seed S                                             */
    CLI_USE_PROGRESS = 1 << 4, /* --progress / --no-progress                           */
    CLI_USE_TEXT = 1 << 5,     /* with CLI_USE_FORMAT: --format text is also accepted  */
    CLI_USE_ALL = 0x1f,
};

/* Help lines of the common options, one macro each, composed per command:
 *   CLI_COMMON_HELP_OF(CLI_HELP_OUTPUT CLI_HELP_FORMAT CLI_HELP_THREADS)
 * gives "Common options:" with those lines and the -q/-v/-h lines every command takes.
 * List only the options in the command's `uses`, and each option once. */
#define CLI_HELP_OUTPUT                                                                   \
    "  -o, --output FILE   write the result to FILE; default: standard output. FILE is\n"  \
    "                      checked before any work and written whole or not at all (a\n"   \
    "                      temporary file beside it, then renamed). An existing file is\n" \
    "                      replaced and keeps its mode; a symbolic link's target is\n"     \
    "                      replaced. Refused: an input of the command, a folder, a\n"      \
    "                      read-only file, a missing or unwritable folder.\n"
#define CLI_HELP_FORMAT                                                                   \
    "      --format FMT    csv, tsv, json, md (Markdown) or tex (LaTeX, booktabs); default:\n" \
    "                      from the suffix of -o (.csv .tsv .json .md .tex), else csv;\n"  \
    "                      a --format that contradicts the suffix is an error\n"
#define CLI_HELP_THREADS                                                                  \
    "  -j, --threads N     OpenMP threads (default: all cores); results do not depend on N\n"
#define CLI_HELP_SEED "      --seed S        seed for random numbers (default 1)\n"
#define CLI_HELP_PROGRESS                                                                 \
    "      --progress / --no-progress   force the progress line on stderr on or off\n"    \
    "                      (default: shown when stderr is a terminal)\n"
#define CLI_HELP_VERBOSITY                                                                \
    "  -q, --quiet         only errors and failed cases;  -v, --verbose  more (repeatable)\n"
#define CLI_HELP_HELP "  -h, --help          this text (also: panseval help CMD)\n"
#define CLI_COMMON_HELP_OF(lines) "Common options:\n" lines CLI_HELP_VERBOSITY CLI_HELP_HELP
/* For the table commands that describe their own --format: -o, -q, -v, -h. */
#define CLI_COMMON_HELP CLI_COMMON_HELP_OF(CLI_HELP_OUTPUT)

typedef struct cli_common {
    ps_context ctx;
    const char *output;      /* NULL or "-" = stdout */
    const char *output_opt;  /* the option that named output, for messages; NULL = "-o" */
    ps_table_format format;
    int format_set;          /* 1 --format given, 2 taken from the suffix of -o */
    int text;                /* CLI_USE_TEXT: 1 --format text, 0 another format, -1 not given */
    int help;
    unsigned uses;           /* CLI_USE_* (default CLI_USE_ALL)                 */
    const char *cmd;         /* for messages; set by cli_getopt                  */
    char shortopts_[64];     /* private                                          */
    char last_opt[64];       /* the option cli_getopt returned last: "--labels" */
} cli_common;

void cli_common_init(cli_common *c, ps_table_format default_format);
/* Handle a common option code from getopt_long. Returns 1 if handled, 0 if `code` is not a
 * common option, -1 on a bad value (message printed). */
int cli_common_option(cli_common *c, int code, const char *arg);

/* getopt_long for every command, the one place that reports option errors: the common short
 * options plus `shortopts` (the command's own, e.g. "m:"), and `longopts`. Handles the common
 * options in c->uses; returns the next other option code, -1 at the end of the options, or
 * CLI_GETOPT_ERROR after printing exactly one error "panseval CMD: ..." (unknown option, a
 * missing argument, a bad common value, --format contradicting the suffix of -o, a bad -o).
 * At the end of the options: with CLI_USE_FORMAT and no --format, the format follows the
 * suffix of -o; with CLI_USE_OUTPUT (and no --help), -o is checked by cli_output_check()
 * against the positional arguments, so a command whose inputs are all positional needs no
 * call of its own. Sets optind = 1 on the first call (argv[0] is the command name). */
#define CLI_GETOPT_ERROR (-2)
int cli_getopt(cli_common *c, const char *cmd, int argc, char **argv, const char *shortopts,
               const struct option *longopts);

/* Before any work: check the output file (ps_atomic_check: folder exists and is writable, not
 * a folder, not read-only) and refuse an output equal to one of the `n` input files (same
 * st_dev/st_ino, or the same realpath; NULL and "-" inputs are skipped). 0, or an error
 * printed ("panseval CMD: ...") and the exit status (2). */
int cli_output_check(const cli_common *c, const char *const *inputs, int n);
/* "panseval CMD: unknown option '--x'" for the option getopt just returned; returns 2. For a
 * command's default: branch (a common option the command does not take). */
int cli_unknown_option(const cli_common *c);

/* Print "panseval <cmd>: <message>" for the current error to stderr. Returns 1 or 2. */
int cli_report_error(const char *cmd, int rc);
/* Print a usage error ("panseval <cmd>: <msg>\nTry 'panseval <cmd> --help'.") and return 2. */
int cli_usage_error(const char *cmd, const char *fmt, ...) PS_PRINTF(2, 3);

/* Parse helpers: strict, whole string, with range. Return 0 or print a usage error and -1. */
int cli_parse_int(const char *cmd, const char *opt, const char *s, long lo, long hi, long *out);
int cli_parse_double(const char *cmd, const char *opt, const char *s, double lo, double hi,
                     double *out);

/* Split a comma-separated list "a,b,,c" into its non-empty items, which point into *copy
 * (a copy of s). The caller frees *copy and *items, also on failure. */
int cli_split_list(const char *s, char **copy, char ***items, int *n);

/* "KEY=VALUE" (opt's argument `s`, split in place at the first '=') -> *key, *value, both
 * non-empty. 0, or 2 (usage error naming opt and the expected `form` printed). */
int cli_split_pair(const char *cmd, const char *opt, char *s, const char *form,
                   const char **key, const char **value);

/* --fold: "N", a list "0,1,2" (at most `max` folds, each 0..999) or "all" (folds[0] = -1), as
 * ps_predictor_create takes them. 0, or 2 (usage error printed). */
int cli_parse_folds(const char *cmd, const char *s, int *folds, int max, int *n);

/* --level: a confidence level strictly between 0 and 1. 0, or -1 (usage error printed). */
int cli_parse_level(const char *cmd, const char *s, double *out);

/* Output file handling: open c->output (or stdout) atomically; then cli_output_close() with
 * the status of the writing: commits the file when rc is PS_OK, else discards it (nothing
 * half-written is left) and returns rc. */
int cli_output_open(const cli_common *c, ps_atomic_file **af, FILE **f);
int cli_output_close(ps_atomic_file *af, int rc);

/* SIGINT / SIGTERM: the first one sets the returned flag (to the signal number) so that a
 * long run can stop taking work and keep what is done; a second one ends the process. Release
 * restores the previous handlers. */
volatile sig_atomic_t *cli_catch_stop_signals(void);
void cli_release_stop_signals(void); /* no-op when nothing is caught */
/* The same, except under MPI with more than one rank (d): there a signal ends the job (mpirun
 * passes it on, the journals keep the finished cases), so nothing is caught and the flag
 * returned is never set. */
volatile sig_atomic_t *cli_catch_stop_signals_unless_mpi(const ps_dist *d);

/* The MPI start of a command over manifest cases: with --mpi (mpi != 0) ps_dist_init into *d;
 * without it a process started by mpirun/srun with more than one rank is a usage error that
 * says to add --mpi, or each process would do `work` ("evaluate every case"). Returns 0, or
 * the exit status (2 for that usage error, the error's for a failed start), message printed. */
int cli_dist_start(const char *cmd, int mpi, const char *work, ps_dist **d);

/* The per-layer profile of the network: -v -v -v (verbosity 3) or PANSEVAL_PROFILE set to
 * anything but "" or "0". */
int cli_profile_wanted(const cli_common *c);

/* The subcommand entry points (one file each). */
#define PS_CMD(name, fn, summary) int fn(int argc, char **argv);
#include "commands.def"
#undef PS_CMD

#endif
