/* slice.c - one axial slice through a case's largest error, with both contours, as RGB pixels;
 * base64 for the data URIs that carry it into the HTML report.
 *
 * Outline:
 * 1. Per slice k (the third voxel axis) count FP (pred and not ref) and FN (ref and not pred)
 *    voxels of the evaluated label; take the k with the most FP + FN (ties: smallest k). With
 *    no error at all, the slice with the most reference voxels (a perfect case still shows).
 * 2. Window: CT uses the abdominal soft-tissue window, level 40 HU and width 400 (grey =
 *    (HU + 160) / 400, clamped); MRI the 1st..99th percentile of the slice's finite
 *    intensities (type-7 quantiles, ps_stats_quantile_sorted).
 * 3. Crop: the bounding box of reference and prediction in the slice, widened by margin_mm
 *    on every side (per axis in voxels: margin_mm / spacing), clamped to the image; with
 *    both masks empty in the slice, the whole slice.
 * 4. Display orientation from the affine (radiological, as axial CT is read): the voxel axis
 *    whose direction is closer to world x runs along the columns, the other along the rows.
 *    NIfTI world coordinates are RAS+ (+x towards the patient's right, +y anterior), so the
 *    columns run towards decreasing x and the rows towards decreasing y: the patient's right
 *    is on the image's left and anterior is at the top.
 * 5. Resampling: output pixels are square, of size s = max(crop width mm, crop height mm) /
 *    size_px; each output pixel shows the voxel under its centre (nearest neighbour), so an
 *    anisotropic in-plane spacing keeps its true aspect.
 * 6. Contours, two pixels thick: the reference contour is drawn on output pixels outside the
 *    reference mask within 2 px (4-neighbourhood steps) of it, the prediction contour on
 *    pixels inside the prediction mask within 2 px of its outside. Where the boundaries
 *    coincide the two lines lie side by side instead of hiding each other.
 */
#include "ps_reports.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

void ps_slice_options_init(ps_slice_options *o)
{
    o->ct = 0;
    o->label = 0;
    o->margin_mm = 20.0;
    o->size_px = 320;
}

void ps_slice_figure_clear(ps_slice_figure *fig)
{
    if (!fig)
        return;
    free(fig->rgb);
    memset(fig, 0, sizeof *fig);
}

/* Label value of voxel v of a label map (uint8 or int32 from ps_volume_read_labels; other
 * integer types are read too). */
static int64_t label_at(const ps_volume *l, int64_t v)
{
    switch (l->dtype) {
    case PS_DT_UINT8: return ((const uint8_t *)l->data)[v];
    case PS_DT_INT8: return ((const int8_t *)l->data)[v];
    case PS_DT_INT16: return ((const int16_t *)l->data)[v];
    case PS_DT_UINT16: return ((const uint16_t *)l->data)[v];
    case PS_DT_INT32: return ((const int32_t *)l->data)[v];
    case PS_DT_UINT32: return ((const uint32_t *)l->data)[v];
    case PS_DT_INT64: return ((const int64_t *)l->data)[v];
    case PS_DT_FLOAT32: return (int64_t)llround(((const float *)l->data)[v]);
    case PS_DT_FLOAT64: return (int64_t)llround(((const double *)l->data)[v]);
    }
    return 0;
}

static double value_at(const ps_volume *im, int64_t v)
{
    double x;
    switch (im->dtype) {
    case PS_DT_FLOAT32: x = ((const float *)im->data)[v]; break;
    case PS_DT_FLOAT64: x = ((const double *)im->data)[v]; break;
    default: x = (double)label_at(im, v); break;
    }
    if (im->scl_slope != 0 && !(im->scl_slope == 1 && im->scl_inter == 0))
        x = x * im->scl_slope + im->scl_inter;
    return x;
}

