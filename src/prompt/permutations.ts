import { PromptError } from './errors.js';

/** Midjourney's own ceiling for one permutation prompt. */
export const DEFAULT_MAX_PERMUTATIONS = 40;

type Piece = string | Piece[][];

/**
 * Expands `{a, b}` permutations: `a {red, blue} bird` -> `a red bird`, `a blue bird`. Braces nest and
 * several groups multiply. `\{`, `\}` and `\,` stand for the literal characters. Throws when the
 * expansion would exceed `max` prompts (checked before expanding, so `{a,b}` x 30 costs nothing).
 */
export function expandPermutations(input: string, max = DEFAULT_MAX_PERMUTATIONS): string[] {
  if (!/[{}]/.test(input)) return [input.replace(/\\([{},])/g, '$1')];
  const [pieces, end] = parseSequence(input, 0, false);
  if (end < input.length) {
    throw new PromptError('permutation', `unmatched "}" at character ${end + 1}`, '}');
  }
  const count = countExpansions(pieces, max);
  if (count > max) {
    throw new PromptError(
      'permutation',
      `the {…} permutations make more than ${max} prompts; use fewer options`,
      input.slice(input.indexOf('{'), input.indexOf('{') + 40),
    );
  }
  return expand(pieces).map((text) => text.replace(/ {2,}/g, ' ').trim());
}

function parseSequence(input: string, start: number, inGroup: boolean): [Piece[], number] {
  const pieces: Piece[] = [];
  let literal = '';
  let i = start;
  while (i < input.length) {
    const char = input[i]!;
    if (char === '\\' && i + 1 < input.length && '{},'.includes(input[i + 1]!)) {
      literal += input[i + 1];
      i += 2;
    } else if (char === '{') {
      if (literal) pieces.push(literal);
      literal = '';
      const [options, next] = parseGroup(input, i + 1);
      pieces.push(options);
      i = next;
    } else if (char === '}' || (inGroup && char === ',')) {
      break;
    } else {
      literal += char;
      i += 1;
    }
  }
  if (literal) pieces.push(literal);
  return [pieces, i];
}

function parseGroup(input: string, start: number): [Piece[][], number] {
  const options: Piece[][] = [];
  let i = start;
  for (;;) {
    const [option, next] = parseSequence(input, i, true);
    options.push(option);
    if (next >= input.length) {
      throw new PromptError('permutation', `unclosed "{" at character ${start}`, '{');
    }
    i = next + 1;
    if (input[next] === '}') return [options, i];
  }
}

function countExpansions(pieces: Piece[], max: number): number {
  let total = 1;
  for (const piece of pieces) {
    if (typeof piece === 'string') continue;
    let options = 0;
    for (const option of piece) {
      options += countExpansions(option, max);
      if (options > max) return max + 1;
    }
    total *= options;
    if (total > max) return max + 1;
  }
  return total;
}

function expand(pieces: Piece[]): string[] {
  let results = [''];
  for (const piece of pieces) {
    const tails =
      typeof piece === 'string' ? [piece] : piece.flatMap((option) => expand(option).map((t) => t.trim()));
    results = results.flatMap((head) => tails.map((tail) => head + tail));
  }
  return results;
}
