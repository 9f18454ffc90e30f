/** Integration: the emulated NLB on real namespaces (issue 3). */
import { expect } from 'chai';
import { whoSentResets } from '../evidence/attribution.js';
import { measure } from '../evidence/probe.js';
import { LabAgents } from '../lab/agents.js';
import { labContributors } from '../lab/contributors.js';
import { dumpLab } from '../cli/lab-dump.js';
import { Lab } from '../lab/lab.js';
import { requireLab } from '../lab/test-support.js';
import type { TopologyInput } from '../model/schema.js';
import { validateTopology } from '../model/topology.js';
import { judge, tally } from '../verdict/index.js';
import { NlbControl } from './control.js';
import { expectedHealth } from '../scenario/derive.js';
import { until } from '../timing/deadline.js';

// Three misses before unhealthy: a check delayed on a busy machine must not flip a healthy target.
const hc = { intervalSeconds: 0.3, timeoutSeconds: 0.25, healthyThreshold: 2, unhealthyThreshold: 3 };
const instanceTargets = [{ node: 'a1' }, { node: 'a2' }, { node: 'b1' }];

function spec(): TopologyInput {
  return {
    apiVersion: 'returnpath/v1',
    kind: 'Topology',
    metadata: { name: 'nlb-test' },
    vpc: {
      cidrs: ['10.1.0.0/16'],
      zones: [
        { name: 'a', subnets: [{ name: 'sa', cidr: '10.1.1.0/24' }] },
        { name: 'b', subnets: [{ name: 'sb', cidr: '10.1.2.0/24' }] },
      ],
    },
    defaults: { cni: { profile: 'vpc-cni' } },
    nodes: [
      { name: 'a1', subnet: 'sa', enis: [{ name: 'eth0', address: '10.1.1.10' }] },
      { name: 'a2', subnet: 'sa', enis: [{ name: 'eth0', address: '10.1.1.11' }] },
      { name: 'a3', subnet: 'sa', enis: [{ name: 'eth0', address: '10.1.1.12' }] },
      { name: 'b1', subnet: 'sb', enis: [{ name: 'eth0', address: '10.1.2.10' }] },
    ],
    pods: [
      { name: 'web-a1', node: 'a1', address: '10.1.1.50' },
      { name: 'web-a2', node: 'a2', address: '10.1.1.51' },
      { name: 'web-b1', node: 'b1', address: '10.1.2.50' },
      { name: 'client', node: 'a1', address: '10.1.1.123' },
      { name: 'probe', node: 'a3', address: '10.1.1.124' },
    ],
    services: [
      {
        name: 'web',
        type: 'LoadBalancer',
        clusterIP: '172.20.0.10',
        ports: [{ name: 'http', port: 80, targetPort: 8080, nodePort: 30080 }],
        endpoints: ['web-a1', 'web-a2', 'web-b1'],
      },
      {
        name: 'web-local',
        type: 'LoadBalancer',
        clusterIP: '172.20.0.11',
        ports: [{ name: 'http', port: 80, targetPort: 8080, nodePort: 30081 }],
        externalTrafficPolicy: 'Local',
        healthCheckNodePort: 32081,
        endpoints: ['web-a2'],
      },
    ],
    loadBalancers: [
      {
        name: 'nlb',
        nodes: [
          { zone: 'a', address: '10.1.1.100' },
          { zone: 'b', address: '10.1.2.100' },
        ],
        listeners: [
          { port: 80, targetGroup: 'inst' },
          { port: 81, targetGroup: 'inst-local' },
          { port: 82, targetGroup: 'ip-preserve' },
          { port: 83, targetGroup: 'ip' },
          { port: 84, targetGroup: 'idle', idleTimeoutSeconds: 2 },
          { port: 85, targetGroup: 'inst-nopreserve' },
        ],
        targetGroups: [
          {
            name: 'inst',
            targetType: 'instance',
            service: 'default/web:http',
            targets: instanceTargets.map((t) => ({ ...t, port: 30080 })),
            healthCheck: hc,
          },
          {
            name: 'inst-local',
            targetType: 'instance',
            service: 'default/web-local:http',
            targets: instanceTargets.map((t) => ({ ...t, port: 30081 })),
            healthCheck: { ...hc, port: 32081, protocol: 'HTTP' },
          },
          {
            name: 'ip-preserve',
            targetType: 'ip',
            service: 'default/web:http',
            preserveClientIp: true,
            healthCheck: hc,
          },
          { name: 'ip', targetType: 'ip', service: 'default/web:http', healthCheck: hc },
          { name: 'idle', targetType: 'ip', targets: [{ pod: 'web-a2', port: 8080 }], healthCheck: hc },
          {
            name: 'inst-nopreserve',
            targetType: 'instance',
            preserveClientIp: false,
            targets: instanceTargets.map((t) => ({ ...t, port: 30080 })),
            healthCheck: hc,
          },
        ],
      },
    ],
  };
}

