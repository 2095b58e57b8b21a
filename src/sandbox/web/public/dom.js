/**
 * A tiny element builder. Text always goes in as text nodes, never as HTML, so nothing a user or the bot
 * writes can inject markup into the page.
 */
export function h(tag, props = {}, ...children) {
  const element = document.createElement(tag);
  for (const [key, value] of Object.entries(props)) {
    if (value === undefined || value === null || value === false) continue;
    if (key === 'class') element.className = value;
    // Through the CSSOM: the page's Content-Security-Policy refuses style attributes written as markup.
    else if (key === 'style') element.style.cssText = String(value);
    else if (key === 'dataset') Object.assign(element.dataset, value);
    else if (key.startsWith('on')) element.addEventListener(key.slice(2), value);
    else if (key in element && typeof value !== 'string') element[key] = value;
    else element.setAttribute(key, value === true ? '' : String(value));
  }
  append(element, children);
  return element;
}

export function append(parent, children) {
  for (const child of children.flat(Number.POSITIVE_INFINITY)) {
    if (child === undefined || child === null || child === false) continue;
    parent.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return parent;
}

/** An initial on a coloured disc, the colour fixed per user so a person is recognisable at a glance. */
export function avatar(user, size = 40) {
  const palette = ['#5865f2', '#3ba55c', '#faa61a', '#ed4245', '#eb459e', '#9b59b6', '#1abc9c'];
  const id = user?.id ?? '0';
  let hash = 0;
  for (const c of id) hash = (hash * 31 + c.charCodeAt(0)) >>> 0;
  const name = user?.globalName || user?.username || '?';
  return h(
    'span',
    {
      class: 'avatar',
      style: `--avatar-size:${size}px;background:${user?.bot ? '#5865f2' : palette[hash % palette.length]}`,
      'aria-hidden': 'true',
    },
    user?.bot ? '✦' : name.slice(0, 1).toUpperCase(),
  );
}

export function timeLabel(iso) {
  const date = new Date(iso);
  const time = date.toLocaleTimeString([], { hour: '2-digit', minute: '2-digit' });
  return new Date().toDateString() === date.toDateString() ? `Today at ${time}` : date.toLocaleString();
}

/** replaceChildren that, like `h`, takes nested arrays and skips null/false (conditional children). */
export function replace(parent, ...children) {
  parent.replaceChildren();
  return append(parent, children);
}
