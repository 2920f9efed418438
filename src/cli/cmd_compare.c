/* cmd_compare.c - `panseval compare`: paired comparison of two models on one metric, per
 * group: paired t-test, Wilcoxon signed-rank test, Cohen's d_z, corrected p-values. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "cli_stats.h"
#include "ps_stats.h"

static const char *CMD = "compare";

static void usage(FILE *f)
{
    fputs(
        "Usage: panseval compare TABLE --metric COL --a MODEL_A --b MODEL_B [--by COLS]\n"
        "                        [--level L] [--alternative two-sided|greater|less]\n"
        "                        [--wilcoxon-zero wilcox|pratt|zsplit]\n"
        "                        [--wilcoxon-convention r|scipy]\n"
        "                        [--wilcoxon-method auto|exact|approx]\n"
        "                        [--continuity yes|no]\n"
        "                        [--correction holm|bonferroni|bh|none]\n"
        "                        [--include-empty] [--format FMT] [-o FILE]\n"
        "\n"
        "Paired comparison of two models on one metric of a per-case table (the output of\n"
        "`panseval metrics`; CSV or TSV, detected from the header; '-' reads standard input).\n"
        "Rows of model A and model B are paired by case (and label, when the table has a\n"
        "label column); differences are d = A - B. Per group of --by values it reports the\n"
        "paired t-test, the Wilcoxon signed-rank test and Cohen's d_z, and corrects the\n"
        "p-values across groups.\n"
        "\n"
        "Options:\n"
        "  --metric COL        metric column to compare, e.g. dice, hd95, nsd (required)\n"
        "  --a MODEL_A         value of the model column for model A (required)\n"
        "  --b MODEL_B         value of the model column for model B (required)\n"
        "  --by COLS           comma-separated grouping columns, e.g. modality,center\n"
        "                      (default: none, one group)\n"
        "  --level L           confidence level of the CI of the mean difference\n"
        "                      (default 0.95)\n"
        "  --alternative H1    two-sided (default), greater (A > B) or less (A < B); applies\n"
        "                      to p_t and p_wilcoxon (the CI stays two-sided)\n"
        "  --wilcoxon-convention r|scipy\n"
        "                      defaults of R's wilcox.test (r, the default: exact null\n"
        "                      distribution when n < 50 with no ties and no zeros, otherwise\n"
        "                      the normal approximation with tie and continuity correction)\n"
        "                      or of scipy.stats.wilcoxon 1.10 (scipy: exact when len(d) <= 50\n"
        "                      and no zeros, ties evaluated at floor(V) as scipy does; no\n"
        "                      continuity correction)\n"
        "  --wilcoxon-zero Z   zero differences: wilcox (drop them; default), pratt (rank\n"
        "                      them, then drop their ranks) or zsplit (split their ranks)\n"
        "  --wilcoxon-method M auto (the convention's rule; default), exact or approx\n"
        "  --continuity yes|no continuity correction of the normal approximation\n"
        "                      (default: yes with r, no with scipy)\n"
        "  --correction C      p-value correction across groups: holm (default), bonferroni,\n"
        "                      bh (Benjamini-Hochberg) or none; as R's p.adjust\n"
        "  --include-empty     keep rows whose status is pred_empty, ref_empty or both_empty\n"
        "                      (default: only status ok enters the tests)\n"
        "  --format FMT        text (default: aligned columns), csv, tsv or json\n"
        "\n"
        CLI_COMMON_HELP
        "\n"
        "Output, one row (JSON object) per group:\n"
        "  <by columns>        the group\n"
        "  metric, model_a, model_b\n"
        "  n                   pairs used\n"
        "  n_excluded          cases of the group left out (status not ok, a non-finite\n"
        "                      value, or a case present for only one model); stderr says why\n"
        "  mean_a, mean_b      means of the two models over the n pairs\n"
        "  mean_diff, sd_diff  mean and SD (n - 1) of d = A - B\n"
        "  t, df, p_t          paired t-test (R t.test(a, b, paired = TRUE))\n"
        "  ci_low, ci_high     CI of the mean difference at --level\n"
        "  dz                  Cohen's d_z = mean_diff / sd_diff\n"
        "  wilcoxon_v          V = sum of the ranks of positive differences (R's V)\n"
        "  p_wilcoxon          Wilcoxon signed-rank p-value\n"
        "  wilcoxon_exact      1 if the exact null distribution was used, 0 if normal\n"
        "  p_t_adj, p_wilcoxon_adj  p-values corrected across groups (--correction)\n"
        "A group where a statistic is undefined (fewer than 2 pairs, all differences equal)\n"
        "gets empty (CSV) / null (JSON) / nan (text) values, an error on stderr, and exit\n"
        "status 1; the other groups are still written.\n"
        "\n"
        "Conventions and formulas: docs/stats.md.\n"
        "\n"
        "Examples:\n"
        "  panseval compare metrics.csv --metric dice --a nnunet --b pansegnet --by modality\n"
        "  panseval compare metrics.csv --metric hd95 --a A --b B --by modality,center \\\n"
        "      --correction bh --format json -o compare.json\n",
        f);
}

enum {
    OPT_METRIC = CLI_OPT_FIRST_PRIVATE,
    OPT_A,
    OPT_B,
    OPT_BY,
    OPT_LEVEL,
    OPT_ALTERNATIVE,
    OPT_WZERO,
    OPT_WCONV,
    OPT_WMETHOD,
    OPT_CONTINUITY,
    OPT_CORRECTION,
    OPT_INCLUDE_EMPTY,
};

/* One case of one model. */
typedef struct {
    const char *key_case, *key_label;
    int64_t row;
} entry;

