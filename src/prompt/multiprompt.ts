import { PromptError } from './errors.js';

export interface TextPart {
  text: string;
  weight: number;
}

/** Largest weight magnitude accepted; weights are relative, so larger ones only invite float trouble. */
export const MAX_ABS_WEIGHT = 10_000;

// `::` optionally followed by a weight. The weight must end the part: a space, a comma, `::` or the end
// must follow it, so `a::2d art` reads as `a` then `2d art`, not weight 2.
const SEPARATOR = /::(?:([+-]?(?:\d+(?:\.\d*)?|\.\d+))(?=$|[\s,、]|::))?[\s,、]*/g;

/**
 * Splits text into Midjourney multi-prompt parts: `space::2 ship` -> [space 2] [ship 1]. A part without
 * a number after its `::` (or the last part, which has no `::`) weighs 1.
 */
export function splitMultiPrompt(text: string): TextPart[] {
  const parts: TextPart[] = [];
  let start = 0;
  for (const match of text.matchAll(SEPARATOR)) {
    const partText = cleanPart(text.slice(start, match.index));
    const written = match[1];
    start = (match.index ?? 0) + match[0].length;
    if (written === undefined) {
      if (partText) parts.push({ text: partText, weight: 1 });
      continue;
    }
    if (!partText) {
      throw new PromptError('bad-weight', `"::${written}" has no text before it`, `::${written}`);
    }
    parts.push({ text: partText, weight: parseWeight(written) });
  }
  const rest = cleanPart(text.slice(start));
  if (rest) parts.push({ text: rest, weight: 1 });
  return parts;
}

/** A written weight as a number, within ±MAX_ABS_WEIGHT (the same rule for text and image parts). */
export function parseWeight(written: string): number {
  const weight = Number(written);
  if (!Number.isFinite(weight) || Math.abs(weight) > MAX_ABS_WEIGHT) {
    throw new PromptError(
      'bad-weight',
      `weights must be between -${MAX_ABS_WEIGHT} and ${MAX_ABS_WEIGHT}, got ${written}`,
      `::${written}`,
    );
  }
  // -0 would print as 0 but divide differently; weights are plain numbers from here on.
  return weight === 0 ? 0 : weight;
}

function cleanPart(text: string): string {
  return text.replace(/^[\s,、]+/, '').trim();
}
