import type { Redis } from 'ioredis';
import { z } from 'zod';
import type { Keys } from './keys.js';

/** A /prefer option's name, used as `--name` in prompts. */
export const OPTION_NAME = /^[a-z][a-z0-9_-]{0,31}$/;
/** Bounds on what one user may keep: a few hundred bytes each, a few kilobytes in all. */
export const MAX_OPTIONS = 20;
export const MAX_PREFERENCE_LENGTH = 200;

/** Per-user defaults, applied where a prompt does not say otherwise (as Midjourney's /settings and /prefer). */
export const userSettingsSchema = z.object({
  stylize: z.int().min(0).max(1000).default(100),
  quality: z.union([z.literal(0.25), z.literal(0.5), z.literal(1), z.literal(2)]).default(1),
  /** Remix mode: V buttons first open a form to edit the prompt. */
  remix: z.boolean().default(false),
  /** `/prefer option set`: named parameter sets, each standing for its parameters where `--name` is written. */
  options: z
    .record(z.string().regex(OPTION_NAME), z.string().max(MAX_PREFERENCE_LENGTH))
    .refine((options) => Object.keys(options).length <= MAX_OPTIONS, `at most ${MAX_OPTIONS} options`)
    .default({}),
  /** `/prefer suffix`: parameters added to every prompt (the prompt's own win). */
  suffix: z.string().max(MAX_PREFERENCE_LENGTH).default(''),
});

export type UserSettings = z.infer<typeof userSettingsSchema>;

export class SettingsStore {
  constructor(
    private readonly redis: Redis,
    private readonly keys: Keys,
  ) {}

  async get(userId: string): Promise<UserSettings> {
    const raw = await this.redis.get(this.keys.settings(userId));
    return userSettingsSchema.parse(raw ? JSON.parse(raw) : {});
  }

  async update(userId: string, change: Partial<UserSettings>): Promise<UserSettings> {
    const next = userSettingsSchema.parse({ ...(await this.get(userId)), ...change });
    await this.redis.set(this.keys.settings(userId), JSON.stringify(next));
    return next;
  }
}
