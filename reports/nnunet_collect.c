/* nnunet_collect.c - nnU-Net's summary.json from the run that writes the per-case table
 * (`panseval metrics --summary-json FILE`): a sink that forwards every row to the table's own
 * sink and keeps a CSV copy of the table in memory, then parses that copy with the table
 * reader and writes it with ps_nnunet_write, so that the file is the one `panseval summary
 * TABLE --format nnunet-...` writes from the table on disk. */
#include "ps_reports.h"

#include <stdlib.h>

struct ps_nnunet_collector {
    const ps_eval_sink *next;
    ps_eval_writer *w; /* the CSV copy */
    FILE *mem;
    char *buf;
    size_t len;
};

int ps_nnunet_collector_create(const ps_eval_plan *plan, const ps_eval_sink *next,
                               ps_nnunet_collector **out)
{
    *out = NULL;
    ps_nnunet_collector *c = ps_calloc(1, sizeof *c);
    if (!c)
        return PS_ERR_NOMEM;
    c->next = next;
    c->mem = open_memstream(&c->buf, &c->len);
    int rc = c->mem ? ps_eval_writer_create(c->mem, PS_TABLE_CSV, plan, &c->w)
                    : ps_error(PS_ERR_NOMEM, "summary.json: no memory for the table copy");
    if (rc) {
        ps_nnunet_collector_free(c);
        return rc;
    }
    *out = c;
    return PS_OK;
}

static int collect_rows(void *user, int64_t job, const ps_eval_row *rows, int nrows)
{
    ps_nnunet_collector *c = user;
    int rc = c->next->rows(c->next->user, job, rows, nrows);
    return rc ? rc : ps_eval_writer_rows(c->w, rows, nrows);
}

static int collect_skipped(void *user, int64_t job)
{
    ps_nnunet_collector *c = user;
    return c->next->skipped ? c->next->skipped(c->next->user, job) : PS_OK;
}

ps_eval_sink ps_nnunet_collector_sink(ps_nnunet_collector *c)
{
    ps_eval_sink s = {collect_rows, collect_skipped, c};
    return s;
}

int ps_nnunet_collector_write(ps_nnunet_collector *c, const ps_nnunet_options *o,
                              const char *path, int64_t *nskipped)
{
    if (nskipped)
        *nskipped = 0;
    int rc = ps_eval_writer_finish(c->w);
    c->w = NULL;
    if (fclose(c->mem) && !rc)
        rc = ps_error(PS_ERR_NOMEM, "summary.json: no memory for the table copy");
    c->mem = NULL;
    ps_table *t = NULL;
    ps_atomic_file *af = NULL;
    rc = rc ? rc : ps_table_parse(c->buf, c->len, "(per-case table)", &t);
    rc = rc ? rc : ps_atomic_open(path, &af);
    if (!rc) {
        rc = ps_nnunet_write(t, o, ps_atomic_stream(af), nskipped);
        if (rc)
            ps_atomic_abort(af);
        else
            rc = ps_atomic_commit(af);
    }
    ps_table_free(t);
    return rc;
}

void ps_nnunet_collector_free(ps_nnunet_collector *c)
{
    if (!c)
        return;
    ps_eval_writer_finish(c->w);
    if (c->mem)
        fclose(c->mem);
    free(c->buf);
    free(c);
}
