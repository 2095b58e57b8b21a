/**
 * `npm run eval -- [--json] [--model DIR] [--seeds N] [--floor-seeds N] [--style-seeds N] [--concepts N]
 *   [--floor-style-concepts N] [--samples DIR [--samples-only]] [--art DIR] [--threads N]
 *   [--only content|styles] [--guidance G] [--steps N] [--scheduler S] [--style-guidance W]
 *   [--seed-base N] [--one-start] [--latent-style S] [--latent-sref S]`
 * `--samples DIR` writes one grid per sample prompt; on a model with styles also `styles-sheet.png` (a row
 * per style: the seed's three prompts and `polar bear --sref`), the model card's sheet.
 * `--only content` (top1, top1_zh, top1_image_prompt) or `--only styles` (style and sref accuracy with the
 * concept top-1 of the same images) runs that part alone and prints it as JSON, for comparing settings side
 * by side: `--guidance G` replaces the folder's guidance scale in every job, `--steps N` and `--scheduler S`
 * its default steps and sampler, `--style-guidance W` the style guidance row's weight
 * (style_encoder/config.json `guidance_weight`), `--latent-style S` the latent style guidance scale
 * (style_encoder/latent_probe.json `scale`, and `sref_scale` too unless `--latent-sref S` sets that; 0
 * turns it off).
 *
 * Evaluates a model folder (default models/emoji-ld2, the shipped model) through the same path the bot uses: the prompt parser
 * (weights normalized as for /imagine), the job -> request mapping with the model's defaults, and
 * DiffusionPipeline.generate. Judges trained only on real emoji artwork (<model>/eval/, 64 concepts fixed in
 * <model>/eval/concepts.json before any generation) score every generated image (scripts/eval-judges.ts).
 *
 * - top1 / top1_zh: the concept's English / Chinese CLDR label as the prompt; fraction of generated
 *   images the concept judge assigns to that concept (64-way).
 * - top1_untrained: the English run again with a randomly initialised UNet of the same architecture
 *   (<model>/eval/unet_untrained.onnx), the floor.
 * - top1_image_prompt: a real drawing of the concept as the only prompt (weight 1), as /blend sends it:
 *   Twemoji art on emoji-ld; on a model with styles the four styles in turn (concept k, seed s: style k + s).
 * - negative_white_*: `polar bear::0.6 white::-0.5` against `polar bear` on the same seeds; whiteness of a
 *   grid = mean over its pixels of min(R, G, B) / 255; a trial is a win when the negative-weight grid is
 *   at least 0.01 less white; whiteness.drop is the mean fall, beside the untrained UNet's.
 * - describe_top4 (models with describe/): /describe through the engine's describe task on the eval
 *   concepts' real artwork (each concept once per art style: Noto and Twemoji on emoji-ld, the four styles
 *   on emoji-ld2): the fraction whose concept label is one of the four prompts. Every style was seen in
 *   training.
 * - negative_image_*: `<concept art>::-1 <another concept's label>::2` against that label alone on the same
 *   seed; a win when the grid's images are further from the negative art in the image encoder's space
 *   (mean cosine similarity of their embeddings to the art's), with the untrained UNet's wins beside it.
 * - grid_diversity: the English-label grids' mean pairwise distance of their four images in the concept
 *   judge's feature space (penultimate layer), over the mean distance between two styles' real drawings of
 *   the same concept in that space (each model measured with its own judge and its own art styles);
 *   grid_diversity_on_concept: the same over the grids whose four images are all judged as the concept;
 *   copy_ratio: what a drawing against itself shifted by 1/32 of its side scores.
 * - ceiling: the judge's accuracy on real artwork of an art set (style) it was not trained on.
 *
 * Models with styles (style_encoder/ and eval/judges.json, emoji-ld2):
 * - style_accuracy: `<label> --style X`, the images judged as style X by the style classifier (trained on
 *   real art of other concepts); concept k takes the styles k, k + 1, ... (`--style-seeds` of them).
 * - sref_accuracy: `<label> --sref <X drawing of another eval concept>` judged as X; sref_top1 is the
 *   concept judge's top-1 on those images, beside top1.
 * - both with the untrained UNet's value beside them, on a smaller set; no_style_grids: the styles the style
 *   classifier sees in the English-label grids (no style parameter).
 * The art: <model>/eval/art/<style>.png (in the repository); emoji-ld's from models/recipe/node_modules.
 *
 * Each concept gets `--seeds` seeds (default 4; 2 on a model with styles); every seed makes a full 2x2 grid,
 * all four images scored. The last stdout line is one JSON object.
 */
import {
  existsSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  rmSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative, resolve } from 'node:path';
