#!/usr/bin/python3
"""Golden values for `panseval agreement` and `panseval fuse` on small multi-rater volumes.

Writes tests/golden/agree/: the raters' label maps (CASE_RATER.nii.gz), manifest.tsv,
agree_expected.csv (one row per expected value: case, label, region, quantity, rater, value,
source) and the expected consensus maps CASE_staple.nii.gz and CASE_majority.nii.gz.

Sources, independent of panseval's C code (they work voxel by voxel, panseval on counts):
  fleiss_kappa        statsmodels.stats.inter_rater.fleiss_kappa on aggregate_raters of the
                      voxels x raters table (categories: in / out of the label).
  krippendorff_alpha  kripp_alpha of agreement_reference.py (numpy, Krippendorff 2011
                      coincidence matrix) on the same table.
  regions             image = every voxel; union-box = the bounding box of all raters' masks of
                      the label grown by ceil(margin / spacing) voxels per axis (margin 2 mm),
                      clipped to the image.
  STAPLE (binary)     numpy transcription of Warfield, Zou & Wells (2004), eqs. (11)-(14) and
                      the E-step, per voxel, with the initialisation and stopping rule of ITK
                      5.2 STAPLEImageFilter: W0 = fraction of raters, prior g = mean W0 (fixed),
                      M-step before E-step, stop when no (p - p')^2 or (q - q')^2 exceeds 1e-14
                      (not on the first iteration); consensus W >= 0.5.
  STAPLE (several labels)  numpy transcription of ITK 5.2 MultiLabelSTAPLEImageFilter:
                      confusion matrices from the LabelVotingImageFilter vote (undecided voxels
                      left out), rows normalised, prior = label frequencies over all raters,
                      stop when the largest update < 1e-5; consensus = largest posterior (an
                      exact tie to the lowest label).
  majority vote       numpy: the most frequent label per voxel, ties to the lowest label.

ITK cross-check: with STAPLE_ITK naming a build of tests/reference/staple_itk.cxx (our program
against Debian's libinsighttoolkit5-dev 5.2; build line in its header) the script also runs
ITK's STAPLEImageFilter (every label) and MultiLabelSTAPLEImageFilter (the two-label case),
writes ITK's values to agree_expected_itk.csv and asserts that the numpy transcription gives
the identical consensus and sensitivities / specificities / iteration counts within 1e-12.

Usage: STAPLE_ITK=/path/staple_itk /usr/bin/python3 tests/reference/agree_voxels_reference.py
(from the repository root; STAPLE_ITK may be left unset to skip the ITK run)
"""
import subprocess
import tempfile
import math
import os
import sys

import nibabel as nib
import numpy as np
import statsmodels
from statsmodels.stats.inter_rater import aggregate_raters, fleiss_kappa

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
from agreement_reference import kripp_alpha  # noqa: E402

OUT = os.path.join(HERE, "..", "golden", "agree")
MARGIN_MM = 2.0


def ellipsoid(shape, centre, radii, rng, noise=0.15):
    idx = np.indices(shape).astype(float)
    q = sum(((idx[a] - centre[a]) / radii[a]) ** 2 for a in range(3))
    return q + noise * (rng.random(shape) - 0.5) <= 1.0


