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
/* Voxels summed in float before the partial sums are added in double (instance norm). */
#define PS_STAT_CHUNK 256

/* Hot loops are compiled for AVX-512, AVX2+FMA and baseline x86-64; the loader picks one at
 * start-up (GCC function multi-versioning). Within one machine the code path is fixed, so
 * results stay independent of the thread count. */
#if defined(__GNUC__) && !defined(__clang__) && defined(__x86_64__) && defined(__linux__)
#define PS_HOT __attribute__((target_clones("arch=skylake-avx512", "arch=haswell", "default")))
#else
#define PS_HOT
#endif

/* Shifted sums over one block of L lanes: s1[l] += sum (x - x0[l]), s2[l] += sum (x - x0[l])^2
 * over the S voxels, in float over runs of PS_STAT_CHUNK voxels, then in double. The lanes are
 * independent, so the inner loop vectorises without reordering any sum. */
PS_HOT static void stats_lanes(const float *restrict xb, int64_t S, int L, const float *x0,
                               double *s1, double *s2)
{
    for (int64_t c0 = 0; c0 < S; c0 += PS_STAT_CHUNK) {
        int64_t c1 = c0 + PS_STAT_CHUNK < S ? c0 + PS_STAT_CHUNK : S;
        float a1[16] = {0}, a2[16] = {0};
        for (int64_t s = c0; s < c1; s++) {
            const float *v = xb + s * L;
#pragma omp simd
            for (int l = 0; l < 16; l++) {
                if (l < L) {
                    float t = v[l] - x0[l];
                    a1[l] += t;
                    a2[l] += t * t;
                }
            }
        }
        for (int l = 0; l < L; l++) {
            s1[l] += a1[l];
            s2[l] += a2[l];
        }
    }
}

/* Plain layout: one channel of S contiguous values, summed in 16 interleaved lanes. */
PS_HOT static void stats_plain(const float *restrict xb, int64_t S, float x0, double *t1,
                               double *t2)
{
    double s1 = 0.0, s2 = 0.0;
    for (int64_t c0 = 0; c0 < S; c0 += 16 * PS_STAT_CHUNK) {
        int64_t c1 = c0 + 16 * PS_STAT_CHUNK < S ? c0 + 16 * PS_STAT_CHUNK : S;
        float a1[16] = {0}, a2[16] = {0};
        int64_t s = c0;
        for (; s + 16 <= c1; s += 16) {
#pragma omp simd
            for (int l = 0; l < 16; l++) {
                float t = xb[s + l] - x0;
                a1[l] += t;
                a2[l] += t * t;
            }
        }
        for (int l = 0; s < c1; s++, l++) {
            float t = xb[s] - x0;
            a1[l] += t;
            a2[l] += t * t;
        }
        for (int l = 0; l < 16; l++) {
            s1 += a1[l];
            s2 += a2[l];
        }
    }
    *t1 = s1;
    *t2 = s2;
}

/* y = (x - m) * sc + be, LeakyReLU; n values with lane period L (1 or 16). */
PS_HOT static void apply_lanes(float *restrict x, int64_t n, int L, const float *m,
                               const float *sc, const float *be, float slope)
{
    if (L == 1) {
        const float m0 = m[0], sc0 = sc[0], be0 = be[0];
#pragma omp simd
        for (int64_t e = 0; e < n; e++) {
            float y = (x[e] - m0) * sc0 + be0;
            x[e] = y >= 0.0f ? y : y * slope;
        }
        return;
    }
    for (int64_t e = 0; e < n; e += 16) {
#pragma omp simd
        for (int l = 0; l < 16; l++) {
            float y = (x[e + l] - m[l]) * sc[l] + be[l];
            x[e + l] = y >= 0.0f ? y : y * slope;
        }
    }
}

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

    /* One block of cb channels per task, statistics then apply, with no barrier in between
     * (a block's apply needs only its own statistics). Values are shifted by the channel's
     * first value before summing, which keeps E[x^2] - E[x]^2 free of cancellation when
     * |mean| >> std (as before the conv bias is removed). */
    const int64_t per_block = S * cb;
    const int64_t nchunk = (per_block + PS_CHUNK - 1) / PS_CHUNK;
