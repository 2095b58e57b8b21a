import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { deflateSync } from 'node:zlib';
import sharp from 'sharp';
import { listCustomIds, type MessageView, type OptionValue } from '../../src/sandbox/discord/index.js';
import { readLineage } from '../../src/sandbox/web/lineage.js';
import { openStores } from '../../src/store/index.js';
import { freePort } from '../../src/store/local-redis.js';
import {
  componentId,
  ephemeralAnswer,
  finishedMessage,
  gridButtons,
  imagine,
  imagineGrid,
  isFinalImage,
  isGrid,
  policy,
  pressButton,
  requireJobId,
} from './messages.js';
import { mad, pixels } from './pixels.js';
import { jobImage, jobImages, jobRecord, recordOf } from './records.js';
import { type Stack, startStack } from './stack.js';

let stack: Stack;
let metricsPort: number;

beforeAll(async () => {
  metricsPort = await freePort();
  // 1 MiB instead of Discord's 10 so the oversize test needs no large file.
  stack = await startStack({
    workers: 1,
    env: { METRICS_PORT: String(metricsPort), IMAGE_MAX_BYTES: String(1024 * 1024) },
  });
}, 90_000);

afterAll(async () => {
  await stack?.stop();
});

/** A valid PNG whose header claims 30000x30000 pixels: tiny on disk, 2.7 GB if decoded. */
function decompressionBomb(): Buffer {
  const crcTable = Array.from({ length: 256 }, (_, n) => {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
    return c >>> 0;
  });
  const crc32 = (bytes: Buffer) => {
    let c = 0xffffffff;
    for (const b of bytes) c = crcTable[(c ^ b) & 0xff]! ^ (c >>> 8);
    return (c ^ 0xffffffff) >>> 0;
  };
  const chunk = (type: string, data: Buffer) => {
    const body = Buffer.concat([Buffer.from(type, 'ascii'), data]);
    const out = Buffer.alloc(12 + data.length);
    out.writeUInt32BE(data.length, 0);
    body.copy(out, 4);
    out.writeUInt32BE(crc32(body), 8 + data.length);
    return out;
  };
  const header = Buffer.alloc(13);
  header.writeUInt32BE(30000, 0);
  header.writeUInt32BE(30000, 4);
  header.set([8, 2, 0, 0, 0], 8);
  return Buffer.concat([
    Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]),
    chunk('IHDR', header),
    chunk('IDAT', deflateSync(Buffer.alloc(30001 * 16))),
    chunk('IEND', Buffer.alloc(0)),
  ]);
}

/** A 64x64 one-colour PNG, as a member would attach or upload it. */
async function pngFile(filename: string, color: string) {
  const data = await sharp({ create: { width: 64, height: 64, channels: 3, background: color } })
    .png()
    .toBuffer();
  return { filename, contentType: 'image/png', data };
}

/** cy's `/blend` in general, the one place the blend tests send it from. */
const blend = (options: Record<string, OptionValue>) =>
  stack.discord.invokeCommand({ name: 'blend', user: 'cy', channel: 'general', options });

