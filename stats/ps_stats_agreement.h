/* ps_stats_agreement.h - inter-rater agreement: Cohen's, Fleiss' and Light's kappa,
 * Krippendorff's alpha, and the six Shrout-Fleiss intraclass correlations.
 * Included at the end of ps_stats.h; the conventions stated there hold here too.
 *
 * Data layout: ratings of `n` subjects (units) by `raters` raters are one row-major array,
 * x[i * raters + j] = rating of subject i by rater j. Categorical ratings are category codes
 * 0..ncat-1 (see ps_agree_labels for turning text cells into codes); continuous ratings are
 * doubles.
 *
 * Every formula, its source and the reference implementation it is tested against are written
 * in docs/agreement.md. In short:
 *   Cohen's kappa     SAS PROC FREQ / statsmodels cohens_kappa (Fleiss, Cohen & Everitt 1969)
 *   Fleiss' kappa     Fleiss (1971); SE under kappa = 0 from Fleiss, Nee & Landis (1979) as in
 *                     R irr::kappam.fleiss (exact = FALSE)
 *   Light's kappa     mean of the pairwise unweighted Cohen's kappas (Light 1971; irr)
 *   Krippendorff      Krippendorff (2011), coincidences of pairable values
 *   ICC               Shrout & Fleiss (1979), McGraw & Wong (1996), confidence limits as in
 *                     R psych::ICC
 *
 * Undefined statistics (a single category, zero chance disagreement, n < 2, all ratings equal)
 * are PS_ERR_NUMERIC with a message that says why. All functions are reentrant.
 */
#ifndef PS_STATS_AGREEMENT_H
#define PS_STATS_AGREEMENT_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* ---- categories of text ratings -------------------------------------------------------- */
/* A rating cell is missing when it is empty or one of "NA", "nan" (any letter case). */
int ps_agree_is_missing(const char *cell);

/* The categories found in a set of text ratings. When every non-missing cell is a finite
 * number, categories are the distinct numeric values in increasing numeric order ("1" and
 * "1.0" are one category; 2 < 10); otherwise the distinct strings in strcmp() order. */
typedef struct ps_agree_labels {
    int ncat;
    int numeric;     /* 1 when every category is a number                                */
    char **names;    /* ncat labels in category order (the first spelling seen)          */
    double *values;  /* ncat numeric values when `numeric`, else NULL                    */
} ps_agree_labels;

/* Code cells[0..n-1]: codes[i] = category of cells[i], or -1 when the cell is missing.
 * PS_ERR_NUMERIC when no cell is present. Free the labels with ps_agree_labels_free(). */
int ps_agree_labels_code(const char *const *cells, size_t n, int *codes, ps_agree_labels **out);
void ps_agree_labels_free(ps_agree_labels *labels);

/* ---- Cohen's kappa (two raters) --------------------------------------------------------- */
typedef enum ps_kappa_weights {
    PS_KAPPA_UNWEIGHTED = 0,
    PS_KAPPA_LINEAR,    /* agreement weight 1 - |i - j| / (k - 1)     (Cicchetti-Allison) */
    PS_KAPPA_QUADRATIC, /* agreement weight 1 - (i - j)^2 / (k - 1)^2 (Fleiss-Cohen)      */
} ps_kappa_weights;

/* "none" (also "unweighted"), "linear", "quadratic"; PS_ERR_ARG otherwise. */
int ps_kappa_weights_parse(const char *s, ps_kappa_weights *out);
const char *ps_kappa_weights_name(ps_kappa_weights w);

typedef struct ps_kappa_cohen_result {
    int64_t n;                  /* subjects                                               */
    int ncat;                   /* categories of the table                                */
    double po, pe;              /* observed and chance agreement (weighted when weighted) */
    double kappa;               /* (po - pe) / (1 - pe)                                   */
    double se;                  /* asymptotic SE (Fleiss, Cohen & Everitt 1969)           */
    double se0;                 /* SE under H0: kappa = 0                                 */
    double z, p;                /* z = kappa / se0, two-sided normal p; NaN when se0 = 0  */
    double level, ci_low, ci_high; /* kappa -+ z_{(1+level)/2} se                         */
} ps_kappa_cohen_result;

/* Cohen's kappa of a ncat x ncat table of counts (row-major; rows = rater 1, columns =
 * rater 2). Weights use the category positions 0..ncat-1 as scores (as SAS, statsmodels,
 * sklearn and irr do). ncat >= 2, counts finite and >= 0, total > 0, chance agreement < 1. */
int ps_kappa_cohen_table(const double *table, int ncat, ps_kappa_weights w, double level,
                         ps_kappa_cohen_result *out);

/* Cohen's kappa of paired codes a[i], b[i] in 0..ncat-1 (no missing values). The categories
 * are those observed in a or b (unobserved codes are dropped before weighting, as irr::kappa2
 * and sklearn do), so out->ncat may be smaller than ncat. */
int ps_kappa_cohen(const int *a, const int *b, size_t n, int ncat, ps_kappa_weights w,
                   double level, ps_kappa_cohen_result *out);

/* ---- Fleiss' and Light's kappa (two or more raters) ------------------------------------- */
typedef struct ps_kappa_fleiss_result {
    int64_t n;      /* subjects                                                           */
    int raters;
    double po, pe;  /* mean pairwise agreement P-bar and chance agreement sum p_j^2       */
    double kappa;   /* (po - pe) / (1 - pe)                                               */
    double se0;     /* SE under kappa = 0 (Fleiss, Nee & Landis 1979; irr::kappam.fleiss) */
    double z, p;    /* z = kappa / se0, two-sided normal p                                */
} ps_kappa_fleiss_result;

