/**
 * The sandbox server as a hostile web page would try it: the server runs for real on 127.0.0.1, a
 * discord.js client plays the bot (a /policy only moderators may change, answered with ephemeral
 * messages), and the requests are what a page could make a browser send: a DNS-rebinding Host, a
 * cross-origin request, no key or a wrong one, an HTML file to upload, a non-image fetched from /cdn.
 * Every refusal is checked together with what must not have happened: the policy unchanged, no
 * interaction or message created, no file stored, the ephemeral text nowhere in the answer.
 */
import { request } from 'node:http';
import { Client, GatewayIntentBits, MessageFlags, PermissionFlagsBits } from 'discord.js';
import WebSocket from 'ws';
import { type LoopbackDiscord, startLoopbackDiscord } from '../../src/sandbox/discord/index.js';
import { solidPng } from '../sandbox/png.js';

const SECRET = 'ephemeral-rules-7f3a';
const HTML = '<!doctype html><script>fetch("/sandbox/state")</script>';
const PNG = solidPng(8, 8);

let d: LoopbackDiscord;
let client: Client;
let port: number;
let channelId: string;
/** The state the fake bot guards: what /policy set changes. */
const policy = { maxParts: 8 };
const hookCalls: { path: string; authorized: boolean }[] = [];

beforeAll(async () => {
  d = await startLoopbackDiscord({
    log: () => {},
    onRequest: (_req, res, url, page) => {
      if (url.pathname !== '/data') return false;
      hookCalls.push({ path: url.pathname, authorized: page.authorized });
      res.writeHead(page.authorized ? 200 : 401, { 'content-type': 'text/plain' }).end('hook');
      return true;
    },
  });
  port = Number(new URL(d.origin).port);
  const guildId = d.snapshot().guilds[0]?.id ?? '';
  channelId = d.snapshot().guilds[0]?.channels.find((c) => c.name === 'general')?.id ?? '';
  client = new Client({ intents: [GatewayIntentBits.Guilds], rest: d.restOptions });
  client.on('interactionCreate', (interaction) => {
    if (!interaction.isChatInputCommand() || interaction.commandName !== 'policy') return;
    if (interaction.options.getSubcommand() === 'set')
      policy.maxParts = interaction.options.getInteger('max_parts', true);
    void interaction.reply({
      content: `${SECRET}: max_parts=${policy.maxParts}`,
      flags: MessageFlags.Ephemeral,
    });
  });
  const ready = new Promise<void>((resolve) => client.once('clientReady', () => resolve()));
  await client.login(d.application.token);
  await ready;
  await client.application?.commands.set(
    [
      {
        name: 'policy',
        description: 'Server rules',
        default_member_permissions: String(PermissionFlagsBits.ManageGuild),
        options: [
          { type: 1, name: 'show', description: 'Show the rules' },
          {
            type: 1,
            name: 'set',
            description: 'Change a rule',
            options: [{ type: 4, name: 'max_parts', description: 'Parts', required: true }],
          },
        ],
      },
    ],
    guildId,
  );
  // Ada (the admin) has looked at the rules: an ephemeral message only she may see.
  const shown = d.invokeCommand({ name: 'policy', subcommand: 'show', user: 'ada', channel: 'general' });
  await d.waitForMessage((m) => m.interactionId === shown.id);
});

afterAll(async () => {
  await client.destroy();
  await d.close();
});

interface Answer {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: string;
}

