#!/usr/bin/python3
"""Writes tiny random-weight ONNX models with the input/output signatures of Optimum's exports of the model
families people run beside SD 1.5 / 2.1, under test/fixtures/models/:

    sdxl-tiny              SDXL base 1.0             optimum-cli export onnx --task text-to-image (fp32)
    sdxl-turbo-fp16-tiny   SDXL-Turbo                the same with --dtype fp16 --device cuda
    sd-turbo-tiny          SD-Turbo (SD 2.1 layout)  --task text-to-image (fp32)
    sd15-lcm-tiny          LCM-distilled SD 1.5      --task text-to-image (fp32), LCM_Dreamshaper_v7 layout
    sd15-inpaint-tiny      SD 1.5 inpainting         --task inpainting (fp32)

The older fixtures (sd15-tiny, sd21-tiny, sd21-fp16-tiny, emoji-tiny) come from scripts/make-fixture-models.py,
whose helpers (tokenizer writer, VAE nets, export, fp16 conversion) this script reuses; it does not touch them.
Run with Debian's python:
    /usr/bin/python3 scripts/make-family-fixtures.py

What is the real signature and where it was read (Optimum's exporter source, not guessed):
  huggingface/optimum-onnx @ 1939f27a (2026-04-15), optimum/exporters/onnx/model_configs.py, and
  huggingface/optimum @ 83c88b8f, optimum/exporters/utils.py + optimum/utils/input_generators.py:
  - `_get_submodels_for_export_diffusion`: for StableDiffusionXL* pipelines both text encoders are exported with
    `output_hidden_states = True`; the VAE encoder returns `latent_parameters` (the distribution's mean and
    logvar, 2 x latent channels); the VAE decoder takes `latent_sample` and returns `sample`.
  - `CLIPTextOnnxConfig` (CLIPTextModel: text_encoder): input `input_ids` {0: batch_size, 1: sequence_length};
    outputs `last_hidden_state` {0: batch_size, 1: sequence_length}, `pooler_output` {0: batch_size}, and with
    hidden states `hidden_states.0` .. `hidden_states.<num_hidden_layers>` {0: batch_size, 1: sequence_length}.
  - `CLIPTextWithProjectionOnnxConfig` (CLIPTextModelWithProjection: SDXL's text_encoder_2): outputs
    `text_embeds` {0: batch_size, 1: sequence_length} (sic: the second axis is the projection, Optimum names it
    so), `last_hidden_state`, `hidden_states.0..N`. The ids dtype is the exporter's int_dtype: int64.
  - `UNetOnnxConfig`: `sample` {0: batch_size, 2: height, 3: width}, `timestep` {} (0-d), `encoder_hidden_states`
    {0: batch_size, 1: sequence_length}; `text_embeds` {0: batch_size} and `time_ids` {0: batch_size} when the
    UNet config's addition_embed_type is "text_time"; `timestep_cond` {0: batch_size} when time_cond_proj_dim is
    set; output `out_sample` {0: batch_size, 2: height, 3: width}. Input order: the forward signature
    (sample, timestep, encoder_hidden_states, timestep_cond), then text_embeds, time_ids (`ordered_inputs`).
  - `DummyTimestepInputGenerator` (Optimum >= 1.24, commit a7a807c9 "SD3 and Flux support"): timestep is a 0-d
    tensor of the float dtype (float32, float16 with --dtype fp16); text_embeds [B, text_encoder_projection_dim]
    (text_encoder_2's projection_dim for SDXL), time_ids [B, 6] (5 with requires_aesthetics_score, the refiner),
    timestep_cond [B, time_cond_proj_dim], all of the float dtype. Before 1.24 the timestep was int64 [steps]
    (sd15-tiny's diffusers-script layout already covers an int64 [B] timestep).
  - `VaeEncoderOnnxConfig` / `VaeDecoderOnnxConfig`: sample {0: batch_size, 2: sample_height, 3: sample_width}
    -> latent_parameters {0: batch_size, 2: "sample_height / 8", 3: "sample_width / 8"}; latent_sample
    {0: batch_size, 2: latent_height, 3: latent_width} -> sample {..., "latent_height * 8", ...}.
  - optimum/exporters/onnx/convert.py: the folder gets each submodel's own config (`save_config`), the
    scheduler's `save_pretrained`, the tokenizers, and `model.save_config(output)`: model_index.json is the
    PyTorch pipeline's (e.g. `StableDiffusionXLPipeline` with `"vae": ["diffusers", "AutoencoderKL"]`), not an
    Onnx* class. `--dtype fp16` loads the pipeline in float16 and makes every float input/output float16.
  - tasks: `text-to-image` (synonyms stable-diffusion, stable-diffusion-xl, latent-consistency) and
    `inpainting` (optimum/exporters/tasks.py).
  diffusers @ 58eb52c0 (src/diffusers): LCMScheduler's config keys and defaults (original_inference_steps 50,
  timestep_scaling 10.0, set_alpha_to_one True), EulerDiscreteScheduler's (interpolation_type, use_karras_sigmas,
  timestep_spacing), the LCM pipeline's guidance embedding fed as `timestep_cond` (time_cond_proj_dim wide),
  SDXL's time_ids order (original size h, w; crop top, left; target size h, w).

What is tiny, not real: channel counts, layer internals, vocabulary (ids folded into 512 rows), spatial sizes
(64 px images, 8 x 8 latents) and the config fields that describe them (block_out_channels, sample_size).
Widths that are part of a signature are real: text hidden sizes 768 / 1024 / 1280, SDXL cross-attention 2048,
text_embeds 1280, time_ids 6, timestep_cond 256, UNet in_channels 9 for inpainting, and so are the hidden-state
output counts (13 for CLIP ViT-L, 33 for OpenCLIP bigG). The opset is 14 (this torch's exporter; Optimum's
default is 18), which changes no name, dtype or shape.

Not read from the Hub (no network here), written from the model cards and memory and marked as such in
docs/models.md: the exact scheduler_config.json of each Hub repo (SDXL base: EulerDiscreteScheduler, leading,
steps_offset 1; SDXL-Turbo: EulerAncestralDiscreteScheduler, trailing; SD-Turbo: EulerDiscreteScheduler,
trailing, epsilon; LCM_Dreamshaper_v7: LCMScheduler, original_inference_steps 50; SD 1.5 inpainting:
DDIMScheduler) and `_diffusers_version`. The diffusers docs do state SDXL-Turbo's trailing spacing, 1-4 steps
and guidance_scale 0.0.
"""
import importlib.util
import os
import shutil