def make_cases():
    rng = np.random.default_rng(20261202)
    cases = []
    # 1. three raters, anisotropic, one over-segments
    shape, sp = (20, 18, 12), (0.8, 0.9, 2.0)
    raters = []
    for r, scale in enumerate((1.0, 1.0, 1.2)):
        c = [9.5 + rng.uniform(-1, 1), 8.5 + rng.uniform(-1, 1), 5.5 + rng.uniform(-0.5, 0.5)]
        raters.append(ellipsoid(shape, c, [6 * scale, 5 * scale, 3.5 * scale], rng)
                      .astype(np.uint8))
    cases.append(dict(name="three", sp=sp, raters=raters, names=["ref", "B", "C"]))
    # 2. five raters, one of them empty
    shape, sp = (16, 16, 10), (1.0, 1.0, 1.5)
    raters = []
    for r in range(5):
        if r == 3:
            raters.append(np.zeros(shape, np.uint8))
            continue
        c = [7.5 + rng.uniform(-1.5, 1.5), 7.5 + rng.uniform(-1.5, 1.5), 4.5 + rng.uniform(-1, 1)]
        raters.append(ellipsoid(shape, c, [5, 4.5, 3], rng).astype(np.uint8))
    cases.append(dict(name="five_empty", sp=sp, raters=raters, names=["ref", "B", "C", "D", "E"]))
    # 3. four raters, labels 1 (organ) and 2 (lesion inside)
    shape, sp = (18, 16, 10), (0.9, 0.9, 1.8)
    raters = []
    for r in range(4):
        c = [8.5 + rng.uniform(-1, 1), 7.5 + rng.uniform(-1, 1), 4.5 + rng.uniform(-0.5, 0.5)]
        m = ellipsoid(shape, c, [6, 5, 3.5], rng).astype(np.uint8)
        c2 = [c[0] + 1.5 + rng.uniform(-0.7, 0.7), c[1] + rng.uniform(-0.7, 0.7), c[2]]
        m[ellipsoid(shape, c2, [2.2, 2.0, 1.6], rng, 0.3)] = 2
        raters.append(m)
    cases.append(dict(name="two_labels", sp=sp, raters=raters, names=["ref", "B", "C", "D"]))
    return cases


def union_box(masks, sp):
    any_ = np.any(np.stack(masks), axis=0)
    if not any_.any():
        return None
    nz = np.nonzero(any_)
    sl = []
    for a in range(3):
        grow = math.ceil(MARGIN_MM / sp[a] - 1e-9)
        lo = max(nz[a].min() - grow, 0)
        hi = min(nz[a].max() + 1 + grow, any_.shape[a])
        sl.append(slice(lo, hi))
    return tuple(sl)


def staple_binary(D):
    """D: voxels x raters (0/1). Returns p, q, W, iterations (ITK's elapsed count)."""
    D = D.astype(float)
    n, k = D.shape
    W = D.mean(axis=1)
    g = W.mean()
    last_p = np.full(k, -10.0)
    last_q = np.full(k, -10.0)
    it = 0
    while True:
        p = np.array([(W * D[:, r]).sum() / W.sum() for r in range(k)])
        q = np.array([((1 - W) * (1 - D[:, r])).sum() / (1 - W).sum() for r in range(k)])
        a = np.prod(np.where(D == 1, p, 1 - p), axis=1)
        b = np.prod(np.where(D == 1, 1 - q, q), axis=1)
        W = g * a / (g * a + (1 - g) * b)
        done = it != 0 and np.all((p - last_p) ** 2 <= 1e-14) and np.all((q - last_q) ** 2 <= 1e-14)
        last_p, last_q = p, q
        if done:
            return p, q, W, it, g
        it += 1


def vote_itk(labels, L):
    """ITK LabelVotingImageFilter: running maximum, a later tie makes the voxel undecided (L)."""
    out = np.empty(labels.shape[0], int)
    for v in range(labels.shape[0]):
        votes = np.bincount(labels[v], minlength=L)
        best, mx = 0, votes[0]
        for l in range(1, L):
            if votes[l] > mx:
                mx, best = votes[l], l
            elif votes[l] == mx:
                best = L
        out[v] = best
    return out


