/* table.c - the per-case table: its columns, its writer (a sink of ps_eval_run), the
 * provenance sidecar FILE.meta.json, and its reader. The column list and the status names are
 * documented in ps_eval.h, docs/metrics.md and README.md in the same words. */
#include <stdlib.h>
#include <string.h>

#include "ps_config.h"
#include "ps_eval.h"

static const char *const fixed_cols[] = {"case",  "model",  "subject", "modality",
                                         "center", "label", "status",  "geometry"};
#define NFIXED ((int)(sizeof fixed_cols / sizeof fixed_cols[0]))

struct ps_eval_writer {
    ps_table_writer *tw;
    FILE *f;
    int nmeta;
};

int ps_eval_writer_create(FILE *f, ps_table_format fmt, const ps_eval_plan *plan,
                          ps_eval_writer **out)
{
    *out = NULL;
    int ncols = NFIXED + ps_metric_ncolumns + 1 + plan->nmeta;
    const char **names = ps_calloc((size_t)ncols, sizeof *names);
    ps_eval_writer *w = ps_calloc(1, sizeof *w);
    if (!names || !w) {
        free(names);
        free(w);
        return PS_ERR_NOMEM;
    }
    int k = 0;
    for (int c = 0; c < NFIXED; c++)
        names[k++] = fixed_cols[c];
    for (int c = 0; c < ps_metric_ncolumns; c++)
        names[k++] = ps_metric_columns[c].name;
    names[k++] = "message";
    for (int c = 0; c < plan->nmeta; c++)
        names[k++] = plan->meta_cols[c];
    int rc = ps_table_writer_create(f, fmt, ncols, names, &w->tw);
    free(names);
    if (rc) {
        free(w);
        return rc;
    }
    w->f = f;
    w->nmeta = plan->nmeta;
    *out = w;
    return PS_OK;
}

int ps_eval_writer_rows(ps_eval_writer *w, const ps_eval_row *rows, int nrows)
{
    int rc = PS_OK;
    for (int i = 0; i < nrows && !rc; i++) {
        const ps_eval_row *r = &rows[i];
        const ps_eval_job *j = r->job;
        ps_table_writer *tw = w->tw;
        ps_table_writer_str(tw, j->case_id);
        ps_table_writer_str(tw, j->model);
        ps_table_writer_str(tw, j->subject);
        ps_table_writer_str(tw, j->modality);
        ps_table_writer_str(tw, j->center);
        ps_table_writer_str(tw, r->label);
        ps_table_writer_str(tw, ps_eval_status_name(r->status));
        ps_table_writer_str(tw, r->geometry);
        for (int c = 0; c < ps_metric_ncolumns; c++) {
            const ps_metric_column *col = &ps_metric_columns[c];
            if (!r->m) {
                ps_table_writer_null(tw);
                continue;
            }
            /* the field at its offsetof() in ps_case_metrics, read without a type-punned
             * pointer (cppcheck invalidPointerCast) */
            const void *p = (const char *)r->m + col->offset;
            if (col->kind == PS_MK_INT64)
                ps_table_writer_int(tw, *(const int64_t *)p);
            else
                ps_table_writer_num(tw, *(const double *)p);
        }
        ps_table_writer_str(tw, r->message);
        for (int c = 0; c < w->nmeta; c++)
            ps_table_writer_str(tw, j->meta && j->meta[c] ? j->meta[c] : "");
        rc = ps_table_writer_end_row(tw);
    }
    /* the rows of a finished job reach the file now (a stream, or the temporary file of an
     * atomic output), so an interrupted run keeps them */
    return rc ? rc : ps_table_writer_flush(w->tw);
}

static int sink_rows(void *user, int64_t job, const ps_eval_row *rows, int nrows)
{
    (void)job;
    return ps_eval_writer_rows(user, rows, nrows);
}

ps_eval_sink ps_eval_writer_sink(ps_eval_writer *w)
{
    ps_eval_sink s = {sink_rows, NULL, w};
    return s;
}

int ps_eval_writer_finish(ps_eval_writer *w)
{
    if (!w)
        return PS_OK;
    int rc = ps_table_writer_finish(w->tw);
    free(w);
    return rc;
}

const char *const ps_eval_table_help =
    "Output columns: case, model, subject, modality, center, label, status, geometry,\n"
    "the metrics (tp ... nsd), message, then each meta:KEY column of the manifest.\n"
    "status: ok, pred_empty, ref_empty, both_empty, missing (not available: counted, not\n"
    "a failure) or error. geometry: ok, ref_grid or mismatch. Distances in mm, volumes in\n"
    "ml. With -o FILE, FILE.meta.json records the version, the settings and every ref\n"
    "and pred path (docs/metrics.md). On SIGINT/SIGTERM no new case starts, running ones\n"
    "finish, and the finished prefix is written as a complete table (exit 130/143).\n"
    "Exit status: 0, also with missing rows; 1 when a case failed; 2 usage error.\n";

/* ---- the sidecar ------------------------------------------------------------------------- */
static const char *nsd_name(ps_nsd_method m)
{
    return m == PS_NSD_SURFEL ? "surfel" : "voxel";
}

static const char *empty_name(ps_empty_policy e)
{
    return e == PS_EMPTY_INF ? "inf" : e == PS_EMPTY_WORST ? "worst" : "nan";
}

static void put_kv_str(FILE *f, const char *key, const char *v, int last)
{
    fputs("    ", f);
    ps_json_put_string(f, key);
    fputs(": ", f);
    if (v)
        ps_json_put_string(f, v);
    else
        fputs("null", f);
    fputs(last ? "\n" : ",\n", f);
}

