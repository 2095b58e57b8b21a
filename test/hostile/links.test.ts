import { subscribe, unsubscribe } from 'node:diagnostics_channel';
import { once } from 'node:events';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import sharp from 'sharp';
import {
  configureImageFetching,
  DEFAULT_MAX_CONCURRENT_FETCHES,
  fetchImage,
} from '../../src/discord/fetch-image.js';
import { UserError } from '../../src/discord/user-error.js';
import type { Resolver } from '../../src/net/guarded-agent.js';

// Links as a hostile member would write them in a prompt. A loopback listener plays the bot's internal
// network (a metadata service, an admin port): it answers every request with a valid PNG, so a link that
// got through would come back as an image instead of an error. It counts TCP connections, not requests,
// so a connection that was opened and dropped still counts.

let png: Buffer;

interface Listener {
  port: number;
  connections: number;
  requests: number;
  peakRequests: number;
  servers: Server[];
  sockets: Set<Socket>;
}

/** An HTTP server on 127.0.0.1 and [::1] (same port), counting connections across both. */
async function listen(handler: (req: IncomingMessage, res: ServerResponse) => void): Promise<Listener> {
  const listener: Listener = {
    port: 0,
    connections: 0,
    requests: 0,
    peakRequests: 0,
    servers: [],
    sockets: new Set(),
  };
  let inFlight = 0;
  const make = () => {
    const server = createServer((req, res) => {
      listener.requests++;
      inFlight++;
      listener.peakRequests = Math.max(listener.peakRequests, inFlight);
      res.on('close', () => inFlight--);
      handler(req, res);
    });
    server.on('connection', (socket: Socket) => {
      listener.connections++;
      listener.sockets.add(socket);
      socket.on('close', () => listener.sockets.delete(socket));
    });
    listener.servers.push(server);
    return server;
  };
  const v4 = make();
  v4.listen(0, '127.0.0.1');
  await once(v4, 'listening');
  listener.port = (v4.address() as AddressInfo).port;
  const v6 = make();
  v6.listen(listener.port, '::1');
  await once(v6, 'listening');
  return listener;
}

async function close(listener: Listener) {
  for (const socket of listener.sockets) socket.destroy();
  await Promise.all(listener.servers.map((s) => new Promise((resolve) => s.close(resolve))));
}

const reset = (listener: Listener) => {
  listener.connections = 0;
  listener.requests = 0;
  listener.peakRequests = 0;
};

let internal: Listener;
/** A server the bot trusts (as it trusts the sandbox's CDN), which is where hostile redirects start. */
let trusted: Listener;
let trustedHost: string;
const servePng = (res: ServerResponse) => {
  res.writeHead(200, { 'content-type': 'image/png', 'content-length': png.length });
  res.end(png);
};

beforeAll(async () => {
  png = await sharp({ create: { width: 8, height: 8, channels: 3, background: '#654321' } })
    .png()
    .toBuffer();
  internal = await listen((_req, res) => servePng(res));
  trusted = await listen((req, res) => {
    const url = new URL(req.url ?? '/', 'http://x');
    const to = url.searchParams.get('to');
    const delay = Number(url.searchParams.get('delay') ?? '0');
    if (url.pathname === '/redirect' && to) {
      res.writeHead(302, { location: to });
      res.end();
    } else if (url.pathname === '/hops') {
      // A chain of redirects, each hop slow but quicker than the limit on its own.
      const left = Number(url.searchParams.get('left') ?? '0');
      setTimeout(() => {
        if (left === 0) servePng(res);
        else {
          res.writeHead(302, { location: `/hops?left=${left - 1}&delay=${delay}` });
          res.end();
        }
      }, delay).unref();
    } else if (url.pathname === '/slow-body') {
      // Headers and the first bytes at once, then the rest never comes.
      res.writeHead(200, { 'content-type': 'image/png', 'content-length': png.length });
      res.write(png.subarray(0, 16));
    } else if (url.pathname === '/cut') {
      res.writeHead(200, { 'content-type': 'image/png', 'content-length': png.length });
      res.write(png.subarray(0, 16), () => res.socket?.destroy());
    } else if (url.pathname === '/slow') {
      setTimeout(() => servePng(res), delay).unref();
    } else if (url.pathname === '/page.html') {
      res.writeHead(200, { 'content-type': 'text/html' });
      res.end('<script>alert(1)</script>');
    } else if (url.pathname === '/huge.png') {
      res.writeHead(200, { 'content-type': 'image/png', 'content-length': 64 * 1024 * 1024 });
      res.write(png);
    } else if (url.pathname === '/ok.png') {
      servePng(res);
    } else {
      res.writeHead(404);
      res.end();
    }
  });
  trustedHost = `127.0.0.1:${trusted.port}`;
});
afterAll(async () => {
  await close(internal);
  await close(trusted);
});
beforeEach(() => {
  reset(internal);
  reset(trusted);
});

