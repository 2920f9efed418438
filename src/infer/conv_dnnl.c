/* conv_dnnl.c - 3D convolutions and transposed convolutions through oneDNN's C API.
 *
 * Activations are PS_NDHWC ("channels last", oneDNN's ndhwc): for that layout oneDNN 2.6
 * selects its brgemm convolutions (brgconv:avx512_core on AVX-512), which ran 15-20% faster
 * than its direct kernels on the blocked nCdhw16c layout for the shapes of Generic_UNet
 * (bench/conv_bench.c prints both). They need a dense source and destination, so the
 * network never hands them channel slices (see net_internal.h for how the decoder's
 * concatenation is avoided). Weights are reordered once, at creation, into the format the
 * selected kernel asks for (format_tag any). The conv bias is passed only when the caller asks
 * for it: the network skips it in front of instance norm, where it cancels.
 *
 * Threads: oneDNN (Debian's build uses OpenMP) runs on omp_get_max_threads() threads of the
 * calling thread. Its forward convolutions assign each output element to one thread and sum
 * over input channels and taps in a fixed order for a given kernel.
 */
#include <stdlib.h>
#include <string.h>

#include "ps_config.h"
#include "net_internal.h"

#if PS_HAVE_DNNL
#include <oneapi/dnnl/dnnl.h>

struct ps_dnnl {
    dnnl_engine_t engine;
    dnnl_stream_t stream;
};

struct ps_dnnl_conv {
    ps_dnnl *e;
    dnnl_primitive_t prim;
    dnnl_memory_t src, wei, bias, dst;
    float *wei_buf;
    const char *impl;
};

static int dnnl_fail(dnnl_status_t st, const char *what)
{
    return ps_error(st == dnnl_out_of_memory ? PS_ERR_NOMEM : PS_ERR_UNSUPPORTED,
                    "oneDNN: %s failed (status %d)", what, (int)st);
}

#define DNNL_TRY(call, what)                        \
    do {                                            \
        dnnl_status_t st_ = (call);                 \
        if (st_ != dnnl_success) {                  \
            rc = dnnl_fail(st_, what);              \
            goto fail;                              \
        }                                           \
    } while (0)

int ps_dnnl_create(ps_dnnl **out)
{
    *out = NULL;
    int rc;
    ps_dnnl *e = ps_calloc(1, sizeof *e);
    if (!e)
        return PS_ERR_NOMEM;
    DNNL_TRY(dnnl_engine_create(&e->engine, dnnl_cpu, 0), "engine creation");
    DNNL_TRY(dnnl_stream_create(&e->stream, e->engine, dnnl_stream_default_flags),
             "stream creation");
    *out = e;
    return PS_OK;
fail:
    ps_dnnl_free(e);
    return rc;
}

void ps_dnnl_free(ps_dnnl *e)
{
    if (!e)
        return;
    if (e->stream)
        dnnl_stream_destroy(e->stream);
    if (e->engine)
        dnnl_engine_destroy(e->engine);
    free(e);
}

