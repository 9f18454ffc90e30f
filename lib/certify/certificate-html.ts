/** The certificate as one self-contained HTML page: inline CSS, no scripts, no external resources. */
import type { Certificate, CertificatePath } from './certificate.js';
import { summarizeCertificate } from './certificate.js';

export function escapeHtml(s: string): string {
  return s.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

const CSS = `
body{font:14px/1.45 system-ui,-apple-system,"Segoe UI",sans-serif;margin:2rem auto;max-width:70rem;padding:0 1rem;color:#1b1f24}
h1{font-size:1.5rem;margin:0 0 .25rem}
h2{font-size:1.15rem;margin:2rem 0 .5rem}
h3{font-size:1rem;margin:0}
.verdict{display:inline-block;padding:.35rem .8rem;border-radius:.3rem;font-weight:700;color:#fff}
.verdict.ok{background:#1a7f37}.verdict.no{background:#cf222e}
table{border-collapse:collapse;width:100%;margin:.5rem 0}
th,td{border:1px solid #d0d7de;padding:.35rem .5rem;text-align:left;vertical-align:top}
th{background:#f6f8fa}
.status{font-weight:600;white-space:nowrap}
.supported,.pass{color:#1a7f37}.unsupported,.fail{color:#cf222e}.error,.inconclusive{color:#9a6700}
.path{border:1px solid #d0d7de;border-radius:.4rem;padding:.75rem 1rem;margin:1rem 0}
.fix{background:#f6f8fa;border-left:3px solid #1a7f37;padding:.3rem .6rem}
code,pre{font:12.5px ui-monospace,SFMono-Regular,Menlo,monospace}
pre{background:#f6f8fa;padding:.5rem;overflow-x:auto;white-space:pre-wrap}
dl{display:grid;grid-template-columns:max-content 1fr;gap:.2rem 1rem}
dt{color:#57606a}dd{margin:0}
`.trim();

export function renderCertificateHtml(c: Certificate): string {
  const e = escapeHtml;
  const source = c.image.source;
  const imageName = source.path ?? source.hostname ?? source.kind;
  const meta: [string, string][] = [
    ...(c.image.name ? ([['Image', c.image.name]] as [string, string][]) : []),
    [c.image.name ? 'Snapshot' : 'Image', `${imageName} (${source.kind})`],
    ['Image kernel', c.image.kernel ?? 'not recorded in the snapshot'],
    ['Lab kernel', c.lab.kernel],
    [
      'returnpath',
      `${c.returnpath.version} (commit ${c.returnpath.commit ?? 'unknown'}${c.returnpath.dirty ? ', uncommitted changes' : ''})`,
    ],
    ...(source.hostname ? ([['Host', source.hostname]] as [string, string][]) : []),
    ...(source.collectedAt ? ([['Collected', source.collectedAt]] as [string, string][]) : []),
    ['CNI profile', c.cni],
    ['Profile', c.profile],
    ['Required paths', c.requiredPaths.join(', ') || '(none)'],
    ['Run', c.runId],
    ['Generated', c.generatedAt],
  ];
  const sysctls = Object.entries(c.image.sysctls ?? {});
  return [
    '<!DOCTYPE html>',
    '<html lang="en">',
    '<head>',
    '<meta charset="utf-8">',
    '<meta name="viewport" content="width=device-width, initial-scale=1">',
    `<title>${e(`returnpath certificate: ${imageName}`)}</title>`,
    `<style>${CSS}</style>`,
    '</head>',
    '<body>',
    `<h1>Return-path certificate</h1>`,
    `<p><span class="verdict ${c.certified ? 'ok' : 'no'}">${c.certified ? 'CERTIFIED' : 'NOT CERTIFIED'}</span> ${e(summarizeCertificate(c))}</p>`,
    `<dl>${meta.map(([k, v]) => `<dt>${e(k)}</dt><dd>${e(v)}</dd>`).join('')}</dl>`,
    '<h2>Paths</h2>',
    '<table>',
    '<thead><tr><th>Path</th><th>Required</th><th>Status</th><th>Why / fix</th></tr></thead>',
    '<tbody>',
    ...c.paths.map(
      (p) =>
        `<tr><td><a href="#${e(anchor(p))}">${e(p.title)}</a><br><code>${e(p.id)}</code></td>` +
        `<td>${p.required ? 'yes' : 'no'}</td><td class="status ${e(p.status)}">${e(p.status)}</td>` +
        `<td>${e(p.mechanism ?? '')}${p.fix ? `<div class="fix">Fix: <code>${e(p.fix)}</code></div>` : ''}</td></tr>`,
    ),
    '</tbody>',
    '</table>',
    ...c.paths.map((p) => renderPath(p)),
    ...(c.image.notes.length > 0
      ? [
          '<h2>How the image was replayed</h2>',
          `<ul>${c.image.notes.map((n) => `<li>${e(n)}</li>`).join('')}</ul>`,
        ]
      : []),
    ...(sysctls.length > 0
      ? [
          '<h2>Sysctls set on the lab nodes</h2>',
          `<pre>${e(sysctls.map(([k, v]) => `${k} = ${String(v)}`).join('\n'))}</pre>`,
        ]
      : []),
    '</body>',
    '</html>',
    '',
  ].join('\n');
}

function anchor(p: CertificatePath): string {
  return `path-${p.id.replace(/[^a-z0-9-]/g, '-')}`;
}

function renderPath(p: CertificatePath): string {
  const e = escapeHtml;
  return [
    `<section class="path" id="${e(anchor(p))}">`,
    `<h3>${e(p.title)} <span class="status ${e(p.status)}">${e(p.status)}</span>${p.required ? '' : ' (not required)'}</h3>`,
    p.mechanism ? `<p>${e(p.mechanism)}</p>` : '',
    p.fix ? `<p class="fix">Fix: <code>${e(p.fix)}</code></p>` : '',
    p.cells.length > 0
      ? `<table><thead><tr><th>Suite</th><th>Cell</th><th>Result</th></tr></thead><tbody>${p.cells
          .map(
            (cell) =>
              `<tr><td>${e(cell.suite)}</td><td><code>${e(cell.id)}</code></td><td class="status ${e(cell.status)}">${e(cell.status)}</td></tr>`,
          )
          .join('')}</tbody></table>`
      : '<p>No cells ran for this path.</p>',
    p.evidence.length > 0
      ? `<details><summary>Evidence</summary><pre>${e(p.evidence.join('\n'))}</pre></details>`
      : '',
    '</section>',
  ]
    .filter(Boolean)
    .join('\n');
}
