/* fma_peak.c - measured FP32 peak of this machine: every thread runs chains of independent
 * fused multiply-adds (enough chains to hide the FMA latency on two FMA ports) on the widest
 * vectors the compiler targets. Build: cc -O3 -fopenmp -march=native fma_peak.c -o fma_peak
 * Usage: fma_peak [threads]   prints GFLOP/s (2 flops per FMA lane): the median and the best
 * of 9 runs of ~0.15 s each. On a shared machine the median is the figure to hold a
 * convolution's median time against; the best shows what the cores give when nothing else
 * runs on them. */
#include <immintrin.h>
#include <omp.h>
#include <stdio.h>
#include <stdlib.h>

#if defined(__AVX512F__)
typedef __m512 vec;
#define VW 16
#define FMA(a, b, c) _mm512_fmadd_ps(a, b, c)
#define SET1(x) _mm512_set1_ps(x)
#define SUM(v) _mm512_reduce_add_ps(v)
#define ISA "avx512"
#else
typedef __m256 vec;
#define VW 8
#define FMA(a, b, c) _mm256_fmadd_ps(a, b, c)
#define SET1(x) _mm256_set1_ps(x)
static float SUM(__m256 v) { float t[8]; _mm256_storeu_ps(t, v); float s = 0; for (int i = 0; i < 8; i++) s += t[i]; return s; }
#define ISA "avx2"
#endif

#define CHAINS 12

int main(int argc, char **argv)
{
    int threads = argc > 1 ? atoi(argv[1]) : omp_get_max_threads();
    const long iters = 1000000000L / VW;
    enum { REPS = 9 };
    double rate[REPS];
    for (int rep = 0; rep < REPS; rep++) {
        float sink = 0;
        double t0 = omp_get_wtime();
#pragma omp parallel num_threads(threads) reduction(+ : sink)
        {
            vec acc[CHAINS];
            for (int c = 0; c < CHAINS; c++)
                acc[c] = SET1(1.0f + c * 1e-3f);
            const vec a = SET1(0.999999f), b = SET1(1e-7f);
            for (long i = 0; i < iters; i++)
                for (int c = 0; c < CHAINS; c++)
                    acc[c] = FMA(acc[c], a, b);
            for (int c = 0; c < CHAINS; c++)
                sink += SUM(acc[c]);
        }
        double t = omp_get_wtime() - t0;
        rate[rep] = 2.0 * VW * CHAINS * (double)iters * threads / t * 1e-9;
        if (sink == 12345.0f)
            printf("!");
    }
    for (int i = 1; i < REPS; i++) /* insertion sort, ascending */
        for (int k = i; k > 0 && rate[k] < rate[k - 1]; k--) {
            double t = rate[k];
            rate[k] = rate[k - 1];
            rate[k - 1] = t;
        }
    printf("%s %d thread(s): FP32 peak %.1f GFLOP/s (median of %d), best %.1f\n", ISA, threads,
           rate[REPS / 2], REPS, rate[REPS - 1]);
    return 0;
}
