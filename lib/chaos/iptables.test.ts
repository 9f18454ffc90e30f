import { expect } from 'chai';
import { parseIptablesSave } from '../evidence/iptables.js';
import {
  emptyOwned,
  isPristineTable,
  ownedRules,
  syncOwnedScript,
  tablesToDrop,
  parseIptablesState,
} from './iptables.js';
import { readChaosTestdata } from './test-helpers.js';

type Model = Map<string, Map<string, { policy: string | null; rules: string[] }>>;

function modelOf(text: string): Model {
  const save = parseIptablesSave(text);
  const m: Model = new Map();
  for (const c of save.chains) {
    if (!m.has(c.table)) m.set(c.table, new Map());
    m.get(c.table)!.set(c.chain, { policy: c.policy, rules: [] });
  }
  for (const r of save.rules) m.get(r.table)!.get(r.chain)!.rules.push(r.rule);
  return m;
}

/** Applies `iptables-restore --noflush` input the way the kernel does, failing like iptables would. */
function restoreNoflush(m: Model, script: string): void {
  let t: Map<string, { policy: string | null; rules: string[] }> | undefined;
  const chain = (name: string) => {
    const c = t!.get(name);
    if (!c) throw new Error(`no chain ${name}`);
    return c;
  };
  for (const line of script.split('\n').filter(Boolean)) {
    const [op, name, ...rest] = line.split(' ');
    if (line.startsWith('*')) {
      if (!m.has(line.slice(1))) m.set(line.slice(1), new Map());
      t = m.get(line.slice(1));
    } else if (line === 'COMMIT') t = undefined;
    else if (line.startsWith(':')) {
      const [n, policy] = line.slice(1).split(' ');
      const c = t!.get(n!);
      if (c && policy === '-') c.rules = [];
      else if (!c) t!.set(n!, { policy: policy === '-' ? null : policy!, rules: [] });
    } else if (op === '-A') chain(name!).rules.push(rest.join(' '));
    else if (op === '-I') {
      const c = chain(name!);
      const pos = Number(rest[0]);
      if (pos < 1 || pos > c.rules.length + 1) throw new Error(`index of insertion too big: ${line}`);
      c.rules.splice(pos - 1, 0, rest.slice(1).join(' '));
    } else if (op === '-D') {
      const c = chain(name!);
      const i = c.rules.indexOf(rest.join(' '));
      if (i < 0) throw new Error(`bad rule (does a matching rule exist in that chain?): ${line}`);
      c.rules.splice(i, 1);
    } else if (op === '-X') {
      if (chain(name!).rules.length) throw new Error(`chain ${name} not empty`);
      for (const c of t!.values())
        if (c.rules.some((r) => r.endsWith(`-j ${name}`))) throw new Error(`chain ${name} still referenced`);
      t!.delete(name!);
    } else throw new Error(`unsupported line ${line}`);
  }
}

function render(m: Model): string {
  const out: string[] = [];
  for (const [table, chains] of [...m].sort())
    for (const [name, c] of [...chains].sort())
      out.push(`${table} ${name} ${c.policy ?? '-'}`, ...c.rules.map((r) => `  ${r}`));
  return out.join('\n');
}

const isKube = (c: string): boolean => c.startsWith('KUBE-');

