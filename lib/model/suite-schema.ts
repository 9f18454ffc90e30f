/**
 * A suite as a data file (YAML or JSON, `apiVersion: returnpath/v1`, `kind: Suite`): a base
 * topology, axes whose values patch it, and cells (a matrix over axes with rules, or an explicit
 * list) that each name a flow, the expected outcome (all / none / a rate band / a share derived
 * from the topology), the source the server must see, the evidence required, faults for chaos
 * cells, and the mechanism in words. lib/scenario/suite-file.ts expands it into the same cells the
 * built-in suites have; schemas/suite.schema.json is generated from this file.
 */
import { z } from 'zod';
import { FaultSpecSchema } from './fault-schema.js';
import { OUTCOMES } from '../traffic/outcome.js';

export const SUITE_API_VERSION = 'returnpath/v1';

const configValue = z.union([z.string(), z.number(), z.boolean()]);
const port = z.number().int().min(1).max(65535);
const proportion = z.number().min(0).max(1);
const outcome = z.enum(OUTCOMES);

/**
 * A path into the topology document: dot-separated keys, `[N]` for a list index, `[name=X]` for the
 * list entry whose `name` is X, e.g. `loadBalancers[name=web].targetGroups[0].preserveClientIp`.
 */
const docPath = z
  .string()
  .regex(
    /^[A-Za-z_][\w-]*(\[(\d+|[\w-]+=[^\]]+)\])*(\.[A-Za-z_][\w-]*(\[(\d+|[\w-]+=[^\]]+)\])*)*$/,
    'must be a path like nodes[name=node-1].sysctls.all.rp_filter or loadBalancers[0].crossZone',
  );

export const PatchOpSchema = z
  .union([
    z
      .strictObject({
        set: docPath,
        value: z
          .unknown()
          .optional()
          .describe("The value to set; in an axis, omitted means the axis's value."),
      })
      .describe('Set the value at a path (creating missing objects on the way).'),
    z.strictObject({ append: docPath, value: z.unknown() }).describe('Append a value to the list at a path.'),
    z.strictObject({ remove: docPath }).describe('Remove the key or list entry at a path.'),
  ])
  .describe('One change to the topology document.')
  .meta({ id: 'PatchOp' });

const patch = z.array(PatchOpSchema);

const TopologyRefSchema = z
  .union([
    z.strictObject({ file: z.string().min(1).describe('A topology file, relative to the suite file.') }),
    z.strictObject({
      inline: z.record(z.string(), z.unknown()).describe('A topology document (returnpath/v1 Topology).'),
    }),
  ])
  .describe('The topology: a file or inline.')
  .meta({ id: 'TopologyRef' });

const AxisValueSchema = z.union([
  configValue,
  z.strictObject({
    value: configValue,
    label: z
      .string()
      .optional()
      .describe('How ids and titles name it ({axis} in templates); default the value.'),
    patch: patch.optional().describe("Changes for this value, after the axis's own patch."),
  }),
]);

const AxisSchema = z
  .strictObject({
    values: z.array(AxisValueSchema).min(1),
    patch: patch
      .optional()
      .describe("Changes applied for every value; a `set` without `value` sets the axis's value."),
  })
  .describe('A configuration dimension: its values, and how each patches the topology.')
  .meta({ id: 'Axis' });

const DestinationSchema = z.union([
  z.strictObject({ pod: z.string(), port }).describe("Straight to a pod's address."),
  z
    .strictObject({
      service: z.string().describe('`namespace/name` (or `name` in default).'),
      via: z.enum(['clusterIP', 'nodePort', 'loadBalancerIP']),
      node: z.string().optional().describe('For nodePort: the node whose address is used.'),
      port: z.string().optional().describe("The Service port's name; default its first."),
    })
    .describe('A Service.'),
  z
    .strictObject({
      nlb: z.string(),
      port,
      zones: z
        .array(z.string())
        .optional()
        .describe('The NLB node addresses the client resolves; default all.'),
    })
    .describe('An NLB listener.'),
  z.strictObject({ internet: z.string(), port }).describe("An internet client's public address."),
]);

const FlowSchema = z
  .strictObject({
    from: z.string().describe('The client: a pod, an internet client or a node.'),
    to: DestinationSchema,
    kind: z.enum(['tcp', 'http']).optional(),
    attempts: z.number().int().min(1).optional().describe('Attempts per batch; default 40.'),
    deadlineMs: z.number().int().min(1).max(999).optional().describe('Connect deadline; default 250 ms.'),
    localPortRange: z.tuple([port, port]).optional().describe('Fixed source ports [lo, hi].'),
    holdMs: z.number().int().min(1).optional().describe('Keep connected attempts open this long.'),
    concurrency: z
      .number()
      .int()
      .min(1)
      .optional()
      .describe('Attempts in flight per destination; default 16.'),
  })
  .describe('What is probed: from a client to a destination.')
  .meta({ id: 'Flow' });

