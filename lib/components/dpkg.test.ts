import { expect } from 'chai';
import { readFile } from 'node:fs/promises';
import { dependencyClosure, parseDpkgStatus } from './dpkg.js';

const fixture = (): Promise<string> =>
  readFile(new URL('../../../lib/components/testdata/bookworm-dpkg-status', import.meta.url), 'utf8');

describe('components: dpkg database', () => {
  it('reads installed packages with their dependencies, alternatives and version constraints stripped', async () => {
    const s = parseDpkgStatus(await fixture());
    const ipt = s.get('iptables')!;
    expect(ipt.arch).to.equal('amd64');
    expect(ipt.depends).to.deep.include(['libip4tc2']);
    expect(ipt.depends).to.deep.include(['netbase']);
    expect(s.has('not-a-package')).to.equal(false);
  });

  it("closes kube-proxy's netfilter tools over Pre-Depends and Depends, leaving unrelated packages out", async () => {
    const s = parseDpkgStatus(await fixture());
    const c = dependencyClosure(s, ['iptables', 'nftables', 'conntrack']);
    expect(c).to.deep.equal(
      [
        'conntrack',
        'gcc-12-base',
        'iptables',
        'libbsd0',
        'libc6',
        'libedit2',
        'libgcc-s1',
        'libgmp10',
        'libip4tc2',
        'libip6tc2',
        'libjansson4',
        'libmd0',
        'libmnl0',
        'libnetfilter-conntrack3',
        'libnfnetlink0',
        'libnftables1',
        'libnftnl11',
        'libtinfo6',
        'libxtables12',
        'netbase',
        'nftables',
      ].sort(),
    );
    expect(c).to.not.include('systemd');
  });

  it('resolves alternatives and virtual packages to what is installed; a missing root is an error', () => {
    const s = parseDpkgStatus(
      [
        'Package: a\nStatus: install ok installed\nArchitecture: all\nDepends: missing | b, virt (>= 1), c:any',
        'Package: b\nStatus: install ok installed\nArchitecture: all',
        'Package: p\nStatus: install ok installed\nArchitecture: all\nProvides: virt (= 2)',
        'Package: c\nStatus: install ok installed\nArchitecture: all',
        'Package: gone\nStatus: deinstall ok config-files\nArchitecture: all',
      ].join('\n\n'),
    );
    expect(dependencyClosure(s, ['a'])).to.deep.equal(['a', 'b', 'c', 'p']);
    expect(() => dependencyClosure(s, ['gone'])).to.throw('package gone is not installed');
  });
});
