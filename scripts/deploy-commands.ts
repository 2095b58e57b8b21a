/**
 * `npm run deploy-commands`: registers the slash commands with Discord. With DISCORD_GUILD_ID set they
 * go to that server only and appear at once (development); without it, globally.
 */
import { commandDefinitions } from '../commands/index.js';
import { loadConfig } from '../src/config.js';
import { deployCommands } from '../src/discord/deploy.js';

const config = loadConfig();
if (!config.DISCORD_TOKEN || !config.DISCORD_APPLICATION_ID) {
  process.stderr.write(
    'Set DISCORD_TOKEN and DISCORD_APPLICATION_ID (see .env.example) to deploy commands.\n',
  );
  process.exit(2);
}
const count = await deployCommands(
  {
    token: config.DISCORD_TOKEN,
    applicationId: config.DISCORD_APPLICATION_ID,
    ...(config.DISCORD_GUILD_ID ? { guildId: config.DISCORD_GUILD_ID } : {}),
  },
  commandDefinitions(),
);
process.stdout.write(
  `Deployed ${count} commands ${config.DISCORD_GUILD_ID ? `to server ${config.DISCORD_GUILD_ID}` : 'globally (may take up to an hour to appear)'}.\n`,
);
