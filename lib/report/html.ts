/**
 * report.html: one self-contained page. A header with the run, then per suite a matrix of its
 * cells (verdict and main rate, coloured by status); a click opens the cell's details. All text is
 * escaped: the markup template escapes every interpolation that is not itself markup.
 */
import type { CellResult, RunResults, SuiteSummary } from '../scenario/result.js';
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
import { buildMatrix, comboLabels, configurationKeys, type Matrix } from './matrix.js';

const BROKEN_PATH = 'the path does not work in this configuration; the cell expects that';

export function renderHtml(results: RunResults): string {
  // Details are addressed by the cell's index: stable while a run appends cells.
  const ids = new Map(results.cells.map((c, i) => [c, `cell-${i}`]));
  const suites = suiteOrder(results.suites, results.cells).map((id) => {
    const cells = cellsOf(results.cells, id);
    const summary = results.suites.find((s) => s.id === id) ?? defaultSummary(id, cells);
    return suiteSection(summary, cells, ids);
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
${runHeader(results)}
<main>
${suites}</main>
<aside id="panel" aria-label="cell details">
${results.cells.map((c) => details(c, ids.get(c)!))}</aside>
<script>${trusted(SCRIPT)}</script>
</body>
</html>
`.text;
}

function runHeader(r: RunResults): Html {
  const totals = countStatuses(r.cells);
  const duration = r.finishedAt ? ` (${seconds(Date.parse(r.finishedAt) - Date.parse(r.startedAt))} s)` : '';
  const selection = `${r.selection.suites.join(', ') || 'all suites'}${r.selection.grep ? ` matching ${r.selection.grep}` : ''}`;
  const counts = STATUSES.map((s) => markup`<span class="tag s-${s}">${totals[s]} ${s}</span>`);
  return markup`<header class="run">
<h1>returnpath run ${r.runId} <span class="badge state-${r.state}">${r.state}</span></h1>
<dl class="meta">
<dt>started</dt><dd>${r.startedAt}</dd>
<dt>finished</dt><dd>${r.finishedAt ?? '—'}${duration}</dd>
<dt>host</dt><dd>kernel ${r.host.kernel}, node ${r.host.node}, ${r.host.platform}</dd>
<dt>selection</dt><dd>${selection}</dd>
</dl>
<p class="totals"><b>${plural(r.cells.length, 'cell')}</b> ${counts}</p>
<p class="legend">Each cell shows its verdict and the rate of the outcome its expectation is about, with its 95% interval.
<span class="broken">path broken</span> marks configurations where the path does not work (the cell expects that).</p>
</header>`;
}

function suiteSection(summary: SuiteSummary, cells: CellResult[], ids: Map<CellResult, string>): Html {
  const totals = countStatuses(cells);
  const tally = STATUSES.map((s) => `${totals[s]} ${s}`).join(', ');
  const table = cells.length > 0 ? matrixTable(buildMatrix(summary.rows, summary.columns, cells), ids) : '';
  return markup`<section class="suite" id="suite-${summary.id}">
<h2>${summary.title} <small>${summary.id}</small></h2>
<p class="key">${plural(cells.length, 'cell')}: ${tally}</p>
${table}</section>
`;
}

function matrixTable(m: Matrix, ids: Map<CellResult, string>): Html {
  const corner = `${m.rowKeys.join(' · ') || '—'} \\ ${m.columnKeys.join(' · ') || '—'}`;
  const head = m.columns.map((col) => markup`<th scope="col">${lines(comboLabels(m.columnKeys, col))}</th>`);
  const rows = m.rows.map((row, r) => {
    const cells = m.grid[r]!.map((here) =>
      here.length === 0
        ? markup`<td class="empty">·</td>`
        : markup`<td>${here.map((c) => matrixCell(c, ids.get(c)!, here.length > 1))}</td>`,
    );
    return markup`<tr><th scope="row">${lines(comboLabels(m.rowKeys, row))}</th>${cells}</tr>\n`;
  });
  return markup`<table class="matrix">
<thead><tr><th class="corner">${corner}</th>${head}</tr></thead>
<tbody>
${rows}</tbody>
</table>
`;
}

function matrixCell(cell: CellResult, id: string, showId: boolean): Html {
  const main = mainRate(cell);
  const rate = main
    ? markup`${main.outcome} ${percent(main.rate.rate)} <small>${intervalText(main.rate)}</small>`
    : 'no attempts';
  const broken = cell.pathWorks ? '' : markup`<span class="broken" title="${BROKEN_PATH}">path broken</span>`;
  const label = showId ? markup`<span class="id">${cell.id}</span>` : '';
  const tip = `${cell.suite}/${cell.id}: ${statusReason(cell)}`;
  return markup`<button type="button" class="cell s-${cell.status}" data-cell="${id}" title="${tip}"><span class="verdict">${cell.status}</span>${broken}${label}<span class="rate">${rate}</span></button>`;
}

function details(cell: CellResult, id: string): Html {
  return markup`<section class="details" id="${id}" aria-label="${cell.suite}/${cell.id}">
<button type="button" class="close" aria-label="close">×</button>
<h3>${titleWithTags(cell)}</h3>
<p class="key">${cell.suite}/${cell.id}</p>
<p class="status s-${cell.status}"><b>${cell.status}</b>: ${cell.reason}</p>
<dl class="meta">
<dt>configuration</dt><dd><code>${configText(cell.configuration) || '—'}</code></dd>
<dt>flow</dt><dd>${cell.flow}</dd>
<dt>expectation</dt><dd>${cell.expectation}</dd>
<dt>path works</dt><dd>${cell.pathWorks ? 'yes' : 'no (broken in this configuration)'}</dd>
<dt>attempts</dt><dd>${countsText(cell)}</dd>
<dt>seeds</dt><dd>${cell.seeds.join(', ') || '—'}</dd>
<dt>started</dt><dd>${cell.startedAt}, ${seconds(cell.durationMs)} s</dd>
</dl>
${errorText(cell)}${checks(cell)}${counts(cell)}${sources(cell)}${evidence(cell)}${timeline(cell)}<h4>explanation</h4>
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

function timeline(cell: CellResult): Html | '' {
  const t = cell.timeline;
  if (!t) return '';
  const metrics = Object.entries(t.metrics).map(([k, v]) => markup`<dt>${k}</dt><dd>${v ?? 'n/a'}</dd>`);
  const longLived = Object.entries(t.longLived ?? {}).map(
    ([k, v]) => markup`<dt>long-lived ${k}</dt><dd>${v}</dd>`,
  );
  const list =
    metrics.length + longLived.length > 0
      ? markup`<dl class="meta metrics">${metrics}${longLived}</dl>\n`
      : '';
  return markup`<h4>timeline</h4>\n${timelineSvg(t)}\n${list}`;
}

function reproduce(cell: CellResult): Html | '' {
  if (cell.reproduce.length === 0) return '';
  return markup`<h4>reproduce</h4>\n<pre><code>${cell.reproduce.join('\n')}</code></pre>\n`;
}

/** Lines separated by <br>. */
function lines(texts: string[]): Html {
  return markup`${texts.map((t, i) => (i === 0 ? t : markup`<br>${t}`))}`;
}

/** A suite the results do not describe: rows are every configuration key its cells have. */
function defaultSummary(id: string, cells: CellResult[]): SuiteSummary {
  return { id, title: id, rows: configurationKeys(cells), columns: [] };
}
