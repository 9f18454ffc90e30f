/** The console summary of a run: a table of statuses per suite, then every cell that did not pass. */
import type { CellResult, CellStatus, RunResults } from '../scenario/result.js';
import {
  cellKey,
  cellsOf,
  countStatuses,
  oneLine,
  plural,
  statusReason,
  STATUSES,
  suiteOrder,
} from './cell-text.js';

export interface SummaryOptions {
  /** ANSI colours for the statuses; off by default. */
  color?: boolean;
}

const ANSI: Record<CellStatus, string> = {
  pass: '32',
  fail: '31',
  inconclusive: '33',
  error: '35',
  skipped: '36',
};

export function renderSummary(results: RunResults, opts: SummaryOptions = {}): string {
  // Zero counts stay plain: colour draws the eye to what happened.
  const paint = (status: CellStatus, text: string): string =>
    opts.color && text.trim() !== '0' ? `\x1b[${ANSI[status]}m${text}\x1b[0m` : text;

  // The skipped column only where cells could be skipped (a run on a cluster that skipped some).
  const shown = results.cells.some((c) => c.status === 'skipped')
    ? STATUSES
    : STATUSES.filter((s) => s !== 'skipped');
  const rows = suiteOrder(results.suites, results.cells).map((s) =>
    statusRow(s, cellsOf(results.cells, s), shown),
  );
  rows.push(statusRow('total', results.cells, shown));
  const header = ['suite', 'cells', ...shown];
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
  const line = (cells: string[], colored: boolean): string =>
    cells
      .map((text, i) => {
        const padded = i === 0 ? text.padEnd(widths[i]!) : text.padStart(widths[i]!);
        return colored && i >= 2 ? paint(shown[i - 2]!, padded) : padded;
      })
      .join('  ')
      .trimEnd();

  const out = [
    `run ${results.runId}: ${results.state}, ${plural(results.cells.length, 'cell')}`,
    '',
    line(header, false),
    ...rows.map((r) => line(r, true)),
  ];
  const failing = results.cells.filter((c) => c.status !== 'pass' && c.status !== 'skipped');
  const skipped = results.cells.filter((c) => c.status === 'skipped');
  if (failing.length > 0) {
    const keyWidth = Math.max(...failing.map((c) => cellKey(c).length));
    const statusWidth = Math.max(...failing.map((c) => c.status.length));
    out.push('', 'not passing:');
    for (const c of failing) {
      const status = paint(c.status, c.status.padEnd(statusWidth));
      out.push(`  ${cellKey(c).padEnd(keyWidth)}  ${status}  ${oneLine(statusReason(c))}`.trimEnd());
    }
  }
  if (skipped.length > 0) {
    const keyWidth = Math.max(...skipped.map((c) => cellKey(c).length));
    out.push('', 'skipped (could not run here):');
    for (const c of skipped) out.push(`  ${cellKey(c).padEnd(keyWidth)}  ${oneLine(c.reason)}`.trimEnd());
  }
  return out.join('\n') + '\n';
}

function statusRow(name: string, cells: readonly CellResult[], shown: readonly CellStatus[]): string[] {
  const totals = countStatuses(cells);
  return [name, String(cells.length), ...shown.map((s) => String(totals[s]))];
}
