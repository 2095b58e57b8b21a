/**
 * `npm start`: everything on one machine. Redis (a private one when REDIS_URL is unset), the worker
 * processes, and the bot, connected to Discord with DISCORD_TOKEN or, without one, to the local sandbox.
 */
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { commandDefinitions, commands, components } from '../commands/index.js';
import { loadConfig } from './config.js';
import { startBot } from './discord/bot.js';
import { deployCommands } from './discord/deploy.js';
import { createLogger, redactUrl } from './logger.js';
import { WorkerSupervisor } from './queue/supervisor.js';
import { startLoopbackDiscord } from './sandbox/discord/index.js';
import { sandboxPage } from './sandbox/web/lineage.js';
import { type LocalRedis, RedisServerMissing, startLocalRedis } from './store/local-redis.js';

const config = loadConfig();
const logger = createLogger({ level: config.LOG_LEVEL, name: 'main' });
const cleanups: Array<() => Promise<void>> = [];
const handlers = { commands, components };

async function main(): Promise<void> {
  if (!existsSync(join(config.MODEL_DIR, 'unet', 'model.onnx'))) {
    throw new Error(`No model in ${config.MODEL_DIR} (expected unet/model.onnx there); set MODEL_DIR.`);
  }

  let redisUrl = config.REDIS_URL;
  if (!redisUrl) {
    let redis: LocalRedis;
    try {
      redis = await startLocalRedis({
        dataDir: join(config.DATA_DIR, 'redis'),
        maxMemory: config.REDIS_MAXMEMORY,
        log: logger,
      });
    } catch (error) {
      if (error instanceof RedisServerMissing) {
        process.stderr.write(`${error.message}\n`);
        process.exit(1);
      }
      throw error;
    }
    cleanups.unshift(() => redis.stop());
    redisUrl = redis.url;
    logger.info(
      { redis: redis.url, data: join(config.DATA_DIR, 'redis'), maxmemory: config.REDIS_MAXMEMORY },
      'private redis-server started',
    );
  } else {
    logger.info({ redis: redactUrl(redisUrl) }, 'using REDIS_URL');
  }

  const supervisor = new WorkerSupervisor({
    count: config.WORKERS,
    env: { ...process.env, REDIS_URL: redisUrl },
    logger,
  });
  cleanups.unshift(() => supervisor.stop());
  const workersReady = supervisor.start();

  if (config.DISCORD_TOKEN) {
    const api = config.DISCORD_API;
    const bot = await startBot({
      config,
      logger,
      handlers,
      redisUrl,
      token: config.DISCORD_TOKEN,
      ...(api ? { rest: { api, cdn: config.DISCORD_CDN ?? api.replace(/\/api\/?$/, '/cdn') } } : {}),
      ...(api ? { trustedImageHosts: [new URL(api).host] } : {}),
    });
    cleanups.unshift(() => bot.close());
    await workersReady;
    logger.info({ workers: config.WORKERS }, 'running against Discord');
    return;
  }

  // The page (static files) and its lineage routes into Redis share the sandbox's origin.
  const page = sandboxPage(redisUrl, config.RESULT_TTL_SECONDS);
  cleanups.unshift(page.close);
  const sandboxOptions = {
    log: (line: string) => logger.warn(line),
    staticDir: page.staticDir,
    onRequest: page.onRequest,
  };
  const discord = await startLoopbackDiscord({ ...sandboxOptions, port: config.SANDBOX_PORT }).catch(
    (error) => {
      // Another program on the port: any free one will do for a local sandbox.
      if ((error as NodeJS.ErrnoException).code !== 'EADDRINUSE') throw error;
      logger.warn({ port: config.SANDBOX_PORT }, 'sandbox port in use; taking a free one');
      return startLoopbackDiscord({ ...sandboxOptions, port: 0 });
    },
  );
  cleanups.unshift(() => discord.close());
  const guild = discord.core.world.guilds[0];
  await deployCommands(
    {
      token: discord.application.token,
      applicationId: discord.application.id,
      api: discord.apiBase,
      ...(guild ? { guildId: guild.id } : {}),
    },
    commandDefinitions(),
  );
  const bot = await startBot({
    config,
    logger,
    handlers,
    redisUrl,
    token: discord.application.token,
    rest: { api: discord.apiBase, cdn: discord.cdnBase },
    trustedImageHosts: [new URL(discord.origin).host],
  });
  cleanups.unshift(() => bot.close());
  await workersReady;
  // The address carries the page key (like a Jupyter token): the page API answers nothing without it.
  process.stdout.write(`\nSandbox ready (no DISCORD_TOKEN set): open ${discord.pageUrl}\n\n`);
}

let stopping = false;
async function shutdown(signal: string, code = 0): Promise<void> {
  if (stopping) return;
  stopping = true;
  logger.info({ signal }, 'shutting down');
  // Workers get their grace period to finish a job; past that, nothing is worth hanging for.
  setTimeout(() => process.exit(code || 1), 60_000).unref();
  for (const cleanup of cleanups)
    await cleanup().catch((error) => logger.warn({ err: error }, 'cleanup failed'));
  process.exit(code);
}
process.on('SIGINT', () => void shutdown('SIGINT'));
process.on('SIGTERM', () => void shutdown('SIGTERM'));

main().catch(async (error) => {
  if (stopping) return; // stopped by a signal while starting: workers that were cut off are expected
  logger.fatal({ err: error }, 'could not start');
  await shutdown('startup failure', 1);
});
