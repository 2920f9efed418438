/* resample.c - image resampling as nnU-Net v1 does it (skimage resize and the separate-z rule).
 *
 * Sources of the behaviour (read, not copied):
 *   nnunet/preprocessing/preprocessing.py  resample_patient, resample_data_or_seg,
 *                                          get_do_separate_z, get_lowres_axis
 *   skimage/transform/_warps.py (0.19)     resize: scipy.ndimage.zoom(grid_mode=True), mode
 *                                          'edge' -> ndimage 'nearest', clip to the input range
 *   scipy/ndimage (1.10)                   zoom / map_coordinates, the B-spline prefilter
 *
 * The resize of an array of shape n_in to n_out is separable: along each axis independently
 *   input coordinate of output o:  cc = (o + 0.5) * (n_in / n_out) - 0.5
 *   order 0:  x[clamp(floor(cc + 0.5))]
 *   order 1:  (1 - t) x[clamp(f)] + t x[clamp(f + 1)],  f = floor(cc), t = cc - f
 *   order 3:  sum_{h=0..3} w_h(t) c[f - 1 + h] with the cubic B-spline weights
 *             w1 = (t^2 (t - 2) 3 + 4) / 6, w2 = (u^2 (u - 2) 3 + 4) / 6, w0 = u^3 / 6,
 *             w3 = 1 - w0 - w1 - w2  (u = 1 - t), as scipy computes them,
 *   where c are the B-spline coefficients of the line after scipy's prefilter for mode
 *   'nearest': the line is first padded with 12 copies of its end values on each side
 *   (_prepad_for_spline_filter), then filtered with the pole z = sqrt(3) - 2: gain
 *   (1 - z)(1 - 1/z); causal initial value with the 'reflect' boundary
 *       c0 <- c0 + z/(1 - z^2N) (c0 + z^N c[N-1] + sum_{i=1}^{N-1} z^i (c[i] + z^N c[N-1-i]))
 *   (the series is stopped once |z^i| < 1e-20: its remaining terms are below double
 *   rounding), c[i] += z c[i-1]; anticausal initial value c[N-1] *= z / (z - 1),
 *   c[i] = z (c[i+1] - c[i]). Coordinates are shifted by the 12 padded samples.
 * Axes whose length does not change are the identity (the spline through the samples hits
 * them: only double rounding differs) and are skipped. Everything is double, as skimage
 * works on the float64 copy nnU-Net makes (data.astype(float)).
 */
#include "pipeline_internal.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#define SPLINE_PAD 12          /* scipy's npad for modes 'nearest' and 'grid-constant' */
#define BLOCK_B 64             /* inner-dimension block processed together             */

void ps_resampled_shape(const int64_t n[3], const double spacing_from[3],
                        const double spacing_to[3], int64_t out[3])
{
    for (int d = 0; d < 3; d++)
        out[d] = (int64_t)nearbyint(spacing_from[d] / spacing_to[d] * (double)n[d]);
}

static int lowres_axis(const double s[3])
{
    double mx = fmax(s[0], fmax(s[1], s[2]));
    int axis = -1, count = 0;
    for (int d = 0; d < 3; d++)
        if (mx / s[d] == 1.0) {
            axis = d;
            count++;
        }
    return count == 1 ? axis : -1;
}

static int anisotropic(const double s[3])
{
    double mx = fmax(s[0], fmax(s[1], s[2])), mn = fmin(s[0], fmin(s[1], s[2]));
    return mx / mn > PS_SEPARATE_Z_THRESHOLD;
}

int ps_separate_z_axis(const double spacing_a[3], const double *spacing_b)
{
    if (anisotropic(spacing_a))
        return lowres_axis(spacing_a);
    if (spacing_b && anisotropic(spacing_b))
        return lowres_axis(spacing_b);
    return -1;
}

/* Per output position: first input index (in padded coordinates for order 3) and weights. */
typedef struct axis_plan {
    int64_t *start;
    double (*w)[4];
} axis_plan;

