/**
 * report.html: one self-contained page. A header with the run, then per suite a matrix of its
 * cells (verdict and main rate, coloured by status); a click opens the cell's details. All text is
 * escaped: the markup template escapes every interpolation that is not itself markup.
 */
import type { CellResult, PlannedCell, RunResults, SuiteSummary } from '../scenario/result.js';
import { percent } from '../verdict/expectation.js';
import {
  cellsOf,
  configText,
  countsText,
  countStatuses,
  intervalText,
  mainRate,
  outcomesOf,
  plural,
  rateText,
  seconds,
  statusReason,
  STATUSES,
  suiteOrder,
  titleWithTags,
} from './cell-text.js';
import { markup, trusted, type Html } from './escape.js';
import { NOSCRIPT_STYLE, SCRIPT, STYLE } from './html-assets.js';
import { timelineSvg } from './html-timeline.js';
import { describeMiss } from '../scenario/misses.js';
import { buildMatrix, configurationKeys, headerSpans, valueLabel, type Matrix } from './matrix.js';

/** A position of a matrix: a cell's result, or a selected cell that never ran (an interrupted run). */
type Item =
  | { result: CellResult; configuration: CellResult['configuration'] }
  | { planned: PlannedCell; configuration: PlannedCell['configuration'] };

export function renderHtml(results: RunResults): string {
  // Details are addressed by the cell's index: stable while a run appends cells.
  const ids = new Map(results.cells.map((c, i) => [c, `cell-${i}`]));
  const suites = suiteOrder(results.suites, [...results.cells, ...(results.planned ?? [])]).map((id) => {
    const cells = cellsOf(results.cells, id);
    const ran = new Set(cells.map((c) => c.id));
    const notRun = (results.planned ?? []).filter((p) => p.suite === id && !ran.has(p.id));
    const summary = results.suites.find((s) => s.id === id) ?? defaultSummary(id, cells);
    return suiteSection(summary, cells, notRun, ids);
  });
  const refresh = results.state === 'running' ? trusted('<meta http-equiv="refresh" content="15">\n') : '';
  return markup`<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
${refresh}<title>returnpath ${results.runId}</title>
<style>${trusted(STYLE)}</style>
<noscript><style>${trusted(NOSCRIPT_STYLE)}</style></noscript>
</head>
<body>
<div class="layout" id="layout">
<div class="content">
${runHeader(results)}
<main>
${suites}</main>
</div>
<aside id="panel" aria-label="cell details">
${results.cells.map((c) => details(c, ids.get(c)!))}</aside>
</div>
<script>${trusted(SCRIPT)}</script>
</body>
</html>
`.text;
}

function runHeader(r: RunResults): Html {
  const totals = countStatuses(r.cells);
  const duration = r.finishedAt ? ` (${seconds(Date.parse(r.finishedAt) - Date.parse(r.startedAt))} s)` : '';
  const selection = `${r.selection.suites.join(', ') || 'all suites'}${r.selection.grep ? ` matching ${r.selection.grep}` : ''}`;
  const counts = STATUSES.filter((s) => s !== 'skipped' || totals[s] > 0).map(
    (s) => markup`<span class="tag s-${s}">${totals[s]} ${s}</span>`,
  );
  const planned = r.planned?.length;
  const notRun = planned !== undefined ? planned - r.cells.length : 0;
  const ran =
    planned !== undefined && planned !== r.cells.length
      ? markup`<b>${r.cells.length} of ${plural(planned, 'cell')}</b> ran`
      : markup`<b>${plural(r.cells.length, 'cell')}</b>`;
  const broken = r.cells.filter((c) => !pathWorks(c)).length;
  return markup`<header class="run">
<h1>returnpath run ${r.runId} <span class="badge state-${r.state}">${r.state}</span></h1>
<dl class="meta">
<dt>started</dt><dd>${r.startedAt}</dd>
<dt>finished</dt><dd>${r.finishedAt ?? '—'}${duration}</dd>
<dt>host</dt><dd>kernel ${r.host.kernel}, node ${r.host.node}, ${r.host.platform}</dd>
<dt>selection</dt><dd>${selection}</dd>
</dl>
<p class="totals">${ran} ${counts}${notRun > 0 ? markup`<span class="tag s-notrun">${notRun} not run</span>` : ''} · <b>${broken}</b> with a broken return path</p>
<p class="legend">Each cell: what happens to the return path in that configuration
<span class="path works">works</span> or <span class="path broken">broken</span> and by what (a word: rp_filter, source/dest check, hairpin reset, 5-tuple collision, …; for a fault: whether it breaks new connections or resets open ones); below it the verdict, whether the kernel did what the cell expects
(<span class="verdict v-pass">✓ pass</span> <span class="verdict v-fail">✗ FAIL</span> <span class="verdict v-inconclusive">? inconclusive</span> <span class="verdict v-error">! error</span> <span class="verdict v-notrun">not run</span>),
and the main rate with its 95% interval. Click a cell for its evidence, the mechanism and the commands that reproduce it.</p>
</header>`;
}

