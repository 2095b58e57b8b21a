import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';

/**
 * What the bot needs to know about the model without loading it: enough to judge steps and sizes
 * against a server's policy and to describe the model to users.
 */
export interface ModelInfo {
  name: string;
  /** Denoising steps at `--q 1`. */
  baseSteps: number;
  /** Native square output in pixels. */
  baseSize: number;
  /** Output sides are multiples of this. */
  sizeMultiple: number;
  /** Whether image prompts steer the loop (an image encoder) or become init images (stock SD). */
  imagePrompts: 'encoder' | 'init-image';
}

function readJson(path: string): Record<string, unknown> {
  return existsSync(path) ? (JSON.parse(readFileSync(path, 'utf8')) as Record<string, unknown>) : {};
}

const numberOr = (value: unknown, fallback: number) =>
  typeof value === 'number' && value > 0 ? value : fallback;

export function readModelInfo(dir: string): ModelInfo {
  const index = readJson(join(dir, 'model_index.json'));
  const vae = readJson(join(dir, 'vae_decoder', 'config.json'));
  const unet = readJson(join(dir, 'unet', 'config.json'));
  const blocks = Array.isArray(vae['block_out_channels']) ? vae['block_out_channels'].length : 4;
  const vaeFactor = 2 ** Math.max(0, blocks - 1);
  const latentSize = numberOr(unet['sample_size'], 64);
  return {
    name:
      typeof index['name'] === 'string' ? index['name'] : (dir.split('/').filter(Boolean).pop() ?? 'model'),
    baseSteps: numberOr(index['default_steps'], 20),
    baseSize: numberOr(vae['sample_size'], latentSize * vaeFactor),
    sizeMultiple: vaeFactor,
    imagePrompts: existsSync(join(dir, 'image_encoder', 'model.onnx')) ? 'encoder' : 'init-image',
  };
}
