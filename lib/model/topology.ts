/**
 * Loads a topology spec, validates it (structure, then cross-references) and returns the
 * normalized model every other layer uses: references resolved, defaults applied.
 */
import { readFileSync } from 'node:fs';
import { dirname, resolve as resolvePath } from 'node:path';
import { parse as parseYaml } from 'yaml';
import { VERSIONS } from '../components/versions.js';
import { parseConflist, type Conflist } from './conflist.js';
import { ValidationError, type ValidationProblem } from '../errors.js';
import { readTextInput } from '../files.js';
import {
  cidrContains,
  cidrsOverlap,
  cidrWithin,
  ipToInt,
  nthAddress,
  broadcast,
  parseCidr,
  specialAddress,
  specialCidr,
  type Cidr,
} from './ip.js';
import { TopologySpec, type CniSpec, type KubeProxySpec, type NodeSysctls } from './schema.js';
import { renderValue, validateWith } from './zod-problems.js';
export { renderPath } from './zod-problems.js';

export interface Subnet {
  name: string;
  zone: string;
  cidr: Cidr;
  /** The VPC router's address in the subnet: base + 1. */
  gateway: string;
  public: boolean;
}

export interface Eni {
  node: string;
  name: string;
  /** Device number: 0 for eth0. */
  index: number;
  subnet: Subnet;
  address: string | null;
  sourceDestCheck: boolean;
  publicAddress?: string;
}

type PluginCniSpec = Extract<CniSpec, { profile: 'plugin' }>;
/** A node's CNI as resolved: a `plugin` profile's conflist is read and validated. */
export type NodeCni =
  | Exclude<CniSpec, { profile: 'plugin' }>
  | (Omit<PluginCniSpec, 'conflist'> & {
      conflist: Conflist;
      /** The conflist file, when it came from one. */
      conflistFile?: string;
    });
export type VpcCniSpec = Extract<CniSpec, { profile: 'vpc-cni' | 'vpc-cni-legacy' }>;

/** Is this node wired by real CNI binaries (the upstream VPC CNI or a conflist's plugins)? */
export function realCni(cni: NodeCni): boolean {
  return cni.profile === 'plugin' || (isVpcCni(cni) && cni.implementation === 'real');
}

export function isVpcCni(cni: NodeCni | CniSpec): cni is VpcCniSpec {
  return cni.profile === 'vpc-cni' || cni.profile === 'vpc-cni-legacy';
}

/** The pinned upstream version of a VPC CNI profile (versions.ts). */
export function pinnedVpcCniVersion(profile: VpcCniSpec['profile']): string {
  return profile === 'vpc-cni' ? VERSIONS.vpcCni : VERSIONS.vpcCniLegacy;
}

export interface Node {
  name: string;
  zone: string;
  subnet: Subnet;
  enis: Eni[];
  cni: NodeCni;
  sysctls: NodeSysctls;
  /** eth0's address. */
  address: string;
}

export interface Pod {
  name: string;
  node: string;
  eni: string;
  address: string;
}

export interface InternetClient {
  name: string;
  address: string;
}

export interface ServicePort {
  name: string;
  protocol: 'TCP' | 'UDP';
  port: number;
  targetPort: number;
  nodePort?: number;
}

export interface Service {
  namespace: string;
  name: string;
  type: 'ClusterIP' | 'NodePort' | 'LoadBalancer';
  clusterIP: string;
  ports: ServicePort[];
  externalTrafficPolicy: 'Cluster' | 'Local';
  healthCheckNodePort?: number;
  loadBalancerIPs: string[];
  /** Backing pods, resolved. */
  endpoints: Pod[];
}

export interface HealthCheck {
  protocol: 'TCP' | 'HTTP';
  /** Resolved per target: undefined means the target's traffic port. */
  port?: number;
  path: string;
  intervalSeconds: number;
  timeoutSeconds: number;
  healthyThreshold: number;
  unhealthyThreshold: number;
}

export interface Target {
  /** Stable id: `node/NAME:PORT` or `pod/NAME:PORT`. */
  id: string;
  kind: 'instance' | 'ip';
  /** Node or pod name. */
  name: string;
  address: string;
  port: number;
  zone: string;
}

export interface TargetGroup {
  name: string;
  targetType: 'instance' | 'ip';
  preserveClientIp: boolean;
  healthCheck: HealthCheck;
  targets: Target[];
  /** The Service it was derived from, when any. */
  service?: string;
}

