/** Text shared by the report renderers: outcome order, the main rate of a cell, counts and configuration. */
import type { CellResult, CellStatus, Configuration, RateSummary } from '../scenario/result.js';
import { percent } from '../verdict/expectation.js';
import { wilson } from '../verdict/wilson.js';

export const STATUSES: readonly CellStatus[] = ['pass', 'fail', 'inconclusive', 'error', 'skipped'];

/** Outcomes in the order people read them; others follow alphabetically. */
const OUTCOME_ORDER = ['connected', 'timeout', 'reset', 'refused', 'unreachable', 'other'];

export function orderOutcomes(outcomes: Iterable<string>): string[] {
  const rank = (o: string): number => {
    const i = OUTCOME_ORDER.indexOf(o);
    return i < 0 ? OUTCOME_ORDER.length : i;
  };
  return [...new Set(outcomes)].sort((a, b) => rank(a) - rank(b) || (a < b ? -1 : a > b ? 1 : 0));
}

/** Every outcome the cell counted or rated, in reading order. */
export function outcomesOf(cell: CellResult): string[] {
  return orderOutcomes([...Object.keys(cell.counts), ...Object.keys(cell.rates)]);
}

export { cellKey } from '../scenario/cell.js';

/** Tags as `[tag]` (kept as they are when already bracketed). */
export function tagText(tags: readonly string[]): string {
  return tags.map((t) => (t.startsWith('[') ? t : `[${t}]`)).join(' ');
}

export function titleWithTags(cell: Pick<CellResult, 'title' | 'tags'>): string {
  return cell.tags.length > 0 ? `${cell.title} ${tagText(cell.tags)}` : cell.title;
}

export function configText(config: Configuration): string {
  return Object.entries(config)
    .map(([k, v]) => `${k}=${String(v)}`)
    .join(' ');
}

/** `200 attempts: 198 connected, 2 timeout` */
export function countsText(cell: CellResult): string {
  const parts = outcomesOf(cell)
    .filter((o) => (cell.counts[o] ?? 0) > 0)
    .map((o) => `${cell.counts[o]} ${o}`);
  return `${cell.attempts} attempts${parts.length > 0 ? `: ${parts.join(', ')}` : ''}`;
}

/**
 * The outcome the expectation is about: the first outcome named in its first clause
 * (`all connected`, `no reset`, `timeout rate in [40%, 60%]`), else `connected`.
 */
export function mainOutcome(cell: CellResult): string {
  const known = new Set([...OUTCOME_ORDER, ...outcomesOf(cell)]);
  const clause = cell.expectation.split(';')[0] ?? '';
  const named = clause.match(/[A-Za-z][\w-]*/g)?.find((w) => known.has(w));
  return named ?? 'connected';
}

export interface MainRate {
  outcome: string;
  rate: RateSummary;
}

/** The main outcome's rate; an outcome never seen has rate 0 with the interval of 0 hits. */
export function mainRate(cell: CellResult): MainRate | undefined {
  const outcome = mainOutcome(cell);
  const rate = rateOf(cell, outcome);
  return rate && { outcome, rate };
}

/** The rate of an outcome; undefined without attempts. */
export function rateOf(cell: CellResult, outcome: string): RateSummary | undefined {
  const r = cell.rates[outcome];
  if (r) return r;
  if (cell.attempts <= 0) return undefined;
  return { count: 0, rate: 0, ...wilson(0, cell.attempts) };
}

/** `98.5% [96.2%, 99.4%]` */
export function rateText(r: RateSummary): string {
  return `${percent(r.rate)} ${intervalText(r)}`;
}

/** `[96.2%, 99.4%]` */
export function intervalText(r: RateSummary): string {
  return `[${percent(r.low)}, ${percent(r.high)}]`;
}

/** `1 cell`, `8 cells` */
export function plural(n: number, word: string): string {
  return `${n} ${word}${n === 1 ? '' : 's'}`;
}

export function seconds(ms: number): string {
  return (ms / 1000).toFixed(3);
}

export function countStatuses(cells: readonly CellResult[]): Record<CellStatus, number> {
  const totals: Record<CellStatus, number> = { pass: 0, fail: 0, inconclusive: 0, error: 0, skipped: 0 };
  for (const c of cells) totals[c.status]++;
  return totals;
}

/** The cells of one suite, in run order. */
export function cellsOf(cells: readonly CellResult[], suite: string): CellResult[] {
  return cells.filter((c) => c.suite === suite);
}

/** The reason, and for an error the first line of what broke (unless the reason says it already). */
export function statusReason(cell: CellResult): string {
  const broke = cell.error?.split('\n')[0]?.trim();
  return broke && !cell.reason.includes(broke) ? `${cell.reason}: ${broke}` : cell.reason;
}

/** Suite ids in report order: the declared suites, then suites only cells name (first seen). */
export function suiteOrder(suites: readonly { id: string }[], cells: readonly { suite: string }[]): string[] {
  return [...new Set([...suites.map((s) => s.id), ...cells.map((c) => c.suite)])];
}

/** Terminal colour and cursor sequences, which mean nothing in a report. */
// eslint-disable-next-line no-control-regex
const ANSI_SEQUENCE = /\x1b\[[0-9;?]*[ -/]*[@-~]/g;

/** Text without ANSI sequences and without control characters other than tab and newline. */
export function plainText(text: string): string {
  // eslint-disable-next-line no-control-regex
  return text.replace(ANSI_SEQUENCE, '').replace(/[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]/g, '');
}

/** One line: line breaks and runs of whitespace collapsed, control characters dropped. */
export function oneLine(text: string): string {
  return plainText(text).replace(/\s+/g, ' ').trim();
}
