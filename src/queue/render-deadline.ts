/**
 * How long a render may take. Each worker learns its own speed from the jobs it finishes (seconds per
 * unit of UNet work: rows x steps x area), and gives a job a few times what it should take. Until it has
 * measured anything, and never beyond, the server's `maxRenderSeconds` applies.
 */

import { variationParent } from '../jobs/parents.js';
import type { JobDescription } from '../jobs/spec.js';
import { fitStyle, styleLinksOf } from '../jobs/style.js';
import type { Distillation, GuidanceMode } from '../model/config.js';
import { dimensionsFor } from '../model/dimensions.js';
import { unetRowsPerImage } from '../model/guidance-rows.js';
import { stepsForQuality } from '../model/steps.js';

/** A job may take this many times its expected time... */
export const DEADLINE_FACTOR = 4;
/** ...plus this much for what does not scale with the work (thread start, decoding, PNGs)... */
export const DEADLINE_SLACK_SECONDS = 5;
/** ...and never less than this. */
export const MIN_DEADLINE_SECONDS = 10;

export interface ModelShape {
  baseSteps: number;
  /** The model family's distillation (ModelInfo's `distilled`); plain when not given. */
  distilled?: Distillation;
  /** How the model takes guidance (ModelInfo's `guidance`); classifier-free when not given. */
  guidance?: GuidanceMode;
  baseSize: number;
  sizeMultiple: number;
  /** The style guidance row's weight (ModelInfo's `styleGuidance`): above 0, a job with a style runs one more row. */
  styleGuidance?: number;
  /** The model's styles (ModelInfo's), to tell which of a job's style parameters the engine will use. */
  styles?: readonly string[];
  styleReference?: boolean;
  /** ModelInfo's `chooseStartsAt`: a fresh grid runs twice the images up to this fraction of the steps. */
  chooseStartsAt?: number | null;
}

/**
 * UNet work of a job, in units of one row of one step at the model's native size. A grid of four runs
 * one row per non-zero prompt part per image per step, plus the unconditional row where the model needs
 * it (the engine's own rule; a guidance-distilled folder is taken at its usual guidance scale of 1), and
 * the style guidance row for a job with a style on a folder that has one; an upscale is one pass. A fresh
 * grid on a folder that chooses among starts runs eight images up to the choosing step (the engine skips
 * choosing for variations, canvas jobs and `--tile`, which start from or keep an image).
 */
export function workUnits(job: JobDescription, model: ModelShape): number {
  if (job.parents.some((p) => p.role === 'upscale')) return 1;
  const size = dimensionsFor(job.params.aspect, model.baseSize, model.sizeMultiple);
  const area = (size.width * size.height) / (model.baseSize * model.baseSize);
  const steps =
    stepsForQuality(job.params.quality, model.baseSteps, model.distilled) *
    Math.min(1, Math.max(0.01, job.params.stop / 100));
  const rows = unetRowsPerImage(
    model.guidance ?? 'cfg',
    job.prompts.map((p) => p.normalized),
    1,
  );
  return 4 * (rows + styleRows(job, model)) * steps * choosingFactor(job, model) * area;
}

/** 1 + the choosing fraction for a job the engine will run with two starts per image, else 1. */
function choosingFactor(job: JobDescription, model: ModelShape): number {
  const at = model.chooseStartsAt ?? null;
  if (at === null || job.params.tile || job.canvas) return 1;
  if (variationParent(job)) return 1;
  return 1 + at;
}

/** 1 when the engine will add the style guidance row: the folder has one and the job a style it can use. */
function styleRows(job: JobDescription, model: ModelShape): number {
  if ((model.styleGuidance ?? 0) <= 0) return 0;
  const fitted = fitStyle(job, { styles: model.styles ?? [], styleReference: model.styleReference ?? false });
  const styled = fitted.params.style !== null || styleLinksOf(fitted).length > 0;
  return styled && fitted.params.sw !== 0 ? 1 : 0;
}

export class WorkRate {
  private secondsPerUnit: number | null = null;

  /** Learns from a finished job (a moving average, so one slow job does not set the pace). */
  observe(units: number, seconds: number): void {
    if (!(units > 0) || !(seconds > 0)) return;
    const rate = seconds / units;
    this.secondsPerUnit = this.secondsPerUnit === null ? rate : 0.7 * this.secondsPerUnit + 0.3 * rate;
  }

  /** Seconds the job may run. */
  deadlineSeconds(units: number, maxSeconds: number): number {
    if (this.secondsPerUnit === null) return maxSeconds;
    const expected = this.secondsPerUnit * units;
    const allowed = DEADLINE_FACTOR * expected + DEADLINE_SLACK_SECONDS;
    return Math.min(maxSeconds, Math.max(MIN_DEADLINE_SECONDS, allowed));
  }
}

/**
 * The signal a render stops on: its deadline passing, or BullMQ cancelling the job (`cancelled`, the
 * processor's own signal). `clear` stops the timer once the render is over.
 */
export function renderDeadline(
  seconds: number,
  cancelled?: AbortSignal,
): { signal: AbortSignal; clear(): void } {
  const deadline = new AbortController();
  const timer = setTimeout(
    () => deadline.abort(new Error(`past its deadline of ${Math.round(seconds)} s`)),
    seconds * 1000,
  );
  const signal = cancelled ? AbortSignal.any([deadline.signal, cancelled]) : deadline.signal;
  return { signal, clear: () => clearTimeout(timer) };
}
