/* cmd_describe.c - `panseval describe`: descriptive statistics of metric columns per group,
 * with t-based and (optionally) bootstrap confidence intervals (ps_report_describe). */
#include <stdlib.h>
#include <string.h>

#include "cli_report.h"

static const char *CMD = "describe";

static void usage(FILE *f)
{
    fputs(
        "Usage: panseval describe TABLE... --metric COLS [--by COLS] [--model M] [--level L]\n"
        "                         [--bootstrap B [--bootstrap-stat mean|median] [--seed S]\n"
        "                         [-j N]] [--ok-only] [--format FMT] [-o FILE]\n"
        "\n"
        "Descriptive statistics of one or more metric columns of a per-case table (the\n"
        "output of `panseval metrics`; CSV or TSV; '-' reads standard input; several tables\n"
        "with the same columns are joined; an nnU-Net summary.json is read as a per-case\n"
        "table, MODEL=FILE naming its model, see docs/nnunet.md), per group of --by values.\n"
        "\n"
        "Which rows enter (the rule of every table command, docs/stats.md): a row enters a\n"
        "metric when its value is finite. Rows with status error or missing never enter; NaN\n"
        "or empty values (e.g. HD95 of an empty mask under --empty nan) and +-inf are left\n"
        "out and counted; Dice 0 of an empty prediction counts.\n"
        "\n"
        "Options:\n"
        "  --metric COLS        comma-separated metric columns, e.g. dice,hd95 (required)\n"
        "  --by COLS            comma-separated grouping columns, any column of the table,\n"
        "                       e.g. model,modality or subject or meta:site (default: none)\n"
        "  --model M            use only rows whose model column is M (default: all rows;\n"
        "                       a group holding several models pools them, with a warning)\n"
        "  --level L            confidence level of the CIs (default 0.95)\n"
        "  --bootstrap B        also bootstrap CIs from B resamples (default 0 = none)\n"
        "  --bootstrap-stat S   statistic bootstrapped: mean (default) or median\n"
        "  --ok-only            also leave out rows whose status is not ok (counted as not_ok)\n"
        "\n"
        CLI_REPORT_HELP_OF(CLI_HELP_THREADS CLI_HELP_SEED)
        "\n"
        "Output, one row (JSON object) per group and metric:\n"
        "  <by columns>, metric\n"
        "  n, n_excluded      values used; rows left out (stderr says how many and why)\n"
        "  mean, sd           mean and sample SD (divisor n - 1; nan when n = 1)\n"
        "  median, q1, q3     type-7 quantiles (R's default, numpy's 'linear')\n"
        "  iqr, min, max\n"
        "  ci_low, ci_high    t-based CI of the mean: mean -+ t_{(1+L)/2, n-1} sd / sqrt(n)\n"
        "With --bootstrap also: boot_replicates, boot_stat, boot_pct_low, boot_pct_high\n"
        "(percentile interval), boot_bca_low, boot_bca_high (BCa interval; nan when the data\n"
        "are constant). Resampling: GSL mt19937 seeded with --seed, the same for any -j.\n"
        "Last: excl_nan, excl_inf, excl_error, excl_missing, excl_not_ok (csv, tsv, json).\n"
        "\n"
        CLI_REPORT_EXIT
        "Examples:\n"
        "  panseval describe metrics.csv --metric dice,hd95 --by model,modality\n"
        "  panseval describe metrics.csv --metric dice --model pansegnet --by center \\\n"
        "      --bootstrap 10000 --seed 42 --format json\n",
        f);
}

enum { OPT_METRIC = CLI_OPT_FIRST_PRIVATE, OPT_BY, OPT_MODEL, OPT_LEVEL, OPT_BOOT, OPT_BOOT_STAT,
       OPT_OK_ONLY };

int main_describe(int argc, char **argv)
{
    static const struct option longopts[] = {
        CLI_COMMON_LONGOPTS,
        {"metric", required_argument, NULL, OPT_METRIC},
        {"by", required_argument, NULL, OPT_BY},
        {"model", required_argument, NULL, OPT_MODEL},
        {"level", required_argument, NULL, OPT_LEVEL},
        {"bootstrap", required_argument, NULL, OPT_BOOT},
        {"bootstrap-stat", required_argument, NULL, OPT_BOOT_STAT},
        {"ok-only", no_argument, NULL, OPT_OK_ONLY},
        {NULL, 0, NULL, 0},
    };
    cli_common common;
    cli_common_init(&common, PS_TABLE_CSV);
    common.uses = CLI_REPORT_USES | CLI_USE_THREADS | CLI_USE_SEED;
    ps_describe_options o;
    ps_describe_options_init(&o);
    ps_report_format fmt = PS_REPORT_TEXT;
    const char *metrics = NULL, *by = "";
    int c;
    while ((c = cli_getopt(&common, CMD, argc, argv, "", longopts)) != -1) {
        switch (c) {
        case CLI_GETOPT_ERROR: return 2;
        case OPT_METRIC: metrics = optarg; break;
        case OPT_BY: by = optarg; break;
        case OPT_MODEL: o.model = optarg; break;
        case OPT_LEVEL:
            if (cli_parse_level(CMD, optarg, &o.level))
                return 2;
            break;
        case OPT_BOOT:
            if (cli_parse_int(CMD, "--bootstrap", optarg, 0, 100000000, &o.bootstrap))
                return 2;
            if (o.bootstrap == 1)
                return cli_usage_error(CMD, "--bootstrap needs at least 2 resamples (or 0)");
            break;
        case OPT_BOOT_STAT:
            if (!strcmp(optarg, "mean"))
                o.boot_stat = PS_BOOT_MEAN;
            else if (!strcmp(optarg, "median"))
                o.boot_stat = PS_BOOT_MEDIAN;
            else
                return cli_usage_error(CMD, "--bootstrap-stat must be mean or median, got '%s'",
                                       optarg);
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
    if (optind >= argc)
        return cli_usage_error(CMD, "missing TABLE");
    if (!metrics)
        return cli_usage_error(CMD, "--metric is required");
    ps_stats_init();
    o.seed = common.ctx.seed;
    o.threads = ps_context_threads(&common.ctx);

    char *mcopy = NULL, *bcopy = NULL, **mitems = NULL, **bitems = NULL;
    int status, nby = 0, nmet = 0;
    if (!(status = cli_report_list(CMD, "--metric", metrics, 0, &mcopy, &mitems, &nmet)) &&
        !(status = cli_report_list(CMD, "--by", by, 1, &bcopy, &bitems, &nby))) {
        o.metrics = (const char *const *)mitems;
        o.nmetrics = nmet;
        o.by = (const char *const *)bitems;
        o.nby = nby;
        ps_table *t = NULL;
        ps_rtable *rt = NULL;
        int rc = ps_report_load((const char *const *)argv + optind, argc - optind, &t);
        rc = rc ? rc : ps_report_describe(t, &o, &rt);
        status = cli_report_finish(CMD, &common, rc, rt, fmt);
        ps_rtable_free(rt);
        ps_table_free(t);
    }
    free(mcopy);
    free(bcopy);
    free(mitems);
    free(bitems);
    return status;
}
