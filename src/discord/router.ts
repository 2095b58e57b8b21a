import { type Client, Events, type Interaction, MessageFlags } from 'discord.js';
import type { Command } from './command.js';
import type { ComponentHandler } from './component.js';
import type { BotContext } from './context.js';
import { UserError } from './user-error.js';

const UNAVAILABLE = 'The job queue is unavailable right now; nothing was queued. Try again in a minute.';
const INTERNAL =
  'Something went wrong on our side; nothing was queued. Try again, and tell an admin if it keeps happening.';

const STORAGE_FULL =
  "The bot's storage is full right now; nothing was queued. Try again later, and tell an admin if it keeps happening.";

/** Redis over `maxmemory` with `noeviction` refuses writes (and whole transactions) with this error. */
function isRedisFull(error: unknown): boolean {
  const oom = (e: unknown) => /OOM command not allowed/i.test((e as Error)?.message ?? '');
  const queued = (error as { previousErrors?: unknown[] })?.previousErrors ?? [];
  return oom(error) || queued.some(oom);
}

function isRedisDown(error: unknown): boolean {
  const message = (error as Error)?.message ?? '';
  return /enableOfflineQueue|Connection is closed|ECONNREFUSED|Stream isn't writeable|max retries per request/i.test(
    message,
  );
}

/** The one error path: user errors and outages are answered ephemerally; bugs are logged with context. */
async function answerError(ctx: BotContext, interaction: Interaction, error: unknown): Promise<void> {
  ctx.metrics?.interactions.inc({
    kind: kindOf(interaction),
    outcome: error instanceof UserError ? 'refused' : 'error',
  });
  if (!interaction.isRepliable()) return;
  let content: string;
  if (error instanceof UserError) {
    content = error.message;
  } else if (isRedisFull(error)) {
    content = STORAGE_FULL;
    ctx.logger.warn(
      { err: error, userId: interaction.user.id },
      'redis is full (maxmemory): command refused',
    );
  } else if (isRedisDown(error)) {
    content = UNAVAILABLE;
    ctx.logger.warn({ err: error, userId: interaction.user.id }, 'redis unavailable');
  } else {
    content = INTERNAL;
    ctx.logger.error(
      { err: error, userId: interaction.user.id, guildId: interaction.guildId },
      'interaction failed',
    );
  }
  try {
    if (interaction.deferred && !interaction.replied) {
      // A public "thinking…" placeholder would stay forever: remove it, then tell only this user.
      await interaction.deleteReply().catch(() => {});
      await interaction.followUp({ content, flags: MessageFlags.Ephemeral });
    } else if (interaction.deferred || interaction.replied) {
      await interaction.followUp({ content, flags: MessageFlags.Ephemeral });
    } else {
      await interaction.reply({ content, flags: MessageFlags.Ephemeral });
    }
  } catch (replyError) {
    ctx.logger.warn({ err: replyError }, 'could not tell the user about an error');
  }
}

/** What the bot answers: its slash commands by name, and its component handlers, asked in turn. */
export interface InteractionHandlers {
  commands: ReadonlyMap<string, Command>;
  components: readonly ComponentHandler[];
}

const NOT_OURS = 'That control was not made by this bot, or its id was altered; nothing was done.';

async function route(
  ctx: BotContext,
  handlers: InteractionHandlers,
  interaction: Interaction,
): Promise<void> {
  if (interaction.isChatInputCommand()) {
    const command = handlers.commands.get(interaction.commandName);
    if (!command) throw new UserError(`Unknown command /${interaction.commandName}.`);
    await command.execute(ctx, interaction);
  } else if (interaction.isButton() || interaction.isStringSelectMenu() || interaction.isModalSubmit()) {
    for (const handler of handlers.components) if (await handler.handle(ctx, interaction)) return;
    throw new UserError(NOT_OURS);
  }
}

function kindOf(interaction: Interaction): string {
  if (interaction.isChatInputCommand()) return `/${interaction.commandName}`;
  if (interaction.isButton()) return 'button';
  if (interaction.isModalSubmit()) return 'modal';
  return 'component';
}

export function attachRouter(client: Client, ctx: BotContext, handlers: InteractionHandlers): void {
  client.on(Events.InteractionCreate, (interaction) => {
    const started = performance.now();
    route(ctx, handlers, interaction)
      .then(() => ctx.metrics?.interactions.inc({ kind: kindOf(interaction), outcome: 'ok' }))
      .catch((error) => answerError(ctx, interaction, error))
      .finally(() => {
        ctx.metrics?.firstResponseSeconds.observe((performance.now() - started) / 1000);
        const label = interaction.isCommand()
          ? `/${interaction.commandName}`
          : 'customId' in interaction
            ? interaction.customId
            : interaction.type;
        ctx.logger.debug(
          { interaction: label, userId: interaction.user.id, ms: performance.now() - started },
          'interaction handled',
        );
      });
  });
}
