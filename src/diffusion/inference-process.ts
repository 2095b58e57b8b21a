/**
 * Inference off the event loop: a child process that owns the pipeline, so the queue worker's event loop
 * (job locks, heartbeats) never waits on a denoising step. Jobs run one at a time in the child.
 *
 * A process, not a worker thread: a job past its deadline has to be stopped in the middle of an ONNX Runtime
 * call, and ending a worker thread while onnxruntime-node's run is in flight aborts the whole Node process
 * ("terminate called after throwing an instance of 'Napi::Error'"). Killing a child is always safe, and a
 * native crash in the engine (or running out of memory) takes down only the child, whose jobs then fail over.
 *
 * The child loads TypeScript through tsx when this module itself runs as TypeScript (tsx, jest), and the
 * compiled .js next to it otherwise.
 */
import { type ChildProcess, fork } from 'node:child_process';
import { createRequire } from 'node:module';
import { basename } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { ImageInputError, type ImageInputErrorCode } from '../images/errors.js';
import type { JobDescription } from '../jobs/spec.js';
import { UnknownDeviceError } from './backend.js';
import type { FromWorker, SerializedError, StartData, ToWorker } from './inference-process-protocol.js';
import type { JobInputs } from './job-request.js';
import type { ModelDefaults, PipelineOptions } from './pipeline.js';
import { GenerationRequestError } from './request.js';
import type { JobOutput, JobProgress } from './run-job.js';

export class InferenceProcessError extends Error {
  override readonly name = 'InferenceProcessError';
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
  const revived = new InferenceProcessError(error.message);
  Object.defineProperty(revived, 'name', { value: error.name });
  return revived;
}

interface Pending {
  resolve: (output: JobOutput) => void;
  reject: (error: Error) => void;
  onProgress: ((progress: JobProgress) => void) | undefined;
}

/** How to start the entry: the compiled .js with plain node, or the .ts source through tsx's loader. */
function entryOf(): { path: string; execArgv: string[] } {
  const typescript = import.meta.url.endsWith('.ts');
  const path = fileURLToPath(
    new URL(typescript ? './inference-process-entry.ts' : './inference-process-entry.js', import.meta.url),
  );
  if (!typescript) return { path, execArgv: [] };
  // tsx's "." export is its loader module; resolved from here so the child finds it from any cwd.
  const loader = createRequire(import.meta.url).resolve('tsx');
  return { path, execArgv: ['--import', pathToFileURL(loader).href] };
}

function exitedWith(code: number | null, signal: NodeJS.Signals | null, when = ''): InferenceProcessError {
  return new InferenceProcessError(
    `inference process exited with ${signal ? `signal ${signal}` : `code ${code}`}${when}`,
  );
}

export class InferenceProcess {
  private nextId = 1;
  private readonly pending = new Map<number, Pending>();
  private readonly usageWaiters: { resolve: (maxRssMb: number) => void; reject: (error: Error) => void }[] =
    [];
  private closing: Promise<void> | null = null;
  private exited: InferenceProcessError | null = null;
  private readonly ended: Promise<void>;

  private constructor(
    private readonly child: ChildProcess,
    readonly defaults: ModelDefaults,
  ) {
    child.on('message', (message: FromWorker) => this.onMessage(message));
    child.on('error', (error) => this.failAll(error));
    this.ended = new Promise((resolve) => {
      const onExit = (code: number | null, signal: NodeJS.Signals | null) => {
        this.exited = exitedWith(code, signal);
        this.failAll(this.exited);
        resolve();
      };
      if (child.exitCode !== null || child.signalCode !== null) onExit(child.exitCode, child.signalCode);
      else child.once('exit', onExit);
    });
  }

  /** False once the process has ended (crashed, killed or closed): nothing more can run on it. */
  get alive(): boolean {
    return this.exited === null && this.closing === null;
  }

  /** The child's process id (for measuring its memory from outside). */
  get pid(): number | undefined {
    return this.child.pid;
  }

