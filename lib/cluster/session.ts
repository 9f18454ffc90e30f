/**
 * One run on a cluster, through its API only: the run's namespace (refused if it exists and is
 * not this run's), an evidence agent per node used, and each cell's Pods and Services, created,
 * awaited (Pods Ready, load balancer addresses, endpoints, kube-proxy's rules on every node) and
 * removed. Everything created carries the run's label and is registered for teardown at
 * creation; `close()` removes it in reverse order and waits until it is gone.
 */
import { EXCLUDE_LABEL } from '../nlb/annotations.js';
import { hostname } from 'node:os';
import type { CoreV1Api, KubeConfig, V1Pod, V1Service } from '@kubernetes/client-node';
import { Disposer } from '../lab/disposer.js';
import { apiErrorText, apiStatus, ClusterApi } from '../kube/cluster-api.js';
import { CheckFailed, done, notYet, waitFor } from '../kube/wait.js';
import {
  expectedProxyState,
  observedProxyState,
  proxyDumpCommand,
  proxyStateDifferences,
} from '../kube-proxy/sync.js';
import type { ProxyMode } from '../kube-proxy/config.js';
import type { Topology } from '../model/topology.js';
import { processStartTime } from '../exec/process-identity.js';
import { ClusterInputError } from './connect.js';
import type { ClusterNode } from './fit.js';
import {
  AGENT_CONTAINER,
  CELL_LABEL,
  namespaceObject,
  nodeAgentPod,
  RUN_LABEL,
  type CellObjects,
  type ManifestOptions,
} from './manifests.js';
import { PodExec } from './pod-exec.js';

export interface ClusterSessionOptions extends ManifestOptions {
  kc: KubeConfig;
  kubeconfigPath: string;
  context?: string;
  log?: (line: string) => void;
  /** Deadline of each wait (Pods Ready, load balancer address, endpoints, rules); default 120 s. */
  timeoutMs?: number;
}

/** Why a Pod is not running, with its events and last log lines. */
export class PodNotReady extends Error {
  override readonly name = 'PodNotReady';
}

export class ClusterSession {
  readonly api: ClusterApi;
  private readonly core: CoreV1Api;
  private readonly disposer = new Disposer();
  private readonly agents = new Map<string, Promise<PodExec>>();
  private mode: Promise<ProxyMode> | undefined;

  private constructor(readonly o: ClusterSessionOptions) {
    this.api = new ClusterApi(o.kc, { timeoutMs: o.timeoutMs ?? 120_000 });
    this.core = this.api.core;
  }

  private log(line: string): void {
    this.o.log?.(line);
  }

  private get timeoutMs(): number {
    return this.o.timeoutMs ?? 120_000;
  }

  /** Creates the run's namespace (refusing one that exists and is not this run's). */
  static async open(o: ClusterSessionOptions): Promise<ClusterSession> {
    const s = new ClusterSession(o);
    const existing = await s.core.readNamespace({ name: o.namespace }).catch((e: unknown) => {
      if (apiStatus(e) === 404) return undefined;
      throw e;
    });
    if (existing) {
      const owner = existing.metadata?.labels?.[RUN_LABEL];
      throw new ClusterInputError(
        owner
          ? `namespace ${o.namespace} exists: it belongs to returnpath run ${owner} (returnpath clean --kubeconfig ${o.kubeconfigPath} removes runs that are gone)`
          : `namespace ${o.namespace} exists and is not returnpath's (no ${RUN_LABEL} label); give another --namespace`,
      );
    }
    const owner = `${hostname()}/${process.pid}/${processStartTime(process.pid) ?? 0}`;
    await s.core.createNamespace({ body: namespaceObject(o, owner) });
    s.disposer.defer(`namespace ${o.namespace}`, () => s.deleteNamespace());
    s.log(`namespace ${o.namespace} created`);
    return s;
  }

  private async deleteNamespace(): Promise<void> {
    await this.core.deleteNamespace({ name: this.o.namespace }).catch(ignore404);
    await waitFor(
      async () =>
        (await this.core.readNamespace({ name: this.o.namespace }).catch(ignore404))
          ? notYet('still terminating')
          : done(true),
      { what: `namespace ${this.o.namespace} to be deleted`, timeoutMs: this.timeoutMs, maxIntervalMs: 500 },
    );
  }

  async close(): Promise<void> {
    await this.disposer.dispose();
  }

  /** The cluster's nodes as the API shows them. */
  async nodes(): Promise<ClusterNode[]> {
    const list = await this.core.listNode();
    return list.items.map((n) => ({
      name: n.metadata!.name!,
      zone: n.metadata?.labels?.['topology.kubernetes.io/zone'],
      internalIP: n.status?.addresses?.find((a) => a.type === 'InternalIP')?.address,
      ready: n.status?.conditions?.some((c) => c.type === 'Ready' && c.status === 'True') ?? false,
      excludedFromLoadBalancers: n.metadata?.labels?.[EXCLUDE_LABEL] !== undefined,
    }));
  }

