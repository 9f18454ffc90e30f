/**
 * The objects a cell is on a cluster, as a user would write them: a Pod per topology pod (placed on
 * its node, running returnpath's agent), a Service per topology Service, and for each NLB the
 * Service it fronts made a LoadBalancer Service carrying the AWS Load Balancer Controller's
 * annotations (lib/nlb/annotations.ts). Plus a privileged hostNetwork agent per node, for evidence.
 * Pure; every object carries the run's label. A cell the API cannot express is refused with the
 * reason (the caller skips it).
 */
import type { V1Namespace, V1Pod, V1Service } from '@kubernetes/client-node';
import type { LoadBalancer, Service, Topology } from '../model/topology.js';
import { ValidationError } from '../errors.js';
import { serviceAnnotations } from '../nlb/annotations.js';
import { AGENT_COMMAND } from './agent-cli.js';

export const RUN_LABEL = 'returnpath.dev/run';
export const CELL_LABEL = 'returnpath.dev/cell';
export const ROLE_LABEL = 'returnpath.dev/role';
export const POD_NAME_LABEL = 'returnpath.dev/pod';
/** On the run's namespace: who runs it (host, pid, start time), so that `clean` knows a dead run. */
export const OWNER_ANNOTATION = 'returnpath.dev/owner';
export const AGENT_CONTAINER = 'agent';
/** No controller serves this class: a LoadBalancer Service of a cell without an NLB stays without one. */
export const UNMANAGED_LB_CLASS = 'returnpath.dev/unmanaged';

export function agentImage(version: string): string {
  return `returnpath/agent:${version}`;
}

export function nodeAgentName(node: string): string {
  return `rp-node-${node}`.slice(0, 63);
}

export function selectorLabel(service: Pick<Service, 'name'>): string {
  return `svc.returnpath.dev/${service.name}`.slice(0, 63);
}

export interface ManifestOptions {
  run: string;
  namespace: string;
  version: string;
}

export function namespaceObject(o: ManifestOptions, owner: string): V1Namespace {
  return {
    apiVersion: 'v1',
    kind: 'Namespace',
    metadata: {
      name: o.namespace,
      labels: { [RUN_LABEL]: o.run },
      annotations: { [OWNER_ANNOTATION]: owner },
    },
  };
}

/**
 * The agent container: privileged in a node agent (the node's namespaces); in a cell's pod only
 * CAP_NET_ADMIN added, so the agent can read its own namespace's packet counters
 * (`iptables-save -c`) as evidence. The pod's network is the CNI's either way.
 */
function agentContainer(
  o: ManifestOptions,
  privileged: boolean,
): V1Pod['spec'] extends infer S ? (S extends { containers: (infer C)[] } ? C : never) : never {
  return {
    name: AGENT_CONTAINER,
    image: agentImage(o.version),
    command: [AGENT_COMMAND, 'hold'],
    securityContext: privileged ? { privileged: true } : { capabilities: { add: ['NET_ADMIN'] } },
  };
}

/** The evidence agent of a node: the node's network namespace, privileged. */
export function nodeAgentPod(node: string, o: ManifestOptions): V1Pod {
  return {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: {
      name: nodeAgentName(node),
      namespace: o.namespace,
      labels: { [RUN_LABEL]: o.run, [ROLE_LABEL]: 'node-agent' },
    },
    spec: {
      nodeName: node,
      hostNetwork: true,
      automountServiceAccountToken: false,
      terminationGracePeriodSeconds: 1,
      tolerations: [{ operator: 'Exists' }],
      containers: [agentContainer(o, true)],
    },
  };
}

export interface CellObjects {
  pods: V1Pod[];
  services: V1Service[];
}

export class NotExpressible extends Error {
  override readonly name = 'NotExpressible';
}

/** The Service an NLB's target group fronts, and the port it listens on. */
function frontedService(topology: Topology, lb: LoadBalancer): Service {
  if (lb.listeners.length !== 1)
    throw new NotExpressible(
      `NLB ${lb.name} has ${lb.listeners.length} listeners; one Service gives one per port`,
    );
  const l = lb.listeners[0]!;
  const tg = l.targetGroup;
  const ports = new Set(tg.targets.map((t) => t.port));
  const svc = tg.service
    ? topology.services.find((s) => `${s.namespace}/${s.name}` === tg.service!.split(':')[0])
    : tg.targetType === 'instance'
      ? // Instance targets listed by hand: the Service whose node port they are.
        topology.services.find(
          (s) => ports.size === 1 && s.ports.some((p) => p.nodePort !== undefined && ports.has(p.nodePort)),
        )
      : topology.services.find(
          (s) =>
            s.endpoints.length === tg.targets.length &&
            tg.targets.every(
              (t) =>
                s.endpoints.some((e) => e.name === t.name) && s.ports.some((p) => p.targetPort === t.port),
            ),
        );
  if (!svc) throw new NotExpressible(`NLB ${lb.name}: no Service of the cell backs target group ${tg.name}`);
  if (!svc.ports.some((p) => p.port === l.port))
    throw new NotExpressible(
      `NLB ${lb.name} listens on ${l.port}; Service ${svc.namespace}/${svc.name} has no such port (the controller makes a listener per Service port)`,
    );
  return svc;
}

