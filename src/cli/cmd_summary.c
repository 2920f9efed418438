/* cmd_summary.c - `panseval summary`: per-group summary of a per-case metrics table
 * (ps_report_summary). */
#include <stdlib.h>
#include <string.h>

#include "cli_report.h"

static const char *CMD = "summary";

static void usage(FILE *f)
{
    fputs("Usage: panseval summary TABLE... [--by COLS] [--metrics COLS] [--fraction]\n"
          "                        [--format FMT] [-o FILE]\n"
          "       panseval summary TABLE... --format nnunet-v1|nnunet-v1-pansegnet|nnunet-v2\n"
          "                        [--model M] [-o FILE]\n"
          "\n"
          "Summarise the per-case table of `panseval metrics` (CSV or TSV, detected from the\n"
          "header; '-' reads standard input; several tables with the same columns are joined;\n"
          "an nnU-Net summary.json, v1 or v2, is read as a per-case table, named MODEL=FILE to\n"
          "set its model, see docs/nnunet.md) per group: how many rows of each status\n"
          "(ok, pred_empty, ref_empty, both_empty, missing, error), and mean \xc2\xb1 SD of each\n"
          "metric.\n"
          "\n"
          "Which rows enter (the rule of every table command, docs/stats.md): a row enters a\n"
          "metric when its value is finite. Rows with status error or missing count in their\n"
          "status column and enter no metric; a NaN or empty value (e.g. HD95 when the\n"
          "prediction is empty and --empty nan) is counted as [k nan] beside the mean and left\n"
          "out of it, infinite values likewise as [k inf]; Dice 0 of an empty prediction counts.\n"
          "\n"
          "Options:\n"
          "  --by COLS        group by these columns, comma-separated, any column of the table\n"
          "                   (default: model,modality,label; 'none' for one group)\n"
          "  --metrics COLS   metric columns to summarise\n"
          "                   (default: dice,hd95,assd,nsd,vol_diff_ml)\n"
          "  --fraction       show dice, jaccard and nsd as fractions, not percent (text, md,\n"
          "                   tex)\n"
          "  nnunet-v1, nnunet-v1-pansegnet, nnunet-v2\n"
          "                   more values of --format (below): write the summary.json nnU-Net\n"
          "                   v1 (results.all, results.mean), its PaNSegNet fork (v1 plus\n"
          "                   MedPy's HD95 and ASSD, from the hd95 and assd columns) or v2\n"
          "                   (metric_per_case, mean, foreground_mean) would write for the\n"
          "                   same masks, from the tp, fp, fn, tn columns with nnU-Net's\n"
          "                   formulas (Dice NaN when both masks are empty); rows with status\n"
          "                   error or missing are left out and counted (docs/nnunet.md)\n"
          "  --model M        use only the rows of model M (default: every row; the nnU-Net\n"
          "                   formats need one model when the table holds several)\n"
          "\n"
          CLI_REPORT_HELP
          "\n"
          "Output: text, md and tex show one row per group: the key columns, rows, the count\n"
          "per status, and \"mean \xc2\xb1 SD [k nan]\" per metric. csv, tsv and json have per group\n"
          "n_rows, n_<status> and per metric <m>_n (values used), _excluded (left out), _nan,\n"
          "_inf, _mean, _sd, _median, _q1, _q3, _min, _max, _ci_low, _ci_high (t-based 95% CI\n"
          "of the mean; quantiles are type 7, as numpy and R).\n"
          "\n"
          CLI_REPORT_EXIT
          "Example:\n"
          "  panseval metrics --manifest demo/manifest.tsv -o metrics.csv\n"
          "  panseval summary metrics.csv --by model,modality --format md\n",
          f);
}

enum { OPT_BY = CLI_OPT_FIRST_PRIVATE, OPT_METRICS, OPT_FRACTION, OPT_MODEL };

