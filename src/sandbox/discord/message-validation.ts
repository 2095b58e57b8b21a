/**
 * Checks message and modal payloads against Discord's limits and answers violations with the same
 * `Invalid Form Body` errors (code 50035, nested `errors`) Discord sends, so bots fail in tests the way
 * they would fail in production.
 */
import { badLength, DiscordApiError, ErrorCode, type FieldError, tooLong } from './api-error.js';
import type { DiscordLimits } from './limits.js';

/** Message flags that matter here. */
export const MessageFlag = {
  Ephemeral: 1 << 6,
  Loading: 1 << 7,
  SuppressEmbeds: 1 << 2,
  SuppressNotifications: 1 << 12,
  IsComponentsV2: 1 << 15,
} as const;

export const ComponentType = {
  ActionRow: 1,
  Button: 2,
  StringSelect: 3,
  TextInput: 4,
  UserSelect: 5,
  RoleSelect: 6,
  MentionableSelect: 7,
  ChannelSelect: 8,
  Label: 18,
} as const;

const SELECT_TYPES: ReadonlySet<number> = new Set([3, 5, 6, 7, 8]);

/** The message fields the sandbox understands, read from an untrusted JSON body. */
export interface MessageInput {
  content?: string | null;
  embeds?: unknown[];
  components?: unknown[];
  /** `[{ id, filename?, description? }]`: ids are upload indexes ("0") or ids of kept attachments. */
  attachments?: { id: string; filename?: string; description?: string }[];
  flags?: number;
}

type Json = Record<string, unknown>;

