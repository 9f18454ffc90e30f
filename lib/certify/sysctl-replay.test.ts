import { expect } from 'chai';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { ValidationError } from '../errors.js';
import { NodeSysctls } from '../model/schema.js';
import { SNAPSHOT_SCHEMA_ID, type NodeSnapshot } from './snapshot.js';
import { loadSnapshot, parseSysctlDump } from './snapshot-load.js';
import { naturalCompare, toNodeSysctls } from './sysctl-replay.js';
import { parseSysctlConf } from './sysctl-precedence.js';

const sample = (p: string): string =>
  fileURLToPath(new URL(`../../../samples/snapshots/${p}`, import.meta.url));
const testdata = (p: string): string =>
  fileURLToPath(new URL(`../../../lib/certify/testdata/${p}`, import.meta.url));
const DEFAULT_CONF = '/usr/lib/sysctl.d/50-default.conf';

function sysctlD(files: Record<string, string>): NodeSnapshot {
  return {
    schema: SNAPSHOT_SCHEMA_ID,
    source: { kind: 'sysctl.d', path: 'test' },
    kernel: null,
    sysctls: {},
    sysctlFiles: Object.entries(files).map(([p, text]) => ({
      path: p,
      directory: p.slice(0, p.lastIndexOf('/')),
      name: p.slice(p.lastIndexOf('/') + 1),
      precedence: p.startsWith('/etc/') ? 0 : 3,
      entries: parseSysctlConf(text, p).entries,
    })),
    ipRules: null,
    routes: null,
    iptables: null,
    interfaces: [],
    networkManagers: [],
  };
}

