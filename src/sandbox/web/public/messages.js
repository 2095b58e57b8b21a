/**
 * One chat message as Discord draws it: avatar, author (with the APP tag for bots), the "used /command"
 * line above interaction replies, markdown content, images, buttons and select menus, the thinking
 * state of a deferred reply, and the "Only you can see this" footer of ephemeral messages.
 */
import { avatar, h, timeLabel } from './dom.js';
import { renderMarkdown } from './markdown.js';

/** Job ids appear in the bot's finished messages as `job <id>` (see src/discord/messages.ts). */
export const JOB_IN_CONTENT = /\bjob ([a-z0-9]{12})\b/;

/** Names for buttons whose whole label is an emoji, so screen readers say what they do. */
const EMOJI_NAMES = { '🔄': 'Reroll' };

const BUTTON_STYLES = { 1: 'primary', 2: 'secondary', 3: 'success', 4: 'danger', 5: 'link' };

/**
 * @param message a MessageView from the page API
 * @param ctx { me, userOf(id), nameOf(id), pending: Set<string>, onButton, onSelect, onLineage, onDismiss }
 */
export function renderMessage(message, ctx) {
  const author = ctx.userOf(message.author.id) ?? { ...message.author, globalName: null };
  const jobId = message.loading ? null : JOB_IN_CONTENT.exec(message.content)?.[1];
  const body = h(
    'div',
    { class: 'message-body' },
    h(
      'h3',
      { class: 'message-header' },
      h('span', { class: 'author' }, author.globalName || author.username),
      author.bot ? h('span', { class: 'app-tag' }, 'APP') : null,
      h('time', { class: 'timestamp', datetime: message.createdAt }, timeLabel(message.createdAt)),
    ),
    message.loading ? thinking(author) : content(message, ctx),
    attachments(message),
    components(message, ctx),
    message.ephemeral ? ephemeralNote(message, ctx) : null,
  );
  const article = h(
    'article',
    {
      class: `message${message.ephemeral ? ' ephemeral' : ''}${mentionsMe(message, ctx) ? ' mentioned' : ''}`,
      dataset: { messageId: message.id, ...(jobId ? { jobId } : {}) },
      'aria-label': `${author.globalName || author.username}: ${message.loading ? 'thinking' : message.content.slice(0, 120)}`,
    },
    invokedLine(message, ctx),
    h('div', { class: 'message-main' }, avatar(author), body),
    jobId && message.attachments.length > 0 ? toolbar(jobId, ctx) : null,
  );
  return article;
}

function mentionsMe(message, ctx) {
  return message.content.includes(`<@${ctx.me}>`);
}

/** "Ada used /imagine" above a slash command's reply. */
function invokedLine(message, ctx) {
  const by = message.invokedBy;
  if (!by?.commandName) return null;
  const user = ctx.userOf(by.userId);
  return h(
    'div',
    { class: 'invoked-by' },
    h('span', { class: 'reply-spine', 'aria-hidden': 'true' }),
    avatar(user, 16),
    h('span', { class: 'invoker' }, user?.globalName || user?.username || by.userId),
    ' used ',
    h('span', { class: 'command-name' }, `/${by.commandName}`),
  );
}

function thinking(author) {
  return h(
    'div',
    { class: 'thinking', role: 'status' },
    `${author.globalName || author.username} is thinking`,
    h('span', { class: 'dots', 'aria-hidden': 'true' }, h('i'), h('i'), h('i')),
  );
}

function content(message, ctx) {
  if (!message.content) return null;
  const rendered = renderMarkdown(message.content, ctx);
  // "(edited)" trails the last line, as in Discord.
  if (message.editedAt)
    (rendered.lastElementChild ?? rendered).append(
      h('span', { class: 'edited', title: message.editedAt }, ' (edited)'),
    );
  return rendered;
}

