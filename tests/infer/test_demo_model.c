/* test_demo_model.c - the bundled demo model (models/demo-pancreas) as panseval reads it.
 *
 * Expected values: the plans are the inputs of tests/reference/train_demo_model.py (TASK,
 * TARGET_SPACING, PATCH, POOL, CONV, BASE, the 'nonCT' scheme); parameters and FLOPs come from
 * tests/golden/infer/demo_model/model_info.tsv (torch forward hooks, same script); the logits
 * tests/golden/infer/demo_model/logits.nii.gz are PyTorch 1.13's float32 forward pass of the
 * trained weights on input.nii.gz, a preprocessed 8 x 48 x 64 patch of demo case t2w03 (seed
 * 1). Both convolution backends must match them to PS_TOL_LOGITS (absolute), as the fixture
 * models of test_net.c do; the reference backend gives the same bits for 1 and 2 threads.
 */
#include "ps_config.h"
#include "ps_io.h"
#include "ps_test.h"
#include "ps_infer.h"

#define PS_TOL_LOGITS 1e-4

static ps_model *load_demo(void)
{
    ps_model *m = NULL;
    int rc = ps_model_load(ps_test_path("../models/demo-pancreas"), 0, NULL, &m);
    ck_assert_msg(rc == 0, "%s", ps_error_message());
    return m;
}

static double golden_value(const char *key)
{
    FILE *f = fopen(ps_test_path("golden/infer/demo_model/model_info.tsv"), "r");
    ck_assert_ptr_nonnull(f);
    char line[512], name[64];
    double v = -1.0, x;
    while (fgets(line, sizeof line, f))
        if (sscanf(line, "%63[^\t]\t%lf", name, &x) == 2 && !strcmp(name, key))
            v = x;
    fclose(f);
    ck_assert_msg(v >= 0, "no %s in model_info.tsv", key);
    return v;
}

START_TEST(plans)
{
    ps_model *m = load_demo();
    const ps_plans *p = &m->plans;
    ck_assert_str_eq(p->trainer, "nnUNetTrainerV2");
    ck_assert_int_eq(p->num_classes, 1);
    ck_assert_int_eq(p->num_input_channels, 1);
    ck_assert_int_eq(p->num_modalities, 1);
    ck_assert_int_eq(p->base_num_features, 8);
    ck_assert_int_eq(p->num_pool, 3);
    ck_assert_int_eq(p->num_stages, 1);
    ck_assert_int_eq(p->stage, 0);
    const int patch[3] = {24, 64, 64}, pool[3][3] = {{1, 2, 2}, {2, 2, 2}, {2, 2, 2}};
    const int conv[4][3] = {{1, 3, 3}, {3, 3, 3}, {3, 3, 3}, {3, 3, 3}};
    const double spacing[3] = {4.0, 2.0, 2.0};
    for (int a = 0; a < 3; a++) {
        ck_assert_int_eq(p->patch_size[a], patch[a]);
        ck_assert_double_eq(p->spacing[a], spacing[a]);
        ck_assert_int_eq(p->transpose_forward[a], a);
        ck_assert_int_eq(p->transpose_backward[a], a);
        for (int s = 0; s < 3; s++)
            ck_assert_int_eq(p->pool_kernels[s][a], pool[s][a]);
        for (int s = 0; s < 4; s++)
            ck_assert_int_eq(p->conv_kernels[s][a], conv[s][a]);
    }
    ck_assert_str_eq(p->normalization[0], "nonCT");
    ck_assert_int_eq(p->use_mask_for_norm[0], 0);
    ck_assert_int_eq(m->has_attention, 0);
    ps_model_free(m);
}
END_TEST

static float *forward(const ps_model *m, const ps_volume *in, ps_conv_backend backend,
                      int threads, int64_t n)
{
    ps_context ctx;
    ps_context_init(&ctx);
    ctx.threads = threads;
    const int patch[3] = {(int)in->geom.dim[2], (int)in->geom.dim[1], (int)in->geom.dim[0]};
    ps_net *net = NULL;
    int rc = ps_net_create(m, patch, backend, &ctx, &net);
    ck_assert_msg(rc == 0, "%s", ps_error_message());
    float *y = malloc((size_t)n * sizeof *y);
    ck_assert_ptr_nonnull(y);
    rc = ps_net_forward(net, (const float *)in->data, y);
    ck_assert_msg(rc == 0, "%s", ps_error_message());
    ps_net_free(net);
    return y;
}

static void check_close(const float *y, const ps_volume *ref, int64_t n, const char *what)
{
    const float *r = (const float *)ref->data;
    double maxerr = 0.0;
    for (int64_t i = 0; i < n; i++) {
        double d = fabs((double)y[i] - (double)r[i]);
        if (!(d <= maxerr))
            maxerr = d;
    }
    ck_assert_msg(maxerr <= PS_TOL_LOGITS, "%s: max |logit - torch| = %g", what, maxerr);
}

START_TEST(logits_match_pytorch)
{
    ps_model *m = load_demo();
    ps_volume *in = NULL, *ref = NULL;
    ck_assert_int_eq(ps_volume_read_float(ps_test_path("golden/infer/demo_model/input.nii.gz"),
                                          &in), 0);
    ck_assert_int_eq(ps_volume_read_float(ps_test_path("golden/infer/demo_model/logits.nii.gz"),
                                          &ref), 0);
    ck_assert_int_eq(in->nc, 1);
    ck_assert_int_eq(ref->nc, 2);
    int64_t n = ps_volume_nvox(ref) * ref->nc;
    float *a = forward(m, in, PS_CONV_REFERENCE, 1, n);
    float *b = forward(m, in, PS_CONV_REFERENCE, 2, n);
    check_close(a, ref, n, "reference backend");
    ck_assert_msg(memcmp(a, b, (size_t)n * sizeof *a) == 0, "reference: 1 and 2 threads differ");
    free(b);
#if PS_HAVE_DNNL
    b = forward(m, in, PS_CONV_ONEDNN, 2, n);
    check_close(b, ref, n, "oneDNN backend");
    free(b);
#endif
    free(a);
    ps_volume_free(in);
    ps_volume_free(ref);
    ps_model_free(m);
}
END_TEST

START_TEST(size_and_cost)
{
    ps_model *m = load_demo();
    ps_net *net = NULL;
    int rc = ps_net_create(m, m->plans.patch_size, PS_CONV_REFERENCE, NULL, &net);
    ck_assert_msg(rc == 0, "%s", ps_error_message());
    ck_assert_int_eq(ps_net_param_count(net), (int64_t)golden_value("parameters"));
    ck_assert_double_eq(ps_net_flops(net), golden_value("flops"));
    ps_net_free(net);
    ps_model_free(m);
}
END_TEST

static Suite *demo_model_suite(void)
{
    Suite *s = suite_create("demo_model");
    TCase *tc = tcase_create("demo_model");
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, plans);
    tcase_add_test(tc, logits_match_pytorch);
    tcase_add_test(tc, size_and_cost);
    suite_add_tcase(s, tc);
    return s;
}

PS_TEST_MAIN(demo_model_suite)
