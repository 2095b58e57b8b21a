import type { CanvasSpec } from './canvas.js';
import type { JobDescription, ParentRole, TextPrompt } from './spec.js';
import { weighPrompts } from './weights.js';

/**
 * A variation: the chosen image becomes a weighted image prompt beside the parent's text (or a remixed
 * text), and the engine starts from that image (img2img, strength by role). Image prompts of the parent
 * are dropped: the chosen image already carries them, and breeding over generations would otherwise
 * pile up every ancestor.
 */
export function deriveVariation(
  parent: JobDescription,
  source: { jobId: string; index: number; ref: string },
  role: Extract<ParentRole, 'variation-strong' | 'variation-subtle'>,
  remixed?: JobDescription,
): JobDescription {
  const base = remixed ?? parent;
  const texts = base.prompts.filter((p): p is TextPrompt => p.kind === 'text');
  const image = { kind: 'image' as const, url: source.ref, weight: base.params.iw > 0 ? base.params.iw : 1 };
  const { prompts, weightSum } = weighPrompts([image, ...texts.map(({ normalized: _, ...p }) => p)]);
  return {
    ...base,
    prompts,
    weightSum,
    params: { ...base.params, seed: null, repeat: 1 },
    parents: [{ jobId: source.jobId, index: source.index, role }],
    notes: [],
  };
}

/** An upscale: the same description, one image out of the parent's grid. */
export function deriveUpscale(
  parent: JobDescription,
  source: { jobId: string; index: number },
  upscale?: JobDescription['upscale'],
): JobDescription {
  return {
    ...parent,
    parents: [{ jobId: source.jobId, index: source.index, role: 'upscale' }],
    notes: [],
    ...(upscale ? { upscale } : {}),
  };
}

/**
 * A canvas action on one image (Zoom Out, Pan, Make Square, Vary (Region)): the parent's text (or a
 * remix's) paints the new part; the image itself is kept by the canvas, not prompted.
 */
export function deriveCanvas(
  parent: JobDescription,
  source: { jobId: string; index: number },
  canvas: CanvasSpec,
  remixed?: JobDescription,
): JobDescription {
  const base = remixed ?? parent;
  const texts = base.prompts.filter((p): p is TextPrompt => p.kind === 'text');
  const written =
    texts.length > 0
      ? texts.map(({ normalized: _, ...p }) => p)
      : [{ kind: 'text' as const, text: '', weight: 1 }];
  const { prompts, weightSum } = weighPrompts(written);
  const role = canvas.mode === 'region' ? 'region' : canvas.pan ? 'pan' : canvas.square ? 'square' : 'zoom';
  return {
    ...base,
    prompts,
    weightSum,
    params: { ...base.params, seed: null, repeat: 1 },
    parents: [{ jobId: source.jobId, index: source.index, role }],
    notes: [],
    canvas,
  };
}

/** A reroll: the same prompt again with a new seed. */
export function deriveReroll(parent: JobDescription, parentJobId: string): JobDescription {
  return {
    ...parent,
    params: { ...parent.params, seed: null },
    // A reroll of a variation is still a variation of the same image: keep the image parents.
    parents: [
      ...parent.parents.filter((p) => p.role !== 'reroll'),
      { jobId: parentJobId, index: null, role: 'reroll' },
    ],
    notes: [],
  };
}

/**
 * Opposite: the chosen image as the only image prompt at weight -1, beside the text of a remix if one
 * was given; nothing starts from the image (no init), so the sampler is pushed away from it from the
 * first step. Alone, its weights add up to -1, which servers with Midjourney's rule refuse.
 */
export function deriveOpposite(
  parent: JobDescription,
  source: { jobId: string; index: number; ref: string },
  remixed?: JobDescription,
): JobDescription {
  const texts = (remixed?.prompts ?? []).filter((p): p is TextPrompt => p.kind === 'text');
  const image = { kind: 'image' as const, url: source.ref, weight: -1 };
  const { prompts, weightSum } = weighPrompts([image, ...texts.map(({ normalized: _, ...p }) => p)]);
  const base = remixed ?? parent;
  return {
    ...base,
    prompt: remixed?.prompt ?? '',
    prompts,
    weightSum,
    params: { ...base.params, seed: null, repeat: 1 },
    parents: [{ jobId: source.jobId, index: source.index, role: 'opposite' }],
    notes: [],
  };
}
