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
import { LatentStyleGuide, withoutCheckerboard } from '../../src/diffusion/latent-style-guidance.js';
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

describe('the gradient loses its period-2 component, nothing else of note', () => {
  const [H, W] = [6, 8];
  const plane = (f: (y: number, x: number) => number) =>
    Float32Array.from({ length: H * W }, (_, i) => f(Math.floor(i / W), i % W));
  const rms = (d: Float32Array) => Math.sqrt(d.reduce((a, v) => a + v * v, 0) / d.length);
  test.each([
    ['across', (_y: number, x: number) => (x % 2 ? -1 : 1)],
    ['down', (y: number) => (y % 2 ? -1 : 1)],
    ['both ways', (y: number, x: number) => ((x + y) % 2 ? -1 : 1)],
  ])('a checkerboard %s goes, up to the borders', (_what, f) => {
    expect(rms(withoutCheckerboard(plane(f), 1, H, W))).toBeLessThan(1e-6);
  });
  test('a constant stays, and a slow ramp nearly', () => {
    const flat = withoutCheckerboard(
      plane(() => 0.7),
      1,
      H,
      W,
    );
    for (const v of flat) expect(v).toBeCloseTo(0.7, 6);
    const ramp = plane((y, x) => Math.sin((2 * Math.PI * x) / W) + 0.5 * Math.cos((2 * Math.PI * y) / H));
    const kept = withoutCheckerboard(ramp, 1, H, W);
    expect(rms(kept.map((v, i) => v - ramp[i]!))).toBeLessThan(0.25 * rms(ramp));
  });
  test('planes are filtered apart', () => {
    const two = new Float32Array(2 * H * W);
    two.set(plane(() => 1));
    const out = withoutCheckerboard(two, 2, H, W);
    expect(Math.max(...out.subarray(H * W).map(Math.abs))).toBe(0);
  });
});

test("a step's move keeps almost none of the probe's period-2 pattern", async () => {
  const [sample, output] = [seeded(5), seeded(6)];
  const noto = Float32Array.of(1, 0, 0, 0);
  const steered = await guide.steer(output, sample, clean, { distribution: noto, strength: 0.2 }, DIMS);
  const move = steered.map((v, i) => v - output[i]!);
  const raw = await probe.run(
    {
      latent: { kind: 'float', tensor: { data: estimate(sample, output), dims: [...DIMS] } },
      target: { kind: 'float', tensor: { data: Float32Array.of(1, 0, 0, 0, 1, 0, 0, 0), dims: [2, 4] } },
    },
    ['grad'],
  );
  const [h, w] = [DIMS[2], DIMS[3]];
  // the largest checkerboard amplitude over the planes, as a share of the RMS
  const checkerboardShare = (d: Float32Array) => {
    let board = 0;
    for (let p = 0; p < DIMS[0] * DIMS[1]; p++) {
      let dot = 0;
      for (let y = 0; y < h; y++)
        for (let x = 0; x < w; x++) dot += d[(p * h + y) * w + x]! * ((x + y) % 2 ? -1 : 1);
      board = Math.max(board, Math.abs(dot) / (h * w));
    }
    return board / Math.sqrt(d.reduce((acc, v) => acc + v * v, 0) / d.length);
  };
  const before = checkerboardShare(raw['grad']!.data);
  // the probe's own gradient has it (about 0.15 of its RMS here); the move keeps a border remnant only
  expect(before).toBeGreaterThan(0.05);
  expect(checkerboardShare(move)).toBeLessThan(0.2 * before);
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
