/* test_infer_pipeline.c - whole-image prediction against the real nnU-Net v1 pipeline.
 *
 * Expected values: tests/golden/infer_pipeline/<fixture>/, written by
 * tests/reference/nnunet_predict_reference.py, which runs PaNSegNet's nnU-Net v1 predict_cases
 * (with batchgenerators and a SimpleITK shim over nibabel) on the model folders and images of
 * tests/reference/make_infer_fixtures.py: the final label maps (seg*.nii.gz), the probabilities
 * (prob.nii.gz) and each stage (stages.tsv: crop box, shapes, separate-z axis, tile positions;
 * s2_resampled, s2_mask, s3_normalized, s4_gaussian (only with several tiles), s5_softmax_net;
 * stage 6, the resampled-back softmax, is prob.nii.gz inside the crop box). Stage arrays are
 * NIfTI volumes whose bytes are the numpy arrays (C, z, y, x) in C order; see
 * tests/golden/infer_pipeline/README.md.
 *
 * Tolerances (named below) follow what each stage computes: the resampled volume is double
 * arithmetic rounded to float32 (relative 1e-5 of float32 rounding); normalisation is float32
 * arithmetic with statistics that differ by float32 rounding; the softmax goes through the
 * network, whose float32 sums differ from PyTorch's (1e-4 absolute).
 */
#include <sys/stat.h>
#include <unistd.h>

#include "ps_io.h"
#include "ps_test.h"
#include "ps_infer.h"
#include "pipeline_internal.h"

#define TOL_RESAMPLED 1e-5   /* relative to max(1, |x|), float32 of a double computation    */
#define TOL_NORMALIZED 1e-5  /* relative to max(1, |x|): float32 statistics                  */
#define TOL_GAUSSIAN 1e-7    /* relative: double, rounded to float32 once                    */
#define TOL_SOFTMAX 1e-4     /* absolute: through the network (float32 sums)                 */
#define TOL_PROB 1e-3        /* absolute: the bound for the probabilities            */
#define MIN_EQUAL 0.9995     /* fraction of equal voxels required (issue 8)                  */
#define MIN_DICE 0.999       /* per class (issue 8)                                          */

static const char *fx_path(const char *fx, const char *file)
{
    static char buf[4096];
    char rel[512];
    snprintf(rel, sizeof rel, "golden/infer_pipeline/%s/%s", fx, file);
    snprintf(buf, sizeof buf, "%s", ps_test_path(rel));
    return buf;
}

static int have_file(const char *fx, const char *file)
{
    return access(fx_path(fx, file), R_OK) == 0;
}

/* stages.tsv value of `key` as numbers; returns the count */
static int stage_ints(const char *fx, const char *key, double *v, int max)
{
    ps_table *t = NULL;
    ck_assert_msg(ps_table_read(fx_path(fx, "stages.tsv"), &t) == 0, "%s", ps_error_message());
    int n = -1;
    for (int64_t r = 0; r < t->nrows; r++) {
        if (strcmp(t->cells[r][0], key))
            continue;
        n = 0;
        char *s = t->cells[r][1];
        while (*s && n < max) {
            char *e;
            v[n++] = strtod(s, &e);
            if (e == s)
                break;
            s = *e == ',' ? e + 1 : e;
        }
    }
    ps_table_free(t);
    ck_assert_msg(n >= 0, "%s: stages.tsv has no key %s", fx, key);
    return n;
}

static const char *stage_str(const char *fx, const char *key)
{
    static char buf[1024];
    ps_table *t = NULL;
    ck_assert(ps_table_read(fx_path(fx, "stages.tsv"), &t) == 0);
    buf[0] = 0;
    for (int64_t r = 0; r < t->nrows; r++)
        if (!strcmp(t->cells[r][0], key))
            snprintf(buf, sizeof buf, "%s", t->cells[r][1]);
    ps_table_free(t);
    return buf;
}

static ps_volume *read_f(const char *path)
{
    ps_volume *v = NULL;
    ck_assert_msg(ps_volume_read_float(path, &v) == 0, "%s", ps_error_message());
    return v;
}

/* the inputs CASE_0000.nii.gz ... of a fixture */
static int fixture_inputs(const char *fx, char paths[][4096])
{
    int n = 0;
    for (; n < 8; n++) {
        char name[64];
        snprintf(name, sizeof name, "CASE_%04d.nii.gz", n);
        if (access(fx_path(fx, name), R_OK))
            break;
        snprintf(paths[n], 4096, "%s", fx_path(fx, name));
    }
    return n;
}

