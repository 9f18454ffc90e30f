/**
 * results.json as a zod schema, mirroring lib/scenario/result.ts (a compile-time check below keeps
 * the two in step), and the JSON Schema generated from it (schemas/results.schema.json).
 *
 * Objects are not strict: unknown keys are dropped when parsing, so a newer file with extra
 * optional fields still loads as a baseline.
 */
import { z } from 'zod';
import { ProvenanceSchema } from '../model/provenance.js';
import { parseJsonText, validateWith } from '../model/zod-problems.js';
import type {
  CellResult,
  CheckResult,
  EvidenceFinding,
  MissedAttempt,
  PlannedCell,
  RateSummary,
  RunResults,
  SuiteSummary,
  Timeline,
} from '../scenario/result.js';

export const RESULTS_SCHEMA_ID = 'https://returnpath.dev/schemas/results.schema.json';

const count = z.number().int().min(0);
const proportion = z.number().min(0).max(1);
const isoTime = z.iso.datetime({ offset: true });
const status = z
  .enum(['pass', 'fail', 'inconclusive', 'error', 'skipped'])
  .describe('`skipped`: the cell cannot run where the run happened; `reason` says why (nothing measured).');

const ConfigValueSchema = z.union([z.string(), z.number(), z.boolean()]);

const RateSummarySchema = z.object({
  count: count.describe('Attempts with this outcome.'),
  rate: proportion,
  low: proportion.describe('Lower bound of the 95% Wilson interval of the rate.'),
  high: proportion.describe('Upper bound of the 95% Wilson interval of the rate.'),
});

const CheckResultSchema = z.object({
  name: z
    .string()
    .describe('What was checked: `outcome`, `source seen`, `evidence: resets from netshoot`, ...'),
  status: z.enum(['pass', 'fail', 'inconclusive']),
  detail: z.string().describe('Expected vs seen, one line.'),
});

const EvidenceFindingSchema = z.object({
  kind: z.enum(['reset', 'drop', 'counter', 'conntrack', 'health', 'note']),
  host: z.string(),
  summary: z.string().describe('One line for humans.'),
  count: count.optional(),
  reason: z
    .string()
    .optional()
    .describe('Drop reason (rp_filter, source-dest-check, rule, martian-source, ...) for kind `drop`.'),
});

const TimelineSchema = z.object({
  startedAt: z.number().optional().describe('Epoch ms of t = 0.'),
  samples: z.array(
    z.object({
      t: z.number().min(0).describe('Attempt start, ms since the traffic started.'),
      outcome: z.string(),
      ms: z.number().min(0),
      port: z.number().int().optional().describe("The client's source port."),
      phase: z.string().optional(),
      errno: z.string().optional(),
      stallMs: z
        .number()
        .min(0)
        .optional()
        .describe('Its deadline timer fired this late: the client process was not scheduled in time.'),
    }),
  ),
  windows: z.array(
    z.object({
      label: z.string().describe('The fault, e.g. `rp_filter=1 on node-1/eth1`.'),
      from: z.number().min(0).describe('Apply started, ms since the traffic started.'),
      to: z.number().min(0).describe('Revert finished, ms since the traffic started.'),
      applied: z
        .number()
        .min(0)
        .optional()
        .describe('Apply finished: the fault was surely in effect from here ...'),
      reverting: z.number().min(0).optional().describe('... to here, when the revert started.'),
    }),
  ),
  metrics: z
    .record(z.string(), z.number().nullable())
    .describe('Measured figures, e.g. `failureRateOutside`, `windowMs`, `recoveryMs`.'),
  longLived: z
    .record(z.string(), z.string())
    .optional()
    .describe('Long-lived connections: name -> survived | reset | timeout | closed.'),
});

const MissedAttemptSchema = z
  .object({
    i: count.describe('Attempt index within its batch.'),
    outcome: z.string(),
    phase: z.string().optional(),
    errno: z.string().optional(),
    from: z.string().describe('`address:port` the client used.'),
    to: z.string().describe('`address:port` it connected to.'),
    startedAt: isoTime,
    ms: z.number().min(0),
    serverSaw: z.string().optional().describe('The source the server saw, when it answered.'),
    evidence: z
      .array(z.string())
      .describe(
        'Conntrack entries of its 5-tuple per host, NLB health changes around it, a stalled deadline.',
      ),
  })
  .describe('An attempt that missed the expectation, with its own evidence.');

