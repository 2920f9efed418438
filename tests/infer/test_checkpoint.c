/* Tests of the checkpoint readers (src/infer/zip.c, pickle.c, checkpoint.c).
 *
 * Expected values: tests/golden/infer/<model>/tensors.tsv, written by
 * tests/reference/make_infer_fixtures.py from the tensors PyTorch 1.13 saved (shape, float64
 * sums of the float32 values by numpy, CRC-32 of the float32 bytes by zlib.crc32); plans values
 * are the inputs of that script (its CONFIGS table), quoted beside each assertion. */
#include "ckpt_internal.h"
#include "ps_infer.h"
#include "ps_test.h"

#include <stdint.h>
#include <sys/stat.h>
#include <unistd.h>

/* ---- helpers ---------------------------------------------------------------------------- */
static uint8_t *slurp(const char *path, size_t *n)
{
    FILE *f = fopen(path, "rb");
    ck_assert_msg(f != NULL, "cannot open %s", path);
    fseek(f, 0, SEEK_END);
    long len = ftell(f);
    fseek(f, 0, SEEK_SET);
    uint8_t *b = malloc((size_t)len + 1);
    ck_assert(b != NULL);
    ck_assert_int_eq(fread(b, 1, (size_t)len, f), (size_t)len);
    fclose(f);
    *n = (size_t)len;
    return b;
}

static void spill(const char *path, const void *b, size_t n)
{
    FILE *f = fopen(path, "wb");
    ck_assert_msg(f != NULL, "cannot write %s", path);
    ck_assert_int_eq(fwrite(b, 1, n, f), n);
    fclose(f);
}

static void copy_file(const char *from, const char *to)
{
    size_t n;
    uint8_t *b = slurp(from, &n);
    spill(to, b, n);
    free(b);
}

static char *golden(const char *rel)
{
    return strdup(ps_test_path(rel));
}

/* Compare every tensor of `sd` with the rows of a tensors.tsv; returns the row count. */
static int check_against_tsv(const ps_state_dict *sd, const char *tsv_rel)
{
    char *path = golden(tsv_rel);
    FILE *f = fopen(path, "r");
    ck_assert_msg(f != NULL, "cannot open %s", path);
    char line[4096];
    int rows = 0, header = 0;
    while (fgets(line, sizeof line, f)) {
        if (line[0] == '#')
            continue;
        if (!header) {
            header = 1;
            ck_assert_msg(!strncmp(line, "key\tshape\tnumel\tsum", 19), "header of %s", path);
            continue;
        }
        char *fld[8];
        int nf = 0;
        /* an empty shape (0-d tensor) is an empty field: split by hand */
        char *s = line;
        for (nf = 0; nf < 8; nf++) {
            fld[nf] = s;
            char *tab = strpbrk(s, "\t\n");
            if (!tab)
                break;
            *tab = 0;
            s = tab + 1;
        }
        ck_assert_msg(nf >= 7, "%s row %d has %d fields", path, rows + 1, nf);
        const ps_tensor *t = ps_state_dict_get(sd, fld[0]);
        ck_assert_msg(t != NULL, "tensor %s missing", fld[0]);
        /* shape "a x b x c" */
        int64_t shape[PS_TENSOR_MAXDIM];
        int nd = 0;
        for (char *p = fld[1]; *p;) {
            shape[nd++] = strtoll(p, &p, 10);
            if (*p == 'x')
                p++;
        }
        ck_assert_msg(t->ndim == nd, "%s: ndim %d, expected %d", fld[0], t->ndim, nd);
        for (int k = 0; k < nd; k++)
            ck_assert_int_eq(t->shape[k], shape[k]);
        ck_assert_int_eq(t->numel, strtoll(fld[2], NULL, 10));
        double sum = 0, sumsq = 0, sumabs = 0;
        for (int64_t i = 0; i < t->numel; i++) {
            sum += t->data[i];
            sumsq += (double)t->data[i] * t->data[i];
            sumabs += fabs(t->data[i]);
        }
        double esum = strtod(fld[3], NULL), esq = strtod(fld[4], NULL), eabs = strtod(fld[5], NULL);
        /* same float32 values summed in another order: relative to the sum of magnitudes */
        ck_assert_msg(fabs(sum - esum) <= PS_TOL_REF * fmax(1.0, eabs), "%s: sum %.17g vs %.17g",
                      fld[0], sum, esum);
        ck_assert_close(sumsq, esq, PS_TOL_REF);
        ck_assert_close(sumabs, eabs, PS_TOL_REF);
        char *p = fld[6];
        for (int64_t i = 0; i < t->numel && i < 4 && *p; i++) {
            float v = strtof(p, &p);
            ck_assert_msg(t->data[i] == v || (isnan(v) && isnan(t->data[i])),
                          "%s[%lld] = %.9g, expected %.9g", fld[0], (long long)i, t->data[i], v);
            if (*p == ',')
                p++;
        }
        /* exact equality of every value: CRC-32 of the float32 little-endian bytes */
        uint32_t crc = ps_crc32(0, (const uint8_t *)t->data, (size_t)t->numel * 4);
        ck_assert_msg(crc == (uint32_t)strtoul(fld[7], NULL, 10), "%s: CRC %u, expected %s",
                      fld[0], crc, fld[7]);
        rows++;
    }
    fclose(f);
    free(path);
    ck_assert_int_eq(rows, sd->n);
    return rows;
}

