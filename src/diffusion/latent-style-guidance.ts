/**
 * Latent style guidance for `--style` and `--sref`: classifier guidance on the clean estimate. The folder
 * ships a small classifier of its art styles that reads latents (`style_encoder/latent_probe.onnx`,
 * trained on the VAE latents of real drawings, models/recipe/style_probe.py), exported as the gradient of
 * log p(style) with respect to its input. Each step, after classifier-free guidance, the clean estimate
 * x0 moves by `strength` x grad / RMS(grad) (per image), and the model output changes so that the sampler
 * reports that x0: out' = out + delta / c_out, with c_out the output's coefficient in the sampler's clean
 * estimate. So it works for every sampler and prediction type, and costs one small call per step.
 *
 * Why: the style tokens alone left `--style` at 0.64 and `--sref` at 0.61 of images judged as the asked
 * style (emoji-ld2's eval); with this at strength 0.05 both rose to 0.69 (0.76 and 0.73 on other seeds;
 * models/recipe/README.md, "Latent style guidance").
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
    const grad = out['grad'];
    if (!grad || grad.data.length !== output.length)
      throw new Error('latent_probe.onnx gave no gradient of the latent size');
    const steered = new Float32Array(output);
    const row = channels * height * width;
    for (let b = 0; b < images; b++) {
      let squares = 0;
      for (let i = b * row; i < (b + 1) * row; i++) squares += grad.data[i]! * grad.data[i]!;
      const rms = Math.sqrt(squares / row);
      // a flat gradient (the probe already sure, or a zero target) moves nothing
      if (!(rms > 1e-12)) continue;
      const step = target.strength / rms / clean.output;
      for (let i = b * row; i < (b + 1) * row; i++) steered[i]! += step * grad.data[i]!;
    }
    return steered;
  }
}
