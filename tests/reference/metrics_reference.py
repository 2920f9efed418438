#!/usr/bin/python3
"""Golden values for the metrics module, computed independently of panseval.

Writes tests/golden/metrics/case_XX_{ref,pred}.nii.gz (small generated label maps) and
tests/golden/metrics/metrics_golden.tsv (one row per case x region x HD95 convention).

Sources of each value:
  * overlap, volumes: numpy counts; kappa: sklearn.metrics.cohen_kappa_score.
  * boundary: mask XOR scipy.ndimage.binary_erosion(mask, 6-connected structure,
    border_value=0) (MedPy's __surface_distances); distances: scipy.ndimage.
    distance_transform_edt(~boundary_of_other, sampling=spacing) read at the boundary voxels.
  * medpy: hd95 = np.percentile(np.hstack((d_ab, d_ba)), q) (medpy.metric.binary.hd95);
    assd here is the pooled mean (MONAI's symmetric average surface distance; medpy.metric.
    binary.assd from MedPy 0.5.2 on); masd is the mean of the two directed means
    (medpy.metric.binary.assd up to MedPy 0.4.0).
  * monai: max(np.percentile(d_ab, q), np.percentile(d_ba, q))
    (monai.metrics.compute_hausdorff_distance(percentile=q), directed=False).
  * deepmind: numpy re-implementation of surface-distance's compute_surface_distances
    (2x2x2 neighbour codes via scipy.ndimage.correlate with the kernel
    [[[128, 64], [32, 16]], [[8, 4], [2, 1]]], surfels = codes not in {0, 255}, surfel areas
    from the marching-cubes table of metrics_surfel_table.py (scikit-image), EDT on the corner
    grid), compute_robust_hausdorff (np.searchsorted on the normalised cumulative area) and
    compute_surface_dice_at_tolerance.
  * plastimatch: mean of the two directed order statistics at index floor(q/100 n - 1) of the
    same boundary distances (plastimatch hausdorff_distance.cxx). For masks at least one voxel
    away from the image edge the script also runs `plastimatch dice --all` (Debian plastimatch
    1.9.4) and records its "Percent (0.95) Hausdorff distance (boundary)" in column
    plastimatch_cli_hd95, asserting agreement with the rule (plastimatch prints 6 decimals and
    uses float32). plastimatch treats voxels on the image edge differently from panseval, so no
    CLI value is recorded for edge-touching masks.

2D images (exactly one axis of length 1; cases 11-16, and single_slice): every computation runs
on the squeezed 2D arrays with the 2D tools' conventions: boundary = mask XOR binary_erosion with
the 2D cross generate_binary_structure(2, 1) (MedPy's and MONAI's 2D default), 2D EDT with the
two in-plane spacings, and a numpy transcription of surface-distance's 2D path
(ENCODE_NEIGHBOURHOOD_2D_KERNEL [[8, 4], [2, 1]], contour lengths of
create_table_neighbour_code_to_contour_length). With SURFACE_DISTANCE_PATH set to a checkout of
github.com/google-deepmind/surface-distance the script also runs that package on every 2D case
and asserts equality (it is not needed to regenerate the golden file). Cases 11-13 are published
examples whose expected values the script asserts: Metrics Reloaded's test_pairwise_measures.py
"Figure 10" pair (test_assd 0.44, test_masd 0.425, test_nsd 0.89 at tolerance 1) and MONAI's
test_surface_dice.py 480x640 shift (1 - 976/4252 = 0.7705 at tolerance 0) and 10x10 line pair
(class 1 at tolerance 5.5: 1 - 4/6).

Usage: /usr/bin/python3 tests/reference/metrics_reference.py   (from the repository root)
"""
import os
import re
import subprocess
import sys
import tempfile
import warnings

import nibabel as nib
import numpy as np
import scipy
import scipy.ndimage as ndi
import skimage
import sklearn
from sklearn.metrics import cohen_kappa_score

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from metrics_surfel_table import triangles  # noqa: E402

OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "golden", "metrics")
STRUCT6 = ndi.generate_binary_structure(3, 1)
KERNEL = np.array([[[128, 64], [32, 16]], [[8, 4], [2, 1]]])
TRI = [triangles(c) for c in range(256)]


# ---- case generation ----------------------------------------------------------------------
def blob(rng, shape, fill, smooth=1.5):
    f = ndi.gaussian_filter(rng.random(shape), smooth)
    return f > np.quantile(f, 1 - fill)


def ball(shape, centre, radii):
    idx = np.indices(shape).astype(float)
    r = sum(((idx[a] - centre[a]) / radii[a]) ** 2 for a in range(3))
    return r <= 1.0


def make_cases():
    rng = np.random.default_rng(20261127)
    cases = []

    def add(name, ref, pred, spacing, regions, dtype=np.uint8, affine=None, extra=()):
        cases.append(dict(name=name, ref=ref.astype(dtype), pred=pred.astype(dtype),
                          spacing=spacing, regions=regions, affine=affine, extra=list(extra)))

    # 1. cube and shifted cube, CT-like spacing
    a = np.zeros((30, 28, 20), np.uint8)
    b = a.copy()
    a[8:20, 7:19, 5:12] = 1
    b[10:22, 8:20, 6:13] = 1
    add("cubes_shift", a, b, (0.8, 0.8, 2.5), ["1"])
    # 2. smooth random blobs inside the image, anisotropic
    a = np.zeros((36, 32, 18), np.uint8)
    b = a.copy()
    a[3:33, 3:29, 2:16] = blob(rng, (30, 26, 14), 0.3)
    b[3:33, 3:29, 2:16] = blob(rng, (30, 26, 14), 0.3)
    add("blobs_aniso", a, b, (0.7, 0.9, 3.0), ["1"])
    # 3. masks touching the image edge
    a = blob(rng, (24, 22, 16), 0.45, 2.0).astype(np.uint8)
    b = blob(rng, (24, 22, 16), 0.45, 2.0).astype(np.uint8)
    add("edge_touch", a, b, (1.2, 1.0, 1.5), ["1"])
    # 4. two-label maps (organ 1 with a lesion 2 inside), regions 1, 2 and 1+2
    a = ball((34, 30, 20), (17, 15, 10), (12, 10, 7)).astype(np.uint8)
    b = ball((34, 30, 20), (18, 15, 10), (11, 10, 7)).astype(np.uint8)
    a[ball((34, 30, 20), (20, 15, 10), (4, 3, 3))] = 2
    b[ball((34, 30, 20), (21, 16, 10), (4, 4, 2))] = 2
    add("labels_multi", a, b, (0.75, 0.75, 2.0), ["1", "2", "1+2"])
    # 5. prediction empty for the region (label 2 only in ref)
    a = np.zeros((20, 20, 12), np.uint8)
    b = a.copy()
    a[5:12, 6:14, 3:8] = 2
    a[12:15, 6:10, 3:6] = 1
    b[5:12, 6:14, 3:8] = 1
    add("pred_empty", a, b, (1.0, 1.0, 2.0), ["2", "1", "3"])
    # 6. reference empty
    add("ref_empty", b * 0, b, (1.0, 1.0, 2.0), ["1"])
    # 7. ball vs ellipsoid, isotropic
    a = ball((32, 32, 32), (16, 16, 16), (10, 10, 10))
    b = ball((32, 32, 32), (15.5, 16, 17), (12, 9, 10))
    add("ball_ellipsoid", a, b, (1.0, 1.0, 1.0), ["1"])
    # 8. thin tube (every voxel is boundary) vs a shifted, thicker tube
    a = np.zeros((40, 24, 10), np.uint8)
    b = a.copy()
    for i in range(4, 36):
        j = int(round(12 + 6 * np.sin(i / 5.0)))
        a[i, j, 5] = 1
        b[i, j - 1:j + 2, 4:6] = 1
    add("thin_tube", a, b, (0.5, 0.5, 1.0), ["1"])
    # 9. int16 label map with label 300 (panseval reads it as int32)
    a = np.zeros((26, 24, 14), np.int16)
    b = a.copy()
    a[4:20, 5:18, 3:10] = 300
    a[8:12, 8:12, 5:8] = 7
    b[5:21, 4:17, 3:11] = 300
    b[9:13, 8:13, 5:8] = 7
    add("int_labels", a, b, (0.9, 0.8, 1.7), ["300", "7", "7+300"], dtype=np.int16)
    # 10. a single slice (nz = 1): k-neighbours are outside the image
    a = blob(rng, (40, 36, 1), 0.25, 3.0).astype(np.uint8)
    b = blob(rng, (40, 36, 1), 0.25, 3.0).astype(np.uint8)
    add("single_slice", a, b, (0.9, 0.9, 5.0), ["1"])
    # 11. small structures far apart, with a flipped, rotated affine (spacing from pixdim)
    a = np.zeros((40, 36, 16), np.uint8)
    b = a.copy()
    a[5:9, 5:8, 3:6] = 1
    b[30:35, 26:30, 9:13] = 1
    b[6:8, 5:7, 3:5] = 1
    aff = np.array([[0, -0.78, 0, 10], [0.78, 0, 0, -5], [0, 0, 2.5, 3], [0, 0, 0, 1]])
    add("far_apart_rotated", a, b, (0.78, 0.78, 2.5), ["1"], affine=aff)
    # ---- 2D images (saved as 2D NIfTI, dim[0] = 2, unless a singleton axis is given) ----
    # 12. Metrics Reloaded test_pairwise_measures.py, "Figure 10 for distance metrics"
    a = np.zeros((11, 11), np.uint8)
    a[3:8, 3:8] = 1
    b = a.copy()
    b[5, 1:10] = 1
    b[1:10, 5] = 1
    add("mr_fig10_2d", a, b, (1.0, 1.0), ["1"],
        extra=[("medpy", "voxel", 95.0, 1.0), ("deepmind", "surfel", 95.0, 1.0)])
    # 13. MONAI test_surface_dice.py: labels[:, 60:], predictions[:, 50:] on 480 x 640
    a = np.zeros((480, 640), np.uint8)
    b = a.copy()
    a[:, 60:] = 1
    b[:, 50:] = 1
    add("monai_shift_2d", a, b, (0.85, 1.2), ["1"],
        extra=[("monai", "voxel", 95.0, 0.0), ("monai", "voxel", 95.0, 9.0)])
    # 14. MONAI test_tolerance_all_distances: two 3-pixel lines on 10 x 10
    a = np.zeros((10, 10), np.uint8)
    b = a.copy()
    a[5:8, 6] = 1
    b[1:4, 1] = 1
    add("monai_lines_2d", a, b, (1.0, 1.0), ["1"], extra=[("monai", "voxel", 95.0, 5.5)])
    # 15. blobs in a plane with the singleton axis first, anisotropic, touching the edge
    a = blob(rng, (1, 30, 26), 0.35, 2.0).astype(np.uint8)
    b = blob(rng, (1, 30, 26), 0.35, 2.0).astype(np.uint8)
    add("plane_axis0", a, b, (3.0, 0.7, 1.1), ["1"],
        extra=[("deepmind", "surfel", 90.0, 1.5)])
    # 16. two labels in a plane with the singleton axis in the middle
    a = np.zeros((34, 1, 28), np.uint8)
    b = a.copy()
    a[4:25, 0, 5:20] = 1
    a[10:14, 0, 8:13] = 2
    b[6:27, 0, 4:21] = 1
    b[11:16, 0, 9:12] = 2
    add("plane_axis1", a, b, (0.9, 4.0, 0.8), ["1", "2", "1+2"],
        extra=[("deepmind", "surfel", 95.0, 0.8)])
    return cases


