/**
 * A chaos run: steady traffic from a client while faults are applied and reverted on a schedule.
 * Traffic is a batch of N short connections every P ms (each attempt's start and outcome recorded
 * on one clock) plus K long-lived connections; faults go through a FaultLedger, so every one is
 * reverted on any exit. The result is the Timeline of results.json; it measures, never judges.
 */
import { ValidationError, type ValidationProblem } from '../errors.js';
import type { Timeline, TimelineSample, TimelineWindow } from '../scenario/result.js';
import type { LongLivedHandle } from '../traffic/agent.js';
import type { LongLivedReport, ProbeKind } from '../traffic/protocol.js';
import type { ChaosContext, Fault } from './fault.js';
import { FaultLedger } from './ledger.js';
import { summarizeTimeline } from './summary.js';

export interface ScheduledFault {
  /** When to apply, ms after the traffic started. */
  atMs: number;
  /**
   * How long the fault stays in effect: it is reverted this long after its apply finished (however
   * long a busy machine took to apply it), and not before `holdUntil` resolves.
   */
  durationMs: number;
  fault: Fault;
  /**
   * A condition the fault is held for (e.g. an NLB's health checks reacting), awaited after
   * durationMs; given the epoch time its apply finished.
   */
  holdUntil?: (appliedAt: number) => Promise<void>;
}

export interface TimelineOptions {
  ctx: ChaosContext;
  /** Host ref of the client (its traffic agent sends everything). */
  client: string;
  /** Where the traffic goes. */
  target: { host: string; port: number; kind?: Exclude<ProbeKind, 'udp'> };
  /** Length of the traffic, ms. Every fault must be reverted before it ends. */
  durationMs: number;
  /** Short connections: `attempts` every `everyMs` (default 5 every 100 ms), connect deadline `deadlineMs` (300). */
  batch?: { attempts?: number; everyMs?: number; deadlineMs?: number };
  /** Long-lived connections opened before the first batch and stopped after the last. */
  longLived?: { connections: number; intervalMs?: number; replyTimeoutMs?: number };
  faults: readonly ScheduledFault[];
  /** Use the caller's ledger (its own faults stay applied); default a new one. */
  ledger?: FaultLedger;
  /** M consecutive successes that count as recovered (summarizeTimeline). Default 5. */
  recoveryRun?: number;
  log?: (line: string) => void;
}

/** The run stopped because a fault could not be applied or reverted, or the traffic broke. */
export class TimelineError extends Error {
  override readonly name = 'TimelineError';
  constructor(
    message: string,
    /** What was measured until then. */
    readonly timeline: Timeline,
    options?: ErrorOptions,
  ) {
    super(message, options);
  }
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, Math.max(0, ms)));

function validate(opts: TimelineOptions): void {
  const problems: ValidationProblem[] = [];
  const bad = (path: string, value: unknown, message: string): void => {
    problems.push({ path, value: JSON.stringify(value), message });
  };
  if (!(opts.durationMs > 0)) bad('durationMs', opts.durationMs, 'must be positive');
  const b = opts.batch ?? {};
  if (b.attempts !== undefined && !(Number.isInteger(b.attempts) && b.attempts >= 1))
    bad('batch.attempts', b.attempts, 'must be a positive integer');
  if (b.everyMs !== undefined && !(b.everyMs >= 10)) bad('batch.everyMs', b.everyMs, 'must be at least 10');
  opts.faults.forEach((f, i) => {
    if (!(f.atMs >= 0)) bad(`faults[${i}].atMs`, f.atMs, 'must be >= 0');
    if (!(f.durationMs >= 0)) bad(`faults[${i}].durationMs`, f.durationMs, 'must be >= 0');
    if (f.atMs + f.durationMs > opts.durationMs)
      bad(
        `faults[${i}]`,
        { atMs: f.atMs, durationMs: f.durationMs },
        `must be reverted before the traffic ends (${opts.durationMs} ms)`,
      );
  });
  if (problems.length) throw new ValidationError('timeline options', problems);
}

