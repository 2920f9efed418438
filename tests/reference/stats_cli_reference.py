#!/usr/bin/python3
"""Writes the small per-case table used by the CLI tests of compare / volume / describe
(tests/golden/stats/cli_table.csv) and the values those commands must print
(tests/golden/stats/cli_expected.tsv), computed here with scipy 1.10, statsmodels,
scikit-learn and numpy. Run from the repository root:
    /usr/bin/python3 tests/reference/stats_cli_reference.py

Table: models A and B on CT cases ct01..ct14 (centers c1, c2) and MRI cases mr01..mr10.
Special rows: ct14 only for model A (unpaired); mr03 model B status pred_empty (Dice 0,
HD95 nan); mr07 model B status error with empty metric cells. Dice is rounded to 3 decimals.
"""
import math

import numpy as np
import scipy
import scipy.stats as ss
import sklearn
import statsmodels
import statsmodels.api as sm
from scipy.stats._resampling import _bca_interval
from sklearn.metrics import r2_score
from statsmodels.stats.multitest import multipletests

rng = np.random.RandomState(31337)
rows = []
for mod, ncase, prefix in (("CT", 14, "ct"), ("MRI", 10, "mr")):
    for i in range(1, ncase + 1):
        case = "%s%02d" % (prefix, i)
        center = "c1" if i % 2 else "c2"
        vref = float(np.round(rng.uniform(40, 120), 2))
        base = rng.uniform(0.6, 0.9)
        for model, shift in (("A", 0.03), ("B", 0.0)):
            if case == "ct14" and model == "B":
                continue
            dice = float(np.round(min(0.99, base + shift + rng.normal(0, 0.04)), 3))
            vpred = float(np.round(vref * (0.9 + 0.15 * dice) + rng.normal(0, 4), 2))
            hd95 = float(np.round(rng.uniform(2, 15), 3))
            status = "ok"
            if case == "mr03" and model == "B":
                status, dice, vpred, hd95 = "pred_empty", 0.0, 0.0, float("nan")
            if case == "mr07" and model == "B":
                rows.append([case, model, mod, center, "1", "error", "", "", "", "",
                             "cannot read prediction"])
                continue
            rows.append([case, model, mod, center, "1", status, repr(dice), repr(vref),
                         repr(vpred), "nan" if math.isnan(hd95) else repr(hd95), ""])

with open("tests/golden/stats/cli_table.csv", "w") as f:
    f.write("case,model,modality,center,label,status,dice,vol_ref_ml,vol_pred_ml,hd95,message\n")
    for r in rows:
        f.write(",".join(r) + "\n")

tab = rows
out = []
SRC = "scipy %s / statsmodels %s / sklearn %s / numpy %s" % (
    scipy.__version__, statsmodels.__version__, sklearn.__version__, np.__version__)


def put(test, group, key, value, src):
    out.append("%s\t%s\t%s\t%r\t%s" % (test, group, key, float(value), src))


def col(r, name):
    names = ["case", "model", "modality", "center", "label", "status", "dice", "vol_ref_ml",
             "vol_pred_ml", "hd95", "message"]
    return r[names.index(name)]


# ---- compare --a A --b B --by modality (R convention, holm) ----------------------------------
# test "compare": --metric dice; test "compare2": --metric dice,hd95, where the Holm correction
# runs over the four (modality, metric) rows together (group key "CT/hd95").
groups = ["CT", "MRI"]


def compare(test, metrics):
    pt, pw, keys_out = [], [], []
    for g in groups:
        A = {col(r, "case"): r for r in tab if col(r, "modality") == g and col(r, "model") == "A"}
        B = {col(r, "case"): r for r in tab if col(r, "modality") == g and col(r, "model") == "B"}
        keys = sorted(set(A) | set(B))
        for metric in metrics:
            gk = g if len(metrics) == 1 else g + "/" + metric
            a, b, nex = [], [], 0
            # the exclusion rule of docs/stats.md: a pair enters when both rows have a finite
            # value and neither has status error or missing (mr03 B, pred_empty with Dice 0,
            # enters for dice; its HD95 is nan; mr07 B, error, never; ct14 is unpaired)
            for k in keys:
                if (k not in A or k not in B
                        or col(A[k], "status") in ("error", "missing")
                        or col(B[k], "status") in ("error", "missing")
                        or not math.isfinite(float(col(A[k], metric)))
                        or not math.isfinite(float(col(B[k], metric)))):
                    nex += 1
                    continue
                a.append(float(col(A[k], metric)))
                b.append(float(col(B[k], metric)))
            a, b = np.array(a), np.array(b)
            d = a - b
            n = len(d)
            t = ss.ttest_rel(a, b)
            half = ss.t.ppf(0.975, n - 1) * np.std(d, ddof=1) / math.sqrt(n)
            nz = np.sum(d == 0)
            ties = len(np.unique(np.abs(d[d != 0]))) != np.sum(d != 0)
            # R wilcox.test(paired = TRUE) defaults: exact iff n < 50, no ties, no zeros; else
            # normal approximation with continuity correction (scipy reproduces both branches)
            method = "exact" if (n < 50 and not ties and nz == 0) else "approx"
            w = ss.wilcoxon(a, b, correction=True, method=method)
            v = ss.wilcoxon(a, b, correction=True, method=method,
                            alternative="greater").statistic
            src = SRC + " ttest_rel, t.ppf, wilcoxon(method=%s, correction=True)" % method
            for k_, v_ in (("n", n), ("n_excluded", nex), ("mean_a", np.mean(a)),
                           ("mean_b", np.mean(b)), ("mean_diff", np.mean(d)),
                           ("sd_diff", np.std(d, ddof=1)), ("t", t.statistic), ("df", n - 1),
                           ("p_t", t.pvalue), ("ci_low", np.mean(d) - half),
                           ("ci_high", np.mean(d) + half),
                           ("dz", np.mean(d) / np.std(d, ddof=1)), ("wilcoxon_v", v),
                           ("p_wilcoxon", w.pvalue),
                           ("wilcoxon_exact", 1 if method == "exact" else 0)):
                put(test, gk, k_, v_, src)
            pt.append(t.pvalue)
            pw.append(w.pvalue)
            keys_out.append(gk)
    for gk, pa, pb in zip(keys_out, multipletests(pt, method="holm")[1],
                          multipletests(pw, method="holm")[1]):
        put(test, gk, "p_t_adj", pa, "statsmodels multipletests holm")
        put(test, gk, "p_wilcoxon_adj", pb, "statsmodels multipletests holm")


