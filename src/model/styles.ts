import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { z } from 'zod';
import { ModelFolderError, parse, readJson } from './config.js';

/**
 * A model's art styles (`--style`, `--sref`, `--sw`): a `style_encoder/` folder with the named styles'
 * conditioning tokens (styles.json) and, optionally, the encoder that turns a reference image into such
 * tokens (model.onnx). Every row of the UNet batch gets the same style tokens appended to its content
 * tokens, so guidance steers the content while the style holds (models/recipe/README.md).
 */
export interface ModelStyles {
  /** The names `--style` accepts, in the order of the encoder's `style_logits`. */
  names: string[];
  /** Style tokens per row: [tokens, hidden]. */
  tokens: number;
  hidden: number;
  /** Whether a reference image can be turned into style tokens (`--sref`). */
  hasEncoder: boolean;
  /** Side of the square image the style encoder reads. */
  imageSize: number;
  /** Each named style's tokens, [tokens * hidden] row-major. */
  named: ReadonlyMap<string, Float32Array>;
  /** The learned no-style tokens ("any style"), the same layout. */
  none: Float32Array;
  /**
   * Weight of the style guidance row (`guidance_weight` in style_encoder/config.json, 0 when absent): with
   * a style asked for, one more UNet row per image, the empty prompt with the job's style tokens, steers the
   * style on its own (Composable Diffusion's sum gains w (e_style - e_u)).
   */
  guidanceWeight: number;
  /**
   * Latent style guidance (`style_encoder/latent_probe.json`), null when the folder has none: a small
   * classifier of the styles from latents, exported as its gradient; each step moves a styled job's clean
   * estimate along it (src/diffusion/latent-style-guidance.ts).
   */
  latentProbe: LatentProbe | null;
}

export interface LatentProbe {
  /** The ONNX file, inside style_encoder/. */
  path: string;
  /**
   * How far the clean estimate moves per step for `--style`, in units of the gradient's RMS over one
   * image's latent.
   */
  scale: number;
  /**
   * The same for `--sref` (`sref_scale`, else `scale`). A reference image's style tokens already carry
   * some of its content, and a pull on top costs the asked concept more than under `--style`.
   */
  srefScale: number;
}

const STYLE_NAME = z.string().regex(/^[a-z0-9][a-z0-9-]{0,31}$/);

const TOKENS = z.array(z.array(z.number().finite()));

const stylesFileSchema = z.object({
  names: z.array(STYLE_NAME).min(1).max(64),
  num_tokens: z.number().int().positive().max(64),
  hidden_size: z.number().int().positive().max(8192),
  tokens: z.record(z.string(), TOKENS),
  null: TOKENS,
});

const latentProbeSchema = z.object({
  file: z.string().regex(/^[A-Za-z0-9_-]{1,64}\.onnx$/),
  styles: z.array(STYLE_NAME),
  scale: z.number().min(0).max(2),
  sref_scale: z.number().min(0).max(2).optional(),
});

const encoderConfigSchema = z.object({
  image_size: z.number().int().positive().max(1024).default(32),
  guidance_weight: z.number().min(0).max(8).default(0),
});

/** The styles a folder ships, or null for a model with one style (no `style_encoder/styles.json`). */
export function readModelStyles(dir: string): ModelStyles | null {
  const folder = join(dir, 'style_encoder');
  const stylesPath = join(folder, 'styles.json');
  if (!existsSync(stylesPath)) return null;
  const file = parse(stylesFileSchema, readJson(stylesPath), stylesPath);
  const flat = (rows: number[][], what: string): Float32Array => {
    if (rows.length !== file.num_tokens || rows.some((row) => row.length !== file.hidden_size))
      throw new ModelFolderError(
        `${stylesPath}: ${what} must be ${file.num_tokens} x ${file.hidden_size} numbers`,
      );
    return Float32Array.from(rows.flat());
  };
  const named = new Map(
    file.names.map((name) => {
      const rows = file.tokens[name];
      if (!rows) throw new ModelFolderError(`${stylesPath}: no tokens for the style "${name}"`);
      return [name, flat(rows, name)] as const;
    }),
  );
  const none = flat(file.null, 'null');
  const hasEncoder = existsSync(join(folder, 'model.onnx'));
  const configPath = join(folder, 'config.json');
  // no config.json: the schema's defaults
  const config = parse(encoderConfigSchema, existsSync(configPath) ? readJson(configPath) : {}, configPath);
  const probePath = join(folder, 'latent_probe.json');
  let latentProbe: LatentProbe | null = null;
  if (existsSync(probePath)) {
    const probe = parse(latentProbeSchema, readJson(probePath), probePath);
    // the probe's logits are in the order of its `styles`; the engine's targets in the order of `names`
    if (probe.styles.join() !== file.names.join())
      throw new ModelFolderError(`${probePath}: styles must be ${file.names.join(', ')} in that order`);
    latentProbe = {
      path: join(folder, probe.file),
      scale: probe.scale,
      srefScale: probe.sref_scale ?? probe.scale,
    };
  }
  return {
    names: file.names,
    tokens: file.num_tokens,
    hidden: file.hidden_size,
    hasEncoder,
    imageSize: config.image_size,
    named,
    none,
    guidanceWeight: config.guidance_weight,
    latentProbe,
  };
}
