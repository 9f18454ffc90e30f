/** The inline stylesheet and script of report.html (no external assets). */

export const STYLE = `
:root { --pass: #1a7f37; --fail: #cf222e; --inconclusive: #9a6700; --error: #57606a; --skipped: #8c959f; --line: #d0d7de;
  --muted: #57606a; --bg-soft: #f6f8fa; --works: #dafbe1; --works-ink: #116329; --broken: #ffe1dd;
  --broken-ink: #a40e26; font: 14px/1.45 system-ui, -apple-system, 'Segoe UI', sans-serif; }
body { margin: 0; color: #1f2328; }
.layout { display: grid; grid-template-columns: minmax(0, 1fr); }
.layout.panel-open { grid-template-columns: minmax(0, 1fr) min(560px, 40vw); }
.content { min-width: 0; }
header.run, main { padding: 0 20px; }
header.run { border-bottom: 1px solid var(--line); background: var(--bg-soft); padding-bottom: 10px; }
h1 { font-size: 20px; margin: 0; padding-top: 14px; }
h2 { font-size: 16px; margin: 24px 0 2px; }
h2 small, .key { color: var(--muted); font-weight: normal; font-size: 13px; }
.key { margin: 0 0 6px; }
dl.meta { display: grid; grid-template-columns: max-content 1fr; gap: 2px 12px; margin: 8px 0; }
dt { color: var(--muted); }
dd { margin: 0; }
code, pre { font: 12.5px/1.4 ui-monospace, SFMono-Regular, Menlo, monospace; }
pre { background: var(--bg-soft); padding: 8px; overflow-x: auto; white-space: pre-wrap; }
.badge { display: inline-block; padding: 0 8px; border-radius: 10px; color: #fff; font-weight: 600; }
.state-running { background: #0969da; } .state-complete { background: var(--pass); }
.state-interrupted { background: var(--fail); }
.tag { display: inline-block; padding: 0 6px; margin-right: 6px; border-left: 4px solid; font-size: 12.5px; }
.s-pass { border-color: var(--pass); background: #dafbe1; } .s-fail { border-color: var(--fail); background: #ffebe9; }
.s-inconclusive { border-color: var(--inconclusive); background: #fff8c5; }
.s-error { border-color: var(--error); background: #eaeef2; } .s-notrun { border-color: #afb8c1; background: #fff; }
.legend { color: var(--muted); font-size: 12.5px; margin: 4px 0 0; max-width: 110ch; }
table { border-collapse: collapse; }
.matrix-wrap { overflow-x: auto; padding-bottom: 4px; }
table.matrix th, table.matrix td { border: 1px solid var(--line); padding: 3px; vertical-align: top; }
table.matrix th { background: var(--bg-soft); font-weight: 500; font-size: 12px; text-align: left; }
table.matrix thead th { vertical-align: bottom; }
table.matrix tbody th { max-width: 190px; }
table.matrix th.corner { color: var(--muted); font-style: italic; vertical-align: bottom; }
table.matrix .k { color: var(--muted); }
td.empty { background: repeating-linear-gradient(45deg, #fff, #fff 4px, #f6f8fa 4px, #f6f8fa 8px); }
.cell { display: block; box-sizing: border-box; width: 100%; min-width: 96px; max-width: 170px; margin: 1px 0; padding: 3px 5px;
  text-align: left; border: 1px solid transparent; border-radius: 4px; cursor: pointer; font: inherit;
  font-size: 12px; line-height: 1.3; color: inherit; }
.cell.works { background: var(--works); } .cell.broken { background: var(--broken); }
.cell.unknown { background: #eaeef2; } .path.unknown { color: var(--muted); }
.cell .path { font-weight: 700; } .cell .mech { display: block; font-size: 11.5px; }
.cell.broken .mech { color: var(--broken-ink); }
.cell .foot { display: block; margin-top: 2px; }
.cell .rate, .cell .id { font-size: 11px; color: var(--muted); } .cell .id { display: block; }
.cell .rate small { font-size: 10.5px; }
.cell.v-fail, .cell.v-error { border: 2px solid var(--fail); }
.cell.v-inconclusive { border: 2px dashed var(--inconclusive); }
.cell.notrun { cursor: default; opacity: .55; border: 1px dashed #8c959f; }
.cell.selected { outline: 3px solid #0969da; outline-offset: 1px; }
.path { display: inline-block; padding: 0 5px; border-radius: 3px; font-size: 12px; }
.path.works { color: var(--works-ink); background: var(--works); }
.path.broken { color: var(--broken-ink); background: var(--broken); }
.cell .path { padding: 0; background: none; }
.verdict { display: inline-block; font-weight: 700; font-size: 11px; padding: 0 4px; border-radius: 3px; }
.v-pass.verdict { color: var(--pass); background: #fff; } .v-fail.verdict { color: #fff; background: var(--fail); }
.v-inconclusive.verdict { color: #fff; background: var(--inconclusive); }
.v-error.verdict { color: #fff; background: var(--error); } .v-notrun.verdict { color: var(--muted); background: #fff; }
aside#panel { display: none; position: sticky; top: 0; height: 100vh; overflow-y: auto; background: #fff;
  border-left: 1px solid var(--line); box-shadow: -4px 0 16px rgba(0,0,0,.06); }
.panel-open aside#panel { display: block; }
.details { display: none; padding: 0 18px 24px; }
.s-skipped { border-color: var(--skipped); border-style: dashed; background: #f6f8fa; color: var(--muted); }
.details.open { display: block; }
.details h3 { margin: 14px 0 2px; font-size: 16px; padding-right: 36px; }
.details h4 { margin: 14px 0 4px; font-size: 14px; }
.details .status { padding: 6px 10px; border-left: 5px solid; }
.details table td, .details table th { border-bottom: 1px solid var(--line); padding: 2px 10px 2px 0; text-align: left;
  vertical-align: top; }
.details td.n { text-align: right; }
.details ul.misses code { font-size: 11.5px; }
.close { position: sticky; top: 8px; float: right; margin-top: 8px; font-size: 18px; border: 0; background: none;
  cursor: pointer; }
svg.timeline { max-width: 100%; height: auto; font-size: 11px; }
svg.timeline .window rect { fill: var(--inconclusive); opacity: .18; }
svg.timeline .window text { fill: #7d4e00; }
svg.timeline .band line, svg.timeline .axis { stroke: var(--line); }
svg.timeline .band text { text-anchor: end; fill: var(--muted); }
svg.timeline .tick { text-anchor: middle; fill: var(--muted); }
svg.timeline circle.ok { fill: var(--pass); } svg.timeline circle.bad { fill: var(--fail); }
`;

