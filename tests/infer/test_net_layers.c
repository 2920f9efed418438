/* test_net_layers.c - the network's layer kernels against PyTorch 1.13.
 *
 * Expected values: tests/golden/infer/layers_*.txt, written by tests/reference/infer_layers.py
 * (torch.nn.Conv3d, ConvTranspose3d, InstanceNorm3d + LeakyReLU, and the SelfAttentionLayer /
 * SelfAtten3DBlock modules of tests/reference/infer_model.py). Both the portable reference
 * kernels and the oneDNN path (when built with it) must match to PS_TOL_LAYER.
 */
#include "ps_config.h"
#include "ps_test.h"
#include "net_internal.h"

/* float32 kernels against float32 PyTorch, absolute: sums of up to ~900 products of O(1)
 * values. Observed: reference convolutions bit-identical to PyTorch, oneDNN <= 2.9e-6,
 * instance norm <= 2.4e-6, attention <= 7.2e-7. */
#define PS_TOL_LAYER 1e-5

typedef struct golden {
    int n;
    char name[64][96];
    int ndim[64];
    int64_t shape[64][6];
    int64_t numel[64];
    float *data[64];
} golden;

static golden *golden_load(const char *case_name)
{
    char rel[128];
    snprintf(rel, sizeof rel, "golden/infer/layers_%s.txt", case_name);
    FILE *f = fopen(ps_test_path(rel), "r");
    ck_assert_msg(f != NULL, "cannot open %s", ps_test_path(rel));
    golden *g = calloc(1, sizeof *g);
    char line[512];
    while (fgets(line, sizeof line, f)) {
        if (line[0] == '#')
            continue;
        ck_assert(strncmp(line, "array ", 6) == 0 && g->n < 64);
        int i = g->n++, off = 0;
        ck_assert(sscanf(line + 6, "%95s %d%n", g->name[i], &g->ndim[i], &off) == 2);
        char *p = line + 6 + off;
        g->numel[i] = 1;
        for (int d = 0; d < g->ndim[i]; d++) {
            g->shape[i][d] = strtoll(p, &p, 10);
            g->numel[i] *= g->shape[i][d];
        }
        g->data[i] = malloc((size_t)g->numel[i] * sizeof(float));
        for (int64_t k = 0; k < g->numel[i]; k++)
            ck_assert(fscanf(f, "%f", &g->data[i][k]) == 1);
        if (!fgets(line, sizeof line, f)) /* rest of the last value line */
            break;
    }
    fclose(f);
    return g;
}

static const float *gget(const golden *g, const char *name, int64_t *numel)
{
    for (int i = 0; i < g->n; i++)
        if (!strcmp(g->name[i], name)) {
            if (numel)
                *numel = g->numel[i];
            return g->data[i];
        }
    ck_abort_msg("golden array %s missing", name);
    return NULL;
}

static void golden_free(golden *g)
{
    for (int i = 0; i < g->n; i++)
        free(g->data[i]);
    free(g);
}

static double max_abs_diff(const float *a, const float *b, int64_t n)
{
    double m = 0.0;
    for (int64_t i = 0; i < n; i++) {
        double d = fabs((double)a[i] - (double)b[i]);
        if (!(d <= m))
            m = d; /* NaN propagates */
    }
    return m;
}

static int64_t vox(const int s[3])
{
    return (int64_t)s[0] * s[1] * s[2];
}

/* Fill a conv shape from the golden's params row. */
static void conv_params(const golden *g, ps_conv_shape *cs, int transposed)
{
    const float *p = gget(g, "params", NULL);
    memset(cs, 0, sizeof *cs);
    cs->cin = (int)p[0];
    cs->cout = (int)p[1];
    for (int a = 0; a < 3; a++) {
        cs->in[a] = (int)p[2 + a];
        cs->k[a] = (int)p[5 + a];
        cs->stride[a] = transposed ? cs->k[a] : (int)p[8 + a];
        cs->pad[a] = transposed ? 0 : (int)p[11 + a];
    }
    ck_assert_int_eq(ps_conv_shape_resolve(cs, transposed), 0);
}

