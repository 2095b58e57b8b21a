/**
 * The CDN half of the sandbox: stores uploaded bytes and serves them back under `cdnBase`, and describes
 * them the way Discord's attachment objects do (content type, size, and width/height for images).
 */
import type { SnowflakeGenerator } from './snowflake.js';

export interface StoredAttachment {
  id: string;
  filename: string;
  description: string | null;
  contentType: string;
  size: number;
  width: number | null;
  height: number | null;
  /** Path below the server root, e.g. `/cdn/attachments/<channel>/<id>/<file>`. */
  path: string;
  data: Uint8Array;
}

export interface NewAttachment {
  filename: string;
  data: Uint8Array;
  /** The part's declared type; sniffed from the bytes when absent or generic. */
  contentType?: string | undefined;
  description?: string | null | undefined;
}

export class AttachmentStore {
  /** Insertion order doubles as age order for eviction. */
  readonly #byPath = new Map<string, StoredAttachment>();
  #totalBytes = 0;

  /**
   * @param maxBytes Bytes kept in memory. Beyond it the oldest files no current message shows are
   *   dropped (a long-running sandbox accumulates progress previews); their URLs then answer 404.
   * @param inUse Ids of attachments that current messages show.
   */
  constructor(
    private readonly ids: SnowflakeGenerator,
    private readonly origin: () => string,
    private readonly maxBytes = Number.POSITIVE_INFINITY,
    private readonly inUse: () => Set<string> = () => new Set(),
  ) {}

  get totalBytes(): number {
    return this.#totalBytes;
  }