import sharp, { type OverlayOptions } from 'sharp';
import { schedulerAllowsChoosing } from '../src/diffusion/candidate-selection.js';
import { type JobInputs, taskFromJob } from '../src/diffusion/job-request.js';
import { DiffusionPipeline } from '../src/diffusion/pipeline.js';
import { runJob } from '../src/diffusion/run-job.js';
import { parseSchedulerName } from '../src/diffusion/schedulers/index.js';
import { cosine } from '../src/diffusion/tensor.js';
import { decodeImage, resizeCover } from '../src/images/decode.js';
import type { RawImage } from '../src/images/raw-image.js';
import { renderGrid } from '../src/images/render.js';
import type { JobDescription } from '../src/jobs/spec.js';
import { parsePrompt } from '../src/prompt/index.js';
import {
  type ConceptsFile,
  EvalArt,
  type EvalConcept,
  gridDiversity,
  Judge,
  readJudgesFile,
  shifted,
} from './eval-judges.js';

function option(name: string): string | undefined {
  const i = process.argv.indexOf(name);
  return i >= 0 ? process.argv[i + 1] : undefined;
}

const json = process.argv.includes('--json');
const modelDir = resolve(option('--model') ?? 'models/emoji-ld2');
const judges = readJudgesFile(modelDir);
const seedsPerConcept = Number(option('--seeds') ?? (judges ? 2 : 4));
const floorSeeds = Number(option('--floor-seeds') ?? (judges ? 1 : seedsPerConcept));
const styleSeeds = Number(option('--style-seeds') ?? 2);
const floorStyleConcepts = Number(option('--floor-style-concepts') ?? 16);
const conceptLimit = option('--concepts') ? Number(option('--concepts')) : undefined;
const samplesDir = option('--samples');
const artDir = resolve(
  option('--art') ?? 'models/recipe/node_modules/emoji-datasource-twitter/img/twitter/64',
);
const threads = Number(option('--threads') ?? 2);
// the style guidance row's weight instead of the folder's (style_encoder/config.json guidance_weight)
const styleGuidance = option('--style-guidance') ? Number(option('--style-guidance')) : undefined;
// --one-start: one start per grid image even where the folder asks for choosing among two (candidate_selection)
const oneStart = process.argv.includes('--one-start');
// the latent style guidance scale instead of the folder's (style_encoder/latent_probe.json scale)
const latentStyle = option('--latent-style') ? Number(option('--latent-style')) : undefined;
// the same for `--sref` jobs alone (the folder's sref_scale); without it `--latent-style` sets both
const latentSref = option('--latent-sref') ? Number(option('--latent-sref')) : undefined;
const pipelineOptions = {
  threads,
  ...(latentStyle === undefined ? {} : { latentStyleGuidance: latentStyle }),
  ...(latentSref === undefined ? {} : { latentSrefGuidance: latentSref }),
  ...(styleGuidance === undefined ? {} : { styleGuidance }),
  ...(oneStart ? { chooseStarts: false } : {}),
};
// the guidance scale of every job instead of the folder's default_guidance_scale
const guidanceOverride = option('--guidance') ? Number(option('--guidance')) : undefined;
// the first seed (concept k, seed index s: base + 16 k + s); another base checks a setting chosen on the
// default seeds against seeds it was not chosen on
const seedBase = Number(option('--seed-base') ?? 1000);
// the default steps and sampler of every job instead of the folder's (default_steps, default_scheduler)
const stepsOverride = option('--steps') ? Number(option('--steps')) : undefined;
const schedulerOverride = option('--scheduler') ? parseSchedulerName(option('--scheduler')!) : undefined;
// a part of the eval alone, to compare settings side by side: `content` (English and Chinese labels and
// image prompts) or `styles` (`--style` and `--sref`); prints their scores as JSON and exits
const only = option('--only');

/** `--only`'s report: the part's scores beside the settings it ran with; then the run ends. */
async function printOnly(pipeline: DiffusionPipeline, scores: Record<string, unknown>): Promise<never> {
  const settings = {
    style_guidance: styleGuidance ?? null,
    latent_style_guidance: latentStyle ?? null,
    latent_sref_guidance: latentSref ?? latentStyle ?? null,
    guidance: guidanceOverride ?? null,
    steps: stepsOverride ?? null,
    scheduler: schedulerOverride ?? null,
    seed_base: seedBase,
    one_start: oneStart,
  };
  process.stdout.write(`${JSON.stringify({ ...settings, ...scores }, null, 2)}\n`);
  await pipeline.dispose();
  process.exit(0);
}
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
const evalDir = join(modelDir, 'eval');
// emoji-ld's judge takes 32 px and has logits only (its features are read off the graph); emoji-ld2's
// judges take the art's tile size and have a `features` output.
const judge = judges
  ? await Judge.load(
      join(evalDir, judges.concept_judge.file),
      judges.concept_judge.input_size,
      'features',
      threads,
    )
  : await Judge.load(join(evalDir, 'classifier.onnx'), 32, null, threads);