import torch

HERE = os.path.dirname(os.path.abspath(__file__))
_spec = importlib.util.spec_from_file_location('fixture_base', os.path.join(HERE, 'make-fixture-models.py'))
base = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(base)

ROOT = base.ROOT
LENGTH = 77
DIFFUSERS_VERSION = '0.35.2'  # whatever diffusers the exporter ran; nothing reads it
TINY = 8


# ---------------------------------------------------------------- tiny networks with the real signatures


class ClipText(torch.nn.Module):
    """CLIPTextModel / CLIPTextModelWithProjection outputs, in Optimum's order, from a tiny token mixer.

    `layers` shared mixing steps give hidden_states.0 (embeddings) .. hidden_states.<layers>; last_hidden_state
    is the final state after a layer norm (as CLIP's final_layer_norm), so it differs from the last hidden state.
    The position table is sliced to the sequence, so the export takes any length up to 77 like CLIP's."""

    def __init__(self, hidden, layers, *, projection_dim=None, hidden_states=False):
        super().__init__()
        self.layers = layers
        self.hidden_states = hidden_states
        self.embed = torch.nn.Embedding(base.SMALL_VOCAB, TINY)
        self.pos = torch.nn.Parameter(torch.randn(LENGTH, TINY) * 0.1)
        self.mix = torch.nn.Linear(TINY, TINY)
        self.norm = torch.nn.LayerNorm(TINY)
        self.proj = torch.nn.Linear(TINY, hidden)
        self.text_projection = (
            torch.nn.Linear(TINY, projection_dim, bias=False) if projection_dim is not None else None
        )

    def forward(self, input_ids):
        ids = input_ids.long()
        h = self.embed(ids % base.SMALL_VOCAB) + self.pos[: ids.shape[1]]
        states = [h]
        for _ in range(self.layers):
            h = torch.tanh(self.mix(h) + h.mean(dim=1, keepdim=True))
            states.append(h)
        final = self.norm(h)
        last = self.proj(final)
        rows = torch.arange(ids.shape[0])
        eos = ids.argmax(dim=-1)  # CLIP pools at the first EOS (the highest id)
        hidden = [self.proj(s) for s in states] if self.hidden_states else []
        if self.text_projection is not None:
            return (self.text_projection(final[rows, eos]), last, *hidden)
        return (last, last[rows, eos], *hidden)


