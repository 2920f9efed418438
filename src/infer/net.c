/* net.c - nnU-Net v1 Generic_UNet (nnUNetTrainerV2) with PanSegNet's optional attention
 * bottleneck: construction from the plans, state-dict binding and the forward pass.
 *
 * Architecture (see tests/reference/infer_model.py, the PyTorch definition we match):
 *   encoder stage d (0..P-1): 2 x [Conv3d -> InstanceNorm3d -> LeakyReLU(0.01)], the first conv
 *     strided by pool kernel d-1 (d > 0); features f_d = min(base * 2^d, 320); kernel
 *     conv_kernels[d], padding 1 where the kernel is 3, else 0.
 *   bottleneck (stage P): the same two blocks, keys conv_blocks_context.P.{0,1}.blocks.0;
 *     PanSegNet replaces its output by self_atten(x).
 *   decoder step u (0..P-1): ConvTranspose3d (kernel = stride = pool kernel P-1-u, no bias) to
 *     f_{P-1-u} features, concat [up, skip], 2 blocks with kernel conv_kernels[P-u] (nnU-Net v1
 *     indexes conv_kernel_sizes[-(u+1)], so step 0 reuses the bottleneck's kernel). The
 *     concatenation is not built: the first block's convolution runs as conv(up, W[:, :f]) plus
 *     conv(skip, W[:, f:]) accumulated into the same output (ps_block.split).
 *   head: seg_outputs.(P-1), a 1x1x1 conv without bias -> logits.
 *
 * The conv bias in front of instance norm is not applied: IN subtracts the per-channel mean,
 * which removes any per-channel constant exactly (in exact arithmetic).
 *
 * Layout: PS_NDHWC with oneDNN, PS_NCDHW with the reference kernels (net_internal.h).
 *
 * Memory: every feature map of a pass has a fixed place in one arena, planned when the network
 * is created from the maps' lifetimes (plan_memory) and allocated at the first pass; later
 * passes reuse it, so they take no page faults. The peak is at the top decoder step: skip,
 * upsampled map and the first block's output (f_0 channels each), i.e. 3 f_0 S floats.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#ifdef _OPENMP
#include <omp.h>
#endif

#include "ps_config.h"
#include "net_internal.h"

#define PS_MAX_FEATURES_3D 320   /* Generic_UNet.MAX_NUM_FILTERS_3D                      */
#define PS_IN_EPS 1e-5f          /* nnUNetTrainerV2 norm_op_kwargs eps                    */
#define PS_LRELU_SLOPE 1e-2f     /* nonlin_kwargs negative_slope                          */
#define PS_ATTN_HEADS 8          /* PanSegNet SelfAtten3DBlock                            */
#define PS_ATTN_LN_EPS 1e-6f

/* State-dict key names of the attention block, in one place (SelfAtten3DBlock). */
#define K_ATTN_PROJ "self_atten.linear_proj"
#define K_ATTN_BACK "self_atten.linear_back_proj"
#define K_ATTN_PE "self_atten.pos_encode.pe"
#define K_ATTN_LAYER "self_atten.transformer.layers.%d"
#define K_ATTN_LIN "self_attn.linears.%d" /* 0 q, 1 k, 2 v, 3 output */
#define K_ATTN_FF1 "linear1"
#define K_ATTN_FF2 "linear2"
#define K_ATTN_LN1 "layer_norm1"
#define K_ATTN_LN2 "layer_norm2"

typedef struct ps_block {
    char key[96];                 /* prefix of conv.* and instnorm.*                      */
    ps_conv_shape cs;             /* the whole convolution (cin = all input channels)     */
    const float *w, *gamma, *beta;
    ps_dnnl_conv *dc;
    /* A decoder step's first block reads [up, skip] as two inputs: split = the channels of
     * up; part p is the convolution over input p with weights w[:, channels of p] (owned
     * contiguous copies; part 1 accumulates into part 0's output). split = 0: one input. */
    int split;
    ps_conv_shape cs_part[2];
    float *w_part[2];
    ps_dnnl_conv *dc_part[2];
} ps_block;

typedef struct ps_upconv {
    char key[64];
    ps_conv_shape cs;
    const float *w;
    ps_dnnl_conv *dc;
} ps_upconv;

/* Timing of one group of layers (one resolution level of the encoder or decoder, ...). */
typedef struct ps_group_time {
    double conv_s, conv_flops;    /* convolutions (incl. transposed)                      */
    double norm_s;                /* instance norm + LeakyReLU                            */
    double other_s;               /* attention, concat copies, head, layout changes       */
    double other_flops;
} ps_group_time;

/* One feature map of the memory plan: `floats` values at arena + off, live from step t0 to
 * step t1 inclusive (steps: see step_enc and the functions after it). */
typedef struct ps_map {
    int64_t floats, off;
    int t0, t1;
} ps_map;
#define PS_MAX_MAPS (3 + 5 * PS_MAX_STAGES)

