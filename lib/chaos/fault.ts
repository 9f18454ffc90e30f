/**
 * Faults: one change to a live lab that a chaos cell applies while traffic runs, and reverts.
 *
 * Every fault reads and records what it will change before changing anything, and its revert
 * restores exactly that record (not "the default"), so a namespace's fingerprint after revert
 * equals the one before apply. A fault is a one-shot object: apply once, revert (idempotently);
 * a revert after a failed or half-done apply restores whatever was recorded, and does nothing when
 * nothing was.
 *
 *   const ledger = new FaultLedger(labChaosContext(lab));
 *   try { await ledger.apply(rpFilter('node-1', 'eth1', 1)); ... } finally { await ledger.revertAll(); }
 */
import type { ChildProcess } from 'node:child_process';
import { shellQuote, type CommandResult, type RunOptions } from '../exec/command.js';
import type { HostExec } from '../exec/netns.js';
import { LabAgents } from '../lab/agents.js';
import type { Lab } from '../lab/lab.js';
import type { LabKube } from '../kube/lab-kube.js';
import type { Topology } from '../model/topology.js';
import { NlbControl } from '../nlb/control.js';
import type { TrafficAgent } from '../traffic/agent.js';

/** What a fault may use: the lab's hosts, its topology, NLB control and traffic agents. */
export interface ChaosContext {
  readonly topology: Topology;
  /** A host by ref (`node-1`, `node/node-1`, `fabric`, `nlb/web-nlb/az-a`). */
  host(ref: string): HostExec;
  /** The NLB's control channel (one per load balancer, shared). */
  nlb(lbName: string): NlbControl;
  /** The traffic agent of a host (started on first use, stopped with the lab). */
  agent(ref: string): Promise<TrafficAgent>;
  /**
   * The lab's real control plane and kube-proxies, when the cell runs on them: faults of
   * endpoints and readiness then act through the Kubernetes API (returnpath as the kubelet) and
   * wait until the real EndpointSlice controller and every kube-proxy have applied them.
   */
  readonly kube?: LabKube;
  /** A process the lab plan started in a host (the emulated health check server), when running. */
  hostProcess?(hostId: string, name: string): ChildProcess | undefined;
}

export interface Fault {
  /** Machine name of the fault type: `rp-filter`, `link-down`, ... */
  readonly kind: string;
  /** For humans and timeline windows: `rp_filter=1 on node-1/eth1`. */
  readonly label: string;
  /**
   * Host ids whose state the fault changes (and whose fingerprint must be back to what it was after
   * revert). A method because some faults (NLB ones) need the topology to name them.
   */
  hosts(ctx: ChaosContext): string[];
  apply(ctx: ChaosContext): Promise<void>;
  /** Restores what apply recorded. Idempotent; a no-op when apply recorded nothing. */
  revert(ctx: ChaosContext): Promise<void>;
  /** Every command the fault ran so far, pasteable from the root namespace (apply, then revert). */
  readonly commands: readonly string[];
}

/** A fault was used out of order (applied twice) or could not be applied as asked. */
export class FaultError extends Error {
  override readonly name = 'FaultError';
  constructor(
    readonly fault: string,
    message: string,
    options?: ErrorOptions,
  ) {
    super(`${fault}: ${message}`, options);
  }
}

export interface LabChaosOptions {
  /** Reuse the cell's agents, so a host keeps one traffic worker. */
  agents?: LabAgents;
  /** The cell's real Kubernetes, when it runs on it. */
  kube?: LabKube;
}

/** A ChaosContext on a live lab: NlbControl instances and agents are created once and shared. */
export function labChaosContext(lab: Lab, opts: LabChaosOptions = {}): ChaosContext {
  const agents = opts.agents ?? new LabAgents(lab);
  return {
    topology: lab.topology,
    host: (ref) => lab.host(ref),
    nlb: (lbName) => NlbControl.of(lab, lbName),
    agent: (ref) => agents.get(ref),
    ...(opts.kube && { kube: opts.kube }),
    hostProcess(hostId, name) {
      try {
        return lab.process(lab.host(hostId).host, name);
      } catch {
        return undefined;
      }
    },
  };
}

/** The canonical ids of every host the faults touch (plus `extra` refs), each once, in first-seen order. */
export function touchedHosts(
  ctx: ChaosContext,
  faults: readonly Fault[],
  extra: readonly string[] = [],
): string[] {
  const ids = [...faults.flatMap((f) => f.hosts(ctx)), ...extra].map((ref) => ctx.host(ref).host);
  return [...new Set(ids)];
}

/** `argv` as a line a human can paste, with its stdin as a here-document. */
export function reproduceLine(exec: HostExec, argv: readonly string[], input?: string): string {
  const r = exec as HostExec & { reproduce?: (argv: readonly string[]) => string };
  const line = typeof r.reproduce === 'function' ? r.reproduce(argv) : shellQuote(exec.wrap(argv));
  if (input === undefined || input === '') return line;
  return `${line} <<'EOF'\n${input.endsWith('\n') ? input : `${input}\n`}EOF`;
}

type Phase = 'new' | 'applying' | 'applied' | 'reverted';

/**
 * The life cycle every fault shares: one apply, idempotent revert, and a log of the commands run.
 * Subclasses implement `doApply` (record first, then change) and `doRevert` (restore the record;
 * must cope with a record that is missing or partial because apply failed half-way).
 */
export abstract class BaseFault implements Fault {
  abstract readonly kind: string;
  abstract readonly label: string;
  private phase: Phase = 'new';
  private readonly commandLog: string[] = [];

  get commands(): readonly string[] {
    return this.commandLog;
  }

  abstract hosts(ctx: ChaosContext): string[];
  protected abstract doApply(ctx: ChaosContext): Promise<void>;
  protected abstract doRevert(ctx: ChaosContext): Promise<void>;

  async apply(ctx: ChaosContext): Promise<void> {
    if (this.phase !== 'new')
      throw new FaultError(this.label, `already ${this.phase}; a fault is applied once`);
    this.phase = 'applying';
    await this.doApply(ctx);
    this.phase = 'applied';
  }

  async revert(ctx: ChaosContext): Promise<void> {
    if (this.phase === 'new' || this.phase === 'reverted') return;
    await this.doRevert(ctx);
    this.phase = 'reverted';
  }

  /** Runs argv on a host and logs the command. */
  protected run(
    ctx: ChaosContext,
    hostRef: string,
    argv: readonly string[],
    opts?: RunOptions,
  ): Promise<CommandResult> {
    const exec = ctx.host(hostRef);
    this.commandLog.push(reproduceLine(exec, argv, opts?.input));
    return exec.run(argv, opts);
  }

  /** Records a non-command action (an NLB control message, a held connection) in the log. */
  protected note(line: string): void {
    this.commandLog.push(`# ${line}`);
  }
}