static int plan_axis(int64_t L, int64_t M, int order, axis_plan *p)
{
    p->start = ps_malloc_array((size_t)M, sizeof *p->start);
    p->w = ps_malloc_array((size_t)M, sizeof *p->w);
    if (!p->start || !p->w)
        return PS_ERR_NOMEM;
    double zoom = (double)L / (double)M;
    for (int64_t o = 0; o < M; o++) {
        double cc = ((double)o + 0.5) * zoom - 0.5;
        double *w = p->w[o];
        if (order == 0) {
            p->start[o] = (int64_t)floor(cc + 0.5);
            w[0] = 1.0;
        } else if (order == 1) {
            double f = floor(cc);
            double t = cc - f;
            p->start[o] = (int64_t)f;
            w[0] = 1.0 - t;
            w[1] = 1.0 - w[0];
        } else {
            cc += SPLINE_PAD;
            double f = floor(cc);
            double y = cc - f, z = 1.0 - y;
            p->start[o] = (int64_t)f - 1;
            w[1] = (y * y * (y - 2.0) * 3.0 + 4.0) / 6.0;
            w[2] = (z * z * (z - 2.0) * 3.0 + 4.0) / 6.0;
            w[0] = z * z * z / 6.0;
            w[3] = 1.0 - w[0] - w[1] - w[2];
        }
    }
    return PS_OK;
}

static void plan_free(axis_plan *p)
{
    free(p->start);
    free(p->w);
}

static inline int64_t clampi(int64_t i, int64_t n) { return i < 0 ? 0 : i >= n ? n - 1 : i; }

/* The cubic B-spline prefilter of scipy (mode 'nearest' after 12 samples of edge padding) on
 * nb interleaved lines: buf[p * nb + b], p < N. */
static void spline_prefilter(double *buf, int64_t N, int nb)
{
    const double z = -0.267949192431122706472553658494127633; /* sqrt(3) - 2 */
    const double gain = (1.0 - z) * (1.0 - 1.0 / z);
    for (int64_t i = 0; i < N * nb; i++)
        buf[i] *= gain;
    const double zn = pow(z, (double)N);
    for (int b = 0; b < nb; b++) {
        double *c = buf + b;
        double c0 = c[0];
        double s = c[0] + zn * c[(N - 1) * nb];
        double zi = z;
        for (int64_t i = 1; i < N && fabs(zi) >= 1e-20; i++) {
            s += zi * (c[i * nb] + zn * c[(N - 1 - i) * nb]);
            zi *= z;
        }
        c[0] = s * (z / (1.0 - zn * zn)) + c0;
    }
    for (int64_t i = 1; i < N; i++) {
        double *ci = buf + i * nb, *cp = ci - nb;
        for (int b = 0; b < nb; b++)
            ci[b] += z * cp[b];
    }
    double *cl = buf + (N - 1) * nb;
    for (int b = 0; b < nb; b++)
        cl[b] *= z / (z - 1.0);
    for (int64_t i = N - 2; i >= 0; i--) {
        double *ci = buf + i * nb, *cn = ci + nb;
        for (int b = 0; b < nb; b++)
            ci[b] = z * (cn[b] - ci[b]);
    }
}

