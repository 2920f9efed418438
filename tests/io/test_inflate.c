/* Tests of the sparse inflate of label maps (src/io/inflate_sparse.c) and its use by
 * ps_volume_read_labels_map.
 *
 * Expected values come from the data themselves: each buffer is compressed by two independent
 * implementations (zlib with every strategy, libdeflate at levels 0 to 12), and the sparse
 * inflate must give back the original bytes exactly, with a piece map equal to a brute-force
 * look at every piece. Damaged streams (every truncation, bit flips) must be declined, or, when
 * the damage does not touch what the stream holds (the gzip header's time stamp), decoded to
 * the same bytes: never anything else, and never a read or write outside the buffers (the
 * sanitizer build runs these tests).
 */
#include "io_internal.h"
#include "ps_test.h"

#include <libdeflate.h>
#include <stdint.h>
#include <sys/mman.h>
#include <zlib.h>

static uint64_t rng = 0x1234567887654321ull;
static uint64_t next_u64(void)
{ /* splitmix64 */
    uint64_t z = (rng += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

/* Kinds of data: a label map (a few boxes of labels 1-3 in zeros, rows of `row` bytes), random
 * bytes, all zeros, a short repeating pattern, one non-zero byte at the very end. */
enum { D_LABELS, D_RANDOM, D_ZEROS, D_PATTERN, D_LAST_BYTE, D_N };

static unsigned char *make_data(int kind, size_t n)
{
    unsigned char *b = calloc(n ? n : 1, 1);
    const size_t row = 317, slice = row * 211;
    switch (kind) {
    case D_LABELS:
        for (int box = 0; box < 4; box++) {
            size_t z0 = next_u64() % (n / slice + 1), y0 = next_u64() % 150, x0 = next_u64() % 250;
            unsigned char lab = (unsigned char)(1 + box % 3);
            for (size_t z = z0; z < z0 + 3; z++)
                for (size_t y = y0; y < y0 + 40; y++)
                    for (size_t x = x0; x < x0 + 50; x++) {
                        size_t at = z * slice + y * row + x;
                        if (at < n)
                            b[at] = lab;
                    }
        }
        break;
    case D_RANDOM:
        for (size_t i = 0; i < n; i++)
            b[i] = (unsigned char)next_u64();
        break;
    case D_PATTERN:
        for (size_t i = 0; i < n; i++)
            b[i] = (unsigned char)("\0\0\5\0\7\0\0\0\1"[i % 9]);
        break;
    case D_LAST_BYTE:
        if (n)
            b[n - 1] = 9;
        break;
    default:
        break;
    }
    return b;
}

/* gzip of in[0..n) by zlib: level, strategy, and (hdr) a header with FEXTRA, FNAME, FCOMMENT
 * and FHCRC set. */
static unsigned char *zlib_gzip(const unsigned char *in, size_t n, int level, int strategy,
                                int hdr, size_t *outn)
{
    z_stream zs;
    memset(&zs, 0, sizeof zs);
    ck_assert_int_eq(deflateInit2(&zs, level, Z_DEFLATED, 16 + MAX_WBITS, 8, strategy), Z_OK);
    gz_header h;
    memset(&h, 0, sizeof h);
    unsigned char extra[5] = {'p', 's', 1, 0, 'x'};
    if (hdr) {
        h.extra = extra;
        h.extra_len = sizeof extra;
        h.name = (Bytef *)"case_0001.nii";
        h.comment = (Bytef *)"a comment";
        h.hcrc = 1;
        h.time = 1234567;
        ck_assert_int_eq(deflateSetHeader(&zs, &h), Z_OK);
    }
    size_t cap = deflateBound(&zs, (uLong)n) + 256;
    unsigned char *out = malloc(cap);
    zs.next_in = (Bytef *)in;
    zs.avail_in = (uInt)n;
    zs.next_out = out;
    zs.avail_out = (uInt)cap;
    ck_assert_int_eq(deflate(&zs, Z_FINISH), Z_STREAM_END);
    *outn = zs.total_out;
    deflateEnd(&zs);
    return out;
}

static unsigned char *libdeflate_gzip(const unsigned char *in, size_t n, int level, size_t *outn)
{
    struct libdeflate_compressor *c = libdeflate_alloc_compressor(level);
    ck_assert_ptr_nonnull(c);
    size_t cap = libdeflate_gzip_compress_bound(c, n);
    unsigned char *out = malloc(cap);
    *outn = libdeflate_gzip_compress(c, in, n, out, cap);
    ck_assert_uint_gt(*outn, 0);
    libdeflate_free_compressor(c);
    return out;
}

/* Inflate gz sparsely as skip header bytes + the rest; returns the status, and on success
 * checks the bytes and the piece map against want[skip..total). */
static int check_sparse(const unsigned char *gz, size_t gzn, const unsigned char *want,
                        size_t total, size_t skip, const char *what)
{
    size_t nb = total - skip, pieces = nb / PS_SPARSE_PIECE + 1;
    unsigned char *dst = mmap(NULL, nb ? nb : 1, PROT_READ | PROT_WRITE,
                              MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    ck_assert_ptr_ne(dst, MAP_FAILED);
    uint8_t *nz = calloc(pieces, 1);
    int rc = ps_io_inflate_sparse(gz, gzn, dst, skip, nb, nz);
    if (rc == PS_OK) {
        ck_assert_msg(!memcmp(dst, want + skip, nb), "%s: wrong bytes", what);
        for (size_t p = 0; p * PS_SPARSE_PIECE < nb; p++) {
            size_t a = p * PS_SPARSE_PIECE, m = nb - a < PS_SPARSE_PIECE ? nb - a : PS_SPARSE_PIECE;
            int any = 0;
            for (size_t i = 0; i < m && !any; i++)
                any = want[skip + a + i] != 0;
            ck_assert_msg(nz[p] == any, "%s: piece %zu marked %d, holds a label: %d", what, p,
                          nz[p], any);
        }
    }
    munmap(dst, nb ? nb : 1);
    free(nz);
    return rc;
}

/* Every kind of data, sizes around the piece and ring boundaries (the ring emits every 1 MiB
 * and keeps 32 KiB), every zlib strategy and libdeflate level: the original bytes. */
START_TEST(inflates_what_two_compressors_wrote)
{
    static const size_t sizes[] = {352 + 1, 352 + 4095, 352 + 4096, 352 + 4097, 40000,
                                   (1u << 20) + 352 - 1, (1u << 20) + 40000, 3u << 20};
    static const int strategies[] = {Z_DEFAULT_STRATEGY, Z_FILTERED, Z_HUFFMAN_ONLY, Z_RLE,
                                     Z_FIXED};
    static const int levels[] = {0, 1, 6, 12};
    int cases = 0;
    for (int kind = 0; kind < D_N; kind++)
        for (size_t si = 0; si < sizeof sizes / sizeof *sizes; si++) {
            size_t n = sizes[si];
            unsigned char *data = make_data(kind, n);
            char what[128];
            for (size_t st = 0; st < sizeof strategies / sizeof *strategies; st++)
                for (int lv = 1; lv <= 9; lv += 8) {
                    size_t gzn;
                    unsigned char *gz = zlib_gzip(data, n, lv, strategies[st], st == 1, &gzn);
                    snprintf(what, sizeof what, "kind %d, %zu bytes, zlib level %d strategy %d",
                             kind, n, lv, strategies[st]);
                    ck_assert_msg(check_sparse(gz, gzn, data, n, 352, what) == PS_OK,
                                  "%s: declined", what);
                    free(gz);
                    cases++;
                }
            for (size_t lv = 0; lv < sizeof levels / sizeof *levels; lv++) {
                size_t gzn;
                unsigned char *gz = libdeflate_gzip(data, n, levels[lv], &gzn);
                snprintf(what, sizeof what, "kind %d, %zu bytes, libdeflate level %d", kind, n,
                         levels[lv]);
                ck_assert_msg(check_sparse(gz, gzn, data, n, 352, what) == PS_OK,
                              "%s: declined", what);
                /* no header bytes, and the whole stream as header: the same */
                ck_assert_int_eq(check_sparse(gz, gzn, data, n, 0, what), PS_OK);
                free(gz);
                cases++;
            }
            free(data);
        }
    ck_assert_int_eq(cases, D_N * 8 * 14); /* 5 kinds x 8 sizes x (10 zlib + 4 libdeflate) */
}
END_TEST

/* A stream that does not hold exactly skip + nbytes bytes, two members, a damaged header or
 * trailer: declined (the ordinary reader then reports or handles it). */
START_TEST(declines_what_it_does_not_handle)
{
    size_t n = 100000, gzn;
    unsigned char *data = make_data(D_LABELS, n);
    unsigned char *gz = libdeflate_gzip(data, n, 6, &gzn);
    unsigned char *dst = calloc(n + 1, 1);
    uint8_t *nz = calloc(n / PS_SPARSE_PIECE + 2, 1);
    ck_assert_int_eq(ps_io_inflate_sparse(gz, gzn, dst, 352, n - 352, nz), PS_OK);
    /* one byte more or less than the stream holds */
    ck_assert_int_eq(ps_io_inflate_sparse(gz, gzn, dst, 352, n - 353, nz), PS_SPARSE_DECLINE);
    ck_assert_int_eq(ps_io_inflate_sparse(gz, gzn, dst, 352, n - 351, nz), PS_SPARSE_DECLINE);
    /* two members (cat a.gz b.gz), each of half the data */
    size_t g1, g2;
    unsigned char *m1 = libdeflate_gzip(data, n / 2, 6, &g1);
    unsigned char *m2 = libdeflate_gzip(data + n / 2, n - n / 2, 6, &g2);
    unsigned char *two = malloc(g1 + g2);
    memcpy(two, m1, g1);
    memcpy(two + g1, m2, g2);
    ck_assert_int_eq(ps_io_inflate_sparse(two, g1 + g2, dst, 352, n - 352, nz), PS_SPARSE_DECLINE);
    /* the first member alone, followed by other bytes, when it holds all the image: as the
     * ordinary reader, the bytes after the member are ignored */
    ck_assert_int_eq(ps_io_inflate_sparse(two, g1 + g2, dst, 352, n / 2 - 352, nz), PS_OK);
    ck_assert(!memcmp(dst, data + 352, n / 2 - 352));
    /* a wrong CRC, a wrong ISIZE, reserved flag bits, not gzip, an unknown method */
    unsigned char *bad = malloc(gzn);
    static const size_t spots[] = {0, 1, 2, 3};
    for (int k = 0; k < 6; k++) {
        memcpy(bad, gz, gzn);
        if (k < 4)
            bad[spots[k]] ^= k == 3 ? 0x80 : 0x01; /* magic, magic, method, reserved FLG bit */
        else
            bad[gzn - (k == 4 ? 8 : 1)] ^= 0x01; /* CRC, ISIZE */
        ck_assert_msg(ps_io_inflate_sparse(bad, gzn, dst, 352, n - 352, nz) == PS_SPARSE_DECLINE,
                      "damage %d accepted", k);
    }
    /* the time stamp is not part of the data: the same bytes */
    memcpy(bad, gz, gzn);
    bad[5] ^= 0x5a;
    memset(dst, 0, n);
    ck_assert_int_eq(ps_io_inflate_sparse(bad, gzn, dst, 352, n - 352, nz), PS_OK);
    ck_assert(!memcmp(dst, data + 352, n - 352));
    free(bad);
    free(two);
    free(m1);
    free(m2);
    free(gz);
    free(dst);
    free(nz);
    free(data);
}
END_TEST

/* Every truncation and a bit flip at every 7th bit: declined, or (a flip that leaves the data
 * as they were) the same bytes. Run under ASan by the gate: nothing read or written outside. */
START_TEST(damaged_streams_are_declined_or_exact)
{
    size_t n = 60000, gzn;
    unsigned char *data = make_data(D_LABELS, n);
    for (int lib = 0; lib < 2; lib++) {
        unsigned char *gz = lib ? libdeflate_gzip(data, n, 9, &gzn)
                                : zlib_gzip(data, n, 6, Z_DEFAULT_STRATEGY, 0, &gzn);
        for (size_t cut = 0; cut < gzn; cut++) {
            unsigned char *t = malloc(cut ? cut : 1); /* exactly cut bytes: ASan sees overreads */
            memcpy(t, gz, cut);
            ck_assert_msg(check_sparse(t, cut, data, n, 352, "cut") == PS_SPARSE_DECLINE,
                          "a stream cut to %zu of %zu bytes was accepted", cut, gzn);
            free(t);
        }
        unsigned char *f = malloc(gzn);
        int declined = 0;
        for (size_t bit = 0; bit < 8 * gzn; bit += 7) {
            memcpy(f, gz, gzn);
            f[bit / 8] ^= (unsigned char)(1u << (bit % 8));
            declined += check_sparse(f, gzn, data, n, 352, "flip") == PS_SPARSE_DECLINE;
        }
        /* the flips in the deflate data and the trailer change what the CRC-32 sees */
        ck_assert_int_ge(declined, (int)(8 * gzn / 7) - 12);
        free(f);
        free(gz);
    }
    free(data);
}
END_TEST

/* End to end: a .nii.gz label map read with its piece map gives the bytes of the ordinary
 * reader; a plain .nii has no map; a label map that is converted (int16) has none either, nor
 * one of two gzip members (declined: libdeflate reads it). */
START_TEST(read_labels_map_matches_the_ordinary_reader)
{
    ps_geometry g;
    const int64_t dim[3] = {200, 150, 40};
    ps_geometry_init(&g, dim[0], dim[1], dim[2], 0.8, 0.8, 2.5);
    for (int t = 0; t < 2; t++) {
        ps_volume *v = NULL;
        ck_assert_int_eq(ps_volume_create(&g, 1, t ? PS_DT_INT16 : PS_DT_UINT8, &v), 0);
        for (int64_t k = 10; k < 20; k++)
            for (int64_t j = 30; j < 70; j++)
                for (int64_t i = 50; i < 120; i++) {
                    int64_t at = (k * dim[1] + j) * dim[0] + i;
                    if (t)
                        ((int16_t *)v->data)[at] = (int16_t)(1 + (i + j) % 3);
                    else
                        ((uint8_t *)v->data)[at] = (uint8_t)(1 + (i + j) % 3);
                }
        const char *gzp = t ? "lab16.nii.gz" : "lab8.nii.gz", *plain = t ? "lab16.nii" : "lab8.nii";
        ck_assert_int_eq(ps_volume_write(gzp, v), 0);
        ck_assert_int_eq(ps_volume_write(plain, v), 0);
        ps_volume *a = NULL, *b = NULL, *c = NULL;
        uint8_t *nza = NULL, *nzc = NULL;
        ck_assert_int_eq(ps_volume_read_labels_map(gzp, &a, &nza), 0);
        ck_assert_int_eq(ps_volume_read_labels(plain, &b), 0);
        ck_assert_int_eq(ps_volume_read_labels_map(plain, &c, &nzc), 0);
        ck_assert_ptr_null(nzc); /* not compressed: no map */
        ck_assert_int_eq(a->dtype, PS_DT_UINT8);
        size_t nb = (size_t)ps_volume_nvox(a);
        ck_assert(!memcmp(a->data, b->data, nb));
        if (t) {
            ck_assert_ptr_null(nza); /* int16 -> uint8: converted, no map */
        } else {
            ck_assert_ptr_nonnull(nza);
            for (size_t p = 0; p * PS_VOLUME_PIECE < nb; p++) {
                size_t a0 = p * PS_VOLUME_PIECE;
                size_t m = nb - a0 < PS_VOLUME_PIECE ? nb - a0 : PS_VOLUME_PIECE;
                int any = 0;
                for (size_t i = 0; i < m && !any; i++)
                    any = ((uint8_t *)b->data)[p * PS_VOLUME_PIECE + i] != 0;
                ck_assert_int_eq(nza[p], any);
            }
        }
        if (!t) { /* the same file as two gzip members: declined, read by libdeflate, no map */
            FILE *f = fopen(plain, "rb");
            ck_assert_ptr_nonnull(f);
            fseek(f, 0, SEEK_END);
            size_t fn = (size_t)ftell(f), g1, g2;
            fseek(f, 0, SEEK_SET);
            unsigned char *raw = malloc(fn);
            ck_assert_uint_eq(fread(raw, 1, fn, f), fn);
            fclose(f);
            unsigned char *m1 = libdeflate_gzip(raw, fn / 3, 6, &g1);
            unsigned char *m2 = libdeflate_gzip(raw + fn / 3, fn - fn / 3, 6, &g2);
            f = fopen("lab8m.nii.gz", "wb");
            ck_assert_ptr_nonnull(f);
            fwrite(m1, 1, g1, f);
            fwrite(m2, 1, g2, f);
            fclose(f);
            ps_volume *m = NULL;
            uint8_t *nzm = (uint8_t *)"not set";
            ck_assert_int_eq(ps_volume_read_labels_map("lab8m.nii.gz", &m, &nzm), 0);
            ck_assert_ptr_null(nzm);
            ck_assert(!memcmp(m->data, b->data, nb));
            ps_volume_free(m);
            free(raw);
            free(m1);
            free(m2);
            remove("lab8m.nii.gz");
        }
        free(nza);
        ps_volume_free(a);
        ps_volume_free(b);
        ps_volume_free(c);
        ps_volume_free(v);
        remove(gzp);
        remove(plain);
    }
}
END_TEST

static Suite *make_suite(void)
{
    Suite *s = suite_create("io_inflate");
    TCase *tc = tcase_create("inflate");
    tcase_set_timeout(tc, 300);
    tcase_add_test(tc, inflates_what_two_compressors_wrote);
    tcase_add_test(tc, declines_what_it_does_not_handle);
    tcase_add_test(tc, damaged_streams_are_declined_or_exact);
    tcase_add_test(tc, read_labels_map_matches_the_ordinary_reader);
    suite_add_tcase(s, tc);
    return s;
}

PS_TEST_MAIN(make_suite)
