import { normalizeWeights } from '../prompt/weights.js';
import type { ImagePrompt, JobDescription, ParentRole, TextPrompt, WeightedPrompt } from './spec.js';

/** Recomputes normalized weights after prompts were added or removed. */
export function renormalize(
  prompts: ReadonlyArray<Omit<TextPrompt, 'normalized'> | Omit<ImagePrompt, 'normalized'>>,
): {
  prompts: WeightedPrompt[];
  weightSum: number;
} {
  const normalized = normalizeWeights(prompts.map((p) => p.weight));
  return {
    prompts: prompts.map(
      (p, i) => ({ ...p, normalized: Number(normalized[i]!.toPrecision(12)) }) as WeightedPrompt,
    ),
    weightSum: Number(prompts.reduce((sum, p) => sum + p.weight, 0).toPrecision(12)),
  };
}

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
  const { prompts, weightSum } = renormalize([image, ...texts.map(({ normalized: _, ...p }) => p)]);
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
): JobDescription {
  return { ...parent, parents: [{ jobId: source.jobId, index: source.index, role: 'upscale' }], notes: [] };
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
