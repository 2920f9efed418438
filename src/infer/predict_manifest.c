/* predict_manifest.c - `panseval infer --manifest`: every case of a data manifest through one
 * predictor, as nnU-Net's predict_cases does for a folder.
 *
 * Conventions (docs/inference.md, "Manifest form"):
 *   - a case is predicted when it has an `image` (and image:1 ... for further modalities: a
 *     case missing one the model needs fails, naming the column);
 *   - the label map goes to OUT_DIR/CASE.nii.gz; an existing file is kept and the case
 *     skipped unless `force` (predict_cases' overwrite_existing=False);
 *   - a failing case is reported (its message on the log) and the others go on;
 *   - with manifest_out, a copy of the manifest is written with the column pred:NAME holding
 *     the written (or kept) label maps; every path in the copy is absolute, so it can live in
 *     any folder. Cases without a prediction have an empty cell.
 */
#include "pipeline_internal.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "ps_io.h"
#include "ps_manifest.h"

static int mkdir_p(const char *dir)
{
    char *d = ps_strdup(dir);
    if (!d)
        return PS_ERR_NOMEM;
    for (char *s = d + 1;; s++) {
        if (*s == '/' || !*s) {
            char c = *s;
            *s = 0;
            if (mkdir(d, 0777) && errno != EEXIST) {
                int rc = ps_error(PS_ERR_IO, "%s: cannot create the folder: %s", d,
                                  strerror(errno));
                free(d);
                return rc;
            }
            *s = c;
            if (!c)
                break;
        }
    }
    free(d);
    struct stat st;
    if (stat(dir, &st) || !S_ISDIR(st.st_mode))
        return ps_error(PS_ERR_IO, "%s: not a folder", dir);
    return PS_OK;
}

static int cell(ps_table_writer *w, const char *s) { return ps_table_writer_str(w, s ? s : ""); }

/* the manifest with pred:NAME set to preds[i] (NULL = empty) */
static int write_manifest_copy(const ps_manifest *m, const char *name, char *const *preds,
                               const char *path)
{
    const char *cols[64 + 3 * 64];
    char *owned[256];
    int nc = 0, no = 0, rc = PS_OK;
    int imgs = 0;
    for (int k = 0; k < PS_MANIFEST_MAX_IMAGES - 1; k++)
        if (m->col_image_more[k])
            imgs = k + 1;
    if (m->nraters + m->nmodels + m->nmeta > 180)
        return ps_error(PS_ERR_UNSUPPORTED, "%s: too many columns to copy", m->path);
    cols[nc++] = "case";
    if (m->col_subject) cols[nc++] = "subject";
    if (m->col_modality) cols[nc++] = "modality";
    if (m->col_center) cols[nc++] = "center";
    cols[nc++] = "image";
    for (int k = 0; k < imgs; k++) {
        owned[no] = ps_asprintf("image:%d", k + 1);
        cols[nc++] = owned[no++];
    }
    if (m->col_ref) cols[nc++] = "ref";
    for (int r = 0; r < m->nraters; r++)
        cols[nc++] = m->raters[r].column;
    int self = ps_manifest_model_index(m, name);
    for (int k = 0; k < m->nmodels; k++) {
        owned[no] = ps_asprintf("pred:%s", m->models[k]);
        cols[nc++] = owned[no++];
    }
    if (self < 0) {
        owned[no] = ps_asprintf("pred:%s", name);
        cols[nc++] = owned[no++];
    }
    for (int k = 0; k < m->nmeta; k++) {
        owned[no] = ps_asprintf("meta:%s", m->meta_keys[k]);
        cols[nc++] = owned[no++];
    }
    for (int i = 0; i < no; i++)
        if (!owned[i])
            rc = PS_ERR_NOMEM;
    ps_atomic_file *af = NULL;
    ps_table_writer *w = NULL;
    if (rc || (rc = ps_atomic_open(path, &af)))
        goto done;
    if ((rc = ps_table_writer_create(ps_atomic_stream(af), PS_FMT_TSV, nc, cols, &w)))
        goto done;
    for (int64_t i = 0; i < m->ncases && !rc; i++) {
        const ps_manifest_case *c = &m->cases[i];
        rc = cell(w, c->id);
        if (!rc && m->col_subject) rc = cell(w, c->subject);
        if (!rc && m->col_modality) rc = cell(w, c->modality);
        if (!rc && m->col_center) rc = cell(w, c->center);
        if (!rc) rc = cell(w, c->image);
        for (int k = 0; !rc && k < imgs; k++)
            rc = cell(w, c->image_more[k]);
        if (!rc && m->col_ref) rc = cell(w, c->ref);
        for (int r = 0; !rc && r < m->nraters; r++)
            rc = cell(w, c->rater[r]);
        for (int k = 0; !rc && k < m->nmodels; k++)
            rc = cell(w, k == self ? preds[i] : c->pred[k]);
        if (!rc && self < 0)
            rc = cell(w, preds[i]);
        for (int k = 0; !rc && k < m->nmeta; k++)
            rc = cell(w, c->meta[k]);
        if (!rc)
            rc = ps_table_writer_end_row(w);
    }
    if (w) {
        int rf = ps_table_writer_finish(w);
        rc = rc ? rc : rf;
    }
    if (af) {
        if (rc)
            ps_atomic_abort(af);
        else
            rc = ps_atomic_commit(af);
    }
done:
    for (int i = 0; i < no; i++)
        free(owned[i]);
    return rc;
}

