#!/usr/bin/python3
"""emoji-ld2 extras: the 2x upscaler (64 -> 128 px) and the tiny preview decoder for emoji-ld2's VAE.

Usage:  /usr/bin/python3 models/recipe/extras2.py                     # art bank upscaler tiny export
        /usr/bin/python3 models/recipe/extras2.py upscaler export       # named stages (missing inputs are built first)
        UP2_STEPS=<n> /usr/bin/python3 models/recipe/extras2.py upscaler --force export   # train on to step n

Both parts depend only on emoji-ld2's VAE (final) and the art, not on the UNet still in training, so they
are made beside it. Inputs: the train2.py data stage (models/recipe/.work/ld2/data.npz and meta.json, read
only) and the work-in-progress folder OUT (RECIPE_OUT, default models/emoji-ld2: its VAE encoder and
decoder, and for mid-run latents its UNet, text and image encoders and style tokens, read from the ONNX
files). Everything else goes to models/recipe/.work/extras2/ (EXTRAS2_WORK).

Stages (finished ones write <stage>.done and are skipped, --force reruns; training checkpoints every 2
minutes and resumes exactly: step n draws the same batch in any run):
  art       every drawing of the data stage's 1,601 concepts rendered at 64 and at 128 px from its best
            source (render_art2x.mjs): Noto and Twemoji from the vector drawings of @iconify-json/noto and
            @iconify-json/twemoji (pinned below, npm-installed into .work/extras2/npm/; the emoji-datasource
            packages carry 64 px PNGs only), Fluent flat from its SVG, Fluent 3D from its 256 px WebP
  bank      VAE latents of every 64 px drawing and the full decoder's output for them (the upscaler's
            "as the engine feeds it" inputs, the tiny decoder's clean targets), degraded latents, and x0
            estimates along DDIM runs of the work-in-progress UNet (PyTorch, weights from the ONNX files),
            each decoded by the full decoder
  upscaler  2x super-resolution, bilinear + learned residual (pixel shuffle), same interface as emoji-ld's;
            pairs = (64 px drawing, clean or through the VAE, mildly blurred / noised) -> 128 px drawing
  tiny      TAESD-style decoder 4 x h x w -> 3 x 4h x 4w distilled from vae_decoder on the bank
  export    OUT/upscaler/ and OUT/vae_decoder_tiny/ (model.onnx, config.json with the numbers below), checked
            in onnxruntime-node at one thread against PyTorch, with timings
The 64 eval concepts (OUT/eval/concepts.json) are held out of both trainings and give the reported PSNR.
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
from PIL import Image  # noqa: E402

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import tiny_decoder as TD  # noqa: E402  (the first edition's tiny decoder: network, degradation)
import train2 as T2  # noqa: E402

torch.set_num_threads(int(os.environ["THREADS"]))

HERE = T2.HERE
REPO = T2.REPO
OUT = T2.OUT
EX = os.environ.get("EXTRAS2_WORK", os.path.join(HERE, ".work", "extras2"))
if os.path.realpath(EX) == os.path.realpath(T2.WORK):
    raise SystemExit("EXTRAS2_WORK must not be train2.py's work folder")
os.makedirs(EX, exist_ok=True)

SEED = T2.SEED
STYLES = T2.STYLES
PIX, HI, LAT, ZC = T2.PIX, 2 * T2.PIX, T2.LAT, T2.ZC
STAGES = ["art", "bank", "upscaler", "tiny", "export"]
NEEDS = {"bank": ["art"], "upscaler": ["art", "bank"], "tiny": ["bank"], "export": ["upscaler", "tiny"]}
NPM = {"@iconify-json/noto": "1.2.9", "@iconify-json/twemoji": "1.2.5"}
SAVE_EVERY_S = int(os.environ.get("SAVE_EVERY_S", 120))

# upscaler
UP_CH = int(os.environ.get("UP2_CH", 64))
UP_LAYERS = int(os.environ.get("UP2_LAYERS", 4))
UP_STEPS = int(os.environ.get("UP2_STEPS", 1600))
UP_B, UP_CROP, UP_LR = 32, 32, 1e-3  # batch of 32 x 32 input crops (64 x 64 targets)
UP_P_VAE = 0.6     # share of inputs that went through the VAE (encode + decode), as the engine's images did
UP_P_BLUR, UP_BLUR = 0.5, (0.3, 1.0)     # Gaussian blur, sigma range in 64 px pixels
UP_P_NOISE, UP_NOISE = 0.5, (0.003, 0.02)  # Gaussian noise, std range on [0, 1]
UP_EVAL_EVERY = 400

# tiny decoder
TINY_CH = tuple(int(c) for c in os.environ.get("TINY2_CH", "64,32,16").split(","))
TINY_STEPS = int(os.environ.get("TINY2_STEPS", 1800))
TINY_FULL = int(os.environ.get("TINY2_FULL", 250))  # the last steps on whole 16 x 16 latents, the rest on 8 x 8 crops
# then a short warm restart on whole latents (its own cosine): the crop steps never score the image border
TINY_BORDER = int(os.environ.get("TINY2_BORDER", 150))
TINY_B, TINY_LR, TINY_BORDER_LR, TINY_CROP, TINY_MARGIN = 64, 2e-3, 1e-3, 8, 4
TINY_MIX = {"clean": 0.4, "sampled": 0.4, "degraded": 0.2}
N_RUNS, N_RUNS_HELD, N_DEGRADED = 256, 32, 2048


def log(*a):
    T2.log(*a)


def rng_at(stage, step, part=0):
    return np.random.default_rng([SEED, 200 + STAGES.index(stage), part, step])


def gen_at(stage, step, part=0):
    g = torch.Generator()
    g.manual_seed(SEED * 1000 + (200 + STAGES.index(stage)) * 10_000_000 + part * 1_000_000 + step)
    return g


def save_pt(name, obj):
    p = os.path.join(EX, name)
    torch.save(obj, p + ".tmp")
    os.replace(p + ".tmp", p)


def load_pt(name):
    p = os.path.join(EX, name)
    return torch.load(p) if os.path.exists(p) else None


def sha(paths):
    h = hashlib.sha256()
    for p in paths:
        with open(p, "rb") as f:
            h.update(f.read())
    return h.hexdigest()[:16]


def heldout():
    """The data stage's eval concept indices (the same 64 as OUT/eval/concepts.json)."""
    meta = T2.jload(os.path.join(T2.WORK, "meta.json"))
    ev = [c["hexcode"] for c in T2.jload(os.path.join(OUT, "eval", "concepts.json"))["concepts"]]
    idx = meta["eval_indices"]
    if [meta["concepts"][i]["hexcode"] for i in idx] != ev:
        raise SystemExit("meta.json eval_indices differ from OUT/eval/concepts.json")
    return meta, np.array(idx)


