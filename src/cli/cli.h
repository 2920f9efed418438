/* cli.h - what every subcommand shares: the common options, output files, usage helpers.
 * Subcommands use only the public module headers plus this file. */
#ifndef PS_CLI_H
#define PS_CLI_H

#include <getopt.h>
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

/* Help text for the common options, to append to each command's usage. */
#define CLI_COMMON_HELP                                                                   \
    "Common options:\n"                                                                   \
    "  -o, --output FILE   write the result to FILE (atomically); default: stdout\n"      \
    "      --format FMT    csv, tsv or json (default: the command's own)\n"               \
    "  -j, --threads N     OpenMP threads (default: all cores); results do not depend on N\n" \
    "      --seed S        seed for random numbers (default 1)\n"                         \
    "  -q, --quiet         errors only;   -v, --verbose  more detail (repeatable)\n"      \
    "      --progress / --no-progress   force the progress line on stderr on or off\n"    \
    "                      (default: shown when stderr is a terminal)\n"                  \
    "  -h, --help          this text\n"

typedef struct cli_common {
    ps_context ctx;
    const char *output;      /* NULL or "-" = stdout */
    ps_table_format format;
    int format_set;
    int help;
} cli_common;

void cli_common_init(cli_common *c, ps_table_format default_format);
/* Handle a common option code from getopt_long. Returns 1 if handled, 0 if `code` is not a
 * common option, -1 on a bad value (message printed). */
int cli_common_option(cli_common *c, int code, const char *arg);

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

/* --level: a confidence level strictly between 0 and 1. 0, or -1 (usage error printed). */
int cli_parse_level(const char *cmd, const char *s, double *out);

/* Output file handling: open c->output (or stdout) atomically; then cli_output_close() with
 * the status of the writing: commits the file when rc is PS_OK, else discards it (nothing
 * half-written is left) and returns rc. */
int cli_output_open(const cli_common *c, ps_atomic_file **af, FILE **f);
int cli_output_close(ps_atomic_file *af, int rc);

/* The subcommand entry points (one file each). */
#define PS_CMD(name, fn, summary) int fn(int argc, char **argv);
#include "commands.def"
#undef PS_CMD

#endif
