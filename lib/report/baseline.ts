/**
 * Compare a run with a baseline run, cell by cell (`suite/id`): status changes, and for cells whose
 * status held, outcomes whose 95% intervals no longer overlap.
 */
import { join } from 'node:path';
import { inputStat, readTextInput } from '../files.js';
import type { CellResult, CellStatus, RunResults } from '../scenario/result.js';
import { cellKey, oneLine, orderOutcomes, rateOf, rateText } from './cell-text.js';
import { parseResults } from './schema.js';

export type ChangeKind =
  'regression' | 'improvement' | 'status-change' | 'rate-change' | 'new' | 'missing' | 'skipped';

export interface Change {
  kind: ChangeKind;
  suite: string;
  id: string;
  title: string;
  /** Status in the baseline; absent for `new`. */
  before?: CellStatus;
  /** Status now; absent for `missing`. */
  after?: CellStatus;
  /** One line for humans. */
  detail: string;
}

export interface Comparison {
  /** In the current run's cell order, then missing cells in the baseline's order. */
  changes: Change[];
  regressions: number;
  improvements: number;
  /**
   * Cells in both runs whose implementation differs (`cni: emulated vpc-cni -> real vpc-cni
   * v1.23.2`): their comparison is between implementations, not between changes of one.
   */
  implementationChanges: { suite: string; id: string; detail: string }[];
}

/** `cni: emulated vpc-cni -> real vpc-cni v1.23.2`, or undefined when both ran alike (or one does not say). */
export function implementationChange(old: CellResult, cell: CellResult): string | undefined {
  const a = old.implementation?.cni;
  const b = cell.implementation?.cni;
  return a !== undefined && b !== undefined && a !== b ? `cni: ${a} -> ${b}` : undefined;
}

export function compareRuns(baseline: RunResults, current: RunResults): Comparison {
  const before = new Map(baseline.cells.map((c) => [cellKey(c), c]));
  const now = new Set(current.cells.map(cellKey));
  const selected = new Set(current.selection.suites);
  const grep = current.selection.grep !== undefined ? new RegExp(current.selection.grep) : undefined;
  const suiteTitles = new Map(current.suites.map((s) => [s.id, s.title]));
  // What `--grep` matched in the run: `<suite>: <suite title> <id>: <title> [tags]`.
  const grepped = (c: CellResult): boolean =>
    !grep ||
    grep.test(
      `${c.suite}: ${suiteTitles.get(c.suite) ?? ''} ${c.id}: ${c.title} ${c.tags.map((t) => `[${t}]`).join(' ')}`,
    );
  const changes: Change[] = [];
  for (const cell of current.cells) {
    const old = before.get(cellKey(cell));
    const change = old
      ? compareCell(old, cell)
      : changeOf('new', cell, { after: cell.status, detail: cell.reason });
    if (change) changes.push(change);
  }
  for (const old of baseline.cells) {
    if (now.has(cellKey(old)) || !selected.has(old.suite) || !grepped(old)) continue;
    const why = current.state === 'complete' ? 'not run' : `not run, the run is ${current.state}`;
    changes.push(
      changeOf('missing', old, { before: old.status, detail: `${why} (baseline: ${old.reason})` }),
    );
  }
  const implementationChanges = current.cells.flatMap((cell) => {
    const old = before.get(cellKey(cell));
    const detail = old && implementationChange(old, cell);
    return detail ? [{ suite: cell.suite, id: cell.id, detail }] : [];
  });
  return {
    changes,
    regressions: changes.filter((c) => c.kind === 'regression').length,
    improvements: changes.filter((c) => c.kind === 'improvement').length,
    implementationChanges,
  };
}

