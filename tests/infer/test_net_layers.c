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
        ps_conv3d_ref(&cs, x, w, b, 0, y1, 1);
        ps_conv3d_ref(&cs, x, w, b, 0, y2, 2);
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
    ck_assert_int_eq(ps_dnnl_conv_create(e, &cs, transposed, w, b, 0, &c), 0);
    int64_t nin = (int64_t)cs.cin * vox(cs.in);
    float *xb = malloc((size_t)nin * sizeof *xb), *yb = malloc((size_t)ny * sizeof *yb);
    ps_to_ndhwc(x, cs.cin, vox(cs.in), xb, 2);
    ck_assert_int_eq(ps_dnnl_conv_run(c, xb, yb), 0);
    ps_to_ncdhw(yb, cs.cout, vox(cs.out), y2, 2);
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

/* A convolution split along input channels at h, conv(x[:h], w[:, :h], bias) followed by
 * conv(x[h:], w[:, h:]) accumulated into the same output (how the decoder reads [up, skip]),
 * against PyTorch's output of the whole convolution. */
static void check_split_case(const char *case_name)
{
    golden *g = golden_load(case_name);
    ps_conv_shape cs;
    conv_params(g, &cs, 0);
    int64_t ny;
    const float *x = gget(g, "x", NULL), *w = gget(g, "w", NULL), *yref = gget(g, "y", &ny);
    const float *b = gget(g, "b", NULL);
    const int h = cs.cin / 2;
    const int64_t kvol = (int64_t)cs.k[0] * cs.k[1] * cs.k[2], Si = vox(cs.in);
    ps_conv_shape part[2] = {cs, cs};
    part[0].cin = h;
    part[1].cin = cs.cin - h;
    float *wp[2], *y = malloc((size_t)ny * sizeof *y);
    for (int p = 0; p < 2; p++) {
        wp[p] = malloc((size_t)(cs.cout * part[p].cin * kvol) * sizeof(float));
        for (int co = 0; co < cs.cout; co++)
            memcpy(wp[p] + (int64_t)co * part[p].cin * kvol,
                   w + ((int64_t)co * cs.cin + (p ? h : 0)) * kvol,
                   (size_t)(part[p].cin * kvol) * sizeof(float));
    }
    ps_conv3d_ref(&part[0], x, wp[0], b, 0, y, 2);
    ps_conv3d_ref(&part[1], x + h * Si, wp[1], NULL, 1, y, 2);
    double err = max_abs_diff(y, yref, ny);
    printf("%s split reference: max abs diff %.3g\n", case_name, err);
    ck_assert_msg(err <= PS_TOL_LAYER, "%s split reference: max |diff| %g", case_name, err);
#if PS_HAVE_DNNL
    ps_dnnl *e;
    ps_dnnl_conv *c[2];
    ck_assert_int_eq(ps_dnnl_create(&e), 0);
    ck_assert_int_eq(ps_dnnl_conv_create(e, &part[0], 0, wp[0], b, 0, &c[0]), 0);
    ck_assert_int_eq(ps_dnnl_conv_create(e, &part[1], 0, wp[1], NULL, 1, &c[1]), 0);
    float *xs = malloc((size_t)(cs.cin * Si) * sizeof *xs), *yb = malloc((size_t)ny * sizeof *yb);
    ps_to_ndhwc(x, h, Si, xs, 2);
    ps_to_ndhwc(x + h * Si, cs.cin - h, Si, xs + h * Si, 2);
    ck_assert_int_eq(ps_dnnl_conv_run(c[0], xs, yb), 0);
    ck_assert_int_eq(ps_dnnl_conv_run(c[1], xs + h * Si, yb), 0);
    ps_to_ncdhw(yb, cs.cout, vox(cs.out), y, 2);
    err = max_abs_diff(y, yref, ny);
    printf("%s split oneDNN (%s + %s): max abs diff %.3g\n", case_name, ps_dnnl_conv_impl(c[0]),
           ps_dnnl_conv_impl(c[1]), err);
    ck_assert_msg(err <= PS_TOL_LAYER, "%s split oneDNN: max |diff| %g", case_name, err);
    ps_dnnl_conv_free(c[0]);
    ps_dnnl_conv_free(c[1]);
    ps_dnnl_free(e);
    free(xs);
    free(yb);
#endif
    free(wp[0]);
    free(wp[1]);
    free(y);
    golden_free(g);
}

