/**
 * Converts the typed options a test (or the sandbox page) gives for a slash command into the API's
 * `data.options` and `data.resolved`, checked against the deployed definition when there is one: the
 * Discord client would not let a user send an unknown option, skip a required one or pick a value
 * outside `choices`, so the driver refuses those too.
 */
import type { AttachmentStore, NewAttachment, StoredAttachment } from './attachments.js';
import type { ApiCommand } from './commands.js';
import type { World } from './world.js';

export const OptionType = {
  Subcommand: 1,
  SubcommandGroup: 2,
  String: 3,
  Integer: 4,
  Boolean: 5,
  User: 6,
  Channel: 7,
  Role: 8,
  Mentionable: 9,
  Number: 10,
  Attachment: 11,
} as const;

/** A file the simulated user attaches to an attachment option. */
export type SandboxFile = NewAttachment;

/**
 * string/number/boolean for plain options; a username or id for user options; a channel name or id for
 * channel options; a file (uploaded on the fly) or an already uploaded attachment for attachment options.
 */
export type OptionValue = string | number | boolean | SandboxFile | StoredAttachment;

export interface BuiltOptions {
  options: Record<string, unknown>[];
  resolved: Record<string, Record<string, unknown>> | undefined;
}

type Json = Record<string, unknown>;

function isFile(value: OptionValue): value is SandboxFile | StoredAttachment {
  return typeof value === 'object' && value !== null && 'data' in value;
}

export function buildCommandOptions(
  command: ApiCommand | undefined,
  values: Record<string, OptionValue>,
  subcommand: string | undefined,
  context: { world: World; files: AttachmentStore; guildId: string; channelId: string },
): BuiltOptions {
  const resolved: Record<string, Record<string, unknown>> = {};
  let definitions: Json[] | undefined = command ? (command['options'] as Json[]) : undefined;
  // `option set` names a subcommand inside a group, as Discord's client shows it.
  const [group, leaf] = subcommand?.includes(' ') ? subcommand.split(' ', 2) : [undefined, subcommand];
  if (group !== undefined && definitions) {
    const found = definitions.find(
      (option) => option['name'] === group && option['type'] === OptionType.SubcommandGroup,
    );
    if (!found) throw new Error(`/${command?.name} has no subcommand group ${group}`);
    definitions = Array.isArray(found['options']) ? (found['options'] as Json[]) : [];
  }
  if (leaf !== undefined && definitions) {
    const sub = definitions.find(
      (option) => option['name'] === leaf && option['type'] === OptionType.Subcommand,
    );
    if (!sub) throw new Error(`/${command?.name} has no subcommand ${subcommand}`);
    definitions = Array.isArray(sub['options']) ? (sub['options'] as Json[]) : [];
  }

  if (definitions) {
    for (const definition of definitions) {
      if (definition['required'] === true && !(String(definition['name']) in values)) {
        throw new Error(`/${command?.name}: required option ${String(definition['name'])} is missing`);
      }
    }
  }

  const options = Object.entries(values).map(([name, value]) => {
    const definition = definitions?.find((option) => option['name'] === name);
    if (definitions && !definition) throw new Error(`/${command?.name} has no option ${name}`);
    const type = definition ? Number(definition['type']) : inferType(value);
    checkChoices(command?.name, name, definition, value);
    return { name, type, value: resolveValue(type, name, value, resolved, context) };
  });

  const inner = leaf === undefined ? options : [{ name: leaf, type: OptionType.Subcommand, options }];
  const wrapped =
    group === undefined ? inner : [{ name: group, type: OptionType.SubcommandGroup, options: inner }];
  return { options: wrapped, resolved: Object.keys(resolved).length > 0 ? resolved : undefined };
}

function inferType(value: OptionValue): number {
  if (isFile(value)) return OptionType.Attachment;
  if (typeof value === 'boolean') return OptionType.Boolean;
  if (typeof value === 'number') return Number.isInteger(value) ? OptionType.Integer : OptionType.Number;
  return OptionType.String;
}

function checkChoices(
  commandName: string | undefined,
  name: string,
  definition: Json | undefined,
  value: OptionValue,
): void {
  const choices = definition?.['choices'];
  if (!Array.isArray(choices) || choices.length === 0) return;
  if (!choices.some((choice) => (choice as Json)['value'] === value)) {
    throw new Error(`/${commandName}: ${String(value)} is not among the choices of option ${name}`);
  }
}

function resolveValue(
  type: number,
  name: string,
  value: OptionValue,
  resolved: Record<string, Record<string, unknown>>,
  context: { world: World; files: AttachmentStore; guildId: string; channelId: string },
): unknown {
  const section = (key: string): Record<string, unknown> => {
    resolved[key] ??= {};
    return resolved[key];
  };
  switch (type) {
    case OptionType.Attachment: {
      if (!isFile(value)) throw new Error(`option ${name} needs a file`);
      // Files a user attaches are uploaded before the command is sent, so they already have CDN URLs.
      const stored =
        'id' in value && 'path' in value
          ? value
          : context.files.store(`ephemeral-attachments/${context.channelId}`, value);
      section('attachments')[stored.id] = context.files.apiAttachment(stored, true);
      return stored.id;
    }
    case OptionType.User: {
      const user = context.world.requireUser(String(value));
      section('users')[user.id] = context.world.apiUser(user);
      const guild = context.world.requireGuild(context.guildId);
      const member = guild.members.get(user.id);
      if (member) {
        const { user: _user, ...rest } = context.world.apiMember(member);
        section('members')[user.id] = {
          ...rest,
          permissions: context.world.permissions(guild.id, user.id).toString(),
        };
      }
      return user.id;
    }
    case OptionType.Channel: {
      const channel = context.world.requireChannel(String(value));
      section('channels')[channel.id] = { ...context.world.apiChannel(channel), permissions: '0' };
      return channel.id;
    }
    case OptionType.Integer:
    case OptionType.Number:
      if (typeof value !== 'number') throw new Error(`option ${name} needs a number`);
      if (type === OptionType.Integer && !Number.isInteger(value))
        throw new Error(`option ${name} needs an integer`);
      return value;
    case OptionType.Boolean:
      if (typeof value !== 'boolean') throw new Error(`option ${name} needs a boolean`);
      return value;
    default:
      if (typeof value !== 'string') throw new Error(`option ${name} needs a string`);
      return value;
  }
}
