/**
 * The baseline suite through the kubeconfig backend: a serve-mode lab (returnpath's own test bed,
 * `lab up FILE --kubernetes --serve`) is the cluster, and `returnpath run --kubeconfig` runs the
 * suite on it through the Kubernetes API. Prints the test bed's bring-up and the run's wall time.
 */
import { spawn } from 'node:child_process';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { stringify } from 'yaml';
import { testbeds } from '../lib/cluster/testbed-topology.js';
import { suiteById } from '../suites/catalog.js';

const CLI = fileURLToPath(new URL('../../bin/returnpath.js', import.meta.url));

function cli(args: readonly string[]): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const c = spawn(process.execPath, [CLI, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    c.stdout.setEncoding('utf8').on('data', (d: string) => (stdout += d));
    c.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
    c.on('error', reject).on('close', (code) => resolve({ code, stdout, stderr }));
  });
}

export async function benchCluster(): Promise<Record<string, string>> {
  const tmp = await mkdtemp(join(tmpdir(), 'rp-bench-cluster-'));
  let runId: string | undefined;
  try {
    const bed = testbeds(suiteById('baseline').cells)[0]!;
    const file = join(tmp, 'testbed.yaml');
    await writeFile(file, stringify(bed.doc));
    let t0 = performance.now();
    const up = await cli(['lab', 'up', file, '--kubernetes', '--serve']);
    const upS = (performance.now() - t0) / 1000;
    runId = /^run (\w+):/m.exec(up.stdout)?.[1];
    const kubeconfig = /^kubeconfig: (\S+)/m.exec(up.stdout)?.[1];
    if (up.code !== 0 || !runId || !kubeconfig)
      throw new Error(`lab up --serve failed: ${up.stderr || up.stdout}`);
    t0 = performance.now();
    const run = await cli([
      'run',
      '--kubeconfig',
      kubeconfig,
      '--suite',
      'baseline',
      '--results',
      tmp,
      '--run-id',
      'bench',
    ]);
    const wall = (performance.now() - t0) / 1000;
    const results = JSON.parse(await readFile(join(tmp, 'bench', 'results.json'), 'utf8')) as {
      cells: { status: string; durationMs: number }[];
    };
    const by = (s: string): number => results.cells.filter((c) => c.status === s).length;
    return {
      'kubeconfig backend: test bed up (lab up --kubernetes --serve, seed 003)': `${upS.toFixed(1)} s`,
      'kubeconfig backend: run --suite baseline': `${wall.toFixed(1)} s wall, ${results.cells.length} cells (${by('pass')} pass, ${by('skipped')} skipped), exit ${run.code}`,
    };
  } finally {
    if (runId) await cli(['lab', 'down', runId, '--force']);
    await rm(tmp, { recursive: true, force: true });
  }
}
