import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { readTextChunks } from '../../src/images/png.js';
import { MODELS } from './helpers.js';

const run = promisify(execFile);
const ROOT = new URL('../../', import.meta.url).pathname;

test('npm run imagine: same prompt and seed give byte-identical PNGs', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'imagine-'));
  try {
    const imagine = (out: string) =>
      run(
        process.execPath,
        [
          '--import',
          'tsx',
          'scripts/imagine.ts',
          'polar bear:: 北极熊::0.5 --ar 3:2 --seed 11',
          '--out',
          out,
          '--model',
          `${MODELS}emoji-tiny`,
          '--steps',
          '4',
          '--singles',
        ],
        { cwd: ROOT },
      );
    const first = await imagine(join(dir, 'a.png'));
    await imagine(join(dir, 'b.png'));
    expect(first.stdout).toMatch(/seed 11/);
    const a = readFileSync(join(dir, 'a.png'));
    expect(a.equals(readFileSync(join(dir, 'b.png')))).toBe(true);
    expect(readFileSync(join(dir, 'a-4.png')).equals(readFileSync(join(dir, 'b-4.png')))).toBe(true);
    expect(readTextChunks(a)['parameters']).toMatch(/^polar bear:: 北极熊::0.5 --ar 3:2 --seed 11\nSteps: 4/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}, 60_000);

test('an unknown device fails with the list of valid ones', async () => {
  await expect(
    run(process.execPath, ['--import', 'tsx', 'scripts/imagine.ts', 'a cat', '--device', 'tpu'], {
      cwd: ROOT,
    }),
  ).rejects.toMatchObject({ stderr: expect.stringMatching(/valid devices: cpu, cuda/) });
}, 60_000);

/** Each family fixture runs through the CLI with its own sampler and steps (read back from the PNG). */
const FAMILIES: readonly (readonly [fixture: string, sampler: string, steps: number])[] = [
  ['sd-turbo-tiny', 'euler', 2],
  ['sd15-lcm-tiny', 'lcm', 4],
  ['sd15-inpaint-tiny', 'ddim', 20],
  ['sdxl-tiny', 'euler', 20],
  ['sdxl-turbo-fp16-tiny', 'euler-ancestral', 2],
];

test.each(FAMILIES)(
  'npm run imagine --model %s: its sampler %s, %i steps',
  async (fixture, sampler, steps) => {
    const dir = mkdtempSync(join(tmpdir(), 'imagine-'));
    try {
      const out = join(dir, 'grid.png');
      await run(
        process.execPath,
        [
          '--import',
          'tsx',
          'scripts/imagine.ts',
          'a cat --seed 5',
          '--out',
          out,
          '--model',
          `${MODELS}${fixture}`,
        ],
        { cwd: ROOT },
      );
      const parameters = readTextChunks(readFileSync(out))['parameters'] ?? '';
      expect(parameters).toMatch(new RegExp(`Steps: ${steps}, Sampler: ${sampler},`));
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  },
  60_000,
);
