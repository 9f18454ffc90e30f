/**
 * Certification: replay a node image's sysctls on every lab node of a set of traffic paths (cells
 * taken from the conformance suites, with the chosen CNI profile), run them as a `certify` suite,
 * and turn each path's result into supported / unsupported with the mechanism and the fix.
 */
import { kernelRelease, provenanceRecord } from '../version.js';
import { ValidationError } from '../errors.js';
import type { CellResult } from '../scenario/result.js';
import type { CellSpec, SuiteSpec } from '../scenario/cell.js';
import type { NodeSysctls } from '../model/schema.js';
import { nodeSysctlEntries } from '../model/sysctls.js';
import { buildCertificate, type Certificate, type CertificatePath } from './certificate.js';
import type { NodeSnapshot } from './snapshot.js';
import { toNodeSysctls, type ImageSysctls } from './sysctl-replay.js';

export const CERTIFY_CNIS = ['vpc-cni', 'vpc-cni-legacy'] as const;
export type CertifyCni = (typeof CERTIFY_CNIS)[number];

/** A traffic path of the certificate: which suite cell carries it, and how to adapt its topology. */
export interface PathDef {
  id: string;
  title: string;
  /** `suite/id` of the conformance cell whose topology and flow the path uses. */
  cell: string;
  /** The cell's topology keeps its own CNI (a path specific to another CNI). */
  ownCni?: boolean;
  /** The path's own packet walk and fix, added to what the evidence says when it fails. */
  walk?: string;
  fix?: string;
  adapt?: (doc: Doc) => void;
}

// eslint-disable-next-line @typescript-eslint/no-explicit-any
type Doc = Record<string, any>;

export const PATHS: readonly PathDef[] = [
  {
    id: 'nlb-ip-secondary-eni',
    title: 'internet -> internet-facing NLB -> ip target on a secondary ENI, client IP preserved',
    cell: 'eni-rp-filter/vpc-cni.snat-cni.rp-1.sdc-on',
  },
  {
    id: 'nlb-ip-primary-eni',
    title: 'internet -> internet-facing NLB -> ip target on the primary ENI, client IP preserved',
    cell: 'eni-rp-filter/vpc-cni.snat-cni.rp-1.sdc-on',
    adapt: (doc) => {
      doc['pods'][0]['eni'] = 'eth0';
    },
  },
  {
    id: 'nlb-instance-cluster',
    title: 'internet -> NLB -> instance targets, externalTrafficPolicy Cluster',
    cell: 'baseline/nlb.instance.cluster',
  },
  {
    id: 'nlb-instance-local',
    title: 'internet -> NLB -> instance targets, externalTrafficPolicy Local',
    cell: 'baseline/nlb.instance.local',
  },
  { id: 'nodeport-cluster', title: 'internet -> NodePort, Cluster', cell: 'baseline/nodeport.cluster' },
  { id: 'nodeport-local', title: 'internet -> NodePort, Local', cell: 'baseline/nodeport.local' },
  {
    id: 'pod-to-pod-secondary-eni',
    title: 'pod on a secondary ENI -> pod on another node',
    cell: 'baseline/pod-to-pod.cross-node',
  },
  { id: 'clusterip', title: 'pod -> ClusterIP', cell: 'baseline/clusterip' },
  {
    id: 'pod-egress-internet',
    title: 'pod on a secondary ENI -> internet (SNAT, Elastic IP)',
    cell: 'baseline/pod-egress.internet',
  },
  {
    id: 'in-cluster-nlb-client',
    title: 'in-cluster client -> internal NLB -> ip targets (client IP preservation off)',
    cell: 'nlb-hairpin/seed001.ip.preserve-off',
  },
  {
    id: 'pod-to-loadbalancer-ip',
    title: 'pod on an address-less ENI (ENI policy-routing CNI) -> LoadBalancer IP through masquerade',
    cell: 'lb-snat-policy-routing/rp-0.fix-off.sdc-off',
    ownCni: true,
    walk:
      "Rule 2000 routes the pod's SYN out of the address-less eth1 before kube-proxy's masquerade takes eth0's " +
      'address, so the SYN-ACK arrives on eth0.',
    fix:
      'or the mark-based return fix: route what kube-proxy marks 0x4000 by main, restore the connmark on every ' +
      'packet, net.ipv4.conf.eth0.src_valid_mark=1',
  },
];

export const PROFILES: Readonly<Record<string, readonly string[]>> = {
  'nlb-ip-targets': ['nlb-ip-secondary-eni', 'nlb-ip-primary-eni'],
  'nlb-instance-targets': [
    'nlb-instance-cluster',
    'nlb-instance-local',
    'nodeport-cluster',
    'nodeport-local',
  ],
  'in-cluster-clients': [
    'pod-to-pod-secondary-eni',
    'clusterip',
    'pod-egress-internet',
    'in-cluster-nlb-client',
  ],
  all: PATHS.map((p) => p.id),
};

