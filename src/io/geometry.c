/* geometry.c - voxel grids: spacing and voxel-to-world affine from NIfTI headers, grid
 * comparison and the field-of-view diagonal.
 *
 * The affine follows the NIfTI-1 standard (nifti1.h, "3D IMAGE (VOLUME) ORIENTATION AND
 * LOCATION IN SPACE"): method 3 (sform) when sform_code > 0, else method 2 (qform, built from
 * the quaternion, qoffset, pixdim and qfac) when qform_code > 0, else method 1 (diagonal of
 * pixdim). nibabel's img.affine agrees for methods 2 and 3; for method 1 nibabel instead
 * centres the grid (Analyze convention), which panseval does not copy.
 */
#include "io_internal.h"

#include <math.h>
#include <string.h>

double ps_io_unit_mm(int xyz_units)
{
    switch (xyz_units & 0x07) {
    case NIFTI_UNITS_METER: return 1000.0;
    case NIFTI_UNITS_MICRON: return 0.001;
    default: return 1.0;
    }
}

static void mat_diag(double m[4][4], double a, double b, double c)
{
    memset(m, 0, 16 * sizeof(double));
    m[0][0] = a;
    m[1][1] = b;
    m[2][2] = c;
    m[3][3] = 1.0;
}

void ps_geometry_init(ps_geometry *g, int64_t nx, int64_t ny, int64_t nz,
                      double sx_mm, double sy_mm, double sz_mm)
{
    memset(g, 0, sizeof *g);
    g->dim[0] = nx;
    g->dim[1] = ny;
    g->dim[2] = nz;
    g->spacing_mm[0] = sx_mm;
    g->spacing_mm[1] = sy_mm;
    g->spacing_mm[2] = sz_mm;
    mat_diag(g->affine, sx_mm, sy_mm, sz_mm);
    mat_diag(g->qform, sx_mm, sy_mm, sz_mm);
    mat_diag(g->sform, sx_mm, sy_mm, sz_mm);
    g->qform_code = NIFTI_XFORM_SCANNER_ANAT;
    g->sform_code = NIFTI_XFORM_UNKNOWN;
    g->qfac = 1.0;
    g->xyz_units = NIFTI_UNITS_MM;
}

void ps_geometry_set_affine(ps_geometry *g, const double affine[4][4])
{
    nifti_dmat44 m;
    for (int r = 0; r < 4; r++)
        for (int c = 0; c < 4; c++)
            m.m[r][c] = r < 3 ? affine[r][c] : (c == 3 ? 1.0 : 0.0);
    memcpy(g->affine, m.m, sizeof g->affine);
    memcpy(g->sform, m.m, sizeof g->sform);
    /* Spacing = column norms (|R e_j|), the voxel size along each voxel axis. */
    for (int c = 0; c < 3; c++)
        g->spacing_mm[c] = sqrt(m.m[0][c] * m.m[0][c] + m.m[1][c] * m.m[1][c] +
                                m.m[2][c] * m.m[2][c]);
    double dx, dy, dz;
    nifti_dmat44_to_quatern(m, &g->quatern[0], &g->quatern[1], &g->quatern[2],
                            &g->qoffset[0], &g->qoffset[1], &g->qoffset[2], &dx, &dy, &dz,
                            &g->qfac);
    /* The qform can only hold a rotation (plus a flip); for a sheared affine it is the
     * nearest orthogonal one, and the sform keeps the exact matrix. */
    nifti_dmat44 q = nifti_quatern_to_dmat44(g->quatern[0], g->quatern[1], g->quatern[2],
                                             g->qoffset[0], g->qoffset[1], g->qoffset[2],
                                             g->spacing_mm[0], g->spacing_mm[1],
                                             g->spacing_mm[2], g->qfac);
    memcpy(g->qform, q.m, sizeof g->qform);
    if (g->sform_code <= 0)
        g->sform_code = NIFTI_XFORM_SCANNER_ANAT;
    if (g->qform_code <= 0)
        g->qform_code = NIFTI_XFORM_SCANNER_ANAT;
    g->xyz_units = NIFTI_UNITS_MM;
}

int ps_io_geometry_from_nim(const nifti_image *nim, const int64_t dim[3],
                            const double pixdim[3], const char *path, ps_geometry *g)
{
    memset(g, 0, sizeof *g);
    double unit = ps_io_unit_mm(nim->xyz_units);
    double pix[3];
    for (int d = 0; d < 3; d++) {
        g->dim[d] = dim[d];
        pix[d] = fabs(pixdim[d]);
        /* checked in mm: a NIfTI-2 (double) pixdim in metres or microns can overflow to inf
         * or underflow to 0 when converted */
        double mm = pix[d] * unit;
        if (!(mm > 0.0) || !isfinite(mm)) {
            if (dim[d] > 1)
                return ps_error(PS_ERR_FORMAT, "%s: pixdim[%d] = %g is not a valid voxel size "
                                "(%g mm)", path, d + 1, pixdim[d], mm);
            pix[d] = 1.0; /* a single-voxel axis (2D image) needs no spacing */
            mm = unit;
        }
        g->spacing_mm[d] = mm;
    }
    g->qform_code = nim->qform_code;
    g->sform_code = nim->sform_code;
    g->quatern[0] = nim->quatern_b;
    g->quatern[1] = nim->quatern_c;
    g->quatern[2] = nim->quatern_d;
    g->qoffset[0] = nim->qoffset_x;
    g->qoffset[1] = nim->qoffset_y;
    g->qoffset[2] = nim->qoffset_z;
    g->qfac = nim->qfac < 0 ? -1.0 : 1.0;
    g->xyz_units = nim->xyz_units;
    /* niftilib's quaternion code replaces a non-positive pixdim by 1; pass |pixdim| so the
     * qform scales each axis by the same spacing that spacing_mm reports. */
    nifti_dmat44 q = nifti_quatern_to_dmat44(g->quatern[0], g->quatern[1], g->quatern[2],
                                             g->qoffset[0], g->qoffset[1], g->qoffset[2],
                                             pix[0], pix[1], pix[2], g->qfac);
    memcpy(g->qform, q.m, sizeof g->qform);
    if (g->sform_code > 0)
        memcpy(g->sform, nim->sto_xyz.m, sizeof g->sform);
    else
        mat_diag(g->sform, pix[0], pix[1], pix[2]);

    if (g->sform_code > 0)
        memcpy(g->affine, g->sform, sizeof g->affine);
    else if (g->qform_code > 0)
        memcpy(g->affine, g->qform, sizeof g->affine);
    else
        mat_diag(g->affine, pix[0], pix[1], pix[2]);
    for (int r = 0; r < 3; r++)
        for (int c = 0; c < 4; c++)
            g->affine[r][c] *= unit;
    return PS_OK;
}

