/**
 * What returnpath does through the Kubernetes API, against any cluster (the lab's own control
 * plane, or a cluster from a kubeconfig): create the objects of a topology (as the kubelet and the
 * cloud provider would: Nodes, Pods and their status, Services and their load balancer status),
 * wait until the EndpointSlice controller has published the endpoints, flip a pod's readiness, and
 * remove everything it created by its owner label, waiting until each deletion is observed.
 */
import {
  ApiException,
  CoreV1Api,
  DiscoveryV1Api,
  NetworkingV1Api,
  PatchStrategy,
  setHeaderOptions,
  type KubeConfig,
  type V1EndpointSlice,
  type V1Pod,
} from '@kubernetes/client-node';
import type { Topology } from '../model/topology.js';
import { OWNER_LABEL, podConditions, SERVICE_NAME_LABEL, type ClusterObjects } from './objects.js';
import type { ComponentProcess } from './component-process.js';
import { CheckFailed, done, notYet, waitFor } from './wait.js';

const mergePatch = setHeaderOptions('Content-Type', PatchStrategy.MergePatch);

export function apiStatus(e: unknown): number | undefined {
  return e instanceof ApiException ? e.code : undefined;
}

/** One line from an API error: `409 AlreadyExists: pods "x" already exists`. */
export function apiErrorText(e: unknown): string {
  if (e instanceof ApiException) {
    let message = String(e.body);
    try {
      const b = (typeof e.body === 'string' ? JSON.parse(e.body) : e.body) as {
        message?: string;
        reason?: string;
      };
      message = `${b.reason ?? ''}: ${b.message ?? ''}`;
    } catch {
      // not JSON: keep the raw body
    }
    return `HTTP ${e.code} ${message}`.slice(0, 500);
  }
  return e instanceof Error ? e.message : String(e);
}

export interface ApplyOptions {
  /** Register Nodes and Pods and report their status (the lab: returnpath is the kubelet). */
  kubelet: boolean;
}

/** An endpoint as the EndpointSlice controller publishes it. */
export interface PublishedEndpoint {
  address: string;
  ready: boolean;
  nodeName?: string;
  zone?: string;
}

export interface ClusterApiOptions {
  /** Deadline for each wait. */
  timeoutMs?: number;
  /** Components whose death ends a wait at once (the lab control plane). */
  components?: () => readonly ComponentProcess[];
}

export class ClusterApi {
  readonly core: CoreV1Api;
  readonly discovery: DiscoveryV1Api;
  readonly networking: NetworkingV1Api;
  private readonly timeoutMs: number;

  constructor(
    readonly config: KubeConfig,
    private readonly opts: ClusterApiOptions = {},
  ) {
    this.core = config.makeApiClient(CoreV1Api);
    this.discovery = config.makeApiClient(DiscoveryV1Api);
    this.networking = config.makeApiClient(NetworkingV1Api);
    this.timeoutMs = opts.timeoutMs ?? 60_000;
  }

  private wait<T>(what: string, check: Parameters<typeof waitFor<T>>[0]): Promise<T> {
    return waitFor(check, {
      what,
      timeoutMs: this.timeoutMs,
      ...(this.opts.components && { components: this.opts.components() }),
    });
  }

