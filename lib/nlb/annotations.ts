/**
 * The AWS Load Balancer Controller's Service annotations, both ways (pure):
 *
 * - serviceAnnotations: the emulated model (a LoadBalancer, its target groups, the Service they
 *   front) as the Service a user writes for the controller: annotations and spec fields. What the
 *   model holds that no annotation expresses is an error naming it.
 * - loadBalancerFromService: a Service (and the cluster's Nodes and EndpointSlices) as the
 *   emulated NLB the controller would build on an NLB placement of the lab, with the controller's
 *   documented defaults; a bad annotation is a ValidationError naming the Service, the annotation,
 *   its value and what is allowed.
 *
 * Reference: kubernetes-sigs/aws-load-balancer-controller docs/guide/service/annotations.md, and
 * its model builder (pkg/service/model_builder.go) for the defaults of instance targets with
 * externalTrafficPolicy Local. Differences the lab makes, by design:
 * - health-check interval and timeout may be decimal seconds (the controller takes integers; the
 *   suites use sub-second checks to stay fast); so may listener idle timeouts below AWS's 60 s;
 * - `deregistration_delay.timeout_seconds` is validated and reported as not enforced (the
 *   emulated NLB sends no new flow to a removed target at once; its open flows go on until they
 *   end or idle out);
 * - every other controller annotation (TLS, proxy protocol, EIPs, subnets, security groups, ...)
 *   is refused with a message saying the lab does not emulate it, never silently ignored.
 */
import type { V1EndpointSlice, V1Node, V1Service } from '@kubernetes/client-node';
import { ValidationError, type ValidationProblem } from '../errors.js';
import type {
  HealthCheck,
  Listener,
  LoadBalancer,
  Target,
  TargetGroup,
  Topology,
} from '../model/topology.js';

const P = 'service.beta.kubernetes.io/aws-load-balancer-';
export const ANNOTATION = {
  type: `${P}type`,
  targetType: `${P}nlb-target-type`,
  scheme: `${P}scheme`,
  name: `${P}name`,
  targetGroupAttributes: `${P}target-group-attributes`,
  attributes: `${P}attributes`,
  targetNodeLabels: `${P}target-node-labels`,
  hcProtocol: `${P}healthcheck-protocol`,
  hcPort: `${P}healthcheck-port`,
  hcPath: `${P}healthcheck-path`,
  hcInterval: `${P}healthcheck-interval`,
  hcTimeout: `${P}healthcheck-timeout`,
  hcHealthy: `${P}healthcheck-healthy-threshold`,
  hcUnhealthy: `${P}healthcheck-unhealthy-threshold`,
  /** Followed by `TCP-<port>`. */
  listenerAttributes: `${P}listener-attributes.`,
} as const;

/** The controller's load balancer class for NLBs. */
export const NLB_CLASS = 'service.k8s.aws/nlb';
/** Nodes with this label are never instance targets (the controller honours it). */
export const EXCLUDE_LABEL = 'node.kubernetes.io/exclude-from-external-load-balancers';
export const ZONE_LABEL = 'topology.kubernetes.io/zone';
/** An NLB listener's idle timeout on AWS when no listener attribute sets it. */
export const DEFAULT_IDLE_TIMEOUT_SECONDS = 350;

/** The controller's health-check defaults (model_builder.go). */
export const HC_DEFAULTS: HealthCheck = {
  protocol: 'TCP',
  path: '/',
  intervalSeconds: 10,
  timeoutSeconds: 10,
  healthyThreshold: 3,
  unhealthyThreshold: 3,
};
/** ... for instance targets of a Service with externalTrafficPolicy Local (port: spec.healthCheckNodePort). */
export const HC_DEFAULTS_LOCAL: HealthCheck = {
  protocol: 'HTTP',
  path: '/healthz',
  intervalSeconds: 10,
  timeoutSeconds: 6,
  healthyThreshold: 2,
  unhealthyThreshold: 2,
};

/** The label a Service built by serviceAnnotations selects (objects.ts labels the lab's pods so). */
export function selectorLabel(serviceName: string): string {
  return `returnpath.io/svc-${serviceName}`;
}

