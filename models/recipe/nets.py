"""Network definitions for the emoji-ld model (VAE, encoders, UNet, classifier, upscaler)."""
import math

import torch
import torch.nn as nn
import torch.nn.functional as F


def gn(c):
    return nn.GroupNorm(8, c)


class Res(nn.Module):
    def __init__(self, cin, cout, temb=0):
        super().__init__()
        self.n1 = gn(cin)
        self.c1 = nn.Conv2d(cin, cout, 3, padding=1)
        self.t = nn.Linear(temb, cout) if temb else None
        self.n2 = gn(cout)
        self.c2 = nn.Conv2d(cout, cout, 3, padding=1)
        self.skip = nn.Conv2d(cin, cout, 1) if cin != cout else nn.Identity()

    def forward(self, x, t=None):
        h = self.c1(F.silu(self.n1(x)))
        if self.t is not None:
            h = h + self.t(F.silu(t))[:, :, None, None]
        h = self.c2(F.silu(self.n2(h)))
        return self.skip(x) + h


class Attn(nn.Module):
    """Multi-head attention written with plain matmuls so it exports to any ONNX opset."""

    def __init__(self, dim, ctx_dim=None, heads=4):
        super().__init__()
        ctx_dim = ctx_dim or dim
        self.h = heads
        self.q = nn.Linear(dim, dim, bias=False)
        self.k = nn.Linear(ctx_dim, dim, bias=False)
        self.v = nn.Linear(ctx_dim, dim, bias=False)
        self.o = nn.Linear(dim, dim)

    def forward(self, x, ctx=None):
        ctx = x if ctx is None else ctx
        b, n, c = x.shape
        h = self.h
        d = c // h
        q = self.q(x).reshape(b, -1, h, d).transpose(1, 2)
        k = self.k(ctx).reshape(b, -1, h, d).transpose(1, 2)
        v = self.v(ctx).reshape(b, -1, h, d).transpose(1, 2)
        a = torch.softmax(torch.matmul(q, k.transpose(2, 3)) * (1.0 / math.sqrt(d)), dim=-1)
        y = torch.matmul(a, v).transpose(1, 2).reshape(b, -1, c)
        return self.o(y)


class Block(nn.Module):
    """Pre-norm transformer block, optionally with cross-attention."""

    def __init__(self, dim, ctx_dim=None, heads=4, mlp=4):
        super().__init__()
        self.n1 = nn.LayerNorm(dim)
        self.a1 = Attn(dim, heads=heads)
        self.cross = ctx_dim is not None
        if self.cross:
            self.n2 = nn.LayerNorm(dim)
            self.a2 = Attn(dim, ctx_dim, heads)
        self.n3 = nn.LayerNorm(dim)
        self.ff = nn.Sequential(nn.Linear(dim, dim * mlp), nn.GELU(), nn.Linear(dim * mlp, dim))

    def forward(self, x, ctx=None):
        x = x + self.a1(self.n1(x))
        if self.cross:
            x = x + self.a2(self.n2(x), ctx)
        return x + self.ff(self.n3(x))


class SpatialTransformer(nn.Module):
    def __init__(self, c, ctx_dim, heads=4):
        super().__init__()
        self.n = gn(c)
        self.pin = nn.Conv2d(c, c, 1)
        self.blk = Block(c, ctx_dim, heads, mlp=2)
        self.pout = nn.Conv2d(c, c, 1)

    def forward(self, x, ctx):
        b, c, hh, ww = x.shape
        h = self.pin(self.n(x))
        h = h.flatten(2).transpose(1, 2)
        h = self.blk(h, ctx)
        h = h.transpose(1, 2).reshape(b, c, hh, ww)
        return x + self.pout(h)


