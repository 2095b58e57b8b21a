import {
  DEFAULT_POLICY,
  evaluatePolicy,
  type GuildPolicy,
  guildPolicySchema,
} from '../../src/policy/index.js';
import { parseImagine, parsePrompt } from '../../src/prompt/index.js';

const policy = (overrides: Partial<GuildPolicy>): GuildPolicy => guildPolicySchema.parse({ ...overrides });
const rules = (prompt: string, p: GuildPolicy = DEFAULT_POLICY, ctx = {}) =>
  evaluatePolicy(parsePrompt(prompt), p, ctx).map((v) => v.rule);

describe('weight sum (Midjourney rule, on by default)', () => {
  test('the Loab prompt is refused by default, with an actionable message', () => {
    const [violation] = evaluatePolicy(parsePrompt('DIGITA PNTICS skyline logo::-99.99'), DEFAULT_POLICY);
    expect(violation?.rule).toBe('weight-sum');
    expect(violation?.message).toContain('add up to -99.99');
    expect(violation?.message).toContain('above 0');
  });

  test('a sum of exactly 0 is refused; a small positive sum is allowed', () => {
    expect(rules('cat --no dog, hat')).toEqual(['weight-sum']);
    expect(rules('北极熊::0.6,白色::-0.5')).toEqual([]);
  });

  test('admins may switch it off', () => {
    expect(rules('DIGITA PNTICS skyline logo::-99.99', policy({ requirePositiveWeightSum: false }))).toEqual(
      [],
    );
  });
});

describe('negative floor on normalized weights', () => {
  test('off by default', () => {
    expect(DEFAULT_POLICY.minNormalizedWeight).toBeNull();
  });

  test('each part under the floor is reported by name', () => {
    const violations = evaluatePolicy(
      parsePrompt('tulips:: red::-.5 green::-.5'),
      policy({ minNormalizedWeight: -0.5 }),
    );
    expect(violations.map((v) => v.rule)).toEqual(['weight-sum', 'negative-floor', 'negative-floor']);
    expect(violations[1]?.message).toContain('"red" weighs');
    expect(violations[2]?.message).toContain('"green" weighs');
  });

  test('a part at the floor passes', () => {
    expect(rules('cat::2 dog::-1', policy({ minNormalizedWeight: -1 }))).toEqual([]);
  });
});

describe('banned words', () => {
  const strict = policy({ bannedWords: ['gore', 'blood bath', '血腥'] });

  test('whole words, any case, any width, reporting what matched', () => {
    const violations = evaluatePolicy(parsePrompt('a GORE scene'), strict);
    expect(violations).toEqual([
      {
        rule: 'banned-word',
        message: expect.stringContaining('"GORE" is not allowed on this server (banned word: gore)'),
      },
    ]);
    expect(rules('ｇｏｒｅ', strict)).toEqual(['banned-word']);
  });

  test('not inside other words', () => {
    expect(rules('gorey gorefest', strict)).toEqual([]);
  });

  test('phrases match across any whitespace', () => {
    expect(rules('a Blood   Bath', strict)).toEqual(['banned-word']);
  });

  test('Chinese terms match inside unspaced text', () => {
    expect(rules('一张血腥的照片', strict)).toEqual(['banned-word']);
  });

  test('--no terms and negative parts are checked too', () => {
    expect(rules('cat --no gore', strict)).toContain('banned-word');
  });

  test('every banned word is reported once', () => {
    const violations = evaluatePolicy(parsePrompt('gore:: gore blood bath'), strict);
    expect(violations.map((v) => v.message.match(/banned word: ([^)]+)/)?.[1])).toEqual([
      'gore',
      'blood bath',
    ]);
  });
});

