/* fuse.c - `panseval fuse`: one consensus label map per case from k raters (docs/agreement.md).
 *
 * STAPLE (metrics/staple.c): per label the binary form on the 2^k rating-pattern counts of the
 * whole image (ITK STAPLEImageFilter semantics: every voxel of the image counts, prior = mean
 * fraction of raters), which gives each rater's sensitivity and specificity
 * (staple_raters.csv). The consensus is that binary result (posterior >= threshold, default
 * 0.5) when the raters use one label, and the multi-label form (ITK
 * MultiLabelSTAPLEImageFilter) on the label-tuple counts when they use several.
 * Majority vote (metrics/fuse.c): ties go to the lowest label, background included.
 * The consensus is written in the raters' geometry (uint8 when every label is < 256, else
 * int32), one file per case, atomically; one failing case is reported and the others go on.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "agree_internal.h"

int ps_fuse_method_parse(const char *s, ps_fuse_method *out)
{
    if (!strcmp(s, "staple"))
        *out = PS_FUSE_STAPLE;
    else if (!strcmp(s, "majority"))
        *out = PS_FUSE_MAJORITY;
    else
        return ps_error(PS_ERR_ARG, "method must be staple or majority, got '%s'", s);
    return 0;
}

void ps_fuse_options_init(ps_fuse_options *o)
{
    memset(o, 0, sizeof *o);
    o->method = PS_FUSE_STAPLE;
    ps_staple_options_init(&o->staple);
}

int ps_fuse_options_set(ps_fuse_options *o, const char *name, const char *value)
{
    double v;
    int rc = PS_OK;
    if (!strcmp(name, "method"))
        rc = ps_fuse_method_parse(value, &o->method);
    else if (!strcmp(name, "raters"))
        rc = agree_parse_raters(name, value, &o->own_raters_, &o->raters, &o->nraters);
    else if (!strcmp(name, "ref-name"))
        o->ref_name = value;
    else if (!strcmp(name, "threshold"))
        rc = agree_parse_double(name, value, 0, 1, &o->staple.threshold);
    else if (!strcmp(name, "max-iter")) {
        if (!(rc = agree_parse_double(name, value, 1, 1e9, &v)) && v != floor(v))
            rc = ps_error(PS_ERR_ARG, "--max-iter: '%s' is not a whole number", value);
        if (!rc)
            o->staple.max_iter = (int)v;
    } else
        rc = ps_error(PS_ERR_ARG, "fuse has no option --%s", name);
    return rc;
}

void ps_fuse_options_clear(ps_fuse_options *o)
{
    agree_free_list(o->own_raters_);
    ps_fuse_options_init(o);
}

static const char *const staple_cols[] = {"case", "label", "rater", "sensitivity",
                                          "specificity", "prior", "iterations"};

/* Write the int32 consensus, as uint8 when every label fits. */
static int write_consensus(const char *path, ps_volume *o)
{
    int64_t n = ps_volume_nvox(o);
    const int32_t *d = o->data;
    int small = 1;
    for (int64_t v = 0; v < n && small; v++)
        small = d[v] >= 0 && d[v] < 256;
    if (!small)
        return ps_volume_write(path, o);
    ps_volume *u = NULL;
    int rc = ps_volume_create(&o->geom, 1, PS_DT_UINT8, &u);
    if (rc)
        return rc;
    uint8_t *ud = u->data;
    for (int64_t v = 0; v < n; v++)
        ud[v] = (uint8_t)d[v];
    rc = ps_volume_write(path, u);
    ps_volume_free(u);
    return rc;
}