class CondUNet(torch.nn.Module):
    """The fixtures' UNet (conv_in + timestep embedding -> one down/up pair -> cross-attention -> conv_out) with
    the optional conditioning inputs of UNet2DConditionModel:
      text_time (SDXL): text_embeds [B, P] and time_ids [B, 6] (each id sinusoid-embedded) added to the time
        embedding, as diffusers' add_embedding does;
      time_cond (LCM): timestep_cond [B, D] projected and added to the timestep sinusoid, as TimestepEmbedding's
        cond_proj does;
      in_channels 9 (inpainting): latents, mask and masked-image latents concatenated.
    Every input changes the output, so a test can tell that each one is fed."""

    def __init__(self, cross_dim, *, in_channels=4, text_embeds_dim=None, time_ids=6, time_cond_dim=None):
        super().__init__()
        c = TINY
        self.kind = 'text_time' if text_embeds_dim else ('time_cond' if time_cond_dim else 'plain')
        self.time = torch.nn.Linear(16, c)
        self.conv_in = torch.nn.Conv2d(in_channels, c, 3, padding=1)
        self.down = torch.nn.Conv2d(c, c, 3, stride=2, padding=1)
        self.up = torch.nn.Conv2d(c, c, 3, padding=1)
        self.q = torch.nn.Linear(c, c)
        self.k = torch.nn.Linear(cross_dim, c)  # one wide projection (the widths are real, so keep it to one)
        self.v = torch.nn.Linear(c, c)
        self.o = torch.nn.Linear(c, c)
        self.conv_out = torch.nn.Conv2d(c, 4, 3, padding=1)
        if text_embeds_dim:
            self.add = torch.nn.Linear(text_embeds_dim + time_ids * 8, c)
        if time_cond_dim:
            self.cond = torch.nn.Linear(time_cond_dim, 16, bias=False)

    @staticmethod
    def sinusoid(t, count):
        freqs = torch.exp(-torch.log(torch.tensor(10000.0)) * torch.arange(count, dtype=torch.float32) / count)
        angles = t.float().unsqueeze(-1) * freqs
        return torch.cat([torch.sin(angles), torch.cos(angles)], dim=-1)

    def forward(self, sample, timestep, encoder_hidden_states, extra_a=None, extra_b=None):
        c = TINY
        t_in = self.sinusoid(timestep, 8)  # [16] for a 0-d timestep
        if self.kind == 'time_cond':
            t_in = t_in + self.cond(extra_a)  # [B, 16]
        temb = torch.nn.functional.silu(self.time(t_in))
        if self.kind == 'text_time':
            ids = self.sinusoid(extra_b, 4).flatten(1)  # [B, 6 * 8]
            temb = temb + torch.nn.functional.silu(self.add(torch.cat([extra_a, ids], dim=-1)))
        temb = temb.reshape(-1, c, 1, 1)
        h = self.conv_in(sample) + temb
        d = torch.nn.functional.silu(self.down(h))
        h = h + self.up(torch.nn.functional.interpolate(d, scale_factor=2.0, mode='nearest'))
        b, _, hh, ww = h.shape
        tokens = h.flatten(2).transpose(1, 2)
        k = self.k(encoder_hidden_states)
        v = self.v(torch.tanh(k))
        attn = torch.softmax(self.q(tokens) @ k.transpose(1, 2) / (c ** 0.5), dim=-1)
        tokens = tokens + self.o(attn @ v)
        h = tokens.transpose(1, 2).reshape(b, c, hh, ww)
        return self.conv_out(torch.nn.functional.silu(h))


