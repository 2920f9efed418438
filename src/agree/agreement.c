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
 * summary: per group (all, modality=X, center=Y) x label: mean, SD, median, quartiles of each
 * statistic; the rater x rater mean Dice; the ICC of the volumes over the cases where every
 * inter rater is present (ps_icc: ICC2 = ICC(A,1) and ICC3 = ICC(C,1)); per model the paired
 * Wilcoxon signed-rank (R's defaults) and t-test of model mean Dice - raters' mean Dice across
 * cases and the fraction of cases within the raters' range.
 *
 * The grouping here is deliberately small and local (all / modality / center); it is meant to
 * be replaced by the reports module's grouping.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

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
                free(s);
                return ps_error(PS_ERR_ARG, "%s: rater name '%s' is used twice (is --ref-name "
                                "the name of a rater:%s column?)", m->path, s[k].name,
                                s[k].name);
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

/* ---- observations for the summary ---------------------------------------------------------- */
enum {
    ST_PAIR_DICE, ST_PAIR_HD95, ST_PAIR_ASSD, ST_PAIR_KAPPA, ST_PAIR_VOLDIFF,
    ST_FLEISS, ST_ALPHA, ST_MPD, ST_GED, ST_VOLCV,
    ST_SESS_DICE, ST_SESS_HD95, ST_SESS_ASSD, ST_SESS_KAPPA,
    ST_MODEL_DICE, ST_MODEL_WITHIN, ST_MODEL_GED,
    ST_N
};
static const char *const st_name[ST_N] = {
    "pair_dice", "pair_hd95", "pair_assd", "pair_kappa", "pair_vol_diff_ml",
    "fleiss_kappa", "krippendorff_alpha", "mean_pairwise_dice", "ged", "vol_cv",
    "session_dice", "session_hd95", "session_assd", "session_kappa",
    "model_mean_dice", "model_within_range", "model_ged",
};

typedef struct obs {
    int64_t c;      /* case index   */
    int label;      /* label index  */
    int st;
    int a, b;       /* slot indices (pairs), model index (model stats) or -1 */
    double v;
} obs;

typedef struct model_row {
    int64_t c;
    int label, model;
    double mdice, rdice;
} model_row;

typedef struct vol_row {
    int64_t c;
    int label, slot;
    double ml;
} vol_row;

typedef struct state {
    const ps_manifest *m;
    const ps_agree_options *o;
    agree_slot *slots;
    int nslots;
    int *inter, ninter;
    char **labels;  /* distinct label texts seen, in first-seen order */
    int nlabels, cap_labels;
    obs *ob;
    size_t nob, cap_ob;
    model_row *mr;
    size_t nmr, cap_mr;
    vol_row *vr;
    size_t nvr, cap_vr;
    ps_table_writer *w_pairs, *w_cases, *w_sess, *w_models;
    ps_agree_summary *sum;
} state;

#define PUSH(arr, n, cap, item)                                                                \
    do {                                                                                       \
        if ((n) == (cap)) {                                                                    \
            size_t nc_ = (cap) ? 2 * (cap) : 256;                                              \
            void *p_ = realloc((arr), nc_ * sizeof *(arr));                                    \
            if (!p_)                                                                           \
                return PS_ERR_NOMEM;                                                           \
            (arr) = p_;                                                                        \
            (cap) = nc_;                                                                       \
        }                                                                                      \
        (arr)[(n)++] = (item);                                                                 \
    } while (0)

static int add_obs(state *S, int64_t c, int label, int st, int a, int b, double v)
{
    if (!isfinite(v))
        return 0; /* the summary counts finite values; the tables keep everything */
    obs o = {c, label, st, a, b, v};
    PUSH(S->ob, S->nob, S->cap_ob, o);
    return 0;
}

static int label_index(state *S, const char *text)
{
    for (int i = 0; i < S->nlabels; i++)
        if (!strcmp(S->labels[i], text))
            return i;
    if (S->nlabels == S->cap_labels) {
        int nc = S->cap_labels ? 2 * S->cap_labels : 8;
        char **p = realloc(S->labels, (size_t)nc * sizeof *p);
        if (!p)
            return -1;
        S->labels = p;
        S->cap_labels = nc;
    }
    if (!(S->labels[S->nlabels] = strdup(text)))
        return -1;
    return S->nlabels++;
}

/* ---- table writing ------------------------------------------------------------------------ */
static const char *const pairs_cols[] = {
    "case", "subject", "modality", "center", "label", "region", "kind", "rater_a", "rater_b",
    "status", "dice", "hd95", "assd", "kappa", "vol_diff_ml", "message"};
static const char *const cases_cols[] = {
    "case", "subject", "modality", "center", "label", "region", "n_raters", "n_empty", "status",
    "fleiss_kappa", "krippendorff_alpha", "mean_pairwise_dice", "ged", "vol_cv", "message"};
static const char *const sess_cols[] = {
    "case", "subject", "modality", "center", "label", "region", "rater", "session_a",
    "session_b", "status", "dice", "hd95", "assd", "kappa", "vol_diff_ml", "message"};
static const char *const models_cols[] = {
    "case", "subject", "modality", "center", "label", "model", "n_raters", "status",
    "model_mean_dice", "raters_mean_dice", "raters_min_dice", "raters_max_dice", "within_range",
    "model_mean_hd95", "raters_mean_hd95", "ged", "message"};
#define NCOLS(a) ((int)(sizeof(a) / sizeof((a)[0])))

static int put_str(ps_table_writer *w, const char *s)
{
    return s ? ps_table_writer_str(w, s) : ps_table_writer_null(w);
}

static int put_case(ps_table_writer *w, const ps_manifest_case *c, const char *label)
{
    int rc;
    if ((rc = put_str(w, c->id)) || (rc = put_str(w, c->subject)) ||
        (rc = put_str(w, c->modality)) || (rc = put_str(w, c->center)) ||
        (rc = put_str(w, label)))
        return rc;
    return 0;
}

static int put_num(ps_table_writer *w, double x)
{
    return ps_table_writer_num(w, x);
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
    ps_table_writer *w = S->w_cases;
    if ((rc = put_case(w, c, NULL)) || (rc = put_str(w, ps_agree_region_name(S->o->region))) ||
        (rc = ps_table_writer_int(w, 0)) || (rc = ps_table_writer_int(w, 0)) ||
        (rc = put_str(w, "error")))
        return rc;
    for (int k = 0; k < 5; k++)
        if ((rc = ps_table_writer_null(w)))
            return rc;
    if ((rc = put_str(w, msg)) || (rc = ps_table_writer_end_row(w)))
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

static int metric_cells(ps_table_writer *w, const ps_case_metrics *pm, double kappa)
{
    int rc;
    if ((rc = put_str(w, ps_case_status_name(pm->status))) || (rc = put_num(w, pm->dice)) ||
        (rc = put_num(w, pm->hd95)) || (rc = put_num(w, pm->assd)) || (rc = put_num(w, kappa)) ||
        (rc = put_num(w, pm->vol_diff_ml)) || (rc = ps_table_writer_null(w)) ||
        (rc = ps_table_writer_end_row(w)))
        return rc;
    return 0;
}

static int pair_row(state *S, int64_t ci, const char *label, const char *kind, const char *ra,
                    const char *rb, const ps_case_metrics *pm, double kappa)
{
    ps_table_writer *w = S->w_pairs;
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
    ps_table_writer *w = S->w_sess;
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
    int li = label_index(S, label);
    if (li < 0)
        return PS_ERR_NOMEM;
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
                               kap)) ||
                (rc = add_obs(S, ci, li, ST_PAIR_DICE, sa, sb, pm.dice)) ||
                (rc = add_obs(S, ci, li, ST_PAIR_HD95, sa, sb, pm.hd95)) ||
                (rc = add_obs(S, ci, li, ST_PAIR_ASSD, sa, sb, pm.assd)) ||
                (rc = add_obs(S, ci, li, ST_PAIR_KAPPA, sa, sb, kap)) ||
                (rc = add_obs(S, ci, li, ST_PAIR_VOLDIFF, sa, sb, pm.vol_diff_ml)))
                break;
            S->sum->pairs++;
        }
    }
    S->sum->empty_masks += nempty;
    /* case row */
    ps_table_writer *w = S->w_cases;
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
        for (int a = 0; a < k && !rc; a++) {
            vol_row vr = {ci, li, inter_slot[a], vol[a]};
            PUSH(S->vr, S->nvr, S->cap_vr, vr);
        }
        if (!rc && !(rc = add_obs(S, ci, li, ST_FLEISS, -1, -1, fk)) &&
            !(rc = add_obs(S, ci, li, ST_ALPHA, -1, -1, ka)) &&
            !(rc = add_obs(S, ci, li, ST_MPD, -1, -1, mpd)) &&
            !(rc = add_obs(S, ci, li, ST_GED, -1, -1, ged)))
            rc = add_obs(S, ci, li, ST_VOLCV, -1, -1, cv);
    }
    if (!rc && !(rc = put_case(w, c, label)) && !(rc = put_str(w, region)) &&
        !(rc = ps_table_writer_int(w, k)) && !(rc = ps_table_writer_int(w, nempty)) &&
        !(rc = put_str(w, status)) && !(rc = put_num(w, fk)) && !(rc = put_num(w, ka)) &&
        !(rc = put_num(w, mpd)) && !(rc = put_num(w, ged)) && !(rc = put_num(w, cv)) &&
        !(rc = put_str(w, msg)))
        rc = ps_table_writer_end_row(w);

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
                if ((rc = add_obs(S, ci, li, ST_SESS_DICE, si, sj, pm.dice)) ||
                    (rc = add_obs(S, ci, li, ST_SESS_HD95, si, sj, pm.hd95)) ||
                    (rc = add_obs(S, ci, li, ST_SESS_ASSD, si, sj, pm.assd)) ||
                    (rc = add_obs(S, ci, li, ST_SESS_KAPPA, si, sj, kap)))
                    break;
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
            ps_table_writer *wm = S->w_models;
            if ((rc = put_case(wm, c, label)) || (rc = put_str(wm, m->models[mi])) ||
                (rc = ps_table_writer_int(wm, k)) || (rc = put_str(wm, "ok")) ||
                (rc = put_num(wm, md)) || (rc = put_num(wm, mpd)) || (rc = put_num(wm, rmin)) ||
                (rc = put_num(wm, rmax)) || (rc = ps_table_writer_int(wm, within)) ||
                (rc = put_num(wm, hcount ? hs / hcount : NAN)) ||
                (rc = put_num(wm, hn ? hsum / hn : NAN)) || (rc = put_num(wm, mged)) ||
                (rc = ps_table_writer_null(wm)) || (rc = ps_table_writer_end_row(wm)))
                break;
            S->sum->model_rows++;
            model_row row = {ci, li, mi, md, mpd};
            PUSH(S->mr, S->nmr, S->cap_mr, row);
            if ((rc = add_obs(S, ci, li, ST_MODEL_DICE, mi, -1, md)) ||
                (rc = add_obs(S, ci, li, ST_MODEL_WITHIN, mi, -1, within)) ||
                (rc = add_obs(S, ci, li, ST_MODEL_GED, mi, -1, mged)))
                break;
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

