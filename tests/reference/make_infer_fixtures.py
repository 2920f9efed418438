"""Write small nnU-Net v1 / PanSegNet model folders, input patches and PyTorch logits for the
tests of src/infer (tests/golden/infer/). Run from the repository root with Debian's
interpreter:  /usr/bin/python3 tests/reference/make_infer_fixtures.py

Every model folder is laid out exactly as nnU-Net v1 writes it:
  MODEL/plans.pkl                                  (pickle of the plans; absent for one model)
  MODEL/fold_0/model_final_checkpoint.model        (torch.save zip: epoch, state_dict, ...)
  MODEL/fold_0/model_final_checkpoint.model.pkl    (pickle: init, name, class, plans)
plus, for the tests:
  MODEL/input.nii.gz     network input (C, D, H, W) float32; NIfTI voxel (i, j, k[, c])
                         holds tensor element (c, k, j, i)
  MODEL/logits.nii.gz    PyTorch 1.13 float32 logits (K, D, H, W) as NIfTI (i, j, k, class)
  MODEL/logits_f64.nii.gz the same forward pass run in float64 (a tighter reference)
  MODEL/tensors.tsv      per state-dict tensor: shape, sums and the CRC-32 of its float32
                         little-endian bytes (exact-equality check for the C loader)

Weights are random (fixed seeds) with non-trivial norm affines and biases; the sizes are
tiny (a few hundred kB per model) and the attention block uses d_model 64 and 2 layers
instead of PanSegNet's 512 and 8 (the C code reads both from the tensor shapes).

  /usr/bin/python3 tests/reference/make_infer_fixtures.py pipeline [NAME ...]
writes only the whole-image fixtures of tests/golden/infer_pipeline/ (PIPELINE below): model
folders in the layout nnU-Net v1's predict loads (plans also in the fold's .model.pkl, a full
checkpoint dict) and int16 input images; tests/reference/nnunet_predict_reference.py then
runs the real nnU-Net on them.
"""
import collections
import os
import pickle
import sys
import zlib

import nibabel as nib
import numpy as np
import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from infer_model import GenericUNet  # noqa: E402

OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), '..', 'golden', 'infer')


def randomise(net, seed):
    """He-scaled conv/linear weights, biases N(0, 0.1), norm gains U(0.5, 1.5) and shifts
    N(0, 0.2): every parameter matters for the output."""
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name, p in net.named_parameters():
            if 'instnorm' in name or 'layer_norm' in name:
                if name.endswith('weight'):
                    p.copy_(0.5 + torch.rand(p.shape, generator=g))
                else:
                    p.copy_(0.2 * torch.randn(p.shape, generator=g))
            elif name.endswith('bias'):
                p.copy_(0.1 * torch.randn(p.shape, generator=g))
            else:
                if name.startswith('tu.'):
                    fan_in = p.shape[0]
                else:
                    fan_in = int(np.prod(p.shape[1:]))
                p.copy_(torch.randn(p.shape, generator=g) * (2.0 / fan_in) ** 0.5)


def make_plans(cfg, stages, dataset=None):
    """A plans dict with the fields nnU-Net v1's ExperimentPlanner3D_v21 writes.

    dataset (optional, for a model trained on real images: train_demo_model.py) replaces the
    made-up dataset fields: 'intensityproperties' (per modality, as nnU-Net's
    DatasetAnalyzer collects them), 'all_sizes', 'all_spacings' and 'original_spacings' /
    'original_sizes' (z, y, x per training case), 'median_patient_size_in_voxels',
    'original_spacing' (the median), 'size_reductions', 'list_of_npz_files' and
    'preprocessed_data_folder'."""
    nmod = cfg['num_modalities']
    modal = collections.OrderedDict((i, m) for i, m in enumerate(cfg['modalities']))
    norm = collections.OrderedDict((i, s) for i, s in enumerate(cfg['normalization']))
    inten = collections.OrderedDict()
    for i in range(nmod):
        f = cfg['float_type']
        inten[i] = collections.OrderedDict([
            ('median', f(40.0 + i)), ('mean', f(35.25 + i)), ('sd', f(60.5 + i)),
            ('mn', f(-1000.0)), ('mx', f(2000.0)),
            ('percentile_99_5', f(215.0 + i)), ('percentile_00_5', f(-95.5 - i)),
            ('local_props', collections.OrderedDict())])
    ds = {
        'intensityproperties': inten,
        'all_sizes': [(64, 128, 128)], 'all_spacings': [(2.5, 0.8, 0.8)],
        'original_spacings': [np.array([2.5, 0.8, 0.8])],
        'original_sizes': [np.array([64, 128, 128])],
        'median_patient_size_in_voxels': np.array([64, 128, 128], dtype=np.int64),
        'original_spacing': np.array([2.5, 0.8, 0.8], dtype=np.float64),
        'size_reductions': collections.OrderedDict([('case_0', 1.0)]),
        'list_of_npz_files': ['/data/nnUNet_preprocessed/Task999/case_0.npz'],
        'preprocessed_data_folder': '/data/nnUNet_preprocessed/Task999',
    }
    if dataset is not None:
        ds.update(dataset)
    pps = {}
    for s, st in enumerate(stages):
        pps[s] = {
            'batch_size': 2,
            'num_pool_per_axis': [sum(1 for p in st['pool'] if p[a] > 1) for a in range(3)],
            'patch_size': np.array(st['patch'], dtype=np.int64),
            'median_patient_size_in_voxels': np.array(ds['median_patient_size_in_voxels']),
            'current_spacing': np.array(st['spacing'], dtype=np.float64),
            'original_spacing': np.array(ds['original_spacing']),
            'do_dummy_2D_data_aug': False,
            'pool_op_kernel_sizes': [list(p) for p in st['pool']],
            # nnU-Net writes lists; one fixture stores a 2-D numpy array to test that path
            'conv_kernel_sizes': (np.array(st['conv'], dtype=np.int64) if cfg.get('numpy_kernels')
                                  else [list(k) for k in st['conv']]),
        }
    classes = list(range(1, cfg['num_classes'] + 1))
    return {
        'num_stages': len(stages),
        'num_modalities': nmod,
        'modalities': modal,
        'normalization_schemes': norm,
        'dataset_properties': {
            'all_sizes': ds['all_sizes'], 'all_spacings': ds['all_spacings'],
            'all_classes': classes, 'modalities': modal,
            'intensityproperties': ds['intensityproperties'],
            'size_reductions': ds['size_reductions']},
        'list_of_npz_files': ds['list_of_npz_files'],
        'original_spacings': ds['original_spacings'],
        'original_sizes': ds['original_sizes'],
        'preprocessed_data_folder': ds['preprocessed_data_folder'],
        'num_classes': cfg['num_classes'],
        'all_classes': classes,
        'base_num_features': cfg['base'],
        'use_mask_for_norm': collections.OrderedDict((i, False) for i in range(nmod)),
        'keep_only_largest_region': None,
        'min_region_size_per_class': None,
        'min_size_per_class': None,
        'transpose_forward': [0, 1, 2],
        'transpose_backward': [0, 1, 2],
        'data_identifier': 'nnUNetData_plans_v2.1',
        'plans_per_stage': pps,
        'preprocessor_name': 'GenericPreprocessor',
        'conv_per_stage': 2,
    }


