#!/usr/bin/python3
"""Reference values for the rater-agreement statistics (stats/ps_stats_agreement.h).

Run with Debian's interpreter from the repository root:
    /usr/bin/python3 tests/reference/agreement_reference.py > tests/golden/stats/agreement_expected.csv

Reads tests/golden/stats/agreement_data_*.csv (written once by agreement_make_data.py) and prints
one CSV row per expected value: dataset, raters, method, option, key, value, source.
`raters` lists the 0-based rater columns used ("all" = every column); rows with a missing
rating among those columns are dropped first (listwise), except for Krippendorff's alpha, which
uses every pairable value.

Sources, independent of panseval's C code:
  cohen    statsmodels.stats.inter_rater.cohens_kappa (kappa, ASE, ASE under H0, z, p, CI;
           SAS PROC FREQ formulas) with weights = category positions 0..k-1 and
           wt=None/'linear'/'quadratic'; the kappa value again from sklearn cohen_kappa_score.
  fleiss   kappa from statsmodels.stats.inter_rater.fleiss_kappa; SE0, z, p from a numpy
           transcription of R irr::kappam.fleiss (exact=FALSE), i.e. Fleiss, Nee & Landis (1979):
           var0 = 2 / ((sum p_j q_j)^2 n m (m-1)) * ((sum p_j q_j)^2 - sum p_j q_j (q_j - p_j)).
           (agreement_reference.R transcribes the same formula in base R.)
  light    mean of the pairwise sklearn cohen_kappa_score values (Light 1971; irr::kappam.light).
  alpha    Krippendorff's alpha: an independent numpy implementation of the published definition
           (Krippendorff 2011, coincidence matrix of pairable values), below.
  icc      numpy two-way ANOVA mean squares + scipy.stats.f, transcribing Shrout & Fleiss (1979)
           and McGraw & Wong (1996) as R psych::ICC does (agreement_reference.R: base R).
"""
import csv
import glob
import math
import os
import sys

import numpy as np
import scipy
import scipy.stats as st
import sklearn
import statsmodels
from sklearn.metrics import cohen_kappa_score
from statsmodels.stats.inter_rater import aggregate_raters, cohens_kappa, fleiss_kappa

HERE = os.path.dirname(os.path.abspath(__file__))
DATA = os.path.join(HERE, "..", "golden", "stats")
SM = "statsmodels %s cohens_kappa" % statsmodels.__version__
SK = "sklearn %s cohen_kappa_score" % sklearn.__version__
SP = "numpy %s + scipy %s" % (np.__version__, scipy.__version__)
LEVEL = 0.95


def load(name):
    with open(os.path.join(DATA, "agreement_data_%s.csv" % name)) as f:
        rows = list(csv.reader(f))
    header, body = rows[0], rows[1:]
    x = np.array([[float("nan") if c in ("", "NA", "nan") else float(c) for c in r] for r in body])
    return header, x


def complete(x, cols):
    sub = x[:, cols]
    return sub[~np.isnan(sub).any(axis=1)]


def out(rows, dataset, raters, method, option, key, value, source):
    rows.append((dataset, raters, method, option, key, repr(float(value)), source))


# ---- Cohen's kappa -----------------------------------------------------------------------------
def cohen(rows, dataset, x, i, j, listwise=False):
    """listwise: use only the rows complete for every rater (what `panseval kappa` does for
    three or more raters); otherwise the rows complete for raters i and j."""
    if listwise:
        sub = complete(x, list(range(x.shape[1])))[:, [i, j]]
    else:
        sub = complete(x, [i, j])
    cats = np.unique(sub)  # union of observed values, numeric order
    k = len(cats)
    table = np.zeros((k, k))
    for a, b in sub:
        table[np.searchsorted(cats, a), np.searchsorted(cats, b)] += 1
    rs = "%d %d%s" % (i, j, " listwise" if listwise else "")
    for opt, wt in (("none", None), ("linear", "linear"), ("quadratic", "quadratic")):
        if wt is None:
            r = cohens_kappa(table)
        else:
            r = cohens_kappa(table, weights=np.arange(k), wt=wt)
        z = r.kappa / math.sqrt(r.var_kappa0)
        zc = st.norm.isf((1 - LEVEL) / 2)
        vals = dict(kappa=r.kappa, se=math.sqrt(r.var_kappa), se0=math.sqrt(r.var_kappa0), z=z,
                    p=2 * st.norm.sf(abs(z)),
                    ci_low=r.kappa - zc * math.sqrt(r.var_kappa),
                    ci_high=r.kappa + zc * math.sqrt(r.var_kappa))
        for key, v in vals.items():
            out(rows, dataset, rs, "cohen", opt, key, v, SM)
        ks = cohen_kappa_score(sub[:, 0], sub[:, 1], weights=wt)
        out(rows, dataset, rs, "cohen", opt, "kappa", ks, SK)


