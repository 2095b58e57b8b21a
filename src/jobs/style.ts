import type { JobDescription, PromptParams } from './spec.js';

/** What a model offers for style: its named styles (none: one style) and whether `--sref` images work. */
export interface StyleSupport {
  styles: readonly string[];
  styleReference: boolean;
}

/** `--sw` as written in the model's training: the named or referenced style at full strength. */
export const DEFAULT_STYLE_WEIGHT = 100;

/**
 * A description's `--style`, `--sref` and `--sw` fitted to the model that will run it: what the model
 * cannot use is dropped with a note (a prompt copied from Midjourney runs, as `--v` does), what it can is
 * kept in the model's own spelling. Idempotent, so the bot (for its reply) and the worker (for the model it
 * actually loaded) can both apply it.
 */
export function fitStyle(job: JobDescription, model: StyleSupport): JobDescription {
  const params: PromptParams = { ...job.params };
  const notes: string[] = [];
  if (params.style !== null) {
    const name = params.style.toLowerCase();
    const known = model.styles.find((s) => s === name);
    if (known) params.style = known;
    else {
      notes.push(
        model.styles.length === 0
          ? `--style ${params.style} is ignored: this model has one style`
          : `--style ${params.style} is ignored: this model's styles are ${model.styles.join(', ')}`,
      );
      params.style = null;
    }
  }
  if (params.sref && !model.styleReference) {
    notes.push('--sref is ignored: this model cannot take a style from an image');
    delete params.sref;
  } else if (params.sref && params.style !== null) {
    // One style per job: Midjourney lets --sref refine a --style; here both name the same tokens.
    notes.push(`--sref is ignored: --style ${params.style} already sets the style`);
    delete params.sref;
  }
  if (params.sw !== undefined && params.style === null && !params.sref) {
    notes.push('--sw is ignored: it weighs a --style or --sref');
    delete params.sw;
  }
  if (notes.length === 0 && params.style === job.params.style) return job;
  return { ...job, params, notes: [...job.notes, ...notes] };
}

/** The style links a job needs fetched and kept, as its image prompts' links are. */
export function styleLinksOf(job: JobDescription): string[] {
  return job.params.sref ?? [];
}
