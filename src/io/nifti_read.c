/* nifti_read.c - read .nii and .nii.gz (NIfTI-1 and NIfTI-2), and .hdr/.img pairs (NIfTI-1,
 * NIfTI-2 and Analyze 7.5, each file optionally gzip-compressed), into a ps_volume.
 *
 * Plan:
 *   1. Read the first bytes of the file. Gzip magic (1f 8b) selects the compressed path,
 *      whatever the suffix says; otherwise they are the header itself.
 *   2. Validate the raw header ourselves (sizeof_hdr, magic, dim[], datatype, vox_offset,
 *      size overflow), because niftilib silently "repairs" some of these (a zero dim becomes
 *      1), then let niftilib interpret it (nifti_convert_n[12]hdr2nim: byte order, qform from
 *      the quaternion, sform, scaling, units).
 *   3. Voxel data go straight into their final buffer:
 *      - .nii: one fread of nbytes at vox_offset into the block;
 *      - .nii.gz: the compressed file is read into memory, its first bytes are inflated with
 *        zlib to learn vox_offset + nbytes, one block of that size is allocated and
 *        libdeflate_gzip_decompress_ex fills it member after member (gzip files may hold
 *        several members, e.g. from `cat a.gz b.gz` or parallel compressors). Voxel data
 *        start at an offset inside the block. Streaming zlib takes over when the image is
 *        larger than 4 GiB (the compressed file is then not held in memory) or when a member
 *        runs past the end of the voxel data.
 *   4. Swap bytes if the file's byte order differs from the machine's.
 * A name ending in .hdr, .img, .hdr.gz or .img.gz is a pair: the header (magic ni1/ni2, or
 * no magic: Analyze 7.5) is read from the .hdr, then the .img goes through steps 1 and 3 with
 * that header (vox_offset is the offset into the .img). Analyze geometry and scaling follow
 * nibabel (analyze_geometry below).
 */
#include "io_internal.h"

#include <errno.h>
#include <limits.h>
#include <math.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>

#include <libdeflate.h>
#include <zlib.h>

/* Images (vox_offset + nbytes) above this size are inflated by streaming zlib. */
#define PS_GZ_ONE_PASS_MAX ((uint64_t)4 << 30)
#define PS_SIZE_UNKNOWN UINT64_MAX
#define PS_DEFLATE_MAX_RATIO 1032
#define PS_NIFTI1_HDR 348
#define PS_NIFTI2_HDR 540

static void quiet_once(void) { nifti_set_debug_level(0); }

void ps_io_quiet_niftilib(void)
{
    static pthread_once_t once = PTHREAD_ONCE_INIT;
    pthread_once(&once, quiet_once);
}

ps_dtype ps_io_dtype_from_nifti(int datatype)
{
    switch (datatype) {
    case DT_UINT8: return PS_DT_UINT8;
    case DT_INT8: return PS_DT_INT8;
    case DT_INT16: return PS_DT_INT16;
    case DT_UINT16: return PS_DT_UINT16;
    case DT_INT32: return PS_DT_INT32;
    case DT_UINT32: return PS_DT_UINT32;
    case DT_INT64: return PS_DT_INT64;
    case DT_FLOAT32: return PS_DT_FLOAT32;
    case DT_FLOAT64: return PS_DT_FLOAT64;
    default: return (ps_dtype)0;
    }
}

int ps_io_dtype_to_nifti(ps_dtype t)
{
    switch (t) {
    case PS_DT_UINT8: return DT_UINT8;
    case PS_DT_INT8: return DT_INT8;
    case PS_DT_INT16: return DT_INT16;
    case PS_DT_UINT16: return DT_UINT16;
    case PS_DT_INT32: return DT_INT32;
    case PS_DT_UINT32: return DT_UINT32;
    case PS_DT_INT64: return DT_INT64;
    case PS_DT_FLOAT32: return DT_FLOAT32;
    case PS_DT_FLOAT64: return DT_FLOAT64;
    }
    return 0;
}

/* ---- header ---------------------------------------------------------------------------- */

typedef struct nifti_hdr {
    int version; /* 1 or 2 */
    int pair;    /* header of a .hdr/.img pair: vox_offset is the offset into the .img */
    int analyze; /* Analyze 7.5 header (a pair whose 348-byte header has no NIfTI magic) */
    union {
        nifti_1_header n1;
        nifti_2_header n2;
    } raw;               /* as stored in the file (niftilib does its own swapping) */
    int64_t dim[8];      /* dim[0..7], missing trailing dims set to 1 */
    double pixdim[8];
    int datatype;
    ps_dtype dtype;
    int64_t vox_offset;
    int64_t nvox;        /* all voxels, all dims */
    size_t nbytes;       /* voxel data bytes */
    /* Analyze 7.5 only (machine byte order): the fields nibabel's Spm2AnalyzeHeader reads */
    float an_slope, an_inter, an_cal_max, an_cal_min; /* funused1, funused2, cal_max/min */
    int32_t an_glmax, an_glmin;
    int16_t an_origin[3]; /* SPM's origin (1-based voxel), bytes 253..258 of data_history */
} nifti_hdr;

static uint32_t bswap32(uint32_t x)
{
    return (x >> 24) | ((x >> 8) & 0xff00u) | ((x << 8) & 0xff0000u) | (x << 24);
}

/* Analyze 7.5 voxel types (ANALYZE 7.5 File Format, Mayo Clinic): those nibabel's AnalyzeHeader
 * reads among the ones panseval handles. */
static int analyze_dtype_ok(int datatype)
{
    return datatype == DT_UINT8 || datatype == DT_INT16 || datatype == DT_INT32 ||
           datatype == DT_FLOAT32 || datatype == DT_FLOAT64;
}

