/**
 * The PNG output as it was before `job_overhead_with_png` was measured (zlib level 6, the grid encoded
 * first and the four singles after it), kept here only so the benchmark can run it side by side with
 * today's runJob() on the same machine load.
 */
import sharp from 'sharp';
import type { JobInputs } from '../src/diffusion/job-request.js';
import { parametersText, taskFromJob } from '../src/diffusion/job-request.js';
import type { DiffusionPipeline } from '../src/diffusion/pipeline.js';
import { composeGrid, forDisplay } from '../src/images/grid.js';
import { withTextChunks } from '../src/images/png.js';
import type { RawImage } from '../src/images/raw-image.js';
import type { JobDescription } from '../src/jobs/spec.js';

async function encodeLevel6(image: RawImage, parameters: string): Promise<Uint8Array> {
  const png = await sharp(image.data, { raw: { width: image.width, height: image.height, channels: 3 } })
    .png({ compressionLevel: 6, adaptiveFiltering: false })
    .toBuffer();
  return withTextChunks(new Uint8Array(png.buffer, png.byteOffset, png.length), { parameters });
}

/** A grid job as runJob() ran it before: the same task and generation, the former PNG output. */
export async function previousGridJob(
  pipeline: DiffusionPipeline,
  job: JobDescription,
  inputs: JobInputs,
): Promise<{ pngs: Uint8Array[]; totalMs: number; onnxMs: number }> {
  const started = performance.now();
  const clock = pipeline.clock.milliseconds;
  const task = await taskFromJob(job, inputs, pipeline.defaults);
  if (task.kind !== 'generate') throw new Error('previousGridJob runs grid jobs only');
  const parameters = parametersText(job, task, 'bench');
  const result = await pipeline.generate(task.request);
  const display = await Promise.all(result.images.map((image) => forDisplay(image)));
  const grid = await encodeLevel6(composeGrid(display), parameters);
  const singles = await Promise.all(
    display.map((image, i) => encodeLevel6(image, `${parameters}, Image: ${i + 1}`)),
  );
  return {
    pngs: [grid, ...singles],
    totalMs: performance.now() - started,
    onnxMs: pipeline.clock.milliseconds - clock,
  };
}
