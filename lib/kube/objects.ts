/**
 * The Kubernetes objects a topology stands for, as plain data (pure, unit-tested): the Nodes a
 * kubelet and the AWS cloud provider would register, the Pods bound to them with the status a
 * kubelet reports, the Services (their selectors match labels the Pods carry) with the status the
 * cloud provider writes, and a ServiceCIDR when the topology's Service range is not the
 * apiserver's. Everything carries the owner label, so it can be found and removed by label on any
 * cluster.
 *
 * The model has no pod namespaces or labels: a pod is created in the namespace of each Service it
 * backs (once per namespace; `default` when it backs none), labelled `returnpath.io/svc-<service>`
 * for each; a Service selects exactly that label.
 */
import { createHash } from 'node:crypto';
import type {
  V1Namespace,
  V1Node,
  V1Pod,
  V1PodStatus,
  V1Service,
  V1ServiceCIDR,
  V1ServiceStatus,
} from '@kubernetes/client-node';
import { cidrWithin, parseCidr } from '../model/ip.js';
import type { Node, Pod, Service, Topology } from '../model/topology.js';

/** The owner label: its value names the lab (run id) that created the object. */
export const OWNER_LABEL = 'returnpath.io/lab';
export const POD_LABEL = 'returnpath.io/pod';
export const SERVICE_NAME_LABEL = 'kubernetes.io/service-name';
/** The image of a lab pod: nothing pulls or runs it (returnpath is the kubelet). */
export const LAB_POD_IMAGE = 'returnpath.invalid/lab-pod:none';

export function serviceSelectorLabel(service: Pick<Service, 'name'>): string {
  return `returnpath.io/svc-${service.name}`;
}

export interface ObjectOptions {
  /** The owner label's value. */
  owner: string;
  /** The time kubelet reports as start (fixed in tests). */
  now?: Date;
  /** DNS name the cloud provider writes for each NLB (by load balancer name). */
  nlbHostname?: (lbName: string) => string;
  /** The apiserver's own Service range: no ServiceCIDR object is needed inside it. */
  apiserverServiceRange?: string;
}

export interface ClusterObjects {
  namespaces: V1Namespace[];
  nodes: V1Node[];
  /** Pods as created (spec), and the status a kubelet then reports. */
  pods: { pod: V1Pod; status: V1PodStatus }[];
  services: { service: V1Service; status?: V1ServiceStatus }[];
  serviceCIDRs: V1ServiceCIDR[];
}

const labels = (o: ObjectOptions, extra: Record<string, string> = {}): Record<string, string> => ({
  [OWNER_LABEL]: o.owner,
  ...extra,
});

/** `eu-west-1a` → `eu-west-1`; undefined for zone names that are not AWS-shaped (`az-a`). */
export function regionOfZone(zone: string): string | undefined {
  return /^([a-z]{2}(?:-[a-z]+)+-\d+)[a-z]$/.exec(zone)?.[1];
}

/** A stable fake EC2 instance id for a node (`i-` + 17 hex digits), for `spec.providerID`. */
export function instanceId(owner: string, node: string): string {
  return `i-${createHash('sha256').update(`${owner}/${node}`).digest('hex').slice(0, 17)}`;
}

/**
 * A Node as the kubelet registers it and the AWS cloud provider completes it: InternalIP of eth0
 * first (kube-proxy takes the first as the node IP), then the secondary ENIs' addresses,
 * ExternalIP for Elastic IPs, zone and region labels, providerID, Ready.
 */
export function nodeObject(node: Node, o: ObjectOptions): V1Node {
  const region = regionOfZone(node.zone);
  const internal = node.enis.map((e) => e.address).filter((a): a is string => a !== null);
  const external = node.enis.map((e) => e.publicAddress).filter((a): a is string => !!a);
  const now = (o.now ?? new Date()).toISOString();
  return {
    apiVersion: 'v1',
    kind: 'Node',
    metadata: {
      name: node.name,
      labels: labels(o, {
        'kubernetes.io/hostname': node.name,
        'kubernetes.io/os': 'linux',
        'kubernetes.io/arch': 'amd64',
        'topology.kubernetes.io/zone': node.zone,
        ...(region && { 'topology.kubernetes.io/region': region }),
      }),
    },
    spec: { providerID: `aws:///${node.zone}/${instanceId(o.owner, node.name)}` },
    status: {
      addresses: [
        ...internal.map((address) => ({ type: 'InternalIP', address })),
        ...external.map((address) => ({ type: 'ExternalIP', address })),
        { type: 'Hostname', address: node.name },
      ],
      conditions: [
        {
          type: 'Ready',
          status: 'True',
          reason: 'KubeletReady',
          message: 'returnpath is the kubelet of this lab node',
          lastHeartbeatTime: now as unknown as Date,
          lastTransitionTime: now as unknown as Date,
        },
      ],
    },
  };
}