describe('certify/sysctl-replay', () => {
  it('systemd-default tree: loose on default and interfaces, all stays 0, with origins', async () => {
    const r = toNodeSysctls(await loadSnapshot(sample('systemd-default')));
    expect(NodeSysctls.parse(r.sysctls)).to.deep.equal(r.sysctls);
    expect(r.sysctls.ip_forward).to.equal(1);
    expect(r.sysctls.all).to.deep.equal({
      rp_filter: 0,
      accept_local: 0,
      src_valid_mark: 0,
      route_localnet: 0,
      send_redirects: 1,
    });
    expect(r.sysctls.default.rp_filter).to.equal(2);
    expect(r.sysctls.interfaces.eth0?.rp_filter).to.equal(2);
    expect(r.sysctls.interfaces.eth1?.rp_filter).to.equal(2);
    expect(r.interfaceMap).to.deep.equal([
      { image: 'eth0', lab: 'eth0' },
      { image: 'eth1', lab: 'eth1' },
    ]);
    expect(r.notes).to.include(`rp_filter=2 on conf/default comes from ${DEFAULT_CONF}:25`);
    expect(r.notes).to.include('rp_filter=0 on conf/all comes from kernel default');
    expect(r.notes).to.include(
      `rp_filter=2 on eth1 comes from ${DEFAULT_CONF}:26 (glob net.ipv4.conf.*.rp_filter); effective max(all 0, eth1 2) = 2 (loose)`,
    );
    expect(r.notes.join('\n')).to.match(/the input names no interface: assumed/);
    expect(r.notes.join('\n')).to.match(/ip_forward=0 on the image \(kernel default\)/);
    expect(r.provenance['net.ipv4.conf.all.send_redirects']).to.equal('kernel default');
    // ping_group_range and the kernel/fs keys are listed, not replayed.
    expect(r.skipped.map((s) => s.key)).to.include.members(['net.ipv4.ping_group_range', 'kernel.sysrq']);
    expect(r.sysctls.other).to.deep.equal({});
  });

  it('hardened tree: strict on all and default, interfaces inherit default; CIS keys replayed or listed', async () => {
    const r = toNodeSysctls(await loadSnapshot(sample('hardened-rp-filter-1')));
    expect(r.sysctls.all).to.deep.include({ rp_filter: 1, send_redirects: 0 });
    expect(r.sysctls.default).to.deep.include({ rp_filter: 1, send_redirects: 0 });
    expect(r.sysctls.interfaces.eth0?.rp_filter).to.equal(1);
    expect(r.provenance['net.ipv4.conf.eth0.rp_filter']).to.equal(
      "conf/default's value (/etc/sysctl.d/99-hardening.conf:7)",
    );
    expect(r.sysctls.ip_forward).to.equal(1);
    expect(r.notes.join('\n')).to.match(
      /ip_forward=0 on the image \(\/etc\/sysctl\.d\/99-hardening\.conf:27\)/,
    );
    expect(r.sysctls.other).to.deep.equal({ 'net.ipv4.tcp_syncookies': '1' });
    expect(r.skipped.find((s) => s.key === 'net.ipv4.conf.all.log_martians')?.reason).to.match(
      /the lab models/,
    );
    expect(
      toNodeSysctls(await loadSnapshot(sample('hardened-rp-filter-1')), { ipForward: 'image' }).sysctls
        .ip_forward,
    ).to.equal(0);
  });

  it('loose dump: live values, interfaces by name, globals only where they differ', async () => {
    const r = toNodeSysctls(await loadSnapshot(sample('loose.sysctl')));
    expect([r.sysctls.all.rp_filter, r.sysctls.default.rp_filter]).to.deep.equal([0, 0]);
    expect(Object.keys(r.sysctls.interfaces)).to.deep.equal(['eth0', 'eth1']);
    expect(r.sysctls.interfaces.eth1?.rp_filter).to.equal(0);
    expect(r.provenance['net.ipv4.conf.eth1.rp_filter']).to.equal('the live value');
    expect(r.provenance['net.ipv4.ip_forward']).to.equal('the live value');
    // Every replayable global has a fresh namespace's value: nothing to write.
    expect(r.sysctls.other).to.deep.equal({});
    expect(r.notes.join('\n')).to.match(
      /16 replayable global key\(s\) have the value they have in a fresh network namespace/,
    );
    const snap = await loadSnapshot(sample('loose.sysctl'));
    snap.sysctls['net.ipv4.ip_local_port_range'] = '1024\t65535';
    expect(toNodeSysctls(snap).sysctls.other).to.deep.equal({
      'net.ipv4.ip_local_port_range': '1024\t65535',
    });
    expect(r.skipped.find((s) => s.key === 'net.ipv4.conf.lo.rp_filter')?.reason).to.equal(
      'interface not mapped onto the lab',
    );
  });

  it('amazon-linux-2023 snapshot: ens5/ens6 onto eth0/eth1, live values attributed to the files', async () => {
    const snap = await loadSnapshot(sample('amazon-linux-2023.json'));
    const r = toNodeSysctls(snap);
    expect(r.interfaceMap).to.deep.equal([
      { image: 'ens5', lab: 'eth0' },
      { image: 'ens6', lab: 'eth1' },
    ]);
    expect(r.notes[0]).to.match(
      /^interfaces: ens5 -> eth0, ens6 -> eth1 \(the image's physical interfaces from the link list/,
    );
    expect(r.sysctls.interfaces.eth1?.rp_filter).to.equal(2);
    expect(r.provenance['net.ipv4.conf.eth1.rp_filter']).to.equal(
      `the live value, set by ${DEFAULT_CONF}:26 (glob net.ipv4.conf.*.rp_filter)`,
    );
    expect(r.sysctls.all.rp_filter).to.equal(0);
    expect(r.notes).to.include(
      `rp_filter=2 on eth1 (image ens6) comes from the live value, set by ${DEFAULT_CONF}:26 (glob net.ipv4.conf.*.rp_filter); effective max(all 0, eth1 2) = 2 (loose)`,
    );

    // A value the files do not explain is flagged.
    const changed = { ...snap, sysctls: { ...snap.sysctls, 'net.ipv4.conf.ens6.rp_filter': '1' } };
    expect(toNodeSysctls(changed).notes.join('\n')).to.match(
      /net\.ipv4\.conf\.ens6\.rp_filter=1 on the node, but the sysctl\.d files set 2 .*changed it after boot/,
    );
  });

  it('respects an explicit interface map, the lab node interfaces and CNI-owned keys', async () => {
    const snap = await loadSnapshot(sample('amazon-linux-2023.json'));
    const one = toNodeSysctls(snap, { labInterfaces: ['eth0'] });
    expect(Object.keys(one.sysctls.interfaces)).to.deep.equal(['eth0']);
    expect(one.notes.join('\n')).to.match(/ens6 maps to eth1, which the lab node does not have/);

    const three = toNodeSysctls(snap, { labInterfaces: ['eth0', 'eth1', 'eth2'] });
    expect(three.sysctls.interfaces.eth2?.rp_filter).to.equal(2);
    expect(three.notes.join('\n')).to.match(/eth2 has no interface on the image/);

    const swapped = toNodeSysctls(snap, { interfaceMap: { ens6: 'eth0', ens5: 'eth1' } });
    expect(swapped.interfaceMap).to.deep.equal([
      { image: 'ens5', lab: 'eth1' },
      { image: 'ens6', lab: 'eth0' },
    ]);

    const cni = toNodeSysctls(snap, { cniWrites: ['net.ipv4.conf.eth0.rp_filter'] });
    expect(cni.sysctls.interfaces.eth0).not.to.have.property('rp_filter');
    expect(cni.notes.join('\n')).to.match(
      /net\.ipv4\.conf\.eth0\.rp_filter: the image has 2 .* leaves it to the CNI/,
    );

    expect(() => toNodeSysctls(snap, { interfaceMap: { ens5: 'ens5' } })).to.throw(
      ValidationError,
      /eth0 \.\. eth15/,
    );
  });

  it('pod veths: a glob reaching new interfaces overrides conf/default in the lab', () => {
    const r = toNodeSysctls(
      sysctlD({
        '/etc/sysctl.d/10-x.conf': 'net.ipv4.conf.default.rp_filter = 0\nnet.ipv4.conf.*.rp_filter = 1',
      }),
    );
    expect(r.sysctls.default.rp_filter).to.equal(1);
    expect(r.sysctls.all.rp_filter).to.equal(1);
    expect(r.notes.join('\n')).to.match(
      /interfaces created after boot \(pod veths\) get rp_filter=1 .*conf\/default is 0/,
    );
  });

  it('forwarding=0 on an interface is replayed only when the image forwards elsewhere', () => {
    const r = toNodeSysctls(
      sysctlD({ '/etc/sysctl.d/10-x.conf': 'net.ipv4.ip_forward = 1\nnet.ipv4.conf.eth1.forwarding = 0' }),
    );
    expect(r.sysctls.interfaces.eth1?.forwarding).to.equal(0);
    expect(r.sysctls.interfaces.eth0).not.to.have.property('forwarding');
  });

  it('rejects values the lab cannot set, naming the key and where the value came from', () => {
    const e = (() => {
      try {
        toNodeSysctls(parseDump('strict-3.sysctl'));
      } catch (err) {
        return err as ValidationError;
      }
      throw new Error('expected a ValidationError');
    })();
    expect(e).to.be.instanceOf(ValidationError);
    expect(e.problems.map((p) => p.path)).to.include('net.ipv4.conf.all.rp_filter');
    expect(e.message).to.match(/accepts 0, 1, 2 for rp_filter \(from the live value\)/);
  });

  it('orders interface names naturally', () => {
    expect(['ens10', 'ens6', 'ens5'].sort(naturalCompare)).to.deep.equal(['ens5', 'ens6', 'ens10']);
    expect(['eth1', 'eth0'].sort(naturalCompare)).to.deep.equal(['eth0', 'eth1']);
  });
});

function parseDump(name: string): NodeSnapshot {
  return parseSysctlDump(readFileSync(testdata(name), 'utf8'), name);
}
