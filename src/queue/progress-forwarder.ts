import type { Job } from 'bullmq';
import type { Logger } from 'pino';
import type { WorkerMetrics } from '../metrics/registry.js';
import type { ProgressData } from './queues.js';
import type { RenderProgress } from './renderer.js';

/**
 * Sends a render's progress to the bot through BullMQ (a Redis stream the bot follows), every event as
 * it comes (previews are already paced where they are made); times each denoising step for metrics.
 */
export function progressForwarder(
  job: Job,
  options: { metrics: WorkerMetrics | undefined; log: Logger },
): (progress: RenderProgress) => void {
  let lastStep = performance.now();
  return (progress) => {
    const now = performance.now();
    if (progress.stage === 'denoise') {
      if (progress.step > 1) options.metrics?.stepSeconds.observe((now - lastStep) / 1000);
      lastStep = now;
    }
    const data: ProgressData = { stage: progress.stage, step: progress.step, total: progress.total };
    if (progress.preview) data.preview = progress.preview.toString('base64');
    job
      .updateProgress(data as unknown as object)
      .catch((error) => options.log.debug({ err: error }, 'progress lost'));
  };
}
