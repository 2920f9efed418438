"""Run the real nnU-Net v1 predict path (PaNSegNet's fork) on the fixtures of
tests/golden/infer_pipeline/ and write the goldens that tests/infer checks `panseval infer`
against. Layout of every file: tests/golden/infer_pipeline/README.md.

    PANSEGNET_SRC=/path/to/PaNSegNet/src BATCHGENERATORS_SRC=/path/to/batchgenerators \
        nice -n 10 /usr/bin/python3 tests/reference/nnunet_predict_reference.py [FIXTURE ...]

(or --pansegnet-src DIR --batchgenerators-src DIR). Run
`/usr/bin/python3 tests/reference/make_infer_fixtures.py pipeline` first: it writes the model
folders and the int16 input images. The goldens were made with
  NUBagciLab/PaNSegNet     384b65a5924677f88bc4c7d0e72ffcf3fd9de219 (nnU-Net v1 in src/nnunet)
  MIC-DKFZ/batchgenerators 9dc3d49b68ea11e0f37c14d5b75658d9eb364a5e
  Debian: python3-torch 1.13, numpy 1.24, scipy 1.10, scikit-image 0.19, nibabel 5.0.
Nothing of either repository is copied here; they are imported from the given paths.

What runs is nnU-Net's own code: nnunet.inference.predict.predict_cases (multiprocess
preprocessing, sliding window with Gaussian weighting and 8-fold mirroring, export through
segmentation_export.save_segmentation_nifti_from_softmax, postprocessing through
connected_components.load_remove_save), on CPU in float32 (mixed_precision=False; there is
no GPU, so autocast would be off anyway). What is ours:
  * tests/reference/nnunet_shims/SimpleITK.py, a SimpleITK stand-in over nibabel (tested by
    nnunet_shims/test_sitk_shim.py), and import-only stubs for medpy and tqdm, which nnU-Net
    imports at module level but never calls on this path;
  * PaNSegNet's Generic_TransUNet builds its attention bottleneck with d_model=512 and N=8
    hard-coded; the fixture uses the same SelfAtten3DBlock class (PaNSegNet's own) with
    d_model and N read from the checkpoint (64 and 2) so the golden model stays small;
  * the stage goldens are recorded by wrapping (not replacing) nnU-Net's functions
    resample_patient, resample_data_or_seg, pad_nd_image, _compute_steps_for_sliding_window
    and _get_gaussian while nnU-Net's own preprocess_patient,
    predict_preprocessed_data_return_seg_and_softmax and
    save_segmentation_nifti_from_softmax run in this process, with the fold averaging of
    predict_cases; the label map from that in-process run must equal predict_cases' output
    voxel for voxel (asserted), so the stage goldens and the final goldens agree.
"""
import argparse
import copy
import functools
import glob
import json
import os
import shutil
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
OUT = os.path.join(HERE, '..', 'golden', 'infer_pipeline')
PANSEGNET_COMMIT = '384b65a5924677f88bc4c7d0e72ffcf3fd9de219'
BATCHGENERATORS_COMMIT = '9dc3d49b68ea11e0f37c14d5b75658d9eb364a5e'


def setup_paths(args):
    pan = args.pansegnet_src or os.environ.get('PANSEGNET_SRC')
    bg = args.batchgenerators_src or os.environ.get('BATCHGENERATORS_SRC')
    if not pan or not os.path.isdir(os.path.join(pan, 'nnunet')):
        sys.exit('set PANSEGNET_SRC (or --pansegnet-src) to PaNSegNet/src (the folder with nnunet/)')
    if not bg or not os.path.isdir(os.path.join(bg, 'batchgenerators')):
        sys.exit('set BATCHGENERATORS_SRC (or --batchgenerators-src) to the batchgenerators checkout')
    sys.path[:0] = [os.path.join(HERE, 'nnunet_shims'), os.path.abspath(pan), os.path.abspath(bg)]
    for k in ('nnUNet_raw_data_base', 'nnUNet_preprocessed', 'RESULTS_FOLDER'):
        os.environ.setdefault(k, tempfile.gettempdir())


