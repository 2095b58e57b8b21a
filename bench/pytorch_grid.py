#!/usr/bin/python3
"""PyTorch eager reference for `vs_pytorch`: the same model (architecture and sizes read from the model
folder's configs) and the same settings as the engine's default grid: 1 text prompt + unconditional, 4 images,
DDIM with `steps` steps, one batched UNet call per step, VAE decode. Prints {"seconds": median} as JSON.

For models/emoji-ld (and folders from scripts/make-shape-model.py) the networks come from the training
recipe (models/recipe/nets.py); for the test fixture from scripts/make-fixture-models.py. Weights are random-initialised: speed does not depend on their
values, only on the architecture and shapes, which match the ONNX files.
    /usr/bin/python3 bench/pytorch_grid.py <model dir> <steps> <repeats> <threads>
With repeats = 0 it serves: one grid per line read from stdin, answering {"seconds": s} per grid, so the
caller can interleave PyTorch and engine runs (fair under a changing machine load).
"""
import importlib.util
import json
import os
import statistics
import sys
import time

import numpy as np
import torch

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), '..')


def load_module(path, name):
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def jload(path):
    with open(path) as f:
        return json.load(f)


def build(model_dir):
    unet_cfg = jload(os.path.join(model_dir, 'unet', 'config.json'))
    vae_cfg = jload(os.path.join(model_dir, 'vae_decoder', 'config.json'))
    text_cfg = jload(os.path.join(model_dir, 'text_encoder', 'config.json'))
    length = text_cfg['max_position_embeddings']
    hidden = text_cfg['hidden_size']
    recipe = os.path.join(ROOT, 'models', 'recipe', 'nets.py')
    # The recipe's text encoder config names its layers; the fixture's does not.
    if 'num_hidden_layers' in text_cfg and os.path.exists(recipe):
        sys.path.insert(0, os.path.dirname(recipe))
        nets = load_module(recipe, 'nets')
        text = nets.TextEncoder(text_cfg['vocab_size'], hidden, length, text_cfg.get('num_hidden_layers', 3),
                                text_cfg.get('num_attention_heads', 4))
        unet = nets.UNet(tuple(unet_cfg['block_out_channels']), unet_cfg['cross_attention_dim'], 4)
        vae = nets.VAEDecoder(tuple(vae_cfg['block_out_channels']), 4)
        ids_dtype = torch.long
    else:
        fx = load_module(os.path.join(ROOT, 'scripts', 'make-fixture-models.py'), 'fixtures')
        text = fx.TextEncoder(length, hidden)
        unet = fx.UNet(unet_cfg['cross_attention_dim'])
        vae = fx.VaeDecoder(2 ** (len(vae_cfg['block_out_channels']) - 1), squash=True)
        ids_dtype = torch.long
    latent = unet_cfg['sample_size']
    print(json.dumps({'networks': type(unet).__module__, 'unet_params': sum(p.numel() for p in unet.parameters())}),
          file=sys.stderr)
    return text.eval(), unet.eval(), vae.eval(), length, latent, vae_cfg['scaling_factor'], ids_dtype


def alphas_cumprod():
    betas = torch.linspace(0.00085 ** 0.5, 0.012 ** 0.5, 1000, dtype=torch.float64) ** 2
    return torch.cumprod(1 - betas, 0)


@torch.no_grad()
def grid(text, unet, vae, length, latent, scaling, ids_dtype, steps, guidance=5.0, n=4):
    ids = torch.zeros(2, length, dtype=ids_dtype)
    ids[:, 0] = 2
    ids[1, 1:4] = torch.tensor([5, 6, 7])
    states = text(ids)[0]
    ctx = torch.cat([states[:1].expand(n, -1, -1), states[1:].expand(n, -1, -1)])
    ac = alphas_cumprod()
    ratio = 1000 // steps
    ts = (np.arange(0, steps) * ratio)[::-1].astype(np.int64) + 1
    x = torch.randn(n, 4, latent, latent)
    for i, t in enumerate(ts):
        out = unet(x.repeat(2, 1, 1, 1), torch.full((2 * n,), int(t), dtype=torch.long), ctx)
        e = out[:n] + guidance * (out[n:] - out[:n])
        a = ac[t].float()
        a_prev = ac[ts[i + 1]].float() if i + 1 < len(ts) else ac[0].float()
        x0 = (x - (1 - a).sqrt() * e) / a.sqrt()
        x = a_prev.sqrt() * x0 + (1 - a_prev).sqrt() * e
    images = vae(x / scaling)
    return ((images.clamp(-1, 1) + 1) * 127.5).round().to(torch.uint8)


def main():
    model_dir, steps, repeats, threads = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
    torch.set_num_threads(threads)
    torch.manual_seed(0)
    parts = build(model_dir)
    grid(*parts, steps)  # warm-up
    if repeats == 0:
        print(json.dumps({'ready': True, 'torch': torch.__version__}), flush=True)
        for _ in sys.stdin:
            start = time.perf_counter()
            grid(*parts, steps)
            print(json.dumps({'seconds': time.perf_counter() - start}), flush=True)
        return
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        grid(*parts, steps)
        times.append(time.perf_counter() - start)
    print(json.dumps({'seconds': statistics.median(times), 'repeats': repeats, 'torch': torch.__version__}))


if __name__ == '__main__':
    main()
