export interface BannedWordMatch {
  /** The rule as the admin wrote it. */
  word: string;
  /** What the prompt actually contained (its own case and width). */
  found: string;
}

// Chinese and Japanese are written without spaces, so "whole word" cannot mean anything there: a
// banned term in those scripts matches wherever its characters appear in sequence.
const UNSPACED_SCRIPT = /[\p{Script=Han}\p{Script=Hiragana}\p{Script=Katakana}]/u;

/** Folds case and width: `ＧＯＲＥ`, `Gore` and `gore` are one word. */
export function foldForMatching(text: string): string {
  return text.normalize('NFKC').toLowerCase();
}

function escapeRegExp(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

/** One compiled matcher per banned word: whole-word for spaced scripts, substring for Han/kana. */
export function compileBannedWords(words: readonly string[]): Array<{ word: string; pattern: RegExp }> {
  return words
    .map((word) => ({ word, folded: foldForMatching(word).trim() }))
    .filter(({ folded }) => folded.length > 0)
    .map(({ word, folded }) => {
      const body = folded.split(/\s+/).map(escapeRegExp).join('\\s+');
      const source = UNSPACED_SCRIPT.test(folded)
        ? body
        : `(?<![\\p{L}\\p{N}\\p{M}])${body}(?![\\p{L}\\p{N}\\p{M}])`;
      return { word, pattern: new RegExp(source, 'u') };
    });
}

/** Every banned word found in any of the texts, each reported once with the text that matched it. */
export function findBannedWords(texts: readonly string[], words: readonly string[]): BannedWordMatch[] {
  const matches: BannedWordMatch[] = [];
  for (const { word, pattern } of compileBannedWords(words)) {
    for (const text of texts) {
      const folded = foldForMatching(text);
      const hit = pattern.exec(folded);
      if (!hit) continue;
      // Folding keeps lengths for the text the parser hands over (already NFKC), so the same span
      // of the original shows what the user typed; otherwise show the folded form.
      const found = folded.length === text.length ? text.slice(hit.index, hit.index + hit[0].length) : hit[0];
      matches.push({ word, found });
      break;
    }
  }
  return matches;
}
