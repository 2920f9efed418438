/* io_internal.h - helpers shared by the io sources (not installed, not public API). */
#ifndef PS_IO_INTERNAL_H
#define PS_IO_INTERNAL_H

#include "ps_io.h"

#include <nifti2_io.h>

/* Millimetres per unit of a NIFTI_UNITS_* spatial code: metre 1000, micron 0.001, mm and
 * unknown 1 (unknown is taken as mm, as ITK and nibabel users expect). */
double ps_io_unit_mm(int xyz_units);

/* Fill `g` from a header that niftilib has interpreted. `dim` are the validated nx, ny, nz
 * and `pixdim` the raw pixdim[1..3] (byte order already fixed). Fails with PS_ERR_FORMAT when
 * an axis longer than one voxel has a zero or non-finite spacing. */
int ps_io_geometry_from_nim(const nifti_image *nim, const int64_t dim[3],
                            const double pixdim[3], const char *path, ps_geometry *g);

/* Tests: 1 makes ps_atomic_open name its temporary file from the start (mkstemp), as on a
 * file system without O_TMPFILE; 0 (the default) restores the unnamed temporary. */
void ps_io_atomic_named_only_(int on);

/* NIfTI datatype code <-> ps_dtype. ps_io_dtype_from_nifti returns 0 for types panseval does
 * not handle. */
ps_dtype ps_io_dtype_from_nifti(int datatype);
int ps_io_dtype_to_nifti(ps_dtype t);

/* ps_volume_read with the size limit of the one-pass libdeflate path as a parameter (bytes of
 * compressed file and of decompressed stream); above it streaming zlib is used. Lets the tests
 * exercise the streaming path on small files. */
int ps_io_volume_read_ex(const char *path, uint64_t one_pass_max, ps_volume **out);

/* Inflate the gzip file gz[0..len) whose first member holds `skip` bytes of header and then
 * exactly `nbytes` bytes of voxel data (inflate_sparse.c) into dst, which must be zeroed: only
 * the PS_SPARSE_PIECE-byte pieces of dst with a non-zero byte are written, and nz[p] is set to
 * 1 for each such piece p (nz has one byte per piece, zeroed by the caller). CRC-32 and ISIZE
 * are verified. Returns PS_OK, or PS_SPARSE_DECLINE for anything else (corrupt or truncated
 * data, a member that does not hold exactly skip + nbytes bytes, several members, out of
 * memory): the caller then reads the file the ordinary way, which gives the same bytes or the
 * precise error. On decline dst and nz may have been written. */
#define PS_SPARSE_PIECE PS_VOLUME_PIECE
#define PS_SPARSE_DECLINE 1
int ps_io_inflate_sparse(const unsigned char *gz, size_t len, unsigned char *dst, uint64_t skip,
                         uint64_t nbytes, uint8_t *nz);

/* ps_io_volume_read_ex for a label map: a .nii.gz held in memory is inflated sparsely
 * (ps_io_inflate_sparse) when it can be, and then *nz is its piece map over v->data (malloc'd,
 * the caller frees it); else *nz is NULL and the file was read the ordinary way. */
int ps_io_volume_read_sparse(const char *path, ps_volume **out, uint8_t **nz);

/* Silence niftilib's own messages on stderr (it reports through return values to us). */
void ps_io_quiet_niftilib(void);

#endif
