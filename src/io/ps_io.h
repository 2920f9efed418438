/* ps_io.h - volumes (NIfTI-1/2, .nii/.nii.gz), geometry, tables (CSV/TSV/JSON), atomic files.
 *
 * The only module that touches niftilib, zlib and libdeflate.
 *
 * Voxel order in memory is NIfTI's: i fastest, then j, then k (then the 4th dimension).
 * Spacing always comes from the header (pixdim[1..3]) in voxel-axis order (i, j, k).
 *
 * Ownership: every ps_volume / ps_table is created by one of the functions below and released
 * with the matching *_free() (which accepts NULL). Objects are not shared between threads
 * while being modified; reading a finished object from several threads is safe.
 */
#ifndef PS_IO_H
#define PS_IO_H

#include <stdint.h>
#include <stdio.h>

#include "ps_core.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ---- voxel types ---------------------------------------------------------------------- */
typedef enum ps_dtype {
    PS_DT_UINT8 = 1,
    PS_DT_INT8,
    PS_DT_INT16,
    PS_DT_UINT16,
    PS_DT_INT32,
    PS_DT_UINT32,
    PS_DT_INT64,
    PS_DT_FLOAT32,
    PS_DT_FLOAT64,
} ps_dtype;

size_t ps_dtype_size(ps_dtype t);      /* bytes per voxel; 0 for an invalid type */
const char *ps_dtype_name(ps_dtype t); /* "uint8", "float32", ... */

/* ---- geometry ------------------------------------------------------------------------- */
/* Everything needed to place voxels in the world and to write a header with the same
 * placement. `affine` maps (i, j, k, 1) to scanner mm: the sform when sform_code > 0, else the
 * qform (NIfTI's method 2), else the pixdim diagonal (method 1). */
typedef struct ps_geometry {
    int64_t dim[3];        /* nx, ny, nz (1 for missing trailing dims)           */
    double spacing_mm[3];  /* |pixdim[1..3]| in mm, voxel-axis order             */
    double affine[4][4];   /* voxel -> world (mm), the transform in use           */
    /* The header's own transforms, in the header's units (xyz_units), kept so that a
     * volume is written back with the placement it was read with. */
    int qform_code, sform_code;
    double qform[4][4], sform[4][4];
    double quatern[3];     /* quatern_b, c, d                                    */
    double qoffset[3];     /* qoffset_x, y, z                                    */
    double qfac;           /* pixdim[0]: +1 or -1                                */
    int xyz_units;         /* NIFTI_UNITS_* of the spatial axes                  */
} ps_geometry;

/* Identity geometry with the given dims and spacing (qform_code 1, origin 0). */
void ps_geometry_init(ps_geometry *g, int64_t nx, int64_t ny, int64_t nz,
                      double sx_mm, double sy_mm, double sz_mm);

/* Set the voxel-to-world transform to `affine` (mm): the sform becomes `affine`, the qform
 * its nearest rotation (nifti_dmat44_to_quatern), spacing the column norms, units mm; codes
 * that were 0 become 1 (scanner). ps_volume_write writes the qform and sform fields, so use
 * this rather than assigning `affine` alone. */
void ps_geometry_set_affine(ps_geometry *g, const double affine[4][4]);

/* Check that two images share a voxel grid: equal dims, spacing and origin within 1e-4 mm,
 * direction cosines within 1e-5. On mismatch returns PS_ERR_GEOMETRY with a message that
 * names both files and prints both geometries. */
int ps_geometry_check_same(const ps_geometry *a, const char *name_a,
                           const ps_geometry *b, const char *name_b);
/* The same with spacing and origin compared within tol_mm (>= 0) instead of 1e-4 mm; the
 * direction tolerance stays 1e-5. Dims differing is reported first. */
int ps_geometry_check_same_tol(const ps_geometry *a, const char *name_a,
                               const ps_geometry *b, const char *name_b, double tol_mm);
/* Write `s` as a JSON string literal (quotes and escapes) to f: the one JSON string escaper. */
void ps_json_put_string(FILE *f, const char *s);

/* Length of the field-of-view diagonal in mm: sqrt(sum((dim_d * spacing_d)^2)). */
double ps_geometry_diagonal_mm(const ps_geometry *g);

