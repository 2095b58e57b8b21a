import { parseImagine } from '../../src/prompt/index.js';
import { expandPermutations } from '../../src/prompt/permutations.js';

describe('{a, b} permutations', () => {
  test('one group', () => {
    expect(expandPermutations('a {red, blue} bird')).toEqual(['a red bird', 'a blue bird']);
  });

  test('groups multiply and nest', () => {
    expect(expandPermutations('{big, small} {cat, {red, blue} dog}')).toEqual([
      'big cat',
      'big red dog',
      'big blue dog',
      'small cat',
      'small red dog',
      'small blue dog',
    ]);
  });

  test('parameters can be permuted too', () => {
    const jobs = parseImagine('cat --ar {1:1, 2:3}');
    expect(jobs.map((j) => j.params.aspect)).toEqual([
      { width: 1, height: 1 },
      { width: 2, height: 3 },
    ]);
  });

  test('escaped braces and commas are literal', () => {
    expect(expandPermutations('a \\{b\\, c\\} d')).toEqual(['a {b, c} d']);
    expect(expandPermutations('{x\\, y, z}')).toEqual(['x, y', 'z']);
  });

  test('the cap is enforced before expanding', () => {
    const huge = '{a,b} '.repeat(30);
    expect(() => expandPermutations(huge, 40)).toThrow('more than 40 prompts');
    expect(expandPermutations('{a,b,c,d}{1,2,3,4,5,6,7,8,9,10}', 40)).toHaveLength(40);
  });

  test('unbalanced braces are named', () => {
    expect(() => expandPermutations('a {b, c')).toThrow('unclosed "{"');
    expect(() => expandPermutations('a } b')).toThrow('unmatched "}"');
  });

  test('full-width braces count', () => {
    expect(parseImagine('｛猫，狗｝').map((j) => j.prompts[0]?.kind === 'text' && j.prompts[0].text)).toEqual(
      ['猫', '狗'],
    );
  });
});