static int in_label(const ps_volume *l, int64_t v, int64_t label)
{
    int64_t x = label_at(l, v);
    return label > 0 ? x == label : x != 0;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* Mask of output pixels (value bit 0: in ref, bit 1: in pred) -> contour colours. */
static int near_outside(const uint8_t *m, int w, int h, int x, int y, int bit, int want)
{
    /* is some pixel within 2 steps (4-neighbourhood) of (x, y) of membership `want`? Pixels
     * outside the crop count as outside the masks. */
    for (int dy = -2; dy <= 2; dy++)
        for (int dx = -2; dx <= 2; dx++) {
            if (abs(dx) + abs(dy) > 2 || (!dx && !dy))
                continue;
            int xx = x + dx, yy = y + dy;
            int in = xx >= 0 && yy >= 0 && xx < w && yy < h ? (m[(size_t)yy * w + xx] >> bit) & 1 : 0;
            if (in == want)
                return 1;
        }
    return 0;
}

int ps_slice_render(const ps_volume *image, const ps_volume *ref, const ps_volume *pred,
                    const ps_slice_options *o, ps_slice_figure *out)
{
    memset(out, 0, sizeof *out);
    ps_slice_options defaults;
    if (!o) {
        ps_slice_options_init(&defaults);
        o = &defaults;
    }
    int rc;
    if ((rc = ps_geometry_check_same(&ref->geom, ref->path ? ref->path : "reference",
                                     &pred->geom, pred->path ? pred->path : "prediction")) ||
        (rc = ps_geometry_check_same(&image->geom, image->path ? image->path : "image",
                                     &ref->geom, ref->path ? ref->path : "reference")))
        return rc;
    const int64_t nx = image->geom.dim[0], ny = image->geom.dim[1], nz = image->geom.dim[2];
    const int64_t plane = nx * ny;

    /* 1. the slice with the largest error */
    int64_t best_k = 0, best_err = -1, best_ref = -1, fp_best = 0, fn_best = 0;
    int64_t ref_k = 0, ref_most = -1;
    for (int64_t k = 0; k < nz; k++) {
        int64_t fp = 0, fn = 0, nref = 0;
        for (int64_t v = k * plane; v < (k + 1) * plane; v++) {
            int r = in_label(ref, v, o->label), p = in_label(pred, v, o->label);
            fp += p && !r;
            fn += r && !p;
            nref += r;
        }
        if (fp + fn > best_err) {
            best_err = fp + fn;
            best_k = k;
            fp_best = fp;
            fn_best = fn;
            best_ref = nref;
        }
        if (nref > ref_most) {
            ref_most = nref;
            ref_k = k;
        }
    }
    (void)best_ref;
    if (best_err == 0)
        best_k = ref_k;
    const int64_t k = best_k, base = k * plane;

    /* 2. window */
    double wlo, whi;
    if (o->ct) {
        wlo = 40.0 - 200.0;
        whi = 40.0 + 200.0;
    } else {
        double *vals = ps_malloc_array((size_t)plane, sizeof *vals);
        if (!vals)
            return PS_ERR_NOMEM;
        size_t n = 0;
        for (int64_t v = 0; v < plane; v++) {
            double x = value_at(image, base + v);
            if (isfinite(x))
                vals[n++] = x;
        }
        if (n) {
            qsort(vals, n, sizeof *vals, cmp_double);
            wlo = ps_stats_quantile_sorted(vals, n, 0.01);
            whi = ps_stats_quantile_sorted(vals, n, 0.99);
        } else {
            wlo = 0;
            whi = 1;
        }
        free(vals);
    }
    if (!(whi > wlo))
        whi = wlo + 1;

    /* 3. crop */
    int64_t i0 = nx, i1 = -1, j0 = ny, j1 = -1;
    for (int64_t j = 0; j < ny; j++)
        for (int64_t i = 0; i < nx; i++) {
            int64_t v = base + j * nx + i;
            if (in_label(ref, v, o->label) || in_label(pred, v, o->label)) {
                if (i < i0) i0 = i;
                if (i > i1) i1 = i;
                if (j < j0) j0 = j;
                if (j > j1) j1 = j;
            }
        }
    const double si = image->geom.spacing_mm[0] > 0 ? image->geom.spacing_mm[0] : 1;
    const double sj = image->geom.spacing_mm[1] > 0 ? image->geom.spacing_mm[1] : 1;
    if (i1 < 0) {
        i0 = 0, i1 = nx - 1, j0 = 0, j1 = ny - 1;
    } else {
        int64_t mi = (int64_t)ceil(o->margin_mm / si), mj = (int64_t)ceil(o->margin_mm / sj);
        i0 = i0 - mi < 0 ? 0 : i0 - mi;
        j0 = j0 - mj < 0 ? 0 : j0 - mj;
        i1 = i1 + mi > nx - 1 ? nx - 1 : i1 + mi;
        j1 = j1 + mj > ny - 1 ? ny - 1 : j1 + mj;
    }

    /* 4. orientation: which voxel axis runs along the columns, and in which direction */
    const double (*A)[4] = (const double (*)[4])image->geom.affine;
    int i_is_col = fabs(A[0][0]) * sj >= fabs(A[0][1]) * si; /* direction cosines compared */
    /* step along the column axis should decrease world x; along rows decrease world y */
    int col_axis = i_is_col ? 0 : 1, row_axis = 1 - col_axis;
    int col_flip = A[0][col_axis] > 0;  /* increasing index increases x: flip */
    int row_flip = A[1][row_axis] > 0;  /* increasing index increases y: flip */
    const int64_t lo[2] = {i0, j0}, hi[2] = {i1, j1};
    const double sp[2] = {si, sj};
    double cols_mm = (double)(hi[col_axis] - lo[col_axis] + 1) * sp[col_axis];
    double rows_mm = (double)(hi[row_axis] - lo[row_axis] + 1) * sp[row_axis];

    /* 5. square output pixels */
    int size = o->size_px > 16 ? o->size_px : 16;
    double s = fmax(cols_mm, rows_mm) / size;
    int w = (int)lround(cols_mm / s), h = (int)lround(rows_mm / s);
    if (w < 1) w = 1;
    if (h < 1) h = 1;
    uint8_t *rgb = ps_malloc_array((size_t)w * (size_t)h, 3);
    uint8_t *mask = ps_malloc_array((size_t)w * (size_t)h, 1);
    if (!rgb || !mask) {
        free(rgb);
        free(mask);
        return PS_ERR_NOMEM;
    }
    const int64_t ncol = hi[col_axis] - lo[col_axis] + 1, nrow = hi[row_axis] - lo[row_axis] + 1;
    for (int y = 0; y < h; y++) {
        int64_t r = (int64_t)floor((y + 0.5) * s / sp[row_axis]);
        if (r >= nrow) r = nrow - 1;
        int64_t ridx = row_flip ? hi[row_axis] - r : lo[row_axis] + r;
        for (int x = 0; x < w; x++) {
            int64_t c = (int64_t)floor((x + 0.5) * s / sp[col_axis]);
            if (c >= ncol) c = ncol - 1;
            int64_t cidx = col_flip ? hi[col_axis] - c : lo[col_axis] + c;
            int64_t ii = col_axis == 0 ? cidx : ridx, jj = col_axis == 0 ? ridx : cidx;
            int64_t v = base + jj * nx + ii;
            double g = (value_at(image, v) - wlo) / (whi - wlo);
            if (!(g > 0)) g = 0;
            if (g > 1) g = 1;
            uint8_t gv = (uint8_t)lround(g * 255);
            uint8_t *px = rgb + ((size_t)y * w + x) * 3;
            px[0] = px[1] = px[2] = gv;
            mask[(size_t)y * w + x] = (uint8_t)(in_label(ref, v, o->label) | (in_label(pred, v, o->label) << 1));
        }
    }
    /* 6. contours */
    static const uint8_t ref_rgb[3] = {PS_SLICE_REF_RGB}, pred_rgb[3] = {PS_SLICE_PRED_RGB};
    for (int y = 0; y < h; y++)
        for (int x = 0; x < w; x++) {
            uint8_t m = mask[(size_t)y * w + x];
            uint8_t *px = rgb + ((size_t)y * w + x) * 3;
            if (!(m & 1) && near_outside(mask, w, h, x, y, 0, 1))
                memcpy(px, ref_rgb, 3);
            if ((m & 2) && near_outside(mask, w, h, x, y, 1, 0))
                memcpy(px, pred_rgb, 3);
        }
    free(mask);
    out->k = k;
    out->fp_vox = fp_best;
    out->fn_vox = fn_best;
    out->width = w;
    out->height = h;
    out->rgb = rgb;
    return PS_OK;
}

int ps_report_worst_rows(const ps_table *t, const char *model, const char *metric,
                         int higher_is_worse, int k, int64_t *rows)
{
    int c_model, c_metric, rc;
    if ((rc = ps_table_require_col(t, "model", &c_model)) ||
        (rc = ps_table_require_col(t, metric, &c_metric)))
        return rc;
    int c_status = ps_table_col(t, "status");
    int n = 0;
    double *worst = ps_malloc_array(k > 0 ? (size_t)k : 1, sizeof *worst);
    if (!worst)
        return PS_ERR_NOMEM;
    /* insertion into a sorted list of at most k rows: stable, so ties keep table order */
    for (int64_t r = 0; r < t->nrows; r++) {
        if (strcmp(t->cells[r][c_model], model))
            continue;
        if (c_status >= 0 && !strcmp(t->cells[r][c_status], "error"))
            continue;
        const char *cell = t->cells[r][c_metric];
        if (!*cell)
            continue;
        double x;
        if ((rc = ps_table_get_double(t, r, c_metric, &x))) {
            free(worst);
            return rc;
        }
        if (isnan(x))
            continue;
        double key = higher_is_worse ? -x : x; /* smaller key = worse */
        int pos = n;
        while (pos > 0 && key < worst[pos - 1])
            pos--;
        if (pos >= k)
            continue;
        int last = n < k ? n : k - 1;
        for (int i = last; i > pos; i--) {
            worst[i] = worst[i - 1];
            rows[i] = rows[i - 1];
        }
        worst[pos] = key;
        rows[pos] = r;
        if (n < k)
            n++;
    }
    free(worst);
    return n;
}

char *ps_base64_encode(const void *data, size_t len)
{
    static const char tab[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    const unsigned char *p = data;
    size_t n = (len + 2) / 3 * 4;
    char *s = ps_malloc(n + 1);
    if (!s)
        return NULL;
    size_t o = 0, i = 0;
    for (; i + 3 <= len; i += 3) {
        uint32_t v = (uint32_t)p[i] << 16 | (uint32_t)p[i + 1] << 8 | p[i + 2];
        s[o++] = tab[v >> 18];
        s[o++] = tab[(v >> 12) & 63];
        s[o++] = tab[(v >> 6) & 63];
        s[o++] = tab[v & 63];
    }
    if (len - i == 1) {
        uint32_t v = (uint32_t)p[i] << 16;
        s[o++] = tab[v >> 18];
        s[o++] = tab[(v >> 12) & 63];
        s[o++] = '=';
        s[o++] = '=';
    } else if (len - i == 2) {
        uint32_t v = (uint32_t)p[i] << 16 | (uint32_t)p[i + 1] << 8;
        s[o++] = tab[v >> 18];
        s[o++] = tab[(v >> 12) & 63];
        s[o++] = tab[(v >> 6) & 63];
        s[o++] = '=';
    }
    s[o] = 0;
    return s;
}