/* `pair`: the bytes come from the .hdr of a pair (magic ni1/ni2, or Analyze 7.5 without a
 * magic); otherwise from a single .nii file (magic n+1/n+2). */
static int parse_header(const unsigned char *buf, size_t n, const char *path, int pair,
                        nifti_hdr *h)
{
    memset(h, 0, sizeof *h);
    h->pair = pair;
    if (n < 4)
        return ps_error(PS_ERR_FORMAT, "%s: too short for a NIfTI header (%zu bytes)", path, n);
    int32_t sz;
    memcpy(&sz, buf, 4);
    int swapped = 0;
    if (sz == PS_NIFTI1_HDR || sz == PS_NIFTI2_HDR) {
        h->version = sz == PS_NIFTI1_HDR ? 1 : 2;
    } else if (bswap32((uint32_t)sz) == PS_NIFTI1_HDR || bswap32((uint32_t)sz) == PS_NIFTI2_HDR) {
        h->version = bswap32((uint32_t)sz) == PS_NIFTI1_HDR ? 1 : 2;
        swapped = 1;
    } else {
        return ps_error(PS_ERR_FORMAT,
                        "%s: not a NIfTI file (header size field is %d, expected 348 or 540)",
                        path, (int)sz);
    }
    size_t need = h->version == 1 ? PS_NIFTI1_HDR : PS_NIFTI2_HDR;
    if (n < need)
        return ps_error(PS_ERR_FORMAT, "%s: truncated NIfTI-%d header (%zu of %zu bytes)", path,
                        h->version, n, need);

    if (h->version == 1) {
        nifti_1_header hd;
        memcpy(&h->raw.n1, buf, sizeof hd);
        memcpy(&hd, buf, sizeof hd);
        if (!pair && !memcmp(hd.magic, "ni1", 4))
            return ps_error(PS_ERR_FORMAT,
                            "%s: magic 'ni1' marks the header of a .hdr/.img pair: open it by its "
                            ".hdr or .img name", path);
        if (!pair && memcmp(hd.magic, "n+1", 4))
            return ps_error(PS_ERR_FORMAT, "%s: bad NIfTI-1 magic (expected 'n+1'; an Analyze "
                            "7.5 header is read as a .hdr/.img pair)", path);
        if (pair && !memcmp(hd.magic, "n+1", 4))
            return ps_error(PS_ERR_FORMAT, "%s: magic 'n+1' marks a single-file NIfTI, not the "
                            "header of a .hdr/.img pair (rename it to .nii)", path);
        h->analyze = pair && memcmp(hd.magic, "ni1", 4);
        if (swapped)
            nifti_swap_as_nifti1(&hd);
        if (h->analyze) {
            h->an_slope = hd.scl_slope;
            h->an_inter = hd.scl_inter;
            h->an_cal_max = hd.cal_max;
            h->an_cal_min = hd.cal_min;
            h->an_glmax = hd.glmax;
            h->an_glmin = hd.glmin;
            for (int i = 0; i < 3; i++) {
                uint16_t o;
                memcpy(&o, buf + 253 + 2 * i, 2);
                if (swapped)
                    o = (uint16_t)((o >> 8) | (o << 8));
                h->an_origin[i] = (int16_t)o;
            }
        }
        h->dim[0] = hd.dim[0];
        for (int i = 1; i < 8; i++)
            h->dim[i] = hd.dim[i];
        for (int i = 0; i < 8; i++)
            h->pixdim[i] = hd.pixdim[i];
        h->datatype = hd.datatype;
        double off = hd.vox_offset, min_off = pair ? 0.0 : (double)(PS_NIFTI1_HDR + 4);
        if (!isfinite(off) || off < min_off || off > 9.2e18 || off != floor(off))
            return ps_error(PS_ERR_FORMAT, "%s: invalid vox_offset %g (must be a whole number >= "
                            "%g)", path, off, min_off);
        h->vox_offset = (int64_t)off;
    } else {
        nifti_2_header hd;
        memcpy(&h->raw.n2, buf, sizeof hd);
        memcpy(&hd, buf, sizeof hd);
        const char *want = pair ? "ni2" : "n+2";
        if (!pair && !memcmp(hd.magic, "ni2", 4))
            return ps_error(PS_ERR_FORMAT,
                            "%s: magic 'ni2' marks the header of a .hdr/.img pair: open it by its "
                            ".hdr or .img name", path);
        /* The signature ends in "\r\n\032\n" to catch text-mode transfers; niftilib 3.0.1
         * writes zeros there, which nibabel also accepts. */
        if (memcmp(hd.magic, want, 4) || (memcmp(hd.magic + 4, "\r\n\032\n", 4) &&
                                          memcmp(hd.magic + 4, "\0\0\0\0", 4)))
            return ps_error(PS_ERR_FORMAT, "%s: bad NIfTI-2 magic (expected '%s' and the "
                            "bytes 0D 0A 1A 0A; was the file transferred in text mode?)", path,
                            want);
        if (swapped)
            nifti_swap_as_nifti2(&hd);
        for (int i = 0; i < 8; i++) {
            h->dim[i] = hd.dim[i];
            h->pixdim[i] = hd.pixdim[i];
        }
        h->datatype = hd.datatype;
        int64_t min_off = pair ? 0 : PS_NIFTI2_HDR + 4;
        if (hd.vox_offset < min_off)
            return ps_error(PS_ERR_FORMAT, "%s: invalid vox_offset %lld (must be >= %lld)", path,
                            (long long)hd.vox_offset, (long long)min_off);
        h->vox_offset = hd.vox_offset;
    }

    int64_t nd = h->dim[0];
    if (nd < 1 || nd > 7)
        return ps_error(PS_ERR_FORMAT, "%s: inconsistent header: dim[0] = %lld is outside 1..7",
                        path, (long long)nd);
    for (int i = 1; i <= nd; i++)
        if (h->dim[i] < 1)
            return ps_error(PS_ERR_FORMAT, "%s: inconsistent header: dim[%d] = %lld is not positive",
                            path, i, (long long)h->dim[i]);
    for (int i = (int)nd + 1; i < 8; i++)
        h->dim[i] = 1;

    h->dtype = ps_io_dtype_from_nifti(h->datatype);
    if (h->analyze && !analyze_dtype_ok(h->datatype))
        return ps_error(PS_ERR_UNSUPPORTED,
                        "%s: Analyze 7.5 datatype %d is not supported (supported: uint8, int16, "
                        "int32, float32, float64)", path, h->datatype);
    if (!h->dtype) {
        const char *name = nifti_datatype_to_string(h->datatype);
        if (name && !strncmp(name, "NIFTI_TYPE_", 11))
            name += 11;
        return ps_error(PS_ERR_UNSUPPORTED,
                        "%s: NIfTI datatype %d (%s) is not supported (supported: uint8, int8, "
                        "int16, uint16, int32, uint32, int64, float32, float64)",
                        path, h->datatype, name ? name : "unknown");
    }
    uint64_t nvox = 1;
    for (int i = 1; i < 8; i++) {
        if ((uint64_t)h->dim[i] > (uint64_t)INT64_MAX / nvox)
            return ps_error(PS_ERR_FORMAT, "%s: inconsistent header: voxel count overflows "
                            "(dims %lld x %lld x %lld x %lld ...)", path, (long long)h->dim[1],
                            (long long)h->dim[2], (long long)h->dim[3], (long long)h->dim[4]);
        nvox *= (uint64_t)h->dim[i];
    }
    size_t esz = ps_dtype_size(h->dtype);
    if (nvox > (uint64_t)(SIZE_MAX / esz) || nvox > (uint64_t)INT64_MAX / esz ||
        (uint64_t)h->vox_offset > (uint64_t)INT64_MAX - nvox * esz)
        return ps_error(PS_ERR_FORMAT, "%s: inconsistent header: data size overflows "
                        "(%llu voxels of %zu bytes)", path, (unsigned long long)nvox, esz);
    h->nvox = (int64_t)nvox;
    h->nbytes = (size_t)nvox * esz;
    return PS_OK;
}

