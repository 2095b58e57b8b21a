/**
 * An SDXL model folder (the `sdxl-tiny` fixture: Optimum's SDXL export signature, random weights) through
 * the whole system: the bot reads the folder, a worker loads both text encoders and generates with the
 * SDXL conditioning, and the channel gets the 2x2 grid and an upscale.
 */
import sharp from 'sharp';
import { readTextChunks } from '../../src/images/png.js';
import { listCustomIds } from '../../src/sandbox/discord/index.js';
import { finishedMessage, isFinalImage, jobIdOf } from './messages.js';
import { type Stack, startStack } from './stack.js';

const MODEL_DIR = new URL('../fixtures/models/sdxl-tiny', import.meta.url).pathname;

let stack: Stack;
beforeAll(async () => {
  stack = await startStack({ workers: 1, modelDir: MODEL_DIR });
}, 90_000);
afterAll(async () => {
  await stack?.stop();
});

/** An image's pixels at `size` x `size`, optionally one quadrant of it (0-3, row-major). */
async function pixels(png: Uint8Array, size: number, quadrant?: number): Promise<Buffer> {
  let image = sharp(png);
  if (quadrant !== undefined) {
    const meta = await sharp(png).metadata();
    const width = meta.width! / 2;
    const height = meta.height! / 2;
    image = sharp(
      await image
        .extract({ left: (quadrant % 2) * width, top: Math.floor(quadrant / 2) * height, width, height })
        .toBuffer(),
    );
  }
  return image.resize(size, size, { fit: 'fill' }).removeAlpha().raw().toBuffer();
}

const mad = (a: Buffer, b: Buffer) => a.reduce((sum, v, i) => sum + Math.abs(v - b[i]!), 0) / a.length;

test('/imagine on an SDXL folder posts a 2x2 grid of its four images; U1 posts the first alone', async () => {
  const grid = await finishedMessage(
    stack.discord,
    stack.discord.invokeCommand({
      name: 'imagine',
      user: 'bob',
      channel: 'general',
      options: { prompt: 'a red fox::0.6 snow::-0.5 --seed 9' },
    }),
  );
  const ids = listCustomIds(grid.components);
  expect(ids).toEqual([
    ...[1, 2, 3, 4].map((i) => expect.stringMatching(new RegExp(`^u:${i}:[a-z0-9]{12}$`))),
    ...[1, 2, 3, 4].map((i) => expect.stringMatching(new RegExp(`^v:${i}:[a-z0-9]{12}$`))),
    expect.stringMatching(/^r:[a-z0-9]{12}$/),
  ]);
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
  const jobId = jobIdOf(grid)!;
  const singles = await Promise.all(
    [0, 1, 2, 3].map(async (i) => (await stack.redisClient.getBuffer(`lb:img:${jobId}:${i}`))!),
  );
  for (let i = 0; i < 4; i++) {
    const quadrant = await pixels(gridPng, 32, i);
    expect({ i, diff: mad(quadrant, await pixels(singles[i]!, 32)) < 2 }).toEqual({ i, diff: true });
  }
  expect(mad(await pixels(singles[0]!, 32), await pixels(singles[1]!, 32))).toBeGreaterThan(1);

  const u1 = ids.find((id) => id.startsWith('u:1:'))!;
  const upscaled = await finishedMessage(
    stack.discord,
    stack.discord.pressButton({ user: 'bob', messageId: grid.id, customId: u1 }),
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