def crc32_f32(t):
    return zlib.crc32(t.detach().to(torch.float32).contiguous().numpy().astype('<f4').tobytes())


def write_tensor_tsv(path, sd):
    with open(path, 'w') as f:
        f.write('# per state-dict tensor, values as saved by make_infer_fixtures.py (torch %s);\n'
                '# sums in float64 over the float32 values (numpy), crc32 = zlib.crc32 of the\n'
                '# float32 little-endian bytes in row-major order\n' % torch.__version__)
        f.write('key\tshape\tnumel\tsum\tsumsq\tsumabs\tfirst\tcrc32\n')
        for k, v in sd.items():
            a = v.detach().to(torch.float32).contiguous().numpy().astype(np.float64).ravel()
            first = ','.join('%.9g' % x for x in a[:4])
            f.write('%s\t%s\t%d\t%.17g\t%.17g\t%.17g\t%s\t%d\n' % (
                k, 'x'.join(str(s) for s in v.shape), a.size, a.sum(), (a * a).sum(),
                np.abs(a).sum(), first, crc32_f32(v)))


def save_nifti(path, arr_cdhw, spacing_zyx):
    """(C, D, H, W) -> NIfTI (i, j, k[, c]) with i = W, j = H, k = D."""
    a = np.asarray(arr_cdhw, dtype=arr_cdhw.dtype)
    a = a.transpose(3, 2, 1, 0)
    if a.shape[3] == 1:
        a = a[..., 0]
    aff = np.diag([spacing_zyx[2], spacing_zyx[1], spacing_zyx[0], 1.0])
    img = nib.Nifti1Image(np.ascontiguousarray(a), aff)
    img.header.set_xyzt_units('mm')
    nib.save(img, path)


def build(cfg):
    st = cfg['stages'][cfg['stage']]
    net = GenericUNet(cfg['num_modalities'], cfg['base'], cfg['num_classes'] + 1, st['pool'],
                      st['conv'], st['patch'], attention=cfg.get('attention', False),
                      d_model=cfg.get('d_model', 512), nhead=8,
                      n_attention_layers=cfg.get('n_layers', 8))
    randomise(net, cfg['seed'])
    net.eval()
    return net