double ps_geometry_diagonal_mm(const ps_geometry *g)
{
    double s = 0.0;
    for (int d = 0; d < 3; d++) {
        double len = (double)g->dim[d] * g->spacing_mm[d];
        s += len * len;
    }
    return sqrt(s);
}

/* Unit direction of voxel axis `c` in world space: column c of the affine over its norm. */
static void direction(const ps_geometry *g, int c, double out[3])
{
    double n = 0.0;
    for (int r = 0; r < 3; r++)
        n += g->affine[r][c] * g->affine[r][c];
    n = sqrt(n);
    for (int r = 0; r < 3; r++)
        out[r] = n > 0.0 ? g->affine[r][c] / n : 0.0;
}

static void describe(const ps_geometry *g, char *buf, size_t len)
{
    double d[3][3];
    for (int c = 0; c < 3; c++)
        direction(g, c, d[c]);
    snprintf(buf, len,
             "dims %lldx%lldx%lld, spacing %.6g x %.6g x %.6g mm, origin (%.6g, %.6g, %.6g) mm, "
             "directions i(%.6f, %.6f, %.6f) j(%.6f, %.6f, %.6f) k(%.6f, %.6f, %.6f)",
             (long long)g->dim[0], (long long)g->dim[1], (long long)g->dim[2], g->spacing_mm[0],
             g->spacing_mm[1], g->spacing_mm[2], g->affine[0][3], g->affine[1][3],
             g->affine[2][3], d[0][0], d[0][1], d[0][2], d[1][0], d[1][1], d[1][2], d[2][0],
             d[2][1], d[2][2]);
}

/* Tolerances of ps_geometry_check_same (documented in ps_io.h and docs/io.md). */
#define PS_GEOM_TOL_MM 1e-4
#define PS_GEOM_TOL_DIR 1e-5

int ps_geometry_check_same(const ps_geometry *a, const char *name_a,
                           const ps_geometry *b, const char *name_b)
{
    return ps_geometry_check_same_tol(a, name_a, b, name_b, PS_GEOM_TOL_MM);
}

int ps_geometry_check_same_tol(const ps_geometry *a, const char *name_a,
                               const ps_geometry *b, const char *name_b, double tol_mm)
{
    char what[256] = "";
    static const char axis[3] = {'i', 'j', 'k'};
    for (int d = 0; d < 3 && !what[0]; d++)
        if (a->dim[d] != b->dim[d])
            snprintf(what, sizeof what, "dims differ on axis %c: %lld vs %lld", axis[d],
                     (long long)a->dim[d], (long long)b->dim[d]);
    for (int d = 0; d < 3 && !what[0]; d++)
        if (!(fabs(a->spacing_mm[d] - b->spacing_mm[d]) <= tol_mm))
            snprintf(what, sizeof what, "spacing differs on axis %c: %.9g vs %.9g mm", axis[d],
                     a->spacing_mm[d], b->spacing_mm[d]);
    for (int r = 0; r < 3 && !what[0]; r++)
        if (!(fabs(a->affine[r][3] - b->affine[r][3]) <= tol_mm))
            snprintf(what, sizeof what, "origin differs in world coordinate %c: %.9g vs %.9g mm",
                     "xyz"[r], a->affine[r][3], b->affine[r][3]);
    for (int c = 0; c < 3 && !what[0]; c++) {
        double da[3], db[3];
        direction(a, c, da);
        direction(b, c, db);
        for (int r = 0; r < 3; r++)
            if (!(fabs(da[r] - db[r]) <= PS_GEOM_TOL_DIR)) {
                snprintf(what, sizeof what,
                         "direction of axis %c differs: (%.6f, %.6f, %.6f) vs (%.6f, %.6f, %.6f)",
                         axis[c], da[0], da[1], da[2], db[0], db[1], db[2]);
                break;
            }
    }
    if (!what[0])
        return PS_OK;
    char ga[512], gb[512];
    describe(a, ga, sizeof ga);
    describe(b, gb, sizeof gb);
    return ps_error(PS_ERR_GEOMETRY,
                    "%s and %s are not on the same voxel grid (%s)\n  %s: %s\n  %s: %s", name_a,
                    name_b, what, name_a, ga, name_b, gb);
}