  /** Creates the objects (namespaces that exist are reused) and reports status as a kubelet and cloud provider. */
  async apply(objects: ClusterObjects, opts: ApplyOptions): Promise<void> {
    for (const cidr of objects.serviceCIDRs)
      await this.networking.createServiceCIDR({ body: cidr }).catch(ignore(409));
    await Promise.all(
      objects.namespaces.map((ns) => this.core.createNamespace({ body: ns }).catch(ignore(409))),
    );
    if (opts.kubelet) {
      await Promise.all(
        objects.nodes.map((n) =>
          this.core.createNode({ body: n }).catch(rethrow(`Node ${n.metadata?.name}`)),
        ),
      );
      // The ServiceAccount admission plugin rejects Pods until the namespace's default ServiceAccount exists.
      const podNamespaces = [...new Set(objects.pods.map((p) => p.pod.metadata!.namespace!))];
      await Promise.all(
        podNamespaces.map((namespace) =>
          this.wait(`ServiceAccount ${namespace}/default`, async () => {
            await this.core.readNamespacedServiceAccount({ name: 'default', namespace });
            return done(true);
          }),
        ),
      );
      await Promise.all(
        objects.pods.map(async ({ pod, status }) => {
          const { name, namespace } = pod.metadata as { name: string; namespace: string };
          await this.core
            .createNamespacedPod({ namespace, body: pod })
            .catch(rethrow(`Pod ${namespace}/${name}`));
          await this.core
            .patchNamespacedPodStatus({ name, namespace, body: { status } }, mergePatch)
            .catch(rethrow(`status of Pod ${namespace}/${name}`));
        }),
      );
    }
    await Promise.all(
      objects.services.map(async ({ service, status }) => {
        const { name, namespace } = service.metadata as { name: string; namespace: string };
        // A new ServiceCIDR reaches the apiserver's allocator through an informer: until then the
        // ClusterIP is "not within the service CIDR". Retried until accepted, any other error is final.
        await this.wait(`Service ${namespace}/${name} to be accepted`, async () => {
          try {
            await this.core.createNamespacedService({ namespace, body: service });
            return done(true);
          } catch (e) {
            const text = apiErrorText(e);
            if (apiStatus(e) === 422 && /service CIDR|valid IP range|not within/i.test(text))
              return notYet(text);
            throw new CheckFailed(new Error(`creating Service ${namespace}/${name}: ${text}`, { cause: e }));
          }
        });
        if (status)
          await this.core
            .patchNamespacedServiceStatus({ name, namespace, body: { status } }, mergePatch)
            .catch(rethrow(`status of Service ${namespace}/${name}`));
      }),
    );
  }

  /** The endpoints the EndpointSlice controller published for a Service (every slice). */
  async endpointsOf(namespace: string, service: string): Promise<PublishedEndpoint[]> {
    const slices = await this.discovery.listNamespacedEndpointSlice({
      namespace,
      labelSelector: `${SERVICE_NAME_LABEL}=${service}`,
    });
    return slices.items.flatMap((s: V1EndpointSlice) =>
      (s.endpoints ?? []).flatMap((e) =>
        e.addresses.map((address) => ({
          address,
          ready: e.conditions?.ready === true,
          ...(e.nodeName && { nodeName: e.nodeName }),
          ...(e.zone && { zone: e.zone }),
        })),
      ),
    );
  }

  /**
   * Waits until every Service's EndpointSlices list exactly `expected(service)` as ready
   * endpoints (default: its topology endpoints' addresses).
   */
  async waitForEndpoints(
    topology: Topology,
    expected: (s: Topology['services'][number]) => string[] = (s) => s.endpoints.map((p) => p.address),
  ): Promise<void> {
    await Promise.all(
      topology.services.map((s) => {
        const want = [...new Set(expected(s))].sort();
        return this.wait(
          `EndpointSlices of ${s.namespace}/${s.name} to list ${want.join(', ') || 'no endpoint'}`,
          async () => {
            const got = (await this.endpointsOf(s.namespace, s.name))
              .filter((e) => e.ready)
              .map((e) => e.address)
              .sort();
            const same = got.length === want.length && got.every((a, i) => a === want[i]);
            return same ? done(true) : notYet(`ready endpoints ${got.join(', ') || 'none'}`);
          },
        );
      }),
    );
  }

  /** Reports a pod Ready or not Ready (what a kubelet does when its readiness probe flips). */
  async setPodReady(namespace: string, name: string, ready: boolean): Promise<void> {
    const at = new Date().toISOString();
    const current = await this.core.readNamespacedPodStatus({ name, namespace });
    const statuses = (current.status?.containerStatuses ?? []).map((c) => ({ ...c, ready }));
    await this.core.patchNamespacedPodStatus(
      {
        name,
        namespace,
        body: { status: { conditions: podConditions(ready, at), containerStatuses: statuses } },
      },
      mergePatch,
    );
  }

  /** The pods named `name` in every namespace (a lab pod exists once per namespace it serves). */
  async podsNamed(name: string, owner: string): Promise<V1Pod[]> {
    const list = await this.core.listPodForAllNamespaces({ labelSelector: `${OWNER_LABEL}=${owner}` });
    return list.items.filter((p) => p.metadata?.name === name);
  }

