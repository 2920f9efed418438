/* cmd_reproduce.c - `panseval reproduce`: from a manifest to the paper's tables and a report.
 * Parsing and printing only: the run is ps_reproduce_run (reports/reproduce_run.c). */
#include <string.h>

#include "cli.h"
#include "ps_eval.h"
#include "ps_infer.h"
#include "ps_reports.h"

static const char *CMD = "reproduce";

static void usage(FILE *f)
{
    fputs("Usage: panseval reproduce --manifest M.tsv --out REPORT_DIR [--model NAME=DIR] ...\n"
          "                          [--resume] [--mpi]\n"
          "\n"
          "With --model, first segments each case with an image and no pred:NAME file\n"
          "(`panseval infer`) into REPORT_DIR/preds/NAME/CASE.nii.gz, reusing files already\n"
          "there (REPORT_DIR/manifest_preds.tsv lists them). Evaluates every pred:MODEL\n"
          "column of a data manifest against ref and every rater:NAME[:SESSION] column, and\n"
          "writes the tables of a PanSegNet-style paper and a report into REPORT_DIR:\n"
          "\n", f);
    fputs(ps_reproduce_files_help, f);
    fputs("\n"
          "Options:\n"
          "  --manifest FILE     data manifest (TSV; data-manifests/README.md)\n"
          "  --out DIR           report folder\n"
          "  --baseline NAME     the model the others are compared with (default: the first\n"
          "                      pred:MODEL column)\n"
          "  --published FILE    published values (TSV: modality, metric, value, sd, source;\n"
          "                      docs/report.md); default: the shipped PanSegNet table;\n"
          "                      'none': no published values\n"
          "  --model NAME=DIR    repeatable: run the nnU-Net v1 model folder DIR for the cases\n"
          "                      without a pred:NAME file (a failing case is an error row)\n"
          "  --fold F            folds of every --model: N, 0,1,2 or all (default: every fold_N)\n"
          "  --no-mirroring      one pass per tile instead of 8 (as `panseval infer`)\n"
          "  --step S            sliding-window step, a fraction of the patch (default 0.5)\n"
          "  --resume            go on from the journals of an interrupted run (below)\n"
          "  --mpi               spread inference and evaluation over `mpirun -n K` ranks\n"
          "\n", f);
    fputs(ps_eval_settings_help, f);
    fputs("\n" CLI_COMMON_HELP_OF(CLI_HELP_THREADS CLI_HELP_PROGRESS)
          "\n"
          "Which rows enter a statistic: rows with status error or missing enter none and are\n"
          "counted; a metric's value enters when it is finite (Dice of an empty prediction is\n"
          "0 and enters; its HD95 is NaN under --empty nan and is counted as left out).\n"
          "Every number in the reports is the rounding of the number in the CSV named under\n"
          "its table.\n"
          "--resume: each per-case table keeps REPORT_DIR/per_case*.csv.journal while it runs,\n"
          "and the inference of each --model REPORT_DIR/preds/NAME.journal (every finished\n"
          "case with its prediction's size and hash); after Ctrl-C (or a crash) rerun the same\n"
          "command with --resume to skip the finished cases; the result is the same bytes. A\n"
          "journal of another manifest, model or options is refused, naming the difference.\n"
          "--mpi: under `mpirun -n K`, every rank takes part in the inference and evaluation\n"
          "work queues (-j threads each; a shared file system), rank 0 writes every file: the\n"
          "same bytes as one process (docs/cluster.md).\n"
          "Exit status: 0; 1 when an evaluation failed (its row says why; the tables and\n"
          "reports are written all the same); 2 usage error.\n"
          "\n"
          "Example:\n"
          "  panseval demo-data --out demo && panseval reproduce --manifest demo/manifest.tsv \\\n"
          "      --out demo/report --baseline modelB --model demo=models/demo-pancreas -j 2\n", f);
}

enum { OPT_MANIFEST = CLI_OPT_FIRST_PRIVATE, OPT_OUT, OPT_BASELINE, OPT_PUBLISHED, OPT_SETTING,
       OPT_MODEL, OPT_FOLD, OPT_NO_MIRROR, OPT_STEP, OPT_RESUME, OPT_MPI };
#define MAX_MODELS 32
#define SETTING(n, a) {n, a, NULL, OPT_SETTING}

