/**
 * A cleanup stack: resources are registered right after they are created and released
 * last-in-first-out. Every entry runs even if an earlier one throws; errors are re-raised at the end.
 */
export class Disposer {
  private readonly stack: { what: string; fn: () => Promise<void> | void }[] = [];
  private disposing: Promise<void> | undefined;

  defer(what: string, fn: () => Promise<void> | void): void {
    if (this.disposing) throw new Error(`cannot register "${what}": already disposing`);
    this.stack.push({ what, fn });
  }

  get size(): number {
    return this.stack.length;
  }

  dispose(): Promise<void> {
    this.disposing ??= this.runAll();
    return this.disposing;
  }

  private async runAll(): Promise<void> {
    const errors: unknown[] = [];
    while (this.stack.length > 0) {
      const entry = this.stack.pop()!;
      try {
        await entry.fn();
      } catch (e) {
        errors.push(new Error(`teardown of ${entry.what} failed: ${(e as Error).message}`, { cause: e }));
      }
    }
    if (errors.length === 1) throw errors[0];
    if (errors.length > 1) throw new AggregateError(errors, `${errors.length} teardown steps failed`);
  }
}
