/* cmd_model_info.c - `panseval model-info`: what a trained nnU-Net v1 / PanSegNet model folder
 * contains (trainer, stage, plans, architecture, parameters, FLOPs), read without Python. */
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "ps_infer.h"

static const char *CMD = "model-info";

static void usage(FILE *f)
{
    fputs("Usage: panseval model-info --model MODEL_DIR [--fold N] [--checkpoint NAME]\n"
          "                           [--format text|json|tsv|csv] [-o FILE]\n"
          "\n"
          "Describe a trained nnU-Net v1 model folder (nnUNetTrainerV2's Generic_UNet, or\n"
          "PanSegNet's nnTransUNetTrainerV2 with its linear-attention bottleneck): trainer,\n"
          "epochs trained (the checkpoint's 'epoch'; -1 in JSON when absent), stage, patch\n"
          "size, target spacing, intensity normalisation, classes, the network stage by stage\n"
          "(features, kernel, stride, feature-map size at the training patch), the attention\n"
          "block if present, the number of parameters and the floating-point\n"
          "operations of one forward pass at the training patch size.\n"
          "\n"
          "The checkpoint is read directly (torch.save zip archive and pickles) by panseval's\n"
          "own decoder, which never runs code stored in the files; every tensor's storage is\n"
          "checked against its CRC-32. Checkpoints in the legacy format of PyTorch < 1.6 are\n"
          "read too.\n"
          "\n"
          "Model folder (as nnU-Net v1 writes it):\n"
          "  MODEL_DIR/fold_N/NAME.model       torch.save checkpoint: the state dict is used,\n"
          "                                    optimizer state and training curves are ignored\n"
          "  MODEL_DIR/fold_N/NAME.model.pkl   trainer name, constructor arguments (the stage\n"
          "                                    is the 6th), plans\n"
          "  MODEL_DIR/plans.pkl               plans, when the .model.pkl has none\n"
          "\n"
          "Options:\n"
          "  -m, --model DIR       trained model folder (required), e.g.\n"
          "                        .../3d_fullres/Task500_Pancreas/nnUNetTrainerV2__nnUNetPlansv2.1\n"
          "      --fold N          fold folder fold_N to read (default 0); --fold all reads\n"
          "                        the folder 'all'\n"
          "      --checkpoint NAME checkpoint file name without .model (default\n"
          "                        model_final_checkpoint; model_best also exists)\n"
          "      --format FMT      text (default, for people), json (one object), tsv or csv\n"
          "                        (two columns: field, value)\n"
          "  -o, --output FILE     write to FILE (atomically) instead of standard output\n"
          "  -q, --quiet           errors only\n"
          "  -h, --help            this text\n"
          "\n"
          "Definitions:\n"
          "  parameters            elements of the tensors the network uses at inference\n"
          "                        (the deep-supervision heads and the positional table are\n"
          "                        not counted); the state dict total is shown beside it\n"
          "  FLOPs                 floating-point operations of one pass at the training\n"
          "                        patch size: 2 per multiply-accumulate of every convolution,\n"
          "                        transposed convolution, linear layer and attention product,\n"
          "                        plus 8 per conv output for bias, instance norm and\n"
          "                        LeakyReLU (softmax, GELU and LayerNorm are not counted)\n"
          "  spacing, patch        in the plans' axis order (z, y, x), after\n"
          "                        transpose_forward, as nnU-Net uses them\n"
          "\n"
          "Exit status: 0 success, 1 unreadable or invalid model folder (the message names the\n"
          "file and what is wrong), 2 usage error.\n"
          "\n"
          "Example:\n"
          "  panseval model-info --model nnUNet/3d_fullres/Task500_Pancreas/"
          "nnTransUNetTrainerV2__nnUNetPlansv2.1 --format json\n"
          "See docs/checkpoints.md.\n",
          f);
}

enum { OPT_MODEL = CLI_OPT_FIRST_PRIVATE, OPT_FOLD, OPT_CHECKPOINT };

