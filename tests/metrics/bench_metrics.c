/* bench_metrics.c - timing of ps_metrics_compute on a synthetic pancreas-sized case.
 *
 * 512 x 512 x 200 uint8 label maps, spacing 0.78 x 0.78 x 2.5 mm, each holding one curved tube
 * of about 80 ml (radius 10 mm, ~250 mm long); the prediction is a thinner, shifted tube.
 * Both are written as .nii.gz to the test scratch directory and read back, so the time of
 * ps_metrics_compute can be compared with the time of decompressing the two files.
 * Wall-clock and process CPU times are the best of 3 runs (CPU time is the fairer number on a
 * shared machine; with one thread it is the work done).
 * Usage: bench_metrics [outdir]   (not run by `meson test`)
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "ps_io.h"
#include "ps_metrics.h"

static void tube(ps_volume *v, double radius_mm, double shift_mm)
{
    const int64_t nx = v->geom.dim[0], ny = v->geom.dim[1], nz = v->geom.dim[2];
    const double *s = v->geom.spacing_mm;
    uint8_t *d = v->data;
    for (int64_t k = 0; k < nz; k++)
        for (int64_t j = 0; j < ny; j++)
            for (int64_t i = 0; i < nx; i++) {
                double x = i * s[0], y = j * s[1], z = k * s[2];
                if (x < 80 || x > 320)
                    continue;
                /* centreline: y = 200 + 30 sin(x/40), z = 250 + 25 sin(x/60) (+ shift) */
                double cy = 200 + 30 * sin(x / 40.0) + shift_mm;
                double cz = 250 + 25 * sin(x / 60.0);
                double dy = y - cy, dz = z - cz;
                if (dy * dy + dz * dz <= radius_mm * radius_mm)
                    d[(k * ny + j) * nx + i] = 1;
            }
}

int main(int argc, char **argv)
{
    const char *dir = argc > 1 ? argv[1] : "/tmp";
    ps_geometry g;
    ps_geometry_init(&g, 512, 512, 200, 0.78, 0.78, 2.5);
    ps_volume *a, *b;
    if (ps_volume_create(&g, 1, PS_DT_UINT8, &a) || ps_volume_create(&g, 1, PS_DT_UINT8, &b)) {
        fprintf(stderr, "%s\n", ps_error_message());
        return 1;
    }
    tube(a, 10.0, 0.0);
    tube(b, 9.5, 1.5);
    char pa[4096], pb[4096];
    snprintf(pa, sizeof pa, "%s/bench_ref.nii.gz", dir);
    snprintf(pb, sizeof pb, "%s/bench_pred.nii.gz", dir);
    if (ps_volume_write(pa, a) || ps_volume_write(pb, b)) {
        fprintf(stderr, "%s\n", ps_error_message());
        return 1;
    }
    ps_volume_free(a);
    ps_volume_free(b);
    double best_read = 1e9, best_read_cpu = 1e9;
    for (int rep = 0; rep < 3; rep++) {
        clock_t c0 = clock();
        double t0 = ps_now_seconds();
        if (ps_volume_read_labels(pa, &a) || ps_volume_read_labels(pb, &b)) {
            fprintf(stderr, "%s\n", ps_error_message());
            return 1;
        }
        double t = ps_now_seconds() - t0, tc = (double)(clock() - c0) / CLOCKS_PER_SEC;
        best_read = t < best_read ? t : best_read;
        best_read_cpu = tc < best_read_cpu ? tc : best_read_cpu;
        if (rep < 2) {
            ps_volume_free(a);
            ps_volume_free(b);
        }
    }
    printf("read both .nii.gz (ps_volume_read_labels): %.1f ms wall, %.1f ms cpu\n",
           1e3 * best_read, 1e3 * best_read_cpu);
    ps_region r;
    ps_region_parse("1", &r);
    for (int hm = 0; hm < 4; hm++)
        for (int threads = 1; threads <= 2; threads++) {
            ps_metrics_options o;
            ps_metrics_options_init(&o);
            o.hd_method = (ps_hd_method)hm;
            o.nsd_method = hm == PS_HD_DEEPMIND ? PS_NSD_SURFEL : PS_NSD_VOXEL;
            ps_context ctx;
            ps_context_init(&ctx);
            ctx.threads = threads;
            ps_case_metrics m;
            double best = 1e9, best_cpu = 1e9;
            for (int rep = 0; rep < 3; rep++) {
                clock_t c0 = clock();
                double t0 = ps_now_seconds();
                if (ps_metrics_compute(a, b, &r, &o, &ctx, &m)) {
                    fprintf(stderr, "%s\n", ps_error_message());
                    return 1;
                }
                double t = ps_now_seconds() - t0, tc = (double)(clock() - c0) / CLOCKS_PER_SEC;
                best = t < best ? t : best;
                best_cpu = tc < best_cpu ? tc : best_cpu;
            }
            printf("%-11s threads %d: %7.1f ms wall, %7.1f ms cpu (vol_ref %.1f ml, dice %.4f, "
                   "hd95 %.3f mm, nsd %.4f)\n", ps_hd_method_name(o.hd_method), threads,
                   1e3 * best, 1e3 * best_cpu,
                   m.vol_ref_ml, m.dice, m.hd95, m.nsd);
        }
    ps_volume_free(a);
    ps_volume_free(b);
    return 0;
}
