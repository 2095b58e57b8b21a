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