/* ---- volumes -------------------------------------------------------------------------- */
typedef struct ps_volume {
    ps_geometry geom;
    int64_t nc;        /* size of the 4th dimension (channels / time); 1 for 3D        */
    ps_dtype dtype;    /* type of `data`                                              */
    void *data;        /* nx*ny*nz*nc voxels, i fastest                               */
    double scl_slope;  /* scaling still to apply to `data` (value = data*slope + inter; */
    double scl_inter;  /* none when slope is 0 or (1, 0)): the file's values after      */
                       /* ps_volume_read, 0 after the *_labels / *_float readers (which */
                       /* apply them); ps_volume_write writes them to the header.       */
    char *path;        /* file it was read from (owned), or NULL                      */
    void *block_;      /* allocation that holds `data` (private)                      */
} ps_volume;

static inline int64_t ps_volume_nvox(const ps_volume *v)
{
    return v->geom.dim[0] * v->geom.dim[1] * v->geom.dim[2];
}

/* A zero-filled volume. `geom` is copied; nc >= 1. */
int ps_volume_create(const ps_geometry *geom, int64_t nc, ps_dtype dtype, ps_volume **out);
void ps_volume_free(ps_volume *v);

/* Read a .nii or .nii.gz file (NIfTI-1 or NIfTI-2) as stored: no scaling, no conversion
 * (bytes are swapped to machine order). Gzip is recognised by its magic bytes, not the suffix,
 * and inflated with libdeflate in one pass straight into the voxel buffer (all gzip members),
 * with a streaming zlib fallback when the size is unknown (pipes) or over 4 GiB. Every bad
 * input (missing, empty, truncated, corrupt gzip, bad magic, inconsistent dims or vox_offset,
 * unsupported datatype or more than 4 dims) is an error whose message names the file. */
int ps_volume_read(const char *path, ps_volume **out);

/* Read a 3D label map. The result has dtype PS_DT_UINT8 when every label is in 0..255
 * (no copy when the file is uint8), else PS_DT_INT32. scl_slope/scl_inter are applied.
 * Float maps must hold integral values (tolerance 1e-3; rounded): otherwise PS_ERR_FORMAT
 * naming the file, the first offending value in file order and its voxel (i, j, k). NaN and
 * negative labels are PS_ERR_FORMAT, values beyond int32 PS_ERR_RANGE, and 4D volumes (4th
 * dim > 1) PS_ERR_FORMAT naming the dims. */
int ps_volume_read_labels(const char *path, ps_volume **out);

/* The same, with the map of the pieces of the label map that hold a label: *nz[p] = 1 when
 * bytes [p * PS_VOLUME_PIECE, (p + 1) * PS_VOLUME_PIECE) of v->data hold a non-zero byte, 0
 * when they are all zero (malloc'd, one byte per piece; free() it). *nz is NULL when no map
 * is known (a file that is not gzip-compressed, a label map that had to be converted, a
 * stream the sparse inflate declined): then every piece must be looked at. A .nii.gz label map
 * is inflated so that only its non-zero pieces are written (most of a CT label map is
 * background; see src/io/inflate_sparse.c), and every consumer that reads only the marked
 * pieces skips the rest; the voxels are the same bytes either way. */
#define PS_VOLUME_PIECE 4096
int ps_volume_read_labels_map(const char *path, ps_volume **out, uint8_t **nz);

/* Read an image as float32 with scl_slope/scl_inter applied in double precision (3D or 4D;
 * no copy for an unscaled float32 file). */
int ps_volume_read_float(const char *path, ps_volume **out);

/* Write .nii or .nii.gz (chosen by the suffix; other suffixes are PS_ERR_ARG) as NIfTI-1
 * (NIfTI-2 when a dim exceeds 32767), with the qform/sform/pixdim/units in v->geom and
 * v->scl_slope/scl_inter. .nii.gz is one gzip member (libdeflate level 6). Written
 * atomically: a temporary file in the same folder, then rename(). */
int ps_volume_write(const char *path, const ps_volume *v);

/* ---- atomic output files ----------------------------------------------------------------- */
/* Opens a temporary file next to `path`: unnamed (O_TMPFILE) where the system allows, so a
 * killed process leaves nothing, else "<dir>/.<name>.XXXXXX". ps_atomic_commit() flushes,
 * fsyncs, checks for late write errors, names it "<dir>/.<name>.XXXXXX" if it had no name and
 * renames it over `path`; ps_atomic_abort() removes it. Both free `af`.
 * path "-" means stdout: commit only flushes and checks it.
 * Overwrite policy: an existing regular file is replaced keeping its mode; a symbolic link's
 * target is replaced (the link stays); a folder, a non-regular file, a read-only file, a link
 * to a missing file, a missing or unwritable folder are refused (PS_ERR_IO naming the path).
 * ps_atomic_check() makes the same checks without creating anything, so that a command can
 * refuse a bad output before its work; ps_atomic_open() makes them again. */
