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
#include "ps_eval_dist.h"
#include "ps_infer.h"
#include "ps_manifest.h"

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

/* Evaluate `models` (NULL: every pred: column) of the manifest into <dir>/<name>, with the
 * journal <dir>/<name>.journal (resumed from when o->resume). An interrupted run (o->stop)
 * commits nothing, keeps the journal and sets *stopped. With MPI ranks (ro->dist) every rank
 * calls it: the evaluations are spread, rank 0 writes the table, the journal and the sidecar. */
static int evaluate(const char *manifest, const char *const *models, int nmodels,
                    const ps_eval_settings *s, const ps_reproduce_options *ro,
                    const ps_context *ctx, const char *dir, const char *name,
                    ps_eval_summary *sum, int64_t *resumed, int *stopped)
{
    int root = ps_dist_rank(ro->dist) == 0;
    char *path = ps_asprintf("%s/%s", dir, name);
    char *journal = path ? ps_asprintf("%s.journal", path) : NULL;
    ps_eval_plan *plan = NULL;
    ps_atomic_file *af = NULL;
    ps_eval_run_info info = {0};
    int rc = journal ? ps_eval_plan_from_manifest(manifest, models, nmodels, ctx, &plan)
                     : PS_ERR_NOMEM;
    if (!rc && root)
        rc = ps_atomic_open(path, &af);
    rc = ps_dist_sync(ro->dist, rc); /* every rank runs, or none */
    if (!rc) {
        ps_eval_run_opts o = {0};
        o.manifest = manifest;
        o.models = models;
        o.nmodels = nmodels;
        o.journal = journal;
        o.resume = ro->resume;
        o.stop = ro->stop;
        o.dist = ro->dist;
        ps_context c = *ctx;
        c.progress = root ? c.progress : 0;
        rc = ps_eval_run_dist(plan, s, &c, &o, af ? ps_atomic_stream(af) : NULL, PS_TABLE_CSV,
                              sum, &info);
        *resumed += info.resumed_jobs;
        *stopped = ro->stop && *ro->stop;
    }
    if (af) {
        if (rc || *stopped)
            ps_atomic_abort(af);
        else
            rc = ps_atomic_commit(af);
    }
    if (root && !rc && !*stopped && !info.journal_kept)
        rc = ps_eval_journal_discard(journal);
    if (root && !rc && !*stopped)
        rc = ps_eval_sidecar_write(path, PS_TABLE_CSV, plan, s, sum);
    ps_eval_plan_free(plan);
    free(journal);
    free(path);
    return rc ? ps_error_context(rc, "evaluating %s", name) : PS_OK;
}

/* ==== --model NAME=MODEL_DIR: inference before evaluation ================================
 * For each model, the cases that have an image and no file in a pred:NAME cell go through
 * the eval module's inference driver (ps_eval_infer_run: the journal
 * <dir>/preds/NAME.journal, --resume, MPI ranks) into <dir>/preds/NAME; a label map already
 * there is reused (the driver's skip rule; with --resume, only one the journal vouches for),
 * so a rerun predicts nothing again. Then <dir>/manifest_preds.tsv is written (the infer
 * module's ps_predict_manifest_write): the manifest with every path absolute and pred:NAME
 * added (or its empty cells filled) with <dir>/preds/NAME/CASE.nii.gz for every case with
 * an image. A case whose inference failed (logged by the driver, naming the case and the
 * problem) has no file there, which the evaluation reports as a status=error row. */

/* The file pred:NAME evaluates for case i: the manifest's own, or the predicted one. */
static char *infer_pred_path(const ps_manifest *m, int64_t i, const char *name,
                             const char *preds_abs)
{
    const char *own = ps_manifest_pred_path(m, i, name);
    if (own)
        return ps_strdup(own);
    if (!m->cases[i].image)
        return NULL;
    return ps_asprintf("%s/%s/%s.nii.gz", preds_abs, name, m->cases[i].id);
}

