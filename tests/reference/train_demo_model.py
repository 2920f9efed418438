"""Train the bundled demo model, models/demo-pancreas: a tiny nnU-Net v1 Generic_UNet (the
PyTorch module of infer_model.py) trained on panseval's synthetic demo data. It is a demo of
the inference core, NOT PanSegNet and not a model of real anatomy.

Run from the repository root with Debian's interpreter (torch 1.13 CPU, nibabel, scipy,
skimage), after writing the demo data sets with the C tool:

  for s in 1 2 3 4; do build/src/cli/panseval demo-data --out /tmp/demo$s --seed $s; done
  nice -n 10 /usr/bin/python3 tests/reference/train_demo_model.py \\
      --train /tmp/demo2 /tmp/demo3 /tmp/demo4 --eval /tmp/demo1 --out models/demo-pancreas \\
      --golden tests/golden/infer/demo_model [--pred-out DIR] [--threads 1]
  (--eval-only skips the training and evaluates the saved model again)

Writes
  OUT/plans.pkl, OUT/fold_0/model_final_checkpoint.model(.pkl)  as nnU-Net v1's trainer does
                                        (make_infer_fixtures.write_model_folder)
  OUT/training_log.tsv                  loss per epoch, learning rate, seconds
  OUT/dice_demo_seed1.tsv               Dice per case of the --eval set (this script's
                                        PyTorch pipeline, below)
  GOLDEN/input.nii.gz, logits.nii.gz    a preprocessed patch of an --eval case and the
                                        PyTorch float32 logits (test of panseval's forward)
  GOLDEN/model_info.tsv                 parameters and FLOPs at the plans' patch (torch hooks)
  PRED_OUT/CASE.nii.gz                  the --eval segmentations (optional; not committed)

Preprocessing, identical for training and evaluation, follows nnU-Net v1's inference path
(GenericPreprocessor.preprocess_test_case), written here from its documented behaviour:
  * crop to the bounding box of the non-zero voxels (holes filled, scipy binary_fill_holes);
  * arrays in (z, y, x) = NIfTI (k, j, i) order, as SimpleITK gives them; transpose identity;
  * resample to the plans' target spacing (4, 2, 2) mm. Every demo image has a spacing
    anisotropy above 3 (nnU-Net's RESAMPLING_SEPARATE_Z_ANISO_THRESHOLD), so the image is
    resized slice by slice in-plane with skimage resize order 3 (mode edge, no
    anti-aliasing), then along z with order 0 (map_coordinates, mode nearest, pixel-centre
    mapping); labels the same way with order 1 on each label's indicator (>= 0.5) in-plane
    and order 0 along z;
  * normalisation 'nonCT' for the one input channel: a z-score over the whole cropped,
    resampled image, (x - mean) / (sd + 1e-8), use_mask_for_norm False. One scheme for CT,
    T1W and T2W alike: the model is modality-agnostic, so CT's dataset-wide clipping is not
    used.
Evaluation follows nnU-Net v1's predict_cases: pad to the patch (constant 0, centred),
sliding window with step 0.5 and a Gaussian importance map (sigma = patch / 8), mirroring
over all three axes (8 passes, softmax averaged), softmax resampled back to the cropped shape
(order 1 in-plane, order 0 along z), argmax, un-cropped into the original grid. Dice of the
foreground against the reference label (labels/ref) on the original grid.

Training (nnUNetTrainerV2-like, shortened): patches of the plans' size (24, 64, 64) from
random locations (1/3 forced to contain foreground; volumes smaller than the patch are
zero-padded and centred as nnU-Net's DataLoader3D does), batch 2, random flips along each
axis and, with probability 0.15, a brightness factor U(0.75, 1.25); loss = cross-entropy +
(-soft Dice of the foreground, batch Dice, smooth 1e-5) with deep supervision on the two
finest outputs (weights 2/3, 1/3, the coarsest 0, as nnUNetTrainerV2 weights 1, 1/2, 0);
Adam (lr 2e-3, weight decay 3e-5) with nnU-Net's poly decay (1 - it / N)^0.9, 16 epochs of 50
iterations. The checkpoint holds no optimiser state (nnU-Net's save_optimizer=False). Seeds are
fixed (torch, numpy) and the thread count is an argument (the bundled model: 1 thread, on a
machine shared with other jobs, where 2 OpenMP threads spent most of their time waiting): the
same command with the same thread count on the same machine gives the same weights (two
runs cut to 4 iterations wrote byte-identical checkpoints; the full run was not repeated).
"""
import argparse
import collections
import os
import sys
import time

