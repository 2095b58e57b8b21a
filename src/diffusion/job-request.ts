/**
 * JobDescription (from the prompt parser or a button) -> what the engine runs. Every mapping is here:
 *
 * | parameter   | meaning in this engine |
 * |-------------|------------------------|
 * | prompts     | one condition each, with the parser's normalized weight (text and image alike) |
 * | --stylize s | guidance g = 1 + (g0 - 1) * sqrt(s / 100): s = 100 (default) is the model's own g0, 0 is g = 1 (no extra push), 1000 about 3.2x the push |
 * | --q q       | steps = stepsForQuality: round(model steps * q), at least 1; Turbo 1-4, LCM 4-8 |
 * | --ar w:h    | pixels via dimensionsFor (native area, sides rounded to the model's multiple) |
 * | --stop p    | run p% of the steps and decode the current clean estimate |
 * | --chaos c   | noise shared among the four images falls from 50% (c = 0) to 0 (c = 100) and each image's guidance is jittered by up to 2^(±c/100) |
 * | --tile      | latents rolled by a random offset around each UNet call + circular padding at decode |
 * | --seed      | the Philox key; image i uses stream (seed, i) |
 * | --iw        | already in the image prompts' weights (the parser applies it) |
 * | --weird     | ignored, with a note: this model has no notion of "unusual" to turn up |
 * | --style s   | on a model with styles: that style's tokens appended to every row (style-conditioning.ts) |
 * | --sref links| the style encoder's tokens of the images (their mean); --style wins when both are given |
 * | --sw w      | the style tokens at null + (w / 100) (T - null): 0 no style, 100 as trained |
 * | variation-strong / -subtle parent | img2img from that image, strength 0.75 / 0.45 |
 * | upscale parent | 2x with the model's upscaler, else sharp (Lanczos) |
 */

import { type DecodeLimits, decodeImage, resizeCover } from '../images/decode.js';
import { ImageInputError } from '../images/errors.js';
import { type RawImage, rawImage } from '../images/raw-image.js';
import { type CanvasLayout, canvasLayout, paintMask } from '../jobs/canvas.js';
import type { EngineTaskName } from '../jobs/kinds.js';
import { variationParent } from '../jobs/parents.js';
import { type ImageSlot, jobImageRef } from '../jobs/refs.js';
import type { JobDescription } from '../jobs/spec.js';
import { DEFAULT_STYLE_WEIGHT, fitStyle } from '../jobs/style.js';
import { dimensionsFor } from '../model/dimensions.js';
import { stepsForQuality } from '../model/steps.js';
import type { ModelDefaults } from './pipeline.js';
import {
  type Canvas,
  type Condition,
  type GenerationRequest,
  GenerationRequestError,
  type InitImage,
  type StyleRequest,
} from './request.js';
import type { SchedulerName } from './schedulers/index.js';

export const VARIATION_STRENGTH = { 'variation-strong': 0.75, 'variation-subtle': 0.45 } as const;

export interface JobInputs {
  /**
   * The seed of a job whose description has none (the CLI and the evaluation draw their own); the seed in
   * the description, which the bot fixes before queueing, comes first.
   */
  seed?: number;
  /**
   * Bytes of every image the job refers to, keyed by the prompt's `url` (http(s) links and
   * `job:<jobId>/<index>`) and by `job:<jobId>/<index>` for parents. The engine never fetches anything.
   */
  images: Readonly<Record<string, Uint8Array>>;
  /** Which engine task runs the job (the kind's, src/jobs/kinds.ts); inferred when absent. */
  task?: EngineTaskName;
  /** Overrides of the model's defaults (the CLI's --steps / --scheduler). */
  steps?: number;
  scheduler?: SchedulerName;
  decodeLimits?: Partial<DecodeLimits>;
}

export type EngineTask =
  | { kind: 'generate'; request: GenerationRequest; notes: string[] }
  | {
      kind: 'upscale';
      image: RawImage;
      index: number;
      notes: string[];
      /** Upscale (Creative): the job's prompt, to run over the upscaled image at CREATIVE_STRENGTH. */
      creative?: GenerationRequest;
    };

