/* cmd_metrics.c - `panseval metrics`: per-case segmentation metrics into the per-case table.
 * Parsing and printing only: the plan, the run and the table are src/eval (ps_eval.h). */
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "ps_eval.h"
#include "ps_eval_dist.h"
#include "ps_reports.h"

static const char *CMD = "metrics";

static void usage(FILE *f)
{
    fputs("Usage: panseval metrics --ref REF.nii.gz --pred PRED.nii.gz [options]\n"
          "       panseval metrics --ref REF_DIR --pred PRED_DIR [options]\n"
          "       panseval metrics --manifest M.tsv [--model NAME ...] [options]\n\n"
          "Segmentation metrics per case x model x label: overlap (Dice, Jaccard, ...), volumes,\n"
          "voxel-wise kappa, and boundary distances in mm (HD, HD95, ASSD, MASD, NSD) from an\n"
          "exact Euclidean distance transform with the header spacing. One row per case x\n"
          "model x label, in manifest order, then model, then label, whatever -j; rows are\n"
          "written as cases finish.\n\n"
          "Input:\n"
          "  --ref FILE|DIR      reference label map (.nii or .nii.gz), or a folder of them\n"
          "  --pred FILE|DIR     prediction on the same voxel grid, or a folder: files are\n"
          "                      paired by case id (the name without .nii/.nii.gz, so x.nii\n"
          "                      pairs with x.nii.gz) as nnU-Net's evaluate_folder pairs names;\n"
          "                      a folder holding both x.nii and x.nii.gz is an error; a reference\n"
          "                      without a prediction is a status=missing row, a prediction\n"
          "                      without a reference is listed and ignored\n"
          "  --case ID           case id of a file pair (default: --pred's name without suffix)\n"
          "  --name NAME         model name of a file or folder pair (default: pred)\n"
          "  --manifest FILE     data manifest (TSV; data-manifests/README.md): evaluates the\n"
          "                      pred:MODEL columns against ref; an empty cell is status=missing\n"
          "  --model NAME        only this model (repeatable; default: every pred:MODEL column).\n"
          "                      A rater column, e.g. --model rater:B or rater:A:2, is evaluated\n"
          "                      against ref like a model: inter- and intra-rater agreement\n\n",
          f);
    fputs(ps_eval_settings_help, f);
    fputs("\nLong runs and clusters (docs/cluster.md):\n"
          "  --resume            skip the cases already in OUT.journal (kept beside -o OUT by an\n"
          "                      interrupted run) and write the same table an uninterrupted run\n"
          "                      writes; a journal of another manifest or options is refused\n"
          "  --shard I/N         evaluate only shard I of N (cases balanced by file size) and\n"
          "                      keep OUT.journal for `panseval merge`\n"
          "  --mpi               spread the cases over the ranks of `mpirun -n K` (rank 0 writes\n"
          "                      the outputs; needs a build with MPI, see `meson setup`)\n", f);
    fputs("\n" CLI_COMMON_HELP_OF(CLI_HELP_OUTPUT CLI_HELP_FORMAT CLI_HELP_THREADS
                                  CLI_HELP_PROGRESS) "\n", f);
    fputs("nnU-Net's summary.json, from the same run (docs/nnunet.md):\n"
          "  --summary-json FILE  also write FILE as nnU-Net writes summary.json for these\n"
          "                       masks; byte for byte what `panseval summary TABLE --format\n"
          "                       LAYOUT` writes from the table. Error and missing rows are\n"
          "                       left out and counted; not written when interrupted\n"
          "  --summary-json-layout LAYOUT\n"
          "                       nnunet-v1 (default), nnunet-v1-pansegnet or nnunet-v2\n\n", f);
    fputs(ps_eval_table_help, f);
    fputs("\nExamples:\n"
          "  panseval metrics --ref case01_gt.nii.gz --pred case01_pred.nii.gz\n"
          "  panseval metrics --manifest demo/manifest.tsv -j 2 -o metrics.csv\n"
          "  panseval metrics --ref labelsTs --pred predsTs --name nnunet -o folder.json\n", f);
}

/* Run the plan into the output (src/eval's ps_eval_run_to_path) with the summary.json
 * collector as its tee; the interruption note on stderr. */
