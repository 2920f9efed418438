/* conv_bench.c - oneDNN convolution throughput of panseval's conv path (src/infer/conv_dnnl.c)
 * on the layer shapes of a PanSegNet-sized network, against the FMA peak (fma_peak.c).
 * Built and run by bench_forward.sh:
 *   cc -O2 -fopenmp -I BUILD -I src/core -I src/infer bench/conv_bench.c src/infer/conv_dnnl.c \
 *      src/infer/conv_ref.c src/core/{alloc,error,context}.c -ldnnl -lm -o conv_bench
 *   conv_bench THREADS
 * Prints GFLOP/s against wall time and the busy threads (process CPU time / wall time): on
 * this machine's 2 vCPUs two busy threads do not give more FMA throughput than one, so the
 * peak to compare with is fma_peak's. */
#include <omp.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "net_internal.h"

static double clock_s(clockid_t id)
{
    struct timespec t;
    clock_gettime(id, &t);
    return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

int main(int argc, char **argv)
{
    int threads = argc > 1 ? atoi(argv[1]) : 1;
    omp_set_num_threads(threads);
    /* cin, cout, D, H, W, kD (kH = kW = 3) */
    static const int cfg[][6] = {{32, 32, 64, 128, 128, 1}, {32, 64, 64, 64, 64, 3},
                                 {64, 32, 64, 64, 64, 3},   {64, 64, 64, 64, 64, 3},
                                 {128, 128, 32, 32, 32, 3}, {256, 256, 16, 16, 16, 3},
                                 {320, 320, 8, 8, 8, 3}};
    ps_dnnl *e;
    if (ps_dnnl_create(&e)) {
        fprintf(stderr, "conv_bench: %s\n", ps_error_message());
        return 1;
    }
    printf("%-26s %10s %10s  %s\n", "conv (3x3 in H, W)", "GFLOP/s", "busy thr", "kernel");
    double tf = 0, tw = 0, tc = 0;
    for (size_t c = 0; c < sizeof cfg / sizeof cfg[0]; c++) {
        ps_conv_shape cs = {.cin = cfg[c][0], .cout = cfg[c][1], .k = {cfg[c][5], 3, 3},
                            .stride = {1, 1, 1}, .pad = {cfg[c][5] == 3, 1, 1},
                            .in = {cfg[c][2], cfg[c][3], cfg[c][4]}};
        if (ps_conv_shape_resolve(&cs, 0))
            return 1;
        int64_t S = (int64_t)cs.in[0] * cs.in[1] * cs.in[2];
        int64_t nw = (int64_t)cs.cin * cs.cout * cs.k[0] * 9;
        float *w = malloc((size_t)nw * sizeof *w);
        float *x = aligned_alloc(64, (size_t)(cs.cin * S) * sizeof *x);
        float *y = aligned_alloc(64, (size_t)(cs.cout * S) * sizeof *y);
        for (int64_t i = 0; i < nw; i++)
            w[i] = 0.01f * (float)(i % 7);
        for (int64_t i = 0; i < cs.cin * S; i++)
            x[i] = 0.1f * (float)(i % 11);
        ps_dnnl_conv *dc;
        if (ps_dnnl_conv_create(e, &cs, 0, w, NULL, 16, &dc) || ps_dnnl_conv_run(dc, x, y))
            return 1;
        double fl = 2.0 * cs.cin * cs.cout * cs.k[0] * 9 * (double)S;
        int reps = fl < 2e10 ? 3 : 1;
        double w0 = clock_s(CLOCK_MONOTONIC), c0 = clock_s(CLOCK_PROCESS_CPUTIME_ID);
        for (int r = 0; r < reps; r++)
            ps_dnnl_conv_run(dc, x, y);
        double wt = clock_s(CLOCK_MONOTONIC) - w0, ct = clock_s(CLOCK_PROCESS_CPUTIME_ID) - c0;
        char name[64];
        snprintf(name, sizeof name, "%d->%d %dx%dx%d k%d", cs.cin, cs.cout, cs.in[0], cs.in[1],
                 cs.in[2], cs.k[0]);
        printf("%-26s %10.1f %10.2f  %s\n", name, reps * fl / wt * 1e-9, ct / wt,
               ps_dnnl_conv_impl(dc));
        tf += reps * fl;
        tw += wt;
        tc += ct;
        ps_dnnl_conv_free(dc);
        free(w);
        free(x);
        free(y);
    }
    printf("%-26s %10.1f %10.2f\n", "all", tf / tw * 1e-9, tc / tw);
    ps_dnnl_free(e);
    return 0;
}
