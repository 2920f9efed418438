/* cmd_metrics.c - `panseval metrics`: per-case segmentation metrics.
 *
 * Work is a list of jobs, one per (case, model): read the reference and the prediction once,
 * then evaluate every region. Jobs run in parallel across cases (-j); a lone job uses the
 * threads inside the case instead. Each thread holds one case's volumes at a time, so memory
 * does not grow with the number of cases; only the small result rows are kept, and they are
 * written in job order, so the output does not depend on the thread count.
 */
#include <math.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#ifdef _OPENMP
#include <omp.h>
#endif

#include "cli.h"
#include "ps_manifest.h"
#include "ps_metrics.h"

static const char *CMD = "metrics";

static void usage(FILE *f)
{
    fputs(
        "Usage: panseval metrics --ref REF.nii.gz --pred PRED.nii.gz [options]\n"
        "       panseval metrics --manifest M.tsv [--model NAME ...] [options]\n"
        "\n"
        "Segmentation metrics per case x model x label: overlap (Dice, Jaccard, ...), volumes,\n"
        "voxel-wise kappa, and boundary distances in mm (HD, HD95, ASSD, MASD, NSD) from an\n"
        "exact Euclidean distance transform with the header spacing. One output row per\n"
        "case x model x label; the row order is deterministic (manifest order, then model,\n"
        "then label).\n"
        "\n"
        "Input:\n"
        "  --ref FILE          reference label map (.nii or .nii.gz)\n"
        "  --pred FILE         predicted label map on the same voxel grid\n"
        "  --case ID           case id written for a --ref/--pred pair (default: the file name\n"
        "                      of --pred without extension)\n"
        "  --name NAME         model name written for a --ref/--pred pair (default: pred)\n"
        "  --manifest FILE     data manifest (TSV; see data-manifests/README.md): evaluates the\n"
        "                      pred:MODEL columns against ref\n"
        "  --model NAME        only this model (repeatable; default: every pred:MODEL column).\n"
        "                      A rater column, e.g. --model rater:B or rater:A:2, is evaluated\n"
        "                      against ref like a model: inter- and intra-rater agreement\n"
        "\n"
        "Metric options:\n"
        "  --labels LIST       labels or regions to evaluate, e.g. 1,2 or 1,2,1+2 (a region\n"
        "                      'a+b' is the union of labels a and b, like nnU-Net regions).\n"
        "                      Default: every non-zero label present in either volume of the\n"
        "                      case (label 1 when both are empty, reported as both_empty)\n"
        "  --hd95 NAME         HD95 convention (default medpy):\n"
        "                        medpy        95th percentile, linear interpolation, of the\n"
        "                                     pooled distances of both directions (MedPy hd95;\n"
        "                                     what nnU-Net v1 and PanSegNet report)\n"
        "                        monai        larger of the two directed 95th percentiles\n"
        "                        deepmind     area-weighted surfels, no interpolation, larger\n"
        "                                     of the two directions (surface-distance package)\n"
        "                        plastimatch  mean of the two directed values, each the sorted\n"
        "                                     distance at index floor(0.95 n - 1)\n"
        "  --percentile Q      use the Q-th percentile instead of the 95th, Q in [0,100]\n"
        "  --nsd-tol MM        tolerance of the normalised surface distance (default 2 mm)\n"
        "  --nsd-method M      voxel (boundary voxels, default) or surfel (area-weighted)\n"
        "  --empty POLICY      distance metrics when exactly one mask is empty: nan (default),\n"
        "                      inf, or worst (the image diagonal in mm); nsd is 0 for inf/worst\n"
        "  --empty-dice V      dice and jaccard when both masks are empty: one (default) or nan\n"
        "  --no-distances      overlap and volume metrics only (much faster)\n"
        "  --fail-fast         stop at the first case that fails (default: report it as a row\n"
        "                      with status=error and go on; the exit status is 1 at the end)\n"
        "\n"
        CLI_COMMON_HELP_OF(CLI_HELP_OUTPUT CLI_HELP_FORMAT CLI_HELP_THREADS CLI_HELP_PROGRESS)
        "\n"
        "Output columns: case, model, modality, center, label, status, then the metrics,\n"
        "then message. status is ok, pred_empty, ref_empty, both_empty or error. Distances are\n"
        "in mm, volumes in ml. Defaults: CSV on standard output.\n"
        "\n"
        "Examples:\n"
        "  panseval metrics --ref case01_gt.nii.gz --pred case01_pred.nii.gz\n"
        "  panseval metrics --manifest demo/manifest.tsv -j 2 -o metrics.csv\n"
        "  panseval metrics --manifest m.tsv --model nnunet --hd95 monai --format json\n",
        f);
}

