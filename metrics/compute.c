/* compute.c - ps_metrics_compute: overlap, volumes, kappa and surface distances of one case.
 *
 * Outline (one case, one region):
 *  1. One pass over both label maps, parallel over k-slices: per row, the region membership of
 *     each voxel is written to two small row buffers (vectorisable compares), then counted;
 *     rows that hold any mask voxel also extend the union bounding box. Counts are integers,
 *     so combining the per-thread partials cannot depend on the thread count.
 *  2. Overlap metrics from (tp, fp, fn, tn) and the voxel volume.
 *  3. Distances work in a crop: the union bounding box grown by one voxel and clipped to the
 *     image. Everything outside the crop is background, so the boundary of a mask computed in
 *     the crop equals the boundary in the full image (a voxel on the image edge has a
 *     neighbour outside the image = background, exactly as a voxel on the crop edge), and the
 *     nearest boundary voxel of the other mask always lies inside the crop. The crop changes
 *     no result; it only bounds the work by the size of the structures.
 *  4. Boundary voxels (6-neighbourhood), one EDT per direction, directed distance lists in
 *     voxel order (deterministic), then every distance metric from those lists. The surfel
 *     lists of the DeepMind method are built only when that method is selected.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>
#ifdef _OPENMP
#include <omp.h>
#endif

#include "metrics_internal.h"

/* ---- region membership ----------------------------------------------------------------------- */
enum { MB_U8_RANGE, MB_U8_LUT, MB_I32_RANGE, MB_I32_LIST };


void ps_member_init_(ps_member *m, const ps_volume *v, const ps_region *r)
{
    memset(m, 0, sizeof *m);
    m->data = v->data;
    m->region = r;
    int consecutive = 1;
    for (int k = 1; k < r->n; k++)
        consecutive &= r->labels[k] == r->labels[k - 1] + 1; /* labels are sorted, distinct */
    m->lo = r->labels[0];
    m->width = (uint32_t)(r->labels[r->n - 1] - r->labels[0]);
    if (v->dtype == PS_DT_UINT8) {
        for (int k = 0; k < r->n; k++)
            if (r->labels[k] < 256)
                m->lut[r->labels[k]] = 1;
        m->kind = consecutive && r->labels[r->n - 1] < 256 ? MB_U8_RANGE : MB_U8_LUT;
    } else {
        m->kind = consecutive ? MB_I32_RANGE : MB_I32_LIST;
    }
}

/* out[0..n) = 1 where voxel off+i is in the region, else 0. */
static void member_row(const ps_member *m, int64_t off, int64_t n, uint8_t *restrict out)
{
    switch (m->kind) {
    case MB_U8_RANGE: {
        const uint8_t *restrict p = (const uint8_t *)m->data + off;
        const uint8_t lo = (uint8_t)m->lo, w = (uint8_t)m->width;
        for (int64_t i = 0; i < n; i++)
            out[i] = (uint8_t)(p[i] - lo) <= w;
        break;
    }
    case MB_U8_LUT: {
        const uint8_t *restrict p = (const uint8_t *)m->data + off;
        for (int64_t i = 0; i < n; i++)
            out[i] = m->lut[p[i]];
        break;
    }
    case MB_I32_RANGE: {
        const int32_t *restrict p = (const int32_t *)m->data + off;
        const uint32_t lo = (uint32_t)m->lo, w = m->width;
        for (int64_t i = 0; i < n; i++)
            out[i] = (uint32_t)p[i] - lo <= w;
        break;
    }
    default: {
        const int32_t *restrict p = (const int32_t *)m->data + off;
        for (int64_t i = 0; i < n; i++) {
            uint8_t in = 0;
            for (int k = 0; k < m->region->n; k++)
                in |= p[i] == m->region->labels[k];
            out[i] = in;
        }
        break;
    }
    }
}

/* Whether row [off, off+n) of a label map holds any non-zero voxel. Region labels are >= 1, so
 * an all-zero row holds no mask voxel; in a CT-sized case nearly every row is all zero, and
 * this OR over 8-byte words (memory-bound) lets the count pass skip it. */
static int row_any_nonzero(const ps_volume *v, int64_t off, int64_t n)
{
    size_t esz = v->dtype == PS_DT_UINT8 ? 1 : 4;
    const unsigned char *p = (const unsigned char *)v->data + (size_t)off * esz;
    size_t bytes = (size_t)n * esz, i = 0;
    uint64_t acc = 0;
    for (; i + 32 <= bytes; i += 32) {
        uint64_t w[4];
        memcpy(w, p + i, sizeof w);
        acc |= w[0] | w[1] | w[2] | w[3];
    }
    for (; i < bytes; i++)
        acc |= p[i];
    return acc != 0;
}

