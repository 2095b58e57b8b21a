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
});
export type SchedulerConfig = z.infer<typeof schedulerConfigSchema>;

const vaeConfigSchema = z.object({
  sample_size: z.number().int().positive().optional(),
  scaling_factor: z.number().positive().default(0.18215),
  block_out_channels: z.array(z.number()).min(1).default([128, 256, 512, 512]),
});

const unetConfigSchema = z.object({
  sample_size: z.number().int().positive().optional(),
  cross_attention_dim: z.number().int().positive().optional(),
  block_out_channels: z.array(z.number()).min(1).optional(),
});

const imageEncoderConfigSchema = z.object({
  image_size: z.number().int().positive(),
  hidden_size: z.number().int().positive().optional(),
  num_tokens: z.number().int().positive().optional(),
});

const modelIndexSchema = z
  .object({
    // Optional defaults a model folder may ship (the bot's ModelInfo reads `default_steps` too).
    default_steps: z.number().int().positive().optional(),
    default_guidance_scale: z.number().nonnegative().optional(),
    default_scheduler: z.string().optional(),
    // The project's model ships {steps, guidance_scale, scheduler} under `recommended`.
    recommended: z
      .object({
        steps: z.number().int().positive().optional(),
        guidance_scale: z.number().nonnegative().optional(),
        scheduler: z.string().optional(),
      })
      .optional(),
  })
  .passthrough();

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
  hasVaeEncoder: boolean;
  hasImageEncoder: boolean;
  hasUpscaler: boolean;
}

function readJson(path: string): unknown {
  try {
    return JSON.parse(readFileSync(path, 'utf8'));
  } catch (error) {
    throw new ModelFolderError(`cannot read ${path}: ${(error as Error).message}`);
  }
}

function readOptionalJson(path: string): unknown {
  return existsSync(path) ? readJson(path) : {};
}

function parse<T>(schema: z.ZodType<T>, value: unknown, path: string): T {
  const result = schema.safeParse(value);
  if (!result.success) throw new ModelFolderError(`${path}: ${z.prettifyError(result.error)}`);
  return result.data;
}

export function readModelConfig(dir: string): ModelConfig {
  for (const required of ['unet/model.onnx', 'text_encoder/model.onnx', 'vae_decoder/model.onnx']) {
    if (!existsSync(join(dir, required))) throw new ModelFolderError(`${dir} has no ${required}`);
  }
  const schedulerPath = join(dir, 'scheduler', 'scheduler_config.json');
  const scheduler = parse(schedulerConfigSchema, readJson(schedulerPath), schedulerPath);
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
    hasVaeEncoder: existsSync(join(dir, 'vae_encoder', 'model.onnx')),
    hasImageEncoder,
    hasUpscaler: existsSync(join(dir, 'upscaler', 'model.onnx')),
  };
}