typedef struct ps_atomic_file ps_atomic_file;
int ps_atomic_check(const char *path);
int ps_atomic_open(const char *path, ps_atomic_file **out);
FILE *ps_atomic_stream(ps_atomic_file *af);
int ps_atomic_commit(ps_atomic_file *af);
void ps_atomic_abort(ps_atomic_file *af);

/* ---- tables ------------------------------------------------------------------------------ */
/* An in-memory table of strings: header + rows. Read from CSV (RFC 4180 quoting) or TSV,
 * detected from the header line (a tab in the header means TSV), or from a JSON array of
 * flat objects as ps_table_writer writes it (null reads as "nan"). '#' lines before the
 * header are comments. Each row remembers its line number for error messages. */
typedef struct ps_table {
    int ncols;
    int64_t nrows;
    char **colnames;      /* ncols names                                           */
    char ***cells;        /* cells[r][c], NUL-terminated; "" for an empty cell      */
    int64_t *line;        /* 1-based source line of each row                        */
    char *path;           /* file read, or NULL                                     */
    char sep;             /* ',' or '\t', or 'j' for a JSON table                    */
    char *text_;          /* private: storage of every cell and name                */
    char **cellv_;        /* private: nrows*ncols cell pointers behind cells[]       */
} ps_table;

int ps_table_read(const char *path, ps_table **out);      /* path "-" = stdin */
/* PS_OK when `text` can be a text file; else PS_ERR_FORMAT "<name>: <what it is>; <rule>",
 * naming what the bytes look like (gzip data, a NIfTI image, a zip archive such as an .xlsx
 * workbook, UTF-16 text) or "contains NUL bytes". `rule` ends the message, e.g. "a manifest
 * is a text (TSV) file". The table and manifest readers call it before parsing. */
int ps_text_check(const char *text, size_t len, const char *name, const char *rule);
int ps_table_parse(const char *text, size_t len, const char *name, ps_table **out);
void ps_table_free(ps_table *t);
/* Column index by exact name, or -1. */
int ps_table_col(const ps_table *t, const char *name);
/* Column index; PS_ERR_ARG "<file>: no column 'x' (columns are: a, b, c)" when absent. */
int ps_table_require_col(const ps_table *t, const char *name, int *col);
/* Parse cells[r][c] as a double. "nan", "NaN", "inf", "-inf" are accepted; an empty cell or
 * text is PS_ERR_FORMAT "<file> line L column 'x': 'abc' is not a number". */
int ps_table_get_double(const ps_table *t, int64_t r, int c, double *out);

/* Streaming writer for result tables: CSV (RFC 4180), TSV, a JSON array of objects with the
 * same keys, a Markdown pipe table, or a LaTeX booktabs tabular (needs \usepackage{booktabs}).
 * Numbers: the shortest form of %.15g/%.16g/%.17g that reads back as the same double,
 * integral values as integers. Non-finite numbers: nan / inf / -inf in CSV, TSV and Markdown;
 * null (NaN) and the strings "Inf" / "-Inf" in JSON (read as numbers by pandas read_json and
 * R jsonlite); NaN, $\infty$, $-\infty$ in LaTeX. Line breaks inside text cells become
 * spaces except in JSON (escaped), so every record is one line. Full rules: docs/io.md. */
typedef enum ps_table_format {
    PS_TABLE_CSV = 0,
    PS_TABLE_TSV,
    PS_TABLE_JSON,
    PS_TABLE_MD,  /* Markdown pipe table            */
    PS_TABLE_TEX, /* LaTeX tabular with booktabs rules */
} ps_table_format;
/* the names used before Markdown and LaTeX were added */
#define PS_FMT_CSV PS_TABLE_CSV
#define PS_FMT_TSV PS_TABLE_TSV
#define PS_FMT_JSON PS_TABLE_JSON
/* "csv", "tsv", "json", "md" or "markdown", "tex" or "latex"; else PS_ERR_ARG. */
int ps_table_format_parse(const char *s, ps_table_format *out);
/* "csv", "tsv", "json", "md", "tex". */
const char *ps_table_format_name(ps_table_format fmt);
/* The format named by the suffix of `path` (.csv .tsv .json .md .tex): 1 and *out set, or 0
 * (no such suffix; *out untouched). */