/* ---- pass 1: counts and the union bounding box ------------------------------------------------ */

/* Rows outside [jlo, jhi) x [klo, khi) are known to be zero in both volumes. */
int ps_scan_counts_(const ps_volume *va, const ps_volume *vb, const ps_member *ma,
                       const ps_member *mb, const int64_t dim[3], const int64_t box_lo[3],
                       const int64_t box_hi[3], int nt, ps_scan_result *res)
{
    const int64_t nx = dim[0], ny = dim[1], nz = dim[2];
    const int64_t jlo = box_lo[1], jhi = box_hi[1], klo = box_lo[2], khi = box_hi[2];
    const ps_scan_result empty = {0, 0, 0, {nx, ny, nz}, {0, 0, 0}};
    ps_scan_result *part = ps_malloc_array((size_t)nt, sizeof *part);
    uint8_t *rows = ps_malloc_array((size_t)nt, (size_t)(2 * nx));
    if (!part || !rows) {
        free(part);
        free(rows);
        return PS_ERR_NOMEM;
    }
    /* The team may be smaller than nt (nested inside a parallel loop over cases, or a thread
     * limit): slots of threads that never run must hold the neutral element. */
    for (int t = 0; t < nt; t++)
        part[t] = empty;
#pragma omp parallel num_threads(nt)
    {
        int tid = 0;
#ifdef _OPENMP
        tid = omp_get_thread_num();
#endif
        ps_scan_result acc = empty;
        uint8_t *ra = rows + (size_t)tid * (size_t)(2 * nx), *rb = ra + nx;
#pragma omp for schedule(static)
        for (int64_t k = klo; k < khi; k++) {
            for (int64_t j = jlo; j < jhi; j++) {
                int64_t off = (k * ny + j) * nx;
                if (!row_any_nonzero(va, off, nx) && !row_any_nonzero(vb, off, nx))
                    continue;
                member_row(ma, off, nx, ra);
                member_row(mb, off, nx, rb);
                uint32_t ca = 0, cb = 0, cab = 0;
                for (int64_t i = 0; i < nx; i++) {
                    ca += ra[i];
                    cb += rb[i];
                    cab += ra[i] & rb[i];
                }
                if (ca + cb == 0)
                    continue;
                acc.na += ca;
                acc.nb += cb;
                acc.nab += cab;
                int64_t first = 0, last = nx - 1;
                while (!(ra[first] | rb[first]))
                    first++;
                while (!(ra[last] | rb[last]))
                    last--;
                if (first < acc.lo[0]) acc.lo[0] = first;
                if (last + 1 > acc.hi[0]) acc.hi[0] = last + 1;
                if (j < acc.lo[1]) acc.lo[1] = j;
                if (j + 1 > acc.hi[1]) acc.hi[1] = j + 1;
                if (k < acc.lo[2]) acc.lo[2] = k;
                if (k + 1 > acc.hi[2]) acc.hi[2] = k + 1;
            }
        }
        part[tid] = acc;
    }
    ps_scan_result r = empty;
    for (int t = 0; t < nt; t++) {
        r.na += part[t].na;
        r.nb += part[t].nb;
        r.nab += part[t].nab;
        for (int a = 0; a < 3; a++) {
            if (part[t].lo[a] < r.lo[a]) r.lo[a] = part[t].lo[a];
            if (part[t].hi[a] > r.hi[a]) r.hi[a] = part[t].hi[a];
        }
    }
    free(part);
    free(rows);
    *res = r;
    return 0;
}

/* ---- overlap ---------------------------------------------------------------------------------- */
static double ratio(double num, double den)
{
    return den > 0 ? num / den : NAN;
}

