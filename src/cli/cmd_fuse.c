/* cmd_fuse.c - `panseval fuse`: a consensus label map per case from several raters, by STAPLE
 * or majority vote (library: src/agree/fuse.c). */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "cli.h"
#include "ps_agree.h"
#include "ps_manifest.h"

static const char *CMD = "fuse";

static void usage(FILE *f)
{
    fputs(
        "Usage: panseval fuse --manifest M.tsv --out-dir DIR [--method staple|majority]\n"
        "                     [--raters LIST] [-o M_WITH_CONSENSUS.tsv]\n"
        "\n"
        "One consensus label map per case from the raters' label maps, in their geometry.\n"
        "\n"
        "Options:\n"
        "  --manifest FILE     data manifest (data-manifests/README.md)\n"
        "  --out-dir DIR       output folder (created if missing): DIR/CASE.nii.gz\n"
        "  --method M          staple (default) or majority\n"
        "                        staple    Warfield, Zou & Wells 2004 with the initialisation\n"
        "                                  and stopping rule of ITK's STAPLEImageFilter (one\n"
        "                                  label: binary STAPLE, consensus = posterior >=\n"
        "                                  --threshold) or MultiLabelSTAPLEImageFilter (several\n"
        "                                  labels); writes DIR/staple_raters.csv\n"
        "                        majority  the label most raters give; ties go to the lowest\n"
        "                                  label, background included\n"
        "  --threshold T       binary STAPLE consensus threshold (default 0.5)\n"
        "  --max-iter N        STAPLE iterations at most (default: until converged)\n"
        "  --raters LIST       raters by name (ref, A, A:2) or all (default: ref and every\n"
        "                      rater:NAME column without a session)\n"
        "  --ref-name NAME     the name of the ref column in the tables (default ref)\n"
        "  -o FILE             also write the manifest with a rater:consensus column naming the\n"
        "                      consensus files (empty for a failed case)\n"
        "\n"
        "staple_raters.csv: case, label, rater, sensitivity, specificity (binary STAPLE of the\n"
        "label over the whole image), prior, iterations.\n"
        "A case whose raters lie on different grids, or with fewer than two raters, is\n"
        "reported on stderr and skipped (exit status 1); the others are fused.\n"
        "\n"
        "Example:\n"
        "  panseval fuse --manifest demo/manifest.tsv --method staple --out-dir fused/ \\\n"
        "      -o demo/manifest_fused.tsv\n"
        "\n" CLI_COMMON_HELP_OF(CLI_HELP_OUTPUT CLI_HELP_THREADS CLI_HELP_PROGRESS),
        f);
}

enum { OPT_MANIFEST = CLI_OPT_FIRST_PRIVATE, OPT_OUT_DIR, OPT_METHOD, OPT_RATERS, OPT_REF_NAME,
       OPT_THRESHOLD, OPT_MAX_ITER };

int main_fuse(int argc, char **argv)
{
    static const struct option longopts[] = {
        CLI_COMMON_LONGOPTS,
        {"manifest", required_argument, NULL, OPT_MANIFEST},
        {"out-dir", required_argument, NULL, OPT_OUT_DIR},
        {"method", required_argument, NULL, OPT_METHOD},
        {"raters", required_argument, NULL, OPT_RATERS},
        {"ref-name", required_argument, NULL, OPT_REF_NAME},
        {"threshold", required_argument, NULL, OPT_THRESHOLD},
        {"max-iter", required_argument, NULL, OPT_MAX_ITER},
        {NULL, 0, NULL, 0},
    };
    cli_common common;
    cli_common_init(&common, PS_TABLE_CSV);
    common.uses = CLI_USE_OUTPUT | CLI_USE_THREADS | CLI_USE_PROGRESS;
    ps_fuse_options o;
    ps_fuse_options_init(&o);
    const char *manifest = NULL, *out_dir = NULL;
    char *rcopy = NULL, **rlist = NULL;
    int status = 0, c;
    long iters;
    while ((c = cli_getopt(&common, CMD, argc, argv, "", longopts)) != -1) {
        if (c == CLI_GETOPT_ERROR) {
            status = 2;
            goto out;
        }
        int h = cli_common_option(&common, c, optarg);
        if (h < 0) {
            status = 2;
            goto out;
        }
        if (h)
            continue;
        switch (c) {
        case OPT_MANIFEST: manifest = optarg; break;
        case OPT_OUT_DIR: out_dir = optarg; break;
        case OPT_METHOD:
            if (ps_fuse_method_parse(optarg, &o.method)) {
                status = cli_usage_error(CMD, "--method: %s", ps_error_message());
                goto out;
            }
            break;
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
        case OPT_THRESHOLD:
            if (cli_parse_double(CMD, "--threshold", optarg, 0, 1, &o.staple.threshold)) {
                status = 2;
                goto out;
            }
            break;
        case OPT_MAX_ITER:
            if (cli_parse_int(CMD, "--max-iter", optarg, 1, 1000000000, &iters)) {
                status = 2;
                goto out;
            }
            o.staple.max_iter = (int)iters;
            break;
        default:
            status = cli_unknown_option(&common);
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
    const char *inputs[1] = {manifest};
    if ((status = cli_output_check(&common, inputs, 1)))
        goto out;
    o.manifest_out = common.output && strcmp(common.output, "-") ? common.output : NULL;
    if (mkdir(out_dir, 0777) && errno != EEXIST) {
        status = cli_report_error(CMD, ps_error(PS_ERR_IO, "%s: cannot create the folder: %s",
                                                out_dir, strerror(errno)));
        goto out;
    }
    ps_manifest_options mopt;
    ps_manifest_options_init(&mopt);
    mopt.check = PS_MANIFEST_CHECK_NONE;
    ps_manifest *m = NULL;
    ps_fuse_summary s;
    int rc = ps_manifest_read(manifest, &mopt, &m);
    if (!rc)
        rc = ps_fuse_run(m, &o, &common.ctx, out_dir, &s);
    ps_manifest_free(m);
    if (rc) {
        status = cli_report_error(CMD, rc);
        goto out;
    }
    if (common.ctx.verbosity >= 1 || s.cases_failed)
        fprintf(stderr, "panseval fuse: %lld cases, %lld consensus files in %s, %lld failed\n",
                (long long)s.cases, (long long)s.files, out_dir, (long long)s.cases_failed);
    status = s.cases_failed ? 1 : 0;
out:
    free(rcopy);
    free(rlist);
    return status;
}
