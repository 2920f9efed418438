/* pickle.c - a pickle decoder that builds a value tree and never executes anything.
 *
 * The format is Python's pickle virtual machine (Lib/pickletools.py documents every opcode):
 * opcodes push values on a stack, MARK remembers a stack position, a memo stores values by
 * index, and REDUCE / NEWOBJ / BUILD would call Python code. Here a "call" only recognises a
 * few names (collections.OrderedDict, the torch tensor rebuild functions, numpy's array, dtype
 * and scalar reconstructors, _codecs.encode) and turns them into plain nodes; any other callable
 * becomes an opaque PS_PK_OBJECT remembering its name and arguments.
 *
 * Safety: every read is bounds-checked; all nodes live in one arena whose size is linear in
 * the input length (no opcode allocates more than a constant times the bytes it consumes,
 * except sequence growth by doubling); the MARK stack depth and memo indices are limited;
 * nothing recurses on the structure of the input.
 */
#include "ckpt_internal.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- arena ----------------------------------------------------------------------------- */
typedef struct arena_chunk {
    struct arena_chunk *next;
    size_t used, cap;
    max_align_t data[];
} arena_chunk;

struct ps_pickle {
    arena_chunk *chunks;
    /* parser state (freed after parsing) */
    const uint8_t *buf;
    size_t len, pos;
    const char *what;
    ps_pk **stack;
    int64_t sp, stack_cap;
    int64_t *marks;
    int64_t nmarks, marks_cap;
    ps_pk **memo;
    int64_t memo_len, memo_cap;
    ps_pk *storages, *storages_tail;   /* persistent ids, in order */
    size_t op_pos;  /* offset of the opcode being executed (for messages) */
};

static void *arena_alloc(ps_pickle *p, size_t n)
{
    n = (n + 15) & ~(size_t)15;
    arena_chunk *c = p->chunks;
    if (!c || c->cap - c->used < n) {
        size_t cap = n > 65536 ? n : 65536;
        c = malloc(sizeof *c + cap);
        if (!c) {
            ps_error(PS_ERR_NOMEM, "out of memory (pickle arena, %zu bytes)", cap);
            return NULL;
        }
        c->next = p->chunks;
        c->used = 0;
        c->cap = cap;
        p->chunks = c;
    }
    void *r = (char *)c->data + c->used;
    c->used += n;
    return r;
}

void ps_pickle_free(ps_pickle *p)
{
    if (!p)
        return;
    for (arena_chunk *c = p->chunks, *next; c; c = next) {
        next = c->next;
        free(c);
    }
    free(p->stack);
    free(p->marks);
    free(p->memo);
    free(p);
}

