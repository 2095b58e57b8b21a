/** Read-only routes: gateway discovery, the bot user and application, guilds, members and roles. */
import { DiscordApiError, ErrorCode } from './api-error.js';
import type { SandboxCore } from './core.js';
import type { RouteContext, RouteDefinition } from './router.js';
import type { SandboxGuild } from './world.js';

export function infoRoutes(core: SandboxCore, gatewayUrl: () => string): RouteDefinition[] {
  const { world } = core;
  const guildOf = (ctx: RouteContext): SandboxGuild => {
    const guild = world.findGuild(ctx.params['guildId'] ?? '');
    if (!guild) throw new DiscordApiError(404, ErrorCode.UnknownGuild, 'Unknown Guild');
    return guild;
  };
  const application = () => ({
    id: world.application.id,
    name: world.application.name,
    icon: null,
    description: '',
    bot_public: true,
    bot_require_code_grant: false,
    verify_key: '0'.repeat(64),
    flags: 0,
    owner: world.apiUser(world.botUser),
    bot: world.apiUser(world.botUser),
    team: null,
  });
  return [
    {
      method: 'GET',
      template: '/gateway',
      auth: 'none',
      major: [],
      handle: async () => ({ status: 200, body: { url: gatewayUrl() } }),
    },
    {
      method: 'GET',
      template: '/gateway/bot',
      auth: 'bot',
      major: [],
      handle: async () => ({
        status: 200,
        body: {
          url: gatewayUrl(),
          shards: 1,
          session_start_limit: { total: 1000, remaining: 1000, reset_after: 0, max_concurrency: 1 },
        },
      }),
    },
    {
      method: 'GET',
      template: '/users/@me',
      auth: 'bot',
      major: [],
      handle: async () => ({
        status: 200,
        body: { ...world.apiUser(world.botUser), verified: true, flags: 0 },
      }),
    },
    {
      method: 'GET',
      template: '/users/:userId',
      auth: 'bot',
      major: [],
      handle: async (ctx) => {
        const user = world.users.get(ctx.params['userId'] ?? '');
        if (!user) throw new DiscordApiError(404, ErrorCode.UnknownUser, 'Unknown User');
        return { status: 200, body: world.apiUser(user) };
      },
    },
    {
      method: 'GET',
      template: '/applications/@me',
      auth: 'bot',
      major: [],
      handle: async () => ({ status: 200, body: application() }),
    },
    {
      method: 'GET',
      template: '/oauth2/applications/@me',
      auth: 'bot',
      major: [],
      handle: async () => ({ status: 200, body: application() }),
    },
    {
      method: 'GET',
      template: '/guilds/:guildId',
      auth: 'bot',
      major: ['guildId'],
      handle: async (ctx) => {
        const { members: _members, channels: _channels, ...guild } = world.apiGuildCreate(guildOf(ctx));
        return { status: 200, body: guild };
      },
    },
    {
      method: 'GET',
      template: '/guilds/:guildId/channels',
      auth: 'bot',
      major: ['guildId'],
      handle: async (ctx) => ({ status: 200, body: guildOf(ctx).channels.map((c) => world.apiChannel(c)) }),
    },
    {
      method: 'GET',
      template: '/guilds/:guildId/roles',
      auth: 'bot',
      major: ['guildId'],
      handle: async (ctx) => ({ status: 200, body: guildOf(ctx).roles.map((r) => world.apiRole(r)) }),
    },
    {
      method: 'GET',
      template: '/guilds/:guildId/members/:userId',
      auth: 'bot',
      major: ['guildId'],
      handle: async (ctx) => {
        const guild = guildOf(ctx);
        const member = guild.members.get(ctx.params['userId'] ?? '');
        if (!member) throw new DiscordApiError(404, ErrorCode.UnknownMember, 'Unknown Member');
        return { status: 200, body: world.apiMember(member) };
      },
    },
  ];
}
