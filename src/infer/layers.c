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

/* Hot loops are PS_HOT (ps_core.h): one clone per x86-64 level, picked at load time. */

/* ---- instance norm + LeakyReLU ------------------------------------------------------------
 * Two passes over the map: one reads it and sums x - x0 and (x - x0)^2 per channel in double
 * (x0 = the channel's value at voxel 0, which keeps E[(x-x0)^2] - E[x-x0]^2 free of
 * cancellation when |mean| >> sd, as before the conv bias is removed); one applies
 *   y = (x - mean) * gamma / sqrt(var + eps) + beta,  y = max(y, slope * y).
 * Both passes are split into tasks of about PS_NORM_CHUNK values whose boundaries depend only
 * on C and S; the per-task partial sums are added in task order, so the results do not depend
 * on the thread count. */

/* Values of one task: 256 KiB, so that the partial sums of a map are few and both passes
 * balance across threads whatever the channel count. */
#define PS_NORM_CHUNK 65536

/* For 0 <= slope <= 1, max(y, slope y) is y for y >= 0 and slope y otherwise: the same value
 * as the branch, without one. */
static inline float lrelu(float y, float slope)
{
    float ys = y * slope;
    return y > ys ? y : ys;
}

/* PS_NCDHW: n contiguous values of one channel, summed in 16 lanes (value e -> lane e % 16,
 * ascending within a lane) so that the loop vectorises without reordering any sum. */
PS_HOT static void stats_plain(const float *restrict x, int64_t n, float x0, double *s1,
                               double *s2)
{
    double a1[16], a2[16];
    for (int l = 0; l < 16; l++) {
        a1[l] = s1[l];
        a2[l] = s2[l];
    }
    int64_t e = 0;
    for (; e + 16 <= n; e += 16) {
#pragma omp simd
        for (int l = 0; l < 16; l++) {
            double t = (double)x[e + l] - x0;
            a1[l] += t;
            a2[l] += t * t;
        }
    }
    for (int l = 0; e < n; e++, l++) {
        double t = (double)x[e] - x0;
        a1[l] += t;
        a2[l] += t * t;
    }
    for (int l = 0; l < 16; l++) {
        s1[l] = a1[l];
        s2[l] = a2[l];
    }
}

PS_HOT static void apply_plain(float *restrict x, int64_t n, float m, float sc, float be,
                               float slope)
{
#pragma omp simd
    for (int64_t e = 0; e < n; e++)
        x[e] = lrelu((x[e] - m) * sc + be, slope);
}

/* PS_NDHWC: nv voxels of C channels; channel c sums into s1[c], s2[c], voxels ascending. */
PS_HOT static void stats_nxc(const float *restrict x, int64_t nv, int C, const float *x0,
                             double *restrict s1, double *restrict s2)
{
    for (int64_t v = 0; v < nv; v++) {
        const float *xv = x + v * C;
#pragma omp simd
        for (int c = 0; c < C; c++) {
            double t = (double)xv[c] - x0[c];
            s1[c] += t;
            s2[c] += t * t;
        }
    }
}

PS_HOT static void apply_nxc(float *restrict x, int64_t nv, int C, const float *restrict m,
                             const float *restrict sc, const float *restrict be, float slope)
{
    for (int64_t v = 0; v < nv; v++) {
        float *xv = x + v * C;
#pragma omp simd
        for (int c = 0; c < C; c++)
            xv[c] = lrelu((xv[c] - m[c]) * sc[c] + be[c], slope);
    }
}

/* mean, biased variance (torch.nn.InstanceNorm3d), scale = gamma / sqrt(var + eps) */
static void norm_params(double s1, double s2, int64_t S, float x0, float gamma, float eps,
                        float *mean, float *scale)
{
    double m1 = s1 / (double)S;
    double var = s2 / (double)S - m1 * m1;
    if (var < 0.0)
        var = 0.0;
    *mean = (float)((double)x0 + m1);
    *scale = (float)((double)gamma / sqrt(var + (double)eps));
}