/* STAPLE of one case into o; rows of staple_raters.csv to w. */
static int staple_case(const ps_manifest *m, int64_t ci, const ps_volume *const *v, int k,
                       const int *slot, const agree_slot *slots, const ps_fuse_options *opt,
                       const ps_context *ctx, ps_table_writer *w, ps_volume *o)
{
    int32_t *lab = NULL, maxl = 0;
    int nl = 0, rc = 0;
    int32_t *all = NULL;
    int nall = 0;
    for (int r = 0; r < k && !rc; r++) {
        if ((rc = ps_labels_present(v[r], NULL, &lab, &nl)))
            break;
        int32_t *p = realloc(all, (size_t)(nall + nl + 1) * sizeof *p);
        if (!p) {
            free(lab);
            rc = PS_ERR_NOMEM;
            break;
        }
        all = p;
        for (int j = 0; j < nl; j++) {
            int dup = 0;
            for (int q = 0; q < nall; q++)
                dup |= all[q] == lab[j];
            if (!dup)
                all[nall++] = lab[j];
            if (lab[j] > maxl)
                maxl = lab[j];
        }
        free(lab);
    }
    for (int a = 1; a < nall; a++)
        for (int b = a; b > 0 && all[b - 1] > all[b]; b--) {
            int32_t t = all[b];
            all[b] = all[b - 1];
            all[b - 1] = t;
        }
    memset(o->data, 0, (size_t)ps_volume_nvox(o) * sizeof(int32_t));
    ps_metrics_options mo;
    ps_metrics_options_init(&mo);
    mo.distances = 0; /* only the crop masks are needed: no distance transforms */
    const size_t np = (size_t)1 << k;
    int64_t *counts = malloc(np * sizeof *counts);
    uint8_t *in = malloc(np);
    if (!counts || !in)
        rc = PS_ERR_NOMEM;
    for (int li = 0; li < nall && !rc; li++) {
        ps_region reg = {1, {all[li]}};
        ps_rater_set *set = NULL;
        ps_staple_result sr;
        if ((rc = ps_rater_set_create(v, k, &reg, &mo, ctx, &set)))
            break;
        if ((rc = ps_rater_set_patterns(set, NULL, 0, NULL, NULL, counts)) ||
            (rc = ps_staple_binary(counts, k, &opt->staple, &sr))) {
            ps_rater_set_free(set);
            break;
        }
        char label[16];
        snprintf(label, sizeof label, "%d", (int)all[li]);
        for (int r = 0; r < k && !rc; r++)
            if ((rc = ps_table_writer_str(w, m->cases[ci].id)) ||
                (rc = ps_table_writer_str(w, label)) ||
                (rc = ps_table_writer_str(w, slots[slot[r]].name)) ||
                (rc = ps_table_writer_num(w, sr.sens[r])) ||
                (rc = ps_table_writer_num(w, sr.spec[r])) ||
                (rc = ps_table_writer_num(w, sr.prior)) ||
                (rc = ps_table_writer_int(w, sr.iterations)) ||
                (rc = ps_table_writer_end_row(w)))
                break;
        if (!rc && nall == 1) {
            for (size_t t = 0; t < np; t++)
                in[t] = (uint8_t)(sr.w[t] >= opt->staple.threshold);
            rc = ps_rater_set_paint(set, in, all[li], o);
        }
        ps_staple_result_clear(&sr);
        ps_rater_set_free(set);
    }
    if (!rc && nall > 1) {
        int L = (int)maxl + 1;
        size_t nt = 1;
        for (int r = 0; r < k && !rc; r++) {
            if (nt > (size_t)PS_STAPLE_TUPLES_MAX / (size_t)L)
                rc = ps_error(PS_ERR_ARG, "multi-label STAPLE of %d raters with labels up to "
                              "%d needs more than %d label tuples", k, (int)maxl,
                              PS_STAPLE_TUPLES_MAX);
            nt *= (size_t)L;
        }
        int64_t *tc = rc ? NULL : malloc(nt * sizeof *tc);
        if (!rc && !tc)
            rc = PS_ERR_NOMEM;
        ps_staple_ml_result ml = {0};
        if (!rc && !(rc = ps_label_tuples(v, k, L, ctx, tc, nt)) &&
            !(rc = ps_staple_multilabel(tc, k, L, &opt->staple, &ml)))
            rc = ps_label_tuples_paint(v, k, L, ml.winner, ctx, o);
        ps_staple_ml_result_clear(&ml);
        free(tc);
    }
    free(counts);
    free(in);
    free(all);
    return rc;
}

/* The absolute path the manifest holds for 1-based column `col` of case i, or NULL when the
 * column is not a path column. */
static const char *abs_cell(const ps_manifest *m, int64_t i, int col)
{
    const ps_manifest_case *c = &m->cases[i];
    if (col == m->col_image)
        return c->image;
    if (col == m->col_ref)
        return c->ref;
    for (int r = 0; r < m->nraters; r++)
        if (col == m->raters[r].col)
            return c->rater[r];
    for (int k = 0; k < m->nmodels; k++)
        if (col == m->model_cols[k])
            return c->pred[k];
    return NULL;
}

