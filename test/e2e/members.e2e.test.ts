import {
  type InteractionHandle,
  listCustomIds,
  type MessageView,
  type OptionValue,
} from '../../src/sandbox/discord/index.js';
import {
  componentId,
  ephemeralAnswer,
  finishedMessage,
  imagine,
  imagineGrid,
  isFinalImage,
  isGrid,
  jobIdOf,
  policy,
  pressButton,
  requireJobId,
} from './messages.js';
import { recordOf } from './records.js';
import { type Stack, startStack } from './stack.js';

let stack: Stack;
beforeAll(async () => {
  stack = await startStack({
    workers: 1,
    world: {
      users: [{ username: 'ada' }, { username: 'bob' }, { username: 'cy' }],
      guilds: [
        {
          name: 'Latent Sandbox',
          channels: [{ name: 'general' }],
          members: [{ user: 'ada', manageGuild: true }, { user: 'bob' }, { user: 'cy' }],
        },
        { name: 'Elsewhere', channels: [{ name: 'elsewhere' }], members: [{ user: 'bob' }] },
      ],
    },
  });
}, 90_000);
afterAll(async () => stack?.stop());

const answer = (handle: InteractionHandle) => ephemeralAnswer(stack.discord, handle);

/** What ada, the server's admin, hears back from a `/policy` subcommand. */
const policyReply = (subcommand: string, options: Record<string, OptionValue>) =>
  answer(policy(stack.discord, subcommand, options));

test('an admin bans a word with /policy; prompts using it are refused with what matched', async () => {
  const set = await policyReply('ban', { word: 'gore' });
  expect(set.content).toContain('Banned `gore`');
  expect(set.content).toContain('banned words: `gore`');

  const refused = await answer(imagine(stack.discord, 'bob', 'a ＧＯＲＥ scene'));
  // The parser folds full-width letters (NFKC), so the match is reported in its ASCII form.
  expect(refused.content).toContain('"GORE" is not allowed on this server (banned word: gore)');

  const unban = await policyReply('unban', { word: 'GORE' });
  expect(unban.content).toContain('banned words: none');
}, 60_000);

test('/policy set turns the weight-sum rule off, and the Loab prompt runs', async () => {
  const set = await policyReply('set', { weight_sum_positive: false, max_steps: 40 });
  expect(set.content).toContain('weights must add up to more than 0: no');
  expect(set.content).toContain('max steps 40');
  const grid = await imagineGrid(stack.discord, 'bob', 'DIGITA PNTICS skyline logo::-99.99');
  expect(grid.content).toContain('DIGITA PNTICS skyline logo::-99.99');
}, 90_000);

test('remix mode: /settings turns it on, V1 opens a form, the edited prompt makes the variation', async () => {
  const view = await answer(
    stack.discord.invokeCommand({ name: 'settings', user: 'cy', channel: 'general' }),
  );
  expect(view.content).toContain('remix off');
  const toggle = stack.discord.pressButton({ user: 'cy', messageId: view.id, customId: 'set:remix' });
  await toggle.response(3000);
  const updated = await stack.discord.waitForMessage(
    (m) => m.id === view.id && m.content.includes('remix on'),
    { timeoutMs: 5000 },
  );
  expect(updated.ephemeral).toBe(true);

  const grid = await imagineGrid(stack.discord, 'cy', 'penguin --seed 3');
  const v1 = componentId(grid, 'v:1:');
  const press = stack.discord.pressButton({ user: 'cy', messageId: grid.id, customId: v1 });
  expect((await press.response(3000)).callbackType).toBe(9);
  const modal = stack.discord.modals().at(-1)!;
  expect(modal.customId).toBe(`remix:${v1}`);

  const submit = stack.discord.submitModal({
    user: 'cy',
    customId: modal.customId,
    values: { prompt: 'penguin::1 tropical::0.5' },
  });
  const varied = await finishedMessage(stack.discord, submit);
  const record = await recordOf(stack.redisClient, varied);
  expect(record.description.prompts.map((p: { kind: string; text?: string }) => p.text ?? p.kind)).toEqual([
    'image',
    'penguin',
    'tropical',
  ]);
}, 120_000);

