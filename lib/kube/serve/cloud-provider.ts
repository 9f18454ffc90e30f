/**
 * The lab's cloud provider, in the AWS Load Balancer Controller's role: it watches LoadBalancer
 * Services (spec.loadBalancerClass unset or `service.k8s.aws/nlb`), whoever created them, and
 * builds each one's NLB on a placement of the lab's NLB pool (the topology's loadBalancers):
 *
 * - the placement named by `service.beta.kubernetes.io/aws-load-balancer-name`, else the first
 *   free one of the Service's scheme (lib/nlb/pool.ts);
 * - listeners, target group, targets, client IP preservation, cross-zone and health check from
 *   the Service and its annotations (lib/nlb/annotations.ts), targets from the cluster's Nodes
 *   (instance) or EndpointSlices (ip), followed as they change;
 * - written to the placement's NLB nodes at run time (lib/nlb/live.ts);
 * - `status.loadBalancer.ingress`: one entry per NLB node address with the NLB's DNS-like
 *   hostname, `ipMode: Proxy` (kube-proxy then captures nothing: in-cluster clients really go
 *   through the NLB, as with a hostname on AWS);
 * - target health as a Service condition, type `returnpath.dev/NLBTargetHealth`: True once every
 *   NLB node finished its first health-check round, message a JSON object
 *   `{"<listener port>/<target id>": true|false|null}` (null: no NLB node checks it, its zone has
 *   none and cross-zone is off), kept current as health changes;
 * - a Warning Event (reason `FailedBuildModel` or `FailedDeployModel`, the controller's) naming
 *   why when a Service asks for what the lab cannot give, and no address;
 * - finalizer `service.k8s.aws/resources`, removed once the placement is released on delete.
 *
 * A lab's own objects (label `returnpath.io/lab`) are never touched: their status is the
 * topology's. Events this writes are deleted with their Service's release.
 */
import { randomBytes } from 'node:crypto';
import {
  makeInformer,
  PatchStrategy,
  setHeaderOptions,
  type Informer,
  type KubernetesObject,
  type ObjectCache,
  type V1EndpointSlice,
  type V1Node,
  type V1Service,
  type V1ServiceStatus,
} from '@kubernetes/client-node';
import { ValidationError, formatProblem } from '../../errors.js';
import type { LabHandle } from '../../lab/lab.js';
import type { LoadBalancer, Topology } from '../../model/topology.js';
import { isNlbService, loadBalancerOf, nlbRequest, type NlbRequest } from '../../nlb/annotations.js';
import { nlbAddresses } from '../../nlb/config.js';
import { LivePlacement } from '../../nlb/live.js';
import { claimPlacement } from '../../nlb/pool.js';
import { apiErrorText, apiStatus, type ClusterApi } from '../cluster-api.js';
import { OWNER_LABEL, SERVICE_NAME_LABEL } from '../objects.js';

export const FINALIZER = 'service.k8s.aws/resources';
export const HEALTH_CONDITION = 'returnpath.dev/NLBTargetHealth';
export const COMPONENT = 'returnpath-lab-cloud-provider';

const mergePatch = setHeaderOptions('Content-Type', PatchStrategy.MergePatch);

export function nlbHostname(placement: string): string {
  return `${placement}.nlb.returnpath.invalid`;
}

export interface LabCloudProviderOptions {
  api: ClusterApi;
  lab: LabHandle;
  topology: Topology;
  /**
   * The placements of the pool, by load balancer name (default: every loadBalancer of the
   * topology, as in serve mode, where no topology Service is registered). Others are left as the
   * lab built them.
   */
  pool?: readonly string[];
  log?: (line: string) => void;
}

interface Held {
  service: string;
  uid: string;
  live: LivePlacement;
  /** JSON of the model last applied. */
  applied: string;
}

type Watched<T extends KubernetesObject> = Informer<T> & ObjectCache<T>;

export class LabCloudProvider {
  private readonly placements: Map<string, LivePlacement>;
  /** placement name -> holder */
  private readonly held = new Map<string, Held>();
  private services!: Watched<V1Service>;
  private nodes!: Watched<V1Node>;
  private slices!: Watched<V1EndpointSlice>;
  private running = false;
  private queue: Promise<void> = Promise.resolve();
  private pending = false;
  /** Last Warning per Service (not repeated while unchanged). */
  private readonly warned = new Map<string, string>();
  /** Events written, per Service uid (deleted on release). */
  private readonly events = new Map<string, { namespace: string; names: string[] }>();
  private readonly healthTimers = new Map<string, NodeJS.Timeout>();
  private readonly errors: Error[] = [];

