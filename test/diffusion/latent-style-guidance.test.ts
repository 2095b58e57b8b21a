/**
 * @jest-environment ./test/diffusion/onnx-environment.cjs
 */
/**
 * Latent style guidance on the shipped model with styles (models/emoji-ld2): the step moves each clean
 * estimate by the asked strength along the probe's gradient and so raises the probe's belief in the asked
 * style; it runs once per step for a styled job and never for a job without a style or at `--sw 0`; a
 * `--sref` job pulls towards the style encoder's distribution over the named styles (the folder's
 * latent_probe.json is checked in test/model/styles.test.ts).
 */
import sharp from 'sharp';
import { Backend, type ModelSession } from '../../src/diffusion/backend.js';
import { LatentStyleGuide } from '../../src/diffusion/latent-style-guidance.js';
import { DiffusionPipeline } from '../../src/diffusion/pipeline.js';
import type { StyleRequest } from '../../src/diffusion/request.js';
import { StyleConditioner } from '../../src/diffusion/style-conditioning.js';
import { type RawImage, rawImage } from '../../src/images/raw-image.js';
import { readModelStyles } from '../../src/model/styles.js';
import { type Fed, recordRuns, request } from './helpers.js';

const STYLED = 'models/emoji-ld2';
const DIMS = [2, 4, 16, 16] as const;
const SIZE = DIMS[0] * DIMS[1] * DIMS[2] * DIMS[3];

let backend: Backend;
let guide: LatentStyleGuide;
let probe: ModelSession;
let pipeline: DiffusionPipeline;
beforeAll(async () => {
  const styles = readModelStyles(STYLED);
  if (!styles?.latentProbe) throw new Error(`${STYLED} ships no latent style probe`);
  backend = new Backend({ threads: 1 });
  guide = await LatentStyleGuide.load(styles.latentProbe, backend);
  probe = await backend.load(styles.latentProbe.path, 'probe_logits');
  pipeline = await DiffusionPipeline.fromPretrained(STYLED, { threads: 1 });
}, 60_000);
afterAll(async () => {
  await backend.dispose();
  await pipeline.dispose();
});

/** Seeded values in about [-1.5, 1.5]: a stand-in for a latent mid-loop. */
function seeded(seed: number): Float32Array {
  let s = seed;
  return Float32Array.from({ length: SIZE }, () => {
    s = (s * 1103515245 + 12345) % 2147483648;
    return (s / 2147483648 - 0.5) * 3;
  });
}

/** log softmax of the probe's logits for `style` (index into the folder's styles), per image. */
async function logProbability(x0: Float32Array, style: number): Promise<number[]> {
  const out = await probe.run(
    {
      latent: { kind: 'float', tensor: { data: x0, dims: [...DIMS] } },
      target: { kind: 'float', tensor: { data: new Float32Array(DIMS[0] * 4), dims: [DIMS[0], 4] } },
    },
    ['logits'],
  );
  const logits = out['logits']!.data;
  return Array.from({ length: DIMS[0] }, (_, b) => {
    const row = Array.from(logits.subarray(b * 4, b * 4 + 4));
    const top = Math.max(...row);
    const sum = row.reduce((acc, v) => acc + Math.exp(v - top), 0);
    return row[style]! - top - Math.log(sum);
  });
}

const clean = { sample: 1, output: -2.5 };
const estimate = (sample: Float32Array, output: Float32Array) =>
  sample.map((x, i) => clean.sample * x + clean.output * output[i]!);

test('each clean estimate moves by the strength (RMS over its latent), towards the asked style', async () => {
  const sample = seeded(1);
  const output = seeded(2);
  const twemoji = Float32Array.of(0, 1, 0, 0);
  const steered = await guide.steer(output, sample, clean, { distribution: twemoji, strength: 0.1 }, DIMS);
  expect(steered).not.toBe(output);
  const before = estimate(sample, output);
  const after = estimate(sample, steered);
  const row = SIZE / DIMS[0];
  for (let b = 0; b < DIMS[0]; b++) {
    let squares = 0;
    for (let i = b * row; i < (b + 1) * row; i++) squares += (after[i]! - before[i]!) ** 2;
    expect(Math.sqrt(squares / row)).toBeCloseTo(0.1, 4);
  }
  const [p0, p1] = [await logProbability(before, 1), await logProbability(after, 1)];
  for (let b = 0; b < DIMS[0]; b++) expect(p1[b]!).toBeGreaterThan(p0[b]!);
  // the inputs are not written to
  expect(output).toEqual(seeded(2));
  expect(sample).toEqual(seeded(1));
});

test('a stronger pull moves further; a zero strength or an empty target moves nothing', async () => {
  const sample = seeded(3);
  const output = seeded(4);
  const noto = Float32Array.of(1, 0, 0, 0);
  const weak = await guide.steer(output, sample, clean, { distribution: noto, strength: 0.05 }, DIMS);
  const strong = await guide.steer(output, sample, clean, { distribution: noto, strength: 0.2 }, DIMS);
  const [pw, ps] = [
    await logProbability(estimate(sample, weak), 0),
    await logProbability(estimate(sample, strong), 0),
  ];
  for (let b = 0; b < DIMS[0]; b++) expect(ps[b]!).toBeGreaterThan(pw[b]!);
  expect(await guide.steer(output, sample, clean, { distribution: noto, strength: 0 }, DIMS)).toBe(output);
  const none = await guide.steer(
    output,
    sample,
    clean,
    { distribution: new Float32Array(4), strength: 1 },
    DIMS,
  );
  expect(none).toEqual(output);
});

