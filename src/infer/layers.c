/* layers.c - the memory-bound layers of the network: fused instance norm + LeakyReLU, the
 * 1x1x1 segmentation head, layout changes, and the dense algebra of the attention block.
 *
 * Every reduction runs in one thread in a fixed order (partial sums in fixed lanes, combined
 * lane by lane), so results are bit-identical for any thread count.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "net_internal.h"

/* Elements handled by one task of the element-wise loops. */
#define PS_CHUNK 16384

int ps_instnorm_lrelu(float *x, int C, int64_t S, int cb, const float *gamma, const float *beta,
                      float eps, float slope, int threads)
{
    const int Cp = ps_cpad(C, cb), nb = Cp / cb;
    float *scale = ps_malloc_array((size_t)Cp * 3, sizeof *scale);
    if (!scale)
        return PS_ERR_NOMEM;
    float *mean = scale + Cp, *shift = mean + Cp;
    /* padding lanes map 0 to 0 */
    for (int c = 0; c < Cp; c++) {
        mean[c] = scale[c] = shift[c] = 0.0f;
        if (c < C)
            shift[c] = beta[c];
    }

    /* Statistics: one block of cb channels per task. Values are shifted by the channel's first
     * value before summing (x - x0 and (x - x0)^2 in double), which keeps E[x^2] - E[x]^2 free
     * of cancellation when |mean| >> std. */
#pragma omp parallel for schedule(static) num_threads(threads)
    for (int b = 0; b < nb; b++) {
        const float *xb = x + (int64_t)b * S * cb;
        double s1[16], s2[16], x0[16];
        int lanes = cb == 1 ? 16 : cb;
        for (int l = 0; l < lanes; l++) {
            s1[l] = s2[l] = 0.0;
            x0[l] = cb == 1 ? xb[0] : xb[l];
        }
        if (cb == 1) {
            int64_t s = 0;
            for (; s + 16 <= S; s += 16)
                for (int l = 0; l < 16; l++) {
                    double v = (double)xb[s + l] - x0[l];
                    s1[l] += v;
                    s2[l] += v * v;
                }
            for (int l = 0; s < S; s++, l++) {
                double v = (double)xb[s] - x0[l];
                s1[l] += v;
                s2[l] += v * v;
            }
            double t1 = 0.0, t2 = 0.0;
            for (int l = 0; l < 16; l++) {
                t1 += s1[l];
                t2 += s2[l];
            }
            s1[0] = t1;
            s2[0] = t2;
        } else {
            for (int64_t s = 0; s < S; s++)
                for (int l = 0; l < cb; l++) {
                    double v = (double)xb[s * cb + l] - x0[l];
                    s1[l] += v;
                    s2[l] += v * v;
                }
        }
        for (int l = 0; l < cb && b * cb + l < C; l++) {
            int c = b * cb + l;
            double m1 = s1[l] / (double)S;
            double var = s2[l] / (double)S - m1 * m1;
            if (var < 0.0)
                var = 0.0;
            mean[c] = (float)(x0[l] + m1);
            scale[c] = (float)((double)gamma[c] / sqrt(var + (double)eps));
        }
    }

    /* Apply: y = (x - mean) * scale + beta, then LeakyReLU, in place. */
    const int64_t per_block = S * cb;
    const int64_t nchunk = (per_block + PS_CHUNK - 1) / PS_CHUNK;
#pragma omp parallel for collapse(2) schedule(static) num_threads(threads)
    for (int b = 0; b < nb; b++)
        for (int64_t ch = 0; ch < nchunk; ch++) {
            float *xb = x + (int64_t)b * per_block;
            int64_t e0 = ch * PS_CHUNK, e1 = e0 + PS_CHUNK < per_block ? e0 + PS_CHUNK : per_block;
            if (cb == 1) {
                float m = mean[b], sc = scale[b], be = shift[b];
                for (int64_t e = e0; e < e1; e++) {
                    float y = (xb[e] - m) * sc + be;
                    xb[e] = y >= 0.0f ? y : y * slope;
                }
            } else {
                const float *m = mean + b * cb, *sc = scale + b * cb, *be = shift + b * cb;
                /* e0 is a multiple of PS_CHUNK, hence of cb (16 divides PS_CHUNK) */
                for (int64_t e = e0; e < e1; e += cb)
                    for (int l = 0; l < cb; l++) {
                        float y = (xb[e + l] - m[l]) * sc[l] + be[l];
                        xb[e + l] = y >= 0.0f ? y : y * slope;
                    }
            }
        }
    free(scale);
    return PS_OK;
}

