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
 *     indexes conv_kernel_sizes[-(u+1)], so step 0 reuses the bottleneck's kernel).
 *   head: seg_outputs.(P-1), a 1x1x1 conv without bias -> logits.
 *
 * The conv bias in front of instance norm is not applied: IN subtracts the per-channel mean,
 * which removes any per-channel constant exactly (in exact arithmetic).
 *
 * Memory: activations are freed as soon as they are consumed or reused for a later layer
 * (see ps_net_forward); only the skip connections live across stages, each inside the buffer
 * that will hold its decoder step's concatenation (allocated by the stage's first block, so
 * [up, skip] needs no copy). The peak is at the top decoder step: the concatenated input
 * (2 f_0 channels) plus one block output (f_0), i.e. 3 f_0 S floats.
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
    ps_conv_shape cs;
    const float *w, *gamma, *beta;
    ps_dnnl_conv *dc;
    int unblock_src;              /* oneDNN: blocked input handed over as plain ncdhw     */
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

struct ps_net {
    const ps_model *m;
    ps_context ctx;
    ps_conv_backend backend;      /* resolved: REFERENCE or ONEDNN                       */
    int cb;                       /* activation block size: 1 (reference) or 16 (oneDNN) */
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

static int create_dnnl(ps_net *n)
{
    int rc = ps_dnnl_create(&n->dnnl);
    if (rc)
        return rc;
    for (int d = 0; d <= n->P; d++)
        for (int j = 0; j < 2; j++) {
            ps_block *b = &n->enc[d][j];
            /* oneDNN's direct kernels take a plain source with few channels (the network
             * input) but not a padded block; such inputs are handed over plain. */
            int plain = (d == 0 && j == 0) || b->cs.cin % 16;
            b->unblock_src = plain && !(d == 0 && j == 0);
            if ((rc = ps_dnnl_conv_create(n->dnnl, &b->cs, 0, b->w, NULL, plain ? 1 : 16,
                                          &b->dc)))
                return ps_error_context(rc, "%s", b->key);
        }
    for (int u = 0; u < n->P; u++) {
        if ((rc = ps_dnnl_conv_create(n->dnnl, &n->tu[u].cs, 1, n->tu[u].w, NULL, 16,
                                      &n->tu[u].dc)))
            return ps_error_context(rc, "%s", n->tu[u].key);
        for (int j = 0; j < 2; j++) {
            ps_block *b = &n->dec[u][j];
            b->unblock_src = b->cs.cin % 16 != 0;
            if ((rc = ps_dnnl_conv_create(n->dnnl, &b->cs, 0, b->w, NULL,
                                          b->unblock_src ? 1 : 16, &b->dc)))
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
                             n->size[lvl])))
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

    /* Backend. Channel counts that are not multiples of 16 (tiny test networks) are padded
     * to whole blocks; layers reading such a map get it plain (see create_dnnl), so oneDNN's
     * direct kernels serve every layer. */
    if (backend == PS_CONV_AUTO)
        backend = PS_HAVE_DNNL ? PS_CONV_ONEDNN : PS_CONV_REFERENCE;
    if (backend == PS_CONV_ONEDNN && !PS_HAVE_DNNL) {
        rc = ps_error(PS_ERR_UNSUPPORTED, "panseval was built without oneDNN; use the "
                      "reference backend");
        goto fail;
    }
    n->backend = backend;
    n->cb = backend == PS_CONV_ONEDNN ? 16 : 1;
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
        for (int j = 0; j < 2; j++)
            ps_dnnl_conv_free(n->dec[u][j].dc);
    }
    ps_dnnl_free(n->dnnl);
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

/* One spare feature map kept for the next allocation. Fresh memory costs a page fault and
 * zeroing in the kernel per 4 KiB page (~1 s of CPU per pass of a PanSegNet-sized network),
 * so a consumed buffer is handed to the next layer when it is large enough; otherwise it is
 * freed first. Either way no more memory is held than when every buffer is freed at once. */
typedef struct act_spare {
    float *p;
    int64_t cap; /* floats */
} act_spare;

static void spare_give(act_spare *sp, float *p, int64_t cap)
{
    if (!p)
        return;
    free(sp->p);
    sp->p = p;
    sp->cap = cap;
}

/* A buffer of at least `count` floats (its size in *cap), from the spare if it fits. */
static float *spare_take(act_spare *sp, int64_t count, int64_t *cap)
{
    float *p = sp->p;
    if (p && sp->cap >= count) {
        *cap = sp->cap;
        sp->p = NULL;
        return p;
    }
    free(p);
    sp->p = NULL;
    *cap = count;
    return act_alloc(count);
}

