/**
 * Chinese and Japanese keyboards type full-width forms (`：：`, `，`, `－－`, full-width digits), and phones
 * turn `--` into a dash (`—ar`). NFKC folds the full-width forms onto ASCII; the dashes need their own rule
 * because `——` is also ordinary Chinese punctuation: only a dash right before a parameter name counts.
 */
export function normalizeSyntax(input: string): string {
  return input
    .normalize('NFKC')
    .replace(/(^|\s)(?:—{1,2}|–{1,2}|-—|—-)(?=[a-zA-Z])/g, '$1--')
    .replace(/[\r\n\t\u3000]/g, ' ');
}

/** Separators that may follow a weight or split a `--no` list: `,` and the ideographic comma `、`. */
export const LIST_SEPARATOR = /[,、]/;
