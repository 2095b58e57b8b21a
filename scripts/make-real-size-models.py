#!/usr/bin/python3
"""Writes random-weight ONNX models with Stable Diffusion 1.5's real sizes, for speed measurements only
(`npm run bench`'s `sd15_unet_step` and `tiny_vs_full_decoder_512`; docs/benchmarks.md):

  unet/model.onnx (+ model.onnx_data)  SD 1.5's UNet2DConditionModel: block_out_channels 320/640/1280/1280,
                                       2 layers per block, 8 heads, 768-wide cross-attention (~859.5M params)
  vae_decoder/model.onnx               SD's AutoencoderKL decoder, post_quant_conv included (~49.5M params)
  taesd_decoder/model.onnx             a TAESD-layout tiny decoder (~1.2M params)

The networks are written in plain torch after diffusers' UNet2DConditionModel / AutoencoderKL and
madebyollin's TAESD, module for module, so parameter counts and the operators run are theirs. Inputs and
outputs are named as in Optimum's export (unet: sample, timestep, encoder_hidden_states -> out_sample;
decoders: latent_sample -> sample), opset 17, the UNet's weights in one external data file.

Weights are random (PyTorch's default fan-in scaled initialisation, seeded): the images mean nothing, the
speed is the real network's. bench/pytorch-real-size.py rebuilds the same networks with the same seeds in
PyTorch eager and checks their fingerprints against manifest.json. Nothing here is committed (3.5 GB):
    /usr/bin/python3 scripts/make-real-size-models.py [--out .work/real-size] [--no-check]
Each export is then run once by the engine (bench/real-size-engine.ts check) on the input torch saw, and the
largest absolute difference from torch's output is printed.
"""
import argparse
import json
import math
import os
import shutil
import subprocess
import sys
import tempfile
import time

import numpy as np
import onnx
import torch
import torch.nn.functional as F
from torch import nn

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), '..')
OPSET = 17
SEEDS = {'unet': 1505, 'vae_decoder': 1506, 'taesd_decoder': 1507}
EXPECTED_PARAMS = {'unet': 859_520_964, 'vae_decoder': 49_490_199, 'taesd_decoder': 1_222_531}

# ---------------------------------------------------------------- SD 1.5 UNet (diffusers' UNet2DConditionModel)


def timestep_embedding(timesteps, dim=320, max_period=10000):
    """diffusers' get_timestep_embedding with flip_sin_to_cos=True, downscale_freq_shift=0."""
    half = dim // 2
    exponent = -math.log(max_period) * torch.arange(half, dtype=torch.float32) / half
    emb = timesteps.float()[:, None] * torch.exp(exponent)[None, :]
    return torch.cat([torch.cos(emb), torch.sin(emb)], dim=-1)


class TimestepEmbedding(nn.Module):
    def __init__(self, channels, dim):
        super().__init__()
        self.linear_1 = nn.Linear(channels, dim)
        self.linear_2 = nn.Linear(dim, dim)

    def forward(self, x):
        return self.linear_2(F.silu(self.linear_1(x)))


class ResnetBlock2D(nn.Module):
    def __init__(self, in_channels, out_channels, temb_channels=1280, eps=1e-5, groups=32):
        super().__init__()
        self.norm1 = nn.GroupNorm(groups, in_channels, eps=eps)
        self.conv1 = nn.Conv2d(in_channels, out_channels, 3, padding=1)
        self.time_emb_proj = nn.Linear(temb_channels, out_channels) if temb_channels else None
        self.norm2 = nn.GroupNorm(groups, out_channels, eps=eps)
        self.conv2 = nn.Conv2d(out_channels, out_channels, 3, padding=1)
        self.conv_shortcut = nn.Conv2d(in_channels, out_channels, 1) if in_channels != out_channels else None

    def forward(self, x, temb=None):
        h = self.conv1(F.silu(self.norm1(x)))
        if self.time_emb_proj is not None:
            h = h + self.time_emb_proj(F.silu(temb))[:, :, None, None]
        h = self.conv2(F.silu(self.norm2(h)))
        return (x if self.conv_shortcut is None else self.conv_shortcut(x)) + h