function isObject(value: unknown): value is Json {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** Reads the known fields and rejects wrong types, as Discord's schema validation does. */
export function readMessageInput(body: unknown): MessageInput {
  if (!isObject(body))
    throw DiscordApiError.invalidForm([
      bad([], 'DICT_TYPE_CONVERT', 'Only dictionaries may be used in a DictType'),
    ]);
  const errors: FieldError[] = [];
  const input: MessageInput = {};
  const { content, embeds, components, attachments, flags } = body;
  if (content !== undefined) {
    if (content === null || typeof content === 'string') input.content = content;
    else errors.push(bad(['content'], 'BASE_TYPE_STRING', 'Must be a string.'));
  }
  if (embeds !== undefined && embeds !== null) {
    if (Array.isArray(embeds)) input.embeds = embeds;
    else errors.push(bad(['embeds'], 'BASE_TYPE_LIST', 'Must be an array.'));
  }
  if (components !== undefined && components !== null) {
    if (Array.isArray(components)) input.components = components;
    else errors.push(bad(['components'], 'BASE_TYPE_LIST', 'Must be an array.'));
  }
  if (attachments !== undefined && attachments !== null) {
    if (Array.isArray(attachments)) {
      input.attachments = [];
      attachments.forEach((entry, i) => {
        if (isObject(entry) && (typeof entry['id'] === 'string' || typeof entry['id'] === 'number')) {
          const item: { id: string; filename?: string; description?: string } = { id: String(entry['id']) };
          if (typeof entry['filename'] === 'string') item.filename = entry['filename'];
          if (typeof entry['description'] === 'string') item.description = entry['description'];
          input.attachments?.push(item);
        } else {
          errors.push(bad(['attachments', i, 'id'], 'BASE_TYPE_REQUIRED', 'This field is required'));
        }
      });
    } else {
      errors.push(bad(['attachments'], 'BASE_TYPE_LIST', 'Must be an array.'));
    }
  }
  if (flags !== undefined && flags !== null) {
    if (typeof flags === 'number' && Number.isInteger(flags)) input.flags = flags;
    else errors.push(bad(['flags'], 'NUMBER_TYPE_COERCE', 'Value is not int.'));
  }
  if (errors.length > 0) throw DiscordApiError.invalidForm(errors);
  return input;
}

/** Validates content, embeds and components of a message being created or edited. */
export function validateMessageInput(input: MessageInput, limits: DiscordLimits): void {
  const errors: FieldError[] = [];
  if (typeof input.content === 'string' && input.content.length > limits.contentLength) {
    errors.push(tooLong(['content'], limits.contentLength));
  }
  if (input.embeds) validateEmbeds(input.embeds, limits, errors);
  if (input.components) {
    const v2 = ((input.flags ?? 0) & MessageFlag.IsComponentsV2) !== 0;
    validateMessageComponents(input.components, v2, limits, errors);
  }
  if (errors.length > 0) throw DiscordApiError.invalidForm(errors);
}

/** Discord refuses a new message with nothing in it. */
export function assertNotEmpty(message: {
  content: string;
  embeds: unknown[];
  components: unknown[];
  attachmentCount: number;
}): void {
  if (
    message.content.length === 0 &&
    message.embeds.length === 0 &&
    message.components.length === 0 &&
    message.attachmentCount === 0
  ) {
    throw new DiscordApiError(400, ErrorCode.CannotSendEmptyMessage, 'Cannot send an empty message');
  }
}

function validateEmbeds(embeds: unknown[], limits: DiscordLimits, errors: FieldError[]): void {
  if (embeds.length > limits.embedsPerMessage) {
    errors.push(tooLong(['embeds'], limits.embedsPerMessage));
    return;
  }
  let total = 0;
  const text = (value: unknown, path: (string | number)[], max: number): void => {
    if (value === undefined || value === null) return;
    if (typeof value !== 'string') {
      errors.push(bad(path, 'BASE_TYPE_STRING', 'Must be a string.'));
      return;
    }
    total += value.length;
    if (value.length > max) errors.push(tooLong(path, max));
  };
  embeds.forEach((embed, i) => {
    if (!isObject(embed)) {
      errors.push(bad(['embeds', i], 'DICT_TYPE_CONVERT', 'Only dictionaries may be used in a DictType'));
      return;
    }
    text(embed['title'], ['embeds', i, 'title'], 256);
    text(embed['description'], ['embeds', i, 'description'], 4096);
    if (isObject(embed['footer'])) text(embed['footer']['text'], ['embeds', i, 'footer', 'text'], 2048);
    if (isObject(embed['author'])) text(embed['author']['name'], ['embeds', i, 'author', 'name'], 256);
    const fields = embed['fields'];
    if (Array.isArray(fields)) {
      if (fields.length > 25) errors.push(tooLong(['embeds', i, 'fields'], 25));
      fields.forEach((field, j) => {
        if (!isObject(field)) return;
        text(field['name'], ['embeds', i, 'fields', j, 'name'], 256);
        text(field['value'], ['embeds', i, 'fields', j, 'value'], 1024);
      });
    }
  });
  if (total > limits.embedTotalLength) {
    errors.push(
      bad(
        ['embeds'],
        'MAX_EMBED_SIZE_EXCEEDED',
        `Embed size exceeds maximum size of ${limits.embedTotalLength}`,
      ),
    );
  }
}

function validateMessageComponents(
  components: unknown[],
  componentsV2: boolean,
  limits: DiscordLimits,
  errors: FieldError[],
): void {
  const seen = new Set<string>();
  if (componentsV2) {
    // Layout components of the newer system nest freely; only interactive ids are checked here.
    components.forEach((component, i) => {
      checkCustomIds(component, ['components', i], seen, limits, errors);
    });
    return;
  }
  if (components.length > limits.actionRowsPerMessage) {
    errors.push(tooLong(['components'], limits.actionRowsPerMessage));
  }
  components.forEach((row, i) => {
    const path = ['components', i];
    if (!isObject(row) || row['type'] !== ComponentType.ActionRow) {
      errors.push(bad([...path, 'type'], 'BASE_TYPE_CHOICES', 'Value must be one of {1}.'));
      return;
    }
    const children = row['components'];
    if (!Array.isArray(children) || children.length === 0) {
      errors.push(bad([...path, 'components'], 'BASE_TYPE_MIN_LENGTH', 'Must be 1 or more in length.'));
      return;
    }
    if (children.length > limits.componentsPerRow) {
      errors.push(tooLong([...path, 'components'], limits.componentsPerRow));
    }
    const hasSelect = children.some((child) => isObject(child) && SELECT_TYPES.has(Number(child['type'])));
    if (hasSelect && children.length > 1) {
      errors.push(
        bad(
          [...path, 'components'],
          'COMPONENT_LAYOUT_WIDTH_EXCEEDED',
          'The specified component exceeds the maximum width',
        ),
      );
    }
    children.forEach((child, j) => {
      const childPath = [...path, 'components', j];
      if (!isObject(child)) {
        errors.push(bad(childPath, 'DICT_TYPE_CONVERT', 'Only dictionaries may be used in a DictType'));
        return;
      }
      if (child['type'] === ComponentType.Button) validateButton(child, childPath, errors);
      else if (!SELECT_TYPES.has(Number(child['type']))) {
        errors.push(
          bad([...childPath, 'type'], 'BASE_TYPE_CHOICES', 'Value must be one of {2, 3, 5, 6, 7, 8}.'),
        );
      }
      checkCustomIds(child, childPath, seen, limits, errors);
    });
  });
}

function validateButton(button: Json, path: (string | number)[], errors: FieldError[]): void {
  const style = button['style'];
  if (typeof style !== 'number' || style < 1 || style > 6) {
    errors.push(bad([...path, 'style'], 'BASE_TYPE_CHOICES', 'Value must be one of {1, 2, 3, 4, 5, 6}.'));
    return;
  }
  const label = button['label'];
  if (typeof label === 'string' && label.length > 80) {
    errors.push(tooLong([...path, 'label'], 80));
  }
  if (style === 5) {
    if (typeof button['url'] !== 'string')
      errors.push(bad([...path, 'url'], 'BASE_TYPE_REQUIRED', 'This field is required'));
    if (button['custom_id'] !== undefined) {
      errors.push(
        bad([...path, 'custom_id'], 'COMPONENT_INVALID_FIELD', 'A link button cannot have a custom id'),
      );
    }
  } else if (style !== 6 && button['custom_id'] === undefined) {
    errors.push(bad([...path, 'custom_id'], 'BASE_TYPE_REQUIRED', 'This field is required'));
  }
  if (style !== 6 && label === undefined && button['emoji'] === undefined) {
    errors.push(
      bad([...path, 'label'], 'BUTTON_COMPONENT_INVALID_LABEL', 'A button must have a label or an emoji'),
    );
  }
}

/** custom_id length and uniqueness, walking nested components (rows, labels, containers). */
function checkCustomIds(
  component: unknown,
  path: (string | number)[],
  seen: Set<string>,
  limits: DiscordLimits,
  errors: FieldError[],
): void {
  if (!isObject(component)) return;
  const id = component['custom_id'];
  if (id !== undefined) {
    if (typeof id !== 'string' || id.length < 1 || id.length > limits.customIdLength) {
      errors.push(badLength([...path, 'custom_id'], limits.customIdLength));
    } else if (seen.has(id)) {
      errors.push(
        bad(
          [...path, 'custom_id'],
          'COMPONENT_CUSTOM_ID_DUPLICATED',
          'Component custom id cannot be duplicated',
        ),
      );
    } else {
      seen.add(id);
    }
  }
  const children = component['components'];
  if (Array.isArray(children))
    children.forEach((child, i) => {
      checkCustomIds(child, [...path, 'components', i], seen, limits, errors);
    });
  if (isObject(component['component']))
    checkCustomIds(component['component'], [...path, 'component'], seen, limits, errors);
  if (isObject(component['accessory']))
    checkCustomIds(component['accessory'], [...path, 'accessory'], seen, limits, errors);
}

/** A modal as shown by callback type 9. Returns its text inputs (custom id, required) for later submits. */
export function validateModal(
  data: unknown,
  limits: DiscordLimits,
): { customId: string; title: string; inputs: ModalInput[]; layout: 'rows' | 'labels'; raw: Json } {
  const errors: FieldError[] = [];
  if (!isObject(data))
    throw DiscordApiError.invalidForm([bad(['data'], 'BASE_TYPE_REQUIRED', 'This field is required')]);
  const customId = data['custom_id'];
  const title = data['title'];
  const components = data['components'];
  if (typeof customId !== 'string' || customId.length < 1 || customId.length > limits.customIdLength) {
    errors.push(badLength(['data', 'custom_id'], limits.customIdLength));
  }
  if (typeof title !== 'string' || title.length < 1 || title.length > limits.modalTitleLength) {
    errors.push(badLength(['data', 'title'], limits.modalTitleLength));
  }
  const inputs: ModalInput[] = [];
  let layout: 'rows' | 'labels' = 'rows';
  if (!Array.isArray(components) || components.length < 1 || components.length > limits.modalComponents) {
    errors.push(badLength(['data', 'components'], limits.modalComponents));
  } else {
    components.forEach((entry, i) => {
      const path = ['data', 'components', i];
      let input: unknown;
      if (
        isObject(entry) &&
        entry['type'] === ComponentType.ActionRow &&
        Array.isArray(entry['components'])
      ) {
        if (entry['components'].length !== 1) {
          errors.push(badLength([...path, 'components'], 1));
        }
        input = entry['components'][0];
      } else if (isObject(entry) && entry['type'] === ComponentType.Label && isObject(entry['component'])) {
        layout = 'labels';
        input = entry['component'];
      } else if (isObject(entry) && entry['type'] === 10) {
        return; // A text display: nothing to submit.
      } else {
        errors.push(bad([...path, 'type'], 'BASE_TYPE_CHOICES', 'Value must be one of {1, 18}.'));
        return;
      }
      if (!isObject(input) || typeof input['custom_id'] !== 'string') {
        errors.push(
          bad([...path, 'components', 0, 'custom_id'], 'BASE_TYPE_REQUIRED', 'This field is required'),
        );
        return;
      }
      const maxLength = typeof input['max_length'] === 'number' ? input['max_length'] : 4000;
      const minLength = typeof input['min_length'] === 'number' ? input['min_length'] : 0;
      inputs.push({
        customId: input['custom_id'],
        type: Number(input['type']),
        required: input['required'] !== false,
        minLength,
        maxLength,
        value: typeof input['value'] === 'string' ? input['value'] : null,
      });
    });
    const seen = new Set<string>();
    components.forEach((c, i) => {
      checkCustomIds(c, ['data', 'components', i], seen, limits, errors);
    });
  }
  if (errors.length > 0) throw DiscordApiError.invalidForm(errors);
  return { customId: String(customId), title: String(title), inputs, layout, raw: data };
}

export interface ModalInput {
  customId: string;
  type: number;
  required: boolean;
  minLength: number;
  maxLength: number;
  /** Pre-filled value the bot sent (remix shows the old prompt). */
  value: string | null;
}

function bad(path: (string | number)[], code: string, message: string): FieldError {
  return { path, code, message };
}