/* One (case, model) pair to evaluate; the strings point into the manifest or argv. */
typedef struct job {
    const char *case_id, *model, *modality, *center;
    const char *ref_path, *pred_path; /* pred_path NULL: no prediction listed */
} job;

/* The rows of one job: one per region, or one error row. */
typedef struct job_result {
    int nrows;
    char (*labels)[16 * 12];
    ps_case_metrics *m;
    char *message; /* error text for a status=error row */
} job_result;

typedef struct metrics_args {
    ps_metrics_options opt;
    ps_region *regions; /* NULL: labels present in each case */
    int nregions;
    int fail_fast;
} metrics_args;

static void result_set_error(job_result *r, const char *msg)
{
    free(r->labels);
    free(r->m);
    r->labels = calloc(1, sizeof *r->labels);
    r->m = calloc(1, sizeof *r->m);
    r->message = strdup(msg);
    r->nrows = (r->labels && r->m && r->message) ? 1 : 0;
    if (r->m)
        r->m->status = PS_CASE_ERROR;
}

/* One side of a case: a label map, the labels present in it and the box of its non-zero
 * voxels (one pass, while the freshly inflated data are at hand). */
typedef struct side {
    const char *path;
    ps_volume *vol;
    ps_label_scan scan;
    int rc;
    char msg[1024];
} side;

static void read_side(side *s)
{
    s->rc = ps_volume_read_labels(s->path, &s->vol);
    if (!s->rc)
        s->rc = ps_label_scan_volume(s->vol, &s->scan);
    if (s->rc)
        snprintf(s->msg, sizeof s->msg, "%s", ps_error_message());
}

/* Evaluate one job into `r`. Returns 0, or an error code with the message recorded. */
static int run_job(const job *jb, const metrics_args *a, const ps_context *ctx, int inner_threads,
                   job_result *r)
{
    ps_volume *ref = NULL, *pred = NULL;
    ps_region *regions = a->regions, *own = NULL;
    int nregions = a->nregions, rc = PS_OK;

    if (!jb->pred_path)
        return ps_error(PS_ERR_ARG, "no file listed for '%s' in this case", jb->model);
    if (!jb->ref_path)
        return ps_error(PS_ERR_ARG, "no reference label listed");

    /* The two sides are independent: read them (and list their labels) side by side when
     * we have the threads. */
    double t0 = ps_now_seconds(), t_read = 0;
    side sd[2] = {{.path = jb->ref_path}, {.path = jb->pred_path}};
#pragma omp parallel for schedule(static, 1) num_threads(inner_threads > 1 ? 2 : 1)
    for (int k = 0; k < 2; k++)
        read_side(&sd[k]);
    ref = sd[0].vol;
    pred = sd[1].vol;
    if (sd[0].rc || sd[1].rc) {
        rc = sd[0].rc ? sd[0].rc : sd[1].rc;
        ps_error(rc, "%s", sd[0].rc ? sd[0].msg : sd[1].msg);
        goto done;
    }
    t_read = ps_now_seconds();
    if ((rc = ps_geometry_check_same(&ref->geom, jb->ref_path, &pred->geom, jb->pred_path)))
        goto done;

    if (!regions) {
        /* every label present in either volume: merge the two sorted lists */
        int na = sd[0].scan.nlabels, nb = sd[1].scan.nlabels, nl = 0;
        own = calloc((size_t)(na + nb + 1), sizeof *own);
        if (!own) {
            rc = ps_error(PS_ERR_NOMEM, "out of memory");
            goto done;
        }
        for (int ia = 0, ib = 0; ia < na || ib < nb;) {
            int32_t la = ia < na ? sd[0].scan.labels[ia] : INT32_MAX;
            int32_t lb = ib < nb ? sd[1].scan.labels[ib] : INT32_MAX;
            int32_t l = la < lb ? la : lb;
            ia += la == l;
            ib += lb == l;
            own[nl].n = 1;
            own[nl++].labels[0] = l;
        }
        if (nl == 0) { /* both empty: report label 1 as both_empty */
            own[0].n = 1;
            own[0].labels[0] = 1;
            nl = 1;
        }
        nregions = nl;
        regions = own;
    }

    r->labels = calloc((size_t)nregions, sizeof *r->labels);
    r->m = calloc((size_t)nregions, sizeof *r->m);
    if (!r->labels || !r->m) {
        rc = ps_error(PS_ERR_NOMEM, "out of memory");
        goto done;
    }
    /* every non-zero voxel of either side lies in the union of their boxes */
    int64_t box_lo[3], box_hi[3];
    for (int d = 0; d < 3; d++) {
        box_lo[d] = sd[0].scan.lo[d] < sd[1].scan.lo[d] ? sd[0].scan.lo[d] : sd[1].scan.lo[d];
        box_hi[d] = sd[0].scan.hi[d] > sd[1].scan.hi[d] ? sd[0].scan.hi[d] : sd[1].scan.hi[d];
    }
    ps_context inner = *ctx;
    inner.threads = inner_threads;
    for (int i = 0; i < nregions; i++) {
        ps_region_format(&regions[i], r->labels[i], sizeof r->labels[i]);
        if ((rc = ps_metrics_compute_box(ref, pred, &regions[i], &a->opt, &inner, box_lo, box_hi,
                                         &r->m[i]))) {
            ps_error_context(rc, "label %s", r->labels[i]);
            goto done;
        }
    }
    r->nrows = nregions;
    ps_log(ctx, PS_LOG_DEBUG, "case %s, model %s: read %.3f s, metrics %.3f s (%d label(s))",
           jb->case_id, jb->model, t_read - t0, ps_now_seconds() - t_read, nregions);
done:
    ps_label_scan_clear(&sd[0].scan);
    ps_label_scan_clear(&sd[1].scan);
    free(own);
    ps_volume_free(ref);
    ps_volume_free(pred);
    return rc;
}

