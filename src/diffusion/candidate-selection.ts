/**
 * Choosing among starts: each grid image is begun from two starting noises, and part-way through the
 * steps the one whose clean estimate is nearer the prompt, in the model's own text-image space (the
 * space /describe uses), goes on; the other is dropped. A slot's choice depends only on its own two
 * starts, so image i is still the same whether it is made alone or with the others.
 *
 * On emoji-ld2 (recipe README, "Choosing among starts") choosing at half the steps raised the share of
 * images the eval's concept judge takes for the prompt's concept by 0.03-0.05 (English and Chinese labels,
 * image prompts) and left style as it was, for 1.5x the UNet work.
 */
import type { SchedulerName } from './schedulers/index.js';
import { cosine } from './tensor.js';

/** Slot i's second start is noise stream i + this (grid slots are 0-3; the shared stream is 0xffff). */
export const SECOND_START_STREAM = 0x100;

/**
 * Samplers whose step needs nothing but the current latents, so the loop can go on with a subset of the
 * batch. DPM++ 2M keeps the previous step's output, so it gets no choosing.
 */
const MEMORYLESS: ReadonlySet<SchedulerName> = new Set(['euler-ancestral', 'euler', 'ddim', 'lcm']);

export function schedulerAllowsChoosing(scheduler: SchedulerName): boolean {
  return MEMORYLESS.has(scheduler);
}

/** The loop index at which the starts are compared: `at` of the way from `start` to `stop`, at least one step in. */
export function choosingStep(start: number, stop: number, at: number): number | null {
  const index = start + Math.round((stop - start) * at);
  return index > start && index < stop ? index : null;
}

/** A prompt part's pooled embedding and its weight (negative parts count against an image). */
export interface ScoringTarget {
  embedding: Float32Array;
  weight: number;
}

/** How well an image's embedding follows the prompt: the weighted sum of its cosines to the parts. */
export function promptScore(image: Float32Array, targets: readonly ScoringTarget[]): number {
  let score = 0;
  for (const t of targets) score += t.weight * cosine(image, t.embedding);
  return score;
}

/**
 * `scores` holds the first starts of `slots` images, then their second starts. For each slot, 1 when its
 * second start scored strictly higher, else 0 (a tie keeps the first start).
 */
export function chooseStarts(scores: readonly number[], slots: number): number[] {
  if (scores.length !== 2 * slots) throw new Error(`expected ${2 * slots} scores, got ${scores.length}`);
  return Array.from({ length: slots }, (_, j) => (scores[slots + j]! > scores[j]! ? 1 : 0));
}

/** Rows `picks` of a [rows, rowSize] tensor, in order. */
export function pickRows(data: Float32Array, rowSize: number, picks: readonly number[]): Float32Array {
  const out = new Float32Array(picks.length * rowSize);
  for (const [k, row] of picks.entries())
    out.set(data.subarray(row * rowSize, (row + 1) * rowSize), k * rowSize);
  return out;
}
