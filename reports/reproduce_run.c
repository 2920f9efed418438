/* reproduce_run.c - `panseval reproduce` as one library call: evaluate a manifest into the
 * per-case tables (src/eval), then write the paper's tables and the reports
 * (ps_reproduce_report) and nnU-Net v1 summary.json files (ps_nnunet_write).
 *
 * Steps, in this order, each writing its files atomically into the report folder:
 *   1. every pred:MODEL column against ref          -> per_case.csv (+ .meta.json provenance)
 *   2. every rater:NAME[:SESSION] column against ref -> per_case_raters.csv (+ .meta.json)
 *   3. ps_reproduce_report                           -> the tables and report.{md,tex,html}
 *   4. per model, nnU-Net v1's layout                 -> summary_<MODEL>.json
 * A case that fails (unreadable file, grid mismatch) is a status=error row of per_case.csv;
 * the run goes on and every table and report is still written (summary->failed counts them).
 */
#include "ps_reports.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "ps_eval.h"

static const char *manifest_path(void *ud, const char *case_id, const char *which)
{
    const ps_manifest *m = ud;
    int64_t i = ps_manifest_find_case(m, case_id);
    if (i < 0)
        return NULL;
    if (!strcmp(which, "image"))
        return m->cases[i].image;
    if (!strcmp(which, "ref"))
        return m->cases[i].ref;
    return ps_manifest_pred_path(m, i, which);
}

/* Evaluate `models` (NULL: every pred: column) of the manifest into <dir>/<name>. */
static int evaluate(const char *manifest, const char *const *models, int nmodels,
                    const ps_eval_settings *s, const ps_context *ctx, const char *dir,
                    const char *name, ps_eval_summary *sum)
{
    char *path = ps_asprintf("%s/%s", dir, name);
    ps_eval_plan *plan = NULL;
    ps_atomic_file *af = NULL;
    ps_eval_writer *w = NULL;
    int rc = path ? ps_eval_plan_from_manifest(manifest, models, nmodels, ctx, &plan) : PS_ERR_NOMEM;
    if (!rc)
        rc = ps_atomic_open(path, &af);
    if (!rc)
        rc = ps_eval_writer_create(ps_atomic_stream(af), PS_TABLE_CSV, plan, &w);
    if (!rc) {
        ps_eval_sink sink = ps_eval_writer_sink(w);
        rc = ps_eval_run(plan, s, ctx, NULL, &sink, sum);
        int rc2 = ps_eval_writer_finish(w);
        rc = rc ? rc : rc2;
    }
    if (af) {
        if (rc)
            ps_atomic_abort(af);
        else
            rc = ps_atomic_commit(af);
    }
    if (!rc)
        rc = ps_eval_sidecar_write(path, PS_TABLE_CSV, plan, s, sum);
    ps_eval_plan_free(plan);
    free(path);
    return rc ? ps_error_context(rc, "evaluating %s", name) : PS_OK;
}

/* ---- multi-rater agreement ------------------------------------------------------------------ */
/* The agreement tables of the manifest when it has two or more inter raters (ref and every
 * plain rater:NAME column), else *have = 0. ref is named after the rater whose sessions have
 * no rater:NAME column, when there is exactly one (the manifest convention: ref is then that
 * rater's first session, as the demo set's rater:A:2), so that its sessions are compared with
 * ref as intra-rater pairs; else "ref". The metric options are the evaluation's. */
static int agreement_tables(const ps_manifest *m, const ps_eval_settings *s, const ps_context *ctx,
                            ps_agree_tables *t, int *have)
{
    *have = 0;
    int plain = 0;
    const char *ref_name = NULL;
    int nref = 0;
    for (int i = 0; i < m->nraters; i++) {
        if (!m->raters[i].session) {
            plain++;
            continue;
        }
        int has_plain = 0;
        for (int j = 0; j < m->nraters; j++)
            has_plain |= !m->raters[j].session && !strcmp(m->raters[j].name, m->raters[i].name);
        if (!has_plain && (!ref_name || strcmp(ref_name, m->raters[i].name))) {
            ref_name = m->raters[i].name;
            nref++;
        }
    }
    if (plain < 1)
        return PS_OK;
    ps_agree_options ao;
    ps_agree_options_init(&ao);
    ao.metrics = s->metrics;
    ao.sessions = 1;
    ao.models = m->nmodels > 0;
    ao.labels = s->regions;
    ao.nlabels = s->nregions;
    if (nref == 1)
        ao.ref_name = ref_name;
    int rc = ps_agreement_run(m, &ao, ctx, NULL, t, NULL);
    if (!rc)
        *have = 1;
    return rc ? ps_error_context(rc, "the rater agreement") : PS_OK;
}
/* ---- end of the multi-rater agreement ------------------------------------------------------- */

static int make_dir(const char *dir)
{
    if (mkdir(dir, 0777) == 0 || errno == EEXIST) {
        struct stat st;
        if (!stat(dir, &st) && S_ISDIR(st.st_mode))
            return PS_OK;
        return ps_error(PS_ERR_IO, "%s: exists and is not a folder", dir);
    }
    return ps_error(PS_ERR_IO, "cannot create the report folder %s: %s", dir, strerror(errno));
}

