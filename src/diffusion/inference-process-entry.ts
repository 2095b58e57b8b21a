/**
 * The inference process: owns one pipeline and runs jobs sent by InferenceProcess, one at a time.
 * It ends when its parent asks (close), when the parent goes away (the IPC channel closes), or when it is
 * killed at a job's deadline.
 */
import type { FromWorker, SerializedError, StartData, ToWorker } from './inference-process-protocol.js';
import { DiffusionPipeline } from './pipeline.js';
import { runJob } from './run-job.js';

if (!process.send) throw new Error('inference-process-entry must run as a child process with an IPC channel');

function serialize(error: unknown): SerializedError {
  if (error instanceof Error) {
    const code = (error as { code?: unknown }).code;
    return { name: error.name, message: error.message, ...(typeof code === 'string' ? { code } : {}) };
  }
  return { name: 'Error', message: String(error) };
}

/** Sends a message; resolves once it is handed to the channel, so exiting after it cannot drop it. */
const post = (message: FromWorker) =>
  new Promise<void>((resolve) => {
    if (!process.connected) return resolve();
    process.send?.(message, undefined, undefined, () => resolve());
  });

const exit = (code: number) => {
  process.disconnect?.();
  process.exit(code);
};

// An orphan would hold the model's memory (and a core) with nobody to serve.
process.on('disconnect', () => process.exit(0));

process.once('message', (message: ToWorker) => {
  if (message.type !== 'start') return exit(1);
  void start(message.data);
});

async function start(data: StartData): Promise<void> {
  // A model that does not load is reported once, as a message, and the process then ends on its own.
  const pipeline = await DiffusionPipeline.fromPretrained(data.modelDir, data.options).catch(
    async (error: unknown) => {
      await post({ type: 'failed', error: serialize(error) });
      exit(1);
      return null;
    },
  );
  if (!pipeline) return;
  serve(pipeline, data);
  await post({ type: 'ready', defaults: pipeline.defaults });
}

function serve(pipeline: DiffusionPipeline, data: StartData): void {
  let queue = Promise.resolve();
  /** Jobs sent and not finished (queued or running), so a cancel can reach either. */
  const running = new Map<number, AbortController>();
  process.on('message', (message: ToWorker) => {
    if (message.type === 'start') return;
    if (message.type === 'usage') {
      void post({ type: 'usage', maxRssMb: process.resourceUsage().maxRSS / 1024 });
      return;
    }
    if (message.type === 'close') {
      queue = queue.then(async () => {
        await pipeline.dispose();
        await post({ type: 'closed' });
        exit(0);
      });
      return;
    }
    if (message.type === 'cancel') {
      running.get(message.id)?.abort();
      return;
    }
    const { id, job, inputs } = message;
    const controller = new AbortController();
    running.set(id, controller);
    queue = queue.then(async () => {
      try {
        const output = await runJob(pipeline, job, inputs, {
          modelName: data.modelName,
          modelDir: data.modelDir,
          onProgress: (progress) => void post({ type: 'progress', id, progress }),
          signal: controller.signal,
        });
        await post({ type: 'done', id, output });
      } catch (error) {
        await post({ type: 'error', id, error: serialize(error) });
      } finally {
        running.delete(id);
      }
    });
  });
}