export function requiredPaths(profile: string): readonly string[] {
  const ids = PROFILES[profile];
  if (!ids)
    throw new ValidationError('--profile', [
      {
        path: 'profile',
        value: profile,
        message: `is not a profile; profiles: ${Object.keys(PROFILES).join(', ')}`,
      },
    ]);
  return ids;
}

export function checkCni(cni: string): CertifyCni {
  if (!(CERTIFY_CNIS as readonly string[]).includes(cni))
    throw new ValidationError('--cni', [
      {
        path: 'cni',
        value: cni,
        message: `is not a certifiable CNI profile; allowed: ${CERTIFY_CNIS.join(', ')}`,
      },
    ]);
  return cni as CertifyCni;
}

/** The image's sysctls for a node with these ENIs: the lab's CNI writes eth0's rp_filter itself. */
export function imageSysctlsFor(snapshot: NodeSnapshot, cni: string, enis: readonly string[]): ImageSysctls {
  return toNodeSysctls(snapshot, {
    labInterfaces: enis,
    ...(cni.startsWith('vpc-cni') && { cniWrites: ['net.ipv4.conf.eth0.rp_filter'] }),
  });
}

function restrict(s: NodeSysctls, enis: readonly string[]): NodeSysctls {
  return {
    ...s,
    interfaces: Object.fromEntries(Object.entries(s.interfaces).filter(([i]) => enis.includes(i))),
  };
}

/** The certify suite: one cell per path, the image's sysctls on every node, `all connected` expected. */
export function certificationSuite(
  suites: readonly SuiteSpec[],
  snapshot: NodeSnapshot,
  cni: CertifyCni,
  pathIds: readonly string[],
): SuiteSpec {
  const cells = PATHS.filter((p) => pathIds.includes(p.id)).map((p): CellSpec => {
    const [suiteId, cellId] = p.cell.split('/') as [string, string];
    const base = suites.find((s) => s.id === suiteId)?.cells.find((c) => c.id === cellId);
    if (!base) throw new Error(`certification path ${p.id}: no cell ${p.cell}`);
    const doc = structuredClone(base.topology) as Doc;
    p.adapt?.(doc);
    const defaultCni = doc['defaults']?.['cni'];
    if (!p.ownCni && defaultCni) doc['defaults']['cni'] = { ...defaultCni, profile: cni };
    for (const node of doc['nodes'] as Doc[]) {
      const profile = (node['cni'] ?? defaultCni)?.['profile'] as string | undefined;
      if (!p.ownCni && node['cni'] && profile?.startsWith('vpc-cni'))
        node['cni'] = { ...node['cni'], profile: cni };
      const enis = (node['enis'] as Doc[]).map((e) => e['name'] as string);
      node['sysctls'] = restrict(imageSysctlsFor(snapshot, profile ?? cni, enis).sysctls, enis);
    }
    return {
      suite: 'certify',
      id: p.id,
      title: p.title,
      seeds: base.seeds,
      configuration: { path: p.id, cni: p.ownCni ? String(profileOf(doc)) : cni },
      topology: doc,
      flow: base.flow,
      expect: {
        outcome: { kind: 'all', outcome: 'connected' },
        ...(base.expect.sourceSeen && { sourceSeen: base.expect.sourceSeen }),
      },
      pathWorks: true,
      explanation: base.explanation,
    };
  });
  return {
    id: 'certify',
    title: `Node image certification (${cni})`,
    seeds: [],
    rows: ['path'],
    columns: [],
    cells,
  };
}

function profileOf(doc: Doc): unknown {
  return doc['defaults']?.['cni']?.['profile'] ?? (doc['nodes'] as Doc[])[0]?.['cni']?.['profile'];
}

/** Effective rp_filter per lab interface of the image: max(conf/all, conf/<if>); eth0 as the CNI leaves it. */
export function effectiveRpFilter(
  s: NodeSysctls,
  cni: string,
  enis: readonly string[],
): Record<string, number> {
  const out: Record<string, number> = {};
  for (const i of enis) {
    const own = s.interfaces[i]?.rp_filter ?? s.default.rp_filter ?? 0;
    const iface = i === 'eth0' && cni.startsWith('vpc-cni') ? 2 : own;
    out[i] = Math.max(s.all.rp_filter ?? 0, iface);
  }
  return out;
}

