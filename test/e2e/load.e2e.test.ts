import { imagine, isGrid, jobIdOf, policy } from './messages.js';
import { type Stack, startStack } from './stack.js';

const USERS = 50;
const JOBS_PER_USER = 3;
const MAX_RUNNING = 1;
const MAX_QUEUED = 3;

let stack: Stack;
const users = Array.from({ length: USERS }, (_, i) => `user${i}`);

beforeAll(async () => {
  stack = await startStack({
    workers: 2,
    world: {
      users: [{ username: 'ada' }, ...users.map((username) => ({ username }))],
      guilds: [
        {
          name: 'Load',
          channels: [{ name: 'general' }],
          members: [{ user: 'ada', manageGuild: true }, ...users.map((user) => ({ user }))],
        },
      ],
    },
  });
}, 90_000);
afterAll(async () => stack?.stop());

test(`${USERS} users x ${JOBS_PER_USER} jobs: all complete once, per-user caps hold throughout`, async () => {
  await policy(stack.discord, 'set', {
    max_running: MAX_RUNNING,
    max_queued: MAX_QUEUED,
    max_queued_server: USERS * JOBS_PER_USER,
  }).response(3000);

  // Sample every user's running and queued sets while the load runs.
  let maxRunning = 0;
  let maxQueued = 0;
  let sampling = true;
  const sampler = (async () => {
    while (sampling) {
      const pipeline = stack.redisClient.pipeline();
      for (const user of users) {
        const id = stack.discord.core.world.requireUser(user).id;
        pipeline.zcount(`lb:running:${id}`, Date.now(), '+inf');
        pipeline.zcard(`lb:queued:${stack.discord.core.world.guilds[0]!.id}:${id}`);
      }
      const results = (await pipeline.exec()) ?? [];
      results.forEach(([, value], i) => {
        if (i % 2 === 0) maxRunning = Math.max(maxRunning, Number(value));
        else maxQueued = Math.max(maxQueued, Number(value));
      });
      await new Promise((r) => setTimeout(r, 20));
    }
  })();

  const started = performance.now();
  const handles = users.flatMap((user, u) =>
    Array.from({ length: JOBS_PER_USER }, (_, j) =>
      imagine(stack.discord, user, `${['penguin', 'palm tree', 'red apple'][j]} ${u} --q .25`),
    ),
  );
  const responses = await Promise.all(handles.map((h) => h.response(3000)));
  expect(responses.every((r) => r.callbackType === 4)).toBe(true);

  const originals = handles.map((h) => stack.discord.originalMessage(h.id)!.id);
  await Promise.all(
    originals.map((id) =>
      stack.discord.waitForMessage((m) => m.id === id && isGrid(m), { timeoutMs: 240_000 }),
    ),
  );
  const seconds = (performance.now() - started) / 1000;
  sampling = false;
  await sampler;

  const grids = stack.discord.messages('general').filter(isGrid);
  const jobIds = grids.map(jobIdOf);
  expect(new Set(jobIds).size).toBe(USERS * JOBS_PER_USER);
  expect(grids).toHaveLength(USERS * JOBS_PER_USER);
  expect(maxRunning).toBeLessThanOrEqual(MAX_RUNNING);
  expect(maxQueued).toBeLessThanOrEqual(MAX_QUEUED);

  const latencies = stack.discord
    .timings()
    .filter((t) => t.name === 'imagine')
    .map((t) => t.firstResponseMs ?? Number.POSITIVE_INFINITY)
    .sort((a, b) => a - b);
  expect(latencies).toHaveLength(USERS * JOBS_PER_USER);
  const p = (q: number) => latencies[Math.min(latencies.length - 1, Math.floor(q * latencies.length))]!;
  process.stdout.write(
    `load: ${USERS * JOBS_PER_USER} jobs in ${seconds.toFixed(1)} s; first answer p50 ${p(0.5).toFixed(1)} ms, p95 ${p(0.95).toFixed(1)} ms; max running/user ${maxRunning}, max queued/user ${maxQueued}\n`,
  );
}, 300_000);
