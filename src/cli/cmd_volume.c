/* cmd_volume.c - `panseval volume`: agreement of predicted with reference volumes per group
 * (ps_report_volume). */
#include <stdlib.h>
#include <string.h>

#include "cli_report.h"

static const char *CMD = "volume";

static void usage(FILE *f)
{
    fputs(
        "Usage: panseval volume TABLE [--ref-col COL] [--pred-col COL] [--by COLS]\n"
        "                       [--model M] [--level L] [--ok-only] [--format FMT] [-o FILE]\n"
        "\n"
        "Agreement of predicted with reference volumes in a per-case table (the output of\n"
        "`panseval metrics`; CSV or TSV; '-' reads standard input), per group of --by values.\n"
        "\n"
        "Which rows enter (the rule of every table command, docs/stats.md): a row enters when\n"
        "both volumes are finite. Rows with status error or missing never enter; an empty mask\n"
        "has a well-defined volume (0 ml) and counts. A left-out row is counted by the reason\n"
        "of its reference volume, else its predicted one.\n"
        "\n"
        "Options:\n"
        "  --ref-col COL   reference volume column (default vol_ref_ml)\n"
        "  --pred-col COL  predicted volume column (default vol_pred_ml)\n"
        "  --by COLS       comma-separated grouping columns, any column of the table, e.g.\n"
        "                  modality, center, subject, meta:site (default: one group)\n"
        "  --model M       use only rows whose model column is M (default: all rows; a case\n"
        "                  must then appear once per group)\n"
        "  --level L       confidence level of every CI (default 0.95)\n"
        "  --ok-only       also leave out rows whose status is not ok (counted as not_ok)\n"
        "\n"
        CLI_REPORT_HELP
        "\n"
        "Output, one row (JSON object) per group (x = reference, y = prediction):\n"
        "  n, n_excluded            pairs used; rows left out\n"
        "  slope, intercept         OLS y = intercept + slope x (R lm(y ~ x))\n"
        "  slope_se, intercept_se   their standard errors; slope_p, intercept_p: two-sided\n"
        "                           t-test of coefficient = 0 with n - 2 df\n"
        "  r2                       R^2 of that fit (= Pearson r^2; what papers call R^2)\n"
        "  r2_identity              coefficient of determination of y as a prediction of x:\n"
        "                           1 - sum (y - x)^2 / sum (x - mean x)^2\n"
        "                           (sklearn r2_score(ref, pred)); can be negative\n"
        "  pearson_r, pearson_p     Pearson r and its t-test p (n - 2 df)\n"
        "  pearson_ci_low/high      Fisher-z CI of r (n >= 4)\n"
        "  spearman_rho, spearman_p Spearman rho (average ranks), t-distribution p as scipy\n"
        "  ba_bias, ba_sd           mean and SD (n - 1) of d = y - x\n"
        "  ba_loa_low, ba_loa_high  limits of agreement bias -+ 1.959964 SD\n"
        "  ba_bias_ci_low/high      t-based CI of the bias\n"
        "  ba_loa_low_ci_low/high, ba_loa_high_ci_low/high\n"
        "                           CIs of the limits with SE sqrt(3 SD^2 / n) (Bland &\n"
        "                           Altman 1986, 1999) and the t quantile with n - 1 df\n"
        "  excl_nan, excl_inf, excl_error, excl_missing, excl_not_ok\n"
        "                           why rows were left out (csv, tsv, json)\n"
        "A group with fewer than 3 pairs or a constant column gets null / nan values and an\n"
        "error on stderr.\n"
        "\n"
        CLI_REPORT_EXIT
        "Conventions and formulas: docs/stats.md.\n"
        "\n"
        "Examples:\n"
        "  panseval volume metrics.csv --model pansegnet --by modality\n"
        "  panseval volume volumes.tsv --ref-col manual_ml --pred-col auto_ml --format json\n",
        f);
}

enum { OPT_REF = CLI_OPT_FIRST_PRIVATE, OPT_PRED, OPT_BY, OPT_MODEL, OPT_LEVEL, OPT_OK_ONLY };

int main_volume(int argc, char **argv)
{
    static const struct option longopts[] = {
        CLI_COMMON_LONGOPTS,
        {"ref-col", required_argument, NULL, OPT_REF},
        {"pred-col", required_argument, NULL, OPT_PRED},
        {"by", required_argument, NULL, OPT_BY},
        {"model", required_argument, NULL, OPT_MODEL},
        {"level", required_argument, NULL, OPT_LEVEL},
        {"ok-only", no_argument, NULL, OPT_OK_ONLY},
        {NULL, 0, NULL, 0},
    };
    cli_common common;
    cli_common_init(&common, PS_TABLE_CSV);
    common.uses = CLI_REPORT_USES;
    ps_volume_options o;
    ps_volume_options_init(&o);
    ps_report_format fmt = PS_REPORT_TEXT;
    const char *by = "";
    int c;
    while ((c = cli_getopt(&common, CMD, argc, argv, "", longopts)) != -1) {
        switch (c) {
        case CLI_GETOPT_ERROR: return 2;
        case OPT_REF: o.ref_col = optarg; break;
        case OPT_PRED: o.pred_col = optarg; break;
        case OPT_BY: by = optarg; break;
        case OPT_MODEL: o.model = optarg; break;
        case OPT_LEVEL:
            if (cli_parse_level(CMD, optarg, &o.level))
                return 2;
            break;
        case OPT_OK_ONLY: o.ok_only = 1; break;
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
    ps_stats_init();

    char *bcopy = NULL, **bitems = NULL;
    int status, nby = 0;
    if (!(status = cli_report_list(CMD, "--by", by, 1, &bcopy, &bitems, &nby))) {
        o.by = (const char *const *)bitems;
        o.nby = nby;
        ps_table *t = NULL;
        ps_rtable *rt = NULL;
        int rc = ps_report_load((const char *const *)argv + optind, 1, &t);
        rc = rc ? rc : ps_report_volume(t, &o, &rt);
        status = cli_report_finish(CMD, &common, rc, rt, fmt);
        ps_rtable_free(rt);
        ps_table_free(t);
    }
    free(bcopy);
    free(bitems);
    return status;
}
