import type { AspectRatio, PromptParams, SpeedMode } from '../jobs/spec.js';
import { PromptError } from './errors.js';
import { looksLikeUrl, validateImageUrl } from './image-urls.js';
import { LIST_SEPARATOR } from './syntax-width.js';

/** Defaults as in Midjourney's documentation. */
export const DEFAULT_PARAMS: Readonly<PromptParams> = Object.freeze({
  aspect: Object.freeze({ width: 1, height: 1 }),
  chaos: 0,
  no: [],
  quality: 1,
  seed: null,
  stop: 100,
  stylize: 100,
  tile: false,
  weird: 0,
  iw: 1,
  repeat: 1,
  mode: null,
  version: null,
  niji: null,
  style: null,
}) as Readonly<PromptParams>;

export const QUALITY_VALUES = [0.25, 0.5, 1, 2] as const;
/** Widest aspect ratio accepted either way; beyond it the model would draw a thin strip. */
export const MAX_ASPECT = 4;
export const MAX_SEED = 4_294_967_295;

type Setter = (params: PromptParams, value: string, flag: string) => void;

/**
 * Midjourney's newer parameters (character and omni references, personalization, experimental
 * aesthetics, draft mode): accepted with any value so that a prompt copied from Midjourney runs, and
 * answered with a note, as `--v` is. Listed by name, then aliases.
 */
export const IGNORED: readonly (readonly string[])[] = [
  ['sv'],
  ['cref'],
  ['cw'],
  ['oref'],
  ['ow'],
  ['p', 'personalize'],
  ['exp'],
  ['draft'],
];

interface ParameterSpec {
  names: readonly string[];
  set: Setter;
}

const NUMBER = /^[+-]?(?:\d+(?:\.\d*)?|\.\d+)$/;
const WHOLE = /^\d+$/;

function requireValue(flag: string, value: string, expected: string): void {
  if (value === '') throw new PromptError('missing-value', `${flag} needs a value (${expected})`, flag);
}

function inRange(
  min: number,
  max: number,
  pattern: RegExp,
  what: string,
): (value: string, flag: string) => number {
  return (value, flag) => {
    requireValue(flag, value, `${min}-${max}`);
    if (!pattern.test(value)) {
      throw new PromptError(
        'bad-value',
        `${flag} must be ${what} ${min}-${max}, got ${value}`,
        `${flag} ${value}`,
      );
    }
    const number = Number(value);
    if (number < min || number > max) {
      throw new PromptError(
        'out-of-range',
        `${flag} must be ${min}-${max}, got ${value}`,
        `${flag} ${value}`,
      );
    }
    return number;
  };
}

const wholeInRange = (min: number, max: number) => inRange(min, max, WHOLE, 'a whole number');
const decimalInRange = (min: number, max: number) => inRange(min, max, NUMBER, 'a number');

function noValue(value: string, flag: string): void {
  if (value !== '')
    throw new PromptError('bad-value', `${flag} takes no value, got ${value}`, `${flag} ${value}`);
}

function singleWord(value: string, flag: string, expected: string): string {
  requireValue(flag, value, expected);
  if (/\s/.test(value)) {
    throw new PromptError(
      'bad-value',
      `${flag} takes one value (${expected}), got ${value}`,
      `${flag} ${value}`,
    );
  }
  return value;
}

function parseAspect(value: string, flag: string): AspectRatio {
  requireValue(flag, value, 'width:height, e.g. 16:9');
  const match = /^(\d{1,5}):(\d{1,5})$/.exec(value);
  if (!match) {
    throw new PromptError(
      'bad-value',
      `${flag} must be width:height in whole numbers, e.g. 16:9, got ${value}`,
      `${flag} ${value}`,
    );
  }
  const width = Number(match[1]);
  const height = Number(match[2]);
  if (width < 1 || height < 1) {
    throw new PromptError(
      'out-of-range',
      `${flag} sides must be at least 1, got ${value}`,
      `${flag} ${value}`,
    );
  }
  if (width / height > MAX_ASPECT || height / width > MAX_ASPECT) {
    throw new PromptError(
      'out-of-range',
      `${flag} must be between 1:${MAX_ASPECT} and ${MAX_ASPECT}:1, got ${value}`,
      `${flag} ${value}`,
    );
  }
  return { width, height };
}

