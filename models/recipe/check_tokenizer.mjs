// Checks that tokenizer/tokenizer.json, loaded by @huggingface/tokenizers, gives the same ids as the
// recipe's Python tokenizer on every caption fragment. Usage: node check_tokenizer.mjs <model dir> <cases.json>
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Tokenizer } from '@huggingface/tokenizers';

const [dir, casesPath] = process.argv.slice(2);
const tj = JSON.parse(readFileSync(join(dir, 'tokenizer', 'tokenizer.json'), 'utf8'));
const tc = JSON.parse(readFileSync(join(dir, 'tokenizer', 'tokenizer_config.json'), 'utf8'));
const tok = new Tokenizer(tj, tc);
const cases = JSON.parse(readFileSync(casesPath, 'utf8'));
let bad = 0;
for (const c of cases) {
  const ids = tok.encode(c.text).ids;
  if (JSON.stringify(ids) !== JSON.stringify(c.ids)) {
    if (bad < 10) console.error('mismatch', JSON.stringify(c.text), ids, c.ids);
    bad++;
  }
}
const unk = tj.model.vocab['[UNK]'];
const probes = {};
for (const p of ['北极熊', 'polar bear', '企鹅', '热带雨林', 'white', '白色', 'tropical', '热带', '']) {
  const e = tok.encode(p);
  probes[p] = { ids: e.ids, tokens: e.tokens, unk: e.ids.includes(unk) };
}
console.log(JSON.stringify({ cases: cases.length, mismatches: bad, probes }));
process.exit(bad === 0 && !Object.values(probes).some((p) => p.unk) ? 0 : 1);
