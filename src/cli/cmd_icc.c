/* cmd_icc.c - `panseval icc`: the six Shrout-Fleiss intraclass correlations of numeric
 * ratings, with F tests and confidence intervals as R psych::ICC (ps_report_icc;
 * docs/agreement.md). */
#include <stdlib.h>
#include <string.h>

#include "cli_report.h"

static const char *CMD = "icc";

static void usage(FILE *f)
{
    fputs("Usage: panseval icc TABLE --raters COL1,COL2[,...] [--level L] [--format FMT]\n"
          "                    [-o FILE]\n"
          "       panseval icc TABLE --value COL [--rater-col COL] [--raters R1,R2,...] ...\n"
          "\n"
          "Intraclass correlation of numeric ratings (e.g. volumes measured by several readers\n"
          "or methods). TABLE is CSV or TSV (detected from the header; '-' reads standard\n"
          "input), either wide, with one row per subject and one column per rater (--raters),\n"
          "or the long per-case table of `panseval metrics` (--value, e.g. --value vol_pred_ml\n"
          "--rater-col model): one row per case x rater, pivoted on the subject = (case,\n"
          "label). In the long form the raters are the values of --rater-col (default model),\n"
          "in order of first appearance, or those listed with --raters; a subject without a\n"
          "row for a rater, or whose row has status error or missing, has a missing rating; two\n"
          "rows of one subject for one rater are an error naming both lines.\n"
          "\n"
          "All six forms of Shrout & Fleiss (1979) are reported, from the two-way ANOVA mean\n"
          "squares MSB (subjects), MSJ (raters), MSW (within subjects) and MSE (residual):\n"
          "  ICC1   one-way random, single rater:\n"
          "           (MSB - MSW) / (MSB + (k-1) MSW)\n"
          "  ICC2   two-way random, absolute agreement, single rater (McGraw & Wong ICC(A,1)):\n"
          "           (MSB - MSE) / (MSB + (k-1) MSE + k (MSJ - MSE) / n)\n"
          "  ICC3   two-way mixed, consistency, single rater (McGraw & Wong ICC(C,1)):\n"
          "           (MSB - MSE) / (MSB + (k-1) MSE)\n"
          "  ICC1k, ICC2k, ICC3k   the same for the mean of the k raters:\n"
          "           (MSB - MSW) / MSB,  (MSB - MSE) / (MSB + (MSJ - MSE) / n),\n"
          "           (MSB - MSE) / MSB\n"
          "Each with the F test of ICC = 0 (F, df1, df2, upper-tail p) and the confidence\n"
          "interval of R psych::ICC (for ICC2 and ICC2k McGraw & Wong's interval with a\n"
          "Satterthwaite-type df). For agreement between segmentation methods ICC2 (absolute\n"
          "agreement) is usually the one to report.\n"
          "\n"
          "Subjects with a missing rating (empty cell, NA or nan) are dropped, and their number\n"
          "is reported. Any other non-numeric cell is an error naming its line and column.\n"
          "\n"
          "Options:\n"
          "  --raters COLS       wide table: rater columns, comma-separated (at least 2);\n"
          "                      long table: the raters to use, in this order (default: all)\n"
          "  --value COL         long table: the column holding the ratings\n"
          "  --rater-col COL     long table: the column naming the rater (default model)\n"
          "  --level L           confidence level of the intervals (default 0.95)\n"
          "\n"
          CLI_REPORT_HELP
          "\n"
          "Output: one row per form with the columns type, description, icc, f, df1, df2, p,\n"
          "ci_low, ci_high, n, raters.\n"
          "\n"
          "At least 2 complete subjects are needed. All ratings equal, or all subjects with the\n"
          "same mean rating, leave the ICC undefined: an error. When the residual mean square is\n"
          "0 (raters differ by exact constants), F is inf, p is 0 and the confidence limits are\n"
          "their limits (see docs/agreement.md).\n"
          "\n"
          CLI_REPORT_EXIT
          "Examples:\n"
          "  panseval icc volumes.csv --raters vol_reader1,vol_reader2,vol_model --format json\n"
          "  panseval icc metrics.csv --value vol_pred_ml --rater-col model\n"
          "\n"
          "Formulas and sources: docs/agreement.md.\n",
          f);
}

enum { OPT_RATERS = CLI_OPT_FIRST_PRIVATE, OPT_LEVEL, OPT_VALUE, OPT_RATER_COL };

int main_icc(int argc, char **argv)
{
    static const struct option longopts[] = {
        CLI_COMMON_LONGOPTS,
        {"raters", required_argument, NULL, OPT_RATERS},
        {"value", required_argument, NULL, OPT_VALUE},
        {"rater-col", required_argument, NULL, OPT_RATER_COL},
        {"level", required_argument, NULL, OPT_LEVEL},
        {NULL, 0, NULL, 0},
    };
    cli_common common;
    cli_common_init(&common, PS_TABLE_CSV);
    common.uses = CLI_REPORT_USES;
    ps_icc_options o;
    ps_icc_options_init(&o);
    ps_report_format fmt = PS_REPORT_TEXT;
    const char *raters = NULL;
    int c;
    while ((c = cli_getopt(&common, CMD, argc, argv, "", longopts)) != -1) {
        switch (c) {
        case CLI_GETOPT_ERROR: return 2;
        case OPT_RATERS: raters = optarg; break;
        case OPT_VALUE: o.ratings.value_col = optarg; break;
        case OPT_RATER_COL: o.ratings.rater_col = optarg; break;
        case OPT_LEVEL:
            if (cli_parse_level(CMD, optarg, &o.level))
                return 2;
            break;
        default: return cli_unknown_option(&common);
        }
    }
    if (common.help) {
        usage(stdout);
        return 0;
    }
    fmt = cli_report_format(&common);
    if (optind != argc - 1)
        return cli_usage_error(CMD, optind >= argc ? "missing TABLE" : "give exactly one TABLE");
    if (!raters && !o.ratings.value_col)
        return cli_usage_error(CMD, "--raters is required (e.g. --raters reader1,reader2), or "
                                    "--value COL for a long table");
    if (o.ratings.rater_col && !o.ratings.value_col)
        return cli_usage_error(CMD, "--rater-col needs --value");
    ps_stats_init();

    char *rcopy = NULL, **ritems = NULL;
    int status, nr = 0;
    if (!(status = cli_report_list(CMD, "--raters", raters ? raters : "", !raters, &rcopy,
                                   &ritems, &nr))) {
        if (!o.ratings.value_col && nr < 2) {
            status = cli_usage_error(CMD, "--raters needs at least 2 columns, got %d", nr);
        } else {
            o.ratings.raters = (const char *const *)ritems;
            o.ratings.nraters = nr;
            ps_table *t = NULL;
            ps_rtable *rt = NULL;
            int rc = ps_report_load((const char *const *)argv + optind, 1, &t);
            rc = rc ? rc : ps_report_icc(t, &o, &rt);
            status = cli_report_finish(CMD, &common, rc, rt, fmt);
            ps_rtable_free(rt);
            ps_table_free(t);
        }
    }
    free(rcopy);
    free(ritems);
    return status;
}
