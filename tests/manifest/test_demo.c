/* Tests of the synthetic demo data set (src/manifest/demo.c, docs/demo-data.md).
 *
 * The set must be stable (it is the default input of the README and of other tests) and must
 * have the properties the documentation promises. Expected values come from the
 * specification in docs/demo-data.md, not from a run of the generator:
 *   - 24 cases, 8 per modality (CT, T1W, T2W), 4 centers with 4 different voxel spacings
 *     (0.7x0.7x2.5, 0.8x0.8x3, 1x1x5, 1.5x1.5x6 mm), each center with cases of every modality;
 *   - every label map uint8 with values 0/1, on the grid of its case's reference and image;
 *   - reference volumes within 40-120 ml (targets are drawn in 50-90 ml);
 *   - exactly one empty label map: modelB's prediction of t1w04; the others are non-empty;
 *   - modelA agrees better with the reference than modelB (mean Dice), and rater A's second
 *     session better than rater B;
 *   - same seed -> byte-identical files for 1 and 2 threads; another seed -> other files;
 *   - the manifest uses relative paths only, and the summary counts what is on disk. */
#include "ps_io.h"
#include "ps_manifest.h"
#include "ps_test.h"

#include <sys/stat.h>

static char dir_a[4200], dir_b[4200], dir_c[4200];
static ps_demo_summary sum_a;

/* Generate the three sets once, in the parent process before the (forked) tests run
 * (an unchecked fixture); each test asserts that this worked. */
static int gen_rc = -1;
static char gen_msg[4096];

static void generate_sets(void)
{
    snprintf(dir_a, sizeof dir_a, "%s", ps_test_tmp("demo_seed7_j2"));
    snprintf(dir_b, sizeof dir_b, "%s", ps_test_tmp("demo_seed7_j1"));
    snprintf(dir_c, sizeof dir_c, "%s", ps_test_tmp("demo_seed8_j2"));
    ps_context ctx;
    ps_context_init(&ctx);
    ctx.progress = 0;
    ctx.seed = 7;
    ctx.threads = 2;
    gen_rc = ps_demo_generate(&ctx, dir_a, &sum_a);
    ctx.threads = 1;
    if (!gen_rc)
        gen_rc = ps_demo_generate(&ctx, dir_b, NULL);
    ctx.seed = 8;
    ctx.threads = 2;
    if (!gen_rc)
        gen_rc = ps_demo_generate(&ctx, dir_c, NULL);
    snprintf(gen_msg, sizeof gen_msg, "%s", ps_error_message());
}

static void generate_once(void)
{
    ck_assert_msg(gen_rc == 0, "generating the demo sets failed: %s", gen_msg);
}

static char *slurp(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    char *buf = malloc((size_t)n + 1);
    if (buf && fread(buf, 1, (size_t)n, f) != (size_t)n) {
        free(buf);
        buf = NULL;
    }
    fclose(f);
    if (buf)
        buf[n] = '\0';
    *len = (size_t)n;
    return buf;
}

/* 1 if the two files have the same bytes */
static int same_file(const char *a, const char *b)
{
    size_t na, nb;
    char *x = slurp(a, &na), *y = slurp(b, &nb);
    int same = x && y && na == nb && !memcmp(x, y, na);
    free(x);
    free(y);
    return same;
}

static ps_manifest *read_manifest(const char *dir)
{
    char path[8192];
    snprintf(path, sizeof path, "%s/manifest.tsv", dir);
    ps_manifest *m = NULL;
    int rc = ps_manifest_read(path, NULL, &m);
    ck_assert_msg(rc == 0, "%s", ps_error_message());
    return m;
}

/* Every file the manifest names, in a fixed order: image, ref, raters, models. */
static int case_files(const ps_manifest *m, int64_t i, const char **out)
{
    const ps_manifest_case *c = &m->cases[i];
    int n = 0;
    out[n++] = c->image;
    out[n++] = c->ref;
    for (int r = 0; r < m->nraters; r++)
        out[n++] = c->rater[r];
    for (int k = 0; k < m->nmodels; k++)
        out[n++] = c->pred[k];
    return n;
}

