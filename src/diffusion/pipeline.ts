/**
 * The latent diffusion pipeline: encode prompts -> prepare latents -> loop(UNet, scheduler.step) -> decode.
 * Sessions, tokenizer and config are injected; `DiffusionPipeline.fromPretrained(dir)` loads them from a
 * diffusers/Optimum ONNX folder (or the project's layout with an image encoder and an upscaler).
 */
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { resizeBy, resizeCover } from '../images/decode.js';
import { composeGrid } from '../images/grid.js';
import { type RawImage, rawImage } from '../images/raw-image.js';
import { type ModelConfig, readModelConfig } from '../model/config.js';
import { DEFAULT_STEPS } from '../model/steps.js';
import { Backend, type BackendOptions, type ModelSession } from './backend.js';
import { combineGuidance } from './guidance.js';
import {
  cropBorder,
  latentToRgb,
  padCircular,
  rgbToTensor,
  rollLatents,
  tensorToRgbImages,
} from './latent-ops.js';
import {
  type Condition,
  type GenerationRequest,
  GenerationRequestError,
  type GenerationResult,
  type ProgressCallback,
} from './request.js';
import { gaussian, SHARED_STREAM, uniform } from './rng.js';
import { createScheduler, type SchedulerName } from './schedulers/index.js';
import { cat, type FloatTensor, repeatBatch, sliceBatch } from './tensor.js';
import { loadPromptTokenizer, type PromptTokenizer } from './tokenizer.js';

export interface PipelineParts {
  backend: Backend;
  config: ModelConfig;
  tokenizer: PromptTokenizer;
  textEncoder: ModelSession;
  unet: ModelSession;
  vaeDecoder: ModelSession;
  vaeEncoder: ModelSession | null;
  imageEncoder: ModelSession | null;
  upscaler: ModelSession | null;
}

export interface PipelineOptions extends BackendOptions {
  /** Most UNet rows per call; by default one call carries everything and halves only on allocation failure. */
  maxUnetBatch?: number;
  /** Progress previews every this many steps (0: none). */
  previewEvery?: number;
}

export interface ModelDefaults {
  steps: number;
  guidanceScale: number;
  scheduler: SchedulerName;
  /** Native square side in pixels and the multiple every side must be. */
  size: number;
  sizeMultiple: number;
  hasImageEncoder: boolean;
  hasUpscaler: boolean;
}

/** How strongly image prompts shape the init image when the model has no image encoder (see docs). */
export const IMAGE_PROMPT_INIT_STRENGTH = { min: 0.5, max: 1 } as const;

const LATENT_CHANNELS = 4;
/** Largest output area, in native squares: attention cost grows with the square of the area. */
export const MAX_AREA_FACTOR = 4;

function isAllocationFailure(error: unknown): boolean {
  return error instanceof Error && /alloc|out of memory|\boom\b|bad_alloc/i.test(error.message);
}

export class DiffusionPipeline {
  private maxUnetBatch: number;
  private readonly previewEvery: number;

  constructor(
    private readonly parts: PipelineParts,
    options: Pick<PipelineOptions, 'maxUnetBatch' | 'previewEvery'> = {},
  ) {
    this.maxUnetBatch = options.maxUnetBatch ?? Number.POSITIVE_INFINITY;
    this.previewEvery = options.previewEvery ?? 5;
  }

  static async fromPretrained(dir: string, options: PipelineOptions = {}): Promise<DiffusionPipeline> {
    const config = readModelConfig(dir);
    const backend = new Backend(options);
    try {
      const load = (part: string) => backend.load(join(dir, part, 'model.onnx'), part);
      const optional = (part: string) => (existsSync(join(dir, part, 'model.onnx')) ? load(part) : null);
      const [textEncoder, unet, vaeDecoder, vaeEncoder, imageEncoder, upscaler] = await Promise.all([
        load('text_encoder'),
        load('unet'),
        load('vae_decoder'),
        optional('vae_encoder'),
        optional('image_encoder'),
        optional('upscaler'),
      ]);
      const idsShape = textEncoder.input('input_ids').shape;
      const fixedLength = typeof idsShape[1] === 'number' ? idsShape[1] : undefined;
      const tokenizer = loadPromptTokenizer(join(dir, 'tokenizer'), fixedLength);
      return new DiffusionPipeline(
        { backend, config, tokenizer, textEncoder, unet, vaeDecoder, vaeEncoder, imageEncoder, upscaler },
        options,
      );
    } catch (error) {
      await backend.dispose();
      throw error;
    }
  }

