/**
 * Suite files (lib/model/suite-schema.ts) expanded into SuiteSpecs: the cells of the matrix (every
 * combination of its axes, with the rules that match it) and the explicit cells, each with its
 * topology patched by its axis values and its own patch, `{axis}` and `{share}` filled into its
 * strings, and derived outcomes computed from its topology and flow. Every cell is then checked as
 * a built-in one is (its topology validated, its flow resolved, its expectation well-formed); every
 * problem is reported with its path in the file.
 */
import { readFileSync } from 'node:fs';
import { readTextInput } from '../files.js';
import { dirname, resolve } from 'node:path';
import { parse as parseYaml } from 'yaml';
import { ValidationError, type ValidationProblem } from '../errors.js';
import { renderValue, validateWith } from '../model/zod-problems.js';
import { SuiteFileSchema, type CellFields, type PatchOp, type SuiteFile } from '../model/suite-schema.js';
import { validateTopology } from '../model/topology.js';
import { defaultAnswerMs } from '../traffic/client.js';
import { percent } from '../verdict/index.js';
import type { Expectation } from '../verdict/index.js';
import type { Outcome } from '../traffic/outcome.js';
import { suiteProblems, type CellSpec, type ChaosSpec, type FailureBound, type SuiteSpec } from './cell.js';
import {
  band,
  collisionShare,
  failureModel,
  packetLossShare,
  RATE_MARGIN,
  timeoutExpectation,
} from './derive.js';
import { resolveFlow } from './flow.js';

type ConfigValue = string | number | boolean;
// eslint-disable-next-line @typescript-eslint/no-explicit-any
type Doc = Record<string, any>;

/** Reads a YAML or JSON text into data, or a ValidationError naming the file. */
export function parseDocument(text: string, source: string): unknown {
  try {
    return parseYaml(text) as unknown;
  } catch (e) {
    throw new ValidationError(source, [
      { path: '', value: '(file)', message: `not YAML or JSON: ${(e as Error).message}` },
    ]);
  }
}

/** Is this document a suite (`kind: Suite`) rather than a topology? */
export function isSuiteDocument(data: unknown): boolean {
  return typeof data === 'object' && data !== null && (data as Doc)['kind'] === 'Suite';
}

export async function loadSuiteFile(path: string): Promise<SuiteSpec> {
  return expandSuite(parseDocument(await readTextInput(path, 'suite file'), path), { path });
}

/** Synchronously, as the catalog loads the built-in suites when it is imported. */
export function loadSuiteFileSync(
  path: string,
  opts: { display?: string; builtin?: boolean } = {},
): SuiteSpec {
  const display = opts.display ?? path;
  return expandSuite(parseDocument(readFileSync(path, 'utf8'), display), {
    path,
    display,
    builtin: opts.builtin ?? false,
  });
}

export interface ExpandOptions {
  /** The file's path: topology files are relative to its directory. */
  path: string;
  /** How reproduce lines and errors name it; default `path`. */
  display?: string;
  /** A built-in suite: its reproduce lines need no `--file`. */
  builtin?: boolean;
}