/** A request with exactly the headers given (Host included), as a browser under a page's control sends. */
function raw(
  method: string,
  path: string,
  headers: Record<string, string> = {},
  body?: string,
  options: { setHost?: boolean } = {},
): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const req = request(
      {
        host: '127.0.0.1',
        port,
        method,
        path,
        headers: {
          host: `127.0.0.1:${port}`,
          ...(body !== undefined ? { 'content-type': 'application/json' } : {}),
          ...headers,
        },
        setHost: options.setHost ?? true,
      },
      (res) => {
        const chunks: Buffer[] = [];
        // An event stream never ends: its first chunk (headers and replayed events) is enough.
        const streaming = String(res.headers['content-type']).startsWith('text/event-stream');
        res.on('data', (chunk: Buffer) => {
          chunks.push(chunk);
          if (streaming) setTimeout(() => req.destroy(), 100);
        });
        const done = () =>
          resolve({
            status: res.statusCode ?? 0,
            headers: res.headers,
            body: Buffer.concat(chunks).toString(),
          });
        res.on('end', done);
        res.on('close', done);
        res.on('error', done);
      },
    );
    req.on('error', reject);
    if (options.setHost === false) req.removeHeader('host');
    req.end(body);
  });
}

const withKey = (headers: Record<string, string> = {}) => ({ 'x-sandbox-key': d.pageKey, ...headers });

/** Everything an accepted request would change, to compare before and after a refused one. */
function sideEffects() {
  return {
    seq: d.seq,
    requests: d.requests.length,
    storedBytes: d.core.files.totalBytes,
    interactions: d.timings().length,
    messages: d.snapshot().messages.length,
    policy: { ...policy },
  };
}

const setPolicy = (maxParts: number) =>
  JSON.stringify({
    user: 'ada',
    channel: 'general',
    name: 'policy',
    subcommand: 'set',
    options: { max_parts: maxParts },
  });

/** The page API routes, each as the attack would use it; POSTs try to change the policy. */
function pageApiAttempts(): { method: string; path: string; body?: string }[] {
  const secretMessage = d.snapshot().messages.find((m) => m.content.includes(SECRET));
  return [
    { method: 'GET', path: '/sandbox/state' },
    { method: 'GET', path: '/sandbox/events?after=0' },
    { method: 'GET', path: '/sandbox/channels/general/messages?viewer=ada' },
    { method: 'GET', path: `/sandbox/messages/${secretMessage?.id}/history` },
    { method: 'POST', path: '/sandbox/commands', body: setPolicy(99) },
    {
      method: 'POST',
      path: '/sandbox/uploads',
      body: JSON.stringify({ filename: 'a.png', base64: PNG.toString('base64') }),
    },
  ];
}

/** Asserts that a refusal left everything as it was and gave nothing away. */
async function expectRefused(attempt: () => Promise<Answer>, statuses: number[]): Promise<Answer> {
  const before = sideEffects();
  const answer = await attempt();
  expect(statuses).toContain(answer.status);
  expect(answer.body).not.toContain(SECRET);
  expect(answer.body).not.toContain(d.application.token);
  // A POST that got through would show up only once the bot answered; give it the time to.
  await new Promise((resolve) => setTimeout(resolve, 20));
  expect(sideEffects()).toEqual(before);
  return answer;
}

test('the secret and the policy are there to be taken: Ada saw an ephemeral message', () => {
  const secret = d.messages('general', { viewer: 'ada' }).filter((m) => m.content.includes(SECRET));
  expect(secret).toHaveLength(1);
  expect(d.messages('general', { viewer: 'bob' }).some((m) => m.content.includes(SECRET))).toBe(false);
  expect(policy.maxParts).toBe(8);
});

