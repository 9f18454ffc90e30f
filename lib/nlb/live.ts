/**
 * An NLB placement of a live lab, reconfigured at run time (the lab's cloud provider builds NLBs
 * from Services on it): for each of its nodes, the node's rules are replaced as a whole
 * (iptables-restore of its nat and filter tables, as lib/nlb/rules.ts builds them), its idle
 * timeout set, and its health/forwarding agent restarted with the new configuration.
 *
 * Restart rather than a `configure` command: the agents of a lab left up by `lab up` run on alone,
 * their stdin closed, so no command reaches them; a restarted agent starts from the new
 * configuration exactly as at lab up (its first round decides every target's health at once).
 * Whatever agent runs in the node's namespace is stopped first, whoever started it. The agents
 * this starts live in the lab's namespaces: the lab's teardown (`lab down`, `lab clean`) kills
 * every process there, them included.
 */
import { readFile } from 'node:fs/promises';
import { createInterface } from 'node:readline';
import type { ChildProcess } from 'node:child_process';
import type { LabHandle } from '../lab/lab.js';
import { DIST_DIR } from '../lab/lab.js';
import { pidsInNetns } from '../lab/state.js';
import type { LoadBalancer } from '../model/topology.js';
import { nlbHostId, nodeConfig, type NlbNodeConfig } from './config.js';
import type { AgentEvent } from './control.js';
import { activeTargets, idleTimeoutSeconds, listenerRuleset, nlbRuleset } from './rules.js';

const AGENT_SCRIPT = 'lib/nlb/node-agent.js';
const READY_TIMEOUT_MS = 60_000;

/** One target's health as the NLB nodes checking it report it (undefined: not determined yet). */
export interface PlacementHealth {
  /** Every agent finished its first round (every checked target's health is known). */
  determined: boolean;
  /** `<listener port>/<target id>` -> healthy on every node that checks it; null: no node checks it (its zone has no NLB node). */
  targets: Record<string, boolean | null>;
}

export class LivePlacement {
  private readonly agents = new Map<string, ChildProcess>();
  private readonly ready = new Set<string>();
  /** host -> key -> healthy */
  private readonly health = new Map<string, Map<string, boolean>>();
  private current: LoadBalancer | undefined;

  constructor(
    private readonly lab: LabHandle,
    /** The pool entry: name, scheme, nodes. */
    readonly placement: LoadBalancer,
    private readonly onEvent: (host: string, e: AgentEvent) => void = () => undefined,
  ) {}

  hostIds(): string[] {
    return this.placement.nodes.map((n) => nlbHostId(this.placement, n));
  }

  /** Configures the placement as `lb` (its listeners, target groups, cross-zone), or releases it (undefined). */
  async apply(lb: LoadBalancer | undefined): Promise<void> {
    const model: LoadBalancer = lb ?? {
      ...this.placement,
      listeners: [],
      targetGroups: [],
      crossZone: false,
    };
    this.current = lb;
    this.ready.clear();
    this.health.clear();
    await Promise.all(
      this.placement.nodes.map(async (node) => {
        const host = nlbHostId(this.placement, node);
        const cfg = nodeConfig(model, node);
        await this.stopAgent(host);
        await this.writeRules(host, cfg);
        if (cfg.listeners.length > 0) await this.startAgent(host, cfg);
      }),
    );
  }

  configured(): LoadBalancer | undefined {
    return this.current;
  }

  /** The targets' health as the agents last reported it. */
  targetHealth(): PlacementHealth {
    const lb = this.current;
    const targets: Record<string, boolean | null> = {};
    if (!lb) return { determined: false, targets };
    for (const l of lb.listeners)
      for (const t of l.targetGroup.targets) {
        const key = `${l.port}/${t.id}`;
        const seen = [...this.health.values()].map((m) => m.get(key)).filter((h) => h !== undefined);
        targets[key] = seen.length === 0 ? null : seen.every(Boolean);
      }
    const determined = this.hostIds().every((h) => this.ready.has(h));
    return { determined, targets };
  }