int ps_dnnl_conv_create(ps_dnnl *e, const ps_conv_shape *cs, int transposed, const float *w,
                        const float *bias, int accumulate, ps_dnnl_conv **out)
{
    *out = NULL;
    int rc = PS_OK;
    dnnl_primitive_desc_t pd = NULL;
    dnnl_primitive_attr_t attr = NULL;
    dnnl_post_ops_t po = NULL;
    dnnl_memory_t user_w = NULL;
    dnnl_primitive_t reorder = NULL;
    dnnl_primitive_desc_t rpd = NULL;
    ps_dnnl_conv *c = ps_calloc(1, sizeof *c);
    if (!c)
        return PS_ERR_NOMEM;
    c->e = e;

    dnnl_dims_t src_dims = {1, cs->cin, cs->in[0], cs->in[1], cs->in[2]};
    dnnl_dims_t dst_dims = {1, cs->cout, cs->out[0], cs->out[1], cs->out[2]};
    dnnl_dims_t w_dims = {cs->cout, cs->cin, cs->k[0], cs->k[1], cs->k[2]};
    dnnl_dims_t b_dims = {cs->cout};
    dnnl_dims_t strides = {cs->stride[0], cs->stride[1], cs->stride[2]};
    dnnl_dims_t pad_l = {cs->pad[0], cs->pad[1], cs->pad[2]};
    dnnl_dims_t pad_r;
    for (int a = 0; a < 3; a++) /* oneDNN wants out = (in + pl + pr - k) / s + 1 exactly */
        pad_r[a] = transposed ? cs->pad[a]
                              : (int64_t)(cs->out[a] - 1) * cs->stride[a] + cs->k[a] -
                                    cs->in[a] - cs->pad[a];

    dnnl_memory_desc_t src_md, dst_md, w_any, b_md, user_w_md;
    DNNL_TRY(dnnl_memory_desc_init_by_tag(&src_md, 5, src_dims, dnnl_f32, dnnl_ndhwc),
             "source descriptor");
    DNNL_TRY(dnnl_memory_desc_init_by_tag(&dst_md, 5, dst_dims, dnnl_f32, dnnl_ndhwc),
             "destination descriptor");
    DNNL_TRY(dnnl_memory_desc_init_by_tag(&w_any, 5, w_dims, dnnl_f32, dnnl_format_tag_any),
             "weights descriptor");
    DNNL_TRY(dnnl_memory_desc_init_by_tag(&b_md, 1, b_dims, dnnl_f32, dnnl_x),
             "bias descriptor");
    /* PyTorch: Conv3d weight (Cout, Cin, k) = oidhw; ConvTranspose3d weight (Cin, Cout, k),
     * which for oneDNN's (O, I, k) dims is iodhw. */
    DNNL_TRY(dnnl_memory_desc_init_by_tag(&user_w_md, 5, w_dims, dnnl_f32,
                                          transposed ? dnnl_iodhw : dnnl_oidhw),
             "weights descriptor");

    /* accumulate: dst = conv(src) + 1.0 * dst, the sum post-op */
    DNNL_TRY(dnnl_primitive_attr_create(&attr), "attribute creation");
    if (accumulate) {
        DNNL_TRY(dnnl_post_ops_create(&po), "post-op creation");
        DNNL_TRY(dnnl_post_ops_append_sum(po, 1.0f), "sum post-op");
        DNNL_TRY(dnnl_primitive_attr_set_post_ops(attr, po), "sum post-op");
    }
    if (transposed) {
        dnnl_deconvolution_desc_t dd;
        DNNL_TRY(dnnl_deconvolution_forward_desc_init(
                     &dd, dnnl_forward_inference, dnnl_deconvolution_direct, &src_md, &w_any,
                     bias ? &b_md : NULL, &dst_md, strides, pad_l, pad_r),
                 "transposed convolution descriptor");
        DNNL_TRY(dnnl_primitive_desc_create(&pd, &dd, attr, e->engine, NULL),
                 "transposed convolution primitive descriptor");
    } else {
        dnnl_convolution_desc_t cd;
        DNNL_TRY(dnnl_convolution_forward_desc_init(
                     &cd, dnnl_forward_inference, dnnl_convolution_direct, &src_md, &w_any,
                     bias ? &b_md : NULL, &dst_md, strides, pad_l, pad_r),
                 "convolution descriptor");
        DNNL_TRY(dnnl_primitive_desc_create(&pd, &cd, attr, e->engine, NULL),
                 "convolution primitive descriptor");
    }
    DNNL_TRY(dnnl_primitive_desc_query(pd, dnnl_query_impl_info_str, 0, &c->impl),
             "implementation query");
    const dnnl_memory_desc_t *w_md = dnnl_primitive_desc_query_md(pd, dnnl_query_weights_md, 0);

    /* Reorder the weights once into the kernel's layout. */
    size_t wbytes = dnnl_memory_desc_get_size(w_md);
    c->wei_buf = aligned_alloc(64, (wbytes + 63) / 64 * 64);
    if (!c->wei_buf) {
        rc = ps_error(PS_ERR_NOMEM, "out of memory for %zu bytes of convolution weights", wbytes);
        goto fail;
    }
    DNNL_TRY(dnnl_memory_create(&c->wei, w_md, e->engine, c->wei_buf), "weights memory");
    DNNL_TRY(dnnl_memory_create(&user_w, &user_w_md, e->engine, (void *)w), "weights memory");
    DNNL_TRY(dnnl_reorder_primitive_desc_create(&rpd, &user_w_md, e->engine, w_md, e->engine,
                                                NULL),
             "weights reorder descriptor");
    DNNL_TRY(dnnl_primitive_create(&reorder, rpd), "weights reorder");
    dnnl_exec_arg_t rargs[2] = {{DNNL_ARG_FROM, user_w}, {DNNL_ARG_TO, c->wei}};
    DNNL_TRY(dnnl_primitive_execute(reorder, e->stream, 2, rargs), "weights reorder");
    DNNL_TRY(dnnl_stream_wait(e->stream), "weights reorder");

    DNNL_TRY(dnnl_memory_create(&c->src, &src_md, e->engine, DNNL_MEMORY_NONE), "source memory");
    DNNL_TRY(dnnl_memory_create(&c->dst, &dst_md, e->engine, DNNL_MEMORY_NONE),
             "destination memory");
    if (bias)
        DNNL_TRY(dnnl_memory_create(&c->bias, &b_md, e->engine, (void *)bias), "bias memory");
    DNNL_TRY(dnnl_primitive_create(&c->prim, pd), "primitive creation");

    dnnl_primitive_destroy(reorder);
    dnnl_primitive_desc_destroy(rpd);
    dnnl_memory_destroy(user_w);
    dnnl_primitive_desc_destroy(pd);
    dnnl_primitive_attr_destroy(attr);
    if (po)
        dnnl_post_ops_destroy(po);
    *out = c;
    return PS_OK;
fail:
    if (attr)
        dnnl_primitive_attr_destroy(attr);
    if (po)
        dnnl_post_ops_destroy(po);
    if (reorder)
        dnnl_primitive_destroy(reorder);
    if (rpd)
        dnnl_primitive_desc_destroy(rpd);
    if (user_w)
        dnnl_memory_destroy(user_w);
    if (pd)
        dnnl_primitive_desc_destroy(pd);
    ps_dnnl_conv_free(c);
    return rc;
}

