/* sliding.c - sliding-window prediction with Gaussian weighting and mirroring, as nnU-Net v1.
 *
 * Sources of the behaviour (read, not copied): nnunet/network_architecture/neural_network.py
 * (SegmentationNetwork._get_gaussian, _compute_steps_for_sliding_window,
 * _internal_predict_3D_3Dconv_tiled, _internal_maybe_mirror_and_pred_3D),
 * batchgenerators.augmentations.utils.pad_nd_image, nnunet/inference/predict.py
 * (predict_cases: the fold average).
 *
 *   padding   each axis shorter than the patch is padded with zeros to the patch size,
 *             floor(d/2) below and the rest above; removed again at the end;
 *   steps     per axis n = ceil((size - patch) / (patch * step)) + 1 tiles, tile i starts at
 *             round(i * (size - patch) / (n - 1)) (numpy rounding, half to even);
 *   Gaussian  a unit impulse at patch // 2 filtered with scipy's gaussian_filter (sigma =
 *             patch / 8 per axis, truncate 4, mode constant): the product of three sampled
 *             1D kernels exp(-x^2 / (2 sigma^2)) / sum, zero beyond int(4 sigma + 0.5);
 *             divided by its maximum, cast to float32, zeros set to the smallest non-zero
 *             value. Used only when there is more than one tile (else weights 1);
 *   mirroring 8 passes in nnU-Net's order m = 0..7 (flip nothing; W; H; H+W; D; D+W; D+H;
 *             D+H+W), each softmax flipped back and added as (1/8) * p in float32;
 *   tiles     visited D-major; aggregated[:, tile] += p * g (float32) and weights[tile] += g;
 *             probabilities = aggregated / weights;
 *   folds     each fold's probabilities added in fold order (float32), divided by the count.
 * Softmax over the classes in float32 (max subtracted; expf; division by the sum).
 */
#include "pipeline_internal.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#define MAX_STEPS 4096

int ps_sliding_steps(int64_t image, int patch, double step, int64_t *steps, int max_steps)
{
    if (image < patch || patch < 1 || !(step > 0 && step <= 1))
        return ps_error(PS_ERR_ARG, "sliding window: image %lld, patch %d, step %g",
                        (long long)image, patch, step);
    double target = patch * step;
    int64_t num = (int64_t)ceil((double)(image - patch) / target) + 1;
    if (num > max_steps)
        return ps_error(PS_ERR_RANGE, "sliding window: %lld tiles along one axis (more than "
                        "%d)", (long long)num, max_steps);
    double actual = num > 1 ? (double)(image - patch) / (double)(num - 1) : 0.0;
    for (int64_t i = 0; i < num; i++)
        steps[i] = (int64_t)nearbyint(actual * (double)i);
    return (int)num;
}

void ps_gaussian_map(const int patch[3], float *g)
{
    double *k[3];
    int64_t c[3], r[3];
    for (int d = 0; d < 3; d++) {
        double sigma = patch[d] * (1.0 / 8.0);
        r[d] = (int64_t)(4.0 * sigma + 0.5);
        c[d] = patch[d] / 2;
        k[d] = malloc((size_t)(2 * r[d] + 1) * sizeof(double));
        double f = -0.5 / (sigma * sigma), s = 0;
        for (int64_t x = -r[d]; x <= r[d]; x++)
            s += (k[d][x + r[d]] = exp(f * (double)(x * x)));
        for (int64_t x = 0; x <= 2 * r[d]; x++)
            k[d][x] /= s;
    }
    const double mx = k[0][r[0]] * k[1][r[1]] * k[2][r[2]];
    float minnz = INFINITY;
    int64_t S = (int64_t)patch[0] * patch[1] * patch[2];
    for (int64_t i = 0; i < patch[0]; i++)
        for (int64_t j = 0; j < patch[1]; j++)
            for (int64_t l = 0; l < patch[2]; l++) {
                int64_t o[3] = {i - c[0], j - c[1], l - c[2]};
                double v = 1.0;
                for (int d = 0; d < 3; d++)
                    v = (o[d] < -r[d] || o[d] > r[d]) ? 0.0 : v * k[d][o[d] + r[d]];
                float f = (float)(v / mx);
                g[(i * patch[1] + j) * patch[2] + l] = f;
                if (f != 0.0f && f < minnz)
                    minnz = f;
            }
    for (int64_t v = 0; v < S; v++)
        if (g[v] == 0.0f)
            g[v] = minnz;
    for (int d = 0; d < 3; d++)
        free(k[d]);
}

/* the flips of pass m, per axis (D, H, W) */
static void mirror_flags(int m, int f[3])
{
    static const int tab[8][3] = {{0, 0, 0}, {0, 0, 1}, {0, 1, 0}, {0, 1, 1},
                                  {1, 0, 0}, {1, 0, 1}, {1, 1, 0}, {1, 1, 1}};
    f[0] = tab[m][0];
    f[1] = tab[m][1];
    f[2] = tab[m][2];
}