int ps_instnorm_lrelu(float *x, int C, int64_t S, ps_layout lay, const float *gamma,
                      const float *beta, float eps, float slope, int threads)
{
    if (C < 1 || S < 1)
        return PS_OK;
    /* tasks: NCDHW (channel, chunk of PS_NORM_CHUNK values); NDHWC chunks of whole voxels */
    const int nxc = lay == PS_NDHWC && C > 1;
    const int64_t chunk = nxc ? (PS_NORM_CHUNK / C > 0 ? PS_NORM_CHUNK / C : 1) : PS_NORM_CHUNK;
    const int64_t nch = (S + chunk - 1) / chunk;
    const int64_t ntask = nxc ? nch : (int64_t)C * nch;
    const int lanes = nxc ? C : 16; /* partial sums per task and moment */
    float *par = ps_malloc_array((size_t)C * 4, sizeof *par); /* x0, mean, scale, beta */
    double *part = ps_malloc_array((size_t)ntask * 2 * lanes, sizeof *part);
    if (!par || !part) {
        free(par);
        free(part);
        return ps_error(PS_ERR_NOMEM, "out of memory for instance-norm statistics");
    }
    float *x0 = par, *mean = par + C, *scale = par + 2 * C, *shift = par + 3 * C;
    for (int c = 0; c < C; c++) {
        x0[c] = nxc ? x[c] : x[(int64_t)c * S];
        shift[c] = beta[c];
    }

#pragma omp parallel for schedule(static) num_threads(threads)
    for (int64_t t = 0; t < ntask; t++) {
        double *p = part + t * 2 * lanes;
        for (int l = 0; l < 2 * lanes; l++)
            p[l] = 0.0;
        const int64_t k = t % nch, v0 = k * chunk, v1 = v0 + chunk < S ? v0 + chunk : S;
        if (nxc) {
            stats_nxc(x + v0 * C, v1 - v0, C, x0, p, p + lanes);
        } else {
            const int c = (int)(t / nch);
            stats_plain(x + (int64_t)c * S + v0, v1 - v0, x0[c], p, p + lanes);
        }
    }

    for (int c = 0; c < C; c++) {
        double s1 = 0.0, s2 = 0.0;
        if (nxc) {
            for (int64_t k = 0; k < nch; k++) {
                s1 += part[k * 2 * lanes + c];
                s2 += part[k * 2 * lanes + lanes + c];
            }
        } else { /* chunk by chunk, then the 16 lanes in lane order */
            double l1[16] = {0}, l2[16] = {0};
            for (int64_t k = 0; k < nch; k++) {
                const double *p = part + ((int64_t)c * nch + k) * 2 * lanes;
                for (int l = 0; l < 16; l++) {
                    l1[l] += p[l];
                    l2[l] += p[16 + l];
                }
            }
            for (int l = 0; l < 16; l++) {
                s1 += l1[l];
                s2 += l2[l];
            }
        }
        norm_params(s1, s2, S, x0[c], gamma[c], eps, &mean[c], &scale[c]);
    }

#pragma omp parallel for schedule(static) num_threads(threads)
    for (int64_t t = 0; t < ntask; t++) {
        const int64_t k = t % nch, v0 = k * chunk, v1 = v0 + chunk < S ? v0 + chunk : S;
        if (nxc) {
            apply_nxc(x + v0 * C, v1 - v0, C, mean, scale, shift, slope);
        } else {
            const int c = (int)(t / nch);
            apply_plain(x + (int64_t)c * S + v0, v1 - v0, mean[c], scale[c], shift[c], slope);
        }
    }
    free(part);
    free(par);
    return PS_OK;
}

/* ---- segmentation head ------------------------------------------------------------------ */
/* Voxels of one head task. */
#define PS_HEAD_CHUNK 1024

/* out[k][s] = sum_c w[k][c] x[c][s], c ascending, on n voxels of a PS_NCDHW map whose channel
 * stride is cs (x and out point at the first voxel). */
PS_HOT static void head_chunk(const float *restrict x, int64_t cs, int C, const float *restrict w,
                              int K, float *restrict out, int64_t S, int64_t n)
{
    for (int k = 0; k < K; k++) {
        const float *wk = w + (int64_t)k * C;
        float *o = out + k * S;
#pragma omp simd
        for (int64_t s = 0; s < n; s++)
            o[s] = 0.0f;
        for (int c = 0; c < C; c++) {
            const float wc = wk[c];
            const float *xc = x + c * cs;
#pragma omp simd
            for (int64_t s = 0; s < n; s++)
                o[s] += wc * xc[s];
        }
    }
}

/* PS_NDHWC: out[k][s] = w[k] . x[s], the C channels of a voxel being contiguous; the dot
 * product is a vectorised reduction whose order is fixed by the compiled code. */
PS_HOT static void head_nxc(const float *restrict x, int C, const float *restrict w, int K,
                            float *restrict out, int64_t S, int64_t s0, int64_t s1)
{
    for (int64_t s = s0; s < s1; s++) {
        const float *xs = x + s * C;
        for (int k = 0; k < K; k++) {
            const float *wk = w + (int64_t)k * C;
            float acc = 0.0f;
#pragma omp simd reduction(+ : acc)
            for (int c = 0; c < C; c++)
                acc += wk[c] * xs[c];
            out[k * S + s] = acc;
        }
    }
}

void ps_conv1x1_to_plain(const float *x, int C, int64_t S, ps_layout lay, const float *w, int K,
                         float *out, int threads)
{
    const int64_t nchunk = (S + PS_HEAD_CHUNK - 1) / PS_HEAD_CHUNK;
#pragma omp parallel for schedule(static) num_threads(threads)
    for (int64_t ch = 0; ch < nchunk; ch++) {
        int64_t s0 = ch * PS_HEAD_CHUNK, s1 = s0 + PS_HEAD_CHUNK < S ? s0 + PS_HEAD_CHUNK : S;
        if (lay == PS_NCDHW)
            head_chunk(x + s0, S, C, w, K, out + s0, S, s1 - s0);
        else
            head_nxc(x, C, w, K, out, S, s0, s1);
    }
}