const limits = (extra: Partial<{ timeoutMs: number; trustedHosts: string[] }> = {}) => ({
  maxBytes: 1024 * 1024,
  timeoutMs: 2000,
  trustedHosts: [trustedHost],
  ...extra,
});

async function refusal(url: string, options: Parameters<typeof fetchImage>[2] = {}, lim = limits()) {
  try {
    await fetchImage(url, lim, options);
  } catch (error) {
    if (!(error instanceof UserError)) throw error;
    return error.message;
  }
  throw new Error(`${url} was fetched`);
}

const REFUSED = 'Image links to private network addresses are not fetched';

describe('every way of writing the internal address is refused before any connection', () => {
  const forms = (port: number) => [
    `http://127.0.0.1:${port}/x.png`,
    `http://[::ffff:127.0.0.1]:${port}/x.png`,
    `http://[::ffff:7f00:1]:${port}/x.png`,
    `http://[0:0:0:0:0:ffff:7f00:1]:${port}/x.png`,
    `http://[::127.0.0.1]:${port}/x.png`,
    `http://[::1]:${port}/x.png`,
    `http://[0:0:0:0:0:0:0:1]:${port}/x.png`,
    `http://[::]:${port}/x.png`,
    `http://0.0.0.0:${port}/x.png`,
    `http://0:${port}/x.png`,
    `http://2130706433:${port}/x.png`,
    `http://0x7f000001:${port}/x.png`,
    `http://0x7f.0.0.1:${port}/x.png`,
    `http://0177.0.0.1:${port}/x.png`,
    `http://017700000001:${port}/x.png`,
    `http://127.1:${port}/x.png`,
    `http://127.0.1:${port}/x.png`,
    `http://127.0.0.1.:${port}/x.png`,
    `http://%31%32%37.0.0.1:${port}/x.png`,
    `http://user:password@127.0.0.1:${port}/x.png`,
    `http://localhost:${port}/x.png`,
    `http://LOCALHOST:${port}/x.png`,
    `https://127.0.0.1:${port}/x.png`,
    `https://localhost:${port}/x.png`,
  ];

  test('the forms the issue reproduced', async () => {
    const mapped = `http://[::ffff:127.0.0.1]:${internal.port}/x.png`;
    expect(await refusal(mapped)).toBe(`${REFUSED}: ${mapped}`);
    expect(await refusal('http://[::ffff:169.254.169.254]/latest/meta-data/')).toContain(REFUSED);
    expect(internal.connections).toBe(0);
  });

  test('each form, as a link', async () => {
    for (const url of forms(internal.port)) {
      expect([url, await refusal(url)]).toEqual([url, `${REFUSED}: ${url}`]);
    }
    expect(internal.connections).toBe(0);
  });

  test('each form, as a redirect from a trusted server', async () => {
    for (const to of forms(internal.port)) {
      const url = `http://${trustedHost}/redirect?to=${encodeURIComponent(to)}`;
      expect([to, await refusal(url)]).toEqual([to, `${REFUSED}: ${url}`]);
    }
    expect(trusted.requests).toBe(forms(0).length);
    expect(internal.connections).toBe(0);
  });

  test('the message is the same whatever is listening, so a refusal scans nothing', async () => {
    const closedPort = await freePort();
    const open = await refusal(`http://127.0.0.1:${internal.port}/`);
    const closed = await refusal(`http://127.0.0.1:${closedPort}/`);
    expect(open.replace(String(internal.port), 'P')).toBe(closed.replace(String(closedPort), 'P'));
    expect(internal.connections).toBe(0);
  });
});

