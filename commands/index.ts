import type { Command } from '../src/discord/command.js';
import { blend } from './blend.js';
import { imagine } from './imagine.js';
import { info } from './info.js';
import { policy } from './policy.js';
import { settings } from './settings.js';
import { show } from './show.js';

/** Every slash command, by name. */
export const commands: ReadonlyMap<string, Command> = new Map(
  [imagine, blend, settings, policy, info, show].map((command) => [command.definition.name, command]),
);
