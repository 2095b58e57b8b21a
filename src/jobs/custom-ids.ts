/**
 * Button and modal ids. They carry only an action and a job id (all state is in Redis), so buttons keep
 * working after the bot restarts; anything that does not match exactly is refused as tampered.
 */
import { ID_SOURCE } from './refs.js';

// Two-letter codes keep ids short. `v:<n>:` (V1-V4) and `vs:` (Vary (Strong) under an upscale) are one
// action, from a grid or from an upscale; `x2:` was "Upscale 2x" and is Upscale (Subtle).
const PLAIN_CODES = {
  r: 'reroll',
  vs: 'vary-strong',
  vl: 'vary-subtle',
  vr: 'vary-region',
  x2: 'upscale-subtle',
  uc: 'upscale-creative',
  op: 'opposite',
  z2: 'zoom-2',
  zh: 'zoom-1.5',
  zc: 'custom-zoom',
  pl: 'pan-left',
  pr: 'pan-right',
  pu: 'pan-up',
  pd: 'pan-down',
  sq: 'make-square',
} as const;

/** The actions of the buttons under an upscaled image (and 🔄): each a job id only. */
export type PlainAction = (typeof PLAIN_CODES)[keyof typeof PLAIN_CODES];

export type ButtonAction =
  /** U1-U4: one image of a grid, upscaled. */
  | { action: 'upscale'; index: number; jobId: string }
  /** V1-V4 (with the grid image's number) and Vary (Strong) under an upscale (without). */
  | { action: 'vary-strong'; index?: number; jobId: string }
  | { action: Exclude<PlainAction, 'vary-strong'>; jobId: string };

const CODE_OF = Object.fromEntries(
  Object.entries(PLAIN_CODES).map(([code, action]) => [action, code]),
) as Record<PlainAction, string>;
const INDEXED = new RegExp(`^(u|v):([1-4]):(${ID_SOURCE})$`);
const PLAIN = new RegExp(`^(${Object.keys(PLAIN_CODES).join('|')}):(${ID_SOURCE})$`);

export function encodeButton(button: ButtonAction): string {
  if (button.action === 'upscale') return `u:${button.index}:${button.jobId}`;
  if (button.action === 'vary-strong' && button.index !== undefined)
    return `v:${button.index}:${button.jobId}`;
  return `${CODE_OF[button.action]}:${button.jobId}`;
}

/** Parses a button id; null for anything this bot did not make. */
export function parseButton(customId: string): ButtonAction | null {
  const indexed = INDEXED.exec(customId);
  if (indexed) {
    const action = indexed[1] === 'u' ? 'upscale' : 'vary-strong';
    return { action, index: Number(indexed[2]), jobId: indexed[3]! };
  }
  const plain = PLAIN.exec(customId);
  if (plain)
    return { action: PLAIN_CODES[plain[1] as keyof typeof PLAIN_CODES], jobId: plain[2]! } as ButtonAction;
  return null;
}

/** The remix form opened by a V button: which button it stands for. */
export const encodeRemixModal = (button: ButtonAction) => `remix:${encodeButton(button)}`;

export function parseRemixModal(customId: string): ButtonAction | null {
  return customId.startsWith('remix:') ? parseButton(customId.slice('remix:'.length)) : null;
}

/** The buttons under a /describe answer: one of its prompts (1-4), all four, or four more. */
export type DescribeAction =
  | { action: 'describe-pick'; index: number; jobId: string }
  | { action: 'describe-all'; jobId: string }
  | { action: 'describe-more'; jobId: string };

const DESCRIBE_PICK = new RegExp(`^d:([1-4]):(${ID_SOURCE})$`);
const DESCRIBE_PLAIN = new RegExp(`^(da|dr):(${ID_SOURCE})$`);

export function encodeDescribeButton(button: DescribeAction): string {
  if (button.action === 'describe-pick') return `d:${button.index}:${button.jobId}`;
  return `${button.action === 'describe-all' ? 'da' : 'dr'}:${button.jobId}`;
}

export function parseDescribeButton(customId: string): DescribeAction | null {
  const pick = DESCRIBE_PICK.exec(customId);
  if (pick) return { action: 'describe-pick', index: Number(pick[1]), jobId: pick[2]! };
  const plain = DESCRIBE_PLAIN.exec(customId);
  if (plain) return { action: plain[1] === 'da' ? 'describe-all' : 'describe-more', jobId: plain[2]! };
  return null;
}

/** Vary (Region)'s menu of regions, for one upscaled image. */
export const encodeRegionSelect = (jobId: string) => `rg:${jobId}`;
const REGION_SELECT = new RegExp(`^rg:(${ID_SOURCE})$`);
export const parseRegionSelect = (customId: string) => REGION_SELECT.exec(customId)?.[1] ?? null;

/** Custom Zoom's form (the prompt with `--zoom`), for one upscaled image. */
export const encodeZoomModal = (jobId: string) => `zm:${jobId}`;
const ZOOM_MODAL = new RegExp(`^zm:(${ID_SOURCE})$`);
export const parseZoomModal = (customId: string) => ZOOM_MODAL.exec(customId)?.[1] ?? null;
