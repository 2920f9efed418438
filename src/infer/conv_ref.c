/* conv_ref.c - portable 3D convolution kernels in plain (C, D, H, W) layout.
 *
 * Kept simple on purpose: they define what the fast path must reproduce and run the tests on
 * machines without oneDNN. Each output channel is computed by one thread, accumulating over
 * (ci, kd, kh, kw) in that fixed order, so results do not depend on the thread count.
 */
#include <string.h>

#include "net_internal.h"

int ps_conv_shape_resolve(ps_conv_shape *cs, int transposed)
{
    for (int a = 0; a < 3; a++) {
        if (cs->k[a] < 1 || cs->stride[a] < 1 || cs->pad[a] < 0 || cs->in[a] < 1)
            return ps_error(PS_ERR_ARG, "invalid convolution geometry on axis %d "
                            "(input %d, kernel %d, stride %d, padding %d)", a, cs->in[a],
                            cs->k[a], cs->stride[a], cs->pad[a]);
        if (transposed) {
            /* PyTorch: out = (in - 1) * stride - 2 pad + k */
            cs->out[a] = (cs->in[a] - 1) * cs->stride[a] - 2 * cs->pad[a] + cs->k[a];
        } else {
            int span = cs->in[a] + 2 * cs->pad[a] - cs->k[a];
            cs->out[a] = span < 0 ? 0 : span / cs->stride[a] + 1;
        }
        if (cs->out[a] < 1)
            return ps_error(PS_ERR_ARG, "convolution input of size %d on axis %d is smaller "
                            "than its kernel (%d)", cs->in[a], a, cs->k[a]);
    }
    return PS_OK;
}

void ps_conv3d_ref(const ps_conv_shape *cs, const float *in, const float *w, const float *bias,
                   int accumulate, float *out, int threads)
{
    const int ID = cs->in[0], IH = cs->in[1], IW = cs->in[2];
    const int OD = cs->out[0], OH = cs->out[1], OW = cs->out[2];
    const int KD = cs->k[0], KH = cs->k[1], KW = cs->k[2];
    const int SD = cs->stride[0], SH = cs->stride[1], SW = cs->stride[2];
    const int PD = cs->pad[0], PH = cs->pad[1], PW = cs->pad[2];
    const int64_t isz = (int64_t)ID * IH * IW, osz = (int64_t)OD * OH * OW;
    const int64_t kvol = (int64_t)KD * KH * KW;

#pragma omp parallel for schedule(static) num_threads(threads)
    for (int co = 0; co < cs->cout; co++) {
        float *o = out + co * osz;
        float b = bias ? bias[co] : 0.0f;
        if (!accumulate)
            for (int64_t s = 0; s < osz; s++)
                o[s] = b;
        else if (bias)
            for (int64_t s = 0; s < osz; s++)
                o[s] += b;
        for (int ci = 0; ci < cs->cin; ci++) {
            const float *x = in + ci * isz;
            const float *wk = w + ((int64_t)co * cs->cin + ci) * kvol;
            for (int kd = 0; kd < KD; kd++)
                for (int kh = 0; kh < KH; kh++)
                    for (int kw = 0; kw < KW; kw++) {
                        float wv = wk[(kd * KH + kh) * KW + kw];
                        /* valid output range along W: 0 <= ow*SW + kw - PW < IW */
                        int ow0 = 0, ow1 = OW;
                        while (ow0 < OW && ow0 * SW + kw - PW < 0)
                            ow0++;
                        while (ow1 > ow0 && (ow1 - 1) * SW + kw - PW >= IW)
                            ow1--;
                        for (int od = 0; od < OD; od++) {
                            int id = od * SD + kd - PD;
                            if (id < 0 || id >= ID)
                                continue;
                            for (int oh = 0; oh < OH; oh++) {
                                int ih = oh * SH + kh - PH;
                                if (ih < 0 || ih >= IH)
                                    continue;
                                float *orow = o + ((int64_t)od * OH + oh) * OW;
                                const float *xrow = x + ((int64_t)id * IH + ih) * IW + kw - PW;
                                if (SW == 1) {
                                    for (int ow = ow0; ow < ow1; ow++)
                                        orow[ow] += wv * xrow[ow];
                                } else {
                                    for (int ow = ow0; ow < ow1; ow++)
                                        orow[ow] += wv * xrow[ow * SW];
                                }
                            }
                        }
                    }
        }
    }
}

void ps_convt3d_ref(const ps_conv_shape *cs, const float *in, const float *w, float *out,
                    int threads)
{
    const int ID = cs->in[0], IH = cs->in[1], IW = cs->in[2];
    const int OH = cs->out[1], OW = cs->out[2];
    const int KD = cs->k[0], KH = cs->k[1], KW = cs->k[2];
    const int64_t isz = (int64_t)ID * IH * IW;
    const int64_t osz = (int64_t)cs->out[0] * OH * OW;
    const int64_t kvol = (int64_t)KD * KH * KW;

#pragma omp parallel for schedule(static) num_threads(threads)
    for (int co = 0; co < cs->cout; co++) {
        float *o = out + co * osz;
        memset(o, 0, (size_t)osz * sizeof *o);
        for (int ci = 0; ci < cs->cin; ci++) {
            const float *x = in + ci * isz;
            const float *wk = w + ((int64_t)ci * cs->cout + co) * kvol;
            for (int kd = 0; kd < KD; kd++)
                for (int kh = 0; kh < KH; kh++)
                    for (int kw = 0; kw < KW; kw++) {
                        float wv = wk[(kd * KH + kh) * KW + kw];
                        for (int id = 0; id < ID; id++)
                            for (int ih = 0; ih < IH; ih++) {
                                const float *xrow = x + ((int64_t)id * IH + ih) * IW;
                                float *orow = o + ((int64_t)(id * KD + kd) * OH + ih * KH + kh) * OW + kw;
                                for (int iw = 0; iw < IW; iw++)
                                    orow[iw * KW] += wv * xrow[iw];
                            }
                    }
        }
    }
}
