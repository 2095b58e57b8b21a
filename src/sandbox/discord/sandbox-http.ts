/**
 * The HTTP face of the test driver, for a web page that shows the sandbox as a Discord channel:
 *
 *   GET  /sandbox/state                          snapshot: users, guilds, commands, messages, open modals
 *   GET  /sandbox/events?after=SEQ&types=a,b     Server-Sent Events, replaying from SEQ (or Last-Event-ID)
 *   GET  /sandbox/messages/:id/history           every state of a message, creation first
 *   GET  /sandbox/channels/:channel/messages?viewer=USER
 *   POST /sandbox/uploads        {filename, contentType?, base64}  → attachment (use its id in commands)
 *   POST /sandbox/commands       {user, channel, name, options?, subcommand?}
 *                                an attachment option is {"upload": "<id>"} or {filename, base64}
 *   POST /sandbox/buttons        {user, messageId, customId}
 *   POST /sandbox/selects        {user, messageId, customId, values}
 *   POST /sandbox/modals         {user, customId, values}
 *
 * Everything is JSON, for the page on the server's own origin only (no CORS). Every route needs the
 * page key (`X-Sandbox-Key`, or `?key=` on a GET: EventSource sends no headers); the server has
 * already refused foreign Host and Origin headers. Files from the page must be PNG, JPEG, WebP or GIF
 * by their bytes, whatever type they claim.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { sniffContentType } from './attachments.js';
import type { OptionValue, SandboxFile } from './command-options.js';
import type { SandboxCore } from './core.js';
import type { InteractionDriver } from './driver.js';
import type { SandboxEvent } from './events.js';
import type { InteractionTiming } from './interactions.js';
import type { MessageView } from './messages.js';
import { PAGE_KEY_HEADER, PAGE_KEY_PARAM } from './page-guard.js';
import { Permission } from './world.js';

/**
 * What the page API needs of the server, kept narrow so this module does not depend on server.ts: what
 * it observes, and the driver's ways of acting as a user.
 */
export interface SandboxSurface
  extends Pick<
    InteractionDriver,
    'upload' | 'invokeCommand' | 'pressButton' | 'selectOption' | 'submitModal'
  > {
  readonly core: SandboxCore;
  messages(channel: string, options?: { viewer?: string }): MessageView[];
  history(id: string): MessageView[];
  events(after?: number): SandboxEvent[];
  subscribe(listener: (event: SandboxEvent) => void): () => void;
}

export interface SandboxSnapshot {
  seq: number;
  application: { id: string; name: string };
  users: { id: string; username: string; globalName: string | null; bot: boolean }[];
  guilds: {
    id: string;
    name: string;
    channels: { id: string; name: string }[];
    members: { userId: string; permissions: string; manageGuild: boolean }[];
  }[];
  commands: { guildId: string | null; commands: Record<string, unknown>[] }[];
  /** All messages of all channels, ephemeral ones included (filter by `visibleTo` for a viewer). */
  messages: MessageView[];
  openModals: {
    interactionId: string;
    userId: string;
    customId: string;
    title: string;
    modal: Record<string, unknown>;
  }[];
  interactions: InteractionTiming[];
}

/** What the page may upload, by magic bytes. */
const PAGE_IMAGE_TYPES = new Set(['image/png', 'image/jpeg', 'image/webp', 'image/gif']);
/** Declared types that say nothing about the file (the bytes decide). */
const GENERIC_TYPES = new Set(['', 'application/octet-stream']);

/** A refusal with its own status (anything else thrown while handling is a 400). */
class PageApiError extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
  }
}

/** Largest JSON body the page API accepts (uploads arrive base64-encoded). */
const MAX_BODY_BYTES = 40 * 1024 * 1024;

export class SandboxHttp {
  readonly #streams = new Set<ServerResponse>();

  constructor(private readonly discord: SandboxSurface) {}

