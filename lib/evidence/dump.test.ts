import { expect } from 'chai';
import {
  collectHostState,
  effectiveSysctls,
  foreignNftTables,
  parseSysctl,
  renderHostState,
} from './dump.js';
import { readTestdata, ScriptedExec } from './test-helpers.js';

const sysctl = readTestdata('sysctl.txt');
const nft = readTestdata('nft-list-ruleset.txt');
const nftErr = readTestdata('nft-list-ruleset.stderr.txt');

describe('evidence/dump', () => {
  it('parses sysctl output (real sample) and combines all/iface as the kernel does', () => {
    const s = parseSysctl(sysctl);
    expect(s['net.ipv4.conf.all.rp_filter']).to.equal('1');
    expect(s['net.ipv4.ip_forward']).to.equal('0');
    const eff = effectiveSysctls(s);
    expect(eff.map((e) => e.iface)).to.deep.equal(['lo', 'v0', 'v1', 'v1p']);
    // all.rp_filter=1 makes every interface at least strict; v0's own 2 wins as the maximum.
    expect(eff.map((e) => e.rpFilter)).to.deep.equal([1, 2, 1, 1]);
    expect(eff.map((e) => e.acceptLocal)).to.deep.equal([false, false, true, false]);
    // all.src_valid_mark=1 turns it on everywhere (OR).
    expect(eff.every((e) => e.srcValidMark)).to.equal(true);
    const loose = effectiveSysctls({
      'net.ipv4.conf.all.rp_filter': '1',
      'net.ipv4.conf.eth1.rp_filter': '2',
      'net.ipv4.conf.all.accept_local': '0',
      'net.ipv4.conf.eth1.accept_local': '1',
      'net.ipv4.conf.all.forwarding': '1',
      'net.ipv4.conf.eth1.forwarding': '0',
    });
    expect(loose).to.deep.equal([
      {
        iface: 'eth1',
        rpFilter: 2,
        acceptLocal: true,
        srcValidMark: false,
        routeLocalnet: false,
        proxyArp: false,
        forwarding: false,
      },
    ]);
  });

  it('keeps only nftables tables iptables does not manage (real sample)', () => {
    const foreign = foreignNftTables(nft, nftErr);
    expect(foreign).to.match(/^table inet rpt_test \{/);
    expect(foreign).to.contain('tcp dport 84 counter packets 0 bytes 0 drop');
    expect(foreign).to.not.contain('table ip filter');
    // Without nft's warnings, iptables' table names are hidden anyway.
    expect(foreignNftTables(nft)).to.equal(foreign);
  });

  it('collects every section concurrently, one process each, keeping failures as section errors', async () => {
    const exec = new ScriptedExec('node/b', {
      ip: (argv) => ({ stdout: `output of ${argv.join(' ')}\n` }),
      'iptables-save': { stdout: readTestdata('iptables-save-c.txt') },
      nft: { stdout: nft, stderr: nftErr },
      sysctl: { stdout: sysctl },
    });
    const state = await collectHostState(exec);
    expect(exec.calls).to.have.length(9);
    expect(state.sections.map((s) => s.name)).to.deep.equal([
      'addresses',
      'links',
      'rules',
      'routes',
      'neighbours',
      'iptables',
      'nftables',
      'conntrack',
      'sysctls',
    ]);
    const byName = Object.fromEntries(state.sections.map((s) => [s.name, s]));
    expect(byName['routes']?.text).to.equal('output of ip route show table all');
    expect(byName['conntrack']?.error).to.match(/conntrack is not installed/);
    expect(byName['sysctls']?.text).to.contain('v0: rp_filter=2 (loose) accept_local=0 src_valid_mark=1');
    expect(state.sysctls['net.ipv4.conf.v0.rp_filter']).to.equal('2');
    const text = renderHostState(state);
    expect(text).to.contain('==== node/b: routes ====\n$ scripted node/b ip route show table all\n');
    expect(text).to.contain('ERROR: node/b: conntrack is not installed');
  });
});
