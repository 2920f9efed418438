/* cli_report.h - what the table commands (summary, compare, volume, describe, kappa, icc)
 * share on the command-line side: their common options (cli_getopt with CLI_REPORT_USES),
 * --format text|csv|tsv|json|md|tex as a ps_report_format, and printing a ps_rtable with its
 * messages. The analyses are in reports/. */
#ifndef PS_CLI_REPORT_H
#define PS_CLI_REPORT_H

#include "cli.h"
#include "ps_reports.h"

/* The common options of a table command: -o, --format (text, csv, tsv, json, md, tex; from
 * the suffix of -o when not given), -q, -v, -h. Commands that run threads or draw random
 * numbers add CLI_USE_THREADS / CLI_USE_SEED. */
#define CLI_REPORT_USES (CLI_USE_OUTPUT | CLI_USE_FORMAT | CLI_USE_TEXT)

#define CLI_REPORT_HELP_FORMAT                                                               \
    "      --format FMT    text (default: aligned columns for a terminal), csv, tsv, json,\n" \
    "                      md (Markdown table) or tex (LaTeX booktabs tabular); default\n"   \
    "                      from the suffix of -o (.csv .tsv .json .md .tex), else text; one\n" \
    "                      that contradicts the suffix is an error. csv, tsv and json hold\n" \
    "                      every column with exact numbers; text, md and tex the columns\n"  \
    "                      for reading, rounded\n"
/* Help of the common options of a table command, plus `more` (e.g. CLI_HELP_THREADS). */
#define CLI_REPORT_HELP_OF(more) CLI_COMMON_HELP_OF(CLI_HELP_OUTPUT CLI_REPORT_HELP_FORMAT more)
#define CLI_REPORT_HELP CLI_REPORT_HELP_OF("")

#define CLI_REPORT_EXIT                                                                       \
    "Exit status: 0 success; 1 bad input (unreadable table, a table with a header but no\n" \
    "rows, a non-numeric cell) or a group whose statistic is undefined (its cells are\n"     \
    "nan/empty/null, the other groups are still written); 2 usage error.\n"

/* The output format after cli_getopt: text unless --format or the suffix of -o chose
 * another. */
ps_report_format cli_report_format(const cli_common *c);
ps_report_format cli_report_format_of(ps_table_format f);

/* After the analysis: on rc != 0 print the error and return its exit status; else print the
 * result's messages (warnings through the log, errors as "panseval CMD: ..."), write the table
 * to the output (atomically) in `fmt` and return 0, or 1 when a group's statistic was
 * undefined. */
int cli_report_finish(const char *cmd, const cli_common *common, int rc, const ps_rtable *rt,
                      ps_report_format fmt);

/* Split a comma-separated option into items; with allow_none "" and "none" give no items,
 * otherwise an empty list is a usage error (returns 2). 0 on success. The caller frees *copy
 * and *items, also on failure. */
int cli_report_list(const char *cmd, const char *opt, const char *s, int allow_none,
                    char **copy, char ***items, int *n);

#endif
