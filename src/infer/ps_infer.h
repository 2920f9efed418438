/* ps_infer.h - CPU inference core for nnU-Net v1 / PanSegNet checkpoints.
 *
 * Part 2 (the end of this header): the predictor, which segments whole images exactly as
 * nnU-Net v1's predict_cases does (docs/inference.md, "Whole-image prediction").
 *
 * Part 1: read a model folder (torch.save zip + pickles, no code execution) into plans and a
 * state dict of float32 tensors, build Generic_UNet (optionally with PanSegNet's linear
 * attention bottleneck) and run one forward pass on a prepared patch.
 *
 * Tensor layout everywhere in this header: PyTorch's, contiguous, row-major (last index
 * fastest). A network input is (C, D, H, W); logits are (K, D, H, W).
 */
#ifndef PS_INFER_H
#define PS_INFER_H

#include <stdint.h>

#include "ps_core.h"
#include "ps_io.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ---- checkpoint contents ------------------------------------------------------------------ */
#define PS_TENSOR_MAXDIM 8

typedef struct ps_tensor {
    char *name;                       /* state-dict key                                     */
    int ndim;
    int64_t shape[PS_TENSOR_MAXDIM];
    int64_t numel;
    float *data;                      /* contiguous float32 (converted from half/double)   */
} ps_tensor;

typedef struct ps_state_dict {
    int n;
    ps_tensor *tensors;
} ps_state_dict;

/* Tensor by key, or NULL. */
const ps_tensor *ps_state_dict_get(const ps_state_dict *sd, const char *name);
/* Free the tensors and names (sd itself is not freed; it is left empty). */
void ps_state_dict_clear(ps_state_dict *sd);
/* Total number of elements over all tensors. */
int64_t ps_state_dict_numel(const ps_state_dict *sd);
/* Read the state dict of a torch.save file (the zip format of PyTorch >= 1.6, or the legacy
 * stream format): the top-level 'state_dict' entry when the saved object is a dict that has
 * one (nnU-Net checkpoints), else the saved dict itself. Tensors of any storage type and
 * layout become contiguous float32. PS_ERR_FORMAT naming the file and the problem for anything
 * malformed, PS_ERR_UNSUPPORTED for valid files we do not read (storage views, tar format).
 * `ps_checkpoint_parse_state_dict` does the same on a buffer (`name` is used in messages).
 * Never executes pickled code. */
int ps_checkpoint_read_state_dict(const char *path, ps_state_dict *out);
int ps_checkpoint_parse_state_dict(const void *buf, size_t len, const char *name,
                                   ps_state_dict *out);
/* Tensor by key with an expected shape (ndim entries); PS_ERR_FORMAT naming the key and both
 * shapes when missing or different. */
int ps_state_dict_require(const ps_state_dict *sd, const char *name, int ndim,
                          const int64_t *shape, const ps_tensor **out);

#define PS_MAX_STAGES 10

/* The plans of one stage as nnU-Net v1 stores them (plans.pkl / model_final_checkpoint.model.pkl). */
typedef struct ps_plans {
    int num_classes;             /* excluding background                                   */
    int num_input_channels;
    int base_num_features;       /* 32                                                     */
    int stage;                   /* from init[5]                                           */
    int num_pool;                /* number of down-sampling steps                           */
    int pool_kernels[PS_MAX_STAGES][3];  /* per pooling step, (z, y, x) as in the plans    */
    int conv_kernels[PS_MAX_STAGES + 1][3];
    int patch_size[3];
    double spacing[3];           /* target spacing of the stage, as in the plans (z, y, x) */
    char trainer[128];           /* e.g. "nnTransUNetTrainerV2"                            */
    char normalization[8][32];   /* normalization_schemes per modality ("CT", "nonCT")      */
    int num_modalities;
    int num_stages;              /* len(plans_per_stage)                                    */
    int transpose_forward[3];    /* plans['transpose_forward'] (identity when absent)      */
    int transpose_backward[3];
    int use_mask_for_norm[8];    /* plans['use_mask_for_norm'][m] (0 when absent)           */
    /* plans['dataset_properties']['intensityproperties'][m], used by CT normalisation:
     * clip to [percentile_00_5, percentile_99_5], then (x - mean) / sd. */
    struct ps_plans_intensity {
        int present;
        double mean, sd, percentile_00_5, percentile_99_5;
    } intensity[8];
} ps_plans;

