"""Reference PyTorch definition of the networks panseval's inference core reproduces.

Written from the published description of nnU-Net v1's Generic_UNet as trained by
nnUNetTrainerV2 (Isensee et al., Nature Methods 2021; MIC-DKFZ/nnUNet v1 source) and of
PanSegNet's linear-attention bottleneck (Zhang et al., "Large-scale multi-center CT and MRI
segmentation of pancreas with deep learning", Medical Image Analysis 2024;
NUBagciLab/PaNSegNet Generic_TransUNet). It does not import nnunet. The module and parameter
names reproduce the state-dict keys of the original checkpoints exactly, so a state dict saved
from these modules has the same keys and shapes as a real model_final_checkpoint.model.

Conventions (nnUNetTrainerV2):
  * conv -> InstanceNorm3d(eps 1e-5, affine) -> LeakyReLU(0.01); no dropout.
  * 2 convs per stage; features base * 2**stage, capped at 320 (MAX_NUM_FILTERS_3D).
  * convolutional pooling: the first conv of every encoder stage after the first has
    stride = pool kernel of the previous step; padding is 1 where the kernel is 3, else 0.
  * the bottleneck (conv_blocks_context[num_pool]) is Sequential(StackedConvLayers(1 conv,
    strided), StackedConvLayers(1 conv)).
  * decoder step u: ConvTranspose3d(kernel = stride = pool_op_kernel_sizes[-(u+1)], no bias)
    to the skip's features, concat [up, skip], Sequential(StackedConvLayers(1 conv to skip
    features), StackedConvLayers(1 conv)); the kernel of decoder step u is
    conv_kernel_sizes[-(u+1)] (nnU-Net v1 indexes it this way: step 0 reuses the bottleneck's
    kernel). seg_outputs.u = Conv3d 1x1x1 without bias; inference uses the last one (logits).
  * PanSegNet: self_atten replaces the bottleneck output (no residual).

Run with Debian's /usr/bin/python3 (torch 1.13 CPU).
"""
import math

import torch
import torch.nn.functional as F
from torch import nn

MAX_NUM_FEATURES_3D = 320


class ConvDropoutNormNonlin(nn.Module):
    """conv -> instnorm -> lrelu (the state-dict names are conv.* and instnorm.*)."""

    def __init__(self, cin, cout, kernel, stride):
        super().__init__()
        pad = [1 if k == 3 else 0 for k in kernel]
        self.conv = nn.Conv3d(cin, cout, kernel_size=tuple(kernel), stride=tuple(stride),
                              padding=tuple(pad), bias=True)
        self.instnorm = nn.InstanceNorm3d(cout, eps=1e-5, affine=True)
        self.lrelu = nn.LeakyReLU(negative_slope=1e-2)

    def forward(self, x):
        return self.lrelu(self.instnorm(self.conv(x)))


class StackedConvLayers(nn.Module):
    """num_convs blocks; only the first one is strided (names blocks.<i>.*)."""

    def __init__(self, cin, cout, num_convs, kernel, first_stride=None):
        super().__init__()
        self.output_channels = cout
        stride = first_stride if first_stride is not None else [1, 1, 1]
        layers = [ConvDropoutNormNonlin(cin, cout, kernel, stride)]
        layers += [ConvDropoutNormNonlin(cout, cout, kernel, [1, 1, 1])
                   for _ in range(num_convs - 1)]
        self.blocks = nn.Sequential(*layers)

    def forward(self, x):
        return self.blocks(x)


def sinusoid_table(n_tokens, d_model):
    """Fixed sinusoidal positional table [1, N, d_model] (Vaswani et al. 2017):
    pe[p, 2i] = sin(p / 10000^(2i/d)), pe[p, 2i+1] = cos(p / 10000^(2i/d)); computed in
    float32 the way PanSegNet's AbsolutePosEncoding does (exp of -ln(10000)/d * 2i)."""
    pe = torch.zeros((n_tokens, d_model))
    pos = torch.arange(0, n_tokens, dtype=torch.float).unsqueeze(1)
    div = torch.exp(torch.arange(0, d_model, 2).float() *
                    (-torch.log(torch.tensor(10000.0)) / d_model))
    pe[:, 0::2] = torch.sin(pos * div)
    pe[:, 1::2] = torch.cos(pos * div)
    return pe.unsqueeze(0)


class AbsolutePosEncoding(nn.Module):
    def __init__(self, n_tokens, d_model):
        super().__init__()
        self.register_buffer('pe', sinusoid_table(n_tokens, d_model))

    def forward(self, x):
        return x + self.pe


class LinearMultiHeadAttention(nn.Module):
    """Efficient attention (Shen et al., arXiv:1812.01243) as PanSegNet uses it:
    per head, Q <- softmax_over_dk(Q) / sqrt(d_k), K <- softmax_over_tokens(K),
    context = K^T V (d_k x d_k), out = Q context; linears.0..2 = q, k, v, linears.3 = output."""

    def __init__(self, d_model, nhead):
        super().__init__()
        self.nhead = nhead
        self.d_k = d_model // nhead
        self.linears = nn.ModuleList([nn.Linear(d_model, d_model) for _ in range(4)])

    def forward(self, x):
        b, n, _ = x.shape
        q, k, v = [lin(x).view(b, n, self.nhead, self.d_k).transpose(1, 2)
                   for lin, _ in zip(self.linears, range(3))]
        q = F.softmax(q, dim=-1) / math.sqrt(self.d_k)
        k = F.softmax(k, dim=-2)
        context = torch.einsum('bhnd,bhne->bhde', k, v)
        out = torch.einsum('bhnd,bhde->bhne', q, context)
        out = out.transpose(1, 2).contiguous().view(b, n, self.nhead * self.d_k)
        return self.linears[3](out)


