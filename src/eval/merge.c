/* merge.c - join the journals of `--shard I/N` runs into one table (ps_eval_merge).
 *
 * Steps: read every journal; check that their identities agree (version, manifest hash, plan
 * hash, settings, format) and that they are shards of the same N; rebuild the plan from the
 * recorded manifest and models and check its hash; index every record by job and refuse a
 * job that is missing or appears twice (naming up to 20 cases); then write the jobs in plan
 * order through the same table writer a one-process run uses, so the bytes are the same.
 */
#include "journal_internal.h"

#include <stdlib.h>
#include <string.h>


/* The models of a header as an array (pointers into `text`, which is modified). */
static int split_models(char *text, const char ***out, int *n)
{
    *n = 0;
    *out = NULL;
    if (!*text)
        return PS_OK;
    int cap = 1;
    for (char *p = text; *p; p++)
        cap += *p == '\t';
    const char **m = ps_calloc((size_t)cap, sizeof *m);
    if (!m)
        return PS_ERR_NOMEM;
    for (char *tok = text, *next; tok; tok = next) {
        next = strchr(tok, '\t');
        if (next)
            *next++ = 0;
        m[(*n)++] = tok;
    }
    *out = m;
    return PS_OK;
}

/* "case/model" of a job (the merge's messages). */
static void job_name(int64_t j, char *buf, size_t size, void *user)
{
    const ps_eval_plan *plan = user;
    snprintf(buf, size, "%s/%s", plan->jobs[j].case_id, plan->jobs[j].model);
}

int ps_eval_merge(const char *const *journals, int n, FILE *out, const char *out_path,
                  ps_table_format fmt, const ps_context *ctx, ps_eval_summary *sum)
{
    memset(sum, 0, sizeof *sum);
    if (n < 1)
        return ps_error(PS_ERR_ARG, "no shard files");
    ps_jr_contents **c = ps_calloc((size_t)n, sizeof *c);
    char **names = ps_calloc((size_t)n, sizeof *names);
    ps_eval_plan *plan = NULL;
    ps_eval_settings s;
    ps_eval_settings_init(&s);
    int64_t *where = NULL; /* job -> shard * 2^32 + record, or -1 */
    const char **models = NULL;
    char *models_text = NULL;
    ps_eval_writer *w = NULL;
    int nmodels = 0, r = c && names ? PS_OK : PS_ERR_NOMEM;
    for (int i = 0; !r && i < n; i++) {
        if (!(names[i] = ps_jr_journal_name(journals[i])))
            r = PS_ERR_NOMEM;
        else
            r = ps_jr_read(names[i], &c[i]);
    }
    char why[8192];
    for (int i = 1; !r && i < n; i++) {
        const char *d = ps_jr_header_differs(&c[0]->h, &c[i]->h, why, sizeof why);
        if (d)
            r = ps_error(PS_ERR_ARG, "%s and %s are not shards of one run: %s",
                         names[0], names[i], d);
        else if (c[i]->h.shard_count != c[0]->h.shard_count)
            r = ps_error(PS_ERR_ARG, "%s is shard %d/%d, %s is %d/%d", names[0],
                         c[0]->h.shard_index, c[0]->h.shard_count, names[i],
                         c[i]->h.shard_index, c[i]->h.shard_count);
    }
    if (!r && strcmp(c[0]->h.format, ps_table_format_name(fmt)))
        r = ps_error(PS_ERR_ARG, "the shards are %s tables; the output must be %s too "
                     "(give --format %s or an -o with that suffix)", c[0]->h.format,
                     c[0]->h.format, c[0]->h.format);
    if (!r && !strcmp(c[0]->h.manifest, "-"))
        r = ps_error(PS_ERR_ARG, "%s was not made from a manifest; only manifest runs "
                     "can be sharded", names[0]);
    /* the plan and settings of the run */
    if (!r && !(models_text = ps_strdup(c[0]->h.models)))
        r = PS_ERR_NOMEM;
    if (!r)
        r = split_models(models_text, &models, &nmodels);
    if (!r)
        r = ps_eval_plan_from_manifest(c[0]->h.manifest, models, nmodels, ctx, &plan);
    if (!r) {
        uint64_t mh;
        if ((r = ps_jr_file_hash(c[0]->h.manifest, &mh)))
            ;
        else if (mh != c[0]->h.manifest_hash || ps_jr_plan_hash(plan) != c[0]->h.plan_hash ||
                 plan->njobs != c[0]->h.njobs)
            r = ps_error(PS_ERR_ARG, "%s changed since the shards ran (its hash or its "
                         "evaluations differ from the journals')", c[0]->h.manifest);
    }
    if (!r)
        r = ps_jr_settings_apply(c[0]->h.settings, &s);
    /* every job exactly once */
    if (!r && !(where = ps_malloc_array((size_t)(plan->njobs ? plan->njobs : 1),
                                        sizeof *where)))
        r = PS_ERR_NOMEM;
    if (!r)
        r = ps_jr_coverage(c, n, (const char *const *)names, plan->njobs, "evaluation(s)", NULL,
                           job_name, (void *)plan, where);
    /* the table, in plan order */
    if (!r)
        r = ps_eval_writer_create(out, fmt, plan, &w);
    int64_t last_case = -1;
    sum->jobs = plan ? plan->njobs : 0;
    for (int64_t j = 0; !r && j < plan->njobs; j++) {
        const ps_jr_record *rec = &c[where[j] >> 32]->rec[where[j] & 0xffffffff];
        ps_jr_rows rows;
        if ((r = ps_jr_decode(rec->payload, rec->len, &plan->jobs[j], &rows)))
            break;
        r = ps_eval_writer_rows(w, rows.rows, rows.nrows);
        int failed = 0, missing = 0, ref_grid = 0;
        for (int i = 0; i < rows.nrows; i++) {
            failed |= rows.rows[i].status == PS_EVAL_ERROR;
            missing |= rows.rows[i].status == PS_EVAL_MISSING;
            ref_grid |= !strcmp(rows.rows[i].geometry, "ref_grid");
        }
        sum->failed += failed;
        sum->missing += missing;
        sum->ref_grid += ref_grid;
        sum->rows += rows.nrows;
        sum->jobs_emitted++;
        if (plan->jobs[j].case_index != last_case) {
            sum->cases_emitted++;
            last_case = plan->jobs[j].case_index;
        }
        ps_jr_rows_free(&rows);
    }
    int r2 = w ? ps_eval_writer_finish(w) : PS_OK;
    if (!r)
        r = r2;
    if (!r && out_path && strcmp(out_path, "-"))
        r = ps_eval_sidecar_write(out_path, fmt, plan, &s, sum);
    for (int i = 0; c && i < n; i++) {
        ps_jr_contents_free(c[i]);
        if (names)
            free(names[i]);
    }
    free(c);
    free(names);
    free(where);
    free(models);
    free(models_text);
    ps_eval_settings_clear(&s);
    ps_eval_plan_free(plan);
    return r;
}
