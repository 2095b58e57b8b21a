#!/usr/bin/python3
"""Writes a random-weight model with the exact architecture, sizes and ONNX signatures of models/emoji-ld
(networks from models/recipe/nets.py, tokenizer copied from models/emoji-ld/tokenizer) to a folder, so the
engine can be benchmarked at the shipped model's real cost before the trained weights land. Images are noise;
timings and memory do not depend on weight values.
    /usr/bin/python3 scripts/make-shape-model.py <out dir>
"""
import json
import os
import shutil
import sys

import torch

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), '..')
sys.path.insert(0, os.path.join(ROOT, 'models', 'recipe'))
import nets  # noqa: E402

PIX, LAT, ZC, L, D = 32, 8, 4, 16, 128
VAE_CH, UNET_CH = (32, 64, 128), (64, 128)


def export(model, args, path, inputs, outputs, axes):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    model.eval()
    with torch.no_grad():
        torch.onnx.export(model, args, path, input_names=inputs, output_names=outputs, dynamic_axes=axes,
                          opset_version=14, do_constant_folding=True)


def jsave(path, value):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, 'w') as f:
        json.dump(value, f, indent=2)


class First(torch.nn.Module):
    def __init__(self, m):
        super().__init__()
        self.m = m

    def forward(self, x):
        return self.m(x)[0]


def main():
    out = sys.argv[1]
    shutil.rmtree(out, ignore_errors=True)
    torch.manual_seed(0)
    shutil.copytree(os.path.join(ROOT, 'models', 'emoji-ld', 'tokenizer'), os.path.join(out, 'tokenizer'))
    with open(os.path.join(out, 'tokenizer', 'tokenizer.json')) as f:
        vocab = len(json.load(f)['model']['vocab'])
    b = {0: 'batch'}
    export(nets.TextEncoder(vocab, D, L), (torch.zeros(2, L, dtype=torch.long),),
           os.path.join(out, 'text_encoder', 'model.onnx'), ['input_ids'], ['last_hidden_state', 'pooler_output'],
           {'input_ids': {0: 'batch', 1: 'sequence'}, 'last_hidden_state': {0: 'batch', 1: 'sequence'},
            'pooler_output': b})
    export(nets.ImageEncoder(D), (torch.zeros(2, 3, PIX, PIX),), os.path.join(out, 'image_encoder', 'model.onnx'),
           ['pixel_values'], ['last_hidden_state', 'image_embeds'],
           {'pixel_values': b, 'last_hidden_state': b, 'image_embeds': b})
    export(nets.UNet(UNET_CH, D, ZC), (torch.zeros(2, ZC, LAT, LAT), torch.zeros(2, dtype=torch.long), torch.zeros(2, L, D)),
           os.path.join(out, 'unet', 'model.onnx'), ['sample', 'timestep', 'encoder_hidden_states'], ['out_sample'],
           {'sample': {0: 'batch', 2: 'height', 3: 'width'}, 'timestep': b,
            'encoder_hidden_states': {0: 'batch', 1: 'sequence'}, 'out_sample': {0: 'batch', 2: 'height', 3: 'width'}})
    export(First(nets.VAEEncoder(VAE_CH, ZC)), (torch.zeros(2, 3, PIX, PIX),), os.path.join(out, 'vae_encoder', 'model.onnx'),
           ['sample'], ['latent_sample'], {'sample': {0: 'batch', 2: 'height', 3: 'width'},
                                           'latent_sample': {0: 'batch', 2: 'height', 3: 'width'}})
    export(nets.VAEDecoder(VAE_CH, ZC), (torch.zeros(2, ZC, LAT, LAT),), os.path.join(out, 'vae_decoder', 'model.onnx'),
           ['latent_sample'], ['sample'], {'latent_sample': {0: 'batch', 2: 'height', 3: 'width'},
                                           'sample': {0: 'batch', 2: 'height', 3: 'width'}})
    export(nets.Upscaler(), (torch.rand(2, 3, PIX, PIX),), os.path.join(out, 'upscaler', 'model.onnx'), ['image'],
           ['upscaled'], {'image': {0: 'batch', 2: 'height', 3: 'width'}, 'upscaled': {0: 'batch', 2: 'height2', 3: 'width2'}})
    jsave(os.path.join(out, 'model_index.json'), {
        '_class_name': 'StableDiffusionPipeline', 'sample_size': PIX, 'latent_size': LAT, 'max_length': L,
        'hidden_size': D, 'image_size': PIX, 'recommended': {'steps': 20, 'guidance_scale': 5.0, 'scheduler': 'DDIM'},
    })
    jsave(os.path.join(out, 'scheduler', 'scheduler_config.json'), {
        '_class_name': 'DDIMScheduler', 'num_train_timesteps': 1000, 'beta_schedule': 'scaled_linear',
        'beta_start': 0.00085, 'beta_end': 0.012, 'prediction_type': 'epsilon', 'timestep_spacing': 'leading',
        'steps_offset': 1, 'clip_sample': False, 'set_alpha_to_one': False,
    })
    jsave(os.path.join(out, 'unet', 'config.json'), {'sample_size': LAT, 'in_channels': ZC, 'out_channels': ZC,
                                                    'cross_attention_dim': D, 'block_out_channels': list(UNET_CH)})
    vae = {'sample_size': PIX, 'latent_channels': ZC, 'block_out_channels': list(VAE_CH), 'scaling_factor': 1.0}
    jsave(os.path.join(out, 'vae_encoder', 'config.json'), vae)
    jsave(os.path.join(out, 'vae_decoder', 'config.json'), vae)
    jsave(os.path.join(out, 'text_encoder', 'config.json'), {'hidden_size': D, 'max_position_embeddings': L,
                                                            'vocab_size': vocab, 'num_hidden_layers': 3,
                                                            'num_attention_heads': 4})
    jsave(os.path.join(out, 'image_encoder', 'config.json'), {'image_size': PIX, 'hidden_size': D, 'num_tokens': L})


if __name__ == '__main__':
    main()
