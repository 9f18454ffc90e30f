/**
 * Real CNI benchmarks: the VPC CNI component's build time (cold: an empty Go build cache, the Go
 * module cache kept; warm: the machine's Go build cache), lab up/down with the real plugin on every
 * node, and the cost of one real ADD (sequential DEL + ADD of each pod of a lab that is up).
 */
import { spawn } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { findBuilt, vpcCni } from '../lib/components/index.js';
import { realCniNode } from '../lib/cni/real/stage.js';
import { CommandRunner } from '../lib/exec/command.js';
import { labContributors, labStages } from '../lib/lab/contributors.js';
import { Lab } from '../lib/lab/lab.js';
import { validateTopology } from '../lib/model/topology.js';
import { syntheticTopology } from './lab.js';

const repo = fileURLToPath(new URL('../../', import.meta.url));

function timed(argv: string[], env: NodeJS.ProcessEnv): Promise<number> {
  return new Promise((resolve, reject) => {
    const t0 = performance.now();
    const child = spawn(argv[0]!, argv.slice(1), { env, stdio: ['ignore', 'ignore', 'pipe'] });
    let err = '';
    child.stderr.on('data', (d: Buffer) => (err += d.toString()));
    child.on('error', reject);
    child.on('close', (code) =>
      code === 0
        ? resolve(performance.now() - t0)
        : reject(new Error(`${argv.join(' ')}: exit ${code}: ${err}`)),
    );
  });
}

/** Builds vpc-cni into a throwaway component cache, with a fresh (cold) or the machine's (warm) Go build cache. */
export async function benchBuild(): Promise<Record<string, string>> {
  const dir = await mkdtemp(join(tmpdir(), 'rp-bench-build-'));
  try {
    const build = (goCache?: string): Promise<number> =>
      timed(
        [process.execPath, join(repo, 'bin/returnpath.js'), 'components', 'build', 'vpc-cni', '--force'],
        {
          ...process.env,
          RETURNPATH_CACHE_DIR: join(dir, 'components'),
          ...(goCache && { GOCACHE: goCache }),
        },
      );
    const cold = await build(join(dir, 'gocache'));
    const warm = await build();
    return {
      'component build vpc-cni, cold (empty Go build cache, module cache kept)': `${(cold / 1000).toFixed(1)} s`,
      'component build vpc-cni, warm (Go build cache kept)': `${(warm / 1000).toFixed(1)} s`,
    };
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

/** Lab up/down with the real VPC CNI on every node; with `addCost`, the sequential cost of one ADD. */
export async function benchRealLab(
  nodes: number,
  podsPerNode: number,
  addCost = false,
): Promise<Record<string, string>> {
  if (!(await findBuilt(vpcCni)))
    return { 'real CNI benchmarks': "skipped: run 'returnpath components build vpc-cni'" };
  const spec = syntheticTopology(nodes, podsPerNode);
  spec.defaults = { cni: { profile: 'vpc-cni', implementation: 'real' } };
  const topology = validateTopology(spec);
  const runner = new CommandRunner();
  const t0 = performance.now();
  const lab = await Lab.up(topology, {
    runner,
    contributors: labContributors(),
    stages: labStages(topology),
  });
  const up = performance.now() - t0;
  const rows: Record<string, string> = {};
  const label = `${nodes} nodes / ${nodes * podsPerNode} pods`;
  try {
    if (addCost) {
      const ms: number[] = [];
      for (const node of topology.nodes) {
        const { runtime, conflist, podConf } = await realCniNode(lab, topology, node.name);
        for (const pod of topology.pods.filter((p) => p.node === node.name)) {
          await runtime.delNetworkList(conflist, podConf(pod));
          const t = performance.now();
          await runtime.addNetworkList(conflist, podConf(pod));
          ms.push(performance.now() - t);
        }
      }
      ms.sort((a, b) => a - b);
      rows['real ADD, one pod (aws-cni + egress-cni through the CNI protocol), median / max'] =
        `${ms[Math.floor(ms.length / 2)]!.toFixed(0)} / ${ms[ms.length - 1]!.toFixed(0)} ms (${ms.length} pods, one at a time)`;
    }
  } finally {
    const t1 = performance.now();
    await lab.down();
    rows[`lab up, ${label}, real VPC CNI`] =
      `${(up / 1000).toFixed(2)} s (node setup, ipamd stand-in, ${nodes * podsPerNode} ADDs, 8 at a time)`;
    rows[`lab down, ${label}, real VPC CNI`] =
      `${((performance.now() - t1) / 1000).toFixed(2)} s (${nodes * podsPerNode} DELs)`;
  }
  return rows;
}
