/**
 * Turns a validated request (JSON payload plus uploaded files) into a new message or an edit, storing
 * the files on the CDN. Attachment rules follow Discord: `attachments[].id` names an upload by its
 * `files[n]` index or an existing attachment to keep; an edit without `attachments` keeps the old ones.
 */
import { DiscordApiError, ErrorCode, tooLong } from './api-error.js';
import type { StoredAttachment } from './attachments.js';
import type { SandboxCore } from './core.js';
import {
  assertNotEmpty,
  MessageFlag,
  type MessageInput,
  readMessageInput,
  validateMessageInput,
} from './message-validation.js';
import type { MessageBody, MessageChange, NewMessage, StoredMessage } from './messages.js';
import type { UploadedFile } from './request-body.js';

/** Flags a bot may set itself; LOADING and EPHEMERAL are decided by the interaction flow. */
const SETTABLE_FLAGS =
  MessageFlag.SuppressEmbeds | MessageFlag.SuppressNotifications | MessageFlag.IsComponentsV2;

export interface ComposedMessage extends MessageBody {
  /** Flags from the payload limited to SETTABLE_FLAGS, plus EPHEMERAL if asked for. */
  flags: number;
  ephemeralRequested: boolean;
}

export function readInput(core: SandboxCore, json: unknown, files: UploadedFile[]): MessageInput {
  const input = readMessageInput(json ?? {});
  validateMessageInput(input, core.limits);
  checkFiles(core, files);
  return input;
}

export function composeNew(
  core: SandboxCore,
  input: MessageInput,
  files: UploadedFile[],
  channelId: string,
): ComposedMessage {
  const attachments = storeUploads(core, input, files, channelId);
  if (attachments.length > core.limits.attachmentsPerMessage) tooManyAttachments(core);
  const flags = input.flags ?? 0;
  return {
    content: input.content ?? '',
    embeds: input.embeds ?? [],
    components: input.components ?? [],
    attachments,
    flags: flags & SETTABLE_FLAGS,
    ephemeralRequested: (flags & MessageFlag.Ephemeral) !== 0,
  };
}

export function composeEdit(
  core: SandboxCore,
  input: MessageInput,
  files: UploadedFile[],
  existing: { attachments: StoredAttachment[]; flags: number; channelId: string },
): MessageChange {
  const change: MessageChange = {};
  if (input.content !== undefined) change.content = input.content ?? '';
  if (input.embeds !== undefined) change.embeds = input.embeds;
  if (input.components !== undefined) change.components = input.components;
  const uploads = storeUploads(core, input, files, existing.channelId);
  if (input.attachments !== undefined) {
    const keep = existing.attachments.filter((a) => input.attachments?.some((entry) => entry.id === a.id));
    change.attachments = [...keep, ...uploads];
  } else if (uploads.length > 0) {
    change.attachments = [...existing.attachments, ...uploads];
  }
  if ((change.attachments?.length ?? 0) > core.limits.attachmentsPerMessage) tooManyAttachments(core);
  if (input.flags !== undefined) {
    // Ephemerality and the loading state are not the bot's to change on an edit.
    const fixed = existing.flags & ~SETTABLE_FLAGS;
    change.flags = fixed | (input.flags & SETTABLE_FLAGS);
  }
  return change;
}

/** A new message from a request (JSON payload and files), refused when it has nothing in it. */
export function composeNewFromRequest(
  core: SandboxCore,
  json: unknown,
  files: UploadedFile[],
  channelId: string,
): ComposedMessage {
  const composed = composeNew(core, readInput(core, json, files), files, channelId);
  assertNotEmpty({ ...composed, attachmentCount: composed.attachments.length });
  return composed;
}

/** An edit of `message` from a request, refused when it would leave the message empty. */
export function composeEditFromRequest(
  core: SandboxCore,
  json: unknown,
  files: UploadedFile[],
  message: StoredMessage,
): MessageChange {
  const change = composeEdit(core, readInput(core, json, files), files, message);
  assertNotEmpty({
    content: change.content ?? message.content,
    embeds: change.embeds ?? message.embeds,
    components: change.components ?? message.components,
    attachmentCount: (change.attachments ?? message.attachments).length,
  });
  return change;
}

/** A message by the bot in `channelId` showing `body` (its body fields only). */
export function botMessage(
  core: SandboxCore,
  channelId: string,
  body: MessageBody,
  rest: Pick<NewMessage, 'type' | 'flags' | 'interaction' | 'visibleTo'>,
): NewMessage {
  return {
    channelId,
    author: core.world.botUser,
    content: body.content,
    embeds: body.embeds,
    components: body.components,
    attachments: body.attachments,
    ...rest,
  };
}

function checkFiles(core: SandboxCore, files: UploadedFile[]): void {
  if (files.length > core.limits.attachmentsPerMessage) tooManyAttachments(core);
  for (const file of files) {
    if (file.data.byteLength > core.limits.attachmentBytes) {
      throw new DiscordApiError(413, ErrorCode.RequestEntityTooLarge, 'Request entity too large');
    }
  }
}

function tooManyAttachments(core: SandboxCore): never {
  throw DiscordApiError.invalidForm([tooLong(['attachments'], core.limits.attachmentsPerMessage)]);
}

/** Stores every uploaded file, named and described by its `attachments` entry when there is one. */
function storeUploads(
  core: SandboxCore,
  input: MessageInput,
  files: UploadedFile[],
  channelId: string,
): StoredAttachment[] {
  return files
    .slice()
    .sort((a, b) => a.index - b.index)
    .map((file) => {
      const entry = input.attachments?.find((candidate) => candidate.id === String(file.index));
      return core.files.store(`attachments/${channelId}`, {
        filename: entry?.filename ?? file.filename,
        data: file.data,
        contentType: file.contentType,
        description: entry?.description ?? null,
      });
    });
}
