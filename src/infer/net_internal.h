/* net_internal.h - layer kernels of the inference network (private to src/infer and its tests).
 *
 * Activation layout. A feature map of C channels and S = D*H*W voxels is stored "channel
 * blocked" with block size cb (1 or 16): element (c, s) lives at
 *     (c / cb) * S * cb + s * cb + c % cb.
 * cb = 1 is PyTorch's contiguous (C, D, H, W); cb = 16 is oneDNN's nCdhw16c, which its AVX-512
 * convolution kernels read and write natively. With cb = 16 the channel count is padded to a
 * multiple of 16 (ps_cpad) and the padding lanes hold zeros. Generic_UNet's channel counts
 * (32 * 2^k, capped at 320) need no padding; then two feature maps are concatenated along
 * channels by placing one buffer after the other.
 *
 * Determinism: every kernel here computes each output element in one thread with a fixed
 * summation order, so results do not depend on the thread count.
 */
#ifndef PS_NET_INTERNAL_H
#define PS_NET_INTERNAL_H

#include <stdint.h>

#include "ps_infer.h"

/* One 3D convolution (or transposed convolution) as PyTorch describes it. Spatial triples are
 * (D, H, W). For a convolution out = floor((in + 2 pad - k) / stride) + 1; for the transposed
 * convolutions of Generic_UNet kernel == stride, pad = 0 and out = in * stride. */
typedef struct ps_conv_shape {
    int cin, cout;
    int k[3], stride[3], pad[3];
    int in[3], out[3];
} ps_conv_shape;

/* Fill out[] from in/k/stride/pad; PS_ERR_ARG when an output size would be < 1. */
int ps_conv_shape_resolve(ps_conv_shape *cs, int transposed);

/* ---- portable reference kernels (layout cb = 1) --------------------------------------------- */
/* out[co] = bias[co] + sum_ci sum_k w[co][ci][k] * in[ci][o * stride + k - pad]
 * (w in PyTorch's Conv3d layout (Cout, Cin, kD, kH, kW); bias may be NULL). */
void ps_conv3d_ref(const ps_conv_shape *cs, const float *in, const float *w, const float *bias,
                   float *out, int threads);
/* Transposed convolution with kernel == stride, no padding (non-overlapping):
 * out[co][i * stride + k] = sum_ci w[ci][co][k] * in[ci][i]  (w: (Cin, Cout, kD, kH, kW)). */
void ps_convt3d_ref(const ps_conv_shape *cs, const float *in, const float *w, float *out,
                    int threads);

/* ---- fused instance norm + LeakyReLU (any cb) -------------------------------------------- */
/* In place on x (C channels, S voxels, block cb):
 *   mean_c, var_c over the S voxels of channel c (biased variance, as torch.nn.InstanceNorm3d),
 *   y = gamma_c (x - mean_c) / sqrt(var_c + eps) + beta_c,  then y = y if y >= 0 else slope * y.
 * Statistics are accumulated in double (shifted by the channel's first value), in a fixed order.
 * A per-channel constant added to x (the conv bias) cancels exactly in exact arithmetic. */
int ps_instnorm_lrelu(float *x, int C, int64_t S, int cb, const float *gamma, const float *beta,
                      float eps, float slope, int threads);

/* 1x1x1 convolution without bias from a cb-blocked map (C channels) to K plain channels:
 * out[k][s] = sum_c w[k][c] x[c][s]. */
void ps_conv1x1_to_plain(const float *x, int C, int64_t S, int cb, const float *w, int K,
                         float *out, int threads);

/* Channels allocated for C channels in block size cb (C rounded up to a multiple of cb). */
static inline int ps_cpad(int C, int cb)
{
    return (C + cb - 1) / cb * cb;
}

/* Copy between cb = 1 and cb = 16 (the blocked side padded, padding lanes set to 0). */
void ps_layout_block16(const float *plain, int C, int64_t S, float *blocked, int threads);
void ps_layout_unblock16(const float *blocked, int C, int64_t S, float *plain, int threads);

/* out = concat([a (Ca channels), b (Cb channels)]) along channels, all in block size cb
 * (padding lanes of out set to 0). */
void ps_concat_channels(const float *a, int Ca, const float *b, int Cb, int64_t S, int cb,
                        float *out, int threads);

