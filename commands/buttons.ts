import {
  ActionRowBuilder,
  type ButtonInteraction,
  type MessageActionRowComponentBuilder,
  MessageFlags,
  type ModalActionRowComponentBuilder,
  ModalBuilder,
  type ModalSubmitInteraction,
  StringSelectMenuBuilder,
  type StringSelectMenuInteraction,
  TextInputBuilder,
  TextInputStyle,
} from 'discord.js';
import { startJobs } from '../src/discord/command.js';
import { defineComponent } from '../src/discord/component.js';
import type { BotContext } from '../src/discord/context.js';
import { fetchLinks, inheritedInputs } from '../src/discord/input-images.js';
import { mayUseButtons } from '../src/discord/job-access.js';
import type { PlannedJob } from '../src/discord/submit.js';
import { UserError } from '../src/discord/user-error.js';
import { type CanvasSpec, MAX_CANVAS_AREA, REGIONS } from '../src/jobs/canvas.js';
import {
  type ButtonAction,
  encodeRegionSelect,
  encodeRemixModal,
  encodeZoomModal,
  parseButton,
  parseRegionSelect,
  parseRemixModal,
  parseZoomModal,
} from '../src/jobs/custom-ids.js';
import {
  deriveCanvas,
  deriveOpposite,
  deriveReroll,
  deriveUpscale,
  deriveVariation,
} from '../src/jobs/derive.js';
import { type ImageSlot, jobImageRef, newJobId } from '../src/jobs/refs.js';
import type { JobDescription } from '../src/jobs/spec.js';
import { fitStyle } from '../src/jobs/style.js';
import { dimensionsFor } from '../src/model/dimensions.js';
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
  interaction: ButtonInteraction | ModalSubmitInteraction | StringSelectMenuInteraction,
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

/** What a button may make on this server: the largest side, and the model's sizes. */
interface Limits {
  maxSide: number;
  baseSize: number;
  sizeMultiple: number;
}

/** The image's own size (before display resampling): recorded, or the model's size for an older record. */
function ownSize(record: JobRecord, limits: Limits): { width: number; height: number } {
  const result = record.result?.type === 'text' ? undefined : record.result;
  if (result?.contentWidth && result.contentHeight)
    return { width: result.contentWidth, height: result.contentHeight };
  return dimensionsFor(record.description.params.aspect, limits.baseSize, limits.sizeMultiple);
}

const PANS = { 'pan-left': 'left', 'pan-right': 'right', 'pan-up': 'up', 'pan-down': 'down' } as const;

/** The job a button asks for, holding the parent's stored links it still needs (a reroll's images, `--sref`). */
function plan(record: JobRecord, button: ButtonAction, limits: Limits, remixed?: JobDescription): PlannedJob {
  const job = planOwn(record, button, limits, remixed);
  const inherited = inheritedInputs(record, job.description);
  return inherited ? { ...job, inherited } : job;
}

function planOwn(
  record: JobRecord,
  button: ButtonAction,
  limits: Limits,
  remixed?: JobDescription,
): PlannedJob {
  const id = newJobId();
  const source = sourceOf(record, button);
  const canvas = (spec: CanvasSpec): PlannedJob => ({
    id,
    kind: 'canvas',
    description: deriveCanvas(record.description, source, spec, remixed),
  });
  switch (button.action) {
    case 'upscale':
    case 'upscale-subtle':
    case 'upscale-creative': {
      const own = ownSize(record, limits);
      const side = 2 * Math.max(own.width, own.height);
      if (side > limits.maxSide)
        throw new UserError(
          `This image is ${own.width}x${own.height}; doubled it would pass this server's largest side of ${limits.maxSide} px.`,
        );
      const creative = button.action === 'upscale-creative';
      if (creative && 4 * own.width * own.height > MAX_CANVAS_AREA * limits.baseSize * limits.baseSize)
        throw new UserError(
          `Upscale (Creative) repaints at the new size, which this model does up to ${2 * limits.baseSize} px a side; use Upscale (Subtle).`,
        );
      return {
        id,
        kind: 'upscale',
        description: deriveUpscale(record.description, source, { ...own, ...(creative ? { creative } : {}) }),
        index: button.action === 'upscale' ? button.index - 1 : (record.index ?? 0),
      };
    }
    case 'reroll':
      return { id, kind: 'reroll', description: deriveReroll(record.description, record.id) };
    case 'opposite':
      return { id, kind: 'opposite', description: deriveOpposite(record.description, source, remixed) };
    case 'zoom-2':
    case 'zoom-1.5':
      return canvas({ mode: 'outpaint', zoom: button.action === 'zoom-2' ? 2 : 1.5 });
    case 'pan-left':
    case 'pan-right':
    case 'pan-up':
    case 'pan-down':
      return canvas({ mode: 'outpaint', zoom: 1, pan: PANS[button.action] });
    case 'make-square': {
      const own = ownSize(record, limits);
      if (own.width === own.height) throw new UserError('This image is already square.');
      return canvas({ mode: 'outpaint', zoom: 1, square: true });
    }
    case 'vary-strong':
    case 'vary-subtle': {
      const role = button.action === 'vary-subtle' ? 'variation-subtle' : 'variation-strong';
      const description = deriveVariation(record.description, source, role, remixed);
      return { id, kind: 'variation', description };
    }
    default:
      // Vary (Region) and Custom Zoom open a menu or a form first (pressButton).
      throw new UserError(TAMPERED);
  }
}

