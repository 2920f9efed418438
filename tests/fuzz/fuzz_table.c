/* fuzz_table.c - libFuzzer target for the CSV/TSV/JSON reader (ps_table_parse, src/io/table_read.c).
 *
 * The whole input is the table text (NUL bytes included). A parsed table is walked cell by
 * cell: every cell, column name and line number must be readable, ps_table_get_double must
 * succeed or fail with a message naming the table, and ps_table_col must find each column at
 * its first position (names are unique). A failure must be a negative status with a message
 * that names the table. Anything else traps.
 *
 * Build: CC=clang meson setup build-fuzz -Dfuzz=true, then
 *   build-fuzz/tests/io/fuzz_table -max_len=4096 CORPUS_DIR
 * Seed corpus: the .tsv files in tests/golden/io and any CSV.
 */
#include "ps_io.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define FUZZ_NAME "fuzz.csv"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    ps_table *t = NULL;
    int rc = ps_table_parse((const char *)data, size, FUZZ_NAME, &t);
    if (rc > 0)
        __builtin_trap();
    if (rc < 0) {
        if (t || !strstr(ps_error_message(), FUZZ_NAME))
            __builtin_trap();
        return 0;
    }
    if (!t || t->ncols < 1 || t->nrows < 0 ||
        (t->sep != ',' && t->sep != '\t' && t->sep != 'j'))
        __builtin_trap();
    volatile size_t acc = 0;
    for (int c = 0; c < t->ncols; c++) {
        acc += strlen(t->colnames[c]);
        if (ps_table_col(t, t->colnames[c]) != c)
            __builtin_trap();
    }
    int64_t prev_line = 0;
    for (int64_t r = 0; r < t->nrows; r++) {
        /* CSV/TSV records start on later lines; JSON objects may share a line */
        if (t->line[r] < prev_line || (t->sep != 'j' && t->line[r] == prev_line))
            __builtin_trap();
        prev_line = t->line[r];
        for (int c = 0; c < t->ncols; c++) {
            acc += strlen(t->cells[r][c]);
            double x;
            if (ps_table_get_double(t, r, c, &x) && !strstr(ps_error_message(), FUZZ_NAME))
                __builtin_trap();
        }
    }
    int col;
    if (ps_table_col(t, "no such column") < 0 &&
        (ps_table_require_col(t, "no such column", &col) != PS_ERR_ARG ||
         !strstr(ps_error_message(), FUZZ_NAME)))
        __builtin_trap();
    (void)acc;
    ps_table_free(t);
    return 0;
}
