/**
 * The latent diffusion pipeline: encode prompts -> prepare latents -> loop(UNet, scheduler.step) -> decode.
 * Sessions, tokenizer and config are injected; `DiffusionPipeline.fromPretrained(dir)` loads them from a
 * diffusers/Optimum ONNX folder (or the project's layout with an image encoder and an upscaler).
 */
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { resizeCover } from '../images/decode.js';
import { type RawImage, rawImage } from '../images/raw-image.js';
import {
  type Distillation,
  type GuidanceMode,
  type ModelConfig,
  ModelFolderError,
  readModelConfig,
} from '../model/config.js';
import { needsUnconditionalRow } from '../model/guidance-rows.js';
import { baseStepsFor } from '../model/steps.js';
import { readModelStyles } from '../model/styles.js';
import { Backend, type BackendOptions, type Feed, type ModelSession } from './backend.js';
import {
  chooseStarts,
  choosingStep,
  pickRows,
  promptScore,
  type ScoringTarget,
  SECOND_START_STREAM,
  schedulerAllowsChoosing,
} from './candidate-selection.js';
import { blendKept, composite, featheredMask, latentMask } from './canvas-ops.js';
import { canonicalOrder } from './condition-order.js';
import { combineConditional, combineGuidance } from './guidance.js';
import { resolveImagePrompts } from './image-prompts.js';
import { cropBorder, padCircular, rgbToTensor, rollLatents, tensorToRgbImages } from './latent-ops.js';
import type { LatentStyleScales, StyleTarget } from './latent-style-guidance.js';
import { guidanceFor, initialNoise, stepNoise, tileShift } from './noise.js';
import { PreviewDecoder } from './preview-decoder.js';
import {
  type Condition,
  type GenerationRequest,
  GenerationRequestError,
  type GenerationResult,
  type InitImage,
  type ProgressCallback,
  type StyleRequest,
} from './request.js';
import {
  createScheduler,
  guidanceScaleEmbedding,
  type Scheduler,
  type SchedulerName,
  schedulerForModel,
} from './schedulers/index.js';
import { SdxlTextConditioner } from './sdxl-conditioning.js';
import { appendStyleTokens, StyleConditioner } from './style-conditioning.js';
import { cat, type FloatTensor, repeatBatch, sliceBatch } from './tensor.js';
import {
  outputName,
  SdTextConditioner,
  stackRows,
  type TextConditioner,
  type UnetRows,
} from './text-conditioning.js';
import { type Upscaled, upscaleImage } from './upscale.js';

export interface PipelineParts {
  backend: Backend;
  config: ModelConfig;
  /** The base's text encoders and tokenizers, behind one interface (text-conditioning.ts). */
  text: TextConditioner;
  unet: ModelSession;
  vaeDecoder: ModelSession;
  vaeEncoder: ModelSession | null;
  imageEncoder: ModelSession | null;
  upscaler: ModelSession | null;
  /** Named styles and the style encoder (`style_encoder/`), null for a model with one style. */
  style?: StyleConditioner | null;
  /** Progress previews: `vae_decoder_tiny/` when the folder has one; absent, the linear latent map. */
  previewDecoder?: PreviewDecoder;
}

export interface PipelineOptions extends BackendOptions {
  /** Most UNet rows per call; by default one call carries everything and halves only on allocation failure. */
  maxUnetBatch?: number;
  /** The style guidance row's weight instead of the folder's (`ModelStyles.guidanceWeight`); 0 drops the row. */
  styleGuidance?: number;
  /** false: one start per grid image even when the folder asks for choosing (`candidate_selection`). */
  chooseStarts?: boolean;
  /**
   * The latent style guidance scale instead of the folder's (`style_encoder/latent_probe.json`), for
   * `--style` and `--sref` alike unless `latentSrefGuidance` is given too; 0: off.
   */
  latentStyleGuidance?: number;
  /** The latent style guidance scale for `--sref` instead of the folder's `sref_scale`; 0: off. */
  latentSrefGuidance?: number;
}

export interface ModelDefaults {
  /** Steps at `--q 1`: the folder's own, else its family's (`baseStepsFor`). */
  steps: number;
  guidanceScale: number;
  scheduler: SchedulerName;
  /** The family's distillation, for `stepsForQuality`'s per-family ranges. */
  distilled: Distillation;
  /** How the model takes guidance (`cfg`, `embedded` for LCM, `none` for Turbo). */
  guidance: GuidanceMode;
  /** Native square side in pixels and the multiple every side must be. */
  size: number;
  sizeMultiple: number;
  hasImageEncoder: boolean;
  hasUpscaler: boolean;
  /** The names `--style` takes (empty: one style) and whether `--sref` images can set the style. */
  styles: string[];
  styleReference: boolean;
  /** Weight of the style guidance row a job with a style gets (0: none). */
  styleGuidance: number;
  /** Latent style guidance scale for a `--style` job (0: none; latent-style-guidance.ts). */
  latentStyleGuidance: number;
  /** The same for a `--sref` job. */
  latentSrefGuidance: number;
  /** The fraction of the steps at which each image's two starts are compared; null: one start each. */
  chooseStartsAt: number | null;
  /** What the host should know about the folder (an fp16 VAE that will overflow), logged at start. */
  warnings: string[];
}