# ------------------------------------------------------------------ stage: art
def ensure_npm():
    d = os.path.join(EX, "npm")
    os.makedirs(d, exist_ok=True)

    def have():
        out = {}
        for p in NPM:
            pj = os.path.join(d, "node_modules", p, "package.json")
            out[p] = T2.jload(pj)["version"] if os.path.exists(pj) else None
        return out

    if have() != NPM:
        T2.jsave(os.path.join(d, "package.json"), {"name": "emoji-ld2-extras-art", "private": True, "dependencies": NPM})
        subprocess.run(["npm", "install", "--no-audit", "--no-fund"], cwd=d, check=True)
        if have() != NPM:
            raise SystemExit(f"npm install gave {have()}, want {NPM}")
    lic = {}
    for p in NPM:
        info = T2.jload(os.path.join(d, "node_modules", p, "info.json"))
        lic[p] = {"version": NPM[p], "license": info["license"]["spdx"], "author": info["author"]["name"],
                  "upstream": info["author"].get("url")}
    return os.path.join(d, "node_modules"), lic


def stage_art():
    nm, lic = ensure_npm()
    meta = T2.jload(os.path.join(T2.WORK, "meta.json"))
    cs = meta["concepts"]
    cpath = os.path.join(EX, "art_concepts.json")
    T2.jsave(cpath, [{"hexcode": c["hexcode"], "flat": c.get("fluent_flat"), "d3": c.get("fluent_3d")} for c in cs], indent=None)
    prefix = os.path.join(EX, "art")
    r = subprocess.run(["node", os.path.join(HERE, "render_art2x.mjs"), cpath, nm, prefix, str(PIX), str(HI)],
                       capture_output=True, text=True)
    sys.stderr.write(r.stderr[-3000:])
    if r.returncode != 0:
        raise SystemExit("render_art2x failed")
    res = json.loads(r.stdout.strip().splitlines()[-1])
    n = len(cs)
    lo = np.fromfile(prefix + f"{PIX}.bin", np.uint8).reshape(n, 4, PIX, PIX, 3)
    hi = np.fromfile(prefix + f"{HI}.bin", np.uint8).reshape(n, 4, HI, HI, 3)
    avail = np.array(res["avail"], bool)
    # how close the 64 px renders are to the data stage's drawings (the same drawings, other sources for
    # Noto and Twemoji: the vector version vs emoji-datasource's 64 px PNG)
    z = np.load(os.path.join(T2.WORK, "data.npz"))
    both = avail & z["avail"]
    match = {}
    for s, name in enumerate(STYLES):
        ids = np.flatnonzero(both[:, s])
        mse = ((lo[ids, s].astype(np.float32) - z["img64"][ids, s]) ** 2).mean((1, 2, 3))
        p = 10 * np.log10(255.0 ** 2 / np.maximum(mse, 1e-3))
        match[name] = {"drawings": int(len(ids)), "median_psnr_db": round(float(np.median(p)), 1),
                       "share_over_30db": round(float((p > 30).mean()), 3)}
    np.savez(os.path.join(EX, "art.npz"), img64=lo, img128=hi, avail=avail)
    for s in (PIX, HI):
        os.remove(prefix + f"{s}.bin")
    T2.jsave(os.path.join(EX, "art.json"), {"names": res["names"], "counts": dict(zip(STYLES, res["counts"])),
                                            "npm": lic, "match_vs_data_stage_64": match}, indent=None)
    log(f"art: {dict(zip(STYLES, res['counts']))}, 64 px vs the data stage: {match}")
    return {"drawings": dict(zip(STYLES, res["counts"])), "npm": lic, "match_vs_data_stage_64": match}


class Art:
    def __init__(self):
        z = np.load(os.path.join(EX, "art.npz"))
        self.img64, self.img128, self.avail = z["img64"], z["img128"], z["avail"]
        self.meta, self.held = heldout()
        self.n = len(self.avail)
        ev = set(self.held.tolist())
        self.pairs = np.argwhere(self.avail)  # [M, 2] (concept, style), concept-major
        self.is_held = np.array([i in ev for i in self.pairs[:, 0]])


# ------------------------------------------------------------------ stage: bank
def wip_vae():
    enc, dec = T2.vae_models()
    T2.load_from_onnx(T2.VAEEncWrap(enc), os.path.join(OUT, "vae_encoder", "model.onnx"))
    T2.load_from_onnx(dec, os.path.join(OUT, "vae_decoder", "model.onnx"))
    enc.eval(); dec.eval()
    return enc, dec, T2.jload(os.path.join(OUT, "vae_decoder", "config.json"))["scaling_factor"]


def vae_fingerprint():
    return sha([os.path.join(OUT, p, "model.onnx") for p in ("vae_encoder", "vae_decoder")])


def wip_conditioned(vocab_size):
    m = T2.Conditioned(vocab_size)
    T2.load_from_onnx(T2.TextWrap(m.te), os.path.join(OUT, "text_encoder", "model.onnx"))
    T2.load_from_onnx(m.ie, os.path.join(OUT, "image_encoder", "model.onnx"))
    T2.load_from_onnx(m.unet, os.path.join(OUT, "unet", "model.onnx"))
    m.eval()
    return m