const OutcomeExpectationSchema = z.union([
  z
    .strictObject({ kind: z.enum(['all', 'none']), outcome })
    .describe('Every attempt / no attempt has the outcome.'),
  z
    .strictObject({ kind: z.literal('rate'), outcome, min: proportion, max: proportion })
    .describe('The share with the outcome lies in [min, max] (judged with its 95% interval).'),
  z
    .strictObject({
      derive: z
        .enum(['hairpin', 'collision'])
        .describe(
          'Timeouts at a share derived from the topology: `hairpin` (a client pod behind an NLB with client IP ' +
            'preservation), `collision` (one client through several NLB nodes, seed 004). 0: all connect; 1: all time ' +
            'out; else a rate band around it.',
        ),
      margin: proportion.optional().describe('Half-width of the band; default 0.15.'),
    })
    .describe('An outcome derived from the topology and the flow.'),
]);

const SourceSeenSchema = z.union([
  z.literal('client'),
  z.strictObject({ node: z.string() }),
  z.strictObject({ anyNode: z.literal(true) }),
  z.strictObject({ nlb: z.string() }),
]);

const EvidenceSchema = z.union([
  z.strictObject({ kind: z.literal('resets-from'), host: z.string() }).describe('The host sent TCP resets.'),
  z
    .strictObject({
      kind: z.literal('drop'),
      host: z.string(),
      reason: z.enum(['rp_filter', 'martian-source', 'martian-destination', 'rule', 'source-dest-check']),
      eni: z.string().optional(),
    })
    .describe('The host dropped packets for this reason.'),
  z
    .strictObject({
      kind: z.literal('no-drop'),
      host: z.string(),
      reason: z.enum(['rp_filter', 'martian-source', 'martian-destination', 'rule', 'source-dest-check']),
    })
    .describe('The host dropped nothing for this reason (what separates two mechanisms).'),
  z
    .strictObject({
      kind: z.literal('counter-rose'),
      counter: z.string().describe('e.g. TcpExt.TCPChallengeACK'),
      hosts: z.array(z.string()).optional().describe('At least one of these hosts; default any.'),
    })
    .describe('A kernel counter rose.'),
  z
    .strictObject({ kind: z.literal('nlb-collision'), nlb: z.string() })
    .describe("Two of the NLB's nodes forwarded one 5-tuple to the same target (their conntrack tables)."),
]);

const ExpectSchema = z.strictObject({
  outcome: OutcomeExpectationSchema.optional(),
  sourceSeen: SourceSeenSchema.optional(),
  evidence: z.array(EvidenceSchema).optional(),
});

const FailureBoundSchema = z.union([
  z.enum(['all', 'none', 'some']),
  z.strictObject({ min: proportion, max: proportion }),
  z
    .strictObject({ derive: z.literal('packet-loss'), margin: proportion.optional() })
    .describe("The share the cell's packet-loss fault implies (SYN and final ACK), with a band."),
]);

const ChaosSchema = z
  .strictObject({
    durationMs: z.number().int().min(100),
    batch: z
      .strictObject({
        attempts: z.number().int().min(1).optional(),
        everyMs: z.number().int().min(10).optional(),
        deadlineMs: z.number().int().min(1).max(999).optional(),
      })
      .optional(),
    longLived: z
      .strictObject({
        connections: z.number().int().min(1),
        intervalMs: z.number().int().min(10).optional(),
        replyTimeoutMs: z.number().int().min(1).optional(),
      })
      .optional(),
    faults: z
      .array(
        z.strictObject({
          atMs: z.number().int().min(0),
          durationMs: z.number().int().min(0),
          fault: FaultSpecSchema,
        }),
      )
      .min(1),
    bounds: z.strictObject({
      outside: FailureBoundSchema.optional().describe('Attempts overlapping no fault window; default none.'),
      inside: FailureBoundSchema.optional().describe(
        'Attempts started while the faults were surely in effect.',
      ),
      recovers: z
        .boolean()
        .optional()
        .describe('No attempt started after the last revert fails; default true.'),
      endsWhenUnhealthy: z.strictObject({ nlb: z.string(), target: z.string() }).optional(),
      longLived: z
        .partialRecord(z.enum(['survived', 'reset', 'timeout', 'closed']), z.enum(['all', 'some', 'none']))
        .optional(),
    }),
  })
  .describe('Steady traffic while faults are applied and reverted, and what it must show.')
  .meta({ id: 'Chaos' });

