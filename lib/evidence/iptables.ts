/**
 * iptables rule counters from `iptables-save -c`, and which rules matched between two snapshots.
 */
import type { HostExec } from '../exec/netns.js';
import { ValidationError, type ValidationProblem } from '../errors.js';
import { runOnHost } from './host-run.js';

export const IPTABLES_SAVE: readonly string[] = ['iptables-save', '-c'];

export interface IptablesChain {
  table: string;
  chain: string;
  /** ACCEPT / DROP for built-in chains, null for user-defined ones. */
  policy: string | null;
  /** Packets that fell through to the policy. */
  packets: number;
  bytes: number;
}

export interface IptablesRule {
  table: string;
  chain: string;
  /** 1-based position in its chain, as `iptables -L --line-numbers` shows it. */
  index: number;
  /** Everything after `-A CHAIN `, exactly as iptables-save printed it. */
  rule: string;
  packets: number;
  bytes: number;
  /** The `--comment` text, unquoted. */
  comment?: string;
  /** `-j TARGET` or `-g CHAIN`. */
  target?: string;
}

export interface IptablesRules {
  chains: IptablesChain[];
  rules: IptablesRule[];
}

export interface IptablesSnapshot extends IptablesRules {
  host: string;
  takenAt: number;
  argv: readonly string[];
}

/** Split an iptables-save rule into tokens: spaces separate, double quotes group, `\` escapes. */
export function tokenizeRule(text: string): string[] {
  const tokens: string[] = [];
  let cur = '';
  let inToken = false;
  let quoted = false;
  for (let i = 0; i < text.length; i++) {
    const ch = text[i] as string;
    if (ch === '\\' && i + 1 < text.length) {
      cur += text[++i];
      inToken = true;
    } else if (ch === '"') {
      quoted = !quoted;
      inToken = true;
    } else if (!quoted && /\s/.test(ch)) {
      if (inToken) tokens.push(cur);
      cur = '';
      inToken = false;
    } else {
      cur += ch;
      inToken = true;
    }
  }
  if (inToken) tokens.push(cur);
  return tokens;
}

function describeRule(rule: string): { comment?: string; target?: string } {
  const tokens = tokenizeRule(rule);
  const out: { comment?: string; target?: string } = {};
  for (let i = 0; i < tokens.length - 1; i++) {
    const t = tokens[i];
    if (t === '--comment' && out.comment === undefined) out.comment = tokens[i + 1];
    if ((t === '-j' || t === '--jump' || t === '-g' || t === '--goto') && out.target === undefined) {
      out.target = tokens[i + 1];
    }
  }
  return out;
}

/** Parse `iptables-save` output, with or without `-c` counters (absent counters read as 0). */
export function parseIptablesSave(text: string, source = 'iptables-save'): IptablesRules {
  const chains: IptablesChain[] = [];
  const rules: IptablesRule[] = [];
  const problems: ValidationProblem[] = [];
  const positions = new Map<string, number>();
  let table: string | null = null;
  text.split('\n').forEach((raw, n) => {
    const line = raw.trim();
    if (line === '' || line.startsWith('#')) return;
    if (line.startsWith('*')) {
      table = line.slice(1);
      return;
    }
    if (line === 'COMMIT') {
      table = null;
      return;
    }
    const path = `line ${n + 1}`;
    if (table === null) {
      problems.push({ path, value: line, message: 'outside a *table ... COMMIT block' });
      return;
    }
    const chainLine = /^:(\S+)\s+(\S+)(?:\s+\[(\d+):(\d+)\])?$/.exec(line);
    if (chainLine) {
      const [, chain, policy, p, b] = chainLine;
      chains.push({
        table,
        chain: chain as string,
        policy: policy === '-' ? null : (policy as string),
        packets: Number(p ?? 0),
        bytes: Number(b ?? 0),
      });
      return;
    }
    const ruleLine = /^(?:\[(\d+):(\d+)\]\s+)?-A\s+(\S+)\s*(.*)$/.exec(line);
    if (ruleLine) {
      const [, p, b] = ruleLine;
      const chain = ruleLine[3] as string;
      const rule = ruleLine[4] as string;
      const key = `${table}/${chain}`;
      const index = (positions.get(key) ?? 0) + 1;
      positions.set(key, index);
      rules.push({
        table,
        chain,
        index,
        rule,
        packets: Number(p ?? 0),
        bytes: Number(b ?? 0),
        ...describeRule(rule),
      });
      return;
    }
    problems.push({ path, value: line, message: 'expected a :CHAIN policy line or a [p:b] -A CHAIN rule' });
  });
  if (problems.length) throw new ValidationError(source, problems);
  return { chains, rules };
}

