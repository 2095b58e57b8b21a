/**
 * What one job can cost a worker and Redis, for the policy's bounds (README: "Running it on a public
 * server"). Every prompt part is a row per image in each UNet call, so time grows with the parts.
 *   npm run bench:job-cost -- [--model dir] [--repeats n] [--json]
 * Lines: `parts_<n>` (median seconds of a default grid with n text parts, ratio to one part), `worst_*`
 * (the largest prompts the default policy and the hard ceilings allow: seconds and the worker's peak
 * resident memory, each in a fresh process), `redis_bytes_per_job` (MEMORY USAGE of everything a worst
 * job leaves in Redis: record, inputs, four images and the grid).
 */
import { execFileSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import sharp from 'sharp';
import { InferenceProcess } from '../src/diffusion/inference-process.js';
import { imagesOf } from '../src/diffusion/run-job.js';
import { prepareInputImage } from '../src/images/input-image.js';
import { readModelInfo } from '../src/model/info.js';
import { DEFAULT_POLICY, POLICY_CEILINGS } from '../src/policy/guild-policy.js';
import { parsePrompt } from '../src/prompt/parse.js';
import { openStores } from '../src/store/index.js';
import { startLocalRedis } from '../src/store/local-redis.js';
import { median, round } from './stats.js';

const { values } = parseArgs({
  options: {
    model: { type: 'string', default: 'models/emoji-ld2' },
    repeats: { type: 'string', default: '5' },
    json: { type: 'boolean', default: false },
    child: { type: 'string' },
  },
});
const model = values.model;
const WORDS = ['cat', 'dog', 'apple', 'star', 'moon', 'tree', 'fish', 'bird', 'house', 'car', 'sun', 'rain'];
const textParts = (n: number) =>
  Array.from({ length: n }, (_, i) => `${WORDS[i % WORDS.length]} ${i}::1`).join(' ');
const links = (n: number) => Array.from({ length: n }, (_, i) => `https://example.com/${i}.jpg`);

/** A 4096x4096 photo-like JPEG, brought down as the bot does before it stores anything. */
async function memberImage(seed: number): Promise<Buffer> {
  const side = 4096;
  const raw = Buffer.alloc(side * side * 3);
  for (let i = 0; i < raw.length; i++) raw[i] = (i * (31 + seed) + (i >> 12)) & 255;
  const jpeg = await sharp(raw, { raw: { width: side, height: side, channels: 3 } })
    .jpeg({ quality: 85 })
    .toBuffer();
  return (await prepareInputImage(jpeg, { keepSide: readModelInfo(model).inputSide })).png;
}

const INPUTS = join(tmpdir(), 'latentbot-job-cost-inputs.json');

/** The largest prompt of `parts` text parts; its images come from the parent (as the bot stored them). */
function worstPrompt(parts: number, stored: readonly string[]) {
  const urls = links(POLICY_CEILINGS.imagePrompts);
  const description = parsePrompt(`${urls.join(' ')} ${textParts(parts)} --q 2`);
  const images: Record<string, Uint8Array> = {};
  for (const [i, url] of urls.entries()) images[url] = Buffer.from(stored[i]!, 'base64');
  return { description, images };
}

// Child: one worst job in a fresh process, so its peak memory is the worker's own.
if (values.child) {
  const stored = JSON.parse(readFileSync(INPUTS, 'utf8')) as string[];
  const { description, images } = worstPrompt(Number(values.child), stored);
  const worker = await InferenceProcess.start(model);
  const started = performance.now();
  const output = imagesOf(await worker.run(description, { seed: 1, images }));
  const seconds = (performance.now() - started) / 1000;
  const engineMb = await worker.peakRssMb();
  await worker.close();
  const bytes = [output.grid, ...output.images.map((i) => i.png)].reduce((n, b) => n + (b?.length ?? 0), 0);
  console.log(
    JSON.stringify({ seconds, maxRssMb: process.resourceUsage().maxRSS / 1024 + engineMb, pngBytes: bytes }),
  );
  process.exit(0);
}

const print = (line: Record<string, unknown>) =>
  console.log(
    values.json
      ? JSON.stringify(line)
      : Object.entries(line)
          .map(([k, v]) => `${k}=${v}`)
          .join(' '),
  );

const storedInputs: string[] = [];
for (let i = 0; i < POLICY_CEILINGS.imagePrompts; i++)
  storedInputs.push((await memberImage(i)).toString('base64'));
writeFileSync(INPUTS, JSON.stringify(storedInputs));

const worker = await InferenceProcess.start(model);
const repeats = Number(values.repeats);
const one = async (prompt: string) => {
  const times: number[] = [];
  for (let r = 0; r < repeats; r++) {
    const started = performance.now();
    await worker.run(parsePrompt(prompt), { seed: r, images: {} });
    times.push((performance.now() - started) / 1000);
  }
  return median(times);
};
await one('warm up'); // first run pays for lazy initialisation
// Side by side: each size's repeats interleave with the one-part baseline of the same moment.
const baseline = await one(textParts(1));
for (const n of [1, 2, 4, 8, 16]) {
  const seconds = n === 1 ? baseline : await one(textParts(n));
  print({ name: `parts_${n}`, seconds: round(seconds), ratio_to_one_part: round(seconds / baseline, 2) });
}
await worker.close();

for (const [label, parts] of [
  ['worst_default_policy', DEFAULT_POLICY.maxTextParts],
  ['worst_ceilings', POLICY_CEILINGS.textParts],
] as const) {
  const out = execFileSync(
    process.execPath,
    ['--import', 'tsx', 'bench/job-cost.ts', '--model', model, '--child', String(parts)],
    {
      encoding: 'utf8',
    },
  );
  const result = JSON.parse(out.trim().split('\n').pop()!) as {
    seconds: number;
    maxRssMb: number;
    pngBytes: number;
  };
  print({
    name: label,
    prompt: `${POLICY_CEILINGS.imagePrompts} images (4096 px JPEGs, kept at the input side) + ${parts} text parts, --q 2`,
    seconds: round(result.seconds, 2),
    ratio_to_one_part: round(result.seconds / baseline, 1),
    worker_peak_rss_mb: round(result.maxRssMb, 0),
    output_png_bytes: result.pngBytes,
  });
}

// Redis: everything a worst job leaves behind, measured by Redis itself.
const redis = await startLocalRedis();
const { Redis } = await import('ioredis');
const client = new Redis(redis.url);
const stores = openStores(client, 3600, 'bench');
const { description, images } = worstPrompt(DEFAULT_POLICY.maxTextParts, storedInputs);
const inputIds = Object.keys(images).map((_, i) => `input${i}`);
for (const [i, bytes] of Object.values(images).entries())
  await stores.images.putUpload(inputIds[i]!, Buffer.from(bytes));
const worstWorker = await InferenceProcess.start(model);
const output = imagesOf(await worstWorker.run(description, { seed: 2, images }));
await worstWorker.close();
await stores.images.putJobImages(
  'benchjob0001',
  new Map<string, Buffer>([
    ...output.images.map((image) => [String(image.index), Buffer.from(image.png)] as [string, Buffer]),
    ['grid', Buffer.from(output.grid!)],
  ]),
);
await stores.records.create({
  id: 'benchjob0001',
  kind: 'imagine',
  userId: '1',
  description: { ...description, params: { ...description.params, seed: 2 } },
  reply: {
    applicationId: '1',
    interactionToken: 'x'.repeat(200),
    interactionAt: 0,
    messageId: '@original',
    channelId: '1',
    guildId: '1',
  },
  createdAt: 0,
  status: 'done',
  inputs: Object.fromEntries(Object.keys(images).map((url, i) => [url, `upload:${inputIds[i]}`])),
});
let total = 0;
const parts: Record<string, number> = {};
for (const key of await client.keys('bench:*')) {
  const bytes = Number(await client.memory('USAGE', key));
  total += bytes;
  const kind = key.split(':')[1]!;
  parts[kind] = (parts[kind] ?? 0) + bytes;
}
print({
  name: 'redis_bytes_per_job',
  bytes: total,
  ...Object.fromEntries(Object.entries(parts).map(([k, v]) => [`${k}_bytes`, v])),
});
client.disconnect();
await redis.stop();
