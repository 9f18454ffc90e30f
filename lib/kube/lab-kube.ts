/**
 * A live lab on a real control plane: the topology's objects in the apiserver, a real kube-proxy
 * in every node namespace, and what returnpath (as the kubelet) has changed since: pods reported
 * not Ready, Service membership changed. Chaos faults act through it; every change is followed
 * by `waitSynced()`: the EndpointSlice controller published it and every kube-proxy wrote it.
 */
import { PatchStrategy, setHeaderOptions } from '@kubernetes/client-node';
import type { NetnsExec } from '../exec/netns.js';
import type { Pod, Service, Topology } from '../model/topology.js';
import type { ProxyMode } from '../kube-proxy/config.js';
import type { RealKubeProxy } from '../kube-proxy/real.js';
import {
  expectedProxyState,
  observedProxyState,
  proxyDumpCommand,
  proxyStateDifferences,
} from '../kube-proxy/sync.js';
import type { ClusterApi } from './cluster-api.js';
import type { ComponentProcess } from './component-process.js';
import { podObject, podStatus, serviceSelectorLabel } from './objects.js';
import { done, notYet, waitFor } from './wait.js';

export interface LabKubeOptions {
  topology: Topology;
  api: ClusterApi;
  owner: string;
  mode: ProxyMode;
  version: string;
  kubeProxies: RealKubeProxy[];
  /** The node namespaces, by node name (to read kube-proxy's rules). */
  nodeExec: (node: string) => NetnsExec;
  /** The control plane components this lab depends on. */
  controlPlane: () => readonly ComponentProcess[];
  timeoutMs?: number;
}

export class LabKube {
  readonly topology: Topology;
  readonly api: ClusterApi;
  readonly owner: string;
  readonly mode: ProxyMode;
  readonly version: string;
  private readonly notReady = new Set<string>();
  /** Service (`ns/name`) → pod names backing it, when changed from the topology. */
  private readonly membership = new Map<string, string[]>();

  constructor(private readonly o: LabKubeOptions) {
    this.topology = o.topology;
    this.api = o.api;
    this.owner = o.owner;
    this.mode = o.mode;
    this.version = o.version;
  }

  get kubeProxies(): readonly RealKubeProxy[] {
    return this.o.kubeProxies;
  }

  /** Every process the lab's traffic depends on: the control plane's and the kube-proxies (with relays). */
  components(): ComponentProcess[] {
    return [...this.o.controlPlane(), ...this.o.kubeProxies.flatMap((k) => k.components())];
  }

  /** The topology as it now is: endpoints are the Service's members that are Ready. */
  effectiveTopology(): Topology {
    const podByName = new Map(this.topology.pods.map((p) => [p.name, p]));
    return {
      ...this.topology,
      services: this.topology.services.map((s) => {
        const members = this.membership.get(serviceRef(s));
        const pods = members ? members.map((n) => podByName.get(n)!) : s.endpoints;
        return { ...s, endpoints: pods.filter((p) => !this.notReady.has(p.name)) };
      }),
    };
  }

  /** Endpoint pods of a Service now (members, Ready or not). */
  members(service: Service): string[] {
    return this.membership.get(serviceRef(service)) ?? service.endpoints.map((p) => p.name);
  }

  isReady(pod: string): boolean {
    return !this.notReady.has(pod);
  }

  /** Reports `pod` Ready or not Ready (in every namespace it exists in), as its kubelet would. */
  async setPodReady(pod: string, ready: boolean): Promise<void> {
    const objects = await this.api.podsNamed(pod, this.owner);
    if (objects.length === 0) throw new Error(`no Pod ${pod} of lab ${this.owner} in the apiserver`);
    await Promise.all(
      objects.map((p) => this.api.setPodReady(p.metadata!.namespace!, p.metadata!.name!, ready)),
    );
    if (ready) this.notReady.delete(pod);
    else this.notReady.add(pod);
  }

  /**
   * Makes exactly `pods` the members of `service`: the selector label is removed from the others and
   * added to these (a Pod object is created in the Service's namespace when the pod has none there).
   */
  async setMembers(service: Service, pods: readonly string[]): Promise<void> {
    const label = serviceSelectorLabel(service);
    const namespace = service.namespace;
    const want = new Set(pods);
    const existing = (
      await this.api.core.listNamespacedPod({ namespace, labelSelector: `returnpath.io/lab=${this.owner}` })
    ).items;
    const byName = new Map(existing.map((p) => [p.metadata!.name!, p]));
    for (const name of want)
      if (!byName.has(name)) {
        const pod = this.pod(name);
        const obj = podObject(this.topology, pod, namespace, { owner: this.owner });
        await this.api.core.createNamespacedPod({ namespace, body: obj });
        const node = this.topology.nodes.find((n) => n.name === pod.node)!;
        await this.api.core.patchNamespacedPodStatus(
          {
            name,
            namespace,
            body: { status: podStatus(pod, node, this.isReady(name), new Date().toISOString()) },
          },
          mergePatchOptions(),
        );
      }
    await Promise.all(
      [...new Set([...byName.keys(), ...want])].map(async (name) => {
        const has = byName.get(name)?.metadata?.labels?.[label] === 'true';
        if (has === want.has(name)) return;
        await this.api.core.patchNamespacedPod(
          { name, namespace, body: { metadata: { labels: { [label]: want.has(name) ? 'true' : null } } } },
          mergePatchOptions(),
        );
      }),
    );
    this.membership.set(serviceRef(service), [...pods]);
  }

  private pod(name: string): Pod {
    const p = this.topology.pods.find((x) => x.name === name);
    if (!p) throw new Error(`no pod ${name} in topology ${this.topology.name}`);
    return p;
  }

  /**
   * Waits until the EndpointSlices list the Ready members of every Service and every node's
   * kube-proxy has written exactly those endpoints (and answers its healthz).
   */
  async waitSynced(): Promise<void> {
    const topology = this.effectiveTopology();
    await this.api.waitForEndpoints(topology);
    const components = this.components();
    await Promise.all(
      this.o.kubeProxies.map(async (kp) => {
        const exec = this.o.nodeExec(kp.nodeName);
        const expected = expectedProxyState(topology, kp.nodeName);
        await waitFor(
          async () => {
            const h = await kp.healthz();
            if (h.status !== 200) return notYet(`healthz ${h.status}`);
            const dump = (await exec.run(proxyDumpCommand(this.mode), { allowFailure: true })).stdout;
            const diff = proxyStateDifferences(
              expected,
              observedProxyState(this.mode, dump, expected.keys()),
            );
            return diff.length === 0 ? done(true) : notYet(diff.join('; '));
          },
          {
            what: `kube-proxy on ${kp.nodeName} to sync the lab's Services`,
            components,
            timeoutMs: this.o.timeoutMs ?? 60_000,
            maxIntervalMs: 100,
          },
        );
      }),
    );
  }
}

export function serviceRef(s: Pick<Service, 'namespace' | 'name'>): string {
  return `${s.namespace}/${s.name}`;
}

function mergePatchOptions(): ReturnType<typeof setHeaderOptions> {
  return setHeaderOptions('Content-Type', PatchStrategy.MergePatch);
}
