#!/usr/bin/python3
"""Write the NIfTI fixtures of tests/io and what nibabel reports about them.

Run with Debian's interpreter from the repository root:
    /usr/bin/python3 tests/reference/io_make_fixtures.py
Outputs (tests/golden/io/):
    *.nii, *.nii.gz      small images written by nibabel (one per feature under test)
    *.hdr/*.img[.gz]     NIfTI-1, NIfTI-2 and Analyze 7.5 pairs (nifti_version 0 = Analyze)
    io_images.tsv        one row per image: shape, dtype, scaling, zooms, affine, voxel sum
    io_voxels.tsv        selected voxel values after scaling (nibabel get_fdata)
Every expected value is nibabel's (version in the 'source' column), except the affine of
files with neither sform nor qform: there the NIfTI-1 standard's method 1 (pixdim diagonal)
is written, because nibabel instead centres the grid (Analyze convention). For Analyze 7.5
pairs the affine is nibabel's (nib.load gives a Spm2AnalyzeImage), and the transform codes are
those of nib.Nifti1Image(data, affine), the NIfTI header nibabel would write for the image.
"""
import gzip
import os
import sys

import nibabel as nib
import numpy as np

OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "golden", "io")
SRC = "nibabel %s" % nib.__version__
rng = np.random.default_rng(20241127)

def oblique_affine(spacing, origin, angle_deg):
    """Rotation about z then x, scaled by spacing."""
    a = np.deg2rad(angle_deg)
    rz = np.array([[np.cos(a), -np.sin(a), 0], [np.sin(a), np.cos(a), 0], [0, 0, 1]])
    b = np.deg2rad(angle_deg / 2)
    rx = np.array([[1, 0, 0], [0, np.cos(b), -np.sin(b)], [0, np.sin(b), np.cos(b)]])
    m = np.eye(4)
    m[:3, :3] = rz @ rx @ np.diag(spacing)
    m[:3, 3] = origin
    return m

def save(img, name):
    path = os.path.join(OUT, name)
    nib.save(img, path)
    return path

fixtures = []  # (file name, note)

def write_raw(img, name, slope, inter):
    """Save `img` with its stored values kept as they are and the header scaling set to
    (slope, inter). nib.save would recompute the scaling from the data instead."""
    hdr = img.header.copy()
    hdr.set_data_shape(img.shape)
    hdr.set_slope_inter(slope, inter)
    hdr.set_data_offset(352)
    raw = np.asanyarray(img.dataobj).astype(hdr.get_data_dtype())
    payload = bytearray()
    hdr_bytes = hdr.binaryblock
    payload += hdr_bytes + b"\0" * (352 - len(hdr_bytes))
    payload += raw.tobytes(order="F")
    path = os.path.join(OUT, name)
    opener = gzip.open if name.endswith(".gz") else open
    with opener(path, "wb") as f:
        f.write(bytes(payload))
    fixtures.append((name, ""))

def add(img, name, note):
    save(img, name)
    fixtures.append((name, note))

# 1. uint8 labels, qform only (sform_code 0), anisotropic spacing, .nii.gz
lab = rng.integers(0, 4, size=(6, 5, 4)).astype(np.uint8)
img = nib.Nifti1Image(lab, None)
img.set_qform(np.diag([0.8, 0.9, 2.5, 1.0]) + np.array([[0,0,0,-10],[0,0,0,20],[0,0,0,-30],[0,0,0,0]]), code=1)
img.set_sform(None, code=0)
add(img, "u8_qform.nii.gz", "uint8 labels, qform only")

# 2. int16 with scl_slope/scl_inter, sform (code 2) and a different qform, .nii
d = rng.integers(-300, 300, size=(6, 5, 4)).astype(np.int16)
img = nib.Nifti1Image(d, oblique_affine([0.7, 0.7, 3.0], [-100.5, 50.25, 12.0], 20.0))
img.set_qform(np.diag([0.7, 0.7, 3.0, 1.0]), code=1)
img.set_sform(oblique_affine([0.7, 0.7, 3.0], [-100.5, 50.25, 12.0], 20.0), code=2)
write_raw(img, "i16_scaled_sform.nii", 0.5, 10.0)
fixtures[-1] = (fixtures[-1][0], "int16, scl_slope 0.5, scl_inter 10, oblique sform code 2")

