// Runs ONNX cases in onnxruntime-node at a given thread count: compares each output with the PyTorch one
// the recipe saved (as check_onnx.mjs) and times repeated runs (median ms). Used by extras2.py's export.
// Usage: node onnx_time2.mjs <cases.json> [threads=1] [runs=20]   (prints one JSON line)
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import * as ort from 'onnxruntime-node';

const [casesPath, threadsArg = '1', runsArg = '20'] = process.argv.slice(2);
const threads = Number(threadsArg);
const runs = Number(runsArg);
const base = dirname(casesPath);
const cases = JSON.parse(readFileSync(casesPath, 'utf8'));

function load(spec) {
  const buf = readFileSync(join(base, spec.file));
  const ab = buf.buffer.slice(buf.byteOffset, buf.byteOffset + buf.byteLength);
  return new ort.Tensor('float32', new Float32Array(ab), spec.dims);
}

const report = {};
let ok = true;
for (const c of cases) {
  const session = await ort.InferenceSession.create(c.model, { intraOpNumThreads: threads, interOpNumThreads: 1 });
  const feeds = {};
  for (const [name, spec] of Object.entries(c.inputs)) feeds[name] = load(spec);
  const out = await session.run(feeds);
  const diffs = {};
  for (const [name, spec] of Object.entries(c.outputs)) {
    const want = load(spec).data;
    const got = out[name];
    if (!got || JSON.stringify(got.dims) !== JSON.stringify(spec.dims)) {
      diffs[name] = `shape ${got ? JSON.stringify(got.dims) : 'missing'} != ${JSON.stringify(spec.dims)}`;
      ok = false;
      continue;
    }
    let m = 0;
    for (let i = 0; i < want.length; i++) m = Math.max(m, Math.abs(want[i] - got.data[i]));
    diffs[name] = m;
    if (!(m <= c.tol)) ok = false;
  }
  const times = [];
  for (let r = 0; r < runs; r++) {
    const t0 = performance.now();
    await session.run(feeds);
    times.push(performance.now() - t0);
  }
  times.sort((a, b) => a - b);
  const median = Math.round(times[Math.floor(times.length / 2)] * 100) / 100;
  report[c.name] = { max_abs_diff: diffs, median_ms: median, min_ms: Math.round(times[0] * 100) / 100 };
  console.error(`${c.name}: max abs diff ${JSON.stringify(diffs)}, median ${median} ms over ${runs} runs`);
  await session.release();
}
console.log(JSON.stringify({ ok, threads, runs, report }));
process.exit(ok ? 0 : 1);
