import type { JobRecord } from '../store/job-records.js';

/** Where a member acts from: the server (null in direct messages), the channel and who they are. */
export interface Place {
  guildId: string | null;
  channelId: string | null;
  userId: string;
}

/**
 * Whether a member may build on a job with its buttons (variations, upscales, reroll): any member of
 * the server the job was made on; in direct messages, which no one else can see, only its maker.
 */
export function mayUseButtons(record: Pick<JobRecord, 'userId' | 'reply'>, place: Place): boolean {
  if (record.reply.guildId !== place.guildId) return false;
  return place.guildId !== null || record.userId === place.userId;
}

/**
 * Whether `/show` may post a job here: the maker's own jobs anywhere on the same server; someone else's
 * only in the channel it was made in (so /show cannot carry a job into a channel its maker never posted
 * to); in direct messages only one's own.
 */
export function mayShow(record: Pick<JobRecord, 'userId' | 'reply'>, place: Place): boolean {
  if (record.reply.guildId !== place.guildId) return false;
  if (record.userId === place.userId) return true;
  return place.guildId !== null && record.reply.channelId === place.channelId;
}
