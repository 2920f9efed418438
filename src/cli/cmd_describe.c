/* cmd_describe.c - `panseval describe`: descriptive statistics of metric columns per group,
 * with t-based and (optionally) bootstrap confidence intervals. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "cli_stats.h"
#include "ps_stats.h"

static const char *CMD = "describe";

static void usage(FILE *f)
{
    fputs(
        "Usage: panseval describe TABLE --metric COLS [--by COLS] [--model M] [--level L]\n"
        "                         [--bootstrap B [--bootstrap-stat mean|median] [--seed S]]\n"
        "                         [--ok-only] [--format FMT] [-o FILE]\n"
        "\n"
        "Descriptive statistics of one or more metric columns of a per-case table (the\n"
        "output of `panseval metrics`; CSV or TSV; '-' reads standard input), per group of\n"
        "--by values.\n"
        "\n"
        "Options:\n"
        "  --metric COLS        comma-separated metric columns, e.g. dice,hd95 (required)\n"
        "  --by COLS            comma-separated grouping columns (default: none)\n"
        "  --model M            use only rows whose model column is M (default: all rows)\n"
        "  --level L            confidence level of the CIs (default 0.95)\n"
        "  --bootstrap B        also bootstrap CIs from B resamples (default 0 = none)\n"
        "  --bootstrap-stat S   statistic bootstrapped: mean (default) or median\n"
        "  --seed S             seed of the bootstrap generator (default 1); the result does\n"
        "                       not depend on --threads\n"
        "  --ok-only            use only rows with status ok (default: every row except\n"
        "                       status error, so that e.g. Dice 0 of an empty prediction\n"
        "                       counts)\n"
        "  --format FMT         text (default: aligned columns), csv, tsv or json\n"
        "\n"
        CLI_COMMON_HELP_OF(CLI_HELP_OUTPUT CLI_HELP_THREADS)
        "\n"
        "Output, one row (JSON object) per group and metric:\n"
        "  <by columns>, metric\n"
        "  n, n_excluded      values used; rows left out (status error or not ok with\n"
        "                     --ok-only, or a non-finite value: NaN HD95 of an empty mask,\n"
        "                     inf); stderr says how many and why\n"
        "  mean, sd           mean and sample SD (divisor n - 1; nan when n = 1)\n"
        "  median, q1, q3     type-7 quantiles (R's default, numpy's 'linear')\n"
        "  iqr, min, max\n"
        "  ci_low, ci_high    t-based CI of the mean: mean -+ t_{(1+L)/2, n-1} sd / sqrt(n)\n"
        "With --bootstrap also: boot_replicates, boot_stat, boot_pct_low, boot_pct_high\n"
        "(percentile interval), boot_bca_low, boot_bca_high (BCa interval; nan when the data\n"
        "are constant). Resampling: GSL mt19937 seeded with --seed (docs/stats.md).\n"
        "\n"
        "Examples:\n"
        "  panseval describe metrics.csv --metric dice,hd95 --by model,modality\n"
        "  panseval describe metrics.csv --metric dice --model pansegnet --by center \\\n"
        "      --bootstrap 10000 --seed 42 --format json\n",
        f);
}

enum {
    OPT_METRIC = CLI_OPT_FIRST_PRIVATE,
    OPT_BY,
    OPT_MODEL,
    OPT_LEVEL,
    OPT_BOOT,
    OPT_BOOT_STAT,
    OPT_OK_ONLY,
};

int main_describe(int argc, char **argv)
{
    static const struct option longopts[] = {
        CLI_COMMON_LONGOPTS,
        {"metric", required_argument, NULL, OPT_METRIC},
        {"by", required_argument, NULL, OPT_BY},
        {"model", required_argument, NULL, OPT_MODEL},
        {"level", required_argument, NULL, OPT_LEVEL},
        {"bootstrap", required_argument, NULL, OPT_BOOT},
        {"bootstrap-stat", required_argument, NULL, OPT_BOOT_STAT},
        {"ok-only", no_argument, NULL, OPT_OK_ONLY},
        {NULL, 0, NULL, 0},
    };
    cli_common common;
    cli_common_init(&common, PS_FMT_CSV);
    const char *metrics = NULL, *by = "", *model = NULL;
    double level = 0.95;
    long boot = 0;
    ps_boot_stat bstat = PS_BOOT_MEAN;
    int text = 1, ok_only = 0, c;
    optind = 1;
    while ((c = cli_stats_getopt(CMD, argc, argv, longopts, &common, &text)) != -1) {
        if (c == CLI_GETOPT_ERROR)
            return 2;
        switch (c) {
        case OPT_METRIC: metrics = optarg; break;
        case OPT_BY: by = optarg; break;
        case OPT_MODEL: model = optarg; break;
        case OPT_LEVEL:
            if (cli_parse_level(CMD, optarg, &level))
                return 2;
            break;
        case OPT_BOOT:
            if (cli_parse_int(CMD, "--bootstrap", optarg, 0, 100000000, &boot))
                return 2;
            if (boot == 1)
                return cli_usage_error(CMD, "--bootstrap needs at least 2 resamples (or 0)");
            break;
        case OPT_BOOT_STAT:
            if (!strcmp(optarg, "mean"))
                bstat = PS_BOOT_MEAN;
            else if (!strcmp(optarg, "median"))
                bstat = PS_BOOT_MEDIAN;
            else
                return cli_usage_error(CMD, "--bootstrap-stat must be mean or median, got '%s'",
                                       optarg);
            break;
        case OPT_OK_ONLY: ok_only = 1; break;
        default: return cli_usage_error(CMD, "unknown option");
        }
    }
    if (common.help) {
        usage(stdout);
        return 0;
    }
    if (optind != argc - 1)
        return cli_usage_error(CMD, optind >= argc ? "missing TABLE" : "give exactly one TABLE");
    if (!metrics)
        return cli_usage_error(CMD, "--metric is required");
    ps_stats_init();

    int rc, status = 0;
    ps_table *t = NULL;
    cli_groups g = {0};
    cli_rtable *rt = NULL;
    unsigned char *use = NULL;
    double *x = NULL;
    char *mcopy = NULL;
    int *mcol = NULL, nmet = 0, cmodel = -1, cstatus;
    const char **mname = NULL;
    char label[512];
    if ((rc = ps_table_read(argv[optind], &t)))
        goto fail;
    const char *tname = t->path ? t->path : argv[optind];
    if (model && (rc = ps_table_require_col(t, "model", &cmodel)))
        goto fail;
    cstatus = ps_table_col(t, "status");

    /* metric columns */
    mcopy = ps_strdup(metrics);
    int cap = 1;
    for (const char *p = metrics; *p; p++)
        cap += *p == ',';
    mcol = ps_calloc((size_t)cap, sizeof *mcol);
    mname = ps_calloc((size_t)cap, sizeof *mname);
    if (!mcopy || !mcol || !mname) {
        rc = PS_ERR_NOMEM;
        goto fail;
    }
    char *save = NULL;
    for (char *tok = strtok_r(mcopy, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
        if (!*tok)
            continue;
        if ((rc = ps_table_require_col(t, tok, &mcol[nmet])))
            goto fail;
        mname[nmet++] = tok;
    }
    if (nmet == 0) {
        status = cli_usage_error(CMD, "--metric lists no column");
        goto done;
    }

    size_t nr = t->nrows ? (size_t)t->nrows : 1;
    use = ps_calloc(nr, 1);
    x = ps_malloc_array(nr, sizeof *x);
    if (!use || !x) {
        rc = PS_ERR_NOMEM;
        goto fail;
    }
    int64_t nmodel = 0;
    for (int64_t r = 0; r < t->nrows; r++) {
        use[r] = !model || !strcmp(t->cells[r][cmodel], model);
        nmodel += use[r];
    }
    if (model && nmodel == 0) {
        rc = ps_error(PS_ERR_ARG, "%s: no rows with model '%s' (column 'model')", tname, model);
        goto fail;
    }
    if ((rc = cli_groups_build(t, by, use, &g)))
        goto fail;

    static const char *const base_cols[] = {"metric", "n", "n_excluded", "mean", "sd",
                                            "median", "q1", "q3", "iqr", "min", "max",
                                            "ci_low", "ci_high"};
    static const char *const boot_cols[] = {"boot_replicates", "boot_stat", "boot_pct_low",
                                            "boot_pct_high", "boot_bca_low", "boot_bca_high"};
    const char *cols[64];
    int ncols = 0;
    for (int k = 0; k < g.nby && ncols < 32; k++)
        cols[ncols++] = g.by[k];
    for (size_t k = 0; k < sizeof base_cols / sizeof *base_cols; k++)
        cols[ncols++] = base_cols[k];
    if (boot)
        for (size_t k = 0; k < sizeof boot_cols / sizeof *boot_cols; k++)
            cols[ncols++] = boot_cols[k];
    if ((rc = cli_rtable_create(ncols, cols, &rt)))
        goto fail;

    for (int k = 0; k < g.ngroups; k++) {
        cli_groups_label(t, &g, k, label, sizeof label);
        for (int m = 0; m < nmet; m++) {
            size_t n = 0;
            int64_t nstatus = 0, nnan = 0, ninf = 0;
            for (int64_t r = 0; r < t->nrows; r++) {
                if (g.of_row[r] != k)
                    continue;
                if (cstatus >= 0) {
                    const char *st = t->cells[r][cstatus];
                    if (ok_only ? strcmp(st, "ok") != 0 : strcmp(st, "error") == 0) {
                        nstatus++;
                        continue;
                    }
                }
                double v;
                if ((rc = ps_table_get_double(t, r, mcol[m], &v)))
                    goto fail;
                if (isnan(v))
                    nnan++;
                else if (isinf(v))
                    ninf++;
                else
                    x[n++] = v;
            }
            int64_t nex = nstatus + nnan + ninf;
            if (nex)
                ps_log(&common.ctx, PS_LOG_WARN,
                       "describe %s, %s: %lld row(s) excluded (%lld %s, %lld nan, %lld inf)",
                       label, mname[m], (long long)nex, (long long)nstatus,
                       ok_only ? "status not ok" : "status error", (long long)nnan,
                       (long long)ninf);
            ps_stats_summary s = {0};
            int bad = 0;
            if (n == 0) {
                fprintf(stderr, "panseval describe: %s, column '%s': no values left\n", label,
                        mname[m]);
                status = 1;
                bad = 1;
            } else if ((rc = ps_stats_describe(x, n, level, NULL, &s))) {
                goto fail;
            } else if (n == 1) {
                ps_log(&common.ctx, PS_LOG_WARN,
                       "describe %s, %s: one value: sd and CI are undefined (nan)", label,
                       mname[m]);
            }
            if ((rc = cli_groups_cells(t, &g, k, rt)) || (rc = cli_rtable_str(rt, mname[m])) ||
                (rc = cli_rtable_int(rt, (int64_t)n)) || (rc = cli_rtable_int(rt, nex)))
                goto fail;
            double v[] = {s.mean, s.sd, s.median, s.q1, s.q3, s.iqr, s.min, s.max, s.ci_low,
                          s.ci_high};
            for (size_t q = 0; q < sizeof v / sizeof *v; q++)
                if ((rc = cli_rtable_num(rt, bad ? NAN : v[q])))
                    goto fail;
            if (!boot)
                continue;
            ps_boot_ci bc = {0};
            int bok = !bad && n >= 2;
            if (bok && (rc = ps_stats_bootstrap(x, n, bstat, boot, level, common.ctx.seed,
                                                ps_context_threads(&common.ctx), &bc)))
                goto fail;
            if (!bad && n < 2)
                ps_log(&common.ctx, PS_LOG_WARN, "describe %s, %s: bootstrap needs 2 values",
                       label, mname[m]);
            else if (bok && isnan(bc.bca_low))
                ps_log(&common.ctx, PS_LOG_WARN,
                       "describe %s, %s: constant values, BCa interval undefined (nan)", label,
                       mname[m]);
            if ((rc = cli_rtable_int(rt, boot)) ||
                (rc = cli_rtable_str(rt, bstat == PS_BOOT_MEAN ? "mean" : "median")))
                goto fail;
            double bv[] = {bc.pct_low, bc.pct_high, bc.bca_low, bc.bca_high};
            for (size_t q = 0; q < sizeof bv / sizeof *bv; q++)
                if ((rc = cli_rtable_num(rt, bok ? bv[q] : NAN)))
                    goto fail;
        }
    }
    ps_atomic_file *af;
    FILE *f;
    if ((rc = cli_output_open(&common, &af, &f)))
        goto fail;
    if ((rc = cli_output_close(af, cli_rtable_write(rt, f, text, common.format))))
        goto fail;
    goto done;
fail:
    status = cli_report_error(CMD, rc);
done:
    free(use);
    free(x);
    free(mcopy);
    free(mcol);
    free(mname);
    cli_rtable_free(rt);
    cli_groups_free(&g);
    ps_table_free(t);
    return status;
}
