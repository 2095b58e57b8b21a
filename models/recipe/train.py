#!/usr/bin/python3
"""Training recipe for models/emoji-ld.

Usage:  /usr/bin/python3 models/recipe/train.py all            # every stage, skipping finished ones
        /usr/bin/python3 models/recipe/train.py unet export    # named stages only
        /usr/bin/python3 models/recipe/train.py export --partial   # export from the latest checkpoints
        /usr/bin/python3 models/recipe/train.py unet --force   # rerun a finished stage from its checkpoint

Stages: data vae clip unet classifier upscaler export check samples import ("all" runs all but clip and import)
Continue training the shipped model in a fresh checkout:  train.py data import && UNET_STEPS=<n> train.py unet --force export check samples
Every stage checkpoints into models/recipe/.work/ and resumes from there; finished stages write
.work/<stage>.done and are skipped. Wall times land in .work/log.json and models/emoji-ld/training_log.json.
"""
import json
import math
import os
import random
import subprocess
import sys
import time

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import nets  # noqa: E402
import tok as toklib  # noqa: E402

torch.set_num_threads(int(os.environ.get("THREADS", "2")))

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(HERE))
NM = os.path.join(HERE, "node_modules")
WORK = os.environ.get("RECIPE_WORK", os.path.join(HERE, ".work"))
OUT = os.environ.get("RECIPE_OUT", os.path.join(REPO, "models", "emoji-ld"))
os.makedirs(WORK, exist_ok=True)

SEED = 1234
PIX = 32          # pixel size of the model
LAT = 8           # latent size (4x VAE)
ZC = 4            # latent channels
L = 16            # tokens per conditioning sequence (text and image)
D = 128           # conditioning width
VAE_CH = (32, 64, 128)
UNET_CH = (64, 128)
T_TRAIN = 1000
BETA_START, BETA_END = 0.00085, 0.012
CFG_DROP = 0.10
P_TEXT = 0.50     # of the conditioned samples: text caption vs image of the other art set
UNET_LR = float(os.environ.get("UNET_LR", 5e-4))
CONTRASTIVE_W = 0.1  # weight of the text-image contrastive loss next to the diffusion loss

STEPS = {
    "vae": int(os.environ.get("VAE_STEPS", 700)),
    "clip": int(os.environ.get("CLIP_STEPS", 500)),
    "unet": int(os.environ.get("UNET_STEPS", 9000)),
    "classifier": int(os.environ.get("CLS_STEPS", 400)),
    "upscaler": int(os.environ.get("UP_STEPS", 800)),
}
SAVE_EVERY_S = 150
SETS = ("google", "twitter")
# A stage's position here also seeds its random streams (step_rng, step_gen), so the list only grows.
STAGES = ["data", "vae", "clip", "unet", "classifier", "upscaler", "export", "check", "samples", "import"]
# clip: an optional warm start for the unet stage's encoders; import: continue from the shipped model
ALL = [s for s in STAGES if s not in ("clip", "import")]


# ------------------------------------------------------------------ helpers
def log(*a):
    print(time.strftime("%H:%M:%S"), *a, flush=True)


def jload(p):
    with open(p, encoding="utf-8") as f:
        return json.load(f)


def jsave(p, obj, indent=2):
    os.makedirs(os.path.dirname(p), exist_ok=True)
    tmp = p + ".tmp"
    with open(tmp, "w", encoding="utf-8") as f:
        json.dump(obj, f, ensure_ascii=False, indent=indent)
    os.replace(tmp, p)


def record(stage, **info):
    p = os.path.join(WORK, "log.json")
    lg = jload(p) if os.path.exists(p) else {"stages": {}}
    info.setdefault("torch_threads", torch.get_num_threads())
    lg["stages"].setdefault(stage, {}).update(info)
    lg["hardware"] = hardware()
    jsave(p, lg)
    jsave(os.path.join(OUT, "training_log.json"), lg)


def hardware():
    cpu = "unknown"
    try:
        for line in open("/proc/cpuinfo"):
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return {"cpu": cpu, "torch_threads": torch.get_num_threads(), "torch": torch.__version__,
            "cores_visible": os.cpu_count()}


def step_rng(stage, step):
    return np.random.default_rng([SEED, STAGES.index(stage), step])


def step_gen(stage, step):
    g = torch.Generator()
    g.manual_seed(SEED * 1000 + STAGES.index(stage) * 10_000_000 + step)
    return g


def norm_hex(h):
    return h.upper().replace("-FE0F", "")


def save_ckpt(name, obj):
    p = os.path.join(WORK, name)
    torch.save(obj, p + ".tmp")
    os.replace(p + ".tmp", p)


def load_ckpt(name):
    p = os.path.join(WORK, name)
    return torch.load(p, map_location="cpu") if os.path.exists(p) else None


def lr_at(step, total, base, warm=100, floor=0.1):
    if step < warm:
        return base * (step + 1) / warm
    p = (step - warm) / max(1, total - warm)
    return base * (floor + (1 - floor) * 0.5 * (1 + math.cos(math.pi * p)))


def nparams(m):
    return sum(p.numel() for p in m.parameters())


class Data:
    def __init__(self):
        z = np.load(os.path.join(WORK, "data.npz"))
        self.img32 = z["img32"]   # [N,2,32,32,3] uint8
        self.img64 = z["img64"]   # [N,2,64,64,3] uint8
        self.meta = jload(os.path.join(WORK, "meta.json"))
        self.concepts = self.meta["concepts"]
        self.vocab = jload(os.path.join(OUT, "tokenizer", "tokenizer.json"))["model"]["vocab"]
        self.tok = toklib.Tok(self.vocab, L)
        self.comma = self.vocab[","]
        self.n = len(self.concepts)

    def caption(self, rng, i, lang):
        c = self.concepts[i][lang]
        tags = list(c["tags"])
        rng.shuffle(tags)
        if tags and rng.random() < 0.15:
            parts = tags[: rng.integers(1, 3)]
        else:
            parts = [c["label"]] + tags[: rng.integers(0, 4)]
        ids = []
        for j, p in enumerate(parts):
            if j:
                ids.append(self.comma)
            ids += p
        return self.tok.frame(ids)

    def images(self, idx, sets, size=32):
        a = self.img32 if size == 32 else self.img64
        x = torch.from_numpy(a[idx, sets]).permute(0, 3, 1, 2).float() / 127.5 - 1.0
        return x


def shift_aug(x, g, m=2):
    """Random translation by up to m pixels, padding with white (x in [-1,1])."""
    b, _, h, w = x.shape
    xp = F.pad(x, (m, m, m, m), value=1.0)
    dx = torch.randint(0, 2 * m + 1, (b,), generator=g)
    dy = torch.randint(0, 2 * m + 1, (b,), generator=g)
    out = torch.empty_like(x)
    for i in range(b):
        out[i] = xp[i, :, dy[i]: dy[i] + h, dx[i]: dx[i] + w]
    return out


def betas():
    return torch.linspace(BETA_START ** 0.5, BETA_END ** 0.5, T_TRAIN, dtype=torch.float64) ** 2


