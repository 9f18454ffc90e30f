/**
 * iptables rules as data, in iptables-save syntax, so that several writers (a CNI profile,
 * kube-proxy, the fabric) contribute to one namespace and the lab applies them with a single
 * `iptables-restore`. Rules are kept in the order they were added, per table.
 */
export type TableName = 'raw' | 'mangle' | 'nat' | 'filter';
export const TABLE_ORDER: readonly TableName[] = ['raw', 'mangle', 'nat', 'filter'];
const BUILTIN: Record<TableName, readonly string[]> = {
  raw: ['PREROUTING', 'OUTPUT'],
  mangle: ['PREROUTING', 'INPUT', 'FORWARD', 'OUTPUT', 'POSTROUTING'],
  nat: ['PREROUTING', 'INPUT', 'OUTPUT', 'POSTROUTING'],
  filter: ['INPUT', 'FORWARD', 'OUTPUT'],
};

export class Ruleset {
  private readonly chains = new Map<TableName, Set<string>>();
  private readonly rules = new Map<TableName, string[]>();

  /** Declare a custom chain (idempotent). Built-in chains need no declaration. */
  chain(table: TableName, name: string): this {
    if (!BUILTIN[table].includes(name)) this.set(this.chains, table, () => new Set()).add(name);
    return this;
  }

  /** Append a rule: `rule` is everything after `-A CHAIN`, e.g. `-i eth0 -j ACCEPT`. */
  append(table: TableName, chain: string, rule: string): this {
    this.chain(table, chain);
    this.set(this.rules, table, () => []).push(`-A ${chain} ${rule}`);
    return this;
  }

  /** Add every chain and rule of `other` after this set's own. */
  merge(other: Ruleset): this {
    for (const t of TABLE_ORDER) {
      for (const c of other.chains.get(t) ?? []) this.chain(t, c);
      for (const r of other.rules.get(t) ?? []) this.set(this.rules, t, () => []).push(r);
    }
    return this;
  }

  isEmpty(): boolean {
    return TABLE_ORDER.every((t) => !this.rules.get(t)?.length && !this.chains.get(t)?.size);
  }

  /** The rules of one table as iptables-save prints them (`-A ...` lines). */
  lines(table: TableName): readonly string[] {
    return this.rules.get(table) ?? [];
  }

  /** Input for `iptables-restore` (which flushes only the tables it names). */
  render(): string {
    const out: string[] = [];
    for (const t of TABLE_ORDER) {
      const custom = this.chains.get(t);
      const rules = this.rules.get(t);
      if (!custom?.size && !rules?.length) continue;
      out.push(`*${t}`);
      for (const c of BUILTIN[t]) out.push(`:${c} ACCEPT [0:0]`);
      for (const c of custom ?? []) out.push(`:${c} - [0:0]`);
      out.push(...(rules ?? []), 'COMMIT');
    }
    return out.length ? out.join('\n') + '\n' : '';
  }

  private set<K, V>(m: Map<K, V>, k: K, make: () => V): V {
    let v = m.get(k);
    if (v === undefined) m.set(k, (v = make()));
    return v;
  }
}
