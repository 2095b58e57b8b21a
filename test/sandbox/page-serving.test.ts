/** The sandbox page can be served from the same origin as the server it shows. */
import { mkdtempSync, writeFileSync } from 'node:fs';
import { request } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type LoopbackDiscord, startLoopbackDiscord } from '../../src/sandbox/discord/index.js';

let d: LoopbackDiscord;
const dir = mkdtempSync(join(tmpdir(), 'sandbox-page-'));

beforeAll(async () => {
  writeFileSync(join(dir, 'index.html'), '<title>channel</title>');
  writeFileSync(join(dir, 'app.js'), 'export {};');
  d = await startLoopbackDiscord({
    staticDir: dir,
    log: () => {},
    onRequest: (_req, res, url) => {
      if (url.pathname !== '/hello') return false;
      res.writeHead(200, { 'content-type': 'text/plain' }).end('hi');
      return true;
    },
  });
});

afterAll(() => d.close());

/** A raw GET, so `..` segments reach the server as sent (fetch would normalise them away). */
function rawGet(path: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const url = new URL(d.origin);
    request({ host: url.hostname, port: url.port, path, method: 'GET' }, (res) => {
      res.resume();
      resolve(res.statusCode ?? 0);
    })
      .on('error', reject)
      .end();
  });
}

test('index.html at /, files by extension, the hook first, nothing outside the folder', async () => {
  const index = await fetch(`${d.origin}/`);
  expect(index.headers.get('content-type')).toContain('text/html');
  expect(await index.text()).toBe('<title>channel</title>');
  expect((await fetch(`${d.origin}/app.js`)).headers.get('content-type')).toContain('text/javascript');
  expect(await (await fetch(`${d.origin}/hello`)).text()).toBe('hi');
  expect((await fetch(`${d.origin}/missing.js`)).status).toBe(404);
  expect(await rawGet('/../../etc/passwd')).toBe(404);
  expect(await rawGet('/%2e%2e/%2e%2e/etc/passwd')).toBe(404);
  // The API keeps its own paths (and needs the page key).
  expect((await fetch(`${d.origin}/sandbox/state`, { headers: { 'x-sandbox-key': d.pageKey } })).status).toBe(
    200,
  );
});
