/**
 * @jest-environment ./test/diffusion/onnx-environment.cjs
 */
/**
 * Style as a condition on the model with named styles (models/emoji-ld2): the job's tokens reach the
 * condition rows and the no-style tokens the unconditional row, each named style and each reference moves the picture, --sw scales the move, and what the model
 * lacks is a typed error.
 */
import { readFileSync } from 'node:fs';
import sharp from 'sharp';
import { type JobInputs, taskFromJob } from '../../src/diffusion/job-request.js';
import { DiffusionPipeline } from '../../src/diffusion/pipeline.js';
import type { GenerationRequest, StyleRequest } from '../../src/diffusion/request.js';
import { appendStyleTokens } from '../../src/diffusion/style-conditioning.js';
import { rawImage } from '../../src/images/raw-image.js';
import { parsePrompt } from '../../src/prompt/parse.js';
import { meanAbsDiff, recordRuns, request } from './helpers.js';

const STYLED = 'models/emoji-ld2';

let pipeline: DiffusionPipeline;
// the same folder without the style guidance row, whatever its config says
let unguided: DiffusionPipeline;
beforeAll(async () => {
  pipeline = await DiffusionPipeline.fromPretrained(STYLED, { threads: 1 });
  unguided = await DiffusionPipeline.fromPretrained(STYLED, { threads: 1, styleGuidance: 0 });
}, 60_000);
afterAll(async () => {
  await pipeline.dispose();
  await unguided.dispose();
});

const gridOn = async (
  on: DiffusionPipeline,
  style?: StyleRequest,
  overrides: Partial<GenerationRequest> = {},
) =>
  on.generate(
    request(on, {
      conditions: [{ kind: 'text', text: 'polar bear', weight: 1 }],
      steps: 8,
      images: [0, 1],
      ...(style ? { style } : {}),
      ...overrides,
    }),
  );
const grid = (style?: StyleRequest, overrides: Partial<GenerationRequest> = {}) =>
  gridOn(pipeline, style, overrides);

/** The UNet's `encoder_hidden_states` of a one-step grid: [rows, tokens, width]. */
async function unetStates(on: DiffusionPipeline, style?: StyleRequest) {
  const { runs } = await recordRuns(() => gridOn(on, style, { steps: 1 }));
  const states = runs.find((r) => r.label === 'unet')?.feeds['encoder_hidden_states'];
  if (states?.kind !== 'float') throw new Error('no UNet call with float encoder_hidden_states');
  return states.tensor;
}

test('appendStyleTokens puts the same tokens after every row', () => {
  const hidden = { data: Float32Array.from({ length: 2 * 3 * 2 }, (_, i) => i), dims: [2, 3, 2] };
  const style = {
    data: Float32Array.of(-1, -2, -3, -4),
    tokens: 2,
    hidden: 2,
    nearest: null,
    distribution: null,
  };
  const out = appendStyleTokens(hidden, style);
  expect(out.dims).toEqual([2, 5, 2]);
  expect([...out.data]).toEqual([0, 1, 2, 3, 4, 5, -1, -2, -3, -4, 6, 7, 8, 9, 10, 11, -1, -2, -3, -4]);
  expect(() => appendStyleTokens(hidden, { ...style, hidden: 4, data: new Float32Array(8) })).toThrow(
    '4 wide',
  );
});

test("the condition rows get the job's style tokens, the unconditional row the no-style tokens", async () => {
  const file = JSON.parse(readFileSync(`${STYLED}/style_encoder/styles.json`, 'utf8')) as {
    tokens: Record<string, number[][]>;
    null: number[][];
  };
  const states = await unetStates(unguided, { name: 'fluent', references: [], weight: 1 });
  const [rows = 0, length = 0, width = 0] = states.dims;
  expect([rows, length]).toEqual([4, 20]); // [uncond x2, "polar bear" x2] x (16 content + 4 style)
  const styleOf = (row: number) => [
    ...states.data.subarray((row * length + 16) * width, (row + 1) * length * width),
  ];
  const close = (a: number[], b: number[]) => a.every((v, i) => Math.abs(v - b[i]!) < 1e-6);
  for (const row of [0, 1]) expect(close(styleOf(row), file.null.flat())).toBe(true);
  for (const row of [2, 3]) expect(close(styleOf(row), file.tokens['fluent']!.flat())).toBe(true);
}, 60_000);

test("a style guidance weight adds one block of rows: the empty prompt with the job's style tokens", async () => {
  const guided = await DiffusionPipeline.fromPretrained(STYLED, { threads: 1, styleGuidance: 1 });
  try {
    expect([guided.defaults.styleGuidance, unguided.defaults.styleGuidance]).toEqual([1, 0]);
    const fluent = { name: 'fluent', references: [], weight: 1 };
    const states = await unetStates(guided, fluent);
    const [rows = 0, length = 0, width = 0] = states.dims;
    // [uncond x2, "polar bear" x2, style row x2] x (16 content + 4 style)
    expect([rows, length]).toEqual([6, 20]);
    const row = (r: number, from: number, to: number) => [
      ...states.data.subarray((r * length + from) * width, (r * length + to) * width),
    ];
    for (const r of [4, 5]) {
      expect(row(r, 0, 16)).toEqual(row(0, 0, 16)); // the unconditional row's content: the empty prompt
      expect(row(r, 16, 20)).toEqual(row(2, 16, 20)); // the job's style tokens
      expect(row(r, 16, 20)).not.toEqual(row(0, 16, 20)); // not the no-style tokens
    }
    // nothing to steer: no style asked for, or --sw 0 (the no-style tokens)
    expect((await unetStates(guided)).dims).toEqual([4, 16, width]);
    expect((await unetStates(guided, { ...fluent, weight: 0 })).dims).toEqual([4, 20, width]);
    // the row changes the picture at the same seed
    const withRow = await gridOn(guided, fluent);
    const withoutRow = await gridOn(unguided, fluent);
    expect(meanAbsDiff(withRow.images[0]!.data, withoutRow.images[0]!.data)).toBeGreaterThan(0.5);
  } finally {
    await guided.dispose();
  }
}, 60_000);

