import { expect } from 'chai';
import { ValidationError } from '../errors.js';
import { validateTopology } from './topology.js';
import type { TopologyInput } from './schema.js';

export function baseSpec(): TopologyInput {
  return {
    apiVersion: 'returnpath/v1',
    kind: 'Topology',
    metadata: { name: 't' },
    vpc: { cidrs: ['10.0.0.0/16'], zones: [{ name: 'a', subnets: [{ name: 's1', cidr: '10.0.1.0/24' }] }] },
    defaults: { cni: { profile: 'vpc-cni' } },
    nodes: [
      {
        name: 'n1',
        subnet: 's1',
        enis: [
          { name: 'eth0', address: '10.0.1.10' },
          { name: 'eth1', address: '10.0.1.20' },
        ],
      },
      { name: 'n2', subnet: 's1', enis: [{ name: 'eth0', address: '10.0.1.11' }] },
    ],
    pods: [{ name: 'p1', node: 'n1', eni: 'eth1', address: '10.0.1.50' }],
  };
}

function problems(mutate: (s: TopologyInput & Record<string, unknown>) => void): string[] {
  const s = baseSpec() as TopologyInput & Record<string, unknown>;
  mutate(s);
  try {
    validateTopology(s, 'spec');
  } catch (e) {
    if (e instanceof ValidationError)
      return e.problems.map((p) => `${p.path}: ${p.message} (got ${p.value})`);
    throw e;
  }
  return [];
}