static ps_predictor *make_predictor(const char *fx, int mirroring, int pp, int threads,
                                    ps_conv_backend backend)
{
    double fv[16];
    int nf = stage_ints(fx, "folds", fv, 16), folds[16];
    for (int i = 0; i < nf; i++)
        folds[i] = (int)fv[i];
    ps_predict_options o;
    ps_predict_options_init(&o);
    o.mirroring = mirroring;
    o.postprocessing = pp;
    o.backend = backend;
    ps_context ctx;
    ps_context_init(&ctx);
    ctx.threads = threads;
    ctx.verbosity = 0;
    ps_predictor *p = NULL;
    int rc = ps_predictor_create(fx_path(fx, "model"), folds, nf, &o, &ctx, &p);
    ck_assert_msg(rc == 0, "%s: %s", fx, ps_error_message());
    return p;
}

static void run_case(ps_predictor *p, const char *fx, ps_volume **seg, ps_volume **prob)
{
    char in[8][4096];
    const char *inp[8];
    int n = fixture_inputs(fx, in);
    for (int i = 0; i < n; i++)
        inp[i] = in[i];
    int rc = ps_predictor_run(p, inp, n, seg, prob);
    ck_assert_msg(rc == 0, "%s: %s", fx, ps_error_message());
}

static void compare_array(const char *what, const float *got, const float *ref, int64_t n,
                          double tol, int relative)
{
    double worst = 0;
    int64_t at = -1;
    for (int64_t i = 0; i < n; i++) {
        double d = fabs((double)got[i] - ref[i]);
        if (relative)
            d /= fmax(1.0, fabs((double)ref[i]));
        if (!(d <= worst)) {
            worst = d;
            at = i;
        }
    }
    fprintf(stderr, "  %-28s largest difference %.3g (tolerance %g)\n", what, worst, tol);
    ck_assert_msg(worst <= tol, "%s: largest difference %.3g at element %lld (%.9g vs nnU-Net "
                  "%.9g), tolerance %g", what, worst, (long long)at, at >= 0 ? got[at] : 0.0,
                  at >= 0 ? ref[at] : 0.0, tol);
}

static void check_geometry_same(const ps_volume *a, const ps_volume *b)
{
    for (int d = 0; d < 3; d++) {
        ck_assert_int_eq(a->geom.dim[d], b->geom.dim[d]);
        ck_assert_close(a->geom.spacing_mm[d], b->geom.spacing_mm[d], 1e-7);
    }
    ck_assert_int_eq(a->geom.qform_code, b->geom.qform_code);
    ck_assert_int_eq(a->geom.sform_code, b->geom.sform_code);
    for (int r = 0; r < 4; r++)
        for (int c = 0; c < 4; c++)
            ck_assert_close_abs(a->geom.affine[r][c], b->geom.affine[r][c], 1e-4);
}

/* >= 99.95% equal voxels and Dice >= 0.999 per class against nnU-Net's label map */
static void compare_seg(const char *fx, const ps_volume *seg, const char *golden)
{
    ps_volume *ref = NULL;
    ck_assert_msg(ps_volume_read_labels(fx_path(fx, golden), &ref) == 0, "%s",
                  ps_error_message());
    ck_assert_int_eq(ps_volume_nvox(seg), ps_volume_nvox(ref));
    ck_assert_int_eq(seg->dtype, PS_DT_UINT8);
    const uint8_t *a = seg->data, *b = ref->data;
    int64_t n = ps_volume_nvox(seg), eq = 0, inter[256] = {0}, ca[256] = {0}, cb[256] = {0};
    for (int64_t i = 0; i < n; i++) {
        eq += a[i] == b[i];
        ca[a[i]]++;
        cb[b[i]]++;
        if (a[i] == b[i])
            inter[a[i]]++;
    }
    double frac = (double)eq / (double)n;
    ck_assert_msg(frac >= MIN_EQUAL, "%s %s: %.5f of the voxels equal", fx, golden, frac);
    for (int c = 1; c < 256; c++)
        if (ca[c] + cb[c]) {
            double dice = 2.0 * (double)inter[c] / (double)(ca[c] + cb[c]);
            ck_assert_msg(dice >= MIN_DICE, "%s %s: class %d Dice %.5f", fx, golden, c, dice);
        }
    /* the label map carries the input's geometry, as nnU-Net's export */
    check_geometry_same(seg, ref);
    ps_volume_free(ref);
}

