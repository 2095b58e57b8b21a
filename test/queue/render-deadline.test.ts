import { parsePrompt } from '../../src/prompt/index.js';
import {
  DEADLINE_FACTOR,
  DEADLINE_SLACK_SECONDS,
  MIN_DEADLINE_SECONDS,
  WorkRate,
  workUnits,
} from '../../src/queue/render-deadline.js';

const model = { baseSteps: 20, baseSize: 32, sizeMultiple: 8 };

test('work grows with prompt parts, steps and area; an upscale is one pass', () => {
  const one = workUnits(parsePrompt('cat'), model);
  expect(one).toBe(4 * 2 * 20);
  expect(workUnits(parsePrompt('cat:: dog:: hat'), model)).toBe(2 * one);
  expect(workUnits(parsePrompt('cat --q 2'), model)).toBe(2 * one);
  expect(workUnits(parsePrompt('cat --stop 50'), model)).toBe(one / 2);
  expect(workUnits(parsePrompt('cat --ar 2:1'), model)).toBeGreaterThan(0.9 * one);
  const upscale = { ...parsePrompt('cat'), parents: [{ jobId: 'j', index: 0, role: 'upscale' as const }] };
  expect(workUnits(upscale, model)).toBe(1);
});

test('a folder with a style guidance row: a job with a style counts one more row, unless --sw 0', () => {
  const styledModel = { ...model, styleGuidance: 0.5, styles: ['noto', 'twemoji'], styleReference: true };
  const one = workUnits(parsePrompt('cat'), styledModel);
  expect(workUnits(parsePrompt('cat --style noto'), styledModel)).toBe(1.5 * one);
  expect(workUnits(parsePrompt('cat --sref https://e.com/a.png'), styledModel)).toBe(1.5 * one);
  expect(workUnits(parsePrompt('cat --style noto --sw 0'), styledModel)).toBe(one);
  // a style the engine drops (unknown name, or --sref on a model without a style encoder) adds no row
  expect(workUnits(parsePrompt('cat --style watercolour'), styledModel)).toBe(one);
  const noEncoder = { ...styledModel, styleReference: false };
  expect(workUnits(parsePrompt('cat --sref https://e.com/a.png'), noEncoder)).toBe(one);
  expect(workUnits(parsePrompt('cat --style noto'), model)).toBe(one);
});

test('a folder that chooses among starts: a fresh grid counts its second starts, variations and canvas jobs not', () => {
  const choosing = { ...model, chooseStartsAt: 0.5 };
  const one = workUnits(parsePrompt('cat'), model);
  expect(workUnits(parsePrompt('cat'), choosing)).toBe(1.5 * one);
  expect(workUnits(parsePrompt('cat --tile'), choosing)).toBe(one);
  const variation = {
    ...parsePrompt('cat'),
    parents: [{ jobId: 'j', index: 1, role: 'variation-strong' as const }],
  };
  expect(workUnits(variation, choosing)).toBe(workUnits(variation, model));
  const zoom = { ...parsePrompt('cat'), canvas: { mode: 'outpaint' as const, zoom: 2 } };
  expect(workUnits(zoom, choosing)).toBe(workUnits(zoom, model));
});

test('few-step families: the unconditional row is counted only where the engine runs it', () => {
  const turbo = { ...model, distilled: 'turbo' as const, guidance: 'none' as const, baseSteps: 2 };
  const lcm = { ...model, distilled: 'lcm' as const, guidance: 'embedded' as const, baseSteps: 4 };
  // Turbo, one plain part: one row per image (no guidance); a negative part brings the row back.
  expect(workUnits(parsePrompt('cat'), turbo)).toBe(4 * 1 * 2);
  expect(workUnits(parsePrompt('cat --no dog'), turbo)).toBe(4 * 3 * 2);
  // LCM never runs one: a row per part.
  expect(workUnits(parsePrompt('cat:: dog'), lcm)).toBe(4 * 2 * 4);
  // A part weighed 0 runs nothing.
  expect(workUnits(parsePrompt('cat:: dog::0'), model)).toBe(workUnits(parsePrompt('cat'), model));
});

test('a worker that has measured nothing allows the server maximum', () => {
  expect(new WorkRate().deadlineSeconds(1000, 300)).toBe(300);
});

test('once measured, a job gets a few times its expected time, within the floor and the server cap', () => {
  const rate = new WorkRate();
  rate.observe(160, 0.32); // a one-part grid in 0.32 s
  const units = workUnits(parsePrompt(`${'p::1 '.repeat(16)}--q 2`), model);
  const expected = (0.32 / 160) * units;
  expect(rate.deadlineSeconds(units, 300)).toBeCloseTo(DEADLINE_FACTOR * expected + DEADLINE_SLACK_SECONDS);
  expect(rate.deadlineSeconds(160, 300)).toBe(MIN_DEADLINE_SECONDS);
  expect(rate.deadlineSeconds(1e9, 300)).toBe(300);
});

test('one slow job moves the estimate only part of the way', () => {
  const rate = new WorkRate();
  rate.observe(100, 1);
  rate.observe(100, 11);
  const seconds = rate.deadlineSeconds(10_000, 1e6);
  expect(seconds).toBeGreaterThan(DEADLINE_FACTOR * 100 * 1.5);
  expect(seconds).toBeLessThan(DEADLINE_FACTOR * 100 * 11);
});
