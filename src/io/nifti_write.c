/* nifti_write.c - write a ps_volume as .nii or .nii.gz.
 *
 * The header is built by niftilib (nifti_convert_nim2n[12]hdr) from v->geom: qform code,
 * quaternion, qoffset and qfac, sform code and matrix, pixdim in the header's units, scaling.
 * NIfTI-1 unless a dimension exceeds its 16-bit field (32767), then NIfTI-2. Layout: header,
 * 4 zero bytes (no extensions), voxel data in machine byte order at vox_offset 352 (NIfTI-1)
 * or 544 (NIfTI-2). .nii.gz is one gzip member made by libdeflate at level 6 (zlib's default
 * trade-off between size and speed). The file appears atomically (ps_atomic_*).
 */
#include "io_internal.h"

#include <ctype.h>
#include <stdlib.h>
#include <string.h>

#include <libdeflate.h>

#define PS_GZ_LEVEL 6
#define PS_NIFTI1_MAXDIM 32767

static int has_suffix_ci(const char *s, const char *suf)
{
    size_t n = strlen(s), m = strlen(suf);
    if (n < m)
        return 0;
    for (size_t i = 0; i < m; i++)
        if (tolower((unsigned char)s[n - m + i]) != suf[i])
            return 0;
    return 1;
}

/* Fill `hdr` (348 or 540 bytes) for `v`; returns the NIfTI version or a negative status. */
static int build_header(const char *path, const ps_volume *v, unsigned char *hdr,
                        size_t *hdr_len)
{
    const ps_geometry *g = &v->geom;
    int64_t dims[4] = {g->dim[0], g->dim[1], g->dim[2], v->nc};
    int version = 1;
    for (int d = 0; d < 4; d++) {
        if (dims[d] < 1)
            return ps_error(PS_ERR_ARG, "%s: cannot write a volume with dimension %d = %lld",
                            path, d + 1, (long long)dims[d]);
        if (dims[d] > PS_NIFTI1_MAXDIM)
            version = 2;
    }
    ps_io_quiet_niftilib();
    nifti_image *nim = nifti_simple_init_nim();
    if (!nim)
        return ps_error(PS_ERR_NOMEM, "%s: niftilib could not allocate an image", path);
    int ndim = v->nc > 1 ? 4 : 3;
    nim->ndim = nim->dim[0] = ndim;
    nim->nx = nim->dim[1] = dims[0];
    nim->ny = nim->dim[2] = dims[1];
    nim->nz = nim->dim[3] = dims[2];
    nim->nt = nim->dim[4] = dims[3];
    nim->nu = nim->nv = nim->nw = nim->dim[5] = nim->dim[6] = nim->dim[7] = 1;
    nim->nvox = dims[0] * dims[1] * dims[2] * dims[3];
    nim->datatype = ps_io_dtype_to_nifti(v->dtype);
    nim->nbyper = (int)ps_dtype_size(v->dtype);
    /* pixdim is stored in the header's units; spacing_mm was converted to mm on reading */
    int units = g->xyz_units > 0 ? g->xyz_units : NIFTI_UNITS_MM;
    double unit = ps_io_unit_mm(units);
    nim->dx = nim->pixdim[1] = g->spacing_mm[0] / unit;
    nim->dy = nim->pixdim[2] = g->spacing_mm[1] / unit;
    nim->dz = nim->pixdim[3] = g->spacing_mm[2] / unit;
    nim->dt = nim->pixdim[4] = 1.0;
    nim->du = nim->dv = nim->dw = nim->pixdim[5] = nim->pixdim[6] = nim->pixdim[7] = 1.0;
    nim->scl_slope = v->scl_slope;
    nim->scl_inter = v->scl_inter;
    nim->qform_code = g->qform_code;
    nim->quatern_b = g->quatern[0];
    nim->quatern_c = g->quatern[1];
    nim->quatern_d = g->quatern[2];
    nim->qoffset_x = g->qoffset[0];
    nim->qoffset_y = g->qoffset[1];
    nim->qoffset_z = g->qoffset[2];
    nim->qfac = g->qfac < 0 ? -1.0 : 1.0;
    nim->sform_code = g->sform_code;
    memcpy(nim->sto_xyz.m, g->sform, sizeof nim->sto_xyz.m);
    nim->xyz_units = units;
    nim->time_units = NIFTI_UNITS_UNKNOWN;
    nim->nifti_type = version == 1 ? NIFTI_FTYPE_NIFTI1_1 : NIFTI_FTYPE_NIFTI2_1;
    nim->iname_offset = version == 1 ? 352 : 544;
    nim->byteorder = nifti_short_order();
    int bad;
    if (version == 1) {
        nifti_1_header h;
        bad = nifti_convert_nim2n1hdr(nim, &h);
        memcpy(hdr, &h, sizeof h);
        *hdr_len = sizeof h;
    } else {
        nifti_2_header h;
        bad = nifti_convert_nim2n2hdr(nim, &h);
        /* the full NIfTI-2 signature (nifti2.h); niftilib 3.0.1 leaves the last 4 bytes 0 */
        memcpy(h.magic, "n+2\0\r\n\032\n", 8);
        memcpy(hdr, &h, sizeof h);
        *hdr_len = sizeof h;
    }
    nifti_image_free(nim);
    if (bad)
        return ps_error(PS_ERR_INTERNAL, "%s: niftilib could not build a NIfTI-%d header", path,
                        version);
    return version;
}

