import {
  type APIApplicationCommandBasicOption,
  ApplicationCommandOptionType,
  MessageFlags,
  PermissionFlagsBits,
} from 'discord.js';
import type { Command } from '../src/discord/command.js';
import { UserError } from '../src/discord/user-error.js';
import type { GuildPolicy } from '../src/policy/guild-policy.js';
import { foldForMatching } from '../src/policy/index.js';

/** The /policy set options and the policy field each one sets. */
const SETTABLE = [
  {
    option: 'weight_sum_positive',
    field: 'requirePositiveWeightSum',
    type: ApplicationCommandOptionType.Boolean,
    text: 'Require weights to add up to more than 0',
  },
  {
    option: 'min_weight',
    field: 'minNormalizedWeight',
    type: ApplicationCommandOptionType.Number,
    text: 'Lowest normalized weight of any part, -100 to 0',
  },
  {
    option: 'max_steps',
    field: 'maxSteps',
    type: ApplicationCommandOptionType.Integer,
    text: 'Most denoising steps per job',
  },
  {
    option: 'max_side',
    field: 'maxSide',
    type: ApplicationCommandOptionType.Integer,
    text: 'Longest image side in pixels',
  },
  {
    option: 'max_repeat',
    field: 'maxRepeat',
    type: ApplicationCommandOptionType.Integer,
    text: 'Highest --repeat',
  },
  {
    option: 'max_jobs_per_command',
    field: 'maxJobsPerCommand',
    type: ApplicationCommandOptionType.Integer,
    text: 'Most jobs one command may start',
  },
  {
    option: 'max_queued',
    field: 'maxQueuedPerUser',
    type: ApplicationCommandOptionType.Integer,
    text: 'Most waiting jobs per user',
  },
  {
    option: 'max_running',
    field: 'maxRunningPerUser',
    type: ApplicationCommandOptionType.Integer,
    text: 'Most running jobs per user',
  },
  {
    option: 'max_queued_server',
    field: 'maxQueuedPerServer',
    type: ApplicationCommandOptionType.Integer,
    text: 'Most waiting jobs for the whole server',
  },
  {
    option: 'max_images',
    field: 'maxImagePrompts',
    type: ApplicationCommandOptionType.Integer,
    text: 'Most image links or uploads per prompt (0-5)',
  },
  {
    option: 'max_parts',
    field: 'maxTextParts',
    type: ApplicationCommandOptionType.Integer,
    text: 'Most text parts per prompt, --no terms included (1-16)',
  },
  {
    option: 'max_render_seconds',
    field: 'maxRenderSeconds',
    type: ApplicationCommandOptionType.Integer,
    text: 'Longest a job may render, in seconds (5-3600)',
  },
] as const satisfies ReadonlyArray<{ option: string; field: keyof GuildPolicy; type: number; text: string }>;

/** /policy ban and /policy unban: one word or phrase. */
function wordSubcommand(name: string, description: string) {
  return {
    type: ApplicationCommandOptionType.Subcommand as const,
    name,
    description,
    options: [
      {
        type: ApplicationCommandOptionType.String as const,
        name: 'word',
        description: 'Word or phrase',
        required: true,
        max_length: 100,
      },
    ],
  };
}