/* ---- errors ---------------------------------------------------------------------------- */
static int perr(ps_pickle *p, const char *fmt, ...) PS_PRINTF(2, 3);
static int perr(ps_pickle *p, const char *fmt, ...)
{
    char msg[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    return ps_error(PS_ERR_FORMAT, "%s: pickle byte %zu: %s", p->what, p->op_pos, msg);
}

/* ---- element types ----------------------------------------------------------------------- */
size_t ps_pk_elem_size(ps_pk_elem t)
{
    switch (t) {
    case PS_EL_I8: case PS_EL_U8: case PS_EL_BOOL: return 1;
    case PS_EL_F16: case PS_EL_BF16: case PS_EL_I16: case PS_EL_U16: return 2;
    case PS_EL_F32: case PS_EL_I32: case PS_EL_U32: return 4;
    case PS_EL_F64: case PS_EL_I64: case PS_EL_U64: return 8;
    default: return 0;
    }
}

const char *ps_pk_elem_name(ps_pk_elem t)
{
    static const char *const names[] = {"unknown", "float16", "bfloat16", "float32", "float64",
                                        "int8", "uint8", "int16", "uint16", "int32", "uint32",
                                        "int64", "uint64", "bool"};
    return (unsigned)t < sizeof names / sizeof names[0] ? names[t] : "unknown";
}

static uint64_t load_uint(const uint8_t *p, size_t n, int big_endian)
{
    uint64_t v = 0;
    for (size_t k = 0; k < n; k++)
        v |= (uint64_t)p[big_endian ? n - 1 - k : k] << (8 * k);
    return v;
}

/* IEEE 754 binary16 -> double (exact). */
static double half_to_double(uint16_t h)
{
    int sign = h >> 15, e = (h >> 10) & 31, m = h & 1023;
    double v;
    if (e == 0)
        v = ldexp((double)m, -24);
    else if (e == 31)
        v = m ? NAN : INFINITY;
    else
        v = ldexp((double)(m | 1024), e - 25);
    return sign ? -v : v;
}

double ps_pk_elem_get(ps_pk_elem t, const uint8_t *p, int64_t i, int big_endian)
{
    size_t sz = ps_pk_elem_size(t);
    uint64_t u = load_uint(p + (size_t)i * sz, sz, big_endian);
    switch (t) {
    case PS_EL_F16: return half_to_double((uint16_t)u);
    case PS_EL_BF16: {
        uint32_t b = (uint32_t)u << 16;
        float f;
        memcpy(&f, &b, 4);
        return f;
    }
    case PS_EL_F32: {
        uint32_t b = (uint32_t)u;
        float f;
        memcpy(&f, &b, 4);
        return f;
    }
    case PS_EL_F64: {
        double d;
        memcpy(&d, &u, 8);
        return d;
    }
    case PS_EL_I8: return (int8_t)u;
    case PS_EL_U8: return (uint8_t)u;
    case PS_EL_BOOL: return u != 0;
    case PS_EL_I16: return (int16_t)u;
    case PS_EL_U16: return (uint16_t)u;
    case PS_EL_I32: return (int32_t)u;
    case PS_EL_U32: return (uint32_t)u;
    case PS_EL_I64: return (double)(int64_t)u;
    case PS_EL_U64: return (double)u;
    default: return NAN;
    }
}

/* ---- node constructors ------------------------------------------------------------------ */
static ps_pk *node(ps_pickle *p, ps_pk_type t)
{
    ps_pk *v = arena_alloc(p, sizeof *v);
    if (v) {
        memset(v, 0, sizeof *v);
        v->type = t;
    }
    return v;
}

static ps_pk *node_str(ps_pickle *p, ps_pk_type t, const uint8_t *s, size_t n)
{
    ps_pk *v = node(p, t);
    if (!v)
        return NULL;
    char *c = arena_alloc(p, n + 1);
    if (!c)
        return NULL;
    memcpy(c, s, n);
    c[n] = 0;
    v->u.str.s = c;
    v->u.str.len = n;
    return v;
}

/* Append to a TUPLE/LIST/SET node (capacity doubles; old arrays stay in the arena). */
static int seq_push(ps_pickle *p, ps_pk *s, ps_pk *item)
{
    if (s->u.seq.n == s->u.seq.cap) {
        int64_t cap = s->u.seq.cap ? 2 * s->u.seq.cap : 4;
        ps_pk **a = arena_alloc(p, (size_t)cap * sizeof *a);
        if (!a)
            return PS_ERR_NOMEM;
        if (s->u.seq.n)
            memcpy(a, s->u.seq.items, (size_t)s->u.seq.n * sizeof *a);
        s->u.seq.items = a;
        s->u.seq.cap = cap;
    }
    s->u.seq.items[s->u.seq.n++] = item;
    return PS_OK;
}

static int dict_set(ps_pickle *p, ps_pk *d, ps_pk *k, ps_pk *v)
{
    if (d->u.dict.n == d->u.dict.cap) {
        int64_t cap = d->u.dict.cap ? 2 * d->u.dict.cap : 8;
        ps_pk **ks = arena_alloc(p, (size_t)cap * sizeof *ks);
        ps_pk **vs = arena_alloc(p, (size_t)cap * sizeof *vs);
        if (!ks || !vs)
            return PS_ERR_NOMEM;
        if (d->u.dict.n) {
            memcpy(ks, d->u.dict.keys, (size_t)d->u.dict.n * sizeof *ks);
            memcpy(vs, d->u.dict.vals, (size_t)d->u.dict.n * sizeof *vs);
        }
        d->u.dict.keys = ks;
        d->u.dict.vals = vs;
        d->u.dict.cap = cap;
    }
    /* duplicates are kept; lookups search from the end, so the last value wins as in Python */
    d->u.dict.keys[d->u.dict.n] = k;
    d->u.dict.vals[d->u.dict.n++] = v;
    return PS_OK;
}

/* ---- stack, marks, memo -------------------------------------------------------------------- */
static int push(ps_pickle *p, ps_pk *v)
{
    if (!v)
        return PS_ERR_NOMEM;
    if (p->sp == p->stack_cap) {
        int64_t cap = p->stack_cap ? 2 * p->stack_cap : 64;
        ps_pk **s = ps_realloc_array(p->stack, (size_t)cap, sizeof *s);
        if (!s)
            return PS_ERR_NOMEM;
        p->stack = s;
        p->stack_cap = cap;
    }
    p->stack[p->sp++] = v;
    return PS_OK;
}

static int pop(ps_pickle *p, ps_pk **v)
{
    int64_t base = p->nmarks ? p->marks[p->nmarks - 1] : 0;
    if (p->sp <= base)
        return perr(p, "stack underflow");
    *v = p->stack[--p->sp];
    return PS_OK;
}

static int top(ps_pickle *p, ps_pk **v)
{
    int64_t base = p->nmarks ? p->marks[p->nmarks - 1] : 0;
    if (p->sp <= base)
        return perr(p, "stack underflow");
    *v = p->stack[p->sp - 1];
    return PS_OK;
}

static int push_mark(ps_pickle *p)
{
    if (p->nmarks >= PS_PK_MAX_MARK_DEPTH)
        return perr(p, "MARKs nested deeper than %d", PS_PK_MAX_MARK_DEPTH);
    if (p->nmarks == p->marks_cap) {
        int64_t cap = p->marks_cap ? 2 * p->marks_cap : 32;
        int64_t *m = ps_realloc_array(p->marks, (size_t)cap, sizeof *m);
        if (!m)
            return PS_ERR_NOMEM;
        p->marks = m;
        p->marks_cap = cap;
    }
    p->marks[p->nmarks++] = p->sp;
    return PS_OK;
}

/* Items above the last MARK: stack[*start .. sp); the mark is removed (items stay until the
 * caller sets sp = *start). */
static int pop_mark(ps_pickle *p, int64_t *start)
{
    if (!p->nmarks)
        return perr(p, "no MARK on the stack");
    *start = p->marks[--p->nmarks];
    return PS_OK;
}

static int memo_put(ps_pickle *p, int64_t idx, ps_pk *v)
{
    /* Python's pickler numbers memo entries 0, 1, 2, ...; allow gaps but bound the table so a
     * hostile index cannot make us allocate more than a multiple of the input size. */
    if (idx < 0 || idx >= PS_PK_MAX_MEMO || (size_t)idx > 2 * p->len + 16)
        return perr(p, "memo index %lld out of range", (long long)idx);
    if (idx >= p->memo_cap) {
        int64_t cap = p->memo_cap ? p->memo_cap : 64;
        while (cap <= idx)
            cap *= 2;
        ps_pk **m = ps_realloc_array(p->memo, (size_t)cap, sizeof *m);
        if (!m)
            return PS_ERR_NOMEM;
        memset(m + p->memo_cap, 0, (size_t)(cap - p->memo_cap) * sizeof *m);
        p->memo = m;
        p->memo_cap = cap;
    }
    p->memo[idx] = v;
    if (idx >= p->memo_len)
        p->memo_len = idx + 1;
    return PS_OK;
}

static int memo_get(ps_pickle *p, int64_t idx)
{
    if (idx < 0 || idx >= p->memo_len || !p->memo[idx])
        return perr(p, "memo index %lld was never stored", (long long)idx);
    return push(p, p->memo[idx]);
}

/* ---- input ------------------------------------------------------------------------------ */
static int need(ps_pickle *p, size_t n)
{
    if (n > p->len - p->pos)
        return perr(p, "truncated: needs %zu more bytes, %zu left", n, p->len - p->pos);
    return PS_OK;
}

static int read_uint(ps_pickle *p, size_t n, uint64_t *out)
{
    if (need(p, n))
        return PS_ERR_FORMAT;
    *out = load_uint(p->buf + p->pos, n, 0);
    p->pos += n;
    return PS_OK;
}

/* A text line (GLOBAL arguments) up to '\n'. */
static int read_line(ps_pickle *p, const uint8_t **s, size_t *n)
{
    const uint8_t *start = p->buf + p->pos;
    const uint8_t *nl = memchr(start, '\n', p->len - p->pos);
    if (!nl)
        return perr(p, "truncated: unterminated text argument");
    *s = start;
    *n = (size_t)(nl - start);
    p->pos += *n + 1;
    return PS_OK;
}

/* LONG1/LONG4 payload: little-endian two's complement. */
static ps_pk *make_long(ps_pickle *p, const uint8_t *b, size_t n)
{
    if (n > 8) {
        /* wider than int64 unless it is a sign extension */
        int neg = b[n - 1] & 0x80;
        for (size_t k = 8; k < n; k++)
            if (b[k] != (neg ? 0xff : 0x00))
                return node(p, PS_PK_BIGINT);
        if (((b[7] & 0x80) != 0) != (neg != 0))
            return node(p, PS_PK_BIGINT);
        n = 8;
    }
    uint64_t u = load_uint(b, n, 0);
    if (n && n < 8 && (b[n - 1] & 0x80))
        u |= ~(uint64_t)0 << (8 * n);
    ps_pk *v = node(p, PS_PK_INT);
    if (v)
        v->u.i = (int64_t)u;
    return v;
}

/* ---- recognised callables --------------------------------------------------------------- */
static int is_global(const ps_pk *g, const char *module, const char *name)
{
    return g && g->type == PS_PK_GLOBAL && !strcmp(g->u.global.module, module) &&
           !strcmp(g->u.global.name, name);
}

static int is_numpy_multiarray(const ps_pk *g, const char *name)
{
    return is_global(g, "numpy.core.multiarray", name) ||
           is_global(g, "numpy._core.multiarray", name);
}

static ps_pk *arg(const ps_pk *args, int64_t i)
{
    if (!args || args->type != PS_PK_TUPLE || i >= args->u.seq.n)
        return NULL;
    return args->u.seq.items[i];
}

static ps_pk_elem storage_elem(const char *name)
{
    static const struct { const char *name; ps_pk_elem e; } map[] = {
        {"FloatStorage", PS_EL_F32},  {"HalfStorage", PS_EL_F16},  {"BFloat16Storage", PS_EL_BF16},
        {"DoubleStorage", PS_EL_F64}, {"LongStorage", PS_EL_I64},  {"IntStorage", PS_EL_I32},
        {"ShortStorage", PS_EL_I16},  {"CharStorage", PS_EL_I8},   {"ByteStorage", PS_EL_U8},
        {"BoolStorage", PS_EL_BOOL},
    };
    for (size_t k = 0; k < sizeof map / sizeof map[0]; k++)
        if (!strcmp(name, map[k].name))
            return map[k].e;
    return PS_EL_NONE;
}

/* numpy dtype string: [<>|=]?(f|i|u|b)<bytes>, e.g. "f8", "<i4", "b1". */
static void parse_dtype(const char *s, ps_pk_elem *elem, int *big_endian)
{
    *elem = PS_EL_NONE;
    if (*s == '<' || *s == '|' || *s == '=' || *s == '>') {
        if (*s == '>')
            *big_endian = 1;
        s++;
    }
    char kind = *s++;
    char *end;
    long size = strtol(s, &end, 10);
    if (end == s || *end)
        return;
    switch (kind) {
    case 'f': *elem = size == 2 ? PS_EL_F16 : size == 4 ? PS_EL_F32 : size == 8 ? PS_EL_F64
                                                                              : PS_EL_NONE; break;
    case 'i': *elem = size == 1 ? PS_EL_I8 : size == 2 ? PS_EL_I16 : size == 4 ? PS_EL_I32
                      : size == 8 ? PS_EL_I64 : PS_EL_NONE; break;
    case 'u': *elem = size == 1 ? PS_EL_U8 : size == 2 ? PS_EL_U16 : size == 4 ? PS_EL_U32
                      : size == 8 ? PS_EL_U64 : PS_EL_NONE; break;
    case 'b': *elem = size == 1 ? PS_EL_BOOL : PS_EL_NONE; break;
    default: break;
    }
}

static int int_tuple(const ps_pk *t, int64_t *out, int *n)
{
    if (!t || (t->type != PS_PK_TUPLE && t->type != PS_PK_LIST) || t->u.seq.n > PS_TENSOR_MAXDIM)
        return -1;
    for (int64_t k = 0; k < t->u.seq.n; k++) {
        if (t->u.seq.items[k]->type != PS_PK_INT)
            return -1;
        out[k] = t->u.seq.items[k]->u.i;
    }
    *n = (int)t->u.seq.n;
    return 0;
}

/* _codecs.encode(text, 'latin1'): protocol 2 stores bytes this way; every code point of the
 * UTF-8 text must be below 256. */
static ps_pk *latin1_bytes(ps_pickle *p, const ps_pk *text)
{
    const uint8_t *s = (const uint8_t *)text->u.str.s;
    size_t n = text->u.str.len, o = 0;
    uint8_t *b = arena_alloc(p, n + 1);
    if (!b)
        return NULL;
    for (size_t k = 0; k < n; k++) {
        if (s[k] < 0x80)
            b[o++] = s[k];
        else if ((s[k] & 0xe0) == 0xc0 && s[k] <= 0xc3 && k + 1 < n && (s[k + 1] & 0xc0) == 0x80) {
            b[o++] = (uint8_t)(((s[k] & 0x03) << 6) | (s[k + 1] & 0x3f));
            k++;
        } else {
            perr(p, "_codecs.encode: text is not latin-1");
            return NULL;
        }
    }
    b[o] = 0;
    ps_pk *v = node(p, PS_PK_BYTES);
    if (v) {
        v->u.str.s = (char *)b;
        v->u.str.len = o;
    }
    return v;
}

/* Apply `callable` to `args` (REDUCE); recognised names become plain nodes. */
static int do_reduce(ps_pickle *p, ps_pk *callable, ps_pk *args)
{
    if (args->type != PS_PK_TUPLE)
        return perr(p, "REDUCE arguments are a %s, not a tuple", ps_pk_type_name(args));
    if (is_global(callable, "collections", "OrderedDict") ||
        is_global(callable, "builtins", "dict") || is_global(callable, "__builtin__", "dict")) {
        ps_pk *d = node(p, PS_PK_DICT);
        if (!d)
            return PS_ERR_NOMEM;
        ps_pk *items = arg(args, 0);
        if (items && (items->type == PS_PK_LIST || items->type == PS_PK_TUPLE)) {
            for (int64_t k = 0; k < items->u.seq.n; k++) {
                ps_pk *kv = items->u.seq.items[k];
                if (kv->type != PS_PK_TUPLE || kv->u.seq.n != 2)
                    return perr(p, "OrderedDict item is not a (key, value) pair");
                if (dict_set(p, d, kv->u.seq.items[0], kv->u.seq.items[1]))
                    return PS_ERR_NOMEM;
            }
        }
        return push(p, d);
    }
    if (is_global(callable, "torch._utils", "_rebuild_tensor_v2") ||
        is_global(callable, "torch._utils", "_rebuild_tensor")) {
        ps_pk *st = arg(args, 0), *off = arg(args, 1);
        ps_pk *t = node(p, PS_PK_TENSOR);
        if (!t)
            return PS_ERR_NOMEM;
        int nsize = 0, nstride = 0;
        if (!st || st->type != PS_PK_STORAGE)
            return perr(p, "_rebuild_tensor_v2: argument 0 is not a storage");
        if (!off || off->type != PS_PK_INT || off->u.i < 0)
            return perr(p, "_rebuild_tensor_v2: bad storage offset");
        if (int_tuple(arg(args, 2), t->u.tensor.size, &nsize) ||
            int_tuple(arg(args, 3), t->u.tensor.stride, &nstride) || nsize != nstride)
            return perr(p, "_rebuild_tensor_v2: size and stride must be tuples of the same "
                           "length (at most %d) of integers", PS_TENSOR_MAXDIM);
        for (int k = 0; k < nsize; k++)
            if (t->u.tensor.size[k] < 0 || t->u.tensor.stride[k] < 0)
                return perr(p, "_rebuild_tensor_v2: negative size or stride");
        t->u.tensor.storage = st;
        t->u.tensor.offset = off->u.i;
        t->u.tensor.ndim = nsize;
        return push(p, t);
    }
    if (is_global(callable, "torch._utils", "_rebuild_parameter") ||
        is_global(callable, "torch._utils", "_rebuild_parameter_with_state")) {
        ps_pk *data = arg(args, 0);
        if (!data || data->type != PS_PK_TENSOR)
            return perr(p, "_rebuild_parameter: argument 0 is not a tensor");
        return push(p, data);
    }
    if (is_global(callable, "_codecs", "encode")) {
        ps_pk *text = arg(args, 0);
        if (!text || text->type != PS_PK_STR)
            return perr(p, "_codecs.encode: argument 0 is not text");
        ps_pk *b = latin1_bytes(p, text);
        return b ? push(p, b) : ps_error_code();
    }
    if (is_numpy_multiarray(callable, "_reconstruct")) {
        ps_pk *a = node(p, PS_PK_NDARRAY);
        return push(p, a);   /* filled by BUILD */
    }
    if (is_global(callable, "numpy", "dtype")) {
        ps_pk *s = arg(args, 0);
        if (!s || s->type != PS_PK_STR)
            return perr(p, "numpy.dtype: argument 0 is not text");
        ps_pk *d = node(p, PS_PK_DTYPE);
        if (!d)
            return PS_ERR_NOMEM;
        parse_dtype(s->u.str.s, &d->u.dtype.elem, &d->u.dtype.big_endian);
        return push(p, d);
    }
    if (is_numpy_multiarray(callable, "scalar")) {
        ps_pk *dt = arg(args, 0), *raw = arg(args, 1);
        if (dt && dt->type == PS_PK_DTYPE && raw && raw->type == PS_PK_BYTES &&
            dt->u.dtype.elem != PS_EL_NONE) {
            if (raw->u.str.len != ps_pk_elem_size(dt->u.dtype.elem))
                return perr(p, "numpy scalar of type %s has %zu bytes",
                            ps_pk_elem_name(dt->u.dtype.elem), raw->u.str.len);
            double v = ps_pk_elem_get(dt->u.dtype.elem, (const uint8_t *)raw->u.str.s, 0,
                                      dt->u.dtype.big_endian);
            ps_pk_elem e = dt->u.dtype.elem;
            ps_pk *s;
            if (e == PS_EL_F16 || e == PS_EL_F32 || e == PS_EL_F64 || e == PS_EL_BF16) {
                s = node(p, PS_PK_FLOAT);
                if (s)
                    s->u.f = v;
            } else {
                s = node(p, e == PS_EL_BOOL ? PS_PK_BOOL : PS_PK_INT);
                if (s) {
                    uint64_t u = load_uint((const uint8_t *)raw->u.str.s, raw->u.str.len,
                                           dt->u.dtype.big_endian);
                    s->u.i = (e == PS_EL_U64 || e == PS_EL_I64) ? (int64_t)u : (int64_t)v;
                }
            }
            return push(p, s);
        }
    }
    if (is_global(callable, "torch", "Size")) {
        ps_pk *t = arg(args, 0);
        if (t && t->type == PS_PK_TUPLE)
            return push(p, t);
    }
    ps_pk *o = node(p, PS_PK_OBJECT);
    if (!o)
        return PS_ERR_NOMEM;
    o->u.obj.callable = callable;
    o->u.obj.args = args;
    return push(p, o);
}

/* BUILD: numpy arrays and dtypes take their content from the state; other objects keep it. */
static int do_build(ps_pickle *p, ps_pk *obj, ps_pk *state)
{
    if (obj->type == PS_PK_DTYPE) {
        ps_pk *bo = arg(state, 1);
        if (bo && bo->type == PS_PK_STR)
            obj->u.dtype.big_endian = bo->u.str.s[0] == '>';
        return PS_OK;
    }
    if (obj->type == PS_PK_NDARRAY) {
        if (obj->u.nd.built)
            return perr(p, "numpy array built twice");
        if (!state || state->type != PS_PK_TUPLE || (state->u.seq.n != 5 && state->u.seq.n != 4))
            return perr(p, "numpy array state is not a 4- or 5-tuple");
        int64_t o = state->u.seq.n - 4;
        ps_pk *shape = arg(state, o), *dt = arg(state, o + 1), *fortran = arg(state, o + 2),
              *raw = arg(state, o + 3);
        int ndim = 0;
        if (int_tuple(shape, obj->u.nd.shape, &ndim))
            return perr(p, "numpy array shape is not a tuple of at most %d integers",
                        PS_TENSOR_MAXDIM);
        if (!dt || dt->type != PS_PK_DTYPE)
            return perr(p, "numpy array dtype is a %s", ps_pk_type_name(dt));
        int64_t count = 1;
        for (int k = 0; k < ndim; k++) {
            if (obj->u.nd.shape[k] < 0 ||
                (obj->u.nd.shape[k] && count > INT64_MAX / 16 / obj->u.nd.shape[k]))
                return perr(p, "numpy array shape is negative or too large");
            count *= obj->u.nd.shape[k];
        }
        obj->u.nd.ndim = ndim;
        obj->u.nd.count = count;
        obj->u.nd.elem = dt->u.dtype.elem;
        obj->u.nd.big_endian = dt->u.dtype.big_endian;
        obj->u.nd.fortran = fortran && fortran->type == PS_PK_BOOL && fortran->u.i;
        obj->u.nd.built = 1;
        if (obj->u.nd.elem == PS_EL_NONE)
            return PS_OK;   /* object / string arrays: kept opaque */
        if (!raw || raw->type != PS_PK_BYTES)
            return perr(p, "numpy array data is a %s, not bytes", ps_pk_type_name(raw));
        if ((uint64_t)raw->u.str.len != (uint64_t)count * ps_pk_elem_size(obj->u.nd.elem))
            return perr(p, "numpy array of %lld %s elements has %zu data bytes",
                        (long long)count, ps_pk_elem_name(obj->u.nd.elem), raw->u.str.len);
        obj->u.nd.data = (const uint8_t *)raw->u.str.s;
        return PS_OK;
    }
    if (obj->type == PS_PK_OBJECT)
        obj->u.obj.state = state;
    /* dicts (OrderedDict's _metadata), tensors and plain values: the state is not needed */
    return PS_OK;
}

/* ---- the opcode loop ---------------------------------------------------------------------- */
enum {
    OP_MARK = '(', OP_STOP = '.', OP_POP = '0', OP_POP_MARK = '1', OP_DUP = '2',
    OP_BININT = 'J', OP_BININT1 = 'K', OP_BININT2 = 'M', OP_NONE = 'N', OP_BINPERSID = 'Q',
    OP_REDUCE = 'R', OP_BINSTRING = 'T', OP_SHORT_BINSTRING = 'U', OP_BINUNICODE = 'X',
    OP_APPEND = 'a', OP_BUILD = 'b', OP_GLOBAL = 'c', OP_DICT = 'd', OP_EMPTY_DICT = '}',
    OP_APPENDS = 'e', OP_BINGET = 'h', OP_LONG_BINGET = 'j', OP_LIST = 'l', OP_EMPTY_LIST = ']',
    OP_BINPUT = 'q', OP_LONG_BINPUT = 'r', OP_SETITEM = 's', OP_TUPLE = 't', OP_EMPTY_TUPLE = ')',
    OP_SETITEMS = 'u', OP_BINFLOAT = 'G', OP_PROTO = 0x80, OP_NEWOBJ = 0x81, OP_TUPLE1 = 0x85,
    OP_TUPLE2 = 0x86, OP_TUPLE3 = 0x87, OP_NEWTRUE = 0x88, OP_NEWFALSE = 0x89, OP_LONG1 = 0x8a,
    OP_LONG4 = 0x8b, OP_BINBYTES = 'B', OP_SHORT_BINBYTES = 'C', OP_SHORT_BINUNICODE = 0x8c,
    OP_BINUNICODE8 = 0x8d, OP_BINBYTES8 = 0x8e, OP_EMPTY_SET = 0x8f, OP_ADDITEMS = 0x90,
    OP_FROZENSET = 0x91, OP_NEWOBJ_EX = 0x92, OP_STACK_GLOBAL = 0x93, OP_MEMOIZE = 0x94,
    OP_FRAME = 0x95, OP_BYTEARRAY8 = 0x96,
};

static int run(ps_pickle *p, ps_pk **root)
{
    ps_pk *a = NULL, *b = NULL, *c = NULL;
    int64_t start = 0;
    uint64_t u;
    int rc;
    while (p->pos < p->len) {
        p->op_pos = p->pos;
        int op = p->buf[p->pos++];
        switch (op) {
        case OP_PROTO:
            if ((rc = read_uint(p, 1, &u)))
                return rc;
            if (u > 5)
                return perr(p, "unsupported pickle protocol %u", (unsigned)u);
            break;
        case OP_FRAME:
            if ((rc = read_uint(p, 8, &u)))
                return rc;
            if (u > p->len - p->pos)
                return perr(p, "truncated: frame of %llu bytes, %zu left",
                            (unsigned long long)u, p->len - p->pos);
            break;
        case OP_STOP:
            if ((rc = pop(p, root)))
                return rc;
            return PS_OK;
        case OP_MARK:
            if ((rc = push_mark(p)))
                return rc;
            break;
        case OP_POP:
            if (p->nmarks && p->sp == p->marks[p->nmarks - 1])
                p->nmarks--;   /* pickletools: POP of a MARK discards it */
            else if ((rc = pop(p, &a)))
                return rc;
            break;
        case OP_POP_MARK:
            if ((rc = pop_mark(p, &start)))
                return rc;
            p->sp = start;
            break;
        case OP_DUP:
            if ((rc = top(p, &a)) || (rc = push(p, a)))
                return rc;
            break;
        case OP_NONE:
            if ((rc = push(p, node(p, PS_PK_NONE))))
                return rc;
            break;
        case OP_NEWTRUE:
        case OP_NEWFALSE:
            if (!(a = node(p, PS_PK_BOOL)))
                return PS_ERR_NOMEM;
            a->u.i = op == OP_NEWTRUE;
            if ((rc = push(p, a)))
                return rc;
            break;
        case OP_BININT:
        case OP_BININT1:
        case OP_BININT2: {
            size_t n = op == OP_BININT ? 4 : op == OP_BININT1 ? 1 : 2;
            if ((rc = read_uint(p, n, &u)))
                return rc;
            if (!(a = node(p, PS_PK_INT)))
                return PS_ERR_NOMEM;
            a->u.i = op == OP_BININT ? (int64_t)(int32_t)(uint32_t)u : (int64_t)u;
            if ((rc = push(p, a)))
                return rc;
            break;
        }
        case OP_LONG1:
        case OP_LONG4: {
            if ((rc = read_uint(p, op == OP_LONG1 ? 1 : 4, &u)))
                return rc;
            if (op == OP_LONG4 && (int32_t)(uint32_t)u < 0)
                return perr(p, "LONG4 with negative length");
            if ((rc = need(p, (size_t)u)))
                return rc;
            a = make_long(p, p->buf + p->pos, (size_t)u);
            p->pos += (size_t)u;
            if ((rc = push(p, a)))
                return rc;
            break;
        }
        case OP_BINFLOAT: {
            if ((rc = need(p, 8)))
                return rc;
            u = load_uint(p->buf + p->pos, 8, 1);
            p->pos += 8;
            if (!(a = node(p, PS_PK_FLOAT)))
                return PS_ERR_NOMEM;
            memcpy(&a->u.f, &u, 8);
            if ((rc = push(p, a)))
                return rc;
            break;
        }
        case OP_SHORT_BINUNICODE:
        case OP_BINUNICODE:
        case OP_BINUNICODE8:
        case OP_SHORT_BINBYTES:
        case OP_BINBYTES:
        case OP_BINBYTES8:
        case OP_BYTEARRAY8:
        case OP_SHORT_BINSTRING:
        case OP_BINSTRING: {
            size_t n = (op == OP_SHORT_BINUNICODE || op == OP_SHORT_BINBYTES ||
                        op == OP_SHORT_BINSTRING) ? 1
                       : (op == OP_BINUNICODE || op == OP_BINBYTES || op == OP_BINSTRING) ? 4 : 8;
            if ((rc = read_uint(p, n, &u)))
                return rc;
            if (u > p->len - p->pos)
                return perr(p, "truncated: string of %llu bytes, %zu left",
                            (unsigned long long)u, p->len - p->pos);
            int is_text = op == OP_SHORT_BINUNICODE || op == OP_BINUNICODE || op == OP_BINUNICODE8;
            a = node_str(p, is_text ? PS_PK_STR : PS_PK_BYTES, p->buf + p->pos, (size_t)u);
            p->pos += (size_t)u;
            if ((rc = push(p, a)))
                return rc;
            break;
        }
        case OP_GLOBAL: {
            const uint8_t *m = NULL, *nm = NULL;
            size_t mn = 0, nn = 0;
            if ((rc = read_line(p, &m, &mn)) || (rc = read_line(p, &nm, &nn)))
                return rc;
            if (!(a = node(p, PS_PK_GLOBAL)))
                return PS_ERR_NOMEM;
            b = node_str(p, PS_PK_STR, m, mn);
            c = node_str(p, PS_PK_STR, nm, nn);
            if (!b || !c)
                return PS_ERR_NOMEM;
            a->u.global.module = b->u.str.s;
            a->u.global.name = c->u.str.s;
            if ((rc = push(p, a)))
                return rc;
            break;
        }
        case OP_STACK_GLOBAL:
            if ((rc = pop(p, &b)) || (rc = pop(p, &a)))
                return rc;
            if (a->type != PS_PK_STR || b->type != PS_PK_STR)
                return perr(p, "STACK_GLOBAL needs two strings, got %s and %s",
                            ps_pk_type_name(a), ps_pk_type_name(b));
            if (!(c = node(p, PS_PK_GLOBAL)))
                return PS_ERR_NOMEM;
            c->u.global.module = a->u.str.s;
            c->u.global.name = b->u.str.s;
            if ((rc = push(p, c)))
                return rc;
            break;
        case OP_EMPTY_DICT:
        case OP_EMPTY_LIST:
        case OP_EMPTY_TUPLE:
        case OP_EMPTY_SET:
            if ((rc = push(p, node(p, op == OP_EMPTY_DICT ? PS_PK_DICT : op == OP_EMPTY_LIST
                                   ? PS_PK_LIST : op == OP_EMPTY_TUPLE ? PS_PK_TUPLE
                                   : PS_PK_SET))))
                return rc;
            break;
        case OP_TUPLE:
        case OP_LIST:
        case OP_FROZENSET:
        case OP_TUPLE1:
        case OP_TUPLE2:
        case OP_TUPLE3: {
            if (op == OP_TUPLE || op == OP_LIST || op == OP_FROZENSET) {
                if ((rc = pop_mark(p, &start)))
                    return rc;
            } else {
                int64_t k = op - OP_TUPLE1 + 1;
                int64_t base = p->nmarks ? p->marks[p->nmarks - 1] : 0;
                if (p->sp - base < k)
                    return perr(p, "stack underflow");
                start = p->sp - k;
            }
            if (!(a = node(p, op == OP_LIST ? PS_PK_LIST : op == OP_FROZENSET ? PS_PK_SET
                                                                             : PS_PK_TUPLE)))
                return PS_ERR_NOMEM;
            for (int64_t k = start; k < p->sp; k++)
                if (seq_push(p, a, p->stack[k]))
                    return PS_ERR_NOMEM;
            p->sp = start;
            if ((rc = push(p, a)))
                return rc;
            break;
        }
        case OP_DICT:
            if ((rc = pop_mark(p, &start)))
                return rc;
            if ((p->sp - start) % 2)
                return perr(p, "DICT with an odd number of items");
            if (!(a = node(p, PS_PK_DICT)))
                return PS_ERR_NOMEM;
            for (int64_t k = start; k < p->sp; k += 2)
                if (dict_set(p, a, p->stack[k], p->stack[k + 1]))
                    return PS_ERR_NOMEM;
            p->sp = start;
            if ((rc = push(p, a)))
                return rc;
            break;
        case OP_APPEND:
        case OP_APPENDS:
        case OP_ADDITEMS: {
            if (op == OP_APPEND) {
                int64_t base = p->nmarks ? p->marks[p->nmarks - 1] : 0;
                if (p->sp - base < 2)
                    return perr(p, "stack underflow");
                start = p->sp - 1;
            } else if ((rc = pop_mark(p, &start))) {
                return rc;
            }
            int64_t base = p->nmarks ? p->marks[p->nmarks - 1] : 0;
            if (start - 1 < base)
                return perr(p, "stack underflow");
            ps_pk *target = p->stack[start - 1];
            if (target->type == PS_PK_OBJECT) {
                if (!target->u.obj.items && !(target->u.obj.items = node(p, PS_PK_LIST)))
                    return PS_ERR_NOMEM;
                target = target->u.obj.items;
            }
            if (target->type != PS_PK_LIST && target->type != PS_PK_SET)
                return perr(p, "APPEND to a %s", ps_pk_type_name(target));
            for (int64_t k = start; k < p->sp; k++)
                if (seq_push(p, target, p->stack[k]))
                    return PS_ERR_NOMEM;
            p->sp = start;
            break;
        }
        case OP_SETITEM:
        case OP_SETITEMS: {
            if (op == OP_SETITEM) {
                int64_t base = p->nmarks ? p->marks[p->nmarks - 1] : 0;
                if (p->sp - base < 3)
                    return perr(p, "stack underflow");
                start = p->sp - 2;
            } else if ((rc = pop_mark(p, &start))) {
                return rc;
            }
            int64_t base = p->nmarks ? p->marks[p->nmarks - 1] : 0;
            if (start - 1 < base)
                return perr(p, "stack underflow");
            if ((p->sp - start) % 2)
                return perr(p, "SETITEMS with an odd number of items");
            ps_pk *d = p->stack[start - 1];
            if (d->type == PS_PK_OBJECT) {
                if (!d->u.obj.items && !(d->u.obj.items = node(p, PS_PK_DICT)))
                    return PS_ERR_NOMEM;
                d = d->u.obj.items;
            }
            if (d->type != PS_PK_DICT)
                return perr(p, "SETITEM on a %s", ps_pk_type_name(d));
            for (int64_t k = start; k < p->sp; k += 2)
                if (dict_set(p, d, p->stack[k], p->stack[k + 1]))
                    return PS_ERR_NOMEM;
            p->sp = start;
            break;
        }
        case OP_BINPUT:
        case OP_LONG_BINPUT:
            if ((rc = read_uint(p, op == OP_BINPUT ? 1 : 4, &u)) || (rc = top(p, &a)) ||
                (rc = memo_put(p, (int64_t)u, a)))
                return rc;
            break;
        case OP_MEMOIZE:
            if ((rc = top(p, &a)) || (rc = memo_put(p, p->memo_len, a)))
                return rc;
            break;
        case OP_BINGET:
        case OP_LONG_BINGET:
            if ((rc = read_uint(p, op == OP_BINGET ? 1 : 4, &u)) || (rc = memo_get(p, (int64_t)u)))
                return rc;
            break;
        case OP_REDUCE:
            if ((rc = pop(p, &b)) || (rc = pop(p, &a)) || (rc = do_reduce(p, a, b)))
                return rc;
            break;
        case OP_NEWOBJ:
        case OP_NEWOBJ_EX:
            if (op == OP_NEWOBJ_EX && (rc = pop(p, &c)))   /* kwargs */
                return rc;
            if ((rc = pop(p, &b)) || (rc = pop(p, &a)))
                return rc;
            if (b->type != PS_PK_TUPLE)
                return perr(p, "NEWOBJ arguments are a %s, not a tuple", ps_pk_type_name(b));
            if (is_global(a, "collections", "OrderedDict")) {
                rc = push(p, node(p, PS_PK_DICT));
            } else {
                if (!(c = node(p, PS_PK_OBJECT)))
                    return PS_ERR_NOMEM;
                c->u.obj.callable = a;
                c->u.obj.args = b;
                rc = push(p, c);
            }
            if (rc)
                return rc;
            break;
        case OP_BUILD:
            if ((rc = pop(p, &b)) || (rc = top(p, &a)) || (rc = do_build(p, a, b)))
                return rc;
            break;
        case OP_BINPERSID: {
            if ((rc = pop(p, &a)))
                return rc;
            ps_pk *tag = arg(a, 0), *type = arg(a, 1), *key = arg(a, 2), *numel = arg(a, 4);
            if (!tag || tag->type != PS_PK_STR || strcmp(tag->u.str.s, "storage") ||
                !type || type->type != PS_PK_GLOBAL || !key || key->type != PS_PK_STR ||
                !numel || numel->type != PS_PK_INT || numel->u.i < 0)
                return perr(p, "persistent id is not ('storage', type, key, location, numel)");
            if (!(b = node(p, PS_PK_STORAGE)))
                return PS_ERR_NOMEM;
            b->u.storage.elem = storage_elem(type->u.global.name);
            b->u.storage.key = key->u.str.s;
            b->u.storage.numel = numel->u.i;
            /* legacy streams add a 6th item, view metadata (None unless the storage is a
             * view of another one, which only very old PyTorch wrote) */
            ps_pk *view = arg(a, 5);
            if (view && view->type != PS_PK_NONE)
                return perr(p, "storage views (written only by old PyTorch versions) are not supported");
            if (p->storages_tail)
                p->storages_tail->u.storage.next = b;
            else
                p->storages = b;
            p->storages_tail = b;
            if ((rc = push(p, b)))
                return rc;
            break;
        }
        default:
            return perr(p, "unsupported pickle opcode 0x%02x", op);
        }
    }
    p->op_pos = p->pos;
    return perr(p, "truncated: no STOP opcode");
}

int ps_pickle_parse(const uint8_t *buf, size_t len, const char *what, ps_pickle **out,
                    ps_pk **root)
{
    size_t consumed;
    return ps_pickle_parse_prefix(buf, len, what, out, root, &consumed);
}

ps_pk *ps_pickle_storages(const ps_pickle *p)
{
    return p ? p->storages : NULL;
}

int ps_pickle_parse_prefix(const uint8_t *buf, size_t len, const char *what, ps_pickle **out,
                           ps_pk **root, size_t *consumed)
{
    *consumed = 0;
    *out = NULL;
    *root = NULL;
    ps_pickle *p = ps_calloc(1, sizeof *p);
    if (!p)
        return PS_ERR_NOMEM;
    p->buf = buf;
    p->len = len;
    p->what = what ? what : "pickle";
    int rc = run(p, root);
    *consumed = p->pos;
    free(p->stack);
    free(p->marks);
    free(p->memo);
    p->stack = NULL;
    p->marks = NULL;
    p->memo = NULL;
    if (rc) {
        ps_pickle_free(p);
        *root = NULL;
        return rc;
    }
    *out = p;
    return PS_OK;
}

/* ---- navigation ------------------------------------------------------------------------- */
const char *ps_pk_type_name(const ps_pk *v)
{
    static const char *const names[] = {"None", "bool", "int", "big int", "float", "str", "bytes",
                                        "tuple", "list", "set", "dict", "global", "object",
                                        "storage", "tensor", "numpy array", "numpy dtype"};
    if (!v)
        return "nothing";
    return (unsigned)v->type < sizeof names / sizeof names[0] ? names[v->type] : "?";
}

ps_pk *ps_pk_dict_get(const ps_pk *d, const char *key)
{
    if (!d || d->type != PS_PK_DICT)
        return NULL;
    for (int64_t k = d->u.dict.n - 1; k >= 0; k--) {
        const ps_pk *kk = d->u.dict.keys[k];
        if (kk->type == PS_PK_STR && !strcmp(kk->u.str.s, key))
            return d->u.dict.vals[k];
    }
    return NULL;
}

ps_pk *ps_pk_dict_get_int(const ps_pk *d, int64_t key)
{
    if (!d || d->type != PS_PK_DICT)
        return NULL;
    for (int64_t k = d->u.dict.n - 1; k >= 0; k--) {
        const ps_pk *kk = d->u.dict.keys[k];
        if (kk->type == PS_PK_INT && kk->u.i == key)
            return d->u.dict.vals[k];
    }
    return NULL;
}

int ps_pk_number(const ps_pk *v, double *out)
{
    if (!v)
        return PS_ERR_FORMAT;
    switch (v->type) {
    case PS_PK_BOOL:
    case PS_PK_INT: *out = (double)v->u.i; return PS_OK;
    case PS_PK_FLOAT: *out = v->u.f; return PS_OK;
    case PS_PK_NDARRAY:
        if (v->u.nd.built && v->u.nd.data && v->u.nd.count == 1) {
            *out = ps_pk_elem_get(v->u.nd.elem, v->u.nd.data, 0, v->u.nd.big_endian);
            return PS_OK;
        }
        return PS_ERR_FORMAT;
    default: return PS_ERR_FORMAT;
    }
}

int ps_pk_int(const ps_pk *v, int64_t *out)
{
    if (v && (v->type == PS_PK_INT || v->type == PS_PK_BOOL)) {
        *out = v->u.i;
        return PS_OK;
    }
    double d;
    if (ps_pk_number(v, &d) || !(d == floor(d)) || fabs(d) > 9.0e15)
        return PS_ERR_FORMAT;
    *out = (int64_t)d;
    return PS_OK;
}

int ps_pk_numbers(const ps_pk *v, double *out, int max, int *n)
{
    if (!v)
        return PS_ERR_FORMAT;
    if (v->type == PS_PK_LIST || v->type == PS_PK_TUPLE) {
        if (v->u.seq.n > max)
            return PS_ERR_FORMAT;
        for (int64_t k = 0; k < v->u.seq.n; k++)
            if (ps_pk_number(v->u.seq.items[k], &out[k]))
                return PS_ERR_FORMAT;
        *n = (int)v->u.seq.n;
        return PS_OK;
    }
    if (v->type == PS_PK_NDARRAY && v->u.nd.built && v->u.nd.data && v->u.nd.ndim == 1 &&
        v->u.nd.count <= max) {
        for (int64_t k = 0; k < v->u.nd.count; k++)
            out[k] = ps_pk_elem_get(v->u.nd.elem, v->u.nd.data, k, v->u.nd.big_endian);
        *n = (int)v->u.nd.count;
        return PS_OK;
    }
    return PS_ERR_FORMAT;
}
