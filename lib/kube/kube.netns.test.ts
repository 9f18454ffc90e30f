/**
 * Integration: the real control plane and the real kube-proxy in node namespaces (needs root, the
 * lab's tools and the built kubernetes and etcd components; CI has them all).
 */
import { spawn, type SpawnOptions } from 'node:child_process';
import { access, readdir } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { expect } from 'chai';
import { diffFingerprints, fingerprintAll, formatDifferences } from '../chaos/fingerprint.js';
import { CommandRunner, type RunOptions } from '../exec/command.js';
import type { HostExec } from '../exec/netns.js';
import { Lab, type LabStage } from '../lab/lab.js';
import { loadTopology, validateTopology, type Topology } from '../model/topology.js';
import { nlbContributor } from '../nlb/plan.js';
import {
  expectedProxyState,
  observedProxyState,
  proxyDumpCommand,
  proxyStateDifferences,
} from '../kube-proxy/sync.js';
import { runCell } from '../scenario/run-cell.js';
import type { CellSpec } from '../scenario/cell.js';
import { parse } from 'yaml';
import { readFile } from 'node:fs/promises';
import { KubeEnvironment, type SlotLease } from './environment.js';
import type { KubernetesStage } from './stage.js';
import { requireKube } from './test-support.js';

const repo = fileURLToPath(new URL('../../../', import.meta.url));
const exampleDoc = async (name: string): Promise<Record<string, unknown>> =>
  parse(await readFile(`${repo}examples/${name}.yaml`, 'utf8')) as Record<string, unknown>;

/** The machine's own network namespace, read-only here. */
function rootNamespace(runner: CommandRunner): HostExec {
  return {
    host: 'host',
    run: (argv: readonly string[], o?: RunOptions) => runner.run(argv, o),
    spawn: (argv: readonly string[], o?: SpawnOptions) => spawn(argv[0]!, argv.slice(1), o ?? {}),
    wrap: (argv: readonly string[]) => [...argv],
  };
}

/** A stage that fingerprints every node namespace when it runs (before the Kubernetes stage). */
class NodeFingerprints implements LabStage {
  readonly name = 'node fingerprints';
  taken: Awaited<ReturnType<typeof fingerprintAll>> = [];
  async setUp(lab: Lab): Promise<void> {
    this.taken = await fingerprintAll(lab.topology.nodes.map((n) => lab.host(`node/${n.name}`)));
  }
}