export function expandSuite(data: unknown, opts: ExpandOptions): SuiteSpec {
  const source = opts.display ?? opts.path;
  const file = validateWith(SuiteFileSchema, data, source);
  const problems: ValidationProblem[] = [];
  const report = (path: string, value: unknown, message: string): void => {
    const p = { path, value: renderValue(value), message };
    // An axis patch fails the same way in every combination: say it once.
    if (!problems.some((q) => q.path === p.path && q.value === p.value && q.message === p.message))
      problems.push(p);
  };
  const ctx: Ctx = { file, dir: dirname(resolve(opts.path)), report, topologies: new Map() };
  const axisNames = Object.keys(file.axes);
  const cells: CellSpec[] = [];
  /** Where each cell comes from in the file, for its problems' paths. */
  const origins: string[] = [];

  if (file.matrix) {
    const crossed = file.matrix.axes ?? axisNames;
    crossed.forEach((a, i) => {
      if (!file.axes[a])
        report(`matrix.axes[${i}]`, a, `is not an axis; axes: ${axisNames.join(', ') || 'none'}`);
    });
    file.matrix.rules.forEach((r, i) =>
      Object.keys(r.when).forEach((a) => {
        if (!file.axes[a]) report(`matrix.rules[${i}].when.${a}`, a, 'is not an axis');
      }),
    );
    if (problems.length === 0)
      combinations(crossed.map((a) => [a, file.axes[a]!.values.map(valueOf)] as const)).forEach((where) => {
        if (file.matrix!.skip.some((s) => matches(s, where))) return;
        const fields = [
          file.defaults ?? {},
          file.matrix!.cell,
          ...file.matrix!.rules.filter((r) => matches(r.when, where)).map((r) => r.set),
        ];
        const at = `matrix[${describeWhere(where)}]`;
        const cell = buildCell(ctx, merge(fields), where, at);
        if (cell) {
          cells.push(cell);
          origins.push(`${at} (${cell.id})`);
        }
      });
  }
  file.cells.forEach((c, i) => {
    const { where = {}, ...fields } = c;
    Object.entries(where).forEach(([a, v]) => {
      const axis = file.axes[a];
      if (!axis)
        report(`cells[${i}].where.${a}`, a, `is not an axis; axes: ${axisNames.join(', ') || 'none'}`);
      else if (!axis.values.map(valueOf).some((x) => x === v))
        report(
          `cells[${i}].where.${a}`,
          v,
          `is not a value of the axis: ${axis.values.map(valueOf).join(', ')}`,
        );
    });
    if (problems.length === 0) {
      const cell = buildCell(ctx, merge([file.defaults ?? {}, fields]), where, `cells[${i}]`);
      if (cell) {
        cells.push(cell);
        origins.push(`cells[${i}] (${cell.id})`);
      }
    }
  });
  if (problems.length) throw new ValidationError(source, problems);
  if (cells.length === 0)
    throw new ValidationError(source, [
      { path: 'cells', value: '[]', message: 'the suite has no cell: give a matrix or cells' },
    ]);

  const suite: SuiteSpec = {
    id: file.metadata.name,
    title: file.metadata.title,
    seeds: file.seeds,
    ...(!opts.builtin && { source: { kind: 'file' as const, path: source } }),
    rows: file.layout.rows,
    columns: file.layout.columns,
    cells,
  };
  const structural = suiteProblems(suite).map((p) => ({
    ...p,
    path: p.path.replace(/^[^.]+\.cells\[(\d+)\]/, (_m, i: string) => origins[Number(i)] ?? `cells[${i}]`),
  }));
  if (structural.length) throw new ValidationError(source, structural);
  return suite;
}

interface Ctx {
  file: SuiteFile;
  dir: string;
  report: (path: string, value: unknown, message: string) => void;
  topologies: Map<string, Doc>;
}

function valueOf(v: SuiteFile['axes'][string]['values'][number]): ConfigValue {
  return typeof v === 'object' ? v.value : v;
}

function labelOf(ctx: Ctx, axis: string, value: ConfigValue): string {
  const found = ctx.file.axes[axis]?.values.find((v) => valueOf(v) === value);
  return typeof found === 'object' && found.label !== undefined ? found.label : String(value);
}

function combinations(axes: readonly (readonly [string, ConfigValue[]])[]): Record<string, ConfigValue>[] {
  return axes.reduce<Record<string, ConfigValue>[]>(
    (acc, [name, values]) => acc.flatMap((combo) => values.map((v) => ({ ...combo, [name]: v }))),
    [{}],
  );
}

function matches(
  when: Record<string, ConfigValue | ConfigValue[]>,
  where: Record<string, ConfigValue>,
): boolean {
  return Object.entries(when).every(([a, v]) => (Array.isArray(v) ? v.includes(where[a]!) : where[a] === v));
}

function describeWhere(where: Record<string, ConfigValue>): string {
  return Object.entries(where)
    .map(([k, v]) => `${k}=${String(v)}`)
    .join(',');
}

/**
 * Later fields override earlier ones; objects merge key by key, lists and strings are replaced,
 * except `patch`: every layer's patch applies, in order (defaults, matrix cell, rules, the cell).
 */
