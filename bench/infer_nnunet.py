"""The PyTorch peer of `panseval infer` for bench/bench_infer.sh: the real nnU-Net v1 predict
path (PaNSegNet's fork) on one image, timed. Debian's /usr/bin/python3 (torch 1.13, CPU).

  infer_nnunet.py make-model DIR [--patch 40 224 224] [--no-attention] [--seed 5]
      A PanSegNet-sized model folder with random weights that nnU-Net v1 loads:
      nnTransUNetTrainerV2 (PaNSegNet's own attention bottleneck: d_model 512, 8 heads,
      8 layers), base 32 features, 6 resolution stages (poolings (1,2,2), (2,2,2), (2,2,2),
      (2,2,2), (1,2,2); kernels (1,3,3) then (3,3,3)), 1 CT modality, 2 classes, target
      spacing 2.5 x 0.8027 x 0.8027 mm (z, y, x), so a 0.8 mm image is resampled in-plane
      (separate z: the 2.5 mm axis keeps its size). The default patch 40 x 224 x 224 and the
      spacing are, as recalled, nnU-Net v1's 3d_fullres plan for MSD Task07 (pancreas CT);
      the PaNSegNet repository ships no plans, so its own CT patch is not known.
  infer_nnunet.py make-image OUT.nii.gz [--size 512 512 100] [--spacing 0.8 0.8 2.5]
      A CT-like int16 image (air -1000 around an elliptic body with organs, fat and bone).
      Use e.g. --size 256 256 48 for a reduced case.
  infer_nnunet.py run --model DIR --input IMG [--input IMG1 ...] --output SEG.nii.gz
                  [--no-mirroring] [--folds 0] [--threads 2] [--mode predict_cases|staged]
                  [--estimate]
      predict_cases: nnU-Net's own entry (nnUNet_predict): preprocessing in a worker
        process, export in a pool worker. Prints the wall time of the call and per-stage
        times measured by wrapping nnU-Net's preprocess_patient,
        predict_preprocessed_data_return_seg_and_softmax and
        save_segmentation_nifti_from_softmax (the wrappers only time them).
      staged: the same three nnU-Net functions called in this one process (per-stage times
        without the process hand-over; peak RSS is then one process's).
      --estimate: preprocess, then time one tile (one forward pass) and print the estimated
        network time = tiles x passes x that time, without running the whole image.
      Output (stdout): 'preprocess: T s', 'network: T s', 'export: T s', 'wall: T s',
      'seconds T' (the wall time again, for scripts), 'peak RSS: A MB (this process),
      B MB (largest child)' (ru_maxrss of this process and of the largest waited-for child).
  nnU-Net and batchgenerators come from PANSEGNET_SRC / BATCHGENERATORS_SRC (or
  --pansegnet-src / --batchgenerators-src), as for tests/reference/nnunet_predict_reference.py.
"""
import argparse
import collections
import functools
import os
import pickle
import resource
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
REF = os.path.join(HERE, '..', 'tests', 'reference')

POOL = [[1, 2, 2], [2, 2, 2], [2, 2, 2], [2, 2, 2], [1, 2, 2]]
CONV = [[1, 3, 3]] + [[3, 3, 3]] * 5


