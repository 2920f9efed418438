/* nnunet_json.c - nnU-Net's summary.json, written from and read into a per-case table.
 *
 * Layouts (checked against the files nnU-Net's own evaluators write, run by
 * tests/reference/nnunet_summary_reference.py):
 *
 * v1 (nnunet/evaluation/evaluator.py, aggregate_scores as called by evaluate_folder):
 *   {"author", "description", "id", "name", "task", "timestamp",
 *    "results": {"all": [ {"<label>": {<metric>: value, ...}, ..., "reference": path,
 *                          "test": path}, ... ],
 *                "mean": {"<label>": {<metric>: nanmean over the cases}}}}
 *   with the 13 metrics of Evaluator.default_metrics, from the confusion matrix of each label
 *   (nnunet/evaluation/metrics.py, nan_for_nonexisting = True):
 *     Accuracy (TP+TN)/N; Dice 2TP/(2TP+FP+FN), NaN when both masks are empty; Jaccard
 *     TP/(TP+FP+FN), NaN when both are empty; Precision TP/(TP+FP), NaN when the prediction is
 *     empty; Recall TP/(TP+FN), NaN when the reference is empty; True Negative Rate
 *     TN/(TN+FP), NaN when the reference fills the image; False Positive Rate 1 - TNR;
 *     False Omission Rate FN/(FN+TN), NaN when the prediction fills the image; Negative
 *     Predictive Value 1 - FOR; False Negative Rate 1 - Recall; False Discovery Rate
 *     1 - Precision; Total Positives Test TP+FP and Total Positives Reference TP+FN (integers).
 *     (The "1 - x" forms are computed as nnU-Net does, not as FP/(FP+TN), so the bits agree.)
 * v2 (nnunetv2/evaluation/evaluate_predictions.py, compute_metrics_on_folder):
 *   {"foreground_mean": {<metric>: mean over the labels != 0 of "mean"},
 *    "mean": {"<label>": {<metric>: nanmean over the cases}},
 *    "metric_per_case": [ {"metrics": {"<label>": {Dice, FN, FP, IoU, TN, TP, n_pred, n_ref}},
 *                          "prediction_file": path, "reference_file": path}, ... ]}
 *   Dice and IoU are NaN when TP+FP+FN = 0 (both masks empty); counts are integers.
 * Both write keys sorted (json.dump sort_keys=True), an indent of 4, and NaN as the bare
 * token NaN (Python's json, which nnU-Net-based scripts read; it is not strict JSON).
 * nanmean: the mean of the non-NaN values, NaN when there is none (numpy.nanmean).
 *
 * Mapping from panseval's per-case table: the counts tp, fp, fn, tn of each (case, label) row;
 * panseval's own dice column is not used (its both-empty value follows --empty, nnU-Net's is
 * NaN). A region label "1+2" is written as nnU-Net names a region, "(1, 2)". The file paths
 * are the ref_path / pred_path (or ref / pred) columns when the table has them, else the case
 * id. Rows with status error or missing are left out (nnU-Net would have no file to
 * evaluate) and counted. A table with several models needs the model to write.
 *
 * Reading parses the file with src/io's JSON reader (ps_json_parse_flags, PS_JSON_NONFINITE
 * for the NaN / Infinity tokens) and maps back: case = the reference file name without its .nii/.nii.gz extension,
 * label, status from the counts (ok, pred_empty, ref_empty, both_empty), dice, jaccard,
 * precision, recall (v1; v2 has dice and jaccard = IoU), tp, fp, fn (v1: tp recovered from
 * Dice and the two totals, exact for integer counts; fp, fn from the totals), tn (v2 only),
 * n_pred, n_ref, hd95 and assd (the PaNSegNet fork's "Hausdorff Distance 95" and "Avg.
 * Symmetric Surface Distance"; NaN when the file has none), ref_path, pred_path.
 *
 * The PaNSegNet fork (github NUBagciLab/PaNSegNet, src/nnunet/evaluation) writes the v1 layout
 * with two more metrics, MedPy's hd95 and assd (connectivity 1, the image spacing), NaN when
 * either mask is empty or fills the image: layout PS_NNUNET_V1_PANSEGNET takes them from the
 * hd95 (--hd95 medpy, the default) and assd columns, equal to MedPy 0.5.2's (MedPy <= 0.4.0's
 * assd was the mean of the two directed means, panseval's masd).
 */
#include "ps_reports.h"

#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

/* ---- output helpers --------------------------------------------------------------------------- */
/* A number as Python's repr writes it: the shortest form that reads back the same double, with
 * ".0" on whole numbers; NaN and Infinity as Python's json writes them. */