void ps_overlap_metrics_(int64_t tp, int64_t fp, int64_t fn, int64_t tn, double voxel_ml,
                            const ps_metrics_options *opt, ps_case_metrics *out)
{
    double TP = (double)tp, FP = (double)fp, FN = (double)fn, TN = (double)tn;
    out->tp = tp;
    out->fp = fp;
    out->fn = fn;
    out->tn = tn;
    int both_empty = tp + fp + fn == 0;
    double empty_value = opt->empty_dice == PS_EMPTY_DICE_ONE ? 1.0 : NAN;
    out->dice = both_empty ? empty_value : 2 * TP / (2 * TP + FP + FN);
    out->jaccard = both_empty ? empty_value : TP / (TP + FP + FN);
    /* Same denominator as Dice, and two empty masks have equal volumes. */
    out->volume_similarity = both_empty ? empty_value : 1.0 - fabs(FN - FP) / (2 * TP + FP + FN);
    out->sensitivity = ratio(TP, TP + FN);
    out->specificity = ratio(TN, TN + FP);
    out->precision = ratio(TP, TP + FP);
    out->vol_ref_ml = (TP + FN) * voxel_ml;
    out->vol_pred_ml = (TP + FP) * voxel_ml;
    out->vol_diff_ml = (FP - FN) * voxel_ml;
    out->rel_vol_diff = tp + fn > 0 ? (FP - FN) / (TP + FN) : NAN;
    /* Cohen's kappa of the 2x2 table: (po - pe) / (1 - pe) simplifies to
     * 2 (tp tn - fn fp) / ((tp + fp)(fp + tn) + (tp + fn)(fn + tn)), which avoids the
     * cancellation of 1 - pe near 1. NaN when the denominator is 0 (both raters constant:
     * sklearn.metrics.cohen_kappa_score is 0/0 there as well). */
    out->kappa = ps_kappa_2x2(tp, fp, fn, tn);
}

double ps_kappa_2x2(int64_t tp, int64_t fp, int64_t fn, int64_t tn)
{
    double TP = (double)tp, FP = (double)fp, FN = (double)fn, TN = (double)tn;
    double kden = (TP + FP) * (FP + TN) + (TP + FN) * (FN + TN);
    return kden > 0 ? 2.0 * (TP * TN - FN * FP) / kden : NAN;
}

void ps_set_distances_(ps_case_metrics *out, double v, double nsd)
{
    out->hd = out->hd95 = out->hd95_pred_to_ref = out->hd95_ref_to_pred = v;
    out->assd = out->masd = v;
    out->nsd = nsd;
}

/* ---- crop, boundary, gathering ------------------------------------------------------------------ */

/* The box [lo, hi) of mask voxels grown by one voxel and clipped to the image. */
void ps_crop_init_(ps_crop *c, const int64_t lo[3], const int64_t hi[3], const int64_t dim[3])
{
    c->flat = ps_flat_axis_(dim);
    for (int a = 0; a < 3; a++) {
        c->lo[a] = lo[a] > 0 ? lo[a] - 1 : 0;
        int64_t h = hi[a] < dim[a] ? hi[a] + 1 : dim[a];
        c->d[a] = h - c->lo[a];
        c->g[a] = c->d[a] + (a != c->flat);
    }
    c->n = c->d[0] * c->d[1] * c->d[2];
    c->gn = c->g[0] * c->g[1] * c->g[2];
}

static void fill_crop_mask(const ps_member *m, const int64_t dim[3], const ps_crop *c, uint8_t *mask,
                           int nt)
{
#pragma omp parallel for num_threads(nt) schedule(static)
    for (int64_t z = 0; z < c->d[2]; z++)
        for (int64_t y = 0; y < c->d[1]; y++) {
            int64_t off = ((c->lo[2] + z) * dim[1] + (c->lo[1] + y)) * dim[0] + c->lo[0];
            member_row(m, off, c->d[0], mask + (z * c->d[1] + y) * c->d[0]);
        }
}

/* b = mask voxels with a 6-neighbour outside the mask (outside the grid counts as outside). */
static void boundary_6(const uint8_t *m, const int64_t d[3], uint8_t *b, int nt)
{
    const int64_t nx = d[0], ny = d[1], nz = d[2], nxy = nx * ny;
#pragma omp parallel for num_threads(nt) schedule(static)
    for (int64_t z = 0; z < nz; z++)
        for (int64_t y = 0; y < ny; y++) {
            int64_t row = z * nxy + y * nx;
            int edge_yz = y == 0 || y == ny - 1 || z == 0 || z == nz - 1;
            for (int64_t x = 0; x < nx; x++) {
                int64_t v = row + x;
                if (!m[v]) {
                    b[v] = 0;
                    continue;
                }
                if (edge_yz || x == 0 || x == nx - 1) {
                    b[v] = 1;
                    continue;
                }
                b[v] = !(m[v - 1] & m[v + 1] & m[v - nx] & m[v + nx] & m[v - nxy] & m[v + nxy]);
            }
        }
}

/* 2D images (one axis of length 1, see ps_flat_axis_): b = mask voxels with an in-plane
 * 4-neighbour outside the mask (MedPy's and MONAI's erosion with the 2D cross). The flat axis
 * has no neighbours, so it never makes a voxel boundary. */