START_TEST(same_seed_same_bytes_any_threads)
{
    generate_once();
    ps_manifest *a = read_manifest(dir_a), *b = read_manifest(dir_b);
    ck_assert_int_eq(a->ncases, b->ncases);
    char pa[8192], pb[8192];
    snprintf(pa, sizeof pa, "%s/manifest.tsv", dir_a);
    snprintf(pb, sizeof pb, "%s/manifest.tsv", dir_b);
    ck_assert_msg(same_file(pa, pb), "manifests differ");
    int nfiles = 1;
    for (int64_t i = 0; i < a->ncases; i++) {
        const char *fa[16], *fb[16];
        int n = case_files(a, i, fa);
        ck_assert_int_eq(case_files(b, i, fb), n);
        for (int k = 0; k < n; k++, nfiles++)
            ck_assert_msg(same_file(fa[k], fb[k]), "%s and %s differ", fa[k], fb[k]);
    }
    ck_assert_int_eq(nfiles, 193); /* 24 cases x (image + 7 label maps) + the manifest */
    ps_manifest_free(a);
    ps_manifest_free(b);
}
END_TEST

START_TEST(other_seed_other_files)
{
    generate_once();
    ps_manifest *a = read_manifest(dir_a), *c = read_manifest(dir_c);
    /* the same case list and layout ... */
    ck_assert_int_eq(a->ncases, c->ncases);
    for (int64_t i = 0; i < a->ncases; i++)
        ck_assert_str_eq(a->cases[i].id, c->cases[i].id);
    /* ... but other shapes and noise: every image and every reference differs */
    for (int64_t i = 0; i < a->ncases; i++) {
        ck_assert_msg(!same_file(a->cases[i].image, c->cases[i].image), "%s", a->cases[i].id);
        ck_assert_msg(!same_file(a->cases[i].ref, c->cases[i].ref), "%s", a->cases[i].id);
    }
    ps_manifest_free(a);
    ps_manifest_free(c);
}
END_TEST

START_TEST(manifest_layout)
{
    generate_once();
    ps_manifest *m = read_manifest(dir_a);
    ck_assert_int_eq(m->ncases, 24);
    ck_assert_int_eq(m->nmodels, 2);
    ck_assert_str_eq(m->models[0], "modelA");
    ck_assert_str_eq(m->models[1], "modelB");
    ck_assert_int_eq(m->nraters, 4);
    ck_assert_int_ge(ps_manifest_rater_index(m, "B", NULL), 0);
    ck_assert_int_ge(ps_manifest_rater_index(m, "A", "2"), 0);
    ck_assert_int_ge(ps_manifest_rater_index(m, "C", NULL), 0);
    ck_assert_int_ge(ps_manifest_rater_index(m, "B", "2"), 0);
    int nmod[3] = {0, 0, 0};
    const char *mods[3] = {"CT", "T1W", "T2W"};
    /* center name -> which modalities it has */
    char centers[8][32];
    int ncenters = 0, has[8][3] = {{0}};
    for (int64_t i = 0; i < m->ncases; i++) {
        const ps_manifest_case *c = &m->cases[i];
        ck_assert_ptr_nonnull(c->modality);
        ck_assert_ptr_nonnull(c->center);
        ck_assert_ptr_nonnull(c->subject);
        int mi = -1;
        for (int k = 0; k < 3; k++)
            if (!strcmp(c->modality, mods[k]))
                mi = k;
        ck_assert_int_ge(mi, 0);
        nmod[mi]++;
        int ci = -1;
        for (int k = 0; k < ncenters; k++)
            if (!strcmp(centers[k], c->center))
                ci = k;
        if (ci < 0) {
            ck_assert_int_lt(ncenters, 8);
            snprintf(centers[ncenters], sizeof centers[0], "%s", c->center);
            ci = ncenters++;
        }
        has[ci][mi] = 1;
    }
    for (int k = 0; k < 3; k++)
        ck_assert_int_ge(nmod[k], PS_DEMO_CASES_PER_MODALITY);
    ck_assert_int_eq(nmod[0] + nmod[1] + nmod[2], 24);
    ck_assert_int_ge(ncenters, 4);
    for (int k = 0; k < ncenters; k++)
        ck_assert_msg(has[k][0] && has[k][1] && has[k][2], "center %s lacks a modality",
                      centers[k]);

    /* relative paths only: no cell of the file starts with '/' */
    char path[8192];
    snprintf(path, sizeof path, "%s/manifest.tsv", dir_a);
    size_t len;
    char *text = slurp(path, &len);
    ck_assert_ptr_nonnull(text);
    ck_assert_ptr_null(strstr(text, "\t/"));
    free(text);

    /* the summary counts files and bytes on disk */
    ck_assert_int_eq(sum_a.ncases, 24);
    ck_assert_int_eq(sum_a.nmodalities, 3);
    ck_assert_int_eq(sum_a.ncenters, 4);
    ck_assert_int_eq(sum_a.nfiles, 193);
    int64_t bytes = 0;
    struct stat st;
    ck_assert_int_eq(stat(path, &st), 0);
    bytes += st.st_size;
    for (int64_t i = 0; i < m->ncases; i++) {
        const char *f[16];
        int n = case_files(m, i, f);
        for (int k = 0; k < n; k++) {
            ck_assert_int_eq(stat(f[k], &st), 0);
            bytes += st.st_size;
        }
    }
    ck_assert_int_eq(sum_a.bytes, bytes);
    /* "a few MB": the promise in docs/demo-data.md is under 10 MB */
    ck_assert_int_lt(bytes, 10 * 1000 * 1000);
    ps_manifest_free(m);
}
END_TEST

