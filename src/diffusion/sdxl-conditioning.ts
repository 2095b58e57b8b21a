/**
 * SDXL's text conditioning, as diffusers' StableDiffusionXLPipeline builds it (`encode_prompt`,
 * `_get_add_time_ids`):
 *
 * - every text encoder (CLIP ViT-L, then OpenCLIP bigG), each with its own tokenizer, gives its
 *   penultimate hidden state (`hidden_states[-2]`); they are concatenated on the feature axis
 *   (768 + 1280 = 2048) as `encoder_hidden_states`;
 * - the last encoder's projected pooled output (`text_embeds`) is the UNet's `text_embeds`;
 * - `time_ids` are the micro-conditioning [original h, w, crop top, left, target h, w] = [h, w, 0, 0, h, w]
 *   of the request, or, in the refiner layout (`requires_aesthetics_score`), [h, w, 0, 0, score] with the
 *   aesthetic score 6 (2.5 on the unconditional row);
 * - with `force_zeros_for_empty_prompt` the unconditional row's hidden states and pooled embeddings are
 *   zeros, as diffusers does when no negative prompt is given.
 */
import { type ModelConfig, ModelFolderError } from '../model/config.js';
import type { ModelSession } from './backend.js';
import type { FloatTensor } from './tensor.js';
import {
  type EncodedTexts,
  idsFeed,
  pooledRows,
  type TextConditioner,
  type TextEncodeOptions,
  tokenizerFor,
  type UnetRows,
} from './text-conditioning.js';
import type { PromptTokenizer } from './tokenizer.js';

/** diffusers' StableDiffusionXLImg2ImgPipeline defaults for the refiner's aesthetic-score time id. */
export const AESTHETIC_SCORE = 6;
export const NEGATIVE_AESTHETIC_SCORE = 2.5;

interface Encoder {
  label: string;
  session: ModelSession;
  tokenizer: PromptTokenizer;
  /** The penultimate `hidden_states.N` output. */
  penultimate: string;
}

/** The time-id layout: target size (base, 6 values) or aesthetic score (refiner, 5). */
type TimeIds = { count: 6; layout: 'size' } | { count: 5; layout: 'aesthetic' };

/**
 * The second-to-last of the `hidden_states.0..N` outputs by index. Optimum names them so (N = layers:
 * 12 for ViT-L, 32 for bigG); the index comes from the names, so any depth works.
 */
export function penultimateOutput(session: ModelSession): string {
  const states = session.outputNames
    .map((name) => ({ name, index: /^hidden_states\.(\d+)$/.exec(name)?.[1] }))
    .filter((s): s is { name: string; index: string } => s.index !== undefined)
    .sort((a, b) => Number(a.index) - Number(b.index));
  const penultimate = states.at(-2);
  if (!penultimate) {
    throw new ModelFolderError(
      `${session.label} has no hidden_states.N outputs (has ${session.outputNames.join(', ')}); SDXL is ` +
        'conditioned on the penultimate layer: export the folder with Optimum, which exports SDXL text ' +
        'encoders with output_hidden_states',
    );
  }
  return penultimate.name;
}

/** Declared width of axis `axis` of a UNet input, when the export fixes it. */
function declared(unet: ModelSession, input: string, axis: number): number | null {
  const size = unet.inputs.get(input)?.shape[axis];
  return typeof size === 'number' ? size : null;
}

/**
 * How many time ids the UNet takes: its declared `time_ids` width, else what its config implies
 * ((projection_class_embeddings_input_dim - pooled width) / addition_time_embed_dim, as diffusers checks),
 * else the refiner flag's count. A count that contradicts the flag is the error diffusers raises too.
 */
function timeIdsFor(config: ModelConfig, unet: ModelSession, pooledWidth: number | null): TimeIds {
  const { projectionClassEmbeddingsInputDim: total, additionTimeEmbedDim: each } = config.unet;
  const fromConfig =
    total !== null && each !== null && pooledWidth !== null ? (total - pooledWidth) / each : null;
  const count = declared(unet, 'time_ids', 1) ?? fromConfig ?? (config.requiresAestheticsScore ? 5 : 6);
  const flag = config.requiresAestheticsScore;
  if (count === 6 && !flag) return { count, layout: 'size' };
  if (count === 5 && flag) return { count, layout: 'aesthetic' };
  if (count === 5 || count === 6) {
    throw new ModelFolderError(
      `the UNet takes ${count} time ids but model_index.json has requires_aesthetics_score ${flag}: ` +
        `${count === 5 ? 'set it to true (a refiner)' : 'set it to false (a base model)'}`,
    );
  }
  throw new ModelFolderError(`the UNet takes ${count} time ids; SDXL has 6 (base) or 5 (refiner)`);
}

/** [n, L, d1], [n, L, d2], ... -> [n, L, d1 + d2 + ...]. */
function concatFeatures(parts: readonly FloatTensor[]): FloatTensor {
  const [n = 0, length = 0] = parts[0]!.dims;
  for (const p of parts) {
    if (p.dims[0] !== n || p.dims[1] !== length)
      throw new ModelFolderError(`text encoder states [${p.dims}] and [${parts[0]!.dims}] do not line up`);
  }
  const widths = parts.map((p) => p.dims[2]!);
  const total = widths.reduce((a, w) => a + w, 0);
  const out = new Float32Array(n * length * total);
  for (let t = 0; t < n * length; t++) {
    let offset = t * total;
    parts.forEach((p, i) => {
      const w = widths[i]!;
      out.set(p.data.subarray(t * w, (t + 1) * w), offset);
      offset += w;
    });
  }
  return { data: out, dims: [n, length, total] };
}

