/**
 * The lab stage that puts a cell on a real control plane slot: returnpath as the kubelet and the
 * cloud provider registers the topology's Nodes, Pods (with their status) and Services (with their
 * load balancer status), waits for the EndpointSlice controller, starts the real kube-proxy in
 * every node namespace and waits until each has written the Services' rules. Teardown (registered
 * as each piece is created) stops the kube-proxies and deletes the objects, waiting until the
 * deletions are observed, so the slot is clean for its next cell.
 */
import { mkdir, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { ValidationError, type ValidationProblem } from '../errors.js';
import type { Lab, LabStage } from '../lab/lab.js';
import { cidrContains, cidrsOverlap, parseCidr } from '../model/ip.js';
import type { Topology } from '../model/topology.js';
import type { DetectLocal, ProxyMode } from '../kube-proxy/config.js';
import { RealKubeProxy, RELAY_APISERVER_PORT } from '../kube-proxy/real.js';
import { ClusterApi } from './cluster-api.js';
import { CONTROL_PLANE_SERVICE_RANGE, type ControlPlaneSlot } from './control-plane.js';
import { LabKube } from './lab-kube.js';
import { clusterObjects, serveObjects } from './objects.js';

export interface KubernetesStageOptions {
  slot: ControlPlaneSlot;
  /** The kube-proxy binary of the pinned Kubernetes version. */
  kubeProxyBinary: string;
  version: string;
  mode: ProxyMode;
  /** Scratch directories go under it, one per lab (kube-proxy configs, logs, sockets); removed at teardown. */
  baseDir: string;
  /** The processes survive this one (`lab up --kubernetes`). */
  detached?: boolean;
  /**
   * Serve mode (`lab up --kubernetes --serve`): only the Nodes (and the topology's ServiceCIDR) are
   * registered, no Pods or Services: the topology's pods are the nodes' pod slots, and Pods and
   * Services come through the API from whoever creates them (lib/kube/serve). kube-proxy still
   * runs in every node.
   */
  serve?: boolean;
  timeoutMs?: number;
  log?: (line: string) => void;
}

/** Problems that keep a topology off a lab control plane (its own Service range is reserved). */
export function controlPlaneProblems(topology: Topology): ValidationProblem[] {
  const reserved = parseCidr(CONTROL_PLANE_SERVICE_RANGE);
  const problems: ValidationProblem[] = [];
  const why = `is inside ${CONTROL_PLANE_SERVICE_RANGE}, the lab apiserver's own Service range (its kubernetes Service); move it`;
  if (cidrsOverlap(topology.serviceCIDR, reserved))
    problems.push({
      path: 'cluster.serviceCIDR',
      value: topology.serviceCIDR.text,
      message: `overlaps ${CONTROL_PLANE_SERVICE_RANGE}, the lab apiserver's own Service range`,
    });
  topology.vpcCidrs.forEach((c, i) => {
    if (cidrsOverlap(c, reserved)) problems.push({ path: `vpc.cidrs[${i}]`, value: c.text, message: why });
  });
  topology.internetClients.forEach((c, i) => {
    if (cidrContains(reserved, c.address))
      problems.push({ path: `internet.clients[${i}].address`, value: c.address, message: why });
  });
  return problems;
}

export class KubernetesStage implements LabStage {
  readonly name: string;
  /** The live state, once set up (chaos faults act through it). */
  live: LabKube | undefined;

  constructor(private readonly o: KubernetesStageOptions) {
    this.name = `Kubernetes ${o.version} (real control plane, slot ${o.slot.index}; real kube-proxy, ${o.mode} mode${o.serve ? '; serve mode: Nodes only' : ''})`;
  }

  async setUp(lab: Lab): Promise<void> {
    const topology = lab.topology;
    const problems = controlPlaneProblems(topology);
    if (problems.length)
      throw new ValidationError(`topology ${topology.name} on a lab control plane`, problems);
    const t0 = performance.now();
    const log = (l: string): void => this.o.log?.(`${l} (${Math.round(performance.now() - t0)} ms)`);
    const slot = this.o.slot;
    const api = new ClusterApi(await slot.adminConfig(), {
      components: () => slot.components(),
      ...(this.o.timeoutMs && { timeoutMs: this.o.timeoutMs }),
    });
    const owner = lab.runId;
    // Short: unix socket paths under it must stay below 108 bytes.
    const dir = join(this.o.baseDir, lab.runId);
    await mkdir(dir, { recursive: true, mode: 0o700 });
    lab.defer(`scratch directory ${dir}`, () => rm(dir, { recursive: true, force: true }));
    lab.defer(`Kubernetes objects of lab ${owner}`, () => api.cleanup(owner));
    const objectOptions = { owner, apiserverServiceRange: CONTROL_PLANE_SERVICE_RANGE };
    if (this.o.serve) {
      await api.apply(serveObjects(topology, objectOptions), { kubelet: true });
      log(
        `${serveObjects(topology, objectOptions).nodes.length} Nodes of ${topology.name} registered (serve mode)`,
      );
    } else {
      await api.apply(clusterObjects(topology, objectOptions), { kubelet: true });
      log(`objects of ${topology.name} created`);
      // Starting kube-proxy after the EndpointSlices exist makes its first (full) sync the one that counts.
      await api.waitForEndpoints(topology);
      log('EndpointSlices published');
    }
    const kubeconfig = await slot.kubeconfig('kube-proxy', `https://127.0.0.1:${RELAY_APISERVER_PORT}`);
    const detectLocal: DetectLocal = topology.kubeProxy.detectLocal;
    // Serve mode registers only the hosts with a CNI as Nodes (objects.ts): kube-proxy runs on those.
    const kubeNodes = this.o.serve ? topology.nodes.filter((n) => n.cni.profile !== 'none') : topology.nodes;
    const started = await Promise.allSettled(
      kubeNodes.map((n) =>
        RealKubeProxy.start({
          exec: lab.host(`node/${n.name}`),
          nodeName: n.name,
          binary: this.o.kubeProxyBinary,
          dir: join(dir, n.name),
          kubeconfig,
          apiserverSocket: slot.socket,
          mode: this.o.mode,
          detectLocal,
          clusterCIDR: topology.clusterCIDR.text,
          ...(this.o.detached && { detached: true }),
        }),
      ),
    );
    const kubeProxies: RealKubeProxy[] = [];
    for (const r of started)
      if (r.status === 'fulfilled') {
        kubeProxies.push(r.value);
        lab.defer(`kube-proxy on ${r.value.nodeName}`, () => r.value.stop());
      }
    const failure = started.find((r): r is PromiseRejectedResult => r.status === 'rejected');
    if (failure) throw failure.reason;
    const live = new LabKube({
      // Serve mode: kube-proxy's first sync has no Service of the topology to write.
      topology: this.o.serve ? { ...topology, services: [], pods: [] } : topology,
      api,
      owner,
      mode: this.o.mode,
      version: this.o.version,
      kubeProxies,
      nodeExec: (node) => lab.host(`node/${node}`),
      controlPlane: () => slot.components(),
      ...(this.o.timeoutMs && { timeoutMs: this.o.timeoutMs }),
    });
    await live.waitSynced();
    for (const kp of kubeProxies) {
      kp.markSynced();
      if (kp.process.restarts > 0)
        log(
          `kube-proxy on ${kp.nodeName} crashed at start and was restarted ${kp.process.restarts}x (see ${kp.process.logFile})`,
        );
    }
    log(`kube-proxy synced on ${kubeProxies.length} nodes`);
    this.live = live;
  }
}
