/**
 * The sandbox page: a Discord-like view of the loopback server's guild. It loads one snapshot, then
 * follows the event stream, so every tab (each viewing as its own user) sees the channel change live.
 * All actions go through the page API as the chosen user; the bot answers them as it would on Discord.
 */
import * as api from './api.js';
import { commandEntries, createComposer } from './composer.js';
import { avatar, h, replace } from './dom.js';
import { openLineage } from './lineage.js';
import { renderMessage } from './messages.js';
import { showModal } from './modal.js';

const USER_KEY = 'sandbox.user';
const CHANNEL_KEY = 'sandbox.channel';
/** Discord's ADMINISTRATOR bit: holders see every command whatever its default permissions. */
const ADMINISTRATOR = 8n;

const state = {
  snapshot: null,
  /** MessageView by id, all channels, kept current from events. */
  messages: new Map(),
  me: null,
  channelId: null,
  unread: new Set(),
  /** `${messageId}:${customId}` of controls waiting for the bot, and interaction id → that key. */
  pendingKeys: new Set(),
  pendingByInteraction: new Map(),
  /** Slash commands sent from this tab, to report their failure here. */
  mine: new Set(),
  dismissed: new Set(),
  handledModals: new Set(),
  currentModal: null,
  connected: false,
};

const $ = (selector) => document.querySelector(selector);
const guild = () => state.snapshot.guilds[0];
const userOf = (id) => state.snapshot.users.find((u) => u.id === id);
const nameOf = (id) => {
  const user = userOf(id);
  return user ? user.globalName || user.username : id;
};
const people = () => state.snapshot.users.filter((u) => !u.bot);
const channel = () => guild().channels.find((c) => c.id === state.channelId);

function visibleToMe(message) {
  return (message.visibleTo === null || message.visibleTo === state.me) && !state.dismissed.has(message.id);
}

/** Deployed commands this member can see: Discord hides those whose default permissions they lack. */
function myCommands() {
  const member = guild().members.find((m) => m.userId === state.me);
  const held = BigInt(member?.permissions ?? '0');
  const commands = state.snapshot.commands
    .filter((set) => set.guildId === null || set.guildId === guild().id)
    .flatMap((set) => set.commands);
  return commands.filter((command) => {
    const needed = command.default_member_permissions;
    if (needed === undefined || needed === null) return true;
    if ((held & ADMINISTRATOR) !== 0n) return true;
    const bits = BigInt(needed);
    return bits !== 0n && (held & bits) === bits;
  });
}

// ---------------------------------------------------------------------------------------------------
// Rendering

const messageCache = new Map();

function messageContext() {
  return {
    me: state.me,
    userOf,
    nameOf,
    pending: state.pendingKeys,
    onButton: (message, component) =>
      act(message, component.custom_id, () =>
        api.pressButton({ user: state.me, messageId: message.id, customId: component.custom_id }),
      ),
    onSelect: (message, component, values) =>
      act(message, component.custom_id, () =>
        api.chooseOption({ user: state.me, messageId: message.id, customId: component.custom_id, values }),
      ),
    // The first message of a job is the one its buttons came from (/show posts copies later).
    onLineage: (jobId) =>
      openLineage(jobId, (id) => document.querySelector(`#messages article[data-job-id="${id}"]`)),
    onDismiss: (id) => {
      state.dismissed.add(id);
      renderMessages();
    },
  };
}

function renderMessages() {
  const list = $('#messages');
  const nearBottom = list.scrollHeight - list.scrollTop - list.clientHeight < 120;
  const shown = [...state.messages.values()]
    .filter((m) => m.channelId === state.channelId && visibleToMe(m))
    .sort((a, b) => (BigInt(a.id) < BigInt(b.id) ? -1 : 1));
  // What the viewer just asked for comes into view, as in Discord, even when they had scrolled up.
  const mine = shown.some((m) => !messageCache.has(m.id) && m.invokedBy?.userId === state.me);
  const ctx = messageContext();
  const elements = shown.map((message) => {
    const pendingSignature = [...state.pendingKeys].filter((k) => k.startsWith(`${message.id}:`)).join();
    const key = `${message.revision}|${pendingSignature}|${state.me}`;
    const cached = messageCache.get(message.id);
    if (cached && cached.key === key) return cached.element;
    const element = renderMessage(message, ctx);
    messageCache.set(message.id, { key, element });
    return element;
  });
  const ids = elements.map((e) => e.dataset.messageId);
  const current = [...list.querySelectorAll(':scope > article')];
  if (current.length === elements.length && current.every((e, i) => e.dataset.messageId === ids[i])) {
    for (const [i, old] of current.entries()) if (old !== elements[i]) old.replaceWith(elements[i]);
  } else {
    replace(list, welcome(), ...elements);
  }
  if (nearBottom || mine) list.scrollTop = list.scrollHeight;
}

