/* test_metrics_golden.c - ps_metrics_compute against golden values computed independently by
 * tests/reference/metrics_reference.py (scipy EDT and erosion for the MedPy and MONAI
 * conventions, a numpy re-implementation of the DeepMind surfel method, the plastimatch rule
 * checked against Debian plastimatch 1.9.4, sklearn's Cohen's kappa) on generated .nii.gz
 * label maps under tests/golden/metrics/. Distances must agree to PS_TOL_MM (1e-6 mm), ratios
 * to PS_TOL_REF, counts exactly.
 */
#include "ps_test.h"

#include "ps_io.h"
#include "ps_metrics.h"

#define NCACHE 32
static struct {
    char name[64];
    ps_volume *v;
} cache[NCACHE];
static int ncache;

static const ps_volume *load(const char *file)
{
    for (int i = 0; i < ncache; i++)
        if (!strcmp(cache[i].name, file))
            return cache[i].v;
    char rel[128];
    snprintf(rel, sizeof rel, "golden/metrics/%s", file);
    ps_volume *v = NULL;
    int rc = ps_volume_read_labels(ps_test_path(rel), &v);
    ck_assert_msg(rc == 0, "reading %s: %s", file, ps_error_message());
    ck_assert_int_lt(ncache, NCACHE);
    snprintf(cache[ncache].name, sizeof cache[ncache].name, "%s", file);
    cache[ncache++].v = v;
    return v;
}

static int is_distance_column(const char *name)
{
    return !strncmp(name, "hd", 2) || !strcmp(name, "assd") || !strcmp(name, "masd");
}

START_TEST(test_golden)
{
    ps_table *t = NULL;
    int rc = ps_table_read(ps_test_path("golden/metrics/metrics_golden.tsv"), &t);
    ck_assert_msg(rc == 0, "%s", ps_error_message());
    ck_assert_int_ge(t->nrows, 80);
    int c_case, c_ref, c_pred, c_region, c_hd, c_nsd, c_q, c_tol, c_status, c_cli;
    ck_assert_int_eq(ps_table_require_col(t, "case", &c_case), 0);
    ck_assert_int_eq(ps_table_require_col(t, "ref", &c_ref), 0);
    ck_assert_int_eq(ps_table_require_col(t, "pred", &c_pred), 0);
    ck_assert_int_eq(ps_table_require_col(t, "region", &c_region), 0);
    ck_assert_int_eq(ps_table_require_col(t, "hd_method", &c_hd), 0);
    ck_assert_int_eq(ps_table_require_col(t, "nsd_method", &c_nsd), 0);
    ck_assert_int_eq(ps_table_require_col(t, "percentile", &c_q), 0);
    ck_assert_int_eq(ps_table_require_col(t, "nsd_tol_mm", &c_tol), 0);
    ck_assert_int_eq(ps_table_require_col(t, "status", &c_status), 0);
    ck_assert_int_eq(ps_table_require_col(t, "plastimatch_cli_hd95", &c_cli), 0);
    int ncli = 0;
    for (int64_t r = 0; r < t->nrows; r++) {
        char **cell = t->cells[r];
        ps_metrics_options o;
        ps_metrics_options_init(&o);
        ps_region reg;
        ck_assert_int_eq(ps_region_parse(cell[c_region], &reg), 0);
        ck_assert_int_eq(ps_hd_method_parse(cell[c_hd], &o.hd_method), 0);
        ck_assert_int_eq(ps_nsd_method_parse(cell[c_nsd], &o.nsd_method), 0);
        ck_assert_int_eq(ps_table_get_double(t, r, c_q, &o.percentile), 0);
        ck_assert_int_eq(ps_table_get_double(t, r, c_tol, &o.nsd_tol_mm), 0);
        ps_context ctx;
        ps_context_init(&ctx);
        ctx.threads = 1 + (int)(r % 3);
        ps_case_metrics m;
        rc = ps_metrics_compute(load(cell[c_ref]), load(cell[c_pred]), &reg, &o, &ctx, &m);
        ck_assert_msg(rc == 0, "%s: %s", cell[c_case], ps_error_message());
        ck_assert_msg(!strcmp(ps_case_status_name(m.status), cell[c_status]),
                      "line %lld (%s region %s): status %s, golden %s", (long long)t->line[r],
                      cell[c_case], cell[c_region], ps_case_status_name(m.status),
                      cell[c_status]);
        for (int c = 0; c < ps_metric_ncolumns; c++) {
            const ps_metric_column *col = &ps_metric_columns[c];
            int tc;
            ck_assert_int_eq(ps_table_require_col(t, col->name, &tc), 0);
            double want, got;
            ck_assert_int_eq(ps_table_get_double(t, r, tc, &want), 0);
            if (col->kind == PS_MK_INT64)
                got = (double)*(const int64_t *)((const char *)&m + col->offset);
            else
                got = *(const double *)((const char *)&m + col->offset);
            int ok;
            if (isnan(want))
                ok = isnan(got);
            else if (col->kind == PS_MK_INT64)
                ok = got == want;
            else if (is_distance_column(col->name))
                ok = fabs(got - want) <= PS_TOL_MM;
            else
                ok = fabs(got - want) <= PS_TOL_REF * fmax(1.0, fabs(want));
            ck_assert_msg(ok, "line %lld (%s region %s %s q=%g tol=%g): %s = %.17g, golden %.17g",
                          (long long)t->line[r], cell[c_case], cell[c_region], cell[c_hd],
                          o.percentile, o.nsd_tol_mm, col->name, got, want);
        }
        double cli;
        ck_assert_int_eq(ps_table_get_double(t, r, c_cli, &cli), 0);
        if (!isnan(cli)) {
            /* plastimatch prints 6 decimals of a float32 */
            ck_assert_msg(fabs(m.hd95 - cli) <= 2e-6 * fmax(1.0, cli) + 1e-6,
                          "line %lld: plastimatch 1.9.4 says %.6f, we %.9f",
                          (long long)t->line[r], cli, m.hd95);
            ncli++;
        }
    }
    ck_assert_int_ge(ncli, 5);
    ps_table_free(t);
    for (int i = 0; i < ncache; i++)
        ps_volume_free(cache[i].v);
    ncache = 0;
}
END_TEST

static Suite *golden_suite(void)
{
    Suite *s = suite_create("metrics_golden");
    TCase *tc = tcase_create("golden");
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, test_golden);
    suite_add_tcase(s, tc);
    return s;
}

PS_TEST_MAIN(golden_suite)
