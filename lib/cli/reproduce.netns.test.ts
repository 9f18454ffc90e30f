/**
 * A cell's printed reproduce lines, run as printed (the `returnpath` of this checkout, argv split
 * as a shell would): lab up --cell brings its lab back with servers and NLB agents, the probe line
 * gets the outcome the cell measured, dump and down work. For a passing cell (every attempt
 * connects), a cell whose path is broken by design (every attempt times out, rp_filter), and a cell
 * from a suite file whose verdict fails (it expects a connection the kernel drops).
 */
import { expect } from 'chai';
import { spawn } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { stringify } from 'yaml';
import { requireLab } from '../lab/test-support.js';
import { listNetns } from '../lab/state.js';
import { runCell } from '../scenario/run-cell.js';
import { loadSuiteFile } from '../scenario/suite-file.js';
import type { CellResult } from '../scenario/result.js';
import { suiteById } from '../../suites/catalog.js';
import { SUITES } from '../../suites/catalog.js';

const BIN = fileURLToPath(new URL('../../../bin/returnpath.js', import.meta.url));

/** Words of a line as sh splits them (the lines quote with single quotes only). */
export function shellWords(line: string): string[] {
  const words: string[] = [];
  for (const m of line.matchAll(/'((?:[^']|'\\'')*)'|(\S+)/g))
    words.push(m[1] !== undefined ? m[1].replace(/'\\''/g, "'") : m[2]!);
  return words;
}

function run(line: string, cwd: string): Promise<{ code: number; out: string }> {
  const [cmd, ...args] = shellWords(line);
  expect(cmd, line).to.equal('returnpath');
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [BIN, ...args], { cwd, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    child.stderr.on('data', (d: Buffer) => (out += d.toString()));
    child.on('close', (code) => resolve({ code: code ?? 1, out }));
  });
}

/** Runs every lab line of a result (not the first, which re-runs the whole cell) and returns the probe's outcomes. */
async function replay(r: CellResult, cwd: string): Promise<{ outcomes: string[]; probeCode: number }> {
  const [, up, probe, dump, down] = r.reproduce;
  expect(up).to.match(/^returnpath lab up .*--cell /);
  for (const l of r.reproduce) expect(l, 'no path of this machine').not.to.match(/\/(usr|work|tmp|root)\//);
  const runId = /--run-id ([0-9a-f]{6})/.exec(up!)![1]!;
  let probed: { code: number; out: string } | undefined;
  try {
    const u = await run(up!, cwd);
    expect(u.code, u.out).to.equal(0);
    probed = await run(probe!, cwd);
    const d = await run(dump!, cwd);
    expect(d.code, d.out).to.equal(0);
    expect(d.out).to.contain(`run ${runId}`);
  } finally {
    const x = await run(down!, cwd);
    expect(x.code, x.out).to.equal(0);
  }
  expect((await listNetns()).filter((n) => n.startsWith(`rp-${runId}-`))).to.deep.equal([]);
  const outcomes = probed!.out
    .split('\n')
    .map((l) => /^(?:\S+:\d+ )?#\d+ (\w+)/.exec(l)?.[1])
    .filter((o): o is string => o !== undefined);
  return { outcomes, probeCode: probed!.code };
}

const cellOf = (ref: string) => {
  const [s, id] = ref.split('/');
  return SUITES.find((x) => x.id === s)!.cells.find((c) => c.id === id)!;
};

describe('reproduce lines, run as printed (real namespaces)', function () {
  this.timeout(120_000);
  let dir: string;
  before(async function () {
    requireLab(this);
    dir = await mkdtemp(join(tmpdir(), 'rp-repro-'));
  });
  after(async () => dir && rm(dir, { recursive: true, force: true }));

  it('a passing cell: its lab comes back with servers and NLB agents, and every probe connects', async () => {
    const r = await runCell(suiteById('baseline').cells.find((c) => c.id === 'nlb.instance.local')!);
    expect(r.status, r.reason).to.equal('pass');
    const { outcomes, probeCode } = await replay(r, dir);
    expect(outcomes.length).to.equal(24);
    expect(new Set(outcomes)).to.deep.equal(new Set(['connected']));
    expect(probeCode).to.equal(0);
  });

  it('a cell whose path is broken by design: the probe times out as the cell did', async () => {
    const r = await runCell(cellOf('eni-rp-filter/vpc-cni-legacy.snat-cni.rp-1.sdc-on'));
    expect(r.status, r.reason).to.equal('pass');
    expect(Object.keys(r.counts)).to.deep.equal(['timeout']);
    const { outcomes, probeCode } = await replay(r, dir);
    expect(new Set(outcomes)).to.deep.equal(new Set(['timeout']));
    expect(probeCode).to.equal(1);
  });

  it('a failing cell from a suite file: lab up --file brings it back and the probe shows why it failed', async () => {
    // The hardened image's legacy-CNI path, wrongly expected to connect: the verdict fails.
    const file = join(dir, 'wrong.suite.yaml');
    await writeFile(
      file,
      stringify({
        apiVersion: 'returnpath/v1',
        kind: 'Suite',
        metadata: { name: 'wrong', title: 'A wrong expectation' },
        layout: { rows: [], columns: [] },
        topology: {
          file: fileURLToPath(new URL('../../../examples/seed-000-eni-rp-filter.yaml', import.meta.url)),
        },
        cells: [
          {
            id: 'strict-legacy',
            title: 'legacy CNI, strict eth1, expected to connect',
            patch: [{ set: 'nodes[name=node-1].cni', value: { profile: 'vpc-cni-legacy' } }],
            flow: { from: 'curl-loop', to: { nlb: 'web-nlb', port: 80 }, attempts: 8 },
            expect: { outcome: { kind: 'all', outcome: 'connected' } },
            explanation: 'A wrong expectation: the strict eth1 drops the SYN of the legacy CNI.',
          },
        ],
      }),
    );
    const suite = await loadSuiteFile(file);
    const r = await runCell(suite.cells[0]!, { source: { kind: 'file', path: 'wrong.suite.yaml' } });
    expect(r.status).to.equal('fail');
    expect(r.misses?.length).to.equal(8);
    expect(r.reproduce[1]).to.match(
      /^returnpath lab up --file wrong\.suite\.yaml --cell wrong\/strict-legacy/,
    );
    const { outcomes, probeCode } = await replay(r, dir);
    expect(new Set(outcomes)).to.deep.equal(new Set(['timeout']));
    expect(probeCode).to.equal(1);
  });
});
