/**
 * Who may talk to the loopback server. It listens on 127.0.0.1, but a web page the user has open can
 * still reach it: through a DNS name that resolves to 127.0.0.1 (DNS rebinding, which makes the page
 * same-origin with whatever it loaded) or by sending requests across origins. So:
 *
 * - every request (page, page API, `/api`, `/cdn`, `/media`, the gateway upgrade) must name the server by
 *   a loopback Host: `localhost`, `127.0.0.1` or `[::1]` with the server's port;
 * - a request that carries an Origin (browsers send one on cross-origin and non-GET requests, and on
 *   every WebSocket handshake) must come from one of those same origins; discord.js in Node sends none;
 * - the page API (`/sandbox/*`, and what an `onRequest` hook treats as page API) also needs the random
 *   per-run key that is part of the printed page address, as `X-Sandbox-Key` or `?key=` on a GET.
 */
import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import type { IncomingHttpHeaders, IncomingMessage } from 'node:http';

/** The header the page sends its key in (EventSource cannot set headers, so GETs may use `?key=`). */
export const PAGE_KEY_HEADER = 'x-sandbox-key';
export const PAGE_KEY_PARAM = 'key';

/** 32 random bytes, URL-safe: long enough that guessing is out of the question. */
export function newPageKey(): string {
  return randomBytes(32).toString('base64url');
}

export interface Refusal {
  status: number;
  reason: string;
}

export class PageGuard {
  readonly #hosts: Set<string>;
  readonly #origins: Set<string>;
  readonly #keyDigest: Buffer;

  constructor(
    readonly port: number,
    readonly key: string,
  ) {
    this.#hosts = new Set(['localhost', '127.0.0.1', '[::1]'].map((name) => `${name}:${port}`));
    this.#origins = new Set([...this.#hosts].map((host) => `http://${host}`));
    this.#keyDigest = digest(key);
  }

  /** The origins the page may be loaded from (for the page's Content-Security-Policy). */
  get origins(): string[] {
    return [...this.#origins];
  }

  /** Why a request may not be answered at all (foreign Host or Origin), or null when it may. */
  refuse(headers: IncomingHttpHeaders): Refusal | null {
    const host = headers.host?.toLowerCase();
    if (host === undefined || !this.#hosts.has(host))
      return {
        status: 403,
        reason: 'This server answers only to localhost, 127.0.0.1 or [::1] on its port.',
      };
    const origin = headers.origin;
    if (origin !== undefined && !this.#origins.has(origin.toLowerCase()))
      return { status: 403, reason: 'Requests from other origins are refused.' };
    return null;
  }

  /** Whether a request carries the page key (compared in constant time). */
  hasKey(req: IncomingMessage, url: URL): boolean {
    const header = req.headers[PAGE_KEY_HEADER];
    const given =
      typeof header === 'string'
        ? header
        : req.method === 'GET' || req.method === 'HEAD'
          ? url.searchParams.get(PAGE_KEY_PARAM)
          : null;
    if (given === null) return false;
    // Equal-length digests, so neither the content nor the length of the key leaks through timing.
    return timingSafeEqual(digest(given), this.#keyDigest);
  }

  /** The policy for the page's own files: scripts, styles and connections from this origin only. */
  pageContentSecurityPolicy(): string {
    // CSP sources cannot name an IPv6 literal; a page opened as [::1] still has 'self'.
    const origins = this.origins.filter((origin) => !origin.includes('[')).join(' ');
    return [
      "default-src 'none'",
      "script-src 'self'",
      "style-src 'self'",
      // Attachment URLs name the server as 127.0.0.1 even when the page was opened as localhost.
      `img-src 'self' data: blob: ${origins}`,
      "connect-src 'self'",
      "font-src 'self'",
      "base-uri 'none'",
      "form-action 'none'",
      "frame-ancestors 'none'",
    ].join('; ');
  }
}

function digest(text: string): Buffer {
  return createHash('sha256').update(text, 'utf8').digest();
}
