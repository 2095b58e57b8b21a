/**
 * Acts as Discord's users: builds INTERACTION_CREATE payloads for slash commands, button presses and
 * modal submits (with everything discord.js needs to accept them) and dispatches them to the bot.
 * Refuses what the Discord client would not let a user do (pressing a button that is not there,
 * submitting a modal nobody opened), so a passing test means a real user could do the same.
 */
import { randomBytes } from 'node:crypto';
import { performance } from 'node:perf_hooks';
import type { StoredAttachment } from './attachments.js';
import { buildCommandOptions, type OptionValue, type SandboxFile } from './command-options.js';
import type { ApiCommand } from './commands.js';
import type { SandboxCore } from './core.js';
import type { InteractionKind, InteractionView } from './events.js';
import { type InteractionRecord, InteractionType, type ShownModal } from './interactions.js';
import { ComponentType } from './message-validation.js';
import type { StoredMessage } from './messages.js';
import { Permission, type SandboxChannel, type SandboxUser } from './world.js';

export interface CommandInvocation {
  /** Command name without the slash. */
  name: string;
  /** Username or id of the invoking user. */
  user: string;
  /** Channel name or id. */
  channel: string;
  options?: Record<string, OptionValue>;
  subcommand?: string;
  locale?: string;
}

export interface ButtonPress {
  user: string;
  messageId: string;
  customId: string;
  /**
   * Send the press even though the message has no such button, as a modified client or a replayed
   * request could: lets tests prove the bot refuses forged or altered ids.
   */
  forged?: boolean;
}

export interface SelectChoice {
  user: string;
  messageId: string;
  customId: string;
  /** Option values picked in a string select menu. */
  values: string[];
}

export interface ModalSubmission {
  user: string;
  /** custom_id of the modal the bot showed that user. */
  customId: string;
  /** Text input values by custom_id; inputs left out keep the value the bot pre-filled. */
  values: Record<string, string>;
}

export interface InteractionHandle {
  id: string;
  token: string;
  kind: InteractionKind;
  /** Resolves when the bot's initial response arrives (rejects after `timeoutMs`, default 5 s). */
  response(timeoutMs?: number): Promise<{ callbackType: number; latencyMs: number }>;
}

type Json = Record<string, unknown>;

export class InteractionDriver {
  constructor(private readonly core: SandboxCore) {}

  /** Stores a file the way Discord stores user uploads, so it has a CDN URL before any command uses it. */
  upload(
    file: SandboxFile,
    channel = this.core.world.guilds[0]?.channels[0]?.id ?? 'uploads',
  ): StoredAttachment {
    return this.core.files.store(`ephemeral-attachments/${channel}`, file);
  }

