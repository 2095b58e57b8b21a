/**
 * The configs of a diffusers/Optimum ONNX folder, validated. Unknown keys are kept out; missing ones get
 * diffusers' defaults so that older exports load.
 */
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { z } from 'zod';

export class ModelFolderError extends Error {
  override readonly name = 'ModelFolderError';
}

export const schedulerConfigSchema = z.object({
  num_train_timesteps: z.number().int().positive().default(1000),
  beta_schedule: z.enum(['scaled_linear', 'linear']).default('scaled_linear'),
  beta_start: z.number().positive().default(0.00085),
  beta_end: z.number().positive().default(0.012),
  prediction_type: z.enum(['epsilon', 'v_prediction']).default('epsilon'),
  timestep_spacing: z.enum(['leading', 'trailing', 'linspace']).default('leading'),
  steps_offset: z.number().int().nonnegative().default(0),
  set_alpha_to_one: z.boolean().default(false),
  // LCMScheduler: the distillation schedule the few steps are taken from, and the boundary-condition scale.
  original_inference_steps: z.number().int().positive().default(50),
  timestep_scaling: z.number().positive().default(10),
});
export type SchedulerConfig = z.infer<typeof schedulerConfigSchema>;

/** `_class_name` of scheduler_config.json (read beside the numeric schema, which the samplers take). */
const schedulerClassSchema = z.object({ _class_name: z.string().optional() });

const vaeConfigSchema = z.object({
  sample_size: z.number().int().positive().optional(),
  scaling_factor: z.number().positive().default(0.18215),
  block_out_channels: z.array(z.number()).min(1).default([128, 256, 512, 512]),
  // diffusers' AutoencoderKL default; SDXL's VAE overflows in float16 and says so, the fp16-fixed VAE says false.
  force_upcast: z.boolean().default(true),
});

/** A config value diffusers writes as null when unused (SD 1.5's addition_embed_type, time_cond_proj_dim). */
const nullablePositive = z.number().int().positive().nullable().default(null);

const unetConfigSchema = z.object({
  sample_size: z.number().int().positive().optional(),
  cross_attention_dim: z.number().int().positive().optional(),
  block_out_channels: z.array(z.number()).min(1).optional(),
  in_channels: z.number().int().positive().default(4),
  // SDXL: 'text_time' (pooled text embeds + time_ids added to the time embedding).
  addition_embed_type: z.string().nullable().default(null),
  addition_time_embed_dim: nullablePositive,
  projection_class_embeddings_input_dim: nullablePositive,
  // LCM-distilled UNets: width of the guidance-scale embedding fed as `timestep_cond`.
  time_cond_proj_dim: nullablePositive,
});

const textEncoderConfigSchema = z.object({
  hidden_size: z.number().int().positive().optional(),
  num_hidden_layers: z.number().int().positive().optional(),
  projection_dim: z.number().int().positive().optional(),
});

const imageEncoderConfigSchema = z.object({
  image_size: z.number().int().positive(),
  hidden_size: z.number().int().positive().optional(),
  num_tokens: z.number().int().positive().optional(),
});

const modelIndexSchema = z
  .object({
    _class_name: z.string().optional(),
    // SDXL: an empty negative prompt is encoded as zeros, as the model was trained.
    force_zeros_for_empty_prompt: z.boolean().optional(),
    // SDXL refiner: time_ids carry an aesthetic score instead of the target size.
    requires_aesthetics_score: z.boolean().optional(),
    // Optional defaults a model folder may ship (the bot's ModelInfo reads `default_steps` too).
    default_steps: z.number().int().positive().optional(),
    default_guidance_scale: z.number().nonnegative().optional(),
    default_scheduler: z.string().optional(),
    // Choosing among two starts per grid image at this fraction of the steps, by the model's own
    // text-image similarity (src/diffusion/candidate-selection.ts); absent: one start each.
    candidate_selection: z.object({ at: z.number().gt(0).lt(1) }).optional(),
    // The project's model ships {steps, guidance_scale, scheduler} under `recommended`.
    recommended: z
      .object({
        steps: z.number().int().positive().optional(),
        guidance_scale: z.number().nonnegative().optional(),
        scheduler: z.string().optional(),
        // For a folder whose configs cannot tell (a merged LCM-LoRA, a Turbo model with another scheduler).
        distilled: z.enum(['none', 'lcm', 'turbo']).optional(),
      })
      .optional(),
  })
  .passthrough();

