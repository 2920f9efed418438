/* ps_manifest.h - data manifests (which images, labels and predictions belong to which case)
 * and the deterministic synthetic demo data set.
 *
 * A manifest is a TSV file: a header row, then one row per case. The format is specified in
 * data-manifests/README.md; in short:
 *
 *   case              required; unique, non-empty case id
 *   subject           optional; subject / patient id (several cases may share one)
 *   modality          optional; CT, T1W, T2W or free text
 *   center            optional; acquisition center / site
 *   image             optional; path of the image
 *   image:N           optional, N = 1..7; further modalities of the image (nnU-Net's
 *                     _0001 ... files), for models with several input channels
 *   ref               optional; path of the reference label map
 *   rater:NAME        any number; a further manual label map by rater NAME
 *   rater:NAME:SESSION  the same rater, a repeated session (intra-rater agreement)
 *   pred:MODEL        any number; the prediction of model MODEL
 *   meta:KEY          any number; free per-case attributes (age, scanner...), kept as text
 *
 * Lines that start with '#' are comments, blank lines are skipped, an empty cell means "not
 * available for this case". Cells are trimmed of surrounding spaces and a trailing '\r'.
 * Relative paths are resolved against the folder that holds the manifest.
 *
 * Validation collects every problem before it fails: the error message lists all of them,
 * one per line as "FILE:LINE:COLUMN: text" (columns are 1-based cell numbers), at most
 * PS_MANIFEST_MAX_LISTED, followed by "... and N more problems".
 *
 * Ownership: a ps_manifest and everything it points to belong to it; ps_manifest_free()
 * releases it (NULL is fine). A finished manifest may be read from several threads.
 */
#ifndef PS_MANIFEST_H
#define PS_MANIFEST_H

#include <stdint.h>

#include <stdio.h>

#include "ps_core.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Images per case: `image` plus image:1 .. image:7. */
#define PS_MANIFEST_MAX_IMAGES 8

/* Problems listed in one error message before "... and N more problems". */
#define PS_MANIFEST_MAX_LISTED 20

/* Which referenced files must exist (bit mask for ps_manifest_options.check). */
enum {
    PS_MANIFEST_CHECK_NONE = 0,
    PS_MANIFEST_CHECK_IMAGES = 1 << 0,
    PS_MANIFEST_CHECK_REFS = 1 << 1,
    PS_MANIFEST_CHECK_RATERS = 1 << 2,
    PS_MANIFEST_CHECK_PREDS = 1 << 3,
    PS_MANIFEST_CHECK_ALL = 0xf,
};

typedef struct ps_manifest_options {
    int check;                  /* PS_MANIFEST_CHECK_* bits; default PS_MANIFEST_CHECK_ALL   */
    const char *const *models;  /* validate only these pred: models (NULL = all); each must
                                   be a pred: column of the manifest                       */
    int nmodels;                /* entries in `models`                                     */
} ps_manifest_options;

/* Defaults: check every referenced file, all models. */
void ps_manifest_options_init(ps_manifest_options *opt);

typedef struct ps_manifest_rater {
    char *name;     /* "A"                                                   */
    char *session;  /* "2", or NULL for a plain rater:NAME column            */
    char *column;   /* the header text, "rater:A:2"                          */
    int col;        /* 1-based column in the manifest                        */
} ps_manifest_rater;

typedef struct ps_manifest_case {
    char *id;        /* never NULL or empty                                  */
    char *subject;   /* NULL when the column is absent or the cell empty     */
    char *modality;  /* as written; NULL when absent                         */
    char *center;    /* NULL when absent                                     */
    char *image;     /* absolute path, or NULL                               */
    /* image:N columns (N = 1..PS_MANIFEST_MAX_IMAGES-1): image_more[N-1], absolute path or
     * NULL */
    char *image_more[7];
    char *ref;       /* absolute path, or NULL                               */
    char **rater;    /* [nraters] absolute paths, NULL entries = not available */
    char **pred;     /* [nmodels] absolute paths, NULL entries = not available */
    char **meta;     /* [nmeta] cell text, NULL entries = empty              */
    int64_t line;    /* 1-based line of the row in the manifest              */
} ps_manifest_case;

