/* cmd_agreement.c - `panseval agreement`: inter-rater, intra-rater and model-vs-rater agreement
 * of the label maps of a manifest (library: src/eval/agreement.c for the per-row tables,
 * reports/agree_summary.c for the aggregates). */
#include <signal.h>
#include <stdlib.h>

#include "cli.h"
#include "cli_report.h"
#include "ps_eval.h"
#include "ps_eval_dist.h"
#include "ps_reports.h"

static const char *CMD = "agreement";

static const char USAGE[] =
        "Usage: panseval agreement --manifest M.tsv --out-dir DIR [--by COLS] [options]\n"
        "\n"
        "Agreement of several raters' label maps per case and label: every pair of raters\n"
        "(Dice, HD95, ASSD, voxel-wise Cohen's kappa, volume difference), all raters (Fleiss'\n"
        "kappa, Krippendorff's alpha on voxels, mean pairwise Dice, generalized energy distance\n"
        "with 1 - Dice, CV of the volumes), across cases (ICC of the volumes), the sessions of\n"
        "one rater (--sessions), models against the raters (--models). Each mask's distance\n"
        "transform is computed once per case. The aggregates, the rater x rater mean Dice\n"
        "matrix and the model-within-variation table go to stdout.\n"
        "\n"
        "Options:\n"
        "  --manifest FILE     data manifest (data-manifests/README.md)\n"
        "  --out-dir DIR       output folder (created if missing)\n"
        "  --by COLS           group the aggregates by these columns (and label): case, subject,\n"
        "                      modality, center, meta:KEY (default: all cases in one group)\n"
        "  --raters LIST       inter raters by name (ref, A for rater:A, A:2 for rater:A:2) or\n"
        "                      all (default: ref and every rater:NAME column without a session)\n"
        "  --ref-name NAME     the name of the ref column (default ref); --ref-name A makes ref\n"
        "                      rater A's first session, so rater:A:2 is its second; in\n"
        "                      --raters, ref still names that column (ref,B,C = A,B,C)\n"
        "  --sessions          also compare the sessions of each rater (sessions.csv)\n"
        "  --models            also compare every pred:MODEL with the raters (models.csv)\n"
        "  --labels LIST       labels or regions (1,2,1+2); default: every label present\n"
        "  --region R          voxels of the voxel-wise statistics: image (default) or union-\n"
        "                      box (box of all raters' masks of the label, grown by --margin)\n"
        "  --margin MM         union-box margin in mm (default 5)\n"
        "  --hd95 NAME         HD95 convention: medpy (default), monai, deepmind, plastimatch\n"
        "  --percentile Q      percentile of hd95 (default 95)\n"
        "  --empty POLICY      distances when one mask is empty: nan (default), inf, worst\n"
        "\n"
        "Output files (DIR/NAME.csv, or .tsv .json .md .tex by --format; written atomically;\n"
        "per-row tables have case, subject, modality, center, label, region, and last one\n"
        "meta:KEY column per manifest meta:KEY column):\n"
        "  pairs.csv     kind (inter|model), rater_a, rater_b, status, dice, hd95, assd, kappa,\n"
        "                vol_diff_ml (= vol_b_ml - vol_a_ml), vol_a_ml, vol_b_ml, message\n"
        "  cases.csv     n_raters, n_empty, status (ok|single_rater|error), fleiss_kappa,\n"
        "                krippendorff_alpha, mean_pairwise_dice, ged (E[1 - Dice] over two\n"
        "                independent draws of a rater), vol_cv (SD / mean), message\n"
        "  sessions.csv  rater, session_a, session_b, status and the pair metrics\n"
        "  models.csv    model, n_raters, model_mean_dice, raters_mean_dice, raters_min_dice,\n"
        "                raters_max_dice (range of each rater's mean Dice to the others),\n"
        "                within_range (1 when model_mean_dice >= raters_min_dice),\n"
        "                model_mean_hd95, raters_mean_hd95, ged (model as one sample)\n"
        "  summary.csv   <by>, label, region, statistic, rater_a, rater_b, n, n_excluded, mean,\n"
        "                sd, median, q1, q3, value, ci_low, ci_high, p, excl_<reason>: every\n"
        "                statistic above, pair_dice_mean per rater pair, volume_icc2 /\n"
        "                volume_icc3 with 95% CI and p, model_vs_raters_wilcoxon / _ttest\n"
        "  dice_matrix.csv   <by>, label, rater, one column of mean pairwise Dice per rater\n"
        "  models_summary.csv  <by>, label, model, n, model_mean_dice, raters_mean_dice,\n"
        "                mean_diff, ci_low, ci_high, p_ttest, p_wilcoxon, within_range_fraction\n"
        "\n"
        "Which rows enter an aggregate (docs/stats.md, the rule of every table command): a row\n"
        "with status error or missing never does; a NaN or infinite value (e.g. HD95 of an\n"
        "empty mask) is left out and counted in n_excluded and excl_nan / excl_inf; Dice of\n"
        "an empty mask counts. Conventions (docs/agreement.md): a rater with an empty mask is\n"
        "counted, never dropped; a case whose raters lie on different grids is an error row,\n"
        "the others go on; fewer than two raters is an error. Results do not depend on -j.\n"
        "Exit status 0; 1 when a case failed (its error row says why); 2 for a usage error.\n"
        "SIGINT / SIGTERM (Ctrl-C): no new case is started, the finished cases are kept as\n"
        "complete tables with their aggregates and in the journal, and the exit status is\n"
        "130 / 143; the same command with --resume finishes the run.\n"
        "\n"
        "Long runs and clusters (docs/cluster.md):\n"
        "  --resume            skip the cases already in DIR/agreement.journal (kept by an\n"
        "                      interrupted or killed run) and write the same tables an\n"
        "                      uninterrupted run writes; a journal of another manifest, other\n"
        "                      options (--by included) or another format is refused, saying why\n"
        "  --shard I/N         only shard I of N of the cases (balanced by the bytes of their\n"
        "                      label maps); DIR then holds that shard's tables and its journal\n"
        "                      for `panseval merge OUT_DIR DIR1 ... DIRN`\n"
        "  --mpi               spread the cases over the ranks of `mpirun -n K` (rank 0 writes\n"
        "                      every output, byte-identical to one process; needs a build with\n"
        "                      MPI)\n"
        "DIR/agreement.journal holds every finished case while the run goes on; a complete run\n"
        "without --shard removes it.\n"
        "\n"
        "Example:\n"
        "  panseval agreement --manifest demo/manifest.tsv --ref-name A --sessions --models \\\n"
        "      --by modality --out-dir agree/\n"
        "  mpirun -n 4 panseval agreement --manifest M.tsv --mpi -j 8 --out-dir agree/\n"
        "  panseval agreement --manifest M.tsv --shard 2/8 --resume --out-dir agree_2/\n"
        "\n" CLI_COMMON_HELP_OF(CLI_HELP_FORMAT CLI_HELP_THREADS CLI_HELP_PROGRESS);

