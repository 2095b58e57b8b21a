#!/usr/bin/python3
"""Writes tiny random-weight ONNX models with the exact input/output signatures of Stable Diffusion 1.5 and
2.1 exports (diffusers script and Optimum variants) and of the project's own layout (with an image encoder and
an upscaler), plus their tokenizer folders and configs, under test/fixtures/models/.

Channel counts are tiny so every file is a few KB and tests run in milliseconds; the signatures (names, dtypes,
ranks, dynamic axes, hidden sizes, pad ids, configs) are what the engine must handle. Run with Debian's python:
    /usr/bin/python3 scripts/make-fixture-models.py
It also writes reference token ids from an independent CLIP BPE implementation (the OpenAI simple_tokenizer
algorithm) to test/fixtures/tokenizer-reference.json.
"""
import json
import math
import os
import re
import shutil

import numpy as np
import onnx
import torch
from onnx import TensorProto, helper, numpy_helper

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), '..', 'test', 'fixtures')
OPSET = 14
SMALL_VOCAB = 512  # the text encoders fold real token ids into a tiny embedding table (ids % SMALL_VOCAB)

# ---------------------------------------------------------------- tiny networks


class TextEncoder(torch.nn.Module):
    def __init__(self, length, hidden):
        super().__init__()
        self.embed = torch.nn.Embedding(SMALL_VOCAB, 8)
        self.pos = torch.nn.Parameter(torch.randn(length, 8) * 0.1)
        self.mix = torch.nn.Linear(8, 8)
        self.proj = torch.nn.Linear(8, hidden)

    def forward(self, input_ids):
        ids = input_ids.long()
        h = self.embed(ids % SMALL_VOCAB) + self.pos
        h = torch.tanh(self.mix(h) + h.mean(dim=1, keepdim=True))  # cheap token mixing: every token matters
        last = self.proj(h)
        eos = ids.argmax(dim=-1)  # CLIP pools at the EOS token (highest id)
        pooled = last[torch.arange(last.shape[0]), eos]
        return last, pooled


class UNet(torch.nn.Module):
    """conv_in + timestep embedding -> one stride-2 down/up pair -> cross-attention on the text -> conv_out."""

    def __init__(self, cross_dim, channels=8, scalar_timestep=False):
        super().__init__()
        self.channels = channels
        self.scalar_timestep = scalar_timestep
        self.time = torch.nn.Linear(16, channels)
        self.conv_in = torch.nn.Conv2d(4, channels, 3, padding=1)
        self.down = torch.nn.Conv2d(channels, channels, 3, stride=2, padding=1)
        self.up = torch.nn.Conv2d(channels, channels, 3, padding=1)
        self.q = torch.nn.Linear(channels, channels)
        self.k = torch.nn.Linear(cross_dim, channels)
        self.v = torch.nn.Linear(cross_dim, channels)
        self.o = torch.nn.Linear(channels, channels)
        self.conv_out = torch.nn.Conv2d(channels, 4, 3, padding=1)

    def forward(self, sample, timestep, encoder_hidden_states):
        t = timestep.float()
        freqs = torch.exp(-math.log(10000.0) * torch.arange(8, dtype=torch.float32) / 8)
        angles = t.unsqueeze(-1) * freqs  # [B,8] or [8] for a scalar timestep
        temb = torch.nn.functional.silu(self.time(torch.cat([torch.sin(angles), torch.cos(angles)], dim=-1)))
        temb = temb.reshape(-1, self.channels, 1, 1)
        h = self.conv_in(sample) + temb
        d = torch.nn.functional.silu(self.down(h))
        h = h + self.up(torch.nn.functional.interpolate(d, scale_factor=2.0, mode='nearest'))
        b, c, hh, ww = h.shape
        tokens = h.flatten(2).transpose(1, 2)  # [B, hw, C]
        q = self.q(tokens)
        k = self.k(encoder_hidden_states)
        v = self.v(encoder_hidden_states)
        attn = torch.softmax(q @ k.transpose(1, 2) / math.sqrt(c), dim=-1)
        tokens = tokens + self.o(attn @ v)
        h = tokens.transpose(1, 2).reshape(b, c, hh, ww)
        return self.conv_out(torch.nn.functional.silu(h))


