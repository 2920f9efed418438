/* agreement.c - `panseval agreement`: pairwise, voxel-wise and volume agreement of k raters,
 * intra-rater sessions, and models against the inter-rater variation (docs/agreement.md).
 *
 * Per case: read every needed label map once (inter raters, sessions, models); per label one
 * ps_rater_set over all of them (each mask's EDT once), then
 *   pairs     every inter pair (a < b in rater order) and, with --models, model x rater:
 *             Dice, HD95 (chosen convention), ASSD, Cohen's kappa over the region's voxels,
 *             vol_diff_ml = vol(b) - vol(a);
 *   cases     over the k available inter raters: Fleiss' kappa and Krippendorff's alpha
 *             (nominal, categories in / out of the label) on the region's voxels, from the
 *             table of how many raters have each voxel (ps_kappa_fleiss_counts,
 *             ps_krippendorff_nominal_counts); mean pairwise Dice; the rater term of the
 *             generalized energy distance E[d(Y, Y')] with d = 1 - Dice and Y, Y' drawn
 *             independently and uniformly from the k raters (Kohl et al. 2018, "A
 *             probabilistic U-Net", eq. 6: (1/k^2) sum_{r,r'} d); the coefficient of variation
 *             SD / mean of the k volumes (SD with divisor k - 1);
 *   sessions  every pair of sessions of one rater (--sessions);
 *   models    per model: its mean Dice to the k raters beside the raters' mean pairwise Dice,
 *             min / max over raters of each rater's mean Dice to the others ("the raters'
 *             range"), within = model mean Dice >= that minimum, and the GED of the model as
 *             one deterministic sample: 2 mean_r d(M, Y_r) - E[d(Y, Y')].
 * Every table also carries the case's subject, modality and center and, last, one meta:KEY
 * column per meta:KEY column of the manifest, so that the aggregates (reports/agree_summary.c:
 * per group of any of these columns and label, the rater x rater mean Dice, the volume ICCs,
 * the model tests) are an analysis of these tables with the reports module's grouping and
 * exclusion rule. The pairs and sessions tables carry both volumes (vol_a_ml, vol_b_ml) for
 * the volume ICC.
 * A case is computed into a record (agree_case_bytes: the cells of its rows in each table and
 * its counts), which the drivers of agree_dist.c write into the tables in case order
 * (agree_out_case), journal, or bring from another MPI rank: every mode writes the same bytes.
 */
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "agree_internal.h"
#include "ps_stats.h"

/* ---- rater slots ------------------------------------------------------------------------- */
int agree_slots(const ps_manifest *m, const char *ref_name, agree_slot **out, int *n)
{
    *out = NULL;
    *n = 0;
    agree_slot *s = calloc((size_t)m->nraters + 1, sizeof *s);
    if (!s)
        return PS_ERR_NOMEM;
    int k = 0;
    if (m->col_ref) {
        snprintf(s[k].name, sizeof s[k].name, "%s", ref_name ? ref_name : "ref");
        snprintf(s[k].base, sizeof s[k].base, "%s", ref_name ? ref_name : "ref");
        snprintf(s[k].session, sizeof s[k].session, "1");
        s[k++].rater = -1;
    }
    for (int r = 0; r < m->nraters; r++) {
        const ps_manifest_rater *mr = &m->raters[r];
        if (mr->session)
            snprintf(s[k].name, sizeof s[k].name, "%s:%s", mr->name, mr->session);
        else
            snprintf(s[k].name, sizeof s[k].name, "%s", mr->name);
        snprintf(s[k].base, sizeof s[k].base, "%s", mr->name);
        snprintf(s[k].session, sizeof s[k].session, "%s", mr->session ? mr->session : "1");
        s[k].rater = r;
        for (int j = 0; j < k; j++)
            if (!strcmp(s[j].name, s[k].name)) {
                int rc = ps_error(PS_ERR_ARG, "%s: rater name '%s' is used twice (is --ref-name "
                                  "the name of a rater:%s column?)", m->path, s[k].name,
                                  s[k].name);
                free(s); /* after the message, which reads s[k].name */
                return rc;
            }
        k++;
    }
    *out = s;
    *n = k;
    return 0;
}

int agree_select(const agree_slot *s, int n, const char *const *names, int nnames, int **sel,
                 int *nsel)
{
    *sel = calloc((size_t)(n > nnames ? n : nnames) + 1, sizeof **sel);
    *nsel = 0;
    if (!*sel)
        return PS_ERR_NOMEM;
    if (!names) {
        for (int i = 0; i < n; i++)
            if (!strcmp(s[i].session, "1"))
                (*sel)[(*nsel)++] = i;
        return 0;
    }
    for (int j = 0; j < nnames; j++) {
        int found = -1;
        for (int i = 0; i < n; i++)
            if (!strcmp(s[i].name, names[j]))
                found = i;
        /* "ref" is the ref column under any --ref-name (README's --raters ref,B,C --ref-name A) */
        for (int i = 0; found < 0 && i < n; i++)
            if (!strcmp(names[j], "ref") && s[i].rater < 0)
                found = i;
        if (found < 0) {
            char list[512] = "";
            for (int i = 0; i < n; i++)
                snprintf(list + strlen(list), sizeof list - strlen(list), "%s%s", i ? ", " : "",
                         s[i].name);
            return ps_error(PS_ERR_ARG, "no rater '%s' (raters are: %s)", names[j],
                            n ? list : "none");
        }
        for (int i = 0; i < *nsel; i++)
            if ((*sel)[i] == found)
                return ps_error(PS_ERR_ARG, "rater '%s' is listed twice", names[j]);
        (*sel)[(*nsel)++] = found;
    }
    return 0;
}

const char *agree_slot_path(const ps_manifest *m, int64_t i, const agree_slot *s)
{
    return s->rater < 0 ? m->cases[i].ref : m->cases[i].rater[s->rater];
}

void agree_out_path(char *buf, size_t n, const char *dir, const char *name, ps_table_format f)
{
    snprintf(buf, n, "%s/%s.%s", dir, name, ps_table_format_name(f));
}

/* ---- options ------------------------------------------------------------------------------ */
int ps_agree_region_parse(const char *s, ps_agree_region *out)
{
    if (!strcmp(s, "image"))
        *out = PS_AGREE_IMAGE;
    else if (!strcmp(s, "union-box"))
        *out = PS_AGREE_UNION_BOX;
    else
        return ps_error(PS_ERR_ARG, "region must be image or union-box, got '%s'", s);
    return 0;
}

const char *ps_agree_region_name(ps_agree_region r)
{
    return r == PS_AGREE_UNION_BOX ? "union-box" : "image";
}

void ps_agree_options_init(ps_agree_options *o)
{
    memset(o, 0, sizeof *o);
    ps_metrics_options_init(&o->metrics);
    o->region = PS_AGREE_IMAGE;
    o->margin_mm = 5.0;
    o->format = PS_TABLE_CSV;
}