/* Fleiss' kappa of codes[i * raters + j] in 0..ncat-1 (complete data, raters >= 2). */
int ps_kappa_fleiss(const int *codes, size_t n, int raters, int ncat,
                    ps_kappa_fleiss_result *out);

/* Light's kappa: the mean of the unweighted Cohen's kappas of all raters*(raters-1)/2 pairs.
 * If `pairs` is not NULL it receives the pairwise kappas in the order (0,1), (0,2), ...,
 * (1,2), ... PS_ERR_NUMERIC if a pair's kappa is undefined. */
int ps_kappa_light(const int *codes, size_t n, int raters, int ncat, double *kappa,
                   double *pairs);

/* ---- Krippendorff's alpha ------------------------------------------------------------- */
typedef enum ps_alpha_metric {
    PS_ALPHA_NOMINAL = 0, /* d^2 = [c != k]                                               */
    PS_ALPHA_ORDINAL,     /* d^2 = (sum_{g=c..k} n_g - (n_c + n_k)/2)^2                   */
    PS_ALPHA_INTERVAL,    /* d^2 = (c - k)^2                                              */
    PS_ALPHA_RATIO,       /* d^2 = ((c - k) / (c + k))^2  (0 when c = k = 0)              */
} ps_alpha_metric;

/* "nominal", "ordinal", "interval", "ratio"; PS_ERR_ARG otherwise. */
int ps_alpha_metric_parse(const char *s, ps_alpha_metric *out);
const char *ps_alpha_metric_name(ps_alpha_metric m);

typedef struct ps_kripp_alpha {
    int64_t units;     /* units with >= 2 ratings (the only ones that count)             */
    int64_t pairable;  /* n.. : number of pairable values                                 */
    int nvalues;       /* distinct pairable values                                        */
    double d_o, d_e;   /* observed and expected disagreement                              */
    double alpha;      /* 1 - d_o / d_e                                                   */
} ps_kripp_alpha;

/* Krippendorff's alpha of x[i * raters + j] (NaN = missing rating; +-Inf is an error).
 * Values are compared exactly. Ratio data must be >= 0. `threads` OpenMP threads for the
 * expected disagreement of the ordinal and ratio metrics (0 = all); the result does not
 * depend on it. PS_ERR_NUMERIC when no unit has two ratings or all pairable values are equal. */
int ps_krippendorff_alpha(const double *x, size_t n, int raters, ps_alpha_metric metric,
                          int threads, ps_kripp_alpha *out);

/* ---- the same from a table of rating patterns (many identical subjects, e.g. voxels) ------
 * rows[p * ncat + j] = how many raters chose category j in pattern p (integers >= 0), nsub[p]
 * = number of subjects with that pattern. Equal to ps_kappa_fleiss / ps_krippendorff_alpha
 * (nominal) on the expanded subjects up to summation order. Fleiss needs every used pattern to
 * hold `raters` ratings; Krippendorff counts the patterns with >= 2 ratings. */
int ps_kappa_fleiss_counts(const double *rows, const double *nsub, size_t npat, int raters,
                           int ncat, ps_kappa_fleiss_result *out);
int ps_krippendorff_nominal_counts(const double *rows, const double *nsub, size_t npat,
                                   int ncat, ps_kripp_alpha *out);

/* ---- intraclass correlation ------------------------------------------------------------- */
typedef enum ps_icc_form {
    PS_ICC1 = 0, /* ICC(1,1): one-way random, single rater                               */
    PS_ICC2,     /* ICC(2,1) = ICC(A,1): two-way random, absolute agreement, single rater */
    PS_ICC3,     /* ICC(3,1) = ICC(C,1): two-way mixed, consistency, single rater        */
    PS_ICC1K,    /* ICC(1,k): one-way random, mean of k raters                           */
    PS_ICC2K,    /* ICC(2,k) = ICC(A,k)                                                  */
    PS_ICC3K,    /* ICC(3,k) = ICC(C,k)                                                  */
} ps_icc_form;
#define PS_ICC_NFORMS 6

/* "ICC1", "ICC2", "ICC3", "ICC1k", "ICC2k", "ICC3k" (the names psych::ICC and pingouin use). */
const char *ps_icc_form_name(ps_icc_form f);
/* A short description, e.g. "two-way random, absolute agreement, single rater". */
const char *ps_icc_form_description(ps_icc_form f);

typedef struct ps_icc_estimate {
    double icc;
    double f, df1, df2, p;   /* F test of H0: ICC = 0 (upper tail)                          */
    double ci_low, ci_high;  /* confidence limits at `level`                                */
} ps_icc_estimate;

typedef struct ps_icc_result {
    int64_t n;              /* subjects                                                   */
    int raters;             /* k                                                          */
    double level;
    double msb, msj, msw, mse;  /* mean squares: between subjects, between raters (judges),
                                   within subjects, residual                              */
    ps_icc_estimate form[PS_ICC_NFORMS]; /* indexed by ps_icc_form                        */
} ps_icc_result;

/* All six ICC forms of the complete n x raters matrix x (n >= 2, raters >= 2, finite values).
 * PS_ERR_NUMERIC when the subject means are all equal (between-subject mean square 0).
 * When the residual mean square is 0 (ratings exactly additive), F = +inf, p = 0 and the
 * limits of the affected forms are their limits as F -> inf (docs/agreement.md). */
int ps_icc(const double *x, size_t n, int raters, double level, ps_icc_result *out);

#ifdef __cplusplus
}
#endif
#endif /* PS_STATS_AGREEMENT_H */
