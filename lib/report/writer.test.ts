import { expect } from 'chai';
import { mkdir, mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ValidationError } from '../errors.js';
import type { CellResult, RunResults } from '../scenario/result.js';
import { parseResults } from './schema.js';
import { rpFilterCell, sampleRun } from './test-helpers.js';
import { ResultsWriter, type RunHeader } from './writer.js';

function header(): RunHeader {
  const { cells: _c, totals: _t, state: _s, finishedAt: _f, ...rest } = sampleRun();
  return rest;
}

function cells(n: number): CellResult[] {
  return Array.from({ length: n }, (_, i) =>
    rpFilterCell({ id: `c${i}`, status: i % 3 === 0 ? 'fail' : 'pass' }),
  );
}

async function caught(p: Promise<unknown>): Promise<unknown> {
  return p.then(
    () => undefined,
    (e: unknown) => e,
  );
}

describe('ResultsWriter', () => {
  let root: string;
  let dir: string;
  const results = async (): Promise<RunResults> =>
    parseResults(await readFile(join(dir, 'results.json'), 'utf8'), 'results.json');

  beforeEach(async () => {
    root = await mkdtemp(join(tmpdir(), 'returnpath-writer-'));
    dir = join(root, 'runs', 'run-1');
  });
  afterEach(async () => {
    await rm(root, { recursive: true, force: true });
  });

  it('creates the directory and writes the empty run', async () => {
    await ResultsWriter.open(dir, header());
    expect((await readdir(dir)).sort()).to.deep.equal(['junit.xml', 'report.html', 'results.json']);
    const run = await results();
    expect(run).to.include({ state: 'running', runId: 'run-20251120-c0ffee' });
    expect(run.cells).to.deep.equal([]);
    expect(run.totals).to.deep.equal({ pass: 0, fail: 0, inconclusive: 0, error: 0, skipped: 0 });
    expect(run).not.to.have.property('finishedAt');
  });

  it('rewrites every file as cells are added, and finishes', async () => {
    const w = await ResultsWriter.open(dir, header());
    const [a, b] = cells(2);
    await w.add(a!);
    expect((await results()).cells).to.deep.equal([a]);
    await w.add(b!);
    await w.finish('complete');
    const run = await results();
    expect(run.cells).to.deep.equal([a, b]);
    expect(run.totals).to.deep.equal({ pass: 1, fail: 1, inconclusive: 0, error: 0, skipped: 0 });
    expect(run.state).to.equal('complete');
    expect(Date.parse(run.finishedAt!)).to.be.closeTo(Date.now(), 60_000);
    expect(await readFile(join(dir, 'junit.xml'), 'utf8')).to.contain('tests="2" failures="1"');
    expect(await readFile(join(dir, 'report.html'), 'utf8')).to.contain('data-cell="cell-1"');
    await caught(w.add(cells(3)[2]!)).then((e) => expect(e).to.match(/add after the run was finished/));
    await w.finish('interrupted');
    expect(await results()).to.deep.equal(run);
  });

  it('keeps every cell of concurrent adds, in order, and leaves no temp files', async () => {
    const w = await ResultsWriter.open(dir, header());
    const all = cells(25);
    await Promise.all(all.map((c) => w.add(c)));
    expect((await results()).cells.map((c) => c.id)).to.deep.equal(all.map((c) => c.id));
    expect((await results()).totals).to.deep.equal({
      pass: 16,
      fail: 9,
      inconclusive: 0,
      error: 0,
      skipped: 0,
    });
    expect((await readdir(dir)).sort()).to.deep.equal(['junit.xml', 'report.html', 'results.json']);
  });

  it('keeps every added cell when interrupted, even with writes pending', async () => {
    const w = await ResultsWriter.open(dir, header());
    const [first, ...rest] = cells(6);
    await w.add(first!);
    const pending = rest.map((c) => w.add(c));
    // As from a SIGINT handler: synchronously, before the pending writes ran.
    w.finishSync('interrupted');
    const run = await results();
    expect(run.state).to.equal('interrupted');
    expect(run.finishedAt).to.be.a('string');
    expect(run.cells.map((c) => c.id)).to.deep.equal(['c0', 'c1', 'c2', 'c3', 'c4', 'c5']);
    // The pending writes settle without overwriting the final files.
    await Promise.all(pending);
    expect(await results()).to.deep.equal(run);
    expect(await readFile(join(dir, 'report.html'), 'utf8')).to.contain('state-interrupted');
    expect((await readdir(dir)).sort()).to.deep.equal(['junit.xml', 'report.html', 'results.json']);
    w.finishSync('interrupted');
    expect(await caught(w.add(cells(7)[6]!))).to.match(/add after the run was finished/);
  });

  it('rejects a malformed or duplicate cell without recording it', async () => {
    const w = await ResultsWriter.open(dir, header());
    const [a] = cells(1);
    const bad = { ...a!, id: 'bad', attempts: -1 };
    const e1 = await caught(w.add(bad));
    expect(e1).to.be.instanceOf(ValidationError);
    expect((e1 as ValidationError).source).to.equal('cell eni-rp-filter/bad');
    expect((e1 as ValidationError).problems[0]!.path).to.equal('attempts');
    await w.add(a!);
    const e2 = await caught(w.add({ ...a! }));
    expect(e2).to.be.instanceOf(ValidationError);
    expect(String(e2)).to.contain('already added');
    expect((await results()).cells.map((c) => c.id)).to.deep.equal(['c0']);
  });

  it('rejects a bad header before creating anything', async () => {
    const e = await caught(ResultsWriter.open(dir, { ...header(), runId: '' }));
    expect(e).to.be.instanceOf(ValidationError);
    expect((e as ValidationError).problems[0]!.path).to.equal('runId');
    expect(await caught(readdir(dir))).to.have.property('code', 'ENOENT');
  });

  it('reports a failed write to its caller, and the next write catches up', async () => {
    const w = await ResultsWriter.open(dir, header());
    const [a, b] = cells(2);
    await rm(dir, { recursive: true });
    expect(await caught(w.add(a!))).to.have.property('code', 'ENOENT');
    await mkdir(dir);
    await w.add(b!);
    expect((await results()).cells.map((c) => c.id)).to.deep.equal(['c0', 'c1']);
  });
});