def count_inference_cost(net, x):
    """Parameters and FLOPs of one forward pass, measured with forward hooks on the modules
    that actually run (so the unused deep-supervision heads and buffers are not counted).
    FLOPs: 2 per multiply-accumulate of Conv3d / ConvTranspose3d / Linear and of the two
    attention products (K^T V and Q context: 2 * N * d_k^2 MACs per head), plus 8 per output
    element of every conv with a bias (bias, instance norm, LeakyReLU), the convention of
    panseval's ps_net_flops()."""
    ran, flops = set(), [0.0]

    def hook(mod, inp, out):
        ran.add(mod)
        if isinstance(mod, torch.nn.Conv3d):
            k = mod.kernel_size[0] * mod.kernel_size[1] * mod.kernel_size[2]
            flops[0] += 2.0 * out.numel() * mod.in_channels * k
            if mod.bias is not None:
                flops[0] += 8.0 * out.numel()
        elif isinstance(mod, torch.nn.ConvTranspose3d):
            k = mod.kernel_size[0] * mod.kernel_size[1] * mod.kernel_size[2]
            flops[0] += 2.0 * inp[0].numel() * mod.out_channels * k
        elif isinstance(mod, torch.nn.Linear):
            flops[0] += 2.0 * (out.numel() // mod.out_features) * mod.in_features * mod.out_features
        elif type(mod).__name__ == 'LinearMultiHeadAttention':
            n = inp[0].shape[1]
            flops[0] += 2.0 * 2.0 * n * mod.nhead * mod.d_k * mod.d_k

    handles = [m.register_forward_hook(hook) for m in net.modules()]
    with torch.no_grad():
        net(x)
    for h in handles:
        h.remove()
    params = sum(p.numel() for m in ran for p in m.parameters(recurse=False))
    return params, flops[0]


def write_model_folder(d, state_dict, optimizer_state, plans, trainer, task, stage, epoch,
                       plot_stuff, best_stuff, amp=None, legacy=False, plans_in_model_pkl=True,
                       plans_pkl=True, fold=0):
    """Write d/fold_N/model_final_checkpoint.model(.pkl) and d/plans.pkl the way nnU-Net v1's
    nnUNetTrainer.save_checkpoint does: torch.save of {epoch, state_dict,
    optimizer_state_dict, lr_scheduler_state_dict (None for nnUNetTrainerV2), plot_stuff
    (tr losses, val losses, val losses in train mode, val eval metrics), best_stuff,
    [amp_grad_scaler]} and a pickle of {init (the trainer's constructor arguments), name,
    class, plans}. Also used by train_demo_model.py."""
    os.makedirs(os.path.join(d, 'fold_%d' % fold), exist_ok=True)
    ckpt = {'epoch': epoch, 'state_dict': state_dict, 'optimizer_state_dict': optimizer_state,
            'lr_scheduler_state_dict': None, 'plot_stuff': plot_stuff, 'best_stuff': best_stuff}
    if amp is not None:
        ckpt['amp_grad_scaler'] = amp
    path = os.path.join(d, 'fold_%d' % fold, 'model_final_checkpoint.model')
    torch.save(ckpt, path, _use_new_zipfile_serialization=not legacy)
    module = ('nnunet.training.network_training.' + trainer)
    data_dir = '/data/nnUNet_preprocessed/' + task
    if plans.get('preprocessed_data_folder') == data_dir:
        # one string object for both, so the pickle's memo is what it was when the fixtures
        # under tests/golden/infer were written (byte-identical files on regeneration)
        data_dir = plans['preprocessed_data_folder']
    # nnUNetTrainerV2(plans_file, fold, output_folder, dataset_directory, batch_dice, stage,
    # unpack_data, deterministic, fp16)
    info = {'init': ('/data/nnUNet_preprocessed/%s/nnUNetPlansv2.1_plans_3D.pkl' % task, fold,
                     '/results/nnUNet/3d_fullres/%s/%s__nnUNetPlansv2.1/fold_%d'
                     % (task, trainer, fold),
                     data_dir, True, stage, True, False, True),
            'name': trainer,
            'class': "<class '%s.%s'>" % (module, trainer)}
    if plans_in_model_pkl:
        info['plans'] = plans
    with open(path + '.pkl', 'wb') as f:
        pickle.dump(info, f)
    if plans_pkl:
        with open(os.path.join(d, 'plans.pkl'), 'wb') as f:
            pickle.dump(plans, f)


def make_model(cfg, out=None):
    d = os.path.join(out or OUT, cfg['name'])
    os.makedirs(os.path.join(d, 'fold_0'), exist_ok=True)
    for stale in ('plans.pkl',):
        if os.path.exists(os.path.join(d, stale)):
            os.remove(os.path.join(d, stale))
    st = cfg['stages'][cfg['stage']]
    net = build(cfg)
    torch.manual_seed(cfg['seed'] + 1)
    x = torch.randn([1, cfg['num_modalities']] + list(st['patch']))

    optimizer = torch.optim.SGD(net.parameters(), lr=0.01, momentum=0.99, nesterov=True,
                                weight_decay=3e-5)
    plot_stuff = ([], [], [], [])
    best_stuff = (None, None, None)
    if cfg.get('train_step'):
        # one optimiser step so the saved state holds momentum buffers; the weights that
        # are saved (and checked) are the ones after the step
        net.train()
        loss = net(x).square().mean()
        loss.backward()
        optimizer.step()
        optimizer.zero_grad()
        net.eval()
        rs = np.random.RandomState(cfg['seed'])
        plot_stuff = ([np.float64(v) for v in rs.rand(3)], [np.float64(v) for v in rs.rand(3)],
                      [], [np.float64(v) for v in rs.rand(3)])
        plot_stuff = plot_stuff + (np.arange(6, dtype=np.float32).reshape(2, 3),)
        best_stuff = (2, np.float64(0.5), np.float64(0.75))

    sd = net.state_dict()
    amp = None
    if cfg.get('amp'):
        amp = {'scale': 65536.0, 'growth_factor': 2.0, 'backoff_factor': 0.5,
               'growth_interval': 2000, '_growth_tracker': 1}
    write_model_folder(d, sd, optimizer.state_dict(), make_plans(cfg, cfg['stages']),
                       cfg['trainer'], 'Task999', cfg['stage'], 3, plot_stuff, best_stuff,
                       amp=amp, legacy=cfg.get('legacy', False),
                       plans_in_model_pkl=cfg.get('plans_in_model_pkl', True),
                       plans_pkl=cfg.get('plans_pkl', True))
    write_tensor_tsv(os.path.join(d, 'tensors.tsv'), sd)
    params, flops = count_inference_cost(net, x)
    with open(os.path.join(d, 'model_info.tsv'), 'w') as f:
        f.write('# measured with torch %s forward hooks at the training patch '
                '(make_infer_fixtures.count_inference_cost)\n' % torch.__version__)
        f.write('field\tvalue\nparameters\t%d\nflops\t%.17g\n' % (params, flops))
    with torch.no_grad():
        y = net(x)
        y64 = net.double()(x.double())
    sp = st['spacing']
    save_nifti(os.path.join(d, 'input.nii.gz'), x[0].numpy().astype(np.float32), sp)
    save_nifti(os.path.join(d, 'logits.nii.gz'), y[0].numpy().astype(np.float32), sp)
    save_nifti(os.path.join(d, 'logits_f64.nii.gz'), y64[0].numpy().astype(np.float64), sp)


def make_dtype_fixture():
    """Tensors of several storage types and layouts in one torch.save zip, for the loader."""
    d = os.path.join(OUT, 'tensors')
    os.makedirs(d, exist_ok=True)
    g = torch.Generator().manual_seed(7)
    base = torch.randn(4, 5, generator=g)
    big = torch.randn(20, generator=g)
    obj = collections.OrderedDict()
    obj['f32'] = base
    obj['f16'] = base.to(torch.float16)
    obj['f64'] = base.to(torch.float64) / 3.0
    obj['bf16'] = base.to(torch.bfloat16)
    obj['i64'] = torch.arange(-3, 9, dtype=torch.int64).reshape(3, 4)
    obj['i32'] = torch.arange(0, 6, dtype=torch.int32)
    obj['u8'] = torch.arange(250, 256, dtype=torch.uint8)
    obj['transposed'] = base.t()                 # stride (1, 5)
    obj['offset_view'] = big[3:9]                # storage offset 3, shares big's storage
    obj['strided_view'] = big[1::4]              # stride 4
    obj['shares_big'] = big.view(4, 5)
    obj['scalar'] = torch.tensor(3.5)
    obj['empty'] = torch.zeros(0, 3)
    obj['param'] = torch.nn.Parameter(torch.linspace(-1, 1, 6).reshape(2, 3))
    obj['expanded'] = torch.arange(3, dtype=torch.float32).reshape(3, 1).expand(3, 4)
    torch.save(obj, os.path.join(d, 'dtypes.pt'))
    write_tensor_tsv(os.path.join(d, 'tensors.tsv'), obj)
    # a memory bomb: 8 tensors of 4 Mi elements expanded (stride 0) from one 1-element
    # storage, 32 Mi float32 elements in a file of about 2 kB; the reader must refuse it
    one = torch.zeros(1)
    bomb = collections.OrderedDict(('x%d' % i, one.expand(1 << 22)) for i in range(8))
    torch.save(bomb, os.path.join(d, 'expand_bomb.pt'))


def write_zip64(path, entries):
    """A stored (uncompressed) ZIP archive whose central directory uses ZIP64 records for every
    entry (sizes and offsets 0xFFFFFFFF in the 32-bit fields, real values in extra field
    0x0001) and a ZIP64 end record + locator (APPNOTE.TXT 4.3.14-4.3.16, 4.5.3), as torch.save
    writes for archives over 4 GiB."""
    import struct
    out, central = bytearray(), bytearray()
    for name, data in entries:
        nb = name.encode()
        crc = zlib.crc32(data)
        off = len(out)
        out += struct.pack('<IHHHHHIIIHH', 0x04034b50, 45, 0, 0, 0, 0, crc, len(data), len(data),
                           len(nb), 0) + nb + data
        extra = struct.pack('<HHQQQ', 1, 24, len(data), len(data), off)
        central += struct.pack('<IHHHHHHIIIHHHHHII', 0x02014b50, 45, 45, 0, 0, 0, 0, crc,
                               0xffffffff, 0xffffffff, len(nb), len(extra), 0, 0, 0, 0,
                               0xffffffff) + nb + extra
    cd_off = len(out)
    out += central
    eocd64 = len(out)
    out += struct.pack('<IQHHIIQQQQ', 0x06064b50, 44, 45, 45, 0, 0, len(entries), len(entries),
                       len(central), cd_off)
    out += struct.pack('<IIQI', 0x07064b50, 0, eocd64, 1)
    out += struct.pack('<IHHHHIIH', 0x06054b50, 0, 0, 0xffff, 0xffff, 0xffffffff, 0xffffffff, 0)
    with open(path, 'wb') as f:
        f.write(out)


def make_bigendian_fixture():
    """The same tensors as a torch.save archive would hold them on a big-endian machine
    (byteorder 'big', every storage byte-swapped), in a ZIP64 archive."""
    import io
    import zipfile
    d = os.path.join(OUT, 'tensors')
    g = torch.Generator().manual_seed(8)
    obj = collections.OrderedDict()
    obj['f32'] = torch.randn(3, 4, generator=g)                       # storage key 0
    obj['f64'] = torch.randn(5, generator=g).to(torch.float64)       # 1
    obj['f16'] = torch.randn(2, 3, generator=g).to(torch.float16)    # 2
    obj['i64'] = torch.arange(-4, 4, dtype=torch.int64)              # 3
    obj['f32_t'] = obj['f32'].t()                                    # shares storage 0
    width = {'0': 4, '1': 8, '2': 2, '3': 8}
    buf = io.BytesIO()
    torch.save(obj, buf)
    z = zipfile.ZipFile(io.BytesIO(buf.getvalue()))
    entries = []
    for info in z.infolist():
        data = z.read(info)
        leaf = info.filename.split('/')[-1]
        if info.filename.endswith('/byteorder'):
            data = b'big'
        elif '/data/' in info.filename:
            w = width[leaf]
            data = b''.join(data[i:i + w][::-1] for i in range(0, len(data), w))
        entries.append((info.filename.replace('archive/', 'bigendian/'), data))
    # torch >= 2.1 records the byte order; 1.13 does not, so add the entry it would write
    if not any(n.endswith('/byteorder') for n, _ in entries):
        entries.append(('bigendian/byteorder', b'big'))
    path = os.path.join(d, 'bigendian.pt')
    write_zip64(path, entries)
    assert zipfile.ZipFile(path).testzip() is None
    write_tensor_tsv(os.path.join(d, 'bigendian.tsv'), obj)


STAGE_2CLASS = {'patch': [16, 32, 32], 'spacing': [2.5, 0.8, 0.8],
                'pool': [[1, 2, 2], [2, 2, 2]], 'conv': [[1, 3, 3], [3, 3, 3], [3, 3, 3]]}
CONFIGS = [
    # plain Generic_UNet, 1 modality (CT), 2 classes; plans.pkl present; optimiser momentum,
    # numpy scalars and a numpy array in plot_stuff, AMP grad-scaler state
    {'name': 'unet_2class', 'seed': 11, 'trainer': 'nnUNetTrainerV2', 'num_modalities': 1,
     'modalities': ['CT'], 'normalization': ['CT'], 'num_classes': 1, 'base': 8,
     'float_type': np.float64, 'stages': [STAGE_2CLASS], 'stage': 0, 'train_step': True,
     'amp': True},
    # 2 modalities (MRI), 3 classes, two stages (the model is stage 1), no plans.pkl
    {'name': 'unet_3class', 'seed': 22, 'trainer': 'nnUNetTrainerV2', 'num_modalities': 2,
     'modalities': ['T1', 'T2'], 'normalization': ['nonCT', 'nonCT'], 'num_classes': 2,
     'base': 4, 'float_type': float,
     'stages': [{'patch': [16, 16, 16], 'spacing': [5.0, 1.6, 1.6],
                 'pool': [[2, 2, 2], [2, 2, 2]], 'conv': [[3, 3, 3]] * 3},
                {'patch': [8, 24, 32], 'spacing': [3.0, 1.25, 1.0],
                 'pool': [[1, 2, 2], [2, 2, 2], [2, 1, 2]],
                 'conv': [[1, 3, 3], [3, 3, 3], [3, 3, 3], [3, 1, 3]]}],
     'stage': 1, 'plans_pkl': False, 'numpy_kernels': True},
    # PanSegNet-style (linear-attention bottleneck), plans only in MODEL/plans.pkl
    {'name': 'pansegnet', 'seed': 33, 'trainer': 'nnTransUNetTrainerV2', 'num_modalities': 1,
     'modalities': ['CT'], 'normalization': ['CT'], 'num_classes': 1, 'base': 8,
     'float_type': np.float64,
     'stages': [{'patch': [16, 32, 32], 'spacing': [3.0, 0.75, 0.75],
                 'pool': [[2, 2, 2], [2, 2, 2]], 'conv': [[3, 3, 3]] * 3}],
     'stage': 0, 'attention': True, 'd_model': 64, 'n_layers': 2,
     'plans_in_model_pkl': False},
    # pre-1.6 torch.save format (a stream of pickles and raw storages; storage keys are
    # object ids, so this file changes on every run)
    {'name': 'legacy', 'seed': 44, 'trainer': 'nnUNetTrainerV2', 'num_modalities': 1,
     'modalities': ['CT'], 'normalization': ['CT'], 'num_classes': 1, 'base': 2,
     'float_type': float,
     'stages': [{'patch': [8, 8, 8], 'spacing': [1.0, 1.0, 1.0],
                 'pool': [[2, 2, 2]], 'conv': [[3, 3, 3]] * 2}],
     'stage': 0, 'legacy': True},
]


# ---------------------------------------------------------------------------------------------
# Whole-image pipeline fixtures (tests/golden/infer_pipeline/<name>/): a model folder and int16
# NIfTI inputs per fixture; tests/reference/nnunet_predict_reference.py then runs the real
# nnU-Net v1 predict path on them and writes the goldens beside.
#   /usr/bin/python3 tests/reference/make_infer_fixtures.py pipeline
# ---------------------------------------------------------------------------------------------
PIPELINE_OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), '..', 'golden',
                            'infer_pipeline')


