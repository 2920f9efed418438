/* alloc.c - allocation helpers that record PS_ERR_NOMEM with the requested size. */
#include "ps_core.h"

#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

int ps_mul_size(size_t a, size_t b, size_t *out)
{
    if (a && b > SIZE_MAX / a)
        return ps_error(PS_ERR_NOMEM, "size overflow: %zu x %zu", a, b);
    *out = a * b;
    return PS_OK;
}

int ps_mul3_size(size_t a, size_t b, size_t c, size_t *out)
{
    size_t ab;
    if (ps_mul_size(a, b, &ab))
        return PS_ERR_NOMEM;
    return ps_mul_size(ab, c, out);
}

void *ps_malloc(size_t size)
{
    void *p = malloc(size ? size : 1);
    if (!p)
        ps_error(PS_ERR_NOMEM, "out of memory allocating %zu bytes", size);
    return p;
}

void *ps_malloc_large(size_t size)
{
    const size_t huge = (size_t)2 << 20;
    if (size < 4 * huge)
        return ps_malloc(size);
    void *p = NULL;
    size_t rounded = (size + huge - 1) / huge * huge;
    if (rounded < size || posix_memalign(&p, huge, rounded)) {
        ps_error(PS_ERR_NOMEM, "out of memory allocating %zu bytes", size);
        return NULL;
    }
#ifdef MADV_HUGEPAGE
    madvise(p, rounded, MADV_HUGEPAGE); /* advice only: failure changes nothing */
#endif
    return p;
}

void *ps_malloc_array(size_t n, size_t size)
{
    size_t total;
    if (ps_mul_size(n, size, &total))
        return NULL;
    return ps_malloc(total);
}

void *ps_calloc(size_t n, size_t size)
{
    size_t total;
    if (ps_mul_size(n, size, &total))
        return NULL;
    void *p = calloc(n ? n : 1, size ? size : 1);
    if (!p)
        ps_error(PS_ERR_NOMEM, "out of memory allocating %zu bytes", total);
    return p;
}

void *ps_realloc_array(void *p, size_t n, size_t size)
{
    size_t total;
    if (ps_mul_size(n, size, &total))
        return NULL;
    void *q = realloc(p, total ? total : 1);
    if (!q)
        ps_error(PS_ERR_NOMEM, "out of memory allocating %zu bytes", total);
    return q;
}

char *ps_strdup(const char *s)
{
    return ps_strndup(s, strlen(s));
}

char *ps_strndup(const char *s, size_t n)
{
    size_t len = strnlen(s, n);
    char *p = ps_malloc(len + 1);
    if (p) {
        memcpy(p, s, len);
        p[len] = '\0';
    }
    return p;
}

char *ps_asprintf(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    if (n < 0) {
        ps_error(PS_ERR_INTERNAL, "bad format string");
        return NULL;
    }
    char *p = ps_malloc((size_t)n + 1);
    if (!p)
        return NULL;
    va_start(ap, fmt);
    vsnprintf(p, (size_t)n + 1, fmt, ap);
    va_end(ap);
    return p;
}
