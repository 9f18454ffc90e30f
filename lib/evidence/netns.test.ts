/**
 * Integration: evidence taken in real network namespaces of our own (`rpt-ev-<random>-a/-b`).
 * Needs root, iproute2, nsenter, iptables and conntrack; skipped with the reason otherwise.
 *
 *   a: v0 10.98.0.1/24, lo 10.97.0.1/32 and 10.96.0.2/32
 *   b: v0 10.98.0.2/24, lo 10.96.0.2/32, v1<->v1p (a veth inside b) routing 10.97.0.0/24,
 *      rp_filter=1 (all, v0), filter/INPUT DROP for tcp/81, a conntrack match (so b tracks flows)
 */
import { spawnSync, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { expect } from 'chai';
import { CommandRunner } from '../exec/command.js';
import { NetnsExec } from '../exec/netns.js';
import { measure } from './probe.js';
import { whereDropped, whoSentResets } from './attribution.js';
import { startCapture } from './capture.js';
import { collectHostState } from './dump.js';
import { countConntrack, listConntrack } from './conntrack.js';
import { Disposer } from '../lab/disposer.js';
import { testdataPath } from './test-helpers.js';

const TOOLS = ['ip', 'nsenter', 'iptables-restore', 'iptables-save', 'conntrack', 'sysctl'];

function installed(tool: string): boolean {
  return spawnSync('which', [tool]).status === 0;
}

function missingRequirement(): string | undefined {
  if (process.platform !== 'linux') return `needs Linux, this is ${process.platform}`;
  if (process.getuid?.() !== 0) return 'not running as root';
  const absent = TOOLS.filter((t) => !installed(t));
  return absent.length ? `missing ${absent.join(', ')}` : undefined;
}

const B_RULES = `*filter
:INPUT ACCEPT [0:0]
:FORWARD ACCEPT [0:0]
:OUTPUT ACCEPT [0:0]
-A INPUT -p tcp -m tcp --dport 81 -m comment --comment "returnpath:test drop 81" -j DROP
-A INPUT -m conntrack --ctstate RELATED,ESTABLISHED -j ACCEPT
COMMIT
`;

describe('evidence in network namespaces', function () {
  const id = randomBytes(3).toString('hex');
  const nsA = `rpt-ev-${id}-a`;
  const nsB = `rpt-ev-${id}-b`;
  const runner = new CommandRunner();
  const a = new NetnsExec('ev/a', nsA, runner);
  const b = new NetnsExec('ev/b', nsB, runner);
  const created: string[] = [];
  const children: ChildProcess[] = [];
  let dir = '';

  /** One TCP connect attempt from a: connected | refused | reset | timeout | unreachable. */
  async function connect(ip: string, port: number, src = '', timeoutMs = 300): Promise<string> {
    const res = await a.run([
      process.execPath,
      testdataPath('connect.mjs'),
      ip,
      String(port),
      src,
      String(timeoutMs),
    ]);
    return res.stdout.trim();
  }

  before(async function () {
    const reason = missingRequirement();
    if (reason) {
      console.log(`      skipped: ${reason}`);
      this.skip();
    }
    dir = await mkdtemp(join(tmpdir(), 'rpt-ev-'));
    for (const ns of [nsA, nsB]) {
      await runner.run(['ip', 'netns', 'add', ns]);
      created.push(ns);
    }
    const [macA, macB] = ['02:52:50:00:00:01', '02:52:50:00:00:02'];
    await runner.run(
      ['ip', '-n', nsA, 'link', 'add', 'name', 'v0', 'address', macA, 'type', 'veth'].concat([
        'peer',
        'name',
        'v0',
        'address',
        macB,
        'netns',
        nsB,
      ]),
    );
    // Permanent neighbours, as the fabric uses: ARP requests are subject to rp_filter too.
    const batchA = ['link set lo up', 'link set v0 up', 'addr add 10.98.0.1/24 dev v0'];
    batchA.push(`neigh replace 10.98.0.2 lladdr ${macB} dev v0 nud permanent`);
    batchA.push('addr add 10.97.0.1/32 dev lo', 'addr add 10.96.0.2/32 dev lo');
    const batchB = [
      'link set lo up',
      'link set v0 up',
      'addr add 10.98.0.2/24 dev v0',
      'addr add 10.96.0.2/32 dev lo',
    ];
    batchB.push(`neigh replace 10.98.0.1 lladdr ${macA} dev v0 nud permanent`);
    batchB.push(
      'link add v1 type veth peer name v1p',
      'link set v1 up',
      'link set v1p up',
      'route add 10.97.0.0/24 dev v1',
    );
    await runner.run(['ip', '-n', nsA, '-batch', '-'], { input: batchA.join('\n') + '\n' });
    await runner.run(['ip', '-n', nsB, '-batch', '-'], { input: batchB.join('\n') + '\n' });
    await b.run(['sysctl', '-q', '-w', 'net.ipv4.conf.all.rp_filter=1', 'net.ipv4.conf.v0.rp_filter=1']);
    await b.run(['iptables-restore'], { input: B_RULES });
  });

  after(async () => {
    for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
    for (const ns of created.reverse()) await runner.run(['ip', 'netns', 'del', ns], { allowFailure: true });
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  it('attributes an rp_filter drop to the namespace whose strict check failed', async () => {
    // b routes 10.97.0.0/24 via v1, so a SYN from 10.97.0.1 arriving on v0 fails the strict check.
    const m = await measure([a, b], () => connect('10.98.0.2', 80, '10.97.0.1'));
    expect(m.result).to.equal('timeout');
    const drops = whereDropped(m.deltas);
    const rp = drops.find((d) => d.reason === 'rp_filter');
    expect(rp, JSON.stringify(drops)).to.deep.include({ host: 'ev/b', scope: 'host' });
    expect(rp!.count).to.be.at.least(1);
    expect(drops.filter((d) => d.host === 'ev/a')).to.deep.equal([]);
    expect(whoSentResets(m.deltas)).to.deep.equal([]);
  });

  it('names the namespace that answered with a TCP reset', async () => {
    const m = await measure([a, b], () => connect('10.98.0.2', 83));
    expect(m.result).to.equal('refused');
    const resets = whoSentResets(m.deltas);
    expect(resets.map((r) => r.host)).to.deep.equal(['ev/b']);
    expect(resets[0]!.count).to.be.at.least(1);
    expect(resets[0]!.summary).to.match(/^ev\/b sent \d+ TCP resets? \(Tcp\.OutRsts \+\d+\)/);
  });

  it('attributes a drop to the DROP rule whose counter rose', async () => {
    const m = await measure([a, b], () => connect('10.98.0.2', 81));
    expect(m.result).to.equal('timeout');
    const rule = whereDropped(m.deltas).find((d) => d.reason === 'rule');
    expect(rule, JSON.stringify(m.deltas)).to.deep.include({ host: 'ev/b', count: 1 });
    expect(rule!.rule).to.deep.include({
      table: 'filter',
      chain: 'INPUT',
      index: 1,
      comment: 'returnpath:test drop 81',
    });
    expect(rule!.summary).to.equal('ev/b dropped 1 packet by rule filter/INPUT#1 "returnpath:test drop 81"');
  });

  it('pins a martian source (machine-wide counter) on the namespace that received it', async () => {
    // The source 10.96.0.2 is one of b's own addresses: a martian unless accept_local=1.
    const m = await measure([a, b], () => connect('10.98.0.2', 80, '10.96.0.2'));
    expect(m.result).to.equal('timeout');
    const martian = whereDropped(m.deltas).find((d) => d.reason === 'martian-source');
    expect(martian, JSON.stringify(m.deltas)).to.deep.include({ host: 'ev/b', scope: 'machine' });
  });

  it('captures only after tcpdump listens, and records the SYN and the reset', async function () {
    if (!installed('tcpdump')) {
      console.log('      skipped: tcpdump not installed');
      this.skip();
    }
    const disposer = new Disposer();
    try {
      const file = join(dir, 'b.pcap');
      const cap = await startCapture(b, { file, filter: ['tcp', 'port', '83'], teardown: disposer });
      expect(await connect('10.98.0.2', 83)).to.equal('refused');
      const res = await cap.stop();
      expect(res.packets).to.equal(2);
      expect(res.summary).to.match(/10\.98\.0\.1\.\d+ > 10\.98\.0\.2\.83: Flags \[S\]/);
      expect(res.summary).to.match(/10\.98\.0\.2\.83 > 10\.98\.0\.1\.\d+: Flags \[R\.\]/);
      expect(await cap.stop()).to.equal(res);
    } finally {
      await disposer.dispose();
    }
  });

  it('rejects when tcpdump exits before listening (bad filter) instead of hanging', async function () {
    if (!installed('tcpdump')) this.skip();
    await startCapture(b, { file: join(dir, 'bad.pcap'), filter: ['no-such-primitive'] }).then(
      () => expect.fail('should reject'),
      (e: Error) => expect(e.name).to.equal('CommandError'),
    );
  });

  it('lists conntrack entries of the namespace', async () => {
    // The conntrack match made b track connections (the kernel hooks conntrack per namespace on
    // demand). A refused connect leaves no entry (the RST kills it): use a listener.
    const server = b.spawn([process.execPath, testdataPath('listen.mjs'), '10.98.0.2', '84']);
    children.push(server);
    await new Promise<void>((resolve, reject) => {
      server.stdout?.on('data', (d: Buffer) => d.toString().includes('listening') && resolve());
      server.on('exit', (code) => reject(new Error(`listener exited (${code})`)));
    });
    expect(await connect('10.98.0.2', 84)).to.equal('connected');
    const entries = await listConntrack(b);
    const flow = entries.find((e) => e.original.src === '10.98.0.1' && e.original.dport === 84);
    expect(flow, JSON.stringify(entries)).to.not.equal(undefined);
    expect(flow!.proto).to.equal('tcp');
    expect(flow!.reply).to.include({ src: '10.98.0.2', dst: '10.98.0.1', sport: 84 });
    expect(await countConntrack(b)).to.equal((await listConntrack(b)).length);
    expect(await listConntrack(a)).to.be.an('array');
  });

  it('dumps the host state with sysctls read inside the namespace', async () => {
    const state = await collectHostState(b);
    expect(state.sections.filter((s) => s.error !== undefined)).to.deep.equal([]);
    expect(state.sysctls['net.ipv4.conf.v0.rp_filter']).to.equal('1');
    expect(state.sysctls['net.ipv4.conf.v1p.rp_filter']).to.equal('0');
    const routes = state.sections.find((s) => s.name === 'routes');
    expect(routes?.text).to.contain('10.97.0.0/24 dev v1');
    const iptables = state.sections.find((s) => s.name === 'iptables');
    expect(iptables?.text).to.contain('returnpath:test drop 81');
  });
});
