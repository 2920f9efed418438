/* cmd_demo_data.c - `panseval demo-data`: write the synthetic multi-center demo data set. */
#include <stdio.h>

#include "cli.h"
#include "ps_manifest.h"

static const char *CMD = "demo-data";

static void usage(FILE *f)
{
    fputs("Usage: panseval demo-data --out DIR [--seed S] [-j N]\n"
          "\n"
          "Write a small synthetic multi-center pancreas segmentation data set and its\n"
          "manifest (DIR/manifest.tsv), to try panseval without downloading anything and to\n"
          "test it. The set is deterministic: the same seed gives the same files, byte for\n"
          "byte, for any number of threads.\n"
          "\n"
          "Contents (details and rationale in docs/demo-data.md):\n"
          "  24 cases: 8 CT-like (HU), 8 T1W-like and 8 T2W-like (one T1W and one T2W per\n"
          "  MRI subject), from 4 centers that differ in voxel spacing (0.7x0.7x2.5,\n"
          "  0.8x0.8x3, 1x1x5 and 1.5x1.5x6 mm), field of view and intensity scaling.\n"
          "  Per case, in DIR:\n"
          "    images/CASE.nii.gz           image (int16): body, organs, pancreas, noise\n"
          "    labels/ref/CASE.nii.gz       reference label (rater A, session 1)\n"
          "    labels/raterB/CASE.nii.gz    a second rater              (rater:B)\n"
          "    labels/raterA_2/CASE.nii.gz  rater A, repeat session     (rater:A:2)\n"
          "    preds/modelA/CASE.nii.gz     a better synthetic model    (pred:modelA)\n"
          "    preds/modelB/CASE.nii.gz     a worse synthetic model     (pred:modelB)\n"
          "  Labels are uint8 0/1 on the image's grid. The pancreas-like shape is a curved\n"
          "  tube with a thick head, a thinner body and a tapering tail (about 50-95 ml).\n"
          "  The models make the usual mistakes: boundary shifts, one-voxel dilation or\n"
          "  erosion, missed tails, false-positive blobs, and modelB's prediction for case\n"
          "  t1w04 is empty.\n"
          "\n"
          "Existing files of the same names are replaced; each file is written atomically\n"
          "(a temporary file, then rename) and the manifest last. A one-line summary (cases,\n"
          "modalities, centers, files, bytes) goes to standard error.\n"
          "\n"
          "Options:\n"
          "      --out DIR       output directory (created if needed; required)\n"
          "      --seed S        seed of the generator (default 1); another seed gives other\n"
          "                      shapes and noise, the same case list and layout\n"
          "  -j, --threads N     threads (default: all cores); the files do not depend on N\n"
          "  -q, --quiet         no summary line\n"
          "  -h, --help          this text\n"
          "\n"
          "Exit status: 0 success, 1 a file could not be written, 2 usage error.\n"
          "\n"
          "Example:\n"
          "  panseval demo-data --out demo\n"
          "  panseval metrics --manifest demo/manifest.tsv -o metrics.csv\n",
          f);
}

enum { OPT_OUT = CLI_OPT_FIRST_PRIVATE };

int main_demo_data(int argc, char **argv)
{
    static const struct option longopts[] = {
        CLI_COMMON_LONGOPTS,
        {"out", required_argument, NULL, OPT_OUT},
        {NULL, 0, NULL, 0},
    };
    cli_common common;
    cli_common_init(&common, PS_FMT_TSV);
    common.uses = CLI_USE_THREADS | CLI_USE_SEED;
    const char *out = NULL;
    int c;
    while ((c = cli_getopt(&common, CMD, argc, argv, "", longopts)) != -1) {
        switch (c) {
        case CLI_GETOPT_ERROR: return 2;
        case OPT_OUT: out = optarg; break;
        case CLI_OPT_OUTPUT:
        case CLI_OPT_FORMAT:
            return cli_usage_error(CMD, "-o/--output and --format do not apply; use --out DIR");
        default: return cli_unknown_option(&common);
        }
    }
    if (common.help) {
        usage(stdout);
        return 0;
    }
    if (optind < argc)
        return cli_usage_error(CMD, "unexpected argument '%s'", argv[optind]);
    if (!out || !*out)
        return cli_usage_error(CMD, "--out DIR is required");

    ps_demo_summary sum;
    int rc = ps_demo_generate(&common.ctx, out, &sum);
    if (rc)
        return cli_report_error(CMD, rc);
    if (common.ctx.verbosity > 0)
        fprintf(stderr,
                "panseval demo-data: %d cases, %d modalities, %d centers, %d files, %lld bytes "
                "in %s (seed %llu)\n",
                sum.ncases, sum.nmodalities, sum.ncenters, sum.nfiles, (long long)sum.bytes,
                out, (unsigned long long)common.ctx.seed);
    return 0;
}
