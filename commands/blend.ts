import { ApplicationCommandOptionType, type Attachment } from 'discord.js';
import { type Command, startJobs } from '../src/discord/command.js';
import { storeInputImage } from '../src/discord/input-images.js';
import type { PlannedJob } from '../src/discord/submit.js';
import { UserError } from '../src/discord/user-error.js';
import { newJobId, uploadRef } from '../src/jobs/refs.js';
import type { AspectRatio, JobDescription } from '../src/jobs/spec.js';
import { weighPrompts } from '../src/jobs/weights.js';
import { DEFAULT_PARAMS } from '../src/prompt/index.js';
import { MAX_ABS_WEIGHT } from '../src/prompt/multiprompt.js';
import type { ImageOrigin } from '../src/store/image-hashes.js';

const DIMENSIONS: Record<string, AspectRatio> = {
  square: { width: 1, height: 1 },
  portrait: { width: 2, height: 3 },
  landscape: { width: 3, height: 2 },
};

const MAX_IMAGES = 5;
const ACCEPTED_TYPES = ['image/png', 'image/jpeg', 'image/webp', 'image/gif'];

/** Refusals that need no download: the attachment's own metadata already says no. */
export function checkAttachment(attachment: Attachment, maxBytes: number): void {
  const type = attachment.contentType?.split(';')[0]?.trim() ?? '';
  if (!ACCEPTED_TYPES.includes(type)) {
    throw new UserError(
      `${attachment.name} is not a PNG, JPEG, WebP or GIF image (${type || 'unknown type'}).`,
    );
  }
  if (attachment.size > maxBytes) {
    throw new UserError(
      `${attachment.name} is ${(attachment.size / 1024 / 1024).toFixed(1)} MiB; images may be at most ${(maxBytes / 1024 / 1024).toFixed(0)} MiB.`,
    );
  }
}

export function checkAttachments(attachments: Attachment[], maxBytes: number): void {
  if (attachments.length < 2) throw new UserError('Blend needs at least 2 images.');
  if (attachments.length > MAX_IMAGES) throw new UserError(`Blend takes at most ${MAX_IMAGES} images.`);
  for (const attachment of attachments) checkAttachment(attachment, maxBytes);
}

export const blend: Command = {
  definition: {
    name: 'blend',
    description: 'Blend 2-5 images into new ones',
    options: [
      ...[1, 2, 3, 4, 5].map((n) => ({
        type: ApplicationCommandOptionType.Attachment as const,
        name: `image${n}`,
        description: `Image ${n}`,
        required: n <= 2,
      })),
      ...[1, 2, 3, 4, 5].map((n) => ({
        type: ApplicationCommandOptionType.Number as const,
        name: `weight${n}`,
        description: `Weight of image ${n} (default 1; negative pushes away from it)`,
        required: false,
        min_value: -MAX_ABS_WEIGHT,
        max_value: MAX_ABS_WEIGHT,
      })),
      {
        type: ApplicationCommandOptionType.String,
        name: 'dimensions',
        description: 'Shape of the result',
        required: false,
        choices: Object.keys(DIMENSIONS).map((name) => ({ name, value: name })),
      },
    ],
  },

  async execute(ctx, interaction) {
    const given = [1, 2, 3, 4, 5].flatMap((n) => {
      const attachment = interaction.options.getAttachment(`image${n}`);
      return attachment ? [{ attachment, weight: interaction.options.getNumber(`weight${n}`) ?? 1 }] : [];
    });
    const attachments = given.map((g) => g.attachment);
    checkAttachments(attachments, ctx.config.IMAGE_MAX_BYTES);
    const aspect =
      DIMENSIONS[interaction.options.getString('dimensions') ?? 'square'] ?? DIMENSIONS['square']!;
    const settings = await ctx.settings.get(interaction.user.id);

    const ids = attachments.map(() => newJobId());
    const refs = ids.map(uploadRef);
    const written = refs.map((url, i) => ({ kind: 'image' as const, url, weight: given[i]!.weight }));
    if (written.every((p) => p.weight === 0))
      throw new UserError('All the weights are 0, so nothing would steer the blend; give one a weight.');
    const { prompts, weightSum } = weighPrompts(written);
    const description: JobDescription = {
      prompt: '',
      prompts,
      weightSum,
      params: { ...DEFAULT_PARAMS, aspect, no: [], stylize: settings.stylize, quality: settings.quality },
      parents: [],
      notes: [],
    };
    const job: PlannedJob = { id: newJobId(), kind: 'blend', description };
    await startJobs(ctx, interaction, [job], async () => {
      const place = {
        guildId: interaction.guildId,
        channelId: interaction.channelId,
        userId: interaction.user.id,
      };
      const origins: Record<string, ImageOrigin> = {};
      job.origins = origins;
      for (const [i, attachment] of attachments.entries()) {
        const { origin } = await storeInputImage(ctx, attachment.url, place, {
          name: attachment.name,
          id: ids[i]!,
        });
        if (origin) origins[refs[i]!] = origin;
      }
    });
  },
};
