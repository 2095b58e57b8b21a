import { z } from 'zod';

/**
 * Hard ceilings no server can raise, because they bound what one job costs a worker. Every prompt part
 * (text or image) is one more row per image in each batched UNet call: a job of n parts runs 4 x (1 + n)
 * rows a step, so 16 parts cost about 7x a one-part prompt (measured by `npm run bench:job-cost`).
 */
export const POLICY_CEILINGS = Object.freeze({
  imagePrompts: 5,
  textParts: 16,
  renderSeconds: 3600,
});

/**
 * A server's rules, as admins set them with /policy. Stored per guild in Redis (the bot validates with
 * this schema on the way in and out, so an old record gains new fields with their defaults).
 */
export const guildPolicySchema = z.object({
  /** Midjourney's rule: the written weights must add up to more than 0. */
  requirePositiveWeightSum: z.boolean().default(true),
  /**
   * Lowest normalized weight any single part may have (null: no floor). Normalized, because written
   * weights are only relative: `logo::-99.99` alone and `logo::-1` alone are the same prompt.
   */
  minNormalizedWeight: z.number().min(-100).max(0).nullable().default(null),
  /** Whole words (or, for Chinese and Japanese, character sequences) refused anywhere in a prompt. */
  bannedWords: z.array(z.string().trim().min(1).max(100)).max(500).default([]),
  /** Most denoising steps a job may take (`--q` scales the model's default steps). */
  maxSteps: z.int().min(1).max(500).default(60),
  /** Longest side of a generated image, in pixels, before display resampling. */
  maxSide: z.int().min(16).max(8192).default(2048),
  /** Highest `--repeat`. */
  maxRepeat: z.int().min(1).max(40).default(4),
  /** Most jobs one command may start (permutations times repeats). */
  maxJobsPerCommand: z.int().min(1).max(100).default(12),
  /** Most jobs a user may have waiting in the queue at once (Midjourney: 10). */
  maxQueuedPerUser: z.int().min(1).max(1000).default(10),
  /** Most jobs waiting in the queue for the whole server. */
  maxQueuedPerServer: z.int().min(1).max(100000).default(200),
  /** Most jobs of one user running at once; further ones wait their turn (Midjourney: 3). */
  maxRunningPerUser: z.int().min(1).max(100).default(3),
  /** Most image links or uploads in one prompt. */
  maxImagePrompts: z.int().min(0).max(POLICY_CEILINGS.imagePrompts).default(5),
  /** Most text parts in one prompt, `--no` terms included. */
  maxTextParts: z.int().min(1).max(POLICY_CEILINGS.textParts).default(8),
  /**
   * Longest a render may run, in seconds. Workers that have measured their own speed stop a job sooner,
   * at a few times the time its size, steps and parts should take (see src/queue/render-deadline.ts).
   */
  maxRenderSeconds: z.int().min(5).max(POLICY_CEILINGS.renderSeconds).default(300),
});

export type GuildPolicy = z.infer<typeof guildPolicySchema>;

export const DEFAULT_POLICY: Readonly<GuildPolicy> = Object.freeze(guildPolicySchema.parse({}));
