/**
 * The eval's judges and real artwork (scripts/eval.ts): small ONNX classifiers trained only on real emoji
 * drawings, read with their penultimate features, and the eval concepts' drawings they are compared with.
 *
 * - A model folder with `eval/judges.json` (emoji-ld2, models/recipe/judge2.py) has a concept judge
 *   (`classifier.onnx`) and a style classifier (`style_classifier.onnx`), both with `logits` and `features`
 *   outputs, and its eval artwork as one sprite sheet per style (`eval/art/<style>.png`).
 * - A folder without it (emoji-ld) has `classifier.onnx` with `logits` only; its features are the input of
 *   the final linear layer, made a graph output when the file is loaded (nothing is written to the folder).
 */
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import * as ort from 'onnxruntime-node';
import { decodeImage, resizeCover } from '../src/images/decode.js';
import { encodePng } from '../src/images/png.js';
import { type RawImage, rawImage } from '../src/images/raw-image.js';

export interface EvalConcept {
  index: number;
  hexcode: string;
  emoji: string;
  en: string;
  zh: string;
  image: string;
  /** The styles that draw the concept (emoji-ld2's concepts.json). */
  styles?: string[];
}

export interface ConceptsFile {
  concepts: EvalConcept[];
  classifier?: { heldout_top1?: { mean?: number } };
}

export interface JudgesFile {
  concept_judge: {
    file: string;
    input_size: number;
    ceiling: number;
    leave_one_style_out: Record<string, { top1: number }>;
  };
  style_classifier: {
    file: string;
    input_size: number;
    styles: string[];
    heldout_eval_art_top1: number;
    per_style: Record<string, number>;
  };
  floor: { file: string | null; what: string };
  art: { files: Record<string, string>; tile: number; columns: number };
}

export function readJudgesFile(modelDir: string): JudgesFile | null {
  const path = join(modelDir, 'eval', 'judges.json');
  return existsSync(path) ? (JSON.parse(readFileSync(path, 'utf8')) as JudgesFile) : null;
}

// ---------------------------------------------------------------- ONNX graph outputs

interface ProtoField {
  field: number;
  /** The bytes of a length-delimited field; empty for the other wire types. */
  data: Uint8Array;
}

function readVarint(bytes: Uint8Array, at: number): [number, number] {
  let value = 0;
  let scale = 1;
  for (let i = at; i < bytes.length; i++) {
    const b = bytes[i]!;
    value += (b & 0x7f) * scale;
    scale *= 128;
    if (b < 0x80) return [value, i + 1];
  }
  throw new Error('truncated protobuf varint');
}

/** The top-level fields of a protobuf message, in order (enough of the wire format to walk an ONNX file). */
export function protoFields(bytes: Uint8Array): ProtoField[] {
  const fields: ProtoField[] = [];
  let at = 0;
  while (at < bytes.length) {
    const [key, next] = readVarint(bytes, at);
    at = next;
    const field = Math.floor(key / 8);
    const wire = key % 8;
    if (wire === 0) at = readVarint(bytes, at)[1];
    else if (wire === 1) at += 8;
    else if (wire === 5) at += 4;
    else if (wire === 2) {
      const [length, start] = readVarint(bytes, at);
      if (start + length > bytes.length) throw new Error('truncated protobuf field');
      fields.push({ field, data: bytes.subarray(start, start + length) });
      at = start + length;
      continue;
    } else throw new Error(`unsupported protobuf wire type ${wire}`);
    fields.push({ field, data: new Uint8Array(0) });
  }
  return fields;
}

const text = (data: Uint8Array) => new TextDecoder().decode(data);

// onnx.proto: ModelProto.graph = 7; GraphProto.node = 1, output = 12; NodeProto.input = 1, output = 2,
// op_type = 4; ValueInfoProto.name = 1.
const MODEL_GRAPH = 7;
const GRAPH_NODE = 1;
const GRAPH_OUTPUT = 12;
const NODE_INPUT = 1;
const NODE_OUTPUT = 2;
const NODE_OP_TYPE = 4;
const VALUE_NAME = 1;