# ---------------------------------------------------------------- configs as the exporter writes them


def clip_text_config(architecture, hidden, layers, projection_dim, act, pad_token_id):
    """The transformers CLIPTextConfig keys a text_encoder/config.json carries (sizes real, vocabulary real)."""
    return {
        'architectures': [architecture], 'model_type': 'clip_text_model', 'hidden_size': hidden,
        'intermediate_size': hidden * 4, 'num_hidden_layers': layers, 'num_attention_heads': hidden // 64,
        'projection_dim': projection_dim, 'max_position_embeddings': LENGTH, 'vocab_size': 49408,
        'hidden_act': act, 'bos_token_id': 0, 'eos_token_id': 2, 'pad_token_id': pad_token_id,
        'layer_norm_eps': 1e-05, 'torch_dtype': 'float32',
    }


def unet_config(cross_dim, *, in_channels=4, addition_embed_type=None, addition_time_embed_dim=None,
                projection_class_embeddings_input_dim=None, time_cond_proj_dim=None, extra=None):
    """UNet2DConditionModel's config keys; conditioning widths real, channels and sample size tiny."""
    cfg = {
        '_class_name': 'UNet2DConditionModel', '_diffusers_version': DIFFUSERS_VERSION, 'act_fn': 'silu',
        'addition_embed_type': addition_embed_type, 'addition_time_embed_dim': addition_time_embed_dim,
        'block_out_channels': [TINY, TINY], 'center_input_sample': False, 'class_embed_type': None,
        'cross_attention_dim': cross_dim, 'down_block_types': ['CrossAttnDownBlock2D', 'DownBlock2D'],
        'flip_sin_to_cos': True, 'freq_shift': 0, 'in_channels': in_channels, 'layers_per_block': 2,
        'norm_num_groups': 32, 'out_channels': 4,
        'projection_class_embeddings_input_dim': projection_class_embeddings_input_dim, 'sample_size': 8,
        'time_cond_proj_dim': time_cond_proj_dim, 'up_block_types': ['UpBlock2D', 'CrossAttnUpBlock2D'],
    }
    cfg.update(extra or {})
    return cfg


def vae_config(scaling_factor, force_upcast):
    return {
        '_class_name': 'AutoencoderKL', '_diffusers_version': DIFFUSERS_VERSION, 'act_fn': 'silu',
        'block_out_channels': [TINY] * 4, 'down_block_types': ['DownEncoderBlock2D'] * 4,
        'force_upcast': force_upcast, 'in_channels': 3, 'latent_channels': 4, 'layers_per_block': 2,
        'norm_num_groups': 32, 'out_channels': 3, 'sample_size': 64, 'scaling_factor': scaling_factor,
        'up_block_types': ['UpDecoderBlock2D'] * 4,
    }


def euler_config(class_name, spacing, prediction_type='epsilon'):
    """EulerDiscreteScheduler / EulerAncestralDiscreteScheduler as the SD/SDXL repos save them."""
    cfg = {
        '_class_name': class_name, '_diffusers_version': DIFFUSERS_VERSION, 'beta_end': 0.012,
        'beta_schedule': 'scaled_linear', 'beta_start': 0.00085, 'clip_sample': False,
        'interpolation_type': 'linear', 'num_train_timesteps': 1000, 'prediction_type': prediction_type,
        'sample_max_value': 1.0, 'set_alpha_to_one': False, 'skip_prk_steps': True, 'steps_offset': 1,
        'timestep_spacing': spacing, 'trained_betas': None,
    }
    if class_name == 'EulerDiscreteScheduler':
        cfg['use_karras_sigmas'] = False
    return cfg


def lcm_config():
    return {
        '_class_name': 'LCMScheduler', '_diffusers_version': DIFFUSERS_VERSION, 'beta_end': 0.012,
        'beta_schedule': 'scaled_linear', 'beta_start': 0.00085, 'clip_sample': False, 'clip_sample_range': 1.0,
        'dynamic_thresholding_ratio': 0.995, 'num_train_timesteps': 1000, 'original_inference_steps': 50,
        'prediction_type': 'epsilon', 'rescale_betas_zero_snr': False, 'sample_max_value': 1.0,
        'set_alpha_to_one': True, 'steps_offset': 1, 'thresholding': False, 'timestep_scaling': 10.0,
        'timestep_spacing': 'leading', 'trained_betas': None,
    }


