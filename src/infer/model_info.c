/* model_info.c - the description of a trained nnU-Net v1 / PanSegNet model that
 * `panseval model-info` prints: trainer, stage, plans, the network stage by stage, the
 * attention block, parameters and FLOPs (definitions in docs/checkpoints.md and in the
 * command's --help). The infer module owns it; ps_model_info_compute() reports the errors of
 * ps_net_create() under the checkpoint's path; ps_model_info_write() only prints (errors of
 * the stream are seen by whoever closes it, e.g. ps_atomic_commit()).
 */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "ps_infer.h"

/* Numbers as every table writes them: the shortest text that reads back as the same double
 * (ps_format_double); in JSON a non-finite value is null. Each call has its own buffer slot,
 * so one printf may take several. */
typedef struct { char b[8][32]; int i; } numbuf;
static const char *num(numbuf *nb, double x, int json)
{
    char *b = nb->b[nb->i++ & 7];
    if (json && !isfinite(x))
        snprintf(b, 32, "null");
    else
        ps_format_double(x, b, 32);
    return b;
}

/* PanSegNet block dimensions from the tensor shapes (docs/checkpoints.md). */
static void attention_info(const ps_model *m, ps_model_attn_info *a)
{
    memset(a, 0, sizeof *a);
    const ps_tensor *proj = ps_state_dict_get(&m->sd, "self_atten.linear_proj.weight");
    const ps_tensor *pe = ps_state_dict_get(&m->sd, "self_atten.pos_encode.pe");
    if (!m->has_attention || !proj || proj->ndim != 2)
        return;
    a->present = 1;
    a->d_model = (int)proj->shape[0];
    a->channels = (int)proj->shape[1];
    if (pe && pe->ndim == 3)
        a->tokens = (int)pe->shape[1];
    char key[128];
    for (;;) {
        snprintf(key, sizeof key, "self_atten.transformer.layers.%d.linear1.weight", a->layers);
        const ps_tensor *l1 = ps_state_dict_get(&m->sd, key);
        if (!l1)
            break;
        if (l1->ndim == 2)
            a->d_ff = (int)l1->shape[0];
        a->layers++;
    }
}

/* Features of encoder stage d: base * 2^d capped at 320 (nnU-Net v1 MAX_NUM_FILTERS_3D). */
static int stage_features(const ps_plans *p, int d)
{
    int f = p->base_num_features;
    for (int k = 0; k < d; k++)
        f = f * 2 < 320 ? f * 2 : 320;
    return f;
}

static void print_text(FILE *f, const ps_model_info *r)
{
    const ps_model *m = r->m;
    const ps_plans *p = &m->plans;
    fprintf(f, "model        %s\n", m->dir);
    fprintf(f, "checkpoint   %s\n", m->checkpoint_path);
    fprintf(f, "trainer      %s\n", p->trainer[0] ? p->trainer : "(unknown)");
    if (m->epoch >= 0)
        fprintf(f, "epochs       %lld\n", (long long)m->epoch);
    fprintf(f, "network      %s\n", r->attn.present ? "PanSegNet (Generic_UNet + linear-attention "
                                                      "bottleneck)" : "Generic_UNet");
    fprintf(f, "stage        %d of %d\n", p->stage, p->num_stages);
    fprintf(f, "patch        %d x %d x %d\n", p->patch_size[0], p->patch_size[1],
            p->patch_size[2]);
    fprintf(f, "spacing      %.6g x %.6g x %.6g mm\n", p->spacing[0], p->spacing[1],
            p->spacing[2]);
    fprintf(f, "transpose    forward %d %d %d, backward %d %d %d\n", p->transpose_forward[0],
            p->transpose_forward[1], p->transpose_forward[2], p->transpose_backward[0],
            p->transpose_backward[1], p->transpose_backward[2]);
    fprintf(f, "classes      %d (+ background)\n", p->num_classes);
    fprintf(f, "modalities   %d\n", p->num_modalities);
    for (int c = 0; c < p->num_modalities; c++) {
        fprintf(f, "  %d: %s", c, p->normalization[c]);
        const struct ps_plans_intensity *in = &p->intensity[c];
        if (in->present)
            fprintf(f, " (mean %.6g, sd %.6g, clip %.6g..%.6g)", in->mean, in->sd,
                    in->percentile_00_5, in->percentile_99_5);
        if (p->use_mask_for_norm[c])
            fprintf(f, ", nonzero mask");
        fputc('\n', f);
    }
    fprintf(f, "encoder      (features, kernel, stride, size at the training patch)\n");
    for (int d = 0; d <= p->num_pool; d++) {
        const int *k = p->conv_kernels[d];
        int st[3] = {1, 1, 1};
        if (d > 0)
            memcpy(st, p->pool_kernels[d - 1], sizeof st);
        fprintf(f, "  %-10s %4d  %dx%dx%d  %dx%dx%d  %dx%dx%d\n",
                d == p->num_pool ? "bottleneck" : "", stage_features(p, d), k[0], k[1], k[2],
                st[0], st[1], st[2], r->size[d][0], r->size[d][1], r->size[d][2]);
    }
    if (r->attn.present)
        fprintf(f, "attention    %d tokens x %d channels -> d_model %d, %d layers, 8 heads, "
                   "feed-forward %d\n", r->attn.tokens, r->attn.channels, r->attn.d_model,
                r->attn.layers, r->attn.d_ff);
    fprintf(f, "decoder      (features, kernel, up-sampling)\n");
    for (int u = 0; u < p->num_pool; u++) {
        int lvl = p->num_pool - 1 - u;
        const int *k = p->conv_kernels[p->num_pool - u], *pk = p->pool_kernels[lvl];
        fprintf(f, "  %-10s %4d  %dx%dx%d  %dx%dx%d\n", "", stage_features(p, lvl), k[0], k[1],
                k[2], pk[0], pk[1], pk[2]);
    }
    fprintf(f, "parameters   %lld used at inference (%lld in %d state-dict tensors)\n",
            (long long)r->params, (long long)r->sd_numel, m->sd.n);
    fprintf(f, "FLOPs        %.4g GFLOP per forward pass at the training patch\n",
            r->flops * 1e-9);
}

