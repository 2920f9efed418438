/* inflate_sparse.c - inflate one gzip member of a label map into a zeroed buffer, writing only
 * the pieces that hold a non-zero byte (see io_internal.h, ps_io_inflate_sparse).
 *
 * Why: a CT label map is about 99.9% background and compresses about 700:1, so inflating it is
 * mostly writing zeros; libdeflate writes all of them to memory (43 MB for 512 x 512 x 165
 * voxels) and every consumer then reads them back. Here the stream is inflated into a ring of
 * about 1 MiB that stays in the core's cache; each run of output leaving the ring is cut into
 * PS_SPARSE_PIECE-byte pieces of the destination, and only the pieces with a non-zero byte are
 * copied out and marked in a map; the destination is fresh zeroed memory, so the others are
 * already right. The label scan (ps_label_scan_volume) then reads only the marked pieces.
 *
 * The decoder follows RFC 1951 (DEFLATE) and RFC 1952 (gzip): stored, fixed and dynamic
 * Huffman blocks; two-level decoding tables (10 bits + 5 for literal/lengths, 8 + 7 for
 * distances, 7 for the code-length code), codes built canonically from their lengths and
 * refused when over-subscribed; every distance checked against the output so far, every
 * length against the destination, every bit read checked against the input's end. The CRC-32
 * of the member is verified: libdeflate_crc32 over the non-zero pieces, and for the runs of
 * zeros the CRC register is advanced algebraically (multiplication by x^(8n) modulo the CRC
 * polynomial in GF(2), the identity behind zlib's crc32_combine). ISIZE is verified too.
 * Pieces are skipped only where the decoder knows it wrote zeros (zero literals, runs of a
 * zero byte) or where a look at the bytes finds only zeros; and since the CRC is computed from
 * what is copied out, a non-zero piece wrongly skipped would fail the check, not go unseen.
 *
 * Anything else (several members, a member that ends before or runs past the voxel data,
 * reserved flags, any corrupt data) returns PS_SPARSE_DECLINE and changes nothing the caller
 * keeps: the caller then reads the file the ordinary way (libdeflate, zlib), which produces
 * the output or the precise error message. So this path never decides what a file holds; it
 * only skips the zeros of files that the ordinary path would read to the same bytes.
 */
#include "io_internal.h"

#include <libdeflate.h>
#include <stdlib.h>
#include <string.h>

/* ---- bit input ------------------------------------------------------------------------------ */
typedef struct bits {
    const unsigned char *p, *end;
    uint64_t bb;     /* bit buffer, next bit in bit 0 */
    unsigned n;      /* valid bits in bb */
    size_t overrun;  /* zero bytes added past the end of the input */
} bits;

/* Eight bytes as a little-endian number, on any machine (compilers make it one load where
 * the machine is little-endian). */
static inline uint64_t load_le64(const unsigned char *p)
{
    uint64_t w = 0;
    for (int i = 7; i >= 0; i--)
        w = w << 8 | p[i];
    return w;
}

/* At least 56 valid bits afterwards (zeros past the end, counted in overrun). */
static inline void refill(bits *b)
{
    if (b->end - b->p >= 8) {
        uint64_t w = load_le64(b->p);
        b->bb |= w << b->n;
        b->p += (63 - b->n) >> 3;
        b->n |= 56;
        return;
    }
    while (b->n <= 56) {
        uint64_t c = 0;
        if (b->p < b->end)
            c = *b->p++;
        else
            b->overrun++;
        b->bb |= c << b->n;
        b->n += 8;
    }
}

static inline unsigned take(bits *b, unsigned k) /* k <= 32 bits, after a refill */
{
    unsigned v = (unsigned)(b->bb & ((1ull << k) - 1));
    b->bb >>= k;
    b->n -= k;
    return v;
}