class VaeDecoder(torch.nn.Module):
    def __init__(self, factor, squash):
        super().__init__()
        self.conv_in = torch.nn.Conv2d(4, 8, 3, padding=1)
        self.ups = torch.nn.ModuleList([torch.nn.Conv2d(8, 8, 3, padding=1) for _ in range(int(math.log2(factor)))])
        self.conv_out = torch.nn.Conv2d(8, 3, 3, padding=1)
        self.squash = squash

    def forward(self, latent_sample):
        h = self.conv_in(latent_sample)
        for conv in self.ups:
            h = torch.nn.functional.silu(conv(torch.nn.functional.interpolate(h, scale_factor=2.0, mode='nearest')))
        out = self.conv_out(h)
        # Stock SD decoders are unbounded (the pipeline clamps); the project's decoder ends in tanh.
        return torch.tanh(out) if self.squash else out * 1.5


class VaeEncoder(torch.nn.Module):
    def __init__(self, factor, out_channels):
        super().__init__()
        self.conv_in = torch.nn.Conv2d(3, 8, 3, padding=1)
        self.downs = torch.nn.ModuleList(
            [torch.nn.Conv2d(8, 8, 3, stride=2, padding=1) for _ in range(int(math.log2(factor)))]
        )
        self.conv_out = torch.nn.Conv2d(8, out_channels, 3, padding=1)

    def forward(self, sample):
        h = self.conv_in(sample)
        for conv in self.downs:
            h = torch.nn.functional.silu(conv(h))
        return self.conv_out(h)


class ImageEncoder(torch.nn.Module):
    def __init__(self, length, hidden):
        super().__init__()
        self.length = length
        self.hidden = hidden
        self.conv = torch.nn.Conv2d(3, 8, 3, stride=2, padding=1)
        self.proj = torch.nn.Linear(8, length * 8)
        self.out = torch.nn.Linear(8, hidden)

    def forward(self, pixel_values):
        h = torch.nn.functional.silu(self.conv(pixel_values)).mean(dim=(2, 3))
        tokens = torch.tanh(self.proj(h)).reshape(-1, self.length, 8)
        last = self.out(tokens)
        return last, last.mean(dim=1)


class Upscaler(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.conv = torch.nn.Conv2d(3, 3, 3, padding=1)

    def forward(self, image):
        up = torch.nn.functional.interpolate(image, scale_factor=2.0, mode='nearest')
        return torch.clamp(up + 0.05 * torch.tanh(self.conv(up)), 0.0, 1.0)


# ---------------------------------------------------------------- export helpers


def export(module, args, path, inputs, outputs, dynamic_axes, external_data=False):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    module.eval()
    with torch.no_grad():
        torch.onnx.export(
            module, args, path, input_names=inputs, output_names=outputs, dynamic_axes=dynamic_axes,
            opset_version=OPSET, do_constant_folding=True,
        )
    if external_data:
        model = onnx.load(path)
        onnx.save_model(model, path, save_as_external_data=True, all_tensors_to_one_file=True,
                        location='model.onnx_data', size_threshold=0)


def convert_to_fp16(path):
    """Stores every float weight, input and output as float16 (as fp16 exports do), computing in float32
    inside via Cast nodes so the tiny graph stays valid on every execution provider."""
    model = onnx.load(path)
    graph = model.graph
    casts = []
    renames = {}
    for inp in graph.input:
        if inp.type.tensor_type.elem_type == TensorProto.FLOAT:
            inp.type.tensor_type.elem_type = TensorProto.FLOAT16
            renames[inp.name] = inp.name + '_f32'
            casts.append(helper.make_node('Cast', [inp.name], [inp.name + '_f32'], to=TensorProto.FLOAT))
    new_inits = []
    for init in graph.initializer:
        if init.data_type == TensorProto.FLOAT:
            arr = numpy_helper.to_array(init).astype(np.float16)
            new_inits.append(numpy_helper.from_array(arr, init.name + '_f16'))
            casts.append(helper.make_node('Cast', [init.name + '_f16'], [init.name], to=TensorProto.FLOAT))
        else:
            new_inits.append(init)
    del graph.initializer[:]
    graph.initializer.extend(new_inits)
    for node in graph.node:
        for i, name in enumerate(node.input):
            if name in renames:
                node.input[i] = renames[name]
    tail = []
    for out in graph.output:
        if out.type.tensor_type.elem_type == TensorProto.FLOAT:
            out.type.tensor_type.elem_type = TensorProto.FLOAT16
            for node in graph.node:  # the producer and any other consumer use the float32 value
                for i, name in enumerate(node.output):
                    if name == out.name:
                        node.output[i] = out.name + '_f32'
                for i, name in enumerate(node.input):
                    if name == out.name:
                        node.input[i] = out.name + '_f32'
            tail.append(helper.make_node('Cast', [out.name + '_f32'], [out.name], to=TensorProto.FLOAT16))
    nodes = casts + list(graph.node) + tail
    del graph.node[:]
    graph.node.extend(nodes)
    onnx.checker.check_model(model)
    onnx.save_model(model, path)


def write_json(path, value):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, 'w', encoding='utf-8') as f:
        json.dump(value, f, indent=2, ensure_ascii=False)
        f.write('\n')