export interface Listener {
  port: number;
  protocol: 'TCP';
  targetGroup: TargetGroup;
  idleTimeoutSeconds: number;
}

export interface LoadBalancerNode {
  zone: string;
  subnet: Subnet;
  address: string;
  publicAddress?: string;
}

export interface LoadBalancer {
  name: string;
  scheme: 'internal' | 'internet-facing';
  nodes: LoadBalancerNode[];
  crossZone: boolean;
  listeners: Listener[];
  targetGroups: TargetGroup[];
  hashing: { mode: '5-tuple' | 'random'; seed: number };
}

export interface Topology {
  name: string;
  description?: string;
  vpcCidrs: Cidr[];
  zones: string[];
  subnets: Subnet[];
  clusterCIDR: Cidr;
  serviceCIDR: Cidr;
  /** kube-proxy settings shared by the emulated and the real kube-proxy. */
  kubeProxy: KubeProxySpec;
  nodes: Node[];
  pods: Pod[];
  internetClients: InternetClient[];
  services: Service[];
  loadBalancers: LoadBalancer[];
}

export interface ValidateOptions {
  /** Where relative paths in the spec (a conflist file) are resolved; default the working directory. */
  baseDir?: string;
}

export async function loadTopology(path: string): Promise<Topology> {
  return parseTopology(await readTextInput(path, 'topology spec'), path, { baseDir: dirname(path) });
}

export function parseTopology(text: string, source = 'topology', opts: ValidateOptions = {}): Topology {
  let data: unknown;
  try {
    data = parseYaml(text);
  } catch (e) {
    throw new ValidationError(source, [
      { path: '', value: '(file)', message: `not YAML or JSON: ${(e as Error).message}` },
    ]);
  }
  if (data === null || data === undefined)
    throw new ValidationError(source, [
      {
        path: '',
        value: '(file)',
        message: 'is empty: no YAML or JSON document (only blank lines or comments); expected a Topology',
      },
    ]);
  return validateTopology(data, source, opts);
}

export function validateTopology(data: unknown, source = 'topology', opts: ValidateOptions = {}): Topology {
  const spec = validateWith(TopologySpec, data, source);
  const problems: ValidationProblem[] = [];
  const topology = resolve(
    spec,
    (path, value, message) => problems.push({ path, value: renderValue(value), message }),
    opts.baseDir ?? process.cwd(),
  );
  // Nodes sharing defaults.cni report its problems once.
  const unique = problems.filter(
    (p, i) => problems.findIndex((q) => q.path === p.path && q.message === p.message) === i,
  );
  if (unique.length > 0) throw new ValidationError(source, unique);
  return topology;
}

type Report = (path: string, value: unknown, message: string) => void;

