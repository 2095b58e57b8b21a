import { deriveReroll, deriveUpscale, deriveVariation } from '../../src/jobs/derive.js';
import { parsePrompt } from '../../src/prompt/index.js';

const parent = parsePrompt('https://a.example/x.png polar bear::0.6 white::-0.5 --seed 5 --ar 3:2 --iw 2');

test('a variation keeps the text, adds the chosen image as a weighted image prompt, and records its parent', () => {
  const v = deriveVariation(parent, { jobId: 'j1', index: 2, ref: 'job:j1/2' }, 'variation-strong');
  expect(v.prompts.map((p) => [p.kind, p.kind === 'text' ? p.text : p.url, p.weight])).toEqual([
    ['image', 'job:j1/2', 2],
    ['text', 'polar bear', 0.6],
    ['text', 'white', -0.5],
  ]);
  expect(v.weightSum).toBeCloseTo(2.1);
  expect(v.prompts.reduce((s, p) => s + p.normalized, 0)).toBeCloseTo(1);
  expect(v.params).toMatchObject({ seed: null, aspect: { width: 3, height: 2 } });
  expect(v.parents).toEqual([{ jobId: 'j1', index: 2, role: 'variation-strong' }]);
});

test('a remixed variation takes the new text', () => {
  const v = deriveVariation(
    parent,
    { jobId: 'j1', index: 0, ref: 'job:j1/0' },
    'variation-subtle',
    parsePrompt('penguin'),
  );
  expect(v.prompts.map((p) => (p.kind === 'text' ? p.text : p.url))).toEqual(['job:j1/0', 'penguin']);
  expect(v.parents[0]?.role).toBe('variation-subtle');
});

test('upscale keeps the description; reroll clears the seed and keeps image parents', () => {
  expect(deriveUpscale(parent, { jobId: 'j1', index: 3 }).parents).toEqual([
    { jobId: 'j1', index: 3, role: 'upscale' },
  ]);
  const v = deriveVariation(parent, { jobId: 'j1', index: 1, ref: 'job:j1/1' }, 'variation-strong');
  const r = deriveReroll(v, 'j2');
  expect(r.params.seed).toBeNull();
  expect(r.parents).toEqual([
    { jobId: 'j1', index: 1, role: 'variation-strong' },
    { jobId: 'j2', index: null, role: 'reroll' },
  ]);
});
