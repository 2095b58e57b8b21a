import { readFileSync } from 'node:fs';
import { DdimScheduler } from '../../src/diffusion/schedulers/ddim.js';
import {
  createScheduler,
  guidanceScaleEmbedding,
  parseSchedulerName,
  SCHEDULERS,
  schedulerForModel,
  schedulerFromConfigName,
  UnknownSchedulerError,
} from '../../src/diffusion/schedulers/index.js';
import { boundaryScalings, lcmTimesteps } from '../../src/diffusion/schedulers/lcm.js';
import { schedulerConfigSchema } from '../../src/model/config.js';

/** Reference trajectories written by scripts/make-scheduler-fixtures.py (numpy, diffusers' formulas). */
interface Case {
  scheduler: 'ddim' | 'euler-ancestral' | 'dpmpp-2m-karras' | 'euler' | 'lcm';
  eta?: number;
  config: Record<string, unknown>;
  steps: number;
  timesteps: number[];
  sigmas?: number[];
  init_noise_sigma: number;
  trajectory: number[][];
  /** Euler and LCM: the clean estimate of every step (LCM: the boundary-conditioned `denoised`). */
  pred_original?: number[][];
  /** LCM: [c_skip, c_out] of every step. */
  scalings?: [number, number][];
  add_noise: { index: number; result: number[] };
}
const fixture = JSON.parse(readFileSync(new URL('../fixtures/schedulers.json', import.meta.url), 'utf8')) as {
  sample: number[];
  noises: number[][];
  ramp: number[];
  clean: number[];
  cases: Case[];
  lcm_guidance_embeddings: { guidance_scale: number; dim: number; embedding: number[] }[];
};

function toyModel(x: Float32Array, t: number): Float32Array {
  return x.map((v, i) => 0.5 * v + 0.01 * (t / 1000) * fixture.ramp[i]!);
}

function label(c: Case): string {
  const cfg = c.config;
  const lcm =
    c.scheduler === 'lcm' ? ` N=${cfg['original_inference_steps']} x${cfg['timestep_scaling']}` : '';
  return `${c.scheduler}${c.eta ? ' eta=1' : ''}${lcm} ${cfg['timestep_spacing']}+${cfg['steps_offset']} ${cfg['prediction_type']} ${cfg['beta_schedule']} ${c.steps} steps`;
}

function expectClose(actual: ArrayLike<number>, expected: readonly number[], tolerance: number) {
  expect(actual.length).toBe(expected.length);
  for (let i = 0; i < expected.length; i++) {
    const e = expected[i]!;
    expect(Math.abs(actual[i]! - e)).toBeLessThanOrEqual(tolerance * Math.max(1, Math.abs(e)));
  }
}

describe.each(fixture.cases.map((c) => [label(c), c] as const))('%s', (_name, c) => {
  const config = schedulerConfigSchema.parse(c.config);
  const scheduler =
    c.scheduler === 'ddim'
      ? new DdimScheduler(config, c.steps, c.eta ?? 0)
      : createScheduler(c.scheduler, config, c.steps);

  test('timesteps, sigmas and initial noise scale match the reference', () => {
    expectClose(scheduler.timesteps, c.timesteps, 1e-9);
    if (c.sigmas) expectClose((scheduler as unknown as { sigmas: number[] }).sigmas, c.sigmas, 1e-9);
    expect(scheduler.initNoiseSigma).toBeCloseTo(c.init_noise_sigma, 9);
  });

  test('a full trajectory with a toy model matches the reference', () => {
    let x: Float32Array = Float32Array.from(fixture.sample, (v) => v * scheduler.initNoiseSigma);
    scheduler.timesteps.forEach((t, i) => {
      const out = toyModel(scheduler.scaleModelInput(x, i), t);
      const step = scheduler.step(out, i, x, () => Float32Array.from(fixture.noises[i]!));
      x = step.prevSample;
      // float32 latents against a float64 reference: relative error stays at float32 rounding level.
      expectClose(x, c.trajectory[i]!, 2e-5);
      if (c.pred_original) expectClose(step.predOriginal, c.pred_original[i]!, 2e-5);
    });
  });

  test('cleanCoefficients give the clean estimate each step reports', () => {
    // a fresh sampler: DPM++ 2M keeps the previous step's estimate
    const fresh =
      c.scheduler === 'ddim'
        ? new DdimScheduler(config, c.steps, c.eta ?? 0)
        : createScheduler(c.scheduler, config, c.steps);
    let x: Float32Array = Float32Array.from(fixture.sample, (v) => v * fresh.initNoiseSigma);
    fresh.timesteps.forEach((t, i) => {
      const out = toyModel(fresh.scaleModelInput(x, i), t);
      const { sample, output } = fresh.cleanCoefficients(i);
      expect(output).not.toBe(0);
      const step = fresh.step(out, i, x, () => Float32Array.from(fixture.noises[i]!));
      const linear = Array.from(x, (v, j) => sample * v + output * out[j]!);
      expectClose(step.predOriginal, linear, 1e-5);
      x = step.prevSample;
    });
  });
});