static double dice(const uint8_t *a, const uint8_t *b, int64_t n)
{
    int64_t sa = 0, sb = 0, both = 0;
    for (int64_t v = 0; v < n; v++) {
        sa += a[v];
        sb += b[v];
        both += a[v] & b[v];
    }
    return sa + sb ? 2.0 * (double)both / (double)(sa + sb) : 1.0;
}

START_TEST(labels_geometry_volumes_and_errors)
{
    generate_once();
    ps_manifest *m = read_manifest(dir_a);
    int mA = ps_manifest_model_index(m, "modelA"), mB = ps_manifest_model_index(m, "modelB");
    int rB = ps_manifest_rater_index(m, "B", NULL), rA2 = ps_manifest_rater_index(m, "A", "2");
    double spacing[8][3];
    int nspacing = 0, nempty = 0;
    double dice_sum[4] = {0, 0, 0, 0}; /* modelA, modelB, rater B, rater A:2 */
    int rC = ps_manifest_rater_index(m, "C", NULL), rB2 = ps_manifest_rater_index(m, "B", "2");
    double dice_bb2 = 0;   /* rater B's two sessions */
    int c_larger = 0;      /* cases where rater C's volume exceeds the reference's */
    for (int64_t i = 0; i < m->ncases; i++) {
        const ps_manifest_case *c = &m->cases[i];
        ps_volume *ref, *img;
        ck_assert_int_eq(ps_volume_read(c->ref, &ref), 0);
        ck_assert_int_eq(ps_volume_read(c->image, &img), 0);
        ck_assert_int_eq(ps_geometry_check_same(&img->geom, c->image, &ref->geom, c->ref), 0);
        ck_assert_int_eq(img->dtype, PS_DT_INT16);
        const double *sp = ref->geom.spacing_mm;
        int found = 0;
        for (int k = 0; k < nspacing; k++)
            found |= fabs(spacing[k][0] - sp[0]) < 1e-6 && fabs(spacing[k][1] - sp[1]) < 1e-6 &&
                     fabs(spacing[k][2] - sp[2]) < 1e-6;
        if (!found) {
            ck_assert_int_lt(nspacing, 8);
            memcpy(spacing[nspacing++], sp, sizeof spacing[0]);
        }

        const char *paths[4] = {c->pred[mA], c->pred[mB], c->rater[rB], c->rater[rA2]};
        const char *names[5] = {"ref", "modelA", "modelB", "rater:B", "rater:A:2"};
        ps_volume *lab[5] = {ref};
        for (int k = 0; k < 4; k++) {
            ck_assert_int_eq(ps_volume_read(paths[k], &lab[k + 1]), 0);
            ck_assert_int_eq(ps_geometry_check_same(&lab[k + 1]->geom, paths[k], &ref->geom,
                                                    c->ref), 0);
        }
        int64_t n = ps_volume_nvox(ref);
        int64_t count[5];
        for (int k = 0; k < 5; k++) {
            ck_assert_msg(lab[k]->dtype == PS_DT_UINT8, "%s %s", c->id, names[k]);
            const uint8_t *d = lab[k]->data;
            count[k] = 0;
            int64_t not01 = 0; /* one assertion per volume: Check's are slow per voxel */
            for (int64_t v = 0; v < n; v++) {
                not01 += d[v] > 1;
                count[k] += d[v];
            }
            ck_assert_msg(not01 == 0, "%s %s: %lld voxels not 0/1", c->id, names[k],
                          (long long)not01);
            if (count[k] == 0) {
                nempty++;
                /* the one documented empty prediction */
                ck_assert_str_eq(c->id, "t1w04");
                ck_assert_str_eq(names[k], "modelB");
            }
        }
        double voxel_ml = sp[0] * sp[1] * sp[2] / 1000.0;
        double ref_ml = (double)count[0] * voxel_ml;
        ck_assert_msg(ref_ml >= 40 && ref_ml <= 120, "%s: reference %.1f ml", c->id, ref_ml);
        for (int k = 0; k < 4; k++)
            dice_sum[k] += dice(ref->data, lab[k + 1]->data, n);
        ps_volume *vc = NULL, *vb2 = NULL;
        ck_assert_int_eq(ps_volume_read(c->rater[rC], &vc), 0);
        ck_assert_int_eq(ps_volume_read(c->rater[rB2], &vb2), 0);
        int64_t nc = 0;
        for (int64_t v = 0; v < n; v++)
            nc += ((const uint8_t *)vc->data)[v];
        c_larger += nc > count[0];
        dice_bb2 += dice(lab[3]->data, vb2->data, n);
        ps_volume_free(vc);
        ps_volume_free(vb2);

        /* modality intensities: mean over the pancreas, CT in HU (95 HU + center offset
         * -8..+15 + zero-mean noise), MRI positive */
        const int16_t *im = img->data;
        double s = 0;
        const uint8_t *rd = ref->data;
        for (int64_t v = 0; v < n; v++)
            if (rd[v])
                s += im[v];
        double mean = s / (double)count[0];
        if (!strcmp(c->modality, "CT"))
            ck_assert_msg(mean > 80 && mean < 115, "%s: pancreas mean %.1f HU", c->id, mean);
        else
            ck_assert_msg(mean > 50, "%s: pancreas mean %.1f", c->id, mean);
        for (int k = 0; k < 5; k++)
            ps_volume_free(lab[k]);
        ps_volume_free(img);
    }
    ck_assert_int_eq(nempty, 1);
    ck_assert_int_ge(nspacing, 4);
    /* better model, closer second session */
    ck_assert_msg(dice_sum[0] > dice_sum[1], "modelA %.3f vs modelB %.3f", dice_sum[0] / 24,
                  dice_sum[1] / 24);
    ck_assert_msg(dice_sum[3] > dice_sum[2], "rater A:2 %.3f vs rater B %.3f", dice_sum[3] / 24,
                  dice_sum[2] / 24);
    /* rater C over-segments in every case; rater B agrees with itself better than with A */
    ck_assert_int_eq(c_larger, 24);
    ck_assert_msg(dice_bb2 > dice_sum[2], "rater B:2 vs B %.3f, B vs ref %.3f", dice_bb2 / 24,
                  dice_sum[2] / 24);
    ps_manifest_free(m);
}
END_TEST

START_TEST(bad_output_directory)
{
    ps_context ctx;
    ps_context_init(&ctx);
    ctx.progress = 0;
    /* a regular file where the directory should be */
    ck_assert_int_eq(ps_demo_generate(&ctx, ps_test_path("data/manifest/full.tsv"), NULL),
                     PS_ERR_IO);
    ck_assert_ptr_nonnull(strstr(ps_error_message(), "full.tsv"));
    ck_assert_int_eq(ps_demo_generate(&ctx, "", NULL), PS_ERR_ARG);
}
END_TEST

static Suite *demo_suite(void)
{
    Suite *s = suite_create("demo");
    TCase *tc = tcase_create("demo");
    tcase_set_timeout(tc, 300);
    tcase_add_unchecked_fixture(tc, generate_sets, NULL);
    tcase_add_test(tc, same_seed_same_bytes_any_threads);
    tcase_add_test(tc, other_seed_other_files);
    tcase_add_test(tc, manifest_layout);
    tcase_add_test(tc, labels_geometry_volumes_and_errors);
    tcase_add_test(tc, bad_output_directory);
    suite_add_tcase(s, tc);
    return s;
}

PS_TEST_MAIN(demo_suite)