/* Resize along the middle axis of the view (A, L, B) -> (A, M, B). */
static int resize_axis(const double *in, double *out, int64_t A, int64_t L, int64_t B,
                       int64_t M, int order, int threads)
{
    axis_plan p = {0};
    int rc = plan_axis(L, M, order, &p);
    if (rc) {
        plan_free(&p);
        return rc;
    }
    const int64_t N = order == 3 ? L + 2 * SPLINE_PAD : L;
    const int64_t nblk = (B + BLOCK_B - 1) / BLOCK_B;
    const int64_t ntask = A * nblk;
    int fail = 0;
#pragma omp parallel num_threads(threads) reduction(| : fail)
    {
        double *buf = malloc((size_t)N * BLOCK_B * sizeof *buf);
        if (!buf)
            fail = 1;
#pragma omp for schedule(static)
        for (int64_t t = 0; t < ntask; t++) {
            if (!buf)
                continue;
            int64_t a = t / nblk, b0 = (t % nblk) * BLOCK_B;
            int nb = (int)(B - b0 < BLOCK_B ? B - b0 : BLOCK_B);
            const double *src = in + a * L * B + b0;
            double *dst = out + a * M * B + b0;
            /* gather the lines (edge-padded for order 3) */
            if (nb == 1) { /* lines along the contiguous axis */
                for (int64_t q = 0; q < N; q++)
                    buf[q] = src[(order == 3 ? clampi(q - SPLINE_PAD, L) : q) * B];
            } else {
                for (int64_t q = 0; q < N; q++) {
                    int64_t i = order == 3 ? clampi(q - SPLINE_PAD, L) : q;
                    memcpy(buf + q * nb, src + i * B, (size_t)nb * sizeof *buf);
                }
            }
            if (order == 3)
                spline_prefilter(buf, N, nb);
            for (int64_t o = 0; o < M; o++) {
                double *d = dst + o * B;
                const double *w = p.w[o];
                int64_t s0 = p.start[o];
                if (order == 0) {
                    const double *c0 = buf + clampi(s0, N) * nb;
                    for (int b = 0; b < nb; b++)
                        d[b] = c0[b];
                } else if (order == 1) {
                    const double *c0 = buf + clampi(s0, N) * nb, *c1 = buf + clampi(s0 + 1, N) * nb;
                    for (int b = 0; b < nb; b++)
                        d[b] = c0[b] * w[0] + c1[b] * w[1];
                } else {
                    const double *c0 = buf + clampi(s0, N) * nb, *c1 = buf + clampi(s0 + 1, N) * nb,
                                 *c2 = buf + clampi(s0 + 2, N) * nb,
                                 *c3 = buf + clampi(s0 + 3, N) * nb;
                    for (int b = 0; b < nb; b++) {
                        double v = c0[b] * w[0];
                        v += c1[b] * w[1];
                        v += c2[b] * w[2];
                        v += c3[b] * w[3];
                        d[b] = v;
                    }
                }
            }
        }
        free(buf);
    }
    plan_free(&p);
    if (fail)
        return ps_error(PS_ERR_NOMEM, "resampling: out of memory for a line buffer of %lld values",
                        (long long)(N * BLOCK_B));
    return PS_OK;
}

/* min and max of the values of x[a, :, :] (sep axis 0), x[:, a, :] or x[:, :, a]; exact, so
 * the thread count does not matter. */
static void slice_range(const double *x, const int64_t n[3], int axis, int64_t a, double *lo,
                        double *hi)
{
    double mn = INFINITY, mx = -INFINITY;
    int64_t i0 = 0, i1 = n[0], j0 = 0, j1 = n[1], k0 = 0, k1 = n[2];
    if (axis == 0) { i0 = a; i1 = a + 1; }
    if (axis == 1) { j0 = a; j1 = a + 1; }
    if (axis == 2) { k0 = a; k1 = a + 1; }
    for (int64_t i = i0; i < i1; i++)
        for (int64_t j = j0; j < j1; j++) {
            const double *r = x + (i * n[1] + j) * n[2];
            for (int64_t k = k0; k < k1; k++) {
                mn = fmin(mn, r[k]);
                mx = fmax(mx, r[k]);
            }
        }
    *lo = mn;
    *hi = mx;
}

/* Resize `cur` (shape n) along each axis in `axes` (order), ping-ponging between buffers. */
static int resize_axes(const double *src, int64_t n[3], const int64_t n_out[3], const int *axes,
                       int naxes, int order, double **result, int threads)
{
    const double *cur = src;
    double *owned = NULL;
    for (int q = 0; q < naxes; q++) {
        int ax = axes[q];
        if (n[ax] == n_out[ax])
            continue;
        int64_t A = 1, B = 1;
        for (int d = 0; d < ax; d++)
            A *= n[d];
        for (int d = ax + 1; d < 3; d++)
            B *= n[d];
        double *next = ps_malloc_array((size_t)(A * n_out[ax] * B), sizeof *next);
        if (!next) {
            free(owned);
            return PS_ERR_NOMEM;
        }
        int rc = resize_axis(cur, next, A, n[ax], B, n_out[ax], order, threads);
        free(owned);
        if (rc) {
            free(next);
            return rc;
        }
        owned = next;
        cur = next;
        n[ax] = n_out[ax];
    }
    *result = owned; /* NULL: nothing changed */
    return PS_OK;
}

