/** @jest-environment ./test/diffusion/onnx-environment.cjs */
/**
 * The model families' fixtures (scripts/make-family-fixtures.py: random weights, Optimum's export signatures)
 * read through the engine's own backend and config reader: every input's name, dtype and shape, every output
 * name, the configs' family fields, and one run of each network with every input it declares.
 */
import { Backend, type ElementType, type Feed, type ModelSession } from '../../src/diffusion/backend.js';
import { schedulerForModel } from '../../src/diffusion/schedulers/index.js';
import { type ModelConfig, readModelConfig } from '../../src/model/config.js';
import { MODELS } from './helpers.js';

type Shape = readonly (number | string)[];
type Signature = Record<string, { inputs: Record<string, [ElementType, Shape]>; outputs: string[] }>;

const B = 'batch_size';
const S = 'sequence_length';
const hiddenStates = (layers: number) => Array.from({ length: layers + 1 }, (_, i) => `hidden_states.${i}`);

function sdParts(
  float: ElementType,
  hidden: number,
  unetInputs: Record<string, [ElementType, Shape]> = {},
  inChannels = 4,
) {
  return {
    text_encoder: {
      inputs: { input_ids: ['int64', [B, S]] },
      outputs: ['last_hidden_state', 'pooler_output'],
    },
    unet: {
      inputs: {
        sample: [float, [B, inChannels, 'height', 'width']],
        timestep: [float, []],
        encoder_hidden_states: [float, [B, S, hidden]],
        ...unetInputs,
      },
      outputs: ['out_sample'],
    },
    vae_decoder: {
      inputs: { latent_sample: [float, [B, 4, 'latent_height', 'latent_width']] },
      outputs: ['sample'],
    },
    vae_encoder: {
      inputs: { sample: [float, [B, 3, 'sample_height', 'sample_width']] },
      outputs: ['latent_parameters'],
    },
  } satisfies Signature;
}

function sdxlParts(float: ElementType): Signature {
  const sd = sdParts(float, 2048, { text_embeds: [float, [B, 1280]], time_ids: [float, [B, 6]] });
  return {
    ...sd,
    text_encoder: { ...sd.text_encoder, outputs: [...sd.text_encoder.outputs, ...hiddenStates(12)] },
    text_encoder_2: {
      inputs: { input_ids: ['int64', [B, S]] },
      outputs: ['text_embeds', 'last_hidden_state', ...hiddenStates(32)],
    },
  };
}

interface Layout {
  signature: Signature;
  config: Partial<ModelConfig> & Record<string, unknown>;
  scheduler: string;
}