/** How much of the upscaled image Upscale (Creative) repaints: detail, not a new picture. */
export const CREATIVE_STRENGTH = 0.3;

export function guidanceForStylize(stylize: number, modelGuidance: number): number {
  return 1 + (modelGuidance - 1) * Math.sqrt(Math.max(0, stylize) / 100);
}

async function imageFor(inputs: JobInputs, key: string): Promise<RawImage> {
  const bytes = inputs.images[key];
  if (!bytes) throw new ImageInputError('missing', `no image bytes were supplied for ${key}`);
  return decodeImage(bytes, inputs.decodeLimits);
}

/** Decodes and checks every image first, so bad inputs fail before any inference. */
export async function taskFromJob(
  job: JobDescription,
  inputs: JobInputs,
  model: ModelDefaults,
): Promise<EngineTask> {
  const notes: string[] = [];
  const upscale = job.parents.find((p) => p.role === 'upscale');
  if (upscale) {
    if (upscale.index === null)
      throw new ImageInputError('missing', 'an upscale needs one image of the parent grid');
    let image = await imageFor(inputs, jobImageRef(upscale.jobId, upscale.index as ImageSlot));
    // Stored images are resampled for display; the upscaler doubles the image's own size (recorded by
    // the bot; a record from before that is taken to be at the model's native area).
    const own = job.upscale ?? nativeArea(image, model.size);
    if (own.width < image.width || own.height < image.height)
      image = await resizeCover(image, own.width, own.height);
    if (!job.upscale?.creative) return { kind: 'upscale', image, index: upscale.index, notes };
    const { request } = await generationOf({ ...job, parents: [] }, inputs, model, notes);
    return { kind: 'upscale', image, index: upscale.index, notes, creative: request };
  }
  return generationOf(job, inputs, model, notes);
}

/** The generation a job asks for: its conditions, init image or canvas, size, steps and guidance. */
async function generationOf(
  job: JobDescription,
  inputs: JobInputs,
  model: ModelDefaults,
  notes: string[],
): Promise<Extract<EngineTask, { kind: 'generate' }>> {
  const conditions: Condition[] = [];
  for (const prompt of job.prompts) {
    if (prompt.kind === 'text')
      conditions.push({ kind: 'text', text: prompt.text, weight: prompt.normalized });
    else
      conditions.push({
        kind: 'image',
        image: await imageFor(inputs, prompt.url),
        weight: prompt.normalized,
      });
  }
  let init: InitImage | null = null;
  const variation = variationParent(job);
  if (variation && variation.index !== null) {
    const strength = VARIATION_STRENGTH[variation.role as keyof typeof VARIATION_STRENGTH];
    init = {
      image: await imageFor(inputs, jobImageRef(variation.jobId, variation.index as ImageSlot)),
      strength,
    };
  }
  // The bot fitted the style to the model it knows; the worker fits it to the model it loaded.
  const fitted = fitStyle(job, model);
  notes.push(...fitted.notes.slice(job.notes.length));
  const { params } = fitted;
  const style = await styleOf(params, inputs, model);
  const seed = params.seed ?? inputs.seed;
  if (seed === undefined) throw new GenerationRequestError('the job has no seed');
  if (params.weird > 0) notes.push('--weird is ignored by this engine.');
  let size = dimensionsFor(params.aspect, model.size, model.sizeMultiple);
  const asked = params.aspect.width / params.aspect.height;
  const made = size.width / size.height;
  if (!job.canvas && Math.abs(made / asked - 1) > 0.02) {
    notes.push(
      `--ar ${params.aspect.width}:${params.aspect.height} became ${size.width}x${size.height} ` +
        `(${ratioText(size.width, size.height)}): sides are multiples of ${model.sizeMultiple} px at this model's size`,
    );
  }
  let canvas: Canvas | undefined;
  const onCanvas = job.parents.find((p) => CANVAS_ROLES.has(p.role));
  if (job.canvas && onCanvas && onCanvas.index !== null) {
    const source = await imageFor(inputs, jobImageRef(onCanvas.jobId, onCanvas.index as ImageSlot));
    const layout = canvasLayout(job.canvas, source, model.size, model.sizeMultiple);
    size = { width: layout.width, height: layout.height };
    canvas = { image: await placeOnCanvas(source, layout), mask: paintMask(job.canvas, layout) };
  }
  const request: GenerationRequest = {
    conditions,
    seed,
    width: size.width,
    height: size.height,
    steps: inputs.steps ?? stepsForQuality(params.quality, model.steps, model.distilled),
    guidanceScale: guidanceForStylize(params.stylize, model.guidanceScale),
    scheduler: inputs.scheduler ?? model.scheduler,
    stop: Math.min(1, Math.max(0.01, params.stop / 100)),
    chaos: Math.min(100, Math.max(0, params.chaos)),
    tile: params.tile,
    init,
    ...(canvas ? { canvas } : {}),
    ...(style ? { style } : {}),
    images: [0, 1, 2, 3],
  };
  return { kind: 'generate', request, notes };
}

