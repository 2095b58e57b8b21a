import type { JobDescription } from '../jobs/spec.js';
import type { Distillation } from '../model/config.js';
import { dimensionsFor } from '../model/dimensions.js';
import { DEFAULT_STEPS, stepsForQuality } from '../model/steps.js';
import { findBannedWords } from './banned-words.js';
import type { GuildPolicy } from './guild-policy.js';

export type PolicyRule =
  | 'weight-sum'
  | 'negative-floor'
  | 'banned-word'
  | 'max-steps'
  | 'max-size'
  | 'max-repeat'
  | 'max-jobs'
  | 'max-queued'
  | 'max-image-prompts'
  | 'max-text-parts';

export interface Violation {
  rule: PolicyRule;
  /** Written for the user: what is wrong and what to do instead. */
  message: string;
}

/** What the rules need to know beyond the job: the model's shape and the user's current load. */
export interface PolicyContext {
  /** The model's steps at `--q 1`. */
  baseSteps: number;
  /** The model family's distillation (ModelInfo's `distilled`); plain when not given. */
  distilled?: Distillation;
  /** The model's native square output, in pixels. */
  baseSize: number;
  /** Output sides are multiples of this. */
  sizeMultiple: number;
  /** Jobs this user already has waiting. */
  queued: number;
  /** Jobs this command would add (permutations times repeats). */
  jobCount: number;
}

export const DEFAULT_CONTEXT: Readonly<PolicyContext> = Object.freeze({
  baseSteps: DEFAULT_STEPS,
  baseSize: 512,
  sizeMultiple: 8,
  queued: 0,
  jobCount: 1,
});

/** Steps a job takes on the model (`distilled`: the model's family, so Turbo and LCM keep their ranges). */
export function stepsFor(job: JobDescription, baseSteps: number, distilled: Distillation = 'none'): number {
  return stepsForQuality(job.params.quality, baseSteps, distilled);
}

const show = (n: number) => String(Number(n.toPrecision(6)));

/** Judges a job against a server's policy; returns every violation (empty: allowed). */
export function evaluatePolicy(
  job: JobDescription,
  policy: GuildPolicy,
  context: Partial<PolicyContext> = {},
): Violation[] {
  const ctx = { ...DEFAULT_CONTEXT, ...context };
  const violations: Violation[] = [];

  if (policy.requirePositiveWeightSum && job.weightSum <= 0) {
    violations.push({
      rule: 'weight-sum',
      message:
        `The weights add up to ${show(job.weightSum)}; this server requires a sum above 0. ` +
        'Add or raise a positive part, e.g. `a city::1 logo::-0.5`. ' +
        '(An admin can allow it with `/policy set weight_sum_positive:False`.)',
    });
  }

  if (policy.minNormalizedWeight !== null) {
    const floor = policy.minNormalizedWeight;
    for (const prompt of job.prompts) {
      if (prompt.normalized < floor) {
        const name = prompt.kind === 'text' ? `"${prompt.text}"` : 'an image prompt';
        violations.push({
          rule: 'negative-floor',
          message:
            `${name} weighs ${show(prompt.normalized)} once the weights are normalized; this server allows ` +
            `no part below ${show(floor)}. Make it less negative or give the positive parts more weight.`,
        });
      }
    }
  }

  const texts = job.prompts.flatMap((p) => (p.kind === 'text' ? [p.text] : []));
  for (const match of findBannedWords(texts, policy.bannedWords)) {
    violations.push({
      rule: 'banned-word',
      message: `"${match.found}" is not allowed on this server (banned word: ${match.word}). Rephrase without it.`,
    });
  }

  const promptImages = job.prompts.filter((p) => p.kind === 'image').length;
  // Style references are fetched, decoded and encoded like image prompts: they count the same.
  const imageCount = promptImages + (job.params.sref?.length ?? 0);
  if (imageCount > policy.maxImagePrompts) {
    violations.push({
      rule: 'max-image-prompts',
      message: `This prompt has ${imageCount} images; this server allows at most ${policy.maxImagePrompts} per prompt. Use fewer image links.`,
    });
  }
  const textCount = job.prompts.length - promptImages;
  if (textCount > policy.maxTextParts) {
    violations.push({
      rule: 'max-text-parts',
      message:
        `This prompt has ${textCount} text parts (\`::\` parts and --no terms); this server allows at most ` +
        `${policy.maxTextParts}. Each part makes every step slower, so merge some of them.`,
    });
  }

  const steps = stepsFor(job, ctx.baseSteps, ctx.distilled);
  if (steps > policy.maxSteps) {
    violations.push({
      rule: 'max-steps',
      message: `--q ${job.params.quality} means ${steps} steps; this server allows at most ${policy.maxSteps}. Use a lower --q.`,
    });
  }

  const size = dimensionsFor(job.params.aspect, ctx.baseSize, ctx.sizeMultiple);
  const side = Math.max(size.width, size.height);
  if (side > policy.maxSide) {
    violations.push({
      rule: 'max-size',
      message:
        `--ar ${job.params.aspect.width}:${job.params.aspect.height} makes images ${size.width}x${size.height}; ` +
        `this server allows at most ${policy.maxSide} px a side. Use a squarer aspect ratio.`,
    });
  }

  if (job.params.repeat > policy.maxRepeat) {
    violations.push({
      rule: 'max-repeat',
      message: `--repeat ${job.params.repeat} is over this server's limit of ${policy.maxRepeat}.`,
    });
  }

  if (ctx.jobCount > policy.maxJobsPerCommand) {
    violations.push({
      rule: 'max-jobs',
      message: `This command would start ${ctx.jobCount} jobs; this server allows ${policy.maxJobsPerCommand} per command. Use fewer {…} options or a lower --repeat.`,
    });
  }

  if (ctx.queued + ctx.jobCount > policy.maxQueuedPerUser) {
    violations.push({
      rule: 'max-queued',
      message:
        `You have ${ctx.queued} job${ctx.queued === 1 ? '' : 's'} waiting and this would add ${ctx.jobCount}; ` +
        `this server allows ${policy.maxQueuedPerUser} waiting per user. Try again when some have finished.`,
    });
  }

  return violations;
}
