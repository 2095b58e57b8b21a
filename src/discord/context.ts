import type { Logger } from 'pino';
import type { Config } from '../config.js';
import type { BotMetrics } from '../metrics/registry.js';
import type { ModelInfo } from '../model/info.js';
import type { Queues } from '../queue/queues.js';
import type { Stores } from '../store/index.js';

/** What command and button handlers get: the stores and queues, never a Redis client or a model. */
export interface BotContext extends Omit<Stores, 'keys'> {
  config: Config;
  logger: Logger;
  queues: Queues;
  model: ModelInfo;
  /** Hosts whose images are fetched although they are on a private network (the sandbox's CDN). */
  trustedImageHosts: string[];
  metrics?: BotMetrics;
}