struct ps_net {
    const ps_model *m;
    ps_context ctx;
    ps_conv_backend backend;      /* resolved: REFERENCE or ONEDNN                       */
    ps_layout layout;             /* activations: PS_NCDHW (reference), PS_NDHWC (oneDNN) */
    int P;                        /* number of poolings                                  */
    int in_ch, K;
    int feat[PS_MAX_STAGES + 1];  /* features of stage d; feat[P] = bottleneck           */
    int size[PS_MAX_STAGES + 1][3];
    ps_block enc[PS_MAX_STAGES + 1][2];
    ps_upconv tu[PS_MAX_STAGES];
    ps_block dec[PS_MAX_STAGES][2];
    const float *seg_w;
    int has_attn;
    ps_attn attn;
    ps_dnnl *dnnl;
    int64_t params;
    double flops;
    ps_group_time gt[2 * PS_MAX_STAGES + 3];
    double total_s;
    ps_map map[PS_MAX_MAPS];
    int64_t arena_floats;         /* the plan's size                                     */
    float *arena;                 /* allocated by the first ps_net_forward()              */
};

/* Profile groups: encoder stage d -> d; bottleneck -> P; decoder u -> P + 1 + u;
 * attention -> 2P + 1; head -> 2P + 2. */
static int grp_attn(const ps_net *n) { return 2 * n->P + 1; }
static int grp_head(const ps_net *n) { return 2 * n->P + 2; }

const char *ps_conv_backend_name(ps_conv_backend b)
{
    switch (b) {
    case PS_CONV_AUTO: return "auto";
    case PS_CONV_REFERENCE: return "reference";
    case PS_CONV_ONEDNN: return "onednn";
    }
    return "?";
}

int ps_conv_backend_parse(const char *s, ps_conv_backend *out)
{
    if (!strcmp(s, "auto"))
        *out = PS_CONV_AUTO;
    else if (!strcmp(s, "reference"))
        *out = PS_CONV_REFERENCE;
    else if (!strcmp(s, "onednn"))
        *out = PS_CONV_ONEDNN;
    else
        return ps_error(PS_ERR_ARG, "unknown convolution backend '%s' (auto, reference, onednn)",
                        s);
    return PS_OK;
}

static int64_t vox3(const int s[3])
{
    return (int64_t)s[0] * s[1] * s[2];
}

static double conv_flops(const ps_conv_shape *cs, int transposed)
{
    double kvol = (double)cs->k[0] * cs->k[1] * cs->k[2];
    double vox = transposed ? (double)vox3(cs->in) : (double)vox3(cs->out);
    return 2.0 * cs->cin * cs->cout * kvol * vox;
}

/* Require a tensor of the given shape and return its data. */
static int req(const ps_model *m, const char *key, int ndim, const int64_t *shape,
               const float **out, int64_t *params)
{
    const ps_tensor *t;
    int rc = ps_state_dict_require(&m->sd, key, ndim, shape, &t);
    if (rc)
        return rc;
    *out = t->data;
    if (params)
        *params += t->numel;
    return PS_OK;
}

static int bind_block(ps_net *n, ps_block *b, const char *key, int cin, int cout,
                      const int k[3], const int stride[3], const int in[3])
{
    snprintf(b->key, sizeof b->key, "%s", key);
    ps_conv_shape *cs = &b->cs;
    cs->cin = cin;
    cs->cout = cout;
    for (int a = 0; a < 3; a++) {
        cs->k[a] = k[a];
        cs->stride[a] = stride[a];
        cs->pad[a] = k[a] == 3 ? 1 : 0; /* Generic_UNet conv_pad_sizes */
        cs->in[a] = in[a];
    }
    int rc = ps_conv_shape_resolve(cs, 0);
    if (rc)
        return ps_error_context(rc, "%s", key);
    char name[160];
    const float *bias_unused;
    int64_t wshape[5] = {cout, cin, k[0], k[1], k[2]}, vshape[1] = {cout};
    snprintf(name, sizeof name, "%s.conv.weight", key);
    if ((rc = req(n->m, name, 5, wshape, &b->w, &n->params)))
        return rc;
    snprintf(name, sizeof name, "%s.conv.bias", key);
    if ((rc = req(n->m, name, 1, vshape, &bias_unused, &n->params)))
        return rc;
    snprintf(name, sizeof name, "%s.instnorm.weight", key);
    if ((rc = req(n->m, name, 1, vshape, &b->gamma, &n->params)))
        return rc;
    snprintf(name, sizeof name, "%s.instnorm.bias", key);
    if ((rc = req(n->m, name, 1, vshape, &b->beta, &n->params)))
        return rc;
    n->flops += conv_flops(cs, 0) + 8.0 * cout * (double)vox3(cs->out);
    return PS_OK;
}

/* Split block b's convolution along input channels at channel f (see ps_block.split). */
static int split_block(ps_block *b, int f)
{
    const ps_conv_shape *cs = &b->cs;
    const int64_t kvol = (int64_t)cs->k[0] * cs->k[1] * cs->k[2];
    b->split = f;
    for (int p = 0; p < 2; p++) {
        const int c0 = p ? f : 0, nc = p ? cs->cin - f : f;
        b->cs_part[p] = *cs;
        b->cs_part[p].cin = nc;
        b->w_part[p] = ps_malloc_array((size_t)cs->cout * (size_t)(nc * kvol), sizeof(float));
        if (!b->w_part[p])
            return ps_error(PS_ERR_NOMEM, "out of memory for the weights of %s", b->key);
        for (int co = 0; co < cs->cout; co++)
            memcpy(b->w_part[p] + (int64_t)co * nc * kvol,
                   b->w + ((int64_t)co * cs->cin + c0) * kvol,
                   (size_t)(nc * kvol) * sizeof(float));
    }
    return PS_OK;
}