/* dst[c][i][j][k] = src[c][fi][fj][fk] with the flips f; dst != src */
static void flip_copy(const float *src, int C, const int p[3], const int f[3], float *dst,
                      int threads)
{
    const int64_t S = (int64_t)p[0] * p[1] * p[2];
#pragma omp parallel for collapse(2) num_threads(threads) schedule(static)
    for (int c = 0; c < C; c++)
        for (int i = 0; i < p[0]; i++) {
            int si = f[0] ? p[0] - 1 - i : i;
            for (int j = 0; j < p[1]; j++) {
                int sj = f[1] ? p[1] - 1 - j : j;
                const float *s = src + c * S + ((int64_t)si * p[1] + sj) * p[2];
                float *d = dst + c * S + ((int64_t)i * p[1] + j) * p[2];
                if (f[2])
                    for (int k = 0; k < p[2]; k++)
                        d[k] = s[p[2] - 1 - k];
                else
                    memcpy(d, s, (size_t)p[2] * sizeof *d);
            }
        }
}

/* in place: softmax over K channels per voxel */
static void softmax_channels(float *x, int K, int64_t S, int threads)
{
#pragma omp parallel for num_threads(threads) schedule(static)
    for (int64_t s = 0; s < S; s++) {
        float mx = x[s];
        for (int k = 1; k < K; k++)
            mx = fmaxf(mx, x[k * S + s]);
        float sum = 0.0f;
        for (int k = 0; k < K; k++) {
            float e = expf(x[k * S + s] - mx);
            x[k * S + s] = e;
            sum += e;
        }
        for (int k = 0; k < K; k++)
            x[k * S + s] /= sum;
    }
}