START_TEST(conv_split_input_channels)
{
    check_split_case("conv_aniso"); /* 16 -> 32 as 8 + 8 input channels */
    check_split_case("conv_k1");    /* 32 -> 16 as 16 + 16 */
}
END_TEST

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
    ck_assert_int_eq(ps_instnorm_lrelu(a, C, S, PS_NCDHW, gam, bet, 1e-5f, 0.01f, 1), 0);
    ck_assert_int_eq(ps_instnorm_lrelu(b, C, S, PS_NCDHW, gam, bet, 1e-5f, 0.01f, 2), 0);
    double err = max_abs_diff(a, yref, n);
    printf("instnorm plain: max abs diff %.3g\n", err);
    ck_assert_msg(err <= PS_TOL_LAYER, "plain layout: max |diff| %g", err);
    ck_assert(memcmp(a, b, (size_t)n * sizeof *a) == 0); /* thread count invariance */

    ps_to_ndhwc(x, C, S, blk, 2);
    ck_assert_int_eq(ps_instnorm_lrelu(blk, C, S, PS_NDHWC, gam, bet, 1e-5f, 0.01f, 2), 0);
    ps_to_ncdhw(blk, C, S, b, 2);
    err = max_abs_diff(b, yref, n);
    printf("instnorm channels last: max abs diff %.3g\n", err);
    ck_assert_msg(err <= PS_TOL_LAYER, "channels-last layout: max |diff| %g", err);

    /* the first 8 channels alone (channel count not a multiple of the vector width) */
    float *part = malloc((size_t)(8 * S) * sizeof *part);
    ps_to_ndhwc(x, 8, S, part, 1);
    ck_assert_int_eq(ps_instnorm_lrelu(part, 8, S, PS_NDHWC, gam, bet, 1e-5f, 0.01f, 2), 0);
    for (int64_t s = 0; s < S; s++)
        for (int c = 0; c < 8; c++)
            ck_assert_float_eq_tol(part[s * 8 + c], yref[c * S + s], PS_TOL_LAYER);
    free(part);
    free(a);
    free(b);
    free(blk);
    golden_free(g);
}
END_TEST

