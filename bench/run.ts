/**
 * Engine benchmarks, measured side by side in one run; medians over repeats.
 *   npm run bench -- --json [--model dir] [--repeats n] [--threads n] [--real-size dir]
 * One JSON object per line, each with a `name`. See docs/benchmarks.md for what each one means.
 */
import { execFileSync, spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { cpus } from 'node:os';
import { createInterface } from 'node:readline';
import { parseArgs } from 'node:util';
import sharp from 'sharp';
import { DiffusionPipeline } from '../src/diffusion/pipeline.js';
import type { GenerationRequest } from '../src/diffusion/request.js';
import { imagesOf, runJob } from '../src/diffusion/run-job.js';
import { PNG_OUTPUT } from '../src/images/png.js';
import { parsePrompt } from '../src/prompt/parse.js';
import { previousGridJob } from './previous-png.js';
import { REAL_SIZE_DIR, realSizeMissing, sd15UnetStep, tinyVsFullDecoder } from './real-size.js';
import { median, round, timeIt } from './stats.js';

const SHIPPED = 'models/emoji-ld';

/** bench/pytorch_grid.py in serve mode: one grid per request, answered with its time. */
class PythonGrid {
  private readonly child;
  private readonly lines: AsyncIterator<string>;
  readonly ready: Promise<string>;

  constructor(args: string[]) {
    this.child = spawn('/usr/bin/python3', args, {
      stdio: ['pipe', 'pipe', 'inherit'],
      // OpenMP threads would otherwise busy-wait between grids and steal the engine's cores.
      env: { ...process.env, OMP_WAIT_POLICY: 'PASSIVE' },
    });
    this.lines = createInterface({ input: this.child.stdout })[Symbol.asyncIterator]();
    this.ready = this.next().then((line) => String(line['torch']));
  }

  private async next(): Promise<Record<string, unknown>> {
    const { value, done } = await this.lines.next();
    if (done) throw new Error('bench/pytorch_grid.py ended early');
    return JSON.parse(value) as Record<string, unknown>;
  }

  async grid(): Promise<number> {
    this.child.stdin.write('grid\n');
    return Number((await this.next())['seconds']);
  }

  close(): void {
    this.child.stdin.end();
  }
}
const FIXTURE = 'test/fixtures/models/emoji-tiny';

const { values } = parseArgs({
  options: {
    json: { type: 'boolean', default: false },
    model: { type: 'string' },
    repeats: { type: 'string', default: '7' },
    threads: { type: 'string' },
    only: { type: 'string' },
    'real-size': { type: 'string', default: REAL_SIZE_DIR },
  },
});
const model = values.model ?? (existsSync(`${SHIPPED}/unet/model.onnx`) ? SHIPPED : FIXTURE);
const repeats = Number(values.repeats);
const threads = values.threads ? Number(values.threads) : undefined;
const only = values.only?.split(',');
const context = { model, repeats, cpus: cpus().length, threads: threads ?? 'default' };

function report(name: string, result: Record<string, unknown>): void {
  const line = { name, ...result, ...context };
  console.log(values.json ? JSON.stringify(line) : `${name}: ${JSON.stringify(result)}`);
}
const wanted = (name: string) => !only || only.includes(name);

const pipeline = await DiffusionPipeline.fromPretrained(model, threads === undefined ? {} : { threads });
const defaults = pipeline.defaults;
const job = parsePrompt('a smiling face with a heart');
const baseRequest: GenerationRequest = {
  conditions: [{ kind: 'text', text: 'a smiling face with a heart', weight: 1 }],
  seed: 1,
  width: defaults.size,
  height: defaults.size,
  steps: defaults.steps,
  guidanceScale: defaults.guidanceScale,
  scheduler: defaults.scheduler,
  stop: 1,
  chaos: 0,
  tile: false,
  init: null,
  images: [0, 1, 2, 3],
};
// Warm-up: first runs allocate arenas and pick kernels.
await pipeline.generate(baseRequest);
await runJob(pipeline, job, { seed: 0, images: {} }, { modelName: 'bench' });

if (wanted('pipeline_overhead')) {
  const ratios: number[] = [];
  for (let i = 0; i < repeats; i++) {
    const result = await pipeline.generate({ ...baseRequest, seed: i });
    ratios.push(result.timings.totalMs / result.timings.onnxMs);
  }
  report('pipeline_overhead', { ratio: round(median(ratios)), goal: '<= 1.05' });
}

if (wanted('job_overhead_with_png')) {
  // The whole job (job description -> task -> generate -> display resampling -> grid + 4 PNGs) / the time
  // inside onnxruntime during it; today's runJob() against the former PNG output (bench/previous-png.ts),
  // alternating which goes first, on the same seeds. Bytes: the five PNGs of one job.
  const now: number[] = [];
  const before: number[] = [];
  const bytesNow: number[] = [];
  const bytesBefore: number[] = [];
  const comparisons: [Uint8Array[], Uint8Array[]][] = [];
  let samePixels = true;
  const pixels = (png: Uint8Array) => sharp(png).raw().toBuffer();
  for (let i = 0; i < repeats; i++) {
    const current = async () => {
      const output = imagesOf(await runJob(pipeline, job, { seed: i, images: {} }, { modelName: 'bench' }));
      now.push(output.timings.totalMs / output.timings.onnxMs);
      return [output.grid!, ...output.images.map((image) => image.png)];
    };
    const previous = async () => {
      const output = await previousGridJob(pipeline, job, { seed: i, images: {} });
      before.push(output.totalMs / output.onnxMs);
      return output.pngs;
    };
    let a: Uint8Array[];
    let b: Uint8Array[];
    if (i % 2 === 0) {
      a = await current();
      b = await previous();
    } else {
      b = await previous();
      a = await current();
    }
    bytesNow.push(a.reduce((n, png) => n + png.length, 0));
    bytesBefore.push(b.reduce((n, png) => n + png.length, 0));
    comparisons.push([a, b]);
  }
  // Decoded after the timed runs, so that decoding does not sit between them.
  for (const [a, b] of comparisons) {
    for (let k = 0; k < a.length; k++) {
      if (!(await pixels(a[k]!)).equals(await pixels(b[k]!))) samePixels = false;
    }
  }
  report('job_overhead_with_png', {
    ratio: round(median(now)),
    ratio_previous_png: round(median(before)),
    png_bytes: Math.round(median(bytesNow)),
    png_bytes_previous: Math.round(median(bytesBefore)),
    same_pixels: samePixels,
    png: PNG_OUTPUT,
    goal: '<= 1.08',
  });
}

if (wanted('batched_guidance')) {
  // Three weighted prompts + unconditional, 4 images: 16 rows in one call vs one call per condition (4 rows).
  const perCondition = await DiffusionPipeline.fromPretrained(model, {
    maxUnetBatch: 4,
    ...(threads === undefined ? {} : { threads }),
  });
  const request: GenerationRequest = {
    ...baseRequest,
    conditions: [
      { kind: 'text', text: 'a red heart', weight: 0.6 },
      { kind: 'text', text: 'a yellow star', weight: 0.6 },
      { kind: 'text', text: 'a blue moon', weight: -0.2 },
    ],
  };
  await perCondition.generate(request);
  const batched: number[] = [];
  const looped: number[] = [];
  let maxDiff = 0;
  for (let i = 0; i < repeats; i++) {
    const a = await timeIt(() => pipeline.generate({ ...request, seed: i }));
    const b = await timeIt(() => perCondition.generate({ ...request, seed: i }));
    batched.push(a.ms);
    looped.push(b.ms);
    a.value.images.forEach((image, k) => {
      const other = b.value.images[k]!.data;
      image.data.forEach((v, j) => {
        maxDiff = Math.max(maxDiff, Math.abs(v - other[j]!));
      });
    });
  }
  await perCondition.dispose();
  report('batched_guidance', {
    speedup: round(median(looped) / median(batched)),
    batched_ms: round(median(batched), 1),
    per_condition_ms: round(median(looped), 1),
    max_pixel_difference: maxDiff,
    goal: '>= 1.5',
  });
}

if (wanted('grid_cpu')) {
  // A folder that chooses among two starts per image is also timed with one start, interleaved, for the ratio.
  const oneStart =
    defaults.chooseStartsAt === null
      ? null
      : await DiffusionPipeline.fromPretrained(model, {
          chooseStarts: false,
          ...(threads === undefined ? {} : { threads }),
        });
  const grids: number[] = [];
  const single: number[] = [];
  for (let i = 0; i < repeats; i++) {
    grids.push(
      (await timeIt(() => runJob(pipeline, job, { seed: i, images: {} }, { modelName: 'bench' }))).ms,
    );
    if (oneStart) {
      const run = () => runJob(oneStart, job, { seed: i, images: {} }, { modelName: 'bench' });
      single.push((await timeIt(run)).ms);
    }
  }
  await oneStart?.dispose();
  report('grid_cpu', {
    seconds: round(median(grids) / 1000),
    steps: defaults.steps,
    scheduler: defaults.scheduler,
    choose_starts_at: defaults.chooseStartsAt,
    ...(oneStart
      ? {
          seconds_one_start: round(median(single) / 1000),
          ratio_to_one_start: round(median(grids) / median(single)),
        }
      : {}),
    includes: 'job description -> 4 images -> display resampling -> 5 PNGs',
    goal: '< 1.5',
  });
}

if (wanted('style_guidance') && defaults.latentStyleGuidance > 0) {
  // A `--style` grid with latent style guidance against the same grid without it, interleaved: the
  // probe's call per step is what it adds.
  const styled = parsePrompt('a smiling face with a heart --style twemoji');
  const off = await DiffusionPipeline.fromPretrained(model, {
    latentStyleGuidance: 0,
    ...(threads === undefined ? {} : { threads }),
  });
  const on: number[] = [];
  const without: number[] = [];
  for (let i = 0; i < repeats; i++) {
    on.push(
      (await timeIt(() => runJob(pipeline, styled, { seed: i, images: {} }, { modelName: 'bench' }))).ms,
    );
    without.push(
      (await timeIt(() => runJob(off, styled, { seed: i, images: {} }, { modelName: 'bench' }))).ms,
    );
  }
  await off.dispose();
  report('style_guidance', {
    seconds: round(median(on) / 1000),
    seconds_without: round(median(without) / 1000),
    ratio: round(median(on) / median(without)),
    scale: defaults.latentStyleGuidance,
    includes: '`--style twemoji` grid: job description -> 4 images -> display resampling -> 5 PNGs',
  });
}

if (wanted('vs_pytorch')) {
  // PyTorch eager in its own process, same model architecture and settings, runs interleaved with the
  // engine's so both see the same machine load.
  const torchThreads = String(threads ?? cpus().length);
  const torch = new PythonGrid(['bench/pytorch_grid.py', model, String(defaults.steps), '0', torchThreads]);
  const version = await torch.ready;
  const engine: number[] = [];
  const eager: number[] = [];
  // A pause between the two lets each runtime's spinning thread pool go idle before the other starts.
  const settle = () => new Promise((resolve) => setTimeout(resolve, 300));
  for (let i = 0; i < repeats; i++) {
    await settle();
    // bench/pytorch_grid.py samples with DDIM: the engine does the same here.
    engine.push(
      (await timeIt(() => pipeline.generate({ ...baseRequest, scheduler: 'ddim', seed: i }))).ms / 1000,
    );
    await settle();
    eager.push(await torch.grid());
  }
  torch.close();
  report('vs_pytorch', {
    speedup: round(median(eager) / median(engine)),
    pytorch_seconds: round(median(eager)),
    engine_seconds: round(median(engine)),
    pytorch: version,
    goal: '>= 2',
  });
}

await pipeline.dispose();

if (wanted('worker_rss_mb')) {
  const out = execFileSync(process.execPath, ['--import', 'tsx', 'bench/worker-rss.ts', model, '3'], {
    encoding: 'utf8',
  });
  const { maxRssMb } = JSON.parse(out.trim().split('\n').pop()!) as { maxRssMb: number };
  report('worker_rss_mb', { worker_rss_mb: round(maxRssMb, 1), value: round(maxRssMb, 1) });
}

// SD 1.5's real sizes (scripts/make-real-size-models.py, not committed): at most 3 runs a side, a UNet step
// takes tens of seconds on a small CPU.
const realSize = values['real-size'];
const realSizeRepeats = Math.min(repeats, 3);
for (const [name, bench] of [
  ['sd15_unet_step', sd15UnetStep],
  ['tiny_vs_full_decoder_512', tinyVsFullDecoder],
] as const) {
  if (!wanted(name)) continue;
  const missing = realSizeMissing(realSize);
  if (missing) report(name, { skipped: missing });
  else report(name, await bench(realSize, realSizeRepeats, threads, threads ?? cpus().length));
}
