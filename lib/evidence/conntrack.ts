/**
 * The conntrack table of one host from `conntrack -L` (conntrack-tools), parsed into entries.
 * conntrack prints the entries on stdout and `... N flow entries have been shown.` on stderr,
 * exiting 0 even when the table is empty.
 */
import type { HostExec } from '../exec/netns.js';
import { CommandError, ValidationError, type ValidationProblem } from '../errors.js';
import { runOnHost } from './host-run.js';

export const CONNTRACK_LIST: readonly string[] = ['conntrack', '-L'];
export const CONNTRACK_COUNT: readonly string[] = ['conntrack', '-C'];

export interface ConntrackTuple {
  src: string;
  dst: string;
  sport?: number;
  dport?: number;
  /** ICMP type, code and id. */
  type?: number;
  code?: number;
  id?: number;
}

export interface ConntrackEntry {
  /** `ipv4` / `ipv6` when the output was `-o extended`. */
  l3?: string;
  proto: string;
  protoNum: number;
  /** Seconds until the entry expires. */
  timeout: number;
  /** TCP (also SCTP, DCCP) state, e.g. SYN_SENT, ESTABLISHED, TIME_WAIT. */
  state?: string;
  original: ConntrackTuple;
  reply: ConntrackTuple;
  mark: number;
  zone?: number;
  use?: number;
  /** Bracketed flags: UNREPLIED, ASSURED, OFFLOAD, ... (without brackets). */
  flags: string[];
  /** Any other key=value field (secctx, labels, delta-time, ...). */
  extra: Record<string, string>;
  /** The line as conntrack printed it. */
  raw: string;
}

const TUPLE_NUMBERS = ['sport', 'dport', 'type', 'code', 'id'] as const;
type TupleNumber = (typeof TUPLE_NUMBERS)[number];
const TUPLE_KEYS: ReadonlySet<string> = new Set(['src', 'dst', ...TUPLE_NUMBERS]);

function parseLine(line: string): ConntrackEntry | string {
  const tokens = line.trim().split(/\s+/);
  let i = 0;
  let l3: string | undefined;
  if (/^ipv[46]$/.test(tokens[0] ?? '')) {
    l3 = tokens[0];
    i = 2;
  }
  const proto = tokens[i];
  const protoNum = Number(tokens[i + 1]);
  const timeout = Number(tokens[i + 2]);
  if (!proto || !Number.isInteger(protoNum) || !Number.isInteger(timeout))
    return 'expected PROTO NUM TIMEOUT';
  i += 3;
  let state: string | undefined;
  if (tokens[i] && !tokens[i]?.includes('=') && !tokens[i]?.startsWith('[')) state = tokens[i++];

  const tuples: Partial<Record<string, string>>[] = [];
  const flags: string[] = [];
  const extra: Record<string, string> = {};
  let closed = false;
  for (const tok of tokens.slice(i)) {
    const flag = /^\[(.+)\]$/.exec(tok);
    if (flag) {
      flags.push(flag[1] as string);
      continue;
    }
    const eq = tok.indexOf('=');
    if (eq < 0) return `unexpected token ${tok}`;
    const key = tok.slice(0, eq);
    const value = tok.slice(eq + 1);
    if (!closed && key === 'src' && tuples.length < 2) tuples.push({});
    const cur = tuples[tuples.length - 1];
    if (!closed && cur && TUPLE_KEYS.has(key) && cur[key] === undefined) {
      cur[key] = value;
      continue;
    }
    if (tuples.length === 2) closed = true;
    extra[key] = value;
  }
  if (tuples.length !== 2) return 'expected an original and a reply tuple';
  const tuple = (t: Partial<Record<string, string>>): ConntrackTuple => {
    const out: ConntrackTuple = { src: t['src'] ?? '', dst: t['dst'] ?? '' };
    for (const k of TUPLE_NUMBERS) if (t[k] !== undefined) out[k as TupleNumber] = Number(t[k]);
    return out;
  };
  const num = (k: string): number | undefined => {
    const v = extra[k];
    if (v === undefined) return undefined;
    delete extra[k];
    return Number(v);
  };
  const mark = num('mark') ?? 0;
  const zone = num('zone');
  const use = num('use');
  return {
    ...(l3 !== undefined && { l3 }),
    proto,
    protoNum,
    timeout,
    ...(state !== undefined && { state }),
    original: tuple(tuples[0] as Partial<Record<string, string>>),
    reply: tuple(tuples[1] as Partial<Record<string, string>>),
    mark,
    ...(zone !== undefined && { zone }),
    ...(use !== undefined && { use }),
    flags,
    extra,
    raw: line,
  };
}

/** Parse `conntrack -L` (default or `-o extended`) output. */
export function parseConntrack(text: string, source = 'conntrack -L'): ConntrackEntry[] {
  const entries: ConntrackEntry[] = [];
  const problems: ValidationProblem[] = [];
  text.split('\n').forEach((line, n) => {
    if (line.trim() === '') return;
    const r = parseLine(line);
    if (typeof r === 'string') problems.push({ path: `line ${n + 1}`, value: line, message: r });
    else entries.push(r);
  });
  if (problems.length) throw new ValidationError(source, problems);
  return entries;
}

/** The `N flow entries have been shown.` count conntrack prints on stderr, if present. */
export function parseShownCount(stderr: string): number | undefined {
  const m = /(\d+) flow entries have been shown/.exec(stderr);
  return m ? Number(m[1]) : undefined;
}

/** List the conntrack table of `exec`'s host. */
export async function listConntrack(
  exec: HostExec,
  argv: readonly string[] = CONNTRACK_LIST,
): Promise<ConntrackEntry[]> {
  const res = await runOnHost(exec, argv);
  return parseConntrack(res.stdout, `${exec.host}: ${argv.join(' ')}`);
}

/** How many entries the conntrack table of `exec`'s host holds (`conntrack -C`). */
export async function countConntrack(exec: HostExec): Promise<number> {
  const res = await runOnHost(exec, CONNTRACK_COUNT);
  const n = Number(res.stdout.trim());
  if (!Number.isInteger(n))
    throw new CommandError(exec.wrap(CONNTRACK_COUNT), res.code, 'not a count', res.stdout);
  return n;
}

/** `tcp SYN_RECV 10.97.0.1:46827 -> 10.98.0.2:80 | reply 10.98.0.2:80 -> 10.97.0.1:46827 [UNREPLIED]`. */
export function formatConntrackEntry(e: ConntrackEntry): string {
  const t = (x: ConntrackTuple): string =>
    x.sport !== undefined ? `${x.src}:${x.sport} -> ${x.dst}:${x.dport}` : `${x.src} -> ${x.dst}`;
  const parts = [e.proto, ...(e.state ? [e.state] : []), t(e.original), '| reply', t(e.reply)];
  if (e.mark) parts.push(`mark=0x${e.mark.toString(16)}`);
  if (e.flags.length) parts.push(e.flags.map((f) => `[${f}]`).join(' '));
  return parts.join(' ');
}