static void check_fixture(const char *fx)
{
    ck_assert_msg(have_file(fx, "stages.tsv"), "fixture %s missing", fx);
    fprintf(stderr, "%s:\n", fx);
    ps_predictor *p = make_predictor(fx, 1, 1, 2, PS_CONV_AUTO);
    const ps_plans *pl = ps_predictor_plans(p);
    const int C = pl->num_input_channels, K = pl->num_classes + 1;
    ps_pipeline_trace tr = {0};
    ps_predictor_set_trace(p, &tr);
    ps_volume *seg = NULL, *prob = NULL;
    run_case(p, fx, &seg, &prob);

    /* crop box and shapes (stages.tsv) */
    double v[16];
    ck_assert_int_eq(stage_ints(fx, "crop_bbox", v, 16), 6);
    for (int d = 0; d < 3; d++) {
        ck_assert_int_eq(tr.box[d][0], (int64_t)v[2 * d]);
        ck_assert_int_eq(tr.box[d][1], (int64_t)v[2 * d + 1]);
    }
    ck_assert_int_eq(stage_ints(fx, "shape_after_resampling", v, 16), 3);
    for (int d = 0; d < 3; d++)
        ck_assert_int_eq(tr.n_net[d], (int64_t)v[d]);
    stage_ints(fx, "separate_z", v, 16);
    double la;
    stage_ints(fx, "lowres_axis", &la, 1);
    {
        /* the decision matters (and is recorded by panseval) only when the shape changes */
        double sc[3], tf[3];
        stage_ints(fx, "shape_after_crop", sc, 3);
        stage_ints(fx, "transpose_forward", tf, 3);
        int changed = 0;
        for (int d = 0; d < 3; d++)
            changed |= tr.n_net[d] != (int64_t)sc[(int)tf[d]];
        if (changed)
            ck_assert_int_eq(tr.sep_axis, v[0] ? (int)la : -1);
        else
            ck_assert_int_eq(tr.sep_axis, -1);
    }
    const int64_t N = ps_n3(tr.n_net);

    /* resampled volume and the mask */
    ps_volume *g = read_f(fx_path(fx, "s2_resampled.nii.gz"));
    ck_assert_int_eq(ps_volume_nvox(g) * g->nc, C * N);
    compare_array("resampled", tr.resampled, g->data, C * N, TOL_RESAMPLED, 1);
    ps_volume_free(g);
    if (tr.mask) {
        g = read_f(fx_path(fx, "s2_mask.nii.gz"));
        const float *m = g->data;
        int64_t diff = 0;
        for (int64_t i = 0; i < N; i++)
            diff += (m[i] >= 0) != (tr.mask[i] != 0);
        ck_assert_msg(diff == 0, "%s: %lld mask voxels differ", fx, (long long)diff);
        ps_volume_free(g);
    }
    /* normalised volume: in the pipeline, and alone from nnU-Net's resampled volume */
    g = read_f(fx_path(fx, "s3_normalized.nii.gz"));
    compare_array("normalized", tr.normalized, g->data, C * N, TOL_NORMALIZED, 1);
    {
        ps_volume *r = read_f(fx_path(fx, "s2_resampled.nii.gz"));
        ps_volume *mk = tr.mask ? read_f(fx_path(fx, "s2_mask.nii.gz")) : NULL;
        uint8_t *m8 = NULL;
        if (mk) {
            m8 = malloc((size_t)N);
            for (int64_t i = 0; i < N; i++)
                m8[i] = ((float *)mk->data)[i] >= 0;
        }
        for (int c = 0; c < C; c++)
            ck_assert(ps_normalize_channel((float *)r->data + c * N, N, pl, c, m8, 2) == 0);
        compare_array("normalized alone", r->data, g->data, C * N, TOL_NORMALIZED, 1);
        free(m8);
        ps_volume_free(mk);
        ps_volume_free(r);
    }
    ps_volume_free(g);

    /* tiles and the Gaussian */
    double pad[3];
    ck_assert_int_eq(stage_ints(fx, "padded_shape", pad, 3), 3);
    for (int d = 0; d < 3; d++) {
        char key[16];
        snprintf(key, sizeof key, "steps_%d", d);
        double ref[64];
        int ns = stage_ints(fx, key, ref, 64);
        int64_t got[64];
        ck_assert_int_eq(ps_sliding_steps((int64_t)pad[d], pl->patch_size[d], 0.5, got, 64), ns);
        for (int i = 0; i < ns; i++)
            ck_assert_int_eq(got[i], (int64_t)ref[i]);
    }
    double ntiles;
    stage_ints(fx, "num_tiles", &ntiles, 1);
    ck_assert_int_eq(have_file(fx, "s4_gaussian.nii.gz"), ntiles > 1);
    if (ntiles > 1) {
        g = read_f(fx_path(fx, "s4_gaussian.nii.gz"));
        int64_t P = (int64_t)pl->patch_size[0] * pl->patch_size[1] * pl->patch_size[2];
        ck_assert_int_eq(ps_volume_nvox(g), P);
        float *gm = malloc((size_t)P * sizeof *gm);
        ps_gaussian_map(pl->patch_size, gm);
        compare_array("gaussian", gm, g->data, P, TOL_GAUSSIAN, 1);
        free(gm);
        ps_volume_free(g);
    }

    /* aggregated softmax, then the export's resampling alone from nnU-Net's softmax */
    g = read_f(fx_path(fx, "s5_softmax_net.nii.gz"));
    compare_array("softmax (network space)", tr.softmax_net, g->data, K * N, TOL_SOFTMAX, 0);
    /* stage 6: prob.nii.gz inside the crop box, as (K, z, y, x) of the box */
    const int64_t nc[3] = {tr.box[0][1] - tr.box[0][0], tr.box[1][1] - tr.box[1][0],
                           tr.box[2][1] - tr.box[2][0]};
    const int64_t Nc = ps_n3(nc);
    ps_volume *pf = read_f(fx_path(fx, "prob.nii.gz"));
    ck_assert_int_eq(pf->nc, K);
    float *s6 = malloc((size_t)(K * Nc) * sizeof *s6);
    {
        const int64_t no[3] = {pf->geom.dim[2], pf->geom.dim[1], pf->geom.dim[0]};
        const float *src = pf->data;
        for (int k = 0; k < K; k++)
            for (int64_t i = 0; i < nc[0]; i++)
                for (int64_t j = 0; j < nc[1]; j++)
                    for (int64_t l = 0; l < nc[2]; l++)
                        s6[((k * nc[0] + i) * nc[1] + j) * nc[2] + l] =
                            src[k * ps_n3(no) + ((i + tr.box[0][0]) * no[1] + j + tr.box[1][0]) *
                                                    no[2] + l + tr.box[2][0]];
    }
    ps_volume_free(pf);
    compare_array("softmax (resampled back)", tr.softmax_back, s6, K * Nc, TOL_SOFTMAX, 0);
    stage_ints(fx, "export_resampled", v, 1);
    if (v[0]) {
        const int *tb = pl->transpose_backward;
        int64_t nb[3] = {tr.n_net[tb[0]], tr.n_net[tb[1]], tr.n_net[tb[2]]};
        double es, ea;
        stage_ints(fx, "export_separate_z", &es, 1);
        stage_ints(fx, "export_lowres_axis", &ea, 1);
        ck_assert_int_eq(tr.export_sep_axis, es ? (int)ea : -1);
        /* nnU-Net's own softmax, transposed back, through our export resampling */
        double *din = malloc((size_t)N * sizeof *din), *dout = malloc((size_t)Nc * sizeof *dout);
        float *alone = malloc((size_t)(K * Nc) * sizeof *alone);
        const float *s5 = g->data;
        int64_t st[3] = {tr.n_net[1] * tr.n_net[2], tr.n_net[2], 1};
        for (int k = 0; k < K; k++) {
            for (int64_t i = 0; i < nb[0]; i++)
                for (int64_t j = 0; j < nb[1]; j++)
                    for (int64_t l = 0; l < nb[2]; l++)
                        din[(i * nb[1] + j) * nb[2] + l] =
                            s5[k * N + i * st[tb[0]] + j * st[tb[1]] + l * st[tb[2]]];
            ck_assert(ps_resize3d(din, nb, dout, nc, 1, tr.export_sep_axis, 0, 2) == 0);
            for (int64_t i = 0; i < Nc; i++)
                alone[k * Nc + i] = (float)dout[i];
        }
        compare_array("export resampling alone", alone, s6, K * Nc, TOL_RESAMPLED, 1);
        free(din);
        free(dout);
        free(alone);
    }
    free(s6);
    ps_volume_free(g);

    /* the final label map and probabilities */
    compare_seg(fx, seg, "seg.nii.gz");
    {
        /* exactly the first input's header placement: codes, quaternion, offsets, sform */
        ps_volume *in0 = read_f(fx_path(fx, "CASE_0000.nii.gz"));
        const ps_geometry *a = &seg->geom, *e = &in0->geom;
        ck_assert_int_eq(a->qform_code, e->qform_code);
        ck_assert_int_eq(a->sform_code, e->sform_code);
        ck_assert_int_eq(a->xyz_units, e->xyz_units);
        ck_assert(a->qfac == e->qfac);
        for (int d = 0; d < 3; d++) {
            ck_assert_int_eq(a->dim[d], e->dim[d]);
            ck_assert(a->spacing_mm[d] == e->spacing_mm[d]);
            ck_assert(a->quatern[d] == e->quatern[d]);
            ck_assert(a->qoffset[d] == e->qoffset[d]);
        }
        ck_assert(!memcmp(a->sform, e->sform, sizeof a->sform));
        ps_volume_free(in0);
    }
    g = read_f(fx_path(fx, "prob.nii.gz"));
    ck_assert_int_eq(g->nc, K);
    compare_array("probabilities", prob->data, g->data, K * ps_volume_nvox(g), TOL_PROB, 0);
    check_geometry_same(prob, g);
    ps_volume_free(g);
    ps_volume_free(seg);
    ps_volume_free(prob);
    ps_pipeline_trace_clear(&tr);
    ps_predictor_free(p);

    /* without mirroring; without postprocessing */
    p = make_predictor(fx, 0, 1, 2, PS_CONV_AUTO);
    run_case(p, fx, &seg, NULL);
    compare_seg(fx, seg, "seg_nomirror.nii.gz");
    ps_volume_free(seg);
    ps_predictor_free(p);
    if (access(fx_path(fx, "seg_nopp.nii.gz"), R_OK) == 0) {
        ck_assert_str_ne(stage_str(fx, "postprocessing"), "none");
        p = make_predictor(fx, 1, 0, 2, PS_CONV_AUTO);
        run_case(p, fx, &seg, NULL);
        compare_seg(fx, seg, "seg_nopp.nii.gz");
        ps_volume_free(seg);
        ps_predictor_free(p);
    }
}