describe('a foreign Host (DNS rebinding) is refused on every route, key or not', () => {
  const hosts = () => [
    'evil.example',
    `evil.example:${port}`,
    `127.0.0.1.nip.io:${port}`,
    `localhost.evil.example:${port}`,
    `rebind.127.0.0.1.example:${port}`,
    `127.0.0.1:${port + 1}`,
    `localhost:${port + 1}`,
    `127.0.0.1`,
    `[::ffff:127.0.0.1]:${port}`,
    `0.0.0.0:${port}`,
  ];

  test('page API, with the right key and without', async () => {
    for (const host of hosts()) {
      for (const { method, path, body } of pageApiAttempts()) {
        await expectRefused(() => raw(method, path, withKey({ host }), body), [403, 421]);
        await expectRefused(() => raw(method, path, { host }, body), [403, 421]);
      }
    }
    expect(policy.maxParts).toBe(8);
  });

  test('the page, its hook, /api with the bot token, /cdn and /media', async () => {
    const png = d.upload({ filename: 'seen.png', data: PNG });
    const cdnPath = new URL(d.core.files.url(png)).pathname;
    const mediaPath = new URL(d.core.files.proxyUrl(png)).pathname;
    const bot = { authorization: `Bot ${d.application.token}` };
    for (const host of hosts()) {
      const page = await expectRefused(() => raw('GET', '/', { host }), [403, 421]);
      expect(page.headers['content-type']).toMatch(/^text\/plain/);
      await expectRefused(() => raw('GET', '/data', withKey({ host })), [403, 421]);
      await expectRefused(() => raw('GET', '/api/v10/gateway/bot', { host, ...bot }), [403, 421]);
      await expectRefused(
        () =>
          raw(
            'POST',
            `/api/v10/channels/${channelId}/messages`,
            { host, ...bot },
            JSON.stringify({ content: 'x' }),
          ),
        [403, 421],
      );
      for (const path of [cdnPath, mediaPath]) {
        const file = await expectRefused(() => raw('GET', path, { host }), [403, 421]);
        expect(file.body).not.toContain('PNG');
      }
    }
    // The hook never saw the refused requests.
    expect(hookCalls).toEqual([]);
  });

  test('a request without any Host header', async () => {
    // Node's HTTP server answers an HTTP/1.1 request without Host with 400 before the sandbox sees it.
    await expectRefused(
      () => raw('GET', '/sandbox/state', withKey(), undefined, { setHost: false }),
      [400, 403, 421],
    );
    await expectRefused(
      () => raw('POST', '/sandbox/commands', withKey(), setPolicy(42), { setHost: false }),
      [400, 403, 421],
    );
  });

  test('the gateway upgrade', async () => {
    for (const host of [`evil.example:${port}`, `127.0.0.1.nip.io:${port}`]) {
      const before = { bots: d.connectedBots(), seq: d.seq };
      expect(await upgrade({ host })).toEqual({ refused: 403 });
      expect({ bots: d.connectedBots(), seq: d.seq }).toEqual(before);
    }
  });
});

describe('a foreign Origin is refused, even with the right Host and key', () => {
  const origins = () => [
    'http://evil.example',
    `http://evil.example:${port}`,
    'null',
    `http://127.0.0.1:${port + 1}`,
    `https://127.0.0.1:${port}`,
    `http://127.0.0.1.nip.io:${port}`,
  ];

  test('page API: every route', async () => {
    for (const origin of origins()) {
      for (const { method, path, body } of pageApiAttempts())
        await expectRefused(() => raw(method, path, withKey({ origin }), body), [403]);
    }
    expect(policy.maxParts).toBe(8);
  });

  test('the event stream a page would open with EventSource', async () => {
    const path = `/sandbox/events?after=0&key=${encodeURIComponent(d.pageKey)}`;
    const answer = await expectRefused(() => raw('GET', path, { origin: 'http://evil.example' }), [403]);
    expect(answer.headers['content-type']).not.toBe('text/event-stream');
  });

  test('a preflight gets no CORS grant', async () => {
    const answer = await raw('OPTIONS', '/sandbox/commands', {
      origin: 'http://evil.example',
      'access-control-request-method': 'POST',
      'access-control-request-headers': 'content-type, x-sandbox-key',
    });
    expect(answer.status).toBe(403);
    expect(answer.headers['access-control-allow-origin']).toBeUndefined();
  });

  test('the gateway upgrade from a web page', async () => {
    const before = { bots: d.connectedBots(), seq: d.seq };
    expect(await upgrade({ origin: 'http://evil.example' })).toEqual({ refused: 403 });
    expect({ bots: d.connectedBots(), seq: d.seq }).toEqual(before);
  });
});

