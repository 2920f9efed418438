/* cmd_model_info.c - `panseval model-info`: what a trained nnU-Net v1 / PanSegNet model folder
 * contains (trainer, stage, plans, architecture, parameters, FLOPs), read without Python. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "ps_infer.h"

static const char *CMD = "model-info";

static void usage(FILE *f)
{
    fputs("Usage: panseval model-info --model MODEL_DIR [--fold N] [--checkpoint NAME]\n"
          "                           [--format text|json|tsv|csv] [-o FILE]\n"
          "\n"
          "Describe a trained nnU-Net v1 model folder (nnUNetTrainerV2's Generic_UNet, or\n"
          "PanSegNet's nnTransUNetTrainerV2 with its linear-attention bottleneck): trainer,\n"
          "epochs trained (the checkpoint's 'epoch'; -1 in JSON when absent), stage, patch\n"
          "size, target spacing, intensity normalisation, classes, the network stage by stage\n"
          "(features, kernel, stride, feature-map size at the training patch), the attention\n"
          "block if present, the number of parameters and the floating-point\n"
          "operations of one forward pass at the training patch size.\n"
          "\n"
          "The checkpoint is read directly (torch.save zip archive and pickles) by panseval's\n"
          "own decoder, which never runs code stored in the files; every tensor's storage is\n"
          "checked against its CRC-32. Checkpoints in the legacy format of PyTorch < 1.6 are\n"
          "read too.\n"
          "\n"
          "Model folder (as nnU-Net v1 writes it):\n"
          "  MODEL_DIR/fold_N/NAME.model       torch.save checkpoint: the state dict is used,\n"
          "                                    optimizer state and training curves are ignored\n"
          "  MODEL_DIR/fold_N/NAME.model.pkl   trainer name, constructor arguments (the stage\n"
          "                                    is the 6th), plans\n"
          "  MODEL_DIR/plans.pkl               plans, when the .model.pkl has none\n"
          "\n"
          "Options:\n"
          "  -m, --model DIR       trained model folder (required), e.g.\n"
          "                        .../3d_fullres/Task500_Pancreas/nnUNetTrainerV2__nnUNetPlansv2.1\n"
          "      --fold N          fold folder fold_N to read (default 0); --fold all reads\n"
          "                        the folder 'all'\n"
          "      --checkpoint NAME checkpoint file name without .model (default\n"
          "                        model_final_checkpoint; model_best also exists)\n"
          "      --format FMT      text (default, for people), json (one object), tsv or csv\n"
          "                        (two columns: field, value)\n"
          "  -o, --output FILE     write to FILE (atomically) instead of standard output\n"
          "  -q, --quiet           errors only\n"
          "  -h, --help            this text\n"
          "\n"
          "Definitions:\n"
          "  parameters            elements of the tensors the network uses at inference\n"
          "                        (the deep-supervision heads and the positional table are\n"
          "                        not counted); the state dict total is shown beside it\n"
          "  FLOPs                 floating-point operations of one pass at the training\n"
          "                        patch size: 2 per multiply-accumulate of every convolution,\n"
          "                        transposed convolution, linear layer and attention product,\n"
          "                        plus 8 per conv output for bias, instance norm and\n"
          "                        LeakyReLU (softmax, GELU and LayerNorm are not counted)\n"
          "  spacing, patch        in the plans' axis order (z, y, x), after\n"
          "                        transpose_forward, as nnU-Net uses them\n"
          "\n"
          "Exit status: 0 success, 1 unreadable or invalid model folder (the message names the\n"
          "file and what is wrong), 2 usage error.\n"
          "\n"
          "Example:\n"
          "  panseval model-info --model nnUNet/3d_fullres/Task500_Pancreas/"
          "nnTransUNetTrainerV2__nnUNetPlansv2.1 --format json\n"
          "See docs/checkpoints.md.\n",
          f);
}

enum { OPT_MODEL = CLI_OPT_FIRST_PRIVATE, OPT_FOLD, OPT_CHECKPOINT };

/* JSON string literal (RFC 8259 escaping). */
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

typedef struct attn_info {
    int present, d_model, d_ff, layers, tokens, channels;
} attn_info;

/* PanSegNet block dimensions from the tensor shapes (docs/checkpoints.md). */
static void attention_info(const ps_model *m, attn_info *a)
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

typedef struct report {
    const ps_model *m;
    attn_info attn;
    int64_t params, sd_numel;
    double flops;
    int size[PS_MAX_STAGES + 1][3];
} report;

static void print_text(FILE *f, const report *r)
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

static void print_json(FILE *f, const report *r)
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

static void print_table(FILE *f, const report *r, char sep)
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