  constructor(private readonly o: LabCloudProviderOptions) {
    this.placements = new Map(
      o.topology.loadBalancers
        .filter((lb) => o.pool === undefined || o.pool.includes(lb.name))
        .map((lb) => [
          lb.name,
          new LivePlacement(o.lab, lb, (_host, e) => {
            if (e.event === 'health' || e.event === 'ready') this.healthChanged(lb.name);
          }),
        ]),
    );
  }

  /** The pool's placements and who holds each (`namespace/name`). */
  holders(): Map<string, string> {
    return new Map([...this.held].map(([p, h]) => [p, h.service]));
  }

  /** Reconcile errors so far (API or lab failures; each was also logged and retried). */
  failures(): readonly Error[] {
    return this.errors;
  }

  /**
   * Releases every placement (the topology's own listeners are not the cloud's: a placement serves
   * what a Service asks), starts watching Services, Nodes and EndpointSlices, and reconciles once
   * the caches are filled.
   */
  async start(): Promise<void> {
    const { api } = this.o;
    const kc = api.config;
    this.services = makeInformer(kc, '/api/v1/services', () => api.core.listServiceForAllNamespaces());
    this.nodes = makeInformer(kc, '/api/v1/nodes', () => api.core.listNode());
    this.slices = makeInformer(kc, '/apis/discovery.k8s.io/v1/endpointslices', () =>
      api.discovery.listEndpointSliceForAllNamespaces(),
    );
    this.running = true;
    await Promise.all([...this.placements.values()].map((p) => p.apply(undefined)));
    for (const inf of [this.services, this.nodes, this.slices] as Watched<KubernetesObject>[]) {
      for (const verb of ['add', 'update', 'delete'] as const) inf.on(verb, () => this.schedule());
      inf.on('error', (err) => {
        this.log(`watch error: ${err instanceof Error ? err.message : String(err)}; restarting it`);
        setTimeout(() => {
          if (this.running) void inf.start().catch(() => undefined);
        }, 1000);
      });
      await inf.start();
    }
    this.schedule();
    await this.idle();
  }

  /** Resolves once no reconcile is pending or running (tests wait on conditions through the API instead). */
  async idle(): Promise<void> {
    for (;;) {
      const q = this.queue;
      await q;
      if (q === this.queue && !this.pending) return;
    }
  }

  /**
   * Stops watching; the NLBs keep their configuration (and forward) until the lab goes down. With
   * `release`, every Service still carrying the finalizer has its NLB released and the finalizer
   * removed first (a Service deleted later is then not left waiting for a provider that is gone).
   */
  async stop(opts: { release?: boolean } = {}): Promise<void> {
    if (!this.running) return;
    this.running = false;
    for (const t of this.healthTimers.values()) clearTimeout(t);
    await Promise.all([this.services, this.nodes, this.slices].map((i) => i.stop()));
    await this.queue;
    if (opts.release)
      for (const svc of this.services.list())
        if (
          svc.metadata?.labels?.[OWNER_LABEL] === undefined &&
          (svc.metadata?.finalizers ?? []).includes(FINALIZER)
        )
          await this.release(svc, true);
    for (const p of this.placements.values()) p.detach();
  }

  private log(line: string): void {
    this.o.log?.(`cloud provider: ${line}`);
  }

  private schedule(): void {
    if (!this.running || this.pending) return;
    this.pending = true;
    this.queue = this.queue.then(async () => {
      this.pending = false;
      if (!this.running) return;
      try {
        await this.reconcile();
      } catch (e) {
        const err = e instanceof Error ? e : new Error(String(e));
        this.errors.push(err);
        this.log(`reconcile failed: ${err.message}; retrying`);
        setTimeout(() => this.schedule(), 1000);
      }
    });
  }

  private served(svc: V1Service): boolean {
    return isNlbService(svc) && svc.metadata?.labels?.[OWNER_LABEL] === undefined;
  }

  private async reconcile(): Promise<void> {
    const cached = this.services.list();
    // No longer ours (type or class changed) but still carrying our finalizer: release it.
    for (const svc of cached)
      if (
        !this.served(svc) &&
        svc.metadata?.labels?.[OWNER_LABEL] === undefined &&
        (svc.metadata?.finalizers ?? []).includes(FINALIZER)
      )
        await this.release(svc, true);
    const all = cached.filter((s) => this.served(s));
    const byCreation = [...all].sort(
      (a, b) =>
        String(a.metadata?.creationTimestamp ?? '').localeCompare(
          String(b.metadata?.creationTimestamp ?? ''),
        ) || id(a).localeCompare(id(b)),
    );
    const live = new Map<string, V1Service>();
    // Deleted (or no longer ours): release first, so their placements are free for the others.
    for (const svc of byCreation) {
      if (svc.metadata?.deletionTimestamp) await this.release(svc, true);
      else live.set(svc.metadata!.uid!, svc);
    }
    for (const [name, h] of this.held)
      if (!live.has(h.uid)) {
        await h.live.apply(undefined);
        this.held.delete(name);
        await this.deleteEvents(h.uid);
        this.log(`released ${name} (${h.service} is gone)`);
      }
    for (const svc of live.values()) await this.ensure(svc);
  }