// ---------------------------------------------------------------------------------------------
// model -> Service

const num = (n: number): string => String(n);
const sameHc = (a: HealthCheck, b: HealthCheck): boolean =>
  a.protocol === b.protocol &&
  a.port === b.port &&
  (a.protocol === 'TCP' || a.path === b.path) &&
  a.intervalSeconds === b.intervalSeconds &&
  a.timeoutSeconds === b.timeoutSeconds &&
  a.healthyThreshold === b.healthyThreshold &&
  a.unhealthyThreshold === b.unhealthyThreshold;

/**
 * The Service (annotations and spec) a user writes for the AWS Load Balancer Controller to build
 * `lb` as the model has it. Throws ValidationError naming each part the annotations cannot express.
 */
export function serviceAnnotations(topology: Topology, lb: LoadBalancer): V1Service {
  const problems: ValidationProblem[] = [];
  const at = `loadBalancers[${lb.name}]`;
  const bad = (path: string, value: unknown, message: string): void => {
    problems.push({ path: `${at}${path}`, value: JSON.stringify(value) ?? '(missing)', message });
  };
  const refs = [...new Set(lb.listeners.map((l) => l.targetGroup.service?.split(':')[0]))];
  lb.listeners.forEach((l) => {
    if (!l.targetGroup.service)
      bad(
        `.targetGroups[${l.targetGroup.name}].service`,
        undefined,
        'the controller builds target groups from a Service; a target group without one has no annotation form',
      );
  });
  if (refs.length !== 1 || refs[0] === undefined) {
    if (refs.length > 1)
      bad('.listeners', refs, 'the controller builds one NLB per Service; these listeners serve several');
    throw new ValidationError(`load balancer ${lb.name} as Service annotations`, problems);
  }
  const svc = topology.services.find((s) => `${s.namespace}/${s.name}` === refs[0]);
  if (!svc) {
    bad('.targetGroups', refs[0], 'names no Service of the topology');
    throw new ValidationError(`load balancer ${lb.name} as Service annotations`, problems);
  }
  if (svc.type !== 'LoadBalancer')
    bad('.targetGroups', refs[0], `is a ${svc.type} Service; the controller serves type LoadBalancer only`);

  // One listener per Service port, on the Service's port; every target group alike (one set of annotations).
  const first = lb.listeners[0]!.targetGroup;
  for (const p of svc.ports) {
    const l = lb.listeners.find((x) => x.targetGroup.service === `${refs[0]}:${p.name}`);
    if (p.protocol !== 'TCP') bad('.listeners', p, 'the emulated NLB has TCP listeners only');
    else if (!l)
      bad(
        '.listeners',
        p.port,
        `Service port ${p.name || p.port} has no listener; the controller makes one per port`,
      );
    else if (l.port !== p.port)
      bad(`.listeners[${l.port}].port`, l.port, `the controller listens on the Service port (${p.port})`);
  }
  for (const l of lb.listeners) {
    const tg = l.targetGroup;
    const path = `.targetGroups[${tg.name}]`;
    if (tg.targetType !== first.targetType)
      bad(
        `${path}.targetType`,
        tg.targetType,
        `differs from ${first.name}'s; one annotation sets every target group's`,
      );
    if (tg.preserveClientIp !== first.preserveClientIp)
      bad(
        `${path}.preserveClientIp`,
        tg.preserveClientIp,
        `differs from ${first.name}'s; one annotation sets all`,
      );
    if (!sameHc(tg.healthCheck, first.healthCheck))
      bad(
        `${path}.healthCheck`,
        tg.healthCheck,
        `differs from ${first.name}'s; one set of annotations sets all`,
      );
    for (const k of ['healthyThreshold', 'unhealthyThreshold'] as const)
      if (tg.healthCheck[k] < 2 || tg.healthCheck[k] > 10)
        bad(`${path}.healthCheck.${k}`, tg.healthCheck[k], 'the controller takes 2-10');
    if (l.idleTimeoutSeconds < 1 || l.idleTimeoutSeconds > 6000)
      bad(`.listeners[${l.port}].idleTimeoutSeconds`, l.idleTimeoutSeconds, 'must be 1-6000');
  }

  // Targets: what the controller selects, or a zone's nodes by label.
  const annotations: Record<string, string> = {
    [ANNOTATION.type]: 'external',
    [ANNOTATION.targetType]: first.targetType,
    [ANNOTATION.scheme]: lb.scheme,
    [ANNOTATION.name]: lb.name,
  };
  for (const l of lb.listeners) {
    const tg = l.targetGroup;
    const portName = tg.service!.split(':')[1] ?? '';
    const sp = svc.ports.find((p) => p.name === portName);
    if (!sp) continue;
    const path = `.targetGroups[${tg.name}].targets`;
    const ids = tg.targets.map((t) => t.id).sort();
    if (tg.targetType === 'instance') {
      const all = topology.nodes.map((n) => `node/${n.name}:${sp.nodePort}`).sort();
      const zoneOf = new Set(tg.targets.map((t) => t.zone));
      const zone = zoneOf.size === 1 ? [...zoneOf][0]! : undefined;
      const inZone = topology.nodes
        .filter((n) => n.zone === zone)
        .map((n) => `node/${n.name}:${sp.nodePort}`)
        .sort();
      if (same(ids, all)) continue;
      if (zone !== undefined && same(ids, inZone) && topology.zones.length > 1) {
        const labels = `${ZONE_LABEL}=${zone}`;
        const prev = annotations[ANNOTATION.targetNodeLabels];
        if (prev !== undefined && prev !== labels)
          bad(
            path,
            ids,
            `selects other nodes than another target group (${prev}); one annotation selects for all`,
          );
        annotations[ANNOTATION.targetNodeLabels] = labels;
      } else
        bad(
          path,
          ids,
          `the controller registers every Ready node on the node port ${sp.nodePort} (or those matching target-node-labels); this list is neither all nodes nor one zone's`,
        );
    } else {
      const want = svc.endpoints.map((p) => `pod/${p.name}:${sp.targetPort}`).sort();
      if (!same(ids, want))
        bad(
          path,
          ids,
          `the controller registers the Service's ready endpoints on port ${sp.targetPort}: ${want.join(', ')}`,
        );
    }
  }
  const tgAttrs = [`preserve_client_ip.enabled=${first.preserveClientIp}`];
  annotations[ANNOTATION.targetGroupAttributes] = tgAttrs.join(',');
  annotations[ANNOTATION.attributes] = `load_balancing.cross_zone.enabled=${lb.crossZone}`;
  const hc = first.healthCheck;
  annotations[ANNOTATION.hcProtocol] = hc.protocol.toLowerCase();
  annotations[ANNOTATION.hcPort] = hc.port === undefined ? 'traffic-port' : num(hc.port);
  if (hc.protocol === 'HTTP') annotations[ANNOTATION.hcPath] = hc.path;
  annotations[ANNOTATION.hcInterval] = num(hc.intervalSeconds);
  annotations[ANNOTATION.hcTimeout] = num(hc.timeoutSeconds);
  annotations[ANNOTATION.hcHealthy] = num(hc.healthyThreshold);
  annotations[ANNOTATION.hcUnhealthy] = num(hc.unhealthyThreshold);
  for (const l of lb.listeners)
    if (l.idleTimeoutSeconds !== DEFAULT_IDLE_TIMEOUT_SECONDS)
      annotations[`${ANNOTATION.listenerAttributes}TCP-${l.port}`] =
        `tcp.idle_timeout.seconds=${l.idleTimeoutSeconds}`;
  if (problems.length) throw new ValidationError(`load balancer ${lb.name} as Service annotations`, problems);
  return {
    apiVersion: 'v1',
    kind: 'Service',
    metadata: { name: svc.name, namespace: svc.namespace, annotations: sortKeys(annotations) },
    spec: {
      type: 'LoadBalancer',
      selector: { [selectorLabel(svc.name)]: 'true' },
      externalTrafficPolicy: svc.externalTrafficPolicy,
      ...(svc.healthCheckNodePort !== undefined && { healthCheckNodePort: svc.healthCheckNodePort }),
      ports: svc.ports.map((p) => ({
        ...(p.name && { name: p.name }),
        protocol: p.protocol,
        port: p.port,
        targetPort: p.targetPort,
        ...(p.nodePort !== undefined && { nodePort: p.nodePort }),
      })),
    },
  };
}