static void boundary_plane(const uint8_t *m, const int64_t d[3], int flat, uint8_t *b, int nt)
{
    const int64_t stride[3] = {1, d[0], d[0] * d[1]};
#pragma omp parallel for num_threads(nt) schedule(static)
    for (int64_t z = 0; z < d[2]; z++)
        for (int64_t y = 0; y < d[1]; y++)
            for (int64_t x = 0; x < d[0]; x++) {
                const int64_t c[3] = {x, y, z};
                int64_t v = x + y * stride[1] + z * stride[2];
                int bnd = 0;
                if (m[v])
                    for (int a = 0; a < 3 && !bnd; a++) {
                        if (a == flat)
                            continue;
                        bnd = c[a] == 0 || c[a] == d[a] - 1 || !m[v - stride[a]] ||
                              !m[v + stride[a]];
                    }
                b[v] = (uint8_t)bnd;
            }
}

/* Count of sel per z-slice into cnt[0..nz) and the total. */
static int64_t count_slices(const uint8_t *sel, const int64_t d[3], int64_t *cnt, int nt)
{
    const int64_t nxy = d[0] * d[1];
#pragma omp parallel for num_threads(nt) schedule(static)
    for (int64_t z = 0; z < d[2]; z++) {
        int64_t c = 0;
        for (int64_t v = 0; v < nxy; v++)
            c += sel[z * nxy + v];
        cnt[z] = c;
    }
    int64_t total = 0;
    for (int64_t z = 0; z < d[2]; z++)
        total += cnt[z];
    return total;
}

/* For every v with sel[v] (in voxel order): dist[m] = sqrt(edt_sq[v]) and, for surfels,
 * w[m] = code_area[code[v]]. Slice offsets come from cnt (prefix sums), so the order is fixed. */
static void gather(const uint8_t *sel, const int64_t d[3], const int64_t *cnt,
                   const double *edt_sq, const uint8_t *code, const double *code_area,
                   double *dist, double *w, int nt)
{
    const int64_t nxy = d[0] * d[1];
#pragma omp parallel for num_threads(nt) schedule(static)
    for (int64_t z = 0; z < d[2]; z++) {
        int64_t m = 0;
        for (int64_t zz = 0; zz < z; zz++)
            m += cnt[zz];
        for (int64_t v = z * nxy; v < (z + 1) * nxy; v++)
            if (sel[v]) {
                dist[m] = sqrt(edt_sq[v]);
                if (code)
                    w[m] = code_area[code[v]];
                m++;
            }
    }
}

/* ---- surface-distance lists ------------------------------------------------------------------ */

void ps_dirlist_free_(ps_dirlist *l)
{
    free(l->d);
    free(l->w);
    l->d = l->w = NULL;
}

/* Sum in a fixed order (the list order). */
static double sum_list(const double *x, int64_t n)
{
    double s = 0;
    for (int64_t i = 0; i < n; i++)
        s += x[i];
    return s;
}

static double max_list(const double *x, int64_t n)
{
    double m = 0;
    for (int64_t i = 0; i < n; i++)
        if (x[i] > m)
            m = x[i];
    return m;
}

static int64_t count_within(const double *x, int64_t n, double tol)
{
    int64_t c = 0;
    for (int64_t i = 0; i < n; i++)
        c += x[i] <= tol;
    return c;
}

static double area_within(const double *x, const double *w, int64_t n, double tol)
{
    double s = 0;
    for (int64_t i = 0; i < n; i++)
        if (x[i] <= tol)
            s += w[i];
    return s;
}

/* Voxel-list percentiles (medpy, monai, plastimatch). `tmp` holds na + nb doubles. */
static void voxel_percentiles(const ps_dirlist *ab, const ps_dirlist *ba, const ps_metrics_options *o,
                              double *tmp, ps_case_metrics *out)
{
    const double q = o->percentile;
    double ref_to_pred, pred_to_ref;
    if (o->hd_method == PS_HD_PLASTIMATCH) {
        memcpy(tmp, ab->d, (size_t)ab->n * sizeof *tmp);
        ref_to_pred = ps_percentile_plastimatch(tmp, ab->n, q);
        memcpy(tmp, ba->d, (size_t)ba->n * sizeof *tmp);
        pred_to_ref = ps_percentile_plastimatch(tmp, ba->n, q);
        out->hd95 = 0.5 * (ref_to_pred + pred_to_ref);
    } else {
        memcpy(tmp, ab->d, (size_t)ab->n * sizeof *tmp);
        ref_to_pred = ps_percentile_linear(tmp, ab->n, q);
        memcpy(tmp, ba->d, (size_t)ba->n * sizeof *tmp);
        pred_to_ref = ps_percentile_linear(tmp, ba->n, q);
        if (o->hd_method == PS_HD_MONAI) {
            out->hd95 = fmax(ref_to_pred, pred_to_ref);
        } else { /* medpy: pooled distances of both directions */
            memcpy(tmp, ab->d, (size_t)ab->n * sizeof *tmp);
            memcpy(tmp + ab->n, ba->d, (size_t)ba->n * sizeof *tmp);
            out->hd95 = ps_percentile_linear(tmp, ab->n + ba->n, q);
        }
    }
    out->hd95_ref_to_pred = ref_to_pred;
    out->hd95_pred_to_ref = pred_to_ref;
}