import nibabel as nib
import numpy as np
import torch
import torch.nn.functional as F
from scipy.ndimage import binary_fill_holes, gaussian_filter, map_coordinates
from skimage.transform import resize

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from infer_model import GenericUNet  # noqa: E402
from make_infer_fixtures import (count_inference_cost, make_plans, save_nifti,  # noqa: E402
                                 write_model_folder)

TASK = 'Task900_DemoPancreas'
TRAINER = 'nnUNetTrainerV2'
TARGET_SPACING = [4.0, 2.0, 2.0]            # z, y, x mm
PATCH = [24, 64, 64]                         # z, y, x voxels
POOL = [[1, 2, 2], [2, 2, 2], [2, 2, 2]]
CONV = [[1, 3, 3], [3, 3, 3], [3, 3, 3], [3, 3, 3]]
BASE = 8
ANISO_THRESHOLD = 3
SEED = 1234
BATCH = 2
ITERS_PER_EPOCH = 50
EPOCHS = 16
LR = 2e-3
WEIGHT_DECAY = 3e-5
FG_FRACTION = 1.0 / 3.0
DS_WEIGHTS = [2.0 / 3.0, 1.0 / 3.0, 0.0]    # finest first

CFG = {'num_modalities': 1, 'modalities': ['image'], 'normalization': ['nonCT'],
       'num_classes': 1, 'base': BASE, 'float_type': np.float64}
STAGE = {'patch': PATCH, 'spacing': TARGET_SPACING, 'pool': POOL, 'conv': CONV}


# ---------------------------------------------------------------- data and preprocessing
def read_manifest(folder):
    rows = []
    header = None
    with open(os.path.join(folder, 'manifest.tsv')) as f:
        for line in f:
            if line.startswith('#') or not line.strip():
                continue
            cells = line.rstrip('\n').split('\t')
            if header is None:
                header = cells
                continue
            r = dict(zip(header, cells))
            r['image'] = os.path.join(folder, r['image'])
            r['ref'] = os.path.join(folder, r['ref'])
            rows.append(r)
    return rows


def read_zyx(path):
    """NIfTI -> float32 array (z, y, x) = voxel (k, j, i), spacing (z, y, x), the image."""
    img = nib.load(path)
    a = np.asanyarray(img.dataobj).astype(np.float32).transpose(2, 1, 0)
    sp = np.array(img.header.get_zooms()[:3], dtype=np.float64)[::-1]
    return np.ascontiguousarray(a), sp, img


def nonzero_bbox(data):
    mask = binary_fill_holes(data != 0)
    idx = np.where(mask)
    return [[int(i.min()), int(i.max()) + 1] for i in idx]


def crop(a, bbox):
    return a[bbox[0][0]:bbox[0][1], bbox[1][0]:bbox[1][1], bbox[2][0]:bbox[2][1]]


def lowres_axis(orig_sp, target_sp):
    """nnU-Net's separate-z rule: the anisotropic axis of the original spacing when its
    max/min exceeds the threshold, else of the target spacing, else None (and None when two
    axes share the largest spacing)."""
    for sp in (orig_sp, target_sp):
        sp = np.asarray(sp, dtype=np.float64)
        if sp.max() / sp.min() > ANISO_THRESHOLD:
            axes = np.where(sp.max() / sp == 1)[0]
            return int(axes[0]) if len(axes) == 1 else None
    return None


def resize_indicator(seg, shape, order):
    """A label map resized label by label (indicator resized with `order`, >= 0.5 wins), as
    batchgenerators' resize_segmentation does."""
    out = np.zeros(shape, dtype=seg.dtype)
    for c in np.unique(seg):
        if c == 0:
            continue
        r = resize((seg == c).astype(np.float64), shape, order, mode='edge', clip=True,
                   anti_aliasing=False)
        out[r >= 0.5] = c
    return out