/* One block: conv (x -> y) then fused instance norm + LeakyReLU on y. */
static int run_block(ps_net *n, ps_block *b, const float *x, float *y, int g, int threads)
{
    double t0 = ps_now_seconds();
    int rc = PS_OK;
    if (n->backend == PS_CONV_ONEDNN && b->unblock_src) {
        const int64_t S = vox3(b->cs.in);
        float *plain = act_alloc((int64_t)b->cs.cin * S);
        if (!plain)
            return PS_ERR_NOMEM;
        ps_layout_unblock16(x, b->cs.cin, S, plain, threads);
        rc = ps_dnnl_conv_run(b->dc, plain, y);
        free(plain);
    } else if (n->backend == PS_CONV_ONEDNN) {
        rc = ps_dnnl_conv_run(b->dc, x, y);
    } else {
        ps_conv3d_ref(&b->cs, x, b->w, NULL, y, threads);
    }
    if (rc)
        return ps_error_context(rc, "%s", b->key);
    double t1 = ps_now_seconds();
    rc = ps_instnorm_lrelu(y, b->cs.cout, vox3(b->cs.out), n->cb, b->gamma, b->beta, PS_IN_EPS,
                           PS_LRELU_SLOPE, threads);
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
    if (n->cb == 16)
        ps_layout_unblock16(x, C, N, plain, threads);
    else
        memcpy(plain, x, (size_t)(C * N) * sizeof *x);
    /* The block is a few GFLOP in many small steps (8 layers x ~10 products): one thread
     * avoids hundreds of thread synchronisations, which cost more than they save when the
     * cores are shared with other work, and costs ~0.1 s on an idle 2-core machine. */
    int rc = ps_attn_forward(&n->attn, plain, res, 1);
    if (!rc) {
        if (n->cb == 16)
            ps_layout_block16(res, C, N, x, threads);
        else
            memcpy(x, res, (size_t)(C * N) * sizeof *x);
    }
    free(buf);
    n->gt[grp_attn(n)].other_s += ps_now_seconds() - t0;
    return rc;
}