static void check_conv_case(const char *case_name, int transposed)
{
    golden *g = golden_load(case_name);
    ps_conv_shape cs;
    conv_params(g, &cs, transposed);
    int64_t ny;
    const float *x = gget(g, "x", NULL), *w = gget(g, "w", NULL), *yref = gget(g, "y", &ny);
    const float *b = transposed ? NULL : gget(g, "b", NULL);
    ck_assert_int_eq(ny, (int64_t)cs.cout * vox(cs.out));

    /* reference path, 1 and 2 threads: identical bits */
    float *y1 = malloc((size_t)ny * sizeof *y1), *y2 = malloc((size_t)ny * sizeof *y2);
    if (transposed) {
        ps_convt3d_ref(&cs, x, w, y1, 1);
        ps_convt3d_ref(&cs, x, w, y2, 2);
    } else {
        ps_conv3d_ref(&cs, x, w, b, y1, 1);
        ps_conv3d_ref(&cs, x, w, b, y2, 2);
    }
    double err = max_abs_diff(y1, yref, ny);
    printf("%s reference: max abs diff %.3g\n", case_name, err);
    ck_assert_msg(err <= PS_TOL_LAYER, "%s reference: max |diff| %g", case_name, err);
    ck_assert_msg(memcmp(y1, y2, (size_t)ny * sizeof *y1) == 0,
                  "%s reference: 1 and 2 threads differ", case_name);

#if PS_HAVE_DNNL
    ps_dnnl *e;
    ps_dnnl_conv *c;
    ck_assert_int_eq(ps_dnnl_create(&e), 0);
    int src_cb = cs.cin == 1 ? 1 : 16;
    ck_assert_int_eq(ps_dnnl_conv_create(e, &cs, transposed, w, b, src_cb, &c), 0);
    int64_t nin = (int64_t)ps_cpad(cs.cin, src_cb) * vox(cs.in);
    int64_t nout = (int64_t)ps_cpad(cs.cout, 16) * vox(cs.out);
    float *xb = malloc((size_t)nin * sizeof *xb), *yb = malloc((size_t)nout * sizeof *yb);
    if (src_cb == 16)
        ps_layout_block16(x, cs.cin, vox(cs.in), xb, 2);
    else
        memcpy(xb, x, (size_t)nin * sizeof *xb);
    ck_assert_int_eq(ps_dnnl_conv_run(c, xb, yb), 0);
    ps_layout_unblock16(yb, cs.cout, vox(cs.out), y2, 2);
    err = max_abs_diff(y2, yref, ny);
    printf("%s oneDNN: max abs diff %.3g\n", case_name, err);
    ck_assert_msg(err <= PS_TOL_LAYER, "%s oneDNN (%s): max |diff| %g", case_name,
                  ps_dnnl_conv_impl(c), err);
    free(xb);
    free(yb);
    ps_dnnl_conv_free(c);
    ps_dnnl_free(e);
#endif
    free(y1);
    free(y2);
    golden_free(g);
}

START_TEST(conv_first_layer)
{
    check_conv_case("conv_first", 0); /* 1 -> 16 channels, kernel (1,3,3), pad (0,1,1) */
}
END_TEST

START_TEST(conv_anisotropic_stride)
{
    check_conv_case("conv_aniso", 0); /* 16 -> 32, kernel 3, stride (1,2,2) */
}
END_TEST

START_TEST(conv_kernel_with_ones)
{
    check_conv_case("conv_k1", 0); /* 32 -> 16, kernel (3,1,3), stride (2,1,2), pad (1,0,1) */
}
END_TEST

START_TEST(convt_122)
{
    check_conv_case("convt_122", 1); /* 32 -> 16, kernel = stride = (1,2,2) */
}
END_TEST

START_TEST(convt_222)
{
    check_conv_case("convt_222", 1); /* 16 -> 16, kernel = stride = (2,2,2) */
}
END_TEST

START_TEST(instnorm_lrelu_both_layouts)
{
    golden *g = golden_load("instnorm");
    int64_t n;
    const float *x = gget(g, "x", &n), *gam = gget(g, "gamma", NULL), *bet = gget(g, "beta", NULL);
    const float *yref = gget(g, "y", NULL);
    const int C = 32;
    const int64_t S = 4 * 5 * 6; /* golden shape (32, 4, 5, 6) */
    ck_assert_int_eq(n, C * S);
    float *a = malloc((size_t)n * sizeof *a), *b = malloc((size_t)n * sizeof *b);
    float *blk = malloc((size_t)n * sizeof *blk);
    memcpy(a, x, (size_t)n * sizeof *a);
    memcpy(b, x, (size_t)n * sizeof *b);
    ck_assert_int_eq(ps_instnorm_lrelu(a, C, S, 1, gam, bet, 1e-5f, 0.01f, 1), 0);
    ck_assert_int_eq(ps_instnorm_lrelu(b, C, S, 1, gam, bet, 1e-5f, 0.01f, 2), 0);
    double err = max_abs_diff(a, yref, n);
    printf("instnorm plain: max abs diff %.3g\n", err);
    ck_assert_msg(err <= PS_TOL_LAYER, "plain layout: max |diff| %g", err);
    ck_assert(memcmp(a, b, (size_t)n * sizeof *a) == 0); /* thread count invariance */

    ps_layout_block16(x, C, S, blk, 2);
    ck_assert_int_eq(ps_instnorm_lrelu(blk, C, S, 16, gam, bet, 1e-5f, 0.01f, 2), 0);
    ps_layout_unblock16(blk, C, S, b, 2);
    err = max_abs_diff(b, yref, n);
    printf("instnorm blocked: max abs diff %.3g\n", err);
    ck_assert_msg(err <= PS_TOL_LAYER, "blocked layout: max |diff| %g", err);

    /* 8 channels in one padded block of 16: padding lanes stay 0 */
    float *pad = calloc((size_t)(16 * S), sizeof *pad);
    ps_layout_block16(x, 8, S, pad, 1);
    ck_assert_int_eq(ps_instnorm_lrelu(pad, 8, S, 16, gam, bet, 1e-5f, 0.01f, 2), 0);
    for (int64_t s = 0; s < S; s++)
        for (int l = 0; l < 16; l++) {
            float v = pad[s * 16 + l];
            if (l < 8)
                ck_assert_float_eq_tol(v, yref[l * S + s], PS_TOL_LAYER);
            else
                ck_assert(v == 0.0f);
        }
    free(pad);
    free(a);
    free(b);
    free(blk);
    golden_free(g);
}
END_TEST