/** The input of the Gemm node that computes `output`: a classifier's penultimate features. */
export function gemmInputOf(model: Uint8Array, output: string): string {
  for (const g of protoFields(model)) {
    if (g.field !== MODEL_GRAPH) continue;
    for (const n of protoFields(g.data)) {
      if (n.field !== GRAPH_NODE) continue;
      const node = protoFields(n.data);
      const op = node.find((f) => f.field === NODE_OP_TYPE);
      const outputs = node.filter((f) => f.field === NODE_OUTPUT).map((f) => text(f.data));
      const first = node.find((f) => f.field === NODE_INPUT);
      if (op && text(op.data) === 'Gemm' && outputs.includes(output) && first) return text(first.data);
    }
  }
  throw new Error(`no Gemm node computes ${output}`);
}

function lengthDelimited(field: number, data: Uint8Array): Uint8Array {
  const head: number[] = [field * 8 + 2];
  for (let n = data.length; ; n = Math.floor(n / 128)) {
    if (n < 128) {
      head.push(n);
      break;
    }
    head.push((n % 128) | 0x80);
  }
  const out = new Uint8Array(head.length + data.length);
  out.set(head);
  out.set(data, head.length);
  return out;
}

/**
 * The model with `name` (an intermediate tensor) added as a graph output. Protobuf merges a repeated
 * message field, so a second `graph` holding only the new output, appended to the file, extends the first.
 */
export function withGraphOutput(model: Uint8Array, name: string): Uint8Array {
  const value = lengthDelimited(VALUE_NAME, new TextEncoder().encode(name));
  const extra = lengthDelimited(MODEL_GRAPH, lengthDelimited(GRAPH_OUTPUT, value));
  const out = new Uint8Array(model.length + extra.length);
  out.set(model);
  out.set(extra, model.length);
  return out;
}

// ---------------------------------------------------------------- judges

export interface Judged {
  /** Arg-max class per image. */
  top1: number[];
  logits: Float32Array[];
  /** Penultimate features per image. */
  features: Float32Array[];
}

/** A classifier over images (RGB in [0,1], NCHW, resized to its input size). */
export class Judge {
  private constructor(
    private readonly session: ort.InferenceSession,
    readonly size: number,
    private readonly featuresName: string,
  ) {}

  /**
   * `features`: the name of the features output, or null to take the input of the Gemm that computes
   * `logits` (a classifier exported with logits only).
   */
  static async load(file: string, size: number, features: string | null, threads: number): Promise<Judge> {
    let bytes: Uint8Array = new Uint8Array(readFileSync(file));
    let name = features;
    if (name === null) {
      name = gemmInputOf(bytes, 'logits');
      bytes = withGraphOutput(bytes, name);
    }
    const session = await ort.InferenceSession.create(bytes, { intraOpNumThreads: threads });
    if (!session.outputNames.includes(name)) throw new Error(`${file} has no output ${name}`);
    return new Judge(session, size, name);
  }

  async judge(images: readonly RawImage[]): Promise<Judged> {
    const n = this.size;
    const data = new Float32Array(images.length * 3 * n * n);
    for (const [i, image] of images.entries()) {
      const small = image.width === n && image.height === n ? image : await resizeCover(image, n, n);
      for (let y = 0; y < n; y++) {
        for (let x = 0; x < n; x++) {
          for (let c = 0; c < 3; c++) {
            data[((i * 3 + c) * n + y) * n + x] = small.data[(y * n + x) * 3 + c]! / 255;
          }
        }
      }
    }
    const out = await this.session.run({ image: new ort.Tensor('float32', data, [images.length, 3, n, n]) });
    const logits = out['logits']!.data as Float32Array;
    const feats = out[this.featuresName]!.data as Float32Array;
    const k = logits.length / images.length;
    const d = feats.length / images.length;
    return {
      top1: images.map((_, i) => {
        let best = 0;
        for (let j = 1; j < k; j++) if (logits[i * k + j]! > logits[i * k + best]!) best = j;
        return best;
      }),
      logits: images.map((_, i) => logits.slice(i * k, (i + 1) * k)),
      features: images.map((_, i) => feats.slice(i * d, (i + 1) * d)),
    };
  }