# ---------------------------------------------------------------- CLIP BPE tokenizer (tiny vocabulary)

CLIP_PATTERN = re.compile(r"""<\|startoftext\|>|<\|endoftext\|>|'s|'t|'re|'ve|'m|'ll|'d|[a-z]+|[0-9]|[^\sa-z0-9]+""")
TINY_CORPUS = ('a photo of a cat riding a horse on the moon an astronaut with red and blue paint '
               'dog dogs cats sunset over the sea painting of mountains portrait').split()


def bytes_to_unicode():
    bs = list(range(ord('!'), ord('~') + 1)) + list(range(ord('¡'), ord('¬') + 1)) + list(range(ord('®'), ord('ÿ') + 1))
    cs = bs[:]
    n = 0
    for b in range(256):
        if b not in bs:
            bs.append(b)
            cs.append(256 + n)
            n += 1
    return dict(zip(bs, [chr(c) for c in cs]))


def train_tiny_merges(words, count):
    """A few BPE merges learned from a toy corpus, in CLIP's format (end-of-word suffix `</w>`)."""
    seqs = [list(w[:-1]) + [w[-1] + '</w>'] for w in words]
    merges = []
    for _ in range(count):
        pairs = {}
        for s in seqs:
            for a, b in zip(s, s[1:]):
                pairs[(a, b)] = pairs.get((a, b), 0) + 1
        if not pairs:
            break
        best = max(sorted(pairs), key=lambda p: pairs[p])
        merges.append(best)
        merged = []
        for s in seqs:
            out, i = [], 0
            while i < len(s):
                if i + 1 < len(s) and (s[i], s[i + 1]) == best:
                    out.append(s[i] + s[i + 1])
                    i += 2
                else:
                    out.append(s[i])
                    i += 1
            merged.append(out)
        seqs = merged
    return merges


def clip_vocab_and_merges():
    byte_chars = list(bytes_to_unicode().values())
    vocab = byte_chars + [c + '</w>' for c in byte_chars]
    merges = train_tiny_merges(TINY_CORPUS, 60)
    for a, b in merges:
        vocab.append(a + b)
    ids = {tok: i for i, tok in enumerate(vocab)}
    # Real CLIP ids for the specials, so pad/BOS/EOS match SD exports exactly (the table is sparse).
    ids['<|startoftext|>'] = 49406
    ids['<|endoftext|>'] = 49407
    return ids, merges


def reference_clip_encode(text, encoder, merges, length, pad_id):
    """Independent CLIP tokenization (OpenAI simple_tokenizer algorithm, ASCII text)."""
    ranks = {m: i for i, m in enumerate(merges)}
    byte_encoder = bytes_to_unicode()
    text = re.sub(r'\s+', ' ', text).strip().lower()
    out = []
    for token in CLIP_PATTERN.findall(text):
        token = ''.join(byte_encoder[b] for b in token.encode('utf-8'))
        word = list(token[:-1]) + [token[-1] + '</w>']
        while len(word) > 1:
            pairs = [(word[i], word[i + 1]) for i in range(len(word) - 1)]
            best = min(pairs, key=lambda p: ranks.get(p, float('inf')))
            if best not in ranks:
                break
            new, i = [], 0
            while i < len(word):
                if i + 1 < len(word) and (word[i], word[i + 1]) == best:
                    new.append(word[i] + word[i + 1])
                    i += 2
                else:
                    new.append(word[i])
                    i += 1
            word = new
        out.extend(encoder[w] for w in word)
    ids = [49406] + out[: length - 2] + [49407]
    return ids + [pad_id] * (length - len(ids))