test("/info lists the user's jobs; /show re-posts a grid with working buttons", async () => {
  const grid = await imagineGrid(stack.discord, 'bob', 'red apple');
  const jobId = requireJobId(grid);
  const info = await answer(stack.discord.invokeCommand({ name: 'info', user: 'bob', channel: 'general' }));
  expect(info.content).toMatch(/finished recently: \d+ jobs/);

  const show = stack.discord.invokeCommand({
    name: 'show',
    user: 'cy',
    channel: 'general',
    options: { job: jobId },
  });
  await show.response(3000);
  const reposted = stack.discord.originalMessage(show.id)!;
  expect(isGrid(reposted)).toBe(true);
  expect(listCustomIds(reposted.components)).toEqual(listCustomIds(grid.components));

  const missing = await answer(
    stack.discord.invokeCommand({
      name: 'show',
      user: 'cy',
      channel: 'general',
      options: { job: 'zzzzzzzzzzzz' },
    }),
  );
  expect(missing.content).toContain('No job `zzzzzzzzzzzz`');
}, 90_000);

test('a button naming a job of another server is refused and starts nothing', async () => {
  const home = await imagineGrid(stack.discord, 'bob', 'crab --seed 1');
  const homeJob = requireJobId(home);
  const away = await imagineGrid(stack.discord, 'bob', 'snowman', 'elsewhere');
  const before = await stack.renderQueue.getJobCounts();
  const forged = stack.discord.pressButton({
    user: 'bob',
    messageId: away.id,
    customId: `u:1:${homeJob}`,
    forged: true,
  });
  const refusal = await answer(forged);
  expect(refusal.content).toContain('not made by this bot');
  expect(await stack.renderQueue.getJobCounts()).toEqual(before);
}, 120_000);

test('--repeat over the server limit is refused before anything is queued', async () => {
  const refusal = await answer(imagine(stack.discord, 'cy', 'owl --repeat 5'));
  expect(refusal.content).toContain("--repeat 5 is over this server's limit of 4");
}, 30_000);

test('permutations and --repeat post one message per job, each finished with its own grid', async () => {
  const handle = imagine(stack.discord, 'cy', 'a {red, blue} bird --repeat 2');
  await handle.response(3000);
  const messages = () =>
    stack.discord
      .messages('general')
      .filter((m) => m.interactionId === handle.id || m.content.includes(' bird'));
  for (let i = 0; i < 600 && messages().filter(isGrid).length < 4; i++)
    await new Promise((r) => setTimeout(r, 100));
  const grids = messages().filter(isGrid);
  expect(grids.map((m) => /\*\*(a \w+ bird) --repeat 2\*\*/.exec(m.content)?.[1]).sort()).toEqual([
    'a blue bird',
    'a blue bird',
    'a red bird',
    'a red bird',
  ]);
  expect(new Set(grids.map(jobIdOf)).size).toBe(4);
}, 120_000);

test('/prefer: a named option expands in prompts, the suffix fills the rest, bad values change nothing', async () => {
  const prefer = (subcommand: string, options: Record<string, string> = {}) =>
    answer(
      stack.discord.invokeCommand({ name: 'prefer', user: 'cy', channel: 'general', subcommand, options }),
    );

  const saved = await prefer('option set', { name: 'wide', value: '--ar 2:1 --s 250' });
  expect(saved.content).toContain('Saved `--wide`.');
  expect(saved.content).toContain('`--wide` = `--ar 2:1 --s 250`');
  expect((await prefer('suffix', { value: '--chaos 20' })).content).toContain('suffix: `--chaos 20`');

  // Refused, each with its reason, and nothing else changed.
  expect((await prefer('option set', { name: 'ar', value: '--s 10' })).content).toContain(
    "one of the prompt language's own parameters",
  );
  expect((await prefer('option set', { name: 'x', value: 'a red cat' })).content).toContain(
    'must be parameters only',
  );
  expect((await prefer('option set', { name: 'x', value: '--chaos 500' })).content).toContain('Not saved');
  const listed = await prefer('option list');
  expect(listed.content).toContain('`--wide` = `--ar 2:1 --s 250`');
  expect(listed.content).not.toContain('--x');

  const grid = await imagineGrid(stack.discord, 'cy', 'a lighthouse --wide');
  const record = await recordOf(stack.redisClient, grid);
  expect(record.description.params).toMatchObject({
    aspect: { width: 2, height: 1 },
    stylize: 250,
    chaos: 20,
  });
  expect(record.description.prompt).toBe('a lighthouse --wide');

  expect((await prefer('option delete', { name: 'wide' })).content).toContain('Deleted `--wide`.');
  expect((await prefer('suffix')).content).toContain('Suffix removed.');
  const unknown = await answer(imagine(stack.discord, 'cy', 'a lighthouse --wide'));
  expect(unknown.content).toContain('unknown parameter --wide');
}, 90_000);

