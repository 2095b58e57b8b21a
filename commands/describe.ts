import { ApplicationCommandOptionType, type ButtonInteraction } from 'discord.js';
import { type Command, startJobs } from '../src/discord/command.js';
import { defineComponent } from '../src/discord/component.js';
import type { BotContext } from '../src/discord/context.js';
import { storeInputImage } from '../src/discord/input-images.js';
import { mayUseButtons } from '../src/discord/job-access.js';
import type { PlannedJob } from '../src/discord/submit.js';
import { UserError } from '../src/discord/user-error.js';
import { type DescribeAction, parseDescribeButton } from '../src/jobs/custom-ids.js';
import { newJobId, uploadRef } from '../src/jobs/refs.js';
import type { JobDescription } from '../src/jobs/spec.js';
import { validateImageUrl } from '../src/prompt/image-urls.js';
import { DEFAULT_PARAMS, PromptError, parseImagine } from '../src/prompt/index.js';
import { checkAttachment } from './blend.js';

const CANNOT =
  "This server's model cannot describe images: it has no image encoder sharing a space with its words.";

/** A describe job: the image as the only (image) prompt, and how many descriptions to pass over. */
function describeJob(url: string, skip: number): JobDescription {
  return {
    prompt: '',
    prompts: [{ kind: 'image', url, weight: 1, normalized: 1 }],
    weightSum: 1,
    params: { ...DEFAULT_PARAMS, aspect: { ...DEFAULT_PARAMS.aspect }, no: [] },
    parents: [],
    notes: [],
    describe: { skip },
  };
}

export const describe: Command = {
  definition: {
    name: 'describe',
    description: 'Four prompts that would draw something like an image',
    options: [
      {
        type: ApplicationCommandOptionType.Attachment,
        name: 'image',
        description: 'The image to describe',
        required: false,
      },
      {
        type: ApplicationCommandOptionType.String,
        name: 'link',
        description: 'Or a link to a PNG, JPEG, WebP or GIF image',
        required: false,
        max_length: 2000,
      },
    ],
  },

  async execute(ctx, interaction) {
    if (!ctx.model.canDescribe) throw new UserError(CANNOT);
    const attachment = interaction.options.getAttachment('image');
    const link = interaction.options.getString('link')?.trim();
    if (!attachment === !link) throw new UserError('Give /describe one image: an upload or a link.');
    let url: string;
    if (attachment) {
      checkAttachment(attachment, ctx.config.IMAGE_MAX_BYTES);
      url = attachment.url;
    } else {
      try {
        url = validateImageUrl(link!);
      } catch (error) {
        if (error instanceof PromptError)
          throw new UserError(`That link cannot be described: ${error.message}.`);
        throw error;
      }
    }
    const id = newJobId();
    const job: PlannedJob = { id: newJobId(), kind: 'describe', description: describeJob(uploadRef(id), 0) };
    const place = {
      guildId: interaction.guildId,
      channelId: interaction.channelId,
      userId: interaction.user.id,
    };
    await startJobs(ctx, interaction, [job], async () => {
      const { origin } = await storeInputImage(ctx, url, place, { id, name: attachment?.name ?? url });
      if (origin) job.origins = { [uploadRef(id)]: origin };
    });
  },
};

/** 1-4: /imagine with that prompt; Imagine all: the four at once; 🔄: the next four descriptions. */
async function pressDescribe(ctx: BotContext, interaction: ButtonInteraction, button: DescribeAction) {
  const record = await ctx.records.get(button.jobId);
  const place = {
    guildId: interaction.guildId,
    channelId: interaction.channelId,
    userId: interaction.user.id,
  };
  if (record?.kind !== 'describe' || !mayUseButtons(record, place))
    throw new UserError('That /describe has expired or is not from here; describe the image again.');
  if (record.result?.type !== 'text') throw new UserError('That /describe has not finished yet.');
  if (button.action === 'describe-more') {
    const skip = (record.description.describe?.skip ?? 0) + record.result.lines.length;
    const image = record.description.prompts.find((p) => p.kind === 'image');
    if (!image) throw new UserError('That /describe has no image to describe again.');
    const more: PlannedJob = {
      id: newJobId(),
      kind: 'describe',
      description: describeJob(image.url, skip),
      ...(record.origins ? { origins: record.origins } : {}),
    };
    await startJobs(ctx, interaction, [more]);
    return;
  }
  const chosen =
    button.action === 'describe-all' ? record.result.lines : [record.result.lines[button.index - 1]];
  const settings = await ctx.settings.get(interaction.user.id);
  const planned = chosen.flatMap((line) => {
    if (line === undefined) throw new UserError('That button was not made by this bot; nothing was done.');
    const descriptions = parseImagine(line, {
      defaults: { stylize: settings.stylize, quality: settings.quality },
      preferences: { options: settings.options, suffix: settings.suffix },
    });
    return descriptions.map((description) => ({ id: newJobId(), kind: 'imagine' as const, description }));
  });
  await startJobs(ctx, interaction, planned);
}

export const describeButtons = defineComponent({
  name: 'describe buttons',
  parse: (interaction) => (interaction.isButton() ? parseDescribeButton(interaction.customId) : null),
  run: (ctx, interaction, button) => pressDescribe(ctx, interaction as ButtonInteraction, button),
});