int main_agreement(int argc, char **argv)
{
    enum { OPT_MANIFEST = CLI_OPT_FIRST_PRIVATE, OPT_OUT_DIR, OPT_BY, OPT_RESUME, OPT_SHARD,
           OPT_MPI, OPT_LIB };
    static const struct option longopts[] = {
        CLI_COMMON_LONGOPTS,
        {"manifest", required_argument, NULL, OPT_MANIFEST},
        {"out-dir", required_argument, NULL, OPT_OUT_DIR}, {"by", required_argument, NULL, OPT_BY},
        {"resume", no_argument, NULL, OPT_RESUME}, {"shard", required_argument, NULL, OPT_SHARD},
        {"mpi", no_argument, NULL, OPT_MPI},
        /* parsed by the library, by name (ps_agree_options_set); 1: has an argument */
        {"raters", 1, NULL, OPT_LIB},     {"ref-name", 1, NULL, OPT_LIB + 1},
        {"sessions", 0, NULL, OPT_LIB + 2},   {"models", 0, NULL, OPT_LIB + 3},
        {"labels", 1, NULL, OPT_LIB + 4},     {"region", 1, NULL, OPT_LIB + 5},
        {"margin", 1, NULL, OPT_LIB + 6},     {"hd95", 1, NULL, OPT_LIB + 7},
        {"percentile", 1, NULL, OPT_LIB + 8}, {"empty", 1, NULL, OPT_LIB + 9},
        {NULL, 0, NULL, 0},
    };
    cli_common common;
    cli_common_init(&common, PS_TABLE_CSV);
    common.uses = CLI_USE_FORMAT | CLI_USE_THREADS | CLI_USE_PROGRESS;
    ps_agree_options o;
    ps_agreement_report_options ro;
    ps_agree_options_init(&o);
    ps_agreement_report_options_init(&ro);
    const char *manifest = NULL, *out_dir = NULL, *by = NULL;
    char *bcopy = NULL, **bitems = NULL;
    ps_eval_run_opts run = {0};
    int status = 0, c, h, mpi = 0;
    while ((c = cli_getopt(&common, CMD, argc, argv, "", longopts)) != -1) {
        if (c == CLI_GETOPT_ERROR || (h = cli_common_option(&common, c, optarg)) < 0) {
            status = 2;
            goto out;
        } else if (h)
            continue;
        if (c == OPT_MANIFEST || c == OPT_OUT_DIR || c == OPT_BY)
            *(c == OPT_MANIFEST ? &manifest : c == OPT_OUT_DIR ? &out_dir : &by) = optarg;
        else if (c == OPT_RESUME || c == OPT_MPI)
            *(c == OPT_RESUME ? &run.resume : &mpi) = 1;
        else if (c == OPT_SHARD) {
            if (ps_eval_shard_parse(optarg, &run.shard_index, &run.shard_count))
                status = cli_usage_error(CMD, "%s", ps_error_message());
        }
        else if (c < OPT_LIB || c > OPT_LIB + 9)
            status = cli_unknown_option(&common);
        else {
            int k = 0;
            while (longopts[k].val != c)
                k++;
            if (ps_agree_options_set(&o, longopts[k].name, optarg ? optarg : ""))
                status = cli_usage_error(CMD, "%s", ps_error_message());
        }
        if (status)
            goto out;
    }
    if (common.help) {
        fputs(USAGE, stdout);
        goto out;
    }
    ps_context_check_threads(&common.ctx, CMD);
    if (optind < argc || !manifest || !out_dir) {
        status = optind < argc ? cli_usage_error(CMD, "unexpected argument '%s'", argv[optind])
                               : cli_usage_error(CMD, "--manifest and --out-dir are required");
        goto out;
    }
    if (by && (status = cli_report_list(CMD, "--by", by, 1, &bcopy, &bitems, &ro.nby)))
        goto out;
    if ((status = cli_dist_start(CMD, mpi, "compute every case", &run.dist)))
        goto out;
    int rc;
    int root = ps_dist_rank(run.dist) == 0;
    run.manifest = manifest;
    ro.by = (const char *const *)bitems;
    o.format = common.format;
    ps_manifest *m = NULL;
    ps_agree_summary s = {0};
    ps_agreement_result res = {0};
    ps_eval_run_info info = {0};
    rc = ps_agree_open(manifest, out_dir, &m);
    run.stop = cli_catch_stop_signals();
    if (!rc)
        rc = ps_report_agreement_dist(m, &o, &ro, &common.ctx, out_dir, &run, &res, &s, &info);
    cli_release_stop_signals();
    ps_manifest_free(m);
    if (!root) { /* the other ranks only computed */
        status = rc ? cli_report_error(CMD, rc) : 0;
        goto out;
    }
    if (!rc && common.ctx.verbosity >= 1) /* the three result tables */
        rc = ps_report_agreement_print(&res, stdout, PS_REPORT_TEXT);
    ps_agreement_result_free(&res);
    if (info.resumed_jobs)
        ps_log(&common.ctx, PS_LOG_INFO, "agreement: %lld of %lld case(s) taken from the "
               "journal %s/agreement.journal, %lld run now", (long long)info.resumed_jobs,
               (long long)info.shard_jobs, out_dir,
               (long long)(info.shard_jobs - info.resumed_jobs));
    if (rc)
        status = cli_report_error(CMD, rc);
    else if (common.ctx.verbosity >= 1 || s.cases_failed)
        fprintf(stderr, "panseval agreement: %lld cases (%lld failed), %d raters, %lld pairs, "
                "%lld session pairs, %lld model rows, %lld empty masks; tables in %s\n",
                (long long)s.cases, (long long)s.cases_failed, s.nraters, (long long)s.pairs,
                (long long)s.sessions, (long long)s.model_rows, (long long)s.empty_masks, out_dir);
    if (!rc)
        status = s.cases_failed ? 1 : 0;
    if (!rc && s.stopped) {
        int sig = *run.stop;
        fprintf(stderr, "panseval agreement: interrupted (%s): kept the %lld of %lld case(s) "
                "finished in order, as complete tables (and their aggregates) in %s and in "
                "the journal %s/agreement.journal; run the same command with --resume to "
                "finish it\n", sig == SIGINT ? "SIGINT" : "SIGTERM", (long long)s.cases,
                (long long)info.shard_jobs, out_dir, out_dir);
        status = 128 + sig;
    }
out:
    ps_dist_finalize(run.dist);
    ps_agree_options_clear(&o);
    free(bcopy);
    free(bitems);
    return status;
}