  private async ensure(svc: V1Service): Promise<void> {
    const key = id(svc);
    const uid = svc.metadata!.uid!;
    if (!(svc.metadata?.finalizers ?? []).includes(FINALIZER))
      await this.o.api.core.patchNamespacedService(
        {
          name: svc.metadata!.name!,
          namespace: svc.metadata!.namespace!,
          body: { metadata: { finalizers: [...(svc.metadata?.finalizers ?? []), FINALIZER] } },
        },
        mergePatch,
      );
    let req: NlbRequest;
    try {
      req = nlbRequest(svc);
    } catch (e) {
      if (!(e instanceof ValidationError)) throw e;
      await this.refuse(svc, 'FailedBuildModel', e.problems.map(formatProblem).join('; '));
      return;
    }
    const holders = new Map([...this.held].map(([p, h]) => [p, h.service]));
    const claim = claimPlacement(
      [...this.placements.values()].map((p) => p.placement),
      holders,
      req,
    );
    if ('reason' in claim) {
      await this.refuse(svc, 'FailedDeployModel', claim.reason);
      return;
    }
    const name = claim.placement.name;
    // A Service moving to another placement (its scheme changed) gives the old one back.
    for (const [p, h] of this.held)
      if (h.uid === uid && p !== name) {
        await h.live.apply(undefined);
        this.held.delete(p);
      }
    const placement = this.placements.get(name)!;
    const lb = loadBalancerOf(req, placement.placement, {
      nodes: this.nodes.list(),
      endpointSlices: this.slices
        .list(svc.metadata!.namespace!)
        .filter((s) => s.metadata?.labels?.[SERVICE_NAME_LABEL] === svc.metadata!.name),
    });
    const json = JSON.stringify(lb);
    const h = this.held.get(name);
    if (!h || h.applied !== json) {
      const holder: Held = { service: key, uid, live: placement, applied: json };
      this.held.set(name, holder);
      try {
        await placement.apply(lb);
      } catch (e) {
        // Applied again on the retry.
        holder.applied = '';
        throw e;
      }
      this.log(`${key} on ${name}: ${describe(lb)}${req.notEmulated.map((n) => `; ${n}`).join('')}`);
      if (!h)
        await this.event(
          svc,
          'Normal',
          'SuccessfullyReconciled',
          `NLB ${name} built on the lab's placement: ${describe(lb)}` +
            req.notEmulated.map((n) => `; ${n}`).join(''),
        );
    }
    this.warned.delete(uid);
    await this.writeStatus(svc, this.statusOf(name));
  }

  /** No address, and a Warning saying why (once per distinct reason). */
  private async refuse(svc: V1Service, reason: string, message: string): Promise<void> {
    const uid = svc.metadata!.uid!;
    for (const [p, h] of this.held)
      if (h.uid === uid) {
        await h.live.apply(undefined);
        this.held.delete(p);
      }
    if (this.warned.get(uid) !== message) {
      this.warned.set(uid, message);
      this.log(`${id(svc)}: ${message}`);
      await this.event(svc, 'Warning', reason, message);
    }
    await this.writeStatus(svc, { loadBalancer: {}, conditions: [] });
  }

  private async release(svc: V1Service, removeFinalizer: boolean): Promise<void> {
    const uid = svc.metadata!.uid!;
    for (const [p, h] of this.held)
      if (h.uid === uid) {
        await h.live.apply(undefined);
        this.held.delete(p);
        this.log(`released ${p} (${id(svc)} deleted)`);
      }
    this.warned.delete(uid);
    await this.deleteEvents(uid);
    const finalizers = svc.metadata?.finalizers ?? [];
    if (removeFinalizer && finalizers.includes(FINALIZER))
      await this.o.api.core
        .patchNamespacedService(
          {
            name: svc.metadata!.name!,
            namespace: svc.metadata!.namespace!,
            body: { metadata: { finalizers: finalizers.filter((f) => f !== FINALIZER) } },
          },
          mergePatch,
        )
        .catch((e) => {
          if (apiStatus(e) !== 404) throw e;
        });
  }

