/* cmd_agreement.c - `panseval agreement`: inter-rater, intra-rater and model-vs-rater agreement
 * of the label maps of a manifest (library: src/agree/agreement.c). */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "cli.h"
#include "ps_agree.h"
#include "ps_manifest.h"

static const char *CMD = "agreement";

static void usage(FILE *f)
{
    fputs(
        "Usage: panseval agreement --manifest M.tsv --out-dir DIR [options]\n"
        "\n"
        "Agreement of several raters' label maps per case and label: every pair of raters\n"
        "(Dice, HD95, ASSD, voxel-wise Cohen's kappa, volume difference), all raters together\n"
        "(Fleiss' kappa and Krippendorff's alpha on voxels, mean pairwise Dice, generalized\n"
        "energy distance with 1 - Dice, coefficient of variation of the volumes), across cases\n"
        "(ICC of the volumes), the sessions of one rater (--sessions) and models against the\n"
        "raters (--models). Each mask's distance transform is computed once per case and\n"
        "shared by all its pairs. A readable summary with the rater x rater mean Dice matrix\n"
        "goes to stdout.\n"
        "\n"
        "Options:\n"
        "  --manifest FILE     data manifest (data-manifests/README.md)\n"
        "  --out-dir DIR       output folder (created if missing)\n"
        "  --raters LIST       inter raters by name, e.g. ref,B,C, or all (default all: ref and\n"
        "                      every rater:NAME column without a session). Names are the\n"
        "                      manifest's: ref, A for rater:A, A:2 for rater:A:2\n"
        "  --ref-name NAME     the name of the ref column (default ref); --ref-name A makes ref\n"
        "                      rater A's first session, so rater:A:2 is its second\n"
        "  --sessions          also compare the sessions of each rater (sessions.csv)\n"
        "  --models            also compare every pred:MODEL with the raters (models.csv)\n"
        "  --labels LIST       labels or regions (1,2,1+2); default: every label present\n"
        "  --region R          voxels of the voxel-wise statistics: image (default) or\n"
        "                      union-box (bounding box of all raters' masks of the label,\n"
        "                      grown by --margin)\n"
        "  --margin MM         union-box margin in mm (default 5)\n"
        "  --hd95 NAME         HD95 convention: medpy (default), monai, deepmind, plastimatch\n"
        "  --percentile Q      percentile of hd95 (default 95)\n"
        "  --empty POLICY      distances when one mask is empty: nan (default), inf, worst\n"
        "\n"
        "Output files (DIR/NAME.csv, or .tsv .json .md .tex by --format; every table has\n"
        "case, subject, modality, center, label and region columns; written atomically):\n"
        "  pairs.csv     kind (inter|model), rater_a, rater_b, status, dice, hd95, assd, kappa,\n"
        "                vol_diff_ml (= vol(rater_b) - vol(rater_a)), message\n"
        "  cases.csv     n_raters, n_empty, status (ok|single_rater|error), fleiss_kappa,\n"
        "                krippendorff_alpha, mean_pairwise_dice, ged (E[1 - Dice] over two\n"
        "                independent draws of a rater), vol_cv (SD / mean), message\n"
        "  sessions.csv  rater, session_a, session_b, status and the pair metrics\n"
        "  models.csv    model, n_raters, model_mean_dice, raters_mean_dice, raters_min_dice,\n"
        "                raters_max_dice (range of each rater's mean Dice to the others),\n"
        "                within_range (1 when model_mean_dice >= raters_min_dice),\n"
        "                model_mean_hd95, raters_mean_hd95, ged (model as one sample)\n"
        "  summary.csv   group (all, modality=X, center=Y), label, region, statistic, rater_a,\n"
        "                rater_b, n, mean, sd, median, q1, q3, value, ci_low, ci_high, p:\n"
        "                every statistic above, pair_dice_mean per rater pair, volume_icc2 /\n"
        "                volume_icc3 with 95% CI and p, model_vs_raters_wilcoxon / _ttest\n"
        "\n"
        "Conventions (docs/agreement.md): a rater with an empty mask is counted, never dropped;\n"
        "a case whose raters lie on different grids is an error row, the others go on; fewer\n"
        "than two raters is an error. Results do not depend on -j.\n"
        "\n"
        "Example:\n"
        "  panseval agreement --manifest demo/manifest.tsv --ref-name A --sessions --models \\\n"
        "      --out-dir agree/\n"
        "\n" CLI_COMMON_HELP_OF(CLI_HELP_FORMAT CLI_HELP_THREADS CLI_HELP_PROGRESS),
        f);
}

enum { OPT_MANIFEST = CLI_OPT_FIRST_PRIVATE, OPT_OUT_DIR, OPT_RATERS, OPT_REF_NAME,
       OPT_SESSIONS, OPT_MODELS, OPT_LABELS, OPT_REGION, OPT_MARGIN, OPT_HD95, OPT_PERCENTILE,
       OPT_EMPTY };

