import type { CanvasSpec } from './canvas.js';
import type { JobDescription, ParentRef, ParentRole } from './spec.js';
import { type WrittenPrompt, weighPrompts } from './weights.js';

/** A description's text parts as written (their normalized weights are computed again). */
function writtenTexts(description: JobDescription | undefined): WrittenPrompt[] {
  return (description?.prompts ?? []).flatMap((p) =>
    p.kind === 'text' ? [{ kind: 'text' as const, text: p.text, weight: p.weight }] : [],
  );
}

/** A new job from one image of a parent: its prompts weighed afresh, a new seed, one job, that parent. */
function childOf(base: JobDescription, written: WrittenPrompt[], parent: ParentRef): JobDescription {
  const { prompts, weightSum } = weighPrompts(written);
  return {
    ...base,
    prompts,
    weightSum,
    params: { ...base.params, seed: null, repeat: 1 },
    parents: [parent],
    notes: [],
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
  const image = { kind: 'image' as const, url: source.ref, weight: base.params.iw > 0 ? base.params.iw : 1 };
  return childOf(base, [image, ...writtenTexts(base)], { jobId: source.jobId, index: source.index, role });
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
  const texts = writtenTexts(base);
  const written = texts.length > 0 ? texts : [{ kind: 'text' as const, text: '', weight: 1 }];
  const role = canvas.mode === 'region' ? 'region' : canvas.pan ? 'pan' : canvas.square ? 'square' : 'zoom';
  return { ...childOf(base, written, { jobId: source.jobId, index: source.index, role }), canvas };
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
  const image = { kind: 'image' as const, url: source.ref, weight: -1 };
  const parentRef = { jobId: source.jobId, index: source.index, role: 'opposite' as const };
  return {
    ...childOf(remixed ?? parent, [image, ...writtenTexts(remixed)], parentRef),
    prompt: remixed?.prompt ?? '',
  };
}
