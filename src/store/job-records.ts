import type { Redis } from 'ioredis';
import type { JobKind } from '../jobs/kinds.js';
import type { JobDescription } from '../jobs/spec.js';
import type { ImageOrigin } from './image-hashes.js';
import type { Keys } from './keys.js';

export type JobStatus = 'queued' | 'running' | 'done' | 'failed';

/** Where the answer to a job goes: the interaction that asked for it, or the channel once that expired. */
export interface ReplyTarget {
  applicationId: string;
  interactionToken: string;
  /** When the interaction arrived (ms); its token lives 15 minutes. */
  interactionAt: number;
  /** The message to edit: `@original` for the interaction's own reply, or a follow-up's id. */
  messageId: string;
  channelId: string;
  guildId: string | null;
}

/** What a finished job made: images (a grid's four, or one upscale), or text (/describe's prompts). */
export type JobResult = ImagesResult | TextResult;

export interface ImagesResult {
  /** Absent on records written before text results existed. */
  type?: 'images';
  width: number;
  height: number;
  /** The images' own size before display resampling (absent on older records). */
  contentWidth?: number;
  contentHeight?: number;
  /** Images stored for this job: 4 for a grid, 1 for an upscale. */
  count: number;
  notes: string[];
  seconds: number;
}

export interface TextResult {
  type: 'text';
  lines: string[];
  notes: string[];
  seconds: number;
}

export interface JobRecord {
  id: string;
  kind: JobKind;
  userId: string;
  /** The job description with its seed fixed. */
  description: JobDescription & { params: JobDescription['params'] & { seed: number } };
  reply: ReplyTarget;
  createdAt: number;
  status: JobStatus;
  /** When the render job was added to the queue (ms). */
  enqueuedAt?: number;
  /** When a worker took the job off the queue (ms), before it checks caps and loads inputs. */
  pickedAt?: number;
  startedAt?: number;
  finishedAt?: number;
  result?: JobResult;
  error?: string;
  /** Which grid image an upscale job shows (its parent's index), for button labels. */
  index?: number;
  /** The worker (host/pid) that last started the job. */
  worker?: string;
  /** Image links of the prompt mapped to where their fetched bytes are stored (`upload:<id>`). */
  inputs?: Record<string, string>;
  /**
   * Image prompts that are images this bot made, saved and brought back (uploaded, linked), by prompt
   * url: the job and slot (null: its grid) they came from, so the lineage continues through them.
   */
  origins?: Record<string, ImageOrigin>;
}

/** Job records as JSON strings with the same time to live as the images they describe. */
export class JobRecords {
  constructor(
    private readonly redis: Redis,
    private readonly keys: Keys,
    private readonly ttlSeconds: number,
  ) {}

  async create(record: JobRecord): Promise<void> {
    await this.redis.set(this.keys.job(record.id), JSON.stringify(record), 'EX', this.ttlSeconds);
    await this.redis
      .multi()
      .zadd(this.keys.userJobs(record.userId), record.createdAt, record.id)
      .zremrangebyrank(this.keys.userJobs(record.userId), 0, -201)
      .expire(this.keys.userJobs(record.userId), this.ttlSeconds)
      .exec();
  }

  /** Takes back records of a command that could not be queued (a pipeline: it must work in an out-of-memory Redis, which refuses MULTI). */
  async remove(records: readonly Pick<JobRecord, 'id' | 'userId'>[]): Promise<void> {
    if (records.length === 0) return;
    const multi = this.redis.pipeline();
    for (const record of records) {
      multi.del(this.keys.job(record.id));
      multi.zrem(this.keys.userJobs(record.userId), record.id);
    }
    await multi.exec();
  }

  async get(id: string): Promise<JobRecord | null> {
    const raw = await this.redis.get(this.keys.job(id));
    return raw ? (JSON.parse(raw) as JobRecord) : null;
  }

  async update(id: string, change: Partial<JobRecord>): Promise<JobRecord | null> {
    const record = await this.get(id);
    if (!record) return null;
    const next = { ...record, ...change };
    await this.redis.set(this.keys.job(id), JSON.stringify(next), 'KEEPTTL');
    return next;
  }

  /** The user's most recent jobs, newest first. */
  async recentOf(userId: string, limit = 20): Promise<JobRecord[]> {
    const ids = await this.redis.zrevrange(this.keys.userJobs(userId), 0, limit - 1);
    const records = await Promise.all(ids.map((id) => this.get(id)));
    return records.filter((r): r is JobRecord => r !== null);
  }
}
