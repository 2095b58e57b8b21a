import type { Redis } from 'ioredis';
import type { Keys } from './keys.js';

// Both scripts run atomically inside Redis, so concurrent commands from any number of bot processes and
// workers cannot overshoot a cap. Entries are sorted-set members scored by time, which lets a crashed
// process's leftovers expire instead of blocking a user forever.

const RESERVE_QUEUED = `
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', ARGV[4])
redis.call('ZREMRANGEBYSCORE', KEYS[2], '-inf', ARGV[4])
local n = #ARGV - 4
local user = redis.call('ZCARD', KEYS[1])
local guild = redis.call('ZCARD', KEYS[2])
if user + n > tonumber(ARGV[2]) then return {0, user, guild} end
if guild + n > tonumber(ARGV[3]) then return {-1, user, guild} end
for i = 5, #ARGV do
  redis.call('ZADD', KEYS[1], ARGV[1], ARGV[i])
  redis.call('ZADD', KEYS[2], ARGV[1], ARGV[i])
end
redis.call('PEXPIRE', KEYS[1], 86400000)
redis.call('PEXPIRE', KEYS[2], 86400000)
return {1, user + n, guild + n}
`;

const ACQUIRE_RUNNING = `
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', ARGV[1])
local expires = tonumber(ARGV[1]) + tonumber(ARGV[3])
if redis.call('ZSCORE', KEYS[1], ARGV[2]) then
  redis.call('ZADD', KEYS[1], expires, ARGV[2])
  return 1
end
if redis.call('ZCARD', KEYS[1]) >= tonumber(ARGV[4]) then return 0 end
redis.call('ZADD', KEYS[1], expires, ARGV[2])
redis.call('PEXPIRE', KEYS[1], 86400000)
return 1
`;

/** How long a queued reservation counts when nothing clears it (a bot that died between steps). */
const QUEUED_STALE_MS = 24 * 3600 * 1000;

export type ReserveOutcome =
  | { ok: true; userQueued: number; guildQueued: number }
  | { ok: false; scope: 'user' | 'guild'; userQueued: number; guildQueued: number };

export class JobCaps {
  constructor(
    private readonly redis: Redis,
    private readonly keys: Keys,
    /** A running job's lease; a worker renews it while it works, a killed worker's lease runs out. */
    readonly leaseMs = 60_000,
  ) {}

  /** Reserves queue places for new jobs, all or none, within the user's and the server's caps. */
  async reserveQueued(
    guildId: string | null,
    userId: string,
    jobIds: readonly string[],
    caps: { perUser: number; perGuild: number },
  ): Promise<ReserveOutcome> {
    const scope = guildId ?? 'dm';
    const now = Date.now();
    const [status, user, guild] = (await this.redis.eval(
      RESERVE_QUEUED,
      2,
      this.keys.queuedByUser(scope, userId),
      this.keys.queuedByGuild(scope),
      now,
      caps.perUser,
      caps.perGuild,
      now - QUEUED_STALE_MS,
      ...jobIds,
    )) as [number, number, number];
    if (status === 1) return { ok: true, userQueued: user, guildQueued: guild };
    return { ok: false, scope: status === 0 ? 'user' : 'guild', userQueued: user, guildQueued: guild };
  }

  /**
   * Frees the queue place of a job that started, finished or could not be queued. A pipeline, not a
   * transaction: Redis over its `maxmemory` refuses every MULTI, and freeing places is what must still
   * work then (both removals are idempotent, so their order or a half-done pair does not matter).
   */
  async releaseQueued(guildId: string | null, userId: string, jobId: string): Promise<void> {
    const scope = guildId ?? 'dm';
    await this.redis
      .pipeline()
      .zrem(this.keys.queuedByUser(scope, userId), jobId)
      .zrem(this.keys.queuedByGuild(scope), jobId)
      .exec();
  }

  async queuedCount(guildId: string | null, userId: string): Promise<number> {
    const key = this.keys.queuedByUser(guildId ?? 'dm', userId);
    await this.redis.zremrangebyscore(key, '-inf', Date.now() - QUEUED_STALE_MS);
    return this.redis.zcard(key);
  }

  /** Takes one of the user's running slots for this job (idempotent for the same job); false when full. */
  async acquireRunning(userId: string, jobId: string, maxRunning: number): Promise<boolean> {
    const acquired = await this.redis.eval(
      ACQUIRE_RUNNING,
      1,
      this.keys.runningByUser(userId),
      Date.now(),
      jobId,
      this.leaseMs,
      maxRunning,
    );
    return acquired === 1;
  }

  async renewRunning(userId: string, jobId: string): Promise<void> {
    await this.redis.zadd(this.keys.runningByUser(userId), 'XX', Date.now() + this.leaseMs, jobId);
  }

  async releaseRunning(userId: string, jobId: string): Promise<void> {
    await this.redis.zrem(this.keys.runningByUser(userId), jobId);
  }

  async runningJobs(userId: string): Promise<string[]> {
    return this.redis.zrangebyscore(this.keys.runningByUser(userId), Date.now(), '+inf');
  }
}
