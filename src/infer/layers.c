/* layers.c - the memory-bound layers of the network: fused instance norm + LeakyReLU, the
 * 1x1x1 segmentation head, layout changes, and the dense algebra of the attention block.
 *
 * Every reduction has a fixed order (partial sums in fixed lanes over fixed chunks, combined
 * lane by lane and chunk by chunk), so results are bit-identical for any thread count.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "net_internal.h"

/* Values (a multiple of 16) of one task of instance norm: 256 KiB, so that the partial sums of
 * a map are few and both passes balance across threads whatever the channel count. */
#define PS_NORM_CHUNK 65536

/* Hot loops are compiled for x86-64-v4 (AVX-512), x86-64-v3 (AVX2 + FMA) and baseline x86-64;
 * the loader picks one at start-up by CPU features (GCC function multi-versioning; "arch=<cpu
 * model>" clones would be chosen only on that exact model). Within one machine the code path
 * is fixed, so results stay independent of the thread count. */
#if defined(__GNUC__) && !defined(__clang__) && defined(__x86_64__) && defined(__linux__)
#define PS_HOT __attribute__((target_clones("arch=x86-64-v4", "arch=x86-64-v3", "default")))
#else
#define PS_HOT
#endif

/* Shifted sums over n values (n a multiple of 16 except for a final partial group) in 16
 * lanes, value e going to lane e % 16: s1[l] += sum (x - x0[l]), s2[l] += sum (x - x0[l])^2, in
 * double, values in ascending order within a lane. The lanes are independent, so the loop
 * vectorises without reordering any sum. */
PS_HOT static void stats16(const float *restrict x, int64_t n, const float *x0, double *s1,
                           double *s2)
{
    double a1[16], a2[16], z[16];
    for (int l = 0; l < 16; l++) {
        a1[l] = s1[l];
        a2[l] = s2[l];
        z[l] = x0[l];
    }
    int64_t e = 0;
    for (; e + 16 <= n; e += 16) {
#pragma omp simd
        for (int l = 0; l < 16; l++) {
            double t = (double)x[e + l] - z[l];
            a1[l] += t;
            a2[l] += t * t;
        }
    }
    for (int l = 0; e < n; e++, l++) {
        double t = (double)x[e] - z[l];
        a1[l] += t;
        a2[l] += t * t;
    }
    for (int l = 0; l < 16; l++) {
        s1[l] = a1[l];
        s2[l] = a2[l];
    }
}

/* y = (x - m) * sc + be, then LeakyReLU, on n values in 16 lanes (value e uses lane e % 16).
 * For 0 <= slope <= 1, max(y, slope y) is y for y >= 0 and slope y otherwise: the same value
 * as the branch, without one. */
PS_HOT static void apply16(float *restrict x, int64_t n, const float *m, const float *sc,
                           const float *be, float slope)
{
    float mm[16], ss[16], bb[16];
    for (int l = 0; l < 16; l++) {
        mm[l] = m[l];
        ss[l] = sc[l];
        bb[l] = be[l];
    }
    int64_t e = 0;
    for (; e + 16 <= n; e += 16) {
#pragma omp simd
        for (int l = 0; l < 16; l++) {
            float y = (x[e + l] - mm[l]) * ss[l] + bb[l];
            float ys = y * slope;
            x[e + l] = y > ys ? y : ys;
        }
    }
    for (int l = 0; e < n; e++, l++) {
        float y = (x[e] - mm[l]) * ss[l] + bb[l];
        float ys = y * slope;
        x[e] = y > ys ? y : ys;
    }
}