const LAYOUTS: Record<string, Layout> = {
  'sdxl-tiny': {
    signature: sdxlParts('float32'),
    config: {
      pipelineClass: 'StableDiffusionXLPipeline',
      schedulerClass: 'EulerDiscreteScheduler',
      family: { base: 'sdxl', distilled: 'none', inpainting: false, guidance: 'cfg', name: 'sdxl' },
      scalingFactor: 0.13025,
      vaeForceUpcast: true,
      forceZerosForEmptyPrompt: true,
      requiresAestheticsScore: false,
      unet: {
        inChannels: 4,
        crossAttentionDim: 2048,
        additionEmbedType: 'text_time',
        additionTimeEmbedDim: 256,
        projectionClassEmbeddingsInputDim: 2816,
        timeCondProjDim: null,
      },
      textEncoders: [
        { folder: 'text_encoder', tokenizer: 'tokenizer', hiddenSize: 768, layers: 12, projectionDim: 768 },
        {
          folder: 'text_encoder_2',
          tokenizer: 'tokenizer_2',
          hiddenSize: 1280,
          layers: 32,
          projectionDim: 1280,
        },
      ],
      scheduler: expect.objectContaining({ timestep_spacing: 'leading', steps_offset: 1 }),
    },
    scheduler: 'euler',
  },
  'sdxl-turbo-fp16-tiny': {
    signature: sdxlParts('float16'),
    config: {
      pipelineClass: 'StableDiffusionXLPipeline',
      schedulerClass: 'EulerAncestralDiscreteScheduler',
      family: { base: 'sdxl', distilled: 'turbo', inpainting: false, guidance: 'none', name: 'sdxl-turbo' },
      scalingFactor: 0.13025,
      vaeForceUpcast: true,
      scheduler: expect.objectContaining({ timestep_spacing: 'trailing' }),
    },
    scheduler: 'euler-ancestral',
  },
  'sd-turbo-tiny': {
    signature: sdParts('float32', 1024),
    config: {
      pipelineClass: 'StableDiffusionPipeline',
      schedulerClass: 'EulerDiscreteScheduler',
      family: { base: 'sd', distilled: 'turbo', inpainting: false, guidance: 'none', name: 'sd-turbo' },
      scalingFactor: 0.18215,
      textEncoders: [
        { folder: 'text_encoder', tokenizer: 'tokenizer', hiddenSize: 1024, layers: 23, projectionDim: 512 },
      ],
      scheduler: expect.objectContaining({ timestep_spacing: 'trailing', prediction_type: 'epsilon' }),
    },
    scheduler: 'euler',
  },
  'sd15-lcm-tiny': {
    signature: sdParts('float32', 768, { timestep_cond: ['float32', [B, 256]] }),
    config: {
      pipelineClass: 'LatentConsistencyModelPipeline',
      schedulerClass: 'LCMScheduler',
      family: { base: 'sd', distilled: 'lcm', inpainting: false, guidance: 'embedded', name: 'sd-lcm' },
      unet: expect.objectContaining({ timeCondProjDim: 256, additionEmbedType: null, inChannels: 4 }),
      scheduler: expect.objectContaining({ original_inference_steps: 50, timestep_scaling: 10 }),
    },
    scheduler: 'lcm',
  },
  'sd15-inpaint-tiny': {
    signature: sdParts('float32', 768, {}, 9),
    config: {
      pipelineClass: 'StableDiffusionInpaintPipeline',
      schedulerClass: 'DDIMScheduler',
      family: { base: 'sd', distilled: 'none', inpainting: true, guidance: 'cfg', name: 'sd-inpainting' },
      unet: expect.objectContaining({ inChannels: 9 }),
      hasVaeEncoder: true,
    },
    scheduler: 'ddim',
  },
};

const AXES: Record<string, number> = {
  height: 8,
  width: 8,
  latent_height: 8,
  latent_width: 8,
  sample_height: 64,
  sample_width: 64,
  sequence_length: 77,
};

/** Small feeds for every declared input, at batch 2, 8x8 latents (64 px), 77 tokens. */
function feedsFor(session: ModelSession, overrides: Record<string, number> = {}): Record<string, Feed> {
  const feeds: Record<string, Feed> = {};
  for (const spec of session.inputs.values()) {
    const dims = spec.shape.map((d) => (typeof d === 'number' ? d : (AXES[d] ?? 2)));
    const size = dims.reduce((a, b) => a * b, 1);
    if (spec.type === 'int64' || spec.type === 'int32') {
      const ids = Array.from({ length: size }, (_, i) =>
        i % 77 === 0 ? 49406 : i % 77 === 5 ? 49407 : 320 + i,
      );
      feeds[spec.name] = { kind: 'int', values: ids, dims };
    } else {
      const fill = overrides[spec.name] ?? (spec.name === 'timestep' ? 500 : 0.25);
      const data = Float32Array.from({ length: size }, (_, i) => fill * (1 + 0.01 * (i % 7)));
      feeds[spec.name] = { kind: 'float', tensor: { data, dims } };
    }
  }
  return feeds;
}

