/**
 * Drives the real discord.js client against the loopback Discord: the interaction flows the bot uses,
 * and the limits the server must enforce so that tests catch what production Discord would refuse.
 */
import {
  ActionRowBuilder,
  AttachmentBuilder,
  ButtonBuilder,
  ButtonStyle,
  Client,
  DiscordAPIError,
  GatewayIntentBits,
  type Interaction,
  MessageFlags,
  ModalBuilder,
  PermissionFlagsBits,
  Routes,
  TextInputBuilder,
  TextInputStyle,
} from 'discord.js';
import {
  type LoopbackDiscord,
  type MessageView,
  startLoopbackDiscord,
} from '../../src/sandbox/discord/index.js';
import { solidPng } from './png.js';

type Handler = (interaction: Interaction) => Promise<void>;

let d: LoopbackDiscord;
let client: Client;
const handlers = new Map<string, Handler>();
const handlerErrors: unknown[] = [];
const warnings: string[] = [];
let guildId: string;

/** Routes interactions to the handler registered under the command name or custom_id. */
function keyOf(interaction: Interaction): string {
  if (interaction.isChatInputCommand()) return interaction.commandName;
  if (interaction.isMessageComponent() || interaction.isModalSubmit())
    return interaction.customId.split(':')[0] ?? '';
  return '';
}

function deferred<T>(): { promise: Promise<T>; resolve: (value: T) => void } {
  let resolve!: (value: T) => void;
  const promise = new Promise<T>((r) => {
    resolve = r;
  });
  return { promise, resolve };
}

/** Runs `action` and returns the error it rejects with (failing if it does not). */
async function rejection(action: Promise<unknown>): Promise<DiscordAPIError> {
  try {
    await action;
  } catch (error) {
    if (error instanceof DiscordAPIError) return error;
    throw error;
  }
  throw new Error('expected the request to be refused');
}

const grid = solidPng(64, 48);

beforeAll(async () => {
  d = await startLoopbackDiscord({
    limits: { attachmentBytes: 256 * 1024 },
    log: (line) => warnings.push(line),
  });
  guildId = d.snapshot().guilds[0]?.id ?? '';
  client = new Client({ intents: [GatewayIntentBits.Guilds], rest: d.restOptions });
  client.on('interactionCreate', (interaction) => {
    const handler = handlers.get(keyOf(interaction));
    handler?.(interaction).catch((error: unknown) => handlerErrors.push(error));
  });
  const ready = new Promise<void>((resolve) => client.once('clientReady', () => resolve()));
  await client.login(d.application.token);
  await ready;
});

afterAll(async () => {
  await client.destroy();
  await d.close();
});

afterEach(() => {
  handlers.clear();
  expect(handlerErrors).toEqual([]);
});

test('the client becomes ready with the guild cached and deploys commands', async () => {
  expect(client.user?.id).toBe(d.application.id);
  const guild = client.guilds.cache.get(guildId);
  expect(guild?.channels.cache.map((c) => c.name).sort()).toEqual(['general', 'imagine']);
  await client.application?.commands.set(
    [
      {
        name: 'imagine',
        description: 'Create images',
        options: [{ name: 'prompt', description: 'What', type: 3, required: true }],
      },
      {
        name: 'blend',
        description: 'Blend',
        options: [1, 2].map((n) => ({
          name: `image${n}`,
          description: 'An image',
          type: 11,
          required: true,
        })),
      },
      {
        name: 'policy',
        description: 'Server rules',
        default_member_permissions: String(PermissionFlagsBits.ManageGuild),
      },
    ],
    guildId,
  );
  expect(d.commands(guildId).map((c) => c.name)).toEqual(['imagine', 'blend', 'policy']);
  expect(d.events().some((e) => e.type === 'commands.update' && e.guildId === guildId)).toBe(true);
  // The driver refuses what a Discord user could not send.
  expect(() => d.invokeCommand({ name: 'imagine', user: 'bob', channel: 'imagine', options: {} })).toThrow(
    /required option prompt/,
  );
  // Commands limited by default_member_permissions are hidden from members without them.
  expect(() => d.invokeCommand({ name: 'policy', user: 'bob', channel: 'general' })).toThrow(
    /may not use \/policy/,
  );
  handlers.set('policy', async (i) => {
    if (i.isChatInputCommand()) await i.reply({ content: 'rules', flags: MessageFlags.Ephemeral });
  });
  const allowed = d.invokeCommand({ name: 'policy', user: 'ada', channel: 'general' });
  expect((await allowed.response()).callbackType).toBe(4);
});