describe('chaos: owned iptables chains', () => {
  const text = readChaosTestdata('iptables-save.txt');
  const save = parseIptablesSave(text);

  it('finds kube-proxy chains and the jumps into them with their positions', () => {
    const o = ownedRules(save, isKube);
    expect([...o.chains.keys()].sort()).to.deep.equal(['filter', 'nat']);
    expect(o.jumps.filter((j) => j.table === 'nat')).to.deep.equal([
      {
        table: 'nat',
        chain: 'PREROUTING',
        index: 1,
        rule: '-m comment --comment "kubernetes service portals" -j KUBE-SERVICES',
      },
      {
        table: 'nat',
        chain: 'OUTPUT',
        index: 1,
        rule: '-m comment --comment "kubernetes service portals" -j KUBE-SERVICES',
      },
      {
        table: 'nat',
        chain: 'POSTROUTING',
        index: 1,
        rule: '-m comment --comment "kubernetes postrouting rules" -j KUBE-POSTROUTING',
      },
    ]);
    // The CNI's chains are not kube-proxy's.
    expect([...o.chains.get('nat')!.keys()].some((c) => c.startsWith('AWS-'))).to.equal(false);
  });

  it('wipes kube-proxy and restores it to the exact original listing, leaving the CNI rules alone', () => {
    const m = modelOf(text);
    const saved = ownedRules(save, isKube);
    const wipe = syncOwnedScript(save, saved, emptyOwned());
    restoreNoflush(m, wipe);
    const wiped = render(m);
    expect(wiped).to.not.match(/KUBE-/);
    expect(wiped).to.match(/AWS-SNAT-CHAIN-0/);
    // The next sync reads the wiped namespace and puts the saved set back.
    const now = parseIptablesSave(
      [...m]
        .map(([table, chains]) =>
          [
            `*${table}`,
            ...[...chains].map(([n, c]) => `:${n} ${c.policy ?? '-'} [0:0]`),
            ...[...chains].flatMap(([n, c]) => c.rules.map((r) => `-A ${n} ${r}`)),
            'COMMIT',
          ].join('\n'),
        )
        .join('\n'),
    );
    restoreNoflush(m, syncOwnedScript(now, ownedRules(now, isKube), saved));
    expect(render(m)).to.equal(render(modelOf(text)));
  });

  it('re-inserts jumps between foreign rules at their recorded positions', () => {
    const t = [
      '*nat',
      ':PREROUTING ACCEPT [0:0]',
      ':MINE - [0:0]',
      '-A PREROUTING -i a -j ACCEPT',
      '-A PREROUTING -j MINE',
      '-A PREROUTING -i b -j ACCEPT',
      '-A PREROUTING -i c -j MINE',
      '-A MINE -j RETURN',
      'COMMIT',
    ].join('\n');
    const s = parseIptablesSave(t);
    const saved = ownedRules(s, (c) => c === 'MINE');
    const m = modelOf(t);
    restoreNoflush(m, syncOwnedScript(s, saved, emptyOwned()));
    expect(render(m)).to.equal(['nat PREROUTING ACCEPT', '  -i a -j ACCEPT', '  -i b -j ACCEPT'].join('\n'));
    const wiped = parseIptablesSave(
      '*nat\n:PREROUTING ACCEPT [0:0]\n-A PREROUTING -i a -j ACCEPT\n-A PREROUTING -i b -j ACCEPT\nCOMMIT\n',
    );
    restoreNoflush(m, syncOwnedScript(wiped, emptyOwned(), saved));
    expect(render(m)).to.equal(render(modelOf(t)));
  });

  it('clamps an insert position when foreign rules were removed meanwhile', () => {
    const s = parseIptablesSave('*raw\n:PREROUTING ACCEPT [0:0]\nCOMMIT\n');
    const want = emptyOwned();
    want.chains.set('raw', new Map([['X', ['-j DROP']]]));
    want.jumps.push({ table: 'raw', chain: 'PREROUTING', index: 5, rule: '-i eth0 -j X' });
    expect(syncOwnedScript(s, emptyOwned(), want)).to.equal(
      '*raw\n:X - [0:0]\n-A X -j DROP\n-I PREROUTING 1 -i eth0 -j X\nCOMMIT\n',
    );
    expect(syncOwnedScript(s, emptyOwned(), emptyOwned())).to.equal('');
  });

  it('drops only tables that are new and pristine, and only with the nf_tables backend', () => {
    const header = '# Generated by iptables-save v1.8.9 (nf_tables) on Sun Nov 22 04:21:11 2026\n';
    const now = parseIptablesState(
      `${header}*raw\n:PREROUTING ACCEPT [0:0]\n:OUTPUT ACCEPT [0:0]\nCOMMIT\n*nat\n:PREROUTING ACCEPT [0:0]\nCOMMIT\n*mangle\n:X - [0:0]\nCOMMIT\n`,
      'test',
    );
    expect(isPristineTable(now.save, 'raw')).to.equal(true);
    expect(isPristineTable(now.save, 'mangle')).to.equal(false);
    expect(tablesToDrop(new Set(['nat']), now)).to.deep.equal(['raw']);
    expect(tablesToDrop(new Set(['nat']), { ...now, nft: false })).to.deep.equal([]);
  });
});
