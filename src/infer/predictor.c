/* predictor.c - whole-image segmentation, the order of nnU-Net v1's predict_cases.
 *
 * Sources of the behaviour (read, not copied): nnunet/inference/predict.py (predict_cases,
 * load_model_and_checkpoint_files), nnunet/training/network_training/nnUNetTrainer.py
 * (preprocess_patient, predict_preprocessed_data_return_seg_and_softmax),
 * nnunet/preprocessing/preprocessing.py (GenericPreprocessor.preprocess_test_case),
 * nnunet/inference/segmentation_export.py (save_segmentation_nifti_from_softmax).
 *
 * One case:
 *   1. read the modalities as float32 (scaling applied), check count, dimensionality, one
 *      geometry, no NaN / infinite voxels;
 *   2. crop to the non-zero box of all modalities (preprocess.c);
 *   3. transpose_forward; resample each modality to the stage's spacing (order 3 with the
 *      separate-z rule, resample.c), and the non-zero mask when use_mask_for_norm needs it
 *      (resize_segmentation, order 1, order 0 along a separate z axis);
 *   4. normalise per modality (preprocess.c);
 *   5. per fold: sliding window with mirroring (sliding.c); fold probabilities summed in
 *      float32 and divided by the fold count;
 *   6. transpose_backward; resample each class's probabilities back to the cropped shape
 *      (order 1; order 0 along the low-resolution axis, decided from the *original* spacing
 *      and, failing that, the target spacing, as the export does); argmax; put into the
 *      uncropped image (0 outside the box);
 *   7. postprocessing.json (postprocess.c); label map uint8 (int16 beyond 255 classes) with
 *      the first input's geometry.
 * nnU-Net v1 cannot be told to skip a step, and neither can this: only mirroring, the step
 * and postprocessing are options, as in predict_cases.
 */
#include "pipeline_internal.h"

#include <dirent.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "ps_io.h"

#define MAX_FOLDS 100

struct ps_predictor {
    char *dir;
    ps_predict_options opt;
    ps_context ctx;
    int nfolds;
    int folds[MAX_FOLDS];
    ps_model *models[MAX_FOLDS];
    ps_net *net;           /* cached when there is one fold                              */
    int have_pp;
    ps_postprocessing pp;
    ps_predict_timing timing;
    ps_pipeline_trace *trace;  /* tests only                                              */
};

void ps_predictor_set_trace(ps_predictor *p, ps_pipeline_trace *t) { p->trace = t; }
const ps_context *ps_predictor_context(const ps_predictor *p) { return &p->ctx; }

void ps_pipeline_trace_clear(ps_pipeline_trace *t)
{
    free(t->resampled);
    free(t->mask);
    free(t->normalized);
    free(t->softmax_net);
    free(t->softmax_back);
    memset(t, 0, sizeof *t);
}

static void *dup_bytes(const void *src, size_t n)
{
    void *d = malloc(n ? n : 1);
    if (d)
        memcpy(d, src, n);
    return d;
}

void ps_predict_options_init(ps_predict_options *o)
{
    memset(o, 0, sizeof *o);
    o->mirroring = 1;
    o->step = 0.5;
    o->postprocessing = 1;
    o->backend = PS_CONV_AUTO;
}

static int cmp_int(const void *a, const void *b)
{
    int x = *(const int *)a, y = *(const int *)b;
    return (x > y) - (x < y);
}

/* every fold_N folder of dir, increasing N (load_model_and_checkpoint_files with folds=None) */
static int find_folds(const char *dir, int *folds, int *nfolds)
{
    DIR *d = opendir(dir);
    if (!d)
        return ps_error(PS_ERR_IO, "%s: model folder does not exist or cannot be read", dir);
    struct dirent *e;
    int n = 0;
    while ((e = readdir(d))) {
        const char *s = e->d_name;
        if (strncmp(s, "fold_", 5) || !s[5])
            continue;
        char *end;
        long v = strtol(s + 5, &end, 10);
        if (*end || v < 0 || v > 999)
            continue;
        char *path = ps_asprintf("%s/%s", dir, s);
        struct stat st;
        int isdir = path && !stat(path, &st) && S_ISDIR(st.st_mode);
        free(path);
        if (isdir && n < MAX_FOLDS)
            folds[n++] = (int)v;
    }
    closedir(d);
    if (!n)
        return ps_error(PS_ERR_IO, "%s: no fold_N folder (is this a trained nnU-Net v1 model "
                        "folder? give --fold all for the folder 'all')", dir);
    qsort(folds, (size_t)n, sizeof *folds, cmp_int);
    *nfolds = n;
    return PS_OK;
}

