import type { Agent } from 'undici';
import { fetch } from 'undici';
import { decodeImage } from '../images/decode.js';
import { ImageInputError } from '../images/errors.js';
import { isAllowedAddress, isIpLiteral, RefusedAddressError } from '../net/address-policy.js';
import { createGuardedAgent, type Resolver, TrustedHosts } from '../net/guarded-agent.js';
import { UserError } from './user-error.js';

export type { Resolver } from '../net/guarded-agent.js';

export interface FetchLimits {
  maxBytes: number;
  /** One limit for the whole fetch of a link: DNS, connecting, every redirect and the whole body. */
  timeoutMs: number;
  /** Hosts allowed although they are on private addresses (the sandbox's own CDN), each for its exact host:port. */
  trustedHosts: readonly string[];
}

export interface FetchOptions {
  /** Resolves host names at connect time (tests supply one; the system resolver otherwise). */
  resolve?: Resolver;
}

const MAX_REDIRECTS = 3;
const REDIRECTS = new Set([301, 302, 303, 307, 308]);
export const DEFAULT_MAX_CONCURRENT_FETCHES = 4;

/** A counting semaphore: at most `limit` holders at once, the rest wait in turn. */
class Slots {
  private active = 0;
  private readonly waiting: (() => void)[] = [];
  constructor(private limit: number) {}

  setLimit(limit: number): void {
    this.limit = limit;
    this.drain();
  }

  async acquire(): Promise<() => void> {
    if (this.active < this.limit) this.active++;
    // A released slot is handed straight to the first waiter (drain counts it), so none can jump the queue.
    else await new Promise<void>((resolve) => this.waiting.push(resolve));
    let released = false;
    return () => {
      if (released) return;
      released = true;
      this.active--;
      this.drain();
    };
  }

  private drain(): void {
    while (this.active < this.limit && this.waiting.length > 0) {
      this.active++;
      this.waiting.shift()!();
    }
  }
}

const slots = new Slots(DEFAULT_MAX_CONCURRENT_FETCHES);

/**
 * How many links this process fetches at once (default 4), so that a flood of prompts cannot open
 * hundreds of sockets; the others wait their turn, and their time limit starts when their turn comes.
 */
export function configureImageFetching(options: { maxConcurrent?: number }): void {
  if (options.maxConcurrent !== undefined) {
    if (!Number.isInteger(options.maxConcurrent) || options.maxConcurrent < 1) {
      throw new RangeError(`maxConcurrent must be a positive integer, not ${options.maxConcurrent}`);
    }
    slots.setLimit(options.maxConcurrent);
  }
}

/**
 * Downloads an image a user pointed at (a prompt link or an attachment), within a byte and a time limit,
 * and proves it decodes as an image of acceptable size before anything is queued.
 *
 * Links are refused when they lead to a special-purpose address (loopback, private, link-local, ... see
 * src/net/address-policy.ts), however the address is written and whatever a name resolves to: the check
 * runs at connect time on the address the socket connects to, on every redirect hop, so nothing on such an
 * address ever sees a connection. Every failure is the link's: a UserError naming the link.
 */
export async function fetchImage(
  url: string,
  limits: FetchLimits,
  options: FetchOptions = {},
): Promise<Buffer> {
  const first = parseLink(url, url);
  const release = await slots.acquire();
  const signal = AbortSignal.timeout(limits.timeoutMs);
  const trusted = new TrustedHosts(limits.trustedHosts);
  const agent = createGuardedAgent({
    trusted,
    ...(options.resolve ? { resolve: options.resolve } : {}),
  });
  try {
    const bytes = await download(url, first, { limits, trusted, agent, signal });
    await checkImage(bytes, url, limits.maxBytes);
    return bytes;
  } finally {
    // Every socket of this fetch is closed before its slot goes to the next one.
    await agent.destroy().catch(() => {});
    release();
  }
}

interface Hop {
  limits: FetchLimits;
  trusted: TrustedHosts;
  agent: Agent;
  signal: AbortSignal;
}

