/**
 * A cell: one configuration of a suite's matrix, as plain data. It names the topology, the flow to
 * probe and what the kernel is expected to do with it (outcome, source address seen, evidence),
 * and explains the mechanism. The suites build tables of cells; the runner measures them.
 */
import { ValidationError, type ValidationProblem } from '../errors.js';
import { describeExpectation, expectationProblems, percent, type Expectation } from '../verdict/index.js';
import type { Outcome } from '../traffic/outcome.js';
import type { DropReason } from '../evidence/attribution.js';
import type { Configuration } from './result.js';
import type { FaultSpecInput } from '../model/fault-schema.js';
import type { CellSource } from './reproduce.js';

/** Where the flow goes. */
export type Destination =
  /** Straight to a pod's address. */
  | { pod: string; port: number }
  /** A Service: its ClusterIP, a node's NodePort (`node` names the node) or its first LoadBalancer IP. */
  | { service: string; via: 'clusterIP' | 'nodePort' | 'loadBalancerIP'; node?: string; port?: string }
  /**
   * An NLB listener. `zones` picks the NLB node addresses the client resolves (DNS round robin):
   * default every zone; attempts are spread over them, concurrently, with the same source ports.
   */
  | { nlb: string; port: number; zones?: string[] }
  /** An internet client's public address (pod egress through the internet gateway). */
  | { internet: string; port: number };

export interface Flow {
  /** The client: a pod, an internet client or a node (by name). */
  from: string;
  to: Destination;
  kind?: 'tcp' | 'http';
  /** Attempts for all/none expectations (per destination address); default 40. */
  attempts?: number;
  /** Connect deadline; default 250 ms (lab round trips are microseconds; a lost SYN waits 1 s). */
  deadlineMs?: number;
  /** Source ports [lo, hi] (narrow ranges make 5-tuples repeat). */
  localPortRange?: readonly [number, number];
  /** Keep connected attempts open this long, so flows from several destinations overlap. */
  holdMs?: number;
  /** Attempts in flight at once per destination; default 16. */
  concurrency?: number;
}

/** The address the servers must see as the connection's source. */
export type SourceSeen =
  /** The client's own address (for an internet client: its public address). */
  | 'client'
  /** An address of the named node, private or public (masquerade / SNAT to the node). */
  | { node: string }
  /** An address of any node (Cluster policy: the node the load balancer picked masquerades). */
  | { anyNode: true }
  /** An address of any NLB node of the load balancer (client IP preservation off). */
  | { nlb: string };

export type EvidenceExpectation =
  /** The named host sent TCP resets (Tcp.OutRsts rose there). */
  | { kind: 'resets-from'; host: string }
  /** The named host dropped packets for this reason (rp_filter counter, source/dest check rule, ...). */
  | { kind: 'drop'; host: string; reason: DropReason; eni?: string }
  /** A kernel counter (`TcpExt.TCPSYNChallenge`) rose on one of the hosts (any host when absent). */
  | { kind: 'counter-rose'; counter: string; hosts?: string[] }
  /** Two of the NLB's nodes forwarded one 5-tuple to the same target (their conntrack tables). */
  | { kind: 'nlb-collision'; nlb: string }
  /** The named host dropped nothing for this reason (what separates two mechanisms). */
  | { kind: 'no-drop'; host: string; reason: DropReason };

export interface CellExpect {
  /** What the attempts come to; a chaos cell is judged by its bounds instead and may leave it out. */
  outcome?: Expectation<Outcome>;
  /** Checked over connected attempts. */
  sourceSeen?: SourceSeen;
  evidence?: EvidenceExpectation[];
}

/**
 * How many of a set of a chaos cell's attempts fail (anything but connected): every one, none, at
 * least one, or a share, judged like a rate outcome with its 95% interval (pass inside the band,
 * fail outside, inconclusive across).
 */
export type FailureBound = 'all' | 'none' | 'some' | { min: number; max: number };

/** What a chaos cell's timeline must show, each bound from the fault's mechanism. */
export interface ChaosBounds {
  /** Attempts whose lifetime overlaps no fault window; default `none`. */
  outside?: FailureBound;
  /** Attempts started while the faults were surely in effect (apply finished, revert not started). */
  inside?: FailureBound;
  /** No attempt started after the last revert finished fails (default true): recovery is immediate. */
  recovers?: boolean;
  /**
   * The effect lasts until an NLB's health checks take a target out: attempts started between the
   * apply and the NLB node's rule change fail in part (`some`), none after it.
   */
  endsWhenUnhealthy?: { nlb: string; target: string };
  /** Long-lived connections: how many end in each state (`all`, `some`, `none`). */
  longLived?: Partial<Record<'survived' | 'reset' | 'timeout' | 'closed', 'all' | 'some' | 'none'>>;
}

/** A fault on the chaos schedule: applied `atMs` into the traffic, reverted `durationMs` later. */
export interface ScheduledFaultSpec {
  atMs: number;
  durationMs: number;
  fault: FaultSpecInput;
}

