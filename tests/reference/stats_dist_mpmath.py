#!/usr/bin/python3
"""High-precision (50 digit, mpmath) values of the quantile rows of
tests/golden/stats/dist_R.tsv (qf for all df, qt for df <= 999), to judge R's own accuracy:
R's qf() (a qbeta inversion) is off by up to 1e-2 relative in the far lower tail (e.g.
qf(1e-6, 1, 500) = (pi/2 1e-6)^2 (1 + O(1e-12)) for df1 = 1 and large df2). Writes
tests/golden/stats/dist_mpmath.tsv with the mpmath value and R's relative error; the C test
checks these rows against mpmath and skips the R rows where R is off by more than 1e-11.
Run from the repository root: /usr/bin/python3 tests/reference/stats_dist_mpmath.py
"""
import mpmath as mp

mp.mp.dps = 50


def t_upper(x, n):  # P(T > x)
    x, n = mp.mpf(x), mp.mpf(n)
    tail = mp.betainc(n / 2, mp.mpf(1) / 2, 0, n / (n + x * x), regularized=True) / 2
    return tail if x >= 0 else 1 - tail


def f_lower(x, a, b):
    x, a, b = mp.mpf(x), mp.mpf(a), mp.mpf(b)
    return mp.betainc(a / 2, b / 2, 0, a * x / (a * x + b), regularized=True)


def f_upper(x, a, b):
    x, a, b = mp.mpf(x), mp.mpf(a), mp.mpf(b)
    return mp.betainc(b / 2, a / 2, 0, b / (a * x + b), regularized=True)


def solve(fn, target, guess, increasing):
    """Root of fn(x) = target near guess: bracket [guess/1.01, guess*1.01] (widened until it
    holds the root), then the Anderson-Bjorck bracketing solver of mpmath."""
    target = mp.mpf(target)
    guess = mp.mpf(guess) if guess > 0 else mp.mpf("1e-30")
    lo, hi = guess / mp.mpf("1.01"), guess * mp.mpf("1.01")
    sgn = 1 if increasing else -1
    for _ in range(4000):
        if sgn * (fn(lo) - target) <= 0:
            break
        lo = lo / 2
    for _ in range(4000):
        if sgn * (fn(hi) - target) >= 0:
            break
        hi = hi * 2
    return mp.findroot(lambda x: fn(x) - target, (lo, hi), solver="anderson",
                       tol=mp.mpf(10) ** -44, maxsteps=200)


rows = []
with open("tests/golden/stats/dist_R.tsv") as f:
    lines = [l.rstrip("\n").split("\t") for l in f if not l.startswith("#")]
for func, a1, a2, a3, rval, _src in lines[1:]:
    if func not in ("qf", "qt") or (func == "qt" and float(a2) > 999):
        continue
    p = mp.mpf(float(a1))  # the exact double R was given, not its 17-digit text
    d1, d2 = mp.mpf(float(a2)), mp.mpf(float(a3))
    if func == "qt":
        if p == mp.mpf("0.5"):
            v = mp.mpf(0)
        elif p > 0.5:
            v = solve(lambda x: t_upper(x, d1), 1 - p, float(rval), False)
        else:
            v = -solve(lambda x: t_upper(x, d1), p, -float(rval), False)
    elif func == "pt":
        v = t_upper(-p, d1)
    elif func == "pt_upper":
        v = t_upper(p, d1)
    elif func == "qf":
        if p <= 0.5:
            v = solve(lambda x: f_lower(x, d1, d2), p, float(rval), True)
        else:
            v = solve(lambda x: f_upper(x, d1, d2), 1 - p, float(rval), False)
    elif func == "pf":
        v = f_lower(p, d1, d2)
    elif func == "pf_upper":
        v = f_upper(p, d1, d2)
    elif func == "pnorm":
        v = mp.ncdf(p)
    elif func == "pnorm_upper":
        v = mp.ncdf(-p)
    elif func == "qnorm":
        v = solve(mp.ncdf, p, float(rval), True) if p != mp.mpf("0.5") else mp.mpf(0)
    elif func == "pchisq_upper":
        v = mp.gammainc(d1 / 2, p / 2, mp.inf, regularized=True)
    else:
        raise SystemExit("unknown function " + func)
    r = mp.mpf(rval)
    rel = abs(r - v) / abs(v) if v != 0 else abs(r)
    rows.append("%s\t%s\t%s\t%s\t%s\t%.3g\tmpmath %s (50 digits)" % (
        func, a1, a2, a3, mp.nstr(v, 20, min_fixed=1, max_fixed=0), float(rel), mp.__version__))

with open("tests/golden/stats/dist_mpmath.tsv", "w") as f:
    f.write("# written by tests/reference/stats_dist_mpmath.py; r_rel_err = |R - mpmath| / mpmath\n")
    f.write("func\ta1\ta2\ta3\tvalue\tr_rel_err\tsource\n")
    f.write("\n".join(rows) + "\n")