class Attention(nn.Module):
    """diffusers' Attention with the torch<2 processor (AttnProcessor): baddbmm-style scores, softmax, bmm."""

    def __init__(self, dim, heads, context_dim=None, bias=False):
        super().__init__()
        self.heads = heads
        self.scale = (dim // heads) ** -0.5
        self.to_q = nn.Linear(dim, dim, bias=bias)
        self.to_k = nn.Linear(context_dim or dim, dim, bias=bias)
        self.to_v = nn.Linear(context_dim or dim, dim, bias=bias)
        self.to_out = nn.ModuleList([nn.Linear(dim, dim), nn.Dropout(0.0)])

    def forward(self, x, context=None):
        context = x if context is None else context
        b, n, c = x.shape
        h = self.heads
        q = self.to_q(x).reshape(b, -1, h, c // h).transpose(1, 2)
        k = self.to_k(context).reshape(b, -1, h, c // h).transpose(1, 2)
        v = self.to_v(context).reshape(b, -1, h, c // h).transpose(1, 2)
        weights = torch.softmax(torch.matmul(q * self.scale, k.transpose(-1, -2)), dim=-1)
        out = torch.matmul(weights, v).transpose(1, 2).reshape(b, -1, c)
        return self.to_out[1](self.to_out[0](out))


class GEGLU(nn.Module):
    def __init__(self, dim, inner):
        super().__init__()
        self.proj = nn.Linear(dim, inner * 2)

    def forward(self, x):
        hidden, gate = self.proj(x).chunk(2, dim=-1)
        return hidden * F.gelu(gate)


class FeedForward(nn.Module):
    def __init__(self, dim, mult=4):
        super().__init__()
        self.net = nn.ModuleList([GEGLU(dim, dim * mult), nn.Dropout(0.0), nn.Linear(dim * mult, dim)])

    def forward(self, x):
        for layer in self.net:
            x = layer(x)
        return x


class BasicTransformerBlock(nn.Module):
    def __init__(self, dim, heads, context_dim):
        super().__init__()
        self.norm1 = nn.LayerNorm(dim)
        self.attn1 = Attention(dim, heads)
        self.norm2 = nn.LayerNorm(dim)
        self.attn2 = Attention(dim, heads, context_dim)
        self.norm3 = nn.LayerNorm(dim)
        self.ff = FeedForward(dim)

    def forward(self, x, context):
        x = self.attn1(self.norm1(x)) + x
        x = self.attn2(self.norm2(x), context) + x
        return self.ff(self.norm3(x)) + x


class Transformer2DModel(nn.Module):
    """SD 1.5's layout: GroupNorm(eps 1e-6), 1x1 conv projections (use_linear_projection=False), one block."""

    def __init__(self, channels, heads, context_dim):
        super().__init__()
        self.norm = nn.GroupNorm(32, channels, eps=1e-6)
        self.proj_in = nn.Conv2d(channels, channels, 1)
        self.transformer_blocks = nn.ModuleList([BasicTransformerBlock(channels, heads, context_dim)])
        self.proj_out = nn.Conv2d(channels, channels, 1)

    def forward(self, x, context):
        b, c, hh, ww = x.shape
        h = self.proj_in(self.norm(x))
        h = h.permute(0, 2, 3, 1).reshape(b, hh * ww, c)
        for block in self.transformer_blocks:
            h = block(h, context)
        h = h.reshape(b, hh, ww, c).permute(0, 3, 1, 2)
        return self.proj_out(h) + x


class Downsample2D(nn.Module):
    def __init__(self, channels):
        super().__init__()
        self.conv = nn.Conv2d(channels, channels, 3, stride=2, padding=1)

    def forward(self, x):
        return self.conv(x)


class Upsample2D(nn.Module):
    def __init__(self, channels):
        super().__init__()
        self.conv = nn.Conv2d(channels, channels, 3, padding=1)

    def forward(self, x):
        return self.conv(F.interpolate(x, scale_factor=2.0, mode='nearest'))


class DownBlock(nn.Module):
    """CrossAttnDownBlock2D (with attentions) or DownBlock2D (without)."""

    def __init__(self, in_channels, out_channels, cross, downsample, heads=8, context_dim=768, layers=2):
        super().__init__()
        self.resnets = nn.ModuleList(
            [ResnetBlock2D(in_channels if i == 0 else out_channels, out_channels) for i in range(layers)])
        self.attentions = nn.ModuleList(
            [Transformer2DModel(out_channels, heads, context_dim) for _ in range(layers)]) if cross else None
        self.downsamplers = nn.ModuleList([Downsample2D(out_channels)]) if downsample else None

    def forward(self, x, temb, context):
        states = []
        for i, resnet in enumerate(self.resnets):
            x = resnet(x, temb)
            if self.attentions is not None:
                x = self.attentions[i](x, context)
            states.append(x)
        if self.downsamplers is not None:
            x = self.downsamplers[0](x)
            states.append(x)
        return x, states


class UpBlock(nn.Module):
    """CrossAttnUpBlock2D (with attentions) or UpBlock2D (without)."""

    def __init__(self, in_channels, prev_channels, out_channels, cross, upsample, heads=8, context_dim=768, layers=3):
        super().__init__()
        self.resnets = nn.ModuleList([
            ResnetBlock2D((prev_channels if i == 0 else out_channels) + (in_channels if i == layers - 1 else out_channels),
                          out_channels)
            for i in range(layers)])
        self.attentions = nn.ModuleList(
            [Transformer2DModel(out_channels, heads, context_dim) for _ in range(layers)]) if cross else None
        self.upsamplers = nn.ModuleList([Upsample2D(out_channels)]) if upsample else None

    def forward(self, x, skips, temb, context):
        for i, resnet in enumerate(self.resnets):
            x = resnet(torch.cat([x, skips.pop()], dim=1), temb)
            if self.attentions is not None:
                x = self.attentions[i](x, context)
        if self.upsamplers is not None:
            x = self.upsamplers[0](x)
        return x


class MidBlockCrossAttn(nn.Module):
    def __init__(self, channels, heads=8, context_dim=768):
        super().__init__()
        self.resnets = nn.ModuleList([ResnetBlock2D(channels, channels), ResnetBlock2D(channels, channels)])
        self.attentions = nn.ModuleList([Transformer2DModel(channels, heads, context_dim)])

    def forward(self, x, temb, context):
        x = self.resnets[0](x, temb)
        x = self.attentions[0](x, context)
        return self.resnets[1](x, temb)


class UNet2DConditionModel(nn.Module):
    def __init__(self, channels=(320, 640, 1280, 1280), heads=8, context_dim=768):
        super().__init__()
        self.time_embedding = TimestepEmbedding(channels[0], channels[0] * 4)
        self.conv_in = nn.Conv2d(4, channels[0], 3, padding=1)
        last = len(channels) - 1
        self.down_blocks = nn.ModuleList()
        out = channels[0]
        for i, ch in enumerate(channels):
            # CrossAttnDownBlock2D x3, DownBlock2D
            self.down_blocks.append(DownBlock(out, ch, cross=i < last, downsample=i < last, heads=heads,
                                              context_dim=context_dim))
            out = ch
        self.mid_block = MidBlockCrossAttn(channels[-1], heads, context_dim)
        reversed_channels = list(reversed(channels))
        self.up_blocks = nn.ModuleList()
        prev = reversed_channels[0]
        for i, ch in enumerate(reversed_channels):
            # UpBlock2D, CrossAttnUpBlock2D x3
            skip = reversed_channels[min(i + 1, last)]
            self.up_blocks.append(UpBlock(skip, prev, ch, cross=i > 0, upsample=i < last, heads=heads,
                                          context_dim=context_dim))
            prev = ch
        self.conv_norm_out = nn.GroupNorm(32, channels[0], eps=1e-5)
        self.conv_out = nn.Conv2d(channels[0], 4, 3, padding=1)

    def forward(self, sample, timestep, encoder_hidden_states):
        t = timestep.reshape(-1).expand(sample.shape[0])
        temb = self.time_embedding(timestep_embedding(t))
        x = self.conv_in(sample)
        skips = [x]
        for block in self.down_blocks:
            x, states = block(x, temb, encoder_hidden_states)
            skips.extend(states)
        x = self.mid_block(x, temb, encoder_hidden_states)
        for block in self.up_blocks:
            x = block(x, skips, temb, encoder_hidden_states)
        return self.conv_out(F.silu(self.conv_norm_out(x)))


# ---------------------------------------------------------------- SD VAE decoder (diffusers' AutoencoderKL)


class VaeAttention(nn.Module):
    """The decoder's mid-block attention: GroupNorm, one 512-wide head, residual."""

    def __init__(self, channels):
        super().__init__()
        self.group_norm = nn.GroupNorm(32, channels, eps=1e-6)
        self.to_q = nn.Linear(channels, channels)
        self.to_k = nn.Linear(channels, channels)
        self.to_v = nn.Linear(channels, channels)
        self.to_out = nn.ModuleList([nn.Linear(channels, channels), nn.Dropout(0.0)])

    def forward(self, x):
        b, c, hh, ww = x.shape
        h = self.group_norm(x).reshape(b, c, hh * ww).transpose(1, 2)
        q, k, v = self.to_q(h), self.to_k(h), self.to_v(h)
        weights = torch.softmax(torch.matmul(q * c ** -0.5, k.transpose(-1, -2)), dim=-1)
        h = self.to_out[0](torch.matmul(weights, v))
        return h.transpose(1, 2).reshape(b, c, hh, ww) + x


class VaeMidBlock(nn.Module):
    def __init__(self, channels):
        super().__init__()
        self.resnets = nn.ModuleList([ResnetBlock2D(channels, channels, None, eps=1e-6) for _ in range(2)])
        self.attentions = nn.ModuleList([VaeAttention(channels)])

    def forward(self, x):
        return self.resnets[1](self.attentions[0](self.resnets[0](x)))


class UpDecoderBlock2D(nn.Module):
    def __init__(self, in_channels, out_channels, upsample, layers=3):
        super().__init__()
        self.resnets = nn.ModuleList([ResnetBlock2D(in_channels if i == 0 else out_channels, out_channels, None,
                                                    eps=1e-6) for i in range(layers)])
        self.upsamplers = nn.ModuleList([Upsample2D(out_channels)]) if upsample else None

    def forward(self, x):
        for resnet in self.resnets:
            x = resnet(x)
        return x if self.upsamplers is None else self.upsamplers[0](x)


class Decoder(nn.Module):
    def __init__(self, channels=(128, 256, 512, 512), latent=4):
        super().__init__()
        self.conv_in = nn.Conv2d(latent, channels[-1], 3, padding=1)
        self.mid_block = VaeMidBlock(channels[-1])
        reversed_channels = list(reversed(channels))
        self.up_blocks = nn.ModuleList()
        prev = reversed_channels[0]
        for i, ch in enumerate(reversed_channels):
            self.up_blocks.append(UpDecoderBlock2D(prev, ch, upsample=i < len(channels) - 1))
            prev = ch
        self.conv_norm_out = nn.GroupNorm(32, channels[0], eps=1e-6)
        self.conv_out = nn.Conv2d(channels[0], 3, 3, padding=1)

    def forward(self, z):
        x = self.mid_block(self.conv_in(z))
        for block in self.up_blocks:
            x = block(x)
        return self.conv_out(F.silu(self.conv_norm_out(x)))


class VaeDecoder(nn.Module):
    """What Optimum's vae_decoder runs: AutoencoderKL.decode = post_quant_conv, then the decoder."""

    def __init__(self):
        super().__init__()
        self.post_quant_conv = nn.Conv2d(4, 4, 1)
        self.decoder = Decoder()

    def forward(self, latent_sample):
        return self.decoder(self.post_quant_conv(latent_sample))


# ---------------------------------------------------------------- TAESD decoder (madebyollin/taesd)


def conv(n_in, n_out, **kwargs):
    return nn.Conv2d(n_in, n_out, 3, padding=1, **kwargs)


class Clamp(nn.Module):
    def forward(self, x):
        return torch.tanh(x / 3) * 3


class Block(nn.Module):
    def __init__(self, n_in, n_out):
        super().__init__()
        self.conv = nn.Sequential(conv(n_in, n_out), nn.ReLU(), conv(n_out, n_out), nn.ReLU(), conv(n_out, n_out))
        self.skip = nn.Conv2d(n_in, n_out, 1, bias=False) if n_in != n_out else nn.Identity()
        self.fuse = nn.ReLU()

    def forward(self, x):
        return self.fuse(self.conv(x) + self.skip(x))


def TinyDecoder(latent=4):
    return nn.Sequential(
        Clamp(), conv(latent, 64), nn.ReLU(),
        Block(64, 64), Block(64, 64), Block(64, 64), nn.Upsample(scale_factor=2), conv(64, 64, bias=False),
        Block(64, 64), Block(64, 64), Block(64, 64), nn.Upsample(scale_factor=2), conv(64, 64, bias=False),
        Block(64, 64), Block(64, 64), Block(64, 64), nn.Upsample(scale_factor=2), conv(64, 64, bias=False),
        Block(64, 64), conv(64, 3),
    )


# ---------------------------------------------------------------- building, fingerprints, inputs


def build(name):
    """The network with its seeded random weights; the same in every process that calls this."""
    torch.manual_seed(SEEDS[name])
    module = {'unet': UNet2DConditionModel, 'vae_decoder': VaeDecoder, 'taesd_decoder': TinyDecoder}[name]()
    return module.eval()


def parameter_count(module):
    return sum(p.numel() for p in module.parameters())


@torch.no_grad()
def fingerprint(module):
    """Sum and sum of squares of all weights (float64): two processes that print the same built the same net."""
    total = torch.zeros((), dtype=torch.float64)
    squares = torch.zeros((), dtype=torch.float64)
    for p in module.parameters():
        d = p.detach().double()
        total += d.sum()
        squares += (d * d).sum()
    return [float(total), float(squares)]


def bench_inputs(name, batch=None, latent=64, seed=0):
    """The benchmark's inputs at 512 px: the UNet at batch 2 (one prompt + unconditional), decoders at batch 1."""
    g = torch.Generator().manual_seed(seed)
    if name == 'unet':
        b = batch or 2
        return {
            'sample': torch.randn(b, 4, latent, latent, generator=g),
            'timestep': torch.full((b,), 981.0),
            'encoder_hidden_states': torch.randn(b, 77, 768, generator=g),
        }
    return {'latent_sample': torch.randn(batch or 1, 4, latent, latent, generator=g)}


SIGNATURES = {
    # Optimum's names and dynamic axes.
    'unet': (['sample', 'timestep', 'encoder_hidden_states'], ['out_sample'],
             {'sample': {0: 'batch_size', 2: 'height', 3: 'width'}, 'timestep': {0: 'steps'},
              'encoder_hidden_states': {0: 'batch_size', 1: 'sequence_length'},
              'out_sample': {0: 'batch_size', 2: 'height', 3: 'width'}}),
    'vae_decoder': (['latent_sample'], ['sample'],
                    {'latent_sample': {0: 'batch_size', 2: 'height_latent', 3: 'width_latent'},
                     'sample': {0: 'batch_size', 2: 'height', 3: 'width'}}),
    'taesd_decoder': (['latent_sample'], ['sample'],
                      {'latent_sample': {0: 'batch_size', 2: 'height_latent', 3: 'width_latent'},
                       'sample': {0: 'batch_size', 2: 'height', 3: 'width'}}),
}


# ---------------------------------------------------------------- export


def export(name, module, folder):
    inputs, outputs, axes = SIGNATURES[name]
    path = os.path.join(folder, 'model.onnx')
    os.makedirs(folder, exist_ok=True)
    for stale in os.listdir(folder):
        os.remove(os.path.join(folder, stale))
    # Traced at a small size; the check below runs the exported graph at the benchmark's size.
    args = tuple(bench_inputs(name, batch=1, latent=16).values())
    big = name == 'unet'
    with torch.no_grad(), tempfile.TemporaryDirectory(dir=folder) as tmp:
        # Over 2 GB torch writes one file per weight; they are gathered into one model.onnx_data below.
        target = os.path.join(tmp, 'model.onnx') if big else path
        torch.onnx.export(module, args, target, input_names=inputs, output_names=outputs, dynamic_axes=axes,
                          opset_version=OPSET, do_constant_folding=True)
        if big:
            model = onnx.load(target)
            onnx.save_model(model, path, save_as_external_data=True, all_tensors_to_one_file=True,
                            location='model.onnx_data', size_threshold=1024)
            del model
    return path


def write_f32(path, tensor):
    tensor.detach().contiguous().numpy().astype('<f4').tofile(path)
    return {'file': os.path.basename(path), 'dims': list(tensor.shape)}


@torch.no_grad()
def main():
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    parser.add_argument('--out', default=os.path.join(ROOT, '.work', 'real-size'))
    parser.add_argument('--only', help='comma-separated: unet,vae_decoder,taesd_decoder')
    parser.add_argument('--no-check', action='store_true', help='skip running the exports in the engine')
    parser.add_argument('--threads', type=int, default=os.cpu_count())
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    out = os.path.abspath(args.out)
    os.makedirs(os.path.join(out, 'check'), exist_ok=True)
    manifest_path = os.path.join(out, 'manifest.json')
    manifest = {'networks': {}}
    if os.path.exists(manifest_path):
        with open(manifest_path) as f:
            manifest = json.load(f)
    names = args.only.split(',') if args.only else list(SEEDS)
    for name in names:
        started = time.perf_counter()
        module = build(name)
        count = parameter_count(module)
        off = count / EXPECTED_PARAMS[name] - 1
        print(f'{name}: {count:,} parameters ({off * 100:+.3f}% from {EXPECTED_PARAMS[name]:,})', flush=True)
        if abs(off) > 0.01:
            sys.exit(f'{name}: parameter count is more than 1% away from the reference network')
        # The reference output for the check, at the benchmark's size.
        feeds = bench_inputs(name)
        expected = module(*feeds.values())
        print(f'{name}: torch output {list(expected.shape)}, |max| {expected.abs().max():.4g}, '
              f'std {expected.std():.4g}', flush=True)
        if not torch.isfinite(expected).all():
            sys.exit(f'{name}: the random network gives non-finite outputs')
        check = {'inputs': {k: write_f32(os.path.join(out, 'check', f'{name}.{k}.bin'), v) for k, v in feeds.items()},
                 'output': write_f32(os.path.join(out, 'check', f'{name}.{SIGNATURES[name][1][0]}.bin'), expected)}
        check['output']['name'] = SIGNATURES[name][1][0]
        path = export(name, module, os.path.join(out, name))
        size = sum(os.path.getsize(os.path.join(out, name, f)) for f in os.listdir(os.path.join(out, name)))
        manifest['networks'][name] = {
            'path': os.path.relpath(path, out), 'parameters': count, 'bytes': size, 'seed': SEEDS[name],
            'fingerprint': fingerprint(module), 'opset': OPSET, 'check': check,
        }
        manifest['torch'] = torch.__version__
        with open(manifest_path, 'w') as f:
            json.dump(manifest, f, indent=2)
        print(f'{name}: wrote {path} ({size / 1e6:,.0f} MB) in {time.perf_counter() - started:.0f} s', flush=True)
        del module, expected
    if not args.no_check:
        subprocess.run(['npx', 'tsx', 'bench/real-size-engine.ts', out, 'check', ','.join(names)], cwd=ROOT,
                       check=True)


if __name__ == '__main__':
    main()