  get defaults(): ModelDefaults {
    const { config } = this.parts;
    const scheduler = schedulerFromConfigName(config.defaults.scheduler);
    return {
      steps: config.defaults.steps ?? DEFAULT_STEPS,
      guidanceScale: config.defaults.guidanceScale ?? 7.5,
      scheduler,
      size: config.sampleSize,
      sizeMultiple: config.vaeFactor * config.latentMultiple,
      hasImageEncoder: this.parts.imageEncoder !== null,
      hasUpscaler: this.parts.upscaler !== null,
    };
  }

  /** Time spent inside onnxruntime since the last reset (for the overhead benchmark). */
  get clock() {
    return this.parts.backend.clock;
  }

  async dispose(): Promise<void> {
    await this.parts.backend.dispose();
  }

  /** `signal` aborts between steps (a cancelled or timed-out job stops within one UNet call). */
  async generate(
    request: GenerationRequest,
    onProgress?: ProgressCallback,
    signal?: AbortSignal,
  ): Promise<GenerationResult> {
    const started = performance.now();
    const clockStart = this.clock.milliseconds;
    const runsStart = this.clock.runs;
    this.validate(request);
    signal?.throwIfAborted(); // a job cancelled while queued runs nothing
    const { config } = this.parts;
    const notes: string[] = [];
    const latentHeight = request.height / config.vaeFactor;
    const latentWidth = request.width / config.vaeFactor;
    const indices = [...request.images];
    const n = indices.length;
    const rowSize = LATENT_CHANNELS * latentHeight * latentWidth;

    // 1. Conditions: drop zero weights (they change nothing), fold image prompts into an init image when
    //    the model has no image encoder, and order canonically so prompt order cannot change the result.
    let { conditions, init } = await this.resolveImagePrompts(request, notes);
    conditions = canonicalOrder(conditions.filter((c) => c.weight !== 0));
    onProgress?.({ stage: 'encode', step: 0, total: 1 });
    const embeddings = await this.encodeConditions(conditions);
    const weights = conditions.map((c) => c.weight);
    const hidden = cat(embeddings.map((e) => repeatBatch(e, n)));

    // 2. Latents: per-image noise (mixed with a shared component by --chaos), or a noised init image.
    const scheduler = createScheduler(request.scheduler, config.scheduler, request.steps);
    const totalSteps = scheduler.timesteps.length;
    let startIndex = 0;
    if (init) startIndex = Math.min(totalSteps - 1, totalSteps - Math.floor(totalSteps * init.strength));
    const stopIndex = Math.max(startIndex + 1, Math.round(totalSteps * request.stop));
    const noise = cat(indices.map((i) => initialNoise(request.seed, i, request.chaos, rowSize)));
    let latents: Float32Array;
    if (init) {
      const encoded = await this.encodeImageLatent(init.image, request.width, request.height);
      const x0 = repeatBatch(encoded, n).data;
      latents = scheduler.addNoise(x0, noise.data, startIndex);
    } else {
      latents = noise.data.map((v) => v * scheduler.initNoiseSigma);
    }
    const scales = indices.map((i) => guidanceFor(request.seed, i, request.guidanceScale, request.chaos));
    const latentDims = [n, LATENT_CHANNELS, latentHeight, latentWidth];

    // 3. Denoising loop: one batched UNet call per step for every image and every condition.
    let estimate = latents;
    for (let index = startIndex; index < stopIndex; index++) {
      signal?.throwIfAborted();
      const t = scheduler.timesteps[index]!;
      let input: FloatTensor = { data: scheduler.scaleModelInput(latents, index), dims: latentDims };
      let shift: [number, number] = [0, 0];
      if (request.tile) {
        const [u, v] = uniform(request.seed, SHARED_STREAM, 1 + index, 2);
        shift = [Math.floor(u! * latentHeight), Math.floor(v! * latentWidth)];
        input = rollLatents(input, shift[0], shift[1]);
      }
      let prediction = await this.predict(repeatBatch(input, conditions.length + 1), t, hidden);
      if (request.tile) prediction = rollLatents(prediction, -shift[0], -shift[1]);
      const guided = combineGuidance(prediction.data, { images: n, rowSize }, weights, scales);
      const step = scheduler.step(
        guided,
        index,
        latents,
        () =>
          cat(
            indices.map((i) => ({ data: gaussian(request.seed, i, 1 + index, rowSize), dims: [1, rowSize] })),
          ).data,
      );
      latents = step.prevSample;
      estimate = step.predOriginal;
      const done = index - startIndex + 1;
      const total = stopIndex - startIndex;
      const withPreview = this.previewEvery > 0 && (done % this.previewEvery === 0 || done === total);
      onProgress?.({
        stage: 'denoise',
        step: done,
        total,
        ...(withPreview ? { preview: previewGrid(estimate, n, latentHeight, latentWidth) } : {}),
      });
    }

    // 4. Decode: the finished latents, or the current clean estimate when --stop ended the loop early.
    onProgress?.({ stage: 'decode', step: 0, total: 1 });
    const final = stopIndex < totalSteps ? estimate : latents;
    const images = await this.decode({ data: final, dims: latentDims }, request.tile);
    onProgress?.({ stage: 'decode', step: 1, total: 1 });
    return {
      images,
      indices,
      width: request.width,
      height: request.height,
      notes,
      timings: {
        totalMs: performance.now() - started,
        onnxMs: this.clock.milliseconds - clockStart,
        onnxRuns: this.clock.runs - runsStart,
      },
    };
  }

