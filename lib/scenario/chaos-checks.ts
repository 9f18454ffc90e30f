/**
 * Pure judgement of a chaos cell's timeline against its bounds. Every bound is about which attempts
 * fail, split by when they started relative to the faults (lib/chaos/summary.ts `partition`), and is
 * judged like an outcome: `all` / `none` exactly, `some` as at least one, a share with its 95%
 * interval (pass inside the band, fail outside, inconclusive across). Nothing is judged against a
 * wall-clock length: a busy machine stretches durations, not the mechanism.
 */
import { partition } from '../chaos/summary.js';
import { percent, wilson } from '../verdict/index.js';
import { describeFailureBound, type ChaosBounds, type FailureBound } from './cell.js';
import type { CheckResult, Timeline, TimelineSample } from './result.js';

const failed = (s: TimelineSample): boolean => s.outcome !== 'connected';

/** `#12 timeout (connect, port 41233) at +1203 ms` for the first few failing samples. */
export function describeSamples(xs: readonly TimelineSample[], max = 4): string {
  const shown = xs.slice(0, max).map((s) => {
    const how = [s.phase, s.errno, s.port !== undefined ? `port ${s.port}` : undefined].filter(Boolean);
    const stall = s.stallMs !== undefined ? `, deadline fired ${s.stallMs} ms late` : '';
    return `${s.outcome}${how.length ? ` (${how.join(', ')}${stall})` : ''} at +${Math.round(s.t)} ms`;
  });
  return shown.join('; ') + (xs.length > max ? `; and ${xs.length - max} more` : '');
}

/** Judge how many of `xs` failed against a bound. */
export function failureCheck(name: string, xs: readonly TimelineSample[], b: FailureBound): CheckResult {
  const n = xs.length;
  const bad = xs.filter(failed);
  const k = bad.length;
  const want = `expected ${describeFailureBound(b)} to fail`;
  if (n === 0) return { name, status: 'inconclusive', detail: `${want}: no attempt there` };
  const seen = `${k}/${n} failed`;
  const which = k > 0 && k < n ? `: ${describeSamples(bad)}` : '';
  if (b === 'all') {
    const ok = xs.filter((s) => !failed(s));
    return k === n
      ? { name, status: 'pass', detail: `${want}: ${seen}` }
      : { name, status: 'fail', detail: `${want}: ${seen}; connected: ${describeSamples(ok)}` };
  }
  if (b === 'none') return { name, status: k === 0 ? 'pass' : 'fail', detail: `${want}: ${seen}${which}` };
  if (b === 'some') return { name, status: k > 0 ? 'pass' : 'fail', detail: `${want}: ${seen}` };
  const i = wilson(k, n);
  const interval = `${seen} = ${percent(k / n)}, 95% interval [${percent(i.low)}, ${percent(i.high)}]`;
  if (i.low >= b.min && i.high <= b.max)
    return { name, status: 'pass', detail: `${want}: ${interval} inside` };
  if (i.high < b.min || i.low > b.max)
    return { name, status: 'fail', detail: `${want}: ${interval} outside` };
  return { name, status: 'inconclusive', detail: `${want}: ${interval} straddles the band` };
}

/**
 * When the NLB node took the target out: the time (relative to the timeline) of the agent's rule
 * change that dropped it, and a line for the check's detail. Null when it never did.
 */
export interface NlbTakeOut {
  t: number;
  detail: string;
}

export function timelineChecks(t: Timeline, b: ChaosBounds, takeOut?: NlbTakeOut | null): CheckResult[] {
  const p = partition(t.samples, t.windows);
  const checks = [failureCheck('failures outside the fault', p.outside, b.outside ?? 'none')];
  if (b.inside !== undefined)
    checks.push(failureCheck('failures while the fault is in effect', p.underFault, b.inside));
  if (b.endsWhenUnhealthy) {
    const name = `${b.endsWhenUnhealthy.nlb} takes ${b.endsWhenUnhealthy.target} out`;
    if (!takeOut)
      checks.push({
        name,
        status: 'fail',
        detail: `its health checks never took ${b.endsWhenUnhealthy.target} out while the fault lasted`,
      });
    else {
      const before = p.underFault.filter((s) => s.t < takeOut.t);
      const after = p.underFault.filter((s) => s.t >= takeOut.t);
      const a = failureCheck('before', before, 'some');
      const z = failureCheck('after', after, 'none');
      const status =
        a.status === 'fail' || z.status === 'fail'
          ? 'fail'
          : a.status === 'pass' && z.status === 'pass'
            ? 'pass'
            : 'inconclusive';
      checks.push({
        name,
        status,
        detail: `${takeOut.detail}; before: ${a.detail.replace(/^expected /, 'expected ')}; after: ${z.detail}`,
      });
    }
  }
  if (b.recovers ?? true) checks.push(failureCheck('failures after revert', p.afterRevert, 'none'));
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