typedef struct ps_model {
    ps_plans plans;
    ps_state_dict sd;
    int has_attention;           /* state dict has "self_atten." keys (PanSegNet)          */
    char *dir;
    int fold;                    /* -1 for the folder "all"                                */
    char *checkpoint_path;
    int64_t epoch;               /* the checkpoint's 'epoch' entry, -1 when absent         */
} ps_model;

/* Load MODEL_DIR/fold_<fold>/<checkpoint>.model and its .model.pkl (plans from plans.pkl
 * when the .model.pkl has none). fold -1 means the folder "all"; checkpoint NULL means
 * "model_final_checkpoint". Every failure names the file and what is wrong. Never executes
 * pickled code. The layout and what is read are documented in docs/checkpoints.md. */
int ps_model_load(const char *model_dir, int fold, const char *checkpoint, ps_model **out);
void ps_model_free(ps_model *m);

/* ---- the network ------------------------------------------------------------------------- */
typedef struct ps_net ps_net;

typedef enum ps_conv_backend {
    PS_CONV_AUTO = 0,   /* oneDNN when built with it, else the reference path */
    PS_CONV_REFERENCE,  /* portable C (kept for testing)                       */
    PS_CONV_ONEDNN,     /* PS_ERR_UNSUPPORTED when built without oneDNN          */
} ps_conv_backend;

/* Build the network for inputs of spatial size patch[3] = (D, H, W). The model must outlive
 * the network. Errors: PS_ERR_ARG for a patch not divisible by the total down-sampling or (for
 * PanSegNet) a bottleneck token count different from the positional table; PS_ERR_FORMAT
 * naming the key for a missing or mis-shaped tensor; PS_ERR_UNSUPPORTED for the oneDNN
 * backend in a build without it. ctx (copied; NULL = defaults) gives the thread count.
 * One ps_net runs one forward pass at a time (it keeps the timings of the last one); distinct
 * networks may run concurrently. See docs/inference.md. */
int ps_net_create(const ps_model *m, const int patch[3], ps_conv_backend backend,
                  const ps_context *ctx, ps_net **out);
void ps_net_free(ps_net *net);
/* input: (C, D, H, W) float32; logits: (num_classes + 1, D, H, W), caller-allocated.
 * The first call allocates the network's feature-map arena (ps_net_activation_bytes()), which
 * later calls reuse and ps_net_free() releases. */
int ps_net_forward(ps_net *net, const float *input, float *logits);
/* Bytes of the feature-map arena of one pass (the attention block and the convolution
 * weights come on top). */
int64_t ps_net_activation_bytes(const ps_net *net);
/* Parameter count and multiply-accumulate FLOPs (2 per MAC) of one forward pass. */
int64_t ps_net_param_count(const ps_net *net);
double ps_net_flops(const ps_net *net);

/* "auto", "reference", "onednn"; parse returns PS_ERR_ARG for anything else. */
const char *ps_conv_backend_name(ps_conv_backend b);
int ps_conv_backend_parse(const char *s, ps_conv_backend *out);
/* The backend ps_net_create() resolved (never PS_CONV_AUTO). */
ps_conv_backend ps_net_backend(const ps_net *net);
/* Timing table of the last ps_net_forward(): per layer group (encoder stage, bottleneck,
 * decoder step, attention, head) convolution GFLOP, ms and GFLOP/s, instance norm ms, other ms. */
int ps_net_print_profile(const ps_net *net, FILE *f);

/* ---- model description (model_info.c; `panseval model-info`) ----------------------------- */
typedef struct ps_model_attn_info {
    int present, d_model, d_ff, layers, tokens, channels;  /* PanSegNet block, from shapes */
} ps_model_attn_info;
typedef struct ps_model_info {
    const ps_model *m;                 /* borrowed: must outlive the description           */
    ps_model_attn_info attn;
    int64_t params, sd_numel;          /* used at inference; all state-dict elements        */
    double flops;                      /* one forward pass at the training patch            */
    int size[PS_MAX_STAGES + 1][3];    /* feature-map size per encoder stage                */
} ps_model_info;
typedef enum ps_model_info_format {
    PS_MODEL_INFO_TEXT, PS_MODEL_INFO_JSON, PS_MODEL_INFO_TSV, PS_MODEL_INFO_CSV
} ps_model_info_format;
/* Describe m: builds the network at the training patch (which checks every tensor's shape)
 * for the parameter and FLOP counts. Errors are ps_net_create()'s, prefixed with the
 * checkpoint path. ctx (NULL = defaults) gives the thread count. */
