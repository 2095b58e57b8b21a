/** A model folder's styles.json and latent_probe.json are checked where they are read: a wrong file fails the load, naming it. */
import { copyFileSync, cpSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ModelFolderError } from '../../src/model/config.js';
import { readModelStyles } from '../../src/model/styles.js';

const SHIPPED = 'models/emoji-ld2/style_encoder';

function withStyles(edit: (file: Record<string, unknown>) => void): string {
  const dir = mkdtempSync(join(tmpdir(), 'styles-'));
  cpSync(SHIPPED, join(dir, 'style_encoder'), { recursive: true });
  const path = join(dir, 'style_encoder', 'styles.json');
  const file = JSON.parse(readFileSync(path, 'utf8')) as Record<string, unknown>;
  edit(file);
  writeFileSync(path, JSON.stringify(file));
  return dir;
}

test('the shipped table reads as four named styles and the no-style tokens, 4 x 128 each', () => {
  const styles = readModelStyles('models/emoji-ld2');
  expect(styles?.names).toEqual(['noto', 'twemoji', 'fluent', 'fluent-3d']);
  expect([...(styles?.named.values() ?? [])].map((t) => t.length)).toEqual([512, 512, 512, 512]);
  expect(styles?.none.length).toBe(512);
  expect(readModelStyles('models/emoji-ld')).toBeNull();
});

test.each([
  [
    'a style without tokens',
    (f: Record<string, unknown>) => delete (f['tokens'] as Record<string, unknown>)['fluent'],
    'no tokens for the style "fluent"',
  ],
  [
    'a short null row',
    (f: Record<string, unknown>) => (f['null'] as number[][]).pop(),
    'null must be 4 x 128 numbers',
  ],
  [
    'a string among the numbers',
    (f: Record<string, unknown>) => ((f['null'] as unknown[][])[0]![0] = 'x'),
    'styles.json',
  ],
  [
    'a style name with a path in it',
    (f: Record<string, unknown>) => ((f['names'] as string[])[0] = '../x'),
    'styles.json',
  ],
])('%s fails the load with a ModelFolderError', (_what, edit, message) => {
  const dir = withStyles(edit);
  try {
    expect(() => readModelStyles(dir)).toThrow(ModelFolderError);
    expect(() => readModelStyles(dir)).toThrow(message);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test("the style guidance weight comes from the encoder's config.json, 0 when absent, bounded", () => {
  const dir = mkdtempSync(join(tmpdir(), 'styles-'));
  try {
    cpSync(SHIPPED, join(dir, 'style_encoder'), { recursive: true });
    const path = join(dir, 'style_encoder', 'config.json');
    const config = JSON.parse(readFileSync(path, 'utf8')) as Record<string, unknown>;
    const write = (edit: Record<string, unknown>) =>
      writeFileSync(path, JSON.stringify({ ...config, ...edit }));
    write({ guidance_weight: 0.75 });
    expect(readModelStyles(dir)?.guidanceWeight).toBe(0.75);
    delete config['guidance_weight'];
    write({});
    expect(readModelStyles(dir)?.guidanceWeight).toBe(0);
    for (const bad of [-1, 100, 'strong']) {
      write({ guidance_weight: bad });
      expect(() => readModelStyles(dir)).toThrow(ModelFolderError);
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

describe("a folder's latent_probe.json is checked where it is read", () => {
  let dir: string;
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'probe-'));
    mkdirSync(join(dir, 'style_encoder'));
    copyFileSync(join(SHIPPED, 'styles.json'), join(dir, 'style_encoder', 'styles.json'));
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));
  const write = (probeFile: unknown) =>
    writeFileSync(join(dir, 'style_encoder', 'latent_probe.json'), JSON.stringify(probeFile));
  const good = { file: 'latent_probe.onnx', styles: ['noto', 'twemoji', 'fluent', 'fluent-3d'], scale: 0.1 };

  test('read: the file inside style_encoder/ and the scale, which --sref takes too without its own', () => {
    write(good);
    expect(readModelStyles(dir)?.latentProbe).toEqual({
      path: join(dir, 'style_encoder', 'latent_probe.onnx'),
      scale: 0.1,
      srefScale: 0.1,
    });
  });
  test("read: --sref's own scale", () => {
    write({ ...good, sref_scale: 0.05 });
    expect(readModelStyles(dir)?.latentProbe).toMatchObject({ scale: 0.1, srefScale: 0.05 });
  });
  test('no file: no probe', () => {
    expect(readModelStyles(dir)?.latentProbe).toBeNull();
  });
  test.each([
    ['styles in another order', { ...good, styles: ['twemoji', 'noto', 'fluent', 'fluent-3d'] }],
    ['a path out of the folder', { ...good, file: '../../unet/model.onnx' }],
    ['a scale past the bound', { ...good, scale: 50 }],
    ['no scale', { file: good.file, styles: good.styles }],
    ['an sref scale past the bound', { ...good, sref_scale: 3 }],
    ['a negative sref scale', { ...good, sref_scale: -0.1 }],
    ['an sref scale that is not a number', { ...good, sref_scale: '0.1' }],
  ])('refused: %s', (_what, probeFile) => {
    write(probeFile);
    expect(() => readModelStyles(dir)).toThrow(ModelFolderError);
  });
});
