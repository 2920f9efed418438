/* cmd_infer.c - `panseval infer`: segment whole images as nnU-Net v1's predict_cases does. */
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "ps_eval_dist.h"
#include "ps_infer.h"
#include "ps_manifest.h"

static const char *CMD = "infer";

static void usage(FILE *f)
{
    fputs("Usage: panseval infer --model MODEL_DIR --input CASE_0000.nii.gz [--input CASE_0001.nii.gz ...]\n"
          "                      --output SEG.nii.gz [--probabilities PROB.nii.gz] [--fold F]\n"
          "                      [--checkpoint NAME] [--no-mirroring] [--step 0.5]\n"
          "                      [--no-postprocessing] [-j N] [--backend B]\n"
          "       panseval infer --model MODEL_DIR --manifest M.tsv --name MODEL --out-dir DIR\n"
          "                      [-o M_WITH_PREDS.tsv] [--force] [--resume] [--shard I/N]\n"
          "                      [--mpi] [the options above]\n"
          "\n"
          "Segment a whole image with a trained nnU-Net v1 / PanSegNet model, reproducing the\n"
          "authors' pipeline (nnU-Net v1 predict_cases): crop to the non-zero box of all\n"
          "modalities, transpose_forward, resampling to the model's spacing (third-order\n"
          "spline; order 0 along the low-resolution axis when the anisotropy exceeds 3),\n"
          "normalisation from the plans (CT: clip to the 0.5/99.5 percentiles, dataset mean\n"
          "and SD; other modalities: z-score of the image), sliding window (step 0.5 of the\n"
          "patch, Gaussian weights), mirroring over the three axes (8 passes), the average of\n"
          "the folds' softmax, resampling back (order 1), argmax, and the largest-connected-\n"
          "component postprocessing of postprocessing.json. See docs/inference.md.\n"
          "\n"
          "Inputs: one --input per modality of the model, in the model's order (nnU-Net's\n"
          "_0000, _0001, ... files), 3D NIfTI sharing one voxel grid, no NaN voxels.\n"
          "\n"
          "Outputs (written atomically; nothing is left behind on failure):\n"
          "  SEG   uint8 label map (int16 beyond 255 classes), 0 = background, with exactly the\n"
          "        first input's geometry: dims, pixdim, qform and sform with their codes\n"
          "  PROB  float32 4D (i, j, k, class): the class probabilities before argmax, in the\n"
          "        same geometry; outside the non-zero box, class 0 has probability 1\n"
          "\n"
          "Manifest form: every case of the manifest with an image (image:1, image:2 ... for\n"
          "further modalities, see data-manifests/README.md) is segmented into DIR/CASE.nii.gz.\n"
          "Existing outputs are kept (the case is skipped) unless --force. A failing case is\n"
          "reported and the others go on; the exit status is then 1. With -o, a copy of the\n"
          "manifest with the column pred:MODEL (absolute paths) is written. A progress line\n"
          "with an ETA is shown on a terminal.\n"
          "\n"
          "Long runs and clusters (manifest form with -o; docs/cluster.md): while it runs,\n"
          "the journal M_WITH_PREDS.tsv.journal records every finished case (its status, and\n"
          "the prediction's name, size and a hash of its bytes), flushed as each completes; a\n"
          "complete run writes -o and removes it. Ctrl-C (SIGINT/SIGTERM) finishes the case\n"
          "under way, keeps the journal and writes no -o; a killed run leaves no torn file.\n"
          "      --resume           go on from the journal: journaled cases whose prediction\n"
          "                         still has the recorded size and hash are not predicted\n"
          "                         again (their failures are reported again), every other\n"
          "                         case is predicted even if its file exists; -o and the\n"
          "                         counts are those of an uninterrupted run. A journal of\n"
          "                         another manifest, model, folds or options is refused\n"
          "      --shard I/N        predict only shard I of N (cases balanced by the size of\n"
          "                         their image files) and keep the journal for `panseval\n"
          "                         merge OUT.tsv SHARD.tsv...`, which writes the -o of one run\n"
          "      --mpi              spread the cases over the ranks of `mpirun -n K` (a work\n"
          "                         queue on rank 0; -j threads in each rank); each rank writes\n"
          "                         the predictions it makes (a shared file system), rank 0\n"
          "                         reports the cases in manifest order and writes -o and the\n"
          "                         journal: the same bytes as one process for any K. Under\n"
          "                         mpirun a signal or a dead rank ends the job; the journal\n"
          "                         keeps the finished cases for --resume\n"
          "\n"
          "Options:\n"
          "  -m, --model DIR        trained model folder (fold_N/, plans, postprocessing.json)\n"
          "  -i, --input FILE       an image of the case, once per modality (required)\n"
          "  -o, --output FILE      the label map, .nii or .nii.gz (required); in the manifest\n"
          "                         form, the manifest copy with pred:MODEL (optional)\n"
          "      --manifest FILE    a data manifest (TSV) instead of --input\n"
          "      --name MODEL       the model name for pred:MODEL (manifest form)\n"
          "      --out-dir DIR      where the label maps go (manifest form; created)\n"
          "      --force            predict cases whose output already exists\n"
          "      --probabilities FILE  also write the probabilities\n"
          "      --fold F           N (one fold), a list 0,1,2 (softmax averaged, nnU-Net's\n"
          "                         ensembling) or all (the folder 'all'); default: every\n"
          "                         fold_N folder present, as nnU-Net's predict\n"
          "      --checkpoint NAME  checkpoint name (default model_final_checkpoint)\n"
          "      --no-mirroring     one pass per tile instead of 8 (nnU-Net's --disable_tta)\n"
          "      --step S           sliding-window step, a fraction of the patch in (0, 1]\n"
          "                         (default 0.5)\n"
          "      --no-postprocessing  ignore postprocessing.json\n"
          "      --backend B        convolutions: auto (default: oneDNN when built with it),\n"
          "                         onednn, or reference (portable C)\n"
          "  -j, --threads N        OpenMP threads (default: all cores); with the reference\n"
          "                         backend the output is identical for any N\n"
          "  -v, --verbose          timings (read, preprocessing, network, export); -v -v also\n"
          "                         the per-layer-group table of the last network pass (as\n"
          "                         PANSEVAL_PROFILE=1); -q quiet\n"
          "      --progress / --no-progress  the progress line of the manifest form (default:\n"
          "                         shown when stderr is a terminal)\n"
          "  -h, --help             this text (also: panseval help infer)\n"
          "\n"
          "Exit status: 0 success, 1 error (model folder without plans or checkpoints, a wrong\n"
          "number of inputs, modalities on different grids, a 2D or 4D image, NaN voxels, a\n"
          "case too large for the memory: the message gives the estimate; a refused journal),\n"
          "2 usage error, 130 / 143 interrupted by SIGINT / SIGTERM (manifest form).\n"
          "\n"
          "Example:\n"
          "  panseval infer --model nnUNet/3d_fullres/Task500_Pancreas/nnTransUNetTrainerV2__"
          "nnUNetPlansv2.1 \\\n"
          "      --input case_0000.nii.gz --output case.nii.gz --fold 0 -j 2 -v\n",
          f);
}

