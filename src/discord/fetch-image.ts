import { lookup } from 'node:dns/promises';
import { isIP } from 'node:net';
import { decodeImage } from '../images/decode.js';
import { ImageInputError } from '../images/errors.js';
import { UserError } from './user-error.js';

export interface FetchLimits {
  maxBytes: number;
  timeoutMs: number;
  /** Hosts allowed even though they resolve to private addresses (the sandbox's own CDN). */
  trustedHosts: readonly string[];
}

function isPrivateAddress(address: string): boolean {
  if (isIP(address) === 6) {
    const a = address.toLowerCase();
    if (a.startsWith('::ffff:')) return isPrivateAddress(a.slice(7));
    return a === '::1' || a === '::' || a.startsWith('fc') || a.startsWith('fd') || a.startsWith('fe80');
  }
  const [a = 0, b = 0] = address.split('.').map(Number);
  return (
    a === 10 ||
    a === 127 ||
    a === 0 ||
    (a === 169 && b === 254) ||
    (a === 172 && b >= 16 && b <= 31) ||
    (a === 192 && b === 168) ||
    (a === 100 && b >= 64 && b <= 127)
  );
}

/**
 * Downloads an image a user pointed at (a prompt link or an attachment), within a byte and a time limit,
 * and proves it decodes as an image of acceptable size before anything is queued. Links to private
 * addresses are refused so a prompt cannot make the bot probe its own network.
 */
export async function fetchImage(url: string, limits: FetchLimits): Promise<Buffer> {
  // Redirects are followed by hand so that every hop passes the private-address check.
  let current = url;
  let response: Response | null = null;
  for (let hop = 0; hop <= MAX_REDIRECTS; hop++) {
    await refusePrivate(current, limits);
    try {
      response = await fetch(current, { signal: AbortSignal.timeout(limits.timeoutMs), redirect: 'manual' });
    } catch (error) {
      const reason =
        (error as Error).name === 'TimeoutError'
          ? `took longer than ${limits.timeoutMs / 1000} s`
          : 'could not be fetched';
      throw new UserError(`The image at ${url} ${reason}.`);
    }
    const location = response.headers.get('location');
    if (response.status < 300 || response.status >= 400 || !location) break;
    current = new URL(location, current).toString();
    response = null;
  }
  if (!response) throw new UserError(`The image at ${url} redirects too many times.`);
  if (!response.ok || !response.body) {
    throw new UserError(`The image at ${url} could not be fetched (HTTP ${response.status}).`);
  }
  const declared = Number(response.headers.get('content-length') ?? '0');
  if (declared > limits.maxBytes) throw new UserError(tooLarge(url, declared, limits.maxBytes));

  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of response.body) {
    size += chunk.length;
    if (size > limits.maxBytes) throw new UserError(tooLarge(url, size, limits.maxBytes));
    chunks.push(Buffer.from(chunk));
  }
  const bytes = Buffer.concat(chunks);
  await checkImage(bytes, url, limits.maxBytes);
  return bytes;
}

const MAX_REDIRECTS = 3;

async function refusePrivate(url: string, limits: FetchLimits): Promise<void> {
  const parsed = new URL(url);
  if (parsed.protocol !== 'http:' && parsed.protocol !== 'https:') {
    throw new UserError(`Image links must be http or https: ${url}`);
  }
  if (limits.trustedHosts.includes(parsed.host)) return;
  const host = parsed.hostname.replace(/^\[(.*)\]$/, '$1');
  const addresses = isIP(host) ? [{ address: host }] : await lookup(host, { all: true }).catch(() => []);
  if (addresses.length === 0) throw new UserError(`Could not find the host of ${url}.`);
  if (addresses.some(({ address }) => isPrivateAddress(address))) {
    throw new UserError(`Image links to private network addresses are not fetched: ${url}`);
  }
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