int ps_model_info_compute(const ps_model *m, const ps_context *ctx, ps_model_info *out);
/* Print the description in one format (the layouts are in `panseval model-info --help` and
 * docs/checkpoints.md). Returns PS_ERR_ARG for an unknown format; stream errors are left to
 * whoever closes f. */
int ps_model_info_write(const ps_model_info *info, ps_model_info_format format, FILE *f);

/* ---- whole-image prediction (nnU-Net v1 predict_cases) ------------------------------------ */
typedef struct ps_predict_options {
    const char *checkpoint;    /* NULL = "model_final_checkpoint"                            */
    int mirroring;             /* 1 (default): 8-pass mirroring test-time augmentation        */
    double step;               /* sliding-window step as a fraction of the patch; 0.5         */
    int postprocessing;        /* 1 (default): apply MODEL_DIR/postprocessing.json if present */
    ps_conv_backend backend;   /* PS_CONV_AUTO                                                 */
    int64_t max_memory_bytes;  /* refuse a case whose estimated peak exceeds this; 0 = the
                                  physical memory of the machine                            */
} ps_predict_options;

void ps_predict_options_init(ps_predict_options *o);

/* Where the time of the last ps_predictor_run() went (seconds) and what it computed. */
typedef struct ps_predict_timing {
    double read_s, preprocess_s, network_s, export_s, total_s;
    double net_forward_s;       /* inside ps_net_forward() (part of network_s)             */
    double flops;               /* FLOPs of all network passes                              */
    int64_t tiles, passes;      /* tiles per fold, network passes in total                   */
    int64_t estimated_bytes;    /* the peak memory estimate that was checked                */
} ps_predict_timing;

typedef struct ps_predictor ps_predictor;

/* Load the folds of a model folder. folds: nfolds fold numbers (0..999) to ensemble, or
 * {-1} (nfolds 1) for the folder "all", or nfolds 0 for every fold_N folder present (in
 * increasing N). The folds must share plans (classes, modalities, patch). PS_ERR_FORMAT /
 * PS_ERR_IO naming the file for a folder without plans or checkpoints, PS_ERR_ARG for bad
 * options. ctx (copied; NULL = defaults) gives the thread count and the log. */
int ps_predictor_create(const char *model_dir, const int *folds, int nfolds,
                        const ps_predict_options *opt, const ps_context *ctx,
                        ps_predictor **out);
void ps_predictor_free(ps_predictor *p);
/* The plans of the model (of its first fold). */
const ps_plans *ps_predictor_plans(const ps_predictor *p);
int ps_predictor_nfolds(const ps_predictor *p);

/* Segment one case: inputs[0..n-1] are the modality files in the model's order (nnU-Net's
 * _0000, _0001, ...), n must equal the model's modalities; all must be 3D with one geometry
 * (ps_geometry_check_same) and hold no NaN or infinite voxel. On success *seg is the label map
 * (uint8, int16 beyond 255 classes) with the first input's geometry, and, when prob != NULL,
 * *prob the class probabilities (float32, 4D, classes on the 4th axis; outside the crop box
 * class 0 = 1). Errors name the file and the problem; a case whose estimated memory exceeds
 * the limit is refused (PS_ERR_NOMEM) with the estimate. Not thread-safe per predictor. */
int ps_predictor_run(ps_predictor *p, const char *const *inputs, int n, ps_volume **seg,
                     ps_volume **prob);
/* ps_predictor_run, then write SEG (and PROB when prob_path != NULL) atomically; on a failure
 * nothing is left behind. */
int ps_predictor_run_files(ps_predictor *p, const char *const *inputs, int n,
                           const char *seg_path, const char *prob_path);