  snapshot(): SandboxSnapshot {
    const { core } = this.discord;
    const { world } = core;
    return {
      seq: core.events.seq,
      application: { id: world.application.id, name: world.application.name },
      users: [...world.users.values()].map((u) => ({
        id: u.id,
        username: u.username,
        globalName: u.globalName,
        bot: u.bot,
      })),
      guilds: world.guilds.map((guild) => ({
        id: guild.id,
        name: guild.name,
        channels: guild.channels.map((c) => ({ id: c.id, name: c.name })),
        members: [...guild.members.keys()].map((userId) => {
          const bits = world.permissions(guild.id, userId);
          return {
            userId,
            permissions: bits.toString(),
            manageGuild: (bits & Permission.ManageGuild) !== 0n,
          };
        }),
      })),
      commands: core.commands.all(),
      messages: core.messages
        .all()
        .filter((m) => !m.deleted)
        .map((m) => core.messages.view(m)),
      openModals: core.interactions
        .modals()
        .filter((m) => !m.submitted)
        .map((m) => ({
          interactionId: m.interactionId,
          userId: m.userId,
          customId: m.customId,
          title: m.title,
          modal: m.raw,
        })),
      interactions: core.interactions.timings(),
    };
  }

  close(): void {
    for (const stream of this.#streams) stream.end();
    this.#streams.clear();
  }

  /** `authorized`: the request carries the page key (checked by the server's guard). */
  async handle(req: IncomingMessage, res: ServerResponse, url: URL, authorized: boolean): Promise<void> {
    if (!authorized) {
      // Refused before the body is read or anything is looked up.
      const sent = typeof req.headers[PAGE_KEY_HEADER] === 'string' || url.searchParams.has(PAGE_KEY_PARAM);
      json(res, sent ? 403 : 401, {
        error: sent
          ? 'Wrong page key: open the address the sandbox printed when it started.'
          : 'The page API needs the page key: open the address the sandbox printed when it started.',
      });
      return;
    }
    try {
      const path = url.pathname;
      if (req.method === 'GET' && path === '/sandbox/state') return json(res, 200, this.snapshot());
      if (req.method === 'GET' && path === '/sandbox/events') return this.#stream(req, res, url);
      const messages = /^\/sandbox\/channels\/([^/]+)\/messages$/.exec(path);
      if (req.method === 'GET' && messages?.[1]) {
        const viewer = url.searchParams.get('viewer');
        return json(
          res,
          200,
          this.discord.messages(decodeURIComponent(messages[1]), viewer ? { viewer } : {}),
        );
      }
      const history = /^\/sandbox\/messages\/([^/]+)\/history$/.exec(path);
      if (req.method === 'GET' && history?.[1]) return json(res, 200, this.discord.history(history[1]));
      if (req.method === 'POST') return json(res, 200, await this.#act(path, await readJson(req)));
      json(res, 404, { error: `no sandbox route ${req.method} ${path}` });
    } catch (error) {
      json(res, error instanceof PageApiError ? error.status : 400, {
        error: error instanceof Error ? error.message : String(error),
      });
    }
  }

  async #act(path: string, body: Record<string, unknown>): Promise<unknown> {
    const d = this.discord;
    const str = (key: string): string => {
      const value = body[key];
      if (typeof value !== 'string') throw new Error(`${key} must be a string`);
      return value;
    };
    switch (path) {
      case '/sandbox/uploads': {
        const stored = d.upload(pageImage(str('filename'), str('base64'), body['contentType']));
        return d.core.files.apiAttachment(stored, true);
      }
      case '/sandbox/commands': {
        const options = this.#options(body['options']);
        const handle = d.invokeCommand({
          name: str('name'),
          user: str('user'),
          channel: str('channel'),
          options,
          ...(typeof body['subcommand'] === 'string' ? { subcommand: body['subcommand'] } : {}),
        });
        return { interactionId: handle.id };
      }
      case '/sandbox/buttons':
        return {
          interactionId: d.pressButton({
            user: str('user'),
            messageId: str('messageId'),
            customId: str('customId'),
          }).id,
        };
      case '/sandbox/selects': {
        const values = body['values'];
        if (!Array.isArray(values) || !values.every((v) => typeof v === 'string'))
          throw new Error('values must be strings');
        const handle = d.selectOption({
          user: str('user'),
          messageId: str('messageId'),
          customId: str('customId'),
          values,
        });
        return { interactionId: handle.id };
      }
      case '/sandbox/modals': {
        const values = body['values'];
        if (typeof values !== 'object' || values === null) throw new Error('values must be an object');
        const handle = d.submitModal({
          user: str('user'),
          customId: str('customId'),
          values: values as Record<string, string>,
        });
        return { interactionId: handle.id };
      }
      default:
        throw new Error(`no sandbox action ${path}`);
    }
  }

  /** Page-side option values: plain JSON, with files as `{ upload: id }` or `{ filename, base64 }`. */
  #options(raw: unknown): Record<string, OptionValue> {
    const options: Record<string, OptionValue> = {};
    if (typeof raw !== 'object' || raw === null) return options;
    for (const [name, value] of Object.entries(raw as Record<string, unknown>)) {
      if (typeof value === 'string' || typeof value === 'number' || typeof value === 'boolean') {
        options[name] = value;
      } else if (
        typeof value === 'object' &&
        value !== null &&
        typeof (value as { upload?: unknown }).upload === 'string'
      ) {
        const stored = this.discord.core.files.byId((value as { upload: string }).upload);
        if (!stored) throw new Error(`no upload ${(value as { upload: string }).upload}`);
        options[name] = stored;
      } else if (typeof value === 'object' && value !== null) {
        const file = value as Record<string, unknown>;
        if (typeof file['filename'] !== 'string' || typeof file['base64'] !== 'string')
          throw new Error(`option ${name}: bad file`);
        options[name] = pageImage(file['filename'], file['base64'], file['contentType']);
      }
    }
    return options;
  }

