import { Client, Events, GatewayIntentBits } from 'discord.js';
import type { Logger } from 'pino';
import type { Config } from '../config.js';
import { readModelInfo } from '../jobs/model-info.js';
import { openQueues } from '../queue/queues.js';
import { bullConnection, connectCommands, whenReady } from '../store/connection.js';
import { openStores } from '../store/index.js';
import type { BotContext } from './context.js';
import { startDeliveryWorker, startProgressFollower } from './delivery.js';
import { MessageUpdater } from './message-updater.js';
import { Outbox } from './outbox.js';
import { attachRouter } from './router.js';

export interface BotOptions {
  config: Config;
  logger: Logger;
  redisUrl: string;
  token: string;
  /** Point discord.js at a Discord-compatible server (the sandbox) instead of discord.com. */
  rest?: { api: string; cdn: string };
  trustedImageHosts?: string[];
}

export interface RunningBot {
  client: Client;
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
  const stores = openStores(redis, config.RESULT_TTL_SECONDS);
  const connection = bullConnection(options.redisUrl);
  const queues = openQueues(connection);

  const client = new Client({
    intents: [GatewayIntentBits.Guilds],
    ...(options.rest ? { rest: { api: options.rest.api, cdn: options.rest.cdn, version: '10' } } : {}),
  });
  const context: BotContext = {
    config,
    logger,
    ...stores,
    queues,
    model: readModelInfo(config.MODEL_DIR),
    trustedImageHosts: options.trustedImageHosts ?? [],
  };
  attachRouter(client, context);

  const outbox = new Outbox(client.rest);
  const updater = new MessageUpdater((jobId, error) =>
    logger.warn({ jobId, err: error }, 'progress edit failed'),
  );
  const deliveryDeps = { ...stores, outbox, updater, redis, logger };
  const delivery = startDeliveryWorker(deliveryDeps, connection);
  const progress = startProgressFollower(deliveryDeps, connection);

  const ready = new Promise<void>((resolve) => client.once(Events.ClientReady, () => resolve()));
  await client.login(options.token);
  await ready;
  logger.info({ user: client.user?.tag, guilds: client.guilds.cache.size }, 'bot connected');

  return {
    client,
    context,
    async close() {
      await client.destroy();
      await delivery.close();
      await progress.close();
      await queues.close();
      redis.disconnect();
    },
  };
}