const ps_predict_timing *ps_predictor_timing(const ps_predictor *p);
/* ps_net_print_profile() of the last network pass (one fold only: with several, each fold's
 * network is released after its case and PS_ERR_UNSUPPORTED is returned). */
int ps_predictor_print_profile(const ps_predictor *p, FILE *f);

/* `panseval infer --input ... --output SEG`: load the model (ps_predictor_create), segment
 * one case into seg_path (and prob_path) with ps_predictor_run_files, log the timing (model,
 * read, preprocessing, network, export) at info level, and with `profile` print the network
 * profile on stderr. Errors as those two functions. */
int ps_predict_files(const char *model_dir, const int *folds, int nfolds,
                     const ps_predict_options *opt, const char *const *inputs, int n,
                     const char *seg_path, const char *prob_path, int profile,
                     const ps_context *ctx);

/* The manifest form: every case of `m` that has an image (and image:1, ... for further
 * modalities) is segmented into OUT_DIR/CASE.nii.gz (the folder is created). An existing
 * output is kept and the case counted as skipped unless `force`. A failing case is reported
 * on the log (ERROR, naming the case, its manifest line and the problem) and the others go
 * on: res->failed counts them (the return value stays PS_OK). With manifest_out, a copy of
 * the manifest with the column pred:NAME (added, or replaced) is written atomically, every
 * path absolute. Progress (cases, ETA) goes to the log when ctx->progress allows.
 * Returns an error only for what stops every case (the folder, the copy, memory). */
struct ps_manifest;
typedef struct ps_predict_manifest_result {
    int64_t done, skipped, failed, no_image;
} ps_predict_manifest_result;
int ps_predict_manifest(ps_predictor *p, const struct ps_manifest *m, const char *name,
                        const char *out_dir, int force, const char *manifest_out,
                        ps_predict_manifest_result *res);

/* The parts of ps_predict_manifest, for drivers that spread the cases over processes
 * (src/eval's ps_eval_infer_run: journal, shards, MPI).
 * ps_predict_make_dir: create the folder and its parents (PS_ERR_IO naming it); *abs is its
 * real path (malloc'd), the folder the drivers write into, so that the copy's paths are
 * absolute.
 * ps_predict_manifest_case: case i of m into OUT_DIR/CASE.nii.gz, as ps_predict_manifest
 * does it, but a failure is not logged: r->message holds the line ps_predict_manifest logs
 * (ERROR), r->path the written or kept file (malloc'd; NULL unless DONE or SKIPPED). Returns
 * an error only for what stops every case (memory); clear r with ps_predict_case_clear.
 * ps_predict_manifest_write: the copy of m with the columns pred:NAMES[j] (replaced when the
 * manifest has one, else added after its pred: columns, in order) holding preds[j][case]
 * (NULL = an empty cell), written atomically to path as TSV. */
typedef enum ps_predict_case_status {
    PS_PREDICT_CASE_DONE,      /* predicted and written                                 */
    PS_PREDICT_CASE_SKIPPED,   /* the output existed and force was 0: kept              */
    PS_PREDICT_CASE_FAILED,    /* r->message says why; nothing written                  */
    PS_PREDICT_CASE_NO_IMAGE   /* the case has no image: not a case to predict          */
} ps_predict_case_status;
typedef struct ps_predict_case {
    ps_predict_case_status status;
    char *path;
    char *message;
} ps_predict_case;
int ps_predict_make_dir(const char *dir, char **abs);
int ps_predict_manifest_case(ps_predictor *p, const struct ps_manifest *m, int64_t i,
                             const char *out_dir, int force, ps_predict_case *r);
void ps_predict_case_clear(ps_predict_case *r);
int ps_predict_manifest_write(const struct ps_manifest *m, int nnames,
                              const char *const *names, char *const *const *preds,
                              const char *path);
/* What changes the predictions of p, as TAB-separated name=value text (malloc'd): the model
 * folder (its real path), the folds, the checkpoint, mirroring, step, postprocessing (as
 * applied: 1 only when postprocessing.json was read), the backend, and the size and
 * modification time of every fold's checkpoint file and of postprocessing.json. A journal
 * records it so that a resumed run refuses other options. NULL when out of memory. */
char *ps_predictor_identity(const ps_predictor *p);

#ifdef __cplusplus
}
#endif
#endif /* PS_INFER_H */
