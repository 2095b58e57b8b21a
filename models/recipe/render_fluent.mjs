// Renders Microsoft Fluent Emoji for the emoji-ld2 data stage: the flat SVGs of `fluentui-emoji`
// (icons/flat/<cldr-name>.svg, skin-tone emoji as <name>-default.svg) rasterized at the training size, and
// the 3D renderings of `@lobehub/fluent-emoji-3d` (assets/<codepoints>.webp, 256 px) resized to it, both
// composited on white. Uses sharp from the repository's own node_modules.
// Usage: node render_fluent.mjs <concepts.json> <out.bin> <size>
//   concepts.json: [{hexcode, label}] (hexcode uppercase without FE0F, label = CLDR English label)
//   out.bin: uint8 [N, 2, size, size, 3] (style 0 = flat, 1 = 3D; white where missing)
//   prints one JSON line: {flat: [file or null per concept], d3: [...], counts}
import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
const require = createRequire(join(here, '..', '..', 'package.json'));
const sharp = require('sharp');
sharp.concurrency(1);

const [conceptsPath, outPath, sizeArg] = process.argv.slice(2);
const size = Number(sizeArg);
const concepts = JSON.parse(readFileSync(conceptsPath, 'utf8'));
const flatDir = join(here, 'node_modules', 'fluentui-emoji', 'icons', 'flat');
const d3Dir = join(here, 'node_modules', '@lobehub', 'fluent-emoji-3d', 'assets');
const flatFiles = new Set(readdirSync(flatDir));
const d3Files = new Map();
for (const f of readdirSync(d3Dir)) {
  if (f.endsWith('.webp')) d3Files.set(f.slice(0, -5).toUpperCase().replace(/-FE0F/g, ''), f);
}

// The package names files after the CLDR name (Microsoft's folder names), slugified.
export function slug(label) {
  return label
    .normalize('NFD')
    .replace(/[\u0300-\u036f]/g, '')
    .toLowerCase()
    .replace(/[’'‘]/g, '')
    .replace(/[^a-z0-9]+/g, '-')
    .replace(/^-|-$/g, '');
}
// The few CLDR labels whose Fluent file name differs only in spelling (checked by hand; everything else
// must match exactly, a guess could attach the wrong drawing to a concept).
const ALIASES = { 'keycap-#': 'keycap-hashtag', 'keycap-*': 'keycap-asterisk' };

function flatFile(label) {
  const special = label.replace(/^keycap: /, 'keycap-');
  if (ALIASES[special]) return `${ALIASES[special]}.svg`;
  const s = slug(label);
  for (const f of [`${s}.svg`, `${s}-default.svg`]) if (flatFiles.has(f)) return f;
  return null;
}

async function toRgb(input, options) {
  const { data, info } = await sharp(input, options)
    .resize(size, size, { fit: 'contain', kernel: 'lanczos3', background: { r: 255, g: 255, b: 255, alpha: 0 } })
    .flatten({ background: { r: 255, g: 255, b: 255 } })
    .removeAlpha()
    .raw()
    .toBuffer({ resolveWithObject: true });
  if (info.width !== size || info.height !== size || info.channels !== 3) throw new Error(`bad render ${JSON.stringify(info)}`);
  return data;
}

const plane = size * size * 3;
const out = Buffer.alloc(concepts.length * 2 * plane, 255);
const flat = [];
const d3 = [];
for (let i = 0; i < concepts.length; i++) {
  const { hexcode, label } = concepts[i];
  const f = flatFile(label);
  flat.push(f);
  if (f) {
    // viewBox 0 0 32 32: render the vector at the target size directly (density = 72 dpi * size / 32)
    const svg = readFileSync(join(flatDir, f));
    (await toRgb(svg, { density: (72 * size) / 32 })).copy(out, (2 * i) * plane);
  }
  const w = d3Files.get(hexcode) ?? null;
  d3.push(w);
  if (w) (await toRgb(join(d3Dir, w))).copy(out, (2 * i + 1) * plane);
}
writeFileSync(outPath, out);
const counts = { concepts: concepts.length, flat: flat.filter(Boolean).length, d3: d3.filter(Boolean).length };
console.log(JSON.stringify({ flat, d3, counts }));
