/** @jest-environment ./test/diffusion/onnx-environment.cjs */
import { readFileSync } from 'node:fs';
import * as ort from 'onnxruntime-node';
import {
  EvalArt,
  type EvalConcept,
  gemmInputOf,
  gridDiversity,
  Judge,
  type JudgesFile,
  meanPairwiseDistance,
  readJudgesFile,
  shifted,
} from '../../scripts/eval-judges.js';
import { rawImage } from '../../src/images/raw-image.js';

// The eval's judges (scripts/eval-judges.ts): the pieces scripts/eval.ts builds its new keys from.
const ROOT = new URL('../../', import.meta.url).pathname;
const LD2 = `${ROOT}models/emoji-ld2`;
const LD1 = `${ROOT}models/emoji-ld`;

// Measured on the committed judges (models/recipe/judge2.py): the style classifier names the style of
// 0.859 of the eval concepts' drawings (concepts it was not trained on), the concept judge 1.0 of its own
// training drawings. The bounds leave a margin below.
const STYLE_HELDOUT_BOUND = 0.8;
const CONCEPT_OWN_ART_BOUND = 0.95;

const v = (...x: number[]) => Float32Array.from(x);

describe('grid diversity', () => {
  test('four identical images are 0 apart, whatever the yardstick', () => {
    const same = [v(1, 2, 3), v(1, 2, 3), v(1, 2, 3), v(1, 2, 3)];
    expect(meanPairwiseDistance(same)).toBe(0);
    const drawings = [[v(0, 0, 0), v(3, 4, 0)]];
    expect(gridDiversity([same, same], drawings)).toMatchObject({
      ratio: 0,
      grid_distance: 0,
      real_distance: 5,
    });
  });

  test('the mean over pairs, over the mean distance of drawings of one concept in two styles', () => {
    // pairs: 5, 5, 0 (the two copies) -> 10 / 3
    expect(meanPairwiseDistance([v(0, 0), v(3, 4), v(3, 4)])).toBeCloseTo(10 / 3, 10);
    const grid = [v(0, 0), v(0, 10)];
    const drawings = [
      [v(0, 0), v(0, 4)],
      [v(1, 1), v(1, 7), v(1, 1)], // pairs 6, 0, 6
    ];
    const d = gridDiversity([grid], drawings);
    expect(d.real_pairs).toBe(4);
    expect(d.real_distance).toBeCloseTo(4, 10);
    expect(d.ratio).toBeCloseTo(2.5, 10);
  });

  test('near copies: grids closer together than a drawing and its shifted copy', () => {
    const copies = [[v(0, 0), v(0, 2)]];
    const drawings = [[v(0, 0), v(0, 4)]];
    const d = gridDiversity(
      [
        [v(0, 0), v(0, 1)],
        [v(0, 0), v(0, 10)],
      ],
      drawings,
      copies,
    );
    expect(d.copy_ratio).toBeCloseTo(0.5, 10);
    expect(d.near_copy_fraction).toBe(0.5);
    expect(d.median_ratio).toBeCloseTo(5.5 / 4, 10);
  });

  test('shifted moves the pixels and fills white', () => {
    const image = rawImage(2, 2, Uint8Array.from([1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12]));
    expect(Array.from(shifted(image, 1, 0).data)).toEqual([255, 255, 255, 1, 2, 3, 255, 255, 255, 7, 8, 9]);
    expect(Array.from(shifted(image, 0, -1).data)).toEqual([
      7, 8, 9, 10, 11, 12, 255, 255, 255, 255, 255, 255,
    ]);
  });
});

