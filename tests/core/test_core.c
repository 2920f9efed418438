/* Tests of src/core: error messages and their context, overflow checks, context defaults.
 * Expected strings and numbers are hand-written from the API contract in ps_core.h. */
#include "ps_core.h"
#include "ps_test.h"

#include <stdint.h>

START_TEST(error_message_and_code)
{
    ps_error_clear();
    ck_assert_str_eq(ps_error_message(), "");
    ck_assert_int_eq(ps_error_code(), PS_OK);
    int rc = ps_error(PS_ERR_FORMAT, "bad byte %d", 7);
    ck_assert_int_eq(rc, PS_ERR_FORMAT);
    ck_assert_int_eq(ps_error_code(), PS_ERR_FORMAT);
    ck_assert_str_eq(ps_error_message(), "bad byte 7");
}
END_TEST

START_TEST(error_context_prepends)
{
    ps_error(PS_ERR_IO, "cannot open");
    ck_assert_int_eq(ps_error_context(PS_ERR_IO, "%s", "a.nii.gz"), PS_ERR_IO);
    ck_assert_int_eq(ps_error_context(PS_ERR_IO, "case %d", 3), PS_ERR_IO);
    ck_assert_str_eq(ps_error_message(), "case 3: a.nii.gz: cannot open");
}
END_TEST

START_TEST(error_context_without_message)
{
    ps_error_clear();
    ps_error_context(PS_ERR_ARG, "ctx");
    ck_assert_str_eq(ps_error_message(), "ctx");
    ck_assert_int_eq(ps_error_code(), PS_ERR_ARG);
}
END_TEST

START_TEST(error_context_long_message_truncates_safely)
{
    char big[6000];
    memset(big, 'x', sizeof big - 1);
    big[sizeof big - 1] = '\0';
    ps_error(PS_ERR_FORMAT, "%s", big);
    ps_error_context(PS_ERR_FORMAT, "prefix");
    const char *m = ps_error_message();
    ck_assert(strncmp(m, "prefix: xxx", 11) == 0);
    ck_assert_uint_lt(strlen(m), 4096);
}
END_TEST

START_TEST(mul_overflow)
{
    size_t out = 0;
    ck_assert_int_eq(ps_mul_size(1000, 1000, &out), PS_OK);
    ck_assert_uint_eq(out, 1000000);
    ck_assert_int_eq(ps_mul_size(SIZE_MAX / 2 + 1, 2, &out), PS_ERR_NOMEM);
    ck_assert_int_eq(ps_mul3_size(1u << 30, 1u << 30, 1u << 30, &out), PS_ERR_NOMEM);
    ck_assert_ptr_null(ps_malloc_array(SIZE_MAX / 4, 8));
    ck_assert_int_eq(ps_error_code(), PS_ERR_NOMEM);
}
END_TEST

START_TEST(strings)
{
    char *s = ps_asprintf("%s-%03d", "case", 7);
    ck_assert_str_eq(s, "case-007");
    free(s);
    s = ps_strndup("abcdef", 3);
    ck_assert_str_eq(s, "abc");
    free(s);
}
END_TEST

START_TEST(context_defaults)
{
    ps_context c;
    ps_context_init(&c);
    ck_assert_int_eq(c.threads, 0);
    ck_assert_int_eq(c.verbosity, 1);
    ck_assert_int_eq(c.progress, -1);
    ck_assert_int_ge(ps_context_threads(&c), 1);
    c.threads = 3;
    ck_assert_int_eq(ps_context_threads(&c), 3);
    ck_assert_str_eq(ps_status_name(PS_ERR_GEOMETRY), "geometry mismatch");
}
END_TEST

/* ps_malloc_large / ps_free_large: alignment, recycling of released blocks (the same block
 * comes back for a request it can hold, a larger request gets a new one), the small path. */
