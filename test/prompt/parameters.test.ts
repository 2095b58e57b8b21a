import { DEFAULT_PARAMS, PromptError, parseImagine, parsePrompt } from '../../src/prompt/index.js';

const params = (prompt: string) => parsePrompt(prompt).params;

function errorOf(prompt: string): PromptError {
  try {
    parsePrompt(prompt);
  } catch (error) {
    if (error instanceof PromptError) return error;
    throw error;
  }
  throw new Error(`expected ${prompt} to be refused`);
}

describe('parameters and their defaults', () => {
  test("defaults follow Midjourney's documentation", () => {
    expect(params('cat')).toEqual({ ...DEFAULT_PARAMS, no: [], aspect: { width: 1, height: 1 } });
    expect(DEFAULT_PARAMS).toMatchObject({
      chaos: 0,
      quality: 1,
      stop: 100,
      stylize: 100,
      iw: 1,
      weird: 0,
      tile: false,
    });
  });

  test('every parameter with its aliases', () => {
    expect(
      params(
        'cat --ar 16:9 --chaos 30 --q .5 --seed 4294967295 --stop 50 --stylize 750 --tile --weird 250 --iw 1.5 --repeat 3 --relax',
      ),
    ).toMatchObject({
      aspect: { width: 16, height: 9 },
      chaos: 30,
      quality: 0.5,
      seed: 4294967295,
      stop: 50,
      stylize: 750,
      tile: true,
      weird: 250,
      iw: 1.5,
      repeat: 3,
      mode: 'relax',
    });
    expect(params('cat --aspect 2:3 --c 5 --quality 2 --s 0 --w 3000 --r 40')).toMatchObject({
      aspect: { width: 2, height: 3 },
      chaos: 5,
      quality: 2,
      stylize: 0,
      weird: 3000,
      repeat: 40,
    });
  });

  test('--no adds each term at -0.5, full-width and ideographic commas too', () => {
    const job = parsePrompt('still life --no fruit，bowl、 cloth');
    expect(job.params.no).toEqual(['fruit', 'bowl', 'cloth']);
    expect(job.prompts.slice(1).map((p) => [p.kind === 'text' && p.text, p.weight])).toEqual([
      ['fruit', -0.5],
      ['bowl', -0.5],
      ['cloth', -0.5],
    ]);
  });

  test('a dash that a phone typed for -- still starts a parameter', () => {
    expect(params('cat —ar 3:2 ——chaos 10')).toMatchObject({ aspect: { width: 3, height: 2 }, chaos: 10 });
    expect(parsePrompt('北极熊——白色').prompts[0]).toMatchObject({ text: '北极熊——白色' });
  });

  test('model selectors are recorded and the user is told they are ignored', () => {
    const job = parsePrompt('cat --v 6 --style raw');
    expect(job.params).toMatchObject({ version: '6', style: 'raw' });
    // --style is judged against the model's styles (test/jobs/style.test.ts), not here.
    expect(job.notes).toEqual(['--v 6 is ignored: this server runs its own model']);
  });

  test.each([
    ['cat --chaos 101', 'out-of-range', '--chaos must be 0-100, got 101'],
    ['cat --c -1', 'bad-value', '--c must be a whole number 0-100, got -1'],
    ['cat --stylize 1001', 'out-of-range', '--stylize must be 0-1000, got 1001'],
    ['cat --stop 5', 'out-of-range', '--stop must be 10-100, got 5'],
    ['cat --seed 4294967296', 'out-of-range', '--seed must be 0-4294967295, got 4294967296'],
    ['cat --weird 3001', 'out-of-range', '--weird must be 0-3000, got 3001'],
    ['cat --iw 3.5', 'out-of-range', '--iw must be 0-3, got 3.5'],
    ['cat --repeat 1', 'out-of-range', '--repeat must be 2-40, got 1'],
    ['cat --q 3', 'out-of-range', '--q must be one of .25, .5, 1, 2, got 3'],
    ['cat --ar 16x9', 'bad-value', '--ar must be width:height in whole numbers, e.g. 16:9, got 16x9'],
    ['cat --ar 10:1', 'out-of-range', '--ar must be between 1:4 and 4:1, got 10:1'],
    ['cat --ar 0:1', 'out-of-range', '--ar sides must be at least 1, got 0:1'],
    ['cat --ar', 'missing-value', '--ar needs a value (width:height, e.g. 16:9)'],
    ['cat --tile yes', 'bad-value', '--tile takes no value, got yes'],
    ['cat --seed 1 --seed 2', 'duplicate-parameter', '--seed is given twice (also as --seed)'],
    ['cat --s 10 --stylize 20', 'duplicate-parameter', '--stylize is given twice (also as --s)'],
    ['cat --fast --relax', 'duplicate-parameter', 'choose one of --fast, --relax and --turbo'],
    ['cat --no red::2', 'bad-value', '--no takes plain words'],
    ['cat --sreff 123', 'unknown-parameter', 'unknown parameter --sreff'],
    ['cat --ar 1:1 --', 'unknown-parameter', '"--" is not a parameter name'],
  ])('%s is refused: %s', (prompt, code, message) => {
    const error = errorOf(prompt);
    expect(error.code).toBe(code);
    expect(error.message).toContain(message);
  });

  test('--no may be given more than once; its terms add up', () => {
    expect(params('cat --no red --no blue').no).toEqual(['red', 'blue']);
  });

  test('parameters are case-insensitive', () => {
    expect(params('cat --AR 2:1').aspect).toEqual({ width: 2, height: 1 });
  });
});

