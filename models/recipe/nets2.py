"""Networks of emoji-ld2 (64 px, four art styles) beyond the ones it shares with emoji-ld (nets.py)."""
import torch
import torch.nn as nn
import torch.nn.functional as F

from nets import Res, SpatialTransformer, gn, timestep_embedding


class UNet2(nn.Module):
    """Three-level conditional UNet for 16x16x4 latents (64 px through a 4x VAE).

    Level 0 (full latent resolution) has residual blocks only; levels 1 and 2 (1/2 and 1/4) have a
    self+cross-attention transformer after every residual block. The mean of the conditioning tokens is
    projected and added to the timestep embedding (global conditioning, as in emoji-ld), computed from
    encoder_hidden_states inside the network, so the ONNX inputs stay the stock SD ones. Fully
    convolutional: any latent size that is a multiple of 4; any number of conditioning tokens.
    """

    def __init__(self, ch=(48, 96, 192), ctx_dim=128, zc=4, heads=4, temb=256, tfreq=64):
        super().__init__()
        c0, c1, c2 = ch
        self.tfreq = tfreq
        self.temb = nn.Sequential(nn.Linear(tfreq, temb), nn.SiLU(), nn.Linear(temb, temb))
        self.cpool = nn.Linear(ctx_dim, temb)
        self.cin = nn.Conv2d(zc, c0, 3, padding=1)
        self.d0r = Res(c0, c0, temb)
        self.down0 = nn.Conv2d(c0, c0, 3, stride=2, padding=1)
        self.d1r = Res(c0, c1, temb)
        self.d1a = SpatialTransformer(c1, ctx_dim, heads)
        self.down1 = nn.Conv2d(c1, c1, 3, stride=2, padding=1)
        self.d2r = Res(c1, c2, temb)
        self.d2a = SpatialTransformer(c2, ctx_dim, heads)
        self.m1 = Res(c2, c2, temb)
        self.ma = SpatialTransformer(c2, ctx_dim, heads)
        self.m2 = Res(c2, c2, temb)
        self.u2r = Res(c2 + c2, c2, temb)
        self.u2a = SpatialTransformer(c2, ctx_dim, heads)
        self.up1 = nn.Conv2d(c2, c1, 3, padding=1)
        self.u1r = Res(c1 + c1, c1, temb)
        self.u1a = SpatialTransformer(c1, ctx_dim, heads)
        self.up0 = nn.Conv2d(c1, c0, 3, padding=1)
        self.u0r = Res(c0 + c0, c0, temb)
        self.nout = gn(c0)
        self.cout = nn.Conv2d(c0, zc, 3, padding=1)

    def forward(self, sample, timestep, encoder_hidden_states):
        ctx = encoder_hidden_states
        t = self.temb(timestep_embedding(timestep, self.tfreq)) + self.cpool(ctx.mean(1))
        h0 = self.d0r(self.cin(sample), t)
        h1 = self.d1a(self.d1r(self.down0(h0), t), ctx)
        h2 = self.d2a(self.d2r(self.down1(h1), t), ctx)
        h = self.m2(self.ma(self.m1(h2, t), ctx), t)
        h = self.u2a(self.u2r(torch.cat([h, h2], 1), t), ctx)
        h = self.up1(F.interpolate(h, size=(h1.shape[2], h1.shape[3]), mode="nearest"))
        h = self.u1a(self.u1r(torch.cat([h, h1], 1), t), ctx)
        h = self.up0(F.interpolate(h, size=(h0.shape[2], h0.shape[3]), mode="nearest"))
        h = self.u0r(torch.cat([h, h0], 1), t)
        return self.cout(F.silu(self.nout(h)))


class StyleEncoder(nn.Module):
    """64 px image -> style vector (D). Local features pooled over the whole image (mean and max), so it
    sees line work, shading and palette rather than layout."""

    def __init__(self, dim=128, ch=(32, 64, 96, 128)):
        super().__init__()
        self.cin = nn.Conv2d(3, ch[0], 3, stride=2, padding=1)  # 32x32
        self.r1 = Res(ch[0], ch[1])
        self.d1 = nn.Conv2d(ch[1], ch[1], 3, stride=2, padding=1)  # 16x16
        self.r2 = Res(ch[1], ch[2])
        self.d2 = nn.Conv2d(ch[2], ch[2], 3, stride=2, padding=1)  # 8x8
        self.r3 = Res(ch[2], ch[3])
        self.out = nn.Linear(2 * ch[3], dim)

    def forward(self, x):
        h = self.r3(self.d2(self.r2(self.d1(self.r1(self.cin(x))))))
        h = F.silu(h)
        return self.out(torch.cat([h.mean((2, 3)), h.amax((2, 3))], 1))


class StyleHead(nn.Module):
    """The style conditioning: a style vector (a named style from the table, the style encoder's output
    for a reference image, or the learned no-style vector) becomes `tokens` conditioning tokens through
    one affine map, appended to the content tokens. Because the map is affine, blending two style
    vectors blends their tokens the same way (the engine can weight a style by interpolating tokens)."""

    def __init__(self, n_styles=4, dim=128, tokens=4):
        super().__init__()
        self.n, self.dim = tokens, dim
        self.table = nn.Parameter(torch.randn(n_styles, dim) * 0.5)
        self.null = nn.Parameter(torch.zeros(dim))
        self.proj = nn.Linear(dim, tokens * dim)
        self.logit_scale = nn.Parameter(torch.tensor(2.3))

    def tokens(self, v):
        return self.proj(v).reshape(v.shape[0], self.n, self.dim)

    def logits(self, v):
        """Prototype classifier: cosine similarity of a style vector to each named style."""
        return self.logit_scale.exp().clamp(max=50) * F.normalize(v, dim=-1) @ F.normalize(self.table, dim=-1).t()


class StyleEncoderExport(nn.Module):
    """What the engine runs for --sref: pixel_values -> style_tokens, style_embeds, style_logits."""

    def __init__(self, se, head):
        super().__init__()
        self.se, self.head = se, head

    def forward(self, pixel_values):
        v = self.se(pixel_values)
        return self.head.tokens(v), v, self.head.logits(v)