def write_clip_tokenizer(folder, pad_token, length):
    ids, merges = clip_vocab_and_merges()
    write_json(os.path.join(folder, 'vocab.json'), ids)
    with open(os.path.join(folder, 'merges.txt'), 'w', encoding='utf-8') as f:
        f.write('#version: 0.2\n')
        for a, b in merges:
            f.write(f'{a} {b}\n')
    write_json(os.path.join(folder, 'tokenizer_config.json'), {
        'add_prefix_space': False, 'bos_token': '<|startoftext|>', 'do_lower_case': True,
        'eos_token': '<|endoftext|>', 'model_max_length': length, 'pad_token': pad_token,
        'tokenizer_class': 'CLIPTokenizer', 'unk_token': '<|endoftext|>', 'errors': 'replace',
    })
    write_json(os.path.join(folder, 'special_tokens_map.json'), {
        'bos_token': '<|startoftext|>', 'eos_token': '<|endoftext|>', 'pad_token': pad_token,
        'unk_token': '<|endoftext|>',
    })
    return ids, merges


# ---------------------------------------------------------------- WordPiece tokenizer (project layout)

WORDPIECE_VOCAB = ['[PAD]', '[UNK]', '[CLS]', '[SEP]', '[MASK]', 'a', 'red', 'blue', 'cat', 'dog', 'polar', 'bear',
                   'penguin', 'palm', 'tree', 'face', 'smiling', 'heart', 'star', 'sun', 'moon', '##s', '##ing',
                   'with', 'and', '北', '极', '熊', '企', '鹅', '猫', '狗', '红', '色', '心']


def write_wordpiece_tokenizer(folder, length):
    vocab = {tok: i for i, tok in enumerate(WORDPIECE_VOCAB)}
    tokenizer = {
        'version': '1.0', 'truncation': None, 'padding': None,
        'added_tokens': [
            {'id': vocab[t], 'content': t, 'single_word': False, 'lstrip': False, 'rstrip': False,
             'normalized': False, 'special': True} for t in ['[PAD]', '[UNK]', '[CLS]', '[SEP]', '[MASK]']
        ],
        'normalizer': {'type': 'BertNormalizer', 'clean_text': True, 'handle_chinese_chars': True,
                       'strip_accents': None, 'lowercase': True},
        'pre_tokenizer': {'type': 'BertPreTokenizer'},
        'post_processor': {
            'type': 'TemplateProcessing',
            'single': [{'SpecialToken': {'id': '[CLS]', 'type_id': 0}}, {'Sequence': {'id': 'A', 'type_id': 0}},
                       {'SpecialToken': {'id': '[SEP]', 'type_id': 0}}],
            'pair': [{'SpecialToken': {'id': '[CLS]', 'type_id': 0}}, {'Sequence': {'id': 'A', 'type_id': 0}},
                     {'SpecialToken': {'id': '[SEP]', 'type_id': 0}}, {'Sequence': {'id': 'B', 'type_id': 1}},
                     {'SpecialToken': {'id': '[SEP]', 'type_id': 1}}],
            'special_tokens': {
                '[CLS]': {'id': '[CLS]', 'ids': [vocab['[CLS]']], 'tokens': ['[CLS]']},
                '[SEP]': {'id': '[SEP]', 'ids': [vocab['[SEP]']], 'tokens': ['[SEP]']},
            },
        },
        'decoder': {'type': 'WordPiece', 'prefix': '##', 'cleanup': True},
        'model': {'type': 'WordPiece', 'unk_token': '[UNK]', 'continuing_subword_prefix': '##',
                  'max_input_chars_per_word': 100, 'vocab': vocab},
    }
    write_json(os.path.join(folder, 'tokenizer.json'), tokenizer)
    write_json(os.path.join(folder, 'tokenizer_config.json'), {
        'model_max_length': length, 'pad_token': '[PAD]', 'cls_token': '[CLS]', 'sep_token': '[SEP]',
        'unk_token': '[UNK]', 'mask_token': '[MASK]', 'do_lower_case': True, 'tokenize_chinese_chars': True,
        'tokenizer_class': 'BertTokenizer',
    })