  invokeCommand(invocation: CommandInvocation): InteractionHandle {
    const { core } = this;
    const user = core.world.requireUser(invocation.user);
    const channel = core.world.requireChannel(invocation.channel);
    const command = core.commands.find(channel.guildId, invocation.name);
    assertMayUse(core, command, channel.guildId, user);
    const built = buildCommandOptions(command, invocation.options ?? {}, invocation.subcommand, {
      world: core.world,
      files: core.files,
      guildId: channel.guildId,
      channelId: channel.id,
    });
    const data: Json = {
      id: command?.id ?? core.ids.next(),
      name: invocation.name,
      type: 1,
      options: built.options,
      guild_id: command && 'guild_id' in command ? command['guild_id'] : undefined,
    };
    if (data['guild_id'] === undefined) delete data['guild_id'];
    if (built.resolved) data['resolved'] = built.resolved;
    return this.#dispatch({
      type: InteractionType.ApplicationCommand,
      kind: 'command',
      name: invocation.name,
      options: built.options,
      user,
      channel,
      data,
      source: null,
      locale: invocation.locale,
    });
  }

  pressButton(press: ButtonPress): InteractionHandle {
    const { core } = this;
    const user = core.world.requireUser(press.user);
    const message = this.#visibleMessage(press.messageId, user);
    const button = findComponent(message.components, press.customId);
    if (!press.forged && (!button || button['type'] !== ComponentType.Button)) {
      throw new Error(
        `message ${message.id} has no button ${press.customId} (has: ${listCustomIds(message.components).join(', ')})`,
      );
    }
    if (button?.['disabled'] === true) throw new Error(`button ${press.customId} is disabled`);
    return this.#dispatch({
      type: InteractionType.MessageComponent,
      kind: 'button',
      name: press.customId,
      options: [],
      user,
      channel: core.world.requireChannel(message.channelId),
      data: { custom_id: press.customId, component_type: ComponentType.Button },
      source: message,
      locale: undefined,
    });
  }

  selectOption(choice: SelectChoice): InteractionHandle {
    const { core } = this;
    const user = core.world.requireUser(choice.user);
    const message = this.#visibleMessage(choice.messageId, user);
    const menu = findComponent(message.components, choice.customId);
    if (!menu || menu['type'] !== ComponentType.StringSelect) {
      throw new Error(`message ${message.id} has no string select ${choice.customId}`);
    }
    if (menu['disabled'] === true) throw new Error(`select ${choice.customId} is disabled`);
    const offered = Array.isArray(menu['options'])
      ? (menu['options'] as Json[]).map((option) => option['value'])
      : [];
    const unknown = choice.values.filter((value) => !offered.includes(value));
    if (unknown.length > 0) throw new Error(`select ${choice.customId} offers no ${unknown.join(', ')}`);
    const min = typeof menu['min_values'] === 'number' ? menu['min_values'] : 1;
    const max = typeof menu['max_values'] === 'number' ? menu['max_values'] : 1;
    if (choice.values.length < min || choice.values.length > max) {
      throw new Error(`select ${choice.customId} takes ${min}-${max} values`);
    }
    return this.#dispatch({
      type: InteractionType.MessageComponent,
      kind: 'select',
      name: choice.customId,
      options: choice.values,
      user,
      channel: core.world.requireChannel(message.channelId),
      data: { custom_id: choice.customId, component_type: ComponentType.StringSelect, values: choice.values },
      source: message,
      locale: undefined,
    });
  }

  #visibleMessage(messageId: string, user: SandboxUser): StoredMessage {
    const message = this.core.messages.get(messageId);
    if (!message) throw new Error(`no message ${messageId}`);
    if (message.visibleTo !== null && message.visibleTo !== user.id) {
      throw new Error(`message ${message.id} is ephemeral and not visible to ${user.username}`);
    }
    return message;
  }

  submitModal(submission: ModalSubmission): InteractionHandle {
    const { core } = this;
    const user = core.world.requireUser(submission.user);
    const modal = core.interactions.findModal(user.id, submission.customId);
    if (!modal || modal.submitted)
      throw new Error(`no open modal ${submission.customId} for ${user.username}`);
    const components = modalComponents(modal, submission.values);
    modal.submitted = true;
    const source = modal.sourceMessageId === null ? null : (core.messages.get(modal.sourceMessageId) ?? null);
    return this.#dispatch({
      type: InteractionType.ModalSubmit,
      kind: 'modal',
      name: modal.customId,
      options: [],
      user,
      channel: core.world.requireChannel(modal.channelId),
      data: { custom_id: modal.customId, components },
      source,
      locale: undefined,
    });
  }

  #dispatch(spec: {
    type: number;
    kind: InteractionKind;
    name: string;
    options: unknown[];
    user: SandboxUser;
    channel: SandboxChannel;
    data: Json;
    source: StoredMessage | null;
    locale: string | undefined;
  }): InteractionHandle {
    const { core } = this;
    const gateway = core.gateway;
    if (!gateway || gateway.connectedSessions() === 0) {
      throw new Error('no bot is connected to the sandbox gateway');
    }
    const guild = core.world.requireGuild(spec.channel.guildId);
    const member = guild.members.get(spec.user.id);
    if (!member) throw new Error(`${spec.user.username} is not a member of ${guild.name}`);
    const id = core.ids.next();
    const token = `aW50ZXJhY3Rpb246${id}:${randomBytes(48).toString('base64url')}`;
    const payload: Json = {
      id,
      application_id: core.world.application.id,
      type: spec.type,
      token,
      version: 1,
      guild_id: guild.id,
      guild: { id: guild.id, locale: 'en-US', features: [] },
      channel_id: spec.channel.id,
      channel: core.world.apiChannel(spec.channel),
      member: {
        ...core.world.apiMember(member),
        permissions: core.world.permissions(guild.id, spec.user.id).toString(),
      },
      app_permissions: core.world.permissions(guild.id, core.world.botUser.id).toString(),
      locale: spec.locale ?? 'en-US',
      guild_locale: 'en-US',
      entitlements: [],
      authorizing_integration_owners: { '0': guild.id },
      context: 0,
      attachment_size_limit: core.limits.attachmentBytes,
      data: spec.data,
    };
    if (spec.source) payload['message'] = core.messages.api(spec.source);

    const record: InteractionRecord = {
      id,
      token,
      type: spec.type,
      kind: spec.kind,
      user: spec.user,
      channel: spec.channel,
      name: spec.name,
      options: spec.options,
      sourceMessageId: spec.source?.id ?? null,
      createdAt: core.clock.now(),
      dispatchedAtMs: performance.now(),
      response: null,
      originalMessageId: null,
      followupIds: [],
      failed: false,
      extraAgeMs: 0,
    };
    const view: InteractionView = {
      id,
      kind: spec.kind,
      type: spec.type,
      userId: spec.user.id,
      channelId: spec.channel.id,
      guildId: guild.id,
      name: spec.name,
      messageId: spec.source?.id ?? null,
      options: spec.options,
    };
    // Registered before sending: a fast bot may answer before dispatch() returns.
    core.interactions.register(record, view);
    gateway.dispatch('INTERACTION_CREATE', payload);
    return {
      id,
      token,
      kind: spec.kind,
      response: async (timeoutMs = 5000) => {
        const event = await core.events.waitFor(
          (e) =>
            (e.type === 'interaction.response' || e.type === 'interaction.failed') && e.interactionId === id,
          { timeoutMs },
        );
        if (event.type !== 'interaction.response')
          throw new Error(`interaction ${id} got no response in time`);
        return { callbackType: event.callbackType, latencyMs: event.latencyMs };
      },
    };
  }
}

