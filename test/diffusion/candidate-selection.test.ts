/** @jest-environment ./test/diffusion/onnx-environment.cjs */
/**
 * Choosing among starts (models/emoji-ld2 asks for it in model_index.json `candidate_selection`): each grid
 * slot runs two starting noises to the choosing step and goes on with the one whose clean estimate the
 * model's own encoders find nearer the prompt. Checked against the same pipeline with choosing off: every
 * slot must be exactly one of its two starts run alone, the one that scored higher at that step.
 */
import { jest } from '@jest/globals';
import sharp from 'sharp';
import {
  chooseStarts,
  choosingStep,
  pickRows,
  promptScore,
  SECOND_START_STREAM,
  schedulerAllowsChoosing,
} from '../../src/diffusion/candidate-selection.js';
import { DiffusionPipeline } from '../../src/diffusion/pipeline.js';
import type { Progress } from '../../src/diffusion/request.js';
import { rawImage } from '../../src/images/raw-image.js';
import { request } from './helpers.js';

const MODEL = 'models/emoji-ld2';
const STEPS = 6;

describe('the choosing rules', () => {
  test('a slot takes its second start only when it scores strictly higher', () => {
    expect(chooseStarts([0.2, 0.5, 0.1, 0.4, 0.3, 0.5, 0.0, 0.9], 4)).toEqual([1, 0, 0, 1]);
    expect(() => chooseStarts([1, 2, 3], 2)).toThrow(/expected 4 scores/);
  });

  test('the choosing step lies strictly inside the loop, else there is no choosing', () => {
    expect(choosingStep(0, 20, 0.5)).toBe(10);
    expect(choosingStep(4, 10, 0.5)).toBe(7);
    expect(choosingStep(0, 1, 0.5)).toBeNull();
    expect(choosingStep(0, 2, 0.1)).toBeNull();
  });

  test('a negative part counts against an image that looks like it', () => {
    const cat = new Float32Array([1, 0]);
    const dog = new Float32Array([0, 1]);
    const image = new Float32Array([0.9, 0.1]);
    expect(promptScore(image, [{ embedding: cat, weight: 1 }])).toBeGreaterThan(0.9);
    expect(promptScore(image, [{ embedding: cat, weight: -1 }])).toBeLessThan(-0.9);
    expect(promptScore(image, [{ embedding: dog, weight: 1 }])).toBeLessThan(0.2);
  });

  test('samplers that keep the previous step get no choosing', () => {
    expect(schedulerAllowsChoosing('euler-ancestral')).toBe(true);
    expect(schedulerAllowsChoosing('dpmpp-2m-karras')).toBe(false);
  });

  test('rows are picked in the order asked', () => {
    expect([...pickRows(new Float32Array([1, 1, 2, 2, 3, 3]), 2, [2, 0])]).toEqual([3, 3, 1, 1]);
  });
});

describe('choosing among starts on emoji-ld2', () => {
  let choosing: DiffusionPipeline;
  let plain: DiffusionPipeline;
  beforeAll(async () => {
    choosing = await DiffusionPipeline.fromPretrained(MODEL, { threads: 1 });
    plain = await DiffusionPipeline.fromPretrained(MODEL, { threads: 1, chooseStarts: false });
    // Requests may name grid images 0-3 only; this pipeline must also make a slot's second start alone.
    jest.spyOn(plain as unknown as { validate: () => void }, 'validate').mockImplementation(() => undefined);
  });
  afterAll(async () => {
    await choosing.dispose();
    await plain.dispose();
  });

  const job = (p: DiffusionPipeline, images = [0, 1, 2, 3], text = 'red apple') =>
    request(p, { conditions: [{ kind: 'text', text, weight: 1 }], steps: STEPS, seed: 11, images });

  test('each slot is the better of its two starts at the choosing step, run to the end alone', async () => {
    const chosen = await choosing.generate(job(choosing));
    const [text] = await plain.embedTexts(['red apple']);
    const picks: number[] = [];
    for (const slot of [0, 1, 2, 3]) {
      const starts = [slot, slot + SECOND_START_STREAM];
      // the clean estimates at the choosing step (half the steps) and the finished images of both starts
      const halfway = await plain.generate({ ...job(plain, starts), stop: 0.5 });
      const finished = await plain.generate(job(plain, starts));
      const scores: number[] = [];
      for (const image of halfway.images) {
        scores.push(promptScore((await plain.embedImage(image))!, [{ embedding: text!, weight: 1 }]));
      }
      const pick = scores[1]! > scores[0]! ? 1 : 0;
      picks.push(pick);
      expect(chosen.images[slot]!.data).toEqual(finished.images[pick]!.data);
      expect(chosen.images[slot]!.data).not.toEqual(finished.images[1 - pick]!.data);
    }
    // seed 11 makes both kinds of choice, so the test sees the second starts taken and left
    expect(new Set(picks).size).toBe(2);
    expect(chosen.indices).toEqual([0, 1, 2, 3]);
  });

  test('image i made alone is image i of the grid', async () => {
    const grid = await choosing.generate(job(choosing));
    const alone = await choosing.generate(job(choosing, [2]));
    expect(alone.images[0]!.data).toEqual(grid.images[2]!.data);
  });

  test('a sampler with memory and an init image get one start per image', async () => {
    const dpm = { ...job(choosing), scheduler: 'dpmpp-2m-karras' as const };
    expect((await choosing.generate(dpm)).images.map((i) => i.data)).toEqual(
      (await plain.generate({ ...dpm })).images.map((i) => i.data),
    );
    const size = choosing.defaults.size;
    const pixels = await sharp({ create: { width: size, height: size, channels: 3, background: '#c33' } })
      .raw()
      .toBuffer();
    const source = rawImage(size, size, new Uint8Array(pixels));
    const init = { ...job(choosing), init: { image: source, strength: 0.6 } };
    expect((await choosing.generate(init)).images.map((i) => i.data)).toEqual(
      (await plain.generate({ ...init })).images.map((i) => i.data),
    );
  });

  test('--stop still chooses half-way through the steps it runs, and ends on the estimate', async () => {
    const stopped = { ...job(choosing), steps: 12, stop: 0.5 };
    const seen: number[] = [];
    const result = await choosing.generate(stopped, (p) => {
      if (p.stage === 'denoise') seen.push(p.step);
    });
    expect(seen).toEqual([1, 2, 3, 4, 5, 6]);
    expect(result.images).toHaveLength(4);
    const plainResult = await plain.generate({ ...stopped });
    // some slot took its second start, so the early-stopped grid is not the one-start grid
    expect(result.images.map((i) => i.data)).not.toEqual(plainResult.images.map((i) => i.data));
  });

  test('progress counts one loop of steps and previews the four slots', async () => {
    const seen: Progress[] = [];
    const previews: { width: number; height: number }[] = [];
    await choosing.generate(job(choosing), (p) => {
      seen.push(p);
    });
    const steps = seen.filter((p) => p.stage === 'denoise');
    expect(steps.map((p) => p.step)).toEqual([1, 2, 3, 4, 5, 6]);
    expect(new Set(steps.map((p) => p.total))).toEqual(new Set([STEPS]));
    for (const p of [steps[0]!, steps[5]!]) {
      const preview = await p.preview!();
      previews.push({ width: preview.width, height: preview.height });
    }
    // the first step (8 starts running) and the last (4) preview the same 2x2 grid
    expect(previews[0]).toEqual(previews[1]);
  });
});
