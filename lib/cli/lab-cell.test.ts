import { expect } from 'chai';
import { ValidationError } from '../errors.js';
import { SUITES } from '../../suites/catalog.js';
import { findCell } from './lab-cell.js';
import { main } from './main.js';
import { runCli } from './cli-test-support.js';

async function rejection(p: Promise<unknown>): Promise<ValidationError> {
  try {
    await p;
  } catch (e) {
    if (e instanceof ValidationError) return e;
    throw e;
  }
  throw new Error('resolved');
}

describe('lab up --cell and lab probe (arguments)', () => {
  it('finds a cell by SUITE/ID and says what exists otherwise', () => {
    expect(findCell(SUITES, 'baseline/nlb.ip', 'lab up').id).to.equal('nlb.ip');
    expect(() => findCell(SUITES, 'nope/x', 'lab up')).to.throw(
      ValidationError,
      /^lab up: --cell nope\/x: names no cell/,
    );
    const e = (() => {
      try {
        findCell(SUITES, 'baseline/nope', 'lab up');
      } catch (x) {
        return x as ValidationError;
      }
      throw new Error('found');
    })();
    expect(e.problems[0]!.message).to.match(
      /names no cell of baseline; `returnpath run --suite baseline --list`/,
    );
  });

  it('rejects a bad run id and a bad probe before touching anything', async () => {
    expect(
      (await rejection(main(['lab', 'up', '--cell', 'baseline/nlb.ip', '--run-id', 'xyz']))).problems[0]!
        .message,
    ).to.match(/6 hex digits/);
    expect(
      (await rejection(main(['lab', 'up', '--file', 'x.suite.yaml', 'topology.yaml']))).problems[0]!.message,
    ).to.match(/use it with --cell SUITE\/ID/);
    expect(
      (await rejection(main(['lab', 'up', '--cell', 'baseline/nlb.ip', 'topology.yaml']))).problems[0]!
        .message,
    ).to.match(/takes no FILE with --cell/);
    expect(
      (await rejection(main(['lab', 'probe', 'abc123', 'laptop', 'tcp']))).problems[0]!.message,
    ).to.match(/PORT|ADDR/);
    expect(
      (await rejection(main(['lab', 'probe', 'abc123', 'laptop', 'sctp', '10.0.0.1', '80']))).problems[0]!
        .message,
    ).to.match(/KIND: expected tcp, http or udp/);
    expect(
      (
        await rejection(
          main(['lab', 'probe', 'abc123', 'laptop', 'tcp', '10.0.0.1', '80', '--deadline', 'soon']),
        )
      ).problems[0]!.message,
    ).to.match(/--deadline/);
    expect(
      (await rejection(main(['lab', 'probe', 'abc123', 'laptop', 'tcp', '10.0.0.1', '80', '--close', 'x'])))
        .problems[0]!.message,
    ).to.match(/fin|rst/);
  });

  it('takes --serve only with --kubernetes and a topology FILE (exit 2, saying what to add)', async function () {
    this.timeout(60_000);
    const noKube = await rejection(main(['lab', 'up', 'examples/seed-003-baseline.yaml', '--serve']));
    expect(noKube.problems[0]).to.deep.include({ value: '--serve' });
    expect(noKube.problems[0]!.message).to.match(/add --kubernetes/);
    const cell = await rejection(main(['lab', 'up', '--cell', 'baseline/nlb.ip', '--kubernetes', '--serve']));
    expect(cell.problems[0]!.message).to.match(/applies to a topology FILE/);
    const help = await runCli(['help', 'lab', 'up']);
    expect(help.stdout).to.contain('--serve');
    const exit = await runCli(['lab', 'up', 'examples/seed-003-baseline.yaml', '--serve']);
    expect(exit.code).to.equal(2);
    expect(exit.stderr).to.contain('--serve').and.contain('add --kubernetes');
  });
});
