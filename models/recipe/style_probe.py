#!/usr/bin/python3
"""emoji-ld2's first latent style probe: a small classifier that tells the four art styles apart from VAE
latents, exported as the gradient the engine steers `--style` / `--sref` jobs with (classifier guidance on
the clean estimate; models/recipe/README.md, "Latent style guidance"). The shipped probe is its pixel
variant (style_probe_pixels.py), which reuses this file's written-out backward pass (cnn_gradient); this
one is kept to measure against, so it writes only into a scratch copy of the folder.

Usage:  RECIPE_OUT=/tmp/trial /usr/bin/python3 models/recipe/style_probe.py   # train, export, check
        (about 2 min at 2 threads; copy models/emoji-ld2 to RECIPE_OUT first)

Inputs: the train2.py data stage (.work/ld2/data.npz, meta.json) and its latent bank (.work/ld2/latents.pt,
the scaled VAE posterior means of every drawing; built from OUT's VAE when missing). Output:
OUT/style_encoder/latent_probe.onnx and latent_probe.json (RECIPE_OUT, default models/emoji-ld2).

Trained only on the drawings of the concepts that are not eval concepts (6,080), like the eval's style
classifier; the 64 eval concepts' drawings (255) give the held-out accuracy. Why latents: the engine holds
latents, and the probe's gradient with respect to them is a few convolutions, exported as a plain forward
graph (no autograd in onnxruntime).
"""
import json
import os
import subprocess
import sys
import time

os.environ.setdefault("THREADS", "2")
for _v in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS"):
    os.environ.setdefault(_v, os.environ["THREADS"])

import numpy as np  # noqa: E402
import torch  # noqa: E402
import torch.nn as nn  # noqa: E402
import torch.nn.functional as F  # noqa: E402

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import train2 as T2  # noqa: E402

torch.set_num_threads(int(os.environ["THREADS"]))

SEED = 20261207
STEPS = int(os.environ.get("PROBE_STEPS", 4000))
# the largest noise std of the softening (per latent, uniform from 0): more noise, smoother gradients
NOISE = float(os.environ.get("PROBE_NOISE", 0.3))
BATCH = 128
LR = 2e-3
CHANNELS = (32, 48, 64)
# The guidance strength this probe was measured at (per step, in units of the gradient's RMS over one
# image's latent): chosen on seeds the eval does not use (`--seed-base 5000`) among 0.03 / 0.05 / 0.07 / 0.1
# (README).
SCALE = 0.05


def probe_interface(outputs):
    """The part of latent_probe.json every probe of this recipe shares: the engine's contract
    (src/model/styles.ts reads `file`, `styles`, `scale` and `sref_scale`; src/diffusion/latent-style-guidance.ts
    feeds `inputs` and applies the scale as `scale_definition` says). `outputs` describes the probe's own."""
    return {
        "file": "latent_probe.onnx",
        "purpose": "classifier guidance for --style and --sref: each step the clean estimate moves along this "
                   "probe's gradient towards the asked style (the engine: src/diffusion/latent-style-guidance.ts)",
        "inputs": {"latent": "float32 [B,4,h,w]: a clean estimate as the sampler holds it (scaled VAE latents), "
                             "h and w multiples of 4",
                   "target": "float32 [B,4]: a distribution over `styles` (one-hot for --style); all zeros gives a zero gradient"},
        "outputs": outputs,
        "styles": list(T2.STYLES),
        "scale_definition": "per step, the clean estimate moves by scale (--style) or sref_scale (--sref) x (--sw / 100) "
                            "x g / RMS(g) (RMS over one image's latent), g being grad without its period-2 component "
                            "(the engine's withoutCheckerboard)",
    }


class Probe(nn.Module):
    """Latent [B,4,h,w] -> style logits [B,4]: three 3x3 convolutions (the last two stride 2), SiLU, mean
    over positions, linear. Fully convolutional, so any latent size the engine makes."""

    def __init__(self, zc=4, ch=CHANNELS, n=4):
        super().__init__()
        self.c1 = nn.Conv2d(zc, ch[0], 3, padding=1)
        self.c2 = nn.Conv2d(ch[0], ch[1], 3, padding=1, stride=2)
        self.c3 = nn.Conv2d(ch[1], ch[2], 3, padding=1, stride=2)
        self.fc = nn.Linear(ch[2], n)

    def forward(self, z):
        a = F.silu(self.c1(z))
        a = F.silu(self.c2(a))
        a = F.silu(self.c3(a))
        return self.fc(a.mean((2, 3)))


def dsilu(h):
    s = torch.sigmoid(h)
    return s * (1 + h * (1 - s))