def ddim_config():
    return {
        '_class_name': 'DDIMScheduler', '_diffusers_version': DIFFUSERS_VERSION, 'beta_end': 0.012,
        'beta_schedule': 'scaled_linear', 'beta_start': 0.00085, 'clip_sample': False,
        'num_train_timesteps': 1000, 'prediction_type': 'epsilon', 'set_alpha_to_one': False,
        'steps_offset': 1, 'trained_betas': None,
    }


def sd_model_index(class_name, scheduler_class, *, sdxl=False):
    index = {'_class_name': class_name, '_diffusers_version': DIFFUSERS_VERSION}
    if sdxl:
        index.update({'add_watermarker': None, 'force_zeros_for_empty_prompt': True})
    else:
        index.update({'requires_safety_checker': False, 'safety_checker': [None, None]})
    index.update({
        'feature_extractor': [None, None], 'image_encoder': [None, None],
        'scheduler': ['diffusers', scheduler_class],
        'text_encoder': ['transformers', 'CLIPTextModel'], 'tokenizer': ['transformers', 'CLIPTokenizer'],
        'unet': ['diffusers', 'UNet2DConditionModel'], 'vae': ['diffusers', 'AutoencoderKL'],
    })
    if sdxl:
        index.update({'text_encoder_2': ['transformers', 'CLIPTextModelWithProjection'],
                      'tokenizer_2': ['transformers', 'CLIPTokenizer']})
    return dict(sorted(index.items()))


# ---------------------------------------------------------------- export in Optimum's names and axes

TEXT_AXES = {0: 'batch_size', 1: 'sequence_length'}


def export_text_encoder(folder, part, module, *, with_projection, layers, hidden_states):
    outputs = ['text_embeds', 'last_hidden_state'] if with_projection else ['last_hidden_state', 'pooler_output']
    if hidden_states:
        outputs += [f'hidden_states.{i}' for i in range(layers + 1)]
    axes = {'input_ids': TEXT_AXES}
    for name in outputs:
        axes[name] = {0: 'batch_size'} if name == 'pooler_output' else TEXT_AXES
    base.export(module, (torch.zeros(2, LENGTH, dtype=torch.int64),), os.path.join(folder, part, 'model.onnx'),
                ['input_ids'], outputs, axes)


def export_unet(folder, module, cross_dim, *, in_channels=4, text_embeds_dim=None, time_cond_dim=None):
    args = [torch.randn(2, in_channels, 8, 8), torch.tensor(999.0), torch.randn(2, LENGTH, cross_dim)]
    names = ['sample', 'timestep', 'encoder_hidden_states']
    axes = {'sample': {0: 'batch_size', 2: 'height', 3: 'width'}, 'encoder_hidden_states': TEXT_AXES,
            'out_sample': {0: 'batch_size', 2: 'height', 3: 'width'}}
    if time_cond_dim:
        args.append(torch.randn(2, time_cond_dim))
        names.append('timestep_cond')
        axes['timestep_cond'] = {0: 'batch_size'}
    if text_embeds_dim:
        args += [torch.randn(2, text_embeds_dim), torch.tensor([[1024.0, 1024.0, 0.0, 0.0, 1024.0, 1024.0]] * 2)]
        names += ['text_embeds', 'time_ids']
        axes['text_embeds'] = {0: 'batch_size'}
        axes['time_ids'] = {0: 'batch_size'}
    base.export(module, tuple(args), os.path.join(folder, 'unet', 'model.onnx'), names, ['out_sample'], axes)


