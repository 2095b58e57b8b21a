import type { LookupAddress, LookupOptions } from 'node:dns';
import { lookup as dnsLookup } from 'node:dns/promises';
import type { LookupFunction } from 'node:net';
import { Agent, buildConnector } from 'undici';
import { classifyAddress, isIpLiteral, RefusedAddressError } from './address-policy.js';

/** Resolves a host name to every address it has (the system resolver unless a test supplies one). */
export type Resolver = (hostname: string) => Promise<readonly LookupAddress[]>;

export const systemResolver: Resolver = (hostname) => dnsLookup(hostname, { all: true });

const DEFAULT_PORTS: Record<string, number> = { 'http:': 80, 'https:': 443 };

/**
 * Hosts trusted although they are on a refused address (the sandbox's own CDN on loopback), each trusted
 * for exactly its host and port: `127.0.0.1:3000` trusts neither `127.0.0.1:3001` nor `localhost:3000`.
 * An entry without a port means the default port of the link's scheme (as `URL.host` writes it).
 */
export class TrustedHosts {
  private readonly entries: { hostname: string; port: number | undefined }[] = [];

  constructor(hosts: readonly string[]) {
    for (const host of hosts) {
      const match = /^(\[[^\]]*\]|[^:[\]]+)(?::(\d{1,5}))?$/.exec(host.trim());
      if (!match?.[1]) continue;
      let hostname: string;
      try {
        hostname = new URL(`http://${match[1]}/`).hostname;
      } catch {
        continue;
      }
      this.entries.push({ hostname, port: match[2] === undefined ? undefined : Number(match[2]) });
    }
  }

  /** Whether a connection to this URL's host and port is trusted. */
  has(url: URL): boolean {
    const defaultPort = DEFAULT_PORTS[url.protocol];
    if (defaultPort === undefined) return false;
    const port = url.port === '' ? defaultPort : Number(url.port);
    return this.entries.some((e) => e.hostname === url.hostname && (e.port ?? defaultPort) === port);
  }
}

/**
 * A lookup for the socket itself, through `resolve`. With `guard`, every address the name resolves to must
 * pass the policy or the connection is refused before it is made. Since the socket connects only to the
 * addresses this lookup returned, a name that answers one address to a check and another to the connect
 * (DNS rebinding) has nothing to rebind: there is no separate check.
 */
function socketLookup(resolve: Resolver, guard: boolean): LookupFunction {
  return (hostname: string, options: LookupOptions, callback) => {
    resolve(hostname).then(
      (all) => {
        const family = options.family === 'IPv4' ? 4 : options.family === 'IPv6' ? 6 : (options.family ?? 0);
        const addresses = all.filter((a) => family === 0 || a.family === family);
        const first = addresses[0];
        if (!first) {
          const error: NodeJS.ErrnoException = new Error(`getaddrinfo ENOTFOUND ${hostname}`);
          error.code = 'ENOTFOUND';
          callback(error, []);
          return;
        }
        if (guard) {
          for (const { address } of addresses) {
            const verdict = classifyAddress(address);
            if (!verdict.allowed) {
              callback(new RefusedAddressError(hostname, verdict), []);
              return;
            }
          }
        }
        if (options.all) callback(null, [...addresses]);
        else callback(null, first.address, first.family);
      },
      (error: NodeJS.ErrnoException) => callback(error, []),
    );
  };
}

export interface GuardedAgentOptions {
  trusted: TrustedHosts;
  resolve?: Resolver;
}

/**
 * An undici Agent whose every connection passes the address policy at connect time: an IP literal is
 * judged before the socket is opened, a name through the socket's own lookup, and the address the socket
 * ended up connected to once more. Trusted hosts (exact host and port) connect as usual.
 */
export function createGuardedAgent({ trusted, resolve = systemResolver }: GuardedAgentOptions): Agent {
  const plain = buildConnector(resolve === systemResolver ? {} : { lookup: socketLookup(resolve, false) });
  const guarded = buildConnector({ lookup: socketLookup(resolve, true) });
  const connect: buildConnector.connector = (options, callback) => {
    let url: URL;
    try {
      url = new URL(`${options.protocol}//${options.host ?? options.hostname}`);
    } catch (error) {
      callback(error as Error, null);
      return;
    }
    if (trusted.has(url)) {
      plain(options, callback);
      return;
    }
    if (isIpLiteral(options.hostname)) {
      const verdict = classifyAddress(options.hostname);
      if (!verdict.allowed) {
        callback(new RefusedAddressError(options.hostname, verdict), null);
        return;
      }
    }
    guarded(options, (error, socket) => {
      if (error || !socket) {
        callback(error ?? new Error('no socket'), null);
        return;
      }
      const verdict = classifyAddress(socket.remoteAddress ?? '');
      if (!verdict.allowed) {
        socket.destroy();
        callback(new RefusedAddressError(options.hostname, verdict), null);
        return;
      }
      callback(null, socket);
    });
  };
  return new Agent({ connect });
}
