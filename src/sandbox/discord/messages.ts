/**
 * Every message in the sandbox's channels, with its full edit history and who may see it. Ephemeral
 * messages (flag 64) belong to one user: the channel views for other users leave them out, as the
 * Discord client does.
 */
import type { AttachmentStore, StoredAttachment } from './attachments.js';
import { MessageFlag } from './message-validation.js';
import type { SnowflakeGenerator } from './snowflake.js';
import type { SandboxUser, World } from './world.js';

/** Discord message types the sandbox produces. */
export const MessageType = { Default: 0, Reply: 19, ChatInputCommand: 20 } as const;

/** What a message shows: its text, embeds, components, files and flags. */
export interface MessageBody {
  content: string;
  embeds: unknown[];
  components: unknown[];
  attachments: StoredAttachment[];
  flags: number;
}

export interface NewMessage extends MessageBody {
  channelId: string;
  author: SandboxUser;
  type: number;
  /** Set for messages made through an interaction (the application's webhook). */
  interaction: { id: string; type: number; userId: string; name: string | null } | null;
  /** The only user who sees it (ephemeral), or null for everyone. */
  visibleTo: string | null;
}

export interface StoredMessage extends NewMessage {
  id: string;
  guildId: string;
  createdAt: number;
  editedAt: number | null;
  /** 0 when created, +1 for each edit. */
  revision: number;
  deleted: boolean;
}

/** A serialisable snapshot of a message: what tests assert on and what a web page renders. */
export interface MessageView {
  id: string;
  channelId: string;
  guildId: string;
  author: { id: string; username: string; bot: boolean };
  type: number;
  content: string;
  embeds: unknown[];
  /** Components exactly as the bot sent them (API JSON). */
  components: unknown[];
  attachments: AttachmentView[];
  flags: number;
  ephemeral: boolean;
  /** "LatentBot is thinking…": a deferred reply not yet edited. */
  loading: boolean;
  visibleTo: string | null;
  interactionId: string | null;
  /** Who triggered the interaction behind it, and the command name ("bob used /imagine"). */
  invokedBy: { userId: string; commandName: string | null } | null;
  createdAt: string;
  editedAt: string | null;
  revision: number;
  deleted: boolean;
}

export interface AttachmentView {
  id: string;
  filename: string;
  url: string;
  proxyUrl: string;
  size: number;
  contentType: string;
  width: number | null;
  height: number | null;
}

/** An edit: the parts of the body that change. */
export type MessageChange = Partial<MessageBody>;

export class MessageStore {
  readonly #messages = new Map<string, StoredMessage>();
  readonly #byChannel = new Map<string, string[]>();
  /** Every state each message went through, creation first. */
  readonly #history = new Map<string, MessageView[]>();

  constructor(
    private readonly world: World,
    private readonly files: AttachmentStore,
    private readonly ids: SnowflakeGenerator,
    private readonly now: () => number,
  ) {}

  create(input: NewMessage): StoredMessage {
    const channel = this.world.requireChannel(input.channelId);
    const message: StoredMessage = {
      ...input,
      id: this.ids.next(),
      guildId: channel.guildId,
      createdAt: this.now(),
      editedAt: null,
      revision: 0,
      deleted: false,
    };
    this.#messages.set(message.id, message);
    const list = this.#byChannel.get(message.channelId) ?? [];
    list.push(message.id);
    this.#byChannel.set(message.channelId, list);
    this.#history.set(message.id, [this.view(message)]);
    return message;
  }

  /** Applies an edit. `markEdited` is false when a deferred reply is filled in (Discord shows no "edited"). */
  update(message: StoredMessage, change: MessageChange, markEdited: boolean): StoredMessage {
    if (change.content !== undefined) message.content = change.content;
    if (change.embeds !== undefined) message.embeds = change.embeds;
    if (change.components !== undefined) message.components = change.components;
    if (change.attachments !== undefined) message.attachments = change.attachments;
    if (change.flags !== undefined) message.flags = change.flags;
    if (markEdited) message.editedAt = this.now();
    message.revision += 1;
    this.#history.get(message.id)?.push(this.view(message));
    return message;
  }

