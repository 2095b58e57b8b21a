import type { Redis } from 'ioredis';
import { DEFAULT_POLICY, type GuildPolicy, guildPolicySchema } from '../policy/guild-policy.js';
import type { Keys } from './keys.js';

/** Per-server policy records; a server that never set one gets the defaults. */
export class PolicyStore {
  constructor(
    private readonly redis: Redis,
    private readonly keys: Keys,
  ) {}

  async get(guildId: string | null): Promise<GuildPolicy> {
    if (!guildId) return { ...DEFAULT_POLICY };
    const raw = await this.redis.get(this.keys.policy(guildId));
    // Parsing fills fields added after the record was written with their defaults.
    return raw ? guildPolicySchema.parse(JSON.parse(raw)) : { ...DEFAULT_POLICY };
  }

  /** Applies a change after validating the whole result; throws zod's error on a bad value. */
  async update(guildId: string, change: Partial<GuildPolicy>): Promise<GuildPolicy> {
    const next = guildPolicySchema.parse({ ...(await this.get(guildId)), ...change });
    await this.redis.set(this.keys.policy(guildId), JSON.stringify(next));
    return next;
  }
}
