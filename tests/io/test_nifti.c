/* Tests of NIfTI reading and writing, label / float views and geometry.
 *
 * Expected values: golden/io/io_images.tsv and io_voxels.tsv, written by nibabel through
 * tests/reference/io_make_fixtures.py (the source is named in each row); round trips compare
 * with the values written; hand calculations are shown beside the assertions. Bad inputs are
 * made here by patching the bytes of a valid file at the NIfTI-1 field offsets (nifti1.h).
 */
#include "io_internal.h" /* ps_io_volume_read_ex: force the streaming zlib path */
#include "ps_io.h"
#include "ps_test.h"

#include <stdint.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>
#include <zlib.h>

#define TOL_AFFINE 1e-9  /* nibabel and niftilib both build the matrix in double */
#define TOL_FLOAT32 1e-6 /* values read as float32 */

/* ---- helpers ---------------------------------------------------------------------------- */

static double vox_value(const ps_volume *v, int64_t idx)
{
    switch (v->dtype) {
    case PS_DT_UINT8: return ((const uint8_t *)v->data)[idx];
    case PS_DT_INT8: return ((const int8_t *)v->data)[idx];
    case PS_DT_INT16: return ((const int16_t *)v->data)[idx];
    case PS_DT_UINT16: return ((const uint16_t *)v->data)[idx];
    case PS_DT_INT32: return ((const int32_t *)v->data)[idx];
    case PS_DT_UINT32: return ((const uint32_t *)v->data)[idx];
    case PS_DT_INT64: return (double)((const int64_t *)v->data)[idx];
    case PS_DT_FLOAT32: return ((const float *)v->data)[idx];
    case PS_DT_FLOAT64: return ((const double *)v->data)[idx];
    }
    return NAN;
}

static void scaling_of(const ps_volume *v, double *slope, double *inter)
{
    /* NIfTI: slope 0 means no scaling (nibabel reports it as 1, 0) */
    *slope = v->scl_slope == 0.0 ? 1.0 : v->scl_slope;
    *inter = v->scl_slope == 0.0 ? 0.0 : v->scl_inter;
}

static const char *golden(const char *name)
{
    static char buf[4096];
    char rel[512];
    snprintf(rel, sizeof rel, "golden/io/%s", name);
    snprintf(buf, sizeof buf, "%s", ps_test_path(rel));
    return buf;
}

static unsigned char *slurp(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    ck_assert_msg(f != NULL, "cannot open %s", path);
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    unsigned char *b = malloc((size_t)n + 1);
    ck_assert(fread(b, 1, (size_t)n, f) == (size_t)n);
    fclose(f);
    *len = (size_t)n;
    return b;
}

static void spit(const char *path, const void *b, size_t n)
{
    FILE *f = fopen(path, "wb");
    ck_assert(f != NULL);
    ck_assert(fwrite(b, 1, n, f) == n);
    fclose(f);
}

static void spit_gz(const char *path, const void *b, size_t n)
{
    gzFile g = gzopen(path, "wb6");
    ck_assert(g != NULL);
    ck_assert(gzwrite(g, b, (unsigned)n) == (int)n);
    gzclose(g);
}

/* The message names the file and contains `what`. */
static void expect_error(int rc, int code, const char *path, const char *what)
{
    const char *m = ps_error_message();
    ck_assert_msg(rc == code, "rc %d (%s), expected %d; message: %s", rc, ps_status_name(rc),
                  code, m);
    ck_assert_msg(strstr(m, path) != NULL, "message does not name %s: %s", path, m);
    ck_assert_msg(strstr(m, what) != NULL, "message lacks '%s': %s", what, m);
}

static ps_table *load_tsv(const char *name)
{
    ps_table *t = NULL;
    int rc = ps_table_read(golden(name), &t);
    ck_assert_msg(rc == 0, "%s", ps_error_message());
    return t;
}

static double cell(const ps_table *t, int64_t r, const char *col)
{
    int c;
    double x;
    ck_assert_int_eq(ps_table_require_col(t, col, &c), 0);
    ck_assert_msg(ps_table_get_double(t, r, c, &x) == 0, "%s", ps_error_message());
    return x;
}

static const char *cell_str(const ps_table *t, int64_t r, const char *col)
{
    int c;
    ck_assert_int_eq(ps_table_require_col(t, col, &c), 0);
    return t->cells[r][c];
}

/* ---- golden fixtures from nibabel -------------------------------------------------------- */

START_TEST(golden_headers_and_sums)
{
    ps_table *t = load_tsv("io_images.tsv");
    ck_assert_int_ge(t->nrows, 16);
    for (int64_t r = 0; r < t->nrows; r++) {
        const char *file = cell_str(t, r, "file");
        char path[4096];
        snprintf(path, sizeof path, "%s", golden(file));
        ps_volume *v = NULL;
        int rc = ps_volume_read(path, &v);
        ck_assert_msg(rc == 0, "%s: %s", file, ps_error_message());
        ck_assert_int_eq(v->geom.dim[0], (int64_t)cell(t, r, "nx"));
        ck_assert_int_eq(v->geom.dim[1], (int64_t)cell(t, r, "ny"));
        ck_assert_int_eq(v->geom.dim[2], (int64_t)cell(t, r, "nz"));
        ck_assert_int_eq(v->nc, (int64_t)cell(t, r, "nt"));
        ck_assert_str_eq(ps_dtype_name(v->dtype), cell_str(t, r, "dtype"));
        ck_assert_int_eq(v->geom.qform_code, (int)cell(t, r, "qform_code"));
        ck_assert_int_eq(v->geom.sform_code, (int)cell(t, r, "sform_code"));
        double slope, inter;
        scaling_of(v, &slope, &inter);
        ck_assert_close(slope, cell(t, r, "scl_slope"), PS_TOL_EXACT);
        ck_assert_close(inter, cell(t, r, "scl_inter"), PS_TOL_EXACT);
        static const char *sp[3] = {"spacing_x_mm", "spacing_y_mm", "spacing_z_mm"};
        for (int d = 0; d < 3; d++)
            ck_assert_close(v->geom.spacing_mm[d], cell(t, r, sp[d]), PS_TOL_EXACT);
        for (int i = 0; i < 3; i++)
            for (int j = 0; j < 4; j++) {
                char col[8];
                snprintf(col, sizeof col, "a%d%d", i, j);
                double want = cell(t, r, col);
                ck_assert_msg(fabs(v->geom.affine[i][j] - want) <= TOL_AFFINE * fmax(1, fabs(want)),
                              "%s affine[%d][%d] = %.17g, nibabel %.17g", file, i, j,
                              v->geom.affine[i][j], want);
            }
        ck_assert_double_eq(v->geom.affine[3][3], 1.0);
        int64_t n = ps_volume_nvox(v) * v->nc;
        double sum = 0;
        for (int64_t i = 0; i < n; i++)
            sum += vox_value(v, i) * slope + inter;
        ck_assert_msg(fabs(sum - cell(t, r, "sum_scaled")) <= 1e-9 * fmax(1, fabs(sum)),
                      "%s: sum %.17g, nibabel %.17g", file, sum, cell(t, r, "sum_scaled"));
        ps_volume_free(v);
    }
    ps_table_free(t);
}
END_TEST