  delete(message: StoredMessage): void {
    message.deleted = true;
    message.revision += 1;
    this.#history.get(message.id)?.push(this.view(message));
  }

  get(id: string): StoredMessage | undefined {
    const message = this.#messages.get(id);
    return message && !message.deleted ? message : undefined;
  }

  /** Messages of a channel, oldest first, as `viewer` sees them (all of them when no viewer is given). */
  inChannel(channelId: string, viewer?: string): StoredMessage[] {
    const ids = this.#byChannel.get(channelId) ?? [];
    return ids
      .map((id) => this.#messages.get(id))
      .filter((m): m is StoredMessage => m !== undefined && !m.deleted)
      .filter((m) => viewer === undefined || m.visibleTo === null || m.visibleTo === viewer);
  }

  history(id: string): MessageView[] {
    return [...(this.#history.get(id) ?? [])];
  }

  all(): StoredMessage[] {
    return [...this.#messages.values()];
  }

  view(message: StoredMessage): MessageView {
    return {
      id: message.id,
      channelId: message.channelId,
      guildId: message.guildId,
      author: { id: message.author.id, username: message.author.username, bot: message.author.bot },
      type: message.type,
      content: message.content,
      embeds: structuredClone(message.embeds),
      components: structuredClone(message.components),
      attachments: message.attachments.map((a) => ({
        id: a.id,
        filename: a.filename,
        url: this.files.url(a),
        proxyUrl: this.files.proxyUrl(a),
        size: a.size,
        contentType: a.contentType,
        width: a.width,
        height: a.height,
      })),
      flags: message.flags,
      ephemeral: (message.flags & MessageFlag.Ephemeral) !== 0,
      loading: (message.flags & MessageFlag.Loading) !== 0,
      visibleTo: message.visibleTo,
      interactionId: message.interaction?.id ?? null,
      invokedBy: message.interaction
        ? { userId: message.interaction.userId, commandName: message.interaction.name }
        : null,
      createdAt: new Date(message.createdAt).toISOString(),
      editedAt: message.editedAt === null ? null : new Date(message.editedAt).toISOString(),
      revision: message.revision,
      deleted: message.deleted,
    };
  }

  /** The message object as the REST API and gateway carry it. */
  api(message: StoredMessage): Record<string, unknown> {
    const ephemeral = (message.flags & MessageFlag.Ephemeral) !== 0;
    const api: Record<string, unknown> = {
      id: message.id,
      type: message.type,
      channel_id: message.channelId,
      author: this.world.apiUser(message.author),
      content: message.content,
      timestamp: new Date(message.createdAt).toISOString(),
      edited_timestamp: message.editedAt === null ? null : new Date(message.editedAt).toISOString(),
      tts: false,
      mention_everyone: false,
      mentions: [],
      mention_roles: [],
      attachments: message.attachments.map((a) => this.files.apiAttachment(a, ephemeral)),
      embeds: message.embeds,
      components: message.components,
      pinned: false,
      flags: message.flags,
    };
    if (!ephemeral) api['guild_id'] = message.guildId;
    if (message.interaction) {
      const user = this.world.users.get(message.interaction.userId);
      api['webhook_id'] = this.world.application.id;
      api['application_id'] = this.world.application.id;
      api['interaction_metadata'] = {
        id: message.interaction.id,
        type: message.interaction.type,
        user: user ? this.world.apiUser(user) : undefined,
        authorizing_integration_owners: { '0': message.guildId },
      };
      if (message.interaction.name !== null && user) {
        // Deprecated by Discord but still sent, and still read by discord.js.
        api['interaction'] = {
          id: message.interaction.id,
          type: message.interaction.type,
          name: message.interaction.name,
          user: this.world.apiUser(user),
        };
      }
    }
    return api;
  }
}