/* ---- summary ------------------------------------------------------------------------------- */
static const char *case_group_value(const ps_manifest_case *c, int g)
{
    const char *v = g == 1 ? c->modality : c->center;
    return v ? v : "NA";
}

/* The groups: "all", then every modality, then every center (in first-seen order). */
typedef struct agroup {
    char name[96];
    int kind;         /* 0 all, 1 modality, 2 center */
    const char *value;
} agroup;

static int make_groups(const ps_manifest *m, agroup **out, int *n)
{
    agroup *g = calloc(1 + 2 * (size_t)m->ncases, sizeof *g);
    if (!g)
        return PS_ERR_NOMEM;
    int k = 0;
    snprintf(g[k].name, sizeof g[k].name, "all");
    g[k++].kind = 0;
    for (int kind = 1; kind <= 2; kind++) {
        if ((kind == 1 && !m->col_modality) || (kind == 2 && !m->col_center))
            continue;
        for (int64_t i = 0; i < m->ncases; i++) {
            const char *v = case_group_value(&m->cases[i], kind);
            int seen = 0;
            for (int j = 0; j < k; j++)
                seen |= g[j].kind == kind && !strcmp(g[j].value, v);
            if (seen)
                continue;
            g[k].kind = kind;
            g[k].value = v;
            snprintf(g[k].name, sizeof g[k].name, "%s=%s", kind == 1 ? "modality" : "center", v);
            k++;
        }
    }
    *out = g;
    *n = k;
    return 0;
}