/** Mechanism and fix of a failing path, from its evidence and the image's settings. */
export function explainFailure(
  r: CellResult,
  cni: string,
  image: ImageSysctls,
): Pick<CertificatePath, 'mechanism' | 'fix'> {
  const rp = r.evidence.find((e) => e.kind === 'drop' && e.reason === 'rp_filter');
  const sdc = r.evidence.find((e) => e.kind === 'drop' && e.reason === 'source-dest-check');
  const eff = effectiveRpFilter(image.sysctls, cni, ['eth0', 'eth1']);
  const strict = Object.entries(eff)
    .filter(([, v]) => v === 1)
    .map(([i]) => i);
  if (rp) {
    const legacy = cni === 'vpc-cni-legacy';
    return {
      mechanism:
        `${rp.summary}: the image leaves strict reverse-path filtering on ${strict.join(', ') || 'an interface'} ` +
        `(effective rp_filter = max(conf/all, conf/<if>) = 1), and ${
          legacy
            ? 'the legacy CNI routes replies to addresses outside the VPC through eth0, so a packet arriving on a secondary ENI fails the check'
            : 'the reverse path of this flow is another interface than the one it arrived on'
        }.`,
      fix:
        `net.ipv4.conf.all.rp_filter=0 or 2, net.ipv4.conf.default.rp_filter=2 and ` +
        `${strict.map((i) => `net.ipv4.conf.${i}.rp_filter=2`).join(', ') || 'rp_filter=2 on the interface'}` +
        (legacy ? '; or run vpc-cni >= 1.8, which routes the reply through the ENI it came in on' : ''),
    };
  }
  if (sdc)
    return {
      mechanism:
        `${sdc.summary}: the reply leaves through an ENI that does not own its source address ` +
        `(${cni === 'vpc-cni-legacy' ? 'the legacy CNI routes replies outside the VPC through eth0' : 'asymmetric routing'}), ` +
        'and the ENI source/destination check drops it. Loosening rp_filter lets the request in but cannot fix this.',
      fix:
        cni === 'vpc-cni-legacy'
          ? 'run vpc-cni >= 1.8 (or AWS_VPC_K8S_CNI_EXTERNALSNAT=true), so replies leave through the ENI that owns the pod'
          : 'route replies through the ENI that owns the source address',
    };
  const resets = r.evidence.find((e) => e.kind === 'reset');
  return {
    mechanism: `${r.reason}${resets ? `; ${resets.summary}` : ''}. ${r.explanation}`,
  };
}

function withWalk(
  def: PathDef,
  e: Pick<CertificatePath, 'mechanism' | 'fix'>,
): Pick<CertificatePath, 'mechanism' | 'fix'> {
  const fix = [e.fix, def.fix].filter(Boolean).join('; ');
  return {
    ...(e.mechanism !== undefined && { mechanism: def.walk ? `${def.walk} ${e.mechanism}` : e.mechanism }),
    ...(fix && { fix }),
  };
}

export function pathResult(
  def: PathDef,
  r: CellResult | undefined,
  cni: string,
  image: ImageSysctls,
): Omit<CertificatePath, 'required' | 'supported'> {
  if (!r)
    return {
      id: def.id,
      title: def.title,
      status: 'error',
      mechanism: 'the run stopped before this path',
      cells: [],
      evidence: [],
    };
  const status = r.status === 'pass' ? 'supported' : r.status === 'fail' ? 'unsupported' : 'error';
  return {
    id: def.id,
    title: def.title,
    status,
    // A path that keeps its own CNI (e.g. the ENI policy-routing one) is explained with that CNI.
    ...(status === 'unsupported' &&
      withWalk(def, explainFailure(r, String(r.configuration['cni'] ?? cni), image))),
    ...(status === 'error' && { mechanism: `could not be decided: ${r.reason}` }),
    // certify runs on the lab, where no cell is skipped; one that were would not be a verdict.
    cells: [{ suite: r.suite, id: r.id, status: r.status === 'skipped' ? 'error' : r.status }],
    evidence: [
      `${r.attempts} attempts: ${Object.entries(r.counts)
        .map(([o, n]) => `${n} ${o}`)
        .join(', ')}`,
      ...r.checks.map((c) => `${c.status}: ${c.name}: ${c.detail}`),
      ...r.evidence.map((e) => e.summary),
      ...r.reproduce,
    ],
  };
}

export function certificateOf(opts: {
  snapshot: NodeSnapshot;
  cni: CertifyCni;
  profile: string;
  pathIds: readonly string[];
  results: readonly CellResult[];
  runId: string;
  /** What the user calls the image (`--image`, e.g. an AMI id). */
  imageName?: string;
  /** Default: this build's. */
  returnpath?: Certificate['returnpath'];
  /** The kernel the lab ran on; default: this machine's. */
  labKernel?: string;
}): Certificate {
  const image = imageSysctlsFor(opts.snapshot, opts.cni, ['eth0', 'eth1']);
  return buildCertificate({
    returnpath: opts.returnpath ?? provenanceRecord(),
    lab: { kernel: opts.labKernel ?? kernelRelease() },
    image: {
      name: opts.imageName ?? null,
      source: opts.snapshot.source,
      kernel: opts.snapshot.kernel,
      notes: [...image.interfaceMap.map((m) => `image ${m.image} -> lab ${m.lab}`), ...image.notes],
      sysctls: Object.fromEntries(nodeSysctlEntries(image.sysctls)),
    },
    cni: opts.cni,
    profile: opts.profile,
    requiredPaths: requiredPaths(opts.profile).filter((id) => opts.pathIds.includes(id)),
    paths: PATHS.filter((p) => opts.pathIds.includes(p.id)).map((p) =>
      pathResult(
        p,
        opts.results.find((r) => r.id === p.id),
        opts.cni,
        image,
      ),
    ),
    runId: opts.runId,
  });
}