const styleJudge = judges
  ? await Judge.load(
      join(evalDir, judges.style_classifier.file),
      judges.style_classifier.input_size,
      'features',
      threads,
    )
  : null;

/** Concept-judge top-1 index for each image. */
async function classify(images: readonly RawImage[]): Promise<number[]> {
  return (await judge.judge(images)).top1;
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
  const defaults = pipeline.defaults;
  const task = await taskFromJob(job, inputs, {
    ...defaults,
    guidanceScale: guidanceOverride ?? defaults.guidanceScale,
    steps: stepsOverride ?? defaults.steps,
    scheduler: schedulerOverride ?? defaults.scheduler,
  });
  if (task.kind !== 'generate') throw new Error('expected a generation task');
  const result = await pipeline.generate(task.request);
  return { images: result.images, request: task.request };
}

/**
 * `<prompt> --style X` or `<prompt> --sref <link>` with the reference's bytes keyed by its link, as the CLI
 * passes them (scripts/imagine.ts); refuses a job whose style the engine did not take.
 */
async function styled(
  pipeline: DiffusionPipeline,
  prompt: string,
  seed: number,
  refs: Record<string, Uint8Array>,
) {
  const job = parsePrompt(prompt);
  const images: Record<string, Uint8Array> = {};
  for (const link of job.params.sref ?? []) {
    const bytes = refs[link];
    if (!bytes) throw new Error(`no bytes for the --sref link ${link}`);
    images[link] = bytes;
  }
  const made = await generateJob(pipeline, job, { seed, images });
  if (!made.request.style) throw new Error(`the engine dropped the style of "${prompt}"`);
  return made;
}

function seedFor(concept: number, s: number): number {
  return seedBase + concept * 16 + s;
}

/**
 * Top-1 of the concept judge over every concept's `seeds` grids (one judge call per concept); `onGrid`
 * sees each grid's judgements (concept k, seed index s), image features and images (awaited in order).
 */
async function scorePrompts(
  label: string,
  run: (c: EvalConcept, seed: number, k: number, s: number) => Promise<{ images: RawImage[] }>,
  seeds = seedsPerConcept,
  onGrid?: (
    k: number,
    s: number,
    top1: number[],
    features: Float32Array[],
    images: RawImage[],
  ) => void | Promise<void>,
): Promise<number> {
  let correct = 0;
  let total = 0;
  const started = performance.now();
  for (const [k, c] of concepts.entries()) {
    const images: RawImage[] = [];
    const sizes: number[] = [];
    for (let s = 0; s < seeds; s++) {
      const made = (await run(c, seedFor(k, s), k, s)).images;
      images.push(...made);
      sizes.push(made.length);
    }
    const judged = await judge.judge(images);
    correct += judged.top1.filter((p) => p === k).length;
    total += images.length;
    let at = 0;
    for (const [s, n] of sizes.entries()) {
      await onGrid?.(
        k,
        s,
        judged.top1.slice(at, at + n),
        judged.features.slice(at, at + n),
        images.slice(at, at + n),
      );
      at += n;
    }
  }
  const top1 = correct / total;
  say(
    `${label}: top1 ${top1.toFixed(3)} over ${total} images (${((performance.now() - started) / 1000).toFixed(1)} s)`,
  );
  return top1;
}

/** The model folder with its UNet replaced by the untrained one (symlinks in a temporary folder). */
function untrainedFolder(): string {
  const dir = mkdtempSync(join(tmpdir(), 'emoji-ld-untrained-'));
  for (const part of [
    'tokenizer',
    'text_encoder',
    'image_encoder',
    'style_encoder',
    'vae_decoder',
    'vae_encoder',
    'scheduler',
    'upscaler',
  ]) {
    if (!existsSync(join(modelDir, part))) continue; // optional parts
    symlinkSync(join(modelDir, part), join(dir, part));
  }
  writeFileSync(join(dir, 'model_index.json'), readFileSync(join(modelDir, 'model_index.json')));
  mkdirSync(join(dir, 'unet'));
  symlinkSync(join(modelDir, 'eval', 'unet_untrained.onnx'), join(dir, 'unet', 'model.onnx'));
  symlinkSync(join(modelDir, 'unet', 'config.json'), join(dir, 'unet', 'config.json'));
  return dir;
}

