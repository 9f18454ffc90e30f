/**
 * Real Kubernetes figures: the control plane ready (warm: binaries cached), memory of its
 * components, a Service change until its rules are in a node (real kube-proxy, iptables mode), and
 * the full default run with the real kube-proxy.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { availableParallelism, tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { runSuites } from '../lib/cli/run-command.js';
import { ClusterApi } from '../lib/kube/cluster-api.js';
import { ControlPlane } from '../lib/kube/control-plane.js';
import { KubeEnvironment } from '../lib/kube/environment.js';
import { serviceObject } from '../lib/kube/objects.js';
import { kubeUnavailable } from '../lib/kube/test-support.js';
import { servicePortChain } from '../lib/kube-proxy/chain-names.js';
import { Lab } from '../lib/lab/lab.js';
import { loadTopology } from '../lib/model/topology.js';
import { nlbContributor } from '../lib/nlb/plan.js';
import { SUITES } from '../suites/catalog.js';

const mb = (b: number): string => `${Math.round(b / 2 ** 20)} MB`;

export async function benchKube(): Promise<Record<string, string>> {
  const why = await kubeUnavailable();
  if (why) return { 'real Kubernetes': `skipped: ${why}` };
  const rows: Record<string, string> = {};
  const env = new KubeEnvironment({ slots: 1 });
  const b = await env.binaries();

  // Control plane ready: start to every component ready (PKI, etcd, apiserver, controller-manager).
  const starts: number[] = [];
  for (let i = 0; i < 3; i++) {
    const t0 = performance.now();
    const cp = await ControlPlane.start({ slots: 1, binaries: b, version: b.version });
    starts.push((performance.now() - t0) / 1000);
    if (i === 2) {
      const mem = await cp.memory();
      const total = mem.reduce((s, m) => s + m.rssBytes, 0);
      rows['control plane memory, 1 slot (RSS)'] =
        `${mb(total)}: ` + mem.map((m) => `${m.name.replace(/\.slot0$/, '')} ${mb(m.rssBytes)}`).join(', ');
    }
    await cp.stop();
  }
  rows[`control plane ready (Kubernetes ${b.version}, warm)`] =
    `${Math.min(...starts).toFixed(1)} s best, ${(starts.reduce((s, x) => s + x, 0) / starts.length).toFixed(1)} s mean of ${starts.length}`;

  // Service change to rules: a new Service with one endpoint until its KUBE-SVC chain lists it on a node.
  const topology = await loadTopology(
    new URL('../../examples/seed-003-baseline.yaml', import.meta.url).pathname,
  );
  const lease = await env.lease();
  const stage = lease.stage('iptables');
  const lab = await Lab.up(topology, { contributors: [nlbContributor], stages: [stage] });
  try {
    const kube = stage.live!;
    const api: ClusterApi = kube.api;
    const times: number[] = [];
    for (let i = 0; i < 5; i++) {
      const web = topology.services.find((s) => s.name === 'web')!;
      const svc = {
        ...web,
        name: `bench-${i}`,
        clusterIP: `172.20.99.${10 + i}`,
        ports: [{ ...web.ports[0]!, nodePort: 30200 + i }],
      };
      const obj = serviceObject(svc, { owner: lab.runId });
      // Select web-1 (it carries the label of `web`).
      obj.spec!.selector = { 'returnpath.io/svc-web': 'true' };
      const chain = servicePortChain('KUBE-SVC-', `demo/bench-${i}:http`, 'tcp');
      await sleep(1100); // past kube-proxy's 1 s minimum between syncs: measure a change, not the rate limit
      const t0 = performance.now();
      await api.core.createNamespacedService({ namespace: 'demo', body: obj });
      for (;;) {
        const nat = (await lab.host('node-c').run(['iptables-save', '-t', 'nat'])).stdout;
        if (new RegExp(`^-A ${chain} .*KUBE-SEP-`, 'm').test(nat)) break;
        await sleep(5);
      }
      times.push(performance.now() - t0);
    }
    times.sort((x, y) => x - y);
    rows['Service created -> its rules in a node (real kube-proxy)'] =
      `${Math.round(times[Math.floor(times.length / 2)]!)} ms median of ${times.length} (${Math.round(times[0]!)}-${Math.round(times.at(-1)!)} ms)`;
  } finally {
    await lab.down();
    lease.release();
    await env.close();
  }

  // The full default run with the real kube-proxy.
  const root = await mkdtemp(join(tmpdir(), 'rp-bench-'));
  const concurrency = Math.min(2, availableParallelism());
  const runEnv = new KubeEnvironment({ slots: concurrency });
  try {
    const t0 = performance.now();
    const out = await runSuites({
      suites: SUITES,
      concurrency,
      resultsRoot: root,
      log: () => undefined,
      kube: runEnv,
    });
    const wall = (performance.now() - t0) / 1000;
    const { cells, totals } = out.results;
    const real = cells.filter((c) => c.kubeProxy?.implementation === 'real');
    const notPassing = cells.filter((c) => c.status !== 'pass').map((c) => `${c.suite}/${c.id} ${c.status}`);
    rows[`full default run, --kube-proxy real (${concurrency} at a time)`] =
      `${wall.toFixed(1)} s wall, ${cells.length} cells (${totals.pass} pass), ${real.length} on real Kubernetes` +
      (notPassing.length ? `; not passing: ${notPassing.join(', ')}` : '');
  } finally {
    await runEnv.close();
    await rm(root, { recursive: true, force: true });
  }
  return rows;
}