static void expect_error(int rc, int code, const char *needle1, const char *needle2)
{
    ck_assert_msg(rc == code, "rc %d (%s), expected %d; message: %s", rc, ps_status_name(rc),
                  code, ps_error_message());
    const char *m = ps_error_message();
    ck_assert_msg(needle1 == NULL || strstr(m, needle1), "message '%s' lacks '%s'", m, needle1);
    ck_assert_msg(needle2 == NULL || strstr(m, needle2), "message '%s' lacks '%s'", m, needle2);
}

static void mkdir_p(const char *d)
{
    char cmd[4200];
    ck_assert_int_lt(snprintf(cmd, sizeof cmd, "mkdir -p '%s'", d), (int)sizeof cmd);
    ck_assert_int_eq(system(cmd), 0);
}

/* ---- model folders ------------------------------------------------------------------------ */
START_TEST(unet_2class_plans_and_tensors)
{
    ps_model *m = NULL;
    char *dir = golden("golden/infer/unet_2class");
    int rc = ps_model_load(dir, 0, NULL, &m);
    ck_assert_msg(rc == 0, "%s", ps_error_message());
    /* make_infer_fixtures.py CONFIGS[0]: 1 modality CT, num_classes 1, base 8, stage 0,
     * patch [16, 32, 32], spacing [2.5, 0.8, 0.8], pools [1,2,2],[2,2,2],
     * conv kernels [1,3,3],[3,3,3],[3,3,3]; intensity mean 35.25, sd 60.5, p00.5 -95.5,
     * p99.5 215 (numpy float64 scalars) */
    const ps_plans *p = &m->plans;
    ck_assert_str_eq(p->trainer, "nnUNetTrainerV2");
    ck_assert_int_eq(p->num_classes, 1);
    ck_assert_int_eq(p->num_modalities, 1);
    ck_assert_int_eq(p->num_input_channels, 1);
    ck_assert_int_eq(p->base_num_features, 8);
    ck_assert_int_eq(p->stage, 0);
    ck_assert_int_eq(p->num_stages, 1);
    ck_assert_int_eq(p->num_pool, 2);
    const int pool[2][3] = {{1, 2, 2}, {2, 2, 2}};
    const int conv[3][3] = {{1, 3, 3}, {3, 3, 3}, {3, 3, 3}};
    for (int a = 0; a < 3; a++) {
        for (int d = 0; d < 2; d++)
            ck_assert_int_eq(p->pool_kernels[d][a], pool[d][a]);
        for (int d = 0; d < 3; d++)
            ck_assert_int_eq(p->conv_kernels[d][a], conv[d][a]);
        ck_assert_int_eq(p->transpose_forward[a], a);
        ck_assert_int_eq(p->transpose_backward[a], a);
    }
    ck_assert_int_eq(p->patch_size[0], 16);
    ck_assert_int_eq(p->patch_size[1], 32);
    ck_assert_int_eq(p->patch_size[2], 32);
    ck_assert_close(p->spacing[0], 2.5, PS_TOL_EXACT);
    ck_assert_close(p->spacing[1], 0.8, PS_TOL_EXACT);
    ck_assert_close(p->spacing[2], 0.8, PS_TOL_EXACT);
    ck_assert_str_eq(p->normalization[0], "CT");
    ck_assert_int_eq(p->use_mask_for_norm[0], 0);
    ck_assert_int_eq(p->intensity[0].present, 1);
    ck_assert_close(p->intensity[0].mean, 35.25, PS_TOL_EXACT);
    ck_assert_close(p->intensity[0].sd, 60.5, PS_TOL_EXACT);
    ck_assert_close(p->intensity[0].percentile_00_5, -95.5, PS_TOL_EXACT);
    ck_assert_close(p->intensity[0].percentile_99_5, 215.0, PS_TOL_EXACT);
    ck_assert_int_eq(m->has_attention, 0);
    ck_assert_int_eq(m->fold, 0);
    ck_assert_int_eq(m->epoch, 3);   /* make_model() saves 'epoch': 3 */
    ck_assert_ptr_nonnull(strstr(m->checkpoint_path, "fold_0/model_final_checkpoint.model"));
    /* 2 encoder stages x 2 blocks x 4 tensors + bottleneck 2 x 4 + 2 decoder steps x 2 x 4
     * + 2 tu + 2 seg = 44 */
    ck_assert_int_eq(check_against_tsv(&m->sd, "golden/infer/unet_2class/tensors.tsv"), 44);
    const ps_tensor *t;
    const int64_t shp[5] = {8, 1, 1, 3, 3};
    ck_assert_int_eq(ps_state_dict_require(&m->sd, "conv_blocks_context.0.blocks.0.conv.weight",
                                           5, shp, &t), 0);
    const int64_t bad[5] = {8, 2, 1, 3, 3};
    expect_error(ps_state_dict_require(&m->sd, "conv_blocks_context.0.blocks.0.conv.weight", 5,
                                       bad, &t),
                 PS_ERR_FORMAT, "[8, 1, 1, 3, 3]", "[8, 2, 1, 3, 3]");
    expect_error(ps_state_dict_require(&m->sd, "no.such.key", 1, shp, &t), PS_ERR_FORMAT,
                 "no.such.key", NULL);
    ps_model_free(m);
    free(dir);
}
END_TEST

