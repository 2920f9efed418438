/* pipeline_internal.h - the stages of whole-image prediction (private to src/infer and its
 * tests). Each stage reproduces one step of nnU-Net v1's predict_cases as the PaNSegNet fork
 * runs it; the file that implements a stage names the nnU-Net source it follows.
 *
 * Arrays: a 3D array of shape n[3] is row-major with the last index fastest, i.e. the
 * SimpleITK / numpy order (z, y, x) = NIfTI (k, j, i); a NIfTI volume's voxel buffer is such
 * an array with n = (nk, nj, ni). Multi-channel arrays hold the channels one after another.
 *
 * Determinism: every stage gives the same bits for any thread count (voxel-wise loops, and
 * reductions over fixed chunks added in chunk order).
 */
#ifndef PS_PIPELINE_INTERNAL_H
#define PS_PIPELINE_INTERNAL_H

#include <stdint.h>

#include "ps_infer.h"

/* nnU-Net's RESAMPLING_SEPARATE_Z_ANISO_THRESHOLD (nnunet/configuration.py). */
#define PS_SEPARATE_Z_THRESHOLD 3.0

static inline int64_t ps_n3(const int64_t n[3]) { return n[0] * n[1] * n[2]; }

/* ---- crop (preprocessing/cropping.py) ------------------------------------------------------ */
/* Bounding box [lo, hi) per axis of the voxels that are non-zero in any of the nc channels
 * (each of shape n). PS_ERR_FORMAT when every voxel is zero (nnU-Net fails there too).
 * With mask != NULL, *mask gets the cropped non-zero mask with its holes filled (scipy's
 * binary_fill_holes: background not 6-connected to the border becomes foreground), one byte
 * per voxel of the box (1 inside the mask); the caller frees it. */
int ps_crop_box(const float *const *chans, int nc, const int64_t n[3], int64_t box[3][2],
                uint8_t **mask, int threads);

/* ---- resampling (preprocessing/preprocessing.py + skimage.transform.resize) ---------------- */
/* The separate-z decision of resample_patient: returns the low-resolution axis (0..2) when
 * max/min spacing of `spacing_a` exceeds 3 (else of `spacing_b`) and exactly one axis has the
 * largest spacing, else -1. spacing_b may be NULL. */
int ps_separate_z_axis(const double spacing_a[3], const double *spacing_b);

/* skimage.transform.resize(x, out_shape, order, mode='edge', anti_aliasing=False, clip=True)
 * of one 3D array in double (scipy.ndimage.zoom with grid_mode=True: input coordinate
 * (o + 0.5) * in / out - 0.5; order 3 after the B-spline prefilter on the edge-padded line;
 * output clipped to the input's [min, max]). With sep_axis >= 0 it is nnU-Net's
 * resample_data_or_seg with do_separate_z: each slice across sep_axis resized in 2D with
 * `order` (and clipped to that slice's range), then map_coordinates with order `order_z`
 * (0: nearest neighbour) along sep_axis. order is 0, 1 or 3; order_z 0 or 1. */
int ps_resize3d(const double *in, const int64_t n_in[3], double *out, const int64_t n_out[3],
                int order, int sep_axis, int order_z, int threads);

/* new_shape = round(spacing_from / spacing_to * shape) (numpy rounding: half to even). */
void ps_resampled_shape(const int64_t n[3], const double spacing_from[3],
                        const double spacing_to[3], int64_t out[3]);

/* ---- normalisation (GenericPreprocessor.resample_and_normalize) ----------------------------- */
/* In place on one channel of nvox float32 voxels. scheme "CT": clip to the plans' percentiles
 * 0.5 / 99.5 and (x - mean) / sd in float32, then 0 outside the mask when use_mask; any other
 * scheme: z-score with the image's own mean and SD (over the mask when use_mask, 0 outside).
 * mask (nonzero-mask label >= 0) may be NULL when use_mask is 0. */
int ps_normalize_channel(float *x, int64_t nvox, const ps_plans *pl, int modality,
                         const uint8_t *mask, int threads);

/* ---- sliding window (network_architecture/neural_network.py) -------------------------------- */
/* Tile start positions along one axis: _compute_steps_for_sliding_window. Returns the count
 * (<= max_steps), or a negative status. image >= patch. */