static int bind_linear(ps_net *n, const char *key, int out_f, int in_f, const float **w,
                       const float **b)
{
    char name[160];
    int64_t ws[2] = {out_f, in_f}, bs[1] = {out_f};
    int rc;
    snprintf(name, sizeof name, "%s.weight", key);
    if ((rc = req(n->m, name, 2, ws, w, &n->params)))
        return rc;
    snprintf(name, sizeof name, "%s.bias", key);
    return req(n->m, name, 1, bs, b, &n->params);
}

static int bind_vector_pair(ps_net *n, const char *key, int len, const float **w,
                            const float **b);

static int bind_attention(ps_net *n)
{
    ps_attn *a = &n->attn;
    const int C = n->feat[n->P];
    const int64_t N = vox3(n->size[n->P]);
    a->channels = C;
    a->heads = PS_ATTN_HEADS;
    a->ln_eps = PS_ATTN_LN_EPS;

    const ps_tensor *t = ps_state_dict_get(&n->m->sd, K_ATTN_PROJ ".weight");
    if (!t || t->ndim != 2)
        return ps_error(PS_ERR_FORMAT, "state dict has self_atten.* keys but no 2-D '%s'",
                        K_ATTN_PROJ ".weight");
    a->d_model = (int)t->shape[0];
    if (a->d_model % a->heads)
        return ps_error(PS_ERR_FORMAT, "attention width %d is not divisible by %d heads",
                        a->d_model, a->heads);
    const int d = a->d_model;
    int rc;
    if ((rc = bind_linear(n, K_ATTN_PROJ, d, C, &a->proj_w, &a->proj_b)) ||
        (rc = bind_linear(n, K_ATTN_BACK, C, d, &a->back_w, &a->back_b)))
        return rc;

    t = ps_state_dict_get(&n->m->sd, K_ATTN_PE);
    if (!t || t->ndim != 3 || t->shape[0] != 1 || t->shape[2] != d)
        return ps_error(PS_ERR_FORMAT, "missing or malformed '%s' (expected [1, N, %d])",
                        K_ATTN_PE, d);
    if (t->shape[1] != N)
        return ps_error(PS_ERR_ARG,
                        "the attention block was trained for %lld bottleneck tokens, but this "
                        "patch (%d x %d x %d) gives %d x %d x %d = %lld tokens; use the model's "
                        "patch size (%d x %d x %d)",
                        (long long)t->shape[1], n->size[0][0], n->size[0][1], n->size[0][2],
                        n->size[n->P][0], n->size[n->P][1], n->size[n->P][2], (long long)N,
                        n->m->plans.patch_size[0], n->m->plans.patch_size[1],
                        n->m->plans.patch_size[2]);
    a->pe = t->data;
    a->tokens = (int)N;

    char key[160], sub[160];
    for (a->n_layers = 0;; a->n_layers++) {
        snprintf(key, sizeof key, K_ATTN_LAYER "." K_ATTN_FF1 ".weight", a->n_layers);
        if (!ps_state_dict_get(&n->m->sd, key))
            break;
        if (a->n_layers == PS_ATTN_MAX_LAYERS)
            return ps_error(PS_ERR_UNSUPPORTED, "more than %d attention layers",
                            PS_ATTN_MAX_LAYERS);
    }
    if (!a->n_layers)
        return ps_error(PS_ERR_FORMAT, "attention block without transformer layers ('%s')",
                        "self_atten.transformer.layers.0." K_ATTN_FF1 ".weight");
    snprintf(key, sizeof key, K_ATTN_LAYER "." K_ATTN_FF1 ".weight", 0);
    t = ps_state_dict_get(&n->m->sd, key);
    a->d_ff = (int)t->shape[0];

    for (int l = 0; l < a->n_layers; l++) {
        ps_attn_layer *L = &a->layer[l];
        const float **lw[4] = {&L->wq, &L->wk, &L->wv, &L->wo};
        const float **lb[4] = {&L->bq, &L->bk, &L->bv, &L->bo};
        for (int i = 0; i < 4; i++) {
            snprintf(sub, sizeof sub, K_ATTN_LAYER "." K_ATTN_LIN, l, i);
            if ((rc = bind_linear(n, sub, d, d, lw[i], lb[i])))
                return rc;
        }
        snprintf(sub, sizeof sub, K_ATTN_LAYER "." K_ATTN_FF1, l);
        if ((rc = bind_linear(n, sub, a->d_ff, d, &L->w1, &L->b1)))
            return rc;
        snprintf(sub, sizeof sub, K_ATTN_LAYER "." K_ATTN_FF2, l);
        if ((rc = bind_linear(n, sub, d, a->d_ff, &L->w2, &L->b2)))
            return rc;
        snprintf(sub, sizeof sub, K_ATTN_LAYER "." K_ATTN_LN1, l);
        if ((rc = bind_vector_pair(n, sub, d, &L->ln1_g, &L->ln1_b)))
            return rc;
        snprintf(sub, sizeof sub, K_ATTN_LAYER "." K_ATTN_LN2, l);
        if ((rc = bind_vector_pair(n, sub, d, &L->ln2_g, &L->ln2_b)))
            return rc;
    }
    double nn = (double)N;
    n->flops += 2.0 * nn * (2.0 * C * d) +
                a->n_layers * (2.0 * nn * (4.0 * d * d + 2.0 * d * a->d_ff) +
                               2.0 * 2.0 * nn * d * (d / a->heads));
    return PS_OK;
}

