/* cmd_icc.c - `panseval icc`: the six Shrout-Fleiss intraclass correlations of numeric
 * ratings, with F tests and confidence intervals (as R psych::ICC). docs/agreement.md. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "cli_stats.h"
#include "ps_stats.h"

static const char *CMD = "icc";

static void usage(FILE *f)
{
    fputs("Usage: panseval icc TABLE --raters COL1,COL2[,...] [--level L] [--format FMT]\n"
          "                    [-o FILE]\n"
          "\n"
          "Intraclass correlation of numeric ratings (e.g. volumes measured by several readers\n"
          "or methods). TABLE is CSV or TSV (detected from the header; '-' reads standard\n"
          "input) with one row per subject and one column per rater.\n"
          "\n"
          "All six forms of Shrout & Fleiss (1979) are reported, from the two-way ANOVA mean\n"
          "squares MSB (subjects), MSJ (raters), MSW (within subjects) and MSE (residual):\n"
          "  ICC1   one-way random, single rater:\n"
          "           (MSB - MSW) / (MSB + (k-1) MSW)\n"
          "  ICC2   two-way random, absolute agreement, single rater (McGraw & Wong ICC(A,1)):\n"
          "           (MSB - MSE) / (MSB + (k-1) MSE + k (MSJ - MSE) / n)\n"
          "  ICC3   two-way mixed, consistency, single rater (McGraw & Wong ICC(C,1)):\n"
          "           (MSB - MSE) / (MSB + (k-1) MSE)\n"
          "  ICC1k, ICC2k, ICC3k   the same for the mean of the k raters:\n"
          "           (MSB - MSW) / MSB,  (MSB - MSE) / (MSB + (MSJ - MSE) / n),\n"
          "           (MSB - MSE) / MSB\n"
          "Each with the F test of ICC = 0 (F, df1, df2, upper-tail p) and the confidence\n"
          "interval of R psych::ICC (for ICC2 and ICC2k McGraw & Wong's interval with a\n"
          "Satterthwaite-type df). For agreement between segmentation methods ICC2 (absolute\n"
          "agreement) is usually the one to report.\n"
          "\n"
          "Rows with a missing rating (empty cell, NA or nan) are dropped, and their number is\n"
          "reported. Any other non-numeric cell is an error naming its line and column.\n"
          "\n"
          "Options:\n"
          "  --raters COLS       rater columns, comma-separated (at least 2; required)\n"
          "  --level L           confidence level of the intervals (default 0.95)\n"
          "  --format FMT        text (default: aligned columns), csv, tsv or json with one\n"
          "                      row per form: type, description, icc, f, df1, df2, p, ci_low,\n"
          "                      ci_high, n, raters\n"
          "  -o, --output FILE   write to FILE (atomically); default: standard output\n"
          "  -q, --quiet         errors only (no note about dropped rows)\n"
          "  -h, --help          this text\n"
          "\n"
          "At least 2 complete subjects are needed. All ratings equal, or all subjects with the\n"
          "same mean rating, leave the ICC undefined: an error. When the residual mean square is\n"
          "0 (raters differ by exact constants), F is inf, p is 0 and the confidence limits are\n"
          "their limits (see docs/agreement.md). Numbers in csv/tsv/json have 17 significant\n"
          "digits.\n"
          "\n"
          "Exit status: 0 success, 1 bad input or undefined statistic, 2 usage error.\n"
          "\n"
          "Example:\n"
          "  panseval icc volumes.csv --raters vol_reader1,vol_reader2,vol_model --format json\n"
          "\n"
          "Formulas and sources: docs/agreement.md.\n",
          f);
}

enum { OPT_RATERS = CLI_OPT_FIRST_PRIVATE, OPT_LEVEL };

static int write_table(const ps_icc_result *r, FILE *f, ps_table_format fmt)
{
    static const char *cols[] = {"type", "description", "icc", "f", "df1", "df2", "p",
                                 "ci_low", "ci_high", "n", "raters"};
    ps_table_writer *w;
    int rc = ps_table_writer_create(f, fmt, 11, cols, &w);
    if (rc)
        return rc;
    for (int i = 0; i < PS_ICC_NFORMS && !rc; i++) {
        const ps_icc_estimate *e = &r->form[i];
        rc = ps_table_writer_str(w, ps_icc_form_name((ps_icc_form)i));
        rc = rc ? rc : ps_table_writer_str(w, ps_icc_form_description((ps_icc_form)i));
        const double v[7] = {e->icc, e->f, e->df1, e->df2, e->p, e->ci_low, e->ci_high};
        for (int j = 0; j < 7 && !rc; j++)
            rc = ps_table_writer_num(w, v[j]);
        rc = rc ? rc : ps_table_writer_int(w, r->n);
        rc = rc ? rc : ps_table_writer_int(w, r->raters);
        rc = rc ? rc : ps_table_writer_end_row(w);
    }
    int rc2 = ps_table_writer_finish(w);
    return rc ? rc : rc2;
}

static void fmt_num(char *buf, size_t len, double x, const char *f)
{
    if (isnan(x))
        snprintf(buf, len, "nan");
    else if (isinf(x))
        snprintf(buf, len, x > 0 ? "inf" : "-inf");
    else
        snprintf(buf, len, f, x);
}

static int write_text(const ps_icc_result *r, int64_t dropped, FILE *f)
{
    fprintf(f, "Intraclass correlations (Shrout & Fleiss 1979), %lld subjects x %d raters "
               "(%lld rows dropped for a missing rating), %g%% confidence intervals\n"
               "MSB %.6g  MSJ %.6g  MSW %.6g  MSE %.6g\n\n",
            (long long)r->n, r->raters, (long long)dropped, 100 * r->level, r->msb, r->msj,
            r->msw, r->mse);
    enum { NC = 9 };
    static const char *hdr[NC] = {"type", "icc", "ci_low", "ci_high", "f", "df1", "df2", "p",
                                  "description"};
    char cell[PS_ICC_NFORMS][NC][80];
    int width[NC];
    for (int j = 0; j < NC; j++)
        width[j] = (int)strlen(hdr[j]);
    for (int i = 0; i < PS_ICC_NFORMS; i++) {
        const ps_icc_estimate *e = &r->form[i];
        snprintf(cell[i][0], 80, "%s", ps_icc_form_name((ps_icc_form)i));
        fmt_num(cell[i][1], 80, e->icc, "%.4f");
        fmt_num(cell[i][2], 80, e->ci_low, "%.4f");
        fmt_num(cell[i][3], 80, e->ci_high, "%.4f");
        fmt_num(cell[i][4], 80, e->f, "%.4g");
        fmt_num(cell[i][5], 80, e->df1, "%g");
        fmt_num(cell[i][6], 80, e->df2, "%g");
        fmt_num(cell[i][7], 80, e->p, "%.3g");
        snprintf(cell[i][8], 80, "%s", ps_icc_form_description((ps_icc_form)i));
        for (int j = 0; j < NC; j++) {
            int L = (int)strlen(cell[i][j]);
            if (L > width[j])
                width[j] = L;
        }
    }
    for (int j = 0; j < NC; j++)
        fprintf(f, "%-*s%s", j + 1 < NC ? width[j] : 0, hdr[j], j + 1 < NC ? "  " : "\n");
    for (int i = 0; i < PS_ICC_NFORMS; i++)
        for (int j = 0; j < NC; j++)
            fprintf(f, "%-*s%s", j + 1 < NC ? width[j] : 0, cell[i][j], j + 1 < NC ? "  " : "\n");
    return ferror(f) ? ps_error(PS_ERR_IO, "write error") : PS_OK;
}

int main_icc(int argc, char **argv)
{
    static const struct option longopts[] = {
        CLI_COMMON_LONGOPTS,
        {"raters", required_argument, NULL, OPT_RATERS},
        {"level", required_argument, NULL, OPT_LEVEL},
        {NULL, 0, NULL, 0},
    };
    cli_common common;
    cli_common_init(&common, PS_FMT_CSV);
    const char *raters = NULL;
    double level = 0.95;
    int text = 1, c;
    optind = 1;
    while ((c = cli_stats_getopt(CMD, argc, argv, longopts, &common, &text)) != -1) {
        if (c == CLI_GETOPT_ERROR)
            return 2;
        switch (c) {
        case OPT_RATERS:
            raters = optarg;
            break;
        case OPT_LEVEL:
            if (cli_parse_level(CMD, optarg, &level))
                return 2;
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
    int *col = NULL;
    double *x = NULL;
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
    x = ps_malloc_array((size_t)t->nrows * (size_t)m + 1, sizeof *x);
    if (!col || !x) {
        rc = PS_ERR_NOMEM;
        goto fail;
    }
    for (int j = 0; j < m; j++)
        if ((rc = ps_table_require_col(t, names[j], &col[j])))
            goto fail;
    size_t n = 0;
    for (int64_t i = 0; i < t->nrows; i++) {
        int missing = 0;
        for (int j = 0; j < m; j++)
            missing |= ps_agree_is_missing(t->cells[i][col[j]]);
        if (missing)
            continue;
        for (int j = 0; j < m; j++) {
            double v;
            if ((rc = ps_table_get_double(t, i, col[j], &v)))
                goto fail;
            if (!isfinite(v)) {
                rc = ps_error(PS_ERR_FORMAT, "%s line %lld column '%s': rating '%s' is not finite",
                              tname, (long long)t->line[i], t->colnames[col[j]],
                              t->cells[i][col[j]]);
                goto fail;
            }
            x[n * (size_t)m + (size_t)j] = v;
        }
        n++;
    }
    int64_t dropped = t->nrows - (int64_t)n;
    if (n < 2) {
        rc = ps_error(PS_ERR_NUMERIC, "%s: only %zu row%s with a rating from every rater in %s "
                      "(%lld dropped for a missing rating): the ICC needs at least 2 subjects",
                      tname, n, n == 1 ? "" : "s", raters, (long long)dropped);
        goto fail;
    }
    if (dropped > 0)
        ps_log(&common.ctx, PS_LOG_WARN, "icc: dropped %lld of %lld rows with a missing rating "
               "(the ICC uses %zu subjects)", (long long)dropped, (long long)t->nrows, n);
    ps_icc_result r;
    if ((rc = ps_icc(x, n, m, level, &r))) {
        rc = ps_error_context(rc, "%s, columns %s", tname, raters);
        goto fail;
    }
    for (int i = 0; i < PS_ICC_NFORMS; i++)
        if (isnan(r.form[i].ci_low) || isnan(r.form[i].ci_high))
            ps_log(&common.ctx, PS_LOG_WARN, "icc: the confidence interval of %s is undefined "
                   "for these data (written as nan)", ps_icc_form_name((ps_icc_form)i));
    ps_atomic_file *af;
    FILE *f;
    if ((rc = cli_output_open(&common, &af, &f)))
        goto fail;
    rc = text ? write_text(&r, dropped, f) : write_table(&r, f, common.format);
    if ((rc = cli_output_close(af, rc)))
        goto fail;
    goto done;
fail:
    status = cli_report_error(CMD, rc);
done:
    free(x);
    free(col);
    ps_table_free(t);
    free(copy);
    free(names);
    return status;
}