/** Cross-reference checks and normalization. Reports every problem it finds. */
function resolve(spec: TopologySpec, report: Report, baseDir: string): Topology {
  const vpcCidrs = spec.vpc.cidrs.map(parseCidr);
  const special = (ip: string, path: string): boolean => {
    const why = specialAddress(ip);
    if (why) report(path, ip, `is ${why}; use an address a host can have`);
    return why !== undefined;
  };
  vpcCidrs.forEach((c, i) => {
    const why = specialCidr(c);
    if (why)
      report(`vpc.cidrs[${i}]`, c.text, `overlaps ${why}; a VPC uses private or public unicast ranges`);
  });
  vpcCidrs.forEach((a, i) =>
    vpcCidrs.slice(i + 1).forEach((b, j) => {
      if (cidrsOverlap(a, b))
        report(
          `vpc.cidrs[${i + j + 1}]`,
          b.text,
          `overlaps vpc.cidrs[${i}] (${a.text}); VPC CIDRs must be disjoint`,
        );
    }),
  );
  const inVpc = (ip: string): boolean => vpcCidrs.some((c) => cidrContains(c, ip));

  const zones = uniqueNames(spec.vpc.zones, 'vpc.zones', report);
  const subnets: Subnet[] = [];
  spec.vpc.zones.forEach((z, zi) =>
    z.subnets.forEach((s, si) => {
      const path = `vpc.zones[${zi}].subnets[${si}]`;
      const c = parseCidr(s.cidr);
      if (!vpcCidrs.some((v) => cidrWithin(c, v)))
        report(
          `${path}.cidr`,
          s.cidr,
          `is not inside any VPC CIDR (${vpcCidrs.map((v) => v.text).join(', ')})`,
        );
      if (c.prefix > 28) report(`${path}.cidr`, s.cidr, 'is smaller than /28, the smallest VPC subnet');
      const clash = subnets.find((o) => cidrsOverlap(o.cidr, c));
      if (clash) report(`${path}.cidr`, s.cidr, `overlaps subnet ${clash.name} (${clash.cidr.text})`);
      if (subnets.some((o) => o.name === s.name))
        report(`${path}.name`, s.name, 'duplicates another subnet name');
      subnets.push({ name: s.name, zone: z.name, cidr: c, gateway: nthAddress(c, 1), public: s.public });
    }),
  );
  const subnetByName = new Map(subnets.map((s) => [s.name, s]));

  // Every address has one owner.
  const owners = new Map<string, string>();
  const claim = (ip: string, owner: string, path: string): void => {
    const prev = owners.get(ip);
    if (prev) report(path, ip, `is already owned by ${prev}; an address has one owner`);
    else owners.set(ip, owner);
  };
  for (const s of subnets) claim(s.gateway, `the VPC router of subnet ${s.name}`, `vpc (subnet ${s.name})`);

  const checkHostAddress = (ip: string, subnet: Subnet, path: string): void => {
    if (!cidrContains(subnet.cidr, ip)) {
      report(path, ip, `is outside subnet ${subnet.name} (${subnet.cidr.text})`);
      return;
    }
    const offset = ipToInt(ip) - subnet.cidr.base;
    if (offset < 4 || ip === broadcast(subnet.cidr))
      report(
        path,
        ip,
        `is reserved in subnet ${subnet.name}: AWS reserves the first four addresses and the last`,
      );
  };

  const nodeNames = uniqueNames(spec.nodes, 'nodes', report);
  const nodes: Node[] = [];
  spec.nodes.forEach((n, ni) => {
    const path = `nodes[${ni}]`;
    const subnet = subnetByName.get(n.subnet);
    if (!subnet) {
      report(`${path}.subnet`, n.subnet, `names no subnet; known: ${[...subnetByName.keys()].join(', ')}`);
      return;
    }
    const cni = resolveCni(
      n.cni ?? spec.defaults.cni,
      n.cni ? `${path}.cni` : 'defaults.cni',
      n.name,
      baseDir,
      report,
    );
    if (!n.cni && !spec.defaults.cni)
      report(`${path}.cni`, undefined, 'no CNI profile: set nodes[].cni or defaults.cni');
    const enis: Eni[] = [];
    n.enis.forEach((e, ei) => {
      const epath = `${path}.enis[${ei}]`;
      if (e.name !== `eth${ei}`)
        report(
          `${epath}.name`,
          e.name,
          `ENIs are listed by device number: expected eth${ei} at position ${ei}`,
        );
      const esub = e.subnet ? subnetByName.get(e.subnet) : subnet;
      if (!esub) {
        report(`${epath}.subnet`, e.subnet, `names no subnet; known: ${[...subnetByName.keys()].join(', ')}`);
        return;
      }
      if (esub.zone !== subnet.zone)
        report(
          `${epath}.subnet`,
          e.subnet,
          `is in zone ${esub.zone}, but node ${n.name} is in zone ${subnet.zone}`,
        );
      if (e.address === null) {
        if (ei === 0) report(`${epath}.address`, null, 'the primary ENI (eth0) must have an address');
        else if (cni && cni.profile !== 'eni-policy-routing')
          report(
            `${epath}.address`,
            null,
            `an ENI without an address needs cni profile eni-policy-routing (this node uses ${cni.profile})`,
          );
      } else {
        checkHostAddress(e.address, esub, `${epath}.address`);
        claim(e.address, `node ${n.name} ${e.name}`, `${epath}.address`);
      }
      if (e.publicAddress !== undefined) {
        if (!esub.public)
          report(
            `${epath}.publicAddress`,
            e.publicAddress,
            `subnet ${esub.name} is not public (set public: true)`,
          );
        else if (e.address === null)
          report(
            `${epath}.publicAddress`,
            e.publicAddress,
            'an ENI without a private address cannot have a public one',
          );
        else if (inVpc(e.publicAddress))
          report(`${epath}.publicAddress`, e.publicAddress, 'is inside the VPC; a public address is not');
        else if (!special(e.publicAddress, `${epath}.publicAddress`))
          claim(e.publicAddress, `node ${n.name} ${e.name} (public)`, `${epath}.publicAddress`);
      }
      enis.push({
        node: n.name,
        name: e.name,
        index: ei,
        subnet: esub,
        address: e.address,
        sourceDestCheck: e.sourceDestCheck,
        publicAddress: e.publicAddress,
      });
    });
    for (const ifn of Object.keys(n.sysctls.interfaces))
      if (!n.enis.some((e) => e.name === ifn))
        report(`${path}.sysctls.interfaces.${ifn}`, ifn, `names no ENI of node ${n.name}`);
    if (cni && enis[0]?.address)
      nodes.push({
        name: n.name,
        zone: subnet.zone,
        subnet,
        enis,
        cni,
        sysctls: n.sysctls,
        address: enis[0].address,
      });
  });
  const nodeByName = new Map(nodes.map((n) => [n.name, n]));

  uniqueNames(spec.pods, 'pods', report, nodeNames);
  const pods: Pod[] = [];
  spec.pods.forEach((p, pi) => {
    const path = `pods[${pi}]`;
    const node = nodeByName.get(p.node);
    if (!node) {
      if (!nodeNames.has(p.node))
        report(`${path}.node`, p.node, `names no node; known: ${[...nodeNames].join(', ')}`);
      return;
    }
    const eni = node.enis.find((e) => e.name === p.eni);
    if (!eni) {
      report(
        `${path}.eni`,
        p.eni,
        `node ${p.node} has no ENI ${p.eni} (it has ${node.enis.map((e) => e.name).join(', ')})`,
      );
      return;
    }
    if (special(p.address, `${path}.address`)) return;
    const home = subnets.find((s) => cidrContains(s.cidr, p.address));
    if (home && home !== eni.subnet)
      report(
        `${path}.address`,
        p.address,
        `is in subnet ${home.name}, but ENI ${node.name}/${eni.name} is attached to subnet ${eni.subnet.name}`,
      );
    else if (home) checkHostAddress(p.address, home, `${path}.address`);
    claim(p.address, `pod ${p.name}`, `${path}.address`);
    pods.push({ name: p.name, node: p.node, eni: p.eni, address: p.address });
  });
  const podByName = new Map(pods.map((p) => [p.name, p]));

  uniqueNames(spec.internet.clients, 'internet.clients', report);
  const internetClients = spec.internet.clients.map((c, ci) => {
    if (special(c.address, `internet.clients[${ci}].address`)) return { name: c.name, address: c.address };
    if (inVpc(c.address))
      report(
        `internet.clients[${ci}].address`,
        c.address,
        'is inside the VPC; internet clients live outside it',
      );
    claim(c.address, `internet client ${c.name}`, `internet.clients[${ci}].address`);
    return { name: c.name, address: c.address };
  });

  const clusterCIDR = parseCidr(spec.cluster.clusterCIDR ?? vpcCidrs[0]!.text);
  const serviceCIDR = parseCidr(spec.cluster.serviceCIDR);
  const serviceSpecial = specialCidr(serviceCIDR);
  if (serviceSpecial)
    report(
      'cluster.serviceCIDR',
      serviceCIDR.text,
      `overlaps ${serviceSpecial}; Service IPs must be routable`,
    );
  vpcCidrs.forEach((v) => {
    if (cidrsOverlap(v, serviceCIDR))
      report('cluster.serviceCIDR', serviceCIDR.text, `overlaps VPC CIDR ${v.text}; Service IPs are virtual`);
  });

  const services = resolveServices(spec, serviceCIDR, podByName, report);
  const loadBalancers = resolveLoadBalancers(
    spec,
    subnets,
    nodeByName,
    podByName,
    services,
    inVpc,
    claim,
    report,
  );

  return {
    name: spec.metadata.name,
    description: spec.metadata.description,
    vpcCidrs,
    zones: [...zones],
    subnets,
    clusterCIDR,
    serviceCIDR,
    kubeProxy: spec.cluster.kubeProxy,
    nodes,
    pods,
    internetClients,
    services,
    loadBalancers,
  };
}