def staple_multi(labels, L):
    n, k = labels.shape
    vote = vote_itk(labels, L)
    theta = np.zeros((k, L + 1, L))
    for r in range(k):
        for v in range(n):
            if vote[v] < L:
                theta[r, labels[v, r], vote[v]] += 1
        s = theta[r].sum(axis=1, keepdims=True)
        theta[r] = np.where(s > 0, theta[r] / np.where(s > 0, s, 1), theta[r])
    prior = np.bincount(labels.ravel(), minlength=L)[:L].astype(float)
    prior /= prior.sum()
    while True:
        upd = np.zeros_like(theta)
        W = np.tile(prior, (n, 1))
        for r in range(k):
            W *= theta[r, labels[:, r], :]
        s = W.sum(axis=1, keepdims=True)
        W = np.where(s != 0, W / np.where(s != 0, s, 1), W)
        for r in range(k):
            for j in range(L + 1):
                upd[r, j] = W[labels[:, r] == j].sum(axis=0)
            cs = upd[r].sum(axis=0, keepdims=True)
            upd[r] = np.where(cs != 0, upd[r] / np.where(cs != 0, cs, 1), upd[r])
        maxu = np.abs(upd - theta).max()
        theta = upd
        if maxu < 1e-5:
            break
    W = np.tile(prior, (n, 1))
    for r in range(k):
        W *= theta[r, labels[:, r], :]
    return np.argmax(W, axis=1)  # first maximum = lowest label on an exact tie


def majority(labels):
    out = np.empty(labels.shape[0], int)
    for v in range(labels.shape[0]):
        vals, cnt = np.unique(labels[v], return_counts=True)
        out[v] = vals[np.argmax(cnt)]  # unique is sorted: the lowest label wins a tie
    return out


def run_itk(mode, raters, fg):
    """ITK's filter on the raters (x fastest, as NIfTI and ITK store voxels)."""
    exe = os.environ.get("STAPLE_ITK")
    if not exe:
        return None
    shape = raters[0].shape
    with tempfile.TemporaryDirectory() as tmp:
        ins = []
        for i, r in enumerate(raters):
            fn = os.path.join(tmp, "r%d.raw" % i)
            r.astype(np.uint8).ravel(order="F").tofile(fn)
            ins.append(fn)
        outp = os.path.join(tmp, "out.raw")
        args = [exe, mode] + [str(n) for n in shape] + ([str(fg)] if mode == "binary" else [])
        txt = subprocess.run(args + [outp] + ins, capture_output=True, text=True,
                             check=True).stdout
        out = np.fromfile(outp, np.uint8).reshape(shape, order="F")
    vals = {}
    for line in txt.splitlines():
        f = line.split()
        vals[tuple(f[:-1])] = float(f[-1])
    return vals, out


