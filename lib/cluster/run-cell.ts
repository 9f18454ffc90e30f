/**
 * Runs one cell on a cluster through its API: checks that the cluster is what the cell needs
 * (fit.ts; otherwise the cell is `skipped` with the reason), creates the cell's Pods and Services
 * (with the NLB's annotations), waits for them (Pods Ready, load balancer address, endpoints,
 * kube-proxy's rules on every node, the NLB's targets at the health the topology implies, when
 * the cloud reports it), probes the flow from the client's pod, takes evidence through the node
 * agents and the pods, judges as the lab does, and removes the cell's objects. Never asserts.
 */
import type { V1Service } from '@kubernetes/client-node';
import { measure } from '../evidence/probe.js';
import type { HostExec } from '../exec/netns.js';
import type { Topology } from '../model/topology.js';
import { done, notYet, waitFor, WaitTimeoutError } from '../kube/wait.js';
import { apiErrorText } from '../kube/cluster-api.js';
import { TrafficAgent } from '../traffic/agent.js';
import { cellPlan } from '../scenario/cell-lab.js';
import type { CellSpec } from '../scenario/cell.js';
import { expectedHealth } from '../scenario/derive.js';
import { resolveFlow } from '../scenario/flow.js';
import type { CellSource, ReproduceFlags } from '../scenario/reproduce.js';
import type { CellResult, EvidenceFinding } from '../scenario/result.js';
import { sourcesSeen } from '../scenario/checks.js';
import {
  base,
  checksOf,
  collisionsOf,
  implementationOf,
  judged,
  nftDrops,
  probeFlow,
} from '../scenario/run-cell.js';
import { hostMatches } from '../scenario/checks.js';
import { nlbHostId } from '../nlb/config.js';
import type { Outcome } from '../traffic/outcome.js';
import { effectiveTopology, inNamespace } from './effective.js';
import { fitProblems, type ClusterFacts } from './fit.js';
import { AGENT_COMMAND } from './agent-cli.js';
import { cellObjects, NotExpressible } from './manifests.js';
import { HEALTH_CONDITION } from '../kube/serve/cloud-provider.js';
import { PodExec } from './pod-exec.js';
import type { ClusterSession } from './session.js';

export interface ClusterCellOptions {
  session: ClusterSession;
  facts: ClusterFacts;
  /** Clients outside the cluster (the topology's internet clients), by name, when the environment has them. */
  externalClient?: (name: string) => HostExec | undefined;
  /**
   * The cloud's hosts (`fabric`, `nlb/NAME/ZONE`) when the environment lets returnpath observe them
   * (its own lab); evidence a cell expects there cannot be taken on another cluster.
   */
  cloudHost?: (id: string) => HostExec | undefined;
  source?: CellSource;
  /** `--kubeconfig FILE [--context C]`, for the reproduce lines. */
  clusterFlags: readonly string[];
}

/** Cell names as Kubernetes label values. */
export function cellLabel(cell: Pick<CellSpec, 'suite' | 'id'>): string {
  return `${cell.suite}.${cell.id}`
    .replace(/[^A-Za-z0-9_.-]/g, '-')
    .slice(0, 63)
    .replace(/[^A-Za-z0-9]+$/, '');
}

/** The cloud's hosts around a cell: the VPC fabric and its NLBs' nodes. */
function cloudHostIds(topology: Topology): string[] {
  return ['fabric', ...topology.loadBalancers.flatMap((lb) => lb.nodes.map((n) => nlbHostId(lb, n)))];
}

/** Evidence the cell expects on hosts the cluster run cannot observe, one line each. */
export function unobservableEvidence(
  cell: CellSpec,
  topology: Topology,
  cloudHost: ClusterCellOptions['cloudHost'],
): string[] {
  const cluster = [
    ...topology.pods.map((p) => `pod/${p.name}`),
    ...topology.nodes.filter((n) => n.cni.profile !== 'none').map((n) => `node/${n.name}`),
    ...topology.internetClients.map((c) => `internet/${c.name}`),
  ];
  const known = (ref: string): boolean =>
    cluster.some((id) => hostMatches(id, ref)) ||
    cloudHostIds(topology).some((id) => hostMatches(id, ref) && cloudHost?.(id) !== undefined);
  const out: string[] = [];
  for (const e of cell.expect.evidence ?? []) {
    if (e.kind === 'nlb-collision') {
      const lb = topology.loadBalancers.find((l) => l.name === e.nlb);
      if (!lb || lb.nodes.some((n) => !cloudHost?.(nlbHostId(lb, n))))
        out.push(
          `evidence ${e.kind} needs the conntrack tables of NLB ${e.nlb}'s nodes, which only returnpath's lab exposes`,
        );
      continue;
    }
    const refs = 'host' in e ? [e.host] : (e.hosts ?? []);
    for (const r of refs)
      if (!known(r))
        out.push(`evidence ${e.kind} on ${r}: a host of the cloud, which only returnpath's lab exposes`);
  }
  return out;
}