int ps_table_format_from_path(const char *path, ps_table_format *out);
/* The writer's text of a number (see above; nan / inf / -inf for non-finite values) into buf;
 * returns what snprintf returns. 32 bytes always suffice. */
int ps_format_double(double x, char *buf, size_t len);

typedef struct ps_table_writer ps_table_writer;
/* Writes to `f` (not owned). The header is given once; rows follow cell by cell. */
int ps_table_writer_create(FILE *f, ps_table_format fmt, int ncols, const char *const *colnames,
                           ps_table_writer **out);
int ps_table_writer_str(ps_table_writer *w, const char *s);     /* next cell: text   */
int ps_table_writer_num(ps_table_writer *w, double x);          /* next cell: number */
int ps_table_writer_int(ps_table_writer *w, int64_t x);         /* next cell: integer*/
int ps_table_writer_null(ps_table_writer *w);                   /* next cell: empty  */
int ps_table_writer_end_row(ps_table_writer *w);
/* fflush the stream (rows written so far reach the file); PS_ERR_IO on a write error. */
int ps_table_writer_flush(ps_table_writer *w);
int64_t ps_table_writer_rows(const ps_table_writer *w); /* rows finished so far */
/* Closes the JSON array / LaTeX tabular; frees w (NULL accepted). */
int ps_table_writer_finish(ps_table_writer *w);

/* ---- whole files (read_all.c) -------------------------------------------------------- */
/* The whole of `path` ('-' = standard input, named "(stdin)") in a new buffer, NUL-terminated
 * (*len excludes the NUL; free() it). `what` (may be NULL) names the file in messages:
 * "cannot open manifest m.tsv: No such file or directory". Files over 1 GiB are PS_ERR_RANGE. */
int ps_read_all(const char *path, const char *what, char **text, size_t *len);

/* ---- JSON (json_read.c) ------------------------------------------------------------------ */
/* A parsed JSON value (RFC 8259). Objects keep their members in file order: keys[i] names
 * items[i]. Strings are UTF-8 (escapes decoded; \u0000 is refused). Numbers are doubles.
 * The whole tree belongs to the root: ps_json_free(root) releases it (NULL is fine). */
#define PS_JSON_MAX_DEPTH 256
typedef enum ps_json_type {
    PS_JSON_NULL = 0, PS_JSON_BOOL, PS_JSON_NUMBER, PS_JSON_STRING, PS_JSON_ARRAY, PS_JSON_OBJECT
} ps_json_type;
typedef struct ps_json {
    ps_json_type type;
    int boolean;            /* PS_JSON_BOOL                                  */
    double number;          /* PS_JSON_NUMBER                                */
    char *string;           /* PS_JSON_STRING, NUL-terminated                */
    int64_t n;              /* PS_JSON_ARRAY / PS_JSON_OBJECT: item count    */
    struct ps_json *items;  /* [n]                                           */
    char **keys;            /* [n] member names (objects only, else NULL)    */
    int64_t line;           /* 1-based line of the value's first character   */
} ps_json;
/* Parse `len` bytes of `text` (one value, white space around it allowed, a UTF-8 BOM
 * ignored). Errors are PS_ERR_FORMAT "NAME:LINE:COL: what". */
int ps_json_parse(const char *text, size_t len, const char *name, ps_json **out);
/* As ps_json_parse; flags PS_JSON_NONFINITE also accepts the bare tokens NaN, Infinity and
 * -Infinity (numbers), as Python's json module writes them (nnU-Net's summary.json). */
#define PS_JSON_NONFINITE 1u
/* ... and PS_JSON_NUMBER_TEXT keeps each number's own text in `string` ("-1.5e3"). */
#define PS_JSON_NUMBER_TEXT 2u
int ps_json_parse_flags(const char *text, size_t len, const char *name, unsigned flags,
                        ps_json **out);
int ps_json_read(const char *path, ps_json **out);
void ps_json_free(ps_json *j);
/* The first member `key` of object `obj`; NULL when absent or `obj` is not an object. */
const ps_json *ps_json_get(const ps_json *obj, const char *key);

/* ---- PNG (png_write.c) ------------------------------------------------------------------ */
/* Encode width x height 8-bit RGB pixels (rows from the top, 3 bytes a pixel) as a PNG file
 * in memory: *out (free() it) holds *out_len bytes. Deterministic (no time chunk). */
int ps_png_encode_rgb(const uint8_t *rgb, int width, int height, unsigned char **out,
                      size_t *out_len);

#ifdef __cplusplus
}
#endif
#endif /* PS_IO_H */