const started = performance.now();
// read with the weights: a snapshot exported into the folder during the run does not relabel it
const unetConfig = JSON.parse(readFileSync(join(modelDir, 'unet', 'config.json'), 'utf8')) as {
  trained_steps?: number;
};
const pipeline = await DiffusionPipeline.fromPretrained(modelDir, pipelineOptions);
const defaults = pipeline.defaults;
// the folder's choosing, where the sampler in use allows it (the engine skips it for DPM++ 2M)
const chooseStartsAt = schedulerAllowsChoosing(schedulerOverride ?? defaults.scheduler)
  ? defaults.chooseStartsAt
  : null;
say(
  `model ${modelDir}: ${defaults.size}px, ${stepsOverride ?? defaults.steps} steps, guidance ` +
    `${guidanceOverride ?? defaults.guidanceScale}, ${schedulerOverride ?? defaults.scheduler}, ` +
    `${chooseStartsAt === null ? 'one start' : `choosing between two starts at ${chooseStartsAt}`}`,
);
const withStyles = judges !== null && styleJudge !== null && defaults.styles.length > 0;

// The eval concepts' real drawings: emoji-ld's two art sets from the recipe's npm packages (both sets sit
// beside the Twemoji one, emoji-datasource-<set>/img/<set>/64), emoji-ld2's four styles from its sprite sheets.
const setDir = (set: string) =>
  join(artDir, '..', '..', '..', '..', `emoji-datasource-${set}`, 'img', set, '64');
let art: EvalArt;
if (judges) art = await EvalArt.fromSprites(modelDir, judges, concepts);
else {
  try {
    art = await EvalArt.fromDirectories({ noto: setDir('google'), twemoji: artDir }, concepts);
  } catch {
    throw new Error(
      `no Noto / Twemoji artwork under ${artDir}: run \`npm ci --prefix models/recipe\` first (or pass --art DIR)`,
    );
  }
}
const artLink = (style: string, c: EvalConcept) => `https://eval.invalid/${style}/${c.image}`;
/** Concept k's drawing for its seed s: Twemoji on emoji-ld; on emoji-ld2 the styles in turn. */
const promptStyle = (k: number, s: number): string => {
  if (!judges) return 'twemoji';
  const own = art.stylesOf(k);
  return own[(k + s) % own.length]!;
};

if (samplesDir) {
  mkdirSync(samplesDir, { recursive: true });
  const samples: [string, () => Promise<{ images: RawImage[] }>][] = [
    ['polar-bear', () => imagine(pipeline, 'polar bear', 7)],
    ['polar-bear-zh', () => imagine(pipeline, '北极熊', 7)],
    ['polar-bear-not-white', () => imagine(pipeline, 'polar bear::0.6 white::-0.5', 7)],
    ['palm-tree', () => imagine(pipeline, 'palm tree', 7)],
    ['tropical-zh', () => imagine(pipeline, '热带', 7)],
    ['penguin-zh', () => imagine(pipeline, '企鹅', 7)],
  ];
  if (withStyles) {
    const prompts: [string, string][] = [
      ['polar-bear-not-white', 'polar bear::0.6 white::-0.5'],
      ['polar-bear-zh', '北极熊'],
      ['penguin-rainforest-zh', '企鹅::0.5, 热带雨林::0.5'],
    ];
    for (const style of defaults.styles)
      for (const [name, prompt] of prompts)
        samples.push([`${name}-${style}`, () => styled(pipeline, `${prompt} --style ${style}`, 7, {})]);
    const ref = concepts[Math.min(concepts.length - 1, 32)]!;
    for (const style of art.stylesOf(concepts.indexOf(ref))) {
      const link = artLink(style, ref);
      const bytes = await art.png(style, concepts.indexOf(ref));
      samples.push([
        `polar-bear-sref-${style}`,
        () => styled(pipeline, `polar bear --sref ${link}`, 7, { [link]: bytes }),
      ]);
    }
  }
  for (const [k, c] of concepts.slice(0, 3).entries()) {
    const style = promptStyle(k, 0);
    const bytes = await art.png(style, k);
    samples.push([
      `image-prompt-${c.hexcode.toLowerCase()}`,
      () => imageOnly(pipeline, bytes, `art:${c.image}`, 7),
    ]);
  }
  const grids = new Map<string, Uint8Array>();
  for (const [name, make] of samples) {
    const { images } = await make();
    const rendered = await renderGrid(images, name);
    writeFileSync(join(samplesDir, `${name}.png`), rendered.grid);
    grids.set(name, rendered.grid);
  }
  if (withStyles) {
    // One sheet for the model card: a row per style; the seed's three prompts, then `polar bear --sref`.
    const columns = ['polar-bear-not-white', 'polar-bear-zh', 'penguin-rainforest-zh', 'polar-bear-sref'];
    const cell = 256;
    const gap = 8;
    const tiles: OverlayOptions[] = [];
    for (const [row, style] of defaults.styles.entries()) {
      for (const [col, name] of columns.entries()) {
        const grid = grids.get(`${name}-${style}`);
        if (!grid) continue;
        const input = await sharp(grid).resize(cell, cell, { kernel: 'lanczos3' }).png().toBuffer();
        tiles.push({ input, left: col * (cell + gap), top: row * (cell + gap) });
      }
    }
    const sheet = await sharp({
      create: {
        width: columns.length * (cell + gap) - gap,
        height: defaults.styles.length * (cell + gap) - gap,
        channels: 3,
        background: '#ffffff',
      },
    })
      .composite(tiles)
      .png({ palette: true }) // the model card's committed sheet: a quarter of the full-colour size
      .toBuffer();
    writeFileSync(join(samplesDir, 'styles-sheet.png'), sheet);
  }
  say(`samples written to ${samplesDir}`);
  if (process.argv.includes('--samples-only')) {
    await pipeline.dispose();
    process.exit(0);
  }
}

