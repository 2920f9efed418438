/* stats_internal.h - helpers shared by the stats sources (not part of the public API). */
#ifndef PS_STATS_INTERNAL_H
#define PS_STATS_INTERNAL_H

#include <stddef.h>
#include <stdint.h>

/* PS_ERR_ARG "<what>[i] is NaN/Inf" for the first non-finite value, else 0. */
int ps_stats_check_finite_(const double *x, size_t n, const char *what);

/* Mean with a second correction pass (as R's mean()): m = sum/n, m += sum(x - m)/n. */
double ps_stats_mean_(const double *x, size_t n);

/* Correctly rounded sum of x[0..n-1] (Shewchuk 1997, "Adaptive precision floating-point
 * arithmetic"; the algorithm of Python's math.fsum): independent of the order of x. */
double ps_stats_fsum_(const double *x, size_t n);

/* Sum of squared deviations from `mean`. */
double ps_stats_ssd_(const double *x, size_t n, double mean);

/* Ascending sort of doubles (no NaN). */
void ps_stats_sort_(double *x, size_t n);

/* Sort x (no NaN) and keep each distinct value once, in x[0..k-1]; returns k. */
size_t ps_stats_sorted_unique_(double *x, size_t n);

/* Index of v in the ascending values u[0..k-1] (k >= 1): the first i with u[i] >= v. */
int ps_stats_lower_bound_(const double *u, int k, double v);

/* Finishing steps shared by the per-subject and the count-table entry points (kappa.c,
 * krippendorff.c): see there. */
struct ps_kappa_fleiss_result;
struct ps_kripp_alpha;
int ps_stats_fleiss_finish_(double dis, const double *tot, double N, int raters, int ncat,
                            struct ps_kappa_fleiss_result *out);
int ps_stats_alpha_finish_(double obs, double exp_sum, double ntot, int64_t units, int nvalues,
                           struct ps_kripp_alpha *out);

#endif