test('slash command → defer → edit with PNG and buttons → button → deferUpdate → followUp', async () => {
  const prompts: string[] = [];
  handlers.set('imagine', async (i) => {
    if (!i.isChatInputCommand()) return;
    prompts.push(i.options.getString('prompt', true));
    await i.deferReply();
    const row = new ActionRowBuilder<ButtonBuilder>().addComponents(
      [1, 2, 3, 4].map((n) =>
        new ButtonBuilder().setCustomId(`u:${n}`).setLabel(`U${n}`).setStyle(ButtonStyle.Secondary),
      ),
    );
    await i.editReply({
      content: `**${prompts.at(-1)}**`,
      files: [new AttachmentBuilder(grid, { name: 'grid.png' })],
      components: [row],
    });
  });
  handlers.set('u', async (i) => {
    if (!i.isButton()) return;
    await i.deferUpdate();
    await i.followUp({
      content: `Image #${i.customId.split(':')[1]} <@${i.user.id}>`,
      files: [{ attachment: solidPng(32, 32), name: 'up.png' }],
    });
  });

  const command = d.invokeCommand({
    name: 'imagine',
    user: 'bob',
    channel: 'imagine',
    options: { prompt: 'a red fox' },
  });
  const reply = await d.waitForMessage((m) => m.interactionId === command.id && !m.loading);
  expect(prompts).toEqual(['a red fox']);
  expect(reply.content).toBe('**a red fox**');
  expect(reply.attachments).toHaveLength(1);
  const [attachment] = reply.attachments;
  expect(attachment).toMatchObject({
    filename: 'grid.png',
    contentType: 'image/png',
    width: 64,
    height: 48,
    size: grid.length,
  });
  expect(Buffer.from(d.attachmentBytes(attachment!)).equals(grid)).toBe(true);
  // The CDN serves the same bytes with the right type.
  const served = await fetch(attachment!.url);
  expect(served.headers.get('content-type')).toBe('image/png');
  expect(Buffer.from(await served.arrayBuffer()).equals(grid)).toBe(true);
  // The deferral showed "thinking…" first, then was filled in without counting as an edit.
  const states = d.history(reply.id);
  expect(states.map((s) => s.loading)).toEqual([true, false]);
  expect(reply.editedAt).toBeNull();
  expect((await command.response()).callbackType).toBe(5);

  const press = d.pressButton({ user: 'bob', messageId: reply.id, customId: 'u:2' });
  const followUp = await d.waitForMessage(
    (m) => m.interactionId === press.id && m.content.startsWith('Image #2'),
  );
  expect(followUp.attachments[0]).toMatchObject({ width: 32, height: 32, contentType: 'image/png' });
  expect((await press.response()).callbackType).toBe(6);
  // deferUpdate left the grid message untouched.
  expect(d.history(reply.id)).toHaveLength(2);
  expect(() => d.pressButton({ user: 'bob', messageId: reply.id, customId: 'v:1' })).toThrow(/no button v:1/);

  const timing = d.timings().find((t) => t.interactionId === command.id);
  expect(timing?.firstResponseMs).toBeGreaterThan(0);
  expect(timing?.firstResponseMs).toBeLessThan(3000);
});

