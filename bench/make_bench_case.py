#!/usr/bin/python3
"""Write the benchmark case of issue 2: a 512x512x200 uint8 pancreas-like reference and a
prediction with realistic errors, spacing 0.78 x 0.78 x 2.5 mm, as .nii.gz (nibabel, gzip
level 6 like nnU-Net/SimpleITK output).

Usage: /usr/bin/python3 bench/make_bench_case.py OUTDIR
"""
import sys, os
import numpy as np
import nibabel as nib
from scipy import ndimage


def tube(shape, spacing, centre_mm, seed, radius_scale=1.0):
    """A curved tube with a thick head, a body and a tapering tail (about 70-90 ml)."""
    rng = np.random.default_rng(seed)
    nx, ny, nz = shape
    t = np.linspace(0.0, 1.0, 400)
    # centre line in mm: head at the right, tail rising to the left
    cx = centre_mm[0] + (-70 + 140 * t)
    cy = centre_mm[1] + 25 * np.sin(np.pi * t) + 8 * t
    cz = centre_mm[2] + 20 * t ** 2
    r = radius_scale * (15 - 9 * t)           # head 15 mm, tail 6 mm
    mask = np.zeros(shape, dtype=bool)
    sx, sy, sz = spacing
    for x0, y0, z0, r0 in zip(cx, cy, cz, r):
        i0, i1 = int((x0 - r0) / sx) - 1, int((x0 + r0) / sx) + 2
        j0, j1 = int((y0 - r0) / sy) - 1, int((y0 + r0) / sy) + 2
        k0, k1 = int((z0 - r0) / sz) - 1, int((z0 + r0) / sz) + 2
        ii, jj, kk = np.meshgrid(np.arange(i0, i1), np.arange(j0, j1), np.arange(k0, k1),
                                 indexing="ij")
        inside = ((ii * sx - x0) ** 2 + (jj * sy - y0) ** 2 + (kk * sz - z0) ** 2) <= r0 ** 2
        mask[ii[inside], jj[inside], kk[inside]] = True
    return mask


def main():
    out = sys.argv[1]
    os.makedirs(out, exist_ok=True)
    shape = (512, 512, 200)
    spacing = (0.78, 0.78, 2.5)
    centre = (200.0, 180.0, 220.0)
    ref = tube(shape, spacing, centre, 1)
    # prediction: shifted by one voxel, slightly thinner, tail end missed, one false blob
    pred = tube(shape, spacing, (centre[0] + 1.5, centre[1] - 0.8, centre[2] + 2.5), 2, 0.93)
    tail = np.zeros(shape, dtype=bool)
    tail[int((centre[0] + 55) / spacing[0]):, :, :] = True
    pred &= ~tail
    ii, jj, kk = np.ogrid[:shape[0], :shape[1], :shape[2]]
    blob = ((ii - 300) ** 2 + (jj - 160) ** 2 + ((kk - 95) * 3.2) ** 2) <= 12 ** 2
    pred |= blob
    aff = np.diag([spacing[0], spacing[1], spacing[2], 1.0])
    for name, m in (("ref", ref), ("pred", pred)):
        img = nib.Nifti1Image(m.astype(np.uint8), aff)
        img.header.set_zooms(spacing)
        img.set_qform(aff, code=1)
        img.set_sform(aff, code=1)
        nib.save(img, os.path.join(out, name + ".nii.gz"))
    vox_ml = np.prod(spacing) / 1000.0
    print("ref %.1f ml, pred %.1f ml" % (ref.sum() * vox_ml, pred.sum() * vox_ml), file=sys.stderr)


main()