int ps_predictor_create(const char *model_dir, const int *folds, int nfolds,
                        const ps_predict_options *opt, const ps_context *ctx,
                        ps_predictor **out)
{
    *out = NULL;
    if (!model_dir || nfolds < 0 || nfolds > MAX_FOLDS || (nfolds && !folds))
        return ps_error(PS_ERR_ARG, "ps_predictor_create: invalid model folder or folds");
    ps_predictor *p = ps_calloc(1, sizeof *p);
    if (!p)
        return PS_ERR_NOMEM;
    if (opt)
        p->opt = *opt;
    else
        ps_predict_options_init(&p->opt);
    if (ctx)
        p->ctx = *ctx;
    else
        ps_context_init(&p->ctx);
    int rc = PS_OK;
    if (!(p->opt.step > 0 && p->opt.step <= 1)) {
        rc = ps_error(PS_ERR_ARG, "the sliding-window step must be in (0, 1], not %g",
                      p->opt.step);
        goto fail;
    }
    if (!(p->dir = ps_asprintf("%s", model_dir))) {
        rc = PS_ERR_NOMEM;
        goto fail;
    }
    if (nfolds == 0) {
        if ((rc = find_folds(model_dir, p->folds, &p->nfolds)))
            goto fail;
    } else {
        memcpy(p->folds, folds, (size_t)nfolds * sizeof *folds);
        p->nfolds = nfolds;
    }
    for (int f = 0; f < p->nfolds; f++) {
        if ((rc = ps_model_load(model_dir, p->folds[f], p->opt.checkpoint, &p->models[f])))
            goto fail;
        const ps_plans *a = &p->models[0]->plans, *b = &p->models[f]->plans;
        if (a->num_classes != b->num_classes || a->num_input_channels != b->num_input_channels ||
            memcmp(a->patch_size, b->patch_size, sizeof a->patch_size) ||
            memcmp(a->spacing, b->spacing, sizeof a->spacing)) {
            rc = ps_error(PS_ERR_FORMAT, "%s: the plans of fold %d and fold %d differ (classes, "
                          "modalities, patch or spacing): they cannot be ensembled", model_dir,
                          p->folds[0], p->folds[f]);
            goto fail;
        }
    }
    if (p->nfolds == 1 &&
        (rc = ps_net_create(p->models[0], p->models[0]->plans.patch_size, p->opt.backend,
                            &p->ctx, &p->net)))
        goto fail;
    if (p->opt.postprocessing) {
        char *pp = ps_asprintf("%s/postprocessing.json", model_dir);
        if (!pp) {
            rc = PS_ERR_NOMEM;
            goto fail;
        }
        if (access(pp, F_OK) == 0) {
            rc = ps_postprocessing_read(pp, &p->pp);
            p->have_pp = rc == PS_OK;
        } else {
            ps_log(&p->ctx, PS_LOG_INFO, "%s not found: no postprocessing (nnU-Net warns and "
                   "skips it too)", pp);
        }
        free(pp);
        if (rc)
            goto fail;
    }
    *out = p;
    return PS_OK;
fail:
    ps_predictor_free(p);
    return rc;
}

/* size and FNV-1a 64 of the first and last MiB of a file ("absent" when it cannot be read) */
static char *file_stamp(const char *path)
{
    FILE *f = fopen(path, "rb");
    struct stat st;
    if (!f || fstat(fileno(f), &st)) {
        if (f)
            fclose(f);
        return ps_strdup("absent");
    }
    enum { PART = 1 << 20 };
    unsigned char *buf = malloc(PART);
    uint64_t h = 0xcbf29ce484222325ull;
    for (int part = 0; buf && part < 2; part++) {
        off_t at = part == 0 ? 0 : st.st_size > 2 * PART ? st.st_size - PART : PART;
        if (part == 1 && st.st_size <= PART)
            break;
        size_t n = fseeko(f, at, SEEK_SET) ? 0 : fread(buf, 1, PART, f);
        for (size_t k = 0; k < n; k++) {
            h ^= buf[k];
            h *= 0x100000001b3ull;
        }
    }
    free(buf);
    fclose(f);
    return ps_asprintf("%lld:%016llx", (long long)st.st_size, (unsigned long long)h);
}

