/* plan.c - evaluation plans: the jobs (case x model) of a manifest, of one --ref/--pred pair,
 * or of two folders paired by file name (nnU-Net's evaluate_folder). */
#include <dirent.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "ps_eval.h"

/* Private storage of a plan: the manifest it points into, or its own strings. */
typedef struct plan_store {
    ps_manifest *man;
    char **strings;
    size_t nstrings, cap;
} plan_store;

static ps_eval_plan *plan_new(void)
{
    ps_eval_plan *p = ps_calloc(1, sizeof *p);
    if (!p)
        return NULL;
    if (!(p->priv_ = ps_calloc(1, sizeof(plan_store)))) {
        free(p);
        return NULL;
    }
    return p;
}

/* A string owned by the plan. */
static const char *keep(ps_eval_plan *p, char *s)
{
    plan_store *st = p->priv_;
    if (!s)
        return NULL;
    if (st->nstrings == st->cap) {
        size_t cap = st->cap ? 2 * st->cap : 64;
        char **v = ps_realloc_array(st->strings, cap, sizeof *v);
        if (!v) {
            free(s);
            return NULL;
        }
        st->strings = v;
        st->cap = cap;
    }
    st->strings[st->nstrings++] = s;
    return s;
}

void ps_eval_plan_free(ps_eval_plan *p)
{
    if (!p)
        return;
    plan_store *st = p->priv_;
    if (st) {
        for (size_t i = 0; i < st->nstrings; i++)
            free(st->strings[i]);
        free(st->strings);
        ps_manifest_free(st->man);
        free(st);
    }
    for (int i = 0; i < p->nmeta; i++)
        free(p->meta_cols[i]);
    free(p->meta_cols);
    for (int i = 0; i < p->nunmatched; i++)
        free(p->unmatched[i]);
    free(p->unmatched);
    free(p->jobs);
    free(p);
}

static const char *nz(const char *s)
{
    return s ? s : "";
}

int ps_eval_plan_from_manifest(const char *path, const char *const *models, int nmodels,
                               const ps_context *ctx, ps_eval_plan **out)
{
    *out = NULL;
    ps_eval_plan *p = plan_new();
    const char **pred_models = ps_calloc((size_t)nmodels + 1, sizeof *pred_models);
    int *rater_cols = ps_calloc((size_t)nmodels + 1, sizeof *rater_cols);
    int npred = 0, nrater = 0, rc = PS_OK;
    if (!p || !pred_models || !rater_cols) {
        rc = PS_ERR_NOMEM;
        goto fail;
    }
    for (int k = 0; k < nmodels; k++)
        if (strncmp(models[k], "rater:", 6))
            pred_models[npred++] = models[k];
    /* The table itself must be right; files are checked below, all at once */
    ps_manifest_options mopt;
    ps_manifest_options_init(&mopt);
    mopt.check = PS_MANIFEST_CHECK_NONE;
    mopt.models = npred ? pred_models : NULL;
    mopt.nmodels = npred;
    ps_manifest *man = NULL;
    if ((rc = ps_manifest_read(path, &mopt, &man)))
        goto fail;
    ((plan_store *)p->priv_)->man = man;
    for (int k = 0; k < nmodels; k++) {
        if (strncmp(models[k], "rater:", 6))
            continue;
        int r = 0;
        while (r < man->nraters && strcmp(man->raters[r].column, models[k]))
            r++;
        if (r == man->nraters) {
            rc = ps_error(PS_ERR_ARG, "%s has no column '%s' (%d rater column(s))", path,
                          models[k], man->nraters);
            goto fail;
        }
        rater_cols[nrater++] = r;
    }
    /* listed files that do not exist: all named now, and error rows when run (an empty cell
     * is "not available", a missing row, and not checked) */
    mopt.check = PS_MANIFEST_CHECK_REFS | PS_MANIFEST_CHECK_PREDS |
                 (nrater ? PS_MANIFEST_CHECK_RATERS : 0);
    if (ps_manifest_check_files(man, &mopt))
        ps_log(ctx, PS_LOG_ERROR, "%s\n(these cases are reported with status=error)",
               ps_error_message());
    int all_models = nmodels == 0;
    int nm = all_models ? man->nmodels : npred;
    if (nm + nrater == 0) {
        rc = ps_error(PS_ERR_ARG, "%s has no pred:MODEL column to evaluate", path);
        goto fail;
    }
    p->nmeta = man->nmeta;
    if (man->nmeta && !(p->meta_cols = ps_calloc((size_t)man->nmeta, sizeof *p->meta_cols))) {
        rc = PS_ERR_NOMEM;
        goto fail;
    }
    for (int k = 0; k < man->nmeta; k++)
        if (!(p->meta_cols[k] = ps_asprintf("meta:%s", man->meta_keys[k]))) {
            rc = PS_ERR_NOMEM;
            goto fail;
        }
    p->ncases = man->ncases;
    if (!(p->jobs = ps_calloc((size_t)(man->ncases ? man->ncases : 1) * (size_t)(nm + nrater),
                              sizeof *p->jobs))) {
        rc = PS_ERR_NOMEM;
        goto fail;
    }
    for (int64_t ci = 0; ci < man->ncases; ci++) {
        const ps_manifest_case *mc = &man->cases[ci];
        for (int k = 0; k < nm + nrater; k++) {
            ps_eval_job *jb = &p->jobs[p->njobs++];
            jb->case_id = mc->id;
            jb->subject = nz(mc->subject);
            jb->modality = nz(mc->modality);
            jb->center = nz(mc->center);
            jb->ref_path = mc->ref;
            jb->meta = (const char *const *)mc->meta;
            jb->case_index = ci;
            if (k < nm) {
                int mi = all_models ? k : ps_manifest_model_index(man, pred_models[k]);
                jb->model = man->models[mi];
                jb->pred_path = mc->pred[mi];
            } else {
                int ri = rater_cols[k - nm];
                jb->model = man->raters[ri].column;
                jb->pred_path = mc->rater[ri];
            }
        }
    }
    free(pred_models);
    free(rater_cols);
    *out = p;
    return PS_OK;
fail:
    free(pred_models);
    free(rater_cols);
    ps_eval_plan_free(p);
    return rc;
}

