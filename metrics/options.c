/* options.c - metric options, method names, regions, label inventory and the column table. */
#include <errno.h>
#include <limits.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include "ps_metrics.h"

void ps_metrics_options_init(ps_metrics_options *o)
{
    memset(o, 0, sizeof *o);
    o->hd_method = PS_HD_MEDPY;
    o->percentile = 95.0;
    o->nsd_tol_mm = 2.0;
    o->nsd_method = PS_NSD_VOXEL;
    o->empty = PS_EMPTY_NAN;
    o->empty_dice = PS_EMPTY_DICE_ONE;
    o->distances = 1;
}

/* ---- names <-> enums ----------------------------------------------------------------------- */
static const char *const hd_names[] = {"medpy", "monai", "deepmind", "plastimatch"};
static const char *const nsd_names[] = {"voxel", "surfel"};
static const char *const empty_names[] = {"nan", "inf", "worst"};
static const char *const empty_dice_names[] = {"one", "nan"};

static int parse_name(const char *s, const char *const *names, int n, const char *what, int *out)
{
    for (int i = 0; i < n; i++)
        if (s && strcmp(s, names[i]) == 0) {
            *out = i;
            return 0;
        }
    char list[256] = "";
    for (int i = 0; i < n; i++) {
        strncat(list, names[i], sizeof list - strlen(list) - 1);
        if (i + 1 < n)
            strncat(list, ", ", sizeof list - strlen(list) - 1);
    }
    return ps_error(PS_ERR_ARG, "unknown %s '%s' (expected one of: %s)", what, s ? s : "(null)",
                    list);
}

int ps_hd_method_parse(const char *s, ps_hd_method *out)
{
    int v = 0, rc = parse_name(s, hd_names, 4, "HD95 method", &v);
    if (!rc)
        *out = (ps_hd_method)v;
    return rc;
}

const char *ps_hd_method_name(ps_hd_method m)
{
    return (unsigned)m < 4 ? hd_names[m] : "unknown";
}

int ps_nsd_method_parse(const char *s, ps_nsd_method *out)
{
    int v = 0, rc = parse_name(s, nsd_names, 2, "NSD method", &v);
    if (!rc)
        *out = (ps_nsd_method)v;
    return rc;
}

int ps_empty_policy_parse(const char *s, ps_empty_policy *out)
{
    int v = 0, rc = parse_name(s, empty_names, 3, "empty-mask policy", &v);
    if (!rc)
        *out = (ps_empty_policy)v;
    return rc;
}

int ps_empty_dice_parse(const char *s, ps_empty_dice *out)
{
    int v = 0, rc = parse_name(s, empty_dice_names, 2, "empty-Dice policy", &v);
    if (!rc)
        *out = (ps_empty_dice)v;
    return rc;
}

const char *ps_case_status_name(ps_case_status s)
{
    static const char *const names[] = {"ok", "pred_empty", "ref_empty", "both_empty", "error"};
    return (unsigned)s < 5 ? names[s] : "unknown";
}

/* ---- regions --------------------------------------------------------------------------------- */
static int cmp_i32(const void *a, const void *b)
{
    int32_t x = *(const int32_t *)a, y = *(const int32_t *)b;
    return (x > y) - (x < y);
}

/* Parse one region from s[0..len). */
static int region_parse_n(const char *s, size_t len, ps_region *out)
{
    ps_region r = {0};
    size_t i = 0;
    if (len == 0)
        return ps_error(PS_ERR_ARG, "empty region (expected a label like '1' or a union '1+2')");
    while (i < len) {
        size_t j = i;
        while (j < len && s[j] != '+')
            j++;
        char tok[32];
        size_t tl = j - i;
        /* trim spaces */
        while (tl && (s[i] == ' ' || s[i] == '\t')) {
            i++;
            tl--;
        }
        while (tl && (s[i + tl - 1] == ' ' || s[i + tl - 1] == '\t'))
            tl--;
        if (tl == 0 || tl >= sizeof tok)
            return ps_error(PS_ERR_ARG, "region '%.*s': empty or overlong label", (int)len, s);
        memcpy(tok, s + i, tl);
        tok[tl] = 0;
        char *end;
        errno = 0;
        long long v = strtoll(tok, &end, 10);
        if (*end || errno || v < 1 || v > INT32_MAX)
            return ps_error(PS_ERR_ARG,
                            "region '%.*s': '%s' is not a label (a positive integer; 0 is "
                            "background)", (int)len, s, tok);
        int dup = 0;
        for (int k = 0; k < r.n; k++)
            dup |= r.labels[k] == (int32_t)v;
        if (!dup) {
            if (r.n == PS_REGION_MAX)
                return ps_error(PS_ERR_ARG, "region '%.*s': more than %d labels", (int)len, s,
                                PS_REGION_MAX);
            r.labels[r.n++] = (int32_t)v;
        }
        i = j + 1;
        if (j < len && j + 1 == len)
            return ps_error(PS_ERR_ARG, "region '%.*s': trailing '+'", (int)len, s);
    }
    qsort(r.labels, (size_t)r.n, sizeof r.labels[0], cmp_i32);
    *out = r;
    return 0;
}