  private podExec(host: string, name: string): PodExec {
    return new PodExec(
      host,
      this.o.kc,
      { namespace: this.o.namespace, name, container: AGENT_CONTAINER },
      { kubeconfigPath: this.o.kubeconfigPath, ...(this.o.context && { context: this.o.context }) },
    );
  }

  /** The evidence agent of `node` (created on first use, kept for the run). */
  nodeAgent(node: string): Promise<PodExec> {
    let a = this.agents.get(node);
    if (!a) {
      const pod = nodeAgentPod(node, this.o);
      a = (async () => {
        await this.createPod(pod);
        await this.waitPodsReady([pod.metadata!.name!]);
        return this.podExec(`node/${node}`, pod.metadata!.name!);
      })();
      this.agents.set(node, a);
    }
    return a;
  }

  private async createPod(pod: V1Pod): Promise<void> {
    await this.core.createNamespacedPod({ namespace: this.o.namespace, body: pod });
    const name = pod.metadata!.name!;
    this.disposer.defer(`pod ${this.o.namespace}/${name}`, () => this.deletePods([name]));
  }

  /** Creates a cell's objects; registers their removal. */
  async create(cell: string, objects: CellObjects): Promise<void> {
    this.disposer.defer(`objects of cell ${cell}`, () => this.removeCell(cell));
    await Promise.all(objects.services.map((s) => this.createService(s)));
    await Promise.all(
      objects.pods.map((p) => this.core.createNamespacedPod({ namespace: this.o.namespace, body: p })),
    );
  }

  /** Creates a Service; one whose ClusterIP the cluster refuses (not in its range, taken) gets one assigned. */
  private async createService(s: V1Service): Promise<void> {
    const namespace = this.o.namespace;
    try {
      await this.core.createNamespacedService({ namespace, body: s });
    } catch (e) {
      if (apiStatus(e) !== 422 || !s.spec?.clusterIP || !apiErrorText(e).includes('spec.clusterIP')) throw e;
      this.log(`Service ${s.metadata!.name}: ${apiErrorText(e)}; the cluster assigns its ClusterIP`);
      const spec = { ...s.spec };
      delete spec.clusterIP;
      await this.core.createNamespacedService({ namespace, body: { ...s, spec } });
    }
  }

  /** Deletes a cell's Pods and Services and waits until they are gone (a node's pod slots are free again). */
  async removeCell(cell: string): Promise<void> {
    const namespace = this.o.namespace;
    const labelSelector = `${CELL_LABEL}=${cell}`;
    const services = (await this.core.listNamespacedService({ namespace, labelSelector })).items;
    await Promise.all(
      services.map((s) =>
        this.core.deleteNamespacedService({ namespace, name: s.metadata!.name! }).catch(ignore404),
      ),
    );
    const pods = (await this.core.listNamespacedPod({ namespace, labelSelector })).items.map(
      (p) => p.metadata!.name!,
    );
    await this.deletePods(pods);
    await waitFor(
      async () => {
        const left = [
          ...(await this.core.listNamespacedService({ namespace, labelSelector })).items,
          ...(await this.core.listNamespacedPod({ namespace, labelSelector })).items,
        ].map((o) => `${o.kind ?? ''}${o.metadata!.name!}`);
        return left.length ? notYet(`left: ${left.join(', ')}`) : done(true);
      },
      { what: `objects of cell ${cell} to be deleted`, timeoutMs: this.timeoutMs, maxIntervalMs: 250 },
    );
  }

  private async deletePods(names: readonly string[]): Promise<void> {
    await Promise.all(
      names.map((name) =>
        this.core
          .deleteNamespacedPod({ namespace: this.o.namespace, name, gracePeriodSeconds: 1 })
          .catch(ignore404),
      ),
    );
  }

  /** Execs into a cell pod's agent. */
  podHost(pod: string): PodExec {
    return this.podExec(`pod/${pod}`, pod);
  }

  async waitPodsReady(names: readonly string[]): Promise<Map<string, V1Pod>> {
    const out = new Map<string, V1Pod>();
    await Promise.all(
      names.map(async (name) => {
        try {
          out.set(
            name,
            await waitFor(
              async () => {
                const p = await this.core.readNamespacedPod({ namespace: this.o.namespace, name });
                const why = notRunnable(p);
                if (why) throw new CheckFailed(new PodNotReady(await this.describePod(name, why)));
                const ready = p.status?.conditions?.some((c) => c.type === 'Ready' && c.status === 'True');
                return ready && p.status?.podIP ? done(p) : notYet(podSummary(p));
              },
              {
                what: `pod ${this.o.namespace}/${name} to be Ready`,
                timeoutMs: this.timeoutMs,
                maxIntervalMs: 250,
              },
            ),
          );
        } catch (e) {
          if (e instanceof PodNotReady) throw e;
          throw new PodNotReady(await this.describePod(name, e instanceof Error ? e.message : String(e)));
        }
      }),
    );
    return out;
  }

