import { type ChildProcess, fork } from 'node:child_process';
import type { Logger } from 'pino';

export interface SupervisorOptions {
  count: number;
  env: NodeJS.ProcessEnv;
  logger: Logger;
}

/**
 * Starts N worker processes and restarts any that dies (with a growing pause, so a worker that cannot
 * start does not spin). Each loads the model once; on CPU several share the cores, on GPU run one each.
 */
export class WorkerSupervisor {
  private readonly children = new Map<number, ChildProcess>();
  private stopping = false;

  constructor(private readonly options: SupervisorOptions) {}

  /** Resolves once every worker has loaded its model. */
  async start(): Promise<void> {
    await Promise.all(Array.from({ length: this.options.count }, (_, i) => this.spawn(i, 0)));
  }

  get pids(): number[] {
    return [...this.children.values()].flatMap((child) => (child.pid ? [child.pid] : []));
  }

  private spawn(index: number, restarts: number): Promise<void> {
    const typescript = import.meta.url.endsWith('.ts');
    const entry = new URL(typescript ? './worker-main.ts' : './worker-main.js', import.meta.url);
    const child = fork(entry, [], {
      env: { ...this.options.env, WORKER_INDEX: String(index) },
      execArgv: typescript ? ['--import', 'tsx'] : [],
      stdio: 'inherit',
    });
    this.children.set(index, child);
    const started = Date.now();
    child.on('exit', (code, signal) => {
      if (this.children.get(index) === child) this.children.delete(index);
      if (this.stopping) return;
      // A worker that ran a while before dying starts afresh; one that dies at once backs off.
      const next = Date.now() - started > 60_000 ? 0 : restarts + 1;
      const delay = Math.min(30_000, 500 * 2 ** Math.min(next, 6));
      this.options.logger.warn({ index, code, signal, delayMs: delay }, 'worker exited; restarting');
      setTimeout(() => void this.spawn(index, next).catch(() => {}), delay).unref();
    });
    return new Promise((resolve, reject) => {
      child.once('message', (message: { type?: string }) =>
        message?.type === 'ready' ? resolve() : undefined,
      );
      child.once('exit', (code) =>
        reject(new Error(`worker ${index} exited with code ${code} before it was ready`)),
      );
    });
  }

  /** Asks every worker to finish its job and stop; waits for them. */
  async stop(): Promise<void> {
    this.stopping = true;
    await Promise.all(
      [...this.children.values()].map(
        (child) =>
          new Promise<void>((resolve) => {
            if (child.exitCode !== null) return resolve();
            // A worker finishes its current job first; one that hangs is killed after a grace period.
            const kill = setTimeout(() => child.kill('SIGKILL'), 40_000);
            child.once('exit', () => {
              clearTimeout(kill);
              resolve();
            });
            child.kill('SIGTERM');
          }),
      ),
    );
  }
}