START_TEST(large_blocks)
{
    ps_large_cache_release();
    const size_t mib = (size_t)1 << 20;
    unsigned char *a = ps_malloc_large(40 * mib);
    ck_assert_ptr_nonnull(a);
    ck_assert_uint_eq((uintptr_t)a % 64, 0);
    memset(a, 7, 40 * mib); /* the whole requested size is usable */
    ps_free_large(a);
    unsigned char *b = ps_malloc_large(30 * mib); /* fits in a's block: a's block again */
    ck_assert_ptr_eq(b, a);
    ck_assert_uint_eq(b[30 * mib - 1], 7); /* recycled, not cleared (malloc semantics) */
    unsigned char *c = ps_malloc_large(50 * mib); /* larger than anything cached: new */
    ck_assert_ptr_nonnull(c);
    ck_assert_ptr_ne(c, b);
    memset(c, 1, 50 * mib);
    ps_free_large(b);
    ps_free_large(c);
    unsigned char *d = ps_malloc_large(45 * mib); /* best fit: c's block (b's is too small) */
    ck_assert_ptr_eq(d, c);
    ps_free_large(d);
    unsigned char *e = ps_malloc_large(1000); /* small: plain heap, 64-byte aligned */
    ck_assert_ptr_nonnull(e);
    ck_assert_uint_eq((uintptr_t)e % 64, 0);
    memset(e, 0, 1000);
    ps_free_large(e);
    ps_free_large(NULL);
    ps_large_cache_release();
    ck_assert_ptr_null(ps_malloc_large(SIZE_MAX - 8)); /* overflow: refused, not wrapped */
    ck_assert_int_eq(ps_error_code(), PS_ERR_NOMEM);
}
END_TEST

/* ps_calloc_large: zeros, never a recycled block (which holds old bytes), small and large. */
START_TEST(large_zeroed_blocks)
{
    ps_large_cache_release();
    const size_t mib = (size_t)1 << 20;
    unsigned char *a = ps_malloc_large(20 * mib);
    ck_assert_ptr_nonnull(a);
    memset(a, 0xab, 20 * mib);
    ps_free_large(a); /* cached, dirty */
    unsigned char *z = ps_calloc_large(20 * mib);
    ck_assert_ptr_nonnull(z);
    ck_assert_ptr_ne(z, a);
    ck_assert_uint_eq((uintptr_t)z % 64, 0);
    size_t nonzero = 0;
    for (size_t i = 0; i < 20 * mib; i += 4093) /* sampled over every page */
        nonzero += z[i] != 0;
    ck_assert_uint_eq(nonzero + z[20 * mib - 1], 0);
    memset(z + 5 * mib, 3, 4096); /* writable */
    ps_free_large(z);             /* unmapped, not cached: the next large request is a's */
    unsigned char *b = ps_malloc_large(20 * mib);
    ck_assert_ptr_eq(b, a);
    ps_free_large(b);
    unsigned char *s = ps_calloc_large(1000);
    ck_assert_ptr_nonnull(s);
    for (int i = 0; i < 1000; i++)
        ck_assert_uint_eq(s[i], 0);
    ps_free_large(s);
    ck_assert_ptr_null(ps_calloc_large(SIZE_MAX - 8));
    ck_assert_int_eq(ps_error_code(), PS_ERR_NOMEM);
    ps_large_cache_release();
}
END_TEST

static Suite *core_suite(void)
{
    Suite *s = suite_create("core");
    TCase *tc = tcase_create("core");
    tcase_add_test(tc, error_message_and_code);
    tcase_add_test(tc, error_context_prepends);
    tcase_add_test(tc, error_context_without_message);
    tcase_add_test(tc, error_context_long_message_truncates_safely);
    tcase_add_test(tc, mul_overflow);
    tcase_add_test(tc, strings);
    tcase_add_test(tc, context_defaults);
    tcase_add_test(tc, large_blocks);
    tcase_add_test(tc, large_zeroed_blocks);
    suite_add_tcase(s, tc);
    return s;
}

PS_TEST_MAIN(core_suite)