void agree_free_list(char **list)
{
    for (int i = 0; list && list[i]; i++)
        free(list[i]);
    free(list);
}

int agree_parse_raters(const char *opt, const char *value, char ***owned,
                       const char *const **raters, int *n)
{
    agree_free_list(*owned);
    *owned = NULL;
    *raters = NULL;
    *n = 0;
    if (!strcmp(value, "all"))
        return PS_OK;
    size_t cap = strlen(value) / 2 + 2;
    char **list = calloc(cap + 1, sizeof *list);
    if (!list)
        return PS_ERR_NOMEM;
    int k = 0;
    for (const char *p = value; *p;) {
        size_t len = strcspn(p, ",");
        if (len && !(list[k++] = strndup(p, len))) {
            agree_free_list(list);
            return PS_ERR_NOMEM;
        }
        p += len + (p[len] == ',');
    }
    if (k == 0) {
        free(list);
        return ps_error(PS_ERR_ARG, "--%s: give a list of rater names or all", opt);
    }
    *owned = list;
    *raters = (const char *const *)list;
    *n = k;
    return PS_OK;
}

int agree_parse_double(const char *opt, const char *value, double lo, double hi, double *out)
{
    char *end;
    errno = 0;
    double v = strtod(value, &end);
    if (end == value || *end || errno || !(v >= lo && v <= hi))
        return ps_error(PS_ERR_ARG, "--%s: '%s' is not a number from %g to %g", opt, value, lo,
                        hi);
    *out = v;
    return PS_OK;
}

int ps_agree_options_set(ps_agree_options *o, const char *name, const char *value)
{
    int rc = PS_OK;
    if (!strcmp(name, "raters"))
        rc = agree_parse_raters(name, value, &o->own_raters_, &o->raters, &o->nraters);
    else if (!strcmp(name, "ref-name"))
        o->ref_name = value;
    else if (!strcmp(name, "sessions"))
        o->sessions = 1;
    else if (!strcmp(name, "models"))
        o->models = 1;
    else if (!strcmp(name, "labels")) {
        free(o->own_labels_);
        o->own_labels_ = NULL;
        o->labels = NULL;
        if (!(rc = ps_region_list_parse(value, &o->own_labels_, &o->nlabels)))
            o->labels = o->own_labels_;
    } else if (!strcmp(name, "region"))
        rc = ps_agree_region_parse(value, &o->region);
    else if (!strcmp(name, "margin"))
        rc = agree_parse_double(name, value, 0, 1e6, &o->margin_mm);
    else if (!strcmp(name, "hd95"))
        rc = ps_hd_method_parse(value, &o->metrics.hd_method);
    else if (!strcmp(name, "percentile"))
        rc = agree_parse_double(name, value, 0, 100, &o->metrics.percentile);
    else if (!strcmp(name, "empty"))
        rc = ps_empty_policy_parse(value, &o->metrics.empty);
    else
        rc = ps_error(PS_ERR_ARG, "agreement has no option --%s", name);
    return rc;
}

void ps_agree_options_clear(ps_agree_options *o)
{
    agree_free_list(o->own_raters_);
    free(o->own_labels_);
    ps_agree_options_init(o);
}

/* The options as TAB-separated name=value pairs of ps_agree_options_set (flags by name
 * alone) and format=FMT (the tables'), in a fixed order: the identity of a run in its
 * journal, given back to the options by agree_settings_apply. */
char *agree_settings_text(const ps_agree_options *o)
{
    static const char *const empty_names[] = {"nan", "inf", "worst"}; /* ps_empty_policy */
    size_t cap = 64;
    for (int i = 0; i < o->nraters; i++)
        cap += strlen(o->raters[i]) + 1;
    char *raters = malloc(cap), *labels = malloc(16 * 12 * ((size_t)o->nlabels + 1));
    if (!raters || !labels) {
        free(raters);
        free(labels);
        return NULL;
    }
    snprintf(raters, cap, "%s", o->raters ? "" : "all");
    for (int i = 0; o->raters && i < o->nraters; i++)
        strcat(strcat(raters, i ? "," : ""), o->raters[i]);
    labels[0] = 0;
    for (int i = 0; o->labels && i < o->nlabels; i++) {
        char t[16 * 12];
        ps_region_format(&o->labels[i], t, sizeof t);
        strcat(strcat(labels, i ? "," : ""), t);
    }
    int e = (int)o->metrics.empty;
    char margin[32], pct[32]; /* the shortest text that reads back as the same double */
    ps_format_double(o->margin_mm, margin, sizeof margin);
    ps_format_double(o->metrics.percentile, pct, sizeof pct);
    char *text = ps_asprintf("raters=%s%s%s%s%s%s%s\tregion=%s\tmargin=%s\thd95=%s\t"
                             "percentile=%s\tempty=%s\tformat=%s", raters,
                             o->ref_name ? "\tref-name=" : "", o->ref_name ? o->ref_name : "",
                             o->sessions ? "\tsessions" : "", o->models ? "\tmodels" : "",
                             o->labels ? "\tlabels=" : "", o->labels ? labels : "",
                             ps_agree_region_name(o->region), margin,
                             ps_hd_method_name(o->metrics.hd_method), pct,
                             e >= 0 && e < 3 ? empty_names[e] : "nan",
                             ps_table_format_name(o->format));
    free(raters);
    free(labels);
    return text;
}

int agree_settings_apply(char *text, ps_agree_options *o, char **rest)
{
    static const char *const known[] = {"raters", "ref-name", "sessions", "models", "labels",
                                        "region", "margin", "hd95", "percentile", "empty"};
    *rest = ps_strdup("");
    int rc = *rest ? PS_OK : PS_ERR_NOMEM;
    for (char *tok = text, *next; tok && !rc; tok = next) {
        next = strchr(tok, '\t');
        if (next)
            *next++ = 0;
        if (!*tok)
            continue;
        char *eq = strchr(tok, '=');
        size_t k = eq ? (size_t)(eq - tok) : strlen(tok);
        int is_known = 0;
        for (size_t i = 0; i < sizeof known / sizeof *known; i++)
            is_known |= strlen(known[i]) == k && !strncmp(known[i], tok, k);
        if (k == 6 && !strncmp(tok, "format", 6)) {
            if (!eq || ps_table_format_parse(eq + 1, &o->format))
                rc = ps_error(PS_ERR_FORMAT, "bad recorded format '%s'", tok);
        } else if (is_known) {
            if (eq)
                *eq++ = 0;
            rc = ps_agree_options_set(o, tok, eq ? eq : "");
        } else {
            char *t = ps_asprintf("%s%s%s", *rest, **rest ? "\t" : "", tok);
            free(*rest);
            if (!(*rest = t))
                rc = PS_ERR_NOMEM;
        }
    }
    if (rc) {
        free(*rest);
        *rest = NULL;
    }
    return rc;
}

