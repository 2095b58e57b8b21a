import type { Command } from '../src/discord/command.js';
import type { ComponentHandler } from '../src/discord/component.js';
import { blend } from './blend.js';
import { jobButtons, regionMenu, remixForm, zoomForm } from './buttons.js';
import { describe, describeButtons } from './describe.js';
import { imagine } from './imagine.js';
import { info } from './info.js';
import { policy } from './policy.js';
import { prefer } from './prefer.js';
import { settings, settingsControls } from './settings.js';
import { show } from './show.js';

/** Every slash command, by name. */
export const commands: ReadonlyMap<string, Command> = new Map(
  [imagine, blend, describe, settings, prefer, policy, info, show].map((command) => [
    command.definition.name,
    command,
  ]),
);

/** Every button, select menu and modal handler; the router asks each in turn. */
export const components: readonly ComponentHandler[] = [
  jobButtons,
  regionMenu,
  zoomForm,
  describeButtons,
  remixForm,
  settingsControls,
];

/** What deployment sends: the definitions only. */
export const commandDefinitions = () => [...commands.values()].map((command) => command.definition);