/** The architecture a folder exports: SD 1.x/2.x (one CLIP text encoder) or SDXL (two, plus text_time). */
export type ModelBase = 'sd' | 'sdxl';
/** What a model was distilled for: not at all, LCM (consistency, 4-8 steps) or Turbo (ADD, 1-4 steps). */
export type Distillation = 'none' | 'lcm' | 'turbo';
/**
 * How the model expects guidance: classifier-free guidance (an unconditional row beside each condition),
 * `embedded` (LCM: the scale goes in as the UNet's `timestep_cond`, one row per condition), or `none`
 * (guidance-distilled, Turbo and LCM-LoRA: the conditional prediction alone; weighted or negative parts
 * still need the unconditional row, at its cost).
 */
export type GuidanceMode = 'cfg' | 'embedded' | 'none';

export interface ModelFamily {
  base: ModelBase;
  distilled: Distillation;
  /** A 9-channel UNet: latents + mask + masked-image latents. */
  inpainting: boolean;
  guidance: GuidanceMode;
  /** 'sd', 'sdxl', 'sd-turbo', 'sdxl-turbo', 'sd-lcm', 'sd-inpainting', ... */
  name: string;
}

/** The UNet's conditioning inputs as its config describes them (the session has the final word on names). */
export interface UnetConditioning {
  inChannels: number;
  crossAttentionDim: number | null;
  /** 'text_time' on SDXL: the UNet takes `text_embeds` and `time_ids`. */
  additionEmbedType: string | null;
  /** SDXL: each time id is embedded this wide (256); time_ids count = (input dim - text_embeds dim) / this. */
  additionTimeEmbedDim: number | null;
  projectionClassEmbeddingsInputDim: number | null;
  /** LCM: width of `timestep_cond` (the guidance-scale embedding). */
  timeCondProjDim: number | null;
}

export interface TextEncoderInfo {
  /** Folder of the ONNX model: `text_encoder` or `text_encoder_2`. */
  folder: string;
  /** Its tokenizer folder (`tokenizer_2` when the folder ships one for the second encoder). */
  tokenizer: string;
  hiddenSize: number | null;
  layers: number | null;
  projectionDim: number | null;
}

export interface ModelConfig {
  dir: string;
  scheduler: SchedulerConfig;
  /** Latents are multiplied by this after encoding and divided before decoding. */
  scalingFactor: number;
  /** Pixels per latent cell (2^(len(vae block_out_channels) - 1)). */
  vaeFactor: number;
  /** Latent sizes must be a multiple of this (the UNet's downsamplings). */
  latentMultiple: number;
  /** The model's native image side in pixels. */
  sampleSize: number;
  imageEncoderSize: number | null;
  defaults: { steps: number | null; guidanceScale: number | null; scheduler: string | null };
  /** model_index.json's `candidate_selection`: the fraction of the steps at which starts are chosen. */
  candidateSelection: { at: number } | null;
  hasVaeEncoder: boolean;
  hasImageEncoder: boolean;
  hasUpscaler: boolean;
  /** scheduler_config.json's `_class_name` (e.g. 'LCMScheduler', 'EulerDiscreteScheduler'), null if none. */
  schedulerClass: string | null;
  /** model_index.json's `_class_name` (e.g. 'StableDiffusionXLPipeline'), null if none. */
  pipelineClass: string | null;
  family: ModelFamily;
  unet: UnetConditioning;
  /** `text_encoder`, then `text_encoder_2` when the folder has one (SDXL). */
  textEncoders: TextEncoderInfo[];
  /** The VAE config asks for float32 decoding when the weights are float16 (diffusers' force_upcast). */
  vaeForceUpcast: boolean;
  /** SDXL: an empty negative prompt is zeros rather than the encoding of "". */
  forceZerosForEmptyPrompt: boolean;
  /** SDXL refiner layout: time_ids carry an aesthetic score (5 values) instead of the target size (6). */
  requiresAestheticsScore: boolean;
}

