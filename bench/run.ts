/** Wall time of the full default `returnpath run` (every suite, default concurrency), per suite too. */
import { mkdtemp, rm } from 'node:fs/promises';
import { availableParallelism, tmpdir } from 'node:os';
import { join } from 'node:path';
import { runSuites } from '../lib/cli/run-command.js';
import { SUITES } from '../suites/catalog.js';

export async function benchRun(): Promise<Record<string, string>> {
  const root = await mkdtemp(join(tmpdir(), 'rp-bench-'));
  try {
    const concurrency = Math.min(2, availableParallelism());
    const t0 = performance.now();
    const out = await runSuites({ suites: SUITES, concurrency, resultsRoot: root, log: () => undefined });
    const wall = (performance.now() - t0) / 1000;
    const { cells, totals } = out.results;
    const rows: Record<string, string> = {
      [`full default run (${concurrency} at a time)`]:
        `${wall.toFixed(1)} s wall, ${cells.length} cells (${totals.pass} pass), ` +
        `${cells.reduce((s, c) => s + c.attempts, 0)} attempts`,
    };
    for (const s of out.results.suites) {
      const own = cells.filter((c) => c.suite === s.id);
      const busy = own.reduce((t, c) => t + c.durationMs, 0) / 1000;
      rows[`  suite ${s.id}`] = `${own.length} cells, ${busy.toFixed(1)} s of cell time`;
    }
    return rows;
  } finally {
    await rm(root, { recursive: true, force: true });
  }
}
