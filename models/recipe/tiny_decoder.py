#!/usr/bin/python3
"""Recipe stage: a tiny preview decoder for models/emoji-ld (TAESD-style), distilled from its VAE decoder.

Usage:  /usr/bin/python3 models/recipe/tiny_decoder.py              # bank, train, export, check (a finished train is skipped)
        /usr/bin/python3 models/recipe/tiny_decoder.py export check    # named parts only
        TINY_STEPS=<n> /usr/bin/python3 models/recipe/tiny_decoder.py train --force export check   # train on to step n

Needs the data stage (`models/recipe/run.sh data`: .work/data.npz, meta.json) and the shipped model in OUT
(its VAE encoder, VAE decoder, UNet and encoders are read from the ONNX files, so it runs in any checkout).

The decoder takes the latents as the sampler holds them, i.e. the VAE latent x scaling_factor (what the UNet
sees, and what the pipeline divides by scaling_factor before the full decoder), like TAESD / diffusers'
AutoencoderTiny: its config says `scaling_factor: 1.0` (nothing to divide). It returns RGB in [-1, 1] at full
size (4x), trained to reproduce the full VAE decoder's output (distillation) on a bank of latents:
  - clean: posterior means of every artwork (both art sets, and their mirror images);
  - sampled: clean-sample estimates x0 along DDIM runs of the shipped UNet (text, image and empty prompts,
    random guidance and step counts): what a progress preview shows mid-run;
  - degraded: clean latents blurred, pulled toward the mean and noised (x0 estimates early in a run).
The 64 eval concepts and a separate set of sampled runs are held out for the reported PSNR.

Parts: bank -> .work/tiny_decoder_bank.pt (rebuilt when the shipped VAE or UNet changes), train ->
.work/tiny_decoder.pt (checkpoints every 150 s; step n draws the same batch in any run, so a resumed run
continues exactly), export -> OUT/vae_decoder_tiny/{model.onnx,config.json}, check -> onnxruntime-node agrees
with PyTorch, PSNR written into the config. One PyTorch thread (THREADS).
"""
import hashlib
import json
import os
import subprocess
import sys
import time

os.environ.setdefault("THREADS", "1")
for _v in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS"):
    os.environ.setdefault(_v, os.environ["THREADS"])

import numpy as np  # noqa: E402
import torch  # noqa: E402
import torch.nn as nn  # noqa: E402
import torch.nn.functional as F  # noqa: E402

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import train as T  # noqa: E402

torch.set_num_threads(int(os.environ["THREADS"]))

NAME = "vae_decoder_tiny"
STAGE_ID = 100  # seeds this stage's random streams apart from train.py's stages
CH = tuple(int(c) for c in os.environ.get("TINY_CH", "64,32,16").split(","))  # channels at 1x, 2x, 4x
STEPS = int(os.environ.get("TINY_STEPS", 2500))
BATCH = 64
LR = 2e-3
LATENT_CLAMP = 4.0  # soft clamp tanh(z / c) * c of the input, as TAESD does (x0 estimates can run wild)
N_TRAJ, N_TRAJ_HELD = 320, 32  # sampled runs for training / held out
MIX = {"clean": 0.4, "sampled": 0.4, "degraded": 0.2}  # share of each source in a batch
PARTS = ["bank", "train", "export", "check"]
BANK = os.path.join(T.WORK, "tiny_decoder_bank.pt")
CKPT = "tiny_decoder.pt"


def rng_at(step, part=0):
    return np.random.default_rng([T.SEED, STAGE_ID, part, step])


def gen_at(step, part=0):
    g = torch.Generator()
    g.manual_seed(T.SEED * 1000 + STAGE_ID * 10_000_000 + part * 1_000_000 + step)
    return g


# ------------------------------------------------------------------ network
class Clamp(nn.Module):
    def forward(self, x):
        return torch.tanh(x / LATENT_CLAMP) * LATENT_CLAMP


