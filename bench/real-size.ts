/**
 * `sd15_unet_step` and `tiny_vs_full_decoder_512`: Stable Diffusion 1.5's real sizes (random weights, from
 * scripts/make-real-size-models.py) in the engine (bench/real-size-engine.ts, its own Node process) against
 * the same networks in PyTorch eager (bench/pytorch-real-size.py, its own process), runs alternating one by
 * one so that both see the same machine load. Each side's peak resident memory is its process's.
 */
import { type ChildProcessByStdio, spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import type { Readable, Writable } from 'node:stream';
import { median, round } from './stats.js';

export const REAL_SIZE_DIR = '.work/real-size';

/** Why the real-size benchmarks cannot run from `dir`, or null when its models are there. */
export function realSizeMissing(dir: string): string | null {
  const files = ['manifest.json', 'unet/model.onnx', 'vae_decoder/model.onnx', 'taesd_decoder/model.onnx'];
  const missing = files.filter((file) => !existsSync(join(dir, file)));
  if (missing.length === 0) return null;
  return `no real-size models in ${dir} (${missing.join(', ')} missing); make them (3.5 GB, a few minutes) with /usr/bin/python3 scripts/make-real-size-models.py --out ${dir}`;
}

/** A child process answering one JSON line per line it is sent. */
class LineServer {
  private readonly child: ChildProcessByStdio<Writable, Readable, null>;
  private readonly lines: AsyncIterator<string>;
  readonly ready: Promise<Record<string, unknown>>;

  constructor(
    private readonly label: string,
    command: string,
    args: string[],
  ) {
    this.child = spawn(command, args, {
      stdio: ['pipe', 'pipe', 'inherit'],
      // OpenMP threads would otherwise busy-wait between runs and steal the other side's cores.
      env: { ...process.env, OMP_WAIT_POLICY: 'PASSIVE' },
    });
    this.lines = createInterface({ input: this.child.stdout })[Symbol.asyncIterator]();
    this.ready = this.next();
  }

  private async next(): Promise<Record<string, unknown>> {
    for (;;) {
      const { value, done } = await this.lines.next();
      if (done) throw new Error(`${this.label} ended early`);
      // Anything that is not a JSON object (a library's notice) is not an answer.
      if (value.startsWith('{')) return JSON.parse(value) as Record<string, unknown>;
    }
  }

  async run(network: string): Promise<number> {
    this.child.stdin.write(`${network}\n`);
    return Number((await this.next())['seconds']);
  }

  /** Ends the process; returns its peak resident memory in MB. */
  async close(): Promise<number> {
    this.child.stdin.end();
    const last = await this.next();
    return Number(last['max_rss_mb']);
  }
}

/** The engine's process, then PyTorch's, each started once the other is ready: no load or warm-up overlaps. */
async function sides(dir: string, networks: string[], threads: number | undefined, torchThreads: number) {
  const engine = new LineServer('bench/real-size-engine.ts', process.execPath, [
    '--import',
    'tsx',
    'bench/real-size-engine.ts',
    dir,
    'serve',
    networks.join(','),
    threads === undefined ? 'default' : String(threads),
  ]);
  const engineReady = await engine.ready;
  const torch = new LineServer('bench/pytorch-real-size.py', '/usr/bin/python3', [
    'bench/pytorch-real-size.py',
    dir,
    networks.join(','),
    String(torchThreads),
  ]);
  const torchReady = await torch.ready;
  return { engine, torch, engineReady, torchReady };
}

// A pause between the two lets each runtime's thread pool go idle before the other starts.
const settle = () => new Promise((resolve) => setTimeout(resolve, 300));

/** Runs `first` then `second` on even repeats, the other way round on odd ones. */
async function alternate(i: number, first: () => Promise<void>, second: () => Promise<void>) {
  for (const step of i % 2 === 0 ? [first, second] : [second, first]) {
    await settle();
    await step();
  }
}

const seconds = (values: number[]) => values.map((v) => round(v, 2));

/** One SD 1.5 UNet step at 512 px (64x64 latents), batch 2, engine vs PyTorch eager. */
export async function sd15UnetStep(
  dir: string,
  repeats: number,
  threads: number | undefined,
  torchThreads: number,
) {
  const { engine, torch, engineReady, torchReady } = await sides(dir, ['unet'], threads, torchThreads);
  const ours: number[] = [];
  const eager: number[] = [];
  for (let i = 0; i < repeats; i++) {
    await alternate(
      i,
      async () => {
        ours.push(await engine.run('unet'));
      },
      async () => {
        eager.push(await torch.run('unet'));
      },
    );
  }
  const engineRss = await engine.close();
  const torchRss = await torch.close();
  return {
    speedup: round(median(eager) / median(ours)),
    engine_seconds: round(median(ours), 2),
    pytorch_seconds: round(median(eager), 2),
    engine_runs: seconds(ours),
    pytorch_runs: seconds(eager),
    engine_peak_rss_mb: Math.round(engineRss),
    pytorch_peak_rss_mb: Math.round(torchRss),
    warmup_seconds: {
      engine: round(Number((engineReady['warmup_seconds'] as Record<string, number>)['unet']), 2),
      pytorch: round(Number((torchReady['warmup_seconds'] as Record<string, number>)['unet']), 2),
    },
    shape: 'sample [2,4,64,64], encoder_hidden_states [2,77,768]',
    pytorch: String(torchReady['torch']),
    torch_threads: torchThreads,
    weights: 'random (speed only)',
  };
}

/** The TAESD-layout tiny decoder against SD's full VAE decoder, 64x64 latents -> 512x512, batch 1. */
export async function tinyVsFullDecoder(
  dir: string,
  repeats: number,
  threads: number | undefined,
  torchThreads: number,
) {
  const networks = ['vae_decoder', 'taesd_decoder'];
  const { engine, torch, torchReady } = await sides(dir, networks, threads, torchThreads);
  const runs: Record<string, number[]> = { engine_full: [], engine_tiny: [], torch_full: [], torch_tiny: [] };
  for (let i = 0; i < repeats; i++) {
    for (const [network, key] of [
      ['vae_decoder', 'full'],
      ['taesd_decoder', 'tiny'],
    ] as const) {
      await alternate(
        i,
        async () => {
          runs[`engine_${key}`]!.push(await engine.run(network));
        },
        async () => {
          runs[`torch_${key}`]!.push(await torch.run(network));
        },
      );
    }
  }
  const engineRss = await engine.close();
  const torchRss = await torch.close();
  const m = (key: string) => median(runs[key]!);
  return {
    speedup: round(m('engine_full') / m('engine_tiny'), 1),
    full_seconds: round(m('engine_full'), 3),
    tiny_seconds: round(m('engine_tiny'), 4),
    pytorch_full_seconds: round(m('torch_full'), 3),
    pytorch_tiny_seconds: round(m('torch_tiny'), 4),
    pytorch_speedup: round(m('torch_full') / m('torch_tiny'), 1),
    full_runs: seconds(runs['engine_full']!),
    pytorch_full_runs: seconds(runs['torch_full']!),
    engine_peak_rss_mb: Math.round(engineRss),
    pytorch_peak_rss_mb: Math.round(torchRss),
    shape: 'latent_sample [1,4,64,64] -> sample [1,3,512,512]',
    pytorch: String(torchReady['torch']),
    torch_threads: torchThreads,
    weights: 'random (speed only)',
  };
}