def resample(a, orig_sp, target_sp, is_seg, new_shape=None, order=None):
    """(z, y, x) volume from orig_sp to target_sp (or to new_shape), nnU-Net v1's
    resample_data_or_seg semantics: order 3 for images, 1 for labels / softmax maps,
    separate-z with order 0 along the low-resolution axis."""
    shape = np.array(a.shape)
    if new_shape is None:
        new_shape = np.round(np.asarray(orig_sp) / np.asarray(target_sp) * shape).astype(int)
    new_shape = np.array(new_shape)
    if np.all(shape == new_shape):
        return a
    if order is None:
        order = 1 if is_seg else 3

    def rs(x, shp):
        if is_seg:
            return resize_indicator(x, shp, order)
        return resize(x.astype(np.float64), shp, order, mode='edge', clip=True,
                      anti_aliasing=False)
    axis = lowres_axis(orig_sp, target_sp)
    if axis is None:
        return rs(a, tuple(new_shape)).astype(a.dtype)
    assert axis == 0, 'the demo data is anisotropic along z only'
    inplane = np.stack([rs(a[z], tuple(new_shape[1:])) for z in range(shape[0])], 0)
    if shape[0] != new_shape[0]:
        # order 0 along z with skimage's pixel-centre mapping (x_in = s (x_out + 0.5) - 0.5)
        grid = np.mgrid[:new_shape[0], :new_shape[1], :new_shape[2]].astype(np.float64)
        grid[0] = (shape[0] / new_shape[0]) * (grid[0] + 0.5) - 0.5
        inplane = map_coordinates(inplane, grid, order=0, mode='nearest')
    return inplane.astype(a.dtype)


def normalise_nonct(a):
    a = a.astype(np.float32)
    return (a - a.mean()) / (a.std() + 1e-8)


def preprocess(image_path, ref_path=None):
    data, sp, img = read_zyx(image_path)
    bbox = nonzero_bbox(data)
    d = crop(data, bbox)
    out = {'spacing': sp, 'shape': data.shape, 'bbox': bbox, 'cropped_shape': d.shape,
           'img': img}
    d[np.isnan(d)] = 0
    out['data'] = normalise_nonct(resample(d, sp, TARGET_SPACING, False))
    if ref_path is not None:
        seg, _, _ = read_zyx(ref_path)
        seg = crop(seg, bbox).astype(np.uint8)
        out['seg_orig'] = seg
        out['seg'] = resample(seg, sp, TARGET_SPACING, True)
    out['voxels_fg_orig'] = d[out['seg_orig'] > 0] if ref_path is not None else None
    return out


# ---------------------------------------------------------------- training
def extract(a, start, size, fill):
    """a[start:start+size] along each axis, outside the volume filled with `fill`."""
    out = np.full(size, fill, dtype=a.dtype)
    src, dst = [], []
    for s, n, dim in zip(start, size, a.shape):
        lo, hi = max(s, 0), min(s + n, dim)
        src.append(slice(lo, max(hi, lo)))
        dst.append(slice(lo - s, lo - s + max(hi - lo, 0)))
    out[tuple(dst)] = a[tuple(src)]
    return out