int ps_eval_plan_pair(const char *ref, const char *pred, const char *case_id, const char *model,
                      ps_eval_plan **out)
{
    *out = NULL;
    ps_eval_plan *p = plan_new();
    if (!p || !(p->jobs = ps_calloc(1, sizeof *p->jobs))) {
        ps_eval_plan_free(p);
        return PS_ERR_NOMEM;
    }
    ps_eval_job *j = &p->jobs[0];
    j->case_id = keep(p, ps_strdup(case_id));
    j->model = keep(p, ps_strdup(model));
    j->ref_path = keep(p, ps_strdup(ref));
    j->pred_path = keep(p, ps_strdup(pred));
    j->subject = j->modality = j->center = "";
    if (!j->case_id || !j->model || !j->ref_path || !j->pred_path) {
        ps_eval_plan_free(p);
        return PS_ERR_NOMEM;
    }
    p->njobs = p->ncases = 1;
    *out = p;
    return PS_OK;
}

/* Length of the name without .nii / .nii.gz, or 0 when it has neither suffix. */
static size_t nifti_stem(const char *name)
{
    size_t n = strlen(name);
    if (n > 7 && !strcmp(name + n - 7, ".nii.gz"))
        return n - 7;
    if (n > 4 && !strcmp(name + n - 4, ".nii"))
        return n - 4;
    return 0;
}

char *ps_eval_case_name(const char *path)
{
    const char *b = strrchr(path, '/');
    b = b ? b + 1 : path;
    size_t n = nifti_stem(b);
    return ps_strndup(b, n ? n : strlen(b));
}

/* Order of two NIfTI file names by case id (the name without .nii / .nii.gz), in bytes. */
static int cmp_stem(const char *a, const char *b)
{
    size_t la = nifti_stem(a), lb = nifti_stem(b);
    int c = memcmp(a, b, la < lb ? la : lb);
    return c ? c : (la > lb) - (la < lb);
}

static int cmp_str(const void *a, const void *b)
{
    const char *x = *(char *const *)a, *y = *(char *const *)b;
    int c = cmp_stem(x, y);
    return c ? c : strcmp(x, y); /* x.nii before x.nii.gz: a fixed order for the message */
}

/* The NIfTI file names of a folder, sorted by case id; two files of one case id (x.nii and
 * x.nii.gz) are an error, as either could be meant. */
