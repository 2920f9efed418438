/* fma_peak.c - measured FP32 peak of this machine: every thread runs chains of independent
 * fused multiply-adds (enough chains to hide the FMA latency on two FMA ports) on the widest
 * vectors the compiler targets. Build: cc -O3 -fopenmp -march=native fma_peak.c -o fma_peak
 * Usage: fma_peak [threads]   prints GFLOP/s (2 flops per FMA lane). */
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
    const long iters = 100000000L / VW;
    double best = 0;
    for (int rep = 0; rep < 5; rep++) {
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
        double gf = 2.0 * VW * CHAINS * (double)iters * threads / t * 1e-9;
        if (gf > best)
            best = gf;
        if (sink == 12345.0f)
            printf("!");
    }
    printf("%s %d thread(s): %.1f GFLOP/s FP32 peak (best of 5)\n", ISA, threads, best);
    return 0;
}