/* ---- layout changes --------------------------------------------------------------------- */
/* Tiles of 64 voxels x all channels keep both sides' accesses within a few cache lines. */
#define PS_TRANSPOSE_TILE 64

void ps_to_ndhwc(const float *src, int C, int64_t S, float *dst, int threads)
{
    const int64_t nt = (S + PS_TRANSPOSE_TILE - 1) / PS_TRANSPOSE_TILE;
#pragma omp parallel for schedule(static) num_threads(threads)
    for (int64_t t = 0; t < nt; t++) {
        const int64_t s0 = t * PS_TRANSPOSE_TILE;
        const int64_t s1 = s0 + PS_TRANSPOSE_TILE < S ? s0 + PS_TRANSPOSE_TILE : S;
        for (int c = 0; c < C; c++)
            for (int64_t s = s0; s < s1; s++)
                dst[s * C + c] = src[(int64_t)c * S + s];
    }
}

void ps_to_ncdhw(const float *src, int C, int64_t S, float *dst, int threads)
{
    const int64_t nt = (S + PS_TRANSPOSE_TILE - 1) / PS_TRANSPOSE_TILE;
#pragma omp parallel for schedule(static) num_threads(threads)
    for (int64_t t = 0; t < nt; t++) {
        const int64_t s0 = t * PS_TRANSPOSE_TILE;
        const int64_t s1 = s0 + PS_TRANSPOSE_TILE < S ? s0 + PS_TRANSPOSE_TILE : S;
        for (int c = 0; c < C; c++)
            for (int64_t s = s0; s < s1; s++)
                dst[(int64_t)c * S + s] = src[s * C + c];
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

/* yt[o][t] = b[o] + sum_i W[o][i] xt[i][t], i ascending, for o in [o0, o1) and tokens
 * [t0, t1): an axpy over the tokens per (o, i), which vectorises along t without reordering
 * any sum. */
PS_HOT static void linear_rows(const float *restrict xt, int n, int in,
                               const float *restrict W, const float *b, float *restrict yt,
                               int o0, int o1, int t0, int t1)
{
    for (int o = o0; o < o1; o++) {
        float *row = yt + (int64_t)o * n;
        const float bo = b ? b[o] : 0.0f;
#pragma omp simd
        for (int t = t0; t < t1; t++)
            row[t] = bo;
        const float *wo = W + (int64_t)o * in;
        for (int i = 0; i < in; i++) {
            const float wi = wo[i];
            const float *xi = xt + (int64_t)i * n;
#pragma omp simd
            for (int t = t0; t < t1; t++)
                row[t] += wi * xi[t];
        }
    }
}

/* The same sums, register-blocked: a tile of LIN_TO outputs x LIN_TT tokens is held in
 * LIN_TO x (LIN_TT / 16) vectors of 16 floats while i runs, so each slice of xt is loaded once
 * per LIN_TO outputs instead of once per output and no partial sum goes through memory (GCC
 * vector extensions: one AVX-512 register per vector on x86-64-v4). Each element is still
 * b[o] + W[o][0] xt[0][t] + W[o][1] xt[1][t] + ... in that order. */
#define LIN_TO 4
#define LIN_TT 64
typedef float ps_v16 __attribute__((vector_size(64)));

PS_HOT static void linear_tile(const float *restrict xt, int n, int in, const float *restrict W,
                               const float *b, float *restrict yt, int o0, int t0)
{
    ps_v16 acc[LIN_TO][LIN_TT / 16];
    for (int r = 0; r < LIN_TO; r++)
        for (int j = 0; j < LIN_TT / 16; j++)
            acc[r][j] = (ps_v16){0} + (b ? b[o0 + r] : 0.0f);
    const float *w = W + (int64_t)o0 * in;
    for (int i = 0; i < in; i++) {
        ps_v16 xv[LIN_TT / 16];
        memcpy(xv, xt + (int64_t)i * n + t0, sizeof xv);
        for (int r = 0; r < LIN_TO; r++) {
            const float wr = w[(int64_t)r * in + i];
            for (int j = 0; j < LIN_TT / 16; j++)
                acc[r][j] += wr * xv[j];
        }
    }
    for (int r = 0; r < LIN_TO; r++)
        memcpy(yt + (int64_t)(o0 + r) * n + t0, acc[r], sizeof acc[r]);
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
    /* whole tiles, then the remaining tokens and outputs by rows */
    const int ot = out / LIN_TO, tt = n / LIN_TT, ntile = ot * tt;
#pragma omp parallel for schedule(static) num_threads(threads)
    for (int k = 0; k < ntile; k++)
        linear_tile(xt, n, in, W, b, yt, (k / tt) * LIN_TO, (k % tt) * LIN_TT);
    if (tt * LIN_TT < n)
        linear_rows(xt, n, in, W, b, yt, 0, ot * LIN_TO, tt * LIN_TT, n);
    if (ot * LIN_TO < out)
        linear_rows(xt, n, in, W, b, yt, ot * LIN_TO, out, 0, n);
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