def alphas_cumprod():
    return torch.cumprod(1 - betas(), 0).float()


# ------------------------------------------------------------------ stage: data
def stage_data():
    g = jload(os.path.join(NM, "emoji-datasource-google", "emoji.json"))
    en = {norm_hex(e["hexcode"]): e for e in jload(os.path.join(NM, "emojibase-data", "en", "data.json"))}
    zh = {norm_hex(e["hexcode"]): e for e in jload(os.path.join(NM, "emojibase-data", "zh", "data.json"))}
    dirs = {s: os.path.join(NM, f"emoji-datasource-{s}", "img", s, "64") for s in SETS}
    concepts, im64, im32 = [], [], []
    dropped = {"flags": 0, "component": 0, "no_art": 0, "no_caption": 0}
    for e in sorted(g, key=lambda e: e["sort_order"]):
        if e["category"] == "Flags":
            dropped["flags"] += 1
            continue
        if e["category"] == "Component":
            dropped["component"] += 1
            continue
        paths = [os.path.join(dirs[s], e["image"]) for s in SETS]
        if not (e.get("has_img_google") and e.get("has_img_twitter") and all(os.path.exists(p) for p in paths)):
            dropped["no_art"] += 1
            continue
        h = norm_hex(e["unified"])
        if h not in en or h not in zh:
            dropped["no_caption"] += 1
            continue
        pair64, pair32 = [], []
        for p in paths:
            rgba = Image.open(p).convert("RGBA")
            if rgba.size != (64, 64):
                rgba = rgba.resize((64, 64), Image.LANCZOS)
            bg = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
            rgb = Image.alpha_composite(bg, rgba).convert("RGB")
            pair64.append(np.asarray(rgb))
            pair32.append(np.asarray(rgb.resize((32, 32), Image.LANCZOS)))
        im64.append(pair64)
        im32.append(pair32)
        item = {"hexcode": h, "emoji": en[h]["emoji"], "category": e["category"], "subcategory": e["subcategory"],
                "image": e["image"]}
        for lang, src in (("en", en), ("zh", zh)):
            lab = src[h]["label"]
            tags = [t for t in dict.fromkeys(src[h].get("tags", [])) if t != lab]
            item[lang + "_text"] = {"label": lab, "tags": tags}
        concepts.append(item)
    log(f"{len(concepts)} concepts, dropped {dropped}")
    texts = [","]
    for c in concepts:
        for lang in ("en", "zh"):
            texts.append(c[lang + "_text"]["label"])
            texts += c[lang + "_text"]["tags"]
    vocab = toklib.build_vocab(texts)
    tk = toklib.Tok(vocab, L)
    toklib.save(vocab, L, os.path.join(OUT, "tokenizer"))
    cases = [{"text": t, "ids": [tk.cls_id] + tk.ids(t) + [tk.sep_id]} for t in dict.fromkeys(texts)]
    for c in concepts:
        for lang in ("en", "zh"):
            ct = c[lang + "_text"]
            c[lang] = {"label": tk.ids(ct["label"]), "tags": [tk.ids(t) for t in ct["tags"]]}
            joined = ", ".join([ct["label"]] + ct["tags"][:2])
            cases.append({"text": joined, "ids": [tk.cls_id] + tk.ids(joined) + [tk.sep_id]})
    unk_frac = np.mean([tk.unk_id in cs["ids"] for cs in cases])
    cpath = os.path.join(WORK, "tokenizer_cases.json")
    jsave(cpath, cases, indent=None)
    r = subprocess.run(["node", os.path.join(HERE, "check_tokenizer.mjs"), OUT, cpath], capture_output=True, text=True)
    sys.stderr.write(r.stderr[-3000:])
    if r.returncode != 0:
        raise SystemExit("tokenizer check failed: " + r.stdout[-2000:])
    tokcheck = json.loads(r.stdout.strip().splitlines()[-1])
    log("tokenizer check", json.dumps(tokcheck, ensure_ascii=False)[:600])

    # Evaluation concepts, fixed by rule before any model is trained: single-code-point emoji from the
    # object-like groups, a seeded sample of 64 of them (seed 2024), kept in emoji order.
    groups = ("Animals & Nature", "Food & Drink", "Travel & Places", "Activities", "Objects")
    cand = [i for i, c in enumerate(concepts) if c["category"] in groups and "-" not in c["hexcode"]]
    pick = sorted(random.Random(2024).sample(cand, 64))
    ev = [{"index": k, "hexcode": concepts[i]["hexcode"], "emoji": concepts[i]["emoji"],
           "en": concepts[i]["en_text"]["label"], "zh": concepts[i]["zh_text"]["label"],
           "category": concepts[i]["category"], "image": concepts[i]["image"]} for k, i in enumerate(pick)]
    cpath_ev = os.path.join(OUT, "eval", "concepts.json")
    kept = {}
    if os.path.exists(cpath_ev):  # the classifier stage's notes stay valid while the concepts are the same
        prev = jload(cpath_ev)
        if prev.get("concepts") == ev and "classifier" in prev:
            kept["classifier"] = prev["classifier"]
    jsave(cpath_ev, {
        "rule": "single-code-point emoji (no ZWJ/variation sequences) from the groups " + ", ".join(groups)
                + " of the training set; random.Random(2024).sample(candidates, 64), kept in emoji order",
        "candidates": len(cand), "concepts": ev, **kept})
    np.savez_compressed(os.path.join(WORK, "data.npz"), img64=np.array(im64, np.uint8), img32=np.array(im32, np.uint8))
    jsave(os.path.join(WORK, "meta.json"), {"concepts": concepts, "dropped": dropped, "eval_indices": pick}, indent=None)
    by_cat = {}
    for c in concepts:
        by_cat[c["category"]] = by_cat.get(c["category"], 0) + 1
    return {"concepts": len(concepts), "images": 2 * len(concepts), "dropped": dropped, "by_category": by_cat,
            "vocab_size": len(vocab), "caption_fragments_with_unk": float(unk_frac),
            "tokenizer_js_check": {"cases": tokcheck["cases"], "mismatches": tokcheck["mismatches"]}}


# ------------------------------------------------------------------ stage: vae
def vae_models():
    return nets.VAEEncoder(VAE_CH, ZC), nets.VAEDecoder(VAE_CH, ZC)