def make_model(args):
    import numpy as np
    import torch
    sys.path.insert(0, REF)
    import make_infer_fixtures as fx
    torch.set_num_threads(2)
    d = args.dir
    os.makedirs(os.path.join(d, 'fold_0'), exist_ok=True)
    trainer = 'nnUNetTrainerV2' if args.no_attention else 'nnTransUNetTrainerV2'
    st = {'patch': list(args.patch), 'spacing': [2.5, 0.8027, 0.8027], 'pool': POOL,
          'conv': CONV}
    cfg = {'name': os.path.basename(d), 'seed': args.seed, 'trainer': trainer,
           'num_modalities': 1, 'modalities': ['CT'], 'normalization': ['CT'],
           'num_classes': 1, 'base': 32, 'float_type': np.float64, 'stages': [st],
           'stage': 0, 'attention': not args.no_attention, 'd_model': 512, 'n_layers': 8}
    net = fx.build(cfg)
    plans = fx.make_plans(cfg, cfg['stages'])
    inten = plans['dataset_properties']['intensityproperties'][0]
    inten.update({'mean': np.float64(68.9), 'sd': np.float64(70.3), 'median': np.float64(80.0),
                  'percentile_00_5': np.float64(-96.0), 'percentile_99_5': np.float64(215.0)})
    ckpt = {'epoch': 0, 'state_dict': net.state_dict(), 'optimizer_state_dict': None,
            'lr_scheduler_state_dict': None, 'plot_stuff': ([], [], [], []),
            'best_stuff': (0, np.float64(0.0), np.float64(0.0))}
    path = os.path.join(d, 'fold_0', 'model_final_checkpoint.model')
    torch.save(ckpt, path)
    info = {'init': ('/data/nnUNet_preprocessed/Task999/nnUNetPlansv2.1_plans_3D.pkl', 0,
                     '/results/' + trainer + '/fold_0', '/data/nnUNet_preprocessed/Task999',
                     True, 0, True, False, True),
            'name': trainer,
            'class': "<class 'nnunet.training.network_training.%s.%s'>" % (trainer, trainer),
            'plans': plans}
    with open(path + '.pkl', 'wb') as f:
        pickle.dump(info, f)
    with open(os.path.join(d, 'plans.pkl'), 'wb') as f:
        pickle.dump(plans, f)
    n = sum(p.numel() for p in net.parameters())
    print('wrote %s: %s, %d parameters, patch %s' % (d, trainer, n,
                                                     'x'.join(map(str, args.patch))))