static int infer_write_manifest(const ps_manifest *m, const ps_reproduce_options *o,
                                const char *preds_abs, const char *path)
{
    char ***preds = ps_calloc((size_t)o->ninfer + 1, sizeof *preds);
    int rc = preds ? PS_OK : PS_ERR_NOMEM;
    for (int j = 0; !rc && j < o->ninfer; j++) {
        if (!(preds[j] = ps_calloc((size_t)m->ncases + 1, sizeof **preds)))
            rc = PS_ERR_NOMEM;
        for (int64_t i = 0; !rc && i < m->ncases; i++)
            if (!(preds[j][i] = infer_pred_path(m, i, o->infer_names[j], preds_abs)) &&
                m->cases[i].image)
                rc = PS_ERR_NOMEM;
    }
    if (!rc)
        rc = ps_predict_manifest_write(m, o->ninfer, o->infer_names,
                                       (char *const *const *)preds, path);
    for (int j = 0; preds && j < o->ninfer; j++) {
        for (int64_t i = 0; preds[j] && i < m->ncases; i++)
            free(preds[j][i]);
        free(preds[j]);
    }
    free(preds);
    return rc;
}

/* One model: the cases without a pred:NAME file, through the inference driver. */
static int infer_one(const ps_manifest *m, const char *manifest, const char *name,
                     const char *model_dir, const ps_reproduce_options *o,
                     const ps_context *ctx, const char *preds_abs, ps_reproduce_summary *sum)
{
    ps_manifest view = *m;   /* shallow: cases with a pred:NAME file lose their image */
    ps_manifest_case *cases = ps_calloc((size_t)m->ncases + 1, sizeof *cases);
    if (!cases)
        return ps_dist_sync(o->dist, PS_ERR_NOMEM);
    for (int64_t i = 0; i < m->ncases; i++) {
        cases[i] = m->cases[i];
        if (ps_manifest_pred_path(m, i, name))
            cases[i].image = NULL;
    }
    view.cases = cases;
    ps_predict_options popt;
    if (o->predict)
        popt = *o->predict;
    else
        ps_predict_options_init(&popt);
    ps_predictor *p = NULL;
    char *out_dir = ps_asprintf("%s/%s", preds_abs, name);
    char *journal = out_dir ? ps_asprintf("%s.journal", out_dir) : NULL;
    int rc = journal ? ps_predictor_create(model_dir, o->folds, o->nfolds, &popt, ctx, &p)
                     : PS_ERR_NOMEM;
    rc = ps_dist_sync(o->dist, rc); /* every rank has its predictor, or none runs */
    if (!rc) {
        ps_eval_infer_opts io = {0};
        io.manifest = manifest;
        io.name = name;
        io.out_dir = out_dir;
        io.journal = journal;
        io.resume = o->resume;
        io.dist = o->dist;
        io.stop = o->stop;
        ps_context c = *ctx;
        c.progress = ps_dist_rank(o->dist) == 0 ? c.progress : 0;
        ps_eval_infer_result res;
        rc = ps_eval_infer_run(p, &view, &io, &c, &res);
        if (!rc) {
            sum->predicted += res.done;
            sum->reused += res.skipped;
            sum->infer_failed += res.failed;
            sum->interrupted |= res.stopped;
        }
    }
    ps_predictor_free(p);
    free(journal);
    free(out_dir);
    free(cases);
    return rc ? ps_error_context(rc, "--model %s=%s", name, model_dir) : PS_OK;
}