# ---------------------------------------------------------------- VAE
class VAEEncoder(nn.Module):
    def __init__(self, ch=(32, 64, 128), zc=4):
        super().__init__()
        self.cin = nn.Conv2d(3, ch[0], 3, padding=1)
        layers = []
        for i, c in enumerate(ch):
            cprev = ch[max(i - 1, 0)]
            layers.append(Res(cprev, c))
            if i < len(ch) - 1:
                layers.append(nn.Conv2d(c, c, 3, stride=2, padding=1))
        layers.append(Res(ch[-1], ch[-1]))
        self.body = nn.Sequential(*layers)
        self.nout = gn(ch[-1])
        self.cout = nn.Conv2d(ch[-1], 2 * zc, 3, padding=1)

    def forward(self, x):
        h = self.cout(F.silu(self.nout(self.body(self.cin(x)))))
        mean, logvar = h.chunk(2, dim=1)
        return mean, logvar


class Up(nn.Module):
    def __init__(self, c):
        super().__init__()
        self.c = nn.Conv2d(c, c, 3, padding=1)

    def forward(self, x):
        return self.c(F.interpolate(x, scale_factor=2.0, mode="nearest"))


class VAEDecoder(nn.Module):
    def __init__(self, ch=(32, 64, 128), zc=4):
        super().__init__()
        ch = list(ch)[::-1]
        self.cin = nn.Conv2d(zc, ch[0], 3, padding=1)
        layers = [Res(ch[0], ch[0])]
        for i, c in enumerate(ch):
            cprev = ch[max(i - 1, 0)]
            layers.append(Res(cprev, c))
            if i < len(ch) - 1:
                layers.append(Up(c))
        self.body = nn.Sequential(*layers)
        self.nout = gn(ch[-1])
        self.cout = nn.Conv2d(ch[-1], 3, 3, padding=1)

    def forward(self, z):
        return torch.clamp(self.cout(F.silu(self.nout(self.body(self.cin(z))))), -1.0, 1.0)


# ---------------------------------------------------------------- encoders
class TextEncoder(nn.Module):
    def __init__(self, vocab, dim=128, max_len=16, layers=3, heads=4, pad_id=0):
        super().__init__()
        self.pad_id = pad_id
        self.tok = nn.Embedding(vocab, dim)
        self.pos = nn.Parameter(torch.randn(1, max_len, dim) * 0.02)
        self.blocks = nn.ModuleList([Block(dim, None, heads) for _ in range(layers)])
        self.ln = nn.LayerNorm(dim)
        self.proj = nn.Linear(dim, dim)

    def forward(self, ids):
        n = ids.shape[1]
        x = self.tok(ids) + self.pos[:, :n]
        for b in self.blocks:
            x = b(x)
        x = self.ln(x)
        m = (ids != self.pad_id).to(x.dtype).unsqueeze(-1)
        pooled = (x * m).sum(1) / m.sum(1).clamp(min=1.0)
        return x, self.proj(pooled)


class ImageEncoder(nn.Module):
    """32x32 image -> 4x4 grid of tokens (16 tokens, same shape as the text encoder's output)."""

    def __init__(self, dim=128, ch=(32, 64, 96), layers=2, heads=4):
        super().__init__()
        self.cin = nn.Conv2d(3, ch[0], 3, stride=2, padding=1)  # 16x16
        self.r1 = Res(ch[0], ch[1])
        self.d1 = nn.Conv2d(ch[1], ch[1], 3, stride=2, padding=1)  # 8x8
        self.r2 = Res(ch[1], ch[2])
        self.d2 = nn.Conv2d(ch[2], dim, 3, stride=2, padding=1)  # 4x4
        self.pos = nn.Parameter(torch.randn(1, 16, dim) * 0.02)
        self.blocks = nn.ModuleList([Block(dim, None, heads) for _ in range(layers)])
        self.ln = nn.LayerNorm(dim)
        self.proj = nn.Linear(dim, dim)

    def forward(self, x):
        h = self.d2(self.r2(self.d1(self.r1(self.cin(x)))))
        h = h.flatten(2).transpose(1, 2) + self.pos
        for b in self.blocks:
            h = b(h)
        h = self.ln(h)
        return h, self.proj(h.mean(1))


# ---------------------------------------------------------------- UNet
def timestep_embedding(t, dim):
    half = dim // 2
    freqs = torch.exp(-math.log(10000.0) * torch.arange(half, dtype=torch.float32) / half)
    a = t.to(torch.float32)[:, None] * freqs[None]
    return torch.cat([torch.cos(a), torch.sin(a)], dim=1)


