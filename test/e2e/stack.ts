/**
 * The whole system for end-to-end tests: a real redis-server on a free loopback port, the loopback
 * Discord server, the unmodified bot process (`src/main.ts`) pointed at it, and worker processes the
 * test can kill. Nothing is mocked.
 */
import { type ChildProcess, fork } from 'node:child_process';
import { createWriteStream, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Queue } from 'bullmq';
import { Redis } from 'ioredis';
import { commandDefinitions } from '../../commands/index.js';
import { deployCommands } from '../../src/discord/deploy.js';
import {
  type LoopbackDiscord,
  startLoopbackDiscord,
  type WorldSpec,
} from '../../src/sandbox/discord/index.js';
import { bullConnection } from '../../src/store/connection.js';
import { type LocalRedis, startLocalRedis } from '../../src/store/local-redis.js';

const ROOT = new URL('../../', import.meta.url).pathname;
/** The shipped model unless E2E_MODEL_DIR names another (e.g. the tiny fixture while iterating). */
export const defaultModelDir = () => process.env.E2E_MODEL_DIR ?? join(ROOT, 'models/emoji-ld2');

export interface StackOptions {
  workers?: number;
  world?: WorldSpec;
  /** Redis keeps an append-only file here (for the restart test). */
  redisDataDir?: string;
  env?: Record<string, string>;
  modelDir?: string;
}

export interface Stack {
  redis: LocalRedis;
  redisClient: Redis;
  discord: LoopbackDiscord;
  bot: ChildProcess;
  workers: ChildProcess[];
  renderQueue: Queue;
  logDir: string;
  startWorker(): Promise<ChildProcess>;
  restartRedis(): Promise<void>;
  stop(): Promise<void>;
}

function waitForExit(child: ChildProcess): Promise<void> {
  return new Promise((resolve) => {
    if (child.exitCode !== null || child.signalCode !== null) return resolve();
    child.once('exit', () => resolve());
  });
}

export async function startStack(options: StackOptions = {}): Promise<Stack> {
  const logDir = mkdtempSync(join(tmpdir(), 'latentbot-e2e-'));
  let redis = await startLocalRedis(options.redisDataDir ? { dataDir: options.redisDataDir } : {});
  const discord = await startLoopbackDiscord({
    ...(options.world ? { world: options.world } : {}),
    log: () => {},
  });
  const guild = discord.core.world.guilds[0]!;
  await deployCommands(
    {
      token: discord.application.token,
      applicationId: discord.application.id,
      api: discord.apiBase,
      guildId: guild.id,
    },
    commandDefinitions(),
  );

  const env = {
    ...process.env,
    DISCORD_TOKEN: discord.application.token,
    DISCORD_API: discord.apiBase,
    DISCORD_CDN: discord.cdnBase,
    REDIS_URL: redis.url,
    MODEL_DIR: options.modelDir ?? defaultModelDir(),
    WORKERS: '0',
    JOB_LOCK_MS: '3000',
    LOG_LEVEL: 'info',
    ...options.env,
  };

  const spawnLogged = (entry: string, name: string) => {
    const child = fork(join(ROOT, entry), [], {
      env,
      execArgv: ['--import', 'tsx'],
      stdio: ['ignore', 'pipe', 'pipe', 'ipc'],
    });
    const log = createWriteStream(join(logDir, `${name}.log`));
    child.stdout?.pipe(log);
    child.stderr?.pipe(log);
    return child;
  };

  const bot = spawnLogged('src/main.ts', 'bot');
  const workers: ChildProcess[] = [];
  const startWorker = async () => {
    const worker = spawnLogged('src/queue/worker-main.ts', `worker-${workers.length}`);
    workers.push(worker);
    await new Promise<void>((resolve, reject) => {
      worker.on('message', (message: { type?: string }) => message?.type === 'ready' && resolve());
      worker.once('exit', (code) => reject(new Error(`worker exited with ${code}; see ${logDir}`)));
    });
    return worker;
  };
  await discord.waitForBot(30_000);
  await Promise.all(Array.from({ length: options.workers ?? 1 }, () => startWorker()));

  const redisClient = new Redis(redis.url, { maxRetriesPerRequest: null });
  const renderQueue = new Queue('render', { connection: bullConnection(redis.url) });

  return {
    get redis() {
      return redis;
    },
    redisClient,
    discord,
    bot,
    workers,
    renderQueue,
    logDir,
    startWorker,
    async restartRedis() {
      const port = redis.port;
      await redis.stop();
      redis = await startLocalRedis({
        port,
        ...(options.redisDataDir ? { dataDir: options.redisDataDir } : {}),
      });
    },
    async stop() {
      await renderQueue.close();
      redisClient.disconnect();
      for (const child of [bot, ...workers]) {
        if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
      }
      await Promise.all([bot, ...workers].map(waitForExit));
      await discord.close();
      await redis.stop();
    },
  };
}
