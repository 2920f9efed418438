/* volume.c - the ps_volume type: creation, release, and the label / float views of a file.
 *
 * Scaling follows the NIfTI-1 standard (nifti1.h, scl_slope): value = stored * scl_slope +
 * scl_inter, and no scaling when scl_slope is 0. panseval also skips the identity (1, 0). The
 * product is formed in double precision, as nibabel's get_fdata() does.
 *
 * Label maps (ps_volume_read_labels) must hold whole, non-negative numbers that fit int32.
 * Float maps are accepted when every value is within PS_LABEL_TOL of a whole number (label
 * maps saved as float32 by resampling tools carry rounding noise); they are rounded to the
 * nearest integer. The reported offending voxel is always the first in file order, whatever
 * the number of threads.
 */
#include "io_internal.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#define PS_LABEL_TOL 1e-3
/* Below this many voxels a loop is not worth starting threads for. */
#define PS_PAR_MIN 65536

size_t ps_dtype_size(ps_dtype t)
{
    switch (t) {
    case PS_DT_UINT8:
    case PS_DT_INT8: return 1;
    case PS_DT_INT16:
    case PS_DT_UINT16: return 2;
    case PS_DT_INT32:
    case PS_DT_UINT32:
    case PS_DT_FLOAT32: return 4;
    case PS_DT_INT64:
    case PS_DT_FLOAT64: return 8;
    }
    return 0;
}

const char *ps_dtype_name(ps_dtype t)
{
    switch (t) {
    case PS_DT_UINT8: return "uint8";
    case PS_DT_INT8: return "int8";
    case PS_DT_INT16: return "int16";
    case PS_DT_UINT16: return "uint16";
    case PS_DT_INT32: return "int32";
    case PS_DT_UINT32: return "uint32";
    case PS_DT_INT64: return "int64";
    case PS_DT_FLOAT32: return "float32";
    case PS_DT_FLOAT64: return "float64";
    }
    return "invalid";
}

/* One body written once per voxel type: BODY(T) is expanded with the C type of `t`. */
#define PS_DTYPE_SWITCH(t, BODY)                \
    switch (t) {                                \
    case PS_DT_UINT8: BODY(uint8_t); break;     \
    case PS_DT_INT8: BODY(int8_t); break;       \
    case PS_DT_INT16: BODY(int16_t); break;     \
    case PS_DT_UINT16: BODY(uint16_t); break;   \
    case PS_DT_INT32: BODY(int32_t); break;     \
    case PS_DT_UINT32: BODY(uint32_t); break;   \
    case PS_DT_INT64: BODY(int64_t); break;     \
    case PS_DT_FLOAT32: BODY(float); break;     \
    case PS_DT_FLOAT64: BODY(double); break;    \
    }

int ps_volume_create(const ps_geometry *geom, int64_t nc, ps_dtype dtype, ps_volume **out)
{
    *out = NULL;
    size_t esz = ps_dtype_size(dtype);
    if (!esz)
        return ps_error(PS_ERR_ARG, "ps_volume_create: invalid dtype %d", (int)dtype);
    if (nc < 1 || geom->dim[0] < 1 || geom->dim[1] < 1 || geom->dim[2] < 1)
        return ps_error(PS_ERR_ARG, "ps_volume_create: invalid size %lldx%lldx%lldx%lld",
                        (long long)geom->dim[0], (long long)geom->dim[1],
                        (long long)geom->dim[2], (long long)nc);
    size_t n;
    if (ps_mul3_size((size_t)geom->dim[0], (size_t)geom->dim[1], (size_t)geom->dim[2], &n) ||
        ps_mul_size(n, (size_t)nc, &n))
        return PS_ERR_NOMEM;
    ps_volume *v = ps_calloc(1, sizeof *v);
    if (!v)
        return PS_ERR_NOMEM;
    size_t bytes;
    if (ps_mul_size(n, esz, &bytes) || !(v->block_ = ps_malloc_large(bytes))) {
        free(v);
        return PS_ERR_NOMEM;
    }
    memset(v->block_, 0, bytes); /* the block may be a recycled one */
    v->geom = *geom;
    v->nc = nc;
    v->dtype = dtype;
    v->data = v->block_;
    *out = v;
    return PS_OK;
}

void ps_volume_free(ps_volume *v)
{
    if (!v)
        return;
    ps_free_large(v->block_);
    free(v->path);
    free(v);
}

static int has_scaling(const ps_volume *v)
{
    return v->scl_slope != 0.0 && isfinite(v->scl_slope) &&
           !(v->scl_slope == 1.0 && v->scl_inter == 0.0);
}

static int is_float(ps_dtype t) { return t == PS_DT_FLOAT32 || t == PS_DT_FLOAT64; }