test('ephemeral replies are visible only to the invoking user and one initial response is allowed', async () => {
  const second = deferred<DiscordAPIError>();
  const responded = deferred<string>();
  handlers.set('settings', async (i) => {
    if (!i.isChatInputCommand()) return;
    const response = await i.reply({
      content: 'Your settings',
      flags: MessageFlags.Ephemeral,
      withResponse: true,
    });
    responded.resolve(response.resource?.message?.id ?? '');
    // A second initial response goes past discord.js's own guard straight to the server.
    second.resolve(
      await rejection(
        i.client.rest.post(Routes.interactionCallback(i.id, i.token), {
          body: { type: 4, data: { content: 'again' } },
          auth: false,
        }),
      ),
    );
  });
  const command = d.invokeCommand({ name: 'settings', user: 'ada', channel: 'general' });
  const message = await d.waitForMessage((m) => m.interactionId === command.id);
  expect(message).toMatchObject({ ephemeral: true, visibleTo: expect.any(String), content: 'Your settings' });
  expect(d.messages('general', { viewer: 'ada' }).map((m) => m.id)).toContain(message.id);
  expect(d.messages('general', { viewer: 'bob' }).map((m) => m.id)).not.toContain(message.id);
  // with_response=true returns the created message.
  expect(await responded.promise).toBe(message.id);
  const error = await second.promise;
  expect(error.status).toBe(400);
  expect(error.code).toBe(40060);
});

test('modal round trip: showModal → submit → reply with the submitted text', async () => {
  handlers.set('remix', async (i) => {
    if (!i.isChatInputCommand()) return;
    await i.showModal(
      new ModalBuilder()
        .setCustomId('remix-modal:42')
        .setTitle('Remix prompt')
        .addComponents(
          new ActionRowBuilder<TextInputBuilder>().addComponents(
            new TextInputBuilder()
              .setCustomId('prompt')
              .setLabel('Prompt')
              .setStyle(TextInputStyle.Paragraph)
              .setValue('old prompt'),
          ),
        ),
    );
  });
  handlers.set('remix-modal', async (i) => {
    if (!i.isModalSubmit()) return;
    await i.reply({ content: `remixing: ${i.fields.getTextInputValue('prompt')}` });
  });
  const command = d.invokeCommand({ name: 'remix', user: 'bob', channel: 'imagine' });
  const opened = await d.waitFor((e) => e.type === 'modal.open' && e.interactionId === command.id);
  expect(opened).toMatchObject({ customId: 'remix-modal:42', title: 'Remix prompt' });
  expect(() => d.submitModal({ user: 'cy', customId: 'remix-modal:42', values: {} })).toThrow(
    /no open modal/,
  );
  const submit = d.submitModal({ user: 'bob', customId: 'remix-modal:42', values: { prompt: 'new prompt' } });
  const reply = await d.waitForMessage((m) => m.interactionId === submit.id);
  expect(reply.content).toBe('remixing: new prompt');
});

