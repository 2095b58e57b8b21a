/** @jest-environment ./test/diffusion/onnx-environment.cjs */
import sharp from 'sharp';
import { UnknownDeviceError } from '../../src/diffusion/backend.js';
import { InferenceProcess } from '../../src/diffusion/inference-process.js';
import { imagesOf, type JobProgress } from '../../src/diffusion/run-job.js';
import { ImageInputError } from '../../src/images/errors.js';
import { parsePrompt } from '../../src/prompt/parse.js';
import { MODELS } from './helpers.js';

describe('InferenceProcess (inference in a child process)', () => {
  let worker: InferenceProcess;
  beforeAll(async () => {
    worker = await InferenceProcess.start(`${MODELS}emoji-tiny`, { threads: 1, modelName: 'tiny' });
  }, 60_000);
  afterAll(() => worker.close());

  test('runs a job, reports ordered progress with previews, and returns PNGs', async () => {
    const events: JobProgress[] = [];
    let ticks = 0;
    const timer = setInterval(() => ticks++, 1);
    const output = imagesOf(
      await worker.run(parsePrompt('a red cat --seed 4'), { seed: 4, images: {}, steps: 10 }, (p) =>
        events.push(p),
      ),
    );
    clearInterval(timer);
    expect(worker.defaults).toMatchObject({ size: 32, hasImageEncoder: true });
    expect(events.filter((e) => e.stage === 'denoise').map((e) => e.step)).toEqual([
      1, 2, 3, 4, 5, 6, 7, 8, 9, 10,
    ]);
    const preview = events.find((e) => e.preview)?.preview;
    expect((await sharp(preview!).metadata()).format).toBe('png');
    expect(output.images.map((i) => i.index)).toEqual([0, 1, 2, 3]);
    expect((await sharp(output.grid!).metadata()).width).toBeGreaterThanOrEqual(512);
    // The parent's event loop stayed free: its timer kept firing while the job ran.
    expect(ticks).toBeGreaterThan(0);
  });

  test('a cancelled job stops, and the worker takes the next one', async () => {
    const controller = new AbortController();
    const run = worker.run(
      parsePrompt('a red cat'),
      { seed: 1, images: {}, steps: 50 },
      (p) => {
        if (p.stage === 'denoise' && p.step === 2) controller.abort();
      },
      controller.signal,
    );
    await expect(run).rejects.toMatchObject({ name: 'AbortError' });
    const next = imagesOf(await worker.run(parsePrompt('a blue dog'), { seed: 2, images: {}, steps: 2 }));
    expect(next.images).toHaveLength(4);
  });

  test('a bad image comes back as the typed error', async () => {
    const url = 'https://example.com/x.png';
    const job = parsePrompt(`${url} a cat`);
    await expect(
      worker.run(job, { seed: 1, images: { [url]: new Uint8Array([1, 2, 3]) } }),
    ).rejects.toBeInstanceOf(ImageInputError);
  });

  test('an unknown device fails start() with the typed error', async () => {
    const failure = InferenceProcess.start(`${MODELS}emoji-tiny`, { device: 'tpu' });
    await expect(failure).rejects.toBeInstanceOf(UnknownDeviceError);
    await expect(failure).rejects.toThrow('unknown device "tpu"; valid devices: cpu, cuda');
  });

  test('a model folder that does not load fails start()', async () => {
    await expect(InferenceProcess.start(`${MODELS}missing`)).rejects.toThrow(/has no unet/);
  });
});

describe('ending the inference process', () => {
  const SHIPPED = new URL('../../models/emoji-ld/', import.meta.url).pathname;

  test('killing it in the middle of an ONNX Runtime call fails its job and leaves this process running', async () => {
    // With a worker thread in its place, ending it mid-run aborted the whole Node process.
    for (const delayMs of [60, 150, 260]) {
      const child = await InferenceProcess.start(SHIPPED, { threads: 1 });
      let steps = 0;
      const running = child.run(parsePrompt('a red cat'), { seed: 1, images: {}, steps: 50 }, (p) => {
        if (p.stage === 'denoise') steps++;
      });
      await new Promise((resolve) => setTimeout(resolve, delayMs));
      await child.terminate();
      await expect(running).rejects.toThrow('inference process exited with signal SIGKILL');
      expect(steps).toBeLessThan(50);
      expect(child.alive).toBe(false);
    }
  }, 60_000);

  test('it does not outlive its parent', async () => {
    const { execFileSync } = await import('node:child_process');
    const source = new URL('../../src/diffusion/inference-process.ts', import.meta.url).href;
    // A parent that starts an inference process, prints its pid and dies without closing it.
    const script = `const { InferenceProcess } = await import(${JSON.stringify(source)});
      const child = await InferenceProcess.start(${JSON.stringify(`${MODELS}emoji-tiny`)}, { threads: 1 });
      console.log(child.pid); process.kill(process.pid, 'SIGKILL');`;
    let out = '';
    try {
      execFileSync(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], {
        encoding: 'utf8',
      });
    } catch (error) {
      out = String((error as { stdout?: string }).stdout ?? '');
    }
    const pid = Number(out.trim());
    expect(pid).toBeGreaterThan(0);
    const alive = () => {
      try {
        process.kill(pid, 0);
        return true;
      } catch {
        return false;
      }
    };
    for (let i = 0; i < 50 && alive(); i++) await new Promise((resolve) => setTimeout(resolve, 100));
    expect(alive()).toBe(false);
  }, 60_000);
});
