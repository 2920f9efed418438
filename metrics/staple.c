/* staple.c - STAPLE (Warfield, Zou & Wells, "Simultaneous truth and performance level
 * estimation (STAPLE): an algorithm for the validation of image segmentation", IEEE TMI 23(7)
 * 2004, 903-921), on rating-pattern counts.
 *
 * Binary STAPLE, with the initialisation, update order and stopping rule of ITK 5.2's
 * itk::STAPLEImageFilter (docs/agreement.md gives them in words):
 *   W(v) starts as the fraction of the k raters that label v; the prior g = mean W over the
 *   image times the confidence weight (1), kept fixed. Each iteration first re-estimates every
 *   rater's sensitivity p_r = sum_{D_rv=1} W / sum W and specificity
 *   q_r = sum_{D_rv=0} (1 - W) / sum (1 - W) (M-step), then
 *   W(v) = g a / (g a + (1 - g) b), a = prod_r (D_rv ? p_r : 1 - p_r),
 *   b = prod_r (D_rv ? 1 - q_r : q_r) (E-step). It stops after an iteration other than the
 *   first in which no (p_r - p_r')^2 or (q_r - q_r')^2 exceeds 1e-14, or after max_iter.
 * W depends only on which raters label a voxel, so everything runs on the 2^k pattern counts
 * (ps_rater_set_patterns) instead of the voxels: sums are count x value in pattern order. The
 * result equals the per-voxel computation up to floating-point summation order.
 *
 * Multi-label STAPLE as ITK 5.2's itk::MultiLabelSTAPLEImageFilter: labels 0..L-1 (L = the
 * largest label + 1); per rater a confusion matrix theta[j][c] = P(rater says j | truth c),
 * initialised from the majority vote (ITK's LabelVotingImageFilter rule: a later label with as
 * many votes as the running maximum makes the voxel undecided) with each row j normalised over
 * c; the prior of c is the frequency of label c over all raters and voxels. Each iteration: per
 * voxel W(c) ~ prior(c) prod_r theta_r[D_rv][c] (normalised), theta'_r[j][c] = sum_{D_rv=j} W(c)
 * normalised over j; stop when the largest |theta' - theta| is below 1e-5. Runs on the counts of
 * label tuples.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "ps_metrics.h"

void ps_staple_options_init(ps_staple_options *o)
{
    o->max_iter = 0;
    o->confidence_weight = 1.0;
    o->threshold = 0.5;
    o->ml_tol = 1e-5;
}

void ps_staple_result_clear(ps_staple_result *r)
{
    if (!r)
        return;
    free(r->sens);
    free(r->spec);
    free(r->w);
    memset(r, 0, sizeof *r);
}

int ps_staple_binary(const int64_t *counts, int k, const ps_staple_options *opt,
                     ps_staple_result *out)
{
    if (!counts || !out || k < 1 || k > PS_RATERS_PATTERN_MAX)
        return ps_error(PS_ERR_ARG, "ps_staple_binary: invalid arguments (k = %d)", k);
    ps_staple_options defaults;
    if (!opt) {
        ps_staple_options_init(&defaults);
        opt = &defaults;
    }
    memset(out, 0, sizeof *out);
    const size_t np = (size_t)1 << k;
    out->k = k;
    out->sens = calloc((size_t)k, sizeof(double));
    out->spec = calloc((size_t)k, sizeof(double));
    out->w = calloc(np, sizeof(double));
    double *last_p = ps_malloc_array((size_t)k, sizeof(double));
    double *last_q = ps_malloc_array((size_t)k, sizeof(double));
    if (!out->sens || !out->spec || !out->w || !last_p || !last_q) {
        free(last_p);
        free(last_q);
        ps_staple_result_clear(out);
        return PS_ERR_NOMEM;
    }
    double *p = out->sens, *q = out->spec, *W = out->w;
    double n = 0, g = 0;
    for (size_t t = 0; t < np; t++) {
        int bits = 0;
        for (int r = 0; r < k; r++)
            bits += (int)(t >> r & 1);
        W[t] = (double)bits / (double)k;
        g += (double)counts[t] * W[t];
        n += (double)counts[t];
    }
    if (!(n > 0)) {
        free(last_p);
        free(last_q);
        ps_staple_result_clear(out);
        return ps_error(PS_ERR_NUMERIC, "STAPLE: no voxels");
    }
    g = g / n * opt->confidence_weight;
    out->prior = g;
    for (int r = 0; r < k; r++)
        last_p[r] = last_q[r] = -10.0;
    unsigned iter;
    const unsigned max_iter = opt->max_iter > 0 ? (unsigned)opt->max_iter : 4294967295u;
    for (iter = 0; iter < max_iter; iter++) {
        /* M-step: performance of each rater from the current W */
        for (int r = 0; r < k; r++) {
            double pn = 0, pd = 0, qn = 0, qd = 0;
            for (size_t t = 0; t < np; t++) {
                if (!counts[t])
                    continue;
                double c = (double)counts[t];
                if (t >> r & 1)
                    pn += c * W[t];
                else
                    qn += c * (1.0 - W[t]);
                pd += c * W[t];
                qd += c * (1.0 - W[t]);
            }
            p[r] = pn / pd;
            q[r] = qn / qd;
        }
        /* E-step: posterior of each pattern */
        for (size_t t = 0; t < np; t++) {
            double a = 1.0, b = 1.0;
            for (int r = 0; r < k; r++) {
                if (t >> r & 1) {
                    a *= p[r];
                    b *= 1.0 - q[r];
                } else {
                    a *= 1.0 - p[r];
                    b *= q[r];
                }
            }
            W[t] = g * a / (g * a + (1.0 - g) * b);
        }
        int done = iter != 0;
        for (int r = 0; r < k && done; r++)
            if ((p[r] - last_p[r]) * (p[r] - last_p[r]) > 1e-14 ||
                (q[r] - last_q[r]) * (q[r] - last_q[r]) > 1e-14)
                done = 0;
        for (int r = 0; r < k; r++) {
            last_p[r] = p[r];
            last_q[r] = q[r];
        }
        if (done)
            break;
    }
    out->iterations = (int)iter;
    free(last_p);
    free(last_q);
    for (size_t t = 0; t < np; t++)
        if (isnan(W[t]))
            W[t] = 0; /* a pattern with no voxels and 0/0: never painted */
    return 0;
}