describe('the page API needs the key of the printed address', () => {
  const wrongKeys = () => [
    '',
    'x',
    d.pageKey.slice(0, -1),
    `${d.pageKey}x`,
    d.pageKey.toUpperCase() === d.pageKey ? d.pageKey.toLowerCase() : d.pageKey.toUpperCase(),
    // One character changed in the middle.
    `${d.pageKey.slice(0, 20)}${d.pageKey[20] === 'A' ? 'B' : 'A'}${d.pageKey.slice(21)}`,
  ];

  test('no key: 401 and nothing done', async () => {
    for (const { method, path, body } of pageApiAttempts()) {
      const answer = await expectRefused(() => raw(method, path, {}, body), [401]);
      expect(JSON.parse(answer.body)).toEqual({ error: expect.stringMatching(/page key/) });
    }
    expect(policy.maxParts).toBe(8);
  });

  test('a wrong key, in the header or in the query: 403 and nothing done', async () => {
    for (const key of wrongKeys()) {
      for (const { method, path, body } of pageApiAttempts()) {
        await expectRefused(() => raw(method, path, { 'x-sandbox-key': key }, body), [401, 403]);
        const query = `${path}${path.includes('?') ? '&' : '?'}key=${encodeURIComponent(key)}`;
        await expectRefused(() => raw(method, query, {}, body), [401, 403]);
      }
    }
    expect(policy.maxParts).toBe(8);
  });

  test('the key in the query of a POST does not count (only GETs, for EventSource)', async () => {
    await expectRefused(
      () => raw('POST', `/sandbox/commands?key=${encodeURIComponent(d.pageKey)}`, {}, setPolicy(13)),
      [401, 403],
    );
  });

  test('an onRequest hook learns whether the key came with the request', async () => {
    hookCalls.length = 0;
    expect((await raw('GET', '/data')).status).toBe(401);
    expect((await raw('GET', '/data', withKey())).status).toBe(200);
    expect(hookCalls).toEqual([
      { path: '/data', authorized: false },
      { path: '/data', authorized: true },
    ]);
  });

  test('the key is long, random per start, and part of pageUrl', async () => {
    expect(d.pageKey.length).toBeGreaterThanOrEqual(40);
    expect(d.pageUrl).toBe(`${d.origin}/?key=${encodeURIComponent(d.pageKey)}`);
    const other = await startLoopbackDiscord({ log: () => {} });
    try {
      expect(other.pageKey).not.toBe(d.pageKey);
      // One server's key opens nothing on another.
      const state = await fetch(`${other.origin}/sandbox/state`, { headers: { 'x-sandbox-key': d.pageKey } });
      expect(state.status).toBe(403);
    } finally {
      await other.close();
    }
  });
});

describe('the page may upload images only, judged by their bytes', () => {
  const upload = (file: Record<string, string>) =>
    raw('POST', '/sandbox/uploads', withKey(), JSON.stringify(file));

  test('HTML, SVG and text are refused, whatever they are called or claim to be', async () => {
    const files = [
      { filename: 'page.html', contentType: 'text/html', base64: Buffer.from(HTML).toString('base64') },
      { filename: 'page.png', contentType: 'image/png', base64: Buffer.from(HTML).toString('base64') },
      { filename: 'page.png', base64: Buffer.from(HTML).toString('base64') },
      {
        filename: 'x.svg',
        contentType: 'image/svg+xml',
        base64: Buffer.from('<svg xmlns="http://www.w3.org/2000/svg"><script>1</script></svg>').toString(
          'base64',
        ),
      },
      { filename: 'notes.txt', contentType: 'text/plain', base64: Buffer.from('hello').toString('base64') },
      // Real PNG bytes, declared as HTML: still refused (the declared type would be served back).
      { filename: 'real.png', contentType: 'text/html', base64: PNG.toString('base64') },
      { filename: 'empty.png', contentType: 'image/png', base64: '' },
    ];
    for (const file of files) {
      const answer = await expectRefused(() => upload(file), [415]);
      expect(JSON.parse(answer.body).error).toMatch(/PNG, JPEG, WebP and GIF|declared as/);
    }
  });

  test('a file given inline to a command is held to the same rule, and no interaction starts', async () => {
    const body = JSON.stringify({
      user: 'ada',
      channel: 'general',
      name: 'policy',
      subcommand: 'set',
      options: {
        max_parts: 77,
        file: { filename: 'x.html', contentType: 'text/html', base64: Buffer.from(HTML).toString('base64') },
      },
    });
    await expectRefused(() => raw('POST', '/sandbox/commands', withKey(), body), [415]);
    expect(policy.maxParts).toBe(8);
  });

  test('a PNG is accepted and stored as image/png', async () => {
    const before = d.core.files.totalBytes;
    const answer = await upload({
      filename: 'ok.png',
      contentType: 'image/png',
      base64: PNG.toString('base64'),
    });
    expect(answer.status).toBe(200);
    const attachment = JSON.parse(answer.body) as { id: string; content_type: string; url: string };
    expect(attachment.content_type).toBe('image/png');
    expect(d.core.files.totalBytes).toBe(before + PNG.length);
    // A declared type that says nothing (or nothing at all) is fine: the bytes decide.
    const generic = await upload({
      filename: 'blob',
      contentType: 'application/octet-stream',
      base64: PNG.toString('base64'),
    });
    expect(JSON.parse(generic.body).content_type).toBe('image/png');
  });
});