function same(a: readonly string[], b: readonly string[]): boolean {
  return a.length === b.length && a.every((x, i) => x === b[i]);
}

function sortKeys(o: Record<string, string>): Record<string, string> {
  return Object.fromEntries(Object.entries(o).sort(([a], [b]) => a.localeCompare(b)));
}

// ---------------------------------------------------------------------------------------------
// Service -> model

/** What a Service asks of the controller, validated: everything but the targets. */
export interface NlbRequest {
  /** `namespace/name`. */
  service: string;
  /** The placement asked for by name, if any. */
  name?: string;
  scheme: 'internal' | 'internet-facing';
  targetType: 'instance' | 'ip';
  preserveClientIp: boolean;
  crossZone: boolean;
  healthCheck: HealthCheck;
  /** Instance targets: nodes must carry every one of these labels. */
  targetNodeLabels: Record<string, string>;
  listeners: {
    port: number;
    portName: string;
    nodePort?: number;
    idleTimeoutSeconds: number;
  }[];
  /** Accepted annotations the emulation does not act on, one sentence each. */
  notEmulated: string[];
}

/** Would the AWS Load Balancer Controller (and so the lab's cloud provider) reconcile this Service? */
export function isNlbService(svc: V1Service): boolean {
  const cls = svc.spec?.loadBalancerClass;
  return svc.spec?.type === 'LoadBalancer' && (cls === undefined || cls === null || cls === NLB_CLASS);
}