/** Opens a cell's details on click (and from the URL fragment); Escape or × closes them. */
export const SCRIPT = `
(() => {
  const setHash = (hash) => {
    try {
      history.replaceState(null, '', hash ? '#' + hash : location.pathname + location.search);
    } catch {
      // Some browsers refuse replaceState on file: URLs; the panel works without it.
    }
  };
  // The details open beside the matrices (never over them); the selected cell stays in view.
  const open = (id) => {
    document.querySelectorAll('.details.open').forEach((d) => d.classList.remove('open'));
    document.querySelectorAll('.cell.selected').forEach((b) => b.classList.remove('selected'));
    const details = /^cell-[0-9]+$/.test(id) ? document.getElementById('details-' + id) : null;
    document.getElementById('layout').classList.toggle('panel-open', details !== null);
    if (details) {
      details.classList.add('open');
      document.getElementById('panel').scrollTop = 0;
      document.querySelectorAll('[data-cell="' + id + '"]').forEach((b) => {
        b.classList.add('selected');
        b.scrollIntoView({ block: 'nearest', inline: 'nearest' });
      });
    }
    if (details || location.hash) setHash(details ? id : '');
  };
  document.addEventListener('click', (e) => {
    const target = e.target instanceof Element ? e.target : null;
    const cell = target && target.closest('[data-cell]');
    if (cell) open(cell.getAttribute('data-cell'));
    else if (target && target.closest('.close')) open('');
  });
  document.addEventListener('keydown', (e) => {
    if (e.key === 'Escape') open('');
  });
  open(location.hash.slice(1));
})();
`;

/** Without a script, every cell's details are listed below the matrices. */
export const NOSCRIPT_STYLE = `aside#panel { display: block; position: static; height: auto; box-shadow: none;
  border: 0; border-top: 1px solid var(--line); } .details { display: block; } .close { display: none; }`;