/**
 * Discord hides a command whose `default_member_permissions` the member lacks (administrators excepted),
 * so such a user cannot invoke it at all.
 */
function assertMayUse(
  core: SandboxCore,
  command: ApiCommand | undefined,
  guildId: string,
  user: SandboxUser,
): void {
  const required = command?.['default_member_permissions'];
  if (typeof required !== 'string') return;
  const bits = BigInt(required);
  const held = core.world.permissions(guildId, user.id);
  // "0" leaves the command to administrators only.
  const allowed = (held & Permission.Administrator) !== 0n || (bits !== 0n && (held & bits) === bits);
  if (!allowed) {
    throw new Error(`${user.username} may not use /${command?.name} (needs permissions ${required})`);
  }
}

/** Finds an interactive component by custom_id anywhere in a message's component tree. */
export function findComponent(components: unknown[], customId: string): Json | undefined {
  for (const component of components) {
    if (typeof component !== 'object' || component === null) continue;
    const json = component as Json;
    if (json['custom_id'] === customId) return json;
    const nested = [
      ...(Array.isArray(json['components']) ? json['components'] : []),
      ...(json['component'] ? [json['component']] : []),
      ...(json['accessory'] ? [json['accessory']] : []),
    ];
    const found = findComponent(nested, customId);
    if (found) return found;
  }
  return undefined;
}

/** Every custom_id on a message, in reading order. */
export function listCustomIds(components: unknown[]): string[] {
  const ids: string[] = [];
  const walk = (list: unknown[]): void => {
    for (const component of list) {
      if (typeof component !== 'object' || component === null) continue;
      const json = component as Json;
      if (typeof json['custom_id'] === 'string') ids.push(json['custom_id']);
      if (Array.isArray(json['components'])) walk(json['components']);
      if (json['component']) walk([json['component']]);
      if (json['accessory']) walk([json['accessory']]);
    }
  };
  walk(components);
  return ids;
}

/** The submitted components in the modal's own layout (action rows or labels), as Discord sends them. */
function modalComponents(modal: ShownModal, values: Record<string, string>): Json[] {
  for (const key of Object.keys(values)) {
    if (!modal.inputs.some((input) => input.customId === key)) {
      throw new Error(`modal ${modal.customId} has no text input ${key}`);
    }
  }
  return modal.inputs.map((input) => {
    const value = values[input.customId] ?? input.value ?? '';
    if (input.required && value.length === 0)
      throw new Error(`modal ${modal.customId}: ${input.customId} is required`);
    if (value.length > 0 && (value.length < input.minLength || value.length > input.maxLength)) {
      throw new Error(
        `modal ${modal.customId}: ${input.customId} must be ${input.minLength}-${input.maxLength} characters`,
      );
    }
    const field = { type: input.type, custom_id: input.customId, value };
    return modal.layout === 'labels'
      ? { type: ComponentType.Label, component: field }
      : { type: ComponentType.ActionRow, components: [field] };
  });
}
