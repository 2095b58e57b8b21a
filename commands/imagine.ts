import { ApplicationCommandOptionType } from 'discord.js';
import { type Command, startJobs } from '../src/discord/command.js';
import type { BotContext } from '../src/discord/context.js';
import { fetchLinks } from '../src/discord/input-images.js';
import type { PlannedJob } from '../src/discord/submit.js';
import { UserError } from '../src/discord/user-error.js';
import { newJobId } from '../src/jobs/refs.js';
import type { JobDescription } from '../src/jobs/spec.js';
import { fitStyle } from '../src/jobs/style.js';
import { PromptError, parseImagine } from '../src/prompt/index.js';
import type { UserSettings } from '../src/store/user-settings.js';

function parseOrRefuse(prompt: string, settings: UserSettings): JobDescription[] {
  try {
    return parseImagine(prompt, {
      defaults: { stylize: settings.stylize, quality: settings.quality },
      preferences: { options: settings.options, suffix: settings.suffix },
    });
  } catch (error) {
    if (error instanceof PromptError)
      throw new UserError(`Your prompt was not understood: ${error.message}.`);
    throw error;
  }
}

export const imagine: Command = {
  definition: {
    name: 'imagine',
    description: 'Create four images from a prompt',
    options: [
      {
        type: ApplicationCommandOptionType.String,
        name: 'prompt',
        description: 'Image links, then text with optional ::weights, then --parameters',
        required: true,
        max_length: 6000,
      },
    ],
  },

  async execute(ctx: BotContext, interaction) {
    const typed = interaction.options.getString('prompt', true);
    const settings = await ctx.settings.get(interaction.user.id);
    const descriptions = parseOrRefuse(typed, settings).map((d) => fitStyle(d, ctx.model));

    // --repeat runs each prompt again with its own seed (each job keeps the --repeat it came from, so the
    // server's limit on it is judged as written).
    const planned: PlannedJob[] = descriptions.flatMap((description) =>
      Array.from({ length: description.params.repeat }, () => ({
        id: newJobId(),
        kind: 'imagine' as const,
        description,
      })),
    );

    const place = {
      guildId: interaction.guildId,
      channelId: interaction.channelId,
      userId: interaction.user.id,
    };
    await startJobs(ctx, interaction, planned, fetchLinks(ctx, place, planned));
  },
};
