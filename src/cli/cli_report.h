/* cli_report.h - what the table commands (summary, compare, volume, describe, kappa, icc)
 * share on the command-line side: their output options, --format (text, csv, tsv, json, md,
 * tex), and printing a ps_rtable with its messages. The analyses are in reports/. */
#ifndef PS_CLI_REPORT_H
#define PS_CLI_REPORT_H

#include "cli.h"
#include "ps_reports.h"

/* The options every table command takes (no --seed, --progress or -j unless it uses them). */
#define CLI_REPORT_SHORTOPTS "o:hqv"
#define CLI_REPORT_LONGOPTS                                  \
    {"output", required_argument, NULL, CLI_OPT_OUTPUT},     \
    {"format", required_argument, NULL, CLI_OPT_FORMAT},     \
    {"quiet", no_argument, NULL, CLI_OPT_QUIET},             \
    {"verbose", no_argument, NULL, CLI_OPT_VERBOSE},         \
    {"help", no_argument, NULL, CLI_OPT_HELP}
#define CLI_REPORT_THREADS_LONGOPT {"threads", required_argument, NULL, CLI_OPT_THREADS}

#define CLI_REPORT_HELP                                                                      \
    "Output options:\n"                                                                      \
    "  -o, --output FILE   write the result to FILE (atomically: a failed run leaves no\n"   \
    "                      partial file; an existing FILE is replaced); default: standard\n" \
    "                      output. Its suffix .csv .tsv .json .md .tex .txt sets --format\n" \
    "                      (giving both with different formats is an error)\n"             \
    "      --format FMT    text (default: aligned columns for a terminal), csv, tsv, json,\n" \
    "                      md (Markdown table) or tex (LaTeX booktabs tabular); csv, tsv\n"  \
    "                      and json hold every column with exact numbers, text, md and tex\n" \
    "                      the columns for reading, rounded\n"                               \
    "  -q, --quiet         errors only (no notes about left-out rows)\n"                     \
    "  -v, --verbose       more detail\n"                                                    \
    "  -h, --help          this text\n"

#define CLI_REPORT_EXIT                                                                       \
    "Exit status: 0 success; 1 bad input (unreadable table, a table with a header but no\n" \
    "rows, a non-numeric cell) or a group whose statistic is undefined (its cells are\n"     \
    "nan/empty/null, the other groups are still written); 2 usage error.\n"

/* getopt_long over `longopts`, handling the common options and --format; returns the next
 * command-specific option code, -1 at the end, or CLI_GETOPT_ERROR after printing a usage
 * error. fmt NULL: --format is returned as CLI_OPT_FORMAT for the command to parse. */
#define CLI_GETOPT_ERROR (-2)
int cli_report_getopt(const char *cmd, int argc, char **argv, const char *shortopts,
                      const struct option *longopts, cli_common *common,
                      ps_report_format *fmt);

/* The output format from the suffix of -o (.csv .tsv .json .md .tex .txt) when --format was
 * not given; a usage error (returns 2) when both are given and disagree. 0 otherwise. */
int cli_report_output_format(const char *cmd, const cli_common *common, ps_report_format *fmt);

/* After the analysis: on rc != 0 print the error and return its exit status; else print the
 * result's messages (warnings through the log, errors as "panseval CMD: ..."), write the table
 * to the output (atomically) and return 0, or 1 when a group's statistic was undefined. */
int cli_report_finish(const char *cmd, const cli_common *common, int rc, const ps_rtable *rt,
                      ps_report_format fmt);

/* Split a comma-separated option into items; with allow_none "" and "none" give no items,
 * otherwise an empty list is a usage error (returns 2). 0 on success. The caller frees *copy
 * and *items, also on failure. */
int cli_report_list(const char *cmd, const char *opt, const char *s, int allow_none,
                    char **copy, char ***items, int *n);

#endif
