import { fitStyle } from '../../src/jobs/style.js';
import { readModelInfo } from '../../src/model/info.js';
import { parsePrompt } from '../../src/prompt/parse.js';

const styled = { styles: ['noto', 'twemoji', 'fluent', 'fluent-3d'], styleReference: true };
const plain = { styles: [], styleReference: false };

test('a model with styles keeps a named style, in its own spelling', () => {
  const job = fitStyle(parsePrompt('cat --style Fluent-3D --sw 300'), styled);
  expect(job.params).toMatchObject({ style: 'fluent-3d', sw: 300 });
  expect(job.notes).toEqual([]);
});

test("a style the model does not have is ignored with the model's list, and the job still runs", () => {
  const job = fitStyle(parsePrompt('cat --style raw'), styled);
  expect(job.params.style).toBeNull();
  expect(job.notes).toEqual([
    "--style raw is ignored: this model's styles are noto, twemoji, fluent, fluent-3d",
  ]);
});

test('a model with one style ignores --style, --sref and --sw, and fetches nothing for them', () => {
  const job = fitStyle(parsePrompt('cat --style noto --sref https://e.com/a.png --sw 50'), plain);
  expect(job.params.style).toBeNull();
  expect(job.params.sref).toBeUndefined();
  expect(job.params.sw).toBeUndefined();
  expect(job.notes).toEqual([
    '--style noto is ignored: this model has one style',
    '--sref is ignored: this model cannot take a style from an image',
    '--sw is ignored: it weighs a --style or --sref',
  ]);
});

test('--style and --sref together: the named style wins, and the reply says so', () => {
  const job = fitStyle(parsePrompt('cat --style noto --sref https://e.com/a.png'), styled);
  expect(job.params).toMatchObject({ style: 'noto' });
  expect(job.params.sref).toBeUndefined();
  expect(job.notes).toEqual(['--sref is ignored: --style noto already sets the style']);
});

test('fitting twice changes nothing more (the bot and the worker both apply it)', () => {
  const once = fitStyle(parsePrompt('cat --style raw --sw 10'), styled);
  expect(fitStyle(once, styled)).toBe(once);
  const kept = fitStyle(parsePrompt('cat --sref https://e.com/a.png --sw 10'), styled);
  expect(kept.params).toMatchObject({ sref: ['https://e.com/a.png'], sw: 10 });
  expect(fitStyle(kept, styled)).toBe(kept);
});

test("the models' folders say what they offer", () => {
  expect(readModelInfo('models/emoji-ld')).toMatchObject({ styles: [], styleReference: false });
  expect(readModelInfo('models/emoji-ld2')).toMatchObject({
    styles: ['noto', 'twemoji', 'fluent', 'fluent-3d'],
    styleReference: true,
  });
});