/* ---- Huffman tables --------------------------------------------------------------------------
 * Entry (uint32): bits 0-7 the bits this level consumes, 8-11 the kind, 12-15 extra bits (of a
 * length or distance) or a subtable's index bits, 16-31 the value (literal, base length or
 * distance, code-length symbol, subtable offset). Kind 0 = no code: corrupt data. */
enum { K_BAD = 0, K_LIT, K_LEN, K_EOB, K_DIST, K_SYM, K_SUB };
#define E(kind, extra, val) \
    ((uint32_t)(kind) << 8 | (uint32_t)(extra) << 12 | (uint32_t)(val) << 16)
#define E_BITS(e) ((e) & 0xffu)
#define E_KIND(e) (((e) >> 8) & 0xfu)
#define E_EXTRA(e) (((e) >> 12) & 0xfu)
#define E_VAL(e) ((e) >> 16)

enum { LL_BITS = 10, D_BITS = 8, PRE_BITS = 7, MAX_LEN = 15 };
#define LL_CAP ((1u << LL_BITS) + 288u * (1u << (MAX_LEN - LL_BITS)))
#define D_CAP ((1u << D_BITS) + 32u * (1u << (MAX_LEN - D_BITS)))

static const uint16_t len_base[29] = {3,  4,  5,  6,  7,  8,  9,  10,  11,  13,
                                      15, 17, 19, 23, 27, 31, 35, 43,  51,  59,
                                      67, 83, 99, 115, 131, 163, 195, 227, 258};
static const uint8_t len_extra[29] = {0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 2, 2, 2,
                                      2, 3, 3, 3, 3, 4, 4, 4, 4, 5, 5, 5, 5, 0};
static const uint16_t dist_base[30] = {1,    2,    3,    4,    5,    7,    9,    13,    17,    25,
                                       33,   49,   65,   97,   129,  193,  257,  385,   513,   769,
                                       1025, 1537, 2049, 3073, 4097, 6145, 8193, 12289, 16385, 24577};
static const uint8_t dist_extra[30] = {0, 0, 0, 0, 1, 1, 2, 2,  3,  3,  4,  4,  5,  5,  6,
                                       6, 7, 7, 8, 8, 9, 9, 10, 10, 11, 11, 12, 12, 13, 13};

static uint32_t ll_entry(unsigned s)
{
    if (s < 256)
        return E(K_LIT, 0, s);
    if (s == 256)
        return E(K_EOB, 0, 0);
    if (s < 286)
        return E(K_LEN, len_extra[s - 257], len_base[s - 257]);
    return E(K_BAD, 0, 0);
}
static uint32_t dist_entry(unsigned s)
{
    return s < 30 ? E(K_DIST, dist_extra[s], dist_base[s]) : E(K_BAD, 0, 0);
}
static uint32_t sym_entry(unsigned s) { return E(K_SYM, 0, s); }

/* The decoding table of the canonical code with code lengths lens[0..n) (RFC 1951, 3.2.2).
 * Codes longer than tbits go to subtables of 2^(15 - tbits) entries. Unused entries stay
 * K_BAD (an incomplete code decodes, and hitting a missing code is corrupt data). -1 when the
 * lengths over-subscribe the code space. */