/** A model folder's JSON file; unreadable or malformed is a ModelFolderError naming it. */
export function readJson(path: string): unknown {
  try {
    return JSON.parse(readFileSync(path, 'utf8'));
  } catch (error) {
    throw new ModelFolderError(`cannot read ${path}: ${(error as Error).message}`);
  }
}

function readOptionalJson(path: string): unknown {
  return existsSync(path) ? readJson(path) : {};
}

/** `value` checked against `schema`; a mismatch is a ModelFolderError naming the file. */
export function parse<T>(schema: z.ZodType<T>, value: unknown, path: string): T {
  const result = schema.safeParse(value);
  if (!result.success) throw new ModelFolderError(`${path}: ${z.prettifyError(result.error)}`);
  return result.data;
}

/** What a folder's configs say about its family; `distilled` from model_index's `recommended` wins. */
export function deriveFamily(input: {
  pipelineClass: string | null;
  schedulerClass: string | null;
  scheduler: Pick<SchedulerConfig, 'timestep_spacing'>;
  unet: Pick<UnetConditioning, 'inChannels' | 'additionEmbedType' | 'timeCondProjDim'>;
  hasTextEncoder2: boolean;
  distilled?: Distillation | undefined;
}): ModelFamily {
  const pipeline = (input.pipelineClass ?? '').toLowerCase();
  const scheduler = (input.schedulerClass ?? '').toLowerCase();
  const base: ModelBase =
    input.unet.additionEmbedType === 'text_time' ||
    input.hasTextEncoder2 ||
    /XL/.test(input.pipelineClass ?? '')
      ? 'sdxl'
      : 'sd';
  // LCM: its own scheduler, a guidance-embedding input or its pipeline. Turbo (ADD): an Euler scheduler with
  // trailing spacing, as SD-Turbo and SDXL-Turbo ship (a plain SD export keeps leading/linspace spacing).
  const lcm =
    scheduler.startsWith('lcm') ||
    input.unet.timeCondProjDim !== null ||
    pipeline.includes('latentconsistency');
  const turbo = scheduler.startsWith('euler') && input.scheduler.timestep_spacing === 'trailing';
  const distilled: Distillation = input.distilled ?? (lcm ? 'lcm' : turbo ? 'turbo' : 'none');
  const inpainting = input.unet.inChannels === 9;
  const guidance: GuidanceMode =
    distilled === 'none'
      ? 'cfg'
      : distilled === 'lcm' && input.unet.timeCondProjDim !== null
        ? 'embedded'
        : 'none';
  const name = [base, inpainting ? 'inpainting' : null, distilled === 'none' ? null : distilled]
    .filter(Boolean)
    .join('-');
  return { base, distilled, inpainting, guidance, name };
}