function suiteSection(
  summary: SuiteSummary,
  cells: CellResult[],
  notRun: PlannedCell[],
  ids: Map<CellResult, string>,
): Html {
  const totals = countStatuses(cells);
  const broken = [...cells, ...notRun].filter((c) => !pathWorks(c)).length;
  const tally = STATUSES.filter((s) => totals[s] > 0).map((s) => `${totals[s]} ${s}`);
  if (notRun.length) tally.push(`${notRun.length} not run`);
  const items: Item[] = [
    ...cells.map((c) => ({ result: c, configuration: c.configuration })),
    ...notRun.map((p) => ({ planned: p, configuration: p.configuration })),
  ];
  const table = items.length > 0 ? matrixTable(buildMatrix(summary.rows, summary.columns, items), ids) : '';
  return markup`<section class="suite" id="suite-${summary.id}">
<h2>${summary.title} <small>${summary.id}</small></h2>
<p class="key">${plural(cells.length + notRun.length, 'cell')}: ${broken} with a broken path; verdicts ${tally.join(', ') || 'none yet'}</p>
<div class="matrix-wrap">${table}</div>
</section>
`;
}

function matrixTable(m: Matrix<Item>, ids: Map<CellResult, string>): Html {
  const rowSpans = headerSpans(m.rows, m.rowKeys);
  const colSpans = headerSpans(m.columns, m.columnKeys);
  const rowHead = m.rowKeys.length ? m.rowKeys : [''];
  // One header row per column key (values merged where they repeat), the row keys named in the first.
  const headRows = (m.columnKeys.length ? m.columnKeys : ['']).map((key, k) => {
    const corner =
      k === 0
        ? rowHead.map(
            (rk) =>
              markup`<th class="corner" rowspan="${Math.max(1, m.columnKeys.length)}" scope="col">${rk}</th>`,
          )
        : '';
    const heads = m.columns.map((col, c) => {
      const span = m.columnKeys.length ? colSpans[c]![k]! : 1;
      if (span === 0) return '';
      const label = m.columnKeys.length ? markup`<span class="k">${key}</span><br>${valueLabel(col[k])}` : '';
      return markup`<th scope="col" colspan="${span}">${label}</th>`;
    });
    return markup`<tr>${corner}${heads}</tr>\n`;
  });
  const rows = m.rows.map((row, r) => {
    const heads = m.rowKeys.length
      ? m.rowKeys.map((key, k) => {
          const span = rowSpans[r]![k]!;
          return span === 0
            ? ''
            : markup`<th scope="row" rowspan="${span}" title="${key}">${valueLabel(row[k])}</th>`;
        })
      : markup`<th scope="row"></th>`;
    const cells = m.grid[r]!.map((here) =>
      here.length === 0
        ? markup`<td class="empty" title="no such configuration"></td>`
        : markup`<td>${here.map((it) => matrixCell(it, ids, here.length > 1))}</td>`,
    );
    return markup`<tr>${heads}${cells}</tr>\n`;
  });
  return markup`<table class="matrix">
<thead>
${headRows}</thead>
<tbody>
${rows}</tbody>
</table>`;
}

function isChaos(c: CellResult | PlannedCell): boolean {
  return 'tags' in c ? c.tags.includes('Chaos') : c.chaos === true;
}

/**
 * The path's outcome as the cell shows it: works or broken (by what). A chaos cell shows what its
 * fault does to the path: breaks it while applied (by what), or leaves new connections unaffected.
 */
function pathWorks(c: CellResult | PlannedCell): boolean {
  if (!isChaos(c)) return c.pathWorks;
  return chaosEffect(c) === 'unaffected';
}

/** What a chaos cell's fault did to the path: new connections failed, open ones died, or neither. */
function chaosEffect(
  c: CellResult | PlannedCell,
): 'breaks new connections' | 'resets open connections' | 'unaffected' {
  const t = 'timeline' in c ? c.timeline : undefined;
  if (!t) return c.pathWorks && c.mechanism === undefined ? 'unaffected' : 'breaks new connections';
  if ((t.metrics['failuresUnderFault'] ?? 0) > 0) return 'breaks new connections';
  const died = Object.values(t.longLived ?? {}).some(
    (s) => s === 'reset' || s === 'timeout' || s === 'closed',
  );
  return died ? 'resets open connections' : 'unaffected';
}

