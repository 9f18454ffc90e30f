import { expect } from 'chai';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import type { SysctlFile } from './snapshot.js';
import {
  globToRegExp,
  lookupSysctl,
  normalizeSysctlKey,
  orderSysctlFiles,
  parseSysctlConf,
  resolveSysctlFiles,
  sysctlPath,
} from './sysctl-precedence.js';

const DIRS: Record<string, number> = {
  '/etc/sysctl.d': 0,
  '/run/sysctl.d': 1,
  '/usr/local/lib/sysctl.d': 2,
  '/usr/lib/sysctl.d': 3,
  '/lib/sysctl.d': 4,
  '/etc': 5,
};

/** A SysctlFile from text; `path` is the image path. */
function file(path: string, text: string, extra: Partial<SysctlFile> = {}): SysctlFile {
  const directory = path.slice(0, path.lastIndexOf('/'));
  const parsed = parseSysctlConf(text, path);
  expect(parsed.problems).to.deep.equal([]);
  return {
    path,
    directory,
    name: path.slice(path.lastIndexOf('/') + 1),
    precedence: DIRS[directory] ?? 0,
    entries: parsed.entries,
    ...extra,
  };
}

const upstream = readFileSync(
  fileURLToPath(
    new URL('../../../samples/snapshots/systemd-default/usr/lib/sysctl.d/50-default.conf', import.meta.url),
  ),
  'utf8',
);
const systemdDefault = file('/usr/lib/sysctl.d/50-default.conf', upstream);
const DEFAULT_CONF = '/usr/lib/sysctl.d/50-default.conf';