/* Analyze 7.5 geometry and scaling as nibabel reads them (nib.load gives a Spm2AnalyzeImage;
 * nibabel 5.0, spm99analyze.py get_origin_affine and spm2analyze.py get_slope_inter):
 *   affine = diag(-pixdim1, pixdim2, pixdim3) (x flipped: Analyze's radiological default),
 *            translation -o_d * zoom_d with o = origin - 1 when SPM's origin field is set and
 *            inside (-dim, 2 dim) on every axis (then computed in float32, as numpy does for
 *            int16 x float32), else o = (dim - 1) / 2 (the grid centre, in double);
 *   scaling = (funused1, funused2) when funused1 is finite and non-zero (a non-finite
 *            intercept becomes 0); else, when glmax != glmin and cal_max != cal_min,
 *            slope = (cal_max - cal_min) / (glmax - glmin), inter = cal_min - slope glmin;
 *            else none.
 * The affine becomes the sform with code 2 (aligned) and qform code 0, the header
 * nib.Nifti1Image(data, affine) writes, so that a volume written back keeps the placement. */
static void analyze_geometry(const nifti_hdr *h, ps_geometry *g, double *slope, double *inter)
{
    double zoom[3], aff[4][4];
    int spm_origin = 0;
    for (int d = 0; d < 3; d++)
        spm_origin |= h->an_origin[d] != 0;
    for (int d = 0; d < 3; d++)
        if (h->an_origin[d] <= -h->dim[d + 1] || h->an_origin[d] >= 2 * h->dim[d + 1])
            spm_origin = 0;
    memset(aff, 0, sizeof aff);
    for (int d = 0; d < 3; d++) {
        /* nibabel uses the raw float32 pixdim; a zero pixdim of a single-voxel axis is the 1 mm
         * that spacing_mm already holds */
        zoom[d] = h->pixdim[d + 1] < 0 ? -g->spacing_mm[d] : g->spacing_mm[d];
        if (d == 0)
            zoom[d] = -zoom[d];
        aff[d][d] = zoom[d];
        if (spm_origin)
            aff[d][3] = (double)(-(float)(h->an_origin[d] - 1) * (float)zoom[d]);
        else
            aff[d][3] = -((double)(h->dim[d + 1] - 1) / 2.0) * zoom[d];
    }
    aff[3][3] = 1.0;
    ps_geometry_set_affine(g, aff);
    g->sform_code = NIFTI_XFORM_ALIGNED_ANAT;
    g->qform_code = NIFTI_XFORM_UNKNOWN;

    *slope = 0.0;
    *inter = 0.0;
    if (isfinite(h->an_slope) && h->an_slope != 0.0f) {
        *slope = h->an_slope;
        *inter = isfinite(h->an_inter) ? h->an_inter : 0.0;
        return;
    }
    int64_t unscaled = (int64_t)h->an_glmax - h->an_glmin;
    float scaled = h->an_cal_max - h->an_cal_min; /* float32 arithmetic, as numpy's */
    if (unscaled != 0 && scaled != 0.0f) {
        *slope = (double)scaled / (double)unscaled;
        *inter = (double)h->an_cal_min - *slope * (double)h->an_glmin;
    }
}

