#!/usr/bin/python3
"""Writes test/fixtures/models/emoji-tiny/vae_decoder_tiny/: a random-weight tiny preview decoder with the layout
of models/emoji-ld/vae_decoder_tiny/ (input `latent_sample` [B, 4, h, w], output `sample` [B, 3, 4h, 4w] in
[-1, 1], dynamic batch and sides; config.json with `scaling_factor` 1.0: it takes the latents as the sampler
holds them). Seeded, a few KB. Run after scripts/make-fixture-models.py, which rewrites emoji-tiny/ without it:
    /usr/bin/python3 scripts/make-tiny-decoder-fixture.py
"""
import json
import os

import torch

FOLDER = os.path.join(os.path.dirname(os.path.abspath(__file__)), '..', 'test', 'fixtures', 'models', 'emoji-tiny',
                      'vae_decoder_tiny')
FACTOR = 4  # emoji-tiny's VAE: 32 px images, 8x8 latents


class TinyDecoder(torch.nn.Module):
    """The shipped tiny decoder's shape at 8 channels: soft input clamp, conv, nearest 2x upsampling + conv per
    octave, conv to RGB, clamp to [-1, 1]."""

    def __init__(self, channels=8):
        super().__init__()
        self.conv_in = torch.nn.Conv2d(4, channels, 3, padding=1)
        self.ups = torch.nn.ModuleList([torch.nn.Conv2d(channels, channels, 3, padding=1) for _ in range(2)])
        self.conv_out = torch.nn.Conv2d(channels, 3, 3, padding=1)

    def forward(self, latent_sample):
        h = torch.relu(self.conv_in(torch.tanh(latent_sample / 4) * 4))
        for conv in self.ups:
            h = torch.relu(conv(torch.nn.functional.interpolate(h, scale_factor=2.0, mode='nearest')))
        return torch.clamp(self.conv_out(h) * 2, -1.0, 1.0)


def main():
    torch.manual_seed(15)
    model = TinyDecoder().eval()
    os.makedirs(FOLDER, exist_ok=True)
    axes = {'latent_sample': {0: 'batch', 2: 'height', 3: 'width'}, 'sample': {0: 'batch', 2: 'height', 3: 'width'}}
    with torch.no_grad():
        torch.onnx.export(model, (torch.randn(1, 4, 8, 8),), os.path.join(FOLDER, 'model.onnx'),
                          input_names=['latent_sample'], output_names=['sample'], dynamic_axes=axes, opset_version=14)
    config = {'_class_name': 'AutoencoderTiny', 'latent_channels': 4, 'out_channels': 3,
              'upsampling_scaling_factor': FACTOR, 'scaling_factor': 1.0,
              'purpose': 'test fixture: random weights with the layout of models/emoji-ld/vae_decoder_tiny'}
    with open(os.path.join(FOLDER, 'config.json'), 'w') as f:
        json.dump(config, f, indent=2)
        f.write('\n')


if __name__ == '__main__':
    main()
