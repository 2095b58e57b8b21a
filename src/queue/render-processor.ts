import { DelayedError, type Job, type Processor, type Queue, UnrecoverableError } from 'bullmq';
import type { Logger } from 'pino';
import { imageHashes } from '../images/image-hash.js';
import type { ImageSlot } from '../jobs/refs.js';
import type { WorkerMetrics } from '../metrics/registry.js';
import type { ImageHashStore } from '../store/image-hashes.js';
import type { ImageStore } from '../store/image-store.js';
import type { JobCaps } from '../store/job-caps.js';
import type { JobRecord, JobRecords } from '../store/job-records.js';
import type { PolicyStore } from '../store/policies.js';
import { resolveInputs } from './job-inputs.js';
import { progressForwarder } from './progress-forwarder.js';
import { type DeliveryJobData, deliveryJobId, deliveryJobOptions, type RenderJobData } from './queues.js';
import { type ModelShape, renderDeadline, WorkRate, workUnits } from './render-deadline.js';
import { BadInputError, DeadlineError, type RenderedJob, type Renderer } from './renderer.js';
import { holdRunningSlot } from './running-slot.js';

export interface RenderProcessorDeps {
  records: JobRecords;
  images: ImageStore;
  hashes: ImageHashStore;
  caps: JobCaps;
  policies: PolicyStore;
  renderer: Renderer;
  delivery: Queue<DeliveryJobData>;
  logger: Logger;
  /** Recorded on the job while it runs (host/pid), so operators can see which worker had it. */
  workerName?: string;
  metrics?: WorkerMetrics;
  /** The model's steps and sizes, to size each job's deadline; without it the policy's cap applies alone. */
  model?: ModelShape;
}

export function createRenderProcessor(deps: RenderProcessorDeps): Processor<RenderJobData> {
  const rate = new WorkRate();

  return async (job: Job<RenderJobData>, token?: string, cancelled?: AbortSignal) => {
    const pickedAt = Date.now();
    const log = deps.logger.child({ jobId: job.data.jobId, attempt: job.attemptsMade + 1 });
    const record = await deps.records.get(job.data.jobId);
    if (!record) throw new UnrecoverableError('the job record expired before a worker reached it');

    if (record.status === 'done') {
      // A previous attempt stored the images and died before queueing the delivery.
      await enqueueDelivery(deps.delivery, { jobId: record.id, outcome: 'done' });
      return { jobId: record.id };
    }

    const policy = await deps.policies.get(record.reply.guildId);
    if (!(await deps.caps.acquireRunning(record.userId, record.id, policy.maxRunningPerUser))) {
      // The user already has as many jobs running as the server allows: wait without using an attempt.
      await job.moveToDelayed(Date.now() + 1000, token);
      throw new DelayedError();
    }
    const slot = holdRunningSlot(deps.caps, record, log);
    const { metrics } = deps;
    const busySince = performance.now();
    metrics?.busy.set(1);
    let outcome = 'failed';
    try {
      await deps.caps.releaseQueued(record.reply.guildId, record.userId, record.id);
      await deps.records.update(record.id, {
        status: 'running',
        pickedAt,
        startedAt: Date.now(),
        ...(deps.workerName ? { worker: deps.workerName } : {}),
      });
      const inputs = await resolveInputs(record, deps.images);
      const units = deps.model ? workUnits(record.description, deps.model) : 0;
      const deadline = renderDeadline(
        deps.model ? rate.deadlineSeconds(units, policy.maxRenderSeconds) : policy.maxRenderSeconds,
        cancelled,
      );
      const started = performance.now();
      const forward = progressForwarder(job, { metrics, log });
      const rendered = await deps.renderer
        .render(record, inputs, forward, deadline.signal)
        .finally(() => deadline.clear());
      const seconds = (performance.now() - started) / 1000;
      if (units > 0) rate.observe(units, seconds);
      await storeResult(deps, record, rendered, seconds, log);
      await enqueueDelivery(deps.delivery, { jobId: record.id, outcome: 'done' });
      log.info({ seconds }, 'job rendered');
      outcome = 'done';
      return { jobId: record.id };
    } catch (error) {
      throw failureOf(error, { metrics, log, cancelled });
    } finally {
      const seconds = (performance.now() - busySince) / 1000;
      metrics?.busy.set(0);
      metrics?.busySeconds.inc(seconds);
      metrics?.jobSeconds.observe({ kind: record.kind, outcome }, seconds);
      await slot.release();
    }
  };
}

