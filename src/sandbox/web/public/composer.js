/**
 * The message box at the bottom of the channel. Typing `/` lists the deployed slash commands (one entry
 * per subcommand, as Discord does); choosing one turns the box into that command's option fields:
 * text, numbers, true/false, choices, users, channels and image uploads. Enter sends it.
 */
import { uploadFile } from './api.js';
import { h, replace } from './dom.js';

/** Discord's application command option types. */
const T = {
  SUB: 1,
  GROUP: 2,
  STRING: 3,
  INTEGER: 4,
  BOOLEAN: 5,
  USER: 6,
  CHANNEL: 7,
  NUMBER: 10,
  ATTACHMENT: 11,
};

/** Commands as picker entries: `/policy set` and `/policy ban` are separate entries, like in Discord. */
export function commandEntries(commands) {
  return commands.flatMap((command) => {
    const options = command.options ?? [];
    // Subcommands inside a group (`/prefer option set`) are entries of their own too.
    const subs = options.flatMap((o) =>
      o.type === T.SUB
        ? [o]
        : o.type === T.GROUP
          ? (o.options ?? []).map((sub) => ({ ...sub, name: `${o.name} ${sub.name}` }))
          : [],
    );
    if (subs.length === 0) {
      return [{ name: command.name, description: command.description, options }];
    }
    return subs.map((sub) => ({
      name: command.name,
      subcommand: sub.name,
      description: sub.description,
      options: sub.options ?? [],
    }));
  });
}

const title = (entry) => `/${entry.name}${entry.subcommand ? ` ${entry.subcommand}` : ''}`;

/**
 * @param deps { entries(), channelName(), users(), channels(), appName(), send({name, subcommand, options}), say(text, isError) }
 */