class UNet(nn.Module):
    def __init__(self, ch=(64, 128), ctx_dim=128, zc=4, heads=4):
        super().__init__()
        c0, c1 = ch
        te = c0 * 4
        self.c0 = c0
        self.temb = nn.Sequential(nn.Linear(c0, te), nn.SiLU(), nn.Linear(te, te))
        # Global conditioning: the mean of the conditioning tokens joins the timestep embedding, so every
        # residual block sees what is asked for, not only the attention layers. It is computed from
        # encoder_hidden_states inside the network, so the ONNX signature stays the stock SD one.
        self.cpool = nn.Linear(ctx_dim, te)
        self.cin = nn.Conv2d(zc, c0, 3, padding=1)
        self.d0r = Res(c0, c0, te)
        self.d0a = SpatialTransformer(c0, ctx_dim, heads)
        self.down = nn.Conv2d(c0, c0, 3, stride=2, padding=1)
        self.d1r = Res(c0, c1, te)
        self.d1a = SpatialTransformer(c1, ctx_dim, heads)
        self.m1 = Res(c1, c1, te)
        self.ma = SpatialTransformer(c1, ctx_dim, heads)
        self.m2 = Res(c1, c1, te)
        self.u1r = Res(c1 + c1, c1, te)
        self.u1a = SpatialTransformer(c1, ctx_dim, heads)
        self.upc = nn.Conv2d(c1, c1, 3, padding=1)
        self.u0r = Res(c1 + c0, c0, te)
        self.u0a = SpatialTransformer(c0, ctx_dim, heads)
        self.u0r2 = Res(c0 + c0, c0, te)
        self.nout = gn(c0)
        self.cout = nn.Conv2d(c0, zc, 3, padding=1)

    def forward(self, sample, timestep, encoder_hidden_states):
        ctx = encoder_hidden_states
        t = self.temb(timestep_embedding(timestep, self.c0)) + self.cpool(ctx.mean(1))
        h0 = self.cin(sample)
        h1 = self.d0a(self.d0r(h0, t), ctx)
        h = self.down(h1)
        h2 = self.d1a(self.d1r(h, t), ctx)
        h = self.m2(self.ma(self.m1(h2, t), ctx), t)
        h = self.u1a(self.u1r(torch.cat([h, h2], 1), t), ctx)
        h = self.upc(F.interpolate(h, size=(h1.shape[2], h1.shape[3]), mode="nearest"))
        h = self.u0a(self.u0r(torch.cat([h, h1], 1), t), ctx)
        h = self.u0r2(torch.cat([h, h0], 1), t)
        return self.cout(F.silu(self.nout(h)))


# ---------------------------------------------------------------- eval classifier
class Classifier(nn.Module):
    def __init__(self, n, ch=(32, 64, 128)):
        super().__init__()
        layers = []
        cprev = 3
        for c in ch:
            layers += [nn.Conv2d(cprev, c, 3, padding=1), nn.BatchNorm2d(c), nn.ReLU(),
                       nn.Conv2d(c, c, 3, padding=1), nn.BatchNorm2d(c), nn.ReLU(), nn.MaxPool2d(2)]
            cprev = c
        self.f = nn.Sequential(*layers)
        self.drop = nn.Dropout(0.3)
        self.fc = nn.Linear(cprev, n)

    def forward(self, image):
        x = image * 2.0 - 1.0
        return self.fc(self.drop(self.f(x).mean((2, 3))))


# ---------------------------------------------------------------- 2x upscaler
class Upscaler(nn.Module):
    def __init__(self, c=48):
        super().__init__()
        self.body = nn.Sequential(
            nn.Conv2d(3, c, 5, padding=2), nn.SiLU(),
            nn.Conv2d(c, c, 3, padding=1), nn.SiLU(),
            nn.Conv2d(c, c, 3, padding=1), nn.SiLU(),
            nn.Conv2d(c, 12, 3, padding=1),
        )
        self.ps = nn.PixelShuffle(2)

    def forward(self, image):
        base = F.interpolate(image, scale_factor=2.0, mode="bilinear", align_corners=False)
        return torch.clamp(base + self.ps(self.body(image)), 0.0, 1.0)