/* ---- small dense algebra for the attention block ----------------------------------------- */
/* y[n][o] = b[o] + sum_i x[n][i] W[o][i]  (W as torch.nn.Linear stores it: (out, in)). */
void ps_linear(const float *x, int n, int in, const float *W, const float *b, int out, float *y,
               int threads);
/* In place over rows of length d: LayerNorm with affine gamma/beta. */
void ps_layernorm(float *x, int n, int d, const float *gamma, const float *beta, float eps,
                  int threads);

/* Weights of PanSegNet's linear-attention bottleneck (pointers into the state dict). */
#define PS_ATTN_MAX_LAYERS 16
typedef struct ps_attn_layer {
    const float *wq, *bq, *wk, *bk, *wv, *bv, *wo, *bo; /* (d, d), (d)                       */
    const float *w1, *b1, *w2, *b2;                     /* (ff, d), (ff), (d, ff), (d)       */
    const float *ln1_g, *ln1_b, *ln2_g, *ln2_b;         /* (d)                              */
} ps_attn_layer;

typedef struct ps_attn {
    int channels;       /* C of the bottleneck                                        */
    int tokens;         /* N = D*H*W of the bottleneck                                */
    int d_model;        /* 512                                                        */
    int heads;          /* 8                                                          */
    int d_ff;           /* 512                                                        */
    int n_layers;       /* 8                                                          */
    float ln_eps;       /* 1e-6                                                       */
    const float *proj_w, *proj_b;         /* (d_model, C), (d_model)                    */
    const float *pe;                      /* (N, d_model)                               */
    const float *back_w, *back_b;         /* (C, d_model), (C)                          */
    ps_attn_layer layer[PS_ATTN_MAX_LAYERS];
} ps_attn;

/* Linear multi-head attention of PanSegNet on x (n tokens, d features), result in out (n, d):
 * per head h (d_k = d / heads): Q_h = softmax_row(x Wq_h + bq_h) / sqrt(d_k),
 * K_h = softmax over the n tokens (per column) of x Wk_h + bk_h, V_h = x Wv_h + bv_h,
 * O_h = Q_h (K_h^T V_h); out = concat_h(O_h) Wo^T + bo.
 * work: at least 4 * n * d + d * d_k floats. */
void ps_mha_linear(const ps_attn_layer *L, const float *x, int n, int d, int heads, float *out,
                   float *work, int threads);
/* One post-norm transformer layer in place on x (n, d):
 * x = LN1(x + MHA(x)); x = LN2(x + W2 GELU(W1 x + b1) + b2), GELU exact (erf).
 * work: at least 6 * n * d + n * d_ff + d * d floats. */
void ps_transformer_layer(const ps_attn_layer *L, float *x, int n, int d, int heads, int d_ff,
                          float ln_eps, float *work, int threads);
/* Whole block: x (C, N) plain -> tokens -> linear_proj + pe -> layers -> back_proj -> out (C, N).
 * x and out may not alias. */
int ps_attn_forward(const ps_attn *a, const float *x, float *out, int threads);

/* ---- oneDNN convolutions ----------------------------------------------------------------- */
typedef struct ps_dnnl ps_dnnl;          /* engine + stream                               */
typedef struct ps_dnnl_conv ps_dnnl_conv; /* one primitive with its reordered weights      */

int ps_dnnl_create(ps_dnnl **out);
void ps_dnnl_free(ps_dnnl *e);
/* A convolution (transposed = 0; w in Conv3d layout, bias may be NULL) or a transposed
 * convolution (transposed = 1; w in ConvTranspose3d layout (Cin, Cout, k), no bias).
 * src_cb: block size of the source (1: plain ncdhw, for the network input and for channel
 * counts that do not fill blocks; else 16); dst is always cb = 16.
 * Weights are reordered once here into the layout the chosen kernel wants. */
int ps_dnnl_conv_create(ps_dnnl *e, const ps_conv_shape *cs, int transposed, const float *w,
                        const float *bias, int src_cb, ps_dnnl_conv **out);
int ps_dnnl_conv_run(ps_dnnl_conv *c, const float *src, float *dst);
const char *ps_dnnl_conv_impl(const ps_dnnl_conv *c); /* oneDNN's implementation name */
void ps_dnnl_conv_free(ps_dnnl_conv *c);

#endif