const LATENT_CHANNELS = 4;
const LINEAR_PREVIEW = PreviewDecoder.linear();
/** Largest output area, in native squares: attention cost grows with the square of the area. */
export const MAX_AREA_FACTOR = 4;

/**
 * Default guidance scale per guidance mode: CFG 7.5 (diffusers' SD default); guidance-distilled 1 (in this
 * engine's formula e_u + g * sum w (e_c - e_u), g = 1 is the conditional prediction alone, which is what
 * the Turbo model cards' guidance_scale 0.0 means in diffusers' no-CFG path); LCM 8.5 (the LCM pipeline's
 * default, fed as the `timestep_cond` embedding).
 */
const DEFAULT_GUIDANCE: Readonly<Record<GuidanceMode, number>> = { cfg: 7.5, none: 1, embedded: 8.5 };

/** The loop's last step + 1: `fraction` (--stop) of the sampler's steps, at least one step after `start`. */
function loopStop(totalSteps: number, start: number, fraction: number): number {
  return Math.max(start + 1, Math.round(totalSteps * fraction));
}

/** Step 1's result: what the UNet is conditioned on. */
interface EncodedPrompt {
  /** One weight per condition, in the order of the rows after the unconditional block (if any). */
  weights: number[];
  /**
   * Per-row UNet inputs of [uncond, ...conditions] (no uncond block when `uncond` is false), each block
   * one row per grid image: `encoder_hidden_states`, and on SDXL `text_embeds` and `time_ids`.
   */
  rows: UnetRows;
  /** The same blocks with one row each, for stacking for another number of images. */
  blocks: UnetRows[];
  /** Whether `rows` start with the unconditional block (classifier-free guidance). */
  uncond: boolean;
  /** The conditions the rows encode (zero weights dropped, canonical order), for choosing among starts. */
  conditions: readonly Condition[];
  init: InitImage | null;
  notes: string[];
  /** Latent style guidance's pull, for a job with a style on a folder with the probe. */
  styleTarget: StyleTarget | null;
}

/** How the loop reports its steps: as steps offset + 1.. of total, previews of the first `previewImages`. */
interface LoopView {
  offset: number;
  total: number;
  previewImages: number;
}

/** Step 2's result: the sampler and where its loop starts and stops. */
interface PreparedLatents {
  scheduler: Scheduler;
  latents: Float32Array;
  /** [images, channels, height, width] of `latents`. */
  dims: readonly number[];
  /** The loop runs the sampler's steps start..stop-1. */
  start: number;
  stop: number;
  /** Guidance scale of each grid image. */
  scales: number[];
  /** With a canvas: the source's latent, the latent mask (1 paint) and the noise it is noised with. */
  kept?: { source: Float32Array; mask: Float32Array; noise: Float32Array };
  /**
   * An inpainting UNet's extra input channels for one image, [5, h, w]: the binary latent-size mask
   * (1 paint) and the VAE latents of the masked image; the same for every grid image.
   */
  inpaint?: Float32Array;
}

function isAllocationFailure(error: unknown): boolean {
  return error instanceof Error && /alloc|out of memory|\boom\b|bad_alloc/i.test(error.message);
}

export class DiffusionPipeline {
  private maxUnetBatch: number;
  private readonly styleGuidance: number;
  private readonly choosing: { at: number } | null;
  /** The latent style guidance scales jobs use: the pipeline options' over the folder's; null without a probe. */
  private readonly latentStyleScales: LatentStyleScales | null;

  constructor(
    private readonly parts: PipelineParts,
    options: Pick<
      PipelineOptions,
      'maxUnetBatch' | 'styleGuidance' | 'chooseStarts' | 'latentStyleGuidance' | 'latentSrefGuidance'
    > = {},
  ) {
    const style = options.latentStyleGuidance;
    const sref = options.latentSrefGuidance ?? style;
    const guide = parts.style?.guide;
    this.latentStyleScales = guide
      ? {
          style: style ?? guide.scales.style,
          sref: sref ?? guide.scales.sref,
        }
      : null;
    this.maxUnetBatch = options.maxUnetBatch ?? Number.POSITIVE_INFINITY;
    this.styleGuidance = options.styleGuidance ?? parts.style?.styles.guidanceWeight ?? 0;
    this.choosing = options.chooseStarts === false ? null : parts.config.candidateSelection;
  }