function hostsOf(
  topology: Topology,
  session: ClusterSession,
  nodeAgents: ReadonlyMap<string, HostExec>,
  external: ClusterCellOptions['externalClient'],
  cloud: ClusterCellOptions['cloudHost'],
): Map<string, HostExec> {
  const out = new Map<string, HostExec>();
  for (const p of topology.pods) out.set(`pod/${p.name}`, session.podHost(p.name));
  for (const [n, e] of nodeAgents) out.set(`node/${n}`, e);
  for (const c of topology.internetClients) {
    const e = external?.(c.name);
    if (e) out.set(`internet/${c.name}`, e);
  }
  for (const id of cloudHostIds(topology)) {
    const e = cloud?.(id);
    if (e) out.set(id, e);
  }
  return out;
}

function find(hosts: ReadonlyMap<string, HostExec>, ref: string): HostExec {
  const h = hosts.get(ref) ?? [...hosts].find(([id]) => id.split('/').slice(1).join('/') === ref)?.[1];
  if (!h) throw new Error(`no host ${ref} on the cluster (hosts: ${[...hosts.keys()].join(', ')})`);
  return h;
}

/** Traffic agents on the cell's hosts: a pod's through exec (`returnpath-agent worker`), others as the host runs them. */
class ClusterAgents {
  private readonly agents = new Map<string, Promise<TrafficAgent>>();
  constructor(private readonly hosts: ReadonlyMap<string, HostExec>) {}

  get(ref: string): Promise<TrafficAgent> {
    const exec = find(this.hosts, ref);
    let a = this.agents.get(exec.host);
    if (!a) {
      a = TrafficAgent.start(exec, {
        name: exec.host,
        ...(exec instanceof PodExec && {
          commands: { worker: [AGENT_COMMAND, 'worker'], probe: [AGENT_COMMAND, 'probe'] },
        }),
      });
      this.agents.set(exec.host, a);
    }
    return a;
  }

  async close(): Promise<void> {
    await Promise.all([...this.agents.values()].map(async (a) => (await a.catch(() => undefined))?.close()));
  }
}

/**
 * The NLB's target health as its cloud reports it: returnpath's lab cloud writes a condition on the
 * Service (lib/kube/serve/cloud-provider.ts), status True once every NLB node checked every
 * target, message `{ "PORT/TARGET": healthy on every node that checks it, or null }`; undefined
 * until then, and from a cloud that does not say (EKS: the ELB API, which returnpath does not call).
 */
export function reportedHealth(svc: V1Service): Map<string, boolean> | undefined {
  const c = svc.status?.conditions?.find((x) => x.type === HEALTH_CONDITION);
  if (!c || c.status !== 'True') return undefined;
  try {
    const m = JSON.parse(c.message) as Record<string, boolean | null>;
    return new Map(Object.entries(m).filter((e): e is [string, boolean] => typeof e[1] === 'boolean'));
  } catch {
    return undefined;
  }
}

/** Per NLB node, the health the topology implies, as one map: a target is healthy for every node that checks it. */
function flatten(expected: ReadonlyMap<string, ReadonlyMap<string, boolean>>): Map<string, boolean> {
  const out = new Map<string, boolean>();
  for (const keys of expected.values()) for (const [k, h] of keys) out.set(k, h && (out.get(k) ?? true));
  return out;
}

function healthMismatches(
  expected: ReadonlyMap<string, boolean>,
  got: ReadonlyMap<string, boolean>,
): string[] {
  const out: string[] = [];
  for (const [k, healthy] of expected) {
    const h = got.get(k);
    if (h !== healthy)
      out.push(
        `${k} ${h === undefined ? 'unknown' : h ? 'healthy' : 'unhealthy'}, expected ${healthy ? 'healthy' : 'unhealthy'}`,
      );
  }
  return out;
}

/**
 * A cell that never reached a cluster: skipped (no cluster could be what it needs) or an error (the
 * cluster could not be made), with the reason.
 */
export function clusterCellNotRun(
  cell: CellSpec,
  source: CellSource | undefined,
  clusterFlags: string[],
  why: Pick<CellResult, 'status' | 'reason' | 'error'>,
): CellResult {
  const r = base(cell, new Date(), source ?? { kind: 'builtin' }, { cluster: clusterFlags });
  return { ...r, ...why, checks: [], durationMs: 0 };
}