describe('imagine -> progress -> grid -> U -> Vary -> blend', () => {
  let grid: MessageView;

  test('/imagine answers at once, shows progress, then the grid with U1-U4, V1-V4 and reroll', async () => {
    const handle = imagine(stack.discord, 'bob', 'polar bear::0.6 white::-0.5 --seed 7');
    expect((await handle.response(3000)).callbackType).toBe(4);
    const original = stack.discord.originalMessage(handle.id)!;
    expect(original.content).toContain('polar bear::0.6 white::-0.5');
    expect(original.content).toContain('Waiting to start');
    expect(original.ephemeral).toBe(false);

    grid = await finishedMessage(stack.discord, handle);
    expect(listCustomIds(grid.components)).toEqual(gridButtons());
    expect(grid.content).toMatch(/seed 7 · job [a-z0-9]{12}/);
    const bytes = stack.discord.attachmentBytes(grid.attachments[0]!);
    const meta = await sharp(bytes).metadata();
    expect(meta.format).toBe('png');
    expect(meta.width).toBeGreaterThanOrEqual(512);

    // The message went through at least one preview before the grid (progress edits).
    const revisions = stack.discord.history(original.id);
    expect(revisions.some((m) => m.attachments.some((a) => a.filename.startsWith('preview-')))).toBe(true);
    expect(revisions.at(-1)?.attachments.map((a) => a.filename)).toEqual([expect.stringMatching(/^grid-/)]);
  }, 90_000);

  let upscaled: MessageView;

  test("U2 posts the single image with Midjourney's rows of buttons", async () => {
    upscaled = await finishedMessage(
      stack.discord,
      pressButton(stack.discord, 'bob', grid, 'u:2:'),
      isFinalImage,
    );
    expect(upscaled.content).toContain('Image #2');
    const rows = (upscaled.components as { components: Array<{ label: string }> }[]).map((row) =>
      row.components.map((c) => c.label),
    );
    expect(rows).toEqual([
      ['Upscale (Subtle)', 'Upscale (Creative)'],
      ['Vary (Subtle)', 'Vary (Strong)', 'Vary (Region)'],
      ['Zoom Out 2x', 'Zoom Out 1.5x', 'Custom Zoom'],
      ['⬅️', '➡️', '⬆️', '⬇️'],
      ['Opposite', '🔄'],
    ]);
  }, 90_000);

  test('Vary (Strong) on the upscale makes a new grid whose record names its parent', async () => {
    const vary = componentId(upscaled, 'vs:');
    const varied = await finishedMessage(
      stack.discord,
      stack.discord.pressButton({ user: 'bob', messageId: upscaled.id, customId: vary }),
    );
    expect(varied.content).toContain('Variations (Strong)');
    const record = await recordOf(stack.redisClient, varied);
    const upscaleJob = vary.slice(3);
    expect(record.description.parents).toEqual([{ jobId: upscaleJob, index: 0, role: 'variation-strong' }]);
    expect(record.description.prompts[0]).toMatchObject({ kind: 'image', url: `job:${upscaleJob}/0` });
  }, 90_000);

  describe('canvas actions on the upscale, checked on the pixels', () => {
    /** One of the upscale's canvas actions, through to the grid it makes, its record and its four images. */
    const press = async (action: string) => {
      const message = await finishedMessage(
        stack.discord,
        pressButton(stack.discord, 'bob', upscaled, `${action}:`),
      );
      const jobId = requireJobId(message);
      const record = await jobRecord(stack.redisClient, jobId);
      const images = await jobImages(stack.redisClient, jobId);
      return { message, record, images };
    };
    let source: Buffer;
    let otherImage: Buffer;
    beforeAll(async () => {
      source = Buffer.from(stack.discord.attachmentBytes(upscaled.attachments[0]!));
      otherImage = await jobImage(stack.redisClient, requireJobId(grid), 0);
    });
    /**
     * The upscale as the canvas placed it: scaled to `side` native pixels at (left, top) of a white
     * canvas of the result's native size, then brought to the displayed result's size. A result's kept
     * part is these pixels, so one cut falls on the same pixels of both, and the upscale's finer detail
     * is not counted as a change.
     */
    const placedLike = async (
      png: Buffer,
      record: { result: { contentWidth: number; contentHeight: number } },
      place: { side: number; left: number; top: number },
    ) => {
      const { width, height } = await sharp(png).metadata();
      const { contentWidth, contentHeight } = record.result;
      const scaled = await sharp(source)
        .resize(place.side, place.side, { fit: 'fill', kernel: 'lanczos3' })
        .png()
        .toBuffer();
      const canvas = await sharp({
        create: { width: contentWidth, height: contentHeight, channels: 3, background: '#ffffff' },
      })
        .composite([{ input: scaled, left: place.left, top: place.top }])
        .png()
        .toBuffer();
      return sharp(canvas).resize(width, height, { fit: 'fill' }).png().toBuffer();
    };

    test('Zoom Out 2x: four images whose centre is the source, painted around', async () => {
      const { record, images, message } = await press('z2');
      expect(message.content).toContain('Zoom Out 2x');
      expect(record.description.parents[0]).toMatchObject({ role: 'zoom', index: 0 });
      expect(record.result.contentWidth).toBe(record.result.contentHeight);
      const side = record.result.contentWidth;
      const half = Math.round(side / 2);
      const place = { side: half, left: Math.round((side - half) / 2), top: Math.round((side - half) / 2) };
      // What two different pictures give, for scale.
      const apart = mad(await pixels(source, 32), await pixels(otherImage, 32));
      // Inside the seam around the placed source.
      const centre = { left: 0.32, top: 0.32, width: 0.36, height: 0.36 };
      for (const png of images) {
        const expected = await placedLike(png, record, place);
        expect(mad(await pixels(png, 32, centre), await pixels(expected, 32, centre))).toBeLessThan(
          apart / 4,
        );
      }
    }, 90_000);

    test('➡️: wider, with the source as its left part', async () => {
      const { record, images } = await press('pr');
      expect(record.result.contentWidth).toBeGreaterThan(record.result.contentHeight);
      const place = { side: record.result.contentHeight, left: 0, top: 0 };
      const apart = mad(await pixels(source, 32), await pixels(otherImage, 32));
      for (const png of images) {
        const { width, height } = await sharp(png).metadata();
        expect(width).toBeGreaterThan(height);
        const expected = await placedLike(png, record, place);
        // Stops short of the seam: the canvas's right third is painted.
        const left = { left: 0.03, top: 0.05, width: 0.55, height: 0.9 };
        expect(mad(await pixels(png, 32, left), await pixels(expected, 32, left))).toBeLessThan(apart / 4);
      }
    }, 90_000);

    test('Vary (Region): the centre repainted, the rest the source', async () => {
      const menu = await ephemeralAnswer(stack.discord, pressButton(stack.discord, 'bob', upscaled, 'vr:'));
      expect(menu.content).toContain('Pick the part of the image to repaint');
      const chosen = stack.discord.selectOption({
        user: 'bob',
        messageId: menu.id,
        customId: componentId(menu, 'rg:'),
        values: ['centre'],
      });
      const message = await finishedMessage(stack.discord, chosen);
      const jobId = requireJobId(message);
      const record = await jobRecord(stack.redisClient, jobId);
      expect(record.description.canvas).toEqual({ mode: 'region', cells: [4] });
      const place = { side: record.result.contentWidth, left: 0, top: 0 };
      const top = { left: 0, top: 0, width: 1, height: 0.28 };
      const middle = { left: 0.38, top: 0.38, width: 0.24, height: 0.24 };
      for (const png of await jobImages(stack.redisClient, jobId)) {
        const expected = await placedLike(png, record, place);
        expect(mad(await pixels(png, 32, top), await pixels(expected, 32, top))).toBeLessThan(3);
        expect(mad(await pixels(png, 16, middle), await pixels(expected, 16, middle))).toBeGreaterThan(3);
      }
    }, 90_000);

    test('Upscale (Subtle) doubles the side, and again on its own result', async () => {
      const first = await finishedMessage(
        stack.discord,
        pressButton(stack.discord, 'bob', upscaled, 'x2:'),
        isFinalImage,
      );
      const before = (await recordOf(stack.redisClient, upscaled)).result.contentWidth;
      expect((await recordOf(stack.redisClient, first)).result.contentWidth).toBe(2 * before);
      const second = await finishedMessage(
        stack.discord,
        pressButton(stack.discord, 'bob', first, 'x2:'),
        isFinalImage,
      );
      const record = await recordOf(stack.redisClient, second);
      expect(record.result.contentWidth).toBe(4 * before);
    }, 90_000);
  });

  test('Opposite asks for the image at weight -1: refused under the default rule, allowed once an admin lifts it', async () => {
    const opposite = componentId(upscaled, 'op:');
    const refusal = await ephemeralAnswer(
      stack.discord,
      stack.discord.pressButton({ user: 'bob', messageId: upscaled.id, customId: opposite }),
    );
    expect(refusal.content).toContain('The weights add up to -1; this server requires a sum above 0');
    expect(refusal.content).toContain('/policy set weight_sum_positive:False');

    const weightSumPositive = (weight_sum_positive: boolean) =>
      policy(stack.discord, 'set', { weight_sum_positive }).response(3000);
    await weightSumPositive(false);
    try {
      const press = stack.discord.pressButton({ user: 'bob', messageId: upscaled.id, customId: opposite });
      const away = await finishedMessage(stack.discord, press);
      expect(away.content).toContain('Opposite of an image');
      const record = await recordOf(stack.redisClient, away);
      const source = opposite.slice(3);
      expect(record.kind).toBe('opposite');
      expect(record.description.prompts).toEqual([
        { kind: 'image', url: `job:${source}/0`, weight: -1, normalized: -1 },
      ]);
      expect(record.description.parents).toEqual([{ jobId: source, index: 0, role: 'opposite' }]);
    } finally {
      await weightSumPositive(true);
    }
  }, 90_000);

  test('/blend with two uploads makes a grid from equal-weight image prompts', async () => {
    const blended = await finishedMessage(
      stack.discord,
      blend({ image1: await pngFile('red.png', '#d02020'), image2: await pngFile('blue.png', '#2040d0') }),
    );
    expect(blended.content).toContain('Blend of 2 images');
  }, 90_000);

  test('a saved grid and a saved upscale, re-encoded and uploaded to /blend, continue the lineage', async () => {
    const gridJob = requireJobId(grid);
    const upscaleJob = requireJobId(upscaled);
    // As a member would: save the images from Discord, send them through a JPEG editor at another size.
    const savedGrid = await sharp(Buffer.from(stack.discord.attachmentBytes(grid.attachments[0]!)))
      .resize(700, 700)
      .jpeg({ quality: 80 })
      .toBuffer();
    const savedUpscale = await sharp(Buffer.from(stack.discord.attachmentBytes(upscaled.attachments[0]!)))
      .resize(300, 300)
      .jpeg({ quality: 75 })
      .toBuffer();
    const handle = blend({
      image1: { filename: 'saved-grid.jpg', contentType: 'image/jpeg', data: savedGrid },
      image2: { filename: 'saved-image.jpg', contentType: 'image/jpeg', data: savedUpscale },
      image3: await pngFile('other.png', '#33aa55'),
    });
    const blended = await finishedMessage(stack.discord, handle);
    const blendJob = requireJobId(blended);
    const record = await jobRecord(stack.redisClient, blendJob);
    const [first, second, third] = record.description.prompts.map((p: { url: string }) => p.url);
    expect(record.origins[first]).toEqual({ jobId: gridJob, index: null });
    expect(record.origins[second]).toEqual({ jobId: upscaleJob, index: 0 });
    expect(record.origins[third]).toBeUndefined();

    const lineage = (await readLineage(openStores(stack.redisClient, 60), blendJob))!;
    const root = lineage.nodes.find((n) => n.jobId === blendJob)!;
    expect(root.parents).toEqual(
      expect.arrayContaining([
        { jobId: gridJob, index: null, role: 'blend' },
        { jobId: upscaleJob, index: 0, role: 'blend' },
      ]),
    );
    // Through the recognised images the tree reaches the first /imagine, two generations up.
    expect(lineage.nodes.find((n) => n.jobId === gridJob)).toMatchObject({ kind: 'imagine' });
    expect(lineage.nodes.find((n) => n.jobId === upscaleJob)).toMatchObject({ kind: 'upscale' });
  }, 90_000);

  test('/blend takes a weight per image; a negative one is judged by the weight-sum rule', async () => {
    const images = {
      image1: await pngFile('red.png', '#d02020'),
      image2: await pngFile('blue.png', '#2040d0'),
    };
    const grid = await finishedMessage(stack.discord, blend({ ...images, weight1: 2, weight2: -0.5 }));
    const record = await recordOf(stack.redisClient, grid);
    expect(record.description.prompts.map((p: { weight: number }) => p.weight)).toEqual([2, -0.5]);
    expect(record.description.weightSum).toBe(1.5);

    const refused = blend({ ...images, weight1: -1, weight2: -1 });
    await refused.response(3000);
    const answer = await stack.discord.waitForMessage((m) => m.interactionId === refused.id && m.ephemeral, {
      timeoutMs: 10_000,
    });
    expect(answer.content).toContain('The weights add up to -2; this server requires a sum above 0');
  }, 90_000);
});

