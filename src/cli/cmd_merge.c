/* cmd_merge.c - `panseval merge`: join the shards of `metrics --shard I/N` into one table, or
 * of `agreement --shard I/N` into one output folder. */
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "ps_eval_dist.h"
#include "ps_reports.h"

static const char *CMD = "merge";

static void usage(FILE *f)
{
    fputs("Usage: panseval merge OUT SHARD [SHARD...] [--format csv|tsv|json]\n"
          "       panseval merge OUT_DIR AGREEMENT_DIR [AGREEMENT_DIR...]\n"
          "       panseval merge OUT.tsv INFER_SHARD.tsv [INFER_SHARD.tsv...]\n"
          "\n"
          "Join the outputs of `panseval metrics --manifest M --shard I/N -o SHARD` (a SLURM\n"
          "job array, one shard per task) into OUT, the table one process would have written:\n"
          "the same bytes, in manifest order, with its provenance sidecar OUT.meta.json.\n"
          "Each SHARD is a shard's table, whose journal SHARD.journal is read, or the journal\n"
          "itself. The journals hold every row exactly (docs/cluster.md).\n"
          "\n"
          "Checked before anything is written, each failure an error that says what differs:\n"
          "  - every shard ran the same panseval version, manifest (by a hash of its bytes; it\n"
          "    must still be at the path recorded in the journals), models, options and\n"
          "    format, with the same number of shards N;\n"
          "  - every evaluation of the manifest is in exactly one shard: missing (a shard not\n"
          "    given or not finished: resume it with --resume) and duplicated evaluations are\n"
          "    named (up to 20).\n"
          "\n"
          "Options:\n"
          "      --format FMT    the format of OUT, which must be the shards' format (default: from\n"
          "                      the suffix of OUT, else csv)\n"
          "  -q, --quiet         no summary line\n"
          "  -h, --help          this text\n"
          "\n"
          "The shards of `panseval infer --manifest M --shard I/N -o SHARD.tsv` (the kind is\n"
          "read from the journals) are joined the same way into the manifest copy with\n"
          "pred:MODEL that one `infer -o OUT.tsv` run writes; the predictions are already in\n"
          "the --out-dir folder. The same checks apply: same version, manifest, model, folds\n"
          "and options, every case with an image in exactly one shard.\n"
          "\n"
          "OUT is written atomically (a temporary file, then rename) and may not be one of the\n"
          "inputs. Exit status: 0 merged, 1 some evaluations are error rows, 2 usage error or the\n"
          "shards do not fit together.\n"
          "\n"
          "Agreement shards (`panseval agreement --shard I/N --out-dir DIR_I`): each SHARD is\n"
          "such a folder (its DIR_I/agreement.journal is read) or that journal. OUT_DIR\n"
          "(created) receives every table one process writes: pairs, cases, sessions, models\n"
          "and the aggregates summary, dice_matrix, models_summary, with the --by of the runs,\n"
          "in their format; the same checks (cases named), and OUT_DIR may not be a shard's\n"
          "folder. Exit status 1 when some cases are error rows.\n"
          "\n"
          "Example (docs/cluster.md has the sbatch scripts):\n"
          "  for i in 1 2 3 4; do panseval metrics --manifest M.tsv --shard $i/4 -o s$i.csv; done\n"
          "  panseval merge metrics.csv s1.csv s2.csv s3.csv s4.csv\n"
          "  for i in 1 2 3; do panseval agreement --manifest M.tsv --shard $i/3 --out-dir a$i; done\n"
          "  panseval merge agreement/ a1 a2 a3\n",
          f);
}