static void bind_layer(const golden *g, const char *prefix, ps_attn_layer *L)
{
    char k[160];
#define B(field, name)                                     \
    snprintf(k, sizeof k, "%s%s", prefix, name);           \
    L->field = gget(g, k, NULL)
    B(wq, "self_attn.linears.0.weight");
    B(bq, "self_attn.linears.0.bias");
    B(wk, "self_attn.linears.1.weight");
    B(bk, "self_attn.linears.1.bias");
    B(wv, "self_attn.linears.2.weight");
    B(bv, "self_attn.linears.2.bias");
    B(wo, "self_attn.linears.3.weight");
    B(bo, "self_attn.linears.3.bias");
    B(w1, "linear1.weight");
    B(b1, "linear1.bias");
    B(w2, "linear2.weight");
    B(b2, "linear2.bias");
    B(ln1_g, "layer_norm1.weight");
    B(ln1_b, "layer_norm1.bias");
    B(ln2_g, "layer_norm2.weight");
    B(ln2_b, "layer_norm2.bias");
#undef B
}

START_TEST(linear_attention_and_transformer_layer)
{
    golden *g = golden_load("transformer");
    const float *p = gget(g, "params", NULL);
    const int d = (int)p[0], heads = (int)p[1], dff = (int)p[2], n = (int)p[3];
    ps_attn_layer L;
    bind_layer(g, "", &L);
    const float *x = gget(g, "x", NULL);
    size_t nwork = 6 * (size_t)n * (size_t)d + (size_t)n * (size_t)dff + (size_t)d * (size_t)d;
    float *work = malloc(nwork * sizeof *work);
    float *out = malloc((size_t)(n * d) * sizeof *out), *out2 = malloc((size_t)(n * d) * sizeof *out2);

    ps_mha_linear(&L, x, n, d, heads, out, work, 1);
    double err = max_abs_diff(out, gget(g, "mha", NULL), n * d);
    printf("linear MHA: max abs diff %.3g\n", err);
    ck_assert_msg(err <= PS_TOL_LAYER, "linear MHA: max |diff| %g", err);
    ps_mha_linear(&L, x, n, d, heads, out2, work, 2);
    ck_assert(memcmp(out, out2, (size_t)(n * d) * sizeof *out) == 0);

    memcpy(out, x, (size_t)(n * d) * sizeof *out);
    ps_transformer_layer(&L, out, n, d, heads, dff, 1e-6f, work, 2);
    err = max_abs_diff(out, gget(g, "y", NULL), n * d);
    printf("transformer layer: max abs diff %.3g\n", err);
    ck_assert_msg(err <= PS_TOL_LAYER, "transformer layer: max |diff| %g", err);
    free(work);
    free(out);
    free(out2);
    golden_free(g);
}
END_TEST

START_TEST(attention_block)
{
    golden *g = golden_load("attnblock");
    const float *p = gget(g, "params", NULL);
    ps_attn a;
    memset(&a, 0, sizeof a);
    a.channels = (int)p[0];
    a.tokens = (int)(p[1] * p[2] * p[3]);
    a.d_model = (int)p[4];
    a.n_layers = (int)p[5];
    a.heads = 8;
    a.d_ff = a.d_model;
    a.ln_eps = 1e-6f;
    a.proj_w = gget(g, "linear_proj.weight", NULL);
    a.proj_b = gget(g, "linear_proj.bias", NULL);
    a.back_w = gget(g, "linear_back_proj.weight", NULL);
    a.back_b = gget(g, "linear_back_proj.bias", NULL);
    a.pe = gget(g, "pe", NULL);
    for (int l = 0; l < a.n_layers; l++) {
        char prefix[64];
        snprintf(prefix, sizeof prefix, "transformer.layers.%d.", l);
        bind_layer(g, prefix, &a.layer[l]);
    }
    int64_t ny;
    const float *yref = gget(g, "y", &ny);
    float *y = malloc((size_t)ny * sizeof *y);
    ck_assert_int_eq(ps_attn_forward(&a, gget(g, "x", NULL), y, 2), 0);
    double err = max_abs_diff(y, yref, ny);
    printf("attention block: max abs diff %.3g\n", err);
    ck_assert_msg(err <= PS_TOL_LAYER, "attention block: max |diff| %g", err);
    free(y);
    golden_free(g);
}
END_TEST