int ps_dnnl_conv_run(ps_dnnl_conv *c, const float *src, float *dst)
{
    int rc = PS_OK;
    DNNL_TRY(dnnl_memory_set_data_handle(c->src, (void *)src), "binding the source");
    DNNL_TRY(dnnl_memory_set_data_handle(c->dst, dst), "binding the destination");
    dnnl_exec_arg_t args[4] = {
        {DNNL_ARG_SRC, c->src}, {DNNL_ARG_WEIGHTS, c->wei}, {DNNL_ARG_DST, c->dst},
        {DNNL_ARG_BIAS, c->bias}};
    DNNL_TRY(dnnl_primitive_execute(c->prim, c->e->stream, c->bias ? 4 : 3, args),
             "convolution");
    DNNL_TRY(dnnl_stream_wait(c->e->stream), "convolution");
fail:
    return rc;
}

const char *ps_dnnl_conv_impl(const ps_dnnl_conv *c)
{
    return c && c->impl ? c->impl : "";
}

void ps_dnnl_conv_free(ps_dnnl_conv *c)
{
    if (!c)
        return;
    if (c->prim)
        dnnl_primitive_destroy(c->prim);
    if (c->src)
        dnnl_memory_destroy(c->src);
    if (c->dst)
        dnnl_memory_destroy(c->dst);
    if (c->wei)
        dnnl_memory_destroy(c->wei);
    if (c->bias)
        dnnl_memory_destroy(c->bias);
    free(c->wei_buf);
    free(c);
}

#else /* !PS_HAVE_DNNL */

int ps_dnnl_create(ps_dnnl **out)
{
    *out = NULL;
    return ps_error(PS_ERR_UNSUPPORTED, "panseval was built without oneDNN");
}
void ps_dnnl_free(ps_dnnl *e)
{
    (void)e;
}
int ps_dnnl_conv_create(ps_dnnl *e, const ps_conv_shape *cs, int transposed, const float *w,
                        const float *bias, int accumulate, ps_dnnl_conv **out)
{
    *out = NULL;
    return ps_error(PS_ERR_UNSUPPORTED, "panseval was built without oneDNN");
}
int ps_dnnl_conv_run(ps_dnnl_conv *c, const float *src, float *dst)
{
    return ps_error(PS_ERR_UNSUPPORTED, "panseval was built without oneDNN");
}
const char *ps_dnnl_conv_impl(const ps_dnnl_conv *c)
{
    return "";
}
void ps_dnnl_conv_free(ps_dnnl_conv *c)
{
    (void)c;
}
#endif
