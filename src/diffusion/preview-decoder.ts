/**
 * Progress previews: the forming grid as a picture. A model folder with `vae_decoder_tiny/` (a TAESD-style
 * decoder: latents to pixels at full size in a few convolutions, distilled from the folder's VAE decoder) has
 * its previews decoded by it; without one a preview is the linear latent -> RGB map at latent size (colour
 * blobs), as before.
 *
 * The tiny decoder takes the latents as the sampler holds them divided by its config's `scaling_factor`
 * (TAESD's and diffusers' AutoencoderTiny convention: 1.0, i.e. the latents the UNet sees, not divided by the
 * VAE's scaling factor), and returns `sample` [n, 3, H, W] in [-1, 1] like the full decoder.
 */
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { composeGrid } from '../images/grid.js';
import { type RawImage, rawImage } from '../images/raw-image.js';
import type { Backend, ModelSession } from './backend.js';
import { latentToRgb, tensorToRgbImages } from './latent-ops.js';

/** The folder (under the model folder) a tiny preview decoder lives in. */
export const TINY_DECODER_PART = 'vae_decoder_tiny';

const LATENT_CHANNELS = 4;

export type PreviewKind = 'tiny' | 'linear';

export class PreviewDecoder {
  private constructor(
    private readonly session: ModelSession | null,
    private readonly scalingFactor: number,
  ) {}

  /** The linear latent -> RGB map (latent-size cells), for folders without a tiny decoder. */
  static linear(): PreviewDecoder {
    return new PreviewDecoder(null, 1);
  }

  /** `<dir>/vae_decoder_tiny/model.onnx` through `backend` when the folder has it, else the linear map. */
  static async load(backend: Backend, dir: string): Promise<PreviewDecoder> {
    const folder = join(dir, TINY_DECODER_PART);
    const model = join(folder, 'model.onnx');
    if (!existsSync(model)) return PreviewDecoder.linear();
    const session = await backend.load(model, TINY_DECODER_PART);
    return new PreviewDecoder(session, readScalingFactor(join(folder, 'config.json')));
  }

  get kind(): PreviewKind {
    return this.session ? 'tiny' : 'linear';
  }

  /**
   * Preview pictures of `n` latents [n, 4, height, width] (as the sampler holds them; `height` and `width` in
   * latent cells) at the start of `latents`: full size through the tiny decoder (a promise), latent size
   * through the linear map (at once). The latents are copied before this returns, so the caller may move on.
   * A failed tiny decoder run gives the linear map's pictures: a preview never fails a job.
   */
  images(latents: Float32Array, n: number, height: number, width: number): RawImage[] | Promise<RawImage[]> {
    const size = n * LATENT_CHANNELS * height * width;
    if (latents.length < size)
      throw new RangeError(`${n} latents of ${height}x${width} need ${size} values, got ${latents.length}`);
    const copy = latents.slice(0, size);
    const session = this.session;
    if (!session) return linearImages(copy, n, height, width);
    const factor = this.scalingFactor;
    const data = factor === 1 ? copy : copy.map((v) => v / factor);
    const input = session.inputs.has('latent_sample') ? 'latent_sample' : [...session.inputs.keys()][0]!;
    const output = session.outputNames.includes('sample') ? 'sample' : session.outputNames[0]!;
    return session
      .run({ [input]: { kind: 'float', tensor: { data, dims: [n, LATENT_CHANNELS, height, width] } } }, [
        output,
      ])
      .then((out) => {
        const pixels = out[output]!;
        const [, , h = 0, w = 0] = pixels.dims;
        return tensorToRgbImages(pixels).map((data) => rawImage(w, h, data));
      })
      .catch(() => linearImages(copy, n, height, width));
  }

  /** The 2x2 grid of `images(...)` (composeGrid: row-major, missing cells white). */
  grid(latents: Float32Array, n: number, height: number, width: number): RawImage | Promise<RawImage> {
    const cells = this.images(latents, n, height, width);
    return Array.isArray(cells) ? composeGrid(cells) : cells.then(composeGrid);
  }
}

function linearImages(latents: Float32Array, n: number, height: number, width: number): RawImage[] {
  const plane = LATENT_CHANNELS * height * width;
  return Array.from({ length: n }, (_, i) =>
    rawImage(width, height, latentToRgb(latents, i * plane, height, width)),
  );
}

/** The tiny decoder's own `scaling_factor` (what to divide the sampler's latents by); 1 without a config. */
function readScalingFactor(path: string): number {
  if (!existsSync(path)) return 1;
  const config = JSON.parse(readFileSync(path, 'utf8')) as { scaling_factor?: unknown };
  const factor = config.scaling_factor;
  if (factor === undefined) return 1;
  if (typeof factor !== 'number' || !Number.isFinite(factor) || factor <= 0)
    throw new RangeError(`${path}: scaling_factor must be a positive number`);
  return factor;
}