/**
 * `--style` / `--sref` at `--sw` on a model with styles; nothing without either, so the model's plain
 * conditioning runs and the style is left to each image's noise.
 */
async function styleOf(
  params: JobDescription['params'],
  inputs: JobInputs,
  model: ModelDefaults,
): Promise<StyleRequest | undefined> {
  if (model.styles.length === 0 || (params.style === null && !params.sref)) return undefined;
  const references = [];
  for (const link of params.style === null ? (params.sref ?? []) : [])
    references.push(await imageFor(inputs, link));
  return { name: params.style, references, weight: (params.sw ?? DEFAULT_STYLE_WEIGHT) / 100 };
}

/** A ratio in its smallest whole terms, e.g. 440x264 -> 5:3. */
function ratioText(width: number, height: number): string {
  const gcd = (a: number, b: number): number => (b === 0 ? a : gcd(b, a % b));
  const d = gcd(width, height);
  return `${width / d}:${height / d}`;
}

function nativeArea(image: RawImage, size: number): { width: number; height: number } {
  const shrink = Math.min(1, Math.sqrt((size * size) / (image.width * image.height)));
  return {
    width: Math.max(1, Math.round(image.width * shrink)),
    height: Math.max(1, Math.round(image.height * shrink)),
  };
}

const CANVAS_ROLES = new Set(['zoom', 'pan', 'square', 'region']);

/** The source scaled into its place on a white canvas of the layout's size. */
async function placeOnCanvas(source: RawImage, layout: CanvasLayout): Promise<RawImage> {
  const { place } = layout;
  const scaled = await resizeCover(source, place.width, place.height);
  const data = new Uint8Array(layout.width * layout.height * 3).fill(255);
  for (let y = 0; y < place.height; y++) {
    const row = scaled.data.subarray(y * place.width * 3, (y + 1) * place.width * 3);
    data.set(row, ((place.y + y) * layout.width + place.x) * 3);
  }
  return rawImage(layout.width, layout.height, data);
}

/** The "parameters" text stored in every PNG (AUTOMATIC1111's layout: prompt line, then key: value pairs). */
export function parametersText(job: JobDescription, task: EngineTask, model: string): string {
  if (task.kind === 'upscale') return `${job.prompt}\nUpscale: 2x, Image: ${task.index + 1}, Model: ${model}`;
  const r = task.request;
  const fields = [
    `Steps: ${r.steps}`,
    `Sampler: ${r.scheduler}`,
    `CFG scale: ${Number(r.guidanceScale.toFixed(4))}`,
    `Seed: ${r.seed}`,
    `Size: ${r.width}x${r.height}`,
    `Model: ${model}`,
    `Chaos: ${r.chaos}`,
    `Stop: ${Math.round(r.stop * 100)}`,
    `Tile: ${r.tile}`,
  ];
  if (r.init) fields.push(`Denoising strength: ${r.init.strength}`);
  return `${job.prompt}\n${fields.join(', ')}`;
}
