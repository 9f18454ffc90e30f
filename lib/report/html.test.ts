import { expect } from 'chai';
import { renderHtml } from './html.js';
import { buildMatrix, comboLabels } from './matrix.js';
import { chaosCell, expectGolden, rpFilterCell, sampleCells, sampleRun } from './test-helpers.js';

function count(text: string, pattern: RegExp): number {
  return [...text.matchAll(pattern)].length;
}

describe('HTML report', () => {
  it('renders the sample run as before (golden)', async () => {
    await expectGolden('report.html', renderHtml(sampleRun()));
  });

  it('is one self-contained page', () => {
    const page = renderHtml(sampleRun());
    expect(page).to.match(/^<!doctype html>\n/);
    expect(page).to.contain('<style>').and.to.contain('<script>');
    expect(page).not.to.match(/<(link|img)\b|\bsrc=|https?:\/\/(?!www\.w3\.org\/2000\/svg)/);
  });

  it('shows the run in the header', () => {
    const page = renderHtml({ ...sampleRun(), state: 'interrupted' });
    expect(page).to.contain('returnpath run run-20251120-c0ffee');
    expect(page).to.contain('<span class="badge state-interrupted">interrupted</span>');
    expect(page).to.contain('<dd>2025-11-20T10:02:10.500Z (132.500 s)</dd>');
    expect(page).to.contain('<b>9 cells</b> <span class="tag s-pass">6 pass</span>');
    expect(page).not.to.contain('http-equiv="refresh"');
    expect(renderHtml({ ...sampleRun(), state: 'running' })).to.contain('http-equiv="refresh"');
  });

  it('has a matrix per suite, also for a suite only cells name', () => {
    const cells = [
      ...sampleCells(),
      rpFilterCell({ id: 'u', suite: 'undeclared', configuration: { mtu: 9001 } }),
    ];
    const page = renderHtml(sampleRun(cells));
    expect(count(page, /<table class="matrix">/g)).to.equal(3);
    expect(page).to.contain('<section class="suite" id="suite-undeclared">');
    expect(page).to.contain('<th scope="row">mtu=9001</th>');
  });

  it('colours cells by status, marks broken paths and shows the main rate', () => {
    const page = renderHtml(sampleRun());
    expect(count(page, /<button type="button" class="cell s-pass"/g)).to.equal(6);
    expect(page).to.contain('class="cell s-fail" data-cell="cell-3"');
    expect(page).to.match(
      /data-cell="cell-1"[^>]*><span class="verdict">pass<\/span><span class="broken"[^>]*>path broken<\/span>/,
    );
    // The rate of the outcome the expectation is about: all timeout -> timeout; no connected -> connected 0%.
    expect(page).to.contain('<span class="rate">timeout 100% <small>[98.1%, 100%]</small></span>');
    expect(page).to.contain('<span class="rate">connected 0% <small>[0%, 8.8%]</small></span>');
    expect(page).to.contain('<span class="rate">no attempts</span>');
  });

  it('stacks cells that share a position, with their ids', () => {
    const page = renderHtml(sampleRun());
    expect(page).to.match(
      /<td><button[^>]*data-cell="cell-1".*?<span class="id">rp1<\/span>.*?<\/button><button[^>]*data-cell="cell-7".*?<span class="id">rp1-udp<\/span>/,
    );
  });

  it('has details for every cell', () => {
    const page = renderHtml(sampleRun());
    expect(count(page, /<section class="details" id="cell-\d+"/g)).to.equal(9);
    const details = page.slice(page.indexOf('<section class="details" id="cell-3"'));
    for (const part of [
      '<h3>NLB to a pod on eth1, cni=vpc-cni rp_filter=1 externalSNAT=true sourceDestCheck=true [conformance]</h3>',
      '<p class="status s-fail"><b>fail</b>: expected all connected: 12/200 connected, 188 not</p>',
      '<dt>flow</dt><dd>internet curl-loop -&gt; web-nlb 198.51.100.200:80 (tcp)</dd>',
      '<td>outcome</td><td>expected all connected, saw 12/200</td>',
      '<tr><td>timeout</td><td class="n">188</td><td>94% [89.8%, 96.5%]</td></tr>',
      '<tr><td><code>203.0.113.10</code></td><td class="n">12</td></tr>',
      '<li><b>drop</b> on node-a: IPReversePathFilter +188 (rp_filter) [188]</li>',
      '<h4>explanation</h4>',
      'returnpath lab up examples/seed-000-eni-rp-filter.yaml --run-id repro\nreturnpath lab exec repro internet',
    ]) {
      expect(details).to.contain(part);
    }
  });

  it('escapes hostile text everywhere', () => {
    const evil = '<img src=x onerror="alert(1)">&\'';
    const cell = rpFilterCell({
      id: '"><script>x</script>',
      title: evil,
      reason: evil,
      configuration: { cni: evil, rp_filter: 1 },
      evidence: [{ kind: 'note', host: evil, summary: evil }],
      reproduce: [`echo ${evil}`],
      timeline: {
        samples: [{ t: 0, outcome: evil, ms: 1 }],
        windows: [{ label: evil, from: 0, to: 5 }],
        metrics: {},
      },
    });
    const page = renderHtml({ ...sampleRun([cell]), runId: evil });
    expect(page).not.to.contain('<img');
    expect(page).not.to.contain('<script>x');
    expect(page).not.to.contain('onerror="');
    expect(page).to.contain('&lt;img src=x onerror=&quot;alert(1)&quot;&gt;&amp;&#39;');
    expect(count(page, /<script>/g)).to.equal(1);
  });

  it('plots a timeline when the cell has one', () => {
    const page = renderHtml(sampleRun([chaosCell(), rpFilterCell({ id: 'plain' })]));
    expect(count(page, /<svg class="timeline"/g)).to.equal(1);
    const svg = page.slice(page.indexOf('<svg class="timeline"'), page.indexOf('</svg>'));
    expect(count(svg, /<circle class="ok"/g)).to.equal(40);
    expect(count(svg, /<circle class="bad"/g)).to.equal(20);
    expect(svg).to.contain('<text x="269.7" y="14">rp_filter=1 on node-a/eth1</text>');
    expect(svg).to.match(/<g class="window"><rect x="269.7" y="20" width="181.7"/);
    expect(page).to.contain('<dt>recoveryMs</dt><dd>0</dd><dt>p99Ms</dt><dd>n/a</dd>');
    expect(page).to.contain('<dt>long-lived ssh-like</dt><dd>survived</dd>');
  });
});