test('select menus update the message (type 7); a modal opened from a button carries that message', async () => {
  handlers.set('prefs', async (i) => {
    if (!i.isChatInputCommand()) return;
    await i.reply({
      content: 'quality 1',
      components: [
        {
          type: 1,
          components: [
            { type: 3, custom_id: 'set:quality', options: ['1', '2'].map((v) => ({ label: v, value: v })) },
          ],
        },
        { type: 1, components: [{ type: 2, style: 2, label: 'Remix', custom_id: 'remixbtn:7' }] },
      ],
    });
  });
  handlers.set('set', async (i) => {
    if (i.isStringSelectMenu()) await i.update({ content: `quality ${i.values[0]}` });
  });
  handlers.set('remixbtn', async (i) => {
    if (!i.isButton()) return;
    await i.showModal(
      new ModalBuilder()
        .setCustomId('remixform')
        .setTitle('Remix')
        .addComponents(
          new ActionRowBuilder<TextInputBuilder>().addComponents(
            new TextInputBuilder()
              .setCustomId('prompt')
              .setLabel('Prompt')
              .setStyle(TextInputStyle.Short)
              .setValue('kept'),
          ),
        ),
    );
  });
  handlers.set('remixform', async (i) => {
    if (i.isModalSubmit()) await i.reply(`from ${i.message?.id}: ${i.fields.getTextInputValue('prompt')}`);
  });
  const command = d.invokeCommand({ name: 'prefs', user: 'ada', channel: 'general' });
  const panel = await d.waitForMessage((m) => m.interactionId === command.id);
  expect(() =>
    d.selectOption({ user: 'ada', messageId: panel.id, customId: 'set:quality', values: ['3'] }),
  ).toThrow(/offers no 3/);
  const select = d.selectOption({ user: 'ada', messageId: panel.id, customId: 'set:quality', values: ['2'] });
  expect((await select.response()).callbackType).toBe(7);
  const updated = await d.waitForMessage((m) => m.id === panel.id && m.revision === 1);
  expect(updated.content).toBe('quality 2');
  expect(updated.editedAt).not.toBeNull();

  const press = d.pressButton({ user: 'ada', messageId: panel.id, customId: 'remixbtn:7' });
  await d.waitFor((e) => e.type === 'modal.open' && e.interactionId === press.id);
  // Inputs left out keep the value the bot pre-filled.
  const submit = d.submitModal({ user: 'ada', customId: 'remixform', values: {} });
  expect((await d.waitForMessage((m) => m.interactionId === submit.id)).content).toBe(
    `from ${panel.id}: kept`,
  );
});

test("a follow-up fills a still-thinking deferral; webhook edits address only the interaction's messages", async () => {
  const done = deferred<{ first: string; second: string; foreign: DiscordAPIError }>();
  let foreignId = '';
  handlers.set('follow', async (i) => {
    if (!i.isChatInputCommand()) return;
    await i.deferReply({ flags: MessageFlags.Ephemeral });
    const first = await i.followUp({ content: 'first' });
    expect((await i.fetchReply()).content).toBe('first');
    const second = await i.followUp({ content: 'second' });
    await i.webhook.editMessage(second.id, { content: 'second, edited' });
    const foreign = await rejection(
      i.client.rest.patch(Routes.webhookMessage(i.applicationId, i.token, foreignId), {
        body: { content: 'x' },
        auth: false,
      }),
    );
    done.resolve({ first: first.id, second: second.id, foreign });
  });
  foreignId = d.messages('general')[0]?.id ?? '';
  const command = d.invokeCommand({ name: 'follow', user: 'bob', channel: 'general' });
  const { first, second, foreign } = await done.promise;
  const original = d.originalMessage(command.id);
  expect(first).toBe(original?.id);
  expect(original).toMatchObject({
    content: 'first',
    loading: false,
    ephemeral: true,
    visibleTo: expect.any(String),
  });
  expect(d.message(second)).toMatchObject({ content: 'second, edited', ephemeral: false });
  expect(foreign).toMatchObject({ status: 404, code: 10008 });
});

test('edits replace attachments when files or an attachments list are sent, and keep them otherwise', async () => {
  const done = deferred<void>();
  handlers.set('preview', async (i) => {
    if (!i.isChatInputCommand()) return;
    await i.deferReply();
    await i.editReply({ content: '10%', files: [{ attachment: solidPng(8, 8), name: 'preview-1.png' }] });
    await i.editReply({ content: '50%', files: [{ attachment: solidPng(8, 8), name: 'preview-2.png' }] });
    await i.editReply({ content: 'done' });
    await i.editReply({ attachments: [] });
    done.resolve();
  });
  const command = d.invokeCommand({ name: 'preview', user: 'bob', channel: 'imagine' });
  await done.promise;
  const id = d.originalMessage(command.id)?.id ?? '';
  expect(d.history(id).map((state) => [state.content, state.attachments.map((a) => a.filename)])).toEqual([
    ['', []],
    ['10%', ['preview-1.png']],
    ['50%', ['preview-2.png']],
    ['done', ['preview-2.png']],
    ['done', []],
  ]);
});

