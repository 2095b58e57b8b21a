import type { Logger } from 'pino';
import type { JobCaps } from '../store/job-caps.js';
import type { JobRecord } from '../store/job-records.js';

/**
 * Holds one of the user's running slots while a job renders: renewed every third of the lease, so a
 * killed worker's slot lapses on its own; `release` gives it back at once.
 */
export function holdRunningSlot(caps: JobCaps, record: JobRecord, log: Logger): { release(): Promise<void> } {
  const renew = setInterval(() => {
    caps
      .renewRunning(record.userId, record.id)
      .catch((error) => log.warn({ err: error }, 'lease renewal failed'));
  }, caps.leaseMs / 3);
  return {
    async release() {
      clearInterval(renew);
      await caps.releaseRunning(record.userId, record.id);
    },
  };
}
