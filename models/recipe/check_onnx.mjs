// Runs every exported ONNX file in onnxruntime-node on the inputs the recipe saved and compares with
// the PyTorch outputs. Usage: node check_onnx.mjs <cases.json> [threads=2] [runs=0]  (prints one JSON line)
// With runs > 0 it also times that many repeated runs per case (median and fastest ms) at `threads`.
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import * as ort from 'onnxruntime-node';

const [casesPath, threadsArg = '2', runsArg = '0'] = process.argv.slice(2);
const threads = Number(threadsArg);
const runs = Number(runsArg);
const base = dirname(casesPath);
const cases = JSON.parse(readFileSync(casesPath, 'utf8'));

function load(spec) {
  const buf = readFileSync(join(base, spec.file));
  const ab = buf.buffer.slice(buf.byteOffset, buf.byteOffset + buf.byteLength);
  if (spec.dtype === 'int64') return new ort.Tensor('int64', new BigInt64Array(ab), spec.dims);
  return new ort.Tensor('float32', new Float32Array(ab), spec.dims);
}

const round = (ms, places) => Math.round(ms * 10 ** places) / 10 ** places;
const report = {};
let ok = true;
for (const c of cases) {
  const session = await ort.InferenceSession.create(c.model, { intraOpNumThreads: threads, interOpNumThreads: 1 });
  const feeds = {};
  for (const [name, spec] of Object.entries(c.inputs)) feeds[name] = load(spec);
  const t0 = performance.now();
  const out = await session.run(feeds);
  const ms = performance.now() - t0;
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
  if (runs > 0) {
    const times = [];
    for (let r = 0; r < runs; r++) {
      const start = performance.now();
      await session.run(feeds);
      times.push(performance.now() - start);
    }
    times.sort((a, b) => a - b);
    const median = round(times[Math.floor(times.length / 2)], 2);
    report[c.name] = { max_abs_diff: diffs, median_ms: median, min_ms: round(times[0], 2) };
    console.error(`${c.name}: max abs diff ${JSON.stringify(diffs)}, median ${median} ms over ${runs} runs`);
  } else {
    report[c.name] = { max_abs_diff: diffs, run_ms: round(ms, 1) };
    console.error(`${c.name}: max abs diff ${JSON.stringify(diffs)} (${ms.toFixed(1)} ms)`);
  }
  await session.release();
}
console.log(JSON.stringify(runs > 0 ? { ok, threads, runs, report } : { ok, report }));
process.exit(ok ? 0 : 1);
