import { PromptError, parsePrompt } from '../../src/prompt/index.js';

const parts = (prompt: string) =>
  parsePrompt(prompt).prompts.map((p) => [p.kind === 'text' ? p.text : p.url, p.weight] as const);

describe('the :: multi-prompt syntax', () => {
  test('no :: is one part', () => {
    expect(parts('hot dog')).toEqual([['hot dog', 1]]);
  });

  test(':: splits the text into separately considered parts', () => {
    expect(parts('hot:: dog')).toEqual([
      ['hot', 1],
      ['dog', 1],
    ]);
  });

  test('decimals and negatives: ::.5 and ::-0.5 and ::-.5', () => {
    expect(parts('a::.5 b::-0.5 c::-.5 d')).toEqual([
      ['a', 0.5],
      ['b', -0.5],
      ['c', -0.5],
      ['d', 1],
    ]);
  });

  test("a comma after a weight separates parts and is not text (the seed's style)", () => {
    expect(parts('北极熊::0.6,白色::-0.5')).toEqual([
      ['北极熊', 0.6],
      ['白色', -0.5],
    ]);
    expect(parts('企鹅::0.9, 热带雨林::0.1')).toEqual([
      ['企鹅', 0.9],
      ['热带雨林', 0.1],
    ]);
  });

  test('full-width forms typed by Chinese keyboards mean :: and ,', () => {
    expect(parts('北极熊：：0.6，白色：：－0.5')).toEqual(parts('北极熊::0.6,白色::-0.5'));
  });

  test('commas inside a part stay text', () => {
    expect(parts('red, green and blue::2 sky')).toEqual([
      ['red, green and blue', 2],
      ['sky', 1],
    ]);
  });

  test('a number that runs into words is text, not a weight', () => {
    expect(parts('pixel::2d art')).toEqual([
      ['pixel', 1],
      ['2d art', 1],
    ]);
  });

  test('a weight with nothing before it names the culprit', () => {
    expect(() => parsePrompt('::2 cat')).toThrow(
      new PromptError('bad-weight', '"::2" has no text before it'),
    );
  });

  test('absurd weights are refused', () => {
    expect(() => parsePrompt('cat::100001')).toThrow('weights must be between -10000 and 10000, got 100001');
  });

  test('the empty prompt is refused', () => {
    expect(() => parsePrompt('   ')).toThrow('the prompt is empty');
    expect(() => parsePrompt('--ar 2:3')).toThrow('the prompt is empty');
    expect(() => parsePrompt('--no cats')).toThrow('only --no terms');
  });
});

describe('image prompts', () => {
  const png = 'https://cdn.example.com/a/cat.png';
  const jpg = 'https://cdn.example.com/b/dog.JPG?ex=1&is=2';

  test('leading links are image prompts; --iw is their weight against the text', () => {
    const job = parsePrompt(`${png} a cat --iw 2`);
    expect(job.prompts).toEqual([
      { kind: 'image', url: png, weight: 2, normalized: expect.closeTo(2 / 3, 9) },
      { kind: 'text', text: 'a cat', weight: 1, normalized: expect.closeTo(1 / 3, 9) },
    ]);
  });

  test('several images share --iw; two images need no text', () => {
    const job = parsePrompt(`${png} <${jpg}>`);
    expect(job.prompts.map((p) => [p.kind, p.weight, p.normalized])).toEqual([
      ['image', 0.5, 0.5],
      ['image', 0.5, 0.5],
    ]);
    expect(job.prompts[1]).toMatchObject({ url: jpg });
  });

  test('an image may carry its own weight, negative too; the others share --iw', () => {
    const job = parsePrompt(`${png}::-0.5 <${jpg}>:: polar bear::2 --iw 1`);
    expect(job.prompts.map((p) => [p.kind, p.weight])).toEqual([
      ['image', -0.5],
      ['image', 1],
      ['text', 2],
    ]);
    expect(job.weightSum).toBe(2.5);
    expect(job.prompts.map((p) => p.normalized)).toEqual([-0.2, 0.4, 0.8]);
    expect(job.prompts[0]).toMatchObject({ url: png });
  });

  test('image weights follow the text rules: a comma may follow, the same range, and the sum rule', () => {
    expect(parsePrompt(`${png}::2, a cat`).prompts[0]?.weight).toBe(2);
    expect(() => parsePrompt(`${png}::20000 a cat`)).toThrow('weights must be between -10000 and 10000');
    // Loab's move: an image pushed away alone has a negative sum, which the default policy refuses.
    expect(parsePrompt(`${png}::-1 ${jpg}::-1`).weightSum).toBe(-2);
  });

  test('`::` inside an IPv6 host is not a weight', () => {
    const job = parsePrompt('http://[2606:4700::1]:8080/a.png::3 a cat');
    expect(job.prompts[0]).toMatchObject({ url: 'http://[2606:4700::1]:8080/a.png', weight: 3 });
  });

  test('one image alone is refused, as Midjourney does', () => {
    expect(() => parsePrompt(png)).toThrow('one image link needs some text after it, or a second image');
  });

  test('links must come first', () => {
    expect(() => parsePrompt(`a cat ${png}`)).toThrow(`image links must come first, before the text: ${png}`);
  });

  test.each([
    ['https://example.com/page', 'must point straight at a'],
    ['https://example.com/cat.svg', 'must point straight at a'],
    ['https://user:pw@example.com/cat.png', 'must not carry a user name'],
    ['http://[::1/cat.png', 'not a valid link'],
  ])('a malformed link is named: %s', (url, message) => {
    expect(() => parsePrompt(`${url} a cat`)).toThrow(message);
  });
});
