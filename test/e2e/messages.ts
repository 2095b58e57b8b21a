/** What the end-to-end tests do in the channel and what they look for there, in one place. */
import {
  type InteractionHandle,
  type LoopbackDiscord,
  listCustomIds,
  type MessageView,
  type OptionValue,
} from '../../src/sandbox/discord/index.js';

/** A finished grid: the grid PNG with its buttons (previews have neither). */
export const isGrid = (m: MessageView) =>
  m.attachments.some((a) => a.filename.startsWith('grid-')) && m.components.length > 0;

/** A finished single image (an upscale) with its buttons. */
export const isFinalImage = (m: MessageView) =>
  m.attachments.some((a) => a.filename.startsWith('image-')) && m.components.length > 0;

/** The job id the bot writes into every finished message (`job <id>`). */
export const jobIdOf = (m: MessageView) => /job ([a-z0-9]{12})/.exec(m.content)?.[1];

/** The job id of a message whose job the test goes on to use; a message naming none fails here, not later. */
export function requireJobId(m: MessageView): string {
  const jobId = jobIdOf(m);
  if (jobId === undefined) throw new Error(`message ${m.id} names no job: ${m.content}`);
  return jobId;
}

/** The answer only the acting user sees (a refusal, /settings, /info...). */
export async function ephemeralAnswer(
  discord: LoopbackDiscord,
  handle: InteractionHandle,
): Promise<MessageView> {
  await handle.response(3000);
  return discord.waitForMessage((m) => m.interactionId === handle.id && m.ephemeral && !m.loading, {
    timeoutMs: 10_000,
  });
}

/** Waits until the interaction's own message holds the finished grid (or image, with `isFinal`). */
export async function finishedMessage(
  discord: LoopbackDiscord,
  handle: InteractionHandle,
  isFinal: (m: MessageView) => boolean = isGrid,
): Promise<MessageView> {
  await handle.response(3000);
  const original = discord.originalMessage(handle.id)!;
  return discord.waitForMessage((m) => m.id === original.id && isFinal(m), { timeoutMs: 60_000 });
}

/** Starts `/imagine`; every test world has a `general` channel, so that is where unless another is named. */
export const imagine = (discord: LoopbackDiscord, user: string, prompt: string, channel = 'general') =>
  discord.invokeCommand({ name: 'imagine', user, channel, options: { prompt } });

/** `/imagine` through to the finished grid in the interaction's own message. */
export const imagineGrid = (discord: LoopbackDiscord, user: string, prompt: string, channel = 'general') =>
  finishedMessage(discord, imagine(discord, user, prompt, channel));

/** Starts a `/policy` subcommand as ada, who holds Manage Server in every test world. */
export const policy = (discord: LoopbackDiscord, subcommand: string, options: Record<string, OptionValue>) =>
  discord.invokeCommand({ name: 'policy', user: 'ada', channel: 'general', subcommand, options });

/** Presses the message's button whose custom id starts with `prefix`, as `user`. */
export const pressButton = (discord: LoopbackDiscord, user: string, message: MessageView, prefix: string) =>
  discord.pressButton({ user, messageId: message.id, customId: componentId(message, prefix) });

/**
 * The custom id of the message's button or menu that starts with `prefix` (`u:1:`, `vs:`, `rg:`...). It
 * throws when there is none, so a missing one fails here under its own name, not as a press of `undefined`.
 */
export function componentId(message: MessageView, prefix: string): string {
  const ids = listCustomIds(message.components);
  const id = ids.find((c) => c.startsWith(prefix));
  if (id === undefined)
    throw new Error(`message ${message.id} has no ${prefix} component (has: ${ids.join(', ')})`);
  return id;
}

/** What a finished grid's buttons must be, in order: U1-U4, V1-V4 and the reroll, each naming its job. */
export const gridButtons = () => [
  ...[1, 2, 3, 4].map((i) => expect.stringMatching(new RegExp(`^u:${i}:[a-z0-9]{12}$`))),
  ...[1, 2, 3, 4].map((i) => expect.stringMatching(new RegExp(`^v:${i}:[a-z0-9]{12}$`))),
  expect.stringMatching(/^r:[a-z0-9]{12}$/),
];
