import { randomInt } from 'node:crypto';
import type { JobKind } from '../jobs/kinds.js';
import type { JobDescription } from '../jobs/spec.js';
import { evaluatePolicy } from '../policy/evaluate.js';
import { priorityFor, renderJobOptions } from '../queue/queues.js';
import type { ImageOrigin } from '../store/image-hashes.js';
import type { JobRecord, ReplyTarget } from '../store/job-records.js';
import type { BotContext } from './context.js';
import { UserError } from './user-error.js';

export interface Requester {
  userId: string;
  guildId: string | null;
  channelId: string;
  applicationId: string;
  interactionToken: string;
  interactionAt: number;
}

export interface PlannedJob {
  id: string;
  kind: JobKind;
  description: JobDescription;
  index?: number;
  inputs?: Record<string, string>;
  /**
   * Inputs the job shares with the job it was made from (a reroll's image prompts, a variation's
   * `--sref`): the uploads are that job's, so a command that fails leaves them alone.
   */
  inherited?: Record<string, string>;
  /** Image prompts recognised as the bot's own images, by prompt url (see JobRecord.origins). */
  origins?: Record<string, ImageOrigin>;
}

/**
 * Checks the server's policy for every job a command would start and reserves their queue places, all
 * or nothing. Throws a UserError listing every violation; on success the places are held and must be
 * either queued with `enqueue` or given back with `release`.
 */
export async function admit(ctx: BotContext, who: Requester, planned: PlannedJob[]): Promise<void> {
  const policy = await ctx.policies.get(who.guildId);
  const queued = await ctx.caps.queuedCount(who.guildId, who.userId);
  const context = {
    baseSteps: ctx.model.baseSteps,
    baseSize: ctx.model.baseSize,
    sizeMultiple: ctx.model.sizeMultiple,
    distilled: ctx.model.distilled,
    queued,
    jobCount: planned.length,
  };
  const messages = new Set<string>();
  for (const job of planned) {
    for (const violation of evaluatePolicy(job.description, policy, context)) messages.add(violation.message);
  }
  if (messages.size > 0) throw new UserError([...messages].join('\n'));

  const reserved = await ctx.caps.reserveQueued(
    who.guildId,
    who.userId,
    planned.map((job) => job.id),
    { perUser: policy.maxQueuedPerUser, perGuild: policy.maxQueuedPerServer },
  );
  if (!reserved.ok) {
    throw new UserError(
      reserved.scope === 'user'
        ? `You have ${reserved.userQueued} jobs waiting; this server allows ${policy.maxQueuedPerUser}. Try again when some have finished.`
        : `This server's queue is full (${reserved.guildQueued} jobs waiting). Try again in a little while.`,
    );
  }
}

export async function release(ctx: BotContext, who: Requester, planned: PlannedJob[]): Promise<void> {
  await Promise.all(planned.map((job) => ctx.caps.releaseQueued(who.guildId, who.userId, job.id)));
}

/** The job records to be, seeds fixed now; each answers through the interaction's own message for now. */
export function draftRecords(who: Requester, planned: PlannedJob[]): JobRecord[] {
  return planned.map((job) => {
    const reply: ReplyTarget = {
      applicationId: who.applicationId,
      interactionToken: who.interactionToken,
      interactionAt: who.interactionAt,
      messageId: '@original',
      channelId: who.channelId,
      guildId: who.guildId,
    };
    const seed = job.description.params.seed ?? randomInt(0, 2 ** 32);
    return {
      id: job.id,
      kind: job.kind,
      userId: who.userId,
      description: { ...job.description, params: { ...job.description.params, seed } },
      reply,
      createdAt: Date.now(),
      status: 'queued' as const,
      ...(job.index !== undefined ? { index: job.index } : {}),
      ...(job.inputs || job.inherited ? { inputs: { ...job.inherited, ...job.inputs } } : {}),
      ...(job.origins ? { origins: job.origins } : {}),
    };
  });
}

/**
 * Stores the records and adds them to the render queue (the render job's id is the record's id), all or
 * nothing: the queue takes them in one transaction, and when Redis refuses (out of memory, gone) the
 * records written so far are taken back.
 */
export async function enqueueRecords(ctx: BotContext, records: JobRecord[]): Promise<void> {
  try {
    for (const record of records) {
      record.enqueuedAt = Date.now();
      await ctx.records.create(record);
    }
    await ctx.queues.render.addBulk(
      records.map((record) => {
        const priority = priorityFor(record.description.params.mode);
        return {
          name: record.kind,
          data: { jobId: record.id },
          opts: { ...renderJobOptions, jobId: record.id, ...(priority ? { priority } : {}) },
        };
      }),
    );
  } catch (error) {
    await ctx.records.remove(records).catch(() => {});
    throw error;
  }
  for (const record of records) {
    ctx.logger.info(
      { jobId: record.id, kind: record.kind, userId: record.userId, guildId: record.reply.guildId },
      'job queued',
    );
  }
}