/** A chaos cell: steady traffic along the flow while faults are applied and reverted on a schedule. */
export interface ChaosSpec {
  durationMs: number;
  /** Short connections: `attempts` every `everyMs`, connect deadline `deadlineMs`. */
  batch?: { attempts?: number; everyMs?: number; deadlineMs?: number };
  longLived?: { connections: number; intervalMs?: number; replyTimeoutMs?: number };
  /** Faults as data; each run builds fresh Fault objects from them. */
  faults: ScheduledFaultSpec[];
  bounds: ChaosBounds;
}

export interface CellSpec {
  suite: string;
  id: string;
  /** Human title without tags; tags are generated (cellTags). */
  title: string;
  seeds: string[];
  configuration: Configuration;
  /** A topology document (validated when the cell runs, and by the suites' unit tests). */
  topology: unknown;
  flow: Flow;
  expect: CellExpect;
  /** Does the path deliver connections in this configuration? */
  pathWorks: boolean;
  /** The mechanism, one or two sentences. */
  explanation: string;
  /**
   * What breaks the path, in a word or two, for the report's matrix (`rp_filter`, `source/dest
   * check`, `hairpin reset`, `5-tuple collision`, ...); cells whose path works leave it out.
   */
  mechanism?: string;
  /** Marks the cell [Disruptive] (it injects faults). */
  disruptive?: boolean;
  /** A chaos cell (tagged [Chaos] and [Disruptive]); `expect.outcome` then judges the whole timeline. */
  chaos?: ChaosSpec;
  /** Extra tags, e.g. `Chaos`. */
  extraTags?: string[];
}

export interface SuiteSpec {
  id: string;
  title: string;
  seeds: string[];
  /** A suite loaded from a file names it (reproduce lines then name the file); built-in suites leave it out. */
  source?: CellSource;
  /** Matrix layout for the report: configuration keys as rows and as columns. */
  rows: string[];
  columns: string[];
  cells: CellSpec[];
}

const DEFAULT_ATTEMPTS = 40;

/** Tags from data: Conformance, Seed:NNN, Slow (rate cells or cells expecting timeouts), Disruptive. */
export function cellTags(cell: CellSpec): string[] {
  const tags = ['Conformance', ...cell.seeds.map((s) => `Seed:${s}`)];
  const e = cell.expect.outcome;
  const waits = e !== undefined && e.outcome === 'timeout' && e.kind !== 'none';
  if (e?.kind === 'rate' || waits) tags.push('Slow');
  if (cell.chaos) tags.push('Chaos');
  if (cell.disruptive || cell.chaos) tags.push('Disruptive');
  tags.push(...(cell.extraTags ?? []));
  return tags;
}

/** `title [Conformance] [Seed:000] ...`: the mocha test title, what --grep matches. */
export function taggedTitle(cell: CellSpec): string {
  return `${cell.title} ${cellTags(cell)
    .map((t) => `[${t}]`)
    .join(' ')}`;
}

/** The mocha test title: `<id>: <title> [tags]`. */
export function testTitle(cell: CellSpec): string {
  return `${cell.id}: ${taggedTitle(cell)}`;
}

/** The mocha suite (describe) title: `<suite id>: <suite title>`. */
export function suiteTitle(suite: Pick<SuiteSpec, 'id' | 'title'>): string {
  return `${suite.id}: ${suite.title}`;
}

/** What mocha's --grep matches a test against: the describe and test titles. */
export function fullTitle(suite: Pick<SuiteSpec, 'id' | 'title'>, cell: CellSpec): string {
  return `${suiteTitle(suite)} ${testTitle(cell)}`;
}

