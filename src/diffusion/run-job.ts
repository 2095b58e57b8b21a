/**
 * One job end to end, by its engine task: generate (decode inputs -> sample -> PNGs), upscale, or
 * describe (text). The inference process calls this. The tasks are one table, as transformers.js keeps its
 * task registry: a new kind of job is an entry in src/jobs/kinds.ts and a handler here.
 */

import { decodeImage, resizeCover } from '../images/decode.js';
import { forDisplay } from '../images/grid.js';
import { encodePng } from '../images/png.js';
import { renderGrid } from '../images/render.js';
import type { EngineTaskName } from '../jobs/kinds.js';
import { FIRST_PREVIEW_FRACTION, PREVIEW_INTERVAL_MS, type Progress } from '../jobs/progress.js';
import type { JobDescription } from '../jobs/spec.js';
import { Describer } from './describe.js';
import { CREATIVE_STRENGTH, type JobInputs, parametersText, taskFromJob } from './job-request.js';
import type { DiffusionPipeline } from './pipeline.js';
import { GenerationRequestError } from './request.js';

/** Progress out of the inference process: a small PNG of the forming grid, at most every preview interval. */
export type JobProgress = Progress<Uint8Array>;

/** What a job made: images (a grid or an upscale), or text (/describe). */
export type JobOutput = ImagesOutput | TextOutput;

export interface TextOutput {
  type: 'text';
  lines: string[];
  notes: string[];
  timings: { totalMs: number; onnxMs: number };
}

export interface ImagesOutput {
  type: 'images';
  /** The 2x2 grid PNG; null for an upscale. */
  grid: Uint8Array | null;
  /** PNGs with their grid index (four for a grid, one for an upscale). */
  images: { index: number; png: Uint8Array }[];
  /** Pixel size of every PNG in `images` (as displayed: small model outputs are resampled). */
  width: number;
  height: number;
  /** The images' own size, before display resampling (what an upscale of them doubles). */
  contentWidth: number;
  contentHeight: number;
  parameters: string;
  notes: string[];
  timings: { totalMs: number; onnxMs: number };
}

export interface RunOptions {
  modelName: string;
  /** The model folder, for what a task reads besides the networks (the describe vocabulary). */
  modelDir?: string;
  onProgress?: (progress: JobProgress) => void;
  /** Least time between two previews (default PREVIEW_INTERVAL_MS). */
  previewIntervalMs?: number;
  signal?: AbortSignal;
}

type Timings = { totalMs: number; onnxMs: number };

/** A task's handler; `timings()` gives the job's time so far, in all and inside ONNX Runtime. */
type TaskHandler = (
  pipeline: DiffusionPipeline,
  job: JobDescription,
  inputs: JobInputs,
  options: RunOptions,
  timings: () => Timings,
) => Promise<JobOutput>;

export function runJob(
  pipeline: DiffusionPipeline,
  job: JobDescription,
  inputs: JobInputs,
  options: RunOptions,
): Promise<JobOutput> {
  // Callers that predate the task table (the CLI, benchmarks) give none: an upscale parent says which.
  const task = inputs.task ?? (job.parents.some((p) => p.role === 'upscale') ? 'upscale' : 'generate');
  const started = performance.now();
  const clock = pipeline.clock.milliseconds;
  const timings = () => ({
    totalMs: performance.now() - started,
    onnxMs: pipeline.clock.milliseconds - clock,
  });
  return TASKS[task](pipeline, job, inputs, options, timings);
}

/** The images of a job that must make images (scripts and tests that run /imagine-like jobs). */
export function imagesOf(output: JobOutput): ImagesOutput {
  if (output.type !== 'images') throw new Error('this job made text, not images');
  return output;
}

const describers = new WeakMap<DiffusionPipeline, Describer | null>();

