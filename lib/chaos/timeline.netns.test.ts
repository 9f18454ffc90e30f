/** Integration: chaos timelines on real namespaces (issue 7). */
import { expect } from 'chai';
import { LabAgents } from '../lab/agents.js';
import { labContributors } from '../lab/contributors.js';
import { Lab } from '../lab/lab.js';
import { requireLab } from '../lab/test-support.js';
import { validateTopology } from '../model/topology.js';
import { labChaosContext, type ChaosContext } from './fault.js';
import { diffFingerprint, fingerprint, formatDifferences } from './fingerprint.js';
import { conntrackFlush, delay, rpFilter } from './faults/index.js';
import { FaultLedger } from './ledger.js';
import { CLIENT, NLB_HOST, VIP, chaosTopology } from './test-topology.js';
import { TimelineError, runTimeline } from './timeline.js';

describe('chaos: timelines (real namespaces)', function () {
  this.timeout(30_000);
  let lab: Lab;
  let ctx: ChaosContext;

  before(async function () {
    requireLab(this);
    lab = await Lab.up(validateTopology(chaosTopology()), { contributors: labContributors() });
    const agents = new LabAgents(lab);
    ctx = labChaosContext(lab, { agents });
    await agents.serve(['web-1', 'web-2'], 8080);
    // Let the NLB's health checks see the servers (otherwise it fails open, which works too).
    await new Promise((r) => setTimeout(r, 800));
  });
  after(async () => lab?.down());

  it('rp_filter flipped mid-run: failures only inside the window, recovery right after revert', async () => {
    const before = await fingerprint(lab.host('node-1'));
    const t = await runTimeline({
      ctx,
      client: CLIENT,
      target: { host: VIP, port: 80 },
      durationMs: 2000,
      batch: { attempts: 5, everyMs: 50, deadlineMs: 200 },
      // Heartbeats stop being answered for the 700 ms of the window: a 300 ms reply timeout sees it
      // (the default, 2 s, waits out a busy machine instead).
      longLived: { connections: 3, intervalMs: 100, replyTimeoutMs: 300 },
      faults: [{ atMs: 500, durationMs: 700, fault: rpFilter('node-1', 'eth1', 1) }],
    });
    const m = t.metrics;
    console.log(
      `      ${t.samples.length} attempts; window ${JSON.stringify(t.windows[0])}; ` +
        `failure rate inside ${m['failureRateInside']?.toFixed(2)}, outside ${m['failureRateOutside']}; ` +
        `windowMs ${m['windowMs']}, recoveryMs ${m['recoveryMs']}, first failure +${m['firstFailureMs']} ms`,
    );
    expect(t.windows.map((w) => w.label)).to.deep.equal(['rp_filter=1 on node-1/eth1']);
    const w = t.windows[0]!;
    expect(w.from).to.be.at.least(500).and.lessThan(600);
    expect(w.to).to.be.greaterThan(w.from);
    expect(t.samples.length).to.be.greaterThan(100);
    expect(m['failureRateOutside']).to.equal(0);
    expect(m['failureRateInside']).to.be.greaterThan(0.5);
    expect(m['windowMs']).to.be.greaterThan(0);
    expect(m['recoveryMs']).to.not.equal(null);
    expect(
      t.samples.filter((s) => s.outcome !== 'connected').every((s) => s.t + s.ms >= w.from && s.t <= w.to),
    ).to.equal(true);
    expect(t.longLived).to.deep.equal({ 'll-0': 'timeout', 'll-1': 'timeout', 'll-2': 'timeout' });
    expect(m['longLived.ll-0.diedMs']).to.be.greaterThan(w.from);
    const diffs = diffFingerprint(before, await fingerprint(lab.host('node-1')));
    expect(diffs, formatDifferences(diffs)).to.deep.equal([]);
  });

  it('two windows: a conntrack flush resets the long-lived connections, a later rp_filter flip times out new ones', async () => {
    const t = await runTimeline({
      ctx,
      client: CLIENT,
      target: { host: VIP, port: 81 },
      durationMs: 1600,
      batch: { attempts: 4, everyMs: 50, deadlineMs: 200 },
      longLived: { connections: 2, intervalMs: 100 },
      faults: [
        { atMs: 300, durationMs: 100, fault: conntrackFlush(NLB_HOST) },
        // conf/all=1 would not do: the kernel uses max(all, eth1) and eth1 is 2 (loose).
        { atMs: 800, durationMs: 400, fault: rpFilter('node-1', 'eth1', 1) },
      ],
    });
    expect(t.windows.map((w) => w.label)).to.deep.equal([
      'conntrack flushed on nlb/web-nlb/az-a',
      'rp_filter=1 on node-1/eth1',
    ]);
    // None survives; the client usually sees the NLB's RST, and rarely (an RST racing the echo the
    // target had in flight) the socket ends without an error.
    const ends = Object.values(t.longLived ?? {});
    expect(ends).to.have.length(2);
    expect(
      ends.every((e) => e === 'reset' || e === 'closed'),
      JSON.stringify(t.longLived),
    ).to.equal(true);
    expect(ends).to.include('reset');
    // A handshake in flight when the NLB node forgets it fails too: the client's ACK draws a RST
    // (reset), or the target's SYN-ACK does and the client waits for it (timeout).
    const w0 = t.windows[0]!;
    const hit = t.samples.filter((x) => x.t <= w0.to && x.t + x.ms >= w0.from && x.outcome !== 'connected');
    console.log(
      `      flush window: ${t.metrics['w0.attempts']} attempts, failed: ${hit.map((x) => x.outcome).join(' ') || 'none'}`,
    );
    expect(hit.every((x) => x.outcome === 'reset' || x.outcome === 'timeout')).to.equal(true);
    // Listener 81 spreads over web-1 (node-1, hit by rp_filter) and web-2.
    expect(t.metrics['w1.failureRate']).to.be.greaterThan(0);
    expect(t.metrics['w1.recoveryMs']).to.not.equal(null);
  });

  it('a fault that cannot be applied stops the run and everything applied is reverted', async () => {
    const client = lab.host(CLIENT);
    const before = await fingerprint(client);
    const ledger = new FaultLedger(ctx);
    const err = await runTimeline({
      ctx,
      ledger,
      client: CLIENT,
      target: { host: VIP, port: 81 },
      durationMs: 1500,
      batch: { attempts: 2, everyMs: 50 },
      faults: [
        {
          atMs: 100,
          durationMs: 1000,
          fault: delay(`internet/${CLIENT}`, 'eth0', { rate: '1mbit', latencyMs: 50 }),
        },
        // A second root qdisc on the same link cannot be restored exactly, so it refuses.
        {
          atMs: 300,
          durationMs: 200,
          fault: delay(`internet/${CLIENT}`, 'eth0', { rate: '2mbit', latencyMs: 50 }),
        },
      ],
    }).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(err).to.be.instanceOf(TimelineError);
    expect((err as TimelineError).message).to.match(/already has a tbf root qdisc/);
    const partial = (err as TimelineError).timeline;
    expect(partial.samples.length).to.be.greaterThan(0);
    expect(partial.samples[partial.samples.length - 1]!.t).to.be.lessThan(1000);
    expect(ledger.active).to.deep.equal([]);
    const diffs = diffFingerprint(before, await fingerprint(client));
    expect(diffs, formatDifferences(diffs)).to.deep.equal([]);
  });

  it('rejects a schedule that outlasts the traffic', async () => {
    const err = await runTimeline({
      ctx,
      client: CLIENT,
      target: { host: VIP, port: 81 },
      durationMs: 500,
      faults: [{ atMs: 400, durationMs: 200, fault: rpFilter('node-1', 'eth1', 1) }],
    }).then(
      () => undefined,
      (e: Error) => e,
    );
    expect(err?.message).to.match(/faults\[0\]: must be reverted before the traffic ends/);
  });
});