/* Build the volume from a validated header and filled data. Takes ownership of `block`. */
static int make_volume(const char *path, nifti_hdr *h, void *block, void *data, ps_volume **out)
{
    ps_io_quiet_niftilib();
    nifti_image *nim = h->version == 1 ? nifti_convert_n1hdr2nim(h->raw.n1, path)
                                       : nifti_convert_n2hdr2nim(h->raw.n2, path);
    if (!nim) {
        ps_free_large(block);
        return ps_error(PS_ERR_FORMAT, "%s: niftilib rejected the NIfTI-%d header", path,
                        h->version);
    }
    if (nim->byteorder != nifti_short_order() && nim->swapsize > 1)
        nifti_swap_Nbytes(h->nvox, nim->swapsize, data);
    if (h->analyze)
        nim->xyz_units = NIFTI_UNITS_UNKNOWN; /* Analyze has no units field: mm */

    ps_volume *v = ps_calloc(1, sizeof *v);
    int rc = v ? PS_OK : PS_ERR_NOMEM;
    int64_t dim3[3] = {h->dim[1], h->dim[2], h->dim[3]};
    double pix3[3] = {h->pixdim[1], h->pixdim[2], h->pixdim[3]};
    if (!rc)
        rc = ps_io_geometry_from_nim(nim, dim3, pix3, path, &v->geom);
    if (!rc) {
        v->nc = h->dim[4];
        v->dtype = h->dtype;
        v->data = data;
        v->block_ = block;
        /* NIfTI: scaling applies unless slope is 0; niftilib turns non-finite values into 0 */
        v->scl_slope = nim->scl_slope;
        v->scl_inter = v->scl_slope != 0.0 ? nim->scl_inter : 0.0;
        if (h->analyze)
            analyze_geometry(h, &v->geom, &v->scl_slope, &v->scl_inter);
        v->path = ps_strdup(path);
        if (!v->path)
            rc = PS_ERR_NOMEM;
    }
    nifti_image_free(nim);
    if (rc) {
        if (v) {
            v->block_ = NULL;
            ps_volume_free(v);
        }
        ps_free_large(block);
        return rc;
    }
    *out = v;
    return PS_OK;
}

static int check_dims_supported(const char *path, const nifti_hdr *h)
{
    for (int i = 5; i < 8; i++)
        if (h->dim[i] > 1)
            return ps_error(PS_ERR_UNSUPPORTED,
                            "%s: %lld-dimensional images are not supported (dims %lld x %lld x "
                            "%lld x %lld x %lld ...)",
                            path, (long long)h->dim[0], (long long)h->dim[1],
                            (long long)h->dim[2], (long long)h->dim[3], (long long)h->dim[4],
                            (long long)h->dim[5]);
    return PS_OK;
}

/* ---- gzip: streaming zlib (header prefix and fallback) -------------------------------- */

typedef struct gz_stream {
    z_stream zs;
    FILE *f;                       /* compressed input read in chunks, or NULL  */
    const unsigned char *mem;      /* whole compressed input in memory, or NULL */
    size_t memlen, mempos;
    unsigned char *chunk;
    int ready;
    int member_done; /* the last inflate() call ended a member (its CRC was checked) */
} gz_stream;

#define PS_GZ_CHUNK (1u << 20)

static int gz_open(gz_stream *g, FILE *f, const unsigned char *mem, size_t memlen, size_t start)
{
    memset(g, 0, sizeof *g);
    g->f = f;
    g->mem = mem;
    g->memlen = memlen;
    g->mempos = start;
    if (f && !(g->chunk = ps_malloc(PS_GZ_CHUNK)))
        return PS_ERR_NOMEM;
    /* 16 + MAX_WBITS: expect a gzip wrapper (zlib manual, inflateInit2) */
    if (inflateInit2(&g->zs, 16 + MAX_WBITS) != Z_OK) {
        free(g->chunk);
        return ps_error(PS_ERR_NOMEM, "zlib: inflateInit2 failed");
    }
    g->ready = 1;
    return PS_OK;
}

static void gz_close(gz_stream *g)
{
    if (g->ready)
        inflateEnd(&g->zs);
    free(g->chunk);
    g->ready = 0;
    g->chunk = NULL;
}

/* Give zlib more input; 0 when the input is exhausted. */
static size_t gz_refill(gz_stream *g)
{
    if (g->f) {
        size_t n = fread(g->chunk, 1, PS_GZ_CHUNK, g->f);
        g->zs.next_in = g->chunk;
        g->zs.avail_in = (uInt)n;
        return n;
    }
    size_t n = g->memlen - g->mempos;
    if (n > UINT_MAX)
        n = UINT_MAX;
    g->zs.next_in = (Bytef *)(g->mem + g->mempos);
    g->zs.avail_in = (uInt)n;
    g->mempos += n;
    return n;
}

/* Inflate up to `want` bytes into `out` across gzip members; *got < want means the
 * compressed data ended early. Corrupt data is PS_ERR_FORMAT. */
static int gz_read(gz_stream *g, unsigned char *out, size_t want, size_t *got, const char *path)
{
    size_t done = 0;
    while (done < want) {
        if (g->zs.avail_in == 0 && gz_refill(g) == 0) {
            if (g->f && ferror(g->f))
                return ps_error(PS_ERR_IO, "%s: read error: %s", path, strerror(errno));
            break;
        }
        size_t room = want - done;
        g->zs.next_out = out + done;
        g->zs.avail_out = room > UINT_MAX ? UINT_MAX : (uInt)room;
        uInt before = g->zs.avail_out;
        int ret = inflate(&g->zs, Z_NO_FLUSH);
        done += before - g->zs.avail_out;
        g->member_done = ret == Z_STREAM_END;
        if (ret == Z_STREAM_END) {
            /* Another member may follow. Bytes that do not start one (zero padding, junk)
             * end the stream, as for gzip(1) and nibabel. */
            if (g->zs.avail_in == 0 && gz_refill(g) == 0)
                break;
            if (g->zs.next_in[0] != 0x1f)
                break;
            inflateReset(&g->zs);
            g->member_done = 0;
        } else if (ret == Z_BUF_ERROR) {
            if (g->zs.avail_in != 0)
                return ps_error(PS_ERR_INTERNAL, "%s: zlib made no progress", path);
        } else if (ret != Z_OK) {
            if (ret == Z_MEM_ERROR)
                return ps_error(PS_ERR_NOMEM, "%s: zlib: out of memory", path);
            return ps_error(PS_ERR_FORMAT, "%s: corrupt gzip data (%s)", path,
                            g->zs.msg ? g->zs.msg : "inflate failed");
        }
    }
    *got = done;
    return PS_OK;
}