static void py_float(char *buf, size_t len, double x)
{
    if (isnan(x)) {
        snprintf(buf, len, "NaN");
        return;
    }
    if (isinf(x)) {
        snprintf(buf, len, x > 0 ? "Infinity" : "-Infinity");
        return;
    }
    for (int prec = 1; prec <= 17; prec++) {
        snprintf(buf, len, "%.*g", prec, x);
        if (strtod(buf, NULL) == x)
            break;
    }
    if (!strpbrk(buf, ".eEn")) {
        size_t n = strlen(buf);
        if (n + 2 < len)
            memcpy(buf + n, ".0", 3);
    }
}

static void indent(FILE *f, int level)
{
    fputc('\n', f);
    for (int i = 0; i < level * 4; i++)
        fputc(' ', f);
}

/* ---- the per-case rows -------------------------------------------------------------------------- */
typedef struct {
    int64_t tp, fp, fn, tn;
    double hd95_mm, assd_mm; /* the PaNSegNet layout only */
} counts;

typedef struct {
    const char *id, *ref, *pred;
    int nlab;
    int *lab;         /* label index of each entry */
    counts *c;
} ncase;

typedef struct {
    int nlabels;
    char **label;     /* nnU-Net key of each label ("1", "(1, 2)") */
    int *order;       /* labels in key order                         */
    int ncases;
    ncase *cases;
} nsummary;

static void nsummary_free(nsummary *s)
{
    for (int i = 0; i < s->nlabels; i++)
        free(s->label[i]);
    free(s->label);
    free(s->order);
    for (int i = 0; i < s->ncases; i++) {
        free(s->cases[i].lab);
        free(s->cases[i].c);
    }
    free(s->cases);
}

/* "1+2" -> "(1, 2)"; "1" -> "1". */
static char *nnunet_label_key(const char *lab)
{
    if (!strchr(lab, '+'))
        return ps_strdup(lab);
    size_t n = strlen(lab);
    char *k = ps_malloc(2 * n + 4);
    if (!k)
        return NULL;
    size_t j = 0;
    k[j++] = '(';
    for (const char *c = lab; *c; c++) {
        if (*c == '+') {
            k[j++] = ',';
            k[j++] = ' ';
        } else {
            k[j++] = *c;
        }
    }
    k[j++] = ')';
    k[j] = 0;
    return k;
}

static int get_count(const ps_table *t, int64_t r, int c, int64_t *out)
{
    double v;
    int rc = ps_table_get_double(t, r, c, &v);
    if (rc)
        return rc;
    if (!(v >= 0 && v == floor(v) && v < 9.0e15))
        return ps_error(PS_ERR_FORMAT, "%s line %lld column '%s': '%s' is not a voxel count",
                        t->path ? t->path : "(table)", (long long)t->line[r], t->colnames[c],
                        t->cells[r][c]);
    *out = (int64_t)v;
    return PS_OK;
}

