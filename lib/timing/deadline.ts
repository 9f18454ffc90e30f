/**
 * Deadlines that do not blame the network for a busy CPU.
 *
 * A plain `setTimeout(fail, ms)` races the I/O it guards: when the process is descheduled past the
 * deadline (a loaded machine), libuv runs expired timers before it polls for I/O on wake-up, so the
 * timer declares a timeout although the connection completed (or the reply arrived) long before.
 * An IoDeadline, when its timer fires, first lets the event loop poll twice (two setImmediate
 * turns) and only then expires, unless the guarded event arrived meanwhile and cleared it. It also
 * records how late the timer fired: a late timer is evidence that the process itself was stalled.
 */

export interface DeadlineExpiry {
  /** How much later than scheduled the timer fired, ms (0 on an idle machine). */
  lateMs: number;
}

export class IoDeadline {
  private timer: NodeJS.Timeout | undefined;
  private cleared = false;
  private readonly due: number;

  constructor(
    readonly ms: number,
    onExpire: (e: DeadlineExpiry) => void,
  ) {
    this.due = performance.now() + ms;
    this.timer = setTimeout(() => {
      const lateMs = Math.max(0, Math.round(performance.now() - this.due));
      // Two turns of the loop: pending I/O (a completed connect, then the data it enables) is
      // delivered in the poll phases before these callbacks run.
      setImmediate(() =>
        setImmediate(() => {
          if (!this.cleared) {
            this.cleared = true;
            onExpire({ lateMs });
          }
        }),
      );
    }, ms);
  }

  /** Stops the deadline; an expiry already scheduled is dropped. Idempotent. */
  clear(): void {
    this.cleared = true;
    clearTimeout(this.timer);
  }

  get expired(): boolean {
    return this.cleared && performance.now() >= this.due;
  }
}

/** Runs `fn` after two loop turns (I/O delivered first): for judgements made from a timer tick. */
export function afterPendingIo(fn: () => void): void {
  setImmediate(() => setImmediate(fn));
}

/** Lateness above this is worth reporting as a stall of the process that measured. */
export const STALL_REPORT_MS = 50;

/**
 * Polls `probe` until `done(value)` holds and returns that value: tests and runners wait for a
 * condition, never for a fixed time. The timeout only catches a condition that never comes (a busy
 * machine makes it come later); its error says what was awaited and what was last seen.
 */
export async function until<T>(
  what: string,
  probe: () => Promise<T>,
  done: (value: T) => boolean,
  opts: { timeoutMs?: number; pollMs?: number } = {},
): Promise<T> {
  const end = performance.now() + (opts.timeoutMs ?? 30_000);
  for (;;) {
    const value = await probe();
    if (done(value)) return value;
    if (performance.now() > end)
      throw new Error(
        `${what}: not reached after ${opts.timeoutMs ?? 30_000} ms; last seen ${JSON.stringify(value)}`,
      );
    await new Promise((r) => setTimeout(r, opts.pollMs ?? 50));
  }
}
