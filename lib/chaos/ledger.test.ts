import { expect } from 'chai';
import { BaseFault, FaultError, type ChaosContext } from './fault.js';
import { FaultLedger, RevertError } from './ledger.js';

const ctx = {} as ChaosContext;

/** A fault that records into a shared log, with optional failures and delays. */
class FakeFault extends BaseFault {
  readonly kind = 'fake';
  recorded = false;
  constructor(
    readonly label: string,
    private readonly log: string[],
    private readonly opts: { failApplyAfterRecord?: boolean; failRevert?: boolean; applyMs?: number } = {},
  ) {
    super();
  }
  hosts(): string[] {
    return ['h'];
  }
  protected async doApply(): Promise<void> {
    if (this.opts.applyMs) await new Promise((r) => setTimeout(r, this.opts.applyMs));
    this.recorded = true;
    this.log.push(`apply ${this.label}`);
    if (this.opts.failApplyAfterRecord) throw new Error(`${this.label} broke half-way`);
  }
  protected async doRevert(): Promise<void> {
    if (!this.recorded) return;
    this.log.push(`revert ${this.label}`);
    if (this.opts.failRevert) throw new Error(`${this.label} cannot revert`);
  }
}

describe('chaos: FaultLedger', () => {
  it('reverts newest first', async () => {
    const log: string[] = [];
    const l = new FaultLedger(ctx);
    for (const n of ['a', 'b', 'c']) await l.apply(new FakeFault(n, log));
    expect(l.active.map((f) => f.label)).to.deep.equal(['a', 'b', 'c']);
    await l.revertAll();
    expect(log).to.deep.equal(['apply a', 'apply b', 'apply c', 'revert c', 'revert b', 'revert a']);
    expect(l.active).to.deep.equal([]);
    expect(l.entries.map((e) => e.state)).to.deep.equal(['reverted', 'reverted', 'reverted']);
  });

  it('reverts a half-applied fault too', async () => {
    const log: string[] = [];
    const l = new FaultLedger(ctx);
    await l.apply(new FakeFault('a', log));
    const half = new FakeFault('b', log, { failApplyAfterRecord: true });
    await l.apply(half).then(
      () => expect.fail('apply should throw'),
      (e: Error) => expect(e.message).to.match(/half-way/),
    );
    expect(l.entries[1]!.state).to.equal('apply-failed');
    await l.revertAll();
    expect(log).to.deep.equal(['apply a', 'apply b', 'revert b', 'revert a']);
  });

  it('runs every revert even when some fail, and reports them all', async () => {
    const log: string[] = [];
    const l = new FaultLedger(ctx);
    await l.apply(new FakeFault('a', log, { failRevert: true }));
    await l.apply(new FakeFault('b', log));
    await l.apply(new FakeFault('c', log, { failRevert: true }));
    const err = await l.revertAll().then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(err).to.be.instanceOf(RevertError);
    expect((err as RevertError).failures.map((f) => f.label)).to.deep.equal(['c', 'a']);
    expect((err as RevertError).message).to.match(
      /2 fault revert\(s\) failed: c: c cannot revert; a: a cannot revert/,
    );
    expect(log.filter((x) => x.startsWith('revert'))).to.deep.equal(['revert c', 'revert b', 'revert a']);
    // Each fault was tried once: a second pass has nothing left to do.
    await l.revertAll();
    expect(log.filter((x) => x.startsWith('revert'))).to.have.length(3);
  });

  it('is idempotent: concurrent calls (signal handler and finally) share one pass', async () => {
    const log: string[] = [];
    const l = new FaultLedger(ctx);
    await l.apply(new FakeFault('a', log));
    await l.apply(new FakeFault('b', log));
    await Promise.all([l.revertAll(), l.revertAll(), l.revertAll()]);
    expect(log).to.deep.equal(['apply a', 'apply b', 'revert b', 'revert a']);
  });

  it('reverts one fault at the end of its window, and that fault only once', async () => {
    const log: string[] = [];
    const l = new FaultLedger(ctx);
    const a = new FakeFault('a', log);
    const b = new FakeFault('b', log);
    await l.apply(a);
    await l.apply(b);
    await l.revert(a);
    await l.revert(a);
    expect(l.active).to.deep.equal([b]);
    await l.revertAll();
    expect(log).to.deep.equal(['apply a', 'apply b', 'revert a', 'revert b']);
  });

  it('a revert racing an apply in flight waits for it, then restores what it recorded', async () => {
    const log: string[] = [];
    const l = new FaultLedger(ctx);
    const slow = new FakeFault('slow', log, { applyMs: 30 });
    const applying = l.apply(slow);
    await l.revertAll();
    await applying;
    expect(log).to.deep.equal(['apply slow', 'revert slow']);
  });

  it('refuses to apply a fault twice', async () => {
    const l = new FaultLedger(ctx);
    const f = new FakeFault('a', []);
    await l.apply(f);
    await l.revertAll();
    await l.apply(f).then(
      () => expect.fail('second apply should throw'),
      (e: Error) => expect(e.message).to.match(/already applied/),
    );
    await f.apply(ctx).then(
      () => expect.fail('second apply should throw'),
      (e: Error) => expect(e).to.be.instanceOf(FaultError),
    );
  });
});
