/**
 * Resolves a cell's flow against its topology: the client host, the addresses to probe, the
 * servers to start (with the port they listen on) and the addresses each `SourceSeen` stands for.
 */
import { NotFoundError } from '../errors.js';
import type { Topology } from '../model/topology.js';
import { nlbAddresses, nlbHostId } from '../nlb/config.js';
import type { Destination, Flow, SourceSeen } from './cell.js';

export interface ResolvedFlow {
  client: string;
  clientAddress: string;
  /** Probed concurrently, attempts split over them. */
  destinations: { address: string; port: number }[];
  /** Hosts (pods) that must run a server, and the port. */
  servers: { host: string; port: number }[];
  /** The NLB nodes (host ids) the client reaches, for a flow through an NLB. */
  nlbHosts?: string[];
  /** The flow's destination as the cell names it. */
  to: Destination;
  label: string;
}

function service(topology: Topology, ref: string) {
  const [ns, name] = ref.includes('/') ? ref.split('/', 2) : ['default', ref];
  const s = topology.services.find((x) => x.namespace === ns && x.name === name);
  if (!s) throw new NotFoundError(`flow: no service ${ref}`);
  return s;
}

function clientOf(topology: Topology, name: string): { address: string; kind: string } {
  const pod = topology.pods.find((p) => p.name === name);
  if (pod) return { address: pod.address, kind: 'pod' };
  const inet = topology.internetClients.find((c) => c.name === name);
  if (inet) return { address: inet.address, kind: 'internet' };
  const node = topology.nodes.find((n) => n.name === name);
  if (node) return { address: node.address, kind: 'node' };
  throw new NotFoundError(`flow.from: no pod, internet client or node named ${name}`);
}

function destinations(
  topology: Topology,
  to: Destination,
  fromInternet: boolean,
): ResolvedFlow['destinations'] {
  if ('internet' in to) {
    const c = topology.internetClients.find((x) => x.name === to.internet);
    if (!c) throw new NotFoundError(`flow.to.internet: no internet client ${to.internet}`);
    return [{ address: c.address, port: to.port }];
  }
  if ('pod' in to) {
    const pod = topology.pods.find((p) => p.name === to.pod);
    if (!pod) throw new NotFoundError(`flow.to.pod: no pod ${to.pod}`);
    return [{ address: pod.address, port: to.port }];
  }
  if ('service' in to) {
    const s = service(topology, to.service);
    const port = to.port ? s.ports.find((p) => p.name === to.port) : s.ports[0];
    if (!port) throw new NotFoundError(`flow.to.port: service ${to.service} has no port ${to.port}`);
    switch (to.via) {
      case 'clusterIP':
        return [{ address: s.clusterIP, port: port.port }];
      case 'loadBalancerIP': {
        const ip = s.loadBalancerIPs[0];
        if (!ip) throw new NotFoundError(`flow.to: service ${to.service} has no loadBalancerIPs`);
        return [{ address: ip, port: port.port }];
      }
      case 'nodePort': {
        const node = topology.nodes.find((n) => n.name === to.node);
        if (!node) throw new NotFoundError(`flow.to.node: no node ${String(to.node)}`);
        if (!port.nodePort) throw new NotFoundError(`flow.to: service ${to.service} has no nodePort`);
        const address = fromInternet ? node.enis[0]!.publicAddress : node.address;
        if (!address) throw new NotFoundError(`flow.to.node: ${node.name} has no public address on eth0`);
        return [{ address, port: port.nodePort }];
      }
    }
  }
  const lb = topology.loadBalancers.find((l) => l.name === to.nlb);
  if (!lb) throw new NotFoundError(`flow.to.nlb: no load balancer ${to.nlb}`);
  if (!lb.listeners.some((l) => l.port === to.port))
    throw new NotFoundError(`flow.to.port: ${to.nlb} has no listener on ${to.port}`);
  const all = nlbAddresses(topology, lb.name);
  const picked = lb.nodes
    .map((n, i) => ({ zone: n.zone, address: all[i]! }))
    .filter((n) => !to.zones || to.zones.includes(n.zone));
  if (picked.length === 0)
    throw new NotFoundError(`flow.to.zones: ${to.nlb} has no node in ${to.zones?.join(', ')}`);
  return picked.map((n) => ({ address: n.address, port: to.port }));
}