/* After the voxel data are complete, inflate the rest of the current member (bytes past the
 * data, normally none) so that zlib checks its CRC-32 and length: corruption inside the data
 * must not go unnoticed just because we stopped early. */
static int gz_finish_member(gz_stream *g, const char *path)
{
    unsigned char scratch[16384];
    if (g->member_done)
        return PS_OK;
    for (;;) {
        if (g->zs.avail_in == 0 && gz_refill(g) == 0) {
            if (g->f && ferror(g->f))
                return ps_error(PS_ERR_IO, "%s: read error: %s", path, strerror(errno));
            return ps_error(PS_ERR_FORMAT, "%s: truncated gzip data (the last member has no "
                            "end)", path);
        }
        g->zs.next_out = scratch;
        g->zs.avail_out = sizeof scratch;
        int ret = inflate(&g->zs, Z_NO_FLUSH);
        if (ret == Z_STREAM_END)
            return PS_OK;
        if (ret == Z_MEM_ERROR)
            return ps_error(PS_ERR_NOMEM, "%s: zlib: out of memory", path);
        if (ret != Z_OK && ret != Z_BUF_ERROR)
            return ps_error(PS_ERR_FORMAT, "%s: corrupt gzip data (%s)", path,
                            g->zs.msg ? g->zs.msg : "inflate failed");
    }
}

/* ---- file reading ------------------------------------------------------------------------ */

static int read_fully(FILE *f, void *buf, size_t n, const char *path, size_t *got)
{
    size_t k = fread(buf, 1, n, f);
    if (k < n && ferror(f))
        return ps_error(PS_ERR_IO, "%s: read error: %s", path, strerror(errno));
    *got = k;
    return PS_OK;
}

static int short_data_error(const char *path, const nifti_hdr *h, uint64_t have, int gz)
{
    return ps_error(PS_ERR_FORMAT,
                    "%s: file is shorter than its data: the header needs %lld + %zu bytes "
                    "(vox_offset + %lld voxels of %s), the %s has %llu (truncated file?)",
                    path, (long long)h->vox_offset, h->nbytes, (long long)h->nvox,
                    ps_dtype_name(h->dtype), gz ? "decompressed stream" : "file",
                    (unsigned long long)have);
}

/* The voxel data of an uncompressed file. `known` is the header of a .hdr/.img pair (the data
 * file `path` then holds only voxels), or NULL for a .nii whose header is `head`. On success
 * *h is the header and *block the voxel data (owned by the caller). */
static int read_plain(FILE *f, const char *path, const unsigned char *head, size_t nhead,
                      uint64_t fsize, const nifti_hdr *known, nifti_hdr *hout,
                      unsigned char **bout)
{
    nifti_hdr h;
    int rc = PS_OK;
    if (known)
        h = *known;
    else if ((rc = parse_header(head, nhead, path, 0, &h)) ||
             (rc = check_dims_supported(path, &h)))
        return rc;
    *hout = h;
    *bout = NULL;
    if (fsize != PS_SIZE_UNKNOWN) {
        if ((uint64_t)h.vox_offset > fsize)
            return ps_error(PS_ERR_FORMAT,
                            "%s: vox_offset %lld is beyond the end of the file (%llu bytes)",
                            path, (long long)h.vox_offset, (unsigned long long)fsize);
        if ((uint64_t)h.vox_offset + h.nbytes > fsize)
            return short_data_error(path, &h, fsize, 0);
    }
    unsigned char *block = ps_malloc_large(h.nbytes);
    if (!block)
        return ps_error_context(PS_ERR_NOMEM, "%s", path);
    size_t got = 0;
    if (fsize != PS_SIZE_UNKNOWN) {
        if (fseeko(f, (off_t)h.vox_offset, SEEK_SET)) {
            ps_free_large(block);
            return ps_error(PS_ERR_IO, "%s: seek failed: %s", path, strerror(errno));
        }
    } else { /* not seekable: read and drop the bytes between the header and the data */
        uint64_t pos = nhead;
        unsigned char skip[4096];
        while (pos < (uint64_t)h.vox_offset) {
            size_t want = (uint64_t)h.vox_offset - pos < sizeof skip
                              ? (size_t)((uint64_t)h.vox_offset - pos) : sizeof skip;
            if ((rc = read_fully(f, skip, want, path, &got))) {
                ps_free_large(block);
                return rc;
            }
            if (got < want) {
                ps_free_large(block);
                return short_data_error(path, &h, pos + got, 0);
            }
            pos += got;
        }
        if (pos > (uint64_t)h.vox_offset) { /* data began inside the bytes already read */
            size_t k = (size_t)(pos - (uint64_t)h.vox_offset);
            if (k > h.nbytes)
                k = h.nbytes;
            memcpy(block, head + h.vox_offset, k);
            if ((rc = read_fully(f, block + k, h.nbytes - k, path, &got))) {
                ps_free_large(block);
                return rc;
            }
            if (k + got < h.nbytes) {
                ps_free_large(block);
                return short_data_error(path, &h, (uint64_t)h.vox_offset + k + got, 0);
            }
            *bout = block;
            return PS_OK;
        }
    }
    if ((rc = read_fully(f, block, h.nbytes, path, &got))) {
        ps_free_large(block);
        return rc;
    }
    if (got < h.nbytes) { /* the file shrank since fstat() */
        ps_free_large(block);
        return short_data_error(path, &h, (uint64_t)h.vox_offset + got, 0);
    }
    *bout = block;
    return PS_OK;
}