static int collect_cases(const ps_table *t, const ps_nnunet_options *o, nsummary *s,
                         int64_t *nskipped)
{
    int rc, ccase, clabel, ctp, cfp, cfn, ctn, cmodel = ps_table_col(t, "model");
    const char *name = t->path ? t->path : "(table)";
    *nskipped = 0;
    memset(s, 0, sizeof *s);
    if ((rc = ps_report_require_rows(t)) || (rc = ps_table_require_col(t, "case", &ccase)) ||
        (rc = ps_table_require_col(t, "label", &clabel)) ||
        (rc = ps_table_require_col(t, "tp", &ctp)) || (rc = ps_table_require_col(t, "fp", &cfp)) ||
        (rc = ps_table_require_col(t, "fn", &cfn)) || (rc = ps_table_require_col(t, "tn", &ctn)))
        return rc;
    int chd = -1, cassd = -1;
    if (o->layout == PS_NNUNET_V1_PANSEGNET &&
        ((rc = ps_table_require_col(t, "hd95", &chd)) ||
         (rc = ps_table_require_col(t, "assd", &cassd))))
        return rc;
    int cref = ps_table_col(t, "ref_path"), cpred = ps_table_col(t, "pred_path");
    if (cref < 0)
        cref = ps_table_col(t, "ref");
    if (cpred < 0)
        cpred = ps_table_col(t, "pred");
    const char *model = o->model;
    if (!model && cmodel >= 0) {
        model = t->cells[0][cmodel];
        for (int64_t r = 1; r < t->nrows; r++)
            if (strcmp(t->cells[r][cmodel], model))
                return ps_error(PS_ERR_ARG, "%s has several models ('%s', '%s', ...): choose the "
                                "one to write (--model)", name, model, t->cells[r][cmodel]);
    }
    if (model && cmodel < 0)
        return ps_error(PS_ERR_ARG, "%s: no column 'model' to select model '%s'", name, model);
    ps_rowfilter f;
    if ((rc = ps_rowfilter_init(&f, t, model, 0)))
        return rc;
    size_t nr = (size_t)t->nrows;
    s->label = ps_calloc(nr, sizeof *s->label);
    s->cases = ps_calloc(nr, sizeof *s->cases);
    char **raw = ps_calloc(nr, sizeof *raw); /* the table's label of each label index */
    if (!s->label || !s->cases || !raw) {
        rc = PS_ERR_NOMEM;
        goto done;
    }
    for (int64_t r = 0; r < t->nrows; r++) {
        if (!f.use[r])
            continue;
        if (ps_report_status_excl(&f, r) != PS_EXCL_NONE) {
            (*nskipped)++;
            continue;
        }
        const char *lab = t->cells[r][clabel];
        int li = 0;
        while (li < s->nlabels && strcmp(raw[li], lab))
            li++;
        if (li == s->nlabels) {
            raw[li] = (char *)lab;
            if (!(s->label[li] = nnunet_label_key(lab))) {
                rc = PS_ERR_NOMEM;
                goto done;
            }
            s->nlabels++;
        }
        const char *id = t->cells[r][ccase];
        int ci = s->ncases - 1;
        while (ci >= 0 && strcmp(s->cases[ci].id, id))
            ci--;
        if (ci < 0) {
            ci = s->ncases++;
            ncase *nc = &s->cases[ci];
            nc->id = id;
            nc->ref = cref >= 0 && *t->cells[r][cref] ? t->cells[r][cref] : id;
            nc->pred = cpred >= 0 && *t->cells[r][cpred] ? t->cells[r][cpred] : id;
            if (!(nc->lab = ps_calloc(nr, sizeof *nc->lab)) ||
                !(nc->c = ps_calloc(nr, sizeof *nc->c))) {
                rc = PS_ERR_NOMEM;
                goto done;
            }
        }
        ncase *nc = &s->cases[ci];
        for (int k = 0; k < nc->nlab; k++)
            if (nc->lab[k] == li) {
                rc = ps_error(PS_ERR_FORMAT, "%s line %lld: case '%s' label '%s' appears twice",
                              name, (long long)t->line[r], id, lab);
                goto done;
            }
        counts *cc = &nc->c[nc->nlab];
        if ((rc = get_count(t, r, ctp, &cc->tp)) || (rc = get_count(t, r, cfp, &cc->fp)) ||
            (rc = get_count(t, r, cfn, &cc->fn)) || (rc = get_count(t, r, ctn, &cc->tn)))
            goto done;
        cc->hd95_mm = cc->assd_mm = NAN;
        if (chd >= 0 && ((*t->cells[r][chd] && (rc = ps_table_get_double(t, r, chd, &cc->hd95_mm))) ||
                         (*t->cells[r][cassd] &&
                          (rc = ps_table_get_double(t, r, cassd, &cc->assd_mm)))))
            goto done;
        nc->lab[nc->nlab++] = li;
    }
    if (s->ncases == 0) {
        rc = ps_error(PS_ERR_FORMAT, "%s: no row to write (every row has status error or "
                      "missing)", name);
        goto done;
    }
    if (!(s->order = ps_malloc_array((size_t)s->nlabels, sizeof *s->order))) {
        rc = PS_ERR_NOMEM;
        goto done;
    }
    /* labels in key order (json.dump sort_keys): an insertion sort, there are a few */
    for (int i = 0; i < s->nlabels; i++) {
        int j = i;
        while (j > 0 && strcmp(s->label[s->order[j - 1]], s->label[i]) > 0) {
            s->order[j] = s->order[j - 1];
            j--;
        }
        s->order[j] = i;
    }
done:
    free(raw);
    ps_rowfilter_free(&f);
    if (rc)
        nsummary_free(s);
    return rc;
}

/* ---- the metrics, as nnU-Net computes them ------------------------------------------------------ */
enum { V1_NMETRICS = 13, V2_NMETRICS = 8 };
/* in key order (sort_keys) */
static const char *const v1_names[V1_NMETRICS] = {
    "Accuracy", "Dice", "False Discovery Rate", "False Negative Rate", "False Omission Rate",
    "False Positive Rate", "Jaccard", "Negative Predictive Value", "Precision", "Recall",
    "Total Positives Reference", "Total Positives Test", "True Negative Rate"};
