/* cmd_summary.c - `panseval summary`: per-group summary of a per-case metrics table. */
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "ps_reports.h"

static const char *CMD = "summary";

static void usage(FILE *f)
{
    fputs("Usage: panseval summary TABLE [--by COLS] [--metrics COLS] [--format FMT] [-o FILE]\n"
          "\n"
          "Summarise the per-case table of `panseval metrics` (CSV or TSV, detected from the\n"
          "header; '-' reads standard input) per group: how many rows of each status\n"
          "(ok, pred_empty, ref_empty, both_empty, error), and mean \xc2\xb1 SD of each metric.\n"
          "\n"
          "Options:\n"
          "  --by COLS        group by these columns, comma-separated\n"
          "                   (default: model,modality,label; 'none' for one group)\n"
          "  --metrics COLS   metric columns to summarise\n"
          "                   (default: dice,hd95,assd,nsd,vol_diff_ml)\n"
          "  --format FMT     text (default: aligned columns), md (Markdown table), or\n"
          "                   csv, tsv, json: per metric <m>_n, _missing, _inf, _mean, _sd,\n"
          "                   _median, _q1, _q3, _min, _max, _ci_low, _ci_high (t-based 95% CI\n"
          "                   of the mean; quantiles are type 7, as numpy and R)\n"
          "  --fraction       show dice, jaccard and nsd as fractions, not percent (text, md)\n"
          "\n"
          "Empty masks are never dropped silently: a metric that is NaN for a row (e.g. HD95\n"
          "when the prediction is empty and --empty nan) is counted as [k nan] beside its mean\n"
          "and left out of it; infinite values likewise as [k inf]. Rows with status=error\n"
          "count in the error column and enter no metric.\n"
          "\n"
          "Output options:\n"
          "  -o, --output FILE   write to FILE (atomically); default: standard output\n"
          "  -q, --quiet         errors only\n"
          "  -h, --help          this text\n"
          "\n"
          "Example:\n"
          "  panseval metrics --manifest demo/manifest.tsv -o metrics.csv\n"
          "  panseval summary metrics.csv --by model,modality --format md\n",
          f);
}

enum { OPT_BY = CLI_OPT_FIRST_PRIVATE, OPT_METRICS, OPT_FRACTION };

int main_summary(int argc, char **argv)
{
    static const struct option longopts[] = {
        CLI_COMMON_LONGOPTS,
        {"by", required_argument, NULL, OPT_BY},
        {"metrics", required_argument, NULL, OPT_METRICS},
        {"fraction", no_argument, NULL, OPT_FRACTION},
        {NULL, 0, NULL, 0},
    };
    cli_common common;
    cli_common_init(&common, PS_FMT_CSV);
    common.uses = CLI_USE_OUTPUT; /* --format has text and md here: parsed below */
    const char *by = "model,modality,label", *metrics = "dice,hd95,assd,nsd,vol_diff_ml";
    ps_report_format fmt = PS_REPORT_TEXT;
    int percent = 1, c;
    while ((c = cli_getopt(&common, CMD, argc, argv, "", longopts)) != -1) {
        if (c == CLI_GETOPT_ERROR)
            return 2;
        if (c == CLI_OPT_FORMAT) { /* this command also has text and md */
            if (ps_report_format_parse(optarg, &fmt))
                return cli_usage_error(CMD, "%s", ps_error_message());
            continue;
        }
        int h = cli_common_option(&common, c, optarg);
        if (h < 0)
            return 2;
        if (h)
            continue;
        switch (c) {
        case OPT_BY: by = optarg; break;
        case OPT_METRICS: metrics = optarg; break;
        case OPT_FRACTION: percent = 0; break;
        default: return cli_unknown_option(&common);
        }
    }
    if (common.help) {
        usage(stdout);
        return 0;
    }
    if (optind != argc - 1)
        return cli_usage_error(CMD, optind >= argc ? "missing TABLE" : "give exactly one TABLE");

    char *by_copy = NULL, *met_copy = NULL;
    char **by_items = NULL, **met_items = NULL;
    int nby = 0, nmet = 0, status = 0, rc;
    ps_table *t = NULL;
    ps_report *r = NULL;
    if (!strcmp(by, "none"))
        by = "";
    if ((rc = cli_split_list(by, &by_copy, &by_items, &nby)) ||
        (rc = cli_split_list(metrics, &met_copy, &met_items, &nmet)))
        goto fail;
    if (nmet == 0) {
        status = cli_usage_error(CMD, "--metrics lists no column");
        goto done;
    }
    if ((rc = ps_table_read(argv[optind], &t)) ||
        (rc = ps_report_summarize(t, (const char *const *)by_items, nby,
                                         (const char *const *)met_items, nmet, &r)))
        goto fail;
    ps_atomic_file *af;
    FILE *f;
    if ((rc = cli_output_open(&common, &af, &f)))
        goto fail;
    if ((rc = cli_output_close(af, ps_report_write(r, f, fmt, percent))))
        goto fail;
    goto done;
fail:
    status = cli_report_error(CMD, rc);
done:
    ps_report_free(r);
    ps_table_free(t);
    free(by_copy);
    free(met_copy);
    free(by_items);
    free(met_items);
    return status;
}
