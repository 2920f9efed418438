/* conv_bench.c - oneDNN convolution throughput on the layer shapes of the PanSegNet-sized
 * benchmark network (bench/forward_torch.py make), for the two activation layouts oneDNN's
 * fast fp32 kernels accept:
 *   ndhwc      channels last, what panseval uses (src/infer/conv_dnnl.c): brgemm kernels;
 *   nCdhw16c   channel blocks of 16: oneDNN's direct JIT kernels (panseval's layout before
 *              2026-11-27).
 * Both primitives of a shape run once to warm up (page faults), then alternately REPS times
 * each on the same buffers (so both see the same machine load); the medians are printed.
 * Compare with fma_peak.c's FP32 peak. Built and run by bench_forward.sh:
 *   cc -O2 -fopenmp bench/conv_bench.c -ldnnl -o conv_bench && ./conv_bench THREADS
 */
#include <oneapi/dnnl/dnnl.h>
#include <omp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static double now_s(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

#define CHECK(call)                                                                          \
    do {                                                                                     \
        dnnl_status_t st_ = (call);                                                          \
        if (st_ != dnnl_success) {                                                           \
            fprintf(stderr, "conv_bench: %s failed (status %d)\n", #call, (int)st_);         \
            exit(1);                                                                         \
        }                                                                                    \
    } while (0)

/* cin, cout, input D, H, W, kernel D (H, W: 3), stride D, stride H = W */
static const int shapes[][8] = {
    {32, 32, 64, 128, 128, 1, 1, 1}, /* encoder 0, second conv; kernel (1,3,3)          */
    {32, 64, 64, 128, 128, 3, 1, 2}, /* encoder 1, first conv (stride 1,2,2)            */
    {64, 64, 64, 64, 64, 3, 1, 1},   /* encoder 1, second conv                          */
    {128, 128, 32, 32, 32, 3, 1, 1}, /* encoder 2                                       */
    {256, 256, 16, 16, 16, 3, 1, 1}, /* encoder 3                                       */
    {320, 320, 8, 8, 8, 3, 1, 1},    /* encoder 4                                       */
    {32, 32, 64, 64, 64, 3, 1, 1},   /* decoder 3 with split input: each half           */
    {32, 32, 64, 128, 128, 3, 1, 1}, /* decoder 4: each half of the split, second conv  */
};

#define REPS 7

typedef struct bench_conv {
    dnnl_primitive_t prim;
    dnnl_memory_t mem[3];
    const char *impl;
    double flop, t[REPS];
} bench_conv;

static void setup(dnnl_engine_t eng, const int *c, dnnl_format_tag_t tag, bench_conv *b)
{
    const int ci = c[0], co = c[1], kd = c[5], sd = c[6], sh = c[7];
    const int pd = kd == 3;
    const int od = (c[2] + 2 * pd - kd) / sd + 1, oh = (c[3] + 2 - 3) / sh + 1,
              ow = (c[4] + 2 - 3) / sh + 1;
    dnnl_dims_t sdims = {1, ci, c[2], c[3], c[4]}, ddims = {1, co, od, oh, ow};
    dnnl_dims_t wdims = {co, ci, kd, 3, 3}, strides = {sd, sh, sh}, pl = {pd, 1, 1};
    dnnl_dims_t pr = {(od - 1) * sd + kd - c[2] - pd, (oh - 1) * sh + 3 - c[3] - 1,
                      (ow - 1) * sh + 3 - c[4] - 1};
    dnnl_memory_desc_t smd, dmd, wmd;
    CHECK(dnnl_memory_desc_init_by_tag(&smd, 5, sdims, dnnl_f32, tag));
    CHECK(dnnl_memory_desc_init_by_tag(&dmd, 5, ddims, dnnl_f32, tag));
    CHECK(dnnl_memory_desc_init_by_tag(&wmd, 5, wdims, dnnl_f32, dnnl_format_tag_any));
    dnnl_convolution_desc_t cd;
    CHECK(dnnl_convolution_forward_desc_init(&cd, dnnl_forward_inference,
                                             dnnl_convolution_direct, &smd, &wmd, NULL, &dmd,
                                             strides, pl, pr));
    dnnl_primitive_desc_t pd_;
    CHECK(dnnl_primitive_desc_create(&pd_, &cd, NULL, eng, NULL));
    CHECK(dnnl_primitive_desc_query(pd_, dnnl_query_impl_info_str, 0, &b->impl));
    const dnnl_memory_desc_t *w2 = dnnl_primitive_desc_query_md(pd_, dnnl_query_weights_md, 0);
    CHECK(dnnl_memory_create(&b->mem[0], &smd, eng, DNNL_MEMORY_ALLOCATE));
    CHECK(dnnl_memory_create(&b->mem[1], w2, eng, DNNL_MEMORY_ALLOCATE));
    CHECK(dnnl_memory_create(&b->mem[2], &dmd, eng, DNNL_MEMORY_ALLOCATE));
    float *p;
    CHECK(dnnl_memory_get_data_handle(b->mem[0], (void **)&p));
    for (size_t i = 0, n = dnnl_memory_desc_get_size(&smd) / 4; i < n; i++)
        p[i] = 0.1f * (float)(i % 11);
    CHECK(dnnl_memory_get_data_handle(b->mem[1], (void **)&p));
    for (size_t i = 0, n = dnnl_memory_desc_get_size(w2) / 4; i < n; i++)
        p[i] = 0.01f * (float)(i % 7);
    CHECK(dnnl_primitive_create(&b->prim, pd_));
    dnnl_primitive_desc_destroy(pd_);
    b->flop = 2.0 * ci * co * kd * 9 * (double)od * oh * ow;
}

static double run(dnnl_stream_t st, bench_conv *b)
{
    dnnl_exec_arg_t args[3] = {
        {DNNL_ARG_SRC, b->mem[0]}, {DNNL_ARG_WEIGHTS, b->mem[1]}, {DNNL_ARG_DST, b->mem[2]}};
    double t0 = now_s();
    CHECK(dnnl_primitive_execute(b->prim, st, 3, args));
    CHECK(dnnl_stream_wait(st));
    return now_s() - t0;
}

static void release(bench_conv *b)
{
    dnnl_primitive_destroy(b->prim);
    for (int i = 0; i < 3; i++)
        dnnl_memory_destroy(b->mem[i]);
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* GFLOP/s of the median time */
static double median_rate(bench_conv *b)
{
    qsort(b->t, REPS, sizeof b->t[0], cmp_double);
    return b->flop / b->t[REPS / 2] * 1e-9;
}

int main(int argc, char **argv)
{
    omp_set_num_threads(argc > 1 ? atoi(argv[1]) : 1);
    dnnl_engine_t eng;
    dnnl_stream_t st;
    CHECK(dnnl_engine_create(&eng, dnnl_cpu, 0));
    CHECK(dnnl_stream_create(&st, eng, dnnl_stream_default_flags));
    printf("%-30s %16s %16s\n", "conv (kernel kD x 3 x 3)", "ndhwc GFLOP/s", "nCdhw16c GFLOP/s");
    const char *impl[2] = {"", ""};
    double flop = 0, time[2] = {0, 0};
    for (size_t i = 0; i < sizeof shapes / sizeof shapes[0]; i++) {
        const int *c = shapes[i];
        char name[64];
        snprintf(name, sizeof name, "%d->%d %dx%dx%d k%d s%d%d%d", c[0], c[1], c[2], c[3], c[4],
                 c[5], c[6], c[7], c[7]);
        bench_conv b[2];
        setup(eng, c, dnnl_ndhwc, &b[0]);
        setup(eng, c, dnnl_nCdhw16c, &b[1]);
        run(st, &b[0]);
        run(st, &b[1]);
        for (int r = 0; r < REPS; r++)
            for (int k = 0; k < 2; k++)
                b[k].t[r] = run(st, &b[k]);
        double rate[2];
        for (int k = 0; k < 2; k++) {
            rate[k] = median_rate(&b[k]);
            time[k] += b[k].t[REPS / 2];
            impl[k] = b[k].impl;
            release(&b[k]);
        }
        flop += b[0].flop;
        printf("%-30s %16.1f %16.1f\n", name, rate[0], rate[1]);
    }
    printf("%-30s %16.1f %16.1f\n", "all (total flop / total time)", flop / time[0] * 1e-9,
           flop / time[1] * 1e-9);
    printf("implementations: ndhwc %s, nCdhw16c %s\n", impl[0], impl[1]);
    dnnl_stream_destroy(st);
    dnnl_engine_destroy(eng);
    return 0;
}
