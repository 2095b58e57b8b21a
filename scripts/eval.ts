/**
 * `npm run eval -- [--json] [--model DIR] [--seeds N] [--concepts N] [--samples DIR]`
 *
 * Evaluates a model folder (default models/emoji-ld) through the same path the bot uses: the prompt parser
 * (weights normalized as for /imagine), the job -> request mapping with the model's defaults, and
 * DiffusionPipeline.generate. A small classifier trained only on real emoji artwork
 * (<model>/eval/classifier.onnx, 64 concepts fixed in <model>/eval/concepts.json before any generation)
 * judges every generated image.
 *
 * - top1 / top1_zh: the concept's English / Chinese CLDR label as the prompt; fraction of generated
 *   images the classifier assigns to that concept (64-way).
 * - top1_untrained: the English run again with a randomly initialised UNet of the same architecture
 *   (<model>/eval/unet_untrained.onnx), the floor.
 * - top1_image_prompt: the concept's Twemoji artwork as the only prompt (weight 1), as /blend sends it.
 * - negative_white_*: `polar bear::0.6 white::-0.5` against `polar bear` on the same seeds; whiteness of a
 *   grid = mean over its pixels of min(R, G, B) / 255; a trial is a win when the negative-weight grid is
 *   at least 0.01 less white.
 * - describe_top4: /describe through the engine's describe task on the eval concepts' real artwork
 *   (Noto and Twemoji, each concept once per set): the fraction whose concept label is one of the four
 *   prompts. Both sets were seen in training (there is no held-out art set for this model).
 * - negative_image_*: `<concept art>::-1 <another concept's label>::2` against that label alone on the same
 *   seed; a win when the grid's images are further from the negative art in the image encoder's space
 *   (mean cosine similarity of their embeddings to the art's), with the untrained UNet's wins beside it.
 * - ceiling: the classifier's accuracy on real artwork of the art set it did not see in training.
 *
 * Each concept gets `--seeds` seeds (default 4); every seed makes a full 2x2 grid, all four images scored.
 * The last stdout line is one JSON object.
 */
import { mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import * as ort from 'onnxruntime-node';
import { type JobInputs, taskFromJob } from '../src/diffusion/job-request.js';
import { DiffusionPipeline } from '../src/diffusion/pipeline.js';
import { runJob } from '../src/diffusion/run-job.js';
import { decodeImage, resizeCover } from '../src/images/decode.js';
import type { RawImage } from '../src/images/raw-image.js';
import { renderGrid } from '../src/images/render.js';
import type { JobDescription } from '../src/jobs/spec.js';
import { parsePrompt } from '../src/prompt/index.js';

interface Concept {
  index: number;
  hexcode: string;
  emoji: string;
  en: string;
  zh: string;
  image: string;
}

interface ConceptsFile {
  concepts: Concept[];
  classifier?: { heldout_top1?: { mean?: number } };
}

function option(name: string): string | undefined {
  const i = process.argv.indexOf(name);
  return i >= 0 ? process.argv[i + 1] : undefined;
}

const json = process.argv.includes('--json');
const modelDir = resolve(option('--model') ?? 'models/emoji-ld');
const seedsPerConcept = Number(option('--seeds') ?? 4);
const conceptLimit = option('--concepts') ? Number(option('--concepts')) : undefined;
const samplesDir = option('--samples');
const artDir = resolve(
  option('--art') ?? 'models/recipe/node_modules/emoji-datasource-twitter/img/twitter/64',
);
const threads = Number(option('--threads') ?? 2);
const WHITE_MARGIN = 0.01;
const NEGATIVE_TRIALS = 8;

function say(message: string): void {
  if (!json) process.stdout.write(`${message}\n`);
  else process.stderr.write(`${message}\n`);
}

const conceptsFile = JSON.parse(
  readFileSync(join(modelDir, 'eval', 'concepts.json'), 'utf8'),
) as ConceptsFile;
const concepts = conceptsFile.concepts.slice(0, conceptLimit ?? conceptsFile.concepts.length);
const classifier = await ort.InferenceSession.create(join(modelDir, 'eval', 'classifier.onnx'), {
  intraOpNumThreads: threads,
});
const CLS = 32;

/** Classifier top-1 index for each image (resized to 32x32, RGB in [0,1]). */
async function classify(images: readonly RawImage[]): Promise<number[]> {
  const data = new Float32Array(images.length * 3 * CLS * CLS);
  for (const [n, image] of images.entries()) {
    const small = image.width === CLS && image.height === CLS ? image : await resizeCover(image, CLS, CLS);
    for (let y = 0; y < CLS; y++) {
      for (let x = 0; x < CLS; x++) {
        for (let c = 0; c < 3; c++) {
          data[((n * 3 + c) * CLS + y) * CLS + x] = small.data[(y * CLS + x) * 3 + c]! / 255;
        }
      }
    }
  }
  const out = await classifier.run({ image: new ort.Tensor('float32', data, [images.length, 3, CLS, CLS]) });
  const logits = out['logits']!.data as Float32Array;
  const k = logits.length / images.length;
  return images.map((_, n) => {
    let best = 0;
    for (let j = 1; j < k; j++) if (logits[n * k + j]! > logits[n * k + best]!) best = j;
    return best;
  });
}

function whiteness(images: readonly RawImage[]): number {
  let sum = 0;
  let count = 0;
  for (const image of images) {
    for (let p = 0; p < image.data.length; p += 3) {
      sum += Math.min(image.data[p]!, image.data[p + 1]!, image.data[p + 2]!) / 255;
      count++;
    }
  }
  return sum / count;
}

/** An /imagine prompt through the parser and the job -> request mapping, as the bot runs it. */
async function imagine(pipeline: DiffusionPipeline, prompt: string, seed: number) {
  return generateJob(pipeline, parsePrompt(prompt), { seed, images: {} });
}

/** A job with image prompts only (what /blend and image buttons build; the parser wants text with images). */
async function imageOnly(pipeline: DiffusionPipeline, png: Uint8Array, key: string, seed: number) {
  const template = parsePrompt('image');
  const job: JobDescription = {
    ...template,
    prompt: '',
    prompts: [{ kind: 'image', url: key, weight: 1, normalized: 1 }],
    weightSum: 1,
  };
  return generateJob(pipeline, job, { seed, images: { [key]: png } });
}

async function generateJob(pipeline: DiffusionPipeline, job: JobDescription, inputs: JobInputs) {
  const task = await taskFromJob(job, inputs, pipeline.defaults);
  if (task.kind !== 'generate') throw new Error('expected a generation task');
  const result = await pipeline.generate(task.request);
  return { images: result.images, request: task.request };
}

function seedFor(concept: number, s: number): number {
  return 1000 + concept * 16 + s;
}

async function scorePrompts(
  pipeline: DiffusionPipeline,
  label: string,
  run: (c: Concept, seed: number) => Promise<{ images: RawImage[] }>,
): Promise<number> {
  let correct = 0;
  let total = 0;
  const started = performance.now();
  for (const [k, c] of concepts.entries()) {
    const images: RawImage[] = [];
    for (let s = 0; s < seedsPerConcept; s++) images.push(...(await run(c, seedFor(k, s))).images);
    const predicted = await classify(images);
    correct += predicted.filter((p) => p === k).length;
    total += images.length;
  }
  const top1 = correct / total;
  say(
    `${label}: top1 ${top1.toFixed(3)} over ${total} images (${((performance.now() - started) / 1000).toFixed(1)} s)`,
  );
  void pipeline;
  return top1;
}

/** The model folder with its UNet replaced by the untrained one (symlinks in a temporary folder). */
function untrainedFolder(): string {
  const dir = mkdtempSync(join(tmpdir(), 'emoji-ld-untrained-'));
  for (const part of [
    'tokenizer',
    'text_encoder',
    'image_encoder',
    'vae_decoder',
    'vae_encoder',
    'scheduler',
    'upscaler',
  ]) {
    try {
      symlinkSync(join(modelDir, part), join(dir, part));
    } catch {
      // optional parts
    }
  }
  writeFileSync(join(dir, 'model_index.json'), readFileSync(join(modelDir, 'model_index.json')));
  mkdirSync(join(dir, 'unet'));
  symlinkSync(join(modelDir, 'eval', 'unet_untrained.onnx'), join(dir, 'unet', 'model.onnx'));
  symlinkSync(join(modelDir, 'unet', 'config.json'), join(dir, 'unet', 'config.json'));
  return dir;
}

const started = performance.now();
const pipeline = await DiffusionPipeline.fromPretrained(modelDir, { threads });
const defaults = pipeline.defaults;
say(
  `model ${modelDir}: ${defaults.size}px, ${defaults.steps} steps, guidance ${defaults.guidanceScale}, ${defaults.scheduler}`,
);

const art = (c: Concept) => new Uint8Array(readFileSync(join(artDir, c.image)));
try {
  art(concepts[0]!);
} catch {
  throw new Error(
    `no Twemoji artwork under ${artDir}: run \`npm ci --prefix models/recipe\` first (or pass --art DIR)`,
  );
}

if (samplesDir) {
  mkdirSync(samplesDir, { recursive: true });
  const find = (en: string) => concepts.find((c) => c.en === en);
  const samples: [string, () => Promise<{ images: RawImage[] }>][] = [
    ['polar-bear', () => imagine(pipeline, 'polar bear', 7)],
    ['polar-bear-zh', () => imagine(pipeline, '北极熊', 7)],
    ['polar-bear-not-white', () => imagine(pipeline, 'polar bear::0.6 white::-0.5', 7)],
    ['palm-tree', () => imagine(pipeline, 'palm tree', 7)],
    ['tropical-zh', () => imagine(pipeline, '热带', 7)],
    ['penguin-zh', () => imagine(pipeline, '企鹅', 7)],
  ];
  for (const c of concepts.slice(0, 3)) {
    samples.push([
      `image-prompt-${c.hexcode.toLowerCase()}`,
      () => imageOnly(pipeline, art(c), `art:${c.image}`, 7),
    ]);
  }
  void find;
  for (const [name, make] of samples) {
    const { images } = await make();
    const rendered = await renderGrid(images, name);
    writeFileSync(join(samplesDir, `${name}.png`), rendered.grid);
  }
  say(`samples written to ${samplesDir}`);
}

const top1 = await scorePrompts(pipeline, 'english labels', (c, seed) => imagine(pipeline, c.en, seed));
const top1Zh = await scorePrompts(pipeline, 'chinese labels', (c, seed) => imagine(pipeline, c.zh, seed));
const top1Image = await scorePrompts(pipeline, 'image prompts (Twemoji art)', (c, seed) =>
  imageOnly(pipeline, art(c), `art:${c.image}`, seed),
);

/** `polar bear::0.6 white::-0.5` vs `polar bear` on NEGATIVE_TRIALS seeds: wins and mean whiteness. */
async function negativeWhite(p: DiffusionPipeline, label: string) {
  let wins = 0;
  const plain: number[] = [];
  const negative: number[] = [];
  for (let t = 0; t < NEGATIVE_TRIALS; t++) {
    const seed = 500 + t;
    plain.push(whiteness((await imagine(p, 'polar bear', seed)).images));
    negative.push(whiteness((await imagine(p, 'polar bear::0.6 white::-0.5', seed)).images));
    if (negative[t]! <= plain[t]! - WHITE_MARGIN) wins++;
  }
  const list = (v: number[]) => v.map((x) => x.toFixed(3)).join(' ');
  say(`${label}: ${wins}/${NEGATIVE_TRIALS} less white (plain ${list(plain)}; negative ${list(negative)})`);
  return { wins, plain, negative };
}

const white = await negativeWhite(pipeline, 'negative weight');

/** /describe on each concept's artwork of both sets: is its label among the four prompts? */
async function describeTop4(p: DiffusionPipeline) {
  let hits = 0;
  let total = 0;
  const bySet: Record<string, number> = {};
  for (const set of ['google', 'twitter']) {
    let setHits = 0;
    for (const c of concepts) {
      // Both art sets sit beside the Twemoji one (emoji-datasource-<set>/img/<set>/64).
      const setDir = join(artDir, '..', '..', '..', '..', `emoji-datasource-${set}`, 'img', set, '64');
      const bytes = new Uint8Array(readFileSync(join(setDir, c.image)));
      const url = 'upload:describeeval';
      const job: JobDescription = {
        ...parsePrompt('image'),
        prompt: '',
        prompts: [{ kind: 'image', url, weight: 1, normalized: 1 }],
        weightSum: 1,
        describe: { skip: 0 },
      };
      const output = await runJob(
        p,
        job,
        { task: 'describe', images: { [url]: bytes } },
        { modelName: 'eval', modelDir },
      );
      if (output.type !== 'text') throw new Error('describe made images');
      const hit = output.lines.some((line) => line.split(', ')[0] === c.en);
      setHits += hit ? 1 : 0;
      total++;
    }
    bySet[set === 'google' ? 'noto' : 'twemoji'] = Math.round((setHits / concepts.length) * 10000) / 10000;
    hits += setHits;
  }
  say(`describe: the label among the four prompts for ${hits}/${total} artworks`);
  return { top4: hits / total, bySet };
}

/** Cosine similarity of two embeddings. */
function cosine(a: Float32Array, b: Float32Array): number {
  let dot = 0;
  let na = 0;
  let nb = 0;
  for (let i = 0; i < a.length; i++) {
    dot += a[i]! * b[i]!;
    na += a[i]! * a[i]!;
    nb += b[i]! * b[i]!;
  }
  return dot / Math.sqrt(na * nb);
}

/** `<art>::-1 <label>::2` vs `<label>`: are the images further from the art in the encoder's space? */
async function negativeImage(p: DiffusionPipeline, judge: DiffusionPipeline, label: string) {
  let wins = 0;
  const plain: number[] = [];
  const pushed: number[] = [];
  for (let t = 0; t < NEGATIVE_TRIALS; t++) {
    const away = concepts[t % concepts.length]!;
    const other = concepts[(t + Math.floor(concepts.length / 2)) % concepts.length]!;
    const bytes = art(away);
    const target = (await judge.embedImage(await decodeImage(bytes)))!;
    const similarity = async (images: RawImage[]) => {
      let sum = 0;
      for (const image of images) sum += cosine((await judge.embedImage(image))!, target);
      return sum / images.length;
    };
    const seed = 700 + t;
    const url = `https://eval.invalid/${away.image}`;
    const job = parsePrompt(`${url}::-1 ${other.en}::2`);
    plain.push(await similarity((await imagine(p, other.en, seed)).images));
    pushed.push(await similarity((await generateJob(p, job, { seed, images: { [url]: bytes } })).images));
    if (pushed[t]! < plain[t]!) wins++;
  }
  const list = (v: number[]) => v.map((x) => x.toFixed(3)).join(' ');
  say(
    `${label}: ${wins}/${NEGATIVE_TRIALS} further from the negative image (plain ${list(plain)}; pushed ${list(pushed)})`,
  );
  return { wins, plain, pushed };
}

const described = await describeTop4(pipeline);
const awayFromImage = await negativeImage(pipeline, pipeline, 'negative image weight');

const floorDir = untrainedFolder();
let top1Untrained: number;
let whiteUntrained: Awaited<ReturnType<typeof negativeWhite>>;
let awayUntrained: Awaited<ReturnType<typeof negativeImage>>;
try {
  const untrained = await DiffusionPipeline.fromPretrained(floorDir, { threads });
  top1Untrained = await scorePrompts(untrained, 'english labels, untrained UNet', (c, seed) =>
    imagine(untrained, c.en, seed),
  );
  whiteUntrained = await negativeWhite(untrained, 'negative weight, untrained UNet');
  // The same judge (the trained model's image encoder) scores the untrained UNet's images.
  awayUntrained = await negativeImage(untrained, pipeline, 'negative image weight, untrained UNet');
  await untrained.dispose();
} finally {
  rmSync(floorDir, { recursive: true, force: true });
}

await pipeline.dispose();
const mean = (v: number[]) => v.reduce((a, b) => a + b, 0) / v.length;
const round = (v: number) => Math.round(v * 10000) / 10000;
const report = {
  model: modelDir,
  concepts: concepts.length,
  seeds: seedsPerConcept,
  images_per_concept: seedsPerConcept * 4,
  top1: round(top1),
  top1_zh: round(top1Zh),
  top1_untrained: round(top1Untrained),
  top1_image_prompt: round(top1Image),
  negative_white_trials: NEGATIVE_TRIALS,
  negative_white_wins: white.wins,
  negative_white_wins_untrained: whiteUntrained.wins,
  describe_top4: round(described.top4),
  describe_top4_by_set: described.bySet,
  negative_image_trials: NEGATIVE_TRIALS,
  negative_image_wins: awayFromImage.wins,
  negative_image_wins_untrained: awayUntrained.wins,
  negative_image_similarity: {
    definition: 'mean cosine similarity of the grid images to the negative art, in the image encoder space',
    plain: round(mean(awayFromImage.plain)),
    pushed: round(mean(awayFromImage.pushed)),
  },
  whiteness: {
    definition: 'mean of min(R,G,B)/255 over the grid',
    margin: WHITE_MARGIN,
    plain: round(mean(white.plain)),
    negative: round(mean(white.negative)),
  },
  ceiling: conceptsFile.classifier?.heldout_top1?.mean ?? null,
  chance: round(1 / conceptsFile.concepts.length),
  settings: {
    steps: defaults.steps,
    guidance: defaults.guidanceScale,
    scheduler: defaults.scheduler,
    size: defaults.size,
  },
  runtime_s: Math.round((performance.now() - started) / 100) / 10,
};
process.stdout.write(`${JSON.stringify(report)}\n`);
