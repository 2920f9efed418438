/* json_read.c - a small JSON reader (RFC 8259) into a tree of ps_json values.
 *
 * For the few JSON files panseval reads (nnU-Net's dataset.json, ...). Rules (also in
 * docs/io.md):
 *   - the whole text is one value, with optional white space around it; a UTF-8
 *     byte-order mark is ignored;
 *   - strings: the escapes of RFC 8259 section 7, \uXXXX with surrogate pairs, written as
 *     UTF-8; unescaped control characters, lone surrogates and \u0000 are errors;
 *   - numbers: the RFC's grammar (no leading zeros, no '+', no hex, no NaN), read with
 *     strtod in the C locale's syntax;
 *   - objects keep their members in file order; a repeated key is kept twice (ps_json_get
 *     returns the first);
 *   - nesting deeper than PS_JSON_MAX_DEPTH is an error (no unbounded recursion);
 *   - with PS_JSON_NONFINITE (ps_json_parse_flags), also the bare tokens NaN, Infinity and
 *     -Infinity, which Python's json module writes by default (allow_nan=True) and nnU-Net's
 *     summary.json holds; they are not RFC 8259 JSON, so nothing else accepts them;
 *   - every value records its line; with PS_JSON_NUMBER_TEXT a number also keeps its own
 *     text (for tables, whose cells are text).
 * Errors are PS_ERR_FORMAT "NAME:LINE:COL: what".
 */
#include "ps_io.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

typedef struct jparser {
    const char *s;
    size_t len, pos;
    const char *name;
    unsigned flags;
    int64_t line; /* 1-based line of s[pos]; only white space holds line breaks */
} jparser;

static int jerr(const jparser *p, const char *what)
{
    int line = 1, col = 1;
    for (size_t i = 0; i < p->pos && i < p->len; i++) {
        if (p->s[i] == '\n') {
            line++;
            col = 1;
        } else {
            col++;
        }
    }
    return ps_error(PS_ERR_FORMAT, "%s:%d:%d: %s", p->name, line, col, what);
}

static void skip_ws(jparser *p)
{
    while (p->pos < p->len && (p->s[p->pos] == ' ' || p->s[p->pos] == '\t' ||
                               p->s[p->pos] == '\n' || p->s[p->pos] == '\r')) {
        p->line += p->s[p->pos] == '\n';
        p->pos++;
    }
}

static int hex4(jparser *p, unsigned *out)
{
    unsigned v = 0;
    if (p->len - p->pos < 4)
        return jerr(p, "truncated \\u escape");
    for (int i = 0; i < 4; i++) {
        char c = p->s[p->pos + (size_t)i];
        v <<= 4;
        if (c >= '0' && c <= '9')
            v |= (unsigned)(c - '0');
        else if (c >= 'a' && c <= 'f')
            v |= (unsigned)(c - 'a' + 10);
        else if (c >= 'A' && c <= 'F')
            v |= (unsigned)(c - 'A' + 10);
        else
            return jerr(p, "bad hex digit in \\u escape");
    }
    p->pos += 4;
    *out = v;
    return PS_OK;
}

/* Parse a string at p->pos (the opening quote) into a new NUL-terminated buffer. */
static int parse_string(jparser *p, char **out)
{
    p->pos++; /* opening quote */
    /* the UTF-8 of an escape is never longer than the escape, so the rest of the text
     * bounds the result */
    size_t start = p->pos, cap = 1;
    for (size_t i = start; i < p->len && p->s[i] != '"'; i++)
        cap += (p->s[i] == '\\' && i + 1 < p->len) ? (i++, 2) : 1;
    char *buf = ps_malloc(cap + 4);
    if (!buf)
        return PS_ERR_NOMEM;
    size_t n = 0;
    int rc = PS_OK;
    for (;;) {
        if (p->pos >= p->len) {
            rc = jerr(p, "unterminated string");
            break;
        }
        unsigned char c = (unsigned char)p->s[p->pos];
        if (c == '"') {
            p->pos++;
            break;
        }
        if (c < 0x20) {
            rc = jerr(p, "control character in string (escape it)");
            break;
        }
        if (c != '\\') {
            buf[n++] = (char)c;
            p->pos++;
            continue;
        }
        p->pos++;
        if (p->pos >= p->len) {
            rc = jerr(p, "unterminated string");
            break;
        }
        char e = p->s[p->pos++];
        switch (e) {
        case '"': buf[n++] = '"'; break;
        case '\\': buf[n++] = '\\'; break;
        case '/': buf[n++] = '/'; break;
        case 'b': buf[n++] = '\b'; break;
        case 'f': buf[n++] = '\f'; break;
        case 'n': buf[n++] = '\n'; break;
        case 'r': buf[n++] = '\r'; break;
        case 't': buf[n++] = '\t'; break;
        case 'u': {
            unsigned u, lo;
            if ((rc = hex4(p, &u)))
                break;
            if (u >= 0xDC00 && u <= 0xDFFF) {
                rc = jerr(p, "lone low surrogate in \\u escape");
                break;
            }
            if (u >= 0xD800 && u <= 0xDBFF) {
                if (p->len - p->pos < 2 || p->s[p->pos] != '\\' || p->s[p->pos + 1] != 'u') {
                    rc = jerr(p, "high surrogate without its low surrogate");
                    break;
                }
                p->pos += 2;
                if ((rc = hex4(p, &lo)))
                    break;
                if (lo < 0xDC00 || lo > 0xDFFF) {
                    rc = jerr(p, "high surrogate without its low surrogate");
                    break;
                }
                u = 0x10000 + ((u - 0xD800) << 10) + (lo - 0xDC00);
            }
            if (u == 0) {
                rc = jerr(p, "\\u0000 is not supported in strings");
                break;
            }
            if (u < 0x80) {
                buf[n++] = (char)u;
            } else if (u < 0x800) {
                buf[n++] = (char)(0xC0 | (u >> 6));
                buf[n++] = (char)(0x80 | (u & 0x3F));
            } else if (u < 0x10000) {
                buf[n++] = (char)(0xE0 | (u >> 12));
                buf[n++] = (char)(0x80 | ((u >> 6) & 0x3F));
                buf[n++] = (char)(0x80 | (u & 0x3F));
            } else {
                buf[n++] = (char)(0xF0 | (u >> 18));
                buf[n++] = (char)(0x80 | ((u >> 12) & 0x3F));
                buf[n++] = (char)(0x80 | ((u >> 6) & 0x3F));
                buf[n++] = (char)(0x80 | (u & 0x3F));
            }
            break;
        }
        default: p->pos--; rc = jerr(p, "unknown escape in string"); break;
        }
        if (rc)
            break;
    }
    if (rc) {
        free(buf);
        return rc;
    }
    buf[n] = '\0';
    *out = buf;
    return PS_OK;
}