static int build(uint32_t *tab, unsigned tbits, unsigned cap, const uint8_t *lens, unsigned n,
                 uint32_t (*entry)(unsigned))
{
    unsigned count[MAX_LEN + 1] = {0}, offs[MAX_LEN + 2];
    uint16_t sorted[320];
    for (unsigned i = 0; i < n; i++)
        count[lens[i]]++;
    count[0] = 0;
    int left = 1;
    for (unsigned l = 1; l <= MAX_LEN; l++) {
        left = 2 * left - (int)count[l];
        if (left < 0)
            return -1;
    }
    offs[1] = 0;
    for (unsigned l = 1; l <= MAX_LEN; l++)
        offs[l + 1] = offs[l] + count[l];
    for (unsigned i = 0; i < n; i++)
        if (lens[i])
            sorted[offs[lens[i]]++] = (uint16_t)i;
    const unsigned psize = 1u << tbits, sbits = MAX_LEN - tbits;
    memset(tab, 0, psize * sizeof *tab);
    unsigned next_sub = psize, k = 0;
    uint32_t code = 0; /* the canonical code, first bit in the highest place */
    for (unsigned l = 1; l <= MAX_LEN; l++, code <<= 1) {
        for (unsigned c = 0; c < count[l]; c++, k++, code++) {
            unsigned rev = 0; /* deflate sends a code's first bit first: reverse it */
            for (unsigned b = 0; b < l; b++)
                rev |= ((code >> b) & 1u) << (l - 1 - b);
            uint32_t e = entry(sorted[k]);
            if (l <= tbits) {
                for (unsigned j = rev; j < psize; j += 1u << l)
                    tab[j] = e | l;
                continue;
            }
            uint32_t *pe = &tab[rev & (psize - 1)];
            if (E_KIND(*pe) != K_SUB) {
                if (next_sub + (1u << sbits) > cap)
                    return -1;
                *pe = E(K_SUB, sbits, next_sub) | tbits;
                memset(tab + next_sub, 0, ((size_t)1 << sbits) * sizeof *tab);
                next_sub += 1u << sbits;
            }
            uint32_t *sub = tab + E_VAL(*pe);
            for (unsigned j = rev >> tbits; j < (1u << sbits); j += 1u << (l - tbits))
                sub[j] = e | (l - tbits);
        }
    }
    return 0;
}

/* One code from the input (after a refill: at most 15 bits). */
static inline uint32_t decode(bits *b, const uint32_t *tab, unsigned tbits)
{
    uint32_t e = tab[b->bb & ((1u << tbits) - 1)];
    if (E_KIND(e) == K_SUB) {
        b->bb >>= tbits;
        b->n -= tbits;
        e = tab[E_VAL(e) + (b->bb & ((1u << E_EXTRA(e)) - 1))];
    }
    b->bb >>= E_BITS(e);
    b->n -= E_BITS(e);
    return e;
}

/* ---- CRC-32 over runs of zeros ----------------------------------------------------------------
 * The gzip CRC (reflected, polynomial 0xEDB88320) is linear: feeding n zero bytes multiplies
 * the inverted register by x^(8n) modulo the polynomial, so crc(A || 0^n) = ~(x^(8n) * ~crc(A)).
 * Products in GF(2)[x] / P on the reflected representation (x^0 = bit 31). */
#define CRC_POLY 0xedb88320u

static uint32_t gf_mul(uint32_t a, uint32_t b)
{
    uint32_t p = 0;
    for (uint32_t m = 1u << 31; m; m >>= 1) {
        if (a & m)
            p ^= b;
        b = b & 1 ? (b >> 1) ^ CRC_POLY : b >> 1;
    }
    return p;
}

static uint32_t crc_zeros(uint32_t crc, uint64_t n)
{
    uint32_t x = 1u << 30, p = 1u << 31; /* x = x^(8 * 2^k) as k grows; p = x^0 */
    for (int i = 0; i < 3; i++)          /* x^8 */
        x = gf_mul(x, x);
    for (; n; n >>= 1, x = gf_mul(x, x))
        if (n & 1)
            p = gf_mul(p, x);
    return ~gf_mul(p, ~crc);
}

/* ---- output ------------------------------------------------------------------------------- */
enum { HIST = 32768, BODY = 1 << 20, SLACK = 320 };

typedef struct sparse {
    unsigned char *ring; /* HIST + BODY + SLACK bytes */
    uint64_t ring_at;    /* stream offset of ring[0] */
    unsigned char *dst;  /* zeroed; voxel bytes [skip, skip + nbytes) of the stream */
    uint64_t skip, total;
    uint8_t *nz;
    uint32_t crc;
    uint64_t zeros;   /* zero bytes not yet fed to the CRC */
    uint64_t emitted; /* stream bytes emitted */
    /* dirty[i] = 0: ring bytes [256 i, 256 i + 256) written since the last slide are all zero
     * (zero literals and runs of a zero byte); 1: they may not be */
    uint8_t dirty[(HIST + BODY + SLACK) / 256 + 1];
} sparse;

