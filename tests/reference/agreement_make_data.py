#!/usr/bin/python3
"""Write the input tables of the rater-agreement tests (tests/golden/stats/agreement_data_*.csv).

Run once with Debian's interpreter: /usr/bin/python3 tests/reference/agreement_make_data.py
The tables are committed; agreement_reference.py and agreement_reference.R read them, so the
golden values never depend on a random number generator's version.

One row per subject, one column per rater; "NA" marks a missing rating.

Published data sets (transcribed from the sources named):
  sas10        the 3x3 table of the SAS PROC FREQ kappa example that statsmodels tests against
               (statsmodels/stats/tests/test_inter_rater.py, table10), expanded to 19 subjects
  anxiety      R irr package data set `anxiety` (20 subjects x 3 raters)
  diagnoses    R irr package data set `diagnoses` = Fleiss (1971) psychiatric diagnoses,
               30 subjects x 6 raters, categories 1..5
  wiki_fleiss  the Fleiss' kappa example of Wikipedia (10 subjects x 14 raters, kappa 0.210),
               from its table of counts (statsmodels test_inter_rater.py table1); the raters
               of a row are listed in category order, which Fleiss' kappa does not see
  shrout       Shrout & Fleiss (1979) Table 2: 6 targets x 4 judges
  kripp2011    Krippendorff (2011) "Computing Krippendorff's Alpha-Reliability", section C:
               12 units x 4 observers (A-D), values 1..5, missing values
"""
import os

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
OUT = os.path.join(HERE, "..", "golden", "stats")


def write(name, header, rows, fmt=None):
    path = os.path.join(OUT, "agreement_data_%s.csv" % name)
    with open(path, "w") as f:
        f.write(",".join(header) + "\n")
        for r in rows:
            cells = []
            for v in r:
                if v is None or (isinstance(v, float) and np.isnan(v)):
                    cells.append("NA")
                elif fmt is not None:
                    cells.append(fmt % v)
                else:
                    cells.append(str(v))
            f.write(",".join(cells) + "\n")