def stage_vae():
    d = Data()
    forget_latents()
    torch.manual_seed(SEED)
    enc, dec = vae_models()
    params = list(enc.parameters()) + list(dec.parameters())
    opt = torch.optim.AdamW(params, lr=1e-3, weight_decay=0.0)
    ck = load_ckpt("vae.pt")
    start = 0
    if ck:
        enc.load_state_dict(ck["enc"]); dec.load_state_dict(ck["dec"]); opt.load_state_dict(ck["opt"])
        start = ck["step"]
        log(f"vae: resume at {start}")
    total, B = STEPS["vae"], 32
    last = time.time()
    for step in range(start, total):
        rng, g = step_rng("vae", step), step_gen("vae", step)
        idx = rng.integers(0, d.n, B)
        sets = rng.integers(0, 2, B)
        x = d.images(idx, sets)
        flip = torch.from_numpy(rng.random(B) < 0.5)
        x = torch.where(flip[:, None, None, None], x.flip(3), x)
        for pg in opt.param_groups:
            pg["lr"] = lr_at(step, total, 1e-3)
        mean, logvar = enc(x)
        logvar = logvar.clamp(-20, 10)
        z = mean + torch.exp(0.5 * logvar) * torch.randn(mean.shape, generator=g)
        y = dec(z)
        rec = (y - x).abs().mean() + F.mse_loss(y, x)
        kl = 0.5 * (mean.pow(2) + logvar.exp() - 1 - logvar).mean()
        loss = rec + 1e-4 * kl
        opt.zero_grad()
        loss.backward()
        torch.nn.utils.clip_grad_norm_(params, 1.0)
        opt.step()
        if step % 100 == 0:
            log(f"vae {step}/{total} rec {rec.item():.4f} kl {kl.item():.3f}")
        if time.time() - last > SAVE_EVERY_S or step == total - 1:
            save_ckpt("vae.pt", {"enc": enc.state_dict(), "dec": dec.state_dict(), "opt": opt.state_dict(), "step": step + 1})
            last = time.time()
    enc.eval(); dec.eval()
    with torch.no_grad():
        lat, mse = [], []
        for s in range(2):
            for i in range(0, d.n, 256):
                idx = np.arange(i, min(d.n, i + 256))
                x = d.images(idx, np.full(len(idx), s))
                m, _ = enc(x)
                lat.append(m)
                mse.append(((dec(m) - x) ** 2).mean((1, 2, 3)))
        lat = torch.cat(lat)
        mse = torch.cat(mse)
    std = lat.std().item()
    scale = 1.0 / std
    psnr = float((10 * torch.log10(4.0 / mse)).mean())
    ck = load_ckpt("vae.pt")
    ck["scaling_factor"] = scale
    ck["latent_mean"] = lat.mean().item()
    save_ckpt("vae.pt", ck)
    log(f"vae: latent std {std:.4f} -> scaling_factor {scale:.5f}, recon PSNR {psnr:.2f} dB")
    return {"steps": total, "batch": B, "scaling_factor": scale, "latent_std": std, "latent_mean": lat.mean().item(),
            "recon_psnr_db": psnr, "params": {"vae_encoder": nparams(enc), "vae_decoder": nparams(dec)}}


# ------------------------------------------------------------------ stage: clip
def enc_models(vocab_size):
    return nets.TextEncoder(vocab_size, D, L), nets.ImageEncoder(D)


def clip_loss(a, b, scale):
    a = F.normalize(a, dim=-1)
    b = F.normalize(b, dim=-1)
    logits = scale * a @ b.t()
    lab = torch.arange(a.shape[0])
    return 0.5 * (F.cross_entropy(logits, lab) + F.cross_entropy(logits.t(), lab))


def retrieval(d, te, ie):
    """Each concept's label (en / zh) against the Noto and Twemoji images of all concepts: top-1 hit rate."""
    te.eval(); ie.eval()
    res = {}
    with torch.no_grad():
        ims = {}
        for s, name in enumerate(SETS):
            ims[name] = F.normalize(torch.cat([ie(d.images(np.arange(i, min(d.n, i + 256)), np.full(min(d.n, i + 256) - i, s)))[1]
                                               for i in range(0, d.n, 256)]), dim=-1)
        for lang in ("en", "zh"):
            ids = torch.tensor([d.tok.frame(c[lang]["label"]) for c in d.concepts])
            t = F.normalize(torch.cat([te(ids[i:i + 512])[1] for i in range(0, d.n, 512)]), dim=-1)
            for name in SETS:
                res[f"label_{lang}_to_{name}_top1"] = float(((t @ ims[name].t()).argmax(1) == torch.arange(d.n)).float().mean())
        res["noto_to_twemoji_top1"] = float(((ims["google"] @ ims["twitter"].t()).argmax(1) == torch.arange(d.n)).float().mean())
    return res


def stage_clip():
    d = Data()
    torch.manual_seed(SEED)
    te, ie = enc_models(len(d.vocab))
    logit_scale = torch.nn.Parameter(torch.tensor(math.log(1 / 0.07)))
    params = list(te.parameters()) + list(ie.parameters()) + [logit_scale]
    opt = torch.optim.AdamW(params, lr=5e-4, weight_decay=0.01)
    ck = load_ckpt("clip.pt")
    start = 0
    if ck:
        te.load_state_dict(ck["te"]); ie.load_state_dict(ck["ie"]); opt.load_state_dict(ck["opt"])
        logit_scale.data.fill_(ck["logit_scale"])
        start = ck["step"]
        log(f"clip: resume at {start}")
    total, B = STEPS["clip"], 128
    last = time.time()
    for step in range(start, total):
        rng, g = step_rng("clip", step), step_gen("clip", step)
        idx = rng.choice(d.n, B, replace=False)
        sets = rng.integers(0, 2, B)
        langs = rng.integers(0, 2, B)
        ta = torch.tensor([d.caption(rng, i, ("en", "zh")[l]) for i, l in zip(idx, langs)])
        tb = torch.tensor([d.caption(rng, i, ("zh", "en")[l]) for i, l in zip(idx, langs)])
        x = shift_aug(d.images(idx, sets), g)
        for pg in opt.param_groups:
            pg["lr"] = lr_at(step, total, 5e-4)
        _, pa = te(ta)
        _, pb = te(tb)
        _, pi = ie(x)
        s = logit_scale.exp().clamp(max=100)
        loss = clip_loss(pa, pi, s) + clip_loss(pb, pi, s) + 0.5 * clip_loss(pa, pb, s)
        opt.zero_grad()
        loss.backward()
        torch.nn.utils.clip_grad_norm_(params, 1.0)
        opt.step()
        if step % 50 == 0:
            log(f"clip {step}/{total} loss {loss.item():.4f} scale {s.item():.1f}")
        if time.time() - last > SAVE_EVERY_S or step == total - 1:
            save_ckpt("clip.pt", {"te": te.state_dict(), "ie": ie.state_dict(), "opt": opt.state_dict(),
                                  "logit_scale": logit_scale.item(), "step": step + 1})
            last = time.time()
    res = retrieval(d, te, ie)
    log("clip retrieval", res)
    return {"steps": total, "batch": B, "retrieval_over_all_concepts": res,
            "params": {"text_encoder": nparams(te), "image_encoder": nparams(ie)}}


# ------------------------------------------------------------------ stage: unet
def load_vae():
    ck = load_ckpt("vae.pt")
    enc, dec = vae_models()
    enc.load_state_dict(ck["enc"]); dec.load_state_dict(ck["dec"])
    enc.eval(); dec.eval()
    return enc, dec, ck["scaling_factor"]