describe('image links in a prompt', () => {
  test('are fetched within limits, stored, and steer the job as weighted image prompts', async () => {
    const stored = stack.discord.upload(await pngFile('ref.png', '#e0e0e0'));
    const url = `${stack.discord.origin}${stored.path}`;
    const grid = await imagineGrid(stack.discord, 'bob', `${url} polar bear --iw 2`);
    const record = await recordOf(stack.redisClient, grid);
    expect(record.description.prompts).toEqual([
      { kind: 'image', url, weight: 2, normalized: expect.closeTo(2 / 3, 9) },
      { kind: 'text', text: 'polar bear', weight: 1, normalized: expect.closeTo(1 / 3, 9) },
    ]);
    expect(record.inputs[url]).toMatch(/^upload:[a-z0-9]{12}$/);

    // 🔄 reruns the same prompt, image included: the new job holds the same stored upload (a fetch again
    // would have stored a new one).
    const again = await finishedMessage(stack.discord, pressButton(stack.discord, 'bob', grid, 'r:'));
    expect(isGrid(again)).toBe(true);
    const rerolled = await recordOf(stack.redisClient, again);
    expect(rerolled.inputs).toEqual({ [url]: record.inputs[url] });
    expect(rerolled.status).toBe('done');
  }, 90_000);

  test('an image with its own negative weight reaches the sampler and pushes the result away', async () => {
    const stored = stack.discord.upload(await pngFile('away.png', '#101010'));
    const url = `${stack.discord.origin}${stored.path}`;
    const gridOf = async (prompt: string) => {
      const jobId = requireJobId(await imagineGrid(stack.discord, 'bob', prompt));
      return {
        record: await jobRecord(stack.redisClient, jobId),
        image: await jobImage(stack.redisClient, jobId, 0),
      };
    };
    const plain = await gridOf('polar bear::2 --seed 77');
    const pushed = await gridOf(`${url}::-1 polar bear::2 --seed 77`);
    expect(pushed.record.description.prompts[0]).toMatchObject({
      kind: 'image',
      url,
      weight: -1,
      normalized: -1,
    });
    expect(pushed.image.equals(plain.image)).toBe(false);
    // Same seed, same text: only the negative image prompt differs, and the pixels moved.
    const [a, b] = await Promise.all(
      [plain.image, pushed.image].map((bytes) => sharp(bytes).resize(32, 32).raw().toBuffer()),
    );
    expect(mad(a!, b!)).toBeGreaterThan(2);
  }, 90_000);

  test('a link to something that is not an image is refused, ephemerally', async () => {
    const stored = stack.discord.upload({
      filename: 'notes.png',
      contentType: 'image/png',
      data: Buffer.from('plain text'),
    });
    const handle = imagine(stack.discord, 'bob', `${stack.discord.origin}${stored.path} cat`);
    await handle.response(3000);
    const answer = await stack.discord.waitForMessage((m) => m.interactionId === handle.id && m.ephemeral, {
      timeoutMs: 10_000,
    });
    expect(answer.content).toContain('was refused: the file is not an image');
    // The public placeholder the bot showed while fetching is gone.
    expect(stack.discord.originalMessage(handle.id)?.deleted ?? true).toBe(true);
  }, 30_000);
});

