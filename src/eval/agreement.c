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

/* Each table goes to its file (in the chosen format) and, when the caller wants the tables,
 * to a CSV copy in memory (parsed into a ps_table at the end). */
typedef struct tw {
    ps_table_writer *f, *mem;
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

#define TW2(w, call, ...)                                                                      \
    do {                                                                                       \
        int rc_ = (w)->f ? call((w)->f, __VA_ARGS__) : 0;                                      \
        if (!rc_ && (w)->mem)                                                                  \
            rc_ = call((w)->mem, __VA_ARGS__);                                                 \
        return rc_;                                                                            \
    } while (0)

static int tw_str(tw *w, const char *s)
{
    TW2(w, ps_table_writer_str, s);
}
static int tw_num(tw *w, double x)
{
    TW2(w, ps_table_writer_num, x);
}
static int tw_int(tw *w, int64_t x)
{
    TW2(w, ps_table_writer_int, x);
}
static int tw_null(tw *w)
{
    int rc = w->f ? ps_table_writer_null(w->f) : 0;
    if (!rc && w->mem)
        rc = ps_table_writer_null(w->mem);
    return rc;
}
static int tw_end(tw *w)
{
    int rc = 0;
    for (int k = 0; k < w->m->nmeta && !rc; k++) {
        const char *v = w->cur && w->cur->meta ? w->cur->meta[k] : NULL;
        rc = v ? tw_str(w, v) : tw_null(w);
    }
    if (!rc && w->f)
        rc = ps_table_writer_end_row(w->f);
    if (!rc && w->mem)
        rc = ps_table_writer_end_row(w->mem);
    return rc;
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

/* Read the case's label maps: inter raters, every session of a rater with sessions (when
 * --sessions), models (when --models). */
/* Read the case's label maps: inter raters, every session of a rater with sessions (when
 * --sessions), models (when --models). The files are read in parallel (one thread per file,
 * ctx->threads at most); the first failure in slot order is reported, so the message does not
 * depend on the thread count. */
static int load_case(state *S, int64_t ci, const ps_context *ctx, loaded *L, char *msg,
                     size_t msgn)
{
    const ps_manifest *m = S->m;
    L->nv = S->nslots + (S->o->models ? m->nmodels : 0);
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
    for (int i = 0; i < L->nv; i++) {
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

/* ---- entry point ------------------------------------------------------------------------------ */
typedef struct outfile {
    ps_atomic_file *af;
    char *mem;       /* the CSV copy */
    size_t memlen;
    FILE *ms;
    char name[4200]; /* the file, or "agreement NAME" for messages */
    tw w;
} outfile;

static int out_open(outfile *f, const ps_manifest *m, const char *dir, const char *name,
                    ps_table_format fmt, int ncols, const char *const *cols, int keep)
{
    f->w.m = m;
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
                                              names, &f->w.f))) {
            ps_atomic_abort(f->af);
            f->af = NULL;
        }
    }
    if (!rc && keep) {
        if (!(f->ms = open_memstream(&f->mem, &f->memlen)))
            rc = ps_error(PS_ERR_NOMEM, "%s: cannot open a memory stream", f->name);
        else
            rc = ps_table_writer_create(f->ms, PS_TABLE_CSV, ncols + m->nmeta, names, &f->w.mem);
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
    if (f->w.f) {
        int r2 = ps_table_writer_finish(f->w.f);
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
    if (f->w.mem) {
        int r2 = ps_table_writer_finish(f->w.mem);
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

int ps_agreement_run(const ps_manifest *m, const ps_agree_options *opt, const ps_context *ctx,
                     const char *out_dir, ps_agree_tables *tables, ps_agree_summary *summary)
{
    if (tables)
        memset(tables, 0, sizeof *tables);
    if (!m || !opt || (!out_dir && !tables))
        return ps_error(PS_ERR_ARG, "ps_agreement_run: NULL argument");
    ps_agree_summary dummy;
    if (!summary)
        summary = &dummy;
    memset(summary, 0, sizeof *summary);
    state S = {0};
    S.m = m;
    S.o = opt;
    S.sum = summary;
    int rc = agree_slots(m, opt->ref_name, &S.slots, &S.nslots);
    if (rc)
        return rc;
    if ((rc = agree_select(S.slots, S.nslots, opt->raters, opt->nraters, &S.inter, &S.ninter)))
        goto out;
    summary->nraters = S.ninter;
    if (S.ninter < 2) {
        char list[512] = "";
        for (int i = 0; i < S.nslots; i++)
            snprintf(list + strlen(list), sizeof list - strlen(list), "%s%s", i ? ", " : "",
                     S.slots[i].name);
        rc = ps_error(PS_ERR_ARG, "%s: agreement needs at least two raters; %s %s (label-map "
                      "columns: %s)", m->path, opt->raters ? "--raters names" : "the manifest has",
                      S.ninter == 1 ? "one" : "none", S.nslots ? list : "none");
        goto out;
    }
    int keep = tables != NULL;
    outfile fp = {0}, fc = {0}, fs = {0}, fm = {0};
    if ((rc = out_open(&fp, m, out_dir, "pairs", opt->format, NCOLS(pairs_cols), pairs_cols,
                       keep)) ||
        (rc = out_open(&fc, m, out_dir, "cases", opt->format, NCOLS(cases_cols), cases_cols,
                       keep)) ||
        (opt->sessions && (rc = out_open(&fs, m, out_dir, "sessions", opt->format,
                                         NCOLS(sess_cols), sess_cols, keep))) ||
        (opt->models && (rc = out_open(&fm, m, out_dir, "models", opt->format,
                                       NCOLS(models_cols), models_cols, keep))))
        goto close;
    S.w_pairs = &fp.w;
    S.w_cases = &fc.w;
    S.w_sess = &fs.w;
    S.w_models = &fm.w;
    ps_progress *prog = ps_progress_start(ctx, "agreement", m->ncases, "cases");
    for (int64_t ci = 0; ci < m->ncases && !rc; ci++) {
        if (opt->stop && *opt->stop) { /* the finished prefix is kept as complete tables */
            summary->stopped = 1;
            break;
        }
        rc = do_case(&S, ci, ctx);
        summary->cases++;
        ps_progress_add(prog, 1);
    }
    ps_progress_finish(prog);
close:
    rc = out_close(&fp, rc, tables ? &tables->pairs : NULL);
    rc = out_close(&fc, rc, tables ? &tables->cases : NULL);
    rc = out_close(&fs, rc, tables ? &tables->sessions : NULL);
    rc = out_close(&fm, rc, tables ? &tables->models : NULL);
    if (!rc && tables) {
        tables->region = opt->region;
        if (!(tables->raters = calloc((size_t)S.ninter, sizeof *tables->raters)))
            rc = PS_ERR_NOMEM;
        for (int i = 0; i < S.ninter && !rc; i++, tables->nraters++)
            if (!(tables->raters[i] = strdup(S.slots[S.inter[i]].name)))
                rc = PS_ERR_NOMEM;
    }
    if (rc && tables)
        ps_agree_tables_free(tables);
out:
    free(S.slots);
    free(S.inter);
    return rc;
}