  /** 2x with the model's upscaler when it ships one, else sharp (Lanczos). */
  async upscale(image: RawImage): Promise<{ image: RawImage; method: 'model' | 'sharp' }> {
    const { upscaler } = this.parts;
    if (!upscaler) return { image: await resizeBy(image, 2), method: 'sharp' };
    // The upscaler was trained on the model's own output size; the parent image usually arrives resampled
    // for display (e.g. 32 px shown at 256 px), so bring it back to the native area first.
    const native = this.defaults.size;
    const shrink = Math.sqrt((native * native) / (image.width * image.height));
    if (shrink < 1) {
      image = await resizeCover(
        image,
        Math.max(1, Math.round(image.width * shrink)),
        Math.max(1, Math.round(image.height * shrink)),
      );
    }
    const input = upscaler.inputs.keys().next().value ?? 'image';
    const out = await upscaler.run({
      [input]: { kind: 'float', tensor: rgbToTensor(image.data, image.height, image.width, true) },
    });
    const result = Object.values(out)[0]!;
    const [, , height = 0, width = 0] = result.dims;
    const [pixels] = tensorToRgbImages({ data: result.data.map((v) => v * 2 - 1), dims: result.dims });
    return { image: rawImage(width, height, pixels!), method: 'model' };
  }

  private validate(request: GenerationRequest): void {
    const { sizeMultiple } = this.defaults;
    const fail = (message: string) => {
      throw new GenerationRequestError(message);
    };
    for (const [name, value] of [
      ['width', request.width],
      ['height', request.height],
    ] as const) {
      if (!Number.isInteger(value) || value <= 0 || value % sizeMultiple !== 0) {
        fail(`${name} ${value} must be a positive multiple of ${sizeMultiple}`);
      }
    }
    const maxPixels = MAX_AREA_FACTOR * this.defaults.size * this.defaults.size;
    if (request.width * request.height > maxPixels) {
      fail(`${request.width}x${request.height} is over this model's limit of ${maxPixels} pixels`);
    }
    if (!Number.isInteger(request.steps) || request.steps < 1 || request.steps > 1000)
      fail('steps must be 1..1000');
    if (!(request.stop > 0 && request.stop <= 1)) fail('stop must be in (0, 1]');
    if (!(request.chaos >= 0 && request.chaos <= 100)) fail('chaos must be 0..100');
    if (!Number.isFinite(request.guidanceScale)) fail('guidance scale must be finite');
    if (!Number.isInteger(request.seed) || request.seed < 0 || request.seed > 0xffffffff)
      fail('seed must be 0..2^32-1');
    if (request.images.length === 0 || request.images.some((i) => !Number.isInteger(i) || i < 0 || i > 3)) {
      fail('images must be grid indices 0-3');
    }
    if (request.init && !(request.init.strength > 0 && request.init.strength <= 1))
      fail('init strength must be in (0, 1]');
    if (request.init && !this.parts.vaeEncoder)
      fail('this model has no VAE encoder, so it cannot start from an image');
    if (
      request.conditions.some((c) => c.kind === 'image') &&
      !this.parts.vaeEncoder &&
      !this.parts.imageEncoder
    ) {
      fail('this model has neither an image encoder nor a VAE encoder, so it cannot take image prompts');
    }
  }

