/**
 * The one module that talks to onnxruntime-node: execution providers, threads, session creation, feeding
 * typed inputs (whatever dtype each export declares), reading outputs as float32, and disposal.
 *
 * GPU hosts install onnxruntime-node's CUDA 12 binaries with `ONNXRUNTIME_NODE_INSTALL=cuda12 npm install`
 * (hosts without network: `ONNXRUNTIME_NODE_INSTALL=skip`, CPU only).
 */
import * as ort from 'onnxruntime-node';
import { type FloatTensor, fromHalfArray, numel, toHalfArray } from './tensor.js';

/** Device name -> execution providers, in order of preference (CPU last so unsupported ops still run). */
export const EXECUTION_PROVIDERS = {
  cpu: ['cpu'],
  cuda: ['cuda', 'cpu'],
} as const satisfies Record<string, readonly string[]>;

export type Device = keyof typeof EXECUTION_PROVIDERS;

export class UnknownDeviceError extends Error {
  override readonly name = 'UnknownDeviceError';
  constructor(readonly device: string) {
    super(`unknown device "${device}"; valid devices: ${Object.keys(EXECUTION_PROVIDERS).join(', ')}`);
  }
}

/** The device's execution provider is not in this onnxruntime-node install. */
export class ExecutionProviderError extends Error {
  override readonly name = 'ExecutionProviderError';
  constructor(
    readonly device: Device,
    cause: string,
  ) {
    super(
      `the ${device} execution provider could not be loaded (${cause.trim()}); on a GPU host install ` +
        'onnxruntime-node with its CUDA 12 binaries: ONNXRUNTIME_NODE_INSTALL=cuda12 npm install',
    );
  }
}

export function parseDevice(device: string): Device {
  if (Object.hasOwn(EXECUTION_PROVIDERS, device)) return device as Device;
  throw new UnknownDeviceError(device);
}

export interface BackendOptions {
  device?: Device | string;
  /** Threads for one operator (intra-op). Defaults to onnxruntime's choice (the physical cores). */
  threads?: number;
  /**
   * Let onnxruntime's intra-op threads busy-wait between operators (its default). Off here: on a host shared
   * with other work (several CPU workers, the bot, a training job) spinning threads fight for the cores and
   * a UNet call was measured 2-4x slower on a loaded 2-core machine; on an idle machine the gain is small.
   */
  spinning?: boolean;
}

export type ElementType = 'float32' | 'float16' | 'int64' | 'int32';

export interface InputSpec {
  name: string;
  type: ElementType;
  /** Declared shape: numbers for fixed axes, strings for symbolic ones, [] for a 0-d scalar. */
  shape: readonly (number | string)[];
}

/** An input value before conversion to the dtype the model declares. */
export type Feed =
  | { kind: 'float'; tensor: FloatTensor }
  | { kind: 'int'; values: readonly number[]; dims: number[] };

export class ModelInputError extends Error {
  override readonly name = 'ModelInputError';
}

function asElementType(model: string, name: string, type: string): ElementType {
  if (type === 'float32' || type === 'float16' || type === 'int64' || type === 'int32') return type;
  throw new ModelInputError(`${model}: input ${name} has unsupported type ${type}`);
}

/** A loaded ONNX model; knows its inputs and outputs from the session, not from assumptions. */
export class ModelSession {
  readonly inputs: ReadonlyMap<string, InputSpec>;
  readonly outputNames: readonly string[];

  constructor(
    readonly label: string,
    private readonly session: ort.InferenceSession,
    private readonly clock: RunClock,
  ) {
    const inputs = new Map<string, InputSpec>();
    for (const meta of session.inputMetadata) {
      if (!meta.isTensor) throw new ModelInputError(`${label}: input ${meta.name} is not a tensor`);
      inputs.set(meta.name, {
        name: meta.name,
        type: asElementType(label, meta.name, meta.type),
        shape: meta.shape,
      });
    }
    this.inputs = inputs;
    this.outputNames = session.outputNames;
  }

  input(name: string): InputSpec {
    const spec = this.inputs.get(name);
    if (!spec)
      throw new ModelInputError(`${this.label}: no input named ${name} (has ${[...this.inputs.keys()]})`);
    return spec;
  }

  /** Runs the model; every output comes back as float32 whatever the export's dtype. */
  async run(feeds: Record<string, Feed>, outputs?: readonly string[]): Promise<Record<string, FloatTensor>> {
    const ortFeeds: Record<string, ort.Tensor> = {};
    for (const [name, feed] of Object.entries(feeds)) ortFeeds[name] = toOrtTensor(this.input(name), feed);
    const started = performance.now();
    const results = outputs
      ? await this.session.run(ortFeeds, [...outputs])
      : await this.session.run(ortFeeds);
    this.clock.add(performance.now() - started);
    const out: Record<string, FloatTensor> = {};
    for (const [name, value] of Object.entries(results)) {
      out[name] = toFloatTensor(value);
      value.dispose();
    }
    return out;
  }

  async dispose(): Promise<void> {
    await this.session.release();
  }
}

