import type { CanvasSpec } from './canvas.js';

/**
 * The job description: what a parsed `/imagine` prompt, a button press or `/blend` turns into.
 * Plain JSON all the way down, so it travels through Redis and BullMQ unchanged.
 */

/** A text part of a multi-prompt (`space:: ship::2`). */
export interface TextPrompt {
  kind: 'text';
  text: string;
  /** The weight as written (1 when none was given). */
  weight: number;
  /** The weight after normalization (see `normalizeWeights`); this is what steers the sampler. */
  normalized: number;
}

/**
 * An image prompt. `url` is either an http(s) link typed by the user or an internal reference to an
 * earlier result, `job:<jobId>/<index>` (index 0-3 for grid images; the upscale of one keeps its index).
 */
export interface ImagePrompt {
  kind: 'image';
  url: string;
  weight: number;
  normalized: number;
}

export type WeightedPrompt = TextPrompt | ImagePrompt;

export type SpeedMode = 'fast' | 'relax' | 'turbo';

export interface AspectRatio {
  width: number;
  height: number;
}

/** Every `--parameter`, resolved to its value or its documented default. */
export interface PromptParams {
  aspect: AspectRatio;
  chaos: number;
  /** Terms from `--no`, also present in `prompts` as `term::-0.5`. */
  no: string[];
  quality: number;
  /** Unset until the bot assigns one, so a reroll can pick a fresh seed. */
  seed: number | null;
  stop: number;
  stylize: number;
  tile: boolean;
  weird: number;
  iw: number;
  repeat: number;
  mode: SpeedMode | null;
  /**
   * Model selectors typed out of habit (`--v 6`, `--niji`); recorded, see `notes`. `--style` names one of
   * the model's art styles where it has them (src/jobs/style.ts), else it is noted and ignored too.
   */
  version: string | null;
  niji: string | null;
  style: string | null;
  /**
   * Midjourney's newer parameters this model gives no meaning (`--sref`, `--cref`, `--p`, ...), by name
   * with their value as typed, so a prompt copied from Midjourney runs; each gets a note. Absent on
   * records made before they were accepted.
   */
  ignored?: Record<string, string>;
  /** `--zoom` 1-2: Custom Zoom's factor (the form prefills it); elsewhere it is noted and ignored. */
  zoom?: number;
  /** `--sref` image links: the style of these images (on a model with a style encoder). */
  sref?: string[];
  /** `--sw` 0-1000: how strongly `--style` / `--sref` hold (100 as written in the model's training). */
  sw?: number;
}

/** How an earlier image took part in making this job. */
export type ParentRole =
  | 'variation-strong'
  | 'variation-subtle'
  | 'upscale'
  | 'blend'
  | 'image-prompt'
  | 'reroll'
  /** The image asked for at a negative weight: away from it (the Loab move). */
  | 'opposite'
  /** Canvas actions: the image kept, the model painting around it or a part of it. */
  | 'zoom'
  | 'pan'
  | 'square'
  | 'region';

export interface ParentRef {
  jobId: string;
  /** Which image of the parent job (0-3), or null when the whole job is the parent (reroll). */
  index: number | null;
  role: ParentRole;
}

export interface JobDescription {
  /** The prompt as typed, after permutation expansion (empty for jobs made by buttons or /blend). */
  prompt: string;
  prompts: WeightedPrompt[];
  /** Sum of the written weights (Midjourney requires it to be > 0; a server policy decides here). */
  weightSum: number;
  params: PromptParams;
  parents: ParentRef[];
  /** Things the user should know that are not errors, e.g. an ignored `--v`. */
  notes: string[];
  /**
   * An upscale: the parent image's own size (before it was resampled for display), which the upscaler
   * doubles, and whether to add detail with a light img2img pass at the new size (Upscale (Creative)).
   */
  upscale?: { width: number; height: number; creative?: boolean };
  /** A canvas action (Zoom Out, Pan, Make Square, Vary (Region)) on the parent's image. */
  canvas?: CanvasSpec;
  /** A /describe job: how many of the best-matching descriptions to pass over (🔄 asks for four more). */
  describe?: { skip: number };
}