START_TEST(golden_voxels_stored_and_float)
{
    ps_table *t = load_tsv("io_voxels.tsv");
    for (int64_t r = 0; r < t->nrows; r++) {
        const char *file = cell_str(t, r, "file");
        char path[4096];
        snprintf(path, sizeof path, "%s", golden(file));
        ps_volume *v = NULL, *f = NULL;
        ck_assert_msg(ps_volume_read(path, &v) == 0, "%s", ps_error_message());
        ck_assert_msg(ps_volume_read_float(path, &f) == 0, "%s", ps_error_message());
        ck_assert_int_eq(f->dtype, PS_DT_FLOAT32);
        int64_t i = (int64_t)cell(t, r, "i"), j = (int64_t)cell(t, r, "j"),
                k = (int64_t)cell(t, r, "k"), c = (int64_t)cell(t, r, "t");
        int64_t idx = i + v->geom.dim[0] * (j + v->geom.dim[1] * (k + v->geom.dim[2] * c));
        double slope, inter, want = cell(t, r, "value");
        scaling_of(v, &slope, &inter);
        ck_assert_close(vox_value(v, idx) * slope + inter, want, PS_TOL_EXACT);
        ck_assert_close(vox_value(f, idx), want, TOL_FLOAT32);
        ps_volume_free(v);
        ps_volume_free(f);
    }
    ps_table_free(t);
}
END_TEST

START_TEST(units_meter_converted_to_mm)
{
    /* pixdim (0.001, 0.002, 0.003) m -> (1, 2, 3) mm up to float32 rounding of pixdim */
    ps_volume *v = NULL;
    ck_assert_int_eq(ps_volume_read(golden("units_meter.nii"), &v), 0);
    ck_assert_close_abs(v->geom.spacing_mm[0], 1.0, 1e-6);
    ck_assert_close_abs(v->geom.spacing_mm[2], 3.0, 1e-6);
    ck_assert_close_abs(v->geom.affine[1][1], 2.0, 1e-6);
    ps_volume_free(v);
}
END_TEST

/* ---- .hdr/.img pairs ---------------------------------------------------------------------- */

static void copy_file(const char *from, const char *to)
{
    size_t n;
    unsigned char *b = slurp(from, &n);
    spit(to, b, n);
    free(b);
}

START_TEST(pair_either_name_and_labels)
{
    /* the .hdr and the .img name give the same volume; labels and the float view work */
    ps_volume *a = NULL, *b = NULL, *l = NULL;
    ck_assert_msg(ps_volume_read(golden("pair_u8.hdr.gz"), &a) == 0, "%s", ps_error_message());
    ck_assert_msg(ps_volume_read(golden("pair_u8.img.gz"), &b) == 0, "%s", ps_error_message());
    ck_assert_int_eq(memcmp(a->data, b->data, (size_t)ps_volume_nvox(a)), 0);
    ck_assert_int_eq(memcmp(&a->geom, &b->geom, sizeof a->geom), 0);
    ck_assert_str_eq(b->path, golden("pair_u8.img.gz"));
    ck_assert_int_eq(ps_volume_read_labels(golden("analyze_u8.hdr"), &l), 0);
    ck_assert_int_eq(l->dtype, PS_DT_UINT8);
    ps_volume_free(a);
    ps_volume_free(b);
    ps_volume_free(l);

    /* the partner may be compressed differently (niftilib looks for both) */
    copy_file(golden("pair_i16.hdr"), ps_test_tmp("mixed.hdr"));
    size_t n;
    unsigned char *img = slurp(golden("pair_i16.img"), &n);
    spit_gz(ps_test_tmp("mixed.img.gz"), img, n);
    free(img);
    ck_assert_msg(ps_volume_read(ps_test_tmp("mixed.hdr"), &a) == 0, "%s", ps_error_message());
    ck_assert_int_eq(ps_volume_read(golden("pair_i16.img"), &b), 0);
    ck_assert_int_eq(memcmp(a->data, b->data, (size_t)ps_volume_nvox(a) * 2), 0);
    ps_volume_free(a);
    ps_volume_free(b);
}
END_TEST

START_TEST(pair_analyze_written_back_keeps_placement)
{
    /* An Analyze volume written as NIfTI carries nibabel's affine in its sform (code 2): read
     * back, the grid is the same. */
    ps_volume *a = NULL, *b = NULL;
    ck_assert_int_eq(ps_volume_read(golden("analyze_spm_i16.hdr"), &a), 0);
    const char *p = ps_test_tmp("from_analyze.nii.gz");
    ck_assert_int_eq(ps_volume_write(p, a), 0);
    ck_assert_int_eq(ps_volume_read(p, &b), 0);
    ck_assert_int_eq(ps_geometry_check_same(&a->geom, "a", &b->geom, "b"), 0);
    ck_assert_int_eq(b->geom.sform_code, 2);
    ck_assert_double_eq(b->scl_slope, 0.5); /* funused1 and funused2 become scl_slope/inter */
    ck_assert_double_eq(b->scl_inter, 2.0);
    ps_volume_free(a);
    ps_volume_free(b);
}
END_TEST

