/** @jest-environment ./test/diffusion/onnx-environment.cjs */
import {
  Backend,
  ExecutionProviderError,
  parseDevice,
  UnknownDeviceError,
} from '../../src/diffusion/backend.js';
import { readModelConfig } from '../../src/model/config.js';
import { MODELS } from './helpers.js';

test('an unknown device is an error that lists the valid ones', () => {
  expect(() => parseDevice('tpu')).toThrow(UnknownDeviceError);
  expect(() => new Backend({ device: 'metal' })).toThrow('unknown device "metal"; valid devices: cpu, cuda');
  expect(parseDevice('cuda')).toBe('cuda');
});

test('cuda either loads or fails with the install hint (depends on the onnxruntime-node binaries here)', async () => {
  const backend = new Backend({ device: 'cuda', threads: 1 });
  try {
    const session = await backend.load(`${MODELS}emoji-tiny/unet/model.onnx`, 'unet');
    expect(session.input('sample').type).toBe('float32');
  } catch (error) {
    expect(error).toBeInstanceOf(ExecutionProviderError);
    expect((error as Error).message).toMatch(/ONNXRUNTIME_NODE_INSTALL=cuda12/);
  } finally {
    await backend.dispose();
  }
});

describe('input signatures are read from the sessions', () => {
  const backend = new Backend({ threads: 1 });
  afterAll(() => backend.dispose());
  const load = (model: string, part: string) => backend.load(`${MODELS}${model}/${part}/model.onnx`, part);

  test.each([
    ['sd15-tiny', 'int32', 'int64', ['batch'], 'float32'],
    ['sd21-tiny', 'int64', 'float32', ['batch'], 'float32'],
    ['sd21-fp16-tiny', 'int64', 'float16', [], 'float16'],
    ['emoji-tiny', 'int64', 'int64', ['batch'], 'float32'],
  ])('%s: ids %s, timestep %s %j, sample %s', async (model, ids, timestep, timestepShape, sample) => {
    const text = await load(model, 'text_encoder');
    const unet = await load(model, 'unet');
    expect(text.input('input_ids').type).toBe(ids);
    expect(unet.input('timestep')).toMatchObject({ type: timestep, shape: timestepShape });
    expect(unet.input('sample').type).toBe(sample);
  });

  test('an fp16 UNet takes float32 feeds and returns float32', async () => {
    const unet = await load('sd21-fp16-tiny', 'unet');
    const out = await unet.run({
      sample: {
        kind: 'float',
        tensor: { data: new Float32Array(2 * 4 * 4 * 4).fill(0.5), dims: [2, 4, 4, 4] },
      },
      timestep: { kind: 'float', tensor: { data: Float32Array.of(500, 500), dims: [2] } },
      encoder_hidden_states: {
        kind: 'float',
        tensor: { data: new Float32Array(2 * 77 * 1024), dims: [2, 77, 1024] },
      },
    });
    expect(out['out_sample']!.dims).toEqual([2, 4, 4, 4]);
    expect(out['out_sample']!.data).toBeInstanceOf(Float32Array);
    expect(out['out_sample']!.data.every(Number.isFinite)).toBe(true);
  });

  test('the VAE encoder output is latent_sample (diffusers) or latent_parameters (Optimum)', async () => {
    expect((await load('sd15-tiny', 'vae_encoder')).outputNames).toEqual(['latent_sample']);
    expect((await load('sd21-tiny', 'vae_encoder')).outputNames).toEqual(['latent_parameters']);
  });

  test('the run clock sums time inside onnxruntime', async () => {
    const before = backend.clock.runs;
    const text = await load('emoji-tiny', 'text_encoder');
    await text.run({ input_ids: { kind: 'int', values: new Array(16).fill(0), dims: [1, 16] } });
    expect(backend.clock.runs).toBe(before + 1);
    expect(backend.clock.milliseconds).toBeGreaterThan(0);
  });
});

test('configs: scaling factor, VAE factor, size multiple, prediction type and defaults', () => {
  expect(readModelConfig(`${MODELS}sd15-tiny`)).toMatchObject({
    scalingFactor: 0.18215,
    vaeFactor: 8,
    latentMultiple: 2,
    sampleSize: 64,
    scheduler: { prediction_type: 'epsilon', timestep_spacing: 'leading', steps_offset: 1 },
    hasImageEncoder: false,
  });
  expect(readModelConfig(`${MODELS}sd21-tiny`).scheduler.prediction_type).toBe('v_prediction');
  expect(readModelConfig(`${MODELS}emoji-tiny`)).toMatchObject({
    vaeFactor: 4,
    sampleSize: 32,
    imageEncoderSize: 32,
    hasImageEncoder: true,
    hasUpscaler: true,
    defaults: { steps: 20, guidanceScale: 5, scheduler: 'DDIM' },
  });
  expect(() => readModelConfig(`${MODELS}nowhere`)).toThrow(/has no unet\/model.onnx/);
});