int ps_agree_open(const char *manifest, const char *out_dir, ps_manifest **m)
{
    *m = NULL;
    if (out_dir && mkdir(out_dir, 0777) && errno != EEXIST)
        return ps_error(PS_ERR_IO, "%s: cannot create the folder: %s", out_dir,
                        strerror(errno));
    ps_manifest_options mopt;
    ps_manifest_options_init(&mopt);
    mopt.check = PS_MANIFEST_CHECK_NONE; /* a missing file is an error row of its case */
    return ps_manifest_read(manifest, &mopt, m);
}

/* ---- the rows of one case, recorded ----------------------------------------------------------
 * A case is computed into recorders, one per table, never straight into the files: the cells
 * of its rows in a byte stream ('S' uint32 n + n bytes of text, 'N' a double's 8 bytes, 'I' an
 * int64, 'Z' an empty cell, 'E' the end of a row; native byte order). agree_case_bytes packs
 * them with the case's counts into one record, a pure function of the case, which any MPI rank
 * can compute and the journal can keep; agree_out_case writes a record into the tables. So
 * every run, whichever process computed a case, writes the tables from the same records. */
typedef struct tw {
    unsigned char *p;
    size_t n, cap;
    const ps_manifest *m;
    const ps_manifest_case *cur; /* the row's case: its meta:KEY cells end the row */
} tw;

typedef struct state {
    const ps_manifest *m;
    const ps_agree_options *o;
    agree_slot *slots;
    int nslots;
    int *inter, ninter;
    tw *w_pairs, *w_cases, *w_sess, *w_models;
    ps_agree_summary *sum;
} state;

/* Append a tag and the n1 + n2 bytes that follow it. */
static int tw_put2(tw *w, int tag, const void *x1, size_t n1, const void *x2, size_t n2)
{
    size_t need = w->n + 1 + n1 + n2;
    if (need > w->cap) {
        size_t nc = w->cap ? w->cap : 4096;
        while (nc < need)
            nc *= 2;
        unsigned char *t = realloc(w->p, nc);
        if (!t)
            return ps_error(PS_ERR_NOMEM, "out of memory recording the agreement rows");
        w->p = t;
        w->cap = nc;
    }
    w->p[w->n++] = (unsigned char)tag;
    if (n1)
        memcpy(w->p + w->n, x1, n1);
    w->n += n1;
    if (n2)
        memcpy(w->p + w->n, x2, n2);
    w->n += n2;
    return 0;
}

static int tw_put(tw *w, int tag, const void *x, size_t n)
{
    return tw_put2(w, tag, x, n, NULL, 0);
}

static int tw_str(tw *w, const char *s)
{
    size_t n = strlen(s);
    if (n > UINT32_MAX / 2)
        return ps_error(PS_ERR_RANGE, "an agreement cell of %zu bytes", n);
    uint32_t n32 = (uint32_t)n;
    return tw_put2(w, 'S', &n32, 4, s, n);
}
static int tw_num(tw *w, double x)
{
    return tw_put(w, 'N', &x, sizeof x);
}
static int tw_int(tw *w, int64_t x)
{
    return tw_put(w, 'I', &x, sizeof x);
}
static int tw_null(tw *w)
{
    return tw_put(w, 'Z', NULL, 0);
}
static int tw_end(tw *w)
{
    int rc = 0;
    for (int k = 0; k < w->m->nmeta && !rc; k++) {
        const char *v = w->cur && w->cur->meta ? w->cur->meta[k] : NULL;
        rc = v ? tw_str(w, v) : tw_null(w);
    }
    return rc ? rc : tw_put(w, 'E', NULL, 0);
}
/* ---- table writing ------------------------------------------------------------------------ */
static const char *const pairs_cols[] = {
    "case", "subject", "modality", "center", "label", "region", "kind", "rater_a", "rater_b",
    "status", "dice", "hd95", "assd", "kappa", "vol_diff_ml", "vol_a_ml", "vol_b_ml", "message"};
static const char *const cases_cols[] = {
    "case", "subject", "modality", "center", "label", "region", "n_raters", "n_empty", "status",
    "fleiss_kappa", "krippendorff_alpha", "mean_pairwise_dice", "ged", "vol_cv", "message"};
static const char *const sess_cols[] = {
    "case", "subject", "modality", "center", "label", "region", "rater", "session_a",
    "session_b", "status", "dice", "hd95", "assd", "kappa", "vol_diff_ml", "vol_a_ml", "vol_b_ml", "message"};
static const char *const models_cols[] = {
    "case", "subject", "modality", "center", "label", "model", "n_raters", "status",
    "model_mean_dice", "raters_mean_dice", "raters_min_dice", "raters_max_dice", "within_range",
    "model_mean_hd95", "raters_mean_hd95", "ged", "message"};
#define NCOLS(a) ((int)(sizeof(a) / sizeof((a)[0])))

int ps_agree_check_by(const ps_manifest *m, const char *const *by, int nby)
{
    for (int b = 0; b < nby; b++) {
        int found = 0;
        for (int c = 0; c < NCOLS(cases_cols) && !found; c++)
            found = !strcmp(by[b], cases_cols[c]);
        for (int k = 0; k < m->nmeta && !found; k++)
            found = !strncmp(by[b], "meta:", 5) && !strcmp(by[b] + 5, m->meta_keys[k]);
        if (found)
            continue;
        char *cols = NULL; /* the case table's columns, as the table reader lists them */
        for (int c = 0; c < NCOLS(cases_cols) + m->nmeta; c++) {
            const int fixed = c < NCOLS(cases_cols);
            const char *name = fixed ? cases_cols[c] : m->meta_keys[c - NCOLS(cases_cols)];
            char *next = ps_asprintf("%s%s%s%s", cols ? cols : "", cols ? ", " : "",
                                     fixed ? "" : "meta:", name);
            free(cols);
            if (!(cols = next))
                return PS_ERR_NOMEM;
        }
        int rc = ps_error(PS_ERR_ARG, "--by: the case table has no column '%s' (columns are: %s)",
                          by[b], cols);
        free(cols);
        return rc;
    }
    return PS_OK;
}

static int put_str(tw *w, const char *s)
{
    return s ? tw_str(w, s) : tw_null(w);
}

static int put_case(tw *w, const ps_manifest_case *c, const char *label)
{
    int rc;
    w->cur = c;
    if ((rc = put_str(w, c->id)) || (rc = put_str(w, c->subject)) ||
        (rc = put_str(w, c->modality)) || (rc = put_str(w, c->center)) ||
        (rc = put_str(w, label)))
        return rc;
    return 0;
}

static int put_num(tw *w, double x)
{
    return tw_num(w, x);
}

/* ---- one case -------------------------------------------------------------------------------- */
/* 1 - Dice, the GED distance (two empty masks: Dice 1 under the default empty policy, so 0). */
static double dice_dist(double dice)
{
    return 1.0 - dice;
}

typedef struct loaded {
    ps_volume **v;   /* [nslots + nmodels], NULL = not available        */
    int nv;
} loaded;

static void loaded_free(loaded *L)
{
    for (int i = 0; i < L->nv; i++)
        ps_volume_free(L->v[i]);
    free(L->v);
}

