/* cmd_kappa.c - `panseval kappa`: agreement of raters on categorical ratings
 * (Cohen's kappa for two raters; pairwise Cohen, Fleiss, Light and Krippendorff for more).
 * Formulas and conventions: docs/agreement.md. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "cli_stats.h"
#include "ps_stats.h"

static const char *CMD = "kappa";

static void usage(FILE *f)
{
    fputs("Usage: panseval kappa TABLE --raters COL1,COL2[,COL3...] [--weights W] [--level L]\n"
          "                      [--alpha-metric M] [--format FMT] [-o FILE]\n"
          "\n"
          "Agreement of raters who put each subject into one of a set of categories.\n"
          "TABLE is CSV or TSV (detected from the header; '-' reads standard input) with one row\n"
          "per subject and one column per rater.\n"
          "\n"
          "Categories are the union of the values found in the rater columns. When every value\n"
          "is a number they are ordered numerically (2 < 10; \"1\" and \"1.0\" are the same\n"
          "category), otherwise as text. An empty cell, NA or nan is a missing rating.\n"
          "\n"
          "Two raters: Cohen's kappa with its asymptotic standard error (Fleiss, Cohen & Everitt\n"
          "1969), the standard error under kappa = 0, z = kappa / se0, the two-sided normal\n"
          "p-value and the confidence interval kappa -+ z_(1+L)/2 se, as SAS PROC FREQ and\n"
          "statsmodels' cohens_kappa compute them.\n"
          "\n"
          "Three or more raters: Cohen's kappa for every pair of raters, and\n"
          "  Fleiss' kappa (Fleiss 1971) with its SE under kappa = 0, z and p (Fleiss, Nee &\n"
          "    Landis 1979; R irr::kappam.fleiss),\n"
          "  Light's kappa: the mean of the pairwise unweighted Cohen's kappas (Light 1971),\n"
          "  Krippendorff's alpha (Krippendorff 2011) with the metric of --alpha-metric.\n"
          "\n"
          "Missing ratings: kappa statistics use only the rows where every listed rater gave a\n"
          "rating; the number of dropped rows is reported. Krippendorff's alpha uses every\n"
          "subject with at least two ratings.\n"
          "\n"
          "Options:\n"
          "  --raters COLS       rater columns, comma-separated (at least 2; required)\n"
          "  --weights W         none (default), linear (1 - |i-j|/(k-1)) or quadratic\n"
          "                      (1 - (i-j)^2/(k-1)^2), i, j = category positions 0..k-1;\n"
          "                      applies to Cohen's kappa (Fleiss' and Light's are unweighted)\n"
          "  --level L           confidence level of the interval (default 0.95)\n"
          "  --alpha-metric M    nominal (default), ordinal, interval or ratio; interval and\n"
          "                      ratio need numeric ratings\n"
          "  --format FMT        text (default: aligned columns), csv, tsv or json with the\n"
          "                      columns rater1, rater2, weights, n, dropped, kappa, se, se0, z,\n"
          "                      p, ci_low, ci_high and, for 3 or more raters, fleiss_kappa,\n"
          "                      fleiss_se0, fleiss_z, fleiss_p, light_kappa, alpha_metric,\n"
          "                      krippendorff_alpha (the same on every row)\n"
          "  -o, --output FILE   write to FILE (atomically); default: standard output\n"
          "  -q, --quiet         errors only (no note about dropped rows)\n"
          "  -h, --help          this text\n"
          "\n"
          "At most 1000 categories are accepted (numeric measurements belong to 'panseval icc').\n"
          "Undefined statistics are errors: e.g. when both raters used a single category. A rater\n"
          "who used one category gets kappa 0 with z and p reported as nan (the SE under\n"
          "kappa = 0 is 0). Numbers in csv/tsv/json are written with 17 significant digits.\n"
          "\n"
          "Exit status: 0 success, 1 bad input or undefined statistic, 2 usage error.\n"
          "\n"
          "Examples:\n"
          "  panseval kappa grades.csv --raters reader1,reader2 --weights quadratic\n"
          "  panseval kappa grades.csv --raters r1,r2,r3,r4 --format json -o kappa.json\n"
          "\n"
          "Formulas and sources: docs/agreement.md.\n",
          f);
}

enum { OPT_RATERS = CLI_OPT_FIRST_PRIVATE, OPT_WEIGHTS, OPT_LEVEL, OPT_ALPHA_METRIC };
enum { MAX_CATEGORIES = 1000 };

/* The data of one run, shared by the writers. */
typedef struct kappa_run {
    const ps_table *t;
    int m;                     /* raters                                   */
    const int *col;            /* their columns                            */
    int64_t n_used, dropped;
    const ps_agree_labels *labels;
    ps_kappa_weights weights;
    double level;
    int npairs;
    int *pair_a, *pair_b;
    ps_kappa_cohen_result *pairs;
    ps_kappa_fleiss_result fleiss;
    double light;
    ps_alpha_metric metric;
    ps_kripp_alpha alpha;
} kappa_run;

