#!/usr/bin/python3
"""The peer of bench_metrics.sh: Dice, HD95, ASSD and NSD computed the way MedPy does it
(medpy.metric.binary.__surface_distances): boundary = mask XOR its 6-connected erosion,
scipy.ndimage.distance_transform_edt of the complement of the other boundary over the FULL
volume, with the header spacing. Prints one CSV line.

Usage: /usr/bin/python3 bench/medpy_style.py REF.nii.gz PRED.nii.gz [NSD_TOL_MM]
"""
import sys
import numpy as np
import nibabel as nib
from scipy import ndimage


def surface_distances(a, b, spacing):
    fp = ndimage.generate_binary_structure(3, 1)
    a_border = a ^ ndimage.binary_erosion(a, structure=fp, iterations=1)
    b_border = b ^ ndimage.binary_erosion(b, structure=fp, iterations=1)
    dt = ndimage.distance_transform_edt(~b_border, sampling=spacing)
    return dt[a_border]


def main():
    ref_img = nib.load(sys.argv[1])
    pred_img = nib.load(sys.argv[2])
    tol = float(sys.argv[3]) if len(sys.argv) > 3 else 2.0
    spacing = ref_img.header.get_zooms()[:3]
    ref = np.asarray(ref_img.dataobj) != 0
    pred = np.asarray(pred_img.dataobj) != 0
    inter = np.count_nonzero(ref & pred)
    dice = 2.0 * inter / (np.count_nonzero(ref) + np.count_nonzero(pred))
    d_pr = surface_distances(pred, ref, spacing)
    d_rp = surface_distances(ref, pred, spacing)
    both = np.hstack((d_pr, d_rp))
    hd95 = np.percentile(both, 95)
    assd = both.mean()
    nsd = (np.count_nonzero(d_pr <= tol) + np.count_nonzero(d_rp <= tol)) / both.size
    print("dice,hd95,assd,nsd")
    print("%.17g,%.17g,%.17g,%.17g" % (dice, hd95, assd, nsd))


main()
