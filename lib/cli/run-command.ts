/**
 * `returnpath run`: selects cells, runs the suites' mocha specs against a session that measures
 * the cells on a small pool of labs, writes test-results/RUN-ID/ as cells finish, prints progress
 * and a summary, and compares with a baseline run when asked.
 *
 * Exit codes: 0 every selected cell passed (with --baseline: no regression); 1 some cell did not
 * pass (with --baseline: some cell regressed); 2 bad input; 3 the lab cannot run here; 130 interrupted.
 */
import { availableParallelism, release } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import Mocha from 'mocha';
import { EnvironmentError } from '../errors.js';
import { labUnavailable } from '../lab/environment.js';
import { compareRuns, loadResults, renderChanges, renderSummary, ResultsWriter } from '../report/index.js';
import {
  cellKey,
  cellTags,
  describeCellExpect,
  mechanismOf,
  type CellSpec,
  type SuiteSpec,
} from '../scenario/cell.js';
import type { CellResult, RunResults } from '../scenario/result.js';
import { selectCells } from '../scenario/select.js';
import { describeMiss } from '../scenario/misses.js';
import { configureSession, Session, type SessionOptions } from '../scenario/session.js';
import { specFile } from '../../suites/catalog.js';
import { DYNAMIC_SPEC, setDynamicSuites } from '../scenario/dynamic.js';
import { loadSuites } from './suite-source.js';
import { intFlag, parseArgs, stringFlag } from './args.js';

const SUITES_DIR = fileURLToPath(new URL('../../suites/', import.meta.url));

export interface RunOptions {
  suites: readonly SuiteSpec[];
  suiteIds?: string[];
  grep?: string;
  concurrency: number;
  resultsRoot: string;
  runId?: string;
  baseline?: string;
  /** Swap how a cell runs (certification replays an image's sysctls). */
  session?: Pick<SessionOptions, 'run' | 'cellOptions'>;
  /** Spec files to load for a suite; default suites/<id>.spec.js. */
  specFor?: (suite: SuiteSpec) => string;
  log?: (line: string) => void;
}

export interface RunOutcome {
  results: RunResults;
  dir: string;
  exitCode: number;
}

export function newResultsRunId(now = new Date()): string {
  const stamp = now.toISOString().replace(/[-:]/g, '').replace('T', '-').slice(0, 15);
  return `${stamp}-${Math.random().toString(16).slice(2, 6)}`;
}

const STATUS = { pass: 'pass', fail: 'FAIL', inconclusive: 'INCONCLUSIVE', error: 'ERROR' } as const;

/** `connected 100%`, or the commonest other outcome: `timeout 33%`. */
function mainRate(r: CellResult): string {
  const failures = Object.entries(r.counts)
    .filter(([o]) => o !== 'connected')
    .sort((a, b) => b[1] - a[1]);
  const [outcome, count] = failures[0] ?? ['connected', r.counts['connected'] ?? 0];
  return r.attempts
    ? `${outcome} ${Math.round((count / r.attempts) * 100)}% of ${r.attempts}`
    : 'no attempts';
}

function progressLine(r: CellResult, n: number, total: number, elapsedMs: number): string {
  const width = String(total).length;
  return (
    `[${String(n).padStart(width)}/${total}] ${STATUS[r.status].padEnd(4)} ${r.suite}/${r.id}` +
    ` (${(r.durationMs / 1000).toFixed(1)} s, ${mainRate(r)}) elapsed ${(elapsedMs / 1000).toFixed(1)} s` +
    (r.status === 'pass' ? '' : `\n      ${r.reason}`) +
    (r.status !== 'pass' && r.misses?.[0]
      ? `\n      first missed attempt: ${describeMiss(r.misses[0])}${r.misses[0].evidence[0] ? `; ${r.misses[0].evidence[0]}` : ''}`
      : '')
  );
}

/** Silences mocha's own output: progress and the summary come from the session and the results. */
class QuietReporter extends Mocha.reporters.Base {}