# ---------------------------------------------------------------- model folders


def scheduler_config(prediction_type, spacing, steps_offset, clip_sample=False):
    return {
        '_class_name': 'PNDMScheduler', 'num_train_timesteps': 1000, 'beta_schedule': 'scaled_linear',
        'beta_start': 0.00085, 'beta_end': 0.012, 'prediction_type': prediction_type,
        'timestep_spacing': spacing, 'steps_offset': steps_offset, 'set_alpha_to_one': False,
        'skip_prk_steps': True, 'clip_sample': clip_sample, 'trained_betas': None,
    }


def make_stable_diffusion(name, *, ids_dtype, hidden, pad_token, prediction_type, spacing, timestep, encoder_output,
                          fp16, external_data):
    folder = os.path.join(ROOT, 'models', name)
    shutil.rmtree(folder, ignore_errors=True)
    length = 77
    ids_map, merges = write_clip_tokenizer(os.path.join(folder, 'tokenizer'), pad_token, length)
    write_json(os.path.join(folder, 'model_index.json'), {
        '_class_name': 'OnnxStableDiffusionPipeline', '_diffusers_version': '0.21.0',
        'feature_extractor': [None, None], 'requires_safety_checker': False, 'safety_checker': [None, None],
        'scheduler': ['diffusers', 'PNDMScheduler'], 'text_encoder': ['diffusers', 'OnnxRuntimeModel'],
        'tokenizer': ['transformers', 'CLIPTokenizer'], 'unet': ['diffusers', 'OnnxRuntimeModel'],
        'vae_decoder': ['diffusers', 'OnnxRuntimeModel'], 'vae_encoder': ['diffusers', 'OnnxRuntimeModel'],
    })
    write_json(os.path.join(folder, 'scheduler', 'scheduler_config.json'),
               scheduler_config(prediction_type, spacing, 1))
    ids_torch = torch.int32 if ids_dtype == 'int32' else torch.int64
    export(TextEncoder(length, hidden), (torch.zeros(2, length, dtype=ids_torch),),
           os.path.join(folder, 'text_encoder', 'model.onnx'), ['input_ids'], ['last_hidden_state', 'pooler_output'],
           {'input_ids': {0: 'batch'}, 'last_hidden_state': {0: 'batch'}, 'pooler_output': {0: 'batch'}})
    write_json(os.path.join(folder, 'text_encoder', 'config.json'), {'hidden_size': hidden, 'max_position_embeddings': length})

    scalar = timestep == 'scalar'
    if timestep == 'int64':
        t = torch.tensor([999, 999], dtype=torch.int64)
    elif scalar:
        t = torch.tensor(999.0)
    else:
        t = torch.tensor([999.0, 999.0])
    unet_axes = {'sample': {0: 'batch', 2: 'height', 3: 'width'}, 'encoder_hidden_states': {0: 'batch'},
                 'out_sample': {0: 'batch', 2: 'height', 3: 'width'}}
    if not scalar:
        unet_axes['timestep'] = {0: 'batch'}
    unet_path = os.path.join(folder, 'unet', 'model.onnx')
    export(UNet(hidden, scalar_timestep=scalar), (torch.randn(2, 4, 8, 8), t, torch.randn(2, length, hidden)),
           unet_path, ['sample', 'timestep', 'encoder_hidden_states'], ['out_sample'], unet_axes, external_data)
    write_json(os.path.join(folder, 'unet', 'config.json'), {
        'sample_size': 8, 'in_channels': 4, 'out_channels': 4, 'cross_attention_dim': hidden,
        'block_out_channels': [8, 8],
    })
    vae_config = {'sample_size': 64, 'scaling_factor': 0.18215, 'latent_channels': 4,
                  'block_out_channels': [8, 8, 8, 8]}
    export(VaeDecoder(8, squash=False), (torch.randn(1, 4, 8, 8),), os.path.join(folder, 'vae_decoder', 'model.onnx'),
           ['latent_sample'], ['sample'], {'latent_sample': {0: 'batch', 2: 'height', 3: 'width'},
                                           'sample': {0: 'batch', 2: 'height', 3: 'width'}})
    write_json(os.path.join(folder, 'vae_decoder', 'config.json'), vae_config)
    enc_channels = 8 if encoder_output == 'latent_parameters' else 4
    export(VaeEncoder(8, enc_channels), (torch.randn(1, 3, 64, 64),), os.path.join(folder, 'vae_encoder', 'model.onnx'),
           ['sample'], [encoder_output], {'sample': {0: 'batch', 2: 'height', 3: 'width'},
                                          encoder_output: {0: 'batch', 2: 'height', 3: 'width'}})
    write_json(os.path.join(folder, 'vae_encoder', 'config.json'), vae_config)
    if fp16:
        for part in ['text_encoder', 'unet', 'vae_decoder', 'vae_encoder']:
            convert_to_fp16(os.path.join(folder, part, 'model.onnx'))
    pad_id = ids_map[pad_token]
    return ids_map, merges, pad_id


