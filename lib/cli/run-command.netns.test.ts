import { expect } from 'chai';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { release, tmpdir } from 'node:os';
import { provenanceRecord } from '../version.js';
import { join } from 'node:path';
import { requireLab } from '../lab/test-support.js';
import { parseResults } from '../report/index.js';
import { runCell } from '../scenario/run-cell.js';
import { SUITES } from '../../suites/catalog.js';
import { runSuites } from './run-command.js';

describe('returnpath run (real namespaces)', function () {
  this.timeout(120_000);
  let root: string;
  before(async function () {
    requireLab(this);
    root = await mkdtemp(join(tmpdir(), 'rp-run-'));
  });
  after(async () => root && rm(root, { recursive: true, force: true }));

  const grep = 'lb-snat-policy-routing: .* rp-1\\.fix-(off|on)\\.sdc-off:';

  it('writes results.json, junit.xml and report.html for the selected cells, and gates on a baseline', async () => {
    const lines: string[] = [];
    const first = await runSuites({
      suites: SUITES,
      suiteIds: ['lb-snat-policy-routing'],
      grep,
      concurrency: 2,
      resultsRoot: root,
      runId: 'first',
      log: (l) => lines.push(l),
    });
    expect(first.exitCode).to.equal(0);
    const results = parseResults(await readFile(join(first.dir, 'results.json'), 'utf8'), 'results.json');
    expect(results.state).to.equal('complete');
    // Where the results came from: this returnpath and this kernel, in results.json and junit.xml.
    expect(results.returnpath).to.deep.equal(provenanceRecord());
    expect(results.host.kernel).to.equal(release());
    expect(await readFile(join(first.dir, 'junit.xml'), 'utf8')).to.contain(
      `<property name="returnpath.commit" value="${provenanceRecord().commit ?? 'unknown'}"/>`,
    );
    expect(results.cells.map((c) => c.id).sort()).to.deep.equal([
      'rp-1.fix-off.sdc-off',
      'rp-1.fix-on.sdc-off',
    ]);
    expect(await readFile(join(first.dir, 'junit.xml'), 'utf8')).to.contain('<testcase');
    expect(await readFile(join(first.dir, 'report.html'), 'utf8')).to.contain('lb-snat-policy-routing');
    expect(lines.some((l) => /^\[1\/2\] pass/.test(l))).to.equal(true);

    // The same run against itself: no regression. A run where the fix is gone: a regression, exit 1.
    const same = await runSuites({
      suites: SUITES,
      suiteIds: ['lb-snat-policy-routing'],
      grep,
      concurrency: 2,
      resultsRoot: root,
      runId: 'same',
      baseline: join(first.dir, 'results.json'),
      log: () => undefined,
    });
    expect(same.exitCode).to.equal(0);
    const regressed = await runSuites({
      suites: SUITES,
      suiteIds: ['lb-snat-policy-routing'],
      grep,
      concurrency: 2,
      resultsRoot: root,
      runId: 'regressed',
      baseline: join(first.dir, 'results.json'),
      session: {
        // The CNI change under test "lost" the mark-based fix.
        run: (cell, o) => {
          const t = structuredClone(cell.topology) as {
            nodes: { name: string; cni?: { masqReturnFix?: boolean } }[];
          };
          for (const n of t.nodes) if (n.cni) n.cni.masqReturnFix = false;
          return runCell({ ...cell, topology: t }, o);
        },
      },
      log: (l) => lines.push(l),
    });
    expect(regressed.exitCode).to.equal(1);
    expect(lines.join('\n')).to.match(/regression/);
  });

  it('rejects a malformed baseline before running anything', async () => {
    const bad = join(root, 'bad.json');
    await writeFile(bad, '{"schema": "nope"}');
    let err: unknown;
    try {
      await runSuites({
        suites: SUITES,
        grep,
        concurrency: 1,
        resultsRoot: root,
        baseline: bad,
        log: () => undefined,
      });
    } catch (e) {
      err = e;
    }
    expect(String(err)).to.match(/bad\.json/);
  });
});
