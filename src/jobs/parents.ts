/** Questions about a job's parents that both the bot side and the engine ask. */
import type { JobDescription, ParentRef } from './spec.js';

/** The parent a Vary (Strong / Subtle) job starts from (img2img from its image), if the job is one. */
export function variationParent(job: JobDescription): ParentRef | undefined {
  return job.parents.find((p) => p.role === 'variation-strong' || p.role === 'variation-subtle');
}
