/** Helpers for the chaos tests. */
import { readFileSync } from 'node:fs';
import { touchedHosts, type ChaosContext, type Fault } from './fault.js';
import { diffFingerprints, fingerprintAll, type FingerprintDifference } from './fingerprint.js';
import { FaultLedger } from './ledger.js';

/** A file of lib/chaos/testdata (the source tree, also when running from dist/). */
export function readChaosTestdata(name: string): string {
  return readFileSync(new URL(`../../../lib/chaos/testdata/${name}`, import.meta.url), 'utf8');
}

export interface Exercised<T> {
  /** What `during` returned, measured while the fault was applied. */
  during: T;
  /** Fingerprint differences of the touched hosts (and `extraHosts`) between before apply and after revert. */
  diffs: FingerprintDifference[];
  applyMs: number;
  revertMs: number;
}

/**
 * Fingerprints the hosts the fault touches, applies it through a ledger, runs `during`, reverts,
 * and fingerprints again. Prints the apply and revert times.
 */
export async function exercise<T>(
  ctx: ChaosContext,
  fault: Fault,
  during: () => Promise<T>,
  extraHosts: readonly string[] = [],
): Promise<Exercised<T>> {
  const hosts = touchedHosts(ctx, [fault], extraHosts).map((h) => ctx.host(h));
  const before = await fingerprintAll(hosts);
  const ledger = new FaultLedger(ctx);
  const timing = { applyMs: 0, revertMs: 0 };
  let result: T;
  try {
    const t0 = performance.now();
    await ledger.apply(fault);
    timing.applyMs = performance.now() - t0;
    result = await during();
  } finally {
    const t1 = performance.now();
    await ledger.revertAll();
    timing.revertMs = performance.now() - t1;
  }
  const after = await fingerprintAll(hosts);
  const diffs = diffFingerprints(before, after);
  console.log(
    `      ${fault.label}: apply ${timing.applyMs.toFixed(1)} ms, revert ${timing.revertMs.toFixed(1)} ms`,
  );
  return { during: result, diffs, ...timing };
}
