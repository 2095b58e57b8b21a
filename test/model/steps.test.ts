import { deriveFamily } from '../../src/model/config.js';
import { baseStepsFor, DEFAULT_STEPS, FEW_STEP_RANGES, stepsForQuality } from '../../src/model/steps.js';

const QUALITIES = [0.25, 0.5, 1, 2];

test('plain models scale their steps by --q, as before', () => {
  expect(QUALITIES.map((q) => stepsForQuality(q, 20))).toEqual([5, 10, 20, 40]);
  expect(QUALITIES.map((q) => stepsForQuality(q, 20, 'none'))).toEqual([5, 10, 20, 40]);
  expect(stepsForQuality(0.25, 2)).toBe(1);
  expect(baseStepsFor()).toBe(DEFAULT_STEPS);
});

test('Turbo stays in 1-4 steps: --q .25 / .5 / 1 / 2 -> 1 / 1 / 2 / 4', () => {
  const base = baseStepsFor('turbo');
  expect(QUALITIES.map((q) => stepsForQuality(q, base, 'turbo'))).toEqual([1, 1, 2, 4]);
});

test('LCM stays in 4-8 steps: --q .25 / .5 / 1 / 2 -> 4 / 4 / 4 / 8', () => {
  const base = baseStepsFor('lcm');
  expect(QUALITIES.map((q) => stepsForQuality(q, base, 'lcm'))).toEqual([4, 4, 4, 8]);
});

test("a folder's own step count is clamped to its family's range before --q scales it", () => {
  expect(QUALITIES.map((q) => stepsForQuality(q, 1, 'turbo'))).toEqual([1, 1, 1, 2]);
  expect(QUALITIES.map((q) => stepsForQuality(q, 50, 'turbo'))).toEqual([1, 2, 4, 4]);
  expect(QUALITIES.map((q) => stepsForQuality(q, 6, 'lcm'))).toEqual([4, 4, 6, 8]);
  expect(QUALITIES.map((q) => stepsForQuality(q, 30, 'lcm'))).toEqual([4, 4, 8, 8]);
});

test('every family, every --q and every folder step count stays in range and is monotonic in --q', () => {
  for (const distilled of ['turbo', 'lcm'] as const) {
    const { min, max } = FEW_STEP_RANGES[distilled];
    for (let modelSteps = 1; modelSteps <= 60; modelSteps++) {
      const steps = QUALITIES.map((q) => stepsForQuality(q, modelSteps, distilled));
      expect(steps.every((s) => Number.isInteger(s) && s >= min && s <= max)).toBe(true);
      expect(steps).toEqual([...steps].sort((a, b) => a - b));
    }
  }
});

describe('deriveFamily', () => {
  const plain = {
    pipelineClass: 'StableDiffusionPipeline',
    schedulerClass: 'PNDMScheduler',
    scheduler: { timestep_spacing: 'leading' as const },
    unet: { inChannels: 4, additionEmbedType: null, timeCondProjDim: null },
    hasTextEncoder2: false,
  };

  test('SD 1.5 / 2.1: sd, classifier-free guidance', () => {
    expect(deriveFamily(plain)).toEqual({
      base: 'sd',
      distilled: 'none',
      inpainting: false,
      guidance: 'cfg',
      name: 'sd',
    });
  });

  test('SDXL from text_time, a second text encoder or the pipeline class', () => {
    expect(deriveFamily({ ...plain, unet: { ...plain.unet, additionEmbedType: 'text_time' } }).base).toBe(
      'sdxl',
    );
    expect(deriveFamily({ ...plain, hasTextEncoder2: true }).base).toBe('sdxl');
    expect(deriveFamily({ ...plain, pipelineClass: 'ORTStableDiffusionXLPipeline' }).base).toBe('sdxl');
    expect(deriveFamily({ ...plain, pipelineClass: 'EmojiLatentDiffusionPipeline' }).base).toBe('sd');
  });

  test('Turbo: an Euler scheduler with trailing spacing; not any trailing scheduler', () => {
    const trailing = { timestep_spacing: 'trailing' as const };
    expect(
      deriveFamily({ ...plain, schedulerClass: 'EulerDiscreteScheduler', scheduler: trailing }),
    ).toMatchObject({
      distilled: 'turbo',
      guidance: 'none',
      name: 'sd-turbo',
    });
    expect(
      deriveFamily({ ...plain, schedulerClass: 'EulerAncestralDiscreteScheduler', scheduler: trailing })
        .distilled,
    ).toBe('turbo');
    expect(deriveFamily({ ...plain, schedulerClass: 'PNDMScheduler', scheduler: trailing }).distilled).toBe(
      'none',
    );
    expect(deriveFamily({ ...plain, schedulerClass: 'EulerDiscreteScheduler' }).distilled).toBe('none');
  });

  test('LCM: the scheduler, a timestep_cond width or the pipeline; guidance embedded only with timestep_cond', () => {
    expect(deriveFamily({ ...plain, unet: { ...plain.unet, timeCondProjDim: 256 } })).toMatchObject({
      distilled: 'lcm',
      guidance: 'embedded',
      name: 'sd-lcm',
    });
    // An LCM-LoRA merged into a plain UNet: LCM sampling, no guidance embedding, CFG off by default.
    expect(deriveFamily({ ...plain, schedulerClass: 'LCMScheduler' })).toMatchObject({
      distilled: 'lcm',
      guidance: 'none',
    });
    expect(deriveFamily({ ...plain, pipelineClass: 'LatentConsistencyModelPipeline' }).distilled).toBe('lcm');
  });

  test("inpainting from 9 UNet input channels; model_index's recommended.distilled overrides", () => {
    expect(deriveFamily({ ...plain, unet: { ...plain.unet, inChannels: 9 } }).name).toBe('sd-inpainting');
    expect(deriveFamily({ ...plain, distilled: 'turbo' })).toMatchObject({
      distilled: 'turbo',
      guidance: 'none',
    });
    expect(
      deriveFamily({
        ...plain,
        schedulerClass: 'EulerDiscreteScheduler',
        scheduler: { timestep_spacing: 'trailing' },
        distilled: 'none',
      }).distilled,
    ).toBe('none');
  });
});
