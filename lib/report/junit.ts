/**
 * JUnit XML for CI: one <testsuite> per suite, one <testcase> per cell. fail and inconclusive are
 * failures (type = the status), error is an error, skipped is <skipped> with the reason. The failure body says what was expected and
 * seen; <system-out> carries the rest of the cell. Deterministic: same results, same bytes.
 */
import { describeMiss } from '../scenario/misses.js';
import type { CellResult, RunResults } from '../scenario/result.js';
import {
  cellsOf,
  configText,
  countsText,
  countStatuses,
  outcomesOf,
  rateText,
  seconds,
  statusReason,
  suiteOrder,
  titleWithTags,
} from './cell-text.js';
import { escapeXml, escapeXmlAttribute } from './escape.js';

export function renderJunit(results: RunResults): string {
  const props = properties(results);
  const suites = suiteOrder(results.suites, results.cells).map((id) =>
    testsuite(id, cellsOf(results.cells, id), props),
  );
  const all = countStatuses(results.cells);
  const attrs = {
    name: 'returnpath',
    tests: results.cells.length,
    failures: all.fail + all.inconclusive,
    errors: all.error,
    skipped: all.skipped,
    time: seconds(totalMs(results.cells)),
    timestamp: results.startedAt,
  };
  return [
    '<?xml version="1.0" encoding="UTF-8"?>',
    `<testsuites${attributes(attrs)}>`,
    ...suites,
    '</testsuites>',
    '',
  ].join('\n');
}

/** Where the results came from, as <properties> of every <testsuite>. */
function properties(results: RunResults): string {
  const p = results.returnpath;
  const props: [string, string][] = [
    ['returnpath.version', p?.version ?? 'unknown'],
    ['returnpath.commit', p?.commit ?? 'unknown'],
    ...(p?.dirty ? [['returnpath.dirty', 'true'] as [string, string]] : []),
    ['kernel', results.host.kernel],
    ['node', results.host.node],
    ['run', results.runId],
  ];
  return [
    '    <properties>',
    ...props.map(([name, value]) => `      <property${attributes({ name, value })}/>`),
    '    </properties>',
  ].join('\n');
}

function testsuite(id: string, cells: readonly CellResult[], props: string): string {
  const totals = countStatuses(cells);
  const attrs = {
    name: id,
    tests: cells.length,
    failures: totals.fail + totals.inconclusive,
    errors: totals.error,
    skipped: totals.skipped,
    time: seconds(totalMs(cells)),
    ...(cells[0] ? { timestamp: cells[0].startedAt } : {}),
  };
  if (cells.length === 0) return `  <testsuite${attributes(attrs)}/>`;
  // `<id>: <title> [tags]`, as the mocha test is titled: unique within the suite (CI tools merge
  // test cases of the same name) and what `returnpath run --grep` matches.
  const cases = cells.map((c) => testcase(c, `${c.id}: ${titleWithTags(c)}`));
  return [`  <testsuite${attributes(attrs)}>`, props, ...cases, '  </testsuite>'].join('\n');
}

function testcase(cell: CellResult, name: string): string {
  const attrs = { classname: `returnpath.${cell.suite}`, name, time: seconds(cell.durationMs) };
  const lines = [`    <testcase${attributes(attrs)}>`];
  if (cell.status === 'fail' || cell.status === 'inconclusive') {
    lines.push(element('failure', { message: cell.reason, type: cell.status }, failureBody(cell)));
  } else if (cell.status === 'error') {
    lines.push(element('error', { message: statusReason(cell), type: 'error' }, failureBody(cell)));
  } else if (cell.status === 'skipped') {
    lines.push(`      <skipped${attributes({ message: cell.reason })}/>`);
  }
  lines.push(element('system-out', {}, systemOut(cell)), '    </testcase>');
  return lines.join('\n');
}

/** What was expected and seen: the part of a cell one reads first when it failed. */
function failureBody(cell: CellResult): string {
  return [
    `${cell.status}: ${cell.reason}`,
    ...(cell.error ? ['', 'error:', indent(cell.error)] : []),
    '',
    `expected: ${cell.expectation}`,
    `seen:     ${countsText(cell)}`,
    ...section(
      'rates',
      outcomesOf(cell).flatMap((o) => {
        const r = cell.rates[o];
        return r ? [`${o} ${rateText(r)}`] : [];
      }),
    ),
    ...section(
      'checks',
      cell.checks.map((c) => `[${c.status}] ${c.name}: ${c.detail}`),
    ),
    ...section(
      'evidence',
      cell.evidence.map((e) => `${e.kind} on ${e.host}: ${e.summary}`),
    ),
    ...section(
      'attempts that missed',
      (cell.misses ?? []).flatMap((m) => [describeMiss(m), ...m.evidence.map((e) => `  ${e}`)]),
    ),
    ...section('reproduce', cell.reproduce),
  ].join('\n');
}

/** The cell itself: id, flow, configuration, what the servers saw, the mechanism, how to reproduce. */
function systemOut(cell: CellResult): string {
  const timeline = cell.timeline;
  return [
    `cell:          ${cell.suite}/${cell.id}`,
    `status:        ${cell.status}: ${cell.reason}`,
    `flow:          ${cell.flow}`,
    `configuration: ${configText(cell.configuration)}`,
    `path works:    ${cell.pathWorks ? 'yes' : 'no'}${cell.mechanism ? ` (${cell.mechanism})` : ''}`,
    `expected:      ${cell.expectation}`,
    `seen:          ${countsText(cell)}`,
    `seeds:         ${cell.seeds.join(', ') || '-'}`,
    `started:       ${cell.startedAt} (${seconds(cell.durationMs)} s)`,
    ...section(
      'checks',
      cell.checks.map((c) => `[${c.status}] ${c.name}: ${c.detail}`),
    ),
    ...section(
      'sources seen',
      Object.entries(cell.sourcesSeen).map(([src, n]) => `${src}: ${n}`),
    ),
    ...section(
      'evidence',
      cell.evidence.map((e) => `${e.kind} on ${e.host}: ${e.summary}`),
    ),
    ...(timeline
      ? section('timeline', [
          `${timeline.samples.length} attempts, ${timeline.windows.length} fault window(s)`,
          ...timeline.windows.map((w) => `window ${w.label}: ${w.from}-${w.to} ms`),
          ...Object.entries(timeline.metrics).map(([k, v]) => `${k}: ${v ?? 'n/a'}`),
          ...Object.entries(timeline.longLived ?? {}).map(([k, v]) => `long-lived ${k}: ${v}`),
        ])
      : []),
    '',
    'explanation:',
    indent(cell.explanation),
    ...section('reproduce', cell.reproduce),
  ].join('\n');
}

function section(title: string, lines: readonly string[]): string[] {
  return lines.length > 0 ? ['', `${title}:`, ...lines.map(indent)] : [];
}

function indent(text: string): string {
  return text
    .split('\n')
    .map((l) => `  ${l}`)
    .join('\n');
}

function totalMs(cells: readonly CellResult[]): number {
  return cells.reduce((sum, c) => sum + c.durationMs, 0);
}

function element(name: string, attrs: Record<string, string>, text: string): string {
  return `      <${name}${attributes(attrs)}>${escapeXml(text)}</${name}>`;
}

function attributes(attrs: Record<string, string | number>): string {
  return Object.entries(attrs)
    .map(([k, v]) => ` ${k}="${escapeXmlAttribute(String(v))}"`)
    .join('');
}