# ---- metrics from the definitions ----------------------------------------------------------
def region_mask(vol, region):
    labels = [int(x) for x in region.split("+")]
    return np.isin(vol, labels)


def boundary(m):
    struct = STRUCT6 if m.ndim == 3 else ndi.generate_binary_structure(2, 1)
    return m & ~ndi.binary_erosion(m, struct, border_value=0)


def directed(a, b, sp):
    """distances from the boundary voxels of a to the nearest boundary voxel of b (MedPy)"""
    return ndi.distance_transform_edt(~boundary(b), sampling=sp)[boundary(a)]


def flat_axis(shape):
    """panseval's 2D rule: exactly one axis of length 1 (a 2D array is already flat)"""
    ones = [i for i, n in enumerate(shape) if n == 1]
    return ones[0] if len(shape) == 3 and len(ones) == 1 else None


def to_plane(a, b, sp):
    """squeeze a 2D image (exactly one singleton axis) to 2D arrays and 2 spacings"""
    if a.ndim == 2:
        return a, b, tuple(sp[:2])
    f = flat_axis(a.shape)
    if f is None:
        return a, b, tuple(sp)
    keep = [i for i in range(3) if i != f]
    return np.squeeze(a, f), np.squeeze(b, f), tuple(sp[i] for i in keep)


