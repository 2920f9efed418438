/* edt.c - exact squared Euclidean distance transform with anisotropic spacing.
 *
 * Felzenszwalb & Huttenlocher, "Distance Transforms of Sampled Functions", Theory of
 * Computing 8 (2012): the squared EDT is separable, D(x,y,z) = min over the feature set of
 * sx^2 dx^2 + sy^2 dy^2 + sz^2 dz^2, so it is computed as three 1D passes. Pass 1 (axis i) is
 * the binary 1D distance (nearest feature on the line, two scans). Passes 2 and 3 (axes j, k)
 * take the lower envelope of the parabolas s^2 (q - p)^2 + f(p) in linear time.
 *
 * Lines are independent, so every pass is split across OpenMP threads by lines; each line is
 * computed by one thread with the same arithmetic, so the result does not depend on the
 * thread count.
 *
 * With a query mask (ps_edt_sq_query_, for the surface distances, which read the transform
 * only at the other mask's boundary), the last pass runs only on the lines that hold a query
 * voxel, and the second pass only on the planes that feed such a line; the values at query
 * voxels are the same bits as without the mask (the same lines, the same arithmetic), the
 * others are left unfinished. On a pancreas crop about half of the last pass is skipped.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>
#ifdef _OPENMP
#include <omp.h>
#endif

#include "metrics_internal.h"

/* Lower envelope of parabolas for one line (FH 2012, algorithm DT(f)), in place on f[0..n).
 * f may hold INFINITY (no feature reached on earlier axes); those points add no parabola.
 * Work arrays: v (n ints), z (n+1 doubles). The parabola intersection is computed in index
 * units, s = ((f(q) - f(p)) / sp^2 + q^2 - p^2) / (2 (q - p)), with small exact integers.
 * Positions are o + index: the position of the line's first point in the whole image, so that
 * the same line inside two different crops gives bit-identical values (the parabolas, their
 * intersections and every comparison are the same numbers). */
static void envelope_1d(double *f, int64_t n, int64_t o, double sp, int64_t *v, double *z,
                        double *d)
{
    const double inv_sp2 = 1.0 / (sp * sp);
    int64_t k = -1;
    for (int64_t q = 0; q < n; q++) {
        if (isinf(f[q]))
            continue;
        if (k < 0) {
            k = 0;
            v[0] = q;
            z[0] = -INFINITY;
            z[1] = INFINITY;
            continue;
        }
        double s;
        for (;;) {
            int64_t p = v[k], qa = q + o, pa = p + o;
            s = ((f[q] - f[p]) * inv_sp2 + (double)(qa * qa - pa * pa)) /
                (2.0 * (double)(q - p));
            /* z[0] = -inf, so the first parabola is never removed (k > 0 is only a guard). */
            if (s <= z[k] && k > 0)
                k--;
            else
                break;
        }
        k++;
        v[k] = q;
        z[k] = s;
        z[k + 1] = INFINITY;
    }
    if (k < 0) {
        for (int64_t q = 0; q < n; q++)
            f[q] = INFINITY;
        return;
    }
    k = 0;
    for (int64_t q = 0; q < n; q++) {
        while (z[k + 1] < (double)(q + o))
            k++;
        double dq = sp * (double)(q - v[k]);
        d[q] = dq * dq + f[v[k]];
    }
    memcpy(f, d, (size_t)n * sizeof *f);
}

int ps_edt_sq(const uint8_t *mask, const int64_t dim[3], const double spacing_mm[3],
              double *out, const ps_context *ctx)
{
    static const int64_t zero[3] = {0, 0, 0};
    return ps_edt_sq_at(mask, dim, spacing_mm, zero, out, ctx);
}

static int edt_run(const uint8_t *mask, const int64_t dim[3], const double spacing_mm[3],
                   const int64_t origin[3], const uint8_t *query, double *out,
                   const ps_context *ctx);

int ps_edt_sq_at(const uint8_t *mask, const int64_t dim[3], const double spacing_mm[3],
                 const int64_t origin[3], double *out, const ps_context *ctx)
{
    return edt_run(mask, dim, spacing_mm, origin, NULL, out, ctx);
}

int ps_edt_sq_query_(const uint8_t *mask, const int64_t dim[3], const double spacing_mm[3],
                     const int64_t origin[3], const uint8_t *query, double *out,
                     const ps_context *ctx)
{
    return edt_run(mask, dim, spacing_mm, origin, query, out, ctx);
}

/* need[j * nx + i] = 1 when the line (i, j) along k holds a query voxel; xneed[i] = 1 when
 * any line (i, .) does. Without a query every line is needed. */
static void query_lines(const uint8_t *query, int64_t nx, int64_t ny, int64_t nz, uint8_t *need,
                        uint8_t *xneed, int nt)
{
    const int64_t nxy = nx * ny;
#pragma omp parallel for num_threads(nt) schedule(static)
    for (int64_t j = 0; j < ny; j++) {
        uint8_t *n = need + j * nx;
        memset(n, 0, (size_t)nx);
        for (int64_t k = 0; k < nz; k++) {
            const uint8_t *q = query + k * nxy + j * nx;
            for (int64_t i = 0; i < nx; i++)
                n[i] |= q[i];
        }
    }
    memset(xneed, 0, (size_t)nx);
    for (int64_t j = 0; j < ny; j++)
        for (int64_t i = 0; i < nx; i++)
            xneed[i] |= need[j * nx + i];
}

