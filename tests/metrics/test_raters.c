/* test_raters.c - the rater set (metrics/raters.c) and label fusion (metrics/fuse.c).
 *
 * Pairwise results must be bit-identical to ps_metrics_compute on the same pair (every HD95
 * convention, both NSD methods, 3D and 2D images, empty raters, any thread count); voxel
 * tables are checked against counts written here by brute force; majority-vote ties against
 * hand-written cases. STAPLE is checked against reference goldens in test_staple.c.
 */
#include "ps_test.h"

#include "ps_io.h"
#include "ps_metrics.h"

static uint64_t rng_state;
static uint64_t rng_next(void) /* xorshift64* */
{
    rng_state ^= rng_state >> 12;
    rng_state ^= rng_state << 25;
    rng_state ^= rng_state >> 27;
    return rng_state * 2685821657736338717ull;
}
static double rng_unif(void) { return (double)(rng_next() >> 11) / 9007199254740992.0; }

static ps_volume *mkvol(const int64_t d[3], const double sp[3], ps_dtype dt)
{
    ps_geometry g;
    ps_geometry_init(&g, d[0], d[1], d[2], sp[0], sp[1], sp[2]);
    ps_volume *v = NULL;
    ck_assert_int_eq(ps_volume_create(&g, 1, dt, &v), 0);
    return v;
}

static int32_t getv(const ps_volume *v, int64_t i)
{
    return v->dtype == PS_DT_UINT8 ? ((const uint8_t *)v->data)[i] : ((const int32_t *)v->data)[i];
}

static void setv(ps_volume *v, int64_t i, int32_t x)
{
    if (v->dtype == PS_DT_UINT8)
        ((uint8_t *)v->data)[i] = (uint8_t)x;
    else
        ((int32_t *)v->data)[i] = x;
}

/* An ellipsoid of labels 1 (and a smaller 2 inside) with a random centre jitter and a few
 * random flips near its edge: raters that disagree at the boundary. */
static void rater_blob(ps_volume *v, double jitter, double scale)
{
    const int64_t *d = v->geom.dim;
    double c[3], r[3];
    for (int a = 0; a < 3; a++) {
        c[a] = 0.5 * (double)(d[a] - 1) + jitter * (rng_unif() - 0.5);
        r[a] = d[a] == 1 ? 1.0 : scale * 0.3 * (double)d[a];
    }
    for (int64_t k = 0; k < d[2]; k++)
        for (int64_t j = 0; j < d[1]; j++)
            for (int64_t i = 0; i < d[0]; i++) {
                double x = ((double)i - c[0]) / r[0], y = ((double)j - c[1]) / r[1],
                       z = d[2] == 1 ? 0 : ((double)k - c[2]) / r[2];
                if (d[0] == 1)
                    x = 0;
                if (d[1] == 1)
                    y = 0;
                double q = x * x + y * y + z * z + 0.15 * (rng_unif() - 0.5);
                int32_t lab = q <= 0.2 ? 2 : q <= 1.0 ? 1 : 0;
                setv(v, (k * d[1] + j) * d[0] + i, lab);
            }
}

static void assert_same_metrics(const ps_case_metrics *a, const ps_case_metrics *b,
                                const char *what)
{
    ck_assert_msg(a->status == b->status, "%s: status %d != %d", what, a->status, b->status);
    for (int c = 0; c < ps_metric_ncolumns; c++) {
        const ps_metric_column *col = &ps_metric_columns[c];
        const char *pa = (const char *)a + col->offset, *pb = (const char *)b + col->offset;
        size_t sz = col->kind == PS_MK_INT64 ? sizeof(int64_t) : sizeof(double);
        if (col->kind == PS_MK_DOUBLE) {
            double x, y;
            memcpy(&x, pa, sizeof x);
            memcpy(&y, pb, sizeof y);
            ck_assert_msg((isnan(x) && isnan(y)) || !memcmp(pa, pb, sz),
                          "%s: %s = %.17g, ps_metrics_compute %.17g", what, col->name, x, y);
        } else {
            ck_assert_msg(!memcmp(pa, pb, sz), "%s: %s differs", what, col->name);
        }
    }
}