/* Shared state of the case loop. */
typedef struct run_state {
    const job *jobs;
    job_result *res;
    const metrics_args *a;
    const ps_context *ctx;
    int inner;         /* threads inside one case */
    ps_progress *prog;
    atomic_int nfailed;
    atomic_int stop;   /* set by --fail-fast */
} run_state;

static void run_one(run_state *st, int j)
{
    if (atomic_load(&st->stop))
        return;
    ps_error_clear();
    int rc = run_job(&st->jobs[j], st->a, st->ctx, st->inner, &st->res[j]);
    if (rc) {
        char msg[4096];
        snprintf(msg, sizeof msg, "%s", ps_error_message());
        result_set_error(&st->res[j], msg);
        atomic_fetch_add(&st->nfailed, 1);
        /* an error: printed under -q as well */
        ps_log(st->ctx, PS_LOG_ERROR, "case %s, model %s: %s", st->jobs[j].case_id,
               st->jobs[j].model, msg);
        if (st->a->fail_fast)
            atomic_store(&st->stop, 1);
    }
    ps_progress_add(st->prog, 1);
}

static int write_results(FILE *f, ps_table_format fmt, const job *jobs, const job_result *res,
                         int njobs)
{
    const int nfixed = 6;
    int ncols = nfixed + ps_metric_ncolumns + 1;
    const char **names = calloc((size_t)ncols, sizeof *names);
    if (!names)
        return ps_error(PS_ERR_NOMEM, "out of memory");
    const char *fixed[] = {"case", "model", "modality", "center", "label", "status"};
    for (int c = 0; c < nfixed; c++)
        names[c] = fixed[c];
    for (int c = 0; c < ps_metric_ncolumns; c++)
        names[nfixed + c] = ps_metric_columns[c].name;
    names[ncols - 1] = "message";

    ps_table_writer *w;
    int rc = ps_table_writer_create(f, fmt, ncols, names, &w);
    free(names);
    if (rc)
        return rc;
    for (int j = 0; j < njobs && !rc; j++) {
        for (int i = 0; i < res[j].nrows && !rc; i++) {
            const ps_case_metrics *m = &res[j].m[i];
            int is_err = m->status == PS_CASE_ERROR;
            ps_table_writer_str(w, jobs[j].case_id);
            ps_table_writer_str(w, jobs[j].model);
            ps_table_writer_str(w, jobs[j].modality);
            ps_table_writer_str(w, jobs[j].center);
            ps_table_writer_str(w, res[j].labels[i]);
            ps_table_writer_str(w, ps_case_status_name(m->status));
            for (int c = 0; c < ps_metric_ncolumns; c++) {
                const ps_metric_column *col = &ps_metric_columns[c];
                const char *p = (const char *)m + col->offset;
                if (is_err)
                    ps_table_writer_null(w);
                else if (col->kind == PS_MK_INT64)
                    ps_table_writer_int(w, *(const int64_t *)p);
                else
                    ps_table_writer_num(w, *(const double *)p);
            }
            ps_table_writer_str(w, res[j].message ? res[j].message : "");
            rc = ps_table_writer_end_row(w);
        }
    }
    int rc2 = ps_table_writer_finish(w);
    return rc ? rc : rc2;
}