static int parse_number(jparser *p, double *out)
{
    size_t i = p->pos;
    if (i < p->len && p->s[i] == '-')
        i++;
    if (i >= p->len || p->s[i] < '0' || p->s[i] > '9')
        return jerr(p, "expected a value");
    if (p->s[i] == '0')
        i++;
    else
        while (i < p->len && p->s[i] >= '0' && p->s[i] <= '9')
            i++;
    if (i < p->len && p->s[i] == '.') {
        i++;
        if (i >= p->len || p->s[i] < '0' || p->s[i] > '9')
            return jerr(p, "digits expected after the decimal point");
        while (i < p->len && p->s[i] >= '0' && p->s[i] <= '9')
            i++;
    }
    if (i < p->len && (p->s[i] == 'e' || p->s[i] == 'E')) {
        i++;
        if (i < p->len && (p->s[i] == '+' || p->s[i] == '-'))
            i++;
        if (i >= p->len || p->s[i] < '0' || p->s[i] > '9')
            return jerr(p, "digits expected in the exponent");
        while (i < p->len && p->s[i] >= '0' && p->s[i] <= '9')
            i++;
    }
    char tmp[128];
    size_t n = i - p->pos;
    if (n >= sizeof tmp)
        return jerr(p, "number too long");
    memcpy(tmp, p->s + p->pos, n);
    tmp[n] = '\0';
    errno = 0;
    *out = strtod(tmp, NULL); /* overflow gives +-HUGE_VAL, kept as +-inf */
    p->pos = i;
    return PS_OK;
}

static int parse_value(jparser *p, ps_json *v, int depth);

/* PS_JSON_NUMBER_TEXT: the number's own text, s[start..pos), in v->string. */
static int number_text(jparser *p, ps_json *v, size_t start)
{
    if (!(p->flags & PS_JSON_NUMBER_TEXT))
        return PS_OK;
    v->string = ps_strndup(p->s + start, p->pos - start);
    return v->string ? PS_OK : PS_ERR_NOMEM;
}

/* Grow the item (and key) arrays of an array/object by one. */
static int push_item(ps_json *v, size_t *cap, int with_key)
{
    if ((size_t)v->n == *cap) {
        size_t c = *cap ? 2 * *cap : 4;
        ps_json *it = ps_realloc_array(v->items, c, sizeof *it);
        if (!it)
            return PS_ERR_NOMEM;
        v->items = it;
        if (with_key) {
            char **k = ps_realloc_array(v->keys, c, sizeof *k);
            if (!k)
                return PS_ERR_NOMEM;
            v->keys = k;
        }
        *cap = c;
    }
    memset(&v->items[v->n], 0, sizeof v->items[v->n]);
    if (with_key)
        v->keys[v->n] = NULL;
    v->n++;
    return PS_OK;
}

