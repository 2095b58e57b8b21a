import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { DiscordAPIError, HTTPError } from '@discordjs/rest';
import { ConfigError, configSchema, loadConfig } from '../src/config.js';
import { createLogger } from '../src/logger.js';

describe('configuration', () => {
  test('defaults apply to an empty environment', () => {
    const config = loadConfig({});
    expect(config).toMatchObject({ MODEL_DIR: 'models/emoji-ld2', DEVICE: 'cpu', LOG_LEVEL: 'info' });
    expect(config.DISCORD_TOKEN).toBeUndefined();
    expect(config.WORKERS).toBeGreaterThanOrEqual(1);
  });

  test('bad values are named', () => {
    expect(() => loadConfig({ DEVICE: 'tpu', REDIS_URL: 'http://x' })).toThrow(ConfigError);
    try {
      loadConfig({ DEVICE: 'tpu', REDIS_URL: 'http://x' });
    } catch (error) {
      expect((error as Error).message).toContain('DEVICE');
      expect((error as Error).message).toContain('REDIS_URL');
    }
  });

  test('loadConfig() completes the environment from ./.env; variables already set win', () => {
    const dir = mkdtempSync(join(tmpdir(), 'latentbot-env-'));
    writeFileSync(join(dir, '.env'), 'SANDBOX_PORT=9123\nMODEL_DIR=from-file\n');
    const cwd = process.cwd();
    const saved = { SANDBOX_PORT: process.env.SANDBOX_PORT, MODEL_DIR: process.env.MODEL_DIR };
    process.env.MODEL_DIR = 'from-environment';
    delete process.env.SANDBOX_PORT;
    try {
      process.chdir(dir);
      const config = loadConfig();
      expect(config.SANDBOX_PORT).toBe(9123);
      expect(config.MODEL_DIR).toBe('from-environment');
    } finally {
      process.chdir(cwd);
      for (const [key, value] of Object.entries(saved)) {
        if (value === undefined) delete process.env[key];
        else process.env[key] = value;
      }
    }
  });

  test('.env.example lists every variable and nothing else', () => {
    const example = readFileSync(new URL('../.env.example', import.meta.url), 'utf8');
    const listed = [...example.matchAll(/^#?\s*([A-Z][A-Z0-9_]+)=/gm)].map((m) => m[1]).sort();
    expect(listed).toEqual(Object.keys(configSchema.shape).sort());
  });
});

describe('logger', () => {
  test('never writes the Discord token or the Redis password', () => {
    const lines: string[] = [];
    const sink = new Writable({
      write(chunk, _encoding, done) {
        lines.push(String(chunk));
        done();
      },
    });
    const logger = createLogger({ level: 'info' }, sink);
    logger.info(
      { config: { DISCORD_TOKEN: 'secret-token-123', REDIS_URL: 'redis://:hunter2@h:6379' } },
      'config',
    );
    logger.info({ token: 'secret-token-123', password: 'hunter2' }, 'login');
    const text = lines.join('');
    expect(text).not.toContain('secret-token-123');
    expect(text).not.toContain('hunter2');
    expect(text).toContain('[redacted]');
  });

  test('a failed Discord request logs no interaction token and no request body', () => {
    const lines: string[] = [];
    const sink = new Writable({
      write(chunk, _encoding, done) {
        lines.push(String(chunk));
        done();
      },
    });
    const logger = createLogger({ level: 'info' }, sink);
    const token = 'aW50ZXJhY3Rpb246MTIzNDU2Nzg5MDEyMzQ1Njc4OmZha2V0b2tlbg';
    const url = `https://discord.com/api/v10/webhooks/123456789012345678/${token}/messages/@original`;
    const body = { files: [{ name: 'grid.png', data: Buffer.alloc(200_000, 7) }], body: { content: 'hi' } };
    const apiError = new DiscordAPIError(
      { code: 50027, message: 'Invalid Webhook Token' },
      50027,
      401,
      'PATCH',
      url,
      body,
    );
    logger.warn({ jobId: 'j1', err: apiError }, 'delivery failed');
    logger.error({ err: new HTTPError(500, 'Server Error', 'POST', url, body) }, `could not post to ${url}`);
    logger.warn({ err: new Error('outer', { cause: apiError }) }, 'wrapped');
    const text = lines.join('');
    expect(text).not.toContain(token);
    expect(text).not.toContain('7,7,7,7'); // the file bytes
    expect(text.length).toBeLessThan(10_000);
    expect(text).toContain('/webhooks/123456789012345678/[redacted]');
    expect(text).toContain('Invalid Webhook Token');
  });
});
