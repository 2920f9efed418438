/* preprocess.c - cropping to the non-zero box and per-modality normalisation, as nnU-Net v1.
 *
 * Sources of the behaviour (read, not copied):
 *   nnunet/preprocessing/cropping.py       create_nonzero_mask (any channel != 0, then
 *                                          scipy.ndimage.binary_fill_holes), get_bbox_from_mask
 *   nnunet/preprocessing/preprocessing.py  GenericPreprocessor.resample_and_normalize
 *
 * Crop box: per axis [min, max + 1) of the voxels that are non-zero in any channel. Filling
 * holes does not move the box (a hole is enclosed by mask voxels), so the box is found on the
 * raw mask; the filled mask is computed on the box only (a background region of the box that
 * touches the box's border also touches the image border, and the converse, so the result is
 * that of the whole image).
 *
 * Normalisation, with numpy's float32 arithmetic (python-float scalars are cast to float32
 * against a float32 array, numpy 1.x value-based casting):
 *   CT:    x <- clip(x, (float)p00_5, (float)p99_5);  x <- (x - (float)mean) / (float)sd;
 *          with use_mask_for_norm, x <- 0 where the mask is 0;
 *   other: m = mean(x), s = std(x) (biased) over the mask (all voxels without use_mask);
 *          x <- (x - (float)m) / (float)((double)(float)s + 1e-8)  (numpy adds 1e-8 to the
 *          float32 scalar in float64), 0 outside the mask with use_mask.
 * numpy reduces float32 arrays with float32 pairwise sums; panseval sums in double (in fixed
 * chunks, added in order) and rounds m and s to float32. The two differ by float32 rounding of
 * the statistics (relative ~1e-7), which the tests bound.
 */
#include "pipeline_internal.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#define CHUNK 65536

int ps_crop_box(const float *const *chans, int nc, const int64_t n[3], int64_t box[3][2],
                uint8_t **mask, int threads)
{
    if (mask)
        *mask = NULL;
    int64_t lo0 = INT64_MAX, hi0 = -1, lo1 = INT64_MAX, hi1 = -1, lo2 = INT64_MAX, hi2 = -1;
    const int64_t plane = n[1] * n[2];
#pragma omp parallel for num_threads(threads) schedule(static) \
    reduction(min : lo0, lo1, lo2) reduction(max : hi0, hi1, hi2)
    for (int64_t i = 0; i < n[0]; i++) {
        for (int64_t j = 0; j < n[1]; j++) {
            int64_t first = -1, last = -1;
            for (int c = 0; c < nc; c++) {
                const float *r = chans[c] + i * plane + j * n[2];
                for (int64_t k = 0; k < n[2]; k++)
                    if (r[k] != 0.0f) {
                        if (first < 0 || k < first)
                            first = k;
                        break;
                    }
                for (int64_t k = n[2] - 1; k >= 0; k--)
                    if (r[k] != 0.0f) {
                        if (k > last)
                            last = k;
                        break;
                    }
            }
            if (first < 0)
                continue;
            if (i < lo0) lo0 = i;
            if (i > hi0) hi0 = i;
            if (j < lo1) lo1 = j;
            if (j > hi1) hi1 = j;
            if (first < lo2) lo2 = first;
            if (last > hi2) hi2 = last;
        }
    }
    if (hi0 < 0)
        return ps_error(PS_ERR_FORMAT, "every voxel of the image is 0: there is nothing to "
                        "segment (nnU-Net's crop to the non-zero region fails on it as well)");
    box[0][0] = lo0; box[0][1] = hi0 + 1;
    box[1][0] = lo1; box[1][1] = hi1 + 1;
    box[2][0] = lo2; box[2][1] = hi2 + 1;
    if (!mask)
        return PS_OK;

    const int64_t m[3] = {box[0][1] - box[0][0], box[1][1] - box[1][0], box[2][1] - box[2][0]};
    const int64_t nv = ps_n3(m);
    if (nv > INT32_MAX)
        return ps_error(PS_ERR_UNSUPPORTED, "the non-zero box has %lld voxels; filling holes "
                        "in the mask supports at most 2^31", (long long)nv);
    uint8_t *mk = ps_malloc((size_t)nv);
    int32_t *queue = ps_malloc_array((size_t)nv, sizeof *queue);
    if (!mk || !queue) {
        free(mk);
        free(queue);
        return PS_ERR_NOMEM;
    }
    /* 1 = in the raw mask, 0 = background not yet reached from the border, 2 = reached */
#pragma omp parallel for num_threads(threads) schedule(static)
    for (int64_t i = 0; i < m[0]; i++)
        for (int64_t j = 0; j < m[1]; j++) {
            uint8_t *dst = mk + (i * m[1] + j) * m[2];
            int64_t off = (i + box[0][0]) * plane + (j + box[1][0]) * n[2] + box[2][0];
            for (int64_t k = 0; k < m[2]; k++) {
                uint8_t v = 0;
                for (int c = 0; c < nc; c++)
                    v |= chans[c][off + k] != 0.0f;
                dst[k] = v;
            }
        }
    /* flood fill the background from the box border, 6-connected (binary_fill_holes' default
     * structure) */
    int64_t qn = 0;
    for (int64_t i = 0; i < m[0]; i++)
        for (int64_t j = 0; j < m[1]; j++)
            for (int64_t k = 0; k < m[2]; k++) {
                int border = i == 0 || j == 0 || k == 0 || i == m[0] - 1 || j == m[1] - 1 ||
                             k == m[2] - 1;
                if (!border)
                    continue;
                int64_t v = (i * m[1] + j) * m[2] + k;
                if (mk[v] == 0) {
                    mk[v] = 2;
                    queue[qn++] = (int32_t)v;
                }
            }
    for (int64_t h = 0; h < qn; h++) {
        int64_t v = queue[h];
        int64_t i = v / (m[1] * m[2]), j = v / m[2] % m[1], k = v % m[2];
        int64_t nb[6];
        int cnt = 0;
        if (i > 0) nb[cnt++] = v - m[1] * m[2];
        if (i < m[0] - 1) nb[cnt++] = v + m[1] * m[2];
        if (j > 0) nb[cnt++] = v - m[2];
        if (j < m[1] - 1) nb[cnt++] = v + m[2];
        if (k > 0) nb[cnt++] = v - 1;
        if (k < m[2] - 1) nb[cnt++] = v + 1;
        for (int q = 0; q < cnt; q++)
            if (mk[nb[q]] == 0) {
                mk[nb[q]] = 2;
                queue[qn++] = (int32_t)nb[q];
            }
    }
    free(queue);
    for (int64_t v = 0; v < nv; v++)
        mk[v] = mk[v] != 2; /* raw mask and enclosed holes */
    *mask = mk;
    return PS_OK;
}