int main_model_info(int argc, char **argv)
{
    static const struct option longopts[] = {
        CLI_COMMON_LONGOPTS,
        {"model", required_argument, NULL, OPT_MODEL},
        {"fold", required_argument, NULL, OPT_FOLD},
        {"checkpoint", required_argument, NULL, OPT_CHECKPOINT},
        {NULL, 0, NULL, 0},
    };
    cli_common common;
    cli_common_init(&common, PS_FMT_TSV);
    const char *model_dir = NULL, *checkpoint = "model_final_checkpoint";
    long fold = 0;
    int text = 1, text_asked = 0, c;
    /* "--format text" is ours; the other formats go through the common parser */
    char **args = ps_malloc_array((size_t)argc + 1, sizeof *args);
    int nargs = 0;
    if (!args)
        return cli_report_error(CMD, PS_ERR_NOMEM);
    for (int i = 0; i < argc; i++) {
        if (i > 0 && !strcmp(argv[i], "--format=text")) {
            text_asked = 1;
        } else if (i > 0 && !strcmp(argv[i], "--format") && i + 1 < argc &&
                   !strcmp(argv[i + 1], "text")) {
            text_asked = 1;
            i++;
        } else {
            args[nargs++] = argv[i];
        }
    }
    args[nargs] = NULL;
    common.uses = CLI_USE_OUTPUT | CLI_USE_FORMAT;
    while ((c = cli_getopt(&common, CMD, nargs, args, "m:", longopts)) != -1) {
        switch (c) {
        case CLI_GETOPT_ERROR:
            free(args);
            return 2;
        case 'm':
        case OPT_MODEL: model_dir = optarg; break;
        case OPT_CHECKPOINT: checkpoint = optarg; break;
        case OPT_FOLD:
            if (!strcmp(optarg, "all"))
                fold = -1;
            else if (cli_parse_int(CMD, "--fold", optarg, 0, 999, &fold)) {
                free(args);
                return 2;
            }
            break;
        default:
            c = cli_unknown_option(&common);
            free(args);
            return c;
        }
    }
    int extra = optind < nargs;
    const char *extra_arg = extra ? args[optind] : NULL;
    free(args);
    if (common.help) {
        usage(stdout);
        return 0;
    }
    if (extra)
        return cli_usage_error(CMD, "unexpected argument '%s'", extra_arg);
    if (!model_dir)
        return cli_usage_error(CMD, "missing --model MODEL_DIR");
    if (common.format_set == 1 && text_asked)
        return cli_usage_error(CMD, "--format given twice");
    if (common.format_set == 2 && text_asked)
        return cli_usage_error(CMD, "--format text contradicts the suffix of -o %s",
                               common.output);
    if (common.format_set && (common.format == PS_TABLE_MD || common.format == PS_TABLE_TEX))
        return cli_usage_error(CMD, "model-info writes text, json, tsv or csv, not %s",
                               ps_table_format_name(common.format));
    if (common.format_set)
        text = 0;
    if ((c = cli_output_check(&common, NULL, 0)))
        return c;

    ps_model *m = NULL;
    ps_net *net = NULL;
    ps_atomic_file *af = NULL;
    FILE *f;
    int rc, status = 0;
    report r;
    memset(&r, 0, sizeof r);
    if ((rc = ps_model_load(model_dir, (int)fold, checkpoint, &m)))
        goto fail;
    r.m = m;
    /* the network bound to the state dict at the training patch: checks every tensor's shape
     * and gives the parameter and FLOP counts */
    if ((rc = ps_net_create(m, m->plans.patch_size, PS_CONV_REFERENCE, &common.ctx, &net))) {
        rc = ps_error_context(rc, "%s", m->checkpoint_path);
        goto fail;
    }
    r.params = ps_net_param_count(net);
    r.flops = ps_net_flops(net);
    r.sd_numel = ps_state_dict_numel(&m->sd);
    attention_info(m, &r.attn);
    for (int a = 0; a < 3; a++)
        r.size[0][a] = m->plans.patch_size[a];
    for (int d = 1; d <= m->plans.num_pool; d++)
        for (int a = 0; a < 3; a++)
            r.size[d][a] = r.size[d - 1][a] / m->plans.pool_kernels[d - 1][a];
    if ((rc = cli_output_open(&common, &af, &f)))
        goto fail;
    if (text)
        print_text(f, &r);
    else if (common.format == PS_FMT_JSON)
        print_json(f, &r);
    else
        print_table(f, &r, common.format == PS_FMT_CSV ? ',' : '\t');
    rc = ps_atomic_commit(af);
    af = NULL;
    if (rc)
        goto fail;
    goto done;
fail:
    status = cli_report_error(CMD, rc);
done:
    ps_atomic_abort(af);
    ps_net_free(net);
    ps_model_free(m);
    return status;
}
