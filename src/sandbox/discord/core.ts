/**
 * The services of one sandbox, shared by the REST routes, the gateway and the test driver. Message
 * changes go through here so that each one is recorded as an event and dispatched on the gateway.
 */
import { AttachmentStore } from './attachments.js';
import type { Clock } from './clock.js';
import { CommandRegistry } from './commands.js';
import { EventLog } from './events.js';
import { type Gateway, GUILD_MESSAGES_INTENT } from './gateway.js';
import { InteractionRegistry } from './interactions.js';
import type { DiscordLimits } from './limits.js';
import { type MessageChange, MessageStore, type NewMessage, type StoredMessage } from './messages.js';
import { RateLimiter, type RateLimitOptions } from './rate-limits.js';
import { SnowflakeGenerator } from './snowflake.js';
import { World, type WorldSpec } from './world.js';

export interface CoreOptions {
  world: WorldSpec;
  clock: Clock;
  limits: DiscordLimits;
  rateLimits: RateLimitOptions;
  origin: () => string;
  maxStoredAttachmentBytes: number;
}

export class SandboxCore {
  readonly ids: SnowflakeGenerator;
  readonly world: World;
  readonly clock: Clock;
  readonly limits: DiscordLimits;
  readonly events: EventLog;
  readonly files: AttachmentStore;
  readonly messages: MessageStore;
  readonly commands: CommandRegistry;
  readonly interactions: InteractionRegistry;
  readonly rateLimiter: RateLimiter;
  gateway: Gateway | null = null;

  constructor(options: CoreOptions) {
    this.clock = options.clock;
    this.limits = options.limits;
    const now = () => this.clock.now();
    this.ids = new SnowflakeGenerator(now);
    this.world = new World(options.world, this.ids);
    this.events = new EventLog(now);
    this.files = new AttachmentStore(this.ids, options.origin, options.maxStoredAttachmentBytes, () => {
      const used = new Set<string>();
      for (const message of this.messages.all()) {
        if (!message.deleted) for (const attachment of message.attachments) used.add(attachment.id);
      }
      return used;
    });
    this.messages = new MessageStore(this.world, this.files, this.ids, now);
    this.commands = new CommandRegistry(this.world.application.id, this.ids);
    this.interactions = new InteractionRegistry(this.clock, this.limits, this.events);
    this.rateLimiter = new RateLimiter(options.rateLimits);
  }

  postMessage(input: NewMessage): StoredMessage {
    const message = this.messages.create(input);
    this.events.push({ type: 'message.create', message: this.messages.view(message) });
    // Ephemeral messages never reach the gateway: only their recipient's client knows them.
    if (message.visibleTo === null) {
      this.gateway?.dispatch('MESSAGE_CREATE', this.#gatewayMessage(message), GUILD_MESSAGES_INTENT);
    }
    return message;
  }

  editMessage(message: StoredMessage, change: MessageChange, markEdited = true): StoredMessage {
    this.messages.update(message, change, markEdited);
    this.events.push({ type: 'message.update', message: this.messages.view(message) });
    if (message.visibleTo === null) {
      this.gateway?.dispatch('MESSAGE_UPDATE', this.#gatewayMessage(message), GUILD_MESSAGES_INTENT);
    }
    return message;
  }

  deleteMessage(message: StoredMessage): void {
    this.messages.delete(message);
    this.events.push({ type: 'message.delete', message: this.messages.view(message) });
    if (message.visibleTo === null) {
      this.gateway?.dispatch(
        'MESSAGE_DELETE',
        { id: message.id, channel_id: message.channelId, guild_id: message.guildId },
        GUILD_MESSAGES_INTENT,
      );
    }
  }

  #gatewayMessage(message: StoredMessage): Record<string, unknown> {
    const guild = this.world.findGuild(message.guildId);
    const member = guild?.members.get(message.author.id);
    const api = this.messages.api(message);
    if (guild && member) {
      const { user: _user, ...rest } = this.world.apiMember(member);
      api['member'] = rest;
    }
    return api;
  }
}
