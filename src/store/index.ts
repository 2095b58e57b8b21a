import type { Redis } from 'ioredis';
import { ImageHashStore } from './image-hashes.js';
import { ImageStore } from './image-store.js';
import { JobCaps } from './job-caps.js';
import { JobRecords } from './job-records.js';
import { Keys } from './keys.js';
import { PolicyStore } from './policies.js';
import { SettingsStore } from './user-settings.js';

export interface Stores {
  keys: Keys;
  records: JobRecords;
  images: ImageStore;
  hashes: ImageHashStore;
  caps: JobCaps;
  policies: PolicyStore;
  settings: SettingsStore;
}

export function openStores(
  redis: Redis,
  ttlSeconds: number,
  prefix?: string,
  uploadTtlSeconds?: number,
): Stores {
  const keys = new Keys(prefix);
  return {
    keys,
    records: new JobRecords(redis, keys, ttlSeconds),
    images: new ImageStore(redis, keys, ttlSeconds, uploadTtlSeconds),
    hashes: new ImageHashStore(redis, keys, ttlSeconds),
    caps: new JobCaps(redis, keys),
    policies: new PolicyStore(redis, keys),
    settings: new SettingsStore(redis, keys),
  };
}