def export_vae(folder):
    base.export(base.VaeDecoder(8, squash=False), (torch.randn(1, 4, 8, 8),),
                os.path.join(folder, 'vae_decoder', 'model.onnx'), ['latent_sample'], ['sample'],
                {'latent_sample': {0: 'batch_size', 2: 'latent_height', 3: 'latent_width'},
                 'sample': {0: 'batch_size', 2: 'latent_height * 8', 3: 'latent_width * 8'}})
    base.export(base.VaeEncoder(8, 8), (torch.randn(1, 3, 64, 64),),
                os.path.join(folder, 'vae_encoder', 'model.onnx'), ['sample'], ['latent_parameters'],
                {'sample': {0: 'batch_size', 2: 'sample_height', 3: 'sample_width'},
                 'latent_parameters': {0: 'batch_size', 2: 'sample_height / 8', 3: 'sample_width / 8'}})


def start(name):
    folder = os.path.join(ROOT, 'models', name)
    shutil.rmtree(folder, ignore_errors=True)
    return folder


def finish(folder, parts, fp16):
    if fp16:
        for part in parts:
            base.convert_to_fp16(os.path.join(folder, part, 'model.onnx'))


# ---------------------------------------------------------------- the families


def make_sdxl(name, *, scheduler, fp16):
    """SDXL base 1.0 / SDXL-Turbo: CLIP ViT-L (768, 12 layers) + OpenCLIP bigG (1280, 32 layers, projection 1280),
    UNet cross-attention 2048 (768 + 1280 concatenated), text_embeds 1280, time_ids 6 (2816 = 1280 + 6 x 256),
    VAE scaling factor 0.13025 with force_upcast (the SDXL VAE overflows in float16)."""
    folder = start(name)
    base.write_clip_tokenizer(os.path.join(folder, 'tokenizer'), '<|endoftext|>', LENGTH)
    base.write_clip_tokenizer(os.path.join(folder, 'tokenizer_2'), '!', LENGTH)
    base.write_json(os.path.join(folder, 'model_index.json'),
                    sd_model_index('StableDiffusionXLPipeline', scheduler['_class_name'], sdxl=True))
    base.write_json(os.path.join(folder, 'scheduler', 'scheduler_config.json'), scheduler)
    export_text_encoder(folder, 'text_encoder', ClipText(768, 12, hidden_states=True), with_projection=False,
                        layers=12, hidden_states=True)
    base.write_json(os.path.join(folder, 'text_encoder', 'config.json'),
                    dict(clip_text_config('CLIPTextModel', 768, 12, 768, 'quick_gelu', 1), output_hidden_states=True))
    export_text_encoder(folder, 'text_encoder_2', ClipText(1280, 32, projection_dim=1280, hidden_states=True),
                        with_projection=True, layers=32, hidden_states=True)
    base.write_json(os.path.join(folder, 'text_encoder_2', 'config.json'),
                    dict(clip_text_config('CLIPTextModelWithProjection', 1280, 32, 1280, 'gelu', 1),
                         output_hidden_states=True))
    export_unet(folder, CondUNet(2048, text_embeds_dim=1280), 2048, text_embeds_dim=1280)
    base.write_json(os.path.join(folder, 'unet', 'config.json'), unet_config(
        2048, addition_embed_type='text_time', addition_time_embed_dim=256,
        projection_class_embeddings_input_dim=2816,
        extra={'addition_embed_type_num_heads': 64, 'transformer_layers_per_block': [1, 2, 10],
               'use_linear_projection': True, 'attention_head_dim': [5, 10, 20]}))
    export_vae(folder)
    for part in ['vae_decoder', 'vae_encoder']:
        base.write_json(os.path.join(folder, part, 'config.json'), vae_config(0.13025, True))
    finish(folder, ['text_encoder', 'text_encoder_2', 'unet', 'vae_decoder', 'vae_encoder'], fp16)