describe('topology validation', () => {
  it('accepts a valid spec and resolves references', () => {
    const t = validateTopology(baseSpec());
    expect(t.nodes[0]!.enis[1]!.subnet.gateway).to.equal('10.0.1.1');
    expect(t.nodes[0]!.cni.profile).to.equal('vpc-cni');
    expect(t.clusterCIDR.text).to.equal('10.0.0.0/16');
  });

  it('rejects unknown keys with their path', () => {
    const p = problems((s) => ((s.nodes[0] as Record<string, unknown>)['colour'] = 'red'));
    expect(p).to.have.length(1);
    expect(p[0]).to.match(/^nodes\[0\]: unknown key\(s\) "colour"/);
  });

  it('rejects overlapping subnets, naming both', () => {
    const p = problems((s) => s.vpc.zones[0]!.subnets.push({ name: 's2', cidr: '10.0.1.128/25' }));
    expect(p.join('\n')).to.match(
      /vpc\.zones\[0\]\.subnets\[1\]\.cidr: overlaps subnet s1 \(10\.0\.1\.0\/24\) \(got "10\.0\.1\.128\/25"\)/,
    );
  });

  it('rejects an address outside its subnet', () => {
    const p = problems((s) => (s.nodes[1]!.enis[0]!.address = '10.0.9.5'));
    expect(p).to.deep.equal([
      'nodes[1].enis[0].address: is outside subnet s1 (10.0.1.0/24) (got "10.0.9.5")',
    ]);
  });

  it('rejects reserved subnet addresses', () => {
    const p = problems((s) => (s.nodes[1]!.enis[0]!.address = '10.0.1.2'));
    expect(p[0]).to.match(/reserved in subnet s1/);
  });

  it('rejects a pod on an ENI its node does not have', () => {
    const p = problems((s) => (s.pods![0]!.node = 'n2'));
    expect(p).to.deep.equal(['pods[0].eni: node n2 has no ENI eth1 (it has eth0) (got "eth1")']);
  });

  it('rejects two owners of one address', () => {
    const p = problems((s) => (s.pods![0]!.address = '10.0.1.11'));
    expect(p[0]).to.equal(
      'pods[0].address: is already owned by node n2 eth0; an address has one owner (got "10.0.1.11")',
    );
  });

  it('rejects an ENI without an address unless the profile supports it', () => {
    const p = problems((s) => (s.nodes[0]!.enis[1]!.address = null));
    expect(p[0]).to.match(/needs cni profile eni-policy-routing \(this node uses vpc-cni\)/);
    expect(
      problems((s) => {
        s.nodes[0]!.enis[1]!.address = null;
        s.nodes[0]!.cni = { profile: 'eni-policy-routing' };
      }),
    ).to.deep.equal([]);
  });

  it('rejects a bad enum with the allowed values', () => {
    const p = problems((s) => (s.defaults = { cni: { profile: 'calico' as 'none' } }));
    expect(p[0]).to.match(/^defaults\.cni\.profile: .*vpc-cni/);
  });

  it('rejects overlapping VPC CIDRs and bad CIDRs', () => {
    expect(problems((s) => s.vpc.cidrs.push('10.0.128.0/17'))[0]).to.match(
      /vpc\.cidrs\[1\]: overlaps vpc\.cidrs\[0\]/,
    );
    expect(problems((s) => (s.vpc.cidrs[0] = '10.0.0.1/16'))[0]).to.match(
      /^vpc\.cidrs\[0\]: must be an IPv4 CIDR with host bits clear/,
    );
  });

  it('checks Services: node ports, health check node port, endpoints', () => {
    const p = problems(
      (s) =>
        (s.services = [
          {
            name: 'web',
            type: 'LoadBalancer',
            clusterIP: '172.20.0.10',
            ports: [{ port: 80, targetPort: 8080 }],
            externalTrafficPolicy: 'Local',
            endpoints: ['nope'],
          },
        ]),
    );
    expect(p).to.include(
      'services[0].ports[0].nodePort: a LoadBalancer Service needs a nodePort (30000-32767) (got (missing))',
    );
    expect(p.join('\n')).to.match(
      /healthCheckNodePort: a LoadBalancer Service with externalTrafficPolicy Local needs one/,
    );
    expect(p).to.include('services[0].endpoints[0]: names no pod (got "nope")');
  });

  it('checks load balancers: zones, public addresses, target groups', () => {
    const p = problems(
      (s) =>
        (s.loadBalancers = [
          {
            name: 'lb',
            scheme: 'internet-facing',
            nodes: [{ zone: 'a', address: '10.0.1.100' }],
            listeners: [{ port: 80, targetGroup: 'missing' }],
            targetGroups: [{ name: 'tg', targetType: 'ip', targets: [{ pod: 'p1', port: 8080 }] }],
          },
        ]),
    );
    expect(p).to.include(
      'loadBalancers[0].nodes[0].publicAddress: an internet-facing NLB node needs one (got (missing))',
    );
    expect(p).to.include(
      'loadBalancers[0].listeners[0].targetGroup: names no target group of this NLB (got "missing")',
    );
  });

  it('applies AWS defaults for client IP preservation per target type', () => {
    const s = baseSpec();
    s.services = [
      {
        name: 'web',
        type: 'NodePort',
        clusterIP: '172.20.0.10',
        ports: [{ name: 'http', port: 80, targetPort: 8080, nodePort: 30080 }],
        endpoints: ['p1'],
      },
    ];
    s.loadBalancers = [
      {
        name: 'lb',
        nodes: [{ zone: 'a', address: '10.0.1.100' }],
        listeners: [
          { port: 80, targetGroup: 'inst' },
          { port: 81, targetGroup: 'ip' },
        ],
        targetGroups: [
          { name: 'inst', targetType: 'instance', service: 'default/web:http' },
          { name: 'ip', targetType: 'ip', service: 'default/web:http' },
        ],
      },
    ];
    const t = validateTopology(s);
    const [inst, ip] = t.loadBalancers[0]!.targetGroups;
    expect(inst!.preserveClientIp).to.equal(true);
    expect(inst!.targets.map((x) => x.id)).to.deep.equal(['node/n1:30080', 'node/n2:30080']);
    expect(ip!.preserveClientIp).to.equal(false);
    expect(ip!.targets.map((x) => x.id)).to.deep.equal(['pod/p1:8080']);
  });

  it('rejects addresses no host can have: loopback, multicast, link-local (the pod gateway), reserved', () => {
    for (const [address, re] of [
      ['127.0.0.1', /loopback/],
      ['224.0.0.1', /multicast/],
      ['169.254.1.1', /link-local .*pod gateway 169\.254\.1\.1/],
      ['0.0.0.1', /"this network"/],
      ['255.255.255.255', /reserved .*limited broadcast/],
    ] as const) {
      const p = problems((s) => (s.pods![0]!.address = address));
      expect(p.join('\n'), address).to.match(new RegExp(`^pods\\[0\\]\\.address: is ${re.source}`, 'm'));
    }
    const client = problems((s) => (s.internet = { clients: [{ name: 'c', address: '127.0.0.2' }] }));
    expect(client.join('\n')).to.match(/internet\.clients\[0\]\.address: is loopback/);
    const vpc = problems((s) => (s.vpc.cidrs = ['10.0.0.0/16', '169.254.0.0/16']));
    expect(vpc.join('\n')).to.match(/vpc\.cidrs\[1\]: overlaps link-local/);
  });

  it('rejects sysctls.other keys and values sysctl cannot take, naming the key', () => {
    const bad: [string, unknown, RegExp][] = [
      ['net.ipv4..tcp_syn_retries', 1, /no empty part/],
      ['net.ipv4.tcp_syn_retries.', 1, /no empty part/],
      ['kernel.pid_max', 1, /net\.ipv4\/net\.netfilter\/net\.core key/],
      ['net.ipv4.tcp_syn_retries', 1.5, /must be an integer/],
      ['net.ipv4.tcp_syn_retries', '3\nnet.ipv4.ip_forward=0', /no newline or control character/],
      ['net.ipv4.tcp_syn_retries', '3;reboot', /numbers or words separated by spaces/],
    ];
    for (const [key, value, re] of bad) {
      const p = problems(
        (s) => ((s.nodes[0] as Record<string, unknown>)['sysctls'] = { other: { [key]: value } }),
      );
      expect(p.join('\n'), `${key}=${String(value)}`).to.match(re);
      expect(p.join('\n')).to.contain('nodes[0].sysctls.other');
    }
    const ok = problems(
      (s) =>
        ((s.nodes[0] as Record<string, unknown>)['sysctls'] = {
          other: { 'net.ipv4.ip_local_port_range': '1024\t65000', 'net.ipv4.ip_local_reserved_ports': '' },
        }),
    );
    expect(ok).to.deep.equal([]);
  });

  it("takes kube-proxy's local-traffic detector from cluster.kubeProxy.detectLocal, none (EKS) by default", () => {
    expect(validateTopology(baseSpec()).kubeProxy).to.deep.equal({ detectLocal: 'none' });
    const s = { ...baseSpec(), cluster: { kubeProxy: { detectLocal: 'clusterCIDR' as const } } };
    expect(validateTopology(s).kubeProxy).to.deep.equal({ detectLocal: 'clusterCIDR' });
    expect(
      problems(
        (x) => ((x as Record<string, unknown>)['cluster'] = { kubeProxy: { detectLocal: 'nodeCIDR' } }),
      ),
    ).to.have.length(1);
    expect(
      problems(
        (x) => ((x as Record<string, unknown>)['cluster'] = { kubeProxy: { detectLocal: 'nodeCIDR' } }),
      )[0],
    ).to.match(/^cluster\.kubeProxy\.detectLocal: .*none.*clusterCIDR/);
  });
});
