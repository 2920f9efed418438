/* cmd_kappa.c - `panseval kappa`: agreement of raters on categorical ratings
 * (ps_report_kappa; formulas and conventions: docs/agreement.md). */
#include <stdlib.h>
#include <string.h>

#include "cli_report.h"

static const char *CMD = "kappa";

static void usage(FILE *f)
{
    fputs("Usage: panseval kappa TABLE --raters COL1,COL2[,COL3...] [options]\n"
          "       panseval kappa TABLE --value COL [--rater-col COL] [--raters R1,R2,...]\n"
          "                      [options]\n"
          "\n"
          "Agreement of raters who put each subject into one of a set of categories.\n"
          "TABLE is CSV or TSV (detected from the header; '-' reads standard input), either\n"
          "wide, with one row per subject and one column per rater (--raters), or the long\n"
          "per-case table of `panseval metrics` (--value): one row per case x rater, pivoted on\n"
          "the subject = (case, label) (label when the table has that column). In the long\n"
          "form the raters are the values of --rater-col (default model), in order of first\n"
          "appearance, or those listed with --raters; a subject without a row for a rater, or\n"
          "whose row has status error or missing, has a missing rating; two rows of one subject\n"
          "for one rater are an error naming both lines.\n"
          "\n"
          "Categories are the union of the values found. When every value is a number they are\n"
          "ordered numerically (2 < 10; \"1\" and \"1.0\" are the same category), otherwise as\n"
          "text. An empty cell, NA or nan is a missing rating.\n"
          "\n"
          "Two raters: Cohen's kappa with its asymptotic standard error (Fleiss, Cohen & Everitt\n"
          "1969), the standard error under kappa = 0, z = kappa / se0, the two-sided normal\n"
          "p-value and the confidence interval kappa -+ z_(1+L)/2 se, as SAS PROC FREQ and\n"
          "statsmodels' cohens_kappa compute them.\n"
          "\n"
          "Three or more raters: Cohen's kappa for every pair of raters, and\n"
          "  Fleiss' kappa (Fleiss 1971) with its SE under kappa = 0, z and p (Fleiss, Nee &\n"
          "    Landis 1979; R irr::kappam.fleiss),\n"
          "  Light's kappa: the mean of the pairwise unweighted Cohen's kappas (Light 1971),\n"
          "  Krippendorff's alpha (Krippendorff 2011) with the metric of --alpha-metric.\n"
          "\n"
          "Missing ratings: kappa statistics use only the subjects every listed rater rated;\n"
          "the number of dropped subjects is reported. Krippendorff's alpha uses every subject\n"
          "with at least two ratings.\n"
          "\n"
          "Options:\n"
          "  --raters COLS       wide table: rater columns, comma-separated (at least 2);\n"
          "                      long table: the raters to use, in this order (default: all)\n"
          "  --value COL         long table: the column holding the ratings\n"
          "  --rater-col COL     long table: the column naming the rater (default model)\n"
          "  --weights W         none (default), linear (1 - |i-j|/(k-1)) or quadratic\n"
          "                      (1 - (i-j)^2/(k-1)^2), i, j = category positions 0..k-1;\n"
          "                      applies to Cohen's kappa (Fleiss' and Light's are unweighted)\n"
          "  --level L           confidence level of the interval (default 0.95)\n"
          "  --alpha-metric M    nominal (default), ordinal, interval or ratio; interval and\n"
          "                      ratio need numeric ratings\n"
          "\n"
          CLI_REPORT_HELP_OF(CLI_HELP_THREADS)
          "\n"
          "Output: one row per pair of raters with the columns rater1, rater2, weights, n,\n"
          "dropped, kappa, se, se0, z, p, ci_low, ci_high and, for 3 or more raters,\n"
          "fleiss_kappa, fleiss_se0, fleiss_z, fleiss_p, light_kappa, alpha_metric,\n"
          "krippendorff_alpha (the same on every row; text shows them below the table).\n"
          "\n"
          "At most 1000 categories are accepted (numeric measurements belong to 'panseval icc').\n"
          "Undefined statistics are errors: e.g. when both raters used one and the same single\n"
          "category. When the SE under kappa = 0 is 0 (a rater used a single category, or the\n"
          "raters share no category), z and p are nan and a note says which.\n"
          "\n"
          CLI_REPORT_EXIT
          "Examples:\n"
          "  panseval kappa grades.csv --raters reader1,reader2 --weights quadratic\n"
          "  panseval kappa grades.csv --raters r1,r2,r3,r4 --format json -o kappa.json\n"
          "  panseval kappa metrics.csv --value status --rater-col model --raters A,B\n"
          "\n"
          "Formulas and sources: docs/agreement.md.\n",
          f);
}

enum { OPT_RATERS = CLI_OPT_FIRST_PRIVATE, OPT_WEIGHTS, OPT_LEVEL, OPT_ALPHA_METRIC, OPT_VALUE,
       OPT_RATER_COL };

int main_kappa(int argc, char **argv)
{
    static const struct option longopts[] = {
        CLI_COMMON_LONGOPTS,
        {"raters", required_argument, NULL, OPT_RATERS},
        {"value", required_argument, NULL, OPT_VALUE},
        {"rater-col", required_argument, NULL, OPT_RATER_COL},
        {"weights", required_argument, NULL, OPT_WEIGHTS},
        {"level", required_argument, NULL, OPT_LEVEL},
        {"alpha-metric", required_argument, NULL, OPT_ALPHA_METRIC},
        {NULL, 0, NULL, 0},
    };
    cli_common common;
    cli_common_init(&common, PS_TABLE_CSV);
    common.uses = CLI_REPORT_USES | CLI_USE_THREADS;
    ps_kappa_options o;
    ps_kappa_options_init(&o);
    ps_report_format fmt = PS_REPORT_TEXT;
    const char *raters = NULL;
    int c;
    while ((c = cli_getopt(&common, CMD, argc, argv, "", longopts)) != -1) {
        switch (c) {
        case CLI_GETOPT_ERROR: return 2;
        case OPT_RATERS: raters = optarg; break;
        case OPT_VALUE: o.ratings.value_col = optarg; break;
        case OPT_RATER_COL: o.ratings.rater_col = optarg; break;
        case OPT_WEIGHTS:
            if (ps_kappa_weights_parse(optarg, &o.weights))
                return cli_usage_error(CMD, "--%s", ps_error_message());
            break;
        case OPT_LEVEL:
            if (cli_parse_level(CMD, optarg, &o.level))
                return 2;
            break;
        case OPT_ALPHA_METRIC:
            if (ps_alpha_metric_parse(optarg, &o.alpha_metric))
                return cli_usage_error(CMD, "--alpha-metric: %s", ps_error_message());
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
    o.threads = common.ctx.threads;

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
            rc = rc ? rc : ps_report_kappa(t, &o, &rt);
            status = cli_report_finish(CMD, &common, rc, rt, fmt);
            ps_rtable_free(rt);
            ps_table_free(t);
        }
    }
    free(rcopy);
    free(ritems);
    return status;
}