static int write_table(const kappa_run *r, FILE *f, ps_table_format fmt)
{
    static const char *cols[] = {"rater1", "rater2", "weights", "n", "dropped", "kappa", "se",
                                 "se0", "z", "p", "ci_low", "ci_high", "fleiss_kappa",
                                 "fleiss_se0", "fleiss_z", "fleiss_p", "light_kappa",
                                 "alpha_metric", "krippendorff_alpha"};
    int ncols = r->m >= 3 ? 19 : 12;
    ps_table_writer *w;
    int rc = ps_table_writer_create(f, fmt, ncols, cols, &w);
    if (rc)
        return rc;
    for (int p = 0; p < r->npairs && !rc; p++) {
        const ps_kappa_cohen_result *k = &r->pairs[p];
        rc = ps_table_writer_str(w, r->t->colnames[r->col[r->pair_a[p]]]);
        rc = rc ? rc : ps_table_writer_str(w, r->t->colnames[r->col[r->pair_b[p]]]);
        rc = rc ? rc : ps_table_writer_str(w, ps_kappa_weights_name(r->weights));
        rc = rc ? rc : ps_table_writer_int(w, r->n_used);
        rc = rc ? rc : ps_table_writer_int(w, r->dropped);
        const double v[7] = {k->kappa, k->se, k->se0, k->z, k->p, k->ci_low, k->ci_high};
        for (int i = 0; i < 7 && !rc; i++)
            rc = ps_table_writer_num(w, v[i]);
        if (r->m >= 3) {
            const double u[5] = {r->fleiss.kappa, r->fleiss.se0, r->fleiss.z, r->fleiss.p,
                                 r->light};
            for (int i = 0; i < 5 && !rc; i++)
                rc = ps_table_writer_num(w, u[i]);
            rc = rc ? rc : ps_table_writer_str(w, ps_alpha_metric_name(r->metric));
            rc = rc ? rc : ps_table_writer_num(w, r->alpha.alpha);
        }
        rc = rc ? rc : ps_table_writer_end_row(w);
    }
    int rc2 = ps_table_writer_finish(w);
    return rc ? rc : rc2;
}

static void fmt_num(char *buf, size_t len, double x, const char *f)
{
    if (isnan(x))
        snprintf(buf, len, "nan");
    else
        snprintf(buf, len, f, x);
}