export async function runClusterCell(cell: CellSpec, o: ClusterCellOptions): Promise<CellResult> {
  const startedAt = new Date();
  const t0 = performance.now();
  const flags: ReproduceFlags = { cluster: o.clusterFlags };
  const result = base(cell, startedAt, o.source ?? { kind: 'builtin' }, flags);
  const finish = (r: Partial<CellResult> & Pick<CellResult, 'status' | 'reason' | 'checks'>): CellResult => ({
    ...result,
    ...r,
    durationMs: Math.round(performance.now() - t0),
  });
  const skipped = (why: string): CellResult => finish({ status: 'skipped', reason: why, checks: [] });
  let plan;
  try {
    plan = cellPlan(cell);
  } catch (e) {
    return finish({
      status: 'error',
      reason: (e as Error).message.split('\n')[0]!,
      checks: [],
      error: (e as Error).message,
    });
  }
  result.flow = plan.flow.label;
  if (cell.chaos)
    return skipped(
      'a chaos cell injects faults into the nodes and the NLB, which a cluster run does not change',
    );
  const problems = [
    ...fitProblems(plan.topology, o.facts),
    ...unobservableEvidence(cell, plan.topology, o.cloudHost),
  ];
  if (problems.length) return skipped(`the cluster is not what the cell needs: ${problems.join('; ')}`);
  const label = cellLabel(cell);
  const s = o.session;
  let objects;
  try {
    objects = cellObjects(plan.topology, label, s.o);
  } catch (e) {
    if (e instanceof NotExpressible)
      return skipped(`not expressible through the Kubernetes API: ${e.message}`);
    throw e;
  }
  let trafficAgents: ClusterAgents | undefined;
  try {
    // Kubernetes nodes only: a host without a CNI (a bastion) is an instance of the VPC.
    const nodes = plan.topology.nodes.filter((n) => n.cni.profile !== 'none').map((n) => n.name);
    const nodeAgents = new Map(await Promise.all(nodes.map(async (n) => [n, await s.nodeAgent(n)] as const)));
    await s.create(label, objects);
    const pods = await s.waitPodsReady(objects.pods.map((p) => p.metadata!.name!));
    const services = await s.waitLoadBalancers(objects.services);
    const topology = effectiveTopology(
      cell.topology,
      { pods, services },
      `${cell.suite}/${cell.id} topology`,
    );
    result.implementation = implementationOf(topology);
    const flow = resolveFlow(topology, cell.flow);
    result.flow = flow.label;
    const inRun = inNamespace(topology, s.o.namespace);
    await s.api.waitForEndpoints(inRun);
    if (topology.services.length) await s.waitProxySynced(inRun, nodes);
    const mode = topology.services.length ? await s.proxyMode(nodes[0]!) : undefined;
    const hosts = hostsOf(topology, s, nodeAgents, o.externalClient, o.cloudHost);
    trafficAgents = new ClusterAgents(hosts);
    const kind = cell.flow.kind ?? 'tcp';
    for (const srv of flow.servers) {
      await (
        await trafficAgents.get(srv.host)
      ).startServer({ name: find(hosts, srv.host).host, kind, port: srv.port });
    }
    const notes: EvidenceFinding[] = [];
    // The NLB's targets at the health the topology implies (the lab's settle), when the cloud says.
    const expected = expectedHealth(topology);
    for (const lb of topology.loadBalancers) {
      const svc = [...services.values()].find(
        (x) => x.metadata?.annotations?.['service.beta.kubernetes.io/aws-load-balancer-name'] === lb.name,
      );
      if (!svc) continue;
      const want = flatten(new Map([...expected].filter(([k]) => k.startsWith(`nlb/${lb.name}/`))));
      try {
        await waitFor(
          async () => {
            const cur = await s.api.core.readNamespacedService({
              namespace: s.o.namespace,
              name: svc.metadata!.name!,
            });
            const got = reportedHealth(cur);
            if (!got)
              return cur.status?.conditions?.some((c) => c.type === HEALTH_CONDITION)
                ? notYet('health not determined yet')
                : done('unreported');
            const m = healthMismatches(want, got);
            return m.length ? notYet(m.join('; ')) : done('settled');
          },
          {
            what: `NLB ${lb.name}'s targets to reach the health the topology implies`,
            timeoutMs: 60_000,
            maxIntervalMs: 250,
          },
        ).then((how) => {
          if (how === 'unreported')
            notes.push({
              kind: 'note',
              host: `nlb/${lb.name}`,
              summary: 'the cloud does not report target health: not awaited',
            });
        });
      } catch (e) {
        if (!(e instanceof WaitTimeoutError)) throw e;
        notes.push({
          kind: 'health',
          host: `nlb/${lb.name}`,
          summary: `did not reach the health the topology implies: ${e.lastSeen}`,
        });
      }
    }
    const hostList = [...hosts.values()];
    const evidenceOpts = {
      rules: true,
      nft: (h: string) => h.startsWith('node/'),
      ...nftDrops(
        [...hosts.keys()].map((id) => ({ id, kind: id.split('/')[0]! })),
        mode,
      ),
    };
    const m = await measure(hostList, () => probeFlow(trafficAgents!, cell, flow), evidenceOpts);
    const more = { collisions: await collisionsOf(flow, (h) => find(hosts, h)) };
    const checks = checksOf(cell, topology, flow, m.result, m.deltas, more);
    const j = judged(
      cell,
      flow,
      checks,
      m.result.attempts.map((a) => a.outcome),
      m.deltas,
      more,
    );
    return finish({
      ...j,
      sourcesSeen: sourcesSeen(
        m.result.attempts.map((a) => ({ outcome: a.outcome as Outcome, peer: a.peer })),
      ),
      evidence: [...notes, ...j.evidence],
    });
  } catch (e) {
    const message = apiErrorText(e);
    return finish({ status: 'error', reason: message.split('\n')[0]!, checks: [], error: message });
  } finally {
    await trafficAgents?.close();
    await s.removeCell(label).catch(() => undefined);
  }
}