static int cmp_entry(const void *pa, const void *pb)
{
    const entry *a = pa, *b = pb;
    int c = strcmp(a->key_case, b->key_case);
    if (!c)
        c = strcmp(a->key_label, b->key_label);
    return c;
}

/* Why a case is left out (indices into the counters of a group). */
enum { EX_STATUS = 0, EX_NONFINITE, EX_ONLY_A, EX_ONLY_B, EX_N };
static const char *const ex_names[EX_N] = {"status not ok", "non-finite value",
                                           "only in model A", "only in model B"};

typedef struct {
    int64_t n, excluded[EX_N];
    double *a, *b;
    char first_unpaired[128];
} group_data;

static int pick_alt(ps_alternative alt, double two, double greater, double less, double *p)
{
    *p = alt == PS_ALT_TWO_SIDED ? two : alt == PS_ALT_GREATER ? greater : less;
    return 0;
}

int main_compare(int argc, char **argv)
{
    static const struct option longopts[] = {
        CLI_COMMON_LONGOPTS,
        {"metric", required_argument, NULL, OPT_METRIC},
        {"a", required_argument, NULL, OPT_A},
        {"b", required_argument, NULL, OPT_B},
        {"by", required_argument, NULL, OPT_BY},
        {"level", required_argument, NULL, OPT_LEVEL},
        {"alternative", required_argument, NULL, OPT_ALTERNATIVE},
        {"wilcoxon-zero", required_argument, NULL, OPT_WZERO},
        {"wilcoxon-convention", required_argument, NULL, OPT_WCONV},
        {"wilcoxon-method", required_argument, NULL, OPT_WMETHOD},
        {"continuity", required_argument, NULL, OPT_CONTINUITY},
        {"correction", required_argument, NULL, OPT_CORRECTION},
        {"include-empty", no_argument, NULL, OPT_INCLUDE_EMPTY},
        {NULL, 0, NULL, 0},
    };
    cli_common common;
    cli_common_init(&common, PS_FMT_CSV);
    const char *metric = NULL, *ma = NULL, *mb = NULL, *by = "";
    const char *zero = "wilcox", *conv = "r", *wmethod = "auto", *continuity = NULL;
    double level = 0.95;
    ps_alternative alt = PS_ALT_TWO_SIDED;
    ps_padjust_method corr = PS_PADJUST_HOLM;
    int text = 1, include_empty = 0, c;
    optind = 1;
    while ((c = cli_stats_getopt(CMD, argc, argv, longopts, &common, &text)) != -1) {
        if (c == CLI_GETOPT_ERROR)
            return 2;
        switch (c) {
        case OPT_METRIC: metric = optarg; break;
        case OPT_A: ma = optarg; break;
        case OPT_B: mb = optarg; break;
        case OPT_BY: by = optarg; break;
        case OPT_LEVEL:
            if (cli_parse_level(CMD, optarg, &level))
                return 2;
            break;
        case OPT_ALTERNATIVE:
            if (!strcmp(optarg, "two-sided"))
                alt = PS_ALT_TWO_SIDED;
            else if (!strcmp(optarg, "greater"))
                alt = PS_ALT_GREATER;
            else if (!strcmp(optarg, "less"))
                alt = PS_ALT_LESS;
            else
                return cli_usage_error(CMD, "--alternative must be two-sided, greater or less, "
                                            "got '%s'", optarg);
            break;
        case OPT_WZERO: zero = optarg; break;
        case OPT_WCONV: conv = optarg; break;
        case OPT_WMETHOD: wmethod = optarg; break;
        case OPT_CONTINUITY: continuity = optarg; break;
        case OPT_CORRECTION:
            if (ps_padjust_method_parse(optarg, &corr))
                return cli_usage_error(CMD, "%s", ps_error_message());
            break;
        case OPT_INCLUDE_EMPTY: include_empty = 1; break;
        default: return cli_usage_error(CMD, "unknown option");
        }
    }
    if (common.help) {
        usage(stdout);
        return 0;
    }
    if (optind != argc - 1)
        return cli_usage_error(CMD, optind >= argc ? "missing TABLE" : "give exactly one TABLE");
    if (!metric || !ma || !mb)
        return cli_usage_error(CMD, "--metric, --a and --b are required");
    if (!strcmp(ma, mb))
        return cli_usage_error(CMD, "--a and --b name the same model '%s'", ma);

    ps_wilcoxon_options wo;
    if (!strcmp(conv, "r"))
        ps_wilcoxon_options_r(&wo);
    else if (!strcmp(conv, "scipy"))
        ps_wilcoxon_options_scipy(&wo);
    else
        return cli_usage_error(CMD, "--wilcoxon-convention must be r or scipy, got '%s'", conv);
    if (!strcmp(zero, "wilcox"))
        wo.zero = PS_WILCOXON_ZERO_WILCOX;
    else if (!strcmp(zero, "pratt"))
        wo.zero = PS_WILCOXON_ZERO_PRATT;
    else if (!strcmp(zero, "zsplit"))
        wo.zero = PS_WILCOXON_ZERO_ZSPLIT;
    else
        return cli_usage_error(CMD, "--wilcoxon-zero must be wilcox, pratt or zsplit, got '%s'",
                               zero);
    if (!strcmp(wmethod, "exact"))
        wo.method = PS_WILCOXON_EXACT;
    else if (!strcmp(wmethod, "approx"))
        wo.method = PS_WILCOXON_APPROX;
    else if (strcmp(wmethod, "auto"))
        return cli_usage_error(CMD, "--wilcoxon-method must be auto, exact or approx, got '%s'",
                               wmethod);
    if (continuity) {
        if (!strcmp(continuity, "yes"))
            wo.correction = 1;
        else if (!strcmp(continuity, "no"))
            wo.correction = 0;
        else
            return cli_usage_error(CMD, "--continuity must be yes or no, got '%s'", continuity);
    }
    ps_stats_init();

    int rc, status = 0;
    ps_table *t = NULL;
    cli_groups g = {0};
    cli_rtable *rt = NULL;
    unsigned char *use = NULL;
    entry *ea = NULL, *eb = NULL;
    group_data *gd = NULL;
    double *pt = NULL, *pw = NULL, *pta = NULL, *pwa = NULL;
    ps_ttest_paired *tt = NULL;
    ps_wilcoxon *wx = NULL;
    int *ok = NULL;
    char label[512];

    int cm, ccase, cmodel, clabel, cstatus;
    if ((rc = ps_table_read(argv[optind], &t)))
        goto fail;
    const char *tname = t->path ? t->path : argv[optind];
    if ((rc = ps_table_require_col(t, metric, &cm)) ||
        (rc = ps_table_require_col(t, "case", &ccase)) ||
        (rc = ps_table_require_col(t, "model", &cmodel)))
        goto fail;
    clabel = ps_table_col(t, "label");
    cstatus = ps_table_col(t, "status");

    /* rows of the two models, sorted by (case, label) to pair them */
    size_t nr = t->nrows ? (size_t)t->nrows : 1, na = 0, nb = 0;
    use = ps_calloc(nr, 1);
    ea = ps_malloc_array(nr, sizeof *ea);
    eb = ps_malloc_array(nr, sizeof *eb);
    if (!use || !ea || !eb) {
        rc = PS_ERR_NOMEM;
        goto fail;
    }
    for (int64_t r = 0; r < t->nrows; r++) {
        const char *m = t->cells[r][cmodel];
        int isa = !strcmp(m, ma), isb = !strcmp(m, mb);
        if (!isa && !isb)
            continue;
        use[r] = 1;
        entry e = {t->cells[r][ccase], clabel >= 0 ? t->cells[r][clabel] : "", r};
        if (isa)
            ea[na++] = e;
        else
            eb[nb++] = e;
    }
    if (na == 0 || nb == 0) {
        rc = ps_error(PS_ERR_ARG, "%s: no rows with model '%s' (column 'model')", tname,
                      na == 0 ? ma : mb);
        goto fail;
    }
    qsort(ea, na, sizeof *ea, cmp_entry);
    qsort(eb, nb, sizeof *eb, cmp_entry);
    for (int s = 0; s < 2; s++) {
        entry *e = s ? eb : ea;
        size_t n = s ? nb : na;
        for (size_t i = 1; i < n; i++)
            if (!cmp_entry(&e[i - 1], &e[i])) {
                rc = ps_error(PS_ERR_FORMAT,
                              "%s lines %lld and %lld: case '%s'%s%s appears twice for model "
                              "'%s'", tname, (long long)t->line[e[i - 1].row],
                              (long long)t->line[e[i].row], e[i].key_case,
                              clabel >= 0 ? " label " : "", e[i].key_label, s ? mb : ma);
                goto fail;
            }
    }
    if ((rc = cli_groups_build(t, by, use, &g)))
        goto fail;
    gd = ps_calloc((size_t)g.ngroups, sizeof *gd);
    if (!gd) {
        rc = PS_ERR_NOMEM;
        goto fail;
    }
    for (int k = 0; k < g.ngroups; k++) {
        gd[k].a = ps_malloc_array(na, sizeof(double));
        gd[k].b = ps_malloc_array(na, sizeof(double));
        if (!gd[k].a || !gd[k].b) {
            rc = PS_ERR_NOMEM;
            goto fail;
        }
    }

    /* merge the two sorted lists */
    size_t i = 0, j = 0;
    while (i < na || j < nb) {
        int d = i == na ? 1 : j == nb ? -1 : cmp_entry(&ea[i], &eb[j]);
        if (d != 0) {
            const entry *e = d < 0 ? &ea[i++] : &eb[j++];
            group_data *G = &gd[g.of_row[e->row]];
            G->excluded[d < 0 ? EX_ONLY_A : EX_ONLY_B]++;
            if (!G->first_unpaired[0])
                snprintf(G->first_unpaired, sizeof G->first_unpaired, "%s (line %lld)",
                         e->key_case, (long long)t->line[e->row]);
            continue;
        }
        int64_t ra = ea[i++].row, rb = eb[j++].row;
        if (g.of_row[ra] != g.of_row[rb]) {
            int k;
            for (k = 0; k < g.nby; k++)
                if (strcmp(t->cells[ra][g.col[k]], t->cells[rb][g.col[k]]))
                    break;
            rc = ps_error(PS_ERR_FORMAT,
                          "%s: case '%s' has %s '%s' for model '%s' (line %lld) but '%s' for "
                          "model '%s' (line %lld)", tname, t->cells[ra][ccase], g.by[k],
                          t->cells[ra][g.col[k]], ma, (long long)t->line[ra],
                          t->cells[rb][g.col[k]], mb, (long long)t->line[rb]);
            goto fail;
        }
        group_data *G = &gd[g.of_row[ra]];
        int bad_status = 0;
        if (cstatus >= 0)
            for (int s = 0; s < 2; s++) {
                const char *st = t->cells[s ? rb : ra][cstatus];
                if (strcmp(st, "ok") &&
                    !(include_empty && (!strcmp(st, "pred_empty") || !strcmp(st, "ref_empty") ||
                                        !strcmp(st, "both_empty"))))
                    bad_status = 1;
            }
        if (bad_status) {
            G->excluded[EX_STATUS]++;
            continue;
        }
        double va, vb;
        if ((rc = ps_table_get_double(t, ra, cm, &va)) ||
            (rc = ps_table_get_double(t, rb, cm, &vb)))
            goto fail;
        if (!isfinite(va) || !isfinite(vb)) {
            G->excluded[EX_NONFINITE]++;
            continue;
        }
        G->a[G->n] = va;
        G->b[G->n] = vb;
        G->n++;
    }

    /* statistics per group */
    size_t ng = (size_t)g.ngroups;
    pt = ps_malloc_array(ng, sizeof *pt);
    pw = ps_malloc_array(ng, sizeof *pw);
    pta = ps_malloc_array(ng, sizeof *pta);
    pwa = ps_malloc_array(ng, sizeof *pwa);
    tt = ps_calloc(ng, sizeof *tt);
    wx = ps_calloc(ng, sizeof *wx);
    ok = ps_calloc(ng, sizeof *ok);
    if (!pt || !pw || !pta || !pwa || !tt || !wx || !ok) {
        rc = PS_ERR_NOMEM;
        goto fail;
    }
    for (int k = 0; k < g.ngroups; k++) {
        group_data *G = &gd[k];
        cli_groups_label(t, &g, k, label, sizeof label);
        int64_t nex = 0;
        for (int e = 0; e < EX_N; e++)
            nex += G->excluded[e];
        if (nex) {
            char why[512];
            size_t used = 0;
            why[0] = 0;
            for (int e = 0; e < EX_N; e++)
                if (G->excluded[e])
                    used += (size_t)snprintf(why + used, sizeof why - used, "%s%lld %s",
                                             used ? ", " : "", (long long)G->excluded[e],
                                             ex_names[e]);
            ps_log(&common.ctx, PS_LOG_WARN, "compare %s: %lld case(s) excluded (%s)%s%s", label,
                   (long long)nex, why, G->first_unpaired[0] ? "; first unpaired: " : "",
                   G->first_unpaired);
        }
        pt[k] = pw[k] = NAN;
        int r1 = ps_stats_ttest_paired(G->a, G->b, (size_t)G->n, level, &tt[k]);
        if (r1) {
            fprintf(stderr, "panseval compare: %s, column '%s': %s\n", label, metric,
                    ps_error_message());
            status = 1;
            continue;
        }
        int r2 = ps_stats_wilcoxon(G->a, G->b, (size_t)G->n, &wo, &wx[k]);
        if (r2) {
            fprintf(stderr, "panseval compare: %s, column '%s': %s\n", label, metric,
                    ps_error_message());
            status = 1;
            continue;
        }
        ok[k] = 1;
        pick_alt(alt, tt[k].p_two_sided, tt[k].p_greater, tt[k].p_less, &pt[k]);
        pick_alt(alt, wx[k].p_two_sided, wx[k].p_greater, wx[k].p_less, &pw[k]);
    }
    if ((rc = ps_stats_padjust(pt, ng, corr, pta)) || (rc = ps_stats_padjust(pw, ng, corr, pwa)))
        goto fail;

    static const char *const stat_cols[] = {
        "metric", "model_a", "model_b", "n", "n_excluded", "mean_a", "mean_b", "mean_diff",
        "sd_diff", "t", "df", "p_t", "ci_low", "ci_high", "dz", "wilcoxon_v", "p_wilcoxon",
        "wilcoxon_exact", "p_t_adj", "p_wilcoxon_adj"};
    enum { NSTAT = sizeof stat_cols / sizeof *stat_cols };
    const char *cols[64];
    int ncols = 0;
    for (int k = 0; k < g.nby && ncols < 32; k++)
        cols[ncols++] = g.by[k];
    for (int k = 0; k < NSTAT; k++)
        cols[ncols++] = stat_cols[k];
    if ((rc = cli_rtable_create(ncols, cols, &rt)))
        goto fail;
    for (int k = 0; k < g.ngroups && !rc; k++) {
        group_data *G = &gd[k];
        int64_t nex = 0;
        for (int e = 0; e < EX_N; e++)
            nex += G->excluded[e];
        double ma_ = NAN, mb_ = NAN;
        if (G->n > 0) {
            ps_stats_summary sa, sb;
            if ((rc = ps_stats_describe(G->a, (size_t)G->n, 0.95, NULL, &sa)) ||
                (rc = ps_stats_describe(G->b, (size_t)G->n, 0.95, NULL, &sb)))
                break;
            ma_ = sa.mean, mb_ = sb.mean;
        }
        const ps_ttest_paired *T = &tt[k];
        const ps_wilcoxon *W = &wx[k];
        double v[] = {ma_, mb_,
                      ok[k] ? T->mean_diff : NAN, ok[k] ? T->sd_diff : NAN, ok[k] ? T->t : NAN,
                      ok[k] ? T->df : NAN, pt[k], ok[k] ? T->ci_low : NAN,
                      ok[k] ? T->ci_high : NAN, ok[k] ? T->dz : NAN, ok[k] ? W->v : NAN, pw[k]};
        rc = cli_groups_cells(t, &g, k, rt);
        rc = rc ? rc : cli_rtable_str(rt, metric);
        rc = rc ? rc : cli_rtable_str(rt, ma);
        rc = rc ? rc : cli_rtable_str(rt, mb);
        rc = rc ? rc : cli_rtable_int(rt, G->n);
        rc = rc ? rc : cli_rtable_int(rt, nex);
        for (size_t q = 0; q < sizeof v / sizeof *v && !rc; q++)
            rc = cli_rtable_num(rt, v[q]);
        rc = rc ? rc : ok[k] ? cli_rtable_int(rt, W->exact) : cli_rtable_num(rt, NAN);
        rc = rc ? rc : cli_rtable_num(rt, pta[k]);
        rc = rc ? rc : cli_rtable_num(rt, pwa[k]);
    }
    if (rc)
        goto fail;
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
    if (gd)
        for (int k = 0; k < g.ngroups; k++) {
            free(gd[k].a);
            free(gd[k].b);
        }
    free(gd);
    free(pt);
    free(pw);
    free(pta);
    free(pwa);
    free(tt);
    free(wx);
    free(ok);
    free(use);
    free(ea);
    free(eb);
    cli_rtable_free(rt);
    cli_groups_free(&g);
    ps_table_free(t);
    return status;
}