START_TEST(pair_errors)
{
    ps_volume *v = NULL;
    /* missing partner: both names it looked for are given */
    copy_file(golden("pair_i16.hdr"), ps_test_tmp("lonely.hdr"));
    const char *p = ps_test_tmp("lonely.hdr");
    expect_error(ps_volume_read(p, &v), PS_ERR_IO, p, "image file of this .hdr/.img pair is missing");
    ck_assert(strstr(ps_error_message(), "lonely.img.gz") != NULL);
    copy_file(golden("pair_i16.img"), ps_test_tmp("orphan.img"));
    p = ps_test_tmp("orphan.img");
    expect_error(ps_volume_read(p, &v), PS_ERR_IO, p, "header file");

    /* an SPM .mat beside an Analyze pair is refused, not ignored (nibabel would apply it) */
    copy_file(golden("analyze_u8.hdr"), ps_test_tmp("spm.hdr"));
    copy_file(golden("analyze_u8.img"), ps_test_tmp("spm.img"));
    spit(ps_test_tmp("spm.mat"), "MATLAB", 6);
    p = ps_test_tmp("spm.img");
    expect_error(ps_volume_read(p, &v), PS_ERR_UNSUPPORTED, p, "reading .mat files is not supported");

    /* a single-file header named .hdr; an Analyze type panseval does not read; data too short */
    size_t n;
    unsigned char *h = slurp(golden("pair_i16.hdr"), &n);
    memcpy(h + 344, "n+1", 4);
    spit(ps_test_tmp("single.hdr"), h, n);
    copy_file(golden("pair_i16.img"), ps_test_tmp("single.img"));
    p = ps_test_tmp("single.hdr");
    expect_error(ps_volume_read(p, &v), PS_ERR_FORMAT, p, "rename it to .nii");
    free(h);
    h = slurp(golden("analyze_u8.hdr"), &n);
    int16_t dt = 128; /* RGB */
    memcpy(h + 70, &dt, 2);
    spit(ps_test_tmp("rgb.hdr"), h, n);
    copy_file(golden("analyze_u8.img"), ps_test_tmp("rgb.img"));
    p = ps_test_tmp("rgb.hdr");
    expect_error(ps_volume_read(p, &v), PS_ERR_UNSUPPORTED, p, "Analyze 7.5 datatype 128");
    free(h);
    unsigned char *img = slurp(golden("analyze_u8.img"), &n);
    copy_file(golden("analyze_u8.hdr"), ps_test_tmp("short.hdr"));
    spit(ps_test_tmp("short.img"), img, n - 1);
    free(img);
    char short_img[4096];
    snprintf(short_img, sizeof short_img, "%s", ps_test_tmp("short.img"));
    expect_error(ps_volume_read(ps_test_tmp("short.hdr"), &v), PS_ERR_FORMAT, short_img,
                 "shorter than its data");
    ck_assert_ptr_null(v);
}
END_TEST

/* ---- label maps -------------------------------------------------------------------------- */

START_TEST(labels_uint8_zero_copy)
{
    ps_volume *v = NULL;
    ck_assert_int_eq(ps_volume_read_labels(golden("u8_qform.nii.gz"), &v), 0);
    ck_assert_int_eq(v->dtype, PS_DT_UINT8);
    /* zero copy: the voxels sit inside the block that holds the decompressed file */
    ck_assert_ptr_ne(v->data, v->block_);
    ck_assert((const char *)v->data > (const char *)v->block_);
    ps_volume_free(v);
    ck_assert_int_eq(ps_volume_read_labels(golden("no_xform.nii"), &v), 0);
    ck_assert_ptr_eq(v->data, v->block_); /* .nii: the block is the voxel data */
    ps_volume_free(v);
}
END_TEST

START_TEST(labels_int32_and_scaled_and_float)
{
    ps_volume *v = NULL, *raw = NULL;
    /* n2_i32: labels 0, 300, 600 -> int32, same values */
    ck_assert_int_eq(ps_volume_read_labels(golden("n2_i32.nii.gz"), &v), 0);
    ck_assert_int_eq(v->dtype, PS_DT_INT32);
    ck_assert_int_eq(ps_volume_read(golden("n2_i32.nii.gz"), &raw), 0);
    for (int64_t i = 0; i < ps_volume_nvox(v); i++)
        ck_assert_int_eq(((int32_t *)v->data)[i], ((int32_t *)raw->data)[i]);
    ps_volume_free(v);
    ps_volume_free(raw);

    /* u8_inter1: stored 0..2 with scl_inter 1 -> labels 1..3 as uint8 */
    ck_assert_int_eq(ps_volume_read_labels(golden("u8_inter1.nii.gz"), &v), 0);
    ck_assert_int_eq(ps_volume_read(golden("u8_inter1.nii.gz"), &raw), 0);
    ck_assert_int_eq(v->dtype, PS_DT_UINT8);
    ck_assert_double_eq(v->scl_slope, 0.0);
    for (int64_t i = 0; i < ps_volume_nvox(v); i++)
        ck_assert_int_eq(((uint8_t *)v->data)[i], ((uint8_t *)raw->data)[i] + 1);
    ps_volume_free(v);
    ps_volume_free(raw);

    /* float labels with noise below 1e-3 round to the nearest integer */
    ck_assert_int_eq(ps_volume_read_labels(golden("f32_labels_noisy.nii.gz"), &v), 0);
    ck_assert_int_eq(ps_volume_read(golden("f32_labels_noisy.nii.gz"), &raw), 0);
    ck_assert_int_eq(v->dtype, PS_DT_UINT8);
    for (int64_t i = 0; i < ps_volume_nvox(v); i++)
        ck_assert_int_eq(((uint8_t *)v->data)[i], (int)lround(((float *)raw->data)[i]));
    ps_volume_free(v);
    ps_volume_free(raw);

    /* u32 fixture: values 0..70000 -> int32 */
    ck_assert_int_eq(ps_volume_read_labels(golden("u32.nii.gz"), &v), 0);
    ck_assert_int_eq(v->dtype, PS_DT_INT32);
    ps_volume_free(v);
}
END_TEST