static int write_all(FILE *f, const void *p, size_t n, const char *path)
{
    if (n && fwrite(p, 1, n, f) != n)
        return ps_error(PS_ERR_IO, "%s: write failed", path);
    return PS_OK;
}

int ps_volume_write(const char *path, const ps_volume *v)
{
    if (!path || !v || !v->data)
        return ps_error(PS_ERR_ARG, "ps_volume_write: missing file name or volume");
    size_t esz = ps_dtype_size(v->dtype);
    if (!esz)
        return ps_error(PS_ERR_ARG, "%s: invalid voxel type %d", path, (int)v->dtype);
    int gz;
    if (has_suffix_ci(path, ".nii.gz"))
        gz = 1;
    else if (has_suffix_ci(path, ".nii"))
        gz = 0;
    else
        return ps_error(PS_ERR_ARG, "%s: output file name must end in .nii or .nii.gz", path);

    unsigned char hdr[sizeof(nifti_2_header) + 4];
    size_t hdr_len = 0;
    int rc = build_header(path, v, hdr, &hdr_len);
    if (rc < 0)
        return rc;
    memset(hdr + hdr_len, 0, 4); /* extension flag: none */
    hdr_len += 4;
    size_t nbytes;
    if (ps_mul3_size((size_t)ps_volume_nvox(v), (size_t)v->nc, esz, &nbytes))
        return ps_error_context(PS_ERR_NOMEM, "%s", path);

    unsigned char *raw = NULL, *zout = NULL;
    size_t zlen = 0;
    if (gz) {
        /* One contiguous input for a single gzip member: header, flag, then the voxels. */
        if (nbytes > SIZE_MAX - hdr_len || !(raw = ps_malloc(hdr_len + nbytes)))
            return ps_error_context(PS_ERR_NOMEM, "%s", path);
        memcpy(raw, hdr, hdr_len);
        memcpy(raw + hdr_len, v->data, nbytes);
        struct libdeflate_compressor *c = libdeflate_alloc_compressor(PS_GZ_LEVEL);
        if (!c) {
            free(raw);
            return ps_error(PS_ERR_NOMEM, "%s: libdeflate_alloc_compressor failed", path);
        }
        size_t bound = libdeflate_gzip_compress_bound(c, hdr_len + nbytes);
        if (!(zout = ps_malloc(bound))) {
            libdeflate_free_compressor(c);
            free(raw);
            return ps_error_context(PS_ERR_NOMEM, "%s", path);
        }
        zlen = libdeflate_gzip_compress(c, raw, hdr_len + nbytes, zout, bound);
        libdeflate_free_compressor(c);
        free(raw);
        if (!zlen) {
            free(zout);
            return ps_error(PS_ERR_INTERNAL, "%s: libdeflate_gzip_compress failed", path);
        }
    }

    ps_atomic_file *af = NULL;
    if ((rc = ps_atomic_open(path, &af))) {
        free(zout);
        return rc;
    }
    FILE *f = ps_atomic_stream(af);
    if (gz)
        rc = write_all(f, zout, zlen, path);
    else if (!(rc = write_all(f, hdr, hdr_len, path)))
        rc = write_all(f, v->data, nbytes, path);
    free(zout);
    if (rc) {
        ps_atomic_abort(af);
        return rc;
    }
    return ps_atomic_commit(af);
}
