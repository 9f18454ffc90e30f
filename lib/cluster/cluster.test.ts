import { expect } from 'chai';
import type { V1Pod, V1Service } from '@kubernetes/client-node';
import { validateTopology, type Topology } from '../model/topology.js';
import { suiteById } from '../../suites/catalog.js';
import type { CellSpec } from '../scenario/cell.js';
import { example } from '../../suites/support/documents.js';
import { processStartTime } from '../exec/process-identity.js';
import { ownerState } from './clean.js';
import { covering, effectiveTopology } from './effective.js';
import { fitProblems, type ClusterFacts } from './fit.js';
import { testbeds } from './testbed-topology.js';
import { cellObjects, NotExpressible, RUN_LABEL, UNMANAGED_LB_CLASS } from './manifests.js';
import { cellLabel, reportedHealth, unobservableEvidence } from './run-cell.js';
import { HEALTH_CONDITION } from '../kube/serve/cloud-provider.js';

const LBC = 'service.beta.kubernetes.io/aws-load-balancer-';
const o = { run: 'r1', namespace: 'rp-r1', version: '0.1.0' };

function cell(suite: string, id: string): CellSpec {
  const c = suiteById(suite).cells.find((x) => x.id === id);
  if (!c) throw new Error(`no cell ${suite}/${id}`);
  return c;
}

const topo = (c: CellSpec): Topology => validateTopology(c.topology, c.id);

/** The facts of a cluster that is exactly `t` (returnpath's test bed built from it). */
function factsOf(t: Topology): ClusterFacts {
  return {
    nodes: t.nodes
      .filter((n) => n.cni.profile !== 'none')
      .map((n) => ({ name: n.name, zone: n.zone, internalIP: n.address, ready: true })),
    description: t,
  };
}

describe('kubeconfig backend: does a cell fit a cluster', () => {
  const hairpin = suiteById('nlb-hairpin').cells;
  it('fits the cluster built from its own topology', () => {
    for (const c of hairpin) expect(fitProblems(topo(c), factsOf(topo(c))), c.id).to.deep.equal([]);
  });

  it('names each node the cluster lacks, and instance targets that are not every node', () => {
    const t = topo(hairpin[0]!);
    const facts = factsOf(t);
    const fewer = { ...facts, nodes: facts.nodes.slice(1) };
    const p = fitProblems(t, fewer);
    expect(p.join('\n')).to.contain(
      `node ${t.nodes[0]!.name} (${t.nodes[0]!.zone}): not a node of the cluster`,
    );
    expect(p.join('\n')).to.match(
      /instance targets node-1, node-2, node-3; the controller registers every node of the cluster: node-2, node-3/,
    );
  });

  it('counts a node excluded from external load balancers (a kubeadm control plane) as no instance target', () => {
    const t = topo(hairpin[0]!);
    const facts = factsOf(t);
    const controlPlane = { name: 'control-plane', zone: undefined, internalIP: '172.18.0.2', ready: true };
    expect(
      fitProblems(t, {
        ...facts,
        nodes: [...facts.nodes, { ...controlPlane, excludedFromLoadBalancers: true }],
      }),
    ).to.deep.equal([]);
    expect(fitProblems(t, { ...facts, nodes: [...facts.nodes, controlPlane] }).join('\n')).to.match(
      /the controller registers every node of the cluster: control-plane, node-1, node-2, node-3/,
    );
  });

  it("skips a cell whose kube-proxy detector is not the cluster's", () => {
    const withCidr = hairpin.find((c) => topo(c).kubeProxy.detectLocal === 'clusterCIDR')!;
    const without = hairpin.find(
      (c) =>
        topo(c).kubeProxy.detectLocal === 'none' && topo(c).nodes[0]!.name === topo(withCidr).nodes[0]!.name,
    )!;
    const p = fitProblems(topo(withCidr), factsOf(topo(without)));
    expect(p).to.have.length(1);
    expect(p[0]).to.match(
      /^kube-proxy \{"detectLocal":"clusterCIDR"\}, the cluster's is \{"detectLocal":"none"\}/,
    );
  });

  it('skips every cell on a cluster nobody described, and says how to describe it', () => {
    const t = topo(hairpin[0]!);
    const p = fitProblems(t, { ...factsOf(t), description: undefined });
    expect(p.at(-1)).to.contain('give --cluster-topology FILE');
  });

  it('names a node sysctl that differs', () => {
    const c = suiteById('eni-rp-filter').cells[0]!;
    const t = topo(c);
    const other = structuredClone(t);
    other.nodes[0]!.sysctls = { ...other.nodes[0]!.sysctls, 'net.ipv4.conf.all.rp_filter': 'x' } as never;
    expect(fitProblems(t, factsOf(other)).join('\n')).to.contain(`node ${t.nodes[0]!.name}: sysctls`);
  });
});