/* Allocate the block for vox_offset + nbytes bytes of decompressed stream, padded at the
 * front so that the voxel data (at vox_offset) are 16-byte aligned. */
static unsigned char *alloc_stream_block(const nifti_hdr *h, unsigned char **stream, int zero)
{
    size_t pad = (size_t)((16 - h->vox_offset % 16) % 16);
    size_t n = pad + (size_t)h->vox_offset + h->nbytes;
    unsigned char *block = zero ? ps_calloc_large(n) : ps_malloc_large(n);
    if (block)
        *stream = block + pad;
    return block;
}

static const char *deflate_result_name(enum libdeflate_result r)
{
    switch (r) {
    case LIBDEFLATE_BAD_DATA: return "corrupt or truncated data";
    case LIBDEFLATE_SHORT_OUTPUT: return "short output";
    case LIBDEFLATE_INSUFFICIENT_SPACE: return "insufficient space";
    default: return "success";
    }
}

/* The voxel data of a gzip-compressed file; `known`, *hout as for read_plain. *bout is the
 * allocation and *dout the voxels inside it. With nz (a label map), a file held in memory is
 * first inflated sparsely into zeroed memory (ps_io_inflate_sparse) and *nz gets its piece
 * map; when that path declines, *nz stays NULL and libdeflate reads the file as always. */
static int read_gzip(FILE *f, const char *path, const unsigned char *first, size_t nfirst,
                     uint64_t fsize, uint64_t one_pass_max, const nifti_hdr *known,
                     nifti_hdr *hout, unsigned char **bout, void **dout, uint8_t **nz)
{
    unsigned char *zbuf = NULL, *block = NULL;
    gz_stream gz;
    int rc;
    size_t got = 0;
    unsigned char head[PS_NIFTI2_HDR];
    memset(&gz, 0, sizeof gz);

    /* Hold the compressed file in memory for libdeflate unless it is huge. */
    int in_memory = fsize <= one_pass_max; /* false when the size is unknown */
    if (in_memory) {
        if (!(zbuf = ps_malloc((size_t)fsize)))
            return ps_error_context(PS_ERR_NOMEM, "%s", path);
        memcpy(zbuf, first, nfirst);
        if ((rc = read_fully(f, zbuf + nfirst, (size_t)fsize - nfirst, path, &got)))
            goto fail;
        fsize = nfirst + got;
        rc = gz_open(&gz, NULL, zbuf, (size_t)fsize, 0);
    } else {
        rc = gz_open(&gz, f, NULL, 0, 0);
        if (!rc) { /* the bytes already read come first */
            memcpy(gz.chunk, first, nfirst);
            gz.zs.next_in = gz.chunk;
            gz.zs.avail_in = (uInt)nfirst;
        }
    }
    if (rc)
        goto fail;

    /* Inflate just the header to learn how big the whole stream must be. */
    if ((rc = gz_read(&gz, head, sizeof head, &got, path)))
        goto fail;
    nifti_hdr h;
    if (got == 0) {
        rc = ps_error(PS_ERR_FORMAT, "%s: gzip stream is truncated or empty", path);
        goto fail;
    }
    if (known)
        h = *known;
    else if ((rc = parse_header(head, got, path, 0, &h)) ||
             (rc = check_dims_supported(path, &h)))
        goto fail;
    uint64_t total = (uint64_t)h.vox_offset + h.nbytes;
    /* Deflate expands at most 1032:1 (a 258-byte match coded in 2 bits; RFC 1951 sec. 3.2.5,
     * zlib's "technical details"), so a header that claims more than 1032 bytes per compressed
     * byte is corrupt: reject it before allocating what it claims. */
    if (fsize != PS_SIZE_UNKNOWN && fsize <= UINT64_MAX / PS_DEFLATE_MAX_RATIO &&
        total > fsize * PS_DEFLATE_MAX_RATIO) {
        rc = ps_error(PS_ERR_FORMAT, "%s: inconsistent header: it claims %llu bytes (vox_offset "
                      "%lld + %lld voxels of %s), more than a gzip file of %llu bytes can hold "
                      "(deflate expands at most %d:1)", path, (unsigned long long)total,
                      (long long)h.vox_offset, (long long)h.nvox, ps_dtype_name(h.dtype),
                      (unsigned long long)fsize, PS_DEFLATE_MAX_RATIO);
        goto fail;
    }
    if (total > SIZE_MAX - 16) {
        rc = ps_error(PS_ERR_NOMEM, "%s: image of %llu bytes does not fit in memory", path,
                      (unsigned long long)total);
        goto fail;
    }
    unsigned char *stream = NULL;
    /* the sparse path: a file in memory (the byte swap of make_volume keeps zeros zero) */
    int sparse = nz && in_memory && total <= one_pass_max;
    if (!(block = alloc_stream_block(&h, &stream, sparse))) {
        rc = ps_error_context(PS_ERR_NOMEM, "%s", path);
        goto fail;
    }
    if (sparse) {
        size_t pieces = (size_t)(h.nbytes / PS_SPARSE_PIECE) + 1;
        uint8_t *map = ps_calloc(pieces, 1);
        if (!map) {
            rc = ps_error_context(PS_ERR_NOMEM, "%s", path);
            goto fail;
        }
        if (ps_io_inflate_sparse(zbuf, (size_t)fsize, stream + h.vox_offset,
                                 (uint64_t)h.vox_offset, h.nbytes, map) == PS_OK) {
            gz_close(&gz);
            free(zbuf);
            *hout = h;
            *bout = block;
            *dout = stream + h.vox_offset;
            *nz = map;
            return PS_OK;
        }
        free(map); /* declined: libdeflate overwrites the whole block below */
    }

    size_t filled = 0; /* bytes of the decompressed stream in place */
    if (in_memory && total <= one_pass_max) {
        /* One pass with libdeflate, member after member, straight into the block. */
        gz_close(&gz);
        struct libdeflate_decompressor *d = libdeflate_alloc_decompressor();
        if (!d) {
            rc = ps_error(PS_ERR_NOMEM, "%s: libdeflate_alloc_decompressor failed", path);
            goto fail;
        }
        size_t pos = 0;
        while (filled < total && pos < fsize) {
            size_t in_used = 0, out_got = 0;
            enum libdeflate_result r = libdeflate_gzip_decompress_ex(
                d, zbuf + pos, (size_t)fsize - pos, stream + filled, (size_t)total - filled,
                &in_used, &out_got);
            if (r == LIBDEFLATE_INSUFFICIENT_SPACE) {
                /* This member holds bytes beyond the voxel data: let zlib stop exactly at
                 * the end of the data instead. */
                size_t more = 0;
                if ((rc = gz_open(&gz, NULL, zbuf, (size_t)fsize, pos)) ||
                    (rc = gz_read(&gz, stream + filled, (size_t)total - filled, &more, path)) ||
                    (filled + more == total && (rc = gz_finish_member(&gz, path)))) {
                    libdeflate_free_decompressor(d);
                    goto fail;
                }
                filled += more;
                break;
            }
            if (r != LIBDEFLATE_SUCCESS) {
                libdeflate_free_decompressor(d);
                rc = ps_error(PS_ERR_FORMAT,
                              "%s: corrupt or truncated gzip data (libdeflate: %s, in the member "
                              "starting at compressed byte %zu)",
                              path, deflate_result_name(r), pos);
                goto fail;
            }
            pos += in_used;
            filled += out_got;
        }
        libdeflate_free_decompressor(d);
    } else {
        /* Streaming zlib: the header bytes are already inflated, the rest follows them. A small
         * NIfTI-1 image can end before byte 540 (the size of `head`), with more bytes after
         * its data: copy only what belongs to the image. */
        filled = got < total ? got : (size_t)total;
        memcpy(stream, head, filled);
        size_t more = 0;
        if ((rc = gz_read(&gz, stream + filled, (size_t)total - filled, &more, path)))
            goto fail;
        filled += more;
        if (filled == total && (rc = gz_finish_member(&gz, path)))
            goto fail;
    }
    gz_close(&gz);
    free(zbuf);
    zbuf = NULL;
    if (filled < total) {
        rc = short_data_error(path, &h, filled, 1);
        goto fail;
    }
    *hout = h;
    *bout = block;
    *dout = stream + h.vox_offset;
    return PS_OK;

fail:
    gz_close(&gz);
    free(zbuf);
    ps_free_large(block);
    return rc;
}