static int in_group(const ps_manifest *m, int64_t c, const agroup *g)
{
    return g->kind == 0 || !strcmp(case_group_value(&m->cases[c], g->kind), g->value);
}

static const char *const summary_cols[] = {
    "group", "label", "region", "statistic", "rater_a", "rater_b", "n", "mean", "sd", "median",
    "q1", "q3", "value", "ci_low", "ci_high", "p"};

/* One summary row; values NaN are written as empty by the writer's NaN convention. */
static int sum_row(ps_table_writer *w, const char *grp, const char *label, const char *region,
                   const char *stat, const char *ra, const char *rb, int64_t n,
                   const ps_stats_summary *d, double value, double lo, double hi, double p)
{
    int rc;
    if ((rc = put_str(w, grp)) || (rc = put_str(w, label)) || (rc = put_str(w, region)) ||
        (rc = put_str(w, stat)) || (rc = put_str(w, ra)) || (rc = put_str(w, rb)) ||
        (rc = ps_table_writer_int(w, n)))
        return rc;
    double nan = NAN;
    if ((rc = put_num(w, d ? d->mean : nan)) || (rc = put_num(w, d ? d->sd : nan)) ||
        (rc = put_num(w, d ? d->median : nan)) || (rc = put_num(w, d ? d->q1 : nan)) ||
        (rc = put_num(w, d ? d->q3 : nan)) || (rc = put_num(w, value)) || (rc = put_num(w, lo)) ||
        (rc = put_num(w, hi)) || (rc = put_num(w, p)) || (rc = ps_table_writer_end_row(w)))
        return rc;
    return 0;
}