static const int v1_is_int[V1_NMETRICS] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 0};
/* the PaNSegNet fork's Evaluator.default_metrics: v1's and two MedPy distances */
enum { PSN_NMETRICS = 15 };
static const char *const psn_names[PSN_NMETRICS] = {
    "Accuracy", "Avg. Symmetric Surface Distance", "Dice", "False Discovery Rate",
    "False Negative Rate", "False Omission Rate", "False Positive Rate", "Hausdorff Distance 95",
    "Jaccard", "Negative Predictive Value", "Precision", "Recall", "Total Positives Reference",
    "Total Positives Test", "True Negative Rate"};
static const int psn_is_int[PSN_NMETRICS] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 0};
static const char *const v2_names[V2_NMETRICS] = {"Dice", "FN", "FP", "IoU",
                                                  "TN", "TP", "n_pred", "n_ref"};
static const int v2_is_int[V2_NMETRICS] = {0, 1, 1, 0, 1, 1, 1, 1};

static void v1_metrics(const counts *c, double *v)
{
    double tp = (double)c->tp, fp = (double)c->fp, fn = (double)c->fn, tn = (double)c->tn;
    int test_empty = c->tp + c->fp == 0, ref_empty = c->tp + c->fn == 0;
    int test_full = c->tn + c->fn == 0, ref_full = c->tn + c->fp == 0;
    double precision = test_empty ? NAN : tp / (tp + fp);
    double recall = ref_empty ? NAN : tp / (tp + fn);
    double specificity = ref_full ? NAN : tn / (tn + fp);
    double fomr = test_full ? NAN : fn / (fn + tn);
    v[0] = (tp + tn) / (tp + fp + tn + fn);
    v[1] = test_empty && ref_empty ? NAN : 2.0 * tp / (2 * tp + fp + fn);
    v[2] = 1 - precision;
    v[3] = 1 - recall;
    v[4] = fomr;
    v[5] = 1 - specificity;
    v[6] = test_empty && ref_empty ? NAN : tp / (tp + fp + fn);
    v[7] = 1 - fomr;
    v[8] = precision;
    v[9] = recall;
    v[10] = tp + fn;
    v[11] = tp + fp;
    v[12] = specificity;
}

static void v2_metrics(const counts *c, double *v);

/* The PaNSegNet fork (its metrics.py): HD95 and ASSD are MedPy's hd95 and assd with the
 * image spacing and connectivity 1, NaN when either mask is empty or fills the image;
 * otherwise panseval's hd95 (--hd95 medpy, the default) and assd, which equal them. */
static void psn_metrics(const counts *c, double *v)
{
    double v1[V1_NMETRICS];
    v1_metrics(c, v1);
    int degenerate = c->tp + c->fp == 0 || c->tp + c->fn == 0 || c->tn + c->fn == 0 ||
                     c->tn + c->fp == 0;
    v[0] = v1[0];
    v[1] = degenerate ? NAN : c->assd_mm;
    memcpy(v + 2, v1 + 1, 5 * sizeof *v); /* Dice .. False Positive Rate */
    v[7] = degenerate ? NAN : c->hd95_mm;
    memcpy(v + 8, v1 + 6, 7 * sizeof *v); /* Jaccard .. True Negative Rate */
}

/* The metrics of one (case, label) in the layout's key order; returns how many. */
static int layout_metrics(ps_nnunet_layout layout, const counts *c, double *v)
{
    switch (layout) {
    case PS_NNUNET_V2: v2_metrics(c, v); return V2_NMETRICS;
    case PS_NNUNET_V1_PANSEGNET: psn_metrics(c, v); return PSN_NMETRICS;
    default: v1_metrics(c, v); return V1_NMETRICS;
    }
}

static void v2_metrics(const counts *c, double *v)
{
    double tp = (double)c->tp, fp = (double)c->fp, fn = (double)c->fn, tn = (double)c->tn;
    int none = c->tp + c->fp + c->fn == 0;
    v[0] = none ? NAN : 2 * tp / (2 * tp + fp + fn);
    v[1] = fn;
    v[2] = fp;
    v[3] = none ? NAN : tp / (tp + fp + fn);
    v[4] = tn;
    v[5] = tp;
    v[6] = fp + tp;
    v[7] = fn + tp;
}

static void put_num(FILE *f, double x, int as_int)
{
    char buf[64];
    if (as_int && isfinite(x))
        snprintf(buf, sizeof buf, "%.0f", x);
    else
        py_float(buf, sizeof buf, x);
    fputs(buf, f);
}

/* {"Accuracy": ..., ...} at indent `level` (the opening brace is already placed). */
static void put_metrics(FILE *f, const char *const *names, const int *is_int, int nm,
                        const double *v, int ints, int level)
{
    fputc('{', f);
    for (int m = 0; m < nm; m++) {
        indent(f, level + 1);
        ps_json_put_string(f, names[m]);
        fputs(": ", f);
        put_num(f, v[m], ints && is_int[m]);
        if (m + 1 < nm)
            fputc(',', f);
    }
    indent(f, level);
    fputc('}', f);
}

