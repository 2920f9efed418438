#!/usr/bin/python3
"""Expected tables of `panseval reproduce` (ps_reproduce_report) from its per-case inputs.

Run from the repository root with Debian's interpreter:

    /usr/bin/python3 tests/reference/reproduce_reference.py

Inputs (committed): tests/golden/reproduce/per_case.csv and raters.csv, the per-case tables
of `panseval metrics` on the demo data set (seed 1) with one prediction truncated, so one row
has status=error; data-manifests/published/pansegnet.tsv.

Writes tests/golden/reproduce/expected_<table>.csv, one per table of the report, with the
column names of the produced tables; tests/report/test_reproduce.c compares every number to
1e-9 relative. Independent implementations:
  summaries       numpy mean, std(ddof=1), percentile (linear = type 7); pandas grouping
  compare         scipy.stats.ttest_rel (CI with the t quantile from mpmath), scipy.stats.wilcoxon (R's rule: exact below 50
                  pairs without ties or zeros), statsmodels multipletests(method="holm")
                  across every row
  volume          statsmodels OLS, sklearn r2_score, scipy pearsonr, numpy Bland-Altman,
                  scipy.stats.ttest_rel(pred, ref)
The exclusion rule (docs/stats.md): rows with status error or missing never enter; a value
enters when it is finite. Dice is reported in percent: dice_pct = 100 * dice per case.
"""
import csv
import math
import os

import mpmath as mp
import numpy as np
import pandas as pd
import scipy.stats as st
import statsmodels.api as sm
from sklearn.metrics import r2_score
from statsmodels.stats.multitest import multipletests

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
G = os.path.join(ROOT, "tests", "golden", "reproduce")
STATUSES = ["ok", "pred_empty", "ref_empty", "both_empty", "error", "missing"]


def t_quantile_975(df):
    """t_{0.975, df} to 17 digits with mpmath: scipy 1.10's t.ppf is off by up to ~1e-9
    relative (df 6: 2.4469118487916806 against 2.4469118511449700)."""
    mp.mp.dps = 40
    f = lambda x: mp.betainc(df / 2.0, 0.5, 0, df / (df + x * x), regularized=True) / 2 - mp.mpf("0.025")
    return float(mp.findroot(f, 2.0))


def read(name):
    t = pd.read_csv(os.path.join(G, name), keep_default_na=False, dtype=str)
    return t


def num(s):
    s = s.strip()
    if s == "" or s.lower() == "nan":
        return math.nan
    return float(s)


def entering(rows, metric, scale=1.0):
    """Values of `metric` of the rows that enter (status not error/missing, finite)."""
    out = []
    for _, r in rows.iterrows():
        if r["status"] in ("error", "missing"):
            continue
        v = num(r[metric])
        if math.isfinite(v):
            out.append(v * scale)
    return np.array(out, dtype=float)


def describe(v):
    if len(v) == 0:
        return dict(n=0, mean=math.nan, sd=math.nan, median=math.nan, q1=math.nan, q3=math.nan)
    return dict(n=len(v), mean=float(np.mean(v)),
                sd=float(np.std(v, ddof=1)) if len(v) > 1 else math.nan,
                median=float(np.percentile(v, 50)), q1=float(np.percentile(v, 25)),
                q3=float(np.percentile(v, 75)))


def groups(t, by):
    """Groups in order of first appearance (as ps_groups_build)."""
    keys = []
    for _, r in t.iterrows():
        k = tuple(r[c] for c in by)
        if k not in keys:
            keys.append(k)
    for k in keys:
        mask = np.ones(len(t), dtype=bool)
        for c, v in zip(by, k):
            mask &= (t[c] == v).to_numpy()
        yield k, t[mask]


def summary(t, by, metrics):
    rows = []
    for k, g in groups(t, by):
        row = dict(zip(by, k))
        row["n_rows"] = len(g)
        for s in STATUSES:
            row["n_" + s] = int((g["status"] == s).sum())
        for m in metrics:
            scale, name = (100.0, "dice_pct") if m == "dice" else (1.0, m)
            d = describe(entering(g, m, scale))
            row[m + "_n"] = d["n"]
            for s in ("mean", "sd", "median", "q1", "q3"):
                row[f"{name}_{s}"] = d[s]
        rows.append(row)
    return rows


