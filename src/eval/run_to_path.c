/* run_to_path.c - ps_eval_run_to_path (ps_eval_dist.h): the output sequence of
 * `panseval metrics` around ps_eval_run_dist. The eval module owns it.
 *
 * On rank 0: the table is opened atomically (path NULL or "-" = standard output); with a
 * file, the journal is "<path>.journal". The run goes into the table; the table is committed
 * when the run returns without error (an interrupted run commits its finished prefix), and
 * aborted otherwise. A complete run then removes its journal (ps_eval_journal_discard) and,
 * with a file, the provenance sidecar "<path>.meta.json" is written. Other ranks only work
 * (and show no progress). Errors: those of ps_atomic_open/commit, ps_eval_run_dist,
 * ps_eval_journal_discard and ps_eval_sidecar_write, the first one returned.
 */
#include <stdlib.h>
#include <string.h>

#include "ps_eval_dist.h"
#include "ps_io.h"

int ps_eval_run_to_path(const ps_eval_plan *plan, const ps_eval_settings *s,
                        const ps_context *ctx, const ps_eval_run_opts *opts, const char *path,
                        ps_table_format fmt, ps_eval_summary *sum, ps_eval_run_info *info)
{
    ps_eval_run_opts o = *opts;
    ps_atomic_file *af = NULL;
    FILE *f = NULL;
    int root = ps_dist_rank(o.dist) == 0, rc = 0;
    if (root && (rc = ps_atomic_open(path ? path : "-", &af)))
        return rc;
    if (root)
        f = ps_atomic_stream(af);
    char *journal = path && strcmp(path, "-") ? ps_asprintf("%s.journal", path) : NULL;
    if (path && strcmp(path, "-") && !journal) {
        ps_atomic_abort(af);
        return PS_ERR_NOMEM;
    }
    o.journal = journal;
    ps_context c;
    if (ctx)
        c = *ctx;
    else
        ps_context_init(&c);
    c.progress = root ? c.progress : 0;
    rc = ps_eval_run_dist(plan, s, &c, &o, f, fmt, sum, info);
    if (root) {
        if (rc)
            ps_atomic_abort(af);
        else
            rc = ps_atomic_commit(af);
    }
    if (root && !rc && journal && !info->journal_kept)
        rc = ps_eval_journal_discard(journal);
    if (root && !rc && journal)
        rc = ps_eval_sidecar_write(path, fmt, plan, s, sum);
    free(journal);
    return rc;
}
