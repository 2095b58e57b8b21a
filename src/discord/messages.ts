import {
  ActionRowBuilder,
  AttachmentBuilder,
  ButtonBuilder,
  ButtonStyle,
  type MessageActionRowComponentBuilder,
} from 'discord.js';
import { encodeButton, encodeDescribeButton } from '../jobs/custom-ids.js';
import type { JobRecord } from '../store/job-records.js';

/** A message body that works for editReply, followUp, webhook edits and channel posts alike. */
export interface MessageBody {
  content: string;
  files: AttachmentBuilder[];
  components: ActionRowBuilder<MessageActionRowComponentBuilder>[];
  /** Replaces the attachments already on the message (a preview must not linger beside the grid). */
  attachments: [];
  allowedMentions: { users: string[] };
}

const MAX_CONTENT = 2000;

function body(
  record: JobRecord,
  status: string,
  files: AttachmentBuilder[] = [],
  components: MessageBody['components'] = [],
): MessageBody {
  const headline = `**${promptLabel(record)}** - <@${record.userId}> ${status}`;
  return {
    content: headline.length > MAX_CONTENT ? `${headline.slice(0, MAX_CONTENT - 1)}…` : headline,
    files,
    components,
    attachments: [],
    allowedMentions: { users: [record.userId] },
  };
}

/** What the message calls the job: the prompt as typed, or what a button made of it. */
export function promptLabel(record: JobRecord): string {
  const d = record.description;
  const text = d.prompt || d.prompts.map((p) => (p.kind === 'text' ? p.text : '<image>')).join(' :: ');
  const shown = text.length > 1500 ? `${text.slice(0, 1500)}…` : text;
  switch (record.kind) {
    case 'blend':
      return `Blend of ${d.prompts.length} images${d.prompt ? ` ${shown}` : ''}`;
    case 'upscale':
      return `${shown} - Image #${(record.index ?? 0) + 1}`;
    case 'describe':
      return 'Describe';
    case 'opposite':
      return `${d.prompt ? `${shown} - ` : ''}Opposite of an image`;
    case 'canvas':
      return `${shown} - ${canvasLabel(d)}`;
    case 'variation': {
      const role = d.parents[0]?.role === 'variation-subtle' ? 'Subtle' : 'Strong';
      return `${shown} - Variations (${role})`;
    }
    default:
      return shown;
  }
}

const modeLabel = (record: JobRecord) =>
  record.description.params.mode ? ` (${record.description.params.mode})` : '';

export function queuedMessage(record: JobRecord): MessageBody {
  return body(record, `(Waiting to start)${modeLabel(record)}`);
}

export function progressMessage(record: JobRecord, percent: number, preview?: Buffer): MessageBody {
  const files = preview ? [new AttachmentBuilder(preview, { name: `preview-${record.id}.png` })] : [];
  return body(record, `(${Math.round(percent)}%)${modeLabel(record)}`, files);
}

export function failedMessage(record: JobRecord, reason: string): MessageBody {
  return body(record, `(failed: ${reason})`);
}

function button(customId: string, label: string, style = ButtonStyle.Secondary) {
  return new ButtonBuilder().setCustomId(customId).setLabel(label).setStyle(style);
}

/** The finished grid with U1-U4, V1-V4 and reroll. */
export function gridMessage(record: JobRecord, grid: Buffer): MessageBody {
  const jobId = record.id;
  const upscales = [1, 2, 3, 4].map((i) =>
    button(encodeButton({ action: 'upscale', index: i, jobId }), `U${i}`),
  );
  const variations = [1, 2, 3, 4].map((i) =>
    button(encodeButton({ action: 'vary-strong', index: i, jobId }), `V${i}`),
  );
  const reroll = button(encodeButton({ action: 'reroll', jobId }), '🔄', ButtonStyle.Primary);
  const rows = [
    new ActionRowBuilder<MessageActionRowComponentBuilder>().addComponents(upscales),
    new ActionRowBuilder<MessageActionRowComponentBuilder>().addComponents([...variations, reroll]),
  ];
  const file = new AttachmentBuilder(grid, { name: `grid-${jobId}.png` });
  return body(record, details(record), [file], rows);
}

