/**
 * Differential proof: every cell of baseline, eni-rp-filter and nlb-hairpin whose nodes use a VPC
 * CNI profile runs again with the real CNI of its generation (the upstream plugin and node setup,
 * pinned in lib/components/versions.ts), and must reach the verdict its emulated twin reaches
 * (which its own suite asserts is pass). Where they disagreed, the real CNI was right: the
 * emulation (lib/cni/vpc-cni.ts) was fixed and the mechanism written down. Runs in `npm test`, not
 * in `returnpath run` (use `returnpath run --cni real` for that).
 */
import { expect } from 'chai';
import { findBuilt, vpcCni, vpcCniLegacy } from '../lib/components/index.js';
import { requireLab } from '../lib/lab/test-support.js';
import { testTitle, type CellSpec } from '../lib/scenario/cell.js';
import { usesVpcCni, withCniImplementation } from '../lib/scenario/implementation.js';
import { Session, session } from '../lib/scenario/session.js';
import { SUITES } from './catalog.js';
import { failureMessage } from './support/describe-suite.js';

const DIFFERENTIAL = ['baseline', 'eni-rp-filter', 'nlb-hairpin'];

/** The cell with the real CNI; its own id so it sits beside the emulated cell in one session. */
export function realTwin(cell: CellSpec): CellSpec {
  return { ...withCniImplementation(cell, { implementation: 'real' }), id: `${cell.id}.real-cni` };
}

const pairs = SUITES.filter((s) => DIFFERENTIAL.includes(s.id)).map((suite) => ({
  suite,
  cells: suite.cells.filter((c) => usesVpcCni(c.topology)).map((cell) => ({ cell, real: realTwin(cell) })),
}));

describe('real VPC CNI: the same verdicts as the emulation (differential)', function () {
  this.timeout(600_000);
  // The real twins run two at a time ahead of the tests, as `returnpath run` runs cells.
  let real: Session;

  before(async function () {
    requireLab(this);
    for (const c of [vpcCni, vpcCniLegacy])
      if (!(await findBuilt(c))) {
        console.log(
          `      skipped: ${c.name} ${await c.version()} is not built: run 'returnpath components build ${c.name}'`,
        );
        this.skip();
      }
    real = new Session({ cells: pairs.flatMap((p) => p.cells.map((c) => c.real)), concurrency: 2 });
    real.start();
  });

  for (const { suite, cells } of pairs)
    describe(`${suite.id} with the real CNI`, () => {
      for (const { cell, real: twin } of cells)
        it(testTitle(twin), async () => {
          const r = await real.result(twin);
          expect(r.implementation?.cni, failureMessage(r)).to.match(/^real vpc-cni(-legacy)? v\d/);
          expect(r.status, failureMessage(r)).to.equal('pass');
          const emulated = await session().result(cell);
          expect(emulated.implementation?.cni).to.match(/^emulated /);
          expect(r.status, `emulated: ${failureMessage(emulated)}`).to.equal(emulated.status);
        });
    });
});