int ps_resize3d(const double *in, const int64_t n_in[3], double *out, const int64_t n_out[3],
                int order, int sep_axis, int order_z, int threads)
{
    if (order != 0 && order != 1 && order != 3)
        return ps_error(PS_ERR_ARG, "resampling: unsupported spline order %d", order);
    if (threads < 1)
        threads = 1;
    int64_t n[3] = {n_in[0], n_in[1], n_in[2]};
    double *tmp = NULL;
    int rc;
    if (sep_axis < 0) {
        double lo, hi;
        slice_range(in, n_in, -1, 0, &lo, &hi);
        const int axes[3] = {0, 1, 2};
        if ((rc = resize_axes(in, n, n_out, axes, 3, order, &tmp, threads)))
            return rc;
        const double *res = tmp ? tmp : in;
        int64_t nv = ps_n3(n_out);
#pragma omp parallel for num_threads(threads) schedule(static)
        for (int64_t v = 0; v < nv; v++)
            out[v] = fmin(fmax(res[v], lo), hi);
        free(tmp);
        return PS_OK;
    }
    /* separate z: in-plane first (clipped per slice), then along sep_axis */
    int64_t ns = n_in[sep_axis];
    double *lo = ps_malloc_array((size_t)ns, sizeof *lo), *hi = ps_malloc_array((size_t)ns, sizeof *hi);
    if (!lo || !hi) {
        free(lo);
        free(hi);
        return PS_ERR_NOMEM;
    }
#pragma omp parallel for num_threads(threads) schedule(static)
    for (int64_t a = 0; a < ns; a++)
        slice_range(in, n_in, sep_axis, a, &lo[a], &hi[a]);
    int inplane[2] = {0, 0}, ni = 0; /* filled below: the two axes other than sep_axis */
    for (int d = 0; d < 3; d++)
        if (d != sep_axis)
            inplane[ni++] = d;
    int64_t n_mid[3] = {n_out[0], n_out[1], n_out[2]};
    n_mid[sep_axis] = ns;
    rc = resize_axes(in, n, n_mid, inplane, 2, order, &tmp, threads);
    if (rc) {
        free(lo);
        free(hi);
        return rc;
    }
    double *mid = tmp;
    if (!mid) {
        if (!(mid = ps_malloc_array((size_t)ps_n3(n_mid), sizeof *mid))) {
            free(lo);
            free(hi);
            return PS_ERR_NOMEM;
        }
        memcpy(mid, in, (size_t)ps_n3(n_mid) * sizeof *mid);
    }
    /* clip each resized slice to the range of its input slice (skimage's clip, per 2D call) */
    int64_t nv = ps_n3(n_mid);
#pragma omp parallel for num_threads(threads) schedule(static)
    for (int64_t v = 0; v < nv; v++) {
        int64_t i = v / (n_mid[1] * n_mid[2]), j = v / n_mid[2] % n_mid[1], k = v % n_mid[2];
        int64_t a = sep_axis == 0 ? i : sep_axis == 1 ? j : k;
        mid[v] = fmin(fmax(mid[v], lo[a]), hi[a]);
    }
    free(lo);
    free(hi);
    const int zaxis[1] = {sep_axis};
    double *fin = NULL;
    rc = resize_axes(mid, n, n_out, zaxis, 1, order_z, &fin, threads);
    if (!rc)
        memcpy(out, fin ? fin : mid, (size_t)ps_n3(n_out) * sizeof *out);
    free(fin);
    free(mid);
    return rc;
}
