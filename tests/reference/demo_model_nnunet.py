"""Run nnU-Net v1's own predict path (NUBagciLab/PaNSegNet's fork, nnunet.inference.predict.
predict_cases) with the bundled demo model (models/demo-pancreas) on the demo cases, and
compare its label maps with the ones of train_demo_model.py's PyTorch pipeline. This shows
that the model folder is one nnU-Net loads (restore_model from the .model.pkl, plans,
state dict) and that the training script's preprocessing and inference are nnU-Net's.

    PANSEGNET_SRC=/path/to/PaNSegNet/src BATCHGENERATORS_SRC=/path/to/batchgenerators \\
        nice -n 10 /usr/bin/python3 tests/reference/demo_model_nnunet.py \\
        --data /tmp/demo1 --pytorch-pred DIR [--out models/demo-pancreas/dice_demo_seed1_nnunet.tsv]

DIR holds the segmentations train_demo_model.py --pred-out wrote. nnU-Net imports SimpleITK,
medpy and tqdm at module level; they are replaced by the shims of tests/reference/
nnunet_shims (--shims DIR to use others): SimpleITK over nibabel, import-only stubs for the
other two. Nothing of nnU-Net is copied here; it is imported from the given path.

Writes a TSV with, per case: nnU-Net's Dice against labels/ref, the PyTorch pipeline's Dice,
and the fraction of voxels where the two label maps agree.
"""
import argparse
import os
import shutil
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))


def main():
    ap = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    ap.add_argument('--data', required=True)
    ap.add_argument('--pytorch-pred', required=True)
    ap.add_argument('--model', default=os.path.join(HERE, '..', '..', 'models', 'demo-pancreas'))
    ap.add_argument('--out')
    ap.add_argument('--shims', default=os.path.join(HERE, 'nnunet_shims'))
    ap.add_argument('--pansegnet-src', default=os.environ.get('PANSEGNET_SRC'))
    ap.add_argument('--batchgenerators-src', default=os.environ.get('BATCHGENERATORS_SRC'))
    ap.add_argument('--threads', type=int, default=1)
    ap.add_argument('--cases', nargs='*')
    args = ap.parse_args()
    if not args.pansegnet_src or not os.path.isdir(os.path.join(args.pansegnet_src, 'nnunet')):
        sys.exit('set PANSEGNET_SRC (or --pansegnet-src) to PaNSegNet/src')
    if not args.batchgenerators_src:
        sys.exit('set BATCHGENERATORS_SRC (or --batchgenerators-src)')
    sys.path[:0] = [os.path.abspath(args.shims), os.path.abspath(args.pansegnet_src),
                    os.path.abspath(args.batchgenerators_src)]
    tmp = tempfile.mkdtemp(prefix='demo_model_nnunet_')
    for k in ('nnUNet_raw_data_base', 'nnUNet_preprocessed', 'RESULTS_FOLDER'):
        os.environ.setdefault(k, tmp)
    import nibabel as nib
    import numpy as np
    import torch
    import SimpleITK
    assert os.path.abspath(SimpleITK.__file__).startswith(os.path.abspath(args.shims))
    import nnunet.inference.predict as predict
    torch.set_num_threads(args.threads)
    torch.manual_seed(0)

    sys.path.insert(0, HERE)
    from train_demo_model import read_manifest  # noqa: E402
    rows = read_manifest(args.data)
    if args.cases:
        rows = [r for r in rows if r['case'] in args.cases]
    out = args.out or os.path.join(args.model, 'dice_demo_seed1_nnunet.tsv')
    lines = []
    for r in rows:
        inp = os.path.join(tmp, r['case'] + '_0000.nii.gz')
        shutil.copyfile(r['image'], inp)
        seg_path = os.path.join(tmp, r['case'] + '.nii.gz')
        predict.predict_cases(os.path.abspath(args.model), [[inp]], [seg_path], (0,),
                              save_npz=False, num_threads_preprocessing=1,
                              num_threads_nifti_save=1, segs_from_prev_stage=None, do_tta=True,
                              mixed_precision=False, overwrite_existing=True, all_in_gpu=False,
                              step_size=0.5, checkpoint_name='model_final_checkpoint',
                              segmentation_export_kwargs=None, disable_postprocessing=True)
        a = np.asanyarray(nib.load(seg_path).dataobj) > 0
        b = np.asanyarray(nib.load(os.path.join(args.pytorch_pred, r['case'] + '.nii.gz'))
                          .dataobj) > 0
        ref = np.asanyarray(nib.load(r['ref']).dataobj) > 0

        def dice(x, y):
            d = x.sum() + y.sum()
            return 2.0 * np.logical_and(x, y).sum() / d if d else 1.0
        lines.append('%s\t%s\t%.6f\t%.6f\t%.6f\n' % (r['case'], r['modality'], dice(a, ref),
                                                     dice(b, ref), (a == b).mean()))
        print(lines[-1], end='', flush=True)
    with open(out, 'w') as f:
        f.write('# nnU-Net v1 predict_cases (PaNSegNet fork, CPU, float32, mirroring, no '
                'postprocessing) with models/demo-pancreas on the demo data set of seed 1, '
                'against labels/ref; dice_pytorch = train_demo_model.py\'s pipeline; '
                'agreement = fraction of voxels with the same label (tests/reference/'
                'demo_model_nnunet.py)\n')
        f.write('case\tmodality\tdice_nnunet\tdice_pytorch\tvoxel_agreement\n')
        f.writelines(lines)
    shutil.rmtree(tmp, ignore_errors=True)


if __name__ == '__main__':
    main()
