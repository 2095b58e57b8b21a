/**
 * `startLoopbackDiscord()`: a Discord-compatible server on 127.0.0.1 (REST under `/api`, CDN under
 * `/cdn` and `/media`, gateway at `/gateway`, sandbox page API under `/sandbox`) plus the in-process
 * test driver and observation API. Only loopback Host names and its own Origin are answered, and the
 * page API needs the per-run key of `pageUrl` (see page-guard.ts).
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { type StoredAttachment, sniffContentType } from './attachments.js';
import { channelRoutes } from './channel-routes.js';
import { AdjustableClock, type Clock } from './clock.js';
import type { SandboxFile } from './command-options.js';
import { commandRoutes } from './command-routes.js';
import { SandboxCore } from './core.js';
import {
  type ButtonPress,
  type CommandInvocation,
  InteractionDriver,
  type InteractionHandle,
  type ModalSubmission,
  type SelectChoice,
} from './driver.js';
import type { SandboxEvent, WaitOptions } from './events.js';
import { Gateway } from './gateway.js';
import { infoRoutes } from './info-routes.js';
import { interactionRoutes } from './interaction-routes.js';
import type { InteractionTiming, ShownModal } from './interactions.js';
import { DEFAULT_LIMITS, type DiscordLimits } from './limits.js';
import type { AttachmentView, MessageView } from './messages.js';
import { newPageKey, PageGuard } from './page-guard.js';
import { DEFAULT_RATE_LIMITS, type InjectedRateLimit, type RateLimitOptions } from './rate-limits.js';
import { type RequestRecord, RestHandler } from './rest-handler.js';
import { Router } from './router.js';
import { SandboxHttp, type SandboxSnapshot } from './sandbox-http.js';
import { serveStatic } from './static-files.js';
import type { WorldSpec } from './world.js';

export interface LoopbackDiscordOptions {
  /** 0 (default) picks a free port. */
  port?: number;
  host?: string;
  /** Application id/token/name, users and guilds; defaults to `DEFAULT_WORLD`. */
  world?: WorldSpec;
  /** The clock deadlines are checked against; default: wall clock with `advance()`. */
  clock?: Clock;
  limits?: Partial<DiscordLimits>;
  rateLimits?: Partial<RateLimitOptions>;
  heartbeatIntervalMs?: number;
  /** Where loud warnings go (unknown routes, handler crashes); default `console.warn`. */
  log?: (line: string) => void;
  /** Attachment bytes kept in memory before unused old files are dropped (default 512 MiB). */
  maxStoredAttachmentBytes?: number;
  /** A folder served at `/` for paths outside `/api`, `/cdn`, `/media`, `/sandbox`: the sandbox page. */
  staticDir?: string;
  /**
   * Another handler for those paths, asked before `staticDir`; it returns true when it answered.
   * Lets a page be served by its own code (a dev server proxy, generated HTML). `page.authorized` says
   * whether the request carries the page key: a hook that serves data (not page files) refuses without.
   */
  onRequest?: (
    req: IncomingMessage,
    res: ServerResponse,
    url: URL,
    page: { authorized: boolean },
  ) => boolean | Promise<boolean>;
  /** The page key (default: 32 random bytes per start). */
  pageKey?: string;
}

/** Types `/cdn` and `/media` serve inline, by the bytes; anything else is a download. */
const INLINE_IMAGE_TYPES = new Set(['image/png', 'image/jpeg', 'image/webp', 'image/gif']);

export class LoopbackDiscord {
  readonly core: SandboxCore;
  readonly driver: InteractionDriver;
  readonly #server: Server;
  readonly #rest: RestHandler;
  readonly #gateway: Gateway;
  readonly #page: SandboxHttp;
  readonly #options: LoopbackDiscordOptions;
  readonly #pageKey: string;
  #origin = '';
  #guard: PageGuard | null = null;

