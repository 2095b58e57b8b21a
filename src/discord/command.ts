import type {
  ButtonInteraction,
  ChatInputCommandInteraction,
  ModalSubmitInteraction,
  RESTPostAPIChatInputApplicationCommandsJSONBody,
  StringSelectMenuInteraction,
} from 'discord.js';
import type { BotContext } from './context.js';
import { uploadIdsOf } from './input-images.js';
import { queuedMessage } from './messages.js';
import { admit, draftRecords, enqueueRecords, type PlannedJob, type Requester, release } from './submit.js';

/** One slash command: its definition (plain API JSON, what deployment sends) and its handler. */
export interface Command {
  definition: RESTPostAPIChatInputApplicationCommandsJSONBody;
  execute(ctx: BotContext, interaction: ChatInputCommandInteraction): Promise<void>;
}

type JobInteraction =
  | ChatInputCommandInteraction
  | ButtonInteraction
  | ModalSubmitInteraction
  | StringSelectMenuInteraction;

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

/** Discord kills an interaction that has no first answer within 3 s; defer with this much of it gone. */
export const DEFER_AFTER_MS = 2000;

/**
 * Defers the interaction if the checks before its first answer run long (a burst of commands, a slow
 * Redis), so the 3 s deadline is never missed. `settle` stops the timer and waits for a deferral in
 * flight; afterwards `interaction.deferred` says which way to answer.
 */
export function deferIfSlow(
  interaction: JobInteraction,
  budgetMs = DEFER_AFTER_MS,
): { settle(): Promise<void> } {
  let deferring: Promise<unknown> | null = null;
  const age = Date.now() - interaction.createdTimestamp;
  const timer = setTimeout(
    () => {
      deferring = interaction.deferReply().catch(() => {});
    },
    Math.max(0, budgetMs - age),
  );
  return {
    async settle() {
      clearTimeout(timer);
      await deferring;
    },
  };
}

/**
 * The common path of everything that starts jobs: policy and caps first (a refusal is ephemeral and
 * changes nothing), then the visible answer, then optional slow preparation (fetching images), then the
 * queue. Each job gets its own message: the interaction's reply for the first, follow-ups for the rest.
 * A refusal after a deferral is answered by the router, which removes the public placeholder first.
 */
export async function startJobs(
  ctx: BotContext,
  interaction: JobInteraction,
  planned: PlannedJob[],
  prepare?: () => Promise<void>,
): Promise<void> {
  const who = requesterOf(interaction);
  const guard = deferIfSlow(interaction);
  try {
    await admit(ctx, who, planned);
  } finally {
    await guard.settle();
  }
  let answered = false;
  try {
    const records = draftRecords(who, planned);
    const [first, ...rest] = records;
    if (!first) return;
    if (prepare) {
      if (!interaction.deferred) await interaction.deferReply();
      await prepare();
      // Preparation may have filled in inputs; carry them over.
      for (const [i, job] of planned.entries()) {
        if (job.inputs) records[i]!.inputs = { ...job.inherited, ...job.inputs };
        if (job.origins && Object.keys(job.origins).length > 0) records[i]!.origins = job.origins;
      }
    }
    if (interaction.deferred) await interaction.editReply(queuedMessage(first));
    else await interaction.reply(queuedMessage(first));
    answered = true;
    for (const record of rest) {
      const message = await interaction.followUp(queuedMessage(record));
      record.reply.messageId = message.id;
    }
    await enqueueRecords(ctx, records);
  } catch (error) {
    // Nothing of a command that did not get queued stays behind: its queue places, its uploads, and
    // the "queued" message that would otherwise wait forever.
    // Best effort: the cause is what the member must hear, not a failure of the cleanup.
    const cleanupFailed = (cleanupError: unknown) =>
      ctx.logger.warn({ err: cleanupError }, 'could not undo a command that was not queued');
    await release(ctx, who, planned).catch(cleanupFailed);
    await ctx.images.dropUploads(uploadIdsOf(planned)).catch(cleanupFailed);
    if (answered) await interaction.deleteReply().catch(() => {});
    throw error;
  }
  await ctx.images
    .keepUploads(uploadIdsOf(planned, { inherited: true }))
    .catch((error) => ctx.logger.warn({ err: error }, 'could not extend the life of uploads'));
}