@torch.no_grad()
def decode_all(dec, z, scale, bs=128):
    """The full decoder's output for scaled latents, float16 [N, 3, 4h, 4w] in [-1, 1]."""
    return torch.cat([dec(z[i:i + bs] / scale).half() for i in range(0, len(z), bs)])


@torch.no_grad()
def sampled_runs(d, m, st, concepts, n_runs, seed, bs=16):
    """DDIM runs of the UNet (leading spacing, offset 1, as train2.py's reference sampler) on 16 x 16
    latents: per run a caption (en / zh), an image prompt (the same emoji in another style) or the empty
    prompt, guidance 1-8; per batch of runs no style tokens / the no-style tokens / a named style per run,
    and 8, 12, 20 or 30 steps. Returns the clean-sample estimate x0 after every step and its progress."""
    ac = T2.alphas_cumprod()
    rng = np.random.default_rng([SEED, 200 + STAGES.index("bank"), 7, seed])
    g = torch.Generator(); g.manual_seed(seed)
    uncond = m.te(torch.tensor([d.tok.frame([])]))[0]
    named = torch.tensor([st["tokens"][s] for s in STYLES])
    null = torch.tensor(st["null"])[None]
    xs, prog = [], []
    for b0 in range(0, n_runs, bs):
        n = min(bs, n_runs - b0)
        idx = rng.choice(concepts, n)
        ctx = []
        for i, k in zip(idx, rng.random(n)):
            if k < 0.5:
                ctx.append(m.te(torch.tensor([d.caption(rng, i, ("en", "zh")[rng.integers(0, 2)])]))[0])
            elif k < 0.85:
                ctx.append(m.ie(d.images([i], [d.pick_style(rng, i)], T2.ENC_PIX))[0])
            else:
                ctx.append(uncond)
        ctx = torch.cat([uncond.expand(n, -1, -1), torch.cat(ctx)])
        mode = rng.choice(["none", "null", "named"], p=[0.15, 0.35, 0.5])
        if mode != "none":
            tok = null.expand(n, -1, -1) if mode == "null" else named[torch.from_numpy(rng.integers(0, 4, n))]
            ctx = torch.cat([ctx, tok.repeat(2, 1, 1)], 1)
        gs = torch.from_numpy(rng.uniform(1.0, 8.0, n)).float()[:, None, None, None]
        steps = int(rng.choice([8, 12, 20, 30]))
        ts = (np.arange(0, steps) * (T2.T_TRAIN // steps)).round()[::-1].astype(np.int64) + 1
        x = torch.randn(n, ZC, LAT, LAT, generator=g)
        for j, t in enumerate(ts):
            out = m.unet(x.repeat(2, 1, 1, 1), torch.full((2 * n,), int(t)), ctx)
            e = out[:n] + gs * (out[n:] - out[:n])
            a = ac[t]
            a_prev = ac[ts[j + 1]] if j + 1 < len(ts) else ac[0]
            x0 = (x - (1 - a).sqrt() * e) / a.sqrt()
            x = a_prev.sqrt() * x0 + (1 - a_prev).sqrt() * e
            xs.append(x0.clone())
            prog += [(j + 1) / steps] * n
        log(f"bank: sampled runs {b0 + n}/{n_runs} ({steps} steps, style {mode})")
    return torch.cat(xs), torch.tensor(prog)


def stage_bank():
    art = Art()
    d = T2.Data()
    enc, dec, scale = wip_vae()
    pairs = art.pairs
    x = torch.from_numpy(art.img64[pairs[:, 0], pairs[:, 1]]).permute(0, 3, 1, 2)
    with torch.no_grad():
        z = torch.cat([enc(x[i:i + 128].float() / 127.5 - 1.0)[0] * scale for i in range(0, len(x), 128)])
    log(f"bank: {len(z)} latents, decoding")
    y = decode_all(dec, z, scale)
    mean = z.mean((0, 2, 3)).reshape(1, ZC, 1, 1)
    g = gen_at("bank", 0, part=1)
    tr = np.flatnonzero(~art.is_held)
    ev = np.flatnonzero(art.is_held)
    pick = np.sort(rng_at("bank", 0, part=1).choice(tr, N_DEGRADED, replace=False))
    deg_tr = TD.degrade(z[pick], mean, g)
    deg_ev = TD.degrade(z[ev], mean, g)
    st = T2.jload(os.path.join(OUT, "style_encoder", "styles.json"))
    m = wip_conditioned(len(d.vocab))
    held = set(art.held.tolist())
    train_c = np.array([i for i in range(d.n) if i not in held])
    samp_tr, prog_tr = sampled_runs(d, m, st, train_c, N_RUNS, seed=SEED + 1)
    samp_ev, prog_ev = sampled_runs(d, m, st, art.held, N_RUNS_HELD, seed=SEED + 2)
    log("bank: decoding degraded and sampled latents")
    unet_step = T2.jload(os.path.join(OUT, "unet", "config.json")).get("trained_steps")
    bank = {"vae_fingerprint": vae_fingerprint(), "scaling_factor": scale, "unet_step": unet_step,
            "pairs": torch.from_numpy(pairs), "held": torch.from_numpy(art.is_held), "latent_mean": mean.flatten().tolist(),
            "clean": {"z": z, "y": y},  # every drawing (training and held-out concepts), rows = pairs
            "degraded": {"z": deg_tr, "y": decode_all(dec, deg_tr, scale), "rows": torch.from_numpy(pick)},
            "degraded_eval": {"z": deg_ev, "y": decode_all(dec, deg_ev, scale), "rows": torch.from_numpy(ev)},
            "sampled": {"z": samp_tr, "y": decode_all(dec, samp_tr, scale), "progress": prog_tr},
            "sampled_eval": {"z": samp_ev, "y": decode_all(dec, samp_ev, scale), "progress": prog_ev}}
    save_pt("bank.pt", bank)
    sizes = {k: len(v["z"]) for k, v in bank.items() if isinstance(v, dict)}
    log(f"bank: {sizes}")
    return {"latents": sizes, "vae_fingerprint": bank["vae_fingerprint"], "unet_step_for_sampled_runs": unet_step}


def load_bank():
    bank = load_pt("bank.pt")
    if bank is None:
        raise SystemExit("no bank: run the bank stage")
    if bank["vae_fingerprint"] != vae_fingerprint():
        raise SystemExit(f"the bank was made with another VAE than {OUT}'s: rerun `extras2.py bank --force`")
    return bank


# ------------------------------------------------------------------ stage: upscaler
class Upscaler2(nn.Module):
    """emoji-ld's upscaler layout (nets.Upscaler: bilinear 2x + a learned residual through pixel shuffle),
    deeper and wider for four styles: image [B,3,H,W] in [0,1] -> upscaled [B,3,2H,2W] in [0,1]."""

    def __init__(self, c=UP_CH, layers=UP_LAYERS):
        super().__init__()
        body = [nn.Conv2d(3, c, 5, padding=2), nn.SiLU()]
        for _ in range(layers - 1):
            body += [nn.Conv2d(c, c, 3, padding=1), nn.SiLU()]
        body.append(nn.Conv2d(c, 12, 3, padding=1))
        self.body = nn.Sequential(*body)
        self.ps = nn.PixelShuffle(2)

    def forward(self, image):
        base = F.interpolate(image, scale_factor=2.0, mode="bilinear", align_corners=False)
        return torch.clamp(base + self.ps(self.body(image)), 0.0, 1.0)


def gauss_blur(x, sigma):
    """Per-image Gaussian blur (5 x 5, replicate padding); sigma [B]."""
    b, c = x.shape[:2]
    r = torch.arange(-2, 3, dtype=torch.float32)
    k1 = torch.exp(-(r[None] ** 2) / (2 * sigma[:, None] ** 2))
    k1 = k1 / k1.sum(1, keepdim=True)
    k2 = k1[:, :, None] * k1[:, None, :]
    xp = F.pad(x.reshape(1, b * c, *x.shape[2:]), (2, 2, 2, 2), mode="replicate")
    return F.conv2d(xp, k2.repeat_interleave(c, 0)[:, None], groups=b * c).reshape(x.shape)


class UpData:
    def __init__(self, art, bank):
        self.art = art
        self.lo = art.img64[art.pairs[:, 0], art.pairs[:, 1]]   # [M,64,64,3] uint8, rows = bank rows
        self.hi = art.img128[art.pairs[:, 0], art.pairs[:, 1]]  # [M,128,128,3]
        self.vae = bank["clean"]["y"]                            # [M,3,64,64] float16 [-1,1]
        self.train = np.flatnonzero(~art.is_held)
        self.held = np.flatnonzero(art.is_held)

    def clean(self, rows):
        return torch.from_numpy(self.lo[rows]).permute(0, 3, 1, 2).float() / 255.0

    def through_vae(self, rows):
        return (self.vae[torch.from_numpy(rows)].float() + 1) / 2

    def target(self, rows):
        return torch.from_numpy(self.hi[rows]).permute(0, 3, 1, 2).float() / 255.0

    def batch(self, step):
        rng, g = rng_at("upscaler", step), gen_at("upscaler", step)
        rows = self.train[rng.integers(0, len(self.train), UP_B)]
        use_vae = torch.from_numpy(rng.random(UP_B) < UP_P_VAE)[:, None, None, None]
        x = torch.where(use_vae, self.through_vae(rows), self.clean(rows))
        blur = torch.from_numpy(rng.random(UP_B) < UP_P_BLUR)[:, None, None, None]
        sig = torch.from_numpy(rng.uniform(*UP_BLUR, UP_B)).float()
        x = torch.where(blur, gauss_blur(x, sig), x)
        noise = torch.from_numpy((rng.random(UP_B) < UP_P_NOISE) * rng.uniform(*UP_NOISE, UP_B)).float()[:, None, None, None]
        x = (x + noise * torch.randn(x.shape, generator=g)).clamp(0, 1)
        y = self.target(rows)
        oy, ox = rng.integers(0, PIX - UP_CROP + 1, (2, UP_B))
        flip = rng.random(UP_B) < 0.5
        xs, ys = [], []
        for k in range(UP_B):
            a = x[k, :, oy[k]:oy[k] + UP_CROP, ox[k]:ox[k] + UP_CROP]
            b = y[k, :, 2 * oy[k]:2 * (oy[k] + UP_CROP), 2 * ox[k]:2 * (ox[k] + UP_CROP)]
            if flip[k]:
                a, b = a.flip(2), b.flip(2)
            xs.append(a); ys.append(b)
        return torch.stack(xs), torch.stack(ys)


def psnr01(a, b):
    """Mean over images of 10 log10(1 / MSE), RGB in [0, 1] (as train.py's upscaler stage)."""
    return float((10 * torch.log10(1.0 / ((a - b) ** 2).mean((1, 2, 3)).clamp(min=1e-10))).mean())


def lanczos2x(x):
    """PIL's Lanczos (3 lobes) 2x of [B,3,H,W] in [0,1], through uint8 like an image file."""
    out = []
    for im in (x * 255).round().clamp(0, 255).byte().permute(0, 2, 3, 1).numpy():
        h, w = im.shape[:2]
        out.append(np.asarray(Image.fromarray(im).resize((2 * w, 2 * h), Image.LANCZOS)))
    return torch.from_numpy(np.stack(out)).permute(0, 3, 1, 2).float() / 255.0


@torch.no_grad()
def up_eval(model, ud, full=False):
    """Held-out PSNR (the 64 eval concepts, every style that draws them) against the 128 px drawing, for
    64 px inputs as drawn and through the VAE; with full=True also per style and bicubic / Lanczos / bilinear."""
    model.eval()
    rows = ud.held
    y = ud.target(rows)
    res = {}
    for kind, x in (("vae", ud.through_vae(rows)), ("clean", ud.clean(rows))):
        pred = torch.cat([model(x[i:i + 64]) for i in range(0, len(x), 64)])
        r = {"model": psnr01(pred, y)}
        if full:
            base = {"bicubic": F.interpolate(x, scale_factor=2.0, mode="bicubic", align_corners=False).clamp(0, 1),
                    "lanczos": lanczos2x(x),
                    "bilinear": F.interpolate(x, scale_factor=2.0, mode="bilinear", align_corners=False)}
            r.update({k: psnr01(v, y) for k, v in base.items()})
            styles = ud.art.pairs[rows, 1]
            r["per_style"] = {}
            for s, name in enumerate(STYLES):
                sel = torch.from_numpy(styles == s)
                r["per_style"][name] = {"images": int(sel.sum()), "model": round(psnr01(pred[sel], y[sel]), 2),
                                        **{k: round(psnr01(v[sel], y[sel]), 2) for k, v in base.items()}}
        res[kind] = {k: (round(v, 2) if isinstance(v, float) else v) for k, v in r.items()}
    model.train()
    return res


def stage_upscaler():
    art, bank = Art(), load_bank()
    ud = UpData(art, bank)
    torch.manual_seed(SEED + 1)
    model = Upscaler2()
    opt = torch.optim.AdamW(model.parameters(), lr=UP_LR, weight_decay=0.0)
    ck = load_pt("upscaler.pt")
    start, train_s, curve = 0, 0.0, []
    if ck:
        if (ck["ch"], ck["layers"]) != (UP_CH, UP_LAYERS):
            raise SystemExit(f"upscaler.pt has {ck['ch']} x {ck['layers']}, not {UP_CH} x {UP_LAYERS}: delete it to train another size")
        model.load_state_dict(ck["model"]); opt.load_state_dict(ck["opt"])
        start, train_s, curve = ck["step"], ck["train_s"], ck["curve"]
        log(f"upscaler: resume at {start}")
    last = t0 = time.time()
    s0, losses = start, []

    def save(done):
        nonlocal train_s, t0, last, s0
        now = time.time()
        train_s += now - t0
        save_pt("upscaler.pt", {"model": model.state_dict(), "opt": opt.state_dict(), "step": done, "train_s": train_s,
                                "curve": curve, "ch": UP_CH, "layers": UP_LAYERS, "total": UP_STEPS})
        t0 = last = time.time()
        s0 = done

    for step in range(start, UP_STEPS):
        x, y = ud.batch(step)
        for pg in opt.param_groups:
            pg["lr"] = T2.lr_at(step, UP_STEPS, UP_LR, warm=100, floor=0.05)
        loss = (model(x) - y).abs().mean()
        opt.zero_grad()
        loss.backward()
        opt.step()
        losses.append(loss.item())
        if step % 100 == 0:
            rate = (time.time() - t0) / max(1, step + 1 - s0)
            log(f"upscaler {step}/{UP_STEPS} l1 {np.mean(losses[-100:]):.4f} {rate:.2f} s/step")
        if (step + 1) % UP_EVAL_EVERY == 0 or step == UP_STEPS - 1:
            te = time.time()
            e = up_eval(model, ud)
            curve.append({"step": step + 1, "heldout_psnr_db": {k: v["model"] for k, v in e.items()},
                          "l1": round(float(np.mean(losses[-UP_EVAL_EVERY:])), 5)})
            log(f"upscaler {step + 1}: held-out PSNR {curve[-1]['heldout_psnr_db']}")
            t0 += time.time() - te  # the eval is not training time
        if time.time() - last > SAVE_EVERY_S or step == UP_STEPS - 1:
            save(step + 1)
    ck = load_pt("upscaler.pt")
    model.load_state_dict(ck["model"])
    res = up_eval(model, ud, full=True)
    ck["eval"] = res
    save_pt("upscaler.pt", ck)
    log("upscaler held-out:", json.dumps(res))
    return {"steps": ck["step"], "batch": UP_B, "crop": UP_CROP, "train_s": round(ck["train_s"], 1),
            "params": T2.nparams(model), "curve": ck["curve"], "heldout": res}


# ------------------------------------------------------------------ stage: tiny
def tiny_pools(bank):
    held = bank["held"].numpy()
    return {"clean": {"z": bank["clean"]["z"][~held], "y": bank["clean"]["y"][~held]},
            "sampled": bank["sampled"], "degraded": bank["degraded"]}


def tiny_batch(pools, step):
    rng = rng_at("tiny", step)
    counts = rng.multinomial(TINY_B, [TINY_MIX[k] for k in TINY_MIX])
    zs, ys = [], []
    for k, c in zip(TINY_MIX, counts):
        idx = torch.from_numpy(rng.integers(0, len(pools[k]["z"]), c))
        zs.append(pools[k]["z"][idx]); ys.append(pools[k]["y"][idx].float())
    z, y = torch.cat(zs), torch.cat(ys)
    if step < TINY_STEPS - TINY_FULL:  # a random 8 x 8 latent crop and its 32 x 32 pixels
        oy, ox = (int(v) for v in rng.integers(0, LAT - TINY_CROP + 1, 2))
        z = z[:, :, oy:oy + TINY_CROP, ox:ox + TINY_CROP]
        y = y[:, :, 4 * oy:4 * (oy + TINY_CROP), 4 * ox:4 * (ox + TINY_CROP)]
        return z, y, TINY_MARGIN
    return z, y, 0


def stage_tiny():
    bank = load_bank()
    pools = tiny_pools(bank)
    torch.manual_seed(SEED + 2)
    model = TD.TinyDecoder(TINY_CH)
    opt = torch.optim.AdamW(model.parameters(), lr=TINY_LR, weight_decay=0.0)
    ck = load_pt("tiny.pt")
    start, train_s, losses = 0, 0.0, []
    if ck:
        if tuple(ck["ch"]) != TINY_CH:
            raise SystemExit(f"tiny.pt has channels {ck['ch']}, not {TINY_CH}: delete it to train another size")
        model.load_state_dict(ck["model"]); opt.load_state_dict(ck["opt"])
        start, train_s, losses = ck["step"], ck["train_s"], ck["losses"]
        log(f"tiny: resume at {start}")
    last = t0 = time.time()
    s0 = start
    total = TINY_STEPS + TINY_BORDER
    for step in range(start, total):
        z, y, mg = tiny_batch(pools, step)
        for pg in opt.param_groups:
            pg["lr"] = (T2.lr_at(step, TINY_STEPS, TINY_LR, warm=100, floor=0.02) if step < TINY_STEPS
                        else T2.lr_at(step - TINY_STEPS, TINY_BORDER, TINY_BORDER_LR, warm=20, floor=0.02))
        out = model(z)
        if mg:  # crop edges see zero padding where the full latent has neighbours: not scored
            out, y = out[:, :, mg:-mg, mg:-mg], y[:, :, mg:-mg, mg:-mg]
        loss = (out - y).abs().mean() + F.mse_loss(out, y)
        opt.zero_grad()
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        losses.append(loss.item())
        if step % 100 == 0:
            rate = (time.time() - t0) / max(1, step + 1 - s0)
            log(f"tiny {step}/{total} loss {np.mean(losses[-100:]):.4f} {rate:.2f} s/step")
        if time.time() - last > SAVE_EVERY_S or step == total - 1:
            now = time.time()
            train_s += now - t0
            save_pt("tiny.pt", {"model": model.state_dict(), "opt": opt.state_dict(), "step": step + 1, "ch": list(TINY_CH),
                                "losses": losses, "train_s": train_s, "total": total, "full_from": TINY_STEPS - TINY_FULL,
                                "border_from": TINY_STEPS})
            t0 = last = time.time()
            s0 = step + 1
    ck = load_pt("tiny.pt")
    model.load_state_dict(ck["model"])
    res = tiny_eval(TD.Clamped(model.eval()), bank)
    ck["eval"] = res
    save_pt("tiny.pt", ck)
    log("tiny held-out:", json.dumps(res))
    return {"steps": ck["step"], "batch": TINY_B, "train_s": round(ck["train_s"], 1), "params": T2.nparams(model),
            "loss_avg_last_100": round(float(np.mean(ck["losses"][-100:])), 5), "heldout": res}


def psnr11(a, b):
    """Mean over images of 10 log10(4 / MSE), RGB in [-1, 1] (as the VAE stage and tiny_decoder.py)."""
    return round(float((10 * torch.log10(4.0 / ((a.float() - b.float()) ** 2).mean((1, 2, 3)).clamp(min=1e-10))).mean()), 2)


@torch.no_grad()
def tiny_eval(net, bank):
    art = Art()
    held = bank["held"].numpy()
    rows = np.flatnonzero(held)
    z, y = bank["clean"]["z"][held], bank["clean"]["y"][held]
    pairs = bank["pairs"].numpy()[rows]
    gt = torch.from_numpy(art.img64[pairs[:, 0], pairs[:, 1]]).permute(0, 3, 1, 2).float() / 127.5 - 1
    tiny = net(z)
    res = {"clean_heldout_eval_concepts": {"images": len(z), "tiny_vs_full_decoder_db": psnr11(tiny, y),
                                           "tiny_vs_artwork_db": psnr11(tiny, gt), "full_decoder_vs_artwork_db": psnr11(y, gt),
                                           "per_style_tiny_vs_full_db": {name: psnr11(tiny[pairs[:, 1] == s], y[pairs[:, 1] == s])
                                                                         for s, name in enumerate(STYLES)}}}
    se = bank["sampled_eval"]
    tiny = net(se["z"])
    p = se["progress"]
    res["sampled_heldout_x0_estimates"] = {"runs": N_RUNS_HELD, "unet_step": bank["unet_step"]}
    for name, sel in (("from_quarter_of_steps", p >= 0.25), ("last_step", p >= 1.0), ("before_quarter_of_steps", p < 0.25)):
        res["sampled_heldout_x0_estimates"][name] = {"latents": int(sel.sum()), "tiny_vs_full_decoder_db": psnr11(tiny[sel], se["y"][sel])}
    de = bank["degraded_eval"]
    res["degraded_heldout"] = {"latents": len(de["z"]), "tiny_vs_full_decoder_db": psnr11(net(de["z"]), de["y"])}
    return res


# ------------------------------------------------------------------ stage: export
def torch_ms(f, n=20):
    f()
    t = time.perf_counter()
    for _ in range(n):
        f()
    return round((time.perf_counter() - t) / n * 1000, 2)


def stage_export():
    bank = load_bank()
    up_ck, tiny_ck = load_pt("upscaler.pt"), load_pt("tiny.pt")
    up = Upscaler2(up_ck["ch"], up_ck["layers"])
    up.load_state_dict(up_ck["model"]); up.eval()
    tiny = TD.TinyDecoder(tuple(tiny_ck["ch"]))
    tiny.load_state_dict(tiny_ck["model"]); tiny.eval()
    tnet = TD.Clamped(tiny)
    _, dec, scale = wip_vae()
    vcfg = T2.jload(os.path.join(OUT, "vae_decoder", "config.json"))
    art = T2.jload(os.path.join(EX, "art.json"))
    runs = T2.jload(os.path.join(EX, "log.json")).get("runs", [])
    wall = {s: round(sum(r["wall_s"] for r in runs if r["stage"] == s), 1) for s in ("art", "bank", "upscaler", "tiny")}
    up_path = os.path.join(OUT, "upscaler", "model.onnx")
    T2.export_onnx(up, (torch.rand(2, 3, PIX, PIX),), up_path, ["image"], ["upscaled"],
                   {"image": {0: "batch", 2: "height", 3: "width"}, "upscaled": {0: "batch", 2: "height2", 3: "width2"}})
    tiny_path = os.path.join(OUT, "vae_decoder_tiny", "model.onnx")
    T2.export_onnx(tnet, (torch.zeros(2, ZC, LAT, LAT),), tiny_path, ["latent_sample"], ["sample"],
                   {"latent_sample": {0: "batch", 2: "height", 3: "width"}, "sample": {0: "batch", 2: "height", 3: "width"}})

    # onnxruntime-node at one thread: the same outputs as PyTorch, and the time per call
    cdir = os.path.join(EX, "check")
    os.makedirs(cdir, exist_ok=True)
    cases = []

    def dump(name, arr):
        arr = arr.detach().float().contiguous()
        arr.numpy().tofile(os.path.join(cdir, name + ".bin"))
        return {"file": name + ".bin", "dims": list(arr.shape), "dtype": "float32"}

    def case(name, model, path, inp, x, out, tol):
        with torch.no_grad():
            y = model(x)
        cases.append({"name": name, "model": path, "tol": tol, "inputs": {inp: dump(name + "_in", x)},
                      "outputs": {out: dump(name + "_out", y)}})

    held = bank["held"].numpy()
    rows = np.flatnonzero(held)
    x1 = (bank["clean"]["y"][rows[:1]].float() + 1) / 2
    z4 = bank["clean"]["z"][rows[:4]].contiguous()
    case("upscaler_64px", up, up_path, "image", x1, "upscaled", 1e-4)
    case("upscaler_2x64x48", up, up_path, "image", x1.expand(2, -1, -1, -1)[:, :, :, :48].contiguous(), "upscaled", 1e-4)
    case("tiny_preview_2x2", tnet, tiny_path, "latent_sample", z4, "sample", 1e-4)
    case("full_decoder_2x2", dec, os.path.join(OUT, "vae_decoder", "model.onnx"), "latent_sample", z4 / scale, "sample", 1e-3)
    T2.jsave(os.path.join(cdir, "cases.json"), cases)
    r = subprocess.run(["node", os.path.join(HERE, "check_onnx.mjs"), os.path.join(cdir, "cases.json"), "1", "20"],
                       capture_output=True, text=True, cwd=REPO)
    sys.stderr.write(r.stderr[-3000:])
    if r.returncode != 0:
        raise SystemExit("ONNX check failed: " + r.stdout[-2000:])
    ort = json.loads(r.stdout.strip().splitlines()[-1])["report"]
    with torch.no_grad():
        pt = {"upscaler_64px": torch_ms(lambda: up(x1)), "tiny_preview_2x2": torch_ms(lambda: tnet(z4)),
              "full_decoder_2x2": torch_ms(lambda: dec(z4 / scale))}
    timing = {"onnxruntime_node_1_thread_ms": {k: v["median_ms"] for k, v in ort.items()},
              "pytorch_1_thread_ms": pt, "cpu": T2.hardware()["cpu"],
              "note": "median of 20 runs after a warm-up, on the build machine with the other core busy"}
    log("export: onnx check", json.dumps({k: v["max_abs_diff"] for k, v in ort.items()}), "timing", json.dumps(timing))

    T2.jsave(os.path.join(OUT, "upscaler", "config.json"), {
        "scale": 2, "input": "image [B,3,H,W] in [0,1]", "output": "upscaled [B,3,2H,2W] in [0,1]",
        "trained_on": "64->128 px emoji artwork, four styles (noto, twemoji, fluent, fluent-3d)",
        "architecture": f"bilinear 2x + residual: conv5x5 3->{up_ck['ch']}, {up_ck['layers'] - 1} x conv3x3 {up_ck['ch']}->{up_ck['ch']} "
                        f"(SiLU), conv3x3 {up_ck['ch']}->12, pixel shuffle 2; output clamped to [0,1]",
        "params": T2.nparams(up), "trained_steps": up_ck["step"], "batch": UP_B, "crop": f"{UP_CROP}x{UP_CROP} inputs",
        "train_s": round(up_ck["train_s"], 1),
        "wall_s": {"stage": wall["upscaler"], "art_and_bank_shared_with_vae_decoder_tiny": round(wall["art"] + wall["bank"], 1),
                   "note": "extras2.py at one PyTorch thread, the other core busy with training"},
        "pairs": {"target": "the drawing rendered at 128 px (vector art at 128; Fluent 3D: its 256 px WebP, Lanczos 3)",
                  "input": f"the same drawing rendered at 64 px; {int(UP_P_VAE * 100)}% through the VAE (encode + decode, like a "
                           f"generated image), then Gaussian blur sigma {UP_BLUR[0]}-{UP_BLUR[1]} px ({int(UP_P_BLUR * 100)}%) "
                           f"and noise std {UP_NOISE[0]}-{UP_NOISE[1]} ({int(UP_P_NOISE * 100)}%)",
                  "sources": {"noto": f"@iconify-json/noto {NPM['@iconify-json/noto']} (SVG)",
                              "twemoji": f"@iconify-json/twemoji {NPM['@iconify-json/twemoji']} (SVG)",
                              "fluent": "fluentui-emoji icons/flat (SVG)", "fluent-3d": "@lobehub/fluent-emoji-3d (256 px WebP)"},
                  "drawings": art["counts"]},
        "evaluation": {"psnr": "10 log10(1 / MSE) per image, RGB in [0,1], mean over images, against the 128 px drawing",
                       "heldout": "the 64 eval concepts (eval/concepts.json) in every style that draws them",
                       "input_through_vae": up_ck["eval"]["vae"], "input_as_drawn": up_ck["eval"]["clean"],
                       "lanczos": "PIL Image.LANCZOS on the 8-bit image", "bicubic": "PyTorch bicubic (a = -0.75), clamped",
                       "curve": up_ck["curve"]},
        "timing": {"onnxruntime_node_1_thread_ms_64px": timing["onnxruntime_node_1_thread_ms"]["upscaler_64px"],
                   "pytorch_1_thread_ms_64px": pt["upscaler_64px"]},
    })
    T2.jsave(os.path.join(OUT, "vae_decoder_tiny", "config.json"), {
        "_class_name": "AutoencoderTiny",
        "purpose": "progress previews: a fast approximation of vae_decoder, not for final images",
        "latent_channels": ZC, "out_channels": 3, "upsampling_scaling_factor": vcfg["down_factor"],
        "block_out_channels": list(tiny_ck["ch"]), "sample_size": vcfg["sample_size"], "scaling_factor": 1.0,
        "input": "latent_sample float32 [B,4,h,w]: the latents as the sampler holds them (VAE latent x "
                 f"{vcfg['scaling_factor']:.5f}, the VAE's scaling_factor), not divided by it",
        "output": "sample float32 [B,3,4h,4w], RGB in [-1,1] (like vae_decoder)",
        "latent_clamp": TD.LATENT_CLAMP, "vae_scaling_factor": vcfg["scaling_factor"],
        "distilled_from": "vae_decoder/model.onnx", "params": T2.nparams(tiny), "trained_steps": tiny_ck["step"],
        "batch": TINY_B, "crop_steps": tiny_ck["full_from"], "crop": f"{TINY_CROP}x{TINY_CROP} latents (loss {TINY_MARGIN} px inside the crop)",
        "schedule": f"AdamW {TINY_LR} cosine over {tiny_ck.get('border_from', tiny_ck['step'])} steps (crops, then whole 16x16 latents "
                    f"from step {tiny_ck['full_from']}); then {tiny_ck['step'] - tiny_ck.get('border_from', tiny_ck['step'])} steps on whole latents, "
                    f"warm restart {TINY_BORDER_LR} cosine (the image border, never scored on crops)",
        "train_s": round(tiny_ck["train_s"], 1),
        "wall_s": {"stage": wall["tiny"], "bank_shared_with_upscaler": wall["bank"],
                   "note": "extras2.py at one PyTorch thread, the other core busy with training"},
        "bank": {"clean": "VAE posterior means of every drawing (64 px, four styles), eval concepts held out",
                 "sampled": f"x0 estimates after every step of {N_RUNS} DDIM runs of the UNet at step {bank['unet_step']} "
                            "(8-30 steps, guidance 1-8, caption / image / empty prompt, no / no-style / named style tokens)",
                 "degraded": "clean latents blurred, pulled toward the mean and noised", "mix": TINY_MIX},
        "evaluation": {"psnr": "10 log10(4 / MSE) per image, RGB in [-1,1], mean over images", **tiny_ck["eval"]},
        "timing": {"preview_2x2_ms": {"tiny_onnxruntime_node_1_thread": timing["onnxruntime_node_1_thread_ms"]["tiny_preview_2x2"],
                                      "full_onnxruntime_node_1_thread": timing["onnxruntime_node_1_thread_ms"]["full_decoder_2x2"],
                                      "tiny_pytorch_1_thread": pt["tiny_preview_2x2"], "full_pytorch_1_thread": pt["full_decoder_2x2"]},
                   "note": timing["note"]},
    })
    sizes = {}
    for root, _, files in os.walk(OUT):
        for f in files:
            p = os.path.join(root, f)
            sizes[os.path.relpath(p, OUT)] = os.path.getsize(p)
    total = sum(sizes.values())
    log(f"export: upscaler {sizes['upscaler/model.onnx']} B, tiny {sizes['vae_decoder_tiny/model.onnx']} B, folder {total / 1e6:.1f} MB")
    return {"onnx_max_abs_diff": {k: v["max_abs_diff"] for k, v in ort.items()}, "timing": timing,
            "bytes": {"upscaler": sizes["upscaler/model.onnx"], "vae_decoder_tiny": sizes["vae_decoder_tiny/model.onnx"], "folder": total}}


# ------------------------------------------------------------------ main
def record(stage, **info):
    p = os.path.join(EX, "log.json")
    lg = T2.jload(p) if os.path.exists(p) else {"stages": {}}
    lg["stages"][stage] = info
    lg.setdefault("runs", []).append({"stage": stage, "wall_s": info["wall_s"], "finished_utc": info["finished_utc"]})
    T2.jsave(p, lg)


def main():
    args = [a for a in sys.argv[1:] if not a.startswith("--")] or STAGES
    force = "--force" in sys.argv
    if not os.path.exists(os.path.join(T2.WORK, "data.npz")):
        raise SystemExit(f"no {T2.WORK}/data.npz: run `models/recipe/run2.sh data` first")
    for s in args:
        if s not in STAGES:
            raise SystemExit(f"unknown stage {s} (stages: {' '.join(STAGES)})")
    todo = []

    def want(s, named):
        for dep in NEEDS.get(s, []):
            if not os.path.exists(os.path.join(EX, f"{dep}.done")):
                want(dep, False)
        if s not in todo and (named or not os.path.exists(os.path.join(EX, f"{s}.done"))):
            todo.append(s)

    for s in args:
        want(s, True)
    for s in todo:
        done = os.path.join(EX, f"{s}.done")
        if os.path.exists(done) and not force and s != "export":
            log(f"{s}: done, skipping")
            continue
        log(f"== {s}")
        t0 = time.time()
        info = globals()["stage_" + s]()
        wall = time.time() - t0
        record(s, wall_s=round(wall, 1), torch_threads=torch.get_num_threads(),
               finished_utc=time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()), result=info)
        with open(done, "w") as f:
            f.write(json.dumps({"wall_s": wall}))
        log(f"== {s} finished in {wall:.0f} s")


if __name__ == "__main__":
    main()