def make_sd_turbo(name):
    """SD-Turbo: the SD 2.1 layout (OpenCLIP ViT-H text encoder, 1024 wide, 23 layers, pad '!'), distilled for
    1-4 steps without guidance; EulerDiscreteScheduler with trailing spacing."""
    folder = start(name)
    base.write_clip_tokenizer(os.path.join(folder, 'tokenizer'), '!', LENGTH)
    base.write_json(os.path.join(folder, 'model_index.json'),
                    sd_model_index('StableDiffusionPipeline', 'EulerDiscreteScheduler'))
    base.write_json(os.path.join(folder, 'scheduler', 'scheduler_config.json'),
                    euler_config('EulerDiscreteScheduler', 'trailing'))
    export_text_encoder(folder, 'text_encoder', ClipText(1024, 23), with_projection=False, layers=23,
                        hidden_states=False)
    base.write_json(os.path.join(folder, 'text_encoder', 'config.json'),
                    clip_text_config('CLIPTextModel', 1024, 23, 512, 'gelu', 1))
    export_unet(folder, CondUNet(1024), 1024)
    base.write_json(os.path.join(folder, 'unet', 'config.json'),
                    unet_config(1024, extra={'use_linear_projection': True, 'attention_head_dim': [5, 10, 20, 20]}))
    export_vae(folder)
    for part in ['vae_decoder', 'vae_encoder']:
        base.write_json(os.path.join(folder, part, 'config.json'), vae_config(0.18215, True))


def make_lcm(name):
    """LCM-distilled SD 1.5 (SimianLuo/LCM_Dreamshaper_v7 layout): CLIP ViT-L, UNet with timestep_cond [B, 256]
    (the guidance-scale embedding), LCMScheduler with original_inference_steps 50."""
    folder = start(name)
    base.write_clip_tokenizer(os.path.join(folder, 'tokenizer'), '<|endoftext|>', LENGTH)
    base.write_json(os.path.join(folder, 'model_index.json'),
                    sd_model_index('LatentConsistencyModelPipeline', 'LCMScheduler'))
    base.write_json(os.path.join(folder, 'scheduler', 'scheduler_config.json'), lcm_config())
    export_text_encoder(folder, 'text_encoder', ClipText(768, 12), with_projection=False, layers=12,
                        hidden_states=False)
    base.write_json(os.path.join(folder, 'text_encoder', 'config.json'),
                    clip_text_config('CLIPTextModel', 768, 12, 768, 'quick_gelu', 1))
    export_unet(folder, CondUNet(768, time_cond_dim=256), 768, time_cond_dim=256)
    base.write_json(os.path.join(folder, 'unet', 'config.json'), unet_config(768, time_cond_proj_dim=256))
    export_vae(folder)
    for part in ['vae_decoder', 'vae_encoder']:
        base.write_json(os.path.join(folder, part, 'config.json'), vae_config(0.18215, True))


def make_inpainting(name):
    """SD 1.5 inpainting: the UNet takes 9 channels (4 latents + 1 mask + 4 masked-image latents)."""
    folder = start(name)
    base.write_clip_tokenizer(os.path.join(folder, 'tokenizer'), '<|endoftext|>', LENGTH)
    base.write_json(os.path.join(folder, 'model_index.json'),
                    sd_model_index('StableDiffusionInpaintPipeline', 'DDIMScheduler'))
    base.write_json(os.path.join(folder, 'scheduler', 'scheduler_config.json'), ddim_config())
    export_text_encoder(folder, 'text_encoder', ClipText(768, 12), with_projection=False, layers=12,
                        hidden_states=False)
    base.write_json(os.path.join(folder, 'text_encoder', 'config.json'),
                    clip_text_config('CLIPTextModel', 768, 12, 768, 'quick_gelu', 1))
    export_unet(folder, CondUNet(768, in_channels=9), 768, in_channels=9)
    base.write_json(os.path.join(folder, 'unet', 'config.json'), unet_config(768, in_channels=9))
    export_vae(folder)
    for part in ['vae_decoder', 'vae_encoder']:
        base.write_json(os.path.join(folder, part, 'config.json'), vae_config(0.18215, True))


def main():
    torch.manual_seed(4321)
    make_sdxl('sdxl-tiny', scheduler=euler_config('EulerDiscreteScheduler', 'leading'), fp16=False)
    make_sdxl('sdxl-turbo-fp16-tiny', scheduler=euler_config('EulerAncestralDiscreteScheduler', 'trailing'),
              fp16=True)
    make_sd_turbo('sd-turbo-tiny')
    make_lcm('sd15-lcm-tiny')
    make_inpainting('sd15-inpaint-tiny')


if __name__ == '__main__':
    main()
