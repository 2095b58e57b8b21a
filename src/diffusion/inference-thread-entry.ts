/** The inference thread: owns one pipeline and runs jobs sent by InferenceThread, one at a time. */
import { parentPort, workerData } from 'node:worker_threads';
import type { FromWorker, SerializedError, ToWorker, WorkerData } from './inference-thread-protocol.js';
import { DiffusionPipeline } from './pipeline.js';
import { runJob } from './run-job.js';

if (!parentPort) throw new Error('inference-thread-entry must run in a worker thread');
const port = parentPort;
const data = workerData as WorkerData;

function serialize(error: unknown): SerializedError {
  if (error instanceof Error) {
    const code = (error as { code?: unknown }).code;
    return { name: error.name, message: error.message, ...(typeof code === 'string' ? { code } : {}) };
  }
  return { name: 'Error', message: String(error) };
}

const post = (message: FromWorker, transfer: ArrayBuffer[] = []) => port.postMessage(message, transfer);

// A model that does not load is reported once, as a message, and the thread then ends on its own: an
// uncaught throw here would race the message with an 'error' event carrying a plain, untyped Error.
const pipeline = await DiffusionPipeline.fromPretrained(data.modelDir, data.options).catch((error) => {
  post({ type: 'failed', error: serialize(error) });
  port.close();
  return null;
});
if (pipeline) {
  post({ type: 'ready', defaults: pipeline.defaults });
  serve(pipeline);
}

function serve(pipeline: DiffusionPipeline): void {
  let queue = Promise.resolve();
  /** Jobs sent and not finished (queued or running), so a cancel can reach either. */
  const running = new Map<number, AbortController>();
  port.on('message', (message: ToWorker) => {
    if (message.type === 'close') {
      queue = queue.then(async () => {
        await pipeline.dispose();
        post({ type: 'closed' });
        port.close();
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
          onProgress: (progress) => post({ type: 'progress', id, progress }),
          signal: controller.signal,
        });
        const pngs = output.type === 'images' ? [output.grid, ...output.images.map((i) => i.png)] : [];
        const buffers = pngs.filter((b): b is Uint8Array => b !== null).map((b) => b.buffer as ArrayBuffer);
        post({ type: 'done', id, output }, [...new Set(buffers)]);
      } catch (error) {
        post({ type: 'error', id, error: serialize(error) });
      } finally {
        running.delete(id);
      }
    });
  });
}
