/**
 * Rate limits as Discord expresses them: per-bucket `X-RateLimit-*` headers on every answer, 429 with
 * `Retry-After` and `{ message, retry_after, global }` when a bucket or the global limit is exceeded, and
 * test-injected 429s that prove the client waits and retries (@discordjs/rest does so on its own).
 * Buckets use wall-clock time, not the adjustable clock, because the client schedules with wall-clock time.
 */
import { createHash } from 'node:crypto';

export interface RateLimitOptions {
  /** Requests per bucket (route template + major parameter) per window. */
  limit: number;
  windowMs: number;
  /** Requests per second a bot may make with its token; interaction endpoints are exempt, as on Discord. */
  globalPerSecond: number;
}

export const DEFAULT_RATE_LIMITS: RateLimitOptions = { limit: 50, windowMs: 1000, globalPerSecond: 50 };

export interface InjectedRateLimit {
  /** Route template (`PATCH /webhooks/:applicationId/:token/messages/:messageId`), or a RegExp on `METHOD /path`. */
  route?: string | RegExp;
  /** How many matching requests get a 429 (default 1). */
  count?: number;
  /** Announced wait (default 50 ms, so tests stay fast; Discord announces whole seconds or more). */
  retryAfterMs?: number;
  /** Answer as the global limit (`X-RateLimit-Global`, `global: true`). */
  global?: boolean;
}

interface Injection {
  route: string | RegExp | undefined;
  remaining: number;
  retryAfterMs: number;
  global: boolean;
}

export interface RateLimitDecision {
  headers: Record<string, string>;
  /** Set when the request must be answered with 429. */
  limited: { retryAfterMs: number; global: boolean } | null;
}

interface Bucket {
  count: number;
  resetAt: number;
}

export class RateLimiter {
  readonly #buckets = new Map<string, Bucket>();
  #injections: Injection[] = [];
  #globalWindowStart = 0;
  #globalCount = 0;

  constructor(private readonly options: RateLimitOptions) {}

  inject(spec: InjectedRateLimit = {}): void {
    this.#injections.push({
      route: spec.route,
      remaining: spec.count ?? 1,
      retryAfterMs: spec.retryAfterMs ?? 50,
      global: spec.global ?? false,
    });
  }

  /** Injected 429s not yet used up. */
  pendingInjections(): number {
    return this.#injections.reduce((sum, injection) => sum + injection.remaining, 0);
  }

  clearInjections(): void {
    this.#injections = [];
  }

  /** Counts one request and decides whether it passes. `route` is the template, `bucketKey` adds major ids. */
  check(
    method: string,
    path: string,
    route: string,
    bucketKey: string,
    exemptFromGlobal: boolean,
  ): RateLimitDecision {
    const now = Date.now();
    const hash = createHash('sha1').update(route).digest('hex').slice(0, 16);
    const injected = this.#takeInjection(`${method} ${path}`, route);
    if (injected) {
      return this.#limited(hash, injected.retryAfterMs, injected.global, now);
    }
    if (!exemptFromGlobal) {
      if (now - this.#globalWindowStart >= 1000) {
        this.#globalWindowStart = now;
        this.#globalCount = 0;
      }
      if (this.#globalCount >= this.options.globalPerSecond) {
        return this.#limited(hash, this.#globalWindowStart + 1000 - now, true, now);
      }
      this.#globalCount += 1;
    }
    let bucket = this.#buckets.get(bucketKey);
    if (!bucket || bucket.resetAt <= now) {
      bucket = { count: 0, resetAt: now + this.options.windowMs };
      this.#buckets.set(bucketKey, bucket);
    }
    if (bucket.count >= this.options.limit) {
      return this.#limited(hash, bucket.resetAt - now, false, now);
    }
    bucket.count += 1;
    return {
      headers: this.#headers(hash, this.options.limit - bucket.count, bucket.resetAt, now),
      limited: null,
    };
  }

  #takeInjection(request: string, route: string): Injection | undefined {
    const injection = this.#injections.find(
      (candidate) =>
        candidate.remaining > 0 &&
        (candidate.route === undefined ||
          (typeof candidate.route === 'string' ? candidate.route === route : candidate.route.test(request))),
    );
    if (injection) {
      injection.remaining -= 1;
      this.#injections = this.#injections.filter((candidate) => candidate.remaining > 0);
    }
    return injection;
  }

  #limited(hash: string, retryAfterMs: number, global: boolean, now: number): RateLimitDecision {
    const headers = this.#headers(hash, 0, now + retryAfterMs, now);
    // Discord rounds Retry-After up to whole seconds; fractions keep tests fast and the client accepts them.
    headers['retry-after'] = (retryAfterMs / 1000).toFixed(3);
    headers['x-ratelimit-scope'] = global ? 'global' : 'user';
    if (global) headers['x-ratelimit-global'] = 'true';
    return { headers, limited: { retryAfterMs, global } };
  }

  #headers(hash: string, remaining: number, resetAt: number, now: number): Record<string, string> {
    return {
      'x-ratelimit-limit': String(this.options.limit),
      'x-ratelimit-remaining': String(Math.max(0, remaining)),
      'x-ratelimit-reset': (resetAt / 1000).toFixed(3),
      'x-ratelimit-reset-after': ((resetAt - now) / 1000).toFixed(3),
      'x-ratelimit-bucket': hash,
    };
  }
}