const SUPPORTED = new Set<string>(Object.values(ANNOTATION));

/** Parses and validates a Service's NLB annotations and spec (ValidationError naming each problem). */
export function nlbRequest(svc: V1Service): NlbRequest {
  const ns = svc.metadata?.namespace ?? 'default';
  const id = `${ns}/${svc.metadata?.name ?? ''}`;
  const a = svc.metadata?.annotations ?? {};
  const problems: ValidationProblem[] = [];
  const bad = (key: string, value: unknown, message: string): void => {
    problems.push({
      path: key.startsWith('spec.') ? key : `metadata.annotations["${key}"]`,
      value: typeof value === 'string' ? value : (JSON.stringify(value) ?? '(missing)'),
      message,
    });
  };
  const notEmulated: string[] = [];
  for (const key of Object.keys(a))
    if (key.startsWith(P) && !SUPPORTED.has(key) && !key.startsWith(ANNOTATION.listenerAttributes))
      bad(
        key,
        a[key],
        `is not emulated by the lab's NLB; supported: ${[...SUPPORTED].map((k) => k.slice(P.length)).join(', ')}`,
      );

  const spec = svc.spec ?? {};
  if (spec.type !== 'LoadBalancer') bad('spec.type', spec.type, 'the controller serves type LoadBalancer');
  const cls = spec.loadBalancerClass;
  if (cls !== undefined && cls !== null && cls !== NLB_CLASS)
    bad('spec.loadBalancerClass', cls, `is another controller's; the lab serves ${NLB_CLASS} or none`);
  const type = a[ANNOTATION.type];
  let targetType: 'instance' | 'ip' = 'instance';
  if (type === undefined) {
    if (cls !== NLB_CLASS)
      bad(
        ANNOTATION.type,
        undefined,
        `without spec.loadBalancerClass ${NLB_CLASS}, the controller serves a Service only with this annotation external (or nlb-ip); the in-tree cloud provider's Classic ELB is not emulated`,
      );
  } else if (type === 'nlb-ip') targetType = 'ip';
  else if (type !== 'external') bad(ANNOTATION.type, type, 'allowed: external, nlb-ip (deprecated)');
  const tt = a[ANNOTATION.targetType];
  if (tt !== undefined) {
    if (tt === 'instance' || tt === 'ip') targetType = tt;
    else bad(ANNOTATION.targetType, tt, 'allowed: instance, ip');
  }
  const schemeText = a[ANNOTATION.scheme] ?? 'internal';
  if (schemeText !== 'internal' && schemeText !== 'internet-facing')
    bad(ANNOTATION.scheme, schemeText, 'allowed: internal, internet-facing');
  const scheme = schemeText === 'internet-facing' ? 'internet-facing' : 'internal';
  const name = a[ANNOTATION.name];
  if (name !== undefined && (name.length === 0 || name.length > 32 || !/^[A-Za-z0-9-]+$/.test(name)))
    bad(ANNOTATION.name, name, 'a load balancer name: 1-32 letters, digits and hyphens');

  const tgAttrs = stringMap(a, ANNOTATION.targetGroupAttributes, bad);
  let preserveClientIp = targetType === 'instance';
  for (const [k, v] of Object.entries(tgAttrs)) {
    if (k === 'preserve_client_ip.enabled') {
      if (v === 'true' || v === 'false') preserveClientIp = v === 'true';
      else bad(ANNOTATION.targetGroupAttributes, `${k}=${v}`, 'preserve_client_ip.enabled is true or false');
    } else if (k === 'deregistration_delay.timeout_seconds') {
      if (!/^\d+$/.test(v) || Number(v) > 3600)
        bad(ANNOTATION.targetGroupAttributes, `${k}=${v}`, 'deregistration_delay.timeout_seconds is 0-3600');
      else
        notEmulated.push(
          `${k}=${v} is not enforced: the emulated NLB sends no new flow to a removed target at once, and its open flows go on until they end or idle out`,
        );
    } else
      bad(
        ANNOTATION.targetGroupAttributes,
        `${k}=${v}`,
        'the lab emulates preserve_client_ip.enabled and deregistration_delay.timeout_seconds only',
      );
  }
  let crossZone = false;
  for (const [k, v] of Object.entries(stringMap(a, ANNOTATION.attributes, bad))) {
    if (k === 'load_balancing.cross_zone.enabled' && (v === 'true' || v === 'false'))
      crossZone = v === 'true';
    else
      bad(
        ANNOTATION.attributes,
        `${k}=${v}`,
        'the lab emulates load_balancing.cross_zone.enabled=true|false only',
      );
  }
  const targetNodeLabels = stringMap(a, ANNOTATION.targetNodeLabels, bad);
  if (Object.keys(targetNodeLabels).length && targetType === 'ip')
    bad(ANNOTATION.targetNodeLabels, a[ANNOTATION.targetNodeLabels], 'applies to instance targets only');

  // Health check: the controller's defaults, those of instance targets with Local policy apart.
  const local = spec.externalTrafficPolicy === 'Local' && targetType === 'instance';
  const d = local ? HC_DEFAULTS_LOCAL : HC_DEFAULTS;
  const protoText = a[ANNOTATION.hcProtocol];
  let protocol = d.protocol;
  if (protoText !== undefined) {
    if (/^tcp$/i.test(protoText)) protocol = 'TCP';
    else if (/^http$/i.test(protoText)) protocol = 'HTTP';
    else bad(ANNOTATION.hcProtocol, protoText, 'allowed: tcp, http (https is not emulated)');
  }
  let hcPort: number | undefined = local ? (spec.healthCheckNodePort ?? undefined) : undefined;
  const portText = a[ANNOTATION.hcPort];
  if (portText !== undefined) {
    if (portText === 'traffic-port') hcPort = undefined;
    else if (/^\d+$/.test(portText) && Number(portText) >= 1 && Number(portText) <= 65535)
      hcPort = Number(portText);
    else bad(ANNOTATION.hcPort, portText, 'allowed: traffic-port or a port number 1-65535');
  }
  if (local && hcPort === undefined && portText === undefined)
    bad(
      'spec.healthCheckNodePort',
      undefined,
      'externalTrafficPolicy Local needs one (the apiserver allocates it)',
    );
  const path = a[ANNOTATION.hcPath] ?? d.path;
  if (!path.startsWith('/')) bad(ANNOTATION.hcPath, path, 'an HTTP path starts with /');
  const seconds = (key: string, dflt: number, min: number, max: number): number => {
    const t = a[key];
    if (t === undefined) return dflt;
    const v = Number(t);
    if (!/^\d+(\.\d+)?$/.test(t) || v < min || v > max) {
      bad(key, t, `seconds, ${min}-${max} (the lab also takes decimals)`);
      return dflt;
    }
    return v;
  };
  const count = (key: string, dflt: number): number => {
    const t = a[key];
    if (t === undefined) return dflt;
    if (!/^\d+$/.test(t) || Number(t) < 2 || Number(t) > 10) {
      bad(key, t, 'an integer 2-10');
      return dflt;
    }
    return Number(t);
  };
  const healthCheck: HealthCheck = {
    protocol,
    ...(hcPort !== undefined && { port: hcPort }),
    path,
    intervalSeconds: seconds(ANNOTATION.hcInterval, d.intervalSeconds, 0.1, 300),
    timeoutSeconds: seconds(ANNOTATION.hcTimeout, d.timeoutSeconds, 0.05, 120),
    healthyThreshold: count(ANNOTATION.hcHealthy, d.healthyThreshold),
    unhealthyThreshold: count(ANNOTATION.hcUnhealthy, d.unhealthyThreshold),
  };

  const ports = spec.ports ?? [];
  if (ports.length === 0) bad('spec.ports', [], 'a LoadBalancer Service needs a port');
  const listeners: NlbRequest['listeners'] = [];
  ports.forEach((p, i) => {
    if ((p.protocol ?? 'TCP') !== 'TCP') {
      bad(`spec.ports[${i}].protocol`, p.protocol, 'the emulated NLB has TCP listeners only');
      return;
    }
    if (targetType === 'instance' && p.nodePort === undefined)
      bad(
        `spec.ports[${i}].nodePort`,
        undefined,
        'instance targets need a node port (allocateLoadBalancerNodePorts)',
      );
    listeners.push({
      port: p.port,
      portName: p.name ?? '',
      ...(p.nodePort !== undefined && { nodePort: p.nodePort }),
      idleTimeoutSeconds: DEFAULT_IDLE_TIMEOUT_SECONDS,
    });
  });
  for (const key of Object.keys(a).filter((k) => k.startsWith(ANNOTATION.listenerAttributes))) {
    const m = /^TCP-(\d+)$/.exec(key.slice(ANNOTATION.listenerAttributes.length));
    const l = m ? listeners.find((x) => x.port === Number(m[1])) : undefined;
    if (!l) {
      bad(
        key,
        a[key],
        `names no TCP listener of this Service (${listeners.map((x) => `TCP-${x.port}`).join(', ')})`,
      );
      continue;
    }
    for (const [k, v] of Object.entries(stringMap(a, key, bad))) {
      if (k === 'tcp.idle_timeout.seconds' && /^\d+$/.test(v) && Number(v) >= 1 && Number(v) <= 6000)
        l.idleTimeoutSeconds = Number(v);
      else bad(key, `${k}=${v}`, 'the lab emulates tcp.idle_timeout.seconds=1-6000 only (AWS: 60-6000)');
    }
  }
  if (problems.length) throw new ValidationError(`Service ${id}`, problems);
  return {
    service: id,
    ...(name !== undefined && { name }),
    scheme,
    targetType,
    preserveClientIp,
    crossZone,
    healthCheck,
    targetNodeLabels,
    listeners,
    notEmulated,
  };
}

