#!/usr/bin/python3
"""Writes tests/golden/stats/paired_data.tsv: the paired samples (a, b) every stats reference
script and test reads. Values are written with repr() (round-trip exact).

Data sets:
  r_wilcox_ex   R's ?wilcox.test example (Hollander & Wolfe 1973, p. 29: depression scale
                before (x) and after (y) therapy), n = 9
  scipy_ex      scipy.stats.wilcoxon docs example (Fisher's 15 differences; b = 0)
  n2            n = 2, continuous
  ties_zeros20  n = 20 on a 0.25 grid: ties and 3 zero differences
  ties30        n = 30 on a 0.5 grid: ties, no zeros
  cont25        n = 25 continuous (no ties)
  cont50        n = 50 continuous (R: normal approximation; scipy 1.10: exact)
  cont60        n = 60 continuous
  round_ties12  n = 12 whose differences look equal after rounding but are not
                (e.g. 0.3 - 0.1 != 0.2): checks that nothing rounds before tie detection
  vol40         n = 40 volumes in ml (a = reference, b = prediction)
"""
import numpy as np

rng = np.random.RandomState(20240601)
sets = {}
sets["r_wilcox_ex"] = ([1.83, 0.50, 1.62, 2.48, 1.68, 1.88, 1.55, 3.06, 1.30],
                       [0.878, 0.647, 0.598, 2.05, 1.06, 1.29, 1.06, 3.14, 1.29])
d = [6, 8, 14, 16, 23, 24, 28, 29, 41, -48, 49, 56, 60, -67, 75]
sets["scipy_ex"] = ([float(v) for v in d], [0.0] * len(d))
sets["n2"] = (list(rng.uniform(0.6, 0.9, 2)), list(rng.uniform(0.6, 0.9, 2)))
a = np.round(rng.uniform(0, 5, 20) * 4) / 4
b = a - np.round(rng.normal(0.3, 0.6, 20) * 4) / 4
b[[2, 7, 11]] = a[[2, 7, 11]]
sets["ties_zeros20"] = (list(a), list(b))
a = np.round(rng.uniform(0, 10, 30) * 2) / 2
b = a + np.round(rng.normal(0.4, 1.0, 30) * 2) / 2
b[b == a] += 0.5
sets["ties30"] = (list(a), list(b))
for n in (25, 50, 60):
    a = rng.beta(8, 2, n)
    b = np.clip(a + rng.normal(-0.02, 0.05, n), 0, 1)
    sets["cont%d" % n] = (list(a), list(b))
a = [0.3, 0.7, 0.5, 0.9, 0.6, 0.8, 0.45, 0.35, 0.65, 0.85, 0.55, 0.75]
b = [0.1, 0.5, 0.3, 0.7, 0.4, 0.6, 0.25, 0.15, 0.45, 0.65, 0.35, 0.95]
sets["round_ties12"] = (a, b)
ref = rng.uniform(20, 150, 40)
pred = 0.95 * ref + 2.0 + rng.normal(0, 6, 40)
sets["vol40"] = (list(ref), list(pred))

with open("tests/golden/stats/paired_data.tsv", "w") as f:
    f.write("# written by tests/reference/stats_make_data.py (numpy RandomState 20240601)\n")
    f.write("dataset\ti\ta\tb\n")
    for name, (a, b) in sets.items():
        for i, (x, y) in enumerate(zip(a, b)):
            f.write("%s\t%d\t%r\t%r\n" % (name, i, float(x), float(y)))
