import {
  ActionRowBuilder,
  ButtonBuilder,
  ButtonStyle,
  type InteractionReplyOptions,
  type MessageActionRowComponentBuilder,
  type MessageComponentInteraction,
  MessageFlags,
  StringSelectMenuBuilder,
} from 'discord.js';
import type { Command } from '../src/discord/command.js';
import { defineComponent } from '../src/discord/component.js';
import type { BotContext } from '../src/discord/context.js';
import { UserError } from '../src/discord/user-error.js';
import type { UserSettings } from '../src/store/user-settings.js';

const STYLIZE = [
  { label: 'Stylize low (50)', value: '50' },
  { label: 'Stylize med (100)', value: '100' },
  { label: 'Stylize high (250)', value: '250' },
  { label: 'Stylize very high (750)', value: '750' },
];
const QUALITY = [
  { label: 'Quality .25 (fastest)', value: '0.25' },
  { label: 'Quality .5', value: '0.5' },
  { label: 'Quality 1 (default)', value: '1' },
  { label: 'Quality 2 (most steps)', value: '2' },
];

/** Ids of the settings controls; `set:` keeps them apart from job buttons. */
export const SETTINGS_IDS = { remix: 'set:remix', stylize: 'set:stylize', quality: 'set:quality' } as const;

export function settingsView(
  settings: UserSettings,
): InteractionReplyOptions & { components: ActionRowBuilder<MessageActionRowComponentBuilder>[] } {
  const stylize = new StringSelectMenuBuilder()
    .setCustomId(SETTINGS_IDS.stylize)
    .addOptions(STYLIZE.map((o) => ({ ...o, default: o.value === String(settings.stylize) })));
  const quality = new StringSelectMenuBuilder()
    .setCustomId(SETTINGS_IDS.quality)
    .addOptions(QUALITY.map((o) => ({ ...o, default: Number(o.value) === settings.quality })));
  const remix = new ButtonBuilder()
    .setCustomId(SETTINGS_IDS.remix)
    .setLabel(`Remix mode: ${settings.remix ? 'on' : 'off'}`)
    .setStyle(settings.remix ? ButtonStyle.Success : ButtonStyle.Secondary);
  return {
    content: `**Your settings** (used where a prompt does not say otherwise)\nstylize ${settings.stylize} · quality ${settings.quality} · remix ${settings.remix ? 'on' : 'off'}`,
    components: [
      new ActionRowBuilder<MessageActionRowComponentBuilder>().addComponents(stylize),
      new ActionRowBuilder<MessageActionRowComponentBuilder>().addComponents(quality),
      new ActionRowBuilder<MessageActionRowComponentBuilder>().addComponents(remix),
    ],
  };
}

/** A press on one of the settings controls: store the change, redraw the same ephemeral message. */
async function changeSetting(ctx: BotContext, interaction: MessageComponentInteraction): Promise<void> {
  const userId = interaction.user.id;
  const current = await ctx.settings.get(userId);
  let change: Partial<UserSettings>;
  if (interaction.customId === SETTINGS_IDS.remix) {
    change = { remix: !current.remix };
  } else if (interaction.isStringSelectMenu() && interaction.customId === SETTINGS_IDS.stylize) {
    change = { stylize: Number(interaction.values[0]) };
  } else if (interaction.isStringSelectMenu() && interaction.customId === SETTINGS_IDS.quality) {
    change = { quality: Number(interaction.values[0]) as UserSettings['quality'] };
  } else {
    throw new UserError('That control was not made by this bot; nothing was changed.');
  }
  let next: UserSettings;
  try {
    next = await ctx.settings.update(userId, change);
  } catch {
    throw new UserError('That value is not one of the choices; nothing was changed.');
  }
  const { content, components } = settingsView(next);
  await interaction.update({ content: content ?? '', components });
}

export const settings: Command = {
  definition: { name: 'settings', description: 'Your defaults: stylize, quality, remix mode' },
  async execute(ctx, interaction) {
    await interaction.reply({
      ...settingsView(await ctx.settings.get(interaction.user.id)),
      flags: MessageFlags.Ephemeral,
    });
  },
};

/** The /settings menus and the remix toggle (`set:` ids). */
export const settingsControls = defineComponent({
  name: 'settings controls',
  parse: (interaction) =>
    (interaction.isButton() || interaction.isStringSelectMenu()) && interaction.customId.startsWith('set:')
      ? interaction
      : null,
  run: (ctx, _interaction, control) => changeSetting(ctx, control),
});