class Conditioned(torch.nn.Module):
    """The UNet with both encoders, trained together: the diffusion loss reaches the encoders through the
    conditioning, a contrastive loss on their pooled outputs keeps text and images in one space."""

    def __init__(self, vocab_size):
        super().__init__()
        self.unet = nets.UNet(UNET_CH, D, ZC)
        self.te, self.ie = enc_models(vocab_size)


def load_conditioned(vocab_size):
    """The trained UNet and encoders (EMA weights) in eval mode, their step and contrastive logit scale."""
    ck = load_ckpt("unet.pt")
    if ck is None:
        raise SystemExit("no UNet checkpoint")
    m = Conditioned(vocab_size)
    m.load_state_dict(ck["ema"])
    m.eval()
    return m, ck["step"], ck["logit_scale"]


LATENTS = os.path.join(WORK, "latents.pt")


def forget_latents():
    """The latent bank belongs to one VAE: called whenever vae.pt is replaced."""
    if os.path.exists(LATENTS):
        os.remove(LATENTS)


def latent_bank(d):
    """VAE latents (posterior means, scaled) of every artwork: [N, 2 art sets, 4, 8, 8]."""
    if os.path.exists(LATENTS):
        return torch.load(LATENTS)
    enc, _, scale = load_vae()
    with torch.no_grad():
        lat = []
        for s in range(2):
            lat.append(torch.cat([enc(d.images(np.arange(i, min(d.n, i + 256)), np.full(min(d.n, i + 256) - i, s)))[0]
                                  for i in range(0, d.n, 256)]) * scale)
    lat = torch.stack(lat, 1)
    torch.save(lat, LATENTS)
    return lat


class EMA:
    def __init__(self, model, decay=0.999):
        self.decay = decay
        self.shadow = {k: v.detach().clone() for k, v in model.state_dict().items()}

    def update(self, model, step):
        dcy = min(self.decay, (1 + step) / (10 + step))
        with torch.no_grad():
            for k, v in model.state_dict().items():
                if v.dtype.is_floating_point:
                    self.shadow[k].mul_(dcy).add_(v.detach(), alpha=1 - dcy)
                else:
                    self.shadow[k].copy_(v)


def stage_unet():
    """Epsilon-prediction UNet on VAE latents, conditioned per sample on one of: a caption (en or zh) through
    the text encoder, the *other* art set's rendering of the same emoji through the image encoder, or the
    empty caption (classifier-free guidance). Min-SNR-5 loss weighting; EMA 0.999 of every weight."""
    d = Data()
    lat = latent_bank(d)
    torch.manual_seed(SEED)
    model = Conditioned(len(d.vocab))
    clip_ck = load_ckpt("clip.pt")
    if clip_ck:  # contrastive warm start of the encoders
        model.te.load_state_dict(clip_ck["te"]); model.ie.load_state_dict(clip_ck["ie"])
    logit_scale = torch.nn.Parameter(torch.tensor(clip_ck["logit_scale"] if clip_ck else math.log(1 / 0.07)))
    params = list(model.parameters()) + [logit_scale]
    opt = torch.optim.AdamW(params, lr=UNET_LR, weight_decay=0.01)
    ema = EMA(model)
    ck = load_ckpt("unet.pt")
    start = 0
    if ck:
        model.load_state_dict(ck["model"]); ema.shadow = ck["ema"]
        if "opt" in ck:  # absent in checkpoints made by the import stage
            opt.load_state_dict(ck["opt"])
        logit_scale.data.fill_(ck["logit_scale"])
        start = ck["step"]
        log(f"unet: resume at {start}")
    ac = alphas_cumprod()
    snr = ac / (1 - ac)
    loss_w = snr.clamp(max=5.0) / snr
    empty = torch.tensor([d.tok.frame([])])
    total, B = STEPS["unet"], 64
    last = time.time()
    run_t0, run_s0, losses = time.time(), start, []
    for step in range(start, total):
        rng, g = step_rng("unet", step), step_gen("unet", step)
        idx = rng.choice(d.n, B, replace=False)  # distinct emoji: the contrastive loss treats the rest as negatives
        sets = rng.integers(0, 2, B)
        langs = rng.integers(0, 2, B)
        u = rng.random(B)
        x0 = lat[idx, sets]
        ta = torch.tensor([d.caption(rng, i, ("en", "zh")[l]) for i, l in zip(idx, langs)])
        tb = torch.tensor([d.caption(rng, i, ("zh", "en")[l]) for i, l in zip(idx, langs)])
        img = shift_aug(d.images(idx, 1 - sets), g)
        ha, pa = model.te(torch.cat([ta, empty]))
        hb, pb = model.te(tb)
        hi, pi = model.ie(img)
        drop = torch.from_numpy(u < CFG_DROP)[:, None, None]
        use_text = torch.from_numpy(u < CFG_DROP + (1 - CFG_DROP) * P_TEXT)[:, None, None]
        ctx = torch.where(drop, ha[-1:].expand(B, -1, -1), torch.where(use_text, ha[:B], hi))
        t = torch.randint(0, T_TRAIN, (B,), generator=g)
        eps = torch.randn(x0.shape, generator=g)
        a = ac[t][:, None, None, None]
        xt = a.sqrt() * x0 + (1 - a).sqrt() * eps
        for pg in opt.param_groups:
            pg["lr"] = lr_at(step, total, UNET_LR, warm=200)
        mse = ((model.unet(xt, t, ctx) - eps) ** 2).mean((1, 2, 3))
        diff = (loss_w[t] * mse).mean()
        s = logit_scale.exp().clamp(max=100)
        con = clip_loss(pa[:B], pi, s) + clip_loss(pb, pi, s) + 0.5 * clip_loss(pa[:B], pb, s)
        loss = diff + CONTRASTIVE_W * con
        opt.zero_grad()
        loss.backward()
        torch.nn.utils.clip_grad_norm_(params, 1.0)
        opt.step()
        ema.update(model, step)
        losses.append((mse.mean().item(), con.item()))
        if step % 50 == 0:
            rate = (time.time() - run_t0) / max(1, step + 1 - run_s0)
            m = np.mean(losses[-50:], 0)
            log(f"unet {step}/{total} mse {m[0]:.4f} contrastive {m[1]:.3f} {rate:.2f} s/step, eta {(total - step) * rate / 60:.1f} min")
        if time.time() - last > SAVE_EVERY_S or step == total - 1:
            save_ckpt("unet.pt", {"model": model.state_dict(), "opt": opt.state_dict(), "ema": ema.shadow,
                                  "logit_scale": logit_scale.item(), "step": step + 1})
            last = time.time()
    tail = [float(v) for v in np.mean(losses[-200:], 0)] if losses else [None, None]
    em, _, _ = load_conditioned(len(d.vocab))
    return {"steps": total, "batch": B, "lr": UNET_LR, "final_mse_avg_last_200": tail[0],
            "final_contrastive_avg_last_200": tail[1],
            "retrieval_over_all_concepts": retrieval(d, em.te, em.ie),
            "params": {"unet": nparams(em.unet), "text_encoder": nparams(em.te), "image_encoder": nparams(em.ie)},
            "cfg_drop": CFG_DROP, "p_text": P_TEXT, "contrastive_weight": CONTRASTIVE_W, "min_snr_gamma": 5.0,
            "warm_start": "clip.pt" if clip_ck else None}


