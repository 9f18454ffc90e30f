/**
 * A realized lab: the namespaces of one run, commands inside them, and its teardown.
 */
import { randomBytes } from 'node:crypto';
import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { ChildProcess } from 'node:child_process';
import { release } from '../exec/children.js';
import { CommandRunner } from '../exec/command.js';
import { NetnsExec } from '../exec/netns.js';
import { NotFoundError } from '../errors.js';
import type { Topology } from '../model/topology.js';
import { planLab, type PlanContributor } from './build-plan.js';
import { Disposer } from './disposer.js';
import type { LabPlan, ProcessPlan } from './plan.js';
import { deleteNamespaces, realize } from './realize.js';
import { selfIdentity } from './owner.js';
import { runIdOf } from './plan.js';
import {
  adoptedMarker,
  createRunState,
  labMarker,
  listNetns,
  readRunState,
  removeRunState,
  RunIdInUse,
  STATE_DIR,
  writeRunState,
  type HostRecord,
  type RunState,
} from './state.js';

/** dist/ of this build (lib/lab/lab.js lives at dist/lib/lab). */
export const DIST_DIR = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');

export interface LabOptions {
  runId?: string;
  /** Leave the lab up when this process exits (`returnpath lab up`); `lab down` removes it. */
  persistent?: boolean;
  runner?: CommandRunner;
  concurrency?: number;
  log?: (line: string) => void;
  contributors?: readonly PlanContributor[];
  /**
   * Real components set up after the namespaces are configured, in order (the real CNI before
   * real Kubernetes): each registers its own teardown with `lab.defer`.
   */
  stages?: readonly LabStage[];
  /**
   * Runs once the namespaces are configured and the stages are up, before the plan's processes
   * start (the NLB node agents' first health-check round): servers started here make their
   * targets healthy at once.
   */
  beforeProcesses?: (lab: Lab) => Promise<void>;
  /**
   * Hosts (`node/NAME`) that are another process's network namespace, by pid (a kind node
   * container's): attached instead of created, detached on teardown (HostPlan.adopt).
   */
  adopt?: Readonly<Record<string, number>>;
  /** The topology's pods are a cluster's: the fabric routes their addresses, no pod namespace is made. */
  clusterPods?: boolean;
}

/**
 * A step of bringing a lab up that needs the namespaces first and is not a batch of kernel
 * changes: running a real CNI plugin, registering objects with a real control plane, starting a
 * real kube-proxy. A failure tears the whole lab down.
 */
export interface LabStage {
  /** For logs, e.g. `vpc-cni v1.23.2 (real)`; its errors name the stage, node and pod themselves. */
  readonly name: string;
  setUp(lab: Lab): Promise<void>;
}

export function newRunId(): string {
  return randomBytes(3).toString('hex');
}

/** Resolves `node-a`, `node/node-a`, `fabric`, ... to one host record. */
export function findHost(hosts: readonly HostRecord[], ref: string): HostRecord {
  const exact = hosts.find((h) => h.id === ref || h.netns === ref);
  if (exact) return exact;
  const byName = hosts.filter((h) => h.id.split('/').slice(1).join('/') === ref);
  if (byName.length === 1) return byName[0]!;
  const known = hosts.map((h) => h.id).join(', ');
  if (byName.length > 1)
    throw new NotFoundError(`host "${ref}" is ambiguous: ${byName.map((h) => h.id).join(', ')}`);
  throw new NotFoundError(`no host "${ref}" in this lab; hosts: ${known}`);
}

/** Handle on the namespaces of a run, live or left up by an earlier process. */
export class LabHandle {
  constructor(
    readonly state: RunState,
    readonly runner: CommandRunner = new CommandRunner(),
  ) {}

  get runId(): string {
    return this.state.runId;
  }

  get hosts(): readonly HostRecord[] {
    return this.state.hosts;
  }

  host(ref: string): NetnsExec {
    const h = findHost(this.state.hosts, ref);
    return new NetnsExec(h.id, h.netns, this.runner);
  }

  static async attach(runId: string): Promise<LabHandle> {
    return new LabHandle(await readRunState(runId));
  }

  /** Removes a run's namespaces and state, whoever created it. */
  async destroy(): Promise<void> {
    await deleteNamespaces(
      this.runner,
      this.state.hosts.map((h) => h.netns),
      this.state.hosts.filter((h) => h.adopted).map((h) => h.netns),
    );
    await removeRunState(this.runId);
  }
}

export class Lab extends LabHandle {
  private readonly disposer = new Disposer();
  private readonly children = new Map<string, ChildProcess>();

  private constructor(
    state: RunState,
    runner: CommandRunner,
    readonly topology: Topology,
    readonly plan: LabPlan,
    /** Left up when this process exits (its processes detached). */
    readonly persistent: boolean,
  ) {
    super(state, runner);
  }