/* Agreement shards into the folder out (ps_report_agreement_merge). */
static int merge_agreement(const cli_common *common, const char *out,
                           const char *const *shards, int n)
{
    ps_table_format want = common->format;
    ps_agreement_result res;
    ps_agree_summary sum;
    int rc = ps_report_agreement_merge(shards, n, out, common->format_set == 1 ? &want : NULL,
                                       &res, &sum);
    ps_agreement_result_free(&res);
    if (rc)
        return cli_report_error(CMD, rc);
    if (common->ctx.verbosity > 0)
        fprintf(stderr, "panseval merge: %lld agreement cases (%lld failed) from %d shard(s) "
                "into %s\n", (long long)sum.cases, (long long)sum.cases_failed, n, out);
    return sum.cases_failed ? 1 : 0;
}

/* The manifest copies of `infer --shard`: ps_eval_infer_merge into OUT. */
static int merge_infer(cli_common *common, const char *out, const char *const *shards,
                       int nshards)
{
    common->output = out;
    if (common->format_set)
        return cli_usage_error(CMD, "--format: the shards are `infer` manifest copies (TSV)");
    if (cli_output_check(common, shards, nshards))
        return 2;
    ps_eval_infer_result r;
    int rc = ps_eval_infer_merge(shards, nshards, out, &common->ctx, &r);
    if (rc)
        return cli_report_error(CMD, rc);
    if (common->ctx.verbosity > 0)
        fprintf(stderr, "panseval merge: %lld case(s) from %d shard file(s) into %s: %lld "
                "predicted, %lld kept, %lld failed, %lld without an image\n",
                (long long)r.cases, nshards, out, (long long)r.done, (long long)r.skipped,
                (long long)r.failed, (long long)r.no_image);
    return r.failed ? 1 : 0;
}

int main_merge(int argc, char **argv)
{
    static const struct option longopts[] = {CLI_COMMON_LONGOPTS, {NULL, 0, NULL, 0}};
    cli_common common;
    cli_common_init(&common, PS_TABLE_CSV);
    common.uses = CLI_USE_FORMAT;
    int c;
    while ((c = cli_getopt(&common, CMD, argc, argv, "", longopts)) != -1) {
        if (c == CLI_GETOPT_ERROR)
            return 2;
        return cli_unknown_option(&common);
    }
    if (common.help) {
        usage(stdout);
        return 0;
    }
    if (argc - optind < 2)
        return cli_usage_error(CMD, "give OUT and at least one SHARD");
    const char *out = argv[optind];
    const char *const *shards = (const char *const *)argv + optind + 1;
    int nshards = argc - optind - 1;
    char *kind = NULL;
    int rc = ps_eval_journal_format(shards[0], &kind);
    if (rc)
        return cli_report_error(CMD, rc);
    int agreement = !strcmp(kind, "agreement"), infer = !strcmp(kind, "infer");
    free(kind);
    if (agreement)
        return merge_agreement(&common, out, shards, nshards);
    if (infer)
        return merge_infer(&common, out, shards, nshards);
    ps_table_format fmt = common.format;
    int from_suffix = ps_table_format_from_path(out, &fmt);
    if (from_suffix && common.format_set == 1 && fmt != common.format)
        return cli_usage_error(CMD, "--format %s contradicts the suffix of %s",
                               ps_table_format_name(common.format), out);
    if (!from_suffix)
        fmt = common.format;
    common.output = out;
    common.format = fmt;
    if (cli_output_check(&common, (const char *const *)argv + optind + 1, argc - optind - 1))
        return 2;
    ps_atomic_file *af;
    FILE *f;
    rc = cli_output_open(&common, &af, &f);
    if (rc)
        return cli_report_error(CMD, rc);
    ps_eval_summary sum;
    rc = ps_eval_merge((const char *const *)argv + optind + 1, argc - optind - 1, f, out, fmt,
                       &common.ctx, &sum);
    rc = cli_output_close(af, rc);
    if (rc)
        return cli_report_error(CMD, rc);
    if (common.ctx.verbosity > 0)
        fprintf(stderr, "panseval merge: %lld evaluations of %lld cases from %d shard file(s) "
                "into %s\n", (long long)sum.jobs_emitted, (long long)sum.cases_emitted,
                argc - optind - 1, out);
    return sum.failed ? 1 : 0;
}