def rotation(deg_z, deg_x, flip_k):
    """RAS direction matrix: rotate deg_z about z, then deg_x about x; flip_k reverses the k
    column (an improper matrix, stored with qfac -1). These rotations keep the float32 qform
    quaternion well conditioned, so qform == sform to ~1e-6."""
    t, u = np.deg2rad(deg_z), np.deg2rad(deg_x)
    rz = np.array([[np.cos(t), -np.sin(t), 0], [np.sin(t), np.cos(t), 0], [0, 0, 1]])
    rx = np.array([[1, 0, 0], [0, np.cos(u), -np.sin(u)], [0, np.sin(u), np.cos(u)]])
    return rz @ rx @ np.diag([1.0, 1.0, -1.0 if flip_k else 1.0])


PIPELINE = [
    # (a) CT, Generic_UNet, 2 classes. Separate-z resampling (original anisotropy 3.2/0.7 > 3),
    # z after resampling (15) smaller than the patch (16, padding), 3 tiles along y, 2 along x.
    {'name': 'ct_unet', 'seed': 101, 'trainer': 'nnUNetTrainerV2', 'num_modalities': 1,
     'modalities': ['CT'], 'normalization': ['CT'], 'use_mask': [False], 'num_classes': 1,
     'base': 8, 'float_type': np.float64, 'folds': [0],
     'stages': [{'patch': [16, 32, 32], 'spacing': [2.5, 0.8, 0.8],
                 'pool': [[1, 2, 2], [2, 2, 2]], 'conv': [[1, 3, 3], [3, 3, 3], [3, 3, 3]]}],
     'stage': 0,
     'intensity': [{'mean': 41.75, 'sd': 87.5, 'percentile_00_5': -160.0,
                    'percentile_99_5': 230.0, 'median': 45.0, 'mn': -1024.0, 'mx': 1500.0}],
     'transpose_forward': [0, 1, 2], 'transpose_backward': [0, 1, 2],
     # image, numpy (z, y, x) order; box = the non-zero region (half-open), rest is 0
     'shape_zyx': (14, 64, 40), 'spacing_zyx': (3.2, 0.7, 0.9),
     'box': ((1, 13), (2, 60), (3, 36)), 'rot': (25.0, 12.0, True),
     'origin_ras': (-118.25, 64.5, -301.75), 'kind': ['ct']},
    # (b) MRI (nonCT, z-score inside the non-zero mask), PanSegNet attention, 3 classes.
    # No separate z (anisotropy < 3 before and after); 3 tiles along z whose step is 4.5
    # voxels (numpy rounds the tile start 4.5 to 4, half to even).
    {'name': 'mri_pansegnet', 'seed': 202, 'trainer': 'nnTransUNetTrainerV2',
     'num_modalities': 1, 'modalities': ['MRI'], 'normalization': ['nonCT'],
     'use_mask': [True], 'num_classes': 2, 'base': 4, 'float_type': np.float64, 'net_seed': 231,
     'folds': [0], 'attention': True, 'd_model': 64, 'n_layers': 2,
     'stages': [{'patch': [16, 24, 24], 'spacing': [1.6, 1.2, 1.2],
                 'pool': [[2, 2, 2], [2, 2, 2]], 'conv': [[3, 3, 3]] * 3}],
     'stage': 0,
     'intensity': [{'mean': 300.0, 'sd': 120.0, 'percentile_00_5': 5.0,
                    'percentile_99_5': 900.0, 'median': 280.0, 'mn': 0.0, 'mx': 1200.0}],
     'transpose_forward': [0, 1, 2], 'transpose_backward': [0, 1, 2],
     'shape_zyx': (24, 34, 30), 'spacing_zyx': (2.0, 1.1, 1.3),
     'box': ((2, 22), (3, 31), (2, 27)), 'ellipsoid': True, 'rot': (-40.0, 20.0, False),
     'origin_ras': (87.5, -140.25, 33.0), 'kind': ['mri']},
    # (c) 2 modalities (CT + nonCT without mask), Generic_UNet, 3 classes, a 2-fold ensemble,
    # postprocessing.json (largest connected component of the joint foreground, then of
    # class 2), transpose_forward [2, 0, 1] (the low-resolution axis is numpy axis 2).
    {'name': 'ens_pp', 'seed': 303, 'trainer': 'nnUNetTrainerV2', 'num_modalities': 2,
     'modalities': ['CT', 'T2'], 'normalization': ['CT', 'nonCT'], 'use_mask': [False, False],
     'num_classes': 2, 'base': 4, 'float_type': np.float64, 'folds': [0, 1], 'net_seed': 309,
     'stages': [{'patch': [8, 24, 24], 'spacing': [3.0, 1.1, 1.1],
                 'pool': [[1, 2, 2], [2, 2, 2]], 'conv': [[1, 3, 3], [3, 3, 3], [3, 3, 3]]}],
     'stage': 0,
     'intensity': [{'mean': 20.0, 'sd': 110.0, 'percentile_00_5': -250.0,
                    'percentile_99_5': 260.0, 'median': 30.0, 'mn': -1024.0, 'mx': 1800.0},
                   {'mean': 400.0, 'sd': 150.0, 'percentile_00_5': 10.0,
                    'percentile_99_5': 1000.0, 'median': 390.0, 'mn': 0.0, 'mx': 1500.0}],
     'transpose_forward': [2, 0, 1], 'transpose_backward': [1, 2, 0],
     'shape_zyx': (30, 36, 12), 'spacing_zyx': (1.0, 1.2, 3.6),
     'box': ((2, 28), (2, 33), (1, 11)), 'rot': (150.0, -15.0, True),
     'origin_ras': (10.0, 20.0, -55.5), 'kind': ['ct', 'mri'],
     'postprocessing': {'for_which_classes': [[1, 2], 2], 'min_valid_object_sizes': 'None'}},
    # (d) CT with use_mask_for_norm (0 outside the non-zero mask after normalisation), spacing
    # equal to the target (no resampling before or after the network), every axis smaller
    # than the patch (padding on all sides), one tile (no Gaussian: weights 1).
    {'name': 'ct_onetile', 'seed': 404, 'trainer': 'nnUNetTrainerV2', 'num_modalities': 1,
     'modalities': ['CT'], 'normalization': ['CT'], 'use_mask': [True], 'num_classes': 1,
     'base': 4, 'float_type': np.float64, 'folds': [0],
     'stages': [{'patch': [16, 32, 32], 'spacing': [2.5, 0.8, 0.8],
                 'pool': [[1, 2, 2], [2, 2, 2]], 'conv': [[1, 3, 3], [3, 3, 3], [3, 3, 3]]}],
     'stage': 0,
     'intensity': [{'mean': 41.75, 'sd': 87.5, 'percentile_00_5': -160.0,
                    'percentile_99_5': 230.0, 'median': 45.0, 'mn': -1024.0, 'mx': 1500.0}],
     'transpose_forward': [0, 1, 2], 'transpose_backward': [0, 1, 2],
     'shape_zyx': (12, 28, 30), 'spacing_zyx': (2.5, 0.8, 0.8),
     'box': ((1, 11), (2, 27), (1, 28)), 'ellipsoid': True, 'rot': (60.0, -25.0, True),
     'origin_ras': (-5.0, 250.0, 12.25), 'kind': ['ct']},
    # (e) nnU-Net's export quirk: transpose_forward [2, 0, 1], the original spacing is not
    # anisotropic but the target is (4.8 / 1.2 = 4 > 3). Preprocessing resamples separately
    # along transposed axis 0 (= original numpy axis 2); the export decides from the target
    # spacing, still in transposed order, and so resamples separately along ORIGINAL axis 0
    # (order 0 along z, order 1 in y, x), which is what nnU-Net does and panseval must copy.
    {'name': 'transpose_quirk', 'seed': 505, 'trainer': 'nnUNetTrainerV2',
     'num_modalities': 1, 'modalities': ['MRI'], 'normalization': ['nonCT'],
     'use_mask': [False], 'num_classes': 1, 'base': 4, 'float_type': np.float64,
     'folds': [0],
     'stages': [{'patch': [8, 16, 16], 'spacing': [4.8, 1.2, 1.2],
                 'pool': [[1, 2, 2], [2, 2, 2]], 'conv': [[1, 3, 3], [3, 3, 3], [3, 3, 3]]}],
     'stage': 0,
     'intensity': [{'mean': 300.0, 'sd': 120.0, 'percentile_00_5': 5.0,
                    'percentile_99_5': 900.0, 'median': 280.0, 'mn': 0.0, 'mx': 1200.0}],
     'transpose_forward': [2, 0, 1], 'transpose_backward': [1, 2, 0],
     'shape_zyx': (20, 22, 18), 'spacing_zyx': (1.0, 1.1, 1.5),
     'box': ((1, 19), (2, 21), (1, 17)), 'rot': (-110.0, 35.0, False),
     'origin_ras': (33.3, -12.0, 150.0), 'kind': ['mri']},
]


