/** "did you mean" hints for misspelt keys, words and names. */

/** Edit distance, to suggest "window" for "windw". */
function distance(a: string, b: string): number {
  const prev = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    let diag = prev[0]!;
    prev[0] = i;
    for (let j = 1; j <= b.length; j++) {
      const up = prev[j]!;
      prev[j] = Math.min(up + 1, prev[j - 1]! + 1, diag + (a[i - 1] === b[j - 1] ? 0 : 1));
      diag = up;
    }
  }
  return prev[b.length]!;
}

/** The longest candidate that starts the word ("comm" for "comm_typo"), or that the word starts. */
function prefixOf(word: string, candidates: readonly string[]): string | undefined {
  const w = word.toLowerCase();
  let best: string | undefined;
  for (const c of candidates) {
    const lc = c.toLowerCase();
    if (Math.min(lc.length, w.length) < 3 || !(w.startsWith(lc) || lc.startsWith(w))) continue;
    if (best === undefined || c.length > best.length) best = c;
  }
  return best;
}

/** ` (did you mean "x"? expected one of ...)`: the close candidate, when there is one, and the full list. */
export function suggest(word: string, candidates: readonly string[]): string {
  let best: string | undefined;
  let bestD = Infinity;
  for (const c of candidates) {
    const d = distance(word.toLowerCase(), c.toLowerCase());
    if (d < bestD) [best, bestD] = [c, d];
  }
  if (best === undefined || bestD > Math.max(1, Math.floor(word.length / 3))) best = prefixOf(word, candidates);
  const close = best !== undefined ? `did you mean "${best}"? ` : '';
  return ` (${close}expected one of ${candidates.join(', ')})`;
}