static void text_stat(FILE *t, const char *name, size_t n, const ps_stats_summary *d)
{
    if (!t)
        return;
    if (n == 0) {
        fprintf(t, "  %-22s  n = 0\n", name);
        return;
    }
    fprintf(t, "  %-22s %9.4f +- %-8.4f median %.4f [%.4f, %.4f]  n = %zu\n", name, d->mean,
            n > 1 ? d->sd : 0.0, d->median, d->q1, d->q3, n);
}

static int write_summary(state *S, ps_table_writer *w, FILE *text)
{
    const ps_manifest *m = S->m;
    const char *region = ps_agree_region_name(S->o->region);
    agroup *G = NULL;
    int ng = 0, rc = make_groups(m, &G, &ng);
    if (rc)
        return rc;
    double *x = malloc((S->nob + S->nvr + S->nmr + 1) * sizeof *x);
    double *y = malloc((S->nob + S->nvr + S->nmr + 1) * sizeof *y);
    if (!x || !y) {
        free(x);
        free(y);
        free(G);
        return PS_ERR_NOMEM;
    }
    for (int g = 0; g < ng && !rc; g++)
        for (int li = 0; li < S->nlabels && !rc; li++) {
            const char *label = S->labels[li];
            if (text)
                fprintf(text, "\n%s, label %s (region %s):\n", G[g].name, label, region);
            for (int st = 0; st < ST_N && !rc; st++) {
                int per_model = st >= ST_MODEL_DICE;
                int nmod = per_model ? m->nmodels : 1;
                for (int mi = 0; mi < nmod && !rc; mi++) {
                    size_t n = 0;
                    for (size_t i = 0; i < S->nob; i++) {
                        const obs *o = &S->ob[i];
                        if (o->st == st && o->label == li && (!per_model || o->a == mi) &&
                            in_group(m, o->c, &G[g]))
                            x[n++] = o->v;
                    }
                    if (n == 0)
                        continue;
                    ps_stats_summary d;
                    if ((rc = ps_stats_describe(x, n, 0.95, y, &d)))
                        break;
                    char nm[160];
                    snprintf(nm, sizeof nm, "%s%s%s", st_name[st], per_model ? " " : "",
                             per_model ? m->models[mi] : "");
                    text_stat(text, nm, n, &d);
                    rc = sum_row(w, G[g].name, label, region, st_name[st],
                                 per_model ? m->models[mi] : NULL, NULL, (int64_t)n, &d, NAN,
                                 NAN, NAN, NAN);
                }
            }
            /* rater x rater mean Dice */
            if (!rc && text)
                fprintf(text, "  mean pairwise Dice (rater x rater):\n  %-10s", "");
            for (int a = 0; a < S->ninter && text; a++)
                fprintf(text, " %9.9s", S->slots[S->inter[a]].name);
            if (text)
                fprintf(text, "\n");
            for (int a = 0; a < S->ninter && !rc; a++) {
                if (text)
                    fprintf(text, "  %-10.10s", S->slots[S->inter[a]].name);
                for (int b = 0; b < S->ninter && !rc; b++) {
                    int sa = S->inter[a], sb = S->inter[b];
                    size_t n = 0;
                    for (size_t i = 0; i < S->nob; i++) {
                        const obs *o = &S->ob[i];
                        if (o->st == ST_PAIR_DICE && o->label == li && in_group(m, o->c, &G[g]) &&
                            ((o->a == sa && o->b == sb) || (o->a == sb && o->b == sa)))
                            x[n++] = o->v;
                    }
                    if (a == b) {
                        if (text)
                            fprintf(text, " %9s", "1");
                        continue;
                    }
                    ps_stats_summary d;
                    if (n && (rc = ps_stats_describe(x, n, 0.95, y, &d)))
                        break;
                    if (text && n)
                        fprintf(text, " %9.4f", d.mean);
                    else if (text)
                        fprintf(text, " %9s", "-");
                    if (a < b && n)
                        rc = sum_row(w, G[g].name, label, region, "pair_dice_mean",
                                     S->slots[sa].name, S->slots[sb].name, (int64_t)n, &d,
                                     d.mean, NAN, NAN, NAN);
                }
                if (text)
                    fprintf(text, "\n");
            }
            /* ICC of the volumes over the cases with every inter rater */
            if (!rc && S->ninter >= 2) {
                size_t nc = 0;
                for (int64_t c = 0; c < m->ncases; c++) {
                    if (!in_group(m, c, &G[g]))
                        continue;
                    double row[64];
                    int have = 0;
                    for (size_t i = 0; i < S->nvr; i++)
                        if (S->vr[i].c == c && S->vr[i].label == li)
                            for (int a = 0; a < S->ninter && a < 64; a++)
                                if (S->inter[a] == S->vr[i].slot) {
                                    row[a] = S->vr[i].ml;
                                    have++;
                                }
                    if (have == S->ninter && S->ninter <= 64) {
                        memcpy(x + nc * (size_t)S->ninter, row,
                               (size_t)S->ninter * sizeof *row);
                        nc++;
                    }
                }
                ps_icc_result ir;
                if (nc >= 2 && ps_icc(x, nc, S->ninter, 0.95, &ir) == 0) {
                    const ps_icc_estimate *e2 = &ir.form[PS_ICC2], *e3 = &ir.form[PS_ICC3];
                    if (text)
                        fprintf(text, "  volume ICC2 (A,1) %.4f [%.4f, %.4f]; ICC3 (C,1) %.4f "
                                "[%.4f, %.4f]; n = %zu cases\n", e2->icc, e2->ci_low,
                                e2->ci_high, e3->icc, e3->ci_low, e3->ci_high, nc);
                    rc = sum_row(w, G[g].name, label, region, "volume_icc2", NULL, NULL,
                                 (int64_t)nc, NULL, e2->icc, e2->ci_low, e2->ci_high, e2->p);
                    if (!rc)
                        rc = sum_row(w, G[g].name, label, region, "volume_icc3", NULL, NULL,
                                     (int64_t)nc, NULL, e3->icc, e3->ci_low, e3->ci_high, e3->p);
                } else if (text) {
                    fprintf(text, "  volume ICC: needs two cases with every inter rater (%zu)\n",
                            nc);
                }
            }
            /* models: paired tests of model mean Dice - raters' mean Dice across cases */
            for (int mi = 0; mi < m->nmodels && S->o->models && !rc; mi++) {
                size_t n = 0;
                for (size_t i = 0; i < S->nmr; i++) {
                    const model_row *r = &S->mr[i];
                    if (r->model == mi && r->label == li && in_group(m, r->c, &G[g]) &&
                        isfinite(r->mdice) && isfinite(r->rdice)) {
                        x[n] = r->mdice;
                        y[n++] = r->rdice;
                    }
                }
                if (n < 2)
                    continue;
                ps_wilcoxon_options wo;
                ps_wilcoxon_options_r(&wo);
                ps_wilcoxon wr;
                ps_ttest_paired tr;
                double pw = NAN, pt = NAN, md = NAN;
                if (ps_stats_wilcoxon(x, y, n, &wo, &wr) == 0)
                    pw = wr.p_two_sided;
                if (ps_stats_ttest_paired(x, y, n, 0.95, &tr) == 0) {
                    pt = tr.p_two_sided;
                    md = tr.mean_diff;
                }
                if (text)
                    fprintf(text, "  model %s: mean Dice to raters - raters' mean Dice = %.4f; "
                            "Wilcoxon p = %.4g, paired t p = %.4g (n = %zu cases)\n",
                            m->models[mi], md, pw, pt, n);
                rc = sum_row(w, G[g].name, label, region, "model_vs_raters_wilcoxon",
                             m->models[mi], NULL, (int64_t)n, NULL, md, NAN, NAN, pw);
                if (!rc)
                    rc = sum_row(w, G[g].name, label, region, "model_vs_raters_ttest",
                                 m->models[mi], NULL, (int64_t)n, NULL, md,
                                 isfinite(pt) ? tr.ci_low : NAN, isfinite(pt) ? tr.ci_high : NAN,
                                 pt);
            }
        }
    free(x);
    free(y);
    free(G);
    return rc;
}