char *ps_predictor_identity(const ps_predictor *p)
{
    char *real = realpath(p->dir, NULL);
    char folds[MAX_FOLDS * 5 + 1] = "", *files = ps_strdup("");
    for (int f = 0; f < p->nfolds && files; f++) {
        size_t u = strlen(folds);
        snprintf(folds + u, sizeof folds - u, "%s%d", f ? "," : "", p->folds[f]);
        char *st = file_stamp(p->models[f]->checkpoint_path);
        char *t = st ? ps_asprintf("%s\tfold%d=%s", files, p->folds[f], st) : NULL;
        free(st);
        free(files);
        files = t;
    }
    char *pp = ps_asprintf("%s/postprocessing.json", p->dir);
    char *pps = pp && p->have_pp ? file_stamp(pp) : ps_strdup("-");
    char *s = files && pps
                  ? ps_asprintf("model=%s\tfolds=%s\tcheckpoint=%s\tmirroring=%d\tstep=%.17g\t"
                                "postprocessing=%d\tbackend=%s%s\tpostprocessing.json=%s",
                                real ? real : p->dir, folds,
                                p->opt.checkpoint ? p->opt.checkpoint : "model_final_checkpoint",
                                p->opt.mirroring, p->opt.step, p->have_pp,
                                ps_conv_backend_name(p->opt.backend), files, pps)
                  : NULL;
    free(real);
    free(files);
    free(pp);
    free(pps);
    return s;
}

void ps_predictor_free(ps_predictor *p)
{
    if (!p)
        return;
    ps_net_free(p->net);
    for (int f = 0; f < p->nfolds; f++)
        ps_model_free(p->models[f]);
    free(p->dir);
    free(p);
}

const ps_plans *ps_predictor_plans(const ps_predictor *p) { return &p->models[0]->plans; }
int ps_predictor_nfolds(const ps_predictor *p) { return p->nfolds; }
const ps_predict_timing *ps_predictor_timing(const ps_predictor *p) { return &p->timing; }

int ps_predictor_print_profile(const ps_predictor *p, FILE *f)
{
    if (!p->net)
        return ps_error(PS_ERR_UNSUPPORTED, "the per-layer profile is kept for one fold only");
    return ps_net_print_profile(p->net, f);
}

/* out (shape m, m[a] = n[perm[a]]) = in (shape n) with axes permuted: numpy's transpose */
static void transpose3(const float *in, const int64_t n[3], const int perm[3], float *out,
                       int threads)
{
    int64_t m[3] = {n[perm[0]], n[perm[1]], n[perm[2]]};
    int64_t st[3] = {n[1] * n[2], n[2], 1};
    int64_t s0 = st[perm[0]], s1 = st[perm[1]], s2 = st[perm[2]];
#pragma omp parallel for num_threads(threads) schedule(static)
    for (int64_t a = 0; a < m[0]; a++)
        for (int64_t b = 0; b < m[1]; b++) {
            float *d = out + (a * m[1] + b) * m[2];
            const float *s = in + a * s0 + b * s1;
            for (int64_t c = 0; c < m[2]; c++)
                d[c] = s[c * s2];
        }
}

static int is_identity(const int perm[3]) { return perm[0] == 0 && perm[1] == 1 && perm[2] == 2; }

/* The peak memory of one case, from the shapes (bytes): inputs, the cropped/resampled copies
 * in double for the resize, the network input, the sliding-window buffers, the fold sum, the
 * export buffers and the outputs, plus the network's feature-map arena. */
static int64_t estimate_bytes(int C, int K, int64_t n_orig, int64_t n_crop, int64_t n_res,
                              int64_t n_pad, int64_t arena, int want_prob)
{
    double b = 4.0 * C * (double)n_orig;                     /* inputs                   */
    double pre = 8.0 * ((double)n_crop + 3.0 * (double)n_res) + 4.0 * C * (double)n_res;
    double slide = 4.0 * ((C + K + 1) * (double)n_pad) + 4.0 * K * (double)n_res +
                   4.0 * C * (double)n_res + (double)arena;
    double exp_ = 4.0 * K * ((double)n_res + (double)n_crop) +
                  8.0 * ((double)n_res + 2.0 * (double)n_crop) + 4.0 * (double)n_orig * 2;
    double outp = (want_prob ? 4.0 * K * (double)n_orig : 0) + 2.0 * (double)n_orig;
    double peak = fmax(pre, fmax(slide, exp_));
    b += peak + outp;
    return b > 9e18 ? INT64_MAX : (int64_t)b;
}

static int64_t physical_memory(void)
{
    long pages = sysconf(_SC_PHYS_PAGES), psz = sysconf(_SC_PAGESIZE);
    if (pages <= 0 || psz <= 0)
        return INT64_MAX;
    return (int64_t)pages * psz;
}

