/* test_metrics.c - unit tests of the metrics module: EDT, percentile rules, hand-computed tiny
 * cases for every HD95 convention and NSD variant, analytic phantoms, empty-mask policies,
 * crop invariance, image-edge boundaries, thread-count invariance, parsers and errors.
 *
 * Expected values are hand calculations (shown beside them), analytic phantoms, or brute-force
 * implementations written here from the definitions (O(n^2) nearest-point search, full sorts).
 */
#include "ps_test.h"

#include "ps_io.h"
#include "ps_metrics.h"
#include "metrics_internal.h" /* percentile rules and surfel areas */

/* ---- helpers --------------------------------------------------------------------------------- */
static uint64_t rng_state;
static uint64_t rng_next(void) /* xorshift64* */
{
    rng_state ^= rng_state >> 12;
    rng_state ^= rng_state << 25;
    rng_state ^= rng_state >> 27;
    return rng_state * 2685821657736338717ull;
}
static double rng_unif(void) { return (double)(rng_next() >> 11) / 9007199254740992.0; }

static ps_volume *mkvol(int64_t nx, int64_t ny, int64_t nz, double sx, double sy, double sz,
                        ps_dtype dt)
{
    ps_geometry g;
    ps_geometry_init(&g, nx, ny, nz, sx, sy, sz);
    ps_volume *v = NULL;
    ck_assert_int_eq(ps_volume_create(&g, 1, dt, &v), 0);
    return v;
}

static void setv(ps_volume *v, int64_t i, int64_t j, int64_t k, int32_t label)
{
    int64_t idx = (k * v->geom.dim[1] + j) * v->geom.dim[0] + i;
    if (v->dtype == PS_DT_UINT8)
        ((uint8_t *)v->data)[idx] = (uint8_t)label;
    else
        ((int32_t *)v->data)[idx] = label;
}

static int32_t getv(const ps_volume *v, int64_t idx)
{
    return v->dtype == PS_DT_UINT8 ? ((const uint8_t *)v->data)[idx]
                                   : ((const int32_t *)v->data)[idx];
}

static void box(ps_volume *v, int64_t i0, int64_t i1, int64_t j0, int64_t j1, int64_t k0,
                int64_t k1, int32_t label)
{
    for (int64_t k = k0; k < k1; k++)
        for (int64_t j = j0; j < j1; j++)
            for (int64_t i = i0; i < i1; i++)
                setv(v, i, j, k, label);
}

static ps_region region1(void)
{
    ps_region r;
    ck_assert_int_eq(ps_region_parse("1", &r), 0);
    return r;
}

static ps_case_metrics run(const ps_volume *a, const ps_volume *b, ps_hd_method hm,
                           ps_nsd_method nm, double q, double tol, int threads)
{
    ps_metrics_options o;
    ps_metrics_options_init(&o);
    o.hd_method = hm;
    o.nsd_method = nm;
    o.percentile = q;
    o.nsd_tol_mm = tol;
    ps_context ctx;
    ps_context_init(&ctx);
    ctx.threads = threads;
    ps_region r = region1();
    ps_case_metrics m;
    int rc = ps_metrics_compute(a, b, &r, &o, &ctx, &m);
    ck_assert_msg(rc == 0, "ps_metrics_compute: %s", ps_error_message());
    return m;
}

/* Random blob: voxels with noise > threshold after 3 rounds of neighbour averaging. */
static void random_blob(ps_volume *v, int64_t i0, int64_t j0, int64_t k0, int64_t nx,
                        int64_t ny, int64_t nz, double fill)
{
    int64_t n = nx * ny * nz;
    double *f = malloc((size_t)n * sizeof *f), *g = malloc((size_t)n * sizeof *g);
    for (int64_t i = 0; i < n; i++)
        f[i] = rng_unif();
    for (int round = 0; round < 2; round++) {
        for (int64_t k = 0; k < nz; k++)
            for (int64_t j = 0; j < ny; j++)
                for (int64_t i = 0; i < nx; i++) {
                    double s = 0;
                    int c = 0;
                    for (int d = -1; d <= 1; d++) {
                        if (i + d >= 0 && i + d < nx) { s += f[(k * ny + j) * nx + i + d]; c++; }
                        if (j + d >= 0 && j + d < ny) { s += f[(k * ny + j + d) * nx + i]; c++; }
                        if (k + d >= 0 && k + d < nz) { s += f[((k + d) * ny + j) * nx + i]; c++; }
                    }
                    g[(k * ny + j) * nx + i] = s / c;
                }
        double *t = f; f = g; g = t;
    }
    /* threshold at the (1 - fill) quantile by sorting a copy */
    memcpy(g, f, (size_t)n * sizeof *g);
    for (int64_t a = 1; a < n; a++) { /* insertion sort: small n */
        double x = g[a];
        int64_t b = a - 1;
        while (b >= 0 && g[b] > x) { g[b + 1] = g[b]; b--; }
        g[b + 1] = x;
    }
    double thr = g[(int64_t)((1.0 - fill) * (double)(n - 1))];
    for (int64_t k = 0; k < nz; k++)
        for (int64_t j = 0; j < ny; j++)
            for (int64_t i = 0; i < nx; i++)
                if (f[(k * ny + j) * nx + i] > thr)
                    setv(v, i0 + i, j0 + j, k0 + k, 1);
    free(f);
    free(g);
}

/* ---- brute force, from the definitions ---------------------------------------------------------- */
typedef struct { int64_t n; double *d; } dlist;

static int in_mask(const ps_volume *v, int64_t i, int64_t j, int64_t k)
{
    const int64_t *dm = v->geom.dim;
    if (i < 0 || j < 0 || k < 0 || i >= dm[0] || j >= dm[1] || k >= dm[2])
        return 0; /* outside the image is background */
    return getv(v, (k * dm[1] + j) * dm[0] + i) == 1;
}

static int is_boundary(const ps_volume *v, int64_t i, int64_t j, int64_t k)
{
    return in_mask(v, i, j, k) &&
           !(in_mask(v, i - 1, j, k) && in_mask(v, i + 1, j, k) && in_mask(v, i, j - 1, k) &&
             in_mask(v, i, j + 1, k) && in_mask(v, i, j, k - 1) && in_mask(v, i, j, k + 1));
}

/* distances from each boundary voxel of a to the nearest boundary voxel of b */
static dlist bf_directed(const ps_volume *a, const ps_volume *b)
{
    const int64_t *dm = a->geom.dim;
    const double *s = a->geom.spacing_mm;
    int64_t n = dm[0] * dm[1] * dm[2], m = 0;
    int64_t *pb = malloc((size_t)n * 3 * sizeof *pb), nb = 0;
    for (int64_t k = 0; k < dm[2]; k++)
        for (int64_t j = 0; j < dm[1]; j++)
            for (int64_t i = 0; i < dm[0]; i++)
                if (is_boundary(b, i, j, k)) {
                    pb[3 * nb] = i; pb[3 * nb + 1] = j; pb[3 * nb + 2] = k; nb++;
                }
    dlist r = {0, malloc((size_t)n * sizeof(double))};
    for (int64_t k = 0; k < dm[2]; k++)
        for (int64_t j = 0; j < dm[1]; j++)
            for (int64_t i = 0; i < dm[0]; i++)
                if (is_boundary(a, i, j, k)) {
                    double best = INFINITY;
                    for (int64_t q = 0; q < nb; q++) {
                        double dx = (double)(i - pb[3 * q]) * s[0];
                        double dy = (double)(j - pb[3 * q + 1]) * s[1];
                        double dz = (double)(k - pb[3 * q + 2]) * s[2];
                        double d = sqrt(dx * dx + dy * dy + dz * dz);
                        if (d < best) best = d;
                    }
                    r.d[m++] = best;
                }
    r.n = m;
    free(pb);
    return r;
}

