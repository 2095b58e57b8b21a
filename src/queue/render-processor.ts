import { DelayedError, type Job, type Processor, type Queue, UnrecoverableError } from 'bullmq';
import type { Logger } from 'pino';
import { type ImageSlot, jobImageRef } from '../jobs/refs.js';
import type { WorkerMetrics } from '../metrics/registry.js';
import type { ImageStore } from '../store/image-store.js';
import type { JobCaps } from '../store/job-caps.js';
import type { JobRecord, JobRecords } from '../store/job-records.js';
import type { PolicyStore } from '../store/policies.js';
import {
  type DeliveryJobData,
  deliveryJobId,
  deliveryJobOptions,
  type ProgressData,
  type RenderJobData,
} from './queues.js';
import { type ModelShape, WorkRate, workUnits } from './render-deadline.js';
import { BadInputError, DeadlineError, type Renderer } from './renderer.js';

export interface RenderProcessorDeps {
  records: JobRecords;
  images: ImageStore;
  caps: JobCaps;
  policies: PolicyStore;
  renderer: Renderer;
  delivery: Queue<DeliveryJobData>;
  logger: Logger;
  /** Recorded on the job while it runs (host/pid), so operators can see which worker had it. */
  workerName?: string;
  /** Least time between two progress previews sent to the bot. */
  previewIntervalMs?: number;
  metrics?: WorkerMetrics;
  /** The model's steps and sizes, to size each job's deadline; without it the policy's cap applies alone. */
  model?: ModelShape;
}

/** Every image reference a job needs, resolved to bytes; an expired one is bad input, not a retry. */
async function resolveInputs(record: JobRecord, images: ImageStore): Promise<Map<string, Buffer>> {
  const inputs = new Map<string, Buffer>();
  const refs = new Set<string>();
  for (const prompt of record.description.prompts) if (prompt.kind === 'image') refs.add(prompt.url);
  for (const parent of record.description.parents) {
    if (parent.index !== null) refs.add(jobImageRef(parent.jobId, parent.index as ImageSlot));
  }
  for (const ref of refs) {
    const stored = record.inputs?.[ref] ?? ref;
    const bytes = await images.resolve(stored);
    if (!bytes) throw new BadInputError('an image this job builds on has expired; start again from /imagine');
    inputs.set(ref, bytes);
  }
  return inputs;
}

export function createRenderProcessor(deps: RenderProcessorDeps): Processor<RenderJobData> {
  const previewInterval = deps.previewIntervalMs ?? 700;
  const rate = new WorkRate();

  return async (job: Job<RenderJobData>, token?: string) => {
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
    const renew = setInterval(() => {
      deps.caps
        .renewRunning(record.userId, record.id)
        .catch((error) => log.warn({ err: error }, 'lease renewal failed'));
    }, deps.caps.leaseMs / 3);

    const metrics = deps.metrics;
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
      const deadlineSeconds = deps.model
        ? rate.deadlineSeconds(units, policy.maxRenderSeconds)
        : policy.maxRenderSeconds;
      const deadline = new AbortController();
      const timer = setTimeout(
        () => deadline.abort(new Error(`past its deadline of ${Math.round(deadlineSeconds)} s`)),
        deadlineSeconds * 1000,
      );
      const started = performance.now();
      let lastPreview = 0;
      let lastStep = started;
      const rendered = await deps.renderer
        .render(
          record,
          inputs,
          (progress) => {
            const now = performance.now();
            if (progress.stage === 'denoise') {
              if (progress.step > 1) metrics?.stepSeconds.observe((now - lastStep) / 1000);
              lastStep = now;
            }
            const last = progress.step === progress.total;
            const withPreview = progress.preview && (now - lastPreview >= previewInterval || last);
            if (withPreview) lastPreview = now;
            const data: ProgressData = { stage: progress.stage, step: progress.step, total: progress.total };
            if (withPreview && progress.preview) data.preview = progress.preview.toString('base64');
            job
              .updateProgress(data as unknown as object)
              .catch((error) => log.debug({ err: error }, 'progress lost'));
          },
          deadline.signal,
        )
        .finally(() => clearTimeout(timer));
      if (units > 0) rate.observe(units, (performance.now() - started) / 1000);
      const slots = new Map<string, Buffer>(rendered.images.map((png, i) => [String(i), png] as const));
      if (rendered.grid) slots.set('grid', rendered.grid);
      await deps.images.putJobImages(record.id, slots);
      await deps.records.update(record.id, {
        status: 'done',
        finishedAt: Date.now(),
        result: {
          width: rendered.width,
          height: rendered.height,
          count: rendered.images.length,
          notes: rendered.notes,
          seconds: (performance.now() - started) / 1000,
        },
      });
      await enqueueDelivery(deps.delivery, { jobId: record.id, outcome: 'done' });
      log.info({ seconds: (performance.now() - started) / 1000 }, 'job rendered');
      outcome = 'done';
      return { jobId: record.id };
    } catch (error) {
      if (error instanceof BadInputError) {
        metrics?.failures.inc({ reason: 'bad-input' });
        throw new UnrecoverableError(error.message);
      }
      if (error instanceof DeadlineError) {
        metrics?.failures.inc({ reason: 'deadline' });
        log.warn({ err: error }, 'render stopped at its deadline; inference thread replaced');
        throw new UnrecoverableError(
          `this job ran ${error.message} (a few times what its size, steps and prompt parts take here) ` +
            'and was stopped. Try a lower --q, a squarer --ar or fewer parts.',
        );
      }
      metrics?.failures.inc({ reason: 'error' });
      throw error;
    } finally {
      const seconds = (performance.now() - busySince) / 1000;
      metrics?.busy.set(0);
      metrics?.busySeconds.inc(seconds);
      metrics?.jobSeconds.observe({ kind: record.kind, outcome }, seconds);
      clearInterval(renew);
      await deps.caps.releaseRunning(record.userId, record.id);
    }
  };
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
