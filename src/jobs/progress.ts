/**
 * Where a job is, on its way from the engine to the member: one shape at every hop, with `Preview` the
 * form the forming grid takes there (a lazy picture in the pipeline, PNG bytes out of the inference
 * thread, base64 on the queue).
 */
export type ProgressStage = 'encode' | 'denoise' | 'decode';

export interface Progress<Preview> {
  stage: ProgressStage;
  step: number;
  total: number;
  preview?: Preview;
}

/**
 * The one throttle on previews, applied where they are made (the inference process): at most one this
 * often, which also paces the message edits Discord allows an interaction. The hops after it forward
 * every event.
 */
export const PREVIEW_INTERVAL_MS = 1500;

/** Earlier estimates are mostly noise: the first preview waits for this fraction of the steps. */
export const FIRST_PREVIEW_FRACTION = 0.25;
