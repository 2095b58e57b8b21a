/**
 * Button and modal ids. They carry only an action and a job id (all state is in Redis), so buttons keep
 * working after the bot restarts; anything that does not match exactly is refused as tampered.
 */
import { ID_SOURCE } from './refs.js';

export type ButtonAction =
  | { action: 'upscale'; index: number; jobId: string }
  | { action: 'variation'; index: number; jobId: string }
  | { action: 'reroll'; jobId: string }
  | { action: 'vary-strong'; jobId: string }
  | { action: 'vary-subtle'; jobId: string }
  | { action: 'upscale-2x'; jobId: string };

const CODES = {
  u: 'upscale',
  v: 'variation',
  r: 'reroll',
  vs: 'vary-strong',
  vl: 'vary-subtle',
  x2: 'upscale-2x',
} as const;

type Code = keyof typeof CODES;
const CODE_OF = Object.fromEntries(Object.entries(CODES).map(([code, action]) => [action, code])) as Record<
  ButtonAction['action'],
  Code
>;

export function encodeButton(button: ButtonAction): string {
  const code = CODE_OF[button.action];
  return 'index' in button ? `${code}:${button.index}:${button.jobId}` : `${code}:${button.jobId}`;
}

const INDEXED = new RegExp(`^(u|v):([1-4]):(${ID_SOURCE})$`);
const PLAIN = new RegExp(`^(r|vs|vl|x2):(${ID_SOURCE})$`);

/** Parses a button id; null for anything this bot did not make. */
export function parseButton(customId: string): ButtonAction | null {
  const indexed = INDEXED.exec(customId);
  if (indexed) {
    const action = CODES[indexed[1] as 'u' | 'v'];
    return { action, index: Number(indexed[2]), jobId: indexed[3]! };
  }
  const plain = PLAIN.exec(customId);
  if (plain) return { action: CODES[plain[1] as 'r' | 'vs' | 'vl' | 'x2'], jobId: plain[2]! };
  return null;
}

/** The remix form opened by a V button: which button it stands for. */
export const encodeRemixModal = (button: ButtonAction) => `remix:${encodeButton(button)}`;

export function parseRemixModal(customId: string): ButtonAction | null {
  return customId.startsWith('remix:') ? parseButton(customId.slice('remix:'.length)) : null;
}