describe('emoji-ld2 judges', () => {
  let judges: JudgesFile;
  let concepts: EvalConcept[];
  let art: EvalArt;
  let judge: Judge;
  let styleJudge: Judge;
  beforeAll(async () => {
    judges = readJudgesFile(LD2)!;
    concepts = (JSON.parse(readFileSync(`${LD2}/eval/concepts.json`, 'utf8')) as { concepts: EvalConcept[] })
      .concepts;
    art = await EvalArt.fromSprites(LD2, judges, concepts);
    judge = await Judge.load(
      `${LD2}/eval/${judges.concept_judge.file}`,
      judges.concept_judge.input_size,
      'features',
      1,
    );
    styleJudge = await Judge.load(
      `${LD2}/eval/${judges.style_classifier.file}`,
      judges.style_classifier.input_size,
      'features',
      1,
    );
  });
  afterAll(async () => {
    await judge.dispose();
    await styleJudge.dispose();
  });

  test('the sprite sheets hold every eval concept in the styles concepts.json lists', () => {
    expect(art.styles).toEqual(judges.style_classifier.styles);
    const drawn = concepts.reduce((n, c) => n + (c.styles?.length ?? 0), 0);
    expect(art.perConcept(concepts.length).flat()).toHaveLength(drawn);
    expect(
      art.has(
        'fluent',
        concepts.findIndex((c) => c.en === 'stuffed flatbread'),
      ),
    ).toBe(false);
  });

  test("four copies of one image have grid diversity 0; the four styles' drawings about 1", async () => {
    const drawings: Float32Array[][] = [];
    for (const images of art.perConcept(concepts.length)) drawings.push((await judge.judge(images)).features);
    const copies = (await judge.judge(Array(4).fill(art.tile('noto', 0)))).features;
    expect(gridDiversity([copies], drawings).ratio).toBe(0);
    // a drawing moved by 2 px scores well under the yardstick
    const moved = (await judge.judge([art.tile('noto', 0), shifted(art.tile('noto', 0), 2, 2)])).features;
    const d = gridDiversity([moved], drawings);
    expect(d.ratio).toBeGreaterThan(0);
    expect(d.ratio).toBeLessThan(0.75);
    // grids made of the real drawings themselves: the yardstick (up to the weight of the 3-style concept)
    expect(gridDiversity(drawings, drawings).ratio).toBeCloseTo(1, 1);
  });

  test('the style classifier names the style of drawings of concepts it never saw', async () => {
    const names = judges.style_classifier.styles;
    let hits = 0;
    let rotated = 0;
    let total = 0;
    for (const [s, style] of names.entries()) {
      const images = concepts.flatMap((_, k) => (art.has(style, k) ? [art.tile(style, k)] : []));
      const { top1 } = await styleJudge.judge(images);
      hits += top1.filter((p) => p === s).length;
      rotated += top1.filter((p) => p === (s + 1) % names.length).length;
      total += images.length;
    }
    expect(hits / total).toBeGreaterThanOrEqual(STYLE_HELDOUT_BOUND);
    expect(hits / total).toBeCloseTo(judges.style_classifier.heldout_eval_art_top1, 2);
    // the same check against the wrong labels fails
    expect(rotated / total).toBeLessThan(STYLE_HELDOUT_BOUND);
  });

  test('the concept judge knows the drawings it was trained on', async () => {
    let hits = 0;
    let total = 0;
    for (const style of art.styles) {
      const ks = concepts.flatMap((_, k) => (art.has(style, k) ? [k] : []));
      const { top1 } = await judge.judge(ks.map((k) => art.tile(style, k)));
      hits += top1.filter((p, i) => p === ks[i]).length;
      total += ks.length;
    }
    expect(hits / total).toBeGreaterThanOrEqual(CONCEPT_OWN_ART_BOUND);
  });
});

describe("emoji-ld's judge (logits only)", () => {
  test('its features are the input of the last Gemm, read as an extra output; the logits are unchanged', async () => {
    const file = `${LD1}/eval/classifier.onnx`;
    expect(gemmInputOf(new Uint8Array(readFileSync(file)), 'logits')).toBe('/ReduceMean_output_0');
    const judge = await Judge.load(file, 32, null, 1);
    const plain = await ort.InferenceSession.create(file, { intraOpNumThreads: 1 });
    try {
      const data = new Uint8Array(32 * 32 * 3).map((_, i) => (i * 37) % 256);
      const image = { width: 32, height: 32, data };
      const judged = await judge.judge([image, image]);
      expect(judged.features[0]).toHaveLength(128);
      expect(meanPairwiseDistance(judged.features)).toBe(0);
      const x = new Float32Array(3 * 32 * 32);
      for (let p = 0; p < 32 * 32; p++) for (let c = 0; c < 3; c++) x[c * 1024 + p] = data[p * 3 + c]! / 255;
      const out = await plain.run({ image: new ort.Tensor('float32', x, [1, 3, 32, 32]) });
      expect(judged.logits[0]).toEqual(out['logits']!.data as Float32Array);
    } finally {
      await judge.dispose();
      await plain.release();
    }
  });
});
