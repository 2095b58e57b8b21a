import type { ModelConfig, SchedulerConfig } from '../../model/config.js';
import { DdimScheduler } from './ddim.js';
import { DpmSolverMultistepScheduler } from './dpmpp-2m.js';
import { EulerScheduler } from './euler.js';
import { EulerAncestralScheduler } from './euler-ancestral.js';
import { LcmScheduler } from './lcm.js';
import type { Scheduler } from './scheduler.js';

export { guidanceScaleEmbedding } from './lcm.js';
export type { Scheduler, StepResult } from './scheduler.js';

export const SCHEDULERS = ['dpmpp-2m-karras', 'euler-ancestral', 'ddim', 'euler', 'lcm'] as const;
export type SchedulerName = (typeof SCHEDULERS)[number];

export class UnknownSchedulerError extends Error {
  override readonly name = 'UnknownSchedulerError';
  constructor(readonly scheduler: string) {
    super(`unknown scheduler "${scheduler}"; valid schedulers: ${SCHEDULERS.join(', ')}`);
  }
}

export function parseSchedulerName(name: string): SchedulerName {
  if ((SCHEDULERS as readonly string[]).includes(name)) return name as SchedulerName;
  throw new UnknownSchedulerError(name);
}

/**
 * Which sampler runs a scheduler named in a model folder (diffusers' class names, loosely spelled:
 * 'DDIM', 'DDIMScheduler', 'ddim', 'EulerAncestralDiscreteScheduler', 'EulerDiscreteScheduler', 'Euler',
 * 'LCMScheduler'), by the prefix of the name in lower case without punctuation, as diffusers' `_compatibles`
 * lists which schedulers stand in for which (first match wins, so 'eulera...' is ancestral before 'euler').
 * Every other name (DPMSolverMultistepScheduler, PNDMScheduler, none) gets DPM-Solver++(2M) Karras.
 */
const CONFIG_NAMES: readonly (readonly [prefix: string, scheduler: SchedulerName])[] = [
  ['ddim', 'ddim'],
  ['eulera', 'euler-ancestral'],
  ['euler', 'euler'],
  ['lcm', 'lcm'],
];

export function schedulerFromConfigName(name: string | null): SchedulerName {
  const key = (name ?? '').toLowerCase().replace(/[^a-z0-9]/g, '');
  return CONFIG_NAMES.find(([prefix]) => key.startsWith(prefix))?.[1] ?? 'dpmpp-2m-karras';
}

/**
 * The sampler a model folder picks for itself: model_index.json's default (`default_scheduler` /
 * `recommended.scheduler`) when it names one, else scheduler_config.json's `_class_name` (so an LCM folder
 * runs LCM, SD-Turbo Euler, SDXL-Turbo Euler ancestral with their trailing spacing).
 */
export function schedulerForModel(config: Pick<ModelConfig, 'defaults' | 'schedulerClass'>): SchedulerName {
  return schedulerFromConfigName(config.defaults.scheduler ?? config.schedulerClass);
}

/** A fresh sampler for one generation (multistep samplers keep state between steps). */
export function createScheduler(name: SchedulerName, config: SchedulerConfig, steps: number): Scheduler {
  switch (name) {
    case 'ddim':
      return new DdimScheduler(config, steps);
    case 'euler-ancestral':
      return new EulerAncestralScheduler(config, steps);
    case 'dpmpp-2m-karras':
      return new DpmSolverMultistepScheduler(config, steps);
    case 'euler':
      return new EulerScheduler(config, steps);
    case 'lcm':
      return new LcmScheduler(config, steps);
  }
}