function setMode(mode: SpeedMode): Setter {
  return (params, value, flag) => {
    noValue(value, flag);
    if (params.mode !== null && params.mode !== mode) {
      throw new PromptError('duplicate-parameter', `choose one of --fast, --relax and --turbo`, flag);
    }
    params.mode = mode;
  };
}

const chaos = wholeInRange(0, 100);
const stop = wholeInRange(10, 100);
const stylize = wholeInRange(0, 1000);
const weird = wholeInRange(0, 3000);
const seed = wholeInRange(0, MAX_SEED);
const repeat = wholeInRange(2, 40);
const iw = decimalInRange(0, 3);
const styleWeight = wholeInRange(0, 1000);

/**
 * `--sref`: image links, each checked as an image prompt's link is. Midjourney's style codes (`1234`,
 * `random`) name styles of its own model: they are kept as written for a note, so a copied prompt runs.
 */
function setStyleReferences(params: PromptParams, value: string, flag: string): void {
  requireValue(flag, value, 'one or more image links');
  const links: string[] = [];
  const codes: string[] = [];
  for (const token of value.split(/\s+/).filter(Boolean)) {
    if (looksLikeUrl(token)) links.push(validateImageUrl(token));
    else codes.push(token);
  }
  if (links.length > 0) params.sref = [...new Set(links)];
  if (codes.length > 0) params.ignored = { ...params.ignored, sref: codes.join(' ') };
}

type NumericKey = 'chaos' | 'seed' | 'stop' | 'stylize' | 'weird' | 'iw' | 'repeat';

function numeric(
  names: readonly string[],
  key: NumericKey,
  parse: (value: string, flag: string) => number,
): ParameterSpec {
  return {
    names,
    set: (params, value, flag) => {
      params[key] = parse(value, flag);
    },
  };
}

/** The parameter table; the first name is the canonical one used in messages. */
export const PARAMETERS: readonly ParameterSpec[] = [
  {
    names: ['ar', 'aspect'],
    set: (p, v, f) => {
      p.aspect = parseAspect(v, f);
    },
  },
  numeric(['chaos', 'c'], 'chaos', chaos),
  {
    names: ['no'],
    set: (p, v, f) => {
      requireValue(f, v, 'a comma-separated list of things to leave out');
      if (v.includes('::')) {
        throw new PromptError(
          'bad-value',
          `--no takes plain words; to weight one, write it in the prompt as word::-0.5`,
          `${f} ${v}`,
        );
      }
      const terms = v
        .split(LIST_SEPARATOR)
        .map((term) => term.trim())
        .filter(Boolean);
      if (terms.length === 0) throw new PromptError('missing-value', `--no needs at least one word`, f);
      p.no = [...p.no, ...terms];
    },
  },
  {
    names: ['quality', 'q'],
    set: (p, v, f) => {
      requireValue(f, v, '.25, .5, 1 or 2');
      const value = NUMBER.test(v) ? Number(v) : Number.NaN;
      if (!(QUALITY_VALUES as readonly number[]).includes(value)) {
        throw new PromptError('out-of-range', `${f} must be one of .25, .5, 1, 2, got ${v}`, `${f} ${v}`);
      }
      p.quality = value;
    },
  },
  numeric(['seed'], 'seed', seed),
  numeric(['stop'], 'stop', stop),
  numeric(['stylize', 's'], 'stylize', stylize),
  {
    names: ['tile'],
    set: (p, v, f) => {
      noValue(v, f);
      p.tile = true;
    },
  },
  numeric(['weird', 'w'], 'weird', weird),
  numeric(['iw'], 'iw', iw),
  numeric(['repeat', 'r'], 'repeat', repeat),
  {
    names: ['zoom'],
    set: (p, v, f) => {
      p.zoom = decimalInRange(1, 2)(v, f);
    },
  },
  {
    names: ['version', 'v'],
    set: (p, v, f) => {
      p.version = singleWord(v, f, 'e.g. 6');
    },
  },
  {
    names: ['niji'],
    set: (p, v, f) => {
      p.niji = v === '' ? 'default' : singleWord(v, f, 'e.g. 6');
    },
  },
  {
    names: ['style'],
    set: (p, v, f) => {
      p.style = singleWord(v, f, 'e.g. noto');
    },
  },
  { names: ['sref'], set: setStyleReferences },
  {
    names: ['sw'],
    set: (p, v, f) => {
      p.sw = styleWeight(v, f);
    },
  },
  ...IGNORED.map((names) => ({
    names,
    set: (p: PromptParams, v: string) => {
      p.ignored = { ...p.ignored, [names[0]!]: v };
    },
  })),
  { names: ['fast'], set: setMode('fast') },
  { names: ['relax'], set: setMode('relax') },
  { names: ['turbo'], set: setMode('turbo') },
];

