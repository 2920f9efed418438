/* cmd_manifest.c - `panseval manifest`: write a data manifest from a dataset folder. */
#include <limits.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "ps_manifest.h"

static const char *CMD = "manifest";

static void usage(FILE *f)
{
    fputs("Usage: panseval manifest DATASET_DIR [-o MANIFEST.tsv] [--layout L]\n"
          "                         [--pred NAME=DIR ...] [--modality M] [--center C]\n"
          "                         [--ref-rater N|none] [--absolute] [-q]\n"
          "\n"
          "Write the data manifest (data-manifests/README.md) of a dataset folder, so that\n"
          "nobody writes one by hand. Listings are sorted bytewise, names starting with '.'\n"
          "(hidden files, macOS AppleDouble '._NAME' files) are skipped.\n"
          "\n"
          "Layouts (--layout; default auto: detected from the top of DATASET_DIR):\n"
          "  nnunet-v1    dataset.json with \"modality\"; imagesTr/CASE_0000.nii.gz (one file\n"
          "               per channel _0000, _0001, ...), labelsTr/CASE.nii.gz, optional\n"
          "               imagesTs/ and labelsTs/\n"
          "  nnunet-v2    dataset.json with \"channel_names\" and \"file_ending\" (.nii.gz or\n"
          "               .nii), the same folders\n"
          "  msd          Medical Segmentation Decathlon: dataset.json with \"modality\", one\n"
          "               file per case without a channel suffix (4D for several modalities)\n"
          "  pansegdata   PanSegData (osf.io/kysnj) as unpacked from t1.zip and t2.zip:\n"
          "               t1/ and t2/, each imagesTr/SITE_NNNN_0000.nii.gz and\n"
          "               labelsTr/SITE_NNNN.nii.gz\n"
          "  multi-rater  one folder per case with image.nii.gz and annotation_1.nii.gz,\n"
          "               annotation_2.nii.gz, ... (CURVAS)\n"
          "\n"
          "Columns written (only those the layout fills):\n"
          "  case         nnU-Net / MSD: CASE; PanSegData: t1_SITE_NNNN, t2_SITE_NNNN (T1 and\n"
          "               T2 ids are separate numberings); multi-rater: the folder name\n"
          "  modality     nnU-Net / MSD: the channel names of dataset.json joined by '+';\n"
          "               PanSegData: T1W / T2W; --modality replaces it\n"
          "  center       PanSegData: the site prefix (NYU, MCF, MCA, NWU, AHN); --center\n"
          "  image        channel 0 (nnU-Net _0000); image:N for channel N (_000N)\n"
          "  ref          labelsTr/labelsTs file; multi-rater: annotation_N of --ref-rater\n"
          "  rater:K      multi-rater: every other annotation_K\n"
          "  pred:NAME    --pred NAME=DIR, one column per option\n"
          "  meta:split   nnU-Net / MSD: train (imagesTr) or test (imagesTs)\n"
          "An empty cell means \"not available\" (a test case without a label, a case without\n"
          "a prediction).\n"
          "\n"
          "Options:\n"
          "      --layout L        auto (default), nnunet-v1, nnunet-v2, msd, pansegdata,\n"
          "                        multi-rater\n"
          "      --pred NAME=DIR   a folder of predictions of model NAME (repeatable). Each\n"
          "                        CASE.nii.gz / CASE.nii is matched to the case with that id\n"
          "                        (PanSegData: DIR/t1/SITE_NNNN.nii.gz and DIR/t2/...);\n"
          "                        other files are ignored; files that match no case are\n"
          "                        listed on standard error\n"
          "      --modality M      modality for every case (e.g. CT for CURVAS)\n"
          "      --center C        center for every case\n"
          "      --ref-rater N     multi-rater: annotation_N is the ref column (default 1);\n"
          "                        'none': no ref, every annotation is a rater: column\n"
          "      --absolute        absolute paths even with -o (with -o, paths are relative\n"
          "                        to the manifest's folder; on standard output, absolute)\n"
          "\n" CLI_COMMON_HELP_OF(CLI_HELP_OUTPUT) "\n"
          "Notes go to standard error (-q silences them): prediction files that match no\n"
          "case, the number of cases without a prediction, labels without an image,\n"
          "skipped AppleDouble files.\n"
          "A folder in no known layout is an error that lists what the folder holds.\n"
          "\n"
          "Exit status: 0 success, 1 error (unknown layout, files that do not fit it, a\n"
          "folder that cannot be read; nothing is written), 2 usage error.\n"
          "\n"
          "Examples:\n"
          "  panseval manifest nnUNet_raw/Task007_Pancreas -o Task007/manifest.tsv \\\n"
          "      --pred nnunet=preds/Task007_3d_fullres\n"
          "  panseval manifest PanSegData --pred pansegnet=preds -o PanSegData/manifest.tsv\n"
          "  panseval manifest CURVAS/training_set --modality CT -o curvas.tsv\n"
          "See data-manifests/README.md.\n",
          f);
}

