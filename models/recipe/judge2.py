#!/usr/bin/python3
"""The judges of the emoji-ld2 eval (`npm run eval -- --model models/emoji-ld2`), trained on real artwork only.

Usage:  /usr/bin/python3 models/recipe/judge2.py            # every part (finished ones are skipped)
        /usr/bin/python3 models/recipe/judge2.py concept style --force   # retrain (resumes from checkpoints)
        /usr/bin/python3 models/recipe/judge2.py export check            # named parts only

Parts:
  concept  the concept judge over the 64 eval concepts (eval/concepts.json), trained on their real drawings in
           all four styles; first four times with one style left out (trained on three, tested on the fourth:
           the judge's ceiling), then once on all four (the shipped judge)
  style    a 4-way style classifier (noto / twemoji / fluent / fluent-3d) trained on the real drawings of the
           concepts that are NOT eval concepts (so it judges style, not content), tested on the eval concepts'
           drawings
  floor    eval/unet_untrained.onnx: the UNet architecture with seeded random weights, stored as int8 (one
           scale per tensor; the untrained floor of the eval)
  export   eval/classifier.onnx, eval/style_classifier.onnx (outputs `logits` and `features`), eval/judges.json,
           the eval artwork (eval/art/<style>.png: the 64 concepts at 64 px, one sprite sheet per style)
  check    onnxruntime-node against PyTorch on the eval artwork as read back from the sprite sheets
  diagnose what the judges' numbers mean: distances in the concept judge's feature space (two styles of one
           concept, two concepts, a drawing and its augmented or shifted self), and both judges on the eval
           drawings passed through the model folder's VAE (ONNX weights); written into eval/judges.json

Reads the data stage of train2.py (models/recipe/.work/ld2/data.npz and meta.json; never writes there);
checkpoints, logs and `<part>.done` markers go to models/recipe/.work/judge2/ (JUDGE_WORK). Step n of every
run draws the same batch and augmentation in any run (seeded by (SEED, run, n)), so an interrupted run
resumes exactly. One PyTorch thread (THREADS).
"""
import os
import sys

os.environ.setdefault("THREADS", "1")
for _v in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS"):
    os.environ.setdefault(_v, os.environ["THREADS"])

import json  # noqa: E402
import subprocess  # noqa: E402
import time  # noqa: E402

import numpy as np  # noqa: E402
import torch  # noqa: E402
import torch.nn as nn  # noqa: E402
import torch.nn.functional as F  # noqa: E402
from PIL import Image  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import nets2  # noqa: E402
import train as T1  # noqa: E402  (the first edition's classifier augmentation)
import train2 as T2  # noqa: E402

torch.set_num_threads(int(os.environ["THREADS"]))

SEED = T2.SEED
STYLES = T2.STYLES
PIX = T2.PIX
DATA = T2.WORK                      # read only
OUT = T2.OUT
EVAL = os.path.join(OUT, "eval")
JWORK = os.environ.get("JUDGE_WORK", os.path.join(HERE, ".work", "judge2"))
os.makedirs(JWORK, exist_ok=True)
B = 64
STEPS = {"concept": int(os.environ.get("CONCEPT_STEPS", 300)), "style": int(os.environ.get("STYLE_STEPS", 1500))}
SAVE_EVERY_S = 120
# a run's position seeds its random streams: the list only grows
RUNS = [f"concept-without-{s}" for s in STYLES] + ["concept-all", "style"]
PARTS = ["concept", "style", "floor", "export", "check", "diagnose"]
ART_COLUMNS = 8
log = T2.log


def jload(p):
    return T2.jload(p)


def jsave(p, obj, indent=2):
    T2.jsave(p, obj, indent)


def step_rng(run, step):
    return np.random.default_rng([SEED, 300 + RUNS.index(run), step])


def step_gen(run, step):
    g = torch.Generator()
    g.manual_seed(SEED * 1000 + (300 + RUNS.index(run)) * 10_000_000 + step)
    return g