START_TEST(test_pairs_equal_metrics_compute)
{
    rng_state = 20261202;
    const ps_hd_method hds[] = {PS_HD_MEDPY, PS_HD_MONAI, PS_HD_DEEPMIND, PS_HD_PLASTIMATCH};
    for (int trial = 0; trial < 6; trial++) {
        int64_t d[3] = {18 + trial, 15 + 2 * trial, 9 + trial % 3};
        if (trial == 4)
            d[2] = 1; /* 2D, singleton third axis */
        if (trial == 5)
            d[0] = 1; /* 2D, singleton first axis */
        double sp[3] = {0.6 + rng_unif(), 0.7 + rng_unif(), 1.0 + 2 * rng_unif()};
        enum { K = 4 };
        ps_volume *v[K];
        for (int r = 0; r < K; r++) {
            v[r] = mkvol(d, sp, r == 2 ? PS_DT_INT32 : PS_DT_UINT8);
            if (!(trial == 3 && r == 1)) /* trial 3: rater 2 draws nothing */
                rater_blob(v[r], 3.0, r == 3 ? 1.25 : 1.0);
        }
        const char *regions[] = {"1", "2", "1+2"};
        for (int ri = 0; ri < 3; ri++) {
            ps_region reg;
            ck_assert_int_eq(ps_region_parse(regions[ri], &reg), 0);
            for (int h = 0; h < 4; h++)
                for (int nm = 0; nm < 2; nm++) {
                    ps_metrics_options o;
                    ps_metrics_options_init(&o);
                    o.hd_method = hds[h];
                    o.nsd_method = nm ? PS_NSD_SURFEL : PS_NSD_VOXEL;
                    o.empty = (ps_empty_policy)(h % 3);
                    ps_context ctx;
                    ps_context_init(&ctx);
                    ctx.threads = 1 + (h + nm + ri) % 3;
                    ps_rater_set *s = NULL;
                    ck_assert_msg(ps_rater_set_create((const ps_volume *const *)v, K, &reg, &o,
                                                      &ctx, &s) == 0, "%s", ps_error_message());
                    for (int a = 0; a < K; a++)
                        for (int b = 0; b < K; b++) {
                            if (a == b)
                                continue;
                            ps_case_metrics m1, m2;
                            ck_assert_int_eq(ps_rater_set_pair(s, a, b, &m1), 0);
                            ck_assert_int_eq(ps_metrics_compute(v[a], v[b], &reg, &o, &ctx, &m2),
                                             0);
                            char what[96];
                            snprintf(what, sizeof what, "trial %d region %s hd %d nsd %d pair "
                                     "%d,%d", trial, regions[ri], h, nm, a, b);
                            assert_same_metrics(&m1, &m2, what);
                        }
                    ps_rater_set_free(s);
                }
        }
        for (int r = 0; r < K; r++)
            ps_volume_free(v[r]);
    }
}
END_TEST

START_TEST(test_voxel_tables)
{
    rng_state = 99;
    const int64_t d[3] = {23, 19, 11};
    const double sp[3] = {0.8, 0.9, 2.0};
    enum { K = 3 };
    ps_volume *v[K];
    for (int r = 0; r < K; r++) {
        v[r] = mkvol(d, sp, PS_DT_UINT8);
        rater_blob(v[r], 4.0, 0.9 + 0.2 * r);
    }
    ps_region reg;
    ck_assert_int_eq(ps_region_parse("1+2", &reg), 0);
    const int64_t boxes[3][2][3] = {{{0, 0, 0}, {23, 19, 11}}, {{3, 2, 1}, {17, 15, 9}},
                                    {{-5, 4, 2}, {40, 9, 30}}};
    for (int t = 1; t <= 3; t++) {
        ps_context ctx;
        ps_context_init(&ctx);
        ctx.threads = t;
        ps_rater_set *s = NULL;
        ck_assert_int_eq(ps_rater_set_create((const ps_volume *const *)v, K, &reg, NULL, &ctx, &s),
                         0);
        for (int bi = 0; bi < 3; bi++) {
            int64_t hist[K + 1], pat[1 << K], bh[K + 1] = {0}, bp[1 << K] = {0};
            ck_assert_int_eq(ps_rater_set_histogram(s, NULL, 0, boxes[bi][0], boxes[bi][1], hist), 0);
            ck_assert_int_eq(ps_rater_set_patterns(s, NULL, 0, boxes[bi][0], boxes[bi][1], pat), 0);
            for (int64_t k = 0; k < d[2]; k++)
                for (int64_t j = 0; j < d[1]; j++)
                    for (int64_t i = 0; i < d[0]; i++) {
                        const int64_t c[3] = {i, j, k};
                        int in = 1;
                        for (int a = 0; a < 3; a++)
                            in &= c[a] >= boxes[bi][0][a] && c[a] < boxes[bi][1][a];
                        if (!in)
                            continue;
                        int m = 0, p = 0;
                        for (int r = 0; r < K; r++) {
                            int x = getv(v[r], (k * d[1] + j) * d[0] + i) != 0;
                            m += x;
                            p |= x << r;
                        }
                        bh[m]++;
                        bp[p]++;
                    }
            for (int m = 0; m <= K; m++)
                ck_assert_int_eq(hist[m], bh[m]);
            for (int p = 0; p < 1 << K; p++)
                ck_assert_int_eq(pat[p], bp[p]);
        }
        int64_t lo[3], hi[3];
        ck_assert_int_eq(ps_rater_set_box(s, lo, hi), 1);
        ps_rater_set_free(s);
    }
    for (int r = 0; r < K; r++)
        ps_volume_free(v[r]);
}
END_TEST