if (only === 'styles' && withStyles) {
  // `--style` and `--sref` alone, e.g. to compare style guidance weights (concept top1 of the same images)
  const style = await styleScores('--style', concepts.length, styleSeeds, styleRun(pipeline));
  const sref = await styleScores('--sref', concepts.length, styleSeeds, (c, k, s, seed) =>
    srefRun(pipeline, c, k, s, seed),
  );
  await printOnly(pipeline, { style, sref });
}

const englishGrids: Float32Array[][] = [];
// the grids whose four images the judge all takes for the concept: variety among the right drawings
const onConceptGrids: Float32Array[][] = [];
// on a model with styles, the styles the style classifier sees in the grids made without --style
const unstyled = { judged: {} as Record<string, number>, distinct: 0, grids: 0 };
const top1 = await scorePrompts(
  'english labels',
  (c, seed) => imagine(pipeline, c.en, seed),
  seedsPerConcept,
  async (k, _s, judged, features, images) => {
    englishGrids.push(features);
    if (judged.every((p) => p === k)) onConceptGrids.push(features);
    if (!styleJudge || !judges) return;
    const names = (await styleJudge.judge(images)).top1.map((i) => judges.style_classifier.styles[i]!);
    for (const name of names) unstyled.judged[name] = (unstyled.judged[name] ?? 0) + 1;
    unstyled.distinct += new Set(names).size;
    unstyled.grids++;
  },
);
const top1Zh = await scorePrompts('chinese labels', (c, seed) => imagine(pipeline, c.zh, seed));
const imageHits: Record<string, { images: number; top1: number }> = {};
const top1Image = await scorePrompts(
  judges ? 'image prompts (the four styles in turn)' : 'image prompts (Twemoji art)',
  async (c, seed, k, s) => imageOnly(pipeline, await art.png(promptStyle(k, s), k), `art:${c.image}`, seed),
  seedsPerConcept,
  (k, s, judged) => {
    const style = promptStyle(k, s);
    const entry = imageHits[style] ?? { images: 0, top1: 0 };
    entry.images += judged.length;
    entry.top1 += judged.filter((p) => p === k).length;
    imageHits[style] = entry;
  },
);

if (only === 'content') {
  const scores = { top1, top1_zh: top1Zh, top1_image_prompt: top1Image, image_prompt_by_style: imageHits };
  await printOnly(pipeline, { seeds: seedsPerConcept, ...scores });
}

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

/** /describe on each concept's artwork in every art style of the eval: is its label among the four prompts? */
async function describeTop4(p: DiffusionPipeline) {
  let hits = 0;
  let total = 0;
  const bySet: Record<string, number> = {};
  for (const style of art.styles) {
    let setHits = 0;
    let setTotal = 0;
    for (const [k, c] of concepts.entries()) {
      if (!art.stylesOf(k).includes(style)) continue;
      const bytes = await art.png(style, k);
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
      setTotal++;
    }
    bySet[style] = Math.round((setHits / setTotal) * 10000) / 10000;
    hits += setHits;
    total += setTotal;
  }
  say(`describe: the label among the four prompts for ${hits}/${total} artworks`);
  return { top4: hits / total, bySet };
}