def import_nnunet():
    """Import nnU-Net with the shims; returns the modules the script uses."""
    import SimpleITK
    assert SimpleITK.__file__.startswith(os.path.join(HERE, 'nnunet_shims')), SimpleITK.__file__
    import nnunet
    import nnunet.inference.predict as predict
    import nnunet.inference.segmentation_export as export
    import nnunet.preprocessing.preprocessing as prep
    import nnunet.network_architecture.neural_network as nn_mod
    import nnunet.network_architecture.generic_TransUNet as gtu
    import nnunet.training.model_restore as restore
    return dict(nnunet=nnunet, predict=predict, export=export, prep=prep, nn=nn_mod, gtu=gtu,
                restore=restore)


def attention_dims(model_dir, folds):
    """d_model and the number of attention layers from fold 0's state dict (None if none)."""
    import torch
    ck = torch.load(os.path.join(model_dir, 'fold_%d' % folds[0], 'model_final_checkpoint.model'),
                    map_location='cpu')
    sd = ck['state_dict']
    if 'self_atten.linear_proj.weight' not in sd:
        return None
    d_model = sd['self_atten.linear_proj.weight'].shape[0]
    n = 1 + max(int(k.split('.')[3]) for k in sd if k.startswith('self_atten.transformer.layers.'))
    return d_model, n


class Recorder(object):
    """Wraps module-level functions and remembers their arguments and results."""

    def __init__(self):
        self.calls = {}
        self.undo = []

    def wrap(self, owner, name, static=False):
        orig = getattr(owner, name)
        rec = self.calls.setdefault(name, [])

        @functools.wraps(orig)
        def spy(*a, **kw):
            r = orig(*a, **kw)
            # a copy: nnU-Net modifies some results in place afterwards (resample_and_normalize
            # normalises the resampled array in place)
            rec.append((a, kw, copy.deepcopy(r)))
            return r
        setattr(owner, name, staticmethod(spy) if static else spy)
        self.undo.append((owner, name, staticmethod(orig) if static else orig))

    def restore(self):
        for owner, name, orig in reversed(self.undo):
            setattr(owner, name, orig)
        self.undo = []


def save_array(path, a, dtype):
    """numpy (C, Z, Y, X) or (Z, Y, X), C order -> NIfTI dims (X, Y, Z[, C]), identity affine:
    nifti[i, j, k, c] = a[c, k, j, i] (same bytes, i fastest)."""
    import nibabel as nib
    import numpy as np
    a = np.asarray(a).astype(dtype)
    v = a.transpose(3, 2, 1, 0) if a.ndim == 4 else a.transpose(2, 1, 0)
    img = nib.Nifti1Image(np.ascontiguousarray(v), np.eye(4))
    img.set_qform(np.eye(4), code=0)
    img.set_sform(np.eye(4), code=0)
    nib.save(img, path)


def fmt(v):
    import numpy as np
    if isinstance(v, (list, tuple, np.ndarray)):
        return ','.join(fmt(x) for x in np.asarray(v).ravel().tolist())
    if isinstance(v, (bool, np.bool_)):
        return '1' if v else '0'
    if isinstance(v, (int, np.integer)):
        return '%d' % v
    if isinstance(v, (float, np.floating)):
        return '%.17g' % float(v)
    return str(v)


def run_predict_cases(m, model_dir, files, folds, tmp, tag, do_tta, disable_pp):
    """nnU-Net's predict_cases exactly as nnUNet_predict calls it (CPU, float32)."""
    out_dir = os.path.join(tmp, tag)
    os.makedirs(out_dir, exist_ok=True)
    out = os.path.join(out_dir, 'CASE.nii.gz')
    m['predict'].predict_cases(model_dir, [files], [out], folds, save_npz=False,
                               num_threads_preprocessing=1, num_threads_nifti_save=1,
                               segs_from_prev_stage=None, do_tta=do_tta, mixed_precision=False,
                               overwrite_existing=True, all_in_gpu=False, step_size=0.5,
                               checkpoint_name='model_final_checkpoint',
                               segmentation_export_kwargs=None,
                               disable_postprocessing=disable_pp)
    return out