int ps_region_parse(const char *s, ps_region *out)
{
    if (!s)
        return ps_error(PS_ERR_ARG, "no region given");
    return region_parse_n(s, strlen(s), out);
}

void ps_region_format(const ps_region *r, char *buf, size_t n)
{
    size_t used = 0;
    if (n == 0)
        return;
    buf[0] = 0;
    for (int k = 0; k < r->n && used < n; k++) {
        int w = snprintf(buf + used, n - used, k ? "+%d" : "%d", (int)r->labels[k]);
        if (w < 0)
            break;
        used += (size_t)w;
    }
}

int ps_region_list_parse(const char *s, ps_region **out, int *n)
{
    *out = NULL;
    *n = 0;
    if (!s || !*s)
        return ps_error(PS_ERR_ARG, "empty region list (expected e.g. '1,2,1+2')");
    int cap = 1;
    for (const char *p = s; *p; p++)
        cap += *p == ',';
    ps_region *r = ps_malloc_array((size_t)cap, sizeof *r);
    if (!r)
        return PS_ERR_NOMEM;
    int cnt = 0;
    const char *p = s;
    for (;;) {
        const char *e = strchr(p, ',');
        size_t len = e ? (size_t)(e - p) : strlen(p);
        int rc = region_parse_n(p, len, &r[cnt]);
        if (rc) {
            free(r);
            return ps_error_context(rc, "region list '%s', item %d", s, cnt + 1);
        }
        /* a region listed twice would give two identical rows per case (and double weight
         * in every mean): refuse it, naming both items */
        for (int k = 0; k < cnt; k++) {
            if (r[k].n == r[cnt].n &&
                !memcmp(r[k].labels, r[cnt].labels, (size_t)r[k].n * sizeof r[k].labels[0])) {
                char txt[16 * 12];
                ps_region_format(&r[cnt], txt, sizeof txt);
                free(r);
                return ps_error(PS_ERR_ARG, "region list '%s': label %s is listed twice (items "
                                "%d and %d)", s, txt, k + 1, cnt + 1);
            }
        }
        cnt++;
        if (!e)
            break;
        p = e + 1;
    }
    *out = r;
    *n = cnt;
    return 0;
}

/* ---- labels present -------------------------------------------------------------------------- */
/* Distinct non-zero labels: uint8 maps by a 256-bin table; int32 maps by an open-addressing
 * hash set (label maps hold few distinct values). */
typedef struct {
    int32_t *keys; /* 0 = empty slot (label 0 is never stored) */
    size_t cap, n;
} label_set;

static int set_add(label_set *s, int32_t key)
{
    size_t h = ((uint32_t)key * 2654435761u) & (s->cap - 1);
    while (s->keys[h]) {
        if (s->keys[h] == key)
            return 0;
        h = (h + 1) & (s->cap - 1);
    }
    s->keys[h] = key;
    if (++s->n * 2 > s->cap) {
        label_set t = {ps_calloc(s->cap * 2, sizeof(int32_t)), s->cap * 2, 0};
        if (!t.keys)
            return PS_ERR_NOMEM;
        for (size_t i = 0; i < s->cap; i++)
            if (s->keys[i])
                set_add(&t, s->keys[i]);
        free(s->keys);
        *s = t;
    }
    return 0;
}

static int collect_labels(const ps_volume *v, uint8_t seen8[256], label_set *set)
{
    if (!v)
        return 0;
    int64_t n = ps_volume_nvox(v);
    if (v->dtype == PS_DT_UINT8) {
        /* Label maps are mostly background: test 32 bytes at a time (four 64-bit ORs, which
         * the compiler vectorises) and look at single voxels only in blocks that hold a
         * label. This keeps the scan at memory speed instead of one store per voxel. */
        const uint8_t *p = v->data;
        int64_t i = 0;
        for (; i + 32 <= n; i += 32) {
            uint64_t w[4];
            memcpy(w, p + i, sizeof w);
            if (!(w[0] | w[1] | w[2] | w[3]))
                continue;
            for (int k = 0; k < 32; k++)
                seen8[p[i + k]] = 1;
        }
        for (; i < n; i++)
            seen8[p[i]] = 1;
        return 0;
    }
    if (v->dtype != PS_DT_INT32)
        return ps_error(PS_ERR_UNSUPPORTED, "%s: label maps must be uint8 or int32, not %s",
                        v->path ? v->path : "volume", ps_dtype_name(v->dtype));
    const int32_t *p = v->data;
    int32_t prev = 0;
    for (int64_t i = 0; i < n; i++) {
        if (p[i] == prev)
            continue; /* runs of one label are the common case */
        prev = p[i];
        if (p[i] && set_add(set, p[i]))
            return PS_ERR_NOMEM;
    }
    return 0;
}

