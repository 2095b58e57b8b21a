/**
 * Bot-side latencies on loopback, through the real processes (bot, worker, redis-server, loopback Discord):
 *   npm run bench:bot -- --json [--jobs n] [--model dir]
 * - first_answer_ms: a user's /imagine reaching the bot over the gateway -> the bot's first response
 *   arriving at the Discord server (what the user sees as "Waiting to start"), one command at a time.
 * - queue_overhead_ms: the render job added to the BullMQ queue (record enqueuedAt, just before
 *   queue.add) -> a worker's processor taking it (record pickedAt), on an idle queue, both stamped with
 *   Date.now() on the same host (1 ms resolution).
 * Medians and 95th percentiles over `jobs` commands, each sent after the previous one finished.
 */
import { existsSync } from 'node:fs';
import { parseArgs } from 'node:util';
import type { MessageView } from '../src/sandbox/discord/index.js';
import { startStack } from '../test/e2e/stack.js';

const { values } = parseArgs({
  options: {
    json: { type: 'boolean', default: false },
    jobs: { type: 'string', default: '30' },
    model: { type: 'string' },
  },
});
const jobs = Number(values.jobs);
const model =
  values.model ??
  (existsSync('models/emoji-ld/unet/model.onnx') ? 'models/emoji-ld' : 'test/fixtures/models/emoji-tiny');

const quantile = (sorted: number[], q: number) =>
  sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))] ?? Number.NaN;
const round = (x: number) => Math.round(x * 100) / 100;
const isGrid = (m: MessageView) =>
  m.attachments.some((a) => a.filename.startsWith('grid-')) && m.components.length > 0;

const stack = await startStack({ workers: 1, modelDir: model });
const firstAnswer: number[] = [];
const queueOverhead: number[] = [];
try {
  for (let i = 0; i < jobs + 2; i++) {
    const handle = stack.discord.invokeCommand({
      name: 'imagine',
      user: 'bob',
      channel: 'general',
      options: { prompt: `penguin ${i}` },
    });
    const response = await handle.response(5000);
    const original = stack.discord.originalMessage(handle.id)!;
    const grid = await stack.discord.waitForMessage((m) => m.id === original.id && isGrid(m), {
      timeoutMs: 60_000,
    });
    const jobId = /job ([a-z0-9]{12})/.exec(grid.content)![1]!;
    const record = JSON.parse((await stack.redisClient.get(`lb:job:${jobId}`))!) as {
      enqueuedAt: number;
      pickedAt: number;
    };
    if (i < 2) continue; // warm-up: connections, JIT, first model run
    firstAnswer.push(response.latencyMs);
    queueOverhead.push(record.pickedAt - record.enqueuedAt);
  }
} finally {
  await stack.stop();
}
firstAnswer.sort((a, b) => a - b);
queueOverhead.sort((a, b) => a - b);
const results = [
  {
    name: 'first_answer_ms',
    p50: round(quantile(firstAnswer, 0.5)),
    p95: round(quantile(firstAnswer, 0.95)),
    n: jobs,
    goal: '< 300',
  },
  {
    name: 'queue_overhead_ms',
    p50: round(quantile(queueOverhead, 0.5)),
    p95: round(quantile(queueOverhead, 0.95)),
    n: jobs,
    goal: 'p50 < 5',
  },
];
for (const result of results) {
  process.stdout.write(
    values.json
      ? `${JSON.stringify({ ...result, model })}\n`
      : `${result.name}: p50 ${result.p50} ms, p95 ${result.p95} ms (n=${result.n}, goal ${result.goal})\n`,
  );
}
