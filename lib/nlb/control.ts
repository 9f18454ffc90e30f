/** Controls the NLB node agents of a live lab: registration, forced health, status, events. */
import { createInterface } from 'node:readline';
import type { ChildProcess } from 'node:child_process';
import type { Lab } from '../lab/lab.js';
import { NotFoundError } from '../errors.js';
import { nlbAddresses, nlbHostId } from './config.js';

export const AGENT_PROCESS = 'nlb node agent';

export interface AgentEvent {
  event: string;
  /** Epoch ms when the agent emitted it. */
  at?: number;
  [k: string]: unknown;
}

/** How long a command or an awaited event may take before the agent is taken for dead (a busy machine is slow, not dead). */
export const AGENT_TIMEOUT_MS = 60_000;

/** One target's health as an agent reported it. */
export interface TargetHealth {
  key: string;
  healthy: boolean;
  registered: boolean;
  successes?: number;
  failures?: number;
}

export interface SettleResult {
  /** Every NLB node reports the expected health for every target it checks. */
  reached: boolean;
  /** Health-check rounds the slowest agent had completed when the wait ended. */
  rounds: number;
  /** `nlb/web/az-a 80/pod/web:8080 unhealthy, expected healthy` for each target that differs. */
  mismatches: string[];
}

const controls = new WeakMap<Lab, Map<string, NlbControl>>();

export class NlbControl {
  /** The lab's one control of an NLB (its event log covers the lab's whole life). */
  static of(lab: Lab, lbName: string): NlbControl {
    let byName = controls.get(lab);
    if (!byName) controls.set(lab, (byName = new Map()));
    let c = byName.get(lbName);
    if (!c) byName.set(lbName, (c = new NlbControl(lab, lbName)));
    return c;
  }

  private readonly log: { host: string; at: number; event: AgentEvent }[] = [];
  private readonly waiters: {
    host: string;
    match: (e: AgentEvent) => boolean;
    resolve: (e: AgentEvent) => void;
  }[] = [];

  constructor(
    private readonly lab: Lab,
    readonly lbName: string,
  ) {
    for (const host of this.hostIds()) {
      const child = lab.process(host, AGENT_PROCESS);
      createInterface({ input: child.stdout! }).on('line', (line) => this.onLine(host, line));
    }
  }

  /** The per-zone addresses clients resolve the NLB's name to. */
  addresses(): string[] {
    return nlbAddresses(this.lab.topology, this.lbName);
  }

  hostIds(): string[] {
    const lb = this.lab.topology.loadBalancers.find((l) => l.name === this.lbName);
    if (!lb) throw new NotFoundError(`no load balancer ${this.lbName}`);
    return lb.nodes.map((n) => nlbHostId(lb, n));
  }

  events(): readonly { host: string; at: number; event: AgentEvent }[] {
    return this.log;
  }

  deregister(target: string, opts: { reset: boolean }): Promise<AgentEvent[]> {
    return this.broadcast({ cmd: 'deregister', target, reset: opts.reset });
  }

  register(target: string): Promise<AgentEvent[]> {
    return this.broadcast({ cmd: 'register', target });
  }

  /** Overrides health checks for a target (null: back to measured health). */
  forceHealth(target: string, healthy: boolean | null): Promise<AgentEvent[]> {
    return this.broadcast({ cmd: 'force-health', target, healthy });
  }

  status(): Promise<AgentEvent[]> {
    return this.broadcast({ cmd: 'status' });
  }