static void print_json(FILE *f, const ps_model_info *r)
{
    const ps_model *m = r->m;
    const ps_plans *p = &m->plans;
    fputs("{\n  \"model\": ", f);
    ps_json_put_string(f, m->dir);
    fputs(",\n  \"checkpoint\": ", f);
    ps_json_put_string(f, m->checkpoint_path);
    fprintf(f, ",\n  \"fold\": %d,\n  \"epoch\": %lld,\n  \"trainer\": ", m->fold,
            (long long)m->epoch);
    ps_json_put_string(f, p->trainer);
    fprintf(f, ",\n  \"attention\": %s,\n  \"stage\": %d,\n  \"num_stages\": %d,\n",
            r->attn.present ? "true" : "false", p->stage, p->num_stages);
    fprintf(f, "  \"patch_size\": [%d, %d, %d],\n", p->patch_size[0], p->patch_size[1],
            p->patch_size[2]);
    numbuf nb = {{{0}}, 0};
    fprintf(f, "  \"spacing_mm\": [%s, %s, %s],\n", num(&nb, p->spacing[0], 1),
            num(&nb, p->spacing[1], 1), num(&nb, p->spacing[2], 1));
    fprintf(f, "  \"transpose_forward\": [%d, %d, %d],\n  \"transpose_backward\": [%d, %d, %d],\n",
            p->transpose_forward[0], p->transpose_forward[1], p->transpose_forward[2],
            p->transpose_backward[0], p->transpose_backward[1], p->transpose_backward[2]);
    fprintf(f, "  \"num_classes\": %d,\n  \"num_modalities\": %d,\n  \"normalization\": [",
            p->num_classes, p->num_modalities);
    for (int c = 0; c < p->num_modalities; c++) {
        const struct ps_plans_intensity *in = &p->intensity[c];
        fputs(c ? ", {\"scheme\": " : "{\"scheme\": ", f);
        ps_json_put_string(f, p->normalization[c]);
        fprintf(f, ", \"use_mask\": %s", p->use_mask_for_norm[c] ? "true" : "false");
        if (in->present)
            fprintf(f, ", \"mean\": %s, \"sd\": %s, \"percentile_00_5\": %s, "
                       "\"percentile_99_5\": %s", num(&nb, in->mean, 1), num(&nb, in->sd, 1),
                    num(&nb, in->percentile_00_5, 1), num(&nb, in->percentile_99_5, 1));
        fputc('}', f);
    }
    fprintf(f, "],\n  \"base_num_features\": %d,\n  \"stages\": [\n", p->base_num_features);
    for (int d = 0; d <= p->num_pool; d++) {
        const int *k = p->conv_kernels[d];
        int st[3] = {1, 1, 1};
        if (d > 0)
            memcpy(st, p->pool_kernels[d - 1], sizeof st);
        fprintf(f, "    {\"features\": %d, \"kernel\": [%d, %d, %d], \"stride\": [%d, %d, %d], "
                   "\"size\": [%d, %d, %d]}%s\n", stage_features(p, d), k[0], k[1], k[2], st[0],
                st[1], st[2], r->size[d][0], r->size[d][1], r->size[d][2],
                d < p->num_pool ? "," : "");
    }
    fputs("  ],\n", f);
    if (r->attn.present)
        fprintf(f, "  \"attention_block\": {\"tokens\": %d, \"channels\": %d, \"d_model\": %d, "
                   "\"layers\": %d, \"heads\": 8, \"d_ff\": %d},\n", r->attn.tokens,
                r->attn.channels, r->attn.d_model, r->attn.layers, r->attn.d_ff);
    fprintf(f, "  \"parameters\": %lld,\n  \"state_dict_elements\": %lld,\n"
               "  \"state_dict_tensors\": %d,\n  \"flops\": %s\n}\n",
            (long long)r->params, (long long)r->sd_numel, m->sd.n, num(&nb, r->flops, 1));
}