describe('kubeconfig backend: a cell as Kubernetes objects', () => {
  it('makes the Service an NLB fronts a LoadBalancer Service with the controller annotations', () => {
    const c = cell('baseline', 'nlb.instance.cluster');
    const objs = cellObjects(topo(c), 'baseline.nlb.instance.cluster', o);
    const web = objs.services.find((s) => s.metadata?.name === 'web')!;
    expect(web.spec?.type).to.equal('LoadBalancer');
    expect(web.spec?.loadBalancerClass).to.equal(undefined);
    expect(web.metadata?.annotations).to.include({
      [`${LBC}type`]: 'external',
      [`${LBC}nlb-target-type`]: 'instance',
      [`${LBC}scheme`]: 'internet-facing',
      [`${LBC}name`]: 'nlb-cluster',
      [`${LBC}attributes`]: 'load_balancing.cross_zone.enabled=true',
    });
    // A LoadBalancer Service no NLB of the cell fronts gets a class nobody serves: no NLB is claimed.
    const local = objs.services.find((s) => s.metadata?.name === 'web-local')!;
    expect(local.spec?.loadBalancerClass).to.equal(UNMANAGED_LB_CLASS);
    for (const x of [...objs.pods, ...objs.services]) expect(x.metadata?.labels?.[RUN_LABEL]).to.equal('r1');
    const pod = objs.pods.find((p) => p.metadata?.name === 'web-1')!;
    expect(pod.spec?.nodeName).to.equal('node-a');
    expect(pod.spec?.containers[0]?.command).to.deep.equal(['returnpath-agent', 'hold']);
    expect(Object.keys(pod.metadata?.labels ?? {})).to.include('svc.returnpath.dev/web');
  });

  it('refuses what the API cannot express: ingress IPs only a cloud provider writes', () => {
    const doc = example('seed-002-lb-snat-policy-routing');
    const t = validateTopology(doc, 'seed-002');
    if (!t.services.some((s) => s.loadBalancerIPs.length)) throw new Error('seed 002 has no loadBalancerIPs');
    expect(() => cellObjects(t, 'x', o)).to.throw(
      NotExpressible,
      /only the cluster's cloud provider writes them/,
    );
  });
});

describe('kubeconfig backend: the topology as the cluster realized it', () => {
  it("writes the cluster's pod IPs, ClusterIPs and node ports into the cell's topology", () => {
    const c = cell('baseline', 'nlb.instance.cluster');
    const t = topo(c);
    const pods = new Map<string, V1Pod>([
      ['web-2', { status: { podIP: t.pods.find((p) => p.name === 'web-2')!.address.replace(/\d+$/, '99') } }],
    ]);
    const services = new Map<string, V1Service>([
      ['web', { spec: { clusterIP: '172.20.99.1', ports: [{ name: 'http', port: 80, nodePort: 31999 }] } }],
    ]);
    const e = effectiveTopology(c.topology, { pods, services }, 'x');
    const web = e.services.find((s) => s.name === 'web')!;
    expect(web.clusterIP).to.equal('172.20.99.1');
    expect(web.ports[0]!.nodePort).to.equal(31999);
    expect(web.endpoints.find((p) => p.name === 'web-2')!.address).to.match(/\.99$/);
    const tg = e.loadBalancers[0]!.targetGroups[0]!;
    expect(tg.targets.every((x) => x.port === 31999)).to.equal(true);
  });
});

