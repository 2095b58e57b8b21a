/**
 * Deployed application commands, global and per guild, as `PUT /applications/{app}/commands` stores
 * them. The driver checks invocations against them and the sandbox page lists them.
 */
import { badLength, DiscordApiError, type FieldError, tooLong } from './api-error.js';
import type { SnowflakeGenerator } from './snowflake.js';

export type ApiCommand = Record<string, unknown> & { id: string; name: string; type: number };

const NAME_PATTERN = /^[-_\p{L}\p{N}]{1,32}$/u;

export class CommandRegistry {
  /** Keyed by guild id, or `global`. */
  readonly #scopes = new Map<string, ApiCommand[]>();

  constructor(
    private readonly applicationId: string,
    private readonly ids: SnowflakeGenerator,
  ) {}

  list(guildId: string | null): ApiCommand[] {
    return this.#scopes.get(guildId ?? 'global') ?? [];
  }

  /** Bulk overwrite: keeps ids of commands whose name and type are unchanged, as Discord does. */
  overwrite(guildId: string | null, body: unknown): ApiCommand[] {
    if (!Array.isArray(body)) {
      throw DiscordApiError.invalidForm([{ path: [], code: 'BASE_TYPE_LIST', message: 'Must be an array.' }]);
    }
    if (body.length > 100) {
      throw DiscordApiError.invalidForm([tooLong([], 100)]);
    }
    const previous = this.list(guildId);
    const errors: FieldError[] = [];
    const next = body.map((definition, i) => this.#build(definition, guildId, previous, [i], errors));
    if (errors.length > 0) throw DiscordApiError.invalidForm(errors);
    this.#scopes.set(guildId ?? 'global', next);
    return next;
  }

  /** Creates or replaces one command by name (`POST .../commands`). */
  upsert(guildId: string | null, body: unknown): ApiCommand {
    const errors: FieldError[] = [];
    const previous = this.list(guildId);
    const command = this.#build(body, guildId, previous, [], errors);
    if (errors.length > 0) throw DiscordApiError.invalidForm(errors);
    this.#scopes.set(guildId ?? 'global', [...previous.filter((c) => c.id !== command.id), command]);
    return command;
  }

  remove(guildId: string | null, commandId: string): boolean {
    const previous = this.list(guildId);
    const next = previous.filter((c) => c.id !== commandId);
    this.#scopes.set(guildId ?? 'global', next);
    return next.length !== previous.length;
  }

  /** The command a user would pick in a guild: guild commands shadow global ones of the same name. */
  find(guildId: string, name: string, type = 1): ApiCommand | undefined {
    return (
      this.list(guildId).find((c) => c.name === name && c.type === type) ??
      this.list(null).find((c) => c.name === name && c.type === type)
    );
  }

  all(): { guildId: string | null; commands: ApiCommand[] }[] {
    return [...this.#scopes.entries()].map(([scope, commands]) => ({
      guildId: scope === 'global' ? null : scope,
      commands,
    }));
  }

  #build(
    definition: unknown,
    guildId: string | null,
    previous: ApiCommand[],
    path: (string | number)[],
    errors: FieldError[],
  ): ApiCommand {
    const raw = (typeof definition === 'object' && definition !== null ? definition : {}) as Record<
      string,
      unknown
    >;
    const name = raw['name'];
    const type = typeof raw['type'] === 'number' ? raw['type'] : 1;
    if (typeof name !== 'string' || !NAME_PATTERN.test(name) || (type === 1 && name !== name.toLowerCase())) {
      errors.push({
        path: [...path, 'name'],
        code: 'APPLICATION_COMMAND_INVALID_NAME',
        message: 'Command name is invalid',
      });
    }
    const description = raw['description'];
    if (
      type === 1 &&
      (typeof description !== 'string' || description.length < 1 || description.length > 100)
    ) {
      errors.push(badLength([...path, 'description'], 100));
    }
    const options = Array.isArray(raw['options']) ? raw['options'] : [];
    if (options.length > 25) {
      errors.push(tooLong([...path, 'options'], 25));
    }
    const existing = previous.find((c) => c.name === name && c.type === type);
    return {
      default_member_permissions: null,
      dm_permission: true,
      nsfw: false,
      ...raw,
      id: existing?.id ?? this.ids.next(),
      application_id: this.applicationId,
      ...(guildId === null ? {} : { guild_id: guildId }),
      name: String(name),
      type,
      description: typeof description === 'string' ? description : '',
      options,
      version: this.ids.next(),
    };
  }
}
