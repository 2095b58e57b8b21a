import {
  type ButtonInteraction,
  type ChatInputCommandInteraction,
  MessageFlags,
  type ModalSubmitInteraction,
  type RESTPostAPIChatInputApplicationCommandsJSONBody,
} from 'discord.js';
import type { BotContext } from './context.js';
import { queuedMessage } from './messages.js';
import { admit, draftRecords, enqueueRecords, type PlannedJob, type Requester, release } from './submit.js';
import { UserError } from './user-error.js';

/** One slash command: its definition (plain API JSON, what deployment sends) and its handler. */
export interface Command {
  definition: RESTPostAPIChatInputApplicationCommandsJSONBody;
  execute(ctx: BotContext, interaction: ChatInputCommandInteraction): Promise<void>;
}

type JobInteraction = ChatInputCommandInteraction | ButtonInteraction | ModalSubmitInteraction;

export function requesterOf(interaction: JobInteraction): Requester {
  return {
    userId: interaction.user.id,
    guildId: interaction.guildId,
    channelId: interaction.channelId ?? '',
    applicationId: interaction.applicationId,
    interactionToken: interaction.token,
    interactionAt: interaction.createdTimestamp,
  };
}

/**
 * The common path of everything that starts jobs: policy and caps first (a refusal is ephemeral and
 * changes nothing), then the visible answer, then optional slow preparation (fetching images), then the
 * queue. Each job gets its own message: the interaction's reply for the first, follow-ups for the rest.
 */
export async function startJobs(
  ctx: BotContext,
  interaction: JobInteraction,
  planned: PlannedJob[],
  prepare?: () => Promise<void>,
): Promise<void> {
  const who = requesterOf(interaction);
  await admit(ctx, who, planned);
  try {
    const records = draftRecords(who, planned);
    const [first, ...rest] = records;
    if (!first) return;
    if (prepare) {
      await interaction.deferReply();
      try {
        await prepare();
      } catch (error) {
        // Nothing was queued: take the public placeholder away and tell only this user why.
        await interaction.deleteReply().catch(() => {});
        if (error instanceof UserError) {
          await interaction.followUp({ content: error.message, flags: MessageFlags.Ephemeral });
          await release(ctx, who, planned);
          return;
        }
        throw error;
      }
      // Preparation may have filled in inputs; carry them over.
      for (const [i, job] of planned.entries()) if (job.inputs) records[i]!.inputs = job.inputs;
      await interaction.editReply(queuedMessage(first));
    } else {
      await interaction.reply(queuedMessage(first));
    }
    for (const record of rest) {
      const message = await interaction.followUp(queuedMessage(record));
      record.reply.messageId = message.id;
    }
    await enqueueRecords(ctx, records);
  } catch (error) {
    await release(ctx, who, planned);
    throw error;
  }
}
