/** Small builders the suite tables share. */
import type { CellExpect, EvidenceExpectation } from '../../lib/scenario/cell.js';

/** `off`, `strict`, `loose` for rp_filter 0, 1, 2. */
export function rpMode(v: number): string {
  return ['off', 'strict', 'loose'][v] ?? `mode ${v}`;
}

/** Every attempt times out, with the evidence of where. */
export function allTimeOut(...evidence: EvidenceExpectation[]): CellExpect {
  return { outcome: { kind: 'all', outcome: 'timeout' }, evidence };
}

/** The drop the reverse-path filter of `host` counts. */
export function rpFilterDrop(host: string): EvidenceExpectation {
  return { kind: 'drop', host, reason: 'rp_filter' };
}

/** The fabric's source/destination check of `eni` (`node/ethN`). */
export function sourceDestCheckDrop(eni: string): EvidenceExpectation {
  return { kind: 'drop', host: 'fabric', reason: 'source-dest-check', eni };
}
