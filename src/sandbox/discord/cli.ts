/**
 * Runs the loopback Discord on its own, for a bot started as a separate process or for the sandbox
 * page:  `npx tsx src/sandbox/discord/cli.ts [--port 8787]`. Prints one JSON line with the addresses,
 * the bot token and the page key (`pageUrl` carries it), then serves until SIGINT/SIGTERM.
 *
 * Environment: SANDBOX_DISCORD_PORT, SANDBOX_DISCORD_APP_ID, SANDBOX_DISCORD_TOKEN (fixed credentials
 * so a bot's configuration can stay the same between runs).
 */
import { startLoopbackDiscord } from './server.js';

function argument(name: string): string | undefined {
  const index = process.argv.indexOf(`--${name}`);
  return index >= 0 ? process.argv[index + 1] : undefined;
}

const port = Number(argument('port') ?? process.env['SANDBOX_DISCORD_PORT'] ?? 0);
const applicationId = process.env['SANDBOX_DISCORD_APP_ID'];
const token = process.env['SANDBOX_DISCORD_TOKEN'];

const discord = await startLoopbackDiscord({
  port,
  world: {
    application: {
      ...(applicationId ? { id: applicationId } : {}),
      ...(token ? { token } : {}),
    },
  },
});

const snapshot = discord.snapshot();
process.stdout.write(
  `${JSON.stringify({
    apiBase: discord.apiBase,
    cdnBase: discord.cdnBase,
    gatewayUrl: discord.gatewayUrl,
    pageApi: `${discord.origin}/sandbox`,
    pageUrl: discord.pageUrl,
    pageKey: discord.pageKey,
    applicationId: discord.application.id,
    token: discord.application.token,
    guilds: snapshot.guilds.map((g) => ({ id: g.id, name: g.name, channels: g.channels })),
    users: snapshot.users,
  })}\n`,
);

for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.once(signal, () => {
    void discord.close().then(() => process.exit(0));
  });
}