  /** Stores bytes for a channel (or for user uploads not yet posted: `folder = 'ephemeral-attachments/…'`). */
  store(folder: string, file: NewAttachment): StoredAttachment {
    const id = this.ids.next();
    const filename = sanitizeFilename(file.filename);
    const declared = file.contentType?.split(';')[0]?.trim().toLowerCase();
    const contentType =
      declared && declared !== 'application/octet-stream'
        ? declared
        : (sniffContentType(file.data) ?? typeFromExtension(filename));
    const size = imageSize(file.data);
    const stored: StoredAttachment = {
      id,
      filename,
      description: file.description ?? null,
      contentType,
      size: file.data.byteLength,
      width: size?.width ?? null,
      height: size?.height ?? null,
      path: `/cdn/${folder}/${id}/${encodeURIComponent(filename)}`,
      data: file.data,
    };
    this.#byPath.set(stored.path, stored);
    this.#totalBytes += stored.size;
    if (this.#totalBytes > this.maxBytes) this.#evict(stored.id);
    return stored;
  }

  #evict(keepId: string): void {
    const used = this.inUse();
    for (const [path, stored] of this.#byPath) {
      if (this.#totalBytes <= this.maxBytes) return;
      if (stored.id === keepId || used.has(stored.id)) continue;
      this.#byPath.delete(path);
      this.#totalBytes -= stored.size;
    }
  }

  byId(id: string): StoredAttachment | undefined {
    for (const stored of this.#byPath.values()) if (stored.id === id) return stored;
    return undefined;
  }

  /** Looks up by CDN path (`/cdn/...`) or media-proxy path (`/media/...`), ignoring any query string. */
  byPath(path: string): StoredAttachment | undefined {
    const clean = path.split('?')[0] ?? path;
    return this.#byPath.get(clean.replace(/^\/media\//, '/cdn/'));
  }

  /** Finds the stored bytes behind a URL the sandbox handed out. */
  byUrl(url: string): StoredAttachment | undefined {
    try {
      return this.byPath(new URL(url).pathname);
    } catch {
      return undefined;
    }
  }

  url(attachment: StoredAttachment): string {
    return `${this.origin()}${attachment.path}`;
  }

  proxyUrl(attachment: StoredAttachment): string {
    return `${this.origin()}${attachment.path.replace(/^\/cdn\//, '/media/')}`;
  }

  /** The attachment object as messages and `resolved.attachments` carry it. */
  apiAttachment(attachment: StoredAttachment, ephemeral = false): Record<string, unknown> {
    const api: Record<string, unknown> = {
      id: attachment.id,
      filename: attachment.filename,
      size: attachment.size,
      url: this.url(attachment),
      proxy_url: this.proxyUrl(attachment),
      content_type: attachment.contentType,
    };
    if (attachment.description !== null) api['description'] = attachment.description;
    if (attachment.width !== null && attachment.height !== null) {
      api['width'] = attachment.width;
      api['height'] = attachment.height;
    }
    if (ephemeral) api['ephemeral'] = true;
    return api;
  }
}

function sanitizeFilename(name: string): string {
  // Discord replaces characters outside a safe set; keeping paths single-segment is what matters here.
  const base = name.split(/[\\/]/).pop() ?? 'file';
  const cleaned = base.replace(/[^A-Za-z0-9._-]/g, '_');
  return cleaned.length > 0 ? cleaned : 'file';
}

export function sniffContentType(data: Uint8Array): string | undefined {
  const b = data;
  if (b.length >= 8 && b[0] === 0x89 && b[1] === 0x50 && b[2] === 0x4e && b[3] === 0x47) return 'image/png';
  if (b.length >= 3 && b[0] === 0xff && b[1] === 0xd8 && b[2] === 0xff) return 'image/jpeg';
  if (b.length >= 6 && ascii(b, 0, 3) === 'GIF') return 'image/gif';
  if (b.length >= 12 && ascii(b, 0, 4) === 'RIFF' && ascii(b, 8, 12) === 'WEBP') return 'image/webp';
  return undefined;
}

function typeFromExtension(filename: string): string {
  const ext = filename.split('.').pop()?.toLowerCase();
  const types: Record<string, string> = {
    png: 'image/png',
    jpg: 'image/jpeg',
    jpeg: 'image/jpeg',
    gif: 'image/gif',
    webp: 'image/webp',
    txt: 'text/plain; charset=utf-8',
    json: 'application/json',
  };
  return (ext && types[ext]) ?? 'application/octet-stream';
}

function ascii(b: Uint8Array, start: number, end: number): string {
  return String.fromCharCode(...b.subarray(start, end));
}

/** Reads width/height from PNG, GIF, WebP or JPEG headers without decoding the image. */
export function imageSize(b: Uint8Array): { width: number; height: number } | undefined {
  const view = new DataView(b.buffer, b.byteOffset, b.byteLength);
  const type = sniffContentType(b);
  try {
    if (type === 'image/png' && b.length >= 24) {
      return { width: view.getUint32(16), height: view.getUint32(20) };
    }
    if (type === 'image/gif' && b.length >= 10) {
      return { width: view.getUint16(6, true), height: view.getUint16(8, true) };
    }
    if (type === 'image/webp') return webpSize(b, view);
    if (type === 'image/jpeg') return jpegSize(b, view);
  } catch {
    // A truncated header just means "no dimensions", as for any other file.
  }
  return undefined;
}

function webpSize(b: Uint8Array, view: DataView): { width: number; height: number } | undefined {
  const chunk = ascii(b, 12, 16);
  if (chunk === 'VP8 ' && b.length >= 30) {
    return { width: view.getUint16(26, true) & 0x3fff, height: view.getUint16(28, true) & 0x3fff };
  }
  if (chunk === 'VP8L' && b.length >= 25) {
    const bits = view.getUint32(21, true);
    return { width: (bits & 0x3fff) + 1, height: ((bits >> 14) & 0x3fff) + 1 };
  }
  if (chunk === 'VP8X' && b.length >= 30) {
    const uint24 = (at: number) => (b[at] ?? 0) | ((b[at + 1] ?? 0) << 8) | ((b[at + 2] ?? 0) << 16);
    return { width: uint24(24) + 1, height: uint24(27) + 1 };
  }
  return undefined;
}

function jpegSize(b: Uint8Array, view: DataView): { width: number; height: number } | undefined {
  let offset = 2;
  while (offset + 9 < b.length) {
    if (b[offset] !== 0xff) return undefined;
    const marker = b[offset + 1] ?? 0;
    const length = view.getUint16(offset + 2);
    // SOF0-SOF15 carry the frame size, except DHT (C4), JPG (C8) and DAC (CC).
    if (marker >= 0xc0 && marker <= 0xcf && marker !== 0xc4 && marker !== 0xc8 && marker !== 0xcc) {
      return { width: view.getUint16(offset + 7), height: view.getUint16(offset + 5) };
    }
    offset += 2 + length;
  }
  return undefined;
}