/* ---- entry point ------------------------------------------------------------------------------ */
typedef struct outfile {
    ps_atomic_file *af;
    ps_table_writer *w;
} outfile;

static int out_open(outfile *f, const char *dir, const char *name, ps_table_format fmt, int ncols,
                    const char *const *cols)
{
    char path[4096];
    agree_out_path(path, sizeof path, dir, name, fmt);
    int rc = ps_atomic_open(path, &f->af);
    if (rc)
        return ps_error_context(rc, "%s", path);
    if ((rc = ps_table_writer_create(ps_atomic_stream(f->af), fmt, ncols, cols, &f->w))) {
        ps_atomic_abort(f->af);
        f->af = NULL;
    }
    return rc;
}

static int out_close(outfile *f, int rc)
{
    if (!f->af)
        return rc;
    if (f->w) {
        int r2 = ps_table_writer_finish(f->w);
        if (!rc)
            rc = r2;
    }
    if (rc)
        ps_atomic_abort(f->af);
    else
        rc = ps_atomic_commit(f->af);
    f->af = NULL;
    return rc;
}

int ps_agreement_run(const ps_manifest *m, const ps_agree_options *opt, const ps_context *ctx,
                     const char *out_dir, FILE *text, ps_agree_summary *summary)
{
    if (!m || !opt || !out_dir)
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
    outfile fp = {0}, fc = {0}, fs = {0}, fm = {0}, fsum = {0};
    if ((rc = out_open(&fp, out_dir, "pairs", opt->format, NCOLS(pairs_cols), pairs_cols)) ||
        (rc = out_open(&fc, out_dir, "cases", opt->format, NCOLS(cases_cols), cases_cols)) ||
        (opt->sessions &&
         (rc = out_open(&fs, out_dir, "sessions", opt->format, NCOLS(sess_cols), sess_cols))) ||
        (opt->models &&
         (rc = out_open(&fm, out_dir, "models", opt->format, NCOLS(models_cols), models_cols))) ||
        (rc = out_open(&fsum, out_dir, "summary", opt->format, NCOLS(summary_cols),
                       summary_cols)))
        goto close;
    S.w_pairs = fp.w;
    S.w_cases = fc.w;
    S.w_sess = fs.w;
    S.w_models = fm.w;
    ps_progress *prog = ps_progress_start(ctx, "agreement", m->ncases, "cases");
    for (int64_t ci = 0; ci < m->ncases && !rc; ci++) {
        rc = do_case(&S, ci, ctx);
        summary->cases++;
        ps_progress_add(prog, 1);
    }
    ps_progress_finish(prog);
    if (!rc)
        rc = write_summary(&S, fsum.w, text);
close:
    rc = out_close(&fp, rc);
    rc = out_close(&fc, rc);
    rc = out_close(&fs, rc);
    rc = out_close(&fm, rc);
    rc = out_close(&fsum, rc);
out:
    free(S.slots);
    free(S.inter);
    for (int i = 0; i < S.nlabels; i++)
        free(S.labels[i]);
    free(S.labels);
    free(S.ob);
    free(S.mr);
    free(S.vr);
    return rc;
}
