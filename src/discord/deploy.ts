import { REST } from '@discordjs/rest';
import { type RESTPostAPIChatInputApplicationCommandsJSONBody, Routes } from 'discord.js';

export interface DeployTarget {
  token: string;
  applicationId: string;
  /** Deploy to one server (instant; for development) instead of globally (may take up to an hour). */
  guildId?: string;
  /** A Discord-compatible server instead of discord.com (the sandbox). */
  api?: string;
}

/** Registers these slash commands, replacing what was registered before. Returns how many. */
export async function deployCommands(
  target: DeployTarget,
  body: readonly RESTPostAPIChatInputApplicationCommandsJSONBody[],
): Promise<number> {
  const rest = new REST({ version: '10', ...(target.api ? { api: target.api } : {}) }).setToken(target.token);
  const route = target.guildId
    ? Routes.applicationGuildCommands(target.applicationId, target.guildId)
    : Routes.applicationCommands(target.applicationId);
  const result = (await rest.put(route, { body })) as unknown[];
  return result.length;
}
