/* cmd_compare.c - `panseval compare`: paired comparison of two models (ps_report_compare). */
#include <stdlib.h>
#include <string.h>

#include "cli_report.h"

static const char *CMD = "compare";

static void usage(FILE *f)
{
    fputs(
        "Usage: panseval compare TABLE... --metric COLS --a MODEL_A --b MODEL_B [--by COLS]\n"
        "                        [--level L] [--alternative two-sided|greater|less]\n"
        "                        [--wilcoxon-zero wilcox|pratt|zsplit]\n"
        "                        [--wilcoxon-convention r|scipy]\n"
        "                        [--wilcoxon-method auto|exact|approx] [--continuity yes|no]\n"
        "                        [--correction holm|bonferroni|bh|none] [--ok-only]\n"
        "                        [--format FMT] [-o FILE]\n"
        "\n"
        "Paired comparison of two models on one or more metrics of a per-case table (the\n"
        "output of `panseval metrics`; CSV or TSV, detected from the header; '-' reads\n"
        "standard input; several tables with the same columns are joined; an nnU-Net\n"
        "summary.json is read as a per-case table, MODEL=FILE naming its model, see\n"
        "docs/nnunet.md). Rows of model A and model B are paired by case (and label, when\n"
        "the table has a label column); differences are d = A - B. Per group of --by values\n"
        "and metric it reports the paired t-test, the Wilcoxon signed-rank test and Cohen's\n"
        "d_z, and corrects the p-values across all groups and metrics together.\n"
        "\n"
        "Which pairs enter (the rule of every table command, docs/stats.md): a pair enters a\n"
        "metric when both rows have a finite value of it. Rows with status error or missing\n"
        "never enter; NaN or empty values (e.g. HD95 of an empty prediction under --empty nan)\n"
        "and +-inf are left out; Dice of an empty prediction is 0 and counts. A case present\n"
        "for one model only is left out as unpaired. Each left-out pair is counted by the\n"
        "reason of model A's row, else model B's.\n"
        "\n"
        "Options:\n"
        "  --metric COLS       metric column(s) to compare, comma-separated, e.g. dice or\n"
        "                      dice,hd95 (required)\n"
        "  --a MODEL_A         value of the model column for model A (required)\n"
        "  --b MODEL_B         value of the model column for model B (required)\n"
        "  --by COLS           comma-separated grouping columns, any column of the table,\n"
        "                      e.g. modality,center or subject or meta:site (default: one group)\n"
        "  --level L           confidence level of the CI of the mean difference (0.95)\n"
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
        "  --correction C      p-value correction across every output row: holm (default),\n"
        "                      bonferroni, bh (Benjamini-Hochberg) or none; as R's p.adjust\n"
        "  --ok-only           also leave out rows whose status is not ok (pred_empty,\n"
        "                      ref_empty, both_empty), counted as not_ok\n"
        "\n"
        CLI_REPORT_HELP
        "\n"
        "Output, one row (JSON object) per group and metric:\n"
        "  <by columns>, metric, model_a, model_b\n"
        "  n                   pairs used\n"
        "  n_excluded          pairs (and unpaired cases) of the group left out\n"
        "  mean_a, mean_b      means of the two models over the n pairs\n"
        "  mean_diff, sd_diff  mean and SD (n - 1) of d = A - B\n"
        "  t, df, p_t          paired t-test (R t.test(a, b, paired = TRUE))\n"
        "  ci_low, ci_high     CI of the mean difference at --level\n"
        "  dz                  Cohen's d_z = mean_diff / sd_diff\n"
        "  wilcoxon_v          V = sum of the ranks of positive differences (R's V)\n"
        "  p_wilcoxon          Wilcoxon signed-rank p-value\n"
        "  wilcoxon_exact      1 if the exact null distribution was used, 0 if normal\n"
        "  p_t_adj, p_wilcoxon_adj  p-values corrected across all rows (--correction)\n"
        "  excl_nan, excl_inf, excl_error, excl_missing, excl_not_ok, excl_unpaired\n"
        "                      why pairs were left out (csv, tsv, json; stderr says it too)\n"
        "A test that is undefined for a row (the t-test with fewer than 2 pairs or all\n"
        "differences equal; Wilcoxon with no non-zero difference) gets empty (CSV) / null\n"
        "(JSON) / nan (text) cells and an error on stderr; the other test is still given.\n"
        "\n"
        CLI_REPORT_EXIT
        "Conventions and formulas: docs/stats.md.\n"
        "\n"
        "Examples:\n"
        "  panseval compare metrics.csv --metric dice --a nnunet --b pansegnet --by modality\n"
        "  panseval compare metrics.csv --metric dice,hd95 --a A --b B --by modality,center \\\n"
        "      --correction bh --format json -o compare.json\n",
        f);
}

