import { MessageUpdater } from '../../src/discord/message-updater.js';

const tick = () => new Promise((r) => setTimeout(r, 5));

test('progress edits coalesce to the newest, and none lands after the final one', async () => {
  const applied: string[] = [];
  const updater = new MessageUpdater(() => {});
  let release!: () => void;
  const blocker = new Promise<void>((r) => (release = r));
  updater.progress('j', async () => {
    await blocker;
    applied.push('p1');
  });
  await tick(); // p1 is now in flight
  updater.progress('j', async () => void applied.push('p2'));
  updater.progress('j', async () => void applied.push('p3'));
  const final = updater.final('j', async () => void applied.push('final'));
  updater.progress('j', async () => void applied.push('late'));
  release();
  await final;
  await tick();
  expect(applied).toEqual(['p1', 'final']);
});

test('a failing progress edit does not block the final one', async () => {
  const errors: unknown[] = [];
  const updater = new MessageUpdater((_, error) => errors.push(error));
  updater.progress('j', async () => {
    throw new Error('429');
  });
  await tick();
  let done = false;
  await updater.final('j', async () => {
    done = true;
  });
  expect(done).toBe(true);
  expect(errors).toHaveLength(1);
});

test('while one edit is in flight, only the newest waiting edit runs after it', async () => {
  const applied: string[] = [];
  const updater = new MessageUpdater(() => {});
  let release!: () => void;
  const blocker = new Promise<void>((r) => (release = r));
  updater.progress('j', async () => {
    await blocker;
    applied.push('p1');
  });
  await tick();
  updater.progress('j', async () => void applied.push('p2'));
  updater.progress('j', async () => void applied.push('p3'));
  release();
  await tick();
  expect(applied).toEqual(['p1', 'p3']);
});