  static async fromPretrained(dir: string, options: PipelineOptions = {}): Promise<DiffusionPipeline> {
    const config = readModelConfig(dir);
    const backend = new Backend(options);
    try {
      const load = (part: string) => backend.load(join(dir, part, 'model.onnx'), part);
      const optional = (part: string) => (existsSync(join(dir, part, 'model.onnx')) ? load(part) : null);
      const styles = readModelStyles(dir);
      const [textEncoders, unet, vaeDecoder, vaeEncoder, imageEncoder, upscaler, style, previewDecoder] =
        await Promise.all([
          Promise.all(config.textEncoders.map((e) => load(e.folder))),
          load('unet'),
          load('vae_decoder'),
          optional('vae_encoder'),
          optional('image_encoder'),
          optional('upscaler'),
          styles ? StyleConditioner.load(dir, styles, backend) : null,
          PreviewDecoder.load(backend, dir),
        ]);
      const text =
        config.family.base === 'sdxl'
          ? SdxlTextConditioner.create(config, textEncoders, unet)
          : SdTextConditioner.create(config, textEncoders);
      return new DiffusionPipeline(
        {
          backend,
          config,
          text,
          unet,
          vaeDecoder,
          vaeEncoder,
          imageEncoder,
          upscaler,
          style,
          previewDecoder,
        },
        options,
      );
    } catch (error) {
      await backend.dispose();
      throw error;
    }
  }

  get defaults(): ModelDefaults {
    const { config } = this.parts;
    const { distilled, guidance } = config.family;
    return {
      steps: config.defaults.steps ?? baseStepsFor(distilled),
      guidanceScale: config.defaults.guidanceScale ?? DEFAULT_GUIDANCE[guidance],
      scheduler: schedulerForModel(config),
      distilled,
      guidance,
      size: config.sampleSize,
      sizeMultiple: config.vaeFactor * config.latentMultiple,
      hasImageEncoder: this.parts.imageEncoder !== null,
      hasUpscaler: this.parts.upscaler !== null,
      styles: this.parts.style?.styles.names ?? [],
      styleReference: this.parts.style?.styles.hasEncoder ?? false,
      styleGuidance: this.parts.style ? this.styleGuidance : 0,
      latentStyleGuidance: this.latentStyleScales?.style ?? 0,
      latentSrefGuidance: this.latentStyleScales?.sref ?? 0,
      chooseStartsAt: this.choosing?.at ?? null,
      warnings: [this.vaeOverflowWarning].filter((w) => w !== null),
    };
  }

  /** Time spent inside onnxruntime since the last reset (for the overhead benchmark). */
  get clock() {
    return this.parts.backend.clock;
  }

  async dispose(): Promise<void> {
    await this.parts.backend.dispose();
  }

