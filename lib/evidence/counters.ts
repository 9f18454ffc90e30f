/**
 * Kernel counters of one host, read in one process: /proc/net/snmp, /proc/net/netstat and
 * /proc/net/stat/rt_cache. Counters are named `<Group>.<Field>`: `Tcp.OutRsts`,
 * `TcpExt.IPReversePathFilter`, `rt_cache.in_martian_src`.
 *
 * snmp and netstat are per network namespace. rt_cache is NOT: the kernel keeps one per-CPU
 * `rt_cache_stat` for the whole machine and shows it in every namespace, so its counters say that a
 * martian was dropped somewhere on the machine, not where (see attribution.ts).
 */
import type { HostExec } from '../exec/netns.js';
import { CommandError, ValidationError } from '../errors.js';
import { runOnHost } from './host-run.js';

/** The files one counter snapshot reads, in this order. */
export const COUNTER_FILES = ['/proc/net/snmp', '/proc/net/netstat', '/proc/net/stat/rt_cache'] as const;

/** Prefix of counters that are machine-wide (shared by every namespace). */
export const MACHINE_WIDE_PREFIX = 'rt_cache.';

/** rt_cache columns that are gauges, not counters (never summed across CPUs). */
const RT_CACHE_GAUGES: ReadonlySet<string> = new Set(['entries']);

export interface CounterSnapshot {
  host: string;
  /** Date.now() when the read finished. */
  takenAt: number;
  /** Counter name → value; rt_cache counters summed over CPUs. */
  counters: Readonly<Record<string, number>>;
  /** rt_cache rows per CPU (column → value), kept so deltas survive per-CPU 32-bit wrap. */
  rtCachePerCpu: readonly Readonly<Record<string, number>>[];
  /** The argv that took it, runnable from the root namespace. */
  argv: readonly string[];
}

/** Counter name → (after − before); only counters that changed. */
export type CounterDelta = Readonly<Record<string, number>>;

/** A value of a delta, 0 when the counter did not change. */
export function deltaOf(delta: CounterDelta, name: string): number {
  return delta[name] ?? 0;
}

/**
 * Parse the `Group: names...` / `Group: values...` line pairs of /proc/net/snmp and
 * /proc/net/netstat (both use the same layout). Lines that are not part of a pair are ignored.
 */
export function parseProcNetPairs(text: string, source = 'proc/net'): Record<string, number> {
  const out: Record<string, number> = {};
  const lines = text.split('\n').filter((l) => /^\w+:/.test(l));
  const problems = [];
  for (let i = 0; i + 1 < lines.length; i += 2) {
    const [hGroup, ...names] = (lines[i] as string).trim().split(/\s+/);
    const [vGroup, ...values] = (lines[i + 1] as string).trim().split(/\s+/);
    if (hGroup !== vGroup || names.length !== values.length) {
      problems.push({
        path: `line ${i + 1}`,
        value: `${hGroup} / ${vGroup}`,
        message: 'unpaired header/values',
      });
      continue;
    }
    const group = (hGroup as string).slice(0, -1);
    names.forEach((name, j) => {
      const v = Number(values[j]);
      if (Number.isFinite(v)) out[`${group}.${name}`] = v;
    });
  }
  if (problems.length) throw new ValidationError(source, problems);
  return out;
}

/** Parse /proc/net/stat/rt_cache: a header of column names, then one row of hex values per CPU. */
export function parseRtCache(text: string): Record<string, number>[] {
  const lines = text.split('\n').filter((l) => l.trim() !== '');
  const header = lines.findIndex((l) => l.trimStart().startsWith('entries'));
  if (header < 0) return [];
  const names = (lines[header] as string).trim().split(/\s+/);
  const rows: Record<string, number>[] = [];
  for (const line of lines.slice(header + 1)) {
    const cells = line.trim().split(/\s+/);
    if (cells.length !== names.length || !cells.every((c) => /^[0-9a-fA-F]+$/.test(c))) break;
    const row: Record<string, number> = {};
    names.forEach((n, j) => (row[n] = parseInt(cells[j] as string, 16)));
    rows.push(row);
  }
  return rows;
}