def main():
    # SAS example: rows = rater 1 category, columns = rater 2 category, categories 1..3.
    table10 = [[0, 4, 1], [0, 8, 0], [0, 1, 5]]
    rows = []
    for i in range(3):
        for j in range(3):
            rows += [(i + 1, j + 1)] * table10[i][j]
    write("sas10", ["rater1", "rater2"], rows)

    anxiety = np.array([
        3, 3, 3, 4, 5, 5, 2, 3, 5, 2, 2, 6, 1, 5, 2, 2, 1, 2, 4, 3,
        3, 6, 4, 6, 2, 4, 2, 4, 3, 3, 2, 3, 3, 3, 2, 2, 1, 3, 3, 4,
        2, 1, 4, 4, 3, 2, 1, 6, 1, 1, 1, 2, 3, 3, 1, 1, 3, 3, 2, 2]).reshape(20, 3, order="F")
    write("anxiety", ["rater1", "rater2", "rater3"], anxiety.tolist())

    diagnoses = [
        [4, 4, 4, 4, 4, 4], [2, 2, 2, 5, 5, 5], [2, 3, 3, 3, 3, 5], [5, 5, 5, 5, 5, 5],
        [2, 2, 2, 4, 4, 4], [1, 1, 3, 3, 3, 3], [3, 3, 3, 3, 5, 5], [1, 1, 3, 3, 3, 4],
        [1, 1, 4, 4, 4, 4], [5, 5, 5, 5, 5, 5], [1, 4, 4, 4, 4, 4], [1, 2, 4, 4, 4, 4],
        [2, 2, 2, 3, 3, 3], [1, 4, 4, 4, 4, 4], [2, 2, 4, 4, 4, 5], [3, 3, 3, 3, 3, 5],
        [1, 1, 1, 4, 5, 5], [1, 1, 1, 1, 1, 2], [2, 2, 4, 4, 4, 4], [1, 3, 3, 5, 5, 5],
        [5, 5, 5, 5, 5, 5], [2, 4, 4, 4, 4, 4], [2, 2, 4, 5, 5, 5], [1, 1, 4, 4, 4, 4],
        [1, 4, 4, 4, 4, 5], [2, 2, 2, 2, 2, 4], [1, 1, 1, 1, 5, 5], [2, 2, 4, 4, 4, 4],
        [1, 3, 3, 3, 3, 3], [5, 5, 5, 5, 5, 5]]
    write("diagnoses", ["rater%d" % (i + 1) for i in range(6)], diagnoses)

    # Fleiss' kappa worked example of Wikipedia (statsmodels test_inter_rater.py table1):
    # 10 subjects, 14 raters, 5 categories, given as counts per category; kappa = 0.210.
    counts = [[0, 0, 0, 0, 14], [0, 2, 6, 4, 2], [0, 0, 3, 5, 6], [0, 3, 9, 2, 0],
              [2, 2, 8, 1, 1], [7, 7, 0, 0, 0], [3, 2, 6, 3, 0], [2, 5, 3, 2, 2],
              [6, 5, 2, 1, 0], [0, 2, 2, 3, 7]]
    wiki = [[c + 1 for c in range(5) for _ in range(row[c])] for row in counts]
    write("wiki_fleiss", ["rater%d" % (i + 1) for i in range(14)], wiki)

    shrout = [[9, 2, 5, 8], [6, 1, 3, 2], [8, 4, 6, 8], [7, 1, 2, 6], [10, 5, 6, 9], [6, 2, 4, 7]]
    write("shrout", ["judge1", "judge2", "judge3", "judge4"], shrout)

    n = None
    kripp = [  # observers A..D (rows of the paper) x units 1..12
        [1, 2, 3, 3, 2, 1, 4, 1, 2, n, n, n],
        [1, 2, 3, 3, 2, 2, 4, 1, 2, 5, n, 3],
        [n, 3, 3, 3, 2, 3, 4, 2, 2, 5, 1, n],
        [1, 2, 3, 3, 2, 4, 4, 1, 2, 5, 1, n]]
    write("kripp2011", ["A", "B", "C", "D"], [list(u) for u in zip(*kripp)])

    rng = np.random.default_rng(20261127)

    # 500 subjects, 2 raters, 5 categories with non-contiguous numeric labels (so that numeric
    # order differs from text order: 10 < 2 as text).
    labels = np.array([0, 1, 2, 5, 10])
    truth = rng.integers(0, 5, 500)
    r1 = np.clip(truth + rng.choice([-1, 0, 0, 0, 1], 500), 0, 4)
    r2 = np.clip(truth + rng.choice([-2, -1, 0, 0, 1], 500), 0, 4)
    write("rand_k5_n500", ["reader_a", "reader_b"], list(zip(labels[r1], labels[r2])))

    # 200 subjects x 4 raters, categories 1..4, about 5% missing.
    truth = rng.integers(1, 5, 200)
    multi = np.empty((200, 4), dtype=object)
    for j in range(4):
        noisy = np.clip(truth + rng.choice([-1, 0, 0, 0, 0, 1], 200), 1, 4)
        multi[:, j] = noisy
    miss = rng.random((200, 4)) < 0.05
    multi[miss] = None
    write("rand_multi", ["r1", "r2", "r3", "r4"], multi.tolist())

    # Two subjects, two raters (kappa: perfect agreement; ICC: smallest design).
    write("n2", ["rater1", "rater2"], [(1, 1), (2, 2)])
    write("icc_n2", ["rater1", "rater2"], [(1.0, 2.0), (3.0, 5.0)])

    # Continuous ratings: 40 subjects x 3 raters with rater bias.
    s = rng.normal(50, 10, 40)
    cont = np.column_stack([s + rng.normal(b, 4, 40) for b in (0.0, 2.0, -1.5)])
    write("icc_rand", ["m1", "m2", "m3"], cont.tolist(), fmt="%.17g")

    # Integer ratings with many ties: 30 subjects x 4 raters on a 1..5 scale.
    s = rng.integers(1, 6, 30)
    ints = np.column_stack([np.clip(s + rng.choice([-1, 0, 0, 1], 30), 1, 5) for _ in range(4)])
    write("icc_int", ["j1", "j2", "j3", "j4"], ints.tolist())

    # Large: 1000 subjects x 5 raters (F quantiles at df 999 / 3996).
    s = rng.normal(100, 15, 1000)
    big = np.column_stack([s + rng.normal(b, 6, 1000) for b in (0.0, 0.5, 1.0, -0.5, 0.2)])
    write("icc_large", ["m%d" % (j + 1) for j in range(5)], big.tolist(), fmt="%.10g")

    # Wide: 10 subjects x 100 raters (df 9 / 891).
    s = rng.normal(0, 1, 10)
    wide = np.column_stack([s + rng.normal(rng.normal(0, 0.3), 1.0, 10) for _ in range(100)])
    write("icc_wide", ["r%d" % (j + 1) for j in range(100)], wide.tolist(), fmt="%.8g")

    # Positive continuous values with about 10% missing (Krippendorff interval/ratio; ICC drops
    # incomplete rows).
    s = rng.gamma(4.0, 5.0, 60)
    cm = np.column_stack([s * rng.lognormal(0, 0.15, 60) for _ in range(3)])
    cm = np.round(cm, 3).astype(object)
    cm[rng.random((60, 3)) < 0.10] = None
    write("cont_missing", ["vol_a", "vol_b", "vol_c"], cm.tolist(), fmt="%.3f")


if __name__ == "__main__":
    main()
