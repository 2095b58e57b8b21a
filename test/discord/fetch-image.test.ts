import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import sharp from 'sharp';
import { fetchImage } from '../../src/discord/fetch-image.js';
import { UserError } from '../../src/discord/user-error.js';

let server: Server;
let host: string;
let png: Buffer;

beforeAll(async () => {
  png = await sharp({ create: { width: 8, height: 8, channels: 3, background: '#123456' } })
    .png()
    .toBuffer();
  server = createServer((req, res) => {
    if (req.url === '/ok.png') {
      res.writeHead(200, { 'content-type': 'image/png' });
      res.end(png);
    } else if (req.url === '/endless.png') {
      // No content-length: the limit must hold while streaming.
      res.writeHead(200, { 'content-type': 'image/png' });
      const chunk = Buffer.alloc(64 * 1024);
      const timer = setInterval(() => res.write(chunk), 1);
      res.on('close', () => clearInterval(timer));
    } else if (req.url === '/redirect-private.png') {
      res.writeHead(302, { location: 'http://10.0.0.1/secret.png' });
      res.end();
    } else if (req.url === '/redirect-ok.png') {
      res.writeHead(302, { location: '/ok.png' });
      res.end();
    } else if (req.url === '/slow.png') {
      setTimeout(() => res.end(png), 2000).unref();
    } else {
      res.writeHead(404);
      res.end();
    }
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  host = `127.0.0.1:${(server.address() as AddressInfo).port}`;
});
afterAll(() => new Promise((resolve) => server.close(resolve)));

const limits = () => ({ maxBytes: 256 * 1024, timeoutMs: 500, trustedHosts: [host] });

test('an image within the limits comes back as it was served', async () => {
  expect(await fetchImage(`http://${host}/ok.png`, limits())).toEqual(png);
});

test('a body over the limit is cut off while streaming', async () => {
  await expect(fetchImage(`http://${host}/endless.png`, limits())).rejects.toThrow(/images may be at most/);
});

test('a slow server hits the time limit', async () => {
  await expect(fetchImage(`http://${host}/slow.png`, limits())).rejects.toThrow('took longer than 0.5 s');
});

test('HTTP errors are named', async () => {
  await expect(fetchImage(`http://${host}/missing.png`, limits())).rejects.toThrow('HTTP 404');
});

test('links to private addresses are refused unless the host is trusted', async () => {
  const untrusted = { ...limits(), trustedHosts: [] };
  await expect(fetchImage(`http://${host}/ok.png`, untrusted)).rejects.toThrow(UserError);
  await expect(fetchImage(`http://${host}/ok.png`, untrusted)).rejects.toThrow('private network addresses');
  await expect(fetchImage('http://[::1]:9/x.png', untrusted)).rejects.toThrow('private network addresses');
  await expect(fetchImage('http://10.1.2.3/x.png', untrusted)).rejects.toThrow('private network addresses');
});

test('redirects are followed, each hop checked', async () => {
  expect(await fetchImage(`http://${host}/redirect-ok.png`, limits())).toEqual(png);
  await expect(fetchImage(`http://${host}/redirect-private.png`, limits())).rejects.toThrow(
    'private network addresses',
  );
});