def fixture(m, name, tmp):
    import nibabel as nib
    import numpy as np
    d = os.path.join(OUT, name)
    model_dir = os.path.join(d, 'model')
    files = sorted(glob.glob(os.path.join(d, 'CASE_[0-9][0-9][0-9][0-9].nii.gz')))
    folds = sorted(int(os.path.basename(f)[5:]) for f in glob.glob(os.path.join(model_dir, 'fold_*')))
    has_pp = os.path.isfile(os.path.join(model_dir, 'postprocessing.json'))
    print('== %s: %d input(s), folds %s, postprocessing %s' % (name, len(files), folds, has_pp))

    # ---- the real predict_cases (separate processes for preprocessing and export)
    seg_pc = run_predict_cases(m, model_dir, files, folds, tmp, name + '_tta', True, False)
    seg_pc_nomirror = run_predict_cases(m, model_dir, files, folds, tmp, name + '_notta', False,
                                        False)
    seg_pc_nopp = (run_predict_cases(m, model_dir, files, folds, tmp, name + '_nopp', True, True)
                   if has_pp else seg_pc)

    # ---- the same steps in this process, recording every stage
    rec = Recorder()
    rec.wrap(m['prep'], 'resample_patient')
    rec.wrap(m['export'], 'resample_data_or_seg')
    rec.wrap(m['nn'], 'pad_nd_image')
    rec.wrap(m['nn'].SegmentationNetwork, '_compute_steps_for_sliding_window', static=True)
    rec.wrap(m['nn'].SegmentationNetwork, '_get_gaussian', static=True)
    try:
        trainer, params = m['restore'].load_model_and_checkpoint_files(
            model_dir, folds, mixed_precision=False, checkpoint_name='model_final_checkpoint')
        data, _, props = trainer.preprocess_patient(files)
        softmax_folds = []
        softmax = None
        for p in params:
            trainer.load_checkpoint_ram(p, False)
            sm = trainer.predict_preprocessed_data_return_seg_and_softmax(
                data, do_mirroring=True, mirror_axes=trainer.data_aug_params['mirror_axes'],
                use_sliding_window=True, step_size=0.5, use_gaussian=True, all_in_gpu=False,
                mixed_precision=False)[1]
            softmax_folds.append(sm.copy())
            if softmax is None:
                softmax = sm
            else:
                softmax += sm                                   # predict_cases' fold sum
        if len(params) > 1:
            softmax /= len(params)
        softmax_net = softmax.copy()
        tb = trainer.plans.get('transpose_backward')
        softmax = softmax.transpose([0] + [i + 1 for i in tb])
        seg_here = os.path.join(tmp, name + '_inprocess.nii.gz')
        props_export = dict(props)
        props_export['crop_bbox'] = [list(b) for b in props['crop_bbox']]
        m['export'].save_segmentation_nifti_from_softmax(softmax, seg_here, props_export, 1, None,
                                                         None, None, None, None, None, 0)
    finally:
        rec.restore()

    def read(p):
        return np.asanyarray(nib.load(p).dataobj)
    a_pc, a_here = read(seg_pc_nopp), read(seg_here)
    assert np.array_equal(a_pc, a_here), '%s: in-process export differs from predict_cases' % name

    # ---- stage values from the recorded calls
    (rp_args, rp_kw, rp_res), = rec.calls['resample_patient']
    resampled, mask_resampled = rp_res
    n_tiles_calls = rec.calls['_compute_steps_for_sliding_window']
    steps = n_tiles_calls[0][2]
    assert all(c[2] == steps for c in n_tiles_calls)
    pad_a, _, (padded, slicer) = rec.calls['pad_nd_image'][0]
    pad_below = [s.start for s in slicer[1:]]
    pad_above = [padded.shape[i + 1] - s.stop for i, s in enumerate(slicer[1:])]
    gauss = rec.calls['_get_gaussian'][0][2] if rec.calls['_get_gaussian'] else None
    num_tiles = int(np.prod([len(s) for s in steps]))
    # resample_data_or_seg inside resample_patient (data, then seg) and in the export
    ex = rec.calls['resample_data_or_seg']
    if ex:
        (ex_a, ex_kw, softmax_back), = ex
        ex_axis = ex_a[3] if len(ex_a) > 3 else ex_kw.get('axis')
        ex_sep = ex_a[5] if len(ex_a) > 5 else ex_kw.get('do_separate_z')
    else:
        softmax_back, ex_axis, ex_sep = softmax, None, False

    plans = trainer.plans
    stage_plans = plans['plans_per_stage'][trainer.stage]
    target = np.array(stage_plans['current_spacing'], dtype=np.float64)
    orig_sp = np.array(props['original_spacing'], dtype=np.float64)
    tf = plans['transpose_forward']
    sep_prep, ax_prep = separate_z_decision(m['prep'], orig_sp[tf], target)

    # probabilities in the original geometry: the resampled-back softmax in the crop box;
    # outside it nnU-Net defines none -- convention: class 0 = 1, other classes 0
    shape0 = [int(v) for v in props['original_size_of_raw_data']]
    bbox = [list(map(int, b)) for b in props['crop_bbox']]
    K = softmax_back.shape[0]
    prob = np.zeros([K] + shape0, dtype=np.float32)
    prob[0] = 1.0
    prob[:, bbox[0][0]:bbox[0][1], bbox[1][0]:bbox[1][1], bbox[2][0]:bbox[2][1]] = softmax_back

    # ---- write
    ref = nib.load(files[0])
    for src, dst in ((seg_pc, 'seg.nii.gz'), (seg_pc_nomirror, 'seg_nomirror.nii.gz')) + \
            (((seg_pc_nopp, 'seg_nopp.nii.gz'),) if has_pp else ()):
        shutil.copyfile(src, os.path.join(d, dst))
    pimg = nib.Nifti1Image(np.ascontiguousarray(prob.transpose(3, 2, 1, 0)), None)
    pimg.set_qform(ref.get_qform(), code=int(ref.header['qform_code']))
    pimg.set_sform(ref.get_sform(), code=int(ref.header['sform_code']))
    pimg.header.set_xyzt_units('mm')
    nib.save(pimg, os.path.join(d, 'prob.nii.gz'))
    save_array(os.path.join(d, 's2_resampled.nii.gz'), resampled, np.float32)
    save_array(os.path.join(d, 's2_mask.nii.gz'), mask_resampled[0], np.int16)
    save_array(os.path.join(d, 's3_normalized.nii.gz'), data, np.float32)
    if gauss is not None:
        save_array(os.path.join(d, 's4_gaussian.nii.gz'), gauss, np.float32)
    elif os.path.exists(os.path.join(d, 's4_gaussian.nii.gz')):
        os.remove(os.path.join(d, 's4_gaussian.nii.gz'))
    save_array(os.path.join(d, 's5_softmax_net.nii.gz'), softmax_net, np.float32)
    for f in glob.glob(os.path.join(d, 's5_softmax_net_fold*.nii.gz')):
        os.remove(f)
    if len(params) > 1:
        # the first fold alone (the ensemble's other folds are not stored, to keep the goldens
        # small: s5_softmax_net is their average)
        save_array(os.path.join(d, 's5_softmax_net_fold%d.nii.gz' % folds[0]), softmax_folds[0],
                   np.float32)
    # stage 6 (the resampled-back softmax) is prob.nii.gz inside crop_bbox, stored once
    for f in glob.glob(os.path.join(d, 's6_softmax_back.nii.gz')):
        os.remove(f)

    seg_final = read(os.path.join(d, 'seg.nii.gz'))
    rows = [
        ('source', 'nnU-Net v1, NUBagciLab/PaNSegNet %s, batchgenerators %s, torch %s'
         % (PANSEGNET_COMMIT, BATCHGENERATORS_COMMIT, __import__('torch').__version__)),
        ('inputs', ','.join(os.path.basename(f) for f in files)),
        ('folds', folds),
        ('trainer', type(trainer).__name__),
        ('original_shape_zyx', shape0),
        ('original_spacing_zyx', orig_sp),
        ('itk_spacing', props['itk_spacing']),
        ('itk_origin', props['itk_origin']),
        ('itk_direction', props['itk_direction']),
        ('crop_bbox', [v for b in bbox for v in b]),
        ('shape_after_crop', props['size_after_cropping']),
        ('transpose_forward', tf),
        ('transpose_backward', plans['transpose_backward']),
        ('spacing_transposed', orig_sp[tf]),
        ('target_spacing', target),
        ('shape_after_resampling', resampled.shape[1:]),
        ('separate_z', sep_prep),
        ('lowres_axis', -1 if ax_prep is None else ax_prep),
    ]
    for c in range(len(files)):
        scheme = plans['normalization_schemes'][c]
        ip = plans['dataset_properties']['intensityproperties'][c]
        rows += [('norm_scheme_%d' % c, scheme), ('use_mask_%d' % c, plans['use_mask_for_norm'][c])]
        if scheme == 'CT':
            rows += [('clip_lo_%d' % c, ip['percentile_00_5']), ('clip_hi_%d' % c, ip['percentile_99_5']),
                     ('mean_%d' % c, ip['mean']), ('sd_%d' % c, ip['sd'])]
        else:
            msk = (mask_resampled[0] >= 0) if plans['use_mask_for_norm'][c] else \
                np.ones(resampled.shape[1:], bool)
            x = resampled[c].astype(np.float32)[msk]
            rows += [('zscore_mean_%d' % c, x.mean()), ('zscore_sd_%d' % c, x.std()),
                     ('zscore_voxels_%d' % c, int(msk.sum()))]
    rows += [
        ('patch_size', stage_plans['patch_size']),
        ('pad_below', pad_below), ('pad_above', pad_above), ('padded_shape', padded.shape[1:]),
        ('steps_0', steps[0]), ('steps_1', steps[1]), ('steps_2', steps[2]),
        ('num_tiles', num_tiles),
        ('gaussian_used', gauss is not None),
        ('mirror_axes', trainer.data_aug_params['mirror_axes']),
        ('num_classes_with_background', K),
        ('export_resampled', bool(ex)),
        ('export_separate_z', bool(ex_sep)),
        ('export_lowres_axis', -1 if ex_axis is None or not ex_sep else int(np.asarray(ex_axis)[0])),
        ('postprocessing', json.dumps(json.load(open(os.path.join(model_dir, 'postprocessing.json'))))
         if has_pp else 'none'),
    ]
    for k in range(K):
        rows.append(('voxels_class_%d' % k, int((seg_final == k).sum())))
    if has_pp:
        nopp = read(os.path.join(d, 'seg_nopp.nii.gz'))
        rows.append(('voxels_changed_by_postprocessing', int((nopp != seg_final).sum())))
    nm = read(os.path.join(d, 'seg_nomirror.nii.gz'))
    rows.append(('voxels_differing_nomirror', int((nm != seg_final).sum())))
    with open(os.path.join(d, 'stages.tsv'), 'w') as f:
        f.write('# written by tests/reference/nnunet_predict_reference.py; lists are comma-separated in\n'
                '# the numpy axis order of the array they describe (see ../README.md)\n')
        f.write('key\tvalue\n')
        for k, v in rows:
            f.write('%s\t%s\n' % (k, fmt(v)))
    for k, v in rows:
        print('  %s\t%s' % (k, fmt(v)))