/* Strip the folder and a .nii / .nii.gz suffix. */
static char *case_name_from_path(const char *path)
{
    const char *b = strrchr(path, '/');
    b = b ? b + 1 : path;
    size_t n = strlen(b);
    if (n > 7 && !strcmp(b + n - 7, ".nii.gz"))
        n -= 7;
    else if (n > 4 && !strcmp(b + n - 4, ".nii"))
        n -= 4;
    return strndup(b, n);
}

enum {
    OPT_REF = CLI_OPT_FIRST_PRIVATE,
    OPT_PRED,
    OPT_CASE,
    OPT_NAME,
    OPT_MANIFEST,
    OPT_MODEL,
    OPT_LABELS,
    OPT_HD95,
    OPT_PERCENTILE,
    OPT_NSD_TOL,
    OPT_NSD_METHOD,
    OPT_EMPTY,
    OPT_EMPTY_DICE,
    OPT_NO_DISTANCES,
    OPT_FAIL_FAST,
};

int main_metrics(int argc, char **argv)
{
    static const struct option longopts[] = {
        CLI_COMMON_LONGOPTS,
        {"ref", required_argument, NULL, OPT_REF},
        {"pred", required_argument, NULL, OPT_PRED},
        {"case", required_argument, NULL, OPT_CASE},
        {"name", required_argument, NULL, OPT_NAME},
        {"manifest", required_argument, NULL, OPT_MANIFEST},
        {"model", required_argument, NULL, OPT_MODEL},
        {"labels", required_argument, NULL, OPT_LABELS},
        {"hd95", required_argument, NULL, OPT_HD95},
        {"percentile", required_argument, NULL, OPT_PERCENTILE},
        {"nsd-tol", required_argument, NULL, OPT_NSD_TOL},
        {"nsd-method", required_argument, NULL, OPT_NSD_METHOD},
        {"empty", required_argument, NULL, OPT_EMPTY},
        {"empty-dice", required_argument, NULL, OPT_EMPTY_DICE},
        {"no-distances", no_argument, NULL, OPT_NO_DISTANCES},
        {"fail-fast", no_argument, NULL, OPT_FAIL_FAST},
        {NULL, 0, NULL, 0},
    };
    cli_common common;
    cli_common_init(&common, PS_FMT_CSV);
    metrics_args a = {0};
    ps_metrics_options_init(&a.opt);
    const char *ref = NULL, *pred = NULL, *case_id = NULL, *name = "pred", *manifest_path = NULL;
    const char **models = calloc((size_t)argc, sizeof *models);
    int nmodels = 0, c, status = 0;
    if (!models)
        return cli_report_error(CMD, ps_error(PS_ERR_NOMEM, "out of memory"));

    common.uses = CLI_USE_OUTPUT | CLI_USE_FORMAT | CLI_USE_THREADS | CLI_USE_PROGRESS;
    while ((c = cli_getopt(&common, CMD, argc, argv, "", longopts)) != -1) {
        switch (c) {
        case CLI_GETOPT_ERROR:
            status = 2;
            goto out;
        case OPT_REF: ref = optarg; break;
        case OPT_PRED: pred = optarg; break;
        case OPT_CASE: case_id = optarg; break;
        case OPT_NAME: name = optarg; break;
        case OPT_MANIFEST: manifest_path = optarg; break;
        case OPT_MODEL: models[nmodels++] = optarg; break;
        case OPT_LABELS:
            free(a.regions);
            a.regions = NULL;
            if (ps_region_list_parse(optarg, &a.regions, &a.nregions)) {
                status = cli_usage_error(CMD, "--labels: %s", ps_error_message());
                goto out;
            }
            break;
        case OPT_HD95:
            if (ps_hd_method_parse(optarg, &a.opt.hd_method)) {
                status = cli_usage_error(CMD, "--hd95: %s", ps_error_message());
                goto out;
            }
            break;
        case OPT_PERCENTILE:
            if (cli_parse_double(CMD, "--percentile", optarg, 0, 100, &a.opt.percentile)) {
                status = 2;
                goto out;
            }
            break;
        case OPT_NSD_TOL:
            if (cli_parse_double(CMD, "--nsd-tol", optarg, 0, 1e9, &a.opt.nsd_tol_mm)) {
                status = 2;
                goto out;
            }
            break;
        case OPT_NSD_METHOD:
            if (ps_nsd_method_parse(optarg, &a.opt.nsd_method)) {
                status = cli_usage_error(CMD, "--nsd-method: %s", ps_error_message());
                goto out;
            }
            break;
        case OPT_EMPTY:
            if (ps_empty_policy_parse(optarg, &a.opt.empty)) {
                status = cli_usage_error(CMD, "--empty: %s", ps_error_message());
                goto out;
            }
            break;
        case OPT_EMPTY_DICE:
            if (ps_empty_dice_parse(optarg, &a.opt.empty_dice)) {
                status = cli_usage_error(CMD, "--empty-dice: %s", ps_error_message());
                goto out;
            }
            break;
        case OPT_NO_DISTANCES: a.opt.distances = 0; break;
        case OPT_FAIL_FAST: a.fail_fast = 1; break;
        default:
            status = cli_unknown_option(&common);
            goto out;
        }
    }
    if (common.help) {
        usage(stdout);
        goto out;
    }
    if (optind < argc) {
        status = cli_usage_error(CMD, "unexpected argument '%s'", argv[optind]);
        goto out;
    }
    if (!!manifest_path == !!(ref || pred)) {
        status = cli_usage_error(CMD, "give either --manifest, or --ref and --pred");
        goto out;
    }
    if (!manifest_path && (!ref || !pred)) {
        status = cli_usage_error(CMD, "--ref and --pred go together");
        goto out;
    }
    if (nmodels && !manifest_path) {
        status = cli_usage_error(CMD, "--model selects pred:MODEL columns of a --manifest");
        goto out;
    }
    const char *inputs[] = {manifest_path, ref, pred};
    if ((status = cli_output_check(&common, inputs, 3)))
        goto out;

    /* ---- the job list -------------------------------------------------------------------- */
    job *jobs = NULL;
    int njobs = 0;
    ps_manifest *man = NULL;
    char *auto_case = NULL;
    if (manifest_path) {
        /* --model names either pred:MODEL columns (by MODEL) or rater columns (by their full
         * header text, rater:NAME or rater:NAME:SESSION), for rater agreement. */
        const char **pred_models = calloc((size_t)nmodels + 1, sizeof *pred_models);
        int *rater_cols = calloc((size_t)nmodels + 1, sizeof *rater_cols);
        int npred = 0, nrater = 0;
        if (!pred_models || !rater_cols) {
            free(pred_models);
            free(rater_cols);
            status = cli_report_error(CMD, ps_error(PS_ERR_NOMEM, "out of memory"));
            goto out;
        }
        for (int k = 0; k < nmodels; k++)
            if (strncmp(models[k], "rater:", 6))
                pred_models[npred++] = models[k];
        /* The table itself must be right; missing files are listed all at once up front,
         * then those cases become status=error rows and the others still run. */
        ps_manifest_options mopt;
        ps_manifest_options_init(&mopt);
        mopt.check = PS_MANIFEST_CHECK_NONE;
        mopt.models = npred ? pred_models : NULL;
        mopt.nmodels = npred;
        int rc = ps_manifest_read(manifest_path, &mopt, &man);
        if (rc) {
            free(pred_models);
            free(rater_cols);
            status = cli_report_error(CMD, rc);
            goto out;
        }
        for (int k = 0; k < nmodels; k++) {
            if (strncmp(models[k], "rater:", 6))
                continue;
            int r = 0;
            while (r < man->nraters && strcmp(man->raters[r].column, models[k]))
                r++;
            if (r == man->nraters) {
                cli_usage_error(CMD, "%s has no column '%s' (%d rater column(s))", manifest_path,
                                models[k], man->nraters);
                status = 2;
                free(pred_models);
                free(rater_cols);
                goto free_jobs;
            }
            rater_cols[nrater++] = r;
        }
        mopt.check = PS_MANIFEST_CHECK_REFS | PS_MANIFEST_CHECK_PREDS |
                     (nrater ? PS_MANIFEST_CHECK_RATERS : 0);
        if (ps_manifest_check_files(man, &mopt))
            ps_log(&common.ctx, PS_LOG_ERROR, "%s\n(these cases are reported with status=error)",
                   ps_error_message());
        /* no --model at all: every pred: column */
        int all_models = nmodels == 0;
        int nm = all_models ? man->nmodels : npred;
        if (nm + nrater == 0) {
            cli_usage_error(CMD, "%s has no pred:MODEL column to evaluate", manifest_path);
            status = 2;
            free(pred_models);
            free(rater_cols);
            goto free_jobs;
        }
        jobs = calloc((size_t)man->ncases * (size_t)(nm + nrater), sizeof *jobs);
        if (!jobs) {
            free(pred_models);
            free(rater_cols);
            status = cli_report_error(CMD, ps_error(PS_ERR_NOMEM, "out of memory"));
            goto free_jobs;
        }
        for (int64_t ci = 0; ci < man->ncases; ci++) {
            const ps_manifest_case *mc = &man->cases[ci];
            for (int k = 0; k < nm + nrater; k++) {
                job *jb = &jobs[njobs++];
                jb->case_id = mc->id;
                jb->modality = mc->modality ? mc->modality : "";
                jb->center = mc->center ? mc->center : "";
                jb->ref_path = mc->ref;
                if (k < nm) {
                    int mi = all_models ? k : ps_manifest_model_index(man, pred_models[k]);
                    jb->model = man->models[mi];
                    jb->pred_path = mc->pred[mi];
                } else {
                    int ri = rater_cols[k - nm];
                    jb->model = man->raters[ri].column;
                    jb->pred_path = mc->rater[ri];
                }
            }
        }
        free(pred_models);
        free(rater_cols);
    } else {
        jobs = calloc(1, sizeof *jobs);
        auto_case = case_id ? NULL : case_name_from_path(pred);
        if (!jobs || (!case_id && !auto_case)) {
            status = cli_report_error(CMD, ps_error(PS_ERR_NOMEM, "out of memory"));
            free(jobs);
            goto out;
        }
        jobs[0] = (job){case_id ? case_id : auto_case, name, "", "", ref, pred};
        njobs = 1;
    }

    /* ---- run ----------------------------------------------------------------------------- */
    job_result *res = calloc((size_t)njobs, sizeof *res);
    if (!res) {
        status = cli_report_error(CMD, ps_error(PS_ERR_NOMEM, "out of memory"));
        goto free_jobs;
    }
    int threads = ps_context_threads(&common.ctx);
    /* Parallel across cases when there are enough of them, else inside the one case. */
    int outer = njobs >= threads ? threads : 1;
    int inner = outer > 1 ? 1 : threads;
    ps_progress *prog = ps_progress_start(&common.ctx, "metrics", njobs, "cases");
    run_state st = {jobs, res, &a, &common.ctx, inner, prog, 0, 0};
    if (outer > 1) {
#pragma omp parallel for schedule(dynamic, 1) num_threads(outer)
        for (int j = 0; j < njobs; j++)
            run_one(&st, j);
    } else {
        /* No outer team: the parallel regions inside the case are then top-level ones and
         * reuse OpenMP's thread pool (nested teams would start new threads each time). */
        for (int j = 0; j < njobs; j++)
            run_one(&st, j);
    }
    int nfailed = atomic_load(&st.nfailed), stopped = atomic_load(&st.stop);
    ps_progress_finish(prog);

    /* ---- write ----------------------------------------------------------------------------- */
    ps_atomic_file *af = NULL;
    FILE *f = NULL;
    int rc = cli_output_open(&common, &af, &f);
    if (!rc)
        rc = cli_output_close(af, write_results(f, common.format, jobs, res, njobs));
    if (rc)
        status = cli_report_error(CMD, rc);
    else if (nfailed)
        status = 1;
    if (nfailed) /* also under -q */
        fprintf(stderr, "panseval metrics: %d of %d case(s) failed (status=error rows)%s\n",
                (int)nfailed, njobs, stopped ? "; stopped early (--fail-fast)" : "");

    for (int j = 0; j < njobs; j++) {
        free(res[j].labels);
        free(res[j].m);
        free(res[j].message);
    }
    free(res);
free_jobs:
    free(jobs);
    free(auto_case);
    ps_manifest_free(man);
out:
    free(a.regions);
    free(models);
    return status;
}