# ------------------------------------------------------------------ stage: classifier
def cls_aug(x, g):
    """x in [0,1]; shifts, scale, brightness/contrast, blur and noise."""
    b = x.shape[0]
    s = 1 + (torch.rand(b, generator=g) - 0.5) * 0.3
    tx = (torch.rand(b, generator=g) - 0.5) * 0.25
    ty = (torch.rand(b, generator=g) - 0.5) * 0.25
    theta = torch.zeros(b, 2, 3)
    theta[:, 0, 0] = s
    theta[:, 1, 1] = s
    theta[:, 0, 2] = tx
    theta[:, 1, 2] = ty
    grid = F.affine_grid(theta, x.shape, align_corners=False)
    x = 1 - F.grid_sample(1 - x, grid, align_corners=False, padding_mode="zeros")
    c = 1 + (torch.rand(b, 1, 1, 1, generator=g) - 0.5) * 0.4
    br = (torch.rand(b, 1, 1, 1, generator=g) - 0.5) * 0.2
    x = (x - 0.5) * c + 0.5 + br
    blur = (torch.rand(b, 1, 1, 1, generator=g) < 0.4).float()
    xb = F.avg_pool2d(F.pad(x, (1, 1, 1, 1), mode="replicate"), 3, stride=1)
    x = blur * xb + (1 - blur) * x
    x = x + torch.randn(x.shape, generator=g) * torch.rand(b, 1, 1, 1, generator=g) * 0.06
    return x.clamp(0, 1)


def train_classifier(d, ev_idx, train_sets, test_sets, steps, tag):
    torch.manual_seed(SEED)
    n = len(ev_idx)
    model = nets.Classifier(n)
    opt = torch.optim.AdamW(model.parameters(), lr=2e-3, weight_decay=5e-4)
    imgs = torch.from_numpy(d.img32[ev_idx]).permute(0, 1, 4, 2, 3).float() / 255.0  # [n,2,3,32,32]
    B = 128
    for step in range(steps):
        rng, g = step_rng("classifier", step), step_gen("classifier", step)
        cls = rng.integers(0, n, B)
        st = np.array(train_sets)[rng.integers(0, len(train_sets), B)]
        x = cls_aug(imgs[cls, st], g)
        for pg in opt.param_groups:
            pg["lr"] = lr_at(step, steps, 2e-3, warm=50, floor=0.02)
        loss = F.cross_entropy(model(x), torch.from_numpy(cls), label_smoothing=0.1)
        opt.zero_grad()
        loss.backward()
        opt.step()
        if step % 100 == 0:
            log(f"classifier[{tag}] {step}/{steps} loss {loss.item():.3f}")
    model.eval()
    acc = {}
    with torch.no_grad():
        for s in test_sets:
            pred = model(imgs[:, s]).argmax(1)
            acc[SETS[s]] = float((pred == torch.arange(n)).float().mean())
            g = torch.Generator(); g.manual_seed(7)
            xa = torch.cat([cls_aug(imgs[:, s], g) for _ in range(4)])
            pa = model(xa).argmax(1)
            acc[SETS[s] + "_augmented"] = float((pa == torch.arange(n).repeat(4)).float().mean())
    return model, acc


def stage_classifier():
    d = Data()
    ev = d.meta["eval_indices"]
    steps = STEPS["classifier"]
    _, a1 = train_classifier(d, ev, [0], [1], steps, "noto->twemoji")
    _, a2 = train_classifier(d, ev, [1], [0], steps, "twemoji->noto")
    model, a3 = train_classifier(d, ev, [0, 1], [0, 1], steps, "both")
    ceiling = 0.5 * (a1["twitter"] + a2["google"])
    log(f"classifier held-out (other art set) accuracy: {a1} {a2} -> ceiling {ceiling:.3f}; shipped model on its own training art {a3}")
    os.makedirs(os.path.join(OUT, "eval"), exist_ok=True)
    torch.save(model.state_dict(), os.path.join(WORK, "classifier.pt"))
    export_onnx(model, (torch.rand(2, 3, PIX, PIX),), os.path.join(OUT, "eval", "classifier.onnx"), ["image"], ["logits"],
                {"image": {0: "batch"}, "logits": {0: "batch"}})
    res = {"steps": steps, "train_noto_test_twemoji": a1, "train_twemoji_test_noto": a2, "shipped_both_sets": a3,
           "ceiling_heldout_art_set_top1": ceiling, "params": {"classifier": nparams(model)}}
    cj = jload(os.path.join(OUT, "eval", "concepts.json"))
    cj["classifier"] = {"input": "image float32 [B,3,32,32] RGB in [0,1] (composited on white)",
                        "output": "logits float32 [B,64] in the order of concepts",
                        "heldout_top1": {"train_noto_test_twemoji": a1["twitter"], "train_twemoji_test_noto": a2["google"],
                                         "mean": ceiling}}
    jsave(os.path.join(OUT, "eval", "concepts.json"), cj)
    return res


# ------------------------------------------------------------------ stage: upscaler
def stage_upscaler():
    d = Data()
    ev = set(d.meta["eval_indices"])
    train_idx = np.array([i for i in range(d.n) if i not in ev])
    test_idx = np.array(sorted(ev))
    torch.manual_seed(SEED)
    model = nets.Upscaler()
    opt = torch.optim.AdamW(model.parameters(), lr=1e-3)
    ck = load_ckpt("upscaler.pt")
    start = 0
    if ck:
        model.load_state_dict(ck["m"]); opt.load_state_dict(ck["opt"]); start = ck["step"]
    total, B = STEPS["upscaler"], 32
    last = time.time()
    for step in range(start, total):
        rng = step_rng("upscaler", step)
        idx = train_idx[rng.integers(0, len(train_idx), B)]
        sets = rng.integers(0, 2, B)
        lo = (d.images(idx, sets, 32) + 1) / 2
        hi = (d.images(idx, sets, 64) + 1) / 2
        for pg in opt.param_groups:
            pg["lr"] = lr_at(step, total, 1e-3)
        loss = (model(lo) - hi).abs().mean()
        opt.zero_grad()
        loss.backward()
        opt.step()
        if step % 100 == 0:
            log(f"upscaler {step}/{total} l1 {loss.item():.4f}")
        if time.time() - last > SAVE_EVERY_S or step == total - 1:
            save_ckpt("upscaler.pt", {"m": model.state_dict(), "opt": opt.state_dict(), "step": step + 1})
            last = time.time()
    model.eval()
    with torch.no_grad():
        res = {}
        for s in range(2):
            lo = (d.images(test_idx, np.full(len(test_idx), s), 32) + 1) / 2
            hi = (d.images(test_idx, np.full(len(test_idx), s), 64) + 1) / 2
            def psnr(y):
                return float((10 * torch.log10(1.0 / ((y - hi) ** 2).mean((1, 2, 3)))).mean())
            res[SETS[s]] = {"model_psnr_db": psnr(model(lo)),
                            "bicubic_psnr_db": psnr(F.interpolate(lo, scale_factor=2.0, mode="bicubic", align_corners=False).clamp(0, 1))}
    log("upscaler held-out PSNR", res)
    return {"steps": total, "batch": B, "heldout_eval_concepts": res, "params": {"upscaler": nparams(model)}}


