import fc from 'fast-check';
import { PromptError, parseImagine } from '../../src/prompt/index.js';

// Fragments of the seed's prompts and the syntax around them, mixed with arbitrary unicode, so the
// fuzzer reaches deep into the grammar instead of only producing plain text.
const fragments = fc.constantFrom(
  '北极熊',
  '白色',
  '企鹅',
  '热带雨林',
  'DIGITA PNTICS skyline logo',
  'Brando',
  '::',
  '：：',
  '::-99.99',
  '::0.6',
  '::-.5',
  '::.5',
  ',',
  '，',
  '、',
  ' --no ',
  ' --ar 16:9',
  ' --chaos ',
  ' --iw ',
  ' --seed ',
  ' —c 5',
  ' --',
  '{',
  '}',
  '\\{',
  'https://cdn.example.com/x.png ',
  '<https://a.b/c.webp> ',
  ' ',
  '-',
  '0',
  '1e309',
);

const prompt = fc
  .array(
    fc.oneof(
      fragments,
      fc.string({ unit: 'grapheme', maxLength: 40 }),
      fc.string({ unit: 'binary', maxLength: 40 }),
    ),
    {
      maxLength: 150,
    },
  )
  .map((pieces) => pieces.join(''))
  .filter((text) => text.length <= 6000);

describe('fuzz: the parser never crashes', () => {
  test('arbitrary prompts in the seed style give a job description or a PromptError, nothing else', () => {
    fc.assert(
      fc.property(prompt, (text) => {
        try {
          const jobs = parseImagine(text);
          for (const job of jobs) {
            expect(JSON.parse(JSON.stringify(job))).toEqual(job);
            for (const p of job.prompts) expect(Number.isFinite(p.normalized)).toBe(true);
            const mass = job.prompts.reduce((sum, p) => sum + Math.abs(p.normalized), 0);
            expect(mass).toBeLessThanOrEqual(4 + 1e-6);
          }
        } catch (error) {
          if (!(error instanceof PromptError)) throw error;
          expect(error.message.length).toBeGreaterThan(0);
        }
      }),
      { numRuns: 3000 },
    );
  });

  test('arbitrary unicode up to 6,000 characters', () => {
    fc.assert(
      fc.property(fc.string({ unit: 'binary', maxLength: 6000 }), (text) => {
        try {
          parseImagine(text);
        } catch (error) {
          if (!(error instanceof PromptError)) throw error;
        }
      }),
      { numRuns: 300 },
    );
  });

  test('over 6,000 characters is a typed error, not a crash', () => {
    expect(() => parseImagine('a'.repeat(6001))).toThrow(PromptError);
  });
});