/* sum and sum of squared deviations from `shift` over the selected voxels, in fixed chunks */
static void masked_moments(const float *x, int64_t nvox, const uint8_t *mask, int threads,
                           double *count, double *mean, double *var)
{
    int64_t nch = (nvox + CHUNK - 1) / CHUNK;
    double *part = calloc((size_t)nch * 3, sizeof *part);
    double n = 0, s = 0;
    if (!part) { /* fall back to a serial pass (same order of chunks) */
        for (int64_t v = 0; v < nvox; v++)
            if (!mask || mask[v]) {
                n += 1;
                s += x[v];
            }
    } else {
#pragma omp parallel for num_threads(threads) schedule(static)
        for (int64_t c = 0; c < nch; c++) {
            double cn = 0, cs = 0;
            int64_t e = (c + 1) * CHUNK < nvox ? (c + 1) * CHUNK : nvox;
            for (int64_t v = c * CHUNK; v < e; v++)
                if (!mask || mask[v]) {
                    cn += 1;
                    cs += x[v];
                }
            part[3 * c] = cn;
            part[3 * c + 1] = cs;
        }
        for (int64_t c = 0; c < nch; c++) {
            n += part[3 * c];
            s += part[3 * c + 1];
        }
    }
    double m = n > 0 ? s / n : NAN, q = 0;
    if (part) {
#pragma omp parallel for num_threads(threads) schedule(static)
        for (int64_t c = 0; c < nch; c++) {
            double cq = 0;
            int64_t e = (c + 1) * CHUNK < nvox ? (c + 1) * CHUNK : nvox;
            for (int64_t v = c * CHUNK; v < e; v++)
                if (!mask || mask[v]) {
                    double d = (double)x[v] - m;
                    cq += d * d;
                }
            part[3 * c + 2] = cq;
        }
        for (int64_t c = 0; c < nch; c++)
            q += part[3 * c + 2];
    } else {
        for (int64_t v = 0; v < nvox; v++)
            if (!mask || mask[v]) {
                double d = (double)x[v] - m;
                q += d * d;
            }
    }
    free(part);
    *count = n;
    *mean = m;
    *var = n > 0 ? q / n : NAN;
}

int ps_normalize_channel(float *x, int64_t nvox, const ps_plans *pl, int modality,
                         const uint8_t *mask, int threads)
{
    const char *scheme = pl->normalization[modality];
    int use_mask = pl->use_mask_for_norm[modality];
    if (use_mask && !mask)
        return ps_error(PS_ERR_INTERNAL, "normalisation: use_mask_for_norm without a mask");
    if (!strcmp(scheme, "CT")) {
        const struct ps_plans_intensity *ip = &pl->intensity[modality];
        if (!ip->present)
            return ps_error(PS_ERR_FORMAT, "the plans give modality %d the CT normalisation but "
                            "no intensityproperties (mean, sd, percentile_00_5, "
                            "percentile_99_5)", modality);
        const float lb = (float)ip->percentile_00_5, ub = (float)ip->percentile_99_5;
        const float mn = (float)ip->mean, sd = (float)ip->sd;
#pragma omp parallel for num_threads(threads) schedule(static)
        for (int64_t v = 0; v < nvox; v++) {
            float y = x[v] < lb ? lb : x[v] > ub ? ub : x[v];
            y = (y - mn) / sd;
            x[v] = use_mask && !mask[v] ? 0.0f : y;
        }
        return PS_OK;
    }
    if (!strcmp(scheme, "noNorm"))
        return PS_OK;
    if (!strcmp(scheme, "CT2"))
        return ps_error(PS_ERR_UNSUPPORTED, "normalisation scheme CT2 (per-image statistics "
                        "inside the CT percentiles) is not supported (docs/inference.md)");
    double cnt, m, var;
    masked_moments(x, nvox, use_mask ? mask : NULL, threads, &cnt, &m, &var);
    if (!(cnt > 0))
        return ps_error(PS_ERR_FORMAT, "normalisation: the mask of modality %d is empty",
                        modality);
    const float mf = (float)m;
    const float div = (float)((double)(float)sqrt(var) + 1e-8);
#pragma omp parallel for num_threads(threads) schedule(static)
    for (int64_t v = 0; v < nvox; v++) {
        if (use_mask && !mask[v])
            x[v] = 0.0f;
        else
            x[v] = (x[v] - mf) / div;
    }
    return PS_OK;
}
