/** What the pipeline is asked to make, independent of Discord and of the prompt language. */

import type { RawImage } from '../images/raw-image.js';
import type { Progress as JobsProgress } from '../jobs/progress.js';
import type { SchedulerName } from './schedulers/index.js';

/** One weighted condition; weights are the parser's normalized ones (negative pushes away). */
export type Condition =
  | { kind: 'text'; text: string; weight: number }
  | { kind: 'image'; image: RawImage; weight: number };

/**
 * The art style of a job on a model with named styles: `--style` (a name), `--sref` (reference images)
 * or neither (the model's no-style tokens: the style is left to the noise), at `--sw` / 100.
 */
export interface StyleRequest {
  name: string | null;
  references: readonly RawImage[];
  weight: number;
}

/** img2img: start from this image, noised to `strength` (0 keeps it, 1 ignores it). */
export interface InitImage {
  image: RawImage;
  strength: number;
}

export interface GenerationRequest {
  conditions: readonly Condition[];
  /** 0 .. 2^32-1; with `images` it fully determines the output on one machine. */
  seed: number;
  /** Pixels; multiples of the model's size multiple. */
  width: number;
  height: number;
  steps: number;
  guidanceScale: number;
  scheduler: SchedulerName;
  /** Fraction of the steps to run (`--stop`); the current estimate is decoded when it ends early. */
  stop: number;
  /** 0-100 (`--chaos`): how much the grid images differ from each other. */
  chaos: number;
  /** Seamless tiling (`--tile`). */
  tile: boolean;
  init: InitImage | null;
  /** Paint only part of a canvas (Zoom Out, Pan, Vary (Region)); the rest stays the source's. */
  canvas?: Canvas;
  /** Style tokens for the whole job (models with `style_encoder/`); absent: the model's plain conditioning. */
  style?: StyleRequest;
  /** Which grid images (0-3) to make. Image i is the same whether made alone or with the others. */
  images: readonly number[];
}

/** A canvas the model paints only partly. */
export interface Canvas {
  /** The source placed on the canvas, at the request's size (what is not kept may hold anything). */
  image: RawImage;
  /** Per pixel of the request's size: 1 where the model paints, 0 where the source is kept. */
  mask: Float32Array;
}

export type { ProgressStage } from '../jobs/progress.js';

/**
 * The pipeline's progress: every step, with the grid's current estimate as a function, so a preview
 * costs nothing unless the caller takes it (it must, if at all, within the callback: the estimate moves on).
 * The picture comes at once (the linear latent map) or as a promise (a tiny decoder's ONNX run, started
 * with this step's estimate when the function is called).
 */
export type Progress = JobsProgress<() => RawImage | Promise<RawImage>>;

export type ProgressCallback = (progress: Progress) => void;

export interface GenerationResult {
  /** One image per requested index, at the model's resolution. */
  images: RawImage[];
  indices: number[];
  width: number;
  height: number;
  /** Things the caller should tell the user (e.g. an image prompt used as an init image). */
  notes: string[];
  timings: { totalMs: number; onnxMs: number; onnxRuns: number };
}

export class GenerationRequestError extends Error {
  override readonly name = 'GenerationRequestError';
}