static void print_table(FILE *f, const ps_model_info *r, char sep)
{
    const ps_model *m = r->m;
    const ps_plans *p = &m->plans;
    /* values never contain the separator except paths and names: quote those for CSV */
    const char *q = sep == ',' ? "\"" : "";
    fprintf(f, "field%cvalue\n", sep);
    fprintf(f, "model%c%s%s%s\n", sep, q, m->dir, q);
    fprintf(f, "checkpoint%c%s%s%s\n", sep, q, m->checkpoint_path, q);
    fprintf(f, "trainer%c%s\n", sep, p->trainer);
    fprintf(f, "epoch%c%lld\n", sep, (long long)m->epoch);
    fprintf(f, "attention%c%d\n", sep, r->attn.present);
    fprintf(f, "stage%c%d\n", sep, p->stage);
    fprintf(f, "patch_size%c%dx%dx%d\n", sep, p->patch_size[0], p->patch_size[1],
            p->patch_size[2]);
    numbuf nb = {{{0}}, 0};
    fprintf(f, "spacing_mm%c%sx%sx%s\n", sep, num(&nb, p->spacing[0], 0),
            num(&nb, p->spacing[1], 0), num(&nb, p->spacing[2], 0));
    fprintf(f, "num_classes%c%d\n", sep, p->num_classes);
    fprintf(f, "num_modalities%c%d\n", sep, p->num_modalities);
    for (int c = 0; c < p->num_modalities; c++)
        fprintf(f, "normalization_%d%c%s\n", c, sep, p->normalization[c]);
    fprintf(f, "num_pool%c%d\n", sep, p->num_pool);
    fprintf(f, "base_num_features%c%d\n", sep, p->base_num_features);
    fprintf(f, "parameters%c%lld\n", sep, (long long)r->params);
    fprintf(f, "state_dict_elements%c%lld\n", sep, (long long)r->sd_numel);
    fprintf(f, "flops%c%s\n", sep, num(&nb, r->flops, 0));
}

int ps_model_info_compute(const ps_model *m, const ps_context *ctx, ps_model_info *out)
{
    memset(out, 0, sizeof *out);
    out->m = m;
    /* the network bound to the state dict at the training patch: checks every tensor's shape
     * and gives the parameter and FLOP counts */
    ps_net *net = NULL;
    int rc = ps_net_create(m, m->plans.patch_size, PS_CONV_REFERENCE, ctx, &net);
    if (rc)
        return ps_error_context(rc, "%s", m->checkpoint_path);
    out->params = ps_net_param_count(net);
    out->flops = ps_net_flops(net);
    ps_net_free(net);
    out->sd_numel = ps_state_dict_numel(&m->sd);
    attention_info(m, &out->attn);
    for (int a = 0; a < 3; a++)
        out->size[0][a] = m->plans.patch_size[a];
    for (int d = 1; d <= m->plans.num_pool; d++)
        for (int a = 0; a < 3; a++)
            out->size[d][a] = out->size[d - 1][a] / m->plans.pool_kernels[d - 1][a];
    return PS_OK;
}

int ps_model_info_write(const ps_model_info *info, ps_model_info_format format, FILE *f)
{
    switch (format) {
    case PS_MODEL_INFO_TEXT: print_text(f, info); break;
    case PS_MODEL_INFO_JSON: print_json(f, info); break;
    case PS_MODEL_INFO_TSV: print_table(f, info, '\t'); break;
    case PS_MODEL_INFO_CSV: print_table(f, info, ','); break;
    default: return ps_error(PS_ERR_ARG, "unknown model-info format %d", (int)format);
    }
    return PS_OK;
}