/** The namespaces a pod lives in: each namespace of a Service it backs, else `default`. */
export function podNamespaces(topology: Topology, pod: Pod): string[] {
  const ns = [
    ...new Set(
      topology.services.filter((s) => s.endpoints.some((e) => e.name === pod.name)).map((s) => s.namespace),
    ),
  ];
  return ns.length ? ns.sort() : ['default'];
}

/** The Ready/not-Ready part of a pod's status (what a readiness flip changes). */
export function podConditions(ready: boolean, at: string): V1PodStatus['conditions'] {
  const t = at as unknown as Date;
  const r = ready ? 'True' : 'False';
  return [
    { type: 'PodReadyToStartContainers', status: 'True', lastTransitionTime: t },
    { type: 'Initialized', status: 'True', lastTransitionTime: t },
    { type: 'Ready', status: r, lastTransitionTime: t },
    { type: 'ContainersReady', status: r, lastTransitionTime: t },
    { type: 'PodScheduled', status: 'True', lastTransitionTime: t },
  ];
}

export function podStatus(pod: Pod, node: Node, ready: boolean, at: string): V1PodStatus {
  const t = at as unknown as Date;
  return {
    phase: 'Running',
    hostIP: node.address,
    hostIPs: [{ ip: node.address }],
    podIP: pod.address,
    podIPs: [{ ip: pod.address }],
    startTime: t,
    qosClass: 'BestEffort',
    conditions: podConditions(ready, at),
    containerStatuses: [
      {
        name: 'app',
        image: LAB_POD_IMAGE,
        imageID: '',
        ready,
        started: true,
        restartCount: 0,
        state: { running: { startedAt: t } },
      },
    ],
  };
}

export function podObject(topology: Topology, pod: Pod, namespace: string, o: ObjectOptions): V1Pod {
  const backs = topology.services.filter(
    (s) => s.namespace === namespace && s.endpoints.some((e) => e.name === pod.name),
  );
  return {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: {
      name: pod.name,
      namespace,
      labels: labels(o, {
        [POD_LABEL]: pod.name,
        ...Object.fromEntries(backs.map((s) => [serviceSelectorLabel(s), 'true'])),
      }),
    },
    spec: {
      nodeName: pod.node,
      automountServiceAccountToken: false,
      terminationGracePeriodSeconds: 0,
      enableServiceLinks: false,
      containers: [{ name: 'app', image: LAB_POD_IMAGE }],
    },
  };
}

/** The load balancer hostnames (NLB DNS names) fronting a Service through a target group. */
function nlbsOf(topology: Topology, service: Service): string[] {
  const ref = `${service.namespace}/${service.name}`;
  return topology.loadBalancers
    .filter((lb) => lb.targetGroups.some((tg) => tg.service?.split(':')[0] === ref))
    .map((lb) => lb.name);
}

export function serviceObject(service: Service, o: ObjectOptions): V1Service {
  const external = service.type !== 'ClusterIP';
  return {
    apiVersion: 'v1',
    kind: 'Service',
    metadata: { name: service.name, namespace: service.namespace, labels: labels(o) },
    spec: {
      type: service.type,
      clusterIP: service.clusterIP,
      clusterIPs: [service.clusterIP],
      ipFamilies: ['IPv4'],
      ipFamilyPolicy: 'SingleStack',
      selector: { [serviceSelectorLabel(service)]: 'true' },
      ports: service.ports.map((p) => ({
        ...(p.name && { name: p.name }),
        protocol: p.protocol,
        port: p.port,
        targetPort: p.targetPort,
        ...(p.nodePort !== undefined && { nodePort: p.nodePort }),
      })),
      internalTrafficPolicy: 'Cluster',
      sessionAffinity: 'None',
      ...(external && { externalTrafficPolicy: service.externalTrafficPolicy }),
      ...(service.healthCheckNodePort !== undefined && { healthCheckNodePort: service.healthCheckNodePort }),
      ...(service.type === 'LoadBalancer' && { allocateLoadBalancerNodePorts: true }),
    },
  };
}

