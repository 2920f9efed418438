/* test_net.c - whole forward passes against PyTorch on the fixture model folders.
 *
 * Expected values: tests/golden/infer/<model>/logits.nii.gz, the float32 logits of the PyTorch
 * 1.13 module of tests/reference/infer_model.py on input.nii.gz (written by
 * tests/reference/make_infer_fixtures.py). Both convolution backends must match to
 * PS_TOL_LOGITS (absolute). The NIfTI voxel order (i fastest, then j, k, channel) is the
 * row-major order of the tensor (C, D, H, W) with (k, j, i) = (D, H, W), so no reordering.
 */
#include <sys/wait.h>

#include "ps_config.h"
#include "ps_io.h"
#include "ps_test.h"
#include "ps_infer.h"

#define PS_TOL_LOGITS 1e-4

static const char *model_dir(const char *name)
{
    static char buf[4096];
    char rel[256];
    snprintf(rel, sizeof rel, "golden/infer/%s", name);
    snprintf(buf, sizeof buf, "%s", ps_test_path(rel));
    return buf;
}

static void run_fixture(const char *name, ps_conv_backend backend, int threads, float **out,
                        int64_t *n_out)
{
    char path[4200];
    ps_model *m = NULL;
    int rc = ps_model_load(model_dir(name), 0, "model_final_checkpoint", &m);
    ck_assert_msg(rc == 0, "%s: %s", name, ps_error_message());

    ps_volume *in = NULL, *ref = NULL;
    snprintf(path, sizeof path, "%s/input.nii.gz", model_dir(name));
    ck_assert_msg(ps_volume_read_float(path, &in) == 0, "%s", ps_error_message());
    snprintf(path, sizeof path, "%s/logits.nii.gz", model_dir(name));
    ck_assert_msg(ps_volume_read_float(path, &ref) == 0, "%s", ps_error_message());
    ck_assert_int_eq(in->nc, m->plans.num_input_channels);
    ck_assert_int_eq(ref->nc, m->plans.num_classes + 1);

    ps_context ctx;
    ps_context_init(&ctx);
    ctx.threads = threads;
    const int patch[3] = {(int)in->geom.dim[2], (int)in->geom.dim[1], (int)in->geom.dim[0]};
    ps_net *net = NULL;
    rc = ps_net_create(m, patch, backend, &ctx, &net);
    ck_assert_msg(rc == 0, "%s: %s", name, ps_error_message());
    ck_assert(ps_net_flops(net) > 0);
    ck_assert(ps_net_param_count(net) > 0);

    /* The memory plan's arena is the live set at the top decoder step: skip, upsampled map
     * and the first block's output, f_0 channels of the patch each (hand count; every map
     * of these fixtures is a whole number of 4 KiB pages). */
    const int64_t S0 = (int64_t)patch[0] * patch[1] * patch[2];
    ck_assert_int_eq(ps_net_activation_bytes(net),
                     3 * (int64_t)m->plans.base_num_features * S0 * (int64_t)sizeof(float));

    int64_t n = ps_volume_nvox(ref) * ref->nc;
    float *logits = malloc((size_t)n * sizeof *logits), *again = malloc((size_t)n * sizeof *again);
    rc = ps_net_forward(net, (const float *)in->data, logits);
    ck_assert_msg(rc == 0, "%s: %s", name, ps_error_message());
    /* a second pass reuses the arena and gives the same bits */
    rc = ps_net_forward(net, (const float *)in->data, again);
    ck_assert_msg(rc == 0, "%s: %s", name, ps_error_message());
    ck_assert_msg(memcmp(logits, again, (size_t)n * sizeof *logits) == 0,
                  "%s: the second pass differs", name);
    free(again);

    const float *r = (const float *)ref->data;
    double maxerr = 0.0;
    for (int64_t i = 0; i < n; i++) {
        double d = fabs((double)logits[i] - (double)r[i]);
        if (!(d <= maxerr))
            maxerr = d;
    }
    ck_assert_msg(maxerr <= PS_TOL_LOGITS, "%s (%s): max |logit - torch| = %g", name,
                  ps_conv_backend_name(ps_net_backend(net)), maxerr);
    ps_net_free(net);
    ps_volume_free(in);
    ps_volume_free(ref);
    ps_model_free(m);
    *out = logits;
    *n_out = n;
}

static void check_fixture(const char *name)
{
    float *a, *b;
    int64_t n;
    /* reference backend: bit-identical for 1 and 2 threads */
    run_fixture(name, PS_CONV_REFERENCE, 1, &a, &n);
    run_fixture(name, PS_CONV_REFERENCE, 2, &b, &n);
    ck_assert_msg(memcmp(a, b, (size_t)n * sizeof *a) == 0, "%s: thread counts differ", name);
    free(b);
#if PS_HAVE_DNNL
    run_fixture(name, PS_CONV_ONEDNN, 2, &b, &n);
    free(b);
#endif
    free(a);
}

START_TEST(unet_2class)
{
    check_fixture("unet_2class");
}
END_TEST

