/** Messages between InferenceProcess (the queue worker) and inference-process-entry (its child process). */
import type { JobDescription } from '../jobs/spec.js';
import type { JobInputs } from './job-request.js';
import type { ModelDefaults, PipelineOptions } from './pipeline.js';
import type { JobOutput, JobProgress } from './run-job.js';

export interface StartData {
  modelDir: string;
  modelName: string;
  options: Omit<PipelineOptions, 'device'> & { device?: string };
}

export type ToWorker =
  | { type: 'start'; data: StartData }
  | { type: 'run'; id: number; job: JobDescription; inputs: JobInputs }
  | { type: 'cancel'; id: number }
  | { type: 'usage' }
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
  | { type: 'usage'; maxRssMb: number }
  | { type: 'closed' };
