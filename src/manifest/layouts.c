/* layouts.c - write a data manifest from a dataset folder (`panseval manifest`).
 *
 * Layouts (the rules are in data-manifests/README.md, "Writing a manifest from a folder"):
 *   nnunet-v1   DIR/dataset.json with "modality" ({"0": "CT", ...}), DIR/imagesTr/CASE_XXXX
 *               (one file per channel XXXX = 0000, 0001, ...), DIR/labelsTr/CASE, optional
 *               DIR/imagesTs/CASE_XXXX and DIR/labelsTs/CASE; files .nii.gz.
 *   nnunet-v2   DIR/dataset.json with "channel_names", "labels" and "file_ending"; the same
 *               folders, files CASE_XXXX<file_ending>.
 *   msd         the Medical Segmentation Decathlon: dataset.json with "modality", one file
 *               per case (4D when several modalities) without a channel suffix:
 *               imagesTr/CASE.nii.gz, labelsTr/CASE.nii.gz, imagesTs/CASE.nii.gz.
 *   pansegdata  PanSegData (osf.io/kysnj, as unpacked from t1.zip / t2.zip): DIR/t1 and/or
 *               DIR/t2, each with imagesTr/SITE_NNNN_0000.nii.gz and labelsTr/SITE_NNNN.nii.gz;
 *               modality T1W / T2W from the folder, center = SITE (NYU, MCF, MCA, NWU, AHN),
 *               case id t1_SITE_NNNN / t2_SITE_NNNN (T1 and T2 ids are separate numberings,
 *               so no subject is derived).
 *   multi-rater one folder per case, DIR/CASE/image.nii.gz and DIR/CASE/annotation_K.nii.gz
 *               (K = 1, 2, ...), as CURVAS distributes its data: annotation_R (R = ref_rater,
 *               default 1) is `ref`, the others are `rater:K` columns.
 * Detection (PS_LAYOUT_AUTO) looks at the top of DIR only: dataset.json decides between the
 * first three (channel_names -> v2; modality -> v1 when the images carry _XXXX channel
 * suffixes, else msd); t1/ or t2/ with imagesTr inside -> pansegdata; sub-folders holding
 * annotation_K files -> multi-rater. Anything else is PS_ERR_FORMAT with what was found.
 *
 * Every listing is sorted bytewise, so the manifest is the same on every file system. Names
 * that start with '.' are skipped (hidden files and the AppleDouble "._NAME" files macOS
 * archives carry); the skipped AppleDouble files are counted in the notes.
 *
 * Predictions (--pred NAME=DIR): every NIfTI file of DIR is matched to the case whose id is
 * its name without the suffix (nnU-Net names predictions CASE.nii.gz); for pansegdata, the
 * files of DIR/t1 and DIR/t2 are matched by their source id (SITE_NNNN). Files that match no
 * case are listed in the notes; a case without a file gets an empty cell.
 */
#include "ps_manifest.h"

#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "ps_io.h"

/* ---- small helpers -------------------------------------------------------------------------- */
typedef struct strlist {
    char **v;
    int n, cap;
} strlist;

static int strlist_push(strlist *l, char *s) /* takes ownership of s */
{
    if (!s)
        return PS_ERR_NOMEM;
    if (l->n == l->cap) {
        int c = l->cap ? 2 * l->cap : 16;
        char **v = ps_realloc_array(l->v, (size_t)c, sizeof *v);
        if (!v) {
            free(s);
            return PS_ERR_NOMEM;
        }
        l->v = v;
        l->cap = c;
    }
    l->v[l->n++] = s;
    return PS_OK;
}

