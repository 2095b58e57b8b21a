/** Conditions in one canonical order, so that the order prompts were written in does not matter. */
import type { RawImage } from '../images/raw-image.js';
import type { Condition } from './request.js';

/** Sorted by kind, then text or image identity, then weight. */
export function canonicalOrder(conditions: readonly Condition[]): Condition[] {
  const key = (c: Condition) => (c.kind === 'text' ? `t\u0000${c.text}` : `i\u0000${imageKey(c.image)}`);
  return [...conditions].sort((a, b) => {
    const ka = key(a);
    const kb = key(b);
    return ka < kb ? -1 : ka > kb ? 1 : a.weight - b.weight;
  });
}

function imageKey(image: RawImage): string {
  // FNV-1a over every 7th byte: a cheap stable identity for ordering, not for telling images apart.
  let h = 0x811c9dc5;
  for (let i = 0; i < image.data.length; i += 7) h = Math.imul(h ^ image.data[i]!, 0x01000193) >>> 0;
  return `${image.width}x${image.height}:${h.toString(16).padStart(8, '0')}`;
}
