/* load.c - the tables an analysis reads: CSV/TSV per-case tables and nnU-Net summary.json
 * files, one or several concatenated. */
#include "ps_reports.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

const char *ps_report_input_path(const char *arg)
{
    const char *eq = strchr(arg, '=');
    /* MODEL=PATH: a non-empty prefix without '/' before '=', unless the whole argument is
     * an existing file */
    if (eq && eq != arg && !memchr(arg, '/', (size_t)(eq - arg)) && access(arg, F_OK) != 0)
        return eq + 1;
    return arg;
}

static int load_one(const char *arg, ps_table **out)
{
    const char *path = ps_report_input_path(arg);
    char model[256] = "nnunet";
    int has_model = path != arg;
    if (has_model)
        snprintf(model, sizeof model, "%.*s", (int)(path - 1 - arg), arg);
    char *text = NULL;
    size_t len = 0;
    int rc = ps_read_all(path, NULL, &text, &len);
    if (rc)
        return rc;
    size_t i = 0;
    while (i < len && (text[i] == ' ' || text[i] == '\t' || text[i] == '\n' || text[i] == '\r'))
        i++;
    const char *name = strcmp(path, "-") ? path : "(stdin)";
    if (i < len && text[i] == '{')
        rc = ps_nnunet_parse(text, len, name, model, out);
    else if (has_model)
        rc = ps_error(PS_ERR_ARG, "%s: MODEL=PATH is for nnU-Net summary.json files; a table "
                      "has its own model column", arg);
    else
        rc = ps_table_parse(text, len, name, out);
    free(text);
    return rc;
}

int ps_report_load(const char *const *args, int n, ps_table **out)
{
    *out = NULL;
    if (n < 1)
        return ps_error(PS_ERR_ARG, "no table given");
    if (n == 1)
        return load_one(args[0], out);
    ps_table **ts = ps_calloc((size_t)n, sizeof *ts);
    int rc = ts ? PS_OK : PS_ERR_NOMEM;
    for (int i = 0; i < n && !rc; i++)
        rc = load_one(args[i], &ts[i]);
    for (int i = 1; i < n && !rc; i++) {
        int same = ts[i]->ncols == ts[0]->ncols;
        for (int c = 0; same && c < ts[0]->ncols; c++)
            same = !strcmp(ts[i]->colnames[c], ts[0]->colnames[c]);
        if (!same)
            rc = ps_error(PS_ERR_FORMAT, "%s and %s have different columns: tables are joined "
                          "only when their headers are equal", args[0], args[i]);
    }
    /* the joined table as CSV in memory, through src/io's writer, read back */
    char *csv = NULL;
    size_t len = 0;
    FILE *mem = rc ? NULL : open_memstream(&csv, &len);
    ps_table_writer *w = NULL;
    if (!rc && !mem)
        rc = PS_ERR_NOMEM;
    if (!rc)
        rc = ps_table_writer_create(mem, PS_TABLE_CSV, ts[0]->ncols,
                                    (const char *const *)ts[0]->colnames, &w);
    for (int i = 0; i < n && !rc; i++)
        for (int64_t r = 0; r < ts[i]->nrows && !rc; r++) {
            for (int c = 0; c < ts[i]->ncols && !rc; c++)
                rc = ps_table_writer_str(w, ts[i]->cells[r][c]);
            rc = rc ? rc : ps_table_writer_end_row(w);
        }
    if (w) {
        int rc2 = ps_table_writer_finish(w);
        rc = rc ? rc : rc2;
    }
    if (mem && fclose(mem) && !rc)
        rc = PS_ERR_NOMEM;
    if (!rc)
        rc = ps_table_parse(csv, len, "(joined tables)", out);
    for (int i = 0; ts && i < n; i++)
        ps_table_free(ts[i]);
    free(ts);
    free(csv);
    return rc;
}