/* The manifest again with a rater:consensus column (paths[i] NULL = empty cell). Path cells
 * become absolute, so the new manifest works from any folder; other cells are copied. */
static int write_manifest(const ps_manifest *m, char **paths, const char *out)
{
    FILE *f = fopen(m->path, "rb");
    if (!f)
        return ps_error(PS_ERR_IO, "%s: cannot reopen the manifest", m->path);
    ps_atomic_file *af = NULL;
    int rc = ps_atomic_open(out, &af);
    if (rc) {
        fclose(f);
        return ps_error_context(rc, "%s", out);
    }
    FILE *o = ps_atomic_stream(af);
    char *line = NULL;
    size_t cap = 0;
    ssize_t len;
    int64_t ln = 0, next = 0;
    int ncols = 1;
    while ((len = getline(&line, &cap, f)) >= 0) {
        ln++;
        while (len > 0 && (line[len - 1] == '\n' || line[len - 1] == '\r'))
            line[--len] = 0;
        if (ln == m->header_line) {
            for (const char *p = line; *p; p++)
                ncols += *p == '\t';
            fprintf(o, "%s\trater:consensus\n", line);
        } else if (next < m->ncases && ln == m->cases[next].line) {
            int col = 1;
            for (char *cell = line, *tab;; cell = tab + 1, col++) {
                tab = strchr(cell, '\t');
                if (tab)
                    *tab = 0;
                const char *a = abs_cell(m, next, col);
                fprintf(o, "%s%s", col > 1 ? "\t" : "", a && *cell ? a : cell);
                if (!tab)
                    break;
            }
            for (; col < ncols; col++) /* a short row: its missing cells are empty */
                fputc('\t', o);
            fprintf(o, "\t%s\n", paths[next] ? paths[next] : "");
            next++;
        } else {
            fprintf(o, "%s\n", line);
        }
    }
    free(line);
    fclose(f);
    return ps_atomic_commit(af);
}

