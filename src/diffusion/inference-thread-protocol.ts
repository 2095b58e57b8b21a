/** Messages between InferenceThread (main thread) and inference-thread-entry (inference thread). */
import type { JobDescription } from '../jobs/spec.js';
import type { JobInputs } from './job-request.js';
import type { ModelDefaults, PipelineOptions } from './pipeline.js';
import type { JobOutput, JobProgress } from './run-job.js';

export interface WorkerData {
  modelDir: string;
  modelName: string;
  options: Omit<PipelineOptions, 'device'> & { device?: string };
}

export type ToWorker =
  | { type: 'run'; id: number; job: JobDescription; inputs: JobInputs }
  | { type: 'cancel'; id: number }
  | { type: 'close' };

export interface SerializedError {
  name: string;
  message: string;
  code?: string;
}

export type FromWorker =
  | { type: 'ready'; defaults: ModelDefaults }
  | { type: 'failed'; error: SerializedError }
  | { type: 'progress'; id: number; progress: JobProgress }
  | { type: 'done'; id: number; output: JobOutput }
  | { type: 'error'; id: number; error: SerializedError }
  | { type: 'closed' };