START_TEST(test_ct_unet) { check_fixture("ct_unet"); }
END_TEST

START_TEST(test_mri_pansegnet) { check_fixture("mri_pansegnet"); }
END_TEST

START_TEST(test_ens_pp) { check_fixture("ens_pp"); }
END_TEST

START_TEST(test_ct_onetile) { check_fixture("ct_onetile"); }
END_TEST

START_TEST(test_transpose_quirk) { check_fixture("transpose_quirk"); }
END_TEST

/* -j1 and -j2 give the same bits with the reference backend */
START_TEST(test_threads_identical)
{
    const char *fx = "ct_unet";
    ps_volume *s1 = NULL, *p1 = NULL, *s2 = NULL, *p2 = NULL;
    ps_predictor *p = make_predictor(fx, 1, 1, 1, PS_CONV_REFERENCE);
    run_case(p, fx, &s1, &p1);
    ps_predictor_free(p);
    p = make_predictor(fx, 1, 1, 2, PS_CONV_REFERENCE);
    run_case(p, fx, &s2, &p2);
    ps_predictor_free(p);
    ck_assert(!memcmp(s1->data, s2->data, (size_t)ps_volume_nvox(s1)));
    ck_assert(!memcmp(p1->data, p2->data, (size_t)(ps_volume_nvox(p1) * p1->nc) * 4));
    ps_volume_free(s1);
    ps_volume_free(s2);
    ps_volume_free(p1);
    ps_volume_free(p2);
}
END_TEST