function welcome() {
  const name = channel()?.name ?? '';
  return h(
    'div',
    { class: 'channel-welcome' },
    h('div', { class: 'welcome-icon', 'aria-hidden': 'true' }, '#'),
    h('h2', {}, `Welcome to #${name}!`),
    h(
      'p',
      {},
      `This is the start of the #${name} channel. Type `,
      h('kbd', {}, '/'),
      ' below to use the bot: ',
      h('code', {}, '/imagine'),
      ', ',
      h('code', {}, '/blend'),
      ', ',
      h('code', {}, '/settings'),
      ', ',
      h('code', {}, '/info'),
      '.',
    ),
  );
}

function renderChannels() {
  $('#guild-name').textContent = guild().name;
  $('#guild-icon').textContent = guild()
    .name.split(/\s+/)
    .map((w) => w[0])
    .join('')
    .slice(0, 3);
  $('#guild-icon').title = guild().name;
  replace(
    $('#channels'),
    ...guild().channels.map((c) =>
      h(
        'li',
        {},
        h(
          'button',
          {
            type: 'button',
            class: `channel${c.id === state.channelId ? ' active' : ''}${state.unread.has(c.id) ? ' unread' : ''}`,
            'aria-current': c.id === state.channelId ? 'page' : undefined,
            onclick: () => selectChannel(c.id),
          },
          h('span', { class: 'hash', 'aria-hidden': 'true' }, '#'),
          c.name,
        ),
      ),
    ),
  );
  const name = channel()?.name ?? '';
  $('#channel-title').textContent = name;
  document.title = `#${name} · ${guild().name}`;
}

function renderMembers() {
  const members = guild()
    .members.map((m) => ({ ...m, user: userOf(m.userId) }))
    .filter((m) => m.user);
  const group = (title, list) =>
    list.length === 0
      ? null
      : h(
          'section',
          {},
          h('h3', {}, `${title} — ${list.length}`),
          h(
            'ul',
            {},
            list.map((m) =>
              h(
                'li',
                { class: `member${m.userId === state.me ? ' me' : ''}` },
                h(
                  'span',
                  { class: 'avatar-wrap' },
                  avatar(m.user, 32),
                  h('span', { class: 'presence', 'aria-hidden': 'true' }),
                ),
                h('span', { class: 'member-name' }, m.user.globalName || m.user.username),
                m.user.bot ? h('span', { class: 'app-tag' }, 'APP') : null,
              ),
            ),
          ),
        );
  replace(
    $('#members'),
    group(
      'Moderators',
      members.filter((m) => m.manageGuild && !m.user.bot),
    ),
    group(
      'Members',
      members.filter((m) => !m.manageGuild && !m.user.bot),
    ),
    group(
      'Apps',
      members.filter((m) => m.user.bot),
    ),
  );
}

function renderUserPanel() {
  const select = $('#viewer');
  select.replaceChildren(
    ...people().map((u) =>
      h('option', { value: u.id, selected: u.id === state.me }, u.globalName || u.username),
    ),
  );
  replace($('#viewer-avatar'), avatar(userOf(state.me), 32));
}

function renderAll() {
  renderChannels();
  renderMembers();
  renderUserPanel();
  composer.placeholder();
  messageCache.clear();
  renderMessages();
}

// ---------------------------------------------------------------------------------------------------
// Acting

let toastTimer = 0;
function say(text, isError = false) {
  const toast = $('#toast');
  toast.textContent = text;
  toast.className = `toast${isError ? ' error' : ''}`;
  toast.hidden = false;
  clearTimeout(toastTimer);
  toastTimer = setTimeout(() => (toast.hidden = true), 8000);
}

/** Presses a control: it shows as busy until the bot answers (or the interaction fails). */
async function act(message, customId, send) {
  const key = `${message.id}:${customId}`;
  state.pendingKeys.add(key);
  renderMessages();
  try {
    const { interactionId } = await send();
    state.pendingByInteraction.set(interactionId, key);
    // A bot that never answers: Discord gives up after 3 s; stop showing the spinner a little later.
    setTimeout(() => settle(interactionId), 5000);
  } catch (error) {
    state.pendingKeys.delete(key);
    renderMessages();
    say(error.message, true);
  }
}

function settle(interactionId) {
  const key = state.pendingByInteraction.get(interactionId);
  if (!key) return;
  state.pendingByInteraction.delete(interactionId);
  state.pendingKeys.delete(key);
  renderMessages();
}

async function sendCommand(invocation) {
  const { interactionId } = await api.runCommand({ user: state.me, channel: state.channelId, ...invocation });
  state.mine.add(interactionId);
}