function attachments(message) {
  if (message.attachments.length === 0) return null;
  return h(
    'div',
    { class: 'attachments' },
    message.attachments.map((a) =>
      a.contentType.startsWith('image/')
        ? h(
            'a',
            { class: 'image-link', href: a.url, target: '_blank', rel: 'noopener', title: a.filename },
            h('img', {
              src: a.url,
              alt: a.filename,
              // The box is sized before the image arrives, so the list does not jump (and stays scrolled
              // to the bottom) when it loads; progress previews are small and drawn at the grid's size.
              style: displaySize(a),
              class: a.filename.startsWith('preview-') ? 'preview' : undefined,
            }),
          )
        : h('a', { class: 'file', href: a.url, download: a.filename }, `📄 ${a.filename} (${a.size} bytes)`),
    ),
  );
}

/** Discord fits images into 400×400 (previews are scaled up to 320 wide, like the grid they become). */
function displaySize(a) {
  if (!a.width || !a.height) return undefined;
  const scale = a.filename.startsWith('preview-')
    ? 320 / a.width
    : Math.min(1, 400 / a.width, 400 / a.height);
  return `width:${Math.round(a.width * scale)}px;height:${Math.round(a.height * scale)}px`;
}

function components(message, ctx) {
  if (!Array.isArray(message.components) || message.components.length === 0) return null;
  return h(
    'div',
    { class: 'components' },
    message.components.map((row) =>
      h(
        'div',
        { class: 'action-row' },
        (row.components ?? []).map((c) =>
          c.type === 2 ? button(message, c, ctx) : c.type === 3 ? select(message, c, ctx) : null,
        ),
      ),
    ),
  );
}

function button(message, c, ctx) {
  const style = BUTTON_STYLES[c.style] ?? 'secondary';
  const label = [c.emoji?.name, c.label].filter(Boolean).join(' ');
  if (style === 'link') {
    return h('a', { class: 'button link', href: c.url, target: '_blank', rel: 'noopener' }, label, ' ↗');
  }
  const pending = ctx.pending.has(`${message.id}:${c.custom_id}`);
  return h(
    'button',
    {
      type: 'button',
      class: `button ${style}${pending ? ' pending' : ''}`,
      disabled: Boolean(c.disabled) || pending,
      'aria-busy': pending ? 'true' : undefined,
      // An emoji-only button (the reroll) still needs a name for screen readers and tests.
      'aria-label': EMOJI_NAMES[label],
      dataset: { customId: c.custom_id },
      onclick: () => ctx.onButton(message, c),
    },
    label,
  );
}

function select(message, c, ctx) {
  const chosen = (c.options ?? []).find((o) => o.default);
  const pending = ctx.pending.has(`${message.id}:${c.custom_id}`);
  return h(
    'select',
    {
      class: 'select-menu',
      'aria-label': c.placeholder ?? chosen?.label ?? 'Choose',
      disabled: Boolean(c.disabled) || pending,
      dataset: { customId: c.custom_id },
      onchange: (e) => ctx.onSelect(message, c, [e.target.value]),
    },
    chosen
      ? null
      : h('option', { value: '', disabled: true, selected: true }, c.placeholder ?? 'Make a selection'),
    (c.options ?? []).map((o) =>
      h(
        'option',
        { value: o.value, selected: Boolean(o.default) },
        [o.emoji?.name, o.label].filter(Boolean).join(' '),
      ),
    ),
  );
}

function ephemeralNote(message, ctx) {
  return h(
    'div',
    { class: 'ephemeral-note' },
    h('span', { 'aria-hidden': 'true' }, '👁'),
    ' Only you can see this • ',
    h(
      'button',
      { type: 'button', class: 'text-button', onclick: () => ctx.onDismiss(message.id) },
      'Dismiss message',
    ),
  );
}

/** The hover toolbar Discord shows on a message; here it opens the image's lineage. */
function toolbar(jobId, ctx) {
  return h(
    'div',
    { class: 'message-toolbar' },
    h(
      'button',
      {
        type: 'button',
        class: 'toolbar-button',
        title: 'Show where this image came from',
        onclick: () => ctx.onLineage(jobId),
      },
      h('span', { 'aria-hidden': 'true' }, '🌳'),
      ' Lineage',
    ),
  );
}