# ---- Fleiss' kappa -------------------------------------------------------------------------------
def fleiss(rows, dataset, x):
    sub = complete(x, list(range(x.shape[1])))
    counts, _ = aggregate_raters(sub)  # subjects x categories
    kappa = fleiss_kappa(counts, method="fleiss")
    out(rows, dataset, "all", "fleiss", "", "kappa", kappa,
        "statsmodels %s fleiss_kappa" % statsmodels.__version__)
    # irr::kappam.fleiss transcription (Fleiss, Nee & Landis 1979)
    n, m = sub.shape
    pj = counts.sum(axis=0) / (n * m)
    qj = 1 - pj
    spq = np.sum(pj * qj)
    var0 = 2 / (spq ** 2 * (n * m * (m - 1))) * (spq ** 2 - np.sum(pj * qj * (qj - pj)))
    se0 = math.sqrt(var0)
    z = kappa / se0
    src = "numpy transcription of irr::kappam.fleiss"
    out(rows, dataset, "all", "fleiss", "", "se0", se0, src)
    out(rows, dataset, "all", "fleiss", "", "z", z, src)
    out(rows, dataset, "all", "fleiss", "", "p", 2 * st.norm.sf(abs(z)), src + " (2*norm.sf)")


def light(rows, dataset, x):
    m = x.shape[1]
    sub = complete(x, list(range(m)))
    ks = [cohen_kappa_score(sub[:, a], sub[:, b]) for a in range(m) for b in range(a + 1, m)]
    out(rows, dataset, "all", "light", "", "kappa", np.mean(ks), "mean of " + SK)


# ---- Krippendorff's alpha ---------------------------------------------------------------------------
def kripp_alpha(x, level):
    """Krippendorff (2011): alpha = 1 - (n.. - 1) * sum_ck o_ck d2_ck / sum_ck n_c n_k d2_ck,
    o_ck = sum over units u of (number of c-k pairs of values from different coders in u)/(m_u - 1),
    over units with m_u >= 2 values (pairable values); n_c = sum_k o_ck; n.. = sum_c n_c."""
    units = [u[~np.isnan(u)] for u in x]
    units = [u for u in units if len(u) >= 2]
    vals = np.unique(np.concatenate(units))
    V = len(vals)
    o = np.zeros((V, V))
    for u in units:
        idx = np.searchsorted(vals, u)
        mu = len(u)
        for a in range(mu):
            for b in range(mu):
                if a != b:
                    o[idx[a], idx[b]] += 1.0 / (mu - 1)
    nc = o.sum(axis=1)
    ntot = nc.sum()
    c = vals[:, None]
    k = vals[None, :]
    if level == "nominal":
        d2 = (c != k).astype(float)
    elif level == "interval":
        d2 = (c - k) ** 2
    elif level == "ratio":
        with np.errstate(invalid="ignore", divide="ignore"):
            d2 = ((c - k) / (c + k)) ** 2
        d2[np.isnan(d2)] = 0.0
    elif level == "ordinal":
        cum = np.concatenate([[0.0], np.cumsum(nc)])
        d2 = np.zeros((V, V))
        for g in range(V):
            for h in range(V):
                lo, hi = min(g, h), max(g, h)
                d2[g, h] = (cum[hi + 1] - cum[lo] - (nc[g] + nc[h]) / 2) ** 2
    else:
        raise ValueError(level)
    do = np.sum(o * d2)
    de = np.sum(np.outer(nc, nc) * d2)
    return 1 - (ntot - 1) * do / de


def alpha(rows, dataset, x):
    for level in ("nominal", "ordinal", "interval", "ratio"):
        out(rows, dataset, "all", "alpha", level, "alpha", kripp_alpha(x, level),
            "numpy %s implementation of Krippendorff (2011)" % np.__version__)


