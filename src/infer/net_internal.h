/* net_internal.h - layer kernels of the inference network (private to src/infer and its tests).
 *
 * Activation layouts. A feature map of C channels and S = D*H*W voxels is stored densely in one
 * of two layouts (ps_layout):
 *   PS_NCDHW  element (c, s) at c * S + s   PyTorch's contiguous (C, D, H, W); the reference
 *                                           backend and the network's input and logits;
 *   PS_NDHWC  element (c, s) at s * C + c   "channels last", the layout of oneDNN's brgemm
 *                                           convolutions (the fastest fp32 kernels of oneDNN
 *                                           2.6 on AVX-512; see docs/inference.md).
 * With one channel both are the same. The decoder's concatenation [up, skip] is never built:
 * its first convolution is split along input channels, conv(up, W[:, :f]) + conv(skip, W[:, f:])
 * (the second accumulating into the first's output), which is the same sum in another order.
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

typedef enum ps_layout {
    PS_NCDHW = 0, /* (c, s) at c * S + s */
    PS_NDHWC = 1  /* (c, s) at s * C + c */
} ps_layout;

/* ---- portable reference kernels (layout PS_NCDHW) ----------------------------------------- */
/* out[co] = bias[co] + sum_ci sum_k w[co][ci][k] * in[ci][o * stride + k - pad]
 * (w in PyTorch's Conv3d layout (Cout, Cin, kD, kH, kW); bias may be NULL). With accumulate,
 * the result is added to what out holds (out[co] += ...). */
void ps_conv3d_ref(const ps_conv_shape *cs, const float *in, const float *w, const float *bias,
                   int accumulate, float *out, int threads);
/* Transposed convolution with kernel == stride, no padding (non-overlapping):
 * out[co][i * stride + k] = sum_ci w[ci][co][k] * in[ci][i]  (w: (Cin, Cout, kD, kH, kW)). */
void ps_convt3d_ref(const ps_conv_shape *cs, const float *in, const float *w, float *out,
                    int threads);

/* ---- fused instance norm + LeakyReLU (either layout) -------------------------------------- */
/* In place on x (C channels, S voxels, layout lay):
 *   mean_c, var_c over the S voxels of channel c (biased variance, as torch.nn.InstanceNorm3d),
 *   y = gamma_c (x - mean_c) / sqrt(var_c + eps) + beta_c,  then y = y if y >= 0 else slope * y.
 * Statistics are accumulated in double (shifted by the channel's first value), in a fixed order.
 * A per-channel constant added to x (the conv bias) cancels exactly in exact arithmetic. */
int ps_instnorm_lrelu(float *x, int C, int64_t S, ps_layout lay, const float *gamma,
                      const float *beta, float eps, float slope, int threads);

/* 1x1x1 convolution without bias from a map of C channels (layout lay) to K channels in
 * PS_NCDHW: out[k][s] = sum_c w[k][c] x[c][s] (PS_NCDHW: c ascending; PS_NDHWC: a vectorised
 * dot product over the voxel's channels, in an order fixed by the compiled code). */
void ps_conv1x1_to_plain(const float *x, int C, int64_t S, ps_layout lay, const float *w, int K,
                        float *out, int threads);

/* Transpose between the layouts: PS_NCDHW src -> PS_NDHWC dst, and back. */
void ps_to_ndhwc(const float *src, int C, int64_t S, float *dst, int threads);
void ps_to_ncdhw(const float *src, int C, int64_t S, float *dst, int threads);

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
 * Source and destination are PS_NDHWC. With accumulate the result is added to what the
 * destination holds (oneDNN's sum post-op). Weights are reordered once here into the layout
 * the chosen kernel wants. */
int ps_dnnl_conv_create(ps_dnnl *e, const ps_conv_shape *cs, int transposed, const float *w,
                        const float *bias, int accumulate, ps_dnnl_conv **out);
int ps_dnnl_conv_run(ps_dnnl_conv *c, const float *src, float *dst);
const char *ps_dnnl_conv_impl(const ps_dnnl_conv *c); /* oneDNN's implementation name */
void ps_dnnl_conv_free(ps_dnnl_conv *c);

#endif
