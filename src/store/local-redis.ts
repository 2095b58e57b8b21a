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
  /** The running redis-server; a new one after a restart. */
  readonly process: ChildProcess;
  /** Times redis-server died and was started again. */
  readonly restarts: number;
  stop(): Promise<void>;
}

export interface LocalRedisOptions {
  /** Folder for the AOF and RDB files; none: in memory only (tests). */
  dataDir?: string;
  port?: number;
  /** redis-server's `maxmemory` (e.g. `512mb`); past it writes are refused (`noeviction`), never evicted. */
  maxMemory?: string;
  /** Start redis-server again when it dies (default true), with this logger hearing about it. */
  supervise?: boolean;
  log?: { warn(details: object, message: string): void; info(details: object, message: string): void };
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
 * queued jobs survive a restart; `noeviction` because BullMQ must never lose keys to memory pressure,
 * with a `maxmemory` so that pressure ends in refused writes (which the bot reports) rather than in the
 * host's OOM killer. Supervised: when redis-server dies it is started again on the same port, and
 * every client reconnects on its own.
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
  if (options.maxMemory) args.push('--maxmemory', options.maxMemory);
  if (options.dataDir) {
    const dir = resolve(options.dataDir);
    mkdirSync(dir, { recursive: true });
    args.push('--dir', dir, '--appendonly', 'yes', '--appendfsync', 'everysec');
  } else {
    args.push('--appendonly', 'no');
  }

  let child = await launch(args);
  let stopping = false;
  let restarts = 0;
  const supervise = options.supervise ?? true;
  // A private Redis must not outlive its owner, even one that exits without cleaning up.
  const killOnExit = () => child.kill('SIGTERM');
  process.once('exit', killOnExit);

  const watch = (running: ChildProcess) => {
    running.once('exit', (code, signal) => {
      if (stopping || !supervise) return;
      options.log?.warn({ port, code, signal }, 'private redis-server died; starting it again');
      void restart(250);
    });
  };
  const restart = async (delayMs: number): Promise<void> => {
    await new Promise((wait) => setTimeout(wait, delayMs));
    if (stopping) return;
    try {
      child = await launch(args);
      restarts++;
      options.log?.info({ port, restarts }, 'private redis-server running again');
      watch(child);
    } catch (error) {
      options.log?.warn({ port, err: error }, 'private redis-server did not start; trying again');
      await restart(Math.min(10_000, delayMs * 2));
    }
  };
  watch(child);

  return {
    url: `redis://127.0.0.1:${port}`,
    port,
    get process() {
      return child;
    },
    get restarts() {
      return restarts;
    },
    stop: () =>
      new Promise<void>((done) => {
        stopping = true;
        process.off('exit', killOnExit);
        if (child.exitCode !== null || child.signalCode !== null) return done();
        child.once('exit', () => done());
        child.kill('SIGTERM');
      }),
  };
}

/** One redis-server, resolved once it accepts connections. */
async function launch(args: string[]): Promise<ChildProcess> {
  const child = spawn('redis-server', args, { stdio: ['ignore', 'pipe', 'pipe'] });
  await new Promise<void>((ready, fail) => {
    let output = '';
    const onData = (chunk: Buffer) => {
      output += chunk.toString();
      if (output.includes('Ready to accept connections')) {
        child.stdout?.off('data', onData);
        child.off('exit', onExit);
        ready();
      }
    };
    const onExit = (code: number | null) =>
      fail(new Error(`redis-server exited (${code}): ${output.slice(-500)}`));
    child.stdout?.on('data', onData);
    child.once('exit', onExit);
  });
  child.stdout?.resume();
  child.stderr?.resume();
  return child;
}