function uniqueNames(
  items: readonly { name: string }[],
  path: string,
  report: Report,
  alsoTaken: ReadonlySet<string> = new Set(),
): Set<string> {
  const seen = new Set<string>();
  items.forEach((it, i) => {
    if (seen.has(it.name)) report(`${path}[${i}].name`, it.name, `duplicates an earlier entry of ${path}`);
    else if (alsoTaken.has(it.name))
      report(`${path}[${i}].name`, it.name, 'is also a node name; host names must be unique across the lab');
    seen.add(it.name);
  });
  return seen;
}

function resolveServices(
  spec: TopologySpec,
  serviceCIDR: Cidr,
  podByName: Map<string, Pod>,
  report: Report,
): Service[] {
  const clusterIPs = new Set<string>();
  const nodePorts = new Map<number, string>();
  const services: Service[] = [];
  const takePort = (p: number, who: string, path: string): void => {
    const prev = nodePorts.get(p);
    if (prev) report(path, p, `node port already used by ${prev}`);
    else nodePorts.set(p, who);
  };
  spec.services.forEach((s, si) => {
    const path = `services[${si}]`;
    const id = `${s.namespace}/${s.name}`;
    if (services.some((o) => `${o.namespace}/${o.name}` === id))
      report(`${path}.name`, id, 'duplicates another Service');
    if (!cidrContains(serviceCIDR, s.clusterIP))
      report(`${path}.clusterIP`, s.clusterIP, `is outside cluster.serviceCIDR (${serviceCIDR.text})`);
    if (clusterIPs.has(s.clusterIP))
      report(`${path}.clusterIP`, s.clusterIP, 'is already used by another Service');
    clusterIPs.add(s.clusterIP);
    s.ports.forEach((p, pi) => {
      const ppath = `${path}.ports[${pi}]`;
      if (s.type === 'ClusterIP' && p.nodePort !== undefined)
        report(
          `${ppath}.nodePort`,
          p.nodePort,
          'a ClusterIP Service has no node port; use type NodePort or LoadBalancer',
        );
      if (s.type !== 'ClusterIP' && p.nodePort === undefined)
        report(`${ppath}.nodePort`, undefined, `a ${s.type} Service needs a nodePort (30000-32767)`);
      if (p.nodePort !== undefined) takePort(p.nodePort, `${id}:${p.name}`, `${ppath}.nodePort`);
      if (s.ports.length > 1 && !p.name)
        report(`${ppath}.name`, '', 'a Service with several ports must name each');
    });
    const needsHc = s.type === 'LoadBalancer' && s.externalTrafficPolicy === 'Local';
    if (needsHc && s.healthCheckNodePort === undefined)
      report(
        `${path}.healthCheckNodePort`,
        undefined,
        'a LoadBalancer Service with externalTrafficPolicy Local needs one',
      );
    if (!needsHc && s.healthCheckNodePort !== undefined)
      report(
        `${path}.healthCheckNodePort`,
        s.healthCheckNodePort,
        'only a LoadBalancer Service with externalTrafficPolicy Local has one',
      );
    if (s.healthCheckNodePort !== undefined)
      takePort(s.healthCheckNodePort, `${id} health check`, `${path}.healthCheckNodePort`);
    if (s.type === 'ClusterIP' && s.externalTrafficPolicy === 'Local')
      report(`${path}.externalTrafficPolicy`, 'Local', 'applies only to NodePort and LoadBalancer Services');
    if (s.loadBalancerIPs.length > 0 && s.type !== 'LoadBalancer')
      report(
        `${path}.loadBalancerIPs`,
        s.loadBalancerIPs,
        'only a LoadBalancer Service has load balancer IPs',
      );
    const endpoints: Pod[] = [];
    s.endpoints.forEach((e, ei) => {
      const pod = podByName.get(e);
      if (!pod) report(`${path}.endpoints[${ei}]`, e, 'names no pod');
      else endpoints.push(pod);
    });
    services.push({ ...s, endpoints });
  });
  return services;
}