describe('kubeconfig backend: small parts', () => {
  it('tells a live owner from a gone one and from another machine', () => {
    const start = processStartTime(process.pid)!;
    expect(ownerState(`h/${process.pid}/${start}`, 'h')).to.equal('alive');
    expect(ownerState(`h/999999999/1`, 'h')).to.equal('gone');
    expect(ownerState(`other/${process.pid}/0`, 'h')).to.equal('elsewhere');
    expect(ownerState(undefined, 'h')).to.equal('gone');
  });

  it('names cells as label values', () => {
    expect(cellLabel({ suite: 'nlb-hairpin', id: 'seed001/instance.cluster:x' })).to.equal(
      'nlb-hairpin.seed001-instance.cluster-x',
    );
    expect(cellLabel({ suite: 's', id: 'a'.repeat(80) })).to.have.length(63);
  });

  it("reads the lab cloud's target health, and nothing from a cloud that does not say", () => {
    const svc = (message: string, status = 'True'): V1Service => ({
      status: {
        conditions: [
          { type: HEALTH_CONDITION, status, message, reason: 'x', lastTransitionTime: new Date() },
        ],
      },
    });
    const h = reportedHealth(
      svc(JSON.stringify({ '80/node/node-a:30080': true, '80/node/node-b:30080': null })),
    );
    expect(h?.get('80/node/node-a:30080')).to.equal(true);
    expect(h?.has('80/node/node-b:30080')).to.equal(false);
    expect(reportedHealth(svc('{}', 'False'))).to.equal(undefined);
    expect(reportedHealth({})).to.equal(undefined);
  });
});

describe("kubeconfig backend: returnpath's own test beds", () => {
  it('groups the baseline and hairpin cells by the infrastructure they need, with every NLB placement they use', () => {
    const cells = [...suiteById('baseline').cells, ...suiteById('nlb-hairpin').cells];
    const beds = testbeds(cells);
    expect(beds.map((b) => (b.doc['metadata'] as { name: string }).name)).to.deep.equal([
      'seed-003-baseline',
      'seed-001-hairpin',
      'seed-001-hairpin',
      'seed-004-cross-zone',
    ]);
    expect(beds.reduce((n, b) => n + b.cells.length, 0)).to.equal(cells.length);
    const baseline = validateTopology(beds[0]!.doc, 'bed');
    expect(baseline.loadBalancers.map((l) => l.name).sort()).to.deep.equal([
      'nlb-cluster',
      'nlb-ip',
      'nlb-ip-preserve',
      'nlb-local',
    ]);
    // Every cell fits the bed made for it.
    for (const b of beds) {
      const t = validateTopology(b.doc, 'bed');
      for (const c of b.cells) expect(fitProblems(topo(c), factsOf(t)), c.id).to.deep.equal([]);
    }
  });
});

describe('kubeconfig backend: covering CIDR', () => {
  it('is the smallest prefix holding every address', () => {
    expect(covering(['198.19.255.251', '198.19.255.245'])).to.equal('198.19.255.240/28');
    expect(covering(['10.100.0.1'])).to.equal('10.100.0.1/32');
    expect(covering(['10.0.0.1', '10.255.0.1'])).to.equal('10.0.0.0/8');
  });
});

describe('kubeconfig backend: evidence only the cloud can give', () => {
  it("skips evidence on the VPC fabric unless the cloud's hosts are observable (returnpath's lab)", () => {
    const c = suiteById('nlb-hairpin').cells.find(
      (x) => x.id === 'seed001.instance.local.preserve-on.detect-cluster-cidr',
    )!;
    const t = topo(c);
    expect(unobservableEvidence(c, t, undefined)).to.deep.equal([
      "evidence drop on fabric: a host of the cloud, which only returnpath's lab exposes",
    ]);
    const fake = { host: 'fabric' } as never;
    expect(unobservableEvidence(c, t, (id) => (id === 'fabric' ? fake : undefined))).to.deep.equal([]);
  });
});