export const CellResultSchema = z
  .object({
    suite: z.string().min(1),
    id: z.string().min(1).describe('Stable within the suite; `suite/id` identifies a cell across runs.'),
    title: z.string().describe('Title without tags.'),
    tags: z.array(z.string()),
    seeds: z.array(z.string()),
    configuration: z
      .record(z.string(), ConfigValueSchema)
      .describe('The matrix dimensions and their values, e.g. `{ "rp_filter": 1, "cni": "vpc-cni" }`.'),
    pathWorks: z
      .boolean()
      .describe("Does the traffic path deliver connections in this configuration (the kernel's answer)?"),
    explanation: z.string().describe('The mechanism in one or two sentences.'),
    mechanism: z
      .string()
      .optional()
      .describe(
        'What breaks the path, in a word or two (`rp_filter`, `hairpin reset`); absent when it works.',
      ),
    expectation: z.string().describe('What the cell expected, for humans.'),
    flow: z.string().describe('The flow probed, for humans.'),
    status,
    reason: z.string().describe('One line: why this status.'),
    checks: z.array(CheckResultSchema),
    attempts: count,
    counts: z.record(z.string(), count).describe('Outcome -> count.'),
    rates: z.record(z.string(), RateSummarySchema).describe('Outcome -> rate with interval.'),
    sourcesSeen: z.record(z.string(), count).describe('Source address the servers saw -> connections.'),
    evidence: z.array(EvidenceFindingSchema),
    misses: z
      .array(MissedAttemptSchema)
      .optional()
      .describe('Attempts that missed the expectation (the first 12), each with its own evidence.'),
    reproduce: z.array(z.string()).describe('Commands to reproduce the cell.'),
    timeline: TimelineSchema.optional().describe('Chaos cells: attempts over time and the fault windows.'),
    startedAt: isoTime,
    durationMs: z.number().min(0),
    error: z.string().optional().describe('For status `error`: what broke.'),
    implementation: z
      .object({
        cni: z
          .string()
          .describe(
            "The nodes' CNI: `emulated vpc-cni` (returnpath's rules), `real vpc-cni v1.23.2` (the upstream " +
              'plugin and node setup), `real vpc-cni source DIR (build DIR)`, `plugin NAME (TYPES)`; several joined by `; `.',
          ),
      })
      .optional()
      .describe('Which implementation of each component the cell ran with; compare runs knowing it.'),
    kubeProxy: z
      .object({
        implementation: z
          .enum(['emulated', 'real'])
          .describe(
            "returnpath's rendering of kube-proxy's rules, or the real kube-proxy on a real control plane.",
          ),
        mode: z.enum(['iptables', 'nftables']),
        version: z.string().optional().describe('k8s.io/kubernetes version of the real kube-proxy.'),
        detectLocal: z.enum(['none', 'clusterCIDR']).describe("kube-proxy's local-traffic detector."),
      })
      .optional()
      .describe('Cells whose topology has Services: which kube-proxy wrote their rules.'),
  })
  .describe('The result of one cell.');

const SuiteSummarySchema = z.object({
  id: z.string().min(1),
  title: z.string(),
  rows: z.array(z.string()).describe('Configuration keys laid out as matrix rows.'),
  columns: z.array(z.string()).describe('Configuration keys laid out as matrix columns.'),
});

const PlannedCellSchema = z
  .object({
    suite: z.string().min(1),
    id: z.string().min(1),
    title: z.string(),
    configuration: z.record(z.string(), ConfigValueSchema),
    pathWorks: z.boolean(),
    mechanism: z.string().optional(),
    chaos: z.boolean().optional().describe("A chaos cell: it shows the fault's effect on the path."),
  })
  .describe('A cell the run selected, whether or not it ran.');