enum { OPT_MODEL = CLI_OPT_FIRST_PRIVATE, OPT_INPUT, OPT_FOLD, OPT_CHECKPOINT, OPT_BACKEND,
       OPT_PROB, OPT_NO_MIRROR, OPT_STEP, OPT_NO_PP, OPT_MANIFEST, OPT_NAME, OPT_OUT_DIR,
       OPT_FORCE, OPT_RESUME, OPT_SHARD, OPT_MPI };

#define MAX_INPUTS 8

/* The manifest form's closing lines (rank 0): counts, resumed cases, an interruption. */
static int report(const cli_common *common, const char *manifest, const char *out_dir,
                  const ps_eval_infer_result *r, int sig, double seconds)
{
    ps_log(&common->ctx, PS_LOG_WARN + (r->failed == 0), "%s: %lld case(s) predicted, %lld "
           "skipped (output exists), %lld failed, %lld without an image; %.1f s", manifest,
           (long long)r->done, (long long)r->skipped, (long long)r->failed,
           (long long)r->no_image, seconds);
    if (r->resumed || r->redone)
        ps_log(&common->ctx, PS_LOG_INFO, "%s: %lld case(s) taken from the journal, %lld "
               "journaled prediction(s) changed and predicted again", manifest,
               (long long)r->resumed, (long long)r->redone);
    if (!sig || !r->stopped)
        return r->failed ? 1 : 0;
    const char *name = sig == SIGINT ? "SIGINT" : "SIGTERM";
    if (common->output)
        fprintf(stderr, "panseval infer: interrupted (%s): kept %lld of %lld case(s) in the "
                "journal %s.journal (their predictions are in %s); run the same command with "
                "--resume to finish\n", name, (long long)r->finished, (long long)r->cases,
                common->output, out_dir);
    else
        fprintf(stderr, "panseval infer: interrupted (%s): %lld of %lld case(s) finished, their "
                "predictions are in %s; run the same command again (existing predictions are "
                "kept unless --force)\n", name, (long long)r->finished, (long long)r->cases,
                out_dir);
    return 128 + sig;
}