/* ---- bad input: named errors, nothing written ------------------------------------------- */
static int file_exists(const char *p) { return access(p, F_OK) == 0; }

static void expect_failure(ps_predictor *p, const char *const *in, int n, const char *needle)
{
    char seg[4096], prob[4096];
    snprintf(seg, sizeof seg, "%s", ps_test_tmp("infer_bad_seg.nii.gz"));
    snprintf(prob, sizeof prob, "%s", ps_test_tmp("infer_bad_prob.nii.gz"));
    unlink(seg);
    unlink(prob);
    int rc = ps_predictor_run_files(p, in, n, seg, prob);
    ck_assert_int_ne(rc, 0);
    ck_assert_msg(strstr(ps_error_message(), needle), "message '%s' lacks '%s'",
                  ps_error_message(), needle);
    ck_assert(!file_exists(seg));
    ck_assert(!file_exists(prob));
}

/* a copy of a fixture input, changed by `edit` */
static const char *edited_input(const char *fx, const char *name,
                                void (*edit)(ps_volume *v))
{
    static char out[4][4096];
    static int slot;
    ps_volume *v = read_f(fx_path(fx, "CASE_0000.nii.gz"));
    edit(v);
    char *path = out[slot++ % 4];
    snprintf(path, 4096, "%s", ps_test_tmp(name));
    ck_assert_msg(ps_volume_write(path, v) == 0, "%s", ps_error_message());
    ps_volume_free(v);
    return path;
}