START_TEST(unet_3class_stage1_without_plans_pkl)
{
    ps_model *m = NULL;
    char *dir = golden("golden/infer/unet_3class");
    struct stat st;
    ck_assert_int_ne(stat(ps_test_path("golden/infer/unet_3class/plans.pkl"), &st), 0);
    int rc = ps_model_load(dir, 0, "model_final_checkpoint", &m);
    ck_assert_msg(rc == 0, "%s", ps_error_message());
    /* CONFIGS[1]: 2 modalities nonCT, num_classes 2, base 4, stage 1 of 2: patch [8, 24, 32],
     * spacing [3, 1.25, 1], pools [1,2,2],[2,2,2],[2,1,2], kernels [1,3,3],[3,3,3],[3,3,3],
     * [3,1,3]; intensity properties are python floats (mean 35.25 + m) */
    const ps_plans *p = &m->plans;
    ck_assert_int_eq(p->num_classes, 2);
    ck_assert_int_eq(p->num_modalities, 2);
    ck_assert_int_eq(p->base_num_features, 4);
    ck_assert_int_eq(p->stage, 1);
    ck_assert_int_eq(p->num_stages, 2);
    ck_assert_int_eq(p->num_pool, 3);
    ck_assert_int_eq(p->patch_size[0], 8);
    ck_assert_int_eq(p->patch_size[1], 24);
    ck_assert_int_eq(p->patch_size[2], 32);
    ck_assert_close(p->spacing[0], 3.0, PS_TOL_EXACT);
    ck_assert_close(p->spacing[1], 1.25, PS_TOL_EXACT);
    ck_assert_close(p->spacing[2], 1.0, PS_TOL_EXACT);
    ck_assert_int_eq(p->pool_kernels[2][0], 2);
    ck_assert_int_eq(p->pool_kernels[2][1], 1);
    ck_assert_int_eq(p->pool_kernels[2][2], 2);
    ck_assert_int_eq(p->conv_kernels[3][1], 1);
    ck_assert_int_eq(p->conv_kernels[0][0], 1);
    ck_assert_str_eq(p->normalization[0], "nonCT");
    ck_assert_str_eq(p->normalization[1], "nonCT");
    ck_assert_close(p->intensity[1].mean, 36.25, PS_TOL_EXACT);
    ck_assert_close(p->intensity[1].percentile_00_5, -96.5, PS_TOL_EXACT);
    /* 3 encoder stages x 2 x 4 + bottleneck 2 x 4 + 3 decoder steps x 2 x 4 + 3 tu + 3 seg
     * = 62 */
    ck_assert_int_eq(check_against_tsv(&m->sd, "golden/infer/unet_3class/tensors.tsv"), 62);
    ps_model_free(m);
    free(dir);
}
END_TEST