START_TEST(head_and_layouts)
{
    /* x[c][s] = c + 10 s, w[k][c] = k + 1, C = 24 (one full and one padded block of 16):
     * out[k][s] = (k + 1) * sum_c (c + 10 s) = (k + 1) * (276 + 240 s)   (sum 0..23 = 276) */
    enum { C = 24, S = 5, K = 2 };
    float x[C * S], w[K * C], blk[32 * S], back[C * S], out[K * S];
    for (int c = 0; c < C; c++)
        for (int s = 0; s < S; s++)
            x[c * S + s] = (float)(c + 10 * s);
    for (int k = 0; k < K; k++)
        for (int c = 0; c < C; c++)
            w[k * C + c] = (float)(k + 1);
    for (int cb = 1; cb <= 16; cb += 15) {
        const float *src = x;
        if (cb == 16) {
            ps_layout_block16(x, C, S, blk, 2);
            for (int s = 0; s < S; s++) /* padding lanes of the second block */
                for (int l = 8; l < 16; l++)
                    ck_assert(blk[16 * S + s * 16 + l] == 0.0f);
            ps_layout_unblock16(blk, C, S, back, 2);
            ck_assert(memcmp(back, x, sizeof x) == 0);
            src = blk;
        }
        ps_conv1x1_to_plain(src, C, S, cb, w, K, out, 2);
        for (int k = 0; k < K; k++)
            for (int s = 0; s < S; s++)
                ck_assert_float_eq(out[k * S + s], (float)((k + 1) * (276 + 240 * s)));
    }
}
END_TEST

START_TEST(concat_padded_blocks)
{
    /* a: 8 channels of value 100 + c, b: 8 channels of value 200 + c, 3 voxels, cb = 16:
     * out channel c < 8 holds 100 + c, channel 8 + c holds 200 + c (one full block). */
    enum { S = 3 };
    float a[16 * S], b[16 * S], out[16 * S];
    memset(a, 0, sizeof a);
    memset(b, 0, sizeof b);
    for (int s = 0; s < S; s++)
        for (int c = 0; c < 8; c++) {
            a[s * 16 + c] = (float)(100 + c);
            b[s * 16 + c] = (float)(200 + c);
        }
    ps_concat_channels(a, 8, b, 8, S, 16, out, 2);
    for (int s = 0; s < S; s++)
        for (int c = 0; c < 16; c++)
            ck_assert_float_eq(out[s * 16 + c], (float)(c < 8 ? 100 + c : 200 + c - 8));
}
END_TEST

START_TEST(conv_shape_errors)
{
    ps_conv_shape cs = {.cin = 1, .cout = 1, .k = {3, 3, 3}, .stride = {1, 1, 1},
                        .pad = {0, 0, 0}, .in = {2, 8, 8}};
    ck_assert_int_eq(ps_conv_shape_resolve(&cs, 0), PS_ERR_ARG);
    ck_assert_ptr_nonnull(strstr(ps_error_message(), "smaller than its kernel"));
    cs.in[0] = 8;
    cs.stride[1] = 0;
    ck_assert_int_eq(ps_conv_shape_resolve(&cs, 0), PS_ERR_ARG);
    ck_assert_ptr_nonnull(strstr(ps_error_message(), "stride 0"));
}
END_TEST

static Suite *make_suite(void)
{
    Suite *s = suite_create("infer_net_layers");
    TCase *tc = tcase_create("layers");
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, conv_first_layer);
    tcase_add_test(tc, conv_anisotropic_stride);
    tcase_add_test(tc, conv_kernel_with_ones);
    tcase_add_test(tc, convt_122);
    tcase_add_test(tc, convt_222);
    tcase_add_test(tc, instnorm_lrelu_both_layouts);
    tcase_add_test(tc, linear_attention_and_transformer_layer);
    tcase_add_test(tc, attention_block);
    tcase_add_test(tc, head_and_layouts);
    tcase_add_test(tc, concat_padded_blocks);
    tcase_add_test(tc, conv_shape_errors);
    suite_add_tcase(s, tc);
    return s;
}

PS_TEST_MAIN(make_suite)