const byName = new Map(PARAMETERS.flatMap((spec) => spec.names.map((name) => [name, spec] as const)));

/** A `--name value` pair as it appears in the prompt. */
export interface RawParameter {
  name: string;
  value: string;
}

/** Applies the `--parameters` in order onto the defaults; each may appear once, except `--no`. */
/** Values a prompt starts from before its own `--parameters` (a user's /settings). */
export type ParameterDefaults = Partial<Pick<PromptParams, 'stylize' | 'quality'>>;

export function applyParameters(
  raw: readonly RawParameter[],
  defaults: ParameterDefaults = {},
): PromptParams {
  const params: PromptParams = {
    ...DEFAULT_PARAMS,
    ...defaults,
    aspect: { ...DEFAULT_PARAMS.aspect },
    no: [],
  };
  const seen = new Map<ParameterSpec, string>();
  for (const { name, value } of raw) {
    const flag = `--${name}`;
    const spec = byName.get(name.toLowerCase());
    if (!spec) {
      const known = PARAMETERS.map((p) => `--${p.names[0]}`).join(', ');
      throw new PromptError('unknown-parameter', `unknown parameter ${flag} (known: ${known})`, flag);
    }
    const earlier = seen.get(spec);
    if (earlier !== undefined && spec.names[0] !== 'no') {
      throw new PromptError('duplicate-parameter', `${flag} is given twice (also as ${earlier})`, flag);
    }
    seen.set(spec, flag);
    spec.set(params, value, flag);
  }
  return params;
}

/** Whether `name` is one of the language's own parameters (or an alias). */
export function isParameterName(name: string): boolean {
  return byName.has(name.toLowerCase());
}

/**
 * Puts each `--name` that is one of the user's /prefer options in place of its parameters. The
 * language's own parameters always mean themselves.
 */
export function expandOptions(
  raw: readonly RawParameter[],
  options: Readonly<Record<string, string>>,
): RawParameter[] {
  return raw.flatMap((parameter) => {
    const name = parameter.name.toLowerCase();
    const expansion = options[name];
    if (isParameterName(name) || expansion === undefined) return [parameter];
    if (parameter.value !== '') {
      throw new PromptError(
        'bad-value',
        `--${name} is one of your /prefer options and takes no value, got ${parameter.value}`,
        `--${name} ${parameter.value}`,
      );
    }
    return splitParameters(expansion);
  });
}

/** The user's /prefer suffix under the prompt's own parameters: what the prompt sets wins; `--no` adds up. */
export function withSuffix(own: readonly RawParameter[], suffix: readonly RawParameter[]): RawParameter[] {
  const given = new Set(own.map((p) => byName.get(p.name.toLowerCase())));
  const extra = suffix.filter((p) => {
    const spec = byName.get(p.name.toLowerCase());
    return spec === undefined || spec.names[0] === 'no' || !given.has(spec);
  });
  return [...own, ...extra];
}

/** Splits the tail of a prompt (`--ar 3:2 --no red, blue --tile`) into its parameters. */
export function splitParameters(tail: string): RawParameter[] {
  const matches = [...tail.matchAll(/(?:^|\s)--([a-zA-Z]+)(?=\s|$)|(?:^|\s)--(\S*)/g)];
  return matches.map((match, i) => {
    const name = match[1] ?? match[2] ?? '';
    if (match[1] === undefined) {
      throw new PromptError('unknown-parameter', `"--${name}" is not a parameter name`, `--${name}`);
    }
    const start = (match.index ?? 0) + match[0].length;
    const end = matches[i + 1]?.index ?? tail.length;
    return { name, value: tail.slice(start, end).trim() };
  });
}