START_TEST(pansegnet_attention_plans_from_plans_pkl)
{
    ps_model *m = NULL;
    char *dir = golden("golden/infer/pansegnet");
    int rc = ps_model_load(dir, 0, NULL, &m);
    ck_assert_msg(rc == 0, "%s", ps_error_message());
    /* CONFIGS[2]: trainer nnTransUNetTrainerV2, plans only in plans.pkl, patch [16, 32, 32],
     * spacing [3, 0.75, 0.75], d_model 64, 2 layers, bottleneck 32 features at 4x8x8 */
    ck_assert_str_eq(m->plans.trainer, "nnTransUNetTrainerV2");
    ck_assert_int_eq(m->has_attention, 1);
    ck_assert_close(m->plans.spacing[1], 0.75, PS_TOL_EXACT);
    check_against_tsv(&m->sd, "golden/infer/pansegnet/tensors.tsv");
    const ps_tensor *t;
    const int64_t pe[3] = {1, 256, 64};
    ck_assert_int_eq(ps_state_dict_require(&m->sd, "self_atten.pos_encode.pe", 3, pe, &t), 0);
    /* sinusoid table: pe[0][1][0] = sin(1), pe[0][1][1] = cos(1) (float32) */
    ck_assert_close_abs(t->data[64], sin(1.0), 1e-6);
    ck_assert_close_abs(t->data[65], cos(1.0), 1e-6);
    const int64_t l1[2] = {64, 64};
    ck_assert_int_eq(ps_state_dict_require(
        &m->sd, "self_atten.transformer.layers.1.self_attn.linears.3.weight", 2, l1, &t), 0);
    ck_assert_int_eq(ps_state_dict_require(
        &m->sd, "self_atten.transformer.layers.0.linear1.weight", 2, l1, &t), 0);
    const int64_t ln[1] = {64};
    ck_assert_int_eq(ps_state_dict_require(
        &m->sd, "self_atten.transformer.layers.1.layer_norm2.bias", 1, ln, &t), 0);
    const int64_t back[2] = {32, 64};
    ck_assert_int_eq(ps_state_dict_require(&m->sd, "self_atten.linear_back_proj.weight", 2, back,
                                           &t), 0);
    ps_model_free(m);
    free(dir);
}
END_TEST

START_TEST(storage_types_and_views)
{
    ps_state_dict sd;
    char *path = golden("golden/infer/tensors/dtypes.pt");
    int rc = ps_checkpoint_read_state_dict(path, &sd);
    ck_assert_msg(rc == 0, "%s", ps_error_message());
    check_against_tsv(&sd, "golden/infer/tensors/tensors.tsv");
    /* hand-checked layouts: transposed = base.t() so transposed[i][j] = f32[j][i] */
    const ps_tensor *f32 = ps_state_dict_get(&sd, "f32"), *tr = ps_state_dict_get(&sd, "transposed");
    ck_assert_int_eq(tr->shape[0], 5);
    ck_assert_int_eq(tr->shape[1], 4);
    for (int i = 0; i < 5; i++)
        for (int j = 0; j < 4; j++)
            ck_assert(tr->data[i * 4 + j] == f32->data[j * 5 + i]);
    const ps_tensor *u8 = ps_state_dict_get(&sd, "u8"), *i64 = ps_state_dict_get(&sd, "i64");
    ck_assert(u8->data[5] == 255.0f);          /* arange(250, 256) */
    ck_assert(i64->data[0] == -3.0f);           /* arange(-3, 9)    */
    const ps_tensor *sc = ps_state_dict_get(&sd, "scalar");
    ck_assert_int_eq(sc->ndim, 0);
    ck_assert_int_eq(sc->numel, 1);
    ck_assert(sc->data[0] == 3.5f);
    ck_assert_int_eq(ps_state_dict_get(&sd, "empty")->numel, 0);
    const ps_tensor *ex = ps_state_dict_get(&sd, "expanded");   /* row i is i, i, i, i */
    ck_assert(ex->data[2 * 4 + 3] == 2.0f);
    ck_assert_int_eq(ps_state_dict_numel(&sd) > 0, 1);
    ps_state_dict_clear(&sd);
    ck_assert_int_eq(sd.n, 0);
    ps_state_dict_clear(&sd);
    free(path);

    /* 8 x 4 Mi elements expanded from one storage in a 2 kB file: refused, nothing kept */
    path = golden("golden/infer/tensors/expand_bomb.pt");
    expect_error(ps_checkpoint_read_state_dict(path, &sd), PS_ERR_FORMAT, "expand_bomb.pt",
                 "more elements than the file could store");
    ck_assert_int_eq(sd.n, 0);
    free(path);
}
END_TEST

