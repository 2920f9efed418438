/* cmd_volume.c - `panseval volume`: agreement of predicted with reference volumes per group:
 * OLS, R^2 (of the fit and against the identity line), Pearson and Spearman correlation,
 * Bland-Altman bias and limits of agreement with CIs. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "cli_stats.h"
#include "ps_stats.h"

static const char *CMD = "volume";

static void usage(FILE *f)
{
    fputs(
        "Usage: panseval volume TABLE [--ref-col COL] [--pred-col COL] [--by COLS]\n"
        "                       [--model M] [--level L] [--ok-only] [--format FMT] [-o FILE]\n"
        "\n"
        "Agreement of predicted with reference volumes in a per-case table (the output of\n"
        "`panseval metrics`; CSV or TSV; '-' reads standard input), per group of --by values.\n"
        "\n"
        "Options:\n"
        "  --ref-col COL   reference volume column (default vol_ref_ml)\n"
        "  --pred-col COL  predicted volume column (default vol_pred_ml)\n"
        "  --by COLS       comma-separated grouping columns, e.g. modality (default: none)\n"
        "  --model M       use only rows whose model column is M (default: all rows)\n"
        "  --level L       confidence level of every CI (default 0.95)\n"
        "  --ok-only       use only rows with status ok (default: every row except\n"
        "                  status error: an empty mask has a well-defined volume, 0 ml)\n"
        "  --format FMT    text (default: aligned columns), csv, tsv or json\n"
        "\n"
        CLI_COMMON_HELP
        "\n"
        "Output, one row (JSON object) per group (x = reference, y = prediction):\n"
        "  n, n_excluded            pairs used; rows left out (status error, non-finite)\n"
        "  slope, intercept         OLS y = intercept + slope x (R lm(y ~ x))\n"
        "  slope_se, intercept_se   their standard errors; slope_p, intercept_p: two-sided\n"
        "                           t-test of coefficient = 0 with n - 2 df\n"
        "  r2                       R^2 of that fit (= Pearson r^2; what papers call R^2)\n"
        "  r2_identity              coefficient of determination of y as a prediction of x:\n"
        "                           1 - sum (y - x)^2 / sum (x - mean x)^2\n"
        "                           (sklearn r2_score(ref, pred)); can be negative\n"
        "  pearson_r, pearson_p     Pearson r and its t-test p (n - 2 df)\n"
        "  pearson_ci_low/high      Fisher-z CI of r (n >= 4)\n"
        "  spearman_rho, spearman_p Spearman rho (average ranks), t-distribution p as scipy\n"
        "  ba_bias, ba_sd           mean and SD (n - 1) of d = y - x\n"
        "  ba_loa_low, ba_loa_high  limits of agreement bias -+ 1.959964 SD\n"
        "  ba_bias_ci_low/high      t-based CI of the bias\n"
        "  ba_loa_low_ci_low/high, ba_loa_high_ci_low/high\n"
        "                           CIs of the limits with SE sqrt(3 SD^2 / n) (Bland &\n"
        "                           Altman 1986, 1999) and the t quantile with n - 1 df\n"
        "A group with fewer than 3 pairs or a constant column gets null / nan values, an\n"
        "error on stderr and exit status 1; the other groups are still written.\n"
        "\n"
        "Conventions and formulas: docs/stats.md.\n"
        "\n"
        "Examples:\n"
        "  panseval volume metrics.csv --model pansegnet --by modality\n"
        "  panseval volume volumes.tsv --ref-col manual_ml --pred-col auto_ml --format json\n",
        f);
}

typedef struct {
    int grp;
    const char *id;
    int64_t row;
} case_key;

static int cmp_case_key(const void *pa, const void *pb)
{
    const case_key *a = pa, *b = pb;
    if (a->grp != b->grp)
        return a->grp < b->grp ? -1 : 1;
    int c = strcmp(a->id, b->id);
    return c ? c : (a->row > b->row) - (a->row < b->row);
}

enum { OPT_REF = CLI_OPT_FIRST_PRIVATE, OPT_PRED, OPT_BY, OPT_MODEL, OPT_LEVEL, OPT_OK_ONLY };

int main_volume(int argc, char **argv)
{
    static const struct option longopts[] = {
        CLI_COMMON_LONGOPTS,
        {"ref-col", required_argument, NULL, OPT_REF},
        {"pred-col", required_argument, NULL, OPT_PRED},
        {"by", required_argument, NULL, OPT_BY},
        {"model", required_argument, NULL, OPT_MODEL},
        {"level", required_argument, NULL, OPT_LEVEL},
        {"ok-only", no_argument, NULL, OPT_OK_ONLY},
        {NULL, 0, NULL, 0},
    };
    cli_common common;
    cli_common_init(&common, PS_FMT_CSV);
    const char *refc = "vol_ref_ml", *predc = "vol_pred_ml", *by = "", *model = NULL;
    double level = 0.95;
    int text = 1, ok_only = 0, c;
    optind = 1;
    while ((c = cli_stats_getopt(CMD, argc, argv, longopts, &common, &text)) != -1) {
        if (c == CLI_GETOPT_ERROR)
            return 2;
        switch (c) {
        case OPT_REF: refc = optarg; break;
        case OPT_PRED: predc = optarg; break;
        case OPT_BY: by = optarg; break;
        case OPT_MODEL: model = optarg; break;
        case OPT_LEVEL:
            if (cli_parse_level(CMD, optarg, &level))
                return 2;
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
    ps_stats_init();

    int rc, status = 0;
    ps_table *t = NULL;
    cli_groups g = {0};
    cli_rtable *rt = NULL;
    unsigned char *use = NULL;
    double *x = NULL, *y = NULL;
    int64_t *nex = NULL;
    case_key *keys = NULL;
    char label[512];
    int cref, cpred, cmodel = -1, cstatus, ccase;
    if ((rc = ps_table_read(argv[optind], &t)))
        goto fail;
    const char *tname = t->path ? t->path : argv[optind];
    if ((rc = ps_table_require_col(t, refc, &cref)) ||
        (rc = ps_table_require_col(t, predc, &cpred)) ||
        (model && (rc = ps_table_require_col(t, "model", &cmodel))))
        goto fail;
    cstatus = ps_table_col(t, "status");
    ccase = ps_table_col(t, "case");

    size_t nr = t->nrows ? (size_t)t->nrows : 1;
    use = ps_calloc(nr, 1);
    x = ps_malloc_array(nr, sizeof *x);
    y = ps_malloc_array(nr, sizeof *y);
    keys = ps_malloc_array(nr, sizeof *keys);
    if (!use || !x || !y || !keys) {
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
    nex = ps_calloc((size_t)g.ngroups, sizeof *nex);
    if (!nex) {
        rc = PS_ERR_NOMEM;
        goto fail;
    }

    /* a case must not appear twice in a group (several models or labels mixed) */
    if (ccase >= 0) {
        size_t m = 0;
        for (int64_t r = 0; r < t->nrows; r++)
            if (g.of_row[r] >= 0)
                keys[m++] = (case_key){g.of_row[r], t->cells[r][ccase], r};
        qsort(keys, m, sizeof *keys, cmp_case_key);
        for (size_t i = 1; i < m; i++)
            if (keys[i].grp == keys[i - 1].grp && !strcmp(keys[i].id, keys[i - 1].id)) {
                rc = ps_error(PS_ERR_ARG,
                              "%s lines %lld and %lld: case '%s' appears twice in group %s; "
                              "select one model with --model, or add model/label to --by",
                              tname, (long long)t->line[keys[i - 1].row],
                              (long long)t->line[keys[i].row], keys[i].id,
                              cli_groups_label(t, &g, keys[i].grp, label, sizeof label));
                goto fail;
            }
    }

    static const char *const stat_cols[] = {
        "n", "n_excluded", "slope", "intercept", "slope_se", "intercept_se", "slope_p",
        "intercept_p", "r2", "r2_identity", "pearson_r", "pearson_p", "pearson_ci_low",
        "pearson_ci_high", "spearman_rho", "spearman_p", "ba_bias", "ba_sd", "ba_loa_low",
        "ba_loa_high", "ba_bias_ci_low", "ba_bias_ci_high", "ba_loa_low_ci_low",
        "ba_loa_low_ci_high", "ba_loa_high_ci_low", "ba_loa_high_ci_high"};
    enum { NSTAT = sizeof stat_cols / sizeof *stat_cols };
    const char *cols[64];
    int ncols = 0;
    for (int k = 0; k < g.nby && ncols < 32; k++)
        cols[ncols++] = g.by[k];
    for (int k = 0; k < NSTAT; k++)
        cols[ncols++] = stat_cols[k];
    if ((rc = cli_rtable_create(ncols, cols, &rt)))
        goto fail;

    for (int k = 0; k < g.ngroups; k++) {
        size_t n = 0;
        int64_t nstatus = 0, nnonfinite = 0;
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
            double xv, yv;
            if ((rc = ps_table_get_double(t, r, cref, &xv)) ||
                (rc = ps_table_get_double(t, r, cpred, &yv)))
                goto fail;
            if (!isfinite(xv) || !isfinite(yv)) {
                nnonfinite++;
                continue;
            }
            x[n] = xv;
            y[n] = yv;
            n++;
        }
        cli_groups_label(t, &g, k, label, sizeof label);
        nex[k] = nstatus + nnonfinite;
        if (nex[k])
            ps_log(&common.ctx, PS_LOG_WARN, "volume %s: %lld row(s) excluded (%lld %s, %lld "
                   "non-finite volume)", label, (long long)nex[k], (long long)nstatus,
                   ok_only ? "status not ok" : "status error", (long long)nnonfinite);
        ps_regression reg = {0};
        ps_correlation cor = {0};
        ps_bland_altman ba = {0};
        int bad = 0;
        if (ps_stats_regression(x, y, n, &reg) || ps_stats_correlation(x, y, n, level, &cor) ||
            ps_stats_bland_altman(x, y, n, level, &ba)) {
            fprintf(stderr, "panseval volume: %s, columns '%s' and '%s': %s\n", label, refc,
                    predc, ps_error_message());
            status = 1;
            bad = 1;
        }
        if ((rc = cli_groups_cells(t, &g, k, rt)) || (rc = cli_rtable_int(rt, (int64_t)n)) ||
            (rc = cli_rtable_int(rt, nex[k])))
            goto fail;
        double v[NSTAT - 2];
        if (bad) {
            for (int q = 0; q < NSTAT - 2; q++)
                v[q] = NAN;
        } else {
            double w[] = {reg.slope, reg.intercept, reg.slope_se, reg.intercept_se, reg.slope_p,
                          reg.intercept_p, reg.r2, reg.r2_identity, cor.r, cor.p, cor.ci_low,
                          cor.ci_high, cor.rho, cor.rho_p, ba.bias, ba.sd, ba.loa_low,
                          ba.loa_high, ba.bias_ci_low, ba.bias_ci_high, ba.loa_low_ci_low,
                          ba.loa_low_ci_high, ba.loa_high_ci_low, ba.loa_high_ci_high};
            memcpy(v, w, sizeof v);
            if (n < 4)
                ps_log(&common.ctx, PS_LOG_WARN, "volume %s: n = %zu < 4, no Fisher-z CI of r",
                       label, n);
        }
        for (int q = 0; q < NSTAT - 2; q++)
            if ((rc = cli_rtable_num(rt, v[q])))
                goto fail;
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
    free(y);
    free(keys);
    free(nex);
    cli_rtable_free(rt);
    cli_groups_free(&g);
    ps_table_free(t);
    return status;
}