static void put_kv_num(FILE *f, const char *key, double x, int last)
{
    char buf[40];
    ps_format_double(x, buf, sizeof buf);
    fputs("    ", f);
    ps_json_put_string(f, key);
    fprintf(f, ": %s%s", buf, last ? "\n" : ",\n");
}

int ps_eval_sidecar_write(const char *table_path, ps_table_format fmt, const ps_eval_plan *plan,
                          const ps_eval_settings *s, const ps_eval_summary *run)
{
    char *path = ps_asprintf("%s.meta.json", table_path);
    if (!path)
        return PS_ERR_NOMEM;
    ps_atomic_file *af;
    int rc = ps_atomic_open(path, &af);
    if (rc) {
        free(path);
        return rc;
    }
    FILE *f = ps_atomic_stream(af);
    const ps_metrics_options *m = &s->metrics;
    char labels[4096] = "";
    if (!s->regions) {
        snprintf(labels, sizeof labels, "present");
    } else {
        size_t used = 0;
        for (int i = 0; i < s->nregions && used + 200 < sizeof labels; i++) {
            char t[16 * 12];
            ps_region_format(&s->regions[i], t, sizeof t);
            used += (size_t)snprintf(labels + used, sizeof labels - used, "%s%s", i ? "," : "",
                                     t);
        }
    }
    fputs("{\n  \"panseval_version\": ", f);
    ps_json_put_string(f, PS_VERSION);
    fputs(",\n  \"table\": \"per-case\",\n  \"table_file\": ", f);
    const char *slash = strrchr(table_path, '/');
    ps_json_put_string(f, slash ? slash + 1 : table_path);
    fputs(",\n  \"format\": ", f);
    ps_json_put_string(f, ps_table_format_name(fmt));
    fputs(",\n  \"settings\": {\n", f);
    put_kv_str(f, "hd95", ps_hd_method_name(m->hd_method), 0);
    put_kv_num(f, "percentile", m->percentile, 0);
    put_kv_num(f, "nsd_tol_mm", m->nsd_tol_mm, 0);
    put_kv_str(f, "nsd_method", nsd_name(m->nsd_method), 0);
    put_kv_str(f, "empty", empty_name(m->empty), 0);
    put_kv_str(f, "empty_dice", m->empty_dice == PS_EMPTY_DICE_NAN ? "nan" : "one", 0);
    fprintf(f, "    \"distances\": %s,\n", m->distances ? "true" : "false");
    put_kv_str(f, "geometry", s->geometry == PS_GEOMETRY_REF_GRID ? "ref-grid" : "strict", 0);
    put_kv_num(f, "geometry_tol_mm", s->geometry_tol_mm, 0);
    put_kv_str(f, "labels", labels, 1);
    fputs("  },\n", f);
    if (run) {
        fprintf(f, "  \"evaluations\": %lld,\n  \"evaluations_written\": %lld,\n"
                   "  \"cases\": %lld,\n  \"cases_written\": %lld,\n  \"complete\": %s,\n",
                (long long)run->jobs, (long long)run->jobs_emitted, (long long)plan->ncases,
                (long long)run->cases_emitted, run->jobs_emitted == run->jobs ? "true" : "false");
    }
    fputs("  \"inputs\": [", f);
    for (int64_t j = 0; j < plan->njobs; j++) {
        const ps_eval_job *jb = &plan->jobs[j];
        fputs(j ? ",\n    {\"case\": " : "\n    {\"case\": ", f);
        ps_json_put_string(f, jb->case_id);
        fputs(", \"model\": ", f);
        ps_json_put_string(f, jb->model);
        fputs(", \"ref\": ", f);
        if (jb->ref_path)
            ps_json_put_string(f, jb->ref_path);
        else
            fputs("null", f);
        fputs(", \"pred\": ", f);
        if (jb->pred_path)
            ps_json_put_string(f, jb->pred_path);
        else
            fputs("null", f);
        fputc('}', f);
    }
    fputs(plan->njobs ? "\n  ]\n}\n" : "]\n}\n", f);
    rc = ps_atomic_commit(af);
    free(path);
    return rc;
}

/* ---- the reader --------------------------------------------------------------------------- */
int ps_eval_table_read(const char *path, ps_table **out)
{
    ps_table *t = NULL;
    int rc = ps_table_read(path, &t), c;
    if (rc)
        return rc;
    static const char *const required[] = {"case", "model", "label", "status"};
    for (int i = 0; i < 4 && !rc; i++)
        rc = ps_table_require_col(t, required[i], &c);
    if (!rc) {
        int sc = ps_table_col(t, "status");
        for (int64_t r = 0; r < t->nrows && !rc; r++) {
            ps_eval_status st;
            if (ps_eval_status_parse(t->cells[r][sc], &st))
                rc = ps_error(PS_ERR_FORMAT, "%s line %lld: unknown status '%s' (expected ok, "
                              "pred_empty, ref_empty, both_empty, missing or error)",
                              t->path ? t->path : path, (long long)t->line[r], t->cells[r][sc]);
        }
    }
    if (rc) {
        ps_table_free(t);
        return rc;
    }
    *out = t;
    return PS_OK;
}

ps_eval_status ps_eval_table_status(const ps_table *t, int64_t r)
{
    int sc = ps_table_col(t, "status");
    ps_eval_status st = PS_EVAL_ERROR;
    if (sc >= 0 && r >= 0 && r < t->nrows)
        ps_eval_status_parse(t->cells[r][sc], &st);
    return st;
}
