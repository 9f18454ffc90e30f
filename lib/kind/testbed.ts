/**
 * A kind cluster made into returnpath's test bed for one group of cells (`run --kind`): kind's real
 * kubelet, containerd and kube-proxy, on nodes joined to returnpath's emulated VPC.
 *
 * - The cluster: one control plane, outside the VPC as EKS's is, and one worker per node of the
 *   topology, registered under the node's name (kubeadm's nodeRegistration.name), with the
 *   cluster's pod and Service CIDRs and kube-proxy's mode.
 * - Each worker's network namespace is adopted by the lab (lib/lab: attached, never killed). kind's
 *   `eth0` becomes `kind0`, its address of scope link (the kubelet keeps its way to the API server
 *   over the kind network; no other traffic takes that address as its source) so the VPC's ENIs
 *   take `eth0`, `eth1`... and the default route, as on EC2. The lab builds the VPC
 *   fabric, the NLB nodes and the internet clients around them, and the node's sysctls.
 * - The CNI is the real VPC CNI (lib/cni/real/kind-node.ts), run by kind's kubelet for every pod.
 * - The kubelet's node IP becomes the node's primary ENI address (Nodes' InternalIP, the NLB's
 *   instance targets); the control plane reaches it by a host route over the kind network.
 * - kube-proxy's local-traffic detector is the topology's (its ConfigMap's clusterCIDR).
 * - returnpath's agent image is loaded; the lab's cloud provider (the AWS Load Balancer
 *   Controller's role) watches the cluster's LoadBalancer Services and programs the lab's NLBs.
 *
 * Everything is registered for teardown as it is made and removed in reverse order; a crash
 * leaves a cluster and a lab that `kind clean` removes together (the lab first, its namespaces
 * only detached).
 */
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { KubeConfig } from '@kubernetes/client-node';
import { parse, stringify } from 'yaml';
import { kindCniProblem, kindVpcCniStage } from '../cni/real/kind-node.js';
import { ValidationError } from '../errors.js';
import { ClusterApi } from '../kube/cluster-api.js';
import { LabCloudProvider } from '../kube/serve/cloud-provider.js';
import { Disposer } from '../lab/disposer.js';
import { Lab } from '../lab/lab.js';
import type { Topology } from '../model/topology.js';
import { ZONE_LABEL } from '../nlb/annotations.js';
import { nlbContributor } from '../nlb/plan.js';
import { AgentImageArchive } from './agent-image.js';
import { internalIP, KindCluster, type KindNode } from './cluster.js';
import {
  DEFAULT_KIND_CONFIG,
  loadKindConfig,
  renderKindConfig,
  type KindClusterConfig,
  type KubeProxyMode,
} from './config.js';

/** kind's interface on its own network, renamed so the VPC's ENIs can be eth0, eth1, ... */
export const KIND_LINK = 'kind0';

/** Why a test bed's topology cannot be a kind cluster, one line each; empty when it can. */
export function kindBedProblems(topology: Topology): string[] {
  const out = topology.nodes.map(kindCniProblem).filter((p): p is string => p !== undefined);
  if (topology.nodes.filter((n) => n.cni.profile !== 'none').length > 9)
    out.push('more than 9 Kubernetes nodes (kind names at most 9 workers in order)');
  return out;
}

/** The kind configuration of a test bed: returnpath's base (kind-config/cluster.yaml) shaped by the topology. */
export async function kindBedConfig(
  topology: Topology,
  name: string,
  mode: KubeProxyMode,
): Promise<KindClusterConfig> {
  const base = await loadKindConfig(DEFAULT_KIND_CONFIG, { name, kubeProxyMode: mode });
  return {
    ...base,
    networking: {
      ...base.networking,
      podSubnet: topology.clusterCIDR.text,
      serviceSubnet: topology.serviceCIDR.text,
    },
    nodes: [
      { role: 'control-plane' },
      ...topology.nodes
        .filter((n) => n.cni.profile !== 'none')
        .map((n) => ({
          role: 'worker' as const,
          kubeadmConfigPatches: [
            stringify({ kind: 'JoinConfiguration', nodeRegistration: { name: n.name } }),
          ],
        })),
    ],
  };
}

export interface KindTestbedOptions {
  /** The test bed's validated topology (lib/cluster/testbed-topology.ts). */
  topology: Topology;
  /** Six hex digits: the lab's run id and the cluster's (`rp-RUN`). */
  runId: string;
  /** The namespace the run's pods live in (the stand-in for ipamd answers for them only). */
  podNamespace: string;
  /** The agent image, built once for a run that makes several test beds (default: built for this one). */
  agentImage?: AgentImageArchive;
  mode?: KubeProxyMode;
  log?: (line: string) => void;
  signal?: AbortSignal;
}

/** Seconds each part of making a test bed took. */
export interface TestbedTimings {
  /** The kind cluster, created (kind create cluster, its engine and node image). */
  cluster: number;
  /** The lab around the nodes, the VPC CNI, the kubelets' node IP, kube-proxy's detector, nodes Ready. */
  join: number;
  /** The agent image built and loaded into the nodes. */
  agentImage: number;
  total: number;
}