/* Every --model, then <dir>/manifest_preds.tsv (rank 0); *out is its path (to free). */
static int infer_models(const char *manifest, const char *dir, const ps_reproduce_options *o,
                        const ps_context *ctx, ps_reproduce_summary *sum, char **out)
{
    *out = NULL;
    for (int j = 0; j < o->ninfer; j++) {
        const char *nm = o->infer_names[j];
        if (!nm || !*nm || strpbrk(nm, "\t/") || !strcmp(nm, ".") || !strcmp(nm, ".."))
            return ps_error(PS_ERR_ARG, "--model: '%s' cannot be a model name (non-empty, "
                            "without tabs or '/')", nm ? nm : "");
        for (int k = 0; k < j; k++)
            if (!strcmp(o->infer_names[k], nm))
                return ps_error(PS_ERR_ARG, "--model: the name '%s' is given twice", nm);
    }
    char *abs = realpath(dir, NULL);
    if (!abs)
        return ps_dist_sync(o->dist, ps_error(PS_ERR_IO, "%s: %s", dir, strerror(errno)));
    char *preds = ps_asprintf("%s/preds", abs);
    char *path = ps_asprintf("%s/manifest_preds.tsv", abs);
    ps_manifest *m = NULL;
    int rc = preds && path ? ps_manifest_read(manifest, NULL, &m) : PS_ERR_NOMEM;
    rc = ps_dist_sync(o->dist, rc);
    for (int j = 0; !rc && j < o->ninfer && !sum->interrupted; j++)
        rc = infer_one(m, manifest, o->infer_names[j], o->infer_dirs[j], o, ctx, preds, sum);
    if (!rc && !sum->interrupted && ps_dist_rank(o->dist) == 0)
        rc = infer_write_manifest(m, o, preds, path);
    if (!sum->interrupted)  /* the others read the file next */
        rc = ps_dist_sync(o->dist, rc);
    ps_manifest_free(m);
    free(abs);
    free(preds);
    if (rc)
        free(path);
    else
        *out = path;
    return rc;
}
/* ==== end of the --model block ========================================================== */

/* ---- multi-rater agreement ------------------------------------------------------------------ */
/* The agreement tables of the manifest when it has two or more inter raters (ref and every
 * plain rater:NAME column), else *have = 0. ref is named after the rater whose sessions have
 * no rater:NAME column, when there is exactly one (the manifest convention: ref is then that
 * rater's first session, as the demo set's rater:A:2), so that its sessions are compared with
 * ref as intra-rater pairs; else "ref". The metric options are the evaluation's. */
static int agreement_tables(const ps_manifest *m, const ps_eval_settings *s, const ps_context *ctx,
                            ps_dist *dist, ps_agree_tables *t, int *have)
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
    /* with MPI ranks every rank takes part (the cases over the ranks' queue), rank 0 gets the
     * tables */
    ps_eval_run_opts ro;
    memset(&ro, 0, sizeof ro);
    ro.dist = dist;
    ps_agree_summary asum;
    ps_eval_run_info info;
    int root = ps_dist_rank(dist) == 0;
    int rc = ps_agreement_run_dist(m, &ao, ctx, &ro, NULL, NULL, root ? t : NULL, &asum, &info);
    if (!rc)
        *have = root;
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
    char *with_preds = NULL;
    const char *user_manifest = manifest;   /* the raters' (--model adds only pred: columns) */
    int rc = make_dir(dir);
    if (!rc && o->ninfer > 0 && !(rc = infer_models(manifest, dir, o, ctx, sum, &with_preds)))
        manifest = with_preds;   /* --model: evaluate the manifest with the predictions */
    if (!rc && sum->interrupted)
        goto done; /* only the predictions' journals are kept: rerun with --resume */
    ps_manifest_options mo;
    ps_manifest_options_init(&mo);
    if (with_preds)   /* a failed inference's absent file is that case's error row */
        mo.check &= ~PS_MANIFEST_CHECK_PREDS;
    if (!rc)
        rc = ps_manifest_read(manifest, &mo, &m);
    ps_eval_summary es = {0}; /* ps_eval_run fills it; zero if it stops early */
    if (!rc && m->nmodels == 0)
        rc = ps_error(PS_ERR_ARG, "%s: no pred:MODEL column to evaluate", manifest);
    rc = ps_dist_sync(o->dist, rc);
    if (!rc)
        rc = evaluate(manifest, NULL, 0, s, o, ctx, dir, "per_case.csv", &es, &sum->resumed,
                      &sum->interrupted);
    if (!rc) {
        sum->evaluations = es.jobs;
        sum->failed = es.failed;
        sum->missing = es.missing;
    }
    if (!rc && m->nraters > 0 && !sum->interrupted) {
        rcols = ps_calloc((size_t)m->nraters, sizeof *rcols);
        if (!rcols)
            rc = PS_ERR_NOMEM;
        for (int i = 0; !rc && i < m->nraters; i++)
            rcols[i] = m->raters[i].column;
        if (!rc)
            rc = evaluate(user_manifest, rcols, m->nraters, s, o, ctx, dir,
                          "per_case_raters.csv", &es, &sum->resumed, &sum->interrupted);
        if (!rc) {
            sum->evaluations += es.jobs;
            sum->failed += es.failed;
            sum->missing += es.missing;
        }
    }
    if (!rc && sum->interrupted)
        goto done; /* only the journals are kept: rerun with --resume */
    int root = ps_dist_rank(o->dist) == 0;
    char *p = NULL;
    if (root && !rc && (p = ps_asprintf("%s/per_case.csv", dir)))
        rc = ps_eval_table_read(p, &pc);
    else if (root && !rc)
        rc = PS_ERR_NOMEM;
    free(p);
    p = NULL;
    if (root && !rc && m->nraters > 0) {
        if ((p = ps_asprintf("%s/per_case_raters.csv", dir)))
            rc = ps_eval_table_read(p, &raters);
        else
            rc = PS_ERR_NOMEM;
        free(p);
    }
    rc = ps_dist_sync(o->dist, rc); /* the ranks enter the agreement queue together, or none */
    /* ---- multi-rater agreement (docs/reproduce.md, "Rater agreement"): with two or more
     * inter raters (ref and the rater:NAME columns), one ps_agreement_run in memory, with
     * sessions and, with pred: columns, the models; its files and section are written by
     * ps_reproduce_report. */
    ps_agree_tables agree = {0};
    int have_agree = 0;
    if (!rc)
        rc = agreement_tables(m, s, ctx, o->dist, &agree, &have_agree);
    /* ---- end of the multi-rater agreement block */
    if (!root)
        goto done; /* rank 0 alone writes the reports and summaries */
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
done:
    free(rcols);
    free(with_preds);
    ps_table_free(pc);
    ps_table_free(raters);
    ps_manifest_free(m);
    return rc;
}