function stringMap(
  a: Record<string, string>,
  key: string,
  bad: (key: string, value: unknown, message: string) => void,
): Record<string, string> {
  const text = a[key];
  if (text === undefined || text.trim() === '') return {};
  const out: Record<string, string> = {};
  for (const part of text.split(',')) {
    const m = /^\s*([^=\s]+)\s*=\s*(\S*)\s*$/.exec(part);
    if (!m) bad(key, text, `a stringMap: k1=v1,k2=v2 (got "${part.trim()}")`);
    else out[m[1]!] = m[2]!;
  }
  return out;
}

/** The cluster as the controller sees it when it registers targets. */
export interface ClusterView {
  nodes: readonly V1Node[];
  /** The Service's EndpointSlices (label kubernetes.io/service-name). */
  endpointSlices: readonly V1EndpointSlice[];
}

function nodeReady(n: V1Node): boolean {
  return (n.status?.conditions ?? []).some((c) => c.type === 'Ready' && c.status === 'True');
}

function internalIp(n: V1Node): string | undefined {
  return n.status?.addresses?.find((x) => x.type === 'InternalIP')?.address;
}

/** The targets of one listener: instance, every Ready node (matching labels) on the node port; ip, ready endpoints. */
export function targetsFor(
  req: NlbRequest,
  listener: NlbRequest['listeners'][number],
  cluster: ClusterView,
): Target[] {
  const zoneOf = new Map(
    cluster.nodes.map((n) => [n.metadata?.name ?? '', n.metadata?.labels?.[ZONE_LABEL] ?? '']),
  );
  if (req.targetType === 'instance') {
    return cluster.nodes
      .filter((n) => nodeReady(n) && internalIp(n) !== undefined)
      .filter((n) => n.metadata?.labels?.[EXCLUDE_LABEL] === undefined)
      .filter((n) => Object.entries(req.targetNodeLabels).every(([k, v]) => n.metadata?.labels?.[k] === v))
      .map((n): Target => {
        const name = n.metadata!.name!;
        return {
          id: `node/${name}:${listener.nodePort}`,
          kind: 'instance',
          name,
          address: internalIp(n)!,
          port: listener.nodePort!,
          zone: zoneOf.get(name) ?? '',
        };
      })
      .sort((x, y) => x.id.localeCompare(y.id));
  }
  const out = new Map<string, Target>();
  for (const slice of cluster.endpointSlices) {
    if (slice.addressType !== 'IPv4') continue;
    const port = (slice.ports ?? []).find(
      (p) => (p.name ?? '') === listener.portName && (p.protocol ?? 'TCP') === 'TCP',
    );
    if (port?.port === undefined || port.port === null) continue;
    for (const e of slice.endpoints) {
      if (e.conditions?.ready !== true) continue;
      for (const address of e.addresses) {
        const name = e.targetRef?.name ?? address;
        const id = `${e.targetRef?.name ? 'pod' : 'ip'}/${name}:${port.port}`;
        out.set(id, {
          id,
          kind: 'ip',
          name,
          address,
          port: port.port,
          zone: e.zone ?? (e.nodeName ? (zoneOf.get(e.nodeName) ?? '') : ''),
        });
      }
    }
  }
  return [...out.values()].sort((x, y) => x.id.localeCompare(y.id));
}