def main():
    os.makedirs(OUT, exist_ok=True)
    rows = []
    itk_rows = []
    man = ["case\tref\t" + "\t".join("rater:%s" % c for c in ["B", "C", "D", "E"])]
    for c in make_cases():
        sp = c["sp"]
        aff = np.diag(list(sp) + [1.0])
        cells = []
        for name, m in zip(c["names"], c["raters"]):
            fn = "%s_%s.nii.gz" % (c["name"], name)
            img = nib.Nifti1Image(m.astype(np.uint8), aff)
            img.header.set_xyzt_units("mm")
            nib.save(img, os.path.join(OUT, fn))
            cells.append(fn)
        cells += [""] * (5 - len(cells))
        man.append(c["name"] + "\t" + "\t".join(cells))
        sp = tuple(float(z) for z in nib.load(os.path.join(OUT, cells[0])).header.get_zooms())
        stack = np.stack(c["raters"])  # k x shape
        k = stack.shape[0]
        labels = sorted(set(np.unique(stack)) - {0})
        for lab in labels:
            masks = [(r == lab) for r in c["raters"]]
            for region in ("image", "union-box"):
                sl = (slice(None),) * 3 if region == "image" else union_box(masks, sp)
                D = np.stack([m[sl].ravel() for m in masks], axis=1).astype(int)
                table, _ = aggregate_raters(D, n_cat=2)
                fk = fleiss_kappa(table, method="fleiss")
                ka = kripp_alpha(D.astype(float), "nominal")
                rows.append([c["name"], lab, region, "fleiss_kappa", "", repr(float(fk)),
                             "statsmodels %s fleiss_kappa" % statsmodels.__version__])
                rows.append([c["name"], lab, region, "krippendorff_alpha", "", repr(float(ka)),
                             "numpy Krippendorff 2011 (agreement_reference.py)"])
            # binary STAPLE of this label over the whole image
            D = np.stack([m.ravel() for m in masks], axis=1).astype(int)
            p, q, W, it, g = staple_binary(D)
            for r in range(k):
                rows.append([c["name"], lab, "image", "sensitivity", c["names"][r],
                             repr(float(p[r])), "numpy STAPLE (Warfield 2004; ITK 5.2 rules)"])
                rows.append([c["name"], lab, "image", "specificity", c["names"][r],
                             repr(float(q[r])), "numpy STAPLE (Warfield 2004; ITK 5.2 rules)"])
            rows.append([c["name"], lab, "image", "iterations", "", str(it), "numpy STAPLE"])
            rows.append([c["name"], lab, "image", "prior", "", repr(float(g)), "numpy STAPLE"])
            if len(labels) == 1:
                cons = (W >= 0.5).reshape(masks[0].shape).astype(np.uint8) * lab
            itk = run_itk("binary", [m.astype(np.uint8) for m in masks], 1)
            if itk is not None:
                vals, out = itk
                for r in range(k):
                    for key, mine in (("sensitivity", p[r]), ("specificity", q[r])):
                        v = vals[(key, str(r))]
                        if abs(v - mine) > 1e-12:
                            sys.exit("%s label %d rater %d %s: ITK %r numpy %r" %
                                     (c["name"], lab, r, key, v, mine))
                        itk_rows.append([c["name"], lab, "image", key, c["names"][r], repr(v),
                                         "ITK 5.2 STAPLEImageFilter (staple_itk.cxx)"])
                if vals[("iterations",)] != it:
                    sys.exit("%s: ITK iterations %r, numpy %r" % (c["name"], vals, it))
                itk_rows.append([c["name"], lab, "image", "iterations", "",
                                 str(int(vals[("iterations",)])), "ITK 5.2 STAPLEImageFilter"])
                if not np.array_equal(out.ravel(), (W >= 0.5).astype(np.uint8)):
                    sys.exit("%s label %d: ITK consensus differs" % (c["name"], lab))
        flat = np.stack([r.ravel() for r in c["raters"]], axis=1).astype(int)
        if len(labels) > 1:
            cons = staple_multi(flat, int(stack.max()) + 1).reshape(stack.shape[1:])
            itk = run_itk("multi", c["raters"], 0)
            if itk is not None:
                vals, out = itk
                L = int(stack.max()) + 1
                undecided = out == L
                if not np.array_equal(out[~undecided], cons[~undecided]):
                    sys.exit("%s: ITK multi-label consensus differs" % c["name"])
                itk_rows.append([c["name"], "all", "image", "multilabel_undecided_voxels", "",
                                 str(int(undecided.sum())),
                                 "ITK 5.2 MultiLabelSTAPLEImageFilter (staple_itk.cxx)"])
                itk_rows.append([c["name"], "all", "image", "multilabel_iterations", "",
                                 str(int(vals[("iterations",)])),
                                 "ITK 5.2 MultiLabelSTAPLEImageFilter"])
        nib.save(nib.Nifti1Image(cons.astype(np.uint8), aff),
                 os.path.join(OUT, "%s_staple.nii.gz" % c["name"]))
        maj = majority(flat).reshape(stack.shape[1:])
        nib.save(nib.Nifti1Image(maj.astype(np.uint8), aff),
                 os.path.join(OUT, "%s_majority.nii.gz" % c["name"]))
    with open(os.path.join(OUT, "manifest.tsv"), "w") as f:
        f.write("# multi-rater golden cases of tests/reference/agree_voxels_reference.py\n")
        f.write("\n".join(man) + "\n")
    with open(os.path.join(OUT, "agree_expected.csv"), "w") as f:
        f.write("case,label,region,quantity,rater,value,source\n")
        for r in rows:
            f.write(",".join(str(x) for x in r) + "\n")
    if itk_rows:
        with open(os.path.join(OUT, "agree_expected_itk.csv"), "w") as f:
            f.write("case,label,region,quantity,rater,value,source\n")
            for r in itk_rows:
                f.write(",".join(str(x) for x in r) + "\n")
    print("wrote %d values (%d from ITK)" % (len(rows), len(itk_rows)))


if __name__ == "__main__":
    main()