/** Pods that serve the destination: the pod itself, the Service's endpoints, or the NLB's targets. */
function servers(topology: Topology, to: Destination): ResolvedFlow['servers'] {
  if ('pod' in to) return [{ host: to.pod, port: to.port }];
  if ('internet' in to) return [{ host: to.internet, port: to.port }];
  const fromService = (ref: string, portName?: string) => {
    const s = service(topology, ref);
    const port = portName ? s.ports.find((p) => p.name === portName)! : s.ports[0]!;
    return s.endpoints.map((p) => ({ host: p.name, port: port.targetPort }));
  };
  if ('service' in to) return fromService(to.service, to.port);
  const lb = topology.loadBalancers.find((l) => l.name === to.nlb)!;
  const tg = lb.listeners.find((l) => l.port === to.port)!.targetGroup;
  if (tg.targetType === 'ip') return tg.targets.map((t) => ({ host: t.name, port: t.port }));
  // Instance targets: the NodePort's Service serves.
  const found = serviceOfNodePort(topology, tg.targets[0]?.port);
  if (!found)
    throw new NotFoundError(`flow.to: no Service has nodePort ${tg.targets[0]?.port} for ${to.nlb}`);
  return found.service.endpoints.map((e) => ({ host: e.name, port: found.port.targetPort }));
}

/** The Service (and its port) that owns a node port: what serves an NLB's instance targets. */
export function serviceOfNodePort(
  topology: Topology,
  nodePort: number | undefined,
):
  { service: Topology['services'][number]; port: Topology['services'][number]['ports'][number] } | undefined {
  for (const service of topology.services)
    for (const port of service.ports) if (port.nodePort === nodePort) return { service, port };
  return undefined;
}

export function resolveFlow(topology: Topology, flow: Flow): ResolvedFlow {
  const client = clientOf(topology, flow.from);
  const dests = destinations(topology, flow.to, client.kind === 'internet');
  const uniq = new Map(servers(topology, flow.to).map((s) => [`${s.host}:${s.port}`, s]));
  const where = dests.map((d) => `${d.address}:${d.port}`).join(', ');
  const what =
    'pod' in flow.to
      ? `pod ${flow.to.pod}`
      : 'internet' in flow.to
        ? `internet ${flow.to.internet}`
        : 'service' in flow.to
          ? `${flow.to.service} ${flow.to.via}${flow.to.node ? ` on ${flow.to.node}` : ''}`
          : `${flow.to.nlb}`;
  const lb =
    'nlb' in flow.to
      ? topology.loadBalancers.find((l) => 'nlb' in flow.to && l.name === flow.to.nlb)
      : undefined;
  const zones = 'nlb' in flow.to ? flow.to.zones : undefined;
  return {
    client: flow.from,
    clientAddress: client.address,
    destinations: dests,
    servers: [...uniq.values()],
    to: flow.to,
    ...(lb && {
      nlbHosts: lb.nodes.filter((n) => !zones || zones.includes(n.zone)).map((n) => nlbHostId(lb, n)),
    }),
    label: `${client.kind} ${flow.from} -> ${what} ${where} (${flow.kind ?? 'tcp'})`,
  };
}

/** The addresses a SourceSeen expectation accepts. */
export function sourceAddresses(topology: Topology, flow: ResolvedFlow, s: SourceSeen): string[] {
  if (s === 'client') return [flow.clientAddress];
  const addressesOf = (n: Topology['nodes'][number]): string[] =>
    n.enis.flatMap((e) => [e.address, e.publicAddress]).filter((a): a is string => !!a);
  if ('anyNode' in s) return topology.nodes.flatMap(addressesOf);
  if ('node' in s) {
    const node = topology.nodes.find((n) => n.name === s.node);
    if (!node) throw new NotFoundError(`expect.sourceSeen.node: no node ${s.node}`);
    return addressesOf(node);
  }
  const lb = topology.loadBalancers.find((l) => l.name === s.nlb);
  if (!lb) throw new NotFoundError(`expect.sourceSeen.nlb: no load balancer ${s.nlb}`);
  return lb.nodes.map((n) => n.address);
}