static int error_rows(state *S, int64_t ci, const char *msg)
{
    const ps_manifest_case *c = &S->m->cases[ci];
    int rc;
    tw *w = S->w_cases;
    if ((rc = put_case(w, c, NULL)) || (rc = put_str(w, ps_agree_region_name(S->o->region))) ||
        (rc = tw_int(w, 0)) || (rc = tw_int(w, 0)) ||
        (rc = put_str(w, "error")))
        return rc;
    for (int k = 0; k < 5; k++)
        if ((rc = tw_null(w)))
            return rc;
    if ((rc = put_str(w, msg)) || (rc = tw_end(w)))
        return rc;
    S->sum->cases_failed++;
    return 0;
}

/* The union box of the inter raters (indices into the set) grown by the margin. */
static void region_box(const ps_rater_set *set, const int *idx, int k, const ps_geometry *g,
                       const ps_agree_options *o, int64_t lo[3], int64_t hi[3], int64_t *nbox)
{
    for (int a = 0; a < 3; a++) {
        lo[a] = 0;
        hi[a] = g->dim[a];
    }
    if (o->region == PS_AGREE_UNION_BOX) {
        int any = 0;
        int64_t ulo[3] = {g->dim[0], g->dim[1], g->dim[2]}, uhi[3] = {0, 0, 0};
        for (int r = 0; r < k; r++) {
            int64_t rl[3], rh[3];
            if (!ps_rater_set_rater_box(set, idx[r], rl, rh))
                continue;
            any = 1;
            for (int a = 0; a < 3; a++) {
                if (rl[a] < ulo[a]) ulo[a] = rl[a];
                if (rh[a] > uhi[a]) uhi[a] = rh[a];
            }
        }
        for (int a = 0; a < 3; a++) {
            int64_t grow = (int64_t)ceil(o->margin_mm / g->spacing_mm[a] - 1e-9);
            if (grow < 0)
                grow = 0;
            lo[a] = any ? (ulo[a] - grow > 0 ? ulo[a] - grow : 0) : 0;
            hi[a] = any ? (uhi[a] + grow < g->dim[a] ? uhi[a] + grow : g->dim[a]) : 0;
        }
    }
    *nbox = (hi[0] - lo[0]) * (hi[1] - lo[1]) * (hi[2] - lo[2]);
}

/* Cohen's kappa of a pair restricted to the region box (every mask voxel of an inter pair lies
 * in the union box): tn = box voxels - tp - fp - fn. */
static double region_kappa(const ps_case_metrics *pm, int64_t nbox, const ps_agree_options *o)
{
    if (o->region == PS_AGREE_IMAGE)
        return pm->kappa;
    return ps_kappa_2x2(pm->tp, pm->fp, pm->fn, nbox - pm->tp - pm->fp - pm->fn);
}

static int metric_cells(tw *w, const ps_case_metrics *pm, double kappa)
{
    int rc;
    if ((rc = put_str(w, ps_case_status_name(pm->status))) || (rc = put_num(w, pm->dice)) ||
        (rc = put_num(w, pm->hd95)) || (rc = put_num(w, pm->assd)) || (rc = put_num(w, kappa)) ||
        (rc = put_num(w, pm->vol_diff_ml)) || (rc = put_num(w, pm->vol_ref_ml)) ||
        (rc = put_num(w, pm->vol_pred_ml)) || (rc = tw_null(w)) || (rc = tw_end(w)))
        return rc;
    return 0;
}

static int pair_row(state *S, int64_t ci, const char *label, const char *kind, const char *ra,
                    const char *rb, const ps_case_metrics *pm, double kappa)
{
    tw *w = S->w_pairs;
    int rc;
    if ((rc = put_case(w, &S->m->cases[ci], label)) ||
        (rc = put_str(w, ps_agree_region_name(S->o->region))) || (rc = put_str(w, kind)) ||
        (rc = put_str(w, ra)) || (rc = put_str(w, rb)))
        return rc;
    return metric_cells(w, pm, kappa);
}

static int session_row(state *S, int64_t ci, const char *label, const agree_slot *sa,
                       const agree_slot *sb, const ps_case_metrics *pm, double kappa)
{
    tw *w = S->w_sess;
    int rc;
    if ((rc = put_case(w, &S->m->cases[ci], label)) ||
        (rc = put_str(w, ps_agree_region_name(S->o->region))) || (rc = put_str(w, sa->base)) ||
        (rc = put_str(w, sa->session)) || (rc = put_str(w, sb->session)))
        return rc;
    return metric_cells(w, pm, kappa);
}