test('the model says which styles it has, and that references work', () => {
  expect(pipeline.defaults).toMatchObject({
    styles: ['noto', 'twemoji', 'fluent', 'fluent-3d'],
    styleReference: true,
  });
});

test('each named style changes the picture at the same seed; the same style twice is identical', async () => {
  const plain = await grid();
  const named = await Promise.all(
    ['noto', 'fluent-3d'].map((name) => grid({ name, references: [], weight: 1 })),
  );
  const again = await grid({ name: 'noto', references: [], weight: 1 });
  expect(Buffer.from(again.images[0]!.data).equals(Buffer.from(named[0]!.images[0]!.data))).toBe(true);
  for (const result of named)
    expect(meanAbsDiff(result.images[0]!.data, plain.images[0]!.data)).toBeGreaterThan(0.5);
  expect(meanAbsDiff(named[0]!.images[0]!.data, named[1]!.images[0]!.data)).toBeGreaterThan(0.5);
}, 60_000);

test('--sw 0 is the no-style tokens whichever style was named; --sw moves the picture further', async () => {
  const zeroNoto = await grid({ name: 'noto', references: [], weight: 0 });
  const zeroFluent = await grid({ name: 'fluent', references: [], weight: 0 });
  expect(Buffer.from(zeroNoto.images[0]!.data).equals(Buffer.from(zeroFluent.images[0]!.data))).toBe(true);
  const none = await grid({ name: null, references: [], weight: 1 });
  expect(Buffer.from(none.images[0]!.data).equals(Buffer.from(zeroNoto.images[0]!.data))).toBe(true);
  const half = await grid({ name: 'fluent-3d', references: [], weight: 0.5 });
  const full = await grid({ name: 'fluent-3d', references: [], weight: 2 });
  expect(meanAbsDiff(full.images[0]!.data, none.images[0]!.data)).toBeGreaterThan(
    meanAbsDiff(half.images[0]!.data, none.images[0]!.data),
  );
}, 60_000);

test('a style reference goes through the style encoder, and the reply names the style it is closest to', async () => {
  const reference = rawImage(
    32,
    32,
    Uint8Array.from({ length: 32 * 32 * 3 }, (_, i) => (i % 3 === 0 ? 240 : 60)),
  );
  const plain = await grid();
  const styled = await grid({ name: null, references: [reference], weight: 1 });
  expect(styled.notes.join('\n')).toMatch(
    /the style reference looks most like (noto|twemoji|fluent|fluent-3d)$/m,
  );
  expect(meanAbsDiff(styled.images[0]!.data, plain.images[0]!.data)).toBeGreaterThan(0.5);
}, 60_000);

test('a style the model does not have is an error, not a silent default', async () => {
  await expect(grid({ name: 'watercolour', references: [], weight: 1 })).rejects.toThrow(
    'this model has no style "watercolour"',
  );
});

test('from a prompt: --style and --sref with --sw reach the request; bytes are the caller-supplied ones', async () => {
  const png = await sharp({ create: { width: 40, height: 40, channels: 3, background: '#3050e0' } })
    .png()
    .toBuffer();
  const inputs: JobInputs = { seed: 3, images: { 'https://e.com/ref.png': png } };
  const named = await taskFromJob(
    parsePrompt('polar bear --style Fluent --sw 250'),
    inputs,
    pipeline.defaults,
  );
  expect(named.kind === 'generate' && named.request.style).toEqual({
    name: 'fluent',
    references: [],
    weight: 2.5,
  });
  const ref = await taskFromJob(
    parsePrompt('polar bear --sref https://e.com/ref.png'),
    inputs,
    pipeline.defaults,
  );
  if (ref.kind !== 'generate') throw new Error('expected a generation');
  expect(ref.request.style).toMatchObject({ name: null, weight: 1 });
  expect(ref.request.style?.references.map((r) => [r.width, r.height])).toEqual([[40, 40]]);
  // No style asked: the model's plain conditioning, no tokens appended.
  const plain = await taskFromJob(parsePrompt('polar bear'), inputs, pipeline.defaults);
  expect(plain.kind === 'generate' && plain.request.style).toBeUndefined();
  // A model with one style notes and drops them.
  const one = await taskFromJob(parsePrompt('polar bear --style noto'), inputs, {
    ...pipeline.defaults,
    styles: [],
    styleReference: false,
  });
  expect(one.kind === 'generate' && one.request.style).toBeUndefined();
  expect(one.notes).toContain('--style noto is ignored: this model has one style');
});