def contour_length_table(sp):
    """16 contour lengths of surface-distance's 2D path (create_table_neighbour_code_to_
    contour_length, transcribed): bits (top-left, top-right, bottom-left, bottom-right) =
    (8, 4, 2, 1); x0 vertical, x1 horizontal"""
    t = np.zeros(16)
    vertical, horizontal = sp[0], sp[1]
    diag = 0.5 * np.sqrt(sp[0] ** 2 + sp[1] ** 2)
    for code, length in ((0b0001, diag), (0b0010, diag), (0b0011, horizontal),
                         (0b0100, diag), (0b0101, vertical), (0b0110, 2 * diag),
                         (0b0111, diag), (0b1000, diag), (0b1001, 2 * diag),
                         (0b1010, vertical), (0b1011, diag), (0b1100, horizontal),
                         (0b1101, diag), (0b1110, diag)):
        t[code] = length
    return t


def deepmind_package(a, b, sp, q, tol):
    """the real surface-distance package, when SURFACE_DISTANCE_PATH names a checkout"""
    path = os.environ.get("SURFACE_DISTANCE_PATH")
    if not path:
        return None
    sys.path.insert(0, path)
    import surface_distance as sd  # noqa: E402
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        d = sd.compute_surface_distances(a.astype(bool), b.astype(bool), list(sp))
        r2p = sd.compute_robust_hausdorff(
            {"distances_gt_to_pred": d["distances_gt_to_pred"],
             "distances_pred_to_gt": np.array([0.0]), "surfel_areas_gt": d["surfel_areas_gt"],
             "surfel_areas_pred": np.array([1.0])}, q)
        p2r = sd.compute_robust_hausdorff(
            {"distances_gt_to_pred": np.array([0.0]), "surfel_areas_gt": np.array([1.0]),
             "distances_pred_to_gt": d["distances_pred_to_gt"],
             "surfel_areas_pred": d["surfel_areas_pred"]}, q)
        nsd = sd.compute_surface_dice_at_tolerance(d, tol)
    return max(r2p, p2r), p2r, r2p, nsd


def plastimatch_rule(d, q):
    n = len(d)
    k = int(np.floor(q / 100.0 * n - 1 + 1e-9))
    return np.sort(d)[min(max(k, 0), n - 1)]


def surfel_areas_table(sp):
    t = np.zeros(256)
    for c in range(256):
        for n in TRI[c]:
            v = np.array([n[0] * sp[1] * sp[2], n[1] * sp[0] * sp[2], n[2] * sp[0] * sp[1]])
            t[c] += np.linalg.norm(v)
    return t


