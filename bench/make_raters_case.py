#!/usr/bin/python3
"""Write the multi-rater benchmark case of issue 10: five raters' 512x512x200 uint8 label maps
of one pancreas-like tube (spacing 0.78 x 0.78 x 2.5 mm), each rater with its own boundary
jitter and offset, rater 5 over-segmenting (one voxel dilation), as .nii.gz (gzip level 6).

Usage: /usr/bin/python3 bench/make_raters_case.py OUTDIR      (writes r1..r5.nii.gz)
"""
import os
import sys

import nibabel as nib
import numpy as np
from scipy import ndimage


def tube(shape, spacing, centre_mm, rng, radius_scale=1.0, jitter_mm=1.0):
    """A curved tube with a thick head and a tapering tail; the radius wobbles by jitter_mm."""
    t = np.linspace(0.0, 1.0, 400)
    cx = centre_mm[0] + (-70 + 140 * t)
    cy = centre_mm[1] + 25 * np.sin(np.pi * t) + 8 * t
    cz = centre_mm[2] + 20 * t ** 2
    phase = rng.uniform(0, 2 * np.pi, 3)
    r = radius_scale * (15 - 9 * t) + jitter_mm * (np.sin(9 * t + phase[0]) +
                                                   0.5 * np.sin(23 * t + phase[1]))
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
    shape, spacing = (512, 512, 200), (0.78, 0.78, 2.5)
    rng = np.random.default_rng(10)
    aff = np.diag([spacing[0], spacing[1], spacing[2], 1.0])
    for r in range(5):
        centre = (200.0 + rng.uniform(-1.5, 1.5), 180.0 + rng.uniform(-1.5, 1.5),
                  220.0 + rng.uniform(-2, 2))
        m = tube(shape, spacing, centre, rng)
        if r == 4:
            m = ndimage.binary_dilation(m)
        img = nib.Nifti1Image(m.astype(np.uint8), aff)
        img.set_qform(aff, code=1)
        img.set_sform(aff, code=1)
        nib.save(img, os.path.join(out, "r%d.nii.gz" % (r + 1)))
        print("rater %d: %.1f ml" % (r + 1, m.sum() * np.prod(spacing) / 1000), file=sys.stderr)


main()