const runDescribe: TaskHandler = async (pipeline, job, inputs, options, timings) => {
  if (!describers.has(pipeline))
    describers.set(pipeline, options.modelDir ? Describer.forModel(options.modelDir, pipeline) : null);
  const describer = describers.get(pipeline);
  if (!describer) throw new GenerationRequestError('this model has no vocabulary to describe images with');
  const prompt = job.prompts.find((p) => p.kind === 'image');
  const bytes = prompt ? inputs.images[prompt.url] : undefined;
  if (!bytes) throw new GenerationRequestError('a /describe job needs its image');
  const lines = await describer.describe(
    await decodeImage(bytes, inputs.decodeLimits),
    job.describe?.skip ?? 0,
  );
  return { type: 'text', lines, notes: [], timings: timings() };
};

const runImages: TaskHandler = async (pipeline, job, inputs, options, timings) => {
  const task = await taskFromJob(job, inputs, pipeline.defaults);
  const parameters = parametersText(job, task, options.modelName);
  if (task.kind === 'upscale') {
    const upscaled = await pipeline.upscale(task.image);
    let { image } = upscaled;
    let method: string = upscaled.method;
    if (task.creative) {
      // Upscale (Creative): the prompt again over the upscaled image, lightly, at its new size.
      const multiple = pipeline.defaults.sizeMultiple;
      const width = Math.max(multiple, Math.floor(image.width / multiple) * multiple);
      const height = Math.max(multiple, Math.floor(image.height / multiple) * multiple);
      const start = await resizeCover(image, width, height);
      const detailed = await pipeline.generate(
        { ...task.creative, width, height, init: { image: start, strength: CREATIVE_STRENGTH }, images: [0] },
        undefined,
        options.signal,
      );
      image = detailed.images[0]!;
      method = `${method}, then img2img at ${CREATIVE_STRENGTH}`;
    }
    const display = await forDisplay(image, 512);
    const png = await encodePng(display, { parameters: `${parameters} (${method})` });
    return {
      type: 'images',
      grid: null,
      images: [{ index: task.index, png }],
      width: display.width,
      height: display.height,
      contentWidth: image.width,
      contentHeight: image.height,
      parameters,
      notes: task.notes,
      timings: timings(),
    };
  }
  const onProgress = options.onProgress;
  const interval = options.previewIntervalMs ?? PREVIEW_INTERVAL_MS;
  let lastPreview = Number.NEGATIVE_INFINITY;
  // Every event goes through one promise chain: previews are encoded on the way and order is kept.
  let events = Promise.resolve();
  const result = await pipeline.generate(
    task.request,
    onProgress &&
      ((p) => {
        const { preview, ...event } = p;
        // The one throttle on previews: taken here (now, while the estimate is this step's) or not at all.
        const now = performance.now();
        const due =
          preview !== undefined &&
          p.step >= Math.ceil(p.total * FIRST_PREVIEW_FRACTION) &&
          now - lastPreview >= interval;
        if (due) lastPreview = now;
        // Taken now (a tiny decoder starts on this step's estimate), awaited in the chain, so order holds.
        const picture = due ? preview() : null;
        events = events.then(async () => {
          const image = await picture;
          onProgress(image ? { ...event, preview: await encodePng(await forDisplay(image, 64)) } : event);
        });
        // Marked handled at once: a failed preview fails the job where `events` is awaited, not the process.
        if (picture instanceof Promise) picture.catch(() => {});
        events.catch(() => {});
      }),
    options.signal,
  );
  await events;
  const rendered = await renderGrid(result.images, parameters);
  return {
    type: 'images',
    grid: rendered.grid,
    images: rendered.images.map((png, i) => ({ index: result.indices[i]!, png })),
    width: rendered.width,
    contentWidth: result.width,
    contentHeight: result.height,
    height: rendered.height,
    parameters,
    notes: [...task.notes, ...result.notes],
    timings: timings(),
  };
};

/** The engine's tasks by name (src/jobs/kinds.ts names each kind's); after the handlers they refer to. */
const TASKS: Readonly<Record<EngineTaskName, TaskHandler>> = {
  generate: runImages,
  upscale: runImages,
  describe: runDescribe,
};