function resolveLoadBalancers(
  spec: TopologySpec,
  subnets: Subnet[],
  nodeByName: Map<string, Node>,
  podByName: Map<string, Pod>,
  services: Service[],
  inVpc: (ip: string) => boolean,
  claim: (ip: string, owner: string, path: string) => void,
  report: Report,
): LoadBalancer[] {
  uniqueNames(spec.loadBalancers, 'loadBalancers', report);
  return spec.loadBalancers.map((lb, li) => {
    const path = `loadBalancers[${li}]`;
    const nodes: LoadBalancerNode[] = [];
    lb.nodes.forEach((n, ni) => {
      const npath = `${path}.nodes[${ni}]`;
      if (lb.nodes.findIndex((o) => o.zone === n.zone) !== ni)
        report(`${npath}.zone`, n.zone, 'an NLB has one node per availability zone');
      const subnet = subnets.find((s) => s.zone === n.zone && cidrContains(s.cidr, n.address));
      if (!subnet) {
        report(`${npath}.address`, n.address, `is in no subnet of zone ${n.zone}`);
        return;
      }
      claim(n.address, `NLB ${lb.name} node in ${n.zone}`, `${npath}.address`);
      if (lb.scheme === 'internet-facing') {
        if (!n.publicAddress)
          report(`${npath}.publicAddress`, undefined, 'an internet-facing NLB node needs one');
        else if (inVpc(n.publicAddress))
          report(`${npath}.publicAddress`, n.publicAddress, 'is inside the VPC; a public address is not');
        else claim(n.publicAddress, `NLB ${lb.name} node in ${n.zone} (public)`, `${npath}.publicAddress`);
      } else if (n.publicAddress) {
        report(`${npath}.publicAddress`, n.publicAddress, 'an internal NLB has no public address');
      }
      nodes.push({ zone: n.zone, subnet, address: n.address, publicAddress: n.publicAddress });
    });

    const targetGroups: TargetGroup[] = lb.targetGroups.map((tg, ti) => {
      const tpath = `${path}.targetGroups[${ti}]`;
      const targets: Target[] = [];
      let svc: Service | undefined;
      let svcPort: ServicePort | undefined;
      if (tg.service) {
        const [nsName, portName = ''] = tg.service.split(':') as [string, string?];
        svc = services.find((s) => `${s.namespace}/${s.name}` === nsName);
        svcPort = svc?.ports.find((p) => p.name === portName);
        if (!svc || !svcPort)
          report(`${tpath}.service`, tg.service, 'names no Service port (namespace/name:portName)');
        else if (tg.targetType === 'instance' && svcPort.nodePort === undefined)
          report(`${tpath}.service`, tg.service, 'instance targets need a NodePort or LoadBalancer Service');
      }
      if (!tg.service && !tg.targets) report(`${tpath}`, tg.name, 'needs a service or a list of targets');
      const list =
        tg.targets ??
        (svc && svcPort
          ? tg.targetType === 'instance'
            ? [...nodeByName.keys()].map((n) => ({ node: n, pod: undefined, port: undefined }))
            : svc.endpoints.map((p) => ({ node: undefined, pod: p.name, port: undefined }))
          : []);
      list.forEach((t, i) => {
        const ipath = `${tpath}.targets[${i}]`;
        if (tg.targetType === 'instance') {
          const node = t.node ? nodeByName.get(t.node) : undefined;
          const port = t.port ?? svcPort?.nodePort;
          if (!node || t.pod) report(ipath, t, 'an instance target names a node (and no pod)');
          else if (port === undefined)
            report(`${ipath}.port`, undefined, 'needs a port, or a service with a node port');
          else
            targets.push({
              id: `node/${node.name}:${port}`,
              kind: 'instance',
              name: node.name,
              address: node.address,
              port,
              zone: node.zone,
            });
        } else {
          const pod = t.pod ? podByName.get(t.pod) : undefined;
          const port = t.port ?? svcPort?.targetPort;
          if (!pod || t.node) report(ipath, t, 'an ip target names a pod (and no node)');
          else if (port === undefined) report(`${ipath}.port`, undefined, 'needs a port, or a service');
          else {
            const zone = nodeByName.get(pod.node)?.zone ?? '';
            targets.push({
              id: `pod/${pod.name}:${port}`,
              kind: 'ip',
              name: pod.name,
              address: pod.address,
              port,
              zone,
            });
          }
        }
      });
      const local = svc?.externalTrafficPolicy === 'Local' && tg.targetType === 'instance';
      const hc = tg.healthCheck;
      const hcProtocol = hc?.protocol ?? (local ? 'HTTP' : 'TCP');
      const hcPort =
        hc?.port === undefined
          ? local
            ? svc?.healthCheckNodePort
            : undefined
          : hc.port === 'traffic-port'
            ? undefined
            : hc.port;
      return {
        name: tg.name,
        targetType: tg.targetType,
        preserveClientIp: tg.preserveClientIp ?? tg.targetType === 'instance',
        healthCheck: {
          protocol: hcProtocol,
          port: hcPort,
          path: hc?.path ?? '/healthz',
          intervalSeconds: hc?.intervalSeconds ?? 10,
          timeoutSeconds: hc?.timeoutSeconds ?? 6,
          healthyThreshold: hc?.healthyThreshold ?? 2,
          unhealthyThreshold: hc?.unhealthyThreshold ?? 2,
        },
        targets,
        service: tg.service,
      };
    });
    const listeners: Listener[] = [];
    lb.listeners.forEach((l, i) => {
      const tg = targetGroups.find((t) => t.name === l.targetGroup);
      if (!tg)
        report(`${path}.listeners[${i}].targetGroup`, l.targetGroup, 'names no target group of this NLB');
      else if (listeners.some((o) => o.port === l.port))
        report(`${path}.listeners[${i}].port`, l.port, 'duplicates a listener port');
      else
        listeners.push({
          port: l.port,
          protocol: l.protocol,
          targetGroup: tg,
          idleTimeoutSeconds: l.idleTimeoutSeconds,
        });
    });
    return {
      name: lb.name,
      scheme: lb.scheme,
      nodes,
      crossZone: lb.crossZone,
      listeners,
      targetGroups,
      hashing: lb.hashing,
    };
  });
}