void ps_conv1x1_to_plain(const float *x, int C, int64_t S, int cb, const float *w, int K,
                         float *out, int threads)
{
    const int64_t nchunk = (S + 1023) / 1024;
#pragma omp parallel for schedule(static) num_threads(threads)
    for (int64_t ch = 0; ch < nchunk; ch++) {
        int64_t s0 = ch * 1024, s1 = s0 + 1024 < S ? s0 + 1024 : S;
        for (int k = 0; k < K; k++) {
            const float *wk = w + (int64_t)k * C;
            float *o = out + k * S;
            for (int64_t s = s0; s < s1; s++) {
                float acc = 0.0f;
                for (int c = 0; c < C; c++)
                    acc += wk[c] * x[(int64_t)(c / cb) * S * cb + s * cb + c % cb];
                o[s] = acc;
            }
        }
    }
}

void ps_layout_block16(const float *plain, int C, int64_t S, float *blocked, int threads)
{
    const int nb = ps_cpad(C, 16) / 16;
#pragma omp parallel for schedule(static) num_threads(threads)
    for (int b = 0; b < nb; b++)
        for (int l = 0; l < 16; l++) {
            int c = b * 16 + l;
            float *dst = blocked + (int64_t)b * S * 16 + l;
            if (c >= C) {
                for (int64_t s = 0; s < S; s++)
                    dst[s * 16] = 0.0f;
                continue;
            }
            const float *src = plain + (int64_t)c * S;
            for (int64_t s = 0; s < S; s++)
                dst[s * 16] = src[s];
        }
}

void ps_layout_unblock16(const float *blocked, int C, int64_t S, float *plain, int threads)
{
#pragma omp parallel for schedule(static) num_threads(threads)
    for (int c = 0; c < C; c++) {
        const float *src = blocked + (int64_t)(c / 16) * S * 16 + c % 16;
        float *dst = plain + (int64_t)c * S;
        for (int64_t s = 0; s < S; s++)
            dst[s] = src[s * 16];
    }
}

void ps_concat_channels(const float *a, int Ca, const float *b, int Cb, int64_t S, int cb,
                        float *out, int threads)
{
    if (Ca % cb == 0) { /* whole blocks: two contiguous copies */
        memcpy(out, a, (size_t)((int64_t)Ca * S) * sizeof *out);
        memcpy(out + (int64_t)Ca * S, b, (size_t)((int64_t)ps_cpad(Cb, cb) * S) * sizeof *out);
        return;
    }
    const int C = Ca + Cb, nb = ps_cpad(C, cb) / cb;
#pragma omp parallel for schedule(static) num_threads(threads)
    for (int blk = 0; blk < nb; blk++)
        for (int l = 0; l < cb; l++) {
            int c = blk * cb + l;
            float *dst = out + (int64_t)blk * S * cb + l;
            const float *src = NULL;
            if (c < Ca)
                src = a + (int64_t)(c / cb) * S * cb + c % cb;
            else if (c < C)
                src = b + (int64_t)((c - Ca) / cb) * S * cb + (c - Ca) % cb;
            for (int64_t s = 0; s < S; s++)
                dst[s * cb] = src ? src[s * cb] : 0.0f;
        }
}

/* Dot product with 16 independent partial sums (vectorisable without reassociation), added
 * lane by lane in a fixed order. */
static float dot16(const float *a, const float *b, int n)
{
    float acc[16] = {0};
    int i = 0;
    for (; i + 16 <= n; i += 16)
        for (int j = 0; j < 16; j++)
            acc[j] += a[i + j] * b[i + j];
    for (int j = 0; i < n; i++, j++)
        acc[j] += a[i] * b[i];
    float s = 0.0f;
    for (int j = 0; j < 16; j++)
        s += acc[j];
    return s;
}

void ps_linear(const float *x, int n, int in, const float *W, const float *b, int out, float *y,
               int threads)
{
#pragma omp parallel for collapse(2) schedule(static) num_threads(threads)
    for (int r = 0; r < n; r++)
        for (int o = 0; o < out; o++)
            y[(int64_t)r * out + o] =
                dot16(x + (int64_t)r * in, W + (int64_t)o * in, in) + (b ? b[o] : 0.0f);
}

void ps_layernorm(float *x, int n, int d, const float *gamma, const float *beta, float eps,
                  int threads)
{
#pragma omp parallel for schedule(static) num_threads(threads)
    for (int r = 0; r < n; r++) {
        float *v = x + (int64_t)r * d;
        double s = 0.0, s2 = 0.0;
        for (int i = 0; i < d; i++)
            s += v[i];
        double mean = s / d;
        for (int i = 0; i < d; i++) {
            double t = v[i] - mean;
            s2 += t * t;
        }
        /* torch.nn.LayerNorm: biased variance, eps inside the square root */
        float rstd = (float)(1.0 / sqrt(s2 / d + (double)eps));
        float m = (float)mean;
        for (int i = 0; i < d; i++)
            v[i] = (v[i] - m) * rstd * gamma[i] + beta[i];
    }
}
