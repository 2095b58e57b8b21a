import { ImageInputError } from '../images/errors.js';
import type { ImageHashes } from '../images/image-hash.js';
import { prepareInputImage } from '../images/input-image.js';
import { newJobId, uploadIdOf } from '../jobs/refs.js';
import type { ImageOrigin } from '../store/image-hashes.js';
import type { BotContext } from './context.js';
import { fetchImage } from './fetch-image.js';
import { mayUseButtons, type Place } from './job-access.js';
import type { PlannedJob } from './submit.js';
import { UserError } from './user-error.js';

/**
 * Fetches a member's image (a prompt link or an attachment), brings it down to what the model reads and
 * stores that as an upload with a short life. Returns the upload's id, and where the image came from
 * when it is one the bot made (a saved grid or upscale coming back), for the lineage. Only jobs the
 * member could press buttons on are recognised: another server's jobs stay unknown. The raw bytes are
 * never stored.
 */
export async function storeInputImage(
  ctx: BotContext,
  url: string,
  place: Place,
  { name = url, id = newJobId() }: { name?: string; id?: string } = {},
): Promise<{ id: string; origin: ImageOrigin | null }> {
  const bytes = await fetchImage(url, {
    maxBytes: ctx.config.IMAGE_MAX_BYTES,
    timeoutMs: ctx.config.IMAGE_FETCH_TIMEOUT_MS,
    trustedHosts: ctx.trustedImageHosts,
  });
  let png: Buffer;
  let hashes: ImageHashes | undefined;
  try {
    ({ png, hashes } = await prepareInputImage(bytes, {
      keepSide: ctx.model.inputSide,
      maxBytes: ctx.config.IMAGE_MAX_BYTES,
      fingerprint: true,
    }));
  } catch (error) {
    if (error instanceof ImageInputError) throw new UserError(`${name} was refused: ${error.message}.`);
    throw error;
  }
  await ctx.images.putUpload(id, png);
  const origin = hashes
    ? await ctx.hashes.recognise(hashes, async ({ jobId }) => {
        const record = await ctx.records.get(jobId);
        return record !== null && mayUseButtons(record, place);
      })
    : null;
  return { id, origin };
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
