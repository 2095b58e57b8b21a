/**
 * Reads REST request bodies: JSON, or multipart/form-data with `files[n]` parts and a `payload_json`
 * part (in any order), which is how discord.js sends messages with attachments.
 */
import { DiscordApiError, ErrorCode } from './api-error.js';

export interface UploadedFile {
  /** The part's field name, e.g. `files[0]`. */
  field: string;
  /** Index n of `files[n]`; attachments in the payload refer to it as id "n". */
  index: number;
  filename: string;
  contentType: string | undefined;
  data: Uint8Array;
}

export interface ParsedBody {
  json: unknown;
  files: UploadedFile[];
}

export async function parseBody(raw: Buffer, contentType: string | undefined): Promise<ParsedBody> {
  if (raw.byteLength === 0) return { json: undefined, files: [] };
  const type = contentType?.toLowerCase() ?? '';
  if (type.startsWith('multipart/form-data')) return parseMultipart(raw, contentType ?? '');
  try {
    return { json: JSON.parse(raw.toString('utf8')), files: [] };
  } catch {
    throw new DiscordApiError(400, ErrorCode.General, '400: Bad Request');
  }
}

async function parseMultipart(raw: Buffer, contentType: string): Promise<ParsedBody> {
  let form: FormData;
  try {
    form = await new Request('http://sandbox.invalid/', {
      method: 'POST',
      headers: { 'content-type': contentType },
      body: raw,
    }).formData();
  } catch {
    throw new DiscordApiError(400, ErrorCode.General, '400: Bad Request');
  }
  let json: unknown;
  const files: UploadedFile[] = [];
  for (const [field, value] of form.entries()) {
    if (field === 'payload_json') {
      const text = typeof value === 'string' ? value : await value.text();
      try {
        json = JSON.parse(text);
      } catch {
        throw DiscordApiError.invalidForm([
          { path: ['payload_json'], code: 'JSON_PARSE', message: 'Invalid JSON' },
        ]);
      }
      continue;
    }
    if (typeof value === 'string') continue;
    const match = /^files\[(\d+)\]$/.exec(field) ?? /^file(\d*)$/.exec(field);
    const index = match?.[1] ? Number(match[1]) : files.length;
    files.push({
      field,
      index,
      filename: value.name || `file${index}`,
      contentType: value.type || undefined,
      data: new Uint8Array(await value.arrayBuffer()),
    });
  }
  return { json, files };
}