  /**
   * Resolves with the next event on `host` that matches (or one already logged since `since`, a
   * performance.now() time). The timeout only catches a dead agent; its error lists the host's last events.
   */
  waitFor(
    host: string,
    match: (e: AgentEvent) => boolean,
    timeoutMs = AGENT_TIMEOUT_MS,
    since = 0,
  ): Promise<AgentEvent> {
    const seen = this.log.find((l) => l.host === host && l.at >= since && match(l.event));
    if (seen) return Promise.resolve(seen.event);
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        const last = this.log
          .filter((l) => l.host === host)
          .slice(-8)
          .map((l) => JSON.stringify(l.event));
        reject(
          new Error(
            `no matching event from ${host} in ${timeoutMs} ms; its last events: ${last.join(' ') || 'none'}`,
          ),
        );
      }, timeoutMs);
      this.waiters.push({
        host,
        match,
        resolve: (e) => {
          clearTimeout(timer);
          resolve(e);
        },
      });
    });
  }

  /**
   * Waits until every NLB node reports the health `expected` gives for each target it checks (keys
   * `<port>/<target id>` per NLB host id, as `expectedHealth` derives them): a condition, not a time.
   * Gives up after `maxRounds` health-check rounds of the slowest agent (rounds, not seconds: a busy
   * machine slows the rounds down but must not cut the wait short), returning what still differs;
   * the kernel then decides with the health the NLB really has, and the result says so.
   */
  async settle(
    expected: ReadonlyMap<string, ReadonlyMap<string, boolean>>,
    opts: { maxRounds?: number; pollMs?: number } = {},
  ): Promise<SettleResult> {
    const lb = this.lab.topology.loadBalancers.find((l) => l.name === this.lbName)!;
    const hc = lb.listeners.map((l) => l.targetGroup.healthCheck);
    // Enough rounds for any transient to pass its thresholds, and then some.
    const maxRounds =
      opts.maxRounds ?? Math.max(...hc.map((h) => h.healthyThreshold + h.unhealthyThreshold), 2) + 2;
    for (;;) {
      const statuses = await this.status();
      const mismatches: string[] = [];
      this.hostIds().forEach((host, i) => {
        const want = expected.get(host) ?? new Map<string, boolean>();
        for (const t of targetsOf(statuses[i]!)) {
          const w = want.get(t.key);
          if (w !== undefined && w !== t.healthy)
            mismatches.push(`${host} ${t.key} ${health(t.healthy)}, expected ${health(w)}`);
        }
      });
      const rounds = Math.min(...statuses.map((s) => Number(s['rounds'] ?? 0)));
      if (mismatches.length === 0 || rounds >= maxRounds)
        return { reached: mismatches.length === 0, rounds, mismatches };
      await new Promise((r) => setTimeout(r, opts.pollMs ?? 100));
    }
  }

  /**
   * What the agents said about health between two epoch times: targets turning healthy or
   * unhealthy, missed checks of a healthy target, flows reset. One line each, with the time
   * relative to `from`.
   */
  healthLog(from: number, to: number): { host: string; at: number; line: string }[] {
    const out: { host: string; at: number; line: string }[] = [];
    for (const { host, event: e } of this.log) {
      const at = e.at;
      if (at === undefined || at < from || at > to) continue;
      const stall = e['stallMs'] !== undefined ? ` (its deadline fired ${String(e['stallMs'])} ms late)` : '';
      const rel = `+${Math.round(at - from)} ms`;
      if (e.event === 'health')
        out.push({
          host,
          at,
          line:
            `${rel} ${String(e['target'])} (listener ${String(e['listener'])}) turned ${health(Boolean(e['healthy']))}` +
            (e['failures'] !== undefined ? ` after ${String(e['failures'])} missed checks` : '') +
            (e['successes'] !== undefined ? ` after ${String(e['successes'])} good checks` : '') +
            stall,
        });
      else if (e.event === 'check-failed')
        out.push({
          host,
          at,
          line: `${rel} missed check ${String(e['failures'])} of ${String(e['target'])} (listener ${String(e['listener'])})${stall}`,
        });
      else if (e.event === 'reset')
        out.push({ host, at, line: `${rel} reset the flows of ${String(e['target'])}` });
    }
    return out;
  }

  private async broadcast(cmd: Record<string, unknown>): Promise<AgentEvent[]> {
    const since = performance.now();
    return Promise.all(
      this.hostIds().map((host) => {
        const done = this.waitFor(
          host,
          (e) => e.event === 'status' || e.event === 'error',
          AGENT_TIMEOUT_MS,
          since,
        );
        this.agent(host).stdin!.write(JSON.stringify(cmd) + '\n');
        return done;
      }),
    );
  }

  private agent(host: string): ChildProcess {
    return this.lab.process(host, AGENT_PROCESS);
  }

  private onLine(host: string, line: string): void {
    let event: AgentEvent;
    try {
      event = JSON.parse(line) as AgentEvent;
    } catch {
      return;
    }
    this.log.push({ host, at: performance.now(), event });
    for (let i = this.waiters.length - 1; i >= 0; i--) {
      const w = this.waiters[i]!;
      if (w.host === host && w.match(event)) {
        this.waiters.splice(i, 1);
        w.resolve(event);
      }
    }
  }
}

function targetsOf(status: AgentEvent): TargetHealth[] {
  return (status['targets'] as TargetHealth[] | undefined) ?? [];
}

function health(healthy: boolean): string {
  return healthy ? 'healthy' : 'unhealthy';
}