static inline void mark(sparse *s, const unsigned char *at, size_t n)
{
    size_t a = (size_t)(at - s->ring) >> 8, b = (size_t)(at - s->ring + n - 1) >> 8;
    for (size_t i = a; i <= b; i++)
        s->dirty[i] = 1;
}

static int ring_dirty(const sparse *s, const unsigned char *at, size_t n)
{
    size_t a = (size_t)(at - s->ring) >> 8, b = (size_t)(at - s->ring + n - 1) >> 8;
    for (size_t i = a; i <= b; i++)
        if (s->dirty[i])
            return 1;
    return 0;
}

static int all_zero(const unsigned char *p, size_t n)
{
    uint64_t acc = 0;
    size_t i = 0;
    for (; i + 32 <= n; i += 32) {
        uint64_t w[4];
        memcpy(w, p + i, sizeof w);
        acc |= w[0] | w[1] | w[2] | w[3];
    }
    for (; i < n; i++)
        acc |= p[i];
    return acc == 0;
}

static void crc_data(sparse *s, const unsigned char *p, size_t n)
{
    if (s->zeros) {
        s->crc = crc_zeros(s->crc, s->zeros);
        s->zeros = 0;
    }
    s->crc = libdeflate_crc32(s->crc, p, n);
}

/* Stream bytes p[0..n) at stream offset at leave the ring. -1: more than the image holds. */
static int emit(sparse *s, const unsigned char *p, uint64_t at, size_t n)
{
    if (at > s->total || n > s->total - at)
        return -1;
    s->emitted = at + n;
    if (at < s->skip) { /* the header: only checksummed */
        size_t h = (size_t)(s->skip - at < n ? s->skip - at : n);
        crc_data(s, p, h);
        p += h;
        at += h;
        n -= h;
    }
    while (n) {
        uint64_t o = at - s->skip; /* offset in dst */
        size_t piece = PS_SPARSE_PIECE - (size_t)(o % PS_SPARSE_PIECE);
        size_t m = n < piece ? n : piece;
        if (!ring_dirty(s, p, m) || all_zero(p, m)) {
            s->zeros += m;
        } else {
            crc_data(s, p, m);
            memcpy(s->dst + o, p, m);
            s->nz[o / PS_SPARSE_PIECE] = 1;
        }
        p += m;
        at += m;
        n -= m;
    }
    return 0;
}

/* Emit what the ring holds and keep its last HIST bytes as the window; *out and *from move. */
static int slide(sparse *s, unsigned char **out, unsigned char **from)
{
    if (emit(s, *from, s->ring_at + (uint64_t)(*from - s->ring), (size_t)(*out - *from)))
        return -1;
    memmove(s->ring, *out - HIST, HIST);
    s->ring_at += (uint64_t)(*out - HIST - s->ring);
    *out = *from = s->ring + HIST;
    memset(s->dirty, 0, sizeof s->dirty); /* everything emitted from now on is written anew */
    return 0;
}

/* ---- the member ---------------------------------------------------------------------------- */
typedef struct tables {
    uint32_t ll[LL_CAP], d[D_CAP], pre[1u << PRE_BITS];
} tables;

static int fixed_tables(tables *t)
{
    uint8_t lens[320];
    memset(lens, 8, 144);
    memset(lens + 144, 9, 112);
    memset(lens + 256, 7, 24);
    memset(lens + 280, 8, 8);
    memset(lens + 288, 5, 32);
    if (build(t->ll, LL_BITS, LL_CAP, lens, 288, ll_entry))
        return -1;
    return build(t->d, D_BITS, D_CAP, lens + 288, 32, dist_entry);
}

