import {
  ActionRowBuilder,
  type ButtonInteraction,
  type ModalActionRowComponentBuilder,
  ModalBuilder,
  type ModalSubmitInteraction,
  TextInputBuilder,
  TextInputStyle,
} from 'discord.js';
import { type ButtonAction, encodeRemixModal, parseButton, parseRemixModal } from '../jobs/custom-ids.js';
import { deriveReroll, deriveUpscale, deriveVariation } from '../jobs/derive.js';
import type { JobDescription } from '../jobs/spec.js';
import { PromptError, parsePrompt } from '../prompt/index.js';
import { jobImageRef } from '../store/image-store.js';
import type { JobRecord } from '../store/job-records.js';
import { startJobs } from './command.js';
import type { BotContext } from './context.js';
import { mayUseButtons } from './job-access.js';
import { newJobId, type PlannedJob } from './submit.js';
import { UserError } from './user-error.js';

const TAMPERED = 'This button was not made by this bot, or its id was altered; nothing was done.';

/**
 * The job a button points at, if it exists, is finished and belongs to this server; in direct messages,
 * where there is no server to share, only to the user who made it.
 */
async function targetOf(
  ctx: BotContext,
  button: ButtonAction,
  interaction: ButtonInteraction | ModalSubmitInteraction,
): Promise<JobRecord> {
  const record = await ctx.records.get(button.jobId);
  if (!record) throw new UserError('That job has expired or never existed; start again with /imagine.');
  const place = {
    guildId: interaction.guildId,
    channelId: interaction.channelId,
    userId: interaction.user.id,
  };
  if (!mayUseButtons(record, place)) throw new UserError(TAMPERED);
  if (record.status !== 'done' || !record.result) throw new UserError('That job has not finished yet.');
  if ('index' in button && button.index > record.result.count) throw new UserError(TAMPERED);
  return record;
}

/** The image a variation or upscale starts from: a grid cell, or the single image of an upscale. */
function sourceOf(record: JobRecord, button: ButtonAction): { jobId: string; index: number; ref: string } {
  const index = 'index' in button ? button.index - 1 : 0;
  return { jobId: record.id, index, ref: jobImageRef(record.id, index) };
}

function plan(record: JobRecord, button: ButtonAction, remixed?: JobDescription): PlannedJob {
  const id = newJobId();
  switch (button.action) {
    case 'upscale':
      return {
        id,
        kind: 'upscale',
        description: deriveUpscale(record.description, sourceOf(record, button)),
        index: button.index - 1,
      };
    case 'upscale-2x':
      return {
        id,
        kind: 'upscale',
        description: deriveUpscale(record.description, sourceOf(record, button)),
        index: record.index ?? 0,
      };
    case 'reroll':
      return { id, kind: 'reroll', description: deriveReroll(record.description, record.id) };
    case 'vary-subtle':
      return {
        id,
        kind: 'variation',
        description: deriveVariation(
          record.description,
          sourceOf(record, button),
          'variation-subtle',
          remixed,
        ),
      };
    default:
      return {
        id,
        kind: 'variation',
        description: deriveVariation(
          record.description,
          sourceOf(record, button),
          'variation-strong',
          remixed,
        ),
      };
  }
}

function typedPrompt(record: JobRecord): string {
  return (
    record.description.prompt ||
    record.description.prompts.flatMap((p) => (p.kind === 'text' ? [`${p.text}::${p.weight}`] : [])).join(' ')
  );
}

export async function handleButton(ctx: BotContext, interaction: ButtonInteraction): Promise<void> {
  const button = parseButton(interaction.customId);
  if (!button) throw new UserError(TAMPERED);
  const record = await targetOf(ctx, button, interaction);
  const isVariation =
    button.action === 'variation' || button.action === 'vary-strong' || button.action === 'vary-subtle';
  if (isVariation && (await ctx.settings.get(interaction.user.id)).remix) {
    const input = new TextInputBuilder()
      .setCustomId('prompt')
      .setLabel('New prompt for the variation')
      .setStyle(TextInputStyle.Paragraph)
      .setMaxLength(4000)
      .setRequired(true)
      .setValue(typedPrompt(record).slice(0, 4000));
    const modal = new ModalBuilder()
      .setCustomId(encodeRemixModal(button))
      .setTitle('Remix')
      .addComponents(new ActionRowBuilder<ModalActionRowComponentBuilder>().addComponents(input));
    await interaction.showModal(modal);
    return;
  }
  await startJobs(ctx, interaction, [plan(record, button)]);
}

export async function handleRemixModal(ctx: BotContext, interaction: ModalSubmitInteraction): Promise<void> {
  const button = parseRemixModal(interaction.customId);
  if (!button) throw new UserError(TAMPERED);
  const record = await targetOf(ctx, button, interaction);
  let remixed: JobDescription;
  try {
    remixed = parsePrompt(interaction.fields.getTextInputValue('prompt'));
  } catch (error) {
    if (error instanceof PromptError)
      throw new UserError(`Your prompt was not understood: ${error.message}.`);
    throw error;
  }
  await startJobs(ctx, interaction, [plan(record, button, remixed)]);
}