describe('real Kubernetes in the lab (control plane, kube-proxy in node namespaces)', function () {
  this.timeout(240_000);
  let env: KubeEnvironment;

  before(async function () {
    await requireKube(this);
    env = new KubeEnvironment({ slots: 1 });
  });
  after(async () => env?.close());

  async function up(
    topology: Topology,
    mode: 'iptables' | 'nftables' = 'iptables',
  ): Promise<{ lab: Lab; lease: SlotLease; stage: KubernetesStage; before: NodeFingerprints }> {
    const lease = await env.lease();
    const stage = lease.stage(mode);
    const before = new NodeFingerprints();
    try {
      const lab = await Lab.up(topology, { contributors: [nlbContributor], stages: [before, stage] });
      return { lab, lease, stage, before };
    } catch (e) {
      lease.release();
      throw e;
    }
  }

  for (const mode of ['iptables', 'nftables'] as const)
    it(`brings seed 003 up with real kube-proxy (${mode}); the host and the nodes' interfaces, routes, rules and sysctls stay as they were; nothing is left`, async () => {
      const runner = new CommandRunner();
      const host = rootNamespace(runner);
      const hostBefore = await fingerprintAll([host]);
      const topology = await loadTopology(`${repo}examples/seed-003-baseline.yaml`);
      const { lab, lease, stage, before } = await up(topology, mode);
      let cellDir = '';
      try {
        const kube = stage.live!;
        expect(kube.mode).to.equal(mode);
        // The objects, as kubectl would list them.
        const pods = await kube.api.core.listPodForAllNamespaces({
          labelSelector: `returnpath.io/lab=${lab.runId}`,
        });
        expect(pods.items.map((p) => `${p.metadata?.namespace}/${p.metadata?.name}`).sort()).to.deep.equal([
          'default/client-a',
          'default/client-b',
          'default/other-net',
          'demo/web-1',
          'demo/web-2',
        ]);
        expect((await kube.api.endpointsOf('demo', 'web')).map((e) => e.address).sort()).to.deep.equal([
          '10.0.1.50',
          '10.0.2.60',
        ]);
        // Each node's own kube-proxy rules, as the topology implies.
        for (const n of topology.nodes) {
          const dump = (await lab.host(`node/${n.name}`).run(proxyDumpCommand(mode))).stdout;
          const want = expectedProxyState(topology, n.name);
          expect(
            proxyStateDifferences(want, observedProxyState(mode, dump, want.keys())),
            n.name,
          ).to.deep.equal([]);
        }
        // Its health check node port, as the NLB sees it: 200 where the Local Service has an endpoint.
        const hc = async (node: string, address: string): Promise<string> =>
          (
            await lab
              .host(node)
              .run(['node', '-e', `fetch('http://${address}:32081/').then(r=>console.log(r.status))`], {
                allowFailure: true,
              })
          ).stdout.trim();
        expect(await hc('node-b', '10.0.1.10')).to.equal('200');
        expect(await hc('node-a', '10.0.2.10')).to.equal('503');
        // The node namespaces got rules, nothing else: no interface, address, route, policy rule, sysctl.
        const after = await fingerprintAll(topology.nodes.map((n) => lab.host(`node/${n.name}`)));
        const changed = diffFingerprints(before.taken, after).filter(
          (d) => d.section !== 'iptables' && d.section !== 'nftables',
        );
        expect(changed, formatDifferences(changed)).to.deep.equal([]);
        cellDir = kube.kubeProxies[0]!.healthzSocket.split('/').slice(0, -2).join('/');
        await access(cellDir);
      } finally {
        await lab.down();
        lease.release();
      }
      // The cell's objects are gone from the apiserver, its scratch directory from the disk.
      const api = (await env.lease()) as SlotLease;
      try {
        const { ClusterApi } = await import('./cluster-api.js');
        const left = new ClusterApi(await api.slot.adminConfig());
        expect(
          (await left.core.listPodForAllNamespaces({ labelSelector: 'returnpath.io/lab' })).items,
        ).to.deep.equal([]);
        expect((await left.core.listNode({ labelSelector: 'returnpath.io/lab' })).items).to.deep.equal([]);
        expect(
          (await left.networking.listServiceCIDR({ labelSelector: 'returnpath.io/lab' })).items,
        ).to.deep.equal([]);
      } finally {
        api.release();
      }
      await access(cellDir).then(
        () => expect.fail(`${cellDir} left behind`),
        () => undefined,
      );
      const hostDiff = diffFingerprints(hostBefore, await fingerprintAll([host]));
      expect(hostDiff, formatDifferences(hostDiff)).to.deep.equal([]);
    });

  it("takes each cell's Service CIDR as a ServiceCIDR object: two Service ranges, one after the other, on one apiserver", async () => {
    for (const [serviceCIDR, ip] of [
      ['10.100.0.0/16', '10.100.7.7'],
      ['172.30.0.0/16', '172.30.7.7'],
    ] as const) {
      const doc = await exampleDoc('seed-003-baseline');
      doc['cluster'] = { serviceCIDR };
      (doc['services'] as Record<string, unknown>[])[0]!['clusterIP'] = ip;
      (doc['services'] as Record<string, unknown>[])[1]!['clusterIP'] = ip.replace(/\.7$/, '.8');
      const { lab, lease, stage } = await up(validateTopology(doc));
      try {
        const svc = await stage.live!.api.core.readNamespacedService({ name: 'web', namespace: 'demo' });
        expect(svc.spec?.clusterIP).to.equal(ip);
      } finally {
        await lab.down();
        lease.release();
      }
    }
  });

  it('a readiness flip goes through the EndpointSlice controller and every kube-proxy, and back', async () => {
    const { lab, lease, stage } = await up(await loadTopology(`${repo}examples/seed-003-baseline.yaml`));
    try {
      const kube = stage.live!;
      await kube.setPodReady('web-2', false);
      await kube.waitSynced();
      expect(
        (await kube.api.endpointsOf('demo', 'web')).filter((e) => e.ready).map((e) => e.address),
      ).to.deep.equal(['10.0.1.50']);
      const nat = (await lab.host('node-c').run(['iptables-save', '-t', 'nat'])).stdout;
      expect(nat).to.not.include('10.0.2.60:8080');
      await kube.setPodReady('web-2', true);
      await kube.waitSynced();
      expect((await lab.host('node-c').run(['iptables-save', '-t', 'nat'])).stdout).to.include(
        '10.0.2.60:8080',
      );
    } finally {
      await lab.down();
      lease.release();
    }
  });

  it('a kube-proxy that dies during a cell makes it an error with its last log lines; the next cell runs', async () => {
    const doc = await exampleDoc('seed-003-baseline');
    const cell: CellSpec = {
      suite: 'test',
      id: 'kube-proxy-dies',
      title: 'NodePort while kube-proxy dies',
      seeds: ['003'],
      configuration: {},
      topology: doc,
      flow: { from: 'laptop', to: { service: 'demo/web', via: 'nodePort', node: 'node-a' }, attempts: 20 },
      expect: { outcome: { kind: 'all', outcome: 'connected' } },
      pathWorks: true,
      explanation: 'kube-proxy is killed before the probe: the cell must end as an error naming it.',
    };
    const dead = await runCell(cell, {
      kube: env,
      // beforeProbe runs once the lab is up, just before the probe: kill node-a's kube-proxy there.
      beforeProbe: async () => {
        const pids = await readdir('/proc');
        for (const p of pids) {
          const cmd = await readFile(`/proc/${p}/cmdline`, 'utf8').catch(() => '');
          if (cmd.includes('kube-proxy') && cmd.includes('--hostname-override=node-a'))
            process.kill(Number(p), 'SIGKILL');
        }
        await new Promise((r) => setTimeout(r, 200));
      },
    });
    expect(dead.status, dead.reason).to.equal('error');
    expect(dead.error).to.match(/kube-proxy on node-a exited \(signal SIGKILL\)/);
    expect(dead.error).to.match(/last log lines:\n {4}\S/);
    const next = await runCell(cell, { kube: env });
    expect(next.status, next.error ?? next.reason).to.equal('pass');
    expect(next.kubeProxy).to.deep.include({ implementation: 'real', mode: 'iptables', detectLocal: 'none' });
  });

  it('a dead apiserver is an error for its cell; the environment starts a new control plane for the next', async () => {
    const doc = await exampleDoc('seed-003-baseline');
    const cell: CellSpec = {
      suite: 'test',
      id: 'apiserver-dies',
      title: 'ClusterIP while the apiserver dies',
      seeds: ['003'],
      configuration: {},
      topology: doc,
      flow: { from: 'client-a', to: { service: 'demo/web', via: 'clusterIP' }, attempts: 10 },
      expect: { outcome: { kind: 'all', outcome: 'connected' } },
      pathWorks: true,
      explanation: 'the apiserver is killed before the probe: the cell must end as an error naming it.',
    };
    const cp = await env.controlPlane();
    const dead = await runCell(cell, {
      kube: env,
      beforeProbe: async () => {
        process.kill(cp.slots[0]!.apiserver.pid, 'SIGKILL');
        await cp.slots[0]!.apiserver.exited;
      },
    });
    expect(dead.status).to.equal('error');
    expect(dead.error).to.match(/kube-apiserver\.slot0 exited/);
    const next = await runCell(cell, { kube: env });
    expect(next.status, next.error ?? next.reason).to.equal('pass');
    expect((await env.controlPlane()).id).to.not.equal(cp.id);
  });
});