/**
 * The AWS Load Balancer Controller's annotations for `lb` fronting `svc` (lib/nlb/annotations.ts),
 * with a target group that lists its targets by hand named after the Service it fronts, and only
 * the Kubernetes nodes as the nodes the controller registers (a host without a CNI is none).
 */
function annotationsOf(topology: Topology, lb: LoadBalancer, svc: Service): Record<string, string> {
  const port = svc.ports.find((p) => p.port === lb.listeners[0]!.port)!;
  const ref = `${svc.namespace}/${svc.name}:${port.name}`;
  const asUser: LoadBalancer = {
    ...lb,
    listeners: lb.listeners.map((l) => ({ ...l, targetGroup: { ...l.targetGroup, service: ref } })),
  };
  const view: Topology = {
    ...topology,
    nodes: topology.nodes.filter((n) => n.cni.profile !== 'none'),
    services: topology.services.map((x) => (x === svc ? { ...x, type: 'LoadBalancer' } : x)),
  };
  try {
    return serviceAnnotations(view, asUser).metadata?.annotations ?? {};
  } catch (e) {
    if (e instanceof ValidationError)
      throw new NotExpressible(e.problems.map((p) => `${p.path}: ${p.message}`).join('; '));
    throw e;
  }
}

export function cellObjects(topology: Topology, cell: string, o: ManifestOptions): CellObjects {
  const fronted = new Map<string, LoadBalancer>();
  for (const lb of topology.loadBalancers) {
    const svc = frontedService(topology, lb);
    const key = `${svc.namespace}/${svc.name}`;
    if (fronted.has(key))
      throw new NotExpressible(
        `Service ${key} fronts NLBs ${fronted.get(key)!.name} and ${lb.name}; one Service has one NLB`,
      );
    fronted.set(key, lb);
  }
  const names = new Set<string>();
  for (const s of topology.services) {
    if (names.has(s.name))
      throw new NotExpressible(`two Services named ${s.name} (the run has one namespace)`);
    names.add(s.name);
    if (s.loadBalancerIPs.length)
      throw new NotExpressible(
        `Service ${s.namespace}/${s.name} has load balancer IPs in its status: only the cluster's cloud provider writes them`,
      );
  }
  const labels = { [RUN_LABEL]: o.run, [CELL_LABEL]: cell };
  const pods = topology.pods.map((p): V1Pod => ({
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: {
      name: p.name,
      namespace: o.namespace,
      labels: {
        ...labels,
        [POD_NAME_LABEL]: p.name,
        ...Object.fromEntries(
          topology.services
            .filter((s) => s.endpoints.some((e) => e.name === p.name))
            .map((s) => [selectorLabel(s), 'true']),
        ),
      },
    },
    spec: {
      nodeName: p.node,
      automountServiceAccountToken: false,
      terminationGracePeriodSeconds: 1,
      enableServiceLinks: false,
      containers: [agentContainer(o, false)],
    },
  }));
  const services = topology.services.map((s): V1Service => {
    const lb = fronted.get(`${s.namespace}/${s.name}`);
    const type = lb ? 'LoadBalancer' : s.type;
    return {
      apiVersion: 'v1',
      kind: 'Service',
      metadata: {
        name: s.name,
        namespace: o.namespace,
        labels,
        ...(lb && { annotations: annotationsOf(topology, lb, s) }),
      },
      spec: {
        type,
        // The cell's ClusterIP; a cluster whose Service range does not hold it assigns another (session.ts).
        clusterIP: s.clusterIP,
        selector: { [selectorLabel(s)]: 'true' },
        ports: s.ports.map((p) => ({
          name: p.name,
          protocol: p.protocol,
          port: p.port,
          targetPort: p.targetPort,
          ...(type !== 'ClusterIP' && p.nodePort !== undefined && { nodePort: p.nodePort }),
        })),
        ...(type !== 'ClusterIP' && { externalTrafficPolicy: s.externalTrafficPolicy }),
        ...(type === 'LoadBalancer' &&
          s.externalTrafficPolicy === 'Local' &&
          s.healthCheckNodePort !== undefined && { healthCheckNodePort: s.healthCheckNodePort }),
        ...(type === 'LoadBalancer' && !lb && { loadBalancerClass: UNMANAGED_LB_CLASS }),
      },
    };
  });
  return { pods, services };
}
