/* Robustness of the NIfTI and CSV/TSV readers against hostile input: deterministic, seeded
 * mutations of the committed fixtures in golden/io (.nii and .nii.gz).
 *
 *   - truncation at many offsets (of the file, and of the stream inside the gzip wrapper);
 *   - byte flips anywhere in the header;
 *   - extreme values in the fields the reader trusts: dim[] (zero, negative, huge enough to
 *     overflow the byte count), datatype, bitpix, pixdim (NaN, inf, 0, negative), vox_offset
 *     (inside the header, beyond EOF, NaN, fractional), scaling, qform/sform fields, magic;
 *     for .nii.gz fixtures these edits are made in the decompressed stream and recompressed,
 *     so that they pass the CRC and reach the header checks;
 *   - damage to the gzip wrapper itself: header bytes, CRC-32/ISIZE trailer, deflate stream.
 *
 * Each outcome must be either an error (negative status, no volume, a non-empty message that
 * names the file) or a volume whose dims x type size bytes are all readable (they are summed,
 * so ASan/valgrind see a short buffer) and no more than the file can hold. Every file is read
 * with one of the four readers (as stored, labels, float, streaming zlib) chosen by the
 * seeded generator. The same properties are checked by the libFuzzer targets
 * tests/fuzz/fuzz_nifti.c and fuzz_table.c. Each bug these found has a regression test below
 * (reg_*).
 */
#include "io_internal.h" /* ps_io_volume_read_ex: force the streaming zlib path */
#include "ps_io.h"
#include "ps_test.h"

#include <stdint.h>
#include <zlib.h>

#define NIFTI1_HDR 348
#define NIFTI2_HDR 540
/* deflate's largest expansion (zlib technical details): bounds what a .nii.gz can hold */
#define DEFLATE_MAX_RATIO 1032

/* ---- helpers ------------------------------------------------------------------------------ */