describe('names are judged by what they resolve to, at connect time', () => {
  test('a name resolving to loopback is refused, and asked about once', async () => {
    const asked: string[] = [];
    const resolve: Resolver = async (hostname) => {
      asked.push(hostname);
      return [{ address: '127.0.0.1', family: 4 }];
    };
    const url = `http://images.example:${internal.port}/cat.png`;
    expect(await refusal(url, { resolve })).toBe(`${REFUSED}: ${url}`);
    expect(asked).toEqual(['images.example']);
    expect(internal.connections).toBe(0);
  });

  test.each([
    ['::1', 6],
    ['::ffff:127.0.0.1', 6],
    ['169.254.169.254', 4],
    ['10.0.0.1', 4],
    ['fd00::1', 6],
  ])('a name resolving to %s is refused', async (address, family) => {
    const resolve: Resolver = async () => [{ address, family }];
    expect(await refusal(`http://rebind.example:${internal.port}/`, { resolve })).toContain(REFUSED);
    expect(internal.connections).toBe(0);
  });

  test('a name with a public and a loopback address is refused as a whole', async () => {
    const resolve: Resolver = async () => [
      { address: '93.184.216.34', family: 4 },
      { address: '127.0.0.1', family: 4 },
    ];
    expect(await refusal(`http://both.example:${internal.port}/`, { resolve })).toContain(REFUSED);
    expect(internal.connections).toBe(0);
  });

  test('a redirect to a name that resolves to loopback is refused', async () => {
    const resolve: Resolver = async (hostname) => {
      if (hostname === 'internal.example') return [{ address: '127.0.0.1', family: 4 }];
      throw Object.assign(new Error(`getaddrinfo ENOTFOUND ${hostname}`), { code: 'ENOTFOUND' });
    };
    const to = `http://internal.example:${internal.port}/x.png`;
    const url = `http://${trustedHost}/redirect?to=${encodeURIComponent(to)}`;
    expect(await refusal(url, { resolve })).toBe(`${REFUSED}: ${url}`);
    expect(internal.connections).toBe(0);
  });

  test('a name that does not resolve is named as such', async () => {
    const resolve: Resolver = async (hostname) => {
      throw Object.assign(new Error(`getaddrinfo ENOTFOUND ${hostname}`), { code: 'ENOTFOUND' });
    };
    expect(await refusal('http://nowhere.example/x.png', { resolve })).toBe(
      'Could not find the host of http://nowhere.example/x.png.',
    );
  });
});

describe('trust is for exactly one host and port', () => {
  test('the trusted host:port is fetched', async () => {
    expect(await fetchImage(`http://${trustedHost}/ok.png`, limits())).toEqual(png);
    expect(trusted.connections).toBe(1);
  });

  test('trusting one port does not trust another port on the same address', async () => {
    const lim = limits({ trustedHosts: [`127.0.0.1:${trusted.port}`] });
    const url = `http://127.0.0.1:${internal.port}/x.png`;
    expect(await refusal(url, {}, lim)).toBe(`${REFUSED}: ${url}`);
    expect(await refusal(`http://127.0.0.1/x.png`, {}, lim)).toContain(REFUSED);
    const redirect = `http://${trustedHost}/redirect?to=${encodeURIComponent(url)}`;
    expect(await refusal(redirect, {}, lim)).toContain(REFUSED);
    expect(internal.connections).toBe(0);
  });

  test('trusting an address does not trust its other names or spellings', async () => {
    const lim = limits({ trustedHosts: [`127.0.0.1:${internal.port}`] });
    for (const url of [
      `http://localhost:${internal.port}/x.png`,
      `http://[::1]:${internal.port}/x.png`,
      `http://[::ffff:127.0.0.1]:${internal.port}/x.png`,
      `https://127.0.0.1/x.png`,
    ]) {
      expect(await refusal(url, {}, lim)).toContain(REFUSED);
    }
    expect(internal.connections).toBe(0);
    expect(await fetchImage(`http://127.0.0.1:${internal.port}/x.png`, lim)).toEqual(png);
    expect(internal.connections).toBe(1);
  });

  test('a trusted name must match exactly', async () => {
    const lim = limits({ trustedHosts: [`localhost:${trusted.port}`] });
    expect(await refusal(`http://localhost:${internal.port}/x.png`, {}, lim)).toContain(REFUSED);
    expect(await fetchImage(`http://localhost:${trusted.port}/ok.png`, lim)).toEqual(png);
    expect(internal.connections).toBe(0);
  });
});

