import { expect } from 'chai';
import type { CellSpec } from './cell.js';
import type { CellResult } from './result.js';
import { Session, SessionInterrupted } from './session.js';

const cell = (id: string): CellSpec =>
  ({ suite: 's', id, title: id, seeds: [], configuration: {}, topology: {}, flow: {}, expect: {} }) as never;

function fakeRun(log: string[], inFlight: { now: number; max: number }) {
  return async (c: CellSpec): Promise<CellResult> => {
    inFlight.now++;
    inFlight.max = Math.max(inFlight.max, inFlight.now);
    log.push(`start ${c.id}`);
    await new Promise((r) => setTimeout(r, 5));
    inFlight.now--;
    return { suite: c.suite, id: c.id, status: 'pass' } as CellResult;
  };
}

describe('session', () => {
  it('runs the selected cells ahead of the tests, never more than the concurrency at once', async () => {
    const cells = ['a', 'b', 'c', 'd', 'e'].map(cell);
    const log: string[] = [];
    const inFlight = { now: 0, max: 0 };
    const reported: string[] = [];
    const s = new Session({
      cells,
      concurrency: 2,
      run: fakeRun(log, inFlight),
      onResult: (r) => void reported.push(r.id),
    });
    const results = await Promise.all(cells.map((c) => s.result(c)));
    expect(results.map((r) => r.id)).to.deep.equal(['a', 'b', 'c', 'd', 'e']);
    expect(inFlight.max).to.equal(2);
    expect(log).to.have.length(5); // each cell ran once
    expect(reported.sort()).to.deep.equal(['a', 'b', 'c', 'd', 'e']);
  });

  it('runs an unselected cell on demand (plain mocha)', async () => {
    const inFlight = { now: 0, max: 0 };
    const s = new Session({ run: fakeRun([], inFlight) });
    expect((await s.result(cell('x'))).id).to.equal('x');
  });

  it('stop() waits for cells in flight and starts no more', async () => {
    const cells = ['a', 'b', 'c'].map(cell);
    const log: string[] = [];
    const s = new Session({ cells, concurrency: 1, run: fakeRun(log, { now: 0, max: 0 }) });
    s.start();
    await s.stop();
    expect(log).to.deep.equal(['start a']);
    try {
      await s.result(cells[2]!);
      expect.fail('should reject');
    } catch (e) {
      expect(e).to.be.instanceOf(SessionInterrupted);
    }
  });
});
