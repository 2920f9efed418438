/* fuse.c - label fusion over the voxels of k label maps: majority vote and the label-tuple
 * counts and painting of multi-label STAPLE (staple.c).
 *
 * Majority vote: per voxel the label given by most raters; a tie goes to the lowest tied label,
 * background (0) included, so with two labels a tie is background. Every voxel is computed on
 * its own (parallel over k-slices), so the output does not depend on the thread count.
 */
#include <stdlib.h>
#include <string.h>
#ifdef _OPENMP
#include <omp.h>
#endif

#include "metrics_internal.h"

static int32_t voxel_label(const ps_volume *v, int64_t i)
{
    return v->dtype == PS_DT_UINT8 ? ((const uint8_t *)v->data)[i] : ((const int32_t *)v->data)[i];
}

static int check_raters(const ps_volume *const *vols, int k, const ps_volume *out)
{
    int rc;
    if (!vols || k < 1)
        return ps_error(PS_ERR_ARG, "label fusion: no rater");
    for (int r = 0; r < k; r++) {
        if (!vols[r])
            return ps_error(PS_ERR_ARG, "label fusion: rater %d has no volume", r + 1);
        if ((rc = ps_check_label_volume_(vols[r], "rater")))
            return rc;
        if (r && (rc = ps_geometry_check_same(&vols[0]->geom,
                                              vols[0]->path ? vols[0]->path : "rater 1",
                                              &vols[r]->geom,
                                              vols[r]->path ? vols[r]->path : "rater")))
            return rc;
    }
    if (out) {
        if (out->dtype != PS_DT_INT32 || !out->data)
            return ps_error(PS_ERR_ARG, "label fusion: the output must be an int32 volume");
        for (int a = 0; a < 3; a++)
            if (out->geom.dim[a] != vols[0]->geom.dim[a])
                return ps_error(PS_ERR_GEOMETRY, "label fusion: the output grid differs");
    }
    return 0;
}

int ps_fuse_majority(const ps_volume *const *vols, int k, const ps_context *ctx, ps_volume *out)
{
    int rc;
    if ((rc = check_raters(vols, k, out)))
        return rc;
    if (!out)
        return ps_error(PS_ERR_ARG, "ps_fuse_majority: NULL output");
    const int nt = ps_context_threads(ctx);
    const int64_t nvox = ps_volume_nvox(vols[0]);
    int32_t *o = out->data;
    int32_t *work = ps_malloc_array((size_t)nt * (size_t)k, sizeof(int32_t));
    if (!work)
        return ps_error_context(PS_ERR_NOMEM, "majority vote");
#pragma omp parallel num_threads(nt)
    {
        int tid = 0;
#ifdef _OPENMP
        tid = omp_get_thread_num();
#endif
        int32_t *l = work + (size_t)tid * (size_t)k;
#pragma omp for schedule(static)
        for (int64_t v = 0; v < nvox; v++) {
            /* insertion sort of the k labels, then the longest run; the first (lowest) longest
             * run wins a tie */
            for (int r = 0; r < k; r++) {
                int32_t x = voxel_label(vols[r], v);
                int j = r;
                while (j > 0 && l[j - 1] > x) {
                    l[j] = l[j - 1];
                    j--;
                }
                l[j] = x;
            }
            int32_t best = l[0];
            int run = 1, best_run = 1;
            for (int r = 1; r < k; r++) {
                run = l[r] == l[r - 1] ? run + 1 : 1;
                if (run > best_run) {
                    best_run = run;
                    best = l[r];
                }
            }
            o[v] = best;
        }
    }
    free(work);
    return 0;
}

int ps_label_tuples(const ps_volume *const *vols, int k, int nlabels, const ps_context *ctx,
                    int64_t *counts, size_t ntuples)
{
    int rc;
    if ((rc = check_raters(vols, k, NULL)))
        return rc;
    const int nt = ps_context_threads(ctx);
    const int64_t nvox = ps_volume_nvox(vols[0]);
    int64_t *part = calloc((size_t)nt * ntuples, sizeof *part);
    if (!part)
        return ps_error_context(PS_ERR_NOMEM, "label tuples");
    int bad = 0;
#pragma omp parallel num_threads(nt) reduction(| : bad)
    {
        int tid = 0;
#ifdef _OPENMP
        tid = omp_get_thread_num();
#endif
        int64_t *h = part + (size_t)tid * ntuples;
#pragma omp for schedule(static)
        for (int64_t v = 0; v < nvox; v++) {
            size_t t = 0, mul = 1;
            for (int r = 0; r < k; r++) {
                int32_t x = voxel_label(vols[r], v);
                if (x < 0 || x >= nlabels) {
                    bad = 1;
                    x = 0;
                }
                t += (size_t)x * mul;
                mul *= (size_t)nlabels;
            }
            h[t]++;
        }
    }
    memset(counts, 0, ntuples * sizeof *counts);
    for (int t = 0; t < nt; t++)
        for (size_t i = 0; i < ntuples; i++)
            counts[i] += part[(size_t)t * ntuples + i];
    free(part);
    if (bad)
        return ps_error(PS_ERR_ARG, "multi-label STAPLE: a label outside 0..%d", nlabels - 1);
    return 0;
}

int ps_label_tuples_paint(const ps_volume *const *vols, int k, int nlabels,
                          const int32_t *label_of_tuple, const ps_context *ctx, ps_volume *out)
{
    int rc;
    if ((rc = check_raters(vols, k, out)))
        return rc;
    if (!out || !label_of_tuple)
        return ps_error(PS_ERR_ARG, "ps_label_tuples_paint: NULL argument");
    const int nt = ps_context_threads(ctx);
    const int64_t nvox = ps_volume_nvox(vols[0]);
    int32_t *o = out->data;
#pragma omp parallel for num_threads(nt) schedule(static)
    for (int64_t v = 0; v < nvox; v++) {
        size_t t = 0, mul = 1;
        for (int r = 0; r < k; r++) {
            int32_t x = voxel_label(vols[r], v);
            t += (size_t)(x < 0 || x >= nlabels ? 0 : x) * mul;
            mul *= (size_t)nlabels;
        }
        o[v] = label_of_tuple[t];
    }
    return 0;
}