# ------------------------------------------------------------------ stage: export
def export_onnx(model, args, path, inputs, outputs, axes):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    model.eval()
    with torch.no_grad():
        # No constant folding: every weight keeps its PyTorch name, so the import stage can read the shipped
        # files back into checkpoints. ONNX Runtime folds the same constants when it loads the model.
        torch.onnx.export(model, args, path, input_names=inputs, output_names=outputs, dynamic_axes=axes,
                          opset_version=14, do_constant_folding=False)


class TextWrap(torch.nn.Module):
    def __init__(self, m):
        super().__init__()
        self.m = m

    def forward(self, input_ids):
        return self.m(input_ids)


class VAEEncWrap(torch.nn.Module):
    def __init__(self, m):
        super().__init__()
        self.m = m

    def forward(self, sample):
        return self.m(sample)[0]


def stage_export(partial=False):
    d = Data()
    enc, dec, scale = load_vae()
    m, unet_step, logit_scale = load_conditioned(len(d.vocab))
    if unet_step < STEPS["unet"] and not partial:
        raise SystemExit(f"UNet at step {unet_step}/{STEPS['unet']}; pass --partial to export it anyway")
    te, ie, unet = m.te, m.ie, m.unet
    torch.manual_seed(SEED)
    untrained = nets.UNet(UNET_CH, D, ZC)
    b = {0: "batch"}
    export_onnx(TextWrap(te), (torch.zeros(2, L, dtype=torch.long),), os.path.join(OUT, "text_encoder", "model.onnx"),
                ["input_ids"], ["last_hidden_state", "pooler_output"],
                {"input_ids": {0: "batch", 1: "sequence"}, "last_hidden_state": {0: "batch", 1: "sequence"}, "pooler_output": b})
    export_onnx(ie, (torch.zeros(2, 3, PIX, PIX),), os.path.join(OUT, "image_encoder", "model.onnx"),
                ["pixel_values"], ["last_hidden_state", "image_embeds"],
                {"pixel_values": b, "last_hidden_state": b, "image_embeds": b})
    uaxes = {"sample": {0: "batch", 2: "height", 3: "width"}, "timestep": b, "encoder_hidden_states": {0: "batch", 1: "sequence"},
             "out_sample": {0: "batch", 2: "height", 3: "width"}}
    uargs = (torch.zeros(2, ZC, LAT, LAT), torch.zeros(2, dtype=torch.long), torch.zeros(2, L, D))
    export_onnx(unet, uargs, os.path.join(OUT, "unet", "model.onnx"), ["sample", "timestep", "encoder_hidden_states"], ["out_sample"], uaxes)
    export_onnx(untrained, uargs, os.path.join(OUT, "eval", "unet_untrained.onnx"), ["sample", "timestep", "encoder_hidden_states"], ["out_sample"], uaxes)
    fp16_weights(os.path.join(OUT, "eval", "unet_untrained.onnx"))  # the floor only needs the architecture
    export_onnx(VAEEncWrap(enc), (torch.zeros(2, 3, PIX, PIX),), os.path.join(OUT, "vae_encoder", "model.onnx"),
                ["sample"], ["latent_sample"], {"sample": {0: "batch", 2: "height", 3: "width"}, "latent_sample": {0: "batch", 2: "height", 3: "width"}})
    export_onnx(dec, (torch.zeros(2, ZC, LAT, LAT),), os.path.join(OUT, "vae_decoder", "model.onnx"),
                ["latent_sample"], ["sample"], {"latent_sample": {0: "batch", 2: "height", 3: "width"}, "sample": {0: "batch", 2: "height", 3: "width"}})
    up_ck = load_ckpt("upscaler.pt")
    if up_ck:
        up = nets.Upscaler()
        up.load_state_dict(up_ck["m"])
        export_onnx(up, (torch.rand(2, 3, PIX, PIX),), os.path.join(OUT, "upscaler", "model.onnx"), ["image"], ["upscaled"],
                    {"image": {0: "batch", 2: "height", 3: "width"}, "upscaled": {0: "batch", 2: "height2", 3: "width2"}})
        jsave(os.path.join(OUT, "upscaler", "config.json"), {"scale": 2, "input": "image [B,3,H,W] in [0,1]",
                                                               "output": "upscaled [B,3,2H,2W] in [0,1]", "trained_on": "32->64 px emoji artwork",
                                                               "params": nparams(up)})
    write_configs(len(d.vocab), scale, {"text_encoder": nparams(te), "image_encoder": nparams(ie), "unet": nparams(unet),
                                        "vae_encoder": nparams(enc), "vae_decoder": nparams(dec)}, unet_step, logit_scale)
    sizes = {}
    for root, _, files in os.walk(OUT):
        for f in files:
            if f.endswith(".onnx"):
                p = os.path.join(root, f)
                sizes[os.path.relpath(p, OUT)] = os.path.getsize(p)
    return {"unet_step": unet_step, "partial": unet_step < STEPS["unet"], "onnx_bytes": sizes}


def fp16_weights(path):
    """Stores the float initializers of an ONNX file as float16 with a Cast back to float32 (half the size)."""
    import onnx
    from onnx import TensorProto, helper, numpy_helper
    m = onnx.load(path)
    g = m.graph
    casts, keep = [], []
    for init in list(g.initializer):
        if init.data_type == TensorProto.FLOAT and int(np.prod(init.dims)) > 16:
            half = numpy_helper.from_array(numpy_helper.to_array(init).astype(np.float16), init.name + "_fp16")
            casts.append(helper.make_node("Cast", [half.name], [init.name], to=TensorProto.FLOAT))
            keep.append(half)
        else:
            keep.append(init)
    del g.initializer[:]
    g.initializer.extend(keep)
    nodes = casts + list(g.node)
    del g.node[:]
    g.node.extend(nodes)
    onnx.checker.check_model(m)
    onnx.save(m, path)