START_TEST(test_geometry_mismatch)
{
    const int64_t d[3] = {5, 5, 5}, d2[3] = {5, 5, 6};
    const double sp[3] = {1, 1, 1};
    ps_volume *v[2] = {mkvol(d, sp, PS_DT_UINT8), mkvol(d2, sp, PS_DT_UINT8)};
    ps_region reg;
    ck_assert_int_eq(ps_region_parse("1", &reg), 0);
    ps_rater_set *s = NULL;
    ck_assert_int_eq(ps_rater_set_create((const ps_volume *const *)v, 2, &reg, NULL, NULL, &s),
                     PS_ERR_GEOMETRY);
    ck_assert_ptr_null(s);
    ps_volume_free(v[0]);
    ps_volume_free(v[1]);
}
END_TEST

/* Majority vote, one voxel per row of `cases`: the labels of 4 raters (-1 = rater absent) and
 * the expected winner by the tie rule (lowest tied label, background included). */
START_TEST(test_majority_ties)
{
    static const int32_t cases[][5] = {
        {0, 1, -1, -1, 0},  /* binary tie -> background                      */
        {1, 1, 0, -1, 1},   /* 2 of 3                                       */
        {0, 1, 2, -1, 0},   /* three-way tie -> lowest, background           */
        {2, 2, 1, 1, 1},    /* 2-2 tie between labels 1 and 2 -> 1           */
        {3, 2, 3, 0, 3},    /* plurality 3                                   */
        {7, 300, 300, 7, 7}, /* int32 labels: tie -> 7                       */
    };
    const int ncase = (int)(sizeof cases / sizeof cases[0]);
    for (int c = 0; c < ncase; c++) {
        int k = 0;
        while (k < 4 && cases[c][k] >= 0)
            k++;
        const int64_t d[3] = {1, 1, 1};
        const double sp[3] = {1, 1, 1};
        ps_volume *v[4];
        for (int r = 0; r < k; r++) {
            v[r] = mkvol(d, sp, PS_DT_INT32);
            setv(v[r], 0, cases[c][r]);
        }
        ps_volume *o = mkvol(d, sp, PS_DT_INT32);
        ck_assert_int_eq(ps_fuse_majority((const ps_volume *const *)v, k, NULL, o), 0);
        ck_assert_int_eq(getv(o, 0), cases[c][4]);
        ps_volume_free(o);
        for (int r = 0; r < k; r++)
            ps_volume_free(v[r]);
    }
}
END_TEST

static Suite *suite(void)
{
    Suite *s = suite_create("raters");
    TCase *tc = tcase_create("core");
    tcase_set_timeout(tc, 300);
    tcase_add_test(tc, test_pairs_equal_metrics_compute);
    tcase_add_test(tc, test_voxel_tables);
    tcase_add_test(tc, test_geometry_mismatch);
    tcase_add_test(tc, test_majority_ties);
    suite_add_tcase(s, tc);
    return s;
}

PS_TEST_MAIN(suite)