/* means[label][metric] = nanmean over the cases that have the label */
static int nan_means(const nsummary *s, ps_nnunet_layout layout, int nm, double *means)
{
    int64_t *cnt = ps_calloc((size_t)s->nlabels * (size_t)nm, sizeof *cnt);
    if (!cnt)
        return PS_ERR_NOMEM;
    for (size_t i = 0; i < (size_t)s->nlabels * (size_t)nm; i++)
        means[i] = 0;
    double v[PSN_NMETRICS];
    for (int ci = 0; ci < s->ncases; ci++)
        for (int k = 0; k < s->cases[ci].nlab; k++) {
            int li = s->cases[ci].lab[k];
            layout_metrics(layout, &s->cases[ci].c[k], v);
            for (int m = 0; m < nm; m++)
                if (!isnan(v[m])) {
                    means[li * nm + m] += v[m];
                    cnt[li * nm + m]++;
                }
        }
    for (size_t i = 0; i < (size_t)s->nlabels * (size_t)nm; i++)
        means[i] = cnt[i] ? means[i] / (double)cnt[i] : NAN;
    free(cnt);
    return PS_OK;
}

/* The members of "mean": "<label>": {<metric>: nanmean, ...} per label, in label order. */
static void put_label_means(FILE *f, const nsummary *s, const char *const *names,
                            const int *is_int, int nm, const double *means, int level)
{
    for (int oi = 0; oi < s->nlabels; oi++) {
        int li = s->order[oi];
        indent(f, level);
        ps_json_put_string(f, s->label[li]);
        fputs(": ", f);
        put_metrics(f, names, is_int, nm, means + li * nm, 0, level);
        if (oi + 1 < s->nlabels)
            fputc(',', f);
    }
}

static void write_v1(const nsummary *s, ps_nnunet_layout layout, const double *means, FILE *f)
{
    double v[PSN_NMETRICS];
    int psn = layout == PS_NNUNET_V1_PANSEGNET, nm = psn ? PSN_NMETRICS : V1_NMETRICS;
    const char *const *names = psn ? psn_names : v1_names;
    const int *is_int = psn ? psn_is_int : v1_is_int;
    fputs("{", f);
    static const char *const head[][2] = {{"author", "panseval"},
                                          {"description", ""}, {"id", ""}, {"name", ""}};
    for (size_t i = 0; i < sizeof head / sizeof *head; i++) {
        indent(f, 1);
        ps_json_put_string(f, head[i][0]);
        fputs(": ", f);
        ps_json_put_string(f, head[i][1]);
        fputc(',', f);
    }
    indent(f, 1);
    fputs("\"results\": {", f);
    indent(f, 2);
    fputs("\"all\": [", f);
    for (int ci = 0; ci < s->ncases; ci++) {
        const ncase *c = &s->cases[ci];
        indent(f, 3);
        fputc('{', f);
        for (int oi = 0; oi < s->nlabels; oi++) {
            int li = s->order[oi], k = 0;
            while (k < c->nlab && c->lab[k] != li)
                k++;
            if (k == c->nlab)
                continue;
            layout_metrics(layout, &c->c[k], v);
            indent(f, 4);
            ps_json_put_string(f, s->label[li]);
            fputs(": ", f);
            put_metrics(f, names, is_int, nm, v, 1, 4);
            fputc(',', f);
        }
        indent(f, 4);
        fputs("\"reference\": ", f);
        ps_json_put_string(f, c->ref);
        fputc(',', f);
        indent(f, 4);
        fputs("\"test\": ", f);
        ps_json_put_string(f, c->pred);
        indent(f, 3);
        fputc('}', f);
        if (ci + 1 < s->ncases)
            fputc(',', f);
    }
    indent(f, 2);
    fputs("],", f);
    indent(f, 2);
    fputs("\"mean\": {", f);
    put_label_means(f, s, names, is_int, nm, means, 3);
    indent(f, 2);
    fputs("}", f);
    indent(f, 1);
    fputs("},", f);
    indent(f, 1);
    fputs("\"task\": \"\",", f);
    indent(f, 1);
    fputs("\"timestamp\": \"\"\n}\n", f);
}

