import { MAX_GUIDANCE_MASS, normalizeWeights } from '../../src/jobs/weights.js';
import { parsePrompt } from '../../src/prompt/index.js';

const normalized = (prompt: string) => parsePrompt(prompt).prompts.map((p) => p.normalized);

describe("Midjourney's weight equivalences", () => {
  test.each([
    ['space:: ship', 'space::2 ship::2'],
    ['space:: ship', 'space::100 ship::100'],
    ['tulips:: red::-.5', 'tulips::2 red::-1'],
    ['still life gouache painting --no fruit', 'still life gouache painting:: fruit::-.5'],
    ['企鹅::0.5, 热带雨林::0.5', '企鹅::1 热带雨林::1'],
  ])('%s == %s', (a, b) => {
    expect(normalized(a)).toEqual(normalized(b));
  });

  test('a part without a weight weighs 1 and a positive sum normalizes to 1', () => {
    const job = parsePrompt('space:: ship::3');
    expect(job.prompts.map((p) => p.weight)).toEqual([1, 3]);
    expect(job.prompts.map((p) => p.normalized)).toEqual([0.25, 0.75]);
    expect(job.weightSum).toBe(4);
  });

  test('weights differ in meaning: space::2 ship is not space:: ship', () => {
    expect(normalized('space::2 ship')).not.toEqual(normalized('space:: ship'));
  });
});

describe('normalization where the sum is small or not positive', () => {
  test("the seed's Loab prompt becomes one prompt's worth of guidance pointing away", () => {
    const job = parsePrompt('DIGITA PNTICS skyline logo::-99.99');
    expect(job.weightSum).toBeCloseTo(-99.99);
    expect(job.prompts[0]?.normalized).toBe(-1);
  });

  test('a negative sum keeps every sign and ratio, and sums to -1', () => {
    const values = normalizeWeights([1, -3]);
    expect(values[0]).toBeCloseTo(0.5);
    expect(values[1]).toBeCloseTo(-1.5);
    expect(values.reduce((a, b) => a + b)).toBeCloseTo(-1);
  });

  test('near-zero sums stay bounded instead of blowing up', () => {
    for (const weights of [
      [1, -0.99],
      [1, -1],
      [1, -1.01],
      [0.6, -0.5],
    ]) {
      const mass = normalizeWeights(weights).reduce((a, b) => a + Math.abs(b), 0);
      expect(mass).toBeLessThanOrEqual(MAX_GUIDANCE_MASS + 1e-9);
    }
  });

  test('the divisor is continuous across zero', () => {
    const left = normalizeWeights([1, -1.0001]);
    const right = normalizeWeights([1, -0.9999]);
    expect(left[0]).toBeCloseTo(right[0]!, 3);
    expect(left[1]).toBeCloseTo(right[1]!, 3);
  });

  test("the seed's polar bear keeps its signs: toward the bear, away from white", () => {
    const [bear, white] = parsePrompt('北极熊::0.6,白色::-0.5').prompts;
    expect(bear).toMatchObject({ text: '北极熊', weight: 0.6 });
    expect(white).toMatchObject({ text: '白色', weight: -0.5 });
    expect(bear!.normalized).toBeGreaterThan(0);
    expect(white!.normalized).toBeLessThan(0);
    expect(bear!.normalized / white!.normalized).toBeCloseTo(0.6 / -0.5);
  });

  test('all-zero weights are refused with a reason', () => {
    expect(() => parsePrompt('cat::0')).toThrow('all weights are 0');
  });

  test('a zero weight next to others is kept and weighs nothing', () => {
    expect(normalized('cat:: dog::0')).toEqual([1, 0]);
  });
});