/** A value a problem already rendered, back as data (so it is not quoted twice). */
function rendered(value: string): unknown {
  try {
    return JSON.parse(value) as unknown;
  } catch {
    return value === '(missing)' ? undefined : value;
  }
}

/**
 * A node's CNI: the implementation's fields make sense together, a real VPC CNI names a version
 * returnpath builds, a `plugin` profile's conflist is read (relative to the topology file) and valid.
 * Reports problems and returns undefined when the profile is absent or its conflist unusable.
 */
function resolveCni(
  cni: CniSpec | undefined,
  path: string,
  node: string,
  baseDir: string,
  report: Report,
): NodeCni | undefined {
  if (!cni) return undefined;
  if (isVpcCni(cni)) {
    const pinned = pinnedVpcCniVersion(cni.profile);
    if (cni.implementation === 'emulated') {
      if (cni.version !== undefined)
        report(
          `${path}.version`,
          cni.version,
          'applies to implementation: real only (the emulation has no version)',
        );
      if (cni.build !== undefined) report(`${path}.build`, cni.build, 'applies to implementation: real only');
    } else if (cni.version !== undefined && cni.build !== undefined)
      report(
        `${path}.version`,
        cni.version,
        'give either version (a pinned build) or build (your own directory), not both',
      );
    else if (cni.version !== undefined && cni.version !== pinned)
      report(
        `${path}.version`,
        cni.version,
        `is not a version returnpath builds for ${cni.profile}; allowed: ${pinned} (or build: DIR for your own build)`,
      );
    if (cni.profile === 'vpc-cni-legacy' && cni.externalServiceCidrs.length > 0)
      report(
        `${path}.externalServiceCidrs`,
        cni.externalServiceCidrs,
        'AWS_EXTERNAL_SERVICE_CIDRS (rule 1535) came with v1.8; the legacy CNI (<= v1.7) has no such option',
      );
    return cni.build ? { ...cni, build: resolvePath(baseDir, cni.build) } : cni;
  }
  if (cni.profile !== 'plugin') return cni;
  let data: unknown = cni.conflist;
  let conflistFile: string | undefined;
  if (typeof cni.conflist === 'string') {
    conflistFile = resolvePath(baseDir, cni.conflist);
    let text: string;
    try {
      text = readFileSync(conflistFile, 'utf8');
    } catch (e) {
      report(
        `${path}.conflist`,
        cni.conflist,
        `cannot read ${conflistFile}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`,
      );
      return undefined;
    }
    try {
      data = JSON.parse(text);
    } catch (e) {
      report(`${path}.conflist`, cni.conflist, `${conflistFile} is not JSON: ${(e as Error).message}`);
      return undefined;
    }
  }
  try {
    const conflist = parseConflist(data, `node ${node}`, `${path}.conflist`);
    return { ...cni, conflist, ...(conflistFile && { conflistFile }) };
  } catch (e) {
    if (!(e instanceof ValidationError)) throw e;
    for (const p of e.problems)
      report(p.path, rendered(p.value), conflistFile ? `${p.message} (in ${conflistFile})` : p.message);
    return undefined;
  }
}