START_TEST(labels_rejected)
{
    ps_volume *v = NULL;
    /* slope 0.5, inter 10 on random int16: negative and fractional labels */
    const char *p = golden("i16_scaled_sform.nii");
    expect_error(ps_volume_read_labels(p, &v), PS_ERR_FORMAT, p, "(after scl_slope 0.5, scl_inter 10)");
    ck_assert(strstr(ps_error_message(), "at voxel (") != NULL);
    ck_assert_ptr_null(v);
    p = golden("i8.nii.gz"); /* int8 values from -128 */
    expect_error(ps_volume_read_labels(p, &v), PS_ERR_FORMAT, p, "negative label");
    p = golden("f64_4d.nii");
    expect_error(ps_volume_read_labels(p, &v), PS_ERR_FORMAT, p, "6x5x4x2");
    p = golden("f32_qform_oblique.nii.gz");
    expect_error(ps_volume_read_labels(p, &v), PS_ERR_FORMAT, p, "is not an integer");
}
END_TEST

/* Hand-made label maps: first offending voxel in file order, NaN, int32 overflow. */
START_TEST(labels_rejected_handmade)
{
    ps_geometry g;
    ps_geometry_init(&g, 3, 2, 2, 1, 1, 1);
    ps_volume *v = NULL;
    ck_assert_int_eq(ps_volume_create(&g, 1, PS_DT_FLOAT32, &v), 0);
    float *d = v->data;
    d[7] = 2.5f;  /* index 7 = (1, 0, 1): 7 = 1 + 3*(0 + 2*1) */
    d[10] = 0.5f; /* later voxel, not reported */
    const char *p = ps_test_tmp("lab_half.nii");
    ck_assert_int_eq(ps_volume_write(p, v), 0);
    ps_volume *l = NULL;
    expect_error(ps_volume_read_labels(p, &l), PS_ERR_FORMAT, p, "value 2.5 at voxel (1, 0, 1)");
    d[7] = NAN;
    ck_assert_int_eq(ps_volume_write(p, v), 0);
    expect_error(ps_volume_read_labels(p, &l), PS_ERR_FORMAT, p, "NaN at voxel (1, 0, 1)");
    d[7] = 3e9f;
    d[10] = 0.0f;
    ck_assert_int_eq(ps_volume_write(p, v), 0);
    expect_error(ps_volume_read_labels(p, &l), PS_ERR_RANGE, p, "int32");
    d[7] = 1.0005f; /* within 1e-3 of 1 */
    ck_assert_int_eq(ps_volume_write(p, v), 0);
    ck_assert_int_eq(ps_volume_read_labels(p, &l), 0);
    ck_assert_int_eq(((uint8_t *)l->data)[7], 1);
    ps_volume_free(l);
    ps_volume_free(v);
}
END_TEST

/* ---- round trips ------------------------------------------------------------------------- */

static void fill_pattern(ps_volume *v)
{
    int64_t n = ps_volume_nvox(v) * v->nc;
    for (int64_t i = 0; i < n; i++) {
        int64_t x = (i * 37) % 251 - (v->dtype == PS_DT_UINT8 || v->dtype == PS_DT_UINT16 ||
                                           v->dtype == PS_DT_UINT32 ? 0 : 100);
        switch (v->dtype) {
        case PS_DT_UINT8: ((uint8_t *)v->data)[i] = (uint8_t)x; break;
        case PS_DT_INT8: ((int8_t *)v->data)[i] = (int8_t)(x % 128); break;
        case PS_DT_INT16: ((int16_t *)v->data)[i] = (int16_t)(x * 100); break;
        case PS_DT_UINT16: ((uint16_t *)v->data)[i] = (uint16_t)(x * 200); break;
        case PS_DT_INT32: ((int32_t *)v->data)[i] = (int32_t)(x * 100000); break;
        case PS_DT_UINT32: ((uint32_t *)v->data)[i] = (uint32_t)x * 10000000u; break;
        case PS_DT_INT64: ((int64_t *)v->data)[i] = x * 10000000000LL; break;
        case PS_DT_FLOAT32: ((float *)v->data)[i] = (float)x / 7.0f; break;
        case PS_DT_FLOAT64: ((double *)v->data)[i] = (double)x / 7.0; break;
        }
    }
}

static int header_size_of(const char *path)
{
    gzFile g = gzopen(path, "rb"); /* reads plain files too */
    int32_t sz = 0;
    ck_assert(gzread(g, &sz, 4) == 4);
    gzclose(g);
    return sz;
}