typedef struct ps_manifest {
    char *path;                 /* the manifest as named by the caller               */
    char *dir;                  /* absolute folder that relative paths resolve against */
    int64_t header_line;        /* 1-based line of the header row                     */
    int64_t ncases;
    ps_manifest_case *cases;    /* in file order                                      */
    int nraters;
    ps_manifest_rater *raters;  /* in column order                                    */
    int nmodels;
    char **models;              /* model names (pred:MODEL), in column order          */
    int *model_cols;            /* [nmodels] 1-based column of each pred:MODEL        */
    int nmeta;
    char **meta_keys;           /* meta:KEY names, in column order                    */
    /* 1-based column of each fixed column; 0 = the manifest has no such column */
    int col_case, col_subject, col_modality, col_center, col_image, col_ref;
    int col_image_more[7];      /* 1-based column of image:N at [N-1]; 0 = absent        */
} ps_manifest;

/* Read and validate a manifest file. `opt` may be NULL (defaults). On failure *out is NULL
 * and the message lists every problem found (see above): PS_ERR_FORMAT when the table
 * itself is wrong, PS_ERR_IO when it only names missing files or cannot be read. */
int ps_manifest_read(const char *path, const ps_manifest_options *opt, ps_manifest **out);

/* The same for text in memory. `name` is used in messages; relative paths resolve against
 * `base_dir` (NULL = the current directory). */
int ps_manifest_parse(const char *text, size_t len, const char *name, const char *base_dir,
                      const ps_manifest_options *opt, ps_manifest **out);

/* Check that the files selected by opt->check (and opt->models) exist and are regular
 * readable files; all problems in one message (PS_ERR_IO). ps_manifest_read() calls it. */
int ps_manifest_check_files(const ps_manifest *m, const ps_manifest_options *opt);

void ps_manifest_free(ps_manifest *m);

/* ---- queries ------------------------------------------------------------------------------ */
/* Index of case `id`, or -1. */
int64_t ps_manifest_find_case(const ps_manifest *m, const char *id);
/* Index of model `model` (pred:MODEL), or -1. */
int ps_manifest_model_index(const ps_manifest *m, const char *model);
/* Index of rater `name` with `session` (NULL = the column without a session), or -1. */
int ps_manifest_rater_index(const ps_manifest *m, const char *name, const char *session);
/* Absolute path of model `model`'s prediction for case i; NULL when the model is unknown,
 * i is out of range or the cell is empty. */
const char *ps_manifest_pred_path(const ps_manifest *m, int64_t i, const char *model);
/* The same for rater `name` / `session` (NULL = no session). */
const char *ps_manifest_rater_path(const ps_manifest *m, int64_t i, const char *name,
                                   const char *session);
/* Image number k of case i: k = 0 is `image`, k >= 1 the column image:k; NULL when absent
 * or empty. */
const char *ps_manifest_image_path(const ps_manifest *m, int64_t i, int k);
/* Value of meta:KEY for case i, or NULL. */
const char *ps_manifest_meta(const ps_manifest *m, int64_t i, const char *key);

/* ---- writing a manifest from a dataset folder (layouts.c) ----------------------------------- */
/* `panseval manifest`: the manifest of a dataset folder in one of the layouts below (the
 * rules, column by column, are in data-manifests/README.md, "Writing a manifest from a
 * dataset folder"). */