function rowOf(t: FloatTensor, row: number): FloatTensor {
  const size = t.data.length / t.dims[0]!;
  return { data: t.data.slice(row * size, (row + 1) * size), dims: [1, ...t.dims.slice(1)] };
}

function zerosLike(t: FloatTensor): FloatTensor {
  return { data: new Float32Array(t.data.length), dims: t.dims };
}

export class SdxlTextConditioner implements TextConditioner {
  readonly takesImageStates = false;

  private constructor(
    private readonly encoders: readonly Encoder[],
    /** The encoder whose `text_embeds` is pooled (the last with a projection: text_encoder_2). */
    private readonly pooledEncoder: Encoder,
    /** Which of the UNet's SDXL inputs it declares. */
    private readonly unetTakes: { textEmbeds: boolean; timeIds: TimeIds | null },
    private readonly zeroUncond: boolean,
    private readonly unetWidth: number | null,
  ) {}

  get tokenizer(): PromptTokenizer {
    return this.encoders[0]!.tokenizer;
  }

  /** `sessions` in the order of `config.textEncoders`. */
  static create(config: ModelConfig, sessions: readonly ModelSession[], unet: ModelSession) {
    const encoders = config.textEncoders.map((info, i): Encoder => {
      const session = sessions[i];
      if (!session) throw new RangeError(`${info.folder} was not loaded`);
      return {
        label: info.folder,
        session,
        tokenizer: tokenizerFor(config.dir, info.tokenizer, session),
        penultimate: penultimateOutput(session),
      };
    });
    const pooledEncoder = encoders.findLast((e) => e.session.outputNames.includes('text_embeds'));
    if (!pooledEncoder) {
      throw new ModelFolderError(
        'no text encoder of this SDXL folder has a text_embeds output (text_encoder_2, ' +
          'CLIPTextModelWithProjection, gives the pooled embedding the UNet is conditioned on)',
      );
    }
    const pooledWidth = declared(unet, 'text_embeds', 1) ?? config.textEncoders.at(-1)?.projectionDim ?? null;
    const timeIds = unet.inputs.has('time_ids') ? timeIdsFor(config, unet, pooledWidth) : null;
    return new SdxlTextConditioner(
      encoders,
      pooledEncoder,
      { textEmbeds: unet.inputs.has('text_embeds'), timeIds },
      config.forceZerosForEmptyPrompt,
      declared(unet, 'encoder_hidden_states', 2),
    );
  }

  async encode(texts: readonly string[], options: TextEncodeOptions): Promise<EncodedTexts> {
    const encodeEmpty = options.uncond && !this.zeroUncond;
    const batch = encodeEmpty ? ['', ...texts] : [...texts];
    if (batch.length === 0) {
      if (!options.uncond) return { uncond: null, texts: [] };
      batch.push(''); // zeros need the encoders' shapes
    }
    const rows = await this.encodeRows(batch, options);
    const offset = encodeEmpty ? 1 : 0;
    const textRows = rows.slice(offset, offset + texts.length);
    if (!options.uncond) return { uncond: null, texts: textRows };
    const first = rows[0]!;
    const uncond: UnetRows = {};
    for (const [name, tensor] of Object.entries(first))
      uncond[name] = this.zeroUncond && name !== 'time_ids' ? zerosLike(tensor) : tensor;
    if (this.unetTakes.timeIds) uncond['time_ids'] = this.timeIds(options, true);
    return { uncond, texts: textRows };
  }

  pooled(texts: readonly string[]): Promise<Float32Array[]> {
    const { session, tokenizer } = this.pooledEncoder;
    return pooledRows(session, tokenizer, 'text_embeds', texts);
  }

  /** One row per text: the concatenated penultimate states, the pooled embedding and the time ids. */
  private async encodeRows(texts: readonly string[], size: TextEncodeOptions): Promise<UnetRows[]> {
    const states: FloatTensor[] = [];
    let pooled: FloatTensor | null = null;
    for (const encoder of this.encoders) {
      const wantsPooled = encoder === this.pooledEncoder && this.unetTakes.textEmbeds;
      const out = await encoder.session.run(
        { input_ids: idsFeed(encoder.tokenizer, texts) },
        wantsPooled ? [encoder.penultimate, 'text_embeds'] : [encoder.penultimate],
      );
      states.push(out[encoder.penultimate]!);
      if (wantsPooled) pooled = out['text_embeds']!;
    }
    const hidden = concatFeatures(states);
    if (this.unetWidth !== null && hidden.dims[2] !== this.unetWidth) {
      throw new ModelFolderError(
        `the text encoders give ${this.encoders.map((e, i) => `${e.label} ${states[i]!.dims[2]}`).join(' + ')} ` +
          `features, the UNet's encoder_hidden_states takes ${this.unetWidth}`,
      );
    }
    const timeIds = this.unetTakes.timeIds ? this.timeIds(size, false) : null;
    return texts.map((_, i) => {
      const row: UnetRows = { encoder_hidden_states: rowOf(hidden, i) };
      if (pooled) row['text_embeds'] = rowOf(pooled, i);
      if (timeIds) row['time_ids'] = timeIds;
      return row;
    });
  }

  /** [1, count] time ids of the request's size (diffusers' original size = target size, no crop). */
  private timeIds(size: TextEncodeOptions, uncond: boolean): FloatTensor {
    const { height, width } = size;
    const layout = this.unetTakes.timeIds!;
    const values =
      layout.layout === 'size'
        ? [height, width, 0, 0, height, width]
        : [height, width, 0, 0, uncond ? NEGATIVE_AESTHETIC_SCORE : AESTHETIC_SCORE];
    return { data: Float32Array.from(values), dims: [1, layout.count] };
  }
}