static int do_label(state *S, int64_t ci, const ps_region *reg, loaded *L, const ps_context *ctx)
{
    const ps_manifest *m = S->m;
    const ps_agree_options *o = S->o;
    const ps_manifest_case *c = &m->cases[ci];
    char label[16 * 12];
    ps_region_format(reg, label, sizeof label);
    /* the volumes of this case, with their slot or model */
    int nv = 0, *vslot = malloc((size_t)L->nv * sizeof(int));
    const ps_volume **vv = malloc((size_t)L->nv * sizeof *vv);
    int *inter_idx = malloc((size_t)S->ninter * sizeof(int));
    int *inter_slot = malloc((size_t)S->ninter * sizeof(int));
    int rc = PS_ERR_NOMEM;
    ps_rater_set *set = NULL;
    if (!vslot || !vv || !inter_idx || !inter_slot)
        goto done;
    for (int i = 0; i < L->nv; i++)
        if (L->v[i]) {
            vslot[nv] = i;
            vv[nv++] = L->v[i];
        }
    int k = 0;
    for (int j = 0; j < S->ninter; j++)
        for (int i = 0; i < nv; i++)
            if (vslot[i] == S->inter[j]) {
                inter_idx[k] = i;
                inter_slot[k++] = S->inter[j];
            }
    if ((rc = ps_rater_set_create(vv, nv, reg, &o->metrics, ctx, &set)))
        goto done;
    int64_t blo[3], bhi[3], nbox;
    region_box(set, inter_idx, k, &vv[0]->geom, o, blo, bhi, &nbox);
    const char *region = ps_agree_region_name(o->region);

    /* pairs among the inter raters */
    double *dice = calloc((size_t)k * (size_t)k + 1, sizeof *dice);
    double *hd = calloc((size_t)k * (size_t)k + 1, sizeof *hd);
    double *vol = calloc((size_t)k + 1, sizeof *vol);
    if (!dice || !hd || !vol) {
        free(dice);
        free(hd);
        free(vol);
        rc = PS_ERR_NOMEM;
        goto done;
    }
    int nempty = 0;
    for (int a = 0; a < k; a++) {
        nempty += ps_rater_set_count(set, inter_idx[a]) == 0;
        for (int b = a + 1; b < k && !rc; b++) {
            ps_case_metrics pm;
            if ((rc = ps_rater_set_pair(set, inter_idx[a], inter_idx[b], &pm)))
                break;
            double kap = region_kappa(&pm, nbox, o);
            dice[a * k + b] = dice[b * k + a] = pm.dice;
            hd[a * k + b] = hd[b * k + a] = pm.hd95;
            if (a == 0)
                vol[0] = pm.vol_ref_ml;
            vol[b] = pm.vol_pred_ml;
            int sa = inter_slot[a], sb = inter_slot[b];
            if ((rc = pair_row(S, ci, label, "inter", S->slots[sa].name, S->slots[sb].name, &pm,
                               kap)))
                break;
            S->sum->pairs++;
        }
    }
    S->sum->empty_masks += nempty;
    /* case row */
    tw *w = S->w_cases;
    double mpd = NAN, ged = NAN, cv = NAN, fk = NAN, ka = NAN;
    const char *status = "ok", *msg = NULL;
    char msgbuf[256];
    if (!rc && k < 2) {
        status = "single_rater";
        snprintf(msgbuf, sizeof msgbuf, "%d of the %d inter raters %s this case; agreement "
                 "needs two", k, S->ninter, k == 1 ? "has" : "have");
        msg = msgbuf;
    } else if (!rc) {
        double sd = 0, dsum = 0;
        int np = 0;
        for (int a = 0; a < k; a++)
            for (int b = a + 1; b < k; b++) {
                sd += dice[a * k + b];
                dsum += 2 * dice_dist(dice[a * k + b]);
                np++;
            }
        mpd = sd / np;
        ged = dsum / ((double)k * k);
        double mean = 0, ss = 0;
        for (int a = 0; a < k; a++)
            mean += vol[a];
        mean /= k;
        for (int a = 0; a < k; a++)
            ss += (vol[a] - mean) * (vol[a] - mean);
        cv = mean > 0 ? sqrt(ss / (k - 1)) / mean : NAN;
        /* voxel-wise: categories (out, in) per count m of raters having the voxel */
        int64_t *hist = calloc((size_t)k + 1, sizeof *hist);
        double *rows = calloc(2 * ((size_t)k + 1), sizeof *rows);
        double *nsub = calloc((size_t)k + 1, sizeof *nsub);
        if (!hist || !rows || !nsub)
            rc = PS_ERR_NOMEM;
        else
            rc = ps_rater_set_histogram(set, inter_idx, k, blo, bhi, hist);
        if (!rc) {
            for (int mm = 0; mm <= k; mm++) {
                rows[2 * mm] = k - mm;
                rows[2 * mm + 1] = mm;
                nsub[mm] = (double)hist[mm];
            }
            ps_kappa_fleiss_result fr;
            ps_kripp_alpha kr;
            if (ps_kappa_fleiss_counts(rows, nsub, (size_t)k + 1, k, 2, &fr) == 0)
                fk = fr.kappa;
            else
                snprintf(msgbuf, sizeof msgbuf, "%s", ps_error_message()), msg = msgbuf;
            if (ps_krippendorff_nominal_counts(rows, nsub, (size_t)k + 1, 2, &kr) == 0)
                ka = kr.alpha;
        }
        free(hist);
        free(rows);
        free(nsub);
    }
    if (!rc && !(rc = put_case(w, c, label)) && !(rc = put_str(w, region)) &&
        !(rc = tw_int(w, k)) && !(rc = tw_int(w, nempty)) &&
        !(rc = put_str(w, status)) && !(rc = put_num(w, fk)) && !(rc = put_num(w, ka)) &&
        !(rc = put_num(w, mpd)) && !(rc = put_num(w, ged)) && !(rc = put_num(w, cv)) &&
        !(rc = put_str(w, msg)))
        rc = tw_end(w);

    /* sessions: every pair of sessions of one rater */
    if (!rc && o->sessions) {
        for (int i = 0; i < nv && !rc; i++) {
            int si = vslot[i];
            if (si >= S->nslots)
                continue;
            for (int j = i + 1; j < nv && !rc; j++) {
                int sj = vslot[j];
                if (sj >= S->nslots || strcmp(S->slots[si].base, S->slots[sj].base))
                    continue;
                ps_case_metrics pm;
                if ((rc = ps_rater_set_pair(set, i, j, &pm)))
                    break;
                double kap = o->region == PS_AGREE_IMAGE ? pm.kappa : NAN;
                if (o->region != PS_AGREE_IMAGE) {
                    /* sessions' own union box with the margin */
                    int idx2[2] = {i, j};
                    int64_t l2[3], h2[3], n2;
                    region_box(set, idx2, 2, &vv[0]->geom, o, l2, h2, &n2);
                    kap = region_kappa(&pm, n2, o);
                }
                if ((rc = session_row(S, ci, label, &S->slots[si], &S->slots[sj], &pm, kap)))
                    break;
                S->sum->sessions++;
            }
        }
    }

    /* models against the inter raters */
    if (!rc && o->models && k >= 2) {
        /* each rater's mean Dice to the other raters */
        double rmin = INFINITY, rmax = -INFINITY, hsum = 0;
        int hn = 0;
        for (int a = 0; a < k; a++) {
            double s = 0;
            for (int b = 0; b < k; b++)
                if (b != a)
                    s += dice[a * k + b];
            s /= (k - 1);
            rmin = fmin(rmin, s);
            rmax = fmax(rmax, s);
            for (int b = a + 1; b < k; b++)
                if (isfinite(hd[a * k + b])) {
                    hsum += hd[a * k + b];
                    hn++;
                }
        }
        for (int i = 0; i < nv && !rc; i++) {
            int mi = vslot[i] - S->nslots;
            if (mi < 0)
                continue;
            double ds = 0, hs = 0, dd = 0;
            int hcount = 0;
            for (int a = 0; a < k && !rc; a++) {
                ps_case_metrics pm;
                if ((rc = ps_rater_set_pair(set, inter_idx[a], i, &pm)))
                    break;
                char mname[128];
                snprintf(mname, sizeof mname, "pred:%s", m->models[mi]);
                double kap = o->region == PS_AGREE_IMAGE ? pm.kappa : NAN;
                if ((rc = pair_row(S, ci, label, "model", S->slots[inter_slot[a]].name, mname,
                                   &pm, kap)))
                    break;
                ds += pm.dice;
                dd += dice_dist(pm.dice);
                if (isfinite(pm.hd95)) {
                    hs += pm.hd95;
                    hcount++;
                }
            }
            if (rc)
                break;
            double md = ds / k, mged = 2 * dd / k - ged;
            int within = md >= rmin;
            tw *wm = S->w_models;
            if ((rc = put_case(wm, c, label)) || (rc = put_str(wm, m->models[mi])) ||
                (rc = tw_int(wm, k)) || (rc = put_str(wm, "ok")) ||
                (rc = put_num(wm, md)) || (rc = put_num(wm, mpd)) || (rc = put_num(wm, rmin)) ||
                (rc = put_num(wm, rmax)) || (rc = tw_int(wm, within)) ||
                (rc = put_num(wm, hcount ? hs / hcount : NAN)) ||
                (rc = put_num(wm, hn ? hsum / hn : NAN)) || (rc = put_num(wm, mged)) ||
                (rc = tw_null(wm)) || (rc = tw_end(wm)))
                break;
            S->sum->model_rows++;
        }
    }
    free(dice);
    free(hd);
    free(vol);
done:
    ps_rater_set_free(set);
    free(vslot);
    free(vv);
    free(inter_idx);
    free(inter_slot);
    return rc;
}

