/**
 * Routes that answer interactions: the initial-response callback and the interaction webhook
 * (`@original` edits, follow-ups). None of them carries the bot token; the interaction token is the key.
 */
import { DiscordApiError } from './api-error.js';
import type { SandboxCore } from './core.js';
import { CallbackType, type InteractionRecord, InteractionType } from './interactions.js';
import {
  botMessage,
  composeEdit,
  composeEditFromRequest,
  composeNewFromRequest,
  readInput,
} from './message-composer.js';
import { MessageFlag, validateModal } from './message-validation.js';
import { type MessageBody, MessageType, type StoredMessage } from './messages.js';
import type { UploadedFile } from './request-body.js';
import type { RouteContext, RouteDefinition, RouteResult } from './router.js';

type Json = Record<string, unknown>;

function asObject(value: unknown): Json {
  return typeof value === 'object' && value !== null && !Array.isArray(value) ? (value as Json) : {};
}

export function interactionRoutes(core: SandboxCore): RouteDefinition[] {
  const webhookMessage = '/webhooks/:applicationId/:token/messages/:messageId';
  return [
    {
      method: 'POST',
      template: '/interactions/:interactionId/:token/callback',
      auth: 'none',
      major: ['interactionId', 'token'],
      handle: (ctx) => respond(core, ctx),
    },
    {
      method: 'POST',
      template: '/webhooks/:applicationId/:token',
      auth: 'none',
      major: ['applicationId', 'token'],
      handle: (ctx) => followUp(core, ctx),
    },
    {
      method: 'GET',
      template: webhookMessage,
      auth: 'none',
      major: ['applicationId', 'token'],
      handle: async (ctx) => {
        const { message } = webhookTarget(core, ctx);
        return { status: 200, body: core.messages.api(message) };
      },
    },
    {
      method: 'PATCH',
      template: webhookMessage,
      auth: 'none',
      major: ['applicationId', 'token'],
      handle: (ctx) => editWebhookMessage(core, ctx),
    },
    {
      method: 'DELETE',
      template: webhookMessage,
      auth: 'none',
      major: ['applicationId', 'token'],
      handle: async (ctx) => {
        const { message } = webhookTarget(core, ctx);
        core.deleteMessage(message);
        return { status: 204 };
      },
    },
  ];
}

/** `POST /interactions/{id}/{token}/callback`: the one initial response. */
async function respond(core: SandboxCore, ctx: RouteContext): Promise<RouteResult> {
  const record = core.interactions.forCallback(ctx.params['interactionId'] ?? '', ctx.params['token'] ?? '');
  const { json, files } = await ctx.body();
  const body = asObject(json);
  const type = body['type'];
  const data = body['data'];
  // Everything is validated before the interaction counts as answered: a refused payload leaves the
  // bot free to try again within the deadline, as on Discord. `apply` then makes the visible change,
  // after the response is recorded, so observers see "answered" before its message.
  const apply = planResponse(core, record, type, data, files);
  core.interactions.markResponded(record, Number(type));
  const message = apply();
  if (ctx.query.get('with_response') !== 'true') return { status: 204 };
  const interaction: Json = { id: record.id, type: record.type };
  if (message) {
    interaction['response_message_id'] = message.id;
    interaction['response_message_loading'] = (message.flags & MessageFlag.Loading) !== 0;
    interaction['response_message_ephemeral'] = (message.flags & MessageFlag.Ephemeral) !== 0;
  }
  const resource: Json = { type };
  if (message) resource['message'] = core.messages.api(message);
  return { status: 200, body: { interaction, resource } };
}

/** Validates a callback body and returns the change it makes (the message `@original` now means). */
function planResponse(
  core: SandboxCore,
  record: InteractionRecord,
  type: unknown,
  data: unknown,
  files: UploadedFile[],
): () => StoredMessage | null {
  switch (type) {
    case CallbackType.ChannelMessageWithSource: {
      const composed = composeNewFromRequest(core, data, files, record.channel.id);
      return () => {
        const message = postInteractionMessage(core, record, 'reply', composed, composed.ephemeralRequested);
        record.originalMessageId = message.id;
        return message;
      };
    }
    case CallbackType.DeferredChannelMessageWithSource: {
      const ephemeral = ((Number(asObject(data)['flags']) || 0) & MessageFlag.Ephemeral) !== 0;
      return () => {
        const thinking = {
          content: '',
          embeds: [],
          components: [],
          attachments: [],
          flags: MessageFlag.Loading,
        };
        const message = postInteractionMessage(core, record, 'reply', thinking, ephemeral);
        record.originalMessageId = message.id;
        return message;
      };
    }
    case CallbackType.DeferredUpdateMessage:
    case CallbackType.UpdateMessage: {
      const source = record.sourceMessageId === null ? undefined : core.messages.get(record.sourceMessageId);
      if (!source) throw callbackNotAllowed(type, record);
      const change =
        type === CallbackType.UpdateMessage
          ? composeEdit(core, readInput(core, data, files), files, source)
          : null;
      return () => {
        if (change) core.editMessage(source, change);
        record.originalMessageId = source.id;
        return source;
      };
    }
    case CallbackType.Modal: {
      if (record.type === InteractionType.ModalSubmit) throw callbackNotAllowed(type, record);
      const modal = validateModal(data, core.limits);
      return () => {
        core.interactions.rememberModal({
          ...modal,
          interactionId: record.id,
          userId: record.user.id,
          channelId: record.channel.id,
          sourceMessageId: record.sourceMessageId,
          submitted: false,
        });
        core.events.push({
          type: 'modal.open',
          interactionId: record.id,
          userId: record.user.id,
          customId: modal.customId,
          title: modal.title,
          modal: modal.raw,
        });
        return null;
      };
    }
    default:
      throw callbackNotAllowed(type, record);
  }
}

