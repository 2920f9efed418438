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

int ps_predict_make_dir(const char *dir, char **abs)
{
    *abs = NULL;
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
    if (!(*abs = realpath(dir, NULL)))
        return ps_error(PS_ERR_IO, "%s: %s", dir, strerror(errno));
    return PS_OK;
}

static int cell(ps_table_writer *w, const char *s) { return ps_table_writer_str(w, s ? s : ""); }

int ps_predict_manifest_write(const ps_manifest *m, int nnames, const char *const *names,
                              char *const *const *preds, const char *path)
{
    int imgs = 0;
    for (int k = 0; k < PS_MANIFEST_MAX_IMAGES - 1; k++)
        if (m->col_image_more[k])
            imgs = k + 1;
    int maxc = 6 + imgs + m->nraters + m->nmodels + nnames + m->nmeta;
    const char **cols = ps_calloc((size_t)maxc, sizeof *cols);
    char **owned = ps_calloc((size_t)maxc, sizeof *owned);
    int *of_col = ps_calloc((size_t)(m->nmodels + nnames + 1), sizeof *of_col);
    int nc = 0, no = 0, rc = cols && owned && of_col ? PS_OK : PS_ERR_NOMEM;
#define OWN(...) (owned[no] = ps_asprintf(__VA_ARGS__), cols[nc++] = owned[no++])
    /* the pred: columns: the manifest's (filled when one of names), then the new names */
    int npc = 0;
    for (int k = 0; !rc && k < m->nmodels; k++) {
        of_col[npc++] = -1;
        for (int j = 0; j < nnames; j++)
            if (!strcmp(names[j], m->models[k]))
                of_col[npc - 1] = j;
    }
    for (int j = 0; !rc && j < nnames; j++)
        if (ps_manifest_model_index(m, names[j]) < 0)
            of_col[npc++] = j;
    if (!rc) {
        cols[nc++] = "case";
        if (m->col_subject) cols[nc++] = "subject";
        if (m->col_modality) cols[nc++] = "modality";
        if (m->col_center) cols[nc++] = "center";
        cols[nc++] = "image";
        for (int k = 0; k < imgs; k++)
            OWN("image:%d", k + 1);
        if (m->col_ref) cols[nc++] = "ref";
        for (int r = 0; r < m->nraters; r++)
            cols[nc++] = m->raters[r].column;
        for (int k = 0; k < npc; k++)
            OWN("pred:%s", k < m->nmodels ? m->models[k] : names[of_col[k]]);
        for (int k = 0; k < m->nmeta; k++)
            OWN("meta:%s", m->meta_keys[k]);
        for (int i = 0; i < no; i++)
            if (!owned[i])
                rc = PS_ERR_NOMEM;
    }
#undef OWN
    ps_atomic_file *af = NULL;
    ps_table_writer *w = NULL;
    if (!rc)
        rc = ps_atomic_open(path, &af);
    if (!rc)
        rc = ps_table_writer_create(ps_atomic_stream(af), PS_FMT_TSV, nc, cols, &w);
    for (int64_t i = 0; !rc && i < m->ncases; i++) {
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
        for (int k = 0; !rc && k < npc; k++)
            rc = cell(w, of_col[k] >= 0 ? preds[of_col[k]][i] : c->pred[k]);
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
    for (int i = 0; i < no; i++)
        free(owned[i]);
    free(owned);
    free(cols);
    free(of_col);
    return rc ? ps_error_context(rc, "writing %s", path) : PS_OK;
}

void ps_predict_case_clear(ps_predict_case *r)
{
    free(r->path);
    free(r->message);
    memset(r, 0, sizeof *r);
}

static int case_failed(ps_predict_case *r, char *msg)
{
    if (!msg)
        return PS_ERR_NOMEM;
    free(r->path);
    r->path = NULL;
    r->status = PS_PREDICT_CASE_FAILED;
    r->message = msg;
    return PS_OK;
}

int ps_predict_manifest_case(ps_predictor *p, const ps_manifest *m, int64_t i,
                             const char *out_dir, int force, ps_predict_case *r)
{
    memset(r, 0, sizeof *r);
    const ps_manifest_case *c = &m->cases[i];
    const int C = ps_predictor_plans(p)->num_input_channels;
    if (!c->image) {
        r->status = PS_PREDICT_CASE_NO_IMAGE;
        return PS_OK;
    }
    if (strchr(c->id, '/') || !strcmp(c->id, ".") || !strcmp(c->id, ".."))
        return case_failed(r, ps_asprintf("%s line %lld: case '%s': the id cannot be a file "
                                          "name in %s", m->path, (long long)c->line, c->id,
                                          out_dir));
    if (!(r->path = ps_asprintf("%s/%s.nii.gz", out_dir, c->id)))
        return PS_ERR_NOMEM;
    if (!force && access(r->path, F_OK) == 0) {
        r->status = PS_PREDICT_CASE_SKIPPED;
        return PS_OK;
    }
    const char *inputs[PS_MANIFEST_MAX_IMAGES];
    int missing = -1;
    for (int k = 0; k < C && k < PS_MANIFEST_MAX_IMAGES; k++)
        if (!(inputs[k] = ps_manifest_image_path(m, i, k)) && missing < 0)
            missing = k;
    if (missing >= 0 || C > PS_MANIFEST_MAX_IMAGES)
        return case_failed(r, ps_asprintf("%s line %lld: case '%s': the model needs %d "
                                          "modalities, but column image:%d is %s", m->path,
                                          (long long)c->line, c->id, C, missing,
                                          m->col_image_more[missing > 0 ? missing - 1 : 0]
                                              ? "empty" : "absent"));
    if (ps_predictor_run_files(p, inputs, C, r->path, NULL))
        return case_failed(r, ps_asprintf("case '%s' (%s line %lld): %s", c->id, m->path,
                                          (long long)c->line, ps_error_message()));
    r->status = PS_PREDICT_CASE_DONE;
    return PS_OK;
}

int ps_predict_manifest(ps_predictor *p, const ps_manifest *m, const char *name,
                        const char *out_dir, int force, const char *manifest_out,
                        ps_predict_manifest_result *res)
{
    memset(res, 0, sizeof *res);
    if (!name || !*name || strchr(name, '\t'))
        return ps_error(PS_ERR_ARG, "--name: the model name for the pred:NAME column must be "
                        "non-empty text without tabs");
    char *abs = NULL;
    int rc = ps_predict_make_dir(out_dir, &abs);
    if (rc)
        return rc;
    const ps_context *ctx = ps_predictor_context(p);
    char **preds = ps_calloc((size_t)m->ncases + 1, sizeof *preds);
    if (!preds) {
        free(abs);
        return PS_ERR_NOMEM;
    }
    int64_t todo = 0;
    for (int64_t i = 0; i < m->ncases; i++)
        todo += m->cases[i].image != NULL;
    ps_progress *prog = ps_progress_start(ctx, "infer", todo, "cases");
    for (int64_t i = 0; i < m->ncases && !rc; i++) {
        ps_predict_case r;
        if ((rc = ps_predict_manifest_case(p, m, i, abs, force, &r)))
            break;
        switch (r.status) {
        case PS_PREDICT_CASE_NO_IMAGE: res->no_image++; break;
        case PS_PREDICT_CASE_DONE: res->done++; break;
        case PS_PREDICT_CASE_SKIPPED: res->skipped++; break;
        case PS_PREDICT_CASE_FAILED:
            ps_log(ctx, PS_LOG_ERROR, "%s", r.message);
            res->failed++;
            break;
        }
        if (r.status != PS_PREDICT_CASE_NO_IMAGE)
            ps_progress_add(prog, 1);
        preds[i] = r.path;
        r.path = NULL;
        ps_predict_case_clear(&r);
    }
    ps_progress_finish(prog);
    if (!rc && manifest_out)
        rc = ps_predict_manifest_write(m, 1, &name, (char *const *const *)&preds, manifest_out);
    for (int64_t i = 0; i < m->ncases; i++)
        free(preds[i]);
    free(preds);
    free(abs);
    return rc;
}