START_TEST(big_endian_zip64_archive)
{
    /* written by make_bigendian_fixture(): byteorder 'big', byte-swapped storages, ZIP64
     * central directory and end records; values must equal the little-endian originals */
    ps_state_dict sd;
    char *path = golden("golden/infer/tensors/bigendian.pt");
    int rc = ps_checkpoint_read_state_dict(path, &sd);
    ck_assert_msg(rc == 0, "%s", ps_error_message());
    ck_assert_int_eq(check_against_tsv(&sd, "golden/infer/tensors/bigendian.tsv"), 5);
    const ps_tensor *i64 = ps_state_dict_get(&sd, "i64");   /* arange(-4, 4) */
    for (int k = 0; k < 8; k++)
        ck_assert(i64->data[k] == (float)(k - 4));
    ps_state_dict_clear(&sd);
    free(path);
}
END_TEST

/* ---- error paths ---------------------------------------------------------------------------- */
START_TEST(legacy_format)
{
    /* torch.save(..., _use_new_zipfile_serialization=False): read like the zip format */
    ps_model *m = NULL;
    char *dir = golden("golden/infer/legacy");
    int rc = ps_model_load(dir, 0, NULL, &m);
    ck_assert_msg(rc == 0, "%s", ps_error_message());
    /* CONFIGS[3]: base 2, one pooling step, patch 8x8x8 */
    ck_assert_int_eq(m->plans.base_num_features, 2);
    ck_assert_int_eq(m->plans.num_pool, 1);
    /* encoder stage 2 x 4 + bottleneck 2 x 4 + decoder 2 x 4 + tu + seg = 26 */
    ck_assert_int_eq(check_against_tsv(&m->sd, "golden/infer/legacy/tensors.tsv"), 26);
    ps_model_free(m);
    free(dir);

    size_t n;
    uint8_t *b = slurp(ps_test_path("golden/infer/legacy/fold_0/model_final_checkpoint.model"),
                       &n);
    ps_state_dict sd;
    ck_assert(ps_torch_is_legacy(b, n));
    /* the zip reader alone says what the file is */
    ps_zip *z;
    expect_error(ps_zip_open(b, n, &z), PS_ERR_UNSUPPORTED, "legacy PyTorch checkpoint", NULL);
    /* truncated inside the raw storages */
    expect_error(ps_checkpoint_parse_state_dict(b, n - 100, "old.model", &sd), PS_ERR_FORMAT,
                 "old.model: legacy checkpoint", "beyond the end");
    /* truncated inside the object pickle */
    expect_error(ps_checkpoint_parse_state_dict(b, 400, "old.model", &sd), PS_ERR_FORMAT,
                 "old.model", "truncated");
    /* protocol version 1001 is pickled as BININT2 0x03e9 right after the magic number */
    uint8_t *c = malloc(n);
    memcpy(c, b, n);
    uint8_t *v = memchr(c + 14, 'M', 8);
    ck_assert_ptr_nonnull(v);
    ck_assert(v[1] == 0xe9 && v[2] == 0x03);
    v[1] = 0xea;
    expect_error(ps_checkpoint_parse_state_dict(c, n, "old.model", &sd), PS_ERR_UNSUPPORTED,
                 "protocol version 1002", NULL);
    free(c);
    free(b);
}
END_TEST

START_TEST(missing_files_are_named)
{
    ps_model *m = NULL;
    char *dir = golden("golden/infer/unet_2class");
    expect_error(ps_model_load(dir, 3, NULL, &m), PS_ERR_IO, "fold_3/model_final_checkpoint.model",
                 "not found");
    expect_error(ps_model_load(dir, 0, "model_best", &m), PS_ERR_IO, "model_best.model", NULL);
    expect_error(ps_model_load(dir, 0, "../x", &m), PS_ERR_ARG, "../x", NULL);
    expect_error(ps_model_load("/nonexistent/model", 0, NULL, &m), PS_ERR_IO, "/nonexistent/model",
                 NULL);
    free(dir);

    /* a .model.pkl without 'plans' and no plans.pkl next to the folds */
    const char *tmp = ps_test_tmp("ckpt_noplans/fold_0");
    char *fold = strdup(tmp);
    mkdir_p(fold);
    char from[4096], to[4096];
    snprintf(to, sizeof to, "%s/model_final_checkpoint.model", fold);
    copy_file(ps_test_path("golden/infer/pansegnet/fold_0/model_final_checkpoint.model"), to);
    snprintf(to, sizeof to, "%s/model_final_checkpoint.model.pkl", fold);
    snprintf(from, sizeof from, "%s",
             ps_test_path("golden/infer/pansegnet/fold_0/model_final_checkpoint.model.pkl"));
    copy_file(from, to);
    char *root = strdup(ps_test_tmp("ckpt_noplans"));
    expect_error(ps_model_load(root, 0, NULL, &m), PS_ERR_FORMAT, "has no 'plans'", "plans.pkl");
    /* no .model.pkl at all */
    unlink(to);
    expect_error(ps_model_load(root, 0, NULL, &m), PS_ERR_IO, "model_final_checkpoint.model.pkl",
                 NULL);
    free(root);
    free(fold);
}
END_TEST