/** The placement a Service takes: a pool entry's name, scheme, nodes and hashing. */
export type Placement = Pick<LoadBalancer, 'name' | 'scheme' | 'nodes' | 'hashing'>;

/** The emulated NLB the controller builds for `svc` on `placement`, with the cluster's current targets. */
export function loadBalancerFromService(
  svc: V1Service,
  placement: Placement,
  cluster: ClusterView,
): LoadBalancer {
  const req = nlbRequest(svc);
  return loadBalancerOf(req, placement, cluster);
}

/** As loadBalancerFromService, from a request already validated. */
export function loadBalancerOf(req: NlbRequest, placement: Placement, cluster: ClusterView): LoadBalancer {
  const [ns, name] = req.service.split('/') as [string, string];
  const targetGroups: TargetGroup[] = req.listeners.map((l) => ({
    name: `k8s-${ns}-${name}-${l.port}`,
    targetType: req.targetType,
    preserveClientIp: req.preserveClientIp,
    healthCheck: { ...req.healthCheck },
    targets: targetsFor(req, l, cluster),
    service: `${req.service}:${l.portName}`,
  }));
  const listeners: Listener[] = req.listeners.map((l, i) => ({
    port: l.port,
    protocol: 'TCP',
    targetGroup: targetGroups[i]!,
    idleTimeoutSeconds: l.idleTimeoutSeconds,
  }));
  return {
    name: placement.name,
    scheme: placement.scheme,
    nodes: placement.nodes,
    crossZone: req.crossZone,
    listeners,
    targetGroups,
    hashing: placement.hashing,
  };
}
