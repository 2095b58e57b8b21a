import {
  ActionRowBuilder,
  type ButtonInteraction,
  type ModalActionRowComponentBuilder,
  ModalBuilder,
  type ModalSubmitInteraction,
  TextInputBuilder,
  TextInputStyle,
} from 'discord.js';
import { startJobs } from '../src/discord/command.js';
import { defineComponent } from '../src/discord/component.js';
import type { BotContext } from '../src/discord/context.js';
import { mayUseButtons } from '../src/discord/job-access.js';
import type { PlannedJob } from '../src/discord/submit.js';
import { UserError } from '../src/discord/user-error.js';
import { type ButtonAction, encodeRemixModal, parseButton, parseRemixModal } from '../src/jobs/custom-ids.js';
import { deriveOpposite, deriveReroll, deriveUpscale, deriveVariation } from '../src/jobs/derive.js';
import { type ImageSlot, jobImageRef, newJobId } from '../src/jobs/refs.js';
import type { JobDescription } from '../src/jobs/spec.js';
import { PromptError, parsePrompt } from '../src/prompt/index.js';
import type { JobRecord } from '../src/store/job-records.js';

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
  if (record.result.type === 'text') throw new UserError(TAMPERED);
  if ('index' in button && button.index !== undefined && button.index > record.result.count)
    throw new UserError(TAMPERED);
  return record;
}

/** The image a variation or upscale starts from: a grid cell, or the single image of an upscale. */
function sourceOf(record: JobRecord, button: ButtonAction): { jobId: string; index: number; ref: string } {
  const index = 'index' in button ? button.index - 1 : 0;
  return { jobId: record.id, index, ref: jobImageRef(record.id, index as ImageSlot) };
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
    case 'opposite':
      return {
        id,
        kind: 'opposite',
        description: deriveOpposite(record.description, sourceOf(record, button), remixed),
      };
    default: {
      const role = button.action === 'vary-subtle' ? 'variation-subtle' : 'variation-strong';
      const description = deriveVariation(record.description, sourceOf(record, button), role, remixed);
      return { id, kind: 'variation', description };
    }
  }
}

function typedPrompt(record: JobRecord): string {
  return (
    record.description.prompt ||
    record.description.prompts.flatMap((p) => (p.kind === 'text' ? [`${p.text}::${p.weight}`] : [])).join(' ')
  );
}

async function pressButton(
  ctx: BotContext,
  interaction: ButtonInteraction,
  button: ButtonAction,
): Promise<void> {
  const record = await targetOf(ctx, button, interaction);
  const isVariation =
    button.action === 'vary-strong' || button.action === 'vary-subtle' || button.action === 'opposite';
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

async function submitRemix(
  ctx: BotContext,
  interaction: ModalSubmitInteraction,
  button: ButtonAction,
): Promise<void> {
  const record = await targetOf(ctx, button, interaction);
  let remixed: JobDescription;
  try {
    const settings = await ctx.settings.get(interaction.user.id);
    remixed = parsePrompt(interaction.fields.getTextInputValue('prompt'), {
      preferences: { options: settings.options, suffix: settings.suffix },
    });
  } catch (error) {
    if (error instanceof PromptError)
      throw new UserError(`Your prompt was not understood: ${error.message}.`);
    throw error;
  }
  await startJobs(ctx, interaction, [plan(record, button, remixed)]);
}

/** U1-U4, V1-V4, 🔄 and the buttons under an upscale (`u:2:<jobId>`-style ids, see src/jobs/custom-ids.ts). */
export const jobButtons = defineComponent({
  name: 'job buttons',
  parse: (interaction) => (interaction.isButton() ? parseButton(interaction.customId) : null),
  run: (ctx, interaction, button) => pressButton(ctx, interaction as ButtonInteraction, button),
});

/** The remix form a variation opens in remix mode. */
export const remixForm = defineComponent({
  name: 'remix form',
  parse: (interaction) => (interaction.isModalSubmit() ? parseRemixModal(interaction.customId) : null),
  run: (ctx, interaction, button) => submitRemix(ctx, interaction as ModalSubmitInteraction, button),
});
