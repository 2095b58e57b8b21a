/**
 * The part of Discord's markdown the bot writes: **bold**, *italic*, __underline__, `code`, ```blocks```,
 * <@id> mentions, `-# ` small lines, `- ` list items and `> ` quotes. Produces DOM nodes (text nodes
 * only), so message content can never become markup.
 */
import { h } from './dom.js';

const INLINE = /\*\*(.+?)\*\*|__(.+?)__|\*([^*\s][^*]*?)\*|`([^`]+)`|<@!?(\d{5,25})>/g;

/** Inline markdown of one line. `nameOf(id)` names a mentioned user; `me` is the viewer, whose mentions glow. */
export function inline(text, ctx) {
  const out = [];
  let last = 0;
  for (const match of text.matchAll(INLINE)) {
    if (match.index > last) out.push(text.slice(last, match.index));
    const [, bold, underline, italic, code, mention] = match;
    if (bold !== undefined) out.push(h('strong', {}, inline(bold, ctx)));
    else if (underline !== undefined) out.push(h('u', {}, inline(underline, ctx)));
    else if (italic !== undefined) out.push(h('em', {}, inline(italic, ctx)));
    else if (code !== undefined) out.push(h('code', { class: 'inline-code' }, code));
    else out.push(h('span', { class: 'mention', title: mention }, `@${ctx.nameOf(mention)}`));
    last = match.index + match[0].length;
  }
  if (last < text.length) out.push(text.slice(last));
  return out;
}

export function renderMarkdown(content, ctx) {
  const root = h('div', { class: 'markdown' });
  const lines = content.split('\n');
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i];
    if (line.startsWith('```')) {
      // A fenced block runs to the next fence (or the end); its first line may name a language.
      const body = [];
      let j = i + 1;
      while (j < lines.length && !lines[j].startsWith('```')) body.push(lines[j++]);
      root.append(h('pre', { class: 'code-block' }, h('code', {}, body.join('\n'))));
      i = j;
    } else if (line.startsWith('-# ')) {
      root.append(h('div', { class: 'subtext' }, inline(line.slice(3), ctx)));
    } else if (/^[-*] /.test(line)) {
      const items = [];
      while (i < lines.length && /^[-*] /.test(lines[i])) items.push(lines[i++].slice(2));
      i--;
      root.append(
        h(
          'ul',
          {},
          items.map((item) => h('li', {}, inline(item, ctx))),
        ),
      );
    } else if (line.startsWith('> ')) {
      root.append(h('blockquote', {}, inline(line.slice(2), ctx)));
    } else {
      root.append(h('div', { class: 'line' }, line === '' ? '\u00a0' : inline(line, ctx)));
    }
  }
  return root;
}