/** A 2-image, 6-step grid of `red apple` on `on`, with the style if given. */
const grid = (on: DiffusionPipeline, style?: StyleRequest) =>
  on.generate(
    request(on, {
      conditions: [{ kind: 'text', text: 'red apple', weight: 1 }],
      steps: 6,
      images: [0, 1],
      ...(style ? { style } : {}),
    }),
  );
const probeRuns = (runs: Fed[]) => runs.filter((r) => r.label === 'latent_probe');
const named = (name: string, weight = 1): StyleRequest => ({ name, references: [], weight });

/** The first drawing of an eval art sheet (64 px, on white). */
async function artTile(style: string): Promise<RawImage> {
  const { data, info } = await sharp(`${STYLED}/eval/art/${style}.png`)
    .extract({ left: 0, top: 0, width: 64, height: 64 })
    .flatten({ background: '#ffffff' })
    .raw()
    .toBuffer({ resolveWithObject: true });
  return rawImage(info.width, info.height, new Uint8Array(data));
}

test('a styled job asks the probe once per step; no style and --sw 0 never do', async () => {
  expect(pipeline.defaults.latentStyleGuidance).toBeGreaterThan(0);
  const styled = await recordRuns(() => grid(pipeline, named('twemoji')));
  expect(probeRuns(styled.runs)).toHaveLength(6);
  const plain = await recordRuns(() => grid(pipeline));
  expect(probeRuns(plain.runs)).toHaveLength(0);
  const zero = await recordRuns(() => grid(pipeline, named('twemoji', 0)));
  expect(probeRuns(zero.runs)).toHaveLength(0);
});

test("--sref pulls towards the style encoder's distribution, led by the style the reply names", async () => {
  const reference = await artTile('noto');
  const { result, runs } = await recordRuns(() =>
    grid(pipeline, { name: null, references: [reference], weight: 1 }),
  );
  const calls = probeRuns(runs);
  expect(calls).toHaveLength(6);
  const feed = calls[0]!.feeds['target'];
  if (feed?.kind !== 'float') throw new Error('no float target fed to the probe');
  const first = Array.from(feed.tensor.data.subarray(0, 4));
  expect(first.reduce((a, b) => a + b, 0)).toBeCloseTo(1, 5);
  const nearest = /the style reference looks most like (\S+)$/m.exec(result.notes.join('\n'))?.[1];
  expect(nearest).toBeDefined();
  expect(['noto', 'twemoji', 'fluent', 'fluent-3d'][first.indexOf(Math.max(...first))]).toBe(nearest);
});

test("--style and --sref pull with the folder's own scale each, and the options set them apart", async () => {
  const styles = readModelStyles(STYLED)!;
  const { scale, srefScale } = styles.latentProbe!;
  expect(pipeline.defaults.latentStyleGuidance).toBe(scale);
  expect(pipeline.defaults.latentSrefGuidance).toBe(srefScale);
  const conditioner = await StyleConditioner.load(STYLED, styles, backend);
  const reference: StyleRequest = { name: null, references: [await artTile('fluent')], weight: 2 };
  const byName = named('fluent', 2);
  const target = async (style: StyleRequest, scales = {}) =>
    conditioner.styleTarget(await conditioner.tokensFor(style), style, scales)?.strength;
  expect(await target(byName)).toBeCloseTo(2 * scale, 6);
  expect(await target(reference)).toBeCloseTo(2 * srefScale, 6);
  expect(await target(byName, { sref: 0.3 })).toBeCloseTo(2 * scale, 6);
  expect(await target(reference, { sref: 0.3 })).toBeCloseTo(0.6, 6);
  expect(await target(reference, { sref: 0 })).toBeUndefined();
  // the pipeline option for --sref alone: a reference job no longer asks the probe, a named style still does
  const srefOff = await DiffusionPipeline.fromPretrained(STYLED, { threads: 1, latentSrefGuidance: 0 });
  try {
    expect(srefOff.defaults.latentSrefGuidance).toBe(0);
    expect(srefOff.defaults.latentStyleGuidance).toBe(scale);
    expect(probeRuns((await recordRuns(() => grid(srefOff, reference))).runs)).toHaveLength(0);
    expect(probeRuns((await recordRuns(() => grid(srefOff, byName))).runs)).toHaveLength(6);
  } finally {
    await srefOff.dispose();
  }
});

test('the pull changes a styled grid, and only a styled one', async () => {
  const off = await DiffusionPipeline.fromPretrained(STYLED, { threads: 1, latentStyleGuidance: 0 });
  try {
    expect(off.defaults.latentStyleGuidance).toBe(0);
    const bytes = (r: Awaited<ReturnType<typeof grid>>) => Buffer.concat(r.images.map((i) => i.data));
    const [a, b] = [await grid(pipeline, named('fluent')), await grid(off, named('fluent'))];
    expect(bytes(a).equals(bytes(b))).toBe(false);
    const [c, d] = [await grid(pipeline), await grid(off)];
    expect(bytes(c).equals(bytes(d))).toBe(true);
  } finally {
    await off.dispose();
  }
});

test('the largest --sw a member can send (1000) still gives pictures, not noise or a flat fill', async () => {
  const { images } = await grid(pipeline, named('noto', 10));
  for (const image of images) {
    const values = Array.from(image.data);
    // an emoji on white: much of the background stays white (0.29-0.34 here, 0.44-0.47 at --sw 100,
    // about 0.08 for uniform noise), and the drawing has contrast (a flat fill has none)
    const white = values.filter((v) => v > 235).length / values.length;
    const mean = values.reduce((a, b) => a + b, 0) / values.length;
    const spread = Math.sqrt(values.reduce((a, b) => a + (b - mean) ** 2, 0) / values.length);
    expect(white).toBeGreaterThan(0.15);
    expect(spread).toBeGreaterThan(40);
  }
});