/* weight and bias of one LayerNorm (1-D each). */
static int bind_vector_pair(ps_net *n, const char *key, int len, const float **w,
                            const float **b)
{
    char name[160];
    int64_t s[1] = {len};
    int rc;
    snprintf(name, sizeof name, "%s.weight", key);
    if ((rc = req(n->m, name, 1, s, w, &n->params)))
        return rc;
    snprintf(name, sizeof name, "%s.bias", key);
    return req(n->m, name, 1, s, b, &n->params);
}

/* ---- memory plan -------------------------------------------------------------------------
 * Steps of a pass, in order: encoder block (d, j) = 2d + j (the attention runs in step 2P+1,
 * in place on the bottleneck output); decoder step u: transposed conv 2P+2+3u, first block
 * +1, second block +2; the head 5P+2. Maps: */
static int step_enc(int d, int j) { return 2 * d + j; }
static int step_up(const ps_net *n, int u) { return 2 * n->P + 2 + 3 * u; }
static int step_head(const ps_net *n) { return 5 * n->P + 2; }
static int map_input(void) { return 0; }          /* the input in PS_NDHWC (several channels) */
static int map_enc(const ps_net *n, int d, int j) /* output of encoder block (d, j): j = 1 is */
{                                                 /* the skip of level d (the bottleneck at P) */
    return 1 + j * (n->P + 1) + d;
}
static int map_dec(const ps_net *n, int u, int k) /* decoder step u: 0 up, 1 and 2 blocks     */
{
    return 3 + 2 * n->P + 3 * u + k;
}

static void plan_set(ps_net *n, int id, int64_t floats, int t0, int t1)
{
    n->map[id].floats = floats;
    n->map[id].t0 = t0;
    n->map[id].t1 = t1;
}

/* Lifetimes of all maps, then offsets: largest map first (ties: earlier first), each at the
 * lowest offset where it overlaps no placed map that is live at the same time. Two maps used
 * in one step (a layer's input and output) are both live in it, so they never share memory.
 * Offsets are multiples of 4 KiB. */
static void plan_memory(ps_net *n)
{
    const int P = n->P;
    memset(n->map, 0, sizeof n->map);
    if (n->layout == PS_NDHWC && n->in_ch > 1)
        plan_set(n, map_input(), (int64_t)n->in_ch * vox3(n->size[0]), 0, 0);
    for (int d = 0; d <= P; d++) {
        const int64_t fl = (int64_t)n->feat[d] * vox3(n->size[d]);
        plan_set(n, map_enc(n, d, 0), fl, step_enc(d, 0), step_enc(d, 1));
        /* the skip lives until its decoder step's first block; the bottleneck output until
         * the first transposed conv */
        plan_set(n, map_enc(n, d, 1), fl, step_enc(d, 1),
                 d < P ? step_up(n, P - 1 - d) + 1 : step_up(n, 0));
    }
    for (int u = 0; u < P; u++) {
        const int lvl = P - 1 - u, t = step_up(n, u);
        const int64_t fl = (int64_t)n->feat[lvl] * vox3(n->size[lvl]);
        plan_set(n, map_dec(n, u, 0), fl, t, t + 1);
        plan_set(n, map_dec(n, u, 1), fl, t + 1, t + 2);
        plan_set(n, map_dec(n, u, 2), fl, t + 2, u + 1 < P ? step_up(n, u + 1) : step_head(n));
    }

    const int nmap = map_dec(n, P - 1, 2) + 1;
    const int64_t align = 4096 / sizeof(float);
    int order[PS_MAX_MAPS], placed[PS_MAX_MAPS], np = 0;
    for (int i = 0; i < nmap; i++)
        order[i] = i;
    for (int i = 1; i < nmap; i++) /* insertion sort: size descending, then t0, then id */
        for (int k = i; k > 0; k--) {
            const ps_map *a = &n->map[order[k - 1]], *b = &n->map[order[k]];
            if (a->floats > b->floats || (a->floats == b->floats && a->t0 <= b->t0))
                break;
            int tmp = order[k];
            order[k] = order[k - 1];
            order[k - 1] = tmp;
        }
    n->arena_floats = 0;
    for (int i = 0; i < nmap; i++) {
        ps_map *m = &n->map[order[i]];
        if (!m->floats)
            continue;
        const int64_t len = (m->floats + align - 1) / align * align;
        int64_t off = 0;
        for (int moved = 1; moved;) { /* move past every conflicting placed map */
            moved = 0;
            for (int k = 0; k < np; k++) {
                const ps_map *q = &n->map[placed[k]];
                const int64_t qlen = (q->floats + align - 1) / align * align;
                const int same_time = q->t0 <= m->t1 && m->t0 <= q->t1;
                if (same_time && q->off < off + len && off < q->off + qlen) {
                    off = q->off + qlen;
                    moved = 1;
                }
            }
        }
        m->off = off;
        placed[np++] = order[i];
        if (off + len > n->arena_floats)
            n->arena_floats = off + len;
    }
}

/* The map's memory (the arena exists). */
static float *map_ptr(const ps_net *n, int id)
{
    return n->arena + n->map[id].off;
}

/* All oneDNN primitives of the network, in layer order; returns their number. */
#define PS_MAX_PRIMS (6 * PS_MAX_STAGES + 2)
static int dnnl_primitives(const ps_net *n, const ps_dnnl_conv **all)
{
    int na = 0;
    for (int d = 0; d <= n->P; d++)
        for (int j = 0; j < 2; j++)
            all[na++] = n->enc[d][j].dc;
    for (int u = 0; u < n->P; u++) {
        all[na++] = n->tu[u].dc;
        for (int j = 0; j < 2; j++) {
            const ps_block *b = &n->dec[u][j];
            if (b->split) {
                all[na++] = b->dc_part[0];
                all[na++] = b->dc_part[1];
            } else {
                all[na++] = b->dc;
            }
        }
    }
    return na;
}

