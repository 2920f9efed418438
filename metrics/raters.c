/* raters.c - k raters of one case: per-mask pieces computed once, shared by every pair.
 *
 * Outline (one case, one region, k label maps on one grid):
 *  1. One counting pass per rater (ps_scan_counts_ of the map with itself): its region voxel
 *     count and bounding box. The union of the boxes, grown by one voxel, is the shared crop.
 *  2. Per rater on that crop: region mask, boundary flags (and for the surfel methods corner
 *     codes and surfel flags), and the EDT of the boundary (and surfel) flags - once per rater,
 *     so k transforms serve all k (k - 1) / 2 pairs instead of k (k - 1).
 *  3. A pair (a, b): |A n B| from the two crop masks (every region voxel of both lies in the
 *     crop), the directed lists A -> B (b's EDT read at a's flags) and B -> A, and the same
 *     metric code as ps_metrics_compute (compute.c). The EDT works in image positions
 *     (ps_edt_sq_at) and the lists are in voxel order, so the result is bit-identical to
 *     ps_metrics_compute on that pair, whose crop is smaller.
 *  4. Voxel tables for the multi-rater statistics: per voxel of a box, the number m of raters
 *     that have it (histogram over m = 0..k) or the bit pattern of which raters have it
 *     (2^k counts); voxels of the box outside the crop belong to no rater. Integer counts
 *     summed per thread, so the tables do not depend on the thread count.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>
#ifdef _OPENMP
#include <omp.h>
#endif

#include "metrics_internal.h"

struct ps_rater_set {
    int k, nt, surf, any;
    ps_geometry geom;
    ps_metrics_options opt;
    int64_t *count;          /* region voxels per rater                                   */
    int64_t (*rlo)[3], (*rhi)[3]; /* box of each rater's region voxels                     */
    int64_t lo[3], hi[3];    /* union box of region voxels (hi exclusive), when `any`     */
    ps_crop c;
    ps_piece *p;             /* k pieces on the crop                                      */
    double **edt_b, **edt_s; /* k boundary EDTs (crop grid) and surfel EDTs (corner grid) */
    double code_w[256];
    ps_context tctx;
};

void ps_rater_set_free(ps_rater_set *s)
{
    if (!s)
        return;
    for (int r = 0; r < s->k; r++) {
        if (s->p)
            ps_piece_free_(&s->p[r]);
        if (s->edt_b)
            free(s->edt_b[r]);
        if (s->edt_s)
            free(s->edt_s[r]);
    }
    free(s->p);
    free(s->edt_b);
    free(s->edt_s);
    free(s->count);
    free(s->rlo);
    free(s->rhi);
    free(s);
}