def separate_z_decision(prep, spacing_transposed, target):
    """resample_patient's own decision (force_separate_z=None), via nnU-Net's helpers."""
    import numpy as np
    thr = prep.RESAMPLING_SEPARATE_Z_ANISO_THRESHOLD
    if prep.get_do_separate_z(spacing_transposed, thr):
        axis = prep.get_lowres_axis(spacing_transposed)
    elif prep.get_do_separate_z(target, thr):
        axis = prep.get_lowres_axis(target)
    else:
        return False, None
    if len(axis) != 1:
        return False, None
    return True, int(np.asarray(axis)[0])


def sized_block(real_block, d_model, n_layers):
    def block(**kw):
        kw['d_model'] = d_model
        return real_block(N=n_layers, **kw)
    return block


def main():
    ap = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    ap.add_argument('--pansegnet-src')
    ap.add_argument('--batchgenerators-src')
    ap.add_argument('fixtures', nargs='*')
    args = ap.parse_args()
    setup_paths(args)
    import torch
    torch.set_num_threads(2)
    m = import_nnunet()
    names = args.fixtures or sorted(os.path.basename(p) for p in glob.glob(os.path.join(OUT, '*'))
                                    if os.path.isdir(os.path.join(p, 'model')))
    real_block = m['gtu'].SelfAtten3DBlock
    tmp = tempfile.mkdtemp(prefix='nnunet_ref_')
    try:
        for name in names:
            model_dir = os.path.join(OUT, name, 'model')
            folds = sorted(int(os.path.basename(f)[5:]) for f in glob.glob(os.path.join(model_dir, 'fold_*')))
            dims = attention_dims(model_dir, folds)
            if dims is not None:
                # PaNSegNet's own block, with the checkpoint's d_model and depth instead of
                # the hard-coded 512 and 8 (the class and its forward are unchanged)
                m['gtu'].SelfAtten3DBlock = sized_block(real_block, dims[0], dims[1])
            else:
                m['gtu'].SelfAtten3DBlock = real_block
            fixture(m, name, tmp)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == '__main__':
    main()
