/* cmd_fuse.c - `panseval fuse`: a consensus label map per case from several raters, by STAPLE
 * or majority vote (library: src/eval/fuse.c). */
#include <signal.h>
#include <string.h>

#include "cli.h"
#include "ps_eval.h"

static const char *CMD = "fuse";

static const char USAGE[] =
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
        "SIGINT / SIGTERM (Ctrl-C): no new case is started; the finished cases keep their\n"
        "consensus files, staple_raters.csv and the -o manifest are written for them (the\n"
        "other cases' consensus cells empty), and the exit status is 130 / 143.\n"
        "\n"
        "Example:\n"
        "  panseval fuse --manifest demo/manifest.tsv --method staple --out-dir fused/ \\\n"
        "      -o demo/manifest_fused.tsv\n"
        "\n" CLI_COMMON_HELP_OF(CLI_HELP_OUTPUT CLI_HELP_THREADS CLI_HELP_PROGRESS);

int main_fuse(int argc, char **argv)
{
    enum { OPT_MANIFEST = CLI_OPT_FIRST_PRIVATE, OPT_OUT_DIR, OPT_LIB };
    static const struct option longopts[] = {
        CLI_COMMON_LONGOPTS,
        {"manifest", required_argument, NULL, OPT_MANIFEST},
        {"out-dir", required_argument, NULL, OPT_OUT_DIR},
        /* parsed by the library, by name (ps_fuse_options_set) */
        {"method", required_argument, NULL, OPT_LIB},
        {"raters", required_argument, NULL, OPT_LIB + 1},
        {"ref-name", required_argument, NULL, OPT_LIB + 2},
        {"threshold", required_argument, NULL, OPT_LIB + 3},
        {"max-iter", required_argument, NULL, OPT_LIB + 4},
        {NULL, 0, NULL, 0},
    };
    cli_common common;
    cli_common_init(&common, PS_TABLE_CSV);
    common.uses = CLI_USE_OUTPUT | CLI_USE_THREADS | CLI_USE_PROGRESS;
    ps_fuse_options o;
    ps_fuse_options_init(&o);
    const char *manifest = NULL, *out_dir = NULL;
    int status = 0, c, h;
    while ((c = cli_getopt(&common, CMD, argc, argv, "", longopts)) != -1) {
        if (c == CLI_GETOPT_ERROR || (h = cli_common_option(&common, c, optarg)) < 0) {
            status = 2;
            goto out;
        } else if (h)
            continue;
        if (c == OPT_MANIFEST || c == OPT_OUT_DIR)
            *(c == OPT_MANIFEST ? &manifest : &out_dir) = optarg;
        else if (c < OPT_LIB || c > OPT_LIB + 4)
            status = cli_unknown_option(&common);
        else {
            int k = 0;
            while (longopts[k].val != c)
                k++;
            if (ps_fuse_options_set(&o, longopts[k].name, optarg))
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
    const char *inputs[1] = {manifest};
    if ((status = cli_output_check(&common, inputs, 1)))
        goto out;
    o.manifest_out = common.output && strcmp(common.output, "-") ? common.output : NULL;
    ps_manifest *m = NULL;
    ps_fuse_summary s = {0};
    int rc = ps_agree_open(manifest, out_dir, &m);
    o.stop = cli_catch_stop_signals();
    int64_t ncases = m ? m->ncases : 0;
    if (!rc)
        rc = ps_fuse_run(m, &o, &common.ctx, out_dir, &s);
    cli_release_stop_signals();
    ps_manifest_free(m);
    if (rc)
        status = cli_report_error(CMD, rc);
    else if (common.ctx.verbosity >= 1 || s.cases_failed)
        fprintf(stderr, "panseval fuse: %lld cases, %lld consensus files in %s, %lld failed\n",
                (long long)s.cases, (long long)s.files, out_dir, (long long)s.cases_failed);
    if (!rc)
        status = s.cases_failed ? 1 : 0;
    if (!rc && s.stopped) {
        int sig = *o.stop;
        fprintf(stderr, "panseval fuse: interrupted (%s): kept the %lld of %lld case(s) "
                "finished in order (%lld consensus files%s%s%s) in %s\n",
                sig == SIGINT ? "SIGINT" : "SIGTERM", (long long)s.cases, (long long)ncases,
                (long long)s.files, o.method == PS_FUSE_STAPLE ? ", staple_raters.csv" : "",
                o.manifest_out ? ", the manifest " : "", o.manifest_out ? o.manifest_out : "",
                out_dir);
        status = 128 + sig;
    }
out:
    ps_fuse_options_clear(&o);
    return status;
}