  private statusOf(placement: string): V1ServiceStatus {
    const live = this.placements.get(placement)!;
    const hostname = nlbHostname(placement);
    const health = live.targetHealth();
    return {
      loadBalancer: {
        ingress: nlbAddresses(this.o.topology, placement).map((ip) => ({ hostname, ip, ipMode: 'Proxy' })),
      },
      conditions: [
        {
          type: HEALTH_CONDITION,
          status: health.determined ? 'True' : 'False',
          reason: health.determined ? 'TargetHealthDetermined' : 'HealthChecksPending',
          message: JSON.stringify(health.targets),
          lastTransitionTime: new Date(),
        },
      ],
    };
  }

  private async writeStatus(svc: V1Service, status: V1ServiceStatus): Promise<void> {
    const cur = svc.status ?? {};
    const others = (cur.conditions ?? []).filter((c) => c.type !== HEALTH_CONDITION);
    const mine = (cur.conditions ?? []).find((c) => c.type === HEALTH_CONDITION);
    const want = status.conditions?.[0];
    const sameCondition =
      (mine === undefined && want === undefined) ||
      (mine !== undefined &&
        want !== undefined &&
        mine.status === want.status &&
        mine.message === want.message);
    const sameIngress =
      JSON.stringify(cur.loadBalancer?.ingress ?? []) === JSON.stringify(status.loadBalancer?.ingress ?? []);
    if (sameCondition && sameIngress) return;
    const conditions = [...others, ...(want ? [sameCondition ? mine! : want] : [])];
    await this.o.api.core
      .patchNamespacedServiceStatus(
        {
          name: svc.metadata!.name!,
          namespace: svc.metadata!.namespace!,
          body: { status: { loadBalancer: { ingress: status.loadBalancer?.ingress ?? [] }, conditions } },
        },
        mergePatch,
      )
      .catch((e) => {
        if (apiStatus(e) !== 404)
          throw new Error(`status of Service ${id(svc)}: ${apiErrorText(e)}`, { cause: e });
      });
  }

  private healthChanged(placement: string): void {
    if (this.healthTimers.has(placement) || !this.running) return;
    // Health events come in bursts (a round's worth): one status write per burst.
    this.healthTimers.set(
      placement,
      setTimeout(() => {
        this.healthTimers.delete(placement);
        this.schedule();
      }, 100),
    );
  }

  private async event(
    svc: V1Service,
    type: 'Normal' | 'Warning',
    reason: string,
    message: string,
  ): Promise<void> {
    const namespace = svc.metadata!.namespace!;
    const name = `${svc.metadata!.name}.${randomBytes(8).toString('hex')}`;
    const now = new Date();
    await this.o.api.core
      .createNamespacedEvent({
        namespace,
        body: {
          metadata: { name, namespace },
          involvedObject: {
            apiVersion: 'v1',
            kind: 'Service',
            name: svc.metadata!.name!,
            namespace,
            uid: svc.metadata!.uid!,
          },
          type,
          reason,
          message: message.slice(0, 1000),
          source: { component: COMPONENT },
          reportingComponent: COMPONENT,
          firstTimestamp: now,
          lastTimestamp: now,
          count: 1,
        },
      })
      .catch((e) => {
        if (apiStatus(e) !== 404) throw e;
      });
    const uid = svc.metadata!.uid!;
    const list = this.events.get(uid) ?? { namespace, names: [] };
    list.names.push(name);
    this.events.set(uid, list);
  }

  private async deleteEvents(uid: string): Promise<void> {
    const list = this.events.get(uid);
    if (!list) return;
    this.events.delete(uid);
    await Promise.all(
      list.names.map((name) =>
        this.o.api.core.deleteNamespacedEvent({ name, namespace: list.namespace }).catch(() => undefined),
      ),
    );
  }
}

function id(svc: V1Service): string {
  return `${svc.metadata?.namespace ?? 'default'}/${svc.metadata?.name ?? ''}`;
}

function describe(lb: LoadBalancer): string {
  return lb.listeners
    .map(
      (l) =>
        `listener ${l.port} -> ${l.targetGroup.targetType} targets ${l.targetGroup.targets.map((t) => `${t.address}:${t.port}`).join(', ') || 'none'}` +
        ` (preserve client IP ${l.targetGroup.preserveClientIp ? 'on' : 'off'}, cross-zone ${lb.crossZone ? 'on' : 'off'}, health check ${l.targetGroup.healthCheck.protocol}${l.targetGroup.healthCheck.port ? ` port ${l.targetGroup.healthCheck.port}` : ''})`,
    )
    .join('; ');
}
