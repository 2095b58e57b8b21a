/** What the end-to-end tests look for in the channel, in one place. */
import type { InteractionHandle, LoopbackDiscord, MessageView } from '../../src/sandbox/discord/index.js';

/** A finished grid: the grid PNG with its buttons (previews have neither). */
export const isGrid = (m: MessageView) =>
  m.attachments.some((a) => a.filename.startsWith('grid-')) && m.components.length > 0;

/** A finished single image (an upscale) with its buttons. */
export const isFinalImage = (m: MessageView) =>
  m.attachments.some((a) => a.filename.startsWith('image-')) && m.components.length > 0;

/** The job id the bot writes into every finished message (`job <id>`). */
export const jobIdOf = (m: MessageView) => /job ([a-z0-9]{12})/.exec(m.content)?.[1];

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
