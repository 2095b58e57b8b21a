// Runs every exported ONNX file in onnxruntime-node on the inputs the recipe saved and compares with
// the PyTorch outputs. Usage: node check_onnx.mjs <cases.json>  (prints one JSON line)
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import * as ort from 'onnxruntime-node';

const casesPath = process.argv[2];
const base = dirname(casesPath);
const cases = JSON.parse(readFileSync(casesPath, 'utf8'));

function load(spec) {
  const buf = readFileSync(join(base, spec.file));
  const ab = buf.buffer.slice(buf.byteOffset, buf.byteOffset + buf.byteLength);
  if (spec.dtype === 'int64') return new ort.Tensor('int64', new BigInt64Array(ab), spec.dims);
  return new ort.Tensor('float32', new Float32Array(ab), spec.dims);
}

const report = {};
let ok = true;
for (const c of cases) {
  const session = await ort.InferenceSession.create(c.model, { intraOpNumThreads: 2 });
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
  report[c.name] = { max_abs_diff: diffs, run_ms: Math.round(ms * 10) / 10 };
  console.error(`${c.name}: max abs diff ${JSON.stringify(diffs)} (${ms.toFixed(1)} ms)`);
}
console.log(JSON.stringify({ ok, report }));
process.exit(ok ? 0 : 1);
