/**
 * `returnpath run`: selects cells, runs the suites' mocha specs against a session that measures
 * the cells on a small pool of labs, writes test-results/RUN-ID/ as cells finish, prints progress
 * and a summary, and compares with a baseline run when asked.
 *
 * Exit codes: 0 every selected cell passed (with --baseline: no regression); 1 some cell did not
 * pass (with --baseline: some cell regressed); 2 bad input; 3 the lab cannot run here; 130 interrupted.
 */
import { mkdir, rm, stat } from 'node:fs/promises';
import { availableParallelism, release } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { EnvironmentError, ValidationError } from '../errors.js';
import { signalChildren } from '../exec/children.js';
import { prepareOutputDirectory, writeProblem } from '../files.js';
import { labUnavailable } from '../lab/environment.js';
import {
  compareRuns,
  loadResults,
  provenanceWarnings,
  renderChanges,
  renderSummary,
  ResultsWriter,
} from '../report/index.js';
import { provenanceRecord } from '../version.js';
import {
  cellKey,
  cellTags,
  describeCellExpect,
  mechanismOf,
  type CellSpec,
  type SuiteSpec,
} from '../scenario/cell.js';
import type { CellResult, RunResults } from '../scenario/result.js';
import type { CellSource } from '../scenario/reproduce.js';
import { selectCells } from '../scenario/select.js';
import { describeMiss } from '../scenario/misses.js';
import { configureSession, Session, type SessionOptions } from '../scenario/session.js';
import { SUITES, specFile } from '../../suites/catalog.js';
import { DYNAMIC_SPEC, setDynamicSuites } from '../scenario/dynamic.js';
import { loadSuites } from './suite-source.js';
import { UsageError, type Args, type CommandDecl } from './command.js';
import { applyCniChoice, cniChoice, cniFlags } from './cni-flags.js';
import type { CniChoice } from '../scenario/implementation.js';
import { KubeEnvironment } from '../kube/environment.js';
import { openClusterBackend } from '../cluster/backend.js';
import { KIND_CNI, KindRun } from '../kind/kind-run.js';
import { privateToolchain } from '../kind/toolchain.js';
import type { KubeProxyChoice } from '../kube-proxy/implementation.js';

const SUITES_DIR = fileURLToPath(new URL('../../suites/', import.meta.url));