/* Copy unet_2class into tmp/<name>, with the checkpoint replaced by `ckpt` (n bytes). */
static char *model_with_checkpoint(const char *name, const uint8_t *ckpt, size_t n)
{
    char fold[4200], path[4400];
    snprintf(fold, sizeof fold, "%s/fold_0", ps_test_tmp(name));
    mkdir_p(fold);
    snprintf(path, sizeof path, "%s/model_final_checkpoint.model", fold);
    spill(path, ckpt, n);
    snprintf(path, sizeof path, "%s/model_final_checkpoint.model.pkl", fold);
    copy_file(ps_test_path("golden/infer/unet_2class/fold_0/model_final_checkpoint.model.pkl"),
              path);
    return strdup(ps_test_tmp(name));
}

START_TEST(fold_all_folder)
{
    /* --fold all: nnU-Net v1 trains on all cases into the folder "all" */
    char dir[4200], path[4400];
    snprintf(dir, sizeof dir, "%s", ps_test_tmp("ckpt_all"));
    snprintf(path, sizeof path, "%s/all", dir);
    mkdir_p(path);
    snprintf(path, sizeof path, "%s/all/model_final_checkpoint.model", dir);
    copy_file(ps_test_path("golden/infer/unet_2class/fold_0/model_final_checkpoint.model"), path);
    snprintf(path, sizeof path, "%s/all/model_final_checkpoint.model.pkl", dir);
    copy_file(ps_test_path("golden/infer/unet_2class/fold_0/model_final_checkpoint.model.pkl"),
              path);
    ps_model *m = NULL;
    int rc = ps_model_load(dir, -1, NULL, &m);
    ck_assert_msg(rc == 0, "%s", ps_error_message());
    ck_assert_int_eq(m->fold, -1);
    ck_assert_ptr_nonnull(strstr(m->checkpoint_path, "/all/model_final_checkpoint.model"));
    ck_assert_int_eq(m->sd.n, 44);
    ps_model_free(m);
    ps_model_free(NULL);
}
END_TEST

START_TEST(truncated_and_corrupt_checkpoints)
{
    size_t n;
    uint8_t *b = slurp(ps_test_path("golden/infer/unet_2class/fold_0/model_final_checkpoint.model"),
                       &n);
    ps_model *m = NULL;
    /* truncated: the end-of-central-directory record is gone */
    char *dir = model_with_checkpoint("ckpt_trunc", b, n / 2);
    expect_error(ps_model_load(dir, 0, NULL, &m), PS_ERR_FORMAT, "ckpt_trunc/fold_0/model_final",
                 "end-of-central-directory");
    free(dir);
    /* empty file */
    dir = model_with_checkpoint("ckpt_empty", b, 0);
    expect_error(ps_model_load(dir, 0, NULL, &m), PS_ERR_FORMAT, "too short", NULL);
    free(dir);
    /* one flipped byte in the storage of the first weight: caught by the CRC-32 */
    uint8_t *c = malloc(n);
    memcpy(c, b, n);
    ps_zip *z;
    ck_assert_int_eq(ps_zip_open(c, n, &z), 0);
    ck_assert_str_eq(z->prefix, "model_final_checkpoint/");
    ps_zip_entry *e0 = ps_zip_find(z, "data/0");
    ck_assert_ptr_nonnull(e0);
    ck_assert_int_eq(e0->offset % 64, 0);   /* torch.save aligns data to 64 bytes */
    c[e0->offset + 5] ^= 0x40;
    ps_zip_free(z);
    dir = model_with_checkpoint("ckpt_flip", c, n);
    expect_error(ps_model_load(dir, 0, NULL, &m), PS_ERR_FORMAT, "corrupt", "CRC-32");
    free(dir);
    /* central directory offset pointing past the end of the file */
    memcpy(c, b, n);
    uint8_t *eocd = NULL;
    for (size_t i = n - 22; i > 0; i--)
        if (c[i] == 0x50 && c[i + 1] == 0x4b && c[i + 2] == 5 && c[i + 3] == 6) {
            eocd = c + i;
            break;
        }
    ck_assert_ptr_nonnull(eocd);
    eocd[16] = 0xfe, eocd[17] = 0xff, eocd[18] = 0xff, eocd[19] = 0x7f;
    ps_state_dict sd;
    expect_error(ps_checkpoint_parse_state_dict(c, n, "x.model", &sd), PS_ERR_FORMAT,
                 "x.model: zip: central directory", "beyond the end");
    /* not a zip at all */
    expect_error(ps_checkpoint_parse_state_dict("hello world, this is text", 25, "t.model", &sd),
                 PS_ERR_FORMAT, "not a torch.save zip", "t.model");
    free(c);
    free(b);
}
END_TEST

