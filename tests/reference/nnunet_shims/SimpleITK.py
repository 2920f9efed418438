"""A minimal stand-in for SimpleITK over nibabel, for running nnU-Net v1's predict path
(tests/reference/nnunet_predict_reference.py). SimpleITK is not packaged in Debian.

Only what nnU-Net v1's preprocessing (cropping.load_case_from_list_of_files), export
(segmentation_export.save_segmentation_nifti_from_softmax) and postprocessing
(connected_components.load_remove_save) call is provided, with SimpleITK's conventions:

  * GetArrayFromImage returns the voxels indexed [k, j, i] (z, y, x) -- numpy's C order is
    the reverse of ITK's index order -- in the file's stored type (scl_slope/inter applied
    by nibabel only when present).
  * GetSize / GetSpacing / GetOrigin are in ITK index order (i, j, k); GetDirection is the
    row-major 3x3 direction cosine matrix as a 9-tuple.
  * Physical space is LPS: an ITK physical point p = origin + D @ diag(spacing) @ (i, j, k).
    NIfTI's affine maps to RAS, so  D @ diag(spacing) = F @ A[:3, :3]  and  origin = F @ A[:3, 3]
    with F = diag(-1, -1, 1).  The affine read is nibabel's best affine (sform if its code
    is > 0, else qform); the fixtures write identical qform and sform, so ITK's choice between
    them does not matter. Spacing = the affine's column norms (ITK takes pixdim; in files
    written by nibabel's set_qform/set_sform they agree to float32 rounding, ~1e-8).
  * WriteImage writes the inverse transform into both qform and sform (codes 1, as ITK's
    NiftiImageIO does), pixdim = spacing, xyzt units mm.

This is our own code (panseval), not SimpleITK's. Images are 3-D scalar only; anything else
raises NotImplementedError so an unexpected code path cannot pass silently.
"""
import numpy as np
import nibabel as nib

_LPS = np.diag([-1.0, -1.0, 1.0])

sitkUInt8 = 'uint8'
sitkInt16 = 'int16'
sitkFloat32 = 'float32'


class Image(object):
    def __init__(self, array_zyx=None):
        self._a = None
        self._spacing = (1.0, 1.0, 1.0)
        self._origin = (0.0, 0.0, 0.0)
        self._direction = (1.0, 0.0, 0.0, 0.0, 1.0, 0.0, 0.0, 0.0, 1.0)
        if array_zyx is not None:
            self._a = np.ascontiguousarray(array_zyx)

    def GetSize(self):
        return tuple(int(s) for s in self._a.shape[::-1])

    def GetDimension(self):
        return self._a.ndim

    def GetSpacing(self):
        return self._spacing

    def GetOrigin(self):
        return self._origin

    def GetDirection(self):
        return self._direction

    def SetSpacing(self, s):
        s = tuple(float(v) for v in s)
        if len(s) != 3:
            raise NotImplementedError('shim: 3-D images only')
        self._spacing = s

    def SetOrigin(self, o):
        o = tuple(float(v) for v in o)
        if len(o) != 3:
            raise NotImplementedError('shim: 3-D images only')
        self._origin = o

    def SetDirection(self, d):
        d = tuple(float(v) for v in d)
        if len(d) != 9:
            raise NotImplementedError('shim: 3-D images only')
        self._direction = d

    def CopyInformation(self, other):
        if self.GetSize() != other.GetSize():
            raise RuntimeError('CopyInformation: sizes differ %s vs %s'
                               % (self.GetSize(), other.GetSize()))
        self._spacing = other._spacing
        self._origin = other._origin
        self._direction = other._direction

    # affine helpers (not SimpleITK API)
    def _affine_ras(self):
        d = np.array(self._direction, dtype=np.float64).reshape(3, 3)
        a = np.eye(4)
        a[:3, :3] = _LPS @ d @ np.diag(self._spacing)
        a[:3, 3] = _LPS @ np.array(self._origin)
        return a


def ReadImage(path, *args):
    if args:
        raise NotImplementedError('shim: ReadImage with a pixel type')
    nim = nib.load(path)
    if len(nim.shape) != 3:
        raise NotImplementedError('shim: %s is %d-D; only 3-D scalar images' % (path, len(nim.shape)))
    arr = np.asanyarray(nim.dataobj)
    img = Image(arr.transpose(2, 1, 0))
    aff = nim.affine.astype(np.float64)
    m = _LPS @ aff[:3, :3]
    sp = np.sqrt((m * m).sum(axis=0))
    img._spacing = tuple(float(v) for v in sp)
    img._direction = tuple(float(v) for v in (m / sp).ravel())
    img._origin = tuple(float(v) for v in _LPS @ aff[:3, 3])
    return img


def GetArrayFromImage(img):
    return img._a.copy()


def GetImageFromArray(arr, isVector=False):
    if isVector:
        raise NotImplementedError('shim: vector images')
    arr = np.asarray(arr)
    if arr.ndim != 3:
        raise NotImplementedError('shim: 3-D arrays only (got %d-D)' % arr.ndim)
    return Image(arr)


def WriteImage(img, path, useCompression=False, *args):
    a = img._a
    if a.dtype == np.bool_:
        a = a.astype(np.uint8)
    nim = nib.Nifti1Image(np.ascontiguousarray(a.transpose(2, 1, 0)), None)
    aff = img._affine_ras()
    nim.set_qform(aff, code=1)
    nim.set_sform(aff, code=1)
    nim.header.set_zooms(img._spacing)
    nim.header.set_xyzt_units('mm')
    nim.header.set_data_dtype(a.dtype)
    nib.save(nim, path)
