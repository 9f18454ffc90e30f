/**
 * Owning a set of iptables chains inside a namespace others also write to: kube-proxy's KUBE-*
 * chains, or a fault's own RPCHAOS-* chain. The owned chains and the jumps into them from other
 * chains are read from `iptables-save`, and one `iptables-restore --noflush` script turns the
 * current owned set into a desired one, leaving every other rule where it is. Jumps are put back
 * at their recorded positions, so restoring a saved set reproduces the original listing exactly.
 */
import type { HostExec } from '../exec/netns.js';
import { parseIptablesSave, type IptablesRules } from '../evidence/iptables.js';

export interface OwnedJump {
  table: string;
  /** The (not owned) chain holding the jump. */
  chain: string;
  /** 1-based position in that chain when recorded; where it is inserted back. */
  index: number;
  /** Everything after `-A CHAIN `. */
  rule: string;
}

export interface OwnedRules {
  /** table → owned chain → its rules (text after `-A CHAIN `), in iptables-save order. */
  chains: Map<string, Map<string, string[]>>;
  /** Rules in other chains whose target is an owned chain. */
  jumps: OwnedJump[];
}

export function emptyOwned(): OwnedRules {
  return { chains: new Map(), jumps: [] };
}

/** The chains `owns` accepts and the jumps into them, from a parsed iptables-save. */
export function ownedRules(save: IptablesRules, owns: (chain: string) => boolean): OwnedRules {
  const out = emptyOwned();
  for (const c of save.chains) {
    if (c.policy !== null || !owns(c.chain)) continue;
    let t = out.chains.get(c.table);
    if (!t) out.chains.set(c.table, (t = new Map()));
    t.set(c.chain, []);
  }
  for (const r of save.rules) {
    const mine = out.chains.get(r.table)?.get(r.chain);
    if (mine) mine.push(r.rule);
    else if (r.target !== undefined && out.chains.get(r.table)?.has(r.target))
      out.jumps.push({ table: r.table, chain: r.chain, index: r.index, rule: r.rule });
  }
  return out;
}

export function isOwnedEmpty(o: OwnedRules): boolean {
  return o.jumps.length === 0 && [...o.chains.values()].every((t) => t.size === 0);
}

/** Number of owned chains and rules, for labels and logs. */
export function countOwned(o: OwnedRules): { chains: number; rules: number; jumps: number } {
  let chains = 0;
  let rules = 0;
  for (const t of o.chains.values())
    for (const r of t.values()) {
      chains++;
      rules += r.length;
    }
  return { chains, rules, jumps: o.jumps.length };
}

/**
 * `iptables-restore --noflush` input turning the owned set `current` (as read from the namespace
 * now, with `save` the full listing it came from) into `desired`. Per table: declare (and so flush)
 * every chain involved, delete the current jumps, append the desired rules, insert the desired jumps
 * at their positions in ascending order, delete chains no longer wanted. Empty string: no change.
 */
export function syncOwnedScript(save: IptablesRules, current: OwnedRules, desired: OwnedRules): string {
  const tables = new Set([
    ...current.chains.keys(),
    ...desired.chains.keys(),
    ...current.jumps.map((j) => j.table),
    ...desired.jumps.map((j) => j.table),
  ]);
  const out: string[] = [];
  for (const table of [...tables].sort()) {
    const cur = current.chains.get(table) ?? new Map<string, string[]>();
    const want = desired.chains.get(table) ?? new Map<string, string[]>();
    const curJumps = current.jumps.filter((j) => j.table === table);
    const wantJumps = desired.jumps
      .filter((j) => j.table === table)
      .sort((a, b) => (a.chain === b.chain ? a.index - b.index : a.chain < b.chain ? -1 : 1));
    const gone = [...cur.keys()].filter((c) => !want.has(c));
    if (cur.size === 0 && want.size === 0 && curJumps.length === 0 && wantJumps.length === 0) continue;
    out.push(`*${table}`);
    for (const c of [...want.keys(), ...gone]) out.push(`:${c} - [0:0]`);
    for (const j of curJumps) out.push(`-D ${j.chain} ${j.rule}`);
    for (const [c, rules] of want) for (const r of rules) out.push(`-A ${c} ${r}`);
    // Length of each jumping chain once the current jumps are gone, to keep insert positions valid.
    const length = new Map<string, number>();
    for (const r of save.rules)
      if (r.table === table && !cur.has(r.chain)) length.set(r.chain, (length.get(r.chain) ?? 0) + 1);
    for (const j of curJumps) length.set(j.chain, (length.get(j.chain) ?? 1) - 1);
    for (const j of wantJumps) {
      const len = length.get(j.chain) ?? 0;
      out.push(`-I ${j.chain} ${Math.min(j.index, len + 1)} ${j.rule}`);
      length.set(j.chain, len + 1);
    }
    for (const c of gone) out.push(`-X ${c}`);
    out.push('COMMIT');
  }
  return out.length ? out.join('\n') + '\n' : '';
}

/** Tables listed by an iptables-save text. */
export function savedTables(save: IptablesRules): Set<string> {
  return new Set(save.chains.map((c) => c.table));
}

/** True when `table` holds no rule, no user chain and only ACCEPT policies: as if it did not exist. */
export function isPristineTable(save: IptablesRules, table: string): boolean {
  return (
    save.rules.every((r) => r.table !== table) &&
    save.chains.filter((c) => c.table === table).every((c) => c.policy === 'ACCEPT')
  );
}

/** What a fault needs from a namespace's iptables before changing it. */
export interface IptablesState {
  save: IptablesRules;
  /** The backend iptables-save reported (`nf_tables` or `legacy`). */
  nft: boolean;
  text: string;
}

export const IPTABLES_SAVE_ARGV: readonly string[] = ['iptables-save'];
export const IPTABLES_RESTORE_NOFLUSH: readonly string[] = ['iptables-restore', '-w', '--noflush'];

export function parseIptablesState(text: string, source: string): IptablesState {
  return { save: parseIptablesSave(text, source), nft: /\(nf_tables\)/.test(text), text };
}

export async function readIptables(exec: HostExec): Promise<IptablesState> {
  const res = await exec.run(IPTABLES_SAVE_ARGV);
  return parseIptablesState(res.stdout, `${exec.host}: iptables-save`);
}

/**
 * Tables that exist now but did not before and hold nothing: iptables-nft creates a table on first
 * use and never removes it; deleting it restores the namespace's nftables state exactly.
 */
export function tablesToDrop(before: ReadonlySet<string>, now: IptablesState): string[] {
  if (!now.nft) return [];
  return [...savedTables(now.save)].filter((t) => !before.has(t) && isPristineTable(now.save, t)).sort();
}
