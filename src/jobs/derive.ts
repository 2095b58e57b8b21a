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
