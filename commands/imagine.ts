import { ApplicationCommandOptionType } from 'discord.js';
import { type Command, startJobs } from '../src/discord/command.js';
import type { BotContext } from '../src/discord/context.js';
import { storeInputImage } from '../src/discord/input-images.js';
import type { PlannedJob } from '../src/discord/submit.js';
import { UserError } from '../src/discord/user-error.js';
import { newJobId, uploadRef } from '../src/jobs/refs.js';
import type { JobDescription } from '../src/jobs/spec.js';
import { PromptError, parseImagine } from '../src/prompt/index.js';
import type { ImageOrigin } from '../src/store/image-hashes.js';
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
    const descriptions = parseOrRefuse(typed, settings);

    // --repeat runs each prompt again with its own seed (each job keeps the --repeat it came from, so the
    // server's limit on it is judged as written).
    const planned: PlannedJob[] = descriptions.flatMap((description) =>
      Array.from({ length: description.params.repeat }, () => ({
        id: newJobId(),
        kind: 'imagine' as const,
        description,
      })),
    );

    const links = [
      ...new Set(descriptions.flatMap((d) => d.prompts.flatMap((p) => (p.kind === 'image' ? [p.url] : [])))),
    ];
    const prepare =
      links.length === 0
        ? undefined
        : async () => {
            // One at a time, each filed under the jobs as soon as it is stored, so a later failure
            // leaves nothing behind (startJobs drops the uploads of jobs it could not queue).
            const inputs: Record<string, string> = {};
            const origins: Record<string, ImageOrigin> = {};
            for (const job of planned) Object.assign(job, { inputs, origins });
            const place = {
              guildId: interaction.guildId,
              channelId: interaction.channelId,
              userId: interaction.user.id,
            };
            for (const link of links) {
              const { id, origin } = await storeInputImage(ctx, link, place);
              inputs[link] = uploadRef(id);
              if (origin) origins[link] = origin;
            }
          };
    await startJobs(ctx, interaction, planned, prepare);
  },
};