def make_project_layout(name):
    """The project's own layout (models/emoji-ld/ contract): WordPiece tokenizer, L=16, image encoder, upscaler,
    32 px images with 8x8x4 latents (VAE factor 4)."""
    folder = os.path.join(ROOT, 'models', name)
    shutil.rmtree(folder, ignore_errors=True)
    length, hidden, pixels, factor = 16, 32, 32, 4
    write_wordpiece_tokenizer(os.path.join(folder, 'tokenizer'), length)
    write_json(os.path.join(folder, 'model_index.json'), {
        '_class_name': 'EmojiLatentDiffusionPipeline', 'scheduler': ['diffusers', 'DDIMScheduler'],
        'text_encoder': ['latentbot', 'OnnxRuntimeModel'], 'image_encoder': ['latentbot', 'OnnxRuntimeModel'],
        'tokenizer': ['tokenizers', 'Tokenizer'], 'unet': ['latentbot', 'OnnxRuntimeModel'],
        'vae_decoder': ['latentbot', 'OnnxRuntimeModel'], 'vae_encoder': ['latentbot', 'OnnxRuntimeModel'],
        'upscaler': ['latentbot', 'OnnxRuntimeModel'],
        'sample_size': pixels, 'latent_size': pixels // factor, 'max_length': length, 'hidden_size': hidden,
        'recommended': {'steps': 20, 'guidance_scale': 5.0, 'scheduler': 'DDIM'},
    })
    write_json(os.path.join(folder, 'scheduler', 'scheduler_config.json'), {
        '_class_name': 'DDIMScheduler', 'num_train_timesteps': 1000, 'beta_schedule': 'scaled_linear',
        'beta_start': 0.00085, 'beta_end': 0.012, 'prediction_type': 'epsilon', 'timestep_spacing': 'leading',
        'steps_offset': 1, 'set_alpha_to_one': False, 'clip_sample': False,
    })
    text_encoder = TextEncoder(length, hidden)
    export(text_encoder, (torch.zeros(2, length, dtype=torch.int64),),
           os.path.join(folder, 'text_encoder', 'model.onnx'), ['input_ids'], ['last_hidden_state', 'pooler_output'],
           {'input_ids': {0: 'batch', 1: 'sequence'}, 'last_hidden_state': {0: 'batch', 1: 'sequence'},
            'pooler_output': {0: 'batch'}})
    write_json(os.path.join(folder, 'text_encoder', 'config.json'), {'hidden_size': hidden, 'max_position_embeddings': length})
    export(ImageEncoder(length, hidden), (torch.randn(2, 3, pixels, pixels),),
           os.path.join(folder, 'image_encoder', 'model.onnx'), ['pixel_values'], ['last_hidden_state', 'image_embeds'],
           {'pixel_values': {0: 'batch'}, 'last_hidden_state': {0: 'batch'}, 'image_embeds': {0: 'batch'}})
    write_json(os.path.join(folder, 'image_encoder', 'config.json'),
               {'image_size': pixels, 'hidden_size': hidden, 'num_tokens': length})
    unet = UNet(hidden)
    export(unet, (torch.randn(2, 4, 8, 8), torch.tensor([999, 999], dtype=torch.int64),
                          torch.randn(2, length, hidden)),
           os.path.join(folder, 'unet', 'model.onnx'), ['sample', 'timestep', 'encoder_hidden_states'], ['out_sample'],
           {'sample': {0: 'batch', 2: 'height', 3: 'width'}, 'timestep': {0: 'batch'},
            'encoder_hidden_states': {0: 'batch'}, 'out_sample': {0: 'batch', 2: 'height', 3: 'width'}})
    write_json(os.path.join(folder, 'unet', 'config.json'),
               {'sample_size': 8, 'in_channels': 4, 'out_channels': 4, 'cross_attention_dim': hidden,
                'block_out_channels': [8, 8]})
    vae_config = {'sample_size': pixels, 'scaling_factor': 0.5, 'latent_channels': 4, 'block_out_channels': [8, 8, 8]}
    decoder = VaeDecoder(factor, squash=True)
    export(decoder, (torch.randn(1, 4, 8, 8),),
           os.path.join(folder, 'vae_decoder', 'model.onnx'), ['latent_sample'], ['sample'],
           {'latent_sample': {0: 'batch', 2: 'height', 3: 'width'}, 'sample': {0: 'batch', 2: 'height', 3: 'width'}})
    write_json(os.path.join(folder, 'vae_decoder', 'config.json'), vae_config)
    export(VaeEncoder(factor, 4), (torch.randn(1, 3, pixels, pixels),),
           os.path.join(folder, 'vae_encoder', 'model.onnx'), ['sample'], ['latent_sample'],
           {'sample': {0: 'batch', 2: 'height', 3: 'width'}, 'latent_sample': {0: 'batch', 2: 'height', 3: 'width'}})
    write_json(os.path.join(folder, 'vae_encoder', 'config.json'), vae_config)
    export(Upscaler(), (torch.rand(1, 3, pixels, pixels),), os.path.join(folder, 'upscaler', 'model.onnx'),
           ['image'], ['upscaled'], {'image': {0: 'batch', 2: 'height', 3: 'width'},
                                     'upscaled': {0: 'batch', 2: 'height', 3: 'width'}})
    write_pipeline_reference(text_encoder, unet, decoder, vae_config['scaling_factor'])