static void round_trip(ps_dtype dt, int64_t nx, int64_t ny, int64_t nz, int64_t nc, int gz,
                       int expect_version)
{
    ps_geometry g;
    ps_geometry_init(&g, nx, ny, nz, 0.75, 0.8, 2.5);
    /* oblique: rotation of 30 degrees about z, origin (-12.5, 7.25, 100) */
    double c = cos(M_PI / 6), s = sin(M_PI / 6);
    double aff[4][4] = {{0.75 * c, -0.8 * s, 0, -12.5},
                        {0.75 * s, 0.8 * c, 0, 7.25},
                        {0, 0, 2.5, 100},
                        {0, 0, 0, 1}};
    ps_geometry_set_affine(&g, aff);
    ps_volume *v = NULL, *w = NULL;
    ck_assert_int_eq(ps_volume_create(&g, nc, dt, &v), 0);
    fill_pattern(v);
    char name[128];
    snprintf(name, sizeof name, "rt_%s_%lldx%lld_%lld.%s", ps_dtype_name(dt), (long long)nx,
             (long long)nz, (long long)nc, gz ? "nii.gz" : "nii");
    char path[4096];
    snprintf(path, sizeof path, "%s", ps_test_tmp(name));
    ck_assert_msg(ps_volume_write(path, v) == 0, "%s", ps_error_message());
    ck_assert_int_eq(header_size_of(path), expect_version == 2 ? 540 : 348);
    ck_assert_msg(ps_volume_read(path, &w) == 0, "%s", ps_error_message());
    ck_assert_int_eq(w->dtype, dt);
    ck_assert_int_eq(w->nc, nc);
    for (int d = 0; d < 3; d++) {
        ck_assert_int_eq(w->geom.dim[d], v->geom.dim[d]);
        ck_assert_close(w->geom.spacing_mm[d], v->geom.spacing_mm[d], 1e-6);
    }
    ck_assert_int_eq(w->geom.qform_code, 1);
    ck_assert_int_eq(w->geom.sform_code, 1);
    for (int i = 0; i < 3; i++)
        for (int j = 0; j < 4; j++) {
            /* NIfTI-1 stores the sform in float32 */
            ck_assert_close_abs(w->geom.affine[i][j], aff[i][j], 1e-5);
            ck_assert_close_abs(w->geom.qform[i][j], aff[i][j], 1e-5);
        }
    ck_assert_int_eq(ps_geometry_check_same(&v->geom, "a", &w->geom, "b"), 0);
    size_t bytes = (size_t)(ps_volume_nvox(v) * nc) * ps_dtype_size(dt);
    ck_assert_msg(memcmp(v->data, w->data, bytes) == 0, "%s: voxel data differ", name);
    ps_volume_free(v);
    ps_volume_free(w);
}

static const ps_dtype all_types[] = {PS_DT_UINT8, PS_DT_INT8, PS_DT_INT16,
                                     PS_DT_UINT16, PS_DT_INT32, PS_DT_UINT32,
                                     PS_DT_INT64, PS_DT_FLOAT32, PS_DT_FLOAT64};

START_TEST(round_trip_all_types)
{
    ps_dtype dt = all_types[_i];
    round_trip(dt, 7, 5, 3, 1, 0, 1);
    round_trip(dt, 7, 5, 3, 1, 1, 1);
    round_trip(dt, 4, 3, 2, 3, 0, 1);
    round_trip(dt, 4, 3, 2, 3, 1, 1);
    /* a dim above 32767 needs NIfTI-2 */
    round_trip(dt, 40000, 1, 1, 1, 1, 2);
    round_trip(dt, 32768, 1, 1, 2, 0, 2);
}
END_TEST

START_TEST(write_keeps_scaling_and_geometry_codes)
{
    ps_volume *v = NULL, *w = NULL;
    const char *src = golden("i16_scaled_sform.nii");
    ck_assert_int_eq(ps_volume_read(src, &v), 0);
    const char *p = ps_test_tmp("copy_scaled.nii.gz");
    ck_assert_int_eq(ps_volume_write(p, v), 0);
    ck_assert_int_eq(ps_volume_read(p, &w), 0);
    ck_assert_double_eq(w->scl_slope, 0.5);
    ck_assert_double_eq(w->scl_inter, 10.0);
    ck_assert_int_eq(w->geom.qform_code, 1);
    ck_assert_int_eq(w->geom.sform_code, 2);
    for (int i = 0; i < 3; i++)
        for (int j = 0; j < 4; j++) {
            ck_assert_double_eq(w->geom.affine[i][j], v->geom.affine[i][j]);
            ck_assert_double_eq(w->geom.qform[i][j], v->geom.qform[i][j]);
        }
    ck_assert_int_eq(memcmp(v->data, w->data, (size_t)ps_volume_nvox(v) * 2), 0);
    ps_volume_free(w);
    /* the float view has the scaling applied, so it is written unscaled */
    ps_volume_free(v);
    ck_assert_int_eq(ps_volume_read_float(src, &v), 0);
    ck_assert_int_eq(ps_volume_write(p, v), 0);
    ck_assert_int_eq(ps_volume_read_float(p, &w), 0);
    ck_assert_int_eq(memcmp(v->data, w->data, (size_t)ps_volume_nvox(v) * 4), 0);
    ps_volume_free(v);
    ps_volume_free(w);
    /* qfac -1 survives */
    ck_assert_int_eq(ps_volume_read(golden("f32_qform_oblique.nii.gz"), &v), 0);
    ck_assert_double_eq(v->geom.qfac, -1.0);
    ck_assert_int_eq(ps_volume_write(p, v), 0);
    ck_assert_int_eq(ps_volume_read(p, &w), 0);
    ck_assert_double_eq(w->geom.qfac, -1.0);
    ck_assert_int_eq(ps_geometry_check_same(&v->geom, "a", &w->geom, "b"), 0);
    ps_volume_free(v);
    ps_volume_free(w);
}
END_TEST

START_TEST(write_bad_suffix_and_folder)
{
    ps_geometry g;
    ps_geometry_init(&g, 2, 2, 2, 1, 1, 1);
    ps_volume *v = NULL;
    ck_assert_int_eq(ps_volume_create(&g, 1, PS_DT_UINT8, &v), 0);
    expect_error(ps_volume_write("out.mha", v), PS_ERR_ARG, "out.mha", ".nii or .nii.gz");
    const char *p = "/nonexistent-folder/x.nii.gz";
    expect_error(ps_volume_write(p, v), PS_ERR_IO, p, "");
    ps_volume_free(v);
}
END_TEST

/* ---- gzip variants ------------------------------------------------------------------------ */

