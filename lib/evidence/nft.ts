/**
 * nftables rule counters of the tables iptables does not manage (e.g. the VPC CNI's `table ip
 * aws-cni` with the nf_tables backend), in the shape of iptables rules so diffRules takes both.
 * Only rules with a `counter` statement have counters; the table is named `nft <family> <name>`.
 */
import { foreignNftTables } from './dump.js';
import type { IptablesRule, IptablesRules } from './iptables.js';

export const NFT_LIST: readonly string[] = ['nft', 'list', 'ruleset'];

/** `table ip aws-cni { chain snat-mark { counter packets 3 bytes 180 ct mark set ... } }` -> rules. */
export function parseNftCounters(ruleset: string, stderr = ''): IptablesRules {
  const rules: IptablesRule[] = [];
  let table = '';
  let chain = '';
  let index = 0;
  for (const raw of foreignNftTables(ruleset, stderr).split('\n')) {
    const line = raw.trim();
    const t = /^table (\S+) (\S+) \{$/.exec(line);
    if (t) {
      table = `nft ${t[1]} ${t[2]}`;
      continue;
    }
    const c = /^chain (\S+) \{$/.exec(line);
    if (c) {
      chain = c[1]!;
      index = 0;
      continue;
    }
    if (!line || line === '}' || /^(type|policy) /.test(line)) continue;
    index++;
    const m = /\bcounter packets (\d+) bytes (\d+)\s*/.exec(line);
    if (!m) continue;
    const rule = (line.slice(0, m.index) + line.slice(m.index + m[0].length)).replace(/\s+/g, ' ').trim();
    const target = /\b(jump|goto) (\S+)|\b(return|accept|drop)\s*$/.exec(rule);
    rules.push({
      table,
      chain,
      index,
      rule,
      packets: Number(m[1]),
      bytes: Number(m[2]),
      ...(target && { target: target[2] ?? target[3]!.toUpperCase() }),
    });
  }
  return { chains: [], rules };
}
