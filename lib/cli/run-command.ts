/**
 * `returnpath run`: selects cells, runs the suites' mocha specs against a session that measures
 * the cells on a small pool of labs, writes test-results/RUN-ID/ as cells finish, prints progress
 * and a summary, and compares with a baseline run when asked.
 *
 * Exit codes: 0 every selected cell passed (with --baseline: no regression); 1 some cell did not
 * pass (with --baseline: some cell regressed); 2 bad input; 3 the lab cannot run here; 130 interrupted.
 */
import { mkdir, writeFile } from 'node:fs/promises';
import { availableParallelism, release } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import Mocha from 'mocha';
import { stringify as stringifyYaml } from 'yaml';
import { EnvironmentError } from '../errors.js';
import { labUnavailable } from '../lab/environment.js';
import { compareRuns, loadResults, renderChanges, renderSummary, ResultsWriter } from '../report/index.js';
import { cellKey, cellTags, describeCellExpect, type CellSpec, type SuiteSpec } from '../scenario/cell.js';
import type { CellResult, RunResults } from '../scenario/result.js';
import { selectCells } from '../scenario/select.js';
import { configureSession, Session, type SessionOptions } from '../scenario/session.js';
import { SUITES, specFile } from '../../suites/catalog.js';
import { intFlag, parseArgs, stringFlag } from './args.js';
import { applyCniChoice, cniChoice } from './cni-flags.js';
import type { CniChoice } from '../scenario/implementation.js';

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
  /** `--cni real` / `--cni-bin DIR`: VPC CNI cells run with the real plugin. */
  cni?: CniChoice;
  /** Flags to repeat in each cell's `returnpath run` reproduce line. */
  runFlags?: string;
  log?: (line: string) => void;
}

export interface RunOutcome {
  results: RunResults;
  dir: string;
  exitCode: number;
}

function newRunId(now = new Date()): string {
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
    (r.status === 'pass' ? '' : `\n      ${r.reason}`)
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
  if (selected.every((s) => s.cells.length === 0))
    throw new EnvironmentError('no cell matches the selection');
  const applied = await applyCniChoice(
    selected.flatMap((s) => s.cells),
    opts.cni,
  );
  const cells = applied.cells;
  const why = labUnavailable();
  if (why) throw new EnvironmentError(`the built-in lab cannot run here: ${why}`);
  const baseline = opts.baseline ? await loadResults(opts.baseline) : undefined;

  const runId = opts.runId ?? newRunId();
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
  });
  log(
    `returnpath run ${runId}: ${cells.length} cells in ${selected.length} suites, ${opts.concurrency} at a time`,
  );
  log(`results: ${dir}`);
  if (applied.line) log(applied.line);

  const t0 = performance.now();
  let finished = 0;
  const topologies = join(dir, 'topologies');
  await mkdir(topologies, { recursive: true });
  const session = new Session({
    cells,
    concurrency: opts.concurrency,
    cellOptions: () => ({
      ...(opts.runFlags && { runFlags: opts.runFlags }),
      saveTopology: async (cell) => {
        const file = join(topologies, `${cell.suite}.${cell.id}.yaml`);
        await writeFile(file, stringifyYaml(cell.topology));
        return file;
      },
    }),
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
    const impl = [...new Set(cmp.implementationChanges.map((c) => c.detail))];
    if (impl.length > 0)
      log(
        `${cmp.implementationChanges.length} cell(s) ran with another implementation than in the baseline: ${impl.join('; ')}`,
      );
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

export const RUN_USAGE = `usage: returnpath run [--suite ID[,ID]] [--grep REGEX] [--list] [--baseline OLD/results.json]
                      [--concurrency N] [--results DIR] [--run-id ID] [--cni emulated|real] [--cni-bin DIR]`;

export async function runCommand(argv: readonly string[]): Promise<number> {
  const a = parseArgs(
    argv,
    {
      values: ['suite', 'grep', 'baseline', 'concurrency', 'results', 'run-id', 'cni', 'cni-bin'],
      booleans: ['list'],
    },
    'run',
  );
  const suiteIds = stringFlag(a, 'suite')
    ?.split(',')
    .map((s) => s.trim())
    .filter(Boolean);
  const grep = stringFlag(a, 'grep');
  if (a.flags.has('list')) {
    listCells(
      selectCells(SUITES, { ...(suiteIds && { suites: suiteIds }), ...(grep !== undefined && { grep }) }),
    );
    return 0;
  }
  const cni = await cniChoice(stringFlag(a, 'cni'), stringFlag(a, 'cni-bin'));
  const concurrency = intFlag(a, 'concurrency', 'run', 1, 16) ?? Math.min(2, availableParallelism());
  const baseline = stringFlag(a, 'baseline');
  const runId = stringFlag(a, 'run-id');
  const out = await runSuites({
    suites: SUITES,
    ...(suiteIds && { suiteIds }),
    ...(grep !== undefined && { grep }),
    concurrency,
    resultsRoot: stringFlag(a, 'results') ?? 'test-results',
    ...(runId && { runId }),
    ...(baseline && { baseline }),
    ...(cni && { cni, runFlags: cni.builds ? `--cni-bin ${Object.values(cni.builds)[0]}` : '--cni real' }),
  });
  return out.exitCode;
}