function merge(layers: readonly CellFields[]): CellFields {
  const out: Doc = {};
  for (const layer of layers) deepMerge(out, layer as Doc);
  const patch = layers.flatMap((l) => l.patch ?? []);
  if (patch.length) out['patch'] = structuredClone(patch);
  return out as CellFields;
}

function deepMerge(into: Doc, from: Doc): void {
  for (const [k, v] of Object.entries(from)) {
    if (v === undefined) continue;
    if (isPlain(v) && isPlain(into[k])) deepMerge(into[k], v);
    else into[k] = isPlain(v) ? structuredClone(v) : Array.isArray(v) ? structuredClone(v) : v;
  }
}

function isPlain(v: unknown): v is Doc {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function baseTopology(ctx: Ctx, ref: CellFields['topology'], at: string): Doc | undefined {
  const r = ref ?? ctx.file.topology;
  if (!r) {
    ctx.report(`${at}.topology`, undefined, 'no topology: give one for the suite or the cell');
    return undefined;
  }
  if ('inline' in r) return structuredClone(r.inline);
  const path = resolve(ctx.dir, r.file);
  let doc = ctx.topologies.get(path);
  if (!doc) {
    try {
      doc = parseDocument(readFileSync(path, 'utf8'), r.file) as Doc;
    } catch (e) {
      ctx.report(
        `${at}.topology.file`,
        r.file,
        e instanceof ValidationError ? e.message : `cannot be read: ${(e as Error).message}`,
      );
      return undefined;
    }
    ctx.topologies.set(path, doc);
  }
  return structuredClone(doc);
}

function fill(ctx: Ctx, text: string, where: Record<string, ConfigValue>, share: number | undefined): string {
  return text.replace(/\{([A-Za-z][\w]*)(:value)?\}/g, (m, name: string, raw?: string) => {
    if (name === 'share') return share === undefined ? m : percent(share);
    if (!(name in where)) return m;
    return raw ? String(where[name]) : labelOf(ctx, name, where[name]!);
  });
}

function buildCell(
  ctx: Ctx,
  f: CellFields,
  where: Record<string, ConfigValue>,
  at: string,
): CellSpec | undefined {
  const doc = baseTopology(ctx, f.topology, at);
  if (!doc) return undefined;
  // Axis patches, in the order the axes are declared; then the cell's own.
  for (const [axis, value] of Object.entries(where)) {
    const def = ctx.file.axes[axis]!;
    const v = def.values.find((x) => valueOf(x) === value)!;
    for (const [i, op] of (def.patch ?? []).entries())
      applyOp(ctx, doc, op, value, `axes.${axis}.patch[${i}]`);
    if (typeof v === 'object')
      for (const [i, op] of (v.patch ?? []).entries())
        applyOp(ctx, doc, op, value, `axes.${axis}.values(${String(value)}).patch[${i}]`);
  }
  for (const [i, op] of (f.patch ?? []).entries()) applyOp(ctx, doc, op, undefined, `${at}.patch[${i}]`);

  for (const k of ['id', 'title', 'flow', 'explanation'] as const)
    if (f[k] === undefined)
      ctx.report(
        `${at}.${k}`,
        undefined,
        'is required (in the cell, its rules, the matrix cell or defaults)',
      );
  const flow = f.flow;
  if (!f.id || !f.title || !flow || !f.explanation) return undefined;
  if (!flow.from || !flow.to) {
    ctx.report(`${at}.flow`, flow, 'needs from and to');
    return undefined;
  }
  const id = fill(ctx, f.id, where, undefined);
  const cellAt = `${at} (${id})`;
  try {
    resolveFlow(validateTopology(doc, `${cellAt} topology`), { ...flow, from: flow.from, to: flow.to });
  } catch (e) {
    if (e instanceof ValidationError)
      for (const p of e.problems) ctx.report(`${cellAt}.topology.${p.path}`, p.value, p.message);
    else {
      // Flow errors read `flow.to.port: istio-nlb has no listener on 81`: the path goes to the path.
      const m = /^(flow[\w.]*): (.*)$/s.exec((e as Error).message);
      const value = m
        ? m[1]!
            .split('.')
            .slice(1)
            .reduce<unknown>((v, k) => (isPlain(v) ? v[k] : undefined), flow)
        : flow;
      ctx.report(`${cellAt}.${m ? m[1] : 'flow'}`, value, m ? m[2]! : (e as Error).message);
    }
    return undefined;
  }

  // Outcome: as given, or derived from the topology and the flow.
  let share: number | undefined;
  let outcome: Expectation<Outcome> | undefined;
  const o = f.expect?.outcome;
  if (o && 'derive' in o) {
    const to = flow.to;
    if (!('nlb' in to)) {
      ctx.report(`${cellAt}.expect.outcome.derive`, o.derive, 'needs a flow to an NLB');
      return undefined;
    }
    share =
      o.derive === 'collision'
        ? collisionShare(doc, to.nlb, to.port, to.zones)
        : failureModel(doc, to.nlb, flow.from, to.port, to.zones).share;
    outcome =
      o.margin === undefined || o.margin === RATE_MARGIN
        ? timeoutExpectation(share)
        : marginExpectation(share, o.margin);
  } else if (o) outcome = o as Expectation<Outcome>;

  const chaos = f.chaos ? chaosOf(ctx, f.chaos, cellAt) : undefined;
  const configuration = { ...where, ...(f.configuration ?? {}) };
  const pathWorks =
    f.pathWorks ??
    (share !== undefined
      ? share === 0
      : chaos
        ? true
        : outcome?.kind === 'all' && outcome.outcome === 'connected');
  const cell: CellSpec = {
    suite: ctx.file.metadata.name,
    id,
    title: fill(ctx, f.title, where, share),
    seeds: f.seeds ?? ctx.file.seeds,
    configuration,
    topology: doc,
    flow: { ...flow, from: flow.from, to: flow.to } as CellSpec['flow'],
    expect: {
      ...(outcome && { outcome }),
      ...(f.expect?.sourceSeen && { sourceSeen: f.expect.sourceSeen }),
      ...(f.expect?.evidence && { evidence: f.expect.evidence }),
    },
    pathWorks,
    explanation: fill(ctx, f.explanation, where, share),
    ...(f.mechanism && { mechanism: fill(ctx, f.mechanism, where, share) }),
    ...(f.tags && { extraTags: f.tags }),
    ...(f.disruptive && { disruptive: true }),
    ...(chaos && { chaos }),
  };
  return cell;
}

function marginExpectation(share: number, margin: number): Expectation<Outcome> {
  if (share >= 1) return { kind: 'all', outcome: 'timeout' };
  if (share <= 0) return { kind: 'all', outcome: 'connected' };
  return { kind: 'rate', outcome: 'timeout', ...band(share, margin) };
}

function chaosOf(ctx: Ctx, c: NonNullable<CellFields['chaos']>, at: string): ChaosSpec | undefined {
  const bound = (
    b: NonNullable<typeof c.bounds.inside> | undefined,
    path: string,
  ): FailureBound | undefined => {
    if (b === undefined || typeof b === 'string') return b;
    if ('derive' in b) {
      const loss = c.faults.find((f) => f.fault.kind === 'packet-loss')?.fault;
      if (!loss || loss.kind !== 'packet-loss') {
        ctx.report(path, b, 'derive packet-loss needs a packet-loss fault in the cell');
        return undefined;
      }
      const deadline = c.batch?.deadlineMs ?? 300;
      return band(
        packetLossShare(loss.probability, deadline, defaultAnswerMs('tcp', deadline)),
        b.margin ?? RATE_MARGIN,
      );
    }
    return b;
  };
  const inside = bound(c.bounds.inside, `${at}.chaos.bounds.inside`);
  const outside = bound(c.bounds.outside, `${at}.chaos.bounds.outside`);
  return {
    durationMs: c.durationMs,
    ...(c.batch && { batch: c.batch }),
    ...(c.longLived && { longLived: c.longLived }),
    faults: c.faults.map((f) => ({ atMs: f.atMs, durationMs: f.durationMs, fault: f.fault })),
    bounds: {
      ...(outside !== undefined && { outside }),
      ...(inside !== undefined && { inside }),
      ...(c.bounds.recovers !== undefined && { recovers: c.bounds.recovers }),
      ...(c.bounds.endsWhenUnhealthy && { endsWhenUnhealthy: c.bounds.endsWhenUnhealthy }),
      ...(c.bounds.longLived && { longLived: c.bounds.longLived }),
    },
  };
}

// --- patches -------------------------------------------------------------------------------------

type Step = { key: string } | { index: number } | { match: [string, string] };

function parsePath(path: string): Step[] {
  const steps: Step[] = [];
  for (const part of path.split('.')) {
    const m = /^([^[]+)(.*)$/.exec(part)!;
    steps.push({ key: m[1]! });
    for (const sel of m[2]!.matchAll(/\[([^\]]+)\]/g)) {
      const s = sel[1]!;
      if (/^\d+$/.test(s)) steps.push({ index: Number(s) });
      else {
        const eq = s.indexOf('=');
        steps.push({ match: [s.slice(0, eq), s.slice(eq + 1)] });
      }
    }
  }
  return steps;
}

function applyOp(ctx: Ctx, doc: Doc, op: PatchOp, axisValue: ConfigValue | undefined, at: string): void {
  const path = 'set' in op ? op.set : 'append' in op ? op.append : op.remove;
  const steps = parsePath(path);
  let node: unknown = doc;
  for (let i = 0; i < steps.length - 1; i++) {
    const next = child(node, steps[i]!, 'set' in op ? steps[i + 1] : undefined);
    if (next === undefined) {
      ctx.report(at, path, `finds nothing at ${describeSteps(steps.slice(0, i + 1))} in the topology`);
      return;
    }
    node = next;
  }
  const last = steps[steps.length - 1]!;
  if ('set' in op) {
    const value = op.value !== undefined ? structuredClone(op.value) : axisValue;
    if (value === undefined) {
      ctx.report(at, path, 'needs a value (only an axis may leave it out)');
      return;
    }
    if (!assign(node, last, value)) ctx.report(at, path, `cannot set ${describeSteps(steps)}`);
  } else if ('append' in op) {
    const list =
      child(node, last, undefined) ??
      (isPlain(node) && 'key' in last ? ((node[last.key] = []) as unknown[]) : undefined);
    if (!Array.isArray(list)) ctx.report(at, path, 'is not a list in the topology');
    else list.push(structuredClone(op.value));
  } else if (!removeAt(node, last))
    ctx.report(at, path, `finds nothing to remove at ${describeSteps(steps)}`);
}

function describeSteps(steps: Step[]): string {
  return steps
    .map((s) => ('key' in s ? `.${s.key}` : 'index' in s ? `[${s.index}]` : `[${s.match[0]}=${s.match[1]}]`))
    .join('')
    .replace(/^\./, '');
}

/** The child at a step; with `create` (the next step), a missing object key is created. */
function child(node: unknown, step: Step, create: Step | undefined): unknown {
  if ('key' in step) {
    if (!isPlain(node)) return undefined;
    if (node[step.key] === undefined && create !== undefined) node[step.key] = 'key' in create ? {} : [];
    return node[step.key];
  }
  if (!Array.isArray(node)) return undefined;
  if ('index' in step) return node[step.index];
  return node.find((x) => isPlain(x) && String(x[step.match[0]]) === step.match[1]);
}

function indexIn(list: unknown[], step: Step): number {
  if ('index' in step) return step.index;
  if ('match' in step) {
    const [k, v] = step.match;
    return list.findIndex((x) => isPlain(x) && String(x[k]) === v);
  }
  return -1;
}

function assign(node: unknown, step: Step, value: unknown): boolean {
  if ('key' in step && isPlain(node)) {
    node[step.key] = value;
    return true;
  }
  if (!Array.isArray(node)) return false;
  const i = indexIn(node, step);
  if (i < 0 || i > node.length) return false;
  node[i] = value;
  return true;
}

function removeAt(node: unknown, step: Step): boolean {
  if ('key' in step && isPlain(node)) {
    if (!(step.key in node)) return false;
    delete node[step.key];
    return true;
  }
  if (!Array.isArray(node)) return false;
  const i = indexIn(node, step);
  if (i < 0 || i >= node.length) return false;
  node.splice(i, 1);
  return true;
}