def wilcoxon_r(a, b):
    """R's wilcox.test(a, b, paired = TRUE) defaults: V = sum of ranks of positive d; exact
    when n < 50 and no ties or zeros, else normal with continuity correction."""
    d = np.asarray(a) - np.asarray(b)
    d = d[d != 0]
    n = len(d)
    if n == 0:
        return math.nan, math.nan
    ranks = st.rankdata(np.abs(d))
    v = float(ranks[d > 0].sum())
    ties = len(np.unique(np.abs(d))) < n
    method = "exact" if n < 50 and not ties else "approx"
    p = st.wilcoxon(d, zero_method="wilcox", correction=True, method=method).pvalue
    return v, float(p)


def write(name, rows, cols):
    with open(os.path.join(G, f"expected_{name}.csv"), "w", newline="") as f:
        w = csv.writer(f, lineterminator="\n")
        w.writerow(cols)
        for r in rows:
            w.writerow([("nan" if isinstance(r[c], float) and math.isnan(r[c]) else
                         repr(r[c]) if isinstance(r[c], float) else r[c]) for c in cols])


def main():
    pc = read("per_case.csv")
    raters = read("raters.csv")
    stat_cols = lambda name: [f"{name}_{s}" for s in ("mean", "sd", "median", "q1", "q3")]
    counts = ["n_rows"] + ["n_" + s for s in STATUSES]

    metrics = ["dice", "hd95", "assd", "nsd", "precision", "sensitivity"]
    bymod = summary(pc, ["model", "modality"], metrics)
    cols = ["model", "modality"] + counts
    for m in metrics:
        cols += [m + "_n"] + stat_cols("dice_pct" if m == "dice" else m)
    write("by_modality", bymod, cols)

    bycenter = summary(pc, ["model", "center", "modality"], ["dice", "hd95"])
    write("by_center", bycenter, ["model", "center", "modality"] + counts +
          ["dice_n"] + stat_cols("dice_pct") + ["hd95_n"] + stat_cols("hd95"))

    cc = summary(pc, ["model", "center"], ["dice"])
    centers = list(dict.fromkeys(pc["center"]))
    cross = []
    for m in dict.fromkeys(pc["model"]):
        row = {"model": m}
        for c in centers:
            hit = [r for r in cc if r["model"] == m and r["center"] == c]
            row[c] = hit[0]["dice_pct_mean"] if hit else math.nan
        cross.append(row)
    write("cross_center", cross, ["model"] + centers)

    # paired comparisons: each model against the baseline modelB, per modality, Dice and HD95
    comp = []
    for model in dict.fromkeys(pc["model"]):
        if model == "modelB":
            continue
        for (mod,), g in groups(pc, ["modality"]):
            for metric in ("dice", "hd95"):
                a_rows = g[g["model"] == model]
                b_rows = g[g["model"] == "modelB"]
                a, b = [], []
                for _, ra in a_rows.iterrows():
                    rb = b_rows[(b_rows["case"] == ra["case"]) & (b_rows["label"] == ra["label"])]
                    if len(rb) != 1:
                        continue
                    rb = rb.iloc[0]
                    if ra["status"] in ("error", "missing") or rb["status"] in ("error", "missing"):
                        continue
                    va, vb = num(ra[metric]), num(rb[metric])
                    if math.isfinite(va) and math.isfinite(vb):
                        a.append(va)
                        b.append(vb)
                a, b = np.array(a), np.array(b)
                n = len(a)
                tt = st.ttest_rel(a, b)
                d = a - b
                half = t_quantile_975(n - 1) * np.std(d, ddof=1) / math.sqrt(n)
                v, pw = wilcoxon_r(a, b)
                comp.append(dict(modality=mod, metric=metric, model_a=model, model_b="modelB",
                                 n=n, mean_a=float(a.mean()), mean_b=float(b.mean()),
                                 mean_diff=float(d.mean()), sd_diff=float(np.std(d, ddof=1)),
                                 t=float(tt.statistic), df=float(n - 1), p_t=float(tt.pvalue),
                                 ci_low=float(d.mean() - half), ci_high=float(d.mean() + half),
                                 wilcoxon_v=v, p_wilcoxon=pw))
    for key in ("p_t", "p_wilcoxon"):
        p = np.array([r[key] for r in comp])
        ok = ~np.isnan(p)
        adj = np.full(len(p), math.nan)
        adj[ok] = multipletests(p[ok], method="holm")[1]
        for r, x in zip(comp, adj):
            r[key + "_holm"] = float(x)
    write("compare", comp, ["modality", "metric", "model_a", "model_b", "n", "mean_a", "mean_b",
                            "mean_diff", "sd_diff", "t", "df", "p_t", "ci_low", "ci_high",
                            "wilcoxon_v", "p_wilcoxon", "p_t_holm", "p_wilcoxon_holm"])

    vol = []
    for (model, mod), g in groups(pc, ["model", "modality"]):
        x, y = [], []
        for _, r in g.iterrows():
            if r["status"] in ("error", "missing"):
                continue
            a, b = num(r["vol_ref_ml"]), num(r["vol_pred_ml"])
            if math.isfinite(a) and math.isfinite(b):
                x.append(a)
                y.append(b)
        x, y = np.array(x), np.array(y)
        fit = sm.OLS(y, sm.add_constant(x)).fit()
        d = y - x
        k = st.norm.ppf(0.975)
        tt = st.ttest_rel(y, x)
        n = len(x)
        half = t_quantile_975(n - 1) * np.std(d, ddof=1) / math.sqrt(n)
        vol.append(dict(model=model, modality=mod, n=n, slope=float(fit.params[1]),
                        intercept=float(fit.params[0]), r2=float(fit.rsquared),
                        r2_identity=float(r2_score(x, y)),
                        pearson_r=float(st.pearsonr(x, y)[0]), ba_bias=float(d.mean()),
                        ba_sd=float(np.std(d, ddof=1)),
                        ba_loa_low=float(d.mean() - k * np.std(d, ddof=1)),
                        ba_loa_high=float(d.mean() + k * np.std(d, ddof=1)),
                        vol_t=float(tt.statistic), vol_df=float(n - 1), vol_p_t=float(tt.pvalue),
                        vol_diff_ci_low=float(d.mean() - half),
                        vol_diff_ci_high=float(d.mean() + half)))
    write("volume", vol, ["model", "modality", "n", "slope", "intercept", "r2", "r2_identity",
                          "pearson_r", "ba_bias", "ba_sd", "ba_loa_low", "ba_loa_high", "vol_t",
                          "vol_df", "vol_p_t", "vol_diff_ci_low", "vol_diff_ci_high"])

    rat = summary(raters, ["model", "modality"], ["kappa", "dice", "hd95"])
    names = {r["model"] for r in rat}
    for r in rat:
        r["rater"] = r.pop("model")
        base, _, session = r["rater"][len("rater:"):].partition(":")
        # a session of a rater without a session-less column: ref is that rater's first
        r["kind"] = "intra" if session and "rater:" + base not in names else "inter"
    write("raters", rat, ["kind", "rater", "modality"] + counts + ["kappa_n"] +
          stat_cols("kappa") + ["dice_n"] + stat_cols("dice_pct") + ["hd95_n"] + stat_cols("hd95"))

    pub = pd.read_csv(os.path.join(ROOT, "data-manifests", "published", "pansegnet.tsv"),
                      sep="\t", comment="#", keep_default_na=False, dtype=str)
    prow = []
    for _, p in pub.iterrows():
        base = dict(modality=p["modality"], metric=p["metric"], published=float(p["value"]),
                    published_sd=num(p["sd"]), source=p["source"])
        if p["metric"] == "dice_pct":
            for r in bymod:
                if r["modality"] == p["modality"]:
                    prow.append(dict(base, model=r["model"], n=r["dice_n"],
                                     reproduced=r["dice_pct_mean"], reproduced_sd=r["dice_pct_sd"]))
        elif p["metric"] == "volume_r2":
            for r in vol:
                if r["modality"] == p["modality"]:
                    prow.append(dict(base, model=r["model"], n=r["n"], reproduced=r["r2"],
                                     reproduced_sd=math.nan))
        elif p["metric"] == "kappa_inter":
            for r in rat:
                if (r["modality"] == p["modality"] and r["kind"] == "inter"
                        and ":" not in r["rater"][len("rater:"):]):
                    prow.append(dict(base, model=r["rater"], n=r["kappa_n"],
                                     reproduced=r["kappa_mean"], reproduced_sd=r["kappa_sd"]))
    write("published", prow, ["modality", "metric", "published", "published_sd", "source",
                              "model", "n", "reproduced", "reproduced_sd"])


if __name__ == "__main__":
    main()