int main_model_info(int argc, char **argv)
{
    static const struct option longopts[] = {
        CLI_COMMON_LONGOPTS,
        {"model", required_argument, NULL, OPT_MODEL},
        {"fold", required_argument, NULL, OPT_FOLD},
        {"checkpoint", required_argument, NULL, OPT_CHECKPOINT},
        {NULL, 0, NULL, 0},
    };
    cli_common common;
    cli_common_init(&common, PS_FMT_TSV);
    const char *model_dir = NULL, *checkpoint = "model_final_checkpoint";
    long fold = 0;
    int text_asked = 0, c;
    /* "--format text" is ours; the other formats go through the common parser */
    char **args = ps_malloc_array((size_t)argc + 1, sizeof *args);
    int nargs = 0;
    if (!args)
        return cli_report_error(CMD, PS_ERR_NOMEM);
    for (int i = 0; i < argc; i++) {
        if (i > 0 && !strcmp(argv[i], "--format=text")) {
            text_asked = 1;
        } else if (i > 0 && !strcmp(argv[i], "--format") && i + 1 < argc &&
                   !strcmp(argv[i + 1], "text")) {
            text_asked = 1;
            i++;
        } else {
            args[nargs++] = argv[i];
        }
    }
    args[nargs] = NULL;
    common.uses = CLI_USE_OUTPUT | CLI_USE_FORMAT;
    while ((c = cli_getopt(&common, CMD, nargs, args, "m:", longopts)) != -1) {
        switch (c) {
        case CLI_GETOPT_ERROR:
            free(args);
            return 2;
        case 'm':
        case OPT_MODEL: model_dir = optarg; break;
        case OPT_CHECKPOINT: checkpoint = optarg; break;
        case OPT_FOLD:
            if (!strcmp(optarg, "all"))
                fold = -1;
            else if (cli_parse_int(CMD, "--fold", optarg, 0, 999, &fold)) {
                free(args);
                return 2;
            }
            break;
        default:
            c = cli_unknown_option(&common);
            free(args);
            return c;
        }
    }
    int extra = optind < nargs;
    const char *extra_arg = extra ? args[optind] : NULL;
    free(args);
    if (common.help) {
        usage(stdout);
        return 0;
    }
    if (extra)
        return cli_usage_error(CMD, "unexpected argument '%s'", extra_arg);
    if (!model_dir)
        return cli_usage_error(CMD, "missing --model MODEL_DIR");
    if (common.format_set == 1 && text_asked)
        return cli_usage_error(CMD, "--format given twice");
    if (common.format_set == 2 && text_asked)
        return cli_usage_error(CMD, "--format text contradicts the suffix of -o %s",
                               common.output);
    if (common.format_set && (common.format == PS_TABLE_MD || common.format == PS_TABLE_TEX))
        return cli_usage_error(CMD, "model-info writes text, json, tsv or csv, not %s",
                               ps_table_format_name(common.format));
    ps_model_info_format fmt = !common.format_set        ? PS_MODEL_INFO_TEXT
                               : common.format == PS_FMT_JSON ? PS_MODEL_INFO_JSON
                               : common.format == PS_FMT_CSV  ? PS_MODEL_INFO_CSV
                                                              : PS_MODEL_INFO_TSV;
    if ((c = cli_output_check(&common, NULL, 0)))
        return c;

    ps_model *m = NULL;
    ps_atomic_file *af = NULL;
    FILE *f;
    int rc, status = 0;
    ps_model_info info;
    if ((rc = ps_model_load(model_dir, (int)fold, checkpoint, &m)) ||
        (rc = ps_model_info_compute(m, &common.ctx, &info)) ||
        (rc = cli_output_open(&common, &af, &f)) || (rc = ps_model_info_write(&info, fmt, f)))
        goto fail;
    rc = ps_atomic_commit(af);
    af = NULL;
    if (!rc)
        goto done;
fail:
    status = cli_report_error(CMD, rc);
done:
    ps_atomic_abort(af);
    ps_model_free(m);
    return status;
}