static int create_dnnl(ps_net *n)
{
    int rc = ps_dnnl_create(&n->dnnl);
    if (rc)
        return rc;
    for (int d = 0; d <= n->P; d++)
        for (int j = 0; j < 2; j++) {
            ps_block *b = &n->enc[d][j];
            if ((rc = ps_dnnl_conv_create(n->dnnl, &b->cs, 0, b->w, NULL, 0, &b->dc)))
                return ps_error_context(rc, "%s", b->key);
        }
    for (int u = 0; u < n->P; u++) {
        if ((rc = ps_dnnl_conv_create(n->dnnl, &n->tu[u].cs, 1, n->tu[u].w, NULL, 0,
                                      &n->tu[u].dc)))
            return ps_error_context(rc, "%s", n->tu[u].key);
        for (int j = 0; j < 2; j++) {
            ps_block *b = &n->dec[u][j];
            if (!b->split) {
                rc = ps_dnnl_conv_create(n->dnnl, &b->cs, 0, b->w, NULL, 0, &b->dc);
            } else {
                for (int p = 0; p < 2 && !rc; p++)
                    rc = ps_dnnl_conv_create(n->dnnl, &b->cs_part[p], 0, b->w_part[p], NULL,
                                             p == 1, &b->dc_part[p]);
                for (int p = 0; p < 2; p++) { /* oneDNN keeps its own reordered copy */
                    free(b->w_part[p]);
                    b->w_part[p] = NULL;
                }
            }
            if (rc)
                return ps_error_context(rc, "%s", b->key);
        }
    }
    return PS_OK;
}