  /**
   * Ends the process at once, in the middle of a step if need be (a job past its deadline); its jobs fail
   * with InferenceProcessError. The native memory of its sessions goes with the process.
   */
  async terminate(): Promise<void> {
    if (this.exited === null) this.child.kill('SIGKILL');
    await this.ended;
  }

  static async start(
    modelDir: string,
    options: PipelineOptions & { modelName?: string } = {},
  ): Promise<InferenceProcess> {
    const { modelName, ...pipelineOptions } = options;
    const data: StartData = {
      modelDir,
      modelName: modelName ?? basename(modelDir),
      options: pipelineOptions,
    };
    const entry = entryOf();
    // 'advanced' serialization carries typed arrays (images, PNGs) as binary, not as JSON number lists.
    const child = fork(entry.path, [], {
      execArgv: entry.execArgv,
      serialization: 'advanced',
      stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
    });
    const defaults = await new Promise<ModelDefaults>((resolve, reject) => {
      const onExit = (code: number | null, signal: NodeJS.Signals | null) =>
        reject(exitedWith(code, signal, ' while loading'));
      const onMessage = (message: FromWorker) => {
        if (message.type === 'ready') resolve(message.defaults);
        else if (message.type === 'failed') reject(revive(message.error));
        else return;
        done();
      };
      const done = () => {
        child.off('message', onMessage);
        child.off('error', reject);
        child.off('exit', onExit);
      };
      child.on('message', onMessage);
      child.on('error', reject);
      child.on('exit', onExit);
      child.send({ type: 'start', data } satisfies ToWorker);
    }).catch((error: unknown) => {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
      throw error;
    });
    return new InferenceProcess(child, defaults);
  }

  /** Runs a job in the inference process; aborting `signal` stops it between denoising steps. */
  run(
    job: JobDescription,
    inputs: JobInputs,
    onProgress?: (progress: JobProgress) => void,
    signal?: AbortSignal,
  ): Promise<JobOutput> {
    if (this.closing) return Promise.reject(new InferenceProcessError('the worker is closed'));
    // Sending to an ended process would wait forever for an answer.
    if (this.exited) return Promise.reject(this.exited);
    if (signal?.aborted) return Promise.reject(signal.reason);
    const id = this.nextId++;
    return new Promise<JobOutput>((resolve, reject) => {
      this.pending.set(id, { resolve, reject, onProgress });
      this.send({ type: 'run', id, job, inputs });
      const cancel = () => this.send({ type: 'cancel', id });
      signal?.addEventListener('abort', cancel, { once: true });
    });
  }

  /** The child's peak resident memory so far, in MiB. */
  peakRssMb(): Promise<number> {
    if (this.exited) return Promise.reject(this.exited);
    return new Promise((resolve, reject) => {
      this.usageWaiters.push({ resolve, reject });
      this.send({ type: 'usage' });
    });
  }

  /** Finishes queued jobs, releases the sessions and ends the process. */
  close(): Promise<void> {
    if (!this.closing) {
      if (!this.exited) this.send({ type: 'close' });
      this.closing = this.ended;
    }
    return this.closing;
  }

  /** A send can race the child's exit; the exit handler then fails whatever was waiting. */
  private send(message: ToWorker): void {
    if (!this.child.connected) return;
    this.child.send(message, (error) => {
      if (error) this.child.kill('SIGKILL');
    });
  }

  private onMessage(message: FromWorker): void {
    if (message.type === 'progress') this.pending.get(message.id)?.onProgress?.(message.progress);
    if (message.type === 'usage') this.usageWaiters.shift()?.resolve(message.maxRssMb);
    if (message.type === 'done' || message.type === 'error') {
      const pending = this.pending.get(message.id);
      this.pending.delete(message.id);
      if (message.type === 'done') pending?.resolve(message.output);
      else pending?.reject(revive(message.error));
    }
  }

  private failAll(error: Error): void {
    for (const pending of [...this.pending.values(), ...this.usageWaiters]) pending.reject(error);
    this.pending.clear();
    this.usageWaiters.length = 0;
  }
}