  /**
   * Stock SD has no image encoder: image prompts become the init image (weighted mean of their latents is
   * approximated by a weighted mean of the pixels) and the result says so.
   */
  private async resolveImagePrompts(request: GenerationRequest, notes: string[]) {
    const images = request.conditions.filter((c) => c.kind === 'image');
    if (this.parts.imageEncoder || images.length === 0)
      return { conditions: request.conditions, init: request.init };
    const positive = images.filter((c) => c.weight > 0);
    const texts = request.conditions.filter((c) => c.kind === 'text');
    if (request.init) {
      // A variation: its init image is the parent, which is also its image prompt.
      notes.push('This model has no image encoder: image prompts act only through the init image (img2img).');
      return { conditions: texts, init: request.init };
    }
    notes.push('This model has no image encoder: image prompts were used as an init image (img2img).');
    if (positive.length === 0) return { conditions: texts, init: null };
    if (positive.length < images.length)
      notes.push('Negative image weights cannot steer an init image; they were ignored.');
    const total = positive.reduce((s, c) => s + c.weight, 0);
    const share = total / request.conditions.reduce((s, c) => s + Math.abs(c.weight), 0);
    // More weight on the images keeps more of them: share 1 (images only) -> strength 0.5; share 0 -> 1.
    const { min, max } = IMAGE_PROMPT_INIT_STRENGTH;
    const strength = max - (max - min) * Math.min(1, share);
    // /blend: the weighted mean of the images, each first fitted (cover) to the output size.
    const fitted = await Promise.all(
      positive.map(async (c) => ({
        image: await resizeCover(c.image, request.width, request.height),
        weight: c.weight,
      })),
    );
    return { conditions: texts, init: { image: blendPixels(fitted, total), strength } };
  }

  /** [uncond, ...conditions] embeddings, each [1, L, D]; texts go through one text encoder call. */
  private async encodeConditions(conditions: readonly Condition[]): Promise<FloatTensor[]> {
    const { tokenizer, textEncoder, imageEncoder } = this.parts;
    const texts = ['', ...conditions.filter((c) => c.kind === 'text').map((c) => c.text)];
    const ids = texts.flatMap((t) => tokenizer.encode(t));
    const outputs = await textEncoder.run(
      { input_ids: { kind: 'int', values: ids, dims: [texts.length, tokenizer.maxLength] } },
      [outputName(textEncoder, 'last_hidden_state')],
    );
    const textStates = Object.values(outputs)[0]!;
    const imageConditions = conditions.filter((c) => c.kind === 'image');
    let imageStates: FloatTensor | null = null;
    if (imageConditions.length > 0 && imageEncoder) {
      const size = this.parts.config.imageEncoderSize ?? 224;
      const pixels = await Promise.all(
        imageConditions.map(async (c) =>
          rgbToTensor((await resizeCover(c.image, size, size)).data, size, size),
        ),
      );
      const out = await imageEncoder.run({ pixel_values: { kind: 'float', tensor: cat(pixels) } }, [
        outputName(imageEncoder, 'last_hidden_state'),
      ]);
      imageStates = Object.values(out)[0]!;
      if (imageStates.dims.slice(1).join() !== textStates.dims.slice(1).join()) {
        throw new GenerationRequestError(
          `image encoder states [${imageStates.dims}] do not match text states [${textStates.dims}]`,
        );
      }
    }
    let text = 1;
    let image = 0;
    const result = [sliceBatch(textStates, 0, 1)];
    for (const c of conditions) {
      result.push(
        c.kind === 'text' ? sliceBatch(textStates, text, ++text) : sliceBatch(imageStates!, image, ++image),
      );
    }
    return result;
  }

