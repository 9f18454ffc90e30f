import { expect } from 'chai';
import os from 'node:os';
import { fileURLToPath } from 'node:url';
import { CommandError } from '../errors.js';
import { CommandRunner, type CommandResult, type RunOptions } from '../exec/command.js';
import {
  collectSnapshot,
  COLLECT_COMMANDS,
  groupRoutes,
  iptablesBackend,
  renderRule,
  toInterface,
} from './collect.js';
import { parseSnapshot, serializeSnapshot } from './snapshot.js';
import { toNodeSysctls } from './sysctl-replay.js';

const sample = (p: string): string =>
  fileURLToPath(new URL(`../../../samples/snapshots/${p}`, import.meta.url));

/** A runner whose commands all fail to start, as on a host without any of the tools. */
class NoToolsRunner extends CommandRunner {
  readonly calls: (readonly string[])[] = [];
  override run(argv: readonly string[], _opts: RunOptions = {}): Promise<CommandResult> {
    this.calls.push(argv);
    return Promise.reject(new CommandError(argv, null, `spawn ${argv[0]} ENOENT`));
  }
}

/** A runner with canned output by first argv element. */
class CannedRunner extends CommandRunner {
  constructor(private readonly replies: Record<string, Partial<CommandResult>>) {
    super();
  }
  override run(argv: readonly string[]): Promise<CommandResult> {
    const key =
      argv[0] === 'ip' ? `ip ${argv.find((a) => ['rule', 'route', 'addr'].includes(a))}` : (argv[0] ?? '');
    const r = this.replies[key] ?? { code: 127, stderr: `${argv[0]}: not found` };
    return Promise.resolve({ argv, code: r.code ?? 0, stdout: r.stdout ?? '', stderr: r.stderr ?? '' });
  }
}