test('attachment options arrive resolved with CDN URLs the bot can download', async () => {
  const seen = deferred<{ names: string[]; sizes: number[]; types: (string | null)[] }>();
  handlers.set('blend', async (i) => {
    if (!i.isChatInputCommand()) return;
    const images = [i.options.getAttachment('image1', true), i.options.getAttachment('image2', true)];
    const sizes = await Promise.all(
      images.map(async (a) => (await (await fetch(a.url)).arrayBuffer()).byteLength),
    );
    seen.resolve({ names: images.map((a) => a.name), sizes, types: images.map((a) => a.contentType) });
    await i.reply({ content: `blending ${images.map((a) => `${a.width}x${a.height}`).join(' + ')}` });
  });
  const first = solidPng(20, 10);
  const second = solidPng(30, 40, [0, 0, 255]);
  const command = d.invokeCommand({
    name: 'blend',
    user: 'cy',
    channel: 'imagine',
    options: {
      image1: { filename: 'a.png', data: first },
      image2: d.upload({ filename: 'b.png', data: second }),
    },
  });
  expect(await seen.promise).toEqual({
    names: ['a.png', 'b.png'],
    sizes: [first.length, second.length],
    types: ['image/png', 'image/png'],
  });
  const reply = await d.waitForMessage((m) => m.interactionId === command.id);
  expect(reply.content).toBe('blending 20x10 + 30x40');
});

test('a first response after 3 s is refused as Unknown interaction and the interaction fails', async () => {
  const late = deferred<DiscordAPIError>();
  handlers.set('slow', async (i) => {
    if (!i.isChatInputCommand()) return;
    await new Promise((resolve) => setTimeout(resolve, 3100));
    late.resolve(await rejection(i.reply({ content: 'too late' })));
  });
  const command = d.invokeCommand({ name: 'slow', user: 'bob', channel: 'general' });
  const error = await late.promise;
  expect(error.status).toBe(404);
  expect(error.code).toBe(10062);
  expect(d.events().some((e) => e.type === 'interaction.failed' && e.interactionId === command.id)).toBe(
    true,
  );
  expect(d.originalMessage(command.id)).toBeUndefined();
}, 10_000);

test('an interaction token older than 15 minutes is refused; a channel message still works', async () => {
  const captured = deferred<Interaction>();
  handlers.set('age', async (i) => {
    if (!i.isChatInputCommand()) return;
    await i.deferReply();
    captured.resolve(i);
  });
  const command = d.invokeCommand({ name: 'age', user: 'bob', channel: 'imagine' });
  const interaction = await captured.promise;
  if (!interaction.isChatInputCommand()) throw new Error('expected a slash command');
  d.ageInteraction(command.id, 15 * 60_000 + 1);
  const error = await rejection(interaction.editReply({ content: 'finally done' }));
  expect(error.status).toBe(401);
  expect(error.code).toBe(50027);
  expect(d.originalMessage(command.id)?.loading).toBe(true);
  // The 401 of an unauthenticated webhook route must not cost the client its bot token.
  if (!interaction.channel?.isSendable()) throw new Error('expected a text channel');
  const fallback = await interaction.channel.send({ content: `<@${interaction.user.id}> finally done` });
  expect(d.message(fallback.id)?.content).toContain('finally done');

  // Moving the server clock ages every token the same way; 14 minutes is still fine.
  const another = deferred<Interaction>();
  handlers.set('age', async (i) => {
    if (!i.isChatInputCommand()) return;
    await i.deferReply();
    another.resolve(i);
  });
  d.invokeCommand({ name: 'age', user: 'bob', channel: 'imagine' });
  const second = await another.promise;
  if (!second.isChatInputCommand()) throw new Error('expected a slash command');
  try {
    d.advanceClock(14 * 60_000);
    await second.editReply({ content: 'at 14 minutes' });
    d.advanceClock(60_000 + 1);
    expect(await rejection(second.followUp({ content: 'at 15 minutes' }))).toMatchObject({
      status: 401,
      code: 50027,
    });
  } finally {
    d.advanceClock(-(15 * 60_000 + 1));
  }
});