/* ---- per-mask pieces and pair distances -------------------------------------------------------- */
/* What one mask contributes to every pair it is part of, on a shared crop: its region mask,
 * boundary flags and, for the surfel methods, its corner-grid codes and surfel flags. The
 * distance transforms of the boundary (and surfel) flags are computed from these once per
 * mask; a directed list A -> B reads B's transform at A's flags. */

void ps_piece_free_(ps_piece *p)
{
    free(p->mask);
    free(p->bnd);
    free(p->surf);
    free(p->code);
    memset(p, 0, sizeof *p);
}

int ps_piece_build_(const ps_member *m, const int64_t dim[3], const ps_crop *c, int surfels, int nt,
                       ps_piece *p)
{
    memset(p, 0, sizeof *p);
    p->mask = ps_malloc((size_t)c->n);
    p->bnd = ps_malloc((size_t)c->n);
    if (surfels) {
        p->surf = ps_malloc((size_t)c->gn);
        p->code = ps_malloc((size_t)c->gn);
    }
    if (!p->mask || !p->bnd || (surfels && (!p->surf || !p->code))) {
        ps_piece_free_(p);
        return PS_ERR_NOMEM;
    }
    fill_crop_mask(m, dim, c, p->mask, nt);
    if (c->flat >= 0)
        boundary_plane(p->mask, c->d, c->flat, p->bnd, nt);
    else
        boundary_6(p->mask, c->d, p->bnd, nt);
    if (surfels) {
        if (c->flat >= 0)
            ps_surfel_grid_plane_(p->mask, c->d, c->flat, p->surf, p->code, nt);
        else
            ps_surfel_grid(p->mask, c->d, p->surf, p->code, nt);
    }
    return 0;
}

/* Surfel weight of each code: marching-cubes area (3D) or contour length (2D), in mm^2 / mm. */
void ps_code_weights_(const ps_crop *c, const double sp[3], double w[256])
{
    for (int code = 0; code < 256; code++)
        w[code] = 0;
    if (c->flat < 0) {
        for (int code = 0; code < 256; code++)
            w[code] = ps_surfel_code_area(code, sp);
    } else {
        int p = c->flat == 0 ? 1 : 0, q = c->flat == 2 ? 1 : 2;
        for (int code = 0; code < 16; code++)
            w[code] = ps_surfel_code_length_(code, sp[p], sp[q]);
    }
}

/* The EDT of a piece's boundary flags (crop grid) or surfel flags (corner grid). */
int ps_piece_edt_(const ps_piece *p, const ps_crop *c, const double sp[3], int surfels,
                     double *edt, const ps_context *tctx)
{
    if (surfels)
        return ps_edt_sq_at(p->surf, c->g, sp, c->lo, edt, tctx);
    return ps_edt_sq_at(p->bnd, c->d, sp, c->lo, edt, tctx);
}

int ps_piece_edt_for_(const ps_piece *p, const ps_piece *query, const ps_crop *c,
                      const double sp[3], int surfels, double *edt, const ps_context *tctx)
{
    if (surfels)
        return ps_edt_sq_query_(p->surf, c->g, sp, c->lo, query->surf, edt, tctx);
    return ps_edt_sq_query_(p->bnd, c->d, sp, c->lo, query->bnd, edt, tctx);
}

/* d(src -> other): `edt_other` read at the flags of src, in voxel order. */
int ps_dir_gather_(const ps_piece *src, const ps_crop *c, int surfels, const double *edt_other,
                      const double *code_w, int64_t *cnt, int nt, ps_dirlist *l)
{
    const uint8_t *sel = surfels ? src->surf : src->bnd;
    const int64_t *g = surfels ? c->g : c->d;
    l->n = count_slices(sel, g, cnt, nt);
    l->d = ps_malloc_array((size_t)(l->n ? l->n : 1), sizeof(double));
    if (!l->d)
        return PS_ERR_NOMEM;
    if (surfels && !(l->w = ps_malloc_array((size_t)(l->n ? l->n : 1), sizeof(double))))
        return PS_ERR_NOMEM;
    gather(sel, g, cnt, edt_other, surfels ? src->code : NULL, code_w, l->d, l->w, nt);
    return 0;
}

