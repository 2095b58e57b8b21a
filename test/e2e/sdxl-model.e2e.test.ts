/**
 * An SDXL model folder (the `sdxl-tiny` fixture: Optimum's SDXL export signature, random weights) through
 * the whole system: the bot reads the folder, a worker loads both text encoders and generates with the
 * SDXL conditioning, and the channel gets the 2x2 grid and an upscale.
 */
import sharp from 'sharp';
import { readTextChunks } from '../../src/images/png.js';
import { listCustomIds } from '../../src/sandbox/discord/index.js';
import {
  finishedMessage,
  gridButtons,
  imagineGrid,
  isFinalImage,
  pressButton,
  requireJobId,
} from './messages.js';
import { mad, pixels, quadrant } from './pixels.js';
import { jobImages } from './records.js';
import { type Stack, startStack } from './stack.js';

const MODEL_DIR = new URL('../fixtures/models/sdxl-tiny', import.meta.url).pathname;

let stack: Stack;
beforeAll(async () => {
  stack = await startStack({ workers: 1, modelDir: MODEL_DIR });
}, 90_000);
afterAll(async () => {
  await stack?.stop();
});

test('/imagine on an SDXL folder posts a 2x2 grid of its four images; U1 posts the first alone', async () => {
  const grid = await imagineGrid(stack.discord, 'bob', 'a red fox::0.6 snow::-0.5 --seed 9');
  expect(listCustomIds(grid.components)).toEqual(gridButtons());
  expect(grid.content).toMatch(/seed 9 · job [a-z0-9]{12}/);

  // The grid is the folder's own defaults: its Euler sampler, 20 steps, the SDXL folder's name.
  const gridPng = stack.discord.attachmentBytes(grid.attachments[0]!);
  const meta = await sharp(gridPng).metadata();
  expect(meta.format).toBe('png');
  expect(meta.width).toBe(meta.height);
  expect(readTextChunks(Buffer.from(gridPng))['parameters']).toMatch(
    /^a red fox::0\.6 snow::-0\.5 --seed 9\nSteps: 20, Sampler: euler, CFG scale: 7\.5, Seed: 9, Size: 64x64, Model: sdxl-tiny,/,
  );

  // Each quadrant is the stored image of its slot, and the four are not one picture.
  const singles = await jobImages(stack.redisClient, requireJobId(grid));
  for (let i = 0; i < 4; i++) {
    const part = await pixels(gridPng, 32, quadrant(i));
    expect({ i, diff: mad(part, await pixels(singles[i]!, 32)) < 2 }).toEqual({ i, diff: true });
  }
  expect(mad(await pixels(singles[0]!, 32), await pixels(singles[1]!, 32))).toBeGreaterThan(1);

  const upscaled = await finishedMessage(
    stack.discord,
    pressButton(stack.discord, 'bob', grid, 'u:1:'),
    isFinalImage,
  );
  expect(upscaled.content).toContain('Image #1');
  const single = stack.discord.attachmentBytes(upscaled.attachments[0]!);
  expect((await sharp(single).metadata()).format).toBe('png');
  // The upscale is of image 1: nearer to it than to image 2 (resampling moves single noisy pixels).
  const upscaledPixels = await pixels(single, 32);
  expect(mad(upscaledPixels, await pixels(singles[0]!, 32))).toBeLessThan(
    mad(upscaledPixels, await pixels(singles[1]!, 32)) / 2,
  );
}, 120_000);