function outcomeBadge(c: CellResult | PlannedCell): Html {
  const what = c.mechanism ? markup`<span class="mech">${c.mechanism}</span>` : '';
  if (isChaos(c)) {
    const effect = chaosEffect(c);
    return markup`<span class="path ${effect === 'unaffected' ? 'works' : 'broken'}">${effect}</span>${what}`;
  }
  return c.pathWorks
    ? markup`<span class="path works">works</span>${what}`
    : markup`<span class="path broken">broken</span>${what}`;
}

const VERDICT_TEXT: Record<string, string> = {
  pass: '✓ pass',
  fail: '✗ FAIL',
  inconclusive: '? inconclusive',
  error: '! error',
};

function matrixCell(it: Item, ids: Map<CellResult, string>, showId: boolean): Html {
  if ('planned' in it) {
    const p = it.planned;
    const label = showId ? markup`<span class="id">${p.id}</span>` : '';
    return markup`<div class="cell notrun ${pathWorks(p) ? 'works' : 'broken'}" title="${p.suite}/${p.id}: not run (the run was interrupted before it)">${outcomeBadge(p)}${label}<span class="foot"><span class="verdict v-notrun">not run</span></span></div>`;
  }
  const cell = it.result;
  const label = showId ? markup`<span class="id">${cell.id}</span>` : '';
  const tip = `${cell.suite}/${cell.id}: ${statusReason(cell)}`;
  // An error measured nothing: the path is neither shown working nor broken.
  const shape = cell.status === 'error' ? 'unknown' : pathWorks(cell) ? 'works' : 'broken';
  const badge =
    cell.status === 'error' ? markup`<span class="path unknown">not measured</span>` : outcomeBadge(cell);
  return markup`<button type="button" class="cell ${shape} v-${cell.status}" data-cell="${ids.get(cell)!}" title="${tip}">${badge}${label}<span class="foot"><span class="verdict v-${cell.status}">${VERDICT_TEXT[cell.status]}</span> <span class="rate">${rateLine(cell)}</span></span></button>`;
}

/** `timeout 33% [24%, 47%]`; for a chaos cell, how many attempts failed under the fault. */
function rateLine(cell: CellResult): Html {
  const m = cell.timeline?.metrics;
  if (m && m['attemptsUnderFault'] !== undefined)
    return markup`${m['failuresUnderFault'] ?? 0}/${m['attemptsUnderFault'] ?? 0} fail under the fault`;
  const main = mainRate(cell);
  return main
    ? markup`${main.outcome} ${percent(main.rate.rate)} <small>${intervalText(main.rate)}</small>`
    : markup`no attempts`;
}

function details(cell: CellResult, id: string): Html {
  // Not the URL fragment itself (#cell-N): the browser would scroll the page to the hidden panel.
  return markup`<section class="details" id="details-${id}" aria-label="${cell.suite}/${cell.id}">
<button type="button" class="close" aria-label="close">×</button>
<h3>${titleWithTags(cell)}</h3>
<p class="key">${cell.suite}/${cell.id}</p>
<p class="status s-${cell.status}"><b>${cell.status}</b>: ${cell.reason}</p>
<dl class="meta">
<dt>configuration</dt><dd><code>${configText(cell.configuration) || '—'}</code></dd>
<dt>flow</dt><dd>${cell.flow}</dd>
<dt>expectation</dt><dd>${cell.expectation}</dd>
<dt>return path</dt><dd>${cell.pathWorks ? 'works' : 'broken in this configuration'}${cell.mechanism ? `: ${cell.mechanism}` : ''}</dd>
<dt>attempts</dt><dd>${countsText(cell)}</dd>
<dt>seeds</dt><dd>${cell.seeds.join(', ') || '—'}</dd>
<dt>started</dt><dd>${cell.startedAt}, ${seconds(cell.durationMs)} s</dd>
</dl>
${errorText(cell)}${checks(cell)}${counts(cell)}${sources(cell)}${evidence(cell)}${misses(cell)}${timeline(cell)}<h4>explanation</h4>
<p>${cell.explanation}</p>
${reproduce(cell)}</section>
`;
}

function errorText(cell: CellResult): Html | '' {
  return cell.error ? markup`<h4>error</h4>\n<pre>${cell.error}</pre>\n` : '';
}

function checks(cell: CellResult): Html | '' {
  if (cell.checks.length === 0) return '';
  const rows = cell.checks.map(
    (c) =>
      markup`<tr><td><span class="tag s-${c.status}">${c.status}</span></td><td>${c.name}</td><td>${c.detail}</td></tr>`,
  );
  return markup`<h4>checks</h4>\n<table>${rows}</table>\n`;
}

