import { type ImageSlot, jobImageRef } from '../jobs/refs.js';
import type { ImageStore } from '../store/image-store.js';
import type { JobRecord } from '../store/job-records.js';
import { BadInputError } from './renderer.js';

/** Every image a job needs (its image prompts, style references and its parent's image), resolved to bytes from Redis. */
export async function resolveInputs(record: JobRecord, images: ImageStore): Promise<Map<string, Buffer>> {
  const refs = new Set<string>();
  for (const prompt of record.description.prompts) if (prompt.kind === 'image') refs.add(prompt.url);
  for (const link of record.description.params.sref ?? []) refs.add(link);
  for (const parent of record.description.parents) {
    if (parent.index !== null) refs.add(jobImageRef(parent.jobId, parent.index as ImageSlot));
  }
  const inputs = new Map<string, Buffer>();
  for (const ref of refs) {
    const bytes = await images.resolve(record.inputs?.[ref] ?? ref);
    // Expired is bad input, not a fault: no retry can bring it back.
    if (!bytes) throw new BadInputError('an image this job builds on has expired; start again from /imagine');
    inputs.set(ref, bytes);
  }
  return inputs;
}
