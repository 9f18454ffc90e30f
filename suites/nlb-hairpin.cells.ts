/**
 * Seeds 001 and 004, the hairpin: an internal NLB whose client is a pod inside the cluster. With
 * client IP preservation, when the NLB picks a target on the client's own node, the reply is
 * delivered locally and never returns through the NLB: the client pod sees a SYN-ACK from an
 * address it never called, resets it, and its connection times out. The failing share is derived
 * from the topology (healthy targets on the client's node / eligible targets per NLB node).
 */
import type { CellSpec, SourceSeen, SuiteSpec } from '../lib/scenario/cell.js';
import { percent } from '../lib/verdict/expectation.js';
import { failureModel, timeoutExpectation, type FailureModel } from '../lib/scenario/derive.js';
import { example, named, type Doc } from './support/documents.js';

const SUITE = 'nlb-hairpin';

interface Variant {
  seed: '001' | '004';
  id: string;
  targets: 'instance' | 'ip';
  policy: 'Cluster' | 'Local';
  preserveClientIp: boolean;
  /** Endpoint placement: on every node, or none on the client's node. */
  endpoints: 'every node' | 'none on the client node';
  crossZone: boolean;
  /** NLB zones the client resolves; undefined: every zone. */
  zones?: string[];
  /** kube-proxy's local-traffic detector (decides where Local policy sends a pod's traffic). */
  detectLocal?: 'none' | 'clusterCIDR';
}

interface Setup {
  doc: Doc;
  lb: string;
  client: string;
  clientNode: string;
}

function seed001(v: Variant): Setup {
  const doc = example('seed-001-hairpin');
  const svc = named(doc['services'], 'service-nginx-demo');
  svc['externalTrafficPolicy'] = v.policy;
  if (v.policy === 'Local') svc['healthCheckNodePort'] = 32468;
  if (v.endpoints === 'none on the client node') svc['endpoints'] = ['nginx-2', 'nginx-3'];
  const tg = doc['loadBalancers'][0]['targetGroups'][0];
  tg['preserveClientIp'] = v.preserveClientIp;
  if (v.targets === 'ip') {
    tg['targetType'] = 'ip';
    tg['targets'] = svc['endpoints'].map((pod: string) => ({ pod, port: 80 }));
    delete tg['service'];
  }
  doc['loadBalancers'][0]['crossZone'] = v.crossZone;
  if (v.detectLocal) doc['cluster'] = { ...doc['cluster'], kubeProxy: { detectLocal: v.detectLocal } };
  return { doc, lb: 'nginx-nlb', client: 'netshoot', clientNode: 'node-1' };
}

function seed004(v: Variant): Setup {
  const doc = example('seed-004-cross-zone');
  const lb = doc['loadBalancers'][0];
  lb['crossZone'] = v.crossZone;
  lb['targetGroups'][0]['preserveClientIp'] = v.preserveClientIp;
  return { doc, lb: 'istio-nlb', client: 'app-client', clientNode: 'node-a' };
}

function predict(
  v: Variant,
  s: Setup,
  model: FailureModel,
): Pick<CellSpec, 'expect' | 'pathWorks' | 'explanation' | 'mechanism'> {
  const share = model.share;
  const words = [
    ...(model.hairpin ? ['hairpin reset'] : []),
    ...(model.forwardedWithClientSource ? ['source/dest check'] : []),
  ];
  const source: SourceSeen | undefined = !v.preserveClientIp
    ? v.targets === 'ip'
      ? { nlb: s.lb }
      : { anyNode: true }
    : v.targets === 'ip' || v.policy === 'Local'
      ? 'client'
      : undefined;
  const expect = {
    outcome: timeoutExpectation(share),
    ...(source && { sourceSeen: source }),
    evidence: [
      ...(model.hairpin ? [{ kind: 'resets-from' as const, host: s.client }] : []),
      ...(model.forwardedWithClientSource
        ? [{ kind: 'drop' as const, host: 'fabric', reason: 'source-dest-check' as const }]
        : []),
      // What separates the detectors: without one no flow leaves a node with the client's source.
      ...(v.policy === 'Local' && v.preserveClientIp && v.detectLocal === 'none'
        ? [{ kind: 'no-drop' as const, host: 'fabric', reason: 'source-dest-check' as const }]
        : []),
    ],
  };
  if (!v.preserveClientIp)
    return {
      pathWorks: true,
      expect,
      explanation:
        "Without client IP preservation the NLB replaces the client's address with its own, so every reply " +
        "goes back to the NLB, even from a target on the client pod's own node.",
    };
  const where = v.zones ? `through the NLB node in ${v.zones.join(', ')}` : 'through every NLB node';
  const pool = v.crossZone ? 'every healthy target' : "its own zone's targets only";
  const local =
    v.policy !== 'Local'
      ? ''
      : (v.endpoints === 'none on the client node'
          ? " The client's node has no endpoint, fails the Local health check (503) and gets no flows."
          : '') +
        (v.detectLocal === 'clusterCIDR'
          ? ' With the clusterCIDR detector, kube-proxy sends a source in the cluster CIDR (the preserved pod) ' +
            'to every endpoint, unmasqueraded: only a local endpoint on another node answers through the NLB; a ' +
            "remote one gets a SYN with the client's source, which the source/destination check drops."
          : " Without a detector (EKS's kube-proxy has no clusterCIDR), the pod source is external like any " +
            'other: each node sends it to its own endpoint, whose reply crosses the VPC back to the NLB.');
  if (share === 0)
    return {
      pathWorks: true,
      expect,
      explanation:
        `Client IP preservation is on, but no eligible target is on ${s.clientNode} (${where}, each NLB node ` +
        `picking from ${pool}).${local} Every reply crosses the VPC and returns through the NLB.`,
    };
  return {
    pathWorks: false,
    expect,
    ...(words.length > 0 && { mechanism: words.join(' + ') }),
    explanation:
      `With client IP preservation, a flow the NLB sends to ${s.clientNode} is answered on the node itself: the ` +
      `reply goes straight to ${s.client}, which resets the SYN-ACK from an address it never called, and the ` +
      `connection times out (expected share ${percent(share)} ${where}, each NLB node picking from ${pool}).${local}`,
  };
}

