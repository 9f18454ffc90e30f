/** Pure judgement of a chaos cell's timeline against its bounds, and of the fingerprints around it. */
import { percent } from '../verdict/index.js';
import type { ChaosBounds } from './cell.js';
import type { CheckResult, Timeline } from './result.js';

const pct = percent;

function bound(
  name: string,
  value: number | null | undefined,
  ok: (v: number) => boolean,
  want: string,
  fmt: (v: number) => string,
): CheckResult {
  if (value === null || value === undefined)
    return { name, status: 'inconclusive', detail: `expected ${want}, not measured (no attempts there)` };
  return { name, status: ok(value) ? 'pass' : 'fail', detail: `expected ${want}, measured ${fmt(value)}` };
}

export function timelineChecks(t: Timeline, b: ChaosBounds): CheckResult[] {
  const m = t.metrics;
  const ms = (v: number): string => `${Math.round(v)} ms`;
  const checks = [
    bound(
      'failures outside the fault',
      m['failureRateOutside'],
      (v) => v <= b.outsideMax,
      `<= ${pct(b.outsideMax)}`,
      pct,
    ),
  ];
  if (b.insideMin !== undefined)
    checks.push(
      bound(
        'failures during the fault',
        m['failureRateInside'],
        (v) => v >= b.insideMin!,
        `>= ${pct(b.insideMin)}`,
        pct,
      ),
    );
  if (b.insideMax !== undefined)
    checks.push(
      bound(
        'failures during the fault',
        m['failureRateInside'],
        (v) => v <= b.insideMax!,
        `<= ${pct(b.insideMax)}`,
        pct,
      ),
    );
  if (b.windowMsMax !== undefined)
    checks.push(
      bound('length of the effect', m['windowMs'], (v) => v <= b.windowMsMax!, `<= ${b.windowMsMax} ms`, ms),
    );
  if (b.recoveryMsMax !== undefined)
    checks.push(
      m['recoveryMs'] === null
        ? {
            name: 'recovery after revert',
            status: 'fail',
            detail: `expected <= ${b.recoveryMsMax} ms, never recovered`,
          }
        : bound(
            'recovery after revert',
            m['recoveryMs'],
            (v) => v <= b.recoveryMsMax!,
            `<= ${b.recoveryMsMax} ms`,
            ms,
          ),
    );
  const states = Object.values(t.longLived ?? {});
  for (const [state, want] of Object.entries(b.longLived ?? {})) {
    const n = states.filter((s) => s === state).length;
    const ok = want === 'all' ? n === states.length && n > 0 : want === 'none' ? n === 0 : n > 0;
    checks.push({
      name: `long-lived connections ${state}`,
      status: states.length === 0 ? 'inconclusive' : ok ? 'pass' : 'fail',
      detail: `expected ${want}, ${n} of ${states.length} (${Object.entries(t.longLived ?? {})
        .map(([k, v]) => `${k} ${v}`)
        .join(', ')})`,
    });
  }
  return checks;
}
