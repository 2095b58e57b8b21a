/**
 * Style as a prompt through the whole system, on the shipped model with named styles (models/emoji-ld2):
 * `--style` and `--sref` reach the worker and move the picture, the reply says what was ignored, and a
 * reroll keeps the stored reference. On a one-style model (the first edition, models/emoji-ld), a
 * `--sref` link is noted and never fetched.
 */
import sharp from 'sharp';
import { finishedMessage, imagine, imagineGrid, pressButton, requireJobId } from './messages.js';
import { mad, pixels } from './pixels.js';
import { jobImage, jobRecord, recordOf } from './records.js';
import { type Stack, startStack } from './stack.js';

const STYLED = new URL('../../models/emoji-ld2', import.meta.url).pathname;
const ONE_STYLE = new URL('../../models/emoji-ld', import.meta.url).pathname;

let stack: Stack;
beforeAll(async () => {
  stack = await startStack({ workers: 1, modelDir: STYLED });
}, 90_000);
afterAll(async () => {
  await stack?.stop();
});

/** A grid of bob's, its record, and its first image as pixels to compare. */
async function generate(prompt: string) {
  const grid = await imagineGrid(stack.discord, 'bob', prompt);
  const jobId = requireJobId(grid);
  const record = await jobRecord(stack.redisClient, jobId);
  return { grid, record, pixels: await pixels(await jobImage(stack.redisClient, jobId, 0), 32) };
}

test('--style names one of the four styles and moves the picture; an unknown one is noted', async () => {
  const plain = await generate('polar bear --seed 21');
  const noto = await generate('polar bear --seed 21 --style noto');
  const fluent3d = await generate('polar bear --seed 21 --style Fluent-3D');
  expect(noto.record.description.params.style).toBe('noto');
  expect(fluent3d.record.description.params.style).toBe('fluent-3d');
  expect(mad(noto.pixels, plain.pixels)).toBeGreaterThan(0.5);
  expect(mad(noto.pixels, fluent3d.pixels)).toBeGreaterThan(0.5);

  const raw = await generate('polar bear --seed 21 --style raw');
  expect(raw.grid.content).toContain(
    "--style raw is ignored: this model's styles are noto, twemoji, fluent, fluent-3d",
  );
  expect(raw.record.description.params.style).toBeNull();
  expect(raw.pixels.equals(plain.pixels)).toBe(true);
}, 120_000);

test('--sref takes the style of a linked image: fetched once, stored, noted, and kept by a reroll', async () => {
  const stored = stack.discord.upload({
    filename: 'style.png',
    contentType: 'image/png',
    data: await sharp({ create: { width: 48, height: 48, channels: 3, background: '#f0a020' } })
      .png()
      .toBuffer(),
  });
  const url = `${stack.discord.origin}${stored.path}`;
  const plain = await generate('penguin --seed 5');
  const styled = await generate(`penguin --seed 5 --sref ${url} --sw 300`);
  expect(styled.record.description.params).toMatchObject({ sref: [url], sw: 300 });
  expect(styled.record.inputs[url]).toMatch(/^upload:[a-z0-9]{12}$/);
  expect(styled.grid.content).toMatch(/the style reference looks most like (noto|twemoji|fluent|fluent-3d)/);
  expect(mad(styled.pixels, plain.pixels)).toBeGreaterThan(0.5);

  const again = await finishedMessage(stack.discord, pressButton(stack.discord, 'bob', styled.grid, 'r:'));
  const rerolled = await recordOf(stack.redisClient, again);
  expect(rerolled.status).toBe('done');
  expect(rerolled.inputs).toEqual({ [url]: styled.record.inputs[url] });
}, 120_000);

test('style references count against the image limit before anything is fetched', async () => {
  const links = Array.from({ length: 6 }, (_, i) => `${stack.discord.origin}/cdn/none-${i}.png`).join(' ');
  const handle = imagine(stack.discord, 'bob', `penguin --sref ${links}`);
  await handle.response(3000);
  const answer = await stack.discord.waitForMessage((m) => m.interactionId === handle.id && m.ephemeral, {
    timeoutMs: 10_000,
  });
  expect(answer.content).toContain('This prompt has 6 images; this server allows at most 5 per prompt');
});

describe('on a one-style model', () => {
  let oneStyle: Stack;
  beforeAll(async () => {
    oneStyle = await startStack({ workers: 1, modelDir: ONE_STYLE });
  }, 90_000);
  afterAll(async () => {
    await oneStyle?.stop();
  });

  test('--style and --sref are noted and the --sref link is never fetched', async () => {
    // A link that could not be fetched: had the bot tried, the job would have been refused.
    const grid = await imagineGrid(
      oneStyle.discord,
      'bob',
      'polar bear --style noto --sref https://unreachable.invalid/style.png --sw 50',
    );
    expect(grid.content).toContain('--style noto is ignored: this model has one style');
    expect(grid.content).toContain('--sref is ignored: this model cannot take a style from an image');
    const record = await recordOf(oneStyle.redisClient, grid);
    expect(record.inputs).toBeUndefined();
    expect(record.description.params.sref).toBeUndefined();
  }, 90_000);
});