async function download(url: string, first: URL, { limits, trusted, agent, signal }: Hop): Promise<Buffer> {
  let current = first;
  for (let hop = 0; hop <= MAX_REDIRECTS; hop++) {
    // An address written in the link is judged before anything else (the agent judges it again, and every
    // resolved name, when it connects).
    if (!trusted.has(current) && isIpLiteral(current.hostname) && !isAllowedAddress(current.hostname)) {
      throw new UserError(refusedMessage(url));
    }
    let response: Awaited<ReturnType<typeof fetch>>;
    try {
      response = await fetch(current, {
        dispatcher: agent,
        signal,
        redirect: 'manual',
        headers: { accept: 'image/*' },
      });
    } catch (error) {
      throw linkFailure(url, error, signal, limits);
    }
    if (REDIRECTS.has(response.status)) {
      const location = response.headers.get('location');
      await response.body?.cancel().catch(() => {});
      if (!location)
        throw new UserError(`The image at ${url} answered HTTP ${response.status} without a location.`);
      current = parseLink(new URL(location, current).toString(), url);
      continue;
    }
    if (!response.ok || !response.body) {
      await response.body?.cancel().catch(() => {});
      throw new UserError(`The image at ${url} answered HTTP ${response.status}.`);
    }
    const declared = Number(response.headers.get('content-length') ?? '0');
    if (declared > limits.maxBytes) {
      await response.body.cancel().catch(() => {});
      throw new UserError(tooLarge(url, declared, limits.maxBytes));
    }
    const chunks: Buffer[] = [];
    let size = 0;
    try {
      for await (const chunk of response.body) {
        size += chunk.length;
        if (size > limits.maxBytes) throw new UserError(tooLarge(url, size, limits.maxBytes));
        chunks.push(Buffer.from(chunk));
      }
    } catch (error) {
      if (error instanceof UserError) {
        await response.body.cancel().catch(() => {});
        throw error;
      }
      if (signal.aborted) throw new UserError(tookTooLong(url, limits));
      throw new UserError(`The image at ${url} stopped sending before the image was complete.`);
    }
    return Buffer.concat(chunks);
  }
  throw new UserError(`The image at ${url} redirects too many times.`);
}

/** Parses a link (or a redirect's target), refusing anything but http and https. */
function parseLink(link: string, original: string): URL {
  let parsed: URL;
  try {
    parsed = new URL(link);
  } catch {
    throw new UserError(`${original} is not a valid link.`);
  }
  if (parsed.protocol !== 'http:' && parsed.protocol !== 'https:') {
    throw new UserError(`Image links must be http or https: ${original}`);
  }
  return parsed;
}

/** Why a request failed, as the link's fault; a refused address says no more than that it was refused. */
function linkFailure(url: string, error: unknown, signal: AbortSignal, limits: FetchLimits): UserError {
  const causes: unknown[] = [];
  for (let e: unknown = error; e instanceof Error && causes.length < 8; e = e.cause) causes.push(e);
  if (causes.some((e) => e instanceof RefusedAddressError)) {
    return new UserError(refusedMessage(url));
  }
  if (signal.aborted) return new UserError(tookTooLong(url, limits));
  const codes = causes.map((e) => (e as NodeJS.ErrnoException).code);
  if (codes.some((c) => c === 'ENOTFOUND' || c === 'EAI_AGAIN' || c === 'EAI_NONAME' || c === 'ENODATA')) {
    return new UserError(`Could not find the host of ${url}.`);
  }
  return new UserError(`The image at ${url} could not be reached.`);
}

function refusedMessage(url: string): string {
  return `Image links to private network addresses are not fetched: ${url}`;
}

function tookTooLong(url: string, limits: FetchLimits): string {
  return `The image at ${url} took longer than ${limits.timeoutMs / 1000} s.`;
}

/** Proves the bytes are an image within the limits (a decompression bomb fails here, unrendered). */
export async function checkImage(bytes: Buffer, name: string, maxBytes: number): Promise<void> {
  try {
    await decodeImage(bytes, { maxBytes, maxPixels: 4096 * 4096, maxSide: 8192 });
  } catch (error) {
    if (error instanceof ImageInputError) throw new UserError(`${name} was refused: ${error.message}.`);
    throw error;
  }
}

function tooLarge(name: string, bytes: number, limit: number): string {
  return `${name} is ${(bytes / 1024 / 1024).toFixed(1)} MiB; images may be at most ${(limit / 1024 / 1024).toFixed(0)} MiB.`;
}
