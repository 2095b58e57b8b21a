import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { fetch } from 'undici';
import { RefusedAddressError } from '../../src/net/address-policy.js';
import { createGuardedAgent, type Resolver, TrustedHosts } from '../../src/net/guarded-agent.js';

// The agent on its own, without fetchImage's early check of addresses written in the link: the check at
// connect time must hold by itself.

let server: Server;
let port: number;
let connections = 0;

beforeAll(async () => {
  server = createServer((_req, res) => res.end('internal'));
  server.on('connection', () => connections++);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  port = (server.address() as AddressInfo).port;
});
afterAll(() => new Promise((resolve) => server.close(resolve)));
beforeEach(() => {
  connections = 0;
});

async function failure(url: string, agent = createGuardedAgent({ trusted: new TrustedHosts([]) })) {
  try {
    await fetch(url, { dispatcher: agent });
  } catch (error) {
    return error as Error;
  } finally {
    await agent.destroy();
  }
  throw new Error(`${url} was fetched`);
}

const causeOf = (error: Error) => error.cause;

test.each(['127.0.0.1', '[::ffff:127.0.0.1]', '0.0.0.0', '[::]', '2130706433'])(
  'an address written in the link is refused at connect time: %s',
  async (host) => {
    const error = await failure(`http://${host}:${port}/`);
    expect(causeOf(error)).toBeInstanceOf(RefusedAddressError);
    expect(connections).toBe(0);
  },
);

test('a name is resolved by the socket itself, and refused when it resolves to loopback', async () => {
  const asked: string[] = [];
  const resolve: Resolver = async (hostname) => {
    asked.push(hostname);
    return [{ address: '127.0.0.1', family: 4 }];
  };
  const error = await failure(
    `http://internal.example:${port}/`,
    createGuardedAgent({ trusted: new TrustedHosts([]), resolve }),
  );
  expect(causeOf(error)).toBeInstanceOf(RefusedAddressError);
  expect(asked).toEqual(['internal.example']);
  expect(connections).toBe(0);
});

test('a name with one public and one private address is refused as a whole', async () => {
  const resolve: Resolver = async () => [
    { address: '93.184.216.34', family: 4 },
    { address: '127.0.0.1', family: 4 },
  ];
  const error = await failure(
    `http://mixed.example:${port}/`,
    createGuardedAgent({ trusted: new TrustedHosts([]), resolve }),
  );
  expect(causeOf(error)).toBeInstanceOf(RefusedAddressError);
  expect(connections).toBe(0);
});

test('the socket connects to the address the lookup answered (a trusted name through the same resolver)', async () => {
  let lookups = 0;
  const resolve: Resolver = async () => {
    lookups++;
    return [{ address: '127.0.0.1', family: 4 }];
  };
  const agent = createGuardedAgent({ trusted: new TrustedHosts([`cdn.example:${port}`]), resolve });
  const response = await fetch(`http://cdn.example:${port}/`, { dispatcher: agent });
  expect(await response.text()).toBe('internal');
  await agent.destroy();
  expect(lookups).toBe(1);
  expect(connections).toBe(1);
});

describe('TrustedHosts trusts exactly a host and a port', () => {
  const url = (s: string) => new URL(s);

  test('the same host and port, however the link writes them', () => {
    const trusted = new TrustedHosts(['127.0.0.1:3000', 'cdn.example']);
    expect(trusted.has(url('http://127.0.0.1:3000/a.png'))).toBe(true);
    expect(trusted.has(url('http://127.1:3000/a.png'))).toBe(true);
    expect(trusted.has(url('http://CDN.example/a.png'))).toBe(true);
    expect(trusted.has(url('https://cdn.example/a.png'))).toBe(true);
  });

  test('not another port, host, spelling of the address, or scheme', () => {
    const trusted = new TrustedHosts(['127.0.0.1:3000', 'cdn.example', '[::1]:4000', 'local.example:80']);
    expect(trusted.has(url('http://127.0.0.1:3001/'))).toBe(false);
    expect(trusted.has(url('http://127.0.0.1/'))).toBe(false);
    expect(trusted.has(url('http://localhost:3000/'))).toBe(false);
    expect(trusted.has(url('http://[::ffff:127.0.0.1]:3000/'))).toBe(false);
    expect(trusted.has(url('http://cdn.example:8080/'))).toBe(false);
    expect(trusted.has(url('http://evil.cdn.example/'))).toBe(false);
    expect(trusted.has(url('http://[::1]:4001/'))).toBe(false);
    expect(trusted.has(url('http://[::1]:4000/'))).toBe(true);
    expect(trusted.has(url('http://local.example/'))).toBe(true);
    expect(trusted.has(url('https://local.example/'))).toBe(false);
    expect(trusted.has(url('ftp://cdn.example/'))).toBe(false);
  });

  test('malformed entries trust nothing', () => {
    const trusted = new TrustedHosts(['', ':3000', 'http://127.0.0.1:3000', '127.0.0.1:3000/x', '[::1']);
    expect(trusted.has(url('http://127.0.0.1:3000/'))).toBe(false);
    expect(trusted.has(url('http://[::1]/'))).toBe(false);
  });
});