class Block(nn.Module):
    """TAESD's block: three 3x3 convolutions with ReLU, a residual connection, ReLU."""

    def __init__(self, c):
        super().__init__()
        self.conv = nn.Sequential(nn.Conv2d(c, c, 3, padding=1), nn.ReLU(), nn.Conv2d(c, c, 3, padding=1), nn.ReLU(),
                                  nn.Conv2d(c, c, 3, padding=1))

    def forward(self, x):
        return F.relu(self.conv(x) + x)


class TinyDecoder(nn.Module):
    """Latents [B, 4, h, w] (scaled) -> RGB [B, 3, 4h, 4w]: a block at each of 1x, 2x and 4x, nearest
    upsampling between them. `forward` is unbounded (trained against the target directly); the export clamps
    to [-1, 1] like the full decoder."""

    def __init__(self, ch=CH, zc=T.ZC, ups=2):
        super().__init__()
        layers = [Clamp(), nn.Conv2d(zc, ch[0], 3, padding=1), nn.ReLU()]
        for i in range(ups + 1):
            layers.append(Block(ch[i]))
            if i < ups:
                layers += [nn.Upsample(scale_factor=2.0, mode="nearest"), nn.Conv2d(ch[i], ch[i + 1], 3, padding=1, bias=False)]
        layers.append(nn.Conv2d(ch[ups], 3, 3, padding=1))
        self.body = nn.Sequential(*layers)

    def forward(self, latent_sample):
        return self.body(latent_sample)


class Clamped(nn.Module):
    def __init__(self, m):
        super().__init__()
        self.m = m

    def forward(self, latent_sample):
        return torch.clamp(self.m(latent_sample), -1.0, 1.0)


# ------------------------------------------------------------------ shipped networks (read from ONNX)
def fingerprint():
    h = hashlib.sha256()
    for part in ("vae_encoder", "vae_decoder", "unet"):
        with open(os.path.join(T.OUT, part, "model.onnx"), "rb") as f:
            h.update(f.read())
    return h.hexdigest()[:16]


def shipped_vae():
    enc, dec = T.vae_models()
    T.load_from_onnx(T.VAEEncWrap(enc), os.path.join(T.OUT, "vae_encoder", "model.onnx"))
    T.load_from_onnx(dec, os.path.join(T.OUT, "vae_decoder", "model.onnx"))
    enc.eval(); dec.eval()
    scale = T.jload(os.path.join(T.OUT, "vae_decoder", "config.json"))["scaling_factor"]
    return enc, dec, scale


def shipped_conditioned(vocab_size):
    m = T.Conditioned(vocab_size)
    T.load_from_onnx(T.TextWrap(m.te), os.path.join(T.OUT, "text_encoder", "model.onnx"))
    T.load_from_onnx(m.ie, os.path.join(T.OUT, "image_encoder", "model.onnx"))
    T.load_from_onnx(m.unet, os.path.join(T.OUT, "unet", "model.onnx"))
    m.eval()
    return m


# ------------------------------------------------------------------ part: bank
@torch.no_grad()
def decode_all(dec, z, scale, bs=256):
    """The full decoder's output for scaled latents, float16 [N, 3, 4h, 4w]."""
    return torch.cat([dec(z[i:i + bs] / scale).half() for i in range(0, len(z), bs)])


