import { ApplicationCommandOptionType } from 'discord.js';
import type { Command } from '../src/discord/command.js';
import { finalMessageFor } from '../src/discord/delivery.js';
import { mayShow } from '../src/discord/job-access.js';
import { UserError } from '../src/discord/user-error.js';
import { JOB_ID_PATTERN } from '../src/jobs/refs.js';

export const show: Command = {
  definition: {
    name: 'show',
    description: "Post a job's images again, with working buttons",
    options: [
      {
        type: ApplicationCommandOptionType.String,
        name: 'job',
        description: 'The job id',
        required: true,
        max_length: 64,
      },
    ],
  },
  async execute(ctx, interaction) {
    const jobId = interaction.options.getString('job', true).trim().toLowerCase();
    if (!JOB_ID_PATTERN.test(jobId))
      throw new UserError(`\`${jobId.slice(0, 64)}\` is not a job id (12 letters and digits).`);
    const record = await ctx.records.get(jobId);
    const place = {
      guildId: interaction.guildId,
      channelId: interaction.channelId,
      userId: interaction.user.id,
    };
    if (!record || !mayShow(record, place))
      throw new UserError(
        `No job \`${jobId}\` ${interaction.guildId ? 'of yours on this server, or made in this channel' : 'of yours'} (it may have expired).`,
      );
    if (record.status !== 'done')
      throw new UserError(`Job \`${jobId}\` is ${record.status}; nothing to show yet.`);
    const message = await finalMessageFor(ctx, record);
    await interaction.reply({
      content: message.content,
      files: message.files,
      components: message.components,
      allowedMentions: { users: [] },
    });
  },
};
