/**
 * The control plane of one emulated NLB node, running inside the node's namespace: health checks
 * its targets (TCP or HTTP, with interval, timeout and thresholds), rewrites its listener chains
 * when health or registration changes, and resets the flows of a target that turns unhealthy
 * (deleting them from this node's conntrack, so either side's next packet draws a RST).
 *
 * stdout: JSON events, one per line. stdin: JSON commands, one per line:
 *   {"cmd":"deregister","target":ID,"reset":true} {"cmd":"register","target":ID}
 *   {"cmd":"force-health","target":ID,"healthy":false|true|null} {"cmd":"status"}
 */
import { spawn } from 'node:child_process';
import { request } from 'node:http';
import { connect } from 'node:net';
import { createInterface } from 'node:readline';
import type { AgentListener, AgentTarget, NlbNodeConfig } from './config.js';
import { activeTargets, listenerRuleset } from './rules.js';
import { IoDeadline, STALL_REPORT_MS } from '../timing/deadline.js';

interface TargetState {
  healthy: boolean;
  successes: number;
  failures: number;
  forced: boolean | null;
  registered: boolean;
}

const cfg = JSON.parse(process.argv[2] ?? '{}') as NlbNodeConfig;
const state = new Map<string, TargetState>();
const key = (l: AgentListener, t: AgentTarget): string => `${l.port}/${t.id}`;
let applied = '';

/** Every event carries `at`, epoch ms: the controller lines events up with the traffic's clock. */
function emit(event: Record<string, unknown>): void {
  process.stdout.write(JSON.stringify({ ...event, at: Date.now() }) + '\n');
}

/** A check's result; `stallMs` when its deadline fired late (this process was not scheduled in time). */
interface CheckResult {
  ok: boolean;
  stallMs?: number;
}

function run(argv: string[], input?: string): Promise<number> {
  return new Promise((resolve) => {
    const child = spawn(argv[0]!, argv.slice(1), { stdio: ['pipe', 'ignore', 'pipe'] });
    let err = '';
    child.stderr.on('data', (d: Buffer) => (err += d.toString()));
    child.on('error', () => resolve(127));
    child.on('close', (code) => {
      if (code !== 0 && argv[0] === 'iptables-restore')
        emit({ event: 'error', command: argv.join(' '), stderr: err.trim() });
      resolve(code ?? 1);
    });
    child.stdin.end(input ?? '');
  });
}

// Check deadlines fire only after pending I/O was delivered: a busy machine delays this process,
// not the target's answer, and must not mark a healthy target unhealthy.
function checkTcp(t: AgentTarget, timeoutMs: number): Promise<CheckResult> {
  return new Promise((resolve) => {
    const s = connect({ host: t.address, port: t.healthCheckPort, localAddress: cfg.address });
    const done = (r: CheckResult): void => {
      deadline.clear();
      s.destroy();
      resolve(r);
    };
    const deadline = new IoDeadline(timeoutMs, (e) =>
      done({ ok: false, ...(e.lateMs >= STALL_REPORT_MS && { stallMs: e.lateMs }) }),
    );
    s.on('connect', () => done({ ok: true }));
    s.on('error', () => done({ ok: false }));
  });
}

function checkHttp(t: AgentTarget, path: string, timeoutMs: number): Promise<CheckResult> {
  return new Promise((resolve) => {
    let settled = false;
    const done = (r: CheckResult): void => {
      if (settled) return;
      settled = true;
      deadline.clear();
      resolve(r);
    };
    const req = request({
      host: t.address,
      port: t.healthCheckPort,
      path,
      localAddress: cfg.address,
      agent: false,
    });
    const deadline = new IoDeadline(timeoutMs, (e) => {
      done({ ok: false, ...(e.lateMs >= STALL_REPORT_MS && { stallMs: e.lateMs }) });
      req.destroy();
    });
    req.on('response', (res) => {
      res.resume();
      // NLB HTTP health checks succeed on 200-399 by default.
      done({ ok: (res.statusCode ?? 0) >= 200 && (res.statusCode ?? 0) < 400 });
    });
    req.on('error', () => done({ ok: false }));
    req.end();
  });
}

function check(l: AgentListener, t: AgentTarget): Promise<CheckResult> {
  const ms = l.healthCheck.timeoutSeconds * 1000;
  return l.healthCheck.protocol === 'HTTP' ? checkHttp(t, l.healthCheck.path, ms) : checkTcp(t, ms);
}

function effectiveHealthy(s: TargetState): boolean {
  return s.forced ?? s.healthy;
}

/** Targets this node checks: those it may forward to. */
function checked(l: AgentListener): AgentTarget[] {
  return l.targets.filter((t) => cfg.crossZone || t.zone === cfg.zone);
}

async function apply(): Promise<void> {
  const chains = new Map(
    cfg.listeners.map((l) => [
      l.port,
      activeTargets(
        cfg,
        l,
        (t) => effectiveHealthy(state.get(key(l, t))!),
        (t) => state.get(key(l, t))!.registered,
      ),
    ]),
  );
  const text = listenerRuleset(cfg, chains).render();
  if (text === applied) return;
  await run(['iptables-restore', '-w', '--noflush'], text);
  applied = text;
  for (const [port, targets] of chains)
    emit({ event: 'rules', listener: port, targets: targets.map((t) => t.id) });
}

