import type { Redis } from 'ioredis';
import { z } from 'zod';
import type { Keys } from './keys.js';

/** Per-user defaults, applied where a prompt does not say otherwise (as Midjourney's /settings). */
export const userSettingsSchema = z.object({
  stylize: z.int().min(0).max(1000).default(100),
  quality: z.union([z.literal(0.25), z.literal(0.5), z.literal(1), z.literal(2)]).default(1),
  /** Remix mode: V buttons first open a form to edit the prompt. */
  remix: z.boolean().default(false),
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
