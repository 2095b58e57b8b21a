import { type Logger, type LoggerOptions, pino } from 'pino';

/**
 * Paths pino blanks out wherever they appear in a log line: secrets must never reach the logs, even
 * when a whole config or client options object is logged by mistake.
 */
export const redactedPaths = [
  'DISCORD_TOKEN',
  'token',
  'password',
  'REDIS_URL',
  'redisUrl',
  '*.DISCORD_TOKEN',
  '*.token',
  '*.password',
  '*.REDIS_URL',
  '*.redisUrl',
  'headers.authorization',
  '*.headers.authorization',
];

export function createLogger(
  options: { level?: string; name?: string } = {},
  destination?: pino.DestinationStream,
): Logger {
  const config: LoggerOptions = {
    level: options.level ?? process.env.LOG_LEVEL ?? 'info',
    redact: { paths: redactedPaths, censor: '[redacted]' },
    base: { pid: process.pid, ...(options.name ? { name: options.name } : {}) },
  };
  return destination ? pino(config, destination) : pino(config);
}

/** Removes the password from a redis:// URL so the address can be shown without the secret. */
export function redactUrl(url: string): string {
  try {
    const parsed = new URL(url);
    if (parsed.password) parsed.password = 'redacted';
    return parsed.toString();
  } catch {
    return '[unparseable url]';
  }
}