static void strlist_free(strlist *l)
{
    for (int i = 0; i < l->n; i++)
        free(l->v[i]);
    free(l->v);
    l->v = NULL;
    l->n = l->cap = 0;
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static int is_dir(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0 && S_ISDIR(st.st_mode);
}

static int is_file(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0 && S_ISREG(st.st_mode);
}

static char *join(const char *a, const char *b)
{
    if (!a || !*a)
        return ps_strdup(b);
    size_t la = strlen(a);
    return ps_asprintf("%s%s%s", a, a[la - 1] == '/' ? "" : "/", b);
}

/* Entries of `dir`, sorted; names starting with '.' are left out and the AppleDouble ones
 * ("._*") counted in *appledouble. want: 1 = regular files, 2 = folders, 3 = both. */
static int list_dir(const char *dir, int want, strlist *out, int *appledouble)
{
    DIR *d = opendir(dir);
    if (!d)
        return ps_error(PS_ERR_IO, "cannot list %s: %s", dir, strerror(errno));
    int rc = PS_OK;
    struct dirent *e;
    while ((e = readdir(d))) {
        if (e->d_name[0] == '.') {
            if (e->d_name[1] == '_' && appledouble)
                (*appledouble)++;
            continue;
        }
        char *full = join(dir, e->d_name);
        if (!full) {
            rc = PS_ERR_NOMEM;
            break;
        }
        int keep = ((want & 1) && is_file(full)) || ((want & 2) && is_dir(full));
        free(full);
        if (keep && (rc = strlist_push(out, ps_strdup(e->d_name))))
            break;
    }
    closedir(d);
    if (!rc && out->n > 1)
        qsort(out->v, (size_t)out->n, sizeof *out->v, cmp_str);
    return rc;
}

/* The stem of `name` when it ends in `ending` (e.g. ".nii.gz"), else NULL. */
static char *strip_ending(const char *name, const char *ending)
{
    size_t ln = strlen(name), le = strlen(ending);
    if (ln <= le || strcmp(name + ln - le, ending))
        return NULL;
    return ps_strndup(name, ln - le);
}

/* NIfTI stem: NAME.nii.gz or NAME.nii, else NULL. */
static char *nifti_stem(const char *name)
{
    char *s = strip_ending(name, ".nii.gz");
    return s ? s : strip_ending(name, ".nii");
}

/* Channel suffix "_XXXX" (four digits) at the end of `stem`: returns the channel, -1 if none. */
static int channel_suffix(const char *stem)
{
    size_t n = strlen(stem);
    if (n < 6 || stem[n - 5] != '_')
        return -1;
    int ch = 0;
    for (size_t i = n - 4; i < n; i++) {
        if (stem[i] < '0' || stem[i] > '9')
            return -1;
        ch = ch * 10 + (stem[i] - '0');
    }
    return ch;
}

/* Text that a manifest cell cannot hold (a tab or a line break), or leading/trailing spaces
 * (the reader trims them). */
static int bad_cell_text(const char *s)
{
    size_t n = strlen(s);
    return strpbrk(s, "\t\n\r") != NULL || (n && (s[0] == ' ' || s[n - 1] == ' '));
}

/* Relative path from folder `from` to folder `to` (both absolute, canonical, no trailing
 * '/'): "" when equal, else "a/b" or "../../c". */
static char *relpath(const char *from, const char *to)
{
    size_t i = 0, common = 0;
    if (!strcmp(from, "/"))
        return ps_strdup(to + 1);
    while (from[i] && from[i] == to[i]) {
        if (from[i] == '/')
            common = i;
        i++;
    }
    if (!from[i] && (!to[i] || to[i] == '/'))
        common = i; /* `to` is `from` or below it */
    else if (!to[i] && from[i] == '/')
        common = i; /* `from` is below `to` */
    size_t ups = 0;
    for (const char *p = from + common; *p; p++)
        if (*p == '/')
            ups++;
    const char *rest = to + common;
    if (*rest == '/')
        rest++;
    size_t len = ups * 3 + strlen(rest) + 1;
    char *out = ps_malloc(len);
    if (!out)
        return NULL;
    out[0] = '\0';
    for (size_t k = 0; k < ups; k++)
        strcat(out, "../");
    strcat(out, rest);
    size_t n = strlen(out);
    if (n && out[n - 1] == '/')
        out[n - 1] = '\0';
    return out;
}

/* How a folder is named in the manifest: relative to base_dir, or absolute. */
static int folder_prefix(const char *dir, const char *base_dir, char **out)
{
    char real[PATH_MAX], base[PATH_MAX];
    *out = NULL;
    if (!realpath(dir, real))
        return ps_error(PS_ERR_IO, "%s: %s", dir, strerror(errno));
    if (!base_dir) {
        *out = ps_strdup(real);
        return *out ? PS_OK : PS_ERR_NOMEM;
    }
    if (!realpath(base_dir, base))
        return ps_error(PS_ERR_IO, "%s: %s", base_dir, strerror(errno));
    *out = relpath(base, real);
    return *out ? PS_OK : PS_ERR_NOMEM;
}

static const char *access_error_text(const char *path)
{
    struct stat st;
    if (stat(path, &st) != 0)
        return errno == ENOENT ? "no such folder" : strerror(errno);
    return S_ISDIR(st.st_mode) ? "cannot be read" : "not a folder";
}

/* ---- the rows being built ------------------------------------------------------------------- */
typedef struct lrow {
    char *id;        /* case id                                                   */
    char *key;       /* pansegdata: source id SITE_NNNN (pred matching), else NULL */
    int group;       /* pansegdata: 0 = t1, 1 = t2                                */
    const char *modality, *split; /* static or owned by the builder               */
    char *center;
    char **image;    /* [nch], paths relative to the dataset folder; NULL = none  */
    char *ref;
    char **rater;    /* [nraters]                                                 */
    char **pred;     /* [npreds] file names inside the prediction folder          */
} lrow;

typedef struct builder {
    const char *dir;            /* dataset folder as given                      */
    const ps_layout_options *opt;
    ps_layout layout;
    int nch;                    /* image channels (image, image:1, ...)         */
    char *modality;             /* from dataset.json, or NULL                  */
    int has_split;              /* write meta:split                            */
    int nraters;
    int *rater_ids;             /* [nraters] annotation numbers (rater:K)      */
    lrow *rows;
    int64_t nrows, cap;
    strlist problems;           /* fatal, listed together                       */
    strlist notes;              /* for the report                               */
    int appledouble;
} builder;

static void row_free(const builder *b, lrow *r)
{
    free(r->id);
    free(r->key);
    free(r->center);
    for (int c = 0; r->image && c < b->nch; c++)
        free(r->image[c]);
    free(r->image);
    free(r->ref);
    for (int k = 0; r->rater && k < b->nraters; k++)
        free(r->rater[k]);
    free(r->rater);
    for (int k = 0; r->pred && k < b->opt->npreds; k++)
        free(r->pred[k]);
    free(r->pred);
}

static int add_row(builder *b, const char *id, lrow **out)
{
    if (b->nrows == b->cap) {
        int64_t c = b->cap ? 2 * b->cap : 64;
        lrow *v = ps_realloc_array(b->rows, (size_t)c, sizeof *v);
        if (!v)
            return PS_ERR_NOMEM;
        b->rows = v;
        b->cap = c;
    }
    lrow *r = &b->rows[b->nrows];
    memset(r, 0, sizeof *r);
    r->id = ps_strdup(id);
    r->image = ps_calloc((size_t)(b->nch > 0 ? b->nch : 1), sizeof *r->image);
    if (!r->id || !r->image) {
        free(r->id);
        free(r->image);
        return PS_ERR_NOMEM;
    }
    b->nrows++;
    *out = r;
    return PS_OK;
}

static lrow *find_row(builder *b, const char *id)
{
    for (int64_t i = 0; i < b->nrows; i++)
        if (!strcmp(b->rows[i].id, id))
            return &b->rows[i];
    return NULL;
}

static int problem(builder *b, const char *fmt, const char *a, const char *c)
{
    return strlist_push(&b->problems, ps_asprintf(fmt, a, c));
}

static int note(builder *b, char *text)
{
    return strlist_push(&b->notes, text);
}

/* ---- dataset.json --------------------------------------------------------------------------- */
/* Channel names of an object {"0": "CT", "1": "T2"}: their count, and the names joined with
 * '+' in channel order. */
static int channel_names(builder *b, const ps_json *obj, const char *what, const char *path)
{
    if (!obj || obj->type != PS_JSON_OBJECT || obj->n == 0)
        return ps_error(PS_ERR_FORMAT, "%s: \"%s\" must be a non-empty object like "
                        "{\"0\": \"CT\"}", path, what);
    if (obj->n > 1000)
        return ps_error(PS_ERR_FORMAT, "%s: \"%s\" has %lld channels", path, what,
                        (long long)obj->n);
    int n = (int)obj->n;
    const char **names = ps_calloc((size_t)n, sizeof *names);
    if (!names)
        return PS_ERR_NOMEM;
    int rc = PS_OK;
    for (int i = 0; i < n && !rc; i++) {
        char *end;
        long k = strtol(obj->keys[i], &end, 10);
        if (*end || end == obj->keys[i] || k < 0 || k >= n || names[k])
            rc = ps_error(PS_ERR_FORMAT, "%s: \"%s\": channel keys must be \"0\" .. \"%d\", "
                          "each once (found \"%s\")", path, what, n - 1, obj->keys[i]);
        else if (obj->items[i].type != PS_JSON_STRING || !*obj->items[i].string ||
                 bad_cell_text(obj->items[i].string))
            rc = ps_error(PS_ERR_FORMAT, "%s: \"%s\": channel \"%s\" must be a name (text "
                          "without tabs or line breaks)", path, what, obj->keys[i]);
        else
            names[k] = obj->items[i].string;
    }
    if (!rc) {
        size_t len = 1;
        for (int i = 0; i < n; i++)
            len += strlen(names[i]) + 1;
        b->modality = ps_malloc(len);
        if (!b->modality) {
            rc = PS_ERR_NOMEM;
        } else {
            b->modality[0] = '\0';
            for (int i = 0; i < n; i++) {
                if (i)
                    strcat(b->modality, "+");
                strcat(b->modality, names[i]);
            }
            b->nch = n;
        }
    }
    free(names);
    return rc;
}

/* ---- nnU-Net v1 / v2 and MSD ---------------------------------------------------------------- */
/* One images folder (imagesTr or imagesTs): rows for its cases. split: "train" / "test". */
static int scan_images(builder *b, const char *sub, const char *ending, int suffixed,
                       const char *split)
{
    char *dir = join(b->dir, sub);
    if (!dir)
        return PS_ERR_NOMEM;
    strlist files = {0};
    int rc = is_dir(dir) ? list_dir(dir, 1, &files, &b->appledouble) : PS_OK;
    for (int i = 0; !rc && i < files.n; i++) {
        char *stem = strip_ending(files.v[i], ending);
        if (!stem) {
            rc = note(b, ps_asprintf("%s/%s: not a '%s' file, ignored", sub, files.v[i],
                                     ending));
            continue;
        }
        int ch = 0;
        if (suffixed) {
            ch = channel_suffix(stem);
            if (ch < 0) {
                rc = strlist_push(&b->problems,
                                  ps_asprintf("%s/%s: no channel suffix _XXXX (nnU-Net names "
                                              "the images CASE_0000%s, CASE_0001%s, ...)",
                                              sub, files.v[i], ending, ending));
                free(stem);
                continue;
            }
            stem[strlen(stem) - 5] = '\0';
            if (ch >= b->nch) {
                char *msg = ps_asprintf("%s/%s: channel %d, but dataset.json names %d "
                                        "channel%s", sub, files.v[i], ch, b->nch,
                                        b->nch == 1 ? "" : "s");
                rc = strlist_push(&b->problems, msg);
                free(stem);
                continue;
            }
        }
        if (!*stem || bad_cell_text(stem)) {
            rc = problem(b, "%s/%s: the case id is empty or holds a tab, a line break or "
                         "surrounding spaces", sub, files.v[i]);
            free(stem);
            continue;
        }
        lrow *r = find_row(b, stem);
        if (r && r->split != split) {
            rc = problem(b, "case '%s' is in imagesTr and in imagesTs%s", stem, "");
            free(stem);
            continue;
        }
        if (!r && (rc = add_row(b, stem, &r))) {
            free(stem);
            break;
        }
        r->split = split;
        free(stem);
        r->image[ch] = ps_asprintf("%s/%s", sub, files.v[i]);
        if (!r->image[ch])
            rc = PS_ERR_NOMEM;
    }
    strlist_free(&files);
    free(dir);
    return rc;
}

/* The labels folder (labelsTr / labelsTs) of `split`: the ref of each case. */
static int scan_labels(builder *b, const char *sub, const char *ending, const char *split)
{
    char *dir = join(b->dir, sub);
    if (!dir)
        return PS_ERR_NOMEM;
    strlist files = {0};
    int rc = is_dir(dir) ? list_dir(dir, 1, &files, &b->appledouble) : PS_OK;
    for (int i = 0; !rc && i < files.n; i++) {
        char *stem = strip_ending(files.v[i], ending);
        if (!stem) {
            rc = note(b, ps_asprintf("%s/%s: not a '%s' file, ignored", sub, files.v[i],
                                     ending));
            continue;
        }
        lrow *r = find_row(b, stem);
        if (!r || r->split != split) {
            rc = note(b, ps_asprintf("%s/%s: label without an image, ignored", sub,
                                     files.v[i]));
        } else {
            r->ref = ps_asprintf("%s/%s", sub, files.v[i]);
            if (!r->ref)
                rc = PS_ERR_NOMEM;
        }
        free(stem);
    }
    strlist_free(&files);
    free(dir);
    return rc;
}

static int check_channels(builder *b)
{
    int rc = PS_OK;
    for (int64_t i = 0; !rc && i < b->nrows; i++)
        for (int c = 0; !rc && c < b->nch; c++)
            if (!b->rows[i].image[c]) {
                char *msg = ps_asprintf("case '%s' (%s): channel %04d is missing",
                                        b->rows[i].id, b->rows[i].split, c);
                rc = strlist_push(&b->problems, msg);
            }
    return rc;
}

static int scan_nnunet(builder *b, const ps_json *js, const char *json_path)
{
    int rc;
    const char *ending = ".nii.gz";
    int suffixed = b->layout != PS_LAYOUT_MSD;
    if (b->layout == PS_LAYOUT_NNUNET_V2) {
        if ((rc = channel_names(b, ps_json_get(js, "channel_names"), "channel_names",
                                json_path)))
            return rc;
        const ps_json *fe = ps_json_get(js, "file_ending");
        if (!fe || fe->type != PS_JSON_STRING)
            return ps_error(PS_ERR_FORMAT, "%s: no \"file_ending\" (nnU-Net v2 needs it, "
                            "e.g. \".nii.gz\")", json_path);
        if (strcmp(fe->string, ".nii.gz") && strcmp(fe->string, ".nii"))
            return ps_error(PS_ERR_UNSUPPORTED, "%s: file_ending \"%s\": panseval reads "
                            "NIfTI only (.nii, .nii.gz)", json_path, fe->string);
        ending = fe->string;
        if (ps_json_get(js, "dataset"))
            return ps_error(PS_ERR_UNSUPPORTED, "%s: an explicit \"dataset\" file list is "
                            "not supported; use the imagesTr / labelsTr folders", json_path);
    } else {
        if ((rc = channel_names(b, ps_json_get(js, "modality"), "modality", json_path)))
            return rc;
        if (b->layout == PS_LAYOUT_MSD)
            b->nch = 1; /* one (4D) file per case */
    }
    b->has_split = 1;
    if ((rc = scan_images(b, "imagesTr", ending, suffixed, "train")) ||
        (rc = scan_images(b, "imagesTs", ending, suffixed, "test")) ||
        (rc = scan_labels(b, "labelsTr", ending, "train")) ||
        (rc = scan_labels(b, "labelsTs", ending, "test")) || (rc = check_channels(b)))
        return rc;
    for (int64_t i = 0; !rc && i < b->nrows; i++) {
        b->rows[i].modality = b->modality;
        if (!b->rows[i].ref && !strcmp(b->rows[i].split, "train"))
            rc = note(b, ps_asprintf("case '%s': no label in labelsTr", b->rows[i].id));
    }
    return rc;
}

/* ---- PanSegData ----------------------------------------------------------------------------- */
static const char *const PANSEG_FOLDERS[2] = {"t1", "t2"};
static const char *const PANSEG_MODALITY[2] = {"T1W", "T2W"};
static const char *const PANSEG_SITES[5] = {"NYU", "MCF", "MCA", "NWU", "AHN"};

static int scan_pansegdata(builder *b)
{
    int rc = PS_OK;
    b->nch = 1;
    for (int g = 0; g < 2 && !rc; g++) {
        char *top = join(b->dir, PANSEG_FOLDERS[g]);
        if (!top)
            return PS_ERR_NOMEM;
        if (!is_dir(top)) {
            free(top);
            continue;
        }
        char *sub_img = ps_asprintf("%s/imagesTr", PANSEG_FOLDERS[g]);
        char *sub_lab = ps_asprintf("%s/labelsTr", PANSEG_FOLDERS[g]);
        char *dimg = join(b->dir, sub_img ? sub_img : "");
        char *dlab = join(b->dir, sub_lab ? sub_lab : "");
        strlist files = {0}, labels = {0};
        if (!sub_img || !sub_lab || !dimg || !dlab)
            rc = PS_ERR_NOMEM;
        else if (!is_dir(dimg))
            rc = problem(b, "%s: no imagesTr folder%s", top, "");
        if (!rc && is_dir(dimg))
            rc = list_dir(dimg, 1, &files, &b->appledouble);
        if (!rc && is_dir(dlab))
            rc = list_dir(dlab, 1, &labels, &b->appledouble);
        int64_t first = b->nrows;
        for (int i = 0; !rc && i < files.n; i++) {
            char *stem = nifti_stem(files.v[i]);
            if (!stem) {
                rc = note(b, ps_asprintf("%s/%s: not a NIfTI file, ignored", sub_img,
                                         files.v[i]));
                continue;
            }
            if (channel_suffix(stem) != 0) {
                rc = problem(b, "%s/%s: expected SITE_NNNN_0000.nii.gz (PanSegData's "
                             "image names)", sub_img, files.v[i]);
                free(stem);
                continue;
            }
            stem[strlen(stem) - 5] = '\0';
            const char *us = strchr(stem, '_');
            if (!us || us == stem || bad_cell_text(stem)) {
                rc = problem(b, "%s/%s: expected SITE_NNNN_0000.nii.gz (PanSegData's "
                             "image names)", sub_img, files.v[i]);
                free(stem);
                continue;
            }
            char *id = ps_asprintf("%s_%s", PANSEG_FOLDERS[g], stem);
            lrow *r = NULL;
            if (!id || (rc = add_row(b, id, &r))) {
                free(id);
                free(stem);
                rc = rc ? rc : PS_ERR_NOMEM;
                break;
            }
            free(id);
            r->key = stem;
            r->group = g;
            r->modality = PANSEG_MODALITY[g];
            r->center = ps_strndup(stem, (size_t)(us - stem));
            r->image[0] = ps_asprintf("%s/%s", sub_img, files.v[i]);
            if (!r->center || !r->image[0]) {
                rc = PS_ERR_NOMEM;
                break;
            }
            int known = 0;
            for (int s = 0; s < 5; s++)
                known |= !strcmp(r->center, PANSEG_SITES[s]);
            if (!known)
                rc = note(b, ps_asprintf("%s/%s: site prefix '%s' is not one of PanSegData's "
                                         "NYU, MCF, MCA, NWU, AHN (kept as the center)",
                                         sub_img, files.v[i], r->center));
        }
        for (int i = 0; !rc && i < labels.n; i++) {
            char *stem = nifti_stem(labels.v[i]);
            lrow *r = NULL;
            for (int64_t k = first; stem && k < b->nrows; k++)
                if (!strcmp(b->rows[k].key, stem))
                    r = &b->rows[k];
            if (!r) {
                rc = note(b, ps_asprintf("%s/%s: label without an image, ignored", sub_lab,
                                         labels.v[i]));
            } else {
                r->ref = ps_asprintf("%s/%s", sub_lab, labels.v[i]);
                rc = r->ref ? PS_OK : PS_ERR_NOMEM;
            }
            free(stem);
        }
        for (int64_t k = first; !rc && k < b->nrows; k++)
            if (!b->rows[k].ref)
                rc = note(b, ps_asprintf("case '%s': no label in %s", b->rows[k].id, sub_lab));
        strlist_free(&files);
        strlist_free(&labels);
        free(sub_img);
        free(sub_lab);
        free(dimg);
        free(dlab);
        free(top);
    }
    return rc;
}

/* ---- multi-rater (CURVAS) ------------------------------------------------------------------- */
/* annotation_K.nii(.gz) -> K (>= 1), else 0. */
static int annotation_number(const char *name)
{
    if (strncmp(name, "annotation_", 11))
        return 0;
    char *stem = nifti_stem(name + 11);
    if (!stem)
        return 0;
    char *end;
    long k = strtol(stem, &end, 10);
    int ok = *stem >= '1' && *stem <= '9' && !*end && k >= 1 && k <= 9999;
    free(stem);
    return ok ? (int)k : 0;
}

static int cmp_int(const void *a, const void *b)
{
    int x = *(const int *)a, y = *(const int *)b;
    return (x > y) - (x < y);
}

static int scan_multirater(builder *b, const strlist *dirs)
{
    int rc = PS_OK;
    b->nch = 1;
    /* pass 1: the annotation numbers present anywhere */
    int cap = 0;
    int *ids = NULL, nids = 0;
    for (int i = 0; !rc && i < dirs->n; i++) {
        char *d = join(b->dir, dirs->v[i]);
        strlist files = {0};
        rc = d ? list_dir(d, 1, &files, &b->appledouble) : PS_ERR_NOMEM;
        for (int f = 0; !rc && f < files.n; f++) {
            int k = annotation_number(files.v[f]);
            int seen = 0;
            for (int j = 0; j < nids; j++)
                seen |= ids[j] == k;
            if (k && !seen) {
                if (nids == cap) {
                    cap = cap ? 2 * cap : 8;
                    int *v = ps_realloc_array(ids, (size_t)cap, sizeof *v);
                    if (!v) {
                        rc = PS_ERR_NOMEM;
                        break;
                    }
                    ids = v;
                }
                ids[nids++] = k;
            }
        }
        strlist_free(&files);
        free(d);
    }
    if (rc) {
        free(ids);
        return rc;
    }
    qsort(ids, (size_t)nids, sizeof *ids, cmp_int);
    int ref = b->opt->ref_rater, has_ref = 0;
    for (int j = 0; j < nids; j++)
        has_ref |= ids[j] == ref;
    if (ref > 0 && !has_ref) {
        free(ids);
        return ps_error(PS_ERR_FORMAT, "%s: no annotation_%d file in any case folder (use "
                        "--ref-rater to choose another, or none)", b->dir, ref);
    }
    b->rater_ids = ps_malloc_array((size_t)(nids > 0 ? nids : 1), sizeof *b->rater_ids);
    if (!b->rater_ids) {
        free(ids);
        return PS_ERR_NOMEM;
    }
    for (int j = 0; j < nids; j++)
        if (ids[j] != ref)
            b->rater_ids[b->nraters++] = ids[j];
    free(ids);
    /* pass 2: one row per case folder that holds annotations */
    for (int i = 0; !rc && i < dirs->n; i++) {
        char *d = join(b->dir, dirs->v[i]);
        strlist files = {0};
        rc = d ? list_dir(d, 1, &files, &b->appledouble) : PS_ERR_NOMEM;
        int nann = 0;
        for (int f = 0; !rc && f < files.n; f++)
            nann += annotation_number(files.v[f]) > 0;
        if (!rc && !nann)
            rc = note(b, ps_asprintf("%s/: no annotation_K files, not a case", dirs->v[i]));
        lrow *r = NULL;
        if (!rc && nann) {
            if (bad_cell_text(dirs->v[i]))
                rc = problem(b, "%s/: the folder name cannot be a case id (tab, line break "
                             "or surrounding spaces)%s", dirs->v[i], "");
            else if (!(rc = add_row(b, dirs->v[i], &r))) {
                r->rater = ps_calloc((size_t)(b->nraters > 0 ? b->nraters : 1),
                                     sizeof *r->rater);
                if (!r->rater)
                    rc = PS_ERR_NOMEM;
            }
        }
        for (int f = 0; !rc && r && f < files.n; f++) {
            char *path = ps_asprintf("%s/%s", dirs->v[i], files.v[f]);
            char **slot = NULL;
            int k = annotation_number(files.v[f]);
            if (!path) {
                rc = PS_ERR_NOMEM;
                break;
            }
            if (!strcmp(files.v[f], "image.nii.gz") || !strcmp(files.v[f], "image.nii"))
                slot = &r->image[0];
            else if (k && k == ref)
                slot = &r->ref;
            else
                for (int j = 0; k && j < b->nraters; j++)
                    if (b->rater_ids[j] == k)
                        slot = &r->rater[j];
            if (slot && *slot) {
                rc = problem(b, "%s: two files for the same column (%s)", path, *slot);
                free(path);
            } else if (slot) {
                *slot = path;
            } else {
                free(path);
            }
        }
        if (!rc && r && !r->image[0])
            rc = note(b, ps_asprintf("case '%s': no image.nii.gz", r->id));
        if (!rc && r && b->opt->modality)
            r->modality = b->opt->modality;
        strlist_free(&files);
        free(d);
    }
    return rc;
}

/* ---- detection ------------------------------------------------------------------------------ */
static int has_channel_suffixes(const char *dir, const char *ending)
{
    char *d = join(dir, "imagesTr");
    strlist files = {0};
    int found = 0;
    if (d && is_dir(d) && !list_dir(d, 1, &files, NULL))
        for (int i = 0; i < files.n && !found; i++) {
            char *stem = strip_ending(files.v[i], ending);
            found = stem && channel_suffix(stem) >= 0;
            free(stem);
        }
    strlist_free(&files);
    free(d);
    return found;
}

/* "found: a, b/, c ..." for the unknown-layout error. */
static char *describe_top(const char *dir)
{
    strlist all = {0};
    if (list_dir(dir, 3, &all, NULL))
        return ps_strdup("(cannot list it)");
    size_t len = 64;
    for (int i = 0; i < all.n && i < 12; i++)
        len += strlen(all.v[i]) + 3;
    char *s = ps_malloc(len);
    if (s) {
        s[0] = '\0';
        if (!all.n)
            strcat(s, "nothing (the folder is empty)");
        for (int i = 0; i < all.n && i < 12; i++) {
            char *full = join(dir, all.v[i]);
            if (i)
                strcat(s, ", ");
            strcat(s, all.v[i]);
            if (full && is_dir(full))
                strcat(s, "/");
            free(full);
        }
        if (all.n > 12)
            sprintf(s + strlen(s), " and %d more", all.n - 12);
    }
    strlist_free(&all);
    return s;
}

static int detect(builder *b, const ps_json *js, const strlist *subdirs, const char *json_path)
{
    (void)json_path;
    if (js) {
        if (ps_json_get(js, "channel_names"))
            b->layout = PS_LAYOUT_NNUNET_V2;
        else if (ps_json_get(js, "modality"))
            b->layout = has_channel_suffixes(b->dir, ".nii.gz") ? PS_LAYOUT_NNUNET_V1
                                                                 : PS_LAYOUT_MSD;
        else
            return ps_error(PS_ERR_FORMAT, "%s: neither \"channel_names\" (nnU-Net v2) nor "
                            "\"modality\" (nnU-Net v1, Medical Segmentation Decathlon)",
                            json_path);
        return PS_OK;
    }
    for (int g = 0; g < 2; g++) {
        char *d = ps_asprintf("%s/%s/imagesTr", b->dir, PANSEG_FOLDERS[g]);
        int yes = d && is_dir(d);
        free(d);
        if (yes) {
            b->layout = PS_LAYOUT_PANSEGDATA;
            return PS_OK;
        }
    }
    for (int i = 0; i < subdirs->n; i++) {
        char *d = join(b->dir, subdirs->v[i]);
        strlist files = {0};
        int yes = 0;
        if (d && !list_dir(d, 1, &files, NULL))
            for (int f = 0; f < files.n && !yes; f++)
                yes = annotation_number(files.v[f]) > 0;
        strlist_free(&files);
        free(d);
        if (yes) {
            b->layout = PS_LAYOUT_MULTIRATER;
            return PS_OK;
        }
    }
    char *found = describe_top(b->dir);
    int rc = ps_error(PS_ERR_FORMAT,
                      "%s: unknown dataset layout; found: %s. Expected one of: dataset.json "
                      "with imagesTr/ and labelsTr/ (nnU-Net v1 or v2, Medical Segmentation "
                      "Decathlon); t1/ and/or t2/ with imagesTr/ (PanSegData); one folder per "
                      "case with annotation_1.nii.gz, annotation_2.nii.gz, ... (multi-rater, "
                      "CURVAS)", b->dir, found ? found : "?");
    free(found);
    return rc;
}

/* ---- predictions ---------------------------------------------------------------------------- */
static int match_preds(builder *b)
{
    const ps_layout_options *opt = b->opt;
    int rc = PS_OK;
    for (int64_t i = 0; i < b->nrows; i++) {
        b->rows[i].pred = ps_calloc((size_t)(opt->npreds > 0 ? opt->npreds : 1),
                                    sizeof *b->rows[i].pred);
        if (!b->rows[i].pred)
            return PS_ERR_NOMEM;
    }
    for (int p = 0; !rc && p < opt->npreds; p++) {
        const char *name = opt->preds[p].name, *dir = opt->preds[p].dir;
        /* folders to look in: DIR itself, and DIR/t1, DIR/t2 for PanSegData */
        for (int g = -1; !rc && g < (b->layout == PS_LAYOUT_PANSEGDATA ? 2 : 0); g++) {
            char *d = g < 0 ? ps_strdup(dir) : join(dir, PANSEG_FOLDERS[g]);
            strlist files = {0};
            if (!d)
                return PS_ERR_NOMEM;
            if (g >= 0 && !is_dir(d)) {
                free(d);
                continue;
            }
            rc = list_dir(d, 1, &files, &b->appledouble);
            int64_t unmatched = 0;
            for (int f = 0; !rc && f < files.n; f++) {
                char *stem = nifti_stem(files.v[f]);
                if (!stem)
                    continue; /* nnU-Net also writes plans.pkl, summary.json ... there */
                lrow *r = NULL;
                for (int64_t k = 0; k < b->nrows && !r; k++) {
                    const lrow *c = &b->rows[k];
                    if (g < 0 ? !strcmp(c->id, stem)
                              : (c->key && c->group == g && !strcmp(c->key, stem)))
                        r = &b->rows[k];
                }
                char *rel = g < 0 ? ps_strdup(files.v[f])
                                  : ps_asprintf("%s/%s", PANSEG_FOLDERS[g], files.v[f]);
                if (!rel) {
                    free(stem);
                    rc = PS_ERR_NOMEM;
                    break;
                }
                if (!r) {
                    unmatched++;
                    rc = note(b, ps_asprintf("pred:%s: %s/%s matches no case", name, dir,
                                             rel));
                    free(rel);
                } else if (r->pred[p]) {
                    char *msg = ps_asprintf("pred:%s: two predictions for case '%s': %s and "
                                            "%s", name, r->id, r->pred[p], rel);
                    rc = strlist_push(&b->problems, msg);
                    free(rel);
                } else {
                    r->pred[p] = rel;
                }
                free(stem);
            }
            strlist_free(&files);
            free(d);
        }
        int64_t missing = 0;
        for (int64_t k = 0; k < b->nrows; k++)
            missing += !b->rows[k].pred[p];
        if (!rc && missing)
            rc = note(b, ps_asprintf("pred:%s: no prediction for %lld of %lld cases", name,
                                     (long long)missing, (long long)b->nrows));
    }
    return rc;
}

/* ---- writing -------------------------------------------------------------------------------- */
static int put_path(FILE *f, const char *prefix, const char *rel)
{
    if (!rel)
        return 0;
    if (*prefix)
        return fprintf(f, "%s/%s", prefix, rel) < 0;
    return fputs(rel, f) < 0;
}

static int write_manifest(builder *b, FILE *f, const char *data_prefix, char **pred_prefix)
{
    const ps_layout_options *opt = b->opt;
    int any_center = opt->center != NULL, any_modality = opt->modality != NULL;
    int any_ref = 0;
    for (int64_t i = 0; i < b->nrows; i++) {
        any_center |= b->rows[i].center != NULL;
        any_modality |= b->rows[i].modality != NULL;
        any_ref |= b->rows[i].ref != NULL;
    }
    int bad = 0;
    bad |= fprintf(f, "# written by panseval manifest from %s (layout %s)\n", b->dir,
                   ps_layout_name(b->layout)) < 0;
    bad |= fputs("case", f) < 0;
    if (any_modality)
        bad |= fputs("\tmodality", f) < 0;
    if (any_center)
        bad |= fputs("\tcenter", f) < 0;
    bad |= fputs("\timage", f) < 0;
    for (int c = 1; c < b->nch; c++)
        bad |= fprintf(f, "\timage:%d", c) < 0;
    if (any_ref)
        bad |= fputs("\tref", f) < 0;
    for (int k = 0; k < b->nraters; k++)
        bad |= fprintf(f, "\trater:%d", b->rater_ids[k]) < 0;
    for (int p = 0; p < opt->npreds; p++)
        bad |= fprintf(f, "\tpred:%s", opt->preds[p].name) < 0;
    if (b->has_split)
        bad |= fputs("\tmeta:split", f) < 0;
    bad |= fputc('\n', f) == EOF;
    for (int64_t i = 0; i < b->nrows && !bad; i++) {
        const lrow *r = &b->rows[i];
        bad |= fputs(r->id, f) < 0;
        if (any_modality) {
            const char *m = opt->modality ? opt->modality : r->modality;
            bad |= fprintf(f, "\t%s", m ? m : "") < 0;
        }
        if (any_center) {
            const char *c = opt->center ? opt->center : r->center;
            bad |= fprintf(f, "\t%s", c ? c : "") < 0;
        }
        for (int c = 0; c < b->nch; c++) {
            bad |= fputc('\t', f) == EOF;
            bad |= put_path(f, data_prefix, r->image[c]);
        }
        if (any_ref) {
            bad |= fputc('\t', f) == EOF;
            bad |= put_path(f, data_prefix, r->ref);
        }
        for (int k = 0; k < b->nraters; k++) {
            bad |= fputc('\t', f) == EOF;
            bad |= put_path(f, data_prefix, r->rater[k]);
        }
        for (int p = 0; p < opt->npreds; p++) {
            bad |= fputc('\t', f) == EOF;
            bad |= put_path(f, pred_prefix[p], r->pred[p]);
        }
        if (b->has_split)
            bad |= fprintf(f, "\t%s", r->split) < 0;
        bad |= fputc('\n', f) == EOF;
    }
    if (bad || ferror(f))
        return ps_error(PS_ERR_IO, "writing the manifest failed: %s", strerror(errno));
    return PS_OK;
}

/* ---- public --------------------------------------------------------------------------------- */
static const char *const LAYOUT_NAMES[] = {"auto", "nnunet-v1", "nnunet-v2", "msd",
                                           "pansegdata", "multi-rater"};

const char *ps_layout_name(ps_layout layout)
{
    if ((int)layout < 0 || (size_t)layout >= sizeof LAYOUT_NAMES / sizeof LAYOUT_NAMES[0])
        return "?";
    return LAYOUT_NAMES[layout];
}

int ps_layout_parse(const char *s, ps_layout *out)
{
    for (size_t i = 0; i < sizeof LAYOUT_NAMES / sizeof LAYOUT_NAMES[0]; i++)
        if (!strcmp(s, LAYOUT_NAMES[i])) {
            *out = (ps_layout)i;
            return PS_OK;
        }
    return ps_error(PS_ERR_ARG, "unknown layout '%s' (auto, nnunet-v1, nnunet-v2, msd, "
                    "pansegdata, multi-rater)", s);
}

void ps_layout_options_init(ps_layout_options *opt)
{
    memset(opt, 0, sizeof *opt);
    opt->layout = PS_LAYOUT_AUTO;
    opt->ref_rater = 1;
}

void ps_layout_report_clear(ps_layout_report *r)
{
    if (!r)
        return;
    for (int i = 0; i < r->nnotes; i++)
        free(r->notes[i]);
    free(r->notes);
    memset(r, 0, sizeof *r);
}

static int check_options(const char *dir, const ps_layout_options *opt)
{
    if (!is_dir(dir))
        return ps_error(PS_ERR_IO, "%s: %s", dir, access_error_text(dir));
    for (int p = 0; p < opt->npreds; p++) {
        const char *n = opt->preds[p].name;
        if (!n || !*n || strpbrk(n, "\t\n\r") || n[0] == ' ' || n[strlen(n) - 1] == ' ')
            return ps_error(PS_ERR_ARG, "prediction name '%s': a model name is non-empty "
                            "text without tabs, line breaks or surrounding spaces",
                            n ? n : "");
        for (int q = 0; q < p; q++)
            if (!strcmp(opt->preds[q].name, n))
                return ps_error(PS_ERR_ARG, "prediction name '%s' given twice", n);
        if (!opt->preds[p].dir || !is_dir(opt->preds[p].dir))
            return ps_error(PS_ERR_IO, "pred:%s: %s: no such folder", n,
                            opt->preds[p].dir ? opt->preds[p].dir : "");
    }
    if ((opt->modality && bad_cell_text(opt->modality)) ||
        (opt->center && bad_cell_text(opt->center)))
        return ps_error(PS_ERR_ARG, "--modality / --center: text without tabs, line breaks "
                        "or surrounding spaces");
    if (opt->ref_rater < 0)
        return ps_error(PS_ERR_ARG, "ref_rater must be >= 0");
    return PS_OK;
}

static int split_rank(const char *split)
{
    return split && !strcmp(split, "test");
}

static int cmp_rows(const void *a, const void *b)
{
    const lrow *x = a, *y = b;
    int sx = split_rank(x->split), sy = split_rank(y->split);
    if (sx != sy)
        return sx - sy;
    return strcmp(x->id, y->id);
}

/* "DIR: N problems:\nline\nline..." with at most PS_MANIFEST_MAX_LISTED lines. */
static int report_problems(const builder *b)
{
    size_t len = strlen(b->dir) + 96;
    int shown = b->problems.n < PS_MANIFEST_MAX_LISTED ? b->problems.n : PS_MANIFEST_MAX_LISTED;
    for (int i = 0; i < shown; i++)
        len += strlen(b->problems.v[i]) + 1;
    char *msg = ps_malloc(len);
    if (!msg)
        return PS_ERR_NOMEM;
    int n = snprintf(msg, len, "%s (layout %s): %d problem%s:", b->dir,
                     ps_layout_name(b->layout), b->problems.n, b->problems.n == 1 ? "" : "s");
    for (int i = 0; i < shown; i++)
        n += snprintf(msg + n, len - (size_t)n, "\n%s", b->problems.v[i]);
    if (b->problems.n > shown)
        snprintf(msg + n, len - (size_t)n, "\n... and %d more problems", b->problems.n - shown);
    int rc = ps_error(PS_ERR_FORMAT, "%s", msg);
    free(msg);
    return rc;
}

int ps_manifest_from_folder(const char *dir, const ps_layout_options *opt, FILE *f,
                            ps_layout_report *report)
{
    ps_layout_options defaults;
    if (!opt) {
        ps_layout_options_init(&defaults);
        opt = &defaults;
    }
    if (report)
        memset(report, 0, sizeof *report);
    int rc = check_options(dir, opt);
    if (rc)
        return rc;
    builder b;
    memset(&b, 0, sizeof b);
    b.dir = dir;
    b.opt = opt;
    b.layout = opt->layout;
    ps_json *js = NULL;
    strlist subdirs = {0};
    char *data_prefix = NULL, **pred_prefix = NULL;
    char *json_path = join(dir, "dataset.json");
    if (!json_path)
        return PS_ERR_NOMEM;
    if (is_file(json_path))
        rc = ps_json_read(json_path, &js);
    if (!rc)
        rc = list_dir(dir, 2, &subdirs, &b.appledouble);
    if (!rc && b.layout == PS_LAYOUT_AUTO)
        rc = detect(&b, js, &subdirs, json_path);
    if (!rc && !js && (b.layout == PS_LAYOUT_NNUNET_V1 || b.layout == PS_LAYOUT_NNUNET_V2 ||
                       b.layout == PS_LAYOUT_MSD))
        rc = ps_error(PS_ERR_FORMAT, "%s: no dataset.json (layout %s needs it)", dir,
                      ps_layout_name(b.layout));
    if (!rc && js && js->type != PS_JSON_OBJECT)
        rc = ps_error(PS_ERR_FORMAT, "%s: not a JSON object", json_path);
    if (!rc) {
        switch (b.layout) {
        case PS_LAYOUT_NNUNET_V1:
        case PS_LAYOUT_NNUNET_V2:
        case PS_LAYOUT_MSD: rc = scan_nnunet(&b, js, json_path); break;
        case PS_LAYOUT_PANSEGDATA: rc = scan_pansegdata(&b); break;
        case PS_LAYOUT_MULTIRATER: rc = scan_multirater(&b, &subdirs); break;
        default: rc = ps_error(PS_ERR_ARG, "unknown layout"); break;
        }
    }
    if (!rc && b.problems.n)
        rc = report_problems(&b);
    if (!rc && b.nrows == 0)
        rc = ps_error(PS_ERR_FORMAT, "%s (layout %s): no cases found", dir,
                      ps_layout_name(b.layout));
    if (!rc) {
        qsort(b.rows, (size_t)b.nrows, sizeof *b.rows, cmp_rows);
        rc = match_preds(&b);
    }
    if (!rc && b.problems.n)
        rc = report_problems(&b);
    if (!rc)
        rc = folder_prefix(dir, opt->base_dir, &data_prefix);
    if (!rc && opt->npreds) {
        pred_prefix = ps_calloc((size_t)opt->npreds, sizeof *pred_prefix);
        if (!pred_prefix)
            rc = PS_ERR_NOMEM;
        for (int p = 0; !rc && p < opt->npreds; p++)
            rc = folder_prefix(opt->preds[p].dir, opt->base_dir, &pred_prefix[p]);
    }
    if (!rc)
        rc = write_manifest(&b, f, data_prefix, pred_prefix);
    if (!rc && b.appledouble)
        rc = note(&b, ps_asprintf("skipped %d AppleDouble file%s (._NAME)", b.appledouble,
                                  b.appledouble == 1 ? "" : "s"));
    if (!rc && report) {
        report->layout = b.layout;
        report->ncases = b.nrows;
        report->nnotes = b.notes.n;
        report->notes = b.notes.v;
        b.notes.v = NULL;
        b.notes.n = b.notes.cap = 0;
    }
    for (int p = 0; pred_prefix && p < opt->npreds; p++)
        free(pred_prefix[p]);
    free(pred_prefix);
    free(data_prefix);
    for (int64_t i = 0; i < b.nrows; i++)
        row_free(&b, &b.rows[i]);
    free(b.rows);
    free(b.rater_ids);
    free(b.modality);
    strlist_free(&b.problems);
    strlist_free(&b.notes);
    strlist_free(&subdirs);
    ps_json_free(js);
    free(json_path);
    return rc;
}
