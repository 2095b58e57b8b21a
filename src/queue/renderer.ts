import type { Progress } from '../jobs/progress.js';
import type { JobRecord } from '../store/job-records.js';

/** What a worker reports while it renders; `preview` is a small PNG of the grid forming. */
export type RenderProgress = Progress<Buffer>;

/** What a render made: images, or text (a /describe's prompts). */
export type RenderedJob = RenderedImages | RenderedText;

export interface RenderedImages {
  type: 'images';
  /** The 2x2 grid (absent for an upscale, which is one image). */
  grid: Buffer | null;
  /** PNGs of the single images, in grid order. */
  images: Buffer[];
  width: number;
  height: number;
  /** The images' own size, before display resampling. */
  contentWidth: number;
  contentHeight: number;
  /** Things the user should know, e.g. that an image prompt became an init image on this model. */
  notes: string[];
}

export interface RenderedText {
  type: 'text';
  lines: string[];
  notes: string[];
}

/** The model, as the queue worker sees it. Implemented over the diffusion engine in src/queue/engine-renderer.ts. */
export interface Renderer {
  /** Aborting `signal` stops the render at once (the engine's thread is replaced) with DeadlineError. */
  render(
    record: JobRecord,
    inputs: ReadonlyMap<string, Buffer>,
    onProgress: (progress: RenderProgress) => void,
    signal?: AbortSignal,
  ): Promise<RenderedJob>;
  close(): Promise<void>;
  /** What the host should know about the loaded model (logged once at start). */
  readonly warnings?: readonly string[];
}

/** A render stopped because it ran past its deadline: not retried, the user is told why. */
export class DeadlineError extends Error {
  override readonly name = 'DeadlineError';
}

/** Input that can never render (not an image, too large...): the job fails at once, without retries. */
export class BadInputError extends Error {
  override readonly name = 'BadInputError';
}