static int dynamic_tables(bits *b, tables *t)
{
    static const uint8_t order[19] = {16, 17, 18, 0, 8,  7, 9,  6, 10, 5,
                                      11, 4,  12, 3, 13, 2, 14, 1, 15};
    refill(b);
    unsigned nlit = take(b, 5) + 257, ndist = take(b, 5) + 1, ncl = take(b, 4) + 4;
    if (nlit > 286 || ndist > 30)
        return -1;
    uint8_t cl[19] = {0}, lens[320];
    for (unsigned i = 0; i < ncl; i++) {
        refill(b);
        cl[order[i]] = (uint8_t)take(b, 3);
    }
    if (build(t->pre, PRE_BITS, 1u << PRE_BITS, cl, 19, sym_entry))
        return -1;
    for (unsigned i = 0; i < nlit + ndist;) {
        refill(b);
        uint32_t e = decode(b, t->pre, PRE_BITS);
        if (E_KIND(e) != K_SYM)
            return -1;
        unsigned sym = E_VAL(e), rep;
        uint8_t v = 0;
        if (sym < 16) {
            lens[i++] = (uint8_t)sym;
            continue;
        }
        if (sym == 16) {
            if (i == 0)
                return -1;
            v = lens[i - 1];
            rep = 3 + take(b, 2);
        } else if (sym == 17) {
            rep = 3 + take(b, 3);
        } else {
            rep = 11 + take(b, 7);
        }
        if (rep > nlit + ndist - i)
            return -1;
        memset(lens + i, v, rep);
        i += rep;
    }
    if (!lens[256])
        return -1; /* no end-of-block code */
    if (build(t->ll, LL_BITS, LL_CAP, lens, nlit, ll_entry))
        return -1;
    return build(t->d, D_BITS, D_CAP, lens + nlit, ndist, dist_entry);
}

/* Copy a match of len bytes from dist back; may write up to 16 bytes past the end. */
static inline unsigned char *copy_match(unsigned char *out, size_t dist, size_t len)
{
    const unsigned char *src = out - dist;
    unsigned char *end = out + len;
    if (dist >= 16) {
        do {
            memcpy(out, src, 16);
            out += 16;
            src += 16;
        } while (out < end);
    } else if (dist == 1) {
        memset(out, *src, len);
    } else {
        while (out < end)
            *out++ = *src++;
    }
    return end;
}

/* The deflate stream of one member, from b into s. 0 at the end of the last block. */
static int inflate_member(bits *b, sparse *s, tables *t)
{
    unsigned char *const ring = s->ring, *const limit = ring + HIST + BODY;
    unsigned char *out = ring, *from = ring; /* from: first byte not emitted */
    int last = 0;
    while (!last) {
        refill(b);
        last = (int)take(b, 1);
        unsigned type = take(b, 2);
        if (type == 0) { /* stored: byte-aligned LEN, NLEN, then LEN bytes */
            take(b, b->n & 7);
            unsigned len = take(b, 16), nlen = take(b, 16);
            if (len != (~nlen & 0xffffu) || b->overrun > b->n / 8)
                return -1;
            b->p -= b->n / 8 - b->overrun; /* give back the whole bytes in the buffer */
            b->bb = 0;
            b->n = 0;
            b->overrun = 0;
            if ((size_t)(b->end - b->p) < len)
                return -1;
            while (len) {
                if (out >= limit && slide(s, &out, &from))
                    return -1;
                size_t m = (size_t)(limit + SLACK - 16 - out);
                m = m < len ? m : len;
                memcpy(out, b->p, m);
                mark(s, out, m);
                out += m;
                b->p += m;
                len -= (unsigned)m;
            }
            continue;
        }
        if (type == 3 || (type == 1 ? fixed_tables(t) : dynamic_tables(b, t)))
            return -1;
        for (;;) {
            if (out >= limit && slide(s, &out, &from))
                return -1;
            refill(b);
            if (b->overrun > 8)
                return -1; /* read past the end of the input */
            uint32_t e = decode(b, t->ll, LL_BITS);
            unsigned kind = E_KIND(e);
            if (kind == K_LIT) {
                if (E_VAL(e))
                    s->dirty[(size_t)(out - ring) >> 8] = 1;
                *out++ = (unsigned char)E_VAL(e);
                continue;
            }
            if (kind == K_EOB)
                break;
            if (kind != K_LEN)
                return -1;
            unsigned len = E_VAL(e) + take(b, E_EXTRA(e));
            uint32_t d = decode(b, t->d, D_BITS);
            if (E_KIND(d) != K_DIST)
                return -1;
            size_t dist = E_VAL(d) + take(b, E_EXTRA(d));
            /* before the first slide out - ring is all the output; after it, the ring holds
             * HIST = 32 KiB behind out, the farthest a distance reaches */
            if (dist > (size_t)(out - ring))
                return -1;
            if (dist != 1 || out[-1])
                mark(s, out, len);
            out = copy_match(out, dist, len);
        }
    }
    return emit(s, from, s->ring_at + (uint64_t)(from - ring), (size_t)(out - from)) ? -1 : 0;
}

