import type { Logger } from 'pino';
import type { Config } from '../config.js';
import type { BotMetrics } from '../metrics/registry.js';
import type { ModelInfo } from '../model/info.js';
import type { Queues } from '../queue/queues.js';
import type { ImageHashStore } from '../store/image-hashes.js';
import type { ImageStore } from '../store/image-store.js';
import type { JobCaps } from '../store/job-caps.js';
import type { JobRecords } from '../store/job-records.js';
import type { PolicyStore } from '../store/policies.js';
import type { SettingsStore } from '../store/user-settings.js';

/** What command and button handlers get: stores and queues, never a Redis client or a model. */
export interface BotContext {
  config: Config;
  logger: Logger;
  records: JobRecords;
  images: ImageStore;
  hashes: ImageHashStore;
  caps: JobCaps;
  policies: PolicyStore;
  settings: SettingsStore;
  queues: Queues;
  model: ModelInfo;
  /** Hosts whose images are fetched although they are on a private network (the sandbox's CDN). */
  trustedImageHosts: string[];
  metrics?: BotMetrics;
}
