/* cmd_forward.c - `panseval forward`: one forward pass of an nnU-Net v1 / PanSegNet model on a
 * prepared patch, logits to NIfTI. */
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "ps_infer.h"

static const char *CMD = "forward";

static void usage(FILE *f)
{
    fputs("Usage: panseval forward --model MODEL_DIR --input PATCH.nii.gz --output LOGITS.nii.gz\n"
          "                        [--fold N] [--checkpoint NAME] [-j N] [--backend B]\n"
          "\n"
          "Run the network of a trained nnU-Net v1 model (Generic_UNet of nnUNetTrainerV2, or\n"
          "PanSegNet with its linear-attention bottleneck) once on a patch that is already\n"
          "prepared as the network expects it (resampled, normalised, cropped or padded: no\n"
          "preprocessing happens here) and write the raw logits, before softmax.\n"
          "\n"
          "Model folder (as nnU-Net v1 writes it):\n"
          "  MODEL_DIR/fold_N/NAME.model       torch.save checkpoint (read without running\n"
          "                                    any pickled code)\n"
          "  MODEL_DIR/fold_N/NAME.model.pkl   trainer arguments and plans\n"
          "  MODEL_DIR/plans.pkl               plans, when the .model.pkl has none\n"
          "\n"
          "Input: a 3D NIfTI (one channel) or a 4D NIfTI with the channels (modalities) along\n"
          "the 4th axis. Voxel (i, j, k) is tensor element (k, j, i), as SimpleITK arrays are\n"
          "for nnU-Net: the patch (D, H, W) = (nk, nj, ni). D, H and W must each be divisible\n"
          "by the network's total down-sampling along that axis; PanSegNet models also need\n"
          "the number of bottleneck voxels they were trained with (use the plans' patch size).\n"
          "\n"
          "Output: float32 logits as a 4D NIfTI (i, j, k, class), class 0 = background, with\n"
          "the input's geometry (affine, spacing). Written atomically.\n"
          "\n"
          "Options:\n"
          "  -m, --model DIR       trained model folder (required)\n"
          "  -i, --input FILE      prepared patch, .nii or .nii.gz (required)\n"
          "  -o, --output FILE     logits, .nii or .nii.gz (required)\n"
          "      --fold N          fold folder fold_N to read (default 0); --fold all\n"
          "                        reads the folder 'all'\n"
          "      --checkpoint NAME checkpoint name (default model_final_checkpoint)\n"
          "      --backend B       convolutions: auto (default: oneDNN when panseval was built\n"
          "                        with it), onednn, or reference (portable C, slow; kept as\n"
          "                        the definition the fast path is tested against)\n"
          "      --repeat N        run the forward pass N times and report each time and the\n"
          "                        median on stderr (benchmarking; the output is the last run);\n"
          "                        N from 1 (default) to 1000\n"
          "  -j, --threads N       OpenMP threads (default: all cores); the reference backend\n"
          "                        gives identical logits for any N\n"
          "  -v, --verbose         print timings; -v -v also the per-layer-group table\n"
          "                        (GFLOP, ms and GFLOP/s per encoder/decoder level); the\n"
          "                        environment variable PANSEVAL_PROFILE=1 does the same\n"
          "  -q, --quiet           errors only\n"
          "  -h, --help            this text\n"
          "\n"
          "Exit status: 0 success, 1 error (missing or unreadable model files, patch size or\n"
          "channel count that does not fit the network), 2 usage error.\n"
          "\n"
          "Example:\n"
          "  panseval forward --model nnUNet/3d_fullres/Task500_Pancreas/nnTransUNetTrainerV2__"
          "nnUNetPlansv2.1 \\\n"
          "      --input patch.nii.gz --output logits.nii.gz -j 2 -v\n"
          "See docs/inference.md.\n",
          f);
}

enum { OPT_MODEL = CLI_OPT_FIRST_PRIVATE, OPT_INPUT, OPT_FOLD, OPT_CHECKPOINT, OPT_BACKEND,
       OPT_REPEAT };

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