int ps_predict_manifest(ps_predictor *p, const ps_manifest *m, const char *name,
                        const char *out_dir, int force, const char *manifest_out,
                        ps_predict_manifest_result *res)
{
    memset(res, 0, sizeof *res);
    if (!name || !*name || strchr(name, '\t'))
        return ps_error(PS_ERR_ARG, "--name: the model name for the pred:NAME column must be "
                        "non-empty text without tabs");
    int rc = mkdir_p(out_dir);
    if (rc)
        return rc;
    const ps_context *ctx = ps_predictor_context(p);
    const int C = ps_predictor_plans(p)->num_input_channels;
    char **preds = ps_calloc((size_t)m->ncases + 1, sizeof *preds);
    if (!preds)
        return PS_ERR_NOMEM;
    int64_t todo = 0;
    for (int64_t i = 0; i < m->ncases; i++)
        todo += m->cases[i].image != NULL;
    ps_progress *prog = ps_progress_start(ctx, "infer", todo, "cases");
    for (int64_t i = 0; i < m->ncases; i++) {
        const ps_manifest_case *c = &m->cases[i];
        if (!c->image) {
            res->no_image++;
            continue;
        }
        if (strchr(c->id, '/') || !strcmp(c->id, ".") || !strcmp(c->id, "..")) {
            ps_log(ctx, PS_LOG_ERROR, "%s line %lld: case '%s': the id cannot be a file name "
                   "in %s", m->path, (long long)c->line, c->id, out_dir);
            res->failed++;
            ps_progress_add(prog, 1);
            continue;
        }
        char *out = ps_asprintf("%s/%s.nii.gz", out_dir, c->id);
        if (!out) {
            rc = PS_ERR_NOMEM;
            break;
        }
        if (!force && access(out, F_OK) == 0) {
            preds[i] = out;
            res->skipped++;
            ps_progress_add(prog, 1);
            continue;
        }
        const char *inputs[PS_MANIFEST_MAX_IMAGES];
        int missing = -1;
        for (int k = 0; k < C && k < PS_MANIFEST_MAX_IMAGES; k++)
            if (!(inputs[k] = ps_manifest_image_path(m, i, k)) && missing < 0)
                missing = k;
        if (missing >= 0 || C > PS_MANIFEST_MAX_IMAGES) {
            ps_log(ctx, PS_LOG_ERROR, "%s line %lld: case '%s': the model needs %d modalities, "
                   "but column image:%d is %s", m->path, (long long)c->line, c->id, C, missing,
                   m->col_image_more[missing > 0 ? missing - 1 : 0] ? "empty" : "absent");
            free(out);
            res->failed++;
            ps_progress_add(prog, 1);
            continue;
        }
        int r = ps_predictor_run_files(p, inputs, C, out, NULL);
        if (r) {
            ps_log(ctx, PS_LOG_ERROR, "case '%s' (%s line %lld): %s", c->id, m->path,
                   (long long)c->line, ps_error_message());
            free(out);
            res->failed++;
        } else {
            preds[i] = out;
            res->done++;
        }
        ps_progress_add(prog, 1);
    }
    ps_progress_finish(prog);
    if (!rc && manifest_out)
        rc = write_manifest_copy(m, name, preds, manifest_out);
    for (int64_t i = 0; i < m->ncases; i++)
        free(preds[i]);
    free(preds);
    return rc;
}