async function resetFlows(t: AgentTarget): Promise<void> {
  // Flows to the target, whatever the client: their reply direction comes from the target.
  await run(['conntrack', '-D', '-p', 'tcp', '--reply-src', t.address, '--reply-port-src', String(t.port)]);
  emit({ event: 'reset', target: t.id });
}

/** Health-check rounds completed per listener (status reports the fewest). */
const rounds = new Map<number, number>();

async function round(l: AgentListener, initial: boolean): Promise<void> {
  const results = await Promise.all(checked(l).map(async (t) => [t, await check(l, t)] as const));
  const turnedUnhealthy: AgentTarget[] = [];
  for (const [t, r] of results) {
    const ok = r.ok;
    const s = state.get(key(l, t))!;
    const before = effectiveHealthy(s);
    if (ok) {
      s.successes++;
      s.failures = 0;
    } else {
      s.failures++;
      s.successes = 0;
    }
    // The first round decides at once (AWS: initial state); later ones need the thresholds.
    if (initial) s.healthy = ok;
    else if (ok && s.successes >= l.healthCheck.healthyThreshold) s.healthy = true;
    else if (!ok && s.failures >= l.healthCheck.unhealthyThreshold) s.healthy = false;
    const after = effectiveHealthy(s);
    if (before !== after || initial)
      emit({
        event: 'health',
        listener: l.port,
        target: t.id,
        healthy: after,
        // The streak that decided it: consecutive successes or failures.
        ...(ok ? { successes: s.successes } : { failures: s.failures }),
        ...(r.stallMs !== undefined && { stallMs: r.stallMs }),
      });
    // A missed check of a target still counted healthy: the precursor of a change, kept as evidence.
    else if (!ok && after)
      emit({
        event: 'check-failed',
        listener: l.port,
        target: t.id,
        failures: s.failures,
        ...(r.stallMs !== undefined && { stallMs: r.stallMs }),
      });
    if (before && !after && !initial) turnedUnhealthy.push(t);
  }
  await apply();
  for (const t of turnedUnhealthy) await resetFlows(t);
  rounds.set(l.port, (rounds.get(l.port) ?? 0) + 1);
}

function findTarget(id: string): [AgentListener, AgentTarget][] {
  return cfg.listeners.flatMap((l) =>
    l.targets.filter((t) => t.id === id).map((t) => [l, t] as [AgentListener, AgentTarget]),
  );
}

async function command(line: string): Promise<void> {
  let c: { cmd?: string; target?: string; reset?: boolean; healthy?: boolean | null };
  try {
    c = JSON.parse(line) as typeof c;
  } catch {
    emit({ event: 'error', message: `not JSON: ${line}` });
    return;
  }
  const found = c.target ? findTarget(c.target) : [];
  if (c.cmd !== 'status' && found.length === 0) {
    emit({ event: 'error', message: `unknown target ${String(c.target)}` });
    return;
  }
  switch (c.cmd) {
    case 'deregister':
    case 'register':
      for (const [l, t] of found) state.get(key(l, t))!.registered = c.cmd === 'register';
      await apply();
      if (c.cmd === 'deregister' && c.reset) for (const [, t] of found) await resetFlows(t);
      break;
    case 'force-health': {
      for (const [l, t] of found) state.get(key(l, t))!.forced = c.healthy ?? null;
      await apply();
      if (c.healthy === false) for (const [, t] of found) await resetFlows(t);
      break;
    }
    case 'status':
      break;
    default:
      emit({ event: 'error', message: `unknown command ${String(c.cmd)}` });
      return;
  }
  emit({
    event: 'status',
    command: c.cmd,
    rounds: Math.min(...cfg.listeners.map((l) => rounds.get(l.port) ?? 0)),
    targets: cfg.listeners.flatMap((l) =>
      checked(l).map((t) => {
        const s = state.get(key(l, t))!;
        return {
          key: key(l, t),
          healthy: effectiveHealthy(s),
          registered: s.registered,
          successes: s.successes,
          failures: s.failures,
        };
      }),
    ),
  });
}

async function main(): Promise<void> {
  for (const l of cfg.listeners)
    for (const t of l.targets)
      state.set(key(l, t), { healthy: true, successes: 0, failures: 0, forced: null, registered: true });
  await Promise.all(cfg.listeners.map((l) => round(l, true)));
  emit({ event: 'ready', lb: cfg.lb, zone: cfg.zone });
  for (const l of cfg.listeners) {
    const tick = async (): Promise<void> => {
      await round(l, false);
      timers.set(
        l.port,
        setTimeout(() => void tick(), l.healthCheck.intervalSeconds * 1000),
      );
    };
    timers.set(
      l.port,
      setTimeout(() => void tick(), l.healthCheck.intervalSeconds * 1000),
    );
  }
  const rl = createInterface({ input: process.stdin });
  let queue = Promise.resolve();
  rl.on('line', (line) => (queue = queue.then(() => command(line))));
}

const timers = new Map<number, NodeJS.Timeout>();
process.on('SIGTERM', () => process.exit(0));
process.stdout.on('error', () => undefined);
void main();