describe.each(Object.entries(LAYOUTS))('%s', (name, layout) => {
  const dir = `${MODELS}${name}`;
  const backend = new Backend({ threads: 1 });
  const sessions = new Map<string, ModelSession>();
  beforeAll(async () => {
    for (const part of Object.keys(layout.signature))
      sessions.set(part, await backend.load(`${dir}/${part}/model.onnx`, part));
  });
  afterAll(() => backend.dispose());

  test('the config reader accepts the folder and reads its family', () => {
    const config = readModelConfig(dir);
    expect(config).toMatchObject(layout.config);
    expect(config).toMatchObject({ vaeFactor: 8, latentMultiple: 2, sampleSize: 64, hasVaeEncoder: true });
    expect(schedulerForModel(config)).toBe(layout.scheduler);
  });

  test.each(Object.keys(layout.signature))('%s: input names, dtypes, shapes and output names', (part) => {
    const session = sessions.get(part)!;
    const expected = layout.signature[part]!;
    expect([...session.inputs.keys()]).toEqual(Object.keys(expected.inputs));
    for (const [input, [type, shape]] of Object.entries(expected.inputs))
      expect(session.input(input)).toEqual({ name: input, type, shape });
    expect(session.outputNames).toEqual(expected.outputs);
  });

  test('every network runs with every input it declares, and every UNet input changes its output', async () => {
    const text = await sessions.get('text_encoder')!.run(feedsFor(sessions.get('text_encoder')!));
    expect(Object.keys(text)).toEqual(layout.signature['text_encoder']!.outputs);
    const unet = sessions.get('unet')!;
    const out = (await unet.run(feedsFor(unet)))['out_sample']!;
    expect(out.dims).toEqual([2, 4, 8, 8]);
    expect(out.data.every(Number.isFinite)).toBe(true);
    for (const input of unet.inputs.keys()) {
      const changed = (await unet.run(feedsFor(unet, { [input]: input === 'timestep' ? 900 : 0.9 })))[
        'out_sample'
      ]!;
      expect({ input, same: changed.data.every((v, i) => v === out.data[i]) }).toEqual({
        input,
        same: false,
      });
    }
    const decoded = (await sessions.get('vae_decoder')!.run(feedsFor(sessions.get('vae_decoder')!)))[
      'sample'
    ]!;
    expect(decoded.dims).toEqual([2, 3, 64, 64]);
    const encoded = await sessions.get('vae_encoder')!.run(feedsFor(sessions.get('vae_encoder')!));
    expect(encoded['latent_parameters']!.dims).toEqual([2, 8, 8, 8]);
  });
});

test('SDXL text_encoder_2: pooled text_embeds [B, 1280] and the penultimate hidden state [B, 77, 1280]', async () => {
  const backend = new Backend({ threads: 1 });
  try {
    const session = await backend.load(`${MODELS}sdxl-tiny/text_encoder_2/model.onnx`, 'text_encoder_2');
    const out = await session.run(feedsFor(session), [
      'text_embeds',
      'hidden_states.31',
      'last_hidden_state',
    ]);
    expect(out['text_embeds']!.dims).toEqual([2, 1280]);
    expect(out['hidden_states.31']!.dims).toEqual([2, 77, 1280]);
    // The penultimate state is not the final (layer-normed) one the pipeline must not use.
    expect(out['hidden_states.31']!.data.some((v, i) => v !== out['last_hidden_state']!.data[i])).toBe(true);
  } finally {
    await backend.dispose();
  }
});

test('the older layouts keep their family: plain SD with classifier-free guidance', () => {
  for (const name of ['sd15-tiny', 'sd21-tiny', 'sd21-fp16-tiny', 'emoji-tiny']) {
    const config = readModelConfig(`${MODELS}${name}`);
    expect({ name, family: config.family }).toEqual({
      name,
      family: { base: 'sd', distilled: 'none', inpainting: false, guidance: 'cfg', name: 'sd' },
    });
    expect(config.textEncoders).toHaveLength(1);
  }
});