int main_forward(int argc, char **argv)
{
    static const struct option longopts[] = {
        CLI_COMMON_LONGOPTS,
        {"model", required_argument, NULL, OPT_MODEL},
        {"input", required_argument, NULL, OPT_INPUT},
        {"fold", required_argument, NULL, OPT_FOLD},
        {"checkpoint", required_argument, NULL, OPT_CHECKPOINT},
        {"backend", required_argument, NULL, OPT_BACKEND},
        {"repeat", required_argument, NULL, OPT_REPEAT},
        {NULL, 0, NULL, 0},
    };
    cli_common common;
    cli_common_init(&common, PS_FMT_CSV);
    const char *model_dir = NULL, *input = NULL, *checkpoint = "model_final_checkpoint";
    long fold = 0, repeat = 1;
    ps_conv_backend backend = PS_CONV_AUTO;
    int c;
    common.uses = CLI_USE_OUTPUT | CLI_USE_THREADS;
    while ((c = cli_getopt(&common, CMD, argc, argv, "m:i:", longopts)) != -1) {
        switch (c) {
        case CLI_GETOPT_ERROR: return 2;
        case 'm':
        case OPT_MODEL: model_dir = optarg; break;
        case 'i':
        case OPT_INPUT: input = optarg; break;
        case OPT_CHECKPOINT: checkpoint = optarg; break;
        case OPT_FOLD:
            if (!strcmp(optarg, "all"))
                fold = -1; /* ps_model_load: the folder "all" */
            else if (cli_parse_int(CMD, "--fold", optarg, 0, 999, &fold))
                return 2;
            break;
        case OPT_REPEAT:
            if (cli_parse_int(CMD, "--repeat", optarg, 1, 1000, &repeat))
                return 2;
            break;
        case OPT_BACKEND:
            if (ps_conv_backend_parse(optarg, &backend))
                return cli_usage_error(CMD, "%s", ps_error_message());
            break;
        default: return cli_unknown_option(&common);
        }
    }
    if (common.help) {
        usage(stdout);
        return 0;
    }
    if (optind != argc)
        return cli_usage_error(CMD, "unexpected argument '%s'", argv[optind]);
    if (!model_dir)
        return cli_usage_error(CMD, "missing --model MODEL_DIR");
    if (!input)
        return cli_usage_error(CMD, "missing --input PATCH.nii.gz");
    if (!common.output || !strcmp(common.output, "-"))
        return cli_usage_error(CMD, "missing --output LOGITS.nii.gz (a file; logits are "
                               "not written to standard output)");
    int profile = cli_profile_wanted(&common);

    ps_model *m = NULL;
    ps_volume *in = NULL, *out = NULL;
    ps_net *net = NULL;
    double *times = NULL;
    int rc, status = 0;
    double t0 = ps_now_seconds();
    const char *inputs[] = {input};
    if ((rc = cli_output_check(&common, inputs, 1)))
        return rc;
    if ((rc = ps_model_load(model_dir, (int)fold, checkpoint, &m)))
        goto fail;
    if ((rc = ps_volume_read_float(input, &in)))
        goto fail;
    const ps_plans *pl = &m->plans;
    if (in->nc != pl->num_input_channels) {
        rc = ps_error(PS_ERR_FORMAT, "%s has %lld channel(s), but the model expects %d "
                      "(modalities: give a 4D NIfTI with the channels along the 4th axis)",
                      input, (long long)in->nc, pl->num_input_channels);
        goto fail;
    }
    const int patch[3] = {(int)in->geom.dim[2], (int)in->geom.dim[1], (int)in->geom.dim[0]};
    if ((rc = ps_net_create(m, patch, backend, &common.ctx, &net))) {
        rc = ps_error_context(rc, "%s", input);
        goto fail;
    }
    if ((rc = ps_volume_create(&in->geom, pl->num_classes + 1, PS_DT_FLOAT32, &out)))
        goto fail;
    double t1 = ps_now_seconds();
    ps_log(&common.ctx, PS_LOG_INFO, "model %s: %lld parameters, patch %d x %d x %d, "
           "%.2f GFLOP per pass, %.0f MiB of feature maps, backend %s, %d thread(s); "
           "loading took %.2f s", model_dir,
           (long long)ps_net_param_count(net), patch[0], patch[1], patch[2],
           ps_net_flops(net) * 1e-9, (double)ps_net_activation_bytes(net) / 1048576.0,
           ps_conv_backend_name(ps_net_backend(net)),
           ps_context_threads(&common.ctx), t1 - t0);
    if (!(times = ps_malloc_array((size_t)repeat, sizeof *times))) {
        rc = PS_ERR_NOMEM;
        goto fail;
    }
    for (long r = 0; r < repeat; r++) {
        double ts = ps_now_seconds();
        if ((rc = ps_net_forward(net, (const float *)in->data, (float *)out->data)))
            goto fail;
        times[r] = ps_now_seconds() - ts;
        if (repeat > 1)
            fprintf(stderr, "panseval forward: run %ld: %.3f s\n", r + 1, times[r]);
        if (profile)
            ps_net_print_profile(net, stderr);
    }
    qsort(times, (size_t)repeat, sizeof *times, cmp_double);
    double median = repeat % 2 ? times[repeat / 2]
                               : 0.5 * (times[repeat / 2 - 1] + times[repeat / 2]);
    if (repeat > 1)
        fprintf(stderr, "panseval forward: median of %ld runs: %.3f s (%.1f GFLOP/s)\n", repeat,
                median, ps_net_flops(net) * 1e-9 / median);
    else
        ps_log(&common.ctx, PS_LOG_INFO, "forward pass: %.3f s (%.1f GFLOP/s)", median,
               ps_net_flops(net) * 1e-9 / median);
    if ((rc = ps_volume_write(common.output, out)))
        goto fail;
    goto done;
fail:
    /* everything after option parsing is a problem with the files, not the command line:
     * exit status 1 even for the library's PS_ERR_ARG (patch size, channels) */
    status = cli_report_error(CMD, rc == PS_ERR_ARG ? PS_ERR_FORMAT : rc);
done:
    free(times);
    ps_net_free(net);
    ps_volume_free(out);
    ps_volume_free(in);
    ps_model_free(m);
    return status;
}
