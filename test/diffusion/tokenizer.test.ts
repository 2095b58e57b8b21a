import { readFileSync } from 'node:fs';
import { loadPromptTokenizer } from '../../src/diffusion/tokenizer.js';

const models = new URL('../fixtures/models/', import.meta.url).pathname;
/** Ids from an independent CLIP BPE (OpenAI's simple_tokenizer algorithm) in scripts/make-fixture-models.py. */
const reference = JSON.parse(
  readFileSync(new URL('../fixtures/tokenizer-reference.json', import.meta.url), 'utf8'),
) as Record<string, { text: string; ids: number[] }[]>;

describe.each(Object.entries(reference))('CLIP BPE from vocab.json + merges.txt (%s)', (model, cases) => {
  const tokenizer = loadPromptTokenizer(`${models}${model}/tokenizer`);
  test.each(cases.map((c) => [c.text.slice(0, 40), c] as const))('%j', (_text, c) => {
    expect(tokenizer.encode(c.text)).toEqual(c.ids);
  });
});

test('SD 1.5 pads with EOS (49407), SD 2.1 with "!" (0), both to 77', () => {
  expect(loadPromptTokenizer(`${models}sd15-tiny/tokenizer`)).toMatchObject({ maxLength: 77, padId: 49407 });
  expect(loadPromptTokenizer(`${models}sd21-tiny/tokenizer`)).toMatchObject({ maxLength: 77, padId: 0 });
});

test('truncation keeps the end-of-text token last', () => {
  const ids = loadPromptTokenizer(`${models}sd15-tiny/tokenizer`).encode('cat '.repeat(200));
  expect(ids).toHaveLength(77);
  expect(ids[0]).toBe(49406);
  expect(ids[76]).toBe(49407);
});

describe('WordPiece tokenizer.json (the project layout)', () => {
  const tokenizer = loadPromptTokenizer(`${models}emoji-tiny/tokenizer`);

  test('English and Chinese words map to their ids, framed by [CLS] and [SEP], padded to 16', () => {
    expect(tokenizer.maxLength).toBe(16);
    // vocab: [PAD]=0 [UNK]=1 [CLS]=2 [SEP]=3 ... polar=10 bear=11 北=25 极=26 熊=27
    expect(tokenizer.encode('Polar bear')).toEqual([2, 10, 11, 3, ...new Array(12).fill(0)]);
    expect(tokenizer.encode('北极熊')).toEqual([2, 25, 26, 27, 3, ...new Array(11).fill(0)]);
  });

  test('unknown words become [UNK] and sub-words use ##', () => {
    expect(tokenizer.encode('cats zebra').slice(0, 5)).toEqual([2, 8, 21, 1, 3]);
  });
});

test('overflow says how many tokens were kept and what was cut; a prompt that fits has none', () => {
  const tokenizer = loadPromptTokenizer('models/emoji-ld/tokenizer');
  expect(tokenizer.overflow('polar bear')).toBeNull();
  const long = 'polar bear on white ice under a grey sky with snow falling on the sea and a red apple';
  const over = tokenizer.overflow(long)!;
  expect(over.kept).toBe(tokenizer.maxLength - 2);
  expect(over.cut.length).toBeGreaterThan(0);
  expect(long.endsWith(over.cut.split(' ').at(-1)!)).toBe(true);
});