# 3. float32 image, oblique qform only with qfac -1 (left-handed), .nii.gz
d = rng.normal(100.0, 20.0, size=(6, 5, 4)).astype(np.float32)
aff = oblique_affine([1.25, 1.0, 2.0], [5.0, -7.5, 33.0], 35.0)
aff[:3, 2] *= -1  # flip k: negative determinant -> qfac -1
img = nib.Nifti1Image(d, None)
img.set_qform(aff, code=1)
img.set_sform(None, code=0)
add(img, "f32_qform_oblique.nii.gz", "float32, oblique qform only, qfac -1")

# 4. float64 4D (two channels), sform only
d = rng.normal(0.0, 1.0, size=(6, 5, 4, 2))
img = nib.Nifti1Image(d, np.diag([1.5, 1.5, 1.5, 1.0]), dtype=np.float64)
img.set_qform(None, code=0)
img.set_sform(np.diag([1.5, 1.5, 1.5, 1.0]), code=1)
add(img, "f64_4d.nii", "float64, 4D with 2 channels, sform only")

# 5. the remaining integer types
for dt, name in [(np.int8, "i8"), (np.uint16, "u16"), (np.int32, "i32"), (np.uint32, "u32"),
                 (np.int64, "i64")]:
    info = np.iinfo(dt)
    lo, hi = max(info.min, -1000), min(info.max, 70000)
    d = rng.integers(lo, hi, size=(4, 3, 2), endpoint=True).astype(dt)
    img = nib.Nifti1Image(d, np.diag([1.0, 2.0, 3.0, 1.0]), dtype=dt)
    add(img, "%s.nii.gz" % name, "%s, diagonal sform" % name)

# 6. NIfTI-2, int32 labels above 255
d = rng.integers(0, 3, size=(5, 4, 3)).astype(np.int32) * 300
img = nib.Nifti2Image(d, oblique_affine([0.5, 0.6, 0.7], [1.0, 2.0, 3.0], 10.0), dtype=np.int32)
add(img, "n2_i32.nii.gz", "NIfTI-2, int32 labels 0/300/600")

# 7. multi-member gzip: the .nii bytes split inside the header and again in the data
d = rng.integers(0, 5, size=(7, 6, 5)).astype(np.uint8)
img = nib.Nifti1Image(d, np.diag([0.9, 0.9, 1.1, 1.0]))
raw = img.to_bytes()
parts = [raw[:200], raw[200:500], raw[500:]]
with open(os.path.join(OUT, "multimember.nii.gz"), "wb") as f:
    for p in parts:
        f.write(gzip.compress(p, mtime=0))
fixtures.append(("multimember.nii.gz", "uint8, three gzip members (split at 200 and 500)"))

# 8. float32 label map with rounding noise (accepted: within 1e-3 of integers)
d = rng.integers(0, 3, size=(5, 4, 3)).astype(np.float32)
d += rng.uniform(-2e-4, 2e-4, size=d.shape).astype(np.float32)
img = nib.Nifti1Image(d, np.eye(4))
add(img, "f32_labels_noisy.nii.gz", "float32 labels with |noise| <= 2e-4")

# 9. big-endian int16 with scaling
d = rng.integers(0, 1000, size=(4, 3, 2)).astype(">i2")
hdr = nib.Nifti1Header(endianness=">")
img = nib.Nifti1Image(d, np.diag([2.0, 2.0, 2.0, 1.0]), header=hdr)
img.header.set_data_dtype(">i2")
write_raw(img, "i16_bigendian.nii", 2.0, -1.0)
fixtures[-1] = (fixtures[-1][0], "big-endian int16, slope 2, inter -1")

# 10. neither sform nor qform (NIfTI method 1)
d = rng.integers(0, 2, size=(4, 3, 2)).astype(np.uint8)
img = nib.Nifti1Image(d, None)
img.header.set_zooms((0.5, 0.75, 1.25))
img.set_qform(None, code=0)
img.set_sform(None, code=0)
add(img, "no_xform.nii", "uint8, sform_code 0 and qform_code 0")

# 11. spatial units in metres (spacing and affine are converted to mm)
d = rng.integers(0, 2, size=(4, 3, 2)).astype(np.uint8)
img = nib.Nifti1Image(d, np.diag([0.001, 0.002, 0.003, 1.0]))
img.header.set_xyzt_units("meter")
add(img, "units_meter.nii", "uint8, xyz_units metre")

