/**
 * The REST front door under `/api/v{n}`: size limit, routing, bot-token check, rate limits, and
 * Discord-style error bodies. Every request is logged (and published as an event) so tests can count
 * hits per route; unknown routes are logged loudly, because they mean the bot calls something the
 * sandbox does not model yet.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { performance } from 'node:perf_hooks';
import { DiscordApiError, ErrorCode } from './api-error.js';
import type { SandboxCore } from './core.js';
import { type ParsedBody, parseBody } from './request-body.js';
import type { Router } from './router.js';

export interface RequestRecord {
  method: string;
  /** Path below `/api/v10`, decoded. */
  path: string;
  /** `METHOD /template`, or `METHOD <unknown>`. */
  route: string;
  status: number;
  /** Discord error code of a refused request. */
  code: number | null;
  at: number;
  durationMs: number;
}

const API_PREFIX = /^\/api(?:\/v\d+)?(?=\/)/;

export class RestHandler {
  readonly requests: RequestRecord[] = [];

  constructor(
    private readonly core: SandboxCore,
    private readonly router: Router,
    private readonly log: (line: string) => void,
  ) {}

  static handles(pathname: string): boolean {
    return API_PREFIX.test(pathname);
  }

  async handle(req: IncomingMessage, res: ServerResponse, url: URL): Promise<void> {
    const started = performance.now();
    const method = (req.method ?? 'GET').toUpperCase();
    const rawPath = url.pathname.replace(API_PREFIX, '');
    const path = safeDecode(rawPath);
    let route = `${method} <unknown>`;
    let headers: Record<string, string> = {};
    let status = 500;
    let body: unknown;
    try {
      const raw = await readLimited(req, this.core.limits.requestBytes);
      const found = this.router.match(method, rawPath);
      if (!('definition' in found)) {
        if (found.methodNotAllowed)
          throw new DiscordApiError(405, ErrorCode.General, '405: Method Not Allowed');
        this.log(
          `sandbox discord: UNKNOWN ROUTE ${method} ${path} (answered 404; the sandbox does not model it)`,
        );
        throw DiscordApiError.notFound();
      }
      route = found.route;
      const { definition, params } = found;
      if (
        definition.auth === 'bot' &&
        req.headers.authorization !== `Bot ${this.core.world.application.token}`
      ) {
        throw DiscordApiError.unauthorized();
      }
      const bucketKey = [route, ...definition.major.map((name) => params[name] ?? '')].join(':');
      const decision = this.core.rateLimiter.check(
        method,
        path,
        route,
        bucketKey,
        definition.auth === 'none',
      );
      headers = decision.headers;
      if (decision.limited) {
        status = 429;
        body = {
          message: 'You are being rate limited.',
          retry_after: decision.limited.retryAfterMs / 1000,
          global: decision.limited.global,
          ...(decision.limited.global ? {} : { code: 0 }),
        };
      } else {
        let parsed: Promise<ParsedBody> | undefined;
        const result = await definition.handle({
          method,
          path,
          params,
          query: url.searchParams,
          headers: req.headers,
          body: () => {
            parsed ??= parseBody(raw, req.headers['content-type']);
            return parsed;
          },
        });
        status = result.status;
        body = result.body;
      }
    } catch (error) {
      if (error instanceof DiscordApiError) {
        status = error.status;
        body = error.body();
      } else {
        this.log(
          `sandbox discord: handler error on ${method} ${path}: ${error instanceof Error ? error.stack : String(error)}`,
        );
        status = 500;
        body = { message: '500: Internal Server Error', code: 0 };
      }
    }
    this.#send(res, status, headers, body);
    this.#record(method, path, route, status, body, started);
  }

  #send(res: ServerResponse, status: number, headers: Record<string, string>, body: unknown): void {
    if (res.headersSent) return;
    const text = body === undefined || status === 204 ? '' : JSON.stringify(body);
    res.writeHead(status, {
      ...headers,
      ...(text ? { 'content-type': 'application/json' } : {}),
      'content-length': Buffer.byteLength(text),
    });
    res.end(text);
  }

  #record(method: string, path: string, route: string, status: number, body: unknown, started: number): void {
    const durationMs = performance.now() - started;
    const errorBody =
      status >= 400 && typeof body === 'object' && body !== null ? (body as Record<string, unknown>) : null;
    const code = errorBody && typeof errorBody['code'] === 'number' ? errorBody['code'] : null;
    this.requests.push({ method, path, route, status, code, at: this.core.clock.now(), durationMs });
    this.core.events.push({ type: 'api.request', method, path, route, status, durationMs });
    if (errorBody) {
      this.core.events.push({
        type: 'api.error',
        method,
        path,
        route,
        status,
        code: code ?? 0,
        message: describeError(errorBody),
      });
    }
  }
}

/** The error message plus the first nested field error, which is what a test author needs to see. */
function describeError(body: Record<string, unknown>): string {
  const message = String(body['message'] ?? '');
  const errors = body['errors'];
  return errors === undefined ? message : `${message}: ${JSON.stringify(errors)}`;
}

function safeDecode(path: string): string {
  try {
    return decodeURIComponent(path);
  } catch {
    return path;
  }
}

/**
 * Reads the body, refusing (413, as Discord does) anything beyond the per-request limit. An oversized
 * body is drained rather than cut off, so the client still receives the 413 answer.
 */
function readLimited(req: IncomingMessage, limit: number): Promise<Buffer> {
  const tooLarge = () =>
    new DiscordApiError(413, ErrorCode.RequestEntityTooLarge, 'Request entity too large');
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let total = 0;
    req.on('data', (chunk: Buffer) => {
      total += chunk.byteLength;
      if (total <= limit) chunks.push(chunk);
    });
    req.on('end', () => (total > limit ? reject(tooLarge()) : resolve(Buffer.concat(chunks))));
    req.on('error', reject);
  });
}
