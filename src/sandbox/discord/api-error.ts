/**
 * Errors answered the way Discord answers them: an HTTP status plus `{ code, message, errors? }`.
 * discord.js turns these bodies into `DiscordAPIError` with `code` and a message that flattens `errors`,
 * so a bot under test sees exactly what it would see from Discord.
 */

/** Discord's JSON error codes used by the loopback server. */
export const ErrorCode = {
  General: 0,
  UnknownChannel: 10003,
  UnknownGuild: 10004,
  UnknownMember: 10007,
  UnknownMessage: 10008,
  UnknownWebhook: 10015,
  UnknownUser: 10013,
  UnknownApplication: 10002,
  UnknownApplicationCommand: 10063,
  UnknownInteraction: 10062,
  CannotEditOtherUsersMessage: 50005,
  CannotSendEmptyMessage: 50006,
  MissingPermissions: 50013,
  InvalidWebhookToken: 50027,
  InvalidFormBody: 50035,
  RequestEntityTooLarge: 40005,
  InteractionAlreadyAcknowledged: 40060,
} as const;

/** One entry of Discord's nested `errors` tree: `{ _errors: [{ code, message }] }` at the failing path. */
export interface FieldError {
  path: readonly (string | number)[];
  code: string;
  message: string;
}

/** Discord's field error for a length outside 1..`max`. */
export function badLength(path: readonly (string | number)[], max: number): FieldError {
  return { path, code: 'BASE_TYPE_BAD_LENGTH', message: `Must be between 1 and ${max} in length.` };
}

/** Discord's field error for more than `max` items or characters. */
export function tooLong(path: readonly (string | number)[], max: number): FieldError {
  return { path, code: 'BASE_TYPE_MAX_LENGTH', message: `Must be ${max} or fewer in length.` };
}

export interface ApiErrorBody {
  code: number;
  message: string;
  errors?: Record<string, unknown>;
}

export class DiscordApiError extends Error {
  constructor(
    readonly status: number,
    readonly code: number,
    message: string,
    readonly fieldErrors: readonly FieldError[] = [],
  ) {
    super(message);
    this.name = 'DiscordApiError';
  }

  body(): ApiErrorBody {
    const body: ApiErrorBody = { code: this.code, message: this.message };
    if (this.fieldErrors.length > 0) body.errors = nestFieldErrors(this.fieldErrors);
    return body;
  }

  static invalidForm(errors: readonly FieldError[]): DiscordApiError {
    return new DiscordApiError(400, ErrorCode.InvalidFormBody, 'Invalid Form Body', errors);
  }

  static unknownWebhook(): DiscordApiError {
    return new DiscordApiError(404, ErrorCode.UnknownWebhook, 'Unknown Webhook');
  }

  static unknownMessage(): DiscordApiError {
    return new DiscordApiError(404, ErrorCode.UnknownMessage, 'Unknown Message');
  }

  static unknownChannel(): DiscordApiError {
    return new DiscordApiError(404, ErrorCode.UnknownChannel, 'Unknown Channel');
  }

  static unauthorized(): DiscordApiError {
    return new DiscordApiError(401, ErrorCode.General, '401: Unauthorized');
  }

  static notFound(): DiscordApiError {
    return new DiscordApiError(404, ErrorCode.General, '404: Not Found');
  }
}

/** Builds `{ a: { 0: { b: { _errors: [...] } } } }` from flat paths, the shape Discord uses. */
function nestFieldErrors(errors: readonly FieldError[]): Record<string, unknown> {
  const root: Record<string, unknown> = {};
  for (const error of errors) {
    let node = root;
    for (const key of error.path) {
      const k = String(key);
      const child = node[k];
      if (typeof child === 'object' && child !== null) {
        node = child as Record<string, unknown>;
      } else {
        const created: Record<string, unknown> = {};
        node[k] = created;
        node = created;
      }
    }
    const list = (node['_errors'] as { code: string; message: string }[] | undefined) ?? [];
    list.push({ code: error.code, message: error.message });
    node['_errors'] = list;
  }
  return root;
}