/* the resize of one float32 channel through double (nnU-Net: data.astype(float), resize,
 * .astype(float32)) */
static int resize_channel(const float *in, const int64_t n[3], float *out, const int64_t m[3],
                          int order, int sep_axis, int threads)
{
    int64_t ni = ps_n3(n), no = ps_n3(m);
    double *din = ps_malloc_array((size_t)ni, sizeof *din);
    double *dout = ps_malloc_array((size_t)no, sizeof *dout);
    int rc = PS_ERR_NOMEM;
    if (din && dout) {
#pragma omp parallel for num_threads(threads) schedule(static)
        for (int64_t v = 0; v < ni; v++)
            din[v] = in[v];
        rc = ps_resize3d(din, n, dout, m, order, sep_axis, 0, threads);
        if (!rc) {
#pragma omp parallel for num_threads(threads) schedule(static)
            for (int64_t v = 0; v < no; v++)
                out[v] = (float)dout[v];
        }
    }
    free(din);
    free(dout);
    return rc;
}

/* resize_segmentation(seg, new_shape, order 1) of the nonzero-mask labels {-1, 0}, per slice
 * with separate z (then nearest along z): label -1 where the resized one-hot of -1 is >= 0.5
 * and that of 0 is not (the later label wins in resize_segmentation). mask: 1 = label 0. */
static int resize_mask(const uint8_t *in, const int64_t n[3], uint8_t *out, const int64_t m[3],
                       int sep_axis, int threads)
{
    int64_t ni = ps_n3(n), no = ps_n3(m);
    double *a = ps_malloc_array((size_t)ni, sizeof *a);
    double *rneg = ps_malloc_array((size_t)no, sizeof *rneg);
    double *rzero = ps_malloc_array((size_t)no, sizeof *rzero);
    int rc = PS_ERR_NOMEM;
    if (a && rneg && rzero) {
        for (int64_t v = 0; v < ni; v++)
            a[v] = in[v] ? 0.0 : 1.0;
        rc = ps_resize3d(a, n, rneg, m, 1, sep_axis, 0, threads);
        if (!rc) {
            for (int64_t v = 0; v < ni; v++)
                a[v] = in[v] ? 1.0 : 0.0;
            rc = ps_resize3d(a, n, rzero, m, 1, sep_axis, 0, threads);
        }
        if (!rc)
            for (int64_t v = 0; v < no; v++)
                out[v] = !(rneg[v] >= 0.5 && !(rzero[v] >= 0.5));
    }
    free(a);
    free(rneg);
    free(rzero);
    return rc;
}

static int read_inputs(ps_predictor *p, const char *const *inputs, int n, ps_volume **vols)
{
    const ps_plans *pl = &p->models[0]->plans;
    if (n != pl->num_input_channels)
        return ps_error(PS_ERR_ARG, "the model has %d modalit%s (%s...), but %d input%s given: "
                        "give one --input per modality, in the model's order", 
                        pl->num_input_channels, pl->num_input_channels == 1 ? "y" : "ies",
                        pl->normalization[0], n, n == 1 ? " was" : "s were");
    for (int c = 0; c < n; c++) {
        int rc = ps_volume_read_float(inputs[c], &vols[c]);
        if (rc)
            return rc;
        const ps_volume *v = vols[c];
        if (v->nc != 1)
            return ps_error(PS_ERR_FORMAT, "%s: a 4D image (4th dimension %lld); each modality "
                            "must be a 3D image of its own (nnU-Net's _0000, _0001 files)",
                            inputs[c], (long long)v->nc);
        if (v->geom.dim[2] < 2 || v->geom.dim[1] < 2 || v->geom.dim[0] < 2)
            return ps_error(PS_ERR_FORMAT, "%s: a %lld x %lld x %lld image is not 3D; the model "
                            "segments 3D images", inputs[c], (long long)v->geom.dim[0],
                            (long long)v->geom.dim[1], (long long)v->geom.dim[2]);
        if (c > 0 && (rc = ps_geometry_check_same(&vols[0]->geom, inputs[0], &v->geom,
                                                   inputs[c])))
            return ps_error_context(rc, "the modalities of one case must share one voxel grid");
        const float *x = v->data;
        int64_t nv = ps_volume_nvox(v), bad = INT64_MAX;
#pragma omp parallel for num_threads(ps_context_threads(&p->ctx)) reduction(min : bad)
        for (int64_t i = 0; i < nv; i++)
            if (!isfinite(x[i]) && i < bad)
                bad = i;
        if (bad != INT64_MAX) {
            int64_t nx = v->geom.dim[0], ny = v->geom.dim[1];
            return ps_error(PS_ERR_FORMAT, "%s: voxel (%lld, %lld, %lld) is %s; the image must "
                            "hold finite values", inputs[c], (long long)(bad % nx),
                            (long long)(bad / nx % ny), (long long)(bad / nx / ny),
                            isnan(x[bad]) ? "NaN" : "infinite");
        }
    }
    return PS_OK;
}

