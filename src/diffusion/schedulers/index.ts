import type { SchedulerConfig } from '../../model/config.js';
import { DdimScheduler } from './ddim.js';
import { DpmSolverMultistepScheduler } from './dpmpp-2m.js';
import { EulerAncestralScheduler } from './euler-ancestral.js';
import type { Scheduler } from './scheduler.js';

export type { Scheduler, StepResult } from './scheduler.js';

export const SCHEDULERS = ['dpmpp-2m-karras', 'euler-ancestral', 'ddim'] as const;
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
 * 'DDIM', 'DDIMScheduler', 'ddim', 'EulerAncestralDiscreteScheduler'), by the prefix of the name in lower
 * case without punctuation, as diffusers' `_compatibles` lists which schedulers stand in for which.
 * Every other name (DPMSolverMultistepScheduler, PNDMScheduler, none) gets DPM-Solver++(2M) Karras.
 */
const CONFIG_NAMES: readonly (readonly [prefix: string, scheduler: SchedulerName])[] = [
  ['ddim', 'ddim'],
  ['eulera', 'euler-ancestral'],
];

export function schedulerFromConfigName(name: string | null): SchedulerName {
  const key = (name ?? '').toLowerCase().replace(/[^a-z0-9]/g, '');
  return CONFIG_NAMES.find(([prefix]) => key.startsWith(prefix))?.[1] ?? 'dpmpp-2m-karras';
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
  }
}
