/**
 * "Did you mean" suggestions for misspelt names, keys and category values. Distances are counted
 * in code points, so a Chinese district name one character off ('锦江' for '锦江区') is distance 1.
 */

/** Optimal string alignment distance (Levenshtein plus adjacent transpositions). */
export function editDistance(a: string, b: string): number {
  const s = [...a];
  const t = [...b];
  if (s.length === 0) return t.length;
  if (t.length === 0) return s.length;
  // Three rolling rows: two back for transpositions, one back, current.
  let prev2: number[] = [];
  let prev: number[] = Array.from({ length: t.length + 1 }, (_, j) => j);
  for (let i = 1; i <= s.length; i++) {
    const cur: number[] = [i];
    for (let j = 1; j <= t.length; j++) {
      const cost = s[i - 1] === t[j - 1] ? 0 : 1;
      let d = Math.min((prev[j] ?? 0) + 1, (cur[j - 1] ?? 0) + 1, (prev[j - 1] ?? 0) + cost);
      if (i > 1 && j > 1 && s[i - 1] === t[j - 2] && s[i - 2] === t[j - 1]) {
        d = Math.min(d, (prev2[j - 2] ?? 0) + 1);
      }
      cur.push(d);
    }
    prev2 = prev;
    prev = cur;
  }
  return prev[t.length] ?? 0;
}

/**
 * Up to `limit` candidates closest to `input` (case-insensitive), best first, ties in candidate
 * order. Only candidates within a third of the longer length (at least 1, at most 3 edits) count,
 * so unrelated names are never suggested; a candidate containing the input (or contained in it)
 * also counts.
 */
export function closest(input: string, candidates: readonly string[], limit = 1): string[] {
  // Quadratic per candidate: a megabyte of hostile input must not cost a second.
  if (input.length > 256) return [];
  const needle = input.toLowerCase();
  const scored: { name: string; d: number; i: number }[] = [];
  candidates.forEach((name, i) => {
    const hay = name.toLowerCase();
    const d = editDistance(needle, hay);
    const longest = Math.max([...needle].length, [...hay].length);
    const budget = Math.min(3, Math.max(1, Math.floor(longest / 3)));
    const contains = needle.length > 0 && (hay.includes(needle) || needle.includes(hay));
    if (d <= budget || contains) scored.push({ name, d, i });
  });
  scored.sort((x, y) => x.d - y.d || x.i - y.i);
  return scored.slice(0, limit).map((s) => s.name);
}
