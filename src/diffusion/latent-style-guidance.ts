/**
 * Latent style guidance for `--style` and `--sref`: classifier guidance on the clean estimate. The folder
 * ships a small classifier of its art styles as its gradient with respect to the latent
 * (`style_encoder/latent_probe.onnx`; emoji-ld2's judges the tiny preview decoder's picture of the latent,
 * models/recipe/style_probe_pixels.py). Each step, after classifier-free guidance, the clean estimate x0
 * moves by `strength` x g / RMS(g) (per image), g being that gradient without its period-2 component
 * (`withoutCheckerboard`), and the model output changes so that the sampler reports that x0:
 * out' = out + delta / c_out, with c_out the output's coefficient in the sampler's clean estimate. So it
 * works for every sampler and prediction type, and costs one call of the probe per step (the shipped one
 * runs the tiny decoder forward and back: a styled grid takes about 1.9x the time).
 *
 * Why: the style tokens alone left `--style` at 0.64 and `--sref` at 0.61 of images judged as the asked
 * style (emoji-ld2's eval); see models/recipe/README.md, "Latent style guidance", for what this adds and
 * what it costs the concept.
 */
import type { LatentProbe } from '../model/styles.js';
import type { Backend, ModelSession } from './backend.js';
import type { CleanCoefficients } from './schedulers/scheduler.js';

/** A styled job's pull: a distribution over the folder's styles per image, and how hard to pull. */
export interface StyleTarget {
  /** [styles] probabilities (one-hot for `--style`), the same for every image of the job. */
  distribution: Float32Array;
  /** The folder's scale for `--style` or `--sref` x `--sw` / 100. */
  strength: number;
}

/** The folder's scales: `--style` and `--sref` pull with their own (style_encoder/latent_probe.json). */
export interface LatentStyleScales {
  style: number;
  sref: number;
}

export class LatentStyleGuide {
  private constructor(
    private readonly session: ModelSession,
    readonly scales: LatentStyleScales,
  ) {}

  static async load(probe: LatentProbe, backend: Backend): Promise<LatentStyleGuide> {
    return new LatentStyleGuide(await backend.load(probe.path, 'latent_probe'), {
      style: probe.scale,
      sref: probe.srefScale,
    });
  }

  /**
   * The model output with every image's clean estimate moved towards `target`. `output` and `sample` are
   * [images, channels, height, width] flat; neither is changed.
   */
  async steer(
    output: Float32Array,
    sample: Float32Array,
    clean: CleanCoefficients,
    target: StyleTarget,
    dims: readonly [number, number, number, number],
  ): Promise<Float32Array> {
    const [images, channels, height, width] = dims;
    if (target.strength === 0 || clean.output === 0) return output;
    const x0 = new Float32Array(output.length);
    for (let i = 0; i < x0.length; i++) x0[i] = clean.sample * sample[i]! + clean.output * output[i]!;
    const styles = target.distribution.length;
    const targets = new Float32Array(images * styles);
    for (let b = 0; b < images; b++) targets.set(target.distribution, b * styles);
    const out = await this.session.run(
      {
        latent: { kind: 'float', tensor: { data: x0, dims: [images, channels, height, width] } },
        target: { kind: 'float', tensor: { data: targets, dims: [images, styles] } },
      },
      ['grad'],
    );
    const raw = out['grad'];
    if (!raw || raw.data.length !== output.length)
      throw new Error('latent_probe.onnx gave no gradient of the latent size');
    const grad = withoutCheckerboard(raw.data, images * channels, height, width);
    const steered = new Float32Array(output);
    const row = channels * height * width;
    for (let b = 0; b < images; b++) {
      let squares = 0;
      for (let i = b * row; i < (b + 1) * row; i++) squares += grad[i]! * grad[i]!;
      const rms = Math.sqrt(squares / row);
      // a flat gradient (the probe already sure, or a zero target) moves nothing
      if (!(rms > 1e-12)) continue;
      const step = target.strength / rms / clean.output;
      for (let i = b * row; i < (b + 1) * row; i++) steered[i]! += step * grad[i]!;
    }
    return steered;
  }
}

/**
 * A 5-tap low-pass with no response at the latent's Nyquist frequency (period 2) and a flatter pass band
 * than [1, 2, 1]: on alternating samples the taps sum to (-1 - 4 + 10 - 4 - 1) / 16 = 0, on constant ones
 * to 1.
 */
const NOTCH = [-1 / 16, 4 / 16, 10 / 16, 4 / 16, -1 / 16] as const;

/**
 * The gradient without its period-2 component along each axis. A probe whose convolutions stride by 2
 * pixels three times (8 pixels, two latent pixels) has a gradient that alternates from one latent pixel
 * to the next; left in, every step adds that pattern and the pictures gain a faint lattice. Removing it
 * kept the pull's effect on the styles (models/recipe/README.md, "Latent style guidance"). Edges mirror
 * (x = -1 reads x = 1), which keeps the alternation, so it goes at the border too. `data` is
 * [planes, height, width]; a new array is returned.
 */
export function withoutCheckerboard(
  data: Float32Array,
  planes: number,
  height: number,
  width: number,
): Float32Array {
  const across = new Float32Array(data.length);
  const mirror = (v: number, size: number) => {
    const m = v < 0 ? -v : v >= size ? 2 * (size - 1) - v : v;
    return m < 0 ? 0 : m >= size ? size - 1 : m; // sides under 3
  };
  for (let p = 0; p < planes; p++)
    for (let y = 0; y < height; y++) {
      const row = (p * height + y) * width;
      for (let x = 0; x < width; x++) {
        let sum = 0;
        for (let k = 0; k < NOTCH.length; k++) sum += NOTCH[k]! * data[row + mirror(x + k - 2, width)]!;
        across[row + x] = sum;
      }
    }
  const out = new Float32Array(data.length);
  for (let p = 0; p < planes; p++)
    for (let y = 0; y < height; y++)
      for (let x = 0; x < width; x++) {
        let sum = 0;
        for (let k = 0; k < NOTCH.length; k++)
          sum += NOTCH[k]! * across[(p * height + mirror(y + k - 2, height)) * width + x]!;
        out[(p * height + y) * width + x] = sum;
      }
  return out;
}