int ps_fuse_run(const ps_manifest *m, const ps_fuse_options *opt, const ps_context *ctx,
                const char *out_dir, ps_fuse_summary *summary)
{
    if (!m || !opt || !out_dir)
        return ps_error(PS_ERR_ARG, "ps_fuse_run: NULL argument");
    ps_fuse_summary dummy;
    if (!summary)
        summary = &dummy;
    memset(summary, 0, sizeof *summary);
    if (m->col_ref == 0 && m->nraters == 0)
        return ps_error(PS_ERR_ARG, "%s: no label-map column to fuse", m->path);
    for (int64_t i = 0; i < m->ncases; i++)
        if (strchr(m->cases[i].id, '/'))
            return ps_error(PS_ERR_ARG, "%s line %lld: case id '%s' holds a '/', which cannot "
                            "name a file", m->path, (long long)m->cases[i].line,
                            m->cases[i].id);
    agree_slot *slots = NULL;
    int nslots = 0, *sel = NULL, nsel = 0;
    int rc = agree_slots(m, opt->ref_name, &slots, &nslots);
    if (!rc)
        rc = agree_select(slots, nslots, opt->raters, opt->nraters, &sel, &nsel);
    if (!rc && nsel < 2)
        rc = ps_error(PS_ERR_ARG, "%s: fusion needs at least two raters, %s %d", m->path,
                      opt->raters ? "--raters names" : "the manifest has", nsel);
    if (!rc && nsel > PS_RATERS_PATTERN_MAX)
        rc = ps_error(PS_ERR_ARG, "%d raters: STAPLE handles at most %d", nsel,
                      PS_RATERS_PATTERN_MAX);
    char **paths = rc ? NULL : calloc((size_t)m->ncases + 1, sizeof *paths);
    if (!rc && !paths)
        rc = PS_ERR_NOMEM;
    ps_atomic_file *af = NULL;
    ps_table_writer *w = NULL;
    if (!rc && opt->method == PS_FUSE_STAPLE) {
        char p[4096];
        agree_out_path(p, sizeof p, out_dir, "staple_raters", PS_TABLE_CSV);
        if (!(rc = ps_atomic_open(p, &af)))
            rc = ps_table_writer_create(ps_atomic_stream(af), PS_TABLE_CSV, 7, staple_cols, &w);
    }
    ps_progress *prog = ps_progress_start(ctx, "fuse", m->ncases, "cases");
    for (int64_t ci = 0; ci < m->ncases && !rc; ci++) {
        if (opt->stop && *opt->stop) { /* keep the finished cases; the manifest names them */
            summary->stopped = 1;
            break;
        }
        ps_progress_add(prog, 1);
        ps_volume **v = calloc((size_t)nsel, sizeof *v);
        int *slot = calloc((size_t)nsel, sizeof *slot);
        int k = 0, crc = 0;
        ps_volume *o = NULL;
        if (!v || !slot) {
            free(v);
            free(slot);
            rc = PS_ERR_NOMEM;
            break;
        }
        /* the available raters, read in parallel; the first failure in rater order wins */
        int *rcs = calloc((size_t)nsel, sizeof *rcs);
        char **msgs = calloc((size_t)nsel, sizeof *msgs);
        if (!rcs || !msgs) {
            free(rcs);
            free(msgs);
            free(v);
            free(slot);
            rc = PS_ERR_NOMEM;
            break;
        }
        for (int j = 0; j < nsel; j++)
            if (agree_slot_path(m, ci, &slots[sel[j]]))
                slot[k++] = sel[j];
#pragma omp parallel for schedule(dynamic, 1) num_threads(ps_context_threads(ctx))
        for (int j = 0; j < k; j++) {
            rcs[j] = ps_volume_read_labels(agree_slot_path(m, ci, &slots[slot[j]]), &v[j]);
            if (rcs[j])
                msgs[j] = strdup(ps_error_message());
        }
        for (int j = 0; j < k && !crc; j++)
            if ((crc = rcs[j]))
                ps_error(crc, "%s", msgs[j] ? msgs[j] : ps_status_name(crc));
        for (int j = 1; j < k && !crc; j++)
            crc = ps_geometry_check_same(&v[0]->geom, v[0]->path, &v[j]->geom, v[j]->path);
        for (int j = 0; j < nsel; j++)
            free(msgs[j]);
        free(msgs);
        free(rcs);
        if (!crc && k < 2)
            crc = ps_error(PS_ERR_ARG, "case %s: %d of the %d raters %s a label map; fusion "
                           "needs two", m->cases[ci].id, k, nsel, k == 1 ? "has" : "have");
        if (!crc)
            crc = ps_volume_create(&v[0]->geom, 1, PS_DT_INT32, &o);
        if (!crc)
            crc = opt->method == PS_FUSE_MAJORITY
                      ? ps_fuse_majority((const ps_volume *const *)v, k, ctx, o)
                      : staple_case(m, ci, (const ps_volume *const *)v, k, slot, slots, opt, ctx,
                                    w, o);
        char path[4096];
        snprintf(path, sizeof path, "%s/%s.nii.gz", out_dir, m->cases[ci].id);
        if (!crc)
            crc = write_consensus(path, o);
        if (crc == PS_ERR_NOMEM) {
            rc = crc;
        } else if (crc) {
            fprintf(stderr, "panseval fuse: case %s: %s\n", m->cases[ci].id, ps_error_message());
            summary->cases_failed++;
        } else {
            char *abs = realpath(path, NULL);
            paths[ci] = abs ? abs : strdup(path);
            summary->files++;
        }
        summary->cases++;
        ps_volume_free(o);
        for (int j = 0; j < k; j++)
            ps_volume_free(v[j]);
        free(v);
        free(slot);
    }
    ps_progress_finish(prog);
    if (w) {
        int r2 = ps_table_writer_finish(w);
        if (!rc)
            rc = r2;
    }
    if (af) {
        if (rc)
            ps_atomic_abort(af);
        else
            rc = ps_atomic_commit(af);
    }
    if (!rc && opt->manifest_out)
        rc = write_manifest(m, paths, opt->manifest_out);
    for (int64_t i = 0; paths && i < m->ncases; i++)
        free(paths[i]);
    free(paths);
    free(slots);
    free(sel);
    return rc;
}