function callbackNotAllowed(type: unknown, record: InteractionRecord): DiscordApiError {
  return DiscordApiError.invalidForm([
    {
      path: ['type'],
      code: 'INTERACTION_CALLBACK_TYPE_INVALID',
      message: `Interaction callback type ${String(type)} is not valid for interaction type ${record.type}`,
    },
  ]);
}

/** A message by the bot for an interaction: its reply (the initial response) or a follow-up. */
function postInteractionMessage(
  core: SandboxCore,
  record: InteractionRecord,
  kind: 'reply' | 'follow-up',
  body: MessageBody,
  ephemeral: boolean,
): StoredMessage {
  const reply = kind === 'reply';
  const replyType =
    record.type === InteractionType.ApplicationCommand ? MessageType.ChatInputCommand : MessageType.Reply;
  return core.postMessage(
    botMessage(core, record.channel.id, body, {
      type: reply ? replyType : MessageType.Default,
      flags: body.flags | (ephemeral ? MessageFlag.Ephemeral : 0),
      interaction: {
        id: record.id,
        type: record.type,
        userId: record.user.id,
        name: reply && record.kind === 'command' ? record.name : null,
      },
      visibleTo: ephemeral ? record.user.id : null,
    }),
  );
}

/** `POST /webhooks/{app}/{token}`: a follow-up message. */
async function followUp(core: SandboxCore, ctx: RouteContext): Promise<RouteResult> {
  const record = core.interactions.forWebhook(
    ctx.params['applicationId'] ?? '',
    ctx.params['token'] ?? '',
    core.world.application.id,
  );
  const { json, files } = await ctx.body();
  const original =
    record.originalMessageId === null ? undefined : core.messages.get(record.originalMessageId);
  let message: StoredMessage;
  if (
    original &&
    (original.flags & MessageFlag.Loading) !== 0 &&
    record.response?.type === CallbackType.DeferredChannelMessageWithSource
  ) {
    // Discord fills a still-"thinking" deferred reply with the first follow-up instead of adding a message;
    // the deferral decided whether it is ephemeral.
    const change = composeEditFromRequest(core, json, files, original);
    change.flags = original.flags & ~MessageFlag.Loading;
    message = core.editMessage(original, change, false);
  } else {
    const composed = composeNewFromRequest(core, json, files, record.channel.id);
    message = postInteractionMessage(core, record, 'follow-up', composed, composed.ephemeralRequested);
    record.followupIds.push(message.id);
  }
  if (ctx.query.get('wait') !== 'true') return { status: 204 };
  return { status: 200, body: core.messages.api(message) };
}

/** `PATCH /webhooks/{app}/{token}/messages/{id|@original}` (editReply, editFollowUp). */
async function editWebhookMessage(core: SandboxCore, ctx: RouteContext): Promise<RouteResult> {
  const { message } = webhookTarget(core, ctx);
  const { json, files } = await ctx.body();
  const change = composeEditFromRequest(core, json, files, message);
  const loading = (message.flags & MessageFlag.Loading) !== 0;
  if (loading) change.flags = (change.flags ?? message.flags) & ~MessageFlag.Loading;
  // Filling in a deferred reply is not an "edit" in Discord's client.
  core.editMessage(message, change, !loading);
  return { status: 200, body: core.messages.api(message) };
}

/** The message a webhook route addresses; only the interaction's own messages are reachable. */
function webhookTarget(
  core: SandboxCore,
  ctx: RouteContext,
): { record: InteractionRecord; message: StoredMessage } {
  const record = core.interactions.forWebhook(
    ctx.params['applicationId'] ?? '',
    ctx.params['token'] ?? '',
    core.world.application.id,
  );
  const requested = ctx.params['messageId'] ?? '';
  const id = requested === '@original' ? record.originalMessageId : requested;
  const owned = id !== null && (id === record.originalMessageId || record.followupIds.includes(id));
  const message = owned && id !== null ? core.messages.get(id) : undefined;
  if (!message) throw DiscordApiError.unknownMessage();
  return { record, message };
}