static void put_nan(ps_volume *v) { ((float *)v->data)[ps_volume_nvox(v) / 2 + 3] = NAN; }
static void shift_origin(ps_volume *v)
{
    double a[4][4];
    memcpy(a, v->geom.affine, sizeof a);
    a[0][3] += 5.0;
    ps_geometry_set_affine(&v->geom, a);
}
static void huge_spacing(ps_volume *v)
{
    /* 100x coarser voxels: resampled to the model's spacing the image would be enormous */
    double a[4][4];
    memcpy(a, v->geom.affine, sizeof a);
    for (int r = 0; r < 3; r++)
        for (int c = 0; c < 3; c++)
            a[r][c] *= 100.0;
    ps_geometry_set_affine(&v->geom, a);
}

START_TEST(test_bad_inputs)
{
    const char *fx = "ct_unet";
    ps_predictor *p = make_predictor(fx, 0, 1, 2, PS_CONV_AUTO);
    char in[8][4096];
    fixture_inputs(fx, in);
    const char *two[2] = {in[0], in[0]};
    expect_failure(p, two, 2, "the model has 1 modality");

    const char *nan[1] = {edited_input(fx, "infer_nan.nii.gz", put_nan)};
    expect_failure(p, nan, 1, "is NaN");

    const char *big[1] = {edited_input(fx, "infer_huge.nii.gz", huge_spacing)};
    expect_failure(p, big, 1, "GiB");
    ck_assert(strstr(ps_error_message(), "needs about"));

    /* a 4D image */
    ps_volume *v = read_f(in[0]), *v4 = NULL;
    ck_assert(ps_volume_create(&v->geom, 2, PS_DT_FLOAT32, &v4) == 0);
    memcpy(v4->data, v->data, (size_t)ps_volume_nvox(v) * 4);
    memcpy((float *)v4->data + ps_volume_nvox(v), v->data, (size_t)ps_volume_nvox(v) * 4);
    char p4[4096];
    snprintf(p4, sizeof p4, "%s", ps_test_tmp("infer_4d.nii.gz"));
    ck_assert(ps_volume_write(p4, v4) == 0);
    const char *four[1] = {p4};
    expect_failure(p, four, 1, "4D image");
    ps_volume_free(v4);

    /* a 2D image */
    ps_geometry g2 = v->geom;
    g2.dim[2] = 1;
    ps_volume *v2 = NULL;
    ck_assert(ps_volume_create(&g2, 1, PS_DT_FLOAT32, &v2) == 0);
    ((float *)v2->data)[5] = 1.0f;
    char p2[4096];
    snprintf(p2, sizeof p2, "%s", ps_test_tmp("infer_2d.nii.gz"));
    ck_assert(ps_volume_write(p2, v2) == 0);
    const char *flat[1] = {p2};
    expect_failure(p, flat, 1, "is not 3D");
    ps_volume_free(v2);
    ps_volume_free(v);
    ps_predictor_free(p);

    /* modalities on different grids (a two-modality model) */
    {
        p = make_predictor("ens_pp", 0, 1, 2, PS_CONV_AUTO);
        char e[8][4096];
        ck_assert_int_eq(fixture_inputs("ens_pp", e), 2);
        const char *moved[2] = {e[0], edited_input("ens_pp", "infer_moved.nii.gz",
                                                   shift_origin)};
        expect_failure(p, moved, 2, "share one voxel grid");
        ps_predictor_free(p);
    }
}
END_TEST