test('limits: 6 buttons in a row, duplicate custom ids and long content are refused; a valid retry succeeds', async () => {
  const outcome = deferred<DiscordAPIError[]>();
  const button = (id: string) => ({ type: 2, style: 1, label: id, custom_id: id });
  handlers.set('limits', async (i) => {
    if (!i.isChatInputCommand()) return;
    const errors = [
      await rejection(
        i.reply({ components: [{ type: 1, components: ['a', 'b', 'c', 'd', 'e', 'f'].map(button) }] }),
      ),
      await rejection(i.reply({ components: [{ type: 1, components: [button('x'), button('x')] }] })),
      await rejection(i.reply({ content: 'x'.repeat(2001) })),
      await rejection(i.reply({ files: [{ attachment: Buffer.alloc(300 * 1024), name: 'big.bin' }] })),
    ];
    // Refused payloads do not use up the single initial response.
    await i.reply({
      content: 'fine',
      components: [{ type: 1, components: ['a', 'b', 'c', 'd', 'e'].map(button) }],
    });
    outcome.resolve(errors);
  });
  const command = d.invokeCommand({ name: 'limits', user: 'bob', channel: 'general' });
  const [sixButtons, duplicate, long, big] = await outcome.promise;
  expect(sixButtons).toMatchObject({ status: 400, code: 50035 });
  expect(sixButtons?.message).toMatch(/components\[0\]\.components.*5 or fewer/s);
  expect(duplicate?.message).toMatch(/custom id cannot be duplicated/i);
  expect(long?.message).toMatch(/content.*2000 or fewer/s);
  expect(big).toMatchObject({ status: 413, code: 40005 });
  const reply = await d.waitForMessage((m) => m.interactionId === command.id);
  expect(reply.content).toBe('fine');
  expect(d.events().filter((e) => e.type === 'api.error' && e.path.includes(command.id))).toHaveLength(4);
});

test('injected 429s are retried transparently by @discordjs/rest', async () => {
  const editRoute = 'PATCH /webhooks/:applicationId/:token/messages/:messageId';
  const sendRoute = 'POST /channels/:channelId/messages';
  const before = { edit: d.requestsTo(editRoute).length, send: d.requestsTo(sendRoute).length };
  d.injectRateLimit({ route: editRoute, retryAfterMs: 100 });
  d.injectRateLimit({ route: sendRoute, retryAfterMs: 50, global: true });
  const done = deferred<void>();
  handlers.set('ratelimited', async (i) => {
    if (!i.isChatInputCommand()) return;
    await i.deferReply();
    await i.editReply({ content: 'edited despite 429' });
    if (i.channel?.isSendable()) await i.channel.send({ content: 'sent despite 429' });
    done.resolve();
  });
  const command = d.invokeCommand({ name: 'ratelimited', user: 'bob', channel: 'imagine' });
  await done.promise;
  expect(
    d
      .requestsTo(editRoute)
      .slice(before.edit)
      .map((r) => r.status),
  ).toEqual([429, 200]);
  expect(
    d
      .requestsTo(sendRoute)
      .slice(before.send)
      .map((r) => r.status),
  ).toEqual([429, 200]);
  expect(d.originalMessage(command.id)?.content).toBe('edited despite 429');
});

