import { expect } from 'chai';
import { sysctlRefusals } from './realize.js';

describe('lab/realize: sysctl refusals', () => {
  it('names every key the kernel refused, with its value and the reason in words', () => {
    // As procps sysctl prints them (some with exit status 0).
    const stderr = [
      'sysctl: cannot stat /proc/sys/net/core/netdev_max_backlog: No such file or directory',
      'sysctl: setting key "net.core.rmem_max": Invalid argument',
      'sysctl: setting key "net.ipv4.tcp_congestion_control": No such file or directory',
      'sysctl: permission denied on key "net.netfilter.nf_conntrack_max", ignoring',
      '',
    ].join('\n');
    const p = sysctlRefusals(stderr, [
      ['net.core.netdev_max_backlog', '1'],
      ['net.core.rmem_max', '1'],
      ['net.ipv4.tcp_congestion_control', 'nope'],
      ['net.netfilter.nf_conntrack_max', '5'],
      ['net.ipv4.ip_forward', '1'],
    ]);
    expect(p.map((x) => [x.path, x.value])).to.deep.equal([
      ['net.core.netdev_max_backlog', '"1"'],
      ['net.core.rmem_max', '"1"'],
      ['net.ipv4.tcp_congestion_control', '"nope"'],
      ['net.netfilter.nf_conntrack_max', '"5"'],
    ]);
    expect(p[0]!.message).to.match(/no such key in a network namespace/);
    expect(p[1]!.message).to.match(/refused the value \(Invalid argument\)/);
    expect(p[3]!.message).to.match(/read-only in a network namespace/);
    expect(sysctlRefusals('', [['net.ipv4.ip_forward', '1']])).to.deep.equal([]);
  });
});
