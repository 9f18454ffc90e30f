/**
 * The result of one cell, as written to results.json (schemas/results.schema.json describes it).
 * Plain data: produced by the cell runner, consumed by the report writers and the baseline diff.
 */
import type { KubeProxyRun } from '../kube-proxy/implementation.js';

export type { KubeProxyRun };

export type ConfigValue = string | number | boolean;

/** A cell's configuration: the matrix dimensions and their values, e.g. `{ rp_filter: 1, cni: 'vpc-cni' }`. */
export type Configuration = Readonly<Record<string, ConfigValue>>;

/**
 * `skipped`: the cell cannot run where the run happens (a cluster whose nodes it would have to
 * change, or that lacks what it needs); `reason` says why. Nothing was measured.
 */
export type CellStatus = 'pass' | 'fail' | 'inconclusive' | 'error' | 'skipped';

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
  kind: 'reset' | 'drop' | 'counter' | 'conntrack' | 'health' | 'note';
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
  /** The client's source port. */
  port?: number;
  /** Where a failed attempt ended (connect, answer) and its socket error. */
  phase?: string;
  errno?: string;
  /** Its deadline timer fired this late, ms: the client process was not scheduled in time. */
  stallMs?: number;
}

export interface TimelineWindow {
  /** The fault's name, e.g. `rp_filter=1 on node-1/eth1`. */
  label: string;
  /** Apply started and revert finished, ms since the traffic started: the envelope of the effect. */
  from: number;
  to: number;
  /** Apply finished and revert started: the fault was surely in effect in between. */
  applied?: number;
  reverting?: number;
}

/** Chaos cells: attempts over time and the fault windows (issue 7). */
export interface Timeline {
  /** Epoch ms of t = 0. */
  startedAt?: number;
  samples: TimelineSample[];
  windows: TimelineWindow[];
  /** Measured figures, e.g. `failureRateOutside`, `windowMs`, `recoveryMs`. */
  metrics: Record<string, number | null>;
  /** Long-lived connections: name → survived | reset | timeout | closed. */
  longLived?: Record<string, string>;
}

/** An attempt that missed the cell's expectation, with the evidence of what happened to it. */
export interface MissedAttempt {
  /** Attempt index within its batch. */
  i: number;
  outcome: string;
  phase?: string;
  errno?: string;
  /** `address:port` the client used and connected to. */
  from: string;
  to: string;
  startedAt: string;
  ms: number;
  /** The source the server saw, when it answered. */
  serverSaw?: string;
  /** Conntrack entries of its 5-tuple per host, NLB health changes around it, a stalled deadline, ... */
  evidence: string[];
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
  /** What breaks the path, in a word or two (`rp_filter`, `hairpin reset`, `5-tuple collision`); absent when it works. */
  mechanism?: string;
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
  /** Attempts that missed the expectation (the first 12), each with its own evidence. */
  misses?: MissedAttempt[];
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

/** A cell the run selected, whether or not it ran (an interrupted run shows the rest as not run). */
export interface PlannedCell {
  suite: string;
  id: string;
  title: string;
  configuration: Configuration;
  pathWorks: boolean;
  mechanism?: string;
  /** A chaos cell: what it shows is the fault's effect on the path. */
  chaos?: boolean;
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
  /** Every selected cell, in run order (absent in files written before it existed). */
  planned?: PlannedCell[];
  cells: CellResult[];
  totals: Record<CellStatus, number>;
}