START_TEST(gzip_member_past_data_and_trailing_bytes)
{
    /* An uncompressed stream that continues after the voxel data (100 extra bytes in the same
     * member) and a file with junk after the last member: both read, the extra is ignored. */
    size_t n;
    unsigned char *raw = slurp(golden("no_xform.nii"), &n);
    unsigned char *big = calloc(n + 100, 1);
    memcpy(big, raw, n);
    const char *p = ps_test_tmp("extra_after_data.nii.gz");
    spit_gz(p, big, n + 100);
    ps_volume *a = NULL, *b = NULL;
    ck_assert_msg(ps_volume_read(p, &a) == 0, "%s", ps_error_message());
    ck_assert_int_eq(ps_volume_read(golden("no_xform.nii"), &b), 0);
    ck_assert_int_eq(memcmp(a->data, b->data, 24), 0);
    ps_volume_free(a);
    size_t zn;
    unsigned char *z = slurp(golden("u8_qform.nii.gz"), &zn);
    unsigned char *zz = malloc(zn + 7);
    memcpy(zz, z, zn);
    memcpy(zz + zn, "garbage", 7);
    p = ps_test_tmp("trailing_junk.nii.gz");
    spit(p, zz, zn + 7);
    ck_assert_msg(ps_volume_read(p, &a) == 0, "%s", ps_error_message());
    ps_volume_free(a);
    ps_volume_free(b);
    free(raw);
    free(big);
    free(z);
    free(zz);
}
END_TEST

START_TEST(multimember_matches_plain)
{
    /* multimember.nii.gz: three members split inside the header and inside the data;
     * nibabel's sum (451) is checked in golden_headers_and_sums; here the layout */
    ps_volume *v = NULL;
    ck_assert_int_eq(ps_volume_read_labels(golden("multimember.nii.gz"), &v), 0);
    ck_assert_int_eq(v->geom.dim[0], 7);
    ck_assert_int_eq(v->geom.dim[2], 5);
    ps_volume_free(v);
}
END_TEST

START_TEST(streaming_zlib_matches_one_pass)
{
    /* limit 0: the compressed file is streamed in chunks and inflated by zlib */
    static const char *files[] = {"u8_qform.nii.gz", "f32_qform_oblique.nii.gz",
                                  "multimember.nii.gz", "n2_i32.nii.gz", "i64.nii.gz",
                                  "pair_u8.img.gz", "analyze_cal_f32.hdr.gz"};
    for (size_t f = 0; f < sizeof files / sizeof *files; f++) {
        char path[4096];
        snprintf(path, sizeof path, "%s", golden(files[f]));
        ps_volume *a = NULL, *b = NULL;
        ck_assert_int_eq(ps_volume_read(path, &a), 0);
        ck_assert_msg(ps_io_volume_read_ex(path, 0, &b) == 0, "%s", ps_error_message());
        size_t bytes = (size_t)(ps_volume_nvox(a) * a->nc) * ps_dtype_size(a->dtype);
        ck_assert_int_eq(b->dtype, a->dtype);
        ck_assert_int_eq(memcmp(a->data, b->data, bytes), 0);
        ck_assert_int_eq(memcmp(&a->geom, &b->geom, sizeof a->geom), 0);
        ps_volume_free(a);
        ps_volume_free(b);
    }
    /* corrupt data past the point where the streaming reader has all it needs is still
     * caught by the CRC check of the member */
    size_t n;
    unsigned char *raw = slurp(golden("f64_4d.nii"), &n);
    const char *p = ps_test_tmp("stream_src.nii.gz");
    spit_gz(p, raw, n);
    free(raw);
    unsigned char *z = slurp(p, &n);
    z[n - 6] ^= 0xff; /* inside the CRC-32 of the trailer */
    p = ps_test_tmp("stream_badcrc.nii.gz");
    spit(p, z, n);
    ps_volume *v = NULL;
    expect_error(ps_io_volume_read_ex(p, 0, &v), PS_ERR_FORMAT, p, "corrupt");
    expect_error(ps_volume_read(p, &v), PS_ERR_FORMAT, p, "corrupt");
    spit(p, z, n / 2);
    expect_error(ps_io_volume_read_ex(p, 0, &v), PS_ERR_FORMAT, p, "shorter than its data");
    free(z);
}
END_TEST

/* Read from a FIFO (no size, not seekable), fed by a child process. */
static void read_through_fifo(const char *src, const char *fifo_name)
{
    size_t n;
    unsigned char *bytes = slurp(src, &n);
    const char *tmp = ps_test_tmp(fifo_name);
    char fifo[4096];
    snprintf(fifo, sizeof fifo, "%s", tmp);
    unlink(fifo);
    ck_assert_int_eq(mkfifo(fifo, 0600), 0);
    pid_t pid = fork();
    ck_assert_int_ge(pid, 0);
    if (pid == 0) {
        FILE *f = fopen(fifo, "wb");
        fwrite(bytes, 1, n, f);
        fclose(f);
        _exit(0);
    }
    ps_volume *a = NULL, *b = NULL;
    int rc = ps_volume_read(fifo, &a);
    waitpid(pid, NULL, 0);
    ck_assert_msg(rc == 0, "%s", ps_error_message());
    ck_assert_int_eq(ps_volume_read(src, &b), 0);
    size_t vb = (size_t)(ps_volume_nvox(b) * b->nc) * ps_dtype_size(b->dtype);
    ck_assert_int_eq(memcmp(a->data, b->data, vb), 0);
    ps_volume_free(a);
    ps_volume_free(b);
    unlink(fifo);
    free(bytes);
}

START_TEST(read_from_pipe)
{
    read_through_fifo(golden("f64_4d.nii"), "fifo_plain.nii");
    read_through_fifo(golden("no_xform.nii"), "fifo_small.nii"); /* data inside the first read */
    read_through_fifo(golden("multimember.nii.gz"), "fifo_gz.nii.gz");
}
END_TEST

/* ---- bad input ------------------------------------------------------------------------------ */

/* A valid 4x3x2 uint8 NIfTI-1 file in memory (352 + 24 bytes). */
static unsigned char *valid_nii(size_t *n)
{
    return slurp(golden("no_xform.nii"), n);
}

