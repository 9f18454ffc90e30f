import { readFile, writeFile } from 'node:fs/promises';
import { expect } from 'chai';
import { NotFoundError } from '../errors.js';
import { parseTopology, type Topology } from '../model/topology.js';
import { endpointChain, kubeProxyRuleset, servicePortChain, servicePortName } from './rules.js';
import { kubeProxyProbability, savedProbability } from './rule-text.js';
import { scenarios, topologyWith } from './testdata/scenarios.js';

/** Golden files live in the source tree; tests run from dist/. UPDATE_GOLDEN=1 rewrites them. */
const goldenDir = new URL('../../../lib/kube-proxy/testdata/', import.meta.url);

const SVC = 'KUBE-SVC-XRY76EGRC3BSCIIJ';
const EXT = 'KUBE-EXT-XRY76EGRC3BSCIIJ';
const SVL = 'KUBE-SVL-XRY76EGRC3BSCIIJ';
const SEP_LOCAL = 'KUBE-SEP-WUG2IG7IAEUVDBC6';
const SEP_REMOTE = 'KUBE-SEP-A3PTMV23KQCYJZ3Y';

function scenario(name: string): { topology: Topology; node: string } {
  const s = scenarios.find((x) => x.name === name);
  if (!s) throw new Error(`no scenario ${name}`);
  return s;
}

function rules(name: string, table: 'nat' | 'filter'): readonly string[] {
  const s = scenario(name);
  return kubeProxyRuleset(s.topology, s.node).lines(table);
}

/** The lines of chains called KUBE-* (and the jumps into them) from iptables-save text, tables by name. */
function kubeLines(save: string): string[] {
  let table = '';
  const out: string[] = [];
  for (const l of save.split('\n')) {
    if (l.startsWith('*')) table = l;
    else if (/KUBE-/.test(l)) out.push(`${table} ${l.replace(/ \[\d+:\d+\]$/, '')}`);
  }
  const tableOf = (l: string): string => l.split(' ')[0]!;
  // A stable sort: lines keep their order within a table.
  return out.sort((a, b) => (tableOf(a) < tableOf(b) ? -1 : tableOf(a) > tableOf(b) ? 1 : 0));
}