def make_image(args):
    import nibabel as nib
    import numpy as np
    from scipy.ndimage import gaussian_filter, zoom
    nx, ny, nz = args.size
    sx, sy, sz = args.spacing
    rs = np.random.RandomState(args.seed)
    # coarse smooth fields, upsampled (cheap at 512 x 512 x 100)
    def field(sigma):
        c = gaussian_filter(rs.randn(max(nx // 8, 4), max(ny // 8, 4), max(nz // 4, 4)), sigma)
        c /= np.abs(c).max()
        return zoom(c, (nx / c.shape[0], ny / c.shape[1], nz / c.shape[2]), order=1)[:nx, :ny, :nz]
    x = (np.arange(nx) + 0.5 - nx / 2) * sx
    y = (np.arange(ny) + 0.5 - ny / 2) * sy
    r2 = (x[:, None] / (0.42 * nx * sx)) ** 2 + (y[None, :] / (0.32 * ny * sy)) ** 2
    body = (r2 <= 1.0)[:, :, None] & np.ones(nz, bool)[None, None, :]
    v = np.full((nx, ny, nz), -1000.0, dtype=np.float32)
    soft = 45.0 + 25.0 * field(1.5)
    fat = field(2.0) > 0.35
    organ = field(1.0) > 0.3
    bone = ((x[:, None] / 30.0) ** 2 + ((y[None, :] - 0.18 * ny * sy) / 22.0) ** 2 <= 1.0)
    v[body] = soft[body]
    v[body & fat] = -100.0
    v[body & organ] = 110.0
    v[bone[:, :, None] & body] = 650.0
    v += rs.randn(nx, ny, nz).astype(np.float32) * 12.0
    v = np.clip(np.round(v), -1024, 3071).astype(np.int16)
    aff = np.diag([-sx, -sy, sz, 1.0])
    aff[:3, 3] = [sx * nx / 2, sy * ny / 2, -sz * nz / 2]
    img = nib.Nifti1Image(v, None)
    img.set_qform(aff, code=1)
    img.set_sform(aff, code=1)
    img.header.set_xyzt_units('mm')
    nib.save(img, args.out)
    print('wrote %s: %dx%dx%d at %gx%gx%g mm' % (args.out, nx, ny, nz, sx, sy, sz))


def setup_nnunet(args):
    pan = args.pansegnet_src or os.environ.get('PANSEGNET_SRC')
    bg = args.batchgenerators_src or os.environ.get('BATCHGENERATORS_SRC')
    if not pan or not bg:
        sys.exit('set PANSEGNET_SRC and BATCHGENERATORS_SRC (see the docstring)')
    sys.path[:0] = [os.path.join(REF, 'nnunet_shims'), os.path.abspath(pan), os.path.abspath(bg)]
    for k in ('nnUNet_raw_data_base', 'nnUNet_preprocessed', 'RESULTS_FOLDER'):
        os.environ.setdefault(k, tempfile.gettempdir())


def timed(owner, name, log_path, label):
    """Time every call of owner.name; the times go to log_path (appended, one line per call)
    so calls made in predict_cases' worker processes (forked, so they inherit the wrapper)
    are counted too."""
    orig = getattr(owner, name)

    @functools.wraps(orig)
    def wrapper(*a, **kw):
        t0 = time.perf_counter()
        r = orig(*a, **kw)
        dt = time.perf_counter() - t0
        with open(log_path, 'a') as f:
            f.write('%s\t%.6f\n' % (label, dt))
        print('stage %s: %.3f s' % (label, dt), file=sys.stderr, flush=True)
        return r
    setattr(owner, name, wrapper)


def peak_rss_mb():
    me = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0
    kids = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024.0
    return me, kids


def run(args):
    setup_nnunet(args)
    os.environ.setdefault('OMP_NUM_THREADS', str(args.threads))
    import numpy as np
    import torch
    torch.set_num_threads(args.threads)
    import nnunet.inference.predict as predict
    import nnunet.inference.segmentation_export as export
    from nnunet.training.network_training.nnUNetTrainer import nnUNetTrainer
    from nnunet.training.model_restore import load_model_and_checkpoint_files
    from nnunet.network_architecture.neural_network import SegmentationNetwork
    folds = [int(f) for f in args.folds.split(',')]
    do_tta = not args.no_mirroring
    fd, log_path = tempfile.mkstemp(prefix='infer_nnunet_times_')
    os.close(fd)
    timed(nnUNetTrainer, 'preprocess_patient', log_path, 'preprocess')
    timed(nnUNetTrainer, 'predict_preprocessed_data_return_seg_and_softmax', log_path, 'network')
    timed(export, 'save_segmentation_nifti_from_softmax', log_path, 'export')
    predict.save_segmentation_nifti_from_softmax = export.save_segmentation_nifti_from_softmax
    print('nnU-Net v1 %s, mirroring %s, %d thread(s), input %s'
          % (args.mode, 'on' if do_tta else 'off', args.threads, ' '.join(args.input)),
          file=sys.stderr)
    t0 = time.perf_counter()
    if args.estimate or args.mode == 'staged':
        trainer, params = load_model_and_checkpoint_files(
            args.model, folds, mixed_precision=False, checkpoint_name='model_final_checkpoint')
        t_load = time.perf_counter() - t0
        data, _, props = trainer.preprocess_patient(args.input)
        if args.estimate:
            patch = [int(p) for p in trainer.patch_size]
            shape = [max(s, p) for s, p in zip(data.shape[1:], patch)]
            steps = SegmentationNetwork._compute_steps_for_sliding_window(patch, shape, 0.5)
            tiles = int(np.prod([len(s) for s in steps]))
            trainer.load_checkpoint_ram(params[0], False)
            net = trainer.network
            net.eval()
            net.do_ds = False
            x = torch.from_numpy(np.ascontiguousarray(
                np.pad(data, [(0, 0)] + [(0, max(0, p - s)) for s, p in zip(data.shape[1:], patch)])
                [:, :patch[0], :patch[1], :patch[2]][None]))
            with torch.no_grad():
                net(x)                                   # warm-up
                t1 = time.perf_counter()
                net(x)
                per = time.perf_counter() - t1
            passes = 8 if do_tta else 1
            print('estimate: shape %s, tiles %d (%s), one forward pass %.2f s -> network '
                  '%.0f s (%.1f min) with %d pass(es) per tile and %d fold(s)'
                  % ('x'.join(map(str, data.shape[1:])), tiles,
                     'x'.join(str(len(s)) for s in steps), per,
                     per * tiles * passes * len(params), per * tiles * passes * len(params) / 60,
                     passes, len(params)))
            os.remove(log_path)
            return
        sm = None
        for p in params:
            trainer.load_checkpoint_ram(p, False)
            r = trainer.predict_preprocessed_data_return_seg_and_softmax(
                data, do_mirroring=do_tta, mirror_axes=trainer.data_aug_params['mirror_axes'],
                use_sliding_window=True, step_size=0.5, use_gaussian=True, all_in_gpu=False,
                mixed_precision=False)[1]
            sm = r if sm is None else sm + r
        if len(params) > 1:
            sm /= len(params)
        tb = trainer.plans.get('transpose_backward')
        sm = sm.transpose([0] + [i + 1 for i in tb])
        export.save_segmentation_nifti_from_softmax(sm, args.output, props, 1, None, None, None,
                                                    None, None, None, 0)
        print('load: %.3f s' % t_load, file=sys.stderr)
    else:
        predict.predict_cases(args.model, [args.input], [args.output], folds, save_npz=False,
                              num_threads_preprocessing=1, num_threads_nifti_save=1,
                              segs_from_prev_stage=None, do_tta=do_tta, mixed_precision=False,
                              overwrite_existing=True, all_in_gpu=False, step_size=0.5,
                              checkpoint_name='model_final_checkpoint',
                              segmentation_export_kwargs=None, disable_postprocessing=False)
    wall = time.perf_counter() - t0
    me, kids = peak_rss_mb()
    times = collections.defaultdict(list)
    with open(log_path) as f:
        for line in f:
            k, v = line.split('\t')
            times[k].append(float(v))
    os.remove(log_path)
    for k in ('preprocess', 'network', 'export'):
        if times[k]:
            print('%s: %.3f s' % (k, sum(times[k])))
    print('wall: %.3f s' % wall)
    print('seconds %.3f' % wall)
    print('peak RSS: %.1f MB (this process), %.1f MB (largest child)' % (me, kids))


def main():
    ap = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    sub = ap.add_subparsers(dest='cmd', required=True)
    m = sub.add_parser('make-model')
    m.add_argument('dir')
    m.add_argument('--patch', type=int, nargs=3, default=[40, 224, 224])
    m.add_argument('--no-attention', action='store_true')
    m.add_argument('--seed', type=int, default=5)
    i = sub.add_parser('make-image')
    i.add_argument('out')
    i.add_argument('--size', type=int, nargs=3, default=[512, 512, 100])
    i.add_argument('--spacing', type=float, nargs=3, default=[0.8, 0.8, 2.5])
    i.add_argument('--seed', type=int, default=7)
    r = sub.add_parser('run')
    r.add_argument('--model', required=True)
    r.add_argument('--input', action='append', required=True)
    r.add_argument('--output', required=True)
    r.add_argument('--no-mirroring', action='store_true')
    r.add_argument('--folds', default='0')
    r.add_argument('--threads', type=int, default=2)
    r.add_argument('--mode', choices=['predict_cases', 'staged'], default='predict_cases')
    r.add_argument('--estimate', action='store_true')
    r.add_argument('--pansegnet-src')
    r.add_argument('--batchgenerators-src')
    args = ap.parse_args()
    {'make-model': make_model, 'make-image': make_image, 'run': run}[args.cmd](args)


if __name__ == '__main__':
    main()