# 12. scaled uint8 labels (slope 1, inter 1 -> labels 1..)
d = rng.integers(0, 3, size=(4, 3, 2)).astype(np.uint8)
img = nib.Nifti1Image(d, np.eye(4))
write_raw(img, "u8_inter1.nii.gz", 1.0, 1.0)
fixtures[-1] = (fixtures[-1][0], "uint8, scl_inter 1 (labels shift by one)")

# ---- .hdr/.img pairs (NIfTI-1, NIfTI-2, Analyze 7.5), own random stream ----------------------
rng2 = np.random.default_rng(20261202)

def write_pair_raw(hdr, data, name, gz=False):
    """Write header bytes and raw voxels (Fortran order) as NAME.hdr/NAME.img[.gz]."""
    base = os.path.join(OUT, name)
    opener = gzip.open if gz else open
    sfx = ".gz" if gz else ""
    with opener(base + ".hdr" + sfx, "wb") as f:
        f.write(hdr.binaryblock)
    with opener(base + ".img" + sfx, "wb") as f:
        f.write(np.asarray(data).astype(hdr.get_data_dtype()).tobytes(order="F"))

# 13. NIfTI-1 pair: int16 with scaling and an oblique sform (read by the .hdr name)
d = rng2.integers(-200, 200, size=(5, 4, 3)).astype(np.int16)
img = nib.Nifti1Pair(d, oblique_affine([0.8, 0.9, 2.0], [-20.0, 10.5, 7.0], 15.0))
hdr = img.header.copy()
hdr.set_data_shape(d.shape)
hdr.set_slope_inter(0.25, -3.0)
hdr.set_data_offset(0)
write_pair_raw(hdr, d, "pair_i16")
fixtures.append(("pair_i16.hdr", "NIfTI-1 pair (ni1), int16, slope 0.25, inter -3, oblique sform"))

# 14. NIfTI-1 pair, both files gzip-compressed, uint8 labels (read by the .img.gz name)
d = rng2.integers(0, 3, size=(6, 5, 4)).astype(np.uint8)
img = nib.Nifti1Pair(d, np.diag([0.7, 0.7, 2.5, 1.0]))
nib.save(img, os.path.join(OUT, "pair_u8.img.gz"))
fixtures.append(("pair_u8.img.gz", "NIfTI-1 pair, .hdr.gz + .img.gz, uint8 labels"))

# 15. NIfTI-2 pair, float32
d = rng2.normal(10.0, 3.0, size=(4, 3, 2)).astype(np.float32)
img = nib.Nifti2Pair(d, oblique_affine([1.0, 1.5, 2.0], [3.0, -4.0, 5.0], 5.0))
nib.save(img, os.path.join(OUT, "pair_n2_f32.img"))
fixtures.append(("pair_n2_f32.img", "NIfTI-2 pair (ni2), float32"))

# 16. Analyze 7.5, uint8 labels, no SPM origin: nibabel centres the grid and flips x
d = rng2.integers(0, 3, size=(5, 4, 3)).astype(np.uint8)
img = nib.AnalyzeImage(d, np.diag([0.9, 1.1, 3.0, 1.0]))
nib.save(img, os.path.join(OUT, "analyze_u8.hdr"))
fixtures.append(("analyze_u8.img", "Analyze 7.5, uint8, no origin (grid centre), x flipped"))

# 17. Analyze 7.5 (SPM2 style), big-endian int16, scale factor in funused1 with intercept in
#     funused2, SPM origin field set
d = rng2.integers(0, 500, size=(6, 4, 3)).astype(">i2")
hdr = nib.Spm2AnalyzeHeader(endianness=">")
hdr.set_data_dtype(">i2")
hdr.set_data_shape(d.shape)
hdr.set_zooms((0.9, 1.25, 2.5))
hdr["scl_slope"] = 0.5
hdr["scl_inter"] = 2.0
hdr["origin"][:3] = (3, 2, 1)
hdr.set_data_offset(0)
write_pair_raw(hdr, d, "analyze_spm_i16")
fixtures.append(("analyze_spm_i16.hdr", "Analyze 7.5 big-endian int16, funused1 0.5, funused2 2, "
                 "SPM origin (3, 2, 1)"))