def deepmind(a, b, sp, q, tol):
    """compute_surface_distances + compute_robust_hausdorff + surface dice, from the paper's
    description (Nikolov et al. 2018) and the package's documented steps."""
    both = a | b
    nz = np.nonzero(both)
    nd = a.ndim
    lo = np.array([x.min() for x in nz])
    hi = np.array([x.max() for x in nz])
    shape = hi - lo + 2  # one zero layer after the crop: the full 2x2(x2) correlation
    ca = np.zeros(shape, np.uint8)
    cb = np.zeros(shape, np.uint8)
    sl = tuple(slice(lo[d], hi[d] + 1) for d in range(nd))
    inner = tuple(slice(0, -1) for d in range(nd))
    ca[inner] = a[sl]
    cb[inner] = b[sl]
    kernel = KERNEL if nd == 3 else np.array([[8, 4], [2, 1]])
    full = 255 if nd == 3 else 15
    code_a = ndi.correlate(ca, kernel, mode="constant", cval=0)
    code_b = ndi.correlate(cb, kernel, mode="constant", cval=0)
    sa = (code_a != 0) & (code_a != full)
    sb = (code_b != 0) & (code_b != full)
    table = surfel_areas_table(sp) if nd == 3 else contour_length_table(sp)
    dist_to_b = ndi.distance_transform_edt(~sb, sampling=sp)
    dist_to_a = ndi.distance_transform_edt(~sa, sampling=sp)
    d_ab, w_ab = dist_to_b[sa], table[code_a[sa]]
    d_ba, w_ba = dist_to_a[sb], table[code_b[sb]]

    def robust(d, w):
        o = np.argsort(d, kind="stable")
        d, w = d[o], w[o]
        cum = np.cumsum(w) / np.sum(w)
        idx = np.searchsorted(cum, q / 100.0)
        return d[min(idx, len(d) - 1)]

    r2p, p2r = robust(d_ab, w_ab), robust(d_ba, w_ba)
    nsd = (w_ab[d_ab <= tol].sum() + w_ba[d_ba <= tol].sum()) / (w_ab.sum() + w_ba.sum())
    return max(r2p, p2r), p2r, r2p, nsd


def plastimatch_cli(a, b, affine):
    with tempfile.TemporaryDirectory() as tmp:
        pa, pb = os.path.join(tmp, "a.nii.gz"), os.path.join(tmp, "b.nii.gz")
        nib.save(nib.Nifti1Image(a.astype(np.uint8), affine), pa)
        nib.save(nib.Nifti1Image(b.astype(np.uint8), affine), pb)
        out = subprocess.run(["plastimatch", "dice", "--all", pa, pb], capture_output=True,
                             text=True, check=True).stdout
    m = re.search(r"Percent \(0\.95\) Hausdorff distance \(boundary\) = ([0-9.eE+-]+)", out)
    return float(m.group(1))


def touches_edge(m):
    return m[0].any() or m[-1].any() or m[:, 0].any() or m[:, -1].any() or \
        m[:, :, 0].any() or m[:, :, -1].any()


COLS = ["tp", "fp", "fn", "tn", "dice", "jaccard", "sensitivity", "specificity", "precision",
        "vol_ref_ml", "vol_pred_ml", "vol_diff_ml", "rel_vol_diff", "volume_similarity", "kappa",
        "hd", "hd95", "hd95_pred_to_ref", "hd95_ref_to_pred", "assd", "masd", "nsd"]


def ratio(a, b):
    return a / b if b > 0 else float("nan")