/* The gzip member header (RFC 1952, 2.3): the offset of its deflate data, or 0 to decline. */
static size_t gzip_header(const unsigned char *p, size_t n)
{
    if (n < 18 || p[0] != 0x1f || p[1] != 0x8b || p[2] != 8 || (p[3] & 0xe0))
        return 0;
    unsigned flg = p[3];
    size_t i = 10;
    if (flg & 4) { /* FEXTRA */
        if (n - i < 2)
            return 0;
        size_t xlen = p[i] | (size_t)p[i + 1] << 8;
        i += 2;
        if (n - i < xlen)
            return 0;
        i += xlen;
    }
    for (unsigned f = 8; f <= 16; f <<= 1) /* FNAME, FCOMMENT: zero-terminated */
        if (flg & f) {
            const unsigned char *z = memchr(p + i, 0, n - i);
            if (!z)
                return 0;
            i = (size_t)(z - p) + 1;
        }
    if (flg & 2) /* FHCRC */
        i += 2;
    return i + 8 <= n ? i : 0;
}

int ps_io_inflate_sparse(const unsigned char *gz, size_t len, unsigned char *dst, uint64_t skip,
                         uint64_t nbytes, uint8_t *nz)
{
    size_t start = gzip_header(gz, len);
    if (!start || nbytes > UINT64_MAX - skip)
        return PS_SPARSE_DECLINE;
    sparse s;
    memset(&s, 0, sizeof s);
    s.ring = malloc(HIST + BODY + SLACK);
    tables *t = malloc(sizeof *t);
    int rc = PS_SPARSE_DECLINE;
    if (!s.ring || !t)
        goto out;
    s.dst = dst;
    s.skip = skip;
    s.total = skip + nbytes;
    s.nz = nz;
    bits b = {gz + start, gz + len, 0, 0, 0};
    if (inflate_member(&b, &s, t))
        goto out;
    /* the trailer follows the last whole byte of the deflate data */
    take(&b, b.n & 7);
    size_t used = (size_t)(b.p - gz) + b.overrun;
    if (used < b.n / 8u)
        goto out;
    used -= b.n / 8u;
    if (len - used < 8 || used > len)
        goto out;
    const unsigned char *tr = gz + used;
    uint32_t crc = 0, isize = 0; /* little-endian */
    for (int i = 3; i >= 0; i--) {
        crc = crc << 8 | tr[i];
        isize = isize << 8 | tr[4 + i];
    }
    if (s.zeros)
        s.crc = crc_zeros(s.crc, s.zeros);
    /* the member must fill the image exactly (one that ends short or runs past it is the
     * ordinary path's to handle), with the right checksum and size */
    if (s.emitted == s.total && s.crc == crc && isize == (uint32_t)s.total)
        rc = PS_OK;
out:
    free(s.ring);
    free(t);
    return rc;
}
