import { ApplicationCommandOptionType, MessageFlags } from 'discord.js';
import type { Command } from '../src/discord/command.js';
import { UserError } from '../src/discord/user-error.js';
import { PromptError } from '../src/prompt/errors.js';
import { applyParameters, isParameterName, splitParameters } from '../src/prompt/parameters.js';
import { normalizeSyntax } from '../src/prompt/syntax-width.js';
import {
  MAX_OPTIONS,
  MAX_PREFERENCE_LENGTH,
  OPTION_NAME,
  type UserSettings,
} from '../src/store/user-settings.js';

/** A value must be parameters only (`--ar 3:2 --s 250`), valid on their own, as Midjourney's are. */
function checkParameters(value: string, what: string): string {
  const text = normalizeSyntax(value.trim());
  if (!text.startsWith('--')) {
    throw new UserError(`${what} must be parameters only, starting with \`--\` (e.g. \`--ar 3:2 --s 250\`).`);
  }
  try {
    applyParameters(splitParameters(text));
  } catch (error) {
    if (error instanceof PromptError) throw new UserError(`Not saved: ${error.message}.`);
    throw error;
  }
  return text;
}

function describe(settings: UserSettings): string {
  const names = Object.keys(settings.options).sort();
  return [
    '**Your preferences**',
    names.length
      ? names.map((name) => `\`--${name}\` = \`${settings.options[name]}\``).join('\n')
      : 'no options yet: `/prefer option set name: value:`',
    `suffix: ${settings.suffix ? `\`${settings.suffix}\`` : 'none'}`,
  ].join('\n');
}

export const prefer: Command = {
  definition: {
    name: 'prefer',
    description: 'Your named parameter sets (--name in prompts) and a suffix for every prompt',
    options: [
      {
        type: ApplicationCommandOptionType.SubcommandGroup,
        name: 'option',
        description: 'Named parameter sets, used as --name in your prompts',
        options: [
          {
            type: ApplicationCommandOptionType.Subcommand,
            name: 'set',
            description: 'Save parameters under a name',
            options: [
              {
                type: ApplicationCommandOptionType.String,
                name: 'name',
                description: 'Letters, digits, - and _ (used as --name)',
                required: true,
                max_length: 32,
              },
              {
                type: ApplicationCommandOptionType.String,
                name: 'value',
                description: 'Parameters, e.g. --ar 3:2 --s 250',
                required: true,
                max_length: MAX_PREFERENCE_LENGTH,
              },
            ],
          },
          { type: ApplicationCommandOptionType.Subcommand, name: 'list', description: 'Show your options' },
          {
            type: ApplicationCommandOptionType.Subcommand,
            name: 'delete',
            description: 'Delete one of your options',
            options: [
              {
                type: ApplicationCommandOptionType.String,
                name: 'name',
                description: 'The option to delete',
                required: true,
                max_length: 32,
              },
            ],
          },
        ],
      },
      {
        type: ApplicationCommandOptionType.Subcommand,
        name: 'suffix',
        description: 'Parameters added to every prompt of yours (leave empty to remove)',
        options: [
          {
            type: ApplicationCommandOptionType.String,
            name: 'value',
            description: 'Parameters, e.g. --s 250 --chaos 10',
            required: false,
            max_length: MAX_PREFERENCE_LENGTH,
          },
        ],
      },
    ],
  },

  async execute(ctx, interaction) {
    const userId = interaction.user.id;
    const group = interaction.options.getSubcommandGroup(false);
    const sub = interaction.options.getSubcommand(true);
    let settings = await ctx.settings.get(userId);
    let summary = '';
    if (group === 'option' && sub === 'set') {
      const name = interaction.options.getString('name', true).trim().replace(/^--/, '').toLowerCase();
      if (!OPTION_NAME.test(name))
        throw new UserError(
          `\`${name.slice(0, 32)}\` is not an option name: letters, digits, - and _, starting with a letter.`,
        );
      if (isParameterName(name))
        throw new UserError(
          `\`--${name}\` is one of the prompt language's own parameters; pick another name.`,
        );
      const value = checkParameters(interaction.options.getString('value', true), 'An option');
      if (!(name in settings.options) && Object.keys(settings.options).length >= MAX_OPTIONS)
        throw new UserError(
          `You have ${MAX_OPTIONS} options, the most one person may keep; delete one first.`,
        );
      settings = await ctx.settings.update(userId, { options: { ...settings.options, [name]: value } });
      summary = `Saved \`--${name}\`.\n`;
    } else if (group === 'option' && sub === 'delete') {
      const name = interaction.options.getString('name', true).trim().replace(/^--/, '').toLowerCase();
      if (!(name in settings.options)) throw new UserError(`You have no option \`--${name.slice(0, 32)}\`.`);
      const { [name]: _, ...rest } = settings.options;
      settings = await ctx.settings.update(userId, { options: rest });
      summary = `Deleted \`--${name}\`.\n`;
    } else if (sub === 'suffix') {
      const given = interaction.options.getString('value')?.trim() ?? '';
      const suffix = given ? checkParameters(given, 'A suffix') : '';
      settings = await ctx.settings.update(userId, { suffix });
      summary = suffix ? 'Suffix saved.\n' : 'Suffix removed.\n';
    }
    await interaction.reply({ content: summary + describe(settings), flags: MessageFlags.Ephemeral });
  },
};