export interface RunOptions {
  suites: readonly SuiteSpec[];
  suiteIds?: string[];
  grep?: string;
  concurrency: number;
  resultsRoot: string;
  runId?: string;
  /** Replace the results of an earlier run with the same `runId` (otherwise refused). */
  force?: boolean;
  baseline?: string;
  /** Swap how a cell runs (certification replays an image's sysctls). */
  session?: Pick<SessionOptions, 'run' | 'cellOptions'>;
  /** Cells with Services run on this real Kubernetes (`--kube-proxy real`); closed by the caller. */
  kube?: KubeEnvironment;
  /** Called with the run's directory once it is claimed, before any cell runs. */
  prepare?: (dir: string) => Promise<void>;
  /** Spec files to load for a suite; default suites/<id>.spec.js. */
  specFor?: (suite: SuiteSpec) => string;
  /** `--cni real` / `--cni-bin DIR`: VPC CNI cells run with the real plugin. */
  cni?: CniChoice;
  /** VPC CNI flags to repeat in each cell's reproduce lines (`--cni real`, `--cni-bin DIR`). */
  cniFlags?: readonly string[];
  /** The cells run on a cluster (session.run): the lab is not needed here. */
  onCluster?: boolean;
  /** The order the cells run in (default: as selected); `run --kind` runs a test bed's cells together. */
  order?: (cells: readonly CellSpec[]) => CellSpec[];
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

const STATUS = {
  pass: 'pass',
  fail: 'FAIL',
  inconclusive: 'INCONCLUSIVE',
  error: 'ERROR',
  skipped: 'skip',
} as const;

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

export async function runSuites(opts: RunOptions): Promise<RunOutcome> {
  const log = opts.log ?? ((l: string) => console.log(l));
  const selected = selectCells(opts.suites, {
    ...(opts.suiteIds && { suites: opts.suiteIds }),
    ...(opts.grep !== undefined && { grep: opts.grep }),
  });
  if (selected.every((s) => s.cells.length === 0)) throw noCellMatches(opts.suiteIds, opts.grep);
  if (opts.runId !== undefined) checkRunId(opts.runId);
  const baseline = opts.baseline ? await loadResults(opts.baseline) : undefined;
  if (baseline)
    for (const w of provenanceWarnings(baseline, provenanceRecord(), release())) log(`warning: ${w}`);
  if (opts.runId !== undefined && !opts.force) await refuseUsedRunId(opts.resultsRoot, opts.runId);
  const applied = await applyCniChoice(
    selected.flatMap((s) => s.cells),
    opts.cni,
  );
  const cells = applied.cells;
  const why = opts.onCluster ? undefined : labUnavailable();
  if (why) throw new EnvironmentError(`the built-in lab cannot run here: ${why}`);

  const runId = opts.runId ?? newResultsRunId();
  const dir = await claimRunDirectory(opts.resultsRoot, runId, opts.force ?? false);
  await opts.prepare?.(dir);
  const writer = await ResultsWriter.open(dir, {
    schema: 'returnpath/results/v1',
    runId,
    startedAt: new Date().toISOString(),
    host: { kernel: release(), node: process.version, platform: process.platform },
    returnpath: provenanceRecord(),
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
  if (applied.line) log(applied.line);

  const t0 = performance.now();
  let finished = 0;
  const sources = new Map(
    selected.map(({ suite }) => [suite.id, suite.source ?? { kind: 'builtin' as const }]),
  );
  const session = new Session({
    cells: opts.order ? opts.order(cells) : cells,
    concurrency: opts.concurrency,
    ...(opts.kube && { kube: opts.kube }),
    cellOptions: (cell) => ({
      source: sources.get(cell.suite)!,
      ...(opts.cniFlags && { cniFlags: opts.cniFlags }),
      ...(opts.kube && { kube: opts.kube }),
    }),
    ...opts.session,
    onResult: async (r) => {
      await writer.add(r);
      log(progressLine(r, ++finished, cells.length, performance.now() - t0));
    },
  });
  configureSession(session);

  // First signal: start no more cells, let the ones in flight finish (their faults revert, their
  // labs come down), keep their results. Their workers and commands run in their own process
  // groups (lib/exec/children.ts), so a Ctrl-C to the terminal's group reaches only this process.
  // Second signal: write what we have, stop our processes and leave at once (`lab clean` sweeps).
  let stopping: Promise<void> | undefined;
  let runner: { abort(): unknown } | undefined;
  const onSignal = (): void => {
    if (stopping) {
      writer.finishSync('interrupted');
      signalChildren('SIGTERM');
      process.exit(130);
    }
    log('interrupted: finishing the cells in flight (again to abort; `returnpath lab clean` sweeps)');
    stopping = session.stop();
    runner?.abort();
  };
  process.on('SIGINT', onSignal).on('SIGTERM', onSignal);
  try {
    // mocha (a runtime dependency: the suites are mocha specs) is loaded only by the commands that
    // run suites, so the rest of the CLI starts without it.
    const { default: Mocha } = await import('mocha');
    /** Silences mocha's own output: progress and the summary come from the session and the results. */
    class QuietReporter extends Mocha.reporters.Base {}
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
  // A skipped cell is no failure: the summary lists it with its reason.
  let exitCode = results.totals.pass + results.totals.skipped === results.cells.length ? 0 : 1;
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

/** The selection matched nothing: bad input (exit 2), naming what was asked for. */
export function noCellMatches(suites?: readonly string[], grep?: string): ValidationError {
  return new ValidationError('returnpath run', [
    {
      path: grep !== undefined ? '--grep' : '--suite',
      value: grep ?? suites?.join(',') ?? '(all)',
      message:
        `matches no cell${grep !== undefined && suites?.length ? ` of suite(s) ${suites.join(', ')}` : ''}; ` +
        '`returnpath run --list` lists every cell with the title --grep matches against',
    },
  ]);
}

/** A results run id names a directory: letters, digits, `.`, `_`, `-`; no path separators. */
export const RESULTS_RUN_ID = /^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/;

function checkRunId(id: string): void {
  if (!RESULTS_RUN_ID.test(id))
    throw new ValidationError('returnpath run', [
      {
        path: '--run-id',
        value: id,
        message: 'must be 1-64 letters, digits, ".", "_" or "-", starting with a letter or digit',
      },
    ]);
}

function runIdInUse(dir: string, runId: string, earlier: boolean): ValidationError {
  return new ValidationError('returnpath run', [
    {
      path: '--run-id',
      value: runId,
      message: earlier
        ? `is in use: ${dir} holds an earlier run's results; choose another --run-id, or add --force to replace them`
        : `is in use: ${dir} exists and is not a returnpath run directory; choose another --run-id`,
    },
  ]);
}

/** Before any work: an earlier run of this id is refused (its results are never overwritten by accident). */
async function refuseUsedRunId(root: string, runId: string): Promise<void> {
  const dir = resolve(root, runId);
  if (await stat(dir).catch(() => undefined))
    throw runIdInUse(
      dir,
      runId,
      (await stat(join(dir, 'results.json')).catch(() => undefined)) !== undefined,
    );
}

/**
 * Creates the run's directory, exclusively (two runs started with one id: the second is refused).
 * With `force`, an earlier returnpath run directory of that id is replaced.
 */
async function claimRunDirectory(root: string, runId: string, force: boolean): Promise<string> {
  await prepareOutputDirectory(root, 'results directory (--results)');
  const dir = resolve(root, runId);
  const made = await mkdir(dir).then(
    () => true,
    (e: NodeJS.ErrnoException) => {
      if (e.code === 'EEXIST') return false;
      throw writeProblem(dir, 'run directory', e);
    },
  );
  if (made) return dir;
  const earlier = (await stat(join(dir, 'results.json')).catch(() => undefined)) !== undefined;
  if (!force || !earlier) throw runIdInUse(dir, runId, earlier);
  await rm(dir, { recursive: true, force: true });
  await mkdir(dir);
  return dir;
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

export const runDecl: CommandDecl = {
  name: 'run',
  summary:
    'run the conformance suites on the built-in lab (as root); results in test-results/RUN-ID/ ' +
    '(results.json, junit.xml, report.html)',
  options: [
    {
      name: 'file',
      value: 'SUITE.yaml',
      help: 'run the suite of a suite file (kind: Suite; schemas/suite.schema.json) instead of the built-in ones',
    },
    {
      name: 'suite',
      value: 'ID[,ID]',
      help: `suites to run (default: all): ${SUITES.map((s) => s.id).join(', ')}`,
    },
    {
      name: 'grep',
      value: 'RE',
      help: 'cells whose `<suite>: <suite title> <cell>: <title> [tags]` matches the regular expression',
    },
    { name: 'list', help: 'print the selected cells with their tags and expectations; run nothing' },
    {
      name: 'baseline',
      value: 'OLD/results.json',
      help: 'compare with an earlier run: exit 1 only when a cell that passed there no longer does',
    },
    { name: 'concurrency', value: 'N', help: 'cells in flight at once, 1 to 16 (default: 2)' },
    { name: 'results', value: 'DIR', help: 'where the run directory is written (default: test-results)' },
    {
      name: 'run-id',
      value: 'ID',
      help: "the run directory's name (default: a timestamp); refused when it exists",
    },
    { name: 'force', help: "with --run-id: replace an earlier run's results of that id" },
    {
      name: 'cni',
      value: 'IMPL',
      choices: ['emulated', 'real'],
      help: 'real: VPC CNI cells run the real plugin of their generation; other profiles stay emulated',
    },
    {
      name: 'cni-bin',
      value: 'DIR',
      help: 'your own VPC CNI build (components build vpc-cni --source ... --out DIR); implies --cni real',
    },
    {
      name: 'kube-proxy',
      value: 'IMPL',
      choices: ['emulated', 'real'],
      help: 'real: cells with Services run on a real control plane with the real kube-proxy (default: emulated)',
    },
    {
      name: 'kube-proxy-mode',
      value: 'MODE',
      choices: ['iptables', 'nftables'],
      help: "the real kube-proxy's mode, with --kube-proxy real or --kind (default: iptables, as EKS)",
    },
    {
      name: 'kind',
      help:
        "run on kind clusters returnpath makes and removes (one per group of cells sharing their nodes): kind's " +
        "kubelet, containerd and kube-proxy, the real VPC CNI, nodes joined to the lab's VPC and NLBs; one cell at a time",
    },
    {
      name: 'kubeconfig',
      value: 'FILE',
      help: "run on that cluster through its API (pods, Services with the AWS LBC's annotations); one cell at a time",
    },
    {
      name: 'context',
      value: 'NAME',
      help: "with --kubeconfig: the kubeconfig's context (default: its current one)",
    },
    {
      name: 'namespace',
      value: 'NS',
      help: 'with --kubeconfig: the namespace the run creates (default: rp-RUN-ID)',
    },
    {
      name: 'cluster-topology',
      value: 'FILE',
      help: "with --kubeconfig: a topology describing the cluster (nodes' CNI and sysctls, kube-proxy, VPC, NLB placements)",
    },
  ],
  run: runCommand,
};

/** What a lab run and a cluster run pass alike: the suites, the selection, the baseline, --force. */
function sharedRunOptions(
  a: Args,
  suites: readonly SuiteSpec[],
  file: string | undefined,
): Pick<RunOptions, 'suites' | 'suiteIds' | 'grep' | 'force' | 'baseline' | 'specFor'> {
  const suiteIds = a.list('suite');
  const grep = a.string('grep');
  const baseline = a.string('baseline');
  return {
    suites,
    ...(suiteIds && { suiteIds }),
    ...(grep !== undefined && { grep }),
    ...(a.flag('force') && { force: true }),
    ...(baseline && { baseline }),
    ...(file && { specFor: () => DYNAMIC_SPEC }),
  };
}

export async function runCommand(a: Args): Promise<number> {
  const suiteIds = a.list('suite');
  const grep = a.string('grep');
  // A suite file runs on its own, through the same engine, reports and baseline gate.
  const file = a.string('file');
  const suites = await loadSuites(file);
  if (a.flag('list')) {
    const selected = selectCells(suites, {
      ...(suiteIds && { suites: suiteIds }),
      ...(grep !== undefined && { grep }),
    });
    if (selected.length === 0) throw noCellMatches(suiteIds, grep);
    listCells(selected);
    return 0;
  }
  const kubeconfig = a.string('kubeconfig');
  if (a.flag('kind')) {
    if (kubeconfig !== undefined)
      throw new UsageError(
        'run',
        '--kubeconfig',
        'with --kind the cluster is the one returnpath makes: drop one of them',
      );
    return runOnKind(a, suites, file);
  }
  if (kubeconfig === undefined) {
    for (const o of ['context', 'namespace', 'cluster-topology'])
      if (a.string(o) !== undefined)
        throw new UsageError(
          'run',
          `--${o} ${a.string(o)}`,
          'applies to a cluster run: add --kubeconfig FILE',
        );
  } else return runOnCluster(a, kubeconfig, suites, file);
  const cni = await cniChoice(a.string('cni'), a.string('cni-bin'));
  const concurrency = a.int('concurrency', 1, 16) ?? Math.min(2, availableParallelism());
  const runId = a.string('run-id');
  const kubeProxy = kubeProxyChoice(a.string('kube-proxy'), a.string('kube-proxy-mode'));
  const kube =
    kubeProxy.implementation === 'real'
      ? new KubeEnvironment({ slots: concurrency, mode: kubeProxy.mode, log: (l) => console.log(l) })
      : undefined;
  if (kube) await kube.binaries(); // exit 3 with the build command before anything runs
  if (file) setDynamicSuites(suites);
  try {
    const out = await runSuites({
      ...sharedRunOptions(a, suites, file),
      concurrency,
      resultsRoot: a.string('results') ?? 'test-results',
      ...(runId && { runId }),
      ...(kube && { kube }),
      ...(cni && { cni, cniFlags: cniFlags(cni) }),
    });
    return out.exitCode;
  } finally {
    if (file) setDynamicSuites([]);
    await kube?.close();
  }
}

/** `run --kubeconfig FILE`: the cells run on that cluster, through its API (lib/cluster). */
async function runOnCluster(
  a: Args,
  kubeconfig: string,
  suites: readonly SuiteSpec[],
  file: string | undefined,
): Promise<number> {
  // Checked before anything is created: a bad selection or a used run id is input, not a cluster error.
  const { runId, resultsRoot } = await clusterRunInput(
    a,
    suites,
    ['cni', 'cni-bin', 'kube-proxy', 'kube-proxy-mode'],
    'a cluster runs its own CNI and kube-proxy: drop it with --kubeconfig',
  );
  const context = a.string('context');
  const namespace = a.string('namespace');
  const clusterTopology = a.string('cluster-topology');
  const backend = await openClusterBackend({
    kubeconfig,
    ...(context && { context }),
    ...(namespace && { namespace }),
    ...(clusterTopology && { clusterTopology }),
    // The results' run id names the run's namespace (rp-RUN-ID) and labels everything it creates.
    run: runId,
    log: (l) => console.log(l),
  });
  console.log(backend.describe);
  return runOneAtATime(a, suites, file, {
    resultsRoot,
    runId,
    run: (cell, source) => backend.run(cell, source),
    close: () => backend.close(),
  });
}

/** A cluster run's cells, one at a time through `run`; `close` whatever happens. */
async function runOneAtATime(
  a: Args,
  suites: readonly SuiteSpec[],
  file: string | undefined,
  o: {
    resultsRoot: string;
    runId: string;
    run: (cell: CellSpec, source: CellSource | undefined) => Promise<CellResult>;
    order?: (cells: readonly CellSpec[]) => CellSpec[];
    close: () => Promise<void>;
  },
): Promise<number> {
  if (file) setDynamicSuites(suites);
  try {
    const out = await runSuites({
      ...sharedRunOptions(a, suites, file),
      concurrency: 1,
      resultsRoot: o.resultsRoot,
      runId: o.runId,
      onCluster: true,
      session: { run: (cell, opts) => o.run(cell, opts.source) },
      ...(o.order && { order: o.order }),
    });
    return out.exitCode;
  } finally {
    if (file) setDynamicSuites([]);
    await o.close();
  }
}

/**
 * The checks a cluster run makes of its input before anything is created: one cell at a time, a
 * selection that matches, a results run id not in use. Returns the selection's run id and results root.
 */
async function clusterRunInput(
  a: Args,
  suites: readonly SuiteSpec[],
  refused: readonly string[],
  why: string,
): Promise<{ runId: string; resultsRoot: string; selected: CellSpec[] }> {
  for (const o of refused)
    if (a.string(o) !== undefined) throw new UsageError('run', `--${o} ${a.string(o)}`, why);
  const concurrency = a.int('concurrency', 1, 16);
  if (concurrency !== undefined && concurrency !== 1)
    throw new UsageError(
      'run',
      `--concurrency ${concurrency}`,
      'a cluster run takes one cell at a time (its pods share the nodes)',
    );
  const suiteIds = a.list('suite');
  const grep = a.string('grep');
  const runId = a.string('run-id') ?? newResultsRunId();
  const selected = selectCells(suites, {
    ...(suiteIds && { suites: suiteIds }),
    ...(grep !== undefined && { grep }),
  });
  if (selected.every((s) => s.cells.length === 0)) throw noCellMatches(suiteIds, grep);
  const resultsRoot = a.string('results') ?? 'test-results';
  if (!a.flag('force')) await refuseUsedRunId(resultsRoot, runId);
  return { runId, resultsRoot, selected: selected.flatMap((s) => s.cells) };
}

/**
 * `run --kind`: the cells on kind clusters returnpath makes (lib/kind/kind-run.ts), through the
 * kubeconfig backend; the kind components and the real VPC CNI must be built (exit 3 otherwise).
 */
async function runOnKind(a: Args, suites: readonly SuiteSpec[], file: string | undefined): Promise<number> {
  const { runId, resultsRoot, selected } = await clusterRunInput(
    a,
    suites,
    ['cni', 'cni-bin', 'kube-proxy', 'context', 'namespace', 'cluster-topology'],
    "a kind run makes its own clusters: kind's kube-proxy, the real VPC CNI, the lab's VPC (drop it with --kind)",
  );
  const mode = a.string('kube-proxy-mode') === 'nftables' ? 'nftables' : 'iptables';
  // Exit 3 with the build commands before anything is made.
  await privateToolchain();
  await applyCniChoice(selected, KIND_CNI);
  const kind = new KindRun({ run: runId, cells: selected, mode, log: (l) => console.log(l) });
  console.log(
    `--kind: ${selected.length} cells on ${kind.clusters} kind cluster(s) made one after another ` +
      `(kube-proxy ${mode}, the real VPC CNI); each is removed when its cells are done`,
  );
  return runOneAtATime(a, suites, file, {
    resultsRoot,
    runId,
    run: (cell, source) => kind.run(cell, source),
    // Each kind cluster is made once: its cells run together.
    order: (cells) => kind.order(cells),
    close: () => kind.close(),
  });
}

/** `--kube-proxy emulated|real` and `--kube-proxy-mode iptables|nftables` (the real one's mode). */
export function kubeProxyChoice(
  implementation: string | undefined,
  mode: string | undefined,
): KubeProxyChoice {
  if (mode !== undefined && implementation !== 'real')
    throw new UsageError(
      'run',
      `--kube-proxy-mode ${mode}`,
      'applies to the real kube-proxy only: add --kube-proxy real',
    );
  return {
    implementation: implementation === 'real' ? 'real' : 'emulated',
    mode: mode === 'nftables' ? 'nftables' : 'iptables',
  };
}