/* The files ps_reproduce_run writes, for the command's --help. */
static const char files_help[] =
    "  per_case.csv, per_case_raters.csv   the per-case tables (as `panseval metrics`),\n"
    "                                      each with its .meta.json provenance\n"
    "  by_modality.csv    per model x modality: n and the count per status; Dice (%),\n"
    "                     HD95, ASSD, NSD, precision, recall: mean, SD, median, quartiles\n"
    "  by_center.csv      the same per model x center x modality (Dice, HD95)\n"
    "  cross_center.csv   mean Dice (%): rows models, columns test centers\n"
    "  compare.csv        each model against --baseline per modality, Dice and HD95:\n"
    "                     paired t-test (CI of the difference) and Wilcoxon signed-rank\n"
    "                     test, Holm-corrected across every row of the table\n"
    "  volume.csv         per model x modality: OLS R^2 (the paper's), R^2 against the\n"
    "                     identity, Pearson r, Bland-Altman bias and limits, paired t-test\n"
    "                     of predicted against reference volume\n"
    "  raters.csv         per rater x modality: kind (inter/intra), voxel-wise kappa,\n"
    "                     Dice (%), HD95 (mean, SD, median, quartiles)\n"
    "  published.csv      published values beside the reproduced ones\n"
    "  agreement_*.csv    with ref and a rater:NAME column, the multi-rater agreement of\n"
    "                     `panseval agreement --sessions --models --by modality` (ref\n"
    "                     named after the rater whose sessions lack a rater:NAME column):\n"
    "                     agreement_pairs, _cases, _sessions, _model_cases, _summary,\n"
    "                     _matrix (rater x rater mean Dice), _models (docs/reproduce.md)\n"
    "  *.json             a JSON twin of each table above\n"
    "  report.md, report.tex (booktabs), report.html (one self-contained file: inline\n"
    "                     SVG plots, the 5 worst cases per model as PNG slices)\n"
    "  summary_MODEL.json per model, nnU-Net v1's summary.json layout\n";
const char *const ps_reproduce_files_help = files_help;

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