int ps_volume_read(const char *path, ps_volume **out)
{
    return ps_io_volume_read_ex(path, PS_GZ_ONE_PASS_MAX, out);
}

/* Read one file: a .nii (known == NULL: the header comes first in it) or the .img of a pair
 * whose header is `known`. On success *h, *block and *data are set for make_volume. */
static int read_file(const char *path, uint64_t one_pass_max, const nifti_hdr *known,
                     nifti_hdr *h, unsigned char **block, void **data, uint8_t **nz)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return ps_error(PS_ERR_IO, "%s: cannot open: %s", path, strerror(errno));
    struct stat st;
    int rc;
    if (fstat(fileno(f), &st)) {
        rc = ps_error(PS_ERR_IO, "%s: cannot stat: %s", path, strerror(errno));
    } else if (S_ISDIR(st.st_mode)) {
        rc = ps_error(PS_ERR_IO, "%s: is a directory", path);
    } else if (S_ISREG(st.st_mode) && st.st_size == 0) {
        rc = ps_error(PS_ERR_FORMAT, "%s: empty file", path);
    } else {
        /* a pipe or device (e.g. /dev/stdin, <(zcat x)) has no size: stream it */
        uint64_t fsize = S_ISREG(st.st_mode) ? (uint64_t)st.st_size : PS_SIZE_UNKNOWN;
        unsigned char head[PS_NIFTI2_HDR];
        size_t got = 0;
        rc = read_fully(f, head, sizeof head, path, &got);
        if (!rc && got == 0) {
            rc = ps_error(PS_ERR_FORMAT, "%s: empty file", path);
        } else if (!rc && got >= 2 && head[0] == 0x1f && head[1] == 0x8b) {
            rc = read_gzip(f, path, head, got, fsize, one_pass_max, known, h, block, data, nz);
        } else if (!rc) {
            rc = read_plain(f, path, head, got, fsize, known, h, block);
            *data = *block;
        }
    }
    fclose(f);
    return rc;
}

/* ---- .hdr/.img pairs ----------------------------------------------------------------------- */

static int file_exists(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0;
}

/* Length of the pair suffix of `path` (".hdr", ".img", ".hdr.gz", ".img.gz", any letter case),
 * or 0; *is_hdr says which file of the pair it names. */
static size_t pair_suffix(const char *path, int *is_hdr)
{
    size_t n = strlen(path), gz = 0;
    if (n > 3 && !strcasecmp(path + n - 3, ".gz"))
        gz = 3;
    if (n < gz + 4)
        return 0;
    const char *e = path + n - gz - 4;
    if (!strncasecmp(e, ".hdr", 4))
        *is_hdr = 1;
    else if (!strncasecmp(e, ".img", 4))
        *is_hdr = 0;
    else
        return 0;
    return gz + 4;
}