int main_agreement(int argc, char **argv)
{
    static const struct option longopts[] = {
        CLI_COMMON_LONGOPTS,
        {"manifest", required_argument, NULL, OPT_MANIFEST},
        {"out-dir", required_argument, NULL, OPT_OUT_DIR},
        {"raters", required_argument, NULL, OPT_RATERS},
        {"ref-name", required_argument, NULL, OPT_REF_NAME},
        {"sessions", no_argument, NULL, OPT_SESSIONS},
        {"models", no_argument, NULL, OPT_MODELS},
        {"labels", required_argument, NULL, OPT_LABELS},
        {"region", required_argument, NULL, OPT_REGION},
        {"margin", required_argument, NULL, OPT_MARGIN},
        {"hd95", required_argument, NULL, OPT_HD95},
        {"percentile", required_argument, NULL, OPT_PERCENTILE},
        {"empty", required_argument, NULL, OPT_EMPTY},
        {NULL, 0, NULL, 0},
    };
    cli_common common;
    cli_common_init(&common, PS_TABLE_CSV);
    common.uses = CLI_USE_FORMAT | CLI_USE_THREADS | CLI_USE_PROGRESS;
    ps_agree_options o;
    ps_agree_options_init(&o);
    const char *manifest = NULL, *out_dir = NULL;
    char *rcopy = NULL, **rlist = NULL;
    ps_region *regs = NULL;
    int status = 0, c;
    while ((c = cli_getopt(&common, CMD, argc, argv, "", longopts)) != -1) {
        if (c == CLI_GETOPT_ERROR) {
            status = 2;
            goto out;
        }
        int h = cli_common_option(&common, c, optarg), bad = 0;
        if (h < 0) {
            status = 2;
            goto out;
        }
        if (h)
            continue;
        switch (c) {
        case OPT_MANIFEST: manifest = optarg; break;
        case OPT_OUT_DIR: out_dir = optarg; break;
        case OPT_RATERS:
            if (!strcmp(optarg, "all"))
                break;
            free(rcopy);
            free(rlist);
            rcopy = NULL;
            rlist = NULL;
            if (cli_split_list(optarg, &rcopy, &rlist, &o.nraters) || o.nraters == 0) {
                status = cli_usage_error(CMD, "--raters: give a list of rater names or all");
                goto out;
            }
            o.raters = (const char *const *)rlist;
            break;
        case OPT_REF_NAME: o.ref_name = optarg; break;
        case OPT_SESSIONS: o.sessions = 1; break;
        case OPT_MODELS: o.models = 1; break;
        case OPT_LABELS: bad = ps_region_list_parse(optarg, &regs, &o.nlabels); break;
        case OPT_REGION: bad = ps_agree_region_parse(optarg, &o.region); break;
        case OPT_MARGIN:
            if (cli_parse_double(CMD, "--margin", optarg, 0, 1e6, &o.margin_mm)) {
                status = 2;
                goto out;
            }
            break;
        case OPT_HD95: bad = ps_hd_method_parse(optarg, &o.metrics.hd_method); break;
        case OPT_PERCENTILE:
            if (cli_parse_double(CMD, "--percentile", optarg, 0, 100, &o.metrics.percentile)) {
                status = 2;
                goto out;
            }
            break;
        case OPT_EMPTY: bad = ps_empty_policy_parse(optarg, &o.metrics.empty); break;
        default:
            status = cli_unknown_option(&common);
            goto out;
        }
        if (bad) {
            status = cli_usage_error(CMD, "%s", ps_error_message());
            goto out;
        }
    }
    if (common.help) {
        usage(stdout);
        goto out;
    }
    if (optind < argc || !manifest || !out_dir) {
        status = optind < argc ? cli_usage_error(CMD, "unexpected argument '%s'", argv[optind])
                               : cli_usage_error(CMD, "--manifest and --out-dir are required");
        goto out;
    }
    o.labels = regs;
    o.format = common.format;
    if (mkdir(out_dir, 0777) && errno != EEXIST) {
        status = cli_report_error(CMD, ps_error(PS_ERR_IO, "%s: cannot create the folder: %s",
                                                out_dir, strerror(errno)));
        goto out;
    }
    ps_manifest_options mopt;
    ps_manifest_options_init(&mopt);
    mopt.check = PS_MANIFEST_CHECK_NONE; /* a missing file is an error row of its case */
    ps_manifest *m = NULL;
    ps_agree_summary s;
    int rc = ps_manifest_read(manifest, &mopt, &m);
    if (!rc)
        rc = ps_agreement_run(m, &o, &common.ctx, out_dir,
                              common.ctx.verbosity >= 1 ? stdout : NULL, &s);
    ps_manifest_free(m);
    if (rc) {
        status = cli_report_error(CMD, rc);
        goto out;
    }
    if (common.ctx.verbosity >= 1 || s.cases_failed)
        fprintf(stderr, "panseval agreement: %lld cases (%lld failed), %d raters, %lld pairs, "
                "%lld session pairs, %lld model rows, %lld empty masks; tables in %s\n",
                (long long)s.cases, (long long)s.cases_failed, s.nraters, (long long)s.pairs,
                (long long)s.sessions, (long long)s.model_rows, (long long)s.empty_masks, out_dir);
    status = s.cases_failed ? 1 : 0;
out:
    free(rcopy);
    free(rlist);
    free(regs);
    return status;
}