/* Index of the first non-zero byte of m[0..n), or -1; eight bytes at a time. */
static int64_t first_set(const uint8_t *m, int64_t n)
{
    int64_t i = 0;
    for (; i + 8 <= n; i += 8) {
        uint64_t w;
        memcpy(&w, m + i, sizeof w);
        if (w)
            break;
    }
    for (; i < n; i++)
        if (m[i])
            return i;
    return -1;
}

static int edt_run(const uint8_t *mask, const int64_t dim[3], const double spacing_mm[3],
                   const int64_t origin[3], const uint8_t *query, double *out,
                   const ps_context *ctx)
{
    const int64_t nx = dim[0], ny = dim[1], nz = dim[2];
    if (nx <= 0 || ny <= 0 || nz <= 0)
        return ps_error(PS_ERR_ARG, "ps_edt_sq: invalid grid %lld x %lld x %lld",
                        (long long)nx, (long long)ny, (long long)nz);
    for (int a = 0; a < 3; a++)
        if (!(spacing_mm[a] > 0) || !isfinite(spacing_mm[a]))
            return ps_error(PS_ERR_ARG, "ps_edt_sq: spacing along axis %d is %g (must be > 0)",
                            a, spacing_mm[a]);
    const int64_t nxy = nx * ny;
    const int64_t nmax = nx > ny ? (nx > nz ? nx : nz) : (ny > nz ? ny : nz);
    int nt = ps_context_threads(ctx);
    /* Per-thread line buffers: f, d, z (n+1) doubles and v ints. */
    size_t per = (size_t)(3 * (nmax + 1)) * sizeof(double) + (size_t)(nmax + 1) * sizeof(int64_t);
    char *work = ps_malloc_array((size_t)nt, per);
    if (!work)
        return ps_error_context(PS_ERR_NOMEM, "distance transform of %lld voxels",
                                (long long)(nxy * nz));
    const double sx = spacing_mm[0], sy = spacing_mm[1], sz = spacing_mm[2];
    /* the lines the query needs (3D only: a 2D crop is cheap) */
    uint8_t *need = NULL, *xneed = NULL;
    if (query && nz > 1) {
        need = ps_malloc((size_t)(nxy + nx));
        if (!need) {
            free(work);
            return ps_error_context(PS_ERR_NOMEM, "distance transform of %lld voxels",
                                    (long long)(nxy * nz));
        }
        xneed = need + nxy;
        query_lines(query, nx, ny, nz, need, xneed, nt);
    }

#pragma omp parallel num_threads(nt)
    {
        int tid = 0;
#ifdef _OPENMP
        tid = omp_get_thread_num();
#endif
        /* per-thread slice of the workspace: f, d, z (doubles), then v (int64), each
         * 8-byte aligned because `per` and every part are multiples of 8 */
        void *w = work + (size_t)tid * per;
        double *f = w;
        double *d = f + (nmax + 1);
        double *z = d + (nmax + 1);
        int64_t *v = (void *)(z + (nmax + 1));

        /* Axis i: distance to the nearest feature on the line: outside the first and last
         * feature directly, between them by a forward and a backward scan. */
#pragma omp for schedule(static)
        for (int64_t k = 0; k < nz; k++) {
            for (int64_t j = 0; j < ny; j++) {
                const uint8_t *m = mask + k * nxy + j * nx;
                double *o = out + k * nxy + j * nx;
                int64_t first = first_set(m, nx);
                if (first < 0) {
                    for (int64_t i = 0; i < nx; i++)
                        o[i] = INFINITY;
                    continue;
                }
                int64_t end = nx;
                while (!m[end - 1])
                    end--;
                for (int64_t i = 0; i < first; i++) {
                    double a = (double)(first - i);
                    o[i] = (a * sx) * (a * sx);
                }
                for (int64_t i = end; i < nx; i++) {
                    double a = (double)(i - (end - 1));
                    o[i] = (a * sx) * (a * sx);
                }
                int64_t last = first;
                for (int64_t i = first; i < end; i++) {
                    if (m[i])
                        last = i;
                    d[i] = (double)(i - last);
                }
                last = end - 1;
                for (int64_t i = end - 1; i >= first; i--) {
                    if (m[i])
                        last = i;
                    double b = (double)(last - i);
                    double a = d[i] < b ? d[i] : b;
                    o[i] = (a * sx) * (a * sx);
                }
            }
        }
        /* Axis j. */
        if (ny > 1) {
#pragma omp for schedule(static)
            for (int64_t k = 0; k < nz; k++) {
                for (int64_t i = 0; i < nx; i++) {
                    if (xneed && !xneed[i])
                        continue;
                    double *o = out + k * nxy + i;
                    for (int64_t j = 0; j < ny; j++)
                        f[j] = o[j * nx];
                    envelope_1d(f, ny, origin[1], sy, v, z, d);
                    for (int64_t j = 0; j < ny; j++)
                        o[j * nx] = f[j];
                }
            }
        }
        /* Axis k. */
        if (nz > 1) {
#pragma omp for schedule(static)
            for (int64_t j = 0; j < ny; j++) {
                for (int64_t i = 0; i < nx; i++) {
                    if (need && !need[j * nx + i])
                        continue;
                    double *o = out + j * nx + i;
                    for (int64_t k = 0; k < nz; k++)
                        f[k] = o[k * nxy];
                    envelope_1d(f, nz, origin[2], sz, v, z, d);
                    for (int64_t k = 0; k < nz; k++)
                        o[k * nxy] = f[k];
                }
            }
        }
    }
    free(work);
    free(need);
    return 0;
}
