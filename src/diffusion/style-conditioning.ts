/**
 * Style as a condition (`--style`, `--sref`, `--sw`) for models that ship `style_encoder/`: a few style
 * tokens appended to every row's content tokens, the job's style in the condition rows and the learned
 * no-style tokens in the unconditional row, so guidance steers style as it steers content. The UNet's
 * inputs keep their stock names; only the sequence gets longer (models/recipe/README.md, "What the engine
 * must feed").
 */
import { join } from 'node:path';
import { resizeCover } from '../images/decode.js';
import type { RawImage } from '../images/raw-image.js';
import type { ModelStyles } from '../model/styles.js';
import type { Backend, ModelSession } from './backend.js';
import { rgbToTensor } from './latent-ops.js';
import { GenerationRequestError, type StyleRequest } from './request.js';
import { cat, type FloatTensor } from './tensor.js';

/** The style tokens of one job, and what the engine can tell the member about them. */
export interface StyleTokens {
  /** [tokens, hidden], row-major. */
  data: Float32Array;
  tokens: number;
  hidden: number;
  /** For `--sref`: the named style each reference (or their mean) is closest to. */
  nearest: string | null;
}

export class StyleConditioner {
  private constructor(
    readonly styles: ModelStyles,
    private readonly encoder: ModelSession | null,
  ) {}

  static async load(dir: string, styles: ModelStyles, backend: Backend): Promise<StyleConditioner> {
    const encoder = styles.hasEncoder
      ? await backend.load(join(dir, 'style_encoder', 'model.onnx'), 'style_encoder')
      : null;
    return new StyleConditioner(styles, encoder);
  }

  /**
   * T for one job: the named style's tokens, the mean of the references' tokens (the encoder's map to
   * tokens is affine, so this is the style of their mean vector), or the learned no-style tokens; then
   * `--sw` as null + (w / 100) (T - null), so 0 is no style and 100 the style as trained.
   */
  async tokensFor(style: StyleRequest): Promise<StyleTokens> {
    const { tokens, hidden } = this.styles;
    const { none } = this.styles;
    let target = none;
    let nearest: string | null = null;
    if (style.name !== null) {
      const found = this.styles.named.get(style.name);
      if (!found) throw new GenerationRequestError(`this model has no style "${style.name}"`);
      target = found;
    } else if (style.references.length > 0) {
      ({ target, nearest } = await this.encode(style.references));
    }
    const data = new Float32Array(target.length);
    for (let i = 0; i < data.length; i++) data[i] = none[i]! + style.weight * (target[i]! - none[i]!);
    return { data, tokens, hidden, nearest };
  }

  /** The learned no-style tokens, for the unconditional row. */
  noStyle(): StyleTokens {
    const { tokens, hidden } = this.styles;
    return { data: this.styles.none, tokens, hidden, nearest: null };
  }

  private async encode(images: readonly RawImage[]): Promise<{ target: Float32Array; nearest: string }> {
    if (!this.encoder) throw new GenerationRequestError('this model cannot take a style from an image');
    const side = this.styles.imageSize;
    const pixels = await Promise.all(
      images.map(async (image) => rgbToTensor((await resizeCover(image, side, side)).data, side, side)),
    );
    const out = await this.encoder.run({ pixel_values: { kind: 'float', tensor: cat(pixels) } }, [
      'style_tokens',
      'style_logits',
    ]);
    const tokens = out['style_tokens'];
    const logits = out['style_logits'];
    if (!tokens || !logits) throw new GenerationRequestError('the style encoder gave no style_tokens');
    const size = this.styles.none.length;
    const target = new Float32Array(size);
    for (let r = 0; r < images.length; r++)
      for (let i = 0; i < size; i++) target[i]! += tokens.data[r * size + i]! / images.length;
    const count = this.styles.names.length;
    const mean = new Float32Array(count);
    for (let r = 0; r < images.length; r++)
      for (let k = 0; k < count; k++) mean[k]! += logits.data[r * count + k]!;
    const best = mean.indexOf(Math.max(...mean));
    return { target, nearest: this.styles.names[best] ?? this.styles.names[0]! };
  }
}

/** [rows, L, D] content tokens -> [rows, L + tokens, D] with the same style tokens after every row's. */
export function appendStyleTokens(hidden: FloatTensor, style: StyleTokens): FloatTensor {
  const [rows = 0, length = 0, width = 0] = hidden.dims;
  if (width !== style.hidden)
    throw new GenerationRequestError(
      `style tokens are ${style.hidden} wide but the prompt's tokens are ${width}`,
    );
  const row = length * width;
  const extra = style.data.length;
  const data = new Float32Array(rows * (row + extra));
  for (let r = 0; r < rows; r++) {
    data.set(hidden.data.subarray(r * row, (r + 1) * row), r * (row + extra));
    data.set(style.data, r * (row + extra) + row);
  }
  return { data, dims: [rows, length + style.tokens, width] };
}