describe('defaults from /settings', () => {
  test('apply where the prompt says nothing, and the prompt text stays as typed', () => {
    const [job] = parseImagine('a cat', { defaults: { stylize: 250, quality: 2 } });
    expect(job?.params).toMatchObject({ stylize: 250, quality: 2 });
    expect(job?.prompt).toBe('a cat');
  });

  test('the prompt’s own parameters win', () => {
    const [job] = parseImagine('a cat --s 50 --q .5', { defaults: { stylize: 250, quality: 2 } });
    expect(job?.params).toMatchObject({ stylize: 50, quality: 0.5 });
    expect(job?.prompt).toBe('a cat --s 50 --q .5');
  });
});

describe("Midjourney's newer parameters", () => {
  test('a prompt copied from Midjourney runs, and the reply says what was ignored', () => {
    const job = parsePrompt(
      'a fox in the snow --ar 3:2 --sref https://example.com/a.png 1234 --sw 200 --cref https://example.com/b.png --cw 50 --p --exp 10 --draft --sv 4 --oref https://example.com/c.png --ow 100',
    );
    expect(job.params.aspect).toEqual({ width: 3, height: 2 });
    // --sref's links are style references (src/jobs/style.ts fits them to the model); its codes are not.
    expect(job.params.sref).toEqual(['https://example.com/a.png']);
    expect(job.params.sw).toBe(200);
    expect(job.params.ignored).toEqual({
      sref: '1234',
      cref: 'https://example.com/b.png',
      cw: '50',
      p: '',
      exp: '10',
      draft: '',
      sv: '4',
      oref: 'https://example.com/c.png',
      ow: '100',
    });
    const notes = job.notes.join('\n');
    expect(notes).toContain('--cref, --cw, --p, --exp, --draft, --sv, --oref, --ow are accepted but ignored');
    expect(notes).toContain("--sref 1234 is ignored: style codes name Midjourney's styles; give image links");
    // None of these links are image prompts.
    expect(job.prompts.filter((p) => p.kind === 'image')).toEqual([]);
  });

  test('--sref links are checked as image links are, and each is kept once', () => {
    expect(parsePrompt('cat --sref <https://e.com/a.png> https://e.com/a.png').params.sref).toEqual([
      'https://e.com/a.png',
    ]);
    expect(() => parsePrompt('cat --sref https://e.com/page.html')).toThrow(
      'image links must point straight at a',
    );
    expect(() => parsePrompt('cat --sref https://user:pw@e.com/a.png')).toThrow('user name or password');
    expect(() => parsePrompt('cat --sref')).toThrow('--sref needs a value');
    expect(() => parsePrompt('cat --sw 1001')).toThrow('--sw must be 0-1000');
    expect(() => parsePrompt('cat --sw 1.5')).toThrow('--sw must be a whole number');
  });

  test('one of them alone, and --personalize as --p', () => {
    expect(parsePrompt('cat --personalize').notes).toContain(
      '--p is accepted but ignored: this model does not use it',
    );
  });

  test('given twice is still an error, as for every parameter', () => {
    expect(() => parsePrompt('cat --sw 100 --sw 200')).toThrow('--sw is given twice');
  });
});

describe('/prefer options and suffix', () => {
  const preferences = {
    options: { wide: '--ar 16:9 --s 250', calm: '--chaos 0 --no red' },
    suffix: '--s 50 --no blue',
  };

  test('--name stands for its parameters; the suffix fills what the prompt leaves unsaid', () => {
    const job = parsePrompt('a harbour --wide', { preferences });
    expect(job.params).toMatchObject({ aspect: { width: 16, height: 9 }, stylize: 250, no: ['blue'] });
    expect(job.prompt).toBe('a harbour --wide');
  });

  test("the prompt's own parameters win over the suffix, and --no terms add up", () => {
    const job = parsePrompt('a harbour --calm --no green', { preferences });
    expect(job.params.stylize).toBe(50);
    expect(job.params.no).toEqual(['red', 'green', 'blue']);
  });

  test('an option clashing with the prompt is the usual duplicate error; options take no value', () => {
    expect(() => parsePrompt('a harbour --wide --ar 1:1', { preferences })).toThrow('--ar is given twice');
    expect(() => parsePrompt('a harbour --wide 2', { preferences })).toThrow('takes no value');
  });

  test("built-in parameters keep their meaning; someone else's option is unknown", () => {
    expect(parsePrompt('cat --s 10', { preferences: { options: { s: '--s 999' } } }).params.stylize).toBe(10);
    expect(() => parsePrompt('cat --wide')).toThrow('unknown parameter --wide');
  });
});
