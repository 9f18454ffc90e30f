/**
 * Mocha glue: one describe per suite, one test per cell. The test awaits the cell's result from the
 * session and asserts that the kernel did what the cell expects; the failure message carries the
 * checks, the evidence, the mechanism and how to reproduce.
 */
import { expect } from 'chai';
import {
  suiteTitle,
  testTitle,
  validateSuite,
  type CellSpec,
  type SuiteSpec,
} from '../../lib/scenario/cell.js';
import type { CellResult } from '../../lib/scenario/result.js';
import { session, sessionConfigured } from '../../lib/scenario/session.js';
import { describeMiss } from '../../lib/scenario/misses.js';
import { requireKube } from '../../lib/kube/test-support.js';
import { requireLab } from '../../lib/lab/test-support.js';

/** A rate cell decides within 5 batches; timeouts cost the connect deadline. */
const CELL_TIMEOUT_MS = 120_000;

export function failureMessage(r: CellResult): string {
  return [
    `${r.suite}/${r.id}: ${r.status}: ${r.reason}`,
    `expected: ${r.expectation}`,
    `flow: ${r.flow}; counts ${JSON.stringify(r.counts)}`,
    ...r.checks.map((c) => `check ${c.status}: ${c.name}: ${c.detail}`),
    ...r.evidence.map((e) => `evidence: ${e.summary}`),
    ...(r.misses ?? []).flatMap((m) => [`missed: ${describeMiss(m)}`, ...m.evidence.map((e) => `    ${e}`)]),
    `mechanism: ${r.explanation}`,
    ...r.reproduce.map((c) => `reproduce: ${c}`),
    ...(r.error ? [`error: ${r.error}`] : []),
  ].join('\n  ');
}

export function describeSuite(suite: SuiteSpec): void {
  validateSuite(suite);
  describe(suiteTitle(suite), function () {
    this.timeout(CELL_TIMEOUT_MS);
    before(function () {
      requireLab(this);
    });
    for (const cell of suite.cells)
      it(testTitle(cell), async function () {
        const r = await session().result(cell);
        expect(r.status, failureMessage(r)).to.equal('pass');
      });
  });
  // `returnpath run` chooses the kube-proxy for the whole run (--kube-proxy); plain mocha (npm test)
  // also proves the emulation against the real kube-proxy, cell by cell.
  if (!sessionConfigured()) describeDifferential(suite);
}

/** Cells whose topology has Services: their rules come from kube-proxy. */
export function hasServices(cell: CellSpec): boolean {
  const services = (cell.topology as { services?: unknown[] }).services;
  return Array.isArray(services) && services.length > 0;
}

/**
 * The differential proof: every cell with a Service also runs on a real control plane with the
 * real kube-proxy, in iptables and in nftables mode; it must meet the same expectation, so its
 * verdict agrees with the emulated cell's (same topology, same local-traffic detector).
 */
function describeDifferential(suite: SuiteSpec): void {
  const cells = suite.cells.filter(hasServices);
  if (cells.length === 0) return;
  for (const mode of ['iptables', 'nftables'] as const)
    describe(`${suiteTitle(suite)} [RealKubeProxy:${mode}]`, function () {
      // The first cell also starts the control plane.
      this.timeout(CELL_TIMEOUT_MS * 2);
      before(async function () {
        requireLab(this);
        await requireKube(this);
      });
      cells.forEach((cell, i) =>
        it(`${testTitle(cell)} [RealKubeProxy:${mode}]`, async function () {
          // The next cell runs while this one is awaited: two at a time.
          const next = cells[i + 1];
          if (next) session().prefetch([next], `real-${mode}`);
          const emulated = await session().result(cell);
          const real = await session().result(cell, `real-${mode}`);
          expect(real.kubeProxy?.implementation, 'ran with the real kube-proxy').to.equal('real');
          expect(real.status, failureMessage(real)).to.equal('pass');
          expect(
            real.status,
            `the emulated kube-proxy's verdict differs: ${emulated.status} (${emulated.reason})`,
          ).to.equal(emulated.status);
        }),
      );
    });
}

// Plain mocha: the session started its own control plane for the differential cells; stop it last.
if (typeof after === 'function')
  after(async function () {
    this.timeout(60_000);
    if (!sessionConfigured()) await session().close();
  });