describe('limits', () => {
  test('steps follow --q and the model default', () => {
    const violations = evaluatePolicy(parsePrompt('cat --q 2'), policy({ maxSteps: 30 }), { baseSteps: 20 });
    expect(violations).toEqual([
      { rule: 'max-steps', message: expect.stringContaining('--q 2 means 40 steps') },
    ]);
    expect(rules('cat --q 1', policy({ maxSteps: 30 }), { baseSteps: 20 })).toEqual([]);
  });

  test('size follows --ar and the model size', () => {
    expect(rules('cat --ar 4:1', policy({ maxSide: 768 }), { baseSize: 512 })).toEqual(['max-size']);
    expect(rules('cat --ar 1:1', policy({ maxSide: 768 }), { baseSize: 512 })).toEqual([]);
  });

  test('repeat and jobs per command', () => {
    expect(rules('cat --repeat 5')).toEqual(['max-repeat']);
    const jobs = parseImagine('{a,b,c,d,e,f,g,h,i,j,k,l,m} cat');
    expect(evaluatePolicy(jobs[0]!, DEFAULT_POLICY, { jobCount: jobs.length }).map((v) => v.rule)).toContain(
      'max-jobs',
    );
  });

  test('queued jobs per user count the jobs being added', () => {
    expect(rules('cat', DEFAULT_POLICY, { queued: 9, jobCount: 1 })).toEqual([]);
    expect(rules('cat', DEFAULT_POLICY, { queued: 9, jobCount: 2 })).toEqual(['max-queued']);
  });

  test('every violation is returned at once', () => {
    const strict = policy({ bannedWords: ['logo'], maxSteps: 10, maxRepeat: 2, minNormalizedWeight: -0.5 });
    expect(rules('logo::-99.99 --q 2 --repeat 3', strict, { queued: 10 })).toEqual([
      'weight-sum',
      'negative-floor',
      'banned-word',
      'max-steps',
      'max-repeat',
      'max-queued',
    ]);
  });
});

describe('the policy schema', () => {
  test('fills defaults and refuses nonsense', () => {
    expect(guildPolicySchema.parse({}).requirePositiveWeightSum).toBe(true);
    expect(guildPolicySchema.safeParse({ maxSteps: 0 }).success).toBe(false);
    expect(guildPolicySchema.safeParse({ minNormalizedWeight: 1 }).success).toBe(false);
  });
});

describe('bounds on what one prompt costs', () => {
  const parts = (n: number) => Array.from({ length: n }, (_, i) => `part${i}::1`).join(' ');
  const links = (n: number) => Array.from({ length: n }, (_, i) => `https://example.com/${i}.png`).join(' ');

  test('eight text parts pass by default, nine are refused with the count and the limit', () => {
    expect(rules(parts(8))).toEqual([]);
    const [violation] = evaluatePolicy(parsePrompt(parts(9)), DEFAULT_POLICY);
    expect(violation?.rule).toBe('max-text-parts');
    expect(violation?.message).toContain('9 text parts');
    expect(violation?.message).toContain('at most 8');
  });

  test('--no terms count as text parts', () => {
    expect(rules(`${parts(6)} --no a, b`)).toEqual([]);
    expect(rules(`${parts(6)} --no a, b, c`)).toEqual(['max-text-parts']);
  });

  test('the 860-part prompt of a flood is refused before anything runs', () => {
    expect(rules(`${'p::1 '.repeat(860)}--q 2`)).toContain('max-text-parts');
  });

  test('five image links pass, six are refused; a server may allow fewer', () => {
    expect(rules(`${links(5)} cat`)).toEqual([]);
    expect(rules(`${links(6)} cat`)).toEqual(['max-image-prompts']);
    expect(rules(`${links(2)} cat`, policy({ maxImagePrompts: 1 }))).toEqual(['max-image-prompts']);
  });

  test('no server can raise the limits past their ceilings', () => {
    expect(() => policy({ maxImagePrompts: 6 })).toThrow();
    expect(() => policy({ maxTextParts: 17 })).toThrow();
    expect(() => policy({ maxRenderSeconds: 3601 })).toThrow();
    expect(policy({ maxTextParts: 16 }).maxTextParts).toBe(16);
  });
});