int ps_predictor_run(ps_predictor *p, const char *const *inputs, int n, ps_volume **seg_out,
                     ps_volume **prob_out)
{
    *seg_out = NULL;
    if (prob_out)
        *prob_out = NULL;
    const ps_plans *pl = &p->models[0]->plans;
    const int threads = ps_context_threads(&p->ctx);
    const int C = pl->num_input_channels, K = pl->num_classes + 1;
    ps_predict_timing *tm = &p->timing;
    memset(tm, 0, sizeof *tm);
    double t0 = ps_now_seconds(), t1;
    ps_volume *vols[8] = {0};
    float *crop[8] = {0}, *data = NULL, *prob = NULL, *back = NULL, *tmpk = NULL;
    uint8_t *mask = NULL, *mask_res = NULL;
    int32_t *labels = NULL;
    ps_volume *seg = NULL, *pv = NULL;
    ps_net *net = NULL;
    int rc;
    if (n < 0 || n > 8) {
        rc = ps_error(PS_ERR_ARG, "%d inputs: at most 8 modalities", n);
        goto done;
    }
    if ((rc = read_inputs(p, inputs, n, vols)))
        goto done;
    t1 = ps_now_seconds();
    tm->read_s = t1 - t0;

    /* 2. crop (numpy axes (z, y, x) = NIfTI (k, j, i)) */
    const ps_geometry *g0 = &vols[0]->geom;
    /* the output geometry: the first input's header placement, exactly (dims, pixdim, qform
     * and sform with their codes, units) */
    const ps_geometry geo = *g0;
    const int64_t n_orig[3] = {g0->dim[2], g0->dim[1], g0->dim[0]};
    const double sp_orig[3] = {g0->spacing_mm[2], g0->spacing_mm[1], g0->spacing_mm[0]};
    const float *chans[8];
    for (int c = 0; c < C; c++)
        chans[c] = vols[c]->data;
    int need_mask = 0;
    for (int c = 0; c < C; c++)
        need_mask |= pl->use_mask_for_norm[c];
    int64_t box[3][2];
    if ((rc = ps_crop_box(chans, C, n_orig, box, need_mask ? &mask : NULL, threads))) {
        rc = ps_error_context(rc, "%s", inputs[0]);
        goto done;
    }
    const int64_t n_crop[3] = {box[0][1] - box[0][0], box[1][1] - box[1][0],
                               box[2][1] - box[2][0]};
    const int *tf = pl->transpose_forward, *tb = pl->transpose_backward;
    int64_t n_t[3];
    double sp_t[3];
    for (int a = 0; a < 3; a++) {
        n_t[a] = n_crop[tf[a]];
        sp_t[a] = sp_orig[tf[a]];
    }
    int64_t n_res[3];
    ps_resampled_shape(n_t, sp_t, pl->spacing, n_res);
    int resample = n_res[0] != n_t[0] || n_res[1] != n_t[1] || n_res[2] != n_t[2];
    int64_t n_pad = 1;
    for (int d = 0; d < 3; d++) {
        if (n_res[d] < 1) {
            rc = ps_error(PS_ERR_FORMAT, "%s: resampling the %lld-voxel axis from %g mm to %g mm "
                          "leaves no voxel", inputs[0], (long long)n_t[d], sp_t[d],
                          pl->spacing[d]);
            goto done;
        }
        n_pad *= n_res[d] > pl->patch_size[d] ? n_res[d] : pl->patch_size[d];
    }
    /* the memory check, before anything large is allocated */
    {
        ps_net *tmpnet = p->net;
        int64_t arena = 0;
        if (tmpnet)
            arena = ps_net_activation_bytes(tmpnet);
        else
            arena = (int64_t)96 * 4 * pl->patch_size[0] * pl->patch_size[1] * pl->patch_size[2];
        int64_t est = estimate_bytes(C, K, ps_n3(n_orig), ps_n3(n_crop), ps_n3(n_res), n_pad,
                                     arena, prob_out != NULL);
        int64_t limit = p->opt.max_memory_bytes > 0 ? p->opt.max_memory_bytes
                                                    : physical_memory();
        tm->estimated_bytes = est;
        if (est > limit) {
            rc = ps_error(PS_ERR_NOMEM, "%s: this case needs about %.1f GiB (image %lld x %lld x "
                          "%lld, %lld x %lld x %lld after resampling to %g x %g x %g mm), more "
                          "than the %.1f GiB available; refusing it", inputs[0],
                          (double)est / 1073741824.0, (long long)n_orig[2], (long long)n_orig[1],
                          (long long)n_orig[0], (long long)n_res[tb[2]], (long long)n_res[tb[1]],
                          (long long)n_res[tb[0]], pl->spacing[2], pl->spacing[1],
                          pl->spacing[0], (double)limit / 1073741824.0);
            goto done;
        }
    }
    /* crop + transpose_forward */
    const int64_t N_t = ps_n3(n_t), N_res = ps_n3(n_res);
    for (int c = 0; c < C; c++) {
        float *cc = ps_malloc_array((size_t)N_t, sizeof *cc);
        float *raw = ps_malloc_array((size_t)N_t, sizeof *raw);
        if (!cc || !raw) {
            free(cc);
            free(raw);
            rc = PS_ERR_NOMEM;
            goto done;
        }
        const float *src = chans[c];
#pragma omp parallel for num_threads(threads) schedule(static)
        for (int64_t i = 0; i < n_crop[0]; i++)
            for (int64_t j = 0; j < n_crop[1]; j++)
                memcpy(raw + (i * n_crop[1] + j) * n_crop[2],
                       src + ((i + box[0][0]) * n_orig[1] + j + box[1][0]) * n_orig[2] + box[2][0],
                       (size_t)n_crop[2] * sizeof *raw);
        if (is_identity(tf)) {
            free(cc);
            cc = raw;
        } else {
            transpose3(raw, n_crop, tf, cc, threads);
            free(raw);
        }
        crop[c] = cc;
    }
    for (int c = 0; c < C; c++) {
        ps_volume_free(vols[c]);
        vols[c] = NULL;
    }
    if (mask && !is_identity(tf)) {
        float *mf = ps_malloc_array((size_t)N_t, sizeof *mf), *mt = ps_malloc_array((size_t)N_t, sizeof *mt);
        if (!mf || !mt) {
            free(mf);
            free(mt);
            rc = PS_ERR_NOMEM;
            goto done;
        }
        for (int64_t v = 0; v < N_t; v++)
            mf[v] = mask[v];
        transpose3(mf, n_crop, tf, mt, threads);
        for (int64_t v = 0; v < N_t; v++)
            mask[v] = mt[v] != 0.0f;
        free(mf);
        free(mt);
    }

    /* 3. resample (resample_patient: order 3 data, order 1 mask, order 0 along separate z) */
    const int sep = ps_separate_z_axis(sp_t, pl->spacing);
    if (!(data = ps_malloc_array((size_t)(C * N_res), sizeof *data))) {
        rc = PS_ERR_NOMEM;
        goto done;
    }
    for (int c = 0; c < C; c++) {
        if (resample) {
            if ((rc = resize_channel(crop[c], n_t, data + c * N_res, n_res, 3, sep, threads)))
                goto done;
        } else {
            memcpy(data + c * N_res, crop[c], (size_t)N_res * sizeof *data);
        }
        free(crop[c]);
        crop[c] = NULL;
    }
    if (mask) {
        if (resample) {
            if (!(mask_res = ps_malloc((size_t)N_res))) {
                rc = PS_ERR_NOMEM;
                goto done;
            }
            if ((rc = resize_mask(mask, n_t, mask_res, n_res, sep, threads)))
                goto done;
            free(mask);
        } else {
            mask_res = mask;
        }
        mask = NULL;
    }
    ps_pipeline_trace *tr = p->trace;
    if (tr) {
        memcpy(tr->box, box, sizeof tr->box);
        memcpy(tr->n_net, n_res, sizeof tr->n_net);
        tr->sep_axis = resample ? sep : -1;
        tr->resampled = dup_bytes(data, (size_t)(C * N_res) * sizeof *data);
        if (mask_res)
            tr->mask = dup_bytes(mask_res, (size_t)N_res);
    }
    /* 4. normalise */
    for (int c = 0; c < C; c++)
        if ((rc = ps_normalize_channel(data + c * N_res, N_res, pl, c, mask_res, threads))) {
            rc = ps_error_context(rc, "%s", inputs[c]);
            goto done;
        }
    free(mask_res);
    mask_res = NULL;
    if (tr)
        tr->normalized = dup_bytes(data, (size_t)(C * N_res) * sizeof *data);
    t1 = ps_now_seconds();
    tm->preprocess_s = t1 - t0 - tm->read_s;

    /* 5. the network, fold by fold */
    if (!(prob = ps_malloc_array((size_t)(K * N_res), sizeof *prob))) {
        rc = PS_ERR_NOMEM;
        goto done;
    }
    ps_sliding_stats st = {0};
    for (int f = 0; f < p->nfolds; f++) {
        net = p->net;
        if (!net && (rc = ps_net_create(p->models[f], pl->patch_size, p->opt.backend, &p->ctx,
                                        &net)))
            goto done;
        ps_sliding_stats sf = {0};
        rc = ps_sliding_predict(net, f > 0, data, C, n_res, pl->patch_size, K, p->opt.step,
                                p->opt.mirroring, prob, &sf, threads);
        if (net != p->net)
            ps_net_free(net);
        net = NULL;
        if (rc)
            goto done;
        st.tiles = sf.tiles;
        st.passes += sf.passes;
        st.net_seconds += sf.net_seconds;
        st.conv_flops += sf.conv_flops;
    }
    if (p->nfolds > 1) {
        const float div = (float)p->nfolds;
#pragma omp parallel for num_threads(threads) schedule(static)
        for (int64_t v = 0; v < K * N_res; v++)
            prob[v] /= div;
    }
    free(data);
    data = NULL;
    if (tr)
        tr->softmax_net = dup_bytes(prob, (size_t)(K * N_res) * sizeof *prob);
    tm->tiles = st.tiles;
    tm->passes = st.passes;
    tm->net_forward_s = st.net_seconds;
    tm->flops = st.conv_flops;
    double t2 = ps_now_seconds();
    tm->network_s = t2 - t1;

    /* 6. export: transpose_backward, resample back, argmax, uncrop */
    int64_t n_b[3] = {n_res[tb[0]], n_res[tb[1]], n_res[tb[2]]};
    const int64_t N_crop = ps_n3(n_crop), N_orig = ps_n3(n_orig);
    if (!is_identity(tb)) {
        if (!(tmpk = ps_malloc_array((size_t)N_res, sizeof *tmpk))) {
            rc = PS_ERR_NOMEM;
            goto done;
        }
        for (int k = 0; k < K; k++) {
            transpose3(prob + k * N_res, n_res, tb, tmpk, threads);
            memcpy(prob + k * N_res, tmpk, (size_t)N_res * sizeof *tmpk);
        }
        free(tmpk);
        tmpk = NULL;
    }
    int back_resample = n_b[0] != n_crop[0] || n_b[1] != n_crop[1] || n_b[2] != n_crop[2];
    if (back_resample) {
        /* save_segmentation_nifti_from_softmax: original spacing first, then the spacing after
         * resampling (as stored: in transposed order) */
        int esep = ps_separate_z_axis(sp_orig, pl->spacing);
        if (tr)
            tr->export_sep_axis = esep;
        if (!(back = ps_malloc_array((size_t)(K * N_crop), sizeof *back))) {
            rc = PS_ERR_NOMEM;
            goto done;
        }
        for (int k = 0; k < K; k++)
            if ((rc = resize_channel(prob + k * N_res, n_b, back + k * N_crop, n_crop, 1, esep,
                                     threads)))
                goto done;
        free(prob);
        prob = NULL;
    } else {
        back = prob;
        prob = NULL;
    }
    if (tr)
        tr->softmax_back = dup_bytes(back, (size_t)(K * N_crop) * sizeof *back);
    if (!(labels = ps_calloc((size_t)N_orig, sizeof *labels))) {
        rc = PS_ERR_NOMEM;
        goto done;
    }
    {
        int16_t *lab16 = ps_malloc_array((size_t)N_crop, sizeof *lab16);
        if (!lab16) {
            rc = PS_ERR_NOMEM;
            goto done;
        }
        ps_argmax(back, K, N_crop, NULL, lab16, threads);
#pragma omp parallel for num_threads(threads) schedule(static)
        for (int64_t i = 0; i < n_crop[0]; i++)
            for (int64_t j = 0; j < n_crop[1]; j++)
                for (int64_t k = 0; k < n_crop[2]; k++)
                    labels[((i + box[0][0]) * n_orig[1] + j + box[1][0]) * n_orig[2] + k +
                           box[2][0]] = lab16[(i * n_crop[1] + j) * n_crop[2] + k];
        free(lab16);
    }
    /* 7. postprocessing and the output volumes */
    if (p->have_pp && p->opt.postprocessing) {
        /* volume_per_voxel = prod(ITK spacing) = sx * sy * sz */
        double vpv = geo.spacing_mm[0] * geo.spacing_mm[1] * geo.spacing_mm[2];
        if ((rc = ps_postprocess_apply(labels, n_orig, vpv, &p->pp)))
            goto done;
    }
    ps_dtype sdt = K - 1 > 255 ? PS_DT_INT16 : PS_DT_UINT8;
    if ((rc = ps_volume_create(&geo, 1, sdt, &seg)))
        goto done;
    seg->scl_slope = seg->scl_inter = 0.0;
    if (sdt == PS_DT_UINT8) {
        uint8_t *d = seg->data;
        for (int64_t v = 0; v < N_orig; v++)
            d[v] = (uint8_t)labels[v];
    } else {
        int16_t *d = seg->data;
        for (int64_t v = 0; v < N_orig; v++)
            d[v] = (int16_t)labels[v];
    }
    if (prob_out) {
        if ((rc = ps_volume_create(&geo, K, PS_DT_FLOAT32, &pv)))
            goto done;
        pv->scl_slope = pv->scl_inter = 0.0;
        float *d = pv->data;
        for (int64_t v = 0; v < N_orig; v++)
            d[v] = 1.0f; /* class 0 outside the box; the others are 0 (calloc) */
#pragma omp parallel for num_threads(threads) schedule(static)
        for (int k = 0; k < K; k++)
            for (int64_t i = 0; i < n_crop[0]; i++)
                for (int64_t j = 0; j < n_crop[1]; j++)
                    memcpy(d + k * N_orig + ((i + box[0][0]) * n_orig[1] + j + box[1][0]) *
                                                n_orig[2] + box[2][0],
                           back + k * N_crop + (i * n_crop[1] + j) * n_crop[2],
                           (size_t)n_crop[2] * sizeof *d);
    }
    double t3 = ps_now_seconds();
    tm->export_s = t3 - t2;
    tm->total_s = t3 - t0;
    *seg_out = seg;
    seg = NULL;
    if (prob_out) {
        *prob_out = pv;
        pv = NULL;
    }
done:
    for (int c = 0; c < 8; c++) {
        ps_volume_free(vols[c]);
        free(crop[c]);
    }
    free(data);
    free(prob);
    free(back);
    free(tmpk);
    free(mask);
    free(mask_res);
    free(labels);
    ps_volume_free(seg);
    ps_volume_free(pv);
    return rc;
}

