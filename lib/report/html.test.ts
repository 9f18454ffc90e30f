import { expect } from 'chai';
import { renderHtml } from './html.js';
import { buildMatrix, comboLabels } from './matrix.js';
import { chaosCell, expectGolden, notRunCell, rpFilterCell, sampleCells, sampleRun } from './test-helpers.js';

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
    expect(page).to.contain('<th scope="row" rowspan="1" title="mtu">9001</th>');
  });

  it('shows the path at a glance: works or broken and by what, with the verdict and the main rate', () => {
    const page = renderHtml(sampleRun());
    // Broken paths are coloured as such, whatever the verdict; the verdict is a badge below.
    expect(page).to.match(
      /class="cell broken v-pass" data-cell="cell-1"[^>]*><span class="path broken">broken<\/span><span class="mech">rp_filter<\/span>/,
    );
    expect(count(page, /class="cell works v-pass"/g)).to.equal(2);
    expect(page).to.contain(
      '<span class="verdict v-pass">✓ pass</span> <span class="rate">timeout 100% <small>[98.1%, 100%]</small></span>',
    );
    // A failing verdict stands out (its own class, outlined) on a path that otherwise works.
    expect(page).to.contain('class="cell works v-fail" data-cell="cell-3"');
    expect(page).to.contain('<span class="verdict v-fail">✗ FAIL</span>');
    expect(page).to.contain('<span class="verdict v-inconclusive">? inconclusive</span>');
    expect(page).to.contain('<span class="rate">connected 0% <small>[0%, 8.8%]</small></span>');
    expect(page).to.contain('<span class="rate">no attempts</span>');
    // A chaos cell shows what its fault does to the path, and how many attempts failed under it.
    expect(page).to.contain(
      '<span class="path broken">breaks new connections</span><span class="foot"><span class="verdict v-pass">✓ pass</span> <span class="rate">20/20 fail under the fault</span>',
    );
  });

  it('lays a matrix out as a pivot: a header row per column key, merged values, row keys in the corner', () => {
    const page = renderHtml(sampleRun());
    expect(page).to.contain(
      '<th class="corner" rowspan="2" scope="col">cni</th><th class="corner" rowspan="2" scope="col">rp_filter</th>',
    );
    expect(page).to.contain('<th scope="col" colspan="3"><span class="k">externalSNAT</span><br>false</th>');
    expect(page).to.contain('<th scope="row" rowspan="3" title="cni">vpc-cni</th>');
  });

  it('marks the selected cells that never ran, and counts them', () => {
    const run = {
      ...sampleRun(sampleCells().slice(0, 2)),
      state: 'interrupted' as const,
      planned: [
        ...sampleCells()
          .slice(0, 2)
          .map((c) => ({
            suite: c.suite,
            id: c.id,
            title: c.title,
            configuration: c.configuration,
            pathWorks: c.pathWorks,
          })),
        notRunCell(
          'later',
          { cni: 'vpc-cni', rp_filter: 2, externalSNAT: true, sourceDestCheck: true },
          false,
        ),
      ],
    };
    const page = renderHtml(run);
    expect(page).to.contain('<b>2 of 3 cells</b> ran');
    expect(page).to.contain('<span class="tag s-notrun">1 not run</span>');
    expect(page).to.match(
      /<div class="cell notrun broken" title="eni-rp-filter\/later: not run[^"]*"><span class="path broken">broken<\/span><span class="foot"><span class="verdict v-notrun">not run<\/span>/,
    );
    expect(page).to.contain('3 cells: 2 with a broken path; verdicts 2 pass, 1 not run');
  });

  it('stacks cells that share a position, with their ids', () => {
    const page = renderHtml(sampleRun());
    expect(page).to.match(
      /<td><button[^>]*data-cell="cell-1".*?<span class="id">rp1<\/span>.*?<\/button><button[^>]*data-cell="cell-7".*?<span class="id">rp1-udp<\/span>/,
    );
  });

  it('has details for every cell', () => {
    const page = renderHtml(sampleRun());
    expect(count(page, /<section class="details" id="details-cell-\d+"/g)).to.equal(9);
    const details = page.slice(page.indexOf('<section class="details" id="details-cell-3"'));
    for (const part of [
      '<h3>NLB to a pod on eth1, cni=vpc-cni rp_filter=1 externalSNAT=true sourceDestCheck=true [conformance]</h3>',
      '<p class="status s-fail"><b>fail</b>: expected all connected: 12/200 connected, 188 not</p>',
      '<dt>flow</dt><dd>internet curl-loop -&gt; web-nlb 198.51.100.200:80 (tcp)</dd>',
      '<td>outcome</td><td>expected all connected, saw 12/200</td>',
      '<tr><td>timeout</td><td class="n">188</td><td>94% [89.8%, 96.5%]</td></tr>',
      '<tr><td><code>203.0.113.10</code></td><td class="n">12</td></tr>',
      '<li><b>drop</b> on node-a: IPReversePathFilter +188 (rp_filter) [188]</li>',
      '<h4>explanation</h4>',
      '<dt>return path</dt><dd>works</dd>',
      '<h4>attempts that missed the expectation</h4>',
      '<li><b>#3 timeout (connect) 203.0.113.10:41234 -&gt; 198.51.100.200:80 after 250 ms</b><ul><li><code>conntrack nlb/web-nlb/az-a: tcp SYN_SENT',
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
    // Measured figures, rounded, once each (no raw metric names, no per-connection list).
    expect(page).to.contain('<tr><td>failed outside the fault</td><td>0/40 (0%)</td></tr>');
    expect(page).to.contain('<tr><td>failed while it was in effect</td><td>20/20 (100%)</td></tr>');
    expect(page).to.contain('<tr><td>failed after revert</td><td>0/20 (0%)</td></tr>');
    expect(page).to.contain('<tr><td>visible effect</td><td>2.00 s</td></tr>');
    expect(page).to.contain(
      '<tr><td>long-lived survived</td><td>1</td></tr><tr><td>long-lived reset</td><td>1 at 2.10 s</td></tr>',
    );
    expect(page).not.to.contain('longLived.');
    expect(page).not.to.contain('2000.4444');
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