describe('a slow or failing link is the link’s fault', () => {
  test('a body that stalls past the limit', async () => {
    const url = `http://${trustedHost}/slow-body`;
    const started = Date.now();
    const message = await refusal(url, {}, limits({ timeoutMs: 300 }));
    expect(message).toBe(`The image at ${url} took longer than 0.3 s.`);
    expect(Date.now() - started).toBeLessThan(2000);
  });

  test('headers that never come', async () => {
    const url = `http://${trustedHost}/slow?delay=1500`;
    expect(await refusal(url, {}, limits({ timeoutMs: 300 }))).toBe(
      `The image at ${url} took longer than 0.3 s.`,
    );
  });

  test('one limit covers every redirect hop together', async () => {
    // Three hops of 150 ms each: each is within 400 ms, all together are not.
    const url = `http://${trustedHost}/hops?left=3&delay=150`;
    expect(await refusal(url, {}, limits({ timeoutMs: 400 }))).toBe(
      `The image at ${url} took longer than 0.4 s.`,
    );
    expect(await fetchImage(url, limits({ timeoutMs: 2000 }))).toEqual(png);
  });

  test('a slow name lookup counts against the same limit', async () => {
    const resolve: Resolver = () => new Promise(() => {});
    const url = 'http://slow-dns.example/x.png';
    expect(await refusal(url, { resolve }, limits({ timeoutMs: 300 }))).toBe(
      `The image at ${url} took longer than 0.3 s.`,
    );
  });

  test('a connection cut mid-body', async () => {
    const url = `http://${trustedHost}/cut`;
    expect(await refusal(url)).toBe(`The image at ${url} stopped sending before the image was complete.`);
  });

  test('nothing listening', async () => {
    const port = await freePort();
    const url = `http://127.0.0.1:${port}/x.png`;
    expect(await refusal(url, {}, limits({ trustedHosts: [`127.0.0.1:${port}`] }))).toBe(
      `The image at ${url} could not be reached.`,
    );
  });

  test('an HTTP error', async () => {
    const url = `http://${trustedHost}/missing.png`;
    expect(await refusal(url)).toBe(`The image at ${url} answered HTTP 404.`);
  });

  test('a redirect loop', async () => {
    const url = `http://${trustedHost}/redirect?to=${encodeURIComponent(`http://${trustedHost}/redirect?to=/ok`)}`;
    const loop = `http://${trustedHost}/hops?left=10`;
    expect(await refusal(loop)).toBe(`The image at ${loop} redirects too many times.`);
    expect(await refusal(url)).toContain('answered HTTP 404');
  });

  test('a page that is not an image', async () => {
    const url = `http://${trustedHost}/page.html`;
    expect(await refusal(url)).toBe(`${url} was refused: the file is not an image sharp can read.`);
  });

  test('a declared length over the limit is refused before the body is read', async () => {
    const url = `http://${trustedHost}/huge.png`;
    expect(await refusal(url)).toBe(`${url} is 64.0 MiB; images may be at most 1 MiB.`);
  });

  test('a redirect to another scheme', async () => {
    const url = `http://${trustedHost}/redirect?to=${encodeURIComponent('file:///etc/passwd')}`;
    expect(await refusal(url)).toBe(`Image links must be http or https: ${url}`);
  });

  test('not a link at all', async () => {
    expect(await refusal('not a url')).toBe('not a url is not a valid link.');
    expect(await refusal('ftp://example.com/x.png')).toBe(
      'Image links must be http or https: ftp://example.com/x.png',
    );
  });
});

describe('a bot process fetches a bounded number of links at once', () => {
  afterEach(() => configureImageFetching({ maxConcurrent: DEFAULT_MAX_CONCURRENT_FETCHES }));

  test.each([DEFAULT_MAX_CONCURRENT_FETCHES, 2])('10 links at once, %i at a time', async (limit) => {
    configureImageFetching({ maxConcurrent: limit });
    // Every TCP socket this process opens, counted on the bot's side until it is closed.
    let open = 0;
    let peakOpen = 0;
    let opened = 0;
    const onSocket = (message: unknown) => {
      const { socket } = message as { socket: Socket };
      opened++;
      peakOpen = Math.max(peakOpen, ++open);
      socket.once('close', () => open--);
    };
    subscribe('net.client.socket', onSocket);
    const url = `http://${trustedHost}/slow?delay=150`;
    const started = Date.now();
    try {
      const results = await Promise.all(Array.from({ length: 10 }, () => fetchImage(url, limits())));
      for (const bytes of results) expect(bytes).toEqual(png);
    } finally {
      unsubscribe('net.client.socket', onSocket);
    }
    expect(opened).toBe(10);
    expect(peakOpen).toBe(limit);
    expect(open).toBe(0);
    expect(trusted.requests).toBe(10);
    expect(trusted.connections).toBe(10);
    expect(trusted.peakRequests).toBe(limit);
    // ceil(10 / limit) rounds of 150 ms at least: the others really waited.
    expect(Date.now() - started).toBeGreaterThanOrEqual(Math.ceil(10 / limit) * 150 - 20);
  });

  test('waiting for a turn does not count against a link’s time limit', async () => {
    configureImageFetching({ maxConcurrent: 1 });
    const url = `http://${trustedHost}/slow?delay=200`;
    const results = await Promise.all(
      Array.from({ length: 3 }, () => fetchImage(url, limits({ timeoutMs: 500 }))),
    );
    expect(results).toHaveLength(3);
    expect(trusted.peakRequests).toBe(1);
  });

  test('a refused link gives its turn back', async () => {
    configureImageFetching({ maxConcurrent: 1 });
    for (let i = 0; i < 5; i++)
      expect(await refusal(`http://127.0.0.1:${internal.port}/`)).toContain(REFUSED);
    expect(await fetchImage(`http://${trustedHost}/ok.png`, limits())).toEqual(png);
  });

  test('the limit must be a positive integer', () => {
    expect(() => configureImageFetching({ maxConcurrent: 0 })).toThrow(RangeError);
    expect(() => configureImageFetching({ maxConcurrent: 1.5 })).toThrow(RangeError);
  });
});

async function freePort(): Promise<number> {
  const server = createServer();
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const { port } = server.address() as AddressInfo;
  await new Promise((resolve) => server.close(resolve));
  return port;
}