export function escapeRegExp(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

export function cellKey(cell: { suite: string; id: string }): string {
  return `${cell.suite}/${cell.id}`;
}

export function attemptsOf(flow: Flow): number {
  return flow.attempts ?? DEFAULT_ATTEMPTS;
}

/** Structural problems of a suite table (ids, expectations, layout keys); topology is checked separately. */
export function suiteProblems(suite: SuiteSpec): ValidationProblem[] {
  const problems: ValidationProblem[] = [];
  const seen = new Set<string>();
  suite.cells.forEach((c, i) => {
    const at = `${suite.id}.cells[${i}]`;
    if (c.suite !== suite.id)
      problems.push({ path: `${at}.suite`, value: c.suite, message: `must be ${suite.id}` });
    if (!/^[a-z0-9][a-z0-9.=_-]*$/.test(c.id))
      problems.push({ path: `${at}.id`, value: c.id, message: 'must be lowercase letters, digits, . = _ -' });
    if (seen.has(c.id))
      problems.push({ path: `${at}.id`, value: c.id, message: 'must be unique in the suite' });
    seen.add(c.id);
    if (c.expect.outcome) problems.push(...expectationProblems(c.expect.outcome, `${at}.expect.outcome`));
    else if (!c.chaos)
      problems.push({
        path: `${at}.expect.outcome`,
        value: 'missing',
        message: 'a cell without chaos needs an outcome (all, none or rate)',
      });
    if (c.chaos) problems.push(...chaosProblems(c.chaos, `${at}.chaos`));
    for (const k of [...suite.rows, ...suite.columns])
      if (!(k in c.configuration))
        problems.push({ path: `${at}.configuration.${k}`, value: 'missing', message: 'layout key absent' });
    const attempts = attemptsOf(c.flow);
    if (!(Number.isInteger(attempts) && attempts > 0))
      problems.push({
        path: `${at}.flow.attempts`,
        value: String(attempts),
        message: 'must be a positive integer',
      });
  });
  return problems;
}

export function validateSuite(suite: SuiteSpec): SuiteSpec {
  const problems = suiteProblems(suite);
  if (problems.length) throw new ValidationError(`suite ${suite.id}`, problems);
  return suite;
}

/** Problems of a chaos schedule and its bounds: faults reverted in time, bands that are proportions. */
export function chaosProblems(c: ChaosSpec, at: string): ValidationProblem[] {
  const problems: ValidationProblem[] = [];
  c.faults.forEach((f, i) => {
    if (f.atMs + f.durationMs >= c.durationMs)
      problems.push({
        path: `${at}.faults[${i}]`,
        value: `${f.atMs} + ${f.durationMs} ms`,
        message: `must be reverted before the traffic ends (${c.durationMs} ms)`,
      });
  });
  for (const k of ['outside', 'inside'] as const) {
    const b = c.bounds[k];
    if (b !== undefined && typeof b === 'object' && !(b.min >= 0 && b.max <= 1 && b.min <= b.max))
      problems.push({
        path: `${at}.bounds.${k}`,
        value: JSON.stringify(b),
        message: 'a failure band needs 0 <= min <= max <= 1',
      });
  }
  return problems;
}

/** One line for humans: `all connected; server sees the client; resets from netshoot`. */
export function describeCellExpect(e: CellExpect, chaos?: ChaosSpec): string {
  const parts = e.outcome ? [describeExpectation(e.outcome)] : [];
  if (chaos) parts.push(describeBounds(chaos.bounds));
  if (e.sourceSeen) parts.push(`server sees ${describeSource(e.sourceSeen)}`);
  for (const ev of e.evidence ?? []) parts.push(describeEvidenceExpectation(ev));
  return parts.join('; ');
}

/** `failures: none outside the fault, all while it is in effect, none after revert` */
export function describeBounds(b: ChaosBounds): string {
  const parts = [`failures: ${describeFailureBound(b.outside ?? 'none')} outside the fault`];
  if (b.inside !== undefined) parts.push(`${describeFailureBound(b.inside)} while it is in effect`);
  if (b.endsWhenUnhealthy)
    parts.push(
      `some until ${b.endsWhenUnhealthy.nlb} takes ${b.endsWhenUnhealthy.target} out after its health checks, none after`,
    );
  if (b.recovers ?? true) parts.push('none after revert');
  for (const [state, n] of Object.entries(b.longLived ?? {})) parts.push(`${n} long-lived ${state}`);
  return parts.join(', ');
}

export function describeFailureBound(b: FailureBound): string {
  if (typeof b === 'string') return b;
  return `${pct(b.min)}-${pct(b.max)}`;
}

const pct = percent;

export function describeSource(s: SourceSeen): string {
  if (s === 'client') return 'the client';
  if ('node' in s) return `node ${s.node}`;
  if ('anyNode' in s) return 'a node';
  return `an NLB node of ${s.nlb}`;
}

/**
 * What breaks a cell's path, in a word or two, for the report: the cell's own `mechanism`, else
 * what its required evidence names (rp_filter, source/dest check, a dropping rule, a collision).
 * Undefined for a path that works.
 */
export function mechanismOf(c: CellSpec): string | undefined {
  if (c.mechanism) return c.mechanism;
  if (c.pathWorks) return undefined;
  const words = (c.expect.evidence ?? []).flatMap((e) =>
    e.kind === 'drop'
      ? [
          e.reason === 'source-dest-check'
            ? 'source/dest check'
            : e.reason === 'rule'
              ? 'dropped by a rule'
              : e.reason,
        ]
      : e.kind === 'nlb-collision'
        ? ['5-tuple collision']
        : [],
  );
  return [...new Set(words)].join(' + ') || undefined;
}

export function describeEvidenceExpectation(e: EvidenceExpectation): string {
  if (e.kind === 'resets-from') return `resets from ${e.host}`;
  if (e.kind === 'counter-rose') return `${e.counter} rose on ${e.hosts?.join(' or ') ?? 'some host'}`;
  if (e.kind === 'nlb-collision') return `one 5-tuple through two ${e.nlb} nodes (conntrack)`;
  if (e.kind === 'no-drop') return `no ${e.reason} drop on ${e.host}`;
  return `${e.reason} drop on ${e.host}${e.eni ? ` (${e.eni})` : ''}`;
}
