/**
 * The result of one cell, as written to results.json (schemas/results.schema.json describes it).
 * Plain data: produced by the cell runner, consumed by the report writers and the baseline diff.
 */
import type { KubeProxyRun } from '../kube-proxy/implementation.js';

export type { KubeProxyRun };

export type ConfigValue = string | number | boolean;

/** A cell's configuration: the matrix dimensions and their values, e.g. `{ rp_filter: 1, cni: 'vpc-cni' }`. */
export type Configuration = Readonly<Record<string, ConfigValue>>;

export type CellStatus = 'pass' | 'fail' | 'inconclusive' | 'error';

export interface RateSummary {
  /** Attempts with this outcome. */
  count: number;
  rate: number;
  /** 95% Wilson interval of the rate. */
  low: number;
  high: number;
}

export interface CheckResult {
  /** What was checked: `outcome`, `source seen`, `evidence: resets from netshoot`, ... */
  name: string;
  status: 'pass' | 'fail' | 'inconclusive';
  /** Expected vs seen, one line. */
  detail: string;
}

export interface EvidenceFinding {
  kind: 'reset' | 'drop' | 'counter' | 'conntrack' | 'note';
  host: string;
  /** One line for humans. */
  summary: string;
  count?: number;
  /** Drop reason (rp_filter, source-dest-check, rule, martian-source, ...) for kind `drop`. */
  reason?: string;
}

export interface TimelineSample {
  /** Attempt start, ms since the traffic started. */
  t: number;
  outcome: string;
  ms: number;
}

export interface TimelineWindow {
  /** The fault's name, e.g. `rp_filter=1 on node-1/eth1`. */
  label: string;
  /** Applied and reverted, ms since the traffic started. */
  from: number;
  to: number;
}

/** Chaos cells: attempts over time and the fault windows (issue 7). */
export interface Timeline {
  samples: TimelineSample[];
  windows: TimelineWindow[];
  /** Measured figures, e.g. `failureRateOutside`, `windowMs`, `recoveryMs`. */
  metrics: Record<string, number | null>;
  /** Long-lived connections: name → survived | reset | timeout | closed. */
  longLived?: Record<string, string>;
}

export interface CellResult {
  suite: string;
  /** Stable within the suite; `suite/id` identifies a cell across runs (baseline diff). */
  id: string;
  /** Title without tags. */
  title: string;
  tags: string[];
  seeds: string[];
  configuration: Configuration;
  /** Does the traffic path deliver connections in this configuration (the kernel's answer)? */
  pathWorks: boolean;
  /** The mechanism in one or two sentences. */
  explanation: string;
  /** What the cell expected, for humans: `all connected; server sees the client; resets from netshoot`. */
  expectation: string;
  /** The flow probed, for humans: `internet curl-loop -> web-nlb 198.51.100.200:80 (tcp)`. */
  flow: string;
  status: CellStatus;
  /** One line: why this status. */
  reason: string;
  checks: CheckResult[];
  attempts: number;
  /** Outcome → count (connected, timeout, reset, refused, unreachable, other). */
  counts: Record<string, number>;
  /** Outcome → rate with interval, for every outcome seen. */
  rates: Record<string, RateSummary>;
  /** Source address the servers saw → connections. */
  sourcesSeen: Record<string, number>;
  evidence: EvidenceFinding[];
  /** Commands to reproduce: bring the cell's lab up and probe once. */
  reproduce: string[];
  timeline?: Timeline;
  /** ISO time the cell started. */
  startedAt: string;
  durationMs: number;
  /** For status `error`: what broke (infrastructure, not the probed outcome). */
  error?: string;
  /** Cells whose topology has Services: which kube-proxy wrote their rules. */
  kubeProxy?: KubeProxyRun;
  /** Which implementation of each component the cell ran with (absent in results before it existed). */
  implementation?: Implementation;
}

export interface Implementation {
  /** The nodes' CNI: `emulated vpc-cni`, `real vpc-cni v1.23.2`, several joined by `; `. */
  cni: string;
}

export interface SuiteSummary {
  id: string;
  title: string;
  /** Matrix layout for the report: configuration keys as rows and as columns. */
  rows: string[];
  columns: string[];
}

export interface RunResults {
  schema: 'returnpath/results/v1';
  runId: string;
  startedAt: string;
  finishedAt?: string;
  /** `running` while cells are still being written; `interrupted` when the run stopped early. */
  state: 'running' | 'complete' | 'interrupted';
  host: { kernel: string; node: string; platform: string };
  /** The returnpath that made the run (absent in results of versions before 0.1.0's provenance). */
  returnpath?: { version: string; commit: string | null; dirty: boolean };
  selection: { suites: string[]; grep?: string };
  suites: SuiteSummary[];
  cells: CellResult[];
  totals: Record<CellStatus, number>;
}