static void put16(unsigned char *b, size_t off, int16_t x) { memcpy(b + off, &x, 2); }
static void putf(unsigned char *b, size_t off, float x) { memcpy(b + off, &x, 4); }

/* Write `b` as .nii and .nii.gz and expect the same error from both. */
static void expect_both(const char *stem, const unsigned char *b, size_t n, int code,
                        const char *what)
{
    char name[256], path[4096];
    ps_volume *v = NULL;
    snprintf(name, sizeof name, "%s.nii", stem);
    snprintf(path, sizeof path, "%s", ps_test_tmp(name));
    spit(path, b, n);
    expect_error(ps_volume_read(path, &v), code, path, what);
    ck_assert_ptr_null(v);
    snprintf(name, sizeof name, "%s.nii.gz", stem);
    snprintf(path, sizeof path, "%s", ps_test_tmp(name));
    spit_gz(path, b, n);
    expect_error(ps_volume_read(path, &v), code, path, what);
    ck_assert_ptr_null(v);
}

START_TEST(bad_missing_empty_short)
{
    ps_volume *v = NULL;
    const char *p = ps_test_tmp("does_not_exist.nii.gz");
    expect_error(ps_volume_read(p, &v), PS_ERR_IO, p, "cannot open");
    p = ps_test_tmp("empty.nii");
    spit(p, "", 0);
    expect_error(ps_volume_read(p, &v), PS_ERR_FORMAT, p, "empty file");
    expect_error(ps_volume_read_labels(p, &v), PS_ERR_FORMAT, p, "empty file");
    size_t n;
    unsigned char *b = valid_nii(&n);
    expect_both("trunc_header", b, 100, PS_ERR_FORMAT, "truncated NIfTI-1 header");
    expect_both("trunc_data", b, n - 5, PS_ERR_FORMAT, "shorter than its data");
    expect_both("text", (const unsigned char *)"hello, world\n", 13, PS_ERR_FORMAT,
                "not a NIfTI file");
    free(b);
}
END_TEST

START_TEST(bad_gzip)
{
    size_t n;
    unsigned char *z = slurp(golden("f64_4d.nii"), &n);
    const char *full = ps_test_tmp("good_for_gzip.nii.gz");
    spit_gz(full, z, n);
    free(z);
    z = slurp(full, &n);
    ps_volume *v = NULL;
    const char *p = ps_test_tmp("trunc.nii.gz");
    spit(p, z, n / 2);
    expect_error(ps_volume_read(p, &v), PS_ERR_FORMAT, p, "");
    ck_assert(strstr(ps_error_message(), "truncated") || strstr(ps_error_message(), "shorter"));
    spit(p, z, 30); /* truncated inside the header */
    expect_error(ps_volume_read(p, &v), PS_ERR_FORMAT, p, "");
    p = ps_test_tmp("corrupt.nii.gz");
    for (size_t i = n / 3; i < n / 3 + 16; i++)
        z[i] ^= 0x5a;
    spit(p, z, n);
    expect_error(ps_volume_read(p, &v), PS_ERR_FORMAT, p, "corrupt");
    free(z);
}
END_TEST

START_TEST(bad_header_fields)
{
    size_t n;
    unsigned char *b = valid_nii(&n);
    unsigned char *c = malloc(n);
    /* NIfTI-1 offsets (nifti1.h): dim short[8] at 40, datatype 70, bitpix 72,
     * vox_offset float at 108, magic at 344 */
    memcpy(c, b, n);
    memcpy(c + 344, "n+3", 4);
    expect_both("bad_magic", c, n, PS_ERR_FORMAT, "magic");
    memcpy(c, b, n);
    memcpy(c + 344, "ni1", 4);
    expect_both("two_file", c, n, PS_ERR_FORMAT, "open it by its .hdr or .img name");
    memcpy(c, b, n);
    put16(c, 40, 0);
    expect_both("dim0_zero", c, n, PS_ERR_FORMAT, "dim[0] = 0");
    put16(c, 40, 8);
    expect_both("dim0_eight", c, n, PS_ERR_FORMAT, "dim[0] = 8");
    memcpy(c, b, n);
    put16(c, 44, 0); /* dim[2] */
    expect_both("dim2_zero", c, n, PS_ERR_FORMAT, "dim[2] = 0 is not positive");
    put16(c, 44, -3);
    expect_both("dim2_negative", c, n, PS_ERR_FORMAT, "dim[2] = -3 is not positive");
    memcpy(c, b, n);
    put16(c, 40, 7);
    for (int i = 1; i <= 7; i++)
        put16(c, 40 + 2 * (size_t)i, 32767);
    /* 32767^7 ~ 4e31 voxels: overflows int64 */
    expect_both("overflow", c, n, PS_ERR_FORMAT, "overflows");
    memcpy(c, b, n);
    putf(c, 108, 1e6f);
    expect_both("vox_offset_beyond", c, n, PS_ERR_FORMAT, "");
    putf(c, 108, 0.0f);
    expect_both("vox_offset_zero", c, n, PS_ERR_FORMAT, "vox_offset");
    memcpy(c, b, n);
    put16(c, 70, 32); /* complex64 */
    put16(c, 72, 64);
    expect_both("complex", c, n, PS_ERR_UNSUPPORTED, "datatype 32 (COMPLEX64)");
    put16(c, 70, 128); /* RGB24 */
    put16(c, 72, 24);
    expect_both("rgb", c, n, PS_ERR_UNSUPPORTED, "RGB24");
    put16(c, 70, 1536); /* float128 */
    expect_both("float128", c, n, PS_ERR_UNSUPPORTED, "FLOAT128");
    memcpy(c, b, n);
    put16(c, 40, 5);
    put16(c, 50, 2); /* dim[5] = 2 */
    expect_both("five_d", c, n, PS_ERR_UNSUPPORTED, "5-dimensional");
    free(b);
    free(c);
}
END_TEST