  /**
   * diffusers' order: encode the prompt -> prepare the latents -> the denoising loop -> decode. `signal`
   * aborts between steps (a cancelled or timed-out job stops within one UNet call).
   */
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
    const prompt = await this.encodePrompt(request, onProgress);
    const plan = await this.choosingPlan(request, prompt);
    const final = plan
      ? await this.denoiseChoosing(request, prompt, plan, onProgress, signal)
      : (
          await this.denoise(
            request,
            prompt,
            await this.prepareLatents(request, prompt.init),
            onProgress,
            signal,
          )
        ).output;
    onProgress?.({ stage: 'decode', step: 0, total: 1 });
    let images = await this.decode(final, request.tile);
    if (request.canvas) {
      const { image, mask } = request.canvas;
      const radius = Math.max(1, Math.round(Math.min(request.width, request.height) / 32));
      const alpha = featheredMask(mask, request.width, request.height, radius);
      images = images.map((generated) => composite(generated, image, alpha));
    }
    onProgress?.({ stage: 'decode', step: 1, total: 1 });
    return {
      images,
      indices: [...request.images],
      width: request.width,
      height: request.height,
      notes: prompt.notes,
      timings: {
        totalMs: performance.now() - started,
        onnxMs: this.clock.milliseconds - clockStart,
        onnxRuns: this.clock.runs - runsStart,
      },
    };
  }

  /** 2x with the model's upscaler when it ships one, else sharp (Lanczos). */
  upscale(image: RawImage): Promise<Upscaled> {
    return upscaleImage(this.parts.upscaler, image);
  }

  /**
   * Pooled text embeddings, one row a text: `pooler_output` of SD's text encoder; on SDXL text_encoder_2's
   * projected `text_embeds` (the pooled embedding its UNet is conditioned on).
   */
  embedTexts(texts: readonly string[]): Promise<Float32Array[]> {
    return this.parts.text.pooled(texts);
  }

  /** The image's embedding in the text encoder's space (`image_embeds`); null without an image encoder. */
  async embedImage(image: RawImage): Promise<Float32Array | null> {
    const { imageEncoder, config } = this.parts;
    if (!imageEncoder) return null;
    const size = config.imageEncoderSize ?? 224;
    const pixels = rgbToTensor((await resizeCover(image, size, size)).data, size, size);
    const out = await imageEncoder.run({ pixel_values: { kind: 'float', tensor: pixels } }, [
      outputName(imageEncoder, 'image_embeds'),
    ]);
    return Object.values(out)[0]!.data.slice();
  }

  /**
   * 1. The conditions: zero weights dropped (they change nothing), image prompts folded into an init image
   * when the model has no image encoder, a canonical order (prompt order cannot change the result), and
   * their embeddings, repeated for every grid image.
   */
  private async encodePrompt(
    request: GenerationRequest,
    onProgress?: ProgressCallback,
  ): Promise<EncodedPrompt> {
    const resolved = await resolveImagePrompts(request, this.takesImagePrompts);
    let conditions: readonly Condition[] = canonicalOrder(resolved.conditions.filter((c) => c.weight !== 0));
    // A part longer than the text encoder's window loses its end: say so, not silently.
    const notes = [...resolved.notes];
    for (const c of conditions) {
      if (c.kind !== 'text') continue;
      const over = this.parts.text.tokenizer.overflow(c.text);
      if (over) notes.push(`"${c.text.slice(0, 40)}…" was cut after ${over.kept} tokens: ${over.cut}`);
    }
    onProgress?.({ stage: 'encode', step: 0, total: 1 });
    const uncond = this.needsUncond(
      conditions.map((c) => c.weight),
      request.guidanceScale,
      notes,
    );
    // No condition left and no CFG row: the empty prompt is the one condition.
    if (!uncond && conditions.length === 0) conditions = [{ kind: 'text', text: '', weight: 1 }];
    let encoded = await this.encodeConditions(conditions, uncond, request);
    const weights = conditions.map((c) => c.weight);
    let styleTarget: StyleTarget | null = null;
    if (request.style)
      ({ rows: encoded, target: styleTarget } = await this.withStyle(
        encoded,
        weights,
        request.style,
        notes,
        uncond,
      ));
    return {
      styleTarget,
      weights,
      rows: stackRows(encoded, request.images.length),
      blocks: encoded,
      uncond,
      conditions,
      init: resolved.init,
      notes,
    };
  }

  /**
   * Every row's content tokens followed by style tokens: the job's in the condition rows, the learned
   * no-style tokens in the unconditional block. Guidance then amplifies the style along with the content
   * (e = e_u + g * sum w (e_c - e_u) with the style only in e_c); the same style in every row left it at
   * guidance 1, and `--style X` was judged as X for 0.39 of images against 0.59 this way (eval, 24
   * concepts, emoji-ld2 at UNet step 11,151, concept top-1 0.45 against 0.44).
   *
   * With a style guidance weight w_s (the folder's, or the pipeline option), one more block of rows: the
   * unconditional row's content (the empty prompt) with the job's style tokens, at weight w_s in the same
   * sum. It pushes the style without the content, as InstructPix2Pix guides its two conditions (at step
   * 11,151 it cost less of the concept per unit of style than extrapolating with `--sw`; at step 22,000 it
   * levelled off near 0.7 of style while the concept fell, so the shipped folder leaves it at 0: recipe
   * README). `weights` gains that row's weight.
   *
   * Also the job's latent style guidance target (null without the folder's probe or at `--sw 0`).
   */
  private async withStyle(
    rows: UnetRows[],
    weights: number[],
    style: StyleRequest,
    notes: string[],
    uncond: boolean,
  ): Promise<{ rows: UnetRows[]; target: StyleTarget | null }> {
    const conditioner = this.parts.style;
    if (!conditioner) throw new GenerationRequestError('this model has one style');
    const tokens = await conditioner.tokensFor(style);
    if (tokens.nearest) notes.push(`the style reference looks most like ${tokens.nearest}`);
    const none = conditioner.noStyle();
    const styled = rows.map((row, i) => ({
      ...row,
      encoder_hidden_states: appendStyleTokens(
        row['encoder_hidden_states']!,
        uncond && i === 0 ? none : tokens,
      ),
    }));
    const empty = rows[0];
    if (uncond && empty && this.styleGuidance > 0 && style.weight > 0) {
      styled.push({
        ...empty,
        encoder_hidden_states: appendStyleTokens(empty['encoder_hidden_states']!, tokens),
      });
      weights.push(this.styleGuidance);
    }
    return { rows: styled, target: conditioner.styleTarget(tokens, style, this.latentStyleScales ?? {}) };
  }

  /** Whether image prompts steer the loop as conditions (else they are folded into an init image). */
  private get takesImagePrompts(): boolean {
    return this.parts.imageEncoder !== null && this.parts.text.takesImageStates;
  }

  /** The unconditional row's rule (needsUnconditionalRow), with a note whenever it costs or changes something. */
  private needsUncond(weights: readonly number[], guidanceScale: number, notes: string[]): boolean {
    const mode = this.parts.config.family.guidance;
    const uncond = needsUnconditionalRow(mode, weights, guidanceScale);
    if (mode === 'embedded' && (weights.length > 1 || weights.some((w) => w < 0)))
      notes.push(
        'this model takes guidance as an embedding (LCM): the weighted or negative parts are combined into ' +
          'the conditioning rows as a weighted mix of their predictions (no unconditional row)',
      );
    if (mode === 'none' && uncond && weights.length > 0) {
      const rows = weights.length;
      notes.push(
        `this model is guidance-distilled; ${guidanceScale === 1 ? 'negative or weighted parts' : `guidance scale ${Number(guidanceScale.toFixed(4))}`} ` +
          `turned guidance on (${rows + 1} UNet rows per image instead of ${rows})`,
      );
    }
    return uncond;
  }

  /**
   * 2. The sampler and the starting latents: per-image noise (mixed with a shared component by --chaos), or a
   * noised init image, which also skips the first steps; --stop ends the loop early.
   */
  private async prepareLatents(request: GenerationRequest, init: InitImage | null): Promise<PreparedLatents> {
    const { config } = this.parts;
    const indices = request.images;
    const height = request.height / config.vaeFactor;
    const width = request.width / config.vaeFactor;
    const rowSize = LATENT_CHANNELS * height * width;
    const scheduler = createScheduler(request.scheduler, config.scheduler, request.steps);
    const totalSteps = scheduler.timesteps.length;
    let start = 0;
    if (init) start = Math.min(totalSteps - 1, totalSteps - Math.floor(totalSteps * init.strength));
    const stop = loopStop(totalSteps, start, request.stop);
    const noise = cat(indices.map((i) => initialNoise(request.seed, i, request.chaos, rowSize)));
    let latents: Float32Array;
    if (init) {
      const encoded = await this.encodeImageLatent(init.image, request.width, request.height);
      latents = scheduler.addNoise(repeatBatch(encoded, indices.length).data, noise.data, start);
    } else {
      latents = noise.data.map((v) => v * scheduler.initNoiseSigma);
    }
    let kept: PreparedLatents['kept'];
    if (request.canvas) {
      const source = (await this.encodeImageLatent(request.canvas.image, request.width, request.height)).data;
      const mask = latentMask(request.canvas.mask, request.width, request.height, config.vaeFactor);
      kept = { source, mask, noise: noise.data };
      latents = blendKept(latents, scheduler.addNoise(source, noise.data.subarray(0, rowSize), start), mask);
    }
    const inpaint = config.family.inpainting ? await this.inpaintChannels(request) : undefined;
    return {
      scheduler,
      latents,
      start,
      stop,
      dims: [indices.length, LATENT_CHANNELS, height, width],
      scales: indices.map((i) => guidanceFor(request.seed, i, request.guidanceScale, request.chaos)),
      ...(kept ? { kept } : {}),
      ...(inpaint ? { inpaint } : {}),
    };
  }

  /**
   * A 9-channel inpainting UNet's conditioning, as diffusers' StableDiffusionInpaintPipeline builds it: the
   * mask binarized (>= 0.5 paints) at latent size, and the VAE latents (scaled) of the image with the
   * painted pixels set to 0 in [-1, 1] (mid grey). Without a canvas everything is painted: a full mask and
   * the latents of an all-zero image (zero latents when the folder has no VAE encoder).
   */
  private async inpaintChannels(request: GenerationRequest): Promise<Float32Array> {
    const { config, vaeEncoder } = this.parts;
    const { width, height } = request;
    const plane = (width / config.vaeFactor) * (height / config.vaeFactor);
    const pixels = request.canvas
      ? rgbToTensor(request.canvas.image.data, height, width)
      : { data: new Float32Array(3 * width * height), dims: [1, 3, height, width] };
    let mask = new Float32Array(plane).fill(1);
    if (request.canvas) {
      const paint = request.canvas.mask;
      const area = width * height;
      for (let p = 0; p < area; p++) {
        if (paint[p]! >= 0.5) for (let c = 0; c < 3; c++) pixels.data[c * area + p] = 0;
      }
      mask = latentMask(paint, width, height, config.vaeFactor).map((m) => (m >= 0.5 ? 1 : 0));
    }
    const masked = vaeEncoder
      ? (await this.encodeTensorLatent(pixels)).data
      : new Float32Array(LATENT_CHANNELS * plane);
    const out = new Float32Array((1 + LATENT_CHANNELS) * plane);
    out.set(mask, 0);
    out.set(masked, plane);
    return out;
  }

  /**
   * 3. The denoising loop: one batched UNet call per step for every image and every condition. Returns the
   * finished latents, or the current clean estimate when --stop ended the loop early.
   */
  private async denoise(
    request: GenerationRequest,
    prompt: EncodedPrompt,
    prepared: PreparedLatents,
    onProgress?: ProgressCallback,
    signal?: AbortSignal,
    view?: LoopView,
  ): Promise<{ output: FloatTensor; latents: Float32Array; estimate: Float32Array }> {
    const { scheduler, start, stop, dims, scales } = prepared;
    const [images = 0, , height = 0, width = 0] = dims;
    const rowSize = LATENT_CHANNELS * height * width;
    const total = view?.total ?? stop - start;
    const shown = view?.previewImages ?? images;
    let latents = prepared.latents;
    let estimate = latents;
    const conditionRows = this.conditionRows(prompt, scales);
    for (let index = start; index < stop; index++) {
      signal?.throwIfAborted();
      let input: FloatTensor = { data: scheduler.scaleModelInput(latents, index), dims };
      // Inpainting UNets: [latents (scaled), mask, masked-image latents] on the channel axis.
      if (prepared.inpaint) input = withChannels(input, prepared.inpaint);
      const shift = request.tile ? tileShift(request.seed, index, height, width) : null;
      if (shift) input = rollLatents(input, shift[0], shift[1]);
      const rows = repeatBatch(input, prompt.weights.length + (prompt.uncond ? 1 : 0));
      let prediction = await this.predict(rows, scheduler.timesteps[index]!, conditionRows);
      if (shift) prediction = rollLatents(prediction, -shift[0], -shift[1]);
      const guided = prompt.uncond
        ? combineGuidance(prediction.data, { images, rowSize }, prompt.weights, scales)
        : combineConditional(prediction.data, { images, rowSize }, prompt.weights);
      const target = prompt.styleTarget;
      const steered =
        target && this.parts.style?.guide
          ? await this.parts.style.guide.steer(guided, latents, scheduler.cleanCoefficients(index), target, [
              images,
              LATENT_CHANNELS,
              height,
              width,
            ])
          : guided;
      const step = scheduler.step(steered, index, latents, () =>
        stepNoise(request.seed, request.images, index, rowSize),
      );
      latents = step.prevSample;
      estimate = step.predOriginal;
      if (prepared.kept) {
        // The kept part is the source at the level the next step starts from (clean after the last).
        const { source, mask, noise } = prepared.kept;
        const next = index + 1;
        const known =
          next < scheduler.timesteps.length
            ? scheduler.addNoise(source, noise.subarray(0, rowSize), next)
            : source;
        latents = blendKept(latents, known, mask);
        estimate = blendKept(estimate, source, mask);
      }
      const done = (view?.offset ?? 0) + index - start + 1;
      const current = shown < images ? estimate.subarray(0, shown * rowSize) : estimate;
      onProgress?.({
        stage: 'denoise',
        step: done,
        total,
        preview: () => (this.parts.previewDecoder ?? LINEAR_PREVIEW).grid(current, shown, height, width),
      });
    }
    const output = { data: stop < scheduler.timesteps.length ? estimate : latents, dims };
    return { output, latents, estimate };
  }

  /**
   * Choosing among starts for this job: when (`at` of the steps) and what each estimate is compared with,
   * the pooled embedding of every text part and the image embedding of every image part, at their
   * weights. Null when the job gets one start per image:
   * the folder does not ask for choosing, the job starts from an image or a canvas (variations, Zoom, Pan,
   * Vary (Region) keep their source), tiles, runs on an inpainting UNet or a sampler with memory, has no
   * image encoder, or has no non-empty part to compare with.
   */
  private async choosingPlan(
    request: GenerationRequest,
    prompt: EncodedPrompt,
  ): Promise<{ at: number; targets: ScoringTarget[] } | null> {
    if (!this.choosing || prompt.init || request.canvas || request.tile) return null;
    if (this.parts.config.family.inpainting || !this.parts.imageEncoder) return null;
    if (!schedulerAllowsChoosing(request.scheduler)) return null;
    // a fresh grid's loop starts at step 0 (no init image)
    const steps = createScheduler(request.scheduler, this.parts.config.scheduler, request.steps).timesteps;
    const stop = loopStop(steps.length, 0, request.stop);
    if (choosingStep(0, stop, this.choosing.at) === null) return null;
    const targets: ScoringTarget[] = [];
    const texts = prompt.conditions.filter(
      (c): c is Extract<Condition, { kind: 'text' }> => c.kind === 'text' && c.text.trim() !== '',
    );
    const pooled = await this.embedTexts(texts.map((c) => c.text));
    for (const [i, c] of texts.entries()) targets.push({ embedding: pooled[i]!, weight: c.weight });
    for (const c of prompt.conditions) {
      if (c.kind !== 'image') continue;
      const embedding = await this.embedImage(c.image);
      if (embedding) targets.push({ embedding, weight: c.weight });
    }
    return targets.length > 0 ? { at: this.choosing.at, targets } : null;
  }

  /**
   * 3'. The loop with two starts per grid image (slot i: noise streams i and i + SECOND_START_STREAM): both
   * run to the choosing step, their clean estimates are decoded and scored against the prompt, and each
   * slot goes on with its better start, with that start's own step noise and guidance jitter. Progress
   * counts the steps of one loop and previews the first starts until the choice.
   */
  private async denoiseChoosing(
    request: GenerationRequest,
    prompt: EncodedPrompt,
    plan: { at: number; targets: readonly ScoringTarget[] },
    onProgress?: ProgressCallback,
    signal?: AbortSignal,
  ): Promise<FloatTensor> {
    const slots = request.images;
    const both: GenerationRequest = {
      ...request,
      images: [...slots, ...slots.map((i) => i + SECOND_START_STREAM)],
    };
    const bothPrompt = { ...prompt, rows: stackRows(prompt.blocks, both.images.length) };
    const prepared = await this.prepareLatents(both, null);
    // choosingPlan saw a step strictly inside this loop, so `at` is set
    const at = choosingStep(prepared.start, prepared.stop, plan.at)!;
    const total = prepared.stop - prepared.start;
    const [, channels = 0, height = 0, width = 0] = prepared.dims;
    const rowSize = channels * height * width;
    const early = await this.denoise(both, bothPrompt, { ...prepared, stop: at }, onProgress, signal, {
      offset: 0,
      total,
      previewImages: slots.length,
    });
    const estimates = await this.decode({ data: early.estimate, dims: prepared.dims }, false);
    const scores: number[] = [];
    for (const image of estimates) scores.push(promptScore((await this.embedImage(image))!, plan.targets));
    const second = chooseStarts(scores, slots.length);
    const rows = second.map((s, j) => j + s * slots.length);
    const chosen: GenerationRequest = { ...request, images: rows.map((r) => both.images[r]!) };
    const rest = await this.denoise(
      chosen,
      prompt,
      {
        scheduler: prepared.scheduler,
        latents: pickRows(early.latents, rowSize, rows),
        dims: [slots.length, channels, height, width],
        start: at,
        stop: prepared.stop,
        scales: rows.map((r) => prepared.scales[r]!),
      },
      onProgress,
      signal,
      { offset: at - prepared.start, total, previewImages: slots.length },
    );
    return rest.output;
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
    if (request.canvas) {
      if (!this.parts.vaeEncoder) fail('this model has no VAE encoder, so it cannot paint around an image');
      const { image, mask } = request.canvas;
      if (
        image.width !== request.width ||
        image.height !== request.height ||
        mask.length !== image.width * image.height
      )
        fail('the canvas image and mask must have the request size');
    }
    if (
      request.conditions.some((c) => c.kind === 'image') &&
      !this.parts.vaeEncoder &&
      !this.takesImagePrompts
    ) {
      fail('this model has neither an image encoder nor a VAE encoder, so it cannot take image prompts');
    }
  }

  /** [uncond (when `uncond`), ...conditions] rows of UNet inputs, each [1, ...]. */
  private async encodeConditions(
    conditions: readonly Condition[],
    uncond: boolean,
    request: GenerationRequest,
  ): Promise<UnetRows[]> {
    const { text, imageEncoder } = this.parts;
    const encoded = await text.encode(
      conditions.flatMap((c) => (c.kind === 'text' ? [c.text] : [])),
      { uncond, width: request.width, height: request.height },
    );
    const imageConditions = conditions.filter((c) => c.kind === 'image');
    let imageStates: FloatTensor | null = null;
    if (imageConditions.length > 0 && imageEncoder && this.takesImagePrompts) {
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
      const textStates = (encoded.uncond ?? encoded.texts[0])?.['encoder_hidden_states'];
      if (textStates && imageStates.dims.slice(1).join() !== textStates.dims.slice(1).join()) {
        throw new GenerationRequestError(
          `image encoder states [${imageStates.dims}] do not match text states [${textStates.dims}]`,
        );
      }
    }
    let textIndex = 0;
    let image = 0;
    const rows: UnetRows[] = encoded.uncond ? [encoded.uncond] : [];
    for (const c of conditions) {
      rows.push(
        c.kind === 'text'
          ? encoded.texts[textIndex++]!
          : { encoder_hidden_states: sliceBatch(imageStates!, image, ++image) },
      );
    }
    return rows;
  }

  /** Scaled latent [1, 4, h, w] of an image resized (cover) to the output size. */
  private async encodeImageLatent(image: RawImage, width: number, height: number): Promise<FloatTensor> {
    const encoder = this.parts.vaeEncoder;
    if (!encoder)
      throw new GenerationRequestError('this model has no VAE encoder, so it cannot take init images');
    const resized = await resizeCover(image, width, height);
    return this.encodeTensorLatent(rgbToTensor(resized.data, height, width));
  }

  /** Scaled latent [1, 4, h, w] of an image tensor [1, 3, H, W] in [-1, 1]. */
  private async encodeTensorLatent(pixels: FloatTensor): Promise<FloatTensor> {
    const encoder = this.parts.vaeEncoder;
    if (!encoder)
      throw new GenerationRequestError('this model has no VAE encoder, so it cannot take init images');
    const out = await encoder.run({ sample: { kind: 'float', tensor: pixels } });
    // diffusers exports give `latent_sample` [1,4,h,w]; newer Optimum `latent_parameters` [1,8,h,w] = (mean,
    // logvar). The mean (first four channels) is the deterministic encoding in both cases.
    const raw = out['latent_sample'] ?? out['latent_parameters'] ?? Object.values(out)[0]!;
    const [, , h = 0, w = 0] = raw.dims;
    const mean = raw.data.subarray(0, LATENT_CHANNELS * h * w);
    if (!mean.every(Number.isFinite)) throw this.nonFinite('encoder', 'latents');
    return { data: mean.map((v) => v * this.parts.config.scalingFactor), dims: [1, LATENT_CHANNELS, h, w] };
  }

  /**
   * Per-row UNet inputs besides the sample and the timestep, constant over the loop: the prompt's rows
   * (embeddings; on SDXL also `text_embeds` and `time_ids`) and, on an LCM-distilled UNet, `timestep_cond` = the guidance-scale embedding of each row's image scale
   * ([rows, time_cond_proj_dim]; rows are condition-major, so row r belongs to image r % images).
   */
  private conditionRows(prompt: EncodedPrompt, scales: readonly number[]): UnetRows {
    const { unet, config } = this.parts;
    const rows: UnetRows = { ...prompt.rows };
    if (unet.inputs.has('timestep_cond')) {
      const declared = unet.input('timestep_cond').shape[1];
      const dim = config.unet.timeCondProjDim ?? (typeof declared === 'number' ? declared : null);
      if (dim === null)
        throw new GenerationRequestError('the UNet takes timestep_cond but its width is unknown');
      const count = prompt.rows['encoder_hidden_states']!.dims[0]!;
      const data = new Float32Array(count * dim);
      const byScale = new Map<number, Float32Array>();
      for (let r = 0; r < count; r++) {
        const g = scales[r % scales.length]!;
        let embedding = byScale.get(g);
        if (!embedding) {
          embedding = guidanceScaleEmbedding(g, dim);
          byScale.set(g, embedding);
        }
        data.set(embedding, r * dim);
      }
      rows['timestep_cond'] = { data, dims: [count, dim] };
    }
    return rows;
  }

  /** One UNet call over all rows (chunked only when a call fails to allocate). */
  private async predict(sample: FloatTensor, timestep: number, conditions: UnetRows): Promise<FloatTensor> {
    const rows = sample.dims[0]!;
    for (;;) {
      const chunk = Math.min(rows, this.maxUnetBatch);
      try {
        if (chunk === rows) return await this.runUnet(sample, timestep, conditions);
        const parts: FloatTensor[] = [];
        for (let start = 0; start < rows; start += chunk) {
          const end = Math.min(rows, start + chunk);
          const slice: UnetRows = {};
          for (const [name, tensor] of Object.entries(conditions))
            slice[name] = sliceBatch(tensor, start, end);
          parts.push(await this.runUnet(sliceBatch(sample, start, end), timestep, slice));
        }
        return parts.length === 1 ? parts[0]! : cat(parts);
      } catch (error) {
        if (!isAllocationFailure(error) || chunk <= 1) throw error;
        this.maxUnetBatch = Math.max(1, Math.floor(chunk / 2));
      }
    }
  }

  private async runUnet(sample: FloatTensor, timestep: number, conditions: UnetRows): Promise<FloatTensor> {
    const rows = sample.dims[0]!;
    const feeds: Record<string, Feed> = {
      sample: { kind: 'float', tensor: sample },
      // Exporters disagree on the timestep: int64/float32/float16, [B] or 0-d; the backend converts to
      // whatever this export declares (0-d takes the first value: all rows share one timestep).
      timestep: { kind: 'float', tensor: { data: new Float32Array(rows).fill(timestep), dims: [rows] } },
    };
    for (const [name, tensor] of Object.entries(conditions)) feeds[name] = { kind: 'float', tensor };
    const out = await this.parts.unet.run(feeds, [outputName(this.parts.unet, 'out_sample')]);
    return Object.values(out)[0]!;
  }

  /**
   * A float16 VAE decoder whose config asks for float32 decoding (`force_upcast`: the SDXL VAE's
   * activations pass float16's range). diffusers upcasts the VAE itself; an ONNX graph's dtype is fixed at
   * export, so the engine cannot, and says so (docs/models.md, "fp16 SDXL and the VAE").
   */
  get vaeOverflowWarning(): string | null {
    const { config, vaeDecoder, vaeEncoder } = this.parts;
    if (!config.vaeForceUpcast) return null;
    const half = [
      vaeDecoder.input('latent_sample').type === 'float16' ? 'vae_decoder' : null,
      vaeEncoder?.input('sample').type === 'float16' ? 'vae_encoder' : null,
    ].filter((part) => part !== null);
    if (half.length === 0) return null;
    return (
      `${half.join(' and ')} ${half.length > 1 ? 'are' : 'is'} float16 but the VAE config says force_upcast ` +
      '(this VAE overflows in float16): replace them with an fp32 export or with madebyollin/sdxl-vae-fp16-fix'
    );
  }

  /** Non-finite VAE output: a model problem (an fp16 VAE that overflows), not the request's. */
  private nonFinite(part: 'decoder' | 'encoder', what: string): ModelFolderError {
    const warning = this.vaeOverflowWarning;
    return new ModelFolderError(
      `the VAE ${part} gave non-finite ${what}${warning ? ` (it overflowed: ${warning})` : ''}`,
    );
  }

  /** 4. The VAE decoder: latents -> RGB images. */
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
    if (!out.data.every(Number.isFinite)) throw this.nonFinite('decoder', 'pixels');
    if (pad > 0) out = cropBorder(out, pad * config.vaeFactor);
    const [, , height = 0, width = 0] = out.dims;
    return tensorToRgbImages(out).map((pixels) => rawImage(width, height, pixels));
  }
}

/** [images, c, h, w] with `extra` (k channels of one image, the same for every image) appended to each. */
function withChannels(input: FloatTensor, extra: Float32Array): FloatTensor {
  const [images = 0, channels = 0, height = 0, width = 0] = input.dims;
  const row = channels * height * width;
  const data = new Float32Array(images * (row + extra.length));
  for (let i = 0; i < images; i++) {
    data.set(input.data.subarray(i * row, (i + 1) * row), i * (row + extra.length));
    data.set(extra, i * (row + extra.length) + row);
  }
  return { data, dims: [images, channels + extra.length / (height * width), height, width] };
}