int ps_net_create(const ps_model *m, const int patch[3], ps_conv_backend backend,
                  const ps_context *ctx, ps_net **out)
{
    *out = NULL;
    const ps_plans *pl = &m->plans;
    if (pl->num_pool < 1 || pl->num_pool > PS_MAX_STAGES)
        return ps_error(PS_ERR_FORMAT, "plans: %d pooling steps (1..%d supported)",
                        pl->num_pool, PS_MAX_STAGES);
    if (pl->num_input_channels < 1 || pl->num_classes < 1 || pl->base_num_features < 1)
        return ps_error(PS_ERR_FORMAT, "plans: %d input channels, %d classes, %d base features",
                        pl->num_input_channels, pl->num_classes, pl->base_num_features);
    ps_net *n = ps_calloc(1, sizeof *n);
    if (!n)
        return PS_ERR_NOMEM;
    n->m = m;
    if (ctx)
        n->ctx = *ctx;
    else
        ps_context_init(&n->ctx);
    n->P = pl->num_pool;
    n->in_ch = pl->num_input_channels;
    n->K = pl->num_classes + 1;
    const int P = n->P;
    int rc = PS_OK;

    /* Spatial sizes per stage: every pooling must divide the patch exactly, otherwise the
     * transposed convolutions cannot restore the skip sizes. */
    int total[3] = {1, 1, 1};
    for (int d = 0; d < P; d++)
        for (int a = 0; a < 3; a++)
            total[a] *= pl->pool_kernels[d][a];
    for (int a = 0; a < 3; a++)
        if (patch[a] < 1 || patch[a] % total[a]) {
            rc = ps_error(PS_ERR_ARG,
                          "patch size %d x %d x %d is not divisible by the network's total "
                          "down-sampling %d x %d x %d (axis %d); the model's patch size is "
                          "%d x %d x %d",
                          patch[0], patch[1], patch[2], total[0], total[1], total[2], a,
                          pl->patch_size[0], pl->patch_size[1], pl->patch_size[2]);
            goto fail;
        }
    for (int a = 0; a < 3; a++)
        n->size[0][a] = patch[a];
    for (int d = 1; d <= P; d++)
        for (int a = 0; a < 3; a++)
            n->size[d][a] = n->size[d - 1][a] / pl->pool_kernels[d - 1][a];

    /* Encoder and bottleneck. */
    int f = pl->base_num_features;
    char key[96];
    static const int one[3] = {1, 1, 1};
    for (int d = 0; d <= P; d++) {
        n->feat[d] = f;
        int cin = d == 0 ? n->in_ch : n->feat[d - 1];
        const int *stride = d == 0 ? one : pl->pool_kernels[d - 1];
        const int *in = d == 0 ? n->size[0] : n->size[d - 1];
        if (d < P)
            snprintf(key, sizeof key, "conv_blocks_context.%d.blocks.0", d);
        else
            snprintf(key, sizeof key, "conv_blocks_context.%d.0.blocks.0", d);
        if ((rc = bind_block(n, &n->enc[d][0], key, cin, f, pl->conv_kernels[d], stride, in)))
            goto fail;
        if (d < P)
            snprintf(key, sizeof key, "conv_blocks_context.%d.blocks.1", d);
        else
            snprintf(key, sizeof key, "conv_blocks_context.%d.1.blocks.0", d);
        if ((rc = bind_block(n, &n->enc[d][1], key, f, f, pl->conv_kernels[d], one,
                             n->size[d])))
            goto fail;
        f = f * 2 < PS_MAX_FEATURES_3D ? f * 2 : PS_MAX_FEATURES_3D;
    }

    /* Decoder. */
    for (int u = 0; u < P; u++) {
        int lvl = P - 1 - u, down = n->feat[lvl + 1], skip = n->feat[lvl];
        const int *pk = pl->pool_kernels[lvl];
        ps_upconv *t = &n->tu[u];
        snprintf(t->key, sizeof t->key, "tu.%d.weight", u);
        t->cs.cin = down;
        t->cs.cout = skip;
        for (int a = 0; a < 3; a++) {
            t->cs.k[a] = t->cs.stride[a] = pk[a];
            t->cs.pad[a] = 0;
            t->cs.in[a] = n->size[lvl + 1][a];
        }
        if ((rc = ps_conv_shape_resolve(&t->cs, 1)))
            goto fail;
        int64_t ts[5] = {down, skip, pk[0], pk[1], pk[2]};
        if ((rc = req(m, t->key, 5, ts, &t->w, &n->params)))
            goto fail;
        n->flops += conv_flops(&t->cs, 1);
        snprintf(key, sizeof key, "conv_blocks_localization.%d.0.blocks.0", u);
        if ((rc = bind_block(n, &n->dec[u][0], key, 2 * skip, skip, pl->conv_kernels[P - u], one,
                             n->size[lvl])) ||
            (rc = split_block(&n->dec[u][0], skip)))
            goto fail;
        snprintf(key, sizeof key, "conv_blocks_localization.%d.1.blocks.0", u);
        if ((rc = bind_block(n, &n->dec[u][1], key, skip, skip, pl->conv_kernels[P - u], one,
                             n->size[lvl])))
            goto fail;
    }
    snprintf(key, sizeof key, "seg_outputs.%d.weight", P - 1);
    int64_t ss[5] = {n->K, n->feat[0], 1, 1, 1};
    if ((rc = req(m, key, 5, ss, &n->seg_w, &n->params)))
        goto fail;
    n->flops += 2.0 * n->K * n->feat[0] * (double)vox3(n->size[0]);

    n->has_attn = m->has_attention;
    if (n->has_attn && (rc = bind_attention(n)))
        goto fail;

    /* Backend. */
    if (backend == PS_CONV_AUTO)
        backend = PS_HAVE_DNNL ? PS_CONV_ONEDNN : PS_CONV_REFERENCE;
    if (backend == PS_CONV_ONEDNN && !PS_HAVE_DNNL) {
        rc = ps_error(PS_ERR_UNSUPPORTED, "panseval was built without oneDNN; use the "
                      "reference backend");
        goto fail;
    }
    n->backend = backend;
    n->layout = backend == PS_CONV_ONEDNN ? PS_NDHWC : PS_NCDHW;
    plan_memory(n);
    if (backend == PS_CONV_ONEDNN) {
#ifdef _OPENMP
        /* the weight reorders run on omp_get_max_threads() threads */
        int omp_prev = omp_get_max_threads();
        omp_set_num_threads(ps_context_threads(&n->ctx));
#endif
        rc = create_dnnl(n);
#ifdef _OPENMP
        omp_set_num_threads(omp_prev);
#endif
        if (rc)
            goto fail;
        /* oneDNN falls back to its reference kernels ("ref:...") for what its fast kernels do
         * not cover on this CPU: correct, but orders of magnitude slower. Say so. */
        const ps_dnnl_conv *all[PS_MAX_PRIMS];
        const int na = dnnl_primitives(n, all);
        int nref = 0;
        for (int i = 0; i < na; i++)
            nref += !strncmp(ps_dnnl_conv_impl(all[i]), "ref", 3);
        if (nref)
            ps_log(&n->ctx, PS_LOG_WARN,
                   "oneDNN runs %d of the %d convolution layers with its slow reference kernel "
                   "on this CPU (see forward -v -v for the implementations)", nref, na);
    }
    *out = n;
    return PS_OK;
fail:
    ps_net_free(n);
    return rc;
}

void ps_net_free(ps_net *n)
{
    if (!n)
        return;
    for (int d = 0; d <= PS_MAX_STAGES; d++)
        for (int j = 0; j < 2; j++)
            ps_dnnl_conv_free(n->enc[d][j].dc);
    for (int u = 0; u < PS_MAX_STAGES; u++) {
        ps_dnnl_conv_free(n->tu[u].dc);
        for (int j = 0; j < 2; j++) {
            ps_block *b = &n->dec[u][j];
            ps_dnnl_conv_free(b->dc);
            for (int p = 0; p < 2; p++) {
                ps_dnnl_conv_free(b->dc_part[p]);
                free(b->w_part[p]);
            }
        }
    }
    ps_dnnl_free(n->dnnl);
    ps_free_large(n->arena);
    free(n);
}

int64_t ps_net_param_count(const ps_net *n)
{
    return n->params;
}

double ps_net_flops(const ps_net *n)
{
    return n->flops;
}

ps_conv_backend ps_net_backend(const ps_net *n)
{
    return n->backend;
}

/* 64-byte aligned activation buffer of `count` floats. */
static float *act_alloc(int64_t count)
{
    size_t bytes;
    if (ps_mul_size((size_t)count, sizeof(float), &bytes))
        return NULL;
    bytes = (bytes + 63) / 64 * 64;
    float *p = aligned_alloc(64, bytes ? bytes : 64);
    if (!p)
        ps_error(PS_ERR_NOMEM, "out of memory for a %.1f MiB feature map",
                 (double)bytes / 1048576.0);
    return p;
}