  /**
   * Removes everything labelled with `owner`, in dependency order, waiting until each kind is
   * gone: Services, their EndpointSlices (no garbage collector runs in the lab control plane),
   * Pods (grace 0: no kubelet confirms), Nodes, ServiceCIDRs; namespaces only when asked (a
   * namespace is deleted asynchronously by the namespace controller).
   */
  cleanup(owner: string, opts: { namespaces?: boolean } = {}): Promise<void> {
    return this.cleanupSelector(`${OWNER_LABEL}=${owner}`, opts);
  }

  /** As cleanup(), for every object matching a label selector (`returnpath.io/lab`: every lab's). */
  async cleanupSelector(selector: string, opts: { namespaces?: boolean } = {}): Promise<void> {
    const owner = selector;
    const services = (await this.core.listServiceForAllNamespaces({ labelSelector: selector })).items;
    await Promise.all(
      services.map((s) =>
        this.core
          .deleteNamespacedService({ name: s.metadata!.name!, namespace: s.metadata!.namespace! })
          .catch(ignore(404)),
      ),
    );
    await this.wait(`Services of ${owner} to be deleted`, async () => {
      const left = (await this.core.listServiceForAllNamespaces({ labelSelector: selector })).items;
      return left.length === 0 ? done(true) : notYet(`${left.length} left`);
    });
    const sliceNamespaces = [...new Set(services.map((s) => s.metadata!.namespace!))];
    for (const namespace of sliceNamespaces) {
      const names = services.filter((s) => s.metadata!.namespace === namespace).map((s) => s.metadata!.name!);
      const selectorIn = `${SERVICE_NAME_LABEL} in (${names.join(',')})`;
      await this.discovery
        .deleteCollectionNamespacedEndpointSlice({ namespace, labelSelector: selectorIn })
        .catch(ignore(404));
      await this.wait(`EndpointSlices of ${namespace}/${names.join(',')} to be deleted`, async () => {
        const left = (
          await this.discovery.listNamespacedEndpointSlice({ namespace, labelSelector: selectorIn })
        ).items;
        return left.length === 0 ? done(true) : notYet(`${left.length} left`);
      });
    }
    const pods = (await this.core.listPodForAllNamespaces({ labelSelector: selector })).items;
    await Promise.all(
      pods.map((p) =>
        this.core
          .deleteNamespacedPod({
            name: p.metadata!.name!,
            namespace: p.metadata!.namespace!,
            gracePeriodSeconds: 0,
          })
          .catch(ignore(404)),
      ),
    );
    await this.wait(`Pods of ${owner} to be deleted`, async () => {
      const left = (await this.core.listPodForAllNamespaces({ labelSelector: selector })).items;
      return left.length === 0 ? done(true) : notYet(`${left.length} left`);
    });
    await this.core.deleteCollectionNode({ labelSelector: selector }).catch(ignore(404));
    await this.wait(`Nodes of ${owner} to be deleted`, async () => {
      const left = (await this.core.listNode({ labelSelector: selector })).items;
      return left.length === 0 ? done(true) : notYet(`${left.length} left`);
    });
    await this.networking.deleteCollectionServiceCIDR({ labelSelector: selector }).catch(ignore(404));
    await this.wait(`ServiceCIDRs of ${owner} to be deleted`, async () => {
      const left = (await this.networking.listServiceCIDR({ labelSelector: selector })).items;
      return left.length === 0 ? done(true) : notYet(`${left.map((c) => c.metadata?.name).join(', ')} left`);
    });
    if (opts.namespaces) {
      const namespaces = (await this.core.listNamespace({ labelSelector: selector })).items;
      await Promise.all(
        namespaces.map((n) => this.core.deleteNamespace({ name: n.metadata!.name! }).catch(ignore(404))),
      );
      await this.wait(`namespaces of ${owner} to be deleted`, async () => {
        const left = (await this.core.listNamespace({ labelSelector: selector })).items;
        return left.length === 0 ? done(true) : notYet(`${left.length} left`);
      });
    }
  }
}

function ignore(code: number) {
  return (e: unknown): void => {
    if (apiStatus(e) !== code) throw e;
  };
}

function rethrow(what: string) {
  return (e: unknown): never => {
    throw new Error(`creating ${what}: ${apiErrorText(e)}`, { cause: e });
  };
}