START_TEST(bad_vox_offset_beyond_file_plain)
{
    size_t n;
    unsigned char *b = valid_nii(&n);
    putf(b, 108, 1e6f);
    const char *p = ps_test_tmp("beyond.nii");
    spit(p, b, n);
    ps_volume *v = NULL;
    expect_error(ps_volume_read(p, &v), PS_ERR_FORMAT, p, "beyond the end of the file");
    free(b);
}
END_TEST

/* ---- geometry ------------------------------------------------------------------------------ */

START_TEST(geometry_init_and_diagonal)
{
    ps_geometry g;
    ps_geometry_init(&g, 3, 4, 12, 1, 1, 1);
    /* sqrt(3^2 + 4^2 + 12^2) = sqrt(169) = 13 */
    ck_assert_double_eq(ps_geometry_diagonal_mm(&g), 13.0);
    ps_geometry_init(&g, 10, 10, 10, 0.5, 0.5, 2.0);
    /* sqrt(5^2 + 5^2 + 20^2) = sqrt(450) */
    ck_assert_close(ps_geometry_diagonal_mm(&g), sqrt(450.0), PS_TOL_EXACT);
    ck_assert_double_eq(g.affine[2][2], 2.0);
    ck_assert_double_eq(g.affine[0][3], 0.0);
    ck_assert_int_eq(g.qform_code, 1);
}
END_TEST

START_TEST(geometry_check_same)
{
    ps_geometry a, b;
    ps_geometry_init(&a, 10, 10, 5, 0.7, 0.7, 2.5);
    b = a;
    ck_assert_int_eq(ps_geometry_check_same(&a, "ref.nii.gz", &b, "pred.nii.gz"), 0);
    b.spacing_mm[1] += 5e-5; /* within 1e-4 mm */
    b.affine[0][3] += 5e-5;
    ck_assert_int_eq(ps_geometry_check_same(&a, "ref.nii.gz", &b, "pred.nii.gz"), 0);
    b = a;
    b.dim[2] = 6;
    expect_error(ps_geometry_check_same(&a, "ref.nii.gz", &b, "pred.nii.gz"), PS_ERR_GEOMETRY,
                 "pred.nii.gz", "dims differ on axis k: 5 vs 6");
    ck_assert(strstr(ps_error_message(), "ref.nii.gz: dims 10x10x5") != NULL);
    ck_assert(strstr(ps_error_message(), "pred.nii.gz: dims 10x10x6") != NULL);
    b = a;
    b.spacing_mm[0] = 0.7002;
    expect_error(ps_geometry_check_same(&a, "ref.nii.gz", &b, "pred.nii.gz"), PS_ERR_GEOMETRY,
                 "ref.nii.gz", "spacing differs on axis i");
    b = a;
    b.affine[1][3] = 0.001;
    expect_error(ps_geometry_check_same(&a, "ref.nii.gz", &b, "pred.nii.gz"), PS_ERR_GEOMETRY,
                 "ref.nii.gz", "origin differs");
    b = a;
    b.affine[0][0] = -0.7; /* i axis flipped */
    expect_error(ps_geometry_check_same(&a, "ref.nii.gz", &b, "pred.nii.gz"), PS_ERR_GEOMETRY,
                 "ref.nii.gz", "direction of axis i differs");
    ck_assert(strstr(ps_error_message(), "directions i(") != NULL);
}
END_TEST

START_TEST(geometry_set_affine)
{
    /* spacing = column norms: |(0, 2, 0)| = 2, |(-3, 0, 0)| = 3, |(0, 0, 4)| = 4 */
    double aff[4][4] = {{0, -3, 0, 1}, {2, 0, 0, 2}, {0, 0, 4, 3}, {0, 0, 0, 1}};
    ps_geometry g;
    ps_geometry_init(&g, 2, 2, 2, 1, 1, 1);
    ps_geometry_set_affine(&g, aff);
    ck_assert_close(g.spacing_mm[0], 2.0, PS_TOL_EXACT);
    ck_assert_close(g.spacing_mm[1], 3.0, PS_TOL_EXACT);
    ck_assert_int_eq(g.sform_code, 1);
    for (int i = 0; i < 3; i++)
        for (int j = 0; j < 4; j++)
            ck_assert_close_abs(g.qform[i][j], aff[i][j], 1e-12);
}
END_TEST

static Suite *make_suite(void)
{
    Suite *s = suite_create("io_nifti");
    TCase *tc = tcase_create("nifti");
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, golden_headers_and_sums);
    tcase_add_test(tc, golden_voxels_stored_and_float);
    tcase_add_test(tc, units_meter_converted_to_mm);
    tcase_add_test(tc, pair_either_name_and_labels);
    tcase_add_test(tc, pair_analyze_written_back_keeps_placement);
    tcase_add_test(tc, pair_errors);
    tcase_add_test(tc, labels_uint8_zero_copy);
    tcase_add_test(tc, labels_int32_and_scaled_and_float);
    tcase_add_test(tc, labels_rejected);
    tcase_add_test(tc, labels_rejected_handmade);
    tcase_add_loop_test(tc, round_trip_all_types, 0, (int)(sizeof all_types / sizeof *all_types));
    tcase_add_test(tc, write_keeps_scaling_and_geometry_codes);
    tcase_add_test(tc, write_bad_suffix_and_folder);
    tcase_add_test(tc, gzip_member_past_data_and_trailing_bytes);
    tcase_add_test(tc, multimember_matches_plain);
    tcase_add_test(tc, streaming_zlib_matches_one_pass);
    tcase_add_test(tc, read_from_pipe);
    tcase_add_test(tc, bad_missing_empty_short);
    tcase_add_test(tc, bad_gzip);
    tcase_add_test(tc, bad_header_fields);
    tcase_add_test(tc, bad_vox_offset_beyond_file_plain);
    tcase_add_test(tc, geometry_init_and_diagonal);
    tcase_add_test(tc, geometry_check_same);
    tcase_add_test(tc, geometry_set_affine);
    suite_add_tcase(s, tc);
    return s;
}

PS_TEST_MAIN(make_suite)
