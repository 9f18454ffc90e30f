import { expect } from 'chai';
import { renderSummary } from './summary.js';
import { chaosCell, rpFilterCell, sampleRun } from './test-helpers.js';

describe('console summary', () => {
  it('tabulates statuses per suite, then lists the cells that did not pass', () => {
    expect(renderSummary(sampleRun())).to.equal(
      [
        'run run-20251120-c0ffee: complete, 9 cells',
        '',
        'suite          cells  pass  fail  inconclusive  error',
        'eni-rp-filter      8     5     1             1      1',
        'nlb-hairpin        1     1     0             0      0',
        'total              9     6     1             1      1',
        '',
        'not passing:',
        '  eni-rp-filter/rp1-snat     fail          expected all connected: 12/200 connected, 188 not',
        '  eni-rp-filter/rp1-sdc-off  inconclusive  expected reset rate in [0%, 10%]: 3/30 reset = 10%, ' +
          '95% interval [3.5%, 25.6%] overlaps the bounds',
        '  eni-rp-filter/rp0-snat     error         the lab did not come up: command failed (exit 2): ' +
          'ip netns add rp-c0ffee-node-a',
        '',
      ].join('\n'),
    );
  });

  it('counts skipped cells in their own column and lists them with the reason, apart from the failures', () => {
    const run = sampleRun();
    const skipped = {
      ...run.cells.find((c) => c.suite === 'nlb-hairpin')!,
      id: 'seed001.other',
      status: 'skipped' as const,
      reason:
        'the cluster is not what the cell needs: kube-proxy {"detectLocal":"clusterCIDR"}, the cluster\'s is {"detectLocal":"none"}',
      checks: [],
    };
    const text = renderSummary({ ...run, cells: [...run.cells, skipped] });
    expect(text).to.contain('suite          cells  pass  fail  inconclusive  error  skipped');
    expect(text).to.contain('nlb-hairpin        2     1     0             0      0        1');
    expect(text).to.contain(
      'skipped (could not run here):\n  nlb-hairpin/seed001.other  the cluster is not what the cell needs: kube-proxy',
    );
    expect(text.split('skipped (could not run here):')[0]).not.to.contain('seed001.other');
  });

  it('has no colour codes unless asked', () => {
    expect(renderSummary(sampleRun())).not.to.contain('\x1b');
    const colored = renderSummary(sampleRun(), { color: true });
    expect(colored).to.contain('\x1b[31mfail        \x1b[0m');
    // Stripped of colour, the layout is the same.
    // eslint-disable-next-line no-control-regex
    expect(colored.replace(/\x1b\[[0-9;]*m/g, '')).to.equal(renderSummary(sampleRun()));
  });

  it('keeps each non-passing cell on one line', () => {
    const cell = rpFilterCell({ id: 'multi', status: 'fail', reason: 'first\nsecond\x1b[31m' });
    const out = renderSummary(sampleRun([cell, chaosCell()]));
    expect(out).to.contain('  eni-rp-filter/multi  fail  first second\n');
    expect(out).not.to.contain('not passing:\n\n');
  });

  it('omits the list when everything passed', () => {
    expect(renderSummary(sampleRun([chaosCell()]))).not.to.contain('not passing');
  });
});
