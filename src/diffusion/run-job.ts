/** One job end to end: decode inputs -> generate or upscale -> PNGs. The worker thread calls this. */

import { forDisplay } from '../images/grid.js';
import { encodePng } from '../images/png.js';
import { renderGrid } from '../images/render.js';
import type { JobDescription } from '../jobs/spec.js';
import { type JobInputs, parametersText, taskFromJob } from './job-request.js';
import type { DiffusionPipeline } from './pipeline.js';
import type { Progress } from './request.js';

export interface JobProgress {
  stage: Progress['stage'];
  step: number;
  total: number;
  /** PNG of the forming grid (small), on some denoising steps. */
  preview?: Uint8Array;
}

export interface JobOutput {
  /** The 2x2 grid PNG; null for an upscale. */
  grid: Uint8Array | null;
  /** PNGs with their grid index (four for a grid, one for an upscale). */
  images: { index: number; png: Uint8Array }[];
  /** Pixel size of every PNG in `images` (as displayed: small model outputs are resampled). */
  width: number;
  height: number;
  parameters: string;
  notes: string[];
  timings: { totalMs: number; onnxMs: number };
}

export async function runJob(
  pipeline: DiffusionPipeline,
  job: JobDescription,
  inputs: JobInputs,
  options: { modelName: string; onProgress?: (progress: JobProgress) => void; signal?: AbortSignal },
): Promise<JobOutput> {
  const started = performance.now();
  const clock = pipeline.clock.milliseconds;
  const task = await taskFromJob(job, inputs, pipeline.defaults);
  const parameters = parametersText(job, task, options.modelName);
  if (task.kind === 'upscale') {
    const { image, method } = await pipeline.upscale(task.image);
    const display = await forDisplay(image, 512);
    const png = await encodePng(display, { parameters: `${parameters} (${method})` });
    return {
      grid: null,
      images: [{ index: task.index, png }],
      width: display.width,
      height: display.height,
      parameters,
      notes: task.notes,
      timings: { totalMs: performance.now() - started, onnxMs: pipeline.clock.milliseconds - clock },
    };
  }
  const onProgress = options.onProgress;
  // Every event goes through one promise chain: previews are encoded on the way and order is kept.
  let events = Promise.resolve();
  const result = await pipeline.generate(
    task.request,
    onProgress &&
      ((p) => {
        const { preview, ...event } = p;
        events = events.then(async () =>
          onProgress(preview ? { ...event, preview: await encodePng(await forDisplay(preview, 64)) } : event),
        );
      }),
    options.signal,
  );
  await events;
  const rendered = await renderGrid(result.images, parameters);
  return {
    grid: rendered.grid,
    images: rendered.images.map((png, i) => ({ index: result.indices[i]!, png })),
    width: rendered.width,
    height: rendered.height,
    parameters,
    notes: [...task.notes, ...result.notes],
    timings: { totalMs: performance.now() - started, onnxMs: result.timings.onnxMs },
  };
}