enum { OPT_LAYOUT = CLI_OPT_FIRST_PRIVATE, OPT_PRED, OPT_MODALITY, OPT_CENTER, OPT_REF_RATER,
       OPT_ABSOLUTE };

#define MAX_PREDS 64

int main_manifest(int argc, char **argv)
{
    static const struct option longopts[] = {
        CLI_COMMON_LONGOPTS,
        {"layout", required_argument, NULL, OPT_LAYOUT},
        {"pred", required_argument, NULL, OPT_PRED},
        {"modality", required_argument, NULL, OPT_MODALITY},
        {"center", required_argument, NULL, OPT_CENTER},
        {"ref-rater", required_argument, NULL, OPT_REF_RATER},
        {"absolute", no_argument, NULL, OPT_ABSOLUTE},
        {NULL, 0, NULL, 0},
    };
    cli_common common;
    cli_common_init(&common, PS_FMT_TSV);
    common.uses = CLI_USE_OUTPUT;
    ps_layout_options opt;
    ps_layout_options_init(&opt);
    ps_layout_pred preds[MAX_PREDS];
    char *pred_args[MAX_PREDS];
    int absolute = 0, c, rc = 0;
    long ref = 1;
    while ((c = cli_getopt(&common, CMD, argc, argv, "", longopts)) != -1) {
        switch (c) {
        case CLI_GETOPT_ERROR: return 2;
        case OPT_LAYOUT:
            if (ps_layout_parse(optarg, &opt.layout))
                return cli_usage_error(CMD, "%s", ps_error_message());
            break;
        case OPT_PRED: {
            const char *eq = strchr(optarg, '=');
            if (!eq || eq == optarg || !eq[1])
                return cli_usage_error(CMD, "--pred expects NAME=DIR, got '%s'", optarg);
            if (opt.npreds == MAX_PREDS)
                return cli_usage_error(CMD, "at most %d --pred options", MAX_PREDS);
            pred_args[opt.npreds] = optarg;
            preds[opt.npreds].name = NULL;
            preds[opt.npreds].dir = eq + 1;
            opt.npreds++;
            break;
        }
        case OPT_MODALITY: opt.modality = optarg; break;
        case OPT_CENTER: opt.center = optarg; break;
        case OPT_REF_RATER:
            if (!strcmp(optarg, "none"))
                ref = 0;
            else if (cli_parse_int(CMD, "--ref-rater", optarg, 1, 9999, &ref))
                return 2;
            break;
        case OPT_ABSOLUTE: absolute = 1; break;
        default: return cli_unknown_option(&common);
        }
    }
    if (common.help) {
        usage(stdout);
        return 0;
    }
    if (optind >= argc)
        return cli_usage_error(CMD, "missing DATASET_DIR");
    if (optind + 1 < argc)
        return cli_usage_error(CMD, "unexpected argument '%s'", argv[optind + 1]);
    opt.ref_rater = (int)ref;
    /* NAME=DIR: split in copies, so argv stays as given */
    char *names[MAX_PREDS] = {0};
    for (int p = 0; p < opt.npreds; p++) {
        size_t n = (size_t)(preds[p].dir - 1 - pred_args[p]);
        names[p] = ps_strndup(pred_args[p], n);
        if (!names[p]) {
            rc = cli_report_error(CMD, PS_ERR_NOMEM);
            goto done;
        }
        preds[p].name = names[p];
    }
    opt.preds = preds;
    /* paths relative to the manifest's folder when writing a file */
    char *base = NULL;
    const int to_file = common.output && strcmp(common.output, "-");
    if (to_file && !absolute) {
        const char *slash = strrchr(common.output, '/');
        base = slash ? ps_strndup(common.output, (size_t)(slash - common.output) + 1)
                     : ps_strdup(".");
        if (!base) {
            rc = cli_report_error(CMD, PS_ERR_NOMEM);
            goto done;
        }
        opt.base_dir = base;
    }
    ps_atomic_file *af = NULL;
    FILE *f = NULL;
    ps_layout_report rep;
    int st = cli_output_open(&common, &af, &f);
    if (!st)
        st = cli_output_close(af, ps_manifest_from_folder(argv[optind], &opt, f, &rep));
    if (st) {
        rc = cli_report_error(CMD, st);
    } else {
        if (common.ctx.verbosity > 0) {
            for (int i = 0; i < rep.nnotes; i++)
                fprintf(stderr, "panseval manifest: %s\n", rep.notes[i]);
            fprintf(stderr, "panseval manifest: %lld cases, layout %s\n",
                    (long long)rep.ncases, ps_layout_name(rep.layout));
        }
        ps_layout_report_clear(&rep);
    }
    free(base);
done:
    for (int p = 0; p < opt.npreds; p++)
        free(names[p]);
    return rc;
}