  /** Stops reading the agents (they keep running, and forwarding, until the lab goes down). */
  detach(): void {
    for (const child of this.agents.values()) {
      child.unref();
      child.stdout?.destroy();
      child.stderr?.destroy();
      child.stdin?.destroy();
    }
    this.agents.clear();
  }

  private async writeRules(host: string, cfg: NlbNodeConfig): Promise<void> {
    const exec = this.lab.host(host);
    const rules = nlbRuleset(cfg);
    // Until the agent's first health round, every eligible target takes flows (as at lab up).
    rules.merge(
      listenerRuleset(cfg, new Map(cfg.listeners.map((l) => [l.port, activeTargets(cfg, l, () => true)]))),
    );
    let text = rules.render();
    // Both tables are replaced whole, even when one has no rule left (a released placement).
    for (const table of ['nat', 'filter'])
      if (!text.includes(`*${table}\n`)) text = `*${table}\nCOMMIT\n${text}`;
    await exec.run(['iptables-restore', '-w'], { input: text });
    if (cfg.listeners.length > 0)
      await exec.run([
        'sysctl',
        '-q',
        '-w',
        `net.netfilter.nf_conntrack_tcp_timeout_established=${idleTimeoutSeconds(cfg)}`,
      ]);
    else
      // Released: the flows of its listeners go too (conntrack exits 1 when there were none).
      await exec.run(['conntrack', '-D', '-d', cfg.vip], { allowFailure: true });
  }

  private async stopAgent(host: string): Promise<void> {
    const own = this.agents.get(host);
    this.agents.delete(host);
    const netns = this.lab.hosts.find((h) => h.id === host)!.netns;
    const pids: number[] = [];
    for (const pid of await pidsInNetns([netns])) {
      const cmd = await readFile(`/proc/${pid}/cmdline`, 'utf8').catch(() => '');
      if (cmd.split('\0').some((a) => a.endsWith(AGENT_SCRIPT))) pids.push(pid);
    }
    if (own && own.exitCode === null && own.signalCode === null) own.kill('SIGTERM');
    for (const pid of pids) {
      try {
        process.kill(pid, 'SIGTERM');
      } catch {
        // already gone
      }
    }
    // Until each has exited: two agents must never write one node's rules.
    for (const pid of pids)
      while (
        await readFile(`/proc/${pid}/stat`, 'utf8').then(
          (s) => !/^\d+ \(.*\) Z/.test(s),
          () => false,
        )
      )
        await new Promise((r) => setTimeout(r, 20));
  }

  private startAgent(host: string, cfg: NlbNodeConfig): Promise<void> {
    const child = this.lab
      .host(host)
      .spawn([process.execPath, `${DIST_DIR}/${AGENT_SCRIPT}`, JSON.stringify(cfg)]);
    this.agents.set(host, child);
    child.stdout?.on('error', () => undefined);
    let err = '';
    child.stderr?.on('data', (d: Buffer) => (err = (err + d.toString()).slice(-2000)));
    const health = new Map<string, boolean>();
    this.health.set(host, health);
    return new Promise((resolve, reject) => {
      const timer = setTimeout(
        () =>
          reject(
            new Error(
              `NLB node agent in ${host} not ready after ${READY_TIMEOUT_MS / 1000} s: ${err.trim()}`,
            ),
          ),
        READY_TIMEOUT_MS,
      );
      child.on('exit', (code, signal) => {
        clearTimeout(timer);
        reject(
          new Error(
            `NLB node agent in ${host} exited (${code ?? signal}) before it was ready: ${err.trim()}`,
          ),
        );
      });
      createInterface({ input: child.stdout! }).on('line', (line) => {
        let e: AgentEvent;
        try {
          e = JSON.parse(line) as AgentEvent;
        } catch {
          return;
        }
        if (this.agents.get(host) !== child) return;
        if (e.event === 'health')
          health.set(`${String(e['listener'])}/${String(e['target'])}`, Boolean(e['healthy']));
        if (e.event === 'ready') {
          this.ready.add(host);
          clearTimeout(timer);
          resolve();
        }
        this.onEvent(host, e);
      });
    });
  }
}
