/* alloc.c - allocation helpers that record PS_ERR_NOMEM with the requested size. */
#include "ps_core.h"

#include <stdarg.h>
#include <stdint.h>
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

/* ---- large blocks ------------------------------------------------------------------------
 * Every block starts with a header of LARGE_HDR bytes (its total size and a tag), so that
 * ps_free_large knows what it releases; the caller's pointer follows the header and keeps
 * 64-byte alignment. Blocks of LARGE_MIN bytes or more are 2 MiB aligned (the huge pages line
 * up with the block) and, when released, kept in a small process-wide cache for the next
 * request they can hold: an evaluation reads one label map after another, and a fresh
 * mapping of each would make the kernel zero every page again (a third of a run's time on
 * mostly-empty CT label maps). The cache holds at most LARGE_CACHE blocks and
 * LARGE_CACHE_BYTES bytes, and a request that none of them can hold frees the smallest one:
 * the blocks of a run converge to as many as are in use at once, of the largest size seen,
 * and memory stays bounded by that (at most twice it while the sizes grow). */
#include <pthread.h>

enum { LARGE_HDR = 64, LARGE_CACHE = 8 };
#define LARGE_MIN ((size_t)8 << 20)
#define LARGE_HUGE ((size_t)2 << 20)
#define LARGE_CACHE_BYTES ((size_t)1 << 30)
#define LARGE_TAG_SMALL 0x70736c61726773ULL /* "psmlargs" */
#define LARGE_TAG_HUGE 0x70736c61726768ULL
#define LARGE_TAG_MAP 0x70736c6172676dULL /* a fresh zeroed mapping (ps_calloc_large) */

typedef struct large_hdr {
    uint64_t tag;
    size_t total; /* bytes of the whole block, header included */
} large_hdr;

static pthread_mutex_t large_lock = PTHREAD_MUTEX_INITIALIZER;
static struct {
    void *base;
    size_t total;
} large_cache[LARGE_CACHE];
static int large_ncached;
static size_t large_cached_bytes;

/* Take the smallest cached block of at least `total` bytes. When none is that large, the
 * smallest cached block is freed (the new block the caller makes takes its place, so the
 * blocks do not pile up while the images grow) and NULL is returned. */
static void *large_cache_take(size_t total, size_t *got)
{
    void *base = NULL;
    pthread_mutex_lock(&large_lock);
    int best = -1;
    for (int i = 0; i < large_ncached; i++)
        if (large_cache[i].total >= total &&
            (best < 0 || large_cache[i].total < large_cache[best].total))
            best = i;
    if (best >= 0) {
        base = large_cache[best].base;
        *got = large_cache[best].total;
        large_cached_bytes -= *got;
        large_cache[best] = large_cache[--large_ncached];
    } else if (large_ncached > 0) {
        int small = 0;
        for (int i = 1; i < large_ncached; i++)
            if (large_cache[i].total < large_cache[small].total)
                small = i;
        free(large_cache[small].base);
        large_cached_bytes -= large_cache[small].total;
        large_cache[small] = large_cache[--large_ncached];
    }
    pthread_mutex_unlock(&large_lock);
    return base;
}

/* Keep a released block, or free it (or the smallest cached one, to make room). */
static void large_cache_put(void *base, size_t total)
{
    void *drop = base;
    pthread_mutex_lock(&large_lock);
    if (total <= LARGE_CACHE_BYTES) {
        while (large_ncached > 0 &&
               (large_ncached == LARGE_CACHE || large_cached_bytes + total > LARGE_CACHE_BYTES)) {
            int small = 0;
            for (int i = 1; i < large_ncached; i++)
                if (large_cache[i].total < large_cache[small].total)
                    small = i;
            if (large_cache[small].total >= total)
                break; /* everything cached is at least as useful: drop this one */
            free(large_cache[small].base);
            large_cached_bytes -= large_cache[small].total;
            large_cache[small] = large_cache[--large_ncached];
        }
        if (large_ncached < LARGE_CACHE && large_cached_bytes + total <= LARGE_CACHE_BYTES) {
            large_cache[large_ncached].base = base;
            large_cache[large_ncached++].total = total;
            large_cached_bytes += total;
            drop = NULL;
        }
    }
    pthread_mutex_unlock(&large_lock);
    free(drop);
}

/* A block of `size` bytes after the header. zero: filled with zeros; from LARGE_MIN on a fresh
 * anonymous mapping, whose pages the kernel provides zeroed when they are first touched, so a
 * consumer that writes a few pieces of a large buffer (the sparse inflate of a label map) pays
 * for those pieces only; never from the cache (its blocks hold old data). */
static void *large_alloc(size_t size, int zero)
{
    if (size > SIZE_MAX - LARGE_HDR - LARGE_HUGE) {
        ps_error(PS_ERR_NOMEM, "out of memory allocating %zu bytes", size);
        return NULL;
    }
    size_t total = size + LARGE_HDR;
    unsigned char *base = NULL;
    uint64_t tag = LARGE_TAG_SMALL;
    if (total < LARGE_MIN) {
        void *p = NULL;
        if (posix_memalign(&p, LARGE_HDR, total))
            goto nomem;
        if (zero)
            memset(p, 0, total);
        base = p;
    } else if (zero) {
        tag = LARGE_TAG_MAP;
        total = (total + 4095) / 4096 * 4096;
        void *p = mmap(NULL, total, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
        if (p == MAP_FAILED)
            goto nomem;
        base = p;
    } else {
        tag = LARGE_TAG_HUGE;
        total = (total + LARGE_HUGE - 1) / LARGE_HUGE * LARGE_HUGE;
        size_t got = 0;
        void *p = large_cache_take(total, &got);
        if (p) {
            total = got;
        } else {
            if (posix_memalign(&p, LARGE_HUGE, total))
                goto nomem;
#ifdef MADV_HUGEPAGE
            madvise(p, total, MADV_HUGEPAGE); /* advice only: failure changes nothing */
#endif
        }
        base = p;
    }
    large_hdr h = {tag, total};
    memcpy(base, &h, sizeof h);
    return base + LARGE_HDR;
nomem:
    ps_error(PS_ERR_NOMEM, "out of memory allocating %zu bytes", size);
    return NULL;
}

void *ps_malloc_large(size_t size) { return large_alloc(size, 0); }
void *ps_calloc_large(size_t size) { return large_alloc(size, 1); }

void ps_free_large(void *p)
{
    if (!p)
        return;
    unsigned char *base = (unsigned char *)p - LARGE_HDR;
    large_hdr h;
    memcpy(&h, base, sizeof h);
    if (h.tag == LARGE_TAG_HUGE)
        large_cache_put(base, h.total);
    else if (h.tag == LARGE_TAG_MAP)
        munmap(base, h.total);
    else
        free(base);
}

void ps_large_cache_release(void)
{
    pthread_mutex_lock(&large_lock);
    for (int i = 0; i < large_ncached; i++)
        free(large_cache[i].base);
    large_ncached = 0;
    large_cached_bytes = 0;
    pthread_mutex_unlock(&large_lock);
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
