"""PyTorch side of bench/bench_forward.sh (Debian's /usr/bin/python3, torch 1.13 CPU).

  forward_torch.py make DIR [--patch D H W] [--attention] [--seed S]
      Write a PanSegNet-sized model folder with random weights (nnU-Net v1 layout:
      DIR/plans.pkl, DIR/fold_0/model_final_checkpoint.model[.pkl]) and a random input patch
      DIR/input.nii.gz. Network: 6 resolution stages (5 poolings (1,2,2), (2,2,2), (2,2,2),
      (2,2,2), (1,2,2)), features 32-64-128-256-320-320, kernels (1,3,3) then (3,3,3),
      1 input channel, 2 classes; with --attention PanSegNet's bottleneck (d_model 512,
      8 heads, 8 layers).

  forward_torch.py run DIR [--threads 2] [--repeat 3] [--output LOGITS.nii.gz]
      Build tests/reference/infer_model.py's GenericUNet from the plans, load the state dict,
      and time the forward pass on DIR/input.nii.gz under torch.no_grad(): one line per run
      and the median on stderr ("torch forward: median of N runs: X s").
"""
import argparse
import os
import pickle
import statistics
import sys
import time

import nibabel as nib
import numpy as np
import torch

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, '..', 'tests', 'reference'))
from infer_model import GenericUNet  # noqa: E402
import make_infer_fixtures as fx  # noqa: E402

POOL = [[1, 2, 2], [2, 2, 2], [2, 2, 2], [2, 2, 2], [1, 2, 2]]
CONV = [[1, 3, 3]] + [[3, 3, 3]] * 5


def make(args):
    d = args.dir
    os.makedirs(os.path.join(d, 'fold_0'), exist_ok=True)
    st = {'patch': list(args.patch), 'spacing': [2.5, 0.8, 0.8], 'pool': POOL, 'conv': CONV}
    cfg = {'name': os.path.basename(d), 'seed': args.seed,
           'trainer': 'nnTransUNetTrainerV2' if args.attention else 'nnUNetTrainerV2',
           'num_modalities': 1, 'modalities': ['CT'], 'normalization': ['CT'],
           'num_classes': 1, 'base': 32, 'float_type': np.float64, 'stages': [st],
           'stage': 0, 'attention': args.attention, 'd_model': 512, 'n_layers': 8}
    net = fx.build(cfg)
    torch.save({'epoch': 1000, 'state_dict': net.state_dict()},
               os.path.join(d, 'fold_0', 'model_final_checkpoint.model'))
    plans = fx.make_plans(cfg, cfg['stages'])
    info = {'init': ('plans.pkl', 0, d, d, True, 0, True, False, True),
            'name': cfg['trainer'], 'plans': plans}
    with open(os.path.join(d, 'fold_0', 'model_final_checkpoint.model.pkl'), 'wb') as f:
        pickle.dump(info, f)
    with open(os.path.join(d, 'plans.pkl'), 'wb') as f:
        pickle.dump(plans, f)
    torch.manual_seed(args.seed + 1)
    x = torch.randn([1, 1] + list(args.patch))
    fx.save_nifti(os.path.join(d, 'input.nii.gz'), x[0].numpy(), st['spacing'])
    n = sum(p.numel() for p in net.parameters())
    print('wrote %s: %d parameters, patch %s' % (d, n, 'x'.join(map(str, args.patch))))


def run(args):
    torch.set_num_threads(args.threads)
    d = args.dir
    with open(os.path.join(d, 'fold_0', 'model_final_checkpoint.model.pkl'), 'rb') as f:
        info = pickle.load(f)
    st = info['plans']['plans_per_stage'][0]
    ck = torch.load(os.path.join(d, 'fold_0', 'model_final_checkpoint.model'),
                    map_location='cpu')
    sd = ck['state_dict']
    attention = any(k.startswith('self_atten.') for k in sd)
    net = GenericUNet(info['plans']['num_modalities'], info['plans']['base_num_features'],
                      info['plans']['num_classes'] + 1, st['pool_op_kernel_sizes'],
                      st['conv_kernel_sizes'], list(st['patch_size']), attention=attention)
    net.load_state_dict(sd)
    net.eval()
    img = nib.load(os.path.join(d, 'input.nii.gz'))
    a = np.asanyarray(img.dataobj).astype(np.float32)
    if a.ndim == 3:
        a = a[..., None]
    x = torch.from_numpy(np.ascontiguousarray(a.transpose(3, 2, 1, 0)))[None]
    times = []
    with torch.no_grad():
        for r in range(args.repeat):
            t0 = time.perf_counter()
            y = net(x)
            times.append(time.perf_counter() - t0)
            print('torch forward: run %d: %.3f s' % (r + 1, times[-1]), file=sys.stderr)
    print('torch forward: median of %d runs: %.3f s' % (args.repeat, statistics.median(times)),
          file=sys.stderr)
    if args.output:
        out = y[0].numpy().transpose(3, 2, 1, 0)
        nib.save(nib.Nifti1Image(np.ascontiguousarray(out), img.affine), args.output)


def main():
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = ap.add_subparsers(dest='cmd', required=True)
    m = sub.add_parser('make')
    m.add_argument('dir')
    m.add_argument('--patch', type=int, nargs=3, default=[64, 128, 128])
    m.add_argument('--attention', action='store_true')
    m.add_argument('--seed', type=int, default=5)
    r = sub.add_parser('run')
    r.add_argument('dir')
    r.add_argument('--threads', type=int, default=2)
    r.add_argument('--repeat', type=int, default=3)
    r.add_argument('--output')
    args = ap.parse_args()
    make(args) if args.cmd == 'make' else run(args)


if __name__ == '__main__':
    main()