describe('refusals are ephemeral and queue nothing', () => {
  async function refusal(invoke: () => ReturnType<Stack['discord']['invokeCommand']>): Promise<string> {
    const before = await stack.renderQueue.getJobCounts();
    const message = await ephemeralAnswer(stack.discord, invoke());
    const after = await stack.renderQueue.getJobCounts();
    const total = (counts: Record<string, number>) => Object.values(counts).reduce((a, b) => a + b, 0);
    expect(total(after)).toBe(total(before));
    return message.content;
  }

  test('a weight sum <= 0 under the default policy', async () => {
    const text = await refusal(() => imagine(stack.discord, 'bob', 'DIGITA PNTICS skyline logo::-99.99'));
    expect(text).toContain('add up to -99.99');
  }, 30_000);

  test('a malformed prompt names the culprit', async () => {
    const text = await refusal(() => imagine(stack.discord, 'bob', 'cat --chaos 101'));
    expect(text).toContain('--chaos must be 0-100, got 101');
  }, 30_000);

  test('an upload that is not an image', async () => {
    const text = await refusal(() =>
      blend({
        image1: { filename: 'notes.txt', contentType: 'text/plain', data: Buffer.from('hello') },
        image2: { filename: 'b.png', contentType: 'image/png', data: Buffer.alloc(10) },
      }),
    );
    expect(text).toContain('notes.txt is not a PNG, JPEG, WebP or GIF image');
  }, 30_000);

  test('an image that claims to be a PNG but is not one is refused after download', async () => {
    const fake = {
      filename: 'fake.png',
      contentType: 'image/png',
      data: Buffer.from('not really a png at all'),
    };
    const ok = await pngFile('ok.png', '#00ff00');
    const text = await refusal(() => blend({ image1: fake, image2: ok }));
    expect(text).toContain('fake.png was refused');
  }, 30_000);

  test('a decompression bomb is refused before it is decoded', async () => {
    const bomb = { filename: 'bomb.png', contentType: 'image/png', data: decompressionBomb() };
    const ok = await pngFile('ok.png', '#00ff00');
    const text = await refusal(() => blend({ image1: bomb, image2: ok }));
    expect(text).toContain('bomb.png was refused: 30000x30000 is over the limit');
  }, 30_000);

  test('an upload over the size limit is refused from its metadata', async () => {
    const noise = await sharp(randomBytes(700 * 700 * 3), { raw: { width: 700, height: 700, channels: 3 } })
      .png()
      .toBuffer();
    expect(noise.length).toBeGreaterThan(1024 * 1024);
    const big = { filename: 'big.png', contentType: 'image/png', data: noise };
    const ok = await pngFile('ok.png', '#00ff00');
    const text = await refusal(() => blend({ image1: ok, image2: big }));
    expect(text).toMatch(/big\.png is 1\.\d MiB; images may be at most 1 MiB/);
  }, 30_000);

  test('/policy is not offered to members without Manage Server (default_member_permissions)', () => {
    expect(() =>
      stack.discord.invokeCommand({ name: 'policy', user: 'bob', channel: 'general', subcommand: 'show' }),
    ).toThrow('bob may not use /policy');
  });
});

