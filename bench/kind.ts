/**
 * kind: the build of the kind components (as recorded when the cached copy was built, the lookup
 * when cached, and optionally a full cold build), the time to create and delete a cluster, and the
 * baseline suite on kind (`run --kind`).
 * RETURNPATH_BENCH_COLD=1 builds every kind component from nothing (empty component cache, Go
 * build cache and module cache, in temporary directories): 30-60 min on 2 cores.
 */
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { buildComponent, findBuilt, KIND_COMPONENTS } from '../lib/components/index.js';
import { KindCluster } from '../lib/kind/cluster.js';
import { CommandRunner } from '../lib/exec/command.js';
import type { RunResults } from '../lib/scenario/result.js';

const CLI = fileURLToPath(new URL('../../bin/returnpath.js', import.meta.url));

export async function benchKind(): Promise<Record<string, string>> {
  const rows: Record<string, string> = {};
  if (process.env['RETURNPATH_BENCH_COLD'] === '1') Object.assign(rows, await coldBuild());
  let recorded = 0;
  for (const c of KIND_COMPONENTS) {
    const b = await findBuilt(c);
    if (!b) {
      rows['kind benchmarks'] = `skipped: ${c.name} is not built (returnpath components build)`;
      return rows;
    }
    recorded += b.manifest.buildSeconds;
    rows[`  last build of ${c.name}`] = `${b.manifest.buildSeconds.toFixed(1)} s (${b.manifest.builtAt})`;
  }
  rows['kind components, last builds of the cached copies (sum; Go cache as it was then)'] =
    `${recorded.toFixed(1)} s`;
  const t0 = performance.now();
  for (const c of KIND_COMPONENTS) await buildComponent(c);
  rows['kind components, warm (all cached)'] = `${((performance.now() - t0) / 1000).toFixed(2)} s`;
  if (process.getuid?.() !== 0) return rows;
  for (const workers of [0, 1]) {
    const t1 = performance.now();
    const c = await KindCluster.up({ workers });
    const up = (performance.now() - t1) / 1000;
    const t2 = performance.now();
    await c.delete();
    const down = (performance.now() - t2) / 1000;
    rows[`kind cluster, ${workers + 1} node(s): create to Ready / delete`] =
      `${up.toFixed(1)} s / ${down.toFixed(1)} s`;
    const t = c.timings ?? {};
    rows[`  ${workers + 1} node(s): engine start / node image load / kind create cluster / CNI and Ready`] =
      `${t.engineStart} / ${t.imageLoad} / ${t.kindCreate} / ${t.cniAndReady} s`;
  }
  Object.assign(rows, await baselineOnKind());
  return rows;
}

/**
 * `returnpath run --kind --suite baseline` as a user runs it: the wall time, the test bed's parts
 * (from the line the run prints) and the cells' verdicts.
 */
async function baselineOnKind(): Promise<Record<string, string>> {
  const dir = await mkdtemp(join(tmpdir(), 'rp-bench-kind-run-'));
  try {
    const t0 = performance.now();
    const r = await new CommandRunner().run(
      [process.execPath, CLI, 'run', '--kind', '--suite', 'baseline', '--results', dir, '--run-id', 'bench'],
      { allowFailure: true },
    );
    const wall = (performance.now() - t0) / 1000;
    const results = JSON.parse(await readFile(join(dir, 'bench', 'results.json'), 'utf8')) as RunResults;
    const pass = results.cells.filter((c) => c.status === 'pass').length;
    const bed = /kind test bed 1 ready in (.*)$/m.exec(r.stdout)?.[1] ?? '(not printed)';
    const cells = results.cells.reduce((s, c) => s + c.durationMs, 0) / 1000;
    return {
      'run --kind --suite baseline: wall time (exit code, cells passing)': `${wall.toFixed(1)} s (exit ${r.code}, ${pass}/${results.cells.length} pass)`,
      '  test bed (kind cluster, joined to the VPC, agent image)': bed,
      '  the 11 cells themselves': `${cells.toFixed(1)} s`,
    };
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

/** Every kind component from nothing, in temporary caches (the machine's caches are untouched). */
async function coldBuild(): Promise<Record<string, string>> {
  const dir = await mkdtemp(join(tmpdir(), 'rp-bench-cold-'));
  const saved = { ...process.env };
  try {
    process.env['RETURNPATH_CACHE_DIR'] = join(dir, 'cache');
    process.env['GOCACHE'] = join(dir, 'gocache');
    process.env['GOMODCACHE'] = join(dir, 'gomodcache');
    const rows: Record<string, string> = {};
    const t0 = performance.now();
    for (const c of KIND_COMPONENTS) {
      const r = await buildComponent(c);
      rows[`  cold build ${c.name}`] = `${r.seconds.toFixed(1)} s`;
    }
    rows['kind components, cold (empty caches)'] = `${((performance.now() - t0) / 1000).toFixed(1)} s`;
    return rows;
  } finally {
    for (const k of ['RETURNPATH_CACHE_DIR', 'GOCACHE', 'GOMODCACHE'])
      if (saved[k] === undefined) delete process.env[k];
      else process.env[k] = saved[k];
    await rm(dir, { recursive: true, force: true });
  }
}