/* Every distance metric of a pair from its directed lists: voxel lists vab (A -> B) and vba,
 * and the surfel lists sab, sba when the options need surfels (else NULL). */
int ps_lists_metrics_(const ps_dirlist *ab, const ps_dirlist *ba, const ps_dirlist *sab,
                         const ps_dirlist *sba, const ps_metrics_options *o, ps_case_metrics *out)
{
    double s_ab = sum_list(ab->d, ab->n), s_ba = sum_list(ba->d, ba->n);
    out->hd = fmax(max_list(ab->d, ab->n), max_list(ba->d, ba->n));
    out->assd = (s_ab + s_ba) / (double)(ab->n + ba->n);
    out->masd = 0.5 * (s_ab / (double)ab->n + s_ba / (double)ba->n);
    out->nsd = (double)(count_within(ab->d, ab->n, o->nsd_tol_mm) +
                        count_within(ba->d, ba->n, o->nsd_tol_mm)) /
               (double)(ab->n + ba->n);
    double *tmp = ps_malloc_array((size_t)(ab->n + ba->n), sizeof(double));
    if (!tmp)
        return PS_ERR_NOMEM;
    if (o->hd_method != PS_HD_DEEPMIND)
        voxel_percentiles(ab, ba, o, tmp, out);
    free(tmp);
    if (!sab)
        return 0;
    if (o->nsd_method == PS_NSD_SURFEL) {
        /* DeepMind compute_surface_dice_at_tolerance. */
        double num = area_within(sab->d, sab->w, sab->n, o->nsd_tol_mm) +
                     area_within(sba->d, sba->w, sba->n, o->nsd_tol_mm);
        double den = sum_list(sab->w, sab->n) + sum_list(sba->w, sba->n);
        out->nsd = num / den;
    }
    if (o->hd_method == PS_HD_DEEPMIND) {
        /* the weighted percentile sorts the lists in place: work on copies */
        int rc = 0;
        double r2p = NAN, p2r = NAN;
        ps_dirlist c[2] = {{0}};
        const ps_dirlist *src[2] = {sab, sba};
        for (int k = 0; k < 2 && !rc; k++) {
            size_t n = (size_t)(src[k]->n ? src[k]->n : 1);
            c[k].d = ps_malloc_array(n, sizeof(double));
            c[k].w = ps_malloc_array(n, sizeof(double));
            if (!c[k].d || !c[k].w) {
                rc = PS_ERR_NOMEM;
                break;
            }
            memcpy(c[k].d, src[k]->d, (size_t)src[k]->n * sizeof(double));
            memcpy(c[k].w, src[k]->w, (size_t)src[k]->n * sizeof(double));
        }
        if (!rc)
            rc = ps_percentile_weighted_first(c[0].d, c[0].w, sab->n, o->percentile, &r2p);
        if (!rc)
            rc = ps_percentile_weighted_first(c[1].d, c[1].w, sba->n, o->percentile, &p2r);
        ps_dirlist_free_(&c[0]);
        ps_dirlist_free_(&c[1]);
        if (rc)
            return rc;
        out->hd95_ref_to_pred = r2p;
        out->hd95_pred_to_ref = p2r;
        out->hd95 = fmax(r2p, p2r);
    }
    return 0;
}

int ps_need_surfels_(const ps_metrics_options *o)
{
    return o->hd_method == PS_HD_DEEPMIND || o->nsd_method == PS_NSD_SURFEL;
}

/* Distances of one pair: one EDT buffer, reused for the four transforms (voxel A, voxel B and,
 * for the surfel methods, surfel A and surfel B). */