describe('forged button ids are refused ephemerally and change nothing', () => {
  test.each([
    ['an id this bot never makes', 'delete:everything'],
    ['a well-formed id of a job that does not exist', 'u:1:zzzzzzzzzzzz'],
    ['an index outside the grid', 'u:9:zzzzzzzzzzzz'],
  ])('%s', async (_, customId) => {
    const grid = stack.discord
      .messages('general')
      .find((m) => m.attachments.some((a) => a.filename.startsWith('grid-')))!;
    const before = await stack.renderQueue.getJobCounts();
    const handle = stack.discord.pressButton({ user: 'bob', messageId: grid.id, customId, forged: true });
    await handle.response(3000);
    const answer = await stack.discord.waitForMessage((m) => m.interactionId === handle.id && m.ephemeral, {
      timeoutMs: 5000,
    });
    expect(answer.content).toMatch(/not made by this bot|has expired or never existed/);
    expect(await stack.renderQueue.getJobCounts()).toEqual(before);
  });
});

describe('operations', () => {
  test('the bot and the worker serve /healthz and Prometheus /metrics', async () => {
    const bot = await fetch(`http://127.0.0.1:${metricsPort}/healthz`);
    expect(bot.status).toBe(200);
    expect(await bot.json()).toMatchObject({ ok: true, redis: 'ready', discord: 'ready' });
    const botMetrics = await (await fetch(`http://127.0.0.1:${metricsPort}/metrics`)).text();
    expect(botMetrics).toMatch(/latentbot_queue_jobs\{state="waiting"\} \d+/);
    expect(botMetrics).toMatch(/latentbot_interactions_total\{kind="\/imagine",outcome="ok"\} [1-9]/);
    expect(botMetrics).toMatch(/latentbot_deliveries_total\{via="edit",outcome="done"\} [1-9]/);

    const worker = await fetch(`http://127.0.0.1:${metricsPort + 1}/healthz`);
    expect(worker.status).toBe(200);
    const workerMetrics = await (await fetch(`http://127.0.0.1:${metricsPort + 1}/metrics`)).text();
    expect(workerMetrics).toMatch(
      /latentbot_job_seconds_count\{worker="[^"]+",kind="imagine",outcome="done"\} [1-9]/,
    );
    expect(workerMetrics).toMatch(/latentbot_denoise_step_seconds_count\{worker="[^"]+"\} [1-9]/);
    expect(workerMetrics).toMatch(/latentbot_worker_busy_seconds_total\{worker="[^"]+"\} [0-9.]+/);
  });
});

describe('/describe', () => {
  /** A finished /describe answer: its numbered prompts, with their buttons. */
  const isDescription = (m: MessageView) => m.components.length > 0 && /\n1\. /.test(m.content);
  /** The prompts of a /describe answer, in the order of its buttons. */
  const promptsOf = (m: MessageView) => [...m.content.matchAll(/^(\d)\. (.+)$/gm)].map((line) => line[2]!);

  test('answers four prompts in words the model knows; 1-4 and Imagine all start jobs, 🔄 gives four more', async () => {
    const art = await sharp(
      readFileSync(new URL('../../models/emoji-ld/samples/reference_sampler.png', import.meta.url)),
    )
      .extract({ left: 0, top: 0, width: 64, height: 64 })
      .png()
      .toBuffer();
    const handle = stack.discord.invokeCommand({
      name: 'describe',
      user: 'bob',
      channel: 'general',
      options: { image: { filename: 'art.png', contentType: 'image/png', data: art } },
    });
    const answer = await finishedMessage(stack.discord, handle, isDescription);
    const lines = promptsOf(answer);
    expect(lines).toHaveLength(4);
    expect(new Set(lines).size).toBe(4);
    const ids = listCustomIds(answer.components);
    expect(ids.filter((id) => id.startsWith('d:'))).toHaveLength(4);

    // 1: /imagine with the first prompt.
    const one = pressButton(stack.discord, 'bob', answer, 'd:1:');
    const grid = await finishedMessage(stack.discord, one);
    expect(grid.content).toContain(lines[0]!);

    // 🔄: four other prompts.
    const more = pressButton(stack.discord, 'bob', answer, 'dr:');
    const nextLines = promptsOf(await finishedMessage(stack.discord, more, isDescription));
    expect(nextLines).toHaveLength(4);
    expect(nextLines.filter((line) => lines.includes(line))).toEqual([]);

    // Imagine all: four jobs, four messages.
    const before = (await stack.redisClient.keys('lb:job:*')).length;
    const all = pressButton(stack.discord, 'bob', answer, 'da:');
    await all.response(3000);
    for (let i = 0; i < 100 && (await stack.redisClient.keys('lb:job:*')).length < before + 4; i++)
      await new Promise((r) => setTimeout(r, 100));
    expect((await stack.redisClient.keys('lb:job:*')).length).toBe(before + 4);
  }, 120_000);

  test('a link that is not an image link is refused before anything is fetched', async () => {
    const handle = stack.discord.invokeCommand({
      name: 'describe',
      user: 'bob',
      channel: 'general',
      options: { link: 'https://example.com/page' },
    });
    const answer = await ephemeralAnswer(stack.discord, handle);
    expect(answer.content).toContain('That link cannot be described');
  }, 30_000);
});