static int cmpd(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* numpy.percentile linear, by a full sort */
static double bf_pct(const double *x, int64_t n, double q)
{
    double *s = malloc((size_t)n * sizeof *s);
    memcpy(s, x, (size_t)n * sizeof *s);
    qsort(s, (size_t)n, sizeof *s, cmpd);
    double h = q / 100.0 * (double)(n - 1);
    int64_t lo = (int64_t)floor(h);
    double r = lo + 1 < n ? s[lo] + (h - (double)lo) * (s[lo + 1] - s[lo]) : s[lo];
    free(s);
    return r;
}

/* ---- EDT ------------------------------------------------------------------------------------------ */
START_TEST(test_edt_bruteforce)
{
    rng_state = 0x9e3779b97f4a7c15ull;
    ps_context ctx;
    ps_context_init(&ctx);
    for (int trial = 0; trial < 40; trial++) {
        int64_t d[3] = {1 + (int64_t)(rng_next() % 9), 1 + (int64_t)(rng_next() % 8),
                        1 + (int64_t)(rng_next() % 7)};
        double sp[3] = {0.3 + 3 * rng_unif(), 0.3 + 3 * rng_unif(), 0.3 + 3 * rng_unif()};
        double dens = trial % 10 == 0 ? 0.0 : 0.02 + 0.4 * rng_unif();
        int64_t n = d[0] * d[1] * d[2];
        uint8_t *m = malloc((size_t)n);
        for (int64_t v = 0; v < n; v++)
            m[v] = rng_unif() < dens;
        double *o1 = malloc((size_t)n * sizeof *o1), *o3 = malloc((size_t)n * sizeof *o3);
        ctx.threads = 1;
        ck_assert_int_eq(ps_edt_sq(m, d, sp, o1, &ctx), 0);
        ctx.threads = 3;
        ck_assert_int_eq(ps_edt_sq(m, d, sp, o3, &ctx), 0);
        ck_assert(memcmp(o1, o3, (size_t)n * sizeof *o1) == 0);
        for (int64_t v = 0; v < n; v++) {
            int64_t i = v % d[0], j = (v / d[0]) % d[1], k = v / (d[0] * d[1]);
            double best = INFINITY;
            for (int64_t w = 0; w < n; w++) {
                if (!m[w]) continue;
                double dx = (double)(i - w % d[0]) * sp[0];
                double dy = (double)(j - (w / d[0]) % d[1]) * sp[1];
                double dz = (double)(k - w / (d[0] * d[1])) * sp[2];
                double e = dx * dx + dy * dy + dz * dz;
                if (e < best) best = e;
            }
            ck_assert_close(o1[v], best, 1e-12);
        }
        free(m);
        free(o1);
        free(o3);
    }
}
END_TEST

/* ps_edt_sq_query_: at every query voxel, the same bits as the full transform (which the
 * brute force above checks), with sparse queries that leave most lines out, at 1 and 3
 * threads, with a non-zero origin. */
START_TEST(test_edt_query_same_bits)
{
    rng_state = 0x2545f4914f6cdd1dull;
    ps_context ctx;
    ps_context_init(&ctx);
    for (int trial = 0; trial < 60; trial++) {
        int64_t d[3] = {1 + (int64_t)(rng_next() % 23), 1 + (int64_t)(rng_next() % 19),
                        1 + (int64_t)(rng_next() % 17)};
        int64_t org[3] = {(int64_t)(rng_next() % 50), (int64_t)(rng_next() % 50),
                          (int64_t)(rng_next() % 50)};
        double sp[3] = {0.3 + 3 * rng_unif(), 0.3 + 3 * rng_unif(), 0.3 + 3 * rng_unif()};
        double dens = trial % 10 == 0 ? 0.0 : 0.01 + 0.2 * rng_unif();
        double qdens = trial % 7 == 0 ? 0.0 : 0.002 + 0.05 * rng_unif();
        int64_t n = d[0] * d[1] * d[2];
        uint8_t *m = malloc((size_t)n), *q = malloc((size_t)n);
        for (int64_t v = 0; v < n; v++) {
            m[v] = rng_unif() < dens;
            q[v] = rng_unif() < qdens;
        }
        double *full = malloc((size_t)n * sizeof *full), *part = malloc((size_t)n * sizeof *part);
        ctx.threads = 1;
        ck_assert_int_eq(ps_edt_sq_at(m, d, sp, org, full, &ctx), 0);
        for (int t = 1; t <= 3; t += 2) {
            ctx.threads = t;
            for (int64_t v = 0; v < n; v++)
                part[v] = -1.0; /* what the skipped lines leave is never read */
            ck_assert_int_eq(ps_edt_sq_query_(m, d, sp, org, q, part, &ctx), 0);
            for (int64_t v = 0; v < n; v++)
                if (q[v])
                    ck_assert(memcmp(&part[v], &full[v], sizeof *part) == 0);
        }
        free(m);
        free(q);
        free(full);
        free(part);
    }
}
END_TEST

START_TEST(test_edt_errors)
{
    uint8_t m[1] = {1};
    double o[1];
    int64_t d[3] = {1, 0, 1};
    double sp[3] = {1, 1, 1};
    ck_assert_int_eq(ps_edt_sq(m, d, sp, o, NULL), PS_ERR_ARG);
    d[1] = 1;
    sp[2] = 0;
    ck_assert_int_eq(ps_edt_sq(m, d, sp, o, NULL), PS_ERR_ARG);
    ck_assert(strstr(ps_error_message(), "axis 2") != NULL);
}
END_TEST

/* ---- percentile rules -------------------------------------------------------------------------------- */
START_TEST(test_percentile_rules)
{
    /* numpy.percentile([4,1,3,2], q): sorted 1,2,3,4; h = q/100*3.
     * q=95: h=2.85 -> 3 + 0.85*1 = 3.85; q=50: 2.5; q=0: 1; q=100: 4. */
    double x[4];
    const double base[4] = {4, 1, 3, 2};
#define PCT(q, exp) memcpy(x, base, sizeof x); ck_assert_close(ps_percentile_linear(x, 4, q), exp, PS_TOL_EXACT)
    PCT(95, 3.85);
    PCT(50, 2.5);
    PCT(0, 1);
    PCT(100, 4);
#undef PCT
    double one = 7;
    ck_assert_close(ps_percentile_linear(&one, 1, 95), 7, 0);
    ck_assert(isnan(ps_percentile_linear(x, 0, 95)));
}
END_TEST

START_TEST(test_select_ties)
{
    rng_state = 12345;
    int64_t n = 2001;
    double *x = malloc((size_t)n * sizeof *x), *s = malloc((size_t)n * sizeof *s),
           *t = malloc((size_t)n * sizeof *t);
    for (int pattern = 0; pattern < 4; pattern++) {
        for (int64_t i = 0; i < n; i++)
            x[i] = pattern == 0 ? (double)(rng_next() % 6)        /* many ties */
                 : pattern == 1 ? (double)i                       /* sorted */
                 : pattern == 2 ? (double)(n - i)                 /* reversed */
                                : rng_unif();
        memcpy(s, x, (size_t)n * sizeof *s);
        qsort(s, (size_t)n, sizeof *s, cmpd);
        for (double q = 0; q <= 100; q += 2.5) {
            memcpy(t, x, (size_t)n * sizeof *t);
            ck_assert_close(ps_percentile_linear(t, n, q), bf_pct(x, n, q), PS_TOL_EXACT);
        }
    }
    free(x);
    free(s);
    free(t);
}
END_TEST

/* ---- hand-computed tiny case: a 20 x 1 x 1 line ------------------------------------------------------
 * Spacing (2, 1, 1) mm. Every mask voxel is a boundary voxel (its j and k neighbours are
 * outside the image). ref A = voxels 0..9, pred B = voxels 0..4 and 12.
 * In voxels: d(A->B) = 0,0,0,0,0,1,2,3,4,3 (voxel 8 is 4 from both 4 and 12; 9 is 3 from 12)
 *            d(B->A) = 0,0,0,0,0,3       (12 is 3 from 9)
 * In mm (x2): d(A->B) = 0,0,0,0,0,2,4,6,8,6;  d(B->A) = 0,0,0,0,0,6.
 * hd = 8.
 * medpy: pooled sorted (16): 0 x10, 2, 4, 6, 6, 6, 8; h = 0.95*15 = 14.25 -> 6 + 0.25*2 = 6.5
 * monai: A->B sorted 0x5,2,4,6,6,8: h = 0.95*9 = 8.55 -> 6 + 0.55*2 = 7.1
 *        B->A sorted 0x5,6:         h = 0.95*5 = 4.75 -> 0 + 0.75*6 = 4.5; max = 7.1
 * plastimatch: A->B n=10, floor(9.5-1) = 8 -> 6; B->A n=6, floor(5.7-1) = 4 -> 0;
 *        mean = 3.0
 * assd = (26 + 6) / 16 = 2.0; masd = (26/10 + 6/6) / 2 = 1.8
 * nsd (voxel, tol 2 mm): A->B within 2: 6 of 10; B->A: 5 of 6 -> 11/16 = 0.6875
 * overlap: tp 5, fp 1, fn 5, tn 9. dice 10/16, jaccard 5/11, sens 0.5, spec 0.9, prec 5/6.
 * voxel volume 2 mm^3: vol_ref 0.02 ml, vol_pred 0.012 ml, diff -0.008, rel -0.4.
 * volume_similarity 1 - |5-1|/16 = 0.75. kappa: po = 14/20 = 0.7,
 * pe = (10/20)(6/20) + (10/20)(14/20) = 0.5 -> (0.7-0.5)/0.5 = 0.4. */
static void line_case(ps_volume **a, ps_volume **b)
{
    *a = mkvol(20, 1, 1, 2, 1, 1, PS_DT_UINT8);
    *b = mkvol(20, 1, 1, 2, 1, 1, PS_DT_UINT8);
    box(*a, 0, 10, 0, 1, 0, 1, 1);
    box(*b, 0, 5, 0, 1, 0, 1, 1);
    setv(*b, 12, 0, 0, 1);
}

START_TEST(test_hand_line)
{
    ps_volume *a, *b;
    line_case(&a, &b);
    ps_case_metrics m = run(a, b, PS_HD_MEDPY, PS_NSD_VOXEL, 95, 2, 1);
    ck_assert_int_eq(m.status, PS_CASE_OK);
    ck_assert_int_eq(m.tp, 5);
    ck_assert_int_eq(m.fp, 1);
    ck_assert_int_eq(m.fn, 5);
    ck_assert_int_eq(m.tn, 9);
    ck_assert_close(m.dice, 10.0 / 16, PS_TOL_EXACT);
    ck_assert_close(m.jaccard, 5.0 / 11, PS_TOL_EXACT);
    ck_assert_close(m.sensitivity, 0.5, PS_TOL_EXACT);
    ck_assert_close(m.specificity, 0.9, PS_TOL_EXACT);
    ck_assert_close(m.precision, 5.0 / 6, PS_TOL_EXACT);
    ck_assert_close(m.vol_ref_ml, 0.02, PS_TOL_EXACT);
    ck_assert_close(m.vol_pred_ml, 0.012, PS_TOL_EXACT);
    ck_assert_close(m.vol_diff_ml, -0.008, PS_TOL_EXACT);
    ck_assert_close(m.rel_vol_diff, -0.4, PS_TOL_EXACT);
    ck_assert_close(m.volume_similarity, 0.75, PS_TOL_EXACT);
    ck_assert_close(m.kappa, 0.4, PS_TOL_EXACT);
    ck_assert_close(m.hd, 8, PS_TOL_EXACT);
    ck_assert_close(m.hd95, 6.5, PS_TOL_EXACT);
    ck_assert_close(m.hd95_ref_to_pred, 7.1, PS_TOL_EXACT);
    ck_assert_close(m.hd95_pred_to_ref, 4.5, PS_TOL_EXACT);
    ck_assert_close(m.assd, 2.0, PS_TOL_EXACT);
    ck_assert_close(m.masd, 1.8, PS_TOL_EXACT);
    ck_assert_close(m.nsd, 0.6875, PS_TOL_EXACT);

    m = run(a, b, PS_HD_MONAI, PS_NSD_VOXEL, 95, 2, 1);
    ck_assert_close(m.hd95, 7.1, PS_TOL_EXACT);
    ck_assert_close(m.hd95_ref_to_pred, 7.1, PS_TOL_EXACT);
    ck_assert_close(m.hd95_pred_to_ref, 4.5, PS_TOL_EXACT);

    m = run(a, b, PS_HD_PLASTIMATCH, PS_NSD_VOXEL, 95, 2, 1);
    ck_assert_close(m.hd95, 3.0, PS_TOL_EXACT);
    ck_assert_close(m.hd95_ref_to_pred, 6.0, PS_TOL_EXACT);
    ck_assert_close(m.hd95_pred_to_ref, 0.0, PS_TOL_EXACT);

    /* Other percentile: q = 50. medpy pooled h = 7.5 -> 0 + 0.5*0 = 0 (x7 = x8 = 0).
     * monai A->B h = 4.5 -> 0 + 0.5*(2-0) = 1; B->A h = 2.5 -> 0; max 1.
     * plastimatch A->B floor(5-1) = 4 -> 0; B->A floor(3-1) = 2 -> 0. */
    m = run(a, b, PS_HD_MEDPY, PS_NSD_VOXEL, 50, 2, 1);
    ck_assert_close(m.hd95, 0.0, PS_TOL_EXACT);
    m = run(a, b, PS_HD_MONAI, PS_NSD_VOXEL, 50, 2, 1);
    ck_assert_close(m.hd95, 1.0, PS_TOL_EXACT);
    /* q = 100 is the Hausdorff distance in the medpy and monai conventions */
    m = run(a, b, PS_HD_MEDPY, PS_NSD_VOXEL, 100, 2, 1);
    ck_assert_close(m.hd95, 8.0, PS_TOL_EXACT);
    /* tol 6 mm: A->B 9 of 10 (8 is out), B->A 6 of 6 -> 15/16 */
    m = run(a, b, PS_HD_MEDPY, PS_NSD_VOXEL, 95, 6, 1);
    ck_assert_close(m.nsd, 15.0 / 16, PS_TOL_EXACT);
    ps_volume_free(a);
    ps_volume_free(b);
}
END_TEST

/* ---- hand-computed surfel case -------------------------------------------------------------------
 * Grid 8 x 3 x 3, spacing (1.5, 0.7, 2.0). A = voxel (2,1,1), B = voxel (4,1,1).
 * A single voxel has 8 surfels (its corners), each with a one-bit code; the marching-cubes
 * surface there is one triangle cutting the corner with area vector 1/8 (+-1, +-1, +-1) in voxel
 * units, so every surfel has the same area a = 0.125 * |(s1 s2, s0 s2, s0 s1)|.
 * A's corners lie at i = 2 and 3, B's at i = 4 and 5 (same j, k values), so d(A->B) is
 * 1 voxel (1.5 mm) for the four corners at i = 3 and 2 voxels (3.0 mm) for the four at i = 2;
 * the same for B->A. Cumulative area fractions in distance order: 1/8, 2/8, ..., 1.
 * deepmind q=95: first fraction >= 0.95 is the 8th -> 3.0 in both directions -> 3.0.
 * deepmind q=40: first fraction >= 0.4 is the 4th (0.5) -> 1.5.
 * NSD surfel: tol 1.5 -> half the area of each surface is within -> 0.5; tol 3 -> 1.
 * NSD voxel: the single voxels are 3.0 mm apart -> 0 at tol 1.5, 1 at tol 3. */
START_TEST(test_hand_surfel)
{
    ps_volume *a = mkvol(8, 3, 3, 1.5, 0.7, 2.0, PS_DT_UINT8);
    ps_volume *b = mkvol(8, 3, 3, 1.5, 0.7, 2.0, PS_DT_UINT8);
    setv(a, 2, 1, 1, 1);
    setv(b, 4, 1, 1, 1);
    ps_case_metrics m = run(a, b, PS_HD_DEEPMIND, PS_NSD_SURFEL, 95, 1.5, 1);
    ck_assert_close(m.hd95, 3.0, PS_TOL_EXACT);
    ck_assert_close(m.hd95_ref_to_pred, 3.0, PS_TOL_EXACT);
    ck_assert_close(m.hd95_pred_to_ref, 3.0, PS_TOL_EXACT);
    ck_assert_close(m.nsd, 0.5, PS_TOL_EXACT);
    ck_assert_close(m.hd, 3.0, PS_TOL_EXACT); /* hd always from boundary voxels */
    m = run(a, b, PS_HD_DEEPMIND, PS_NSD_SURFEL, 40, 3.0, 1);
    ck_assert_close(m.hd95, 1.5, PS_TOL_EXACT);
    ck_assert_close(m.nsd, 1.0, PS_TOL_EXACT);
    m = run(a, b, PS_HD_MEDPY, PS_NSD_VOXEL, 95, 1.5, 1);
    ck_assert_close(m.nsd, 0.0, PS_TOL_EXACT);
    ck_assert_close(m.hd95, 3.0, PS_TOL_EXACT);
    m = run(a, b, PS_HD_MEDPY, PS_NSD_VOXEL, 95, 3.0, 1);
    ck_assert_close(m.nsd, 1.0, PS_TOL_EXACT);
    ps_volume_free(a);
    ps_volume_free(b);
}
END_TEST

/* Expected values published with the DeepMind package (surface-distance,
 * surface_distance_test.py, SurfaceDistance3DTest, 3 decimals): they check our surfel table
 * and weighting against the original lookup table. */
START_TEST(test_deepmind_package_cases)
{
    /* test_two_cubes_shifted_by_one_pixel: 100^3, gt[0:50, :, :], pred[0:51, :, :], spacing
     * (2, 1, 1): robust HD 100 = 2.0, HD 95 = 2.0, surface Dice at 1 mm = 0.836. */
    ps_volume *a = mkvol(100, 100, 100, 2, 1, 1, PS_DT_UINT8);
    ps_volume *b = mkvol(100, 100, 100, 2, 1, 1, PS_DT_UINT8);
    box(a, 0, 50, 0, 100, 0, 100, 1);
    box(b, 0, 51, 0, 100, 0, 100, 1);
    ps_case_metrics m = run(a, b, PS_HD_DEEPMIND, PS_NSD_SURFEL, 95, 1, 2);
    ck_assert_close_abs(m.hd95, 2.0, 5e-4);
    ck_assert_close_abs(m.nsd, 0.836, 5e-4);
    ck_assert_close_abs(m.dice, 0.990, 5e-4);
    m = run(a, b, PS_HD_DEEPMIND, PS_NSD_SURFEL, 100, 1, 2);
    ck_assert_close_abs(m.hd95, 2.0, 5e-4);
    ps_volume_free(a);
    ps_volume_free(b);
    /* test_on_2_pixels_2mm_away: 128^3, gt[50, 60, 70], pred[50, 60, 72], spacing (3, 2, 1):
     * HD 100 = HD 95 = 2.0, surface Dice at 1 mm = 0.5. */
    a = mkvol(128, 128, 128, 3, 2, 1, PS_DT_UINT8);
    b = mkvol(128, 128, 128, 3, 2, 1, PS_DT_UINT8);
    setv(a, 50, 60, 70, 1);
    setv(b, 50, 60, 72, 1);
    m = run(a, b, PS_HD_DEEPMIND, PS_NSD_SURFEL, 95, 1, 2);
    ck_assert_close_abs(m.hd95, 2.0, 5e-4);
    ck_assert_close_abs(m.nsd, 0.5, 5e-4);
    ps_volume_free(a);
    ps_volume_free(b);
}
END_TEST

START_TEST(test_surfel_areas)
{
    /* code 15 = the four voxels with dx = 1: a plane perpendicular to axis i through the
     * corner, area s_j * s_k. Code 1 (one voxel): one triangle, area vector (1,1,1)/8. */
    const double s[3] = {1.5, 0.7, 2.0};
    ck_assert_close(ps_surfel_code_area(15, s), 0.7 * 2.0, PS_TOL_EXACT);
    ck_assert_close(ps_surfel_code_area(240, s), 0.7 * 2.0, PS_TOL_EXACT);
    ck_assert_close(ps_surfel_code_area(1, s),
                    0.125 * sqrt(1.4 * 1.4 + 3.0 * 3.0 + 1.05 * 1.05), PS_TOL_EXACT);
    ck_assert_close(ps_surfel_code_area(0, s), 0, 0);
    ck_assert_close(ps_surfel_code_area(255, s), 0, 0);
    /* code 3 = voxels (1,1,0) and (1,1,1): a rectangle between the edge midpoints, 1 long
     * along k and sqrt(2)/2 wide in the (i, j) plane: area sqrt(2)/2 for unit spacing. */
    const double one[3] = {1, 1, 1};
    ck_assert_close(ps_surfel_code_area(3, one), sqrt(2.0) / 2, PS_TOL_EXACT);
    /* Complement symmetry: code c and 255 - c describe the same surface. */
    for (int c = 0; c < 256; c++)
        ck_assert_close(ps_surfel_code_area(c, s), ps_surfel_code_area(255 - c, s), 1e-12);
}
END_TEST

START_TEST(test_weighted_percentile)
{
    /* d = 3,1,2 with areas 1,1,2: sorted d 1,2,3 with areas 1,2,1; cumulative fraction
     * 0.25, 0.75, 1. q=50 -> first >= 0.5 is d=2; q=0 -> 1; q=100 -> 3; q=25 -> 1. */
    double d[3], w[3], r;
#define WP(q, exp) d[0] = 3; d[1] = 1; d[2] = 2; w[0] = 1; w[1] = 1; w[2] = 2; \
    ck_assert_int_eq(ps_percentile_weighted_first(d, w, 3, q, &r), 0); ck_assert_close(r, exp, 0)
    WP(50, 2);
    WP(0, 1);
    WP(100, 3);
    WP(25, 1);
    WP(76, 3);
#undef WP
}
END_TEST

START_TEST(test_plastimatch_rule)
{
    /* sorted 1,2,3,4 (n = 4): q=95: floor(3.8 - 1) = 2 -> 3; q=10: floor(-0.6) -> clamp 0 -> 1;
     * q=100: floor(3) = 3 -> 4; q=50: floor(1) = 1 -> 2 (exact product, no rounding down). */
    double x[4];
    const double base[4] = {4, 1, 3, 2};
#define PM(q, exp) memcpy(x, base, sizeof x); ck_assert_close(ps_percentile_plastimatch(x, 4, q), exp, 0)
    PM(95, 3);
    PM(10, 1);
    PM(100, 4);
    PM(50, 2);
#undef PM
    /* n = 20, q = 95: floor(19 - 1) = 18 -> the 19th smallest */
    double y[20];
    for (int i = 0; i < 20; i++)
        y[i] = 19 - i;
    ck_assert_close(ps_percentile_plastimatch(y, 20, 95), 18, 0);
}
END_TEST

/* ---- empty masks ------------------------------------------------------------------------------------ */
START_TEST(test_empty_policies)
{
    ps_volume *e = mkvol(20, 1, 1, 2, 1, 1, PS_DT_UINT8);
    ps_volume *b = mkvol(20, 1, 1, 2, 1, 1, PS_DT_UINT8);
    setv(b, 3, 0, 0, 1);
    ps_region r = region1();
    ps_metrics_options o;
    ps_metrics_options_init(&o);
    ps_case_metrics m;
    const double diag = sqrt(40.0 * 40.0 + 1 + 1); /* (20*2, 1*1, 1*1) mm field of view */

    /* ref empty, pred one voxel: tp 0 fp 1 fn 0 tn 19 */
    ck_assert_int_eq(ps_metrics_compute(e, b, &r, &o, NULL, &m), 0);
    ck_assert_int_eq(m.status, PS_CASE_REF_EMPTY);
    ck_assert_str_eq(ps_case_status_name(m.status), "ref_empty");
    ck_assert_close(m.dice, 0, 0);
    ck_assert(isnan(m.sensitivity));
    ck_assert_close(m.precision, 0, 0);
    ck_assert(isnan(m.rel_vol_diff));
    ck_assert_close(m.volume_similarity, 0, 0); /* 1 - |0-1|/1 */
    ck_assert_close(m.kappa, 0, 0);             /* 2(0*19 - 0*1) / (1*20 + 0) */
    ck_assert(isnan(m.hd) && isnan(m.hd95) && isnan(m.assd) && isnan(m.masd) && isnan(m.nsd));
    o.empty = PS_EMPTY_INF;
    ck_assert_int_eq(ps_metrics_compute(e, b, &r, &o, NULL, &m), 0);
    ck_assert(isinf(m.hd) && isinf(m.hd95) && isinf(m.hd95_pred_to_ref) && isinf(m.assd));
    ck_assert_close(m.nsd, 0, 0);
    o.empty = PS_EMPTY_WORST;
    ck_assert_int_eq(ps_metrics_compute(b, e, &r, &o, NULL, &m), 0);
    ck_assert_int_eq(m.status, PS_CASE_PRED_EMPTY);
    ck_assert_close(m.hd, diag, PS_TOL_EXACT);
    ck_assert_close(m.hd95, diag, PS_TOL_EXACT);
    ck_assert_close(m.masd, diag, PS_TOL_EXACT);
    ck_assert_close(m.nsd, 0, 0);
    ck_assert(isnan(m.precision));
    ck_assert_close(m.sensitivity, 0, 0);

    /* both empty: dice/jaccard/volume_similarity per empty_dice, distances NaN always */
    for (int pol = 0; pol < 3; pol++) {
        o.empty = (ps_empty_policy)pol;
        o.empty_dice = PS_EMPTY_DICE_ONE;
        ck_assert_int_eq(ps_metrics_compute(e, e, &r, &o, NULL, &m), 0);
        ck_assert_int_eq(m.status, PS_CASE_BOTH_EMPTY);
        ck_assert_close(m.dice, 1, 0);
        ck_assert_close(m.jaccard, 1, 0);
        ck_assert_close(m.volume_similarity, 1, 0);
        ck_assert(isnan(m.sensitivity) && isnan(m.precision) && isnan(m.kappa));
        ck_assert_close(m.specificity, 1, 0);
        ck_assert_close(m.vol_ref_ml, 0, 0);
        ck_assert(isnan(m.hd) && isnan(m.hd95) && isnan(m.assd) && isnan(m.nsd));
        o.empty_dice = PS_EMPTY_DICE_NAN;
        ck_assert_int_eq(ps_metrics_compute(e, e, &r, &o, NULL, &m), 0);
        ck_assert(isnan(m.dice) && isnan(m.jaccard) && isnan(m.volume_similarity));
    }
    /* distances switched off: NaN even when both masks are present */
    ps_metrics_options_init(&o);
    o.distances = 0;
    ck_assert_int_eq(ps_metrics_compute(b, b, &r, &o, NULL, &m), 0);
    ck_assert_int_eq(m.status, PS_CASE_OK);
    ck_assert_close(m.dice, 1, 0);
    ck_assert(isnan(m.hd) && isnan(m.nsd));
    ps_volume_free(e);
    ps_volume_free(b);
}
END_TEST

/* ---- analytic phantoms ---------------------------------------------------------------------------- */
START_TEST(test_cube_shift)
{
    /* Two 10^3 cubes, spacing (0.8, 0.9, 2.5). For a box shifted by t, the boundary of B is the
     * boundary of A shifted by t, so every directed distance is <= |t| (take the same voxel),
     * and the corner of A opposite to t is exactly |t| from B: HD = |t|.
     * Shift 3 along k: overlap 7 of 10 slices, Dice = 2*700/2000 = 0.7, Jaccard = 700/1300.
     * Volume: 1000 * 0.8*0.9*2.5 mm^3 = 1.8 ml. */
    const int shifts[3][3] = {{0, 0, 3}, {2, 0, 0}, {2, 1, 0}};
    for (int s = 0; s < 3; s++) {
        ps_volume *a = mkvol(20, 22, 24, 0.8, 0.9, 2.5, PS_DT_UINT8);
        ps_volume *b = mkvol(20, 22, 24, 0.8, 0.9, 2.5, PS_DT_UINT8);
        const int *t = shifts[s];
        box(a, 5, 15, 6, 16, 4, 14, 1);
        box(b, 5 + t[0], 15 + t[0], 6 + t[1], 16 + t[1], 4 + t[2], 14 + t[2], 1);
        double len = sqrt(pow(t[0] * 0.8, 2) + pow(t[1] * 0.9, 2) + pow(t[2] * 2.5, 2));
        double ov = (10.0 - t[0]) * (10 - t[1]) * (10 - t[2]);
        for (int hm = 0; hm < 4; hm++) {
            ps_case_metrics m = run(a, b, (ps_hd_method)hm, PS_NSD_VOXEL, 100, 2, 2);
            ck_assert_close(m.hd, len, PS_TOL_EXACT);
            if (hm != PS_HD_DEEPMIND) /* q = 100: the largest directed distance */
                ck_assert_close(fmax(m.hd95_ref_to_pred, m.hd95_pred_to_ref), len, PS_TOL_EXACT);
            ck_assert_close(m.dice, 2 * ov / 2000, PS_TOL_EXACT);
            ck_assert_close(m.jaccard, ov / (2000 - ov), PS_TOL_EXACT);
            ck_assert_close(m.vol_ref_ml, 1.8, PS_TOL_EXACT);
            ck_assert_close(m.vol_pred_ml, 1.8, PS_TOL_EXACT);
            ck_assert_close(m.volume_similarity, 1, PS_TOL_EXACT);
        }
        /* DeepMind surfels: the surfel surface of B is that of A shifted by t as well, so the
         * same argument gives the robust HD at q = 100 equal to |t|. */
        ps_case_metrics m = run(a, b, PS_HD_DEEPMIND, PS_NSD_SURFEL, 100, 2, 1);
        ck_assert_close(m.hd95, len, PS_TOL_EXACT);
        ps_volume_free(a);
        ps_volume_free(b);
    }
}
END_TEST

START_TEST(test_concentric_cubes)
{
    /* A = 10^3 cube, B = 6^3 cube centred inside (2 voxels from every face), spacing
     * (0.7, 1.1, 1.9). The farthest boundary point from the other boundary is a corner of A:
     * its nearest B boundary voxel is B's corner, 2 voxels away on each axis:
     * HD = 2 sqrt(0.7^2 + 1.1^2 + 1.9^2). Every B boundary voxel lies on a face of B, 2 voxels
     * from the parallel face of A, so every directed distance is below the HD.
     * Dice = 2*216/1216, sensitivity 216/1000, precision 1. */
    ps_volume *a = mkvol(14, 14, 14, 0.7, 1.1, 1.9, PS_DT_UINT8);
    ps_volume *b = mkvol(14, 14, 14, 0.7, 1.1, 1.9, PS_DT_UINT8);
    box(a, 2, 12, 2, 12, 2, 12, 1);
    box(b, 4, 10, 4, 10, 4, 10, 1);
    ps_case_metrics m = run(a, b, PS_HD_MEDPY, PS_NSD_VOXEL, 95, 2, 2);
    ck_assert_close(m.hd, 2 * sqrt(0.49 + 1.21 + 3.61), PS_TOL_EXACT);
    ck_assert_close(m.dice, 2 * 216.0 / 1216, PS_TOL_EXACT);
    ck_assert_close(m.sensitivity, 0.216, PS_TOL_EXACT);
    ck_assert_close(m.precision, 1, PS_TOL_EXACT);
    ck_assert_close(m.vol_ref_ml, 1000 * 0.7 * 1.1 * 1.9 / 1000, PS_TOL_EXACT);
    ps_volume_free(a);
    ps_volume_free(b);
}
END_TEST

START_TEST(test_sphere)
{
    /* Ball of radius 6 voxels (centre at a voxel), spacing (1.2, 0.8, 1.5); B = A shifted by
     * 2 voxels along j. Convex shape shifted by t: HD = |t| = 1.6 mm (argument as for cubes,
     * using the pole of A opposite to t). A against itself: Dice 1, every distance 0, NSD 1.
     * Volume: the count of voxels with (i-c)^2 + (j-c)^2 + (k-c)^2 <= 36, times 1.44 mm^3. */
    ps_volume *a = mkvol(20, 22, 20, 1.2, 0.8, 1.5, PS_DT_UINT8);
    ps_volume *b = mkvol(20, 22, 20, 1.2, 0.8, 1.5, PS_DT_UINT8);
    int64_t count = 0;
    for (int k = 0; k < 20; k++)
        for (int j = 0; j < 20; j++)
            for (int i = 0; i < 20; i++)
                if ((i - 10) * (i - 10) + (j - 10) * (j - 10) + (k - 10) * (k - 10) <= 36) {
                    setv(a, i, j, k, 1);
                    setv(b, i, j + 2, k, 1);
                    count++;
                }
    for (int hm = 0; hm < 4; hm++) {
        ps_case_metrics m = run(a, b, (ps_hd_method)hm, PS_NSD_VOXEL, 95, 2, 1);
        ck_assert_close(m.hd, 1.6, PS_TOL_EXACT);
        ck_assert_close(m.vol_ref_ml, (double)count * 1.44 / 1000, PS_TOL_EXACT);
        ck_assert(m.hd95 <= 1.6 + 1e-12 && m.hd95 > 0);
        m = run(a, a, (ps_hd_method)hm, (ps_nsd_method)(hm % 2), 95, 2, 1);
        ck_assert_close(m.dice, 1, 0);
        ck_assert_close(m.hd, 0, 0);
        ck_assert_close(m.hd95, 0, 0);
        ck_assert_close(m.assd, 0, 0);
        ck_assert_close(m.masd, 0, 0);
        ck_assert_close(m.nsd, 1, 0);
        ck_assert_close(m.kappa, 1, PS_TOL_EXACT);
    }
    ps_volume_free(a);
    ps_volume_free(b);
}
END_TEST

/* ---- brute force on random masks (image-edge boundaries included) ------------------------------------ */
static void check_against_bruteforce(const ps_volume *a, const ps_volume *b)
{
    dlist ab = bf_directed(a, b), ba = bf_directed(b, a);
    ck_assert(ab.n > 0 && ba.n > 0);
    double *pool = malloc((size_t)(ab.n + ba.n) * sizeof *pool);
    memcpy(pool, ab.d, (size_t)ab.n * sizeof *pool);
    memcpy(pool + ab.n, ba.d, (size_t)ba.n * sizeof *pool);
    double hd = 0, sab = 0, sba = 0;
    int64_t within = 0;
    for (int64_t i = 0; i < ab.n; i++) { hd = fmax(hd, ab.d[i]); sab += ab.d[i]; within += ab.d[i] <= 2.0; }
    for (int64_t i = 0; i < ba.n; i++) { hd = fmax(hd, ba.d[i]); sba += ba.d[i]; within += ba.d[i] <= 2.0; }
    for (int t = 1; t <= 3; t++) {
        ps_case_metrics m = run(a, b, PS_HD_MEDPY, PS_NSD_VOXEL, 95, 2, t);
        ck_assert_close(m.hd, hd, 1e-12);
        ck_assert_close(m.hd95, bf_pct(pool, ab.n + ba.n, 95), 1e-12);
        ck_assert_close(m.hd95_ref_to_pred, bf_pct(ab.d, ab.n, 95), 1e-12);
        ck_assert_close(m.hd95_pred_to_ref, bf_pct(ba.d, ba.n, 95), 1e-12);
        ck_assert_close(m.assd, (sab + sba) / (double)(ab.n + ba.n), 1e-12);
        ck_assert_close(m.masd, 0.5 * (sab / (double)ab.n + sba / (double)ba.n), 1e-12);
        ck_assert_close(m.nsd, (double)within / (double)(ab.n + ba.n), 1e-12);
        m = run(a, b, PS_HD_MONAI, PS_NSD_VOXEL, 90, 2, t);
        ck_assert_close(m.hd95, fmax(bf_pct(ab.d, ab.n, 90), bf_pct(ba.d, ba.n, 90)), 1e-12);
    }
    free(pool);
    free(ab.d);
    free(ba.d);
}

START_TEST(test_random_bruteforce)
{
    rng_state = 777;
    for (int trial = 0; trial < 12; trial++) {
        int64_t nx = 4 + (int64_t)(rng_next() % 8), ny = 3 + (int64_t)(rng_next() % 8),
                nz = 2 + (int64_t)(rng_next() % 7);
        double sx = 0.5 + 2 * rng_unif(), sy = 0.5 + 2 * rng_unif(), sz = 0.5 + 3 * rng_unif();
        ps_volume *a = mkvol(nx, ny, nz, sx, sy, sz, PS_DT_UINT8);
        ps_volume *b = mkvol(nx, ny, nz, sx, sy, sz, PS_DT_UINT8);
        /* masks fill the whole grid region, so they touch the image edge */
        random_blob(a, 0, 0, 0, nx, ny, nz, 0.2 + 0.5 * rng_unif());
        random_blob(b, 0, 0, 0, nx, ny, nz, 0.2 + 0.5 * rng_unif());
        check_against_bruteforce(a, b);
        ps_volume_free(a);
        ps_volume_free(b);
    }
}
END_TEST

/* ---- crop invariance ------------------------------------------------------------------------------ */
static int same_distance_fields(const ps_case_metrics *x, const ps_case_metrics *y)
{
    return x->tp == y->tp && x->fp == y->fp && x->fn == y->fn && x->dice == y->dice &&
           x->jaccard == y->jaccard && x->vol_ref_ml == y->vol_ref_ml &&
           fabs(x->hd - y->hd) < 1e-12 && fabs(x->hd95 - y->hd95) < 1e-12 &&
           fabs(x->hd95_pred_to_ref - y->hd95_pred_to_ref) < 1e-12 &&
           fabs(x->hd95_ref_to_pred - y->hd95_ref_to_pred) < 1e-12 &&
           fabs(x->assd - y->assd) < 1e-12 && fabs(x->masd - y->masd) < 1e-12 &&
           fabs(x->nsd - y->nsd) < 1e-12;
}

START_TEST(test_crop_invariance)
{
    rng_state = 4242;
    for (int trial = 0; trial < 4; trial++) {
        /* small grid with a one-voxel empty margin: masks do not touch its edge */
        ps_volume *a = mkvol(12, 11, 10, 0.9, 1.3, 2.2, PS_DT_UINT8);
        ps_volume *b = mkvol(12, 11, 10, 0.9, 1.3, 2.2, PS_DT_UINT8);
        ps_volume *A = mkvol(31, 26, 21, 0.9, 1.3, 2.2, PS_DT_UINT8);
        ps_volume *B = mkvol(31, 26, 21, 0.9, 1.3, 2.2, PS_DT_UINT8);
        random_blob(a, 1, 1, 1, 10, 9, 8, 0.4);
        random_blob(b, 1, 1, 1, 10, 9, 8, 0.4);
        for (int64_t k = 0; k < 10; k++)
            for (int64_t j = 0; j < 11; j++)
                for (int64_t i = 0; i < 12; i++) {
                    int64_t v = (k * 11 + j) * 12 + i;
                    setv(A, i + 7, j + 5, k + 3, getv(a, v));
                    setv(B, i + 7, j + 5, k + 3, getv(b, v));
                }
        for (int hm = 0; hm < 4; hm++)
            for (int nm = 0; nm < 2; nm++) {
                ps_case_metrics s = run(a, b, (ps_hd_method)hm, (ps_nsd_method)nm, 95, 2, 1);
                ps_case_metrics l = run(A, B, (ps_hd_method)hm, (ps_nsd_method)nm, 95, 2, 2);
                ck_assert_msg(same_distance_fields(&s, &l), "crop changed a result (hd %d nsd %d)",
                              hm, nm);
                ck_assert_int_eq(l.tn - s.tn, 31 * 26 * 21 - 12 * 11 * 10);
            }
        ps_volume_free(a);
        ps_volume_free(b);
        ps_volume_free(A);
        ps_volume_free(B);
    }
}
END_TEST

START_TEST(test_image_edge_boundary)
{
    /* A 3 x 3 x 3 cube filling a 3^3 image and B = its centre voxel: every voxel of A but
     * the centre touches the image edge, so A's boundary is 26 voxels and d(A->B) are the
     * distances of the 26 neighbours to the centre. In the same masks padded by one voxel,
     * A's boundary is again 26 voxels (the centre is interior), so results agree; a mask
     * whose interior touches the image edge differs: A = 3 x 3 x 5 slab filling the image
     * along k with 4 x... checked against brute force in test_random_bruteforce. Here:
     * spacing 1: the neighbours are at 1 (6 faces), sqrt 2 (12 edges), sqrt 3 (8 corners):
     * hd = sqrt 3; assd = (6 + 12 sqrt2 + 8 sqrt3 + 0) / (26 + 1). */
    ps_volume *a = mkvol(3, 3, 3, 1, 1, 1, PS_DT_UINT8);
    ps_volume *b = mkvol(3, 3, 3, 1, 1, 1, PS_DT_UINT8);
    box(a, 0, 3, 0, 3, 0, 3, 1);
    setv(b, 1, 1, 1, 1);
    ps_case_metrics m = run(a, b, PS_HD_MEDPY, PS_NSD_VOXEL, 95, 2, 1);
    ck_assert_close(m.hd, sqrt(3.0), PS_TOL_EXACT);
    ck_assert_close(m.assd, (6 + 12 * sqrt(2.0) + 8 * sqrt(3.0) + 1) / 27, PS_TOL_EXACT);
    /* B->A: the centre voxel is 1 from the face centres of A: masd = (mean(A->B) + 1) / 2 */
    ck_assert_close(m.masd, 0.5 * ((6 + 12 * sqrt(2.0) + 8 * sqrt(3.0)) / 26 + 1), PS_TOL_EXACT);
    /* Without the image-edge rule A would have no boundary at all; with a 5 x 5 x 5 image
     * (A not touching the edge) the boundary is the same 26 voxels: */
    ps_volume *A = mkvol(5, 5, 5, 1, 1, 1, PS_DT_UINT8);
    ps_volume *B = mkvol(5, 5, 5, 1, 1, 1, PS_DT_UINT8);
    box(A, 1, 4, 1, 4, 1, 4, 1);
    setv(B, 2, 2, 2, 1);
    ps_case_metrics M = run(A, B, PS_HD_MEDPY, PS_NSD_VOXEL, 95, 2, 1);
    ck_assert(same_distance_fields(&m, &M));
    ps_volume_free(a);
    ps_volume_free(b);
    ps_volume_free(A);
    ps_volume_free(B);
}
END_TEST

/* ---- threads ---------------------------------------------------------------------------------------- */
START_TEST(test_thread_equality)
{
    rng_state = 99;
    ps_volume *a = mkvol(40, 35, 30, 0.78, 0.78, 2.5, PS_DT_UINT8);
    ps_volume *b = mkvol(40, 35, 30, 0.78, 0.78, 2.5, PS_DT_UINT8);
    random_blob(a, 3, 4, 2, 30, 25, 24, 0.35);
    random_blob(b, 5, 3, 3, 30, 25, 24, 0.35);
    for (int hm = 0; hm < 4; hm++)
        for (int nm = 0; nm < 2; nm++) {
            ps_case_metrics m1 = run(a, b, (ps_hd_method)hm, (ps_nsd_method)nm, 95, 2, 1);
            ps_case_metrics m2 = run(a, b, (ps_hd_method)hm, (ps_nsd_method)nm, 95, 2, 2);
            ps_case_metrics m3 = run(a, b, (ps_hd_method)hm, (ps_nsd_method)nm, 95, 2, 3);
            ck_assert(memcmp(&m1, &m2, sizeof m1) == 0);
            ck_assert(memcmp(&m1, &m3, sizeof m1) == 0);
        }
    ps_volume_free(a);
    ps_volume_free(b);
}
END_TEST

START_TEST(test_nested_parallel)
{
    /* Cases evaluated in parallel by an outer loop, each asking for 3 threads inside (OpenMP
     * runs the inner regions with a smaller team): same results as one case at a time. */
    rng_state = 31337;
    ps_volume *a[4], *b[4];
    ps_case_metrics serial[4], nested[4];
    for (int c = 0; c < 4; c++) {
        a[c] = mkvol(24, 20, 16, 0.8, 0.9, 2.0, PS_DT_UINT8);
        b[c] = mkvol(24, 20, 16, 0.8, 0.9, 2.0, PS_DT_UINT8);
        random_blob(a[c], 2, 2, 2, 20, 16, 12, 0.3);
        random_blob(b[c], 3, 2, 1, 20, 16, 12, 0.3);
        serial[c] = run(a[c], b[c], PS_HD_MEDPY, PS_NSD_SURFEL, 95, 2, 1);
    }
    int rc[4] = {0};
#pragma omp parallel for num_threads(2)
    for (int c = 0; c < 4; c++) {
        ps_metrics_options o;
        ps_metrics_options_init(&o);
        o.nsd_method = PS_NSD_SURFEL;
        ps_context ctx;
        ps_context_init(&ctx);
        ctx.threads = 3;
        ps_region r;
        ps_region_parse("1", &r);
        rc[c] = ps_metrics_compute(a[c], b[c], &r, &o, &ctx, &nested[c]);
    }
    for (int c = 0; c < 4; c++) {
        ck_assert_int_eq(rc[c], 0);
        ck_assert(memcmp(&serial[c], &nested[c], sizeof serial[c]) == 0);
        ps_volume_free(a[c]);
        ps_volume_free(b[c]);
    }
}
END_TEST

/* ---- label maps, regions, dtypes -------------------------------------------------------------------- */
START_TEST(test_regions_and_dtypes)
{
    /* ref uint8 with labels 1, 2, 5; pred int32 with labels 1, 2, 5, 300. A region's mask is
     * the union of its labels, whatever the dtype: compare with binary maps built directly. */
    rng_state = 5;
    ps_volume *r8 = mkvol(9, 8, 7, 1, 1, 1.5, PS_DT_UINT8);
    ps_volume *p32 = mkvol(9, 8, 7, 1, 1, 1.5, PS_DT_INT32);
    const int32_t lab[5] = {0, 1, 2, 5, 300};
    for (int64_t v = 0; v < 9 * 8 * 7; v++) {
        ((uint8_t *)r8->data)[v] = (uint8_t)lab[rng_next() % 4];
        ((int32_t *)p32->data)[v] = lab[rng_next() % 5];
    }
    const char *regions[3] = {"1+2", "5+1", "2"};
    for (int ri = 0; ri < 3; ri++) {
        ps_region reg;
        ck_assert_int_eq(ps_region_parse(regions[ri], &reg), 0);
        ps_volume *ra = mkvol(9, 8, 7, 1, 1, 1.5, PS_DT_UINT8);
        ps_volume *pb = mkvol(9, 8, 7, 1, 1, 1.5, PS_DT_UINT8);
        for (int64_t v = 0; v < 9 * 8 * 7; v++) {
            for (int k = 0; k < reg.n; k++) {
                if (getv(r8, v) == reg.labels[k]) ((uint8_t *)ra->data)[v] = 1;
                if (getv(p32, v) == reg.labels[k]) ((uint8_t *)pb->data)[v] = 1;
            }
        }
        ps_metrics_options o;
        ps_metrics_options_init(&o);
        ps_case_metrics m1, m2;
        ck_assert_int_eq(ps_metrics_compute(r8, p32, &reg, &o, NULL, &m1), 0);
        ps_region one = region1();
        ck_assert_int_eq(ps_metrics_compute(ra, pb, &one, &o, NULL, &m2), 0);
        ck_assert(memcmp(&m1, &m2, sizeof m1) == 0);
        ps_volume_free(ra);
        ps_volume_free(pb);
    }
    int32_t *labels;
    int n;
    ck_assert_int_eq(ps_labels_present(r8, p32, &labels, &n), 0);
    ck_assert_int_eq(n, 4);
    ck_assert_int_eq(labels[0], 1);
    ck_assert_int_eq(labels[1], 2);
    ck_assert_int_eq(labels[2], 5);
    ck_assert_int_eq(labels[3], 300);
    free(labels);
    ps_volume_free(r8);
    ps_volume_free(p32);
}
END_TEST

START_TEST(test_parsers)
{
    ps_region r;
    char buf[16 * 12];
    ck_assert_int_eq(ps_region_parse("2+1+2", &r), 0);
    ck_assert_int_eq(r.n, 2);
    ps_region_format(&r, buf, sizeof buf);
    ck_assert_str_eq(buf, "1+2");
    ck_assert_int_eq(ps_region_parse(" 7 ", &r), 0);
    ck_assert_int_eq(r.labels[0], 7);
    const char *bad[] = {"", "0", "1+", "+1", "a", "1+-2", "99999999999",
                         "1+2+3+4+5+6+7+8+9+10+11+12+13+14+15+16+17"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        ck_assert_int_eq(ps_region_parse(bad[i], &r), PS_ERR_ARG);
        ck_assert(strstr(ps_error_message(), "region") || strstr(ps_error_message(), "label"));
    }
    ps_region *list;
    int n;
    ck_assert_int_eq(ps_region_list_parse("1,2,1+2", &list, &n), 0);
    ck_assert_int_eq(n, 3);
    ck_assert_int_eq(list[2].n, 2);
    free(list);
    ck_assert_int_eq(ps_region_list_parse("1,,2", &list, &n), PS_ERR_ARG);
    ck_assert_msg(strstr(ps_error_message(), "item 2") != NULL, "%s", ps_error_message());
    /* issue 12 A16: a label or region listed twice is an error (2+1 is the region 1+2) */
    ck_assert_int_eq(ps_region_list_parse("1,1", &list, &n), PS_ERR_ARG);
    ck_assert_msg(strstr(ps_error_message(), "label 1 is listed twice") != NULL, "%s",
                  ps_error_message());
    ck_assert_int_eq(ps_region_list_parse("1+2,3,2+1", &list, &n), PS_ERR_ARG);
    ck_assert_msg(strstr(ps_error_message(), "items 1 and 3") != NULL, "%s",
                  ps_error_message());

    ps_hd_method hm;
    ck_assert_int_eq(ps_hd_method_parse("deepmind", &hm), 0);
    ck_assert_int_eq(hm, PS_HD_DEEPMIND);
    ck_assert_str_eq(ps_hd_method_name(PS_HD_PLASTIMATCH), "plastimatch");
    ck_assert_int_eq(ps_hd_method_parse("scipy", &hm), PS_ERR_ARG);
    ck_assert_msg(strstr(ps_error_message(), "medpy, monai, deepmind, plastimatch") != NULL,
                  "%s", ps_error_message());
    ps_nsd_method nm;
    ck_assert_int_eq(ps_nsd_method_parse("surfel", &nm), 0);
    ck_assert_int_eq(nm, PS_NSD_SURFEL);
    ck_assert_int_eq(ps_nsd_method_parse("area", &nm), PS_ERR_ARG);
    ps_empty_policy ep;
    ck_assert_int_eq(ps_empty_policy_parse("worst", &ep), 0);
    ck_assert_int_eq(ep, PS_EMPTY_WORST);
    ck_assert_int_eq(ps_empty_policy_parse("zero", &ep), PS_ERR_ARG);
    ps_empty_dice ed;
    ck_assert_int_eq(ps_empty_dice_parse("nan", &ed), 0);
    ck_assert_int_eq(ed, PS_EMPTY_DICE_NAN);
    ck_assert_int_eq(ps_empty_dice_parse("0", &ed), PS_ERR_ARG);
}
END_TEST

START_TEST(test_columns)
{
    ck_assert_int_eq(ps_metric_ncolumns, 22);
    ck_assert_str_eq(ps_metric_columns[0].name, "tp");
    ck_assert_str_eq(ps_metric_columns[ps_metric_ncolumns - 1].name, "nsd");
    ps_case_metrics m;
    memset(&m, 0, sizeof m);
    m.hd95 = 12.5;
    m.tn = 77;
    int seen_hd95 = 0, seen_tn = 0;
    for (int c = 0; c < ps_metric_ncolumns; c++) {
        const ps_metric_column *col = &ps_metric_columns[c];
        ck_assert(col->doc && *col->doc);
        ck_assert(col->offset + (col->kind == PS_MK_INT64 ? 8 : 8) <= sizeof m);
        if (!strcmp(col->name, "hd95"))
            seen_hd95 = *(const double *)((const char *)&m + col->offset) == 12.5;
        if (!strcmp(col->name, "tn"))
            seen_tn = *(const int64_t *)((const char *)&m + col->offset) == 77;
        for (int d = 0; d < c; d++)
            ck_assert(strcmp(col->name, ps_metric_columns[d].name) != 0);
    }
    ck_assert(seen_hd95 && seen_tn);
}
END_TEST

START_TEST(test_errors)
{
    ps_volume *a = mkvol(5, 5, 5, 1, 1, 1, PS_DT_UINT8);
    ps_volume *b = mkvol(5, 5, 6, 1, 1, 1, PS_DT_UINT8);
    ps_volume *f = mkvol(5, 5, 5, 1, 1, 1, PS_DT_FLOAT32);
    ps_region r = region1();
    ps_metrics_options o;
    ps_metrics_options_init(&o);
    ps_case_metrics m;
    ck_assert_int_eq(ps_metrics_compute(a, b, &r, &o, NULL, &m), PS_ERR_GEOMETRY);
    ck_assert_int_eq(m.status, PS_CASE_ERROR);
    ck_assert_int_eq(ps_metrics_compute(a, f, &r, &o, NULL, &m), PS_ERR_UNSUPPORTED);
    ck_assert_msg(strstr(ps_error_message(), "prediction") && strstr(ps_error_message(), "float32"),
                  "%s", ps_error_message());
    o.percentile = 101;
    ck_assert_int_eq(ps_metrics_compute(a, a, &r, &o, NULL, &m), PS_ERR_ARG);
    ck_assert(strstr(ps_error_message(), "101") != NULL);
    ps_metrics_options_init(&o);
    o.nsd_tol_mm = -1;
    ck_assert_int_eq(ps_metrics_compute(a, a, &r, &o, NULL, &m), PS_ERR_ARG);
    ps_metrics_options_init(&o);
    ps_region z = {0};
    ck_assert_int_eq(ps_metrics_compute(a, a, &z, &o, NULL, &m), PS_ERR_ARG);
    ck_assert_int_eq(ps_metrics_compute(NULL, a, &r, &o, NULL, &m), PS_ERR_ARG);
    /* a 4D map, a zero spacing, a float map in ps_labels_present */
    ps_geometry g4;
    ps_geometry_init(&g4, 5, 5, 5, 1, 1, 1);
    ps_volume *v4 = NULL;
    ck_assert_int_eq(ps_volume_create(&g4, 2, PS_DT_UINT8, &v4), 0);
    ck_assert_int_eq(ps_metrics_compute(v4, a, &r, &o, NULL, &m), PS_ERR_UNSUPPORTED);
    ck_assert_msg(strstr(ps_error_message(), "reference") && strstr(ps_error_message(), "3D"),
                  "%s", ps_error_message());
    ps_volume_free(v4);
    ps_volume *z0 = mkvol(5, 5, 5, 1, 1, 1, PS_DT_UINT8);
    z0->geom.spacing_mm[1] = 0;
    ck_assert_int_eq(ps_metrics_compute(a, z0, &r, &o, NULL, &m), PS_ERR_FORMAT);
    ck_assert_msg(strstr(ps_error_message(), "pixdim[2]") != NULL, "%s", ps_error_message());
    ps_volume_free(z0);
    int32_t *labels = NULL;
    int nl = -1;
    ck_assert_int_eq(ps_labels_present(a, f, &labels, &nl), PS_ERR_UNSUPPORTED);
    ck_assert(labels == NULL && nl == 0);
    o.hd_method = (ps_hd_method)9;
    ck_assert_int_eq(ps_metrics_compute(a, a, &r, &o, NULL, &m), PS_ERR_ARG);
    ps_metrics_options_init(&o);
    ps_region unsorted = {2, {3, 1}};
    ck_assert_int_eq(ps_metrics_compute(a, a, &unsorted, &o, NULL, &m), PS_ERR_ARG);
    ck_assert(strstr(ps_error_message(), "sorted") != NULL);
    /* defaults when opt is NULL */
    ck_assert_int_eq(ps_metrics_compute(a, a, &r, NULL, NULL, &m), 0);
    ck_assert_int_eq(m.status, PS_CASE_BOTH_EMPTY);
    ck_assert_close(m.dice, 1, 0);
    ps_volume_free(a);
    ps_volume_free(b);
    ps_volume_free(f);
}
END_TEST


/* ps_label_scan_volume against a brute-force scan, and ps_metrics_compute_box with the union
 * of the two boxes against ps_metrics_compute over the whole volume: identical bytes. Random
 * sparse label maps (uint8 and int32, labels up to 300), including an all-zero one. */
START_TEST(test_label_scan_and_box)
{
    rng_state = 0x5eed5eedull;
    for (int trial = 0; trial < 18; trial++) {
        /* trials 12..17: rows of 256, 302 and 348 bytes (uint8) and of 416, 520 and 624 bytes
         * (int32), so the scan's 256-byte steps and their tails both hold labels, and one
         * voxel sits at the last and one at the first byte of a row */
        int64_t nx = trial < 12 ? 37 + trial : trial % 2 ? 13 * trial - 65 : 256 + 23 * (trial - 12);
        int64_t ny = 21, nz = 9 + trial % 3;
        ps_dtype dt = trial % 2 ? PS_DT_INT32 : PS_DT_UINT8;
        ps_volume *a = mkvol(nx, ny, nz, 0.8, 0.9, 2.5, dt);
        ps_volume *b = mkvol(nx, ny, nz, 0.8, 0.9, 2.5, dt);
        int nvox_set = trial == 5 ? 0 : 40;
        for (int n = 0; n < nvox_set; n++) {
            int32_t lab = 1 + (int32_t)(rng_unif() * (dt == PS_DT_UINT8 ? 3 : 300));
            int64_t i = (int64_t)(rng_unif() * (double)(nx - 10)) + 5;
            int64_t j = (int64_t)(rng_unif() * (double)(ny - 6)) + 3;
            int64_t k = (int64_t)(rng_unif() * (double)nz);
            box(n % 2 ? a : b, i, i + 3, j, j + 2, k, k + 1, lab);
        }
        if (trial >= 12) {
            box(a, nx - 1, nx, 2, 3, 1, 2, 2);
            box(b, 0, 1, ny - 1, ny, nz - 1, nz, 1);
        }
        ps_label_scan sa, sb;
        ck_assert_int_eq(ps_label_scan_volume(a, &sa), 0);
        ck_assert_int_eq(ps_label_scan_volume(b, &sb), 0);
        /* brute force: labels and box of a */
        int64_t lo[3] = {nx, ny, nz}, hi[3] = {0, 0, 0};
        int seen = 0;
        for (int64_t k = 0; k < nz; k++)
            for (int64_t j = 0; j < ny; j++)
                for (int64_t i = 0; i < nx; i++) {
                    int32_t l = getv(a, (k * ny + j) * nx + i);
                    if (!l)
                        continue;
                    int found = 0;
                    for (int q = 0; q < sa.nlabels; q++)
                        found |= sa.labels[q] == l;
                    ck_assert_msg(found, "label %d missing from the scan", (int)l);
                    seen = 1;
                    int64_t c[3] = {i, j, k};
                    for (int d = 0; d < 3; d++) {
                        if (c[d] < lo[d]) lo[d] = c[d];
                        if (c[d] + 1 > hi[d]) hi[d] = c[d] + 1;
                    }
                }
        ck_assert_int_eq(seen, sa.nlabels > 0);
        for (int q = 1; q < sa.nlabels; q++)
            ck_assert_int_lt(sa.labels[q - 1], sa.labels[q]);
        for (int d = 0; d < 3; d++) {
            ck_assert_int_eq(sa.lo[d], lo[d]);
            ck_assert_int_eq(sa.hi[d], hi[d]);
        }
        int64_t ulo[3], uhi[3];
        for (int d = 0; d < 3; d++) {
            ulo[d] = sa.lo[d] < sb.lo[d] ? sa.lo[d] : sb.lo[d];
            uhi[d] = sa.hi[d] > sb.hi[d] ? sa.hi[d] : sb.hi[d];
        }
        ps_metrics_options o;
        ps_metrics_options_init(&o);
        ps_context ctx;
        ps_context_init(&ctx);
        ctx.threads = 2;
        for (int q = 0; q < sa.nlabels; q++) {
            ps_region r = {1, {sa.labels[q]}};
            ps_case_metrics full, boxed;
            memset(&full, 0, sizeof full);
            memset(&boxed, 0, sizeof boxed);
            ck_assert_int_eq(ps_metrics_compute(a, b, &r, &o, &ctx, &full), 0);
            ck_assert_int_eq(ps_metrics_compute_box(a, b, &r, &o, &ctx, ulo, uhi, &boxed), 0);
            ck_assert_msg(!memcmp(&full, &boxed, sizeof full), "box changed label %d",
                          (int)sa.labels[q]);
        }
        /* with a piece map (brute force: 1 where a piece holds a non-zero byte): the same
         * scan; with an all-zero map the pieces are not read at all: nothing found */
        size_t nbytes = (size_t)ps_volume_nvox(a) * (dt == PS_DT_UINT8 ? 1 : 4);
        size_t npieces = nbytes / PS_VOLUME_PIECE + 1;
        uint8_t *map = calloc(npieces, 1), *none = calloc(npieces, 1);
        for (size_t i = 0; i < nbytes; i++)
            if (((const uint8_t *)a->data)[i])
                map[i / PS_VOLUME_PIECE] = 1;
        ps_label_scan sm, s0;
        ck_assert_int_eq(ps_label_scan_volume_map(a, map, &sm), 0);
        ck_assert_int_eq(ps_label_scan_volume_map(a, none, &s0), 0);
        ck_assert_int_eq(sm.nlabels, sa.nlabels);
        for (int q = 0; q < sa.nlabels; q++)
            ck_assert_int_eq(sm.labels[q], sa.labels[q]);
        for (int d = 0; d < 3; d++) {
            ck_assert_int_eq(sm.lo[d], sa.lo[d]);
            ck_assert_int_eq(sm.hi[d], sa.hi[d]);
        }
        ck_assert_int_eq(s0.nlabels, 0);
        ps_label_scan_clear(&sm);
        ps_label_scan_clear(&s0);
        free(map);
        free(none);
        ps_label_scan_clear(&sa);
        ps_label_scan_clear(&sb);
        ps_volume_free(a);
        ps_volume_free(b);
    }
}
END_TEST

static Suite *metrics_suite(void)
{
    Suite *s = suite_create("metrics");
    TCase *tc = tcase_create("core");
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, test_edt_bruteforce);
    tcase_add_test(tc, test_edt_query_same_bits);
    tcase_add_test(tc, test_label_scan_and_box);
    tcase_add_test(tc, test_edt_errors);
    tcase_add_test(tc, test_percentile_rules);
    tcase_add_test(tc, test_select_ties);
    tcase_add_test(tc, test_hand_line);
    tcase_add_test(tc, test_hand_surfel);
    tcase_add_test(tc, test_surfel_areas);
    tcase_add_test(tc, test_deepmind_package_cases);
    tcase_add_test(tc, test_weighted_percentile);
    tcase_add_test(tc, test_plastimatch_rule);
    tcase_add_test(tc, test_empty_policies);
    tcase_add_test(tc, test_cube_shift);
    tcase_add_test(tc, test_concentric_cubes);
    tcase_add_test(tc, test_sphere);
    tcase_add_test(tc, test_random_bruteforce);
    tcase_add_test(tc, test_crop_invariance);
    tcase_add_test(tc, test_image_edge_boundary);
    tcase_add_test(tc, test_thread_equality);
    tcase_add_test(tc, test_nested_parallel);
    tcase_add_test(tc, test_regions_and_dtypes);
    tcase_add_test(tc, test_parsers);
    tcase_add_test(tc, test_columns);
    tcase_add_test(tc, test_errors);
    suite_add_tcase(s, tc);
    return s;
}

PS_TEST_MAIN(metrics_suite)