describe('/cdn and /media show images only; anything else is a download', () => {
  test('an HTML file the bot posted is served as a download with nosniff', async () => {
    const channel = await client.channels.fetch(channelId);
    if (!channel?.isSendable()) throw new Error('no channel');
    const sent = await channel.send({ files: [{ attachment: Buffer.from(HTML), name: 'page.html' }] });
    const attachment = sent.attachments.first();
    expect(attachment).toBeDefined();
    for (const url of [attachment!.url, attachment!.proxyURL]) {
      const answer = await raw('GET', new URL(url).pathname);
      expect(answer.status).toBe(200);
      expect(answer.headers['content-type']).toBe('application/octet-stream');
      expect(answer.headers['content-disposition']).toBe('attachment; filename="page.html"');
      expect(answer.headers['x-content-type-options']).toBe('nosniff');
      expect(answer.headers['content-security-policy']).toMatch(/sandbox/);
      expect(answer.headers['access-control-allow-origin']).toBeUndefined();
    }
  });

  test('HTML stored under an image type, and SVG, download too', async () => {
    const disguised = d.upload({ filename: 'photo.png', data: Buffer.from(HTML), contentType: 'image/png' });
    const svg = d.upload({
      filename: 'x.svg',
      data: Buffer.from('<svg xmlns="http://www.w3.org/2000/svg"><script>1</script></svg>'),
      contentType: 'image/svg+xml',
    });
    for (const stored of [disguised, svg]) {
      const answer = await raw('GET', stored.path);
      expect(answer.headers['content-type']).toBe('application/octet-stream');
      expect(answer.headers['content-disposition']).toMatch(/^attachment;/);
      expect(answer.headers['x-content-type-options']).toBe('nosniff');
    }
  });

  test('PNG, JPEG, WebP and GIF are shown inline as what their bytes are', async () => {
    const jpeg = Buffer.from([0xff, 0xd8, 0xff, 0xe0, 0, 0x10, 0x4a, 0x46, 0x49, 0x46, 0, 1]);
    const gif = Buffer.from('GIF89a\x01\x00\x01\x00\x00\x00\x00;', 'latin1');
    const webp = Buffer.concat([Buffer.from('RIFF'), Buffer.from([4, 0, 0, 0]), Buffer.from('WEBPVP8 ')]);
    const cases: [Buffer, string][] = [
      [PNG, 'image/png'],
      [jpeg, 'image/jpeg'],
      [gif, 'image/gif'],
      [webp, 'image/webp'],
    ];
    for (const [data, type] of cases) {
      // Declared wrongly on purpose: what is served follows the bytes.
      const stored = d.upload({ filename: 'image.bin', data, contentType: 'text/html' });
      for (const path of [stored.path, stored.path.replace(/^\/cdn\//, '/media/')]) {
        const answer = await raw('GET', path);
        expect(answer.status).toBe(200);
        expect(answer.headers['content-type']).toBe(type);
        expect(answer.headers['content-disposition']).toBe('inline');
        expect(answer.headers['x-content-type-options']).toBe('nosniff');
      }
    }
  });
});

describe('the page itself, with the right Host, Origin and key, still works', () => {
  const ownHosts = () => [`127.0.0.1:${port}`, `localhost:${port}`, `[::1]:${port}`, `LOCALHOST:${port}`];

  test('every loopback name and its own origin read the state, the secret included', async () => {
    for (const host of ownHosts()) {
      const origin = `http://${host.toLowerCase()}`;
      const answer = await raw('GET', '/sandbox/state', withKey({ host, origin }));
      expect(answer.status).toBe(200);
      expect(answer.body).toContain(SECRET);
      const mine = await raw('GET', '/sandbox/channels/general/messages?viewer=ada', withKey({ host }));
      expect(mine.body).toContain(SECRET);
    }
  });

  test('the event stream opens with the key in its query and the own Origin', async () => {
    const answer = await raw('GET', `/sandbox/events?after=0&key=${encodeURIComponent(d.pageKey)}`, {
      origin: `http://localhost:${port}`,
      host: `localhost:${port}`,
    });
    expect(answer.status).toBe(200);
    expect(answer.headers['content-type']).toBe('text/event-stream');
    expect(answer.body).toContain(SECRET);
  });

  test('Ada changes the policy from the page: the bot sees it and answers', async () => {
    const answer = await raw('POST', '/sandbox/commands', withKey({ origin: d.origin }), setPolicy(5));
    expect(answer.status).toBe(200);
    const { interactionId } = JSON.parse(answer.body) as { interactionId: string };
    const reply = await d.waitForMessage((m) => m.interactionId === interactionId);
    expect(reply.content).toBe(`${SECRET}: max_parts=5`);
    expect(policy.maxParts).toBe(5);
    policy.maxParts = 8;
  });

  test('the page is served with a restrictive Content-Security-Policy and no referrer', async () => {
    const answer = await raw('GET', '/', { host: `localhost:${port}` });
    expect(answer.status).toBe(200);
    const csp = String(answer.headers['content-security-policy']);
    for (const part of [
      "default-src 'none'",
      "script-src 'self'",
      "connect-src 'self'",
      "frame-ancestors 'none'",
    ])
      expect(csp).toContain(part);
    expect(csp).toContain(d.origin);
    // Chromium rejects (and reports) an IPv6 literal as a CSP source.
    expect(csp).not.toContain('[::1]');
    expect(answer.headers['referrer-policy']).toBe('no-referrer');
    expect(answer.headers['x-content-type-options']).toBe('nosniff');
  });

  test('the gateway: discord.js (no Origin) works; a socket with the own Origin gets HELLO', async () => {
    expect(d.connectedBots()).toBe(1);
    const channel = await client.channels.fetch(channelId);
    expect(channel?.id).toBe(channelId);
    expect(await upgrade({ origin: d.origin })).toEqual({ hello: 10 });
    expect(await upgrade({ host: `localhost:${port}` })).toEqual({ hello: 10 });
  });
});

/** Opens a gateway socket with the given Host/Origin: its HELLO opcode, or the status it was refused with. */
function upgrade(headers: {
  host?: string;
  origin?: string;
}): Promise<{ hello: number } | { refused: number }> {
  return new Promise((resolve, reject) => {
    const socket = new WebSocket(`ws://127.0.0.1:${port}/gateway?v=10&encoding=json`, {
      ...(headers.origin ? { origin: headers.origin } : {}),
      ...(headers.host ? { headers: { host: headers.host } } : {}),
    });
    socket.on('unexpected-response', (_req, res) => {
      resolve({ refused: res.statusCode ?? 0 });
      socket.terminate();
    });
    socket.on('message', (data) => {
      resolve({ hello: (JSON.parse(data.toString()) as { op: number }).op });
      socket.close();
    });
    socket.on('error', reject);
  });
}
