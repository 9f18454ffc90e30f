/**
 * Integration: faults on the NLB path (issue 7), each applied while probing, reverted, and the
 * touched namespaces' fingerprints compared with those taken before.
 */
import { expect } from 'chai';
import { deltaOf } from '../evidence/counters.js';
import { measure } from '../evidence/probe.js';
import { LabAgents } from '../lab/agents.js';
import { labContributors } from '../lab/contributors.js';
import { Lab } from '../lab/lab.js';
import { requireLab } from '../lab/test-support.js';
import { validateTopology } from '../model/topology.js';
import type { NlbControl } from '../nlb/control.js';
import { labChaosContext, type ChaosContext } from './fault.js';
import { formatDifferences } from './fingerprint.js';
import {
  conntrackFlush,
  delay,
  deregister,
  nlbNodeLoss,
  packetLoss,
  rpFilter,
  sourcePortExhaustion,
  targetUnhealthy,
} from './faults/index.js';
import { exercise } from './test-helpers.js';
import { until } from '../timing/deadline.js';
import { formatAttempt } from '../traffic/probe-cli.js';
import { CLIENT, LB, NLB_HOST, VIP, WEB1, WEB2, chaosTopology } from './test-topology.js';

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** Waits until every target the NLB node checks is healthy (servers started after its first round). */
async function waitHealthy(nlb: NlbControl, timeoutMs = 5000): Promise<void> {
  const end = Date.now() + timeoutMs;
  for (;;) {
    const [s] = await nlb.status();
    const targets = (s?.['targets'] as { healthy: boolean }[] | undefined) ?? [];
    if (targets.length > 0 && targets.every((t) => t.healthy)) return;
    if (Date.now() > end)
      throw new Error(`targets not healthy after ${timeoutMs} ms: ${JSON.stringify(targets)}`);
    await sleep(100);
  }
}

