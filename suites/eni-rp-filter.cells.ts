/**
 * Seed 000: an internet-facing NLB with ip targets and client IP preservation; the target pod's
 * address lives on the node's secondary ENI (eth1). Matrix: CNI profile x externalSNAT x rp_filter
 * (on conf/all, conf/default and eth1) x the ENI source/destination check.
 *
 * The seed says rp_filter=2 fixed it. The kernel agrees only where the reply can leave through
 * eth0 and still reach the NLB: the legacy CNI with the source/destination check off. With the
 * check on (the EC2 default) loose mode lets the SYN in but the reply dies at eth0; the current
 * CNI (1.8+) or external SNAT route the reply through eth1 and work even in strict mode.
 */
import type { CellSpec, SuiteSpec } from '../lib/scenario/cell.js';
import { example, named } from './support/documents.js';
import { allTimeOut, rpFilterDrop, rpMode, sourceDestCheckDrop } from './support/expect.js';

const SUITE = 'eni-rp-filter';
const SEEDS = ['000'];
const NODE = 'node-1';
const CLIENT = 'curl-loop';

type Cni = 'vpc-cni-legacy' | 'vpc-cni';
interface Config {
  cni: Cni;
  externalSNAT: boolean;
  /** conf/all and conf/eth1 (conf/default seeds eth1 with the same value). */
  all: 0 | 1 | 2;
  eth1: 0 | 1 | 2;
  sourceDestCheck: boolean;
}

/** What the kernel does with this configuration, and why. */
function predict(c: Config): Pick<CellSpec, 'expect' | 'pathWorks' | 'explanation'> {
  const effective = Math.max(c.all, c.eth1);
  const rpText =
    c.all === c.eth1
      ? `rp_filter=${effective} (${rpMode(effective)})`
      : `rp_filter ${rpMode(effective)} (max of conf/all=${c.all} and conf/eth1=${c.eth1})`;
  const replyViaMain = c.cni === 'vpc-cni-legacy' && !c.externalSNAT;
  if (!replyViaMain) {
    const who =
      c.cni === 'vpc-cni'
        ? 'VPC CNI 1.8+ routes everything from the pod by `from <pod> lookup <eth1 table>` (rule 1536)'
        : 'With external SNAT the legacy CNI writes `from <pod> lookup <eth1 table>` without a destination';
    return {
      pathWorks: true,
      expect: { outcome: { kind: 'all', outcome: 'connected' }, sourceSeen: 'client' },
      explanation:
        `${who}: the reverse path of the internet client is eth1, where the SYN arrived, so ${rpText} accepts ` +
        'it, and the reply leaves through eth1, the ENI that owns the pod address, back to the NLB.',
    };
  }
  if (effective === 1) {
    return {
      pathWorks: false,
      expect: allTimeOut(rpFilterDrop(NODE)),
      explanation:
        'The legacy CNI (<= 1.7) sends pod traffic to its ENI table only for VPC destinations, so the reverse ' +
        `path to 203.0.113.10 is eth0; the SYN arrived on eth1 and ${rpText} drops it (TcpExtIPReversePathFilter).`,
    };
  }
  if (c.sourceDestCheck) {
    return {
      pathWorks: false,
      expect: allTimeOut(sourceDestCheckDrop(`${NODE}/eth0`)),
      explanation:
        `${rpText[0]!.toUpperCase()}${rpText.slice(1)} lets the SYN in on eth1, but the legacy CNI routes the reply to the ` +
        "internet through main, out of eth0, with the pod's eth1 address as source: the ENI source/destination " +
        "check drops it. The seed's rp_filter=2 fix does not hold here.",
    };
  }
  return {
    pathWorks: true,
    expect: { outcome: { kind: 'all', outcome: 'connected' }, sourceSeen: 'client' },
    explanation:
      `${rpText[0]!.toUpperCase()}${rpText.slice(1)} lets the SYN in on eth1; the reply leaves through eth0 (asymmetric), ` +
      'and with the source/destination check off the VPC still carries it back to the NLB node that owns the ' +
      "flow: this is where the seed's rp_filter=2 fix holds.",
  };
}

function topology(c: Config): unknown {
  const doc = example('seed-000-eni-rp-filter');
  const node = named(doc['nodes'], NODE);
  node['cni'] = { profile: c.cni, externalSNAT: c.externalSNAT };
  for (const eni of node['enis']) eni['sourceDestCheck'] = c.sourceDestCheck;
  node['sysctls'] = {
    all: { rp_filter: c.all },
    default: { rp_filter: c.eth1 },
    interfaces: { eth1: { rp_filter: c.eth1 } },
  };
  return doc;
}

function cell(c: Config): CellSpec {
  const rp = c.all === c.eth1 ? `${c.all}` : `all=${c.all} eth1=${c.eth1}`;
  const rpId = c.all === c.eth1 ? `${c.all}` : `all${c.all}-eth1${c.eth1}`;
  const snat = c.externalSNAT ? 'external' : 'cni';
  return {
    suite: SUITE,
    id: `${c.cni}.snat-${snat}.rp-${rpId}.sdc-${c.sourceDestCheck ? 'on' : 'off'}`,
    title:
      `${c.cni}, externalSNAT=${c.externalSNAT}, rp_filter ${rp}, source/dest check ` +
      `${c.sourceDestCheck ? 'on' : 'off'}: internet client -> NLB ip target on eth1`,
    seeds: SEEDS,
    configuration: {
      cni: c.cni,
      externalSNAT: c.externalSNAT,
      rp_filter: rp,
      sourceDestCheck: c.sourceDestCheck,
    },
    topology: topology(c),
    flow: { from: CLIENT, to: { nlb: 'web-nlb', port: 80 }, attempts: 24 },
    ...predict(c),
  };
}

function cells(): CellSpec[] {
  const out: CellSpec[] = [];
  for (const cni of ['vpc-cni-legacy', 'vpc-cni'] as const)
    for (const externalSNAT of [false, true])
      for (const rp of [0, 1, 2] as const)
        for (const sourceDestCheck of [true, false])
          out.push(cell({ cni, externalSNAT, all: rp, eth1: rp, sourceDestCheck }));
  // The effective value is max(conf/all, conf/eth1): a strict ENI under a loose `all` is loose.
  for (const [all, eth1] of [
    [0, 1],
    [2, 1],
  ] as const)
    out.push(cell({ cni: 'vpc-cni-legacy', externalSNAT: false, all, eth1, sourceDestCheck: false }));
  return out;
}

export const eniRpFilterSuite: SuiteSpec = {
  id: SUITE,
  title: 'Secondary ENI, rp_filter and an internet-facing NLB with ip targets (seed 000)',
  seeds: SEEDS,
  rows: ['cni', 'externalSNAT'],
  columns: ['rp_filter', 'sourceDestCheck'],
  cells: cells(),
};