static void write_v2(const nsummary *s, const double *means, FILE *f)
{
    double v[V2_NMETRICS], fg[V2_NMETRICS] = {0};
    int nfg = 0;
    for (int li = 0; li < s->nlabels; li++) {
        if (!strcmp(s->label[li], "0"))
            continue;
        for (int m = 0; m < V2_NMETRICS; m++)
            fg[m] += means[li * V2_NMETRICS + m]; /* np.mean: NaN propagates */
        nfg++;
    }
    for (int m = 0; m < V2_NMETRICS; m++)
        fg[m] = nfg ? fg[m] / nfg : NAN;
    fputs("{", f);
    indent(f, 1);
    fputs("\"foreground_mean\": ", f);
    put_metrics(f, v2_names, v2_is_int, V2_NMETRICS, fg, 0, 1);
    fputc(',', f);
    indent(f, 1);
    fputs("\"mean\": {", f);
    put_label_means(f, s, v2_names, v2_is_int, V2_NMETRICS, means, 2);
    indent(f, 1);
    fputs("},", f);
    indent(f, 1);
    fputs("\"metric_per_case\": [", f);
    for (int ci = 0; ci < s->ncases; ci++) {
        const ncase *c = &s->cases[ci];
        indent(f, 2);
        fputc('{', f);
        indent(f, 3);
        fputs("\"metrics\": {", f);
        int first = 1;
        for (int oi = 0; oi < s->nlabels; oi++) {
            int li = s->order[oi], k = 0;
            while (k < c->nlab && c->lab[k] != li)
                k++;
            if (k == c->nlab)
                continue;
            v2_metrics(&c->c[k], v);
            if (!first)
                fputc(',', f);
            first = 0;
            indent(f, 4);
            ps_json_put_string(f, s->label[li]);
            fputs(": ", f);
            put_metrics(f, v2_names, v2_is_int, V2_NMETRICS, v, 1, 4);
        }
        indent(f, 3);
        fputs("},", f);
        indent(f, 3);
        fputs("\"prediction_file\": ", f);
        ps_json_put_string(f, c->pred);
        fputc(',', f);
        indent(f, 3);
        fputs("\"reference_file\": ", f);
        ps_json_put_string(f, c->ref);
        indent(f, 2);
        fputc('}', f);
        if (ci + 1 < s->ncases)
            fputc(',', f);
    }
    indent(f, 1);
    fputs("]\n}\n", f);
}

int ps_nnunet_layout_parse(const char *s, ps_nnunet_layout *out)
{
    if (!strcmp(s, "v1") || !strcmp(s, "nnunet-v1"))
        *out = PS_NNUNET_V1;
    else if (!strcmp(s, "v2") || !strcmp(s, "nnunet-v2"))
        *out = PS_NNUNET_V2;
    else if (!strcmp(s, "v1-pansegnet") || !strcmp(s, "nnunet-v1-pansegnet"))
        *out = PS_NNUNET_V1_PANSEGNET;
    else
        return ps_error(PS_ERR_ARG, "nnU-Net layout must be nnunet-v1, nnunet-v1-pansegnet or "
                        "nnunet-v2, got '%s'", s);
    return PS_OK;
}

int ps_nnunet_write(const ps_table *t, const ps_nnunet_options *o, FILE *f, int64_t *nskipped)
{
    nsummary s;
    int64_t skipped;
    int rc = collect_cases(t, o, &s, &skipped);
    if (nskipped)
        *nskipped = rc ? 0 : skipped;
    if (rc)
        return rc;
    int nm = o->layout == PS_NNUNET_V2 ? V2_NMETRICS
           : o->layout == PS_NNUNET_V1_PANSEGNET ? PSN_NMETRICS : V1_NMETRICS;
    double *means = ps_malloc_array((size_t)s.nlabels * (size_t)nm, sizeof *means);
    if (!means)
        rc = PS_ERR_NOMEM;
    else if (!(rc = nan_means(&s, o->layout, nm, means))) {
        if (o->layout == PS_NNUNET_V2)
            write_v2(&s, means, f);
        else
            write_v1(&s, o->layout, means, f);
        if (ferror(f))
            rc = ps_error(PS_ERR_IO, "error writing summary.json");
    }
    free(means);
    nsummary_free(&s);
    return rc;
}

/* ---- reading ------------------------------------------------------------------------------------ */
/* The rows are written as CSV through src/io's writer into memory and read back with
 * ps_table_parse, so quoting and number formats are those of every other table. */
static void sb_cell(ps_table_writer *w, const char *s, int last)
{
    ps_table_writer_str(w, s);
    if (last)
        ps_table_writer_end_row(w);
}

static void sb_num(ps_table_writer *w, double x, int last)
{
    ps_table_writer_num(w, x);
    if (last)
        ps_table_writer_end_row(w);
}

static char *case_of_path(const char *path)
{
    const char *base = strrchr(path, '/');
    base = base ? base + 1 : path;
    size_t n = strlen(base);
    static const char *const ext[] = {".nii.gz", ".nii", ".mha", ".nrrd", ".gz"};
    for (size_t i = 0; i < sizeof ext / sizeof *ext; i++) {
        size_t e = strlen(ext[i]);
        if (n > e && !strcmp(base + n - e, ext[i])) {
            n -= e;
            break;
        }
    }
    return ps_strndup(base, n);
}

