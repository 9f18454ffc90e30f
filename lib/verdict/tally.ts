/** How many attempts had each outcome. */
export interface Tally {
  total: number;
  counts: Readonly<Record<string, number>>;
}

export const EMPTY_TALLY: Tally = { total: 0, counts: {} };

export function tally(outcomes: Iterable<string>): Tally {
  const counts: Record<string, number> = {};
  let total = 0;
  for (const o of outcomes) {
    counts[o] = (counts[o] ?? 0) + 1;
    total++;
  }
  return { total, counts };
}

export function addTally(a: Tally, b: Tally): Tally {
  const counts: Record<string, number> = { ...a.counts };
  for (const [o, n] of Object.entries(b.counts)) counts[o] = (counts[o] ?? 0) + n;
  return { total: a.total + b.total, counts };
}

export function countOf(t: Tally, outcome: string): number {
  return t.counts[outcome] ?? 0;
}
