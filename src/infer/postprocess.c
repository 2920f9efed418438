/* postprocess.c - argmax and nnU-Net v1's connected-component postprocessing.
 *
 * Sources of the behaviour (read, not copied):
 *   nnunet/inference/segmentation_export.py     argmax(0) of the resampled softmax (numpy: the
 *                                               first class on ties)
 *   nnunet/postprocessing/connected_components.py  load_postprocessing,
 *                                               remove_all_but_the_largest_connected_component
 *
 * postprocessing.json: "for_which_classes" is a list whose entries are a class (int) or a
 * joint region (a list of classes); "min_valid_object_sizes", when present, is a *string*
 * holding a Python dict literal ({1: 123.4, (1, 2): 56.0}) or None, read with
 * ast.literal_eval, volumes in mm^3. Other keys are ignored.
 *
 * For each entry in order: the mask (voxels of the class, or of any class of the region) is
 * labelled with scipy.ndimage.label's default 6-connectivity; the volume of a component is
 * its voxel count times the product of the spacings; every component whose volume differs from
 * the largest (all components of the largest volume are kept) is set to 0 — with a minimum
 * size given for the entry, only when its volume is below it. Later entries see the changes
 * of earlier ones.
 */
#include "pipeline_internal.h"

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void ps_argmax(const float *prob, int K, int64_t nvox, uint8_t *seg8, int16_t *seg16,
               int threads)
{
#pragma omp parallel for num_threads(threads) schedule(static)
    for (int64_t v = 0; v < nvox; v++) {
        float best = prob[v];
        int arg = 0;
        for (int k = 1; k < K; k++) {
            float x = prob[(int64_t)k * nvox + v];
            if (x > best) {
                best = x;
                arg = k;
            }
        }
        if (seg8)
            seg8[v] = (uint8_t)arg;
        else
            seg16[v] = (int16_t)arg;
    }
}

/* ---- a small JSON reader: enough to walk postprocessing.json ----------------------------- */
typedef struct jp {
    const char *s, *end, *base, *path;
} jp;

static void jp_ws(jp *p)
{
    while (p->s < p->end && isspace((unsigned char)*p->s))
        p->s++;
}

static int jp_fail(jp *p, const char *what)
{
    return ps_error(PS_ERR_FORMAT, "%s: %s at byte %lld", p->path, what,
                    (long long)(p->s - p->base));
}

/* a JSON string; with out != NULL its (unescaped ASCII) text, truncated to cap */
static int jp_string(jp *p, char *out, size_t cap)
{
    jp_ws(p);
    if (p->s >= p->end || *p->s != '"')
        return jp_fail(p, "expected a string");
    p->s++;
    size_t n = 0;
    while (p->s < p->end && *p->s != '"') {
        char ch = *p->s++;
        if (ch == '\\' && p->s < p->end) {
            ch = *p->s++;
            if (ch == 'u') { /* skip the 4 hex digits, keep a placeholder */
                p->s += 4;
                ch = '?';
            } else if (ch == 'n')
                ch = '\n';
            else if (ch == 't')
                ch = '\t';
        }
        if (out && n + 1 < cap)
            out[n++] = ch;
    }
    if (p->s >= p->end)
        return jp_fail(p, "unterminated string");
    p->s++;
    if (out)
        out[n] = 0;
    return PS_OK;
}

static int jp_skip(jp *p, int depth)
{
    jp_ws(p);
    if (p->s >= p->end)
        return jp_fail(p, "unexpected end of file");
    if (depth > 64)
        return jp_fail(p, "nesting too deep");
    char ch = *p->s;
    if (ch == '"')
        return jp_string(p, NULL, 0);
    if (ch == '{' || ch == '[') {
        char close = ch == '{' ? '}' : ']';
        p->s++;
        jp_ws(p);
        if (p->s < p->end && *p->s == close) {
            p->s++;
            return PS_OK;
        }
        for (;;) {
            int rc;
            if (close == '}') {
                if ((rc = jp_string(p, NULL, 0)))
                    return rc;
                jp_ws(p);
                if (p->s >= p->end || *p->s != ':')
                    return jp_fail(p, "expected ':'");
                p->s++;
            }
            if ((rc = jp_skip(p, depth + 1)))
                return rc;
            jp_ws(p);
            if (p->s < p->end && *p->s == ',') {
                p->s++;
                continue;
            }
            if (p->s < p->end && *p->s == close) {
                p->s++;
                return PS_OK;
            }
            return jp_fail(p, "expected ',' or a closing bracket");
        }
    }
    /* number, true, false, null */
    const char *b = p->s;
    while (p->s < p->end && (isalnum((unsigned char)*p->s) || strchr("+-.", *p->s)))
        p->s++;
    return p->s > b ? PS_OK : jp_fail(p, "unexpected character");
}