int ps_rater_set_create(const ps_volume *const *vols, int k, const ps_region *region,
                        const ps_metrics_options *opt, const ps_context *ctx,
                        ps_rater_set **out)
{
    int rc;
    if (!vols || !region || !out || k < 1)
        return ps_error(PS_ERR_ARG, "ps_rater_set_create: NULL argument or no rater");
    *out = NULL;
    ps_metrics_options defaults;
    if (!opt) {
        ps_metrics_options_init(&defaults);
        opt = &defaults;
    }
    if ((rc = ps_metrics_args_check_(region, opt)))
        return rc;
    for (int r = 0; r < k; r++) {
        if (!vols[r])
            return ps_error(PS_ERR_ARG, "ps_rater_set_create: rater %d has no volume", r);
        if ((rc = ps_check_label_volume_(vols[r], "rater")))
            return rc;
        if (r && (rc = ps_geometry_check_same(&vols[0]->geom,
                                              vols[0]->path ? vols[0]->path : "rater 1",
                                              &vols[r]->geom,
                                              vols[r]->path ? vols[r]->path : "rater")))
            return rc;
    }
    ps_rater_set *s = calloc(1, sizeof *s);
    if (!s)
        return PS_ERR_NOMEM;
    s->k = k;
    s->nt = ps_context_threads(ctx);
    s->geom = vols[0]->geom;
    s->opt = *opt;
    s->surf = ps_need_surfels_(opt);
    ps_context_init(&s->tctx);
    s->tctx.threads = s->nt;
    s->tctx.progress = 0;
    rc = PS_ERR_NOMEM;
    s->count = calloc((size_t)k, sizeof *s->count);
    s->rlo = calloc((size_t)k, sizeof *s->rlo);
    s->rhi = calloc((size_t)k, sizeof *s->rhi);
    s->p = calloc((size_t)k, sizeof *s->p);
    s->edt_b = calloc((size_t)k, sizeof *s->edt_b);
    s->edt_s = calloc((size_t)k, sizeof *s->edt_s);
    if (!s->count || !s->rlo || !s->rhi || !s->p || !s->edt_b || !s->edt_s)
        goto fail;

    const int64_t *dim = s->geom.dim, zero[3] = {0, 0, 0};
    ps_member *m = ps_malloc_array((size_t)k, sizeof *m);
    if (!m)
        goto fail;
    for (int a = 0; a < 3; a++) {
        s->lo[a] = dim[a];
        s->hi[a] = 0;
    }
    for (int r = 0; r < k; r++) {
        ps_member_init_(&m[r], vols[r], region);
        ps_scan_result sr;
        if ((rc = ps_scan_counts_(vols[r], vols[r], &m[r], &m[r], dim, zero, dim, s->nt, &sr))) {
            free(m);
            goto fail;
        }
        s->count[r] = sr.na;
        memcpy(s->rlo[r], sr.lo, sizeof sr.lo);
        memcpy(s->rhi[r], sr.hi, sizeof sr.hi);
        if (sr.na)
            for (int a = 0; a < 3; a++) {
                if (sr.lo[a] < s->lo[a]) s->lo[a] = sr.lo[a];
                if (sr.hi[a] > s->hi[a]) s->hi[a] = sr.hi[a];
            }
        s->any |= sr.na > 0;
    }
    if (s->any) {
        ps_crop_init_(&s->c, s->lo, s->hi, dim);
        ps_code_weights_(&s->c, s->geom.spacing_mm, s->code_w);
        for (int r = 0; r < k && !rc; r++) {
            if ((rc = ps_piece_build_(&m[r], dim, &s->c, s->surf, s->nt, &s->p[r])))
                break;
            if (!s->opt.distances || !s->count[r])
                continue; /* an empty mask is never in a distance pair */
            rc = PS_ERR_NOMEM;
            if (!(s->edt_b[r] = ps_malloc_array((size_t)s->c.n, sizeof(double))))
                break;
            if ((rc = ps_piece_edt_(&s->p[r], &s->c, s->geom.spacing_mm, 0, s->edt_b[r],
                                   &s->tctx)))
                break;
            if (s->surf) {
                rc = PS_ERR_NOMEM;
                if (!(s->edt_s[r] = ps_malloc_array((size_t)s->c.gn, sizeof(double))))
                    break;
                if ((rc = ps_piece_edt_(&s->p[r], &s->c, s->geom.spacing_mm, 1, s->edt_s[r],
                                       &s->tctx)))
                    break;
            }
        }
    } else {
        rc = 0;
    }
    free(m);
    if (rc)
        goto fail;
    *out = s;
    return 0;
fail:
    ps_rater_set_free(s);
    return ps_error_context(rc, "preparing %d raters", k);
}

int ps_rater_set_size(const ps_rater_set *s)
{
    return s ? s->k : 0;
}

int64_t ps_rater_set_count(const ps_rater_set *s, int r)
{
    return s && r >= 0 && r < s->k ? s->count[r] : -1;
}

int ps_rater_set_box(const ps_rater_set *s, int64_t lo[3], int64_t hi[3])
{
    for (int a = 0; a < 3; a++) {
        lo[a] = s->any ? s->lo[a] : 0;
        hi[a] = s->any ? s->hi[a] : 0;
    }
    return s->any;
}

int ps_rater_set_rater_box(const ps_rater_set *s, int r, int64_t lo[3], int64_t hi[3])
{
    int has = s && r >= 0 && r < s->k && s->count[r] > 0;
    for (int a = 0; a < 3; a++) {
        lo[a] = has ? s->rlo[r][a] : 0;
        hi[a] = has ? s->rhi[r][a] : 0;
    }
    return has;
}

/* |A n B| over the crop (parallel over slices, integer partials). */
static int64_t crop_and(const ps_rater_set *s, int a, int b)
{
    const uint8_t *ma = s->p[a].mask, *mb = s->p[b].mask;
    const int64_t n = s->c.n;
    int64_t c = 0;
#pragma omp parallel for num_threads(s->nt) schedule(static) reduction(+ : c)
    for (int64_t v = 0; v < n; v++)
        c += ma[v] & mb[v];
    return c;
}