/* The label maps a case needs, path[nslots + (models ? nmodels : 0)] (NULL = not needed or
 * not available): inter raters, every session of a rater with sessions (when --sessions),
 * models (when --models). */
static int case_nmaps(const state *S)
{
    return S->nslots + (S->o->models ? S->m->nmodels : 0);
}

static void case_paths(const state *S, int64_t ci, const char **path)
{
    const ps_manifest *m = S->m;
    for (int i = 0; i < case_nmaps(S); i++) {
        int need = 0;
        const char *p;
        if (i < S->nslots) {
            for (int j = 0; j < S->ninter; j++)
                need |= S->inter[j] == i;
            if (S->o->sessions)
                for (int j = 0; j < S->nslots; j++)
                    need |= j != i && !strcmp(S->slots[j].base, S->slots[i].base);
            p = agree_slot_path(m, ci, &S->slots[i]);
        } else {
            need = 1;
            p = m->cases[ci].pred[i - S->nslots];
        }
        path[i] = need ? p : NULL;
    }
}

/* Read the case's label maps (case_paths). The files are read in parallel (one thread per
 * file, ctx->threads at most); the first failure in slot order is reported, so the message
 * does not depend on the thread count. */
static int load_case(state *S, int64_t ci, const ps_context *ctx, loaded *L, char *msg,
                     size_t msgn)
{
    L->nv = case_nmaps(S);
    L->v = calloc((size_t)L->nv + 1, sizeof *L->v);
    const char **path = calloc((size_t)L->nv + 1, sizeof *path);
    int *rcs = calloc((size_t)L->nv + 1, sizeof *rcs);
    char **msgs = calloc((size_t)L->nv + 1, sizeof *msgs);
    if (!L->v || !path || !rcs || !msgs) {
        free(path);
        free(rcs);
        free(msgs);
        return PS_ERR_NOMEM;
    }
    case_paths(S, ci, path);
    const int nv = L->nv;
#pragma omp parallel for schedule(dynamic, 1) num_threads(ps_context_threads(ctx))
    for (int i = 0; i < nv; i++) {
        if (!path[i])
            continue;
        rcs[i] = ps_volume_read_labels(path[i], &L->v[i]);
        if (rcs[i])
            msgs[i] = strdup(ps_error_message());
    }
    int rc = 0;
    for (int i = 0; i < nv && !rc; i++)
        if (rcs[i]) {
            rc = rcs[i];
            snprintf(msg, msgn, "%s", msgs[i] ? msgs[i] : ps_status_name(rc));
        }
    for (int i = 0; i < nv && !rc; i++)
        for (int j = 0; j < i && !rc && L->v[i]; j++)
            if (L->v[j] && (rc = ps_geometry_check_same(&L->v[j]->geom, L->v[j]->path,
                                                         &L->v[i]->geom, L->v[i]->path)))
                snprintf(msg, msgn, "%s", ps_error_message());
    for (int i = 0; i < nv; i++)
        free(msgs[i]);
    free(msgs);
    free(rcs);
    free(path);
    return rc;
}

static int do_case(state *S, int64_t ci, const ps_context *ctx)
{
    loaded L = {0};
    char msg[1024] = "";
    int rc = load_case(S, ci, ctx, &L, msg, sizeof msg);
    if (rc == PS_ERR_NOMEM) {
        loaded_free(&L);
        return rc;
    }
    if (rc) {
        loaded_free(&L);
        return error_rows(S, ci, msg);
    }
    int any = 0;
    for (int i = 0; i < L.nv; i++)
        any |= L.v[i] != NULL;
    if (!any) {
        loaded_free(&L);
        return error_rows(S, ci, "no label map of the chosen raters is available");
    }
    /* labels: the given regions, or every label present in the loaded maps */
    ps_region *regs = NULL;
    int nregs = 0;
    if (S->o->labels) {
        regs = malloc((size_t)S->o->nlabels * sizeof *regs);
        if (!regs) {
            loaded_free(&L);
            return PS_ERR_NOMEM;
        }
        memcpy(regs, S->o->labels, (size_t)S->o->nlabels * sizeof *regs);
        nregs = S->o->nlabels;
    } else {
        int32_t *all = NULL;
        int nall = 0;
        for (int i = 0; i < L.nv && !rc; i++) {
            if (!L.v[i])
                continue;
            int32_t *lab = NULL;
            int nl = 0;
            if ((rc = ps_labels_present(L.v[i], NULL, &lab, &nl)))
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
            }
            free(lab);
        }
        /* sorted */
        for (int a = 1; a < nall; a++)
            for (int b = a; b > 0 && all[b - 1] > all[b]; b--) {
                int32_t t = all[b];
                all[b] = all[b - 1];
                all[b - 1] = t;
            }
        regs = calloc((size_t)nall + 1, sizeof *regs);
        if (!regs)
            rc = PS_ERR_NOMEM;
        for (int j = 0; j < nall && !rc; j++) {
            regs[j].n = 1;
            regs[j].labels[0] = all[j];
        }
        nregs = nall;
        if (!rc && nall == 0) {
            /* every mask of the case is empty: label 1, so that the case is counted (as
             * panseval metrics does) and never disappears from the tables */
            regs[0].n = 1;
            regs[0].labels[0] = 1;
            nregs = 1;
        }
        free(all);
    }
    for (int r = 0; r < nregs && !rc; r++)
        rc = do_label(S, ci, &regs[r], &L, ctx);
    if (rc && rc != PS_ERR_NOMEM) {
        snprintf(msg, sizeof msg, "%s", ps_error_message());
        rc = error_rows(S, ci, msg);
    }
    free(regs);
    loaded_free(&L);
    return rc;
}

/* ---- the per-case job (agree_internal.h) ------------------------------------------------------ */
struct agree_job {
    state S;
};

int agree_job_create(const ps_manifest *m, const ps_agree_options *opt, agree_job **out)
{
    *out = NULL;
    if (!m || !opt)
        return ps_error(PS_ERR_ARG, "agreement: NULL argument");
    agree_job *j = calloc(1, sizeof *j);
    if (!j)
        return PS_ERR_NOMEM;
    state *S = &j->S;
    S->m = m;
    S->o = opt;
    int rc = agree_slots(m, opt->ref_name, &S->slots, &S->nslots);
    if (!rc)
        rc = agree_select(S->slots, S->nslots, opt->raters, opt->nraters, &S->inter,
                          &S->ninter);
    if (!rc && S->ninter < 2) {
        char list[512] = "";
        for (int i = 0; i < S->nslots; i++)
            snprintf(list + strlen(list), sizeof list - strlen(list), "%s%s", i ? ", " : "",
                     S->slots[i].name);
        rc = ps_error(PS_ERR_ARG, "%s: agreement needs at least two raters; %s %s (label-map "
                      "columns: %s)", m->path, opt->raters ? "--raters names" : "the manifest has",
                      S->ninter == 1 ? "one" : "none", S->nslots ? list : "none");
    }
    if (rc) {
        agree_job_free(j);
        return rc;
    }
    *out = j;
    return 0;
}

