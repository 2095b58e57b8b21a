import { ImageInputError } from '../images/errors.js';
import { prepareInputImage } from '../images/input-image.js';
import { newJobId, uploadIdOf } from '../jobs/refs.js';
import type { BotContext } from './context.js';
import { fetchImage } from './fetch-image.js';
import type { PlannedJob } from './submit.js';
import { UserError } from './user-error.js';

/**
 * Fetches a member's image (a prompt link or an attachment), brings it down to what the model reads and
 * stores that as an upload with a short life. Returns the upload's id. The raw bytes are never stored.
 */
export async function storeInputImage(
  ctx: BotContext,
  url: string,
  { name = url, id = newJobId() }: { name?: string; id?: string } = {},
): Promise<string> {
  const bytes = await fetchImage(url, {
    maxBytes: ctx.config.IMAGE_MAX_BYTES,
    timeoutMs: ctx.config.IMAGE_FETCH_TIMEOUT_MS,
    trustedHosts: ctx.trustedImageHosts,
  });
  let png: Buffer;
  try {
    ({ png } = await prepareInputImage(bytes, {
      keepSide: ctx.model.inputSide,
      maxBytes: ctx.config.IMAGE_MAX_BYTES,
    }));
  } catch (error) {
    if (error instanceof ImageInputError) throw new UserError(`${name} was refused: ${error.message}.`);
    throw error;
  }
  await ctx.images.putUpload(id, png);
  return id;
}

/** Every upload the planned jobs refer to, through their inputs or directly (/blend). */
export function uploadIdsOf(planned: readonly PlannedJob[]): string[] {
  const ids = new Set<string>();
  for (const job of planned) {
    const refs = [
      ...Object.values(job.inputs ?? {}),
      ...job.description.prompts.flatMap((p) => (p.kind === 'image' ? [p.url] : [])),
    ];
    for (const ref of refs) {
      const id = uploadIdOf(ref);
      if (id) ids.add(id);
    }
  }
  return [...ids];
}