  async dispose(): Promise<void> {
    await this.session.release();
  }
}

// ---------------------------------------------------------------- distances

export function euclidean(a: Float32Array, b: Float32Array): number {
  let sum = 0;
  for (let i = 0; i < a.length; i++) sum += (a[i]! - b[i]!) ** 2;
  return Math.sqrt(sum);
}

/** Mean Euclidean distance over all pairs (0 for fewer than two vectors). */
export function meanPairwiseDistance(vectors: readonly Float32Array[]): number {
  let sum = 0;
  let pairs = 0;
  for (let i = 0; i < vectors.length; i++) {
    for (let j = i + 1; j < vectors.length; j++) {
      sum += euclidean(vectors[i]!, vectors[j]!);
      pairs++;
    }
  }
  return pairs === 0 ? 0 : sum / pairs;
}

/** Mean distance over the pairs of vectors within each group (every pair of a group's members). */
function meanWithinGroups(groups: readonly (readonly Float32Array[])[]): { mean: number; pairs: number } {
  let sum = 0;
  let pairs = 0;
  for (const group of groups) {
    for (let i = 0; i < group.length; i++) {
      for (let j = i + 1; j < group.length; j++) {
        sum += euclidean(group[i]!, group[j]!);
        pairs++;
      }
    }
  }
  return { mean: pairs === 0 ? Number.NaN : sum / pairs, pairs };
}

export interface GridDiversity {
  /** Mean grid distance over the real-drawing distance: grid_diversity. */
  ratio: number;
  grid_distance: number;
  real_distance: number;
  grids: number;
  real_pairs: number;
  median_ratio: number;
  /** A drawing against itself moved a little (`copies`), over the real-drawing distance: what near copies score. */
  copy_ratio: number;
  /** Grids whose images are closer together than a drawing and its moved copy. */
  near_copy_fraction: number;
}

/**
 * grid_diversity: the mean over grids of the mean pairwise distance of a grid's images in a judge's feature
 * space, over the mean distance between two styles' real drawings of the same concept (every pair of styles
 * that both draw it). 0 when every grid holds one image four times; about 1 when a grid differs as much as
 * the same emoji drawn in two art styles. `copies` (pairs: a drawing, the same drawing shifted) calibrate
 * what near copies score: copy_ratio, and the fraction of grids closer together than that.
 */
export function gridDiversity(
  grids: readonly (readonly Float32Array[])[],
  drawings: readonly (readonly Float32Array[])[],
  copies: readonly (readonly Float32Array[])[] = [],
): GridDiversity {
  const perGrid = grids.map((g) => meanPairwiseDistance(g));
  const gridDistance = perGrid.reduce((a, d) => a + d, 0) / Math.max(1, grids.length);
  const real = meanWithinGroups(drawings);
  const copy = meanWithinGroups(copies).mean;
  const sorted = [...perGrid].sort((a, b) => a - b);
  const mid = sorted.length / 2;
  const median =
    sorted.length === 0
      ? Number.NaN
      : sorted.length % 2
        ? sorted[Math.floor(mid)]!
        : (sorted[mid - 1]! + sorted[mid]!) / 2;
  return {
    ratio: gridDistance / real.mean,
    grid_distance: gridDistance,
    real_distance: real.mean,
    grids: grids.length,
    real_pairs: real.pairs,
    median_ratio: median / real.mean,
    copy_ratio: copy / real.mean,
    near_copy_fraction: perGrid.filter((d) => d < copy).length / Math.max(1, grids.length),
  };
}