def cnn_gradient(p, x, target, first_stride=1):
    """(d/dx of sum_k target_k log softmax(logits)_k, logits) for a three-convolution SiLU CNN shaped like
    Probe (c1 at `first_stride`, c2 and c3 at stride 2, mean over positions, fc), its backward pass written
    out as forward operations so it exports to ONNX. Input sides must be multiples of 4 x first_stride."""
    h1 = p.c1(x)
    a1 = F.silu(h1)
    h2 = p.c2(a1)
    a2 = F.silu(h2)
    h3 = p.c3(a2)
    a3 = F.silu(h3)
    logits = p.fc(a3.mean((2, 3)))
    dl = target - target.sum(1, keepdim=True) * torch.softmax(logits, 1)
    dpool = dl @ p.fc.weight
    da3 = dpool[:, :, None, None].expand_as(a3) / (a3.shape[2] * a3.shape[3])
    dh3 = da3 * dsilu(h3)
    dh2 = F.conv_transpose2d(dh3, p.c3.weight, stride=2, padding=1, output_padding=1) * dsilu(h2)
    dh1 = F.conv_transpose2d(dh2, p.c2.weight, stride=2, padding=1, output_padding=1) * dsilu(h1)
    return F.conv_transpose2d(dh1, p.c1.weight, stride=first_stride, padding=1, output_padding=first_stride - 1), logits


class ProbeGradient(nn.Module):
    """(latent, target) -> (d/d latent of sum_k target_k log softmax(logits)_k, logits): the probe's backward
    pass written out as forward operations (transposed convolutions), so it exports to ONNX. `target` is a
    distribution over the styles (one-hot for `--style`). Latent sides must be multiples of 4."""

    def __init__(self, probe):
        super().__init__()
        self.p = probe

    def forward(self, latent, target):
        return cnn_gradient(self.p, latent, target)


def soften(z, g):
    """What the engine's clean estimates look like early in the loop: 0-3 passes of a [1,2,1] blur, then
    Gaussian noise of std up to NOISE (each per latent)."""
    k = torch.tensor([1.0, 2.0, 1.0]) / 4
    kx = k.view(1, 1, 1, 3).repeat(z.shape[1], 1, 1, 1)
    ky = k.view(1, 1, 3, 1).repeat(z.shape[1], 1, 1, 1)
    passes = torch.randint(0, 4, (z.shape[0],), generator=g)
    out = z.clone()
    for n in range(1, 4):
        pick = passes >= n
        if pick.any():
            x = out[pick]
            x = F.conv2d(F.pad(x, (1, 1, 0, 0), mode="replicate"), kx, groups=z.shape[1])
            out[pick] = F.conv2d(F.pad(x, (0, 0, 1, 1), mode="replicate"), ky, groups=z.shape[1])
    return out + torch.randn(z.shape, generator=g) * torch.rand(z.shape[0], 1, 1, 1, generator=g) * NOISE


