import type { ButtonInteraction, ModalSubmitInteraction, StringSelectMenuInteraction } from 'discord.js';
import type { BotContext } from './context.js';

export type ComponentInteraction = ButtonInteraction | StringSelectMenuInteraction | ModalSubmitInteraction;

/**
 * One kind of button, select menu or modal, as the router sees it: it answers when the custom_id is its
 * own and says false (cheaply, before any I/O) when it is not.
 */
export interface ComponentHandler {
  name: string;
  handle(ctx: BotContext, interaction: ComponentInteraction): Promise<boolean>;
}

/**
 * A handler from its custom_id codec's `parse` and its `run`, kept side by side in one file (Sapphire's
 * interaction handlers): adding a button is adding one of these to `commands/index.ts`.
 */
export function defineComponent<Parsed>(spec: {
  name: string;
  parse(interaction: ComponentInteraction): Parsed | null;
  run(ctx: BotContext, interaction: ComponentInteraction, parsed: Parsed): Promise<void>;
}): ComponentHandler {
  return {
    name: spec.name,
    async handle(ctx, interaction) {
      const parsed = spec.parse(interaction);
      if (parsed === null) return false;
      await spec.run(ctx, interaction, parsed);
      return true;
    },
  };
}
