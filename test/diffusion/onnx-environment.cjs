// Jest runs tests in a separate V8 context whose typed-array constructors differ from the ones native
// addons (onnxruntime-node) create, so onnxruntime's `instanceof Float32Array` checks fail there. This
// environment hands the test context the host's typed arrays. Used by test files that run ONNX models via
// the docblock `@jest-environment ./test/diffusion/onnx-environment.cjs`.
const { TestEnvironment } = require('jest-environment-node');

const SHARED = [
  'ArrayBuffer',
  'SharedArrayBuffer',
  'DataView',
  'Float32Array',
  'Float64Array',
  'Int8Array',
  'Int16Array',
  'Int32Array',
  'Uint8Array',
  'Uint8ClampedArray',
  'Uint16Array',
  'Uint32Array',
  'BigInt64Array',
  'BigUint64Array',
];

class OnnxEnvironment extends TestEnvironment {
  constructor(config, context) {
    super(config, context);
    for (const name of SHARED) this.global[name] = globalThis[name];
  }
}

module.exports = OnnxEnvironment;
