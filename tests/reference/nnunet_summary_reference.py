#!/usr/bin/python3
"""Runs nnU-Net's own evaluators on a few small NIfTI pairs and commits the summary.json files
they write, as goldens for panseval's nnU-Net writer and reader (reports/nnunet_json.c,
tests/reports/test_nnunet_json.c).

    NNUNET_V1_SRC=/path/with/nnunet NNUNET_V2_SRC=/path/with/nnunetv2 \\
    PANSEGNET_SRC=/path/with/PaNSegNet/nnunet MEDPY_SRC=/path/with/medpy \\
        /usr/bin/python3 tests/reference/nnunet_summary_reference.py

NNUNET_V1_SRC is a folder holding the `nnunet` package of nnU-Net v1 (github MIC-DKFZ/nnUNet,
branch nnunetv1, commit db16c6cef5fdd5a180159184e46b58bcca670446), NNUNET_V2_SRC one holding
`nnunetv2` (master, commit 0e495086eb108ff79afe106291e8c15bd2f2bc3a), e.g.
    git --git-dir=nnUNet/.git archive nnunetv1 nnunet | tar -x -C /tmp/v1
    git --git-dir=nnUNet/.git archive master nnunetv2 | tar -x -C /tmp/v2
PANSEGNET_SRC holds the `nnunet` package of the PaNSegNet fork (github NUBagciLab/PaNSegNet,
src/, commit 384b65a5924677f88bc4c7d0e72ffcf3fd9de219), whose Evaluator adds "Hausdorff
Distance 95" and "Avg. Symmetric Surface Distance" (MedPy) to nnU-Net v1's default metrics;
MEDPY_SRC holds `medpy` (github loli/medpy, tag 0.5.2, commit
3fbdf6c9608ebba9734e7a32a4d0642f022f0815), the real MedPy the fork calls. The fork runs in a
child process of this script (it has the same package name as nnU-Net v1).
No nnU-Net, PaNSegNet or MedPy code is copied here: it is imported from those folders and run.

Called: v1 nnunet.evaluation.evaluator.evaluate_folder(ref, pred, labels=(1, 2)) (what
`nnUNet_evaluate_folder -ref REF -pred PRED -l 1 2` runs; it writes PRED/summary.json), and v2
nnunetv2.evaluation.evaluate_predictions.compute_metrics_on_folder(ref, pred, out, NibabelIO(),
'.nii.gz', [1, 2], None, 1) (what nnUNetv2_evaluate_simple runs, with nnU-Net's own nibabel
reader).

Shims (stated, because these packages are not installed on the reference machine; none of
them computes a number that ends up in the goldens):
  * SimpleITK: ReadImage / GetArrayFromImage / GetSpacing over nibabel (v1 reads the masks
    with it; the array is transposed to SimpleITK's z, y, x order, spacing kept in x, y, z);
  * batchgenerators.utilities.file_and_folder_operations: subfiles, join, isfile, load_json,
    save_json (json.dump with indent=4, sort_keys=True, as batchgenerators does);
  * medpy.metric, for upstream v1 only: imported by its metrics.py but not called
    (evaluate_folder computes only the confusion-matrix metrics there); the PaNSegNet run uses
    the real MedPy 0.5.2;
  * nnunetv2.imageio.reader_writer_registry and nnunetv2.utilities.plans_handling.plans_handler:
    imported by evaluate_predictions.py, not used by compute_metrics_on_folder.

Cases (labels 0 background, 1, 2; 6 x 5 x 4 voxels, spacing 1.5 x 1 x 2 mm):
  c01  both labels overlap partly;
  c02  label 2 missing from the prediction (pred empty for 2);
  c03  label 2 in neither mask (both empty for 2: nnU-Net writes Dice NaN);
  c04  label 1 predicted but absent from the reference (ref empty for 1).
"""
import json
import os
import shutil
import sys
import types

import nibabel as nib
import numpy as np

OUT = "tests/golden/reports/nnunet"


# ---- shims ------------------------------------------------------------------------------------
def _install_shims(real_medpy):
    sitk = types.ModuleType("SimpleITK")

    class _Image:
        def __init__(self, img):
            self.img = img

        def GetSpacing(self):
            return tuple(float(z) for z in self.img.header.get_zooms()[:3])

    sitk.ReadImage = lambda path: _Image(nib.load(path))
    sitk.GetArrayFromImage = lambda im: np.asarray(im.img.dataobj).transpose()
    sys.modules["SimpleITK"] = sitk

    def subfiles(folder, join=True, prefix=None, suffix=None, sort=True):
        names = [f for f in os.listdir(folder) if os.path.isfile(os.path.join(folder, f))
                 and (prefix is None or f.startswith(prefix))
                 and (suffix is None or f.endswith(suffix))]
        if sort:
            names.sort()
        return [os.path.join(folder, f) for f in names] if join else names

    def save_json(obj, file, indent=4, sort_keys=True):
        with open(file, "w") as f:
            json.dump(obj, f, sort_keys=sort_keys, indent=indent)

    def load_json(file):
        with open(file) as f:
            return json.load(f)

    ffo = types.ModuleType("batchgenerators.utilities.file_and_folder_operations")
    ffo.subfiles, ffo.join, ffo.isfile = subfiles, os.path.join, os.path.isfile
    ffo.save_json, ffo.load_json = save_json, load_json
    ffo.maybe_mkdir_p = lambda d: os.makedirs(d, exist_ok=True)
    for name in ("batchgenerators", "batchgenerators.utilities"):
        sys.modules[name] = types.ModuleType(name)
    sys.modules["batchgenerators.utilities.file_and_folder_operations"] = ffo

    if not real_medpy:
        medpy = types.ModuleType("medpy")
        medpy.metric = types.ModuleType("medpy.metric")
        sys.modules["medpy"], sys.modules["medpy.metric"] = medpy, medpy.metric

    for name in ("nnunetv2.imageio.reader_writer_registry",
                 "nnunetv2.utilities.plans_handling.plans_handler"):
        m = types.ModuleType(name)
        m.determine_reader_writer_from_dataset_json = None
        m.determine_reader_writer_from_file_ending = None
        m.PlansManager = None
        sys.modules[name] = m


