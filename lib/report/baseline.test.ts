import { expect } from 'chai';
import { mkdtemp, mkdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ValidationError } from '../errors.js';
import type { CellResult, RunResults } from '../scenario/result.js';
import { compareRuns, loadResults, provenanceWarnings, renderChanges, type Change } from './baseline.js';
import { chaosCell, ratesOf, rpFilterCell, sampleCells, sampleRun } from './test-helpers.js';

/** The sample run with cells replaced or added (by suite/id), and others removed. */
function rerun(replace: CellResult[], remove: string[] = []): RunResults {
  const key = (c: CellResult): string => `${c.suite}/${c.id}`;
  const cells = sampleCells().filter((c) => !remove.includes(key(c)));
  for (const c of replace) {
    const i = cells.findIndex((old) => key(old) === key(c));
    if (i >= 0) cells[i] = c;
    else cells.push(c);
  }
  return sampleRun(cells);
}

function only(changes: Change[]): Change {
  expect(changes).to.have.length(1);
  return changes[0]!;
}

function withCounts(cell: CellResult, counts: Record<string, number>): CellResult {
  const attempts = Object.values(counts).reduce((a, b) => a + b, 0);
  return { ...cell, counts, attempts, rates: ratesOf(counts) };
}

describe('baseline comparison', () => {
  it('warns when the baseline was made by another returnpath or on another kernel', () => {
    const base = sampleRun();
    const same = { ...base.returnpath! };
    expect(provenanceWarnings(base, same, base.host.kernel)).to.deep.equal([]);
    const newer = { version: '0.2.0', commit: 'feedface', dirty: false };
    const w = provenanceWarnings(base, newer, '6.18.44');
    expect(w).to.have.length(2);
    expect(w[0]).to.match(
      /made by returnpath 0\.1\.0 \(commit 0123456789abcdef.*this is returnpath 0\.2\.0 \(commit feedface\)/,
    );
    expect(w[1]).to.match(/kernel 6\.8\.0-45-generic, this run on 6\.18\.44/);
    expect(provenanceWarnings(base, { ...same, commit: 'feedface' }, base.host.kernel)[0]).to.match(
      /commit feedface/,
    );
    const older = { ...base, returnpath: undefined };
    expect(provenanceWarnings(older, same, base.host.kernel)[0]).to.match(
      /does not record which returnpath made it/,
    );
  });

  it('finds nothing between equal runs', () => {
    expect(compareRuns(sampleRun(), sampleRun())).to.deep.equal({
      changes: [],
      regressions: 0,
      improvements: 0,
      implementationChanges: [],
    });
  });

  it('names cells that ran with another implementation, and says so on their changes', () => {
    const emulated = sampleRun();
    for (const c of emulated.cells) c.implementation = { cni: 'emulated vpc-cni' };
    const now = rpFilterCell({
      id: 'rp0',
      status: 'fail',
      reason: 'expected all connected: 0/200 connected',
    });
    const real = rerun([{ ...now, implementation: { cni: 'real vpc-cni v1.23.2' } }]);
    for (const c of real.cells) c.implementation ??= { cni: 'emulated vpc-cni' };
    const result = compareRuns(emulated, real);
    expect(result.implementationChanges).to.deep.equal([
      { suite: 'eni-rp-filter', id: 'rp0', detail: 'cni: emulated vpc-cni -> real vpc-cni v1.23.2' },
    ]);
    expect(only(result.changes).detail).to.equal(
      'expected all connected: 0/200 connected (cni: emulated vpc-cni -> real vpc-cni v1.23.2)',
    );
  });

  it('reports a pass that no longer passes as a regression', () => {
    const now = rpFilterCell({
      id: 'rp0',
      status: 'fail',
      reason: 'expected all connected: 0/200 connected',
    });
    const result = compareRuns(sampleRun(), rerun([now]));
    expect(result.regressions).to.equal(1);
    expect(only(result.changes)).to.deep.equal({
      kind: 'regression',
      suite: 'eni-rp-filter',
      id: 'rp0',
      title: now.title,
      before: 'pass',
      after: 'fail',
      detail: 'expected all connected: 0/200 connected',
    });
  });

  it('counts inconclusive and error after a pass as regressions too', () => {
    const result = compareRuns(
      sampleRun(),
      rerun([
        rpFilterCell({ id: 'rp0', status: 'inconclusive' }),
        rpFilterCell({ id: 'rp2', status: 'error', error: 'lab down' }),
      ]),
    );
    expect(result.changes.map((c) => c.kind)).to.deep.equal(['regression', 'regression']);
    expect(result.regressions).to.equal(2);
  });

  it('reports a cell that passes now as an improvement', () => {
    const now = rpFilterCell({
      id: 'rp1-snat',
      configuration: { cni: 'vpc-cni', rp_filter: 1, externalSNAT: true, sourceDestCheck: true },
    });
    const result = compareRuns(sampleRun(), rerun([now]));
    expect(result.improvements).to.equal(1);
    expect(only(result.changes)).to.include({ kind: 'improvement', before: 'fail', after: 'pass' });
  });

  it('reports other status changes', () => {
    const now = rpFilterCell({
      id: 'rp1-sdc-off',
      status: 'fail',
      reason: 'expected reset rate in [0%, 10%]: 30%',
    });
    const change = only(compareRuns(sampleRun(), rerun([now])).changes);
    expect(change).to.include({ kind: 'status-change', before: 'inconclusive', after: 'fail' });
    expect(change.detail).to.equal('expected reset rate in [0%, 10%]: 30%');
  });

  it('reports a rate whose interval moved away, the status unchanged', () => {
    const now = withCounts(chaosCell(), { connected: 58, timeout: 2 });
    const change = only(compareRuns(sampleRun(), rerun([now])).changes);
    expect(change).to.include({ kind: 'rate-change', before: 'pass', after: 'pass', id: 'rp-filter-flip' });
    expect(change.detail).to.equal(
      'connected 66.7% [54.1%, 77.3%] -> 96.7% [88.6%, 99.1%]; timeout 33.3% [22.7%, 45.9%] -> 3.3% [0.9%, 11.4%]',
    );
  });

  it('ignores rates whose intervals still overlap', () => {
    const now = withCounts(chaosCell(), { connected: 45, timeout: 15 });
    expect(compareRuns(sampleRun(), rerun([now])).changes).to.deep.equal([]);
  });

  it('compares an outcome one run did not see as a rate of 0', () => {
    const now = withCounts(rpFilterCell({ id: 'rp0', configuration: sampleCells()[0]!.configuration }), {
      connected: 150,
      reset: 50,
    });
    const change = only(compareRuns(sampleRun(), rerun([now])).changes);
    expect(change.kind).to.equal('rate-change');
    expect(change.detail).to.contain('reset 0% [0%, 1.9%] -> 25% [19.5%, 31.4%]');
  });

  it('reports cells the baseline does not have as new', () => {
    const added = rpFilterCell({ id: 'rp3', status: 'fail', reason: 'nope' });
    const change = only(compareRuns(sampleRun(), sampleRun([...sampleCells(), added])).changes);
    expect(change).to.deep.equal({
      kind: 'new',
      suite: 'eni-rp-filter',
      id: 'rp3',
      title: added.title,
      after: 'fail',
      detail: 'nope',
    });
  });

  it('reports baseline cells not run only when their suite was selected', () => {
    const current = rerun([], ['eni-rp-filter/rp2', 'nlb-hairpin/rp-filter-flip']);
    current.selection = { suites: ['eni-rp-filter'] };
    const change = only(compareRuns(sampleRun(), current).changes);
    expect(change).to.include({ kind: 'missing', id: 'rp2', before: 'pass' });
    expect(change).not.to.have.property('after');
    expect(change.detail).to.equal('not run (baseline: expected all connected: 200/200 connected)');
    const interrupted = { ...current, state: 'interrupted' as const };
    expect(only(compareRuns(sampleRun(), interrupted).changes).detail).to.match(
      /^not run, the run is interrupted \(baseline: /,
    );
  });

  it('renders one aligned line per change, most pressing first', () => {
    const current = rerun(
      [
        rpFilterCell({ id: 'rp0', status: 'fail', reason: 'broke' }),
        rpFilterCell({ id: 'rp9', reason: 'fine' }),
        rpFilterCell({
          id: 'rp1-snat',
          configuration: { cni: 'vpc-cni', rp_filter: 1, externalSNAT: true, sourceDestCheck: true },
          reason: 'fixed',
        }),
      ],
      ['eni-rp-filter/rp2'],
    );
    const lines = renderChanges(compareRuns(sampleRun(), current).changes);
    expect(lines.map((l) => l.replace(/ {2}NLB to a pod on eth1.*?: /, '  '))).to.deep.equal([
      'regression   eni-rp-filter/rp0       pass -> fail  broke',
      'missing      eni-rp-filter/rp2       pass -> -     not run (baseline: expected all connected: 200/200 connected)',
      'new          eni-rp-filter/rp9       - -> pass     fine',
      'improvement  eni-rp-filter/rp1-snat  fail -> pass  fixed',
    ]);
    expect(renderChanges([])).to.deep.equal([]);
  });
});

describe('loadResults', () => {
  let dir: string;
  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'returnpath-baseline-'));
  });
  afterEach(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('reads a results file, or the one in a run directory', async () => {
    await mkdir(join(dir, 'run'));
    await writeFile(join(dir, 'run', 'results.json'), JSON.stringify(sampleRun()));
    expect(await loadResults(join(dir, 'run', 'results.json'))).to.deep.equal(sampleRun());
    expect(await loadResults(join(dir, 'run'))).to.deep.equal(sampleRun());
  });

  it('a missing, empty or binary results file is bad input (ValidationError) naming the path', async () => {
    await writeFile(join(dir, 'empty.json'), '  \n');
    await writeFile(join(dir, 'binary.json'), Buffer.from([0x7b, 0, 1, 2, 0x1b, 0x5b, 0x32, 0x4a]));
    for (const [path, re] of [
      [join(dir, 'nope.json'), /does not exist/],
      [join(dir, 'results.json'), /does not exist/],
      [join(dir, 'empty.json'), /is empty/],
      [join(dir, 'binary.json'), /not a text file/],
    ] as const) {
      let err: unknown;
      await loadResults(path === join(dir, 'results.json') ? dir : path).catch((e: unknown) => (err = e));
      expect(err, path).to.be.instanceOf(ValidationError);
      expect((err as Error).message).to.contain(path);
      expect((err as Error).message).to.match(re);
      expect((err as Error).message).not.to.contain('\x1b');
    }
  });

  it('throws ValidationError naming the file for a bad one', async () => {
    const file = join(dir, 'results.json');
    await writeFile(file, JSON.stringify({ ...sampleRun(), schema: 'returnpath/results/v0' }));
    let err: unknown;
    await loadResults(file).catch((e: unknown) => (err = e));
    expect(err).to.be.instanceOf(ValidationError);
    expect((err as ValidationError).source).to.equal(file);
    expect((err as ValidationError).problems[0]!.path).to.equal('schema');
  });
});
