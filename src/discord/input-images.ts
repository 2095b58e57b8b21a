import { ImageInputError } from '../images/errors.js';
import type { ImageHashes } from '../images/image-hash.js';
import { prepareInputImage } from '../images/input-image.js';
import { newJobId, uploadIdOf, uploadRef } from '../jobs/refs.js';
import type { JobDescription } from '../jobs/spec.js';
import { styleLinksOf } from '../jobs/style.js';
import { looksLikeUrl } from '../prompt/image-urls.js';
import type { ImageOrigin } from '../store/image-hashes.js';
import type { JobRecord } from '../store/job-records.js';
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

/**
 * Every upload the planned jobs refer to, through their inputs or directly (/blend); with `inherited`,
 * also those they share with the jobs they were made from (to keep alive, never to drop).
 */
export function uploadIdsOf(planned: readonly PlannedJob[], { inherited = false } = {}): string[] {
  const ids = new Set<string>();
  for (const job of planned) {
    const refs = [
      ...Object.values(job.inputs ?? {}),
      ...(inherited ? Object.values(job.inherited ?? {}) : []),
      ...job.description.prompts.flatMap((p) => (p.kind === 'image' ? [p.url] : [])),
    ];
    for (const ref of refs) {
      const id = uploadIdOf(ref);
      if (id) ids.add(id);
    }
  }
  return [...ids];
}

/** The links a description needs fetched before it can run: its image prompts' and its `--sref`'s. */
export function linksOf(description: JobDescription): string[] {
  const links = description.prompts.flatMap((p) =>
    p.kind === 'image' && looksLikeUrl(p.url) ? [p.url] : [],
  );
  return [...new Set([...links, ...styleLinksOf(description)])];
}

/** The parent's stored inputs that a job made from it still refers to. */
export function inheritedInputs(
  parent: Pick<JobRecord, 'inputs'>,
  description: JobDescription,
): Record<string, string> | undefined {
  const kept = linksOf(description).filter((link) => parent.inputs?.[link] !== undefined);
  if (kept.length === 0) return undefined;
  return Object.fromEntries(kept.map((link) => [link, parent.inputs![link]!]));
}

/**
 * The preparation step of startJobs for jobs with links not stored yet: each fetched once, one at a
 * time, and filed under the jobs as soon as it is stored, so a later failure leaves nothing behind
 * (startJobs drops the uploads of jobs it could not queue). Undefined when there is nothing to fetch.
 */
export function fetchLinks(
  ctx: BotContext,
  place: Place,
  planned: readonly PlannedJob[],
): (() => Promise<void>) | undefined {
  const missing = (job: PlannedJob) =>
    linksOf(job.description).filter((link) => job.inherited?.[link] === undefined);
  if (planned.every((job) => missing(job).length === 0)) return undefined;
  return async () => {
    const stored = new Map<string, { ref: string; origin: ImageOrigin | null }>();
    for (const job of planned) {
      job.inputs ??= {};
      job.origins ??= {};
      const { inputs, origins } = job;
      for (const link of missing(job)) {
        let entry = stored.get(link);
        if (!entry) {
          const { id, origin } = await storeInputImage(ctx, link, place);
          entry = { ref: uploadRef(id), origin };
          stored.set(link, entry);
        }
        inputs[link] = entry.ref;
        if (entry.origin) origins[link] = entry.origin;
      }
    }
  };
}
