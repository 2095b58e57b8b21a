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