describe('certify/sysctl-precedence', () => {
  it('parses sysctl.d lines: assignments, ignore-errors, exclusions, comments', () => {
    const { entries, problems } = parseSysctlConf(
      [
        '# comment',
        '; also a comment',
        '',
        '  net.ipv4.conf.all.rp_filter=1  ',
        '-net.ipv4.ping_group_range = 0 2147483647',
        '-net.ipv4.conf.all.rp_filter',
        'net.ipv4.ip_local_reserved_ports =',
        'kernel/domainname = example.com\r',
      ].join('\n'),
      'x.conf',
    );
    expect(problems).to.deep.equal([]);
    expect(entries).to.deep.equal([
      { key: 'net.ipv4.conf.all.rp_filter', value: '1', ignoreErrors: false, line: 4 },
      { key: 'net.ipv4.ping_group_range', value: '0 2147483647', ignoreErrors: true, line: 5 },
      { key: 'net.ipv4.conf.all.rp_filter', value: null, ignoreErrors: true, line: 6 },
      { key: 'net.ipv4.ip_local_reserved_ports', value: '', ignoreErrors: false, line: 7 },
      { key: 'kernel/domainname', value: 'example.com', ignoreErrors: false, line: 8 },
    ]);
  });

  it('reports every malformed line with file:line and what is allowed', () => {
    const { entries, problems } = parseSysctlConf(
      'net.ipv4.ip_forward = 1\nrp_filter\nnet.ipv4.conf.all rp_filter = 2\n',
      '/etc/sysctl.d/x.conf',
    );
    expect(entries).to.have.length(1);
    expect(problems.map((p) => p.path)).to.deep.equal(['/etc/sysctl.d/x.conf:2', '/etc/sysctl.d/x.conf:3']);
    expect(problems[0]?.message).to.match(/not an assignment; allowed: "key = value"/);
    expect(problems[1]?.message).to.match(/is not a sysctl name/);
  });

  it('normalizes "." and "/" separators as systemd does', () => {
    expect(sysctlPath('net.ipv4.conf.enp3s0/200.forwarding')).to.equal('net/ipv4/conf/enp3s0.200/forwarding');
    expect(sysctlPath('net/ipv4/conf/enp3s0.200/forwarding')).to.equal('net/ipv4/conf/enp3s0.200/forwarding');
    expect(normalizeSysctlKey('net/ipv4/conf/enp3s0.200/forwarding')).to.equal(
      'net.ipv4.conf.enp3s0/200.forwarding',
    );
    expect(normalizeSysctlKey('kernel/domainname')).to.equal('kernel.domainname');
    expect(normalizeSysctlKey('/net/ipv4/ip_forward')).to.equal('net.ipv4.ip_forward');
  });

  it('globs match within one path component', () => {
    const re = globToRegExp(sysctlPath('net.ipv4.conf.*.rp_filter'));
    expect(re.test('net/ipv4/conf/eth0/rp_filter')).to.equal(true);
    expect(re.test('net/ipv4/conf/eth0.100/rp_filter')).to.equal(true);
    expect(re.test('net/ipv4/conf/a/b/rp_filter')).to.equal(false);
    expect(globToRegExp('net/ipv4/conf/eth[!0]/rp_filter').test('net/ipv4/conf/eth1/rp_filter')).to.equal(
      true,
    );
    expect(globToRegExp('net/ipv4/conf/eth[!0]/rp_filter').test('net/ipv4/conf/eth0/rp_filter')).to.equal(
      false,
    );
    expect(globToRegExp('net/ipv4/conf/eth?/rp_filter').test('net/ipv4/conf/eth10/rp_filter')).to.equal(
      false,
    );
  });

  it("systemd's 50-default.conf: default and every interface 2, conf/all kept out of the glob", () => {
    const res = resolveSysctlFiles([systemdDefault], ['ens5', 'ens6']);
    expect(res.effective['net.ipv4.conf.default.rp_filter']).to.deep.equal({
      value: '2',
      from: `${DEFAULT_CONF}:25`,
    });
    for (const i of ['lo', 'ens5', 'ens6'])
      expect(res.effective[`net.ipv4.conf.${i}.rp_filter`]).to.deep.equal({
        value: '2',
        from: `${DEFAULT_CONF}:26`,
        glob: 'net.ipv4.conf.*.rp_filter',
      });
    expect(res.effective).not.to.have.property('net.ipv4.conf.all.rp_filter');
    expect(res.excluded['net.ipv4.conf.all.rp_filter']).to.equal(`${DEFAULT_CONF}:27`);
    expect(res.effective['net.ipv4.ping_group_range']?.value).to.equal('0 2147483647');
    expect(res.effective['kernel.sysrq']?.value).to.equal('16');
    // Interfaces created later (udev runs systemd-sysctl --prefix for them) get the glob too.
    expect(lookupSysctl(res, 'net.ipv4.conf.eni1a2b3c4d5e6.rp_filter')?.value).to.equal('2');
    expect(lookupSysctl(res, 'net.ipv4.conf.all.rp_filter')).to.equal(undefined);
  });

  it('an exact assignment beats a glob wherever it is; among globs the later wins', () => {
    const res = resolveSysctlFiles(
      [
        file('/etc/sysctl.d/10-eth0.conf', 'net.ipv4.conf.eth0.rp_filter = 1\nnet.ipv4.conf.*.rp_filter = 1'),
        file('/etc/sysctl.d/90-loose.conf', 'net.ipv4.conf.*.rp_filter = 0'),
      ],
      ['eth0', 'eth1'],
    );
    expect(res.effective['net.ipv4.conf.eth0.rp_filter']).to.deep.equal({
      value: '1',
      from: '/etc/sysctl.d/10-eth0.conf:1',
    });
    expect(res.effective['net.ipv4.conf.eth1.rp_filter']?.value).to.equal('0');
    expect(res.effective['net.ipv4.conf.all.rp_filter']?.from).to.equal('/etc/sysctl.d/90-loose.conf:1');
  });

  it('files are read by name across directories; a later name wins', () => {
    const res = resolveSysctlFiles(
      [
        file('/etc/sysctl.d/10-admin.conf', 'net.ipv4.conf.all.rp_filter = 1'),
        file('/usr/lib/sysctl.d/60-vendor.conf', 'net.ipv4.conf.all.rp_filter = 0'),
      ],
      [],
    );
    expect(res.order).to.deep.equal(['/etc/sysctl.d/10-admin.conf', '/usr/lib/sysctl.d/60-vendor.conf']);
    expect(res.effective['net.ipv4.conf.all.rp_filter']?.from).to.equal('/usr/lib/sysctl.d/60-vendor.conf:1');
  });

  it('a same-named file in an earlier directory masks; a symlink to /dev/null masks without setting', () => {
    const etc = file('/etc/sysctl.d/50-default.conf', 'net.ipv4.conf.default.rp_filter = 1');
    const masked = resolveSysctlFiles([systemdDefault, etc], ['eth0']);
    expect(masked.order).to.deep.equal(['/etc/sysctl.d/50-default.conf']);
    expect(masked.effective['net.ipv4.conf.default.rp_filter']?.value).to.equal('1');
    expect(masked.effective).not.to.have.property('net.ipv4.conf.eth0.rp_filter');
    expect(masked.files.find((f) => f.path === DEFAULT_CONF)?.overriddenBy).to.equal(
      '/etc/sysctl.d/50-default.conf',
    );

    const devnull = file('/etc/sysctl.d/50-default.conf', '', { symlink: '/dev/null' });
    const none = resolveSysctlFiles([systemdDefault, devnull], ['eth0']);
    expect(none.order).to.deep.equal([]);
    expect(none.effective).to.deep.equal({});
    expect(none.notes.join('\n')).to.match(
      /50-default\.conf is masked by \/etc\/sysctl\.d\/50-default\.conf/,
    );
  });

  it('a later exclusion drops an earlier assignment; a later assignment replaces an exclusion', () => {
    const early = file('/etc/sysctl.d/10-strict.conf', 'net.ipv4.conf.all.rp_filter = 1');
    const dropped = resolveSysctlFiles([early, systemdDefault], ['eth0']);
    expect(dropped.effective).not.to.have.property('net.ipv4.conf.all.rp_filter');

    // CIS-style hardening after systemd's file: conf/all 1, yet the glob still gives interfaces 2.
    const hardening = file(
      '/etc/sysctl.d/99-hardening.conf',
      'net.ipv4.conf.all.rp_filter = 1\nnet.ipv4.conf.default.rp_filter = 1',
    );
    const res = resolveSysctlFiles([systemdDefault, hardening], ['eth0']);
    expect(res.effective['net.ipv4.conf.all.rp_filter']?.from).to.equal('/etc/sysctl.d/99-hardening.conf:1');
    expect(res.effective['net.ipv4.conf.default.rp_filter']?.value).to.equal('1');
    expect(res.effective['net.ipv4.conf.eth0.rp_filter']).to.deep.include({
      value: '2',
      glob: 'net.ipv4.conf.*.rp_filter',
    });
  });

  it('/etc/sysctl.conf comes last, or in place of the 99-sysctl.conf symlink that reads it', () => {
    const conf = file('/etc/sysctl.conf', 'net.ipv4.ip_forward = 1');
    const zz = file('/etc/sysctl.d/zz-last.conf', 'net.ipv4.ip_forward = 0');
    expect(resolveSysctlFiles([conf, zz], []).effective['net.ipv4.ip_forward']?.from).to.equal(
      '/etc/sysctl.conf:1',
    );
    const link = file('/etc/sysctl.d/99-sysctl.conf', 'net.ipv4.ip_forward = 1', {
      symlink: '../sysctl.conf',
    });
    const ordered = orderSysctlFiles([conf, zz, link]);
    expect(ordered.applied.map((f) => f.path)).to.deep.equal([
      '/etc/sysctl.d/99-sysctl.conf',
      '/etc/sysctl.d/zz-last.conf',
    ]);
    expect(ordered.notes.join('\n')).to.match(/read through the symlink \/etc\/sysctl\.d\/99-sysctl\.conf/);
  });

  it('the same value again keeps the earlier position (systemd does not re-add it)', () => {
    const res = resolveSysctlFiles(
      [
        file('/etc/sysctl.d/10-a.conf', 'net.ipv4.conf.eth0.rp_filter = 2'),
        file('/etc/sysctl.d/20-b.conf', '-net.ipv4.conf.eth0.rp_filter = 2'),
      ],
      ['eth0'],
    );
    expect(res.options).to.have.length(1);
    expect(res.options[0]).to.deep.include({ from: '/etc/sysctl.d/10-a.conf:1', ignoreErrors: true });
  });
});