/**
 * What the cloud provider writes into a LoadBalancer Service's status: the topology's
 * loadBalancerIPs as `ip` (kube-proxy captures those on every node, seed 002), and for each
 * emulated NLB fronting it a `hostname`, as the AWS load balancer controller writes an NLB's DNS
 * name (kube-proxy writes no rule for a hostname: in-cluster clients really go through the NLB).
 */
export function serviceStatus(
  topology: Topology,
  service: Service,
  o: ObjectOptions,
): V1ServiceStatus | undefined {
  if (service.type !== 'LoadBalancer') return undefined;
  const hostname = o.nlbHostname ?? ((lb: string) => `${lb}.nlb.returnpath.invalid`);
  return {
    loadBalancer: {
      ingress: [
        ...service.loadBalancerIPs.map((ip) => ({ ip, ipMode: 'VIP' })),
        ...nlbsOf(topology, service).map((lb) => ({ hostname: hostname(lb) })),
      ],
    },
  };
}

export function serviceCidrName(cidr: string): string {
  return `returnpath-${cidr.replace(/[./]/g, '-')}`;
}

export function clusterObjects(topology: Topology, o: ObjectOptions): ClusterObjects {
  const nodeByName = new Map(topology.nodes.map((n) => [n.name, n]));
  const at = (o.now ?? new Date()).toISOString();
  const namespaces = [
    ...new Set([
      'default',
      ...topology.services.map((s) => s.namespace),
      ...topology.pods.flatMap((p) => podNamespaces(topology, p)),
    ]),
  ]
    .sort()
    .map((name): V1Namespace => ({
      apiVersion: 'v1',
      kind: 'Namespace',
      metadata: { name, labels: labels(o) },
    }));
  const pods = topology.pods.flatMap((p) =>
    podNamespaces(topology, p).map((ns) => ({
      pod: podObject(topology, p, ns, o),
      status: podStatus(p, nodeByName.get(p.node)!, true, at),
    })),
  );
  const serviceCIDRs = topology.services.length === 0 ? [] : serviceCidrObjects(topology, o);
  return {
    namespaces,
    nodes: topology.nodes.map((n) => nodeObject(n, o)),
    pods,
    services: topology.services.map((s) => {
      const status = serviceStatus(topology, s, o);
      return { service: serviceObject(s, o), ...(status && { status }) };
    }),
    serviceCIDRs,
  };
}

/** The topology's ServiceCIDR, unless its Service range is inside the apiserver's own. */
function serviceCidrObjects(topology: Topology, o: ObjectOptions): V1ServiceCIDR[] {
  const inApiserverRange =
    o.apiserverServiceRange !== undefined &&
    cidrWithin(topology.serviceCIDR, parseCidr(o.apiserverServiceRange));
  if (inApiserverRange) return [];
  return [
    {
      apiVersion: 'networking.k8s.io/v1',
      kind: 'ServiceCIDR',
      metadata: { name: serviceCidrName(topology.serviceCIDR.text), labels: labels(o) },
      spec: { cidrs: [topology.serviceCIDR.text] },
    },
  ];
}

/**
 * Serve mode's objects: the Nodes only (the lab kubelet adds its endpoint when it starts), and the
 * topology's ServiceCIDR, so that Services created through the API get ClusterIPs of the range the
 * lab is built for. No Pods or Services: those come through the API.
 */
export function serveObjects(topology: Topology, o: ObjectOptions): ClusterObjects {
  return {
    namespaces: [],
    // A host without a CNI (seed 004's bastion) is an instance of the VPC, not a Kubernetes node.
    nodes: topology.nodes.filter((n) => n.cni.profile !== 'none').map((n) => nodeObject(n, o)),
    pods: [],
    services: [],
    serviceCIDRs: serviceCidrObjects(topology, o),
  };
}