const RunObject = z.object({
  schema: z.literal('returnpath/results/v1'),
  runId: z.string().min(1),
  startedAt: isoTime,
  finishedAt: isoTime.optional(),
  state: z
    .enum(['running', 'complete', 'interrupted'])
    .describe('`running` while cells are still being written; `interrupted` when the run stopped early.'),
  host: z.object({ kernel: z.string(), node: z.string(), platform: z.string() }),
  returnpath: ProvenanceSchema.optional().describe(
    'The returnpath that made the run; absent in results written before it was recorded.',
  ),
  selection: z.object({ suites: z.array(z.string()), grep: z.string().optional() }),
  suites: z.array(SuiteSummarySchema),
  planned: z
    .array(PlannedCellSchema)
    .optional()
    .describe('Every selected cell in run order; cells without a result did not run (interrupted).'),
  cells: z.array(CellResultSchema),
  totals: z.object({
    pass: count,
    fail: count,
    inconclusive: count,
    error: count,
    skipped: count.default(0).describe('Absent in results written before cells could be skipped.'),
  }),
});

export const RunResultsSchema = RunObject.superRefine((run, ctx) => {
  const seen = new Map<string, number>();
  run.cells.forEach((cell, i) => {
    const key = `${cell.suite}/${cell.id}`;
    const first = seen.get(key);
    if (first === undefined) seen.set(key, i);
    else
      ctx.addIssue({
        code: 'custom',
        path: ['cells', i, 'id'],
        input: cell.id,
        message: `duplicate cell ${key} (also cells[${first}]); suite/id must be unique`,
      });
  });
});

/** What a run knows when it starts (ResultsWriter.open). */
export type RunHeader = Omit<RunResults, 'cells' | 'totals' | 'state' | 'finishedAt'>;
const RunHeaderSchema = RunObject.omit({ cells: true, totals: true, state: true, finishedAt: true });

// Compile-time check: the schemas and the interfaces of lib/scenario/result.ts describe the same
// data (mutually assignable, and the same keys, so an optional field added on one side is caught).
type Mutual<A, B> = [A] extends [B] ? ([B] extends [A] ? true : false) : false;
type InSync<S extends z.ZodType, T> =
  Mutual<z.infer<S>, T> extends true ? Mutual<keyof z.infer<S>, keyof T> : false;
type Assert<T extends true> = T;
export type _SchemasInSync = Assert<
  | InSync<typeof RunResultsSchema, RunResults>
  | InSync<typeof RunHeaderSchema, RunHeader>
  | InSync<typeof CellResultSchema, CellResult>
  | InSync<typeof SuiteSummarySchema, SuiteSummary>
  | InSync<typeof TimelineSchema, Timeline>
  | InSync<typeof EvidenceFindingSchema, EvidenceFinding>
  | InSync<typeof CheckResultSchema, CheckResult>
  | InSync<typeof RateSummarySchema, RateSummary>
  | InSync<typeof MissedAttemptSchema, MissedAttempt>
  | InSync<typeof PlannedCellSchema, PlannedCell>
>;

/** Parse results.json text. Throws ValidationError naming `source` and every problem with its path. */
export function parseResults(text: string, source = 'results.json'): RunResults {
  return validateResults(parseJsonText(text, source), source);
}

/** Validate parsed data as RunResults (unknown keys dropped). */
export function validateResults(data: unknown, source = 'results'): RunResults {
  return check(RunResultsSchema, data, source);
}

/** Validate one cell as the writer receives it. */
export function validateCell(data: unknown, source = 'cell'): CellResult {
  return check(CellResultSchema, data, source);
}

/** Validate the header of a run as the writer receives it. */
export function validateRunHeader(data: unknown, source = 'run header'): RunHeader {
  return check(RunHeaderSchema, data, source);
}

function check<S extends z.ZodType>(schema: S, data: unknown, source: string): z.infer<S> {
  return validateWith(schema, data, source);
}

/** The JSON Schema (draft 2020-12) of results.json. */
export function resultsJsonSchema(): Record<string, unknown> {
  const { $schema, ...rest } = z.toJSONSchema(RunResultsSchema, { target: 'draft-2020-12', io: 'input' });
  return {
    $schema,
    $id: RESULTS_SCHEMA_ID,
    title: 'returnpath run results',
    description:
      'results.json as written by `returnpath run`: the run, its suites and the result of every cell ' +
      '(verdict, counts, rates with 95% intervals, checks, evidence, reproduce commands).',
    ...rest,
  };
}