describe('chaos: NLB path faults (real namespaces)', function () {
  this.timeout(30_000);
  let lab: Lab;
  let agents: LabAgents;
  let ctx: ChaosContext;

  before(async function () {
    requireLab(this);
    lab = await Lab.up(validateTopology(chaosTopology()), { contributors: labContributors() });
    agents = new LabAgents(lab);
    ctx = labChaosContext(lab, { agents });
    await agents.serve(['web-1', 'web-2'], 8080);
    await waitHealthy(ctx.nlb(LB));
  });
  after(async () => lab?.down());

  const probe = async (
    port: number,
    attempts = 10,
    extra: { deadlineMs?: number; concurrency?: number } = {},
  ) =>
    (await agents.get(CLIENT)).probe({ kind: 'tcp', host: VIP, port, attempts, deadlineMs: 300, ...extra });
  const servers = (r: Awaited<ReturnType<typeof probe>>): string[] =>
    [...new Set(r.attempts.map((a) => a.server).filter((s): s is string => s !== undefined))].sort();

  it('rp_filter=1 on the secondary ENI: internet -> NLB -> pod on eth1 times out, counted as rp_filter drops', async () => {
    expect((await probe(80)).counts.connected).to.equal(10);
    const fault = rpFilter('node-1', 'eth1', 1);
    const ex = await exercise(ctx, fault, () =>
      measure([lab.host('node-1')], () => probe(80), { rules: false }),
    );
    expect(ex.during.result.counts.timeout, ex.during.result.reproduce).to.equal(10);
    expect(deltaOf(ex.during.deltas[0]!.counters, 'TcpExt.IPReversePathFilter')).to.be.greaterThan(0);
    expect(ex.diffs, formatDifferences(ex.diffs)).to.deep.equal([]);
    expect((await probe(80)).counts.connected).to.equal(10);
  });

  it('NLB node lost: new connections and long-lived ones time out; back, it serves again', async () => {
    const agent = await agents.get(CLIENT);
    const held = await agent.longLived({
      host: VIP,
      port: 81,
      connections: 2,
      intervalMs: 100,
      replyTimeoutMs: 300,
    });
    const fault = nlbNodeLoss(LB, 'az-a');
    const ex = await exercise(
      ctx,
      fault,
      async () => {
        const r = await probe(81, 5);
        // Until both held connections have ended (a condition, not a sleep: a busy machine is slow).
        await until(
          'held connections ended',
          () => held.status(),
          (s) => s.connections.every((c) => c.state !== 'open'),
        );
        return { r, held: await held.stop() };
      },
      // Not the NLB node: its listener chains follow its health checks, which recover on their own.
    );
    expect(ex.during.r.counts.timeout, ex.during.r.reproduce).to.equal(5);
    expect(ex.during.held.connections.map((c) => c.state)).to.deep.equal(['timeout', 'timeout']);
    expect(ex.diffs, formatDifferences(ex.diffs)).to.deep.equal([]);
    expect(fault.commands.join('\n')).to.match(
      /iptables-restore -w --noflush <<'EOF'\n\*raw\n:RPCHAOS-NLBLOSS-/,
    );
    // Back, its health checks recover the targets (a round still failing could reset fresh flows).
    await waitHealthy(ctx.nlb(LB));
    expect((await probe(81)).counts.connected).to.equal(10);
  });

  it('target unhealthy: its connections are reset, new ones go elsewhere; alone in its group it fails open', async () => {
    const agent = await agents.get(CLIENT);
    const held = await agent.longLived({ host: VIP, port: 81, connections: 12, intervalMs: 100 });
    const onWeb1 = held.opened.connections.filter((c) => c.connect.server === 'pod/web-1').length;
    expect(onWeb1, 'some held connections reach web-1').to.be.greaterThan(0);
    const ex = await exercise(ctx, targetUnhealthy(LB, WEB1), async () => {
      // Until web-1's connections have seen their reset (each heartbeat draws it).
      await until(
        "web-1's held connections ended",
        () => held.status(),
        (s) => s.connections.filter((c) => c.connect.server === 'pod/web-1').every((c) => c.state !== 'open'),
      );
      const report = await held.stop();
      return { report, both: await probe(81, 20), alone: await probe(80, 5) };
    });
    const states = (server: string): string[] => [
      ...new Set(ex.during.report.connections.filter((c) => c.connect.server === server).map((c) => c.state)),
    ];
    expect(states('pod/web-1')).to.deep.equal(['reset']);
    expect(states('pod/web-2')).to.deep.equal(['survived']);
    expect(servers(ex.during.both)).to.deep.equal(['pod/web-2']);
    expect(ex.during.alone.counts.connected).to.equal(5);
    expect(ex.diffs, formatDifferences(ex.diffs)).to.deep.equal([]);
    expect(servers(await probe(81, 40))).to.deep.equal(['pod/web-1', 'pod/web-2']);
  });

  it('deregistered target: no new flows until registered again', async () => {
    const ex = await exercise(ctx, deregister(LB, WEB2), () => probe(81, 20));
    expect(ex.during.counts.connected).to.equal(20);
    expect(servers(ex.during)).to.deep.equal(['pod/web-1']);
    expect(ex.diffs, formatDifferences(ex.diffs)).to.deep.equal([]);
    expect(servers(await probe(81, 40))).to.deep.equal(['pod/web-1', 'pod/web-2']);
  });

  it('conntrack flush on the NLB node resets every established flow through it; new ones connect', async () => {
    const agent = await agents.get(CLIENT);
    const held = await agent.longLived({ host: VIP, port: 81, connections: 4, intervalMs: 100 });
    const ex = await exercise(ctx, conntrackFlush(NLB_HOST), async () => {
      await until(
        'held connections ended',
        () => held.status(),
        (s) => s.connections.every((c) => c.state !== 'open'),
      );
      return { report: await held.stop(), fresh: await probe(81, 10) };
    });
    expect(ex.during.report.connections.map((c) => c.state)).to.deep.equal([
      'reset',
      'reset',
      'reset',
      'reset',
    ]);
    expect(ex.during.fresh.counts.connected).to.equal(10);
    expect(ex.diffs, formatDifferences(ex.diffs)).to.deep.equal([]);
  });

  it('packet loss on the client link: attempts fail at random; none after revert', async () => {
    const ex = await exercise(ctx, packetLoss(`internet/${CLIENT}`, 'eth0', 0.5), () => probe(81, 40));
    const failed = 40 - ex.during.counts.connected;
    console.log(
      `      50% loss both ways: ${failed}/40 attempts failed (${JSON.stringify(ex.during.counts)})`,
    );
    expect(failed).to.be.greaterThan(10);
    expect(ex.diffs, formatDifferences(ex.diffs)).to.deep.equal([]);
    expect((await probe(81, 40)).counts.connected).to.equal(40);
  });

  it('tbf on the client link: concurrent handshakes queue behind the token rate', async () => {
    const fault = delay(`internet/${CLIENT}`, 'eth0', { rate: '32kbit', burstBytes: 200, latencyMs: 1000 });
    const mean = (r: Awaited<ReturnType<typeof probe>>): number =>
      r.attempts.reduce((s, a) => s + (a.connectMs ?? a.ms), 0) / r.attempts.length;
    const ex = await exercise(ctx, fault, async () => {
      const r = await probe(81, 10, { deadlineMs: 2000, concurrency: 10 });
      const stats = await lab.host(CLIENT).run(['tc', '-s', '-j', 'qdisc', 'show', 'dev', 'eth0']);
      return { r, qdisc: JSON.parse(stats.stdout) as { kind: string; overlimits?: number }[] };
    });
    const after = await probe(81, 10, { deadlineMs: 2000, concurrency: 10 });
    console.log(
      `      mean connect ${mean(ex.during.r).toFixed(1)} ms under tbf, ${mean(after).toFixed(1)} ms after`,
    );
    expect(ex.during.r.counts.connected).to.equal(10);
    const tbf = ex.during.qdisc.find((q) => q.kind === 'tbf');
    expect(tbf?.overlimits, 'packets waited for tokens').to.be.greaterThan(0);
    expect(ex.diffs, formatDifferences(ex.diffs)).to.deep.equal([]);
  });

  it('source port exhaustion: connects to the held destination fail with EADDRNOTAVAIL; others still work', async () => {
    const fault = sourcePortExhaustion(CLIENT, { range: [40000, 40007], hold: { host: VIP, port: 81 } });
    const ex = await exercise(ctx, fault, async () => ({
      same: await probe(81, 5),
      other: await probe(80, 3),
    }));
    // Which held connection did not open, and how its connect ended.
    const notOpen = fault
      .opened!.connections.filter((c) => c.state !== 'open')
      .map((c) => `#${c.index} ${c.state}: ${formatAttempt(c.connect)}`);
    expect(notOpen, 'every held connection opens').to.deep.equal([]);
    expect(ex.during.same.counts.other).to.equal(5);
    expect(new Set(ex.during.same.attempts.map((a) => a.errno))).to.deep.equal(new Set(['EADDRNOTAVAIL']));
    expect(ex.during.other.counts.connected).to.equal(3);
    expect(ex.diffs, formatDifferences(ex.diffs)).to.deep.equal([]);
    expect((await probe(81, 5)).counts.connected).to.equal(5);
  });
});
