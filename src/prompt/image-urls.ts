import { PromptError } from './errors.js';

export const IMAGE_EXTENSIONS = ['.png', '.jpg', '.jpeg', '.gif', '.webp'] as const;

const LINK = /^<?https?:\/\//i;

/** True for a token that is meant as a link (`https://…`, or `<https://…>` as Discord writes unembedded links). */
export function looksLikeUrl(token: string): boolean {
  return LINK.test(token);
}

/**
 * Checks an image prompt link: http(s), a host, and a direct link to an image file as Midjourney requires
 * (the extension is read from the path, so Discord CDN links with `?ex=…` queries pass).
 */
export function validateImageUrl(token: string): string {
  const raw = token.replace(/^<(.*)>$/, '$1');
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    throw new PromptError('bad-url', `not a valid link: ${raw}`, raw);
  }
  if ((url.protocol !== 'http:' && url.protocol !== 'https:') || !url.hostname) {
    throw new PromptError('bad-url', `image links must start with http:// or https://, got ${raw}`, raw);
  }
  if (url.username || url.password) {
    throw new PromptError(
      'bad-url',
      `image links must not carry a user name or password: ${url.hostname}`,
      raw,
    );
  }
  const path = url.pathname.toLowerCase();
  if (!IMAGE_EXTENSIONS.some((extension) => path.endsWith(extension))) {
    throw new PromptError(
      'bad-url',
      `image links must point straight at a ${IMAGE_EXTENSIONS.join('/')} file, got ${raw}`,
      raw,
    );
  }
  return url.toString();
}