function selectChannel(id) {
  state.channelId = id;
  state.unread.delete(id);
  sessionStorage.setItem(CHANNEL_KEY, channel()?.name ?? '');
  renderChannels();
  composer.placeholder();
  renderMessages();
  $('#messages').scrollTop = $('#messages').scrollHeight;
  composer.focus();
}

function selectUser(id) {
  // A modal belongs to the user it was shown to; it comes back when the tab views them again.
  state.currentModal?.close('switched');
  state.me = id;
  sessionStorage.setItem(USER_KEY, userOf(id)?.username ?? id);
  composer.reset();
  renderAll();
  for (const modal of state.snapshot.openModals) maybeShowModal(modal);
}

async function maybeShowModal(shown) {
  if (shown.userId !== state.me || state.handledModals.has(shown.interactionId)) return;
  state.handledModals.add(shown.interactionId);
  state.currentModal?.close('replaced');
  const result = showModal(shown, (values) =>
    api.submitModal({ user: state.me, customId: shown.customId, values }),
  );
  const dialog = document.querySelector('dialog.modal');
  state.currentModal = dialog;
  if ((await result) === 'switched') state.handledModals.delete(shown.interactionId);
  if (state.currentModal === dialog) state.currentModal = null;
}

// ---------------------------------------------------------------------------------------------------
// Live updates

function onEvent(event) {
  if (state.snapshot && event.seq <= state.snapshot.seq) return;
  switch (event.type) {
    case 'message.create':
    case 'message.update': {
      const known = state.messages.get(event.message.id);
      if (known && known.revision > event.message.revision) return;
      state.messages.set(event.message.id, event.message);
      if (event.message.channelId === state.channelId) renderMessages();
      else if (event.type === 'message.create' && visibleToMe(event.message)) {
        state.unread.add(event.message.channelId);
        renderChannels();
      }
      return;
    }
    case 'message.delete':
      state.messages.delete(event.message.id);
      if (event.message.channelId === state.channelId) renderMessages();
      return;
    case 'interaction.response':
      settle(event.interactionId);
      return;
    case 'interaction.failed':
      // Discord tells only the person who acted; so does this tab.
      if (state.pendingByInteraction.has(event.interactionId) || state.mine.has(event.interactionId))
        say('This interaction failed: the bot did not answer in time.', true);
      settle(event.interactionId);
      return;
    case 'interaction.create':
      // The same user submitted the modal from another tab: close it here too.
      if (event.interaction.kind === 'modal' && event.interaction.userId === state.me) {
        state.currentModal?.close('submitted');
      }
      return;
    case 'modal.open':
      state.snapshot.openModals.push(event);
      maybeShowModal(event);
      return;
    case 'commands.update': {
      const set = state.snapshot.commands.find((s) => s.guildId === event.guildId);
      if (set) set.commands = event.commands;
      else state.snapshot.commands.push({ guildId: event.guildId, commands: event.commands });
      return;
    }
  }
}

function setConnected(connected) {
  state.connected = connected;
  $('#connection').hidden = connected;
}

// ---------------------------------------------------------------------------------------------------
// Start

const composer = createComposer({
  entries: () => commandEntries(myCommands()),
  // Asked once before the snapshot has arrived.
  channelName: () => (state.snapshot ? (channel()?.name ?? '') : ''),
  users: people,
  channels: () => guild().channels,
  appName: () => state.snapshot.application.name,
  send: sendCommand,
  say,
});

async function start() {
  $('#composer-slot').replaceWith(composer.element);
  const snapshot = await api.loadState();
  state.snapshot = snapshot;
  for (const message of snapshot.messages) state.messages.set(message.id, message);
  // A tab keeps its user (sessionStorage); `?as=bob` picks one in the address.
  const wanted = new URLSearchParams(location.search).get('as') ?? sessionStorage.getItem(USER_KEY);
  const me = people().find((u) => u.username === wanted || u.id === wanted) ?? people()[0];
  state.me = me?.id ?? null;
  const wantedChannel = sessionStorage.getItem(CHANNEL_KEY);
  const channels = guild().channels;
  state.channelId = (
    channels.find((c) => c.name === wantedChannel) ??
    channels.find((c) => c.name === 'imagine') ??
    channels[0]
  ).id;
  $('#viewer').addEventListener('change', (e) => selectUser(e.target.value));
  renderAll();
  $('#messages').scrollTop = $('#messages').scrollHeight;
  api.openEvents(snapshot.seq, onEvent, setConnected);
  for (const modal of snapshot.openModals) maybeShowModal(modal);
  document.body.classList.add('ready');
}

start().catch((error) => {
  document.body.replaceChildren(
    h('p', { class: 'fatal', role: 'alert' }, `The sandbox page could not start: ${error.message}`),
  );
});