PANSEGNET_RUN = os.environ.get("PS_PANSEGNET_CHILD") == "1"
_install_shims(PANSEGNET_RUN)
for var in (("PANSEGNET_SRC", "MEDPY_SRC") if PANSEGNET_RUN else ("NNUNET_V1_SRC", "NNUNET_V2_SRC")):
    if var in os.environ:
        sys.path.insert(0, os.environ[var])


# ---- the cases ----------------------------------------------------------------------------------
def cases():
    shape = (6, 5, 4)
    out = {}
    r = np.zeros(shape, np.uint8)
    p = np.zeros(shape, np.uint8)
    r[1:4, 1:4, 1:3] = 1
    p[2:5, 1:4, 1:3] = 1
    r[4:6, 0:2, 0:2] = 2
    p[4:6, 0:1, 0:2] = 2
    p[0, 4, 3] = 2
    out["c01"] = (r, p)
    r = np.zeros(shape, np.uint8)
    p = np.zeros(shape, np.uint8)
    r[0:3, 0:3, 0:2] = 1
    p[0:3, 0:2, 0:2] = 1
    r[3:6, 3:5, 2:4] = 2
    out["c02"] = (r, p)
    r = np.zeros(shape, np.uint8)
    p = np.zeros(shape, np.uint8)
    r[1:5, 1:4, 0:4] = 1
    p[1:5, 1:4, 1:4] = 1
    out["c03"] = (r, p)
    r = np.zeros(shape, np.uint8)
    p = np.zeros(shape, np.uint8)
    r[0:2, 0:2, 0:2] = 2
    p[0:2, 0:2, 0:1] = 2
    p[3:5, 3:5, 3] = 1
    out["c04"] = (r, p)
    return out


def write_cases():
    aff = np.diag([1.5, 1.0, 2.0, 1.0])
    for sub in ("ref", "pred"):
        shutil.rmtree(os.path.join(OUT, sub), ignore_errors=True)
        os.makedirs(os.path.join(OUT, sub))
    for name, (r, p) in cases().items():
        for sub, a in (("ref", r), ("pred", p)):
            img = nib.Nifti1Image(a, aff)
            img.header.set_xyzt_units("mm")
            nib.save(img, os.path.join(OUT, sub, name + ".nii.gz"))
    with open(os.path.join(OUT, "manifest.tsv"), "w") as f:
        f.write("case\tref\tpred:nnunet\n")
        for name in cases():
            f.write("%s\tref/%s.nii.gz\tpred/%s.nii.gz\n" % (name, name, name))


def main():
    if PANSEGNET_RUN:
        # the PaNSegNet fork: evaluate_folder with its default metrics (HD95 and ASSD by MedPy)
        from nnunet.evaluation.evaluator import evaluate_folder
        ref, pred = os.path.join(OUT, "ref"), os.path.join(OUT, "pred")
        evaluate_folder(ref, pred, (1, 2))
        os.replace(os.path.join(pred, "summary.json"),
                   os.path.join(OUT, "summary_v1_pansegnet.json"))
        return
    write_cases()
    ref, pred = os.path.join(OUT, "ref"), os.path.join(OUT, "pred")
    # v1: writes pred/summary.json
    from nnunet.evaluation.evaluator import evaluate_folder
    evaluate_folder(ref, pred, (1, 2))
    os.replace(os.path.join(pred, "summary.json"), os.path.join(OUT, "summary_v1.json"))
    # v2
    from nnunetv2.evaluation.evaluate_predictions import compute_metrics_on_folder
    from nnunetv2.imageio.nibabel_reader_writer import NibabelIO
    compute_metrics_on_folder(ref, pred, os.path.join(OUT, "summary_v2.json"), NibabelIO(),
                              ".nii.gz", [1, 2], None, 1)
    if "PANSEGNET_SRC" in os.environ:
        import subprocess
        subprocess.run([sys.executable, os.path.abspath(__file__)], check=True,
                       env=dict(os.environ, PS_PANSEGNET_CHILD="1"))
    print("wrote", OUT)


if __name__ == "__main__":
    main()