export function createComposer(deps) {
  let chosen = null;
  let highlighted = 0;
  let fields = [];
  let showOptional = false;

  const list = h('ul', { class: 'command-picker', role: 'listbox', id: 'command-picker', hidden: true });
  const text = h('input', {
    class: 'composer-input',
    type: 'text',
    autocomplete: 'off',
    'aria-label': 'Message',
    'aria-controls': 'command-picker',
    'aria-autocomplete': 'list',
    oninput: () => refreshPicker(),
    onkeydown: (e) => onTextKey(e),
  });
  const commandBar = h('div', { class: 'command-bar', hidden: true });
  const sendButton = h('button', { type: 'submit', class: 'send-button', 'aria-label': 'Send' }, '➤');
  const form = h(
    'form',
    {
      class: 'composer',
      onsubmit: (e) => {
        e.preventDefault();
        submit();
      },
    },
    list,
    h(
      'div',
      { class: 'composer-box' },
      h('span', { class: 'composer-plus', 'aria-hidden': 'true' }, '/'),
      text,
      commandBar,
      sendButton,
    ),
  );

  function placeholder() {
    text.placeholder = `Message #${deps.channelName()} — type / for commands`;
  }

  function matches() {
    const query = text.value.trim().slice(1).toLowerCase();
    return deps
      .entries()
      .filter((entry) => title(entry).slice(1).startsWith(query) || entry.name.startsWith(query));
  }

  function refreshPicker() {
    const value = text.value;
    // `/imagine ` typed out in full picks the command; what follows goes into its first text field.
    const typed = /^\/(\S+)(?: (\S+))? (.*)$/s.exec(value);
    if (typed) {
      const entry =
        deps.entries().find((e) => e.name === typed[1] && e.subcommand === typed[2]) ??
        deps.entries().find((e) => e.name === typed[1] && !e.subcommand);
      if (entry)
        return choose(entry, entry.subcommand ? typed[3] : `${typed[2] ? `${typed[2]} ` : ''}${typed[3]}`);
    }
    if (!value.startsWith('/')) {
      list.hidden = true;
      return;
    }
    const found = matches();
    highlighted = Math.min(highlighted, Math.max(0, found.length - 1));
    replace(
      list,
      h('li', { class: 'picker-heading', role: 'presentation' }, deps.appName()),
      found.length === 0
        ? h('li', { class: 'picker-empty', role: 'presentation' }, 'No commands match')
        : found.map((entry, i) =>
            h(
              'li',
              {
                role: 'option',
                id: `command-option-${i}`,
                'aria-selected': i === highlighted ? 'true' : 'false',
                class: 'picker-item',
                onmousedown: (e) => {
                  // Keep the focus in the box; the click picks the command.
                  e.preventDefault();
                  choose(entry);
                },
                // Only the highlight moves: rebuilding the list under the pointer would fire this again.
                onmouseenter: () => highlight(i),
              },
              h('span', { class: 'picker-name' }, title(entry)),
              h('span', { class: 'picker-description' }, entry.description),
            ),
          ),
    );
    text.setAttribute('aria-activedescendant', `command-option-${highlighted}`);
    list.hidden = false;
  }

  function highlight(index) {
    highlighted = index;
    for (const item of list.querySelectorAll('[role="option"]')) {
      const selected = item.id === `command-option-${index}`;
      item.setAttribute('aria-selected', String(selected));
      if (selected) item.scrollIntoView({ block: 'nearest' });
    }
    text.setAttribute('aria-activedescendant', `command-option-${index}`);
  }

  function onTextKey(e) {
    if (list.hidden) return;
    const found = matches();
    if (e.key === 'ArrowDown' || e.key === 'ArrowUp') {
      e.preventDefault();
      highlighted =
        (highlighted + (e.key === 'ArrowDown' ? 1 : -1) + found.length) % Math.max(1, found.length);
      refreshPicker();
    } else if ((e.key === 'Enter' || e.key === 'Tab') && found[highlighted]) {
      e.preventDefault();
      choose(found[highlighted]);
    } else if (e.key === 'Escape') {
      list.hidden = true;
    }
  }

  /** Command mode: a chip with the command's name and one labelled field per option. */
  function choose(entry, firstText = '') {
    chosen = entry;
    showOptional = false;
    list.hidden = true;
    text.hidden = true;
    text.value = '';
    fields = entry.options.map((option) => ({ option, input: fieldInput(option) }));
    const firstString = fields.find(
      (f) => f.option.type === T.STRING && !f.option.choices && f.option.required,
    );
    if (firstString && firstText) firstString.input.value = firstText;
    drawCommandBar();
    (firstString?.input ?? fields[0]?.input ?? sendButton).focus();
  }

  function drawCommandBar() {
    const required = fields.filter((f) => f.option.required);
    const optional = fields.filter((f) => !f.option.required);
    replace(
      commandBar,
      h(
        'span',
        { class: 'command-chip' },
        title(chosen),
        h(
          'button',
          { type: 'button', class: 'chip-close', 'aria-label': 'Cancel command', onclick: () => reset() },
          '×',
        ),
      ),
      required.map(fieldPill),
      optional.length > 0 && !showOptional
        ? h(
            'button',
            {
              type: 'button',
              class: 'optional-toggle',
              onclick: () => {
                showOptional = true;
                drawCommandBar();
                optional[0]?.input.focus();
              },
            },
            `+${optional.length} optional`,
          )
        : null,
      showOptional ? optional.map(fieldPill) : null,
    );
    commandBar.hidden = false;
  }

  function fieldPill({ option, input }) {
    const wide = option.type === T.STRING && !option.choices;
    return h(
      'label',
      { class: `option-pill${wide ? ' wide' : ''}`, title: option.description },
      h('span', { class: 'option-name' }, option.name),
      input,
    );
  }

  function fieldInput(option) {
    const common = {
      name: option.name,
      required: Boolean(option.required),
      class: 'option-input',
      'aria-label': option.name,
    };
    const choices = (values) =>
      h(
        'select',
        common,
        h('option', { value: '' }, option.required ? 'Choose…' : '—'),
        values.map(([v, l]) => h('option', { value: v }, l)),
      );
    if (option.choices) return choices(option.choices.map((c) => [String(c.value), c.name]));
    switch (option.type) {
      case T.BOOLEAN:
        return choices([
          ['true', 'True'],
          ['false', 'False'],
        ]);
      case T.INTEGER:
      case T.NUMBER:
        return h('input', {
          ...common,
          type: 'number',
          step: option.type === T.INTEGER ? '1' : 'any',
          min: option.min_value,
          max: option.max_value,
          placeholder: option.description,
        });
      case T.ATTACHMENT:
        return h('input', { ...common, type: 'file', accept: 'image/png,image/jpeg,image/webp,image/gif' });
      case T.USER:
        return choices(deps.users().map((u) => [u.username, u.globalName || u.username]));
      case T.CHANNEL:
        return choices(deps.channels().map((c) => [c.name, `#${c.name}`]));
      default:
        return h('input', {
          ...common,
          type: 'text',
          maxlength: option.max_length,
          placeholder: option.description,
          onkeydown: (e) => {
            if (e.key === 'Escape') reset();
          },
        });
    }
  }

  /** Reads the fields into typed option values; files are uploaded first. */
  async function collect() {
    const options = {};
    for (const { option, input } of fields) {
      if (option.type === T.ATTACHMENT) {
        const file = input.files?.[0];
        if (file) options[option.name] = { upload: (await uploadFile(file)).id };
        else if (option.required) throw new Error(`Add an image for ${option.name}.`);
        continue;
      }
      const raw = input.value.trim();
      if (raw === '') {
        if (option.required) throw new Error(`${option.name} is required.`);
        continue;
      }
      if (option.type === T.BOOLEAN) options[option.name] = raw === 'true';
      else if (option.type === T.INTEGER || option.type === T.NUMBER) {
        const n = Number(raw);
        if (!Number.isFinite(n) || (option.type === T.INTEGER && !Number.isInteger(n)))
          throw new Error(
            `${option.name} must be ${option.type === T.INTEGER ? 'a whole number' : 'a number'}.`,
          );
        options[option.name] = n;
      } else options[option.name] = raw;
    }
    return options;
  }

  async function submit() {
    if (!chosen) {
      if (text.value.trim() === '') return;
      const found = text.value.startsWith('/') ? matches() : [];
      if (found[0]) return choose(found[0]);
      deps.say('This sandbox channel takes slash commands: type / to pick one.', true);
      return;
    }
    sendButton.disabled = true;
    try {
      const options = await collect();
      await deps.send({
        name: chosen.name,
        ...(chosen.subcommand ? { subcommand: chosen.subcommand } : {}),
        options,
      });
      reset();
    } catch (error) {
      deps.say(error.message, true);
    } finally {
      sendButton.disabled = false;
    }
  }

  function reset() {
    chosen = null;
    fields = [];
    commandBar.hidden = true;
    commandBar.replaceChildren();
    text.hidden = false;
    text.value = '';
    list.hidden = true;
    placeholder();
    text.focus();
  }

  placeholder();
  return { element: form, reset, placeholder, focus: () => text.focus() };
}
