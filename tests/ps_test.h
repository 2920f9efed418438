/* ps_test.h - shared helpers for the Check unit tests.
 *
 * Each test program is one Check suite; main() comes from PS_TEST_MAIN. Expected values carry
 * their source in a comment beside them (hand calculation, analytic phantom, or a reference
 * implementation run by a script in tests/reference/ whose output is a golden file).
 */
#ifndef PS_TEST_H
#define PS_TEST_H

#include <check.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Named tolerances (relative unless stated). */
#define PS_TOL_EXACT 1e-12  /* closed forms computed the same way                     */
#define PS_TOL_REF 1e-9     /* against a reference implementation (scipy, R, ...)     */
#define PS_TOL_MM 1e-6      /* absolute, distances in mm against golden files          */

/* |a - b| <= tol * max(1, |b|); NaN equals NaN, inf equals inf of the same sign. */
#define ck_assert_close(a, b, tol)                                                       \
    do {                                                                                 \
        double ps_a_ = (double)(a), ps_b_ = (double)(b), ps_t_ = (double)(tol);         \
        int ps_ok_;                                                                      \
        if (isnan(ps_b_)) ps_ok_ = isnan(ps_a_);                                         \
        else if (isinf(ps_b_)) ps_ok_ = ps_a_ == ps_b_;                                  \
        else ps_ok_ = fabs(ps_a_ - ps_b_) <= ps_t_ * fmax(1.0, fabs(ps_b_));             \
        ck_assert_msg(ps_ok_, "%s = %.17g, expected %s = %.17g (tol %g)", #a, ps_a_, #b, \
                      ps_b_, ps_t_);                                                     \
    } while (0)

/* Absolute tolerance variant. */
#define ck_assert_close_abs(a, b, tol)                                                   \
    do {                                                                                 \
        double ps_a_ = (double)(a), ps_b_ = (double)(b);                                 \
        int ps_ok_ = isnan(ps_b_) ? isnan(ps_a_)                                         \
                     : isinf(ps_b_) ? ps_a_ == ps_b_ : fabs(ps_a_ - ps_b_) <= (tol);     \
        ck_assert_msg(ps_ok_, "%s = %.17g, expected %s = %.17g (abs tol %g)", #a, ps_a_, \
                      #b, ps_b_, (double)(tol));                                         \
    } while (0)

/* Path of a file below tests/ in the source tree (PS_TEST_SRCDIR is set by meson).
 * Returns a static buffer: use before the next call. */
static inline const char *ps_test_path(const char *rel)
{
    static char buf[4096];
    const char *root = getenv("PS_TEST_SRCDIR");
    snprintf(buf, sizeof buf, "%s/%s", root ? root : "tests", rel);
    return buf;
}

/* A scratch directory for files a test writes (PS_TEST_TMPDIR, set by meson to the build
 * tree). Returns a static buffer. */
static inline const char *ps_test_tmp(const char *name)
{
    static char buf[4096];
    const char *root = getenv("PS_TEST_TMPDIR");
    snprintf(buf, sizeof buf, "%s/%s", root ? root : "/tmp", name);
    return buf;
}

#define PS_TEST_MAIN(make_suite)                                                         \
    int main(void)                                                                       \
    {                                                                                    \
        SRunner *sr = srunner_create(make_suite());                                      \
        srunner_run_all(sr, CK_NORMAL);                                                  \
        int nfail = srunner_ntests_failed(sr);                                           \
        srunner_free(sr);                                                                \
        return nfail ? EXIT_FAILURE : EXIT_SUCCESS;                                      \
    }

#endif