int main_infer(int argc, char **argv)
{
    static const struct option longopts[] = {
        CLI_COMMON_LONGOPTS,
        {"model", required_argument, NULL, OPT_MODEL},
        {"input", required_argument, NULL, OPT_INPUT},
        {"fold", required_argument, NULL, OPT_FOLD},
        {"checkpoint", required_argument, NULL, OPT_CHECKPOINT},
        {"backend", required_argument, NULL, OPT_BACKEND},
        {"probabilities", required_argument, NULL, OPT_PROB},
        {"no-mirroring", no_argument, NULL, OPT_NO_MIRROR},
        {"step", required_argument, NULL, OPT_STEP},
        {"no-postprocessing", no_argument, NULL, OPT_NO_PP},
        {"manifest", required_argument, NULL, OPT_MANIFEST},
        {"name", required_argument, NULL, OPT_NAME},
        {"out-dir", required_argument, NULL, OPT_OUT_DIR},
        {"force", no_argument, NULL, OPT_FORCE},
        {"resume", no_argument, NULL, OPT_RESUME},
        {"shard", required_argument, NULL, OPT_SHARD},
        {"mpi", no_argument, NULL, OPT_MPI},
        {NULL, 0, NULL, 0},
    };
    cli_common common;
    cli_common_init(&common, PS_FMT_CSV);
    ps_predict_options opt;
    ps_predict_options_init(&opt);
    const char *model_dir = NULL, *prob_path = NULL, *inputs[MAX_INPUTS];
    const char *manifest = NULL, *name = NULL, *out_dir = NULL;
    int ninputs = 0, folds[100], nfolds = 0, force = 0, mpi = 0, c;
    ps_eval_infer_opts io = {0};
    common.uses = CLI_USE_OUTPUT | CLI_USE_THREADS | CLI_USE_PROGRESS;
    while ((c = cli_getopt(&common, CMD, argc, argv, "m:i:", longopts)) != -1) {
        switch (c) {
        case CLI_GETOPT_ERROR: return 2;
        case 'm':
        case OPT_MODEL: model_dir = optarg; break;
        case 'i':
        case OPT_INPUT:
            if (ninputs == MAX_INPUTS)
                return cli_usage_error(CMD, "at most %d --input files", MAX_INPUTS);
            inputs[ninputs++] = optarg;
            break;
        case OPT_CHECKPOINT: opt.checkpoint = optarg; break;
        case OPT_PROB: prob_path = optarg; break;
        case OPT_NO_MIRROR: opt.mirroring = 0; break;
        case OPT_NO_PP: opt.postprocessing = 0; break;
        case OPT_MANIFEST: manifest = optarg; break;
        case OPT_NAME: name = optarg; break;
        case OPT_OUT_DIR: out_dir = optarg; break;
        case OPT_FORCE: force = 1; break;
        case OPT_RESUME: io.resume = 1; break;
        case OPT_MPI: mpi = 1; break;
        case OPT_SHARD:
            if (ps_eval_shard_parse(optarg, &io.shard_index, &io.shard_count))
                return cli_usage_error(CMD, "%s", ps_error_message());
            break;
        case OPT_FOLD:
            if (cli_parse_folds(CMD, optarg, folds, 100, &nfolds))
                return 2;
            break;
        case OPT_STEP:
            if (cli_parse_double(CMD, "--step", optarg, 1e-3, 1.0, &opt.step))
                return 2;
            break;
        case OPT_BACKEND:
            if (ps_conv_backend_parse(optarg, &opt.backend))
                return cli_usage_error(CMD, "%s", ps_error_message());
            break;
        default: return cli_unknown_option(&common);
        }
    }
    if (common.help) {
        usage(stdout);
        return 0;
    }
    ps_context_check_threads(&common.ctx, CMD);
    if (optind != argc)
        return cli_usage_error(CMD, "unexpected argument '%s'", argv[optind]);
    if (!model_dir)
        return cli_usage_error(CMD, "missing --model MODEL_DIR");
    if (manifest && (ninputs || prob_path))
        return cli_usage_error(CMD, "--manifest cannot be combined with --input or "
                               "--probabilities");
    if (manifest && (!name || !out_dir))
        return cli_usage_error(CMD, "the manifest form needs --name MODEL and --out-dir DIR");
    if (!manifest && (name || out_dir || force || io.resume || io.shard_count || mpi))
        return cli_usage_error(CMD, "--name, --out-dir, --force, --resume, --shard and --mpi "
                               "belong to --manifest");
    if ((io.resume || io.shard_count) && (!common.output || !strcmp(common.output, "-")))
        return cli_usage_error(CMD, "--resume and --shard keep a journal beside -o "
                               "M_WITH_PREDS.tsv: give -o");
    if (!manifest && !ninputs)
        return cli_usage_error(CMD, "missing --input IMAGE (one per modality)");
    if (!manifest && (!common.output || !strcmp(common.output, "-")))
        return cli_usage_error(CMD, "missing --output SEG.nii.gz (a file)");

    const char *checked[MAX_INPUTS + 2];
    int nchecked = 0;
    for (int i = 0; i < ninputs; i++)
        checked[nchecked++] = inputs[i];
    if (manifest)
        checked[nchecked++] = manifest;
    int rc, status = 0;
    if (common.output && (rc = cli_output_check(&common, checked, nchecked)))
        return rc;
    if (prob_path) {
        if (!strcmp(prob_path, common.output))
            return cli_usage_error(CMD, "--probabilities and --output name the same file");
        cli_common pc = common;
        pc.output = prob_path;
        if ((rc = cli_output_check(&pc, checked, nchecked)))
            return rc;
    }
    if ((rc = cli_dist_start(CMD, mpi, "predict every case", &io.dist)))
        return rc;
    if (!manifest) {
        rc = ps_predict_files(model_dir, folds, nfolds, &opt, inputs, ninputs, common.output,
                              prob_path, cli_profile_wanted(&common), &common.ctx);
        return rc ? cli_report_error(CMD, rc == PS_ERR_ARG ? PS_ERR_FORMAT : rc) : 0;
    }
    ps_eval_infer_result r;
    io.manifest = manifest;
    io.name = name;
    io.out_dir = out_dir;
    io.force = force;
    io.manifest_out = common.output;
    io.stop = cli_catch_stop_signals_unless_mpi(io.dist);
    double t0 = ps_now_seconds();
    rc = ps_eval_infer_manifest(model_dir, folds, nfolds, &opt, &io, &common.ctx, &r);
    cli_release_stop_signals();
    int sig = *io.stop;
    if (rc)
        status = cli_report_error(CMD, rc == PS_ERR_ARG ? PS_ERR_FORMAT : rc);
    else if (ps_dist_rank(io.dist) != 0)
        status = r.failed ? 1 : 0;
    else
        status = report(&common, manifest, out_dir, &r, sig, ps_now_seconds() - t0);
    ps_dist_finalize(io.dist);
    return status;
}