describe('kube-proxy rules', () => {
  it('equal what the real kube-proxy v1.36.3 wrote for seed 003 on node-a, but for what carries no Service traffic', async () => {
    const real = await readFile(new URL('real-v1.36.3/seed-003-node-a.iptables-save', goldenDir), 'utf8');
    const topology = parseTopology(
      await readFile(new URL('../../../examples/seed-003-baseline.yaml', import.meta.url), 'utf8'),
    );
    const emulated = kubeLines(kubeProxyRuleset(topology, 'node-a').render());
    // Not emulated (rules.ts says why): canary chains, kubelet's empty KUBE-FIREWALL, the nfacct
    // counter on the INVALID drop, and the apiserver's own Service (no endpoints in the lab).
    const notEmulated = [
      /^\*\w+ :KUBE-PROXY-CANARY/,
      /^\*filter :KUBE-FIREWALL /,
      /^\*filter -A (INPUT|OUTPUT) -j KUBE-FIREWALL$/,
      /default\/kubernetes:https/,
    ];
    const normalized = kubeLines(real)
      .filter((l) => !notEmulated.some((re) => re.test(l)))
      .map((l) => l.replace(' -m nfacct --nfacct-name  ct_state_invalid_dropped_pkts', ''));
    expect(emulated).to.deep.equal(normalized);
  });

  describe('chain names', () => {
    it('hash the service port name and protocol as kube-proxy does (reference.md example)', () => {
      const name = servicePortName('demo', 'web', 'http');
      expect(name).to.equal('demo/web:http');
      expect(servicePortChain('KUBE-SVC-', name, 'TCP')).to.equal(SVC);
      expect(servicePortChain('KUBE-EXT-', name, 'tcp')).to.equal(EXT);
      expect(endpointChain(name, 'TCP', '10.0.1.15:8080')).to.equal(SEP_LOCAL);
      expect(endpointChain(name, 'tcp', '10.0.2.77:8080')).to.equal(SEP_REMOTE);
    });

    it('leave the port out of an unnamed port', () => {
      expect(servicePortName('default', 'kubernetes', '')).to.equal('default/kubernetes');
    });

    it('differ by protocol', () => {
      expect(servicePortChain('KUBE-SVC-', 'a/b:c', 'UDP')).not.to.equal(
        servicePortChain('KUBE-SVC-', 'a/b:c', 'TCP'),
      );
      expect(servicePortChain('KUBE-SVC-', 'a/b:c', 'UDP')).to.match(/^KUBE-SVC-[A-Z2-7]{16}$/);
    });
  });

  describe('golden files', () => {
    for (const s of scenarios) {
      it(`${s.name} (${s.node})`, async () => {
        const actual = kubeProxyRuleset(s.topology, s.node).render();
        const file = new URL(`${s.name}.golden`, goldenDir);
        if (process.env.UPDATE_GOLDEN === '1') await writeFile(file, actual);
        expect(actual).to.equal(await readFile(file, 'utf8'));
      });
    }
  });

  describe('Cluster policy (reference.md example)', () => {
    const nat = rules('cluster-policy', 'nat');

    it('captures the cluster IP, then the node ports last (not for 127.0.0.0/8: no localhost node ports)', () => {
      expect(nat.filter((l) => l.startsWith('-A KUBE-SERVICES '))).to.deep.equal([
        `-A KUBE-SERVICES -d 172.20.10.10/32 -p tcp -m comment --comment "demo/web:http cluster IP" -m tcp --dport 80 -j ${SVC}`,
        '-A KUBE-SERVICES ! -d 127.0.0.0/8 -m comment --comment "kubernetes service nodeports; NOTE: this must be the last rule in this chain" -m addrtype --dst-type LOCAL -j KUBE-NODEPORTS',
      ]);
      expect(nat).to.include(
        `-A KUBE-NODEPORTS -p tcp -m comment --comment "demo/web:http" -m tcp --dport 30080 -j ${EXT}`,
      );
    });

    it('always masquerades external traffic', () => {
      expect(nat.filter((l) => l.startsWith(`-A ${EXT} `))).to.deep.equal([
        `-A ${EXT} -m comment --comment "masquerade traffic for demo/web:http external destinations" -j KUBE-MARK-MASQ`,
        `-A ${EXT} -j ${SVC}`,
      ]);
    });

    it('picks endpoints with probability 1/(n-i), without masquerading any source (no detector)', () => {
      expect(nat.filter((l) => l.startsWith(`-A ${SVC} `))).to.deep.equal([
        `-A ${SVC} -m comment --comment "demo/web:http -> 10.0.1.15:8080" -m statistic --mode random --probability 0.50000000000 -j ${SEP_LOCAL}`,
        `-A ${SVC} -m comment --comment "demo/web:http -> 10.0.2.77:8080" -j ${SEP_REMOTE}`,
      ]);
    });

    it('with the clusterCIDR detector, first masquerades sources outside the cluster CIDR', () => {
      expect(
        rules('cluster-policy.detect-cluster-cidr', 'nat').filter((l) => l.startsWith(`-A ${SVC} `)),
      ).to.deep.equal([
        `-A ${SVC} ! -s 10.0.0.0/16 -d 172.20.10.10/32 -p tcp -m comment --comment "demo/web:http cluster IP" -m tcp --dport 80 -j KUBE-MARK-MASQ`,
        `-A ${SVC} -m comment --comment "demo/web:http -> 10.0.1.15:8080" -m statistic --mode random --probability 0.50000000000 -j ${SEP_LOCAL}`,
        `-A ${SVC} -m comment --comment "demo/web:http -> 10.0.2.77:8080" -j ${SEP_REMOTE}`,
      ]);
    });

    it('marks hairpin traffic in each endpoint chain before the DNAT', () => {
      expect(nat.filter((l) => l.startsWith(`-A ${SEP_LOCAL} `))).to.deep.equal([
        `-A ${SEP_LOCAL} -s 10.0.1.15/32 -m comment --comment "demo/web:http" -j KUBE-MARK-MASQ`,
        `-A ${SEP_LOCAL} -p tcp -m comment --comment "demo/web:http" -m tcp -j DNAT --to-destination 10.0.1.15:8080`,
      ]);
    });

    it('writes the masquerade machinery and the jumps from the built-in chains', () => {
      expect(nat).to.include.members([
        '-A PREROUTING -m comment --comment "kubernetes service portals" -j KUBE-SERVICES',
        '-A OUTPUT -m comment --comment "kubernetes service portals" -j KUBE-SERVICES',
        '-A POSTROUTING -m comment --comment "kubernetes postrouting rules" -j KUBE-POSTROUTING',
        '-A KUBE-MARK-MASQ -j MARK --set-xmark 0x4000/0x4000',
      ]);
      expect(nat.filter((l) => l.startsWith('-A KUBE-POSTROUTING '))).to.deep.equal([
        '-A KUBE-POSTROUTING -m mark ! --mark 0x4000/0x4000 -j RETURN',
        '-A KUBE-POSTROUTING -j MARK --set-xmark 0x4000/0x0',
        '-A KUBE-POSTROUTING -m comment --comment "kubernetes service traffic requiring SNAT" -j MASQUERADE --random-fully',
      ]);
    });

    it('writes KUBE-FORWARD and the filter jumps in kube-proxy order', () => {
      const filter = rules('cluster-policy', 'filter');
      expect(filter.filter((l) => l.startsWith('-A INPUT '))).to.deep.equal([
        '-A INPUT -m conntrack --ctstate NEW -m comment --comment "kubernetes load balancer firewall" -j KUBE-PROXY-FIREWALL',
        '-A INPUT -m comment --comment "kubernetes health check service ports" -j KUBE-NODEPORTS',
        '-A INPUT -m conntrack --ctstate NEW -m comment --comment "kubernetes externally-visible service portals" -j KUBE-EXTERNAL-SERVICES',
      ]);
      expect(filter.filter((l) => l.startsWith('-A FORWARD ')).map((l) => l.split(' -j ')[1])).to.deep.equal([
        'KUBE-PROXY-FIREWALL',
        'KUBE-FORWARD',
        'KUBE-SERVICES',
        'KUBE-EXTERNAL-SERVICES',
      ]);
      expect(filter.filter((l) => l.startsWith('-A KUBE-FORWARD '))).to.deep.equal([
        '-A KUBE-FORWARD -m conntrack --ctstate INVALID -j DROP',
        '-A KUBE-FORWARD -m comment --comment "kubernetes forwarding rules" -m mark --mark 0x4000/0x4000 -j ACCEPT',
        '-A KUBE-FORWARD -m comment --comment "kubernetes forwarding conntrack rule" -m conntrack --ctstate RELATED,ESTABLISHED -j ACCEPT',
      ]);
    });
  });

  describe('Local policy', () => {
    it('without a detector short-circuits node traffic only, and sends the rest (pods too) to local endpoints', () => {
      expect(
        rules('local-policy-local-endpoint', 'nat').filter((l) => l.startsWith(`-A ${EXT} `)),
      ).to.deep.equal([
        `-A ${EXT} -m comment --comment "masquerade LOCAL traffic for demo/web:http external destinations" -m addrtype --src-type LOCAL -j KUBE-MARK-MASQ`,
        `-A ${EXT} -m comment --comment "route LOCAL traffic for demo/web:http external destinations" -m addrtype --src-type LOCAL -j ${SVC}`,
        `-A ${EXT} -j ${SVL}`,
      ]);
    });

    it('with the clusterCIDR detector short-circuits pod and node traffic, and sends the rest to local endpoints only', () => {
      const nat = rules('local-policy-local-endpoint.detect-cluster-cidr', 'nat');
      expect(nat.filter((l) => l.startsWith(`-A ${EXT} `))).to.deep.equal([
        `-A ${EXT} -s 10.0.0.0/16 -m comment --comment "pod traffic for demo/web:http external destinations" -j ${SVC}`,
        `-A ${EXT} -m comment --comment "masquerade LOCAL traffic for demo/web:http external destinations" -m addrtype --src-type LOCAL -j KUBE-MARK-MASQ`,
        `-A ${EXT} -m comment --comment "route LOCAL traffic for demo/web:http external destinations" -m addrtype --src-type LOCAL -j ${SVC}`,
        `-A ${EXT} -j ${SVL}`,
      ]);
      expect(nat.filter((l) => l.startsWith(`-A ${SVL} `))).to.deep.equal([
        `-A ${SVL} -m comment --comment "demo/web:http -> 10.0.1.15:8080" -j ${SEP_LOCAL}`,
      ]);
      const filter = rules('local-policy-local-endpoint', 'filter');
      expect(filter.filter((l) => l.startsWith('-A KUBE-EXTERNAL-SERVICES '))).to.deep.equal([]);
      expect(filter).to.include(
        '-A KUBE-NODEPORTS -p tcp -m comment --comment "demo/web:http health check node port" -m tcp --dport 32000 -j ACCEPT',
      );
    });

    it('drops external traffic on a node without a local endpoint, keeping the short-circuits', () => {
      const nat = rules('local-policy-no-local-endpoint.detect-cluster-cidr', 'nat');
      expect(nat.some((l) => l.includes(SVL))).to.equal(false);
      expect(nat.filter((l) => l.startsWith(`-A ${EXT} `))).to.have.length(3);
      expect(
        rules('local-policy-no-local-endpoint', 'nat').filter((l) => l.startsWith(`-A ${EXT} `)),
      ).to.have.length(2);
      expect(nat).to.include(
        `-A KUBE-NODEPORTS -p tcp -m comment --comment "demo/web:http" -m tcp --dport 30080 -j ${EXT}`,
      );
      const filter = rules('local-policy-no-local-endpoint', 'filter');
      expect(filter.filter((l) => l.startsWith('-A KUBE-EXTERNAL-SERVICES '))).to.deep.equal([
        '-A KUBE-EXTERNAL-SERVICES -p tcp -m comment --comment "demo/web:http has no local endpoints" -m addrtype --dst-type LOCAL -m tcp --dport 30080 -j DROP',
      ]);
      expect(filter).to.include(
        '-A KUBE-NODEPORTS -p tcp -m comment --comment "demo/web:http health check node port" -m tcp --dport 32000 -j ACCEPT',
      );
    });
  });

  it('sends load balancer IP traffic to the EXT chain', () => {
    expect(rules('load-balancer-ip', 'nat')).to.include(
      `-A KUBE-SERVICES -d 10.0.1.100/32 -p tcp -m comment --comment "demo/web:http loadbalancer IP" -m tcp --dport 80 -j ${EXT}`,
    );
  });

  it('rejects every entry to a service without endpoints, and writes none of its nat chains', () => {
    const nat = rules('no-endpoints', 'nat');
    expect(nat.filter((l) => l.includes('XRY76EGRC3BSCIIJ'))).to.deep.equal([]);
    const filter = rules('no-endpoints', 'filter');
    const reject = '-j REJECT --reject-with icmp-port-unreachable';
    expect(filter).to.include.members([
      `-A KUBE-SERVICES -d 172.20.10.10/32 -p tcp -m comment --comment "demo/web:http has no endpoints" -m tcp --dport 80 ${reject}`,
      `-A KUBE-EXTERNAL-SERVICES -d 10.0.1.100/32 -p tcp -m comment --comment "demo/web:http has no endpoints" -m tcp --dport 80 ${reject}`,
      `-A KUBE-EXTERNAL-SERVICES -p tcp -m comment --comment "demo/web:http has no endpoints" -m addrtype --dst-type LOCAL -m tcp --dport 30080 ${reject}`,
    ]);
  });

  it('writes UDP ports with udp matches and their own chains', () => {
    const nat = rules('udp', 'nat');
    const udpSvc = servicePortChain('KUBE-SVC-', 'kube-system/dns:dns', 'udp');
    expect(nat).to.include(
      `-A KUBE-SERVICES -d 172.20.0.10/32 -p udp -m comment --comment "kube-system/dns:dns cluster IP" -m udp --dport 53 -j ${udpSvc}`,
    );
    const sep = endpointChain('kube-system/dns:dns', 'udp', '10.0.1.15:53');
    expect(nat).to.include(
      `-A ${sep} -p udp -m comment --comment "kube-system/dns:dns" -m udp -j DNAT --to-destination 10.0.1.15:53`,
    );
    expect(nat.filter((l) => l.startsWith(`-A ${udpSvc} `) && l.includes('--probability'))).to.have.length(2);
    expect(nat.some((l) => l.includes('--probability 0.33333333349'))).to.equal(true);
  });

  it('orders endpoints by "ip:port" text, as kube-proxy sorts them', () => {
    const t = topologyWith([
      {
        name: 'web',
        type: 'ClusterIP',
        clusterIP: '172.20.10.10',
        ports: [{ port: 80, targetPort: 8080 }],
        endpoints: ['web-3', 'web-1', 'web-2'],
      },
    ]);
    const svc = servicePortChain('KUBE-SVC-', 'default/web', 'tcp');
    const targets = kubeProxyRuleset(t, 'node-a')
      .lines('nat')
      .filter((l) => l.startsWith(`-A ${svc} -m comment`))
      .map((l) => /-> (\S+)"/.exec(l)?.[1]);
    expect(targets).to.deep.equal(['10.0.1.15:8080', '10.0.2.77:8080', '10.0.2.78:8080']);
  });

  it('leaves out the INVALID drop when nf_conntrack_tcp_be_liberal is set on the node', () => {
    const s = scenario('cluster-policy');
    const node = s.topology.nodes[0]!;
    const liberal: Topology = {
      ...s.topology,
      nodes: [
        { ...node, sysctls: { ...node.sysctls, other: { 'net.netfilter.nf_conntrack_tcp_be_liberal': 1 } } },
      ],
    };
    const filter = kubeProxyRuleset(liberal, node.name).lines('filter');
    expect(filter.some((l) => l.includes('INVALID'))).to.equal(false);
    expect(filter.filter((l) => l.startsWith('-A KUBE-FORWARD '))).to.have.length(2);
  });

  it('drops the endpoint comments above 1000 endpoints, as kube-proxy does', () => {
    const s = scenario('cluster-policy');
    const service = s.topology.services[0]!;
    const pods = Array.from({ length: 1001 }, (_, i) => ({
      name: `p${i}`,
      node: 'node-b',
      eni: 'eth0',
      address: `10.0.${100 + (i >> 8)}.${i & 255}`,
    }));
    const big: Topology = { ...s.topology, services: [{ ...service, endpoints: pods }] };
    const nat = kubeProxyRuleset(big, 'node-a').lines('nat');
    const sep = endpointChain('demo/web:http', 'tcp', '10.0.100.0:8080');
    expect(nat).to.include(`-A ${sep} -s 10.0.100.0/32 -j KUBE-MARK-MASQ`);
    expect(nat.filter((l) => l.startsWith(`-A ${SVC} `) && l.includes('-> '))).to.deep.equal([]);
    expect(nat.filter((l) => l.startsWith(`-A ${SVC} `))).to.have.length(1001);
  });

  it('throws NotFoundError for an unknown node', () => {
    expect(() => kubeProxyRuleset(scenario('cluster-policy').topology, 'nope')).to.throw(
      NotFoundError,
      /nope/,
    );
  });

  describe('probabilities', () => {
    it('are computed as kube-proxy does and written as iptables-save prints them back', () => {
      expect(kubeProxyProbability(2)).to.equal('0.5000000000');
      expect(kubeProxyProbability(3)).to.equal('0.3333333333');
      expect(savedProbability('0.5000000000')).to.equal('0.50000000000');
      expect(savedProbability('0.3333333333')).to.equal('0.33333333349');
      expect(savedProbability('0.33333333349')).to.equal('0.33333333349');
    });
  });
});