static int write_text(const kappa_run *r, FILE *f)
{
    fprintf(f, "%s, weights: %s, %g%% confidence intervals\n",
            r->m == 2 ? "Cohen's kappa" : "Pairwise Cohen's kappa",
            ps_kappa_weights_name(r->weights), 100 * r->level);
    fprintf(f, "%lld subjects rated by every rater (%lld rows dropped for a missing rating); "
               "%d categories:", (long long)r->n_used, (long long)r->dropped, r->labels->ncat);
    for (int c = 0; c < r->labels->ncat; c++)
        fprintf(f, " %s", r->labels->names[c]);
    fputs("\n\n", f);

    /* aligned table: a header and one row per pair */
    enum { NC = 10 };
    static const char *hdr[NC] = {"rater1", "rater2", "kappa", "se", "ci_low", "ci_high", "se0",
                                  "z", "p", "n"};
    int width[NC];
    char cell[NC][64];
    for (int j = 0; j < NC; j++)
        width[j] = (int)strlen(hdr[j]);
    for (int pass = 0; pass < 2; pass++) {
        if (pass == 1) {
            for (int j = 0; j < NC; j++)
                fprintf(f, "%-*s%s", j + 1 < NC ? width[j] : 0, hdr[j], j + 1 < NC ? "  " : "\n");
        }
        for (int p = 0; p < r->npairs; p++) {
            const ps_kappa_cohen_result *k = &r->pairs[p];
            snprintf(cell[0], 64, "%.60s", r->t->colnames[r->col[r->pair_a[p]]]);
            snprintf(cell[1], 64, "%.60s", r->t->colnames[r->col[r->pair_b[p]]]);
            fmt_num(cell[2], 64, k->kappa, "%.4f");
            fmt_num(cell[3], 64, k->se, "%.4f");
            fmt_num(cell[4], 64, k->ci_low, "%.4f");
            fmt_num(cell[5], 64, k->ci_high, "%.4f");
            fmt_num(cell[6], 64, k->se0, "%.4f");
            fmt_num(cell[7], 64, k->z, "%.3f");
            fmt_num(cell[8], 64, k->p, "%.3g");
            snprintf(cell[9], 64, "%lld", (long long)k->n);
            for (int j = 0; j < NC; j++) {
                int L = (int)strlen(cell[j]);
                if (pass == 0 && L > width[j])
                    width[j] = L;
                if (pass == 1)
                    fprintf(f, "%-*s%s", j + 1 < NC ? width[j] : 0, cell[j],
                            j + 1 < NC ? "  " : "\n");
            }
        }
    }
    if (r->m >= 3) {
        char z[64], p[64];
        fmt_num(z, sizeof z, r->fleiss.z, "%.3f");
        fmt_num(p, sizeof p, r->fleiss.p, "%.3g");
        fprintf(f, "\n%d raters\n", r->m);
        fprintf(f, "Fleiss' kappa        %.4f   (se0 %.4f, z %s, p %s)\n", r->fleiss.kappa,
                r->fleiss.se0, z, p);
        fprintf(f, "Light's kappa        %.4f   (mean of the %d pairwise unweighted kappas)\n",
                r->light, r->npairs);
        fprintf(f, "Krippendorff's alpha %.4f   (%s; %lld subjects with 2+ ratings, %lld "
                   "pairable values)\n", r->alpha.alpha, ps_alpha_metric_name(r->metric),
                (long long)r->alpha.units, (long long)r->alpha.pairable);
    }
    return ferror(f) ? ps_error(PS_ERR_IO, "write error") : PS_OK;
}

/* First non-numeric rating, for the message of the interval/ratio metrics. */
static int report_non_numeric(const ps_table *t, const int *col, int m)
{
    for (int64_t i = 0; i < t->nrows; i++)
        for (int j = 0; j < m; j++) {
            const char *s = t->cells[i][col[j]];
            char *end;
            if (ps_agree_is_missing(s))
                continue;
            double v = strtod(s, &end);
            while (*end == ' ' || *end == '\t')
                end++;
            if (end == s || *end || !isfinite(v))
                return ps_error(PS_ERR_FORMAT, "%s line %lld column '%s': '%s' is not a number "
                                "(the interval and ratio metrics need numeric ratings)",
                                t->path ? t->path : "(table)", (long long)t->line[i],
                                t->colnames[col[j]], s);
        }
    return ps_error(PS_ERR_FORMAT, "ratings are not numeric");
}

