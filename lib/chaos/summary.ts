/**
 * The measured figures of a timeline: attempts and failure rates inside and outside the fault
 * windows, how long the visible effect lasted, and how long recovery took after revert. Pure:
 * it measures, it does not judge (a cell's expectation does).
 */
import type { TimelineSample, TimelineWindow } from '../scenario/result.js';

export const CONNECTED = 'connected';

export interface SummaryOptions {
  /** Consecutive successes that count as "steady success resumed" (M). Default 5. */
  recoveryRun?: number;
}

export interface WindowSummary {
  label: string;
  /** Attempts that overlap the window, and their failure rate (null without attempts). */
  attempts: number;
  failureRate: number | null;
  /** ms from the window's start (apply started) to the first failure, clamped at 0 for an attempt already in flight; null: no failure. */
  firstFailureMs: number | null;
  /**
   * From the first failure that ended at or after the apply (clamped to the apply) to the end of
   * the last failure before steady success resumed; 0 when nothing failed.
   */
  windowMs: number;
  /** From revert to the start of the first run of M consecutive successes that began after it; null if never. */
  recoveryMs: number | null;
}

const failed = (s: TimelineSample): boolean => s.outcome !== CONNECTED;
const end = (s: TimelineSample): number => s.t + s.ms;
const round = (n: number): number => Math.round(n * 100) / 100;

/** An attempt is inside a window when its lifetime [t, t + ms] overlaps [from, to]. */
export function overlaps(s: TimelineSample, w: TimelineWindow): boolean {
  return s.t <= w.to && end(s) >= w.from;
}

/** Per-window figures; `samples` in any order. */
export function summarizeWindows(
  samples: readonly TimelineSample[],
  windows: readonly TimelineWindow[],
  opts: SummaryOptions = {},
): WindowSummary[] {
  const m = Math.max(1, opts.recoveryRun ?? 5);
  const sorted = [...samples].sort((a, b) => a.t - b.t);
  const byStart = [...windows].sort((a, b) => a.from - b.from);
  return windows.map((w) => {
    const inside = sorted.filter((s) => overlaps(s, w));
    const failures = inside.filter(failed).length;
    // This window's scope: from its apply to the next window's apply (or the end).
    // Windows that overlap this one share its recovery scope: only a window starting after this one ends cuts it.
    const next = byStart.find((o) => o.from > w.to);
    const scope = sorted.filter((s) => end(s) >= w.from && (next === undefined || s.t < next.from));

    let r: number | null = null;
    for (let i = 0; i + m <= scope.length; i++) {
      if (scope[i]!.t < w.to) continue;
      if (scope.slice(i, i + m).every((s) => !failed(s))) {
        r = i;
        break;
      }
    }
    const before = r === null ? scope : scope.slice(0, r);
    const f = before.filter(failed);
    let windowMs = 0;
    let firstFailureMs: number | null = null;
    if (f.length > 0) {
      const start = Math.max(f[0]!.t, w.from);
      windowMs = round(Math.max(...f.map(end)) - start);
      firstFailureMs = round(start - w.from);
    }
    return {
      label: w.label,
      attempts: inside.length,
      failureRate: inside.length ? failures / inside.length : null,
      firstFailureMs,
      windowMs,
      recoveryMs: r === null ? null : round(scope[r]!.t - w.to),
    };
  });
}

/** The attempts a chaos cell is judged on, by when they started relative to the faults. */
export interface Partition {
  /** Lifetime overlaps no fault window (before the first apply, after each revert). */
  outside: TimelineSample[];
  /** Started while a fault was surely in effect: after its apply finished, before its revert started. */
  underFault: TimelineSample[];
  /** Started after the last revert finished. */
  afterRevert: TimelineSample[];
}

export function partition(samples: readonly TimelineSample[], windows: readonly TimelineWindow[]): Partition {
  const sorted = [...samples].sort((a, b) => a.t - b.t);
  const lastRevert = windows.length ? Math.max(...windows.map((w) => w.to)) : Infinity;
  return {
    outside: sorted.filter((s) => !windows.some((w) => overlaps(s, w))),
    underFault: sorted.filter((s) =>
      windows.some((w) => s.t >= (w.applied ?? w.from) && s.t < (w.reverting ?? w.to)),
    ),
    afterRevert: sorted.filter((s) => s.t >= lastRevert),
  };
}

/** Rates to four decimals: measured figures, not noise. */
const rate4 = (x: number | null): number | null => (x === null ? null : Math.round(x * 10000) / 10000);

/**
 * The metrics of Timeline: `attempts`, `attemptsOutside`, `failureRateOutside`, `attemptsInside`,
 * `failureRateInside` (rates null without attempts), `windowMs` and `recoveryMs` (of the single
 * window; with several, the largest, and recoveryMs null if any window never recovered), and with
 * several windows also `w<i>.attempts`, `w<i>.failureRate`, `w<i>.windowMs`, `w<i>.recoveryMs`,
 * `w<i>.firstFailureMs` per window in the order given.
 */
export function summarizeTimeline(
  samples: readonly TimelineSample[],
  windows: readonly TimelineWindow[],
  opts: SummaryOptions = {},
): Record<string, number | null> {
  const inside = samples.filter((s) => windows.some((w) => overlaps(s, w)));
  const outside = samples.filter((s) => !windows.some((w) => overlaps(s, w)));
  const rate = (xs: readonly TimelineSample[]): number | null =>
    xs.length ? xs.filter(failed).length / xs.length : null;
  const parts = partition(samples, windows);
  const failures = (xs: readonly TimelineSample[]): number => xs.filter(failed).length;
  const metrics: Record<string, number | null> = {
    attempts: samples.length,
    attemptsOutside: outside.length,
    failureRateOutside: rate4(rate(outside)),
    attemptsInside: inside.length,
    failureRateInside: rate4(rate(inside)),
    attemptsUnderFault: parts.underFault.length,
    failuresUnderFault: failures(parts.underFault),
    attemptsAfterRevert: parts.afterRevert.length,
    failuresAfterRevert: failures(parts.afterRevert),
  };
  const per = summarizeWindows(samples, windows, opts);
  if (per.length === 0) {
    metrics['windowMs'] = null;
    metrics['recoveryMs'] = null;
    return metrics;
  }
  metrics['windowMs'] = Math.max(...per.map((w) => w.windowMs));
  metrics['recoveryMs'] = per.some((w) => w.recoveryMs === null)
    ? null
    : Math.max(...per.map((w) => w.recoveryMs as number));
  metrics['firstFailureMs'] = per.length === 1 ? per[0]!.firstFailureMs : null;
  if (per.length > 1)
    per.forEach((w, i) => {
      metrics[`w${i}.attempts`] = w.attempts;
      metrics[`w${i}.failureRate`] = rate4(w.failureRate);
      metrics[`w${i}.firstFailureMs`] = w.firstFailureMs;
      metrics[`w${i}.windowMs`] = w.windowMs;
      metrics[`w${i}.recoveryMs`] = w.recoveryMs;
    });
  return metrics;
}
