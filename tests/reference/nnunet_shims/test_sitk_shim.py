"""Check the SimpleITK shim (SimpleITK.py beside this file) keeps the geometry.
Run:  /usr/bin/python3 tests/reference/nnunet_shims/test_sitk_shim.py   (prints 'ok', else raises)

Expected values are written out by hand from ITK's conventions (ITK reads NIfTI's RAS affine
into LPS physical space: direction = diag(-1, -1, 1) @ R, origin = diag(-1, -1, 1) @ t) and
checked against nibabel's affine of the same file.
"""
import os
import sys
import tempfile

import numpy as np
import nibabel as nib

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import SimpleITK as sitk  # noqa: E402  (the shim)

assert sitk.__file__.startswith(os.path.dirname(os.path.abspath(__file__))), sitk.__file__


def main():
    tmp = tempfile.mkdtemp()
    # identity affine: ITK reports direction diag(-1, -1, 1), origin 0 (a well-known fact)
    a = np.arange(2 * 3 * 4, dtype=np.int16).reshape(2, 3, 4)       # nibabel (i, j, k)
    p0 = os.path.join(tmp, 'eye.nii.gz')
    nib.save(nib.Nifti1Image(a, np.eye(4)), p0)
    im = sitk.ReadImage(p0)
    assert im.GetSize() == (2, 3, 4)
    assert im.GetSpacing() == (1.0, 1.0, 1.0)
    assert np.allclose(im.GetDirection(), (-1, 0, 0, 0, -1, 0, 0, 0, 1))
    arr = sitk.GetArrayFromImage(im)
    assert arr.shape == (4, 3, 2) and arr.dtype == np.int16
    assert arr[3, 2, 1] == a[1, 2, 3]                                 # [k, j, i] == nib[i, j, k]

    # rotated (30 degrees about RAS z, then 10 about x) and flipped (k reversed: an improper
    # matrix, qfac -1) affine, spacing (0.7, 0.9, 3.2), origin (12.5, -40.25, 7.0) in RAS.
    # (A flip whose proper part is a rotation near 180 degrees would make the float32 qform
    # quaternion lose ~1e-3; this one is well conditioned, so qform == sform to 1e-6.)
    t, u = np.deg2rad(30.0), np.deg2rad(10.0)
    rz = np.array([[np.cos(t), -np.sin(t), 0], [np.sin(t), np.cos(t), 0], [0, 0, 1]])
    rx = np.array([[1, 0, 0], [0, np.cos(u), -np.sin(u)], [0, np.sin(u), np.cos(u)]])
    rot = rz @ rx @ np.diag([1.0, 1.0, -1.0])
    sp = np.array([0.7, 0.9, 3.2])
    aff = np.eye(4)
    aff[:3, :3] = rot @ np.diag(sp)
    aff[:3, 3] = [12.5, -40.25, 7.0]
    b = (np.random.RandomState(0).rand(5, 6, 7) * 1000).astype(np.int16)
    nim = nib.Nifti1Image(b, None)
    nim.set_qform(aff, code=1)
    nim.set_sform(aff, code=1)
    p1 = os.path.join(tmp, 'rot.nii.gz')
    nib.save(nim, p1)
    aff_file = nib.load(p1).affine                                   # as stored (float32 fields)
    im = sitk.ReadImage(p1)
    lps = np.diag([-1.0, -1.0, 1.0])
    assert np.allclose(im.GetSpacing(), sp, atol=1e-6)
    assert np.allclose(np.array(im.GetDirection()).reshape(3, 3), lps @ rot, atol=1e-6)
    assert np.allclose(im.GetOrigin(), (-12.5, 40.25, 7.0), atol=1e-5)
    # ITK's physical point of index (i, j, k) is nibabel's RAS point with x, y negated
    idx = np.array([4, 1, 5])
    p_itk = np.array(im.GetOrigin()) + np.array(im.GetDirection()).reshape(3, 3) @ (
        np.array(im.GetSpacing()) * idx)
    p_ras = aff_file[:3, :3] @ idx + aff_file[:3, 3]
    assert np.allclose(p_itk, lps @ p_ras, atol=1e-5)
    arr = sitk.GetArrayFromImage(im)
    assert np.array_equal(arr, b.transpose(2, 1, 0))

    # nnU-Net's export: GetImageFromArray + SetSpacing/Origin/Direction + WriteImage
    out = sitk.GetImageFromArray((arr > 500).astype(np.uint8))
    assert out.GetSize() == (5, 6, 7)
    out.SetSpacing(im.GetSpacing())
    out.SetOrigin(im.GetOrigin())
    out.SetDirection(im.GetDirection())
    p2 = os.path.join(tmp, 'out.nii.gz')
    sitk.WriteImage(out, p2)
    back = nib.load(p2)
    assert back.get_data_dtype() == np.uint8
    assert np.allclose(back.affine, aff_file, atol=1e-5)
    assert np.allclose(back.get_qform(), aff_file, atol=1e-5)
    assert np.allclose(back.get_sform(), aff_file, atol=1e-5)
    assert int(back.header['qform_code']) == 1 and int(back.header['sform_code']) == 1
    assert np.array_equal(np.asanyarray(back.dataobj), (b > 500).astype(np.uint8))

    # postprocessing's CopyInformation round trip
    again = sitk.ReadImage(p2)
    cp = sitk.GetImageFromArray(sitk.GetArrayFromImage(again))
    cp.CopyInformation(again)
    assert cp.GetSpacing() == again.GetSpacing() and cp.GetOrigin() == again.GetOrigin()
    assert cp.GetDirection() == again.GetDirection()
    print('ok')


if __name__ == '__main__':
    main()
