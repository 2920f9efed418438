/* bench_agreement.c - timing of the multi-rater work of one case (issue 10): read k label maps
 * (.nii.gz), then all pairwise metrics (one EDT per mask, shared), the voxel table with Fleiss'
 * kappa and Krippendorff's alpha, and binary STAPLE with its consensus map. Prints
 * "read_s compute_s" (wall clock) and the per-step times on stderr.
 * Usage: bench_agreement R1.nii.gz R2.nii.gz ...   (run by bench/bench_agreement.sh)
 */
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "ps_io.h"
#include "ps_metrics.h"
#include "ps_stats.h"

static double now(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

int main(int argc, char **argv)
{
    int k = argc - 1;
    if (k < 2 || k > 16) {
        fprintf(stderr, "usage: bench_agreement R1.nii.gz R2.nii.gz ... (2 to 16 files)\n");
        return 2;
    }
    ps_volume *v[16];
    double t0 = now();
    for (int r = 0; r < k; r++)
        if (ps_volume_read_labels(argv[r + 1], &v[r])) {
            fprintf(stderr, "%s\n", ps_error_message());
            return 1;
        }
    double t1 = now();
    ps_region reg = {1, {1}};
    ps_rater_set *s = NULL;
    if (ps_rater_set_create((const ps_volume *const *)v, k, &reg, NULL, NULL, &s)) {
        fprintf(stderr, "%s\n", ps_error_message());
        return 1;
    }
    double t2 = now(), dsum = 0;
    for (int a = 0; a < k; a++)
        for (int b = a + 1; b < k; b++) {
            ps_case_metrics m;
            if (ps_rater_set_pair(s, a, b, &m))
                return 1;
            dsum += m.dice;
        }
    double t3 = now();
    int64_t hist[17];
    double rows[34], nsub[17];
    if (ps_rater_set_histogram(s, NULL, 0, NULL, NULL, hist))
        return 1;
    for (int m = 0; m <= k; m++) {
        rows[2 * m] = k - m;
        rows[2 * m + 1] = m;
        nsub[m] = (double)hist[m];
    }
    ps_kappa_fleiss_result fr;
    ps_kripp_alpha kr;
    if (ps_kappa_fleiss_counts(rows, nsub, (size_t)k + 1, k, 2, &fr) ||
        ps_krippendorff_nominal_counts(rows, nsub, (size_t)k + 1, 2, &kr))
        return 1;
    double t4 = now();
    int64_t *pat = malloc(((size_t)1 << k) * sizeof *pat);
    uint8_t *in = malloc((size_t)1 << k);
    ps_staple_result sr;
    ps_volume *cons = NULL;
    if (ps_rater_set_patterns(s, NULL, 0, NULL, NULL, pat) || ps_staple_binary(pat, k, NULL, &sr) ||
        ps_volume_create(&v[0]->geom, 1, PS_DT_INT32, &cons))
        return 1;
    for (size_t p = 0; p < (size_t)1 << k; p++)
        in[p] = sr.w[p] >= 0.5;
    if (ps_rater_set_paint(s, in, 1, cons))
        return 1;
    double t5 = now();
    fprintf(stderr, "read %.3f s; EDTs %.3f s; %d pairs %.3f s (mean Dice %.4f); Fleiss %.4f "
            "alpha %.4f %.3f s; STAPLE (%d iterations) + consensus %.3f s\n", t1 - t0, t2 - t1,
            k * (k - 1) / 2, t3 - t2, dsum / (k * (k - 1) / 2), fr.kappa, kr.alpha, t4 - t3,
            sr.iterations, t5 - t4);
    printf("%.6f %.6f\n", t1 - t0, t5 - t1);
    ps_staple_result_clear(&sr);
    ps_volume_free(cons);
    free(pat);
    free(in);
    ps_rater_set_free(s);
    for (int r = 0; r < k; r++)
        ps_volume_free(v[r]);
    return 0;
}
