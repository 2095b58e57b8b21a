/**
 * Generate a grid from the command line:
 *   npm run imagine -- "<prompt with --ar, --seed, --chaos ...>" --out grid.png [--model dir] [--device cpu|cuda]
 *     [--steps n] [--scheduler dpmpp-2m-karras|euler-ancestral|ddim] [--threads n] [--singles]
 * The same prompt and seed give byte-identical PNGs on the same machine. Without `--seed` in the prompt a
 * random seed is drawn and printed.
 */
import { randomInt } from 'node:crypto';
import { existsSync } from 'node:fs';
import { readFile, writeFile } from 'node:fs/promises';
import { basename, dirname, extname, join } from 'node:path';
import { parseArgs } from 'node:util';
import { parseDevice } from '../src/diffusion/backend.js';
import { DiffusionPipeline } from '../src/diffusion/pipeline.js';
import { imagesOf, runJob } from '../src/diffusion/run-job.js';
import { parseSchedulerName } from '../src/diffusion/schedulers/index.js';
import { parsePrompt } from '../src/prompt/parse.js';

const SHIPPED_MODEL = 'models/emoji-ld2';
const FIXTURE_MODEL = 'test/fixtures/models/emoji-tiny';

async function main(): Promise<void> {
  const { values, positionals } = parseArgs({
    allowPositionals: true,
    options: {
      out: { type: 'string', default: 'grid.png' },
      model: { type: 'string' },
      device: { type: 'string', default: 'cpu' },
      steps: { type: 'string' },
      scheduler: { type: 'string' },
      threads: { type: 'string' },
      singles: { type: 'boolean', default: false },
    },
  });
  const prompt = positionals.join(' ');
  if (!prompt) throw new Error('usage: npm run imagine -- "<prompt>" --out grid.png');
  const job = parsePrompt(prompt);
  const model =
    values.model ?? (existsSync(join(SHIPPED_MODEL, 'unet', 'model.onnx')) ? SHIPPED_MODEL : FIXTURE_MODEL);
  if (!values.model && model === FIXTURE_MODEL)
    console.error(`${SHIPPED_MODEL} is not there; using ${FIXTURE_MODEL}`);
  const seed = job.params.seed ?? randomInt(0, 2 ** 32);
  const images: Record<string, Uint8Array> = {};
  const links = [
    ...job.prompts.flatMap((p) => (p.kind === 'image' ? [p.url] : [])),
    ...(job.params.sref ?? []),
  ];
  for (const link of links) {
    // The CLI is the caller here, so it resolves links (the engine itself never fetches): http(s) or a file.
    images[link] = /^https?:/i.test(link)
      ? new Uint8Array(await (await fetch(link)).arrayBuffer())
      : await readFile(link.replace(/^file:\/\//, ''));
  }
  const pipeline = await DiffusionPipeline.fromPretrained(model, {
    device: parseDevice(values.device),
    ...(values.threads ? { threads: Number(values.threads) } : {}),
  });
  try {
    const output = imagesOf(
      await runJob(
        pipeline,
        job,
        {
          seed,
          images,
          ...(values.steps ? { steps: Number(values.steps) } : {}),
          ...(values.scheduler ? { scheduler: parseSchedulerName(values.scheduler) } : {}),
        },
        {
          modelName: basename(model),
          onProgress: (p) => {
            if (p.stage === 'denoise') process.stderr.write(`\rstep ${p.step}/${p.total}`);
          },
        },
      ),
    );
    process.stderr.write('\n');
    if (output.grid) await writeFile(values.out, output.grid);
    if (values.singles || !output.grid) {
      const stem = join(dirname(values.out), basename(values.out, extname(values.out)));
      for (const { index, png } of output.images) await writeFile(`${stem}-${index + 1}.png`, png);
    }
    for (const note of [...job.notes, ...output.notes]) console.error(`note: ${note}`);
    console.log(`${values.out} (seed ${seed}, ${output.timings.totalMs.toFixed(0)} ms)`);
  } finally {
    await pipeline.dispose();
  }
}

main().catch((error: unknown) => {
  console.error(error instanceof Error ? `${error.name}: ${error.message}` : error);
  process.exitCode = 1;
});