# 18. Analyze 7.5 float32 without a scale factor but with glmax/glmin and cal_max/cal_min
#     (SPM2's spm_vol_ana.m rule), compressed pair
d = rng2.integers(0, 100, size=(4, 3, 2)).astype(np.float32)
hdr = nib.Spm2AnalyzeHeader()
hdr.set_data_dtype(np.float32)
hdr.set_data_shape(d.shape)
hdr.set_zooms((2.0, 2.0, 4.0))
hdr["scl_slope"] = 0.0
hdr["glmax"], hdr["glmin"] = 110, 10
hdr["cal_max"], hdr["cal_min"] = 0.8, 0.2
hdr.set_data_offset(0)
write_pair_raw(hdr, d, "analyze_cal_f32", gz=True)
fixtures.append(("analyze_cal_f32.hdr.gz", "Analyze 7.5 float32 .hdr.gz/.img.gz, scaling from "
                 "glmax/glmin and cal_max/cal_min"))

# ---- golden tables ------------------------------------------------------------------------
rows = []
vox_rows = []
for name, note in fixtures:
    img = nib.load(os.path.join(OUT, name))
    hdr = img.header
    shape = list(img.shape) + [1] * (4 - len(img.shape))
    analyze = not isinstance(img, (nib.Nifti1Pair, nib.Nifti2Pair))  # Nifti*Image subclass Pair
    unit = 1.0 if analyze else {"meter": 1000.0, "mm": 1.0, "micron": 0.001,
                                "unknown": 1.0}[hdr.get_xyzt_units()[0]]
    zooms = [float(z) * unit for z in hdr.get_zooms()[:3]]
    if analyze:
        # Analyze has no transform codes: expect those of the NIfTI header nibabel writes for
        # the image, nib.Nifti1Image(data, img.affine)
        conv = nib.Nifti1Image(np.asanyarray(img.dataobj), img.affine).header
        sc, qc = int(conv["sform_code"]), int(conv["qform_code"])
    else:
        sc, qc = int(hdr["sform_code"]), int(hdr["qform_code"])
    if analyze:
        aff = img.affine.copy()
        asrc = SRC + " img.affine (%s)" % type(img).__name__
    elif sc == 0 and qc == 0:
        aff = np.diag([float(z) for z in hdr.get_zooms()[:3]] + [1.0])
        asrc = "NIfTI-1 method 1 (pixdim diagonal)"
    else:
        aff = img.affine.copy()
        asrc = SRC + " img.affine"
    aff[:3, :] *= unit
    # a loaded image keeps the file's scaling in dataobj (img.header has it reset to NaN)
    slope, inter = img.dataobj.slope, img.dataobj.inter
    data = img.get_fdata(dtype=np.float64)
    dtype = str(img.get_data_dtype().newbyteorder("=")).replace("=", "")
    dtype = np.dtype(dtype).name
    ver = 0 if analyze else 2 if isinstance(img, (nib.Nifti2Image, nib.Nifti2Pair)) else 1
    rows.append([name, ver, shape[0], shape[1], shape[2], shape[3], dtype,
                 repr(float(slope)), repr(float(inter)), qc, sc]
                + [repr(z) for z in zooms]
                + [repr(float(aff[r, c])) for r in range(3) for c in range(4)]
                + [repr(float(data.sum())), SRC, asrc, note])
    flat = data.reshape(shape, order="F")
    idxs = {(0, 0, 0, 0), (shape[0] - 1, shape[1] - 1, shape[2] - 1, shape[3] - 1),
            (shape[0] // 2, shape[1] // 3, shape[2] // 2, 0), (1, 0, shape[2] - 1, shape[3] - 1)}
    for (i, j, k, t) in sorted(idxs):
        vox_rows.append([name, i, j, k, t, repr(float(flat[i, j, k, t])), SRC + " get_fdata"])

cols = (["file", "nifti_version", "nx", "ny", "nz", "nt", "dtype", "scl_slope", "scl_inter",
         "qform_code", "sform_code", "spacing_x_mm", "spacing_y_mm", "spacing_z_mm"]
        + ["a%d%d" % (r, c) for r in range(3) for c in range(4)]
        + ["sum_scaled", "source", "affine_source", "note"])
with open(os.path.join(OUT, "io_images.tsv"), "w") as f:
    f.write("# written by tests/reference/io_make_fixtures.py; values from %s\n" % SRC)
    f.write("\t".join(cols) + "\n")
    for r in rows:
        f.write("\t".join(str(x) for x in r) + "\n")
with open(os.path.join(OUT, "io_voxels.tsv"), "w") as f:
    f.write("# written by tests/reference/io_make_fixtures.py\n")
    f.write("file\ti\tj\tk\tt\tvalue\tsource\n")
    for r in vox_rows:
        f.write("\t".join(str(x) for x in r) + "\n")
print("wrote %d fixtures to %s" % (len(fixtures), OUT), file=sys.stderr)