START_TEST(hostile_pickles)
{
    ps_pickle *p;
    ps_pk *root;
    /* each: bytes, expected substring of the message */
#define B(lit) lit, sizeof(lit) - 1
    static const struct { const char *bytes; size_t n; const char *msg; } cases[] = {
        {B("\x80\x02"), "no STOP"},
        {B("\x80\x02."), "stack underflow"},
        {B("\x80\x09N."), "protocol 9"},
        {B("\x80\x02h\x05."), "memo index 5 was never stored"},
        {B("\x80\x02Nr\xff\xff\xff\x7f."), "memo index 2147483647 out of range"},
        {B("\x80\x02X\xff\xff\xff\x00" "abc."), "truncated: string"},
        {B("\x80\x02Nt."), "no MARK"},
        {B("\x80\x02(K\x01" "d."), "odd number"},
        {B("\x80\x02K\x01K\x02s."), "stack underflow"},
        {B("\x80\x02K\x01K\x02K\x03s."), "SETITEM on a int"},
        {B("\x80\x02K\x01K\x02" "a."), "APPEND to a int"},
        {B("\x80\x02\xff."), "opcode 0xff"},
        {B("\x80\x02" "cos\nsystem\n" "X\x02\x00\x00\x00ls" "R."), "REDUCE arguments are a str"},
        {B("\x80\x02\x95\xff\xff\xff\xff\x00\x00\x00\x00N."), "frame"},
        {B("\x80\x02" "ctorch._utils\n_rebuild_tensor_v2\n" "(NK\x00))tR."), "not a storage"},
        {B("\x80\x02" "cnumpy\ndtype\n" "X\x02\x00\x00\x00" "f8" "\x85R" "cnumpy.core.multiarray\nscalar\n"
           "h\x00" "C\x03" "abc" "\x86R."), "memo index 0"},
        {B("\x80\x02" "cnumpy\ndtype\n" "X\x02\x00\x00\x00" "f8" "\x85Rq\x00" "cnumpy.core.multiarray\nscalar\n"
           "h\x00" "C\x03" "abc" "\x86R."), "numpy scalar of type float64 has 3 bytes"},
        {B("\x80\x02" "cnumpy.core.multiarray\n_reconstruct\n" ")R" "(K\x01" "K\x05\x85" "cnumpy\ndtype\n"
           "X\x02\x00\x00\x00" "f4\x85R" "\x89" "C\x04" "abcd" "tb."), "5 float32 elements has 4 data bytes"},
    };
#undef B
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        int rc = ps_pickle_parse((const uint8_t *)cases[i].bytes, cases[i].n, "t.pkl", &p, &root);
        ck_assert_msg(rc == PS_ERR_FORMAT, "case %zu: rc %d", i, rc);
        ck_assert_msg(strstr(ps_error_message(), cases[i].msg) &&
                      strstr(ps_error_message(), "t.pkl"),
                      "case %zu: message '%s' lacks '%s'", i, ps_error_message(), cases[i].msg);
        ck_assert_ptr_null(p);
    }
    /* os.system stays a name: REDUCE of an unknown global is an opaque object, not a call */
    const char evil[] = "\x80\x02" "cos\nsystem\n" "X\x02\x00\x00\x00ls" "\x85" "R.";
    int rc = ps_pickle_parse((const uint8_t *)evil, sizeof evil - 1, "evil.pkl", &p, &root);
    ck_assert_msg(rc == 0, "%s", ps_error_message());
    ck_assert_int_eq(root->type, PS_PK_OBJECT);
    ck_assert_str_eq(root->u.obj.callable->u.global.module, "os");
    ck_assert_str_eq(root->u.obj.callable->u.global.name, "system");
    ps_pickle_free(p);
    /* deep nesting by MARK */
    size_t deep = 3 + PS_PK_MAX_MARK_DEPTH + 10;
    uint8_t *d = malloc(deep);
    d[0] = 0x80, d[1] = 2;
    memset(d + 2, '(', deep - 3);
    d[deep - 1] = '.';
    rc = ps_pickle_parse(d, deep, "deep.pkl", &p, &root);
    ck_assert_int_eq(rc, PS_ERR_FORMAT);
    ck_assert_ptr_nonnull(strstr(ps_error_message(), "nested deeper"));
    /* a long chain of APPENDs: linear work, no recursion */
    size_t k = 20000, n2 = 2 + 1 + 2 * k + 1;
    uint8_t *l = malloc(n2);
    l[0] = 0x80, l[1] = 2, l[2] = ']';
    for (size_t i = 0; i < k; i++)
        l[3 + 2 * i] = ']', l[4 + 2 * i] = 'a';
    l[n2 - 1] = '.';
    rc = ps_pickle_parse(l, n2, "long.pkl", &p, &root);
    ck_assert_int_eq(rc, 0);
    ck_assert_int_eq(root->type, PS_PK_LIST);
    ck_assert_int_eq(root->u.seq.n, (int64_t)k);
    ps_pickle_free(p);
    free(l);
    free(d);
    ps_pickle_free(NULL);
}
END_TEST