int ps_sliding_predict(ps_net *net, int accumulate, const float *data, int C,
                       const int64_t n[3], const int patch[3], int K, double step,
                       int mirroring, float *prob, ps_sliding_stats *stats, int threads)
{
    if (threads < 1)
        threads = 1;
    int64_t np_[3], lo[3];
    for (int d = 0; d < 3; d++) {
        np_[d] = n[d] > patch[d] ? n[d] : patch[d];
        lo[d] = (np_[d] - n[d]) / 2;
    }
    int64_t *steps[3] = {NULL, NULL, NULL};
    int nsteps[3];
    int rc = PS_OK;
    const int64_t Sp = ps_n3(np_), S = ps_n3(n), P = (int64_t)patch[0] * patch[1] * patch[2];
    float *pad = NULL, *agg = NULL, *wsum = NULL, *g = NULL, *tile = NULL, *flip = NULL,
          *logits = NULL, *res = NULL;
    for (int d = 0; d < 3; d++) {
        if (!(steps[d] = ps_malloc_array(MAX_STEPS, sizeof(int64_t)))) {
            rc = PS_ERR_NOMEM;
            goto done;
        }
        if ((rc = ps_sliding_steps(np_[d], patch[d], step, steps[d], MAX_STEPS)) < 0)
            goto done;
        nsteps[d] = rc;
        rc = PS_OK;
    }
    const int64_t ntiles = (int64_t)nsteps[0] * nsteps[1] * nsteps[2];
    pad = ps_malloc_array((size_t)(C * Sp), sizeof *pad);
    agg = ps_malloc_array((size_t)(K * Sp), sizeof *agg);
    wsum = ps_malloc_array((size_t)Sp, sizeof *wsum);
    tile = ps_malloc_array((size_t)(C * P), sizeof *tile);
    flip = ps_malloc_array((size_t)(C * P), sizeof *flip);
    logits = ps_malloc_array((size_t)(K * P), sizeof *logits);
    res = ps_malloc_array((size_t)(K * P), sizeof *res);
    if (ntiles > 1 && !(g = ps_malloc_array((size_t)P, sizeof *g)))
        rc = PS_ERR_NOMEM;
    if (rc || !pad || !agg || !wsum || !tile || !flip || !logits || !res) {
        rc = ps_error(PS_ERR_NOMEM, "sliding window: out of memory (%.0f MiB of buffers for a "
                      "padded image of %lld x %lld x %lld)",
                      (double)((C + K + 1) * Sp + (2 * C + 2 * K) * P) * 4 / 1048576.0,
                      (long long)np_[0], (long long)np_[1], (long long)np_[2]);
        goto done;
    }
    if (g)
        ps_gaussian_map(patch, g);
    /* pad_nd_image: zeros around the image */
    memset(pad, 0, (size_t)(C * Sp) * sizeof *pad);
#pragma omp parallel for collapse(2) num_threads(threads) schedule(static)
    for (int c = 0; c < C; c++)
        for (int64_t i = 0; i < n[0]; i++)
            for (int64_t j = 0; j < n[1]; j++)
                memcpy(pad + c * Sp + ((i + lo[0]) * np_[1] + j + lo[1]) * np_[2] + lo[2],
                       data + c * S + (i * n[1] + j) * n[2], (size_t)n[2] * sizeof *pad);

    const int passes = mirroring ? 8 : 1;
    const float scale = mirroring ? 0.125f : 1.0f;
    {
        memset(agg, 0, (size_t)(K * Sp) * sizeof *agg);
        memset(wsum, 0, (size_t)Sp * sizeof *wsum);
        for (int t0 = 0; t0 < nsteps[0]; t0++)
            for (int t1 = 0; t1 < nsteps[1]; t1++)
                for (int t2 = 0; t2 < nsteps[2]; t2++) {
                    const int64_t o[3] = {steps[0][t0], steps[1][t1], steps[2][t2]};
                    /* the tile (C, patch) */
#pragma omp parallel for collapse(2) num_threads(threads) schedule(static)
                    for (int c = 0; c < C; c++)
                        for (int i = 0; i < patch[0]; i++)
                            for (int j = 0; j < patch[1]; j++)
                                memcpy(tile + c * P + ((int64_t)i * patch[1] + j) * patch[2],
                                       pad + c * Sp + ((o[0] + i) * np_[1] + o[1] + j) * np_[2] +
                                           o[2],
                                       (size_t)patch[2] * sizeof *tile);
                    memset(res, 0, (size_t)(K * P) * sizeof *res);
                    for (int m = 0; m < passes; m++) {
                        int fl[3];
                        mirror_flags(m, fl);
                        const float *in = tile;
                        if (m) {
                            flip_copy(tile, C, patch, fl, flip, threads);
                            in = flip;
                        }
                        double ts = ps_now_seconds();
                        if ((rc = ps_net_forward(net, in, logits)))
                            goto done;
                        stats->net_seconds += ps_now_seconds() - ts;
                        stats->passes++;
                        stats->conv_flops += ps_net_flops(net);
                        softmax_channels(logits, K, P, threads);
                        /* the flipped-back softmax, added with weight 1/passes */
#pragma omp parallel for collapse(2) num_threads(threads) schedule(static)
                        for (int c = 0; c < K; c++)
                            for (int i = 0; i < patch[0]; i++) {
                                int si = fl[0] ? patch[0] - 1 - i : i;
                                for (int j = 0; j < patch[1]; j++) {
                                    int sj = fl[1] ? patch[1] - 1 - j : j;
                                    const float *s =
                                        logits + c * P + ((int64_t)si * patch[1] + sj) * patch[2];
                                    float *d = res + c * P + ((int64_t)i * patch[1] + j) * patch[2];
                                    if (fl[2])
                                        for (int k = 0; k < patch[2]; k++)
                                            d[k] += scale * s[patch[2] - 1 - k];
                                    else
                                        for (int k = 0; k < patch[2]; k++)
                                            d[k] += scale * s[k];
                                }
                            }
                    }
                    /* weight and aggregate */
#pragma omp parallel for num_threads(threads) schedule(static)
                    for (int i = 0; i < patch[0]; i++)
                        for (int j = 0; j < patch[1]; j++) {
                            int64_t po = ((int64_t)i * patch[1] + j) * patch[2];
                            int64_t qo = ((o[0] + i) * np_[1] + o[1] + j) * np_[2] + o[2];
                            for (int c = 0; c < K; c++) {
                                const float *s = res + c * P + po;
                                float *d = agg + c * Sp + qo;
                                if (g)
                                    for (int k = 0; k < patch[2]; k++)
                                        d[k] += s[k] * g[po + k];
                                else
                                    for (int k = 0; k < patch[2]; k++)
                                        d[k] += s[k];
                            }
                            float *w = wsum + qo;
                            if (g)
                                for (int k = 0; k < patch[2]; k++)
                                    w[k] += g[po + k];
                            else
                                for (int k = 0; k < patch[2]; k++)
                                    w[k] += 1.0f;
                        }
                    stats->tiles++;
                }
        /* probabilities of this fold (padding removed), added to the fold sum */
#pragma omp parallel for collapse(2) num_threads(threads) schedule(static)
        for (int c = 0; c < K; c++)
            for (int64_t i = 0; i < n[0]; i++)
                for (int64_t j = 0; j < n[1]; j++) {
                    const float *a = agg + c * Sp + ((i + lo[0]) * np_[1] + j + lo[1]) * np_[2] + lo[2];
                    const float *w = wsum + ((i + lo[0]) * np_[1] + j + lo[1]) * np_[2] + lo[2];
                    float *d = prob + c * S + (i * n[1] + j) * n[2];
                    if (!accumulate)
                        for (int64_t k = 0; k < n[2]; k++)
                            d[k] = a[k] / w[k];
                    else
                        for (int64_t k = 0; k < n[2]; k++)
                            d[k] += a[k] / w[k];
                }
    }
done:
    for (int d = 0; d < 3; d++)
        free(steps[d]);
    free(pad);
    free(agg);
    free(wsum);
    free(g);
    free(tile);
    free(flip);
    free(logits);
    free(res);
    return rc;
}