/* "(1, 2)" -> "1+2" */
static void label_of_key(const char *key, char *buf, size_t len)
{
    size_t j = 0;
    for (const char *c = key; *c && j + 1 < len; c++)
        if (*c == ',')
            buf[j++] = '+';
        else if (*c != '(' && *c != ')' && *c != ' ')
            buf[j++] = *c;
    buf[j] = 0;
}

/* The number `key` of object `o`; NaN when absent or not a number. */
static double jnum(const ps_json *o, const char *key)
{
    const ps_json *v = ps_json_get(o, key);
    return v && v->type == PS_JSON_NUMBER ? v->number : NAN;
}

/* Every metric the reader uses must be there, as a number (NaN included). */
static int check_keys(const ps_json *m, const char *const *keys, int n, const char *name, int ci,
                      const char *label)
{
    if (!m || m->type != PS_JSON_OBJECT)
        return ps_error(PS_ERR_FORMAT, "%s: case %d label '%s': not an object of metrics", name,
                        ci + 1, label);
    for (int i = 0; i < n; i++) {
        const ps_json *v = ps_json_get(m, keys[i]);
        if (!v || v->type != PS_JSON_NUMBER)
            return ps_error(PS_ERR_FORMAT, "%s: case %d label '%s': '%s' is %s", name, ci + 1,
                            label, keys[i], v ? "not a number" : "missing");
    }
    return PS_OK;
}

static const char *const v1_read_keys[] = {"Dice", "Jaccard", "Precision", "Recall",
                                           "Total Positives Test", "Total Positives Reference"};
static const char *const v2_read_keys[] = {"Dice", "IoU", "TP", "FP", "FN", "TN", "n_pred",
                                           "n_ref"};

static const char *status_of(double n_pred, double n_ref)
{
    return n_pred == 0 && n_ref == 0 ? "both_empty" : n_pred == 0 ? "pred_empty"
         : n_ref == 0 ? "ref_empty" : "ok";
}

static int read_case_v1(const ps_json *c, const char *model, ps_table_writer *b, const char *name, int ci)
{
    if (c->type != PS_JSON_OBJECT)
        return ps_error(PS_ERR_FORMAT, "%s: results.all[%d] is not an object", name, ci);
    const ps_json *ref = ps_json_get(c, "reference"), *test = ps_json_get(c, "test");
    const char *rp = ref && ref->type == PS_JSON_STRING ? ref->string : "";
    const char *pp = test && test->type == PS_JSON_STRING ? test->string : "";
    char *id = case_of_path(rp);
    if (!id)
        return PS_ERR_NOMEM;
    for (int64_t k = 0; k < c->n; k++) {
        if (!strcmp(c->keys[k], "reference") || !strcmp(c->keys[k], "test"))
            continue;
        const ps_json *m = &c->items[k];
        int rc = check_keys(m, v1_read_keys, 6, name, ci, c->keys[k]);
        if (rc) {
            free(id);
            return rc;
        }
        double dice = jnum(m, "Dice"), npred = jnum(m, "Total Positives Test"),
               nref = jnum(m, "Total Positives Reference");
        /* tp from Dice = 2 tp / (n_pred + n_ref); both empty: tp = 0 */
        double tp = isnan(dice) ? 0 : nearbyint(dice * (npred + nref) / 2);
        char lab[128];
        label_of_key(c->keys[k], lab, sizeof lab);
        sb_cell(b, id, 0);
        sb_cell(b, model, 0);
        sb_cell(b, lab, 0);
        sb_cell(b, status_of(npred, nref), 0);
        sb_num(b, tp, 0);
        sb_num(b, npred - tp, 0);
        sb_num(b, nref - tp, 0);
        ps_table_writer_null(b);
        sb_num(b, dice, 0);
        sb_num(b, jnum(m, "Jaccard"), 0);
        sb_num(b, jnum(m, "Precision"), 0);
        sb_num(b, jnum(m, "Recall"), 0);
        sb_num(b, npred, 0);
        sb_num(b, nref, 0);
        /* the PaNSegNet fork's MedPy distances, when the file has them */
        sb_num(b, jnum(m, "Hausdorff Distance 95"), 0);
        sb_num(b, jnum(m, "Avg. Symmetric Surface Distance"), 0);
        sb_cell(b, rp, 0);
        sb_cell(b, pp, 1);
    }
    free(id);
    return PS_OK;
}