export async function runTimeline(opts: TimelineOptions): Promise<Timeline> {
  validate(opts);
  const log = opts.log ?? (() => undefined);
  const ledger = opts.ledger ?? new FaultLedger(opts.ctx);
  const agent = await opts.ctx.agent(opts.client);
  const attempts = opts.batch?.attempts ?? 5;
  const everyMs = opts.batch?.everyMs ?? 100;
  const deadlineMs = opts.batch?.deadlineMs ?? 300;
  const spec = {
    kind: opts.target.kind ?? 'tcp',
    host: opts.target.host,
    port: opts.target.port,
    attempts,
    deadlineMs,
    concurrency: attempts,
  };

  const samples: TimelineSample[] = [];
  const windows: TimelineWindow[] = [];
  const errors: unknown[] = [];
  const mine: Fault[] = [];
  let stopped = false;
  let wake!: () => void;
  const stop = new Promise<void>((r) => (wake = r));
  // Waits until the wall clock reaches `epochMs` (timers may fire a little early), or the run stops.
  const until = async (epochMs: number): Promise<void> => {
    while (!stopped && Date.now() < epochMs) await Promise.race([sleep(epochMs - Date.now()), stop]);
  };
  let held: LongLivedHandle | undefined;
  let heldReport: LongLivedReport | undefined;
  const t0 = Date.now();
  const rel = (epochMs: number): number => Math.round((epochMs - t0) * 100) / 100;
  const fail = (e: unknown): void => {
    errors.push(e);
    stopped = true;
    wake();
  };

  const build = (): Timeline => {
    const tl: Timeline = {
      startedAt: t0,
      samples: [...samples].sort((a, b) => a.t - b.t),
      windows: [...windows].sort((a, b) => a.from - b.from),
      metrics: summarizeTimeline(samples, windows, { recoveryRun: opts.recoveryRun }),
    };
    if (heldReport) {
      tl.longLived = {};
      for (const c of heldReport.connections) {
        const name = `ll-${c.index}`;
        tl.longLived[name] = c.state;
        tl.metrics[`longLived.${name}.diedMs`] = c.diedAt !== undefined ? rel(c.diedAt) : null;
      }
      tl.metrics['longLivedSurvived'] = heldReport.connections.filter((c) => c.state === 'survived').length;
    }
    return tl;
  };

  // One window per fault: from = apply started, to = revert finished (the envelope of its effect).
  const runFault = async (s: ScheduledFault): Promise<void> => {
    await until(t0 + s.atMs);
    if (stopped) return;
    const from = rel(Date.now());
    mine.push(s.fault);
    log(`+${from} ms apply ${s.fault.label}`);
    try {
      await ledger.apply(s.fault);
    } catch (e) {
      fail(e);
    }
    const appliedAt = Date.now();
    const applied = rel(appliedAt);
    await until(appliedAt + s.durationMs);
    if (s.holdUntil && !stopped)
      await Promise.race([s.holdUntil(appliedAt).catch((e: unknown) => fail(e)), stop]);
    const reverting = rel(Date.now());
    try {
      await ledger.revert(s.fault);
    } catch (e) {
      fail(e);
    }
    const to = rel(Date.now());
    log(`+${to} ms reverted ${s.fault.label}`);
    windows.push({ label: s.fault.label, from, to, applied, reverting: Math.max(applied, reverting) });
  };

  let faultsDone: Promise<unknown> = Promise.resolve();
  try {
    if (opts.longLived)
      held = await agent.longLived({
        host: opts.target.host,
        port: opts.target.port,
        connections: opts.longLived.connections,
        intervalMs: opts.longLived.intervalMs,
        replyTimeoutMs: opts.longLived.replyTimeoutMs,
      });
    // The traffic lasts durationMs, and in any case until every fault is reverted and then as long
    // as the schedule planned after the last revert: a slow apply or a held fault lengthens the
    // run instead of cutting the fault or the recovery short.
    const tail = opts.durationMs - Math.max(0, ...opts.faults.map((f) => f.atMs + f.durationMs));
    let revertedAt: number | undefined = opts.faults.length === 0 ? t0 : undefined;
    faultsDone = Promise.all(opts.faults.map(runFault)).then(() => {
      revertedAt = Date.now();
    });
    const batches: Promise<void>[] = [];
    const over = (at: number): boolean =>
      revertedAt !== undefined && at >= Math.max(t0 + opts.durationMs, revertedAt + tail);
    for (let k = 0; !stopped; k++) {
      const at = t0 + k * everyMs;
      if (over(at)) break;
      await until(at);
      if (stopped || over(at)) break;
      batches.push(
        agent.probe(spec).then(
          (r) => {
            for (const a of r.attempts) {
              const sample: TimelineSample = {
                t: rel(r.startedAt + a.startMs),
                outcome: a.outcome,
                ms: a.ms,
              };
              if (a.localPort !== undefined) sample.port = a.localPort;
              if (a.outcome !== 'connected') {
                sample.phase = a.phase;
                if (a.errno) sample.errno = a.errno;
              }
              if (a.stallMs !== undefined) sample.stallMs = a.stallMs;
              samples.push(sample);
            }
          },
          (e: unknown) => fail(e),
        ),
      );
    }
    await Promise.all(batches);
  } catch (e) {
    fail(e);
  } finally {
    await faultsDone;
    stopped = true;
    wake();
    // Whatever a failure left applied (the runners revert their own on the way out).
    for (const f of mine.reverse())
      try {
        await ledger.revert(f);
      } catch (e) {
        errors.push(e);
      }
    if (held)
      try {
        heldReport = await held.stop();
      } catch (e) {
        errors.push(e);
      }
  }
  const timeline = build();
  if (errors.length)
    throw new TimelineError(
      `chaos timeline failed: ${errors.map((e) => (e instanceof Error ? e.message : String(e))).join('; ')}`,
      timeline,
      { cause: errors.length === 1 ? errors[0] : new AggregateError(errors) },
    );
  return timeline;
}