/* Value of voxel `i` after scaling (only for messages; loops use the typed bodies). */
static double voxel_value(const ps_volume *v, int64_t i, int scaled)
{
    double x = 0.0;
#define PS_GET(T) x = (double)((const T *)v->data)[i]
    PS_DTYPE_SWITCH(v->dtype, PS_GET)
#undef PS_GET
    return scaled ? x * v->scl_slope + v->scl_inter : x;
}

static void replace_data(ps_volume *v, void *block, ps_dtype dtype)
{
    ps_free_large(v->block_);
    v->block_ = block;
    v->data = block;
    v->dtype = dtype;
}

static int label_error(const ps_volume *v, int64_t idx, int scaled)
{
    const char *path = v->path ? v->path : "(volume)";
    int64_t nx = v->geom.dim[0], ny = v->geom.dim[1];
    long long i = (long long)(idx % nx), j = (long long)(idx / nx % ny),
              k = (long long)(idx / nx / ny);
    double x = voxel_value(v, idx, scaled);
    char scl[96] = "";
    if (scaled)
        snprintf(scl, sizeof scl, " (after scl_slope %.9g, scl_inter %.9g)", v->scl_slope,
                 v->scl_inter);
    double r = nearbyint(x);
    if (isnan(x))
        return ps_error(PS_ERR_FORMAT, "%s: label map holds NaN at voxel (%lld, %lld, %lld)%s",
                        path, i, j, k, scl);
    if (!(fabs(x - r) <= PS_LABEL_TOL))
        return ps_error(PS_ERR_FORMAT,
                        "%s: label map value %.9g at voxel (%lld, %lld, %lld) is not an integer "
                        "(tolerance 1e-3)%s; is this an image rather than a label map?",
                        path, x, i, j, k, scl);
    if (r < 0)
        return ps_error(PS_ERR_FORMAT, "%s: negative label %.9g at voxel (%lld, %lld, %lld)%s",
                        path, x, i, j, k, scl);
    return ps_error(PS_ERR_RANGE,
                    "%s: label %.9g at voxel (%lld, %lld, %lld) is beyond the int32 range%s",
                    path, x, i, j, k, scl);
}

/* Turn a volume as read into a label map (see the top of this file). */
static int labels_from_stored(ps_volume *v)
{
    int64_t n = ps_volume_nvox(v);
    int scaled = has_scaling(v);
    double slope = v->scl_slope, inter = v->scl_inter;
    int64_t bad = INT64_MAX, mx = 0;

    /* uint8 without scaling: every byte is a valid label already; nothing to scan. */
    if (!scaled && v->dtype == PS_DT_UINT8) {
        v->scl_slope = v->scl_inter = 0.0;
        return PS_OK;
    }

    /* Pass 1: the first voxel that breaks the rules and the largest label. min/max are
     * exact, so the result does not depend on the thread count. */
    if (!scaled && !is_float(v->dtype)) {
#define PS_SCAN_INT(T)                                                                  \
    do {                                                                                \
        const T *p = v->data;                                                           \
        _Pragma("omp parallel for schedule(static) reduction(min:bad) reduction(max:mx) if(n > PS_PAR_MIN)") \
        for (int64_t i = 0; i < n; i++) {                                               \
            int64_t x = (int64_t)p[i];                                                  \
            if (x < 0 || x > INT32_MAX) {                                               \
                if (i < bad)                                                            \
                    bad = i;                                                            \
            } else if (x > mx) {                                                        \
                mx = x;                                                                 \
            }                                                                           \
        }                                                                               \
    } while (0)
        PS_DTYPE_SWITCH(v->dtype, PS_SCAN_INT)
#undef PS_SCAN_INT
    } else {
        if (!scaled) {
            slope = 1.0;
            inter = 0.0;
        }
#define PS_SCAN_REAL(T)                                                                 \
    do {                                                                                \
        const T *p = v->data;                                                           \
        _Pragma("omp parallel for schedule(static) reduction(min:bad) reduction(max:mx) if(n > PS_PAR_MIN)") \
        for (int64_t i = 0; i < n; i++) {                                               \
            double x = (double)p[i] * slope + inter;                                    \
            double r = nearbyint(x);                                                    \
            if (!(fabs(x - r) <= PS_LABEL_TOL) || r < 0.0 || r > (double)INT32_MAX) {   \
                if (i < bad)                                                            \
                    bad = i;                                                            \
            } else if ((int64_t)r > mx) {                                               \
                mx = (int64_t)r;                                                        \
            }                                                                           \
        }                                                                               \
    } while (0)
        PS_DTYPE_SWITCH(v->dtype, PS_SCAN_REAL)
#undef PS_SCAN_REAL
    }
    if (bad != INT64_MAX)
        return label_error(v, bad, scaled);

    ps_dtype want = mx <= 255 ? PS_DT_UINT8 : PS_DT_INT32;
    if (!scaled && !is_float(v->dtype)) {
        /* Zero-copy cases: the stored bytes already are the labels. A non-negative int8 has
         * the same bits as uint8. */
        if (v->dtype == want || (v->dtype == PS_DT_INT8 && want == PS_DT_UINT8)) {
            v->dtype = want;
            v->scl_slope = v->scl_inter = 0.0;
            return PS_OK;
        }
    }
    size_t bytes;
    void *dst = ps_mul_size((size_t)n, ps_dtype_size(want), &bytes) ? NULL : ps_malloc_large(bytes);
    if (!dst)
        return ps_error_context(PS_ERR_NOMEM, "%s", v->path ? v->path : "(volume)");
    /* Pass 2: convert; every value has been checked to be a whole number in range. */
#define PS_CONV(T)                                                                      \
    do {                                                                                \
        const T *p = v->data;                                                           \
        if (want == PS_DT_UINT8) {                                                      \
            uint8_t *q = dst;                                                           \
            _Pragma("omp parallel for schedule(static) if(n > PS_PAR_MIN)")             \
            for (int64_t i = 0; i < n; i++)                                             \
                q[i] = (uint8_t)nearbyint((double)p[i] * slope + inter);                \
        } else {                                                                        \
            int32_t *q = dst;                                                           \
            _Pragma("omp parallel for schedule(static) if(n > PS_PAR_MIN)")             \
            for (int64_t i = 0; i < n; i++)                                             \
                q[i] = (int32_t)nearbyint((double)p[i] * slope + inter);                \
        }                                                                               \
    } while (0)
    if (!scaled) {
        slope = 1.0;
        inter = 0.0;
    }
    PS_DTYPE_SWITCH(v->dtype, PS_CONV)
#undef PS_CONV
    replace_data(v, dst, want);
    v->scl_slope = v->scl_inter = 0.0;
    return PS_OK;
}