START_TEST(unet_3class)
{
    check_fixture("unet_3class");
}
END_TEST

START_TEST(pansegnet_attention)
{
    check_fixture("pansegnet");
}
END_TEST

START_TEST(legacy_format_model)
{
    check_fixture("legacy"); /* pre-1.6 torch.save stream, base 2 */
}
END_TEST

START_TEST(blocked_net16)
{
    /* feature counts 16 and 32 (tests/reference/infer_layers.py, net16_case): channel counts
     * that fill whole vectors, as in full-size networks */
    check_fixture("layers_net16");
}
END_TEST

START_TEST(patch_not_divisible)
{
    ps_model *m = NULL;
    ck_assert_int_eq(ps_model_load(model_dir("unet_2class"), 0, "model_final_checkpoint", &m), 0);
    int patch[3] = {m->plans.patch_size[0], m->plans.patch_size[1] + 1, m->plans.patch_size[2]};
    ps_net *net = NULL;
    ck_assert_int_eq(ps_net_create(m, patch, PS_CONV_REFERENCE, NULL, &net), PS_ERR_ARG);
    ck_assert_ptr_null(net);
    ck_assert_ptr_nonnull(strstr(ps_error_message(), "not divisible"));
    ps_model_free(m);
}
END_TEST

START_TEST(attention_token_mismatch)
{
    /* PanSegNet's positional table fixes the number of bottleneck tokens: doubling the patch
     * along W doubles them. */
    ps_model *m = NULL;
    ck_assert_int_eq(ps_model_load(model_dir("pansegnet"), 0, "model_final_checkpoint", &m), 0);
    ck_assert(m->has_attention);
    int patch[3] = {m->plans.patch_size[0], m->plans.patch_size[1], 2 * m->plans.patch_size[2]};
    ps_net *net = NULL;
    ck_assert_int_eq(ps_net_create(m, patch, PS_CONV_REFERENCE, NULL, &net), PS_ERR_ARG);
    ck_assert_ptr_nonnull(strstr(ps_error_message(), "tokens"));
    ps_model_free(m);
}
END_TEST

START_TEST(missing_tensor_named)
{
    /* Removing a tensor from the state dict: the error names the key. */
    ps_model *m = NULL;
    ck_assert_int_eq(ps_model_load(model_dir("unet_2class"), 0, "model_final_checkpoint", &m), 0);
    ps_tensor *t = NULL;
    for (int i = 0; i < m->sd.n; i++)
        if (!strcmp(m->sd.tensors[i].name, "tu.0.weight"))
            t = &m->sd.tensors[i];
    ck_assert_ptr_nonnull(t);
    t->name[0] = 'X';
    ps_net *net = NULL;
    ck_assert_int_ne(ps_net_create(m, m->plans.patch_size, PS_CONV_REFERENCE, NULL, &net), 0);
    ck_assert_ptr_nonnull(strstr(ps_error_message(), "tu.0.weight"));
    ps_model_free(m);
}
END_TEST

START_TEST(backend_names)
{
#if !PS_HAVE_DNNL
    ps_model *m = NULL;
    ps_net *net = NULL;
    ck_assert_int_eq(ps_model_load(model_dir("unet_2class"), 0, "model_final_checkpoint", &m), 0);
    ck_assert_int_eq(ps_net_create(m, m->plans.patch_size, PS_CONV_ONEDNN, NULL, &net),
                     PS_ERR_UNSUPPORTED);
    ck_assert_ptr_nonnull(strstr(ps_error_message(), "without oneDNN"));
    ps_model_free(m);
#endif
    ps_conv_backend b;
    ck_assert_int_eq(ps_conv_backend_parse("onednn", &b), 0);
    ck_assert_int_eq(b, PS_CONV_ONEDNN);
    ck_assert_int_eq(ps_conv_backend_parse("reference", &b), 0);
    ck_assert_int_eq(b, PS_CONV_REFERENCE);
    ck_assert_int_eq(ps_conv_backend_parse("cuda", &b), PS_ERR_ARG);
    ck_assert_ptr_nonnull(strstr(ps_error_message(), "cuda"));
    ck_assert_str_eq(ps_conv_backend_name(PS_CONV_AUTO), "auto");
}
END_TEST

/* Run `panseval forward ARGS` (PANSEVAL is set by meson); returns the exit status and the
 * captured stderr in err. */
