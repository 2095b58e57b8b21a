import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { mkdirSync } from 'node:fs';
import { createServer } from 'node:net';
import { resolve } from 'node:path';

/** Error with the exact command that fixes it, for people running without root. */
export class RedisServerMissing extends Error {
  override readonly name = 'RedisServerMissing';
}

export interface LocalRedis {
  url: string;
  port: number;
  process: ChildProcess;
  stop(): Promise<void>;
}

export interface LocalRedisOptions {
  /** Folder for the AOF and RDB files; none: in memory only (tests). */
  dataDir?: string;
  port?: number;
}

/** A free loopback TCP port, asked of the kernel. */
export function freePort(): Promise<number> {
  return new Promise((resolvePort, reject) => {
    const server = createServer();
    server.unref();
    server.on('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      server.close(() =>
        typeof address === 'object' && address ? resolvePort(address.port) : reject(new Error('no port')),
      );
    });
  });
}

function hasRedisServer(): boolean {
  return spawnSync('redis-server', ['--version'], { stdio: 'ignore' }).status === 0;
}

/**
 * Makes sure `redis-server` exists: installs Debian's package when running as root, otherwise throws
 * with the one command that installs it.
 */
export function ensureRedisServer(log: (line: string) => void = () => {}): void {
  if (hasRedisServer()) return;
  const install = 'apt-get install -y redis-server';
  if (process.getuid?.() !== 0) {
    throw new RedisServerMissing(`redis-server is not installed. Install it with: sudo ${install}`);
  }
  log('redis-server is missing; installing it from the distribution packages...');
  const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' };
  spawnSync('apt-get', ['update', '-qq'], { stdio: 'inherit', env });
  const result = spawnSync('apt-get', ['install', '-y', '-qq', 'redis-server'], { stdio: 'inherit', env });
  if (result.status !== 0 || !hasRedisServer()) {
    throw new RedisServerMissing(`installing redis-server failed. Install it with: ${install}`);
  }
}

/**
 * Starts a private redis-server on 127.0.0.1. With a data folder it keeps an append-only file, so
 * queued jobs survive a restart; `noeviction` because BullMQ must never lose keys to memory pressure.
 */
export async function startLocalRedis(options: LocalRedisOptions = {}): Promise<LocalRedis> {
  ensureRedisServer();
  const port = options.port ?? (await freePort());
  const args = [
    '--port',
    String(port),
    '--bind',
    '127.0.0.1',
    '--maxmemory-policy',
    'noeviction',
    '--save',
    '',
  ];
  if (options.dataDir) {
    const dir = resolve(options.dataDir);
    mkdirSync(dir, { recursive: true });
    args.push('--dir', dir, '--appendonly', 'yes', '--appendfsync', 'everysec');
  } else {
    args.push('--appendonly', 'no');
  }
  const child = spawn('redis-server', args, { stdio: ['ignore', 'pipe', 'pipe'] });
  // A private Redis must not outlive its owner, even one that exits without cleaning up.
  const killOnExit = () => child.kill('SIGTERM');
  process.once('exit', killOnExit);
  child.once('exit', () => process.off('exit', killOnExit));
  await new Promise<void>((ready, fail) => {
    let output = '';
    const onData = (chunk: Buffer) => {
      output += chunk.toString();
      if (output.includes('Ready to accept connections')) {
        child.stdout?.off('data', onData);
        ready();
      }
    };
    child.stdout?.on('data', onData);
    child.once('exit', (code) => fail(new Error(`redis-server exited (${code}): ${output.slice(-500)}`)));
  });
  child.stdout?.resume();
  child.stderr?.resume();
  return {
    url: `redis://127.0.0.1:${port}`,
    port,
    process: child,
    stop: () =>
      new Promise<void>((done) => {
        if (child.exitCode !== null) return done();
        child.once('exit', () => done());
        child.kill('SIGTERM');
      }),
  };
}
