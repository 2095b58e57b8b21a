/**
 * Starts the project exactly as `npm start` does (src/main.ts without DISCORD_TOKEN: private Redis,
 * loopback Discord, the bot, workers) on a free port with its data in a temporary folder, and reads
 * the page's address from what it prints.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { createWriteStream, existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const ROOT = new URL('../../', import.meta.url).pathname;

/** The real model when it is there; the tiny test model (noise, but fast) otherwise. */
export function modelDir(): string {
  if (process.env.MODEL_DIR) return process.env.MODEL_DIR;
  return existsSync(join(ROOT, 'models/emoji-ld2/unet/model.onnx'))
    ? 'models/emoji-ld2'
    : 'test/fixtures/models/emoji-tiny';
}

export interface RunningSandbox {
  /** The printed page address, key included (`http://127.0.0.1:PORT/?key=…`). */
  url: string;
  /** `http://127.0.0.1:PORT`, for requests of the test's own. */
  origin: string;
  /** The page key, sent as `X-Sandbox-Key` by requests of the test's own. */
  key: string;
  logFile: string;
  stop(): Promise<void>;
  /** Removes the data folder (Redis, log); kept after a failure for a look at the log. */
  removeData(): void;
}

export async function startSandbox(timeoutMs = 120_000): Promise<RunningSandbox> {
  const dataDir = mkdtempSync(join(tmpdir(), 'latentbot-browser-'));
  const logFile = join(dataDir, 'sandbox.log');
  const log = createWriteStream(logFile);
  const child: ChildProcess = spawn(process.execPath, ['--import', 'tsx', 'src/main.ts'], {
    cwd: ROOT,
    env: {
      ...process.env,
      DISCORD_TOKEN: '',
      REDIS_URL: '',
      SANDBOX_PORT: '0',
      DATA_DIR: dataDir,
      MODEL_DIR: modelDir(),
      WORKERS: process.env.WORKERS ?? '1',
      LOG_LEVEL: process.env.LOG_LEVEL ?? 'warn',
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  child.stderr?.pipe(log);
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const url = await new Promise<string>((resolve, reject) => {
    let seen = '';
    const timer = setTimeout(
      () => reject(new Error(`no "Sandbox ready" line in ${timeoutMs} ms; see ${logFile}`)),
      timeoutMs,
    );
    child.stdout?.on('data', (chunk: Buffer) => {
      log.write(chunk);
      seen += chunk.toString();
      const match = /Sandbox ready .*open (http:\/\/\S+)/.exec(seen);
      if (match?.[1]) {
        clearTimeout(timer);
        resolve(match[1]);
      }
    });
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`src/main.ts exited with ${code} before it was ready; see ${logFile}`));
    });
  });
  const address = new URL(url);
  return {
    url,
    origin: address.origin,
    key: address.searchParams.get('key') ?? '',
    logFile,
    async stop() {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
      const deadline = setTimeout(() => child.kill('SIGKILL'), 15_000);
      await exited;
      clearTimeout(deadline);
      log.end();
    },
    removeData() {
      rmSync(dataDir, { recursive: true, force: true });
    },
  };
}