describe('matrix layout', () => {
  it('takes the combinations some cell has, in sorted order, absent keys as their own value', () => {
    const cells = sampleCells().filter((c) => c.suite === 'eni-rp-filter');
    const m = buildMatrix(['rp_filter'], ['externalSNAT', 'sourceDestCheck'], cells);
    expect(m.rows.map((r) => comboLabels(m.rowKeys, r).join(' '))).to.deep.equal([
      'rp_filter=0',
      'rp_filter=1',
      'rp_filter=2',
    ]);
    expect(m.columns.map((c) => comboLabels(m.columnKeys, c).join(' '))).to.deep.equal([
      'externalSNAT=false sourceDestCheck=false',
      'externalSNAT=false sourceDestCheck=true',
      'externalSNAT=false sourceDestCheck=—',
      'externalSNAT=true sourceDestCheck=true', // no cell has externalSNAT=true with the check off or absent
    ]);
    const at = (r: number, c: number): string[] => m.grid[r]![c]!.map((cell) => cell.id);
    expect(at(1, 1)).to.deep.equal(['rp1', 'rp1-udp']);
    expect(at(1, 2)).to.deep.equal(['rp1-legacy']);
    expect(at(2, 0)).to.deep.equal([]);
    expect(at(0, 3)).to.deep.equal(['rp0-snat']);
  });

  it('orders values: false, true, numbers, strings, absent', () => {
    const cells = [true, 'b', 10, 'a', 2, false].map((v, i) =>
      rpFilterCell({ id: `v${i}`, configuration: { v } }),
    );
    cells.push(rpFilterCell({ id: 'none', configuration: {} }));
    const m = buildMatrix(['v'], [], cells);
    expect(m.rows.map((r) => comboLabels(['v'], r)[0])).to.deep.equal([
      'v=false',
      'v=true',
      'v=2',
      'v=10',
      'v=a',
      'v=b',
      'v=—',
    ]);
  });

  it('has one row and one column without keys', () => {
    const m = buildMatrix([], [], [chaosCell()]);
    expect(m.rows).to.deep.equal([[]]);
    expect(m.columns).to.deep.equal([[]]);
    expect(m.grid[0]![0]!.map((c) => c.id)).to.deep.equal(['rp-filter-flip']);
  });
});