static int list_nifti(const char *dir, char ***names, int *n)
{
    *names = NULL;
    *n = 0;
    DIR *d = opendir(dir);
    if (!d)
        return ps_error(PS_ERR_IO, "%s: cannot open the folder: %s", dir, strerror(errno));
    int cap = 0, rc = PS_OK;
    struct dirent *e;
    while ((e = readdir(d))) {
        if (e->d_name[0] == '.' || !nifti_stem(e->d_name))
            continue; /* hidden files, AppleDouble "._x.nii.gz", other files */
        if (*n == cap) {
            cap = cap ? 2 * cap : 64;
            char **v = ps_realloc_array(*names, (size_t)cap, sizeof *v);
            if (!v) {
                rc = PS_ERR_NOMEM;
                break;
            }
            *names = v;
        }
        if (!((*names)[*n] = ps_strdup(e->d_name))) {
            rc = PS_ERR_NOMEM;
            break;
        }
        (*n)++;
    }
    closedir(d);
    if (!rc && *n)
        qsort(*names, (size_t)*n, sizeof **names, cmp_str);
    for (int i = 1; !rc && i < *n; i++)
        if (!cmp_stem((*names)[i - 1], (*names)[i]))
            rc = ps_error(PS_ERR_ARG, "%s: both %s and %s hold case '%.*s'; keep one of them",
                          dir, (*names)[i - 1], (*names)[i], (int)nifti_stem((*names)[i]),
                          (*names)[i]);
    return rc;
}

static void free_names(char **v, int n)
{
    for (int i = 0; i < n; i++)
        free(v[i]);
    free(v);
}

int ps_eval_plan_folders(const char *ref_dir, const char *pred_dir, const char *model,
                         ps_eval_plan **out)
{
    *out = NULL;
    char **refs = NULL, **preds = NULL;
    int nr = 0, np = 0, rc;
    ps_eval_plan *p = NULL;
    if ((rc = list_nifti(ref_dir, &refs, &nr)) || (rc = list_nifti(pred_dir, &preds, &np)))
        goto done;
    if (nr == 0) {
        rc = ps_error(PS_ERR_ARG, "%s: no .nii or .nii.gz files in the reference folder",
                      ref_dir);
        goto done;
    }
    rc = PS_ERR_NOMEM;
    if (!(p = plan_new()) || !(p->jobs = ps_calloc((size_t)nr, sizeof *p->jobs)) ||
        !(p->unmatched = ps_calloc((size_t)np + 1, sizeof *p->unmatched)))
        goto done;
    const char *mname = keep(p, ps_strdup(model));
    if (!mname)
        goto done;
    /* both lists are sorted by case id: one merge pass pairs equal case ids, so ct01.nii
     * pairs with ct01.nii.gz */
    int ir = 0, ip = 0;
    while (ir < nr || ip < np) {
        int c = ir == nr ? 1 : ip == np ? -1 : cmp_stem(refs[ir], preds[ip]);
        if (c > 0) { /* a prediction without a reference */
            if (!(p->unmatched[p->nunmatched] = ps_asprintf("%s/%s", pred_dir, preds[ip])))
                goto done;
            p->nunmatched++;
            ip++;
            continue;
        }
        ps_eval_job *j = &p->jobs[p->njobs];
        j->case_id = keep(p, ps_asprintf("%.*s", (int)nifti_stem(refs[ir]), refs[ir]));
        j->model = mname;
        j->ref_path = keep(p, ps_asprintf("%s/%s", ref_dir, refs[ir]));
        j->subject = j->modality = j->center = "";
        j->case_index = p->njobs;
        if (!j->case_id || !j->ref_path)
            goto done;
        if (c == 0) {
            if (!(j->pred_path = keep(p, ps_asprintf("%s/%s", pred_dir, preds[ip]))))
                goto done;
            ip++;
        }
        ir++;
        p->njobs++;
    }
    p->ncases = p->njobs;
    rc = PS_OK;
done:
    free_names(refs, nr);
    free_names(preds, np);
    if (rc) {
        ps_eval_plan_free(p);
        return rc;
    }
    *out = p;
    return PS_OK;
}

static int is_dir(const char *p)
{
    struct stat st;
    return !stat(p, &st) && S_ISDIR(st.st_mode);
}

int ps_eval_plan_files(const char *ref, const char *pred, const char *case_id,
                       const char *model, ps_eval_plan **out)
{
    *out = NULL;
    int dr = is_dir(ref), dp = is_dir(pred);
    if (dr != dp)
        return ps_error(PS_ERR_ARG, "--ref %s and --pred %s: give two files or two folders",
                        ref, pred);
    if (dr)
        return ps_eval_plan_folders(ref, pred, model, out);
    char *auto_case = case_id ? NULL : ps_eval_case_name(pred);
    if (!case_id && !auto_case)
        return PS_ERR_NOMEM;
    int rc = ps_eval_plan_pair(ref, pred, case_id ? case_id : auto_case, model, out);
    free(auto_case);
    return rc;
}