export class KindTestbed {
  private constructor(
    readonly cluster: KindCluster,
    readonly lab: Lab,
    readonly topology: Topology,
    private readonly undo: Disposer,
    readonly timings: TestbedTimings,
  ) {}

  get kubeconfig(): string {
    return this.cluster.kubeconfig;
  }

  static async up(o: KindTestbedOptions): Promise<KindTestbed> {
    const { topology, runId } = o;
    const log = o.log ?? (() => undefined);
    const problems = kindBedProblems(topology);
    if (problems.length > 0)
      throw new ValidationError(
        `topology ${topology.name} on kind`,
        problems.map((message) => ({ path: 'nodes', value: topology.name, message })),
      );
    const undo = new Disposer();
    const t0 = performance.now();
    const since = (t: number): number => Math.round((performance.now() - t) / 100) / 10;
    try {
      const dir = await mkdtemp(join(tmpdir(), 'rp-kind-bed-'));
      undo.defer('test bed files', () => rm(dir, { recursive: true, force: true }));
      const configFile = join(dir, 'kind.yaml');
      await writeFile(
        configFile,
        renderKindConfig(await kindBedConfig(topology, `rp-${runId}`, o.mode ?? 'iptables')),
      );
      const cluster = await KindCluster.up({
        runId,
        name: `rp-${runId}`,
        config: configFile,
        // No stand-in CNI: its routes to other nodes' podCIDRs over the kind network would shadow
        // the VPC's. The VPC CNI makes the nodes Ready.
        skipCni: true,
        log,
        ...(o.signal && { signal: o.signal }),
      });
      undo.defer(`kind cluster ${cluster.name}`, async () => {
        await cluster.delete(log);
      });
      const clusterSeconds = since(t0);
      const tj = performance.now();
      const workers = await nodesByName(cluster, topology);
      const adopt = Object.fromEntries([...workers].map(([name, k]) => [`node/${name}`, k.pid]));
      for (const k of workers.values()) await renameKindLink(cluster, k);
      const roots = new Map([...workers].map(([name, k]) => [name, `/proc/${k.pid}/root`]));
      // Pods and Services are the cluster's (made through its API); the lab is the VPC around the
      // nodes, which routes the pods' addresses to their ENIs.
      const lab = await Lab.up(
        { ...topology, services: [] },
        {
          runId,
          adopt,
          clusterPods: true,
          contributors: [nlbContributor],
          stages: [kindVpcCniStage(topology, roots, o.podNamespace)],
          log,
        },
      );
      undo.defer(`lab ${runId}`, () => lab.down());
      log(`lab ${runId}: the VPC, NLB nodes and internet clients around ${[...workers.keys()].join(', ')}`);
      await becomeVpcNodes(cluster, topology, workers);
      await setDetectLocal(cluster, topology, log);
      await waitVpcNodes(cluster, topology, log, o.signal);
      const joinSeconds = since(tj);
      const ta = performance.now();
      // The agent pods run on the topology's nodes only.
      const agentImage = o.agentImage ?? new AgentImageArchive({ log });
      try {
        await agentImage.loadInto(
          cluster,
          [...workers.values()].map((k) => k.name),
        );
      } finally {
        if (!o.agentImage) await agentImage.close();
      }
      const agentSeconds = since(ta);
      const kc = new KubeConfig();
      kc.loadFromFile(cluster.kubeconfig);
      const provider = new LabCloudProvider({
        api: new ClusterApi(kc),
        lab,
        topology,
        log,
      });
      await provider.start();
      undo.defer('cloud provider', () => provider.stop());
      return new KindTestbed(cluster, lab, topology, undo, {
        cluster: clusterSeconds,
        join: joinSeconds,
        agentImage: agentSeconds,
        total: since(t0),
      });
    } catch (e) {
      await undo.dispose().catch((d: unknown) => log(`teardown: ${(d as Error).message}`));
      throw e;
    }
  }

  async close(): Promise<void> {
    await this.undo.dispose();
  }
}

/** The worker container of each Kubernetes node of the topology (by the Node's address on the kind network). */
async function nodesByName(cluster: KindCluster, topology: Topology): Promise<Map<string, KindNode>> {
  const containers = await cluster.nodes();
  const objects = await cluster.nodeObjects();
  const out = new Map<string, KindNode>();
  for (const n of topology.nodes.filter((x) => x.cni.profile !== 'none')) {
    const o = objects.find((x) => x.metadata.name === n.name);
    const c = containers.find((x) => o && x.address === internalIP(o));
    if (!c) throw new Error(`kind cluster ${cluster.name}: no worker registered as node ${n.name}`);
    out.set(n.name, c);
  }
  return out;
}