  /** Scaled latent [1, 4, h, w] of an image resized (cover) to the output size. */
  private async encodeImageLatent(image: RawImage, width: number, height: number): Promise<FloatTensor> {
    const encoder = this.parts.vaeEncoder;
    if (!encoder)
      throw new GenerationRequestError('this model has no VAE encoder, so it cannot take init images');
    const resized = await resizeCover(image, width, height);
    const out = await encoder.run({
      sample: { kind: 'float', tensor: rgbToTensor(resized.data, height, width) },
    });
    // diffusers exports give `latent_sample` [1,4,h,w]; newer Optimum `latent_parameters` [1,8,h,w] = (mean,
    // logvar). The mean (first four channels) is the deterministic encoding in both cases.
    const raw = out['latent_sample'] ?? out['latent_parameters'] ?? Object.values(out)[0]!;
    const [, , h = 0, w = 0] = raw.dims;
    const mean = raw.data.subarray(0, LATENT_CHANNELS * h * w);
    return { data: mean.map((v) => v * this.parts.config.scalingFactor), dims: [1, LATENT_CHANNELS, h, w] };
  }

  /** One UNet call over all rows (chunked only when a call fails to allocate). */
  private async predict(sample: FloatTensor, timestep: number, hidden: FloatTensor): Promise<FloatTensor> {
    const rows = sample.dims[0]!;
    for (;;) {
      const chunk = Math.min(rows, this.maxUnetBatch);
      try {
        if (chunk === rows) return await this.runUnet(sample, timestep, hidden);
        const parts: FloatTensor[] = [];
        for (let start = 0; start < rows; start += chunk) {
          const end = Math.min(rows, start + chunk);
          parts.push(
            await this.runUnet(sliceBatch(sample, start, end), timestep, sliceBatch(hidden, start, end)),
          );
        }
        return parts.length === 1 ? parts[0]! : cat(parts);
      } catch (error) {
        if (!isAllocationFailure(error) || chunk <= 1) throw error;
        this.maxUnetBatch = Math.max(1, Math.floor(chunk / 2));
      }
    }
  }

  private async runUnet(sample: FloatTensor, timestep: number, hidden: FloatTensor): Promise<FloatTensor> {
    const rows = sample.dims[0]!;
    const out = await this.parts.unet.run(
      {
        sample: { kind: 'float', tensor: sample },
        // Exporters disagree on the timestep: int64/float32/float16, [B] or 0-d; the backend converts to
        // whatever this export declares (0-d takes the first value: all rows share one timestep).
        timestep: { kind: 'float', tensor: { data: new Float32Array(rows).fill(timestep), dims: [rows] } },
        encoder_hidden_states: { kind: 'float', tensor: hidden },
      },
      [outputName(this.parts.unet, 'out_sample')],
    );
    return Object.values(out)[0]!;
  }

  private async decode(latents: FloatTensor, tile: boolean): Promise<RawImage[]> {
    const { config, vaeDecoder } = this.parts;
    let input: FloatTensor = { data: latents.data.map((v) => v / config.scalingFactor), dims: latents.dims };
    // Seamless tiles: decode with a border taken from the opposite edges, then crop it, so the decoder's
    // own zero padding does not draw a frame.
    const pad = tile ? Math.max(1, Math.floor(Math.min(latents.dims[2]!, latents.dims[3]!) / 4)) : 0;
    if (pad > 0) input = padCircular(input, pad);
    const decodeRows = async (rows: FloatTensor) =>
      Object.values(
        await vaeDecoder.run({ latent_sample: { kind: 'float', tensor: rows } }, [
          outputName(vaeDecoder, 'sample'),
        ]),
      )[0]!;
    let out: FloatTensor;
    try {
      out = await decodeRows(input);
    } catch (error) {
      // Full-size SD decoders need a lot of activation memory: fall back to one image at a time.
      if (!isAllocationFailure(error) || input.dims[0] === 1) throw error;
      const parts: FloatTensor[] = [];
      for (let i = 0; i < input.dims[0]!; i++) parts.push(await decodeRows(sliceBatch(input, i, i + 1)));
      out = cat(parts);
    }
    if (pad > 0) out = cropBorder(out, pad * config.vaeFactor);
    const [, , height = 0, width = 0] = out.dims;
    return tensorToRgbImages(out).map((pixels) => rawImage(width, height, pixels));
  }
}

