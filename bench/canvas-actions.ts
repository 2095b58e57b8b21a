/**
 * Time of each action under an upscaled image (README's button table): medians of 5 jobs through runJob.
 *   npx tsx bench/canvas-actions.ts [model folder, default the shipped models/emoji-ld2]
 */
import { DiffusionPipeline } from '../src/diffusion/pipeline.js';
import { imagesOf, runJob } from '../src/diffusion/run-job.js';
import type { CanvasSpec } from '../src/jobs/canvas.js';
import type { JobDescription } from '../src/jobs/spec.js';
import { readModelInfo } from '../src/model/info.js';
import { parsePrompt } from '../src/prompt/parse.js';
import { median } from './stats.js';

const modelDir = process.argv[2] ?? 'models/emoji-ld2';
const side = readModelInfo(modelDir).baseSize;
const pipeline = await DiffusionPipeline.fromPretrained(modelDir, { threads: 2 });
const base = parsePrompt('polar bear --seed 5');
const grid = imagesOf(await runJob(pipeline, base, { images: {} }, { modelName: 'm' }));
const source = grid.images[0]!.png; // native-size content shown at display size
const up = imagesOf(
  await runJob(
    pipeline,
    {
      ...base,
      parents: [{ jobId: 'aaaaaaaaaaaa', index: 0, role: 'upscale' }],
      upscale: { width: side, height: side },
    },
    { images: { 'job:aaaaaaaaaaaa/0': source } },
    { modelName: 'm' },
  ),
);
const upscaled = up.images[0]!.png;
const on = (role: 'zoom' | 'pan' | 'square' | 'region', canvas: CanvasSpec): JobDescription => ({
  ...base,
  canvas,
  parents: [{ jobId: 'bbbbbbbbbbbb', index: 0, role }],
});
const cases: [string, JobDescription, Record<string, Uint8Array>][] = [
  ['grid (imagine)', base, {}],
  [
    `Upscale (Subtle), ${2 * side} -> ${4 * side}`,
    {
      ...base,
      parents: [{ jobId: 'bbbbbbbbbbbb', index: 0, role: 'upscale' }],
      upscale: { width: 2 * side, height: 2 * side },
    },
    { 'job:bbbbbbbbbbbb/0': upscaled },
  ],
  [
    `Upscale (Creative), ${side} -> ${2 * side}`,
    {
      ...base,
      parents: [{ jobId: 'aaaaaaaaaaaa', index: 0, role: 'upscale' }],
      upscale: { width: side, height: side, creative: true },
    },
    { 'job:aaaaaaaaaaaa/0': source },
  ],
  ['Zoom Out 2x', on('zoom', { mode: 'outpaint', zoom: 2 }), { 'job:bbbbbbbbbbbb/0': upscaled }],
  ['Zoom Out 1.5x', on('zoom', { mode: 'outpaint', zoom: 1.5 }), { 'job:bbbbbbbbbbbb/0': upscaled }],
  ['Pan', on('pan', { mode: 'outpaint', zoom: 1, pan: 'right' }), { 'job:bbbbbbbbbbbb/0': upscaled }],
  ['Vary (Region), centre', on('region', { mode: 'region', cells: [4] }), { 'job:bbbbbbbbbbbb/0': upscaled }],
];
for (const [name, job, images] of cases) {
  const times: number[] = [];
  for (let i = 0; i < 5; i++) {
    const started = performance.now();
    await runJob(pipeline, { ...job, params: { ...job.params, seed: i } }, { images }, { modelName: 'm' });
    times.push(performance.now() - started);
  }
  console.log(`${name}: ${(median(times) / 1000).toFixed(2)} s`);
}