int ps_net_forward(ps_net *n, const float *input, float *logits)
{
    const int P = n->P;
    const int threads = ps_context_threads(&n->ctx);
    /* Decoder step u concatenates [up, skip] of level P-1-u. When the skip fills whole
     * channel blocks, the encoder writes it straight into the second half of that level's
     * concatenation buffer (cat[d]) and the transposed conv later fills the first half, so
     * no copy is made; otherwise skip[d] is a buffer of its own and is copied. Below the top
     * level, the stage's first block writes into that first half too (it is consumed before
     * the transposed conv needs it); at the top level this would hold all of cat[0] (the
     * largest map) through the decoder and raise the peak. A decoder step writes its second
     * block's output back into its cat buffer (consumed by the first block), and buffers
     * consumed elsewhere go to the spare (act_spare). */
    float *cat[PS_MAX_STAGES] = {0}, *skip[PS_MAX_STAGES] = {0};
    int skip_own[PS_MAX_STAGES] = {0}; /* skip[d] is a buffer of its own, not inside cat[d] */
    float *x = NULL, *y = NULL, *up = NULL;
    int64_t xcap = 0, ycap = 0, ccap = 0; /* floats allocated for x, y, a cat buffer */
    act_spare spare = {NULL, 0};
    int rc = PS_OK;
    memset(n->gt, 0, sizeof n->gt);
    double t_start = ps_now_seconds();
#ifdef _OPENMP
    /* oneDNN runs on omp_get_max_threads() threads of the calling thread. */
    int omp_prev = omp_get_max_threads();
    omp_set_num_threads(threads);
#endif

    /* Encoder + bottleneck. `cur` is the input of the next layer; x is owned (given to the
     * spare after use); the caller's input and the cat buffers are not. */
    const float *cur = input;
    for (int d = 0; d <= P; d++) {
        const int64_t S = vox3(n->size[d]);
        const int fs = n->feat[d];
        const int in_cat = d < P && fs % n->cb == 0;
        for (int j = 0; j < 2; j++) {
            ps_block *b = &n->enc[d][j];
            float *dst;
            if (in_cat && (j == 1 ? !cat[d] : d > 0)) {
                if (!(cat[d] = spare_take(&spare, (int64_t)2 * fs * S, &ccap))) {
                    rc = PS_ERR_NOMEM;
                    goto done;
                }
            }
            if (in_cat && j == 0 && d > 0) {
                dst = cat[d];
            } else if (in_cat && j == 1) {
                dst = skip[d] = cat[d] + (int64_t)fs * S;
            } else {
                if (!(y = spare_take(&spare, (int64_t)ps_cpad(fs, n->cb) * S, &ycap))) {
                    rc = PS_ERR_NOMEM;
                    goto done;
                }
                dst = y;
            }
            if ((rc = run_block(n, b, cur, dst, d, threads)))
                goto done;
            spare_give(&spare, x, xcap); /* the previous block output of this stage, if owned */
            x = NULL;
            if (in_cat && j == 0 && d > 0) {
                cur = cat[d];
            } else if (j == 1 && d < P) {
                if (!in_cat) { /* a skip of its own */
                    skip[d] = y;
                    skip_own[d] = 1;
                }
                y = NULL;
                cur = skip[d];
            } else {
                x = y;
                xcap = ycap;
                y = NULL;
                cur = x;
            }
        }
    }
    if (n->has_attn && (rc = run_attention(n, x, threads)))
        goto done;

    /* Decoder. */
    for (int u = 0; u < P; u++) {
        const int lvl = P - 1 - u, fs = n->feat[lvl];
        const int64_t S = vox3(n->size[lvl]);
        const int fsp = ps_cpad(fs, n->cb);
        ps_upconv *t = &n->tu[u];
        float *cb_buf = cat[lvl];
        if (!cb_buf) {
            if (!(up = act_alloc((int64_t)fsp * S)) ||
                !(cb_buf = cat[lvl] = act_alloc((int64_t)ps_cpad(2 * fs, n->cb) * S))) {
                rc = PS_ERR_NOMEM;
                goto done;
            }
        }
        const int64_t cb_cap = (int64_t)ps_cpad(2 * fs, n->cb) * S;
        float *up_dst = up ? up : cb_buf;
        double t0 = ps_now_seconds();
        if (n->backend == PS_CONV_ONEDNN)
            rc = ps_dnnl_conv_run(t->dc, x, up_dst);
        else
            ps_convt3d_ref(&t->cs, x, t->w, up_dst, threads);
        if (rc) {
            rc = ps_error_context(rc, "%s", t->key);
            goto done;
        }
        double t1 = ps_now_seconds();
        spare_give(&spare, x, xcap);
        x = NULL;
        if (up) { /* padded channel blocks: interleave [up, skip] */
            ps_concat_channels(up, fs, skip[lvl], fs, S, n->cb, cb_buf, threads);
            free(up);
            up = NULL;
            free(skip[lvl]);
            skip_own[lvl] = 0;
        }
        skip[lvl] = NULL;
        double t2 = ps_now_seconds();
        n->gt[P + 1 + u].conv_s += t1 - t0;
        n->gt[P + 1 + u].conv_flops += conv_flops(&t->cs, 1);
        n->gt[P + 1 + u].other_s += t2 - t1;

        if (!(y = spare_take(&spare, (int64_t)fsp * S, &ycap))) {
            rc = PS_ERR_NOMEM;
            goto done;
        }
        if ((rc = run_block(n, &n->dec[u][0], cb_buf, y, P + 1 + u, threads)) ||
            (rc = run_block(n, &n->dec[u][1], y, cb_buf, P + 1 + u, threads)))
            goto done;
        spare_give(&spare, y, ycap);
        y = NULL;
        x = cb_buf;
        xcap = cb_cap;
        cat[lvl] = NULL;
    }
    free(spare.p);
    spare.p = NULL;

    double t0 = ps_now_seconds();
    ps_conv1x1_to_plain(x, n->feat[0], vox3(n->size[0]), n->cb, n->seg_w, n->K, logits, threads);
    n->gt[grp_head(n)].other_s += ps_now_seconds() - t0;
    n->gt[grp_head(n)].other_flops += 2.0 * n->K * n->feat[0] * (double)vox3(n->size[0]);

done:
    free(spare.p);
    free(x);
    free(y);
    free(up);
    for (int d = 0; d < PS_MAX_STAGES; d++) {
        if (skip_own[d])
            free(skip[d]); /* otherwise it lives inside cat[d] */
        free(cat[d]);
    }
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
    return ferror(f) ? ps_error(PS_ERR_IO, "writing the profile failed") : PS_OK;
}