static int run_cli(const char *args, char *err, size_t errlen)
{
    const char *exe = getenv("PANSEVAL");
    ck_assert_ptr_nonnull(exe);
    char cmd[24576];
    snprintf(cmd, sizeof cmd, "%s forward %s 2>%s", exe, args, ps_test_tmp("forward_err.txt"));
    int st = system(cmd);
    FILE *f = fopen(ps_test_tmp("forward_err.txt"), "r");
    size_t n = f ? fread(err, 1, errlen - 1, f) : 0;
    err[n] = 0;
    if (f)
        fclose(f);
    return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

START_TEST(cli_forward_matches_torch)
{
    char args[16384], err[4096], m[4200];
    snprintf(m, sizeof m, "%s", model_dir("pansegnet"));
    snprintf(args, sizeof args, "--model %s --input %s/input.nii.gz -o %s -j 2", m, m,
             ps_test_tmp("forward_logits.nii.gz"));
    ck_assert_msg(run_cli(args, err, sizeof err) == 0, "%s", err);
    ps_volume *out = NULL, *ref = NULL, *in = NULL;
    char path[4300];
    ck_assert_int_eq(ps_volume_read_float(ps_test_tmp("forward_logits.nii.gz"), &out), 0);
    snprintf(path, sizeof path, "%s/logits.nii.gz", m);
    ck_assert_int_eq(ps_volume_read_float(path, &ref), 0);
    snprintf(path, sizeof path, "%s/input.nii.gz", m);
    ck_assert_int_eq(ps_volume_read_float(path, &in), 0);
    ck_assert_int_eq(out->nc, ref->nc);
    ck_assert_int_eq(ps_geometry_check_same(&out->geom, "output", &in->geom, "input"), 0);
    const float *a = out->data, *b = ref->data;
    for (int64_t i = 0; i < ps_volume_nvox(ref) * ref->nc; i++)
        ck_assert_float_eq_tol(a[i], b[i], PS_TOL_LOGITS);
    ps_volume_free(out);
    ps_volume_free(ref);
    ps_volume_free(in);
}
END_TEST

START_TEST(cli_forward_errors)
{
    char args[16384], err[4096], m2[4200], m3[4200];
    snprintf(m2, sizeof m2, "%s", model_dir("unet_2class"));
    snprintf(m3, sizeof m3, "%s", model_dir("unet_3class"));
    /* 1-channel patch into the 2-modality model */
    snprintf(args, sizeof args, "--model %s --input %s/input.nii.gz -o %s", m3, m2,
             ps_test_tmp("forward_bad.nii.gz"));
    ck_assert_int_eq(run_cli(args, err, sizeof err), 1);
    ck_assert_msg(strstr(err, "1 channel(s), but the model expects 2"), "%s", err);
    /* missing model folder: the message names the path (exit 1 or 2 as the loader
     * classifies it) */
    char tmpdir[4096];
    snprintf(tmpdir, sizeof tmpdir, "%s", ps_test_tmp("")); /* ps_test_tmp reuses its buffer */
    snprintf(args, sizeof args, "--model %s/no_such_model --input %s/input.nii.gz -o %s",
             tmpdir, m2, ps_test_tmp("forward_bad.nii.gz"));
    ck_assert_int_ne(run_cli(args, err, sizeof err), 0);
    ck_assert_msg(strstr(err, "no_such_model"), "%s", err);
    /* 16 x 30 x 32 patch: H not divisible by the total down-sampling 4 */
    ps_geometry g;
    ps_geometry_init(&g, 32, 30, 16, 0.8, 0.8, 2.5);
    ps_volume *v = NULL;
    ck_assert_int_eq(ps_volume_create(&g, 1, PS_DT_FLOAT32, &v), 0);
    ck_assert_int_eq(ps_volume_write(ps_test_tmp("forward_odd.nii.gz"), v), 0);
    ps_volume_free(v);
    char odd[4200];
    snprintf(odd, sizeof odd, "%s", ps_test_tmp("forward_odd.nii.gz"));
    snprintf(args, sizeof args, "--model %s --input %s -o %s", m2, odd,
             ps_test_tmp("forward_bad.nii.gz"));
    ck_assert_int_eq(run_cli(args, err, sizeof err), 1);
    ck_assert_msg(strstr(err, "16 x 30 x 32 is not divisible"), "%s", err);
    /* usage errors exit with 2 */
    ck_assert_int_eq(run_cli("--input x.nii.gz -o y.nii.gz", err, sizeof err), 2);
    ck_assert_msg(strstr(err, "missing --model"), "%s", err);
    ck_assert_int_eq(run_cli("--model m --input x.nii.gz -o y.nii --backend cuda", err,
                             sizeof err), 2);
    ck_assert_int_eq(run_cli("--help > /dev/null", err, sizeof err), 0);
}
END_TEST

static Suite *make_suite(void)
{
    Suite *s = suite_create("infer_net");
    TCase *tc = tcase_create("forward");
    tcase_set_timeout(tc, 300);
    tcase_add_test(tc, unet_2class);
    tcase_add_test(tc, unet_3class);
    tcase_add_test(tc, pansegnet_attention);
    tcase_add_test(tc, blocked_net16);
    tcase_add_test(tc, legacy_format_model);
    tcase_add_test(tc, patch_not_divisible);
    tcase_add_test(tc, attention_token_mismatch);
    tcase_add_test(tc, missing_tensor_named);
    tcase_add_test(tc, backend_names);
    tcase_add_test(tc, cli_forward_matches_torch);
    tcase_add_test(tc, cli_forward_errors);
    suite_add_tcase(s, tc);
    return s;
}

PS_TEST_MAIN(make_suite)