/* One convolution of a block (whole or one part) from x into y. */
static int run_conv(ps_net *n, const ps_conv_shape *cs, const float *w, ps_dnnl_conv *dc,
                    int accumulate, const float *x, float *y, int threads)
{
    if (n->backend == PS_CONV_ONEDNN)
        return ps_dnnl_conv_run(dc, x, y);
    ps_conv3d_ref(cs, x, w, NULL, accumulate, y, threads);
    return PS_OK;
}

/* One block: conv (x -> y; with a split block conv(x, part 0) + conv(x2, part 1)), then fused
 * instance norm + LeakyReLU on y. */
static int run_block(ps_net *n, ps_block *b, const float *x, const float *x2, float *y, int g,
                     int threads)
{
    double t0 = ps_now_seconds();
    int rc;
    if (!b->split) {
        rc = run_conv(n, &b->cs, b->w, b->dc, 0, x, y, threads);
    } else {
        rc = run_conv(n, &b->cs_part[0], b->w_part[0], b->dc_part[0], 0, x, y, threads);
        if (!rc)
            rc = run_conv(n, &b->cs_part[1], b->w_part[1], b->dc_part[1], 1, x2, y, threads);
    }
    if (rc)
        return ps_error_context(rc, "%s", b->key);
    double t1 = ps_now_seconds();
    rc = ps_instnorm_lrelu(y, b->cs.cout, vox3(b->cs.out), n->layout, b->gamma, b->beta,
                           PS_IN_EPS, PS_LRELU_SLOPE, threads);
    double t2 = ps_now_seconds();
    n->gt[g].conv_s += t1 - t0;
    n->gt[g].conv_flops += conv_flops(&b->cs, 0);
    n->gt[g].norm_s += t2 - t1;
    return rc;
}

static int run_attention(ps_net *n, float *x, int threads)
{
    const int C = n->attn.channels;
    const int64_t N = n->attn.tokens;
    double t0 = ps_now_seconds();
    float *buf = act_alloc(2 * (int64_t)C * N);
    if (!buf)
        return PS_ERR_NOMEM;
    float *plain = buf, *res = buf + C * N;
    if (n->layout == PS_NDHWC)
        ps_to_ncdhw(x, C, N, plain, threads);
    else
        memcpy(plain, x, (size_t)(C * N) * sizeof *x);
    /* The block is a few GFLOP in many small steps (8 layers x ~10 products): one thread
     * avoids hundreds of thread synchronisations, which cost more than they save when the
     * cores are shared with other work, and costs ~0.1 s on an idle 2-core machine. */
    int rc = ps_attn_forward(&n->attn, plain, res, 1);
    if (!rc) {
        if (n->layout == PS_NDHWC)
            ps_to_ndhwc(res, C, N, x, threads);
        else
            memcpy(x, res, (size_t)(C * N) * sizeof *x);
    }
    free(buf);
    n->gt[grp_attn(n)].other_s += ps_now_seconds() - t0;
    return rc;
}

int64_t ps_net_activation_bytes(const ps_net *n)
{
    return n->arena_floats * (int64_t)sizeof(float);
}

int ps_net_forward(ps_net *n, const float *input, float *logits)
{
    const int P = n->P;
    const int threads = ps_context_threads(&n->ctx);
    int rc = PS_OK;
    memset(n->gt, 0, sizeof n->gt);
    double t_start = ps_now_seconds();
    if (!n->arena) {
        /* First pass: the planned arena (huge pages where the system offers them), touched
         * once by all threads so that the page faults and the kernel's zeroing of fresh
         * pages run in parallel here rather than inside the first layers that write it. */
        size_t bytes = (size_t)n->arena_floats * sizeof(float);
        if (!(n->arena = ps_malloc_large(bytes ? bytes : 64))) {
            rc = ps_error(PS_ERR_NOMEM, "out of memory for the %.1f MiB of feature maps",
                          (double)bytes / 1048576.0);
            n->total_s = ps_now_seconds() - t_start;
            return rc;
        }
        const int64_t step = ((int64_t)2 << 20) / (int64_t)sizeof(float);
#pragma omp parallel for schedule(static) num_threads(threads)
        for (int64_t o = 0; o < n->arena_floats; o += step)
            memset(n->arena + o, 0,
                   (size_t)(o + step < n->arena_floats ? step : n->arena_floats - o) *
                       sizeof(float));
        n->gt[0].other_s += ps_now_seconds() - t_start;
    }
#ifdef _OPENMP
    /* oneDNN runs on omp_get_max_threads() threads of the calling thread. */
    int omp_prev = omp_get_max_threads();
    omp_set_num_threads(threads);
#endif

    /* The input arrives as PS_NCDHW (the NIfTI order); with several channels it is
     * transposed for PS_NDHWC. */
    const float *cur = input;
    if (n->map[map_input()].floats) {
        double t0 = ps_now_seconds();
        ps_to_ndhwc(input, n->in_ch, vox3(n->size[0]), map_ptr(n, map_input()), threads);
        cur = map_ptr(n, map_input());
        n->gt[0].other_s += ps_now_seconds() - t0;
    }

    /* Encoder + bottleneck: block (d, j) reads the previous map and writes map_enc(d, j). */
    for (int d = 0; d <= P; d++)
        for (int j = 0; j < 2; j++) {
            float *y = map_ptr(n, map_enc(n, d, j));
            if ((rc = run_block(n, &n->enc[d][j], cur, NULL, y, d, threads)))
                goto done;
            cur = y;
        }
    float *x = map_ptr(n, map_enc(n, P, 1));
    if (n->has_attn && (rc = run_attention(n, x, threads)))
        goto done;

    /* Decoder: up = transposed conv of x; first block reads [up, skip]; second block. */
    for (int u = 0; u < P; u++) {
        const int lvl = P - 1 - u;
        ps_upconv *t = &n->tu[u];
        float *up = map_ptr(n, map_dec(n, u, 0)), *y = map_ptr(n, map_dec(n, u, 1));
        double t0 = ps_now_seconds();
        if (n->backend == PS_CONV_ONEDNN)
            rc = ps_dnnl_conv_run(t->dc, x, up);
        else
            ps_convt3d_ref(&t->cs, x, t->w, up, threads);
        if (rc) {
            rc = ps_error_context(rc, "%s", t->key);
            goto done;
        }
        n->gt[P + 1 + u].conv_s += ps_now_seconds() - t0;
        n->gt[P + 1 + u].conv_flops += conv_flops(&t->cs, 1);
        x = map_ptr(n, map_dec(n, u, 2));
        if ((rc = run_block(n, &n->dec[u][0], up, map_ptr(n, map_enc(n, lvl, 1)), y, P + 1 + u,
                            threads)) ||
            (rc = run_block(n, &n->dec[u][1], y, NULL, x, P + 1 + u, threads)))
            goto done;
    }

    double t0 = ps_now_seconds();
    ps_conv1x1_to_plain(x, n->feat[0], vox3(n->size[0]), n->layout, n->seg_w, n->K, logits,
                        threads);
    n->gt[grp_head(n)].other_s += ps_now_seconds() - t0;
    n->gt[grp_head(n)].other_flops += 2.0 * n->K * n->feat[0] * (double)vox3(n->size[0]);

done:
#ifdef _OPENMP
    omp_set_num_threads(omp_prev);
#endif
    n->total_s = ps_now_seconds() - t_start;
    return rc;
}

