import { jest } from '@jest/globals';
import { type Feed, ModelSession } from '../../src/diffusion/backend.js';
import { DiffusionPipeline } from '../../src/diffusion/pipeline.js';
import type { GenerationRequest } from '../../src/diffusion/request.js';

export const MODELS = new URL('../fixtures/models/', import.meta.url).pathname;

export const LAYOUTS = ['sd15-tiny', 'sd21-tiny', 'sd21-fp16-tiny', 'emoji-tiny'] as const;

export function loadFixture(
  name: string,
  options: Parameters<typeof DiffusionPipeline.fromPretrained>[1] = {},
) {
  return DiffusionPipeline.fromPretrained(`${MODELS}${name}`, { threads: 1, ...options });
}

export function request(
  pipeline: DiffusionPipeline,
  overrides: Partial<GenerationRequest> = {},
): GenerationRequest {
  const d = pipeline.defaults;
  return {
    conditions: [{ kind: 'text', text: 'a red cat', weight: 1 }],
    seed: 42,
    width: d.size,
    height: d.size,
    steps: 4,
    guidanceScale: d.guidanceScale,
    scheduler: d.scheduler,
    stop: 1,
    chaos: 0,
    tile: false,
    init: null,
    images: [0, 1, 2, 3],
    ...overrides,
  };
}

export function meanAbsDiff(a: Uint8Array, b: Uint8Array): number {
  let sum = 0;
  for (let i = 0; i < a.length; i++) sum += Math.abs(a[i]! - b[i]!);
  return sum / a.length;
}

export type Fed = { label: string; feeds: Record<string, Feed> };

/**
 * Every ONNX call the pipeline makes while `fn` runs, with its feeds; `alter` may replace a call's feeds
 * (to show that an input the pipeline feeds changes the output).
 */
export async function recordRuns<T>(
  fn: () => Promise<T>,
  alter?: (label: string, feeds: Record<string, Feed>) => Record<string, Feed>,
): Promise<{ result: T; runs: Fed[] }> {
  const runs: Fed[] = [];
  const original = ModelSession.prototype.run;
  const spy = jest.spyOn(ModelSession.prototype, 'run').mockImplementation(function (
    this: ModelSession,
    feeds,
    outputs,
  ) {
    runs.push({ label: this.label, feeds });
    return original.call(this, alter ? alter(this.label, feeds) : feeds, outputs);
  });
  try {
    return { result: await fn(), runs };
  } finally {
    spy.mockRestore();
  }
}