/**
 * One upscaled image with Midjourney's rows: upscales, variations, zooms (Make Square only on a
 * non-square image), pans, then Opposite and 🔄.
 */
export function upscaleMessage(record: JobRecord, image: Buffer): MessageBody {
  const jobId = record.id;
  const parent = record.description.parents.find((p) => p.role === 'upscale')?.jobId ?? jobId;
  const at = (action: Parameters<typeof encodeButton>[0]['action']) =>
    encodeButton({ action, jobId } as Parameters<typeof encodeButton>[0]);
  const row = (...buttons: ButtonBuilder[]) =>
    new ActionRowBuilder<MessageActionRowComponentBuilder>().addComponents(buttons);
  const result = record.result?.type === 'text' ? undefined : record.result;
  const square = !result || (result.contentWidth ?? result.width) === (result.contentHeight ?? result.height);
  const rows = [
    row(
      button(at('upscale-subtle'), 'Upscale (Subtle)'),
      button(at('upscale-creative'), 'Upscale (Creative)'),
    ),
    row(
      button(at('vary-subtle'), 'Vary (Subtle)'),
      button(at('vary-strong'), 'Vary (Strong)'),
      button(at('vary-region'), 'Vary (Region)'),
    ),
    row(
      button(at('zoom-2'), 'Zoom Out 2x'),
      button(at('zoom-1.5'), 'Zoom Out 1.5x'),
      button(at('custom-zoom'), 'Custom Zoom'),
      ...(square ? [] : [button(at('make-square'), 'Make Square')]),
    ),
    row(
      button(at('pan-left'), '⬅️'),
      button(at('pan-right'), '➡️'),
      button(at('pan-up'), '⬆️'),
      button(at('pan-down'), '⬇️'),
    ),
    row(
      button(at('opposite'), 'Opposite'),
      button(encodeButton({ action: 'reroll', jobId: parent }), '🔄', ButtonStyle.Primary),
    ),
  ];
  const file = new AttachmentBuilder(image, { name: `image-${jobId}.png` });
  return body(record, details(record), [file], rows);
}

/** An upscale takes a few milliseconds; "0.0 s" would read as a job that did not run. */
export function renderTime(seconds: number): string {
  return seconds < 0.05 ? '<0.1 s' : `${seconds.toFixed(1)} s`;
}

function details(record: JobRecord): string {
  const parts = [`seed ${record.description.params.seed}`, `job ${record.id}`];
  if (record.result) parts.push(renderTime(record.result.seconds));
  const notes = [...record.description.notes, ...(record.result?.notes ?? [])];
  return `(${parts.join(' · ')})${notes.length ? `\n-# ${notes.join(' · ')}` : ''}`;
}

/** A /describe answer: four numbered prompts, with buttons 1-4, Imagine all and 🔄 (four more). */
export function describeMessage(record: JobRecord, lines: readonly string[]): MessageBody {
  const jobId = record.id;
  const numbered = lines.map((line, i) => `${i + 1}. ${line}`).join('\n');
  const row = new ActionRowBuilder<MessageActionRowComponentBuilder>().addComponents([
    ...lines.map((_, i) =>
      button(encodeDescribeButton({ action: 'describe-pick', index: i + 1, jobId }), String(i + 1)),
    ),
    button(encodeDescribeButton({ action: 'describe-all', jobId }), 'Imagine all'),
  ]);
  const more = new ActionRowBuilder<MessageActionRowComponentBuilder>().addComponents([
    button(encodeDescribeButton({ action: 'describe-more', jobId }), '🔄', ButtonStyle.Primary),
  ]);
  return body(record, `${details(record)}\n${numbered}`, [], [row, more]);
}

function canvasLabel(d: JobRecord['description']): string {
  const canvas = d.canvas;
  if (!canvas || canvas.mode === 'region') return 'Vary (Region)';
  if (canvas.pan) return `Pan ${{ left: '⬅️', right: '➡️', up: '⬆️', down: '⬇️' }[canvas.pan]}`;
  if (canvas.square) return 'Make Square';
  return `Zoom Out ${canvas.zoom}x`;
}