/* a model folder without plans: the checkpoint alone */
START_TEST(test_model_without_plans)
{
    const char *fx = "ct_unet";
    char dir[4096], cmd[20480];
    snprintf(dir, sizeof dir, "%s", ps_test_tmp("infer_noplans"));
    snprintf(cmd, sizeof cmd, "rm -rf '%s' && mkdir -p '%s/fold_0' && cp '%s' '%s/fold_0/'", dir,
             dir, fx_path(fx, "model/fold_0/model_final_checkpoint.model"), dir);
    ck_assert(system(cmd) == 0);
    ps_predictor *p = NULL;
    int fold = 0;
    int rc = ps_predictor_create(dir, &fold, 1, NULL, NULL, &p);
    ck_assert_int_ne(rc, 0);
    ck_assert_ptr_null(p);
    ck_assert_msg(strstr(ps_error_message(), "model_final_checkpoint.model.pkl"), "%s",
                  ps_error_message());
    /* no fold folders at all */
    snprintf(cmd, sizeof cmd, "rm -rf '%s' && mkdir -p '%s'", dir, dir);
    ck_assert(system(cmd) == 0);
    rc = ps_predictor_create(dir, NULL, 0, NULL, NULL, &p);
    ck_assert_int_ne(rc, 0);
    ck_assert_msg(strstr(ps_error_message(), "no fold_N folder"), "%s", ps_error_message());
}
END_TEST

/* resampling by hand: order 1 of [0, 1] to 4 samples (coordinates -0.25, 0.25, 0.75, 1.25
 * clamped: 0, 0.25, 0.75, 1), and a constant stays constant under order 3 */
START_TEST(test_resize_hand)
{
    const int64_t n[3] = {1, 1, 2}, m[3] = {1, 1, 4};
    double in[2] = {0, 1}, out[4];
    ck_assert(ps_resize3d(in, n, out, m, 1, -1, 0, 1) == 0);
    ck_assert_close(out[0], 0.0, PS_TOL_EXACT);
    ck_assert_close(out[1], 0.25, PS_TOL_EXACT);
    ck_assert_close(out[2], 0.75, PS_TOL_EXACT);
    ck_assert_close(out[3], 1.0, PS_TOL_EXACT);
    double c[6] = {3, 3, 3, 3, 3, 3}, co[15];
    const int64_t n2[3] = {1, 2, 3}, m2[3] = {1, 3, 5};
    ck_assert(ps_resize3d(c, n2, co, m2, 3, -1, 0, 1) == 0);
    for (int i = 0; i < 15; i++)
        ck_assert_close(co[i], 3.0, 1e-14);
    /* separate-z rule: spacing (3.2, 0.7, 0.9): ratio 4.57 > 3, axis 0; (2, 1, 1): none, so
     * the second spacing decides; two equal largest spacings: none */
    const double a[3] = {3.2, 0.7, 0.9}, b[3] = {2, 1, 1}, t[3] = {1, 4, 4}, e[3] = {1, 4, 4.0};
    ck_assert_int_eq(ps_separate_z_axis(a, NULL), 0);
    ck_assert_int_eq(ps_separate_z_axis(b, a), 0);
    ck_assert_int_eq(ps_separate_z_axis(t, NULL), -1);
    ck_assert_int_eq(ps_separate_z_axis(b, e), -1);
}
END_TEST


/* postprocessing by hand: a 1 x 3 x 7 label map (rows of 7):
 *   row 0: 1 1 0 1 1 1 0      class 1: components {0,1} (2 voxels), {3,4,5} + row 1's 5
 *   row 1: 0 0 0 0 0 1 0               (4 voxels), {row 2: 0} (1 voxel)
 *   row 2: 1 0 2 2 0 2 0      class 2: {2,3} (2 voxels), {5} (1 voxel)
 * keep the largest component of class 1 (4 voxels), then of class 2 (2 voxels). With a
 * minimum size of 1.5 voxels x 2 mm^3 = 3 mm^3 for class 1 only the 1-voxel component goes. */
