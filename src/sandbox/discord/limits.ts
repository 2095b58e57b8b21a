/** Discord's limits, enforced by the loopback server; tests may tighten or loosen any of them. */
export interface DiscordLimits {
  /** Characters of `content`. */
  contentLength: number;
  embedsPerMessage: number;
  /** Characters across all embeds of one message. */
  embedTotalLength: number;
  attachmentsPerMessage: number;
  /** Bytes per file; interactions carry it as `attachment_size_limit`. */
  attachmentBytes: number;
  /** Bytes of a whole request body (all files plus JSON). */
  requestBytes: number;
  actionRowsPerMessage: number;
  componentsPerRow: number;
  customIdLength: number;
  /** Time the bot has for the initial interaction response. */
  initialResponseMs: number;
  /** Life of an interaction token for follow-ups and edits. */
  interactionTokenLifetimeMs: number;
  /** Text inputs (rows or labels) in one modal. */
  modalComponents: number;
  modalTitleLength: number;
}

export const DEFAULT_LIMITS: DiscordLimits = {
  contentLength: 2000,
  embedsPerMessage: 10,
  embedTotalLength: 6000,
  attachmentsPerMessage: 10,
  attachmentBytes: 10 * 1024 * 1024,
  requestBytes: 25 * 1024 * 1024,
  actionRowsPerMessage: 5,
  componentsPerRow: 5,
  customIdLength: 100,
  initialResponseMs: 3000,
  interactionTokenLifetimeMs: 15 * 60 * 1000,
  modalComponents: 5,
  modalTitleLength: 45,
};