/**
 * float16 copies of float32 inputs, per array: the prompt embeddings are fed unchanged at every step, so
 * an fp16 export converts them once, not once per step. Fed arrays are never mutated afterwards.
 */
const halfCache = new WeakMap<Float32Array, Uint16Array>();

function halfOf(data: Float32Array): Uint16Array {
  let half = halfCache.get(data);
  if (!half) {
    half = toHalfArray(data);
    halfCache.set(data, half);
  }
  return half;
}

function toOrtTensor(spec: InputSpec, feed: Feed): ort.Tensor {
  const scalar = spec.shape.length === 0;
  if (feed.kind === 'float') {
    const dims = scalar ? [] : [...feed.tensor.dims];
    const data = scalar ? feed.tensor.data.subarray(0, 1) : feed.tensor.data;
    switch (spec.type) {
      case 'float32':
        return new ort.Tensor('float32', data, dims);
      case 'float16':
        return new ort.Tensor('float16', halfOf(data), dims);
      case 'int64':
        return new ort.Tensor(
          'int64',
          BigInt64Array.from(data, (v) => BigInt(Math.round(v))),
          dims,
        );
      case 'int32':
        return new ort.Tensor(
          'int32',
          Int32Array.from(data, (v) => Math.round(v)),
          dims,
        );
    }
  }
  const values = scalar ? feed.values.slice(0, 1) : feed.values;
  const dims = scalar ? [] : feed.dims;
  if (values.length !== numel(dims))
    throw new ModelInputError(`${spec.name}: ${values.length} values for [${dims}]`);
  switch (spec.type) {
    case 'int64':
      return new ort.Tensor(
        'int64',
        BigInt64Array.from(values, (v) => BigInt(v)),
        dims,
      );
    case 'int32':
      return new ort.Tensor('int32', Int32Array.from(values), dims);
    case 'float32':
      return new ort.Tensor('float32', Float32Array.from(values), dims);
    case 'float16':
      return new ort.Tensor('float16', toHalfArray(Float32Array.from(values)), dims);
  }
}

function toFloatTensor(value: ort.Tensor): FloatTensor {
  const dims = [...value.dims];
  const data = value.data;
  // CPU outputs own a fresh buffer; dispose() below only drops the tensor's reference to it, so no copy.
  if (value.type === 'float32') return { data: data as Float32Array, dims };
  if (value.type === 'float16') {
    // onnxruntime-node hands float16 out as raw bits (Uint16Array) where the runtime has no Float16Array.
    const view = data as unknown as ArrayBufferView;
    const bits =
      view instanceof Uint16Array ? view : new Uint16Array(view.buffer, view.byteOffset, numel(dims));
    return { data: fromHalfArray(bits), dims };
  }
  if (value.type === 'int64') return { data: Float32Array.from(data as BigInt64Array, Number), dims };
  if (value.type === 'int32') return { data: Float32Array.from(data as Int32Array), dims };
  throw new ModelInputError(`unsupported output type ${value.type}`);
}

/** Sums the time spent inside onnxruntime's run(), so overhead around it can be measured. */
export class RunClock {
  private total = 0;
  private count = 0;
  add(ms: number): void {
    this.total += ms;
    this.count += 1;
  }
  get milliseconds(): number {
    return this.total;
  }
  get runs(): number {
    return this.count;
  }
  reset(): void {
    this.total = 0;
    this.count = 0;
  }
}

/** Owns every session it created: one `dispose()` releases them all. */
export class Backend {
  readonly device: Device;
  readonly clock = new RunClock();
  private readonly sessions: ModelSession[] = [];

  constructor(private readonly options: BackendOptions = {}) {
    this.device = parseDevice(options.device ?? 'cpu');
  }

  async load(path: string, label: string): Promise<ModelSession> {
    const sessionOptions: ort.InferenceSession.SessionOptions = {
      executionProviders: [...EXECUTION_PROVIDERS[this.device]],
      graphOptimizationLevel: 'all',
      // The sampler calls sessions one after another; parallel branches inside a graph are rare.
      executionMode: 'sequential',
      extra: { session: { intra_op: { allow_spinning: this.options.spinning ? '1' : '0' } } },
    };
    if (this.options.threads !== undefined) {
      sessionOptions.intraOpNumThreads = this.options.threads;
      sessionOptions.interOpNumThreads = 1;
    }
    // Loading from the path (not a buffer) lets onnxruntime find external data files next to the model.
    let session: ort.InferenceSession;
    try {
      session = await ort.InferenceSession.create(path, sessionOptions);
    } catch (error) {
      if (this.device !== 'cpu' && /provider|cuda|shared library/i.test((error as Error).message)) {
        throw new ExecutionProviderError(this.device, (error as Error).message);
      }
      throw error;
    }
    const model = new ModelSession(label, session, this.clock);
    this.sessions.push(model);
    return model;
  }

  async dispose(): Promise<void> {
    const sessions = this.sessions.splice(0);
    await Promise.all(sessions.map((s) => s.dispose()));
  }
}
