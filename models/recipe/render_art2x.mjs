// Renders the emoji-ld2 art at two sizes (the model's 64 px and twice that) for the upscaler of extras2.py:
// every drawing from its best source, rasterized at each size directly (vector) or resized from its
// largest bitmap, composited on white. Uses sharp from the repository's own node_modules.
//   noto, twemoji: the vector drawings of @iconify-json/noto and @iconify-json/twemoji (Iconify JSON: one SVG
//     body per icon, looked up by code points in chars.json; the emoji-datasource packages of the data stage
//     ship 64 px PNGs only), installed by extras2.py into models/recipe/.work/extras2/npm/;
//   fluent: fluentui-emoji icons/flat/<file>.svg (the file the data stage matched, from meta.json), vector;
//   fluent-3d: @lobehub/fluent-emoji-3d assets/<file>.webp (256 px), Lanczos 3 down to each size.
// Usage: node render_art2x.mjs <concepts.json> <iconify node_modules> <out prefix> <size> [<size> ...]
//   concepts.json: [{hexcode, flat, d3}] (hexcode uppercase without FE0F; flat / d3: file names or null)
//   writes <out prefix><size>.bin: uint8 [N, 4 styles, size, size, 3] (white where a style has no drawing)
//   prints one JSON line: {avail: [[noto, twemoji, fluent, fluent-3d] per concept], names: ..., counts}
import { readFileSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
const require = createRequire(join(here, '..', '..', 'package.json'));
const sharp = require('sharp');
sharp.concurrency(1);

const [conceptsPath, iconifyDir, outPrefix, ...sizeArgs] = process.argv.slice(2);
const sizes = sizeArgs.map(Number);
const concepts = JSON.parse(readFileSync(conceptsPath, 'utf8'));
const flatDir = join(here, 'node_modules', 'fluentui-emoji', 'icons', 'flat');
const d3Dir = join(here, 'node_modules', '@lobehub', 'fluent-emoji-3d', 'assets');

function iconSet(name) {
  const dir = join(iconifyDir, '@iconify-json', name);
  const set = JSON.parse(readFileSync(join(dir, 'icons.json'), 'utf8'));
  const chars = JSON.parse(readFileSync(join(dir, 'chars.json'), 'utf8'));
  const byHex = new Map();
  for (const [hex, icon] of Object.entries(chars)) byHex.set(hex.toUpperCase().replace(/-FE0F/g, ''), icon);
  return { set, byHex };
}

/** The icon's SVG document (aliases followed to their parent; the sets use no alias transforms). */
function iconSvg({ set, byHex }, hexcode) {
  let name = byHex.get(hexcode);
  if (!name) return null;
  for (let hops = 0; !set.icons[name] && set.aliases?.[name] && hops < 8; hops++) name = set.aliases[name].parent;
  const icon = set.icons[name];
  if (!icon) return null;
  const w = icon.width ?? set.width ?? 16;
  const h = icon.height ?? set.height ?? 16;
  const l = icon.left ?? set.left ?? 0;
  const t = icon.top ?? set.top ?? 0;
  const svg = `<svg xmlns="http://www.w3.org/2000/svg" xmlns:xlink="http://www.w3.org/1999/xlink" viewBox="${l} ${t} ${w} ${h}" width="${w}" height="${h}">${icon.body}</svg>`;
  return { name, svg: Buffer.from(svg), units: Math.max(w, h) };
}

async function toRgb(input, size, options) {
  const { data, info } = await sharp(input, options)
    .resize(size, size, { fit: 'contain', kernel: 'lanczos3', background: { r: 255, g: 255, b: 255, alpha: 0 } })
    .flatten({ background: { r: 255, g: 255, b: 255 } })
    .removeAlpha()
    .raw()
    .toBuffer({ resolveWithObject: true });
  if (info.width !== size || info.height !== size || info.channels !== 3) throw new Error(`bad render ${JSON.stringify(info)}`);
  return data;
}

const sets = [iconSet('noto'), iconSet('twemoji')];
const outs = sizes.map((s) => Buffer.alloc(concepts.length * 4 * s * s * 3, 255));
const avail = [];
const names = [];
for (let i = 0; i < concepts.length; i++) {
  const { hexcode, flat, d3 } = concepts[i];
  // per style: [input for sharp, sharp options at size s] or null
  const sources = [
    ...sets.map((st) => {
      const ic = iconSvg(st, hexcode);
      return ic ? { name: ic.name, input: () => ic.svg, opts: (s) => ({ density: (72 * s) / ic.units }) } : null;
    }),
    flat ? { name: flat, input: () => readFileSync(join(flatDir, flat)), opts: (s) => ({ density: (72 * s) / 32 }) } : null,
    d3 ? { name: d3, input: () => join(d3Dir, d3), opts: () => ({}) } : null,
  ];
  avail.push(sources.map(Boolean));
  names.push(sources.map((src) => src?.name ?? null));
  for (let st = 0; st < 4; st++) {
    const src = sources[st];
    if (!src) continue;
    const input = src.input();
    for (let k = 0; k < sizes.length; k++) {
      const s = sizes[k];
      (await toRgb(input, s, src.opts(s))).copy(outs[k], (4 * i + st) * s * s * 3);
    }
  }
}
sizes.forEach((s, k) => writeFileSync(`${outPrefix}${s}.bin`, outs[k]));
const counts = [0, 1, 2, 3].map((st) => avail.filter((a) => a[st]).length);
console.log(JSON.stringify({ avail, names, counts }));