describe.each(fixture.cases.map((c) => [label(c), c] as const))('img2img noising: %s', (_name, c) => {
  test('addNoise at the middle step matches the reference', () => {
    const config = schedulerConfigSchema.parse(c.config);
    const scheduler =
      c.scheduler === 'ddim'
        ? new DdimScheduler(config, c.steps)
        : createScheduler(c.scheduler, config, c.steps);
    const noised = scheduler.addNoise(
      Float32Array.from(fixture.clean),
      Float32Array.from(fixture.noises[0]!),
      c.add_noise.index,
    );
    expectClose(noised, c.add_noise.result, 2e-6);
  });
});

describe('LCM', () => {
  const lcmCases = fixture.cases.filter((c) => c.scheduler === 'lcm');

  test.each(lcmCases.map((c) => [label(c), c] as const))('boundary scalings: %s', (_name, c) => {
    const config = schedulerConfigSchema.parse(c.config);
    c.timesteps.forEach((t, i) => {
      const { cSkip, cOut } = boundaryScalings(t, config.timestep_scaling);
      expect(cSkip).toBeCloseTo(c.scalings![i]![0], 12);
      expect(cOut).toBeCloseTo(c.scalings![i]![1], 12);
    });
  });

  test("LCM_Dreamshaper_v7's 4 steps are 999, 759, 499, 259 and the last step draws no noise", () => {
    const config = schedulerConfigSchema.parse({ original_inference_steps: 50 });
    expect(lcmTimesteps(config, 4)).toEqual([999, 759, 499, 259]);
    const scheduler = createScheduler('lcm', config, 4);
    let draws = 0;
    const x = new Float32Array(4).fill(0.3);
    for (let i = 0; i < 4; i++)
      scheduler.step(x, i, x, () => {
        draws += 1;
        return new Float32Array(4);
      });
    expect(draws).toBe(3);
    expect(scheduler.stochastic).toBe(true);
  });

  test('more steps than original_inference_steps is a RangeError, as in diffusers', () => {
    const config = schedulerConfigSchema.parse({ original_inference_steps: 50 });
    expect(() => createScheduler('lcm', config, 51)).toThrow(RangeError);
    expect(() => createScheduler('lcm', config, 0)).toThrow(/1\.\.50/);
  });

  test.each(fixture.lcm_guidance_embeddings.map((e) => [e.guidance_scale, e.dim, e] as const))(
    'guidance embedding w=%s dim=%s matches the float32 numpy reference',
    (_w, _d, e) => {
      const embedding = guidanceScaleEmbedding(e.guidance_scale, e.dim);
      expect(embedding).toHaveLength(e.dim);
      // sin/cos of angles up to 7500 rad in float32: one ulp of the angle is ~5e-4.
      expectClose(embedding, e.embedding, 2e-3);
    },
  );
});

describe('scheduler names in model folders', () => {
  test.each([
    ['LCMScheduler', 'lcm'],
    ['EulerDiscreteScheduler', 'euler'],
    ['Euler', 'euler'],
    ['EulerAncestralDiscreteScheduler', 'euler-ancestral'],
    ['Euler a', 'euler-ancestral'],
    ['DDIMScheduler', 'ddim'],
    ['PNDMScheduler', 'dpmpp-2m-karras'],
    ['DPMSolverMultistepScheduler', 'dpmpp-2m-karras'],
    [null, 'dpmpp-2m-karras'],
  ] as const)('%s runs %s', (name, scheduler) => {
    expect(schedulerFromConfigName(name)).toBe(scheduler);
  });

  test("a folder's model_index default wins over its scheduler_config class", () => {
    const defaults = { steps: null, guidanceScale: null, scheduler: null };
    expect(schedulerForModel({ defaults, schedulerClass: 'LCMScheduler' })).toBe('lcm');
    expect(
      schedulerForModel({ defaults: { ...defaults, scheduler: 'DDIM' }, schedulerClass: 'LCMScheduler' }),
    ).toBe('ddim');
    expect(schedulerForModel({ defaults, schedulerClass: null })).toBe('dpmpp-2m-karras');
  });

  test('every registered scheduler is created and has the sampler interface', () => {
    const config = schedulerConfigSchema.parse({});
    for (const name of SCHEDULERS) {
      const s = createScheduler(name, config, 4);
      expect(s.timesteps).toHaveLength(4);
      expect(parseSchedulerName(name)).toBe(name);
    }
  });
});

test('an unknown scheduler name is an error that lists the valid ones', () => {
  expect(() => parseSchedulerName('plms')).toThrow(UnknownSchedulerError);
  expect(() => parseSchedulerName('plms')).toThrow(/dpmpp-2m-karras, euler-ancestral, ddim/);
});