START_TEST(test_postprocess_hand)
{
    char path[4096];
    snprintf(path, sizeof path, "%s", ps_test_tmp("pp_hand.json"));
    FILE *f = fopen(path, "w");
    fputs("{\"dc_per_class_raw\": {\"1\": 0.5}, \"for_which_classes\": [1, [2]],\n"
          " \"min_valid_object_sizes\": \"{1: 3.0, (2,): 100}\", \"num_samples\": 3}", f);
    fclose(f);
    ps_postprocessing pp;
    ck_assert_msg(ps_postprocessing_read(path, &pp) == 0, "%s", ps_error_message());
    ck_assert_int_eq(pp.ngroups, 2);
    ck_assert_int_eq(pp.nclasses[0], 1);
    ck_assert_int_eq(pp.classes[0][0], 1);
    ck_assert_int_eq(pp.nclasses[1], 1);
    ck_assert_int_eq(pp.classes[1][0], 2);
    ck_assert(pp.has_min_size[0]);
    ck_assert_close(pp.min_size_mm3[0], 3.0, PS_TOL_EXACT);
    ck_assert(pp.has_min_size[1]); /* key (2,) is the one-class region [2] */
    const int32_t in[21] = {1, 1, 0, 1, 1, 1, 0, 0, 0, 0, 0, 0, 1, 0, 1, 0, 2, 2, 0, 2, 0};
    const int64_t n[3] = {1, 3, 7};
    int32_t a[21];
    /* without minimum sizes: the largest component per entry */
    ps_postprocessing plain = pp;
    plain.has_min_size[0] = plain.has_min_size[1] = 0;
    memcpy(a, in, sizeof a);
    ck_assert(ps_postprocess_apply(a, n, 2.0, &plain) == 0);
    const int32_t want[21] = {0, 0, 0, 1, 1, 1, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0, 2, 2, 0, 0, 0};
    for (int i = 0; i < 21; i++)
        ck_assert_int_eq(a[i], want[i]);
    /* with them: class 1 removes only volumes below 3 mm^3 (the 1-voxel one, 2 mm^3); class 2
     * (minimum 100) removes its 1-voxel component */
    memcpy(a, in, sizeof a);
    ck_assert(ps_postprocess_apply(a, n, 2.0, &pp) == 0);
    const int32_t want2[21] = {1, 1, 0, 1, 1, 1, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0, 2, 2, 0, 0, 0};
    for (int i = 0; i < 21; i++)
        ck_assert_int_eq(a[i], want2[i]);
    /* two components of the largest size are both kept */
    int32_t t[7] = {3, 0, 3, 0, 0, 0, 0};
    ps_postprocessing p3 = {0};
    p3.ngroups = 1;
    p3.nclasses[0] = 1;
    p3.classes[0][0] = 3;
    const int64_t n3[3] = {1, 1, 7};
    ck_assert(ps_postprocess_apply(t, n3, 1.0, &p3) == 0);
    ck_assert_int_eq(t[0], 3);
    ck_assert_int_eq(t[2], 3);
    /* a malformed file names itself */
    f = fopen(path, "w");
    fputs("{\"for_which_classes\": [1, x]}", f);
    fclose(f);
    ck_assert_int_ne(ps_postprocessing_read(path, &pp), 0);
    ck_assert(strstr(ps_error_message(), "pp_hand.json"));
}
END_TEST

static Suite *make_suite(void)
{
    Suite *s = suite_create("infer_pipeline");
    TCase *tc = tcase_create("pipeline");
    tcase_set_timeout(tc, 600);
    tcase_add_test(tc, test_resize_hand);
    tcase_add_test(tc, test_postprocess_hand);
    tcase_add_test(tc, test_ct_unet);
    tcase_add_test(tc, test_mri_pansegnet);
    tcase_add_test(tc, test_ens_pp);
    tcase_add_test(tc, test_ct_onetile);
    tcase_add_test(tc, test_transpose_quirk);
    tcase_add_test(tc, test_threads_identical);
    tcase_add_test(tc, test_bad_inputs);
    tcase_add_test(tc, test_model_without_plans);
    suite_add_tcase(s, tc);
    return s;
}

PS_TEST_MAIN(make_suite)