/**
 * kind's `eth0` becomes `kind0`, its address of scope link: the kubelet keeps its way to the API
 * server (the prefix route keeps its source), but the address is never chosen for traffic
 * leaving elsewhere. Without that, a masquerade out of an interface without an address (a pod's
 * host veth) would take it, as the first address of the namespace, where an EC2 node takes eth0's.
 */
async function renameKindLink(cluster: KindCluster, k: KindNode): Promise<void> {
  const net = cluster.nodeNetExec(k);
  const shown = JSON.parse((await net.run(['ip', '-j', '-4', 'addr', 'show', 'dev', 'eth0'])).stdout) as {
    addr_info?: { local: string; prefixlen: number }[];
  }[];
  const addr = shown[0]?.addr_info?.[0];
  if (!addr) throw new Error(`kind node ${k.name}: eth0 has no IPv4 address`);
  const cidr = `${addr.local}/${addr.prefixlen}`;
  await net.run(['ip', '-batch', '-'], {
    input: [
      'link set dev eth0 down',
      `link set dev eth0 name ${KIND_LINK}`,
      `addr del ${cidr} dev ${KIND_LINK}`,
      `addr add ${cidr} dev ${KIND_LINK} scope link`,
      `link set dev ${KIND_LINK} up`,
    ]
      .map((l) => `${l}\n`)
      .join(''),
  });
}

/**
 * The kubelet's node IP becomes the primary ENI's address, the zone label the topology's; the
 * control plane reaches each node's address over the kind network.
 */
async function becomeVpcNodes(
  cluster: KindCluster,
  topology: Topology,
  workers: ReadonlyMap<string, KindNode>,
): Promise<void> {
  const cp = (await cluster.nodes()).find((n) => n.role === 'control-plane')!;
  await cluster.nodeNetExec(cp).run(['ip', '-batch', '-'], {
    input: [...workers]
      .map(([name, k]) => `route replace ${nodeAddress(topology, name)}/32 via ${k.address}\n`)
      .join(''),
  });
  for (const [name, k] of workers) {
    await cluster.exec(k.containerId, [
      'sed',
      '-i',
      '-E',
      `s/--node-ip=[^ "]*/--node-ip=${nodeAddress(topology, name)}/`,
      '/var/lib/kubelet/kubeadm-flags.env',
    ]);
    await cluster.exec(k.containerId, ['systemctl', 'restart', 'kubelet']);
    const zone = topology.nodes.find((n) => n.name === name)!.zone;
    await cluster.kubectl(['label', 'node', name, `${ZONE_LABEL}=${zone}`, '--overwrite']);
  }
}

function nodeAddress(topology: Topology, name: string): string {
  return topology.nodes.find((n) => n.name === name)!.address;
}

/**
 * kube-proxy's local-traffic detector as the topology says: `clusterCIDR` in its ConfigMap (empty:
 * EKS's no-op detector); its pods restarted to read it.
 */
async function setDetectLocal(
  cluster: KindCluster,
  topology: Topology,
  log: (l: string) => void,
): Promise<void> {
  const cm = JSON.parse(
    (await cluster.kubectl(['-n', 'kube-system', 'get', 'configmap', 'kube-proxy', '-o', 'json'])).stdout,
  ) as {
    data: Record<string, string>;
  };
  const conf = parse(cm.data['config.conf'] ?? '') as Record<string, unknown>;
  const want = topology.kubeProxy.detectLocal === 'clusterCIDR' ? topology.clusterCIDR.text : '';
  if (conf['clusterCIDR'] === want) return;
  conf['clusterCIDR'] = want;
  cm.data['config.conf'] = stringify(conf);
  await cluster.kubectl(['replace', '-f', '-'], { input: JSON.stringify(cm) });
  await cluster.kubectl(['-n', 'kube-system', 'delete', 'pods', '-l', 'k8s-app=kube-proxy', '--wait=true']);
  await cluster.kubectl(['-n', 'kube-system', 'rollout', 'status', 'daemonset/kube-proxy', '--timeout=300s']);
  log(`kube-proxy: local-traffic detector ${topology.kubeProxy.detectLocal} (clusterCIDR "${want}")`);
}

/** Waits until every node of the topology is Ready with its VPC address and zone. */
async function waitVpcNodes(
  cluster: KindCluster,
  topology: Topology,
  log: (l: string) => void,
  signal?: AbortSignal,
): Promise<void> {
  const nodes = topology.nodes.filter((n) => n.cni.profile !== 'none');
  await cluster.waitFor(
    `nodes ${nodes.map((n) => n.name).join(', ')} are Ready on their VPC addresses`,
    300_000,
    async () => {
      const objects = await cluster.nodeObjects();
      const ok = nodes.every((n) => {
        const o = objects.find((x) => x.metadata.name === n.name);
        return (
          o !== undefined &&
          internalIP(o) === n.address &&
          o.metadata.labels?.[ZONE_LABEL] === n.zone &&
          (o.status?.conditions ?? []).some((c) => c.type === 'Ready' && c.status === 'True')
        );
      });
      return ok ? true : undefined;
    },
    log,
    signal,
  );
}
