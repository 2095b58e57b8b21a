// The words the shipped model was trained on, for /describe: every concept of the recipe's data stage
// (the same selection as train.py's stage_data: no flags or components, art in both sets, captions in
// en and zh), with its CLDR label and tags from emojibase-data (MIT).
//   node models/recipe/vocabulary.mjs [model dir]   (after `npm ci --prefix models/recipe`)
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
const nm = join(here, 'node_modules');
const out = process.argv[2] ?? join(here, '..', 'emoji-ld');
const json = (path) => JSON.parse(readFileSync(join(nm, path), 'utf8'));
const norm = (hex) =>
  hex
    .toUpperCase()
    .split('-')
    .filter((part) => part !== 'FE0F')
    .join('-');

const google = json('emoji-datasource-google/emoji.json');
const byHex = (lang) => new Map(json(`emojibase-data/${lang}/data.json`).map((e) => [norm(e.hexcode), e]));
const en = byHex('en');
const zh = byHex('zh');
const art = (set, image) => join(nm, `emoji-datasource-${set}`, 'img', set, '64', image);

const concepts = [];
for (const e of [...google].sort((a, b) => a.sort_order - b.sort_order)) {
  if (e.category === 'Flags' || e.category === 'Component') continue;
  if (!e.has_img_google || !e.has_img_twitter) continue;
  if (!existsSync(art('google', e.image)) || !existsSync(art('twitter', e.image))) continue;
  const h = norm(e.unified);
  if (!en.has(h) || !zh.has(h)) continue;
  const text = (src) => {
    const label = src.get(h).label;
    return { label, tags: [...new Set(src.get(h).tags ?? [])].filter((t) => t !== label) };
  };
  concepts.push({ emoji: en.get(h).emoji, category: e.category, en: text(en), zh: text(zh) });
}
mkdirSync(join(out, 'describe'), { recursive: true });
writeFileSync(
  join(out, 'describe', 'vocabulary.json'),
  `${JSON.stringify({ source: 'emojibase-data (MIT): CLDR labels and tags of the training concepts', concepts })}\n`,
);
console.log(`${concepts.length} concepts -> ${join(out, 'describe', 'vocabulary.json')}`);