def pipeline_plans(fx):
    plans = make_plans(fx, fx['stages'])
    inten = collections.OrderedDict()
    for i, ip in enumerate(fx['intensity']):
        d = collections.OrderedDict((k, fx['float_type'](v)) for k, v in ip.items())
        d['local_props'] = collections.OrderedDict()
        inten[i] = d
    plans['dataset_properties']['intensityproperties'] = inten
    plans['use_mask_for_norm'] = collections.OrderedDict(
        (i, bool(m)) for i, m in enumerate(fx['use_mask']))
    plans['transpose_forward'] = list(fx['transpose_forward'])
    plans['transpose_backward'] = list(fx['transpose_backward'])
    sp = [float(v) for v in fx['spacing_zyx']]
    plans['dataset_properties']['all_spacings'] = [tuple(sp)]
    plans['original_spacings'] = [np.array(sp)]
    plans['original_sizes'] = [np.array(fx['shape_zyx'])]
    for st in plans['plans_per_stage'].values():
        st['original_spacing'] = np.array(sp)
    return plans


def make_pipeline_model(fx):
    d = os.path.join(PIPELINE_OUT, fx['name'], 'model')
    os.makedirs(d, exist_ok=True)
    plans = pipeline_plans(fx)
    for fold in fx['folds']:
        fd = os.path.join(d, 'fold_%d' % fold)
        os.makedirs(fd, exist_ok=True)
        cfg = dict(fx)
        # the weights' seed (net_seed, picked so that every class occurs in the output) is
        # separate from the images' seed
        cfg['seed'] = fx.get('net_seed', fx['seed']) + 17 * fold
        net = build(cfg)
        ckpt = {'epoch': 0, 'state_dict': net.state_dict(), 'optimizer_state_dict': None,
                'lr_scheduler_state_dict': None, 'plot_stuff': ([], [], [], []),
                'best_stuff': (0, np.float64(0.0), np.float64(0.0))}
        path = os.path.join(fd, 'model_final_checkpoint.model')
        torch.save(ckpt, path)
        trainer = fx['trainer']
        info = {'init': ('/data/nnUNet_preprocessed/Task999/nnUNetPlansv2.1_plans_3D.pkl', fold,
                         '/results/nnUNet/3d_fullres/Task999/' + trainer +
                         '__nnUNetPlansv2.1/fold_%d' % fold,
                         '/data/nnUNet_preprocessed/Task999', True, fx['stage'], True, False,
                         True),
                'name': trainer,
                'class': "<class 'nnunet.training.network_training.%s.%s'>" % (trainer, trainer),
                'plans': plans}
        with open(path + '.pkl', 'wb') as f:
            pickle.dump(info, f)
    with open(os.path.join(d, 'plans.pkl'), 'wb') as f:
        pickle.dump(plans, f)
    pp = os.path.join(d, 'postprocessing.json')
    if fx.get('postprocessing'):
        import json
        with open(pp, 'w') as f:
            json.dump(fx['postprocessing'], f, indent=4)
    elif os.path.exists(pp):
        os.remove(pp)


