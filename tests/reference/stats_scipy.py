#!/usr/bin/python3
"""Reference values for the stats module from Debian's scipy 1.10, numpy, scikit-learn and
statsmodels. Run from the repository root with Debian's interpreter:
    /usr/bin/python3 tests/reference/stats_scipy.py
Reads tests/golden/stats/paired_data.tsv, writes tests/golden/stats/paired_scipy.tsv.

Bootstrap: the resampling stream of ps_stats_bootstrap() is reproduced here independently:
GSL's gsl_rng_mt19937 seeded with gsl_rng_set(r, s) is the reference MT19937 initialised with
init_genrand(s) (as numpy's legacy RandomState(s)), and gsl_rng_uniform_int(r, n) returns
floor(u / floor((2^32 - 1) / n)) for the next raw 32-bit output u, rejecting values >= n.
The BCa interval is scipy.stats._resampling._bca_interval (scipy 1.10) applied to those
replicate statistics.
"""
import math
import warnings

import numpy as np
import scipy
import scipy.stats as ss
import sklearn
import statsmodels
import statsmodels.api as sm
from scipy.stats._resampling import _bca_interval
from sklearn.metrics import r2_score

warnings.simplefilter("ignore")
SRC_SCIPY = "scipy " + scipy.__version__
SRC_NP = "numpy " + np.__version__

data = {}
with open("tests/golden/stats/paired_data.tsv") as f:
    for line in f:
        if line.startswith("#") or line.startswith("dataset"):
            continue
        ds, i, a, b = line.rstrip("\n").split("\t")
        data.setdefault(ds, ([], []))
        data[ds][0].append(float(a))
        data[ds][1].append(float(b))

rows = []


def put(ds, stat, value, src):
    rows.append("%s\t%s\t%r\t%s" % (ds, stat, float(value), src))


def gsl_bootstrap_indices(seed, n, B):
    bits = np.random.RandomState(seed)._bit_generator
    scale = 0xFFFFFFFF // n
    out = np.empty((B, n), dtype=np.int64)
    flat = out.reshape(-1)
    k = 0
    while k < B * n:
        u = bits.random_raw(1)[0]
        v = u // scale
        if v < n:
            flat[k] = v
            k += 1
    return out


for ds, (a, b) in data.items():
    a = np.array(a)
    b = np.array(b)
    n = len(a)
    # Wilcoxon signed-rank, every scipy setting
    for zm in ("wilcox", "pratt", "zsplit"):
        for method in ("auto", "approx", "exact"):
            for corr in (False, True):
                key = "wxS.%s.%s.%d" % (zm, method, corr)
                src = "%s wilcoxon(zero_method=%s, method=%s, correction=%s)" % (
                    SRC_SCIPY, zm, method, corr)
                try:
                    g = ss.wilcoxon(a, b, zero_method=zm, correction=corr, method=method,
                                    alternative="greater")
                    t = ss.wilcoxon(a, b, zero_method=zm, correction=corr, method=method)
                    l = ss.wilcoxon(a, b, zero_method=zm, correction=corr, method=method,
                                    alternative="less")
                except ValueError:
                    continue
                put(ds, key + ".v", g.statistic, src + " greater: statistic = r_plus")
                put(ds, key + ".p_two", t.pvalue, src)
                put(ds, key + ".p_greater", g.pvalue, src + " greater")
                put(ds, key + ".p_less", l.pvalue, src + " less")
    # descriptive (numpy) of a
    put(ds, "desc.mean", np.mean(a), SRC_NP + " mean")
    put(ds, "desc.sd", np.std(a, ddof=1), SRC_NP + " std ddof=1")
    put(ds, "desc.median", np.median(a), SRC_NP + " median")
    put(ds, "desc.q1", np.quantile(a, 0.25), SRC_NP + " quantile linear")
    put(ds, "desc.q3", np.quantile(a, 0.75), SRC_NP + " quantile linear")
    d = a - b
    t = ss.ttest_rel(a, b)
    put(ds, "t.t", t.statistic, SRC_SCIPY + " ttest_rel")
    put(ds, "t.p_two", t.pvalue, SRC_SCIPY + " ttest_rel")
    put(ds, "t.p_greater", ss.ttest_rel(a, b, alternative="greater").pvalue,
        SRC_SCIPY + " ttest_rel greater")
    if n >= 3 and np.std(b) > 0:
        r = ss.pearsonr(a, b)
        put(ds, "pearson.r", r[0], SRC_SCIPY + " pearsonr")
        put(ds, "pearson.p", r[1], SRC_SCIPY + " pearsonr")
        s = ss.spearmanr(a, b)
        put(ds, "spearman.rho", s.correlation, SRC_SCIPY + " spearmanr")
        put(ds, "spearman.p", s.pvalue, SRC_SCIPY + " spearmanr")
        put(ds, "r2_identity", r2_score(a, b), "sklearn %s r2_score(a, b)" % sklearn.__version__)
        fit = sm.OLS(b, sm.add_constant(a)).fit()
        so = "statsmodels %s OLS(b, add_constant(a))" % statsmodels.__version__
        put(ds, "lm.intercept", fit.params[0], so)
        put(ds, "lm.slope", fit.params[1], so)
        put(ds, "lm.intercept_se", fit.bse[0], so)
        put(ds, "lm.slope_se", fit.bse[1], so)
        put(ds, "lm.intercept_p", fit.pvalues[0], so)
        put(ds, "lm.slope_p", fit.pvalues[1], so)
        put(ds, "lm.r2", fit.rsquared, so)
    # bootstrap CIs of the mean and median of a (B = 2000, seed 12345, level 0.95)
    if ds in ("r_wilcox_ex", "ties30", "cont25", "vol40"):
        B, seed, alpha = 2000, 12345, 0.025
        idx = gsl_bootstrap_indices(seed, n, B)
        def fsum_mean(x, axis=-1):
            # exactly rounded mean: permutations of the sample tie with its mean, as in
            # exact arithmetic (panseval sums sorted values for the same reason)
            return np.apply_along_axis(lambda v: math.fsum(v) / len(v), axis, x)

        for name, fn in (("mean", fsum_mean), ("median", np.median)):
            theta_b = fn(a[idx], axis=-1)
            src = "numpy quantile of replicates from GSL mt19937 stream (seed 12345)"
            put(ds, "boot.%s.pct_low" % name, np.quantile(theta_b, alpha), src)
            put(ds, "boot.%s.pct_high" % name, np.quantile(theta_b, 1 - alpha), src)
            a1, a2, ahat = _bca_interval((a,), lambda x, axis: fn(x, axis=axis), -1,
                                         alpha, theta_b, None)
            src = SRC_SCIPY + " _bca_interval on the same replicates"
            put(ds, "boot.%s.accel" % name, ahat, src)
            put(ds, "boot.%s.bca_low" % name, np.quantile(theta_b, a1), src)
            put(ds, "boot.%s.bca_high" % name, np.quantile(theta_b, a2), src)

with open("tests/golden/stats/paired_scipy.tsv", "w") as f:
    f.write("# written by tests/reference/stats_scipy.py from tests/golden/stats/paired_data.tsv\n")
    f.write("dataset\tstat\tvalue\tsource\n")
    f.write("\n".join(rows) + "\n")
