/**
 * The text half of step 1 (encode the prompt): how a model base turns texts into the UNet's per-row
 * conditioning inputs, one implementation per base. SD 1.x / 2.x here: one CLIP text encoder whose last
 * hidden state is `encoder_hidden_states`. SDXL (two encoders, pooled `text_embeds`, `time_ids`) is
 * sdxl-conditioning.ts.
 */
import { join } from 'node:path';
import type { ModelConfig } from '../model/config.js';
import type { Feed, ModelSession } from './backend.js';
import { cat, type FloatTensor, repeatBatch, sliceBatch } from './tensor.js';
import { loadPromptTokenizer, type PromptTokenizer } from './tokenizer.js';

/** Per-row UNet inputs by input name (`encoder_hidden_states`, `text_embeds`, ...), [rows, ...] each. */
export type UnetRows = Record<string, FloatTensor>;

export interface EncodedTexts {
  /** The unconditional row ([1, ...] each input), or null when it was not asked for. */
  uncond: UnetRows | null;
  /** One row per text, in order. */
  texts: UnetRows[];
}

export interface TextEncodeOptions {
  /** Whether the unconditional row is needed (classifier-free guidance). */
  uncond: boolean;
  /** The request's output size: SDXL conditions on it (`time_ids`). */
  width: number;
  height: number;
}

export interface TextConditioner {
  /** The tokenizer whose window cuts a long part: the notes say where. */
  readonly tokenizer: PromptTokenizer;
  /**
   * Whether an image encoder's states can stand for a row. On SD they are `encoder_hidden_states` of the
   * same shape; SDXL rows also need pooled text embeddings no image encoder gives.
   */
  readonly takesImageStates: boolean;
  encode(texts: readonly string[], options: TextEncodeOptions): Promise<EncodedTexts>;
  /** One pooled embedding per text (/describe ranks labels with it). */
  pooled(texts: readonly string[]): Promise<Float32Array[]>;
}

/** Rows stacked on the batch axis, each repeated `times` (one copy per grid image), input by input. */
export function stackRows(rows: readonly UnetRows[], times: number): UnetRows {
  const first = rows[0];
  if (!first) throw new RangeError('stackRows needs at least one row');
  const names = Object.keys(first);
  const stacked: UnetRows = {};
  for (const name of names) {
    stacked[name] = cat(
      rows.map((row) => {
        const tensor = row[name];
        if (!tensor) throw new RangeError(`a conditioning row has no ${name}`);
        return repeatBatch(tensor, times);
      }),
    );
  }
  return stacked;
}

/** The token ids of `texts` as the encoder's `input_ids` feed. */
export function idsFeed(tokenizer: PromptTokenizer, texts: readonly string[]): Feed {
  return {
    kind: 'int',
    values: texts.flatMap((t) => tokenizer.encode(t)),
    dims: [texts.length, tokenizer.maxLength],
  };
}

/** The standard output name when the export has it, else its first output (exporters rename outputs). */
export function outputName(session: ModelSession, standard: string): string {
  return session.outputNames.includes(standard) ? standard : session.outputNames[0]!;
}

/**
 * The tokenizer of one text encoder: its folder's model_max_length, else the length the encoder's
 * `input_ids` declares (fixed-length exports), else 77.
 */
export function tokenizerFor(dir: string, folder: string, encoder: ModelSession): PromptTokenizer {
  const idsShape = encoder.input('input_ids').shape;
  const fixedLength = typeof idsShape[1] === 'number' ? idsShape[1] : undefined;
  return loadPromptTokenizer(join(dir, folder), fixedLength);
}

/** One row per text, the pooled output of `session`, in batches of 64. */
export async function pooledRows(
  session: ModelSession,
  tokenizer: PromptTokenizer,
  output: string,
  texts: readonly string[],
): Promise<Float32Array[]> {
  const rows: Float32Array[] = [];
  for (let start = 0; start < texts.length; start += 64) {
    const batch = texts.slice(start, start + 64);
    const pooled = Object.values(await session.run({ input_ids: idsFeed(tokenizer, batch) }, [output]))[0]!;
    const width = pooled.data.length / batch.length;
    for (let i = 0; i < batch.length; i++) rows.push(pooled.data.slice(i * width, (i + 1) * width));
  }
  return rows;
}

/** SD 1.x / 2.x: CLIP's last hidden state (after the final layer norm), as diffusers' pipelines feed it. */
export class SdTextConditioner implements TextConditioner {
  readonly takesImageStates = true;

  private constructor(
    private readonly encoder: ModelSession,
    readonly tokenizer: PromptTokenizer,
  ) {}

  static create(config: ModelConfig, encoders: readonly ModelSession[]): SdTextConditioner {
    const [info] = config.textEncoders;
    const [encoder] = encoders;
    if (!info || !encoder) throw new RangeError('an SD folder needs its text encoder');
    return new SdTextConditioner(encoder, tokenizerFor(config.dir, info.tokenizer, encoder));
  }

  async encode(texts: readonly string[], options: TextEncodeOptions): Promise<EncodedTexts> {
    // The empty prompt goes through the same call as the texts: one encoder run per job.
    const batch = options.uncond ? ['', ...texts] : [...texts];
    if (batch.length === 0) return { uncond: null, texts: [] };
    const out = await this.encoder.run({ input_ids: idsFeed(this.tokenizer, batch) }, [
      outputName(this.encoder, 'last_hidden_state'),
    ]);
    const states = Object.values(out)[0]!;
    const rows = batch.map((_, i) => ({ encoder_hidden_states: sliceBatch(states, i, i + 1) }));
    return options.uncond ? { uncond: rows[0]!, texts: rows.slice(1) } : { uncond: null, texts: rows };
  }

  pooled(texts: readonly string[]): Promise<Float32Array[]> {
    return pooledRows(this.encoder, this.tokenizer, outputName(this.encoder, 'pooler_output'), texts);
  }
}