def main():
    if "RECIPE_OUT" not in os.environ:
        raise SystemExit("style_probe.py writes into RECIPE_OUT (a scratch copy of models/emoji-ld2): the "
                         "shipped probe is style_probe_pixels.py's")
    t0 = time.time()
    d = T2.Data()
    lat = T2.latent_bank(d)                      # [N, 4 styles, 4, h, w]
    avail = torch.from_numpy(d.avail).bool()
    ev = set(d.meta["eval_indices"])
    xs, ys, held = [], [], []
    for c in range(lat.shape[0]):
        for s in range(len(T2.STYLES)):
            if avail[c, s]:
                xs.append(lat[c, s])
                ys.append(s)
                held.append(c in ev)
    x, y, held = torch.stack(xs), torch.tensor(ys), torch.tensor(held)
    xt, yt = x[~held], y[~held]
    torch.manual_seed(SEED)
    g = torch.Generator().manual_seed(SEED)
    probe = Probe()
    opt = torch.optim.AdamW(probe.parameters(), lr=LR, weight_decay=1e-4)
    sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, STEPS)
    curve = []
    for step in range(STEPS):
        i = torch.randint(0, len(xt), (BATCH,), generator=g)
        z = xt[i]
        if step % 2:
            z = torch.flip(z, [3])
        loss = F.cross_entropy(probe(soften(z, g)), yt[i], label_smoothing=0.05)
        opt.zero_grad()
        loss.backward()
        opt.step()
        sched.step()
        if (step + 1) % 1000 == 0:
            with torch.no_grad():
                acc = (probe(x[held]).argmax(1) == y[held]).float().mean().item()
            curve.append({"step": step + 1, "heldout_top1": round(acc, 4)})
            T2.log(f"style probe: step {step + 1}, held-out top1 {acc:.3f}")
    probe.eval()
    with torch.no_grad():
        pred = probe(x[held]).argmax(1)
        soft_pred = probe(soften(x[held], torch.Generator().manual_seed(SEED + 1))).argmax(1)
    per = {s: round((pred[y[held] == k] == k).float().mean().item(), 4) for k, s in enumerate(T2.STYLES)}
    grad = ProbeGradient(probe)
    # the written-out backward pass against autograd, on a latent the size of a 64 x 96 image
    z = torch.randn(3, lat.shape[2], 16, 24, requires_grad=True)
    target = torch.eye(len(T2.STYLES))[[0, 1, 3]]
    (torch.log_softmax(probe(z), 1) * target).sum().backward()
    with torch.no_grad():
        mine, _ = grad(z.detach(), target)
    diff = (mine - z.grad).abs().max().item()
    if diff > 1e-5:
        raise SystemExit(f"the probe's exported gradient differs from autograd by {diff}")
    folder = os.path.join(T2.OUT, "style_encoder")
    path = os.path.join(folder, "latent_probe.onnx")
    T2.export_onnx(grad, (torch.randn(2, lat.shape[2], 16, 16), torch.eye(len(T2.STYLES))[:2]), path,
                   ["latent", "target"], ["grad", "logits"],
                   {"latent": {0: "batch", 2: "height", 3: "width"}, "target": {0: "batch"},
                    "grad": {0: "batch", 2: "height", 3: "width"}, "logits": {0: "batch"}})
    # onnxruntime-node against PyTorch
    cdir = os.path.join(T2.WORK, "check_probe")
    os.makedirs(cdir, exist_ok=True)
    zin = x[held][:4].contiguous()
    tin = torch.eye(len(T2.STYLES))[y[held][:4]].contiguous()
    with torch.no_grad():
        gout, lout = grad(zin, tin)
    spec = {}
    for name, arr in (("latent", zin), ("target", tin), ("grad", gout), ("logits", lout)):
        arr.numpy().astype(np.float32).tofile(os.path.join(cdir, name + ".bin"))
        spec[name] = {"file": name + ".bin", "dims": list(arr.shape), "dtype": "float32"}
    cases = [{"name": "latent_probe", "model": path, "tol": 1e-4,
              "inputs": {"latent": spec["latent"], "target": spec["target"]},
              "outputs": {"grad": spec["grad"], "logits": spec["logits"]}}]
    T2.jsave(os.path.join(cdir, "cases.json"), cases)
    r = subprocess.run(["node", os.path.join(T2.HERE, "check_onnx.mjs"), os.path.join(cdir, "cases.json"), "1", "20"],
                       capture_output=True, text=True, cwd=T2.REPO)
    if r.returncode != 0:
        raise SystemExit("ONNX check failed: " + r.stdout[-2000:] + r.stderr[-2000:])
    ort = json.loads(r.stdout.strip().splitlines()[-1])["report"]["latent_probe"]
    info = {
        **probe_interface({"grad": "float32 [B,4,h,w]: d/d latent of sum_k target_k log softmax(logits)_k",
                           "logits": "float32 [B,4]: the probe's style logits"}),
        "scale": SCALE,
        "architecture": f"conv3x3 4->{CHANNELS[0]}, conv3x3 stride 2 ->{CHANNELS[1]}, conv3x3 stride 2 ->{CHANNELS[2]} (SiLU), "
                        "mean over positions, linear ->4",
        "params": T2.nparams(probe),
        "trained_on": f"scaled VAE latents of the {int((~held).sum())} drawings of the concepts that are not eval concepts, "
                      f"flipped left-right half the time, softened like an early clean estimate (0-3 [1,2,1] blurs, noise std up to {NOISE})",
        "steps": STEPS, "batch": BATCH, "optimizer": f"AdamW {LR} cosine, label smoothing 0.05", "seed": SEED,
        "heldout": {"drawings": int(held.sum()), "top1": round((pred == y[held]).float().mean().item(), 4),
                    "top1_softened": round((soft_pred == y[held]).float().mean().item(), 4), "by_style": per, "curve": curve},
        "onnx_max_abs_diff": ort["max_abs_diff"], "onnxruntime_node_1_thread_ms_4_latents": ort.get("median_ms"),
        "autograd_max_abs_diff": diff,
        "wall_s": round(time.time() - t0, 1), "threads": int(os.environ["THREADS"]),
    }
    T2.jsave(os.path.join(folder, "latent_probe.json"), info)
    T2.log("style probe: " + json.dumps({k: info[k] for k in ("heldout", "onnx_max_abs_diff", "wall_s")}))


if __name__ == "__main__":
    main()
