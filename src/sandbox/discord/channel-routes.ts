/** Channel routes the bot calls with its token: reading channels, posting and editing its own messages. */
import { DiscordApiError, ErrorCode } from './api-error.js';
import type { SandboxCore } from './core.js';
import { botMessage, composeEditFromRequest, composeNewFromRequest } from './message-composer.js';
import { MessageType, type StoredMessage } from './messages.js';
import type { RouteContext, RouteDefinition } from './router.js';
import type { SandboxChannel } from './world.js';

export function channelRoutes(core: SandboxCore): RouteDefinition[] {
  const channelOf = (ctx: RouteContext): SandboxChannel => {
    const channel = core.world.findChannel(ctx.params['channelId'] ?? '');
    if (!channel || channel.id !== ctx.params['channelId']) throw DiscordApiError.unknownChannel();
    return channel;
  };
  // Ephemeral messages live only in their recipient's client; channel routes never see them.
  const messageOf = (ctx: RouteContext): StoredMessage => {
    const channel = channelOf(ctx);
    const message = core.messages.get(ctx.params['messageId'] ?? '');
    if (!message || message.channelId !== channel.id || message.visibleTo !== null)
      throw DiscordApiError.unknownMessage();
    return message;
  };
  /** A message of the bot's own: another user's may be neither edited nor deleted. */
  const ownMessageOf = (ctx: RouteContext, refusal: () => DiscordApiError): StoredMessage => {
    const message = messageOf(ctx);
    if (message.author.id !== core.world.botUser.id) throw refusal();
    return message;
  };
  const single = '/channels/:channelId/messages/:messageId';
  return [
    {
      method: 'GET',
      template: '/channels/:channelId',
      auth: 'bot',
      major: ['channelId'],
      handle: async (ctx) => ({ status: 200, body: core.world.apiChannel(channelOf(ctx)) }),
    },
    {
      method: 'GET',
      template: '/channels/:channelId/messages',
      auth: 'bot',
      major: ['channelId'],
      handle: async (ctx) => {
        const channel = channelOf(ctx);
        const limit = Math.min(100, Math.max(1, Number(ctx.query.get('limit') ?? 50) || 50));
        const before = ctx.query.get('before');
        const after = ctx.query.get('after');
        const list = core.messages
          .inChannel(channel.id)
          .filter((m) => m.visibleTo === null)
          .filter(
            (m) =>
              (before === null || BigInt(m.id) < BigInt(before)) &&
              (after === null || BigInt(m.id) > BigInt(after)),
          )
          .reverse()
          .slice(0, limit);
        return { status: 200, body: list.map((m) => core.messages.api(m)) };
      },
    },
    {
      method: 'POST',
      template: '/channels/:channelId/messages',
      auth: 'bot',
      major: ['channelId'],
      handle: async (ctx) => {
        const channel = channelOf(ctx);
        const { json, files } = await ctx.body();
        const composed = composeNewFromRequest(core, json, files, channel.id);
        const message = core.postMessage(
          // A channel message cannot be ephemeral; Discord drops the flag.
          botMessage(core, channel.id, composed, {
            type: MessageType.Default,
            flags: composed.flags,
            interaction: null,
            visibleTo: null,
          }),
        );
        return { status: 200, body: core.messages.api(message) };
      },
    },
    {
      method: 'GET',
      template: single,
      auth: 'bot',
      major: ['channelId'],
      handle: async (ctx) => ({ status: 200, body: core.messages.api(messageOf(ctx)) }),
    },
    {
      method: 'PATCH',
      template: single,
      auth: 'bot',
      major: ['channelId'],
      handle: async (ctx) => {
        const message = ownMessageOf(
          ctx,
          () =>
            new DiscordApiError(
              403,
              ErrorCode.CannotEditOtherUsersMessage,
              'Cannot edit a message authored by another user',
            ),
        );
        const { json, files } = await ctx.body();
        core.editMessage(message, composeEditFromRequest(core, json, files, message));
        return { status: 200, body: core.messages.api(message) };
      },
    },
    {
      method: 'DELETE',
      template: single,
      auth: 'bot',
      major: ['channelId'],
      handle: async (ctx) => {
        core.deleteMessage(
          ownMessageOf(
            ctx,
            () => new DiscordApiError(403, ErrorCode.MissingPermissions, 'Missing Permissions'),
          ),
        );
        return { status: 204 };
      },
    },
    {
      method: 'POST',
      template: '/channels/:channelId/typing',
      auth: 'bot',
      major: ['channelId'],
      handle: async (ctx) => {
        channelOf(ctx);
        return { status: 204 };
      },
    },
  ];
}