static int run(const cli_common *common, const ps_eval_plan *plan, const ps_eval_settings *s,
               ps_eval_run_opts *o, const char *sjson, const ps_nnunet_options *no)
{
    ps_nnunet_collector *col = NULL;
    ps_eval_sink tee;
    int64_t skipped = 0;
    ps_eval_summary sum;
    ps_eval_run_info info;
    int root = ps_dist_rank(o->dist) == 0, rc = 0;
    const char *out = common->output, *file = out && strcmp(out, "-") ? out : NULL;
    if (root && sjson && (rc = ps_nnunet_collector_create(plan, NULL, &col)))
        return cli_report_error(CMD, rc);
    o->tee = col ? (tee = ps_nnunet_collector_sink(col), &tee) : NULL;
    o->stop = cli_catch_stop_signals();
    rc = ps_eval_run_to_path(plan, s, &common->ctx, o, out, common->format, &sum, &info);
    cli_release_stop_signals();
    if (root && info.resumed_jobs)
        ps_log(&common->ctx, PS_LOG_INFO, "metrics: %lld of %lld evaluation(s) taken from the "
               "journal %s.journal, %lld run now", (long long)info.resumed_jobs,
               (long long)info.shard_jobs, file ? file : "",
               (long long)(info.shard_jobs - info.resumed_jobs));
    int sig = *o->stop;
    if (!rc && col && !sig)
        rc = ps_nnunet_collector_write(col, no, sjson, &skipped);
    ps_nnunet_collector_free(col);
    if (!rc && skipped)
        ps_log(&common->ctx, PS_LOG_WARN, "metrics: %lld row(s) with status error or missing "
               "left out of %s", (long long)skipped, sjson);
    if (rc || !root)
        return rc ? cli_report_error(CMD, rc) : sum.failed ? 1 : 0;
    ps_eval_summary_log(&sum, &common->ctx); /* failed cases also under -q */
    if (sig)
        fprintf(stderr, "panseval metrics: interrupted (%s): kept the %lld of %lld case(s) "
                "(%lld of %lld evaluations) finished in order, as a complete table in %s%s%s%s"
                "%s\n", sig == SIGINT ? "SIGINT" : "SIGTERM", (long long)sum.cases_emitted,
                (long long)plan->ncases, (long long)sum.jobs_emitted, (long long)sum.jobs,
                out ? out : "standard output", file ? " and in the journal " : "",
                file ? file : "", file ? ".journal" : "",
                file ? "; run the same command with --resume to finish it" : "");
    return sig ? 128 + sig : sum.failed ? 1 : 0;
}

/* --summary-json FILE: refused, before any work, as -o is, and when it is -o itself. */
static int check_summary_json(const cli_common *common, const char *sjson,
                              const char *const inputs[3])
{
    if (!sjson)
        return 0;
    if (!*sjson || !strcmp(sjson, "-"))
        return cli_usage_error(CMD, "--summary-json needs a file name");
    const char *all[] = {inputs[0], inputs[1], inputs[2], common->output};
    cli_common c = *common;
    c.output = sjson;
    c.output_opt = "--summary-json";
    int rc = cli_output_check(&c, all, 4);
    if (!rc && common->output && !strcmp(common->output, sjson))
        rc = cli_usage_error(CMD, "--summary-json %s is the -o file", sjson);
    return rc;
}

enum { OPT_REF = CLI_OPT_FIRST_PRIVATE, OPT_PRED, OPT_CASE, OPT_NAME, OPT_MANIFEST, OPT_MODEL,
       OPT_SETTING, OPT_RESUME, OPT_SHARD, OPT_MPI, OPT_SJSON, OPT_SJSON_LAYOUT };
#define SETTING(n, a) {n, a, NULL, OPT_SETTING}