static int parse_container(jparser *p, ps_json *v, int depth, int is_object)
{
    char close = is_object ? '}' : ']';
    size_t cap = 0;
    int rc;
    v->type = is_object ? PS_JSON_OBJECT : PS_JSON_ARRAY;
    p->pos++;
    skip_ws(p);
    if (p->pos < p->len && p->s[p->pos] == close) {
        p->pos++;
        return PS_OK;
    }
    for (;;) {
        skip_ws(p);
        if ((rc = push_item(v, &cap, is_object)))
            return rc;
        if (is_object) {
            if (p->pos >= p->len || p->s[p->pos] != '"')
                return jerr(p, "expected a member name in double quotes");
            if ((rc = parse_string(p, &v->keys[v->n - 1])))
                return rc;
            skip_ws(p);
            if (p->pos >= p->len || p->s[p->pos] != ':')
                return jerr(p, "expected ':' after the member name");
            p->pos++;
        }
        if ((rc = parse_value(p, &v->items[v->n - 1], depth + 1)))
            return rc;
        skip_ws(p);
        if (p->pos < p->len && p->s[p->pos] == ',') {
            p->pos++;
            continue;
        }
        if (p->pos < p->len && p->s[p->pos] == close) {
            p->pos++;
            return PS_OK;
        }
        return jerr(p, is_object ? "expected ',' or '}'" : "expected ',' or ']'");
    }
}

static int parse_value(jparser *p, ps_json *v, int depth)
{
    if (depth > PS_JSON_MAX_DEPTH)
        return jerr(p, "nesting too deep");
    skip_ws(p);
    if (p->pos >= p->len)
        return jerr(p, "unexpected end of the text, expected a value");
    char c = p->s[p->pos];
    v->line = p->line;
    if (c == '{' || c == '[')
        return parse_container(p, v, depth, c == '{');
    if (c == '"') {
        v->type = PS_JSON_STRING;
        return parse_string(p, &v->string);
    }
    static const struct { const char *word; ps_json_type type; int b; } words[] = {
        {"true", PS_JSON_BOOL, 1}, {"false", PS_JSON_BOOL, 0}, {"null", PS_JSON_NULL, 0}};
    for (size_t i = 0; i < sizeof words / sizeof words[0]; i++) {
        size_t n = strlen(words[i].word);
        if (p->len - p->pos >= n && !memcmp(p->s + p->pos, words[i].word, n)) {
            v->type = words[i].type;
            v->boolean = words[i].b;
            p->pos += n;
            return PS_OK;
        }
    }
    if (p->flags & PS_JSON_NONFINITE) {
        static const struct { const char *word; double x; } nonfinite[] = {
            {"NaN", NAN}, {"Infinity", INFINITY}, {"-Infinity", -INFINITY}};
        for (size_t i = 0; i < sizeof nonfinite / sizeof nonfinite[0]; i++) {
            size_t n = strlen(nonfinite[i].word);
            if (p->len - p->pos >= n && !memcmp(p->s + p->pos, nonfinite[i].word, n)) {
                v->type = PS_JSON_NUMBER;
                v->number = nonfinite[i].x;
                p->pos += n;
                return number_text(p, v, p->pos - n);
            }
        }
    }
    v->type = PS_JSON_NUMBER;
    size_t start = p->pos;
    int rc = parse_number(p, &v->number);
    return rc ? rc : number_text(p, v, start);
}

static void free_value(ps_json *v)
{
    for (int64_t i = 0; i < v->n; i++) {
        free_value(&v->items[i]);
        if (v->keys)
            free(v->keys[i]);
    }
    free(v->items);
    free(v->keys);
    free(v->string);
}

void ps_json_free(ps_json *j)
{
    if (!j)
        return;
    free_value(j);
    free(j);
}

int ps_json_parse(const char *text, size_t len, const char *name, ps_json **out)
{
    return ps_json_parse_flags(text, len, name, 0, out);
}

int ps_json_parse_flags(const char *text, size_t len, const char *name, unsigned flags,
                        ps_json **out)
{
    *out = NULL;
    jparser p = {text, len, 0, name ? name : "(json)", flags, 1};
    if (len >= 3 && !memcmp(text, "\xEF\xBB\xBF", 3))
        p.pos = 3;
    ps_json *v = ps_calloc(1, sizeof *v);
    if (!v)
        return PS_ERR_NOMEM;
    int rc = parse_value(&p, v, 0);
    if (!rc) {
        skip_ws(&p);
        if (p.pos < p.len)
            rc = jerr(&p, "unexpected text after the value");
    }
    if (rc) {
        ps_json_free(v);
        return rc;
    }
    *out = v;
    return PS_OK;
}

int ps_json_read(const char *path, ps_json **out)
{
    *out = NULL;
    char *buf;
    size_t len;
    int rc = ps_read_all(path, NULL, &buf, &len);
    if (!rc)
        rc = ps_json_parse(buf, len, path, out);
    free(buf);
    return rc;
}

const ps_json *ps_json_get(const ps_json *obj, const char *key)
{
    if (!obj || obj->type != PS_JSON_OBJECT)
        return NULL;
    for (int64_t i = 0; i < obj->n; i++)
        if (!strcmp(obj->keys[i], key))
            return &obj->items[i];
    return NULL;
}