int ps_predictor_run_files(ps_predictor *p, const char *const *inputs, int n,
                           const char *seg_path, const char *prob_path)
{
    ps_volume *seg = NULL, *prob = NULL;
    int rc = ps_predictor_run(p, inputs, n, &seg, prob_path ? &prob : NULL);
    if (!rc && prob_path)
        rc = ps_volume_write(prob_path, prob);
    if (!rc && (rc = ps_volume_write(seg_path, seg)) && prob_path)
        unlink(prob_path); /* nothing half-written: no PROB without its SEG */
    ps_volume_free(seg);
    ps_volume_free(prob);
    return rc;
}

int ps_predict_files(const char *model_dir, const int *folds, int nfolds,
                     const ps_predict_options *opt, const char *const *inputs, int n,
                     const char *seg_path, const char *prob_path, int profile,
                     const ps_context *ctx)
{
    double t0 = ps_now_seconds();
    ps_predictor *p = NULL;
    int rc = ps_predictor_create(model_dir, folds, nfolds, opt, ctx, &p);
    double t1 = ps_now_seconds();
    if (!rc)
        rc = ps_predictor_run_files(p, inputs, n, seg_path, prob_path);
    if (!rc) {
        const ps_predict_timing *t = ps_predictor_timing(p);
        ps_log(ctx, PS_LOG_INFO,
               "%s: %d fold(s), %lld tiles, %lld network passes; model %.2f s, read %.2f s, "
               "preprocessing %.2f s, network %.2f s (%.1f GFLOP/s in the passes), export "
               "%.2f s, total %.2f s", seg_path, ps_predictor_nfolds(p), (long long)t->tiles,
               (long long)t->passes, t1 - t0, t->read_s, t->preprocess_s, t->network_s,
               t->net_forward_s > 0 ? t->flops * 1e-9 / t->net_forward_s : 0.0, t->export_s,
               ps_now_seconds() - t0);
        if (profile)
            ps_predictor_print_profile(p, stderr);
    }
    ps_predictor_free(p);
    return rc;
}