  /**
   * Realizes `topology`; on any failure everything created so far is removed before the error
   * surfaces. A run id in use (a state file, or namespaces of that id) is refused (RunIdInUse)
   * before anything is touched: the running lab stays as it is.
   */
  static async up(topology: Topology, opts: LabOptions = {}): Promise<Lab> {
    const runId = opts.runId ?? newRunId();
    const runner = opts.runner ?? new CommandRunner();
    const plan = planLab(topology, runId, opts.contributors, { podHosts: !opts.clusterPods });
    for (const [id, pid] of Object.entries(opts.adopt ?? {})) {
      const h = plan.hosts.find((x) => x.id === id);
      if (!h) throw new NotFoundError(`cannot adopt ${id}: the lab has no such host`);
      h.adopt = pid;
    }
    const self = selfIdentity();
    const state: RunState = {
      runId,
      // A lab up is `building` until it is complete, so a killed lab up leaves a lab `lab clean` removes.
      phase: opts.persistent ? 'building' : 'owned',
      owner: self,
      pid: process.pid,
      topology: topology.name,
      startedAt: new Date().toISOString(),
      hosts: plan.hosts.map((h) => ({
        id: h.id,
        kind: h.kind,
        netns: h.netns,
        address: h.address,
        legend: h.legend,
        ...(h.adopt !== undefined && { adopted: true }),
      })),
      marker: labMarker(runId),
    };
    await createRunState(state);
    const existing = (await listNetns()).filter((n) => runIdOf(n) === runId);
    if (existing.length > 0) {
      await removeRunState(runId);
      throw new RunIdInUse(
        runId,
        `${existing.length} namespace(s) of run ${runId} exist without a state in ${STATE_DIR} (${existing.slice(0, 3).join(', ')}${existing.length > 3 ? ', ...' : ''})`,
      );
    }
    const lab = new Lab(state, runner, topology, plan, opts.persistent ?? false);
    lab.disposer.defer(`state of run ${runId}`, () => removeRunState(runId));
    try {
      await realize(plan, {
        runner,
        disposer: lab.disposer,
        concurrency: opts.concurrency,
        log: opts.log,
        marker: state.marker,
        adoptedMarker: adoptedMarker(runId),
      });
      for (const stage of opts.stages ?? []) {
        await stage.setUp(lab);
        opts.log?.(`${stage.name} set up`);
      }
      await opts.beforeProcesses?.(lab);
      for (const h of plan.hosts)
        for (const p of h.processes) await lab.startProcess(lab.host(h.id), p, lab.persistent);
      if (opts.persistent) {
        // Complete: left up on purpose, owned by nobody.
        Object.assign(state, { phase: 'persistent', owner: null, pid: 0 });
        await writeRunState(state);
      }
    } catch (e) {
      await lab.down().catch(() => undefined);
      throw e;
    }
    return lab;
  }

  /** Registers a resource of a higher layer (NLB controller, traffic agent) for teardown with the lab. */
  defer(what: string, fn: () => Promise<void> | void): void {
    this.disposer.defer(what, fn);
  }

  /**
   * Starts a process in a host (`{node}` and `{dist}` replaced as in plans) and waits for its ready
   * line; stopped with the lab, or left running with a persistent lab (`lab down` kills it).
   */
  async runProcess(hostRef: string, p: ProcessPlan): Promise<void> {
    await this.startProcess(this.host(hostRef), p, this.persistent);
  }

  /** A process the plan started in `hostId` (for example the NLB node agent), while the lab is up. */
  process(hostId: string, name: string): ChildProcess {
    const c = this.children.get(`${hostId}:${name}`);
    if (!c) throw new NotFoundError(`no process "${name}" in ${hostId}`);
    return c;
  }

  async down(): Promise<void> {
    await this.disposer.dispose();
  }

  /**
   * A persistent lab's processes keep their pipes to this process until release() (so the NLB
   * agents can be asked about health); release() lets them run on alone. Call it before exiting.
   */
  release(): void {
    for (const child of this.detached.splice(0)) {
      child.unref();
      child.stdout?.destroy();
      child.stderr?.destroy();
      child.stdin?.destroy();
    }
  }

  private readonly detached: ChildProcess[] = [];

  private async startProcess(exec: NetnsExec, p: ProcessPlan, detached: boolean): Promise<void> {
    const argv = [...p.argv, ...(detached ? (p.detachedArgv ?? []) : [])].map((a) =>
      a.replace('{node}', process.execPath).replace('{dist}', DIST_DIR),
    );
    const child = exec.spawn(argv);
    this.children.set(`${exec.host}:${p.name}`, child);
    this.disposer.defer(`${p.name} in ${exec.host}`, () => {
      if (child.exitCode === null) child.kill('SIGTERM');
    });
    await waitForLines(child, p.readyLine, p.readyCount, `${p.name} in ${exec.host}`);
    if (detached) {
      // Left up with the lab: it outlives this process (`lab down` and `lab clean` stop it). Its
      // output is not read after release(): never let a full or closed pipe stop it.
      release(child);
      child.stdout?.on('error', () => undefined);
      this.detached.push(child);
    }
  }
}

const READY_TIMEOUT_MS = 60_000;

function waitForLines(child: ChildProcess, line: string, count: number, what: string): Promise<void> {
  return new Promise((resolvePromise, reject) => {
    let seen = 0;
    let buf = '';
    let err = '';
    // Only a process that never gets ready trips this: a busy machine makes one slow, not dead.
    const timer = setTimeout(
      () => reject(new Error(`${what} not ready after ${READY_TIMEOUT_MS / 1000} s: ${err.trim()}`)),
      READY_TIMEOUT_MS,
    );
    child.stderr?.on('data', (d: Buffer) => (err += d.toString()));
    child.stdout?.on('data', (d: Buffer) => {
      buf += d.toString();
      const lines = buf.split('\n');
      buf = lines.pop() ?? '';
      seen += lines.filter((l) => l.startsWith(line)).length;
      if (seen >= count) {
        clearTimeout(timer);
        resolvePromise();
      }
    });
    child.on('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`${what} exited with ${code} before it was ready: ${err.trim()}`));
    });
  });
}
