/** Channel routes the bot calls with its token: reading channels, posting and editing its own messages. */
import { DiscordApiError, ErrorCode } from './api-error.js';
import type { SandboxCore } from './core.js';
import { composeEdit, composeNew, readInput } from './message-composer.js';
import { assertNotEmpty } from './message-validation.js';
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
        const input = readInput(core, json, files);
        const composed = composeNew(core, input, files, channel.id);
        assertNotEmpty({ ...composed, attachmentCount: composed.attachments.length });
        const message = core.postMessage({
          channelId: channel.id,
          author: core.world.botUser,
          type: MessageType.Default,
          content: composed.content,
          embeds: composed.embeds,
          components: composed.components,
          attachments: composed.attachments,
          // A channel message cannot be ephemeral; Discord drops the flag.
          flags: composed.flags,
          interaction: null,
          visibleTo: null,
        });
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
        const message = messageOf(ctx);
        if (message.author.id !== core.world.botUser.id) {
          throw new DiscordApiError(
            403,
            ErrorCode.CannotEditOtherUsersMessage,
            'Cannot edit a message authored by another user',
          );
        }
        const { json, files } = await ctx.body();
        const input = readInput(core, json, files);
        const change = composeEdit(core, input, files, message);
        assertNotEmpty({
          content: change.content ?? message.content,
          embeds: change.embeds ?? message.embeds,
          components: change.components ?? message.components,
          attachmentCount: (change.attachments ?? message.attachments).length,
        });
        core.editMessage(message, change);
        return { status: 200, body: core.messages.api(message) };
      },
    },
    {
      method: 'DELETE',
      template: single,
      auth: 'bot',
      major: ['channelId'],
      handle: async (ctx) => {
        const message = messageOf(ctx);
        if (message.author.id !== core.world.botUser.id) {
          throw new DiscordApiError(403, 50013, 'Missing Permissions');
        }
        core.deleteMessage(message);
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