/** The images under their job id, then the record marked done with what the result is. */
async function storeResult(
  deps: Pick<RenderProcessorDeps, 'images' | 'records' | 'hashes'>,
  record: JobRecord,
  rendered: RenderedJob,
  seconds: number,
  log: Logger,
): Promise<void> {
  if (rendered.type === 'text') {
    await deps.records.update(record.id, {
      status: 'done',
      finishedAt: Date.now(),
      result: { type: 'text', lines: rendered.lines, notes: rendered.notes, seconds },
    });
    return;
  }
  const slots = new Map<string, Buffer>(rendered.images.map((png, i) => [String(i), png] as const));
  if (rendered.grid) slots.set('grid', rendered.grid);
  await deps.images.putJobImages(record.id, slots);
  // Fingerprints, so a copy of these images coming back later is linked to this job. A failure here
  // costs only that link, never the job.
  await Promise.all(
    [...slots].map(async ([slot, png]) =>
      deps.hashes.remember(
        record.id,
        slot === 'grid' ? 'grid' : (Number(slot) as ImageSlot),
        await imageHashes(png),
      ),
    ),
  ).catch((error) => log.warn({ err: error }, 'could not fingerprint the images'));
  await deps.records.update(record.id, {
    status: 'done',
    finishedAt: Date.now(),
    result: {
      type: 'images',
      width: rendered.width,
      height: rendered.height,
      contentWidth: rendered.contentWidth,
      contentHeight: rendered.contentHeight,
      count: rendered.images.length,
      notes: rendered.notes,
      seconds,
    },
  });
}

/**
 * What BullMQ should make of a failed render: bad input and a job past its deadline are final, with a
 * message for the user; anything else (a dead inference process, a Redis blip) is retried.
 */
function failureOf(
  error: unknown,
  context: { metrics: WorkerMetrics | undefined; log: Logger; cancelled: AbortSignal | undefined },
): unknown {
  const { metrics, log } = context;
  if (error instanceof BadInputError) {
    metrics?.failures.inc({ reason: 'bad-input' });
    return new UnrecoverableError(error.message);
  }
  if (error instanceof DeadlineError && context.cancelled?.aborted) {
    metrics?.failures.inc({ reason: 'cancelled' });
    return new UnrecoverableError('this job was cancelled');
  }
  if (error instanceof DeadlineError) {
    metrics?.failures.inc({ reason: 'deadline' });
    log.warn({ err: error }, 'render stopped at its deadline; inference process replaced');
    return new UnrecoverableError(
      `this job ran ${error.message} (a few times what its size, steps and prompt parts take here) ` +
        'and was stopped. Try a lower --q, a squarer --ar or fewer parts.',
    );
  }
  metrics?.failures.inc({ reason: 'error' });
  return error;
}

export function enqueueDelivery(queue: Queue<DeliveryJobData>, data: DeliveryJobData): Promise<unknown> {
  return queue.add('deliver', data, { ...deliveryJobOptions, jobId: deliveryJobId(data.jobId) });
}

/** After the last attempt: mark the record failed, free its queue place, and tell the user. */
export async function onRenderFailed(
  deps: Pick<RenderProcessorDeps, 'records' | 'caps' | 'delivery'>,
  job: Job<RenderJobData> | undefined,
  error: Error,
): Promise<void> {
  if (!job) return;
  const final = error.name === 'UnrecoverableError' || job.attemptsMade >= (job.opts.attempts ?? 1);
  if (!final || error.name === 'DelayedError') return;
  const record = await deps.records.update(job.data.jobId, {
    status: 'failed',
    error: error.message,
    finishedAt: Date.now(),
  });
  if (record) await deps.caps.releaseQueued(record.reply.guildId, record.userId, record.id);
  await enqueueDelivery(deps.delivery, { jobId: job.data.jobId, outcome: 'failed', message: error.message });
}