/** The image moved by (dx, dy) pixels, white where nothing moved in (a near copy of it). */
export function shifted(image: RawImage, dx: number, dy: number): RawImage {
  const { width, height } = image;
  const data = new Uint8Array(width * height * 3).fill(255);
  for (let y = 0; y < height; y++) {
    const sy = y - dy;
    if (sy < 0 || sy >= height) continue;
    for (let x = 0; x < width; x++) {
      const sx = x - dx;
      if (sx < 0 || sx >= width) continue;
      const to = (y * width + x) * 3;
      const from = (sy * width + sx) * 3;
      data[to] = image.data[from]!;
      data[to + 1] = image.data[from + 1]!;
      data[to + 2] = image.data[from + 2]!;
    }
  }
  return rawImage(width, height, data);
}

// ---------------------------------------------------------------- artwork

/** The eval concepts' real drawings per style, one tile per concept (null where a style has none). */
export class EvalArt {
  private constructor(
    readonly styles: readonly string[],
    private readonly tiles: ReadonlyMap<string, readonly (RawImage | null)[]>,
    /** The files' own bytes, where the drawings came from files. */
    private readonly files: ReadonlyMap<string, readonly Uint8Array[]> = new Map(),
  ) {}

  /** emoji-ld2: `eval/art/<style>.png`, tiles in concepts.json order. */
  static async fromSprites(
    modelDir: string,
    judges: JudgesFile,
    concepts: readonly EvalConcept[],
  ): Promise<EvalArt> {
    const { tile, columns, files } = judges.art;
    const tiles = new Map<string, (RawImage | null)[]>();
    for (const [style, file] of Object.entries(files)) {
      const sheet = await decodeImage(new Uint8Array(readFileSync(join(modelDir, 'eval', file))));
      tiles.set(
        style,
        concepts.map((c, k) => {
          if (c.styles && !c.styles.includes(style)) return null;
          const x0 = (k % columns) * tile;
          const y0 = Math.floor(k / columns) * tile;
          const data = new Uint8Array(tile * tile * 3);
          for (let y = 0; y < tile; y++) {
            const from = ((y0 + y) * sheet.width + x0) * 3;
            data.set(sheet.data.subarray(from, from + tile * 3), y * tile * 3);
          }
          return rawImage(tile, tile, data);
        }),
      );
    }
    return new EvalArt([...tiles.keys()], tiles);
  }

  /** emoji-ld: the 64 px PNGs of the recipe's npm packages, one directory per art set. */
  static async fromDirectories(
    dirs: Readonly<Record<string, string>>,
    concepts: readonly EvalConcept[],
  ): Promise<EvalArt> {
    const tiles = new Map<string, RawImage[]>();
    const files = new Map<string, Uint8Array[]>();
    for (const [style, dir] of Object.entries(dirs)) {
      const bytes = concepts.map((c) => new Uint8Array(readFileSync(join(dir, c.image))));
      const images: RawImage[] = [];
      for (const b of bytes) images.push(await decodeImage(b));
      tiles.set(style, images);
      files.set(style, bytes);
    }
    return new EvalArt([...tiles.keys()], tiles, files);
  }

  has(style: string, concept: number): boolean {
    return (this.tiles.get(style)?.[concept] ?? null) !== null;
  }

  tile(style: string, concept: number): RawImage {
    const t = this.tiles.get(style)?.[concept];
    if (!t) throw new Error(`no ${style} drawing of eval concept ${concept}`);
    return t;
  }

  /** The bytes of a drawing as a member would upload them: the file, or the tile as a PNG (same pixels). */
  async png(style: string, concept: number): Promise<Uint8Array> {
    return this.files.get(style)?.[concept] ?? encodePng(this.tile(style, concept));
  }

  /** The styles that draw a concept. */
  stylesOf(concept: number): string[] {
    return this.styles.filter((s) => this.has(s, concept));
  }

  /** Every concept's drawings (the styles that draw it). */
  perConcept(count: number): RawImage[][] {
    return Array.from({ length: count }, (_, k) => this.stylesOf(k).map((s) => this.tile(s, k)));
  }
}