@torch.no_grad()
def sampled_runs(d, m, concepts, n_runs, seed):
    """DDIM runs of the UNet (leading spacing, offset 1, as the recipe's reference sampler) with per-run
    prompts and guidance; returns the clean-sample estimate x0 after every step [K, 4, 8, 8] and each one's
    progress (step / steps)."""
    ac = T.alphas_cumprod()
    rng = np.random.default_rng([T.SEED, STAGE_ID, 7, seed])
    g = torch.Generator(); g.manual_seed(seed)
    uncond = m.te(torch.tensor([d.tok.frame([])]))[0]
    xs, prog = [], []
    bs = 32
    for b0 in range(0, n_runs, bs):
        n = min(bs, n_runs - b0)
        idx = rng.choice(concepts, n)
        kind = rng.random(n)
        ctx = []
        for i, k in zip(idx, kind):
            if k < 0.5:
                ctx.append(m.te(torch.tensor([d.caption(rng, i, ("en", "zh")[rng.integers(0, 2)])]))[0])
            elif k < 0.9:
                ctx.append(m.ie(d.images([i], [rng.integers(0, 2)]))[0])
            else:
                ctx.append(uncond)
        ctx = torch.cat([uncond.expand(n, -1, -1), torch.cat(ctx)])
        gs = torch.from_numpy(rng.uniform(1.0, 8.0, n)).float()[:, None, None, None]
        steps = int(rng.choice([8, 12, 20, 30]))
        ts = (np.arange(0, steps) * (T.T_TRAIN // steps)).round()[::-1].astype(np.int64) + 1
        x = torch.randn(n, T.ZC, T.LAT, T.LAT, generator=g)
        for j, t in enumerate(ts):
            out = m.unet(x.repeat(2, 1, 1, 1), torch.full((2 * n,), int(t)), ctx)
            e = out[:n] + gs * (out[n:] - out[:n])
            a = ac[t]
            a_prev = ac[ts[j + 1]] if j + 1 < len(ts) else ac[0]
            x0 = (x - (1 - a).sqrt() * e) / a.sqrt()
            x = a_prev.sqrt() * x0 + (1 - a_prev).sqrt() * e
            xs.append(x0.clone())
            prog += [(j + 1) / steps] * n
        T.log(f"tiny_decoder bank: sampled runs {b0 + n}/{n_runs} ({steps} steps)")
    return torch.cat(xs), torch.tensor(prog)


def degrade(z, mean, g):
    """x0 estimates early in a run look like these: blurred, pulled toward the mean latent, a little noisy."""
    b = z.shape[0]
    sigma = 0.4 + torch.rand(b, generator=g) * 1.2
    r = torch.arange(-2, 3, dtype=torch.float32)
    k1 = torch.exp(-(r[None] ** 2) / (2 * sigma[:, None] ** 2))
    k1 = k1 / k1.sum(1, keepdim=True)
    k2 = (k1[:, :, None] * k1[:, None, :])  # [b,5,5]
    zp = F.pad(z, (2, 2, 2, 2), mode="replicate")
    blurred = torch.stack([F.conv2d(zp[i:i + 1], k2[i].expand(T.ZC, 1, 5, 5), groups=T.ZC)[0] for i in range(b)])
    use_blur = (torch.rand(b, 1, 1, 1, generator=g) < 0.7).float()
    z = use_blur * blurred + (1 - use_blur) * z
    s = 0.4 + 0.6 * torch.rand(b, 1, 1, 1, generator=g)
    z = mean + s * (z - mean)
    return z + torch.randn(z.shape, generator=g) * 0.3 * torch.rand(b, 1, 1, 1, generator=g)


def part_bank():
    fp = fingerprint()
    if os.path.exists(BANK) and torch.load(BANK).get("fingerprint") == fp:
        T.log("tiny_decoder bank: up to date")
        return None
    d = T.Data()
    enc, dec, scale = shipped_vae()
    ev = set(d.meta["eval_indices"])
    held = np.array(sorted(ev))
    train_idx = np.array([i for i in range(d.n) if i not in ev])
    with torch.no_grad():
        # clean latents of every artwork and its mirror image: [N, 2 sets, 2 (as drawn, mirrored), 4, 8, 8]
        lat = []
        for s in range(2):
            for flip in (False, True):
                out = []
                for i in range(0, d.n, 256):
                    x = d.images(np.arange(i, min(d.n, i + 256)), np.full(min(d.n, i + 256) - i, s))
                    out.append(enc(x.flip(3) if flip else x)[0] * scale)
                lat.append(torch.cat(out))
        lat = torch.stack(lat, 1).reshape(d.n, 2, 2, T.ZC, T.LAT, T.LAT)
    mean = lat.mean((0, 1, 2, 4, 5)).reshape(1, T.ZC, 1, 1)
    clean_tr = lat[train_idx].reshape(-1, T.ZC, T.LAT, T.LAT)
    clean_ev = lat[held][:, :, 0].reshape(-1, T.ZC, T.LAT, T.LAT)  # eval concepts, both sets, as drawn
    gt_ev = d.images(np.repeat(held, 2), np.tile([0, 1], len(held))).half()
    g = gen_at(0, part=1)
    deg_tr = degrade(clean_tr, mean, g)
    deg_ev = degrade(clean_ev, mean, g)
    m = shipped_conditioned(len(d.vocab))
    samp_tr, prog_tr = sampled_runs(d, m, train_idx, N_TRAJ, seed=T.SEED + 1)
    samp_ev, prog_ev = sampled_runs(d, m, held, N_TRAJ_HELD, seed=T.SEED + 2)
    T.log("tiny_decoder bank: decoding targets with the full decoder")
    bank = {"fingerprint": fp, "scaling_factor": scale, "latent_mean": mean.flatten().tolist()}
    for name, z in (("clean", clean_tr), ("sampled", samp_tr), ("degraded", deg_tr),
                    ("clean_eval", clean_ev), ("sampled_eval", samp_ev), ("degraded_eval", deg_ev)):
        bank[name] = {"z": z.contiguous(), "y": decode_all(dec, z, scale)}
    bank["sampled"]["progress"] = prog_tr
    bank["sampled_eval"]["progress"] = prog_ev
    bank["clean_eval"]["images"] = gt_ev
    torch.save(bank, BANK + ".tmp")
    os.replace(BANK + ".tmp", BANK)
    sizes = {k: len(v["z"]) for k, v in bank.items() if isinstance(v, dict)}
    T.log(f"tiny_decoder bank: {sizes}")
    return {"latents": sizes, "fingerprint": fp}


# ------------------------------------------------------------------ part: train
def batch_at(bank, step):
    rng, g = rng_at(step), gen_at(step)
    counts = rng.multinomial(BATCH, [MIX[k] for k in MIX])
    zs, ys = [], []
    for k, c in zip(MIX, counts):
        idx = torch.from_numpy(rng.integers(0, len(bank[k]["z"]), c))
        zs.append(bank[k]["z"][idx]); ys.append(bank[k]["y"][idx].float())
    return torch.cat(zs), torch.cat(ys)


def part_train():
    bank = torch.load(BANK)
    torch.manual_seed(T.SEED + STAGE_ID)
    model = TinyDecoder()
    opt = torch.optim.AdamW(model.parameters(), lr=LR, weight_decay=0.0)
    ck = T.load_ckpt(CKPT)
    start, losses, train_s = 0, [], 0.0
    if ck:
        if tuple(ck.get("ch", ())) != CH:
            raise SystemExit(f"{CKPT} has channels {ck.get('ch')}, not {CH}: delete it to train another size")
        model.load_state_dict(ck["model"]); opt.load_state_dict(ck["opt"])
        start, losses, train_s = ck["step"], ck["losses"], ck.get("train_s", 0.0)
        T.log(f"tiny_decoder: resume at {start}")
    last = t0 = time.time()
    s0 = start
    for step in range(start, STEPS):
        z, y = batch_at(bank, step)
        for pg in opt.param_groups:
            pg["lr"] = T.lr_at(step, STEPS, LR, warm=100, floor=0.02)
        out = model(z)
        loss = (out - y).abs().mean() + F.mse_loss(out, y)
        opt.zero_grad()
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        losses.append(loss.item())
        if step % 100 == 0:
            rate = (time.time() - t0) / max(1, step + 1 - s0)
            T.log(f"tiny_decoder {step}/{STEPS} loss {np.mean(losses[-100:]):.4f} {rate:.2f} s/step, "
                  f"eta {(STEPS - step) * rate / 60:.1f} min")
        if time.time() - last > T.SAVE_EVERY_S or step == STEPS - 1:
            now = time.time()
            T.save_ckpt(CKPT, {"model": model.state_dict(), "opt": opt.state_dict(), "step": step + 1, "ch": list(CH),
                               "losses": losses, "train_s": train_s + now - t0})
            train_s, t0, s0, last = train_s + now - t0, now, step + 1, now
    ck = T.load_ckpt(CKPT)
    return {"steps": STEPS, "batch": BATCH, "lr": LR, "mix": MIX, "channels": list(CH),
            "loss_avg_last_200": float(np.mean(ck["losses"][-200:])), "train_s": round(ck["train_s"], 1),
            "params": T.nparams(model)}


def load_trained():
    ck = T.load_ckpt(CKPT)
    if ck is None:
        raise SystemExit("no tiny decoder checkpoint: run the train part")
    model = TinyDecoder(tuple(ck["ch"]))
    model.load_state_dict(ck["model"])
    model.eval()
    return model, ck


# ------------------------------------------------------------------ part: export
def part_export():
    model, ck = load_trained()
    path = os.path.join(T.OUT, NAME, "model.onnx")
    axes = {"latent_sample": {0: "batch", 2: "height", 3: "width"}, "sample": {0: "batch", 2: "height", 3: "width"}}
    T.export_onnx(Clamped(model), (torch.zeros(2, T.ZC, T.LAT, T.LAT),), path, ["latent_sample"], ["sample"], axes)
    cfg_path = os.path.join(T.OUT, NAME, "config.json")
    prev = T.jload(cfg_path) if os.path.exists(cfg_path) else {}
    vae = T.jload(os.path.join(T.OUT, "vae_decoder", "config.json"))
    T.jsave(cfg_path, {
        "_class_name": "AutoencoderTiny",
        "purpose": "progress previews: a fast approximation of vae_decoder, not for final images",
        "latent_channels": T.ZC, "out_channels": 3, "upsampling_scaling_factor": vae["down_factor"],
        "block_out_channels": list(ck["ch"]), "sample_size": vae["sample_size"],
        "scaling_factor": 1.0,
        "input": "latent_sample float32 [B,4,h,w]: the latents as the sampler holds them (VAE latent x "
                 f"{vae['scaling_factor']:.5f}, the VAE's scaling_factor), not divided by it",
        "output": "sample float32 [B,3,4h,4w], RGB in [-1,1] (like vae_decoder)",
        "latent_clamp": LATENT_CLAMP, "vae_scaling_factor": vae["scaling_factor"],
        "distilled_from": "vae_decoder/model.onnx", "params": T.nparams(model), "trained_steps": ck["step"],
        "batch": BATCH, "train_s": round(ck.get("train_s", 0.0), 1),
        **({"evaluation": prev["evaluation"]} if "evaluation" in prev else {}),
    })
    return {"file": os.path.relpath(path, T.REPO), "bytes": os.path.getsize(path), "params": T.nparams(model)}


# ------------------------------------------------------------------ part: check (+ PSNR)
def psnr(a, b):
    """Mean over images of 10 log10(4 / MSE): RGB in [-1, 1] (peak-to-peak 2), as the VAE stage reports."""
    return round(float((10 * torch.log10(4.0 / ((a.float() - b.float()) ** 2).mean((1, 2, 3)).clamp(min=1e-10))).mean()), 2)


def part_check():
    model, ck = load_trained()
    net = Clamped(model)
    bank = torch.load(BANK)
    _, dec, scale = shipped_vae()
    res = {}
    with torch.no_grad():
        ce = bank["clean_eval"]
        tiny = net(ce["z"])
        res["clean_heldout"] = {
            "images": len(ce["z"]),
            "tiny_vs_full_decoder_db": psnr(tiny, ce["y"]),
            "tiny_vs_artwork_db": psnr(tiny, ce["images"]),
            "full_decoder_vs_artwork_db": psnr(ce["y"], ce["images"]),
        }
        se = bank["sampled_eval"]
        tiny = net(se["z"])
        p = se["progress"]
        res["sampled_heldout"] = {"runs": N_TRAJ_HELD}
        for name, sel in (("from_quarter_of_steps", p >= 0.25), ("last_step", p >= 1.0),
                          ("before_quarter_of_steps", p < 0.25)):
            res["sampled_heldout"][name] = {"latents": int(sel.sum()), "tiny_vs_full_decoder_db": psnr(tiny[sel], se["y"][sel])}
        de = bank["degraded_eval"]
        res["degraded_heldout"] = {"latents": len(de["z"]), "tiny_vs_full_decoder_db": psnr(net(de["z"]), de["y"])}
        # time per preview (4 latents, one 2x2 grid) in PyTorch, this thread count
        z4 = ce["z"][:4]
        for name, f in (("tiny", lambda: net(z4)), ("full", lambda: dec(z4 / scale))):
            f()
            t = time.perf_counter()
            for _ in range(20):
                f()
            res.setdefault("pytorch_ms_per_grid_of_4", {})[name] = round((time.perf_counter() - t) / 20 * 1000, 2)
    T.log("tiny_decoder PSNR", json.dumps(res))
    # onnxruntime-node runs the export like PyTorch
    cdir = os.path.join(T.WORK, "check_tiny")
    os.makedirs(cdir, exist_ok=True)
    zin = torch.cat([bank["clean_eval"]["z"][:3], bank["sampled_eval"]["z"][:3]]).contiguous()
    with torch.no_grad():
        zout = net(zin).contiguous()
    zin.numpy().astype(np.float32).tofile(os.path.join(cdir, "in.bin"))
    zout.numpy().astype(np.float32).tofile(os.path.join(cdir, "out.bin"))
    cases = [{"name": NAME, "model": os.path.join(T.OUT, NAME, "model.onnx"), "tol": 1e-4,
              "inputs": {"latent_sample": {"file": "in.bin", "dims": list(zin.shape), "dtype": "float32"}},
              "outputs": {"sample": {"file": "out.bin", "dims": list(zout.shape), "dtype": "float32"}}}]
    T.jsave(os.path.join(cdir, "cases.json"), cases)
    r = subprocess.run(["node", os.path.join(T.HERE, "check_onnx.mjs"), os.path.join(cdir, "cases.json")],
                       capture_output=True, text=True, cwd=T.REPO)
    sys.stderr.write(r.stderr[-2000:])
    onnx_check = json.loads(r.stdout.strip().splitlines()[-1])
    if not onnx_check["ok"]:
        raise SystemExit("ONNX check failed")
    res["onnx_max_abs_diff"] = onnx_check["report"][NAME]["max_abs_diff"]["sample"]
    cfg_path = os.path.join(T.OUT, NAME, "config.json")
    cfg = T.jload(cfg_path)
    cfg["evaluation"] = {
        "psnr": "10 log10(4 / MSE) per image, RGB in [-1,1], mean over images",
        "clean_heldout_eval_concepts": res["clean_heldout"],
        "sampled_heldout_x0_estimates": res["sampled_heldout"],
        "degraded_heldout": res["degraded_heldout"],
    }
    T.jsave(cfg_path, cfg)
    return res


# ------------------------------------------------------------------ main
def record(part, **info):
    p = os.path.join(T.WORK, "log.json")
    lg = T.jload(p) if os.path.exists(p) else {"stages": {}}
    lg["stages"].setdefault("tiny_decoder", {})[part] = info
    T.jsave(p, lg)


def main():
    args = [a for a in sys.argv[1:] if not a.startswith("--")] or PARTS
    force = "--force" in sys.argv
    if not os.path.exists(os.path.join(T.WORK, "data.npz")):
        raise SystemExit(f"no {T.WORK}/data.npz: run `models/recipe/run.sh data` first")
    for part in args:
        if part not in PARTS:
            raise SystemExit(f"unknown part {part} (parts: {' '.join(PARTS)})")
        done = os.path.join(T.WORK, f"tiny_decoder_{part}.done")
        if part == "train" and os.path.exists(done) and not force:
            T.log("tiny_decoder train: done, skipping")
            continue
        T.log(f"== tiny_decoder {part}")
        t0 = time.time()
        info = globals()["part_" + part]()
        wall = time.time() - t0
        record(part, wall_s=round(wall, 1), torch_threads=torch.get_num_threads(), result=info)
        with open(done, "w") as f:
            f.write(json.dumps({"wall_s": wall}))
        T.log(f"== tiny_decoder {part} finished in {wall:.0f} s")


if __name__ == "__main__":
    main()