  private constructor(options: LoopbackDiscordOptions) {
    this.#options = options;
    this.#pageKey = options.pageKey ?? newPageKey();
    const log = options.log ?? ((line: string) => console.warn(line));
    this.core = new SandboxCore({
      world: options.world ?? {},
      clock: options.clock ?? new AdjustableClock(),
      limits: { ...DEFAULT_LIMITS, ...options.limits },
      rateLimits: { ...DEFAULT_RATE_LIMITS, ...options.rateLimits },
      origin: () => this.#origin,
      maxStoredAttachmentBytes: options.maxStoredAttachmentBytes ?? 512 * 1024 * 1024,
    });
    this.#gateway = new Gateway({
      world: this.core.world,
      events: this.core.events,
      heartbeatIntervalMs: options.heartbeatIntervalMs ?? 41_250,
      url: () => this.gatewayUrl,
      log,
    });
    this.core.gateway = this.#gateway;
    this.driver = new InteractionDriver(this.core);
    const router = new Router();
    router.add(...infoRoutes(this.core, () => this.gatewayUrl), ...interactionRoutes(this.core));
    router.add(...channelRoutes(this.core), ...commandRoutes(this.core));
    this.#rest = new RestHandler(this.core, router, log);
    this.#page = new SandboxHttp(this);
    this.#server = createServer((req, res) => void this.#route(req, res));
    this.#server.on('upgrade', (req, socket, head) => {
      const refusal = this.#guard ? this.#guard.refuse(req.headers) : { status: 503, reason: 'not started' };
      if (refusal) {
        const text = refusal.status === 503 ? 'Service Unavailable' : 'Forbidden';
        socket.end(`HTTP/1.1 ${refusal.status} ${text}\r\nConnection: close\r\nContent-Length: 0\r\n\r\n`);
        return;
      }
      if (new URL(req.url ?? '/', 'http://sandbox.invalid').pathname === '/gateway') {
        this.#gateway.handleUpgrade(req, socket, head);
      } else {
        socket.destroy();
      }
    });
  }

  static async start(options: LoopbackDiscordOptions = {}): Promise<LoopbackDiscord> {
    const discord = new LoopbackDiscord(options);
    const host = options.host ?? '127.0.0.1';
    await new Promise<void>((resolve, reject) => {
      discord.#server.once('error', reject);
      discord.#server.listen(options.port ?? 0, host, () => resolve());
    });
    const { port } = discord.#server.address() as AddressInfo;
    discord.#origin = `http://${host}:${port}`;
    discord.#guard = new PageGuard(port, discord.#pageKey);
    return discord;
  }

  /** The page's address with its key, e.g. `http://127.0.0.1:PORT/?key=…`: what a person opens. */
  get pageUrl(): string {
    return `${this.#origin}/?key=${encodeURIComponent(this.#pageKey)}`;
  }

  /** The key the page API (`/sandbox/*`) requires, as `X-Sandbox-Key` or `?key=` on a GET. */
  get pageKey(): string {
    return this.#pageKey;
  }

  /** `http://127.0.0.1:PORT/api`: pass as `rest.api` (discord.js appends `/v10`). */
  get apiBase(): string {
    return `${this.#origin}/api`;
  }

  get cdnBase(): string {
    return `${this.#origin}/cdn`;
  }

  get gatewayUrl(): string {
    return `${this.#origin.replace(/^http/, 'ws')}/gateway`;
  }

  get origin(): string {
    return this.#origin;
  }

  get application(): { id: string; token: string; name: string } {
    return { ...this.core.world.application };
  }

  /** Options for `new Client({ rest })` / `new REST()` pointing at this server. */
  get restOptions(): { api: string; cdn: string; version: '10' } {
    return { api: this.apiBase, cdn: this.cdnBase, version: '10' };
  }

  // ---- acting as users -------------------------------------------------------------------------

  invokeCommand(invocation: CommandInvocation): InteractionHandle {
    return this.driver.invokeCommand(invocation);
  }

  pressButton(press: ButtonPress): InteractionHandle {
    return this.driver.pressButton(press);
  }

  selectOption(choice: SelectChoice): InteractionHandle {
    return this.driver.selectOption(choice);
  }

  submitModal(submission: ModalSubmission): InteractionHandle {
    return this.driver.submitModal(submission);
  }

  upload(file: SandboxFile, channel?: string): StoredAttachment {
    return this.driver.upload(file, channel);
  }

  // ---- observing ---------------------------------------------------------------------------------

  /** A channel's messages, oldest first, as `viewer` sees them (ephemeral ones of others left out). */
  messages(channel: string, options: { viewer?: string } = {}): MessageView[] {
    const id = this.core.world.requireChannel(channel).id;
    const viewer = options.viewer === undefined ? undefined : this.core.world.requireUser(options.viewer).id;
    return this.core.messages.inChannel(id, viewer).map((m) => this.core.messages.view(m));
  }

  message(id: string): MessageView | undefined {
    const message = this.core.messages.get(id);
    return message ? this.core.messages.view(message) : undefined;
  }

  /** Every state of a message in order: creation first, then each edit (and a deletion). */
  history(id: string): MessageView[] {
    return this.core.messages.history(id);
  }

  /** The bytes behind an attachment (view, stored attachment or URL). */
  attachmentBytes(attachment: AttachmentView | StoredAttachment | string): Uint8Array {
    const url =
      typeof attachment === 'string'
        ? attachment
        : 'data' in attachment
          ? this.core.files.url(attachment)
          : attachment.url;
    const stored = this.core.files.byUrl(url);
    if (!stored) throw new Error(`no stored attachment at ${url}`);
    return stored.data;
  }

  events(after = 0): SandboxEvent[] {
    return this.core.events.since(after);
  }

  /** The latest event's sequence number: `waitFor(..., { after: d.seq })` ignores everything earlier. */
  get seq(): number {
    return this.core.events.seq;
  }

  subscribe(listener: (event: SandboxEvent) => void): () => void {
    return this.core.events.subscribe(listener);
  }

  waitFor<E extends SandboxEvent>(
    predicate: (event: SandboxEvent) => event is E,
    options?: WaitOptions,
  ): Promise<E>;
  waitFor(predicate: (event: SandboxEvent) => boolean, options?: WaitOptions): Promise<SandboxEvent>;
  waitFor(predicate: (event: SandboxEvent) => boolean, options?: WaitOptions): Promise<SandboxEvent> {
    return this.core.events.waitFor(predicate, options);
  }

  /** Resolves with the first message state (created or edited, past or future) the predicate accepts. */
  async waitForMessage(
    predicate: (message: MessageView) => boolean,
    options?: WaitOptions,
  ): Promise<MessageView> {
    const event = await this.core.events.waitFor(
      (e) => (e.type === 'message.create' || e.type === 'message.update') && predicate(e.message),
      options,
    );
    if (event.type !== 'message.create' && event.type !== 'message.update') throw new Error('unreachable');
    return event.message;
  }

  /** The message `@original` of an interaction refers to, once the bot answered. */
  originalMessage(interactionId: string): MessageView | undefined {
    const id = this.core.interactions.get(interactionId)?.originalMessageId;
    return id ? this.message(id) : undefined;
  }

  /** Dispatch → initial response per interaction, for latency reports. */
  timings(): InteractionTiming[] {
    return this.core.interactions.timings();
  }

  /** Every REST request so far; `route` is `METHOD /template`. */
  get requests(): readonly RequestRecord[] {
    return this.#rest.requests;
  }

  requestsTo(route: string): RequestRecord[] {
    return this.#rest.requests.filter((request) => request.route === route);
  }

  commands(guild?: string): Record<string, unknown>[] {
    return this.core.commands.list(guild ?? null);
  }

  modals(): ShownModal[] {
    return this.core.interactions.modals();
  }

  /** Everything a page needs to draw the sandbox from scratch (JSON-serialisable). */
  snapshot(): SandboxSnapshot {
    return this.#page.snapshot();
  }

  // ---- controlling -------------------------------------------------------------------------------

  /** Answers the next matching request(s) with 429 (see `InjectedRateLimit`). */
  injectRateLimit(spec: InjectedRateLimit = {}): void {
    this.core.rateLimiter.inject(spec);
  }

  /** Moves the server clock (when it is the default adjustable clock); ages every interaction. */
  advanceClock(ms: number): void {
    if (!(this.core.clock instanceof AdjustableClock))
      throw new Error('the sandbox was started with a custom clock');
    this.core.clock.advance(ms);
  }

  /** Makes one interaction older, e.g. past the 15-minute token life. */
  ageInteraction(interactionId: string, ms: number): void {
    this.core.interactions.age(interactionId, ms);
  }

  /** Closes gateway sockets while keeping sessions resumable. */
  dropGatewayConnections(code?: number): void {
    this.#gateway.dropConnections(code);
  }

  /** Number of bots connected and identified. */
  connectedBots(): number {
    return this.#gateway.connectedSessions();
  }

  /** Resolves once a bot has identified on the gateway. */
  async waitForBot(timeoutMs = 5000): Promise<void> {
    if (this.connectedBots() > 0) return;
    await this.waitFor((e) => e.type === 'gateway.ready' || e.type === 'gateway.resumed', {
      timeoutMs,
      after: this.seq,
    });
  }

  async close(): Promise<void> {
    this.core.interactions.close();
    this.#page.close();
    await this.#gateway.close();
    this.#server.closeAllConnections();
    await new Promise<void>((resolve) => this.#server.close(() => resolve()));
  }

  async #route(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const guard = this.#guard;
    const refusal = guard ? guard.refuse(req.headers) : { status: 503, reason: 'not started' };
    if (!guard || refusal) {
      // Before anything is read or recorded: a foreign Host or Origin changes nothing.
      res
        .writeHead(refusal?.status ?? 503, {
          'content-type': 'text/plain; charset=utf-8',
          'x-content-type-options': 'nosniff',
          connection: 'close',
        })
        .end(`${refusal?.reason ?? 'not started'}\n`);
      return;
    }
    res.setHeader('x-content-type-options', 'nosniff');
    // The page's address carries the key; no link on it may pass that address on.
    res.setHeader('referrer-policy', 'no-referrer');
    const url = new URL(req.url ?? '/', this.#origin || 'http://127.0.0.1');
    if (RestHandler.handles(url.pathname)) return this.#rest.handle(req, res, url);
    if (url.pathname.startsWith('/cdn/') || url.pathname.startsWith('/media/'))
      return this.#serveFile(url, res);
    if (url.pathname.startsWith('/sandbox/')) return this.#page.handle(req, res, url, guard.hasKey(req, url));
    res.setHeader('content-security-policy', guard.pageContentSecurityPolicy());
    const page = { authorized: guard.hasKey(req, url) };
    if (this.#options.onRequest && (await this.#options.onRequest(req, res, url, page))) return;
    if (this.#options.staticDir && (await serveStatic(this.#options.staticDir, req, res, url))) return;
    if (url.pathname === '/') {
      res.writeHead(200, { 'content-type': 'text/plain; charset=utf-8' });
      res.end(
        `Loopback Discord\nREST ${this.apiBase}/v10\nGateway ${this.gatewayUrl}\nState ${this.#origin}/sandbox/state\n` +
          `Events ${this.#origin}/sandbox/events\nThe page API needs the key of the printed page address.\n` +
          'No page is served here yet (staticDir / onRequest).\n',
      );
      return;
    }
    res
      .writeHead(404, { 'content-type': 'application/json' })
      .end(JSON.stringify({ message: '404: Not Found', code: 0 }));
  }

  #serveFile(url: URL, res: ServerResponse): void {
    const stored = this.core.files.byPath(url.pathname);
    if (!stored) {
      res.writeHead(404, { 'content-type': 'text/plain' }).end('Not Found');
      return;
    }
    // What the bytes are, not what the uploader said: only real images are shown; the rest downloads.
    const sniffed = sniffContentType(stored.data);
    const inline = sniffed !== undefined && INLINE_IMAGE_TYPES.has(sniffed);
    res.writeHead(200, {
      'content-type': inline ? sniffed : 'application/octet-stream',
      'content-disposition': inline ? 'inline' : `attachment; filename="${stored.filename}"`,
      'content-length': stored.size,
      'x-content-type-options': 'nosniff',
      // Opened on its own, nothing in a stored file may run.
      'content-security-policy': "default-src 'none'; sandbox",
      'cache-control': 'public, max-age=31536000, immutable',
    });
    res.end(Buffer.from(stored.data.buffer, stored.data.byteOffset, stored.data.byteLength));
  }
}

/** Starts the loopback Discord; `await d.close()` when done. */
export function startLoopbackDiscord(options: LoopbackDiscordOptions = {}): Promise<LoopbackDiscord> {
  return LoopbackDiscord.start(options);
}
