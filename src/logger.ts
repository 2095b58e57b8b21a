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
  // A failed Discord request carries its whole body (message JSON, file bytes): never worth a log line.
  'requestBody',
  '*.requestBody',
];

// Interaction tokens travel inside webhook URLs (`/webhooks/<application>/<token>/messages/...`), and
// `Bot <token>` inside headers: whatever the field, these shapes never reach a log line.
const WEBHOOK_TOKEN = /(\/(?:webhooks|interactions)\/\d+\/)[^/?#\s"'`]+/g;
const BOT_TOKEN = /\b(Bot|Bearer)\s+[A-Za-z0-9._-]{20,}/g;

export function scrubSecrets(text: string): string {
  return text.replace(WEBHOOK_TOKEN, '$1[redacted]').replace(BOT_TOKEN, '$1 [redacted]');
}

type Serialized = Record<string, unknown>;

/**
 * pino's error serializer, then: no request body (the redact paths above keep it out of nested errors
 * too), and no token inside the URL, message or stack. Discord errors (`@discordjs/rest`'s
 * DiscordAPIError and HTTPError) carry all three.
 */
export function serializeError(error: unknown): unknown {
  if (!(error instanceof Error)) return error;
  const out = pino.stdSerializers.err(error) as unknown as Serialized;
  delete out['requestBody'];
  for (const field of ['message', 'stack', 'url'] as const) {
    const value = out[field];
    if (typeof value === 'string') out[field] = scrubSecrets(value);
  }
  const cause = (error as { cause?: unknown }).cause;
  if (cause !== undefined) out['cause'] = serializeError(cause);
  return out;
}

const serializers = {
  err: serializeError,
  error: serializeError,
  url: (value: unknown) => (typeof value === 'string' ? scrubSecrets(value) : value),
};

export function createLogger(
  options: { level?: string; name?: string } = {},
  destination?: pino.DestinationStream,
): Logger {
  const config: LoggerOptions = {
    level: options.level ?? process.env.LOG_LEVEL ?? 'info',
    redact: { paths: redactedPaths, censor: '[redacted]' },
    serializers,
    hooks: {
      // The message string too: a caller may have written a URL into it.
      logMethod(args, method) {
        const last = args.length - 1;
        if (typeof args[last] === 'string') args[last] = scrubSecrets(args[last] as string);
        method.apply(this, args);
      },
    },
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