function counts(cell: CellResult): Html | '' {
  const outcomes = outcomesOf(cell);
  if (outcomes.length === 0) return '';
  const rows = outcomes.map((o) => {
    const r = cell.rates[o];
    return markup`<tr><td>${o}</td><td class="n">${cell.counts[o] ?? 0}</td><td>${r ? rateText(r) : ''}</td></tr>`;
  });
  const head = markup`<tr><th>outcome</th><th>count</th><th>rate [95% interval]</th></tr>`;
  return markup`<h4>counts</h4>\n<table>${head}${rows}</table>\n`;
}

function sources(cell: CellResult): Html {
  const entries = Object.entries(cell.sourcesSeen);
  if (entries.length === 0) return markup`<h4>sources seen</h4>\n<p>none</p>\n`;
  const rows = entries.map(
    ([src, n]) => markup`<tr><td><code>${src}</code></td><td class="n">${n}</td></tr>`,
  );
  return markup`<h4>sources seen</h4>\n<table>${rows}</table>\n`;
}

function evidence(cell: CellResult): Html | '' {
  if (cell.evidence.length === 0) return '';
  const items = cell.evidence.map((e) => {
    const extra = `${e.reason ? ` (${e.reason})` : ''}${e.count !== undefined ? ` [${e.count}]` : ''}`;
    return markup`<li><b>${e.kind}</b> on ${e.host}: ${e.summary}${extra}</li>`;
  });
  return markup`<h4>evidence</h4>\n<ul>${items}</ul>\n`;
}

function misses(cell: CellResult): Html | '' {
  if (!cell.misses?.length) return '';
  const items = cell.misses.map(
    (m) =>
      markup`<li><b>${describeMiss(m)}</b>${m.serverSaw ? ` (server saw ${m.serverSaw})` : ''}<ul>${m.evidence.map((e) => markup`<li><code>${e}</code></li>`)}</ul></li>`,
  );
  return markup`<h4>attempts that missed the expectation</h4>\n<ul class="misses">${items}</ul>\n`;
}

/** `3/64 (4.7%)`, or `—` without attempts. */
function fraction(failed: number | null | undefined, total: number | null | undefined): string {
  if (!total) return '—';
  const f = failed ?? 0;
  return `${f}/${total} (${percent(f / total)})`;
}

function ms(v: number | null | undefined): string {
  return v === null || v === undefined
    ? '—'
    : v >= 1000
      ? `${(v / 1000).toFixed(2)} s`
      : `${Math.round(v)} ms`;
}

function timeline(cell: CellResult): Html | '' {
  const t = cell.timeline;
  if (!t) return '';
  const m = t.metrics;
  const outside = m['attemptsOutside']
    ? Math.round((m['failureRateOutside'] ?? 0) * (m['attemptsOutside'] ?? 0))
    : 0;
  const rows: [string, string][] = [
    ['failed outside the fault', fraction(outside, m['attemptsOutside'])],
    ['failed while it was in effect', fraction(m['failuresUnderFault'], m['attemptsUnderFault'])],
    ['failed after revert', fraction(m['failuresAfterRevert'], m['attemptsAfterRevert'])],
    ['visible effect', ms(m['windowMs'])],
    ['recovered (5 in a row) after revert', m['recoveryMs'] === null ? 'never' : ms(m['recoveryMs'])],
  ];
  // Long-lived connections: how many ended each way, and when (relative to the traffic's start).
  const byState = new Map<string, string[]>();
  for (const [name, state] of Object.entries(t.longLived ?? {}))
    byState.set(state, [...(byState.get(state) ?? []), name]);
  for (const [state, names] of byState) {
    const died = names
      .map((n) => m[`longLived.${n}.diedMs`])
      .filter((v): v is number => typeof v === 'number');
    const when = died.length
      ? ` at ${ms(Math.min(...died))}${Math.max(...died) - Math.min(...died) > 50 ? `-${ms(Math.max(...died))}` : ''}`
      : '';
    rows.push([`long-lived ${state}`, `${names.length}${when}`]);
  }
  const table = rows.map(([k, v]) => markup`<tr><td>${k}</td><td>${v}</td></tr>`);
  return markup`<h4>timeline</h4>\n${timelineSvg(t)}\n<table class="metrics">${table}</table>\n`;
}

function reproduce(cell: CellResult): Html | '' {
  if (cell.reproduce.length === 0) return '';
  return markup`<h4>reproduce</h4>\n<pre><code>${cell.reproduce.join('\n')}</code></pre>\n`;
}

/** A suite the results do not describe: rows are every configuration key its cells have. */
function defaultSummary(id: string, cells: CellResult[]): SuiteSummary {
  return { id, title: id, rows: configurationKeys(cells), columns: [] };
}
