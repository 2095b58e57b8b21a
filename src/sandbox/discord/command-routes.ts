/** Application command deployment, global and per guild; every change is published as an event. */
import { DiscordApiError, ErrorCode } from './api-error.js';
import type { SandboxCore } from './core.js';
import type { RouteContext, RouteDefinition, RouteResult } from './router.js';

export function commandRoutes(core: SandboxCore): RouteDefinition[] {
  const scopeOf = (ctx: RouteContext): string | null => {
    if (ctx.params['applicationId'] !== core.world.application.id) {
      throw new DiscordApiError(404, ErrorCode.UnknownApplication, 'Unknown Application');
    }
    const guildId = ctx.params['guildId'];
    if (guildId === undefined) return null;
    if (!core.world.findGuild(guildId))
      throw new DiscordApiError(404, ErrorCode.UnknownGuild, 'Unknown Guild');
    return guildId;
  };
  /** A handler that changes the commands of the route's scope, then publishes the new list. */
  const changing =
    (status: number, change: (guildId: string | null, ctx: RouteContext) => Promise<unknown>) =>
    async (ctx: RouteContext): Promise<RouteResult> => {
      const guildId = scopeOf(ctx);
      const body = await change(guildId, ctx);
      core.events.push({ type: 'commands.update', guildId, commands: core.commands.list(guildId) });
      return body === undefined ? { status } : { status, body };
    };
  const commandOf = (ctx: RouteContext, guildId: string | null) => {
    const command = core.commands.list(guildId).find((c) => c.id === ctx.params['commandId']);
    if (!command)
      throw new DiscordApiError(404, ErrorCode.UnknownApplicationCommand, 'Unknown application command');
    return command;
  };

  const routes: RouteDefinition[] = [];
  for (const base of [
    '/applications/:applicationId/commands',
    '/applications/:applicationId/guilds/:guildId/commands',
  ]) {
    const major = base.includes(':guildId') ? ['applicationId', 'guildId'] : ['applicationId'];
    routes.push(
      {
        method: 'GET',
        template: base,
        auth: 'bot',
        major,
        handle: async (ctx) => ({ status: 200, body: core.commands.list(scopeOf(ctx)) }),
      },
      {
        method: 'PUT',
        template: base,
        auth: 'bot',
        major,
        handle: changing(200, async (guildId, ctx) =>
          core.commands.overwrite(guildId, (await ctx.body()).json),
        ),
      },
      {
        method: 'POST',
        template: base,
        auth: 'bot',
        major,
        handle: changing(201, async (guildId, ctx) => core.commands.upsert(guildId, (await ctx.body()).json)),
      },
      {
        method: 'GET',
        template: `${base}/:commandId`,
        auth: 'bot',
        major,
        handle: async (ctx) => ({ status: 200, body: commandOf(ctx, scopeOf(ctx)) }),
      },
      {
        method: 'PATCH',
        template: `${base}/:commandId`,
        auth: 'bot',
        major,
        handle: changing(200, async (guildId, ctx) => {
          const existing = commandOf(ctx, guildId);
          const patch = (await ctx.body()).json;
          const merged = { ...existing, ...(typeof patch === 'object' && patch !== null ? patch : {}) };
          return core.commands.upsert(guildId, merged);
        }),
      },
      {
        method: 'DELETE',
        template: `${base}/:commandId`,
        auth: 'bot',
        major,
        handle: changing(204, async (guildId, ctx) => {
          commandOf(ctx, guildId);
          core.commands.remove(guildId, ctx.params['commandId'] ?? '');
        }),
      },
    );
  }
  return routes;
}
