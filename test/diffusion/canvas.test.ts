/** @jest-environment ./test/diffusion/onnx-environment.cjs */
import sharp from 'sharp';
import { taskFromJob } from '../../src/diffusion/job-request.js';
import type { DiffusionPipeline } from '../../src/diffusion/pipeline.js';
import type { RawImage } from '../../src/images/raw-image.js';
import type { CanvasSpec } from '../../src/jobs/canvas.js';
import type { JobDescription, ParentRole } from '../../src/jobs/spec.js';
import { parsePrompt } from '../../src/prompt/parse.js';
import { loadFixture } from './helpers.js';

let pipeline: DiffusionPipeline;
beforeAll(async () => {
  pipeline = await loadFixture('emoji-tiny');
}, 60_000);
afterAll(() => pipeline.dispose());

/** A source with structure (stripes and a disc), 256 px as the bot stores grid images. */
async function source(): Promise<Buffer> {
  const side = 256;
  const raw = Buffer.alloc(side * side * 3);
  for (let y = 0; y < side; y++)
    for (let x = 0; x < side; x++) {
      const i = (y * side + x) * 3;
      const disc = (x - 128) ** 2 + (y - 128) ** 2 < 60 ** 2;
      raw[i] = disc ? 220 : (x * 2) % 256;
      raw[i + 1] = disc ? 40 : (y * 3) % 256;
      raw[i + 2] = 90;
    }
  return sharp(raw, { raw: { width: side, height: side, channels: 3 } })
    .png()
    .toBuffer();
}

async function run(spec: CanvasSpec, role: ParentRole) {
  const job: JobDescription = {
    ...parsePrompt('a red cat --seed 3'),
    canvas: spec,
    parents: [{ jobId: 'abcdefabcdef', index: 1, role }],
  };
  const png = await source();
  const task = await taskFromJob(job, { images: { 'job:abcdefabcdef/1': png } }, pipeline.defaults);
  if (task.kind !== 'generate') throw new Error('expected a generation');
  const result = await pipeline.generate({ ...task.request, steps: 6 });
  return { result, request: task.request, png };
}

/** Mean absolute difference of two same-size RGB images over a rectangle. */
function mad(
  a: RawImage,
  b: RawImage,
  rect: { x: number; y: number; width: number; height: number },
): number {
  let sum = 0;
  for (let y = rect.y; y < rect.y + rect.height; y++)
    for (let x = rect.x; x < rect.x + rect.width; x++)
      for (let c = 0; c < 3; c++)
        sum += Math.abs(a.data[(y * a.width + x) * 3 + c]! - b.data[(y * b.width + x) * 3 + c]!);
  return sum / (rect.width * rect.height * 3);
}

test('Zoom Out 2x: a canvas twice the side, the source kept in the middle, the rest painted', async () => {
  const { result, request } = await run({ mode: 'outpaint', zoom: 2 }, 'zoom');
  const size = pipeline.defaults.size;
  expect([result.width, result.height]).toEqual([2 * size, 2 * size]);
  const canvas = request.canvas!;
  // The seam is feathered over about 4 px (two box blurs of radius 2 at this size).
  const inner = { x: size / 2 + 5, y: size / 2 + 5, width: size - 10, height: size - 10 };
  for (const image of result.images) {
    // Inside the source (away from the soft seam) the pixels are the source's own.
    expect(mad(image, canvas.image, inner)).toBeLessThan(1);
    // Outside it the model painted: nothing like the white the canvas was filled with.
    expect(mad(image, canvas.image, { x: 0, y: 0, width: 2 * size, height: 4 })).toBeGreaterThan(5);
  }
}, 60_000);

test('➡️ pan: a wider canvas with the source at the left, kept', async () => {
  const { result, request } = await run({ mode: 'outpaint', zoom: 1, pan: 'right' }, 'pan');
  const size = pipeline.defaults.size;
  expect(result.width).toBeGreaterThan(result.height);
  for (const image of result.images)
    expect(mad(image, request.canvas!.image, { x: 0, y: 0, width: size - 3, height: size })).toBeLessThan(1);
}, 60_000);

test('Vary (Region): outside the chosen cells the source, inside repainted', async () => {
  const { result, request } = await run({ mode: 'region', cells: [4] }, 'region');
  const size = pipeline.defaults.size;
  expect([result.width, result.height]).toEqual([size, size]);
  const third = Math.floor(size / 3);
  for (const image of result.images) {
    expect(mad(image, request.canvas!.image, { x: 0, y: 0, width: size, height: third - 2 })).toBeLessThan(1);
    expect(
      mad(image, request.canvas!.image, { x: third + 2, y: third + 2, width: third - 4, height: third - 4 }),
    ).toBeGreaterThan(3);
  }
}, 60_000);