export function describePolicy(policy: GuildPolicy): string {
  return [
    '**Server policy**',
    `weights must add up to more than 0: ${policy.requirePositiveWeightSum ? 'yes (Opposite and other all-negative prompts are refused; `/policy set weight_sum_positive:False` allows them)' : 'no'}`,
    `lowest normalized weight: ${policy.minNormalizedWeight ?? 'no limit'}`,
    `banned words: ${policy.bannedWords.length ? policy.bannedWords.map((w) => `\`${w}\``).join(', ') : 'none'}`,
    `max steps ${policy.maxSteps} · max side ${policy.maxSide} px · max repeat ${policy.maxRepeat} · max jobs per command ${policy.maxJobsPerCommand}`,
    `per prompt: ${policy.maxImagePrompts} images, ${policy.maxTextParts} text parts · a render stops after ${policy.maxRenderSeconds} s at most`,
    `per user: ${policy.maxQueuedPerUser} waiting, ${policy.maxRunningPerUser} running · server: ${policy.maxQueuedPerServer} waiting`,
  ].join('\n');
}

export const policy: Command = {
  definition: {
    name: 'policy',
    description: "Show or change this server's rules for prompts and jobs",
    default_member_permissions: String(PermissionFlagsBits.ManageGuild),
    dm_permission: false,
    options: [
      { type: ApplicationCommandOptionType.Subcommand, name: 'show', description: 'Show the current rules' },
      {
        type: ApplicationCommandOptionType.Subcommand,
        name: 'set',
        description: 'Change one or more rules',
        options: [
          ...SETTABLE.map(
            ({ option, type, text }) =>
              ({
                type,
                name: option,
                description: text.slice(0, 100),
                required: false,
              }) as APIApplicationCommandBasicOption,
          ),
          {
            type: ApplicationCommandOptionType.Boolean,
            name: 'min_weight_off',
            description: 'Remove the lowest-weight limit',
            required: false,
          },
        ],
      },
      wordSubcommand('ban', 'Ban a word or phrase in prompts'),
      wordSubcommand('unban', 'Allow a banned word again'),
    ],
  },

  async execute(ctx, interaction) {
    if (!interaction.guildId)
      throw new UserError('Policies belong to servers; use /policy in a server channel.');
    // Discord hides the command from members without Manage Server, but a server can override that.
    if (!interaction.memberPermissions?.has(PermissionFlagsBits.ManageGuild)) {
      throw new UserError('Only members with the Manage Server permission can see or change the policy.');
    }
    const guildId = interaction.guildId;
    const sub = interaction.options.getSubcommand(true);
    let current = await ctx.policies.get(guildId);
    let summary = '';
    if (sub === 'set') {
      const change: Record<string, unknown> = {};
      for (const { option, field, type } of SETTABLE) {
        const value =
          type === ApplicationCommandOptionType.Boolean
            ? interaction.options.getBoolean(option)
            : type === ApplicationCommandOptionType.Integer
              ? interaction.options.getInteger(option)
              : interaction.options.getNumber(option);
        if (value !== null) change[field] = value;
      }
      if (interaction.options.getBoolean('min_weight_off')) change['minNormalizedWeight'] = null;
      if (Object.keys(change).length === 0)
        throw new UserError('Give at least one rule to change, e.g. `/policy set max_steps:30`.');
      try {
        current = await ctx.policies.update(guildId, change as Partial<GuildPolicy>);
      } catch (error) {
        const issues = (error as { issues?: Array<{ path: unknown[]; message: string }> }).issues ?? [];
        throw new UserError(
          `Not changed: ${issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; ') || 'invalid value'}.`,
        );
      }
      summary = `Changed: ${Object.keys(change).join(', ')}.\n`;
    } else if (sub === 'ban' || sub === 'unban') {
      const word = interaction.options.getString('word', true).trim();
      if (!word) throw new UserError('Give a word or phrase.');
      const folded = foldForMatching(word);
      const others = current.bannedWords.filter((w) => foldForMatching(w) !== folded);
      if (sub === 'unban' && others.length === current.bannedWords.length)
        throw new UserError(`\`${word}\` is not banned.`);
      current = await ctx.policies.update(guildId, {
        bannedWords: sub === 'ban' ? [...others, word] : others,
      });
      summary = sub === 'ban' ? `Banned \`${word}\`.\n` : `\`${word}\` is allowed again.\n`;
    }
    ctx.logger.info({ guildId, userId: interaction.user.id, sub }, 'policy viewed or changed');
    await interaction.reply({ content: summary + describePolicy(current), flags: MessageFlags.Ephemeral });
  },
};