/* --format nnunet-v1|nnunet-v2: the summary.json writer. */
static int write_nnunet(const ps_table *t, const ps_nnunet_options *no, const cli_common *common)
{
    ps_atomic_file *af;
    FILE *f;
    int64_t skipped = 0;
    int rc = cli_output_open(common, &af, &f);
    if (!rc)
        rc = cli_output_close(af, ps_nnunet_write(t, no, f, &skipped));
    if (!rc && skipped)
        ps_log(&common->ctx, PS_LOG_WARN, "summary: %lld row(s) with status error or missing "
               "left out of summary.json", (long long)skipped);
    return rc;
}

int main_summary(int argc, char **argv)
{
    static const struct option longopts[] = {
        CLI_COMMON_LONGOPTS,
        {"by", required_argument, NULL, OPT_BY},
        {"metrics", required_argument, NULL, OPT_METRICS},
        {"fraction", no_argument, NULL, OPT_FRACTION},
        {"model", required_argument, NULL, OPT_MODEL},
        {NULL, 0, NULL, 0},
    };
    cli_common common;
    cli_common_init(&common, PS_TABLE_CSV);
    common.uses = CLI_USE_OUTPUT;
    ps_summary_options o;
    ps_summary_options_init(&o);
    ps_report_format fmt = PS_REPORT_TEXT;
    const char *by = "model,modality,label", *metrics = "dice,hd95,assd,nsd,vol_diff_ml";
    ps_nnunet_options no = {PS_NNUNET_V1, NULL};
    int c, nnunet = 0;
    while ((c = cli_getopt(&common, CMD, argc, argv, "", longopts)) != -1) {
        switch (c) {
        case CLI_GETOPT_ERROR: return 2;
        case CLI_OPT_FORMAT: /* the table formats, or nnU-Net's summary.json */
            nnunet = !ps_nnunet_layout_parse(optarg, &no.layout);
            if (!nnunet && ps_report_format_parse(optarg, &fmt))
                return cli_usage_error(CMD, "--format must be %s, nnunet-v1, "
                                       "nnunet-v1-pansegnet or nnunet-v2, got '%s'",
                                       ps_report_format_names(), optarg);
            common.format_set = !nnunet;
            break;
        case OPT_MODEL: no.model = o.model = optarg; break;
        case OPT_BY: by = optarg; break;
        case OPT_METRICS: metrics = optarg; break;
        case OPT_FRACTION: o.percent = 0; break;
        default: return cli_unknown_option(&common);
        }
    }
    if (common.help) {
        usage(stdout);
        return 0;
    }
    ps_table_format sfx; /* the suffix of -o, as the other table commands do */
    if (!nnunet && common.output && ps_table_format_from_path(common.output, &sfx)) {
        if (!common.format_set)
            fmt = cli_report_format_of(sfx);
        else if (fmt != cli_report_format_of(sfx))
            return cli_usage_error(CMD, "--format contradicts the suffix of -o %s; give one or "
                                   "make them agree", common.output);
    }
    if (optind >= argc)
        return cli_usage_error(CMD, "missing TABLE");

    char *mcopy = NULL, *bcopy = NULL, **mitems = NULL, **bitems = NULL;
    int status, nby = 0, nmet = 0;
    if (!(status = cli_report_list(CMD, "--metrics", metrics, 0, &mcopy, &mitems, &nmet)) &&
        !(status = cli_report_list(CMD, "--by", by, 1, &bcopy, &bitems, &nby))) {
        o.metrics = (const char *const *)mitems;
        o.nmetrics = nmet;
        o.by = (const char *const *)bitems;
        o.nby = nby;
        ps_table *t = NULL;
        ps_rtable *rt = NULL;
        int rc = ps_report_load((const char *const *)argv + optind, argc - optind, &t);
        if (nnunet) {
            rc = rc ? rc : write_nnunet(t, &no, &common);
            status = rc ? cli_report_error(CMD, rc) : 0;
        } else {
            rc = rc ? rc : ps_report_summary(t, &o, &rt);
            status = cli_report_finish(CMD, &common, rc, rt, fmt);
        }
        ps_rtable_free(rt);
        ps_table_free(t);
    }
    free(mcopy);
    free(bcopy);
    free(mitems);
    free(bitems);
    return status;
}