typedef enum ps_layout {
    PS_LAYOUT_AUTO = 0,      /* detect from the top of the folder                        */
    PS_LAYOUT_NNUNET_V1,     /* dataset.json "modality", imagesTr/CASE_XXXX.nii.gz ...    */
    PS_LAYOUT_NNUNET_V2,     /* dataset.json "channel_names", "file_ending"               */
    PS_LAYOUT_MSD,           /* Medical Segmentation Decathlon: no channel suffixes       */
    PS_LAYOUT_PANSEGDATA,    /* t1/, t2/ with imagesTr/SITE_NNNN_0000.nii.gz, labelsTr/   */
    PS_LAYOUT_MULTIRATER,    /* CASE/image.nii.gz, CASE/annotation_K.nii.gz (CURVAS)      */
} ps_layout;

/* "auto", "nnunet-v1", "nnunet-v2", "msd", "pansegdata", "multi-rater"; never NULL. */
const char *ps_layout_name(ps_layout layout);
/* The inverse; PS_ERR_ARG naming the choices for anything else. */
int ps_layout_parse(const char *s, ps_layout *out);

typedef struct ps_layout_pred {
    const char *name;   /* model name: the column pred:NAME                         */
    const char *dir;    /* folder of CASE.nii.gz predictions (PanSegData: also t1/, t2/) */
} ps_layout_pred;

typedef struct ps_layout_options {
    ps_layout layout;             /* default PS_LAYOUT_AUTO                                */
    const ps_layout_pred *preds;  /* [npreds] prediction folders, one pred: column each    */
    int npreds;
    const char *modality;         /* NULL = from the layout; else written for every case   */
    const char *center;           /* NULL = from the layout; else written for every case   */
    int ref_rater;                /* multi-rater: annotation_N becomes `ref` (default 1);
                                     0 = no ref, every annotation is a rater: column       */
    const char *base_dir;         /* paths relative to this folder (where the manifest is
                                     written); NULL = absolute paths                       */
} ps_layout_options;

void ps_layout_options_init(ps_layout_options *opt);

/* What was found: the layout used, the case count, and notes (prediction files that match
 * no case, cases without a label or prediction, skipped files), one line each. */
typedef struct ps_layout_report {
    ps_layout layout;
    int64_t ncases;
    int nnotes;
    char **notes;
} ps_layout_report;

void ps_layout_report_clear(ps_layout_report *r);

/* Write the manifest of dataset folder `dir` to `f` (TSV, comment line first). `opt` may be
 * NULL (defaults); `report` may be NULL. Errors: PS_ERR_IO for a missing folder,
 * PS_ERR_FORMAT for an unknown layout (the message lists what the folder holds) or for files
 * that do not fit the layout (all of them listed, as ps_manifest_read does), PS_ERR_ARG for
 * bad options. Nothing is written to `f` on failure (it is written last). */
int ps_manifest_from_folder(const char *dir, const ps_layout_options *opt, FILE *f,
                            ps_layout_report *report);

/* ---- synthetic demo data set (demo.c) -------------------------------------------------------- */
/* `panseval demo-data`: a deterministic multi-center pancreas-like data set with its manifest
 * (see docs/demo-data.md). Files are the same byte for byte for a given seed, whatever the
 * thread count. */
typedef struct ps_demo_summary {
    int ncases;        /* rows in the manifest                              */
    int nmodalities;   /* distinct modalities                               */
    int ncenters;      /* distinct centers                                  */
    int nfiles;        /* files written, the manifest included              */
    int64_t bytes;     /* bytes written, the manifest included              */
} ps_demo_summary;

/* Cases per modality in the demo set (CT, T1W, T2W). */
#define PS_DEMO_CASES_PER_MODALITY 8

/* Write the demo set below `out_dir` (created if needed; existing files of the same names
 * are replaced atomically): out_dir/manifest.tsv, images/, labels/, preds/. Uses ctx->seed
 * and ctx->threads. `summary` may be NULL. */
int ps_demo_generate(const ps_context *ctx, const char *out_dir, ps_demo_summary *summary);

#ifdef __cplusplus
}
#endif
#endif /* PS_MANIFEST_H */