class SelfAttentionLayer(nn.Module):
    """Post-norm transformer layer: x = LN1(x + MHA(x)); x = LN2(x + W2 gelu(W1 x))."""

    def __init__(self, d_model, nhead, dim_feedforward, eps=1e-6):
        super().__init__()
        self.self_attn = LinearMultiHeadAttention(d_model, nhead)
        self.linear1 = nn.Linear(d_model, dim_feedforward)
        self.linear2 = nn.Linear(dim_feedforward, d_model)
        self.layer_norm1 = nn.LayerNorm(d_model, eps=eps)
        self.layer_norm2 = nn.LayerNorm(d_model, eps=eps)

    def forward(self, x):
        x = self.layer_norm1(x + self.self_attn(x))
        x = self.layer_norm2(x + self.linear2(F.gelu(self.linear1(x))))
        return x


class TransEncoder(nn.Module):
    def __init__(self, d_model, nhead, dim_feedforward, n_layers):
        super().__init__()
        self.layers = nn.ModuleList([SelfAttentionLayer(d_model, nhead, dim_feedforward)
                                     for _ in range(n_layers)])

    def forward(self, x):
        for layer in self.layers:
            x = layer(x)
        return x


class SelfAtten3DBlock(nn.Module):
    """Tokens = voxels of the bottleneck in (D, H, W) order, channels = features."""

    def __init__(self, in_dim, n_tokens, d_model=512, nhead=8, n_layers=8):
        super().__init__()
        self.linear_proj = nn.Linear(in_dim, d_model)
        self.linear_back_proj = nn.Linear(d_model, in_dim)
        self.pos_encode = AbsolutePosEncoding(n_tokens, d_model)
        self.transformer = TransEncoder(d_model, nhead, d_model, n_layers)

    def forward(self, x):
        b, c, d, h, w = x.shape
        t = x.flatten(start_dim=2).transpose(1, 2)
        t = self.pos_encode(self.linear_proj(t))
        t = self.linear_back_proj(self.transformer(t))
        return t.transpose(1, 2).reshape(b, c, d, h, w)


class GenericUNet(nn.Module):
    """nnU-Net v1 Generic_UNet (3D, convolutional pooling and upsampling, 2 convs per stage),
    optionally with PanSegNet's attention bottleneck.

    num_classes includes the background (nnUNetTrainerV2 passes plans num_classes + 1)."""

    def __init__(self, input_channels, base_num_features, num_classes, pool_op_kernel_sizes,
                 conv_kernel_sizes, patch_size=None, attention=False, d_model=512, nhead=8,
                 n_attention_layers=8, max_num_features=MAX_NUM_FEATURES_3D):
        super().__init__()
        num_pool = len(pool_op_kernel_sizes)
        assert len(conv_kernel_sizes) == num_pool + 1
        ctx, loc, tu, seg = [], [], [], []
        cin, cout = input_channels, base_num_features
        for d in range(num_pool):
            first_stride = pool_op_kernel_sizes[d - 1] if d > 0 else None
            ctx.append(StackedConvLayers(cin, cout, 2, conv_kernel_sizes[d], first_stride))
            cin = cout
            cout = min(cout * 2, max_num_features)
        bott = cout
        ctx.append(nn.Sequential(
            StackedConvLayers(cin, bott, 1, conv_kernel_sizes[num_pool],
                              pool_op_kernel_sizes[num_pool - 1]),
            StackedConvLayers(bott, bott, 1, conv_kernel_sizes[num_pool])))
        down = bott
        for u in range(num_pool):
            skip = ctx[-(2 + u)].output_channels
            pk = pool_op_kernel_sizes[-(u + 1)]
            tu.append(nn.ConvTranspose3d(down, skip, tuple(pk), tuple(pk), bias=False))
            kern = conv_kernel_sizes[-(u + 1)]
            loc.append(nn.Sequential(StackedConvLayers(2 * skip, skip, 1, kern),
                                     StackedConvLayers(skip, skip, 1, kern)))
            down = skip
        for u in range(num_pool):
            seg.append(nn.Conv3d(loc[u][-1].output_channels, num_classes, 1, 1, 0, 1, 1, False))
        self.conv_blocks_context = nn.ModuleList(ctx)
        self.conv_blocks_localization = nn.ModuleList(loc)
        self.tu = nn.ModuleList(tu)
        self.seg_outputs = nn.ModuleList(seg)
        self.attention = attention
        if attention:
            total = [1, 1, 1]
            for pk in pool_op_kernel_sizes:
                total = [a * b for a, b in zip(total, pk)]
            n_tokens = 1
            for p, t in zip(patch_size, total):
                n_tokens *= p // t
            self.self_atten = SelfAtten3DBlock(bott, n_tokens, d_model, nhead,
                                               n_attention_layers)

    def forward(self, x, deep_supervision=False):
        """The logits at full resolution; with deep_supervision (training, as nnUNetTrainerV2
        does it), the list of every decoder step's seg_outputs, finest first."""
        skips = []
        for d in range(len(self.conv_blocks_context) - 1):
            x = self.conv_blocks_context[d](x)
            skips.append(x)
        x = self.conv_blocks_context[-1](x)
        if self.attention:
            x = self.self_atten(x)
        outputs = []
        for u in range(len(self.tu)):
            x = self.tu[u](x)
            x = torch.cat((x, skips[-(u + 1)]), dim=1)
            x = self.conv_blocks_localization[u](x)
            if deep_supervision:
                outputs.append(self.seg_outputs[u](x))
        if deep_supervision:
            return outputs[::-1]
        return self.seg_outputs[-1](x)