int ps_reproduce_run(const char *manifest, const char *dir, const ps_eval_settings *s,
                     const ps_reproduce_options *o, const ps_context *ctx,
                     ps_reproduce_summary *sum)
{
    memset(sum, 0, sizeof *sum);
    ps_manifest *m = NULL;
    ps_table *pc = NULL, *raters = NULL;
    const char **rcols = NULL;
    int rc = make_dir(dir);
    if (!rc)
        rc = ps_manifest_read(manifest, NULL, &m);
    ps_eval_summary es;
    if (!rc && m->nmodels == 0)
        rc = ps_error(PS_ERR_ARG, "%s: no pred:MODEL column to evaluate", manifest);
    if (!rc)
        rc = evaluate(manifest, NULL, 0, s, ctx, dir, "per_case.csv", &es);
    if (!rc) {
        sum->evaluations = es.jobs;
        sum->failed = es.failed;
        sum->missing = es.missing;
    }
    if (!rc && m->nraters > 0) {
        rcols = ps_calloc((size_t)m->nraters, sizeof *rcols);
        if (!rcols)
            rc = PS_ERR_NOMEM;
        for (int i = 0; !rc && i < m->nraters; i++)
            rcols[i] = m->raters[i].column;
        if (!rc)
            rc = evaluate(manifest, rcols, m->nraters, s, ctx, dir, "per_case_raters.csv", &es);
        if (!rc) {
            sum->evaluations += es.jobs;
            sum->failed += es.failed;
            sum->missing += es.missing;
        }
    }
    char *p = NULL;
    if (!rc && (p = ps_asprintf("%s/per_case.csv", dir)))
        rc = ps_eval_table_read(p, &pc);
    else if (!rc)
        rc = PS_ERR_NOMEM;
    free(p);
    p = NULL;
    if (!rc && m->nraters > 0) {
        if ((p = ps_asprintf("%s/per_case_raters.csv", dir)))
            rc = ps_eval_table_read(p, &raters);
        else
            rc = PS_ERR_NOMEM;
        free(p);
    }
    /* ---- multi-rater agreement (docs/reproduce.md, "Rater agreement"): with two or more
     * inter raters (ref and the rater:NAME columns), one ps_agreement_run in memory, with
     * sessions and, with pred: columns, the models; its files and section are written by
     * ps_reproduce_report. */
    ps_agree_tables agree = {0};
    int have_agree = 0;
    if (!rc)
        rc = agreement_tables(m, s, ctx, &agree, &have_agree);
    /* ---- end of the multi-rater agreement block */
    if (!rc) {
        ps_reproduce_options ro = *o;
        ro.path = manifest_path;
        ro.path_ud = m;
        ro.agreement = have_agree ? &agree : NULL;
        rc = ps_reproduce_report(pc, raters, &ro, dir);
    }
    ps_agree_tables_free(&agree);
    /* nnU-Net v1 summary.json per model */
    for (int i = 0; !rc && i < m->nmodels; i++) {
        char *name = ps_asprintf("%s/summary_%s.json", dir, m->models[i]);
        ps_atomic_file *af = NULL;
        rc = name ? ps_atomic_open(name, &af) : PS_ERR_NOMEM;
        if (!rc) {
            ps_nnunet_options no = {PS_NNUNET_V1, m->models[i]};
            rc = ps_nnunet_write(pc, &no, ps_atomic_stream(af), NULL);
            if (rc)
                ps_atomic_abort(af);
            else
                rc = ps_atomic_commit(af);
        }
        if (rc)
            rc = ps_error_context(rc, "summary_%s.json", m->models[i]);
        free(name);
    }
    free(rcols);
    ps_table_free(pc);
    ps_table_free(raters);
    ps_manifest_free(m);
    return rc;
}

/* The per-modality table of by_modality.csv as a Markdown table (the command's summary). */
int ps_reproduce_print(const char *dir, FILE *f)
{
    static const ps_doc_column cols[] = {
        {"model", "{model}", 0},
        {"modality", "{modality}", 0},
        {"n", "{n_rows}", 1},
        {"ok", "{n_ok}", 1},
        {"empty", "{n_pred_empty}", 1},
        {"error", "{n_error}", 1},
        {"Dice (%)", "{dice_pct_mean:1} \xc2\xb1 {dice_pct_sd:1}", 1},
        {"HD95 (mm)", "{hd95_mean:2} \xc2\xb1 {hd95_sd:2}", 1},
        {"NSD", "{nsd_mean:3} \xc2\xb1 {nsd_sd:3}", 1},
    };
    char *path = ps_asprintf("%s/by_modality.csv", dir);
    ps_table *t = NULL;
    ps_doc *d = NULL;
    int rc = path ? ps_table_read(path, &t) : PS_ERR_NOMEM;
    if (!rc)
        rc = ps_doc_create("", &d);
    ps_doc_table spec = {.id = "by_modality", .ncols = (int)(sizeof cols / sizeof *cols),
                         .cols = cols};
    if (!rc)
        rc = ps_doc_add_table(d, &spec, t);
    if (!rc)
        rc = ps_doc_write(d, f, PS_DOC_MARKDOWN);
    ps_doc_free(d);
    ps_table_free(t);
    free(path);
    return rc;
}