/** The job a component submits for a canvas of its own (the region menu, the Custom Zoom form). */
export async function startCanvasJob(
  ctx: BotContext,
  interaction: StringSelectMenuInteraction | ModalSubmitInteraction,
  jobId: string,
  spec: CanvasSpec,
  remixed?: JobDescription,
): Promise<void> {
  const button = { action: 'vary-region', jobId } as const;
  const record = await targetOf(ctx, button, interaction);
  const description = deriveCanvas(record.description, sourceOf(record, button), spec, remixed);
  const inherited = inheritedInputs(record, description);
  const job: PlannedJob = {
    id: newJobId(),
    kind: 'canvas',
    description,
    ...(inherited ? { inherited } : {}),
  };
  await startJobs(ctx, interaction, [job], fetchLinks(ctx, placeOf(interaction), [job]));
}

async function limitsFor(ctx: BotContext, guildId: string | null): Promise<Limits> {
  const policy = await ctx.policies.get(guildId);
  return { maxSide: policy.maxSide, baseSize: ctx.model.baseSize, sizeMultiple: ctx.model.sizeMultiple };
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
  if (button.action === 'vary-region') {
    // Discord gives a bot no drawing editor: the region is chosen from a menu (only the presser sees it).
    const menu = new StringSelectMenuBuilder()
      .setCustomId(encodeRegionSelect(record.id))
      .setPlaceholder('Which part to repaint')
      .setMinValues(1)
      .setMaxValues(Object.keys(REGIONS).length)
      .addOptions(Object.entries(REGIONS).map(([value, region]) => ({ label: region.label, value })));
    await interaction.reply({
      content: 'Pick the part of the image to repaint (several add up); the rest stays as it is.',
      components: [new ActionRowBuilder<MessageActionRowComponentBuilder>().addComponents(menu)],
      flags: MessageFlags.Ephemeral,
    });
    return;
  }
  if (button.action === 'custom-zoom') {
    const input = new TextInputBuilder()
      .setCustomId('prompt')
      .setLabel('Prompt, with --zoom 1-2 and an optional --ar')
      .setStyle(TextInputStyle.Paragraph)
      .setMaxLength(4000)
      .setRequired(true)
      .setValue(
        `${typedPrompt(record)
          .replace(/\s--(ar|aspect|zoom)\s+\S+/gi, '')
          .slice(0, 3980)} --zoom 2`,
      );
    const modal = new ModalBuilder()
      .setCustomId(encodeZoomModal(record.id))
      .setTitle('Custom Zoom')
      .addComponents(new ActionRowBuilder<ModalActionRowComponentBuilder>().addComponents(input));
    await interaction.showModal(modal);
    return;
  }
  const isVariation =
    button.action === 'vary-strong' ||
    button.action === 'vary-subtle' ||
    button.action === 'opposite' ||
    button.action.startsWith('pan-');
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
  await startJobs(ctx, interaction, [plan(record, button, await limitsFor(ctx, interaction.guildId))]);
}

/** Where a component was used, for recognising the bot's own images among fetched links. */
function placeOf(interaction: ButtonInteraction | ModalSubmitInteraction | StringSelectMenuInteraction) {
  return { guildId: interaction.guildId, channelId: interaction.channelId, userId: interaction.user.id };
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
    remixed = fitStyle(
      parsePrompt(interaction.fields.getTextInputValue('prompt'), {
        preferences: { options: settings.options, suffix: settings.suffix },
      }),
      ctx.model,
    );
  } catch (error) {
    if (error instanceof PromptError)
      throw new UserError(`Your prompt was not understood: ${error.message}.`);
    throw error;
  }
  const job = plan(record, button, await limitsFor(ctx, interaction.guildId), remixed);
  // A remix may name style references of its own (its image links are not kept: see deriveVariation).
  await startJobs(ctx, interaction, [job], fetchLinks(ctx, placeOf(interaction), [job]));
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

/** Vary (Region)'s menu: the chosen regions, together, are repainted. */
export const regionMenu = defineComponent({
  name: 'region menu',
  parse: (interaction) =>
    interaction.isStringSelectMenu() ? (parseRegionSelect(interaction.customId) ?? null) : null,
  run: async (ctx, interaction, jobId) => {
    const values = (interaction as StringSelectMenuInteraction).values;
    const cells = [...new Set(values.flatMap((value) => REGIONS[value]?.cells ?? []))].sort();
    if (cells.length === 0 || values.some((value) => !REGIONS[value])) throw new UserError(TAMPERED);
    await startCanvasJob(ctx, interaction as StringSelectMenuInteraction, jobId, { mode: 'region', cells });
  },
});

/** Custom Zoom's form: a new prompt, `--zoom` 1-2 and an optional new `--ar` for the canvas. */
export const zoomForm = defineComponent({
  name: 'custom zoom form',
  parse: (interaction) =>
    interaction.isModalSubmit() ? (parseZoomModal(interaction.customId) ?? null) : null,
  run: async (ctx, interaction, jobId) => {
    const submitted = interaction as ModalSubmitInteraction;
    const settings = await ctx.settings.get(submitted.user.id);
    let remixed: JobDescription;
    try {
      remixed = fitStyle(
        parsePrompt(submitted.fields.getTextInputValue('prompt'), {
          preferences: { options: settings.options, suffix: settings.suffix },
        }),
        ctx.model,
      );
    } catch (error) {
      if (error instanceof PromptError)
        throw new UserError(`Your prompt was not understood: ${error.message}.`);
      throw error;
    }
    const zoom = remixed.params.zoom ?? 2;
    const written = remixed.prompt.match(/--(ar|aspect)\s/i) ? remixed.params.aspect : undefined;
    await startCanvasJob(
      ctx,
      submitted,
      jobId,
      { mode: 'outpaint', zoom, ...(written ? { aspect: written } : {}) },
      remixed,
    );
  },
});