int main_kappa(int argc, char **argv)
{
    static const struct option longopts[] = {
        CLI_COMMON_LONGOPTS,
        {"raters", required_argument, NULL, OPT_RATERS},
        {"weights", required_argument, NULL, OPT_WEIGHTS},
        {"level", required_argument, NULL, OPT_LEVEL},
        {"alpha-metric", required_argument, NULL, OPT_ALPHA_METRIC},
        {NULL, 0, NULL, 0},
    };
    cli_common common;
    cli_common_init(&common, PS_FMT_CSV);
    const char *raters = NULL;
    int text = 1, c;
    kappa_run run;
    memset(&run, 0, sizeof run);
    run.level = 0.95;
    optind = 1;
    while ((c = cli_stats_getopt(CMD, argc, argv, longopts, &common, &text)) != -1) {
        if (c == CLI_GETOPT_ERROR)
            return 2;
        switch (c) {
        case OPT_RATERS:
            raters = optarg;
            break;
        case OPT_WEIGHTS:
            if (ps_kappa_weights_parse(optarg, &run.weights))
                return cli_usage_error(CMD, "--%s", ps_error_message());
            break;
        case OPT_LEVEL:
            if (cli_parse_level(CMD, optarg, &run.level))
                return 2;
            break;
        case OPT_ALPHA_METRIC:
            if (ps_alpha_metric_parse(optarg, &run.metric))
                return cli_usage_error(CMD, "--alpha-metric: %s", ps_error_message());
            break;
        default:
            return cli_usage_error(CMD, "unknown option");
        }
    }
    if (common.help) {
        usage(stdout);
        return 0;
    }
    if (optind != argc - 1)
        return cli_usage_error(CMD, optind >= argc ? "missing TABLE" : "give exactly one TABLE");
    if (!raters)
        return cli_usage_error(CMD, "--raters is required (e.g. --raters reader1,reader2)");

    char *copy = NULL, **names = NULL;
    int m = 0, status = 0, rc;
    ps_table *t = NULL;
    ps_agree_labels *labels = NULL;
    int *col = NULL, *codes = NULL, *complete = NULL;
    const char **cells = NULL;
    double *avals = NULL;
    if ((rc = cli_split_list(raters, &copy, &names, &m)))
        goto fail;
    if (m < 2) {
        status = cli_usage_error(CMD, "--raters needs at least 2 columns, got %d", m);
        goto done;
    }
    for (int a = 0; a < m; a++)
        for (int b = a + 1; b < m; b++)
            if (!strcmp(names[a], names[b])) {
                status = cli_usage_error(CMD, "--raters lists column '%s' twice", names[a]);
                goto done;
            }
    if ((rc = ps_table_read(argv[optind], &t)))
        goto fail;
    const char *tname = t->path ? t->path : argv[optind];
    col = ps_malloc_array((size_t)m, sizeof *col);
    if (!col) {
        rc = PS_ERR_NOMEM;
        goto fail;
    }
    for (int j = 0; j < m; j++)
        if ((rc = ps_table_require_col(t, names[j], &col[j])))
            goto fail;
    size_t n = (size_t)t->nrows, ncell = n * (size_t)m;
    if (n < 2) {
        rc = ps_error(PS_ERR_NUMERIC, "%s: %zu subject row%s: kappa needs at least 2", tname, n,
                      n == 1 ? "" : "s");
        goto fail;
    }
    cells = ps_malloc_array(ncell, sizeof *cells);
    codes = ps_malloc_array(ncell, sizeof *codes);
    complete = ps_malloc_array(ncell, sizeof *complete);
    if (!cells || !codes || !complete) {
        rc = PS_ERR_NOMEM;
        goto fail;
    }
    for (size_t i = 0; i < n; i++)
        for (int j = 0; j < m; j++)
            cells[i * (size_t)m + (size_t)j] = t->cells[i][col[j]];
    if ((rc = ps_agree_labels_code(cells, ncell, codes, &labels))) {
        rc = ps_error_context(rc, "%s, columns %s", tname, raters);
        goto fail;
    }
    /* A k x k table per pair: refuse what is clearly not categorical data. */
    if (labels->ncat > MAX_CATEGORIES) {
        rc = ps_error(PS_ERR_FORMAT, "%s, columns %s: %d distinct rating values; kappa is for "
                      "categorical ratings (at most %d categories). For numeric measurements "
                      "use 'panseval icc'", tname, raters, labels->ncat, MAX_CATEGORIES);
        goto fail;
    }
    /* rows with a rating from every rater */
    size_t nc = 0;
    for (size_t i = 0; i < n; i++) {
        int ok = 1;
        for (int j = 0; j < m; j++)
            ok &= codes[i * (size_t)m + (size_t)j] >= 0;
        if (ok)
            memcpy(complete + nc++ * (size_t)m, codes + i * (size_t)m, (size_t)m * sizeof *codes);
    }
    run.t = t;
    run.m = m;
    run.col = col;
    run.labels = labels;
    run.n_used = (int64_t)nc;
    run.dropped = (int64_t)(n - nc);
    if (nc < 2) {
        rc = ps_error(PS_ERR_NUMERIC, "%s: only %zu row%s with a rating from every rater in %s "
                      "(%lld dropped for a missing rating): kappa needs at least 2 subjects",
                      tname, nc, nc == 1 ? "" : "s", raters, (long long)run.dropped);
        goto fail;
    }
    if (run.dropped > 0)
        ps_log(&common.ctx, PS_LOG_WARN, "kappa: dropped %lld of %zu rows with a missing rating "
               "(kappa uses %zu subjects%s)", (long long)run.dropped, n, nc,
               m >= 3 ? "; Krippendorff's alpha uses every subject with 2+ ratings" : "");

    run.npairs = m * (m - 1) / 2;
    run.pairs = ps_calloc((size_t)run.npairs, sizeof *run.pairs);
    run.pair_a = ps_calloc(2 * (size_t)run.npairs, sizeof *run.pair_a);
    int *a = ps_malloc_array(2 * nc, sizeof *a);
    if (!run.pairs || !run.pair_a || !a) {
        free(a);
        rc = PS_ERR_NOMEM;
        goto fail;
    }
    run.pair_b = run.pair_a + run.npairs;
    int p = 0;
    for (int r1 = 0; r1 < m; r1++)
        for (int r2 = r1 + 1; r2 < m; r2++, p++) {
            int *b = a + nc;
            for (size_t i = 0; i < nc; i++) {
                a[i] = complete[i * (size_t)m + (size_t)r1];
                b[i] = complete[i * (size_t)m + (size_t)r2];
            }
            run.pair_a[p] = r1;
            run.pair_b[p] = r2;
            rc = ps_kappa_cohen(a, b, nc, labels->ncat, run.weights, run.level, &run.pairs[p]);
            if (rc) {
                free(a);
                rc = ps_error_context(rc, "%s, raters '%s' and '%s'", tname, names[r1], names[r2]);
                goto fail;
            }
            if (isnan(run.pairs[p].z))
                ps_log(&common.ctx, PS_LOG_WARN, "kappa: raters '%s' and '%s': the SE under "
                       "kappa = 0 is 0 (a rater used a single category), so z and p are nan",
                       names[r1], names[r2]);
        }
    free(a);
    if (m >= 3) {
        if ((rc = ps_kappa_fleiss(complete, nc, m, labels->ncat, &run.fleiss)) ||
            (rc = ps_kappa_light(complete, nc, m, labels->ncat, &run.light, NULL))) {
            rc = ps_error_context(rc, "%s", tname);
            goto fail;
        }
        int numeric_metric = run.metric == PS_ALPHA_INTERVAL || run.metric == PS_ALPHA_RATIO;
        if (numeric_metric && !labels->numeric) {
            rc = report_non_numeric(t, col, m);
            goto fail;
        }
        avals = ps_malloc_array(ncell, sizeof *avals);
        if (!avals) {
            rc = PS_ERR_NOMEM;
            goto fail;
        }
        /* nominal/ordinal: the category positions (the order is all that matters);
         * interval/ratio: the numeric values */
        for (size_t i = 0; i < ncell; i++)
            avals[i] = codes[i] < 0 ? NAN : numeric_metric ? labels->values[codes[i]]
                                                            : (double)codes[i];
        rc = ps_krippendorff_alpha(avals, n, m, run.metric, common.ctx.threads, &run.alpha);
        if (rc) {
            rc = ps_error_context(rc, "%s", tname);
            goto fail;
        }
    }

    ps_atomic_file *af;
    FILE *f;
    if ((rc = cli_output_open(&common, &af, &f)))
        goto fail;
    rc = text ? write_text(&run, f) : write_table(&run, f, common.format);
    if ((rc = cli_output_close(af, rc)))
        goto fail;
    goto done;
fail:
    status = cli_report_error(CMD, rc);
done:
    free(run.pairs);
    free(run.pair_a);
    free(avals);
    free(cells);
    free(codes);
    free(complete);
    free(col);
    ps_agree_labels_free(labels);
    ps_table_free(t);
    free(copy);
    free(names);
    return status;
}