const ip = (peer: string | undefined): string | undefined =>
  peer?.replace(/^::ffff:/, '').replace(/:\d+$/, '');

describe('emulated NLB (real namespaces)', function () {
  this.timeout(60_000);
  let lab: Lab;
  let agents: LabAgents;
  let nlb: NlbControl;

  before(async function () {
    requireLab(this);
    lab = await Lab.up(validateTopology(spec()), { contributors: labContributors() });
    nlb = NlbControl.of(lab, 'nlb');
    agents = new LabAgents(lab);
    await agents.serve(['web-a1', 'web-a2', 'web-b1'], 8080);
    // Servers were started after the agents' first round: wait until every NLB node reports the
    // health the topology implies (a condition, however long a busy machine takes to get there).
    const settled = await nlb.settle(expectedHealth(lab.topology), { maxRounds: 50 });
    expect(settled.reached, settled.mismatches.join('; ')).to.equal(true);
  });
  after(async () => lab?.down());

  const probe = async (from: string, port: number, host = '10.1.1.100', attempts = 40) =>
    (await agents.get(from)).probe({ kind: 'tcp', host, port, attempts, deadlineMs: 400 });

  it('ip targets: the server sees the client with client IP preservation on', async () => {
    const r = await probe('probe', 82);
    expect(r.counts.connected, r.reproduce).to.equal(40);
    expect(new Set(r.attempts.map((a) => ip(a.peer)))).to.deep.equal(new Set(['10.1.1.124']));
  });

  it('ip targets: the server sees the NLB node with preservation off (the default)', async () => {
    const r = await probe('probe', 83);
    expect(r.counts.connected, r.reproduce).to.equal(40);
    expect(new Set(r.attempts.map((a) => ip(a.peer)))).to.deep.equal(new Set(['10.1.1.100']));
  });

  it('cross-zone off keeps each NLB node on the targets of its zone', async () => {
    const a = await probe('probe', 83, '10.1.1.100', 60);
    const b = await probe('probe', 83, '10.1.2.100', 30);
    expect(new Set(a.attempts.map((x) => x.server))).to.deep.equal(new Set(['pod/web-a1', 'pod/web-a2']));
    expect(new Set(b.attempts.map((x) => x.server))).to.deep.equal(new Set(['pod/web-b1']));
  });

  it('instance targets, Cluster policy: all connect, the server sees a node address', async () => {
    const r = await probe('probe', 80);
    expect(r.counts.connected, r.reproduce).to.equal(40);
    for (const a of r.attempts) expect(['10.1.1.10', '10.1.1.11', '10.1.2.10']).to.include(ip(a.peer));
  });

  it('instance targets, Local policy: HTTP health checks keep only the node with an endpoint; the server sees the client', async () => {
    // A check lost to a busy machine flips a target for a round or two: read the state once it is stable.
    const healthyLocal = async (): Promise<string[]> => {
      const status = await nlb.status();
      return (status[0]!['targets'] as { key: string; healthy: boolean }[])
        .filter((t) => t.key.startsWith('81/') && t.healthy)
        .map((t) => t.key);
    };
    let healthy = await healthyLocal();
    for (let i = 0; i < 20 && healthy.join() !== '81/node/a2:30081'; i++) {
      await new Promise((r) => setTimeout(r, 150));
      healthy = await healthyLocal();
    }
    expect(healthy).to.deep.equal(['81/node/a2:30081']);
    const r = await probe('probe', 81);
    expect(r.counts.connected, r.reproduce).to.equal(40);
    expect(new Set(r.attempts.map((a) => ip(a.peer)))).to.deep.equal(new Set(['10.1.1.124']));
  });

  it('an unhealthy target gets no new flows and its open connections are reset', async () => {
    const agent = await agents.get('probe');
    const held = await agent.longLived({ host: '10.1.1.100', port: 83, connections: 12, intervalMs: 100 });
    const onA1 = held.opened.connections.filter((c) => c.connect.server === 'pod/web-a1').length;
    expect(onA1, 'some held connections reach web-a1').to.be.greaterThan(0);
    // Health checks (from the NLB node's address) fail; established flows are untouched by this rule.
    const pod = lab.host('web-a1');
    const block = ['-s', '10.1.1.100', '-p', 'tcp', '--syn', '--dport', '8080', '-j', 'DROP'];
    const [a] = await nlb.status();
    const web1 = (a!['targets'] as { key: string; healthy: boolean }[]).filter((t) =>
      t.key.endsWith('/pod/web-a1:8080'),
    );
    expect(
      web1.every((t) => t.healthy),
      `web-a1 healthy before the block: ${JSON.stringify(web1)}`,
    ).to.equal(true);
    const since = performance.now();
    await pod.run(['iptables', '-I', 'INPUT', ...block]);
    try {
      await nlb.waitFor(
        'nlb/nlb/a',
        (e) => e.event === 'reset' && e['target'] === 'pod/web-a1:8080',
        undefined,
        since,
      );
      // Until every connection to web-a1 has seen its reset (each heartbeat draws one).
      await until(
        "web-a1's held connections ended",
        () => held.status(),
        (r) =>
          r.connections.filter((c) => c.connect.server === 'pod/web-a1').every((c) => c.state !== 'open'),
      );
      const report = await held.stop();
      const byServer = (s: string) => report.connections.filter((c) => c.connect.server === s);
      expect(byServer('pod/web-a1').every((c) => c.state === 'reset')).to.equal(true);
      expect(byServer('pod/web-a2').every((c) => c.state === 'survived')).to.equal(true);
      const r = await probe('probe', 83);
      expect(new Set(r.attempts.map((a) => a.server))).to.deep.equal(new Set(['pod/web-a2']));
    } finally {
      await pod.run(['iptables', '-D', 'INPUT', ...block]);
    }
  });

  it('after the idle timeout, the next packet is answered with a reset', async function () {
    const agent = await agents.get('probe');
    const held = await agent.longLived({ host: '10.1.1.100', port: 84, connections: 2, intervalMs: 3000 });
    // The heartbeat after the 2 s idle timeout draws the NLB's reset: wait for it, however late it comes.
    await until(
      'both connections ended',
      () => held.status(),
      (r) => r.connections.every((c) => c.state !== 'open'),
    );
    const report = await held.stop();
    expect(report.connections.map((c) => c.state)).to.deep.equal(['reset', 'reset']);
  });

  it('hairpin: preservation on, a client pod on a target node times out at the share the topology implies', async () => {
    const topo = lab.topology;
    const client = topo.pods.find((p) => p.name === 'client')!;
    const tg = topo.loadBalancers[0]!.listeners.find((l) => l.port === 80)!.targetGroup;
    const inZone = tg.targets.filter((t) => t.zone === 'a');
    const share = inZone.filter((t) => t.name === client.node).length / inZone.length;
    expect(share).to.equal(0.5);

    const hosts = [lab.host('client'), lab.host('a1')];
    const m = await measure(hosts, () => probe('client', 80, '10.1.1.100', 200), { rules: false });
    const v = judge(
      { kind: 'rate', outcome: 'timeout', min: share - 0.15, max: share + 0.15 },
      tally(m.result.attempts.map((a) => a.outcome)),
    );
    expect(v.status, `${v.reason}; ${m.result.reproduce}`).to.equal('pass');
    expect(m.result.counts.timeout + m.result.counts.connected).to.equal(200);
    expect(whoSentResets(m.deltas).map((f) => f.host)).to.include('pod/client');
  });

  it('hairpin: with preservation off no connection fails', async () => {
    const r = await probe('client', 85, '10.1.1.100', 200);
    expect(r.counts.connected, r.reproduce).to.equal(200);
  });

  it('lab dump shows the NLB nodes rules and conntrack', async () => {
    const text = await dumpLab(lab, 'nlb/nlb/a');
    expect(text).to.match(
      /-A RP-NLB-L80 -p tcp -m mark --mark 0x1 -j DNAT --to-destination 10\.1\.1\.10:30080/,
    );
    expect(text).to.match(/src=10\.1\.1\.123 dst=10\.1\.1\.100 sport=\d+ dport=80 /);
  });
});
