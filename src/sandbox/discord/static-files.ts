/**
 * Serves the sandbox page's files from a folder (GET/HEAD, `/` → `index.html`), so the page and the
 * server share an origin. Paths are resolved inside the folder only.
 */
import { readFile, stat } from 'node:fs/promises';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { extname, join, normalize, resolve, sep } from 'node:path';

const TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.mjs': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.json': 'application/json',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.jpg': 'image/jpeg',
  '.webp': 'image/webp',
  '.ico': 'image/x-icon',
  '.woff2': 'font/woff2',
  '.map': 'application/json',
};

/** Answers from `dir` and returns true, or returns false when there is no such file. */
export async function serveStatic(
  dir: string,
  req: IncomingMessage,
  res: ServerResponse,
  url: URL,
): Promise<boolean> {
  if (req.method !== 'GET' && req.method !== 'HEAD') return false;
  const root = resolve(dir);
  let relative: string;
  try {
    relative = decodeURIComponent(url.pathname);
  } catch {
    return false;
  }
  if (relative.endsWith('/')) relative += 'index.html';
  const path = resolve(join(root, normalize(relative)));
  if (path !== root && !path.startsWith(root + sep)) return false;
  try {
    if (!(await stat(path)).isFile()) return false;
    const body = await readFile(path);
    res.writeHead(200, {
      'content-type': TYPES[extname(path).toLowerCase()] ?? 'application/octet-stream',
      'content-length': body.byteLength,
      'cache-control': 'no-cache',
    });
    res.end(req.method === 'HEAD' ? undefined : body);
    return true;
  } catch {
    return false;
  }
}