int main_metrics(int argc, char **argv)
{
    static const struct option longopts[] = {
        CLI_COMMON_LONGOPTS,
        {"ref", required_argument, NULL, OPT_REF}, {"pred", required_argument, NULL, OPT_PRED},
        {"case", required_argument, NULL, OPT_CASE}, {"name", required_argument, NULL, OPT_NAME},
        {"manifest", required_argument, NULL, OPT_MANIFEST},
        {"model", required_argument, NULL, OPT_MODEL},
        {"resume", no_argument, NULL, OPT_RESUME}, {"shard", required_argument, NULL, OPT_SHARD},
        {"mpi", no_argument, NULL, OPT_MPI},
        SETTING("labels", 1), SETTING("hd95", 1), SETTING("percentile", 1),
        SETTING("nsd-tol", 1), SETTING("nsd-method", 1), SETTING("empty", 1),
        SETTING("empty-dice", 1), SETTING("no-distances", 0), SETTING("geometry", 1),
        SETTING("geometry-tol", 1), SETTING("fail-fast", 0),
        {"summary-json", required_argument, NULL, OPT_SJSON},
        {"summary-json-layout", required_argument, NULL, OPT_SJSON_LAYOUT}, {NULL, 0, NULL, 0},
    };
    cli_common common;
    cli_common_init(&common, PS_TABLE_CSV);
    common.uses = CLI_USE_OUTPUT | CLI_USE_FORMAT | CLI_USE_THREADS | CLI_USE_PROGRESS;
    ps_eval_settings s;
    ps_eval_settings_init(&s);
    const char *ref = NULL, *pred = NULL, *case_id = NULL, *name = "pred", *manifest = NULL;
    ps_eval_run_opts o = {0};
    int mpi = 0, layout_set = 0;
    const char *sjson = NULL;
    ps_nnunet_options no = {PS_NNUNET_V1, NULL};
    const char **models = calloc((size_t)argc, sizeof *models);
    int nmodels = 0, c, status = models ? 0 : cli_report_error(CMD, PS_ERR_NOMEM), rc;
    while (!status && (c = cli_getopt(&common, CMD, argc, argv, "", longopts)) != -1) {
        switch (c) {
        case CLI_GETOPT_ERROR: status = 2; break;
        case OPT_REF: ref = optarg; break;
        case OPT_PRED: pred = optarg; break;
        case OPT_CASE: case_id = optarg; break;
        case OPT_NAME: name = optarg; break;
        case OPT_MANIFEST: manifest = optarg; break;
        case OPT_MODEL: models[nmodels++] = optarg; break;
        case OPT_RESUME: o.resume = 1; break;
        case OPT_SHARD:
            if (ps_eval_shard_parse(optarg, &o.shard_index, &o.shard_count))
                status = cli_usage_error(CMD, "%s", ps_error_message());
            break;
        case OPT_MPI: mpi = 1; break;
        case OPT_SJSON: sjson = optarg; break;
        case OPT_SJSON_LAYOUT:
            layout_set = 1;
            if (ps_nnunet_layout_parse(optarg, &no.layout))
                status = cli_usage_error(CMD, "--summary-json-layout must be nnunet-v1, "
                                         "nnunet-v1-pansegnet or nnunet-v2, got '%s'", optarg);
            break;
        case OPT_SETTING: /* the option name without "--" */
            if (ps_eval_settings_set(&s, common.last_opt + 2, optarg))
                status = cli_usage_error(CMD, "%s", ps_error_message());
            break;
        default: status = cli_unknown_option(&common);
        }
    }
    const char *inputs[] = {manifest, ref, pred};
    ps_eval_plan *plan = NULL;
    if (!status && !common.help)
        ps_context_check_threads(&common.ctx, CMD);
    if (status || common.help)
        status = common.help ? (usage(stdout), 0) : status;
    else if (optind < argc)
        status = cli_usage_error(CMD, "unexpected argument '%s'", argv[optind]);
    else if (!!manifest == !!(ref || pred))
        status = cli_usage_error(CMD, "give either --manifest, or --ref and --pred");
    else if (!manifest && (!ref || !pred))
        status = cli_usage_error(CMD, "--ref and --pred go together");
    else if (nmodels && !manifest)
        status = cli_usage_error(CMD, "--model selects pred:MODEL columns of a --manifest");
    else if ((o.resume || o.shard_count) && (!common.output || !strcmp(common.output, "-")))
        status = cli_usage_error(CMD, "--resume and --shard keep a journal beside -o FILE");
    else if (o.shard_count && !manifest)
        status = cli_usage_error(CMD, "--shard splits the cases of a --manifest");
    else if (layout_set && !sjson)
        status = cli_usage_error(CMD, "--summary-json-layout goes with --summary-json FILE");
    else if (!(status = cli_dist_start(CMD, mpi, "evaluate every case", &o.dist)) &&
             !(status = cli_output_check(&common, inputs, 3)) &&
             !(status = check_summary_json(&common, sjson, inputs))) {
        rc = manifest ? ps_eval_plan_from_manifest(manifest, models, nmodels, &common.ctx, &plan)
                      : ps_eval_plan_files(ref, pred, case_id, name, &plan);
        for (int i = 0; !rc && i < plan->nunmatched; i++)
            ps_log(&common.ctx, PS_LOG_WARN, "%s: no reference of this name in %s; not "
                   "evaluated", plan->unmatched[i], ref);
        o.manifest = manifest;
        o.models = models;
        o.nmodels = nmodels;
        status = rc ? cli_report_error(CMD, rc) : run(&common, plan, &s, &o, sjson, &no);
    }
    ps_eval_plan_free(plan);
    ps_eval_settings_clear(&s);
    free(models);
    ps_dist_finalize(o.dist);
    return status;
}