START_TEST(instnorm_lrelu_many_chunks)
{
    /* Analytic phantom, large enough for several tasks in both layouts: channel c of C = 48
     * holds a_c + b_c at even voxels and a_c - b_c at odd ones (S even), so mean = a_c and the
     * biased variance = b_c^2 exactly; then y = +-gamma_c b_c / sqrt(b_c^2 + eps) + beta_c and
     * LeakyReLU(0.01). a_c = 1000 + 7c tests the shifted sums (|mean| >> sd). */
    enum { C = 48 };
    const int64_t S = 6000;
    const float eps = 1e-5f;
    float gam[C], bet[C];
    float *x = malloc((size_t)(C * S) * sizeof *x), *t = malloc((size_t)(C * S) * sizeof *t);
    float *r1 = malloc((size_t)(C * S) * sizeof *r1), *r2 = malloc((size_t)(C * S) * sizeof *r2);
    for (int c = 0; c < C; c++) {
        gam[c] = 0.5f + 0.03f * (float)c;
        bet[c] = -0.2f + 0.01f * (float)c;
        for (int64_t s = 0; s < S; s++)
            x[c * S + s] = (float)(1000 + 7 * c) + (s % 2 ? -1.0f : 1.0f) * (float)(1 + c % 5);
    }
    for (int lay = 0; lay < 2; lay++)
        for (int thr = 1; thr <= 2; thr++) {
            float *r = thr == 1 ? r1 : r2;
            if (lay == PS_NDHWC) {
                ps_to_ndhwc(x, C, S, t, thr);
                ck_assert_int_eq(ps_instnorm_lrelu(t, C, S, PS_NDHWC, gam, bet, eps, 0.01f, thr),
                                 0);
                ps_to_ncdhw(t, C, S, r, thr);
            } else {
                memcpy(r, x, (size_t)(C * S) * sizeof *r);
                ck_assert_int_eq(ps_instnorm_lrelu(r, C, S, PS_NCDHW, gam, bet, eps, 0.01f, thr),
                                 0);
            }
            if (thr == 2) /* 1 and 2 threads: identical bits */
                ck_assert(memcmp(r1, r2, (size_t)(C * S) * sizeof *r1) == 0);
        }
    for (int c = 0; c < C; c++) {
        double bc = 1 + c % 5, z = bc / sqrt(bc * bc + eps);
        for (int64_t s = 0; s < 2; s++) {
            double y = (s % 2 ? -z : z) * gam[c] + bet[c];
            y = y >= 0 ? y : 0.01 * y;
            ck_assert_float_eq_tol(r2[c * S + s], y, 1e-5);
            ck_assert_float_eq_tol(r2[c * S + S - 2 + s], y, 1e-5);
        }
    }
    free(x);
    free(t);
    free(r1);
    free(r2);
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

START_TEST(linear_tiles_and_tails)
{
    /* y[t][o] = b[o] + sum_i x[t][i] W[o][i] with small integers, so every partial sum is an
     * exact integer in float and the result is the exact integer sum whatever the order.
     * n = 150 tokens = 2 register tiles of 64 + 22, out = 10 = 2 tiles of 4 + 2 rows. */
    enum { N = 150, IN = 37, OUT = 10 };
    static float x[N * IN], w[OUT * IN], b[OUT], y[N * OUT];
    for (int t = 0; t < N; t++)
        for (int i = 0; i < IN; i++)
            x[t * IN + i] = (float)((t + 2 * i) % 5 - 2);
    for (int o = 0; o < OUT; o++) {
        b[o] = (float)o;
        for (int i = 0; i < IN; i++)
            w[o * IN + i] = (float)((3 * o + i) % 7 - 3);
    }
    for (int thr = 1; thr <= 2; thr++) {
        ps_linear(x, N, IN, w, b, OUT, y, thr);
        for (int t = 0; t < N; t++)
            for (int o = 0; o < OUT; o++) {
                long e = o;
                for (int i = 0; i < IN; i++)
                    e += (long)((t + 2 * i) % 5 - 2) * ((3 * o + i) % 7 - 3);
                ck_assert_msg(y[t * OUT + o] == (float)e, "y[%d][%d] = %g, expected %ld", t, o,
                              y[t * OUT + o], e);
            }
    }
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
    /* x[c][s] = c + 10 s, w[k][c] = k + 1, C = 24:
     * out[k][s] = (k + 1) * sum_c (c + 10 s) = (k + 1) * (276 + 240 s)   (sum 0..23 = 276);
     * S = 2500 spans several head tasks. */
    enum { C = 24, S = 2500, K = 2 };
    static float x[C * S], nxc[C * S], back[C * S], out[K * S];
    float w[K * C];
    for (int c = 0; c < C; c++)
        for (int s = 0; s < S; s++)
            x[c * S + s] = (float)(c + 10 * s);
    for (int k = 0; k < K; k++)
        for (int c = 0; c < C; c++)
            w[k * C + c] = (float)(k + 1);
    ps_to_ndhwc(x, C, S, nxc, 2);
    for (int s = 0; s < S; s++)
        for (int c = 0; c < C; c++)
            ck_assert(nxc[s * C + c] == (float)(c + 10 * s));
    ps_to_ncdhw(nxc, C, S, back, 2);
    ck_assert(memcmp(back, x, sizeof x) == 0);
    for (int lay = 0; lay < 2; lay++) {
        ps_conv1x1_to_plain(lay ? nxc : x, C, S, lay, w, K, out, 2);
        for (int k = 0; k < K; k++)
            for (int s = 0; s < S; s++)
                ck_assert_float_eq(out[k * S + s], (float)((k + 1) * (276 + 240 * s)));
    }
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
    tcase_add_test(tc, conv_split_input_channels);
    tcase_add_test(tc, instnorm_lrelu_both_layouts);
    tcase_add_test(tc, instnorm_lrelu_many_chunks);
    tcase_add_test(tc, linear_attention_and_transformer_layer);
    tcase_add_test(tc, linear_tiles_and_tails);
    tcase_add_test(tc, attention_block);
    tcase_add_test(tc, head_and_layouts);
    tcase_add_test(tc, conv_shape_errors);
    suite_add_tcase(s, tc);
    return s;
}

PS_TEST_MAIN(make_suite)
