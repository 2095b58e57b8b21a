import { InferenceProcess } from '../diffusion/inference-process.js';
import { GenerationRequestError } from '../diffusion/request.js';
import { ImageInputError } from '../images/errors.js';
import { engineTaskOf } from '../jobs/kinds.js';
import type { JobRecord } from '../store/job-records.js';
import {
  BadInputError,
  DeadlineError,
  type RenderedJob,
  type Renderer,
  type RenderProgress,
} from './renderer.js';

export interface EngineRendererOptions {
  modelDir: string;
  device: 'cpu' | 'cuda';
  threads: number;
}

/**
 * The queue's Renderer on the diffusion engine. The engine runs in its own child process
 * (InferenceProcess), so this process's event loop keeps BullMQ's lock renewals going while a job
 * denoises. A process that died (its job fails and is retried) or was killed at a deadline is replaced
 * before the next job.
 */
export async function createEngineRenderer(options: EngineRendererOptions): Promise<Renderer> {
  const start = () =>
    InferenceProcess.start(options.modelDir, {
      device: options.device,
      ...(options.threads > 0 ? { threads: options.threads } : {}),
    });
  let engine = await start();
  const current = async () => {
    if (!engine.alive) engine = await start();
    return engine;
  };
  return {
    warnings: engine.defaults.warnings,
    async render(
      record: JobRecord,
      inputs: ReadonlyMap<string, Buffer>,
      onProgress: (p: RenderProgress) => void,
      signal?: AbortSignal,
    ): Promise<RenderedJob> {
      const child = await current();
      let output: Awaited<ReturnType<InferenceProcess['run']>>;
      const stop = () => void child.terminate();
      signal?.addEventListener('abort', stop, { once: true });
      try {
        if (signal?.aborted) throw signal.reason;
        const task = engineTaskOf(record.kind);
        output = await child.run(
          record.description,
          { task, images: Object.fromEntries(inputs) },
          (progress) =>
            onProgress({
              stage: progress.stage,
              step: progress.step,
              total: progress.total,
              ...(progress.preview ? { preview: Buffer.from(progress.preview) } : {}),
            }),
        );
      } catch (error) {
        if (signal?.aborted)
          throw new DeadlineError(String((signal.reason as Error)?.message ?? signal.reason));
        if (error instanceof ImageInputError || error instanceof GenerationRequestError)
          throw new BadInputError(error.message);
        throw error;
      } finally {
        signal?.removeEventListener('abort', stop);
      }
      if (output.type === 'text') return { type: 'text', lines: output.lines, notes: output.notes };
      const images = [...output.images]
        .sort((a, b) => a.index - b.index)
        .map((image) => Buffer.from(image.png));
      return {
        type: 'images',
        grid: output.grid ? Buffer.from(output.grid) : null,
        images,
        width: output.width,
        height: output.height,
        contentWidth: output.contentWidth,
        contentHeight: output.contentHeight,
        notes: output.notes,
      };
    },
    close: () => (engine.alive ? engine.close() : Promise.resolve()),
  };
}