/** `<art>::-1 <label>::2` vs `<label>`: are the images further from the art in the encoder's space? */
async function negativeImage(p: DiffusionPipeline, embedder: DiffusionPipeline, label: string) {
  let wins = 0;
  const plain: number[] = [];
  const pushed: number[] = [];
  for (let t = 0; t < NEGATIVE_TRIALS; t++) {
    const a = t % concepts.length;
    const away = concepts[a]!;
    const other = concepts[(t + Math.floor(concepts.length / 2)) % concepts.length]!;
    const bytes = await art.png('twemoji', a);
    const target = (await embedder.embedImage(await decodeImage(bytes)))!;
    const similarity = async (images: RawImage[]) => {
      let sum = 0;
      for (const image of images) sum += cosine((await embedder.embedImage(image))!, target);
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

const hasDescribe = existsSync(join(modelDir, 'describe', 'vocabulary.json'));
const described = hasDescribe ? await describeTop4(pipeline) : null;
const awayFromImage = await negativeImage(pipeline, pipeline, 'negative image weight');

interface StyleScore {
  accuracy: number;
  top1: number;
  by_style: Record<string, number>;
  /** asked style -> how many of its images the style classifier gave each style */
  judged_as: Record<string, Record<string, number>>;
  grids: number;
  images: number;
}

/**
 * `--style` or `--sref` runs over the first `count` concepts, `perConcept` styles each (concept k takes
 * the model's styles k, k + 1, ...; seed as top1's seed j for its j-th style): the fraction of images the
 * style classifier judges as the asked style, and the concept judge's top-1 on them.
 */
async function styleScores(
  label: string,
  count: number,
  perConcept: number,
  make: (c: EvalConcept, k: number, style: string, seed: number) => Promise<{ images: RawImage[] }>,
): Promise<StyleScore> {
  const names = judges!.style_classifier.styles;
  const styles = defaults.styles;
  const perStyle: Record<string, { images: number; hits: number }> = {};
  const judgedAs: Record<string, Record<string, number>> = {};
  let hits = 0;
  let correct = 0;
  let total = 0;
  let grids = 0;
  const t0 = performance.now();
  for (const [k, c] of concepts.slice(0, count).entries()) {
    for (let j = 0; j < perConcept; j++) {
      const style = styles[(k + j) % styles.length]!;
      const { images } = await make(c, k, style, seedFor(k, j));
      const asStyle = (await styleJudge!.judge(images)).top1.map((i) => names[i]);
      const asConcept = await classify(images);
      const h = asStyle.filter((s) => s === style).length;
      const row = judgedAs[style] ?? {};
      for (const s of asStyle) if (s) row[s] = (row[s] ?? 0) + 1;
      judgedAs[style] = row;
      const entry = perStyle[style] ?? { images: 0, hits: 0 };
      entry.images += images.length;
      entry.hits += h;
      perStyle[style] = entry;
      hits += h;
      correct += asConcept.filter((i) => i === k).length;
      total += images.length;
      grids++;
    }
  }
  const byStyle = Object.fromEntries(Object.entries(perStyle).map(([s, e]) => [s, round(e.hits / e.images)]));
  say(
    `${label}: judged as the asked style ${(hits / total).toFixed(3)}, concept top1 ${(correct / total).toFixed(3)} over ` +
      `${total} images (${JSON.stringify(byStyle)}; ${((performance.now() - t0) / 1000).toFixed(1)} s)`,
  );
  return {
    accuracy: hits / total,
    top1: correct / total,
    by_style: byStyle,
    judged_as: judgedAs,
    grids,
    images: total,
  };
}

/** `<label> --sref <link>`: the X drawing of the eval concept half the list away (the next one that has X). */
async function srefRun(p: DiffusionPipeline, c: EvalConcept, k: number, style: string, seed: number) {
  const n = concepts.length;
  let other = (k + Math.floor(n / 2)) % n;
  while (other === k || !art.has(style, other)) other = (other + 1) % n;
  const link = artLink(style, concepts[other]!);
  return styled(p, `${c.en} --sref ${link}`, seed, { [link]: await art.png(style, other) });
}

/** `<label> --style X` on pipeline `p` (a function declaration: `--only styles` calls it before this line). */
function styleRun(p: DiffusionPipeline) {
  return (c: EvalConcept, _k: number, style: string, seed: number) =>
    styled(p, `${c.en} --style ${style}`, seed, {});
}

let styleScore: StyleScore | null = null;
let srefScore: StyleScore | null = null;
if (withStyles) {
  styleScore = await styleScores('--style', concepts.length, styleSeeds, styleRun(pipeline));
  srefScore = await styleScores('--sref', concepts.length, styleSeeds, (c, k, s, seed) =>
    srefRun(pipeline, c, k, s, seed),
  );
}

// grid_diversity's yardstick: the concept judge's features of each concept's real drawings; and what near
// copies score: each drawing (at the judge's input size) against itself moved by 1/32 of its side
const drawings: Float32Array[][] = [];
const copies: Float32Array[][] = [];
const shift = Math.max(1, Math.round(judge.size / 32));
for (const images of art.perConcept(concepts.length)) {
  drawings.push((await judge.judge(images)).features);
  const small = await Promise.all(images.map((image) => resizeCover(image, judge.size, judge.size)));
  const both = (await judge.judge([...small, ...small.map((image) => shifted(image, shift, shift))]))
    .features;
  for (let i = 0; i < small.length; i++) copies.push([both[i]!, both[i + small.length]!]);
}
const diversity = gridDiversity(englishGrids, drawings, copies);
// emoji-ld's yardstick has its two art sets only: the same pair on a model with more styles, for comparison
const notoTwemoji = drawings.map((features, k) => {
  const own = art.stylesOf(k);
  return ['noto', 'twemoji'].flatMap((s) => (own.includes(s) ? [features[own.indexOf(s)]!] : []));
});
const diversityNotoTwemoji = gridDiversity(englishGrids, notoTwemoji, copies);
const diversityOnConcept = gridDiversity(onConceptGrids, drawings, copies);
say(
  `grid diversity: ${diversity.ratio.toFixed(3)} (grid ${diversity.grid_distance.toFixed(3)} / real ` +
    `${diversity.real_distance.toFixed(3)} over ${diversity.real_pairs} pairs of styles; a shifted copy ` +
    `${diversity.copy_ratio.toFixed(3)}, grids of near copies ${diversity.near_copy_fraction.toFixed(3)})`,
);

const floorDir = untrainedFolder();
let top1Untrained: number;
let whiteUntrained: Awaited<ReturnType<typeof negativeWhite>>;
let awayUntrained: Awaited<ReturnType<typeof negativeImage>>;
let styleUntrained: StyleScore | null = null;
let srefUntrained: StyleScore | null = null;
const untrainedGrids: Float32Array[][] = [];
try {
  const untrained = await DiffusionPipeline.fromPretrained(floorDir, pipelineOptions);
  top1Untrained = await scorePrompts(
    'english labels, untrained UNet',
    (c, seed) => imagine(untrained, c.en, seed),
    floorSeeds,
    (_k, _s, _top1, features) => {
      untrainedGrids.push(features);
    },
  );
  whiteUntrained = await negativeWhite(untrained, 'negative weight, untrained UNet');
  // The same judge (the trained model's image encoder) scores the untrained UNet's images.
  awayUntrained = await negativeImage(untrained, pipeline, 'negative image weight, untrained UNet');
  if (withStyles) {
    const count = Math.min(floorStyleConcepts, concepts.length);
    styleUntrained = await styleScores('--style, untrained UNet', count, 1, styleRun(untrained));
    srefUntrained = await styleScores('--sref, untrained UNet', count, 1, (c, k, s, seed) =>
      srefRun(untrained, c, k, s, seed),
    );
  }
  await untrained.dispose();
} finally {
  rmSync(floorDir, { recursive: true, force: true });
}
const diversityUntrained = gridDiversity(untrainedGrids, drawings, copies);

await pipeline.dispose();
function mean(v: number[]): number {
  return v.reduce((a, b) => a + b, 0) / v.length;
}
function cpuSeconds(): number {
  const { user, system } = process.cpuUsage();
  return Math.round((user + system) / 1e5) / 10;
}
function round(v: number): number {
  return Math.round(v * 10000) / 10000;
}
const styleReport = (score: StyleScore | null, untrained: StyleScore | null, what: string) =>
  score && untrained
    ? {
        accuracy: round(score.accuracy),
        accuracy_untrained: round(untrained.accuracy),
        by_style: score.by_style,
        judged_as: score.judged_as,
        top1: round(score.top1),
        definition: what,
        grids: score.grids,
        images: score.images,
        styles_per_concept: styleSeeds,
        untrained_grids: untrained.grids,
      }
    : null;
const report = {
  model: relative(process.cwd(), modelDir) || modelDir, // no machine paths in the record
  ...(unetConfig.trained_steps !== undefined ? { unet_trained_steps: unetConfig.trained_steps } : {}),
  concepts: concepts.length,
  seeds: seedsPerConcept,
  images_per_concept: seedsPerConcept * 4,
  top1: round(top1),
  top1_zh: round(top1Zh),
  top1_untrained: round(top1Untrained),
  top1_image_prompt: round(top1Image),
  ...(judges
    ? {
        top1_image_prompt_by_style: Object.fromEntries(
          Object.entries(imageHits).map(([s, e]) => [s, round(e.top1 / e.images)]),
        ),
        untrained_seeds: floorSeeds,
      }
    : {}),
  negative_white_trials: NEGATIVE_TRIALS,
  negative_white_wins: white.wins,
  negative_white_wins_untrained: whiteUntrained.wins,
  describe_top4: described ? round(described.top4) : null,
  describe_top4_by_set: described ? described.bySet : null,
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
    // The effect's size beside the wins: the 8 trials share one prompt pair, so an untrained UNet's fixed
    // response to it wins all of them or none, while its drop stays near zero.
    drop: round(mean(white.plain) - mean(white.negative)),
  },
  whiteness_untrained: {
    plain: round(mean(whiteUntrained.plain)),
    negative: round(mean(whiteUntrained.negative)),
    drop: round(mean(whiteUntrained.plain) - mean(whiteUntrained.negative)),
  },
  ...(withStyles
    ? {
        style_accuracy: round(styleScore!.accuracy),
        style_accuracy_untrained: round(styleUntrained!.accuracy),
        sref_accuracy: round(srefScore!.accuracy),
        sref_accuracy_untrained: round(srefUntrained!.accuracy),
        sref_top1: round(srefScore!.top1),
        sref_top1_minus_top1: round(srefScore!.top1 - top1),
        style: styleReport(
          styleScore,
          styleUntrained,
          '`<label> --style X`: fraction of images the style classifier judges as X; top1: the concept judge on them',
        ),
        no_style_grids: {
          definition:
            'English-label grids without --style / --sref, each image judged by the style classifier',
          judged_as: unstyled.judged,
          distinct_styles_per_grid: round(unstyled.distinct / Math.max(1, unstyled.grids)),
          grids: unstyled.grids,
        },
        sref: styleReport(
          srefScore,
          srefUntrained,
          '`<label> --sref <X drawing of another eval concept>`: fraction judged as X; top1: the concept judge on them',
        ),
      }
    : {}),
  grid_diversity: round(diversity.ratio),
  grid_diversity_untrained: round(diversityUntrained.ratio),
  grid_diversity_on_concept: round(diversityOnConcept.ratio),
  grid_diversity_detail: {
    definition:
      "mean over the English-label grids of the mean pairwise Euclidean distance of a grid's 4 images in the " +
      "concept judge's penultimate features, over the mean distance between two styles' real drawings of the " +
      'same concept (every pair of styles drawing it) in the same space',
    judge: judges ? `eval/${judges.concept_judge.file}` : 'eval/classifier.onnx',
    styles: art.styles,
    grid_distance: round(diversity.grid_distance),
    real_distance: round(diversity.real_distance),
    grids: diversity.grids,
    real_pairs: diversity.real_pairs,
    median_ratio: round(diversity.median_ratio),
    on_concept_grids: diversityOnConcept.grids,
    on_concept_definition:
      'grid_diversity over the grids whose 4 images the concept judge all assigns to the concept',
    on_concept_median_ratio: round(diversityOnConcept.median_ratio),
    on_concept_near_copy_fraction: round(diversityOnConcept.near_copy_fraction),
    copy_ratio: round(diversity.copy_ratio),
    copy_definition: `a real drawing against itself shifted by ${shift} px (right and down, at the judge's ${judge.size} px), in the same units`,
    near_copy_fraction: round(diversity.near_copy_fraction),
    near_copy_definition:
      'grids whose mean pairwise distance is under that of a drawing and its shifted copy',
    near_copy_fraction_untrained: round(diversityUntrained.near_copy_fraction),
    untrained_grids: diversityUntrained.grids,
    ...(art.styles.length > 2
      ? {
          ratio_noto_twemoji_yardstick: round(diversityNotoTwemoji.ratio),
          real_distance_noto_twemoji: round(diversityNotoTwemoji.real_distance),
        }
      : {}),
  },
  ceiling: judges ? judges.concept_judge.ceiling : (conceptsFile.classifier?.heldout_top1?.mean ?? null),
  ...(judges
    ? {
        ceiling_by_style: Object.fromEntries(
          Object.entries(judges.concept_judge.leave_one_style_out).map(([s, v]) => [s, v.top1]),
        ),
        style_classifier_heldout: judges.style_classifier.heldout_eval_art_top1,
      }
    : {}),
  chance: round(1 / conceptsFile.concepts.length),
  settings: {
    steps: stepsOverride ?? defaults.steps,
    guidance: guidanceOverride ?? defaults.guidanceScale,
    style_guidance: defaults.styleGuidance,
    latent_style_guidance: defaults.latentStyleGuidance,
    latent_sref_guidance: defaults.latentSrefGuidance,
    scheduler: schedulerOverride ?? defaults.scheduler,
    choose_starts_at: chooseStartsAt,
    size: defaults.size,
  },
  runtime_s: Math.round((performance.now() - started) / 100) / 10,
  cpu_s: cpuSeconds(),
  threads,
};
await judge.dispose();
await styleJudge?.dispose();
process.stdout.write(`${JSON.stringify(report)}\n`);
