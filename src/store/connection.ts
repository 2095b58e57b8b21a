import type { ConnectionOptions } from 'bullmq';
import { Redis } from 'ioredis';

/**
 * Two kinds of connection, as BullMQ advises: workers and blocking readers wait forever for Redis to
 * come back (`maxRetriesPerRequest: null`); the bot's own commands fail at once while Redis is away
 * (`enableOfflineQueue: false`) so a user hears "the queue is unavailable" instead of a 3 s timeout.
 */
export function connectBlocking(url: string, onError: (error: Error) => void = () => {}): Redis {
  return new Redis(url, { maxRetriesPerRequest: null }).on('error', onError);
}

// ioredis reconnects on its own; an 'error' listener keeps a passing outage from being an unhandled
// event, while the commands that fail in the meantime report it where it matters.
export function connectCommands(url: string, onError: (error: Error) => void = () => {}): Redis {
  return new Redis(url, { maxRetriesPerRequest: 1, enableOfflineQueue: false }).on('error', onError);
}

/** Resolves once the connection is ready (the offline-queue-less client refuses commands before that). */
export function whenReady(redis: Redis): Promise<void> {
  if (redis.status === 'ready') return Promise.resolve();
  return new Promise((resolve, reject) => {
    const onReady = () => {
      redis.off('error', onError);
      resolve();
    };
    const onError = (error: Error) => {
      if (redis.status === 'end') {
        redis.off('ready', onReady);
        reject(error);
      }
    };
    redis.once('ready', onReady);
    redis.on('error', onError);
  });
}

/** BullMQ connection options for a redis:// URL (BullMQ makes its own connections from these). */
export function bullConnection(url: string): ConnectionOptions {
  const parsed = new URL(url);
  return {
    host: parsed.hostname,
    port: Number(parsed.port || 6379),
    ...(parsed.username ? { username: decodeURIComponent(parsed.username) } : {}),
    ...(parsed.password ? { password: decodeURIComponent(parsed.password) } : {}),
    db: Number(parsed.pathname.slice(1) || 0),
    ...(parsed.protocol === 'rediss:' ? { tls: {} } : {}),
    maxRetriesPerRequest: null,
  };
}

interface ConnectionLogger {
  warn(details: object, message: string): void;
  info(details: object, message: string): void;
  debug(details: object, message: string): void;
}

/**
 * Logs a connection's outages once each: a warning when a ready connection is lost, info when it is back.
 * The errors ioredis raises while it retries stay at debug, so a Redis restart is two lines, not hundreds.
 */
export function watchConnection(redis: Redis, logger: ConnectionLogger, component: string): Redis {
  let state: 'starting' | 'up' | 'down' = redis.status === 'ready' ? 'up' : 'starting';
  let lostAt = 0;
  redis.on('ready', () => {
    if (state === 'down') {
      logger.info({ component, downSeconds: (Date.now() - lostAt) / 1000 }, 'redis connection back');
    }
    state = 'up';
  });
  redis.on('close', () => {
    if (state !== 'up') return;
    state = 'down';
    lostAt = Date.now();
    logger.warn({ component }, 'redis connection lost; retrying');
  });
  return redis;
}

/**
 * An error listener for BullMQ queues and workers (which make their own connections): the first error of
 * an outage is a warning, the rest are debug until `quietMs` has passed without one.
 */
export function outageLogger(logger: ConnectionLogger, component: string, quietMs = 30_000) {
  let last = 0;
  return (error: Error) => {
    const now = Date.now();
    if (now - last > quietMs) logger.warn({ component, err: error }, 'redis unreachable');
    else logger.debug({ component, err: error }, 'redis still unreachable');
    last = now;
  };
}