def smooth_field(rs, shape, sigma):
    from scipy.ndimage import gaussian_filter
    f = gaussian_filter(rs.randn(*shape), sigma)
    return f / (np.abs(f).max() + 1e-12)


def make_pipeline_inputs(fx):
    """int16 images, numpy (z, y, x) = NIfTI (k, j, i); zero outside fx['box'] (or outside the
    ellipsoid inscribed in it), smooth structure inside so the network output varies."""
    rs = np.random.RandomState(fx['seed'])
    shape = fx['shape_zyx']
    (z0, z1), (y0, y1), (x0, x1) = fx['box']
    inside = np.zeros(shape, dtype=bool)
    inside[z0:z1, y0:y1, x0:x1] = True
    if fx.get('ellipsoid'):
        zz, yy, xx = np.meshgrid(*[np.arange(n) + 0.5 for n in shape], indexing='ij')
        c = [(a + b) / 2.0 for a, b in fx['box']]
        r = [(b - a) / 2.0 for a, b in fx['box']]
        inside &= ((zz - c[0]) / r[0]) ** 2 + ((yy - c[1]) / r[1]) ** 2 + \
                  ((xx - c[2]) / r[2]) ** 2 <= 1.0
    sp_xyz = np.array(fx['spacing_zyx'][::-1], dtype=np.float64)
    aff = np.eye(4)
    aff[:3, :3] = rotation(*fx['rot']) @ np.diag(sp_xyz)
    aff[:3, 3] = fx['origin_ras']
    for m, kind in enumerate(fx['kind']):
        f = smooth_field(rs, shape, 2.0)
        noise = rs.randn(*shape)
        if kind == 'ct':
            v = 40.0 + 220.0 * f + 25.0 * noise
            v[smooth_field(rs, shape, 1.5) > 0.55] = -1000.0     # air pockets
            v[smooth_field(rs, shape, 1.5) > 0.6] = 700.0        # bone
        else:
            v = 350.0 + 250.0 * f + 30.0 * noise
            v = np.maximum(v, 1.0)                               # non-zero inside
        v = np.where(inside, np.round(v), 0.0).astype(np.int16)
        if fx.get('ellipsoid') and m == 0:
            # a zero-valued hole inside the body: binary_fill_holes keeps it in the mask
            cz, cy, cx = [int((a + b) // 2) for a, b in fx['box']]
            v[cz - 1:cz + 1, cy - 1:cy + 2, cx:cx + 2] = 0
        nim = nib.Nifti1Image(np.ascontiguousarray(v.transpose(2, 1, 0)), None)
        nim.set_qform(aff, code=1)
        nim.set_sform(aff, code=1)
        nim.header.set_xyzt_units('mm')
        nim.set_data_dtype(np.int16)
        nib.save(nim, os.path.join(PIPELINE_OUT, fx['name'], 'CASE_%04d.nii.gz' % m))


def make_pipeline_fixtures(names=None):
    for fx in PIPELINE:
        if names and fx['name'] not in names:
            continue
        os.makedirs(os.path.join(PIPELINE_OUT, fx['name']), exist_ok=True)
        make_pipeline_model(fx)
        make_pipeline_inputs(fx)


def main():
    torch.set_num_threads(1)
    if len(sys.argv) > 1 and sys.argv[1] == 'pipeline':
        make_pipeline_fixtures(sys.argv[2:])
        return
    for cfg in CONFIGS:
        make_model(cfg)
    make_dtype_fixture()
    make_bigendian_fixture()


if __name__ == '__main__':
    main()
