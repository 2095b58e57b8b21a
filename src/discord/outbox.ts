import type { RawFile, REST } from '@discordjs/rest';
import { type AttachmentBuilder, Routes } from 'discord.js';
import type { ReplyTarget } from '../store/job-records.js';
import type { MessageBody } from './messages.js';

/** Discord kills an interaction token after 15 minutes; stop using it a little before. */
export const TOKEN_LIFETIME_MS = 15 * 60 * 1000;
const TOKEN_MARGIN_MS = 30 * 1000;

// Errors that mean the interaction token can no longer edit its message.
const DEAD_TOKEN_CODES = new Set([10015, 10062, 50027]);

function toRaw(body: MessageBody): { json: Record<string, unknown>; files: RawFile[] } {
  const files = body.files.map((file: AttachmentBuilder, id) => ({
    name: file.name ?? `file-${id}.png`,
    data: file.attachment as Buffer,
    contentType: 'image/png',
  }));
  return {
    json: {
      content: body.content,
      components: body.components.map((row) => row.toJSON()),
      attachments: files.map((file, id) => ({ id, filename: file.name })),
      allowed_mentions: { users: body.allowedMentions.users },
    },
    files,
  };
}

export function tokenAlive(target: ReplyTarget, now = Date.now()): boolean {
  return now - target.interactionAt < TOKEN_LIFETIME_MS - TOKEN_MARGIN_MS;
}

/**
 * Writes to Discord without an interaction object, so a message can be finished by any bot process,
 * also one started after the interaction arrived. Rate limits (429) are waited out by @discordjs/rest.
 */
export class Outbox {
  constructor(private readonly rest: REST) {}

  /** Edits the job's message through the interaction webhook; false when the token is (nearly) dead. */
  async edit(target: ReplyTarget, body: MessageBody): Promise<boolean> {
    if (!tokenAlive(target)) return false;
    const { json, files } = toRaw(body);
    try {
      await this.rest.patch(
        Routes.webhookMessage(target.applicationId, target.interactionToken, target.messageId),
        {
          body: json,
          files,
          auth: false,
        },
      );
      return true;
    } catch (error) {
      // Checked by shape: discord.js may carry its own copy of @discordjs/rest, so instanceof can fail.
      if (DEAD_TOKEN_CODES.has(Number((error as { code?: unknown }).code))) return false;
      throw error;
    }
  }

  /** Posts a new message in the channel with the bot token; returns its id. */
  async post(channelId: string, body: MessageBody): Promise<string> {
    const { json, files } = toRaw(body);
    const message = (await this.rest.post(Routes.channelMessages(channelId), { body: json, files })) as {
      id: string;
    };
    return message.id;
  }
}
