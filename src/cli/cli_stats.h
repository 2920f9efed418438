/* cli_stats.h - what the statistics commands (compare, volume, describe) share: an in-memory
 * result table printed as aligned text or written with ps_table_writer, grouping of table rows
 * by --by columns, and the row filters (model, status). */
#ifndef PS_CLI_STATS_H
#define PS_CLI_STATS_H

#include "cli.h"

/* ---- result table ----------------------------------------------------------------------- */
typedef struct cli_rtable cli_rtable;
int cli_rtable_create(int ncols, const char *const *names, cli_rtable **out);
void cli_rtable_free(cli_rtable *t);
int cli_rtable_str(cli_rtable *t, const char *s); /* next cell (copied)                    */
int cli_rtable_num(cli_rtable *t, double x);      /* next cell; NaN prints nan / JSON null  */
int cli_rtable_int(cli_rtable *t, int64_t x);
/* Write as aligned text (text = 1: strings left-aligned, numbers right-aligned with 6
 * significant digits) or in `fmt` (numbers round-trip exact, %.17g). */
int cli_rtable_write(const cli_rtable *t, FILE *f, int text, ps_table_format fmt);

/* --format for the commands with a text table (compare, volume, describe, kappa, icc):
 * text (default), csv, tsv, json. 0 or -1 (usage error printed). */
int cli_stats_format(const char *cmd, const char *arg, int *text, ps_table_format *fmt);

/* cli_getopt for these commands, with --format text|csv|tsv|json|md|tex (text unless given or
 * implied by the suffix of -o): returns the next command-specific option code, -1 at the
 * end, or CLI_GETOPT_ERROR after printing one usage error. */
int cli_stats_getopt(const char *cmd, int argc, char **argv, const struct option *longopts,
                     cli_common *common, int *text);

/* ---- groups --------------------------------------------------------------------------------- */
typedef struct cli_groups {
    int nby;          /* number of --by columns                        */
    char **by;        /* their names (owned)                            */
    int *col;         /* their column indices in the table              */
    int ngroups;
    int64_t *first;   /* a representative row of each group             */
    int *of_row;      /* group of each table row, -1 if not selected    */
} cli_groups;

/* Group the rows with use[r] != 0 by the values of the comma-separated columns in `by`
 * ("" or "none" = one group), in order of first appearance. Unknown column: PS_ERR_ARG naming
 * the table and its columns. */
int cli_groups_build(const ps_table *t, const char *by, const unsigned char *use, cli_groups *g);
void cli_groups_free(cli_groups *g);
/* "modality=CT, center=A" (or "all rows") into buf. */
const char *cli_groups_label(const ps_table *t, const cli_groups *g, int grp, char *buf,
                             size_t len);
/* Write the group's --by values as string cells. */
int cli_groups_cells(const ps_table *t, const cli_groups *g, int grp, cli_rtable *rt);

#endif
