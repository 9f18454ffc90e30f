/**
 * Integration: a real 2-node kind cluster on returnpath's own engine (real kubelet, containerd,
 * kube-proxy, CoreDNS), pods on both nodes reaching each other and a ClusterIP Service through
 * kube-proxy's rules, then deleted leaving the host as it was. Skips only when root or the built
 * components are absent.
 */
import * as k8s from '@kubernetes/client-node';
import { expect } from 'chai';
import { join } from 'node:path';
import { dockerCli, engine, findBuilt, kind, kindNode, runc } from '../components/index.js';
import { engineDataDir, engineRunDir } from '../engine/paths.js';
import { hostFootprint, type HostFootprint } from '../engine/host-footprint.js';
import { NotFoundError, ValidationError } from '../errors.js';
import { deleteCluster, KindCluster } from './cluster.js';
import type { KindNode } from './node-exec.js';
import {
  loadProbeImage,
  PROBE_IMAGE,
  PROBE_PORT,
  PROBE_REQUEST,
  PROBE_SERVER,
  probeAnswer,
  probeClient,
} from './probe-image.js';
import { kindStateDir, readClusterRecord, writeClusterRecord } from './records.js';
import { readdir } from 'node:fs/promises';
import { loadAgentImage } from './agent-image.js';
import { AGENT_COMMAND } from '../cluster/agent-cli.js';
import { agentImage } from '../cluster/manifests.js';
import type { PodExec } from '../cluster/pod-exec.js';
import { ClusterSession } from '../cluster/session.js';
import { TrafficAgent } from '../traffic/agent.js';
import { provenance } from '../version.js';

async function kindUnavailable(): Promise<string | undefined> {
  if (process.getuid?.() !== 0) return 'needs root (a private container engine)';
  const missing: string[] = [];
  for (const c of [engine, runc, dockerCli, kind, kindNode]) if (!(await findBuilt(c))) missing.push(c.name);
  return missing.length
    ? `components not built: ${missing.join(', ')} (returnpath components build)`
    : undefined;
}