int ps_net_print_profile(const ps_net *n, FILE *f)
{
    const int P = n->P;
    fprintf(f, "# forward pass: backend %s, %d thread(s), %.3f s, %.2f GFLOP, %.1f GFLOP/s\n",
            ps_conv_backend_name(n->backend), ps_context_threads(&n->ctx), n->total_s,
            n->flops * 1e-9, n->total_s > 0 ? n->flops * 1e-9 / n->total_s : 0.0);
    fprintf(f, "%-16s %14s %10s %9s %10s %10s %9s\n", "group", "size", "conv_GFLOP",
            "conv_ms", "conv_GF/s", "norm_ms", "other_ms");
    double tc = 0, tf = 0, tn = 0, to = 0;
    for (int g = 0; g <= grp_head(n); g++) {
        const ps_group_time *t = &n->gt[g];
        char name[32], size[32] = "";
        const int *sz = NULL;
        if (g < P) {
            snprintf(name, sizeof name, "encoder %d", g);
            sz = n->size[g];
        } else if (g == P) {
            snprintf(name, sizeof name, "bottleneck");
            sz = n->size[P];
        } else if (g <= 2 * P) {
            snprintf(name, sizeof name, "decoder %d (+up)", g - P - 1);
            sz = n->size[2 * P - g];
        } else if (g == grp_attn(n)) {
            if (!n->has_attn)
                continue;
            snprintf(name, sizeof name, "attention");
            sz = n->size[P];
        } else {
            snprintf(name, sizeof name, "head");
            sz = n->size[0];
        }
        snprintf(size, sizeof size, "%dx%dx%d", sz[0], sz[1], sz[2]);
        fprintf(f, "%-16s %14s %10.2f %9.1f %10.1f %10.1f %9.1f\n", name, size,
                t->conv_flops * 1e-9, t->conv_s * 1e3,
                t->conv_s > 0 ? t->conv_flops * 1e-9 / t->conv_s : 0.0, t->norm_s * 1e3,
                t->other_s * 1e3);
        tc += t->conv_s;
        tf += t->conv_flops;
        tn += t->norm_s;
        to += t->other_s;
    }
    fprintf(f, "%-16s %14s %10.2f %9.1f %10.1f %10.1f %9.1f\n", "total", "", tf * 1e-9,
            tc * 1e3, tc > 0 ? tf * 1e-9 / tc : 0.0, tn * 1e3, to * 1e3);
    if (n->backend == PS_CONV_ONEDNN) {
        /* which oneDNN implementations run the layers ("ref:any" would be its slow
         * fallback) */
        const ps_dnnl_conv *all[PS_MAX_PRIMS];
        const int na = dnnl_primitives(n, all);
        fprintf(f, "# oneDNN implementations:");
        for (int i = 0; i < na; i++) {
            const char *name = ps_dnnl_conv_impl(all[i]);
            int seen = 0, count = 0;
            for (int k = 0; k < na; k++) {
                seen |= k < i && !strcmp(ps_dnnl_conv_impl(all[k]), name);
                count += !strcmp(ps_dnnl_conv_impl(all[k]), name);
            }
            if (!seen)
                fprintf(f, " %s x %d", name, count);
        }
        fprintf(f, " (of %d primitives)\n", na);
    }
    return ferror(f) ? ps_error(PS_ERR_IO, "writing the profile failed") : PS_OK;
}