int ps_rater_set_pair(const ps_rater_set *s, int a, int b, ps_case_metrics *out)
{
    if (!s || !out || a < 0 || b < 0 || a >= s->k || b >= s->k)
        return ps_error(PS_ERR_ARG, "ps_rater_set_pair: invalid rater index");
    memset(out, 0, sizeof *out);
    out->status = PS_CASE_ERROR;
    ps_set_distances_(out, NAN, NAN);
    const int64_t na = s->count[a], nb = s->count[b];
    const int64_t nab = na && nb ? crop_and(s, a, b) : 0;
    const double *sp = s->geom.spacing_mm;
    const double voxel_ml = sp[0] * sp[1] * sp[2] / 1000.0;
    const int64_t nvox = s->geom.dim[0] * s->geom.dim[1] * s->geom.dim[2];
    const int64_t tp = nab, fn = na - nab, fp = nb - nab;
    ps_overlap_metrics_(tp, fp, fn, nvox - tp - fp - fn, voxel_ml, &s->opt, out);
    if (ps_status_and_empty_(na, nb, &s->opt, &s->geom, out))
        return 0;
    int rc = 0;
    ps_dirlist l[4] = {{0}};
    int64_t cmax = s->c.g[2] > s->c.d[2] ? s->c.g[2] : s->c.d[2];
    int64_t *cnt = ps_malloc_array((size_t)cmax, sizeof *cnt);
    if (!cnt)
        rc = PS_ERR_NOMEM;
    for (int sf = 0; sf <= s->surf && !rc; sf++) {
        double *const *edt = sf ? s->edt_s : s->edt_b;
        if ((rc = ps_dir_gather_(&s->p[a], &s->c, sf, edt[b], s->code_w, cnt, s->nt, &l[2 * sf])))
            break;
        rc = ps_dir_gather_(&s->p[b], &s->c, sf, edt[a], s->code_w, cnt, s->nt, &l[2 * sf + 1]);
    }
    if (!rc)
        rc = ps_lists_metrics_(&l[0], &l[1], s->surf ? &l[2] : NULL, s->surf ? &l[3] : NULL,
                              &s->opt, out);
    free(cnt);
    for (int i = 0; i < 4; i++)
        ps_dirlist_free_(&l[i]);
    if (rc) {
        out->status = PS_CASE_ERROR;
        return ps_error_context(rc, "surface distances of raters %d and %d", a + 1, b + 1);
    }
    return 0;
}

/* The box [lo, hi) clipped to the image (NULL = the image); its voxel count. */
static int64_t clip_box(const ps_rater_set *s, const int64_t *lo, const int64_t *hi,
                        int64_t blo[3], int64_t bhi[3])
{
    int64_t n = 1;
    for (int a = 0; a < 3; a++) {
        blo[a] = lo && lo[a] > 0 ? lo[a] : 0;
        bhi[a] = hi && hi[a] < s->geom.dim[a] ? hi[a] : s->geom.dim[a];
        if (bhi[a] < blo[a])
            bhi[a] = blo[a];
        n *= bhi[a] - blo[a];
    }
    return n;
}

/* Per voxel of crop n box, bins[key] += 1 where key is the count of raters (patterns = 0) or
 * their bit pattern (patterns = 1); the rest of the box adds to bin 0. */
static int voxel_table(const ps_rater_set *s, const int *sub, int nsub, const int64_t *lo,
                       const int64_t *hi, int patterns, int64_t *bins)
{
    const int k = sub ? nsub : s->k;
    const size_t nbins = patterns ? (size_t)1 << k : (size_t)k + 1;
    memset(bins, 0, nbins * sizeof *bins);
    int64_t blo[3], bhi[3];
    const int64_t nbox = clip_box(s, lo, hi, blo, bhi);
    if (!s->any) {
        bins[0] = nbox;
        return 0;
    }
    /* crop n box, in crop coordinates */
    int64_t ilo[3], ihi[3], ninter = 1;
    for (int a = 0; a < 3; a++) {
        ilo[a] = (blo[a] > s->c.lo[a] ? blo[a] : s->c.lo[a]) - s->c.lo[a];
        ihi[a] = (bhi[a] < s->c.lo[a] + s->c.d[a] ? bhi[a] : s->c.lo[a] + s->c.d[a]) - s->c.lo[a];
        if (ihi[a] < ilo[a])
            ihi[a] = ilo[a];
        ninter *= ihi[a] - ilo[a];
    }
    const int nt = s->nt;
    int64_t *part = calloc((size_t)nt * nbins, sizeof *part);
    const uint8_t **mk = ps_malloc_array((size_t)k, sizeof *mk);
    if (!part || !mk) {
        free(part);
        free(mk);
        return PS_ERR_NOMEM;
    }
    for (int r = 0; r < k; r++)
        mk[r] = s->p[sub ? sub[r] : r].mask;
    const int64_t dx = s->c.d[0], dxy = s->c.d[0] * s->c.d[1];
#pragma omp parallel num_threads(nt)
    {
        int tid = 0;
#ifdef _OPENMP
        tid = omp_get_thread_num();
#endif
        int64_t *h = part + (size_t)tid * nbins;
#pragma omp for schedule(static)
        for (int64_t z = ilo[2]; z < ihi[2]; z++)
            for (int64_t y = ilo[1]; y < ihi[1]; y++) {
                int64_t row = z * dxy + y * dx;
                for (int64_t x = ilo[0]; x < ihi[0]; x++) {
                    unsigned key = 0;
                    if (patterns)
                        for (int r = 0; r < k; r++)
                            key |= (unsigned)mk[r][row + x] << r;
                    else
                        for (int r = 0; r < k; r++)
                            key += mk[r][row + x];
                    h[key]++;
                }
            }
    }
    for (int t = 0; t < nt; t++)
        for (size_t i = 0; i < nbins; i++)
            bins[i] += part[(size_t)t * nbins + i];
    bins[0] += nbox - ninter;
    free(part);
    free(mk);
    return 0;
}