function cell(v: Variant): CellSpec {
  const s = v.seed === '001' ? seed001(v) : seed004(v);
  const model = failureModel(s.doc, s.lb, s.client, 80, v.zones);
  const zones = v.zones ? v.zones.join('+') : 'all';
  const detector = v.detectLocal ? `, detector ${v.detectLocal}` : '';
  return {
    suite: SUITE,
    id: `seed${v.seed}.${v.id}`,
    title:
      `${v.targets} targets, ${v.policy}${detector}, preservation ${v.preserveClientIp ? 'on' : 'off'}, cross-zone ` +
      `${v.crossZone ? 'on' : 'off'}, endpoints on ${v.endpoints === 'every node' ? 'every node' : 'other nodes only'}, NLB zones ${zones}: in-cluster client -> internal NLB`,
    seeds: [v.seed],
    configuration: {
      seed: v.seed,
      targets: v.targets,
      policy: v.policy,
      detectLocal: v.detectLocal ?? 'none',
      endpoints: v.endpoints,
      preserveClientIp: v.preserveClientIp,
      crossZone: v.crossZone,
      zones,
    },
    topology: s.doc,
    flow: {
      from: s.client,
      to: { nlb: s.lb, port: 80, ...(v.zones && { zones: v.zones }) },
      attempts: 60,
    },
    ...predict(v, s, model),
  };
}

const base = { policy: 'Cluster', endpoints: 'every node', crossZone: false } as const;

export const nlbHairpinSuite: SuiteSpec = {
  id: SUITE,
  title: 'In-cluster client behind an internal NLB: hairpin with client IP preservation (seeds 001, 004)',
  seeds: ['001', '004'],
  rows: ['seed', 'targets', 'policy', 'detectLocal', 'endpoints'],
  columns: ['preserveClientIp', 'crossZone', 'zones'],
  cells: [
    // Seed 001: three nodes, one zone, the client pod on node-1.
    { ...base, seed: '001', id: 'instance.cluster.preserve-on', targets: 'instance', preserveClientIp: true },
    {
      ...base,
      seed: '001',
      id: 'instance.cluster.preserve-off',
      targets: 'instance',
      preserveClientIp: false,
    },
    {
      ...base,
      seed: '001',
      id: 'instance.cluster.no-local-endpoint',
      targets: 'instance',
      preserveClientIp: true,
      endpoints: 'none on the client node',
    },
    // Local policy: the share depends on kube-proxy's local-traffic detector (7/9 and 1/2 with
    // clusterCIDR; 1/3 and 0 with none, EKS's default).
    ...(['clusterCIDR', 'none'] as const).flatMap((detectLocal) => {
      const d = detectLocal === 'none' ? 'detect-none' : 'detect-cluster-cidr';
      return [
        {
          ...base,
          seed: '001',
          id: `instance.local.preserve-on.${d}`,
          targets: 'instance',
          policy: 'Local',
          detectLocal,
          preserveClientIp: true,
        },
        {
          ...base,
          seed: '001',
          id: `instance.local.no-local-endpoint.${d}`,
          targets: 'instance',
          policy: 'Local',
          detectLocal,
          preserveClientIp: true,
          endpoints: 'none on the client node',
        },
      ];
    }),
    { ...base, seed: '001', id: 'ip.preserve-off', targets: 'ip', preserveClientIp: false },
    { ...base, seed: '001', id: 'ip.preserve-on', targets: 'ip', preserveClientIp: true },
    // Seed 004: two zones, instance targets node-a and node-b, the client pod on node-a.
    {
      ...base,
      seed: '004',
      id: 'cross-zone-on.preserve-on',
      targets: 'instance',
      preserveClientIp: true,
      crossZone: true,
    },
    {
      ...base,
      seed: '004',
      id: 'cross-zone-on.preserve-on.zone-a',
      targets: 'instance',
      preserveClientIp: true,
      crossZone: true,
      zones: ['az-a'],
    },
    {
      ...base,
      seed: '004',
      id: 'cross-zone-off.preserve-on.zone-a',
      targets: 'instance',
      preserveClientIp: true,
      zones: ['az-a'],
    },
    {
      ...base,
      seed: '004',
      id: 'cross-zone-off.preserve-on.zone-b',
      targets: 'instance',
      preserveClientIp: true,
      zones: ['az-b'],
    },
    {
      ...base,
      seed: '004',
      id: 'cross-zone-on.preserve-off',
      targets: 'instance',
      preserveClientIp: false,
      crossZone: true,
    },
  ].map((v) => cell(v as Variant)),
};