enum {
    OPT_METRIC = CLI_OPT_FIRST_PRIVATE, OPT_A, OPT_B, OPT_BY, OPT_LEVEL, OPT_ALTERNATIVE,
    OPT_WZERO, OPT_WCONV, OPT_WMETHOD, OPT_CONTINUITY, OPT_CORRECTION, OPT_OK_ONLY,
};

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
        {"ok-only", no_argument, NULL, OPT_OK_ONLY},
        {NULL, 0, NULL, 0},
    };
    cli_common common;
    cli_common_init(&common, PS_TABLE_CSV);
    common.uses = CLI_REPORT_USES;
    ps_compare_options o;
    ps_compare_options_init(&o);
    ps_report_format fmt = PS_REPORT_TEXT;
    const char *metric = NULL, *by = "", *zero = NULL, *conv = "r", *wmethod = NULL,
               *continuity = NULL;
    int c;
    while ((c = cli_getopt(&common, CMD, argc, argv, "", longopts)) != -1) {
        switch (c) {
        case CLI_GETOPT_ERROR: return 2;
        case OPT_METRIC: metric = optarg; break;
        case OPT_A: o.model_a = optarg; break;
        case OPT_B: o.model_b = optarg; break;
        case OPT_BY: by = optarg; break;
        case OPT_LEVEL:
            if (cli_parse_level(CMD, optarg, &o.level))
                return 2;
            break;
        case OPT_ALTERNATIVE:
            if (!strcmp(optarg, "two-sided"))
                o.alternative = PS_ALT_TWO_SIDED;
            else if (!strcmp(optarg, "greater"))
                o.alternative = PS_ALT_GREATER;
            else if (!strcmp(optarg, "less"))
                o.alternative = PS_ALT_LESS;
            else
                return cli_usage_error(CMD, "--alternative must be two-sided, greater or less, "
                                            "got '%s'", optarg);
            break;
        case OPT_WZERO: zero = optarg; break;
        case OPT_WCONV: conv = optarg; break;
        case OPT_WMETHOD: wmethod = optarg; break;
        case OPT_CONTINUITY: continuity = optarg; break;
        case OPT_CORRECTION:
            if (ps_padjust_method_parse(optarg, &o.correction))
                return cli_usage_error(CMD, "%s", ps_error_message());
            break;
        case OPT_OK_ONLY: o.ok_only = 1; break;
        default: return cli_unknown_option(&common);
        }
    }
    if (common.help) {
        usage(stdout);
        return 0;
    }
    fmt = cli_report_format(&common);
    if (optind >= argc)
        return cli_usage_error(CMD, "missing TABLE");
    if (!metric || !o.model_a || !o.model_b)
        return cli_usage_error(CMD, "--metric, --a and --b are required");
    if (!strcmp(o.model_a, o.model_b))
        return cli_usage_error(CMD, "--a and --b name the same model '%s'", o.model_a);
    if (ps_compare_wilcoxon_options(conv, zero, wmethod, continuity, &o.wilcoxon))
        return cli_usage_error(CMD, "%s", ps_error_message());
    ps_stats_init();

    char *mcopy = NULL, *bcopy = NULL, **mitems = NULL, **bitems = NULL;
    int status, nby = 0, nmet = 0;
    if (!(status = cli_report_list(CMD, "--metric", metric, 0, &mcopy, &mitems, &nmet)) &&
        !(status = cli_report_list(CMD, "--by", by, 1, &bcopy, &bitems, &nby))) {
        o.metrics = (const char *const *)mitems;
        o.nmetrics = nmet;
        o.by = (const char *const *)bitems;
        o.nby = nby;
        ps_table *t = NULL;
        ps_rtable *rt = NULL;
        int rc = ps_report_load((const char *const *)argv + optind, argc - optind, &t);
        rc = rc ? rc : ps_report_compare(t, &o, &rt);
        status = cli_report_finish(CMD, &common, rc, rt, fmt);
        ps_rtable_free(rt);
        ps_table_free(t);
    }
    free(mcopy);
    free(bcopy);
    free(mitems);
    free(bitems);
    return status;
}