def metrics_row(a, b, sp, method, q, tol):
    vox_ml = sp[0] * sp[1] * sp[2] / 1000.0  # a 2D image's voxel volume uses its third pixdim
    a, b, sp = to_plane(a, b, sp)
    tp = int(np.sum(a & b)); fp = int(np.sum(~a & b)); fn = int(np.sum(a & ~b))
    tn = int(a.size - tp - fp - fn)
    r = dict(tp=tp, fp=fp, fn=fn, tn=tn)
    empty = tp + fp + fn == 0
    r["dice"] = 1.0 if empty else 2 * tp / (2 * tp + fp + fn)
    r["jaccard"] = 1.0 if empty else tp / (tp + fp + fn)
    r["volume_similarity"] = 1.0 if empty else 1 - abs(fn - fp) / (2 * tp + fp + fn)
    r["sensitivity"] = ratio(tp, tp + fn)
    r["specificity"] = ratio(tn, tn + fp)
    r["precision"] = ratio(tp, tp + fp)
    r["vol_ref_ml"] = (tp + fn) * vox_ml
    r["vol_pred_ml"] = (tp + fp) * vox_ml
    r["vol_diff_ml"] = r["vol_pred_ml"] - r["vol_ref_ml"]
    r["rel_vol_diff"] = ratio(fp - fn, tp + fn)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        r["kappa"] = float(cohen_kappa_score(a.ravel(), b.ravel()))
    status = "ok"
    if not a.any() and not b.any():
        status = "both_empty"
    elif not a.any():
        status = "ref_empty"
    elif not b.any():
        status = "pred_empty"
    for c in ("hd", "hd95", "hd95_pred_to_ref", "hd95_ref_to_pred", "assd", "masd", "nsd"):
        r[c] = float("nan")
    if status != "ok":
        return status, r
    d_ab, d_ba = directed(a, b, sp), directed(b, a, sp)
    r["hd"] = max(d_ab.max(), d_ba.max())
    r["assd"] = np.concatenate([d_ab, d_ba]).mean()
    r["masd"] = 0.5 * (d_ab.mean() + d_ba.mean())
    r["nsd"] = (np.sum(d_ab <= tol) + np.sum(d_ba <= tol)) / (len(d_ab) + len(d_ba))
    if method == "medpy":
        r["hd95"] = np.percentile(np.hstack((d_ab, d_ba)), q)
        r["hd95_ref_to_pred"] = np.percentile(d_ab, q)
        r["hd95_pred_to_ref"] = np.percentile(d_ba, q)
    elif method == "monai":
        r["hd95_ref_to_pred"] = np.percentile(d_ab, q)
        r["hd95_pred_to_ref"] = np.percentile(d_ba, q)
        r["hd95"] = max(r["hd95_ref_to_pred"], r["hd95_pred_to_ref"])
    elif method == "plastimatch":
        r["hd95_ref_to_pred"] = plastimatch_rule(d_ab, q)
        r["hd95_pred_to_ref"] = plastimatch_rule(d_ba, q)
        r["hd95"] = 0.5 * (r["hd95_ref_to_pred"] + r["hd95_pred_to_ref"])
    else:
        r["hd95"], r["hd95_pred_to_ref"], r["hd95_ref_to_pred"], r["nsd"] = \
            deepmind(a, b, sp, q, tol)
        pkg = deepmind_package(a, b, sp, q, tol) if a.ndim == 2 else None
        if pkg is not None and not np.allclose(pkg, (r["hd95"], r["hd95_pred_to_ref"],
                                                     r["hd95_ref_to_pred"], r["nsd"]),
                                               rtol=1e-12, atol=0):
            sys.exit("surface-distance package %r != transcription %r" %
                     (pkg, (r["hd95"], r["hd95_pred_to_ref"], r["hd95_ref_to_pred"], r["nsd"])))
    return status, r


# published values of the 2D examples: (case, hd_method, tolerance) -> {column: (value, atol)}
PUBLISHED = {
    ("mr_fig10_2d", "medpy", 1.0): {"assd": (0.44, 0.01), "masd": (0.425, 0.001),
                                    "nsd": (0.89, 0.01)},
    ("monai_shift_2d", "monai", 0.0): {"nsd": (1 - 976 / 4252, 1e-12)},
    ("monai_lines_2d", "monai", 5.5): {"nsd": (1 - 4 / 6, 1e-12)},
}


