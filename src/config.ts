import { existsSync, readFileSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { parseEnv } from 'node:util';
import { z } from 'zod';

/**
 * Every environment variable the project reads, with its default and meaning. `.env.example` lists the
 * same variables; test/config.test.ts keeps the two in step.
 */
const booleanString = z
  .enum(['true', 'false', '1', '0', 'yes', 'no'])
  .transform((value) => value === 'true' || value === '1' || value === 'yes');

const emptyAsUndefined = (value: unknown) => (value === '' ? undefined : value);
const optionalString = z.preprocess(emptyAsUndefined, z.string().min(1).optional());

export const configSchema = z.object({
  /** Bot token from the Discord developer portal. Unset: run against the local sandbox instead. */
  DISCORD_TOKEN: optionalString,
  /** The application's id (needed to deploy commands to real Discord). */
  DISCORD_APPLICATION_ID: z.preprocess(
    emptyAsUndefined,
    z
      .string()
      .regex(/^\d{17,20}$/)
      .optional(),
  ),
  /** Deploy commands to this guild only (instant; for development). Unset: deploy globally. */
  DISCORD_GUILD_ID: z.preprocess(
    emptyAsUndefined,
    z
      .string()
      .regex(/^\d{17,20}$/)
      .optional(),
  ),
  /** A Discord-compatible API to use instead of discord.com (e.g. another machine's sandbox), with /api. */
  DISCORD_API: z.preprocess(emptyAsUndefined, z.url({ protocol: /^https?$/ }).optional()),
  /** The CDN that goes with DISCORD_API. */
  DISCORD_CDN: z.preprocess(emptyAsUndefined, z.url({ protocol: /^https?$/ }).optional()),
  /** Redis for the queue and all state. Unset: start a private redis-server on a free loopback port. */
  REDIS_URL: z.preprocess(emptyAsUndefined, z.url({ protocol: /^rediss?$/ }).optional()),
  /** Folder of the model in the diffusers ONNX layout. */
  MODEL_DIR: z.string().min(1).default('models/emoji-ld2'),
  /** ONNX Runtime execution provider for the workers. */
  DEVICE: z.enum(['cpu', 'cuda']).default('cpu'),
  /** Worker processes to start beside the bot: a number, 0 for none (workers on other machines), or auto. */
  WORKERS: z
    .union([z.literal('auto'), z.coerce.number().int().min(0).max(64)])
    .default('auto')
    .transform((value) => (value === 'auto' ? Math.max(1, Math.floor(availableParallelism() / 2)) : value)),
  /** Threads each worker gives ONNX Runtime (0: ONNX Runtime decides). */
  ORT_THREADS: z.coerce.number().int().min(0).max(256).default(0),
  /** How long a worker's hold on a job lasts without renewal; a killed worker's job moves on after it. */
  JOB_LOCK_MS: z.coerce.number().int().min(1000).default(20_000),
  /** Where the private Redis and other local state live. */
  DATA_DIR: z.string().min(1).default('.data'),
  /** Port of the sandbox web page (0: any free port). */
  SANDBOX_PORT: z.coerce.number().int().min(0).max(65535).default(8080),
  /** How long finished images stay in Redis (buttons on older messages say the image expired). */
  RESULT_TTL_SECONDS: z.coerce
    .number()
    .int()
    .min(60)
    .default(7 * 24 * 3600),
  /**
   * How long an uploaded or linked image waits for its job to be queued; a queued job's inputs then live
   * as long as its record (RESULT_TTL_SECONDS).
   */
  UPLOAD_TTL_SECONDS: z.coerce.number().int().min(60).default(900),
  /** Memory cap of the private Redis (redis-server's maxmemory syntax: 512mb, 2gb); writes past it are refused. */
  REDIS_MAXMEMORY: z
    .string()
    .regex(/^\d+(b|k|kb|m|mb|g|gb)?$/i, 'a size such as 512mb or 2gb')
    .default('1gb'),
  /** Largest image accepted from an upload or a prompt URL, in bytes. */
  IMAGE_MAX_BYTES: z.coerce
    .number()
    .int()
    .min(1024)
    .default(10 * 1024 * 1024),
  /** Time limit for fetching an image URL from a prompt, in milliseconds. */
  IMAGE_FETCH_TIMEOUT_MS: z.coerce.number().int().min(100).default(10_000),
  /** Address /healthz and /metrics listen on; loopback unless a scraper elsewhere needs them. */
  METRICS_HOST: z.string().min(1).default('127.0.0.1'),
  /** Port for /healthz and /metrics (0: any free port; unset: off). */
  METRICS_PORT: z.preprocess(emptyAsUndefined, z.coerce.number().int().min(0).max(65535).optional()),
  /** pino level. */
  LOG_LEVEL: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
  /** Human-readable logs on a terminal (pino's JSON otherwise). */
  LOG_PRETTY: z.preprocess(emptyAsUndefined, booleanString.optional()),
});

export type Config = z.infer<typeof configSchema>;

export class ConfigError extends Error {
  override readonly name = 'ConfigError';
}

/**
 * Reads and validates the environment; the message names every bad variable and why. The process's
 * own environment is first completed from `./.env` when there is one (variables already set win).
 */
export function loadConfig(env?: NodeJS.ProcessEnv): Config {
  if (!env) {
    if (existsSync('.env')) {
      for (const [key, value] of Object.entries(parseEnv(readFileSync('.env', 'utf8')))) {
        if (process.env[key] === undefined) process.env[key] = value;
      }
    }
    return loadConfig(process.env);
  }
  const result = configSchema.safeParse(env);
  if (!result.success) {
    const problems = result.error.issues.map((issue) => `${issue.path.join('.')}: ${issue.message}`);
    throw new ConfigError(`Invalid configuration:\n  ${problems.join('\n  ')}`);
  }
  return result.data;
}