static uint64_t rng_state;
/* splitmix64 (Steele, Lea, Flood 2014): a fixed, portable sequence */
static uint64_t rnd(void)
{
    uint64_t z = (rng_state += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}
static size_t rnd_below(size_t n) { return n ? (size_t)(rnd() % n) : 0; }

typedef struct bytes {
    uint8_t *b;
    size_t n;
} bytes;

static bytes slurp(const char *rel)
{
    FILE *f = fopen(ps_test_path(rel), "rb");
    ck_assert_msg(f != NULL, "cannot open %s", rel);
    bytes r = {malloc(1 << 16), 0};
    r.n = fread(r.b, 1, 1 << 16, f);
    ck_assert(feof(f));
    fclose(f);
    return r;
}

static bytes dup_bytes(bytes a)
{
    bytes r = {malloc(a.n ? a.n : 1), a.n};
    memcpy(r.b, a.b, a.n);
    return r;
}

/* All members of a gzip file, concatenated (zlib inflate with the gzip wrapper). */
static bytes gunzip(bytes in)
{
    bytes r = {malloc(1 << 20), 0};
    z_stream zs;
    memset(&zs, 0, sizeof zs);
    ck_assert(inflateInit2(&zs, 16 + MAX_WBITS) == Z_OK);
    zs.next_in = in.b;
    zs.avail_in = (uInt)in.n;
    for (;;) {
        zs.next_out = r.b + r.n;
        zs.avail_out = (uInt)((1 << 20) - r.n);
        int ret = inflate(&zs, Z_NO_FLUSH);
        r.n = (size_t)(zs.next_out - r.b);
        if (ret == Z_STREAM_END && zs.avail_in > 0 && zs.next_in[0] == 0x1f) {
            inflateReset(&zs);
            continue;
        }
        ck_assert_msg(ret == Z_STREAM_END, "fixture does not inflate (%d)", ret);
        break;
    }
    inflateEnd(&zs);
    return r;
}

static bytes gzip_level(bytes in, int level)
{
    z_stream zs;
    memset(&zs, 0, sizeof zs);
    ck_assert(deflateInit2(&zs, level, Z_DEFLATED, 16 + MAX_WBITS, 8, Z_DEFAULT_STRATEGY) ==
              Z_OK);
    bytes r = {malloc(deflateBound(&zs, (uLong)in.n)), 0};
    zs.next_in = in.b;
    zs.avail_in = (uInt)in.n;
    zs.next_out = r.b;
    zs.avail_out = (uInt)deflateBound(&zs, (uLong)in.n);
    ck_assert(deflate(&zs, Z_FINISH) == Z_STREAM_END);
    r.n = zs.total_out;
    deflateEnd(&zs);
    return r;
}
static bytes gzip(bytes in) { return gzip_level(in, 6); }

static void write_file(const char *path, const uint8_t *b, size_t n)
{
    /* a new file each time: ext4 (auto_da_alloc) flushes a file truncated by "wb" on close,
     * which made the test wait on the disk */
    remove(path);
    FILE *f = fopen(path, "wb");
    ck_assert_msg(f != NULL, "cannot write %s", path);
    ck_assert(fwrite(b, 1, n, f) == n);
    ck_assert(fclose(f) == 0);
}

typedef struct stats {
    int64_t tried, ok, failed;
} stats;

static int read_with(int reader, const char *path, ps_volume **v)
{
    switch (reader) {
    case 0: return ps_volume_read(path, v);
    case 1: return ps_volume_read_labels(path, v);
    case 2: return ps_volume_read_float(path, v);
    default: return ps_io_volume_read_ex(path, 0, v);
    }
}

/* Write the mutated file, read it with `reader` and check the outcome (see the top comment).
 * `what` describes the mutation for failure messages. */
static void try_read(stats *st, const uint8_t *b, size_t n, int reader, const char *what)
{
    char path[4096];
    snprintf(path, sizeof path, "%s", ps_test_tmp("io_mutation.nii"));
    write_file(path, b, n);
    ps_volume *v = NULL;
    int rc = read_with(reader, path, &v);
    st->tried++;
    if (rc) {
        const char *msg = ps_error_message();
        ck_assert_msg(rc < 0 && v == NULL, "%s (reader %d): status %d, volume %p", what, reader,
                      rc, (void *)v);
        ck_assert_msg(msg[0] && strstr(msg, path), "%s (reader %d): message '%s' does not name "
                      "the file", what, reader, msg);
        st->failed++;
        return;
    }
    ck_assert_msg(v && v->data && v->nc >= 1 && ps_dtype_size(v->dtype) > 0,
                  "%s (reader %d): bad volume", what, reader);
    for (int d = 0; d < 3; d++)
        ck_assert_msg(v->geom.dim[d] >= 1 && v->geom.spacing_mm[d] > 0 &&
                      isfinite(v->geom.spacing_mm[d]), "%s: axis %d: dim %lld spacing %g", what,
                      d, (long long)v->geom.dim[d], v->geom.spacing_mm[d]);
    if (reader == 1)
        ck_assert_msg(v->nc == 1 && (v->dtype == PS_DT_UINT8 || v->dtype == PS_DT_INT32),
                      "%s: labels read as %s x %lld", what, ps_dtype_name(v->dtype),
                      (long long)v->nc);
    if (reader == 2)
        ck_assert_msg(v->dtype == PS_DT_FLOAT32, "%s: float read as %s", what,
                      ps_dtype_name(v->dtype));
    /* the stored data (before a label/float conversion) came from the file: at most the file
     * (plain) or what its deflate stream can expand to (gzip) */
    uint64_t nvox = (uint64_t)ps_volume_nvox(v) * (uint64_t)v->nc;
    uint64_t cap = n >= 2 && b[0] == 0x1f && b[1] == 0x8b ? (uint64_t)n * DEFLATE_MAX_RATIO
                                                           : (uint64_t)n;
    ck_assert_msg(nvox <= cap, "%s: %llu voxels from a file of %zu bytes", what,
                  (unsigned long long)nvox, n);
    size_t nbytes = (size_t)nvox * ps_dtype_size(v->dtype);
    const volatile uint8_t *p = v->data;
    unsigned acc = 0;
    for (size_t i = 0; i < nbytes; i++)
        acc += p[i];
    (void)acc;
    ps_volume_free(v);
    st->ok++;
}

/* ---- header fields (nifti1.h, nifti2.h offsets), in the file's byte order ----------------- */

typedef struct hdr_view {
    uint8_t *b;
    int version; /* 1 or 2 */
    int swapped; /* the file's byte order differs from ours */
} hdr_view;

static void put_raw(const hdr_view *h, size_t off, const void *val, size_t sz)
{
    uint8_t tmp[8];
    memcpy(tmp, val, sz);
    if (h->swapped)
        for (size_t i = 0; i < sz / 2; i++) {
            uint8_t t = tmp[i];
            tmp[i] = tmp[sz - 1 - i];
            tmp[sz - 1 - i] = t;
        }
    memcpy(h->b + off, tmp, sz);
}
static void put_i16(const hdr_view *h, size_t off, int16_t x) { put_raw(h, off, &x, 2); }
static void put_i32(const hdr_view *h, size_t off, int32_t x) { put_raw(h, off, &x, 4); }
static void put_i64(const hdr_view *h, size_t off, int64_t x) { put_raw(h, off, &x, 8); }
static void put_f32(const hdr_view *h, size_t off, float x) { put_raw(h, off, &x, 4); }
static void put_f64(const hdr_view *h, size_t off, double x) { put_raw(h, off, &x, 8); }

static hdr_view view(uint8_t *b)
{
    int32_t sz;
    memcpy(&sz, b, 4);
    hdr_view h = {b, 1, 0};
    if (sz == NIFTI1_HDR || sz == NIFTI2_HDR) {
        h.version = sz == NIFTI1_HDR ? 1 : 2;
    } else {
        h.swapped = 1;
        h.version = sz == (int32_t)0x5c010000 ? 1 : 2; /* 348 byte-swapped */
    }
    return h;
}

/* One field of the header set to an integer or real value (the field's own type). */
enum field { F_DIM, F_DATATYPE, F_BITPIX, F_PIXDIM, F_VOXOFF, F_SLOPE, F_INTER, F_QCODE,
             F_SCODE, F_QUATERN, F_SROW, F_UNITS, F_NFIELDS };

static void set_field(const hdr_view *h, enum field f, int idx, int64_t iv, double dv)
{
    int n1 = h->version == 1;
    switch (f) {
    case F_DIM: n1 ? put_i16(h, 40 + 2 * idx, (int16_t)iv) : put_i64(h, 16 + 8 * idx, iv); break;
    case F_DATATYPE: put_i16(h, n1 ? 70 : 12, (int16_t)iv); break;
    case F_BITPIX: put_i16(h, n1 ? 72 : 14, (int16_t)iv); break;
    case F_PIXDIM: n1 ? put_f32(h, 76 + 4 * idx, (float)dv) : put_f64(h, 104 + 8 * idx, dv); break;
    case F_VOXOFF: n1 ? put_f32(h, 108, (float)dv) : put_i64(h, 168, iv); break;
    case F_SLOPE: n1 ? put_f32(h, 112, (float)dv) : put_f64(h, 176, dv); break;
    case F_INTER: n1 ? put_f32(h, 116, (float)dv) : put_f64(h, 184, dv); break;
    case F_QCODE: n1 ? put_i16(h, 252, (int16_t)iv) : put_i32(h, 344, (int32_t)iv); break;
    case F_SCODE: n1 ? put_i16(h, 254, (int16_t)iv) : put_i32(h, 348, (int32_t)iv); break;
    case F_QUATERN: n1 ? put_f32(h, 256 + 4 * idx, (float)dv) : put_f64(h, 352 + 8 * idx, dv);
        break;
    case F_SROW: n1 ? put_f32(h, 280 + 4 * idx, (float)dv) : put_f64(h, 400 + 8 * idx, dv);
        break;
    case F_UNITS: /* xyzt_units: NIFTI_UNITS_METER 1, MM 2, MICRON 3 (nifti1.h) */
        if (n1)
            h->b[123] = (uint8_t)iv;
        else
            put_i32(h, 500, (int32_t)iv);
        break;
    default: break;
    }
}

/* ---- mutation plans ------------------------------------------------------------------------ */

static const char *const nifti_fixtures[] = {
    "golden/io/f32_labels_noisy.nii.gz", "golden/io/f32_qform_oblique.nii.gz",
    "golden/io/f64_4d.nii",              "golden/io/i16_bigendian.nii",
    "golden/io/i16_scaled_sform.nii",    "golden/io/i32.nii.gz",
    "golden/io/i64.nii.gz",              "golden/io/i8.nii.gz",
    "golden/io/multimember.nii.gz",      "golden/io/n2_i32.nii.gz",
    "golden/io/no_xform.nii",            "golden/io/u16.nii.gz",
    "golden/io/u32.nii.gz",              "golden/io/u8_inter1.nii.gz",
    "golden/io/u8_qform.nii.gz",         "golden/io/units_meter.nii",
};
#define N_NIFTI_FIXTURES (sizeof nifti_fixtures / sizeof nifti_fixtures[0])

/* Write `stream` (a whole .nii) as the fixture's kind: gzip-compressed for .nii.gz. */
static void try_stream(stats *st, bytes stream, int gz, const char *what)
{
    int reader = (int)rnd_below(4);
    if (gz) {
        bytes z = gzip(stream);
        try_read(st, z.b, z.n, reader, what);
        free(z.b);
    } else {
        try_read(st, stream.b, stream.n, reader, what);
    }
}

static const int64_t int_values[] = {
    0, 1, 2, -1, -2, 3, 4, 5, 7, 8, 255, 256, 32767, -32768, 65535, 100000,
    (int64_t)1 << 31, (int64_t)1 << 40, INT64_MAX, INT64_MIN, INT64_MAX / 2 + 1,
};
static const int datatypes[] = {0, 1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 768, 1024, 1280,
                                1536, 1792, 2048, 2304, -1, 32767, 3, 6};

static double real_value(size_t k, int64_t file_len)
{
    static const double v[] = {NAN, INFINITY, -INFINITY, 0.0, -0.0, -1.0, 1e-40, 1e-300,
                               3.4e38, 1e300, 0.5, 352.0, 352.5, 353.0, 540.0, 544.0, 351.0,
                               1e10, 9.3e18, -352.0};
    if (k < sizeof v / sizeof v[0])
        return v[k];
    return (double)(file_len + (int64_t)(k % 3) - 1); /* around the end of the file */
}
#define N_REAL_VALUES 23

/* Field edits on the (decompressed) stream. */
static void mutate_fields(stats *st, const char *rel, bytes stream, int gz)
{
    char what[512];
    hdr_view h0 = view(stream.b);
    int64_t vox_end[] = {(int64_t)stream.n - 1, (int64_t)stream.n, (int64_t)stream.n + 1};
    for (int f = 0; f < F_NFIELDS; f++) {
        int nidx = f == F_DIM ? 8 : f == F_PIXDIM ? 4 : f == F_QUATERN ? 6 : f == F_SROW ? 12 : 1;
        for (int idx = 0; idx < nidx; idx++) {
            int nval = f == F_DATATYPE ? (int)(sizeof datatypes / sizeof datatypes[0])
                       : (f == F_PIXDIM || f == F_SLOPE || f == F_INTER || f == F_QUATERN ||
                          f == F_SROW || (f == F_VOXOFF && h0.version == 1))
                           ? N_REAL_VALUES
                           : (int)(sizeof int_values / sizeof int_values[0]) + 3;
            /* every value for the fields that size and place the data (dim[0..4], datatype,
             * pixdim, vox_offset); a quarter of them, chosen at random, for the others */
            int all = (f == F_DIM && idx <= 4) || f == F_DATATYPE || f == F_PIXDIM ||
                      f == F_VOXOFF || f == F_UNITS;
            for (int k = 0; k < nval; k++) {
                if (!all && rnd_below(4))
                    continue;
                bytes m = dup_bytes(stream);
                hdr_view h = view(m.b);
                int64_t iv = f == F_DATATYPE ? datatypes[k]
                             : k < (int)(sizeof int_values / sizeof int_values[0])
                                 ? int_values[k]
                                 : vox_end[k - (int)(sizeof int_values / sizeof int_values[0])];
                double dv = real_value((size_t)k, (int64_t)stream.n);
                set_field(&h, (enum field)f, idx, iv, dv);
                snprintf(what, sizeof what, "%s: field %d[%d] = %lld / %g", rel, f, idx,
                         (long long)iv, dv);
                try_stream(st, m, gz, what);
                free(m.b);
            }
        }
    }
    /* several dims at once: nx*ny*nz overflows 64 bits, or just exceeds the file */
    for (int k = 0; k < 8; k++) {
        bytes m = dup_bytes(stream);
        hdr_view h = view(m.b);
        int64_t big = h.version == 1 ? 32767 : (k & 1 ? ((int64_t)1 << 22) + 1 : INT64_MAX / 3);
        set_field(&h, F_DIM, 0, 3 + (k >> 1), 0);
        for (int d = 1; d <= 3 + (k >> 1) && d < 8; d++)
            set_field(&h, F_DIM, d, big, 0);
        snprintf(what, sizeof what, "%s: huge dims (%d)", rel, k);
        try_stream(st, m, gz, what);
        free(m.b);
    }
    /* sizeof_hdr and magic */
    for (int k = 0; k < 12; k++) {
        bytes m = dup_bytes(stream);
        size_t off = k < 4 ? (size_t)k : (h0.version == 1 ? 344 : 4) + (size_t)(k - 4);
        m.b[off] ^= (uint8_t)(1u << (k % 8));
        snprintf(what, sizeof what, "%s: sizeof_hdr/magic byte %zu", rel, off);
        try_stream(st, m, gz, what);
        free(m.b);
    }
}

/* Random byte flips in the header and truncations of the stream. */
static void mutate_bytes(stats *st, const char *rel, bytes stream, int gz)
{
    char what[512];
    size_t hdr = view(stream.b).version == 1 ? NIFTI1_HDR + 4 : NIFTI2_HDR + 4;
    for (int k = 0; k < 60; k++) {
        bytes m = dup_bytes(stream);
        int nflip = 1 + (int)rnd_below(3);
        for (int j = 0; j < nflip; j++) {
            size_t off = rnd_below(hdr < m.n ? hdr : m.n);
            m.b[off] = k & 1 ? (uint8_t)rnd() : (uint8_t)(m.b[off] ^ (1u << rnd_below(8)));
        }
        snprintf(what, sizeof what, "%s: %d header byte flips (%d)", rel, nflip, k);
        try_stream(st, m, gz, what);
        free(m.b);
    }
    /* truncation: every offset near the header end and the data start, some elsewhere */
    size_t cuts[64];
    int ncut = 0;
    size_t fixed[] = {0, 1, 2, 3, 4, 5, 100, 347, 348, 351, 352, 353, 539, 540, 543, 544, 545};
    for (size_t i = 0; i < sizeof fixed / sizeof fixed[0]; i++)
        cuts[ncut++] = fixed[i];
    cuts[ncut++] = stream.n - 1;
    cuts[ncut++] = stream.n - 2;
    while (ncut < 40)
        cuts[ncut++] = rnd_below(stream.n);
    for (int i = 0; i < ncut; i++) {
        if (cuts[i] >= stream.n)
            continue;
        bytes m = {stream.b, cuts[i]};
        snprintf(what, sizeof what, "%s: stream truncated to %zu bytes", rel, cuts[i]);
        if (gz) {
            bytes z = gzip(m);
            try_read(st, z.b, z.n, (int)rnd_below(4), what);
            free(z.b);
        } else {
            try_read(st, m.b, m.n, (int)rnd_below(4), what);
        }
    }
}

/* Damage to the gzip container: header, trailer, deflate stream, truncation. */
static void mutate_gzip(stats *st, const char *rel, bytes file)
{
    char what[512];
    for (int k = 0; k < 100; k++) {
        bytes m = dup_bytes(file);
        size_t off;
        const char *where;
        switch (k % 4) {
        case 0: off = rnd_below(10); where = "gzip header"; break;
        case 1: off = m.n - 1 - rnd_below(8); where = "CRC-32/ISIZE trailer"; break;
        default: off = 10 + rnd_below(m.n - 18); where = "deflate stream"; break;
        }
        m.b[off] = k & 4 ? (uint8_t)rnd() : (uint8_t)(m.b[off] ^ (1u << rnd_below(8)));
        snprintf(what, sizeof what, "%s: %s byte %zu", rel, where, off);
        try_read(st, m.b, m.n, (int)rnd_below(4), what);
        free(m.b);
    }
    for (size_t cut = 0; cut < file.n; cut += 1 + cut / 8) {
        snprintf(what, sizeof what, "%s: gzip file truncated to %zu bytes", rel, cut);
        try_read(st, file.b, cut, (int)rnd_below(4), what);
    }
    /* junk, a zero pad and a second member after the first */
    static const uint8_t tails[][4] = {{0, 0, 0, 0}, {0x1f, 0, 0, 0}, {0x1f, 0x8b, 8, 0},
                                       {'a', 'b', 'c', 'd'}};
    for (size_t t = 0; t < sizeof tails / sizeof tails[0]; t++) {
        bytes m = {malloc(file.n + 4), file.n + 4};
        memcpy(m.b, file.b, file.n);
        memcpy(m.b + file.n, tails[t], 4);
        snprintf(what, sizeof what, "%s: 4 bytes appended (%zu)", rel, t);
        try_read(st, m.b, m.n, (int)rnd_below(4), what);
        free(m.b);
    }
}

START_TEST(nifti_mutations)
{
    stats st = {0, 0, 0};
    rng_state = 20261127;
    for (size_t i = 0; i < N_NIFTI_FIXTURES; i++) {
        const char *rel = nifti_fixtures[i];
        bytes file = slurp(rel);
        int gz = file.n >= 2 && file.b[0] == 0x1f && file.b[1] == 0x8b;
        bytes stream = gz ? gunzip(file) : dup_bytes(file);
        /* the unmutated fixture reads with every reader except, for 4D or non-integral
         * images, the label reader */
        for (int r = 0; r < 4; r++)
            if (r != 1)
                try_read(&st, file.b, file.n, r, rel);
        mutate_fields(&st, rel, stream, gz);
        mutate_bytes(&st, rel, stream, gz);
        if (gz)
            mutate_gzip(&st, rel, file);
        free(stream.b);
        free(file.b);
    }
    printf("io_mutations: %lld NIfTI files read: %lld volumes, %lld errors\n",
           (long long)st.tried, (long long)st.ok, (long long)st.failed);
    ck_assert_int_ge(st.tried, 3000);
    ck_assert_int_gt(st.ok, 0);
    ck_assert_int_gt(st.failed, 0);
}
END_TEST

/* ---- tables -------------------------------------------------------------------------------- */

static void try_table(stats *st, const char *text, size_t n, const char *what)
{
    static const char name[] = "mutated_table.tsv";
    ps_table *t = NULL;
    int rc = ps_table_parse(text, n, name, &t);
    st->tried++;
    if (rc) {
        ck_assert_msg(rc < 0 && t == NULL, "%s: status %d", what, rc);
        ck_assert_msg(strstr(ps_error_message(), name), "%s: message '%s' does not name the "
                      "table", what, ps_error_message());
        st->failed++;
        return;
    }
    ck_assert_msg(t && t->ncols >= 1 && t->nrows >= 0, "%s: bad table", what);
    for (int c = 0; c < t->ncols; c++)
        ck_assert_msg(ps_table_col(t, t->colnames[c]) == c, "%s: column %d", what, c);
    for (int64_t r = 0; r < t->nrows; r++) {
        ck_assert_msg(t->line[r] >= 1 && (r == 0 || t->line[r] > t->line[r - 1]),
                      "%s: row %lld line %lld", what, (long long)r, (long long)t->line[r]);
        for (int c = 0; c < t->ncols; c++) {
            double x;
            ck_assert(t->cells[r][c] != NULL);
            if (ps_table_get_double(t, r, c, &x))
                ck_assert_msg(strstr(ps_error_message(), name), "%s: '%s'", what,
                              ps_error_message());
        }
    }
    ps_table_free(t);
    st->ok++;
}

START_TEST(table_mutations)
{
    stats st = {0, 0, 0};
    char what[256];
    rng_state = 4180;
    static const char csv[] = "# comment\n"
                              "case,dice,\"note, quoted\"\r\n"
                              "p001,0.91,\"a \"\"b\"\"\nc\"\n"
                              "\n"
                              "p002,nan,\n"
                              "p003,-1e-3,x\n";
    const char *sources[3] = {csv, NULL, NULL};
    bytes tsv1 = slurp("golden/io/io_images.tsv"), tsv2 = slurp("golden/io/io_voxels.tsv");
    size_t lens[3] = {sizeof csv - 1, tsv1.n > 1500 ? 1500 : tsv1.n,
                      tsv2.n > 1500 ? 1500 : tsv2.n};
    sources[1] = (const char *)tsv1.b;
    sources[2] = (const char *)tsv2.b;
    /* bytes that change the parser's state */
    static const char special[] = {'"', ',', '\t', '\n', '\r', '#', '\0', ' ', 'x', '\xEF'};
    for (int s = 0; s < 3; s++) {
        for (int k = 0; k < 400; k++) {
            bytes m = {malloc(lens[s] + 8), lens[s]};
            memcpy(m.b, sources[s], lens[s]);
            int nedit = 1 + (int)rnd_below(4);
            for (int j = 0; j < nedit; j++) {
                size_t off = rnd_below(m.n);
                switch (rnd_below(3)) {
                case 0: m.b[off] = (uint8_t)special[rnd_below(sizeof special)]; break;
                case 1: m.b[off] = (uint8_t)rnd(); break;
                default: /* delete one byte */
                    memmove(m.b + off, m.b + off + 1, m.n - off - 1);
                    m.n--;
                    break;
                }
            }
            snprintf(what, sizeof what, "table %d: %d edits (%d)", s, nedit, k);
            try_table(&st, (const char *)m.b, m.n, what);
            free(m.b);
        }
        for (size_t cut = 0; cut <= lens[s]; cut += 1 + cut / 16) {
            snprintf(what, sizeof what, "table %d truncated to %zu bytes", s, cut);
            try_table(&st, sources[s], cut, what);
        }
    }
    free(tsv1.b);
    free(tsv2.b);
    printf("io_mutations: %lld tables parsed: %lld tables, %lld errors\n", (long long)st.tried,
           (long long)st.ok, (long long)st.failed);
    ck_assert_int_gt(st.ok, 0);
    ck_assert_int_gt(st.failed, 0);
}
END_TEST

/* ---- regressions: one per bug the fuzzers found ------------------------------------------ */

/* A NIfTI-1 header (from no_xform.nii) for an nx x 1 x 1 uint8 image at vox_offset 352. */
static bytes tiny_header(int16_t nx)
{
    bytes f = slurp("golden/io/no_xform.nii");
    hdr_view h = view(f.b);
    ck_assert_int_eq(h.version, 1);
    for (int d = 0; d < 8; d++)
        set_field(&h, F_DIM, d, d == 0 ? 3 : d == 1 ? nx : 1, 0);
    set_field(&h, F_DATATYPE, 0, 2, 0); /* DT_UINT8 */
    set_field(&h, F_BITPIX, 0, 8, 0);
    set_field(&h, F_VOXOFF, 0, 0, 352.0);
    set_field(&h, F_SLOPE, 0, 0, 0.0);
    f.n = 352;
    return f;
}

/* Streaming path: the first inflate fills 540 bytes of header buffer; an image that ends
 * before byte 540 (here at 353) with bytes after its data made the reader copy 540 bytes into
 * a 353-byte block (heap overflow found by fuzz_nifti). */
START_TEST(reg_stream_small_image_with_trailing_bytes)
{
    bytes raw = tiny_header(1);
    raw.b = realloc(raw.b, 352 + 1 + 300);
    raw.b[352] = 7;
    memset(raw.b + 353, 0xAB, 300);
    raw.n = 352 + 1 + 300;
    bytes z = gzip(raw);
    const char *path = ps_test_tmp("io_reg_trailing.nii.gz");
    write_file(path, z.b, z.n);
    for (int reader = 0; reader < 4; reader++) {
        ps_volume *v = NULL;
        ck_assert_msg(read_with(reader, path, &v) == 0, "reader %d: %s", reader,
                      ps_error_message());
        ck_assert_int_eq(ps_volume_nvox(v), 1);
        double x = v->dtype == PS_DT_FLOAT32 ? ((float *)v->data)[0] : ((uint8_t *)v->data)[0];
        ck_assert_close_abs(x, 7.0, 0); /* the byte written at offset 352 */
        ps_volume_free(v);
    }
    free(raw.b);
    free(z.b);
}
END_TEST

/* A .nii.gz of a few hundred bytes whose header claims 32767^3 float64 voxels (2.8e14 bytes)
 * made the reader allocate what the header claims before inflating (an allocation failure, or
 * an abort under ASan). Deflate expands at most 1032:1, so the header is now rejected as
 * corrupt; a genuinely 1000:1 compressed file is still read. */
START_TEST(reg_gzip_claims_more_than_it_can_hold)
{
    const char *path = ps_test_tmp("io_reg_bomb.nii.gz");
    bytes raw = tiny_header(1);
    hdr_view h = view(raw.b);
    for (int d = 1; d <= 3; d++)
        set_field(&h, F_DIM, d, 32767, 0);
    set_field(&h, F_DATATYPE, 0, 64, 0); /* DT_FLOAT64 */
    set_field(&h, F_BITPIX, 0, 64, 0);
    bytes z = gzip(raw);
    write_file(path, z.b, z.n);
    for (int reader = 0; reader < 4; reader++) {
        ps_volume *v = NULL;
        int rc = read_with(reader, path, &v);
        ck_assert_int_eq(rc, PS_ERR_FORMAT);
        ck_assert_ptr_null(v);
        ck_assert_msg(strstr(ps_error_message(), path) &&
                      strstr(ps_error_message(), "more than a gzip file"), "%s",
                      ps_error_message());
    }
    free(z.b);
    free(raw.b);

    /* 200 x 200 x 100 zero bytes at zlib level 9: about 1000:1, within the bound */
    raw = tiny_header(200);
    h = view(raw.b);
    set_field(&h, F_DIM, 2, 200, 0);
    set_field(&h, F_DIM, 3, 100, 0);
    size_t nvox = 200 * 200 * 100;
    raw.b = realloc(raw.b, 352 + nvox);
    memset(raw.b + 352, 0, nvox);
    raw.n = 352 + nvox;
    z = gzip_level(raw, 9);
    ck_assert_msg(z.n * 900 < raw.n, "ratio %g", (double)raw.n / (double)z.n);
    write_file(path, z.b, z.n);
    for (int reader = 0; reader < 4; reader += 3) {
        ps_volume *v = NULL;
        ck_assert_msg(read_with(reader, path, &v) == 0, "%s", ps_error_message());
        ck_assert_int_eq(ps_volume_nvox(v), (int64_t)nvox);
        ps_volume_free(v);
    }
    free(z.b);
    free(raw.b);
}
END_TEST

/* A NIfTI-2 pixdim is a double: 1e306 in metres is inf mm, and 1e-322 in microns is 0 mm
 * (1e-325, below half the smallest subnormal 4.9e-324). The reader checked pixdim before the
 * unit conversion and returned a volume with an infinite or zero spacing (found by review
 * while writing the unit-code mutations above). */
START_TEST(reg_spacing_overflows_in_mm)
{
    const char *path = ps_test_tmp("io_reg_units.nii.gz");
    bytes file = slurp("golden/io/n2_i32.nii.gz");
    bytes stream = gunzip(file);
    static const struct { int units; double pixdim; } cases[] = {{1, 1e306}, {3, 1e-322}};
    for (int c = 0; c < 2; c++) {
        bytes m = dup_bytes(stream);
        hdr_view h = view(m.b);
        ck_assert_int_eq(h.version, 2);
        set_field(&h, F_UNITS, 0, cases[c].units, 0);
        set_field(&h, F_PIXDIM, 1, 0, cases[c].pixdim);
        bytes z = gzip(m);
        write_file(path, z.b, z.n);
        ps_volume *v = NULL;
        ck_assert_int_eq(ps_volume_read(path, &v), PS_ERR_FORMAT);
        ck_assert_msg(strstr(ps_error_message(), path) &&
                      strstr(ps_error_message(), "pixdim[1]"), "%s", ps_error_message());
        free(z.b);
        free(m.b);
    }
    free(stream.b);
    free(file.b);
}
END_TEST

static Suite *make_suite(void)
{
    Suite *s = suite_create("io");
    TCase *tc = tcase_create("mutations");
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, nifti_mutations);
    tcase_add_test(tc, table_mutations);
    tcase_add_test(tc, reg_stream_small_image_with_trailing_bytes);
    tcase_add_test(tc, reg_gzip_claims_more_than_it_can_hold);
    tcase_add_test(tc, reg_spacing_overflows_in_mm);
    suite_add_tcase(s, tc);
    return s;
}

PS_TEST_MAIN(make_suite)
