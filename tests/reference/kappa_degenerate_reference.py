"""What statsmodels' cohens_kappa returns for tables with a degenerate margin.

Run from the repository root with Debian's interpreter:

    /usr/bin/python3 tests/reference/kappa_degenerate_reference.py \
        > tests/golden/stats/kappa_degenerate_statsmodels.csv

Mathematically var0 (and var) are exactly 0 when one rater used a single category, and, for
the unweighted kappa, when the raters share no category (stats/kappa.c, header comment).
statsmodels evaluates the same formulas in floating point and returns the rounding (a tiny
positive or negative variance, so std_kappa0 is a tiny number, 0 or nan, and z is 0 or nan);
panseval returns se = se0 = 0 and z = p = NaN. The golden file records statsmodels' numbers so
the difference of convention is documented, not hidden; tests/stats/test_agreement.c checks
panseval's values against the hand calculation and kappa / pe against these rows.
"""
import sys
import warnings

import numpy as np
import statsmodels
from statsmodels.stats.inter_rater import cohens_kappa

TABLES = {
    # the demo data: modelA always "ok", modelB 23 ok and 1 pred_empty (rater 1 in rows)
    "demo_status": [[23, 1], [0, 0]],
    "demo_status_t": [[23, 0], [1, 0]],
    # one rater uses one of three categories
    "single_3cat": [[5, 3, 2], [0, 0, 0], [0, 0, 0]],
    # the raters share no category: rater 1 uses {0, 1}, rater 2 {2, 3}
    "no_shared": [[0, 0, 1, 2], [0, 0, 3, 1], [0, 0, 0, 0], [0, 0, 0, 0]],
}

warnings.simplefilter("ignore")
w = sys.stdout.write
w("# statsmodels %s cohens_kappa on degenerate tables (source: statsmodels)\n"
  % statsmodels.__version__)
w("table,weights,kappa,var_kappa,var_kappa0,std_kappa,std_kappa0,z,p\n")
for name, t in TABLES.items():
    for wt in (None, "linear"):
        r = cohens_kappa(np.array(t, dtype=float), wt=wt)
        vals = [r.kappa, r.var_kappa, r.var_kappa0, r.std_kappa, r.std_kappa0, r.z_value,
                r.pvalue_two_sided]
        w("%s,%s,%s\n" % (name, wt or "none", ",".join(repr(float(v)) for v in vals)))
