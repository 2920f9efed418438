/* cmd_reproduce.c - `panseval reproduce`: from a manifest to the paper's tables and a report.
 * Parsing and printing only: the run is ps_reproduce_run (reports/reproduce_run.c). */
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "ps_eval.h"
#include "ps_reports.h"

static const char *CMD = "reproduce";

static void usage(FILE *f)
{
    fputs("Usage: panseval reproduce --manifest M.tsv --out REPORT_DIR [options]\n"
          "\n"
          "Evaluates every pred:MODEL column of a data manifest against ref, and every\n"
          "rater:NAME[:SESSION] column (inter- and intra-rater agreement), then writes the\n"
          "tables of a PanSegNet-style paper and a report into REPORT_DIR (created if needed):\n"
          "\n"
          "  per_case.csv, per_case_raters.csv   the per-case tables (as `panseval metrics`),\n"
          "                                      each with its .meta.json provenance\n"
          "  by_modality.csv    per model x modality: n and the count per status; Dice (%),\n"
          "                     HD95, ASSD, NSD, precision, recall: mean, SD, median, quartiles\n"
          "  by_center.csv      the same per model x center x modality (Dice, HD95)\n"
          "  cross_center.csv   mean Dice (%): rows models, columns test centers\n"
          "  compare.csv        each model against --baseline per modality, Dice and HD95:\n"
          "                     paired t-test (CI of the difference) and Wilcoxon signed-rank\n"
          "                     test, Holm-corrected across every row of the table\n"
          "  volume.csv         per model x modality: OLS R^2 (the paper's), R^2 against the\n"
          "                     identity, Pearson r, Bland-Altman bias and limits, paired t-test\n"
          "                     of predicted against reference volume\n"
          "  raters.csv         per rater x modality: kind (inter/intra), voxel-wise kappa,\n"
          "                     Dice (%), HD95 (mean, SD, median, quartiles)\n"
          "  published.csv      published values beside the reproduced ones\n"
          "  agreement_*.csv    with ref and a rater:NAME column, the multi-rater agreement of\n"
          "                     `panseval agreement --sessions --models --by modality` (ref\n"
          "                     named after the rater whose sessions lack a rater:NAME column):\n"
          "                     agreement_pairs, _cases, _sessions, _model_cases, _summary,\n"
          "                     _matrix (rater x rater mean Dice), _models (docs/reproduce.md)\n"
          "  *.json             a JSON twin of each table above\n"
          "  report.md, report.tex (booktabs), report.html (one self-contained file: inline\n"
          "                     SVG plots, the 5 worst cases per model as PNG slices)\n"
          "  summary_MODEL.json per model, nnU-Net v1's summary.json layout\n"
          "\n"
          "Options:\n"
          "  --manifest FILE     data manifest (TSV; data-manifests/README.md)\n"
          "  --out DIR           report folder\n"
          "  --baseline NAME     the model the others are compared with (default: the first\n"
          "                      pred:MODEL column)\n"
          "  --published FILE    published values (TSV: modality, metric, value, sd, source;\n"
          "                      docs/report.md); default: the shipped PanSegNet table;\n"
          "                      'none': no published values\n"
          "\n", f);
    fputs(ps_eval_settings_help, f);
    fputs("\n" CLI_COMMON_HELP_OF(CLI_HELP_THREADS CLI_HELP_PROGRESS)
          "\n"
          "Which rows enter a statistic: rows with status error or missing enter none and are\n"
          "counted; a metric's value enters when it is finite (Dice of an empty prediction is\n"
          "0 and enters; its HD95 is NaN under --empty nan and is counted as left out).\n"
          "Every number in the reports is the rounding of the number in the CSV named under\n"
          "its table. Not yet here: --model NAME=MODEL_DIR (inference for cases without a\n"
          "prediction) and --resume; run `panseval infer` first and give the predictions as\n"
          "pred: columns.\n"
          "Exit status: 0; 1 when an evaluation failed (its row says why; the tables and\n"
          "reports are written all the same); 2 usage error.\n"
          "\n"
          "Example:\n"
          "  panseval demo-data --out demo && panseval reproduce --manifest demo/manifest.tsv \\\n"
          "      --out demo/report --baseline modelB -j 2\n", f);
}

enum { OPT_MANIFEST = CLI_OPT_FIRST_PRIVATE, OPT_OUT, OPT_BASELINE, OPT_PUBLISHED, OPT_SETTING };
#define SETTING(n, a) {n, a, NULL, OPT_SETTING}

int main_reproduce(int argc, char **argv)
{
    static const struct option longopts[] = {
        CLI_COMMON_LONGOPTS,
        {"manifest", required_argument, NULL, OPT_MANIFEST},
        {"out", required_argument, NULL, OPT_OUT},
        {"baseline", required_argument, NULL, OPT_BASELINE},
        {"published", required_argument, NULL, OPT_PUBLISHED},
        SETTING("labels", 1), SETTING("hd95", 1), SETTING("percentile", 1),
        SETTING("nsd-tol", 1), SETTING("nsd-method", 1), SETTING("empty", 1),
        SETTING("empty-dice", 1), SETTING("no-distances", 0), SETTING("geometry", 1),
        SETTING("geometry-tol", 1), {NULL, 0, NULL, 0},
    };
    cli_common common;
    cli_common_init(&common, PS_TABLE_CSV);
    common.uses = CLI_USE_THREADS | CLI_USE_PROGRESS;
    ps_eval_settings s;
    ps_eval_settings_init(&s);
    ps_reproduce_options o;
    ps_reproduce_options_init(&o);
    const char *manifest = NULL, *out = NULL, *published = ps_published_default_path();
    int c, status = 0;
    while ((c = cli_getopt(&common, CMD, argc, argv, "", longopts)) != -1 && !status) {
        switch (c) {
        case CLI_GETOPT_ERROR: status = 2; break;
        case OPT_MANIFEST: manifest = optarg; break;
        case OPT_OUT: out = optarg; break;
        case OPT_BASELINE: o.baseline = optarg; break;
        case OPT_PUBLISHED: published = optarg; break;
        case OPT_SETTING:
            if (ps_eval_settings_set(&s, common.last_opt + 2, optarg))
                status = cli_usage_error(CMD, "%s", ps_error_message());
            break;
        default: status = cli_unknown_option(&common);
        }
    }
    if (status || common.help) {
        if (common.help)
            usage(stdout);
    } else if (optind < argc) {
        status = cli_usage_error(CMD, "unexpected argument '%s'", argv[optind]);
    } else if (!manifest || !out) {
        status = cli_usage_error(CMD, "--manifest and --out are required");
    } else {
        o.published = strcmp(published, "none") ? published : NULL;
        ps_reproduce_summary sum;
        int rc = ps_reproduce_run(manifest, out, &s, &o, &common.ctx, &sum);
        if (!rc && common.ctx.verbosity > 0) {
            printf("Per modality and model (Dice in %%, HD95 in mm; %s/by_modality.csv):\n\n",
                   out);
            rc = ps_reproduce_print(out, stdout);
            printf("Report: %s/report.html (also report.md, report.tex; tables as CSV and "
                   "JSON in %s)\n", out, out);
        }
        if (rc)
            status = cli_report_error(CMD, rc);
        else if (sum.failed) {
            fprintf(stderr, "panseval reproduce: %lld of %lld evaluation(s) failed (status=error "
                    "rows in %s/per_case*.csv); the reports count them\n",
                    (long long)sum.failed, (long long)sum.evaluations, out);
            status = 1;
        }
    }
    ps_eval_settings_clear(&s);
    return status;
}
