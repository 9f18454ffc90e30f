/**
 * Integration: a TrafficAgent in each of two namespaces joined by a veth. Needs root and iproute2
 * (iptables for the timeout and long-lived reset cases); skipped with a reason otherwise.
 * Traffic only goes to addresses inside the namespaces created here.
 */
import { expect } from 'chai';
import { until } from '../timing/deadline.js';
import { CommandRunner } from '../exec/command.js';
import { Disposer } from '../lab/disposer.js';
import { fileURLToPath } from 'node:url';
import { probeCliArgv, TrafficAgent } from './agent.js';
import { createVethPair, vethPairUnavailable, type VethPair } from './veth-pair.js';

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

describe('traffic agent across a veth pair (netns)', function () {
  const runner = new CommandRunner();
  const disposer = new Disposer();
  let pair: VethPair;
  let client: TrafficAgent;
  let server: TrafficAgent;
  let iptables = true;

  before(async function () {
    const why = await vethPairUnavailable(runner);
    if (why) {
      console.log(`      skipped: ${why}`);
      this.skip();
    }
    pair = await createVethPair(runner);
    disposer.defer(`namespaces ${pair.nsA} ${pair.nsB}`, () => pair.destroy());
    client = await TrafficAgent.start(pair.a, { name: 'client' });
    disposer.defer('client agent', () => client.close());
    server = await TrafficAgent.start(pair.b, { name: 'server' });
    disposer.defer('server agent', () => server.close());
    try {
      await pair.b.run(['iptables', '-S', 'INPUT']);
    } catch {
      iptables = false;
    }
  });

  after(() => disposer.dispose());

  function needIptables(ctx: Mocha.Context): void {
    if (!iptables) ctx.skip();
  }

  it('connects, and the server reports the client address it saw', async () => {
    await server.startServer({ name: 'web', kind: 'tcp', port: 8080, host: pair.addrB });
    const r = await client.probe({ kind: 'tcp', host: pair.addrB, port: 8080, attempts: 20, concurrency: 4 });
    expect(r.counts.connected).to.equal(20);
    for (const a of r.attempts) {
      expect(a.server).to.equal('web');
      expect(a.peer).to.equal(`${pair.addrA}:${a.localPort}`);
      expect(a.serverLocal).to.equal(`${pair.addrB}:8080`);
    }
    expect(r.host).to.equal(pair.nsA);
    expect(r.reproduce).to.match(
      new RegExp(
        `^ip netns exec ${pair.nsA} \\S+node\\S* \\S+/probe-cli\\.js tcp ${pair.addrB} 8080 --deadline 300$`,
      ),
    );
  });

  it('answers HTTP and UDP with the same report', async () => {
    await server.startServer({ name: 'api', kind: 'http', port: 8090 });
    await server.startServer({ name: 'dns', kind: 'udp', port: 5353 });
    const http = await client.probe({ kind: 'http', host: pair.addrB, port: 8090, attempts: 5 });
    expect(http.counts.connected).to.equal(5);
    expect(http.attempts[0]).to.include({ server: 'api', status: 200 });
    expect(http.attempts[0]?.peer).to.match(new RegExp(`^${pair.addrA.replace(/\./g, '\\.')}:\\d+$`));
    const udp = await client.probe({ kind: 'udp', host: pair.addrB, port: 5353, attempts: 5 });
    expect(udp.counts.connected).to.equal(5);
    expect(udp.attempts[0]).to.include({
      server: 'dns',
      peer: `${pair.addrA}:${udp.attempts[0]?.localPort}`,
    });
  });

  it('classifies a port without listener as refused', async () => {
    const tcp = await client.probe({ kind: 'tcp', host: pair.addrB, port: 8081, attempts: 5 });
    expect(tcp.counts.refused).to.equal(5);
    expect(tcp.attempts[0]).to.include({ errno: 'ECONNREFUSED', phase: 'connect' });
    const udp = await client.probe({ kind: 'udp', host: pair.addrB, port: 5354, attempts: 3 });
    expect(udp.counts.refused).to.equal(3);
  });

  it('classifies a server that resets on accept as reset', async () => {
    await server.startServer({ name: 'rst', kind: 'reset', port: 8082 });
    const r = await client.probe({ kind: 'tcp', host: pair.addrB, port: 8082, attempts: 10 });
    expect(r.counts.reset).to.equal(10);
    expect(r.attempts[0]?.errno).to.equal('ECONNRESET');
  });

  it('classifies dropped SYNs as timeout at the deadline', async function () {
    needIptables(this);
    await server.startServer({ name: 'hole', kind: 'tcp', port: 8083 });
    await pair.b.run(['iptables', '-A', 'INPUT', '-p', 'tcp', '--dport', '8083', '-j', 'DROP']);
    const r = await client.probe({ kind: 'tcp', host: pair.addrB, port: 8083, attempts: 8, deadlineMs: 150 });
    expect(r.counts.timeout).to.equal(8);
    for (const a of r.attempts) {
      expect(a.phase).to.equal('connect');
      expect(a.ms).to.be.at.least(140);
      expect(a.localPort).to.be.a('number');
    }
  });

  it('classifies missing and unreachable routes as unreachable', async () => {
    await pair.a.run(['ip', 'route', 'add', 'unreachable', '10.99.9.0/24']);
    const unreachable = await client.probe({ kind: 'tcp', host: '10.99.9.9', port: 80, attempts: 3 });
    expect(unreachable.counts.unreachable).to.equal(3);
    expect(unreachable.attempts[0]?.errno).to.equal('EHOSTUNREACH');
    // The client namespace has only its connected /24: no route at all.
    const noRoute = await client.probe({ kind: 'tcp', host: '10.98.0.1', port: 80, attempts: 3 });
    expect(noRoute.counts.unreachable).to.equal(3);
    expect(noRoute.attempts[0]?.errno).to.equal('ENETUNREACH');
  });

  it('uses one fixed source port towards two destinations at once', async () => {
    const second = '10.99.0.3';
    await pair.b.run(['ip', 'addr', 'add', `${second}/24`, 'dev', 'v0']);
    await server.startServer({ name: 'web-any', kind: 'tcp', port: 8084 });
    const spec = { kind: 'tcp', port: 8084, localPort: 40123, holdMs: 200 } as const;
    const [one, two] = await Promise.all([
      client.probe({ ...spec, host: pair.addrB }),
      client.probe({ ...spec, host: second }),
    ]);
    for (const [r, dst] of [
      [one, pair.addrB],
      [two, second],
    ] as const) {
      expect(r.attempts[0]).to.include({ outcome: 'connected', localPort: 40123, held: 'survived' });
      expect(r.attempts[0]?.peer).to.equal(`${pair.addrA}:40123`);
      expect(r.attempts[0]?.serverLocal).to.equal(`${dst}:8084`);
    }
    expect(one.reproduce).to.contain('--local-port 40123');
  });

  it('cycles a source port range', async () => {
    const r = await client.probe({
      kind: 'tcp',
      host: pair.addrB,
      port: 8080,
      attempts: 6,
      concurrency: 3,
      localPortRange: [41000, 41002],
      close: 'rst',
    });
    expect(r.counts.connected).to.equal(6);
    expect(r.attempts.map((a) => a.localPort)).to.deep.equal([41000, 41001, 41002, 41000, 41001, 41002]);
    expect(r.attempts.map((a) => a.peer)).to.deep.equal(
      r.attempts.map((a) => `${pair.addrA}:${a.localPort}`),
    );
  });

  it('repeats attempts from one fixed source port to the same destination', async () => {
    const r = await client.probe({
      kind: 'tcp',
      host: pair.addrB,
      port: 8080,
      attempts: 4,
      concurrency: 1,
      localPort: 41100,
    });
    expect(r.attempts.map((a) => a.outcome)).to.deep.equal([
      'connected',
      'connected',
      'connected',
      'connected',
    ]);
  });

  it('redoes an attempt with the probe CLI', async () => {
    const cli = fileURLToPath(new URL('./probe-cli.js', import.meta.url));
    const spec = { kind: 'tcp', host: pair.addrB, port: 8080, deadlineMs: 300 } as const;
    const ok = await pair.a.run(probeCliArgv([process.execPath, cli], spec));
    expect(ok.stdout).to.match(
      new RegExp(`^#0 connected .*server=web server-saw=${pair.addrA.replace(/\./g, '\\.')}:\\d+ `),
    );
    const refused = await pair.a.run(probeCliArgv([process.execPath, cli], { ...spec, port: 8081 }), {
      allowFailure: true,
    });
    expect(refused.code).to.equal(1);
    expect(refused.stdout).to.contain('refused phase=connect errno=ECONNREFUSED');
  });

  it('keeps long-lived connections and reports the survivors', async () => {
    const session = await client.longLived({ host: pair.addrB, port: 8080, connections: 3, intervalMs: 50 });
    expect(session.opened.connections.map((c) => c.state)).to.deep.equal(['open', 'open', 'open']);
    await until(
      'three echoes on each',
      () => session.status(),
      (r) => r.connections.every((c) => c.replies >= 3),
    );
    const report = await session.stop();
    for (const c of report.connections) {
      expect(c.state).to.equal('survived');
      expect(c.replies).to.be.at.least(3);
    }
  });

  it('reports long-lived connections killed by a reset, with timestamps', async function () {
    needIptables(this);
    await server.startServer({ name: 'long', kind: 'tcp', port: 8085 });
    const session = await client.longLived({ host: pair.addrB, port: 8085, connections: 4, intervalMs: 40 });
    await sleep(150);
    const before = Date.now();
    await pair.b.run([
      'iptables',
      '-I',
      'INPUT',
      '-p',
      'tcp',
      '--dport',
      '8085',
      '-j',
      'REJECT',
      '--reject-with',
      'tcp-reset',
    ]);
    await until(
      'every connection ended',
      () => session.status(),
      (r) => r.connections.every((c) => c.state !== 'open'),
    );
    const report = await session.stop();
    for (const c of report.connections) {
      expect(c.state).to.equal('reset');
      expect(c.errno).to.equal('ECONNRESET');
      expect(c.diedAt).to.be.at.least(before);
      expect(c.livedMs).to.be.at.least(100);
    }
  });

  it('reports long-lived connections reset by the server and timed out by a blackhole', async function () {
    needIptables(this);
    await server.startServer({ name: 'long2', kind: 'tcp', port: 8086 });
    const viaServer = await client.longLived({
      host: pair.addrB,
      port: 8086,
      connections: 2,
      intervalMs: 40,
    });
    await server.startServer({ name: 'long3', kind: 'tcp', port: 8087 });
    const viaHole = await client.longLived({
      host: pair.addrB,
      port: 8087,
      connections: 2,
      intervalMs: 40,
      replyTimeoutMs: 150,
    });
    await sleep(100);
    expect(await server.stopServer('long2', { reset: true })).to.include({ openConnections: 2 });
    await pair.b.run(['iptables', '-I', 'INPUT', '-p', 'tcp', '--dport', '8087', '-j', 'DROP']);
    const ended = (r: { connections: { state: string }[] }) => r.connections.every((c) => c.state !== 'open');
    await until('reset ones ended', () => viaServer.status(), ended);
    await until('blackholed ones timed out', () => viaHole.status(), ended);
    expect((await viaServer.stop()).connections.map((c) => c.state)).to.deep.equal(['reset', 'reset']);
    expect((await viaHole.stop()).connections.map((c) => c.state)).to.deep.equal(['timeout', 'timeout']);
  });

  it('fails to start a server on an address the host does not have', async () => {
    let err: unknown;
    try {
      await server.startServer({ name: 'nowhere', kind: 'tcp', port: 8088, host: '10.99.0.77' });
    } catch (e) {
      err = e;
    }
    expect(err).to.have.property('name', 'TrafficWorkerError');
    expect(err).to.have.property('code', 'EADDRNOTAVAIL');
  });

  it('closes an agent twice and rejects calls afterwards', async () => {
    const spare = await TrafficAgent.start(pair.a, { name: 'spare' });
    await spare.close();
    await spare.close();
    let err: unknown;
    try {
      await spare.probe({ kind: 'tcp', host: pair.addrB, port: 8080 });
    } catch (e) {
      err = e;
    }
    expect(err).to.have.property('name', 'TrafficWorkerError');
  });
});