compare("compare", ["dice"])
compare("compare2", ["dice", "hd95"])

# ---- volume --model A --by modality ---------------------------------------------------------
for g in groups:
    sel = [r for r in tab if col(r, "modality") == g and col(r, "model") == "A"]
    x = np.array([float(col(r, "vol_ref_ml")) for r in sel])
    y = np.array([float(col(r, "vol_pred_ml")) for r in sel])
    n = len(x)
    fit = sm.OLS(y, sm.add_constant(x)).fit()
    pr = ss.pearsonr(x, y)
    sp = ss.spearmanr(x, y)
    z, h = np.arctanh(pr[0]), ss.norm.ppf(0.975) / math.sqrt(n - 3)
    d = y - x
    bias, s = np.mean(d), np.std(d, ddof=1)
    k, tq = ss.norm.ppf(0.975), ss.t.ppf(0.975, n - 1)
    se_loa = math.sqrt(3 * s * s / n)
    vals = [("n", n), ("n_excluded", 0), ("slope", fit.params[1]), ("intercept", fit.params[0]),
            ("slope_se", fit.bse[1]), ("intercept_se", fit.bse[0]), ("slope_p", fit.pvalues[1]),
            ("intercept_p", fit.pvalues[0]), ("r2", fit.rsquared),
            ("r2_identity", r2_score(x, y)), ("pearson_r", pr[0]), ("pearson_p", pr[1]),
            ("pearson_ci_low", math.tanh(z - h)), ("pearson_ci_high", math.tanh(z + h)),
            ("spearman_rho", sp.correlation), ("spearman_p", sp.pvalue), ("ba_bias", bias),
            ("ba_sd", s), ("ba_loa_low", bias - k * s), ("ba_loa_high", bias + k * s),
            ("ba_bias_ci_low", bias - tq * s / math.sqrt(n)),
            ("ba_bias_ci_high", bias + tq * s / math.sqrt(n)),
            ("ba_loa_low_ci_low", bias - k * s - tq * se_loa),
            ("ba_loa_low_ci_high", bias - k * s + tq * se_loa),
            ("ba_loa_high_ci_low", bias + k * s - tq * se_loa),
            ("ba_loa_high_ci_high", bias + k * s + tq * se_loa)]
    for k_, v_ in vals:
        put("volume", g, k_, v_, SRC + " OLS, r2_score, pearsonr, spearmanr, Bland-Altman formula")


# ---- describe --metric dice --by modality --model B --bootstrap 500 --seed 7 -----------------
def gsl_bootstrap_indices(seed, n, B):
    bits = np.random.RandomState(seed)._bit_generator
    scale = 0xFFFFFFFF // n
    flat = []
    while len(flat) < B * n:
        u = int(bits.random_raw(1)[0])
        if u // scale < n:
            flat.append(u // scale)
    return np.array(flat).reshape(B, n)


def fsum_mean(v, axis=-1):
    return np.apply_along_axis(lambda w: math.fsum(w) / len(w), axis, v)


for g in groups:
    sel = [r for r in tab if col(r, "modality") == g and col(r, "model") == "B"]
    nex = sum(1 for r in sel if col(r, "status") == "error")
    x = np.array([float(col(r, "dice")) for r in sel if col(r, "status") != "error"])
    n = len(x)
    half = ss.t.ppf(0.975, n - 1) * np.std(x, ddof=1) / math.sqrt(n)
    q1, q3 = np.quantile(x, [0.25, 0.75])
    vals = [("n", n), ("n_excluded", nex), ("mean", np.mean(x)), ("sd", np.std(x, ddof=1)),
            ("median", np.median(x)), ("q1", q1), ("q3", q3), ("iqr", q3 - q1),
            ("min", np.min(x)), ("max", np.max(x)), ("ci_low", np.mean(x) - half),
            ("ci_high", np.mean(x) + half)]
    theta = fsum_mean(x[gsl_bootstrap_indices(7, n, 500)])
    a1, a2, _ = _bca_interval((x,), fsum_mean, -1, 0.025, theta, None)
    vals += [("boot_replicates", 500), ("boot_pct_low", np.quantile(theta, 0.025)),
             ("boot_pct_high", np.quantile(theta, 0.975)),
             ("boot_bca_low", np.quantile(theta, a1)), ("boot_bca_high", np.quantile(theta, a2))]
    for k_, v_ in vals:
        put("describe", g, k_, v_, SRC + " mean, std, quantile, t.ppf; GSL mt19937 stream + _bca_interval")

with open("tests/golden/stats/cli_expected.tsv", "w") as f:
    f.write("# written by tests/reference/stats_cli_reference.py for tests/stats/test_stats_cli.c\n")
    f.write("test\tgroup\tkey\tvalue\tsource\n")
    f.write("\n".join(out) + "\n")