function compareCell(old: CellResult, cell: CellResult): Change | undefined {
  const statuses = { before: old.status, after: cell.status };
  const impl = implementationChange(old, cell);
  const note = impl ? ` (${impl})` : '';
  // Not run here (or not in the baseline): no verdict to compare, neither regression nor improvement.
  if ((old.status === 'skipped') !== (cell.status === 'skipped'))
    return changeOf('skipped', cell, {
      ...statuses,
      detail:
        cell.status === 'skipped' ? `skipped now: ${cell.reason}` : `skipped in the baseline: ${old.reason}`,
    });
  if (old.status !== cell.status) {
    const kind =
      old.status === 'pass' ? 'regression' : cell.status === 'pass' ? 'improvement' : 'status-change';
    return changeOf(kind, cell, { ...statuses, detail: cell.reason + note });
  }
  const shifted = rateShifts(old, cell);
  if (shifted.length === 0) return undefined;
  return changeOf('rate-change', cell, { ...statuses, detail: shifted.join('; ') + note });
}

/** Outcomes whose 95% intervals do not overlap, e.g. `timeout 2% [0.8%, 5%] -> 48% [41.2%, 54.9%]`. */
function rateShifts(old: CellResult, cell: CellResult): string[] {
  const outcomes = orderOutcomes([...Object.keys(old.rates), ...Object.keys(cell.rates)]);
  return outcomes.flatMap((o) => {
    const a = rateOf(old, o);
    const b = rateOf(cell, o);
    if (!a || !b || (a.high >= b.low && b.high >= a.low)) return [];
    return [`${o} ${rateText(a)} -> ${rateText(b)}`];
  });
}

function changeOf(
  kind: ChangeKind,
  cell: CellResult,
  rest: { before?: CellStatus; after?: CellStatus; detail: string },
): Change {
  return { kind, suite: cell.suite, id: cell.id, title: cell.title, ...rest, detail: oneLine(rest.detail) };
}

/** Most pressing first: how renderChanges orders its lines. */
const KIND_ORDER: readonly ChangeKind[] = [
  'regression',
  'status-change',
  'missing',
  'skipped',
  'rate-change',
  'new',
  'improvement',
];

/** One line per change, most pressing kinds first, aligned: `regression  eni-rp-filter/rp1  pass -> fail  ...`. */
export function renderChanges(changes: readonly Change[]): string[] {
  const sorted = [...changes].sort((a, b) => KIND_ORDER.indexOf(a.kind) - KIND_ORDER.indexOf(b.kind));
  const rows = sorted.map((c) => [
    c.kind,
    cellKey(c),
    `${c.before ?? '-'} -> ${c.after ?? '-'}`,
    `${c.title}: ${c.detail}`,
  ]);
  const widths = [0, 1, 2].map((i) => Math.max(...rows.map((r) => r[i]!.length)));
  return rows.map((r) => r.map((text, i) => (i < 3 ? text.padEnd(widths[i]!) : text)).join('  '));
}

/**
 * Why a comparison with `baseline` may reflect more than the change under test: the baseline was
 * made by another returnpath (version or commit) or on another kernel. One line each; none when
 * they match.
 */
export function provenanceWarnings(
  baseline: RunResults,
  current: NonNullable<RunResults['returnpath']>,
  kernel: string,
): string[] {
  const describe = (p: NonNullable<RunResults['returnpath']>): string =>
    `returnpath ${p.version} (commit ${p.commit ?? 'unknown'}${p.dirty ? ', uncommitted changes' : ''})`;
  const out: string[] = [];
  const b = baseline.returnpath;
  if (!b)
    out.push(
      `the baseline (run ${baseline.runId}) does not record which returnpath made it; this is ${describe(current)}: ` +
        'differences may come from returnpath itself',
    );
  else if (b.version !== current.version || b.commit !== current.commit)
    out.push(
      `the baseline (run ${baseline.runId}) was made by ${describe(b)}, this is ${describe(current)}: ` +
        'differences may come from returnpath itself',
    );
  if (baseline.host.kernel !== kernel)
    out.push(`the baseline ran on kernel ${baseline.host.kernel}, this run on ${kernel}`);
  return out;
}

/** Read results.json (or the results.json in a run directory); a ValidationError naming the path otherwise. */
export async function loadResults(path: string): Promise<RunResults> {
  const st = await inputStat(path, 'results file', { allowDirectory: true });
  const file = st.isDirectory() ? join(path, 'results.json') : path;
  return parseResults(await readTextInput(file, 'results file'), file);
}