/** Read every table's rules and counters on `exec`'s host (one process). */
export async function snapshotRules(
  exec: HostExec,
  save: readonly string[] = IPTABLES_SAVE,
): Promise<IptablesSnapshot> {
  const res = await runOnHost(exec, save);
  return {
    host: exec.host,
    takenAt: Date.now(),
    ...parseIptablesSave(res.stdout, `${exec.host}: ${save.join(' ')}`),
    argv: exec.wrap(save),
  };
}

export interface RuleDelta {
  table: string;
  chain: string;
  index: number;
  rule: string;
  comment?: string;
  target?: string;
  /** Packets matched between the snapshots. */
  packets: number;
  bytes: number;
  /** The counters went down (the rule was re-applied): the delta is the counters since then. */
  reset?: boolean;
}

export interface PolicyDelta {
  table: string;
  chain: string;
  policy: string;
  packets: number;
  bytes: number;
}

export interface RulesDelta {
  /** Rules whose counters rose, in table/chain/position order. */
  rules: RuleDelta[];
  /** Built-in chains whose policy counters rose. */
  policies: PolicyDelta[];
}

function counterDelta(after: number, before: number | undefined): { d: number; reset: boolean } {
  if (before === undefined) return { d: after, reset: false };
  return after >= before ? { d: after - before, reset: false } : { d: after, reset: true };
}

/**
 * Which rules matched between two snapshots. A rule is identified by table, chain, text and the
 * how-many-th rule with that text it is, so rules inserted meanwhile do not shift the others;
 * a rule that did not exist before counts from zero.
 */
export function diffRules(before: IptablesRules, after: IptablesRules): RulesDelta {
  const ruleKeys = (rs: readonly IptablesRule[]): string[] => {
    const seen = new Map<string, number>();
    return rs.map((r) => {
      const k = `${r.table}\0${r.chain}\0${r.rule}`;
      const n = (seen.get(k) ?? 0) + 1;
      seen.set(k, n);
      return `${k}\0${n}`;
    });
  };
  const beforeByKey = new Map<string, IptablesRule>();
  ruleKeys(before.rules).forEach((k, i) => beforeByKey.set(k, before.rules[i] as IptablesRule));
  const rules: RuleDelta[] = [];
  ruleKeys(after.rules).forEach((k, i) => {
    const a = after.rules[i] as IptablesRule;
    const b = beforeByKey.get(k);
    const p = counterDelta(a.packets, b?.packets);
    const y = counterDelta(a.bytes, b?.bytes);
    if (p.d === 0 && y.d === 0) return;
    const { table, chain, index, rule, comment, target } = a;
    rules.push({
      table,
      chain,
      index,
      rule,
      ...(comment !== undefined && { comment }),
      ...(target !== undefined && { target }),
      packets: p.d,
      bytes: y.d,
      ...((p.reset || y.reset) && { reset: true }),
    });
  });
  const chainBefore = new Map(before.chains.map((c) => [`${c.table}/${c.chain}`, c]));
  const policies: PolicyDelta[] = [];
  for (const a of after.chains) {
    if (a.policy === null) continue;
    const b = chainBefore.get(`${a.table}/${a.chain}`);
    const p = counterDelta(a.packets, b?.packets).d;
    const y = counterDelta(a.bytes, b?.bytes).d;
    if (p !== 0 || y !== 0)
      policies.push({ table: a.table, chain: a.chain, policy: a.policy, packets: p, bytes: y });
  }
  return { rules, policies };
}

/** `filter/INPUT#3 -p tcp ... -j DROP ("comment")` for messages. */
export function formatRule(r: Pick<RuleDelta, 'table' | 'chain' | 'index' | 'rule'>): string {
  return `${r.table}/${r.chain}#${r.index}: -A ${r.chain} ${r.rule}`;
}