int main_reproduce(int argc, char **argv)
{
    static const struct option longopts[] = {
        CLI_COMMON_LONGOPTS,
        {"manifest", required_argument, NULL, OPT_MANIFEST},
        {"out", required_argument, NULL, OPT_OUT},
        {"baseline", required_argument, NULL, OPT_BASELINE},
        {"published", required_argument, NULL, OPT_PUBLISHED},
        {"model", required_argument, NULL, OPT_MODEL},
        {"fold", required_argument, NULL, OPT_FOLD},
        {"no-mirroring", no_argument, NULL, OPT_NO_MIRROR},
        {"step", required_argument, NULL, OPT_STEP},
        {"resume", no_argument, NULL, OPT_RESUME},
        {"mpi", no_argument, NULL, OPT_MPI},
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
    ps_predict_options popt;
    ps_predict_options_init(&popt);
    o.predict = &popt;
    const char *manifest = NULL, *out = NULL, *published = ps_published_default_path();
    const char *names[MAX_MODELS], *dirs[MAX_MODELS];
    int c, status = 0, folds[100], mpi = 0;
    while ((c = cli_getopt(&common, CMD, argc, argv, "", longopts)) != -1 && !status) {
        switch (c) {
        case CLI_GETOPT_ERROR: status = 2; break;
        case OPT_MANIFEST: manifest = optarg; break;
        case OPT_OUT: out = optarg; break;
        case OPT_BASELINE: o.baseline = optarg; break;
        case OPT_PUBLISHED: published = optarg; break;
        case OPT_MODEL:   /* NAME=DIR, split in place (argv's text) */
            if (!(status = o.ninfer == MAX_MODELS ? cli_usage_error(CMD, "at most %d --model",
                           MAX_MODELS) : cli_split_pair(CMD, "--model", optarg, "NAME=MODEL_DIR",
                           &names[o.ninfer], &dirs[o.ninfer])))
                o.ninfer++;
            break;
        case OPT_FOLD: status = cli_parse_folds(CMD, optarg, folds, 100, &o.nfolds); break;
        case OPT_NO_MIRROR: popt.mirroring = 0; break;
        case OPT_RESUME: o.resume = 1; break;
        case OPT_MPI: mpi = 1; break;
        case OPT_STEP:
            status = cli_parse_double(CMD, "--step", optarg, 1e-3, 1.0, &popt.step) ? 2 : 0;
            break;
        case OPT_SETTING:
            if (ps_eval_settings_set(&s, common.last_opt + 2, optarg))
                status = cli_usage_error(CMD, "%s", ps_error_message());
            break;
        default: status = cli_unknown_option(&common);
        }
    }
    if (!status && !common.help)
        ps_context_check_threads(&common.ctx, CMD);
    if (status || common.help) {
        if (common.help)
            usage(stdout);
    } else if (optind < argc) {
        status = cli_usage_error(CMD, "unexpected argument '%s'", argv[optind]);
    } else if (!manifest || !out) {
        status = cli_usage_error(CMD, "--manifest and --out are required");
    } else if (!(status = cli_dist_start(CMD, mpi, "do all the work", &o.dist))) {
        o.published = strcmp(published, "none") ? published : NULL;
        o.infer_names = names;
        o.infer_dirs = dirs;
        o.folds = folds;
        ps_reproduce_summary sum;
        int root = ps_dist_rank(o.dist) == 0;
        o.stop = cli_catch_stop_signals_unless_mpi(o.dist);
        if (!root)
            common.ctx.verbosity = common.ctx.verbosity < 1 ? common.ctx.verbosity : 1;
        int rc = ps_reproduce_run(manifest, out, &s, &o, &common.ctx, &sum);
        cli_release_stop_signals();
        if (!rc && sum.interrupted)
            fprintf(stderr, "panseval reproduce: interrupted: the finished cases are kept in "
                    "%s/per_case*.csv.journal and %s/preds/*.journal; rerun with --resume to "
                    "finish\n", out, out);
        if (!rc && !root) {
            ps_dist_finalize(o.dist);
            ps_eval_settings_clear(&s);
            return sum.failed ? 1 : 0;
        }
        if (!rc && !sum.interrupted && common.ctx.verbosity > 0) {
            printf("Per modality and model (Dice in %%, HD95 in mm; %s/by_modality.csv):\n\n",
                   out);
            rc = ps_reproduce_print(out, stdout);
            if (o.ninfer)
                printf("\nInference: %lld case(s) predicted, %lld reused, %lld failed "
                       "(%s/preds/)\n", (long long)sum.predicted, (long long)sum.reused,
                       (long long)sum.infer_failed, out);
            printf("Report: %s/report.html (also report.md, report.tex; tables as CSV and "
                   "JSON in %s)\n", out, out);
        }
        if (rc)
            status = cli_report_error(CMD, rc);
        else if (sum.interrupted)
            status = 128 + *o.stop;
        else if (sum.failed) {
            fprintf(stderr, "panseval reproduce: %lld of %lld evaluation(s) failed (status=error "
                    "rows in %s/per_case*.csv); the reports count them\n",
                    (long long)sum.failed, (long long)sum.evaluations, out);
            status = 1;
        }
    }
    ps_eval_settings_clear(&s);
    ps_dist_finalize(o.dist);
    return status;
}