/** Sum rt_cache rows over CPUs into `rt_cache.<column>` counters (gauges taken from the first row). */
export function sumRtCache(rows: readonly Readonly<Record<string, number>>[]): Record<string, number> {
  const out: Record<string, number> = {};
  for (const [i, row] of rows.entries()) {
    for (const [name, v] of Object.entries(row)) {
      const key = `rt_cache.${name}`;
      if (RT_CACHE_GAUGES.has(name)) {
        if (i === 0) out[key] = v;
      } else out[key] = (out[key] ?? 0) + v;
    }
  }
  return out;
}

export interface ParsedCounters {
  counters: Record<string, number>;
  rtCachePerCpu: Record<string, number>[];
}

/**
 * Parse the concatenated output of `cat /proc/net/snmp /proc/net/netstat /proc/net/stat/rt_cache`.
 * The files are told apart by their header lines: `Group:` pairs (snmp, netstat) and the
 * `entries ...` header of rt_cache.
 */
export function parseCounterDump(text: string): ParsedCounters {
  const lines = text.split('\n');
  const rtStart = lines.findIndex((l) => l.trimStart().startsWith('entries'));
  const pairText = (rtStart < 0 ? lines : lines.slice(0, rtStart)).join('\n');
  const rtCachePerCpu = rtStart < 0 ? [] : parseRtCache(lines.slice(rtStart).join('\n'));
  return {
    counters: { ...parseProcNetPairs(pairText), ...sumRtCache(rtCachePerCpu) },
    rtCachePerCpu,
  };
}

/** Read every counter of `exec`'s host in one process. */
export async function snapshotCounters(exec: HostExec): Promise<CounterSnapshot> {
  const argv = ['cat', ...COUNTER_FILES];
  // rt_cache may be missing (kernels without it): read what is there, require snmp and netstat.
  const res = await runOnHost(exec, argv, { allowFailure: true });
  const parsed = parseCounterDump(res.stdout);
  if (parsed.counters['Tcp.OutRsts'] === undefined || parsed.counters['TcpExt.ListenDrops'] === undefined) {
    throw new CommandError(
      exec.wrap(argv),
      res.code,
      res.stderr || 'no Tcp/TcpExt counters in output',
      res.stdout,
    );
  }
  return { host: exec.host, takenAt: Date.now(), ...parsed, argv: exec.wrap(argv) };
}

const U32 = 2 ** 32;

/**
 * after − before for every counter that changed. rt_cache counters are compared per CPU modulo
 * 2^32 (the kernel prints them as 32-bit values), so a wrapped CPU row does not show as negative.
 */
export function diffCounters(before: CounterSnapshot, after: CounterSnapshot): CounterDelta {
  const diff = new Map<string, number>();
  for (const name of new Set([...Object.keys(before.counters), ...Object.keys(after.counters)])) {
    diff.set(name, (after.counters[name] ?? 0) - (before.counters[name] ?? 0));
  }
  const cpus = Math.min(before.rtCachePerCpu.length, after.rtCachePerCpu.length);
  if (cpus > 0 && cpus === after.rtCachePerCpu.length) {
    for (const name of Object.keys(after.rtCachePerCpu[0] ?? {})) {
      if (RT_CACHE_GAUGES.has(name)) continue;
      let d = 0;
      for (let c = 0; c < cpus; c++) {
        const a = after.rtCachePerCpu[c]?.[name] ?? 0;
        const b = before.rtCachePerCpu[c]?.[name] ?? 0;
        d += (((a - b) % U32) + U32) % U32;
      }
      diff.set(`rt_cache.${name}`, d);
    }
  }
  const out: Record<string, number> = {};
  for (const name of [...diff.keys()].sort()) {
    const d = diff.get(name) as number;
    if (d !== 0) out[name] = d;
  }
  return out;
}