static int distance_metrics(const ps_member *ma, const ps_member *mb, const ps_geometry *geom,
                            const ps_scan_result *s, const ps_metrics_options *o, int nt,
                            ps_case_metrics *out)
{
    ps_crop c;
    ps_crop_init_(&c, s->lo, s->hi, geom->dim);
    const int surf = ps_need_surfels_(o);
    const double *sp = geom->spacing_mm;
    ps_context tctx;
    ps_context_init(&tctx);
    tctx.threads = nt;
    tctx.progress = 0;
    ps_piece pa = {0}, pb = {0};
    ps_dirlist l[4] = {{0}}; /* vab, vba, sab, sba */
    double code_w[256];
    ps_code_weights_(&c, sp, code_w);
    int64_t cmax = c.g[2] > c.d[2] ? c.g[2] : c.d[2];
    double *edt = ps_malloc_array((size_t)(surf && c.gn > c.n ? c.gn : c.n), sizeof(double));
    int64_t *cnt = ps_malloc_array((size_t)cmax, sizeof(int64_t));
    int rc = PS_ERR_NOMEM;
    if (!edt || !cnt)
        goto done;
    if ((rc = ps_piece_build_(ma, geom->dim, &c, surf, nt, &pa)) ||
        (rc = ps_piece_build_(mb, geom->dim, &c, surf, nt, &pb)))
        goto done;
    for (int sf = 0; sf <= surf; sf++) {
        if ((rc = ps_piece_edt_for_(&pb, &pa, &c, sp, sf, edt, &tctx)) ||
            (rc = ps_dir_gather_(&pa, &c, sf, edt, code_w, cnt, nt, &l[2 * sf])) ||
            (rc = ps_piece_edt_for_(&pa, &pb, &c, sp, sf, edt, &tctx)) ||
            (rc = ps_dir_gather_(&pb, &c, sf, edt, code_w, cnt, nt, &l[2 * sf + 1])))
            goto done;
    }
    rc = ps_lists_metrics_(&l[0], &l[1], surf ? &l[2] : NULL, surf ? &l[3] : NULL, o, out);
done:
    free(edt);
    free(cnt);
    ps_piece_free_(&pa);
    ps_piece_free_(&pb);
    for (int k = 0; k < 4; k++)
        ps_dirlist_free_(&l[k]);
    return rc;
}

/* ---- entry point -------------------------------------------------------------------------------- */
int ps_check_label_volume_(const ps_volume *v, const char *role)
{
    const char *name = v->path ? v->path : role;
    if (v->dtype != PS_DT_UINT8 && v->dtype != PS_DT_INT32)
        return ps_error(PS_ERR_UNSUPPORTED,
                        "%s: label maps must be uint8 or int32 (read with "
                        "ps_volume_read_labels), not %s", name, ps_dtype_name(v->dtype));
    if (v->nc != 1)
        return ps_error(PS_ERR_UNSUPPORTED, "%s: a label map must be 3D (4th dimension is %lld)",
                        name, (long long)v->nc);
    for (int a = 0; a < 3; a++)
        if (v->geom.dim[a] < 1)
            return ps_error(PS_ERR_FORMAT, "%s: dimension %d is %lld", name, a + 1,
                            (long long)v->geom.dim[a]);
    for (int a = 0; a < 3; a++)
        if (!(v->geom.spacing_mm[a] > 0) || !isfinite(v->geom.spacing_mm[a]))
            return ps_error(PS_ERR_FORMAT, "%s: voxel spacing pixdim[%d] = %g (must be > 0)",
                            name, a + 1, v->geom.spacing_mm[a]);
    if (!v->data)
        return ps_error(PS_ERR_ARG, "%s: volume has no voxel data", name);
    return 0;
}

int ps_flat_axis_(const int64_t dim[3])
{
    int flat = -1, n = 0;
    for (int a = 0; a < 3; a++)
        if (dim[a] == 1) {
            flat = a;
            n++;
        }
    return n == 1 ? flat : -1;
}

/* Region and option ranges, shared with the rater set (raters.c). */
/* Status from the two mask sizes; for an empty mask (or distances off) the distance columns
 * by the empty policy. Returns 1 when the distances are settled, 0 when they must be computed. */
int ps_status_and_empty_(int64_t na, int64_t nb, const ps_metrics_options *opt,
                        const ps_geometry *geom, ps_case_metrics *out)
{
    if (na == 0 && nb == 0)
        out->status = PS_CASE_BOTH_EMPTY;
    else if (na == 0)
        out->status = PS_CASE_REF_EMPTY;
    else if (nb == 0)
        out->status = PS_CASE_PRED_EMPTY;
    else
        out->status = PS_CASE_OK;

    if (!opt->distances || out->status == PS_CASE_BOTH_EMPTY)
        return 1; /* distances stay NaN */
    if (out->status != PS_CASE_OK) {
        switch (opt->empty) {
        case PS_EMPTY_INF:
            ps_set_distances_(out, INFINITY, 0.0);
            break;
        case PS_EMPTY_WORST:
            ps_set_distances_(out, ps_geometry_diagonal_mm(geom), 0.0);
            break;
        default:
            break; /* NaN */
        }
        return 1;
    }
    return 0;
}

