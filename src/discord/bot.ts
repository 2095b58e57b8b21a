import { Client, Events, GatewayIntentBits } from 'discord.js';
import type { Logger } from 'pino';
import type { Config } from '../config.js';
import { serveMetrics } from '../metrics/http.js';
import { botMetrics } from '../metrics/registry.js';
import { readModelInfo } from '../model/info.js';
import { openQueues } from '../queue/queues.js';
import {
  bullConnection,
  connectCommands,
  outageLogger,
  watchConnection,
  whenReady,
} from '../store/connection.js';
import { openStores } from '../store/index.js';
import type { BotContext } from './context.js';
import { startDeliveryWorker, startProgressFollower } from './delivery.js';
import { MessageUpdater } from './message-updater.js';
import { Outbox } from './outbox.js';
import { attachRouter, type InteractionHandlers } from './router.js';

export interface BotOptions {
  config: Config;
  logger: Logger;
  /** The slash commands and component handlers (commands/index.ts), given by the composition root. */
  handlers: InteractionHandlers;
  redisUrl: string;
  token: string;
  /** Point discord.js at a Discord-compatible server (the sandbox) instead of discord.com. */
  rest?: { api: string; cdn: string };
  trustedImageHosts?: string[];
}

export interface RunningBot {
  client: Client;
  /** Where /metrics and /healthz are served (null when METRICS_PORT is unset). */
  metricsPort: number | null;
  context: BotContext;
  close(): Promise<void>;
}

/** Connects the bot: stores, queues, the delivery worker, the progress follower and the gateway. */
export async function startBot(options: BotOptions): Promise<RunningBot> {
  const { config, logger } = options;
  const redis = connectCommands(options.redisUrl, (error) =>
    logger.debug({ err: error }, 'redis connection error'),
  );
  await whenReady(redis);
  watchConnection(redis, logger, 'bot');
  const stores = openStores(redis, config.RESULT_TTL_SECONDS, undefined, config.UPLOAD_TTL_SECONDS);
  const connection = bullConnection(options.redisUrl);
  const queues = openQueues(connection, outageLogger(logger, 'bot queues'));

  const client = new Client({
    intents: [GatewayIntentBits.Guilds],
    ...(options.rest ? { rest: { api: options.rest.api, cdn: options.rest.cdn, version: '10' } } : {}),
  });
  const metrics = botMetrics(() => queues.render.getJobCounts('waiting', 'prioritized', 'delayed', 'active'));
  const context: BotContext = {
    metrics,
    config,
    logger,
    ...stores,
    queues,
    model: readModelInfo(config.MODEL_DIR),
    trustedImageHosts: options.trustedImageHosts ?? [],
  };
  attachRouter(client, context, options.handlers);

  const outbox = new Outbox(client.rest);
  const updater = new MessageUpdater((jobId, error) =>
    logger.warn({ jobId, err: error }, 'progress edit failed'),
  );
  const deliveryDeps = { ...stores, outbox, updater, redis, logger, metrics };
  const delivery = startDeliveryWorker(deliveryDeps, connection);
  const progress = startProgressFollower(deliveryDeps, connection);

  const ready = new Promise<void>((resolve) => client.once(Events.ClientReady, () => resolve()));
  await client.login(options.token);
  await ready;
  logger.info({ user: client.user?.tag, guilds: client.guilds.cache.size }, 'bot connected');
  const served =
    config.METRICS_PORT === undefined
      ? null
      : await serveMetrics(
          config.METRICS_PORT,
          metrics.registry,
          async () => ({
            ok: redis.status === 'ready' && client.isReady(),
            redis: redis.status,
            discord: client.isReady() ? 'ready' : 'connecting',
          }),
          config.METRICS_HOST,
        );
  if (served) logger.info({ port: served.port }, 'metrics at /metrics, health at /healthz');

  return {
    client,
    context,
    metricsPort: served?.port ?? null,
    async close() {
      await served?.close();
      await client.destroy();
      await delivery.close();
      await progress.close();
      await queues.close();
      redis.disconnect();
    },
  };
}