def sample_patch(case, rs, force_fg):
    shape = np.array(case['data'].shape)
    patch = np.array(PATCH)
    need = np.maximum(patch - shape, 0)
    lb = -(need // 2)
    ub = shape + need // 2 + need % 2 - patch
    if force_fg and case['fg'].shape[0] > 0:
        v = case['fg'][rs.randint(case['fg'].shape[0])]
        start = np.clip(v - patch // 2, lb, ub)
    else:
        start = np.array([rs.randint(lo, hi + 1) for lo, hi in zip(lb, ub)])
    x = extract(case['data'], start, PATCH, 0.0)
    y = extract(case['seg'], start, PATCH, 0)
    for ax in range(3):
        if rs.rand() < 0.5:
            x = np.flip(x, ax)
            y = np.flip(y, ax)
    if rs.rand() < 0.15:
        x = x * rs.uniform(0.75, 1.25)
    return np.ascontiguousarray(x, dtype=np.float32), np.ascontiguousarray(y, dtype=np.int64)


def dc_ce_loss(logits, target):
    ce = F.cross_entropy(logits, target)
    p = torch.softmax(logits, 1)[:, 1]
    t = (target == 1).float()
    tp = (p * t).sum()
    fp = (p * (1 - t)).sum()
    fn = ((1 - p) * t).sum()
    dc = (2 * tp + 1e-5) / (2 * tp + fp + fn + 1e-5)
    return ce - dc


def train(cases, threads, log_path, epochs=EPOCHS, iters_per_epoch=ITERS_PER_EPOCH):
    torch.manual_seed(SEED)
    rs = np.random.RandomState(SEED)
    net = GenericUNet(1, BASE, 2, POOL, CONV, PATCH)
    net.train()
    opt = torch.optim.Adam(net.parameters(), lr=LR, weight_decay=WEIGHT_DECAY)
    total = epochs * iters_per_epoch
    scales = [[1, 1, 1]]
    for p in POOL[:-1]:
        scales.append([a * b for a, b in zip(scales[-1], p)])
    epoch_losses = []
    t0 = time.time()
    c0 = time.process_time()
    it = 0
    with open(log_path, 'w') as log:
        log.write('# train_demo_model.py, torch %s, %d threads\n' % (torch.__version__, threads))
        log.write('epoch\titerations\tmean_loss\tlr\twall_s\tcpu_s\n')
        for epoch in range(epochs):
            losses = []
            for _ in range(iters_per_epoch):
                lr = LR * (1 - it / total) ** 0.9
                for g in opt.param_groups:
                    g['lr'] = lr
                xs, ys = [], []
                for b in range(BATCH):
                    c = cases[rs.randint(len(cases))]
                    x, y = sample_patch(c, rs, b >= round(BATCH * (1 - FG_FRACTION)))
                    xs.append(x)
                    ys.append(y)
                x = torch.from_numpy(np.stack(xs))[:, None]
                y = torch.from_numpy(np.stack(ys))
                outs = net(x, deep_supervision=True)
                loss = 0
                for w, o, s in zip(DS_WEIGHTS, outs, scales):
                    if w > 0:
                        loss = loss + w * dc_ce_loss(o, y[:, ::s[0], ::s[1], ::s[2]])
                opt.zero_grad()
                loss.backward()
                opt.step()
                losses.append(float(loss))
                it += 1
            epoch_losses.append(float(np.mean(losses)))
            log.write('%d\t%d\t%.6f\t%.6g\t%.1f\t%.1f\n' % (
                epoch + 1, it, epoch_losses[-1], lr, time.time() - t0, time.process_time() - c0))
            log.flush()
            print('epoch %d loss %.4f  %.0f s wall' % (epoch + 1, epoch_losses[-1],
                                                       time.time() - t0), flush=True)
    net.eval()
    return net, opt, epoch_losses, time.time() - t0, time.process_time() - c0


# ---------------------------------------------------------------- evaluation
def gaussian_map(patch):
    tmp = np.zeros(patch)
    tmp[tuple(p // 2 for p in patch)] = 1
    g = gaussian_filter(tmp, [p / 8.0 for p in patch], 0, mode='constant', cval=0)
    g = (g / g.max()).astype(np.float32)
    g[g == 0] = g[g != 0].min()
    return g


def window_steps(patch, size):
    steps = []
    for p, s in zip(patch, size):
        n = int(np.ceil((s - p) / (p * 0.5))) + 1
        step = (s - p) / (n - 1) if n > 1 else 0
        steps.append([int(np.round(step * i)) for i in range(n)])
    return steps


def predict_softmax(net, data):
    """Softmax (2, z, y, x) of a preprocessed volume: pad, sliding window, 8 mirrorings."""
    shape = np.array(data.shape)
    need = np.maximum(np.array(PATCH) - shape, 0)
    lo = need // 2
    padded = np.pad(data, [(a, b) for a, b in zip(lo, need - lo)], constant_values=0)
    g = torch.from_numpy(gaussian_map(PATCH))
    acc = torch.zeros((2,) + padded.shape)
    wsum = torch.zeros(padded.shape)
    flips = [[], [2], [3], [4], [2, 3], [2, 4], [3, 4], [2, 3, 4]]
    with torch.no_grad():
        for z in window_steps(PATCH, padded.shape)[0]:
            for y in window_steps(PATCH, padded.shape)[1]:
                for x in window_steps(PATCH, padded.shape)[2]:
                    sl = (slice(z, z + PATCH[0]), slice(y, y + PATCH[1]), slice(x, x + PATCH[2]))
                    t = torch.from_numpy(np.ascontiguousarray(padded[sl]))[None, None]
                    prob = torch.zeros((1, 2) + tuple(PATCH))
                    for fl in flips:
                        o = torch.softmax(net(torch.flip(t, fl) if fl else t), 1)
                        prob += (torch.flip(o, fl) if fl else o) / len(flips)
                    acc[(slice(None),) + sl] += prob[0] * g
                    wsum[sl] += g
    sm = (acc / wsum).numpy()
    return sm[:, lo[0]:lo[0] + shape[0], lo[1]:lo[1] + shape[1], lo[2]:lo[2] + shape[2]]


def segment(net, case):
    sm = predict_softmax(net, case['data'])
    back = np.stack([resample(sm[c].astype(np.float32), TARGET_SPACING, case['spacing'], False,
                              new_shape=case['cropped_shape'], order=1) for c in range(2)])
    seg_crop = np.argmax(back, 0).astype(np.uint8)
    full = np.zeros(case['shape'], dtype=np.uint8)
    b = case['bbox']
    full[b[0][0]:b[0][1], b[1][0]:b[1][1], b[2][0]:b[2][1]] = seg_crop
    return full


def evaluate(net, rows, out_tsv, pred_out=None):
    per_mod = collections.OrderedDict()
    with open(out_tsv, 'w') as f:
        f.write('# Dice of models/demo-pancreas on the demo data set of seed 1 (held out), '
                'PyTorch %s pipeline of tests/reference/train_demo_model.py\n'
                % torch.__version__)
        f.write('case\tmodality\tcenter\tdice\tvol_ref_ml\tvol_pred_ml\n')
        for r in rows:
            case = preprocess(r['image'])
            seg = segment(net, case)
            ref, sp, _ = read_zyx(r['ref'])
            ref = ref > 0
            pred = seg > 0
            inter = np.logical_and(ref, pred).sum()
            denom = ref.sum() + pred.sum()
            dice = 2.0 * inter / denom if denom else 1.0
            vml = np.prod(sp) / 1000.0
            f.write('%s\t%s\t%s\t%.6f\t%.3f\t%.3f\n' % (r['case'], r['modality'], r['center'],
                                                      dice, ref.sum() * vml, pred.sum() * vml))
            per_mod.setdefault(r['modality'], []).append(dice)
            print('%s %s dice %.4f' % (r['case'], r['modality'], dice), flush=True)
            if pred_out:
                os.makedirs(pred_out, exist_ok=True)
                img = case['img']
                out = nib.Nifti1Image(seg.transpose(2, 1, 0), img.affine, img.header)
                out.set_data_dtype(np.uint8)
                out.header.set_slope_inter(1, 0)
                nib.save(out, os.path.join(pred_out, r['case'] + '.nii.gz'))
    for m, v in per_mod.items():
        print('%s: mean Dice %.4f (SD %.4f, n %d)' % (m, np.mean(v), np.std(v, ddof=1), len(v)))
    return per_mod


# ---------------------------------------------------------------- model folder and goldens
def dataset_properties(cases):
    vox = np.concatenate([c['voxels_fg_orig'][::10] for c in cases]).astype(np.float64)
    inten = collections.OrderedDict()
    inten[0] = collections.OrderedDict([
        ('median', np.median(vox)), ('mean', np.mean(vox)), ('sd', np.std(vox)),
        ('mn', np.min(vox)), ('mx', np.max(vox)),
        ('percentile_99_5', np.percentile(vox, 99.5)),
        ('percentile_00_5', np.percentile(vox, 0.5)),
        ('local_props', collections.OrderedDict())])
    spacings = [tuple(float(s) for s in c['spacing']) for c in cases]
    sizes = [tuple(int(s) for s in c['cropped_shape']) for c in cases]
    new_shapes = [np.round(np.array(sp) / np.array(TARGET_SPACING) * np.array(sz))
                  for sp, sz in zip(spacings, sizes)]
    folder = '/data/nnUNet_preprocessed/' + TASK
    return {
        'intensityproperties': inten, 'all_sizes': sizes, 'all_spacings': spacings,
        'original_spacings': [np.array(s) for s in spacings],
        'original_sizes': [np.array(s) for s in sizes],
        'median_patient_size_in_voxels': np.median(np.array(new_shapes), 0).astype(np.int64),
        'original_spacing': np.median(np.array(spacings), 0),
        'size_reductions': collections.OrderedDict(
            (c['id'], float(np.prod(c['cropped_shape']) / np.prod(c['shape']))) for c in cases),
        'list_of_npz_files': ['%s/nnUNetData_plans_v2.1_stage0/%s.npz' % (folder, c['id'])
                              for c in cases],
        'preprocessed_data_folder': folder,
    }


def write_goldens(net, rows, golden):
    """A patch of a preprocessed held-out case through the pancreas (8 x 48 x 64, small
    enough to commit) and its float32 logits; parameters and FLOPs at the plans' patch."""
    os.makedirs(golden, exist_ok=True)
    r = [row for row in rows if row['case'] == 't2w03'][0]
    case = preprocess(r['image'], r['ref'])
    fg = np.argwhere(case['seg'] > 0)
    centre = fg.mean(0).round().astype(int)
    size = np.array([8, 48, 64])
    start = np.clip(centre - size // 2, 0, np.array(case['data'].shape) - size)
    x = extract(case['data'], start, list(size), 0.0)
    xt = torch.from_numpy(np.ascontiguousarray(x))[None, None]
    with torch.no_grad():
        y = net(xt)
    save_nifti(os.path.join(golden, 'input.nii.gz'), xt[0].numpy().astype(np.float32),
               TARGET_SPACING)
    save_nifti(os.path.join(golden, 'logits.nii.gz'), y[0].numpy().astype(np.float32),
               TARGET_SPACING)
    params, flops = count_inference_cost(net, torch.zeros([1, 1] + PATCH))
    with open(os.path.join(golden, 'model_info.tsv'), 'w') as f:
        f.write('# measured with torch %s forward hooks at the plans\' patch %s '
                '(make_infer_fixtures.count_inference_cost); input = case t2w03 of the '
                'demo seed 1, preprocessed, voxels %s + %s (z, y, x)\n'
                % (torch.__version__, 'x'.join(map(str, PATCH)), list(start), list(size)))
        f.write('field\tvalue\nparameters\t%d\nflops\t%.17g\n' % (params, flops))


def main():
    ap = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    ap.add_argument('--train', nargs='+', default=[])
    ap.add_argument('--eval', required=True)
    ap.add_argument('--out', required=True)
    ap.add_argument('--golden')
    ap.add_argument('--pred-out')
    ap.add_argument('--threads', type=int, default=1)
    ap.add_argument('--eval-only', action='store_true')
    # for a quick check of the script only (the bundled model uses the defaults)
    ap.add_argument('--epochs', type=int, default=EPOCHS)
    ap.add_argument('--iterations-per-epoch', type=int, default=ITERS_PER_EPOCH)
    ap.add_argument('--eval-cases', type=int, default=0)
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    eval_rows = read_manifest(args.eval)
    if args.eval_cases:
        eval_rows = eval_rows[::max(1, len(eval_rows) // args.eval_cases)][:args.eval_cases]
    if args.eval_only:
        ck = torch.load(os.path.join(args.out, 'fold_0', 'model_final_checkpoint.model'))
        net = GenericUNet(1, BASE, 2, POOL, CONV, PATCH)
        net.load_state_dict(ck['state_dict'])
        net.eval()
    else:
        cases = []
        t = time.time()
        for folder in args.train:
            seed = os.path.basename(os.path.normpath(folder))
            for r in read_manifest(folder):
                c = preprocess(r['image'], r['ref'])
                c['id'] = '%s_%s' % (seed, r['case'])
                c['fg'] = np.argwhere(c['seg'] > 0)
                del c['img']
                cases.append(c)
        print('preprocessed %d training cases in %.0f s' % (len(cases), time.time() - t))
        os.makedirs(args.out, exist_ok=True)
        net, _, losses, wall, cpu = train(cases, args.threads,
                                            os.path.join(args.out, 'training_log.tsv'),
                                            args.epochs, args.iterations_per_epoch)
        print('trained in %.0f s wall, %.0f s CPU' % (wall, cpu))
        plans = make_plans(CFG, [STAGE], dataset_properties(cases))
        best = int(np.argmin(losses))
        # saved without the optimiser state, as nnUNetTrainer.save_checkpoint(fname,
        # save_optimizer=False) does: Adam's moments would triple the file
        write_model_folder(args.out, net.state_dict(), None, plans, TRAINER, TASK,
                           0, args.epochs, (losses, [], [], []),
                           (best, float(losses[best]), None))
    if args.golden:
        write_goldens(net, read_manifest(args.eval), args.golden)
    evaluate(net, eval_rows, os.path.join(args.out, 'dice_demo_seed1.tsv'), args.pred_out)


if __name__ == '__main__':
    main()