describe('real Kubernetes left up and swept (lab up --kubernetes, lab down, lab clean)', function () {
  this.timeout(240_000);
  before(async function () {
    await requireKube(this);
  });

  const cli = (args: string[]): Promise<{ code: number; out: string }> =>
    new Promise((resolve) => {
      const child = spawn(process.execPath, [`${repo}bin/returnpath.js`, ...args], {
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      let out = '';
      child.stdout.on('data', (d: Buffer) => (out += d.toString()));
      child.stderr.on('data', (d: Buffer) => (out += d.toString()));
      child.on('exit', (code) => resolve({ code: code ?? 1, out }));
    });

  it('lab up --kubernetes prints a kubeconfig that lists the lab; kube-proxy rules in a node; lab down leaves nothing', async () => {
    const up = await cli(['lab', 'up', `${repo}examples/seed-003-baseline.yaml`, '--kubernetes']);
    expect(up.code, up.out).to.equal(0);
    const runId = /^run ([0-9a-f]{6}):/m.exec(up.out)![1]!;
    const kubeconfig = /^kubeconfig: (\S+)$/m.exec(up.out)![1]!;
    try {
      const { KubeConfig, CoreV1Api, DiscoveryV1Api } = await import('@kubernetes/client-node');
      const kc = new KubeConfig();
      kc.loadFromFile(kubeconfig);
      const pods = await kc.makeApiClient(CoreV1Api).listPodForAllNamespaces();
      expect(pods.items.map((p) => p.metadata?.name).sort()).to.deep.equal([
        'client-a',
        'client-b',
        'other-net',
        'web-1',
        'web-2',
      ]);
      const slices = await kc
        .makeApiClient(DiscoveryV1Api)
        .listNamespacedEndpointSlice({ namespace: 'demo' });
      expect(slices.items.length).to.equal(2);
      const save = await cli(['lab', 'exec', runId, 'node-a', '--', 'iptables-save', '-t', 'nat']);
      expect(save.out).to.match(/^-A KUBE-SVC-\S+ .*demo\/web:http -> 10\.0\.2\.60:8080/m);
    } finally {
      const down = await cli(['lab', 'down', runId]);
      expect(down.code, down.out).to.equal(0);
      expect(down.out).to.match(/and its control plane/);
    }
    await access(kubeconfig).then(
      () => expect.fail(`${kubeconfig} left behind`),
      () => undefined,
    );
    const { readKubeState } = await import('./state.js');
    expect(await readKubeState(runId)).to.equal(undefined);
  });

  it('lab clean stops the control plane of a run whose process died, and removes its directory', async () => {
    // A run's process starts a control plane and dies (SIGKILL: nothing of it runs its teardown).
    const script = `
      const { ControlPlane } = await import(${JSON.stringify(`${repo}dist/lib/kube/control-plane.js`)});
      const { KubeEnvironment } = await import(${JSON.stringify(`${repo}dist/lib/kube/environment.js`)});
      const b = await new KubeEnvironment({ slots: 1 }).binaries();
      const cp = await ControlPlane.start({ slots: 1, binaries: b, version: b.version });
      console.log('ready ' + cp.id + ' ' + cp.dir + ' ' + cp.components().map((c) => c.pid).join(','));
      setInterval(() => {}, 1000);`;
    const child = spawn(process.execPath, ['--input-type=module', '-e', script], {
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    const line = await new Promise<string>((resolve, reject) => {
      let out = '';
      child.stdout.on('data', (d: Buffer) => {
        out += d.toString();
        const m = /^ready .*$/m.exec(out);
        if (m) resolve(m[0]);
      });
      child.on('exit', (code) => reject(new Error(`exited ${code}: ${out}`)));
    });
    const [, id, dir, pids] = line.split(' ') as [string, string, string, string];
    child.kill('SIGKILL');
    await new Promise((r) => child.once('exit', r));
    const alive = (pid: number): boolean => {
      try {
        process.kill(pid, 0);
        return true;
      } catch {
        return false;
      }
    };
    expect(pids.split(',').map(Number).filter(alive)).to.have.length.above(0);
    const { cleanControlPlanes } = await import('./state.js');
    const report = await cleanControlPlanes();
    expect(report.removed).to.include(id);
    expect(pids.split(',').map(Number).filter(alive)).to.deep.equal([]);
    await access(dir).then(
      () => expect.fail(`${dir} left behind`),
      () => undefined,
    );
  });
});