int ps_metrics_args_check_(const ps_region *region, const ps_metrics_options *opt)
{
    if (region->n < 1 || region->n > PS_REGION_MAX)
        return ps_error(PS_ERR_ARG, "region has %d labels (must be 1..%d)", region->n,
                        PS_REGION_MAX);
    for (int k = 0; k < region->n; k++)
        if (region->labels[k] < 1 || (k && region->labels[k] <= region->labels[k - 1]))
            return ps_error(PS_ERR_ARG, "region labels must be positive, sorted and distinct "
                                        "(use ps_region_parse)");
    if (!(opt->percentile >= 0 && opt->percentile <= 100))
        return ps_error(PS_ERR_ARG, "percentile %g is outside [0, 100]", opt->percentile);
    if (!(opt->nsd_tol_mm >= 0) || isinf(opt->nsd_tol_mm))
        return ps_error(PS_ERR_ARG, "NSD tolerance %g mm must be finite and >= 0",
                        opt->nsd_tol_mm);
    if ((unsigned)opt->hd_method > PS_HD_PLASTIMATCH || (unsigned)opt->nsd_method > PS_NSD_SURFEL ||
        (unsigned)opt->empty > PS_EMPTY_WORST || (unsigned)opt->empty_dice > PS_EMPTY_DICE_NAN)
        return ps_error(PS_ERR_ARG, "invalid metric option value");
    return 0;
}

int ps_metrics_compute(const ps_volume *ref, const ps_volume *pred, const ps_region *region,
                       const ps_metrics_options *opt, const ps_context *ctx,
                       ps_case_metrics *out)
{
    return ps_metrics_compute_box(ref, pred, region, opt, ctx, NULL, NULL, out);
}

int ps_metrics_compute_box(const ps_volume *ref, const ps_volume *pred, const ps_region *region,
                           const ps_metrics_options *opt, const ps_context *ctx,
                           const int64_t lo[3], const int64_t hi[3], ps_case_metrics *out)
{
    int rc;
    if (!ref || !pred || !region || !out)
        return ps_error(PS_ERR_ARG, "ps_metrics_compute: NULL argument");
    memset(out, 0, sizeof *out);
    out->status = PS_CASE_ERROR;
    ps_set_distances_(out, NAN, NAN);
    ps_metrics_options defaults;
    if (!opt) {
        ps_metrics_options_init(&defaults);
        opt = &defaults;
    }
    if ((rc = ps_metrics_args_check_(region, opt)))
        return rc;
    if ((rc = ps_check_label_volume_(ref, "reference")) || (rc = ps_check_label_volume_(pred, "prediction")))
        return rc;
    if ((rc = ps_geometry_check_same(&ref->geom, ref->path ? ref->path : "reference",
                                     &pred->geom, pred->path ? pred->path : "prediction")))
        return rc;

    int nt = ps_context_threads(ctx);
    ps_member ma, mb;
    ps_member_init_(&ma, ref, region);
    ps_member_init_(&mb, pred, region);
    /* the count pass visits the caller's box, clipped to the image, or the whole image */
    int64_t box_lo[3] = {0, 0, 0}, box_hi[3];
    for (int a = 0; a < 3; a++) {
        box_hi[a] = ref->geom.dim[a];
        if (lo && hi) {
            box_lo[a] = lo[a] < 0 ? 0 : lo[a];
            box_hi[a] = hi[a] < box_hi[a] ? hi[a] : box_hi[a];
        }
    }
    ps_scan_result s;
    if ((rc = ps_scan_counts_(ref, pred, &ma, &mb, ref->geom.dim, box_lo, box_hi, nt, &s)))
        return ps_error_context(rc, "counting voxels");

    const double *sp = ref->geom.spacing_mm;
    const double voxel_ml = sp[0] * sp[1] * sp[2] / 1000.0;
    const int64_t nvox = ps_volume_nvox(ref);
    int64_t tp = s.nab, fn = s.na - s.nab, fp = s.nb - s.nab;
    ps_overlap_metrics_(tp, fp, fn, nvox - tp - fp - fn, voxel_ml, opt, out);

    if (ps_status_and_empty_(s.na, s.nb, opt, &ref->geom, out))
        return 0;
    if ((rc = distance_metrics(&ma, &mb, &ref->geom, &s, opt, nt, out))) {
        out->status = PS_CASE_ERROR;
        return ps_error_context(rc, "surface distances");
    }
    return 0;
}
