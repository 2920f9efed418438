/* fuzz_json.c - libFuzzer target for the JSON reader (ps_json_parse, src/io/json_read.c).
 *
 * The whole input is the JSON text (NUL bytes included). A parsed value is walked to the
 * bottom: every string must be NUL-terminated, every object's keys readable and ps_json_get
 * must find each key at or before its position. A failure must be PS_ERR_FORMAT (or
 * PS_ERR_NOMEM) with a message that names the input and nothing returned. Anything else
 * traps.
 *
 * Build: CC=clang meson setup build-fuzz -Dfuzz=true, then
 *   build-fuzz/tests/io/fuzz_json -max_len=4096 CORPUS_DIR
 * Seed corpus: any dataset.json / summary.json.
 */
#include "ps_io.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define FUZZ_NAME "fuzz.json"

static size_t walk(const ps_json *v, int depth)
{
    size_t n = 1;
    if (depth > PS_JSON_MAX_DEPTH + 1)
        __builtin_trap();
    switch (v->type) {
    case PS_JSON_STRING: n += strlen(v->string); break;
    case PS_JSON_ARRAY:
    case PS_JSON_OBJECT:
        for (int64_t i = 0; i < v->n; i++) {
            if (v->type == PS_JSON_OBJECT) {
                const ps_json *g = ps_json_get(v, v->keys[i]);
                if (!g || g > &v->items[i])
                    __builtin_trap();
            }
            n += walk(&v->items[i], depth + 1);
        }
        break;
    default: break;
    }
    return n;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    ps_json *j = NULL;
    int rc = ps_json_parse((const char *)data, size, FUZZ_NAME, &j);
    if (rc) {
        if (j || (rc != PS_ERR_FORMAT && rc != PS_ERR_NOMEM) ||
            (rc == PS_ERR_FORMAT && !strstr(ps_error_message(), FUZZ_NAME)))
            __builtin_trap();
        return 0;
    }
    if (!j)
        __builtin_trap();
    (void)walk(j, 0);
    ps_json_free(j);
    return 0;
}