int ps_sliding_steps(int64_t image, int patch, double step, int64_t *steps, int max_steps);
/* The Gaussian importance map of _get_gaussian (sigma = patch / 8, normalised to max 1,
 * float32, zeros replaced by the smallest non-zero value). g has patch[0]*patch[1]*patch[2]
 * elements. */
void ps_gaussian_map(const int patch[3], float *g);

/* Softmax of one network (fold) over the image, averaged (with mirroring) over the 8 flips of
 * _internal_maybe_mirror_and_pred_3D and aggregated over the tiles with Gaussian weights:
 * predict_3D(..., use_sliding_window=True, use_gaussian=True). `data` is (C, n) float32,
 * already normalised; `prob` gets (K, n) float32 (accumulate = 0) or has it added (the fold
 * sum of predict_cases; the caller divides by the number of folds). Padding to the patch size
 * (pad_nd_image: zeros, floor(d/2) below) is done here. stats are added to. */
typedef struct ps_sliding_stats {
    int64_t tiles;          /* tiles per fold                                       */
    int64_t passes;         /* network passes in total                              */
    double net_seconds;     /* time inside ps_net_forward                          */
    double conv_flops;      /* FLOPs of those passes                                */
} ps_sliding_stats;

int ps_sliding_predict(ps_net *net, int accumulate, const float *data, int C,
                       const int64_t n[3], const int patch[3], int K, double step,
                       int mirroring, float *prob, ps_sliding_stats *stats, int threads);

/* ---- export (inference/segmentation_export.py) ----------------------------------------------- */
/* Index of the largest value (first on ties) per voxel over K channels of nvox voxels. */
void ps_argmax(const float *prob, int K, int64_t nvox, uint8_t *seg8, int16_t *seg16,
               int threads);

/* ---- postprocessing (postprocessing/connected_components.py) --------------------------------- */
#define PS_PP_MAX_GROUPS 64
#define PS_PP_MAX_CLASSES 16
typedef struct ps_postprocessing {
    int ngroups;                                /* entries of for_which_classes       */
    int nclasses[PS_PP_MAX_GROUPS];             /* 1 for a class, >1 for a joint region */
    int classes[PS_PP_MAX_GROUPS][PS_PP_MAX_CLASSES];
    int has_min_size[PS_PP_MAX_GROUPS];         /* min_valid_object_sizes entry given */
    double min_size_mm3[PS_PP_MAX_GROUPS];
} ps_postprocessing;

/* Parse postprocessing.json ("for_which_classes", optional "min_valid_object_sizes").
 * PS_ERR_FORMAT naming the file for anything else. */
int ps_postprocessing_read(const char *path, ps_postprocessing *out);
/* remove_all_but_the_largest_connected_component on a label map (int32 labels, shape n):
 * per entry, in order, 6-connected components of the class (or union of classes); every
 * component whose volume differs from the largest one (and, with a minimum size, is smaller
 * than it) is set to 0. voxel_mm3 is the product of the spacings. */
int ps_postprocess_apply(int32_t *labels, const int64_t n[3], double voxel_mm3,
                         const ps_postprocessing *pp);

/* ---- stage outputs, for the tests ------------------------------------------------------------ */
/* When a trace is attached (ps_predictor_set_trace), ps_predictor_run() stores copies of the
 * intermediate arrays (malloc'ed; ps_pipeline_trace_clear frees them). Shapes in numpy order. */
typedef struct ps_pipeline_trace {
    int64_t box[3][2];          /* crop box in the original (z, y, x)                      */
    int64_t n_net[3];           /* shape after resampling (network space)                  */
    int sep_axis, export_sep_axis;
    float *resampled;           /* (C, n_net) before normalisation                         */
    uint8_t *mask;              /* (n_net) 1 = nonzero-mask label 0, when a mask was used  */
    float *normalized;          /* (C, n_net)                                              */
    float *softmax_net;         /* (K, n_net) fold average                                 */
    float *softmax_back;        /* (K, crop shape) after transpose_backward and resampling */
} ps_pipeline_trace;

void ps_predictor_set_trace(ps_predictor *p, ps_pipeline_trace *t);
/* The predictor's context (threads, log, progress). */
const ps_context *ps_predictor_context(const ps_predictor *p);
void ps_pipeline_trace_clear(ps_pipeline_trace *t);

#endif /* PS_PIPELINE_INTERNAL_H */