# ---------------------------------------------------------------- end-to-end reference (project layout)

MASK32 = 0xFFFFFFFF


def philox4x32(counter, key):
    """Philox4x32-10 (Salmon et al. 2011), written from the paper, independently of src/diffusion/rng.ts."""
    c0, c1, c2, c3 = counter
    k0, k1 = key
    for _ in range(10):
        p0 = 0xD2511F53 * c0
        p1 = 0xCD9E8D57 * c2
        c0, c1, c2, c3 = ((p1 >> 32) ^ c1 ^ k0) & MASK32, p1 & MASK32, ((p0 >> 32) ^ c3 ^ k1) & MASK32, p0 & MASK32
        k0 = (k0 + 0x9E3779B9) & MASK32
        k1 = (k1 + 0xBB67AE85) & MASK32
    return c0, c1, c2, c3


def gaussian(seed, stream, purpose, count):
    """Box-Muller over Philox blocks keyed (seed, stream), counter (block, purpose, 0, 0)."""
    out = np.zeros(count, dtype=np.float32)
    key = (seed & MASK32, (stream & MASK32) ^ ((seed >> 32) & MASK32))
    for block in range((count + 3) // 4):
        words = philox4x32((block, purpose, 0, 0), key)
        for pair in range(2):
            x, y = words[2 * pair], words[2 * pair + 1]
            radius = math.sqrt(-2.0 * math.log((x + 1) / 4294967296.0))
            angle = 2.0 * math.pi * (y / 4294967296.0)
            i = block * 4 + pair * 2
            if i < count:
                out[i] = radius * math.cos(angle)
            if i + 1 < count:
                out[i + 1] = radius * math.sin(angle)
    return out


REFERENCE_PROMPTS = [  # (text, WordPiece ids of the fixture vocabulary, normalized weight); sorted by text
    ('a blue dog', [2, 5, 7, 9, 3], 0.25),
    ('a red cat', [2, 5, 6, 8, 3], 0.75),
]


@torch.no_grad()
def write_pipeline_reference(text_encoder, unet, decoder, scaling_factor, seed=77, steps=4, guidance=5.0):
    """A 2x2 grid with DDIM + composable guidance computed in PyTorch, for the engine's end-to-end test:
    same model, same Philox noise (chaos 0: each image mixes its own stream with the grid's shared one)."""
    length, images, row = 16, 4, 4 * 8 * 8
    ids = [[2, 3]] + [p[1] for p in REFERENCE_PROMPTS]
    ids = torch.tensor([i + [0] * (length - len(i)) for i in ids], dtype=torch.int64)
    states = text_encoder(ids)[0]
    shared = gaussian(seed, 0xFFFF, 0, row)
    noise = np.stack([math.sqrt(0.5) * gaussian(seed, i, 0, row) + math.sqrt(0.5) * shared for i in range(images)])
    x = torch.from_numpy(noise.astype(np.float32)).reshape(images, 4, 8, 8)
    betas = torch.linspace(0.00085 ** 0.5, 0.012 ** 0.5, 1000, dtype=torch.float64) ** 2
    ac = torch.cumprod(1 - betas, 0)
    ratio = 1000 // steps
    ts = [k * ratio + 1 for k in reversed(range(steps))]  # 'leading' spacing, steps_offset 1
    ctx = torch.cat([states[k:k + 1].expand(images, -1, -1) for k in range(len(ids))])
    weights = [p[2] for p in REFERENCE_PROMPTS]
    for t in ts:
        out = unet(x.repeat(len(ids), 1, 1, 1), torch.full((images * len(ids),), t, dtype=torch.int64), ctx)
        e_u = out[:images]
        e = e_u + guidance * sum(w * (out[images * (k + 1):images * (k + 2)] - e_u) for k, w in enumerate(weights))
        a = ac[t]
        a_prev = ac[t - ratio] if t - ratio >= 0 else ac[0]
        x0 = (x.double() - (1 - a).sqrt() * e.double()) / a.sqrt()
        x = (a_prev.sqrt() * x0 + (1 - a_prev).sqrt() * e.double()).float()
    pixels = decoder(x / scaling_factor).clamp(-1, 1)
    rgb = ((pixels + 1) * 127.5).round().to(torch.uint8).permute(0, 2, 3, 1).reshape(images, -1)
    write_json(os.path.join(ROOT, 'pipeline-reference.json'), {
        'model': 'emoji-tiny', 'seed': seed, 'steps': steps, 'guidance_scale': guidance, 'scheduler': 'ddim',
        'chaos': 0, 'prompts': [{'text': p[0], 'weight': p[2]} for p in REFERENCE_PROMPTS],
        'latents': [round(v, 6) for v in x.reshape(-1).tolist()],
        'images': [bytes(r.tolist()).hex() for r in rgb],
    })


def main():
    torch.manual_seed(1234)
    reference = {}
    texts = ['a photo of a cat', 'An astronaut riding a horse on the moon!', '  red   and BLUE paint, dogs & cats ',
             'sunset over the sea 2024', '']
    long_text = ' '.join(['painting of mountains'] * 40)
    for name, kwargs in {
        # diffusers' convert_stable_diffusion_checkpoint_to_onnx.py: int32 ids, int64 timestep, latent_sample,
        # UNet weights in an external data file.
        'sd15-tiny': dict(ids_dtype='int32', hidden=768, pad_token='<|endoftext|>', prediction_type='epsilon',
                          spacing='leading', timestep='int64', encoder_output='latent_sample', fp16=False,
                          external_data=True),
        # Optimum export of SD 2.1 (768-v): int64 ids, pad 0 ('!'), v-prediction, latent_parameters, float timestep.
        'sd21-tiny': dict(ids_dtype='int64', hidden=1024, pad_token='!', prediction_type='v_prediction',
                          spacing='leading', timestep='float32', encoder_output='latent_parameters', fp16=False,
                          external_data=False),
        # The same as an fp16 export: float16 weights, inputs and outputs, 0-d float16 timestep.
        'sd21-fp16-tiny': dict(ids_dtype='int64', hidden=1024, pad_token='!', prediction_type='v_prediction',
                               spacing='trailing', timestep='scalar', encoder_output='latent_parameters', fp16=True,
                               external_data=False),
    }.items():
        ids_map, merges, pad_id = make_stable_diffusion(name, **kwargs)
        reference[name] = [{'text': t, 'ids': reference_clip_encode(t, ids_map, merges, 77, pad_id)}
                           for t in texts + [long_text]]
    make_project_layout('emoji-tiny')
    write_json(os.path.join(ROOT, 'tokenizer-reference.json'), reference)


if __name__ == '__main__':
    main()
