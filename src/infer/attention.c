/* attention.c - PanSegNet's linear-attention bottleneck (self_atten.*).
 *
 * Zhang et al., "Large-scale multi-center CT and MRI segmentation of pancreas with deep
 * learning", Medical Image Analysis 2024 (PanSegNet); the attention is the "efficient
 * attention" of Shen et al. (arXiv:1812.01243): softmax normalisation of Q over its features
 * and of K over the tokens makes K^T V a d_k x d_k matrix, so the cost grows linearly with the
 * number of tokens. The PyTorch definition we reproduce is tests/reference/infer_model.py
 * (SelfAtten3DBlock).
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "net_internal.h"

/* Softmax in place over `len` values spaced `stride` apart (max subtracted, sum in double). */
static void softmax_strided(float *v, int len, int64_t stride, float post_scale)
{
    float mx = v[0];
    for (int i = 1; i < len; i++)
        if (v[i * stride] > mx)
            mx = v[i * stride];
    double sum = 0.0;
    for (int i = 0; i < len; i++) {
        float e = expf(v[i * stride] - mx);
        v[i * stride] = e;
        sum += e;
    }
    float inv = (float)(1.0 / sum) * post_scale;
    for (int i = 0; i < len; i++)
        v[i * stride] *= inv;
}

void ps_mha_linear(const ps_attn_layer *L, const float *x, int n, int d, int heads, float *out,
                   float *work, int threads)
{
    const int dk = d / heads;
    float *q = work, *k = q + (int64_t)n * d, *v = k + (int64_t)n * d, *o = v + (int64_t)n * d;
    float *ctx = o + (int64_t)n * d;

    ps_linear(x, n, d, L->wq, L->bq, d, q, threads);
    ps_linear(x, n, d, L->wk, L->bk, d, k, threads);
    ps_linear(x, n, d, L->wv, L->bv, d, v, threads);

    /* The per-head work below is small (n d_k^2 per head) next to the projections: it runs
     * in the calling thread, which saves thread synchronisations on a loaded machine. */
    /* Q: softmax over the d_k features of each head, then / sqrt(d_k). */
    const float qscale = (float)(1.0 / sqrt((double)dk));
    for (int t = 0; t < n; t++)
        for (int h = 0; h < heads; h++)
            softmax_strided(q + (int64_t)t * d + h * dk, dk, 1, qscale);
    /* K: softmax over the n tokens, per feature column. */
    for (int j = 0; j < d; j++)
        softmax_strided(k + j, n, d, 1.0f);

    for (int h = 0; h < heads; h++) {
        const int off = h * dk;
        /* context[a][b] = sum_t K[t][a] V[t][b], t ascending */
        for (int a = 0; a < dk; a++) {
            float *crow = ctx + (int64_t)a * dk;
            for (int b = 0; b < dk; b++)
                crow[b] = 0.0f;
            for (int t = 0; t < n; t++) {
                float ka = k[(int64_t)t * d + off + a];
                const float *vrow = v + (int64_t)t * d + off;
                for (int b = 0; b < dk; b++)
                    crow[b] += ka * vrow[b];
            }
        }
        /* O[t][b] = sum_a Q[t][a] context[a][b], a ascending */
        for (int t = 0; t < n; t++) {
            float *orow = o + (int64_t)t * d + off;
            const float *qrow = q + (int64_t)t * d + off;
            for (int b = 0; b < dk; b++)
                orow[b] = 0.0f;
            for (int a = 0; a < dk; a++) {
                float qa = qrow[a];
                const float *crow = ctx + (int64_t)a * dk;
                for (int b = 0; b < dk; b++)
                    orow[b] += qa * crow[b];
            }
        }
    }
    ps_linear(o, n, d, L->wo, L->bo, d, out, threads);
}

void ps_transformer_layer(const ps_attn_layer *L, float *x, int n, int d, int heads, int d_ff,
                          float ln_eps, float *work, int threads)
{
    const int64_t nd = (int64_t)n * d;
    float *a = work;             /* n x d: attention output, later the FF output  */
    float *hid = a + nd;         /* n x d_ff                                       */
    float *mha_work = hid + (int64_t)n * d_ff;

    ps_mha_linear(L, x, n, d, heads, a, mha_work, threads);
    for (int64_t i = 0; i < nd; i++)
        x[i] += a[i];
    ps_layernorm(x, n, d, L->ln1_g, L->ln1_b, ln_eps, 1);

    ps_linear(x, n, d, L->w1, L->b1, d_ff, hid, threads);
    const int64_t nh = (int64_t)n * d_ff;
    for (int64_t i = 0; i < nh; i++) /* exact GELU: x/2 (1 + erf(x / sqrt 2)) */
        hid[i] = 0.5f * hid[i] * (1.0f + erff(hid[i] * (float)M_SQRT1_2));
    ps_linear(hid, n, d_ff, L->w2, L->b2, d, a, threads);
    for (int64_t i = 0; i < nd; i++)
        x[i] += a[i];
    ps_layernorm(x, n, d, L->ln2_g, L->ln2_b, ln_eps, 1);
}

int ps_attn_forward(const ps_attn *at, const float *x, float *out, int threads)
{
    const int C = at->channels, n = at->tokens, d = at->d_model;
    const int64_t nd = (int64_t)n * d;
    /* tokens (n x C) | hidden (n x d) | layer work (6 n d + n d_ff + d d) */
    size_t len = (size_t)n * C + (size_t)nd + 6 * (size_t)nd + (size_t)n * at->d_ff +
                 (size_t)d * d;
    float *buf = ps_malloc_array(len, sizeof *buf);
    if (!buf)
        return ps_error_context(PS_ERR_NOMEM, "attention block (%d tokens)", n);
    float *tok = buf, *hidden = tok + (int64_t)n * C, *work = hidden + nd;

    for (int c = 0; c < C; c++) /* (C, N) -> (N, C): token t = voxel (d, h, w) in C order */
        for (int t = 0; t < n; t++)
            tok[(int64_t)t * C + c] = x[(int64_t)c * n + t];
    ps_linear(tok, n, C, at->proj_w, at->proj_b, d, hidden, threads);
    for (int64_t i = 0; i < nd; i++)
        hidden[i] += at->pe[i];
    for (int l = 0; l < at->n_layers; l++)
        ps_transformer_layer(&at->layer[l], hidden, n, d, at->heads, at->d_ff, at->ln_eps, work,
                             threads);
    ps_linear(hidden, n, d, at->back_w, at->back_b, C, tok, threads);
    for (int c = 0; c < C; c++)
        for (int t = 0; t < n; t++)
            out[(int64_t)c * n + t] = tok[(int64_t)t * C + c];
    free(buf);
    return PS_OK;
}
