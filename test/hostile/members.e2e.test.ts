/**
 * Attacks a member can send through Discord, run through the real bot, workers, Redis and the loopback
 * Discord server. A loopback listener plays the internal service a link might aim at. Each attack must
 * end in a clear refusal only the member sees, with nothing fetched, queued or stored.
 */

import { readFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import sharp from 'sharp';
import { readModelInfo } from '../../src/model/info.js';
import type { InteractionHandle, MessageView } from '../../src/sandbox/discord/index.js';
import { ephemeralAnswer, finishedMessage } from '../e2e/messages.js';
import { defaultModelDir, type Stack, startStack } from '../e2e/stack.js';

let stack: Stack;
let internal: Server;
let internalPort = 0;
let connections = 0;
let requests = 0;

beforeAll(async () => {
  internal = createServer((_req, res) => {
    requests++;
    res.writeHead(200, { 'content-type': 'image/png' });
    res.end(readFileSync(new URL('../../docs/screenshots/sandbox-grid.png', import.meta.url)));
  });
  internal.on('connection', () => connections++);
  await new Promise<void>((resolve) => internal.listen(0, '127.0.0.1', resolve));
  internalPort = (internal.address() as AddressInfo).port;
  stack = await startStack({ workers: 1 });
}, 90_000);
afterAll(async () => {
  await stack?.stop();
  await new Promise((resolve) => internal?.close(resolve));
});

const imagine = (prompt: string, user = 'bob'): InteractionHandle =>
  stack.discord.invokeCommand({ name: 'imagine', user, channel: 'general', options: { prompt } });

/** Queue places held in the caps' sorted sets, over all users and servers. */
async function placesHeld(): Promise<number> {
  const keys = await stack.redisClient.keys('lb:queued*');
  const counts = await Promise.all(keys.map((key) => stack.redisClient.zcard(key)));
  return counts.reduce((a, b) => a + b, 0);
}

/** Everything a refused command must have left alone. */
async function untouched<T>(attack: () => Promise<T>): Promise<T> {
  const placesBefore = await placesHeld();
  const queuedBefore = await stack.renderQueue.count();
  const jobsBefore = await stack.redisClient.keys('lb:job:*');
  const uploadsBefore = await stack.redisClient.keys('lb:upload:*');
  const result = await attack();
  expect(await stack.renderQueue.count()).toBe(queuedBefore);
  expect((await stack.redisClient.keys('lb:job:*')).sort()).toEqual(jobsBefore.sort());
  expect((await stack.redisClient.keys('lb:upload:*')).sort()).toEqual(uploadsBefore.sort());
  expect(await placesHeld()).toBe(placesBefore);
  return result;
}

async function refusal(prompt: string): Promise<MessageView> {
  return untouched(() => ephemeralAnswer(stack.discord, imagine(prompt)));
}

async function stored(data: Buffer, filename = 'in.png', contentType = 'image/png'): Promise<string> {
  const file = stack.discord.upload({ filename, contentType, data });
  return `${stack.discord.origin}${file.path}`;
}

describe('links to the bot’s own network are refused in every spelling, before any connection', () => {
  const forms = () => [
    `http://[::ffff:127.0.0.1]:${internalPort}/x.png`,
    `http://[::ffff:7f00:1]:${internalPort}/x.png`,
    `http://[0:0:0:0:0:ffff:127.0.0.1]:${internalPort}/x.png`,
    `http://[::127.0.0.1]:${internalPort}/x.png`,
    `http://[::1]:${internalPort}/x.png`,
    `http://2130706433:${internalPort}/x.png`,
    `http://0x7f000001:${internalPort}/x.png`,
    `http://0177.0.0.1:${internalPort}/x.png`,
    `http://127.1:${internalPort}/x.png`,
    `http://0.0.0.0:${internalPort}/x.png`,
    `http://localhost:${internalPort}/x.png`,
    `http://[64:ff9b::7f00:1]:${internalPort}/x.png`,
    `http://[2002:7f00:1::]:${internalPort}/x.png`,
    'http://[::ffff:169.254.169.254]/latest/meta-data/x.png',
    'http://169.254.169.254/latest/meta-data/x.png',
    'http://[fe80::1]/x.png',
    'http://10.0.0.1/x.png',
    'http://198.18.0.1/x.png',
  ];

  test.each(Array.from({ length: 18 }, (_, i) => i))(
    'form %i',
    async (i) => {
      const link = forms()[i]!;
      const answer = await refusal(`${link} a cat`);
      expect(answer.content).toMatch(/private network addresses are not fetched/);
      expect(connections).toBe(0);
      expect(requests).toBe(0);
    },
    30_000,
  );
});

describe('bounds on one prompt, checked before anything is fetched', () => {
  test('six image links are refused with the limit, and none of them is fetched', async () => {
    const url = await stored(
      await sharp({ create: { width: 8, height: 8, channels: 3, background: '#f00' } })
        .png()
        .toBuffer(),
    );
    const before = stack.discord.requests.length;
    const links = Array.from({ length: 6 }, (_, i) => `${url}?${i}`).join(' ');
    const answer = await refusal(`${links} a cat`);
    expect(answer.content).toContain('6 images; this server allows at most 5');
    const fetched = stack.discord.requests.slice(before).filter((r) => r.path.startsWith('/cdn'));
    expect(fetched).toEqual([]);
  }, 30_000);

  test('nine text parts are refused; so is the 860-part flood', async () => {
    const nine = Array.from({ length: 9 }, (_, i) => `thing${i}::1`).join(' ');
    expect((await refusal(nine)).content).toContain('9 text parts');
    expect((await refusal(`${'p::1 '.repeat(860)}--q 2`)).content).toContain('860 text parts');
  }, 30_000);
});

describe('what is stored of a member’s images', () => {
  test('an upload fetched before a later link fails is not left behind', async () => {
    const good = await stored(
      await sharp({ create: { width: 64, height: 64, channels: 3, background: '#0a0' } })
        .png()
        .toBuffer(),
    );
    const missing = `${stack.discord.origin}/cdn/ephemeral-attachments/1/2/missing.png`;
    const answer = await refusal(`${good} ${missing} a cat`);
    expect(answer.content).toMatch(/answered HTTP 404|could not be fetched/);
  }, 30_000);

  test('a 4096x4096 upload is kept at the model’s input size, not as sent', async () => {
    const noise = Buffer.alloc(4096 * 4096 * 3);
    for (let i = 0; i < noise.length; i += 97) noise[i] = (i * 31) & 255;
    const big = await sharp(noise, { raw: { width: 4096, height: 4096, channels: 3 } })
      .jpeg({ quality: 80 })
      .toBuffer();
    expect(big.length).toBeGreaterThan(1024 * 1024);
    const url = await stored(big, 'big.jpg', 'image/jpeg');
    const grid = await finishedMessage(stack.discord, imagine(`${url} a cat`));
    const jobId = /job ([a-z0-9]{12})/.exec(grid.content)![1]!;
    const record = JSON.parse((await stack.redisClient.get(`lb:job:${jobId}`))!);
    const uploadKey = `lb:${record.inputs[url]}`;
    const kept = await stack.redisClient.getBuffer(uploadKey);
    expect(kept).not.toBeNull();
    const meta = await sharp(kept!).metadata();
    const side = readModelInfo(defaultModelDir()).inputSide; // 64 px on emoji-ld, 128 on emoji-ld2
    expect(Math.max(meta.width!, meta.height!)).toBeLessThanOrEqual(side);
    expect(kept!.length).toBeLessThan(2 * side * side * 3); // the size of its pixels, not the 48 MB sent
    // Used by a queued job, it now lives as long as the job record.
    expect(await stack.redisClient.ttl(uploadKey)).toBeGreaterThan(3600);
  }, 90_000);
});

describe('faults a member can cause', () => {
  test('when Redis is full the member hears so, and nothing is half-written', async () => {
    const info = await stack.redisClient.info('memory');
    const used = Number(/used_memory:(\d+)/.exec(info)![1]);
    await stack.redisClient.config('SET', 'maxmemory', String(used + 64 * 1024));
    await stack.redisClient.set('ballast', Buffer.alloc(128 * 1024)).catch(() => {});
    try {
      const answer = await untouched(() => ephemeralAnswer(stack.discord, imagine('a cat')));
      expect(answer.content).toContain("The bot's storage is full right now; nothing was queued");
    } finally {
      await stack.redisClient.config('SET', 'maxmemory', '0');
      await stack.redisClient.del('ballast');
    }
  }, 30_000);

  test('a failed delivery logs neither the interaction token nor the request body', async () => {
    const handle = imagine('a penguin --q 2');
    await handle.response(3000);
    const original = stack.discord.originalMessage(handle.id)!;
    // A moderator deletes the message while the job runs: the bot's edit of it fails.
    stack.discord.core.deleteMessage(stack.discord.core.messages.get(original.id)!);
    const logPath = join(stack.logDir, 'bot.log');
    const deadline = Date.now() + 60_000;
    while (!readFileSync(logPath, 'utf8').includes('delivery failed') && Date.now() < deadline)
      await new Promise((r) => setTimeout(r, 200));
    const log = readFileSync(logPath, 'utf8');
    expect(log).toContain('delivery failed');
    expect(log).toContain('[redacted]');
    expect(log).not.toContain(handle.token);
    expect(log).not.toContain('requestBody');
  }, 90_000);
});