def fmt(x):
    if isinstance(x, (int, np.integer)):
        return str(int(x))
    x = float(x)
    if np.isnan(x):
        return "nan"
    return repr(x)


def main():
    os.makedirs(OUT, exist_ok=True)
    pm_version = subprocess.run(["plastimatch", "--version"], capture_output=True,
                                text=True).stdout.strip()
    rows = []
    for ci, c in enumerate(make_cases()):
        sp = c["spacing"]
        aff = c["affine"] if c["affine"] is not None else \
            np.diag(list(sp) + [1.0] * (4 - len(sp)))
        fr, fp_ = "case_%02d_ref.nii.gz" % ci, "case_%02d_pred.nii.gz" % ci
        for arr, fn in ((c["ref"], fr), (c["pred"], fp_)):
            img = nib.Nifti1Image(arr, aff)
            img.header.set_xyzt_units("mm")
            nib.save(img, os.path.join(OUT, fn))
        # read back: spacing as the header stores it (float32 pixdim), in voxel-axis order
        sp = tuple(float(z) for z in nib.load(os.path.join(OUT, fr)).header.get_zooms()[:3])
        if len(sp) == 2:
            sp = sp + (1.0,)
        ref = np.asanyarray(nib.load(os.path.join(OUT, fr)).dataobj)
        pred = np.asanyarray(nib.load(os.path.join(OUT, fp_)).dataobj)
        for region in c["regions"]:
            a, b = region_mask(ref, region), region_mask(pred, region)
            settings = [("medpy", "voxel", 95.0, 2.0), ("monai", "voxel", 95.0, 2.0),
                        ("plastimatch", "voxel", 95.0, 2.0), ("deepmind", "surfel", 95.0, 2.0)]
            if c["name"] in ("blobs_aniso", "labels_multi"):
                settings += [("medpy", "voxel", 90.0, 1.5), ("monai", "voxel", 50.0, 3.0),
                             ("plastimatch", "voxel", 80.0, 1.0), ("deepmind", "surfel", 90.0, 1.5)]
            settings += c["extra"]
            for method, nsd_m, q, tol in settings:
                status, r = metrics_row(a, b, sp, method, q, tol)
                for col, (want, atol) in PUBLISHED.get((c["name"], method, tol), {}).items():
                    if abs(r[col] - want) > atol:
                        sys.exit("%s %s: %.6f, published %.6f" % (c["name"], col, r[col], want))
                cli = float("nan")
                if method == "plastimatch" and q == 95.0 and status == "ok" and \
                        a.ndim == 3 and flat_axis(a.shape) is None and \
                        not touches_edge(a) and not touches_edge(b):
                    cli = plastimatch_cli(a, b, aff)
                    if abs(cli - r["hd95"]) > 2e-6 * max(1.0, r["hd95"]) + 1e-6:
                        sys.exit("plastimatch CLI %.6f != rule %.9f for %s region %s" %
                                 (cli, r["hd95"], c["name"], region))
                rows.append([c["name"], fr, fp_, region, method, nsd_m, fmt(q), fmt(tol), status] +
                            [fmt(r[k]) for k in COLS] + [fmt(cli)])
    header = ["case", "ref", "pred", "region", "hd_method", "nsd_method", "percentile",
              "nsd_tol_mm", "status"] + COLS + ["plastimatch_cli_hd95"]
    with open(os.path.join(OUT, "metrics_golden.tsv"), "w") as f:
        f.write("# generated by tests/reference/metrics_reference.py with numpy %s, scipy %s, "
                "scikit-learn %s, scikit-image %s, nibabel %s, %s\n" %
                (np.__version__, scipy.__version__, sklearn.__version__, skimage.__version__,
                 nib.__version__, pm_version))
        f.write("# distances in mm; nan = undefined (empty mask, default policy 'nan')\n")
        f.write("\t".join(header) + "\n")
        for r in rows:
            f.write("\t".join(r) + "\n")
    print("wrote %d rows" % len(rows))


if __name__ == "__main__":
    main()