void agree_job_free(agree_job *j)
{
    if (!j)
        return;
    free(j->S.slots);
    free(j->S.inter);
    free(j);
}

int agree_job_nraters(const agree_job *j)
{
    return j->S.ninter;
}

const char *agree_job_rater(const agree_job *j, int i)
{
    return j->S.slots[j->S.inter[i]].name;
}

int64_t agree_case_bytes_on_disk(const agree_job *j, int64_t ci)
{
    int n = case_nmaps(&j->S);
    const char **path = calloc((size_t)n + 1, sizeof *path);
    if (!path)
        return 0; /* only a cost estimate */
    case_paths(&j->S, ci, path);
    int64_t bytes = 0;
    struct stat st;
    for (int i = 0; i < n; i++)
        if (path[i] && !stat(path[i], &st))
            bytes += (int64_t)st.st_size;
    free(path);
    return bytes;
}

int agree_job_hash(const agree_job *j, uint64_t (*fnv)(uint64_t, const void *, size_t),
                   uint64_t *h)
{
    int n = case_nmaps(&j->S);
    const char **path = calloc((size_t)n + 1, sizeof *path);
    if (!path)
        return PS_ERR_NOMEM;
    for (int64_t ci = 0; ci < j->S.m->ncases; ci++) {
        const char *id = j->S.m->cases[ci].id;
        *h = fnv(*h, id, strlen(id) + 1);
        case_paths(&j->S, ci, path);
        for (int i = 0; i < n; i++)
            *h = path[i] ? fnv(*h, path[i], strlen(path[i]) + 1) : fnv(*h, "\001", 2);
    }
    free(path);
    return 0;
}

/* Record layout: int64 counts[5] (cases_failed, pairs, sessions, model_rows, empty_masks),
 * then per table (pairs, cases, sessions, models) a uint64 length and that table's cells. */
#define REC_NCOUNT 5
#define REC_NTAB 4

int agree_case_bytes(agree_job *j, int64_t ci, const ps_context *ctx, unsigned char **bytes,
                     size_t *len)
{
    *bytes = NULL;
    *len = 0;
    state S = j->S;
    ps_agree_summary sum = {0};
    tw w[REC_NTAB];
    memset(w, 0, sizeof w);
    for (int t = 0; t < REC_NTAB; t++)
        w[t].m = S.m;
    S.w_pairs = &w[0];
    S.w_cases = &w[1];
    S.w_sess = &w[2];
    S.w_models = &w[3];
    S.sum = &sum;
    int rc = do_case(&S, ci, ctx);
    size_t total = REC_NCOUNT * 8;
    for (int t = 0; t < REC_NTAB; t++)
        total += 8 + w[t].n;
    unsigned char *b = rc ? NULL : malloc(total);
    if (!rc && !b)
        rc = ps_error(PS_ERR_NOMEM, "out of memory recording the agreement rows");
    if (!rc) {
        int64_t counts[REC_NCOUNT] = {sum.cases_failed, sum.pairs, sum.sessions,
                                      sum.model_rows, sum.empty_masks};
        memcpy(b, counts, sizeof counts);
        size_t pos = sizeof counts;
        for (int t = 0; t < REC_NTAB; t++) {
            uint64_t n = w[t].n;
            memcpy(b + pos, &n, 8);
            if (n)
                memcpy(b + pos + 8, w[t].p, w[t].n);
            pos += 8 + w[t].n;
        }
        *bytes = b;
        *len = total;
    }
    for (int t = 0; t < REC_NTAB; t++)
        free(w[t].p);
    return rc;
}

/* ---- the tables ----------------------------------------------------------------------------- */
/* Each table goes to its file (in the chosen format) and, when the caller wants the tables,
 * to a CSV copy in memory (parsed into a ps_table at the end). */
typedef struct outfile {
    ps_atomic_file *af;
    char *mem;       /* the CSV copy */
    size_t memlen;
    FILE *ms;
    char name[4200]; /* the file, or "agreement NAME" for messages */
    ps_table_writer *f, *wmem;
} outfile;

static int out_open(outfile *f, const ps_manifest *m, const char *dir, const char *name,
                    ps_table_format fmt, int ncols, const char *const *cols, int keep)
{
    const char **names = calloc((size_t)(ncols + m->nmeta) + 1, sizeof *names);
    char **meta = calloc((size_t)m->nmeta + 1, sizeof *meta);
    int rc = names && meta ? 0 : PS_ERR_NOMEM;
    for (int i = 0; i < ncols; i++)
        names[i] = cols ? cols[i] : NULL;
    for (int k = 0; k < m->nmeta && !rc; k++)
        if (!(meta[k] = ps_asprintf("meta:%s", m->meta_keys[k])))
            rc = PS_ERR_NOMEM;
        else
            names[ncols + k] = meta[k];
    snprintf(f->name, sizeof f->name, "agreement %s", name);
    if (!rc && dir) {
        agree_out_path(f->name, sizeof f->name, dir, name, fmt);
        if ((rc = ps_atomic_open(f->name, &f->af)))
            rc = ps_error_context(rc, "%s", f->name);
        else if ((rc = ps_table_writer_create(ps_atomic_stream(f->af), fmt, ncols + m->nmeta,
                                              names, &f->f))) {
            ps_atomic_abort(f->af);
            f->af = NULL;
        }
    }
    if (!rc && keep) {
        if (!(f->ms = open_memstream(&f->mem, &f->memlen)))
            rc = ps_error(PS_ERR_NOMEM, "%s: cannot open a memory stream", f->name);
        else
            rc = ps_table_writer_create(f->ms, PS_TABLE_CSV, ncols + m->nmeta, names, &f->wmem);
    }
    for (int k = 0; meta && k < m->nmeta; k++)
        free(meta[k]);
    free(meta);
    free(names);
    return rc;
}

/* Finish the file (commit, or abort on rc) and parse the memory copy into *table. */
static int out_close(outfile *f, int rc, ps_table **table)
{
    if (f->f) {
        int r2 = ps_table_writer_finish(f->f);
        f->f = NULL;
        if (!rc)
            rc = r2;
    }
    if (f->af) {
        if (rc)
            ps_atomic_abort(f->af);
        else
            rc = ps_atomic_commit(f->af);
        f->af = NULL;
    }
    if (f->wmem) {
        int r2 = ps_table_writer_finish(f->wmem);
        f->wmem = NULL;
        if (!rc)
            rc = r2;
    }
    if (f->ms) {
        fclose(f->ms);
        f->ms = NULL;
        if (!rc && table)
            rc = ps_table_parse(f->mem, f->memlen, f->name, table);
    }
    free(f->mem);
    f->mem = NULL;
    return rc;
}

