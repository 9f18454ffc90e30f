/** Controls the NLB node agents of a live lab: registration, forced health, status, events. */
import { createInterface } from 'node:readline';
import type { ChildProcess } from 'node:child_process';
import type { Lab } from '../lab/lab.js';
import { NotFoundError } from '../errors.js';
import { nlbAddresses, nlbHostId } from './config.js';

export const AGENT_PROCESS = 'nlb node agent';

export interface AgentEvent {
  event: string;
  [k: string]: unknown;
}

export class NlbControl {
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

  /** Resolves with the next event on `host` that matches (or one already logged since `since`). */
  waitFor(
    host: string,
    match: (e: AgentEvent) => boolean,
    timeoutMs = 10_000,
    since = 0,
  ): Promise<AgentEvent> {
    const seen = this.log.find((l) => l.host === host && l.at >= since && match(l.event));
    if (seen) return Promise.resolve(seen.event);
    return new Promise((resolve, reject) => {
      const timer = setTimeout(
        () => reject(new Error(`no matching event from ${host} in ${timeoutMs} ms`)),
        timeoutMs,
      );
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
   * Waits until every NLB node has a healthy target (it is not failing open), polling the agents'
   * status; false when that does not happen within timeoutMs (every target may legitimately be
   * unhealthy). A round lost to a slow machine otherwise leaves an NLB failing open for a while.
   */
  async settled(timeoutMs = 5000, pollMs = 100): Promise<boolean> {
    const deadline = performance.now() + timeoutMs;
    for (;;) {
      const statuses = await this.status();
      const ok = statuses.every((s) =>
        ((s['targets'] as { healthy: boolean }[] | undefined) ?? []).some((t) => t.healthy),
      );
      if (ok) return true;
      if (performance.now() > deadline) return false;
      await new Promise((r) => setTimeout(r, pollMs));
    }
  }

  private async broadcast(cmd: Record<string, unknown>): Promise<AgentEvent[]> {
    const since = performance.now();
    return Promise.all(
      this.hostIds().map((host) => {
        const done = this.waitFor(host, (e) => e.event === 'status' || e.event === 'error', 10_000, since);
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
