import type { JobDescription } from '../jobs/spec.js';
import { type WrittenPrompt, weighPrompts, ZeroWeightsError } from '../jobs/weights.js';
import { PromptError } from './errors.js';
import { looksLikeUrl, validateImageUrl } from './image-urls.js';
import { parseWeight, splitMultiPrompt } from './multiprompt.js';
import {
  applyParameters,
  expandOptions,
  type ParameterDefaults,
  splitParameters,
  withSuffix,
} from './parameters.js';
import { DEFAULT_MAX_PERMUTATIONS, expandPermutations } from './permutations.js';
import { normalizeSyntax } from './syntax-width.js';

/** Discord's limit for a slash command's string option. */
export const MAX_PROMPT_LENGTH = 6000;
/** Midjourney's weight for each `--no` term. */
export const NO_WEIGHT = -0.5;

export interface ParseOptions {
  maxPermutations?: number;
  /** Where the prompt says nothing: the user's /settings (`--s`, `--q`). */
  defaults?: ParameterDefaults;
  /** The user's /prefer options (`--name` stands for their parameters) and suffix. */
  preferences?: { options?: Readonly<Record<string, string>>; suffix?: string };
}

/**
 * Parses what follows `/imagine prompt:` into one job description per permutation. Throws a
 * PromptError, whose message names the culprit, for anything malformed.
 */
export function parseImagine(input: string, options: ParseOptions = {}): JobDescription[] {
  checkLength(input);
  const expanded = expandPermutations(
    normalizeSyntax(input),
    options.maxPermutations ?? DEFAULT_MAX_PERMUTATIONS,
  );
  return expanded.map((prompt) => parseNormalized(prompt, options));
}

/** Parses a single prompt (braces are taken literally: use parseImagine for permutations). */
export function parsePrompt(
  input: string,
  options: Omit<ParseOptions, 'maxPermutations'> = {},
): JobDescription {
  checkLength(input);
  return parseNormalized(normalizeSyntax(input), options);
}

function checkLength(input: string): void {
  if (input.length > MAX_PROMPT_LENGTH) {
    throw new PromptError(
      'too-long',
      `the prompt is ${input.length} characters long; at most ${MAX_PROMPT_LENGTH} are allowed`,
    );
  }
}

function parseNormalized(prompt: string, options: ParseOptions = {}): JobDescription {
  const paramsAt = prompt.search(/(?:^|\s)--\S/);
  const body = paramsAt < 0 ? prompt : prompt.slice(0, paramsAt);
  const { options: named = {}, suffix = '' } = options.preferences ?? {};
  const own = expandOptions(splitParameters(paramsAt < 0 ? '' : prompt.slice(paramsAt)), named);
  const raw = suffix ? withSuffix(own, splitParameters(normalizeSyntax(suffix))) : own;
  const params = applyParameters(raw, options.defaults);

  const { urls, text } = takeLeadingUrls(body);
  const misplaced = /(?:^|\s)(<?https?:\/\/\S+)/i.exec(text);
  if (misplaced) {
    throw new PromptError(
      'url-position',
      `image links must come first, before the text: ${misplaced[1]}`,
      misplaced[1],
    );
  }
  const parts = splitMultiPrompt(text);
  if (urls.length === 0 && parts.length === 0) {
    throw new PromptError(
      'empty',
      params.no.length > 0 ? 'the prompt has only --no terms; say what to draw' : 'the prompt is empty',
    );
  }
  if (urls.length === 1 && parts.length === 0) {
    throw new PromptError(
      'image-only',
      'one image link needs some text after it, or a second image',
      urls[0]?.url,
    );
  }

  // An image with its own `::weight` keeps it, as a text part does; --iw is the weight of the others
  // together against the text, so it is shared among them.
  const unweighted = urls.filter((u) => u.weight === null).length;
  const shared = unweighted > 0 ? params.iw / unweighted : 0;
  const written: WrittenPrompt[] = [
    ...urls.map(({ url, weight }) => ({ kind: 'image' as const, url, weight: weight ?? shared })),
    ...parts.map((part) => ({ kind: 'text' as const, text: part.text, weight: part.weight })),
    ...params.no.map((term) => ({ kind: 'text' as const, text: term, weight: NO_WEIGHT })),
  ];
  let weighed: ReturnType<typeof weighPrompts>;
  try {
    weighed = weighPrompts(written);
  } catch (error) {
    if (error instanceof ZeroWeightsError) throw new PromptError('bad-weight', error.message, '::0');
    throw error;
  }

  return {
    prompt: prompt.trim(),
    ...weighed,
    params,
    parents: [],
    notes: ignoredSelectors(params),
  };
}

// `<link>::<weight>` (or a bare `::`) at the very end of a link token: IPv6 hosts have `::` inside.
const IMAGE_WEIGHT = /::([+-]?(?:\d+(?:\.\d*)?|\.\d+))?,?$/;

/** The image links that open a prompt, each with its own weight when it carries one (null: none). */
function takeLeadingUrls(body: string): { urls: { url: string; weight: number | null }[]; text: string } {
  const urls: { url: string; weight: number | null }[] = [];
  let rest = body.trimStart();
  for (;;) {
    const token = /^\S+/.exec(rest)?.[0];
    if (!token || !looksLikeUrl(token)) break;
    const weighted = IMAGE_WEIGHT.exec(token);
    const link = weighted ? token.slice(0, weighted.index) : token;
    const written = weighted?.[1];
    urls.push({ url: validateImageUrl(link), weight: written === undefined ? null : parseWeight(written) });
    rest = rest.slice(token.length).trimStart();
  }
  return { urls, text: rest };
}

function ignoredSelectors(params: JobDescription['params']): string[] {
  const notes: string[] = [];
  if (params.version !== null) notes.push(`--v ${params.version} is ignored: this server runs its own model`);
  if (params.niji !== null) notes.push('--niji is ignored: this server runs its own model');
  if (params.zoom !== undefined) notes.push('--zoom only applies in Custom Zoom (under an upscaled image)');
  const { sref: codes, ...rest } = params.ignored ?? {};
  if (codes !== undefined)
    notes.push(`--sref ${codes} is ignored: style codes name Midjourney's styles; give image links`);
  const ignored = Object.keys(rest);
  if (ignored.length > 0) {
    const names = ignored.map((name) => `--${name}`).join(', ');
    notes.push(
      `${names} ${ignored.length === 1 ? 'is' : 'are'} accepted but ignored: this model does not use ${ignored.length === 1 ? 'it' : 'them'}`,
    );
  }
  return notes;
}

/** Rounds away binary noise (0.6 + -0.5 = 0.09999999999999998) so equal prompts give equal JSON. */