struct agree_out {
    outfile f[REC_NTAB];
    int on[REC_NTAB];     /* the table is written (sessions, models: by the options) */
    const agree_job *job;
    char *cell;           /* a text cell with its NUL */
    size_t cellcap;
};

int agree_out_open(const agree_job *j, const char *dir, int keep, agree_out **out)
{
    *out = NULL;
    agree_out *o = calloc(1, sizeof *o);
    if (!o)
        return PS_ERR_NOMEM;
    o->job = j;
    const ps_agree_options *opt = j->S.o;
    const ps_manifest *m = j->S.m;
    o->on[0] = o->on[1] = 1;
    o->on[2] = opt->sessions;
    o->on[3] = opt->models;
    static const char *const names[REC_NTAB] = {"pairs", "cases", "sessions", "models"};
    const char *const *cols[REC_NTAB] = {pairs_cols, cases_cols, sess_cols, models_cols};
    const int ncols[REC_NTAB] = {NCOLS(pairs_cols), NCOLS(cases_cols), NCOLS(sess_cols),
                                 NCOLS(models_cols)};
    int rc = 0;
    for (int t = 0; t < REC_NTAB && !rc; t++)
        if (o->on[t])
            rc = out_open(&o->f[t], m, dir, names[t], opt->format, ncols[t], cols[t], keep);
    if (rc) {
        agree_out_close(o, rc, NULL);
        return rc;
    }
    *out = o;
    return 0;
}

/* The cells of one table into its writers. */
#define PUT2(o, f, call, ...)                                                                  \
    do {                                                                                       \
        rc = (f)->f ? call((f)->f, __VA_ARGS__) : 0;                                           \
        if (!rc && (f)->wmem)                                                                  \
            rc = call((f)->wmem, __VA_ARGS__);                                                 \
    } while (0)

static int replay_table(agree_out *o, outfile *f, const unsigned char *p, size_t n)
{
    size_t pos = 0;
    int rc = 0;
    while (pos < n && !rc) {
        int tag = p[pos++];
        if (tag == 'S') {
            uint32_t len;
            if (n - pos < 4)
                goto bad;
            memcpy(&len, p + pos, 4);
            pos += 4;
            if (n - pos < len)
                goto bad;
            if ((size_t)len + 1 > o->cellcap) {
                char *t = realloc(o->cell, (size_t)len + 1);
                if (!t)
                    return ps_error(PS_ERR_NOMEM, "out of memory writing the agreement rows");
                o->cell = t;
                o->cellcap = (size_t)len + 1;
            }
            memcpy(o->cell, p + pos, len);
            o->cell[len] = 0;
            pos += len;
            PUT2(o, f, ps_table_writer_str, o->cell);
        } else if (tag == 'N' || tag == 'I') {
            if (n - pos < 8)
                goto bad;
            double x;
            int64_t k;
            memcpy(tag == 'N' ? (void *)&x : (void *)&k, p + pos, 8);
            pos += 8;
            if (tag == 'N')
                PUT2(o, f, ps_table_writer_num, x);
            else
                PUT2(o, f, ps_table_writer_int, k);
        } else if (tag == 'Z') {
            rc = f->f ? ps_table_writer_null(f->f) : 0;
            if (!rc && f->wmem)
                rc = ps_table_writer_null(f->wmem);
        } else if (tag == 'E') {
            rc = f->f ? ps_table_writer_end_row(f->f) : 0;
            if (!rc && f->wmem)
                rc = ps_table_writer_end_row(f->wmem);
        } else
            goto bad;
    }
    return rc;
bad:
    return ps_error(PS_ERR_FORMAT, "%s: a recorded row is damaged", f->name);
}
#undef PUT2

int agree_out_case(agree_out *o, int64_t ci, const unsigned char *b, size_t n,
                   ps_agree_summary *sum)
{
    const char *id = o->job->S.m->cases[ci].id;
    if (n < REC_NCOUNT * 8)
        return ps_error(PS_ERR_FORMAT, "the agreement record of case %s is damaged", id);
    int64_t counts[REC_NCOUNT];
    memcpy(counts, b, sizeof counts);
    size_t pos = sizeof counts;
    const unsigned char *tab[REC_NTAB];
    uint64_t len[REC_NTAB];
    for (int t = 0; t < REC_NTAB; t++) {
        if (n - pos < 8)
            return ps_error(PS_ERR_FORMAT, "the agreement record of case %s is damaged", id);
        memcpy(&len[t], b + pos, 8);
        pos += 8;
        if (n - pos < len[t] || (len[t] && !o->on[t]))
            return ps_error(PS_ERR_FORMAT, "the agreement record of case %s is damaged", id);
        tab[t] = b + pos;
        pos += len[t];
    }
    if (pos != n)
        return ps_error(PS_ERR_FORMAT, "the agreement record of case %s is damaged", id);
    int rc = 0;
    for (int t = 0; t < REC_NTAB && !rc; t++)
        if (o->on[t])
            rc = replay_table(o, &o->f[t], tab[t], len[t]);
    if (rc)
        return ps_error_context(rc, "case %s", id);
    sum->cases++;
    sum->cases_failed += counts[0];
    sum->pairs += counts[1];
    sum->sessions += counts[2];
    sum->model_rows += counts[3];
    sum->empty_masks += counts[4];
    return 0;
}

int agree_out_close(agree_out *o, int rc, ps_agree_tables *tables)
{
    if (!o)
        return rc;
    ps_table **dst[REC_NTAB] = {NULL, NULL, NULL, NULL};
    if (tables && !rc) {
        dst[0] = &tables->pairs;
        dst[1] = &tables->cases;
        dst[2] = &tables->sessions;
        dst[3] = &tables->models;
    }
    for (int t = 0; t < REC_NTAB; t++)
        rc = out_close(&o->f[t], rc, dst[t]);
    if (!rc && tables) {
        const agree_job *j = o->job;
        tables->region = j->S.o->region;
        if (!(tables->raters = calloc((size_t)j->S.ninter, sizeof *tables->raters)))
            rc = PS_ERR_NOMEM;
        for (int i = 0; i < j->S.ninter && !rc; i++, tables->nraters++)
            if (!(tables->raters[i] = strdup(agree_job_rater(j, i))))
                rc = PS_ERR_NOMEM;
    }
    if (rc && tables)
        ps_agree_tables_free(tables);
    free(o->cell);
    free(o);
    return rc;
}

void ps_agree_tables_free(ps_agree_tables *t)
{
    if (!t)
        return;
    ps_table_free(t->pairs);
    ps_table_free(t->cases);
    ps_table_free(t->sessions);
    ps_table_free(t->models);
    for (int i = 0; i < t->nraters; i++)
        free(t->raters[i]);
    free(t->raters);
    memset(t, 0, sizeof *t);
}