static int check_subset(const ps_rater_set *s, const int *sub, int nsub)
{
    if (!sub)
        return 0;
    if (nsub < 1)
        return ps_error(PS_ERR_ARG, "empty rater subset");
    for (int i = 0; i < nsub; i++)
        if (sub[i] < 0 || sub[i] >= s->k)
            return ps_error(PS_ERR_ARG, "rater index %d out of range", sub[i]);
    return 0;
}

int ps_rater_set_histogram(const ps_rater_set *s, const int *sub, int nsub, const int64_t lo[3],
                           const int64_t hi[3], int64_t *hist)
{
    if (!s || !hist)
        return ps_error(PS_ERR_ARG, "ps_rater_set_histogram: NULL argument");
    int rc = check_subset(s, sub, nsub);
    if (rc)
        return rc;
    rc = voxel_table(s, sub, nsub, lo, hi, 0, hist);
    return rc ? ps_error_context(rc, "voxel agreement table") : 0;
}

int ps_rater_set_patterns(const ps_rater_set *s, const int *sub, int nsub, const int64_t lo[3],
                          const int64_t hi[3], int64_t *counts)
{
    if (!s || !counts)
        return ps_error(PS_ERR_ARG, "ps_rater_set_patterns: NULL argument");
    int rc = check_subset(s, sub, nsub);
    if (rc)
        return rc;
    if ((sub ? nsub : s->k) > PS_RATERS_PATTERN_MAX)
        return ps_error(PS_ERR_ARG, "%d raters: rating patterns need at most %d", s->k,
                        PS_RATERS_PATTERN_MAX);
    rc = voxel_table(s, sub, nsub, lo, hi, 1, counts);
    return rc ? ps_error_context(rc, "voxel rating patterns") : 0;
}

int ps_rater_set_paint(const ps_rater_set *s, const uint8_t *in_of_pattern, int32_t label,
                       ps_volume *out)
{
    if (!s || !in_of_pattern || !out || out->dtype != PS_DT_INT32 || !out->data)
        return ps_error(PS_ERR_ARG, "ps_rater_set_paint: NULL argument or not an int32 volume");
    if (s->k > PS_RATERS_PATTERN_MAX)
        return ps_error(PS_ERR_ARG, "%d raters: rating patterns need at most %d", s->k,
                        PS_RATERS_PATTERN_MAX);
    for (int a = 0; a < 3; a++)
        if (out->geom.dim[a] != s->geom.dim[a])
            return ps_error(PS_ERR_GEOMETRY, "ps_rater_set_paint: output grid differs");
    if (in_of_pattern[0])
        return ps_error(PS_ERR_NUMERIC, "the consensus would hold the voxels that no rater "
                                        "labelled (the whole background)");
    int32_t *o = out->data;
    const int64_t *dim = s->geom.dim;
    if (!s->any)
        return 0;
    const int k = s->k;
    const int64_t dx = s->c.d[0], dxy = s->c.d[0] * s->c.d[1];
#pragma omp parallel for num_threads(s->nt) schedule(static)
    for (int64_t z = 0; z < s->c.d[2]; z++)
        for (int64_t y = 0; y < s->c.d[1]; y++)
            for (int64_t x = 0; x < s->c.d[0]; x++) {
                int64_t cv = z * dxy + y * dx + x;
                unsigned key = 0;
                for (int r = 0; r < k; r++)
                    key |= (unsigned)s->p[r].mask[cv] << r;
                if (in_of_pattern[key]) {
                    int64_t v = ((s->c.lo[2] + z) * dim[1] + (s->c.lo[1] + y)) * dim[0] +
                                s->c.lo[0] + x;
                    o[v] = label;
                }
            }
    return 0;
}