static int read_case_v2(const ps_json *c, const char *model, ps_table_writer *b, const char *name, int ci)
{
    if (c->type != PS_JSON_OBJECT || !ps_json_get(c, "metrics") || ps_json_get(c, "metrics")->type != PS_JSON_OBJECT)
        return ps_error(PS_ERR_FORMAT, "%s: metric_per_case[%d] has no object 'metrics'", name,
                        ci);
    const ps_json *ref = ps_json_get(c, "reference_file"), *pred = ps_json_get(c, "prediction_file");
    const ps_json *ms = ps_json_get(c, "metrics");
    const char *rp = ref && ref->type == PS_JSON_STRING ? ref->string : "";
    const char *pp = pred && pred->type == PS_JSON_STRING ? pred->string : "";
    char *id = case_of_path(rp);
    if (!id)
        return PS_ERR_NOMEM;
    for (int64_t k = 0; k < ms->n; k++) {
        const ps_json *m = &ms->items[k];
        int rc = check_keys(m, v2_read_keys, 8, name, ci, ms->keys[k]);
        if (rc) {
            free(id);
            return rc;
        }
        double tp = jnum(m, "TP"), fp = jnum(m, "FP"), fn = jnum(m, "FN"), tn = jnum(m, "TN");
        char lab[128];
        label_of_key(ms->keys[k], lab, sizeof lab);
        sb_cell(b, id, 0);
        sb_cell(b, model, 0);
        sb_cell(b, lab, 0);
        sb_cell(b, status_of(tp + fp, tp + fn), 0);
        sb_num(b, tp, 0);
        sb_num(b, fp, 0);
        sb_num(b, fn, 0);
        sb_num(b, tn, 0);
        sb_num(b, jnum(m, "Dice"), 0);
        sb_num(b, jnum(m, "IoU"), 0);
        sb_num(b, tp + fp > 0 ? tp / (tp + fp) : NAN, 0);
        sb_num(b, tp + fn > 0 ? tp / (tp + fn) : NAN, 0);
        sb_num(b, jnum(m, "n_pred"), 0);
        sb_num(b, jnum(m, "n_ref"), 0);
        sb_num(b, NAN, 0);
        sb_num(b, NAN, 0);
        sb_cell(b, rp, 0);
        sb_cell(b, pp, 1);
    }
    free(id);
    return PS_OK;
}

int ps_nnunet_parse(const char *text, size_t len, const char *name, const char *model,
                    ps_table **out)
{
    *out = NULL;
    if (!name)
        name = "(summary.json)";
    ps_json *root = NULL;
    int rc = ps_json_parse_flags(text, len, name, PS_JSON_NONFINITE, &root);
    if (rc) {
        /* "NAME:LINE:COL: what" from the reader, said as this reader always said it */
        char msg[512];
        const char *m = ps_error_message();
        size_t nl = strlen(name);
        snprintf(msg, sizeof msg, "%s", !strncmp(m, name, nl) && m[nl] == ':' ? m + nl + 1 : m);
        return ps_error(rc, "%s: not valid JSON at %s", name, msg);
    }
    const ps_json *all = ps_json_get(ps_json_get(root, "results"), "all");
    const ps_json *per_case = ps_json_get(root, "metric_per_case");
    static const char *const cols[] = {"case", "model", "label", "status", "tp", "fp",
                                       "fn", "tn", "dice", "jaccard", "precision", "recall",
                                       "n_pred", "n_ref", "hd95", "assd", "ref_path",
                                       "pred_path"};
    char *csv = NULL;
    size_t csv_len = 0;
    FILE *mem = open_memstream(&csv, &csv_len);
    ps_table_writer *b = NULL;
    if (!mem)
        rc = PS_ERR_NOMEM;
    else
        rc = ps_table_writer_create(mem, PS_TABLE_CSV, 18, cols, &b);
    if (!rc && all && all->type == PS_JSON_ARRAY) {
        for (int64_t i = 0; i < all->n && !rc; i++)
            rc = read_case_v1(&all->items[i], model, b, name, (int)i);
    } else if (!rc && per_case && per_case->type == PS_JSON_ARRAY) {
        for (int64_t i = 0; i < per_case->n && !rc; i++)
            rc = read_case_v2(&per_case->items[i], model, b, name, (int)i);
    } else if (!rc) {
        rc = ps_error(PS_ERR_FORMAT, "%s: not an nnU-Net summary.json (neither results.all of "
                      "v1 nor metric_per_case of v2)", name);
    }
    if (b) {
        int rc2 = ps_table_writer_finish(b);
        rc = rc ? rc : rc2;
    }
    if (mem && fclose(mem) && !rc)
        rc = PS_ERR_NOMEM;
    if (!rc)
        rc = ps_table_parse(csv, csv_len, name, out);
    free(csv);
    ps_json_free(root);
    return rc;
}