static int jp_int(jp *p, int *out)
{
    jp_ws(p);
    char *e;
    errno = 0;
    long v = strtol(p->s, &e, 10);
    if (e == p->s || errno || v < 1 || v > 32767)
        return jp_fail(p, "expected a class number (1..32767)");
    p->s = e;
    *out = (int)v;
    return PS_OK;
}

static int parse_classes(jp *p, ps_postprocessing *pp)
{
    jp_ws(p);
    if (p->s >= p->end || *p->s != '[')
        return jp_fail(p, "for_which_classes is not a list");
    p->s++;
    jp_ws(p);
    if (p->s < p->end && *p->s == ']') {
        p->s++;
        return PS_OK;
    }
    for (;;) {
        if (pp->ngroups >= PS_PP_MAX_GROUPS)
            return jp_fail(p, "too many entries in for_which_classes");
        int g = pp->ngroups++, rc;
        jp_ws(p);
        if (p->s < p->end && *p->s == '[') {
            p->s++;
            for (;;) {
                if (pp->nclasses[g] >= PS_PP_MAX_CLASSES)
                    return jp_fail(p, "too many classes in one region");
                if ((rc = jp_int(p, &pp->classes[g][pp->nclasses[g]++])))
                    return rc;
                jp_ws(p);
                if (p->s < p->end && *p->s == ',') {
                    p->s++;
                    continue;
                }
                if (p->s < p->end && *p->s == ']') {
                    p->s++;
                    break;
                }
                return jp_fail(p, "expected ',' or ']' in a region of for_which_classes");
            }
        } else {
            pp->nclasses[g] = 1;
            if ((rc = jp_int(p, &pp->classes[g][0])))
                return rc;
        }
        jp_ws(p);
        if (p->s < p->end && *p->s == ',') {
            p->s++;
            continue;
        }
        if (p->s < p->end && *p->s == ']') {
            p->s++;
            return PS_OK;
        }
        return jp_fail(p, "expected ',' or ']' in for_which_classes");
    }
}

/* the Python dict literal of min_valid_object_sizes: {key: float, ...}, key = int or tuple */
static int parse_min_sizes(const char *txt, const char *path, ps_postprocessing *pp)
{
    const char *s = txt;
#define WS() while (*s && isspace((unsigned char)*s)) s++
    WS();
    if (!strncmp(s, "None", 4)) { /* ast.literal_eval("None"): no minimum sizes */
        s += 4;
        WS();
        if (!*s)
            return PS_OK;
        goto bad;
    }
    if (*s != '{')
        goto bad;
    s++;
    for (;;) {
        WS();
        if (*s == '}')
            return PS_OK;
        int key[PS_PP_MAX_CLASSES], nk = 0;
        if (*s == '(') {
            s++;
            for (;;) {
                WS();
                if (*s == ')') {
                    s++;
                    break;
                }
                char *e;
                long v = strtol(s, &e, 10);
                if (e == s || nk >= PS_PP_MAX_CLASSES)
                    goto bad;
                key[nk++] = (int)v;
                s = e;
                WS();
                if (*s == ',')
                    s++;
            }
        } else {
            char *e;
            long v = strtol(s, &e, 10);
            if (e == s)
                goto bad;
            key[nk++] = (int)v;
            s = e;
        }
        WS();
        if (*s != ':')
            goto bad;
        s++;
        char *e;
        double val = strtod(s, &e);
        if (e == s)
            goto bad;
        s = e;
        for (int g = 0; g < pp->ngroups; g++) {
            if (pp->nclasses[g] != nk)
                continue;
            int same = 1;
            for (int q = 0; q < nk; q++)
                same &= pp->classes[g][q] == key[q];
            if (same) {
                pp->has_min_size[g] = 1;
                pp->min_size_mm3[g] = val;
            }
        }
        WS();
        if (*s == ',')
            s++;
        else if (*s != '}')
            goto bad;
    }
bad:
    return ps_error(PS_ERR_FORMAT, "%s: min_valid_object_sizes is not a dict literal of "
                    "class -> volume: '%.60s'", path, txt);
#undef WS
}