int ps_staple_multilabel(const int64_t *counts, int k, int nlabels,
                         const ps_staple_options *opt, ps_staple_ml_result *out)
{
    if (!counts || !out || k < 1 || nlabels < 2)
        return ps_error(PS_ERR_ARG, "ps_staple_multilabel: invalid arguments");
    ps_staple_options defaults;
    if (!opt) {
        ps_staple_options_init(&defaults);
        opt = &defaults;
    }
    memset(out, 0, sizeof *out);
    const int L = nlabels;
    size_t nt = 1;
    for (int r = 0; r < k; r++) {
        if (nt > (size_t)PS_STAPLE_TUPLES_MAX / (size_t)L)
            return ps_error(PS_ERR_ARG, "multi-label STAPLE: %d labels ^ %d raters label tuples "
                                        "exceed %d", L, k, PS_STAPLE_TUPLES_MAX);
        nt *= (size_t)L;
    }
    const size_t msz = (size_t)(L + 1) * (size_t)L; /* rows j = 0..L (L: undecided), cols c */
    double *theta = calloc((size_t)k * msz, sizeof(double));
    double *upd = calloc((size_t)k * msz, sizeof(double));
    double *prior = calloc((size_t)L, sizeof(double));
    double *W = ps_malloc_array((size_t)L, sizeof(double));
    int *lab = ps_malloc_array((size_t)k, sizeof(int));
    int *votes = ps_malloc_array((size_t)L, sizeof(int));
    int32_t *winner = ps_malloc_array(nt, sizeof(int32_t));
    if (!theta || !upd || !prior || !W || !lab || !votes || !winner) {
        free(theta);
        free(upd);
        free(prior);
        free(W);
        free(lab);
        free(votes);
        free(winner);
        return PS_ERR_NOMEM;
    }
#define TUPLE(t)                                                                               \
    do {                                                                                       \
        size_t u_ = (t);                                                                       \
        for (int r_ = 0; r_ < k; r_++) {                                                       \
            lab[r_] = (int)(u_ % (size_t)L);                                                   \
            u_ /= (size_t)L;                                                                   \
        }                                                                                      \
    } while (0)
    /* initialisation from the vote; prior from the label frequencies */
    for (size_t t = 0; t < nt; t++) {
        if (!counts[t])
            continue;
        TUPLE(t);
        for (int c = 0; c < L; c++)
            votes[c] = 0;
        for (int r = 0; r < k; r++)
            votes[lab[r]]++;
        int vote = 0, maxv = votes[0];
        for (int c = 1; c < L; c++) {
            if (votes[c] > maxv) {
                maxv = votes[c];
                vote = c;
            } else if (votes[c] == maxv) {
                vote = L; /* undecided */
            }
        }
        for (int r = 0; r < k; r++) {
            prior[lab[r]] += (double)counts[t];
            if (vote < L) /* undecided voxels do not enter the initial matrices */
                theta[(size_t)r * msz + (size_t)lab[r] * (size_t)L + (size_t)vote] +=
                    (double)counts[t];
        }
    }
    double mass = 0;
    for (int c = 0; c < L; c++)
        mass += prior[c];
    for (int c = 0; c < L; c++)
        prior[c] /= mass;
    for (int r = 0; r < k; r++)
        for (int j = 0; j <= L; j++) {
            double *row = theta + (size_t)r * msz + (size_t)j * (size_t)L, s = 0;
            for (int c = 0; c < L; c++)
                s += row[c];
            if (s > 0)
                for (int c = 0; c < L; c++)
                    row[c] /= s;
        }
    unsigned iter;
    const unsigned max_iter = opt->max_iter > 0 ? (unsigned)opt->max_iter : 4294967295u;
    for (iter = 0; iter < max_iter; iter++) {
        memset(upd, 0, (size_t)k * msz * sizeof *upd);
        for (size_t t = 0; t < nt; t++) {
            if (!counts[t])
                continue;
            TUPLE(t);
            for (int c = 0; c < L; c++)
                W[c] = prior[c];
            for (int r = 0; r < k; r++)
                for (int c = 0; c < L; c++)
                    W[c] *= theta[(size_t)r * msz + (size_t)lab[r] * (size_t)L + (size_t)c];
            double s = 0;
            for (int c = 0; c < L; c++)
                s += W[c];
            if (s != 0)
                for (int c = 0; c < L; c++)
                    W[c] /= s;
            for (int r = 0; r < k; r++)
                for (int c = 0; c < L; c++)
                    upd[(size_t)r * msz + (size_t)lab[r] * (size_t)L + (size_t)c] +=
                        (double)counts[t] * W[c];
        }
        double maxu = 0;
        for (int r = 0; r < k; r++)
            for (int c = 0; c < L; c++) {
                double s = 0;
                for (int j = 0; j <= L; j++)
                    s += upd[(size_t)r * msz + (size_t)j * (size_t)L + (size_t)c];
                if (s != 0)
                    for (int j = 0; j <= L; j++)
                        upd[(size_t)r * msz + (size_t)j * (size_t)L + (size_t)c] /= s;
            }
        for (size_t i = 0; i < (size_t)k * msz; i++) {
            double d = fabs(upd[i] - theta[i]);
            if (d > maxu)
                maxu = d;
            theta[i] = upd[i];
        }
        if (maxu < opt->ml_tol)
            break;
    }
    /* consensus of every tuple: the label of largest posterior; an exact tie (ITK: the
     * undecided label L) goes to the lowest tied label */
    for (size_t t = 0; t < nt; t++) {
        TUPLE(t);
        for (int c = 0; c < L; c++)
            W[c] = prior[c];
        for (int r = 0; r < k; r++)
            for (int c = 0; c < L; c++)
                W[c] *= theta[(size_t)r * msz + (size_t)lab[r] * (size_t)L + (size_t)c];
        int best = 0;
        for (int c = 1; c < L; c++)
            if (W[c] > W[best])
                best = c;
        winner[t] = best;
    }
#undef TUPLE
    free(upd);
    free(W);
    free(lab);
    free(votes);
    out->k = k;
    out->nlabels = L;
    out->iterations = (int)iter;
    out->theta = theta;
    out->prior = prior;
    out->winner = winner;
    out->ntuples = nt;
    return 0;
}

void ps_staple_ml_result_clear(ps_staple_ml_result *r)
{
    if (!r)
        return;
    free(r->theta);
    free(r->prior);
    free(r->winner);
    memset(r, 0, sizeof *r);
}