  #stream(req: IncomingMessage, res: ServerResponse, url: URL): void {
    const lastId = req.headers['last-event-id'];
    // A reconnecting EventSource repeats the original URL, so its Last-Event-ID wins over `after`.
    const after = Number(typeof lastId === 'string' ? lastId : (url.searchParams.get('after') ?? 0)) || 0;
    const types = url.searchParams.get('types')?.split(',');
    res.writeHead(200, {
      'content-type': 'text/event-stream',
      'cache-control': 'no-cache',
      connection: 'keep-alive',
    });
    // A comment line sends the headers now, so EventSource/fetch open even before the first event.
    res.write(': sandbox event stream\n\n');
    const send = (event: SandboxEvent): void => {
      if (types && !types.includes(event.type)) return;
      res.write(`id: ${event.seq}\nevent: ${event.type}\ndata: ${JSON.stringify(event)}\n\n`);
    };
    for (const event of this.discord.events(after)) send(event);
    const unsubscribe = this.discord.subscribe(send);
    this.#streams.add(res);
    req.on('close', () => {
      unsubscribe();
      this.#streams.delete(res);
    });
  }
}

/**
 * A file from the page, accepted only when its bytes are a PNG, JPEG, WebP or GIF; it is stored with
 * the type its bytes show. A declared type other than that (say `text/html`) is refused as well.
 */
function pageImage(filename: string, base64: string, declared: unknown): SandboxFile {
  const data = Buffer.from(base64, 'base64');
  const sniffed = sniffContentType(data);
  if (sniffed === undefined || !PAGE_IMAGE_TYPES.has(sniffed))
    throw new PageApiError(415, `${filename}: only PNG, JPEG, WebP and GIF images can be uploaded`);
  const claimed = typeof declared === 'string' ? (declared.split(';')[0]?.trim().toLowerCase() ?? '') : '';
  if (!GENERIC_TYPES.has(claimed) && claimed !== sniffed)
    throw new PageApiError(415, `${filename}: declared as ${claimed}, but its bytes are ${sniffed}`);
  return { filename, data, contentType: sniffed };
}

function json(res: ServerResponse, status: number, body: unknown): void {
  const text = JSON.stringify(body);
  res
    .writeHead(status, {
      'content-type': 'application/json',
      'content-length': Buffer.byteLength(text),
    })
    .end(text);
}

async function readJson(req: IncomingMessage): Promise<Record<string, unknown>> {
  const chunks: Buffer[] = [];
  let total = 0;
  for await (const chunk of req) {
    total += (chunk as Buffer).byteLength;
    if (total > MAX_BODY_BYTES) throw new Error('body too large');
    chunks.push(chunk as Buffer);
  }
  if (total === 0) return {};
  const parsed: unknown = JSON.parse(Buffer.concat(chunks).toString('utf8'));
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed))
    throw new Error('body must be a JSON object');
  return parsed as Record<string, unknown>;
}