def write_configs(vocab_size, scale, params, unet_step, logit_scale):
    jsave(os.path.join(OUT, "model_index.json"), {
        "_class_name": "StableDiffusionPipeline", "_diffusers_version": "0.25.0", "_name_or_path": "emoji-ld",
        "feature_extractor": [None, None], "requires_safety_checker": False, "safety_checker": [None, None],
        "scheduler": ["diffusers", "DDIMScheduler"], "text_encoder": ["latentbot", "EmojiTextEncoder"],
        "tokenizer": ["transformers", "BertTokenizerFast"], "unet": ["diffusers", "OnnxRuntimeModel"],
        "vae_decoder": ["diffusers", "OnnxRuntimeModel"], "vae_encoder": ["diffusers", "OnnxRuntimeModel"],
        "image_encoder": ["latentbot", "EmojiImageEncoder"], "upscaler": ["latentbot", "Upscaler2x"],
        "sample_size": PIX, "latent_size": LAT, "vae_scale_factor": PIX // LAT, "scaling_factor": scale,
        "max_length": L, "hidden_size": D, "image_size": PIX,
        "unconditional": "text_encoder output for the empty string (tokenized [CLS] [SEP] + [PAD]*)",
        "default_steps": 20, "default_guidance_scale": 5.0, "default_scheduler": "dpmpp-2m-karras",
    })
    jsave(os.path.join(OUT, "scheduler", "scheduler_config.json"), {
        "_class_name": "DDIMScheduler", "_diffusers_version": "0.25.0", "num_train_timesteps": T_TRAIN,
        "beta_schedule": "scaled_linear", "beta_start": BETA_START, "beta_end": BETA_END, "trained_betas": None,
        "prediction_type": "epsilon", "timestep_spacing": "leading", "steps_offset": 1, "clip_sample": False,
        "set_alpha_to_one": False, "thresholding": False,
    })
    jsave(os.path.join(OUT, "unet", "config.json"), {
        "_class_name": "UNet2DConditionModel", "sample_size": LAT, "in_channels": ZC, "out_channels": ZC,
        "cross_attention_dim": D, "block_out_channels": list(UNET_CH), "attention_head_dim": UNET_CH[0] // 4,
        "layers_per_block": 1, "timestep_input": "int64 [B]", "prediction_type": "epsilon",
        "params": params["unet"], "trained_steps": unet_step})
    vae_common = {"sample_size": PIX, "in_channels": 3, "out_channels": 3, "latent_channels": ZC,
                  "block_out_channels": list(VAE_CH), "scaling_factor": scale, "down_factor": PIX // LAT}
    jsave(os.path.join(OUT, "vae_encoder", "config.json"), {"_class_name": "AutoencoderKL", **vae_common,
                                                           "output": "latent_sample = posterior mean, unscaled",
                                                           "params": params["vae_encoder"]})
    jsave(os.path.join(OUT, "vae_decoder", "config.json"), {"_class_name": "AutoencoderKL", **vae_common,
                                                           "params": params["vae_decoder"]})
    jsave(os.path.join(OUT, "text_encoder", "config.json"), {
        "_class_name": "EmojiTextEncoder", "hidden_size": D, "max_position_embeddings": L, "vocab_size": vocab_size,
        "num_hidden_layers": 3, "num_attention_heads": 4, "pad_token_id": 0, "bos_token_id": 2, "eos_token_id": 3,
        "pooler": "linear projection of the mean over non-[PAD] tokens", "params": params["text_encoder"]})
    jsave(os.path.join(OUT, "image_encoder", "config.json"), {
        "_class_name": "EmojiImageEncoder", "image_size": PIX, "hidden_size": D, "num_tokens": L,
        "input": "pixel_values RGB in [-1,1], alpha composited on white", "num_hidden_layers": 2,
        "image_embeds": "linear projection of the mean token; shares a contrastive space with text pooler_output",
        "logit_scale": logit_scale,
        "params": params["image_encoder"]})


# ------------------------------------------------------------------ stage: check
def stage_check():
    d = Data()
    enc, dec, scale = load_vae()
    m, _, _ = load_conditioned(len(d.vocab))
    te, ie, unet = m.te, m.ie, m.unet
    torch.manual_seed(SEED + 5)
    cdir = os.path.join(WORK, "check")
    os.makedirs(cdir, exist_ok=True)
    cases = []

    def dump(name, arr):
        arr = arr.detach().contiguous()
        fn = name + ".bin"
        arr.numpy().astype(np.int64 if arr.dtype == torch.long else np.float32).tofile(os.path.join(cdir, fn))
        return {"file": fn, "dims": list(arr.shape), "dtype": "int64" if arr.dtype == torch.long else "float32"}

    def case(name, model, path, ins, outs, tol=1e-3):
        with torch.no_grad():
            res = model(*ins.values())
        if not isinstance(res, tuple):
            res = (res,)
        cases.append({"name": name, "model": os.path.join(OUT, path), "tol": tol,
                      "inputs": {k: dump(f"{name}_in_{k}", v) for k, v in ins.items()},
                      "outputs": {k: dump(f"{name}_out_{k}", v) for k, v in zip(outs, res)}})

    ids = torch.tensor([d.tok.frame(d.tok.ids(t)) for t in ["polar bear", "北极熊", "", "palm tree, tropical"]])
    case("text_encoder", TextWrap(te), "text_encoder/model.onnx", {"input_ids": ids}, ["last_hidden_state", "pooler_output"])
    x = d.images(np.arange(3), np.array([0, 1, 0]))
    case("image_encoder", ie, "image_encoder/model.onnx", {"pixel_values": x}, ["last_hidden_state", "image_embeds"])
    for nm, hw in (("unet_8x8_b8", (8, 8)), ("unet_8x12_b3", (8, 12))):
        bsz = 8 if hw == (8, 8) else 3
        ins = {"sample": torch.randn(bsz, ZC, *hw), "timestep": torch.randint(0, T_TRAIN, (bsz,)),
               "encoder_hidden_states": torch.randn(bsz, L, D)}
        case(nm, unet, "unet/model.onnx", ins, ["out_sample"])
    case("vae_encoder", VAEEncWrap(enc), "vae_encoder/model.onnx", {"sample": x}, ["latent_sample"])
    case("vae_decoder", dec, "vae_decoder/model.onnx", {"latent_sample": torch.randn(3, ZC, LAT, LAT) / scale}, ["sample"])
    # The classifier and the upscaler are checked when this run trained them (they do not depend on the
    # stages above, so a run may keep the shipped ones).
    if os.path.exists(os.path.join(WORK, "classifier.pt")):
        cm = nets.Classifier(len(d.meta["eval_indices"]))
        cm.load_state_dict(torch.load(os.path.join(WORK, "classifier.pt")))
        cm.eval()
        case("classifier", cm, "eval/classifier.onnx", {"image": (x[:3] + 1) / 2}, ["logits"])
    if load_ckpt("upscaler.pt"):
        up = nets.Upscaler()
        up.load_state_dict(load_ckpt("upscaler.pt")["m"])
        up.eval()
        case("upscaler", up, "upscaler/model.onnx", {"image": (x + 1) / 2}, ["upscaled"])
    cpath = os.path.join(cdir, "cases.json")
    jsave(cpath, cases)
    r = subprocess.run(["node", os.path.join(HERE, "check_onnx.mjs"), cpath], capture_output=True, text=True, cwd=REPO)
    sys.stderr.write(r.stderr[-4000:])
    res = json.loads(r.stdout.strip().splitlines()[-1])
    if not res["ok"]:
        raise SystemExit("ONNX check failed")
    return res


# ------------------------------------------------------------------ stage: samples (reference sampler)
@torch.no_grad()
def ddim_sample(unet, conds, weights, uncond, n, steps=20, g_scale=5.0, seed=0, hw=(LAT, LAT)):
    """Composable guidance: e = e_u + g * sum_i w_i (e_i - e_u), DDIM (eta 0), 'leading' spacing, offset 1."""
    ac = alphas_cumprod()
    ratio = T_TRAIN // steps
    ts = (np.arange(0, steps) * ratio).round()[::-1].astype(np.int64) + 1
    gen = torch.Generator(); gen.manual_seed(seed)
    x = torch.randn(n, ZC, *hw, generator=gen)
    ctx = torch.cat([uncond.expand(n, -1, -1)] + [c.expand(n, -1, -1) for c in conds])
    for i, t in enumerate(ts):
        out = unet(x.repeat(1 + len(conds), 1, 1, 1), torch.full((n * (1 + len(conds)),), int(t)), ctx)
        eu = out[:n]
        e = eu.clone()
        for k, w in enumerate(weights):
            e += g_scale * w * (out[n * (k + 1): n * (k + 2)] - eu)
        a = ac[t]
        a_prev = ac[ts[i + 1]] if i + 1 < len(ts) else ac[0]
        x0 = (x - (1 - a).sqrt() * e) / a.sqrt()
        x = a_prev.sqrt() * x0 + (1 - a_prev).sqrt() * e
    return x


def stage_samples():
    d = Data()
    _, dec, scale = load_vae()
    m, _, _ = load_conditioned(len(d.vocab))
    te, ie, unet = m.te, m.ie, m.unet

    def txt(s):
        return te(torch.tensor([d.tok.frame(d.tok.ids(s))]))[0]

    uncond = txt("")
    find = {c["en_text"]["label"]: i for i, c in enumerate(d.concepts)}
    rows = [
        ("polar bear", [txt("polar bear")], [1.0]),
        ("北极熊", [txt("北极熊")], [1.0]),
        ("polar bear::0.6 white::-0.5", [txt("polar bear"), txt("white")], [0.6, -0.5]),
        ("penguin", [txt("penguin")], [1.0]),
        ("企鹅", [txt("企鹅")], [1.0]),
        ("palm tree", [txt("palm tree")], [1.0]),
        ("热带", [txt("热带")], [1.0]),
        ("white", [txt("white")], [1.0]),
        ("白色", [txt("白色")], [1.0]),
        ("red apple", [txt("red apple")], [1.0]),
        ("[image] penguin (Twemoji art)", [ie(d.images([find["penguin"]], [1]))[0]], [1.0]),
        ("[image] rocket (Twemoji art)", [ie(d.images([find["rocket"]], [1]))[0]], [1.0]),
        ("[image] cat face + snowflake", [ie(d.images([find["cat face"]], [1]))[0], ie(d.images([find["snowflake"]], [1]))[0]], [0.5, 0.5]),
    ]
    os.makedirs(os.path.join(OUT, "samples"), exist_ok=True)
    out_rows, names = [], []
    with torch.no_grad():
        for k, (name, conds, w) in enumerate(rows):
            z = ddim_sample(unet, conds, w, uncond, 4, seed=SEED + k)
            img = ((dec(z / scale) + 1) * 127.5).clamp(0, 255).byte().permute(0, 2, 3, 1).numpy()
            out_rows.append(np.concatenate(list(img), 1))
            names.append(name)
    grid = np.concatenate(out_rows, 0)
    Image.fromarray(grid).resize((grid.shape[1] * 2, grid.shape[0] * 2), Image.NEAREST).save(os.path.join(OUT, "samples", "reference_sampler.png"))
    return {"rows": names, "file": "samples/reference_sampler.png", "sampler": "DDIM 20 steps, guidance 5, recipe's PyTorch sampler"}


# ------------------------------------------------------------------ stage: import
def onnx_weights(path):
    import onnx
    from onnx import numpy_helper
    return {i.name: torch.from_numpy(numpy_helper.to_array(i).copy()) for i in onnx.load(path).graph.initializer}


def load_from_onnx(module, path):
    """Loads a module's weights from an ONNX file exported by this recipe (weights keep their names)."""
    found = onnx_weights(path)
    sd = module.state_dict()
    missing = [k for k in sd if k not in found]
    if missing:
        raise SystemExit(f"{path}: {len(missing)} of {len(sd)} weights not found by name, e.g. {missing[:3]}")
    module.load_state_dict({k: found[k].reshape(sd[k].shape) for k in sd})


def stage_import():
    """Reads the shipped model in OUT back into .work checkpoints (VAE, encoders, UNet: the exported EMA
    weights become both the weights and the EMA; the optimizer starts fresh), so training continues in a
    checkout that has only the repository."""
    d = Data()
    enc, dec = vae_models()
    load_from_onnx(VAEEncWrap(enc), os.path.join(OUT, "vae_encoder", "model.onnx"))
    load_from_onnx(dec, os.path.join(OUT, "vae_decoder", "model.onnx"))
    vcfg = jload(os.path.join(OUT, "vae_decoder", "config.json"))
    save_ckpt("vae.pt", {"enc": enc.state_dict(), "dec": dec.state_dict(), "step": STEPS["vae"],
                         "scaling_factor": vcfg["scaling_factor"]})
    with open(os.path.join(WORK, "vae.done"), "w") as f:
        f.write(json.dumps({"imported_from": OUT}))
    forget_latents()
    m = Conditioned(len(d.vocab))
    load_from_onnx(TextWrap(m.te), os.path.join(OUT, "text_encoder", "model.onnx"))
    load_from_onnx(m.ie, os.path.join(OUT, "image_encoder", "model.onnx"))
    load_from_onnx(m.unet, os.path.join(OUT, "unet", "model.onnx"))
    step = jload(os.path.join(OUT, "unet", "config.json"))["trained_steps"]
    logit_scale = jload(os.path.join(OUT, "image_encoder", "config.json")).get("logit_scale", math.log(1 / 0.07))
    sd = m.state_dict()
    save_ckpt("unet.pt", {"model": sd, "ema": {k: v.clone() for k, v in sd.items()}, "logit_scale": logit_scale,
                          "step": step})
    log(f"import: VAE and UNet (step {step}) from {OUT}")
    return {"from": OUT, "unet_step": step}


# ------------------------------------------------------------------ main
def main():
    args = [a for a in sys.argv[1:] if not a.startswith("--")]
    force = "--force" in sys.argv
    partial = "--partial" in sys.argv
    if not args:
        print(__doc__)
        return
    stages = ALL if args == ["all"] else args
    for s in stages:
        if s not in STAGES:
            raise SystemExit(f"unknown stage {s}")
        done = os.path.join(WORK, f"{s}.done")
        if os.path.exists(done) and not force and s not in ("export", "check", "samples"):
            log(f"{s}: done, skipping")
            continue
        log(f"== {s}")
        t0 = time.time()
        fn = globals()["stage_" + s]
        info = fn(partial) if s == "export" else fn()
        wall = time.time() - t0
        record(s, wall_s=round(wall, 1), finished_utc=time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()), result=info)
        with open(done, "w") as f:
            f.write(json.dumps({"wall_s": wall}))
        log(f"== {s} finished in {wall:.0f} s")


if __name__ == "__main__":
    main()