describe("kind: a 2-node cluster on returnpath's engine [Slow]", function () {
  this.timeout(30 * 60_000);
  const log: string[] = [];
  let hostBefore: HostFootprint;
  let cluster: KindCluster | undefined;
  let runId: string;
  let nodes: KindNode[];
  let api: k8s.CoreV1Api;
  const ns = 'rp-probe';

  const footprint = (): Promise<HostFootprint> =>
    hostFootprint({
      // Other runs' lab namespaces come and go on a shared machine.
      ignoreNetns: new RegExp(`^rp-(?!${runId})[0-9a-f]{6}-`),
      mountRoots: [engineRunDir(`kind-${runId}`), engineDataDir(`kind-${runId}`)],
    });

  before(async function () {
    const why = await kindUnavailable();
    if (why) {
      console.log(`      skipped: ${why}`);
      this.skip();
    }
    runId = Math.floor(Math.random() * 0xffffff)
      .toString(16)
      .padStart(6, '0');
    hostBefore = await footprint();
    cluster = await KindCluster.up({ runId, workers: 1, log: (l) => log.push(l) });
    nodes = await cluster.nodes();
    const kc = new k8s.KubeConfig();
    kc.loadFromFile(cluster.kubeconfig);
    api = kc.makeApiClient(k8s.CoreV1Api);
  });

  afterEach(function () {
    if (this.currentTest?.state === 'failed') console.log(log.map((l) => `      | ${l}`).join('\n'));
  });

  after(async () => {
    if (cluster) await deleteCluster(cluster.name).catch(() => undefined);
  });

  it('has a control plane and a worker, both Ready, seen through the exported kubeconfig', async () => {
    expect(nodes.map((n) => n.role)).to.deep.equal(['control-plane', 'worker']);
    for (const n of nodes) {
      expect(n.pid).to.be.greaterThan(0);
      expect(n.address).to.match(/^\d+\.\d+\.\d+\.\d+$/);
    }
    const list = await api.listNode();
    const ready = list.items.map((n) => [
      n.metadata!.name,
      n.status!.conditions!.find((c) => c.type === 'Ready')!.status,
    ]);
    expect(ready).to.have.deep.members(nodes.map((n) => [n.name, 'True']));
    // The engine's bridge, its ports and published ports live in its own network namespace: while
    // the cluster runs, the host's links, addresses, routes, firewall and sysctls are as before.
    const during = await footprint();
    for (const k of ['links', 'addresses', 'routes', 'iptables', 'nft', 'forwardPolicy', 'sysctls'] as const)
      expect(during[k], k).to.deep.equal(hostBefore[k]);
    expect(during.netns).to.include(`rp-kind-${runId}`);
    const versions = list.items.map((n) => n.status!.nodeInfo!.kubeletVersion);
    expect(new Set(versions)).to.deep.equal(new Set(['v1.36.3']));
    expect(
      list.items.every((n) => n.status!.nodeInfo!.containerRuntimeVersion.startsWith('containerd://')),
    ).to.equal(true);
  });

  it('runs kube-proxy (iptables) and CoreDNS from the node image', async () => {
    const pods = await api.listNamespacedPod({ namespace: 'kube-system' });
    const names = pods.items.map((p) => p.metadata!.name!);
    expect(names.filter((n) => n.startsWith('kube-proxy-'))).to.have.length(2);
    expect(names.filter((n) => n.startsWith('coredns-'))).to.have.length.greaterThan(0);
    const cm = await api.readNamespacedConfigMap({ name: 'kube-proxy', namespace: 'kube-system' });
    expect(cm.data!['config.conf']).to.match(/^mode: iptables$/m);
  });

  it('pods on each node reach each other, and a ClusterIP Service reaches a pod on the other node through kube-proxy', async () => {
    await loadProbeImage(cluster!);
    await api.createNamespace({ body: { metadata: { name: ns, labels: { 'returnpath.run': runId } } } });
    const [cp, worker] = nodes as [KindNode, KindNode];
    const podOn = (name: string, node: KindNode): k8s.V1Pod => ({
      metadata: { name, namespace: ns, labels: { app: name } },
      spec: {
        nodeName: node.name,
        tolerations: [{ operator: 'Exists' }],
        containers: [
          {
            name: 'probe',
            image: PROBE_IMAGE,
            imagePullPolicy: 'Never',
            command: PROBE_SERVER,
            ports: [{ containerPort: PROBE_PORT }],
            readinessProbe: { httpGet: { path: '/', port: PROBE_PORT }, periodSeconds: 1 },
          },
        ],
      },
    });
    await api.createNamespacedPod({ namespace: ns, body: podOn('on-cp', cp) });
    await api.createNamespacedPod({ namespace: ns, body: podOn('on-worker', worker) });
    const ips = new Map<string, string>();
    for (const name of ['on-cp', 'on-worker'])
      ips.set(
        name,
        await waitUntil(`pod ${name} Ready`, async () => {
          const p = await api.readNamespacedPod({ name, namespace: ns });
          const ready = p.status?.conditions?.some((c) => c.type === 'Ready' && c.status === 'True');
          return ready && p.status?.podIP ? p.status.podIP : undefined;
        }),
      );
    const exec = async (pod: string, argv: string[], input?: string): Promise<string> =>
      (
        await cluster!.kubectl(['exec', '-i', '-n', ns, pod, '--', ...argv], { input: input ?? '' })
      ).stdout.trim();
    const probe = async (pod: string, address: string, port = PROBE_PORT): Promise<string | undefined> =>
      probeAnswer(await exec(pod, probeClient(address, port), PROBE_REQUEST));

    // Pod to pod, both ways, across the two nodes (the stand-in CNI's routes).
    expect(await probe('on-cp', ips.get('on-worker')!)).to.equal('on-worker');
    expect(await probe('on-worker', ips.get('on-cp')!)).to.equal('on-cp');

    // A ClusterIP Service whose only endpoint is on the other node.
    for (const [svc, target] of [
      ['to-worker', 'on-worker'],
      ['to-cp', 'on-cp'],
    ] as const)
      await api.createNamespacedService({
        namespace: ns,
        body: {
          metadata: { name: svc, namespace: ns },
          spec: { selector: { app: target }, ports: [{ port: 80, targetPort: PROBE_PORT }] },
        },
      });
    for (const [svc, client, target, clientNode] of [
      ['to-worker', 'on-cp', 'on-worker', cp],
      ['to-cp', 'on-worker', 'on-cp', worker],
    ] as const) {
      const ip = (await api.readNamespacedService({ name: svc, namespace: ns })).spec!.clusterIP!;
      // kube-proxy has programmed the Service on the client's node: its DNAT to the endpoint exists.
      await waitUntil(`kube-proxy's rules for ${svc} on ${clientNode.name}`, async () => {
        const nat = (await cluster!.nodeExec(clientNode).run(['iptables-save', '-t', 'nat'])).stdout;
        const svcRule = nat.split('\n').some((l) => l.includes(`-d ${ip}/32`) && l.includes('-j KUBE-SVC-'));
        const sepRule = nat
          .split('\n')
          .some((l) => l.includes(`--to-destination ${ips.get(target)}:${PROBE_PORT}`));
        return svcRule && sepRule ? true : undefined;
      });
      expect(await probe(client, ip, 80)).to.equal(target);
    }
    // CoreDNS answers the Service's name from a pod.
    expect(await exec('on-cp', ['/bin/busybox', 'nslookup', `to-worker.${ns}.svc.cluster.local`])).to.include(
      (await api.readNamespacedService({ name: 'to-worker', namespace: ns })).spec!.clusterIP!,
    );
  });

  it("runs the kubeconfig backend's agents on kind's kubelet and containerd: exec, evidence, traffic", async () => {
    const image = await loadAgentImage(cluster!, { log: (l) => log.push(l) });
    expect(image).to.equal(agentImage(provenance().version));
    const kc = new k8s.KubeConfig();
    kc.loadFromFile(cluster!.kubeconfig);
    const namespace = `rp-${runId}`;
    const session = await ClusterSession.open({
      kc,
      kubeconfigPath: cluster!.kubeconfig,
      run: runId,
      namespace,
      version: provenance().version,
      log: (l) => log.push(l),
    });
    const agents: TrafficAgent[] = [];
    try {
      const [cp, worker] = nodes as [KindNode, KindNode];
      const [onCp, onWorker] = await Promise.all([
        session.nodeAgent(cp.name),
        session.nodeAgent(worker.name),
      ]);
      // Evidence: the node's addresses and kube-proxy's rules, read in the node's network namespace
      // through the real kubelet's exec.
      expect((await onWorker.run(['ip', '-4', '-o', 'addr', 'show'])).stdout).to.include(
        ` ${worker.address}/`,
      );
      expect((await onWorker.run(['iptables-save', '-t', 'nat'])).stdout).to.include('-A KUBE-SERVICES');
      expect(await session.proxyMode(worker.name)).to.equal('iptables');
      // Traffic: the worker protocol over exec streams, a server on one node, probes from the other.
      const start = (exec: PodExec): Promise<TrafficAgent> =>
        TrafficAgent.start(exec, {
          name: exec.host,
          commands: { worker: [AGENT_COMMAND, 'worker'], probe: [AGENT_COMMAND, 'probe'] },
        });
      const server = await start(onCp);
      agents.push(server);
      await server.startServer({ name: 'on-control-plane', kind: 'http', port: 18080 });
      const client = await start(onWorker);
      agents.push(client);
      const r = await client.probe({
        kind: 'http',
        host: cp.address,
        port: 18080,
        attempts: 8,
        deadlineMs: 2000,
      });
      expect(r.attempts.map((x) => [x.outcome, x.server])).to.deep.equal(
        Array.from({ length: 8 }, () => ['connected', 'on-control-plane']),
      );
    } finally {
      for (const a of agents) await a.close();
      await session.close();
    }
    const left = await api.listNamespace();
    expect(left.items.map((n) => n.metadata!.name)).to.not.include(namespace);
  });

  it('refuses a second cluster of the same name, and a cluster whose nodes it did not make', async () => {
    const name = cluster!.name;
    const e = await KindCluster.up({ name, workers: 1 }).then(
      () => undefined,
      (x: unknown) => x,
    );
    expect(e).to.be.instanceOf(ValidationError);
    expect((e as Error).message).to.match(/in use by process|already exists/);
    expect(await deleteCluster('rp-no-such').catch((x: unknown) => x)).to.be.instanceOf(NotFoundError);
    const r = (await readClusterRecord(name))!;
    await writeClusterRecord({ ...r, nodeContainerIds: ['0'.repeat(64)] });
    try {
      const refused = await deleteCluster(name).catch((x: unknown) => x);
      expect(refused).to.be.instanceOf(ValidationError);
      expect((refused as Error).message).to.include('not the ones returnpath made');
      expect((await cluster!.nodes()).length).to.equal(2);
    } finally {
      await writeClusterRecord(r);
    }
  });

  it('is deleted leaving the host as it was: links, addresses, routes, namespaces, firewall, sysctls, directories, cgroups, mounts', async () => {
    const name = cluster!.name;
    const report = await deleteCluster(name, { log: (l) => log.push(l) });
    cluster = undefined;
    const state = await readdir(kindStateDir());
    expect(state).to.not.include(`${name}.json`);
    expect(state).to.not.include(`.${name}.lock`);
    expect(report.steps.join('\n')).to.match(/kind delete cluster/);
    const after = await footprint();
    expect(after).to.deep.equal(hostBefore);
    expect(after.paths[join('/lib', 'modules')]).to.equal(hostBefore.paths['/lib/modules']);
  });
});

async function waitUntil<T>(
  what: string,
  probe: () => Promise<T | undefined>,
  timeoutMs = 180_000,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last = '';
  for (;;) {
    const v = await probe().catch((e: unknown) => {
      last = (e as Error).message;
      return undefined;
    });
    if (v !== undefined) return v;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}${last ? `: ${last}` : ''}`);
    await new Promise((r) => setTimeout(r, 500));
  }
}