int ps_postprocessing_read(const char *path, ps_postprocessing *out)
{
    memset(out, 0, sizeof *out);
    FILE *f = fopen(path, "rb");
    if (!f)
        return ps_error(PS_ERR_IO, "%s: %s", path, strerror(errno));
    char *buf = NULL;
    size_t len = 0, cap = 0;
    for (;;) {
        if (len + 4096 + 1 > cap) {
            cap = cap ? 2 * cap : 8192;
            if (cap > (64u << 20)) {
                free(buf);
                fclose(f);
                return ps_error(PS_ERR_FORMAT, "%s: larger than 64 MiB", path);
            }
            char *nb = realloc(buf, cap);
            if (!nb) {
                free(buf);
                fclose(f);
                return PS_ERR_NOMEM;
            }
            buf = nb;
        }
        size_t r = fread(buf + len, 1, 4096, f);
        len += r;
        if (r < 4096)
            break;
    }
    fclose(f);
    buf[len] = 0;
    jp p = {buf, buf + len, buf, path};
    int rc = PS_OK, seen = 0;
    char key[128], minsz[4096] = "";
    int have_min = 0;
    jp_ws(&p);
    if (p.s >= p.end || *p.s != '{') {
        rc = jp_fail(&p, "expected a JSON object");
        goto done;
    }
    p.s++;
    for (;;) {
        jp_ws(&p);
        if (p.s < p.end && *p.s == '}')
            break;
        if ((rc = jp_string(&p, key, sizeof key)))
            goto done;
        jp_ws(&p);
        if (p.s >= p.end || *p.s != ':') {
            rc = jp_fail(&p, "expected ':'");
            goto done;
        }
        p.s++;
        if (!strcmp(key, "for_which_classes")) {
            if ((rc = parse_classes(&p, out)))
                goto done;
            seen = 1;
        } else if (!strcmp(key, "min_valid_object_sizes")) {
            if ((rc = jp_string(&p, minsz, sizeof minsz)))
                goto done;
            have_min = 1;
        } else if ((rc = jp_skip(&p, 0))) {
            goto done;
        }
        jp_ws(&p);
        if (p.s < p.end && *p.s == ',') {
            p.s++;
            continue;
        }
        if (p.s < p.end && *p.s == '}')
            break;
        rc = jp_fail(&p, "expected ',' or '}'");
        goto done;
    }
    if (!seen) {
        rc = ps_error(PS_ERR_FORMAT, "%s: no 'for_which_classes' entry", path);
        goto done;
    }
    if (have_min)
        rc = parse_min_sizes(minsz, path, out);
done:
    free(buf);
    return rc;
}

int ps_postprocess_apply(int32_t *labels, const int64_t n[3], double voxel_mm3,
                         const ps_postprocessing *pp)
{
    const int64_t nv = ps_n3(n);
    if (pp->ngroups == 0)
        return PS_OK;
    if (nv > INT32_MAX)
        return ps_error(PS_ERR_UNSUPPORTED, "postprocessing: more than 2^31 voxels");
    int32_t *comp = ps_malloc_array((size_t)nv, sizeof *comp);
    int32_t *queue = ps_malloc_array((size_t)nv, sizeof *queue);
    int64_t *size = NULL;
    if (!comp || !queue) {
        free(comp);
        free(queue);
        return PS_ERR_NOMEM;
    }
    int rc = PS_OK;
    for (int g = 0; g < pp->ngroups; g++) {
        /* comp: -1 = in the mask, not yet labelled; 0 = outside; > 0 component id */
        for (int64_t v = 0; v < nv; v++) {
            int in = 0;
            for (int q = 0; q < pp->nclasses[g]; q++)
                in |= labels[v] == pp->classes[g][q];
            comp[v] = in ? -1 : 0;
        }
        int32_t ncomp = 0;
        int64_t cap = 0;
        for (int64_t v0 = 0; v0 < nv; v0++) {
            if (comp[v0] != -1)
                continue;
            if (ncomp + 1 >= cap) {
                cap = cap ? 2 * cap : 64;
                int64_t *ns = realloc(size, (size_t)cap * sizeof *ns);
                if (!ns) {
                    rc = PS_ERR_NOMEM;
                    goto done;
                }
                size = ns;
            }
            int32_t id = ++ncomp;
            int64_t qn = 0, cnt = 0;
            comp[v0] = id;
            queue[qn++] = (int32_t)v0;
            for (int64_t h = 0; h < qn; h++) {
                int64_t v = queue[h];
                cnt++;
                int64_t i = v / (n[1] * n[2]), j = v / n[2] % n[1], k = v % n[2];
                int64_t nb[6];
                int c = 0;
                if (i > 0) nb[c++] = v - n[1] * n[2];
                if (i < n[0] - 1) nb[c++] = v + n[1] * n[2];
                if (j > 0) nb[c++] = v - n[2];
                if (j < n[1] - 1) nb[c++] = v + n[2];
                if (k > 0) nb[c++] = v - 1;
                if (k < n[2] - 1) nb[c++] = v + 1;
                for (int q = 0; q < c; q++)
                    if (comp[nb[q]] == -1) {
                        comp[nb[q]] = id;
                        queue[qn++] = (int32_t)nb[q];
                    }
            }
            size[id] = cnt;
        }
        if (ncomp <= 1)
            continue;
        double maxvol = 0;
        for (int32_t c = 1; c <= ncomp; c++)
            if ((double)size[c] * voxel_mm3 > maxvol)
                maxvol = (double)size[c] * voxel_mm3;
        for (int64_t v = 0; v < nv; v++) {
            int32_t c = comp[v];
            if (c <= 0)
                continue;
            double vol = (double)size[c] * voxel_mm3;
            if (vol != maxvol && (!pp->has_min_size[g] || vol < pp->min_size_mm3[g]))
                labels[v] = 0;
        }
    }
done:
    free(size);
    free(comp);
    free(queue);
    return rc;
}
