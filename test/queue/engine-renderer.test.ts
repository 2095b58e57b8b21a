/** @jest-environment ./test/diffusion/onnx-environment.cjs */
import { InferenceProcess, InferenceProcessError } from '../../src/diffusion/inference-process.js';
import { parsePrompt } from '../../src/prompt/parse.js';
import { createEngineRenderer } from '../../src/queue/engine-renderer.js';
import { DeadlineError, type Renderer } from '../../src/queue/renderer.js';
import type { JobRecord } from '../../src/store/job-records.js';
import { MODELS } from '../diffusion/helpers.js';

function recordFor(prompt: string): JobRecord {
  const description = parsePrompt(prompt);
  return {
    id: 'engine000001',
    kind: 'imagine',
    userId: 'u',
    description: { ...description, params: { ...description.params, seed: 3 } },
    reply: {
      applicationId: 'a',
      interactionToken: 't',
      interactionAt: 0,
      messageId: '@original',
      channelId: 'c',
      guildId: 'g',
    },
    createdAt: 0,
    status: 'queued',
  };
}

describe('the engine renderer replaces its inference process', () => {
  let renderer: Renderer;
  beforeAll(async () => {
    renderer = await createEngineRenderer({ modelDir: `${MODELS}emoji-tiny`, device: 'cpu', threads: 1 });
  }, 60_000);
  afterAll(() => renderer.close());

  test('a render past its deadline stops mid-job with DeadlineError; the next render runs in a new process', async () => {
    const deadline = new AbortController();
    let steps = 0;
    const stopped = renderer.render(
      recordFor('a cat --q 2'),
      new Map(),
      (p) => {
        if (p.stage === 'denoise' && ++steps === 2) deadline.abort(new Error('past its deadline of 1 s'));
      },
      deadline.signal,
    );
    await expect(stopped).rejects.toBeInstanceOf(DeadlineError);
    await expect(stopped).rejects.toThrow('past its deadline of 1 s');
    expect(steps).toBeLessThan(40);
    const next = await renderer.render(recordFor('a dog'), new Map(), () => {});
    expect(next.type === 'images' && next.images).toHaveLength(4);
  }, 60_000);
});

test('a process that has ended fails new jobs at once instead of waiting forever', async () => {
  const worker = await InferenceProcess.start(`${MODELS}emoji-tiny`, { threads: 1 });
  const running = worker.run(parsePrompt('a cat --q 2'), { seed: 1, images: {} });
  await worker.terminate();
  await expect(running).rejects.toBeInstanceOf(InferenceProcessError);
  expect(worker.alive).toBe(false);
  const started = Date.now();
  await expect(worker.run(parsePrompt('a cat'), { seed: 1, images: {} })).rejects.toThrow(
    /inference process exited/,
  );
  expect(Date.now() - started).toBeLessThan(1000);
}, 60_000);