void ps_label_scan_clear(ps_label_scan *s)
{
    if (!s)
        return;
    free(s->labels);
    memset(s, 0, sizeof *s);
}

/* 1 when any of the n bytes at p is non-zero. Label maps are mostly background, so this is
 * the whole cost of a scan: 256 bytes per step, ORed as 64-bit words with one test per step
 * (the compiler vectorises it; PS_HOT: clones for AVX-512 and AVX2). */
PS_HOT static int row_has_label(const unsigned char *p, size_t n)
{
    size_t i = 0;
    for (; i + 256 <= n; i += 256) {
        uint64_t w[32], acc = 0;
        memcpy(w, p + i, sizeof w);
        for (int t = 0; t < 32; t++)
            acc |= w[t];
        if (acc)
            return 1;
    }
    unsigned acc = 0;
    for (; i < n; i++)
        acc |= p[i];
    return acc != 0;
}

int ps_label_scan_volume(const ps_volume *v, ps_label_scan *out)
{
    return ps_label_scan_volume_map(v, NULL, out);
}

/* 1 when the piece map nz says bytes [a, a + n) of the data are all zero. */
static int pieces_zero(const uint8_t *nz, size_t a, size_t n)
{
    for (size_t p = a / PS_VOLUME_PIECE, e = (a + n - 1) / PS_VOLUME_PIECE; p <= e; p++)
        if (nz[p])
            return 0;
    return 1;
}

int ps_label_scan_volume_map(const ps_volume *v, const uint8_t *map, ps_label_scan *out)
{
    memset(out, 0, sizeof *out);
    const int64_t nx = v->geom.dim[0], ny = v->geom.dim[1], nz = v->geom.dim[2];
    if (v->dtype != PS_DT_UINT8 && v->dtype != PS_DT_INT32)
        return ps_error(PS_ERR_UNSUPPORTED, "%s: label maps must be uint8 or int32, not %s",
                        v->path ? v->path : "volume", ps_dtype_name(v->dtype));
    int64_t lo[3] = {nx, ny, nz}, hi[3] = {0, 0, 0};
    uint8_t seen8[256] = {0};
    label_set set = {ps_calloc(64, sizeof(int32_t)), 64, 0};
    if (!set.keys)
        return PS_ERR_NOMEM;
    /* Row by row: a row is first tested for any non-zero byte (row_has_label, at memory
     * speed); only rows with a label are looked at voxel by voxel. */
    const size_t esz = v->dtype == PS_DT_UINT8 ? 1 : 4;
    const size_t row_bytes = (size_t)nx * esz;
    for (int64_t k = 0; k < nz; k++) {
        /* with a piece map, a slice (then a row) whose pieces are all zero is not read */
        if (map && pieces_zero(map, (size_t)(k * ny) * row_bytes, (size_t)ny * row_bytes))
            continue;
        for (int64_t j = 0; j < ny; j++) {
            const size_t at = (size_t)(k * ny + j) * row_bytes;
            const unsigned char *row = (const unsigned char *)v->data + at;
            if (map && pieces_zero(map, at, row_bytes))
                continue;
            if (!row_has_label(row, row_bytes))
                continue;
            int64_t first = -1, last = -1;
            if (esz == 1) {
                for (int64_t i = 0; i < nx; i++)
                    if (row[i]) {
                        seen8[row[i]] = 1;
                        if (first < 0)
                            first = i;
                        last = i;
                    }
            } else {
                const int32_t *r32 = (const int32_t *)(const void *)row;
                int32_t prev = 0;
                for (int64_t i = 0; i < nx; i++)
                    if (r32[i]) {
                        if (r32[i] != prev && set_add(&set, r32[i])) {
                            free(set.keys);
                            return PS_ERR_NOMEM;
                        }
                        prev = r32[i];
                        if (first < 0)
                            first = i;
                        last = i;
                    }
            }
            if (first < lo[0]) lo[0] = first;
            if (last + 1 > hi[0]) hi[0] = last + 1;
            if (j < lo[1]) lo[1] = j;
            if (j + 1 > hi[1]) hi[1] = j + 1;
            if (k < lo[2]) lo[2] = k;
            if (k + 1 > hi[2]) hi[2] = k + 1;
        }
    }
    for (int i = 1; i < 256; i++)
        if (seen8[i] && set_add(&set, i)) {
            free(set.keys);
            return PS_ERR_NOMEM;
        }
    int32_t *labels = ps_malloc_array(set.n ? set.n : 1, sizeof *labels);
    if (!labels) {
        free(set.keys);
        return PS_ERR_NOMEM;
    }
    size_t m = 0;
    for (size_t i = 0; i < set.cap; i++)
        if (set.keys[i])
            labels[m++] = set.keys[i];
    free(set.keys);
    qsort(labels, m, sizeof *labels, cmp_i32);
    out->labels = labels;
    out->nlabels = (int)m;
    memcpy(out->lo, lo, sizeof lo);
    memcpy(out->hi, hi, sizeof hi);
    return 0;
}

