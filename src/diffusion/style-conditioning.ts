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
import { LatentStyleGuide, type LatentStyleScales, type StyleTarget } from './latent-style-guidance.js';
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
  /**
   * The named styles the job asks for, as a distribution in the order of `ModelStyles.names` (one-hot
   * for `--style`, the style encoder's softmax for `--sref`); null for no style. Latent style guidance
   * pulls towards it.
   */
  distribution: Float32Array | null;
}

export class StyleConditioner {
  private constructor(
    readonly styles: ModelStyles,
    private readonly encoder: ModelSession | null,
    /** Latent style guidance, when the folder ships its probe. */
    readonly guide: LatentStyleGuide | null,
  ) {}

  static async load(dir: string, styles: ModelStyles, backend: Backend): Promise<StyleConditioner> {
    const [encoder, guide] = await Promise.all([
      styles.hasEncoder ? backend.load(join(dir, 'style_encoder', 'model.onnx'), 'style_encoder') : null,
      styles.latentProbe ? LatentStyleGuide.load(styles.latentProbe, backend) : null,
    ]);
    return new StyleConditioner(styles, encoder, guide);
  }

  /**
   * The latent style guidance pull for a job with these tokens: null without a probe, without a style, at
   * `--sw 0`, or at scale 0. A named style pulls at the folder's `--style` scale, references at its
   * `--sref` scale; `scales` overrides them (the pipeline options, for comparisons).
   */
  styleTarget(
    tokens: StyleTokens,
    style: StyleRequest,
    scales: Partial<LatentStyleScales> = {},
  ): StyleTarget | null {
    if (!this.guide || !tokens.distribution) return null;
    const scale =
      style.name !== null
        ? (scales.style ?? this.guide.scales.style)
        : (scales.sref ?? this.guide.scales.sref);
    const strength = scale * style.weight;
    return strength > 0 ? { distribution: tokens.distribution, strength } : null;
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
    let distribution: Float32Array | null = null;
    if (style.name !== null) {
      const found = this.styles.named.get(style.name);
      if (!found) throw new GenerationRequestError(`this model has no style "${style.name}"`);
      target = found;
      distribution = new Float32Array(this.styles.names.length);
      distribution[this.styles.names.indexOf(style.name)] = 1;
    } else if (style.references.length > 0) {
      ({ target, nearest, distribution } = await this.encode(style.references));
    }
    const data = new Float32Array(target.length);
    for (let i = 0; i < data.length; i++) data[i] = none[i]! + style.weight * (target[i]! - none[i]!);
    return { data, tokens, hidden, nearest, distribution };
  }

  /** The learned no-style tokens, for the unconditional row. */
  noStyle(): StyleTokens {
    const { tokens, hidden } = this.styles;
    return { data: this.styles.none, tokens, hidden, nearest: null, distribution: null };
  }

  private async encode(
    images: readonly RawImage[],
  ): Promise<{ target: Float32Array; nearest: string; distribution: Float32Array }> {
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
    return {
      target,
      nearest: this.styles.names[best] ?? this.styles.names[0]!,
      distribution: softmax(mean.map((v) => v / images.length)),
    };
  }
}

/** exp(v - max) normalised: the references' mean logits as a distribution over the named styles. */
function softmax(values: Float32Array): Float32Array {
  const top = Math.max(...values);
  const out = values.map((v) => Math.exp(v - top));
  const sum = out.reduce((a, b) => a + b, 0);
  return out.map((v) => v / sum);
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
