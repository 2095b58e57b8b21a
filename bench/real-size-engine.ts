/**
 * The engine's side of the real-size benchmarks (bench/real-size.ts), in its own process so that its peak
 * resident memory is its own. The models come from scripts/make-real-size-models.py; they are loaded and run
 * through src/diffusion/backend.ts, as the pipeline loads and runs its networks.
 *
 *   npx tsx bench/real-size-engine.ts <dir> serve <networks> <threads|default>
 *     loads the networks (comma-separated: unet, vae_decoder, taesd_decoder), runs each once (warm-up), prints
 *     {"ready": true, ...}; then one run per network name read from stdin, answered {"seconds": s}; at the
 *     end of stdin prints {"max_rss_mb": ...}.
 *   npx tsx bench/real-size-engine.ts <dir> check <networks>
 *     runs each network on the input torch saw when it was exported and prints the largest difference.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { Backend, type Feed, type ModelSession } from '../src/diffusion/backend.js';
import type { FloatTensor } from '../src/diffusion/tensor.js';

interface StoredTensor {
  file: string;
  dims: number[];
}
interface Network {
  path: string;
  parameters: number;
  check: { inputs: Record<string, StoredTensor>; output: StoredTensor & { name: string } };
}
interface Manifest {
  networks: Record<string, Network>;
}

/** Seeded normal values (Box-Muller on a 32-bit LCG): the inputs' values do not matter, only their shapes. */
function normals(count: number, seed: number): Float32Array {
  const out = new Float32Array(count);
  let state = seed >>> 0 || 1;
  const uniform = () => {
    state = (Math.imul(state, 1664525) + 1013904223) >>> 0;
    return (state + 0.5) / 4294967296;
  };
  for (let i = 0; i < count; i += 2) {
    const r = Math.sqrt(-2 * Math.log(uniform()));
    const a = 2 * Math.PI * uniform();
    out[i] = r * Math.cos(a);
    if (i + 1 < count) out[i + 1] = r * Math.sin(a);
  }
  return out;
}

const float = (data: Float32Array, dims: number[]): Feed => ({ kind: 'float', tensor: { data, dims } });

/** The benchmark's inputs at 512 px: the UNet at batch 2 (a prompt and the unconditional row), decoders at 1. */
function benchFeeds(network: string): Record<string, Feed> {
  if (network === 'unet') {
    return {
      sample: float(normals(2 * 4 * 64 * 64, 1), [2, 4, 64, 64]),
      timestep: float(new Float32Array([981, 981]), [2]),
      encoder_hidden_states: float(normals(2 * 77 * 768, 2), [2, 77, 768]),
    };
  }
  return { latent_sample: float(normals(4 * 64 * 64, 3), [1, 4, 64, 64]) };
}

function readTensor(dir: string, stored: StoredTensor): FloatTensor {
  const bytes = readFileSync(join(dir, 'check', stored.file));
  const data = new Float32Array(bytes.buffer, bytes.byteOffset, bytes.byteLength / 4).slice();
  return { data, dims: stored.dims };
}

async function check(dir: string, manifest: Manifest, names: string[]): Promise<void> {
  for (const name of names) {
    const network = manifest.networks[name];
    if (!network) throw new Error(`${dir}/manifest.json has no ${name}`);
    const backend = new Backend();
    const started = performance.now();
    const session = await backend.load(join(dir, network.path), name);
    const loadSeconds = (performance.now() - started) / 1000;
    const feeds: Record<string, Feed> = {};
    for (const [input, stored] of Object.entries(network.check.inputs))
      feeds[input] = { kind: 'float', tensor: readTensor(dir, stored) };
    const expected = readTensor(dir, network.check.output);
    const got = (await session.run(feeds))[network.check.output.name]!;
    let maxDiff = 0;
    let maxAbs = 0;
    expected.data.forEach((v, i) => {
      maxDiff = Math.max(maxDiff, Math.abs(v - got.data[i]!));
      maxAbs = Math.max(maxAbs, Math.abs(v));
    });
    const sameShape = got.dims.join(',') === expected.dims.join(',');
    console.log(
      JSON.stringify({
        network: name,
        dims: got.dims,
        same_shape: sameShape,
        max_abs_diff: maxDiff,
        max_abs_output: maxAbs,
        load_seconds: Number(loadSeconds.toFixed(1)),
      }),
    );
    await backend.dispose();
    if (!sameShape || !Number.isFinite(maxDiff) || maxDiff > 1e-2 * Math.max(1, maxAbs))
      throw new Error(`${name}: the engine's output differs from torch's`);
  }
}

async function serve(dir: string, manifest: Manifest, names: string[], threads: number | undefined) {
  const backend = new Backend(threads === undefined ? {} : { threads });
  const sessions = new Map<string, ModelSession>();
  const feeds = new Map<string, Record<string, Feed>>();
  for (const name of names) {
    const network = manifest.networks[name];
    if (!network) throw new Error(`${dir}/manifest.json has no ${name}`);
    sessions.set(name, await backend.load(join(dir, network.path), name));
    feeds.set(name, benchFeeds(name));
  }
  const runOnce = async (name: string) => {
    const session = sessions.get(name);
    if (!session) throw new Error(`not loaded: ${name}`);
    const started = performance.now();
    await session.run(feeds.get(name)!);
    return (performance.now() - started) / 1000;
  };
  const warmup: Record<string, number> = {};
  for (const name of names) warmup[name] = await runOnce(name);
  console.log(JSON.stringify({ ready: true, warmup_seconds: warmup }));
  for await (const line of createInterface({ input: process.stdin })) {
    const name = line.trim();
    if (name) console.log(JSON.stringify({ seconds: await runOnce(name) }));
  }
  await backend.dispose();
  console.log(JSON.stringify({ max_rss_mb: process.resourceUsage().maxRSS / 1024 }));
}

const [dir, mode, list = 'unet,vae_decoder,taesd_decoder', threads = 'default'] = process.argv.slice(2);
if (dir && (mode === 'check' || mode === 'serve')) {
  const manifest = JSON.parse(readFileSync(join(dir, 'manifest.json'), 'utf8')) as Manifest;
  const names = list.split(',');
  if (mode === 'check') await check(dir, manifest, names);
  else await serve(dir, manifest, names, threads === 'default' ? undefined : Number(threads));
}
