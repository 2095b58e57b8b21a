/**
 * Every Redis key the project writes, in one place. A prefix keeps several deployments (or test runs)
 * apart on one Redis.
 */
export class Keys {
  constructor(readonly prefix = 'lb') {}
  job = (id: string) => `${this.prefix}:job:${id}`;
  image = (jobId: string, slot: string) => `${this.prefix}:img:${jobId}:${slot}`;
  upload = (id: string) => `${this.prefix}:upload:${id}`;
  policy = (guildId: string) => `${this.prefix}:policy:${guildId}`;
  settings = (userId: string) => `${this.prefix}:settings:${userId}`;
  queuedByUser = (scope: string, userId: string) => `${this.prefix}:queued:${scope}:${userId}`;
  queuedByGuild = (guildId: string) => `${this.prefix}:queued-guild:${guildId}`;
  runningByUser = (userId: string) => `${this.prefix}:running:${userId}`;
  userJobs = (userId: string) => `${this.prefix}:user-jobs:${userId}`;
  delivered = (jobId: string) => `${this.prefix}:delivered:${jobId}`;
  exactHash = (sha: string) => `${this.prefix}:exact:${sha}`;
  hashBand = (band: number, value: string) => `${this.prefix}:phash:${band}:${value}`;
}