#pragma omp parallel for schedule(static) num_threads(threads)
    for (int b = 0; b < nb; b++) {
        float *xb = x + (int64_t)b * per_block;
        double s1[16] = {0}, s2[16] = {0};
        float x0[16] = {0};
        if (cb == 1) {
            x0[0] = xb[0];
            stats_plain(xb, S, x0[0], &s1[0], &s2[0]);
        } else {
            for (int l = 0; l < cb; l++)
                x0[l] = xb[l];
            stats_lanes(xb, S, cb, x0, s1, s2);
        }
        for (int l = 0; l < cb && b * cb + l < C; l++) {
            int c = b * cb + l;
            double m1 = s1[l] / (double)S;
            double var = s2[l] / (double)S - m1 * m1;
            if (var < 0.0)
                var = 0.0;
            mean[c] = (float)((double)x0[l] + m1);
            scale[c] = (float)((double)gamma[c] / sqrt(var + (double)eps));
        }
        /* y = (x - mean) * scale + beta, then LeakyReLU, in place; chunks of PS_CHUNK
         * values (a multiple of cb) */
        for (int64_t ch = 0; ch < nchunk; ch++) {
            int64_t e0 = ch * PS_CHUNK, e1 = e0 + PS_CHUNK < per_block ? e0 + PS_CHUNK : per_block;
            apply_lanes(xb + e0, e1 - e0, cb, mean + b * cb, scale + b * cb, shift + b * cb,
                        slope);
        }
    }
    free(scale);
    return PS_OK;
}

/* Head on voxels [s0, s1): out[k][s] = sum_c w[k][c] x[c][s], c ascending. */
PS_HOT static void head_chunk(const float *restrict x, int C, int64_t S, int cb,
                              const float *restrict w, int K, float *restrict out, int64_t s0,
                              int64_t s1)
{
    for (int k = 0; k < K; k++) {
        const float *wk = w + (int64_t)k * C;
        float *o = out + k * S;
#pragma omp simd
        for (int64_t s = s0; s < s1; s++)
            o[s] = 0.0f;
        for (int c = 0; c < C; c++) {
            const float wc = wk[c];
            const float *xc = x + (int64_t)(c / cb) * S * cb + c % cb;
#pragma omp simd
            for (int64_t s = s0; s < s1; s++)
                o[s] += wc * xc[s * cb];
        }
    }
}

void ps_conv1x1_to_plain(const float *x, int C, int64_t S, int cb, const float *w, int K,
                         float *out, int threads)
{
    const int64_t nchunk = (S + 1023) / 1024;
#pragma omp parallel for schedule(static) num_threads(threads)
    for (int64_t ch = 0; ch < nchunk; ch++) {
        int64_t s0 = ch * 1024, s1 = s0 + 1024 < S ? s0 + 1024 : S;
        head_chunk(x, C, S, cb, w, K, out, s0, s1);
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

/* Dot product with 16 independent partial sums, added lane by lane in a fixed order. */
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

/* yt[o][t] = b[o] + sum_i W[o][i] xt[i][t], i ascending: an axpy over the tokens per (o, i),
 * which vectorises along t without reordering any sum. */
PS_HOT static void linear_rows(const float *restrict xt, int n, int in,
                               const float *restrict W, const float *b, float *restrict yt,
                               int o0, int o1)
{
    for (int o = o0; o < o1; o++) {
        float *row = yt + (int64_t)o * n;
        const float bo = b ? b[o] : 0.0f;
#pragma omp simd
        for (int t = 0; t < n; t++)
            row[t] = bo;
        const float *wo = W + (int64_t)o * in;
        for (int i = 0; i < in; i++) {
            const float wi = wo[i];
            const float *xi = xt + (int64_t)i * n;
#pragma omp simd
            for (int t = 0; t < n; t++)
                row[t] += wi * xi[t];
        }
    }
}

void ps_linear(const float *x, int n, int in, const float *W, const float *b, int out, float *y,
               int threads)
{
    float *xt = malloc((size_t)n * (size_t)(in + out) * sizeof *xt);
    if (!xt) { /* same sums in another order: slower, no extra memory */
#pragma omp parallel for collapse(2) schedule(static) num_threads(threads)
        for (int r = 0; r < n; r++)
            for (int o = 0; o < out; o++)
                y[(int64_t)r * out + o] =
                    dot16(x + (int64_t)r * in, W + (int64_t)o * in, in) + (b ? b[o] : 0.0f);
        return;
    }
    float *yt = xt + (int64_t)n * in;
    for (int t = 0; t < n; t++)
        for (int i = 0; i < in; i++)
            xt[(int64_t)i * n + t] = x[(int64_t)t * in + i];
    const int nblk = (out + 15) / 16;
#pragma omp parallel for schedule(static) num_threads(threads)
    for (int ob = 0; ob < nblk; ob++)
        linear_rows(xt, n, in, W, b, yt, ob * 16, ob * 16 + 16 < out ? ob * 16 + 16 : out);
    for (int t = 0; t < n; t++)
        for (int o = 0; o < out; o++)
            y[(int64_t)t * out + o] = yt[(int64_t)o * n + t];
    free(xt);
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
