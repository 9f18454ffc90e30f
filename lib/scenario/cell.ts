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
import type { Fault } from '../chaos/fault.js';

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
  /** The named host dropped nothing for this reason (what separates two mechanisms). */
  | { kind: 'no-drop'; host: string; reason: DropReason };

export interface CellExpect {
  outcome: Expectation<Outcome>;
  /** Checked over connected attempts. */
  sourceSeen?: SourceSeen;
  evidence?: EvidenceExpectation[];
}

/** What a chaos cell's timeline must show. Rates are failure shares (anything but connected). */
export interface ChaosBounds {
  /** Failure rate outside the fault windows: at most this. */
  outsideMax: number;
  /** Failure rate inside the windows: at least this (the fault is seen in traffic) ... */
  insideMin?: number;
  /** ... and at most this (the fault is harmless to new connections). */
  insideMax?: number;
  /** Longest visible effect, ms. */
  windowMsMax?: number;
  /** From revert to steady success, ms. */
  recoveryMsMax?: number;
  /** Long-lived connections: how many end in each state (`all`, `some`, `none`). */
  longLived?: Partial<Record<'survived' | 'reset' | 'timeout' | 'closed', 'all' | 'some' | 'none'>>;
}

/** A chaos cell: steady traffic along the flow while faults are applied and reverted on a schedule. */
export interface ChaosSpec {
  durationMs: number;
  /** Short connections: `attempts` every `everyMs`, connect deadline `deadlineMs`. */
  batch?: { attempts?: number; everyMs?: number; deadlineMs?: number };
  longLived?: { connections: number; intervalMs?: number; replyTimeoutMs?: number };
  /** Fault factories (faults keep state: a fresh one per run). */
  faults: { atMs: number; durationMs: number; fault: () => Fault }[];
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
  const waits = e.outcome === 'timeout' && e.kind !== 'none';
  if (e.kind === 'rate' || waits) tags.push('Slow');
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
    problems.push(...expectationProblems(c.expect.outcome, `${at}.expect.outcome`));
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

/** One line for humans: `all connected; server sees the client; resets from netshoot`. */
export function describeCellExpect(e: CellExpect, chaos?: ChaosSpec): string {
  const parts = [describeExpectation(e.outcome)];
  if (chaos) parts.push(describeBounds(chaos.bounds));
  if (e.sourceSeen) parts.push(`server sees ${describeSource(e.sourceSeen)}`);
  for (const ev of e.evidence ?? []) parts.push(describeEvidenceExpectation(ev));
  return parts.join('; ');
}

export function describeBounds(b: ChaosBounds): string {
  const parts = [`failures outside the fault <= ${pct(b.outsideMax)}`];
  if (b.insideMin !== undefined) parts.push(`inside >= ${pct(b.insideMin)}`);
  if (b.insideMax !== undefined) parts.push(`inside <= ${pct(b.insideMax)}`);
  if (b.windowMsMax !== undefined) parts.push(`effect <= ${b.windowMsMax} ms`);
  if (b.recoveryMsMax !== undefined) parts.push(`recovery <= ${b.recoveryMsMax} ms`);
  for (const [state, n] of Object.entries(b.longLived ?? {})) parts.push(`${n} long-lived ${state}`);
  return parts.join(', ');
}

const pct = percent;

export function describeSource(s: SourceSeen): string {
  if (s === 'client') return 'the client';
  if ('node' in s) return `node ${s.node}`;
  if ('anyNode' in s) return 'a node';
  return `an NLB node of ${s.nlb}`;
}

export function describeEvidenceExpectation(e: EvidenceExpectation): string {
  if (e.kind === 'resets-from') return `resets from ${e.host}`;
  if (e.kind === 'no-drop') return `no ${e.reason} drop on ${e.host}`;
  return `${e.reason} drop on ${e.host}${e.eni ? ` (${e.eni})` : ''}`;
}
