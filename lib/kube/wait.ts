/**
 * Waiting for a condition, never for a fixed time: poll `check` until it returns a value, with a
 * short backoff, a deadline that is an error (saying what was awaited and what was last seen), and
 * the components whose death ends the wait at once.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { whileRunning, type ComponentProcess } from './component-process.js';

/** A condition not met before its deadline; `lastSeen` says what the last check found. */
export class WaitTimeoutError extends Error {
  override readonly name = 'WaitTimeoutError';
  constructor(
    readonly what: string,
    readonly timeoutMs: number,
    readonly lastSeen: string,
  ) {
    super(`timed out after ${(timeoutMs / 1000).toFixed(0)} s waiting for ${what}; last seen: ${lastSeen}`);
  }
}

export interface WaitOptions {
  /** What is awaited, for the error: `EndpointSlices of demo/web`. */
  what: string;
  timeoutMs?: number;
  /** First poll interval; doubles up to maxIntervalMs. */
  intervalMs?: number;
  maxIntervalMs?: number;
  /** Give up at once, with its log lines, if one of these exits. */
  components?: readonly ComponentProcess[];
  signal?: AbortSignal;
}

/**
 * A check returns `{ done: true, value }` when the condition holds, or `{ done: false, seen }`
 * describing what it found instead. A check that throws is retried (the error is what was seen),
 * unless it throws CheckFailed.
 */
export type CheckResult<T> = { done: true; value: T } | { done: false; seen: string };

export async function waitFor<T>(check: () => Promise<CheckResult<T>>, opts: WaitOptions): Promise<T> {
  const timeoutMs = opts.timeoutMs ?? 60_000;
  const maxInterval = opts.maxIntervalMs ?? 200;
  const deadline = performance.now() + timeoutMs;
  const stop = new AbortController();
  const loop = async (): Promise<T> => {
    let interval = opts.intervalMs ?? 10;
    let seen: string;
    for (;;) {
      opts.signal?.throwIfAborted();
      stop.signal.throwIfAborted();
      try {
        const r = await check();
        if (r.done) return r.value;
        seen = r.seen;
      } catch (e) {
        if (e instanceof CheckFailed) throw e.cause;
        seen = e instanceof Error ? e.message.split('\n')[0]! : String(e);
      }
      if (performance.now() >= deadline) throw new WaitTimeoutError(opts.what, timeoutMs, seen);
      await sleep(Math.min(interval, Math.max(1, deadline - performance.now())));
      interval = Math.min(interval * 2, maxInterval);
    }
  };
  if (!opts.components?.length) return loop();
  try {
    return await whileRunning(loop(), opts.components);
  } finally {
    stop.abort();
  }
}

/** Thrown by a check whose error is final (not worth retrying): waitFor rethrows its cause. */
export class CheckFailed extends Error {
  constructor(cause: unknown) {
    super('check failed', { cause });
  }
}

export const done = <T>(value: T): CheckResult<T> => ({ done: true, value });
export const notYet = (seen: string): CheckResult<never> => ({ done: false, seen });