export function readModelConfig(dir: string): ModelConfig {
  for (const required of ['unet/model.onnx', 'text_encoder/model.onnx', 'vae_decoder/model.onnx']) {
    if (!existsSync(join(dir, required))) throw new ModelFolderError(`${dir} has no ${required}`);
  }
  const schedulerPath = join(dir, 'scheduler', 'scheduler_config.json');
  const schedulerJson = readJson(schedulerPath);
  const scheduler = parse(schedulerConfigSchema, schedulerJson, schedulerPath);
  const schedulerClass = parse(schedulerClassSchema, schedulerJson, schedulerPath)._class_name ?? null;
  const decoderPath = join(dir, 'vae_decoder', 'config.json');
  const vae = parse(vaeConfigSchema, readOptionalJson(decoderPath), decoderPath);
  const unetPath = join(dir, 'unet', 'config.json');
  const unet = parse(unetConfigSchema, readOptionalJson(unetPath), unetPath);
  const indexPath = join(dir, 'model_index.json');
  const index = parse(modelIndexSchema, readOptionalJson(indexPath), indexPath);
  const vaeFactor = 2 ** (vae.block_out_channels.length - 1);
  const hasImageEncoder = existsSync(join(dir, 'image_encoder', 'model.onnx'));
  let imageEncoderSize: number | null = null;
  if (hasImageEncoder) {
    const path = join(dir, 'image_encoder', 'config.json');
    imageEncoderSize = parse(imageEncoderConfigSchema, readJson(path), path).image_size;
  }
  const latentMultiple = unet.block_out_channels ? 2 ** (unet.block_out_channels.length - 1) : 1;
  const sampleSize = vae.sample_size ?? (unet.sample_size ?? 64) * vaeFactor;
  const conditioning: UnetConditioning = {
    inChannels: unet.in_channels,
    crossAttentionDim: unet.cross_attention_dim ?? null,
    additionEmbedType: unet.addition_embed_type,
    additionTimeEmbedDim: unet.addition_time_embed_dim,
    projectionClassEmbeddingsInputDim: unet.projection_class_embeddings_input_dim,
    timeCondProjDim: unet.time_cond_proj_dim,
  };
  const textEncoders = readTextEncoders(dir);
  const pipelineClass = index._class_name ?? null;
  return {
    dir,
    scheduler,
    scalingFactor: vae.scaling_factor,
    vaeFactor,
    latentMultiple,
    sampleSize,
    imageEncoderSize,
    defaults: {
      steps: index.default_steps ?? index.recommended?.steps ?? null,
      guidanceScale: index.default_guidance_scale ?? index.recommended?.guidance_scale ?? null,
      scheduler: index.default_scheduler ?? index.recommended?.scheduler ?? null,
    },
    candidateSelection: index.candidate_selection ?? null,
    hasVaeEncoder: existsSync(join(dir, 'vae_encoder', 'model.onnx')),
    hasImageEncoder,
    hasUpscaler: existsSync(join(dir, 'upscaler', 'model.onnx')),
    schedulerClass,
    pipelineClass,
    family: deriveFamily({
      pipelineClass,
      schedulerClass,
      scheduler,
      unet: conditioning,
      hasTextEncoder2: textEncoders.length > 1,
      distilled: index.recommended?.distilled,
    }),
    unet: conditioning,
    textEncoders,
    vaeForceUpcast: vae.force_upcast,
    forceZerosForEmptyPrompt: index.force_zeros_for_empty_prompt ?? false,
    requiresAestheticsScore: index.requires_aesthetics_score ?? false,
  };
}

function readTextEncoders(dir: string): TextEncoderInfo[] {
  const encoders: TextEncoderInfo[] = [];
  for (const [folder, tokenizer] of [
    ['text_encoder', 'tokenizer'],
    ['text_encoder_2', 'tokenizer_2'],
  ] as const) {
    if (!existsSync(join(dir, folder, 'model.onnx'))) continue;
    const path = join(dir, folder, 'config.json');
    const config = parse(textEncoderConfigSchema, readOptionalJson(path), path);
    encoders.push({
      folder,
      tokenizer: existsSync(join(dir, tokenizer)) ? tokenizer : 'tokenizer',
      hiddenSize: config.hidden_size ?? null,
      layers: config.num_hidden_layers ?? null,
      projectionDim: config.projection_dim ?? null,
    });
  }
  return encoders;
}