/** The standard output name when the export has it, else its first output (exporters rename outputs). */
function outputName(session: ModelSession, standard: string): string {
  return session.outputNames.includes(standard) ? standard : session.outputNames[0]!;
}

/** A scheduler named in a model folder ('DDIM', 'DDIMScheduler', 'ddim', 'EulerAncestral...', 'DPMSolver...'). */
export function schedulerFromConfigName(name: string | null): SchedulerName {
  const key = (name ?? '').toLowerCase().replace(/[^a-z0-9]/g, '');
  if (key.startsWith('ddim')) return 'ddim';
  if (key.startsWith('eulera')) return 'euler-ancestral';
  return 'dpmpp-2m-karras';
}

/** Conditions sorted by kind, text and weight, so that the order prompts were written in does not matter. */
function canonicalOrder(conditions: readonly Condition[]): Condition[] {
  const key = (c: Condition) => (c.kind === 'text' ? `t\u0000${c.text}` : `i\u0000${imageKey(c.image)}`);
  return [...conditions].sort((a, b) => {
    const ka = key(a);
    const kb = key(b);
    return ka < kb ? -1 : ka > kb ? 1 : a.weight - b.weight;
  });
}

function imageKey(image: RawImage): string {
  // FNV-1a over the pixels: a cheap stable identity for ordering.
  let h = 0x811c9dc5;
  for (let i = 0; i < image.data.length; i += 7) h = Math.imul(h ^ image.data[i]!, 0x01000193) >>> 0;
  return `${image.width}x${image.height}:${h.toString(16).padStart(8, '0')}`;
}

function blendPixels(images: readonly { image: RawImage; weight: number }[], total: number): RawImage {
  const first = images[0]!.image;
  if (images.length === 1) return first;
  const sum = new Float32Array(first.data.length);
  for (const { image, weight } of images) {
    if (image.width !== first.width || image.height !== first.height) {
      throw new GenerationRequestError('blended init images must share one size; resize them first');
    }
    for (let i = 0; i < sum.length; i++) sum[i]! += (image.data[i]! * weight) / total;
  }
  return rawImage(
    first.width,
    first.height,
    Uint8Array.from(sum, (v) => Math.round(v)),
  );
}

/**
 * Initial noise of grid image `index`: its own stream (seed, index), mixed with a stream shared by the
 * grid. `--chaos 0` shares half the variance (the four images are related takes), `--chaos 100` none.
 * The mix keeps unit variance, and image i never depends on which other images are made.
 */
export function initialNoise(seed: number, index: number, chaos: number, size: number): FloatTensor {
  const own = gaussian(seed, index, 0, size);
  const shared = 0.5 * (1 - chaos / 100);
  if (shared > 0) {
    const common = gaussian(seed, SHARED_STREAM, 0, size);
    const a = Math.sqrt(1 - shared);
    const b = Math.sqrt(shared);
    for (let k = 0; k < size; k++) own[k] = a * own[k]! + b * common[k]!;
  }
  return { data: own, dims: [1, size] };
}

/** Per-image guidance: `--chaos` also jitters the scale by up to x/÷ 2^(chaos/100) per image. */
export function guidanceFor(seed: number, index: number, scale: number, chaos: number): number {
  if (chaos === 0) return scale;
  const [u] = uniform(seed, index, 0, 1);
  return scale * 2 ** ((chaos / 100) * (2 * u! - 1));
}

function previewGrid(latents: Float32Array, n: number, height: number, width: number): RawImage {
  const plane = LATENT_CHANNELS * height * width;
  const cells = Array.from({ length: n }, (_, i) =>
    rawImage(width, height, latentToRgb(latents, i * plane, height, width)),
  );
  return composeGrid(cells);
}