test('every answer carries rate-limit headers; unknown routes are 404 with a Discord body and logged', async () => {
  const auth = { authorization: `Bot ${d.application.token}` };
  const gateway = await fetch(`${d.apiBase}/v10/gateway/bot`, { headers: auth });
  expect(gateway.status).toBe(200);
  for (const header of [
    'x-ratelimit-limit',
    'x-ratelimit-remaining',
    'x-ratelimit-reset',
    'x-ratelimit-reset-after',
    'x-ratelimit-bucket',
  ]) {
    expect(gateway.headers.get(header)).not.toBeNull();
  }
  const unknown = await fetch(`${d.apiBase}/v10/guilds/${guildId}/emojis`, { headers: auth });
  expect(unknown.status).toBe(404);
  expect(await unknown.json()).toEqual({ message: '404: Not Found', code: 0 });
  expect(warnings.some((line) => line.includes('UNKNOWN ROUTE GET /guilds/'))).toBe(true);
  const unauthorized = await fetch(`${d.apiBase}/v10/channels/${d.snapshot().guilds[0]?.channels[0]?.id}`);
  expect(unauthorized.status).toBe(401);
  // More than 25 MiB in one request is refused before anything is parsed.
  const channelId = d.snapshot().guilds[0]?.channels[0]?.id;
  const form = new FormData();
  form.append('payload_json', JSON.stringify({ content: 'huge' }));
  form.append('files[0]', new Blob([new Uint8Array(25 * 1024 * 1024 + 1)]), 'huge.bin');
  const huge = await fetch(`${d.apiBase}/v10/channels/${channelId}/messages`, {
    method: 'POST',
    headers: auth,
    body: form,
  });
  expect(huge.status).toBe(413);
  expect(await huge.json()).toMatchObject({ code: 40005 });
});

test('the client resumes after a dropped gateway connection and still receives interactions', async () => {
  const after = d.seq;
  d.dropGatewayConnections();
  await d.waitFor((e) => e.type === 'gateway.resumed', { after, timeoutMs: 10_000 });
  handlers.set('ping', async (i) => {
    if (i.isChatInputCommand()) await i.reply('pong');
  });
  const command = d.invokeCommand({ name: 'ping', user: 'bob', channel: 'general' });
  expect((await d.waitForMessage((m) => m.interactionId === command.id)).content).toBe('pong');
}, 15_000);

test('the page API: snapshot, event stream, and actions as a user', async () => {
  handlers.set('info', async (i) => {
    if (i.isChatInputCommand()) await i.reply(`info for ${i.user.username}`);
  });
  const key = { 'x-sandbox-key': d.pageKey };
  const state = (await (await fetch(`${d.origin}/sandbox/state`, { headers: key })).json()) as {
    users: { username: string }[];
  };
  expect(state.users.map((u) => u.username)).toEqual(expect.arrayContaining(['ada', 'bob', 'cy']));

  const types = 'interaction.create,interaction.response,message.create';
  // EventSource cannot send headers, so the stream takes the key in its query.
  const stream = await fetch(
    `${d.origin}/sandbox/events?after=${d.seq}&types=${types}&key=${encodeURIComponent(d.pageKey)}`,
  );
  const reader = stream.body!.getReader();
  const acted = await fetch(`${d.origin}/sandbox/commands`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...key },
    body: JSON.stringify({ name: 'info', user: 'cy', channel: 'general' }),
  });
  const { interactionId } = (await acted.json()) as { interactionId: string };
  let text = '';
  while (!text.includes('info for cy')) {
    const chunk = await reader.read();
    if (chunk.done) break;
    text += new TextDecoder().decode(chunk.value);
  }
  await reader.cancel();
  const messages = text
    .split('\n\n')
    .map((block) => block.split('\n').find((line) => line.startsWith('data: ')))
    .filter((line): line is string => line !== undefined)
    .map((line) => JSON.parse(line.slice(6)) as { type: string; message?: MessageView });
  expect(messages.map((e) => e.type)).toEqual([
    'interaction.create',
    'interaction.response',
    'message.create',
  ]);
  const created = messages.find((e) => e.type === 'message.create')?.message;
  expect(created?.interactionId).toBe(interactionId);
  const history = (await (
    await fetch(`${d.origin}/sandbox/messages/${created?.id}/history`, { headers: key })
  ).json()) as MessageView[];
  expect(history.map((m) => m.content)).toEqual(['info for cy']);
});