/** Everything a cell may say; templates, rules and explicit cells all use it. */
export const CellFieldsSchema = z
  .strictObject({
    id: z
      .string()
      .optional()
      .describe(
        'Unique in the suite; in ids, titles and texts `{axis}` is the axis label, `{axis:value}` its value.',
      ),
    title: z.string().optional(),
    seeds: z.array(z.string()).optional(),
    configuration: z
      .record(z.string(), configValue)
      .optional()
      .describe('More configuration keys for the matrix.'),
    topology: TopologyRefSchema.optional(),
    patch: patch
      .optional()
      .describe(
        "Changes after the axes'; every layer's (defaults, matrix cell, rules, the cell) apply in that order.",
      ),
    flow: FlowSchema.partial().optional(),
    expect: ExpectSchema.optional(),
    pathWorks: z
      .boolean()
      .optional()
      .describe('Default: true when every attempt should connect (or the derived share is 0).'),
    mechanism: z
      .string()
      .optional()
      .describe('What breaks the path, in a word or two (rp_filter, hairpin reset, ...).'),
    explanation: z
      .string()
      .optional()
      .describe('The mechanism in one or two sentences; `{share}` is the derived share.'),
    tags: z.array(z.string()).optional(),
    disruptive: z.boolean().optional(),
    chaos: ChaosSchema.optional(),
  })
  .meta({ id: 'CellFields' });

const RuleSchema = z
  .strictObject({
    when: z
      .record(z.string(), z.union([configValue, z.array(configValue)]))
      .describe('Axis values (one, or a list of any) the combination must have.'),
    set: CellFieldsSchema,
  })
  .describe('Fields for the combinations it matches; later rules override earlier ones.');

export const SuiteFileSchema = z
  .strictObject({
    apiVersion: z.literal(SUITE_API_VERSION),
    kind: z.literal('Suite'),
    metadata: z.strictObject({
      name: z
        .string()
        .regex(/^[a-z0-9][a-z0-9-]*$/, 'must be lowercase letters, digits and -')
        .describe('The suite id: `returnpath run --suite ID`.'),
      title: z.string().min(1),
      description: z.string().optional(),
    }),
    seeds: z.array(z.string()).default([]),
    layout: z
      .strictObject({ rows: z.array(z.string()).default([]), columns: z.array(z.string()).default([]) })
      .describe("The report's matrix: configuration keys as rows and as columns."),
    topology: TopologyRefSchema.optional().describe('The base topology every cell starts from.'),
    axes: z.record(z.string().regex(/^[A-Za-z][\w]*$/), AxisSchema).default({}),
    defaults: CellFieldsSchema.optional().describe('Fields every cell starts from.'),
    matrix: z
      .strictObject({
        axes: z.array(z.string()).optional().describe('The axes crossed; default every axis.'),
        cell: CellFieldsSchema.describe('The template of every combination.'),
        rules: z.array(RuleSchema).default([]),
        skip: z
          .array(z.record(z.string(), z.union([configValue, z.array(configValue)])))
          .default([])
          .describe('Combinations left out.'),
      })
      .optional(),
    cells: z
      .array(
        CellFieldsSchema.extend({
          where: z
            .record(z.string(), configValue)
            .optional()
            .describe('Axis values of this cell (their patches apply; they join its configuration).'),
        }),
      )
      .default([])
      .describe('Explicit cells, after the matrix.'),
  })
  .describe('A returnpath suite: cells of configurations, each with a flow and its expected outcome.');

export type SuiteFile = z.output<typeof SuiteFileSchema>;
export type CellFields = z.output<typeof CellFieldsSchema>;
export type PatchOp = z.output<typeof PatchOpSchema>;

export const SUITE_SCHEMA_ID = 'https://returnpath.dev/schemas/suite.schema.json';

/** The JSON Schema (draft 2020-12) of suite files. */
export function suiteJsonSchema(): Record<string, unknown> {
  const { $schema, ...rest } = z.toJSONSchema(SuiteFileSchema, {
    target: 'draft-2020-12',
    io: 'input',
    unrepresentable: 'any',
  });
  return {
    $schema,
    $id: SUITE_SCHEMA_ID,
    title: 'returnpath suite',
    description:
      'A suite as data (`returnpath run --file FILE`): a base topology, axes whose values patch it, and cells ' +
      'with a flow, the expected outcome, the evidence required, faults for chaos cells and the mechanism.',
    ...rest,
  };
}
