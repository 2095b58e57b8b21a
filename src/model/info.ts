import { existsSync } from 'node:fs';
import { basename, join } from 'node:path';
import { type Distillation, type GuidanceMode, readModelConfig } from './config.js';
import { baseStepsFor } from './steps.js';
import { readModelStyles } from './styles.js';

/**
 * What the bot, the policy and the workers need to know about the model without loading it: enough to judge steps and sizes
 * against a server's policy and to describe the model to users. Read from the same configuration files,
 * by the same reader, as the engine uses, so the bot's limits match what the workers generate.
 */
export interface ModelInfo {
  name: string;
  /** Denoising steps at `--q 1`: the folder's own, else its family's (`baseStepsFor`). */
  baseSteps: number;
  /** The family's distillation: `--q` maps to steps in its range (`stepsForQuality`). */
  distilled: Distillation;
  /** How it takes guidance: whether a job costs an unconditional UNet row (render deadlines count it). */
  guidance: GuidanceMode;
  /** Native square output in pixels. */
  baseSize: number;
  /** Output sides are multiples of this. */
  sizeMultiple: number;
  /** Whether image prompts steer the loop (an image encoder) or become init images (stock SD). */
  imagePrompts: 'encoder' | 'init-image';
  /**
   * Longest side an input image (link or upload) is kept at: what the image encoder reads, or an init
   * image at the widest aspect ratio (4:1 at the native area is twice the native side). Anything larger
   * would only cost Redis memory and worker decoding time.
   */
  inputSide: number;
  /** Whether /describe works: an image encoder in the text encoder's space and a vocabulary to rank. */
  canDescribe: boolean;
  /** The art styles `--style` names (empty: one style), and whether `--sref` images can set the style. */
  styles: string[];
  styleReference: boolean;
  /** The style guidance row's weight (style_encoder/config.json), 0 when the folder has none. */
  styleGuidance: number;
  /**
   * model_index.json's `candidate_selection.at` when the folder can use it (it has an image encoder to
   * score with): fresh grids run two starts per image up to this fraction of the steps. Null otherwise.
   */
  chooseStartsAt: number | null;
}

export function readModelInfo(dir: string): ModelInfo {
  const config = readModelConfig(dir);
  const styles = readModelStyles(dir);
  return {
    name: basename(dir.replace(/\/+$/, '')),
    baseSteps: config.defaults.steps ?? baseStepsFor(config.family.distilled),
    distilled: config.family.distilled,
    guidance: config.family.guidance,
    baseSize: config.sampleSize,
    sizeMultiple: config.vaeFactor * config.latentMultiple,
    // The SDXL conditioning takes text states only: image prompts become the init image there.
    imagePrompts: config.hasImageEncoder && config.family.base !== 'sdxl' ? 'encoder' : 'init-image',
    inputSide: Math.max(config.imageEncoderSize ?? 0, 2 * config.sampleSize),
    canDescribe: config.hasImageEncoder && existsSync(join(dir, 'describe', 'vocabulary.json')),
    styles: styles?.names ?? [],
    styleReference: styles?.hasEncoder ?? false,
    styleGuidance: styles?.guidanceWeight ?? 0,
    chooseStartsAt: config.hasImageEncoder ? (config.candidateSelection?.at ?? null) : null,
  };
}