START_TEST(numbers_and_longs)
{
    ps_pickle *p;
    ps_pk *root;
    /* [LONG1 -2 (0xfe), LONG1 2^63-1, 9-byte LONG1 that is a sign extension of -1,
     *  9-byte LONG1 2^64 (too wide), BINFLOAT 1.5, BININT -7] */
    static const uint8_t b[] = {
        0x80, 2, ']', '(', 0x8a, 1, 0xfe,
        0x8a, 8, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x7f,
        0x8a, 9, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
        0x8a, 9, 0, 0, 0, 0, 0, 0, 0, 0, 1,
        'G', 0x3f, 0xf8, 0, 0, 0, 0, 0, 0,
        'J', 0xf9, 0xff, 0xff, 0xff, 'e', '.'};
    int rc = ps_pickle_parse(b, sizeof b, "n.pkl", &p, &root);
    ck_assert_msg(rc == 0, "%s", ps_error_message());
    ck_assert_int_eq(root->u.seq.n, 6);
    ck_assert_int_eq(root->u.seq.items[0]->u.i, -2);
    ck_assert_int_eq(root->u.seq.items[1]->u.i, INT64_MAX);
    ck_assert_int_eq(root->u.seq.items[2]->u.i, -1);
    ck_assert_int_eq(root->u.seq.items[3]->type, PS_PK_BIGINT);
    ck_assert(root->u.seq.items[4]->u.f == 1.5);
    ck_assert_int_eq(root->u.seq.items[5]->u.i, -7);
    double v[6];
    int n;
    ck_assert_int_ne(ps_pk_numbers(root, v, 6, &n), 0);   /* the big int is not a number */
    ps_pickle_free(p);
}
END_TEST

START_TEST(crc32_check_values)
{
    /* the standard check value of CRC-32/ISO-HDLC: CRC("123456789") = 0xCBF43926 */
    ck_assert_uint_eq(ps_crc32(0, (const uint8_t *)"123456789", 9), 0xCBF43926u);
    /* 100003 bytes (i * 7 + 3) mod 256 take the slicing-by-8 path: zlib.crc32 gives
     * 0xcd676dab (Python 3.11 zlib) */
    uint8_t *b = malloc(100003);
    for (int i = 0; i < 100003; i++)
        b[i] = (uint8_t)((i * 7 + 3) % 256);
    ck_assert_uint_eq(ps_crc32(0, b, 100003), 0xcd676dabu);
    /* incremental use gives the same result */
    ck_assert_uint_eq(ps_crc32(ps_crc32(0, b, 70001), b + 70001, 30002), 0xcd676dabu);
    free(b);
}
END_TEST

static Suite *checkpoint_suite(void)
{
    Suite *s = suite_create("checkpoint");
    TCase *tc = tcase_create("checkpoint");
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, unet_2class_plans_and_tensors);
    tcase_add_test(tc, unet_3class_stage1_without_plans_pkl);
    tcase_add_test(tc, pansegnet_attention_plans_from_plans_pkl);
    tcase_add_test(tc, storage_types_and_views);
    tcase_add_test(tc, big_endian_zip64_archive);
    tcase_add_test(tc, legacy_format);
    tcase_add_test(tc, missing_files_are_named);
    tcase_add_test(tc, fold_all_folder);
    tcase_add_test(tc, truncated_and_corrupt_checkpoints);
    tcase_add_test(tc, hostile_pickles);
    tcase_add_test(tc, numbers_and_longs);
    tcase_add_test(tc, crc32_check_values);
    suite_add_tcase(s, tc);
    return s;
}

PS_TEST_MAIN(checkpoint_suite)