  /** `why`, then the pod's events and its last log lines. */
  private async describePod(name: string, why: string): Promise<string> {
    const namespace = this.o.namespace;
    const events = await this.core
      .listNamespacedEvent({ namespace, fieldSelector: `involvedObject.name=${name}` })
      .then((l) => l.items.map((e) => `  ${e.type ?? ''} ${e.reason ?? ''}: ${e.message ?? ''}`))
      .catch((e: unknown) => [`  (events: ${apiErrorText(e)})`]);
    const logs = await this.core
      .readNamespacedPodLog({ namespace, name, container: AGENT_CONTAINER, tailLines: 10 })
      .then((t) =>
        t
          .trimEnd()
          .split('\n')
          .map((l) => `  ${l}`),
      )
      .catch((e: unknown) => [`  (logs: ${apiErrorText(e).split('\n')[0]})`]);
    return [
      `pod ${namespace}/${name}: ${why}`,
      'events:',
      ...(events.length ? events : ['  none']),
      'last log lines:',
      ...logs,
    ].join('\n');
  }

  /** Waits until every LoadBalancer Service (of a controller) has an address. */
  async waitLoadBalancers(services: readonly V1Service[]): Promise<Map<string, V1Service>> {
    const out = new Map<string, V1Service>();
    await Promise.all(
      services.map(async (s) => {
        const name = s.metadata!.name!;
        const managed = s.spec?.type === 'LoadBalancer' && s.spec.loadBalancerClass === undefined;
        const got = await waitFor(
          async () => {
            const cur = await this.core.readNamespacedService({ namespace: this.o.namespace, name });
            if (!managed) return done(cur);
            return cur.status?.loadBalancer?.ingress?.length ? done(cur) : notYet(await this.eventsOf(name));
          },
          {
            what: `a load balancer address for Service ${this.o.namespace}/${name}`,
            timeoutMs: this.timeoutMs,
            maxIntervalMs: 250,
          },
        );
        out.set(name, got);
      }),
    );
    return out;
  }

  private async eventsOf(name: string): Promise<string> {
    const l = await this.core.listNamespacedEvent({
      namespace: this.o.namespace,
      fieldSelector: `involvedObject.name=${name}`,
    });
    return l.items.length
      ? l.items.map((e) => `${e.reason ?? ''}: ${e.message ?? ''}`).join('; ')
      : 'no address, no event';
  }

  /** kube-proxy's mode on the cluster's nodes, from a node's rules. */
  proxyMode(node: string): Promise<ProxyMode> {
    this.mode ??= (async () => {
      const exec = await this.nodeAgent(node);
      const nat = await exec.run(['iptables-save', '-t', 'nat'], { allowFailure: true });
      return nat.stdout.includes(':KUBE-SERVICES') ? 'iptables' : 'nftables';
    })();
    return this.mode;
  }

  /** Waits until kube-proxy on each of `nodes` has written exactly the Services of `topology`. */
  async waitProxySynced(topology: Topology, nodes: readonly string[]): Promise<void> {
    const mode = await this.proxyMode(nodes[0]!);
    await Promise.all(
      nodes.map(async (node) => {
        const exec = await this.nodeAgent(node);
        const expected = expectedProxyState(topology, node);
        await waitFor(
          async () => {
            const dump = (await exec.run(proxyDumpCommand(mode), { allowFailure: true })).stdout;
            const diff = proxyStateDifferences(expected, observedProxyState(mode, dump, expected.keys()));
            return diff.length === 0 ? done(true) : notYet(diff.join('; '));
          },
          {
            what: `kube-proxy on ${node} to write the cell's Services`,
            timeoutMs: this.timeoutMs,
            maxIntervalMs: 250,
          },
        );
      }),
    );
  }
}

function ignore404(e: unknown): undefined {
  if (apiStatus(e) === 404) return undefined;
  throw e;
}

/** A Pod that will not become Ready by waiting: failed, or refused by its kubelet. */
function notRunnable(p: V1Pod): string | undefined {
  if (p.status?.phase === 'Failed' || p.status?.phase === 'Succeeded')
    return `${p.status.phase}${p.status.reason ? ` (${p.status.reason})` : ''}${p.status.message ? `: ${p.status.message}` : ''}`;
  for (const c of p.status?.containerStatuses ?? []) {
    const w = c.state?.waiting;
    if (
      w &&
      [
        'ErrImagePull',
        'ImagePullBackOff',
        'InvalidImageName',
        'ImageNotRunnableInLab',
        'CreateContainerError',
      ].includes(w.reason ?? '')
    )
      return `container ${c.name}: ${w.reason}${w.message ? `: ${w.message}` : ''}`;
  }
  return undefined;
}

function podSummary(p: V1Pod): string {
  const waiting = p.status?.containerStatuses?.map((c) => c.state?.waiting?.reason).filter(Boolean);
  const cond = p.status?.conditions
    ?.map((c) => `${c.type}=${c.status}${c.reason ? `(${c.reason})` : ''}`)
    .join(' ');
  return `${p.status?.phase ?? 'no phase'}${waiting?.length ? ` waiting ${waiting.join(',')}` : ''}${cond ? `; ${cond}` : ''}${p.spec?.nodeName ? ` on ${p.spec.nodeName}` : ''}`;
}
