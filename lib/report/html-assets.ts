/** The inline stylesheet and script of report.html (no external assets). */

export const STYLE = `
:root { --pass: #1a7f37; --fail: #cf222e; --inconclusive: #bf8700; --error: #6e7781; --line: #d0d7de;
  --muted: #57606a; --bg-soft: #f6f8fa; font: 14px/1.45 system-ui, -apple-system, 'Segoe UI', sans-serif; }
body { margin: 0; color: #1f2328; }
header.run, main { padding: 0 24px; }
header.run { border-bottom: 1px solid var(--line); background: var(--bg-soft); padding-bottom: 12px; }
h1 { font-size: 20px; margin: 0; padding-top: 16px; }
h2 { font-size: 17px; margin: 28px 0 4px; }
h2 small, .key { color: var(--muted); font-weight: normal; font-size: 13px; }
dl.meta { display: grid; grid-template-columns: max-content 1fr; gap: 2px 12px; margin: 8px 0; }
dt { color: var(--muted); }
dd { margin: 0; }
code, pre { font: 12.5px/1.4 ui-monospace, SFMono-Regular, Menlo, monospace; }
pre { background: var(--bg-soft); padding: 8px; overflow-x: auto; white-space: pre-wrap; }
.badge { display: inline-block; padding: 0 8px; border-radius: 10px; color: #fff; font-weight: 600; }
.state-running { background: #0969da; } .state-complete { background: var(--pass); }
.state-interrupted { background: var(--fail); }
.tag { display: inline-block; padding: 0 6px; margin-right: 8px; border-left: 4px solid; font-size: 12.5px; }
.legend { color: var(--muted); font-size: 12.5px; }
table { border-collapse: collapse; }
table.matrix th, table.matrix td { border: 1px solid var(--line); padding: 4px; vertical-align: top; }
table.matrix thead th, table.matrix tbody th { background: var(--bg-soft); font-weight: 500; font-size: 12.5px;
  text-align: left; white-space: nowrap; }
td.empty { color: var(--line); text-align: center; }
.cell { display: block; width: 100%; min-width: 150px; margin: 2px 0; padding: 4px 6px; text-align: left;
  border: 0; border-left: 5px solid; border-radius: 3px; cursor: pointer; font: inherit; color: inherit; }
.cell .verdict { font-weight: 700; text-transform: uppercase; font-size: 12px; }
.cell .rate, .cell .id { display: block; font-size: 12.5px; }
.cell .id { color: var(--muted); }
.cell small { color: var(--muted); }
.cell.selected { outline: 2px solid #0969da; }
.s-pass { border-color: var(--pass); background: #dafbe1; } .s-fail { border-color: var(--fail); background: #ffebe9; }
.s-inconclusive { border-color: var(--inconclusive); background: #fff8c5; }
.s-error { border-color: var(--error); background: #eaeef2; }
.broken { display: inline-block; margin-left: 6px; padding: 0 4px; border: 1px solid currentColor; border-radius: 3px;
  font-size: 11px; color: var(--muted); }
aside#panel { position: fixed; top: 0; right: 0; bottom: 0; width: min(720px, 55vw); overflow-y: auto;
  background: #fff; border-left: 1px solid var(--line); box-shadow: -4px 0 16px rgba(0,0,0,.08); display: none; }
aside#panel.open { display: block; }
.details { display: none; padding: 0 20px 24px; }
.details.open { display: block; }
.details h3 { margin: 16px 0 2px; font-size: 17px; padding-right: 40px; }
.details h4 { margin: 16px 0 4px; font-size: 14px; }
.details .status { padding: 6px 10px; border-left: 5px solid; }
.details table td, .details table th { border-bottom: 1px solid var(--line); padding: 2px 10px 2px 0; text-align: left;
  vertical-align: top; }
.details td.n { text-align: right; }
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
  const open = (id) => {
    document.querySelectorAll('.details.open').forEach((d) => d.classList.remove('open'));
    document.querySelectorAll('.cell.selected').forEach((b) => b.classList.remove('selected'));
    const details = /^cell-[0-9]+$/.test(id) ? document.getElementById(id) : null;
    document.getElementById('panel').classList.toggle('open', details !== null);
    if (details) {
      details.classList.add('open');
      document.querySelectorAll('[data-cell="' + id + '"]').forEach((b) => b.classList.add('selected'));
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
export const NOSCRIPT_STYLE = `aside#panel { display: block; position: static; width: auto; box-shadow: none;
  border: 0; border-top: 1px solid var(--line); } .details { display: block; } .close { display: none; }`;