# ---- ICC ----------------------------------------------------------------------------------------
def icc(rows, dataset, x):
    y = complete(x, list(range(x.shape[1])))
    n, k = y.shape
    g = y.mean()
    rm = y.mean(axis=1)
    cm = y.mean(axis=0)
    ssb = k * np.sum((rm - g) ** 2)
    ssj = n * np.sum((cm - g) ** 2)
    ssw = np.sum((y - rm[:, None]) ** 2)
    sse = np.sum((y - rm[:, None] - cm[None, :] + g) ** 2)
    msb, msj = ssb / (n - 1), ssj / (k - 1)
    msw, mse = ssw / (n * (k - 1)), sse / ((n - 1) * (k - 1))
    a = (1 - LEVEL) / 2
    F = st.f
    f1, d1n, d1d = msb / msw, n - 1, n * (k - 1)
    f3, d3n, d3d = msb / mse, n - 1, (n - 1) * (k - 1)
    icc1 = (msb - msw) / (msb + (k - 1) * msw)
    icc2 = (msb - mse) / (msb + (k - 1) * mse + k * (msj - mse) / n)
    icc3 = (msb - mse) / (msb + (k - 1) * mse)
    icc1k = (msb - msw) / msb
    icc2k = (msb - mse) / (msb + (msj - mse) / n)
    icc3k = (msb - mse) / msb
    f1l, f1u = f1 / F.isf(a, d1n, d1d), f1 * F.isf(a, d1d, d1n)
    f3l, f3u = f3 / F.isf(a, d3n, d3d), f3 * F.isf(a, d3d, d3n)
    fj = msj / mse
    vn = (k - 1) * (n - 1) * (k * icc2 * fj + n * (1 + (k - 1) * icc2) - k * icc2) ** 2
    vd = (n - 1) * k ** 2 * icc2 ** 2 * fj ** 2 + (n * (1 + (k - 1) * icc2) - k * icc2) ** 2
    v = vn / vd
    fu2, fl2 = F.isf(a, n - 1, v), F.isf(a, v, n - 1)
    base = k * msj + (k * n - k - n) * mse
    l2 = n * (msb - fu2 * mse) / (fu2 * base + n * msb)
    u2 = n * (fl2 * msb - mse) / (base + n * fl2 * msb)
    p1, p3 = F.sf(f1, d1n, d1d), F.sf(f3, d3n, d3d)
    forms = {
        "ICC1": (icc1, f1, d1n, d1d, p1, (f1l - 1) / (f1l + k - 1), (f1u - 1) / (f1u + k - 1)),
        "ICC2": (icc2, f3, d3n, d3d, p3, l2, u2),
        "ICC3": (icc3, f3, d3n, d3d, p3, (f3l - 1) / (f3l + k - 1), (f3u - 1) / (f3u + k - 1)),
        "ICC1k": (icc1k, f1, d1n, d1d, p1, 1 - 1 / f1l, 1 - 1 / f1u),
        "ICC2k": (icc2k, f3, d3n, d3d, p3, l2 * k / (1 + l2 * (k - 1)), u2 * k / (1 + u2 * (k - 1))),
        "ICC3k": (icc3k, f3, d3n, d3d, p3, 1 - 1 / f3l, 1 - 1 / f3u),
    }
    keys = ("icc", "f", "df1", "df2", "p", "ci_low", "ci_high")
    for name, vals in forms.items():
        for key, val in zip(keys, vals):
            out(rows, dataset, "all", "icc", name, key, val,
                SP + " transcription of psych::ICC (Shrout-Fleiss 1979, McGraw-Wong 1996)")


def main():
    rows = []
    # two-rater data sets and pairs
    for name in ("sas10", "n2", "rand_k5_n500"):
        _, x = load(name)
        cohen(rows, name, x, 0, 1)
    for name in ("wiki_fleiss",):
        _, x = load(name)
        fleiss(rows, name, x)
    for name in ("anxiety", "diagnoses", "rand_multi"):
        _, x = load(name)
        m = x.shape[1]
        for i in range(m):
            for j in range(i + 1, m):
                cohen(rows, name, x, i, j)
                if np.isnan(x).any():
                    cohen(rows, name, x, i, j, listwise=True)
        fleiss(rows, name, x)
        light(rows, name, x)
    for name in ("anxiety", "diagnoses", "rand_multi", "kripp2011", "cont_missing", "icc_int",
                 "rand_k5_n500"):
        _, x = load(name)
        alpha(rows, name, x)
    for name in ("shrout", "icc_rand", "icc_int", "icc_large", "icc_wide", "cont_missing",
                 "icc_n2"):
        _, x = load(name)
        icc(rows, name, x)
    w = csv.writer(sys.stdout, lineterminator="\n")
    sys.stdout.write("# generated by tests/reference/agreement_reference.py; do not edit\n")
    w.writerow(("dataset", "raters", "method", "option", "key", "value", "source"))
    for r in rows:
        w.writerow(r)


if __name__ == "__main__":
    main()
