/**
 * Inference off the event loop: a worker thread that owns the pipeline, so the queue worker's event loop
 * (job locks, heartbeats) never waits on a denoising step. Jobs run one at a time in the thread.
 *
 * The thread loads TypeScript through tsx when this module itself runs as TypeScript (tsx, jest), and the
 * compiled .js next to it otherwise.
 */
import { basename } from 'node:path';
import { Worker } from 'node:worker_threads';
import { ImageInputError, type ImageInputErrorCode } from '../images/errors.js';
import type { JobDescription } from '../jobs/spec.js';
import { UnknownDeviceError } from './backend.js';
import type { FromWorker, SerializedError, ToWorker, WorkerData } from './inference-thread-protocol.js';
import type { JobInputs } from './job-request.js';
import type { ModelDefaults, PipelineOptions } from './pipeline.js';
import { GenerationRequestError } from './request.js';
import type { JobOutput, JobProgress } from './run-job.js';

export class InferenceThreadError extends Error {
  override readonly name = 'InferenceThreadError';
}

/** Rebuilds the typed errors callers branch on (bad images, bad requests); others keep name and message. */
function revive(error: SerializedError): Error {
  if (error.name === 'ImageInputError')
    return new ImageInputError(error.code as ImageInputErrorCode, error.message);
  if (error.name === 'GenerationRequestError') return new GenerationRequestError(error.message);
  if (error.name === 'AbortError') return new DOMException(error.message, 'AbortError');
  if (error.name === 'UnknownDeviceError') {
    return new UnknownDeviceError(/unknown device "(.*)";/.exec(error.message)?.[1] ?? error.message);
  }
  const revived = new InferenceThreadError(error.message);
  Object.defineProperty(revived, 'name', { value: error.name });
  return revived;
}

interface Pending {
  resolve: (output: JobOutput) => void;
  reject: (error: Error) => void;
  onProgress: ((progress: JobProgress) => void) | undefined;
}

export class InferenceThread {
  private nextId = 1;
  private readonly pending = new Map<number, Pending>();
  private closing: Promise<void> | null = null;
  private exited: InferenceThreadError | null = null;

  private constructor(
    private readonly worker: Worker,
    readonly defaults: ModelDefaults,
  ) {
    worker.on('message', (message: FromWorker) => this.onMessage(message));
    worker.on('error', (error) => this.failAll(error));
    worker.on('exit', (code) => {
      this.exited = new InferenceThreadError(`inference thread exited with code ${code}`);
      this.failAll(this.exited);
    });
  }

  /** False once the thread has ended (crashed, terminated or closed): nothing more can run on it. */
  get alive(): boolean {
    return this.exited === null && this.closing === null;
  }

  /**
   * Ends the thread at once, in the middle of a step if need be (a job past its deadline); its jobs fail
   * with InferenceThreadError. Native memory of its sessions goes with the thread.
   */
  async terminate(): Promise<void> {
    await this.worker.terminate();
  }

  static async start(
    modelDir: string,
    options: PipelineOptions & { modelName?: string } = {},
  ): Promise<InferenceThread> {
    const typescript = import.meta.url.endsWith('.ts');
    const entry = new URL(
      typescript ? './inference-thread-entry.ts' : './inference-thread-entry.js',
      import.meta.url,
    );
    const { modelName, ...pipelineOptions } = options;
    const data: WorkerData = {
      modelDir,
      modelName: modelName ?? basename(modelDir),
      options: pipelineOptions,
    };
    // Under tsx, `--import tsx` in a thread's execArgv does not reach the thread's own entry module on
    // Node 20, so a tiny bootstrap registers tsx inside the thread first and then imports the entry.
    const worker = typescript
      ? new Worker(
          `import('tsx/esm/api').then((api) => { api.register(); return import(${JSON.stringify(entry.href)}); })`,
          { eval: true, workerData: data },
        )
      : new Worker(entry, { workerData: data });
    const defaults = await new Promise<ModelDefaults>((resolve, reject) => {
      const onMessage = (message: FromWorker) => {
        if (message.type === 'ready') resolve(message.defaults);
        else if (message.type === 'failed') reject(revive(message.error));
        else return;
        worker.off('message', onMessage);
        worker.off('error', reject);
      };
      worker.on('message', onMessage);
      worker.on('error', reject);
    }).catch(async (error: unknown) => {
      await worker.terminate();
      throw error;
    });
    return new InferenceThread(worker, defaults);
  }

  /** Runs a job in the inference thread; aborting `signal` stops it between denoising steps. */
  run(
    job: JobDescription,
    inputs: JobInputs,
    onProgress?: (progress: JobProgress) => void,
    signal?: AbortSignal,
  ): Promise<JobOutput> {
    if (this.closing) return Promise.reject(new InferenceThreadError('the worker is closed'));
    // Posting to an ended thread would wait forever for an answer.
    if (this.exited) return Promise.reject(this.exited);
    if (signal?.aborted) return Promise.reject(signal.reason);
    const id = this.nextId++;
    return new Promise<JobOutput>((resolve, reject) => {
      this.pending.set(id, { resolve, reject, onProgress });
      this.worker.postMessage({ type: 'run', id, job, inputs } satisfies ToWorker);
      const cancel = () => this.worker.postMessage({ type: 'cancel', id } satisfies ToWorker);
      signal?.addEventListener('abort', cancel, { once: true });
    });
  }

  /** Finishes queued jobs, releases the sessions and ends the thread. */
  close(): Promise<void> {
    this.closing ??= new Promise<void>((resolve) => {
      this.worker.once('exit', () => resolve());
      this.worker.postMessage({ type: 'close' } satisfies ToWorker);
    });
    return this.closing;
  }

  private onMessage(message: FromWorker): void {
    if (message.type === 'progress') this.pending.get(message.id)?.onProgress?.(message.progress);
    if (message.type === 'done' || message.type === 'error') {
      const pending = this.pending.get(message.id);
      this.pending.delete(message.id);
      if (message.type === 'done') pending?.resolve(message.output);
      else pending?.reject(revive(message.error));
    }
  }

  private failAll(error: Error): void {
    for (const pending of this.pending.values()) pending.reject(error);
    this.pending.clear();
  }
}