int ps_instnorm_lrelu(float *x, int C, int64_t S, int cb, const float *gamma, const float *beta,
                      float eps, float slope, int threads)
{
    /* A block holds cb channels in n = S cb contiguous values. Both passes split each block
     * into chunks of PS_NORM_CHUNK values (a multiple of 16, so value e of a chunk has lane
     * e % 16 as in the block) and run the (block, chunk) tasks in parallel; the per-chunk
     * partial sums are then added in chunk order. The chunking does not depend on the thread
     * count, hence neither do the results. */
    const int Cp = ps_cpad(C, cb), nb = Cp / cb;
    const int64_t n = S * cb;
    const int64_t nch = (n + PS_NORM_CHUNK - 1) / PS_NORM_CHUNK;
    const int64_t ntask = nb * nch;
    /* per block: 16 lanes of shift, mean, scale, shift (beta) as applied; per task: 2 x 16
     * partial sums */
    float *par = ps_malloc_array((size_t)nb * 64, sizeof *par);
    double *part = ps_malloc_array((size_t)ntask * 32, sizeof *part);
    if (!par || !part) {
        free(par);
        free(part);
        return PS_ERR_NOMEM;
    }

    /* Values are shifted by the channel's first value before summing, which keeps
     * E[(x-x0)^2] - E[x-x0]^2 free of cancellation when |mean| >> sd (as before the conv
     * bias is removed). Padding lanes hold zeros and get shift 0. */
    for (int b = 0; b < nb; b++) {
        const float *xb = x + (int64_t)b * n;
        for (int l = 0; l < 16; l++)
            par[b * 64 + l] = cb == 1 ? xb[0] : xb[l];
    }
#pragma omp parallel for schedule(static) num_threads(threads)
    for (int64_t t = 0; t < ntask; t++) {
        const int b = (int)(t / nch);
        const int64_t e0 = (t % nch) * PS_NORM_CHUNK;
        const int64_t e1 = e0 + PS_NORM_CHUNK < n ? e0 + PS_NORM_CHUNK : n;
        double *p = part + t * 32;
        for (int l = 0; l < 32; l++)
            p[l] = 0.0;
        stats16(x + (int64_t)b * n + e0, e1 - e0, par + b * 64, p, p + 16);
    }

    /* mean, biased variance (torch.nn.InstanceNorm3d), scale = gamma / sqrt(var + eps) */
    for (int b = 0; b < nb; b++) {
        double s1[16] = {0}, s2[16] = {0};
        for (int64_t k = 0; k < nch; k++) {
            const double *p = part + ((int64_t)b * nch + k) * 32;
            for (int l = 0; l < 16; l++) {
                s1[l] += p[l];
                s2[l] += p[16 + l];
            }
        }
        if (cb == 1) { /* one channel spread over the 16 lanes: add them in lane order */
            for (int l = 1; l < 16; l++) {
                s1[0] += s1[l];
                s2[0] += s2[l];
            }
        }
        float *mean = par + b * 64 + 16, *scale = mean + 16, *shift = scale + 16;
        for (int l = 0; l < 16; l++) {
            const int c = b * cb + (cb == 1 ? 0 : l);
            if ((cb > 1 && l >= cb) || c >= C) {
                mean[l] = scale[l] = shift[l] = 0.0f; /* padding lanes map 0 to 0 */
                continue;
            }
            const int src = cb == 1 ? 0 : l;
            double m1 = s1[src] / (double)S;
            double var = s2[src] / (double)S - m1 * m1;
            if (var < 0.0)
                var = 0.0;
            mean[l] = (float)((double)par[b * 64 + l] + m1);
            scale[l] = (float)((double)gamma[c] / sqrt(var + (double)eps));
            shift[l] = beta[c];
        }
    }

#pragma omp parallel for schedule(static) num_threads(threads)
    for (int64_t t = 0; t < ntask; t++) {
        const int b = (int)(t / nch);
        const int64_t e0 = (t % nch) * PS_NORM_CHUNK;
        const int64_t e1 = e0 + PS_NORM_CHUNK < n ? e0 + PS_NORM_CHUNK : n;
        const float *q = par + b * 64;
        apply16(x + (int64_t)b * n + e0, e1 - e0, q + 16, q + 32, q + 48, slope);
    }
    free(part);
    free(par);
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