int ps_volume_read_labels(const char *path, ps_volume **out)
{
    uint8_t *nz = NULL;
    int rc = ps_volume_read_labels_map(path, out, &nz);
    free(nz);
    return rc;
}

int ps_volume_read_labels_map(const char *path, ps_volume **out, uint8_t **nz)
{
    *out = NULL;
    ps_volume *v = NULL;
    int rc = ps_io_volume_read_sparse(path, &v, nz);
    if (rc)
        return rc;
    if (*nz && (v->dtype != PS_DT_UINT8 || has_scaling(v))) {
        free(*nz); /* converted below: the map of the stored bytes does not describe the result */
        *nz = NULL;
    }
    if (v->nc > 1) {
        rc = ps_error(PS_ERR_FORMAT,
                      "%s: expected a 3D label map, got a 4D image of %lldx%lldx%lldx%lld voxels",
                      path, (long long)v->geom.dim[0], (long long)v->geom.dim[1],
                      (long long)v->geom.dim[2], (long long)v->nc);
    } else {
        rc = labels_from_stored(v);
    }
    if (rc) {
        ps_volume_free(v);
        free(*nz);
        *nz = NULL;
        return rc;
    }
    *out = v;
    return PS_OK;
}

int ps_volume_read_float(const char *path, ps_volume **out)
{
    ps_volume *v = NULL;
    int rc = ps_volume_read(path, &v);
    if (rc)
        return rc;
    int64_t n = ps_volume_nvox(v) * v->nc;
    int scaled = has_scaling(v);
    double slope = scaled ? v->scl_slope : 1.0, inter = scaled ? v->scl_inter : 0.0;
    if (v->dtype == PS_DT_FLOAT32) {
        if (scaled) { /* in place */
            float *p = v->data;
#pragma omp parallel for schedule(static) if (n > PS_PAR_MIN)
            for (int64_t i = 0; i < n; i++)
                p[i] = (float)((double)p[i] * slope + inter);
        }
    } else {
        size_t bytes;
        float *dst = ps_mul_size((size_t)n, sizeof(float), &bytes) ? NULL : ps_malloc_large(bytes);
        if (!dst) {
            ps_volume_free(v);
            return ps_error_context(PS_ERR_NOMEM, "%s", path);
        }
#define PS_TOFLOAT(T)                                                                   \
    do {                                                                                \
        const T *p = v->data;                                                           \
        _Pragma("omp parallel for schedule(static) if(n > PS_PAR_MIN)")                 \
        for (int64_t i = 0; i < n; i++)                                                 \
            dst[i] = (float)((double)p[i] * slope + inter);                             \
    } while (0)
        PS_DTYPE_SWITCH(v->dtype, PS_TOFLOAT)
#undef PS_TOFLOAT
        replace_data(v, dst, PS_DT_FLOAT32);
    }
    v->scl_slope = v->scl_inter = 0.0;
    *out = v;
    return PS_OK;
}