test("an image of one server's job brought to another server is not linked to it (nothing leaks across)", async () => {
  const grid = await imagineGrid(stack.discord, 'bob', 'a quiet harbour at dawn');
  const saved = Buffer.from(stack.discord.attachmentBytes(grid.attachments[0]!));
  const blend = (channel: string) =>
    finishedMessage(
      stack.discord,
      stack.discord.invokeCommand({
        name: 'blend',
        user: 'bob',
        channel,
        options: {
          image1: { filename: 'saved.png', contentType: 'image/png', data: saved },
          image2: { filename: 'saved-again.png', contentType: 'image/png', data: saved },
        },
      }),
    );
  // Same server: recognised (the exact pixels).
  const here = await recordOf(stack.redisClient, await blend('general'));
  expect(Object.values(here.origins ?? {})).toContainEqual({ jobId: jobIdOf(grid), index: null });
  // Another server: the same bytes are just an upload.
  const there = await recordOf(stack.redisClient, await blend('elsewhere'));
  expect(there.origins).toBeUndefined();
}, 90_000);

describe('on a non-square upscale: Make Square and Custom Zoom', () => {
  let upscale: MessageView;
  beforeAll(async () => {
    const grid = await imagineGrid(stack.discord, 'bob', 'a lighthouse --ar 3:2 --seed 11');
    upscale = await finishedMessage(
      stack.discord,
      pressButton(stack.discord, 'bob', grid, 'u:1:'),
      isFinalImage,
    );
  }, 90_000);

  test('Make Square is offered, and makes a square canvas with the image across its middle', async () => {
    const square = componentId(upscale, 'sq:');
    expect(square).toBeDefined();
    const made = await finishedMessage(
      stack.discord,
      stack.discord.pressButton({ user: 'bob', messageId: upscale.id, customId: square }),
    );
    expect(made.content).toContain('Make Square');
    const record = await recordOf(stack.redisClient, made);
    expect(record.description.canvas).toEqual({ mode: 'outpaint', zoom: 1, square: true });
    expect(record.result.contentWidth).toBe(record.result.contentHeight);
  }, 90_000);

  test('Custom Zoom: the form takes --zoom and a new --ar; a --zoom out of range is refused', async () => {
    const custom = componentId(upscale, 'zc:');
    const press = stack.discord.pressButton({ user: 'bob', messageId: upscale.id, customId: custom });
    expect((await press.response(3000)).callbackType).toBe(9);
    const modal = stack.discord.modals().at(-1)!;
    expect(modal.customId).toBe(`zm:${custom.slice(3)}`);
    const wrong = stack.discord.submitModal({
      user: 'bob',
      customId: modal.customId,
      values: { prompt: 'a harbour --zoom 5' },
    });
    expect((await answer(wrong)).content).toContain('--zoom must be 1-2');
    const again = stack.discord.pressButton({ user: 'bob', messageId: upscale.id, customId: custom });
    await again.response(3000);
    const submit = stack.discord.submitModal({
      user: 'bob',
      customId: stack.discord.modals().at(-1)!.customId,
      values: { prompt: 'a harbour at night --zoom 1.5 --ar 2:1' },
    });
    const zoomed = await finishedMessage(stack.discord, submit);
    const record = await recordOf(stack.redisClient, zoomed);
    expect(record.description.canvas).toEqual({
      mode: 'outpaint',
      zoom: 1.5,
      aspect: { width: 2, height: 1 },
    });
    expect(record.description.prompts.map((p: { text?: string }) => p.text)).toEqual(['a harbour at night']);
    expect(record.result.contentWidth / record.result.contentHeight).toBeCloseTo(2, 0);
  }, 90_000);
});