describe('certify/collect', () => {
  it('collects this host read-only, and the result validates and round-trips', async () => {
    const runner = new CommandRunner();
    const s = await collectSnapshot(runner, { now: new Date('2025-01-02T03:04:05Z') });
    expect(s.source.kind).to.equal('collected');
    expect(s.source.collectedAt).to.equal('2025-01-02T03:04:05.000Z');
    expect(s.kernel).to.equal(os.release());
    expect(parseSnapshot(serializeSnapshot(s))).to.deep.equal(s);
    // This machine has sysctl and ip; what it lacks is recorded, not fatal.
    expect(s.sysctls).to.have.property('net.ipv4.conf.all.rp_filter');
    expect(Object.keys(s.sysctls).every((k) => k.startsWith('net.ipv4.'))).to.equal(true);
    expect(s.interfaces.some((i) => i.name === 'lo' && i.kind === 'loopback')).to.equal(true);
    expect(s.ipRules?.some((r) => /lookup main/.test(r))).to.equal(true);
    expect(s.networkManagers.map((m) => m.name)).to.deep.equal(['systemd-networkd', 'NetworkManager']);
    expect(runner.commandsRun).to.equal(Object.keys(COLLECT_COMMANDS).length + 2);
    // And the lab can replay it.
    expect(toNodeSysctls(s).sysctls.ip_forward).to.equal(1);
  });

  it('records every missing tool as a gap and still returns a valid snapshot', async () => {
    const runner = new NoToolsRunner();
    const s = await collectSnapshot(runner, { root: sample('systemd-default'), hostname: 'node-a' });
    expect(s.sysctls).to.deep.equal({});
    expect(s.ipRules).to.equal(null);
    expect(s.routes).to.equal(null);
    expect(s.iptables).to.equal(null);
    expect(s.interfaces).to.deep.equal([]);
    expect(s.gaps?.map((g) => g.section)).to.deep.equal([
      'sysctls',
      'ipRules',
      'routes',
      'interfaces',
      'iptables',
      'iptables',
    ]);
    expect(s.gaps?.[0]?.error).to.match(/could not run: spawn sysctl ENOENT/);
    // Files are read from the root given: the sample tree.
    expect(s.sysctlFiles.map((f) => f.path)).to.deep.equal(['/usr/lib/sysctl.d/50-default.conf']);
    expect(s.networkManagers.every((m) => !m.present && m.active === undefined)).to.equal(true);
    // Never a shell: every command is an argv array whose first element is the program.
    for (const argv of runner.calls)
      expect(argv[0]).to.match(/^(sysctl|ip|iptables-save|iptables|systemctl)$/);
    expect(parseSnapshot(serializeSnapshot(s))).to.deep.equal(s);
  });

  it('turns ip -j output into rule and route lines, interfaces and the iptables backend', async () => {
    const runner = new CannedRunner({
      sysctl: { stdout: 'net.ipv4.conf.all.rp_filter = 1\nnet.ipv4.ip_forward = 1\n' },
      'ip rule': {
        stdout: JSON.stringify([
          { priority: 0, src: 'all', table: 'local' },
          { priority: 1024, src: 'all', fwmark: '0x80', fwmask: '0x80', table: 'main' },
          { priority: 1536, src: '10.0.2.15', table: '3' },
          { priority: 32766, src: 'all', table: 'main' },
        ]),
      },
      'ip route': {
        stdout: JSON.stringify([
          { dst: 'default', gateway: '10.0.1.1', dev: 'eth0', protocol: 'dhcp', metric: 512, flags: [] },
          { dst: 'default', gateway: '10.0.2.1', dev: 'eth1', table: '3', flags: [] },
          {
            type: 'local',
            dst: '10.0.1.10',
            dev: 'eth0',
            table: 'local',
            protocol: 'kernel',
            scope: 'host',
            prefsrc: '10.0.1.10',
            flags: [],
          },
        ]),
      },
      'ip addr': {
        stdout: JSON.stringify([
          {
            ifname: 'eth0',
            link_type: 'ether',
            address: '0a:00:00:00:00:01',
            flags: ['UP'],
            addr_info: [{ family: 'inet', local: '10.0.1.10', prefixlen: 24 }],
          },
          {
            ifname: 'eni0123',
            link_type: 'ether',
            address: '0a:00:00:00:00:02',
            flags: [],
            linkinfo: { info_kind: 'veth' },
            addr_info: [],
          },
        ]),
      },
      'iptables-save': { stdout: '*filter\n:INPUT ACCEPT [0:0]\nCOMMIT\n' },
      iptables: { stdout: 'iptables v1.8.9 (legacy)\n' },
      systemctl: { code: 3, stdout: 'inactive\n' },
    });
    const s = await collectSnapshot(runner, { root: sample('systemd-default') });
    expect(s.gaps).to.equal(undefined);
    expect(s.ipRules).to.deep.equal([
      '0:\tfrom all lookup local',
      '1024:\tfrom all fwmark 0x80/0x80 lookup main',
      '1536:\tfrom 10.0.2.15 lookup 3',
      '32766:\tfrom all lookup main',
    ]);
    expect(s.routes).to.deep.equal({
      main: ['default via 10.0.1.1 dev eth0 proto dhcp metric 512'],
      '3': ['default via 10.0.2.1 dev eth1'],
      local: ['local 10.0.1.10 dev eth0 proto kernel scope host src 10.0.1.10'],
    });
    expect(s.interfaces).to.deep.equal([
      { name: 'eth0', kind: 'device', mac: '0a:00:00:00:00:01', addresses: ['10.0.1.10/24'], up: true },
      { name: 'eni0123', kind: 'veth', mac: '0a:00:00:00:00:02', addresses: [], up: false },
    ]);
    expect(s.iptables).to.deep.equal({ backend: 'legacy', save: '*filter\n:INPUT ACCEPT [0:0]\nCOMMIT\n' });
    expect(s.networkManagers[0]).to.deep.include({ active: false });
    expect(s.networkManagers[0]?.evidence).to.include(
      'systemctl is-active systemd-networkd.service: inactive',
    );
    // Only the device is a physical interface: eni0123 is the CNI's.
    expect(toNodeSysctls(s).interfaceMap).to.deep.equal([{ image: 'eth0', lab: 'eth0' }]);
  });

  it('helpers', () => {
    expect(iptablesBackend('iptables v1.8.9 (nf_tables)')).to.equal('nf_tables');
    expect(iptablesBackend('iptables v1.4.21')).to.equal('unknown');
    expect(renderRule({ priority: 512, src: 'all', dst: '10.0.1.15', table: 'main' })).to.equal(
      '512:\tfrom all to 10.0.1.15 lookup main',
    );
    expect(
      renderRule({ priority: 9, not: true, src: '10.0.0.0', srclen: 8, action: 'unreachable' }),
    ).to.equal('9:\tnot from 10.0.0.0/8 unreachable');
    expect(groupRoutes([{ dst: '10.0.0.0/16', dev: 'eth0', scope: 'link' }])).to.deep.equal({
      main: ['10.0.0.0/16 dev eth0 scope link'],
    });
    expect(
      toInterface({
        ifname: 'lo',
        link_type: 'loopback',
        address: '00:00:00:00:00:00',
        flags: ['LOOPBACK', 'UP'],
      }),
    ).to.deep.equal({
      name: 'lo',
      kind: 'loopback',
      addresses: [],
      up: true,
    });
  });
});
