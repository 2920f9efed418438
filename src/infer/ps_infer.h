/* ps_infer.h - CPU inference core for nnU-Net v1 / PanSegNet checkpoints.
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

#ifdef __cplusplus
}
#endif
#endif /* PS_INFER_H */