export async function runSuites(opts: RunOptions): Promise<RunOutcome> {
  const log = opts.log ?? ((l: string) => console.log(l));
  const selected = selectCells(opts.suites, {
    ...(opts.suiteIds && { suites: opts.suiteIds }),
    ...(opts.grep !== undefined && { grep: opts.grep }),
  });
  const cells = selected.flatMap((s) => s.cells);
  if (cells.length === 0) throw new EnvironmentError('no cell matches the selection');
  const why = labUnavailable();
  if (why) throw new EnvironmentError(`the built-in lab cannot run here: ${why}`);
  const baseline = opts.baseline ? await loadResults(opts.baseline) : undefined;

  const runId = opts.runId ?? newResultsRunId();
  const dir = resolve(opts.resultsRoot, runId);
  const writer = await ResultsWriter.open(dir, {
    schema: 'returnpath/results/v1',
    runId,
    startedAt: new Date().toISOString(),
    host: { kernel: release(), node: process.version, platform: process.platform },
    selection: {
      suites: selected.map((s) => s.suite.id),
      ...(opts.grep !== undefined && { grep: opts.grep }),
    },
    suites: selected.map(({ suite }) => ({
      id: suite.id,
      title: suite.title,
      rows: suite.rows,
      columns: suite.columns,
    })),
    planned: cells.map((c) => ({
      suite: c.suite,
      id: c.id,
      title: c.title,
      configuration: c.configuration,
      pathWorks: c.pathWorks,
      ...(mechanismOf(c) && { mechanism: mechanismOf(c) }),
      ...(c.chaos && { chaos: true }),
    })),
  });
  log(
    `returnpath run ${runId}: ${cells.length} cells in ${selected.length} suites, ${opts.concurrency} at a time`,
  );
  log(`results: ${dir}`);

  const t0 = performance.now();
  let finished = 0;
  const sources = new Map(
    selected.map(({ suite }) => [suite.id, suite.source ?? { kind: 'builtin' as const }]),
  );
  const session = new Session({
    cells,
    concurrency: opts.concurrency,
    cellOptions: (cell) => ({ source: sources.get(cell.suite)! }),
    ...opts.session,
    onResult: async (r) => {
      await writer.add(r);
      log(progressLine(r, ++finished, cells.length, performance.now() - t0));
    },
  });
  configureSession(session);

  // First signal: start no more cells, let the ones in flight finish (their faults revert, their
  // labs come down), keep their results. Second signal: write what we have and leave at once.
  let stopping: Promise<void> | undefined;
  let runner: Mocha.Runner | undefined;
  const onSignal = (): void => {
    if (stopping) {
      writer.finishSync('interrupted');
      process.exit(130);
    }
    log('interrupted: finishing the cells in flight (again to abort; `returnpath lab clean` sweeps)');
    stopping = session.stop();
    runner?.abort();
  };
  process.on('SIGINT', onSignal).on('SIGTERM', onSignal);
  try {
    const mocha = new Mocha({ reporter: QuietReporter, timeout: 120_000 });
    if (opts.grep !== undefined) mocha.grep(new RegExp(opts.grep));
    for (const { suite } of selected)
      mocha.addFile(join(SUITES_DIR, opts.specFor?.(suite) ?? specFile(suite.id)));
    session.start();
    await mocha.loadFilesAsync();
    await new Promise<void>((done) => {
      runner = mocha.run(() => done());
    });
    mocha.dispose();
    if (!stopping) await session.drain();
    await stopping;
  } finally {
    process.off('SIGINT', onSignal).off('SIGTERM', onSignal);
    configureSession(undefined);
  }
  await writer.finish(stopping ? 'interrupted' : 'complete');
  const results = writer.snapshot();
  log('');
  log(renderSummary(results, { color: process.stdout.isTTY }));
  log(`report: ${join(dir, 'report.html')}`);
  log(`junit:  ${join(dir, 'junit.xml')}`);
  if (stopping) {
    log(`interrupted: kept ${results.cells.length} finished cells in ${dir}`);
    return { results, dir, exitCode: 130 };
  }
  let exitCode = results.totals.pass === results.cells.length ? 0 : 1;
  if (baseline) {
    const cmp = compareRuns(baseline, results);
    log('');
    log(`against baseline ${opts.baseline} (run ${baseline.runId}):`);
    const lines = renderChanges(cmp.changes);
    for (const l of lines.length ? lines : ['no cell changed verdict or rate']) log(`  ${l}`);
    log(`${cmp.regressions} regression(s), ${cmp.improvements} improvement(s)`);
    exitCode = cmp.regressions > 0 ? 1 : 0;
  }
  return { results, dir, exitCode };
}

function listCells(selected: { suite: SuiteSpec; cells: CellSpec[] }[]): void {
  for (const { suite, cells } of selected) {
    console.log(`${suite.id} (${cells.length} cells): ${suite.title}`);
    for (const c of cells) {
      console.log(
        `  ${cellKey(c)}  ${cellTags(c)
          .map((t) => `[${t}]`)
          .join(' ')}`,
      );
      console.log(`      ${c.title}`);
      console.log(`      expects: ${describeCellExpect(c.expect, c.chaos)}`);
    }
  }
  const n = selected.reduce((s, x) => s + x.cells.length, 0);
  console.log(`${n} cells`);
}

export const RUN_USAGE = `usage: returnpath run [--file SUITE.yaml] [--suite ID[,ID]] [--grep REGEX] [--list]
                      [--baseline OLD/results.json] [--concurrency N] [--results DIR] [--run-id ID]`;

export async function runCommand(argv: readonly string[]): Promise<number> {
  const a = parseArgs(
    argv,
    { values: ['file', 'suite', 'grep', 'baseline', 'concurrency', 'results', 'run-id'], booleans: ['list'] },
    'run',
  );
  const suiteIds = stringFlag(a, 'suite')
    ?.split(',')
    .map((s) => s.trim())
    .filter(Boolean);
  const grep = stringFlag(a, 'grep');
  // A suite file runs on its own, through the same engine, reports and baseline gate.
  const file = stringFlag(a, 'file');
  const suites = await loadSuites(file);
  if (a.flags.has('list')) {
    listCells(
      selectCells(suites, { ...(suiteIds && { suites: suiteIds }), ...(grep !== undefined && { grep }) }),
    );
    return 0;
  }
  const concurrency = intFlag(a, 'concurrency', 'run', 1, 16) ?? Math.min(2, availableParallelism());
  const baseline = stringFlag(a, 'baseline');
  const runId = stringFlag(a, 'run-id');
  if (file) setDynamicSuites(suites);
  try {
    const out = await runSuites({
      suites,
      ...(suiteIds && { suiteIds }),
      ...(grep !== undefined && { grep }),
      concurrency,
      resultsRoot: stringFlag(a, 'results') ?? 'test-results',
      ...(runId && { runId }),
      ...(baseline && { baseline }),
      ...(file && { specFor: () => DYNAMIC_SPEC }),
    });
    return out.exitCode;
  } finally {
    if (file) setDynamicSuites([]);
  }
}
