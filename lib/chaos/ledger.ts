/**
 * The ledger of applied faults: each fault's revert is registered before its apply starts (so a
 * half-applied fault is reverted too), reverts run last-in-first-out, every one runs even when an
 * earlier one fails, and the errors are raised together at the end (calico's cleanup stack).
 *
 *   const ledger = new FaultLedger(ctx);
 *   const off = ledger.revertOnSignals();
 *   try { await ledger.apply(fault); ... } finally { off(); await ledger.revertAll(); }
 */
import type { ChaosContext, Fault } from './fault.js';

export type EntryState = 'applying' | 'applied' | 'apply-failed' | 'reverting' | 'reverted' | 'revert-failed';

export interface LedgerEntry {
  readonly fault: Fault;
  state: EntryState;
  /** performance.now() when apply started / finished, revert started / finished. */
  applyStartedAt: number;
  appliedAt?: number;
  revertStartedAt?: number;
  revertedAt?: number;
  error?: unknown;
}

interface Slot {
  entry: LedgerEntry;
  applying: Promise<void>;
  reverting?: Promise<void>;
}

/** One or more faults could not be reverted; every revert was still attempted. */
export class RevertError extends AggregateError {
  override readonly name = 'RevertError';
  constructor(readonly failures: readonly { label: string; error: unknown }[]) {
    super(
      failures.map((f) => f.error),
      `${failures.length} fault revert(s) failed: ${failures
        .map((f) => `${f.label}: ${f.error instanceof Error ? f.error.message : String(f.error)}`)
        .join('; ')}`,
    );
  }
}

export class FaultLedger {
  private readonly stack: Slot[] = [];
  private readonly history: LedgerEntry[] = [];
  private draining: Promise<void> | undefined;

  constructor(
    readonly ctx: ChaosContext,
    private readonly now: () => number = () => performance.now(),
  ) {}

  /** Every fault ever applied through this ledger, in apply order. */
  get entries(): readonly LedgerEntry[] {
    return this.history;
  }

  /** Faults applied (or being applied) and not yet reverted, oldest first. */
  get active(): Fault[] {
    return this.stack.map((s) => s.entry.fault);
  }

  /**
   * Registers the fault's revert, then applies it. An apply error propagates, and the fault stays
   * registered: its revert restores whatever the apply recorded before failing.
   */
  async apply(fault: Fault): Promise<void> {
    if (this.stack.some((s) => s.entry.fault === fault) || this.history.some((e) => e.fault === fault))
      throw new Error(`fault "${fault.label}" was already applied through this ledger`);
    const entry: LedgerEntry = { fault, state: 'applying', applyStartedAt: this.now() };
    let done!: () => void;
    const slot: Slot = { entry, applying: new Promise<void>((r) => (done = r)) };
    this.stack.push(slot);
    this.history.push(entry);
    try {
      await fault.apply(this.ctx);
      entry.state = 'applied';
      entry.appliedAt = this.now();
    } catch (e) {
      entry.state = 'apply-failed';
      entry.error = e;
      throw e;
    } finally {
      done();
    }
  }

  /** Reverts one fault now (end of its window) and takes it off the stack. A no-op for an unknown or reverted fault. */
  async revert(fault: Fault): Promise<void> {
    const slot = this.stack.find((s) => s.entry.fault === fault);
    if (!slot) return;
    await this.revertSlot(slot);
  }

  /**
   * Reverts every fault still on the stack, newest first; never stops at a failure; throws a
   * RevertError listing every failure at the end. Concurrent calls (a signal handler and a finally
   * block) share one pass; a call after a pass reverts only what was applied since.
   */
  revertAll(): Promise<void> {
    this.draining ??= this.drain().finally(() => {
      this.draining = undefined;
    });
    return this.draining;
  }

  /**
   * Reverts everything when the process receives one of `signals`, then re-raises the signal with
   * the default action. Returns a function that removes the handlers (call it in the finally).
   */
  revertOnSignals(
    signals: readonly NodeJS.Signals[] = ['SIGINT', 'SIGTERM'],
    log: (line: string) => void = (l) => console.error(l),
  ): () => void {
    const handlers = new Map<NodeJS.Signals, () => void>();
    const remove = (): void => {
      for (const [sig, h] of handlers) process.off(sig, h);
      handlers.clear();
    };
    for (const sig of signals) {
      const h = (): void => {
        remove();
        log(`${sig}: reverting ${this.stack.length} fault(s)`);
        void this.revertAll()
          .catch((e: unknown) =>
            log(`revert after ${sig} failed: ${e instanceof Error ? e.message : String(e)}`),
          )
          .finally(() => process.kill(process.pid, sig));
      };
      handlers.set(sig, h);
      process.on(sig, h);
    }
    return remove;
  }

  private async drain(): Promise<void> {
    const failures: { label: string; error: unknown }[] = [];
    while (this.stack.length > 0) {
      const slot = this.stack[this.stack.length - 1]!;
      try {
        await this.revertSlot(slot);
      } catch (e) {
        failures.push({ label: slot.entry.fault.label, error: e });
      }
    }
    if (failures.length) throw new RevertError(failures);
  }

  private revertSlot(slot: Slot): Promise<void> {
    slot.reverting ??= (async () => {
      const { entry } = slot;
      try {
        // A revert racing an apply in flight waits for it, whatever its outcome.
        await slot.applying;
        entry.state = 'reverting';
        entry.revertStartedAt = this.now();
        await entry.fault.revert(this.ctx);
        entry.state = 'reverted';
        entry.revertedAt = this.now();
      } catch (e) {
        entry.state = 'revert-failed';
        entry.error = e;
        throw e;
      } finally {
        const i = this.stack.indexOf(slot);
        if (i >= 0) this.stack.splice(i, 1);
      }
    })();
    return slot.reverting;
  }
}