# ------------------------------------------------------------------ data
class Art:
    """The real drawings at 64 px (train2.py's data stage), the eval concepts first-class."""

    def __init__(self):
        z = np.load(os.path.join(DATA, "data.npz"))
        self.img64 = z["img64"]                 # [N,4,64,64,3] uint8, composited on white
        self.avail = z["avail"]                 # [N,4]
        meta = jload(os.path.join(DATA, "meta.json"))
        self.eval_idx = np.array(meta["eval_indices"])
        cj = jload(os.path.join(EVAL, "concepts.json"))
        if [c["hexcode"] for c in cj["concepts"]] != [meta["concepts"][i]["hexcode"] for i in self.eval_idx]:
            raise SystemExit("eval/concepts.json and the data stage disagree on the eval concepts")
        self.concepts = cj["concepts"]
        self.n_eval = len(self.eval_idx)
        ev = set(self.eval_idx.tolist())
        self.rest = np.array([i for i in range(len(self.avail)) if i not in ev])
        self.ev_avail = self.avail[self.eval_idx]   # [64,4]

    def tensor(self, idx, styles):
        return torch.from_numpy(self.img64[idx, styles]).permute(0, 3, 1, 2).float() / 255.0


def soften(x, g, p=0.3):
    """Half of the time nothing; else a 2x down-and-up resample (the softness of generated images)."""
    b = x.shape[0]
    pick = (torch.rand(b, 1, 1, 1, generator=g) < p).float()
    h, w = x.shape[2:]
    small = F.interpolate(x, size=(h // 2, w // 2), mode="bilinear", antialias=True, align_corners=False)
    return pick * F.interpolate(small, size=(h, w), mode="bilinear", align_corners=False) + (1 - pick) * x


def judge_aug(x, g):
    """x in [0,1]: the first edition's classifier augmentation (shift, scale, contrast, brightness, 3x3 blur,
    noise) after an occasional 2x down-and-up resample."""
    return T1.cls_aug(soften(x, g), g)


# ------------------------------------------------------------------ networks
class Judge(nn.Module):
    """64 px RGB in [0,1] -> class logits; `features` is the penultimate layer (the last conv block, max-pooled,
    mean over the 4x4 positions, before dropout and the linear layer). A 3x3 conv at 64 px, a stride-2 conv to
    32 px, then the first edition's classifier (two 3x3 convs + BN + ReLU + max-pool per level, 32/64/128)."""

    def __init__(self, n, stem=24, ch=(32, 64, 128)):
        super().__init__()
        layers = [nn.Conv2d(3, stem, 3, padding=1), nn.BatchNorm2d(stem), nn.ReLU(),
                  nn.Conv2d(stem, ch[0], 3, stride=2, padding=1), nn.BatchNorm2d(ch[0]), nn.ReLU()]
        cprev = ch[0]
        for c in ch:
            layers += [nn.Conv2d(cprev, c, 3, padding=1), nn.BatchNorm2d(c), nn.ReLU(),
                       nn.Conv2d(c, c, 3, padding=1), nn.BatchNorm2d(c), nn.ReLU(), nn.MaxPool2d(2)]
            cprev = c
        self.f = nn.Sequential(*layers)
        self.drop = nn.Dropout(0.3)
        self.fc = nn.Linear(cprev, n)
        self.dim = cprev

    def features(self, image):
        return self.f(image * 2.0 - 1.0).mean((2, 3))

    def forward(self, image):
        return self.fc(self.drop(self.features(image)))


class JudgeExport(nn.Module):
    def __init__(self, m):
        super().__init__()
        self.m = m

    def forward(self, image):
        f = self.m.features(image)
        return self.m.fc(f), f


# ------------------------------------------------------------------ training
def train_run(run, n_classes, draw, steps):
    """draw(rng, g) -> (images [B,3,64,64] in [0,1], labels). Resumes from JWORK/<run>.pt."""
    torch.manual_seed(SEED + RUNS.index(run))
    model = Judge(n_classes)
    opt = torch.optim.AdamW(model.parameters(), lr=2e-3, weight_decay=5e-4)
    path = os.path.join(JWORK, run + ".pt")
    start, train_s, cpu_s = 0, 0.0, 0.0
    if os.path.exists(path):
        ck = torch.load(path, map_location="cpu")
        if ck["steps"] == steps:
            model.load_state_dict(ck["model"]); opt.load_state_dict(ck["opt"])
            start, train_s, cpu_s = ck["step"], ck["train_s"], ck.get("cpu_s", 0.0)
            log(f"{run}: resume at {start}/{steps}")
    last = t_prev = time.time()
    c_prev = time.process_time()

    def save(step_done):
        torch.save({"model": model.state_dict(), "opt": opt.state_dict(), "step": step_done, "steps": steps,
                    "train_s": train_s, "cpu_s": cpu_s}, path + ".tmp")
        os.replace(path + ".tmp", path)

    model.train()
    for step in range(start, steps):
        rng, g = step_rng(run, step), step_gen(run, step)
        x, y = draw(rng, g)
        for pg in opt.param_groups:
            pg["lr"] = T2.lr_at(step, steps, 2e-3, warm=30, floor=0.02)
        loss = F.cross_entropy(model(judge_aug(x, g)), torch.from_numpy(y), label_smoothing=0.1)
        opt.zero_grad()
        loss.backward()
        opt.step()
        now, cnow = time.time(), time.process_time()
        train_s += now - t_prev
        cpu_s += cnow - c_prev
        t_prev, c_prev = now, cnow
        if step % 50 == 0:
            log(f"{run} {step}/{steps} loss {loss.item():.3f} ({train_s:.0f} s wall, {cpu_s:.0f} s CPU)")
        if now - last > SAVE_EVERY_S or step == steps - 1:
            save(step + 1)
            last = t_prev = time.time()
            c_prev = time.process_time()
    model.eval()
    return model, {"wall": round(train_s, 1), "cpu": round(cpu_s, 1)}


@torch.no_grad()
def accuracy(model, x, y):
    """Top-1 on the images as they are, and on 4 seeded augmentations of each."""
    model.eval()
    plain = float((model(x).argmax(1) == y).float().mean())
    g = torch.Generator(); g.manual_seed(7)
    xa = torch.cat([judge_aug(x, g) for _ in range(4)])
    aug = float((model(xa).argmax(1) == y.repeat(4)).float().mean())
    return round(plain, 4), round(aug, 4)


def pairs_of(art, styles):
    """(eval concept k, style s) for every drawing of the eval concepts in the given styles."""
    return np.array([(k, s) for k in range(art.n_eval) for s in styles if art.ev_avail[k, s]])


def part_concept():
    art = Art()
    res, walls = {}, {}

    def drawer(pairs):
        def draw(rng, g):
            p = pairs[rng.integers(0, len(pairs), B)]
            return art.tensor(art.eval_idx[p[:, 0]], p[:, 1]), p[:, 0].astype(np.int64)
        return draw

    for h, held in enumerate(STYLES):
        run = f"concept-without-{held}"
        done = os.path.join(JWORK, run + ".json")
        if os.path.exists(done):
            res[held] = jload(done)
            continue
        model, wall = train_run(run, art.n_eval, drawer(pairs_of(art, [s for s in range(4) if s != h])), STEPS["concept"])
        test = pairs_of(art, [h])
        plain, aug = accuracy(model, art.tensor(art.eval_idx[test[:, 0]], test[:, 1]), torch.from_numpy(test[:, 0]))
        res[held] = {"top1": plain, "top1_augmented": aug, "images": len(test), "train_s": wall}
        jsave(done, res[held])
        log(f"{run}: top1 on {held} {plain} (augmented {aug})")
    model, wall = train_run("concept-all", art.n_eval, drawer(pairs_of(art, range(4))), STEPS["concept"])
    torch.save(model.state_dict(), os.path.join(JWORK, "concept-judge.pt"))
    own = {}
    for s, name in enumerate(STYLES):
        p = pairs_of(art, [s])
        own[name] = accuracy(model, art.tensor(art.eval_idx[p[:, 0]], p[:, 1]), torch.from_numpy(p[:, 0]))[0]
    ceiling = round(float(np.mean([res[s]["top1"] for s in STYLES])), 4)
    walls = {s: res[s]["train_s"] for s in STYLES} | {"all": wall}
    out = {"leave_one_style_out": {s: res[s] for s in STYLES}, "ceiling": ceiling, "own_training_art_top1": own,
           "steps": STEPS["concept"], "batch": B, "train_s": walls, "params": T2.nparams(model)}
    jsave(os.path.join(JWORK, "concept.json"), out)
    log(f"concept judge: leave-one-style-out {[res[s]['top1'] for s in STYLES]} -> ceiling {ceiling}; own art {own}")
    return out


def part_style():
    art = Art()
    rest = art.rest
    by_style = [rest[art.avail[rest, s]] for s in range(4)]

    def draw(rng, g):
        s = rng.integers(0, 4, B)
        idx = np.array([by_style[k][rng.integers(0, len(by_style[k]))] for k in s])
        return art.tensor(idx, s), s.astype(np.int64)

    model, wall = train_run("style", 4, draw, STEPS["style"])
    torch.save(model.state_dict(), os.path.join(JWORK, "style-judge.pt"))
    test = pairs_of(art, range(4))
    x = art.tensor(art.eval_idx[test[:, 0]], test[:, 1])
    y = torch.from_numpy(test[:, 1])
    plain, aug = accuracy(model, x, y)
    with torch.no_grad():
        pred = model(x).argmax(1).numpy()
    per = {name: round(float((pred[test[:, 1] == s] == s).mean()), 4) for s, name in enumerate(STYLES)}
    conf = {name: {n2: int(((test[:, 1] == s) & (pred == t)).sum()) for t, n2 in enumerate(STYLES)} for s, name in enumerate(STYLES)}
    out = {"heldout_eval_art_top1": plain, "heldout_eval_art_top1_augmented": aug, "per_style": per,
           "confusion": conf, "images": len(test), "trained_on_concepts": int(len(rest)),
           "trained_on_drawings": int(sum(len(b) for b in by_style)), "steps": STEPS["style"], "batch": B,
           "train_s": wall, "params": T2.nparams(model)}
    jsave(os.path.join(JWORK, "style.json"), out)
    log(f"style classifier: eval concepts' art top1 {plain} (augmented {aug}), per style {per}")
    return out


def part_floor():
    """The UNet of emoji-ld2 with seeded random weights (torch.manual_seed(SEED), as the first edition's floor)."""
    torch.manual_seed(SEED)
    untrained = nets2.UNet2(T2.UNET_CH, T2.D, T2.ZC)
    b = {0: "batch"}
    uaxes = {"sample": {0: "batch", 2: "height", 3: "width"}, "timestep": b,
             "encoder_hidden_states": {0: "batch", 1: "sequence"}, "out_sample": {0: "batch", 2: "height", 3: "width"}}
    uargs = (torch.zeros(2, T2.ZC, T2.LAT, T2.LAT), torch.zeros(2, dtype=torch.long), torch.zeros(2, T2.L + T2.S, T2.D))
    path = os.path.join(EVAL, "unet_untrained.onnx")
    T2.export_onnx(untrained, uargs, path, ["sample", "timestep", "encoder_hidden_states"], ["out_sample"], uaxes)
    int8_weights(path)  # the floor only needs the architecture and a random init: a quarter of the bytes
    return {"file": "unet_untrained.onnx", "bytes": os.path.getsize(path), "params": T2.nparams(untrained)}


def int8_weights(path):
    """Stores the float initializers of an ONNX file (more than 16 values) as int8 with one symmetric scale per
    tensor, each followed by a DequantizeLinear back to float32 (a quarter of the size)."""
    import onnx
    from onnx import TensorProto, helper, numpy_helper
    m = onnx.load(path)
    g = m.graph
    deq, keep = [], []
    for init in list(g.initializer):
        a = numpy_helper.to_array(init)
        if init.data_type == TensorProto.FLOAT and a.size > 16:
            amax = float(np.abs(a).max())
            scale = amax / 127 if amax > 0 else 1.0
            q = np.clip(np.round(a / scale), -127, 127).astype(np.int8)
            names = [init.name + "_int8", init.name + "_scale", init.name + "_zero"]
            keep += [numpy_helper.from_array(q, names[0]), numpy_helper.from_array(np.array(scale, np.float32), names[1]),
                     numpy_helper.from_array(np.array(0, np.int8), names[2])]
            deq.append(helper.make_node("DequantizeLinear", names, [init.name]))
        else:
            keep.append(init)
    del g.initializer[:]
    g.initializer.extend(keep)
    nodes = deq + list(g.node)
    del g.node[:]
    g.node.extend(nodes)
    onnx.checker.check_model(m)
    onnx.save(m, path)


def load_judge(name, n):
    m = Judge(n)
    m.load_state_dict(torch.load(os.path.join(JWORK, name + "-judge.pt"), map_location="cpu"))
    m.eval()
    return m


def sprite(art, s):
    """The eval concepts' drawings in style s, 8 per row in concepts.json order (white where none)."""
    rows = (art.n_eval + ART_COLUMNS - 1) // ART_COLUMNS
    sheet = np.full((rows * PIX, ART_COLUMNS * PIX, 3), 255, np.uint8)
    for k, i in enumerate(art.eval_idx):
        if art.ev_avail[k, s]:
            r, c = divmod(k, ART_COLUMNS)
            sheet[r * PIX:(r + 1) * PIX, c * PIX:(c + 1) * PIX] = art.img64[i, s]
    return sheet


ART_README = """# Eval artwork

The 64 eval concepts (`../concepts.json`, in that order, 8 per row, 64 x 64 px each, composited on white),
one sprite sheet per art style, exactly as `models/recipe/train2.py`'s data stage prepared them for training.
The eval uses them as image prompts, as `--sref` references and as the real drawings `grid_diversity` is
measured against; `models/recipe/judge2.py export` writes them. A white cell: the style has no drawing of
that concept (`stuffed flatbread` in `fluent`).

| file | artwork | licence |
|---|---|---|
| `noto.png` | [Noto Emoji](https://github.com/googlefonts/noto-emoji), Copyright Google Inc., via the npm package `emoji-datasource-google` 15.1.2 (64 px PNGs) | [Apache License 2.0](https://github.com/googlefonts/noto-emoji/blob/main/LICENSE) |
| `twemoji.png` | [Twemoji](https://github.com/jdecked/twemoji), Copyright 2019 Twitter, Inc and other contributors, via `emoji-datasource-twitter` 15.1.2 (64 px PNGs) | [CC-BY 4.0](https://creativecommons.org/licenses/by/4.0/) (graphics) |
| `fluent.png` | [Fluent Emoji](https://github.com/microsoft/fluentui-emoji) (flat), Copyright (c) Microsoft Corporation, via `fluentui-emoji` 1.3.0 (`icons/flat/*.svg`, rendered at 64 px by sharp) | MIT |
| `fluent-3d.png` | [Fluent Emoji](https://github.com/microsoft/fluentui-emoji) (3D), Copyright (c) Microsoft Corporation, via `@lobehub/fluent-emoji-3d` 1.1.0 (`assets/*.webp`, resized to 64 px) | MIT |

Twemoji graphics: "Twemoji by Twitter, Inc and other contributors, CC-BY 4.0", resized and composited on white.
The `emoji-datasource-*` packages are MIT (Copyright (c) 2013 Cal Henderson) and state the licences of the
artwork above in their README; `fluentui-emoji` ships an MIT LICENSE (Copyright (c) 2022 Mohammad Abu
Mattar, the packager); `@lobehub/fluent-emoji-3d` declares MIT in its package.json and README (Copyright
2023 LobeHub). Microsoft's Fluent Emoji are MIT:

    MIT License

    Copyright (c) Microsoft Corporation.

    Permission is hereby granted, free of charge, to any person obtaining a copy
    of this software and associated documentation files (the "Software"), to deal
    in the Software without restriction, including without limitation the rights
    to use, copy, modify, merge, publish, distribute, sublicense, and/or sell
    copies of the Software, and to permit persons to whom the Software is
    furnished to do so, subject to the following conditions:

    The above copyright notice and this permission notice shall be included in all
    copies or substantial portions of the Software.

    THE SOFTWARE IS PROVIDED "AS IS", WITHOUT WARRANTY OF ANY KIND, EXPRESS OR
    IMPLIED, INCLUDING BUT NOT LIMITED TO THE WARRANTIES OF MERCHANTABILITY,
    FITNESS FOR A PARTICULAR PURPOSE AND NONINFRINGEMENT. IN NO EVENT SHALL THE
    AUTHORS OR COPYRIGHT HOLDERS BE LIABLE FOR ANY CLAIM, DAMAGES OR OTHER
    LIABILITY, WHETHER IN AN ACTION OF CONTRACT, TORT OR OTHERWISE, ARISING FROM,
    OUT OF OR IN CONNECTION WITH THE SOFTWARE OR THE USE OR OTHER DEALINGS IN THE
    SOFTWARE
"""


def part_export():
    art = Art()
    cj, sj = jload(os.path.join(JWORK, "concept.json")), jload(os.path.join(JWORK, "style.json"))
    b = {0: "batch"}
    axes = {"image": b, "logits": b, "features": b}
    concept, style = load_judge("concept", art.n_eval), load_judge("style", 4)
    for m, fn in ((concept, "classifier.onnx"), (style, "style_classifier.onnx")):
        T2.export_onnx(JudgeExport(m), (torch.rand(2, 3, PIX, PIX),), os.path.join(EVAL, fn), ["image"], ["logits", "features"], axes)
    adir = os.path.join(EVAL, "art")
    os.makedirs(adir, exist_ok=True)
    files = {}
    for s, name in enumerate(STYLES):
        fn = f"{name}.png"
        Image.fromarray(sprite(art, s)).save(os.path.join(adir, fn), optimize=True)
        files[name] = f"art/{fn}"
    with open(os.path.join(adir, "README.md"), "w", encoding="utf-8") as f:
        f.write(ART_README)
    io = {"input": f"image float32 [B,3,{PIX},{PIX}] RGB in [0,1], composited on white", "input_size": PIX,
          "features": "float32 [B,128]: the penultimate layer (last conv block max-pooled, mean over positions)"}
    aug = ("train2-style real drawings only; per sample: a 2x down-and-up resample (30%), then the first edition's "
           "classifier augmentation (scale +-15%, shift +-12.5%, contrast +-20%, brightness +-10%, 3x3 blur 40%, "
           "Gaussian noise up to 0.06); AdamW 2e-3 cosine, label smoothing 0.1")
    missing = [{"concept": c["en"], "style": STYLES[s]} for k, c in enumerate(art.concepts) for s in range(4) if not art.ev_avail[k, s]]
    floor = os.path.join(EVAL, "unet_untrained.onnx")
    judges = {
        "concept_judge": {
            "file": "classifier.onnx", **io,
            "logits": f"float32 [B,{art.n_eval}] in the order of concepts.json",
            "trained_on": f"the real drawings of the {art.n_eval} eval concepts in all four styles "
                          f"({int(art.ev_avail.sum())} drawings)",
            "augmentation": aug, "steps": cj["steps"], "batch": cj["batch"], "params": cj["params"],
            "leave_one_style_out": cj["leave_one_style_out"],
            "ceiling": cj["ceiling"],
            "ceiling_definition": "mean over the four styles of the top-1 of a judge trained on the other three "
                                  "styles' drawings, tested on that style's drawings",
            "own_training_art_top1": cj["own_training_art_top1"], "train_s": cj["train_s"],
        },
        "style_classifier": {
            "file": "style_classifier.onnx", **io,
            "logits": "float32 [B,4] in the order of styles",
            "styles": list(STYLES),
            "trained_on": f"the real drawings of the {sj['trained_on_concepts']} concepts that are not eval concepts "
                          f"({sj['trained_on_drawings']} drawings, styles drawn uniformly)",
            "augmentation": aug, "steps": sj["steps"], "batch": sj["batch"], "params": sj["params"],
            "heldout_eval_art_top1": sj["heldout_eval_art_top1"],
            "heldout_eval_art_top1_augmented": sj["heldout_eval_art_top1_augmented"],
            "per_style": sj["per_style"], "confusion_true_by_predicted": sj["confusion"], "images": sj["images"],
            "train_s": sj["train_s"],
        },
        "floor": {"file": "unet_untrained.onnx" if os.path.exists(floor) else None,
                  "what": "the UNet architecture of unet/config.json with seeded random weights "
                          "(torch.manual_seed(1234), PyTorch's default init), stored as int8 with one symmetric scale per tensor "
                          "(DequantizeLinear to float32); "
                          "the eval runs the model folder with it in place of the trained UNet"},
        "art": {"files": files, "tile": PIX, "columns": ART_COLUMNS, "order": "concepts.json", "background": "white",
                "missing": missing, "credits": "art/README.md"},
        "recipe": "models/recipe/judge2.py",
    }
    jsave(os.path.join(EVAL, "judges.json"), judges)
    sizes = {os.path.relpath(os.path.join(r, f), EVAL): os.path.getsize(os.path.join(r, f)) for r, _, fs in os.walk(EVAL) for f in fs}
    log(f"export: eval/ {sum(sizes.values()) / 1e6:.2f} MB {sizes}")
    return {"bytes": sizes}


def part_check():
    """onnxruntime-node on the sprite sheets' drawings (read back from the PNG) against PyTorch on data.npz."""
    art = Art()
    cdir = os.path.join(JWORK, "check")
    os.makedirs(cdir, exist_ok=True)
    p = pairs_of(art, range(4))
    x = art.tensor(art.eval_idx[p[:, 0]], p[:, 1])
    for s, name in enumerate(STYLES):  # the sprite sheets hold exactly the training pixels
        back = np.asarray(Image.open(os.path.join(EVAL, "art", f"{name}.png")).convert("RGB"))
        if not np.array_equal(back, sprite(art, s)):
            raise SystemExit(f"art/{name}.png differs from the data stage's drawings")
    cases = []
    x.numpy().astype(np.float32).tofile(os.path.join(cdir, "x.bin"))
    spec = {"file": "x.bin", "dims": list(x.shape), "dtype": "float32"}
    for name, fn, n in (("concept", "classifier.onnx", art.n_eval), ("style", "style_classifier.onnx", 4)):
        with torch.no_grad():
            logits, feats = JudgeExport(load_judge(name, n))(x)
        outs = {}
        for k, v in (("logits", logits), ("features", feats)):
            v.numpy().astype(np.float32).tofile(os.path.join(cdir, f"{name}_{k}.bin"))
            outs[k] = {"file": f"{name}_{k}.bin", "dims": list(v.shape), "dtype": "float32"}
        cases.append({"name": name, "model": os.path.join(EVAL, fn), "tol": 1e-3, "inputs": {"image": spec}, "outputs": outs})
    cpath = os.path.join(cdir, "cases.json")
    jsave(cpath, cases)
    r = subprocess.run(["node", os.path.join(HERE, "check_onnx.mjs"), cpath], capture_output=True, text=True, cwd=T2.REPO)
    sys.stderr.write(r.stderr[-3000:])
    res = json.loads(r.stdout.strip().splitlines()[-1])
    if not res["ok"]:
        raise SystemExit("ONNX check failed")
    return res


@torch.no_grad()
def part_diagnose():
    art = Art()
    concept, style = load_judge("concept", art.n_eval), load_judge("style", 4)
    p = pairs_of(art, range(4))
    x = art.tensor(art.eval_idx[p[:, 0]], p[:, 1])
    f = concept.features(x)
    g = torch.Generator(); g.manual_seed(3)
    aug = concept.features(judge_aug(x, g))
    moved = concept.features(F.pad(x, (2, 0, 2, 0), value=1.0)[:, :, :PIX, :PIX])  # 2 px right and down
    d = torch.cdist(f, f)
    same_c = torch.from_numpy(p[:, 0][:, None] == p[:, 0][None])
    same_s = torch.from_numpy(p[:, 1][:, None] == p[:, 1][None])
    eye = torch.eye(len(p), dtype=torch.bool)
    cross = float(d[same_c & ~eye].mean())
    dist = {"two_styles_same_concept": cross, "same_style_other_concept": float(d[~same_c & same_s].mean()),
            "drawing_vs_augmented": float((f - aug).norm(dim=1).mean()),
            "drawing_vs_shifted_2px": float((f - moved).norm(dim=1).mean())}
    feature = {k: round(v, 3) for k, v in dist.items()} | {
        f"{k}_over_two_styles": round(v / cross, 3) for k, v in dist.items() if k != "two_styles_same_concept"}
    enc, dec = T2.vae_models()
    T2.load_from_onnx(T2.VAEEncWrap(enc), os.path.join(OUT, "vae_encoder", "model.onnx"))
    T2.load_from_onnx(dec, os.path.join(OUT, "vae_decoder", "model.onnx"))
    enc.eval(); dec.eval()
    rec = (((dec(enc(x * 2 - 1)[0]) + 1) / 2).clamp(0, 1) * 255).round() / 255
    vae = {}
    for name, xx in (("drawings", x), ("through_the_vae", rec)):
        sp = style(xx).argmax(1).numpy()
        vae[name] = {"concept_top1": round(float((concept(xx).argmax(1).numpy() == p[:, 0]).mean()), 4),
                     "style_top1": round(float((sp == p[:, 1]).mean()), 4),
                     "style_per_style": {n: round(float((sp[p[:, 1] == k] == k).mean()), 4) for k, n in enumerate(STYLES)}}
    out = {"concept_judge_feature_distances": feature, "eval_drawings_and_their_vae_reconstructions": vae,
           "how": "models/recipe/judge2.py diagnose: the 255 eval drawings; augmentation as in training (seed 3); "
                  "VAE = the folder's vae_encoder (posterior mean) and vae_decoder, rounded to 8 bits"}
    jp = os.path.join(EVAL, "judges.json")
    judges = jload(jp)
    judges["diagnostics"] = out
    jsave(jp, judges)
    log(f"diagnose: {json.dumps(out)}")
    return out


def main():
    args = [a for a in sys.argv[1:] if not a.startswith("--")]
    force = "--force" in sys.argv
    parts = args or PARTS
    for part in parts:
        if part not in PARTS:
            raise SystemExit(f"unknown part {part}; parts: {' '.join(PARTS)}")
        done = os.path.join(JWORK, f"{part}.done")
        if part in ("concept", "style") and os.path.exists(done) and not force:
            log(f"{part}: done, skipping")
            continue
        if force and part == "concept":
            for s in STYLES:
                q = os.path.join(JWORK, f"concept-without-{s}.json")
                if os.path.exists(q):
                    os.remove(q)
        log(f"== {part}")
        t0 = time.time()
        info = globals()["part_" + part]()
        wall = round(time.time() - t0, 1)
        lp = os.path.join(JWORK, "log.json")
        lg = jload(lp) if os.path.exists(lp) else {}
        lg[part] = {"wall_s": wall, "finished_utc": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()), "result": info,
                    "torch_threads": torch.get_num_threads()}
        jsave(lp, lg)
        if part in ("concept", "style"):
            with open(done, "w") as f:
                f.write(json.dumps({"wall_s": wall}))
        log(f"== {part} finished in {wall:.0f} s")


if __name__ == "__main__":
    main()