/* The other file of the pair: same base name, ".img" for ".hdr" and back (in the letter case of
 * the given suffix), compressed like the given file if that exists, else the other way (as
 * niftilib's nifti_findimgname / nifti_findhdrname look). NULL with an error when neither. */
static char *pair_partner(const char *path, size_t suffix_len, int is_hdr)
{
    size_t base = strlen(path) - suffix_len;
    int upper = path[base + 1] == 'H' || path[base + 1] == 'I';
    const char *ext = is_hdr ? (upper ? ".IMG" : ".img") : (upper ? ".HDR" : ".hdr");
    int gz = suffix_len == 7;
    char *cand[2] = {ps_malloc(base + 8), ps_malloc(base + 8)};
    if (!cand[0] || !cand[1]) {
        free(cand[0]);
        free(cand[1]);
        ps_error(PS_ERR_NOMEM, "%s: out of memory", path);
        return NULL;
    }
    for (int c = 0; c < 2; c++) {
        int z = c == 0 ? gz : !gz;
        snprintf(cand[c], base + 8, "%.*s%s%s", (int)base, path, ext, z ? ".gz" : "");
    }
    for (int c = 0; c < 2; c++)
        if (file_exists(cand[c])) {
            free(cand[!c]);
            return cand[c];
        }
    ps_error(PS_ERR_IO, "%s: the %s file of this .hdr/.img pair is missing (looked for %s and "
             "%s)", path, is_hdr ? "image" : "header", cand[0], cand[1]);
    free(cand[0]);
    free(cand[1]);
    return NULL;
}

/* Read and check the header of a pair (gzip-compressed or not: zlib's gzread reads both). */
static int read_pair_header(const char *hdr_path, nifti_hdr *h)
{
    struct stat st;
    if (stat(hdr_path, &st))
        return ps_error(PS_ERR_IO, "%s: cannot open: %s", hdr_path, strerror(errno));
    if (S_ISDIR(st.st_mode))
        return ps_error(PS_ERR_IO, "%s: is a directory", hdr_path);
    gzFile g = gzopen(hdr_path, "rb");
    if (!g)
        return ps_error(PS_ERR_IO, "%s: cannot open: %s", hdr_path, strerror(errno));
    unsigned char buf[PS_NIFTI2_HDR];
    int n = gzread(g, buf, sizeof buf);
    int err = 0;
    const char *msg = n < 0 ? gzerror(g, &err) : NULL;
    int rc = n < 0 ? ps_error(err == Z_ERRNO ? PS_ERR_IO : PS_ERR_FORMAT, "%s: cannot read the "
                              "header: %s", hdr_path, err == Z_ERRNO ? strerror(errno) : msg)
                   : PS_OK;
    gzclose(g);
    if (!rc && n == 0)
        rc = ps_error(PS_ERR_FORMAT, "%s: empty file", hdr_path);
    if (!rc)
        rc = parse_header(buf, (size_t)n, hdr_path, 1, h);
    if (!rc)
        rc = check_dims_supported(hdr_path, h);
    return rc;
}

/* SPM writes the orientation of an Analyze image to NAME.mat beside it, and nibabel applies
 * it; panseval does not read MATLAB files, so such a pair is refused rather than placed
 * differently. */
static int check_no_spm_mat(const char *path, size_t suffix_len)
{
    size_t base = strlen(path) - suffix_len;
    char *mat = ps_malloc(base + 8);
    if (!mat)
        return ps_error(PS_ERR_NOMEM, "%s: out of memory", path);
    int rc = PS_OK;
    for (int z = 0; z < 2 && !rc; z++) {
        snprintf(mat, base + 8, "%.*s.mat%s", (int)base, path, z ? ".gz" : "");
        if (file_exists(mat))
            rc = ps_error(PS_ERR_UNSUPPORTED, "%s: Analyze 7.5 image with an SPM orientation "
                          "file %s: reading .mat files is not supported (convert the image to "
                          "NIfTI with SPM or nibabel)", path, mat);
    }
    free(mat);
    return rc;
}

static int volume_read(const char *path, uint64_t one_pass_max, ps_volume **out, uint8_t **nz);

int ps_io_volume_read_ex(const char *path, uint64_t one_pass_max, ps_volume **out)
{
    return volume_read(path, one_pass_max, out, NULL);
}

int ps_io_volume_read_sparse(const char *path, ps_volume **out, uint8_t **nz)
{
    *nz = NULL;
    return volume_read(path, PS_GZ_ONE_PASS_MAX, out, nz);
}

/* nz: as for read_gzip (NULL: the ordinary path only) */
static int volume_read(const char *path, uint64_t one_pass_max, ps_volume **out, uint8_t **nz)
{
    *out = NULL;
    if (!path)
        return ps_error(PS_ERR_ARG, "ps_volume_read: no file name");
    nifti_hdr h;
    unsigned char *block = NULL;
    void *data = NULL;
    int is_hdr = 0, rc;
    size_t sfx = pair_suffix(path, &is_hdr);
    if (!sfx) {
        rc = read_file(path, one_pass_max, NULL, &h, &block, &data, nz);
    } else {
        char *other = pair_partner(path, sfx, is_hdr);
        if (!other)
            return ps_error_code();
        const char *hdr_path = is_hdr ? path : other, *img_path = is_hdr ? other : path;
        nifti_hdr ph;
        rc = read_pair_header(hdr_path, &ph);
        if (!rc && ph.analyze)
            rc = check_no_spm_mat(path, sfx);
        if (!rc)
            rc = read_file(img_path, one_pass_max, &ph, &h, &block, &data, nz);
        free(other);
    }
    if (!rc)
        rc = make_volume(path, &h, block, data, out);
    if (rc && nz) {
        free(*nz);
        *nz = NULL;
    }
    return rc;
}