int ps_labels_present(const ps_volume *ref, const ps_volume *pred, int32_t **labels, int *n)
{
    *labels = NULL;
    *n = 0;
    uint8_t seen8[256] = {0};
    label_set set = {ps_calloc(64, sizeof(int32_t)), 64, 0};
    if (!set.keys)
        return PS_ERR_NOMEM;
    int rc = collect_labels(ref, seen8, &set);
    if (!rc)
        rc = collect_labels(pred, seen8, &set);
    if (rc) {
        free(set.keys);
        return rc;
    }
    for (int i = 1; i < 256; i++)
        if (seen8[i] && (rc = set_add(&set, i))) {
            free(set.keys);
            return rc;
        }
    int32_t *out = ps_malloc_array(set.n ? set.n : 1, sizeof *out);
    if (!out) {
        free(set.keys);
        return PS_ERR_NOMEM;
    }
    size_t m = 0;
    for (size_t i = 0; i < set.cap; i++)
        if (set.keys[i])
            out[m++] = set.keys[i];
    free(set.keys);
    qsort(out, m, sizeof *out, cmp_i32);
    *labels = out;
    *n = (int)m;
    return 0;
}

/* ---- the column table -------------------------------------------------------------------------- */
#define COL_I(f, doc) {#f, PS_MK_INT64, offsetof(ps_case_metrics, f), doc}
#define COL_D(f, doc) {#f, PS_MK_DOUBLE, offsetof(ps_case_metrics, f), doc}

const ps_metric_column ps_metric_columns[] = {
    COL_I(tp, "voxels in both reference and prediction"),
    COL_I(fp, "voxels in the prediction only"),
    COL_I(fn, "voxels in the reference only"),
    COL_I(tn, "voxels in neither (over the whole field of view)"),
    COL_D(dice, "2 tp / (2 tp + fp + fn)"),
    COL_D(jaccard, "tp / (tp + fp + fn)"),
    COL_D(sensitivity, "tp / (tp + fn); NaN when the reference is empty"),
    COL_D(specificity, "tn / (tn + fp); NaN when the reference fills the field of view"),
    COL_D(precision, "tp / (tp + fp); NaN when the prediction is empty"),
    COL_D(vol_ref_ml, "reference volume in ml: (tp + fn) * voxel volume in mm^3 / 1000"),
    COL_D(vol_pred_ml, "predicted volume in ml: (tp + fp) * voxel volume in mm^3 / 1000"),
    COL_D(vol_diff_ml, "vol_pred_ml - vol_ref_ml"),
    COL_D(rel_vol_diff, "(vol_pred - vol_ref) / vol_ref; NaN when the reference is empty"),
    COL_D(volume_similarity, "1 - |fp - fn| / (2 tp + fp + fn)"),
    COL_D(kappa, "Cohen's kappa of the voxel-wise 2x2 table over the field of view"),
    COL_D(hd, "Hausdorff distance in mm: max of both directed boundary distances"),
    COL_D(hd95, "percentile Hausdorff distance in mm (percentile and convention per options)"),
    COL_D(hd95_pred_to_ref, "directed percentile distance in mm, prediction surface to reference"),
    COL_D(hd95_ref_to_pred, "directed percentile distance in mm, reference surface to prediction"),
    COL_D(assd, "average symmetric surface distance in mm: mean of both directions pooled"),
    COL_D(masd, "mean of the two directed mean surface distances in mm (MedPy's assd)"),
    COL_D(nsd, "normalised surface distance (surface Dice) at nsd_tol_mm"),
};
const int ps_metric_ncolumns = (int)(sizeof ps_metric_columns / sizeof ps_metric_columns[0]);
